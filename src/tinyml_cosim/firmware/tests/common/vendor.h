/* What vendor start-up code for an STM32F4 typically looks like, for the "foreign" test firmwares: its own
 * vector table, every exception in a `b .` loop, a polled USART1 — and nothing from this project. */
#ifndef VENDOR_H
#define VENDOR_H
#include <stdint.h>

#define USART1_SR (*(volatile uint32_t *)0x40011000u)
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100Cu)

void reset_handler(void);
__attribute__((naked)) void Default_Handler(void) { __asm__ volatile("b ."); }

#ifndef VENDOR_HARDFAULT
#define VENDOR_HARDFAULT Default_Handler
#endif

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    (void *)0x20020000u,     (void *)reset_handler,   (void *)Default_Handler, (void *)VENDOR_HARDFAULT,
    (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler,
};

static inline void vendor_uart_init(void) { USART1_CR1 = (1u << 13) | (1u << 3); }

static inline void vendor_put(const char *s)
{
    for (; *s; s++) {
        while (!(USART1_SR & (1u << 7))) {
        }
        USART1_DR = (uint8_t)*s;
    }
}

#endif
