/* A small decision-making firmware for the verdicts (docs/verdicts.md): reads a 3-axis accelerometer stream from
 * a scenario, computes the RMS of the AC part of the acceleration over each window in fixed point, decides
 * "shaking" or "idle" by a threshold with a debounce, and reports one cosim_decision per window inside an
 * "inference" span. The reads sit in "acquire" spans, so the host can also check the per-window CPU budget.
 *
 * States what the host needs to align its decisions with the ground truth, once at start-up, as marks:
 * window_ms (the window each decision covers) and debounce_ms (how long a change of class is held back).
 *
 * Reading: like a FIFO-watermark driver (sensor_checksum), sleep in simulated time until min(WATERMARK, what the
 * window still needs) samples are in the part's FIFO, then read them. Ends (return 0: EXIT with stack_used) at the
 * end of the stream. Build-time knobs (-D…) for other rates and parts. */
#include <stdint.h>

#include "cosim.h"

#ifndef STREAM_ID
#define STREAM_ID 0
#endif
#ifndef ODR_HZ
#define ODR_HZ 200u
#endif
#ifndef WINDOW
#define WINDOW 40u /* samples per decision: 200 ms at 200 Hz */
#endif
#ifndef WATERMARK
#define WATERMARK 16u /* half the LIS2DW12's 32-sample FIFO */
#endif
#ifndef DEBOUNCE
#define DEBOUNCE 2u /* a new class must win this many consecutive windows before it is reported */
#endif
#ifndef THRESHOLD_MG
#define THRESHOLD_MG 100
#endif
#ifndef UG_PER_WORD
#define UG_PER_WORD 122 /* LIS2DW12 at +-4 g, high-performance: 0.488 mg per 14-bit code, left-justified by 2 */
#endif

#define AXES 3u
#define SAMPLE_BYTES (AXES * 2u)
#define PERIOD_INSTRUCTIONS ((uint64_t)COSIM_CLOCK_HZ / ODR_HZ)

static int16_t window[WINDOW][AXES];

/* SysTick sleeps so idle time costs no emulated instructions (calibrated: QEMU's SysTick does not tick once
 * per instruction). */
#include "../../common/systick_sleep.h"

static uint32_t isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)r;
}

/* RMS of the acceleration minus its window mean, summed over the axes, in mg (fixed point throughout). */
static int32_t ac_rms_mg(void)
{
    uint64_t energy = 0; /* sum over axes of N * sum(x^2) - (sum x)^2, in words^2 * N^2 */
    for (uint32_t a = 0; a < AXES; a++) {
        int64_t s = 0;
        uint64_t s2 = 0;
        for (uint32_t i = 0; i < WINDOW; i++) {
            int32_t x = window[i][a];
            s += x;
            s2 += (uint64_t)((int64_t)x * x);
        }
        energy += (uint64_t)WINDOW * s2 - (uint64_t)(s * s);
    }
    uint32_t rms_words = isqrt64(energy) / WINDOW; /* sqrt(energy) / N = RMS in words */
    return (int32_t)((int64_t)rms_words * UG_PER_WORD / 1000);
}

int main(void)
{
    static const char *const names[2] = {"idle", "shaking"};
    cosim_mark("window_ms", (int32_t)(WINDOW * 1000u / ODR_HZ));
    cosim_mark("debounce_ms", (int32_t)((DEBOUNCE - 1u) * WINDOW * 1000u / ODR_HZ));
    calibrate();
    uint32_t have = 0, streak = 0, windows = 0, dropped = 0;
    int reported = 0, candidate = 0;
    cosim_read_info_t info = {0, 0, 0};
    for (;;) {
        uint32_t need = WINDOW - have;
        if (need > WATERMARK) need = WATERMARK;
        if (info.next_due != UINT64_MAX) wait_until(info.next_due + (need - 1u) * PERIOD_INSTRUCTIONS);
        cosim_span_begin("acquire");
        int32_t n = cosim_read(STREAM_ID, &window[have][0], (WINDOW - have) * SAMPLE_BYTES, &info);
        cosim_span_end();
        if (n < 0) {
            cosim_puts("threshold_detector: no data channel\n");
            return 2;
        }
        have += (uint32_t)n / SAMPLE_BYTES;
        dropped += info.dropped;
        if (have == WINDOW) {
            cosim_span_begin("inference");
            int32_t rms = ac_rms_mg();
            int cls = rms > THRESHOLD_MG;
            if (cls == candidate) {
                streak++;
            } else {
                candidate = cls;
                streak = 1;
            }
            if (candidate != reported && streak >= DEBOUNCE) reported = candidate;
            cosim_decision(names[reported], rms);
            cosim_span_end();
            have = 0;
            windows++;
        }
        if (info.flags & COSIM_READ_END_OF_STREAM) break;
    }
    cosim_mark("windows", (int32_t)windows);
    cosim_mark("dropped", (int32_t)dropped);
    return 0;
}
