/* vib_features.h — fixed-point vibration features of one accelerometer window (integer only, no FPU: the same
 * results on the Cortex-M3, the M4F and the host). sim/features/vibration.py is the bit-exact Python reference;
 * tests/apps/test_vibration.py compiles this file for the host and compares the two.
 *
 * Input: VIB_WINDOW samples of 3 axes, the LIS2DW12's bus words (int16, 14-bit code << 2), sample-major as read.
 * Output: VIB_FEATURES Q16.16 values (log2 domain), see vib_features() for the list. */
#ifndef VIB_FEATURES_H
#define VIB_FEATURES_H
#include <stdint.h>

#define VIB_LOG2N 9u
#define VIB_WINDOW (1u << VIB_LOG2N) /* 512 samples: 320 ms at 1600 Hz, 3.125 Hz per FFT bin */
#define VIB_AXES 3u
#define VIB_BINS (VIB_WINDOW / 2u + 1u)
#define VIB_BANDS 16u
#define VIB_FEATURES (VIB_BANDS + 4u)

/* Feature indices after the VIB_BANDS log band energies. */
#define VIB_F_PEAK (VIB_BANDS + 0u)     /* log2 energy of the strongest low-frequency line (3 bins), 12.5-112 Hz */
#define VIB_F_TOTAL (VIB_BANDS + 1u)    /* log2 AC energy, 12.5-800 Hz */
#define VIB_F_KURTOSIS (VIB_BANDS + 2u) /* log2 kurtosis of the AC samples, pooled over the axes */
#define VIB_F_CREST (VIB_BANDS + 3u)    /* log2 (peak^2 / mean square) of the AC samples */

/* Scratch the caller owns (about 8.3 KB): keeps the feature code free of static state. */
typedef struct {
    int32_t work[2u * VIB_WINDOW];
    uint64_t power[VIB_BINS];
    uint64_t sum[VIB_BINS];
    int16_t frame[VIB_WINDOW];
} vib_scratch_t;

/* Per-axis extremes of a window, for the plausibility checks (stuck, saturated/clipped). */
typedef struct {
    int16_t min[VIB_AXES], max[VIB_AXES];
    uint16_t at_min[VIB_AXES], at_max[VIB_AXES]; /* samples equal to the extreme */
    uint16_t run[VIB_AXES];                      /* longest run of identical consecutive samples */
} vib_stats_t;

/* First bin of each band (band b covers [vib_band_edges[b], vib_band_edges[b+1])); the last edge is VIB_BINS. */
extern const uint16_t vib_band_edges[VIB_BANDS + 1u];

void vib_window_stats(const int16_t *window, vib_stats_t *stats);
/* Features of one window (window[i * 3 + axis]). Returns 0, -1 if the DSP refused the frame length. */
int vib_features(const int16_t *window, vib_scratch_t *scratch, int32_t *features);
/* Normalise and quantise to the model's int8 input: q = clamp(zp + ((f - offset) * mult + 2^23) >> 24). */
void vib_quantize(const int32_t *features, const int32_t *offset, const int32_t *mult, int32_t zero_point, int8_t *q);
/* Anomaly score: the smallest over the classes of sum_i (q_i - centre_ci)^2 * weight_ci, divided by VIB_FEATURES and
 * by 2^8 (weights carry 16 fractional bits, so the score is a mean squared z-distance in Q8). */
int32_t vib_anomaly_score(const int8_t *q, uint32_t classes, const int8_t *centre, const uint16_t *weight);

#endif
