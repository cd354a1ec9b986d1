/* Max-pool gate delivery (Rueckauer et al. 2017): a spike reaches its window's target with the weight
 * w0 only while its neuron has the highest spike count of the window so far (the first one on ties).
 * Reads the source's per-neuron counts, so no thread may update them meanwhile (a barrier in the run
 * loop). */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <string.h>

/* Non-overlapping windows from an IF source with whole 16-channel blocks on one thread (pr->pool_bits):
 * target-major over 16 channels at a time. The window's winner per lane is the first position (in
 * source order, i.e. ascending neuron index) with the highest count, found by a strict comparison
 * scan; the target gets w0 where the winner spiked this step (its spike bit). That is the one addition
 * the spike list loop makes (a spike passes only from its window's winner), in a select. */
NM_AI int64_t deliver_maxpool_bits_body(const nm_proj_desc *d, const int32_t *counts, const uint16_t *bits, float *slot,
                                        int32_t tlo, int32_t thi) {
    const int32_t ic = d->in_c, ow = d->out_w, iw = d->in_w, kh = d->k_h, kw = d->k_w, st = d->stride;
    const nm_vf w0 = vf_splat(d->w0);
    int64_t ev = 0;
    const int32_t p_lo = tlo / ic, p_hi = (thi + ic - 1) / ic;
    int32_t oy = p_lo / ow, ox = p_lo % ow;
    for (int32_t p = p_lo; p < p_hi; p++, ox = ox + 1 == ow ? (oy++, 0) : ox + 1) {
        const int32_t src0 = ((oy * st) * iw + ox * st) * ic;
        for (int32_t b = 0; b < ic; b += 16) {
            const int32_t t0 = p * ic + b;
            if (t0 < tlo || t0 + 16 > thi) continue;   /* thread ranges are multiples of 64: whole blocks */
            nm_vi best = vi_load(counts + src0 + b);
            nm_vi win = vmask_from_bits(bits[(src0 + b) >> 4]);
            for (int32_t ky = 0; ky < kh; ky++)
                for (int32_t kx = ky ? 0 : 1; kx < kw; kx++) {
                    const int32_t src = src0 + (ky * iw + kx) * ic + b;
                    const nm_vi c = vi_load(counts + src), gt = c > best;
                    best = gt ? c : best;
                    win = gt ? vmask_from_bits(bits[src >> 4]) : win;
                }
            const uint32_t m = vmask_bits(win);
            if (m) {
                vf_store(slot + t0, win ? vf_load(slot + t0) + w0 : vf_load(slot + t0));
                ev += __builtin_popcount(m);
            }
        }
    }
    return ev;
}
NM_STAMP(int64_t, deliver_maxpool_bits, (const nm_proj_desc *d, const int32_t *counts, const uint16_t *bits, float *slot, int32_t tlo, int32_t thi),
         (d, counts, bits, slot, tlo, thi));

int64_t nm_deliver_maxpool(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                           int32_t tlo, int32_t thi) {
    const nm_proj_desc *d = &pr->d;
    float *const slot = to->slot;
    int64_t ev = 0;
    /* one thread only: with several, another thread may already update the source (its bits) */
    if (pr->pool_bits && e->tl_nt == 1) return NM_CALL(deliver_maxpool_bits)(d, e->pops[d->pre].per_neuron, e->pops[d->pre].spk_bits, slot, tlo, thi);
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
