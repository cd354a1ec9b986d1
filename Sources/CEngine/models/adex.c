/* adex: adaptive exponential integrate-and-fire with exponential conductances (Brette & Gerstner 2005;
 * NEST aeif_cond_exp), GSL's RKF45 with error control (as NEST), in double precision.
 *
 *   C dV/dt = -g_L (V - E_L) + g_L D_T exp((V - V_T)/D_T) - g_e (V - E_e) - g_i (V - E_i) - w + I
 *   tau_w dw/dt = a (V - E_L) - w;  dg/dt = -g/tau
 *   V >= V_peak: V = V_reset, w += b (checked after every internal step, as NEST does); V clamped to
 *   V_reset while refractory; V in the exponential is capped at V_peak (as NEST).
 *
 * Scalar code (the same on every vector path). Each neuron keeps its double state and the solver's last
 * step size; every population has one GSL workspace per thread. The work per neuron and step is
 * bounded: past NM_ADEX_MAX_STEPS internal steps (spiking at up to one spike per step needs <= ~160 at
 * dt 0.1-10 ms), a second spike within the step (t_ref < dt and a drive of ~1e5 pA or more: every further
 * upstroke costs ~100 internal steps, and only one spike per neuron and step can be recorded), a solver
 * error or a non-finite state, the thread raises a fault (the run stops at the end of the interval) and
 * integrates no further AdEx neurons.
 * Swift side: Sources/SNN/Models/AdEx.swift. */
#include "../snn_kernel.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double c_m;                  /* pF */
    double g_l, e_l;             /* nS, mV */
    double v_th, delta_t;        /* V_T and the slope factor Delta_T (mV; 0: no exponential term) */
    double tau_w, a, b;          /* ms, nS, pA */
    double v_reset;              /* mV */
    int32_t t_ref_steps;         /* refractory period (steps) */
    double v_peak;               /* spike detection (mV) */
    double e_e, e_i;             /* mV */
    double tau_e, tau_i;         /* synaptic time constants (ms) */
    double i_e;                  /* pA */
    double eps_abs, eps_rel;     /* GSL error control */
} nm_adex_params;

static const nm_param ADEX_PARAMS[] = {
    NM_PARAM(nm_adex_params, c_m, "pF", NM_POSITIVE),
    NM_PARAM(nm_adex_params, g_l, "nS", NM_NONNEG),
    NM_PARAM(nm_adex_params, e_l, "mV", 0),
    NM_PARAM(nm_adex_params, v_th, "mV", 0),
    NM_PARAM(nm_adex_params, delta_t, "mV", NM_NONNEG),
    NM_PARAM(nm_adex_params, tau_w, "ms", NM_POSITIVE),
    NM_PARAM(nm_adex_params, a, "nS", 0),
    NM_PARAM(nm_adex_params, b, "pA", 0),
    NM_PARAM(nm_adex_params, v_reset, "mV", 0),
    NM_PARAM_STEPS_(nm_adex_params, t_ref_steps),
    NM_PARAM(nm_adex_params, v_peak, "mV", 0),
    NM_PARAM(nm_adex_params, e_e, "mV", 0),
    NM_PARAM(nm_adex_params, e_i, "mV", 0),
    NM_PARAM(nm_adex_params, tau_e, "ms", NM_POSITIVE),
    NM_PARAM(nm_adex_params, tau_i, "ms", NM_POSITIVE),
    NM_PARAM(nm_adex_params, i_e, "pA", 0),
    NM_PARAM(nm_adex_params, eps_abs, "1", NM_NONNEG),
    NM_PARAM(nm_adex_params, eps_rel, "1", NM_NONNEG),
};
static const nm_var ADEX_VARS[] = {{"v", "mV"}, {"w", "pA"}, {"g_exc", "nS"}, {"g_inh", "nS"}};

static const char *adex_check(const void *params, char *why, size_t len) {
    const nm_adex_params *p = params;
    if (!(p->eps_abs > 0 || p->eps_rel > 0)) { snprintf(why, len, "eps_abs and eps_rel cannot both be 0"); return why; }
    return NULL;
}

typedef struct { gsl_odeiv2_step *s; gsl_odeiv2_control *c; gsl_odeiv2_evolve *ev; } adex_ws;
typedef struct {
    double *dstate;   /* [n][4]: V, w, g_e, g_i in double precision (the float state is a copy) */
    double *hstep;    /* [n]: the solver's last step size */
    int fresh;        /* the float state was (possibly) written: copy it into dstate before the next run */
    adex_ws *ws;      /* [nws] per-thread workspaces */
    int nws;
} adex_data;
typedef struct { const nm_adex_params *p; double iext; int refractory; } adex_ctx;

static int adex_rhs(double t, const double y[], double f[], void *params) {
    (void)t;
    const adex_ctx *ctx = params;
    const nm_adex_params *p = ctx->p;
    const double V = ctx->refractory ? p->v_reset : fmin(y[0], p->v_peak);
    const double w = y[1], ge = y[2], gi = y[3];
    const double ispike = p->delta_t == 0.0 ? 0.0 : p->g_l * p->delta_t * exp((V - p->v_th) / p->delta_t);
    f[0] = ctx->refractory ? 0.0
         : (-p->g_l * (V - p->e_l) + ispike - ge * (V - p->e_e) - gi * (V - p->e_i) - w + p->i_e + ctx->iext) / p->c_m;
    f[1] = (p->a * (V - p->e_l) - w) / p->tau_w;
    f[2] = -ge / p->tau_e;
    f[3] = -gi / p->tau_i;
    return GSL_SUCCESS;
}

static void free_workspaces(adex_data *d) {
    for (int t = 0; t < d->nws; t++) {
        if (d->ws[t].ev) gsl_odeiv2_evolve_free(d->ws[t].ev);
        if (d->ws[t].c) gsl_odeiv2_control_free(d->ws[t].c);
        if (d->ws[t].s) gsl_odeiv2_step_free(d->ws[t].s);
    }
    free(d->ws);
    d->ws = NULL;
    d->nws = 0;
}

static int adex_init(nm_engine *e, pop_t *P) {
    adex_data *d = calloc(1, sizeof *d);
    if (!d) return -1;
    P->ext = d;
    d->dstate = nm_calloc(e, (size_t)P->n * 4, sizeof(double));
    d->hstep = nm_calloc(e, (size_t)P->n, sizeof(double));
    d->fresh = 1;
    return d->dstate && d->hstep ? 0 : -1;
}

static void adex_release(pop_t *P) {
    adex_data *d = P->ext;
    if (!d) return;
    free_workspaces(d);
    free(d->dstate);
    free(d->hstep);
    free(d);
    P->ext = NULL;
}

static void adex_mark_fresh(pop_t *P) { ((adex_data *)P->ext)->fresh = 1; }
static void adex_reset(nm_engine *e, pop_t *P) { (void)e; adex_mark_fresh(P); }

/* Before a run: the double state from the float state (if it may have been written), and one solver
 * workspace per thread. */
static int adex_prepare(nm_engine *e, pop_t *P, int nt) {
    adex_data *d = P->ext;
    const nm_adex_params *p = P->params;
    if (d->fresh) {
        for (int32_t i = 0; i < P->n; i++) {
            for (int k = 0; k < 4; k++) d->dstate[(size_t)i * 4 + k] = P->var[k][i];
            d->hstep[i] = e->dt;
        }
        d->fresh = 0;
    }
    gsl_set_error_handler_off();
    if (d->ws && d->nws >= nt) return 0;
    free_workspaces(d);
    if (!(d->ws = calloc((size_t)nt, sizeof(adex_ws)))) return -1;
    d->nws = nt;
    for (int t = 0; t < nt; t++) {
        d->ws[t].s = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rkf45, 4);
        d->ws[t].c = gsl_odeiv2_control_y_new(p->eps_abs, p->eps_rel);
        d->ws[t].ev = gsl_odeiv2_evolve_alloc(4);
        if (!d->ws[t].s || !d->ws[t].c || !d->ws[t].ev) return -1;
    }
    return 0;
}

static int adex_fault(nm_engine *e, pop_t *P, int thread, int kind, int var, int32_t i, int64_t n, double value) {
    nm_fault *f = nm_thread_fault(e, thread);
    f->kind = kind; f->pop = (int32_t)(P - e->pops); f->var = var; f->neuron = i;
    f->step_lo = n; f->step_hi = n + 1; f->value = value;
    return 1;
}

static int64_t upd_adex(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out, int thread) {
    if (nm_thread_fault(e, thread)->kind) return 0;   /* this thread already stopped the run */
    adex_data *d = P->ext;
    adex_ws *ws = &d->ws[thread];
    uint8_t *fl = e->scratch[thread];
    size_t off = (size_t)(n % e->nslots) * (size_t)P->n;
    float *be = P->buf[0] + off, *bi = P->buf[1] + off;
    const nm_adex_params *p = P->params;
    const double dt = e->dt, vres = p->v_reset, vpeak = p->v_peak, bw = p->b;
    const int32_t tref = p->t_ref_steps;
    adex_ctx ctx = { p, 0.0, 0 };
    gsl_odeiv2_system sys = { adex_rhs, NULL, 4, &ctx };
    for (int32_t i = lo; i < hi; i++) {
        /* add the conductance jumps arriving now */
        double *y = d->dstate + (size_t)i * 4;
        y[2] += be[i]; y[3] += bi[i];
        be[i] = 0.0f; bi[i] = 0.0f;
        if (P->refr[i] > 0) P->refr[i]--;
        ctx.iext = P->iext[i];
        /* integrate over the step, threshold after every internal step */
        double t = 0.0, h = d->hstep[i];
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
        d->hstep[i] = h;
        for (int k = 0; k < 4; k++) P->var[k][i] = (float)y[k];
        fl[i - lo] = (uint8_t)sp;
        if (stop) { memset(fl + (i - lo), 0, (size_t)(hi - i)); break; }
    }
    return nm_scan_flags(fl, lo, hi, out);
}
NM_SCALAR_KERNEL(upd_adex);

const nm_model nm_model_adex = {
    .name = "adex", .weight_unit = "nS",
    .vars = ADEX_VARS, .nvars = 4, .nports = 2, .granularity = NM_RNG_BLOCK,
    .params_size = sizeof(nm_adex_params), .params = ADEX_PARAMS, .nparams = sizeof ADEX_PARAMS / sizeof ADEX_PARAMS[0],
    .check = adex_check, .init = adex_init, .release = adex_release, .reset = adex_reset, .prepare = adex_prepare,
    .state_written = adex_mark_fresh,
    .update = upd_adex_isa,
};
