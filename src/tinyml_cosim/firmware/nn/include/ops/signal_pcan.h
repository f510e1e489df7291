/* CUSTOM:SignalPCAN (TFLM's Signal library): per-channel gain control of uint32 channels by their noise estimate
 * through a 125-entry int16 gain table, then PcanShrink; uint32 out. */
#ifndef COSIM_NN_OPS_SIGNAL_PCAN_H
#define COSIM_NN_OPS_SIGNAL_PCAN_H
#include <stdint.h>

typedef struct {
    int32_t num_channels;
    int32_t snr_shift; /* 0..63 */
    const int16_t *gain_lut;
} cosim_signal_pcan_t;

void cosim_signal_pcan(const cosim_signal_pcan_t *p, const uint32_t *in, const uint32_t *noise, uint32_t *out);

#endif
