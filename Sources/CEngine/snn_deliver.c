/* Delivery of one step's spikes through a projection: where they land (the target's ring buffer and
 * slot), then the projection kind's own delivery (snn_deliver_sparse.c, _dense.c, _conv.c, _maxpool.c). */
#include "nm_snn.h"
#include "snn_internal.h"

int64_t nm_deliver_list(nm_engine *e, const proj_t *pr, int64_t n, const int32_t *ids, int64_t cnt,
                        int32_t tlo, int32_t thi, int t) {
    const nm_proj_desc *d = &pr->d;
    const pop_t *Q = &e->pops[d->post];
    nm_dest to;
    to.buf = Q->buf[d->port];
    to.npost = Q->n;
    to.nslots = e->nslots;
    to.n = n;
    /* arrival: spike time t_{n+1} + delay, i.e. slot n + 1 + d (n + d for a model with input_lead, which
     * reads it in the step ending at the arrival); same-step projections feed slot n, which the (later)
     * target population reads in this very update */
    to.n1 = n + 1 - Q->model->input_lead;
    to.slot = to.buf + (size_t)((pr->same_step ? n : to.n1 + d->delay) % to.nslots) * (size_t)to.npost;
    /* a target that adds its inputs to its state directly (P->direct: every projection onto it is
     * same-step, so its ring buffer would only ever hold this step's inputs) */
    if (Q->direct) to.slot = Q->direct;
    switch (d->kind) {
    case NM_PROJ_SPARSE: return nm_deliver_sparse(e, pr, &to, ids, cnt, tlo, thi, t);
    case NM_PROJ_DENSE: return nm_deliver_dense(pr, &to, ids, cnt, tlo, thi);
    case NM_PROJ_CONV: return nm_deliver_conv(e, pr, &to, ids, cnt, tlo, thi, t);
    case NM_PROJ_MAXPOOL: return nm_deliver_maxpool(e, pr, &to, ids, cnt, tlo, thi);
    default: return 0;
    }
}
