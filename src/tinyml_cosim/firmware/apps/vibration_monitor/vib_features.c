/* Fixed-point vibration features (see vib_features.h). Bit-exact reference: sim/features/vibration.py. */
#include "vib_features.h"

#include "cosim_dsp.h"

/* 3.125 Hz per bin: eight 12.5 Hz bands over 12.5-112.5 Hz, where the shaft orders of 900-3600 rpm machines lie,
 * then wider bands up to the 800 Hz Nyquist limit, where bearing impacts ring the structure. */
const uint16_t vib_band_edges[VIB_BANDS + 1u] = {4,  8,  12, 16,  20,  24,  28,  32,      36,
                                                 48, 64, 96, 128, 160, 192, 224, VIB_BINS};

#define PEAK_LO 4u  /* 12.5 Hz */
#define PEAK_HI 36u /* 112.5 Hz, exclusive */

void vib_window_stats(const int16_t *window, vib_stats_t *stats)
{
    for (uint32_t a = 0; a < VIB_AXES; a++) {
        int16_t lo = window[a], hi = window[a];
        for (uint32_t i = 1; i < VIB_WINDOW; i++) {
            int16_t v = window[i * VIB_AXES + a];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        uint16_t nlo = 0, nhi = 0, run = 1, longest = 1;
        for (uint32_t i = 0; i < VIB_WINDOW; i++) {
            int16_t v = window[i * VIB_AXES + a];
            nlo += v == lo;
            nhi += v == hi;
            if (i > 0) {
                run = v == window[(i - 1u) * VIB_AXES + a] ? (uint16_t)(run + 1u) : 1u;
                if (run > longest) longest = run;
            }
        }
        stats->run[a] = longest;
        stats->min[a] = lo;
        stats->max[a] = hi;
        stats->at_min[a] = nlo;
        stats->at_max[a] = nhi;
    }
}

static int16_t sat16(int32_t v) { return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }

int vib_features(const int16_t *window, vib_scratch_t *s, int32_t *features)
{
    const int16_t *hann = cosim_hann_q15(VIB_LOG2N);
    uint64_t s2 = 0, s4 = 0;
    uint32_t peak_sq = 0;
    for (uint32_t k = 0; k < VIB_BINS; k++) s->sum[k] = 0;
    for (uint32_t a = 0; a < VIB_AXES; a++) {
        int32_t total = 0;
        for (uint32_t i = 0; i < VIB_WINDOW; i++) total += window[i * VIB_AXES + a];
        const int32_t mean = total >> VIB_LOG2N; /* floor: arithmetic shift, as Python's >> */
        for (uint32_t i = 0; i < VIB_WINDOW; i++) {
            int16_t d = sat16(window[i * VIB_AXES + a] - mean);
            s->frame[i] = d;
            uint32_t sq = (uint32_t)((int32_t)d * d); /* <= 2^30 */
            uint64_t e = sq >> 4;                     /* <= 2^26, so the sum of e^2 over 1536 values fits */
            s2 += sq;
            s4 += e * e;
            if (sq > peak_sq) peak_sq = sq;
        }
        if (cosim_rfft_power_q15(s->frame, hann, VIB_LOG2N, s->work, s->power) != 0) return -1;
        for (uint32_t k = 0; k < VIB_BINS; k++) s->sum[k] += s->power[k]; /* rotation-invariant: |Rx|^2 = |x|^2 */
    }
    /* +1 everywhere: log2(0) is INT32_MIN, and a silent band must stay a finite, comparable number */
    for (uint32_t b = 0; b < VIB_BANDS; b++) {
        uint64_t e = 1;
        for (uint32_t k = vib_band_edges[b]; k < vib_band_edges[b + 1u]; k++) e += s->sum[k];
        features[b] = cosim_log2_q16(e);
    }
    uint32_t kp = PEAK_LO;
    for (uint32_t k = PEAK_LO + 1u; k < PEAK_HI; k++)
        if (s->sum[k] > s->sum[kp]) kp = k;
    features[VIB_F_PEAK] = cosim_log2_q16(s->sum[kp - 1u] + s->sum[kp] + s->sum[kp + 1u] + 1u);
    uint64_t ac = 1;
    for (uint32_t k = PEAK_LO; k < VIB_BINS; k++) ac += s->sum[k];
    features[VIB_F_TOTAL] = cosim_log2_q16(ac);
    const int32_t log_count = cosim_log2_q16(VIB_WINDOW * VIB_AXES);
    const int32_t log_s2 = cosim_log2_q16(s2 + 1u);
    /* kurtosis = count * sum(d^4) / sum(d^2)^2, and sum(d^4) = 2^8 * sum(e^2) up to e's truncation */
    features[VIB_F_KURTOSIS] = cosim_log2_q16(s4 + 1u) + (8 << 16) + log_count - 2 * log_s2;
    features[VIB_F_CREST] = cosim_log2_q16((uint64_t)peak_sq + 1u) + log_count - log_s2;
    return 0;
}

void vib_quantize(const int32_t *features, const int32_t *offset, const int32_t *mult, int32_t zero_point, int8_t *q)
{
    for (uint32_t i = 0; i < VIB_FEATURES; i++) {
        int64_t v = ((int64_t)(features[i] - offset[i]) * mult[i] + (1 << 23)) >> 24;
        v += zero_point;
        q[i] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
}

int32_t vib_anomaly_score(const int8_t *q, uint32_t classes, const int8_t *centre, const uint16_t *weight)
{
    uint64_t best = UINT64_MAX;
    for (uint32_t c = 0; c < classes; c++) {
        uint64_t d = 0;
        for (uint32_t i = 0; i < VIB_FEATURES; i++) {
            int32_t diff = (int32_t)q[i] - centre[c * VIB_FEATURES + i];
            d += (uint64_t)(uint32_t)(diff * diff) * weight[c * VIB_FEATURES + i];
        }
        if (d < best) best = d;
    }
    best = best / VIB_FEATURES >> 8;
    return best > INT32_MAX ? INT32_MAX : (int32_t)best;
}
