/* ITERATIONS rounds (make ITERATIONS=n) of work(): arithmetic, and every 64th round a read of USART1's status
 * register, which QEMU models: a device access makes QEMU end the translation block at it, which an exact count
 * must survive. */
#include <stdint.h>
#include <stdio.h>

extern void initialise_monitor_handles(void);

#define USART1_SR (*(volatile uint32_t *)0x40011000u)

__attribute__((noinline)) uint32_t work(uint32_t i, uint32_t acc)
{
    acc = acc * 1664525u + 1013904223u + i;
    if ((i & 63u) == 0) {
        acc ^= USART1_SR;
    }
    return acc;
}

int main(void)
{
    initialise_monitor_handles();
    printf("busy_loop: %d rounds\n", ITERATIONS);
    uint32_t acc = 0;
    for (uint32_t i = 0; i < ITERATIONS; i++) {
        acc = work(i, acc);
    }
    printf("busy_loop: done %08lx\n", (unsigned long)acc);
    return 0;
}
