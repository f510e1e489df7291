/* Like vendor start-up code: every exception lands in a `b .` loop, nothing reports anything. The engine itself
 * must find out that the core is stuck in HardFault and where it came from (stacked PC, CFSR, BFAR). */
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

__attribute__((noinline)) uint32_t sensor_read(void) { return *(volatile uint32_t *)0x60000000u; }

void reset_handler(void)
{
    USART1_CR1 = (1u << 13) | (1u << 3);
    put("vendor firmware up\r\n");
    volatile uint32_t v = sensor_read();
    (void)v;
    for (;;) {
    }
}
