/* lif_exp: leaky integrate-and-fire with exponential current synapses (NEST iaf_psc_exp; Brian2's
 * CUBA), exact integration (Rotter & Diesmann 1999).
 *
 *   u = v - E_L;  u' = r I + (u - r I) p22 + x_e p21e + x_i p21i      r = tau_m/C_m, I = I_e + I_ext
 *   x_e' = x_e p11e, x_i' = x_i p11i                                  synaptic inputs kept as voltages
 *   spike: v >= v_th -> v = v_reset; refractory (t_ref steps): v clamped to v_reset
 *
 * The synaptic currents are kept as voltages x = I tau_m/C_m (mV), so a weight in mV (Brian2's
 * convention) is added as is. Swift side (propagators for dt): Sources/SNN/Models/LIFExp.swift. */
#include "../snn_kernel.h"

typedef struct {
    double e_l, v_th, v_reset;   /* mV (v_th may be +inf) */
    int32_t t_ref_steps;         /* refractory period (steps) */
    double p22;                  /* e^{-dt/tau_m} */
    double p11e, p11i;           /* e^{-dt/tau_syn} per port */
    double p21e, p21i;           /* the synaptic inputs' effect on u over a step */
    double r_scale;              /* tau_m / C_m (mV/pA) */
    double i_e;                  /* pA */
} nm_lif_exp_params;

static const nm_param LIF_EXP_PARAMS[] = {
    NM_PARAM(nm_lif_exp_params, e_l, "mV", 0),
    NM_PARAM(nm_lif_exp_params, v_th, "mV", NM_INF_OK),
    NM_PARAM(nm_lif_exp_params, v_reset, "mV", 0),
    NM_PARAM_STEPS_(nm_lif_exp_params, t_ref_steps),
    NM_PARAM(nm_lif_exp_params, p22, "1", NM_NONNEG),
    NM_PARAM(nm_lif_exp_params, p11e, "1", NM_NONNEG),
    NM_PARAM(nm_lif_exp_params, p11i, "1", NM_NONNEG),
    NM_PARAM(nm_lif_exp_params, p21e, "1", 0),
    NM_PARAM(nm_lif_exp_params, p21i, "1", 0),
    NM_PARAM(nm_lif_exp_params, r_scale, "mV/pA", 0),
    NM_PARAM(nm_lif_exp_params, i_e, "pA", 0),
};
static const nm_var LIF_EXP_VARS[] = {{"v", "mV"}, {"i_exc", "mV"}, {"i_inh", "mV"}};

typedef struct { float el, vth, vres, p22, p11e, p11i, p21e, p21i, rs, i0; int32_t tref; } lif_consts;

NM_AI uint32_t lif_block(const lif_consts *c, float *v, float *xe, float *xi, float *be, float *bi, const float *ie,
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
    const nm_lif_exp_params *p = P->params;
    float *v = P->var[0], *xe = P->var[1], *xi = P->var[2];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext_used ? P->iext : NULL;
    int32_t *rf = P->refr;
    lif_consts c;
    c.el = (float)p->e_l; c.vth = (float)p->v_th; c.vres = (float)p->v_reset; c.tref = p->t_ref_steps;
    c.p22 = (float)p->p22; c.p11e = (float)p->p11e; c.p11i = (float)p->p11i;
    c.p21e = (float)p->p21e; c.p21i = (float)p->p21i; c.rs = (float)p->r_scale; c.i0 = (float)p->i_e;
    int64_t cnt = 0;
    if (ie) NM_FOR_BLOCKS(lo, hi, out, cnt, lif_block(&c, v, xe, xi, be, bi, ie, rf, i, k, 1));
    else NM_FOR_BLOCKS(lo, hi, out, cnt, lif_block(&c, v, xe, xi, be, bi, ie, rf, i, k, 0));
    return cnt;
}
NM_UPDATE_KERNEL(upd_lif_exp);

/* the synaptic inputs are voltages x = I tau_m / C_m: reported as currents I = x / r_scale (pA) */
static double lif_exp_readout(const void *params, int var) {
    return var >= 1 ? 1.0 / ((const nm_lif_exp_params *)params)->r_scale : 1.0;
}

const nm_model nm_model_lif_exp = {
    .name = "lif_exp", .weight_unit = "mV",
    .vars = LIF_EXP_VARS, .nvars = 3, .nports = 2, .granularity = 64,
    .params_size = sizeof(nm_lif_exp_params), .params = LIF_EXP_PARAMS, .nparams = sizeof LIF_EXP_PARAMS / sizeof LIF_EXP_PARAMS[0],
    .readout = lif_exp_readout,
    .update = upd_lif_exp_isa,
};
