/* Poisson inputs (Brian2's PoissonInput, NEST's poisson_generator onto many targets): every target
 * neuron receives the summed spikes of `sources` independent trains of rate r, drawn as one count per
 * neuron and step and added to a ring-buffer slot as weight x count. No source neurons, no synapses.
 *
 * The count: Poisson(sources r dt) (the sum of independent Poisson processes is one, so this equals
 * `sources` explicit `poisson` sources exactly), or with `binomial` Binomial(sources, r dt) (the sum of
 * Bernoulli sources: Brian2's PoissonInput, which also approximates it by a normal law when
 * N p > 5 and N (1 - p) > 5; here it is exact). It is drawn by inversion of the distribution's
 * cumulative table (sequential search, Devroye 1986, ch. III.2) in 32-bit fixed point:
 * count = kmin + #{j : u >= T[j]} for a uniform 32-bit u, with T[j] = round(2^32 F(kmin + j)), so every
 * probability is exact to 2^-32 (the upper tail beyond the table, below 2^-33, goes to the last count).
 *
 * Small means (the table's first K entries cover all but 1e-3 of the draws, K <= 24: means up to ~10)
 * are drawn in 16-bit lanes, 32 neurons per block, with the same probabilities. Split u = 2^16 h + lo.
 * A bucket h whose 2^16 values u all get one count (no T[j] strictly inside it) needs no lo; the nt "tie"
 * buckets (T[j] >> 16 == h, T[j] & 0xFFFF != 0: at most one per threshold) do. The 16 random bits r of a
 * neuron name a bucket through a fixed bijection: r < 65536 - nt the r-th non-tie bucket in order,
 * r >= 65536 - nt the tie buckets (r is the raw half XOR 0x8000, so that the raw half read as int16 is
 * r biased for the signed comparisons SSE2 and AVX2 have). Then below the ties the count is kmin + #{j : r >= B[j]}, B a
 * monotone 16-bit table (build_table16), compared branch-free in 16-bit lanes (twice the lanes of a
 * 32-bit comparison per instruction); a tie, or a lane past the branch-free prefix, takes a scalar rare
 * path (probability about nt / 65536 + 1e-3), where a tie draws its lo from its pair's stream stepped
 * once more and is counted from u = 2^16 h + lo by the 32-bit rule. Exact: r is uniform, so the bucket it
 * names is (a bijection of a uniform), and lo is a fresh uniform; every count keeps the 32-bit
 * probability (T[j] - T[j-1]) / 2^32, which a test checks by enumerating all r and lo. Larger means
 * keep 32-bit uniforms and start at a guide table (Chen & Asau 1974's indexed search: bucket of the top
 * bits of u -> the count of the bucket's smallest u) and gather.
 *
 * Random numbers: xoshiro128+ (Blackman & Vigna 2018: xoshiro128's linear engine, period 2^128 - 1, with
 * the "+" scrambler, the sum of two state words; 32-bit add, xor, shift, rotate only), one stream per
 * neuron pair (2m, 2m + 1), seeded by splitmix64 from the run seed, the input and m; a draw's low 16 bits
 * go to neuron 2m, its high 16 bits to 2m + 1 (on the 32-bit path: two draws per pair and step, the first
 * for 2m). Its lowest bits fail linearity tests (binary rank, linear complexity), as the Mersenne
 * Twister's do (GSL's mt19937: the engine's other streams, NEST's); a count depends on the low bits of
 * its r only where r lies within a few units of a threshold B[j] (about Kp * 16 / 65536 of the draws
 * for the lowest four). The "++" scrambler (a rotation and an addition more; the previous kernel) cost
 * SSE2, which has no vector rotation, 4 % of the kernel (experiments/poisson-input/RESULTS.md). Thread ranges are multiples of the granularity (64 neurons), so a pair never straddles
 * two threads: the counts depend neither on the thread count nor on the vector path (integer
 * arithmetic throughout; the weight product is one IEEE multiplication and addition per lane). The
 * kernel is compiled per vector path (nm_vec.h).
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
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t nm_vu __attribute__((ext_vector_type(16)));
typedef uint8_t nm_vu8 __attribute__((ext_vector_type(16)));

/* ---- the cumulative table ---- */

static int build_table16(nm_pinput *in);

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
    in->T = NULL; in->Tb = NULL; in->G = NULL; in->gbits = 0; in->wide = 1;
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
    return build_table16(in);
}

/* The 16-bit form of the table (see the header comment). A bucket h (the u with u >> 16 == h) is a tie
 * bucket if some T[j] lies strictly inside it; every other bucket has one count, kmin + #{j : c_j <= h}
 * with c_j = ceil(T[j] / 2^16) (the first bucket whose every u passes T[j]). The raw 16 bits r of a draw
 * name a bucket through a fixed bijection: r < 65536 - nt is the r-th non-tie bucket (in order), r >=
 * 65536 - nt the (r - 65536 + nt)-th tie bucket. So for r below 65536 - nt the count is
 * kmin + #{j : r >= B[j]}, B[j] = c_j - #{tie buckets below c_j} (the rank of the first non-tie bucket
 * at or after c_j; B[j] <= 65535: c_j = 65536 needs a T[j] inside the last bucket, a tie), and B is
 * monotone like T. The kernel compares the first Kp entries (Bb: biased by 2^15 and splat to 32 lanes,
 * so that an entry is a plain vector load on every path) branch-free; lanes at or past
 * the last of them (the rare tail, and every tie, since B[j] <= 65536 - nt) go to the scalar rare path.
 * Tables of the guided or the 32-bit-count kind keep 32-bit uniforms (wide). 0, or -1 (out of memory). */
static int build_table16(nm_pinput *in) {
    free(in->B); free(in->Bb); free(in->tieb);
    in->B = NULL; in->Bb = NULL; in->tieb = NULL; in->nt = 0; in->Kp = 0;
    in->wide = in->G != NULL || (int64_t)in->kmin + in->len + 1 > 65535;
    if (in->wide) return 0;
    const int32_t len = in->len;
    const uint32_t *T = in->T;
    if (!(in->tieb = malloc(((size_t)len + 1) * sizeof(uint16_t))) || !(in->B = malloc(((size_t)len + 1) * sizeof(uint16_t))) ||
        !(in->Bb = aligned_alloc(64, ((size_t)len + 2) * 32 * sizeof(int16_t))))
        return -1;
    int32_t nt = 0;
    for (int32_t j = 0; j < len; j++)
        if ((T[j] & 0xFFFFu) && (nt == 0 || in->tieb[nt - 1] != (uint16_t)(T[j] >> 16))) in->tieb[nt++] = (uint16_t)(T[j] >> 16);
    int32_t below = 0;   /* tie buckets below c_j (c_j does not decrease) */
    for (int32_t j = 0; j < len; j++) {
        const uint32_t c = (uint32_t)(((uint64_t)T[j] + 0xFFFFu) >> 16);
        while (below < nt && in->tieb[below] < c) below++;
        in->B[j] = (uint16_t)(c - (uint32_t)below);
    }
    in->nt = nt;
    /* the prefix: the first K entries when a tail follows (its last entry also bounds the ties), else
     * the whole table and the tie bound 65536 - nt (65535 if there is no tie: a lane there is rare) */
    const int32_t K = in->K;
    const int32_t Kp = K < len ? K : len + 1;
    /* Bb: all of B and then the tie bound (len + 1 entries): the prefix is its first Kp (the SSE2 form
     * goes on past them in vector form for a block with a rare lane) */
    for (int32_t j = 0; j <= len; j++) {
        const uint16_t v = j < len ? in->B[j] : nt ? (uint16_t)(65536 - nt) : 0xFFFFu;
        for (int l = 0; l < 32; l++) in->Bb[32 * j + l] = (int16_t)(v ^ 0x8000u);
    }
    in->Kp = Kp;
    return 0;
}

/* ---- streams ---- */

/* One stream per neuron pair (2m, 2m + 1), m < ceil(n / 2). */
static void seed_streams(int32_t n, nm_pinput *in, int k, uint64_t seed) {
    uint32_t *s = in->state;
    const size_t np = (size_t)in->npad / 2;
    for (int32_t i = 0; i < (n + 1) / 2; i++) {
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
    in->npad = (n + 31) / 32 * 32 + 32;   /* whole 32-neuron blocks from any even start, see pinput_body */
    e->ninputs++;   /* freed with the engine from here on, even if incomplete */
    if (d->mask) {
        if (!(in->mask = nm_calloc(e, (size_t)in->npad, 1))) return nm_fail(e, "out of memory");
        memcpy(in->mask, d->mask, (size_t)n);
        in->d.mask = in->mask;
    }
    if (!(in->state = nm_calloc(e, 2 * (size_t)in->npad, sizeof(uint32_t)))) return nm_fail(e, "out of memory");
    if (build_table(in)) return nm_fail(e, "out of memory");
    e->bytes += (int64_t)(in->len + 1) * 8 + (in->G ? (4ll << in->gbits) : 0) + (in->wide ? 0 : (int64_t)(in->len + 2) * 64 + (int64_t)(in->len + 1) * 4);
    seed_streams(n, in, e->ninputs - 1, e->seed);
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
    for (int k = 0; k < e->ninputs; k++) seed_streams(e->pops[e->inputs[k].d.pop].n, &e->inputs[k], k, seed);
}

void nm_inputs_free(nm_engine *e) {
    for (int k = 0; k < e->ninputs; k++) {
        free(e->inputs[k].mask); free(e->inputs[k].state); free(e->inputs[k].T); free(e->inputs[k].Tb); free(e->inputs[k].G);
        free(e->inputs[k].B); free(e->inputs[k].Bb); free(e->inputs[k].tieb);
    }
    free(e->inputs);
    e->inputs = NULL;
    e->ninputs = 0;
}

/* ---- the kernel ---- */

typedef uint16_t nm_vh __attribute__((ext_vector_type(32)));   /* 32 neurons' 16-bit lanes */
typedef int16_t nm_vs __attribute__((ext_vector_type(32)));
typedef uint16_t nm_vh16 __attribute__((ext_vector_type(16)));
typedef uint32_t nm_vu32 __attribute__((ext_vector_type(32)));
typedef uint8_t nm_vu8x32 __attribute__((ext_vector_type(32)));
typedef _Bool nm_vb32 __attribute__((ext_vector_type(32)));

NM_AI nm_vu vu_rotl(nm_vu x, int r) { return (x << r) | (x >> (32 - r)); }
NM_AI nm_vu vu_load(const uint32_t *p) { nm_vu v; memcpy(&v, p, sizeof v); return v; }
NM_AI void vu_store_n(uint32_t *p, nm_vu v, int k) {
    if (k >= NM_LANES) memcpy(p, &v, sizeof v);   /* one vector store (a variable-length memcpy would be a call) */
    else memcpy(p, &v, sizeof(uint32_t) * (size_t)k);
}
/* xoshiro128+ on 16 streams: the output, the state stepped */
NM_AI nm_vu xoshiro_step(nm_vu *a, nm_vu *b, nm_vu *c, nm_vu *d) {
    const nm_vu u = *a + *d;
    const nm_vu t = *b << 9;
    *c ^= *a; *d ^= *b; *b ^= *c; *a ^= *d; *c ^= t; *d = vu_rotl(*d, 11);
    return u;
}
typedef uint32_t nm_vu4 __attribute__((ext_vector_type(4)));
NM_AI nm_vu4 xoshiro_step4(nm_vu4 *a, nm_vu4 *b, nm_vu4 *c, nm_vu4 *d) {
    const nm_vu4 u = *a + *d;
    const nm_vu4 t = *b << 9;
    *c ^= *a; *d ^= *b; *b ^= *c; *a ^= *d; *c ^= t; *d = (*d << 11) | (*d >> 21);
    return u;
}
static inline uint32_t xoshiro_step1(uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3) {
    uint32_t a = *s0, b = *s1, c = *s2, d = *s3;
    const uint32_t u = a + d, t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = d << 11 | d >> 21;
    *s0 = a; *s1 = b; *s2 = c; *s3 = d;
    return u;
}
/* The lane mask of a 32-lane comparison: lane j = bit j. */
NM_AI uint32_t vmask32(nm_vs m) {
    nm_vb32 b = __builtin_convertvector(m, nm_vb32);
    uint32_t r;
    memcpy(&r, &b, sizeof r);
    return r;
}

/* The tables as the kernel reads them. 32-bit: thresholds biased by 2^31 (Tb[j] = T[j] - 2^31 as int32),
 * so that u >= T[j] (unsigned) is one signed comparison of the biased u on every path (SSE2 and AVX2
 * have no unsigned one); the first K entries are always compared, the rest only while a lane passes
 * them: K is the shortest prefix a lane passes with probability <= 1e-3 (Poisson(2): 8). 16-bit: the
 * same with Bb (biased by 2^15, each entry splat to 32 lanes) and Kp entries. */
typedef struct {
    const int32_t *Tb;
    const uint32_t *T;
    int32_t len, kmin, K;
    const uint32_t *G;
    int gbits;
    const uint16_t *B, *tieb;
    const int16_t *Bb;
    int32_t nt, Kp;
} pin_table;

/* The count of the 32-bit uniform u, less kmin: #{j : u >= T[j]} (the definition the vector code
 * implements; the rare path and the tests use it). */
static int32_t count_u32(const pin_table *tb, uint32_t u) {
    int32_t c = 0;
    while (c < tb->len && u >= tb->T[c]) c++;
    return c;
}
/* The count of a 16-bit lane r, less kmin: #{j : r >= B[j]} below the ties; a tie (r >= 65536 - nt)
 * names the bucket h = tieb[r - 65536 + nt] and the fresh 16 bits lo complete the uniform u = h 2^16 + lo. */
static int32_t count_r16(const pin_table *tb, uint32_t r, uint32_t lo) {
    if (r >= 65536u - (uint32_t)tb->nt) return count_u32(tb, (uint32_t)tb->tieb[r - (65536u - (uint32_t)tb->nt)] << 16 | lo);
    int32_t c = 0;
    while (c < tb->len && r >= tb->B[c]) c++;
    return c;
}

/* The 32-bit count of 16 uniforms, less kmin (the wide path: guided tables, counts past 65535). */
NM_AI nm_vi count32(nm_vu u, const pin_table *tb) {
    const int32_t *Tb = tb->Tb;
    const nm_vi ub = (nm_vi)(u ^ 0x80000000u);
    nm_vi cnt;
    if (!tb->G) {
        const int32_t K = tb->K, len = tb->len;
        cnt = vi_splat(0);
        if (K > 0) {   /* (K = 0 only for an empty table: a constant count) */
            /* counted as K - #{j < K : T[j] > u}: "greater than" is the signed comparison SSE2 and AVX2
             * have, so an entry costs one comparison and one addition */
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
    return cnt;
}

/* The 16-bit count of 32 lanes of raw random bits, with kmin, branch-free. A lane's index into the
 * relabeled buckets is r = raw ^ 0x8000 (one more fixed bijection), so the raw bits, read as int16, are
 * r biased by 2^15: the signed comparison with Bb needs no bias operation. The count is
 * kmin + Kp - #{j < Kp : Bb[j] > raw} (mod 2^16); *rare: the lanes with r >= B'[Kp - 1] (the tail past
 * the prefix and the ties), whose value here is not the count. */
NM_AI nm_vs bb_entry(const int16_t *Bb, int32_t j, const int isa) {
    nm_vs e;
    if (isa == NM_ISA_BASELINE) memcpy(&e, Bb + 32 * j, sizeof e);   /* SSE2: a load (a word broadcast takes 3 operations) */
    else e = (nm_vs)Bb[32 * j];                                       /* AVX2, AVX-512: one broadcast from memory */
    return e;
}
NM_AI nm_vs count16(nm_vh raw, const pin_table *tb, uint32_t *rare, const int isa) {
    const int16_t *Bb = tb->Bb;
    const int32_t Kp = tb->Kp;
    const nm_vs rb = (nm_vs)raw;
    nm_vs cnt = (nm_vs)(int16_t)(tb->kmin + Kp);
    if (isa == NM_ISA_BASELINE) {
        /* SSE2: straight-line code with one predictable exit (5 % faster than the loop there; slower on AVX2) */
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < NM_PINPUT_LINEAR + 1; j++) {
            if (j + 1 >= Kp) break;
            cnt += (nm_vs)(bb_entry(Bb, j, isa) > rb);
        }
    } else
        for (int32_t j = 0; j + 1 < Kp; j++) cnt += (nm_vs)(bb_entry(Bb, j, isa) > rb);
    const nm_vs last = (nm_vs)(bb_entry(Bb, Kp - 1, isa) > rb);
    *rare = ~vmask32(last);
    return cnt + last;
}

/* The rare lanes of a 32-neuron block (bits of `rare`, real lanes only): each one's count from the scalar
 * definition; a pair with a tie steps its stream once more (after the block's vector store), its low
 * half completing the low neuron's uniform, its high half the high neuron's. Not inlined: one copy. */
static __attribute__((noinline)) void rare16(const pin_table *tb, uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3, int32_t m,
                                             const uint16_t *r, int16_t *cnt, uint32_t rare, int64_t *ties) {
    const uint32_t tie = 65536u - (uint32_t)tb->nt;
    while (rare) {
        const int q = __builtin_ctz(rare) >> 1;   /* the pair */
        const uint32_t bits = (rare >> (2 * q)) & 3u;
        rare &= ~(3u << (2 * q));
        const uint32_t r0 = r[2 * q] ^ 0x8000u, r1 = r[2 * q + 1] ^ 0x8000u;
        uint32_t x = 0;
        if (((bits & 1) && r0 >= tie) || ((bits & 2) && r1 >= tie)) {
            x = xoshiro_step1(s0 + m + q, s1 + m + q, s2 + m + q, s3 + m + q);
            if (ties) *ties += ((bits & 1) && r0 >= tie) + ((bits & 2) && r1 >= tie);
        }
        if (bits & 1) cnt[2 * q] = (int16_t)(tb->kmin + count_r16(tb, r0, x & 0xFFFFu));
        if (bits & 2) cnt[2 * q + 1] = (int16_t)(tb->kmin + count_r16(tb, r1, x >> 16));
    }
}

NM_AI uint32_t lanes32_below(int k) { return k >= 32 ? 0xFFFFFFFFu : (1u << k) - 1u; }

/* weight x count into slot[i, i + k) (k <= 32) from 32 counts (16-bit lanes), one IEEE multiplication
 * and addition per lane */
NM_AI void add_slot16(float *slot, int32_t i, int k, float w, nm_vh c) {
    const nm_vh16 c0 = __builtin_shufflevector(c, c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const nm_vh16 c1 = __builtin_shufflevector(c, c, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    const int k0 = k < NM_LANES ? k : NM_LANES, k1 = k - k0;
    vf_store_n(slot + i, vf_load_n(slot + i, k0) + w * __builtin_convertvector(c0, nm_vf), k0);
    if (k1 > 0) vf_store_n(slot + i + NM_LANES, vf_load_n(slot + i + NM_LANES, k1) + w * __builtin_convertvector(c1, nm_vf), k1);
}

/* One block of 32 neurons from i (even), k of them real (k < 32: the end of the population, which
 * reads past it — states and mask have slack — but writes only its k lanes and ceil(k/2) pairs): one
 * xoshiro128+ draw per pair, its two 16-bit halves the two neurons' r (little-endian lanes: low half =
 * neuron 2m, the natural order), each one's count, weight x count added to `slot`; returns the counts
 * (0 in masked lanes and lanes >= k). Inlined with k = 32 into the loop over whole blocks. */
NM_AI nm_vh pinput16_block(uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3, const pin_table *tb, const uint8_t *mask, float w,
                           float *slot, int32_t i, int k, int64_t *ties, const int isa) {
    const int32_t m = i >> 1;
    nm_vu u;
    if (isa == NM_ISA_BASELINE && k == 32) {
        /* SSE2: four groups of 4 streams one after the other (the 16 streams at once need more than the
         * 16 registers: spills) */
        for (int g = 0; g < 4; g++) {
            nm_vu4 a, b, c, d;
            memcpy(&a, s0 + m + 4 * g, 16); memcpy(&b, s1 + m + 4 * g, 16); memcpy(&c, s2 + m + 4 * g, 16); memcpy(&d, s3 + m + 4 * g, 16);
            const nm_vu4 x = xoshiro_step4(&a, &b, &c, &d);
            memcpy(s0 + m + 4 * g, &a, 16); memcpy(s1 + m + 4 * g, &b, 16); memcpy(s2 + m + 4 * g, &c, 16); memcpy(s3 + m + 4 * g, &d, 16);
            memcpy((uint32_t *)&u + 4 * g, &x, 16);
        }
    } else {
        nm_vu a = vu_load(s0 + m), b = vu_load(s1 + m), c = vu_load(s2 + m), d = vu_load(s3 + m);
        u = xoshiro_step(&a, &b, &c, &d);
        const int kp = (k + 1) >> 1;
        vu_store_n(s0 + m, a, kp); vu_store_n(s1 + m, b, kp); vu_store_n(s2 + m, c, kp); vu_store_n(s3 + m, d, kp);
    }
    const nm_vh r = (nm_vh)u;
    uint32_t rare;
    nm_vs cnt = count16(r, tb, &rare, isa);
    rare &= lanes32_below(k);
    if (__builtin_expect(rare != 0, 0)) {
        uint16_t rr[32];
        int16_t cc[32];
        memcpy(rr, &r, sizeof rr);
        memcpy(cc, &cnt, sizeof cc);
        rare16(tb, s0, s1, s2, s3, m, rr, cc, rare, ties);
        memcpy(&cnt, cc, sizeof cc);
    }
    if (mask) {
        nm_vu8x32 mb;
        memcpy(&mb, mask + i, sizeof mb);
        cnt = __builtin_convertvector(mb, nm_vs) != 0 ? cnt : (nm_vs)0;
    }
    if (k < 32) {
        const nm_vs iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
        cnt = iota < (int16_t)k ? cnt : (nm_vs)0;
    }
    add_slot16(slot, i, k, w, (nm_vh)cnt);
    return (nm_vh)cnt;
}

/* The wide path's block: two draws per pair (the low neuron's uniform, then the high one's), 32-bit
 * counts interleaved into neuron order. */
NM_AI nm_vi pinput32_block(uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3, const pin_table *tb, const uint8_t *mask, float w,
                           float *slot, int32_t i, int k) {
    const int32_t m = i >> 1;
    nm_vu a = vu_load(s0 + m), b = vu_load(s1 + m), c = vu_load(s2 + m), d = vu_load(s3 + m);
    const nm_vu u0 = xoshiro_step(&a, &b, &c, &d), u1 = xoshiro_step(&a, &b, &c, &d);
    const int kp = (k + 1) >> 1;
    vu_store_n(s0 + m, a, kp); vu_store_n(s1 + m, b, kp); vu_store_n(s2 + m, c, kp); vu_store_n(s3 + m, d, kp);
    const nm_vi c0 = count32(u0, tb), c1 = count32(u1, tb);
    nm_vi n0 = __builtin_shufflevector(c0, c1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23) + tb->kmin;
    nm_vi n1 = __builtin_shufflevector(c0, c1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31) + tb->kmin;
    if (mask) {
        nm_vu8 m0, m1;
        memcpy(&m0, mask + i, sizeof m0);
        memcpy(&m1, mask + i + NM_LANES, sizeof m1);
        n0 = __builtin_convertvector(m0, nm_vi) != 0 ? n0 : vi_splat(0);
        n1 = __builtin_convertvector(m1, nm_vi) != 0 ? n1 : vi_splat(0);
    }
    const int k0 = k < NM_LANES ? k : NM_LANES, k1 = k - k0;
    if (k < 32) {
        n0 = vi_iota() < k0 ? n0 : vi_splat(0);
        n1 = vi_iota() < k1 ? n1 : vi_splat(0);
    }
    vf_store_n(slot + i, vf_load_n(slot + i, k0) + w * __builtin_convertvector(n0, nm_vf), k0);
    if (k1 > 0) vf_store_n(slot + i + NM_LANES, vf_load_n(slot + i + NM_LANES, k1) + w * __builtin_convertvector(n1, nm_vf), k1);
    return n0 + n1;
}

/* ---- the SSE2 form (the baseline path: SSE2, or NEON on aarch64) ----
 * The same counts and stream steps as pinput16_block, in fewer vector operations per lane (what SSE2 is
 * short of: two-operand instructions, 16 registers). A 32-neuron block is four 8-lane registers:
 * - the prefix's masks are summed without a base: s = -#{j < Kp : r < B'[j]} (B' the prefix), in
 *   [-Kp, -1] for every lane but a rare one (at or past the prefix's last entry: s = 0), so that the count
 *   is kmin + Kp + s;
 * - that count becomes a float without a conversion: the 16 bits of s under the high half 0x4B01, read
 *   as a float, are 2^23 + 2^17 + s (one binade of integers: exact), and less the constant
 *   2^23 + 2^17 - kmin - Kp they are the count (exact: integers below 2^24), then multiplied by the
 *   weight and added to the slot as on every path; a masked lane gets s = -(kmin + Kp), the count 0;
 * - a block with a rare lane (about 1 % of the blocks for Poisson(2)) goes on comparing the table past
 *   the prefix in vector form, its ties take the scalar rare path, and its counts the plain conversion.
 * Whole blocks only: the population's last partial block takes pinput16_block. */
typedef int16_t nm_vs8 __attribute__((ext_vector_type(8)));
typedef int8_t nm_vc16 __attribute__((ext_vector_type(16)));
typedef _Bool nm_vb16 __attribute__((ext_vector_type(16)));
typedef int32_t nm_vi4 __attribute__((ext_vector_type(4)));
typedef uint16_t nm_vh8 __attribute__((ext_vector_type(8)));

/* s of the four registers' lanes (KP: Kp as a constant, for straight-line code; 0: tb->Kp) */
NM_AI void sse2_prefix(const nm_vs8 rx[4], const pin_table *tb, nm_vs8 sx[4], const int KP) {
    const int16_t *Bb = tb->Bb;
    const int32_t Kp = KP ? KP : tb->Kp;
    nm_vs8 e;
    memcpy(&e, Bb, sizeof e);
    for (int g = 0; g < 4; g++) sx[g] = (nm_vs8)(e > rx[g]);
    if (KP) {
#pragma clang loop unroll(full)
        for (int32_t j = 1; j < KP; j++) {
            memcpy(&e, Bb + 32 * j, sizeof e);
            for (int g = 0; g < 4; g++) sx[g] += (nm_vs8)(e > rx[g]);
        }
    } else
        for (int32_t j = 1; j < Kp; j++) {
            memcpy(&e, Bb + 32 * j, sizeof e);
            for (int g = 0; g < 4; g++) sx[g] += (nm_vs8)(e > rx[g]);
        }
}
typedef _Bool nm_vb8 __attribute__((ext_vector_type(8)));
/* 1 if some lane of a mask is set */
NM_AI int sse2_any_set(nm_vs8 v) {
    const nm_vb16 b = __builtin_convertvector((nm_vc16)v < 0, nm_vb16);
    uint16_t m;
    memcpy(&m, &b, sizeof m);
    return m != 0;
}
/* 1 if a lane of the four is rare (s = 0: its sign bit clear) */
NM_AI int sse2_any_rare(const nm_vs8 sx[4]) {
    const nm_vs8 all = (sx[0] & sx[1]) & (sx[2] & sx[3]);
    const nm_vb16 b = __builtin_convertvector((nm_vc16)all < 0, nm_vb16);
    uint16_t m;
    memcpy(&m, &b, sizeof m);
    return m != 0xFFFFu;
}
/* A block with a rare lane (s = 0 there): s becomes count - kmin - Kp for every lane that is not a tie
 * (the table compared on past the prefix in vector form: only the lanes beyond it pass, B is monotone;
 * a prefix that ends with the tie bound, Kp = len + 1, counted it: one less); returns the tie lanes (bit
 * 8 g + l; r >= 65536 - nt), whose count takes the scalar rare path. */
NM_AI uint32_t sse2_cont(const pin_table *tb, const nm_vs8 rx[4], nm_vs8 sx[4]) {
    const int16_t *Bb = tb->Bb;
    nm_vs8 e;
    if (tb->Kp > tb->len)
        for (int g = 0; g < 4; g++) sx[g] += (nm_vs8)(sx[g] == 0);
    for (int32_t j = tb->Kp; j < tb->len; j++) {
        memcpy(&e, Bb + 32 * j, sizeof e);
        nm_vs8 any = 0;
        for (int g = 0; g < 4; g++) {
            const nm_vs8 pass = (nm_vs8)(rx[g] >= e);
            sx[g] -= pass;
            any |= pass;
        }
        if (!sse2_any_set(any)) break;
    }
    uint32_t tie = 0;
    if (tb->nt) {
        memcpy(&e, Bb + 32 * tb->len, sizeof e);   /* the tie bound 65536 - nt */
        for (int g = 0; g < 4; g++) {
            const nm_vb8 t = __builtin_convertvector((nm_vs8)(rx[g] >= e), nm_vb8);
            uint8_t t8;
            memcpy(&t8, &t, 1);
            tie |= (uint32_t)t8 << (8 * g);
        }
    }
    return tie;
}
/* The kernel's: sse2_cont, then the ties' counts from rare16 (which steps their pairs' streams once more) */
NM_AI void sse2_tail(const pin_table *tb, const nm_vs8 rx[4], nm_vs8 sx[4], uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3,
                     int32_t m, int64_t *ties) {
    const uint32_t tie = sse2_cont(tb, rx, sx);
    if (__builtin_expect(tie != 0, 0)) {
        const int16_t top = (int16_t)(tb->kmin + tb->Kp);
        int16_t cc[32];
        uint16_t rr[32];
        for (int g = 0; g < 4; g++) {
            const nm_vs8 c = sx[g] + top;
            memcpy(cc + 8 * g, &c, 16);
            memcpy(rr + 8 * g, &rx[g], 16);
        }
        rare16(tb, s0, s1, s2, s3, m, rr, cc, tie, ties);
        for (int g = 0; g < 4; g++) {
            memcpy(&sx[g], cc + 8 * g, 16);
            sx[g] -= top;
        }
    }
}

/* masked lanes (mask byte 0) get s = -top (the count 0) in sx, and 0 in sa (the events' sum, which counts
 * top per unmasked lane apart: -top itself could overflow it) */
NM_AI void sse2_mask(nm_vs8 sx[4], nm_vs8 sa[4], const uint8_t *mask, const nm_vs8 smask) {
    for (int g = 0; g < 4; g++) {
        nm_vu8x8 mb;
        memcpy(&mb, mask + 8 * g, sizeof mb);
        const nm_vs8 on = __builtin_convertvector(mb, nm_vs8) != 0;
        sa[g] = on ? sx[g] : (nm_vs8)0;
        sx[g] = on ? sx[g] : smask;
    }
}

/* Whole blocks from *pi (even) while they fit below hi; *pi advances; returns the counts' sum (top per
 * counted lane, plus the sum of s). */
NM_AI int64_t pin16_sse2_run(uint32_t *s0, uint32_t *s1, uint32_t *s2, uint32_t *s3, const pin_table *tb, const uint8_t *mask, float w,
                             float *slot, int32_t *pi, int32_t hi, int64_t *ties, const int KP, const int MASKED) {
    const int32_t top = tb->kmin + (KP ? KP : tb->Kp);
    const float off = (float)(8388608 + 131072 - top);   /* exact */
    const nm_vs8 hiword = (nm_vs8)(int16_t)0x4B01, smask = (nm_vs8)(int16_t)-top;
    /* s summed per lane over at most nb blocks (4 registers; -Kp <= s <= len - Kp + 1) */
    const int32_t nb = 32767 / (4 * (tb->Kp + tb->len + 1));
    int64_t ev = 0;
    const int32_t i0 = *pi;
    int32_t i = i0;
    while (i + 32 <= hi) {
        nm_vs8 acc = 0;
        int32_t b = 0;
        for (; b < nb && i + 32 <= hi; b++, i += 32) {
            const int32_t m = i >> 1;
            nm_vs8 rx[4], sx[4];
            for (int g = 0; g < 4; g++) {   /* four groups of 4 streams (16 at once need more than 16 registers) */
                nm_vu4 a, bq, c, d;
                memcpy(&a, s0 + m + 4 * g, 16); memcpy(&bq, s1 + m + 4 * g, 16); memcpy(&c, s2 + m + 4 * g, 16); memcpy(&d, s3 + m + 4 * g, 16);
                const nm_vu4 x = xoshiro_step4(&a, &bq, &c, &d);
                memcpy(s0 + m + 4 * g, &a, 16); memcpy(s1 + m + 4 * g, &bq, 16); memcpy(s2 + m + 4 * g, &c, 16); memcpy(s3 + m + 4 * g, &d, 16);
                rx[g] = (nm_vs8)x;
            }
            sse2_prefix(rx, tb, sx, KP);
            float *sl = slot + i;
            nm_vs8 sa[4];
            if (__builtin_expect(!sse2_any_rare(sx), 1)) {
                if (MASKED) sse2_mask(sx, sa, mask + i, smask);
                else for (int g = 0; g < 4; g++) sa[g] = sx[g];
                acc += (sa[0] + sa[1]) + (sa[2] + sa[3]);
                for (int g = 0; g < 4; g++) {   /* every s in [-top, -1]: the count is 2^23 + 2^17 + s - off */
                    const nm_vf4 f0 = (nm_vf4)__builtin_shufflevector(sx[g], hiword, 0, 8, 1, 9, 2, 10, 3, 11) - off;
                    const nm_vf4 f1 = (nm_vf4)__builtin_shufflevector(sx[g], hiword, 4, 12, 5, 13, 6, 14, 7, 15) - off;
                    nm_vf4 v0, v1;
                    memcpy(&v0, sl + 8 * g, 16); memcpy(&v1, sl + 8 * g + 4, 16);
                    v0 += w * f0;
                    v1 += w * f1;
                    memcpy(sl + 8 * g, &v0, 16); memcpy(sl + 8 * g + 4, &v1, 16);
                }
            } else {
                sse2_tail(tb, rx, sx, s0, s1, s2, s3, m, ties);
                if (MASKED) sse2_mask(sx, sa, mask + i, smask);
                else for (int g = 0; g < 4; g++) sa[g] = sx[g];
                for (int g = 0; g < 4; g++) {
                    const nm_vs8 cg = sx[g] + (int16_t)top;
                    const nm_vi4 c0 = (nm_vi4)__builtin_shufflevector(cg, (nm_vs8)0, 0, 8, 1, 9, 2, 10, 3, 11);
                    const nm_vi4 c1 = (nm_vi4)__builtin_shufflevector(cg, (nm_vs8)0, 4, 12, 5, 13, 6, 14, 7, 15);
                    nm_vf4 v0, v1;
                    memcpy(&v0, sl + 8 * g, 16); memcpy(&v1, sl + 8 * g + 4, 16);
                    v0 += w * __builtin_convertvector(c0, nm_vf4);
                    v1 += w * __builtin_convertvector(c1, nm_vf4);
                    memcpy(sl + 8 * g, &v0, 16); memcpy(sl + 8 * g + 4, &v1, 16);
                }
                acc += (sa[0] + sa[1]) + (sa[2] + sa[3]);
            }
        }
        ev += __builtin_reduce_add(__builtin_convertvector(acc, nm_vi8));
    }
    int64_t lanes = i - i0;
    if (MASKED) {
        lanes = 0;
        for (int32_t q = i0; q < i; q++) lanes += mask[q];
    }
    *pi = i;
    return ev + lanes * top;
}

/* Neurons [lo, hi), lo even, hi even or the population's end (thread ranges are multiples of the
 * granularity, 64: a pair never straddles two ranges): every one's count drawn and added to `slot`;
 * returns the counts' sum. ties: if not NULL, counts the lanes that took the tie path (tests). */
NM_AI int64_t pinput_body(const int isa, uint32_t *st, int32_t np, const pin_table *tb, const uint8_t *mask, float w, float *slot, int32_t lo, int32_t hi,
                          int64_t *ties) {
    uint32_t *s0 = st, *s1 = st + np / 2, *s2 = st + 2 * (size_t)(np / 2), *s3 = st + 3 * (size_t)(np / 2);
    int64_t ev = 0;
    int32_t i = lo;
    if (tb->Bb && isa == NM_ISA_BASELINE && 4 * (tb->Kp + tb->len + 1) <= 32767) {   /* (s summed in 16 bits: always, in practice) */
        const pin_table tl = *tb;   /* a local copy: the stores to the states and the slot cannot alias it */
        if (mask) ev += pin16_sse2_run(s0, s1, s2, s3, &tl, mask, w, slot, &i, hi, ties, 0, 1);
        else
            switch (tl.Kp) {   /* the prefix length as a constant for the common tables */
#define NM_KP_CASE(c) case c: ev += pin16_sse2_run(s0, s1, s2, s3, &tl, NULL, w, slot, &i, hi, ties, c, 0); break;
                NM_KP_CASE(2) NM_KP_CASE(3) NM_KP_CASE(4) NM_KP_CASE(5) NM_KP_CASE(6) NM_KP_CASE(7) NM_KP_CASE(8)
                NM_KP_CASE(9) NM_KP_CASE(10) NM_KP_CASE(11) NM_KP_CASE(12)
#undef NM_KP_CASE
                default: ev += pin16_sse2_run(s0, s1, s2, s3, &tl, NULL, w, slot, &i, hi, ties, 0, 0);
            }
        if (i < hi) ev += __builtin_reduce_add(__builtin_convertvector(pinput16_block(s0, s1, s2, s3, tb, mask, w, slot, i, hi - i, ties, isa), nm_vu32));
    } else if (tb->Bb) {
        /* counts summed per 16-bit lane over at most `nb` blocks (nb x the largest count < 2^16), then flushed */
        const int32_t maxc = tb->kmin + tb->len + 1, nb = 65535 / maxc;
        while (i + 32 <= hi) {
            nm_vh acc = 0;
            for (int32_t b = 0; b < nb && i + 32 <= hi; b++, i += 32) acc += pinput16_block(s0, s1, s2, s3, tb, mask, w, slot, i, 32, ties, isa);
            ev += __builtin_reduce_add(__builtin_convertvector(acc, nm_vu32));
        }
        if (i < hi) ev += __builtin_reduce_add(__builtin_convertvector(pinput16_block(s0, s1, s2, s3, tb, mask, w, slot, i, hi - i, ties, isa), nm_vu32));
    } else {
        while (i + 32 <= hi) {
            /* counts summed per lane over at most 32 blocks (< 2^31: a count is below 1.1e7), then flushed */
            nm_vi acc = vi_splat(0);
            for (int b = 0; b < 32 && i + 32 <= hi; b++, i += 32) acc += pinput32_block(s0, s1, s2, s3, tb, mask, w, slot, i, 32);
            ev += __builtin_reduce_add(acc);
        }
        if (i < hi) ev += __builtin_reduce_add(pinput32_block(s0, s1, s2, s3, tb, mask, w, slot, i, hi - i));
    }
    return ev;
}
NM_STAMP_ISA(int64_t, pinput,
         (uint32_t *st, int32_t np, const pin_table *tb, const uint8_t *mask, float w, float *slot, int32_t lo, int32_t hi, int64_t *ties),
         (st, np, tb, mask, w, slot, lo, hi, ties));

static pin_table table_of(const nm_pinput *in) {
    return (pin_table){in->Tb, in->T, in->len, in->kmin, in->K, in->G, in->gbits, in->B, in->tieb, in->wide ? NULL : in->Bb, in->nt, in->Kp};
}

int64_t nm_inputs_apply(nm_engine *e, int pop, int32_t lo, int32_t hi, int64_t n, int64_t *events) {
    const pop_t *P = &e->pops[pop];
    if (n < 2 - P->model->input_lead || lo >= hi) return 0;   /* nothing arrives before an explicit source's first spikes */
    int64_t all = 0;
    for (int k = 0; k < e->ninputs; k++) {
        nm_pinput *in = &e->inputs[k];
        if (in->d.pop != pop) continue;
        float *slot = P->buf[in->d.port] + (size_t)(n % e->nslots) * (size_t)P->n;
        const pin_table tb = table_of(in);
        assert((lo & 1) == 0);   /* a pair's two neurons in one range */
        const int64_t ev = NM_CALL(pinput)(in->state, in->npad, &tb, in->mask, in->d.weight, slot, lo, hi, NULL);
        events[k] += ev;
        all += ev;
    }
    return all;
}

/* ---- test hooks (nm_snn.h) ---- */

NM_AI int pinlaw_body(const int isa, const pin_table *tb, uint64_t *hist) {
    const uint32_t tie = 65536u - (uint32_t)tb->nt;
    if (isa == NM_ISA_BASELINE) {   /* the kernel's SSE2 form: sse2_prefix, sse2_cont, the ties by the 32-bit rule */
        const nm_vs8 iota8 = {0, 1, 2, 3, 4, 5, 6, 7};
        for (uint32_t q = 0; q < 65536 / 32; q++) {
            nm_vs8 rx[4], sx[4];
            for (int g = 0; g < 4; g++) rx[g] = (nm_vs8)((uint16_t)(q * 32 + 8 * g) + (nm_vh8)iota8);
            sse2_prefix(rx, tb, sx, 0);
            const uint32_t ties = sse2_any_rare(sx) ? sse2_cont(tb, rx, sx) : 0;
            for (int l = 0; l < 32; l++) {
                const uint32_t rv = (uint16_t)rx[l >> 3][l & 7] ^ 0x8000u;
                if ((ties >> l) & 1) {
                    if (rv < tie) return -3;
                    for (uint32_t lo = 0; lo < 65536; lo++) hist[count_r16(tb, rv, lo)]++;
                } else {
                    const int32_t c = tb->Kp + sx[l >> 3][l & 7];
                    if (c < 0 || c > tb->len) return -3;
                    hist[c] += 65536;
                }
            }
        }
        return 0;
    }
    const nm_vh iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    for (uint32_t q = 0; q < 65536 / 32; q++) {
        const nm_vh r = iota + (uint16_t)(q * 32);
        uint32_t rare;
        const nm_vs cnt = count16(r, tb, &rare, isa);
        for (int l = 0; l < 32; l++) {
            const uint32_t rv = r[l] ^ 0x8000u;
            if (!((rare >> l) & 1)) {
                const int32_t c = (int32_t)(uint16_t)cnt[l] - tb->kmin;
                if (c < 0 || c > tb->len) return -3;
                hist[c] += 65536;
            } else if (rv >= tie) {
                for (uint32_t lo = 0; lo < 65536; lo++) hist[count_r16(tb, rv, lo)]++;
            } else hist[count_r16(tb, rv, 0)] += 65536;
        }
    }
    return 0;
}
NM_STAMP_ISA(int, pinlaw, (const pin_table *tb, uint64_t *hist), (tb, hist));

static int hook_table(const nm_poisson_input_desc *d, nm_pinput *in) {
    memset(in, 0, sizeof *in);
    if (!d || d->sources < 1 || !(d->p >= 0) || !isfinite(d->p) || (d->binomial && d->p > 1) || (double)d->sources * d->p > NM_PINPUT_MAX_MEAN)
        return -1;
    in->d = *d;
    in->d.mask = NULL;
    return build_table(in) ? -2 : 0;
}
static void hook_free(nm_pinput *in) { free(in->T); free(in->Tb); free(in->G); free(in->B); free(in->Bb); free(in->tieb); free(in->state); }

int nm_pinput_table_law(const nm_poisson_input_desc *d, uint32_t *T, uint64_t *hist, int32_t cap, int32_t info[4]) {
    nm_pinput in;
    int rc = hook_table(d, &in);
    if (rc) { hook_free(&in); return rc; }
    info[0] = in.kmin; info[1] = in.len; info[2] = in.nt; info[3] = in.wide;
    if (in.len + 1 > cap) { hook_free(&in); return -2; }
    memcpy(T, in.T, (size_t)in.len * sizeof(uint32_t));
    memset(hist, 0, ((size_t)in.len + 1) * sizeof(uint64_t));
    if (!in.wide) {
        const pin_table tb = table_of(&in);
        rc = NM_CALL(pinlaw)(&tb, hist);
    }
    hook_free(&in);
    return rc;
}

int nm_pinput_draw(const nm_poisson_input_desc *d, uint64_t seed, int32_t n, int32_t chunk, int32_t steps, int32_t *counts, int64_t *ties) {
    if (n < 1 || chunk < 2 || (chunk & 1) || steps < 0) return -1;
    nm_pinput in;
    int rc = hook_table(d, &in);
    float *slot = NULL;
    if (!rc) {
        in.npad = (n + 31) / 32 * 32 + 32;
        in.state = calloc(2 * (size_t)in.npad, sizeof(uint32_t));
        slot = malloc((size_t)n * sizeof(float));
        if (!in.state || !slot) rc = -2;
    }
    if (!rc) {
        seed_streams(n, &in, 0, seed);
        const pin_table tb = table_of(&in);
        *ties = 0;
        for (int32_t s = 0; s < steps; s++) {
            memset(slot, 0, (size_t)n * sizeof(float));
            for (int32_t lo = 0; lo < n; lo += chunk) NM_CALL(pinput)(in.state, in.npad, &tb, NULL, 1.0f, slot, lo, lo + chunk < n ? lo + chunk : n, ties);
            for (int32_t i = 0; i < n; i++) counts[(size_t)s * (size_t)n + (size_t)i] = (int32_t)slot[i];
        }
    }
    free(slot);
    hook_free(&in);
    return rc;
}
