/* cosim_sleep.h — sleeping in simulated time, for firmware that paces itself like a product: a driver waiting for a
 * FIFO watermark, a loop waiting for the next sensor sample period. Long waits sleep in WFI with a SysTick alarm, so
 * the engine skips idle time (QEMU -icount sleep=off, Renode advance-immediately) instead of executing a spin loop
 * for it: a firmware that sleeps runs 72x real time where a busy-polling one runs 0.48x (bench/results/spine.json).
 * Header-only like cosim.h (MIT). Include it once per app, in one .c file: it defines SysTick_Handler.
 *
 * Use: cosim_sleep_calibrate() once at start-up, then cosim_wait_until(instant) with an instant on the cosim.h
 * instruction counter (cosim_instructions(); one instruction = 1 / COSIM_CLOCK_HZ seconds of simulated time).
 * cosim_wait_late_max holds the longest a wait overshot its instant, in instructions.
 *
 * How long a SysTick sleep of N ticks lasts differs between engines, so it is measured the way it is used. On QEMU
 * 7.2 (netduinoplus2, -icount shift=0,sleep=off, CLKSOURCE=1) the counter moves 0.168 ticks per instruction, and
 * the interrupt comes every RVR+1 ticks while the core executes, but a core sleeping in WFI wakes only after about
 * two periods (one per ~11.9 instructions per tick); on Renode SysTick ticks once per instruction. Another interrupt
 * can only cut a calibration sleep short, so the longest of a few is taken. */
#ifndef COSIM_SLEEP_H
#define COSIM_SLEEP_H
#include <stdint.h>

#include "cosim.h"

/* SysTick wakes the core from WFI; nothing to do in the handler (the waiting loop re-checks the time). */
void SysTick_Handler(void) {}

#define COSIM_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define COSIM_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define COSIM_SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#define COSIM__CAL_TICKS 10000u
static uint64_t cosim__sleep_cal; /* instructions one sleep of COSIM__CAL_TICKS ticks lasts; 0: do not sleep */
/* the longest a wait overshot its deadline, for apps that report it */
__attribute__((unused)) static uint64_t cosim_wait_late_max;

static void cosim__systick_sleep(uint32_t ticks)
{
    COSIM_SYST_CSR = 0;
    COSIM_SYST_RVR = ticks;
    COSIM_SYST_CVR = 0;
    COSIM_SYST_CSR = 7u; /* processor clock, interrupt, enable */
    __asm__ volatile("wfi" ::: "memory");
    COSIM_SYST_CSR = 0;
}

__attribute__((unused)) static void cosim_sleep_calibrate(void)
{
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = cosim_instructions();
        cosim__systick_sleep(COSIM__CAL_TICKS);
        uint64_t spent = cosim_instructions() - t0;
        if (spent > cosim__sleep_cal) cosim__sleep_cal = spent;
    }
    if (cosim__sleep_cal < COSIM__CAL_TICKS) cosim__sleep_cal = 0; /* implausible (> 1 tick per instruction): spin */
}

/* Wait until the instruction counter reaches `until`. The alarm is set a little short (and any other interrupt
 * wakes early): the loop then waits the rest. */
__attribute__((unused)) static void cosim_wait_until(uint64_t until)
{
    for (;;) {
        uint64_t now = cosim_instructions();
        if (now >= until) {
            if (now - until > cosim_wait_late_max) cosim_wait_late_max = now - until;
            break;
        }
        uint64_t left = until - now;
        if (left < 8000u || !cosim__sleep_cal) continue; /* short (or no usable SysTick): spin */
        uint64_t ticks = (left - 4000u) * COSIM__CAL_TICKS / cosim__sleep_cal;
        if (ticks > 0xFFFFFFu) ticks = 0xFFFFFFu;
        if (ticks < 2u) continue;
        cosim__systick_sleep((uint32_t)ticks);
    }
}

#endif
