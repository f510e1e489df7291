/* CUSTOM:SignalWindow, as TFLM's Signal library computes it. */
#include "ops/signal_window.h"

void cosim_signal_window(const cosim_signal_window_t *p, const int16_t *in, int16_t *out)
{
    int32_t f, j;
    for (f = 0; f < p->size; f += p->window_size) { /* each frame: the lowering checked size % window_size == 0 */
        for (j = 0; j < p->window_size; ++j) {
            /* |in * w| <= 2^30: the int32 product cannot overflow; >> of a negative value is arithmetic (GCC) */
            const int32_t raw = ((int32_t)in[f + j] * p->weights[j]) >> p->shift;
            out[f + j] = (int16_t)(raw < INT16_MIN ? INT16_MIN : (raw > INT16_MAX ? INT16_MAX : raw));
        }
    }
}
