/* LOGISTIC and TANH int16 (the 16x8 path), as TFLM's reference integer Logistic / Tanh for int16: the input times
 * an integer multiplier, rounded right by a shift, into the sigmoid table's interpolation (ref/sigmoid16.h). The
 * power-of-two input scales TFLM special-cases arrive here already as multiplier 3 << shift, shift 0. */
#ifndef COSIM_NN_OPS_ACTIVATIONS_16_H
#define COSIM_NN_OPS_ACTIVATIONS_16_H
#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t input_multiplier; /* at most 32767 */
    int32_t input_left_shift; /* TFLM's name: a right shift, 0..31 */
} cosim_sigmoid_16_t;

void cosim_logistic_16(const cosim_sigmoid_16_t *p, const int16_t *in, int16_t *out);
void cosim_tanh_16(const cosim_sigmoid_16_t *p, const int16_t *in, int16_t *out);

#endif
