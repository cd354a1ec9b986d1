/* lif_cond_exp: leaky integrate-and-fire with exponential conductances (NEST iaf_cond_exp; Brette et
 * al. 2007 COBA), exponential Euler.
 *
 *   C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) + I;  dg/dt = -g/tau
 *
 * Over a step the conductances are held at their start values: v relaxes exactly towards
 * v_inf = (g_L E_L + g_e E_e + g_i E_i + I)/g_tot with rate g_tot/C; written as
 * v += dt/C (I_tot - g_tot v) phi(a), a = dt g_tot / C, phi(a) = (1 - e^-a)/a, which stays finite as
 * g_tot -> 0. For |a| < 0.5 (g_tot < C/(2 dt): always in the benchmark networks) phi is its Taylor
 * polynomial to a^7 (relative error < 2e-8, below float resolution); otherwise the exact expression
 * (computed only for blocks that need it; the choice is per neuron). Conductances decay exactly.
 * Swift side: Sources/SNN/Models/LIFCondExp.swift. */
#include "../snn_kernel.h"

typedef struct {
    double c_m;                  /* pF */
    double g_l;                  /* nS */
    double e_l, e_e, e_i;        /* mV */
    double v_th, v_reset;        /* mV (v_th may be +inf) */
    int32_t t_ref_steps;         /* refractory period (steps) */
    double pe, pi;               /* e^{-dt/tau_syn} per port */
    double i_e;                  /* pA */
} nm_lif_cond_exp_params;

static const nm_param LIF_COND_EXP_PARAMS[] = {
    NM_PARAM(nm_lif_cond_exp_params, c_m, "pF", NM_POSITIVE),
    NM_PARAM(nm_lif_cond_exp_params, g_l, "nS", 0),
    NM_PARAM(nm_lif_cond_exp_params, e_l, "mV", 0),
    NM_PARAM(nm_lif_cond_exp_params, e_e, "mV", 0),
    NM_PARAM(nm_lif_cond_exp_params, e_i, "mV", 0),
    NM_PARAM(nm_lif_cond_exp_params, v_th, "mV", NM_INF_OK),
    NM_PARAM(nm_lif_cond_exp_params, v_reset, "mV", 0),
    NM_PARAM_STEPS_(nm_lif_cond_exp_params, t_ref_steps),
    NM_PARAM(nm_lif_cond_exp_params, pe, "1", NM_NONNEG),
    NM_PARAM(nm_lif_cond_exp_params, pi, "1", NM_NONNEG),
    NM_PARAM(nm_lif_cond_exp_params, i_e, "pA", 0),
};
static const nm_var LIF_COND_EXP_VARS[] = {{"v", "mV"}, {"g_exc", "nS"}, {"g_inh", "nS"}};

typedef struct { float gl, ee, ei, vth, vres, pe, pi, i0, dtc, glel; int32_t tref; } cond_consts;

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

NM_AI uint32_t cond_block(const cond_consts *c, float *v, float *ge, float *gi, float *be, float *bi, const float *ie,
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
    const nm_lif_cond_exp_params *p = P->params;
    float *v = P->var[0], *ge = P->var[1], *gi = P->var[2];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext;
    int32_t *rf = P->refr;
    cond_consts c;
    const float cm = (float)p->c_m;
    c.gl = (float)p->g_l; c.ee = (float)p->e_e; c.ei = (float)p->e_i; c.vth = (float)p->v_th;
    c.vres = (float)p->v_reset; c.tref = p->t_ref_steps; c.pe = (float)p->pe; c.pi = (float)p->pi;
    c.i0 = (float)p->i_e; c.dtc = (float)e->dt / cm; c.glel = c.gl * (float)p->e_l;
    int64_t cnt = 0;
    NM_FOR_BLOCKS(lo, hi, out, cnt, cond_block(&c, v, ge, gi, be, bi, ie, rf, i, k));
    return cnt;
}
NM_UPDATE_KERNEL(upd_cond_exp);

const nm_model nm_model_lif_cond_exp = {
    .name = "lif_cond_exp", .weight_unit = "nS",
    .vars = LIF_COND_EXP_VARS, .nvars = 3, .nports = 2, .granularity = 64,
    .params_size = sizeof(nm_lif_cond_exp_params), .params = LIF_COND_EXP_PARAMS, .nparams = sizeof LIF_COND_EXP_PARAMS / sizeof LIF_COND_EXP_PARAMS[0],
    .update = upd_cond_exp_isa,
};
