/* UNIDIRECTIONAL_SEQUENCE_LSTM 16x8, the arithmetic of tflite-micro's reference kernel (integer only). One step: the
 * four gates into scratch (int16, Q0.15), then the cell update in place and the new hidden state into this step's
 * output rows, copied back to the hidden state once every gate of the step has read the old one (TFLM computes the
 * output gate after the cell update, but from the old hidden state too: the same values). */
#include "ops/lstm_16x8.h"

#include <string.h>

#include "fixedpoint.h"
#include "ops/conv_16x8.h"
#include "sigmoid16.h"

static int32_t sat16(int32_t v) { return cosim_clamp(v, -32768, 32767); }

/* int16 tanh: tanh(x) = 2 sigmoid(2x) - 1 off the shared table, the input rescaled to 3 x Q3.12 first */
static int16_t tanh16(int32_t x, int32_t mult, int32_t rshift)
{
    const int32_t round = rshift > 0 ? (int32_t)1 << (rshift - 1) : 0;
    return cosim_tanh16_lut((x * mult + round) >> rshift);
}

/* Output j of one int16 FC row into int16 at 2^-12: the exact sum of (w + w_off) (x + x_off) (each product below
 * 2^24, as TFLM's int32 one) in int64, the int64 bias (NULL: none) and the 64-bit requantization of
 * cosim_requant_16x8, saturated to int16. */
static int32_t fc16(const int16_t *x, int32_t x_off, const int8_t *w, int32_t w_off, int32_t n, const int64_t *bias,
                    int32_t j, int32_t mult, int32_t shift)
{
    int64_t sum = 0;
    int32_t k;
    for (k = 0; k < n; ++k) sum += ((int32_t)w[k] + w_off) * ((int32_t)x[k] + x_off);
    return sat16(cosim_requant_16x8(sum, bias, NULL, 0, j, mult, shift));
}

static void gate(const cosim_lstm_16x8_t *p, int g, const int16_t *x, const int16_t *h, int32_t rows, int16_t *dst)
{
    const int8_t *const in_w[4] = {p->input_to_input_w, p->input_to_forget_w, p->input_to_cell_w, p->input_to_output_w};
    const int8_t *const rec_w[4] = {p->recurrent_to_input_w, p->recurrent_to_forget_w, p->recurrent_to_cell_w,
                                    p->recurrent_to_output_w};
    const int64_t *const bias[4] = {p->input_gate_bias, p->forget_gate_bias, p->cell_gate_bias, p->output_gate_bias};
    const int32_t ni = p->n_input, nc = p->n_cell;
    int32_t r, j;
    for (r = 0; r < rows; ++r) {
        for (j = 0; j < nc; ++j) {
            const int32_t fx = fc16(x + r * ni, p->input_offset, in_w[g] + j * ni, p->in_w_offset[g], ni, bias[g], j,
                                    p->in_mult[g], p->in_shift[g]);
            const int32_t fh = fc16(h + r * nc, p->hidden_offset, rec_w[g] + j * nc, p->rec_w_offset[g], nc, NULL, j,
                                    p->rec_mult[g], p->rec_shift[g]);
            const int32_t pre = sat16(fx + fh);
            /* Q3.12 times 3, the table's scale: the logistic, or the cell gate's tanh (scale power -12: no shift) */
            dst[r * nc + j] = g == 2 ? cosim_tanh16_lut(pre * 3) : cosim_sigmoid16_lut(pre * 3);
        }
    }
}

/* One time step over `rows` batch rows: x [rows][n_input], h and c [rows][n_cell], y [rows][n_cell]. */
static void step(const cosim_lstm_16x8_t *p, const int16_t *x, int16_t *h, int16_t *c, int16_t *y, int32_t rows,
                 int16_t *buf)
{
    const int32_t n = rows * p->n_cell;
    int16_t *const ig = buf, *const fg = buf + n, *const cg = buf + 2 * n, *const og = buf + 3 * n;
    int32_t k;
    gate(p, 0, x, h, rows, ig);
    gate(p, 1, x, h, rows, fg);
    gate(p, 2, x, h, rows, cg);
    gate(p, 3, x, h, rows, og);
    for (k = 0; k < n; ++k) {
        const int32_t fc = sat16(cosim_mbqm((int32_t)fg[k] * c[k], p->forget_mult, p->forget_shift));
        const int32_t ic = sat16(cosim_mbqm((int32_t)ig[k] * cg[k], p->input_mult, p->input_shift));
        int32_t cell = sat16(fc + ic);
        int32_t t;
        if (p->cell_clip > 0) cell = cosim_clamp(cell, -p->cell_clip, p->cell_clip);
        c[k] = (int16_t)cell;
        t = tanh16(cell, p->tanh_mult, p->tanh_rshift);
        y[k] = (int16_t)sat16(cosim_mbqm(t * og[k], p->hidden_mult, p->hidden_shift) + p->hidden_zp);
    }
    memcpy(h, y, (size_t)n * sizeof(int16_t));
}

void cosim_lstm_16x8(const cosim_lstm_16x8_t *p, const int16_t *in, int16_t *hidden_state, int16_t *cell_state,
                     int16_t *out, void *scratch)
{
    int16_t *const buf = (int16_t *)scratch;
    const int32_t ni = p->n_input, nc = p->n_cell, steps = p->time_steps;
    int32_t b, t;
    if (p->time_major) { /* step t: rows [t * batch, (t + 1) * batch) of input and output */
        for (t = 0; t < steps; ++t) {
            step(p, in + t * p->batch * ni, hidden_state, cell_state, out + t * p->batch * nc, p->batch, buf);
        }
        return;
    }
    for (b = 0; b < p->batch; ++b) { /* batch b's sequence in turn, its own state row */
        for (t = 0; t < steps; ++t) {
            const int32_t row = b * steps + t;
            step(p, in + row * ni, hidden_state + b * nc, cell_state + b * nc, out + row * nc, 1, buf);
        }
    }
}
