/* Sleeping in simulated time for test firmwares that pace themselves like a driver waiting for a FIFO watermark:
 * long waits sleep in WFI with a SysTick alarm, so the engine skips idle time (QEMU -icount sleep=off, Renode
 * advance-immediately) instead of executing a spin loop for it. Include once per app; it defines SysTick_Handler.
 *
 * How long a SysTick sleep of N ticks lasts differs between engines, so it is measured the way it is used. On QEMU
 * 7.2 (netduinoplus2, -icount shift=0,sleep=off, CLKSOURCE=1) the counter moves 0.168 ticks per instruction, and
 * the interrupt comes every RVR+1 ticks while the core executes, but a core sleeping in WFI wakes only after about
 * two periods (one per ~11.9 instructions per tick); on Renode SysTick ticks once per instruction. Another interrupt
 * can only cut a calibration sleep short, so the longest of a few is taken. */
#ifndef SYSTICK_SLEEP_H
#define SYSTICK_SLEEP_H
#include <stdint.h>

#include "cosim.h"

/* SysTick wakes the core from WFI; nothing to do in the handler (the waiting loop re-checks the time). */
void SysTick_Handler(void) {}

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#define CAL_TICKS 10000u
static uint64_t cal_instructions; /* instructions one sleep of CAL_TICKS ticks lasts; 0: do not sleep */
static uint64_t late_max;         /* the longest a wait overshot its deadline, for apps that report it */

static void systick_sleep(uint32_t ticks)
{
    SYST_CSR = 0;
    SYST_RVR = ticks;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    __asm__ volatile("wfi" ::: "memory");
    SYST_CSR = 0;
}

static void calibrate(void)
{
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = cosim_instructions();
        systick_sleep(CAL_TICKS);
        uint64_t spent = cosim_instructions() - t0;
        if (spent > cal_instructions) cal_instructions = spent;
    }
    if (cal_instructions < CAL_TICKS) cal_instructions = 0; /* implausible (> 1 tick per instruction): spin */
}

/* Wait until the instruction counter reaches `until`. The alarm is set a little short (and any other interrupt
 * wakes early): the loop then waits the rest. */
static void wait_until(uint64_t until)
{
    for (;;) {
        uint64_t now = cosim_instructions();
        if (now >= until) {
            if (now - until > late_max) late_max = now - until;
            break;
        }
        uint64_t left = until - now;
        if (left < 8000u || !cal_instructions) continue; /* short (or no usable SysTick): spin */
        uint64_t ticks = (left - 4000u) * CAL_TICKS / cal_instructions;
        if (ticks > 0xFFFFFFu) ticks = 0xFFFFFFu;
        if (ticks < 2u) continue;
        systick_sleep((uint32_t)ticks);
    }
}

#endif
