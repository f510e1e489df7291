/* A vendor-style firmware that never exits: it prints a heartbeat forever. Runs to an instruction budget. */
#include <stdint.h>

#define USART1_SR (*(volatile uint32_t *)0x40011000u)
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100Cu)

void reset_handler(void);
__attribute__((naked)) void Default_Handler(void) { __asm__ volatile("b ."); }

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    (void *)0x20020000u, (void *)reset_handler, (void *)Default_Handler, (void *)Default_Handler,
    (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler,
};

static void put(const char *s)
{
    for (; *s; s++) {
        while (!(USART1_SR & (1u << 7))) {
        }
        USART1_DR = (uint8_t)*s;
    }
}

void reset_handler(void)
{
    USART1_CR1 = (1u << 13) | (1u << 3);
    put("vendor firmware up\r\n");
    for (uint32_t beat = 0;; beat++) {
        for (volatile uint32_t i = 0; i < 100000u; i++) {
        }
        put("heartbeat\r\n");
    }
}
