/* DMA-paced microphone acquisition and plausibility checks: see kws_audio.h. */
#include "kws_audio.h"

#include <string.h>

#include "cosim_sleep.h" /* defines SysTick_Handler: included in this one file of the app */

#define KWS_ODR_HZ KWS_SAMPLE_RATE

/* Samples that exist by instruction `now` (sample k exists at ceil(k * f_clk / ODR): docs/sensors.md). */
static uint64_t due_by(uint64_t now) { return now * KWS_ODR_HZ / COSIM_CLOCK_HZ + 1u; }

void kws_audio_init(kws_audio_t *a)
{
    memset(a, 0, sizeof *a);
    cosim_sleep_calibrate();
}

uint64_t kws_audio_wait_late_max(void) { return cosim_wait_late_max; }

static void scan(kws_audio_t *a, const int16_t *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int16_t v = x[i];
        if (v == a->prev) {
            a->run++;
            if (v == 0) {
                if (a->run > a->max_zero_run) a->max_zero_run = a->run;
            } else if (a->run > a->max_run) {
                a->max_run = a->run;
            }
        } else {
            a->run = 1;
        }
        int mag = v < 0 ? -(int)v : v;
        if (v == INT16_MAX || v == INT16_MIN || (mag >= 1024 && v == a->prev && v == a->prev2)) a->sat++;
        a->prev2 = a->prev;
        a->prev = v;
    }
}

int kws_audio_acquire(kws_audio_t *a)
{
    if (a->ended) return KWS_AUDIO_END;
    if (a->wr - a->rd < KWS_HOP_LEN && a->info.next_due != UINT64_MAX) {
        /* sleep until the next half-transfer: the sample that completes the current hop exists */
        uint64_t need = KWS_HOP_LEN - (a->received % KWS_HOP_LEN);
        uint64_t period = (uint64_t)COSIM_CLOCK_HZ / KWS_ODR_HZ;
        cosim_wait_until(a->info.next_due + (need - 1u) * period);
    }
    cosim_span_begin("acquire");
    uint32_t lost = 0;
    int err = 0;
    for (;;) {
        uint64_t held = a->wr - a->rd;
        uint32_t space = (uint32_t)(KWS_RING_SAMPLES - held);
        int32_t n;
        if (space == 0) {
            /* the ring is full of unconsumed samples: what the DMA brings now overwrites nothing we keep; lose it */
            static int16_t discard[KWS_HOP_LEN];
            n = cosim_read(KWS_STREAM, discard, sizeof discard, &a->info);
            if (n < 0) {
                err = 1;
                break;
            }
            lost += (uint32_t)n / 2u;
            a->received += (uint32_t)n / 2u;
        } else {
            uint32_t at = (uint32_t)(a->wr % KWS_RING_SAMPLES);
            uint32_t contiguous = KWS_RING_SAMPLES - at;
            if (contiguous > space) contiguous = space;
            n = cosim_read(KWS_STREAM, &a->ring[at], contiguous * 2u, &a->info);
            if (n < 0) {
                err = 1;
                break;
            }
            scan(a, &a->ring[at], (uint32_t)n / 2u);
            a->wr += (uint32_t)n / 2u;
            a->received += (uint32_t)n / 2u;
        }
        if (a->info.flags & COSIM_READ_END_OF_STREAM) {
            a->ended = 1;
            break;
        }
        uint64_t now = cosim_instructions();
        if (n == 0 || a->info.next_due > now) {
            a->deficit = (int64_t)due_by(now) - (int64_t)a->received;
            break;
        }
    }
    cosim_span_end();
    if (lost) {
        a->overruns++;
        a->dropped += lost;
        cosim_mark("overrun", (int32_t)lost);
    }
    if (err) return -1;
    return a->ended ? KWS_AUDIO_END : KWS_AUDIO_OK;
}

int kws_audio_pop_hop(kws_audio_t *a, int16_t *hop)
{
    if (a->wr - a->rd < KWS_HOP_LEN) return 0;
    for (uint32_t i = 0; i < KWS_HOP_LEN; i++) hop[i] = a->ring[(a->rd + i) % KWS_RING_SAMPLES];
    a->rd += KWS_HOP_LEN;
    return 1;
}

int kws_audio_fault(kws_audio_t *a)
{
    int64_t growth = a->deficit - a->deficit_checked;
    a->deficit_checked = a->deficit;
    if (growth > 0) a->missing_total += (uint32_t)growth;
    int kind = KWS_FAULT_NONE;
    if (growth > (int64_t)KWS_MISSING_MIN || a->max_zero_run >= KWS_STUCK_RUN) kind = KWS_FAULT_MISSING;
    else if (a->max_run >= KWS_STUCK_RUN) kind = KWS_FAULT_STUCK;
    else if (a->sat >= KWS_SAT_MIN) kind = KWS_FAULT_SATURATED;
    /* a run still going on counts in the next stride too */
    a->max_run = a->prev != 0 ? a->run : 0;
    a->max_zero_run = a->prev == 0 ? a->run : 0;
    a->sat = 0;
    return kind;
}
