/* Data movement of 32-bit integer tensors (int32 / uint32, the bits copied): STRIDED_SLICE's walk (the output box
 * over five dimensions, signed element steps from a first element) and CONCATENATION of 1..6 inputs (per outer
 * step, each input's run of elements in turn). CAST with uint32 is the CAST kernel (ops/cast.h). */
#ifndef COSIM_NN_OPS_INT32_DATA_H
#define COSIM_NN_OPS_INT32_DATA_H
#include <stdint.h>

typedef struct {
    int32_t out_shape[5];
    int32_t steps[5];
    int32_t offset;
} cosim_strided_slice_s32_t;

typedef struct {
    int32_t outer;
    int32_t count;
    int32_t sizes[6];
} cosim_concat_s32_t;

void cosim_strided_slice_s32(const cosim_strided_slice_s32_t *p, const void *in, void *out);
void cosim_concat_s32_1(const cosim_concat_s32_t *p, const void *a, void *out);
void cosim_concat_s32_2(const cosim_concat_s32_t *p, const void *a, const void *b, void *out);
void cosim_concat_s32_3(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, void *out);
void cosim_concat_s32_4(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, const void *d,
                        void *out);
void cosim_concat_s32_5(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, const void *d,
                        const void *e, void *out);
void cosim_concat_s32_6(const cosim_concat_s32_t *p, const void *a, const void *b, const void *c, const void *d,
                        const void *e, const void *f, void *out);

#endif
