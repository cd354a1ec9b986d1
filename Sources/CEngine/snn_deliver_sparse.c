/* Sparse delivery (CSR by source, targets ascending): a spike adds its row's weights (one per synapse,
 * or the constant w0) to the ring-buffer slot of its delay, for the targets [tlo, thi) the calling
 * thread owns: scalar code, a scattered add per synapse, in synapse order. With several threads each
 * row's share per thread is looked up (pr->split, prepare_threads), else found by binary search. */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <string.h>

int64_t nm_deliver_sparse(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                          int32_t tlo, int32_t thi, int t) {
    const nm_proj_desc *d = &pr->d;
    float *const slot = to->slot, *const buf = to->buf;
    const int64_t n1 = to->n1;
    const int nslots = to->nslots;
    const int32_t npost = to->npost;
    int64_t ev = 0;
    const int64_t *rp = d->rowptr;
    const int32_t *col = d->col;
    const int nt = e->tl_nt;
    const int32_t *split = pr->split;
    for (int64_t s = 0; s < cnt; s++) {
        int32_t i = ids[s];
        int64_t a = rp[i], b = rp[i + 1];
        if (a == b) continue;
        if (split) {
            const int32_t *sp = split + (size_t)i * (nt - 1);
            if (t > 0) a = rp[i] + sp[t - 1];
            if (t < nt - 1) b = rp[i] + sp[t];
        } else {
            if (col[a] < tlo) a = nm_lower_bound32(col, a, b, tlo);
            if (b > a && col[b - 1] >= thi) b = nm_lower_bound32(col, a, b, thi);
        }
        ev += b - a;
        if (d->delays) {
            for (int64_t q = a; q < b; q++) {
                float *sl = buf + (size_t)((n1 + d->delays[q]) % nslots) * (size_t)npost;
                sl[col[q]] += d->w ? d->w[q] : d->w0;
            }
        } else if (d->w) {
            const float *w = d->w;
            for (int64_t q = a; q < b; q++) slot[col[q]] += w[q];
        } else {
            const float w0 = d->w0;
            for (int64_t q = a; q < b; q++) slot[col[q]] += w0;
        }
    }
    return ev;
}
