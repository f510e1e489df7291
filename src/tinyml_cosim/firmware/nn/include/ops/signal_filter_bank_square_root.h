/* CUSTOM:SignalFilterBankSquareRoot (TFLM's Signal library): out = Sqrt64(in) >> *scale_bits, Sqrt64 TFLM's rounded
 * bit-by-bit integer root (16-bit when the upper word is clear); 0 when *scale_bits is outside 0..31. */
#ifndef COSIM_NN_OPS_SIGNAL_FILTER_BANK_SQUARE_ROOT_H
#define COSIM_NN_OPS_SIGNAL_FILTER_BANK_SQUARE_ROOT_H
#include <stdint.h>

typedef struct {
    int32_t channels;
} cosim_signal_filter_bank_square_root_t;

void cosim_signal_filter_bank_square_root(const cosim_signal_filter_bank_square_root_t *p, const uint64_t *in,
                                          const int32_t *scale_bits, uint32_t *out);

#endif
