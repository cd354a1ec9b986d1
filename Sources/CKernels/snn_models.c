/* Neuron model updates of the spiking engine. Each update advances neurons [lo, hi) from t_n to
 * t_{n+1}: it consumes ring-buffer slot n (inputs arriving at t_n), integrates, and detects spikes.
 * Loops are written in two passes (a branch-free vectorizable update that sets spike flags, then a scan
 * of the flags) so that clang vectorizes the first. Equations, units and methods: see nm_snn.h and
 * README's model table. */
#include "snn_internal.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Floating-point contraction is off in this file: the only fused multiply-adds are explicit fmaf /
 * _mm512_fmadd_ps calls, so a vector body and its scalar tail compute bit-identical values and results
 * never depend on how a thread's range splits into vectors. */
#pragma clang fp contract(off)

/* exp(x) in float, Cephes-style range reduction + degree-6 polynomial; branch-free so that loops calling
 * it vectorize. Max relative error ~2e-7 on [-87, 88]; outside it clamps. */
static inline float fast_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float fx = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    union { int32_t i; float f; } u;
    u.i = ((int32_t)fx + 127) << 23;
    return y * u.f;
}
float nm_expf(float x) { return fast_expf(x); }

/* Collects the indices whose flag is set (flags are 0 or 1). Spikes are rare in most networks, so whole
 * 8-byte words of zeros are skipped; within a non-zero word the compaction is branch-free. */
static inline int64_t scan_flags(const uint8_t *flags, int32_t lo, int32_t hi, int32_t *out) {
    int64_t c = 0;
    int32_t n = hi - lo, k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, flags + k, 8);
        if (!w) continue;
        for (int32_t q = k; q < k + 8; q++) { out[c] = lo + q; c += flags[q]; }
    }
    for (; k < n; k++) { out[c] = lo + k; c += flags[k]; }
    return c;
}

/* ---- IF: v += input + I*dt/C; spike if v >= v_th; reset to v_reset or by subtraction ----
 * x = fma(i_e + i_ext, dt/C, v + input), written with an explicit fma so that the vector body and the
 * scalar tail compute bit-identical values. Populations without incoming synapses (an ANN's first
 * layer driven by a current) skip the ring buffer; without a refractory period the counters are
 * skipped. With AVX-512 the spikes of 16 neurons are compressed into the output in one instruction. */
static inline int if_scalar(float *v, float *b, const float *ie, int32_t *rf, int32_t i, float vth, float vres,
                            float jump, float i0, float cs, float vmin, int subtract, int32_t tref, int use_refr) {
    int ref = use_refr && rf[i] > 0;
    float base = v[i];
    if (b) { base += b[i]; b[i] = 0.0f; }
    float x = fmaf(i0 + ie[i], cs, base);
    x = ref ? v[i] : x;
    x = x < vmin ? vmin : x;
    int sp = !ref && x >= vth;
    x = sp ? (subtract ? x - jump : vres) : x;
    if (use_refr) rf[i] = sp ? tref : (ref ? rf[i] - 1 : 0);
    v[i] = x;
    return sp;
}

#if defined(__AVX512F__)
/* The AVX-512 body of upd_if over whole 16-neuron vectors from lo; returns where it stopped. HAS_B
 * (an input buffer) and HAS_BITS (spike bits for pooling) are constants at each call site. */
static inline __attribute__((always_inline)) int32_t
if_avx512(float *restrict v, float *restrict b, const float *restrict ie, uint16_t *restrict bits, int32_t lo,
          int32_t hi, float vth, float vres, float jump, float i0, float cs, float vmin, __mmask16 sub,
          int32_t *out, int64_t *cp, const int HAS_B, const int HAS_BITS) {
    const __m512 Vth = _mm512_set1_ps(vth), Vres = _mm512_set1_ps(vres), Jump = _mm512_set1_ps(jump);
    const __m512 I0 = _mm512_set1_ps(i0), Cs = _mm512_set1_ps(cs), Vmin = _mm512_set1_ps(vmin);
    const __m512i Step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(lo), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    int64_t c = *cp;
    int32_t i = lo;
    for (; i + 16 <= hi; i += 16) {
        __m512 x = _mm512_loadu_ps(v + i);
        if (HAS_B) {
            x = _mm512_add_ps(x, _mm512_loadu_ps(b + i));
            _mm512_storeu_ps(b + i, _mm512_setzero_ps());
        }
        x = _mm512_fmadd_ps(_mm512_add_ps(I0, _mm512_loadu_ps(ie + i)), Cs, x);
        x = _mm512_max_ps(x, Vmin);   /* max(x, vmin) == (x < vmin ? vmin : x) for non-NaN x */
        __mmask16 sp = _mm512_cmp_ps_mask(x, Vth, _CMP_GE_OQ);
        /* spiking lanes: x - jump (reset by subtraction) or v_reset */
        x = _mm512_mask_blend_ps(sp, x, _mm512_mask_blend_ps(sub, Vres, _mm512_sub_ps(x, Jump)));
        _mm512_storeu_ps(v + i, x);
        /* compress in a register, then a full store (out has 16 entries of slack): a masked
         * compress-store to memory is microcoded and slow on AMD Zen 4 */
        _mm512_storeu_si512((void *)(out + c), _mm512_maskz_compress_epi32(sp, idx));
        c += __builtin_popcount((unsigned)sp);
        if (HAS_BITS) bits[i >> 4] = (uint16_t)sp;
        idx = _mm512_add_epi32(idx, Step);
    }
    *cp = c;
    return i;
}
#endif

static int64_t upd_if(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *fl, int32_t *out) {
    float *restrict v = P->var[0];
    float *restrict b = P->has_input ? P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n : NULL;
    const float *restrict ie = P->iext;
    int32_t *restrict rf = P->refr;
    const float vth = (float)P->p[0], vres = (float)P->p[1], cs = (float)P->p[3], i0 = (float)P->p[4];
    const float vmin = (float)P->p[6];
    const int subtract = P->p[2] != 0;
    const int32_t tref = (int32_t)P->p[5];
    const int use_refr = tref > 0;
    const float jump = vth - vres;
    uint16_t *restrict bits = P->spk_bits;   /* sources of same-step pooling: spiked-this-step bits */
    int64_t c = 0;
    int32_t i = lo;
#if defined(__AVX512F__)
    if (!use_refr && lo % 16 == 0) {
        /* the loop-invariant choices (input buffer, spike bits) as four separate loops */
        const __mmask16 sub = subtract ? 0xFFFF : 0;
        if (b && bits) i = if_avx512(v, b, ie, bits, lo, hi, vth, vres, jump, i0, cs, vmin, sub, out, &c, 1, 1);
        else if (b) i = if_avx512(v, b, ie, bits, lo, hi, vth, vres, jump, i0, cs, vmin, sub, out, &c, 1, 0);
        else if (bits) i = if_avx512(v, b, ie, bits, lo, hi, vth, vres, jump, i0, cs, vmin, sub, out, &c, 0, 1);
        else i = if_avx512(v, b, ie, bits, lo, hi, vth, vres, jump, i0, cs, vmin, sub, out, &c, 0, 0);
    }
#endif
    (void)fl;
    if (bits) {   /* lo is a multiple of 16 (thread ranges are multiples of 64) */
        for (int32_t j = i >> 4; j < (hi + 15) >> 4; j++) bits[j] = 0;
        for (; i < hi; i++)
            if (if_scalar(v, b, ie, rf, i, vth, vres, jump, i0, cs, vmin, subtract, tref, use_refr)) {
                out[c++] = i;
                bits[i >> 4] |= (uint16_t)(1u << (i & 15));
            }
        return c;
    }
    for (; i < hi; i++)
        if (if_scalar(v, b, ie, rf, i, vth, vres, jump, i0, cs, vmin, subtract, tref, use_refr)) out[c++] = i;
    return c;
}

/* ---- LIF, exponential current synapses, exact integration (Rotter & Diesmann 1999) ---- */
typedef struct { float el, vth, vres, p22, p11e, p11i, p21e, p21i, rs, i0; int32_t tref; } lif_params;

static inline int lif_scalar(const lif_params *c, float *v, float *xe, float *xi, float *be, float *bi,
                             const float *ie, int32_t *rf, int32_t i) {
    float ye = xe[i] + be[i], yi = xi[i] + bi[i];
    be[i] = 0.0f; bi[i] = 0.0f;
    int ref = rf[i] > 0;
    float ri = c->rs * (ie ? c->i0 + ie[i] : c->i0);
    float u = v[i] - c->el;
    float un = ((ri + (u - ri) * c->p22) + ye * c->p21e) + yi * c->p21i;
    float x = ref ? c->vres : un + c->el;
    int sp = !ref && x >= c->vth;
    x = sp ? c->vres : x;
    rf[i] = sp ? c->tref : (ref ? rf[i] - 1 : 0);
    v[i] = x;
    xe[i] = ye * c->p11e;
    xi[i] = yi * c->p11i;
    return sp;
}

static int64_t upd_lif_exp(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *fl, int32_t *out) {
    float *restrict v = P->var[0], *restrict xe = P->var[1], *restrict xi = P->var[2];
    size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *restrict be = P->buf[0] + off, *restrict bi = P->buf[1] + off;
    const float *restrict ie = P->iext_used ? P->iext : NULL;
    int32_t *restrict rf = P->refr;
    lif_params c;
    c.el = (float)P->p[0]; c.vth = (float)P->p[1]; c.vres = (float)P->p[2]; c.tref = (int32_t)P->p[3];
    c.p22 = (float)P->p[4]; c.p11e = (float)P->p[5]; c.p11i = (float)P->p[6];
    c.p21e = (float)P->p[7]; c.p21i = (float)P->p[8]; c.rs = (float)P->p[9]; c.i0 = (float)P->p[10];
    int64_t cnt = 0;
    int32_t i = lo;
    (void)fl;
#if defined(__AVX512F__)
    const __m512 EL = _mm512_set1_ps(c.el), VTH = _mm512_set1_ps(c.vth), VRES = _mm512_set1_ps(c.vres);
    const __m512 P22 = _mm512_set1_ps(c.p22), P11E = _mm512_set1_ps(c.p11e), P11I = _mm512_set1_ps(c.p11i);
    const __m512 P21E = _mm512_set1_ps(c.p21e), P21I = _mm512_set1_ps(c.p21i), RS = _mm512_set1_ps(c.rs), I0 = _mm512_set1_ps(c.i0);
    const __m512 RI0 = _mm512_mul_ps(RS, I0);
    const __m512i ZERO = _mm512_setzero_si512(), ONE = _mm512_set1_epi32(1), TREF = _mm512_set1_epi32(c.tref);
    const __m512i LANES = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= hi; i += 16) {
        __m512 ye = _mm512_add_ps(_mm512_loadu_ps(xe + i), _mm512_loadu_ps(be + i));
        __m512 yi = _mm512_add_ps(_mm512_loadu_ps(xi + i), _mm512_loadu_ps(bi + i));
        _mm512_storeu_ps(be + i, _mm512_setzero_ps());
        _mm512_storeu_ps(bi + i, _mm512_setzero_ps());
        __m512 ri = ie ? _mm512_mul_ps(RS, _mm512_add_ps(I0, _mm512_loadu_ps(ie + i))) : RI0;
        __m512 u = _mm512_sub_ps(_mm512_loadu_ps(v + i), EL);
        __m512 un = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(ri, _mm512_mul_ps(_mm512_sub_ps(u, ri), P22)), _mm512_mul_ps(ye, P21E)),
                                  _mm512_mul_ps(yi, P21I));
        __m512i r = _mm512_loadu_si512((const void *)(rf + i));
        __mmask16 ref = _mm512_cmpgt_epi32_mask(r, ZERO);
        __m512 x = _mm512_mask_blend_ps(ref, _mm512_add_ps(un, EL), VRES);
        __mmask16 sp = _mm512_mask_cmp_ps_mask((__mmask16)~ref, x, VTH, _CMP_GE_OQ);
        x = _mm512_mask_blend_ps(sp, x, VRES);
        /* counters change only where refractory or spiking: a masked store, no branch (which lanes
         * are refractory is random, and a mispredicted branch here cost a third of the update) */
        r = _mm512_mask_blend_epi32(ref, ZERO, _mm512_sub_epi32(r, ONE));
        r = _mm512_mask_blend_epi32(sp, r, TREF);
        _mm512_mask_storeu_epi32((void *)(rf + i), ref | sp, r);
        _mm512_storeu_ps(v + i, x);
        _mm512_storeu_ps(xe + i, _mm512_mul_ps(ye, P11E));
        _mm512_storeu_ps(xi + i, _mm512_mul_ps(yi, P11I));
        if (sp) {
            _mm512_storeu_si512((void *)(out + cnt), _mm512_maskz_compress_epi32(sp, _mm512_add_epi32(_mm512_set1_epi32(i), LANES)));
            cnt += __builtin_popcount((unsigned)sp);
        }
    }
#endif
    for (; i < hi; i++) if (lif_scalar(&c, v, xe, xi, be, bi, ie, rf, i)) out[cnt++] = i;
    return cnt;
}

/* ---- LIF, exponential conductances, exponential Euler ----
 * C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + I;  dg/dt = -g/tau.
 * Over a step the conductances are held at their start values: v relaxes exactly towards
 * v_inf = (g_L E_L + g_e E_e + g_i E_i + I)/g_tot with rate g_tot/C; written as
 * v += dt/C (I_tot - g_tot v) phi(a), a = dt g_tot / C, phi(a) = (1 - e^-a)/a, which stays finite as
 * g_tot -> 0. For |a| < 0.5 (g_tot < C/(2 dt): always in the benchmark networks) phi is its Taylor
 * polynomial to a^7 (relative error < 2e-8, below float resolution); otherwise the exact expression. */
static inline float phi_poly(float a) {
    float p = -1.0f / 40320.0f;
    p = fmaf(p, a, 1.0f / 5040.0f);
    p = fmaf(p, a, -1.0f / 720.0f);
    p = fmaf(p, a, 1.0f / 120.0f);
    p = fmaf(p, a, -1.0f / 24.0f);
    p = fmaf(p, a, 1.0f / 6.0f);
    p = fmaf(p, a, -0.5f);
    return fmaf(p, a, 1.0f);
}

typedef struct { float cm, gl, el, ee, ei, vth, vres, pe, pi, i0, dtc, glel; int32_t tref; } cond_params;

static inline int cond_scalar(const cond_params *c, float *v, float *ge, float *gi, float *be, float *bi,
                              const float *ie, int32_t *rf, int32_t i) {
    float g1 = ge[i] + be[i], g2 = gi[i] + bi[i];
    be[i] = 0.0f; bi[i] = 0.0f;
    int ref = rf[i] > 0;
    float gt = (c->gl + g1) + g2;
    float it = ((c->glel + g1 * c->ee) + g2 * c->ei) + (c->i0 + ie[i]);
    float a = c->dtc * gt;
    float phi = fabsf(a) < 0.5f ? phi_poly(a) : (1.0f - fast_expf(-a)) / a;
    float x = v[i] + (c->dtc * (it - gt * v[i])) * phi;
    x = ref ? c->vres : x;
    int sp = !ref && x >= c->vth;
    x = sp ? c->vres : x;
    rf[i] = sp ? c->tref : (ref ? rf[i] - 1 : 0);
    v[i] = x;
    ge[i] = g1 * c->pe;
    gi[i] = g2 * c->pi;
    return sp;
}

static int64_t upd_cond_exp(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *fl, int32_t *out) {
    float *restrict v = P->var[0], *restrict ge = P->var[1], *restrict gi = P->var[2];
    size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *restrict be = P->buf[0] + off, *restrict bi = P->buf[1] + off;
    const float *restrict ie = P->iext;
    int32_t *restrict rf = P->refr;
    cond_params c;
    c.cm = (float)P->p[0]; c.gl = (float)P->p[1]; c.el = (float)P->p[2]; c.ee = (float)P->p[3];
    c.ei = (float)P->p[4]; c.vth = (float)P->p[5]; c.vres = (float)P->p[6]; c.tref = (int32_t)P->p[7];
    c.pe = (float)P->p[8]; c.pi = (float)P->p[9]; c.i0 = (float)P->p[10];
    c.dtc = (float)P->p[11] / c.cm; c.glel = c.gl * c.el;
    int64_t cnt = 0;
    int32_t i = lo;
    (void)fl;
#if defined(__AVX512F__)
    const __m512 GL = _mm512_set1_ps(c.gl), EE = _mm512_set1_ps(c.ee), EI = _mm512_set1_ps(c.ei);
    const __m512 GLEL = _mm512_set1_ps(c.glel), I0 = _mm512_set1_ps(c.i0), DTC = _mm512_set1_ps(c.dtc);
    const __m512 VTH = _mm512_set1_ps(c.vth), VRES = _mm512_set1_ps(c.vres), PE = _mm512_set1_ps(c.pe), PI = _mm512_set1_ps(c.pi);
    const __m512 HALF = _mm512_set1_ps(0.5f), ABS = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512i ZERO = _mm512_setzero_si512(), ONE = _mm512_set1_epi32(1), TREF = _mm512_set1_epi32(c.tref);
    const __m512i LANES = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= hi; i += 16) {
        __m512 g1 = _mm512_add_ps(_mm512_loadu_ps(ge + i), _mm512_loadu_ps(be + i));
        __m512 g2 = _mm512_add_ps(_mm512_loadu_ps(gi + i), _mm512_loadu_ps(bi + i));
        __m512 gt = _mm512_add_ps(_mm512_add_ps(GL, g1), g2);
        __m512 a = _mm512_mul_ps(DTC, gt);
        if (_mm512_cmp_ps_mask(_mm512_and_ps(a, ABS), HALF, _CMP_LT_OQ) != 0xFFFF) {
            /* a rare large conductance: these 16 neurons take the scalar path (same rule per neuron) */
            for (int32_t q = i; q < i + 16; q++) if (cond_scalar(&c, v, ge, gi, be, bi, ie, rf, q)) out[cnt++] = q;
            continue;
        }
        _mm512_storeu_ps(be + i, _mm512_setzero_ps());
        _mm512_storeu_ps(bi + i, _mm512_setzero_ps());
        __m512 it = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(GLEL, _mm512_mul_ps(g1, EE)), _mm512_mul_ps(g2, EI)),
                                  _mm512_add_ps(I0, _mm512_loadu_ps(ie + i)));
        __m512 p = _mm512_set1_ps(-1.0f / 40320.0f);
        p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(1.0f / 5040.0f));
        p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(-1.0f / 720.0f));
        p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(1.0f / 120.0f));
        p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(-1.0f / 24.0f));
        p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(1.0f / 6.0f));
        p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(-0.5f));
        __m512 phi = _mm512_fmadd_ps(p, a, _mm512_set1_ps(1.0f));
        __m512 vv = _mm512_loadu_ps(v + i);
        __m512 x = _mm512_add_ps(vv, _mm512_mul_ps(_mm512_mul_ps(DTC, _mm512_sub_ps(it, _mm512_mul_ps(gt, vv))), phi));
        __m512i r = _mm512_loadu_si512((const void *)(rf + i));
        __mmask16 ref = _mm512_cmpgt_epi32_mask(r, ZERO);
        x = _mm512_mask_blend_ps(ref, x, VRES);
        __mmask16 sp = _mm512_mask_cmp_ps_mask((__mmask16)~ref, x, VTH, _CMP_GE_OQ);
        x = _mm512_mask_blend_ps(sp, x, VRES);
        r = _mm512_mask_blend_epi32(ref, ZERO, _mm512_sub_epi32(r, ONE));
        r = _mm512_mask_blend_epi32(sp, r, TREF);
        _mm512_storeu_si512((void *)(rf + i), r);
        _mm512_storeu_ps(v + i, x);
        _mm512_storeu_ps(ge + i, _mm512_mul_ps(g1, PE));
        _mm512_storeu_ps(gi + i, _mm512_mul_ps(g2, PI));
        if (sp) {
            _mm512_storeu_si512((void *)(out + cnt), _mm512_maskz_compress_epi32(sp, _mm512_add_epi32(_mm512_set1_epi32(i), LANES)));
            cnt += __builtin_popcount((unsigned)sp);
        }
    }
#endif
    for (; i < hi; i++) if (cond_scalar(&c, v, ge, gi, be, bi, ie, rf, i)) out[cnt++] = i;
    return cnt;
}

/* ---- Izhikevich (2003), forward Euler, u updated with the old v (NEST "consistent integration") ----
 * dv/dt = 0.04 v^2 + 5 v + 140 - u + I;  du/dt = a (b v - u);  v >= v_th: v = c, u += d. */
static int64_t upd_izh(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *fl, int32_t *out) {
    float *restrict v = P->var[0], *restrict u = P->var[1];
    float *restrict b = P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n;
    const float *restrict ie = P->iext;
    const float a = (float)P->p[0], bb = (float)P->p[1], c = (float)P->p[2], d = (float)P->p[3];
    const float vth = (float)P->p[4], i0 = (float)P->p[5], h = (float)P->p[6], vmin = (float)P->p[7];
    for (int32_t i = lo; i < hi; i++) {
        float vo = v[i], uo = u[i];
        float vn = vo + h * (0.04f * vo * vo + 5.0f * vo + 140.0f - uo + i0 + ie[i]);
        float un = uo + h * a * (bb * vo - uo);
        vn = vn < vmin ? vmin : vn;
        vn += b[i];
        b[i] = 0.0f;
        int sp = vn >= vth;
        v[i] = sp ? c : vn;
        u[i] = sp ? un + d : un;
        fl[i - lo] = (uint8_t)sp;
    }
    return scan_flags(fl, lo, hi, out);
}

/* ---- Hodgkin-Huxley (Traub & Miles; Brette et al. 2007 benchmark 3), exponential Euler ----
 * Every variable x obeys dx/dt = A + B x with the others held at their start-of-step values, and is
 * advanced exactly: x' = -A/B + (x + A/B) e^{B dt} (Brian2's exponential_euler). Single precision with
 * the vectorizable exp, so the loop runs 16 neurons per instruction on AVX-512. */
static inline float exprelf(float x) {
    float small = 1.0f + x * (0.5f + x * (1.0f / 6.0f));
    float big = (fast_expf(x) - 1.0f) / x;
    return fabsf(x) < 1e-3f ? small : big;
}
static inline float gatef(float x, float a, float b, float dt) {
    float s = a + b, inf = a / s;
    return inf + (x - inf) * fast_expf(-s * dt);
}
static int64_t upd_hh(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *fl, int32_t *out) {
    float *restrict V = P->var[0], *restrict M = P->var[1], *restrict H = P->var[2], *restrict N = P->var[3];
    float *restrict GE = P->var[4], *restrict GI = P->var[5];
    size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *restrict be = P->buf[0] + off, *restrict bi = P->buf[1] + off;
    const float *restrict ie = P->iext;
    int32_t *restrict rf = P->refr;
    const double *p = P->p;
    const float cm = (float)p[0], gl = (float)p[1], el = (float)p[2], gna = (float)p[3], ena = (float)p[4];
    const float gk = (float)p[5], ek = (float)p[6], vt = (float)p[7], ee = (float)p[8], ei = (float)p[9];
    const float pe = (float)p[10], pi = (float)p[11], vsp = (float)p[12], i0 = (float)p[14], dt = (float)p[15];
    const int32_t tref = (int32_t)p[13];
    for (int32_t i = lo; i < hi; i++) {
        float v = V[i], m = M[i], h = H[i], nn = N[i];
        float g1 = GE[i] + be[i], g2 = GI[i] + bi[i];
        be[i] = 0.0f; bi[i] = 0.0f;
        float am = 1.28f / exprelf((13.0f - v + vt) * 0.25f);
        float bm = 1.4f / exprelf((v - vt - 40.0f) * 0.2f);
        float ah = 0.128f * fast_expf((17.0f - v + vt) * (1.0f / 18.0f));
        float bh = 4.0f / (1.0f + fast_expf((40.0f - v + vt) * 0.2f));
        float an = 0.16f / exprelf((15.0f - v + vt) * 0.2f);
        float bn = 0.5f * fast_expf((10.0f - v + vt) * 0.025f);
        float gnam = gna * m * m * m * h, gkn = gk * nn * nn * nn * nn;
        float gs = gl + g1 + g2 + gnam + gkn;
        float A = gl * el + g1 * ee + g2 * ei + gnam * ena + gkn * ek + i0 + ie[i];
        float vinf = A / gs;
        float vexp = vinf + (v - vinf) * fast_expf(-gs * dt / cm);
        float vn = fabsf(gs) > 1e-6f ? vexp : v + (A - gs * v) * dt / cm;  /* g_tot ~ 0: Euler limit */
        M[i] = gatef(m, am, bm, dt);
        H[i] = gatef(h, ah, bh, dt);
        N[i] = gatef(nn, an, bn, dt);
        GE[i] = g1 * pe;
        GI[i] = g2 * pi;
        V[i] = vn;
        int ref = rf[i] > 0;
        int sp = !ref && vn > vsp;
        rf[i] = sp ? tref : (ref ? rf[i] - 1 : 0);
        fl[i - lo] = (uint8_t)sp;
    }
    return scan_flags(fl, lo, hi, out);
}

/* ---- AdEx with exponential conductances (NEST aeif_cond_exp), GSL RKF45 with error control ----
 * C dV/dt = -g_L (V - E_L) + g_L D_T exp((V - V_T)/D_T) - g_e (V - E_e) - g_i (V - E_i) - w + I
 * tau_w dw/dt = a (V - E_L) - w;  dg/dt = -g/tau.  V >= V_peak: V = V_reset, w += b (checked after
 * every internal step, as NEST does); V is clamped to V_reset while refractory. */
typedef struct { gsl_odeiv2_step *s; gsl_odeiv2_control *c; gsl_odeiv2_evolve *ev; } adex_ws_t;
typedef struct { const double *p; double iext; int refractory; } adex_ctx;

static int adex_rhs(double t, const double y[], double f[], void *params) {
    (void)t;
    const adex_ctx *ctx = params;
    const double *p = ctx->p;
    const double V = ctx->refractory ? p[8] : fmin(y[0], p[10]);
    const double w = y[1], ge = y[2], gi = y[3];
    const double ispike = p[4] == 0.0 ? 0.0 : p[1] * p[4] * exp((V - p[3]) / p[4]);
    f[0] = ctx->refractory ? 0.0
         : (-p[1] * (V - p[2]) + ispike - ge * (V - p[11]) - gi * (V - p[12]) - w + p[15] + ctx->iext) / p[0];
    f[1] = (p[6] * (V - p[2]) - w) / p[5];
    f[2] = -ge / p[13];
    f[3] = -gi / p[14];
    return GSL_SUCCESS;
}

void nm_adex_free_workspace(nm_engine *e) {
    adex_ws_t *ws = e->adex_ws;
    if (!ws) return;
    for (int t = 0; t < e->adex_nt; t++) {
        if (ws[t].ev) gsl_odeiv2_evolve_free(ws[t].ev);
        if (ws[t].c) gsl_odeiv2_control_free(ws[t].c);
        if (ws[t].s) gsl_odeiv2_step_free(ws[t].s);
    }
    free(ws);
    e->adex_ws = NULL;
    e->adex_nt = 0;
}

int nm_adex_prepare(nm_engine *e, int nt) {
    int any = 0;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        if (P->model != NM_MODEL_ADEX) continue;
        any = 1;
        if (P->adex_fresh) {
            for (int32_t i = 0; i < P->n; i++) {
                for (int k = 0; k < 4; k++) P->dstate[(size_t)i * 4 + k] = P->var[k][i];
                P->hstep[i] = P->p[16];
            }
            P->adex_fresh = 0;
        }
    }
    if (!any) return 0;
    gsl_set_error_handler_off();
    if (e->adex_ws && e->adex_nt >= nt) return 0;
    nm_adex_free_workspace(e);
    adex_ws_t *ws = calloc((size_t)nt, sizeof(adex_ws_t));
    if (!ws) return -1;
    double eps_abs = 1e-6, eps_rel = 0.0;
    for (int p = 0; p < e->npops; p++)
        if (e->pops[p].model == NM_MODEL_ADEX) { eps_abs = e->pops[p].p[17]; eps_rel = e->pops[p].p[18]; }
    for (int t = 0; t < nt; t++) {
        ws[t].s = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rkf45, 4);
        ws[t].c = gsl_odeiv2_control_y_new(eps_abs, eps_rel);
        ws[t].ev = gsl_odeiv2_evolve_alloc(4);
    }
    e->adex_ws = ws;
    e->adex_nt = nt;
    return 0;
}

/* The work per neuron and step is bounded: past NM_ADEX_MAX_STEPS internal steps (normal inputs need
 * at most ~100 at dt = 0.1 ms), a second spike within the step (t_ref < dt and a drive of ~2e5 pA or
 * more: every further upstroke costs ~100 internal steps, and the spike could not be recorded), a solver
 * error or a non-finite state, the thread raises a fault (the run stops at the end of the interval) and
 * integrates no further AdEx neurons. */
static int adex_fault(nm_engine *e, pop_t *P, int thread, int kind, int var, int32_t i, int64_t n, double value) {
    nm_fault *f = nm_thread_fault(e, thread);
    f->kind = kind; f->pop = (int32_t)(P - e->pops); f->var = var; f->neuron = i;
    f->step_lo = n; f->step_hi = n + 1; f->value = value;
    return 1;
}

static int64_t upd_adex(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *fl, int32_t *out, int thread) {
    if (nm_thread_fault(e, thread)->kind) return 0;   /* this thread already stopped the run */
    adex_ws_t *ws = &((adex_ws_t *)e->adex_ws)[thread];
    size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const double *p = P->p;
    const double dt = p[16], vres = p[8], vpeak = p[10], bw = p[7];
    const int32_t tref = (int32_t)p[9];
    adex_ctx ctx = { p, 0.0, 0 };
    gsl_odeiv2_system sys = { adex_rhs, NULL, 4, &ctx };
    for (int32_t i = lo; i < hi; i++) {
        double *y = P->dstate + (size_t)i * 4;
        y[2] += be[i]; y[3] += bi[i];
        be[i] = 0.0f; bi[i] = 0.0f;
        if (P->refr[i] > 0) P->refr[i]--;
        ctx.iext = P->iext[i];
        double t = 0.0, h = P->hstep[i];
        int sp = 0, stop = 0;
        gsl_odeiv2_evolve_reset(ws->ev);
        gsl_odeiv2_step_reset(ws->s);
        for (int steps = 0; t < dt; steps++) {
            if (steps == NM_ADEX_MAX_STEPS) { stop = adex_fault(e, P, thread, NM_FAULT_SOLVER_STEPS, -1, i, n, steps); break; }
            ctx.refractory = P->refr[i] > 0;
            int st = gsl_odeiv2_evolve_apply(ws->ev, ws->c, ws->s, &sys, &t, dt, &h, y);
            if (st != GSL_SUCCESS) { stop = adex_fault(e, P, thread, NM_FAULT_SOLVER_FAILED, -1, i, n, st); break; }
            for (int k = 0; k < 4 && !stop; k++)
                if (!isfinite(y[k])) stop = adex_fault(e, P, thread, NM_FAULT_NONFINITE, k, i, n, y[k]);
            if (stop) break;
            if (P->refr[i] > 0) y[0] = vres;
            else if (y[0] >= vpeak) {
                /* a second spike within one step cannot be recorded (one spike per neuron and step), and
                 * the drive that causes it makes the solver resolve every upstroke: stop instead */
                if (sp) { stop = adex_fault(e, P, thread, NM_FAULT_SPIKES_PER_STEP, -1, i, n, t); break; }
                y[0] = vres;
                y[1] += bw;
                P->refr[i] = tref > 0 ? tref + 1 : 0;
                sp = 1;
            }
        }
        P->hstep[i] = h;
        for (int k = 0; k < 4; k++) P->var[k][i] = (float)y[k];
        fl[i - lo] = (uint8_t)sp;
        if (stop) { memset(fl + (i - lo), 0, (size_t)(hi - i)); break; }
    }
    return scan_flags(fl, lo, hi, out);
}

/* ---- spike sources ---- */
void nm_poisson_redraw(nm_engine *e, pop_t *P) {
    for (int32_t b = 0; b < P->nrng; b++) {
        int32_t i0 = b * NM_RNG_BLOCK, i1 = i0 + NM_RNG_BLOCK < P->n ? i0 + NM_RNG_BLOCK : P->n;
        for (int32_t i = i0; i < i1; i++) {
            double p = P->rate_p ? P->rate_p[i] : P->p[0];
            P->next[i] = p <= 0.0 ? INT64_MAX : e->step + (int64_t)nm_rng_geometric(P->rng[b], p > 1.0 ? 1.0 : p) - 1;
        }
    }
}

static int64_t upd_poisson(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out) {
    (void)e;
    int64_t c = 0;
    for (int32_t i = lo; i < hi; i++) {
        if (P->next[i] != n) continue;
        out[c++] = i;
        double p = P->rate_p ? P->rate_p[i] : P->p[0];
        P->next[i] = n + (int64_t)nm_rng_geometric(P->rng[i / NM_RNG_BLOCK], p > 1.0 ? 1.0 : p);
    }
    return c;
}

static int64_t upd_source(pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out) {
    int64_t c = 0;
    if (!P->src_ptr) return 0;
    for (int32_t i = lo; i < hi; i++) {
        int64_t k = P->src_pos[i], end = P->src_ptr[i + 1];
        while (k < end && P->src_steps[k] < n) k++;
        if (k < end && P->src_steps[k] == n) {
            out[c++] = i;
            while (k < end && P->src_steps[k] == n) k++;
        }
        P->src_pos[i] = k;
    }
    return c;
}

int64_t nm_update_pop(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *flags, int32_t *out, int thread) {
    int64_t c;
    switch (P->model) {
    case NM_MODEL_IF: c = upd_if(e, P, lo, hi, n, flags, out); break;
    case NM_MODEL_LIF_EXP: c = upd_lif_exp(e, P, lo, hi, n, flags, out); break;
    case NM_MODEL_LIF_COND_EXP: c = upd_cond_exp(e, P, lo, hi, n, flags, out); break;
    case NM_MODEL_IZHIKEVICH: c = upd_izh(e, P, lo, hi, n, flags, out); break;
    case NM_MODEL_ADEX: c = upd_adex(e, P, lo, hi, n, flags, out, thread); break;
    case NM_MODEL_HH: c = upd_hh(e, P, lo, hi, n, flags, out); break;
    case NM_MODEL_POISSON: c = upd_poisson(e, P, lo, hi, n, out); break;
    case NM_MODEL_SPIKE_SOURCE: c = upd_source(P, lo, hi, n, out); break;
    default: c = 0;
    }
    return c;
}
