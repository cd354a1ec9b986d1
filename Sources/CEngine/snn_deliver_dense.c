/* Dense delivery (a weight matrix [n_pre][n_post]), a vector kernel compiled per path (nm_vec.h):
 * each target's additions are per lane and in spike order, so every path and thread count gives the
 * same sums. */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <string.h>

/* Dense: all rows of the step are summed in registers, 64 targets at a time, then added once: each
 * target gets slot + (row_1 + row_2 + ...), in spike order, whatever the blocking. */
NM_AI int64_t deliver_dense_body(float *slot, const float *w, const float *wend, int32_t npost, const int32_t *ids, int64_t cnt,
                                 int32_t tlo, int32_t thi) {
    int32_t q0 = tlo;
    for (; q0 + 64 <= thi; q0 += 64) {
        nm_vf a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (int64_t s = 0; s < cnt; s++) {
            const float *row = w + (size_t)ids[s] * (size_t)npost + q0;
            a0 += vf_load(row); a1 += vf_load(row + 16); a2 += vf_load(row + 32); a3 += vf_load(row + 48);
        }
        float *dst = slot + q0;
        vf_store(dst, vf_load(dst) + a0); vf_store(dst + 16, vf_load(dst + 16) + a1);
        vf_store(dst + 32, vf_load(dst + 32) + a2); vf_store(dst + 48, vf_load(dst + 48) + a3);
    }
    for (; q0 + 16 <= thi; q0 += 16) {
        nm_vf a = 0.0f;
        for (int64_t s = 0; s < cnt; s++) a += vf_load(w + (size_t)ids[s] * (size_t)npost + q0);
        vf_store(slot + q0, vf_load(slot + q0) + a);
    }
    if (q0 < thi) {   /* the last (fewer than 16) targets: one 16-lane sum, of which lanes [0, m) are
                       * kept (one sum per target at a time waited on each addition's latency: 3-4 % of
                       * the experiments/onnx-models ResNet's SNN time with its 10 outputs); a row whose
                       * 16 floats would reach past the matrix is read with its m only */
        const int32_t m = thi - q0;
        nm_vf a = 0.0f;
        for (int64_t s = 0; s < cnt; s++) {
            const float *row = w + (size_t)ids[s] * (size_t)npost + q0;
            a += row + NM_LANES <= wend ? vf_load(row) : vf_load_n(row, m);
        }
        vf_store_n(slot + q0, vf_load_n(slot + q0, m) + a, m);
    }
    return cnt * (int64_t)(thi - tlo);
}
NM_STAMP(int64_t, deliver_dense,
         (float *slot, const float *w, const float *wend, int32_t npost, const int32_t *ids, int64_t cnt, int32_t tlo, int32_t thi),
         (slot, w, wend, npost, ids, cnt, tlo, thi));

int64_t nm_deliver_dense(const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt, int32_t tlo, int32_t thi) {
    return NM_CALL(deliver_dense)(to->slot, pr->d.w, pr->d.w + pr->synapses, to->npost, ids, cnt, tlo, thi);
}
