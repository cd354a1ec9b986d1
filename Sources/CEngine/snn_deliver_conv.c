/* Convolutional delivery (weight-shared kernels between channels-last populations) and pooling (the
 * depthwise case): target-major convolution and pooling from spike bits as vector kernels compiled per
 * path (nm_vec.h), the spike-list forms as scalar code; every form adds the same values in the same
 * order per target. 3x3 stride-1 convolutions of whole 16-channel blocks go by rows (further below),
 * with a defined order of their own; every other convolution by the lists described next. */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_vec.h"
#include <string.h>

/* Convolution, target-major. The step's spikes come in ascending neuron order, i.e. source pixel by
 * source pixel (channels-last), so the spikes of one window row (kw adjacent pixels of one source row)
 * are one contiguous run of the list. First a pass over the spikes writes each one's kernel offset
 * relative to its source row, x*ic*oc + c*oc (x and rows padded), and counts spikes per (padded)
 * source pixel; a prefix sum gives where each pixel's spikes start (S). Then every owned target pixel
 * copies its kh window-row runs into one list, each shifted by the row's offset (ky*kw - x0)*ic*oc (one
 * 16-entry vector copy per run, a loop only for longer runs), and sums those kernel slices in
 * registers; the target is read and written once per step. Only spikes cause additions; the rest is
 * bookkeeping per window row. Per target element:
 *   target += E + O, E = sum of the list's even entries, O = of its odd entries, each in list
 *   order (window row, window column, then spike order),
 * whatever 16-channel blocking, thread partition or vector path computes it. (A source-major loop read
 * and wrote every target once per spiking pixel and window position; the target-major order made the
 * converted CNN of experiments/conversion-bench 25-35 % faster; binning by window rows instead of copying
 * per pixel cut the conv delivery instructions of the experiments/onnx-models ResNet from 172 M to 70 M per
 * image on avx2, callgrind.) On one thread a source of IF neurons with whole 16-channel blocks hands
 * over its spike bits instead of a list (conv_positions_bits), and each target's list is written one
 * pixel before it is summed (see conv_targets): the ResNet's SNN run took 1.4-1.6x less time per image
 * on avx512 (wall and CPU time), while its avx2 instruction count hardly moved (engine 99 M -> 98 M:
 * fewer in the IF update, more in the bits pass): the gain is stalls, chiefly the gather's index loads
 * waiting on the vector stores that had just written the list. The positions (S, P) depend on the
 * source's spikes and out_c only: a second conv by lists from the same source with the same out_c and
 * at most the first's padding, delivered right after it in the same step (a residual block's 1x1
 * shortcut after its strided 3x3 conv), reads the first's, its windows dp = pad1 - pad2 pixels further
 * in on the first's grid (pr->pos_from, stamped per thread with the step they belong to; the same lists,
 * so the same sums): the ResNet's SNN 4.2 % faster on avx512, 3.1 % avx2, 3.8 % SSE2. cvs: the
 * thread's scratch (prepare_threads). */
/* Sums the kernel slices listed in L[0..n) (offsets into w) into the channels [b0, q1) of one target
 * pixel dst: dst[c] += E + O per channel (see above). Blocks of 32 and 16 channels in registers, then
 * one channel at a time. Entries are taken in pairs: an odd list's last entry pairs with L[n], the
 * offset of the kernel's tail of -0.0 (conv_list writes it; every conv kernel the engine holds has one,
 * nm_engine_add_projection), and x + -0.0 = x for every x, -0.0 included: the same E and O without a
 * branch per block on n's parity. (Tried, no faster on avx512: two target pixels per loop, four
 * accumulators, 8-entry list copies.) */
NM_AI void conv_gather(float *dst, const float *w, const int32_t *L, int32_t n, int32_t b0, int32_t q1, const int W32) {
    for (; W32 == 2 && b0 + 64 <= q1; b0 += 64) {   /* avx512: 64 channels, eight accumulators */
        nm_vf e0 = 0.0f, e1 = 0.0f, e2 = 0.0f, e3 = 0.0f, o0 = 0.0f, o1 = 0.0f, o2 = 0.0f, o3 = 0.0f;
        for (int32_t r = 0; r < n; r += 2) {
            const float *ka = w + L[r] + b0, *kb = w + L[r + 1] + b0;
            e0 += vf_load(ka); e1 += vf_load(ka + 16); e2 += vf_load(ka + 32); e3 += vf_load(ka + 48);
            o0 += vf_load(kb); o1 += vf_load(kb + 16); o2 += vf_load(kb + 32); o3 += vf_load(kb + 48);
        }
        vf_store(dst + b0, vf_load(dst + b0) + (e0 + o0));
        vf_store(dst + b0 + 16, vf_load(dst + b0 + 16) + (e1 + o1));
        vf_store(dst + b0 + 32, vf_load(dst + b0 + 32) + (e2 + o2));
        vf_store(dst + b0 + 48, vf_load(dst + b0 + 48) + (e3 + o3));
    }
    for (; W32 && b0 + 32 <= q1; b0 += 32) {
        nm_vf e0 = 0.0f, e1 = 0.0f, o0 = 0.0f, o1 = 0.0f;
        for (int32_t r = 0; r < n; r += 2) {
            const float *ka = w + L[r] + b0, *kb = w + L[r + 1] + b0;
            e0 += vf_load(ka); e1 += vf_load(ka + 16);
            o0 += vf_load(kb); o1 += vf_load(kb + 16);
        }
        vf_store(dst + b0, vf_load(dst + b0) + (e0 + o0));
        vf_store(dst + b0 + 16, vf_load(dst + b0 + 16) + (e1 + o1));
    }
    for (; b0 + 16 <= q1; b0 += 16) {
        nm_vf e0 = 0.0f, o0 = 0.0f;
        for (int32_t r = 0; r < n; r += 2) { e0 += vf_load(w + L[r] + b0); o0 += vf_load(w + L[r + 1] + b0); }
        vf_store(dst + b0, vf_load(dst + b0) + (e0 + o0));
    }
    for (; b0 < q1; b0++) {   /* the same additions, one channel at a time */
        float e0 = 0.0f, o0 = 0.0f;
        for (int32_t r = 0; r < n; r += 2) { e0 += w[L[r] + b0]; o0 += w[L[r + 1] + b0]; }
        dst[b0] += e0 + o0;
    }
}

/* One target's list: its kh window-row runs copied into L, each shifted by its row's offset (shift:
 * that of window row 0); returns the entries listed. srow: S at the window's top-left pixel. */
NM_AI int32_t conv_list(const int32_t *srow, const int32_t *P, int32_t *L, int32_t shift, int32_t W2, int32_t kw,
                        int32_t kstep, int32_t kh, int32_t zoff) {
    int32_t n = 0;
    for (int32_t ky = 0; ky < kh; ky++, srow += W2, shift += kw * kstep) {
        const int32_t a = srow[0], len = srow[kw] - a;
        /* copy 16 entries unconditionally (entries past len are overwritten or unused) */
        vi_store(L + n, vi_load(P + a) + shift);
        for (int32_t r = 16; r < len; r += 16) vi_store(L + n + r, vi_load(P + a + r) + shift);
        n += len;
    }
    L[n] = zoff;   /* an odd list's pair partner: a slice of -0.0 (see conv_gather) */
    return n;
}

/* The channels [tlo, thi) of the target pixels from the step's runs: S, P as in deliver_conv_body.
 * KH and OC: the kernel height and output channels when known at compile time (the common shapes get
 * their own loops, unrolled), else 0 (read from d). Whole pixels run in one tight loop; a pixel that
 * a thread boundary splits (several threads, out_c not a multiple of 64) gets the channels it owns. */
NM_AI int64_t conv_targets(const int isa, const nm_proj_desc *d, const int32_t *S, const int32_t *P, int32_t *L, float *slot,
                           int32_t tlo, int32_t thi, int32_t ppad, const int KH, const int OC) {
    /* 32-channel blocks (four 16-lane accumulators) only where they fit in registers: not in SSE2's 16 */
#if defined(__x86_64__)
    const int W32 = isa == NM_ISA_AVX512 ? 2 : isa != NM_ISA_BASELINE;
#else
    const int W32 = 1;
    (void)isa;
#endif
    const int32_t oc = OC ? OC : d->out_c, kh = KH ? KH : d->k_h;
    const int32_t ow = d->out_w, kw = d->k_w, st = d->stride, kstep = d->in_c * oc;
    /* S and P may be another projection's, on a grid padded by ppad >= pad: windows start dp further */
    const int32_t W2 = d->in_w + 2 * ppad, dp = ppad - d->pad;
    const float *w = d->w;
    const int32_t zoff = kh * kw * kstep;   /* the kernel's tail of -0.0 (nm_engine_add_projection) */
    int64_t ev = 0, full = 0;
    const int32_t f_lo = (tlo + oc - 1) / oc, f_hi = thi / oc;   /* whole pixels [f_lo, f_hi) */
    for (int32_t p = tlo / oc; p < (thi + oc - 1) / oc; p++) {
        if (p >= f_lo && p < f_hi) { p = f_hi - 1; continue; }
        const int32_t oy = p / ow, ox = p % ow;
        const int32_t n = conv_list(S + (size_t)(oy * st + dp) * W2 + ox * st + dp, P, L, -(ox * st + dp) * kstep, W2, kw, kstep,
                                    kh, zoff);
        if (!n) continue;
        const int32_t q0 = tlo > p * oc ? tlo - p * oc : 0, q1 = thi < (p + 1) * oc ? thi - p * oc : oc;
        ev += (int64_t)n * (q1 - q0);
        conv_gather(slot + (size_t)p * oc, w, L, n, q0, q1, W32);
    }
    if (f_lo >= f_hi) return ev;
    /* one pixel ahead: pixel p+1's list is written (into the other half of L) before pixel p's is read,
     * so that the gather's index loads do not wait on the vector stores that just wrote them (a
     * store-to-load forwarding stall; ResNet of experiments/onnx-models: -20 % CPU time, avx512) */
    int32_t *La = L, *Lb = L + kh * d->k_w * d->in_c + 32;
    int32_t oy = f_lo / ow, ox = f_lo % ow;
    const int32_t *srow = S + (size_t)(oy * st + dp) * W2 + ox * st + dp;
    int32_t shift = -(ox * st + dp) * kstep;
    float *dst = slot + (size_t)f_lo * oc;
    int32_t n = conv_list(srow, P, La, shift, W2, kw, kstep, kh, zoff);
    for (int32_t p = f_lo; p < f_hi; p++, dst += oc) {
        if (++ox == ow) { ox = 0; oy++; srow = S + (size_t)(oy * st + dp) * W2 + dp; shift = -dp * kstep; }
        else { srow += st; shift -= st * kstep; }
        const int32_t nn = p + 1 < f_hi ? conv_list(srow, P, Lb, shift, W2, kw, kstep, kh, zoff) : 0;
        if (n) {
            full += n;
            conv_gather(dst, w, La, n, 0, oc, W32);
        }
        int32_t *t = La; La = Lb; Lb = t;
        n = nn;
    }
    return ev + full * oc;
}

/* One bit word's offsets o + j*oc (set bits j, ascending) to P[acc..]; the new acc. lanes: j*oc for
 * j < 16 (avx512's compress); sh: log2(oc) when oc is a power of two (SH = 1), else oc multiplies. */
NM_AI int32_t word_offsets(const int isa, uint32_t m, int32_t o, const int32_t *lanes, int32_t oc, int sh, int32_t *P,
                           int32_t acc, const int SH) {
#if defined(__x86_64__)
    if (isa == NM_ISA_AVX512) return (int32_t)nm_compress16_avx512(m, lanes, o, P, acc);
#endif
    (void)lanes;
    for (int h = 0; h < 2; h++) {   /* the table compaction of compact_bits_all */
        const uint32_t bb = (m >> (8 * h)) & 0xFFu;
        nm_vu8x8 pos;
        memcpy(&pos, nm_bit_positions[bb], sizeof pos);
        const nm_vi8 j = __builtin_convertvector(pos, nm_vi8);
        const nm_vi8 idx = (SH ? j << sh : j * oc) + (o + 8 * h * oc);
        memcpy(P + acc, &idx, sizeof idx);
        acc += __builtin_popcount(bb);
    }
    return acc;
}
/* The step's runs from the source's spike bits (one thread; in_c a multiple of 16): one pass over the
 * padded source pixels writes each pixel's start S and its spikes' offsets within their row into P,
 * x*ic*oc + c*oc in ascending channel order (a compaction of the pixel's bit words, as the IF update's
 * spike list), i.e. the very S and P the spike list gives, without the list, the per-spike table
 * lookups and the prefix pass. */
NM_AI void conv_positions_bits_sh(const int isa, const nm_proj_desc *d, const uint16_t *bits, int32_t *S, int32_t *P,
                                  const int SH) {
    const int32_t pad = d->pad, ih = d->in_h, iw = d->in_w, ic = d->in_c, oc = d->out_c;
    const int32_t W2 = iw + 2 * pad, H2 = ih + 2 * pad, nw = ic >> 4, pstep = ic * oc;
    const int sh = SH ? __builtin_ctz((unsigned)oc) : 0;
    int32_t lanes[16];
    for (int j = 0; j < 16; j++) lanes[j] = j * oc;
    int32_t acc = 0;
    int32_t *s = S;
    for (int32_t y2 = 0; y2 < H2; y2++) {
        const int32_t y = y2 - pad;
        if (y < 0 || y >= ih) {   /* a padding row: no spikes */
            for (int32_t x2 = 0; x2 < W2; x2++) *s++ = acc;
            continue;
        }
        for (int32_t x2 = 0; x2 < pad; x2++) *s++ = acc;
        const uint16_t *b = bits + (size_t)y * iw * nw;
        int32_t o = pad * pstep;
        if (nw == 1) {   /* 16 channels: one word per pixel, no branch */
            for (int32_t x = 0; x < iw; x++, o += pstep) {
                *s++ = acc;
                acc = word_offsets(isa, b[x], o, lanes, oc, sh, P, acc, SH);
            }
        } else {
            for (int32_t x = 0; x < iw; x++, b += nw, o += pstep) {
                *s++ = acc;
                for (int32_t q = 0; q < nw; q++) acc = word_offsets(isa, b[q], o + q * 16 * oc, lanes, oc, sh, P, acc, SH);
            }
        }
        for (int32_t x2 = 0; x2 < pad; x2++) *s++ = acc;
    }
    *s = acc;
}
NM_AI void conv_positions_bits(const int isa, const nm_proj_desc *d, const uint16_t *bits, int32_t *S, int32_t *P) {
    if ((d->out_c & (d->out_c - 1)) == 0) conv_positions_bits_sh(isa, d, bits, S, P, 1);
    else conv_positions_bits_sh(isa, d, bits, S, P, 0);
}

/* bits: the source's spike bits (conv_positions_bits), or NULL: the runs from the spike list ids.
 * pos: the scratch whose positions are used, on a grid padded by ppad: this projection's own (cvs,
 * d->pad: computed here), or another's from the same source with this step's (pr->pos_from). */
NM_AI int64_t deliver_conv_body(const int isa, const nm_proj_desc *d, const int32_t *cpos, int32_t *cvs, float *slot,
                                const int32_t *ids, int64_t cnt, const uint16_t *bits, int32_t tlo, int32_t thi,
                                int32_t *pos, int32_t ppad) {
    const int32_t npix = (d->in_h + 2 * d->pad) * (d->in_w + 2 * d->pad);   /* padded source pixels */
    const int32_t gpix = (d->in_h + 2 * ppad) * (d->in_w + 2 * ppad);       /* those of pos's grid */
    int32_t *C = cvs;                                /* spikes per (padded) source pixel, 0 between steps */
    int32_t *S = pos + gpix;                         /* where each pixel's spikes start in P (gpix + 1) */
    int32_t *P = S + gpix + 1;                       /* per spike: its offset within its source row, + 16 slack */
    int32_t *L = cvs + 2 * npix + 1 + (size_t)d->in_h * d->in_w * d->in_c + 16;   /* two targets' lists, kh*kw*ic + 32 each */
    if (pos != cvs) {   /* another projection's positions of this step */
    } else if (bits) conv_positions_bits(isa, d, bits, S, P);
    else {
        /* cpos: per source neuron its padded pixel and its offset within its row (nm_conv_positions) */
        int32_t prev = 0, unsorted = 0;
        for (int64_t q = 0; q < cnt; q++) {
            const int32_t *cp = cpos + 2 * (size_t)ids[q];
            const int32_t pix = cp[0];
            P[q] = cp[1];
            C[pix]++;
            unsorted |= pix < prev;
            prev = pix;
        }
        {   /* starts; the counts back to 0 */
            int32_t acc = 0;
            for (int32_t i = 0; i < npix; i++) { S[i] = acc; acc += C[i]; C[i] = unsorted ? S[i] : 0; }
            S[npix] = acc;
        }
        if (unsorted) {
            /* every engine model lists its spikes in ascending order; should one not, a stable counting
             * sort by pixel (C holds the starts) gives the same runs, spike order kept within a pixel */
            for (int64_t q = 0; q < cnt; q++) {
                const int32_t *cp = cpos + 2 * (size_t)ids[q];
                P[C[cp[0]]++] = cp[1];
            }
            memset(C, 0, sizeof(int32_t) * (size_t)npix);
        }
    }
    const int32_t kh = d->k_h, oc = d->out_c;
    if (kh == 3 && oc == 16) return conv_targets(isa, d, S, P, L, slot, tlo, thi, ppad, 3, 16);
    if (kh == 3 && oc == 32) return conv_targets(isa, d, S, P, L, slot, tlo, thi, ppad, 3, 32);
    if (kh == 3 && oc == 64) return conv_targets(isa, d, S, P, L, slot, tlo, thi, ppad, 3, 64);
    if (kh == 1 && oc == 32) return conv_targets(isa, d, S, P, L, slot, tlo, thi, ppad, 1, 32);
    if (kh == 1 && oc == 64) return conv_targets(isa, d, S, P, L, slot, tlo, thi, ppad, 1, 64);
    return conv_targets(isa, d, S, P, L, slot, tlo, thi, ppad, 0, 0);
}
NM_STAMP_ISA(int64_t, deliver_conv,
             (const nm_proj_desc *d, const int32_t *cpos, int32_t *cvs, float *slot, const int32_t *ids, int64_t cnt,
              const uint16_t *bits, int32_t tlo, int32_t thi, int32_t *pos, int32_t ppad),
             (d, cpos, cvs, slot, ids, cnt, bits, tlo, thi, pos, ppad));

/* Convolution by rows: 3x3 kernels, stride 1, whole 16-channel blocks in and out (pr->wrow). The
 * list form above loads, per spike and target, a 4-byte kernel offset and one slice, and copies every
 * target's list first; here no list exists. For R target rows at a time (R = 1 or 2), each source
 * column x has one bit vector: the spike bits of its R + 2 window rows, bit r*in_c + c (the source's
 * own 16-bit words laid end to end, in 64-bit groups). Its set bits index the rows of the kernel as the
 * engine re-lays it for R (wrow[R-1]: row r*in_c + c holds, for each of the R target rows t, the
 * slices kx = 0, 1, 2 of kernel row ky = r - t, or -0.0 where r - t is not in 0..2), and every set bit
 * adds its slices to the 3R targets that column x feeds (target column x + pad - kx), kept in
 * registers while the columns go by: the targets of column x + pad - 2 are complete after column x,
 * are added to the slot once, and the registers move on by one column. Per spike and target row three
 * slice loads, no offset loads, no list copies, no positions pass. Per target element:
 *   target += S, S = 0 + the kernel values of the window's spikes one after another: window column
 *   by window column (kx = 0, 1, 2), in each by window row, then channel (ky, c),
 * whatever R, channel blocking, thread partition or vector path computes it (an addition of -0.0
 * leaves every value as it is, -0.0 included). R = 2, two target rows per pass, halves the loop exits
 * per target (a loop over a column's bits ends at a data-dependent count, and its exit is mispredicted
 * about once per column) for a quarter more loads (the -0.0 slices of window rows a target row does not
 * have). Measured on the ResNet and VGG of experiments/onnx-models (alternating runs): with 16 output
 * channels R = 2 is 8-9 % faster on avx512 (6 zmm accumulators) and 10 % on avx2 (12 ymm), no faster on
 * SSE2; with 32 channels on avx512 it was 6-12 % slower. So R = 2 for 16 channels on avx512 and avx2,
 * else R = 1 in blocks of 64 (avx512), 32 (AVX: 6 or 12 registers) or 16 channels (SSE2 and NEON:
 * 12 xmm). One bit per loop step: the additions, not the loop, are the limit (two bits per step, the
 * second from a row of -0.0 when none was left, added 7-9 % useless additions per column: one bit per
 * step is 1.6 % faster on avx512, 1.5 % on avx2 and 9.4 % on SSE2, ResNet, same sums; R = 2 retested
 * with it: still 2.6 % slower for 32 channels, 6 % for 64). (Tried, no faster or slower: the loop's
 * count from the column's popcount, a fixed count per row, columns bucketed by count, a column's
 * 64-bit groups in pairs as one 128-bit loop (in_c 32: no faster; also with the group
 * advanced by conditional moves: -0.6 %, noise; the 16-channel pass as three loops per column, to
 * skip its -0.0 additions: 13 % slower). Stride 2 stays with the lists: by columns it took two
 * loop exits per target (ResNet 8 % slower), and one 128-bit loop per target over its two new columns
 * still 3 % slower.) */
/* The set bits of column x (its G groups), ascending, into STEP: k the kernel row of a bit. */
#define ROWS_BITS(STEP)                                                                                          \
    for (int32_t g = 0; g < G; g++) {                                                                            \
        uint64_t m = cm[(size_t)x * G + g];                                                                      \
        const float *wg = wb + (size_t)g * 64 * rs;                                                              \
        while (m) {                                                                                              \
            const float *k = wg + (size_t)__builtin_ctzll(m) * rs;                                               \
            m &= m - 1;                                                                                          \
            STEP                                                                                                 \
        }                                                                                                        \
    }
#define ROWS_STEP1(NV, VL)                                                                                       \
    for (int v = 0; v < NV; v++) {                                                                               \
        an[v] += ld(k + v * VL); ac[v] += ld(k + oc + v * VL); ap[v] += ld(k + 2 * oc + v * VL);                \
    }
#define ROWS_BLOCK1(VT, VL, NV)                                                                                   \
    do {                                                                                                         \
        VT ap[NV], ac[NV], an[NV];                                                                               \
        for (int v = 0; v < NV; v++) ap[v] = ac[v] = an[v] = 0.0f;                                               \
        const float *wb = wr + b0;                                                                               \
        for (int32_t x = 0; x < nx; x++) {                                                                       \
            ROWS_BITS(ROWS_STEP1(NV, VL))                                                                     \
            if (x >= 2) {                                                                                        \
                float *dst = slot + (size_t)(p0 + x - 2) * oc + b0;                                              \
                for (int v = 0; v < NV; v++) st(dst + v * VL, ld(dst + v * VL) + ap[v]);                          \
            }                                                                                                    \
            for (int v = 0; v < NV; v++) { ap[v] = ac[v]; ac[v] = an[v]; an[v] = 0.0f; }                          \
        }                                                                                                        \
    } while (0)
#define ROWS_STEP2(NV, VL)                                                                                       \
    for (int v = 0; v < NV; v++) {                                                                               \
        an[v] += ld(k + v * VL); ac[v] += ld(k + oc + v * VL); ap[v] += ld(k + 2 * oc + v * VL);                \
        bn[v] += ld(k + 3 * oc + v * VL); bc[v] += ld(k + 4 * oc + v * VL); bp[v] += ld(k + 5 * oc + v * VL);   \
    }
#define ROWS_BLOCK2(VT, VL, NV)                                                                                   \
    do {                                                                                                         \
        VT ap[NV], ac[NV], an[NV], bp[NV], bc[NV], bn[NV];                                                       \
        for (int v = 0; v < NV; v++) ap[v] = ac[v] = an[v] = bp[v] = bc[v] = bn[v] = 0.0f;                       \
        const float *wb = wr + b0;                                                                               \
        for (int32_t x = 0; x < nx; x++) {                                                                       \
            ROWS_BITS(ROWS_STEP2(NV, VL))                                                                     \
            if (x >= 2) {                                                                                        \
                float *dst = slot + (size_t)(p0 + x - 2) * oc + b0, *dst2 = dst + (size_t)ow * oc;               \
                for (int v = 0; v < NV; v++) st(dst + v * VL, ld(dst + v * VL) + ap[v]);                          \
                for (int v = 0; v < NV; v++) st(dst2 + v * VL, ld(dst2 + v * VL) + bp[v]);                        \
            }                                                                                                    \
            for (int v = 0; v < NV; v++) { ap[v] = ac[v]; ac[v] = an[v]; an[v] = 0.0f; bp[v] = bc[v]; bc[v] = bn[v]; bn[v] = 0.0f; } \
        }                                                                                                        \
    } while (0)

/* The channels [q0, q1) (multiples of 16) of target pixels [p0, p0 + n) of R target rows (R = 2: also
 * the n pixels one row below): the column bit vectors first (cm: n + 2 columns of G groups), then each
 * channel block. wr: the kernel laid out for R. src: the source's spike bits (16
 * neurons per word), zrow: a row of zero words. NW: in_c / 16 when known at compile time, else 0.
 * Returns the synaptic events. */
NM_AI int64_t rows_segment(const int isa, const nm_proj_desc *d, const float *wr, const uint16_t *src, const uint16_t *zrow,
                           uint64_t *cm, float *slot, int32_t p0, int32_t n, int32_t q0, int32_t q1, const int R, const int NW) {
    const int32_t nw = NW ? NW : d->in_c / 16, ih = d->in_h, iw = d->in_w, pad = d->pad, oc = d->out_c, ow = d->out_w;
    const int32_t G = ((R + 2) * nw + 3) / 4, rs = 3 * R * oc, nx = n + 2;
    const int32_t oy = p0 / ow, xa = p0 % ow;
    const uint16_t *row[4];
    for (int r = 0; r < R + 2; r++) {
        const int32_t y = oy - pad + r;
        row[r] = y >= 0 && y < ih ? src + (size_t)y * iw * nw : zrow;
    }
    int64_t ev = 0;
    for (int32_t x = 0; x < nx; x++) {
        const int32_t xin = xa - pad + x;
        uint64_t *c = cm + (size_t)x * G;
        for (int32_t g = 0; g < G; g++) c[g] = 0;
        if (xin < 0 || xin >= iw) continue;
        int pc[4] = {0, 0, 0, 0};
        for (int32_t j = 0; j < (R + 2) * nw; j++) {
            const uint64_t wd = row[j / nw][(size_t)xin * nw + j % nw];
            c[j >> 2] |= wd << (16 * (j & 3));
            pc[j / nw] += __builtin_popcount((uint32_t)wd);
        }
        /* spikes per target row's window rows, times the targets this column feeds within the
         * segment (xa + x - kx in [xa, xa + n)) */
        const int32_t lo = x - 2 > 0 ? x - 2 : 0, hi = x < n - 1 ? x : n - 1;
        int bits = pc[0] + pc[1] + pc[2];
        if (R == 2) bits += pc[1] + pc[2] + pc[3];
        ev += (int64_t)bits * (hi - lo + 1);
    }
    ev *= q1 - q0;
    int32_t b0 = q0;
#define ld vf_load
#define st vf_store
    if (R == 2) {
        if (isa != NM_ISA_BASELINE) for (; b0 + 16 <= q1; b0 += 16) ROWS_BLOCK2(nm_vf, 16, 1);
    } else {
        if (isa == NM_ISA_AVX512) for (; b0 + 64 <= q1; b0 += 64) ROWS_BLOCK1(nm_vf, 16, 4);
        if (isa != NM_ISA_BASELINE) for (; b0 + 32 <= q1; b0 += 32) ROWS_BLOCK1(nm_vf, 16, 2);
        for (; b0 + 16 <= q1; b0 += 16) ROWS_BLOCK1(nm_vf, 16, 1);
    }
#undef ld
#undef st
    return ev;
}

/* Each (R, in_c / 16) the engine's networks use compiled as a kernel of its own: the constant word
 * count makes the bit loops' shape known, and small separate functions keep the hot loops' code layout
 * apart from each other (one function with every form inlined ran 6 % faster or slower depending on
 * unrelated code in it). */
#define ROWS_KERNEL(NAME, R, NW)                                                                              \
    NM_AI int64_t NAME##_body(const int isa, const nm_proj_desc *d, const float *wr, const uint16_t *src,     \
                              const uint16_t *zrow, uint64_t *cm, float *slot, int32_t p0, int32_t n, int32_t q0, \
                              int32_t q1) {                                                                   \
        return rows_segment(isa, d, wr, src, zrow, cm, slot, p0, n, q0, q1, R, NW);                           \
    }                                                                                                         \
    NM_STAMP_ISA(int64_t, NAME,                                                                               \
                 (const nm_proj_desc *d, const float *wr, const uint16_t *src, const uint16_t *zrow, uint64_t *cm, \
                  float *slot, int32_t p0, int32_t n, int32_t q0, int32_t q1),                                \
                 (d, wr, src, zrow, cm, slot, p0, n, q0, q1))
ROWS_KERNEL(rows1_w1, 1, 1);
ROWS_KERNEL(rows1_w2, 1, 2);
ROWS_KERNEL(rows1_w4, 1, 4);
ROWS_KERNEL(rows1_any, 1, 0);
ROWS_KERNEL(rows2_w1, 2, 1);
ROWS_KERNEL(rows2_w2, 2, 2);
ROWS_KERNEL(rows2_any, 2, 0);

/* Two target rows per pass (see above): 16 output channels on avx512 and avx2. */
static int rows_pair(int32_t oc) { return oc == 16 && nm_isa_index() != NM_ISA_BASELINE; }

/* The owned targets [tlo, thi) by rows: a pixel that a thread boundary splits gets the channels it owns
 * (ranges are multiples of 64, out_c of 16); whole rows go two at a time where rows_pair says so. */
static int64_t deliver_conv_rows(const nm_proj_desc *d, const float *wr1, const float *wr2, const uint16_t *src,
                                 const uint16_t *zrow, uint64_t *cm, float *slot, int32_t tlo, int32_t thi) {
    const int32_t oc = d->out_c, ow = d->out_w, nw = d->in_c / 16;
    const int pair = wr2 && rows_pair(oc);
    int64_t ev = 0;
    int32_t p = tlo / oc;
    if (tlo % oc) {   /* the first pixel's last channels */
        const int32_t q1 = thi < (p + 1) * oc ? thi - p * oc : oc;
        ev += NM_CALL(rows1_any)(d, wr1, src, zrow, cm, slot, p, 1, tlo % oc, q1);
        p++;
    }
    const int32_t pe = thi / oc;   /* whole pixels [p, pe), row by row */
    while (p < pe) {
        int32_t n = ow - p % ow;
        if (n > pe - p) n = pe - p;
        if (pair && n == ow && p + 2 * ow <= pe) {   /* two whole rows */
            ev += (nw == 1 ? NM_CALL(rows2_w1) : nw == 2 ? NM_CALL(rows2_w2) : NM_CALL(rows2_any))(d, wr2, src, zrow, cm, slot, p, n, 0, oc);
            p += 2 * ow;
            continue;
        }
        ev += (nw == 1 ? NM_CALL(rows1_w1) : nw == 2 ? NM_CALL(rows1_w2) : nw == 4 ? NM_CALL(rows1_w4) : NM_CALL(rows1_any))(
            d, wr1, src, zrow, cm, slot, p, n, 0, oc);
        p += n;
    }
    if (thi % oc && pe >= p) ev += NM_CALL(rows1_any)(d, wr1, src, zrow, cm, slot, pe, 1, 0, thi % oc);
    return ev;
}

/* acc + w in the lanes whose bit is set in m (a select: the same single rounding per lane as the spike
 * list loop's scalar addition). */
NM_AI nm_vf add_where(nm_vf acc, uint32_t m, nm_vf w) { return vmask_from_bits(m) ? acc + w : acc; }

/* Same-step non-overlapping pooling from an IF population with whole 16-channel blocks: target-major
 * from the source's spike bits (the IF update writes one 16-bit mask per 16 neurons each step). Each
 * owned target block is loaded once, gets one masked addition per window position in source order
 * (row-major, i.e. ascending neuron index, as the spike-list loop adds them) and is stored once:
 * the same single-rounding additions in the same order as the list loop, without its scattered
 * read-modify-writes. Window positions whose 16 sources did not spike add nothing. */
NM_AI int64_t deliver_pool_bits_body(const nm_proj_desc *d, const uint16_t *bits, float *slot, int32_t tlo, int32_t thi) {
    const int32_t ic = d->in_c, ow = d->out_w, iw = d->in_w, kh = d->k_h, kw = d->k_w, st = d->stride;
    const int32_t nb = ic / 16;
    int64_t ev = 0;
    const int32_t p_lo = tlo / ic, p_hi = (thi + ic - 1) / ic;
    int32_t oy = p_lo / ow, ox = p_lo % ow;
    if (kh == 2 && kw == 2 && st == 2 && nb == 1 && tlo % ic == 0 && thi % ic == 0) {
        /* 2x2 windows of 16 channels: four targets at a time, so that their four dependent
         * additions each interleave (same additions, same order per target) */
        const nm_vf w00 = vf_load(d->w), w01 = vf_load(d->w + 16), w10 = vf_load(d->w + 32), w11 = vf_load(d->w + 48);
        for (int32_t p = p_lo; p < p_hi; ) {
            int32_t run = ow - ox;   /* targets left in this output row */
            if (run > p_hi - p) run = p_hi - p;
            const uint16_t *r0 = bits + (size_t)(2 * oy) * iw + 2 * ox, *r1 = r0 + iw;
            float *dst = slot + (size_t)p * 16;
            int32_t j = 0;
            for (; j + 4 <= run; j += 4, r0 += 8, r1 += 8, dst += 64) {
                nm_vf a0 = vf_load(dst), a1 = vf_load(dst + 16), a2 = vf_load(dst + 32), a3 = vf_load(dst + 48);
                a0 = add_where(a0, r0[0], w00); a1 = add_where(a1, r0[2], w00);
                a2 = add_where(a2, r0[4], w00); a3 = add_where(a3, r0[6], w00);
                a0 = add_where(a0, r0[1], w01); a1 = add_where(a1, r0[3], w01);
                a2 = add_where(a2, r0[5], w01); a3 = add_where(a3, r0[7], w01);
                a0 = add_where(a0, r1[0], w10); a1 = add_where(a1, r1[2], w10);
                a2 = add_where(a2, r1[4], w10); a3 = add_where(a3, r1[6], w10);
                a0 = add_where(a0, r1[1], w11); a1 = add_where(a1, r1[3], w11);
                a2 = add_where(a2, r1[5], w11); a3 = add_where(a3, r1[7], w11);
                vf_store(dst, a0); vf_store(dst + 16, a1); vf_store(dst + 32, a2); vf_store(dst + 48, a3);
                ev += __builtin_popcount((unsigned)r0[0] | (unsigned)r0[1] << 16) + __builtin_popcount((unsigned)r1[0] | (unsigned)r1[1] << 16)
                    + __builtin_popcount((unsigned)r0[2] | (unsigned)r0[3] << 16) + __builtin_popcount((unsigned)r1[2] | (unsigned)r1[3] << 16)
                    + __builtin_popcount((unsigned)r0[4] | (unsigned)r0[5] << 16) + __builtin_popcount((unsigned)r1[4] | (unsigned)r1[5] << 16)
                    + __builtin_popcount((unsigned)r0[6] | (unsigned)r0[7] << 16) + __builtin_popcount((unsigned)r1[6] | (unsigned)r1[7] << 16);
            }
            for (; j < run; j++, r0 += 2, r1 += 2, dst += 16) {
                nm_vf a0 = vf_load(dst);
                a0 = add_where(a0, r0[0], w00);
                a0 = add_where(a0, r0[1], w01);
                a0 = add_where(a0, r1[0], w10);
                a0 = add_where(a0, r1[1], w11);
                vf_store(dst, a0);
                ev += __builtin_popcount((unsigned)r0[0] | (unsigned)r0[1] << 16) + __builtin_popcount((unsigned)r1[0] | (unsigned)r1[1] << 16);
            }
            p += run;
            ox += run;
            if (ox == ow) { ox = 0; oy++; }
        }
        return ev;
    }
    if (kh == 1 && kw == 1 && st == 1 && tlo % 16 == 0 && thi % 16 == 0) {
        /* 1x1, stride 1 (a residual net's identity shortcut: a per-channel scale): target block i is
         * source block i, one masked addition each */
        for (int32_t t0 = tlo, c = tlo % ic; t0 < thi; t0 += 16) {   /* c = t0 % ic, kept without a division */
            const uint32_t m = bits[t0 >> 4];
            vf_store(slot + t0, add_where(vf_load(slot + t0), m, vf_load(d->w + c)));
            ev += __builtin_popcount(m);
            c = c + 16 == ic ? 0 : c + 16;
        }
        return ev;
    }
    for (int32_t p = p_lo; p < p_hi; p++, ox = ox + 1 == ow ? (oy++, 0) : ox + 1) {
        for (int32_t b = 0; b < nb; b++) {
            const int32_t t0 = p * ic + 16 * b;
            if (t0 < tlo || t0 + 16 > thi) continue;   /* thread ranges are multiples of 64: whole blocks */
            nm_vf acc = vf_load(slot + t0);
            for (int32_t ky = 0; ky < kh; ky++)
                for (int32_t kx = 0; kx < kw; kx++) {
                    const int32_t src = ((oy * st + ky) * iw + (ox * st + kx)) * ic + 16 * b;
                    const uint32_t m = bits[src >> 4];
                    acc = add_where(acc, m, vf_load(d->w + (ky * kw + kx) * ic + 16 * b));
                    ev += __builtin_popcount(m);
                }
            vf_store(slot + t0, acc);
        }
    }
    return ev;
}
NM_STAMP(int64_t, deliver_pool_bits, (const nm_proj_desc *d, const uint16_t *bits, float *slot, int32_t tlo, int32_t thi),
         (d, bits, slot, tlo, thi));

int64_t nm_deliver_conv(const nm_engine *e, const proj_t *pr, const nm_dest *to, const int32_t *ids, int64_t cnt,
                        int32_t tlo, int32_t thi, int t) {
    const nm_proj_desc *d = &pr->d;
    float *const slot = to->slot;
    int64_t ev = 0;
    const int32_t ic = d->in_c, oc = d->out_c, ow = d->out_w, oh = d->out_h;
    const int32_t kh = d->k_h, kw = d->k_w, st = d->stride, pad = d->pad;
    if (d->depthwise) {
        /* one thread only: with several, a source may already be updated for the next step
         * (its bits overwritten) while another thread still delivers this one; the spike list
         * below gives the same sums */
        if (pr->pool_bits && e->tl_nt == 1) {
            return NM_CALL(deliver_pool_bits)(d, e->pops[d->pre].spk_bits, slot, tlo, thi);
        }
        if (pr->pool_tgt) {
            /* non-overlapping pooling: a source lies in exactly one window (precomputed target) */
            for (int64_t s = 0; s < cnt; s++) {
                const int32_t *tw = pr->pool_tgt + 2 * (size_t)ids[s];
                const int32_t tgt = tw[0];
                if (tgt < tlo || tgt >= thi) continue;
                slot[tgt] += d->w[tw[1]];
                ev++;
            }
            return ev;
        }
        for (int64_t s = 0; s < cnt; s++) {
            const uint16_t *co = pr->coord + 3 * (size_t)ids[s];
            const int32_t y = co[0], x = co[1], c = co[2];
            for (int32_t ky = 0; ky < kh; ky++) {
                int32_t ny = y + pad - ky;
                if (ny < 0 || ny % st) continue;
                int32_t oy = ny / st;
                if (oy >= oh) continue;
                for (int32_t kx = 0; kx < kw; kx++) {
                    int32_t nx = x + pad - kx;
                    if (nx < 0 || nx % st) continue;
                    int32_t ox = nx / st;
                    if (ox >= ow) continue;
                    int32_t tgt = (oy * ow + ox) * oc + c;
                    if (tgt >= tlo && tgt < thi) { slot[tgt] += d->w[((size_t)ky * kw + kx) * ic + c]; ev++; }
                }
            }
        }
        return ev;
    }
    if (pr->wrow) {   /* by rows (deliver_conv_rows), from spike bits: the source's own on one thread
                       * (with several, another thread may already have updated the source for the next
                       * step), else this thread's, set from the spike list */
        const int32_t nw = ic / 16;
        uint64_t *cm = (uint64_t *)pr->cvs[t];
        uint16_t *tb = (uint16_t *)(cm + nm_rows_cm_len(d)), *zrow = tb + (size_t)d->in_h * d->in_w * nw;
        const uint16_t *bits = tb;
        if (pr->pool_bits && e->tl_nt == 1) bits = e->pops[d->pre].spk_bits;
        else {
            memset(tb, 0, sizeof(uint16_t) * (size_t)d->in_h * d->in_w * nw);
            for (int64_t q = 0; q < cnt; q++) tb[ids[q] >> 4] |= (uint16_t)(1u << (ids[q] & 15));
        }
        return deliver_conv_rows(d, pr->wrow, pr->wrow2, bits, zrow, cm, slot, tlo, thi);
    }
    /* from the source's spike bits on one thread (with several, another thread may already have
     * updated the source for the next step); the same runs either way */
    const uint16_t *bits = pr->pool_bits && e->tl_nt == 1 ? e->pops[d->pre].spk_bits : NULL;
    /* this step's positions of an earlier projection from the same source (pr->pos_from), if it
     * computed them on this thread (it may own no targets); else this one's own, stamped */
    const proj_t *from = pr->pos_from >= 0 ? &e->projs[pr->pos_from] : NULL;
    if (from && from->pos_step[t] == to->n)
        return NM_CALL(deliver_conv)(d, pr->cpos, pr->cvs[t], slot, ids, cnt, bits, tlo, thi, from->cvs[t], from->d.pad);
    pr->pos_step[t] = to->n;
    return NM_CALL(deliver_conv)(d, pr->cpos, pr->cvs[t], slot, ids, cnt, bits, tlo, thi, pr->cvs[t], d->pad);   /* target-major */
}
