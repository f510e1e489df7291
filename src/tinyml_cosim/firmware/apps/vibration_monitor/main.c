/* vibration_monitor — predictive-maintenance reference application (docs/apps/vibration_monitor.md).
 *
 * A LIS2DW12 on a machine's bearing housing (1600 Hz, +-4 g, 3 axes) is read like a FIFO-watermark driver: the app
 * sleeps in simulated time until WATERMARK samples are in the part's 32-sample FIFO, reads them, and counts what the
 * FIFO lost (overruns: the app was too slow) apart from what the sensor never delivered (missing samples).
 * Every 512 samples (320 ms) one window goes through:
 *   plausibility checks (stuck, saturated/clipped, missing)  -> sensor_fault, raised at once (no debounce);
 *   fixed-point features (vib_features.c: FFT band energies, shaft-line energy, kurtosis, crest factor, in log2);
 *   the int8 classifier (normal / imbalance / bearing_fault) and an anomaly score (distance to the nearest known
 *   operating state) with entry/release thresholds (hysteresis);
 *   a confidence floor and a debounce (a new class must win VIB_DEBOUNCE_WINDOWS windows in a row);
 *   one cosim_decision per window, and the alarm relay (any state but normal) as a timestamped mark when it switches.
 * Spans: "acquire" (each read), "features", "inference" (model, score, decision). Marks at start-up: window_ms and
 * debounce_ms (the host aligns decisions with them); at the end: windows, overruns, dropped, missing, faults.
 *
 * Decision scores: the softmax maximum in Q8 (0..255) for normal/imbalance/bearing_fault, the anomaly score (Q8 mean
 * squared z-distance) for anomaly, the fault bits (1 stuck, 2 saturated, 4 missing) for sensor_fault. */
#include <stdint.h>

#include "cosim.h"
#include "cosim_sleep.h"
#include "model.h"
#include "model_params.h"
#include "vib_features.h"

#ifndef STREAM_ID
#define STREAM_ID 0
#endif
#define ODR_HZ 1600u
#define WATERMARK 16u /* half the LIS2DW12's 32-sample FIFO */
#define SAMPLE_BYTES (VIB_AXES * 2u)
/* A window not complete this long after its last sample was due is checked for missing samples. */
#define TIMEOUT_SAMPLES (VIB_WINDOW / 4u)
/* Plausibility limits (per window, per axis). Intrinsic noise alone (~2.5 mg rms, 5 LSB) makes a repeated code rare:
 * 64 equal consecutive samples (40 ms) is a stuck output; 8 samples at the window's extreme is a clipped one. */
#define STUCK_RUN 64u
#define CLIPPED_COUNT 8u
#define MISSING_MAX 16u /* samples per window (3 %) */

#define FAULT_STUCK 1
#define FAULT_SATURATED 2
#define FAULT_MISSING 4

enum { ST_NORMAL = 0, ST_IMBALANCE = 1, ST_BEARING = 2, ST_ANOMALY = VIB_CLASSES, ST_SENSOR_FAULT, ST_COUNT };
static const char *const state_names[ST_COUNT] = {"normal", "imbalance", "bearing_fault", "anomaly", "sensor_fault"};

static int16_t window[VIB_WINDOW * VIB_AXES];
static vib_scratch_t scratch;
static int32_t features[VIB_FEATURES];
static int8_t model_in[COSIM_MODEL_INPUT_BYTES];
static int8_t model_out[COSIM_MODEL_OUTPUT_BYTES];
static uint8_t arena[COSIM_MODEL_ARENA_BYTES] __attribute__((aligned(16)));

/* Sample k of the part exists at instruction ceil(k * f_clk / ODR) (docs/sensors.md, "When a sample exists"). */
static uint64_t due(uint64_t k) { return (k * COSIM_CLOCK_HZ + ODR_HZ - 1u) / ODR_HZ; }
/* The index of the sample due at `instant`, or of the last one due before it. */
static uint64_t index_at(uint64_t instant) { return instant * ODR_HZ / COSIM_CLOCK_HZ; }

typedef struct {
    int reported, candidate, streak, anomalous, relay;
} decider_t;

static int plausibility(const vib_stats_t *st)
{
    int bits = 0;
    for (uint32_t a = 0; a < VIB_AXES; a++) {
        if (st->run[a] >= STUCK_RUN) bits |= FAULT_STUCK;
        if (st->max[a] != st->min[a] && (st->at_max[a] >= CLIPPED_COUNT || st->at_min[a] >= CLIPPED_COUNT))
            bits |= FAULT_SATURATED;
    }
    return bits;
}

static void set_relay(decider_t *d)
{
    int on = d->reported != ST_NORMAL;
    if (on != d->relay) {
        d->relay = on;
        cosim_mark("alarm_relay", on); /* the actuator: its simulated timestamp is the event line's count */
    }
}

/* One decision for a window the sensor made implausible: raised at once, no debounce. */
static void decide_fault(decider_t *d, int bits)
{
    d->reported = d->candidate = ST_SENSOR_FAULT;
    d->streak = VIB_DEBOUNCE_WINDOWS;
    d->anomalous = 0;
    set_relay(d);
    cosim_decision(state_names[ST_SENSOR_FAULT], bits);
}

static void decide_model(decider_t *d, int top, int32_t conf_q8, int32_t score)
{
    if (score >= VIB_ANOMALY_ENTER) d->anomalous = 1;
    else if (score < VIB_ANOMALY_RELEASE) d->anomalous = 0;
    int cls = d->anomalous ? ST_ANOMALY : conf_q8 >= VIB_CONFIDENCE_MIN_Q8 ? top : d->candidate;
    if (cls == ST_SENSOR_FAULT) cls = top; /* a low-confidence first window after a fault */
    if (cls == d->candidate) {
        d->streak++;
    } else {
        d->candidate = cls;
        d->streak = 1;
    }
    if (d->candidate != d->reported && d->streak >= (int)VIB_DEBOUNCE_WINDOWS) d->reported = d->candidate;
    set_relay(d);
    int32_t out = d->reported == ST_ANOMALY ? score : d->reported == ST_SENSOR_FAULT ? FAULT_MISSING : conf_q8;
    cosim_decision(state_names[d->reported], out);
}

/* Features, model and decision of one complete window. */
static void process(decider_t *d, int fault_bits)
{
    vib_stats_t st;
    cosim_span_begin("features");
    vib_window_stats(window, &st);
    fault_bits |= plausibility(&st);
    if (!fault_bits) {
        vib_features(window, &scratch, features);
        vib_quantize(features, vib_norm_offset, vib_norm_mult, VIB_INPUT_ZERO_POINT, model_in);
    }
    cosim_span_end();
    cosim_span_begin("inference");
    if (fault_bits) {
        decide_fault(d, fault_bits);
    } else {
        cosim_model_invoke(arena, model_in, model_out);
        int top = 0;
        for (int c = 1; c < (int)VIB_CLASSES; c++)
            if (model_out[c] > model_out[top]) top = c;
        int32_t conf_q8 = (int32_t)model_out[top] - VIB_OUTPUT_ZERO_POINT;
        int32_t score = vib_anomaly_score(model_in, VIB_PROTOTYPES, vib_centre, vib_weight);
        decide_model(d, top, conf_q8, score);
    }
    cosim_span_end();
}

int main(void)
{
#if COSIM_MODEL_STATE_BYTES > 0
    cosim_model_reset(arena); /* a stateful model (LSTM / SVDF) starts from its reset state, as TFLM's */
#endif
    /* the normalisation and thresholds in model_params.h belong to one model: refuse another one */
    if (COSIM_MODEL_INPUT_BYTES != VIB_FEATURES || COSIM_MODEL_OUTPUT_BYTES != VIB_CLASSES ||
        cosim_model_desc.input.zero_point != VIB_INPUT_ZERO_POINT) {
        cosim_puts("vibration_monitor: the model does not match model_params.h (retrain with models/vibration)\n");
        return 2;
    }
    cosim_mark("window_ms", (int32_t)(VIB_WINDOW * 1000u / ODR_HZ));
    cosim_mark("debounce_ms", (int32_t)((VIB_DEBOUNCE_WINDOWS - 1u) * VIB_WINDOW * 1000u / ODR_HZ));
    cosim_sleep_calibrate();

    decider_t dec = {ST_NORMAL, ST_NORMAL, 0, 0, 0};
    uint32_t have = 0, windows = 0, overruns = 0, dropped = 0, missing = 0, faults = 0;
    uint32_t dropped_w = 0; /* FIFO losses inside the current window */
    uint64_t w0 = 0;        /* index of the window's first sample */
    uint64_t deadline = due(w0 + VIB_WINDOW - 1u) + due(TIMEOUT_SAMPLES);
    cosim_read_info_t info = {0, 0, 0};
    for (;;) {
        uint32_t need = VIB_WINDOW - have;
        if (need > WATERMARK) need = WATERMARK;
        uint64_t wake = info.next_due + due(need - 1u); /* the FIFO-threshold interrupt */
        cosim_wait_until(wake < deadline ? wake : deadline);
        cosim_span_begin("acquire");
        int32_t n = cosim_read(STREAM_ID, &window[have * VIB_AXES], (VIB_WINDOW - have) * SAMPLE_BYTES, &info);
        cosim_span_end();
        if (n < 0) {
            cosim_puts("vibration_monitor: no data channel\n");
            return 2;
        }
        have += (uint32_t)n / SAMPLE_BYTES;
        if (info.dropped) {
            overruns++;
            dropped += info.dropped;
            dropped_w += info.dropped;
            cosim_mark("fifo_overrun", (int32_t)info.dropped);
        }
        const uint64_t now = cosim_instructions();
        /* samples that should have arrived by now: up to the oldest unread one (next_due), never past the present */
        uint64_t next_k = info.next_due == UINT64_MAX ? index_at(now) + 1u : index_at(info.next_due);
        if (next_k > index_at(now) + 1u) next_k = index_at(now) + 1u;
        int64_t lost = (int64_t)(next_k - w0) - (int64_t)have - (int64_t)dropped_w;
        uint32_t missing_w = lost > 0 ? (uint32_t)lost : 0u;
        int done = have == VIB_WINDOW;
        int timed_out = !done && now >= deadline && !(info.flags & COSIM_READ_END_OF_STREAM);
        if (done || (timed_out && missing_w > MISSING_MAX)) {
            int bits = missing_w > MISSING_MAX ? FAULT_MISSING : 0;
            if (done) {
                process(&dec, bits);
            } else {
                cosim_span_begin("inference");
                decide_fault(&dec, bits); /* nothing to analyse: the sensor stopped delivering */
                cosim_span_end();
            }
            faults += dec.reported == ST_SENSOR_FAULT;
            missing += missing_w;
            windows++;
            have = 0;
            dropped_w = 0;
            w0 = next_k;
            deadline = due(w0 + VIB_WINDOW - 1u) + due(TIMEOUT_SAMPLES);
        } else if (timed_out) {
            deadline = now + due(TIMEOUT_SAMPLES); /* late but not missing samples: this app is too slow */
        }
        if (info.flags & COSIM_READ_END_OF_STREAM) break;
    }
    cosim_mark("windows", (int32_t)windows);
    cosim_mark("overruns", (int32_t)overruns);
    cosim_mark("dropped", (int32_t)dropped);
    cosim_mark("missing", (int32_t)missing);
    cosim_mark("fault_windows", (int32_t)faults);
    cosim_mark("wait_late_max", (int32_t)cosim_wait_late_max);
    return 0;
}
