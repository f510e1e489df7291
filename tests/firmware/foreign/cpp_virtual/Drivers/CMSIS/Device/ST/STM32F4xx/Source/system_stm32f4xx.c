/* The CMSIS device file of a CubeMX project: SystemInit before .data/.bss are set up. Without CP10/CP11 access the
 * first FPU instruction is a UsageFault. */
#include <stdint.h>

uint32_t SystemCoreClock = 16000000u;

void SystemInit(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* SCB->CPACR: full access to CP10, CP11 */
    __asm__ volatile("dsb\n isb" ::: "memory");
}
