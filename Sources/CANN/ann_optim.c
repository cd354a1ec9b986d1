/* Optimizer updates (elementwise; PyTorch's formulas). See nm_ann.h.
 * The loops live in static functions with restrict pointers and by-value constants: inside OpenMP
 * outlined bodies the shared scalars are reached through pointers that may alias the arrays, which
 * kept clang from vectorising (measured: Adam was scalar and 27% of an MLP epoch). */
#include "nm_ann.h"
#include <math.h>
#include <omp.h>

#define NM_OPT_PAR_MIN 32768

/* sqrtf sets errno for negative input, which keeps clang from vectorising unless -fno-math-errno;
 * the elementwise builtin has no errno side effect (arguments here are >= 0). */
#if defined(__has_builtin)
#if __has_builtin(__builtin_elementwise_sqrt)
#define NM_SQRTF(x) __builtin_elementwise_sqrt(x)
#endif
#endif
#ifndef NM_SQRTF
#define NM_SQRTF(x) sqrtf(x)
#endif

/* Static split of [0, n) into the calling thread's part (elementwise work: any split gives the same result). */
static inline void my_range(int64_t n, int64_t *lo, int64_t *hi) {
    const int T = omp_get_num_threads(), id = omp_get_thread_num();
    *lo = n * id / T;
    *hi = n * (id + 1) / T;
}

static void sgd_range(float *restrict p, const float *restrict g, float *restrict buf, int64_t s, int64_t e, float lr,
                      float momentum, float dampening, float wd, int nesterov, int first) {
    if (momentum == 0.0f) {
#pragma omp simd
        for (int64_t i = s; i < e; i++) p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    if (first) {
#pragma omp simd
        for (int64_t i = s; i < e; i++) buf[i] = g[i] + wd * p[i];
    } else {
#pragma omp simd
        for (int64_t i = s; i < e; i++) buf[i] = momentum * buf[i] + (1.0f - dampening) * (g[i] + wd * p[i]);
    }
    if (nesterov) {
#pragma omp simd
        for (int64_t i = s; i < e; i++) p[i] -= lr * ((g[i] + wd * p[i]) + momentum * buf[i]);
    } else {
#pragma omp simd
        for (int64_t i = s; i < e; i++) p[i] -= lr * buf[i];
    }
}

void nm_sgd_step(float *p, const float *g, float *buf, int64_t n, float lr, float momentum, float dampening,
                 float wd, int nesterov, int first, int threads) {
    const int nt = (threads > 1 && n >= NM_OPT_PAR_MIN) ? threads : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t lo, hi;
        my_range(n, &lo, &hi);
        sgd_range(p, g, buf, lo, hi, lr, momentum, dampening, wd, nesterov, first);
    }
}

static void adam_range(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, int64_t s, int64_t e,
                       float step, float b1, float b2, float eps, float wd, float sbc2) {
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
#pragma omp simd
    for (int64_t i = s; i < e; i++) {
        const float d = g[i] + wd * p[i];
        const float mi = b1 * m[i] + c1 * d;
        const float vi = b2 * v[i] + c2 * d * d;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (NM_SQRTF(vi) / sbc2 + eps);
    }
}

void nm_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                  float eps, float wd, int64_t t, int threads) {
    nm_adam_step_multi(1, &p, &g, &m, &v, &n, lr, b1, b2, eps, wd, t, threads);
}

void nm_adam_step_multi(int count, float *const *p, const float *const *g, float *const *m, float *const *v,
                        const int64_t *n, float lr, float b1, float b2, float eps, float wd, int64_t t, int threads) {
    const double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2);
    int64_t total = 0;
    for (int k = 0; k < count; k++) total += n[k];
    const int nt = (threads > 1 && total >= NM_OPT_PAR_MIN) ? threads : 1;
    /* Blocks of the concatenated index range claimed dynamically (elementwise: any split is exact). */
    const int64_t B = 32768;
    const int nblocks = (int)((total + B - 1) / B);
    int next = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    for (;;) {
        int b;
#pragma omp atomic capture
        b = next++;
        if (b >= nblocks) break;
        const int64_t lo = (int64_t)b * B, hi = lo + B < total ? lo + B : total;
        int64_t base = 0;
        for (int k = 0; k < count && base < hi; k++) {
            const int64_t s = lo > base ? lo - base : 0, e = hi - base < n[k] ? hi - base : n[k];
            if (s < e) adam_range(p[k], g[k], m[k], v[k], s, e, step, b1, b2, eps, wd, sbc2);
            base += n[k];
        }
    }
}

static void rmsprop_range(float *restrict p, const float *restrict g, float *restrict sq, float *restrict buf, int64_t s,
                          int64_t e, float lr, float alpha, float eps, float wd, float momentum) {
    const float ca = 1.0f - alpha;
    if (momentum > 0.0f) {
#pragma omp simd
        for (int64_t i = s; i < e; i++) {
            const float d = g[i] + wd * p[i];
            const float q = alpha * sq[i] + ca * d * d;
            sq[i] = q;
            const float b = momentum * buf[i] + d / (NM_SQRTF(q) + eps);
            buf[i] = b;
            p[i] -= lr * b;
        }
    } else {
#pragma omp simd
        for (int64_t i = s; i < e; i++) {
            const float d = g[i] + wd * p[i];
            const float q = alpha * sq[i] + ca * d * d;
            sq[i] = q;
            p[i] -= lr * d / (NM_SQRTF(q) + eps);
        }
    }
}

void nm_rmsprop_step(float *p, const float *g, float *sq, float *buf, int64_t n, float lr, float alpha,
                     float eps, float wd, float momentum, int threads) {
    const int nt = (threads > 1 && n >= NM_OPT_PAR_MIN) ? threads : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t lo, hi;
        my_range(n, &lo, &hi);
        rmsprop_range(p, g, sq, buf, lo, hi, lr, alpha, eps, wd, momentum);
    }
}
