/* neuromorph spiking engine: an engine's lifetime (allocation, freeing, errors, reset and reseeding).
 * The rest of the engine, by section: populations (snn_population.c), projections (snn_projection.c),
 * recording (snn_record.c), the run loop and its barrier (snn_run.c), delivery (snn_deliver*.c, one file
 * per projection kind), checks and faults (snn_check.c), save/load (snn_io.c), models (models/). See
 * nm_snn.h. */
#include "nm_snn.h"
#include "snn_internal.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

void nm_free(void *p) { free(p); }

/* Zeroed memory that starts on a cache line and fills whole lines. Per-neuron arrays are written by
 * the thread that owns a range of neurons; thread ranges are multiples of 64 neurons, so with aligned
 * arrays no cache line is written by two threads (a shared boundary line made the update of a
 * 4000-neuron network ~3x slower on 2 threads). Freed with free(). */
void *nm_acalloc(size_t n, size_t sz) {
    size_t bytes = n * sz;
    bytes = (bytes + 63) / 64 * 64;
    if (!bytes) bytes = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes)) return NULL;
    memset(p, 0, bytes);
    return p;
}

void *nm_calloc(nm_engine *e, size_t n, size_t sz) {
    void *p = nm_acalloc(n ? n : 1, sz);
    if (p) e->bytes += (int64_t)(n * sz);
    return p;
}

int nm_fail(nm_engine *e, const char *msg) {
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
    if (P->model && P->model->release) P->model->release(P);
    for (int v = 0; v < NM_MAX_VARS; v++) free(P->var[v]);
    for (int b = 0; b < NM_MAX_PORTS; b++) free(P->buf[b]);
    free(P->params); free(P->refr); free(P->iext);
    free(P->mask); free(P->rec_steps); free(P->rec_ids); free(P->cnt); free(P->per_neuron); free(P->spk_bits); free(P->mult);
}

void nm_free_threads(nm_engine *e) {
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
    free(e->gather_cap); e->gather_cap = NULL;
    free(e->events_tl); e->events_tl = NULL;
    free(e->range); e->range = NULL;
    for (int j = 0; j < e->nprojs; j++) {
        proj_t *pr = &e->projs[j];
        free(pr->split); pr->split = NULL;
        if (pr->cvs) { for (int t = 0; t < e->tl_nt; t++) free(pr->cvs[t]); free(pr->cvs); pr->cvs = NULL; }
        free(pr->cpos); pr->cpos = NULL;
        free(pr->pos_step); pr->pos_step = NULL;
    }
    e->tl_nt = 0;
}

void nm_engine_free(nm_engine *e) {
    if (!e) return;
    nm_free_threads(e);
    for (int p = 0; p < e->npops; p++) free_pop(&e->pops[p]);
    free(e->pops);
    for (int j = 0; j < e->nprojs; j++) { free(e->projs[j].coord); free(e->projs[j].pool_tgt); free(e->projs[j].wown); free(e->projs[j].wrow); free(e->projs[j].wrow2); }
    free(e->projs);
    for (int m = 0; m < e->nmons; m++) { free(e->mons[m].idx); free(e->mons[m].data); free(e->mons[m].steps); }
    free(e->mons);
    nm_inputs_free(e);
    nm_faults_free(e);
    for (int k = 0; k < e->nowned; k++) free(e->owned[k]);
    free(e->owned);
    free(e);
}

const char *nm_engine_error(const nm_engine *e) { return e->err; }
int64_t nm_engine_bytes(const nm_engine *e) { return e->bytes; }
int64_t nm_engine_step(const nm_engine *e) { return e->step; }
int32_t nm_engine_interval(const nm_engine *e) { return e->min_delay == INT32_MAX ? 1 : e->min_delay + 1; }

/* ---- reset ---- */

void nm_engine_reseed(nm_engine *e, uint64_t seed) {
    e->seed = seed;
    for (int p = 0; p < e->npops; p++)
        if (e->pops[p].model->reseed) e->pops[p].model->reseed(e, &e->pops[p], seed);
    nm_inputs_reseed(e, seed);
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
        if (P->model->reset) P->model->reset(e, P);
    }
    for (int j = 0; j < e->nprojs; j++) e->projs[j].events = 0;
    for (int k = 0; k < e->ninputs; k++) e->inputs[k].events = 0;
    for (int m = 0; m < e->nmons; m++) e->mons[m].nsamples = 0;
}
