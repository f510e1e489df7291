/* Demo: a fixed int8 workload — one fully connected layer (256 -> 64, int8 weights, int32 bias, per-tensor
 * requantization with TFLM's double rounding) run 8 times over a deterministic input — reported as spans, so the
 * host can show the instruction count of each inference. */
#include <stdint.h>

#include "cosim.h"

#define IN 256
#define OUT 64
#define RUNS 8

static int8_t weights[OUT][IN];
static int32_t bias[OUT];
static int8_t input[IN];
static int8_t output[OUT];

/* gemmlowp SaturatingRoundingDoublingHighMul + RoundingDivideByPOT, as TFLM's MultiplyByQuantizedMultiplier */
static int32_t srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / (1ll << 31));
}
static int32_t rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1ll << exponent) - 1), remainder = x & mask, threshold = (mask >> 1) + (x < 0);
    return (x >> exponent) + (remainder > threshold);
}
static int32_t requantize(int32_t acc, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    return rdbpot(srdhm(acc * (1 << left), multiplier), right);
}

static void fully_connected(const int8_t *in, int8_t *out)
{
    const int32_t in_zp = -3, out_zp = 5, multiplier = 1518500250; /* 0.7071 */
    const int shift = -8;
    for (int o = 0; o < OUT; o++) {
        int32_t acc = bias[o];
        for (int i = 0; i < IN; i++) acc += (in[i] - in_zp) * weights[o][i];
        int32_t v = requantize(acc, multiplier, shift) + out_zp;
        out[o] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
}

int main(void)
{
    uint32_t x = 12345u; /* xorshift: the same weights on every run and every engine */
    for (int o = 0; o < OUT; o++) {
        for (int i = 0; i < IN; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            weights[o][i] = (int8_t)(x >> 24);
        }
        bias[o] = (int32_t)(x & 0x3FFu) - 512;
    }
    uint32_t checksum = 0;
    for (int r = 0; r < RUNS; r++) {
        for (int i = 0; i < IN; i++) input[i] = (int8_t)((i * 7 + r * 13) & 0xFF);
        cosim_span_begin("inference");
        fully_connected(input, output);
        cosim_span_end();
        for (int o = 0; o < OUT; o++) checksum = checksum * 31u + (uint8_t)output[o];
    }
    cosim_puts("demo: 8 inferences of a 256x64 int8 fully connected layer, checksum 0x");
    cosim_put_hex32(checksum);
    cosim_puts("\n");
    cosim_mark("checksum", (int32_t)checksum);
    return 0;
}
