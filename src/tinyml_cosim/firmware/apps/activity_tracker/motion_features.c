/* Fixed-point preprocessing and plausibility statistics (see motion_features.h). Python twin: sim/features/motion.py;
 * any change here must be made there too (tests/apps/test_motion.py checks them bit for bit). */
#include "motion_features.h"

/* floor(sqrt(v)), bit by bit: exact for every 64-bit value, no division. */
uint32_t mf_isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)r;
}

/* a / b rounded half away from zero (b > 0); C's `/` truncates towards zero, so work on the magnitude. */
static int64_t div_round(int64_t a, int64_t b) { return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b); }

/* Arithmetic right shift with rounding half up, written with a division by a power of two on a non-negative
 * value so that it does not rely on the implementation-defined >> of negative numbers. */
static int64_t shift_round(int64_t a, uint32_t s)
{
    int64_t half = (int64_t)1 << (s - 1u), one = (int64_t)1 << s;
    if (a >= 0) return (a + half) / one;
    return -((-a - half + one - 1) / one); /* floor((a + half) / one) for a < 0 */
}

static int8_t sat8(int64_t v) { return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v); }

void mf_gravity(const int16_t *xyz, uint32_t n, mf_gravity_t *g)
{
    int32_t sum[3] = {0, 0, 0};
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < MF_AXES; a++) sum[a] += xyz[i * MF_AXES + a];
    uint64_t mag2 = 0;
    for (uint32_t a = 0; a < MF_AXES; a++) {
        g->mean[a] = n ? (int32_t)div_round(sum[a], n) : 0;
        mag2 += (uint64_t)((int64_t)g->mean[a] * g->mean[a]);
    }
    g->gmag = (int32_t)mf_isqrt64(mag2);
    for (uint32_t a = 0; a < MF_AXES; a++)
        g->ghat[a] = g->gmag ? (int32_t)div_round((int64_t)g->mean[a] * (1 << MF_GHAT_BITS), g->gmag)
                             : (a == 2u ? (1 << MF_GHAT_BITS) : 0);
}

void mf_features(const int16_t *xyz, uint32_t n, uint32_t out_shift, int8_t *out, mf_gravity_t *g)
{
    mf_gravity(xyz, n, g);
    for (uint32_t i = 0; i < n; i++) {
        int64_t dot = 0, e2 = 0;
        for (uint32_t a = 0; a < MF_AXES; a++) {
            int64_t d = (int64_t)xyz[i * MF_AXES + a] - g->mean[a];
            dot += d * g->ghat[a];
            e2 += d * d;
        }
        int64_t v = shift_round(dot, MF_GHAT_BITS);
        int64_t h2 = e2 - v * v; /* ghat is not exactly a unit vector: never below 0 */
        int64_t h = h2 > 0 ? (int64_t)mf_isqrt64((uint64_t)h2) : 0;
        out[i * MF_CHANNELS + 0] = sat8(shift_round(v, out_shift));
        out[i * MF_CHANNELS + 1] = sat8(shift_round(h, out_shift));
    }
}

/* How many samples of axis `a` sit flat at its extreme `e`: samples within `tol` codes of e, counted only in runs of at
 * least MF_PLATEAU_RUN consecutive ones (100 ms at 52 Hz). An analogue stage that clips holds its rail for as long
 * as the motion exceeds it; the rounded peak of real motion leaves the band sooner (the slowest, a 1.5 Hz step
 * of 0.5 g, spends at most ~4 samples within 16 mg of its top: measured max 9 per second over the training set). */
static uint32_t plateau_at(const int16_t *xyz, uint32_t n, uint32_t a, int32_t e, int32_t tol)
{
    uint32_t total = 0, run = 0;
    for (uint32_t i = 0; i <= n; i++) {
        int32_t d = i < n ? xyz[i * MF_AXES + a] - e : tol + 1;
        if (d <= tol && d >= -tol) {
            run++;
        } else {
            if (run >= MF_PLATEAU_RUN) total += run;
            run = 0;
        }
    }
    return total;
}

void mf_fault_stats(const int16_t *xyz, uint32_t n, int32_t one_g, mf_fault_stats_t *st)
{
    st->stuck_run = 0;
    st->rail_samples = 0;
    st->plateau = 0;
    uint32_t run[3] = {1, 1, 1};
    int32_t lo[3] = {32767, 32767, 32767}, hi[3] = {-32768, -32768, -32768};
    for (uint32_t i = 0; i < n; i++) {
        int rail = 0;
        for (uint32_t a = 0; a < MF_AXES; a++) {
            int32_t x = xyz[i * MF_AXES + a];
            if (i > 0) run[a] = x == xyz[(i - 1u) * MF_AXES + a] ? run[a] + 1u : 1u;
            if (run[a] > st->stuck_run) st->stuck_run = run[a];
            if (x >= MF_RAIL_CODE || x <= -MF_RAIL_CODE) rail = 1;
            if (x < lo[a]) lo[a] = x;
            if (x > hi[a]) hi[a] = x;
        }
        st->rail_samples += (uint32_t)rail;
    }
    if (!n) return;
    /* An axis that moves by at least 0.5 g in the span and sits flat (within 16 mg) at its top or bottom. */
    int32_t tol = one_g >> 6, moving = one_g >> 1;
    for (uint32_t a = 0; a < MF_AXES; a++) {
        if (hi[a] - lo[a] < moving) continue;
        uint32_t p = plateau_at(xyz, n, a, hi[a], tol), q = plateau_at(xyz, n, a, lo[a], tol);
        if (p < q) p = q;
        if (st->plateau < p) st->plateau = p;
    }
}

uint32_t mf_fault_flags(const mf_fault_stats_t *st, const mf_gravity_t *g, int32_t one_g)
{
    uint32_t f = 0;
    if (st->stuck_run >= MF_STUCK_RUN) f |= MF_FAULT_STUCK;
    if (st->rail_samples >= MF_RAIL_SAMPLES || st->plateau >= MF_PLATEAU_SAMPLES) f |= MF_FAULT_SATURATED;
    /* Worn on a body, the mean over a window is gravity: 1 g, give or take drift and a lopsided motion. */
    if (g->gmag < one_g / 2 || g->gmag > one_g + one_g / 2) f |= MF_FAULT_GRAVITY;
    return f;
}
