/* Poisson inputs (Brian2's PoissonInput, NEST's poisson_generator onto many targets): every target
 * neuron receives the summed spikes of `sources` independent trains of rate r, drawn as one count per
 * neuron and step and added to a ring-buffer slot as weight x count. No source neurons, no synapses.
 *
 * The count: Poisson(sources r dt) (the sum of independent Poisson processes is one, so this equals
 * `sources` explicit `poisson` sources exactly), or with `binomial` Binomial(sources, r dt) (the sum of
 * Bernoulli sources: Brian2's PoissonInput, which also approximates it by a normal law when
 * N p > 5 and N (1 - p) > 5; here it is exact). It is drawn by inversion of the distribution's
 * cumulative table in 32-bit fixed point: count = kmin + #{j : u >= T[j]} for a uniform 32-bit u, with
 * T[j] = round(2^32 F(kmin + j)), so every probability is exact to 2^-32 (the upper tail beyond the
 * table, below 2^-33, goes to the last count). Where the counts are small (up to 24 entries cover
 * all but 1e-3 of a lane's draws: means up to ~10) the table's prefix is compared for all 16 lanes
 * without a branch and the rest only in the rare blocks that need it; larger means start at a guide
 * table (Chen & Asau's indexed search: bucket of the top bits of u -> the count of the bucket's
 * smallest u) and gather.
 *
 * Random numbers: one xoshiro128++ stream per target neuron (Blackman & Vigna 2018; 32-bit add, xor,
 * shift, rotate only), seeded by splitmix64 from the run seed, the input and the neuron: the counts do
 * not depend on the thread count or on the vector path (integer arithmetic throughout; the weight
 * product is one IEEE multiplication and addition per lane). The kernel runs 16 neurons at a time,
 * compiled per vector path (nm_vec.h).
 *
 * Timing: the counts arrive as the spikes of an explicit source connected with the minimum delay (one
 * step) would: that source's spikes of update m act in update m + 2 (m + 1 for a model with input_lead,
 * which applies an input in the step ending at its arrival), so nothing arrives in the first 2 (1)
 * updates. Each count is drawn right before the update it acts in, into the ring-buffer slot that update
 * reads next (still in cache; a count drawn two steps ahead would be the same random variable, so the
 * draw's moment is free). It does not shorten the min-delay interval (no other thread reads it). */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t nm_vu __attribute__((ext_vector_type(16)));
typedef uint8_t nm_vu8 __attribute__((ext_vector_type(16)));

/* ---- the cumulative table ---- */

/* Fills in->T (len + 1 entries, the last a sentinel), kmin, and for long tables the guide. Unnormalized
 * probabilities from the mode outwards by the ratios of successive terms (Poisson: lambda / (k + 1);
 * binomial: (N - k) / (k + 1) x p / (1 - p)) until a term is below 2^-50 of the mode's, then normalized
 * by their sum, so the mode's own value never needs exp or lgamma. 0, or -1 (out of memory). */
static int build_table(nm_pinput *in) {
    const double N = in->d.sources, p = in->d.p;
    const int binom = in->d.binomial;
    const double lambda = N * p;
    in->len = 0;
    in->kmin = 0;
    free(in->T); free(in->Tb); free(in->G);
    in->T = NULL; in->Tb = NULL; in->G = NULL; in->gbits = 0;
    if (!(lambda > 0)) { in->kmin = 0; }                        /* never a spike */
    else if (binom && p >= 1) { in->kmin = (int32_t)N; }        /* every source every step */
    else {
        const double q = binom ? p / (1 - p) : 0;
        double mode = binom ? floor((N + 1) * p) : floor(lambda);
        if (binom && mode > N) mode = N;
        /* terms from the mode up, then down, into one array [lo, hi] */
        size_t cap = 1024, nup = 0, ndown = 0;
        double *up = malloc(cap * sizeof(double)), *down = malloc(cap * sizeof(double));
        if (!up || !down) { free(up); free(down); return -1; }
        const double tiny = 0x1p-50;
        double v = 1;
        up[nup++] = 1;
        for (double k = mode; ; k++) {            /* term k + 1 from term k */
            if (binom && k >= N) break;
            v *= binom ? (N - k) / (k + 1) * q : lambda / (k + 1);
            if (!(v >= tiny)) break;
            if (nup == cap) { double *nu = realloc(up, 2 * cap * sizeof(double)); if (!nu) { free(up); free(down); return -1; } up = nu; cap *= 2; }
            up[nup++] = v;
        }
        size_t capd = 1024;
        v = 1;
        for (double k = mode; k > 0; k--) {       /* term k - 1 from term k */
            v *= binom ? k / (N - k + 1) / q : k / lambda;
            if (!(v >= tiny)) break;
            if (ndown == capd) { double *nd = realloc(down, 2 * capd * sizeof(double)); if (!nd) { free(up); free(down); return -1; } down = nd; capd *= 2; }
            down[ndown++] = v;
        }
        const size_t total_n = nup + ndown;
        double *pm = malloc(total_n * sizeof(double));
        if (!pm) { free(up); free(down); return -1; }
        for (size_t j = 0; j < ndown; j++) pm[j] = down[ndown - 1 - j];
        for (size_t j = 0; j < nup; j++) pm[ndown + j] = up[j];
        free(up); free(down);
        const double lo = mode - (double)ndown;   /* the count of pm[0] */
        double sum = 0;
        for (size_t j = 0; j < total_n; j++) sum += pm[j];
        /* thresholds: T[j] = round(2^32 F(lo + j)); those at 0 are always passed (kmin), those at 2^32
         * never (the table ends) */
        uint32_t *T = malloc((total_n + 1) * sizeof(uint32_t));
        if (!T) { free(pm); return -1; }
        double F = 0;
        size_t zeros = 0, len = 0;
        for (size_t j = 0; j < total_n; j++) {
            F += pm[j];
            const double t = floor(F / sum * 4294967296.0 + 0.5);
            if (t >= 4294967296.0) break;
            if (t <= 0 && len == 0) { zeros++; continue; }
            T[len++] = (uint32_t)t;
        }
        free(pm);
        T[len] = UINT32_MAX;   /* sentinel for the guided scan (never counted: c < len is checked) */
        in->T = T;
        in->len = (int32_t)len;
        in->kmin = (int32_t)(lo + (double)zeros);
    }
    if (!in->T) {
        if (!(in->T = malloc(sizeof(uint32_t)))) return -1;
        in->T[0] = UINT32_MAX;
    }
    /* the kernel's form: biased thresholds (+ the sentinel), and the prefix compared without branches */
    if (!(in->Tb = malloc(((size_t)in->len + 1) * sizeof(int32_t)))) return -1;
    for (int32_t j = 0; j <= in->len; j++) in->Tb[j] = (int32_t)(in->T[j] ^ 0x80000000u);
    in->K = 0;
    while (in->K < in->len && (double)in->T[in->K] < (1.0 - 1e-3) * 4294967296.0) in->K++;
    if (in->K < in->len) in->K++;   /* T[K - 1] >= 1 - 1e-3: the tail is rare */
    if (in->K > NM_PINPUT_LINEAR) {
        int b = 1;
        while ((1 << b) < in->len && b < 16) b++;
        b = b + 1 > 17 ? 17 : b + 1;
        const size_t ng = (size_t)1 << b;
        if (!(in->G = malloc(ng * sizeof(uint32_t)))) return -1;
        int32_t c = 0;
        for (size_t g = 0; g < ng; g++) {
            const uint64_t start = (uint64_t)g << (32 - b);
            while (c < in->len && (uint64_t)in->T[c] <= start) c++;
            in->G[g] = (uint32_t)c;
        }
        in->gbits = b;
    }
    return 0;
}

/* ---- streams ---- */

static void seed_streams(const nm_engine *e, nm_pinput *in, int k, uint64_t seed) {
    const int32_t n = e->pops[in->d.pop].n;
    uint32_t *s = in->state;
    const size_t np = (size_t)in->npad;
    for (int32_t i = 0; i < n; i++) {
        uint64_t z = nm_splitmix64(nm_splitmix64(seed ^ 0x5851F42D4C957F2Dull) ^ nm_splitmix64(((uint64_t)(k + 1) << 32) | (uint64_t)i));
        uint64_t z2 = nm_splitmix64(z);
        if (!z && !z2) z = 1;   /* xoshiro's one forbidden state */
        s[i] = (uint32_t)z; s[np + i] = (uint32_t)(z >> 32);
        s[2 * np + i] = (uint32_t)z2; s[3 * np + i] = (uint32_t)(z2 >> 32);
    }
}

/* ---- adding one ---- */

int nm_check_poisson_input(const nm_engine *e, const nm_poisson_input_desc *d, char *err, size_t len) {
    if (!d) { snprintf(err, len, "poisson input: no description"); return -1; }
    if (d->pop < 0 || d->pop >= e->npops) {
        snprintf(err, len, "poisson input: population %d does not exist (the network has %d)", (int)d->pop, e->npops);
        return -1;
    }
    const pop_t *Q = &e->pops[d->pop];
    if (Q->is_source) { snprintf(err, len, "poisson input: population %d is a spike source and receives no input", (int)d->pop); return -1; }
    if (d->port < 0 || d->port >= Q->nports) {
        snprintf(err, len, "poisson input: the target model has no receptor port %d (it has %d)", (int)d->port, Q->nports);
        return -1;
    }
    if (d->sources < 1) { snprintf(err, len, "poisson input: %d sources (at least 1)", (int)d->sources); return -1; }
    if (d->binomial != 0 && d->binomial != 1) { snprintf(err, len, "poisson input: binomial must be 0 or 1"); return -1; }
    if (!(d->p >= 0) || !isfinite(d->p)) { snprintf(err, len, "poisson input: p = %g per source and step must be finite and >= 0", d->p); return -1; }
    if (d->binomial && d->p > 1) { snprintf(err, len, "poisson input: a binomial draw needs p = %g <= 1 (rate <= 1/dt)", d->p); return -1; }
    if ((double)d->sources * d->p > NM_PINPUT_MAX_MEAN) {
        snprintf(err, len, "poisson input: %d sources x p %g = %g spikes per step, more than %g", (int)d->sources, d->p,
                 (double)d->sources * d->p, NM_PINPUT_MAX_MEAN);
        return -1;
    }
    if (!isfinite(d->weight)) { snprintf(err, len, "poisson input: the weight is not finite"); return -1; }
    if (d->mask)
        for (int32_t i = 0; i < Q->n; i++)
            if (d->mask[i] > 1) { snprintf(err, len, "poisson input: mask entry %d is %d (0 or 1)", (int)i, d->mask[i]); return -1; }
    return 0;
}

int nm_engine_add_poisson_input(nm_engine *e, const nm_poisson_input_desc *d) {
    if (nm_check_poisson_input(e, d, e->err, sizeof e->err)) return -1;
    nm_pinput *ni = realloc(e->inputs, sizeof(nm_pinput) * (size_t)(e->ninputs + 1));
    if (!ni) return nm_fail(e, "out of memory");
    e->inputs = ni;
    nm_pinput *in = &e->inputs[e->ninputs];
    memset(in, 0, sizeof *in);
    in->d = *d;
    in->d.mask = NULL;
    const int32_t n = e->pops[d->pop].n;
    in->npad = (n + 15) / 16 * 16 + 16;   /* whole blocks from any start, see pinput_body */
    e->ninputs++;   /* freed with the engine from here on, even if incomplete */
    if (d->mask) {
        if (!(in->mask = nm_calloc(e, (size_t)in->npad, 1))) return nm_fail(e, "out of memory");
        memcpy(in->mask, d->mask, (size_t)n);
        in->d.mask = in->mask;
    }
    if (!(in->state = nm_calloc(e, 4 * (size_t)in->npad, sizeof(uint32_t)))) return nm_fail(e, "out of memory");
    if (build_table(in)) return nm_fail(e, "out of memory");
    e->bytes += (int64_t)(in->len + 1) * 8 + (in->G ? (4ll << in->gbits) : 0);
    seed_streams(e, in, e->ninputs - 1, e->seed);
    e->pops[d->pop].has_input = 1;
    e->pops[d->pop].ninputs++;
    return e->ninputs - 1;
}

int64_t nm_input_events(const nm_engine *e, int input) { return input >= 0 && input < e->ninputs ? e->inputs[input].events : 0; }
int nm_engine_ninputs(const nm_engine *e) { return e->ninputs; }
int nm_input_desc(const nm_engine *e, int input, nm_poisson_input_desc *d) {
    if (input < 0 || input >= e->ninputs) return -1;
    *d = e->inputs[input].d;
    return 0;
}

void nm_inputs_reseed(nm_engine *e, uint64_t seed) {
    for (int k = 0; k < e->ninputs; k++) seed_streams(e, &e->inputs[k], k, seed);
}

void nm_inputs_free(nm_engine *e) {
    for (int k = 0; k < e->ninputs; k++) {
        free(e->inputs[k].mask); free(e->inputs[k].state); free(e->inputs[k].T); free(e->inputs[k].Tb); free(e->inputs[k].G);
    }
    free(e->inputs);
    e->inputs = NULL;
    e->ninputs = 0;
}

/* ---- the kernel ---- */

NM_AI nm_vu vu_rotl(nm_vu x, int r) { return (x << r) | (x >> (32 - r)); }
NM_AI nm_vu vu_load(const uint32_t *p) { nm_vu v; memcpy(&v, p, sizeof v); return v; }
NM_AI void vu_store_n(uint32_t *p, nm_vu v, int k) {
    if (k >= NM_LANES) memcpy(p, &v, sizeof v);   /* one vector store (a variable-length memcpy would be a call) */
    else memcpy(p, &v, sizeof(uint32_t) * (size_t)k);
}

/* The table as the kernel reads it: thresholds biased by 2^31 (Tb[j] = T[j] - 2^31 as int32), so that
 * u >= T[j] (unsigned) is one signed comparison of the biased u on every path (SSE2 and AVX2 have no
 * unsigned one); the first K entries are always compared (no branch per entry), the rest only while a
 * lane passes them: K is the shortest prefix a lane passes with probability <= 1e-3 (Poisson(2): 8). */
typedef struct {
    const int32_t *Tb;
    int32_t len, kmin, K;
    const uint32_t *G;
    int gbits;
} pin_table;

/* One block of 16 neurons from i, k of them real (k < 16: the tail of a range, which reads past it —
 * states and mask have 16 entries of slack — but writes only its k lanes: the next lanes may be another
 * thread's neurons): draws each one's count, adds weight x count to `slot`, returns the counts (0 in
 * lanes >= k). Inlined with k = 16 into the loop over whole blocks, so that loop has no branch on k. */
NM_AI nm_vi pinput_block(uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3, const pin_table *tb, const uint8_t *mask, float w,
                         float *slot, int32_t i, int k) {
    const int32_t *Tb = tb->Tb;
    /* xoshiro128++: one 32-bit uniform per lane */
    nm_vu a = vu_load(s0 + i), b = vu_load(s1 + i), c = vu_load(s2 + i), d = vu_load(s3 + i);
    const nm_vu u = vu_rotl(a + d, 7) + a;
    const nm_vu t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = vu_rotl(d, 11);
    vu_store_n(s0 + i, a, k); vu_store_n(s1 + i, b, k); vu_store_n(s2 + i, c, k); vu_store_n(s3 + i, d, k);
    const nm_vi ub = (nm_vi)(u ^ 0x80000000u);
    /* the count: kmin + #{j : u >= T[j]} */
    nm_vi cnt;
    if (!tb->G) {
        const int32_t K = tb->K, len = tb->len;
        cnt = vi_splat(0);
        if (K > 0) {   /* (K = 0 only for an empty table: a constant count) */
            /* counted as K - #{j < K : T[j] > u}: "greater than" is the signed comparison SSE2 and AVX2
             * have, so an entry costs one comparison and one addition (u >= T[j] costs a negation more,
             * and on SSE2 a register copy: 10 % of the kernel's time there, 5 % on AVX2) */
            nm_vi above = vi_splat(0);
            for (int32_t j = 0; j + 1 < K; j++) above += Tb[j] > ub;
            const nm_vi last = Tb[K - 1] > ub;   /* also tells whether a lane goes on into the tail */
            cnt = K + above + last;
            if (K < len && vmask_bits(last) != 0xFFFFu)
                for (int32_t j = K; j < len; j++) {
                    const nm_vi m = ub >= Tb[j];
                    if (!vmask_bits(m)) break;
                    cnt -= m;
                }
        }
    } else {
        const int32_t len = tb->len;
        const nm_vu bucket = u >> (32 - tb->gbits);
        for (int l = 0; l < NM_LANES; l++) cnt[l] = (int32_t)tb->G[bucket[l]];
        for (;;) {
            nm_vi th;
            for (int l = 0; l < NM_LANES; l++) th[l] = Tb[cnt[l]];
            const nm_vi m = (ub >= th) & (cnt < len);
            if (!vmask_bits(m)) break;
            cnt -= m;
        }
    }
    cnt += tb->kmin;
    if (mask) {
        nm_vu8 mb;
        memcpy(&mb, mask + i, sizeof mb);
        cnt = __builtin_convertvector(mb, nm_vi) != 0 ? cnt : vi_splat(0);
    }
    if (k < NM_LANES) cnt = vi_iota() < k ? cnt : vi_splat(0);
    /* weight x count into the slot */
    vf_store_n(slot + i, vf_load_n(slot + i, k) + w * __builtin_convertvector(cnt, nm_vf), k);
    return cnt;
}

/* Neurons [lo, hi): every one's count drawn and added to `slot`; returns the counts' sum. */
NM_AI int64_t pinput_body(uint32_t *st, int32_t np, const pin_table *tb, const uint8_t *mask, float w, float *slot, int32_t lo, int32_t hi) {
    uint32_t *s0 = st, *s1 = st + np, *s2 = st + 2 * (size_t)np, *s3 = st + 3 * (size_t)np;
    int64_t ev = 0;
    int32_t i = lo;
    while (i + NM_LANES <= hi) {
        /* counts summed per lane over at most 64 blocks (< 2^31: a count is below 1.1e7), then flushed */
        nm_vi acc = vi_splat(0);
        for (int b = 0; b < 64 && i + NM_LANES <= hi; b++, i += NM_LANES) acc += pinput_block(s0, s1, s2, s3, tb, mask, w, slot, i, NM_LANES);
        ev += __builtin_reduce_add(acc);
    }
    if (i < hi) ev += __builtin_reduce_add(pinput_block(s0, s1, s2, s3, tb, mask, w, slot, i, hi - i));
    return ev;
}
NM_STAMP(int64_t, pinput, (uint32_t *st, int32_t np, const pin_table *tb, const uint8_t *mask, float w, float *slot, int32_t lo, int32_t hi),
         (st, np, tb, mask, w, slot, lo, hi));

int64_t nm_inputs_apply(nm_engine *e, int pop, int32_t lo, int32_t hi, int64_t n, int64_t *events) {
    const pop_t *P = &e->pops[pop];
    if (n < 2 - P->model->input_lead || lo >= hi) return 0;   /* nothing arrives before an explicit source's first spikes */
    int64_t all = 0;
    for (int k = 0; k < e->ninputs; k++) {
        nm_pinput *in = &e->inputs[k];
        if (in->d.pop != pop) continue;
        float *slot = P->buf[in->d.port] + (size_t)(n % e->nslots) * (size_t)P->n;
        const pin_table tb = {in->Tb, in->len, in->kmin, in->K, in->G, in->gbits};
        const int64_t ev = NM_CALL(pinput)(in->state, in->npad, &tb, in->mask, in->d.weight, slot, lo, hi);
        events[k] += ev;
        all += ev;
    }
    return all;
}
