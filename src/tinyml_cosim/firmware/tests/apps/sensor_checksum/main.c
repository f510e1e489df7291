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

/* SysTick-paced sleeping (calibrate, wait_until, late_max), shared with the other pacing test firmwares. */
#include "../../common/systick_sleep.h"

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
