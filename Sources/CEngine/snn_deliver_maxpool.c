/* Max-pool gate delivery (Rueckauer et al. 2017): a spike reaches its window's target with the weight
 * w0 only while its neuron has the highest spike count of the window so far (the first one on ties).
 * Reads the source's per-neuron counts, so no thread may update them meanwhile (a barrier in the run
 * loop). */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <string.h>

int64_t nm_deliver_maxpool(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                           int32_t tlo, int32_t thi) {
    const nm_proj_desc *d = &pr->d;
    float *const slot = to->slot;
    int64_t ev = 0;
    const int32_t ic = d->in_c, ow = d->out_w, oh = d->out_h, iw = d->in_w;
    const int32_t kh = d->k_h, kw = d->k_w, st = d->stride, pad = d->pad, ih = d->in_h;
    const int32_t *counts = e->pops[d->pre].per_neuron;
    for (int64_t s = 0; s < cnt; s++) {
        const int32_t i = ids[s];
        const uint16_t *co = pr->coord + 3 * (size_t)i;
        const int32_t y = co[0] + pad, x = co[1] + pad, c = co[2];   /* in the padded frame */
        /* windows (oy, ox) with oy*st <= y < oy*st + kh; padding holds no neuron (it never wins, as -inf) */
        int32_t oy0 = y - kh + 1 > 0 ? (y - kh + 1 + st - 1) / st : 0, oy1 = y / st;
        int32_t ox0 = x - kw + 1 > 0 ? (x - kw + 1 + st - 1) / st : 0, ox1 = x / st;
        if (oy1 >= oh) oy1 = oh - 1;
        if (ox1 >= ow) ox1 = ow - 1;
        for (int32_t oy = oy0; oy <= oy1; oy++)
            for (int32_t ox = ox0; ox <= ox1; ox++) {
                int32_t tgt = (oy * ow + ox) * ic + c;
                if (tgt < tlo || tgt >= thi) continue;
                /* is i the first neuron with the highest count in this window? */
                int32_t ci = counts[i], win = 1;
                for (int32_t ky = 0; ky < kh && win; ky++) {
                    const int32_t sy = oy * st + ky - pad;
                    if (sy < 0 || sy >= ih) continue;
                    for (int32_t kx = 0; kx < kw; kx++) {
                        const int32_t sx = ox * st + kx - pad;
                        if (sx < 0 || sx >= iw) continue;
                        int32_t j = (sy * iw + sx) * ic + c;
                        if (j == i) continue;
                        if (counts[j] > ci || (counts[j] == ci && j < i)) { win = 0; break; }
                    }
                }
                if (win) { slot[tgt] += d->w0; ev++; }
            }
    }
    return ev;
}
