/* CEngine: the spiking engine in C (populations, models, delivery, recording, save/load; OpenMP, GSL).
 * What `neuromorph-run` links, with CCore: no BLAS, no zlib. Swift imports this umbrella header. */
#ifndef NM_CENGINE_H
#define NM_CENGINE_H
#include "nm_snn.h"
#endif
