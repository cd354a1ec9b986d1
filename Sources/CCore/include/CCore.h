/* CCore: what the spiking engine and the ANN kernels share: OpenMP thread control and random-number
 * streams (GSL, nm_common.h), the run-time choice of vector path (nm_isa.h; the portable vector
 * primitives nm_vec.h are for C kernels only and not part of this module), and the output policy
 * (nm_output.h) that Swift and neuromorph-run both follow. Swift imports this umbrella header. */
#ifndef NM_CCORE_H
#define NM_CCORE_H
#include "nm_common.h"
#include "nm_isa.h"
#include "nm_output.h"
#endif
