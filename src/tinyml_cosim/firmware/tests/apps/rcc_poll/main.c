/* What CubeMX's SystemClock_Config does first: turn on the HSE and wait for HSERDY. QEMU models no RCC, so the
 * flag never comes and the firmware polls forever; with interrupts off, as some vendor start-up code runs. */
#include <stdint.h>

#include "cosim.h"

#define RCC_CR (*(volatile uint32_t *)0x40023800u)

__attribute__((noinline)) void SystemClock_Config(void)
{
    RCC_CR |= (1u << 16);            /* HSEON */
    while (!(RCC_CR & (1u << 17))) { /* HSERDY */
    }
}

int main(void)
{
    cosim_puts("rcc_poll: waiting for HSE\n");
    __asm__ volatile("cpsid i");
    SystemClock_Config();
    return 0;
}
