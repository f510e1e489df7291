/* keyword_spotter: always-on keyword spotting on a digital MEMS microphone (MP34DT05, 16 kHz int16 PCM), written
 * the way a product's firmware is: DMA-paced acquisition, fixed-point log-mel features per 20 ms hop, an int8
 * DS-CNN over the last second every 240 ms, posterior smoothing with a threshold, suppression after a detection, a
 * sensor-fault state, and a "wake" output. docs/apps/keyword_spotter.md explains it; the numbers are there too.
 *
 * Acquisition (kws_audio.c): the microphone's PCM arrives through the data channel; the loop sleeps in simulated
 * time until the next DMA half-transfer (one 20 ms hop of samples) exists, as a half-transfer interrupt would wake
 * it, and drains what is there into a DMA ring of KWS_RING_HOPS hops. If processing (an inference) keeps it away
 * longer than the ring covers, the samples that no longer fit are lost: counted, and reported as MARK overrun.
 *
 * Per hop: features of the newest 32 ms frame (span "features") into a ring of 49 frames; per KWS_STRIDE hops (after
 * the first full second): one inference on the last 49 frames in a span "inference", one cosim_decision inside it:
 *   sensor_fault   the input was implausible in this stride (stuck / saturated / missing samples), see kws_audio.h
 *   <keyword>      a detection: the mean of the last KWS_SMOOTH posteriors of that keyword reached the threshold;
 *                  MARK wake=<keyword index> is the actuator output (its timestamp is the event's)
 *   background     otherwise (silence, unknown words, a keyword not yet confirmed, suppression after a detection)
 * The score is the smoothed posterior of the winning keyword (or of background) in per mille.
 *
 * At start-up: MARK window_ms (the audio one decision covers) and debounce_ms (the smoothing delay), which the
 * verdicts use to align decisions with the ground truth. At the end of the stream: MARKs with the totals. */
#include <stdint.h>
#include <string.h>

#include "cosim.h"
#include "kws_audio.h"
#include "kws_decide.h"
#include "kws_features.h"
#include "model.h"

#if COSIM_MODEL_INPUT_BYTES != KWS_N_FRAMES * KWS_N_MEL
#error "the model's input must be 49 frames x 16 log-mel bands of int8"
#endif
#if COSIM_MODEL_OUTPUT_BYTES != KWS_N_CLASSES
#error "the model's output must have one score per class of kws_decide.h"
#endif

static uint8_t arena[COSIM_MODEL_ARENA_BYTES] __attribute__((aligned(16)));
static int8_t features[KWS_N_FRAMES][KWS_N_MEL]; /* ring of frames; `feat_head` is the oldest */
static int8_t model_in[KWS_N_FRAMES * KWS_N_MEL] __attribute__((aligned(16)));
static int8_t model_out[KWS_N_CLASSES] __attribute__((aligned(16)));
static kws_feature_scratch_t scratch;
static int16_t frame[KWS_FRAME_LEN];
static kws_audio_t audio; /* the DMA ring: 10 KB, not on the stack */
static kws_decider_t decider;

int main(void)
{
#if COSIM_MODEL_STATE_BYTES > 0
    cosim_model_reset(arena); /* a stateful model (LSTM / SVDF) starts from its reset state, as TFLM's */
#endif
    cosim_mark("window_ms", (int32_t)((KWS_N_FRAMES - 1u) * KWS_HOP_LEN + KWS_FRAME_LEN) * 1000 / KWS_SAMPLE_RATE);
    cosim_mark("debounce_ms", (int32_t)((KWS_SMOOTH - 1u) * KWS_STRIDE * KWS_HOP_LEN * 1000u / KWS_SAMPLE_RATE));
    /* the features are the model input unchanged: its quantization must be the identity (models/kws/train.py) */
    if (cosim_model_desc.input.scale != 1.0f || cosim_model_desc.input.zero_point != 0) {
        cosim_puts("keyword_spotter: the model's input quantization is not scale 1, zero point 0\n");
        return 4;
    }

    kws_audio_init(&audio);
    kws_decider_init(&decider);
    uint32_t feat_head = 0, frames = 0, since = 0, inferences = 0;

    for (;;) {
        int rc = kws_audio_acquire(&audio);
        if (rc < 0) {
            cosim_puts("keyword_spotter: no data channel\n");
            return 2;
        }
        int16_t hop[KWS_HOP_LEN];
        while (kws_audio_pop_hop(&audio, hop)) {
            /* slide the frame by one hop: the newest 512 samples, 192 of them from the previous hop */
            memmove(frame, frame + KWS_HOP_LEN, (KWS_FRAME_LEN - KWS_HOP_LEN) * sizeof frame[0]);
            memcpy(frame + (KWS_FRAME_LEN - KWS_HOP_LEN), hop, sizeof hop);
            cosim_span_begin("features");
            kws_frame_features(frame, features[feat_head], &scratch);
            cosim_span_end();
            feat_head = (feat_head + 1u) % KWS_N_FRAMES;
            frames++;
            /* the first frame is complete after 512 samples (two hops); the first window after 49 frames */
            if (frames < KWS_N_FRAMES + 1u || ++since < KWS_STRIDE) continue;
            since = 0;
            cosim_span_begin("inference");
            for (uint32_t i = 0; i < KWS_N_FRAMES; i++)
                memcpy(model_in + i * KWS_N_MEL, features[(feat_head + i) % KWS_N_FRAMES], KWS_N_MEL);
            int fault = kws_audio_fault(&audio);
            int ok = cosim_model_invoke(arena, model_in, model_out);
            if (ok != 0) {
                cosim_span_end();
                cosim_puts("keyword_spotter: model error\n");
                return 4;
            }
            kws_decision_t d = kws_decide(&decider, model_out, fault);
            cosim_decision(kws_label(d.label), d.score_permille);
            cosim_span_end();
            if (d.wake >= 0) cosim_mark("wake", d.wake);
            /* entering the fault state: say which check fired (1 stuck, 2 saturated, 3 missing) */
            if (d.label == KWS_LABEL_FAULT && !decider.fault_reported) cosim_mark("fault_kind", fault);
            decider.fault_reported = d.label == KWS_LABEL_FAULT;
            inferences++;
        }
        if (rc == KWS_AUDIO_END) break;
    }
    cosim_mark("inferences", (int32_t)inferences);
    cosim_mark("detections", (int32_t)decider.detections);
    cosim_mark("overruns", (int32_t)audio.overruns);
    cosim_mark("dropped", (int32_t)audio.dropped);
    cosim_mark("missing", (int32_t)audio.missing_total);
    cosim_mark("wait_late_max",
               (int32_t)(kws_audio_wait_late_max() > INT32_MAX ? INT32_MAX : kws_audio_wait_late_max()));
    return 0;
}
