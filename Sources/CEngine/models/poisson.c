/* poisson: Poisson spike source with NEST's poisson_generator semantics: in every step each neuron
 * emits a Poisson-distributed number of spikes with mean p = rate dt (any p >= 0; several spikes in
 * one step are possible and travel as repeated ids, see snn_run.c). Drawn exactly as a Poisson process:
 * exponential inter-spike intervals in continuous time (in units of steps), counted per step, so the
 * counts of disjoint steps are independent Poisson(p) and a neuron costs a comparison per step plus a
 * draw per spike.
 *
 * bernoulli = 1 (Brian2's PoissonGroup; the converter's pixel encoding): at most one spike per step,
 * with probability p (p >= 1: every step), drawn as geometric inter-spike steps.
 *
 * Random streams belong to blocks of NM_RNG_BLOCK neurons (seeded from the run seed, the population and
 * the block), so the spikes do not depend on the thread count. Per-neuron means (the data block "rates",
 * nm_pop_set_rates) override p. Swift side: Sources/SNN/Models/Poisson.swift. */
#include "../snn_kernel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double p;          /* Poisson: mean spikes per step (rate dt); Bernoulli: probability per step */
    int32_t bernoulli; /* 1: at most one spike per step */
} nm_poisson_params;

static const nm_param POISSON_PARAMS[] = {
    NM_PARAM(nm_poisson_params, p, "1", 0),
    NM_PARAM_FLAG_(nm_poisson_params, bernoulli),
};
static const nm_block POISSON_BLOCKS[] = {{"rates", sizeof(float)}};

static const char *poisson_check(const void *params, char *why, size_t len) {
    const nm_poisson_params *q = params;
    if (q->p > NM_POISSON_MAX_MEAN) {
        snprintf(why, len, "p = %g spikes per step is more than %g", q->p, NM_POISSON_MAX_MEAN);
        return why;
    }
    return NULL;
}

typedef struct {
    float *rate_p;     /* per-neuron means (or probabilities) per step, or NULL (then p) */
    int64_t *next;     /* the step of each neuron's next spike */
    double *frac;      /* Poisson: where in that step it falls, [0, 1) (in steps) */
    nm_rng **rng;      /* one stream per block of NM_RNG_BLOCK neurons */
    int32_t nrng;
    int needs_redraw;  /* next[] must be drawn again before the run */
} poisson_data;

static uint64_t stream_of(const nm_engine *e, const pop_t *P, int32_t b) {
    return ((uint64_t)(P - e->pops + 1) << 40) | (uint64_t)b;
}

static int poisson_init(nm_engine *e, pop_t *P) {
    poisson_data *d = calloc(1, sizeof *d);
    if (!d) return -1;
    P->ext = d;
    d->nrng = (P->n + NM_RNG_BLOCK - 1) / NM_RNG_BLOCK;
    d->rng = calloc((size_t)(d->nrng ? d->nrng : 1), sizeof(nm_rng *));
    if (!d->rng) return -1;
    for (int32_t b = 0; b < d->nrng; b++)
        if (!(d->rng[b] = nm_rng_new(e->seed, stream_of(e, P, b)))) return -1;
    d->next = nm_calloc(e, (size_t)P->n, sizeof(int64_t));
    d->frac = nm_calloc(e, (size_t)P->n, sizeof(double));
    d->needs_redraw = 1;
    return d->next && d->frac ? 0 : -1;
}

static void poisson_release(pop_t *P) {
    poisson_data *d = P->ext;
    if (!d) return;
    if (d->rng) for (int32_t b = 0; b < d->nrng; b++) nm_rng_free(d->rng[b]);
    free(d->rng);
    free(d->rate_p);
    free(d->next);
    free(d->frac);
    free(d);
    P->ext = NULL;
}

static double mean_of(const nm_poisson_params *q, const poisson_data *d, int32_t i) {
    return d->rate_p ? d->rate_p[i] : q->p;
}

/* Poisson: moves neuron i's next spike on by an exponential interval of mean 1/lambda steps from
 * (next[i], frac[i]); a spike beyond 2^62 steps (or lambda <= 0) is never. */
static inline void advance(poisson_data *d, nm_rng *r, int32_t i, double lambda) {
    if (!(lambda > 0)) { d->next[i] = INT64_MAX; return; }
    const double f = d->frac[i] + nm_rng_exponential(r, 1.0 / lambda);
    if (!(f < 4.6e18)) { d->next[i] = INT64_MAX; return; }
    const double whole = floor(f);
    const int64_t s = d->next[i] + (int64_t)whole;
    d->next[i] = s < d->next[i] ? INT64_MAX : s;
    d->frac[i] = f - whole;
}

/* Every neuron's next spike, drawn from the start of the current step (both processes are memoryless). */
static void redraw(nm_engine *e, pop_t *P) {
    poisson_data *d = P->ext;
    const nm_poisson_params *q = P->params;
    for (int32_t b = 0; b < d->nrng; b++) {
        int32_t i0 = b * NM_RNG_BLOCK, i1 = i0 + NM_RNG_BLOCK < P->n ? i0 + NM_RNG_BLOCK : P->n;
        for (int32_t i = i0; i < i1; i++) {
            const double p = mean_of(q, d, i);
            if (q->bernoulli) {
                d->next[i] = p <= 0.0 ? INT64_MAX : e->step + (int64_t)nm_rng_geometric(d->rng[b], p > 1.0 ? 1.0 : p) - 1;
            } else {
                d->next[i] = e->step;
                d->frac[i] = 0.0;
                advance(d, d->rng[b], i, p);
            }
        }
    }
    d->needs_redraw = 0;
}

static void poisson_reset(nm_engine *e, pop_t *P) { (void)e; ((poisson_data *)P->ext)->needs_redraw = 1; }

static void poisson_reseed(nm_engine *e, pop_t *P, uint64_t seed) {
    poisson_data *d = P->ext;
    (void)e;
    for (int32_t b = 0; b < d->nrng; b++) {
        nm_rng_free(d->rng[b]);
        d->rng[b] = nm_rng_new(seed, stream_of(e, P, b));
    }
    d->needs_redraw = 1;
}

static int poisson_prepare(nm_engine *e, pop_t *P, int nt) {
    (void)nt;
    if (((poisson_data *)P->ext)->needs_redraw) redraw(e, P);
    return 0;
}

/* A population whose neurons may spike several times in one step (the Poisson draw). */
static int poisson_multi(const pop_t *P) { return !((const nm_poisson_params *)P->params)->bernoulli; }

/* Bernoulli: one spike at most; the next one a geometric number of steps later. Poisson: every spike of
 * the step is counted (P->mult[i], the engine repeats the id that many times). */
static int64_t upd_poisson(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out, int thread) {
    (void)e; (void)thread;
    poisson_data *d = P->ext;
    const nm_poisson_params *q = P->params;
    int64_t c = 0;
    if (q->bernoulli) {
        for (int32_t i = lo; i < hi; i++) {
            if (d->next[i] != n) continue;
            out[c++] = i;
            double p = mean_of(q, d, i);
            d->next[i] = n + (int64_t)nm_rng_geometric(d->rng[i / NM_RNG_BLOCK], p > 1.0 ? 1.0 : p);
        }
        return c;
    }
    uint32_t *mult = P->mult;
    for (int32_t i = lo; i < hi; i++) {
        if (d->next[i] != n) continue;
        nm_rng *r = d->rng[i / NM_RNG_BLOCK];
        const double lambda = mean_of(q, d, i);
        uint32_t k = 0;
        do {
            k++;
            advance(d, r, i, lambda);
        } while (d->next[i] == n && k < UINT32_MAX);
        out[c++] = i;
        mult[i] = k;
    }
    return c;
}
NM_SCALAR_KERNEL(upd_poisson);

/* block 0, "rates": per-neuron means (or probabilities) per step (n floats, finite, at most
 * NM_POISSON_MAX_MEAN), or NULL for p */
static int poisson_set_block(nm_engine *e, pop_t *P, int block, const void *data, int64_t count) {
    poisson_data *d = P->ext;
    const float *p = data;
    (void)block;
    if (p && count != P->n) {
        snprintf(e->err, sizeof e->err, "set_rates: %lld rates for %d neurons", (long long)count, (int)P->n);
        return -1;
    }
    if (p)
        for (int32_t i = 0; i < P->n; i++) {
            if (!isfinite(p[i])) { snprintf(e->err, sizeof e->err, "set_rates: the mean of neuron %d is not finite", (int)i); return -1; }
            if (p[i] > NM_POISSON_MAX_MEAN) {
                snprintf(e->err, sizeof e->err, "set_rates: the mean of neuron %d (%g spikes per step) is more than %g", (int)i, p[i],
                         NM_POISSON_MAX_MEAN);
                return -1;
            }
        }
    if (p) {
        if (!d->rate_p && !(d->rate_p = nm_calloc(e, (size_t)P->n, sizeof(float)))) {
            snprintf(e->err, sizeof e->err, "out of memory");
            return -1;
        }
        memcpy(d->rate_p, p, sizeof(float) * (size_t)P->n);
    } else {
        free(d->rate_p);
        d->rate_p = NULL;
    }
    d->needs_redraw = 1;
    return 0;
}

static const void *poisson_get_block(const pop_t *P, int block, int64_t *count) {
    const poisson_data *d = P->ext;
    (void)block;
    *count = P->n;
    return d->rate_p;
}

const nm_model nm_model_poisson = {
    .name = "poisson", .weight_unit = "",
    .nvars = 0, .nports = 0, .granularity = NM_RNG_BLOCK,
    .params_size = sizeof(nm_poisson_params), .params = POISSON_PARAMS, .nparams = 2,
    .blocks = POISSON_BLOCKS, .nblocks = 1,
    .check = poisson_check,
    .init = poisson_init, .release = poisson_release, .reset = poisson_reset, .reseed = poisson_reseed,
    .prepare = poisson_prepare, .set_block = poisson_set_block, .get_block = poisson_get_block,
    .multi_spike = poisson_multi,
    .update = upd_poisson_isa,
};

int nm_pop_set_rates(nm_engine *e, int pop, const float *p) {
    if (pop < 0 || pop >= e->npops) { snprintf(e->err, sizeof e->err, "set_rates: no such population"); return -1; }
    pop_t *P = &e->pops[pop];
    if (P->model != &nm_model_poisson) { snprintf(e->err, sizeof e->err, "set_rates: not a Poisson population"); return -1; }
    return poisson_set_block(e, P, 0, p, P->n);
}
