/* CUSTOM:SignalFilterBankLog, as TFLM's Signal library computes it (its Log32, written here from what it does). */
#include "ops/signal_filter_bank_log.h"

/* log2(1 + f) - f in 1/65536 at f = k / 128, k = 0..128, and a pad entry */
static const uint16_t log_lut[130] = {
    0,    224,  442,  654,  861,  1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
    3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001, 5063,
    5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640,
    5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203,
    5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935,
    3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971,
    1851, 1729, 1605, 1480, 1353, 1224, 1094, 963,  830,  695,  559,  421,  282,  142,  0,    0};

static uint32_t leading_bit(uint32_t x) /* 0-based position of the highest set bit, x > 0 */
{
    uint32_t n = 0;
    while (x >>= 1) {
        ++n;
    }
    return n;
}

static uint32_t log32(uint32_t x, uint32_t out_scale)
{
    const uint32_t integer = leading_bit(x);
    int32_t frac = (int32_t)(x - (UINT32_C(1) << integer)); /* < 2^31 */
    uint32_t seg, fraction, log2, loge;
    int32_t c0, c1;
    if (integer < 16) {
        frac = (int32_t)((uint32_t)frac << (16 - integer));
    } else {
        frac >>= integer - 16;
    }
    seg = (uint32_t)frac >> 9;
    c0 = log_lut[seg];
    c1 = log_lut[seg + 1];
    fraction = (uint32_t)(frac + c0 + (((c1 - c0) * (frac - (int32_t)(512 * seg))) >> 16));
    log2 = (integer << 16) + fraction;
    loge = (uint32_t)(((uint64_t)45426 * log2 + 32768) >> 16);
    return (out_scale * loge + 32768u) >> 16; /* uint32 arithmetic, wrapping as TFLM's */
}

void cosim_signal_filter_bank_log(const cosim_signal_filter_bank_log_t *p, const uint32_t *in, int16_t *out)
{
    int32_t i;
    for (i = 0; i < p->channels; ++i) {
        const uint32_t scaled = in[i] << p->input_correction_bits;
        if (scaled > 1) {
            const uint32_t v = log32(scaled, (uint32_t)p->output_scale);
            out[i] = (int16_t)(v < 32767u ? v : 32767u);
        } else {
            out[i] = 0;
        }
    }
}
