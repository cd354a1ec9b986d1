/* ANN kernels (ann.c, ann_conv.c, ann_optim.c, ann_gz.c): dense algebra through OpenBLAS, im2col
 * convolution, pooling, batch norm, losses, optimizers and a gzip-aware file reader for IDX data.
 *
 * Threading (one pool only): all parallelism is OpenMP, `threads` per call (num_threads clause).
 * OpenBLAS is switched to ONE thread the first time any kernel here runs (openblas_set_num_threads(1),
 * process-wide) and is called from inside OpenMP regions on blocks of a fixed partition. Reasons:
 *   - OpenBLAS's pthread pool and libomp's pool spin-wait in turn and fight for the 2 cores;
 *   - OpenBLAS 0.3.21 sgemm is NOT bit-identical between 1 and 2 of its own threads for some shapes
 *     (e.g. 64x512x784: measured), so we never let it choose a thread-dependent split.
 * Determinism: every partition below is a function of the problem shape only, never of `threads`,
 * and every reduction (batch sums of gradients, per-channel statistics, losses) runs in a fixed order.
 * Results are therefore bit-identical for any thread count.
 * All arrays are float32, row-major, contiguous; image tensors are NCHW. */
#ifndef NM_ANN_H
#define NM_ANN_H
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- BLAS ---- */
/* C[M,N] = alpha * op(A) * op(B) + beta * C (row-major; op = transpose when trans != 0). The larger of
 * M, N is split into blocks fixed by the shape (multiples of 16, >= 128 wide) that OpenMP threads
 * compute with single-threaded cblas_sgemm calls: the result does not depend on `threads`. */
void nm_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc, int threads);
/* OpenBLAS's own thread count (for benchmarks comparing its pool; kernels here reset it to 1). */
void nm_blas_set_threads(int n);
int nm_blas_get_threads(void);
/* OpenBLAS kernel family and build configuration (for reports). */
const char *nm_blas_corename(void);
const char *nm_blas_config(void);
/* Plain cblas_sgemm with OpenBLAS's current thread setting (benchmarks only). */
void nm_sgemm_raw(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

/* ---- Elementwise ---- */
/* y[n, j] = x[n, j] + b[j] for rows of length `cols`. */
void nm_add_bias_rows(float *y, const float *b, int rows, int cols, int threads);
/* db[j] = sum_n dy[n, j] (n ascending, double accumulation). */
void nm_sum_rows(const float *dy, int rows, int cols, float *db, int threads);
/* ReLU: y = max(x, 0); backward dx = dy * (y > 0). */
void nm_relu_forward(const float *x, float *y, int64_t n, int threads);
void nm_relu_backward(const float *y, const float *dy, float *dx, int64_t n, int threads);
/* QCFS activation (Bu et al. 2022; ann_qcfs.c): x [n][c][per], thresholds lam[nlam] (nlam 1 or c), L levels.
 * y = lam * floor(clamp(x/lam, 0, 1) * L + 0.5) / L; backward with a straight-through floor: dx (may be
 * NULL) = dy * [0 <= x/lam <= 1], dlam[k] = sum dy * (y/lam - [0 <= x/lam <= 1] * x/lam), reduced in a
 * fixed order (thread-count independent). Returns 0, or -1 when out of memory. */
void nm_qcfs_forward(const float *x, float *y, int64_t n, int64_t c, int64_t per, const float *lam, int64_t nlam,
                     int levels, int threads);
int nm_qcfs_backward(const float *x, const float *dy, float *dx, float *dlam, int64_t n, int64_t c, int64_t per,
                     const float *lam, int64_t nlam, int levels, int threads);
/* Inverted dropout: mask[i] = 0 with probability p, else 1/(1-p); the draw for element i is a hash of
 * (seed, i), so it does not depend on threads. y = x * mask. */
void nm_dropout_forward(const float *x, float *y, float *mask, int64_t n, float p, uint64_t seed, int threads);
/* y = x * mask (also the backward pass: dx = dy * mask). */
void nm_mul(const float *x, const float *mask, float *y, int64_t n, int threads);
/* out[i] = (in[i] * scale - mean) / std for bytes (dataset normalisation). */
void nm_bytes_to_float(const uint8_t *in, float *out, int64_t n, float scale, float mean, float std_, int threads);
/* Gathers rows: out[i, :] = src[idx[i], :] (mini-batch assembly). */
void nm_gather_rows(const float *src, const int64_t *idx, int64_t count, int64_t rowlen, float *out, int threads);

/* ---- Convolution (im2col + GEMM) ---- */
/* x [N,C,H,W], w [OC, C*KH*KW], b [OC] or NULL, y [N,OC,OH,OW] with OH = (H + 2ph - KH)/sh + 1.
 * The batch is processed in chunks of S samples (S fixed by OH*OW: S*OH*OW >= 256 columns); chunks
 * run on OpenMP threads. cols: NULL (inference) or a buffer of nm_conv2d_cols_size floats that keeps the
 * im2col matrices for the backward pass. */
int64_t nm_conv2d_cols_size(int N, int C, int KH, int KW, int OH, int OW);
void nm_conv2d_forward(const float *x, int N, int C, int H, int W, const float *w, const float *b, int OC,
                       int KH, int KW, int sh, int sw, int ph, int pw, float *y, float *cols, int threads);
/* Backward from the cols kept by the forward pass: dw [OC, C*KH*KW] and db [OC] (or NULL) are
 * overwritten with batch sums (per-chunk partials summed in chunk order); dx [N,C,H,W] (or NULL) is
 * overwritten. */
void nm_conv2d_backward(const float *cols, int N, int C, int H, int W, const float *w, int OC, int KH, int KW,
                        int sh, int sw, int ph, int pw, const float *dy, float *dx, float *dw, float *db, int threads);

/* ---- Pooling (no padding, floor mode) ---- */
void nm_avgpool_forward(const float *x, int NC, int H, int W, int KH, int KW, int sh, int sw, float *y, int threads);
void nm_avgpool_backward(const float *dy, int NC, int H, int W, int KH, int KW, int sh, int sw, float *dx, int threads);
/* argmax [NC*OH*OW] (index within the H*W plane; first maximum wins) may be NULL at inference. */
/* ph, pw: zero or more rows/columns of padding on each side (as -inf: PyTorch's and ONNX's max pooling) */
void nm_maxpool_forward(const float *x, int NC, int H, int W, int KH, int KW, int sh, int sw, int ph, int pw, float *y, int32_t *argmax,
                        int threads);
void nm_maxpool_backward(const float *dy, const int32_t *argmax, int NC, int H, int W, int OH, int OW, float *dx, int threads);

/* ---- Batch normalisation over (N, HW) per channel; x [N, C, HW] (HW = 1 for 1-D) ---- */
/* Training: batch mean and biased variance (double accumulation, fixed order), y = gamma*xhat + beta;
 * saves mean and 1/sqrt(var+eps) per channel; running = (1-momentum)*running + momentum*batch, with the
 * unbiased variance for running_var (PyTorch's convention). */
void nm_batchnorm_forward_train(const float *x, int N, int C, int HW, const float *gamma, const float *beta,
                                float eps, float momentum, float *running_mean, float *running_var,
                                float *y, float *save_mean, float *save_invstd, int threads);
/* Inference: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta. */
void nm_batchnorm_forward_eval(const float *x, int N, int C, int HW, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps, float *y, int threads);
/* Backward of the training forward: dgamma = sum dy*xhat, dbeta = sum dy,
 * dx = gamma*invstd/m * (m*dy - dbeta - xhat*dgamma), m = N*HW. dx may be NULL. */
void nm_batchnorm_backward_train(const float *x, const float *dy, int N, int C, int HW, const float *gamma,
                                 const float *save_mean, const float *save_invstd,
                                 float *dx, float *dgamma, float *dbeta, int threads);
/* Backward of the inference forward (statistics are constants). */
void nm_batchnorm_backward_eval(const float *x, const float *dy, int N, int C, int HW, const float *gamma,
                                const float *running_mean, const float *running_var, float eps,
                                float *dx, float *dgamma, float *dbeta, int threads);

/* ---- Losses (mean over the batch) ---- */
/* Softmax cross-entropy of logits [N,K] with integer labels: returns mean loss; dlogits (or NULL) gets
 * (softmax - onehot)/N; correct (or NULL) gets the number of rows whose argmax equals the label. */
double nm_softmax_xent(const float *logits, const int32_t *labels, int N, int K, float *dlogits, int64_t *correct);
/* Mean squared error over all N elements: mean((y - t)^2); dy (or NULL) gets 2(y - t)/N. */
double nm_mse(const float *y, const float *t, int64_t n, float *dy);
/* Row-wise argmax of [N,K]. */
void nm_argmax_rows(const float *x, int N, int K, int32_t *out);

/* ---- Optimizers (elementwise, PyTorch's update rules) ---- */
/* SGD: g' = g + wd*p; buf = first ? g' : momentum*buf + (1-dampening)*g'; step = nesterov ? g' + momentum*buf
 * : buf (or g' when momentum == 0); p -= lr*step. buf may be NULL when momentum == 0. */
void nm_sgd_step(float *p, const float *g, float *buf, int64_t n, float lr, float momentum, float dampening,
                 float wd, int nesterov, int first, int threads);
/* Adam (t >= 1): g' = g + wd*p; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
 * p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps). */
void nm_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                  float eps, float wd, int64_t t, int threads);
/* RMSprop: g' = g + wd*p; sq = alpha sq + (1-alpha) g'^2; with momentum > 0: buf = momentum buf +
 * g'/(sqrt(sq)+eps), p -= lr buf; else p -= lr g'/(sqrt(sq)+eps). */
void nm_rmsprop_step(float *p, const float *g, float *sq, float *buf, int64_t n, float lr, float alpha,
                     float eps, float wd, float momentum, int threads);

/* ---- Buffers ---- */
/* 64-byte aligned buffers for tensors; blocks >= 64 KiB freed with nm_buffer_free are cached (up to
 * 1 GiB, same-size reuse) so per-batch activations do not page-fault afresh each step. */
void *nm_buffer_alloc(size_t bytes);
void nm_buffer_free(void *p, size_t bytes);
/* Releases every cached block. */
void nm_buffer_trim(void);

/* Adam over several tensors in one parallel region (the concatenated index range is split statically;
 * elementwise, so the result does not depend on threads). Same rule as nm_adam_step. */
void nm_adam_step_multi(int count, float *const *p, const float *const *g, float *const *m, float *const *v,
                        const int64_t *n, float lr, float b1, float b2, float eps, float wd, int64_t t, int threads);

/* ---- Files ---- */
/* Reads a whole file, inflating it when it is gzip (zlib's gzread reads plain files unchanged).
 * Returns 0 and a malloc'ed buffer (free with nm_ann_free) or -1 with a message in err. */
int nm_read_file_gz(const char *path, uint8_t **out, int64_t *len, char *err, int errlen);
/* Same, but reads (and allocates) at most max_len bytes: *more is set to 1 when the (inflated) file
 * holds further bytes. Lets a reader check a header's claimed size before reading the rest. */
int nm_read_file_gz_max(const char *path, int64_t max_len, uint8_t **out, int64_t *len, int *more, char *err, int errlen);
/* gzip-compresses `len` bytes into `path` (used by tests to make .gz files). Returns 0 or -1. */
int nm_write_file_gz(const char *path, const uint8_t *data, int64_t len);
void nm_ann_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
