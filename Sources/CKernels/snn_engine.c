/* neuromorph spiking engine: populations, ring buffers, projections, the run loop. See nm_snn.h. */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

void nm_free(void *p) { free(p); }

/* ---- spin-then-sleep barrier for the run loop ----
 * Threads meet once per min-delay interval (every 0.2 ms of simulated time in the benchmark networks,
 * i.e. every few microseconds of work). On a quiet machine the partner arrives within microseconds, so
 * waiting threads spin (with pause); if it does not arrive within `spin_ns` (its core was probably
 * taken by another process) they sleep on a futex instead of burning the core the late thread needs.
 * libomp's own barrier can only spin for whole milliseconds (KMP_BLOCKTIME) or not at all. */
#include <stdatomic.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>
#include <limits.h>
#define NM_PAUSE() nm_cpu_relax()

typedef struct nm_barrier {
    _Atomic int count;
    _Atomic int sense;
    _Atomic int waiters;
    int n;
} nm_barrier;

static _Atomic long nm_spin_ns = 50000;   /* 50 us; NM_SPIN_US or nm_set_spin_us override */
static _Atomic int nm_spin_init = 0;

void nm_set_spin_us(int us) { atomic_store(&nm_spin_ns, (long)us * 1000); atomic_store(&nm_spin_init, 1); }
int nm_get_spin_us(void) { return (int)(atomic_load(&nm_spin_ns) / 1000); }

static long spin_budget_ns(void) {
    if (!atomic_load(&nm_spin_init)) {
        const char *env = getenv("NM_SPIN_US");
        if (env && *env) atomic_store(&nm_spin_ns, atol(env) * 1000L);
        atomic_store(&nm_spin_init, 1);
    }
    return atomic_load(&nm_spin_ns);
}

static inline long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void barrier_wait(nm_barrier *b, int *local_sense, long spin_ns) {
    const int s = !*local_sense;
    *local_sense = s;
    if (atomic_fetch_add(&b->count, 1) == b->n - 1) {
        atomic_store(&b->count, 0);
        atomic_store(&b->sense, s);
        if (atomic_load(&b->waiters) > 0) syscall(SYS_futex, &b->sense, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        return;
    }
    long start = -1;
    for (unsigned it = 0;; it++) {
        if (atomic_load_explicit(&b->sense, memory_order_acquire) == s) return;
        NM_PAUSE();
        if ((it & 255) == 255) {
            long t = now_ns();
            if (start < 0) start = t;
            else if (t - start > spin_ns) break;
        }
    }
    atomic_fetch_add(&b->waiters, 1);
    while (atomic_load(&b->sense) != s) syscall(SYS_futex, &b->sense, FUTEX_WAIT_PRIVATE, !s, NULL, NULL, 0);
    atomic_fetch_sub(&b->waiters, 1);
}

/* Zeroed memory that starts on a cache line and fills whole lines. Per-neuron arrays are written by
 * the thread that owns a range of neurons; thread ranges are multiples of 64 neurons, so with aligned
 * arrays no cache line is written by two threads (a shared boundary line made the update of a
 * 4000-neuron network ~3x slower on 2 threads). Freed with free(). */
static void *acalloc(size_t n, size_t sz) {
    size_t bytes = n * sz;
    bytes = (bytes + 63) / 64 * 64;
    if (!bytes) bytes = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes)) return NULL;
    memset(p, 0, bytes);
    return p;
}

static void *xcalloc(nm_engine *e, size_t n, size_t sz) {
    void *p = acalloc(n ? n : 1, sz);
    if (p) e->bytes += (int64_t)(n * sz);
    return p;
}

static int fail(nm_engine *e, const char *msg) {
    snprintf(e->err, sizeof e->err, "%s", msg);
    return -1;
}

nm_engine *nm_engine_new(double dt_ms, uint64_t seed) {
    nm_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->dt = dt_ms;
    e->seed = seed;
    e->min_delay = INT32_MAX;
    e->max_delay = 1;
    return e;
}

static void free_pop(pop_t *P) {
    for (int v = 0; v < NM_MAX_VARS; v++) free(P->var[v]);
    for (int b = 0; b < NM_MAX_PORTS; b++) free(P->buf[b]);
    free(P->refr); free(P->iext); free(P->rate_p); free(P->next);
    if (P->rng) for (int i = 0; i < P->nrng; i++) nm_rng_free(P->rng[i]);
    free(P->rng);
    free(P->src_ptr); free(P->src_steps); free(P->src_pos);
    free(P->dstate); free(P->hstep);
    free(P->mask); free(P->rec_steps); free(P->rec_ids); free(P->cnt); free(P->per_neuron); free(P->spk_bits);
}

static void free_threads(nm_engine *e) {
    if (e->tl) {
        for (int i = 0; i < 2 * e->tl_nt * e->tl_npops; i++) { free(e->tl[i].ids); free(e->tl[i].ptr); }
        free(e->tl);
        e->tl = NULL;
    }
    if (e->scratch) {
        for (int t = 0; t < e->tl_nt; t++) free(e->scratch[t]);
        free(e->scratch);
        e->scratch = NULL;
    }
    if (e->gather) {
        for (int t = 0; t < e->tl_nt; t++) free(e->gather[t]);
        free(e->gather);
        e->gather = NULL;
    }
    free(e->events_tl); e->events_tl = NULL;
    free(e->range); e->range = NULL;
    for (int j = 0; j < e->nprojs; j++) {
        proj_t *pr = &e->projs[j];
        free(pr->split); pr->split = NULL;
        if (pr->cvs) { for (int t = 0; t < e->tl_nt; t++) free(pr->cvs[t]); free(pr->cvs); pr->cvs = NULL; }
    }
    e->tl_nt = 0;
}

void nm_engine_free(nm_engine *e) {
    if (!e) return;
    free_threads(e);
    for (int p = 0; p < e->npops; p++) free_pop(&e->pops[p]);
    free(e->pops);
    for (int j = 0; j < e->nprojs; j++) { free(e->projs[j].coord); free(e->projs[j].pool_tgt); }
    free(e->projs);
    for (int m = 0; m < e->nmons; m++) { free(e->mons[m].idx); free(e->mons[m].data); free(e->mons[m].steps); }
    free(e->mons);
    nm_adex_free_workspace(e);
    nm_faults_free(e);
    for (int k = 0; k < e->nowned; k++) free(e->owned[k]);
    free(e->owned);
    free(e);
}

const char *nm_engine_error(const nm_engine *e) { return e->err; }
int64_t nm_engine_bytes(const nm_engine *e) { return e->bytes; }
int64_t nm_engine_step(const nm_engine *e) { return e->step; }
int32_t nm_engine_interval(const nm_engine *e) { return e->min_delay == INT32_MAX ? 1 : e->min_delay + 1; }

int nm_engine_add_pop(nm_engine *e, int model, int32_t n, const double *params, int nparams) {
    char why[200];
    if (nm_check_pop(model, n, params, nparams, why, sizeof why)) { snprintf(e->err, sizeof e->err, "population: %s", why); return -1; }
    int nvars;
    switch (model) {
    case NM_MODEL_IF: nvars = 1; break;
    case NM_MODEL_LIF_EXP: nvars = 3; break;
    case NM_MODEL_LIF_COND_EXP: nvars = 3; break;
    case NM_MODEL_IZHIKEVICH: nvars = 2; break;
    case NM_MODEL_ADEX: nvars = 4; break;
    case NM_MODEL_HH: nvars = 6; break;
    case NM_MODEL_POISSON: case NM_MODEL_SPIKE_SOURCE: nvars = 0; break;
    default: return fail(e, "population: unknown model");
    }
    pop_t *np = realloc(e->pops, sizeof(pop_t) * (size_t)(e->npops + 1));
    if (!np) return fail(e, "out of memory");
    e->pops = np;
    pop_t *P = &e->pops[e->npops];
    memset(P, 0, sizeof *P);
    P->model = model;
    P->n = n;
    P->nvars = nvars;
    for (int i = 0; i < nparams; i++) P->p[i] = params[i];
    for (int v = 0; v < nvars; v++) if (!(P->var[v] = xcalloc(e, (size_t)n, sizeof(float)))) return fail(e, "out of memory");
    P->refr = xcalloc(e, (size_t)n, sizeof(int32_t));
    P->iext = xcalloc(e, (size_t)n, sizeof(float));
    P->per_neuron = xcalloc(e, (size_t)n, sizeof(int32_t));
    if (!P->refr || !P->iext || !P->per_neuron) return fail(e, "out of memory");
    P->is_source = (model == NM_MODEL_POISSON || model == NM_MODEL_SPIKE_SOURCE);
    P->granularity = P->is_source || model == NM_MODEL_ADEX ? NM_RNG_BLOCK : 64;
    if (model == NM_MODEL_POISSON) {
        P->nrng = (n + NM_RNG_BLOCK - 1) / NM_RNG_BLOCK;
        P->rng = calloc((size_t)(P->nrng ? P->nrng : 1), sizeof(nm_rng *));
        for (int b = 0; b < P->nrng; b++) P->rng[b] = nm_rng_new(e->seed, ((uint64_t)(e->npops + 1) << 40) | (uint64_t)b);
        P->next = xcalloc(e, (size_t)n, sizeof(int64_t));
        P->needs_redraw = 1;
    }
    if (model == NM_MODEL_ADEX) {
        P->dstate = xcalloc(e, (size_t)n * 4, sizeof(double));
        P->hstep = xcalloc(e, (size_t)n, sizeof(double));
        P->adex_fresh = 1;
    }
    P->nports = (model == NM_MODEL_IF || model == NM_MODEL_IZHIKEVICH) ? 1 : 2;
    if (P->is_source) P->nports = 0;
    return e->npops++;
}

int nm_pop_size(const nm_engine *e, int pop) { return e->pops[pop].n; }
int nm_pop_nvars(const nm_engine *e, int pop) { return e->pops[pop].nvars; }
float *nm_pop_var(nm_engine *e, int pop, int var) {
    pop_t *P = &e->pops[pop];
    if (var < 0 || var >= P->nvars) return NULL;
    if (P->model == NM_MODEL_ADEX) P->adex_fresh = 1; /* caller may write: resync the double state */
    return P->var[var];
}
float *nm_pop_iext(nm_engine *e, int pop) { e->pops[pop].iext_used = 1; return e->pops[pop].iext; }
int32_t *nm_pop_refractory(nm_engine *e, int pop) { return e->pops[pop].refr; }
void nm_pop_set_param(nm_engine *e, int pop, int index, double value) {
    if (index >= 0 && index < NM_MAX_PARAMS) e->pops[pop].p[index] = value;
}

int nm_pop_set_rates(nm_engine *e, int pop, const float *p) {
    if (pop < 0 || pop >= e->npops) return fail(e, "set_rates: no such population");
    pop_t *P = &e->pops[pop];
    if (P->model != NM_MODEL_POISSON) return fail(e, "set_rates: not a Poisson population");
    if (p)
        for (int32_t i = 0; i < P->n; i++)
            if (!isfinite(p[i])) { snprintf(e->err, sizeof e->err, "set_rates: the probability of neuron %d is not finite", (int)i); return -1; }
    if (p) {
        if (!P->rate_p) P->rate_p = xcalloc(e, (size_t)P->n, sizeof(float));
        memcpy(P->rate_p, p, sizeof(float) * (size_t)P->n);
    } else {
        free(P->rate_p);
        P->rate_p = NULL;
    }
    P->needs_redraw = 1;
    return 0;
}

int nm_pop_set_spike_steps(nm_engine *e, int pop, const int64_t *ptr, const int64_t *steps) {
    if (pop < 0 || pop >= e->npops) return fail(e, "set_spike_steps: no such population");
    pop_t *P = &e->pops[pop];
    if (P->model != NM_MODEL_SPIKE_SOURCE) return fail(e, "set_spike_steps: not a spike source");
    if (!ptr || ptr[0] != 0) return fail(e, "spike times: the first neuron's list does not start at 0");
    for (int32_t i = 0; i < P->n; i++)   /* all lists first: a later one may point back */
        if (ptr[i + 1] < ptr[i]) { snprintf(e->err, sizeof e->err, "spike times: the list of neuron %d ends before it starts", (int)i); return -1; }
    for (int32_t i = 0; i < P->n; i++) {
        for (int64_t k = ptr[i]; k < ptr[i + 1]; k++)
            if (steps[k] < 0 || (k > ptr[i] && steps[k] < steps[k - 1])) {
                snprintf(e->err, sizeof e->err, "spike times: the steps of neuron %d are negative or not ascending", (int)i);
                return -1;
            }
    }
    int64_t total = ptr[P->n];
    free(P->src_ptr); free(P->src_steps); free(P->src_pos);
    P->src_ptr = xcalloc(e, (size_t)P->n + 1, sizeof(int64_t));
    P->src_steps = xcalloc(e, (size_t)total, sizeof(int64_t));
    P->src_pos = xcalloc(e, (size_t)P->n, sizeof(int64_t));
    memcpy(P->src_ptr, ptr, sizeof(int64_t) * ((size_t)P->n + 1));
    if (total) memcpy(P->src_steps, steps, sizeof(int64_t) * (size_t)total);
    for (int32_t i = 0; i < P->n; i++) {
        int64_t k = P->src_ptr[i];
        while (k < P->src_ptr[i + 1] && P->src_steps[k] < e->step) k++;
        P->src_pos[i] = k;
    }
    return 0;
}

/* ---- projections ---- */

int nm_engine_add_proj(nm_engine *e, const nm_proj_desc *d) {
    if (nm_check_proj(e, d, e->err, sizeof e->err)) return -1;
    pop_t *Q = &e->pops[d->post];
    if (Q->is_source) return fail(e, "projection: a spike source cannot receive synapses");
    if (d->port < 0 || d->port >= Q->nports) return fail(e, "projection: the target model has no such receptor port");
    proj_t pr;
    memset(&pr, 0, sizeof pr);
    pr.d = *d;
    int32_t npre = e->pops[d->pre].n, npost = Q->n;
    int32_t dmin = d->delay, dmax = d->delay;
    switch (d->kind) {
    case NM_PROJ_SPARSE:
        if (!d->rowptr || (!d->col && d->rowptr[npre] > 0)) return fail(e, "sparse projection: missing CSR arrays");
        pr.synapses = d->rowptr[npre];
        if (d->delays) {
            dmin = INT32_MAX; dmax = 1;
            for (int64_t k = 0; k < pr.synapses; k++) {
                if (d->delays[k] < dmin) dmin = d->delays[k];
                if (d->delays[k] > dmax) dmax = d->delays[k];
            }
            if (pr.synapses == 0) dmin = dmax = 1;
        }
        break;
    case NM_PROJ_DENSE:
        if (!d->w) return fail(e, "dense projection: missing weights");
        pr.synapses = (int64_t)npre * npost;
        break;
    case NM_PROJ_CONV: {
        if (!d->w) return fail(e, "conv projection: missing kernel");
        if ((int64_t)d->in_h * d->in_w * d->in_c != npre || (int64_t)d->out_h * d->out_w * d->out_c != npost)
            return fail(e, "conv projection: geometry does not match population sizes");
        if (d->stride < 1 || d->k_h < 1 || d->k_w < 1 || (d->depthwise && d->in_c != d->out_c))
            return fail(e, "conv projection: bad geometry");
        /* count connections exactly (border effects included); rows and columns are independent, so
         * the count is (valid (oy, ky) pairs) x (valid (ox, kx) pairs) */
        int64_t ch = 0, cw = 0;
        for (int32_t oy = 0; oy < d->out_h; oy++)
            for (int32_t ky = 0; ky < d->k_h; ky++) { int64_t y = (int64_t)oy * d->stride + ky - d->pad; ch += y >= 0 && y < d->in_h; }
        for (int32_t ox = 0; ox < d->out_w; ox++)
            for (int32_t kx = 0; kx < d->k_w; kx++) { int64_t x = (int64_t)ox * d->stride + kx - d->pad; cw += x >= 0 && x < d->in_w; }
        pr.synapses = ch * cw * (d->depthwise ? d->out_c : (int64_t)d->in_c * d->out_c);
        break;
    }
    case NM_PROJ_MAXPOOL: {
        if ((int64_t)d->in_h * d->in_w * d->in_c != npre || (int64_t)d->out_h * d->out_w * d->out_c != npost)
            return fail(e, "maxpool projection: geometry does not match population sizes");
        if (d->stride < 1 || d->k_h < 1 || d->k_w < 1 || d->in_c != d->out_c || d->pad != 0)
            return fail(e, "maxpool projection: bad geometry");
        pr.synapses = (int64_t)d->out_h * d->out_w * d->out_c * d->k_h * d->k_w;
        e->gated = 1;
        if (e->pops[d->pre].no_per_neuron) {  /* the gate reads its source's counts */
            e->pops[d->pre].no_per_neuron = 0;
            memset(e->pops[d->pre].per_neuron, 0, sizeof(int32_t) * (size_t)e->pops[d->pre].n);
        }
        break;
    }
    default:
        return fail(e, "projection: unknown kind");
    }
    pr.same_step = (d->delay == 0 && !d->delays);
    if (pr.same_step) {
        /* same-step delivery: only feed-forward in population order (the target is updated later in
         * the same step, after the source) */
        if (d->post <= d->pre) return fail(e, "projection: a zero delay needs a target population added after its source");
        dmin = INT32_MAX; dmax = 1;
        e->has_same_step = 1;
    } else if (dmin < 1) return fail(e, "projection: delays must be >= 1 step (or 0 for same-step feed-forward delivery)");
    if (d->kind == NM_PROJ_CONV || d->kind == NM_PROJ_MAXPOOL) {
        /* (y, x, c) of every source neuron, so delivery needs no integer division */
        if (d->in_h > 65535 || d->in_w > 65535 || d->in_c > 65535) return fail(e, "projection: image too large");
        pr.coord = malloc(sizeof(uint16_t) * 3 * (size_t)(npre ? npre : 1));
        if (!pr.coord) return fail(e, "out of memory");
        for (int32_t i = 0; i < npre; i++) {
            int32_t c = i % d->in_c, pix = i / d->in_c;
            pr.coord[3 * (size_t)i] = (uint16_t)(pix / d->in_w);
            pr.coord[3 * (size_t)i + 1] = (uint16_t)(pix % d->in_w);
            pr.coord[3 * (size_t)i + 2] = (uint16_t)c;
        }
        e->bytes += 6 * (int64_t)npre;
        if (d->kind == NM_PROJ_CONV && d->depthwise && d->k_h == d->stride && d->k_w == d->stride && d->pad == 0) {
            /* non-overlapping pooling: every source has at most one target; precompute it */
            pr.pool_tgt = malloc(sizeof(int32_t) * 2 * (size_t)(npre ? npre : 1));
            if (!pr.pool_tgt) { free(pr.coord); return fail(e, "out of memory"); }
            for (int32_t i = 0; i < npre; i++) {
                int32_t y = pr.coord[3 * (size_t)i], x = pr.coord[3 * (size_t)i + 1], c = pr.coord[3 * (size_t)i + 2];
                int32_t oy = y / d->stride, ox = x / d->stride;
                int ok = oy < d->out_h && ox < d->out_w;
                pr.pool_tgt[2 * (size_t)i] = ok ? (oy * d->out_w + ox) * d->in_c + c : -1;
                pr.pool_tgt[2 * (size_t)i + 1] = ((y - oy * d->stride) * d->k_w + (x - ox * d->stride)) * d->in_c + c;
            }
            e->bytes += 8 * (int64_t)npre;
            /* same-step pooling of whole 16-channel blocks from IF neurons: the source's update
             * also leaves one bit per neuron (spiked this step), read by deliver_pool_bits */
            pop_t *S = &e->pops[d->pre];
            if (pr.same_step && d->in_c % 16 == 0 && S->model == NM_MODEL_IF) {
                if (!S->spk_bits && !(S->spk_bits = xcalloc(e, (size_t)(npre + 15) / 16, sizeof(uint16_t)))) {
                    free(pr.coord); free(pr.pool_tgt);
                    return fail(e, "out of memory");
                }
                pr.pool_bits = 1;
            }
        }
    }
    proj_t *np = realloc(e->projs, sizeof(proj_t) * (size_t)(e->nprojs + 1));
    if (!np) { free(pr.coord); free(pr.pool_tgt); return fail(e, "out of memory"); }
    e->projs = np;
    e->projs[e->nprojs] = pr;
    if (!pr.same_step && dmin < e->min_delay) e->min_delay = dmin;
    e->pops[d->post].has_input = 1;
    if (pr.same_step) e->pops[d->pre].same_step_out = 1;
    if (dmax > e->max_delay) e->max_delay = dmax;
    e->buffers_ready = 0;
    return e->nprojs++;
}

int64_t nm_proj_events(const nm_engine *e, int proj) { return e->projs[proj].events; }
int64_t nm_proj_synapses(const nm_engine *e, int proj) { return e->projs[proj].synapses; }

/* ---- recording ---- */

int nm_engine_record_spikes(nm_engine *e, int pop, const uint8_t *mask) {
    if (pop < 0 || pop >= e->npops) return fail(e, "spike recording: no such population");
    pop_t *P = &e->pops[pop];
    P->record = 1;
    free(P->mask);
    P->mask = NULL;
    if (mask) {
        P->mask = xcalloc(e, (size_t)P->n, 1);
        memcpy(P->mask, mask, (size_t)P->n);
    }
    return 0;
}
int64_t nm_rec_count(const nm_engine *e, int pop) { return e->pops[pop].rec_n; }
const int64_t *nm_rec_steps(const nm_engine *e, int pop) { return e->pops[pop].rec_steps; }
const int32_t *nm_rec_ids(const nm_engine *e, int pop) { return e->pops[pop].rec_ids; }
void nm_rec_clear(nm_engine *e) {
    for (int p = 0; p < e->npops; p++) { e->pops[p].rec_n = 0; e->pops[p].cnt_n = 0; }
    for (int m = 0; m < e->nmons; m++) e->mons[m].nsamples = 0;
}
int nm_engine_record_counts(nm_engine *e, int pop) {
    if (pop < 0 || pop >= e->npops) return fail(e, "spike counts: no such population");
    e->pops[pop].count_rec = 1;
    return 0;
}
int64_t nm_counts_len(const nm_engine *e, int pop) { return e->pops[pop].cnt_n; }
const int32_t *nm_counts(const nm_engine *e, int pop) { return e->pops[pop].cnt; }
int64_t nm_pop_spike_total(const nm_engine *e, int pop) { return e->pops[pop].total; }
const int32_t *nm_pop_spike_counts(const nm_engine *e, int pop) {
    return e->pops[pop].no_per_neuron ? NULL : e->pops[pop].per_neuron;
}
int nm_pop_count_per_neuron(nm_engine *e, int pop, int on) {
    if (pop < 0 || pop >= e->npops) return fail(e, "no such population");
    if (!on)  /* a max-pool gate reads its source's counts */
        for (int j = 0; j < e->nprojs; j++)
            if (e->projs[j].d.kind == NM_PROJ_MAXPOOL && e->projs[j].d.pre == pop) return 0;
    e->pops[pop].no_per_neuron = !on;
    if (on) memset(e->pops[pop].per_neuron, 0, sizeof(int32_t) * (size_t)e->pops[pop].n);
    return 0;
}

int nm_engine_add_state_monitor(nm_engine *e, int pop, int var, const int32_t *idx, int32_t nidx, int32_t every) {
    if (pop < 0 || pop >= e->npops) return fail(e, "state monitor: no such population");
    pop_t *P = &e->pops[pop];
    if (var < 0 || var >= P->nvars) return fail(e, "state monitor: no such variable");
    if (every < 1) return fail(e, "state monitor: sampling interval must be >= 1 step");
    if (nidx < 0 || (nidx > 0 && !idx)) return fail(e, "state monitor: bad neuron list");
    for (int32_t k = 0; k < nidx; k++) if (idx[k] < 0 || idx[k] >= P->n) return fail(e, "state monitor: neuron index out of range");
    mon_t *nm = realloc(e->mons, sizeof(mon_t) * (size_t)(e->nmons + 1));
    if (!nm) return fail(e, "out of memory");
    e->mons = nm;
    mon_t *M = &e->mons[e->nmons];
    memset(M, 0, sizeof *M);
    M->pop = pop; M->var = var; M->nidx = nidx; M->every = every;
    M->idx = malloc(sizeof(int32_t) * (size_t)(nidx ? nidx : 1));
    if (!M->idx) return fail(e, "out of memory");
    if (nidx) memcpy(M->idx, idx, sizeof(int32_t) * (size_t)nidx);
    return e->nmons++;
}
int64_t nm_state_samples(const nm_engine *e, int mon) { return e->mons[mon].nsamples; }
const float *nm_state_data(const nm_engine *e, int mon) { return e->mons[mon].data; }
const int64_t *nm_state_steps(const nm_engine *e, int mon) { return e->mons[mon].steps; }

/* ---- reset ---- */

void nm_engine_reseed(nm_engine *e, uint64_t seed) {
    e->seed = seed;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        if (P->model != NM_MODEL_POISSON) continue;
        for (int b = 0; b < P->nrng; b++) {
            nm_rng_free(P->rng[b]);
            P->rng[b] = nm_rng_new(seed, ((uint64_t)(p + 1) << 40) | (uint64_t)b);
        }
        P->needs_redraw = 1;
    }
}

void nm_engine_reset(nm_engine *e) {
    e->step = 0;
    e->checked_step = 0;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        memset(P->refr, 0, sizeof(int32_t) * (size_t)P->n);
        if (!P->no_per_neuron) memset(P->per_neuron, 0, sizeof(int32_t) * (size_t)P->n);
        if (P->iext_used) memset(P->iext, 0, sizeof(float) * (size_t)P->n);
        for (int b = 0; b < P->nports; b++) if (P->buf[b]) memset(P->buf[b], 0, sizeof(float) * (size_t)P->n * (size_t)e->nslots);
        P->total = 0; P->rec_n = 0; P->cnt_n = 0;
        if (P->model == NM_MODEL_POISSON) P->needs_redraw = 1;
        if (P->model == NM_MODEL_SPIKE_SOURCE && P->src_pos)
            for (int32_t i = 0; i < P->n; i++) P->src_pos[i] = P->src_ptr[i];
        if (P->model == NM_MODEL_ADEX) P->adex_fresh = 1;
    }
    for (int j = 0; j < e->nprojs; j++) e->projs[j].events = 0;
    for (int m = 0; m < e->nmons; m++) e->mons[m].nsamples = 0;
}

/* ---- buffers and thread layout ---- */

static int prepare_buffers(nm_engine *e) {
    if (e->buffers_ready) return 0;
    int nslots = e->max_delay + 1;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        for (int b = 0; b < P->nports; b++) {
            float *nb = acalloc((size_t)P->n * (size_t)nslots + 1, sizeof(float));
            if (!nb) return fail(e, "out of memory (ring buffers)");
            if (P->buf[b]) { /* keep pending inputs when delays grow */
                for (int s = 0; s < e->nslots; s++) {
                    int64_t abs = e->step + s; /* slot of absolute step abs */
                    memcpy(nb + (size_t)(abs % nslots) * P->n, P->buf[b] + (size_t)(abs % e->nslots) * P->n, sizeof(float) * (size_t)P->n);
                }
                free(P->buf[b]);
            }
            P->buf[b] = nb;
            e->bytes += (int64_t)P->n * nslots * (int64_t)sizeof(float);
        }
    }
    e->nslots = nslots;
    e->buffers_ready = 1;
    return 0;
}

static inline int64_t lower_bound32(const int32_t *a, int64_t lo, int64_t hi, int32_t key) {
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (a[mid] < key) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Per-thread event counters are padded to whole cache lines (no false sharing between threads). */
static int ev_stride(const nm_engine *e) { return ((e->nprojs ? e->nprojs : 1) + 7) / 8 * 8 + 8; }

static int prepare_threads(nm_engine *e, int nt, int L) {
    if (e->tl && e->tl_nt == nt && e->tl_L >= L && e->tl_npops == e->npops && e->tl_nmons == e->nmons &&
        e->tl_nprojs == e->nprojs) return 0;
    free_threads(e);
    e->tl_nt = nt; e->tl_L = L; e->tl_npops = e->npops; e->tl_nmons = e->nmons; e->tl_nprojs = e->nprojs;
    e->range = calloc((size_t)nt * (size_t)e->npops * 2, sizeof(int32_t));
    e->tl = calloc(2 * (size_t)nt * (size_t)e->npops, sizeof(tl_t));
    e->scratch = calloc((size_t)nt, sizeof(uint8_t *));
    e->events_tl = calloc((size_t)nt * (size_t)ev_stride(e), sizeof(int64_t));
    if (!e->range || !e->tl || !e->scratch || !e->events_tl) return fail(e, "out of memory");
    int32_t maxown = 1;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        int32_t g = P->granularity;
        int32_t nchunks = (P->n + g - 1) / g;
        for (int t = 0; t < nt; t++) {
            int32_t c0 = (int32_t)((int64_t)nchunks * t / nt), c1 = (int32_t)((int64_t)nchunks * (t + 1) / nt);
            int32_t lo = c0 * g, hi = c1 * g;
            if (lo > P->n) lo = P->n;
            if (hi > P->n) hi = P->n;
            e->range[(t * e->npops + p) * 2] = lo;
            e->range[(t * e->npops + p) * 2 + 1] = hi;
            for (int b = 0; b < 2; b++) {
                tl_t *T = &e->tl[(b * nt + t) * e->npops + p];
                T->ids = acalloc((size_t)((hi - lo) * (int64_t)L + 16), sizeof(int32_t));  /* + slack for vector stores */
                T->ptr = acalloc((size_t)L + 1, sizeof(int64_t));
                if (!T->ids || !T->ptr) return fail(e, "out of memory");
            }
            if (hi - lo > maxown) maxown = hi - lo;
        }
    }
    int32_t maxpop = 1;
    for (int p = 0; p < e->npops; p++) if (e->pops[p].n > maxpop) maxpop = e->pops[p].n;
    e->gather = calloc((size_t)nt, sizeof(int32_t *));
    if (!e->gather) return fail(e, "out of memory");
    for (int t = 0; t < nt; t++) {
        e->scratch[t] = acalloc((size_t)maxown + 64, 1);
        e->gather[t] = acalloc((size_t)maxpop * (size_t)L + 1, sizeof(int32_t));
        if (!e->scratch[t] || !e->gather[t]) return fail(e, "out of memory");
    }
    /* conv delivery scratch per thread: spikes binned per (padded) source pixel and row, their kernel
     * offsets, and one target's list (see deliver_list) */
    for (int j = 0; j < e->nprojs; j++) {
        proj_t *pr = &e->projs[j];
        const nm_proj_desc *d = &pr->d;
        if (d->kind != NM_PROJ_CONV || d->depthwise) continue;
        const size_t H2 = (size_t)d->in_h + 2 * (size_t)d->pad, W2 = (size_t)d->in_w + 2 * (size_t)d->pad;
        const size_t icp = ((size_t)d->in_c + 7) & ~(size_t)7;
        const size_t words = H2 * W2 + H2 + H2 * W2 * icp + (size_t)d->k_h * d->k_w * d->in_c + 16;
        pr->cvs = calloc((size_t)nt, sizeof(int32_t *));
        if (!pr->cvs) return fail(e, "out of memory");
        for (int t = 0; t < nt; t++) {
            pr->cvs[t] = acalloc(words, sizeof(int32_t));
            if (!pr->cvs[t]) return fail(e, "out of memory");
        }
    }
    /* Sparse rows are sorted by target: where each thread's share of a row starts is fixed by the
     * partition, so it is looked up once here instead of by two binary searches per spike and thread
     * (which cost as much as the delivery itself in small networks). 4 bytes per row and thread. */
    if (nt > 1) {
        for (int j = 0; j < e->nprojs; j++) {
            proj_t *pr = &e->projs[j];
            if (pr->d.kind != NM_PROJ_SPARSE) continue;
            const int32_t npre = e->pops[pr->d.pre].n, q = pr->d.post;
            pr->split = malloc(sizeof(int32_t) * (size_t)npre * (size_t)(nt - 1) + 1);
            if (!pr->split) return fail(e, "out of memory");
            const int64_t *rp = pr->d.rowptr;
            for (int32_t i = 0; i < npre; i++)
                for (int t = 1; t < nt; t++)
                    pr->split[(size_t)i * (nt - 1) + (t - 1)] =
                        (int32_t)(lower_bound32(pr->d.col, rp[i], rp[i + 1], e->range[(t * e->npops + q) * 2]) - rp[i]);
        }
    }
    return 0;
}

/* ---- delivery ---- */


/* The vector parts of delivery are kernels compiled per path (nm_vec.h): dense rows, target-major
 * convolution and pooling from spike bits. Each target's additions are per lane and in a fixed order,
 * so every path (and every thread count) gives the same sums. */

/* Dense: all rows of the step are summed in registers, 64 targets at a time, then added once: each
 * target gets slot + (row_1 + row_2 + ...), in spike order, whatever the blocking. */
NM_AI int64_t deliver_dense_body(float *slot, const float *w, int32_t npost, const int32_t *ids, int64_t cnt,
                                 int32_t tlo, int32_t thi) {
    int32_t q0 = tlo;
    for (; q0 + 64 <= thi; q0 += 64) {
        nm_vf a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (int64_t s = 0; s < cnt; s++) {
            const float *row = w + (size_t)ids[s] * (size_t)npost + q0;
            a0 += vf_load(row); a1 += vf_load(row + 16); a2 += vf_load(row + 32); a3 += vf_load(row + 48);
        }
        float *dst = slot + q0;
        vf_store(dst, vf_load(dst) + a0); vf_store(dst + 16, vf_load(dst + 16) + a1);
        vf_store(dst + 32, vf_load(dst + 32) + a2); vf_store(dst + 48, vf_load(dst + 48) + a3);
    }
    for (; q0 + 16 <= thi; q0 += 16) {
        nm_vf a = 0.0f;
        for (int64_t s = 0; s < cnt; s++) a += vf_load(w + (size_t)ids[s] * (size_t)npost + q0);
        vf_store(slot + q0, vf_load(slot + q0) + a);
    }
    for (; q0 < thi; q0++) {   /* the same additions, one target at a time */
        float a = 0.0f;
        for (int64_t s = 0; s < cnt; s++) a += w[(size_t)ids[s] * (size_t)npost + q0];
        slot[q0] += a;
    }
    return cnt * (int64_t)(thi - tlo);
}
NM_STAMP(int64_t, deliver_dense,
         (float *slot, const float *w, int32_t npost, const int32_t *ids, int64_t cnt, int32_t tlo, int32_t thi),
         (slot, w, npost, ids, cnt, tlo, thi));

/* Convolution, target-major: the step's spikes are first binned per source pixel (their kernel-slice
 * offsets, channels in spike order), then every owned target pixel gathers the offsets of the spikes
 * in its receptive field into one list and sums those kernel slices in registers; the target is read
 * and written once per step. Only spikes cause additions; the scan of the window is bookkeeping (and
 * rows without spikes are skipped). Per target element:
 *   target += E + O, E = sum of the list's even entries, O = of its odd entries, each in list
 *   order (window row, window column, then spike order),
 * whatever 16-channel blocking, thread partition or vector path computes it. (A source-major loop read
 * and wrote every target once per spiking pixel and window position; this order made the converted
 * CNN of experiments/conversion-bench 25-35 % faster.) cvs: the thread's scratch (prepare_threads). */
NM_AI int64_t deliver_conv_body(const nm_proj_desc *d, const uint16_t *coord, int32_t *cvs, float *slot,
                                const int32_t *ids, int64_t cnt, int32_t tlo, int32_t thi) {
    const int32_t ic = d->in_c, oc = d->out_c, ow = d->out_w;
    const int32_t kh = d->k_h, kw = d->k_w, st = d->stride, pad = d->pad;
    const size_t kstep = (size_t)ic * oc;
    const int32_t H2 = d->in_h + 2 * pad, W2 = d->in_w + 2 * pad, icp = (ic + 7) & ~7;
    int32_t *pc = cvs;                               /* spikes per (padded) source pixel */
    int32_t *rc = pc + (size_t)H2 * W2;              /* spikes per (padded) source row */
    int32_t *pk = rc + H2;                           /* their kernel offsets, icp per pixel */
    int32_t *L = pk + (size_t)H2 * W2 * icp;         /* one target's list, kh*kw*ic + 8 */
    int64_t ev = 0;
    for (int64_t q = 0; q < cnt; q++) {
        const uint16_t *co = coord + 3 * (size_t)ids[q];
        const int32_t yy = co[0] + pad, pix = yy * W2 + co[1] + pad;
        pk[(size_t)pix * icp + pc[pix]++] = co[2] * oc;
        rc[yy]++;
    }
    const int32_t p_lo = tlo / oc, p_hi = (thi + oc - 1) / oc;
    int32_t oy = p_lo / ow, ox = p_lo % ow;
    for (int32_t p = p_lo; p < p_hi; p++, ox = ox + 1 == ow ? (oy++, 0) : ox + 1) {
        const int32_t y0 = oy * st, x0 = ox * st;
        int32_t n = 0;
        for (int32_t ky = 0; ky < kh; ky++) {
            if (!rc[y0 + ky]) continue;
            const int32_t *pcr = pc + (size_t)(y0 + ky) * W2 + x0;
            const int32_t *pkr = pk + ((size_t)(y0 + ky) * W2 + x0) * icp;
            int32_t base = (int32_t)((size_t)ky * kw * kstep);
            for (int32_t kx = 0; kx < kw; kx++, base += (int32_t)kstep, pkr += icp) {
                const int32_t g = pcr[kx];
                /* copy 8 offsets unconditionally (entries past g are overwritten or unused) */
                nm_vi8 o8;
                memcpy(&o8, pkr, sizeof o8);
                o8 += base;
                memcpy(L + n, &o8, sizeof o8);
                for (int32_t r = 8; r < g; r++) L[n + r] = pkr[r] + base;
                n += g;
            }
        }
        if (!n) continue;
        const int32_t q0 = tlo > p * oc ? tlo - p * oc : 0, q1 = thi < (p + 1) * oc ? thi - p * oc : oc;
        ev += (int64_t)n * (q1 - q0);
        float *dst = slot + (size_t)p * oc;
        const float *w = d->w;
        int32_t b0 = q0;
        for (; b0 + 32 <= q1; b0 += 32) {
            nm_vf e0 = 0.0f, e1 = 0.0f, o0 = 0.0f, o1 = 0.0f;
            int32_t r = 0;
            for (; r + 1 < n; r += 2) {
                const float *ka = w + L[r] + b0, *kb = w + L[r + 1] + b0;
                e0 += vf_load(ka); e1 += vf_load(ka + 16);
                o0 += vf_load(kb); o1 += vf_load(kb + 16);
            }
            if (r < n) { e0 += vf_load(w + L[r] + b0); e1 += vf_load(w + L[r] + b0 + 16); }
            vf_store(dst + b0, vf_load(dst + b0) + (e0 + o0));
            vf_store(dst + b0 + 16, vf_load(dst + b0 + 16) + (e1 + o1));
        }
        for (; b0 + 16 <= q1; b0 += 16) {
            nm_vf e0 = 0.0f, o0 = 0.0f;
            int32_t r = 0;
            for (; r + 1 < n; r += 2) { e0 += vf_load(w + L[r] + b0); o0 += vf_load(w + L[r + 1] + b0); }
            if (r < n) e0 += vf_load(w + L[r] + b0);
            vf_store(dst + b0, vf_load(dst + b0) + (e0 + o0));
        }
        for (; b0 < q1; b0++) {   /* the same additions, one channel at a time */
            float e0 = 0.0f, o0 = 0.0f;
            int32_t r = 0;
            for (; r + 1 < n; r += 2) { e0 += w[L[r] + b0]; o0 += w[L[r + 1] + b0]; }
            if (r < n) e0 += w[L[r] + b0];
            dst[b0] += e0 + o0;
        }
    }
    for (int64_t q = 0; q < cnt; q++) {
        const uint16_t *co = coord + 3 * (size_t)ids[q];
        pc[(co[0] + pad) * W2 + co[1] + pad] = 0;
        rc[co[0] + pad] = 0;
    }
    return ev;
}
NM_STAMP(int64_t, deliver_conv,
         (const nm_proj_desc *d, const uint16_t *coord, int32_t *cvs, float *slot, const int32_t *ids, int64_t cnt,
          int32_t tlo, int32_t thi),
         (d, coord, cvs, slot, ids, cnt, tlo, thi));

/* acc + w in the lanes whose bit is set in m (a select: the same single rounding per lane as the spike
 * list loop's scalar addition). */
NM_AI nm_vf add_where(nm_vf acc, uint32_t m, nm_vf w) { return vmask_from_bits(m) ? acc + w : acc; }

/* Same-step non-overlapping pooling from an IF population with whole 16-channel blocks: target-major
 * from the source's spike bits (the IF update writes one 16-bit mask per 16 neurons each step). Each
 * owned target block is loaded once, gets one masked addition per window position in source order
 * (row-major, i.e. ascending neuron index, as the spike-list loop adds them) and is stored once:
 * the same single-rounding additions in the same order as the list loop, without its scattered
 * read-modify-writes. Window positions whose 16 sources did not spike add nothing. */
NM_AI int64_t deliver_pool_bits_body(const nm_proj_desc *d, const uint16_t *bits, float *slot, int32_t tlo, int32_t thi) {
    const int32_t ic = d->in_c, ow = d->out_w, iw = d->in_w, kh = d->k_h, kw = d->k_w, st = d->stride;
    const int32_t nb = ic / 16;
    int64_t ev = 0;
    const int32_t p_lo = tlo / ic, p_hi = (thi + ic - 1) / ic;
    int32_t oy = p_lo / ow, ox = p_lo % ow;
    if (kh == 2 && kw == 2 && st == 2 && nb == 1 && tlo % ic == 0 && thi % ic == 0) {
        /* 2x2 windows of 16 channels: four targets at a time, so that their four dependent
         * additions each interleave (same additions, same order per target) */
        const nm_vf w00 = vf_load(d->w), w01 = vf_load(d->w + 16), w10 = vf_load(d->w + 32), w11 = vf_load(d->w + 48);
        for (int32_t p = p_lo; p < p_hi; ) {
            int32_t run = ow - ox;   /* targets left in this output row */
            if (run > p_hi - p) run = p_hi - p;
            const uint16_t *r0 = bits + (size_t)(2 * oy) * iw + 2 * ox, *r1 = r0 + iw;
            float *dst = slot + (size_t)p * 16;
            int32_t j = 0;
            for (; j + 4 <= run; j += 4, r0 += 8, r1 += 8, dst += 64) {
                nm_vf a0 = vf_load(dst), a1 = vf_load(dst + 16), a2 = vf_load(dst + 32), a3 = vf_load(dst + 48);
                a0 = add_where(a0, r0[0], w00); a1 = add_where(a1, r0[2], w00);
                a2 = add_where(a2, r0[4], w00); a3 = add_where(a3, r0[6], w00);
                a0 = add_where(a0, r0[1], w01); a1 = add_where(a1, r0[3], w01);
                a2 = add_where(a2, r0[5], w01); a3 = add_where(a3, r0[7], w01);
                a0 = add_where(a0, r1[0], w10); a1 = add_where(a1, r1[2], w10);
                a2 = add_where(a2, r1[4], w10); a3 = add_where(a3, r1[6], w10);
                a0 = add_where(a0, r1[1], w11); a1 = add_where(a1, r1[3], w11);
                a2 = add_where(a2, r1[5], w11); a3 = add_where(a3, r1[7], w11);
                vf_store(dst, a0); vf_store(dst + 16, a1); vf_store(dst + 32, a2); vf_store(dst + 48, a3);
                ev += __builtin_popcount((unsigned)r0[0] | (unsigned)r0[1] << 16) + __builtin_popcount((unsigned)r1[0] | (unsigned)r1[1] << 16)
                    + __builtin_popcount((unsigned)r0[2] | (unsigned)r0[3] << 16) + __builtin_popcount((unsigned)r1[2] | (unsigned)r1[3] << 16)
                    + __builtin_popcount((unsigned)r0[4] | (unsigned)r0[5] << 16) + __builtin_popcount((unsigned)r1[4] | (unsigned)r1[5] << 16)
                    + __builtin_popcount((unsigned)r0[6] | (unsigned)r0[7] << 16) + __builtin_popcount((unsigned)r1[6] | (unsigned)r1[7] << 16);
            }
            for (; j < run; j++, r0 += 2, r1 += 2, dst += 16) {
                nm_vf a0 = vf_load(dst);
                a0 = add_where(a0, r0[0], w00);
                a0 = add_where(a0, r0[1], w01);
                a0 = add_where(a0, r1[0], w10);
                a0 = add_where(a0, r1[1], w11);
                vf_store(dst, a0);
                ev += __builtin_popcount((unsigned)r0[0] | (unsigned)r0[1] << 16) + __builtin_popcount((unsigned)r1[0] | (unsigned)r1[1] << 16);
            }
            p += run;
            ox += run;
            if (ox == ow) { ox = 0; oy++; }
        }
        return ev;
    }
    for (int32_t p = p_lo; p < p_hi; p++, ox = ox + 1 == ow ? (oy++, 0) : ox + 1) {
        for (int32_t b = 0; b < nb; b++) {
            const int32_t t0 = p * ic + 16 * b;
            if (t0 < tlo || t0 + 16 > thi) continue;   /* thread ranges are multiples of 64: whole blocks */
            nm_vf acc = vf_load(slot + t0);
            for (int32_t ky = 0; ky < kh; ky++)
                for (int32_t kx = 0; kx < kw; kx++) {
                    const int32_t src = ((oy * st + ky) * iw + (ox * st + kx)) * ic + 16 * b;
                    const uint32_t m = bits[src >> 4];
                    acc = add_where(acc, m, vf_load(d->w + (ky * kw + kx) * ic + 16 * b));
                    ev += __builtin_popcount(m);
                }
            vf_store(slot + t0, acc);
        }
    }
    return ev;
}
NM_STAMP(int64_t, deliver_pool_bits, (const nm_proj_desc *d, const uint16_t *bits, float *slot, int32_t tlo, int32_t thi),
         (d, bits, slot, tlo, thi));

/* Delivers one step's spikes (ids[0..cnt), emitted by update n) through projection j into the targets
 * [tlo, thi) owned by the calling thread. Returns the number of synaptic events delivered. */
static int64_t deliver_list(nm_engine *e, const proj_t *pr, int64_t n, const int32_t *ids, int64_t cnt,
                            int32_t tlo, int32_t thi, int t) {
    const nm_proj_desc *d = &pr->d;
    pop_t *Q = &e->pops[d->post];
    const int32_t npost = Q->n;
    float *buf = Q->buf[d->port];
    const int nslots = e->nslots;
    /* arrival: spike time t_{n+1} + delay, i.e. slot n + 1 + d; same-step projections feed slot n,
     * which the (later) target population reads in this very update */
    float *slot = buf + (size_t)((pr->same_step ? n : n + 1 + d->delay) % nslots) * (size_t)npost;
    int64_t ev = 0;
    switch (d->kind) {
    case NM_PROJ_SPARSE: {
        const int64_t *rp = d->rowptr;
        const int32_t *col = d->col;
        const int nt = e->tl_nt;
        const int32_t *split = pr->split;
        for (int64_t s = 0; s < cnt; s++) {
            int32_t i = ids[s];
            int64_t a = rp[i], b = rp[i + 1];
            if (a == b) continue;
            if (split) {
                const int32_t *sp = split + (size_t)i * (nt - 1);
                if (t > 0) a = rp[i] + sp[t - 1];
                if (t < nt - 1) b = rp[i] + sp[t];
            } else {
                if (col[a] < tlo) a = lower_bound32(col, a, b, tlo);
                if (b > a && col[b - 1] >= thi) b = lower_bound32(col, a, b, thi);
            }
            ev += b - a;
            if (d->delays) {
                for (int64_t q = a; q < b; q++) {
                    float *sl = buf + (size_t)((n + 1 + d->delays[q]) % nslots) * (size_t)npost;
                    sl[col[q]] += d->w ? d->w[q] : d->w0;
                }
            } else if (d->w) {
                const float *w = d->w;
                for (int64_t q = a; q < b; q++) slot[col[q]] += w[q];
            } else {
                const float w0 = d->w0;
                for (int64_t q = a; q < b; q++) slot[col[q]] += w0;
            }
        }
        break;
    }
    case NM_PROJ_DENSE:
        ev += NM_CALL(deliver_dense)(slot, d->w, npost, ids, cnt, tlo, thi);
        break;
    case NM_PROJ_CONV: {
        const int32_t ic = d->in_c, oc = d->out_c, ow = d->out_w, oh = d->out_h;
        const int32_t kh = d->k_h, kw = d->k_w, st = d->stride, pad = d->pad;
        if (d->depthwise) {
            /* one thread only: with several, a source may already be updated for the next step
             * (its bits overwritten) while another thread still delivers this one; the spike list
             * below gives the same sums */
            if (pr->pool_bits && e->tl_nt == 1) {
                ev += NM_CALL(deliver_pool_bits)(d, e->pops[d->pre].spk_bits, slot, tlo, thi);
                break;
            }
            if (pr->pool_tgt) {
                /* non-overlapping pooling: a source lies in exactly one window (precomputed target) */
                for (int64_t s = 0; s < cnt; s++) {
                    const int32_t *tw = pr->pool_tgt + 2 * (size_t)ids[s];
                    const int32_t tgt = tw[0];
                    if (tgt < tlo || tgt >= thi) continue;
                    slot[tgt] += d->w[tw[1]];
                    ev++;
                }
                break;
            }
            for (int64_t s = 0; s < cnt; s++) {
                const uint16_t *co = pr->coord + 3 * (size_t)ids[s];
                const int32_t y = co[0], x = co[1], c = co[2];
                for (int32_t ky = 0; ky < kh; ky++) {
                    int32_t ny = y + pad - ky;
                    if (ny < 0 || ny % st) continue;
                    int32_t oy = ny / st;
                    if (oy >= oh) continue;
                    for (int32_t kx = 0; kx < kw; kx++) {
                        int32_t nx = x + pad - kx;
                        if (nx < 0 || nx % st) continue;
                        int32_t ox = nx / st;
                        if (ox >= ow) continue;
                        int32_t tgt = (oy * ow + ox) * oc + c;
                        if (tgt >= tlo && tgt < thi) { slot[tgt] += d->w[((size_t)ky * kw + kx) * ic + c]; ev++; }
                    }
                }
            }
            break;
        }
        ev += NM_CALL(deliver_conv)(d, pr->coord, pr->cvs[t], slot, ids, cnt, tlo, thi);   /* target-major */
        break;
    }
    case NM_PROJ_MAXPOOL: {
        const int32_t ic = d->in_c, ow = d->out_w, oh = d->out_h, iw = d->in_w;
        const int32_t kh = d->k_h, kw = d->k_w, st = d->stride;
        const int32_t *counts = e->pops[d->pre].per_neuron;
        for (int64_t s = 0; s < cnt; s++) {
            const int32_t i = ids[s];
            const uint16_t *co = pr->coord + 3 * (size_t)i;
            const int32_t y = co[0], x = co[1], c = co[2];
            /* windows (oy, ox) with oy*st <= y < oy*st + kh */
            int32_t oy0 = y - kh + 1 > 0 ? (y - kh + 1 + st - 1) / st : 0, oy1 = y / st;
            int32_t ox0 = x - kw + 1 > 0 ? (x - kw + 1 + st - 1) / st : 0, ox1 = x / st;
            if (oy1 >= oh) oy1 = oh - 1;
            if (ox1 >= ow) ox1 = ow - 1;
            for (int32_t oy = oy0; oy <= oy1; oy++)
                for (int32_t ox = ox0; ox <= ox1; ox++) {
                    int32_t tgt = (oy * ow + ox) * ic + c;
                    if (tgt < tlo || tgt >= thi) continue;
                    /* is i the first neuron with the highest count in this window? */
                    int32_t ci = counts[i], win = 1;
                    for (int32_t ky = 0; ky < kh && win; ky++)
                        for (int32_t kx = 0; kx < kw; kx++) {
                            int32_t j = ((oy * st + ky) * iw + (ox * st + kx)) * ic + c;
                            if (j == i) continue;
                            if (counts[j] > ci || (counts[j] == ci && j < i)) { win = 0; break; }
                        }
                    if (win) { slot[tgt] += d->w0; ev++; }
                }
        }
        break;
    }
    }
    return ev;
}

/* Delivers all spikes of the interval starting at n0 (thread lists of buffer b, in thread order =
 * ascending neuron id within a step) through projection j into targets [tlo, thi). */
/* The spikes of population `pre` in step k of the interval as one list in ascending neuron order (the
 * thread lists concatenated in thread order; copied into the caller's scratch when several). The
 * same list whatever the thread count, so grouped delivery sums in the same order. */
static const int32_t *step_spikes(const nm_engine *e, int b, int nt, int pre, int k, int32_t *scratch, int64_t *count) {
    if (nt == 1) {
        const tl_t *T = &e->tl[b * e->npops + pre];
        *count = T->ptr[k + 1] - T->ptr[k];
        return T->ids + T->ptr[k];
    }
    int64_t w = 0;
    for (int tt = 0; tt < nt; tt++) {
        const tl_t *T = &e->tl[(b * nt + tt) * e->npops + pre];
        int64_t a = T->ptr[k], z = T->ptr[k + 1];
        if (z > a) memcpy(scratch + w, T->ids + a, sizeof(int32_t) * (size_t)(z - a));
        w += z - a;
    }
    *count = w;
    return scratch;
}

static int64_t deliver(nm_engine *e, int j, int b, int nt, int64_t n0, int L, int32_t tlo, int32_t thi, int32_t *scratch, int t) {
    const proj_t *pr = &e->projs[j];
    if (tlo >= thi || pr->same_step) return 0;
    int64_t ev = 0;
    for (int k = 0; k < L; k++) {
        int64_t cnt;
        const int32_t *ids = step_spikes(e, b, nt, pr->d.pre, k, scratch, &cnt);
        if (cnt) ev += deliver_list(e, pr, n0 + k, ids, cnt, tlo, thi, t);
    }
    return ev;
}

/* ---- recording after merge (single thread) ---- */

static int grow(void **p, int64_t *cap, int64_t need, size_t sz) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, (size_t)nc * sz);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int record_interval(nm_engine *e, int b, int nt, int64_t n0, int L) {
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        if (P->count_rec) {
            int64_t cap = P->cnt_cap;
            if (grow((void **)&P->cnt, &cap, P->cnt_n + L, sizeof(int32_t))) return -1;
            P->cnt_cap = cap;
        }
        for (int k = 0; k < L; k++) {
            int64_t step_count = 0;
            for (int tt = 0; tt < nt; tt++) {
                const tl_t *T = &e->tl[(b * nt + tt) * e->npops + p];
                int64_t a = T->ptr[k], z = T->ptr[k + 1];
                step_count += z - a;
                if (P->record && z > a) {
                    int64_t c1 = P->rec_cap, c2 = P->rec_cap;
                    if (grow((void **)&P->rec_steps, &c1, P->rec_n + (z - a), sizeof(int64_t))) return -1;
                    if (grow((void **)&P->rec_ids, &c2, P->rec_n + (z - a), sizeof(int32_t))) return -1;
                    P->rec_cap = c1;
                    for (int64_t s = a; s < z; s++) {
                        int32_t i = T->ids[s];
                        if (P->mask && !P->mask[i]) continue;
                        P->rec_steps[P->rec_n] = n0 + k + 1;
                        P->rec_ids[P->rec_n] = i;
                        P->rec_n++;
                    }
                }
            }
            P->total += step_count;
            if (P->count_rec) P->cnt[P->cnt_n++] = (int32_t)step_count;
        }
    }
    return 0;
}

/* ---- run ---- */

int nm_engine_run(nm_engine *e, int64_t nsteps, int nthreads) {
    if (nsteps <= 0) return 0;
    memset(&e->fault, 0, sizeof e->fault);   /* a failure before the loop is no fault of the network */
    if (prepare_buffers(e)) return -1;
    int nt = nthreads > 0 ? nthreads : omp_get_max_threads();
    if (nt < 1) nt = 1;
    const int Lfull = nm_engine_interval(e);
    if (prepare_threads(e, nt, Lfull)) return -1;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        if (P->model == NM_MODEL_POISSON && P->needs_redraw) { nm_poisson_redraw(e, P); P->needs_redraw = 0; }
    }
    if (nm_adex_prepare(e, nt)) return -1;
    if (nm_faults_prepare(e, nt)) return fail(e, "out of memory");
    /* state monitors: reserve room for this run's samples */
    for (int m = 0; m < e->nmons; m++) {
        mon_t *M = &e->mons[m];
        int64_t need = M->nsamples + nsteps / M->every + 2;
        int64_t c1 = M->cap_data, c2 = M->cap;
        if (grow((void **)&M->data, &c1, need * (M->nidx ? M->nidx : 1), sizeof(float))) return fail(e, "out of memory (state monitor)");
        if (grow((void **)&M->steps, &c2, need, sizeof(int64_t))) return fail(e, "out of memory (state monitor)");
        M->cap = c2;
        M->cap_data = c1;
    }
    memset(e->events_tl, 0, sizeof(int64_t) * (size_t)nt * (size_t)ev_stride(e));
    const int evs = ev_stride(e);
    const int64_t start = e->step, end = e->step + nsteps;
    int status = 0;
    int64_t stop = end;   /* where the run ended (earlier if a fault stopped it) */

    /* One barrier per interval: thread-local spike lists are double-buffered (interval i writes buffer
     * i % 2), so a thread may start updating interval i+1 while others still deliver interval i; the
     * barrier after the updates of i+1 guarantees nobody still reads buffer (i+1) % 2 from interval i-1.
     * Each thread delivers only into ring buffers of neurons it owns, which only it updates. */
    nm_barrier bar;
    atomic_init(&bar.count, 0);
    atomic_init(&bar.sense, 0);
    atomic_init(&bar.waiters, 0);
    bar.n = nt;
    const long spin = spin_budget_ns();
    #pragma omp parallel num_threads(nt) if(nt > 1)
    {
        const int t = omp_get_thread_num();
        int sense = 0;
        int64_t iter = 0;
        int64_t ok_step = e->checked_step;   /* the state was finite after this step */
        for (int64_t n0 = start; n0 < end; n0 += Lfull, iter++) {
            const int Lk = (int)((end - n0) < Lfull ? (end - n0) : Lfull);
            const int b = (int)(iter & 1);
            /* 1. advance owned neurons Lk steps, population by population within a step; same-step
             * (zero-delay, feed-forward) projections deliver right after their source population */
            for (int k = 0; k < Lk; k++) {
                const int64_t n = n0 + k;
                for (int p = 0; p < e->npops; p++) {
                    pop_t *P = &e->pops[p];
                    tl_t *T = &e->tl[(b * nt + t) * e->npops + p];
                    int32_t lo = e->range[(t * e->npops + p) * 2], hi = e->range[(t * e->npops + p) * 2 + 1];
                    if (k == 0) T->ptr[0] = 0;
                    int64_t cnt = 0;
                    if (lo < hi) cnt = nm_update_pop(e, P, lo, hi, n, e->scratch[t], T->ids + T->ptr[k], t);
                    if (!P->no_per_neuron)
                        for (int64_t q = T->ptr[k]; q < T->ptr[k] + cnt; q++) P->per_neuron[T->ids[q]]++;  /* owner counts */
                    T->ptr[k + 1] = T->ptr[k] + cnt;
                    /* state monitors sample owned neurons after update n (time (n+1)*dt) */
                    for (int m = 0; m < e->nmons; m++) {
                        mon_t *M = &e->mons[m];
                        if (M->pop != p || (n + 1) % M->every) continue;
                        /* sample index: number of multiples of `every` in (start, n+1] before this one */
                        int64_t si = M->nsamples + (n + 1) / M->every - start / M->every - 1;
                        float *row = M->data + (size_t)si * (size_t)M->nidx;
                        const float *var = P->var[M->var];
                        for (int32_t q = 0; q < M->nidx; q++) {
                            int32_t i = M->idx[q];
                            if (i >= lo && i < hi) row[q] = var[i];
                        }
                        if (t == 0) M->steps[si] = n + 1;
                    }
                    if (e->has_same_step && P->same_step_out) {
                        if (nt > 1) barrier_wait(&bar, &sense, spin);
                        for (int j = 0; j < e->nprojs; j++) {
                            const proj_t *pr = &e->projs[j];
                            if (!pr->same_step || pr->d.pre != p) continue;
                            int q = pr->d.post;
                            int32_t qlo = e->range[(t * e->npops + q) * 2], qhi = e->range[(t * e->npops + q) * 2 + 1];
                            if (qlo >= qhi) continue;
                            int64_t sc;
                            const int32_t *sids = step_spikes(e, b, nt, p, k, e->gather[t], &sc);
                            if (sc) e->events_tl[t * evs + j] += deliver_list(e, pr, n, sids, sc, qlo, qhi, t);
                        }
                    }
                }
            }
            /* finiteness check (every NM_CHECK_STEPS steps) and faults raised by the updates: every
             * thread publishes its own before the barrier and reads all after it (same decision) */
            const int check = nm_check_due(n0, n0 + Lk, end);
            nm_faults_publish(e, nt, b, t, n0 + Lk, check, ok_step);
            if (nt > 1) barrier_wait(&bar, &sense, spin);
            if (nm_faults_first(e, nt, b, t == 0 ? &e->fault : NULL)) { if (t == 0) stop = n0 + Lk; break; }
            if (check) ok_step = n0 + Lk;
            /* 2. thread 0 counts and records (reads the lists only) */
            if (t == 0 && record_interval(e, b, nt, n0, Lk)) status = -1;
            /* 3. deliver into owned targets */
            for (int j = 0; j < e->nprojs; j++) {
                int q = e->projs[j].d.post;
                int32_t lo = e->range[(t * e->npops + q) * 2], hi = e->range[(t * e->npops + q) * 2 + 1];
                e->events_tl[t * evs + j] += deliver(e, j, b, nt, n0, Lk, lo, hi, e->gather[t], t);
            }
            /* gated (max-pool) delivery reads spike counts of other threads' neurons: nobody may
             * update them before everyone has delivered */
            if (e->gated && nt > 1) barrier_wait(&bar, &sense, spin);
        }
    }
    for (int j = 0; j < e->nprojs; j++)
        for (int t = 0; t < nt; t++) e->projs[j].events += e->events_tl[t * evs + j];
    for (int m = 0; m < e->nmons; m++) {
        mon_t *M = &e->mons[m];
        M->nsamples += stop / M->every - start / M->every;
    }
    e->step = stop;
    if (e->fault.kind) { nm_fault_describe(e, &e->fault, NULL, NULL, e->err, sizeof e->err); return -1; }
    e->checked_step = stop;
    if (status) return fail(e, "out of memory (spike recording)");
    return 0;
}
