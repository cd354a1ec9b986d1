/* lif_delta: leaky integrate-and-fire with delta synapses (NEST iaf_psc_delta; the neuron of Brunel
 * 2000), exact integration.
 *
 *   C_m dv/dt = -(C_m/tau_m)(v - E_L) + I_e + I_ext;   a spike of weight w arriving at t: v(t) += w (mV)
 *   v >= V_th: spike, v = V_reset, held there for t_ref; inputs arriving meanwhile are dropped (NEST's
 *   default, refractory_input = false); v >= V_min
 *
 * Over a step u = v - E_L goes to p30 I + p22 u + (the weights arriving at the step's end), as NEST: an
 * input arriving at t moves v in the step ending at t (the sample at t has the jump), so the model has
 * input_lead: projections onto it write one ring-buffer slot earlier (snn_model.h) and it reads slot n
 * in update n. Swift side: Sources/SNN/Models/LIFDelta.swift. */
#include "../snn_kernel.h"

typedef struct {
    double e_l, v_th, v_reset;   /* mV (v_th may be +inf) */
    int32_t t_ref_steps;         /* refractory period (steps) */
    double v_min;                /* lower bound of v (mV; -inf: none) */
    double p22;                  /* e^{-dt/tau_m} */
    double p30;                  /* (tau_m/C_m)(1 - e^{-dt/tau_m}): mV per pA of constant current */
    double i_e;                  /* pA */
} nm_lif_delta_params;

static const nm_param LIF_DELTA_PARAMS[] = {
    NM_PARAM(nm_lif_delta_params, e_l, "mV", 0),
    NM_PARAM(nm_lif_delta_params, v_th, "mV", NM_INF_OK),
    NM_PARAM(nm_lif_delta_params, v_reset, "mV", 0),
    NM_PARAM_STEPS_(nm_lif_delta_params, t_ref_steps),
    NM_PARAM(nm_lif_delta_params, v_min, "mV", NM_INF_OK),
    NM_PARAM(nm_lif_delta_params, p22, "1", NM_NONNEG),
    NM_PARAM(nm_lif_delta_params, p30, "mV/pA", 0),
    NM_PARAM(nm_lif_delta_params, i_e, "pA", 0),
};
static const nm_var LIF_DELTA_VARS[] = {{"v", "mV"}};

typedef struct { float el, vth, vres, vmin, p22, p30, i0; int32_t tref; } delta_consts;

NM_AI uint32_t delta_block(const delta_consts *c, float *v, float *b, const float *ie, int32_t *rf, int32_t i, int k, const int HAS_IE) {
    /* the inputs arriving at the step's end (dropped while refractory) */
    const nm_vf w = vf_load_n(b + i, k);
    vf_store_n(b + i, vf_splat(0.0f), k);
    const nm_vi r = vi_load_n(rf + i, k), ref = r > 0;
    /* integrate v exactly over the step; refractory: v holds */
    const nm_vf ri = HAS_IE ? c->p30 * (c->i0 + vf_load_n(ie + i, k)) : vf_splat(c->p30 * c->i0);
    const nm_vf v0 = vf_load_n(v + i, k);
    nm_vf x = ((ri + (v0 - c->el) * c->p22) + w) + c->el;
    x = x < c->vmin ? vf_splat(c->vmin) : x;
    x = ref ? v0 : x;
    /* threshold, reset */
    const nm_vi sp = (x >= c->vth) & ~ref;
    x = sp ? vf_splat(c->vres) : x;
    vi_store_n(rf + i, refr_next(r, ref, sp, c->tref), k);
    vf_store_n(v + i, x, k);
    return vmask_bits(sp) & lanes_below(k);
}

NM_UPDATE_BODY(upd_lif_delta) {
    const nm_lif_delta_params *p = P->params;
    float *v = P->var[0];
    float *b = P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n;
    const float *ie = P->iext_used ? P->iext : NULL;
    int32_t *rf = P->refr;
    delta_consts c;
    c.el = (float)p->e_l; c.vth = (float)p->v_th; c.vres = (float)p->v_reset; c.vmin = (float)p->v_min; c.tref = p->t_ref_steps;
    c.p22 = (float)p->p22; c.p30 = (float)p->p30; c.i0 = (float)p->i_e;
    int64_t cnt = 0;
    if (ie) NM_FOR_BLOCKS(lo, hi, out, cnt, delta_block(&c, v, b, ie, rf, i, k, 1));
    else NM_FOR_BLOCKS(lo, hi, out, cnt, delta_block(&c, v, b, ie, rf, i, k, 0));
    return cnt;
}
NM_UPDATE_KERNEL(upd_lif_delta);

const nm_model nm_model_lif_delta = {
    .name = "lif_delta", .weight_unit = "mV",
    .vars = LIF_DELTA_VARS, .nvars = 1, .nports = 1, .input_lead = 1, .granularity = 64,
    .params_size = sizeof(nm_lif_delta_params), .params = LIF_DELTA_PARAMS,
    .nparams = sizeof LIF_DELTA_PARAMS / sizeof LIF_DELTA_PARAMS[0],
    .update = upd_lif_delta_isa,
};
