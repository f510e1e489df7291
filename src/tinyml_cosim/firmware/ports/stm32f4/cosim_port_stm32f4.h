/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the tinyml-cosim authors
 *
 * cosim.h port for STM32F2/F4 (RM0033, RM0090): USART with SR/DR, RCC at 0x40023800 (APB1ENR 0x40, APB2ENR 0x44).
 * Also fits STM32F1 and F7-less parts with the same USART (override the base addresses).
 */
#ifndef COSIM_PORT_STM32F4_H
#define COSIM_PORT_STM32F4_H

#include <stdint.h>

#include "../stm32_common/cosim_port_stm32_tim.h"

#ifndef COSIM_CONSOLE_USART
#define COSIM_CONSOLE_USART 0x40011000u /* USART1 */
#endif
#ifndef COSIM_DATA_USART
#define COSIM_DATA_USART 0x40004400u /* USART2 */
#endif
#ifndef COSIM_RCC_BASE
#define COSIM_RCC_BASE 0x40023800u
#endif

#define COSIM_USART_SR 0x00u
#define COSIM_USART_DR 0x04u
#define COSIM_USART_CR1 0x0Cu
#define COSIM_USART_TXE (1u << 7)
#define COSIM_USART_RXNE (1u << 5)
#define COSIM_USART_ON ((1u << 13) | (1u << 3) | (1u << 2)) /* UE TE RE */
/* RCC clock enables (ignored by QEMU, needed on silicon and by Renode's RCC model) */
#define COSIM_RCC_APB1ENR (COSIM_RCC_BASE + 0x40u)
#define COSIM_RCC_APB2ENR (COSIM_RCC_BASE + 0x44u)

static inline void cosim_port_clock_enable_timebase(void) { COSIM_REG(COSIM_RCC_APB1ENR) |= (1u << 0); /* TIM2 */ }

static inline void cosim_port_clock_enable(void)
{
    COSIM_REG(COSIM_RCC_APB1ENR) |= (1u << 3) | (1u << 17); /* TIM5, USART2 */
    COSIM_REG(COSIM_RCC_APB2ENR) |= (1u << 4);              /* USART1 */
}

static inline void cosim_port_console_init(void) { COSIM_REG(COSIM_CONSOLE_USART + COSIM_USART_CR1) = COSIM_USART_ON; }

static inline void cosim_port_console_putc(uint8_t c)
{
    while (!(COSIM_REG(COSIM_CONSOLE_USART + COSIM_USART_SR) & COSIM_USART_TXE)) {
    }
    COSIM_REG(COSIM_CONSOLE_USART + COSIM_USART_DR) = c;
}

static inline void cosim_port_data_init(void) { COSIM_REG(COSIM_DATA_USART + COSIM_USART_CR1) = COSIM_USART_ON; }

static inline void cosim_port_data_putc(uint8_t c)
{
    while (!(COSIM_REG(COSIM_DATA_USART + COSIM_USART_SR) & COSIM_USART_TXE)) {
    }
    COSIM_REG(COSIM_DATA_USART + COSIM_USART_DR) = c;
}

static inline uint8_t cosim_port_data_getc(void)
{
    while (!(COSIM_REG(COSIM_DATA_USART + COSIM_USART_SR) & COSIM_USART_RXNE)) {
    }
    return (uint8_t)COSIM_REG(COSIM_DATA_USART + COSIM_USART_DR);
}

#endif /* COSIM_PORT_STM32F4_H */
