/* ANN kernels: GEMM glue, elementwise ops, pooling, batch norm, losses. See nm_ann.h for the
 * threading and determinism rules. */
#include "nm_ann.h"
#include "nm_common.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Sum of n floats in a fixed order that vectorises: 16 float lanes (lane k takes i = k mod 16, blocks of
 * 4096 elements), each block's lanes added in lane order into a double. The order depends on n only. */
double nm_sum_lanes(const float *restrict x, int64_t n) {
    double total = 0.0;
    for (int64_t b = 0; b < n; b += 4096) {
        const int64_t e = b + 4096 < n ? b + 4096 : n;
        float lane[16] = {0};
        int64_t i = b;
        for (; i + 16 <= e; i += 16)
#pragma omp simd
            for (int k = 0; k < 16; k++) lane[k] += x[i + k];
        for (int k = 0; i < e; i++, k++) lane[k] += x[i];
        for (int k = 0; k < 16; k++) total += lane[k];
    }
    return total;
}

/* Sum of squared deviations from `mean`, same fixed order as nm_sum_lanes. */
static double sumsq_lanes(const float *restrict x, int64_t n, float mean) {
    double total = 0.0;
    for (int64_t b = 0; b < n; b += 4096) {
        const int64_t e = b + 4096 < n ? b + 4096 : n;
        float lane[16] = {0};
        int64_t i = b;
        for (; i + 16 <= e; i += 16)
#pragma omp simd
            for (int k = 0; k < 16; k++) { const float d = x[i + k] - mean; lane[k] += d * d; }
        for (int k = 0; i < e; i++, k++) { const float d = x[i] - mean; lane[k] += d * d; }
        for (int k = 0; k < 16; k++) total += lane[k];
    }
    return total;
}

/* sum dy and sum dy*(x-mean)*inv in the same fixed lane order. */
static void bn_sums_lanes(const float *restrict x, const float *restrict g, int64_t n, float mean, float inv,
                          double *sdy, double *sdyx) {
    for (int64_t b = 0; b < n; b += 4096) {
        const int64_t e = b + 4096 < n ? b + 4096 : n;
        float l1[16] = {0}, l2[16] = {0};
        int64_t i = b;
        for (; i + 16 <= e; i += 16)
#pragma omp simd
            for (int k = 0; k < 16; k++) { l1[k] += g[i + k]; l2[k] += g[i + k] * ((x[i + k] - mean) * inv); }
        for (int k = 0; i < e; i++, k++) { l1[k] += g[i]; l2[k] += g[i] * ((x[i] - mean) * inv); }
        for (int k = 0; k < 16; k++) { *sdy += l1[k]; *sdyx += l2[k]; }
    }
}

/* Work items 0..count-1 claimed through a shared atomic counter instead of a static split: on a busy
 * machine a descheduled thread simply claims fewer items and nobody waits for its share. Each item's
 * computation is fixed, so results do not depend on which thread runs it (or on the thread count). */
#define NM_FOR_CLAIMED(nt, count, i, ...)                          \
    do {                                                           \
        int nm_next_ = 0;                                          \
        const int nm_count_ = (count);                             \
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")        \
        for (;;) {                                                 \
            int i;                                                 \
            _Pragma("omp atomic capture")                          \
            i = nm_next_++;                                        \
            if (i >= nm_count_) break;                             \
            __VA_ARGS__                                            \
        }                                                          \
    } while (0)

/* Elements per claimed block of elementwise work. */
#define NM_BLOCK 16384

/* Elementwise work below this many elements runs on the calling thread: waking a sleeping worker
 * (KMP_BLOCKTIME=0, the ANN default) costs ~10-20 us, about the time of a 256k-element ReLU. */
#define NM_PAR_MIN 262144

/* OpenBLAS runs single-threaded under our OpenMP partition (see nm_ann.h); cheap check per call. */
static inline void nm_blas_init(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

void nm_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int nm_blas_get_threads(void) { return openblas_get_num_threads(); }
const char *nm_blas_corename(void) { return openblas_get_corename(); }
const char *nm_blas_config(void) { return openblas_get_config(); }

void nm_sgemm_raw(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nm_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc, int threads) {
    nm_blas_init();
    if (M <= 0 || N <= 0) return;
    const int splitN = N >= M;
    const int dim = splitN ? N : M;
    /* Partition from the shape only: blocks of >= 128 rows/columns, at most 16. */
    int parts = 1;
    if ((int64_t)M * N * (K > 0 ? K : 1) >= (1 << 20)) {
        parts = dim / 128;
        if (parts < 1) parts = 1;
        if (parts > 16) parts = 16;
    }
    int blk = ((dim + parts - 1) / parts + 15) & ~15;
    parts = (dim + blk - 1) / blk;
    const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    const int nt = threads > 1 && parts > 1 ? threads : 1;
    NM_FOR_CLAIMED(nt, parts, p, {
        int s = p * blk, e = s + blk < dim ? s + blk : dim;
        if (splitN) {
            const float *Bp = tb ? B + (int64_t)s * ldb : B + s;
            cblas_sgemm(CblasRowMajor, TA, TB, M, e - s, K, alpha, A, lda, Bp, ldb, beta, C + s, ldc);
        } else {
            const float *Ap = ta ? A + s : A + (int64_t)s * lda;
            cblas_sgemm(CblasRowMajor, TA, TB, e - s, N, K, alpha, Ap, lda, B, ldb, beta, C + (int64_t)s * ldc, ldc);
        }
    });
}

void nm_add_bias_rows(float *y, const float *b, int rows, int cols, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (int64_t)rows * cols >= NM_PAR_MIN)
    for (int n = 0; n < rows; n++) {
        float *r = y + (int64_t)n * cols;
        for (int j = 0; j < cols; j++) r[j] += b[j];
    }
}

void nm_sum_rows(const float *dy, int rows, int cols, float *db, int threads) {
    /* Column blocks of 64 in parallel; each column summed over rows in ascending order. */
    int nb = (cols + 63) / 64;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (int64_t)rows * cols >= NM_PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int j0 = blk * 64, j1 = j0 + 64 < cols ? j0 + 64 : cols;
        double acc[64] = {0};
        for (int n = 0; n < rows; n++) {
            const float *r = dy + (int64_t)n * cols;
            for (int j = j0; j < j1; j++) acc[j - j0] += r[j];
        }
        for (int j = j0; j < j1; j++) db[j] = (float)acc[j - j0];
    }
}

/* Elementwise loops in static functions with restrict pointers and unconditional loads so clang
 * vectorises them (the conditional-load form stayed scalar). */
static void relu_fwd_range(const float *restrict x, float *restrict y, int64_t s, int64_t e) {
#pragma omp simd
    for (int64_t i = s; i < e; i++) { const float v = x[i]; y[i] = v > 0.0f ? v : 0.0f; }
}

static void relu_bwd_range(const float *restrict y, const float *restrict dy, float *restrict dx, int64_t s, int64_t e) {
#pragma omp simd
    for (int64_t i = s; i < e; i++) { const float g = dy[i]; dx[i] = y[i] > 0.0f ? g : 0.0f; }
}

static inline void split_range(int64_t n, int64_t *lo, int64_t *hi) {
    const int T = omp_get_num_threads(), id = omp_get_thread_num();
    *lo = n * id / T;
    *hi = n * (id + 1) / T;
}

void nm_relu_forward(const float *x, float *y, int64_t n, int threads) {
    const int nt = threads > 1 && n >= NM_PAR_MIN ? threads : 1;
    NM_FOR_CLAIMED(nt, (int)((n + NM_BLOCK - 1) / NM_BLOCK), b, {
        const int64_t lo = (int64_t)b * NM_BLOCK, hi = lo + NM_BLOCK < n ? lo + NM_BLOCK : n;
        relu_fwd_range(x, y, lo, hi);
    });
}

void nm_relu_backward(const float *y, const float *dy, float *dx, int64_t n, int threads) {
    const int nt = threads > 1 && n >= NM_PAR_MIN ? threads : 1;
    NM_FOR_CLAIMED(nt, (int)((n + NM_BLOCK - 1) / NM_BLOCK), b, {
        const int64_t lo = (int64_t)b * NM_BLOCK, hi = lo + NM_BLOCK < n ? lo + NM_BLOCK : n;
        relu_bwd_range(y, dy, dx, lo, hi);
    });
}

void nm_dropout_forward(const float *x, float *y, float *mask, int64_t n, float p, uint64_t seed, int threads) {
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    const uint64_t key = nm_splitmix64(seed);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n >= NM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(nm_splitmix64(key ^ (uint64_t)i * 0x9E3779B97F4A7C15ull) >> 11) * 0x1.0p-53;
        float m = u < (double)p ? 0.0f : scale;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

static void mul_range(const float *restrict x, const float *restrict m, float *restrict y, int64_t s, int64_t e) {
#pragma omp simd
    for (int64_t i = s; i < e; i++) y[i] = x[i] * m[i];
}

void nm_mul(const float *x, const float *mask, float *y, int64_t n, int threads) {
#pragma omp parallel num_threads(threads > 1 ? threads : 1) if (threads > 1 && n >= NM_PAR_MIN)
    {
        int64_t lo, hi;
        split_range(n, &lo, &hi);
        mul_range(x, mask, y, lo, hi);
    }
}

static void bytes_range(const uint8_t *restrict in, float *restrict out, int64_t s, int64_t e, float scale, float mean, float inv) {
#pragma omp simd
    for (int64_t i = s; i < e; i++) out[i] = ((float)in[i] * scale - mean) * inv;
}

void nm_bytes_to_float(const uint8_t *in, float *out, int64_t n, float scale, float mean, float std_, int threads) {
    const float inv = 1.0f / std_;
#pragma omp parallel num_threads(threads > 1 ? threads : 1) if (threads > 1 && n >= NM_PAR_MIN)
    {
        int64_t lo, hi;
        split_range(n, &lo, &hi);
        bytes_range(in, out, lo, hi, scale, mean, inv);
    }
}

void nm_gather_rows(const float *src, const int64_t *idx, int64_t count, int64_t rowlen, float *out, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count * rowlen >= NM_PAR_MIN)
    for (int64_t i = 0; i < count; i++)
        memcpy(out + i * rowlen, src + idx[i] * rowlen, (size_t)rowlen * sizeof(float));
}

/* ---- pooling ---- */
static void avg_fwd_plane(const float *restrict xp, float *restrict yp, int H, int W, int KH, int KW, int sh, int sw, int OH, int OW) {
    const float inv = 1.0f / (float)(KH * KW);
    if (KH == 2 && KW == 2 && sh == 2 && sw == 2) {
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (2 * oh) * W, *r1 = r0 + W;
            float *o = yp + oh * OW;
#pragma omp simd
            for (int ow = 0; ow < OW; ow++) o[ow] = ((r0[2 * ow] + r0[2 * ow + 1]) + (r1[2 * ow] + r1[2 * ow + 1])) * inv;
        }
        return;
    }
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
            float s = 0.0f;
            for (int kh = 0; kh < KH; kh++) {
                const float *r = xp + (oh * sh + kh) * W + ow * sw;
                for (int kw = 0; kw < KW; kw++) s += r[kw];
            }
            yp[oh * OW + ow] = s * inv;
        }
}

static void avg_bwd_plane(const float *restrict yp, float *restrict xp, int H, int W, int KH, int KW, int sh, int sw, int OH, int OW) {
    const float inv = 1.0f / (float)(KH * KW);
    if (KH == 2 && KW == 2 && sh == 2 && sw == 2) {
        if (2 * OH != H || 2 * OW != W) memset(xp, 0, sizeof(float) * (size_t)H * W);
        for (int oh = 0; oh < OH; oh++) {
            float *r0 = xp + (2 * oh) * W, *r1 = r0 + W;
            const float *g = yp + oh * OW;
#pragma omp simd
            for (int ow = 0; ow < OW; ow++) {
                const float v = g[ow] * inv;
                r0[2 * ow] = v; r0[2 * ow + 1] = v; r1[2 * ow] = v; r1[2 * ow + 1] = v;
            }
        }
        return;
    }
    memset(xp, 0, sizeof(float) * (size_t)H * W);
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
            const float g = yp[oh * OW + ow] * inv;
            for (int kh = 0; kh < KH; kh++) {
                float *r = xp + (oh * sh + kh) * W + ow * sw;
                for (int kw = 0; kw < KW; kw++) r[kw] += g;
            }
        }
}

void nm_avgpool_forward(const float *x, int NC, int H, int W, int KH, int KW, int sh, int sw, float *y, int threads) {
    const int OH = (H - KH) / sh + 1, OW = (W - KW) / sw + 1;
    const int nt = threads > 1 && (int64_t)NC * H * W >= NM_PAR_MIN ? threads : 1;
    NM_FOR_CLAIMED(nt, NC, c, { avg_fwd_plane(x + (int64_t)c * H * W, y + (int64_t)c * OH * OW, H, W, KH, KW, sh, sw, OH, OW); });
}

void nm_avgpool_backward(const float *dy, int NC, int H, int W, int KH, int KW, int sh, int sw, float *dx, int threads) {
    const int OH = (H - KH) / sh + 1, OW = (W - KW) / sw + 1;
    const int nt = threads > 1 && (int64_t)NC * H * W >= NM_PAR_MIN ? threads : 1;
    NM_FOR_CLAIMED(nt, NC, c, { avg_bwd_plane(dy + (int64_t)c * OH * OW, dx + (int64_t)c * H * W, H, W, KH, KW, sh, sw, OH, OW); });
}

void nm_maxpool_forward(const float *x, int NC, int H, int W, int KH, int KW, int sh, int sw, int ph, int pw, float *y, int32_t *argmax,
                        int threads) {
    /* padding as -inf (PyTorch, ONNX): a window's maximum over its positions inside the input (with
     * ph < KH and pw < KW every window has one); ties and NaN as without padding, in window order */
    const int OH = (H + 2 * ph - KH) / sh + 1, OW = (W + 2 * pw - KW) / sw + 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (int64_t)NC * H * W >= NM_PAR_MIN)
    for (int c = 0; c < NC; c++) {
        const float *xp = x + (int64_t)c * H * W;
        float *yp = y + (int64_t)c * OH * OW;
        int32_t *ap = argmax ? argmax + (int64_t)c * OH * OW : NULL;
        for (int oh = 0; oh < OH; oh++) {
            const int y0 = oh * sh - ph, ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + KH > H ? H - y0 : KH;
            for (int ow = 0; ow < OW; ow++) {
                const int x0 = ow * sw - pw, kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + KW > W ? W - x0 : KW;
                int best = (y0 + ky0) * W + x0 + kx0;
                float m = xp[best];
                for (int kh = ky0; kh < ky1; kh++)
                    for (int kw = kx0; kw < kx1; kw++) {
                        int i = (y0 + kh) * W + x0 + kw;
                        if (xp[i] > m || (isnan(xp[i]) && !isnan(m))) { m = xp[i]; best = i; }
                    }
                yp[oh * OW + ow] = m;
                if (ap) ap[oh * OW + ow] = best;
            }
        }
    }
}

void nm_maxpool_backward(const float *dy, const int32_t *argmax, int NC, int H, int W, int OH, int OW, float *dx, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (int64_t)NC * H * W >= NM_PAR_MIN)
    for (int c = 0; c < NC; c++) {
        float *xp = dx + (int64_t)c * H * W;
        memset(xp, 0, sizeof(float) * (size_t)H * W);
        const float *yp = dy + (int64_t)c * OH * OW;
        const int32_t *ap = argmax + (int64_t)c * OH * OW;
        for (int i = 0; i < OH * OW; i++) xp[ap[i]] += yp[i];
    }
}

/* ---- batch norm ---- */
void nm_batchnorm_forward_train(const float *x, int N, int C, int HW, const float *gamma, const float *beta,
                                float eps, float momentum, float *running_mean, float *running_var,
                                float *y, float *save_mean, float *save_invstd, int threads) {
    const int64_t m = (int64_t)N * HW;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && m * C >= NM_PAR_MIN)
    for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int n = 0; n < N; n++) s += nm_sum_lanes(x + ((int64_t)n * C + c) * HW, HW);
        const double mean = s / (double)m;
        double q = 0.0;
        for (int n = 0; n < N; n++) q += sumsq_lanes(x + ((int64_t)n * C + c) * HW, HW, (float)mean);
        const double var = q / (double)m;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        const float fm = (float)mean, fi = (float)invstd, g = gamma[c], b = beta[c];
        for (int n = 0; n < N; n++) {
            const float *p = x + ((int64_t)n * C + c) * HW;
            float *o = y + ((int64_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) o[i] = (p[i] - fm) * fi * g + b;
        }
        const double unbiased = m > 1 ? q / (double)(m - 1) : var;
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
}

void nm_batchnorm_forward_eval(const float *x, int N, int C, int HW, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps, float *y, int threads) {
    const int64_t total = (int64_t)N * C * HW;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total >= NM_PAR_MIN)
    for (int64_t nc = 0; nc < (int64_t)N * C; nc++) {
        const int c = (int)(nc % C);
        const float sc = gamma[c] / sqrtf(running_var[c] + eps);
        const float sh = beta[c] - running_mean[c] * sc;
        const float *p = x + nc * HW;
        float *o = y + nc * HW;
        for (int i = 0; i < HW; i++) o[i] = p[i] * sc + sh;
    }
}

void nm_batchnorm_backward_train(const float *x, const float *dy, int N, int C, int HW, const float *gamma,
                                 const float *save_mean, const float *save_invstd,
                                 float *dx, float *dgamma, float *dbeta, int threads) {
    const int64_t m = (int64_t)N * HW;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && m * C >= NM_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const float mean = save_mean[c], inv = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++)
            bn_sums_lanes(x + ((int64_t)n * C + c) * HW, dy + ((int64_t)n * C + c) * HW, HW, mean, inv, &sdy, &sdyx);
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
        if (dx) {
            const float k = gamma[c] * inv / (float)m;
            const float fdb = (float)sdy, fdg = (float)sdyx, fm = (float)m;
            for (int n = 0; n < N; n++) {
                const float *p = x + ((int64_t)n * C + c) * HW;
                const float *g = dy + ((int64_t)n * C + c) * HW;
                float *o = dx + ((int64_t)n * C + c) * HW;
                for (int i = 0; i < HW; i++) o[i] = k * (fm * g[i] - fdb - (p[i] - mean) * inv * fdg);
            }
        }
    }
}

void nm_batchnorm_backward_eval(const float *x, const float *dy, int N, int C, int HW, const float *gamma,
                                const float *running_mean, const float *running_var, float eps,
                                float *dx, float *dgamma, float *dbeta, int threads) {
    const int64_t m = (int64_t)N * HW;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && m * C >= NM_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const float inv = 1.0f / sqrtf(running_var[c] + eps), mean = running_mean[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const float *p = x + ((int64_t)n * C + c) * HW;
            const float *g = dy + ((int64_t)n * C + c) * HW;
            float *o = dx ? dx + ((int64_t)n * C + c) * HW : NULL;
            for (int i = 0; i < HW; i++) {
                sdy += g[i];
                sdyx += (double)g[i] * (double)((p[i] - mean) * inv);
                if (o) o[i] = g[i] * gamma[c] * inv;
            }
        }
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
    }
}

/* ---- losses ---- */
double nm_softmax_xent(const float *logits, const int32_t *labels, int N, int K, float *dlogits, int64_t *correct) {
    double total = 0.0;
    int64_t ok = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (int64_t)n * K;
        float mx = z[0];
        int arg = 0;
        for (int k = 1; k < K; k++) if (z[k] > mx) { mx = z[k]; arg = k; }
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
        const double lse = mx + log(se);
        const int y = labels[n];
        total += lse - z[y];
        if (arg == y) ok++;
        if (dlogits) {
            float *d = dlogits + (int64_t)n * K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                d[k] = (float)((p - (k == y ? 1.0 : 0.0)) / N);
            }
        }
    }
    if (correct) *correct = ok;
    return total / N;
}

double nm_mse(const float *y, const float *t, int64_t n, float *dy) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)y[i] - t[i];
        s += d * d;
        if (dy) dy[i] = (float)(2.0 * d / (double)n);
    }
    return s / (double)n;
}

void nm_argmax_rows(const float *x, int N, int K, int32_t *out) {
    for (int n = 0; n < N; n++) {
        const float *z = x + (int64_t)n * K;
        int arg = 0;
        for (int k = 1; k < K; k++) if (z[k] > z[arg]) arg = k;
        out[n] = arg;
    }
}
