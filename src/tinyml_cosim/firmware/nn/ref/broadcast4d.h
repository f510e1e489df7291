/* The 4-D broadcast walk of the two-input element-wise kernels (SUB, SQUARED_DIFFERENCE, DIV, MAXIMUM, MINIMUM,
 * PRELU): every output element in order, with the element of each input it reads. The strides are element strides
 * per output dimension, 0 where that input is broadcast (nn/ops/sub.py broadcast_strides). ONE(a, b) is the kernel's
 * arithmetic on one pair of int32 values, giving the int8 output. A macro rather than a function taking a callback,
 * so that the per-element arithmetic stays inlined in each kernel's loop. */
#ifndef COSIM_NN_REF_BROADCAST4D_H
#define COSIM_NN_REF_BROADCAST4D_H

#include <stddef.h>
#include <stdint.h>

#define COSIM_BROADCAST_4D(shape, s1, s2, in1, in2, out, ONE)                                                          \
    do {                                                                                                               \
        int32_t i0_, i1_, i2_, i3_;                                                                                    \
        size_t o_ = 0;                                                                                                 \
        for (i0_ = 0; i0_ < (shape)[0]; ++i0_) {                                                                       \
            for (i1_ = 0; i1_ < (shape)[1]; ++i1_) {                                                                   \
                for (i2_ = 0; i2_ < (shape)[2]; ++i2_) {                                                               \
                    const size_t a_base_ =                                                                             \
                        (size_t)i0_ * (size_t)(s1)[0] + (size_t)i1_ * (size_t)(s1)[1] + (size_t)i2_ * (size_t)(s1)[2]; \
                    const size_t b_base_ =                                                                             \
                        (size_t)i0_ * (size_t)(s2)[0] + (size_t)i1_ * (size_t)(s2)[1] + (size_t)i2_ * (size_t)(s2)[2]; \
                    for (i3_ = 0; i3_ < (shape)[3]; ++i3_) {                                                           \
                        const int32_t a_ = (in1)[a_base_ + (size_t)i3_ * (size_t)(s1)[3]];                             \
                        const int32_t b_ = (in2)[b_base_ + (size_t)i3_ * (size_t)(s2)[3]];                             \
                        (out)[o_++] = (int8_t)ONE(a_, b_);                                                             \
                    }                                                                                                  \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

#endif
