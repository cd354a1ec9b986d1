/* Models by name: lookup in the registry (models/registry.c), parameters set and read by name through a
 * model's field table, and the public listing of models (nm_model_at, ...). See snn_model.h. */
#include "snn_internal.h"
#include <math.h>
#include <string.h>

const nm_model *nm_model_find(const char *name) {
    if (!name) return NULL;
    for (int k = 0; nm_models[k]; k++)
        if (!strcmp(nm_models[k]->name, name)) return nm_models[k];
    return NULL;
}

const nm_param *nm_model_param(const nm_model *M, const char *name) {
    if (!name) return NULL;
    for (int j = 0; j < M->nparams; j++)
        if (!strcmp(M->params[j].name, name)) return &M->params[j];
    return NULL;
}

const char *nm_param_set(const nm_param *p, void *params, double x) {
    char *field = (char *)params + p->offset;
    if (isnan(x)) return "is NaN";
    switch (p->type) {
    case NM_PARAM_STEPS: {
        if (!(x >= 0 && x <= 2147483647.0 && x == floor(x))) return "must be a whole number of steps >= 0 (at most 2^31 - 1)";
        const int32_t v = (int32_t)x;
        memcpy(field, &v, sizeof v);
        return NULL;
    }
    case NM_PARAM_FLAG: {
        if (x != 0 && x != 1) return "must be 0 or 1";
        const int32_t v = (int32_t)x;
        memcpy(field, &v, sizeof v);
        return NULL;
    }
    default:
        if (isinf(x) && !(p->rules & NM_INF_OK)) return "must be finite";
        if ((p->rules & NM_POSITIVE) && !(x > 0)) return "must be > 0";
        if ((p->rules & NM_NONNEG) && !(x >= 0)) return "must be >= 0";
        memcpy(field, &x, sizeof x);
        return NULL;
    }
}

double nm_param_get(const nm_param *p, const void *params) {
    const char *field = (const char *)params + p->offset;
    if (p->type == NM_PARAM_F64) {
        double x;
        memcpy(&x, field, sizeof x);
        return x;
    }
    int32_t v;
    memcpy(&v, field, sizeof v);
    return (double)v;
}

/* ---- public listing ---- */

int nm_model_at(int k, nm_model_info *info) {
    int count = 0;
    while (nm_models[count]) count++;
    if (k < 0 || k >= count) return -1;
    const nm_model *M = nm_models[k];
    if (info) {
        info->name = M->name;
        info->weight_unit = M->weight_unit;
        info->nvars = M->nvars;
        info->nports = M->nports;
        info->nparams = M->nparams;
        info->nblocks = M->nblocks;
        info->input_lead = M->input_lead;
    }
    return 0;
}

const char *nm_model_param_name(const char *model, int j, const char **unit) {
    const nm_model *M = nm_model_find(model);
    if (!M || j < 0 || j >= M->nparams) return NULL;
    if (unit) *unit = M->params[j].unit;
    return M->params[j].name;
}

const char *nm_model_var_name(const char *model, int j, const char **unit) {
    const nm_model *M = nm_model_find(model);
    if (!M || j < 0 || j >= M->nvars) return NULL;
    if (unit) *unit = M->vars[j].unit;
    return M->vars[j].name;
}

const char *nm_model_block_name(const char *model, int j) {
    const nm_model *M = nm_model_find(model);
    if (!M || j < 0 || j >= M->nblocks) return NULL;
    return M->blocks[j].name;
}
