/* motion_features.h — fixed-point preprocessing of a 3-axis accelerometer window for activity recognition, and the
 * plausibility statistics behind the sensor_fault state. Integer arithmetic only (no float), C99, no state: the same
 * file is compiled for the MCU and, by the host tests, for x86-64 against the Python reference sim/features/motion.py
 * (bit-exact) and its float reference (error bounds).
 *
 * Features (mf_features): gravity is the window mean; every sample's dynamic part d = x - mean is split into the
 * component along gravity (v, signed) and the magnitude of the rest (h = sqrt(|d|^2 - v^2)). Both are independent of
 * how the device is mounted (any rotation moves gravity and motion together), which is what lets a model trained on
 * one mounting work on another. They leave as int8 in units of 2^out_shift codes (1/32 g at +-4 g and shift 8):
 * the model's input, with scale 1 and zero point 0. */
#ifndef MOTION_FEATURES_H
#define MOTION_FEATURES_H

#include <stdint.h>

#define MF_AXES 3u
#define MF_CHANNELS 2u  /* v, h per sample */
#define MF_GHAT_BITS 14 /* gravity direction in Q14 */

/* COSIM_MF_CDEF_BEGIN (the host tests hand everything up to the END marker to cffi) */
typedef struct {
    int32_t mean[3]; /* per-axis window mean, codes (rounded half away from zero) */
    int32_t gmag;    /* |mean|, codes (floor of the square root) */
    int32_t ghat[3]; /* mean / |mean| in Q14 (rounded); (0, 0, 1) when |mean| is 0 */
} mf_gravity_t;

typedef struct {
    uint32_t stuck_run;    /* longest run of consecutive samples that repeat the previous code, any one axis */
    uint32_t rail_samples; /* samples with an axis at the converter's rails (|code| >= MF_RAIL_CODE) */
    uint32_t plateau;      /* most samples of one axis sitting flat at its top or bottom (see the .c) */
} mf_fault_stats_t;

uint32_t mf_isqrt64(uint64_t v);
void mf_gravity(const int16_t *xyz, uint32_t n, mf_gravity_t *g);
void mf_features(const int16_t *xyz, uint32_t n, uint32_t out_shift, int8_t *out, mf_gravity_t *g);
void mf_fault_stats(const int16_t *xyz, uint32_t n, int32_t one_g, mf_fault_stats_t *st);
uint32_t mf_fault_flags(const mf_fault_stats_t *st, const mf_gravity_t *g, int32_t one_g);
/* COSIM_MF_CDEF_END */

#define MF_RAIL_CODE 32760
#define MF_STUCK_RUN 16u /* 0.31 s at 52 Hz: intrinsic noise (~3 codes rms at +-4 g) never repeats this long */
#define MF_RAIL_SAMPLES 3u
#define MF_PLATEAU_SAMPLES 12u /* flat samples at an extreme per FAULT_SPAN: clipping (18+ when deep) */
#define MF_PLATEAU_RUN 5u      /* ... in runs this long: a clipped extreme holds, a rounded peak does not */

#define MF_FAULT_STUCK 1u
#define MF_FAULT_SATURATED 2u
#define MF_FAULT_MISSING 4u /* set by the acquisition, not here */
#define MF_FAULT_GRAVITY 8u

#endif
