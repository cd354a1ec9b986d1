/* What a neuron model's C file (models/NAME.c) includes: the engine's internals, the model descriptor
 * (snn_model.h), the portable vector primitives (nm_vec.h) and the shape of an update kernel. A
 * vectorized model is
 *
 *     typedef struct { double v_th, ...; int32_t t_ref_steps; } nm_my_params;   named parameters
 *     static const nm_param PARAMS[] = { NM_PARAM(nm_my_params, v_th, "mV", NM_INF_OK), ... };
 *     NM_AI uint32_t my_block(const my_consts *c, float *v, ..., int32_t i, int k) {
 *         ... 16 neurons from i (k of them real), returns their spike bits ...
 *     }
 *     NM_UPDATE_BODY(upd_my) {                          (isa, e, P, lo, hi, n, out, thread)
 *         const nm_my_params *p = P->params; ... arrays from P ...
 *         int64_t cnt = 0;
 *         NM_FOR_BLOCKS(lo, hi, out, cnt, my_block(&c, v, ..., i, k));
 *         return cnt;
 *     }
 *     NM_UPDATE_KERNEL(upd_my);     -> upd_my_isa[path]
 *     const nm_model nm_model_my = { .name = "my", ..., .update = upd_my_isa };
 *
 * plus one line NM_MODEL(my) in models/models.h. Scalar kernels use NM_SCALAR_KERNEL instead. */
#ifndef NM_SNN_KERNEL_H
#define NM_SNN_KERNEL_H
#include "snn_internal.h"
#include "snn_model.h"
#include "nm_vec.h"

/* Runs BLOCK over [lo, hi) in blocks of 16 neurons starting at lo (whole blocks, then the tail with
 * k < 16 lanes) and appends the indices that spiked to out[cnt..] with COMPACT (compact_bits, or
 * compact_bits_all for models whose blocks mostly spike). BLOCK is an expression of the block start
 * i and lane count k that updates the block and returns its spike bits (lanes < k only). Used inside
 * an NM_UPDATE_BODY (which has the path constant `isa` in scope). */
#define NM_FOR_BLOCKS_WITH(COMPACT, lo, hi, out, cnt, BLOCK)                    \
    do {                                                                        \
        int32_t i = (lo);                                                       \
        for (; i + NM_LANES <= (hi); i += NM_LANES) {                           \
            const int k = NM_LANES;                                             \
            (cnt) = COMPACT((BLOCK), i, (out), (cnt), isa);                     \
        }                                                                       \
        if (i < (hi)) {                                                         \
            const int k = (hi) - i;                                             \
            (cnt) = COMPACT((BLOCK), i, (out), (cnt), isa);                     \
        }                                                                       \
    } while (0)
#define NM_FOR_BLOCKS(lo, hi, out, cnt, BLOCK) NM_FOR_BLOCKS_WITH(compact_bits, lo, hi, out, cnt, BLOCK)

/* An update body: advances neurons [lo, hi) of P by update n, writes the spiking ids to out and
 * returns their count; `isa` is the path it is compiled for (a constant), `thread` the calling thread. */
#define NM_UPDATE_BODY(name) \
    NM_AI int64_t name##_body(const int isa, nm_engine *e, pop_t *P, int32_t lo, int32_t hi, int64_t n, int32_t *out, int thread)
/* Its per-path entry points NAME##_isa[path] (an nm_update_fn each: the descriptor's `update`). */
#define NM_UPDATE_KERNEL(name) \
    NM_STAMP_ISA(int64_t, name, (nm_engine * e, pop_t * P, int32_t lo, int32_t hi, int64_t n, int32_t * out, int thread), \
                 (e, P, lo, hi, n, out, thread))

/* Scalar kernels: collects the indices lo + q whose flag[q] is set (flags are 0 or 1). Spikes are rare
 * in most networks, so whole 8-byte words of zeros are skipped. */
static inline int64_t nm_scan_flags(const uint8_t *flags, int32_t lo, int32_t hi, int32_t *out) {
    int64_t c = 0;
    int32_t n = hi - lo, k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, flags + k, 8);
        if (!w) continue;
        for (int32_t q = k; q < k + 8; q++) { out[c] = lo + q; c += flags[q]; }
    }
    for (; k < n; k++) { out[c] = lo + k; c += flags[k]; }
    return c;
}

/* New refractory counters: t_ref steps after a spike, one less while refractory, else 0. */
NM_AI nm_vi refr_next(nm_vi r, nm_vi ref, nm_vi sp, int32_t tref) {
    return sp ? vi_splat(tref) : (ref ? r - 1 : vi_splat(0));
}

#endif
