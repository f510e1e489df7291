/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the tinyml-cosim authors
 *
 * cosim.h port for STM32L4/L4+ (RM0351, RM0432) and the other families with the ISR/TDR/RDR USART (G4, H7, U5,
 * L5 — override COSIM_RCC_BASE and the base addresses for those; their RCC enable bits differ, see below).
 * USART: CR1 0x00 (UE bit 0, RE bit 2, TE bit 3), ISR 0x1C (TXE bit 7, RXNE bit 5), RDR 0x24, TDR 0x28.
 * RCC at 0x40021000: APB1ENR1 0x58 (TIM2EN bit 0, TIM5EN bit 3, USART2EN bit 17), APB2ENR 0x60 (USART1EN bit 14).
 */
#ifndef COSIM_PORT_STM32L4_H
#define COSIM_PORT_STM32L4_H

#include <stdint.h>

#include "../stm32_common/cosim_port_stm32_tim.h"

/* Defaults as on a NUCLEO-L476RG: USART2 is the ST-LINK virtual COM port. */
#ifndef COSIM_CONSOLE_USART
#define COSIM_CONSOLE_USART 0x40004400u /* USART2 */
#endif
#ifndef COSIM_DATA_USART
#define COSIM_DATA_USART 0x40013800u /* USART1 */
#endif
#ifndef COSIM_RCC_BASE
#define COSIM_RCC_BASE 0x40021000u
#endif

#define COSIM_USART_CR1 0x00u
#define COSIM_USART_ISR 0x1Cu
#define COSIM_USART_RDR 0x24u
#define COSIM_USART_TDR 0x28u
#define COSIM_USART_TXE (1u << 7)
#define COSIM_USART_RXNE (1u << 5)
#define COSIM_USART_ON ((1u << 3) | (1u << 2) | (1u << 0)) /* TE RE UE */
#define COSIM_RCC_APB1ENR1 (COSIM_RCC_BASE + 0x58u)
#define COSIM_RCC_APB2ENR (COSIM_RCC_BASE + 0x60u)

static inline void cosim_port_clock_enable_timebase(void) { COSIM_REG(COSIM_RCC_APB1ENR1) |= (1u << 0); /* TIM2 */ }

static inline void cosim_port_clock_enable(void)
{
    COSIM_REG(COSIM_RCC_APB1ENR1) |= (1u << 3) | (1u << 17); /* TIM5, USART2 */
    COSIM_REG(COSIM_RCC_APB2ENR) |= (1u << 14);              /* USART1 */
}

static inline void cosim_port_console_init(void) { COSIM_REG(COSIM_CONSOLE_USART + COSIM_USART_CR1) = COSIM_USART_ON; }

static inline void cosim_port_console_putc(uint8_t c)
{
    while (!(COSIM_REG(COSIM_CONSOLE_USART + COSIM_USART_ISR) & COSIM_USART_TXE)) {
    }
    COSIM_REG(COSIM_CONSOLE_USART + COSIM_USART_TDR) = c;
}

static inline void cosim_port_data_init(void) { COSIM_REG(COSIM_DATA_USART + COSIM_USART_CR1) = COSIM_USART_ON; }

static inline void cosim_port_data_putc(uint8_t c)
{
    while (!(COSIM_REG(COSIM_DATA_USART + COSIM_USART_ISR) & COSIM_USART_TXE)) {
    }
    COSIM_REG(COSIM_DATA_USART + COSIM_USART_TDR) = c;
}

static inline uint8_t cosim_port_data_getc(void)
{
    while (!(COSIM_REG(COSIM_DATA_USART + COSIM_USART_ISR) & COSIM_USART_RXNE)) {
    }
    return (uint8_t)COSIM_REG(COSIM_DATA_USART + COSIM_USART_RDR);
}

#endif /* COSIM_PORT_STM32L4_H */
