/* izhikevich: Izhikevich (2003) simple model, forward Euler with u updated from the old v (NEST's
 * "consistent integration"), single precision.
 *
 *   dv/dt = 0.04 v^2 + 5 v + 140 - u + I;  du/dt = a (b v - u)
 *   v >= v_th (the peak): v = c, u += d;  inputs (mV) are added to v after the Euler step; v >= v_min
 *
 * Swift side: Sources/SNN/Models/Izhikevich.swift. */
#include "../snn_kernel.h"

typedef struct {
    double a, b;        /* 1/ms, 1 */
    double c, d;        /* mV, mV/ms */
    double v_th;        /* the peak (mV; may be +inf) */
    double i_e;         /* input (mV/ms, written pA as NEST does) */
    double v_min;       /* lower bound of v (mV; -inf: none) */
} nm_izhikevich_params;

static const nm_param IZHIKEVICH_PARAMS[] = {
    NM_PARAM(nm_izhikevich_params, a, "1/ms", 0),
    NM_PARAM(nm_izhikevich_params, b, "1", 0),
    NM_PARAM(nm_izhikevich_params, c, "mV", 0),
    NM_PARAM(nm_izhikevich_params, d, "mV/ms", 0),
    NM_PARAM(nm_izhikevich_params, v_th, "mV", NM_INF_OK),
    NM_PARAM(nm_izhikevich_params, i_e, "pA", 0),
    NM_PARAM(nm_izhikevich_params, v_min, "mV", NM_INF_OK),
};
static const nm_var IZHIKEVICH_VARS[] = {{"v", "mV"}, {"u", "mV/ms"}};

typedef struct { float a, b, c, d, vth, i0, h, vmin; } izh_consts;

NM_AI uint32_t izh_block(const izh_consts *p, float *v, float *u, float *b, const float *ie, int32_t i, int k) {
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
    const nm_izhikevich_params *q = P->params;
    float *v = P->var[0], *u = P->var[1];
    float *b = P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n;
    const float *ie = P->iext;
    izh_consts c;
    c.a = (float)q->a; c.b = (float)q->b; c.c = (float)q->c; c.d = (float)q->d;
    c.vth = (float)q->v_th; c.i0 = (float)q->i_e; c.h = (float)e->dt; c.vmin = (float)q->v_min;
    int64_t cnt = 0;
    NM_FOR_BLOCKS(lo, hi, out, cnt, izh_block(&c, v, u, b, ie, i, k));
    return cnt;
}
NM_UPDATE_KERNEL(upd_izh);

const nm_model nm_model_izhikevich = {
    .name = "izhikevich", .weight_unit = "mV",
    .vars = IZHIKEVICH_VARS, .nvars = 2, .nports = 1, .granularity = 64,
    .params_size = sizeof(nm_izhikevich_params), .params = IZHIKEVICH_PARAMS, .nparams = sizeof IZHIKEVICH_PARAMS / sizeof IZHIKEVICH_PARAMS[0],
    .update = upd_izh_isa,
};
