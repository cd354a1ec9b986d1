/* QCFS activation (quantization-clip-floor-shift; Bu et al., ICLR 2022) with a trainable threshold.
 *
 * Layout: x is [n][c][per] (per = H*W for images, 1 for features); lam holds one threshold per
 * channel (nlam == c) or one for the layer (nlam == 1). With u = x/lam:
 *   forward   y  = lam * floor(clamp(u, 0, 1) * L + 0.5) / L
 *   backward  the floor passes its gradient straight through (the authors' GradFloor), clamp passes it
 *             where 0 <= u <= 1 (PyTorch's clamp backward), so
 *             dx   = dy * [0 <= u <= 1]
 *             dlam = sum dy * (y/lam - [0 <= u <= 1] * u)
 * The threshold gradient is reduced per (sample, channel) in double, then over samples in ascending
 * order by the caller-visible loop below, so it does not depend on the thread count. */
#include "nm_ann.h"
#include <math.h>
#include <stdlib.h>

static inline float qcfs_level(float u, float L) {
    const float v = u < 0.0f ? 0.0f : (u > 1.0f ? 1.0f : u);
    return floorf(v * L + 0.5f) / L;
}

void nm_qcfs_forward(const float *x, float *y, int64_t n, int64_t c, int64_t per, const float *lam, int64_t nlam,
                     int levels, int threads) {
    const float L = (float)levels;
    const int64_t rows = n * c;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * per >= 65536)
    for (int64_t r = 0; r < rows; r++) {
        const float t = lam[nlam == 1 ? 0 : r % c];
        const float *xr = x + r * per;
        float *yr = y + r * per;
        for (int64_t q = 0; q < per; q++) yr[q] = qcfs_level(xr[q] / t, L) * t;
    }
}

int nm_qcfs_backward(const float *x, const float *dy, float *dx, float *dlam, int64_t n, int64_t c, int64_t per,
                     const float *lam, int64_t nlam, int levels, int threads) {
    const float L = (float)levels;
    const int64_t rows = n * c;
    double *part = malloc((size_t)(rows > 0 ? rows : 1) * sizeof(double));
    if (!part) return -1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * per >= 65536)
    for (int64_t r = 0; r < rows; r++) {
        const float t = lam[nlam == 1 ? 0 : r % c];
        const float *xr = x + r * per, *gr = dy + r * per;
        double s = 0.0;
        for (int64_t q = 0; q < per; q++) {
            const float u = xr[q] / t;
            const int in = u >= 0.0f && u <= 1.0f;
            const float g = gr[q];
            if (dx) dx[r * per + q] = in ? g : 0.0f;
            s += (double)g * ((double)qcfs_level(u, L) - (in ? (double)u : 0.0));
        }
        part[r] = s;
    }
    for (int64_t k = 0; k < nlam; k++) {
        double s = 0.0;
        for (int64_t r = 0; r < rows; r++)
            if (nlam == 1 || r % c == k) s += part[r];
        dlam[k] = (float)s;
    }
    free(part);
    return 0;
}
