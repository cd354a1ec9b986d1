/* neuromorph spiking engine (C core).
 *
 * Time-stepped neuron updates, event-driven synaptic delivery:
 *   - update n advances every neuron from t_n = n*dt to t_{n+1}; it first adds the ring-buffer slot n
 *     (inputs arriving at t_n), integrates, and detects threshold crossings. A spike found in update n
 *     has time t_{n+1} (NEST's convention: end of the step).
 *   - a spike of update n with delay d steps (d >= 1) is added to slot n + 1 + d of its targets, i.e. it
 *     arrives at t_{n+1} + d.
 *   - neurons are advanced an interval of L = d_min + 1 steps at a time, then all spikes of the interval
 *     are delivered (no spike can arrive inside the interval it was emitted in).
 * Threads (OpenMP) own contiguous neuron ranges of every population; each thread delivers only into the
 * ring buffers of the neurons it owns, so delivery needs no atomics, and every target receives its
 * inputs in the same order (spike order, then synapse order) whatever the thread count: results are
 * bit-identical for 1 and N threads. Random streams belong to fixed blocks of neurons, not to threads.
 *
 * Memory of populations and ring buffers is owned by the engine; projection arrays (CSR, weights,
 * kernels) are owned by the caller and must outlive the engine (they can be shared by many engines);
 * the engine copies, once, into 64-byte aligned memory of its own every conv kernel (with a tail of -0.0,
 * see snn_deliver_conv.c; a 3x3 stride-1 kernel of whole 16-channel blocks also re-laid by rows, and with
 * 16 outputs a second time for two target rows) and dense weights and depthwise kernels that are not
 * 64-byte aligned.
 */
#ifndef NM_SNN_H
#define NM_SNN_H
#include <stdint.h>
#include <stddef.h>
#include "nm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- neuron models ----
 * Every model (neurons and spike sources) lives in one C file of the engine (models/NAME.c: its named
 * parameter struct, state layout and update kernel) and is registered by name; the engine knows models
 * only through their descriptors. Populations name their model and give its parameters by name (derived
 * constants, e.g. propagators for dt, come from the Swift model, Sources/SNN/Models). The registered
 * models can be listed: */
typedef struct nm_model_info {
    const char *name;
    const char *weight_unit;   /* what a weight adds to the input of a port (the engine's unit) */
    int nvars;                 /* state variables (float per neuron) */
    int nports;                /* receptor ports; 0 = a spike source */
    int nparams;               /* parameters (set by name) */
    int nblocks;               /* data blocks (per-population arrays besides parameters and state) */
    int input_lead;            /* 1: an input arriving at t acts in the step ending at t (see nm_engine_add_proj) */
} nm_model_info;
/* The k-th registered model (0, 1, ...): 0, or -1 past the last. */
int nm_model_at(int k, nm_model_info *info);
/* Name and unit of parameter j / state variable j / data block j of the model `name`; NULL if none. */
const char *nm_model_param_name(const char *model, int j, const char **unit);
const char *nm_model_var_name(const char *model, int j, const char **unit);
const char *nm_model_block_name(const char *model, int j);

#define NM_MAX_VARS 8
#define NM_MAX_PORTS 2

enum nm_proj_kind {
    NM_PROJ_SPARSE = 0,  /* CSR by presynaptic neuron; targets sorted within a row */
    NM_PROJ_DENSE = 1,   /* weight matrix [n_pre][n_post] */
    NM_PROJ_CONV = 2,    /* 2-D convolution, channels-last (HWC) populations, weight-shared kernel */
    NM_PROJ_MAXPOOL = 3  /* max pooling by spike-count gating (HWC, per channel): a spike of a source
                            neuron reaches a pooling window's target (weight w0) only while that source
                            has the highest spike count of the window so far (first one on ties) */
};

/* A projection as the caller describes it. Arrays are borrowed (not copied, not freed), except the weights
 * and kernels copied as said above. */
typedef struct nm_proj_desc {
    int32_t kind, pre, post, port;
    int32_t delay;             /* steps, >= 1 (used when delays == NULL); 0 = same-step delivery, allowed
                                  only from a population to one added later (feed-forward): the target
                                  sees the spike in the same update (time-stepped ANN->SNN semantics) */
    const uint16_t *delays;    /* sparse only: per-synapse delay in steps, or NULL */
    /* sparse */
    const int64_t *rowptr;     /* [n_pre + 1] */
    const int32_t *col;        /* [nnz] target indices, ascending within a row */
    const float *w;            /* sparse: [nnz] or NULL (then w0 for all); dense: [n_pre*n_post];
                                  conv: kernel [k_h][k_w][in_c][out_c] (depthwise: [k_h][k_w][in_c]) */
    float w0;
    /* conv geometry (HWC): pre is in_h*in_w*in_c, post is out_h*out_w*out_c */
    int32_t in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride, pad, depthwise;
} nm_proj_desc;

typedef struct nm_engine nm_engine;

nm_engine *nm_engine_new(double dt_ms, uint64_t seed);
void nm_engine_free(nm_engine *e);
/* Adds a population of n neurons of the model `model` (a registered name) with its parameters by name
 * (names[k] = values[k], every parameter of the model exactly once, in any order); returns its index or
 * -1 (unknown model, size outside [0, 2^30], a parameter missing, unknown or given twice, NaN, infinite
 * where it must be finite, out of its range, or parameters that contradict each other; see
 * nm_engine_error). State starts at 0. */
int nm_engine_add_pop(nm_engine *e, const char *model, int32_t n, int nparams, const char *const *names, const double *values);
int nm_pop_size(const nm_engine *e, int pop);
int nm_pop_nvars(const nm_engine *e, int pop);
/* State variable `var` of population `pop` (length n), writable between runs. */
float *nm_pop_var(nm_engine *e, int pop, int var);
/* Per-neuron extra input current (pA; model units) added to i_e, length n, zero at start. */
float *nm_pop_iext(nm_engine *e, int pop);
/* How the last run read the population's inputs and current (diagnostics and tests): bit 0 set if its
 * inputs were added to its state as they arrived (models/if.c: every projection onto it same-step),
 * bits 8.. the period of its external current read as a table (0: per neuron). */
int32_t nm_pop_input_form(const nm_engine *e, int pop);
/* Refractory countdown (steps) per neuron. */
int32_t *nm_pop_refractory(nm_engine *e, int pop);
/* The population's model name, and the name of its state variable `var` (NULL if none). */
const char *nm_pop_model(const nm_engine *e, int pop);
const char *nm_pop_var_name(const nm_engine *e, int pop, int var);
/* The engine's value of parameter `name` of population `pop` (steps and flags as doubles); 0, or -1 if
 * there is no such population or parameter. */
int nm_pop_param(const nm_engine *e, int pop, const char *name, double *value);
/* Replaces a parameter (by name, checked like nm_engine_add_pop) between runs; 0 or -1. */
int nm_pop_set_param(nm_engine *e, int pop, const char *name, double value);
/* Sets the data block `name` of a population (an array of `count` elements of the block's type, copied
 * and checked by the model): 0 or -1 (unknown block, inconsistent data; see nm_engine_error). */
int nm_pop_set_block(nm_engine *e, int pop, const char *name, const void *data, int64_t count);
/* Poisson ("poisson", models/poisson.c): per-neuron means per step (Poisson draw; probabilities per step
 * with bernoulli = 1), copied (block "rates"), finite and at most 1e6; or NULL to use the population's p.
 * Redraws the next spike of every neuron from the current step. */
int nm_pop_set_rates(nm_engine *e, int pop, const float *p_per_step);
/* Spike source ("spike_source", models/spike_source.c): CSR of emitting update steps per neuron (copied;
 * ascending per neuron; block "spike_steps" holds ptr[n + 1] followed by the steps). A spike at time t
 * (>= dt) is emitted by update round(t/dt) - 1. Returns -1 if ptr does not start at 0 or decreases, or a
 * neuron's steps are negative or not ascending. */
int nm_pop_set_spike_steps(nm_engine *e, int pop, const int64_t *ptr, const int64_t *steps);

/* Adds a projection; arrival: a spike found in update n (time t_{n+1}) with delay d steps is added to
 * ring-buffer slot n + 1 + d of its targets (read by their update n + 1 + d, which starts at its arrival
 * time), or slot n + d for a target model with input_lead (which applies it in the step ending at the
 * arrival time); neurons advance L = 1 + min over projections of (d - lead) steps between deliveries.
 * Returns its index or -1 (inconsistent description; see nm_engine_error): unknown
 * populations, kind or port, a delay outside [0, 65535] steps, sparse row pointers that do not start at
 * 0 or decrease, targets out of range or not ascending within a row, per-synapse delays of 0, conv or
 * pooling geometry that does not match the population sizes or whose output size is not
 * (in + 2 pad - kernel) / stride + 1, stride or kernel < 1, padding < 0 or not smaller than the kernel. */
int nm_engine_add_proj(nm_engine *e, const nm_proj_desc *d);
/* Synaptic events (spike x fan-out actually delivered) counted by projection since the last reset. */
int64_t nm_proj_events(const nm_engine *e, int proj);
/* Number of synapses a projection stores (sparse nnz; dense n_pre*n_post; conv total connections). */
int64_t nm_proj_synapses(const nm_engine *e, int proj);

/* ---- Poisson inputs ----
 * An aggregated external drive onto a population (Brian2's PoissonInput): every target neuron receives
 * the summed spikes of `sources` independent trains, drawn as one count per neuron and step, added to
 * the ring buffer of `port` as weight x count (no source neurons, no synapses). The count is
 * Poisson(sources p) (the trains are Poisson processes, as NEST's poisson_generator and the `poisson`
 * model) or, with binomial = 1, Binomial(sources, p) (Bernoulli trains, as Brian2's PoissonInput). It
 * arrives as the spikes of an explicit source with a delay of one step would (snn_poisson_input.c:
 * drawn in update n, acting in update n + 2, or n + 1 for a model with input_lead). Random streams:
 * one per pair of target neurons (2m, 2m + 1) from the run seed: same counts on any thread count and
 * vector path. */
#define NM_PINPUT_MAX_MEAN 1e7    /* sources x p: the largest mean count per neuron and step */
typedef struct nm_poisson_input_desc {
    int32_t pop, port;
    int32_t sources;           /* >= 1 */
    int32_t binomial;          /* 0: Poisson count, 1: binomial count */
    double p;                  /* per source and step: rate x dt (mean spikes; binomial: probability, <= 1) */
    float weight;              /* added per input spike, in the target model's weight unit (finite) */
    const uint8_t *mask;       /* NULL: every neuron of pop; else n entries, 1 = receives the input (copied) */
} nm_poisson_input_desc;
/* Adds a Poisson input; returns its index or -1 (no such population or port, a spike source, sources
 * < 1, p NaN, infinite or negative, binomial with p > 1, sources x p > NM_PINPUT_MAX_MEAN, a weight
 * that is not finite, mask entries other than 0 and 1; see nm_engine_error). */
int nm_engine_add_poisson_input(nm_engine *e, const nm_poisson_input_desc *d);
int nm_engine_ninputs(const nm_engine *e);
/* The description of input k (its mask is the engine's copy); 0, or -1 if there is none. */
int nm_input_desc(const nm_engine *e, int input, nm_poisson_input_desc *d);
/* Input spikes delivered by input k since the last reset (the sum of its counts). */
int64_t nm_input_events(const nm_engine *e, int input);
/* Test hooks of the count draw (snn_poisson_input.c), on the current vector path. table_law: the
 * 32-bit thresholds T (info[1] = len entries; count kmin + j for T[j-1] <= u < T[j]) and hist[j] (len + 1
 * entries) = the number of 16-bit draws (r, and for a tie bucket every 16 further bits lo, each r weighing
 * 2^16) the kernel's count rule maps to kmin + j; info = {kmin, len, ties, wide} (wide: 32-bit uniforms,
 * hist not filled). draw: counts[s n + i] of n neurons over `steps` steps from `seed` (weight 1), drawn in
 * ranges of `chunk` neurons (even); *ties = lanes that took the tie path. 0, or < 0 (bad arguments,
 * cap too small, out of memory). */
int nm_pinput_table_law(const nm_poisson_input_desc *d, uint32_t *T, uint64_t *hist, int32_t cap, int32_t info[4]);
int nm_pinput_draw(const nm_poisson_input_desc *d, uint64_t seed, int32_t n, int32_t chunk, int32_t steps, int32_t *counts, int64_t *ties);

/* Spike recording: all neurons (mask == NULL) or those with mask[i] != 0 (mask copied). A neuron that
 * spikes k times in one step (a Poisson source) is recorded k times, as NEST's spike_recorder does. */
int nm_engine_record_spikes(nm_engine *e, int pop, const uint8_t *mask);
/* Recorded spikes of a population: count, steps (spike time = step * dt) and ids. Valid until the next
 * run or clear. */
int64_t nm_rec_count(const nm_engine *e, int pop);
const int64_t *nm_rec_steps(const nm_engine *e, int pop);
const int32_t *nm_rec_ids(const nm_engine *e, int pop);
void nm_rec_clear(nm_engine *e);
/* Per-step spike counts of a population (for rate monitors): enable before running. */
int nm_engine_record_counts(nm_engine *e, int pop);
int64_t nm_counts_len(const nm_engine *e, int pop);
const int32_t *nm_counts(const nm_engine *e, int pop);
/* Total spikes of a population since the last reset (always counted). */
int64_t nm_pop_spike_total(const nm_engine *e, int pop);
/* Per-neuron spike counts since the last reset (always counted). */
const int32_t *nm_pop_spike_counts(const nm_engine *e, int pop);   /* NULL when switched off */
/* Per-neuron spike counts are kept by default; off saves a scattered increment per spike. A max-pool
 * gate's source keeps them (the call is then a no-op). Switching on again restarts them at zero. */
int nm_pop_count_per_neuron(nm_engine *e, int pop, int on);

/* State monitor: samples var at neurons idx[0..nidx) after every `every`-th step (time (n+1)*dt). */
int nm_engine_add_state_monitor(nm_engine *e, int pop, int var, const int32_t *idx, int32_t nidx, int32_t every);
int64_t nm_state_samples(const nm_engine *e, int mon);      /* number of samples taken */
const float *nm_state_data(const nm_engine *e, int mon);    /* [samples][nidx] */
const int64_t *nm_state_steps(const nm_engine *e, int mon); /* [samples], time = step*dt */

/* Threads of a run meet at a barrier once per min-delay interval: they spin up to `us` microseconds
 * (default 50, or the environment variable NM_SPIN_US) and then sleep until the last one arrives. */
void nm_set_spin_us(int us);
int nm_get_spin_us(void);

/* Runs nsteps steps with nthreads threads (<= 0: all cores). Returns 0, or -1 on error (then
 * nm_engine_error says why, and nm_engine_fault tells whether the network itself stopped the run). */
int nm_engine_run(nm_engine *e, int64_t nsteps, int nthreads);

/* ---- run-time faults ----
 * A run stops with an error when the network cannot be simulated meaningfully:
 *   - NM_FAULT_NONFINITE: a state variable became NaN or infinite. Every thread checks the state of
 *     the neurons it owns (one vectorized pass over the state arrays) at the end of every interval that
 *     reaches a multiple of NM_CHECK_STEPS steps and at the end of each run; the fault names the first
 *     non-finite (population, variable, neuron) in that order, and the window [step_lo, step_hi] of steps
 *     between the last check that passed and the one that failed (the AdEx solver reports the exact
 *     step, step_hi = step_lo + 1).
 *   - NM_FAULT_SOLVER_STEPS: the AdEx solver (GSL RKF45) needed more than NM_ADEX_MAX_STEPS internal
 *     steps for one neuron within one time step (its step size collapsed, e.g. a neuron driven to fire
 *     thousands of times per step); value = the steps taken.
 *   - NM_FAULT_SOLVER_FAILED: the AdEx solver returned an error; value = the GSL status.
 *   - NM_FAULT_SPIKES_PER_STEP: an AdEx neuron reached V_peak a second time within one time step (its
 *     refractory period is shorter than dt and its drive enormous); the engine records one spike per
 *     neuron and step, so the run would silently lose spikes. value = the time within the step (ms).
 * The run stops at the end of the interval in which the fault was found (nm_engine_step says where);
 * the state is then not meaningful. Which fault is reported does not depend on the thread count. */
#ifndef NM_CHECK_STEPS
#define NM_CHECK_STEPS 16
#endif
#define NM_ADEX_MAX_STEPS 1000
enum nm_fault_kind { NM_FAULT_NONE = 0, NM_FAULT_NONFINITE = 1, NM_FAULT_SOLVER_STEPS = 2, NM_FAULT_SOLVER_FAILED = 3,
                     NM_FAULT_SPIKES_PER_STEP = 4 };
typedef struct nm_fault {
    int32_t kind;       /* enum nm_fault_kind */
    int32_t pop;        /* population index */
    int32_t var;        /* NONFINITE: state variable index; otherwise -1 */
    int32_t neuron;     /* neuron index within the population */
    int64_t step_lo;    /* the fault arose after time step_lo*dt ... */
    int64_t step_hi;    /* ... and by time step_hi*dt */
    double value;       /* NONFINITE: the value found (NaN, +inf, -inf); SOLVER_*: see above */
} nm_fault;
/* What stopped the last run (kind NM_FAULT_NONE if it ended normally or failed for another reason,
 * e.g. out of memory). Returns the kind. */
int nm_engine_fault(const nm_engine *e, nm_fault *f);
/* One sentence describing a fault, with the caller's names for the population and variable (NULL: their
 * indices), e.g. "exc.v became NaN between t = 3.2 ms and t = 6.4 ms, neuron 17 (...)". Returns the
 * length written (as snprintf). */
int nm_fault_describe(const nm_engine *e, const nm_fault *f, const char *pop_name, const char *var_name, char *buf, size_t len);
int64_t nm_engine_step(const nm_engine *e);
int32_t nm_engine_interval(const nm_engine *e); /* L = min delay + 1 */
/* Zeroes ring buffers, refractory counters, external currents, counters, recordings and the step; state variables are
 * left to the caller. Poisson sources redraw their next spikes. */
void nm_engine_reset(nm_engine *e);
/* Re-seeds every random stream of the engine (Poisson sources and inputs) from (seed, block); used to give each
 * evaluated input its own reproducible streams. */
void nm_engine_reseed(nm_engine *e, uint64_t seed);
const char *nm_engine_error(const nm_engine *e);
/* Names carried by a saved network (for the runner's output files): population names, and per
 * state monitor its variable name and the factor that converts the stored value to the reported unit.
 * (State variable names come from the models: nm_pop_var_name.) */
typedef struct nm_net_meta {
    const char *const *pop_names;   /* [npops] */
    const char *const *mon_names;   /* [nmons] */
    const double *mon_scales;       /* [nmons] */
    const char *const *input_names; /* [ninputs] (Poisson inputs) */
} nm_net_meta;
/* Saves a built network before its first run (populations with their model and parameters by name,
 * state, currents, data blocks such as rates and spike times, recording choices, projections, Poisson
 * inputs, state monitors; meta may be NULL or have NULL arrays: empty names, scale 1) to `path` (written to a
 * temporary file, then renamed); 0 on success, else -1 with a message in err. Names must not contain
 * '/' or control characters (they become file names) and are at most NM_MAX_NAME bytes. Format version
 * NM_NET_VERSION, with a checksum of everything after the header (see snn_io.c); files of older
 * versions are refused with the way to re-create them. */
#define NM_NET_VERSION 4
#define NM_MAX_NAME 255
int nm_engine_save(const nm_engine *e, const nm_net_meta *meta, const char *path, char *err, size_t errlen);
/* Loads a saved network (replaying the same calls: same seed => same spikes); NULL with a message in
 * err naming the file and what is wrong if it is missing, truncated, of another format version, fails
 * its checksum, or describes an inconsistent network (every count, index, size, geometry and
 * parameter is checked before it is used). If meta is not NULL it gets the saved names and scales
 * (owned by the engine). */
nm_engine *nm_engine_load(const char *path, nm_net_meta *meta, char *err, size_t errlen);
/* The same from the `size` bytes of a saved file in memory (copied); `name` stands for the file in
 * messages. */
nm_engine *nm_engine_load_buffer(const void *data, size_t size, const char *name, nm_net_meta *meta, char *err, size_t errlen);
/* The checksum of saved networks: a 64-bit hash of `len` bytes (any change of a single byte changes it). */
uint64_t nm_net_checksum(const void *data, size_t len);
/* Bytes allocated by the engine (state, buffers, recordings). */
int64_t nm_engine_bytes(const nm_engine *e);

/* ---- connectivity generation (deterministic: per-block random streams, any thread count) ----
 * Results are malloc'ed CSR arrays the caller frees with nm_free. Targets are ascending per row. */
/* Each pair (i, j) independently with probability p (pairwise Bernoulli); no i == j if !autapses. */
int nm_connect_fixed_prob(int32_t npre, int32_t npost, double p, int autapses, uint64_t seed,
                          uint64_t stream, int64_t **rowptr, int32_t **col, int64_t *nnz);
/* Every target draws k sources uniformly (with replacement: multapses allowed). */
int nm_connect_fixed_indegree(int32_t npre, int32_t npost, int32_t k, int autapses, int multapses,
                              uint64_t seed, uint64_t stream, int64_t **rowptr, int32_t **col, int64_t *nnz);
/* Every source to every target (no i == j if !autapses); no random numbers. -1 if out of memory. */
int nm_connect_all_to_all(int32_t npre, int32_t npost, int autapses, int64_t **rowptr, int32_t **col, int64_t *nnz);
/* Every source draws k targets uniformly. */
int nm_connect_fixed_outdegree(int32_t npre, int32_t npost, int32_t k, int autapses, int multapses,
                               uint64_t seed, uint64_t stream, int64_t **rowptr, int32_t **col, int64_t *nnz);
/* Draws per-synapse values in row-block order: dist 0 = uniform(a, b), 1 = normal(a, b) clipped to
 * [lo, hi], 2 = lognormal(mu = a, sigma = b) clipped, 3 = exponential(mean a) clipped. */
int nm_draw_values(int64_t n_rows, const int64_t *rowptr, int dist, double a, double b, double lo,
                   double hi, uint64_t seed, uint64_t stream, float *out);
void nm_free(void *p);

/* Fast exp used by the models (exposed for tests): max relative error ~2e-7 on [-87, 88]. */
float nm_expf(float x);

#ifdef __cplusplus
}
#endif
#endif
