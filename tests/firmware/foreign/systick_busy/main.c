/* Busy but quiet: work() rounds, no console output, until SysTick has ticked TICKS times (make TICKS=n; 1 ms
 * ticks of the 16 MHz HSI), then the number of rounds on the console and exit(0). The loop spans more than the
 * hang probe's confined-PC window, so it is not a hang; how many rounds fit before the last tick depends on when
 * SysTick's interrupts come, so the total count shows whether anything moved the virtual clock meanwhile. */
#include <stdint.h>
#include <stdio.h>

extern void initialise_monitor_handles(void);

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static volatile uint32_t ticks;

void SysTick_Handler(void) { ticks++; }

__attribute__((noinline)) uint32_t work(uint32_t i, uint32_t acc)
{
    return acc * 1664525u + 1013904223u + i;
}

int main(void)
{
    initialise_monitor_handles();
    printf("systick_busy: working for %d ticks\n", TICKS);
    SYST_RVR = 16000000u / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    uint32_t acc = 0, rounds = 0;
    while (ticks < TICKS) {
        /* 48 halfwords of padding: the loop's blocks lie more than 64 bytes apart */
        __asm__ volatile(".rept 48\n nop\n .endr" ::: "memory");
        acc = work(rounds++, acc);
    }
    SYST_CSR = 0;
    printf("systick_busy: %lu rounds, %08lx\n", (unsigned long)rounds, (unsigned long)acc);
    return 0;
}
