/* Reads one sensor stream the way a FIFO-watermark driver does and reports what arrived, so the host can check
 * that every byte reached the firmware in order and nothing overflowed.
 *
 * Loop: sleep (in simulated time) until the FIFO holds WATERMARK samples — next_due plus WATERMARK-1 sample
 * periods — then read up to READ_BYTES. Marks at the end: samples, fnv1a (FNV-1a over every byte), dropped (sum of
 * info.dropped), overruns (reads with COSIM_READ_OVERRUN), reads, late_max (the longest a wait overshot, in
 * instructions) and sleep_per_tick_x1000 (the SysTick calibration). Build-time knobs (-D…) for the bench. */
#include <stdint.h>

#include "cosim.h"

#ifndef STREAM_ID
#define STREAM_ID 0
#endif
#ifndef ODR_MILLIHZ
#define ODR_MILLIHZ 1600000u /* 1600 Hz */
#endif
#ifndef SAMPLE_BYTES
#define SAMPLE_BYTES 6u /* 3 axes x int16 */
#endif
#ifndef WATERMARK
#define WATERMARK 16u /* half the LIS2DW12's 32-sample FIFO: the usual driver setting */
#endif
#ifndef READ_BYTES
#define READ_BYTES 4096u
#endif

/* Whole instructions per sample period, rounded down: waking a little early only costs another short wait. */
#define PERIOD_INSTRUCTIONS ((uint64_t)COSIM_CLOCK_HZ * 1000u / ODR_MILLIHZ)

static uint8_t buf[READ_BYTES];

/* SysTick wakes the core from WFI; nothing to do in the handler (the loop re-checks the time). */
void SysTick_Handler(void) {}

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

/* How long a SysTick sleep of N ticks lasts differs between engines, so measure it the way it is used. On QEMU 7.2
 * (netduinoplus2, -icount shift=0,sleep=off, CLKSOURCE=1) the counter itself moves 0.168 ticks per instruction, and
 * the interrupt comes every RVR+1 ticks while the core executes, but a core sleeping in WFI wakes only after about
 * two periods (one per ~11.9 instructions per tick); on Renode SysTick ticks once per instruction. Another interrupt
 * can only cut a calibration sleep short, so take the longest of a few. */
#define CAL_TICKS 10000u
static uint64_t cal_instructions; /* instructions one sleep of CAL_TICKS ticks lasts; 0: do not sleep */

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

/* Wait until the instruction counter reaches `until`. Long waits sleep in WFI with a SysTick alarm, so the engine
 * skips idle time (QEMU -icount sleep=off, Renode advance-immediately) instead of executing a spin loop for it.
 * The alarm is set a little short (and any other interrupt wakes early): the loop then waits the rest. */
static uint64_t late_max; /* the longest a wait overshot its deadline, for the report */

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

int main(void)
{
    uint32_t hash = 2166136261u, samples = 0, dropped = 0, overruns = 0, reads = 0;
    cosim_read_info_t info = {0, 0, 0};
    int32_t n = 0;
    calibrate();
    for (;;) {
        /* a full buffer means the FIFO may still hold samples: read again at once instead of waiting */
        if (info.next_due != UINT64_MAX && n + SAMPLE_BYTES <= (int32_t)sizeof buf)
            wait_until(info.next_due + (WATERMARK - 1u) * PERIOD_INSTRUCTIONS);
        n = cosim_read(STREAM_ID, buf, sizeof buf, &info);
        if (n < 0) {
            cosim_puts("sensor_checksum: no data channel\n");
            return 2;
        }
        reads++;
        for (int32_t i = 0; i < n; i++) hash = (hash ^ buf[i]) * 16777619u;
        samples += (uint32_t)n / SAMPLE_BYTES;
        dropped += info.dropped;
        if (info.flags & COSIM_READ_OVERRUN) overruns++;
        if (info.flags & COSIM_READ_END_OF_STREAM) break;
    }
    cosim_mark("samples", (int32_t)samples);
    cosim_mark("fnv1a", (int32_t)hash);
    cosim_mark("dropped", (int32_t)dropped);
    cosim_mark("overruns", (int32_t)overruns);
    cosim_mark("reads", (int32_t)reads);
    cosim_mark("late_max", (int32_t)late_max);
    cosim_mark("sleep_per_tick_x1000", (int32_t)(cal_instructions * 1000u / CAL_TICKS));
    return 0;
}
