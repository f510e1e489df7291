/* TFLM's int16 logistic and tanh: linear interpolation in a 256-entry table of sigmoid(i / 24) in unsigned Q0.16
 * (TFLM's sigmoid_table_uint16: data, as neither a formula nor its rounding reproduces every entry), shared by the
 * LSTM's gates and the int16 LOGISTIC / TANH kernels. Inputs are already scaled: 3 x Q3.12 for the logistic (9
 * fraction bits per table step), the tanh's rescaled value (8 fraction bits per step). Outputs are Q0.15. */
#ifndef COSIM_NN_REF_SIGMOID16_H
#define COSIM_NN_REF_SIGMOID16_H
#include <stdint.h>

int16_t cosim_sigmoid16_lut(int32_t v);
int16_t cosim_tanh16_lut(int32_t v);

#endif
