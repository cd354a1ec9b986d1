/* spike_source: emits given spikes. Its data block "spike_steps" holds, as one int64 array, the CSR of
 * emitting update steps per neuron: ptr[n + 1] (ptr[0] = 0, never decreasing) followed by the steps
 * (ascending per neuron, >= 0). A spike at time t (>= dt) is emitted by update round(t/dt) - 1, i.e.
 * stamped t. Swift side (times -> steps): Sources/SNN/Models/SpikeSource.swift. */
#include "../snn_kernel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char unused_; } nm_spike_source_params;
static const nm_block SPIKE_SOURCE_BLOCKS[] = {{"spike_steps", sizeof(int64_t)}};

typedef struct {
    int64_t *block;         /* the data block as set (NULL until set: no spikes) */
    const int64_t *ptr, *steps;   /* its two parts */
    int64_t *pos;           /* per neuron: its next step to emit */
} source_data;

static int source_init(nm_engine *e, pop_t *P) {
    (void)e;
    return (P->ext = calloc(1, sizeof(source_data))) ? 0 : -1;
}

static void source_release(pop_t *P) {
    source_data *d = P->ext;
    if (!d) return;
    free(d->block); free(d->pos);
    free(d);
    P->ext = NULL;
}

static void rewind_to(source_data *d, int32_t n, int64_t step) {
    for (int32_t i = 0; i < n; i++) {
        int64_t k = d->ptr[i];
        while (k < d->ptr[i + 1] && d->steps[k] < step) k++;
        d->pos[i] = k;
    }
}

static void source_reset(nm_engine *e, pop_t *P) {
    source_data *d = P->ext;
    (void)e;
    if (d->pos) for (int32_t i = 0; i < P->n; i++) d->pos[i] = d->ptr[i];
}

static int64_t upd_source(nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out, int thread) {
    (void)e; (void)thread;
    source_data *d = P->ext;
    int64_t c = 0;
    if (!d->ptr) return 0;
    for (int32_t i = lo; i < hi; i++) {
        int64_t k = d->pos[i], end = d->ptr[i + 1];
        while (k < end && d->steps[k] < n) k++;
        if (k < end && d->steps[k] == n) {
            out[c++] = i;
            while (k < end && d->steps[k] == n) k++;
        }
        d->pos[i] = k;
    }
    return c;
}
NM_SCALAR_KERNEL(upd_source);

static int refuse(nm_engine *e, const char *msg, int32_t i) {
    snprintf(e->err, sizeof e->err, msg, (int)i);
    return -1;
}

/* ptr = data[0 .. n], steps = data[n + 1 ..]: count must be n + 1 + ptr[n] */
static int source_set_block(nm_engine *e, pop_t *P, int block, const void *data, int64_t count) {
    source_data *d = P->ext;
    const int64_t *ptr = data;
    (void)block;
    if (!ptr || count < (int64_t)P->n + 1 || ptr[0] != 0) return refuse(e, "spike times: the first neuron's list does not start at 0", 0);
    for (int32_t i = 0; i < P->n; i++)   /* all lists first: a later one may point back */
        if (ptr[i + 1] < ptr[i]) return refuse(e, "spike times: the list of neuron %d ends before it starts", i);
    if (ptr[P->n] != count - (int64_t)P->n - 1) {
        snprintf(e->err, sizeof e->err, "spike times: the lists hold %lld steps, the block %lld", (long long)ptr[P->n],
                 (long long)(count - (int64_t)P->n - 1));
        return -1;
    }
    const int64_t *steps = ptr + P->n + 1;
    for (int32_t i = 0; i < P->n; i++)
        for (int64_t k = ptr[i]; k < ptr[i + 1]; k++)
            if (steps[k] < 0 || (k > ptr[i] && steps[k] < steps[k - 1]))
                return refuse(e, "spike times: the steps of neuron %d are negative or not ascending", i);
    free(d->block); free(d->pos);
    d->block = nm_calloc(e, (size_t)count, sizeof(int64_t));
    d->pos = nm_calloc(e, (size_t)P->n, sizeof(int64_t));
    if (!d->block || !d->pos) {
        free(d->block); free(d->pos);
        d->block = d->pos = NULL; d->ptr = d->steps = NULL;
        snprintf(e->err, sizeof e->err, "out of memory");
        return -1;
    }
    memcpy(d->block, ptr, sizeof(int64_t) * (size_t)count);
    d->ptr = d->block;
    d->steps = d->block + P->n + 1;
    rewind_to(d, P->n, e->step);
    return 0;
}

static const void *source_get_block(const pop_t *P, int block, int64_t *count) {
    const source_data *d = P->ext;
    (void)block;
    if (!d->block) return NULL;
    *count = (int64_t)P->n + 1 + d->ptr[P->n];
    return d->block;
}

const nm_model nm_model_spike_source = {
    .name = "spike_source", .weight_unit = "",
    .nvars = 0, .nports = 0, .granularity = NM_RNG_BLOCK,
    .params_size = sizeof(nm_spike_source_params), .nparams = 0,
    .blocks = SPIKE_SOURCE_BLOCKS, .nblocks = 1,
    .init = source_init, .release = source_release, .reset = source_reset,
    .set_block = source_set_block, .get_block = source_get_block,
    .update = upd_source_isa,
};

int nm_pop_set_spike_steps(nm_engine *e, int pop, const int64_t *ptr, const int64_t *steps) {
    if (pop < 0 || pop >= e->npops) { snprintf(e->err, sizeof e->err, "set_spike_steps: no such population"); return -1; }
    pop_t *P = &e->pops[pop];
    if (P->model != &nm_model_spike_source) { snprintf(e->err, sizeof e->err, "set_spike_steps: not a spike source"); return -1; }
    if (!ptr || ptr[0] != 0) return refuse(e, "spike times: the first neuron's list does not start at 0", 0);
    for (int32_t i = 0; i < P->n; i++)
        if (ptr[i + 1] < ptr[i]) return refuse(e, "spike times: the list of neuron %d ends before it starts", i);
    const int64_t total = ptr[P->n];
    int64_t *block = malloc(sizeof(int64_t) * ((size_t)P->n + 1 + (size_t)total));
    if (!block) { snprintf(e->err, sizeof e->err, "out of memory"); return -1; }
    memcpy(block, ptr, sizeof(int64_t) * ((size_t)P->n + 1));
    if (total) memcpy(block + P->n + 1, steps, sizeof(int64_t) * (size_t)total);
    const int rc = source_set_block(e, P, 0, block, (int64_t)P->n + 1 + total);
    free(block);
    return rc;
}
