/* UNIDIRECTIONAL_SEQUENCE_LSTM 16x8 (int16 input, hidden state and output, int8 weights, int16 cell state, int64
 * biases), as tflite-micro's reference kernel (EvalLstm<int16_t, int8_t, int16_t, int64_t>): the standard LSTM.
 * Gate g (0 input, 1 forget, 2 cell, 3 output) is sat16(FC(x) + bias) + sat16(FC(h)) at 2^-12, each FC an int64
 * accumulator requantized by the 64-bit MultiplyByQuantizedMultiplier; the gates, the cell update and tanh(c) x o are
 * the int8 LSTM's (ops/lstm.h), the hidden state requantized to int16. Multipliers come from nn/ops/lstm_16x8.py. */
#ifndef COSIM_NN_OPS_LSTM_16X8_H
#define COSIM_NN_OPS_LSTM_16X8_H
#include <stdint.h>

typedef struct {
    int32_t time_major; /* 1: input [time, batch, n_input], all batch rows per step; 0: [batch, time, n_input] */
    int32_t batch, time_steps, n_input, n_cell;
    int32_t input_offset;                                       /* -(input zero point) */
    int32_t hidden_offset;                                      /* -(hidden state zero point) */
    int32_t in_w_offset[4];                                     /* -(weights zero point), input FC of each gate */
    int32_t rec_w_offset[4];                                    /* recurrent FC of each gate */
    int32_t in_mult[4], in_shift[4], rec_mult[4], rec_shift[4]; /* shifts <= 14 (the 64-bit requantization) */
    int32_t forget_mult, forget_shift;                          /* f x c -> c */
    int32_t input_mult, input_shift;                            /* i x g -> c */
    int32_t hidden_mult, hidden_shift;                          /* tanh(c) x o -> h */
    int32_t hidden_zp;
    int32_t cell_clip;                                     /* |c| bound after the update; 0: none */
    int32_t tanh_mult, tanh_rshift;                        /* tanh(c) reads (c * tanh_mult + round) >> tanh_rshift */
    const int8_t *input_to_input_w, *recurrent_to_input_w; /* [n_cell][n_input], [n_cell][n_cell] */
    const int8_t *input_to_forget_w, *recurrent_to_forget_w;
    const int8_t *input_to_cell_w, *recurrent_to_cell_w;
    const int8_t *input_to_output_w, *recurrent_to_output_w;
    const int64_t *input_gate_bias, *forget_gate_bias, *cell_gate_bias, *output_gate_bias; /* [n_cell] */
} cosim_lstm_16x8_t;

/* The whole sequence: `out` gets every step's hidden state; `hidden_state` and `cell_state` (the variable
 * tensors, [batch][n_cell]) are read and left at the last step's. `scratch`: 4 x rows x n_cell int16 (rows: batch
 * when time-major, else 1). */
void cosim_lstm_16x8(const cosim_lstm_16x8_t *p, const int16_t *in, int16_t *hidden_state, int16_t *cell_state,
                     int16_t *out, void *scratch);

#endif
