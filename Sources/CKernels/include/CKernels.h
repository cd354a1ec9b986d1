/* CKernels: neuromorph's hot loops in C (OpenMP, GSL, OpenBLAS). Swift imports this umbrella header.
 * Nothing here knows about Swift. */
#ifndef NM_CKERNELS_H
#define NM_CKERNELS_H
#include "nm_common.h"
#include "nm_snn.h"
#include "nm_ann.h"
#include "nm_isa.h"
#include "nm_output.h"
#endif
