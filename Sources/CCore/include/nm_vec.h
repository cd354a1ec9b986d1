/* Portable vector primitives of the C kernels, and the macro that compiles a kernel once per path.
 *
 * A kernel is written once, as an always-inline body over 16-lane clang vectors (ext_vector_type: the
 * same source lowers to one zmm register on AVX-512, two ymm on AVX2, four xmm on SSE2 or NEON), and
 * NM_STAMP compiles that body into one function per path (a target attribute each: no -march flag,
 * no intrinsic) and a table of the three, indexed by the path chosen at run time (nm_isa.c):
 *
 *     NM_AI int64_t my_kernel_body(const float *x, float *y, int32_t n) { ... }
 *     NM_STAMP(int64_t, my_kernel, (const float *x, float *y, int32_t n), (x, y, n));
 *     ...
 *     NM_CALL(my_kernel)(x, y, n);
 *
 * Bit-identical across paths: lanes are independent and every path runs the same IEEE operations per
 * lane in the same order. So: no fused multiply-add (contraction is off below, and AVX-512 would fuse
 * where SSE2 cannot), no reduction across lanes inside a kernel, no library call that a path might
 * vectorize differently (fast exp below is plain arithmetic), division and sqrt only (exact on every
 * path). A partial block (the tail of a range) runs the same body on lanes loaded zero-padded; the
 * padding lanes are computed and thrown away. */
#ifndef NM_VEC_H
#define NM_VEC_H
#include <stdint.h>
#include <string.h>
#include "nm_isa.h"
#if defined(__x86_64__)
#include <immintrin.h>   /* only for nm_compact16_avx512 and nm_compress16_avx512 below */
#endif

#pragma clang fp contract(off)

#define NM_LANES 16
typedef float nm_vf __attribute__((ext_vector_type(16)));
typedef int32_t nm_vi __attribute__((ext_vector_type(16)));
typedef _Bool nm_vb __attribute__((ext_vector_type(16)));
typedef float nm_vf8 __attribute__((ext_vector_type(8)));
typedef float nm_vf4 __attribute__((ext_vector_type(4)));
typedef int32_t nm_vi8 __attribute__((ext_vector_type(8)));

/* Bodies and primitives are always inlined into each path's function (and so compiled for its ISA). */
#define NM_AI static inline __attribute__((always_inline))

/* ---- loads and stores (unaligned); _n: the first k lanes only, the others read as 0 ---- */
NM_AI nm_vf vf_load(const float *p) { nm_vf v; memcpy(&v, p, sizeof v); return v; }
NM_AI void vf_store(float *p, nm_vf v) { memcpy(p, &v, sizeof v); }
NM_AI nm_vi vi_load(const int32_t *p) { nm_vi v; memcpy(&v, p, sizeof v); return v; }
NM_AI void vi_store(int32_t *p, nm_vi v) { memcpy(p, &v, sizeof v); }
NM_AI nm_vf vf_load_n(const float *p, int k) {
    if (k >= NM_LANES) return vf_load(p);
    nm_vf v = 0.0f;
    memcpy(&v, p, sizeof(float) * (size_t)k);
    return v;
}
NM_AI void vf_store_n(float *p, nm_vf v, int k) {
    if (k >= NM_LANES) vf_store(p, v);
    else memcpy(p, &v, sizeof(float) * (size_t)k);
}
NM_AI nm_vi vi_load_n(const int32_t *p, int k) {
    if (k >= NM_LANES) return vi_load(p);
    nm_vi v = 0;
    memcpy(&v, p, sizeof(int32_t) * (size_t)k);
    return v;
}
NM_AI void vi_store_n(int32_t *p, nm_vi v, int k) {
    if (k >= NM_LANES) vi_store(p, v);
    else memcpy(p, &v, sizeof(int32_t) * (size_t)k);
}

/* ---- lanes and masks ----
 * A comparison of two vectors gives an nm_vi mask (-1 = true, 0 = false per lane); `m ? a : b`
 * selects per lane. */
NM_AI nm_vf vf_splat(float x) { return (nm_vf)x; }
NM_AI nm_vi vi_splat(int32_t x) { return (nm_vi)x; }
NM_AI nm_vi vi_iota(void) { return (nm_vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }
/* The mask as 16 bits, lane j = bit j (kmov on AVX-512, movmsk on SSE2/AVX2). */
NM_AI uint32_t vmask_bits(nm_vi m) {
    nm_vb b = __builtin_convertvector(m, nm_vb);
    uint16_t r;
    memcpy(&r, &b, sizeof r);
    return r;
}
/* The mask whose lane j is bit j of `bits`. */
NM_AI nm_vi vmask_from_bits(uint32_t bits) {
    const nm_vi lane_bit = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
    return (vi_splat((int32_t)bits) & lane_bit) != 0;
}
/* Bits of lanes [0, k). */
NM_AI uint32_t lanes_below(int k) { return k >= NM_LANES ? 0xFFFFu : (1u << k) - 1u; }
NM_AI nm_vf vf_abs(nm_vf x) { return (nm_vf)((nm_vi)x & 0x7fffffff); }

/* The vector paths, in the order of the kernel tables. */
enum { NM_ISA_BASELINE = 0, NM_ISA_AVX2 = 1, NM_ISA_AVX512 = 2, NM_ISA_COUNT = 3 };

#if defined(__x86_64__)
/* AVX-512's compress (in a register, then one full store: the compress-to-memory form is microcoded
 * and slow on AMD Zen 4): 2.3x faster than the table below for the IF update of a converted network
 * (~10 % of neurons spiking per step). Plain `inline`, not always_inline: the compiler inlines it
 * into the avx512 kernels only, and the other paths never reach the call (isa is a constant there). */
static inline __attribute__((target("avx512f"))) int64_t nm_compact16_avx512(uint32_t m, int32_t base, int32_t *out, int64_t c) {
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(base), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    _mm512_storeu_si512((void *)(out + c), _mm512_maskz_compress_epi32((__mmask16)m, idx));
    return c + __builtin_popcount(m);
}
/* add + lanes[j] for every set bit j of m, ascending, to out[c..] (16 entries of slack); the new count.
 * (The 16 lanes come through memory: a 512-bit vector argument would need AVX-512 in every caller.) */
static inline __attribute__((target("avx512f"))) int64_t nm_compress16_avx512(uint32_t m, const int32_t *lanes, int32_t add, int32_t *out, int64_t c) {
    const __m512i x = _mm512_add_epi32(_mm512_loadu_si512((const void *)lanes), _mm512_set1_epi32(add));
    _mm512_storeu_si512((void *)(out + c), _mm512_maskz_compress_epi32((__mmask16)m, x));
    return c + __builtin_popcount(m);
}
#endif

/* Appends base + j for every set bit j of m (ascending) to out[c..]; returns the new count. out needs
 * 16 entries of slack past the final count. Branch-free per byte of the mask: a table gives the
 * positions of its set bits, all 8 are stored and the count advances by the bits set (a loop over
 * set bits mispredicts about once per block when many neurons spike, as in converted networks).
 * compact_bits_all always does that; compact_bits first skips a block without spikes (one
 * well-predicted branch where spikes are rare, as in the benchmark networks). isa: the path being
 * compiled (a constant: NM_STAMP_ISA passes it to the kernel body). */
extern const uint8_t nm_bit_positions[256][8];
typedef uint8_t nm_vu8x8 __attribute__((ext_vector_type(8)));
NM_AI int64_t compact_bits_all(uint32_t m, int32_t base, int32_t *out, int64_t c, const int isa) {
#if defined(__x86_64__)
    if (isa == NM_ISA_AVX512) return nm_compact16_avx512(m, base, out, c);
#endif
    (void)isa;
    for (int h = 0; h < 2; h++) {
        const uint32_t b = (m >> (8 * h)) & 0xFFu;
        nm_vu8x8 pos;
        memcpy(&pos, nm_bit_positions[b], sizeof pos);
        const nm_vi8 idx = __builtin_convertvector(pos, nm_vi8) + (base + 8 * h);
        memcpy(out + c, &idx, sizeof idx);
        c += __builtin_popcount(b);
    }
    return c;
}
NM_AI int64_t compact_bits(uint32_t m, int32_t base, int32_t *out, int64_t c, const int isa) {
    return m ? compact_bits_all(m, base, out, c, isa) : c;
}

/* ---- exp(x) in float: Cephes-style range reduction + degree-6 polynomial, branch-free ----
 * Max relative error ~2e-7 on [-87, 88]; outside, x is clamped to it. floor() is a truncating
 * float->int conversion corrected by one where it rounded up (a vector floorf would be a library call
 * per lane on SSE2); the result equals nm_expf's scalar definition bit for bit. */
NM_AI nm_vf vf_exp(nm_vf x) {
    x = x < -87.0f ? vf_splat(-87.0f) : x;
    x = x > 88.0f ? vf_splat(88.0f) : x;
    const nm_vf t = x * 1.44269504088896341f + 0.5f;
    nm_vi n = __builtin_convertvector(t, nm_vi);
    n += __builtin_convertvector(n, nm_vf) > t;   /* -1 where truncation rounded up: floor(t) */
    const nm_vf fx = __builtin_convertvector(n, nm_vf);
    const nm_vf r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
    nm_vf p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const nm_vf y = p * r * r + r + 1.0f;
    return y * (nm_vf)((n + 127) << 23);
}

/* A spin-wait hint for busy loops (x86 PAUSE, ARM YIELD; the run loop's barrier). */
static inline void nm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- paths and per-path compilation ---- */

/* The current path (nm_isa.c); detected on first use. */
extern int nm_isa_active_;
int nm_isa_init_(void);
static inline int nm_isa_index(void) {
    const int k = __atomic_load_n(&nm_isa_active_, __ATOMIC_RELAXED);
    return k >= 0 ? k : nm_isa_init_();
}

#if defined(__x86_64__)
#define NM_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,bmi,bmi2,popcnt")))
#define NM_TARGET_AVX2 __attribute__((target("avx2,bmi,bmi2,popcnt")))
/* name##_isa[path]: the body compiled for each path (baseline, avx2, avx512). NM_STAMP_ISA passes the
 * path as a constant first argument (const int isa) to bodies whose primitives take it. */
#define NM_STAMP(ret, name, params, args)                                                   \
    static ret name##__baseline params { return name##_body args; }                        \
    static NM_TARGET_AVX2 ret name##__avx2 params { return name##_body args; }              \
    static NM_TARGET_AVX512 ret name##__avx512 params { return name##_body args; }          \
    static ret (*const name##_isa[NM_ISA_COUNT]) params = {name##__baseline, name##__avx2, name##__avx512}
#define NM_STAMP_ISA(ret, name, params, args)                                                           \
    static ret name##__baseline params { return name##_body(NM_ISA_BASELINE, NM_UNPAREN args); }       \
    static NM_TARGET_AVX2 ret name##__avx2 params { return name##_body(NM_ISA_AVX2, NM_UNPAREN args); } \
    static NM_TARGET_AVX512 ret name##__avx512 params { return name##_body(NM_ISA_AVX512, NM_UNPAREN args); } \
    static ret (*const name##_isa[NM_ISA_COUNT]) params = {name##__baseline, name##__avx2, name##__avx512}
#else
/* Other architectures: the baseline build only (NEON on aarch64); the other entries are never chosen. */
#define NM_STAMP(ret, name, params, args)                                                   \
    static ret name##__baseline params { return name##_body args; }                        \
    static ret (*const name##_isa[NM_ISA_COUNT]) params = {name##__baseline, name##__baseline, name##__baseline}
#define NM_STAMP_ISA(ret, name, params, args)                                                     \
    static ret name##__baseline params { return name##_body(NM_ISA_BASELINE, NM_UNPAREN args); } \
    static ret (*const name##_isa[NM_ISA_COUNT]) params = {name##__baseline, name##__baseline, name##__baseline}
#endif
#define NM_UNPAREN(...) __VA_ARGS__
/* The current path's version of a stamped kernel. */
#define NM_CALL(name) (name##_isa[nm_isa_index()])

#endif
