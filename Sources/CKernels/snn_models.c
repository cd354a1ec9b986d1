/* Neuron model updates of the spiking engine. Each update advances neurons [lo, hi) from t_n to
 * t_{n+1}: it consumes ring-buffer slot n (inputs arriving at t_n), integrates, and detects spikes.
 * The vectorizable models are written once as a block body over 16 neurons (portable clang vectors,
 * nm_vec.h) that returns the block's spike bits; NM_STAMP compiles each update once per vector path
 * (AVX-512, AVX2, baseline) and nm_update_pop calls the current path's. Every path and every block
 * (the zero-padded tail included) performs the same operations per neuron, so results are
 * bit-identical whatever the path, the thread count or where a thread's range ends. Equations, units
 * and methods: see nm_snn.h and README's model table. */
#include "snn_kernel.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

/* Floating-point contraction is off (nm_vec.h): no fused multiply-add anywhere, so every path
 * computes the same roundings. */
#pragma clang fp contract(off)

/* The scalar definition of the engine's exp (vf_exp in nm_vec.h computes the same values per lane):
 * Cephes-style range reduction + degree-6 polynomial. Max relative error ~2e-7 on [-87, 88]; outside
 * it clamps. */
float nm_expf(float x) {
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

/* Collects the indices whose flag is set (flags are 0 or 1; the scalar AdEx stepper). Spikes are rare
 * in most networks, so whole 8-byte words of zeros are skipped. */
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
 * x = (v + input) + (i_e + i_ext) dt/C, clamped below at v_min. Populations without incoming synapses
 * (an ANN's first layer driven by a current) skip the ring buffer; without a refractory period the
 * counters are skipped; sources of same-step pooling also leave their spike bits (16 per word). */
typedef struct { float vth, vres, jump, i0, cs, vmin; int32_t tref; nm_vi subtract; } if_params;

NM_AI uint32_t if_block(const if_params *c, float *v, float *b, const float *ie, int32_t *rf, uint16_t *bits,
                        int32_t i, int k, const int HAS_B, const int USE_REFR) {
    const nm_vf v0 = vf_load_n(v + i, k);
    nm_vf x = v0;
    if (HAS_B) {
        x = x + vf_load_n(b + i, k);
        vf_store_n(b + i, vf_splat(0.0f), k);
    }
    x = x + (c->i0 + vf_load_n(ie + i, k)) * c->cs;
    nm_vi r = 0, ref = 0;
    if (USE_REFR) {
        r = vi_load_n(rf + i, k);
        ref = r > 0;
        x = ref ? v0 : x;   /* refractory: v holds, inputs are dropped */
    }
    x = x < c->vmin ? vf_splat(c->vmin) : x;
    const nm_vi sp = (x >= c->vth) & ~ref;
    x = sp ? (c->subtract ? x - c->jump : vf_splat(c->vres)) : x;   /* subtract: all lanes or none */
    if (USE_REFR) vi_store_n(rf + i, refr_next(r, ref, sp, c->tref), k);
    vf_store_n(v + i, x, k);
    const uint32_t m = vmask_bits(sp) & lanes_below(k);
    if (bits) bits[i >> 4] = (uint16_t)m;   /* lo is a multiple of 16 (thread ranges: of 64) */
    return m;
}

NM_AI int64_t if_loop(const int isa, const if_params *c, float *v, float *b, const float *ie, int32_t *rf, uint16_t *bits,
                      int32_t lo, int32_t hi, int32_t *out, const int HAS_B, const int USE_REFR) {
    int64_t cnt = 0;
    /* converted networks: most blocks of IF neurons spike every step */
    NM_FOR_BLOCKS_WITH(compact_bits_all, lo, hi, out, cnt, if_block(c, v, b, ie, rf, bits, i, k, HAS_B, USE_REFR));
    return cnt;
}

NM_UPDATE_BODY(upd_if) {
    float *v = P->var[0];
    float *b = P->has_input ? P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n : NULL;
    if_params c;
    c.vth = (float)P->p[0]; c.vres = (float)P->p[1]; c.cs = (float)P->p[3]; c.i0 = (float)P->p[4];
    c.vmin = (float)P->p[6]; c.subtract = vi_splat(P->p[2] != 0 ? -1 : 0); c.tref = (int32_t)P->p[5];
    c.jump = c.vth - c.vres;
    const int use_refr = c.tref > 0;
    const float *ie = P->iext;
    int32_t *rf = P->refr;
    uint16_t *bits = P->spk_bits;
    /* the loop-invariant choices as separate loops */
    if (b) return use_refr ? if_loop(isa, &c, v, b, ie, rf, bits, lo, hi, out, 1, 1) : if_loop(isa, &c, v, b, ie, rf, bits, lo, hi, out, 1, 0);
    return use_refr ? if_loop(isa, &c, v, b, ie, rf, bits, lo, hi, out, 0, 1) : if_loop(isa, &c, v, b, ie, rf, bits, lo, hi, out, 0, 0);
}
NM_UPDATE_KERNEL(upd_if);

/* ---- LIF, exponential current synapses, exact integration (Rotter & Diesmann 1999) ----
 * u = v - E_L relaxes towards r I with factor p22; the synaptic inputs x_e, x_i (mV) decay by p11 and
 * feed u through p21; refractory neurons are clamped to v_reset. */
typedef struct { float el, vth, vres, p22, p11e, p11i, p21e, p21i, rs, i0; int32_t tref; } lif_params;

NM_AI uint32_t lif_block(const lif_params *c, float *v, float *xe, float *xi, float *be, float *bi, const float *ie,
                         int32_t *rf, int32_t i, int k, const int HAS_IE) {
    /* add the inputs arriving now */
    const nm_vf ye = vf_load_n(xe + i, k) + vf_load_n(be + i, k), yi = vf_load_n(xi + i, k) + vf_load_n(bi + i, k);
    vf_store_n(be + i, vf_splat(0.0f), k);
    vf_store_n(bi + i, vf_splat(0.0f), k);
    const nm_vi r = vi_load_n(rf + i, k), ref = r > 0;
    /* integrate v exactly over the step */
    const nm_vf ri = HAS_IE ? c->rs * (c->i0 + vf_load_n(ie + i, k)) : vf_splat(c->rs * c->i0);
    const nm_vf u = vf_load_n(v + i, k) - c->el;
    const nm_vf un = ((ri + (u - ri) * c->p22) + ye * c->p21e) + yi * c->p21i;
    /* threshold, reset, refractory clamp */
    nm_vf x = ref ? vf_splat(c->vres) : un + c->el;
    const nm_vi sp = (x >= c->vth) & ~ref;
    x = sp ? vf_splat(c->vres) : x;
    vi_store_n(rf + i, refr_next(r, ref, sp, c->tref), k);
    vf_store_n(v + i, x, k);
    /* decay the synaptic inputs */
    vf_store_n(xe + i, ye * c->p11e, k);
    vf_store_n(xi + i, yi * c->p11i, k);
    return vmask_bits(sp) & lanes_below(k);
}

NM_UPDATE_BODY(upd_lif_exp) {
    float *v = P->var[0], *xe = P->var[1], *xi = P->var[2];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext_used ? P->iext : NULL;
    int32_t *rf = P->refr;
    lif_params c;
    c.el = (float)P->p[0]; c.vth = (float)P->p[1]; c.vres = (float)P->p[2]; c.tref = (int32_t)P->p[3];
    c.p22 = (float)P->p[4]; c.p11e = (float)P->p[5]; c.p11i = (float)P->p[6];
    c.p21e = (float)P->p[7]; c.p21i = (float)P->p[8]; c.rs = (float)P->p[9]; c.i0 = (float)P->p[10];
    int64_t cnt = 0;
    if (ie) NM_FOR_BLOCKS(lo, hi, out, cnt, lif_block(&c, v, xe, xi, be, bi, ie, rf, i, k, 1));
    else NM_FOR_BLOCKS(lo, hi, out, cnt, lif_block(&c, v, xe, xi, be, bi, ie, rf, i, k, 0));
    return cnt;
}
NM_UPDATE_KERNEL(upd_lif_exp);

/* ---- LIF, exponential conductances, exponential Euler ----
 * C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + I;  dg/dt = -g/tau.
 * Over a step the conductances are held at their start values: v relaxes exactly towards
 * v_inf = (g_L E_L + g_e E_e + g_i E_i + I)/g_tot with rate g_tot/C; written as
 * v += dt/C (I_tot - g_tot v) phi(a), a = dt g_tot / C, phi(a) = (1 - e^-a)/a, which stays finite as
 * g_tot -> 0. For |a| < 0.5 (g_tot < C/(2 dt): always in the benchmark networks) phi is its Taylor
 * polynomial to a^7 (relative error < 2e-8, below float resolution); otherwise the exact expression
 * (computed only for blocks that need it; the choice is per neuron). */
typedef struct { float gl, ee, ei, vth, vres, pe, pi, i0, dtc, glel; int32_t tref; } cond_params;

NM_AI nm_vf phi_poly(nm_vf a) {
    nm_vf p = -1.0f / 40320.0f;
    p = p * a + 1.0f / 5040.0f;
    p = p * a + -1.0f / 720.0f;
    p = p * a + 1.0f / 120.0f;
    p = p * a + -1.0f / 24.0f;
    p = p * a + 1.0f / 6.0f;
    p = p * a + -0.5f;
    return p * a + 1.0f;
}

NM_AI uint32_t cond_block(const cond_params *c, float *v, float *ge, float *gi, float *be, float *bi, const float *ie,
                          int32_t *rf, int32_t i, int k) {
    /* add the conductance jumps arriving now */
    const nm_vf g1 = vf_load_n(ge + i, k) + vf_load_n(be + i, k), g2 = vf_load_n(gi + i, k) + vf_load_n(bi + i, k);
    vf_store_n(be + i, vf_splat(0.0f), k);
    vf_store_n(bi + i, vf_splat(0.0f), k);
    const nm_vi r = vi_load_n(rf + i, k), ref = r > 0;
    /* integrate v: exponential Euler with the conductances of the step's start */
    const nm_vf gt = (c->gl + g1) + g2;
    const nm_vf it = ((c->glel + g1 * c->ee) + g2 * c->ei) + (c->i0 + vf_load_n(ie + i, k));
    const nm_vf a = c->dtc * gt;
    const nm_vi small = vf_abs(a) < 0.5f;
    nm_vf phi = phi_poly(a);
    if (vmask_bits(small) != 0xFFFFu) phi = small ? phi : (1.0f - vf_exp(-a)) / a;
    const nm_vf v0 = vf_load_n(v + i, k);
    nm_vf x = v0 + (c->dtc * (it - gt * v0)) * phi;
    /* threshold, reset, refractory clamp */
    x = ref ? vf_splat(c->vres) : x;
    const nm_vi sp = (x >= c->vth) & ~ref;
    x = sp ? vf_splat(c->vres) : x;
    vi_store_n(rf + i, refr_next(r, ref, sp, c->tref), k);
    vf_store_n(v + i, x, k);
    /* decay the conductances */
    vf_store_n(ge + i, g1 * c->pe, k);
    vf_store_n(gi + i, g2 * c->pi, k);
    return vmask_bits(sp) & lanes_below(k);
}

NM_UPDATE_BODY(upd_cond_exp) {
    float *v = P->var[0], *ge = P->var[1], *gi = P->var[2];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext;
    int32_t *rf = P->refr;
    cond_params c;
    const float cm = (float)P->p[0];
    c.gl = (float)P->p[1]; c.ee = (float)P->p[3]; c.ei = (float)P->p[4]; c.vth = (float)P->p[5];
    c.vres = (float)P->p[6]; c.tref = (int32_t)P->p[7]; c.pe = (float)P->p[8]; c.pi = (float)P->p[9];
    c.i0 = (float)P->p[10]; c.dtc = (float)P->p[11] / cm; c.glel = c.gl * (float)P->p[2];
    int64_t cnt = 0;
    NM_FOR_BLOCKS(lo, hi, out, cnt, cond_block(&c, v, ge, gi, be, bi, ie, rf, i, k));
    return cnt;
}
NM_UPDATE_KERNEL(upd_cond_exp);

/* ---- Izhikevich (2003), forward Euler, u updated with the old v (NEST "consistent integration") ----
 * dv/dt = 0.04 v^2 + 5 v + 140 - u + I;  du/dt = a (b v - u);  v >= v_th: v = c, u += d. */
typedef struct { float a, b, c, d, vth, i0, h, vmin; } izh_params;

NM_AI uint32_t izh_block(const izh_params *p, float *v, float *u, float *b, const float *ie, int32_t i, int k) {
    const nm_vf vo = vf_load_n(v + i, k), uo = vf_load_n(u + i, k);
    /* Euler step of both variables from the old values */
    nm_vf vn = vo + p->h * (0.04f * vo * vo + 5.0f * vo + 140.0f - uo + p->i0 + vf_load_n(ie + i, k));
    const nm_vf un = uo + p->h * p->a * (p->b * vo - uo);
    vn = vn < p->vmin ? vf_splat(p->vmin) : vn;
    /* add the inputs arriving now */
    vn = vn + vf_load_n(b + i, k);
    vf_store_n(b + i, vf_splat(0.0f), k);
    /* spike and reset */
    const nm_vi sp = vn >= p->vth;
    vf_store_n(v + i, sp ? vf_splat(p->c) : vn, k);
    vf_store_n(u + i, sp ? un + p->d : un, k);
    return vmask_bits(sp) & lanes_below(k);
}

NM_UPDATE_BODY(upd_izh) {
    float *v = P->var[0], *u = P->var[1];
    float *b = P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n;
    const float *ie = P->iext;
    izh_params c;
    c.a = (float)P->p[0]; c.b = (float)P->p[1]; c.c = (float)P->p[2]; c.d = (float)P->p[3];
    c.vth = (float)P->p[4]; c.i0 = (float)P->p[5]; c.h = (float)P->p[6]; c.vmin = (float)P->p[7];
    int64_t cnt = 0;
    NM_FOR_BLOCKS(lo, hi, out, cnt, izh_block(&c, v, u, b, ie, i, k));
    return cnt;
}
NM_UPDATE_KERNEL(upd_izh);

/* ---- Hodgkin-Huxley (Traub & Miles; Brette et al. 2007 benchmark 3), exponential Euler ----
 * Every variable x obeys dx/dt = A + B x with the others held at their start-of-step values, and is
 * advanced exactly: x' = -A/B + (x + A/B) e^{B dt} (Brian2's exponential_euler). Single precision with
 * the vector exp. */
typedef struct { float cm, gl, el, gna, ena, gk, ek, vt, ee, ei, pe, pi, vsp, i0, dt; int32_t tref; } hh_params;

/* (e^x - 1)/x, its Taylor polynomial near 0 */
NM_AI nm_vf exprel(nm_vf x) {
    const nm_vf small = 1.0f + x * (0.5f + x * (1.0f / 6.0f));
    const nm_vf big = (vf_exp(x) - 1.0f) / x;
    return vf_abs(x) < 1e-3f ? small : big;
}
/* a gate with opening rate a and closing rate b (1/ms) over dt */
NM_AI nm_vf gate(nm_vf x, nm_vf a, nm_vf b, float dt) {
    const nm_vf s = a + b, inf = a / s;
    return inf + (x - inf) * vf_exp(-s * dt);
}

NM_AI uint32_t hh_block(const hh_params *p, float *V, float *M, float *H, float *N, float *GE, float *GI, float *be,
                        float *bi, const float *ie, int32_t *rf, int32_t i, int k) {
    const nm_vf v = vf_load_n(V + i, k), m = vf_load_n(M + i, k), h = vf_load_n(H + i, k), nn = vf_load_n(N + i, k);
    /* add the conductance jumps arriving now */
    const nm_vf g1 = vf_load_n(GE + i, k) + vf_load_n(be + i, k), g2 = vf_load_n(GI + i, k) + vf_load_n(bi + i, k);
    vf_store_n(be + i, vf_splat(0.0f), k);
    vf_store_n(bi + i, vf_splat(0.0f), k);
    /* gating rates (1/ms) at the step's start */
    const nm_vf am = 1.28f / exprel((13.0f - v + p->vt) * 0.25f);
    const nm_vf bm = 1.4f / exprel((v - p->vt - 40.0f) * 0.2f);
    const nm_vf ah = 0.128f * vf_exp((17.0f - v + p->vt) * (1.0f / 18.0f));
    const nm_vf bh = 4.0f / (1.0f + vf_exp((40.0f - v + p->vt) * 0.2f));
    const nm_vf an = 0.16f / exprel((15.0f - v + p->vt) * 0.2f);
    const nm_vf bn = 0.5f * vf_exp((10.0f - v + p->vt) * 0.025f);
    /* membrane: exact relaxation towards v_inf with the step's total conductance */
    const nm_vf gnam = p->gna * m * m * m * h, gkn = p->gk * nn * nn * nn * nn;
    const nm_vf gs = p->gl + g1 + g2 + gnam + gkn;
    const nm_vf A = p->gl * p->el + g1 * p->ee + g2 * p->ei + gnam * p->ena + gkn * p->ek + p->i0 + vf_load_n(ie + i, k);
    const nm_vf vinf = A / gs;
    const nm_vf vexp = vinf + (v - vinf) * vf_exp(-gs * p->dt / p->cm);
    const nm_vf vn = vf_abs(gs) > 1e-6f ? vexp : v + (A - gs * v) * p->dt / p->cm;  /* g_tot ~ 0: Euler limit */
    vf_store_n(M + i, gate(m, am, bm, p->dt), k);
    vf_store_n(H + i, gate(h, ah, bh, p->dt), k);
    vf_store_n(N + i, gate(nn, an, bn, p->dt), k);
    vf_store_n(GE + i, g1 * p->pe, k);
    vf_store_n(GI + i, g2 * p->pi, k);
    vf_store_n(V + i, vn, k);
    /* spike: upward crossing of v_spike outside the refractory period */
    const nm_vi r = vi_load_n(rf + i, k), ref = r > 0;
    const nm_vi sp = (vn > p->vsp) & ~ref;
    vi_store_n(rf + i, refr_next(r, ref, sp, p->tref), k);
    return vmask_bits(sp) & lanes_below(k);
}

NM_UPDATE_BODY(upd_hh) {
    float *V = P->var[0], *M = P->var[1], *H = P->var[2], *N = P->var[3], *GE = P->var[4], *GI = P->var[5];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext;
    int32_t *rf = P->refr;
    const double *q = P->p;
    hh_params c;
    c.cm = (float)q[0]; c.gl = (float)q[1]; c.el = (float)q[2]; c.gna = (float)q[3]; c.ena = (float)q[4];
    c.gk = (float)q[5]; c.ek = (float)q[6]; c.vt = (float)q[7]; c.ee = (float)q[8]; c.ei = (float)q[9];
    c.pe = (float)q[10]; c.pi = (float)q[11]; c.vsp = (float)q[12]; c.tref = (int32_t)q[13]; c.i0 = (float)q[14];
    c.dt = (float)q[15];
    int64_t cnt = 0;
    NM_FOR_BLOCKS(lo, hi, out, cnt, hh_block(&c, V, M, H, N, GE, GI, be, bi, ie, rf, i, k));
    return cnt;
}
NM_UPDATE_KERNEL(upd_hh);

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
    case NM_MODEL_IF: c = NM_CALL(upd_if)(e, P, lo, hi, n, out); break;
    case NM_MODEL_LIF_EXP: c = NM_CALL(upd_lif_exp)(e, P, lo, hi, n, out); break;
    case NM_MODEL_LIF_COND_EXP: c = NM_CALL(upd_cond_exp)(e, P, lo, hi, n, out); break;
    case NM_MODEL_IZHIKEVICH: c = NM_CALL(upd_izh)(e, P, lo, hi, n, out); break;
    case NM_MODEL_ADEX: c = upd_adex(e, P, lo, hi, n, flags, out, thread); break;
    case NM_MODEL_HH: c = NM_CALL(upd_hh)(e, P, lo, hi, n, out); break;
    case NM_MODEL_POISSON: c = upd_poisson(e, P, lo, hi, n, out); break;
    case NM_MODEL_SPIKE_SOURCE: c = upd_source(P, lo, hi, n, out); break;
    default: c = 0;
    }
    return c;
}
