/* 2-D convolution as im2col + GEMM, OpenMP over chunks of the batch. See nm_ann.h. */
#include "nm_ann.h"
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "nm_vec.h"

/* Chunk of samples whose im2col matrices sit side by side so one GEMM has >= 256 columns. Depends on
 * the shape only (never on the thread count): the backward reduction order is therefore fixed. */
static int chunk_samples(int N, int OHW) {
    int S = (256 + OHW - 1) / OHW;
    if (S < 1) S = 1;
    if (S > N) S = N;
    return S;
}

int64_t nm_conv2d_cols_size(int N, int C, int KH, int KW, int OH, int OW) {
    return (int64_t)N * C * KH * KW * OH * OW;
}

/* Copies n floats (short rows: 8..28 here). clang turns a plain copy loop into a memcpy call, which
 * cost 8% of a CNN epoch for these short rows; so whole vectors instead, the last one overlapping the
 * one before (d and s do not overlap). Compiled per vector path with the kernels that call it. */
NM_AI void copy_row(float *restrict d, const float *restrict s, int n) {
    if (n >= 16) {
        int i = 0;
        for (; i + 16 <= n; i += 16) vf_store(d + i, vf_load(s + i));
        if (i < n) vf_store(d + n - 16, vf_load(s + n - 16));
    } else if (n >= 8) {
        nm_vf8 a, b;
        memcpy(&a, s, sizeof a); memcpy(&b, s + n - 8, sizeof b);
        memcpy(d, &a, sizeof a); memcpy(d + n - 8, &b, sizeof b);
    } else if (n >= 4) {
        nm_vf4 a, b;
        memcpy(&a, s, sizeof a); memcpy(&b, s + n - 4, sizeof b);
        memcpy(d, &a, sizeof a); memcpy(d + n - 4, &b, sizeof b);
    } else {
        for (int i = 0; i < n; i++) d[i] = s[i];
    }
}

static inline void add_row(float *restrict d, const float *restrict s, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) d[i] += s[i];
}

/* col[(c*KH+kh)*KW+kw][oh*OW+ow] (row stride ld) = x[c][oh*sh-ph+kh][ow*sw-pw+kw] or 0 outside. */
NM_AI int im2col_body(const float *restrict x, int C, int H, int W, int KH, int KW, int sh, int sw, int ph, int pw,
                      int OH, int OW, float *restrict col, int ld) {
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                float *dst = col + (int64_t)((c * KH + kh) * KW + kw) * ld;
                const float *src = x + (int64_t)c * H * W;
                if (sh == 1 && sw == 1 && ph == 0 && pw == 0) {
                    const float *r = src + kh * W + kw;
                    for (int oh = 0; oh < OH; oh++) copy_row(dst + oh * OW, r + oh * W, OW);
                    continue;
                }
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh * sh - ph + kh;
                    float *d = dst + oh * OW;
                    if (ih < 0 || ih >= H) { memset(d, 0, sizeof(float) * OW); continue; }
                    const float *r = src + ih * W;
                    if (sw == 1) {
                        /* valid ow: 0 <= ow - pw + kw < W */
                        int lo = pw - kw, hi = W + pw - kw; /* [lo, hi) */
                        if (lo < 0) lo = 0;
                        if (hi > OW) hi = OW;
                        if (hi < lo) hi = lo;
                        for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
                        copy_row(d + lo, r - pw + kw + lo, hi - lo);
                        for (int ow = hi; ow < OW; ow++) d[ow] = 0.0f;
                    } else {
                        for (int ow = 0; ow < OW; ow++) {
                            const int iw = ow * sw - pw + kw;
                            d[ow] = (iw >= 0 && iw < W) ? r[iw] : 0.0f;
                        }
                    }
                }
            }
    return 0;
}
NM_STAMP(int, im2col,
         (const float *restrict x, int C, int H, int W, int KH, int KW, int sh, int sw, int ph, int pw, int OH, int OW,
          float *restrict col, int ld),
         (x, C, H, W, KH, KW, sh, sw, ph, pw, OH, OW, col, ld));

/* dyc[oc][s*OHW + i] = dy[s][oc][i] for the ns samples of a chunk (row stride ld). */
NM_AI int gather_dy_body(float *restrict dyc, const float *restrict dy, int ns, int OC, int OHW, int ld) {
    for (int s = 0; s < ns; s++)
        for (int oc = 0; oc < OC; oc++) copy_row(dyc + (int64_t)oc * ld + s * OHW, dy + ((int64_t)s * OC + oc) * OHW, OHW);
    return 0;
}
NM_STAMP(int, gather_dy, (float *restrict dyc, const float *restrict dy, int ns, int OC, int OHW, int ld),
         (dyc, dy, ns, OC, OHW, ld));

/* dx[c][ih][iw] += col[...] (inverse scatter of im2col); dx must be zeroed by the caller. */
static void col2im(const float *restrict col, int ld, int C, int H, int W, int KH, int KW, int sh, int sw, int ph, int pw,
                   int OH, int OW, float *restrict dx) {
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                const float *src = col + (int64_t)((c * KH + kh) * KW + kw) * ld;
                float *dst = dx + (int64_t)c * H * W;
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh * sh - ph + kh;
                    if (ih < 0 || ih >= H) continue;
                    float *r = dst + ih * W;
                    const float *s = src + oh * OW;
                    if (sw == 1) {
                        int lo = pw - kw, hi = W + pw - kw;
                        if (lo < 0) lo = 0;
                        if (hi > OW) hi = OW;
                        if (hi > lo) add_row(r - pw + kw + lo, s + lo, hi - lo);
                    } else {
                        for (int ow = 0; ow < OW; ow++) {
                            const int iw = ow * sw - pw + kw;
                            if (iw >= 0 && iw < W) r[iw] += s[ow];
                        }
                    }
                }
            }
}

void nm_blas_set_threads(int n);
double nm_sum_lanes(const float *x, int64_t n);
int nm_blas_get_threads(void);
static void ensure_blas_single(void) {
    if (nm_blas_get_threads() != 1) nm_blas_set_threads(1);
}

void nm_conv2d_forward(const float *x, int N, int C, int H, int W, const float *w, const float *b, int OC,
                       int KH, int KW, int sh, int sw, int ph, int pw, float *y, float *cols, int threads) {
    ensure_blas_single();
    const int OH = (H + 2 * ph - KH) / sh + 1, OW = (W + 2 * pw - KW) / sw + 1, OHW = OH * OW;
    const int CKK = C * KH * KW;
    const int S = chunk_samples(N, OHW), nchunks = (N + S - 1) / S;
    const int64_t chw = (int64_t)C * H * W;
    int next = 0; /* chunks are claimed dynamically (see NM_FOR_CLAIMED in ann.c) */
#pragma omp parallel num_threads(threads > 1 ? threads : 1) if (threads > 1 && nchunks > 1)
    {
        float *tmpcol = cols ? NULL : malloc(sizeof(float) * (size_t)CKK * S * OHW);
        float *tmpy = S > 1 ? malloc(sizeof(float) * (size_t)OC * S * OHW) : NULL;
        for (;;) {
            int ch;
#pragma omp atomic capture
            ch = next++;
            if (ch >= nchunks) break;
            const int n0 = ch * S, ns = N - n0 < S ? N - n0 : S, ld = ns * OHW;
            float *col = cols ? cols + (int64_t)n0 * CKK * OHW : tmpcol;
            for (int s = 0; s < ns; s++)
                NM_CALL(im2col)(x + (n0 + s) * chw, C, H, W, KH, KW, sh, sw, ph, pw, OH, OW, col + s * OHW, ld);
            if (ns == 1) {
                float *yp = y + (int64_t)n0 * OC * OHW;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, OHW, CKK, 1.0f, w, CKK, col, ld, 0.0f, yp, OHW);
                if (b) for (int oc = 0; oc < OC; oc++) { float *r = yp + oc * OHW; const float bb = b[oc]; for (int i = 0; i < OHW; i++) r[i] += bb; }
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, ld, CKK, 1.0f, w, CKK, col, ld, 0.0f, tmpy, ld);
                for (int s = 0; s < ns; s++)
                    for (int oc = 0; oc < OC; oc++) {
                        float *r = y + ((int64_t)(n0 + s) * OC + oc) * OHW;
                        const float *t = tmpy + (int64_t)oc * ld + s * OHW;
                        const float bb = b ? b[oc] : 0.0f;
                        for (int i = 0; i < OHW; i++) r[i] = t[i] + bb;
                    }
            }
        }
        free(tmpcol);
        free(tmpy);
    }
}

void nm_conv2d_backward(const float *cols, int N, int C, int H, int W, const float *w, int OC, int KH, int KW,
                        int sh, int sw, int ph, int pw, const float *dy, float *dx, float *dw, float *db, int threads) {
    ensure_blas_single();
    const int OH = (H + 2 * ph - KH) / sh + 1, OW = (W + 2 * pw - KW) / sw + 1, OHW = OH * OW;
    const int CKK = C * KH * KW;
    const int S = chunk_samples(N, OHW), nchunks = (N + S - 1) / S;
    const int64_t chw = (int64_t)C * H * W, wsize = (int64_t)OC * CKK;
    float *dwp = malloc(sizeof(float) * (size_t)(nchunks * wsize));
    double *dbp = malloc(sizeof(double) * (size_t)nchunks * OC);
    int next = 0;
#pragma omp parallel num_threads(threads > 1 ? threads : 1) if (threads > 1 && nchunks > 1)
    {
        float *dyc = S > 1 ? malloc(sizeof(float) * (size_t)OC * S * OHW) : NULL;
        float *dcol = dx ? malloc(sizeof(float) * (size_t)CKK * S * OHW) : NULL;
        for (;;) {
            int ch;
#pragma omp atomic capture
            ch = next++;
            if (ch >= nchunks) break;
            const int n0 = ch * S, ns = N - n0 < S ? N - n0 : S, ld = ns * OHW;
            const float *col = cols + (int64_t)n0 * CKK * OHW;
            const float *g;
            if (ns == 1) {
                g = dy + (int64_t)n0 * OC * OHW;
            } else {
                NM_CALL(gather_dy)(dyc, dy + (int64_t)n0 * OC * OHW, ns, OC, OHW, ld);
                g = dyc;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, ld, 1.0f, g, ld, col, ld, 0.0f,
                        dwp + ch * wsize, CKK);
            for (int oc = 0; oc < OC; oc++) dbp[(int64_t)ch * OC + oc] = nm_sum_lanes(g + (int64_t)oc * ld, ld);
            if (dx) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, ld, OC, 1.0f, w, CKK, g, ld, 0.0f, dcol, ld);
                for (int s = 0; s < ns; s++) {
                    float *dxs = dx + (n0 + s) * chw;
                    memset(dxs, 0, sizeof(float) * chw);
                    col2im(dcol + s * OHW, ld, C, H, W, KH, KW, sh, sw, ph, pw, OH, OW, dxs);
                }
            }
        }
        free(dyc);
        free(dcol);
    }
    /* Fixed-order reduction over chunks. */
#pragma omp parallel for num_threads(threads > 1 ? threads : 1) schedule(static) if (threads > 1 && wsize * nchunks >= 32768)
    for (int64_t e = 0; e < wsize; e++) {
        float s = dwp[e];
        for (int ch = 1; ch < nchunks; ch++) s += dwp[ch * wsize + e];
        dw[e] = s;
    }
    if (db)
        for (int oc = 0; oc < OC; oc++) {
            double s = 0.0;
            for (int ch = 0; ch < nchunks; ch++) s += dbp[(int64_t)ch * OC + oc];
            db[oc] = (float)s;
        }
    free(dwp);
    free(dbp);
}
