/* dsp_check: firmware/dsp on the target, fed over the data channel, for tests/test_dsp.py (bit-exactness of the
 * Thumb-2 build with the host reference, and the instruction count of each frame size).
 *
 * Stream 1 (host -> firmware): frames, one per read: u32 log2n, u32 window (1: Hann), n int16 samples.
 * Stream 2 (firmware -> host): per frame, n/2+1 uint64 power bins, then n/2+1 int32 log2 (Q16.16) of them.
 * Each power spectrum runs in a span "fft" (windowing included), its log2s in a span "log2". Exits 0 at the end
 * of stream 1; 2 on a data-channel error or a malformed frame. */
#include <stdint.h>

#include "cosim.h"
#include "cosim_dsp.h"

#define MAX_N (1u << COSIM_DSP_MAX_LOG2N)

static struct {
    uint32_t log2n, window;
    int16_t x[MAX_N];
} frame;
static int32_t work[2 * MAX_N];
static uint64_t power[MAX_N / 2 + 1];
static int32_t logs[MAX_N / 2 + 1];

int main(void)
{
    for (;;) {
        cosim_read_info_t info = {0, 0, 0};
        int32_t n = cosim_read(1, &frame, sizeof frame, &info);
        if (n < 0) return 2;
        if (n == 0 && (info.flags & COSIM_READ_END_OF_STREAM)) return 0;
        if (n < 8 || frame.log2n > COSIM_DSP_MAX_LOG2N || (uint32_t)n != 8u + (2u << frame.log2n)) return 2;
        const int16_t *w = frame.window ? cosim_hann_q15(frame.log2n) : 0;
        if (frame.window && !w) return 2;
        const uint32_t bins = (1u << frame.log2n) / 2u + 1u;
        cosim_span_begin("fft");
        int rc = cosim_rfft_power_q15(frame.x, w, frame.log2n, work, power);
        cosim_span_end();
        if (rc != 0) return 2;
        cosim_span_begin("log2");
        for (uint32_t k = 0; k < bins; k++) logs[k] = cosim_log2_q16(power[k]);
        cosim_span_end();
        if (cosim_write(2, power, bins * 8u) < 0 || cosim_write(2, logs, bins * 4u) < 0) return 2;
    }
}
