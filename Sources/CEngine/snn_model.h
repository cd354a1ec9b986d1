/* The shape of a neuron model in the engine: one descriptor per model, defined in the model's own C
 * file (models/NAME.c) next to its named parameter struct and its update kernel, and registered by one
 * line in models/models.def. Nothing else in the engine knows a model: populations, checks, save/load,
 * reset and the run loop go through the descriptor.
 *
 *   parameters  a C struct of the model's own (doubles; whole step counts and flags as int32), described
 *               field by field (name, unit, type, rules, offset): the engine sets it by name
 *               (nm_engine_add_pop), checks every field against its rules (NaN never; infinities only
 *               where allowed; > 0, >= 0, steps) and then the model's own cross-field check, and saved
 *               files store it by name;
 *   state       nvars float arrays of n neurons, named, with units (what state monitors sample and the
 *               finiteness check scans); the model may keep more (its `ext` data: init/release);
 *   ports       receptor ports, one ring buffer of input each (0 for spike sources);
 *   blocks      per-population data besides parameters and state (Poisson rates, spike times), saved
 *               and loaded by name (get_block/set_block);
 *   update      the kernel, one entry per vector path (NM_UPDATE_KERNEL in snn_kernel.h, or
 *               NM_SCALAR_KERNEL for scalar code).
 * The Swift side has the matching model (Sources/SNN/Models/, one Swift file per model): config parameters with units and
 * defaults, and the derived constants it passes here by name. */
#ifndef NM_SNN_MODEL_H
#define NM_SNN_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "nm_vec.h"   /* NM_ISA_COUNT, nm_isa_index */

typedef struct nm_engine nm_engine;
typedef struct pop_t pop_t;

enum nm_param_type {
    NM_PARAM_F64 = 0,    /* double */
    NM_PARAM_STEPS = 1,  /* int32_t: a whole number of time steps, 0 .. 2^31 - 1 */
    NM_PARAM_FLAG = 2    /* int32_t: 0 or 1 */
};
/* Rules of a double parameter (NaN is never accepted; a parameter without NM_INF_OK must be finite). */
enum nm_param_rule {
    NM_INF_OK = 1,       /* +-inf allowed: a threshold of +inf never fires, a lower bound of -inf is none */
    NM_POSITIVE = 2,     /* > 0 */
    NM_NONNEG = 4        /* >= 0 */
};

typedef struct nm_param {
    const char *name;    /* how Swift passes it and saved files store it */
    const char *unit;    /* "mV", "ms", "pA", "nS", "pF", "1", "steps", ... */
    int type;            /* enum nm_param_type */
    unsigned rules;      /* enum nm_param_rule (doubles only) */
    size_t offset;       /* offsetof(the parameter struct, the field) */
} nm_param;

#define NM_PARAM(S, field, unit, rules) {#field, unit, NM_PARAM_F64, (rules), offsetof(S, field)}
#define NM_PARAM_STEPS_(S, field) {#field, "steps", NM_PARAM_STEPS, 0, offsetof(S, field)}
#define NM_PARAM_FLAG_(S, field) {#field, "0/1", NM_PARAM_FLAG, 0, offsetof(S, field)}

typedef struct nm_var { const char *name, *unit; } nm_var;

/* A data block: an array of `elsize`-byte elements (Poisson rates: float per neuron; spike times). */
typedef struct nm_block { const char *name; size_t elsize; } nm_block;

/* Advances neurons [lo, hi) of P by update n (t_n -> t_{n+1}); writes the indices that spiked to out
 * (ascending) and returns their count. `thread` is the calling thread (its scratch, its fault slot).
 * A spike_bits model also accepts out = NULL (P->no_list): it then only counts its spikes, and adds
 * them to P->per_neuron itself unless P->no_per_neuron. */
typedef int64_t (*nm_update_fn)(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out, int thread);

typedef struct nm_model {
    const char *name;            /* the model's name in configs, saved files and the Swift registry */
    const char *weight_unit;     /* what a weight onto port k adds to the input (documentation) */
    const nm_var *vars;
    int nvars;                   /* <= NM_MAX_VARS */
    int nports;                  /* <= NM_MAX_PORTS; 0: a spike source (receives no synapses) */
    int input_lead;              /* 1: an input arriving at t acts in the step ending at t (NEST's
                                    iaf_psc_delta: the jump is in V(t)), so projections onto it write one
                                    ring-buffer slot earlier and their delay counts one step less towards
                                    the min-delay interval; 0: in the step starting at t */
    int granularity;             /* thread ranges are multiples of this many neurons (64, or NM_RNG_BLOCK
                                    for models whose random streams or solver work come in blocks) */
    int spike_bits;              /* the update can leave its per-step spike bits in P->spk_bits (16 per
                                    word, for same-step pooling and convolution from 16-channel blocks)
                                    and counts without listing when out is NULL */
    int direct_input;            /* 1: inputs on port 0 may be added to state variable 0 as they arrive
                                    (P->direct, set by the run when every projection onto the population is
                                    same-step, no Poisson input feeds it and the model's `direct_ok` holds:
                                    the update then reads no ring buffer) */
    int periodic_current;        /* 1: the update reads the external current as a table of
                                    P->iext_period values repeated (set by the run when the current is
                                    periodic: a converted layer's bias per channel), not per neuron */
    size_t params_size;          /* sizeof the parameter struct */
    const nm_param *params;
    int nparams;
    const nm_block *blocks;
    int nblocks;
    /* hooks (NULL: nothing to do) */
    const char *(*check)(const void *params, char *why, size_t len);   /* rules across parameters: NULL if
                                    fine, else `why` (a sentence part: "eps_abs and eps_rel cannot both be 0") */
    int (*init)(nm_engine *e, pop_t *P);                 /* after the state is allocated: the model's own data */
    void (*release)(pop_t *P);
    void (*reset)(nm_engine *e, pop_t *P);               /* nm_engine_reset */
    void (*reseed)(nm_engine *e, pop_t *P, uint64_t seed);   /* nm_engine_reseed (e->seed is already seed) */
    int (*prepare)(nm_engine *e, pop_t *P, int nt);      /* before every run on nt threads; -1: out of memory */
    int (*direct_ok)(const pop_t *P);                    /* direct_input models: 1 if this population's
                                    parameters allow it (an IF neuron drops inputs while refractory: t_ref 0) */
    void (*state_written)(pop_t *P);                     /* nm_pop_var handed out a writable state array */
    int (*multi_spike)(const pop_t *P);                  /* 1: a neuron may spike several times in one step (a
                                    Poisson count): the update lists each such neuron once and leaves its
                                    count in P->mult[i]; the run loop repeats the id that many times, so
                                    every delivery, count and recording sees one entry per spike */
    /* data blocks: set (copied, checked: -1 with a message in e->err) and read back (NULL: not set) */
    int (*set_block)(nm_engine *e, pop_t *P, int block, const void *data, int64_t count);
    const void *(*get_block)(const pop_t *P, int block, int64_t *count);
    /* the factor that turns state variable `var` into its reported unit (NULL: 1 for every variable); the
       Swift model's readoutScale gives the same, and a saved network's monitor scale must equal it */
    double (*readout)(const void *params, int var);
    const nm_update_fn *update;  /* [NM_ISA_COUNT], indexed by nm_isa_index() */
} nm_model;

/* The largest mean count per step of a Poisson source neuron (models/poisson.c): far beyond any spike
 * source (10^10 Hz at dt = 0.1 ms); aggregated drives are poisson inputs (snn_poisson_input.c). */
#define NM_POISSON_MAX_MEAN 1e6

/* The registered models (models/models.def), in registration order; NULL-terminated. */
extern const nm_model *const nm_models[];
/* The model named `name`, or NULL. */
const nm_model *nm_model_find(const char *name);
/* The parameter of M named `name`, or NULL. */
const nm_param *nm_model_param(const nm_model *M, const char *name);
/* Sets parameter p of a parameter struct from a double (steps and flags converted), after checking it
 * against its type and rules; NULL, or the reason it is refused ("is NaN", "must be > 0", ...). */
const char *nm_param_set(const nm_param *p, void *params, double value);
/* The value of parameter p as a double. */
double nm_param_get(const nm_param *p, const void *params);

/* Scalar kernels (the same function on every path). */
#define NM_SCALAR_KERNEL(fn) static const nm_update_fn fn##_isa[NM_ISA_COUNT] = {fn, fn, fn}

#endif
