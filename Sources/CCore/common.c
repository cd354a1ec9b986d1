#include "nm_common.h"
#include <omp.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>

/* libomp extensions (declared in omp.h as kmp_*). */
int nm_max_threads(void) { return omp_get_max_threads(); }
int nm_num_procs(void) { return omp_get_num_procs(); }
void nm_set_blocktime(int ms) { kmp_set_blocktime(ms); }
int nm_get_blocktime(void) { return kmp_get_blocktime(); }
int nm_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

struct nm_rng { gsl_rng *g; };

uint64_t nm_splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

nm_rng *nm_rng_new(uint64_t seed, uint64_t stream) {
    nm_rng *r = malloc(sizeof *r);
    if (!r) return NULL;
    r->g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r->g) { free(r); return NULL; }
    uint64_t s = nm_splitmix64(nm_splitmix64(seed) ^ nm_splitmix64(stream + 0x632BE59BD9B4E019ull));
    /* mt19937 takes a 32-bit seed; 0 means "default" in GSL, avoid it. */
    unsigned long s32 = (unsigned long)(s & 0xffffffffu) ^ (unsigned long)(s >> 32);
    gsl_rng_set(r->g, s32 ? s32 : 4357);
    return r;
}
void nm_rng_free(nm_rng *r) { if (r) { gsl_rng_free(r->g); free(r); } }
double nm_rng_uniform(nm_rng *r) { return gsl_rng_uniform(r->g); }
double nm_rng_uniform_pos(nm_rng *r) { return gsl_rng_uniform_pos(r->g); }
double nm_rng_gaussian(nm_rng *r, double sigma) { return gsl_ran_gaussian_ziggurat(r->g, sigma); }
/* gsl_ran_geometric's formula, saturated: for tiny p (a rate of 1e-15 Hz, p = 1e-300 in a config)
 * log(u)/log(1-p) exceeds UINT_MAX and GSL's conversion to unsigned int is undefined (0 on x86,
 * which made connectivity generation loop forever and Poisson sources fire every step). Same
 * values as GSL (same draw, same arithmetic, truncation) whenever they fit. */
unsigned int nm_rng_geometric(nm_rng *r, double p) {
    double u = gsl_rng_uniform_pos(r->g);
    if (p == 1) return 1;
    double k = log(u) / log(1 - p) + 1;
    /* p so small that 1 - p rounds to 1: log(1 - p) = 0 and k = -inf, whose conversion is undefined
     * too (2^32-1 with AVX-512's vcvttsd2usi under -march=native, 0 with SSE2: an endless loop) */
    return k >= 1 && k < 4294967295.0 ? (unsigned int)k : 4294967295u;
}
unsigned int nm_rng_poisson(nm_rng *r, double mu) { return gsl_ran_poisson(r->g, mu); }
unsigned long nm_rng_uniform_int(nm_rng *r, unsigned long n) { return gsl_rng_uniform_int(r->g, n); }
double nm_rng_exponential(nm_rng *r, double mu) { return gsl_ran_exponential(r->g, mu); }
void nm_rng_fill_uniform(nm_rng *r, float *out, int64_t n, double low, double high) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(low + (high - low) * gsl_rng_uniform(r->g));
}
void nm_rng_fill_normal(nm_rng *r, float *out, int64_t n, double mean, double sd) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(mean + gsl_ran_gaussian_ziggurat(r->g, sd));
}
unsigned long nm_gsl_mt19937_first(unsigned long seed) {
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, seed);
    unsigned long v = gsl_rng_get(g);
    gsl_rng_free(g);
    return v;
}
