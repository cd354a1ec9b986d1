/* The run loop: neurons advance a min-delay interval at a time, threads meet at one barrier per
 * interval (spin, then sleep), spikes are recorded and delivered into the ring buffers each thread owns.
 * Also the buffers and thread layout it prepares. See nm_snn.h. */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

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

/* ---- buffers and thread layout ---- */

static int prepare_buffers(nm_engine *e) {
    if (e->buffers_ready) return 0;
    int nslots = e->max_delay + 1;
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        for (int b = 0; b < P->nports; b++) {
            float *nb = nm_acalloc((size_t)P->n * (size_t)nslots + 1, sizeof(float));
            if (!nb) return nm_fail(e, "out of memory (ring buffers)");
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


/* Per-thread event counters (projections, then Poisson inputs) are padded to whole cache lines (no
 * false sharing between threads). */
static int ev_stride(const nm_engine *e) { return ((e->nprojs + e->ninputs ? e->nprojs + e->ninputs : 1) + 7) / 8 * 8 + 8; }

/* ---- spike lists with multiplicities ----
 * A multi-spike model (a Poisson source: several spikes of one neuron in one step) lists each neuron once
 * and leaves its count in P->mult; the run loop repeats the id that many times, so every delivery kind,
 * the counts and the recordings see one entry per spike (as NEST's spike_recorder records a spike of
 * multiplicity k k times). The lists then need more room than one entry per neuron and step: the owning
 * thread grows its own list (nobody else reads it while it writes, see nm_engine_run). */

/* Grows T->ids to hold at least `need` entries, keeping the first `used`; 0, or -1 (out of memory). */
static int grow_ids(tl_t *T, int64_t need, int64_t used) {
    int64_t cap = T->cap * 2 > need ? T->cap * 2 : need;
    int32_t *ids = nm_acalloc((size_t)cap, sizeof(int32_t));
    if (!ids) return -1;
    memcpy(ids, T->ids, sizeof(int32_t) * (size_t)used);
    free(T->ids);
    T->ids = ids;
    T->cap = cap;
    return 0;
}

/* The `cnt` neurons listed at T->ids[base..] by a multi-spike update become one entry per spike (each id
 * repeated by its count, in place from the back); returns the entries listed, or the unexpanded count
 * with *oom set when the list cannot grow. */
static int64_t expand_multi(const pop_t *P, tl_t *T, int64_t base, int64_t cnt, int *oom) {
    int64_t total = 0;
    for (int64_t q = base; q < base + cnt; q++) total += P->mult[T->ids[q]];
    if (total == cnt) return cnt;
    if (base + total + 16 > T->cap && grow_ids(T, base + total + 16, base + cnt)) { __atomic_store_n(oom, 1, __ATOMIC_RELAXED); return cnt; }
    int64_t w = base + total;
    for (int64_t q = base + cnt - 1; q >= base; q--) {
        const int32_t id = T->ids[q];
        for (uint32_t r = P->mult[id]; r > 0; r--) T->ids[--w] = id;
    }
    return total;
}

static int prepare_threads(nm_engine *e, int nt, int L) {
    if (e->tl && e->tl_nt == nt && e->tl_L >= L && e->tl_npops == e->npops && e->tl_nmons == e->nmons &&
        e->tl_nprojs == e->nprojs && e->tl_ninputs == e->ninputs) return 0;
    nm_free_threads(e);
    e->tl_nt = nt; e->tl_L = L; e->tl_npops = e->npops; e->tl_nmons = e->nmons; e->tl_nprojs = e->nprojs; e->tl_ninputs = e->ninputs;
    e->range = calloc((size_t)nt * (size_t)e->npops * 2, sizeof(int32_t));
    e->tl = calloc(2 * (size_t)nt * (size_t)e->npops, sizeof(tl_t));
    e->scratch = calloc((size_t)nt, sizeof(uint8_t *));
    e->events_tl = calloc((size_t)nt * (size_t)ev_stride(e), sizeof(int64_t));
    if (!e->range || !e->tl || !e->scratch || !e->events_tl) return nm_fail(e, "out of memory");
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
                T->cap = (hi - lo) * (int64_t)L + 16;   /* + slack for vector stores */
                T->ids = nm_acalloc((size_t)T->cap, sizeof(int32_t));
                T->ptr = nm_acalloc((size_t)L + 1, sizeof(int64_t));
                if (!T->ids || !T->ptr) return nm_fail(e, "out of memory");
            }
            if (hi - lo > maxown) maxown = hi - lo;
        }
    }
    int32_t maxpop = 1;
    for (int p = 0; p < e->npops; p++) if (e->pops[p].n > maxpop) maxpop = e->pops[p].n;
    e->gather = calloc((size_t)nt, sizeof(int32_t *));
    e->gather_cap = calloc((size_t)nt, sizeof(int64_t));
    if (!e->gather || !e->gather_cap) return nm_fail(e, "out of memory");
    for (int t = 0; t < nt; t++) {
        e->scratch[t] = nm_acalloc((size_t)maxown + 64, 1);
        e->gather_cap[t] = (int64_t)maxpop * L + 1;
        e->gather[t] = nm_acalloc((size_t)e->gather_cap[t], sizeof(int32_t));
        if (!e->scratch[t] || !e->gather[t]) return nm_fail(e, "out of memory");
    }
    /* conv delivery scratch per thread: spikes per (padded) source pixel and where they start, each
     * spike's kernel offset, and two targets' lists (see deliver_conv_body) */
    for (int j = 0; j < e->nprojs; j++) {
        proj_t *pr = &e->projs[j];
        const nm_proj_desc *d = &pr->d;
        if (d->kind != NM_PROJ_CONV || d->depthwise) continue;
        if (pr->wrow) {   /* by rows: column bit vectors, spike bits from the list, a row of zero words */
            const size_t nw = (size_t)d->in_c / 16;
            const size_t words = 2 * nm_rows_cm_len(d) + ((size_t)d->in_h * d->in_w * nw + (size_t)d->in_w * nw + 1) / 2;
            pr->cvs = calloc((size_t)nt, sizeof(int32_t *));
            if (!pr->cvs) return nm_fail(e, "out of memory");
            for (int t = 0; t < nt; t++)
                if (!(pr->cvs[t] = nm_acalloc(words, sizeof(int32_t)))) return nm_fail(e, "out of memory");
            continue;
        }
        const size_t H2 = (size_t)d->in_h + 2 * (size_t)d->pad, W2 = (size_t)d->in_w + 2 * (size_t)d->pad;
        const size_t words = 2 * H2 * W2 + 1 + (size_t)d->in_h * d->in_w * d->in_c + 16 + 2 * ((size_t)d->k_h * d->k_w * d->in_c + 32);
        pr->cvs = calloc((size_t)nt, sizeof(int32_t *));
        pr->cpos = malloc(sizeof(int32_t) * 2 * ((size_t)d->in_h * d->in_w * d->in_c + 1));
        pr->pos_step = malloc(sizeof(int64_t) * (size_t)nt);
        if (!pr->cvs || !pr->cpos || !pr->pos_step) return nm_fail(e, "out of memory");
        /* the positions of a list conv from the same source, delivered just before in the same step
         * (a residual block's strided 3x3 conv and its 1x1 shortcut) */
        pr->pos_from = -1;
        for (int i = 0; i < j && pr->same_step; i++) {
            const proj_t *q = &e->projs[i];
            if (q->d.kind == NM_PROJ_CONV && !q->d.depthwise && !q->wrow && q->same_step && q->d.pre == d->pre &&
                q->d.out_c == d->out_c && q->d.pad >= d->pad) { pr->pos_from = i; break; }
        }
        for (int32_t i = 0; i < d->in_h * d->in_w * d->in_c; i++) {
            const int32_t c = i % d->in_c, pix = i / d->in_c, y = pix / d->in_w + d->pad, x = pix % d->in_w + d->pad;
            pr->cpos[2 * (size_t)i] = y * (int32_t)W2 + x;
            pr->cpos[2 * (size_t)i + 1] = x * d->in_c * d->out_c + c * d->out_c;
        }
        for (int t = 0; t < nt; t++) {
            pr->cvs[t] = nm_acalloc(words, sizeof(int32_t));
            if (!pr->cvs[t]) return nm_fail(e, "out of memory");
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
            if (!pr->split) return nm_fail(e, "out of memory");
            const int64_t *rp = pr->d.rowptr;
            for (int32_t i = 0; i < npre; i++)
                for (int t = 1; t < nt; t++)
                    pr->split[(size_t)i * (nt - 1) + (t - 1)] =
                        (int32_t)(nm_lower_bound32(pr->d.col, rp[i], rp[i + 1], e->range[(t * e->npops + q) * 2]) - rp[i]);
        }
    }
    return 0;
}

/* ---- delivery of an interval ---- */

/* The spikes of population `pre` in step k of the interval as one list in ascending neuron order (the
 * thread lists concatenated in thread order; copied into thread t's gather list when several, grown if
 * a multi-spike source needs it). The same list whatever the thread count, so grouped delivery sums in
 * the same order. */
static const int32_t *step_spikes(nm_engine *e, int b, int nt, int pre, int k, int t, int64_t *count, int *oom) {
    if (nt == 1) {
        const tl_t *T = &e->tl[b * e->npops + pre];
        *count = T->ptr[k + 1] - T->ptr[k];
        return T->ids + T->ptr[k];
    }
    int64_t need = 0;
    for (int tt = 0; tt < nt; tt++) {
        const tl_t *T = &e->tl[(b * nt + tt) * e->npops + pre];
        need += T->ptr[k + 1] - T->ptr[k];
    }
    if (need > e->gather_cap[t]) {
        int32_t *g = nm_acalloc((size_t)need, sizeof(int32_t));
        if (!g) { __atomic_store_n(oom, 1, __ATOMIC_RELAXED); *count = 0; return e->gather[t]; }
        free(e->gather[t]);
        e->gather[t] = g;
        e->gather_cap[t] = need;
    }
    int32_t *scratch = e->gather[t];
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

/* Delivers all spikes of the interval starting at n0 (thread lists of buffer b, in thread order =
 * ascending neuron id within a step) through projection j into targets [tlo, thi). */
static int64_t deliver(nm_engine *e, int j, int b, int nt, int64_t n0, int L, int32_t tlo, int32_t thi, int t, int *oom) {
    const proj_t *pr = &e->projs[j];
    if (tlo >= thi || pr->same_step) return 0;
    int64_t ev = 0;
    for (int k = 0; k < L; k++) {
        int64_t cnt;
        const int32_t *ids = step_spikes(e, b, nt, pr->d.pre, k, t, &cnt, oom);
        if (cnt) ev += nm_deliver_list(e, pr, n0 + k, ids, cnt, tlo, thi, t);
    }
    return ev;
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
        if (P->model->prepare && P->model->prepare(e, P, nt)) return nm_fail(e, "out of memory (model state)");
        const int multi = P->model->multi_spike && P->model->multi_spike(P);
        if (multi && !P->mult && !(P->mult = nm_calloc(e, (size_t)P->n, sizeof(uint32_t)))) return nm_fail(e, "out of memory (spike counts)");
        if (!multi) { free(P->mult); P->mult = NULL; }
    }
    for (int j = 0; j < e->nprojs; j++) {   /* a parameter may have changed since the projection was added */
        const proj_t *pr = &e->projs[j];
        if ((pr->d.kind == NM_PROJ_CONV || pr->d.kind == NM_PROJ_MAXPOOL) && e->pops[pr->d.pre].mult) {
            snprintf(e->err, sizeof e->err, "projection %d: a %s projection needs a source that spikes at most once per step "
                     "(a poisson source with bernoulli = 1)", j, pr->d.kind == NM_PROJ_CONV ? "conv" : "maxpool");
            return -1;
        }
    }
    /* Populations whose spikes nobody reads as a list (one thread; every outgoing projection delivered
     * from spike bits in the same step; no recording): the update only counts its spikes, in total and
     * per neuron (the id list of a converted network's layer costs a compaction per 16 neurons). */
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        int ok = nt == 1 && P->model->spike_bits && P->spk_bits && !P->record && !P->mult;
        for (int j = 0; ok && j < e->nprojs; j++)
            if (e->projs[j].d.pre == p && !(e->projs[j].same_step && e->projs[j].pool_bits)) ok = 0;
        P->no_list = ok;
    }
    /* Populations that add their inputs to their state as they arrive (model->direct_input): every
     * projection onto them is same-step and no Poisson input feeds them, so their ring buffer would
     * only ever hold the inputs of the step that reads it; and the period of external currents read
     * as a table (model->periodic_current) */
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        int ok = P->model->direct_input && P->has_input && !P->ninputs && (!P->model->direct_ok || P->model->direct_ok(P));
        for (int j = 0; ok && j < e->nprojs; j++)
            if (e->projs[j].d.post == p && !e->projs[j].same_step) ok = 0;
        P->direct = ok ? P->var[0] : NULL;
        P->iext_period = P->model->periodic_current ? nm_iext_period(P) : 0;
    }
    for (int j = 0; j < e->nprojs; j++)   /* no step positions yet (steps restart after a reset) */
        if (e->projs[j].pos_step) for (int t = 0; t < nt; t++) e->projs[j].pos_step[t] = -1;
    if (nm_faults_prepare(e, nt)) return nm_fail(e, "out of memory");
    /* state monitors: reserve room for this run's samples */
    for (int m = 0; m < e->nmons; m++) {
        mon_t *M = &e->mons[m];
        int64_t need = M->nsamples + nsteps / M->every + 2;
        int64_t c1 = M->cap_data, c2 = M->cap;
        if (nm_grow((void **)&M->data, &c1, need * (M->nidx ? M->nidx : 1), sizeof(float))) return nm_fail(e, "out of memory (state monitor)");
        if (nm_grow((void **)&M->steps, &c2, need, sizeof(int64_t))) return nm_fail(e, "out of memory (state monitor)");
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
    int list_oom = 0;   /* a spike list or gather list could not grow (set by any thread) */
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
                    if (P->mult && lo < hi && T->ptr[k] + (hi - lo) + 16 > T->cap && grow_ids(T, T->ptr[k] + (hi - lo) + 16, T->ptr[k])) {
                        __atomic_store_n(&list_oom, 1, __ATOMIC_RELAXED);
                        lo = hi;   /* no room: the run fails after this interval */
                    }
                    /* Poisson inputs: the counts acting in update n, into the slot it reads */
                    if (P->ninputs && lo < hi) nm_inputs_apply(e, p, lo, hi, n, e->events_tl + t * evs + e->nprojs);
                    if (lo < hi) cnt = nm_update_pop(e, P, lo, hi, n, P->no_list ? NULL : T->ids + T->ptr[k], t);
                    if (P->mult && cnt) cnt = expand_multi(P, T, T->ptr[k], cnt, &list_oom);
                    if (!P->no_per_neuron && !P->no_list)
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
                            const int32_t *sids = step_spikes(e, b, nt, p, k, t, &sc, &list_oom);
                            if (sc) e->events_tl[t * evs + j] += nm_deliver_list(e, pr, n, sids, sc, qlo, qhi, t);
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
            if (t == 0 && nm_record_interval(e, b, nt, n0, Lk)) status = -1;
            /* 3. deliver into owned targets */
            for (int j = 0; j < e->nprojs; j++) {
                int q = e->projs[j].d.post;
                int32_t lo = e->range[(t * e->npops + q) * 2], hi = e->range[(t * e->npops + q) * 2 + 1];
                e->events_tl[t * evs + j] += deliver(e, j, b, nt, n0, Lk, lo, hi, t, &list_oom);
            }
            /* gated (max-pool) delivery reads spike counts of other threads' neurons: nobody may
             * update them before everyone has delivered */
            if (e->gated && nt > 1) barrier_wait(&bar, &sense, spin);
        }
    }
    for (int j = 0; j < e->nprojs; j++)
        for (int t = 0; t < nt; t++) e->projs[j].events += e->events_tl[t * evs + j];
    for (int k = 0; k < e->ninputs; k++)
        for (int t = 0; t < nt; t++) e->inputs[k].events += e->events_tl[t * evs + e->nprojs + k];
    for (int m = 0; m < e->nmons; m++) {
        mon_t *M = &e->mons[m];
        M->nsamples += stop / M->every - start / M->every;
    }
    e->step = stop;
    if (e->fault.kind) { nm_fault_describe(e, &e->fault, NULL, NULL, e->err, sizeof e->err); return -1; }
    e->checked_step = stop;
    if (status) return nm_fail(e, "out of memory (spike recording)");
    if (list_oom) return nm_fail(e, "out of memory (the spike lists of a Poisson source with several spikes per step)");
    return 0;
}
