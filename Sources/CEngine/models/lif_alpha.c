/* lif_alpha: leaky integrate-and-fire with alpha-shaped current synapses (NEST iaf_psc_alpha, NEST's
 * default neuron), exact integration (Rotter & Diesmann 1999).
 *
 *   C_m dv/dt = -(C_m/tau_m)(v - E_L) + I_exc + I_inh + I_e + I_ext
 *   dI_x/dt = dI_x - I_x/tau_x,  d(dI_x)/dt = -dI_x/tau_x     (I_x(t) = w (t/tau_x) e^{1 - t/tau_x}: peak w at tau_x)
 *   a spike of weight w (pA) on port x: dI_x += w e/tau_x
 *
 * Over a step (NEST's order): u = v - E_L goes to u p22 + p30 I + p31 dI + p32 I_syn from the values at
 * the step's start; then I_x = p21 dI_x + p11 I_x, dI_x = p11 dI_x; refractory neurons (t_ref steps after
 * a spike) hold v at V_reset while their currents go on; v >= V_min. The inputs arriving at t_n are
 * added to dI at the start of update n (NEST adds them at the end of the step ending at t_n: the same).
 * Swift side (propagators): Sources/SNN/Models/LIFAlpha.swift. */
#include "../snn_kernel.h"

typedef struct {
    double e_l, v_th, v_reset;   /* mV (v_th may be +inf) */
    int32_t t_ref_steps;         /* refractory period (steps) */
    double v_min;                /* lower bound of v (mV; -inf: none) */
    double p22;                  /* e^{-dt/tau_m} */
    double p30;                  /* (tau_m/C_m)(1 - e^{-dt/tau_m}): mV per pA of constant current */
    double p11e, p11i;           /* e^{-dt/tau_syn} per port */
    double p21e, p21i;           /* dt e^{-dt/tau_syn}: I from dI */
    double p31e, p31i;           /* u from dI over the step (mV per pA/ms) */
    double p32e, p32i;           /* u from I over the step (mV per pA) */
    double ke, ki;               /* e/tau_syn: the jump of dI per pA of weight */
    double i_e;                  /* pA */
} nm_lif_alpha_params;

static const nm_param LIF_ALPHA_PARAMS[] = {
    NM_PARAM(nm_lif_alpha_params, e_l, "mV", 0),
    NM_PARAM(nm_lif_alpha_params, v_th, "mV", NM_INF_OK),
    NM_PARAM(nm_lif_alpha_params, v_reset, "mV", 0),
    NM_PARAM_STEPS_(nm_lif_alpha_params, t_ref_steps),
    NM_PARAM(nm_lif_alpha_params, v_min, "mV", NM_INF_OK),
    NM_PARAM(nm_lif_alpha_params, p22, "1", NM_NONNEG),
    NM_PARAM(nm_lif_alpha_params, p30, "mV/pA", 0),
    NM_PARAM(nm_lif_alpha_params, p11e, "1", NM_NONNEG),
    NM_PARAM(nm_lif_alpha_params, p11i, "1", NM_NONNEG),
    NM_PARAM(nm_lif_alpha_params, p21e, "ms", 0),
    NM_PARAM(nm_lif_alpha_params, p21i, "ms", 0),
    NM_PARAM(nm_lif_alpha_params, p31e, "mV ms/pA", 0),
    NM_PARAM(nm_lif_alpha_params, p31i, "mV ms/pA", 0),
    NM_PARAM(nm_lif_alpha_params, p32e, "mV/pA", 0),
    NM_PARAM(nm_lif_alpha_params, p32i, "mV/pA", 0),
    NM_PARAM(nm_lif_alpha_params, ke, "1/ms", 0),
    NM_PARAM(nm_lif_alpha_params, ki, "1/ms", 0),
    NM_PARAM(nm_lif_alpha_params, i_e, "pA", 0),
};
static const nm_var LIF_ALPHA_VARS[] = {{"v", "mV"}, {"i_exc", "pA"}, {"i_inh", "pA"}, {"di_exc", "pA/ms"}, {"di_inh", "pA/ms"}};

typedef struct { float el, vth, vres, vmin, p22, p30, p11e, p11i, p21e, p21i, p31e, p31i, p32e, p32i, ke, ki, i0; int32_t tref; } alpha_consts;

NM_AI uint32_t alpha_block(const alpha_consts *c, float *v, float *ye, float *yi, float *de, float *di, float *be, float *bi,
                           const float *ie, int32_t *rf, int32_t i, int k, const int HAS_IE) {
    /* add the inputs arriving now: a weight w (pA) starts a current that peaks at w tau_syn later */
    const nm_vf d1 = vf_load_n(de + i, k) + vf_load_n(be + i, k) * c->ke, d2 = vf_load_n(di + i, k) + vf_load_n(bi + i, k) * c->ki;
    vf_store_n(be + i, vf_splat(0.0f), k);
    vf_store_n(bi + i, vf_splat(0.0f), k);
    const nm_vf i1 = vf_load_n(ye + i, k), i2 = vf_load_n(yi + i, k);
    const nm_vi r = vi_load_n(rf + i, k), ref = r > 0;
    /* integrate v exactly over the step from the state at its start; refractory: v holds */
    const nm_vf ri = HAS_IE ? c->p30 * (c->i0 + vf_load_n(ie + i, k)) : vf_splat(c->p30 * c->i0);
    const nm_vf v0 = vf_load_n(v + i, k);
    const nm_vf u = v0 - c->el;
    nm_vf x = ((((ri + u * c->p22) + d1 * c->p31e) + i1 * c->p32e) + d2 * c->p31i) + i2 * c->p32i + c->el;
    x = x < c->vmin ? vf_splat(c->vmin) : x;
    x = ref ? v0 : x;
    /* the alpha currents */
    vf_store_n(ye + i, d1 * c->p21e + i1 * c->p11e, k);
    vf_store_n(yi + i, d2 * c->p21i + i2 * c->p11i, k);
    vf_store_n(de + i, d1 * c->p11e, k);
    vf_store_n(di + i, d2 * c->p11i, k);
    /* threshold, reset */
    const nm_vi sp = (x >= c->vth) & ~ref;
    x = sp ? vf_splat(c->vres) : x;
    vi_store_n(rf + i, refr_next(r, ref, sp, c->tref), k);
    vf_store_n(v + i, x, k);
    return vmask_bits(sp) & lanes_below(k);
}

NM_UPDATE_BODY(upd_lif_alpha) {
    const nm_lif_alpha_params *p = P->params;
    float *v = P->var[0], *ye = P->var[1], *yi = P->var[2], *de = P->var[3], *di = P->var[4];
    const size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const float *ie = P->iext_used ? P->iext : NULL;
    int32_t *rf = P->refr;
    alpha_consts c;
    c.el = (float)p->e_l; c.vth = (float)p->v_th; c.vres = (float)p->v_reset; c.vmin = (float)p->v_min; c.tref = p->t_ref_steps;
    c.p22 = (float)p->p22; c.p30 = (float)p->p30; c.p11e = (float)p->p11e; c.p11i = (float)p->p11i;
    c.p21e = (float)p->p21e; c.p21i = (float)p->p21i; c.p31e = (float)p->p31e; c.p31i = (float)p->p31i;
    c.p32e = (float)p->p32e; c.p32i = (float)p->p32i; c.ke = (float)p->ke; c.ki = (float)p->ki; c.i0 = (float)p->i_e;
    int64_t cnt = 0;
    if (ie) NM_FOR_BLOCKS(lo, hi, out, cnt, alpha_block(&c, v, ye, yi, de, di, be, bi, ie, rf, i, k, 1));
    else NM_FOR_BLOCKS(lo, hi, out, cnt, alpha_block(&c, v, ye, yi, de, di, be, bi, ie, rf, i, k, 0));
    return cnt;
}
NM_UPDATE_KERNEL(upd_lif_alpha);

const nm_model nm_model_lif_alpha = {
    .name = "lif_alpha", .weight_unit = "pA",
    .vars = LIF_ALPHA_VARS, .nvars = 5, .nports = 2, .granularity = 64,
    .params_size = sizeof(nm_lif_alpha_params), .params = LIF_ALPHA_PARAMS,
    .nparams = sizeof LIF_ALPHA_PARAMS / sizeof LIF_ALPHA_PARAMS[0],
    .update = upd_lif_alpha_isa,
};
