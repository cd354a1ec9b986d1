/* if: non-leaky integrate-and-fire with delta synapses (what ANN conversion uses).
 *
 *   v <- (v + input) + (I_e + I_ext) dt/C        inputs (mV) arrive through one port
 *   v >= v_th: spike; v -= v_th - v_reset (reset_mode 1, subtract) or v = v_reset (reset_mode 0)
 *   refractory: t_ref steps after a spike v holds and inputs are dropped; v >= v_min
 *
 * In float, in this order: input = 0 + w_1 + w_2 + ... (the ring buffer's slot, in arrival order); but
 * when every projection onto the population is same-step (zero delay), no Poisson input feeds it and
 * t_ref = 0 (a converted network's layers), the inputs are added to v itself as they arrive
 * (P->direct), v + w_1 + w_2 + ..., and the update reads no ring buffer. An external current that
 * repeats with a period of 16..256 neurons (a converted layer's bias per channel) is read as one table
 * of (I_e + I_ext) dt/C values (P->iext_period), computed by the same float operations.
 *
 * Populations without incoming synapses (an ANN's first layer driven by a current) skip the ring
 * buffer; without a refractory period the counters are skipped; sources of same-step pooling also
 * leave their spike bits (16 per word) and, when nobody reads their spike list (P->no_list), only count
 * their spikes (and add them to the per-neuron counts, which the run loop keeps from the list otherwise). Swift side: Sources/SNN/Models/IF.swift. */
#include "../snn_kernel.h"

typedef struct {
    double v_th;           /* threshold (mV; +inf: never fires, e.g. a converted output layer) */
    double v_reset;        /* reset potential (mV) */
    int32_t reset_mode;    /* 1: subtract v_th - v_reset (keeps the surplus), 0: set v = v_reset */
    double current_scale;  /* dt / C_m: mV per pA and step */
    double i_e;            /* constant input current (pA) */
    int32_t t_ref_steps;   /* refractory period (steps) */
    double v_min;          /* lower bound of v (mV; -inf: none) */
} nm_if_params;

static const nm_param IF_PARAMS[] = {
    NM_PARAM(nm_if_params, v_th, "mV", NM_INF_OK),
    NM_PARAM(nm_if_params, v_reset, "mV", 0),
    NM_PARAM_FLAG_(nm_if_params, reset_mode),
    NM_PARAM(nm_if_params, current_scale, "mV/pA", 0),
    NM_PARAM(nm_if_params, i_e, "pA", 0),
    NM_PARAM_STEPS_(nm_if_params, t_ref_steps),
    NM_PARAM(nm_if_params, v_min, "mV", NM_INF_OK),
};
static const nm_var IF_VARS[] = {{"v", "mV"}};

/* the block's parameters in the kernel's precision */
typedef struct { float vth, vres, jump, i0, cs, vmin; int32_t tref; } if_consts;

/* Advances the k neurons of the block at i; returns their spikes as a mask vector (-1 where one
 * spiked; lanes >= k 0). cur: the block's external current, per neuron (ie + i: (I_e + I_ext) dt/C
 * computed here) or, PER, from the table of a periodic current (already (I_e + I_ext) dt/C, the same
 * float operations). */
NM_AI nm_vi if_lanes(const if_consts *c, float *v, float *b, const float *cur, int32_t *rf, int32_t *pc, int32_t i, int k,
                     const int HAS_B, const int USE_REFR, const int SUB, const int COUNT, const int PER) {
    /* add the inputs arriving now and the current */
    const nm_vf v0 = vf_load_n(v + i, k);
    nm_vf x = v0;
    if (HAS_B) {
        x = x + vf_load_n(b + i, k);
        vf_store_n(b + i, vf_splat(0.0f), k);
    }
    x = x + (PER ? vf_load(cur) : (c->i0 + vf_load_n(cur, k)) * c->cs);
    /* refractory: v holds, inputs are dropped */
    nm_vi r = 0, ref = 0;
    if (USE_REFR) {
        r = vi_load_n(rf + i, k);
        ref = r > 0;
        x = ref ? v0 : x;
    }
    /* lower bound, threshold, reset */
    x = x < c->vmin ? vf_splat(c->vmin) : x;
    nm_vi sp = (x >= c->vth) & ~ref;
    if (k < NM_LANES) sp &= vi_iota() < k;
    x = sp ? (SUB ? x - c->jump : vf_splat(c->vres)) : x;
    if (USE_REFR) vi_store_n(rf + i, refr_next(r, ref, sp, c->tref), k);
    vf_store_n(v + i, x, k);
    if (COUNT) vi_store_n(pc + i, vi_load_n(pc + i, k) - sp, k);   /* per-neuron counts (sp: -1 where it spiked) */
    return sp;
}

/* The same, returning the spike bits (and leaving them in bits, if any: lo is a multiple of 16). */
NM_AI uint32_t if_block(const if_consts *c, float *v, float *b, const float *cur, int32_t *rf, uint16_t *bits, int32_t *pc,
                        int32_t i, int k, const int HAS_B, const int USE_REFR, const int SUB, const int COUNT, const int PER) {
    const uint32_t m = vmask_bits(if_lanes(c, v, b, cur, rf, pc, i, k, HAS_B, USE_REFR, SUB, COUNT, PER));
    if (bits) bits[i >> 4] = (uint16_t)m;
    return m;
}

/* The table entry of the next block of a periodic current (j: where it starts, advanced by 16 and
 * wrapping at the period). */
NM_AI const float *next_cur(const float *tab, int32_t *j, int32_t per) {
    const float *r = tab + *j;
    *j = *j + 16 == per ? 0 : *j + 16;
    return r;
}

/* Without a spike list (P->no_list, a converted network's layers): whole blocks count their spikes in
 * a vector (a lane subtraction instead of a mask move and a popcount per block), the bits stored only
 * where someone reads them (BITS: compiled apart, not tested per block). */
NM_AI int64_t if_count(const if_consts *c, float *v, float *b, const float *ie, int32_t *rf, uint16_t *bits, int32_t *pc,
                       int32_t lo, int32_t hi, const int HAS_B, const int USE_REFR, const int SUB, const int COUNT, const int PER,
                       int32_t per, const int BITS) {
    int32_t j = PER ? lo % per : 0, i = lo;
    nm_vi acc = vi_splat(0);
    for (; i + NM_LANES <= hi; i += NM_LANES) {
        const nm_vi sp = if_lanes(c, v, b, PER ? next_cur(ie, &j, per) : ie + i, rf, pc, i, NM_LANES, HAS_B, USE_REFR, SUB, COUNT, PER);
        if (BITS) bits[i >> 4] = (uint16_t)vmask_bits(sp);
        acc -= sp;
    }
    int64_t cnt = 0;
    for (int q = 0; q < NM_LANES; q++) cnt += acc[q];
    if (i < hi) cnt += __builtin_popcount(if_block(c, v, b, PER ? ie + j : ie + i, rf, BITS ? bits : NULL, pc, i, hi - i, HAS_B, USE_REFR, SUB, COUNT, PER));
    return cnt;
}

NM_AI int64_t if_loop(const int isa, const if_consts *c, float *v, float *b, const float *ie, int32_t *rf, uint16_t *bits,
                      int32_t *pc, int32_t lo, int32_t hi, int32_t *out, const int HAS_B, const int USE_REFR, const int SUB,
                      const int PER, int32_t per) {
    int64_t cnt = 0;
    int32_t j = PER ? lo % per : 0;
    /* converted networks: most blocks of IF neurons spike every step */
    if (out) {
        NM_FOR_BLOCKS_WITH(compact_bits_all, lo, hi, out, cnt,
                           if_block(c, v, b, PER ? next_cur(ie, &j, per) : ie + i, rf, bits, pc, i, k, HAS_B, USE_REFR, SUB, 0, PER));
        return cnt;
    }
    if (pc) return bits ? if_count(c, v, b, ie, rf, bits, pc, lo, hi, HAS_B, USE_REFR, SUB, 1, PER, per, 1)
                        : if_count(c, v, b, ie, rf, bits, pc, lo, hi, HAS_B, USE_REFR, SUB, 1, PER, per, 0);
    return bits ? if_count(c, v, b, ie, rf, bits, pc, lo, hi, HAS_B, USE_REFR, SUB, 0, PER, per, 1)
                : if_count(c, v, b, ie, rf, bits, pc, lo, hi, HAS_B, USE_REFR, SUB, 0, PER, per, 0);
}

/* Inputs may go straight to v unless they have to be dropped while refractory. */
static int if_direct_ok(const pop_t *P) { return ((const nm_if_params *)P->params)->t_ref_steps == 0; }

NM_UPDATE_BODY(upd_if) {
    const nm_if_params *p = P->params;
    float *v = P->var[0];
    /* inputs: this step's ring-buffer slot, or none (no projections; or P->direct: already added to v) */
    float *b = P->has_input && !P->direct ? P->buf[0] + (size_t)(n % e->nslots) * (size_t)P->n : NULL;
    if_consts c;
    c.vth = (float)p->v_th; c.vres = (float)p->v_reset; c.cs = (float)p->current_scale; c.i0 = (float)p->i_e;
    c.vmin = (float)p->v_min; c.tref = p->t_ref_steps;
    c.jump = c.vth - c.vres;
    const int use_refr = c.tref > 0, sub = p->reset_mode != 0;
    const float *ie = P->iext;
    int32_t *rf = P->refr;
    uint16_t *bits = P->spk_bits;
    /* without a list (out NULL: P->no_list) the update keeps the per-neuron counts itself */
    int32_t *pc = !out && !P->no_per_neuron ? P->per_neuron : NULL;
    /* a periodic current (a converted layer's bias per channel): one table of (I_e + I_ext) dt/C */
    const int32_t per = use_refr ? 0 : P->iext_period;
    float tab[NM_IEXT_PERIOD_MAX] __attribute__((aligned(64)));
    for (int32_t q = 0; q < per; q++) tab[q] = (c.i0 + ie[q]) * c.cs;
    if (per) ie = tab;
    /* the loop-invariant choices as separate loops (the refractory ones are rare: one form of current) */
#define IF_LOOP(HB, UR, SB, PR) if_loop(isa, &c, v, b, ie, rf, bits, pc, lo, hi, out, HB, UR, SB, PR, per)
    if (use_refr) {
        if (b) return sub ? IF_LOOP(1, 1, 1, 0) : IF_LOOP(1, 1, 0, 0);
        return sub ? IF_LOOP(0, 1, 1, 0) : IF_LOOP(0, 1, 0, 0);
    }
    if (b) {
        if (per) return sub ? IF_LOOP(1, 0, 1, 1) : IF_LOOP(1, 0, 0, 1);
        return sub ? IF_LOOP(1, 0, 1, 0) : IF_LOOP(1, 0, 0, 0);
    }
    if (per) return sub ? IF_LOOP(0, 0, 1, 1) : IF_LOOP(0, 0, 0, 1);
    return sub ? IF_LOOP(0, 0, 1, 0) : IF_LOOP(0, 0, 0, 0);
#undef IF_LOOP
}
NM_UPDATE_KERNEL(upd_if);

const nm_model nm_model_if = {
    .name = "if", .weight_unit = "mV",
    .vars = IF_VARS, .nvars = 1, .nports = 1, .granularity = 64, .spike_bits = 1, .direct_input = 1, .periodic_current = 1,
    .direct_ok = if_direct_ok,
    .params_size = sizeof(nm_if_params), .params = IF_PARAMS, .nparams = sizeof IF_PARAMS / sizeof IF_PARAMS[0],
    .update = upd_if_isa,
};
