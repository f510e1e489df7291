/* CUSTOM:SignalRfft int16, as TFLM's Signal library computes it through kissfft's FIXED_POINT 16 arithmetic: int32
 * products rounded back with (x + 2^14) >> 15, every complex sum stored to int16 (wrapping, as GCC converts), each
 * stage's inputs divided by its radix first. Written from the arithmetic, stage by stage. */
#include <string.h>

#include "ops/signal_rfft.h"

typedef struct {
    int16_t r, i;
} cpx16;

typedef struct {
    const cpx16 *tw;
    int32_t n; /* the complex transform's length: fft_length / 2 */
} fft_ctx;

static int16_t w16(int32_t x) { return (int16_t)(uint16_t)(uint32_t)x; }
static int16_t sround(int32_t x) { return w16((x + (1 << 14)) >> 15); }
static int16_t smul_round(int16_t a, int16_t b) { return sround((int32_t)a * b); }

static cpx16 cmul(cpx16 a, cpx16 b)
{
    cpx16 m;
    m.r = sround((int32_t)a.r * b.r - (int32_t)a.i * b.i);
    m.i = sround((int32_t)a.r * b.i + (int32_t)a.i * b.r);
    return m;
}

static cpx16 fixdiv(cpx16 c, int32_t radix)
{
    c.r = smul_round(c.r, (int16_t)(32767 / radix));
    c.i = smul_round(c.i, (int16_t)(32767 / radix));
    return c;
}

static cpx16 cadd(cpx16 a, cpx16 b)
{
    cpx16 c = {w16(a.r + b.r), w16(a.i + b.i)};
    return c;
}

static cpx16 csub(cpx16 a, cpx16 b)
{
    cpx16 c = {w16(a.r - b.r), w16(a.i - b.i)};
    return c;
}

static void bfly2(cpx16 *f, int32_t fs, const fft_ctx *c, int32_t m)
{
    int32_t k;
    for (k = 0; k < m; ++k) {
        const cpx16 a = fixdiv(f[k], 2);
        const cpx16 t = cmul(fixdiv(f[k + m], 2), c->tw[k * fs]);
        f[k + m] = csub(a, t);
        f[k] = cadd(a, t);
    }
}

static void bfly3(cpx16 *f, int32_t fs, const fft_ctx *c, int32_t m)
{
    const int16_t epi3 = c->tw[fs * m].i;
    int32_t k;
    for (k = 0; k < m; ++k) {
        const cpx16 f0 = fixdiv(f[k], 3);
        const cpx16 s1 = cmul(fixdiv(f[k + m], 3), c->tw[k * fs]);
        const cpx16 s2 = cmul(fixdiv(f[k + 2 * m], 3), c->tw[2 * k * fs]);
        const cpx16 s3 = cadd(s1, s2);
        cpx16 s0 = csub(s1, s2), m1;
        m1.r = w16(f0.r - (s3.r >> 1)); /* HALF_OF: an arithmetic shift */
        m1.i = w16(f0.i - (s3.i >> 1));
        s0.r = smul_round(s0.r, epi3);
        s0.i = smul_round(s0.i, epi3);
        f[k] = cadd(f0, s3);
        f[k + 2 * m].r = w16(m1.r + s0.i);
        f[k + 2 * m].i = w16(m1.i - s0.r);
        f[k + m].r = w16(m1.r - s0.i);
        f[k + m].i = w16(m1.i + s0.r);
    }
}

static void bfly4(cpx16 *f, int32_t fs, const fft_ctx *c, int32_t m)
{
    int32_t k;
    for (k = 0; k < m; ++k) {
        const cpx16 f0 = fixdiv(f[k], 4);
        const cpx16 s0 = cmul(fixdiv(f[k + m], 4), c->tw[k * fs]);
        const cpx16 s1 = cmul(fixdiv(f[k + 2 * m], 4), c->tw[2 * k * fs]);
        const cpx16 s2 = cmul(fixdiv(f[k + 3 * m], 4), c->tw[3 * k * fs]);
        const cpx16 s5 = csub(f0, s1), a0 = cadd(f0, s1);
        const cpx16 s3 = cadd(s0, s2), s4 = csub(s0, s2);
        f[k + 2 * m] = csub(a0, s3);
        f[k] = cadd(a0, s3);
        f[k + m].r = w16(s5.r + s4.i); /* the forward transform's rotation by -i */
        f[k + m].i = w16(s5.i - s4.r);
        f[k + 3 * m].r = w16(s5.r - s4.i);
        f[k + 3 * m].i = w16(s5.i + s4.r);
    }
}

static void bfly5(cpx16 *f, int32_t fs, const fft_ctx *c, int32_t m)
{
    const cpx16 ya = c->tw[fs * m], yb = c->tw[2 * fs * m];
    int32_t u, q;
    for (u = 0; u < m; ++u) {
        cpx16 s[5], s7, s8, s9, s10, s5, s6, s11, s12;
        for (q = 0; q < 5; ++q) {
            s[q] = fixdiv(f[u + q * m], 5);
            if (q > 0) {
                s[q] = cmul(s[q], c->tw[q * u * fs]);
            }
        }
        s7 = cadd(s[1], s[4]);
        s10 = csub(s[1], s[4]);
        s8 = cadd(s[2], s[3]);
        s9 = csub(s[2], s[3]);
        f[u].r = w16(s[0].r + (s7.r + s8.r));
        f[u].i = w16(s[0].i + (s7.i + s8.i));
        s5.r = w16(s[0].r + smul_round(s7.r, ya.r) + smul_round(s8.r, yb.r));
        s5.i = w16(s[0].i + smul_round(s7.i, ya.r) + smul_round(s8.i, yb.r));
        s6.r = w16(smul_round(s10.i, ya.i) + smul_round(s9.i, yb.i));
        s6.i = w16(-smul_round(s10.r, ya.i) - smul_round(s9.r, yb.i));
        f[u + m] = csub(s5, s6);
        f[u + 4 * m] = cadd(s5, s6);
        s11.r = w16(s[0].r + smul_round(s7.r, yb.r) + smul_round(s8.r, ya.r));
        s11.i = w16(s[0].i + smul_round(s7.i, yb.r) + smul_round(s8.i, ya.r));
        s12.r = w16(-smul_round(s10.i, yb.i) + smul_round(s9.i, ya.i));
        s12.i = w16(smul_round(s10.r, yb.i) - smul_round(s9.r, ya.i));
        f[u + 2 * m] = cadd(s11, s12);
        f[u + 3 * m] = csub(s11, s12);
    }
}

/* kissfft's decimation: p sub-transforms of length m over every p-th input, then one radix-p stage over them */
static void work(cpx16 *out, const cpx16 *in, int32_t fs, const int32_t *factors, const fft_ctx *c)
{
    const int32_t p = factors[0], m = factors[1];
    int32_t q;
    for (q = 0; q < p; ++q) {
        if (m == 1) {
            out[q] = in[q * fs];
        } else {
            work(out + q * m, in + q * fs, fs * p, factors + 2, c);
        }
    }
    switch (p) {
    case 2: bfly2(out, fs, c, m); break;
    case 3: bfly3(out, fs, c, m); break;
    case 4: bfly4(out, fs, c, m); break;
    default: bfly5(out, fs, c, m); break; /* the lowering refuses any other radix */
    }
}

/* kiss_fftr's split of the half-length transform t into bins 0 .. n of the real one */
static void split(const cpx16 *t, const cpx16 *super_tw, int32_t n, cpx16 *out)
{
    const cpx16 dc = fixdiv(t[0], 2);
    int32_t k;
    out[0].r = w16(dc.r + dc.i);
    out[0].i = 0;
    out[n].r = w16(dc.r - dc.i);
    out[n].i = 0;
    for (k = 1; k <= n / 2; ++k) {
        cpx16 fnk = t[n - k], f1, f2, tw;
        const cpx16 fk = fixdiv(t[k], 2);
        fnk.i = w16(-fnk.i);
        fnk = fixdiv(fnk, 2);
        f1 = cadd(fk, fnk);
        f2 = csub(fk, fnk);
        tw = cmul(f2, super_tw[k - 1]);
        out[k].r = w16((f1.r + tw.r) >> 1);
        out[k].i = w16((f1.i + tw.i) >> 1);
        out[n - k].r = w16((f1.r - tw.r) >> 1); /* at k = n / 2 this rewrites bin k, as kissfft does */
        out[n - k].i = w16((tw.i - f1.i) >> 1);
    }
}

void cosim_signal_rfft(const cosim_signal_rfft_t *p, const int16_t *in, int16_t *out, void *scratch)
{
    int16_t *frame = (int16_t *)scratch;
    cpx16 *half = (cpx16 *)(frame + p->fft_length);
    fft_ctx c;
    int32_t f;
    c.tw = (const cpx16 *)p->twiddles;
    c.n = p->fft_length / 2;
    for (f = 0; f < p->frames; ++f) {
        memcpy(frame, in + f * p->input_length, sizeof(int16_t) * (uint32_t)p->input_length);
        memset(frame + p->input_length, 0, sizeof(int16_t) * (uint32_t)(p->fft_length - p->input_length));
        work(half, (const cpx16 *)frame, 1, p->factors, &c);
        split(half, (const cpx16 *)p->super_twiddles, c.n, (cpx16 *)(out + 2 * f * p->output_length));
    }
}
