/* CUSTOM:SignalFilterBankLog (TFLM's Signal library): out = min(Log32(in << input_correction_bits, output_scale),
 * 32767) where the shifted value is above 1, else 0; Log32 is TFLM's fixed-point natural log (uint32 arithmetic). */
#ifndef COSIM_NN_OPS_SIGNAL_FILTER_BANK_LOG_H
#define COSIM_NN_OPS_SIGNAL_FILTER_BANK_LOG_H
#include <stdint.h>

typedef struct {
    int32_t channels;
    int32_t input_correction_bits; /* 0..31 */
    int32_t output_scale;          /* used as uint32 */
} cosim_signal_filter_bank_log_t;

void cosim_signal_filter_bank_log(const cosim_signal_filter_bank_log_t *p, const uint32_t *in, int16_t *out);

#endif
