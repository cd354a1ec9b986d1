/* Optimizer updates (elementwise; PyTorch's formulas). See nm_ann.h. */
#include "nm_ann.h"
#include <math.h>
#include <omp.h>

#define NM_OPT_PAR_MIN 32768

void nm_sgd_step(float *p, const float *g, float *buf, int64_t n, float lr, float momentum, float dampening,
                 float wd, int nesterov, int first, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n >= NM_OPT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (momentum != 0.0f) {
            float b = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] -= lr * d;
    }
}

void nm_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                  float eps, float wd, int64_t t, int threads) {
    const double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2);
#pragma omp parallel for simd num_threads(threads) schedule(static) if (threads > 1 && n >= NM_OPT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float d = g[i] + wd * p[i];
        const float mi = b1 * m[i] + (1.0f - b1) * d;
        const float vi = b2 * v[i] + (1.0f - b2) * d * d;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) / sbc2 + eps);
    }
}

void nm_rmsprop_step(float *p, const float *g, float *sq, float *buf, int64_t n, float lr, float alpha,
                     float eps, float wd, float momentum, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n >= NM_OPT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float d = g[i] + wd * p[i];
        const float s = alpha * sq[i] + (1.0f - alpha) * d * d;
        sq[i] = s;
        const float u = d / (sqrtf(s) + eps);
        if (momentum > 0.0f) {
            const float b = momentum * buf[i] + u;
            buf[i] = b;
            p[i] -= lr * b;
        } else {
            p[i] -= lr * u;
        }
    }
}
