/* A firmware that faults in the middle of a scenario (docs/verdicts.md, "Failed and crashed runs"): it reads what
 * the scenario's stream has delivered, runs FAULT_AFTER "inference" spans with a decision each, then its
 * classifier follows a corrupted table pointer into reserved address space (0x60000000, FSMC bank 1: not populated,
 * not mapped by QEMU) and takes a precise BusFault. The report must still carry the inferences it made, the PC,
 * the fault registers and the last console lines. */
#include <stdint.h>

#include "cosim.h"

#ifndef FAULT_AFTER
#define FAULT_AFTER 5u
#endif

static int16_t samples[64 * 3];
static const int32_t weights[4] = {3, -1, 2, 1};
static const int32_t *volatile table = weights; /* "corrupted" before the last window */

__attribute__((noinline)) int32_t classify_window(uint32_t n)
{
    int32_t acc = 0;
    for (uint32_t i = 0; i < n; i++) acc += samples[i] * table[i & 3u];
    return acc;
}

int main(void)
{
    cosim_mark("window_ms", 200);
    cosim_read_info_t info = {0, 0, 0};
    for (uint32_t k = 0;; k++) {
        for (volatile uint32_t spin = 0; spin < 20000u; spin++) {
        } /* let samples arrive */
        int32_t n = cosim_read(0, samples, sizeof samples, &info);
        if (n < 0) n = 0;
        if (k == FAULT_AFTER) {
            cosim_puts("infer_fault: classifier table pointer corrupted\n");
            table = (const int32_t *)0x60000000u;
        }
        cosim_span_begin("inference");
        int32_t score = classify_window((uint32_t)n / 2u + 8u);
        cosim_decision(score > 0 ? "shaking" : "idle", score);
        cosim_span_end();
    }
}
