/* CUSTOM:SignalEnergy (TFLM's Signal library): out[i] = re[i]^2 + im[i]^2 for start_index <= i < end_index of a
 * complex int16 spectrum, 0 elsewhere (TFLM leaves those bins unwritten). */
#ifndef COSIM_NN_OPS_SIGNAL_ENERGY_H
#define COSIM_NN_OPS_SIGNAL_ENERGY_H
#include <stdint.h>

typedef struct {
    int32_t bins;
    int32_t start_index, end_index;
} cosim_signal_energy_t;

void cosim_signal_energy(const cosim_signal_energy_t *p, const int16_t *in, uint32_t *out);

#endif
