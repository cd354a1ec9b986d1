/* Vector paths of the C kernels and their run-time choice.
 *
 * Every hot kernel (neuron updates, spike compaction, dense/conv/pooling delivery, the ANN's im2col
 * copy) is written once in portable vector form (nm_vec.h) and compiled once per path:
 *   avx512    x86-64 with AVX-512 F, BW, VL and DQ: 512-bit vectors
 *   avx2      x86-64 with AVX2, BMI1/2 and POPCNT: 256-bit vectors
 *   baseline  the architecture's baseline, no extension: SSE2 (128-bit) on x86-64, NEON on aarch64
 *             ("scalar" is accepted as another name for it: there is no one-lane build)
 * The CPU is detected once; the best path it supports runs unless the environment variable NM_ISA
 * (avx512 | avx2 | baseline | scalar | auto) or nm_isa_set() chooses another. Every path performs the
 * same IEEE single-precision operations per lane, in the same order (no fused multiply-add anywhere,
 * no per-path library calls), so spikes, states and counts are bit-identical whichever path ran. */
#ifndef NM_ISA_H
#define NM_ISA_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the path the kernels use now ("avx512", "avx2" or "baseline"). Detects the CPU (and reads
 * NM_ISA) on first use. */
const char *nm_isa_name(void);
/* Name of the best path this CPU supports. */
const char *nm_isa_best(void);
/* 1 if this CPU (and build) can run the path `name` ("scalar" = "baseline", "auto" = the best), 0 if
 * it cannot, -1 if the name is unknown. */
int nm_isa_supported(const char *name);
/* Chooses the path for all later kernel calls: "avx512", "avx2", "baseline" (or "scalar"), or "auto"
 * (the best). Returns 0, or -1 with a one-sentence reason in err (unknown name, or a path this CPU
 * lacks); the current path is then unchanged. Not while an engine is running. */
int nm_isa_set(const char *name, char *err, size_t errlen);
/* The paths this CPU supports, best first, comma-separated (e.g. "avx512,avx2,baseline"). */
const char *nm_isa_available(void);
/* NULL if NM_ISA is unset or valid; otherwise the sentence saying why it was ignored (the best path
 * runs instead). Programs check it at start-up and stop with it. */
const char *nm_isa_env_error(void);
/* Behaves from now on as if this CPU's best path were `name` (tests and benchmarks: the choices of a
 * lesser CPU, e.g. "avx2" for a machine without AVX-512), never above what it supports; "auto" undoes
 * it. The current path drops to that best if above. 0, or -1 for an unknown name. */
int nm_isa_limit_cpu(const char *name);
/* The CPU's model name (x86: the CPUID brand string; elsewhere /proc/cpuinfo, or the architecture). */
const char *nm_cpu_model(void);

/* ---- the vector primitives on the current path (for tests; n any length) ---- */
/* y[i] = the engine's fast exp(x[i]) (Cephes-style range reduction + degree-6 polynomial). */
void nm_vec_exp(const float *x, float *y, long n);
/* out[] = indices i (ascending) with x[i] >= threshold, through 16-lane compare masks and bit
 * compaction; bits[b] = the 16-bit compare mask of block b (lane j = bit j). Returns the count. */
long nm_vec_compact_ge(const float *x, long n, float threshold, int *out, unsigned short *bits);
/* acc[i] += w[i] where bit (i % 16) of bits[i / 16] is set (a select, as pooling delivery does);
 * returns the number of set bits used. */
long nm_vec_masked_add(float *acc, const float *w, const unsigned short *bits, long n);

#ifdef __cplusplus
}
#endif
#endif
