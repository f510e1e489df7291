/* Sleeps between bursts of work, the way the paced apps do, and marks each wake: tests/test_sleep_determinism.py runs
 * it repeatedly and expects the same instruction at every event, run after run.
 *
 * Default: cosim_wait_until (cosim_sleep.h) to pseudo-random instants, after ~20-85 k instructions of work and a MARK,
 * then (with a data channel) a read of what stream 0 holds by then; at the end MARK bytes, the total read.
 * -DSLEEP_PROBE_RAW_SYSTICK: instead, a bare SysTick sleep of a pseudo-random tick count from CVR = 0, marking how
 * many instructions it lasted; on QEMU 7.2 (-icount shift=0,sleep=off) that is N x 5.95 in some runs and N x 11.9 in
 * others at the same sleep (the host-timing-dependent wake cosim_sleep.h avoids on QEMU). */
#include "cosim_sleep.h"

#define SLEEPS 600

static volatile uint32_t sink;
static uint8_t buf[512];

int main(void)
{
    cosim_sleep_calibrate();
    int channel = cosim_has_data_channel();
    int32_t bytes = 0;
    uint32_t x = 12345u;
    for (int i = 0; i < SLEEPS; i++) {
        x = x * 1103515245u + 12345u;
        for (uint32_t k = 0; k < 20000u + (x >> 16); k++) sink += k;
        cosim_mark("busy", i);
        uint32_t ticks = 3000u + ((x >> 8) & 0x3FFFu);
        uint64_t t0 = cosim_instructions();
#ifdef SLEEP_PROBE_RAW_SYSTICK
        COSIM_SYST_CSR = 0;
        COSIM_SYST_RVR = ticks;
        COSIM_SYST_CVR = 0;
        COSIM_SYST_CSR = 7u;
        __asm__ volatile("wfi" ::: "memory");
        COSIM_SYST_CSR = 0;
        cosim_mark("slept", (int32_t)(cosim_instructions() - t0));
#else
        uint64_t until = t0 + 6u * ticks;
        cosim_wait_until(until);
        cosim_mark("late", (int32_t)(cosim_instructions() - until));
#endif
        if (channel) {
            int32_t n = cosim_read(0, buf, sizeof buf, 0);
            if (n < 0) return 3;
            bytes += n;
        }
    }
    cosim_mark("bytes", bytes);
    cosim_mark("late_max", (int32_t)cosim_wait_late_max);
    return 0;
}
