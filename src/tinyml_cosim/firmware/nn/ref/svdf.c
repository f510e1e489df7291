/* SVDF int8 with int8 or int16 state: TFLM's reference integer arithmetic. The sums wrap as int32 (through
 * uint32_t); a requantized feature is clamped to the state type before its zero point is added, and the store then
 * wraps to the state type, as TFLM's does (gcc converts out-of-range values modulo 2^N). No scratch: the `rank`
 * filters of one unit are consecutive, so each unit's sum is kept in a register. */
#include <string.h>

#include "ops/svdf.h"

#include "fixedpoint.h"

/* The newest state value of one filter row: feature matmul, requantized and clamped to the state type. */
static int32_t svdf_feature(const cosim_svdf_t *p, const int8_t *x, const int8_t *w)
{
    uint32_t acc = 0;
    int32_t c;
    for (c = 0; c < p->input_size; c++) {
        acc += (uint32_t)((int32_t)w[c] * ((int32_t)x[c] - p->input_zp));
    }
    return cosim_clamp(cosim_mbqm((int32_t)acc, p->feature_mult, p->feature_shift), p->state_min, p->state_max) +
           p->state_zp;
}

static int8_t svdf_output(const cosim_svdf_t *p, int32_t acc)
{
    return (int8_t)cosim_clamp(cosim_add_wrap(cosim_mbqm(acc, p->time_mult, p->time_shift), p->output_zp), -128, 127);
}

/* One body for both state types: T the state (and weights_time) element type, WT the weights_time pointer. */
#define COSIM_SVDF_BODY(T, WT)                                                                                  \
    do {                                                                                                        \
        T *const st = (T *)state;                                                                               \
        int32_t b, u, r, j;                                                                                     \
        const int32_t units = p->num_filters / p->rank;                                                         \
        for (b = 0; b < p->batch; b++) {                                                                        \
            const int8_t *x = in + b * p->input_size;                                                           \
            for (u = 0; u < units; u++) {                                                                       \
                uint32_t acc = (uint32_t)p->bias[u];                                                            \
                for (r = 0; r < p->rank; r++) {                                                                 \
                    const int32_t f = u * p->rank + r;                                                          \
                    T *row = st + ((int32_t)b * p->num_filters + f) * p->memory;                                \
                    const T *wt = (WT) + f * p->memory;                                                         \
                    memmove(row, row + 1, (size_t)(p->memory - 1) * sizeof(T));                                 \
                    row[p->memory - 1] = (T)svdf_feature(p, x, p->weights_feature + f * p->input_size);         \
                    for (j = 0; j < p->memory; j++) {                                                           \
                        /* int16 weights x a 17-bit difference can pass 2^31: multiply as uint32_t, it wraps */ \
                        acc += (uint32_t)(int32_t)wt[j] * (uint32_t)((int32_t)row[j] - p->state_zp);            \
                    }                                                                                           \
                }                                                                                               \
                out[b * units + u] = svdf_output(p, (int32_t)acc);                                              \
            }                                                                                                   \
        }                                                                                                       \
    } while (0)

void cosim_svdf_s8(const cosim_svdf_t *p, const int8_t *in, void *state, int8_t *out, void *scratch)
{
    (void)scratch; /* planned for the CMSIS-NN adapter; the sums here stay in registers */
    if (p->state_bits == 8) {
        COSIM_SVDF_BODY(int8_t, p->weights_time_s8);
    } else {
        COSIM_SVDF_BODY(int16_t, p->weights_time_s16);
    }
}
