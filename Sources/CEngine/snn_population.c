/* Populations: adding one (its model by name, parameters by name, state), access to its state and
 * currents, parameters and data blocks between runs. See nm_snn.h and snn_model.h. */
#include "nm_snn.h"
#include "snn_internal.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

int nm_engine_add_pop(nm_engine *e, const char *model, int32_t n, int nparams, const char *const *names, const double *values) {
    char why[200];
    const nm_model *M = nm_model_find(model);
    void *params = calloc(1, M && M->params_size ? M->params_size : 1);   /* the model's parameter struct */
    if (!params) return nm_fail(e, "out of memory");
    if (nm_check_pop(model, n, nparams, names, values, &M, params, why, sizeof why)) {
        free(params);
        snprintf(e->err, sizeof e->err, "population: %s", why);
        return -1;
    }
    pop_t *np = realloc(e->pops, sizeof(pop_t) * (size_t)(e->npops + 1));
    if (!np) { free(params); return nm_fail(e, "out of memory"); }
    e->pops = np;
    pop_t *P = &e->pops[e->npops];
    memset(P, 0, sizeof *P);
    P->model = M;
    P->params = params;
    P->n = n;
    P->nvars = M->nvars;
    P->nports = M->nports;
    P->is_source = M->nports == 0;
    P->granularity = M->granularity;
    e->npops++;   /* from here on freed with the engine, even if incomplete */
    for (int v = 0; v < P->nvars; v++) if (!(P->var[v] = nm_calloc(e, (size_t)n, sizeof(float)))) return nm_fail(e, "out of memory");
    P->refr = nm_calloc(e, (size_t)n, sizeof(int32_t));
    P->iext = nm_calloc(e, (size_t)n, sizeof(float));
    P->per_neuron = nm_calloc(e, (size_t)n, sizeof(int32_t));
    if (!P->refr || !P->iext || !P->per_neuron) return nm_fail(e, "out of memory");
    if (M->init && M->init(e, P)) return nm_fail(e, "out of memory");
    return e->npops - 1;
}

int nm_pop_size(const nm_engine *e, int pop) { return e->pops[pop].n; }
int nm_pop_nvars(const nm_engine *e, int pop) { return e->pops[pop].nvars; }
const char *nm_pop_model(const nm_engine *e, int pop) { return pop >= 0 && pop < e->npops ? e->pops[pop].model->name : NULL; }
const char *nm_pop_var_name(const nm_engine *e, int pop, int var) {
    if (pop < 0 || pop >= e->npops || var < 0 || var >= e->pops[pop].nvars) return NULL;
    return e->pops[pop].model->vars[var].name;
}
float *nm_pop_var(nm_engine *e, int pop, int var) {
    pop_t *P = &e->pops[pop];
    if (var < 0 || var >= P->nvars) return NULL;
    if (P->model->state_written) P->model->state_written(P);   /* the caller may write: e.g. AdEx resyncs its double state */
    return P->var[var];
}
float *nm_pop_iext(nm_engine *e, int pop) { e->pops[pop].iext_used = 1; return e->pops[pop].iext; }
int32_t nm_pop_input_form(const nm_engine *e, int pop) { return (e->pops[pop].direct != NULL) | (e->pops[pop].iext_period << 8); }

/* The period of P's external current: the smallest multiple of 16 up to NM_IEXT_PERIOD_MAX with
 * iext[i] == iext[i - p] (bit for bit) for every neuron, found among the candidates whose second
 * period repeats the first and then checked over the whole array once; 0 if that one fails or there is
 * none (a converted layer's bias is periodic with its channel count: neurons are laid out HWC). */
int32_t nm_iext_period(const pop_t *P) {
    if (!P->iext_used) return P->n >= 16 ? 16 : 0;   /* never handed out: all zero (a table of 16 read from it) */
    for (int32_t p = 16; p <= NM_IEXT_PERIOD_MAX && 2 * p <= P->n; p += 16)
        if (!memcmp(P->iext + p, P->iext, sizeof(float) * (size_t)p))
            return memcmp(P->iext + p, P->iext, sizeof(float) * (size_t)(P->n - p)) ? 0 : p;
    return 0;
}
int32_t *nm_pop_refractory(nm_engine *e, int pop) { return e->pops[pop].refr; }

int nm_pop_param(const nm_engine *e, int pop, const char *name, double *value) {
    if (pop < 0 || pop >= e->npops) return -1;
    const nm_param *p = nm_model_param(e->pops[pop].model, name);
    if (!p) return -1;
    *value = nm_param_get(p, e->pops[pop].params);
    return 0;
}

int nm_pop_set_param(nm_engine *e, int pop, const char *name, double value) {
    if (pop < 0 || pop >= e->npops) return nm_fail(e, "set_param: no such population");
    pop_t *P = &e->pops[pop];
    const nm_param *p = nm_model_param(P->model, name);
    if (!p) { snprintf(e->err, sizeof e->err, "set_param: model %s has no parameter '%.64s'", P->model->name, name ? name : ""); return -1; }
    void *trial = malloc(P->model->params_size ? P->model->params_size : 1);
    if (!trial) return nm_fail(e, "out of memory");
    memcpy(trial, P->params, P->model->params_size);
    const char *why = nm_param_set(p, trial, value);
    char cross[160];
    if (!why && P->model->check) why = P->model->check(trial, cross, sizeof cross);
    if (why) {
        free(trial);
        snprintf(e->err, sizeof e->err, "set_param: model %s: parameter %s = %g: %s", P->model->name, p->name, value, why);
        return -1;
    }
    memcpy(P->params, trial, P->model->params_size);
    free(trial);
    return 0;
}

int nm_pop_set_block(nm_engine *e, int pop, const char *name, const void *data, int64_t count) {
    if (pop < 0 || pop >= e->npops) return nm_fail(e, "set_block: no such population");
    pop_t *P = &e->pops[pop];
    for (int k = 0; k < P->model->nblocks; k++)
        if (name && !strcmp(P->model->blocks[k].name, name)) {
            if (count < 0) return nm_fail(e, "set_block: negative count");
            return P->model->set_block(e, P, k, data, count);
        }
    snprintf(e->err, sizeof e->err, "model %s has no data block '%.64s'", P->model->name, name ? name : "");
    return -1;
}
