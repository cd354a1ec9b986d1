/* CANN: the ANN kernels in C (OpenBLAS GEMM glue, im2col, pooling, optimizers, gzip-aware IDX reading).
 * Swift imports this umbrella header. */
#ifndef NM_CANN_H
#define NM_CANN_H
#include "nm_ann.h"
#endif
