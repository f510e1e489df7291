/* Microphone acquisition of the keyword spotter, paced like a DMA half-transfer interrupt, and the plausibility
 * checks behind its sensor-fault state.
 *
 * The MP34DT05's PCM (16 kHz int16, data-channel stream KWS_STREAM) is drained into a DMA ring of KWS_RING_HOPS
 * hops (20 ms each). kws_audio_acquire() sleeps in simulated time until the next half-transfer boundary (a whole hop
 * of new samples) exists, then drains everything that exists by now. Samples that do not fit because the
 * application has not consumed the ring (an inference took longer than the ring covers) are lost: counted in
 * `dropped`, one `overruns` per acquisition that lost samples, each reported at once as MARK overrun=<samples>.
 *
 * Plausibility, per decision stride (kws_audio_fault() reads and resets it):
 *   stuck      KWS_STUCK_RUN or more identical consecutive samples of a non-zero value (a stuck ADC / PDM path)
 *   missing    KWS_STUCK_RUN or more consecutive zeros (a dead microphone delivering zeros), or more than
 *              KWS_MISSING_MIN fewer samples than the elapsed simulated time implies (samples that never came)
 *   saturated  KWS_SAT_MIN or more samples at the int16 rails or in flat tops (3+ equal samples at |x| >= 1024):
 *              analogue clipping or digital saturation
 * Real microphones always carry self-noise (about 0.7 LSB rms for this part), so a long exactly-constant run does
 * not happen in a quiet room. */
#ifndef KWS_AUDIO_H
#define KWS_AUDIO_H
#include <stdint.h>

#include "cosim.h"
#include "kws_mel_tables.h"

#ifndef KWS_STREAM
#define KWS_STREAM 0
#endif
#ifndef KWS_RING_HOPS
#define KWS_RING_HOPS 16u /* 320 ms of audio */
#endif
#define KWS_RING_SAMPLES (KWS_RING_HOPS * KWS_HOP_LEN)
#ifndef KWS_STUCK_RUN
#define KWS_STUCK_RUN 800u /* 50 ms */
#endif
#ifndef KWS_SAT_MIN
#define KWS_SAT_MIN 40u
#endif
#ifndef KWS_MISSING_MIN
#define KWS_MISSING_MIN 192u
#endif

#define KWS_AUDIO_OK 0
#define KWS_AUDIO_END 1

/* fault kinds (MARK fault_kind) */
#define KWS_FAULT_NONE 0
#define KWS_FAULT_STUCK 1
#define KWS_FAULT_SATURATED 2
#define KWS_FAULT_MISSING 3

typedef struct {
    int16_t ring[KWS_RING_SAMPLES];
    uint64_t wr, rd;   /* samples written / consumed, since the start */
    uint64_t received; /* samples that came over the channel (kept or dropped) */
    cosim_read_info_t info;
    int ended;
    uint32_t overruns, dropped;
    /* plausibility */
    int16_t prev, prev2;
    uint32_t run;                        /* current run of identical samples */
    uint32_t max_run, max_zero_run, sat; /* this stride */
    int64_t deficit, deficit_checked;    /* samples due by now minus received, at the last drain / check */
    uint32_t missing_total;
} kws_audio_t;

void kws_audio_init(kws_audio_t *a);
/* Wait for the next half-transfer (if the ring holds less than a hop), then drain. Returns KWS_AUDIO_OK,
 * KWS_AUDIO_END (the stream ended; what is in the ring is still valid), or -1 (no data channel). */
int kws_audio_acquire(kws_audio_t *a);
/* Take the oldest hop from the ring; 0 when less than a hop is there. */
int kws_audio_pop_hop(kws_audio_t *a, int16_t *hop);
/* The fault seen since the previous call (KWS_FAULT_*), and reset the per-stride statistics. */
int kws_audio_fault(kws_audio_t *a);
/* The longest a wait overshot its instant (instructions). */
uint64_t kws_audio_wait_late_max(void);

#endif
