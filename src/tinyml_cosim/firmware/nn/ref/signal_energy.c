/* CUSTOM:SignalEnergy, as TFLM's Signal library computes it. */
#include "ops/signal_energy.h"

void cosim_signal_energy(const cosim_signal_energy_t *p, const int16_t *in, uint32_t *out)
{
    int32_t i;
    for (i = 0; i < p->bins; ++i) {
        if (i < p->start_index || i >= p->end_index) {
            out[i] = 0;
        } else {
            const int32_t re = in[2 * i], im = in[2 * i + 1];
            /* each square <= 2^30; summed unsigned, as TFLM's int32 sum wraps at (-32768, -32768) */
            out[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
        }
    }
}
