/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the tinyml-cosim authors
 *
 * The STM32 general-purpose timer (TIM2/TIM5, 32-bit), shared by the STM32 ports: its register layout is the same
 * on F2, F4, L4, G4, H7 and U5 (RM0033, RM0090, RM0351: CR1 0x00, DIER 0x0C, SR 0x10, CNT 0x24, PSC 0x28, ARR 0x2C).
 * Included by a port header after COSIM_REG is defined.
 */
#ifndef COSIM_PORT_STM32_TIM_H
#define COSIM_PORT_STM32_TIM_H

#include <stdint.h>

#ifndef COSIM_TIMEBASE_TIM
#define COSIM_TIMEBASE_TIM 0x40000000u /* TIM2, 32-bit */
#endif
#ifndef COSIM_SERVICE_TIM
#define COSIM_SERVICE_TIM 0x40000C00u /* TIM5, 32-bit */
#endif

#define COSIM_TIM_CR1 0x00u
#define COSIM_TIM_DIER 0x0Cu
#define COSIM_TIM_SR 0x10u
#define COSIM_TIM_CNT 0x24u
#define COSIM_TIM_PSC 0x28u
#define COSIM_TIM_ARR 0x2Cu

static inline int cosim_port_timebase_running(void)
{
    return (COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_CR1) & 1u) != 0;
}

static inline void cosim_port_timebase_start(void)
{
    /* free-running, one tick per instruction, wraps at 2^32 */
    COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_PSC) = 0;
    COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_ARR) = 0xFFFFFFFFu;
    COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_CNT) = 0;
    COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_DIER) = 1;
    COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_CR1) = 1;
}

static inline uint32_t cosim_port_timebase_read(void) { return COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_CNT); }

static inline void cosim_port_timebase_ack(void) { COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_SR) = 0; }

static inline void cosim_port_timebase_irq_off(void) { COSIM_REG(COSIM_TIMEBASE_TIM + COSIM_TIM_DIER) = 0; }

static inline void cosim_port_alarm_init(void)
{
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_PSC) = 0;
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_DIER) = 1;
}

static inline void cosim_port_alarm_free_run(void) { COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_ARR) = 0xFFFFFFFFu; }

static inline void cosim_port_alarm_zero(void) { COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_CNT) = 0; }

static inline void cosim_port_alarm_enable(void) { COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_CR1) = 1; }

static inline void cosim_port_alarm_stop(void)
{
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_CR1) = 0;
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_CNT) = 0;
}

static inline void cosim_port_alarm_start(uint32_t ticks)
{
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_ARR) = ticks;
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_SR) = 0;
    COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_CR1) = 1;
}

static inline void cosim_port_alarm_reload(uint32_t ticks) { COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_ARR) = ticks; }

static inline void cosim_port_alarm_ack(void) { COSIM_REG(COSIM_SERVICE_TIM + COSIM_TIM_SR) = 0; }

#endif /* COSIM_PORT_STM32_TIM_H */
