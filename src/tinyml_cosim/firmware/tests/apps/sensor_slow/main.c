/* A deliberately slow reader: it processes every window for a fixed, calibrated number of instructions and reads
 * the sensor once per window, whose period is longer than the part's FIFO takes to fill. The FIFO overruns on
 * every read after the first, and the test checks the dropped-sample count against a closed form.
 *
 * Schedule (absolute, so the read instants do not depend on how long a read or the processing takes):
 *   read i at instruction ANCHOR + i * WINDOW, i = 0, 1, ...
 * ANCHOR sits half a sample period after a sample instant, so the few hundred instructions between the deadline
 * and the request's time stamp can never move a sample across it. Processing is BUSY_ITERATIONS turns of a
 * two-instruction loop; the firmware reports the smallest measured duration of one processing step as `busy`.
 * Marks: samples, dropped, overruns, reads, fnv1a, busy. */
#include <stdint.h>

#include "cosim.h"

#ifndef ODR_HZ
#define ODR_HZ 1600u
#endif
#define SAMPLE_PERIOD ((uint64_t)COSIM_CLOCK_HZ / ODR_HZ) /* 105000 at 168 MHz: a whole number on both boards */
#ifndef WINDOW_SAMPLES
#define WINDOW_SAMPLES 50u /* > the 32-sample FIFO: 18 samples lost per window */
#endif
#define WINDOW (WINDOW_SAMPLES * SAMPLE_PERIOD)
#define ANCHOR (10u * SAMPLE_PERIOD + SAMPLE_PERIOD / 2u)
#ifndef BUSY_ITERATIONS
#define BUSY_ITERATIONS 2000000u /* 4 M instructions of "processing" per window */
#endif

static uint8_t buf[4096];

/* Exactly two instructions per turn (subs, bne), whatever the compiler does around it. */
static void __attribute__((noinline)) busy(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b\n" : "+r"(n) : : "cc");
}

int main(void)
{
    uint32_t hash = 2166136261u, samples = 0, dropped = 0, overruns = 0, reads = 0;
    uint64_t busy_min = UINT64_MAX;
    cosim_read_info_t info = {0, 0, 0};
    for (uint64_t deadline = ANCHOR;; deadline += WINDOW) {
        while (cosim_instructions() < deadline) {
        }
        int32_t n = cosim_read(0, buf, sizeof buf, &info);
        if (n < 0) {
            cosim_puts("sensor_slow: no data channel\n");
            return 2;
        }
        reads++;
        for (int32_t i = 0; i < n; i++) hash = (hash ^ buf[i]) * 16777619u;
        samples += (uint32_t)n / 6u;
        dropped += info.dropped;
        if (info.flags & COSIM_READ_OVERRUN) overruns++;
        if (info.flags & COSIM_READ_END_OF_STREAM) break;
        uint64_t t0 = cosim_instructions();
        busy(BUSY_ITERATIONS);
        uint64_t spent = cosim_instructions() - t0;
        if (spent < busy_min) busy_min = spent; /* a window without a timer interrupt in it */
    }
    cosim_mark("samples", (int32_t)samples);
    cosim_mark("dropped", (int32_t)dropped);
    cosim_mark("overruns", (int32_t)overruns);
    cosim_mark("reads", (int32_t)reads);
    cosim_mark("fnv1a", (int32_t)hash);
    cosim_mark("busy", (int32_t)busy_min);
    return 0;
}
