/* Internal structures of the spiking engine (not part of the public C API). */
#ifndef NM_SNN_INTERNAL_H
#define NM_SNN_INTERNAL_H
#include "nm_snn.h"

#define NM_RNG_BLOCK 1024  /* neurons per random stream (and partition granularity of stochastic pops) */

typedef struct pop_t {
    int model, nvars, nports, is_source, granularity;
    int same_step_out;                 /* source of a same-step projection */
    int has_input;                     /* target of at least one projection (reads its ring buffer) */
    int iext_used;                     /* someone asked for the per-neuron current array (may be non-zero) */
    int32_t n;
    float *var[NM_MAX_VARS];
    double p[NM_MAX_PARAMS];
    int32_t *refr;
    float *iext;
    float *buf[NM_MAX_PORTS];          /* ring buffers [nslots][n] */
    /* Poisson */
    float *rate_p;
    int64_t *next;
    nm_rng **rng;
    int32_t nrng;
    int needs_redraw;
    /* spike source */
    int64_t *src_ptr, *src_steps, *src_pos;
    /* AdEx (double state for the GSL stepper, per-neuron step size) */
    double *dstate, *hstep;
    int adex_fresh;
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
    uint16_t *spk_bits;  /* IF sources of same-step pooling: spiked-this-step bits, 16 neurons per word */
    char pad_after_[64];
} pop_t;

typedef struct proj_t {
    nm_proj_desc d;
    int same_step;       /* delay 0: delivered within the step, right after the source population */
    uint16_t *coord;     /* conv/maxpool: (y, x, c) per source neuron */
    int32_t *pool_tgt;   /* non-overlapping depthwise (pooling): (target, weight index) per source, target -1 = none */
    int32_t *split;      /* sparse, nt > 1: per row, where threads 1..nt-1's targets start (offset in the row) */
    int32_t **cvs;       /* conv: per thread delivery scratch (prepare_threads) */
    int pool_bits;       /* pooling delivered from the source's spike bits (deliver_pool_bits) */
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
    int32_t *ids;
    int64_t *ptr;
} tl_t;

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
    int64_t *events_tl;  /* [t][proj] */
    void *adex_ws;       /* per-thread GSL workspaces */
    int adex_nt;
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
int64_t nm_update_pop(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, uint8_t *flags, int32_t *out, int thread);
void nm_poisson_redraw(nm_engine *e, pop_t *P);
int nm_adex_prepare(nm_engine *e, int nt);

/* ---- checks (snn_check.c) ---- */
/* Validates a population (model, size, parameters) / a projection description against the engine;
 * 0, or -1 with a message in err. nm_check_proj_shape leaves out what needs the arrays (CSR contents). */
int nm_check_pop(int model, int32_t n, const double *params, int nparams, char *err, size_t len);
/* The factor that turns state variable `var` of population `pop` into its reported unit (lif_exp's
 * synaptic currents are kept as voltages: C_m / tau_m; every other variable 1): what `neuromorph simulate`
 * multiplies state samples by (NeuronModel.readoutScale), and what a saved network's monitor scale must be.
 * 0 for an unknown population or variable. */
double nm_readout_scale(const nm_engine *e, int pop, int var);
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
void nm_adex_free_workspace(nm_engine *e);

#endif
