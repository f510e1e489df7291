/* Benchmark: a long, pure compute workload for emulated MIPS. An int8 matrix-vector product (64x256, int32
 * accumulation, requantised output fed back as the next input, the inner loop of a dense layer) repeated until the
 * instruction counter reaches BENCH_INSTRUCTIONS. A MARK "progress" every BENCH_PROGRESS instructions lets the host
 * time the steady state from console timestamps (and keeps its stall detector quiet); the run ends with EXIT 0. */
#include <stdint.h>

#include "cosim.h"

#ifndef BENCH_INSTRUCTIONS
#define BENCH_INSTRUCTIONS 1000000000ull
#endif
#ifndef BENCH_PROGRESS
#define BENCH_PROGRESS (1ull << 28)
#endif

#define ROWS 64
#define COLS 256

static int8_t weights[ROWS][COLS];
static int8_t input[COLS];
static int32_t output[ROWS];

static void fill(void)
{
    uint32_t x = 12345u;
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            x = x * 1103515245u + 12345u;
            weights[r][c] = (int8_t)(x >> 24);
        }
    for (int c = 0; c < COLS; c++) {
        x = x * 1103515245u + 12345u;
        input[c] = (int8_t)(x >> 24);
    }
}

__attribute__((noinline)) static uint32_t matvec(void)
{
    uint32_t checksum = 0;
    for (int r = 0; r < ROWS; r++) {
        int32_t acc = r;
        const int8_t *w = weights[r];
        for (int c = 0; c < COLS; c++) acc += (int32_t)w[c] * (int32_t)input[c];
        output[r] = acc;
        checksum += (uint32_t)acc;
    }
    /* requantise: the output feeds the next round, so no round can be skipped */
    for (int c = 0; c < COLS; c++) {
        int32_t v = output[c % ROWS] >> (7 + (c & 3));
        input[c] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
    return checksum;
}

int main(void)
{
    fill();
    uint32_t checksum = 0;
    int32_t rounds = 0;
    cosim_mark("start", 0);
    uint64_t next = cosim_instructions() + BENCH_PROGRESS;
    uint64_t now;
    while ((now = cosim_instructions()) < BENCH_INSTRUCTIONS) {
        checksum += matvec();
        rounds++;
        if (now >= next) {
            cosim_mark("progress", rounds);
            next += BENCH_PROGRESS;
        }
    }
    cosim_mark("rounds", rounds);
    cosim_mark("checksum", (int32_t)checksum);
    return 0;
}
