/* activity_tracker: continuous activity recognition on a wrist-worn 3-axis accelerometer (LSM6DSO, 52 Hz, +-4 g).
 *
 * Acquisition: like a FIFO-watermark driver. The FIFO watermark is one hop (26 samples, 0.5 s): the core sleeps in
 * simulated time (cosim_sleep.h) until the watermark's sample exists, then reads the batch in an "acquire" span. A
 * driver timeout 1.5 hops after the previous batch catches a sensor that stopped delivering (missing data). Samples
 * the FIFO lost (info.dropped: the part's FIFO_OVR, counted) are reported at once with MARK overrun=<total>; a hop
 * whose processing starts with another batch already waiting is late and reported with MARK late=<total>.
 * Processing per hop, in one "inference" span (nested: "features", "model"): the 2 s window (104 samples) ->
 * fixed-point features (gravity removal, components along / across gravity, int8; motion_features.c) -> int8 1-D
 * CNN (models/motion, via nn/model.mk) -> decision logic -> exactly one cosim_decision (class, confidence in per
 * mille; sensor_fault with its flags).
 * Decision logic: a class takes over when it is the model's top class with at least CONF_ENTER_PERMILLE in DEBOUNCE
 * consecutive windows (hysteresis: the current class holds while no other qualifies). sensor_fault overrides it
 * when the newest second of data is implausible (stuck, saturated/clipped, gravity out of range) or a batch is
 * missing, and is lifted after FAULT_CLEAR_HOPS clean hops.
 * Actuator: the state LED (MARK led=<state index>) on every change of the reported state, and a haptic alarm
 * (MARK fault_alarm=<flags>) when sensor_fault is raised.
 * At start-up: MARK window_ms, debounce_ms, hop_ms (the verdicts' alignment uses the first two). At the end of the
 * stream: MARK windows, samples (read), dropped, late, fault_hops, wait_late_max, then EXIT 0. Exit 2: no data
 * channel; 4: the model is not the one this firmware was written for (input not int8 WINDOW x 1 x 2 with scale 1 and
 * zero point 0, or not 5 classes). */
#include <stdint.h>
#include <string.h>

#include "app_config.h"
#include "cosim.h"
#include "cosim_sleep.h"
#include "model.h"
#include "motion_features.h"

#define N_CLASSES 5u
#define STATE_FAULT N_CLASSES
static const char *const state_names[N_CLASSES + 1u] = {"idle", "walk", "run", "shake", "wave", "sensor_fault"};

static int16_t window[WINDOW][AXES];
static int8_t features[WINDOW * MF_CHANNELS];
static int8_t scores[COSIM_MODEL_OUTPUT_BYTES];
static uint8_t arena[COSIM_MODEL_ARENA_BYTES] __attribute__((aligned(16)));

typedef struct {
    int reported;         /* state index in force, -1 before the first decision */
    int candidate;        /* class trying to take over */
    uint32_t streak;      /* consecutive windows it qualified */
    uint32_t clean;       /* hops without a fault since the last one */
    uint32_t fault;       /* flags of the last faulty hop (0: not in sensor_fault) */
    int32_t permille_q16; /* output dequantization: per mille = (q - zp) * this >> 16 */
    int32_t out_zp;
} decider_t;

static int model_fits(void)
{
    const cosim_tensor_info_t *in = &cosim_model_desc.input, *out = &cosim_model_desc.output;
    return in->type == 0 && in->bytes == WINDOW * MF_CHANNELS && in->scale == 1.0f && in->zero_point == 0 &&
           out->type == 0 && out->bytes == N_CLASSES;
}

static void set_state(decider_t *d, int state)
{
    if (state == d->reported) return;
    d->reported = state;
    cosim_mark("led", state); /* the state LED follows the reported state */
}

/* One hop's decision; returns the state index it reports and its score. */
static int decide(decider_t *d, uint32_t fault_flags, int32_t *score)
{
    if (fault_flags) {
        if (!d->fault) cosim_mark("fault_alarm", (int32_t)fault_flags);
        d->fault = fault_flags;
        d->clean = 0;
    } else if (d->fault && ++d->clean >= FAULT_CLEAR_HOPS) {
        d->fault = 0;
        d->reported = -1; /* take the classifier's view afresh, as at start-up */
        d->streak = 0;
    }
    if (d->fault) {
        set_state(d, (int)STATE_FAULT);
        *score = (int32_t)d->fault;
        return (int)STATE_FAULT;
    }
    int top = 0;
    for (int c = 1; c < (int)N_CLASSES; c++)
        if (scores[c] > scores[top]) top = c;
    int32_t conf = (int32_t)(((int64_t)(scores[top] - d->out_zp) * d->permille_q16) >> 16);
    if (d->reported < 0) {
        d->candidate = top;
        d->streak = 0;
        set_state(d, top);
    } else if (top != d->reported && conf >= CONF_ENTER_PERMILLE) {
        d->streak = top == d->candidate ? d->streak + 1u : 1u;
        d->candidate = top;
        if (d->streak >= DEBOUNCE) set_state(d, top);
    } else {
        d->streak = 0;
    }
    int shown = d->reported;
    *score = (int32_t)(((int64_t)(scores[shown] - d->out_zp) * d->permille_q16) >> 16);
    return shown;
}

int main(void)
{
#if COSIM_MODEL_STATE_BYTES > 0
    cosim_model_reset(arena); /* a stateful model (LSTM / SVDF) starts from its reset state, as TFLM's */
#endif
    cosim_mark("window_ms", (int32_t)(WINDOW * 1000u / ODR_HZ));
    cosim_mark("debounce_ms", (int32_t)((DEBOUNCE - 1u) * HOP * 1000u / ODR_HZ));
    cosim_mark("hop_ms", (int32_t)(HOP * 1000u / ODR_HZ));
    if (!model_fits()) {
        cosim_puts("activity_tracker: model input must be int8 [1,104,1,2] with scale 1, zero point 0; 5 classes\n");
        return 4;
    }
    decider_t d = {.reported = -1, .candidate = -1, .out_zp = cosim_model_desc.output.zero_point};
    /* the one float operation, once: the output scale in per mille, Q16 */
    d.permille_q16 = (int32_t)(cosim_model_desc.output.scale * 1000.0f * 65536.0f + 0.5f);
    cosim_sleep_calibrate();

    uint32_t filled = 0, windows = 0, samples = 0, dropped = 0, late = 0, fault_hops = 0;
    cosim_read_info_t info = {0, 0, 0};
    uint64_t last_batch = cosim_instructions();
    int end = 0;
    while (!end) {
        /* --- acquisition: one hop into the tail of the window --- */
        int16_t batch[HOP][AXES];
        uint32_t got = 0;
        int missing = 0;
        uint64_t timeout = last_batch + HOP_TIMEOUT_INSTRUCTIONS;
        while (got < HOP) {
            if (info.next_due == UINT64_MAX) {
                end = 1;
                break;
            }
            uint64_t wake = info.next_due + (HOP - got - 1u) * PERIOD_INSTRUCTIONS; /* the watermark */
            cosim_wait_until(wake < timeout ? wake : timeout);
            cosim_span_begin("acquire");
            int32_t n = cosim_read(STREAM_ID, &batch[got][0], (HOP - got) * SAMPLE_BYTES, &info);
            cosim_span_end();
            if (n < 0) {
                cosim_puts("activity_tracker: no data channel\n");
                return 2;
            }
            got += (uint32_t)n / SAMPLE_BYTES;
            samples += (uint32_t)n / SAMPLE_BYTES;
            if (info.dropped) {
                dropped += info.dropped;
                cosim_mark("overrun", (int32_t)dropped);
            }
            if (info.flags & COSIM_READ_END_OF_STREAM) end = 1;
            if (got < HOP && (end || cosim_instructions() >= timeout)) {
                missing = !end;
                break;
            }
        }
        uint64_t now = cosim_instructions();
        last_batch = missing ? timeout : now;
        if (end && got == 0) break;
        if (got == HOP && info.next_due <= now) {
            late++; /* the next batch is already waiting: processing is behind the sensor */
            cosim_mark("late", (int32_t)late);
        }
        memmove(&window[0][0], &window[got][0], (WINDOW - got) * SAMPLE_BYTES);
        memcpy(&window[WINDOW - got][0], &batch[0][0], got * SAMPLE_BYTES);
        filled = filled + got > WINDOW ? WINDOW : filled + got;
        if (filled < WINDOW && !missing) continue; /* the first window is not complete yet */

        /* --- processing: features, model, decision --- */
        cosim_span_begin("inference");
        mf_gravity_t g;
        mf_fault_stats_t st;
        cosim_span_begin("features"); /* nested spans: what the preprocessing and the model each cost */
        mf_features(&window[0][0], WINDOW, OUT_SHIFT, features, &g);
        mf_fault_stats(&window[WINDOW - FAULT_SPAN][0], FAULT_SPAN, ONE_G_CODES, &st);
        cosim_span_end();
        uint32_t flags = mf_fault_flags(&st, &g, ONE_G_CODES) | (missing ? MF_FAULT_MISSING : 0u);
        cosim_span_begin("model");
        int rc = cosim_model_invoke(arena, features, scores);
        cosim_span_end();
        if (rc != 0) {
            cosim_span_end();
            cosim_puts("activity_tracker: model error\n");
            return 4;
        }
        int32_t score;
        int state = decide(&d, flags, &score);
        cosim_decision(state_names[state], score);
        cosim_span_end();
        windows++;
        fault_hops += flags != 0u;
    }
    cosim_mark("windows", (int32_t)windows);
    cosim_mark("samples", (int32_t)samples);
    cosim_mark("dropped", (int32_t)dropped);
    cosim_mark("late", (int32_t)late);
    cosim_mark("fault_hops", (int32_t)fault_hops);
    cosim_mark("wait_late_max", (int32_t)cosim_wait_late_max);
    return 0;
}
