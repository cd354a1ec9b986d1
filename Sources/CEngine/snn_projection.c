/* Projections: adding one (checks, delays and the min-delay interval, coordinates and pooling tables
 * for structured kinds), and its counters. Delivery: snn_deliver*.c. See nm_snn.h. */
#include "nm_snn.h"
#include "snn_internal.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

int nm_engine_add_proj(nm_engine *e, const nm_proj_desc *d) {
    if (nm_check_proj(e, d, e->err, sizeof e->err)) return -1;
    pop_t *Q = &e->pops[d->post];
    if (Q->is_source) return nm_fail(e, "projection: a spike source cannot receive synapses");
    if (d->port < 0 || d->port >= Q->nports) return nm_fail(e, "projection: the target model has no such receptor port");
    proj_t pr;
    memset(&pr, 0, sizeof pr);
    pr.d = *d;
    int32_t npre = e->pops[d->pre].n, npost = Q->n;
    int32_t dmin = d->delay, dmax = d->delay;
    switch (d->kind) {
    case NM_PROJ_SPARSE:
        if (!d->rowptr || (!d->col && d->rowptr[npre] > 0)) return nm_fail(e, "sparse projection: missing CSR arrays");
        pr.synapses = d->rowptr[npre];
        if (d->delays) {
            dmin = INT32_MAX; dmax = 1;
            for (int64_t k = 0; k < pr.synapses; k++) {
                if (d->delays[k] < dmin) dmin = d->delays[k];
                if (d->delays[k] > dmax) dmax = d->delays[k];
            }
            if (pr.synapses == 0) dmin = dmax = 1;
        }
        break;
    case NM_PROJ_DENSE:
        if (!d->w) return nm_fail(e, "dense projection: missing weights");
        pr.synapses = (int64_t)npre * npost;
        break;
    case NM_PROJ_CONV: {
        if (!d->w) return nm_fail(e, "conv projection: missing kernel");
        if ((int64_t)d->in_h * d->in_w * d->in_c != npre || (int64_t)d->out_h * d->out_w * d->out_c != npost)
            return nm_fail(e, "conv projection: geometry does not match population sizes");
        if (d->stride < 1 || d->k_h < 1 || d->k_w < 1 || (d->depthwise && d->in_c != d->out_c))
            return nm_fail(e, "conv projection: bad geometry");
        /* count connections exactly (border effects included); rows and columns are independent, so
         * the count is (valid (oy, ky) pairs) x (valid (ox, kx) pairs) */
        int64_t ch = 0, cw = 0;
        for (int32_t oy = 0; oy < d->out_h; oy++)
            for (int32_t ky = 0; ky < d->k_h; ky++) { int64_t y = (int64_t)oy * d->stride + ky - d->pad; ch += y >= 0 && y < d->in_h; }
        for (int32_t ox = 0; ox < d->out_w; ox++)
            for (int32_t kx = 0; kx < d->k_w; kx++) { int64_t x = (int64_t)ox * d->stride + kx - d->pad; cw += x >= 0 && x < d->in_w; }
        pr.synapses = ch * cw * (d->depthwise ? d->out_c : (int64_t)d->in_c * d->out_c);
        break;
    }
    case NM_PROJ_MAXPOOL: {
        if ((int64_t)d->in_h * d->in_w * d->in_c != npre || (int64_t)d->out_h * d->out_w * d->out_c != npost)
            return nm_fail(e, "maxpool projection: geometry does not match population sizes");
        if (d->stride < 1 || d->k_h < 1 || d->k_w < 1 || d->in_c != d->out_c || d->pad < 0 || 2 * d->pad > d->k_h || 2 * d->pad > d->k_w)
            return nm_fail(e, "maxpool projection: bad geometry");
        /* window positions inside the input (the padding holds no neuron), as for conv */
        int64_t ch = 0, cw = 0;
        for (int32_t oy = 0; oy < d->out_h; oy++)
            for (int32_t ky = 0; ky < d->k_h; ky++) { int64_t y = (int64_t)oy * d->stride + ky - d->pad; ch += y >= 0 && y < d->in_h; }
        for (int32_t ox = 0; ox < d->out_w; ox++)
            for (int32_t kx = 0; kx < d->k_w; kx++) { int64_t x = (int64_t)ox * d->stride + kx - d->pad; cw += x >= 0 && x < d->in_w; }
        pr.synapses = ch * cw * d->out_c;
        e->gated = 1;
        if (e->pops[d->pre].no_per_neuron) {  /* the gate reads its source's counts */
            e->pops[d->pre].no_per_neuron = 0;
            memset(e->pops[d->pre].per_neuron, 0, sizeof(int32_t) * (size_t)e->pops[d->pre].n);
        }
        break;
    }
    default:
        return nm_fail(e, "projection: unknown kind");
    }
    pr.same_step = (d->delay == 0 && !d->delays);
    if (pr.same_step) {
        /* same-step delivery: only feed-forward in population order (the target is updated later in
         * the same step, after the source) */
        if (d->post <= d->pre) return nm_fail(e, "projection: a zero delay needs a target population added after its source");
        dmin = INT32_MAX; dmax = 1;
        e->has_same_step = 1;
    } else if (dmin < 1) return nm_fail(e, "projection: delays must be >= 1 step (or 0 for same-step feed-forward delivery)");
    if (d->kind == NM_PROJ_CONV || d->kind == NM_PROJ_MAXPOOL) {
        /* (y, x, c) of every source neuron, so delivery needs no integer division */
        if (d->in_h > 65535 || d->in_w > 65535 || d->in_c > 65535) return nm_fail(e, "projection: image too large");
        pr.coord = malloc(sizeof(uint16_t) * 3 * (size_t)(npre ? npre : 1));
        if (!pr.coord) return nm_fail(e, "out of memory");
        for (int32_t i = 0; i < npre; i++) {
            int32_t c = i % d->in_c, pix = i / d->in_c;
            pr.coord[3 * (size_t)i] = (uint16_t)(pix / d->in_w);
            pr.coord[3 * (size_t)i + 1] = (uint16_t)(pix % d->in_w);
            pr.coord[3 * (size_t)i + 2] = (uint16_t)c;
        }
        e->bytes += 6 * (int64_t)npre;
        if (d->kind == NM_PROJ_CONV && d->depthwise && d->k_h == d->stride && d->k_w == d->stride && d->pad == 0) {
            /* non-overlapping pooling: every source has at most one target; precompute it */
            pr.pool_tgt = malloc(sizeof(int32_t) * 2 * (size_t)(npre ? npre : 1));
            if (!pr.pool_tgt) { free(pr.coord); return nm_fail(e, "out of memory"); }
            for (int32_t i = 0; i < npre; i++) {
                int32_t y = pr.coord[3 * (size_t)i], x = pr.coord[3 * (size_t)i + 1], c = pr.coord[3 * (size_t)i + 2];
                int32_t oy = y / d->stride, ox = x / d->stride;
                int ok = oy < d->out_h && ox < d->out_w;
                pr.pool_tgt[2 * (size_t)i] = ok ? (oy * d->out_w + ox) * d->in_c + c : -1;
                pr.pool_tgt[2 * (size_t)i + 1] = ((y - oy * d->stride) * d->k_w + (x - ox * d->stride)) * d->in_c + c;
            }
            e->bytes += 8 * (int64_t)npre;
            /* same-step pooling of whole 16-channel blocks from IF neurons: the source's update
             * also leaves one bit per neuron (spiked this step), read by deliver_pool_bits */
            pop_t *S = &e->pops[d->pre];
            if (pr.same_step && d->in_c % 16 == 0 && S->model->spike_bits) {
                if (!S->spk_bits && !(S->spk_bits = nm_calloc(e, (size_t)(npre + 15) / 16, sizeof(uint16_t)))) {
                    free(pr.coord); free(pr.pool_tgt);
                    return nm_fail(e, "out of memory");
                }
                pr.pool_bits = 1;
            }
        }
    }
    if (d->kind == NM_PROJ_CONV && !d->depthwise && pr.same_step && d->in_c % 16 == 0 && e->pops[d->pre].model->spike_bits) {
        /* same-step convolution from IF neurons with whole 16-channel blocks: the step's runs from the
         * source's spike bits (deliver_conv_body) */
        pop_t *S = &e->pops[d->pre];
        if (!S->spk_bits && !(S->spk_bits = nm_calloc(e, (size_t)(npre + 15) / 16, sizeof(uint16_t)))) {
            free(pr.coord);
            return nm_fail(e, "out of memory");
        }
        pr.pool_bits = 1;
    }
    if (d->kind == NM_PROJ_MAXPOOL && pr.same_step && d->pad == 0 && d->k_h == d->stride && d->k_w == d->stride && d->in_c % 16 == 0 &&
        e->pops[d->pre].model->spike_bits) {
        /* same-step max-pool gates over non-overlapping unpadded windows of whole 16-channel blocks from IF
         * neurons: target-major from the source's spike bits (deliver_maxpool_bits) */
        pop_t *S = &e->pops[d->pre];
        if (!S->spk_bits && !(S->spk_bits = nm_calloc(e, (size_t)(npre + 15) / 16, sizeof(uint16_t)))) {
            free(pr.coord);
            return nm_fail(e, "out of memory");
        }
        pr.pool_bits = 1;
    }
    /* dense weights and depthwise kernels not 64-byte aligned, and every convolution kernel, are copied
     * 64-byte aligned (proj_t.wown); a convolution kernel gets a tail of out_c values -0.0 (conv_gather) */
    const int conv_k = d->kind == NM_PROJ_CONV && !d->depthwise;
    if (conv_k || ((d->kind == NM_PROJ_DENSE || d->kind == NM_PROJ_CONV) && ((uintptr_t)d->w & 63))) {
        const size_t wl = d->kind == NM_PROJ_DENSE ? (size_t)npre * (size_t)npost
                        : (size_t)d->k_h * d->k_w * (d->depthwise ? 1 : (size_t)d->in_c) * d->out_c;
        const size_t tail = conv_k ? (size_t)d->out_c : 0;
        if (!(pr.wown = nm_acalloc(wl + tail, sizeof(float)))) { free(pr.coord); free(pr.pool_tgt); return nm_fail(e, "out of memory"); }
        memcpy(pr.wown, d->w, wl * sizeof(float));
        for (size_t k = 0; k < tail; k++) pr.wown[wl + k] = -0.0f;
        pr.d.w = pr.wown;
        e->bytes += (int64_t)((wl + tail) * sizeof(float));
    }
    if (conv_k && d->k_h == 3 && d->k_w == 3 && d->stride == 1 && d->in_c % 16 == 0 && d->out_c % 16 == 0) {
        /* delivered by rows (deliver_conv_rows): the kernel re-laid for one target row at a time
         * and, with 16 output channels, for two (rows_pair) */
        for (int R = 1; R <= 2; R++) {
            if (R == 2 && d->out_c != 16) break;
            const size_t ic = (size_t)d->in_c, oc = (size_t)d->out_c, rl = 3 * (size_t)R * oc, nr = (size_t)(R + 2) * ic;
            float *wr = nm_acalloc(nr * rl, sizeof(float));
            if (!wr) { free(pr.coord); free(pr.pool_tgt); free(pr.wown); free(pr.wrow); return nm_fail(e, "out of memory"); }
            for (size_t r = 0; r < (size_t)R + 2; r++)
                for (size_t c = 0; c < ic; c++)
                    for (size_t tr = 0; tr < (size_t)R; tr++)
                        for (size_t kx = 0; kx < 3; kx++) {
                            float *o = wr + (r * ic + c) * rl + (tr * 3 + kx) * oc;
                            if (r >= tr && r - tr < 3) memcpy(o, pr.d.w + (((r - tr) * 3 + kx) * ic + c) * oc, oc * sizeof(float));
                            else for (size_t k = 0; k < oc; k++) o[k] = -0.0f;
                        }
            e->bytes += (int64_t)(nr * rl * sizeof(float));
            if (R == 1) pr.wrow = wr; else pr.wrow2 = wr;
        }
    }
    proj_t *np = realloc(e->projs, sizeof(proj_t) * (size_t)(e->nprojs + 1));
    if (!np) { free(pr.coord); free(pr.pool_tgt); free(pr.wown); free(pr.wrow); free(pr.wrow2); return nm_fail(e, "out of memory"); }
    e->projs = np;
    e->projs[e->nprojs] = pr;
    /* a target model with input_lead applies an input in the step ending at its arrival: one step less
     * between a spike and its effect, so one step less in the interval */
    if (!pr.same_step && dmin - Q->model->input_lead < e->min_delay) e->min_delay = dmin - Q->model->input_lead;
    e->pops[d->post].has_input = 1;
    if (pr.same_step) e->pops[d->pre].same_step_out = 1;
    if (dmax > e->max_delay) e->max_delay = dmax;
    e->buffers_ready = 0;
    return e->nprojs++;
}

int64_t nm_proj_events(const nm_engine *e, int proj) { return e->projs[proj].events; }
int64_t nm_proj_synapses(const nm_engine *e, int proj) { return e->projs[proj].synapses; }
