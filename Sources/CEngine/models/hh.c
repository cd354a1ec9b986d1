/* hh: Hodgkin-Huxley with Traub-Miles kinetics and conductance synapses (Brette et al. 2007 benchmark
 * 3, Brian2's COBAHH), exponential Euler in single precision.
 *
 *   C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I
 *   dx/dt = alpha_x(v) (1 - x) - beta_x(v) x   (x = m, h, n);   dg/dt = -g/tau
 *
 * Every variable x obeys dx/dt = A + B x with the others held at their start-of-step values, and is
 * advanced exactly: x' = -A/B + (x + A/B) e^{B dt} (Brian2's exponential_euler), with the vector exp.
 * A spike is an upward crossing of v_spike outside the refractory period (v is not reset).
 * Swift side (rate functions documented there): Sources/SNN/Models/HH.swift. */
#include "../snn_kernel.h"

typedef struct {
    double c_m;                  /* pF */
    double g_l, e_l;             /* nS, mV */
    double g_na, e_na;           /* nS, mV */
    double g_k, e_k;             /* nS, mV */
    double v_t;                  /* mV: shifts the rate functions */
    double e_e, e_i;             /* mV */
    double pe, pi;               /* e^{-dt/tau_syn} per port */
    double v_spike;              /* spike detection threshold (mV; may be +inf) */
    int32_t t_ref_steps;         /* refractory period (steps) */
    double i_e;                  /* pA */
} nm_hh_params;

static const nm_param HH_PARAMS[] = {
    NM_PARAM(nm_hh_params, c_m, "pF", NM_POSITIVE),
    NM_PARAM(nm_hh_params, g_l, "nS", 0),
    NM_PARAM(nm_hh_params, e_l, "mV", 0),
    NM_PARAM(nm_hh_params, g_na, "nS", 0),
    NM_PARAM(nm_hh_params, e_na, "mV", 0),
    NM_PARAM(nm_hh_params, g_k, "nS", 0),
    NM_PARAM(nm_hh_params, e_k, "mV", 0),
    NM_PARAM(nm_hh_params, v_t, "mV", 0),
    NM_PARAM(nm_hh_params, e_e, "mV", 0),
    NM_PARAM(nm_hh_params, e_i, "mV", 0),
    NM_PARAM(nm_hh_params, pe, "1", NM_NONNEG),
    NM_PARAM(nm_hh_params, pi, "1", NM_NONNEG),
    NM_PARAM(nm_hh_params, v_spike, "mV", NM_INF_OK),
    NM_PARAM_STEPS_(nm_hh_params, t_ref_steps),
    NM_PARAM(nm_hh_params, i_e, "pA", 0),
};
static const nm_var HH_VARS[] = {{"v", "mV"}, {"m", "1"}, {"h", "1"}, {"n", "1"}, {"g_exc", "nS"}, {"g_inh", "nS"}};

typedef struct { float cm, gl, el, gna, ena, gk, ek, vt, ee, ei, pe, pi, vsp, i0, dt; int32_t tref; } hh_consts;

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

NM_AI uint32_t hh_block(const hh_consts *p, float *V, float *M, float *H, float *N, float *GE, float *GI, float *be,
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
    /* gates and conductances */
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
    const nm_hh_params *q = P->params;
    float *V = P->var[0], *M = P->var[1], *H = P->var[2], *N = P->var[3], *GE = P->var[4], *GI = P->var[5];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext;
    int32_t *rf = P->refr;
    hh_consts c;
    c.cm = (float)q->c_m; c.gl = (float)q->g_l; c.el = (float)q->e_l; c.gna = (float)q->g_na; c.ena = (float)q->e_na;
    c.gk = (float)q->g_k; c.ek = (float)q->e_k; c.vt = (float)q->v_t; c.ee = (float)q->e_e; c.ei = (float)q->e_i;
    c.pe = (float)q->pe; c.pi = (float)q->pi; c.vsp = (float)q->v_spike; c.tref = q->t_ref_steps; c.i0 = (float)q->i_e;
    c.dt = (float)e->dt;
    int64_t cnt = 0;
    NM_FOR_BLOCKS(lo, hi, out, cnt, hh_block(&c, V, M, H, N, GE, GI, be, bi, ie, rf, i, k));
    return cnt;
}
NM_UPDATE_KERNEL(upd_hh);

const nm_model nm_model_hh = {
    .name = "hh", .weight_unit = "nS",
    .vars = HH_VARS, .nvars = 6, .nports = 2, .granularity = 64,
    .params_size = sizeof(nm_hh_params), .params = HH_PARAMS, .nparams = sizeof HH_PARAMS / sizeof HH_PARAMS[0],
    .update = upd_hh_isa,
};
