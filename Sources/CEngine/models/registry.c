/* The table of registered models (models.h, one line per model). */
#include "../snn_model.h"

#define NM_MODEL(name) extern const nm_model nm_model_##name;
#include "models.h"
#undef NM_MODEL

#define NM_MODEL(name) &nm_model_##name,
const nm_model *const nm_models[] = {
#include "models.h"
    NULL
};
#undef NM_MODEL
