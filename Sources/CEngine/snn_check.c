/* Checks of the spiking engine: what a population or projection must satisfy before the engine
 * allocates for it or reads through its arrays (nm_engine_add_pop / add_proj, and so every loaded
 * network file), and the run-time check that stops a run whose state became non-finite. See nm_snn.h. */
#include "nm_snn.h"
#include "snn_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- populations ---- */

/* The model's parameters from (name, value) pairs: every parameter of the model exactly once, each
 * checked against its type and rules (snn_model.h), then the model's own check across parameters. */
int nm_check_pop(const char *model_name, int32_t n, int nparams, const char *const *names, const double *values,
                 const nm_model **model, void *params, char *err, size_t len) {
    const nm_model *M = nm_model_find(model_name);
    if (!M) {
        char known[256];
        size_t k = 0;
        known[0] = 0;
        for (int j = 0; nm_models[j] && k < sizeof known; j++)
            k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", j ? ", " : "", nm_models[j]->name);
        snprintf(err, len, "unknown neuron model '%.64s' (known: %s)", model_name ? model_name : "", known);
        return -1;
    }
    *model = M;
    if (n < 0 || n > (1 << 30)) { snprintf(err, len, "size %d is outside [0, 2^30]", (int)n); return -1; }
    if (nparams < 0 || (nparams > 0 && (!names || !values))) { snprintf(err, len, "model %s: no parameters given", M->name); return -1; }
    unsigned char seen[256] = {0};
    if (M->nparams > (int)sizeof seen) { snprintf(err, len, "model %s: too many parameters", M->name); return -1; }
    for (int k = 0; k < nparams; k++) {
        const nm_param *p = nm_model_param(M, names[k]);
        if (!p) {
            snprintf(err, len, "model %s has no parameter '%.64s'", M->name, names[k] ? names[k] : "");
            return -1;
        }
        const int j = (int)(p - M->params);
        if (seen[j]++) { snprintf(err, len, "model %s: parameter %s is given twice", M->name, p->name); return -1; }
        const char *why = nm_param_set(p, params, values[k]);
        if (why) { snprintf(err, len, "model %s: parameter %s = %g %s", M->name, p->name, values[k], why); return -1; }
    }
    for (int j = 0; j < M->nparams; j++)
        if (!seen[j]) { snprintf(err, len, "model %s: parameter %s (%s) is missing", M->name, M->params[j].name, M->params[j].unit); return -1; }
    char why[160];
    if (M->check && M->check(params, why, sizeof why)) { snprintf(err, len, "model %s: %s", M->name, why); return -1; }
    return 0;
}

double nm_readout_scale(const nm_engine *e, int pop, int var) {
    if (pop < 0 || pop >= e->npops || var < 0 || var >= e->pops[pop].nvars) return 0;
    const pop_t *P = &e->pops[pop];
    return P->model->readout ? P->model->readout(P->params, var) : 1.0;
}

/* ---- projections ---- */

static const char *kind_name(int kind) {
    switch (kind) {
    case NM_PROJ_SPARSE: return "sparse";
    case NM_PROJ_DENSE: return "dense";
    case NM_PROJ_CONV: return "conv";
    case NM_PROJ_MAXPOOL: return "maxpool";
    default: return "unknown";
    }
}

/* conv / maxpool: positive sizes, the populations' sizes, and out = (in + 2 pad - k) / stride + 1 */
static int check_geometry(const nm_proj_desc *d, int64_t npre, int64_t npost, char *err, size_t len) {
    const char *kn = kind_name(d->kind);
    const int32_t dims[6] = {d->in_h, d->in_w, d->in_c, d->out_h, d->out_w, d->out_c};
    const char *names[6] = {"in_h", "in_w", "in_c", "out_h", "out_w", "out_c"};
    for (int k = 0; k < 6; k++)
        if (dims[k] < 1 || dims[k] > 65535) { snprintf(err, len, "%s geometry: %s = %d is outside [1, 65535]", kn, names[k], (int)dims[k]); return -1; }
    if (d->k_h < 1 || d->k_w < 1 || d->k_h > 65535 || d->k_w > 65535) {
        snprintf(err, len, "%s geometry: kernel %d x %d must have sides in [1, 65535]", kn, (int)d->k_h, (int)d->k_w);
        return -1;
    }
    if (d->stride < 1 || d->stride > 65535) { snprintf(err, len, "%s geometry: stride %d must be in [1, 65535]", kn, (int)d->stride); return -1; }
    const int32_t kmax = d->k_h > d->k_w ? d->k_h : d->k_w;
    if (d->pad < 0 || d->pad >= kmax) {
        snprintf(err, len, "%s geometry: padding %d must be >= 0 and smaller than the kernel (%d x %d)", kn, (int)d->pad, (int)d->k_h, (int)d->k_w);
        return -1;
    }
    if (d->depthwise != 0 && d->depthwise != 1) { snprintf(err, len, "%s geometry: depthwise must be 0 or 1", kn); return -1; }
    if (d->kind == NM_PROJ_MAXPOOL && (!d->depthwise || 2 * d->pad > d->k_h || 2 * d->pad > d->k_w)) {
        snprintf(err, len, "maxpool geometry: pooling is depthwise, with padding at most half the kernel");
        return -1;
    }
    if ((d->depthwise || d->kind == NM_PROJ_MAXPOOL) && d->in_c != d->out_c) {
        snprintf(err, len, "%s geometry: depthwise needs in_c == out_c (%d vs %d)", kn, (int)d->in_c, (int)d->out_c);
        return -1;
    }
    const int64_t eh = (int64_t)d->in_h + 2 * (int64_t)d->pad - d->k_h, ew = (int64_t)d->in_w + 2 * (int64_t)d->pad - d->k_w;
    if (eh < 0 || ew < 0) {
        snprintf(err, len, "%s geometry: kernel %d x %d is larger than the padded input %lld x %lld", kn, (int)d->k_h, (int)d->k_w,
                 (long long)d->in_h + 2 * d->pad, (long long)d->in_w + 2 * d->pad);
        return -1;
    }
    if (eh / d->stride + 1 != d->out_h || ew / d->stride + 1 != d->out_w) {
        snprintf(err, len, "%s geometry: output %d x %d does not follow from input %d x %d, kernel %d x %d, stride %d, padding %d "
                 "(expected %lld x %lld)", kn, (int)d->out_h, (int)d->out_w, (int)d->in_h, (int)d->in_w, (int)d->k_h, (int)d->k_w,
                 (int)d->stride, (int)d->pad, (long long)(eh / d->stride + 1), (long long)(ew / d->stride + 1));
        return -1;
    }
    if (d->kind == NM_PROJ_CONV && !d->depthwise && ((int64_t)d->in_w + 2 * (int64_t)d->pad) * d->in_c * d->out_c > INT32_MAX - 64) {
        /* delivery addresses kernel slices relative to a padded source row by 32-bit offsets */
        snprintf(err, len, "%s geometry: padded input width %lld x %d input x %d output channels exceeds 2^31", kn,
                 (long long)d->in_w + 2 * d->pad, (int)d->in_c, (int)d->out_c);
        return -1;
    }
    const int64_t in = (int64_t)d->in_h * d->in_w * d->in_c, out = (int64_t)d->out_h * d->out_w * d->out_c;
    if (in != npre || out != npost) {
        snprintf(err, len, "%s geometry: %lld -> %lld neurons does not match the population sizes %lld -> %lld", kn,
                 (long long)in, (long long)out, (long long)npre, (long long)npost);
        return -1;
    }
    return 0;
}

int nm_check_proj_shape(const nm_engine *e, const nm_proj_desc *d, char *err, size_t len) {
    if (!d) { snprintf(err, len, "projection: no description"); return -1; }
    if (d->pre < 0 || d->pre >= e->npops || d->post < 0 || d->post >= e->npops) {
        snprintf(err, len, "projection: population %d -> %d does not exist (the network has %d)", (int)d->pre, (int)d->post, e->npops);
        return -1;
    }
    const pop_t *Q = &e->pops[d->post];
    if (Q->is_source) { snprintf(err, len, "projection: a spike source (population %d) cannot receive synapses", (int)d->post); return -1; }
    if (d->port < 0 || d->port >= Q->nports) {
        snprintf(err, len, "projection: the target model has no receptor port %d (it has %d)", (int)d->port, Q->nports);
        return -1;
    }
    if (d->kind < NM_PROJ_SPARSE || d->kind > NM_PROJ_MAXPOOL) { snprintf(err, len, "projection: unknown kind %d", (int)d->kind); return -1; }
    const char *kn = kind_name(d->kind);
    if (d->delay < 0 || d->delay > 65535) {
        snprintf(err, len, "%s projection: delay %d steps is outside [0, 65535]", kn, (int)d->delay);
        return -1;
    }
    if (d->delays && d->kind != NM_PROJ_SPARSE) { snprintf(err, len, "%s projection: per-synapse delays are for sparse projections only", kn); return -1; }
    const int64_t npre = e->pops[d->pre].n, npost = Q->n;
    const pop_t *S = &e->pops[d->pre];
    if ((d->kind == NM_PROJ_CONV || d->kind == NM_PROJ_MAXPOOL) && S->model->multi_spike && S->model->multi_spike(S)) {
        snprintf(err, len, "%s projection: its source (population %d, %s) may spike several times per step; convolution and "
                 "max-pool delivery need at most one spike per neuron and step (a poisson source with bernoulli = 1)", kn, (int)d->pre,
                 S->model->name);
        return -1;
    }
    switch (d->kind) {
    case NM_PROJ_SPARSE:
        if (!d->rowptr) { snprintf(err, len, "sparse projection: missing row pointers"); return -1; }
        break;
    case NM_PROJ_DENSE:
        if (!d->w) { snprintf(err, len, "dense projection: missing weights"); return -1; }
        break;
    case NM_PROJ_CONV:
        if (!d->w) { snprintf(err, len, "conv projection: missing kernel"); return -1; }
        return check_geometry(d, npre, npost, err, len);
    case NM_PROJ_MAXPOOL:
        return check_geometry(d, npre, npost, err, len);
    }
    return 0;
}

int nm_check_proj(const nm_engine *e, const nm_proj_desc *d, char *err, size_t len) {
    if (nm_check_proj_shape(e, d, err, len)) return -1;
    if (d->kind != NM_PROJ_SPARSE) return 0;
    /* CSR: rows start at 0 and never go back; targets in range and ascending within a row (delivery
     * splits rows between threads by binary search); per-synapse delays >= 1 step */
    const int32_t npre = e->pops[d->pre].n, npost = e->pops[d->post].n;
    const int64_t *rp = d->rowptr;
    if (rp[0] != 0) { snprintf(err, len, "sparse projection: row pointers start at %lld, not 0", (long long)rp[0]); return -1; }
    for (int32_t i = 0; i < npre; i++) {
        if (rp[i + 1] < rp[i]) {
            snprintf(err, len, "sparse projection: row pointer %d (%lld) is smaller than row pointer %d (%lld)", (int)i + 1,
                     (long long)rp[i + 1], (int)i, (long long)rp[i]);
            return -1;
        }
        if (rp[i + 1] - rp[i] > INT32_MAX) { snprintf(err, len, "sparse projection: row %d has more than 2^31 synapses", (int)i); return -1; }
    }
    const int64_t nnz = rp[npre];
    if (nnz > 0 && !d->col) { snprintf(err, len, "sparse projection: missing targets"); return -1; }
    const int32_t *col = d->col;
    for (int32_t i = 0; i < npre; i++) {
        for (int64_t k = rp[i]; k < rp[i + 1]; k++) {
            if ((uint32_t)col[k] >= (uint32_t)npost) {
                snprintf(err, len, "sparse projection: row %d: target %d is out of range (the target population has %d neurons)", (int)i,
                         (int)col[k], (int)npost);
                return -1;
            }
            if (k > rp[i] && col[k] < col[k - 1]) { snprintf(err, len, "sparse projection: row %d's targets are not ascending", (int)i); return -1; }
        }
    }
    if (d->delays)
        for (int64_t k = 0; k < nnz; k++)
            if (d->delays[k] < 1) { snprintf(err, len, "sparse projection: synapse %lld has a delay of 0 steps (per-synapse delays are >= 1)", (long long)k); return -1; }
    return 0;
}

/* ---- run-time faults ---- */

int nm_faults_prepare(nm_engine *e, int nt) {
    memset(&e->fault, 0, sizeof e->fault);
    if (!e->fslots || e->fslots_nt < nt) {
        nm_faults_free(e);
        void *p = NULL;
        if (posix_memalign(&p, 64, sizeof(nm_fault_slot) * 3 * (size_t)nt)) return -1;
        e->fslots = p;
        e->fslots_nt = nt;
    }
    memset(e->fslots, 0, sizeof(nm_fault_slot) * 3 * (size_t)e->fslots_nt);
    return 0;
}

void nm_faults_free(nm_engine *e) {
    free(e->fslots);
    e->fslots = NULL;
    e->fslots_nt = 0;
}

/* 1 if every x[0..n) is finite: an exponent field of all ones is NaN or +-inf. Integer operations only,
 * so the loop vectorizes (an OR reduction) and does not depend on floating-point flags. */
static int all_finite(const float *x, int32_t n) {
    uint32_t bad = 0;
    for (int32_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

void nm_faults_publish(nm_engine *e, int nt, int b, int t, int64_t n1, int check, int64_t ok_step) {
    nm_fault *out = &e->fslots[b * e->fslots_nt + t].f;
    const nm_fault *own = &e->fslots[2 * e->fslots_nt + t].f;
    (void)nt;
    if (own->kind) { *out = *own; return; }
    out->kind = NM_FAULT_NONE;
    if (!check) return;
    for (int p = 0; p < e->npops; p++) {
        const pop_t *P = &e->pops[p];
        const int32_t lo = e->range[(t * e->npops + p) * 2], hi = e->range[(t * e->npops + p) * 2 + 1];
        if (lo >= hi) continue;
        for (int v = 0; v < P->nvars; v++) {
            const float *x = P->var[v];
            if (all_finite(x + lo, hi - lo)) continue;
            int32_t i = lo;
            while (isfinite(x[i])) i++;
            out->kind = NM_FAULT_NONFINITE;
            out->pop = p; out->var = v; out->neuron = i;
            out->step_lo = ok_step; out->step_hi = n1;
            out->value = x[i];
            return;
        }
    }
}

/* Faults of one interval in a fixed order: earliest step_hi, then a solver fault before a non-finite
 * state found at the check, then population, variable and neuron. */
static int before(const nm_fault *a, const nm_fault *b) {
    if (a->step_hi != b->step_hi) return a->step_hi < b->step_hi;
    const int sa = a->kind != NM_FAULT_NONFINITE, sb = b->kind != NM_FAULT_NONFINITE;
    if (sa != sb) return sa;
    if (a->pop != b->pop) return a->pop < b->pop;
    if (a->var != b->var) return a->var < b->var;
    return a->neuron < b->neuron;
}

int nm_faults_first(const nm_engine *e, int nt, int b, nm_fault *out) {
    const nm_fault *best = NULL;
    for (int t = 0; t < nt; t++) {
        const nm_fault *f = &e->fslots[b * e->fslots_nt + t].f;
        if (f->kind && (!best || before(f, best))) best = f;
    }
    if (best && out) *out = *best;
    return best != NULL;
}

int nm_engine_fault(const nm_engine *e, nm_fault *f) {
    if (f) *f = e->fault;
    return e->fault.kind;
}

static const char *value_name(double x) { return isnan(x) ? "NaN" : (x > 0 ? "+inf" : "-inf"); }

int nm_fault_describe(const nm_engine *e, const nm_fault *f, const char *pop_name, const char *var_name, char *buf, size_t len) {
    char pn[64], vn[64];
    if (!pop_name || !*pop_name) { snprintf(pn, sizeof pn, "population %d", (int)f->pop); pop_name = pn; }
    if (!var_name || !*var_name) { snprintf(vn, sizeof vn, "variable %d", (int)f->var); var_name = vn; }
    const double t0 = (double)f->step_lo * e->dt, t1 = (double)f->step_hi * e->dt;
    switch (f->kind) {
    case NM_FAULT_NONFINITE:
        if (f->step_hi - f->step_lo == 1)
            return snprintf(buf, len, "%s.%s became %s in the step from t = %g ms to t = %g ms, neuron %d; a weight, input current or "
                            "parameter is probably far too large", pop_name, var_name, value_name(f->value), t0, t1, (int)f->neuron);
        return snprintf(buf, len, "%s.%s became %s between t = %g ms and t = %g ms, neuron %d (the first non-finite value; the state "
                        "is checked every %d steps); a weight, input current or parameter is probably far too large", pop_name, var_name,
                        value_name(f->value), t0, t1, (int)f->neuron, NM_CHECK_STEPS);
    case NM_FAULT_SOLVER_STEPS:
        return snprintf(buf, len, "%s: the AdEx solver needed more than %d internal steps for neuron %d in the step from t = %g ms to "
                        "t = %g ms (its step size collapsed): the input current, a weight or a parameter is probably far too large "
                        "(a neuron driven to fire many times per time step)", pop_name, NM_ADEX_MAX_STEPS, (int)f->neuron, t0, t1);
    case NM_FAULT_SOLVER_FAILED:
        return snprintf(buf, len, "%s: the AdEx solver failed (GSL status %d) for neuron %d in the step from t = %g ms to t = %g ms: "
                        "the input current, a weight or a parameter is probably far too large", pop_name, (int)f->value,
                        (int)f->neuron, t0, t1);
    case NM_FAULT_SPIKES_PER_STEP:
        return snprintf(buf, len, "%s: neuron %d reached V_peak a second time within the step from t = %g ms to t = %g ms, and the "
                        "engine records at most one spike per neuron and step: the input current or a weight is probably far too "
                        "large (or give t_ref >= dt = %g ms, or a smaller dt)", pop_name, (int)f->neuron, t0, t1, e->dt);
    default:
        return snprintf(buf, len, "no fault");
    }
}
