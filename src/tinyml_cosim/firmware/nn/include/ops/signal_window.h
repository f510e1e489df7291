/* CUSTOM:SignalWindow (TFLM's Signal library): out = saturate_int16((in * weights) >> shift), the window repeated
 * over each run of window_size inputs. */
#ifndef COSIM_NN_OPS_SIGNAL_WINDOW_H
#define COSIM_NN_OPS_SIGNAL_WINDOW_H
#include <stdint.h>

typedef struct {
    int32_t size; /* input elements, a multiple of window_size */
    int32_t window_size;
    int32_t shift; /* 0..31 */
    const int16_t *weights;
} cosim_signal_window_t;

void cosim_signal_window(const cosim_signal_window_t *p, const int16_t *in, int16_t *out);

#endif
