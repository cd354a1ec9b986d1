/* Threads (OpenMP runtime control) and random-number streams (GSL). */
#ifndef NM_COMMON_H
#define NM_COMMON_H
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- OpenMP runtime ---- */
/* Number of threads OpenMP would use by default (all cores unless OMP_NUM_THREADS says otherwise). */
int nm_max_threads(void);
/* Number of processors the OpenMP runtime sees. */
int nm_num_procs(void);
/* How long (ms) an idle OpenMP worker spins before it sleeps (libomp's KMP_BLOCKTIME). 0 = sleep at
 * once (passive); large = spin (active). Applies to threads created afterwards and to the calling one. */
void nm_set_blocktime(int ms);
int nm_get_blocktime(void);
/* 1 when the library was compiled with OpenMP. */
int nm_openmp_enabled(void);

/* ---- Random numbers (GSL) ---- */
/* An opaque random stream: GSL's mt19937 seeded from (seed, stream) through splitmix64, so every
 * (population, block) or (projection, row block) gets its own reproducible stream regardless of the
 * thread that consumes it. */
typedef struct nm_rng nm_rng;
nm_rng *nm_rng_new(uint64_t seed, uint64_t stream);
void nm_rng_free(nm_rng *r);
double nm_rng_uniform(nm_rng *r);            /* [0, 1) */
double nm_rng_uniform_pos(nm_rng *r);        /* (0, 1) */
double nm_rng_gaussian(nm_rng *r, double sigma);
unsigned int nm_rng_geometric(nm_rng *r, double p); /* trials until first success, >= 1 */
unsigned int nm_rng_poisson(nm_rng *r, double mu);
unsigned long nm_rng_uniform_int(nm_rng *r, unsigned long n); /* [0, n) */
double nm_rng_exponential(nm_rng *r, double mu);
/* Fill helpers (one stream, sequential): used for initial conditions and weight draws. */
void nm_rng_fill_uniform(nm_rng *r, float *out, int64_t n, double low, double high);
void nm_rng_fill_normal(nm_rng *r, float *out, int64_t n, double mean, double sd);
/* Reference check: first output of GSL mt19937 seeded with `seed` (5489 -> 3499211612). */
unsigned long nm_gsl_mt19937_first(unsigned long seed);
/* splitmix64 mixing function (public for tests and for deriving seeds in Swift). */
uint64_t nm_splitmix64(uint64_t x);

#ifdef __cplusplus
}
#endif
#endif
