/* cosim_sleep.h — sleeping in simulated time, for firmware that paces itself like a product: a driver waiting for a
 * FIFO watermark, a loop waiting for the next sensor sample period. Long waits sleep in WFI with a timer alarm, so
 * the engine skips idle time (QEMU -icount sleep=off, Renode advance-immediately) instead of executing a spin loop
 * for it: a firmware that sleeps runs 72x real time where a busy-polling one runs 0.48x (bench/results/spine.json).
 * Header-only like cosim.h (MIT). Include it once per app, in one .c file: it defines SysTick_Handler and
 * COSIM_SLEEP_TIM_HANDLER (TIM3_IRQHandler unless the app names another timer below).
 *
 * Use: cosim_sleep_calibrate() once at start-up, then cosim_wait_until(instant) with an instant on the cosim.h
 * instruction counter (cosim_instructions(); one instruction = 1 / COSIM_CLOCK_HZ seconds of simulated time).
 * cosim_wait_late_max holds the longest a wait overshot its instant, in instructions.
 *
 * The alarm is SysTick, except on QEMU (the engine sets COSIM_FLAG_QEMU_TIMER_ALARM), where it is a general-purpose
 * timer's update event: QEMU 7.2's SysTick wakes a core in WFI after one reload period or after two, which of the two
 * depending on host thread timing, so the same ELF and inputs woke at different instructions from run to run (a sleep
 * of N ticks lasted N x 5.95 or N x 11.9 instructions; firmware/tests/apps/sleep_probe,
 * tests/test_sleep_determinism.py). Its STM32 timer model's alarm lands on the same instruction every run. That model
 * fires ARR + tick_offset ticks after the ARR write (1 tick = 1 instruction), tick_offset being the counter's offset at
 * the CNT write: CNT is written once, with the instruction count, so the offset is the few instructions the write
 * takes.
 *
 * How long a SysTick sleep of N ticks lasts differs between engines, so it is measured the way it is used (on Renode
 * SysTick ticks once per instruction). Another interrupt can only cut a calibration sleep short, so the longest of a
 * few is taken. */
#ifndef COSIM_SLEEP_H
#define COSIM_SLEEP_H
#include <stdint.h>

#include "cosim.h"

/* SysTick wakes the core from WFI; nothing to do in the handler (the waiting loop re-checks the time). */
void SysTick_Handler(void) {}

#define COSIM_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define COSIM_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define COSIM_SYST_CVR (*(volatile uint32_t *)0xE000E018u)

/* The timer the QEMU path sleeps on (a 32-bit STM32F2/F4 TIMx in QEMU's model; not used on other engines). */
#ifndef COSIM_SLEEP_TIM
#define COSIM_SLEEP_TIM 0x40000400u /* TIM3 */
#endif
#ifndef COSIM_SLEEP_TIM_IRQ
#define COSIM_SLEEP_TIM_IRQ 29
#endif
#ifndef COSIM_SLEEP_TIM_HANDLER
#define COSIM_SLEEP_TIM_HANDLER TIM3_IRQHandler
#endif
#define COSIM__STIM(off) (*(volatile uint32_t *)(COSIM_SLEEP_TIM + (off)))

/* The alarm ends the sleep; stopping the timer keeps the model's automatic re-arm from waking the core again. */
void COSIM_SLEEP_TIM_HANDLER(void)
{
    COSIM__STIM(0x10u) = 0; /* SR */
    COSIM__STIM(0x00u) = 0; /* CR1 */
}

#define COSIM__CAL_TICKS 10000u
static uint64_t cosim__sleep_cal; /* instructions one sleep of COSIM__CAL_TICKS ticks lasts; 0: do not sleep */
/* the longest a wait overshot its deadline, for apps that report it */
__attribute__((unused)) static uint64_t cosim_wait_late_max;
static int cosim__sleep_on_tim; /* QEMU: sleep on COSIM_SLEEP_TIM's alarm instead of SysTick */

static void cosim__systick_sleep(uint32_t ticks)
{
    COSIM_SYST_CSR = 0;
    COSIM_SYST_RVR = ticks;
    COSIM_SYST_CVR = 0;
    COSIM_SYST_CSR = 7u; /* processor clock, interrupt, enable */
    __asm__ volatile("wfi" ::: "memory");
    COSIM_SYST_CSR = 0;
}

/* Sleep `instructions` (>= a few hundred) on the timer alarm, or less if another interrupt comes first. */
static void cosim__tim_sleep(uint32_t instructions)
{
    COSIM__STIM(0x2Cu) = instructions; /* ARR: the alarm is armed by this write */
    COSIM__STIM(0x00u) = 1u;           /* CR1.CEN: the update interrupt reaches the NVIC */
    __asm__ volatile("wfi" ::: "memory");
    COSIM__STIM(0x00u) = 0;
}

__attribute__((unused)) static void cosim_sleep_calibrate(void)
{
    if (cosim_host_config.magic == COSIM_HOST_CONFIG_MAGIC && (cosim_host_config.flags & COSIM_FLAG_QEMU_TIMER_ALARM)) {
        COSIM__STIM(0x28u) = 0;                              /* PSC: one tick per instruction */
        COSIM__STIM(0x0Cu) = 1;                              /* DIER.UIE */
        COSIM__STIM(0x24u) = (uint32_t)cosim_instructions(); /* CNT: tick_offset = the instructions this takes */
        *(volatile uint32_t *)(0xE000E100u + 4u * (COSIM_SLEEP_TIM_IRQ / 32u)) = 1u << (COSIM_SLEEP_TIM_IRQ % 32);
        cosim__sleep_on_tim = 1;
        cosim__sleep_cal = COSIM__CAL_TICKS; /* one tick per instruction */
        return;
    }
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = cosim_instructions();
        cosim__systick_sleep(COSIM__CAL_TICKS);
        uint64_t spent = cosim_instructions() - t0;
        if (spent > cosim__sleep_cal) cosim__sleep_cal = spent;
    }
    if (cosim__sleep_cal < COSIM__CAL_TICKS) cosim__sleep_cal = 0; /* implausible (> 1 tick per instruction): spin */
}

/* Execute n + a fixed number of instructions (n >= 2). On QEMU every instruction is one tick of the counter, so a
 * wait that reads the counter once and executes the rest ends on the same instruction however late the core woke:
 * QEMU can wake a core from WFI an instruction or two after its timer's deadline, depending on host thread timing
 * (most likely its main loop jumping virtual time with an instruction count the vCPU has not yet published). */
static void cosim__burn(uint32_t n)
{
#if defined(__arm__)
    __asm__ volatile(
        "lsrs %0, %0, #1\n" /* n / 2 iterations of 2 instructions; carry: n is odd */
        "bcc 1f\n"
        "nop\n" /* the odd one */
        "1: subs %0, %0, #1\n"
        "bne 1b\n"
        : "+l"(n)
        :
        : "cc");
#else
    (void)n;
#endif
}

/* QEMU: sleep on the timer alarm to 4000 instructions short of `until`, then execute exactly the rest. */
static void cosim__wait_until_tim(uint64_t until)
{
    for (;;) {
        uint64_t now = cosim_instructions();
        if (now >= until) {
            if (now - until > cosim_wait_late_max) cosim_wait_late_max = now - until;
            return;
        }
        uint64_t left = until - now;
        if (left >= 8000u) cosim__tim_sleep(left - 4000u > 0x40000000u ? 0x40000000u : (uint32_t)(left - 4000u));
        else if (left >= 16u) cosim__burn((uint32_t)left); /* the next reading is `until` + the loop's own fixed cost */
    }
}

/* Wait until the instruction counter reaches `until`. The alarm is set a little short (and any other interrupt
 * wakes early): the loop then waits the rest. */
__attribute__((unused)) static void cosim_wait_until(uint64_t until)
{
    if (cosim__sleep_on_tim) {
        cosim__wait_until_tim(until);
        return;
    }
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
