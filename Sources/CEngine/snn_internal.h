/* Internal structures of the spiking engine (not part of the public C API). */
#ifndef NM_SNN_INTERNAL_H
#define NM_SNN_INTERNAL_H
#include "nm_snn.h"
#include "snn_model.h"

#define NM_IEXT_PERIOD_MAX 256   /* the longest period of an external current read as a table */
#define NM_RNG_BLOCK 1024  /* neurons per random stream (and partition granularity of stochastic pops) */

struct pop_t {
    const nm_model *model;             /* the model's descriptor (snn_model.h) */
    int nvars, nports, is_source, granularity;
    int same_step_out;                 /* source of a same-step projection */
    int has_input;                     /* target of at least one projection (reads its ring buffer) */
    int iext_used;                     /* someone asked for the per-neuron current array (may be non-zero) */
    int ninputs;                       /* Poisson inputs onto it (snn_poisson_input.c) */
    int32_t n;
    float *var[NM_MAX_VARS];
    void *params;                      /* the model's parameter struct (model->params_size bytes) */
    void *ext;                         /* the model's own data (model->init / release) */
    int32_t *refr;
    float *iext;
    uint32_t *mult;                    /* multi-spike models (model->multi_spike): this step's count of each listed neuron */
    float *buf[NM_MAX_PORTS];          /* ring buffers [nslots][n] */
    float *direct;                     /* this run: inputs on port 0 are added here (state variable 0) as they
                                        * arrive, not to a ring buffer (model->direct_input, nm_engine_run) */
    int32_t iext_period;               /* this run: iext[i] == iext[i % iext_period] for every neuron (a
                                        * multiple of 16, <= NM_IEXT_PERIOD_MAX), or 0 (model->periodic_current) */
    /* counting and recording: written by thread 0 during a run, so kept off the cache lines of the
     * fields above (read by every thread each step) and of the next population's */
    char pad_before_[64];
    int64_t total;
    int32_t *per_neuron;
    int record;
    uint8_t *mask;
    int64_t rec_n, rec_cap;
    int64_t *rec_steps;
    int32_t *rec_ids;
    int count_rec;
    int64_t cnt_n, cnt_cap;
    int32_t *cnt;
    int no_per_neuron;   /* per-neuron spike counts switched off (nm_pop_count_per_neuron) */
    uint16_t *spk_bits;  /* sources of same-step pooling (model->spike_bits): spiked-this-step bits, 16 neurons per word */
    int no_list;         /* this run: the update lists no spike ids, only counts them, in total and per neuron
                          * (nm_engine_run: one thread, every consumer reads spike bits, no recording) */
    char pad_after_[64];
};

/* Conv by rows (deliver_conv_rows): the column bit vectors' length in 64-bit groups (out_w + 2
 * columns of up to 4 window rows); the thread's scratch (prepare_threads) holds them, then spike bits
 * set from the list (in_h*in_w*in_c/16 words) and a row of zero words. */
static inline size_t nm_rows_cm_len(const nm_proj_desc *d) {
    return ((size_t)d->out_w + 2) * ((4 * ((size_t)d->in_c / 16) + 3) / 4);
}

typedef struct proj_t {
    nm_proj_desc d;
    int same_step;       /* delay 0: delivered within the step, right after the source population */
    uint16_t *coord;     /* conv/maxpool: (y, x, c) per source neuron */
    int32_t *pool_tgt;   /* non-overlapping depthwise (pooling): (target, weight index) per source, target -1 = none */
    int32_t *split;      /* sparse, nt > 1: per row, where threads 1..nt-1's targets start (offset in the row) */
    int32_t **cvs;       /* conv: per thread delivery scratch (prepare_threads); by rows (wrow): the column bit
                          * vectors (64-byte aligned), spike bits set from the list and a row of zero words */
    int32_t *cpos;       /* conv: per source neuron its padded source pixel and its kernel offset within its
                          * row, (x + pad) * in_c * out_c + c * out_c (prepare_threads) */
    int pos_from;        /* conv by lists, same-step: an earlier such projection from the same source with the
                          * same out_c and at least this padding, whose step positions (S, P in its scratch)
                          * this one reads when they are this step's (deliver_conv_body); -1: none */
    int64_t *pos_step;   /* conv by lists, per thread: the step whose positions its scratch holds (-1: none) */
    int pool_bits;       /* delivered from the source's spike bits on one thread: pooling (deliver_pool_bits),
                          * max-pool gates (deliver_maxpool_bits), convolution (conv_positions_bits) */
    float *wown;         /* the engine's own 64-byte aligned copy of the weights (d.w points at it, else NULL):
                          * every conv kernel (+ a tail of out_c values -0.0, conv_gather), and dense weights
                          * and depthwise kernels that are not aligned. The caller's array (a Swift array, a network file's buffer) may be aligned
                          * to only 4 or 16 bytes, and then most 64-byte vector loads of a row or a kernel
                          * slice span two cache lines (ResNet of experiments/onnx-models: 8 % of the SNN
                          * time, avx512) */
    float *wrow, *wrow2; /* conv by rows (deliver_conv_rows: 3x3, stride 1, in_c and out_c multiples of
                          * 16): the kernel re-laid for one target row (rows ky*in_c + c of the slices
                          * kx = 0, 1, 2) and, out_c 16, for two (rows r*in_c + c, r = 0..3, of the
                          * slices of kernel row r - t for target rows t = 0, 1, -0.0 where there is none);
                          * 64-byte aligned. Else NULL. */
    int64_t synapses;
    int64_t events;
} proj_t;

typedef struct mon_t {
    int pop, var;
    int32_t nidx, every;
    int32_t *idx;
    float *data;
    int64_t *steps;
    int64_t nsamples, cap, cap_data;
} mon_t;

/* A fault as one thread reports it, padded to a cache line (threads write their own slots). */
typedef struct nm_fault_slot {
    nm_fault f;
    char pad_[64 - sizeof(nm_fault)];
} nm_fault_slot;

typedef struct tl_t {   /* per thread, per population: spikes found in the current interval */
    int32_t *ids;        /* one entry per spike (a neuron spiking k times in a step is listed k times) */
    int64_t *ptr;
    int64_t cap;         /* entries ids can hold (grown by the owning thread for multi-spike models) */
} tl_t;

/* A Poisson input (snn_poisson_input.c): its description, the random streams (one per neuron pair) and
 * the tables its counts are drawn from. */
#define NM_PINPUT_LINEAR 24       /* prefixes (K) up to this long are compared in full, longer tables guided */
typedef struct nm_pinput {
    nm_poisson_input_desc d;      /* d.mask points to `mask` (or NULL) */
    uint8_t *mask;                /* npad entries (0 past n) */
    uint32_t *state;              /* xoshiro128+ states of the neuron pairs (2m, 2m + 1): four arrays of npad / 2 words */
    int32_t npad;                 /* neurons, padded: whole 32-neuron blocks from any even start */
    uint32_t *T;                  /* 32-bit thresholds, len + 1 entries (the last a sentinel) */
    int32_t *Tb;                  /* the same biased by 2^31 (signed comparisons in the kernel) */
    int32_t len, kmin, K;         /* K: the prefix compared without branches */
    uint32_t *G;                  /* guide (long tables): 2^gbits entries, or NULL */
    int gbits;
    int wide;                     /* 1: 32-bit uniforms (guided tables, counts past 65535); 0: 16-bit lanes */
    uint16_t *B;                  /* 16-bit path: len relabeled bucket thresholds (count = #{j : r >= B[j]}) */
    int16_t *Bb;                  /* B and the tie bound 65536 - nt, biased by 2^15, each splat to 32 lanes (len + 1 entries); the branch-free prefix: its first Kp (the last: the rare-lane bound) */
    uint16_t *tieb;               /* the nt tie buckets (T[j] >> 16 with T[j] & 0xFFFF != 0), ascending */
    int32_t nt, Kp;
    int64_t events;               /* input spikes delivered (the counts' sum) since the last reset */
} nm_pinput;

struct nm_engine {
    double dt;
    uint64_t seed;
    int64_t step;
    int npops, nprojs, nmons;
    pop_t *pops;
    proj_t *projs;
    mon_t *mons;
    int32_t min_delay, max_delay;
    int nslots, buffers_ready;
    int gated;           /* has max-pool (count-gated) projections */
    int has_same_step;   /* has zero-delay (same-step) projections */
    /* thread layout for tl_nt threads */
    int tl_nt, tl_L, tl_npops, tl_nmons, tl_nprojs;
    int32_t *range;      /* [t][pop][lo, hi) */
    tl_t *tl;            /* [buffer 0/1][t][pop] */
    uint8_t **scratch;   /* [t] spike flags */
    int32_t **gather;    /* [t] one step's spikes of a population, all threads, in order */
    int64_t *gather_cap; /* [t] entries gather[t] holds */
    int ninputs, tl_ninputs;
    nm_pinput *inputs;   /* Poisson inputs */
    int64_t *events_tl;  /* [t][proj] */
    int64_t bytes;
    /* run-time faults (snn_check.c) */
    nm_fault fault;          /* what stopped the last run (kind NM_FAULT_NONE: nothing) */
    int64_t checked_step;    /* every state variable was finite after this step */
    nm_fault_slot *fslots;   /* [3][fslots_nt]: per interval (double-buffered), then sticky per thread */
    int fslots_nt;
    void **owned;        /* arrays a loaded engine's projections point into (nm_engine_load) */
    int nowned;
    char err[256];
};

/* Advances neurons [lo, hi) of P by update n; writes the ids that spiked to out, returns their count. */
static inline int64_t nm_update_pop(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out, int thread) {
    return P->model->update[nm_isa_index()](e, P, lo, hi, n, out, thread);
}
/* Zeroed memory for per-neuron arrays: starts on a cache line and fills whole lines (no line written by
 * two threads, whose ranges are multiples of 64 neurons), counted in the engine's bytes; free() frees
 * it. NULL if out of memory. */
void *nm_calloc(nm_engine *e, size_t n, size_t size);

/* ---- shared by the engine's files ---- */
/* nm_calloc without the accounting (cache-line aligned, zeroed, whole lines; free() frees it). */
void *nm_acalloc(size_t n, size_t size);
/* Sets the engine's error message; returns -1. */
int nm_fail(nm_engine *e, const char *msg);
/* Frees the thread layout of the last run (snn_run.c). */
void nm_free_threads(nm_engine *e);
/* Grows *p (realloc) to at least `need` elements of `size` bytes, doubling; 0 or -1. */
int nm_grow(void **p, int64_t *cap, int64_t need, size_t size);
/* After the barrier, thread 0 counts and records the interval's spikes (buffer b, nt threads, L steps
 * from n0); 0 or -1 (out of memory). */
int nm_record_interval(nm_engine *e, int b, int nt, int64_t n0, int L);
/* The first index in [lo, hi) of the ascending a[] whose value is >= key. */
static inline int64_t nm_lower_bound32(const int32_t *a, int64_t lo, int64_t hi, int32_t key) {
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (a[mid] < key) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* ---- Poisson inputs (snn_poisson_input.c) ---- */
/* Validates a Poisson input description against the engine; 0, or -1 with a message in err. */
int nm_check_poisson_input(const nm_engine *e, const nm_poisson_input_desc *d, char *err, size_t len);
/* Before update n of population `pop`, the inputs onto it draw the counts of neurons [lo, hi) acting in
 * update n (none before an explicit source's first spikes arrive) and add them to slot n; events[k]
 * (the calling thread's counters) grows by input k's counts. */
int64_t nm_inputs_apply(nm_engine *e, int pop, int32_t lo, int32_t hi, int64_t n, int64_t *events);
void nm_inputs_reseed(nm_engine *e, uint64_t seed);
void nm_inputs_free(nm_engine *e);

/* ---- delivery (snn_deliver*.c) ---- */
/* Where one step's spikes through a projection land: the target's ring buffer of the projection's port. */
typedef struct nm_dest {
    float *buf;      /* ring buffer [nslots][npost] */
    float *slot;     /* the slot of the projection's constant delay (or of the same step) */
    int32_t npost;
    int nslots;
    int64_t n1;      /* the arrival slot of a delay of 0 steps: n + 1 - the target model's input_lead */
    int64_t n;       /* the update that emitted the spikes */
} nm_dest;
/* Delivers one step's spikes (ids[0..cnt), emitted by update n) through projection pr into the targets
 * [tlo, thi) owned by the calling thread t; returns the synaptic events delivered. */
int64_t nm_deliver_list(nm_engine *e, const proj_t *pr, int64_t n, const int32_t *ids, int64_t cnt, int32_t tlo, int32_t thi, int t);
/* The same per projection kind. */
int64_t nm_deliver_sparse(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                          int32_t tlo, int32_t thi, int t);
int64_t nm_deliver_dense(const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt, int32_t tlo, int32_t thi);
int64_t nm_deliver_conv(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                        int32_t tlo, int32_t thi, int t);
int64_t nm_deliver_maxpool(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                           int32_t tlo, int32_t thi);

/* ---- checks (snn_check.c) ---- */
/* Validates a population: its model (by name), size and parameters (names and values, every parameter
 * of the model exactly once), filling `params` (the model's struct, model->params_size bytes) and *model;
 * 0, or -1 with a message in err. */
int nm_check_pop(const char *model_name, int32_t n, int nparams, const char *const *names, const double *values,
                 const nm_model **model, void *params, char *err, size_t len);
/* The factor that turns state variable `var` of population `pop` into its reported unit (the model's
 * `readout` hook, else 1: lif_exp keeps its synaptic currents as voltages, read out times C_m / tau_m):
 * what `neuromorph simulate` multiplies state samples by (NeuronModel.readoutScale), and what a saved
 * network's monitor scale must be. 0 for an unknown population or variable. */
double nm_readout_scale(const nm_engine *e, int pop, int var);
/* Validates a projection description against the engine; 0, or -1 with a message in err.
 * nm_check_proj_shape leaves out what needs the arrays (CSR contents). */
int nm_check_proj_shape(const nm_engine *e, const nm_proj_desc *d, char *err, size_t len);
int nm_check_proj(const nm_engine *e, const nm_proj_desc *d, char *err, size_t len);
/* Run-time faults: slots for nt threads (and a cleared fault) before a run; 0 or -1 (out of memory). */
int nm_faults_prepare(nm_engine *e, int nt);
void nm_faults_free(nm_engine *e);
/* Is the state checked at the end of the interval [n0, n1) of a run ending at `end`? */
static inline int nm_check_due(int64_t n0, int64_t n1, int64_t end) {
    return n1 == end || n0 / NM_CHECK_STEPS != n1 / NM_CHECK_STEPS;
}
/* Thread t publishes its fault for the interval ending at step n1 (buffer b): a fault its updates raised,
 * else (when `check`) the first non-finite state of its neurons, found after step `ok_step`. */
void nm_faults_publish(nm_engine *e, int nt, int b, int t, int64_t n1, int check, int64_t ok_step);
/* After the barrier: the first published fault of buffer b (1) or none (0); every thread gets the same. */
int nm_faults_first(const nm_engine *e, int nt, int b, nm_fault *out);
/* A thread's own fault (raised inside an update, e.g. by the AdEx solver); kind 0 while none. */
static inline nm_fault *nm_thread_fault(nm_engine *e, int t) { return &e->fslots[2 * e->fslots_nt + t].f; }

/* The period of P's external current (pop_t.iext_period), or 0 (snn_population.c). */
int32_t nm_iext_period(const pop_t *P);

#endif
