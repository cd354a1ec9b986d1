/* The engine's scalar exp, shared by the models and the tests (the models themselves live in models/, one
 * file each; snn_kernel.h is the shape of their update kernels). */
#include "snn_kernel.h"
#include <math.h>
#include <stdint.h>

/* Floating-point contraction is off (nm_vec.h): no fused multiply-add anywhere, so every path
 * computes the same roundings. */
#pragma clang fp contract(off)

/* The scalar definition of the engine's exp (vf_exp in nm_vec.h computes the same values per lane):
 * Cephes-style range reduction + degree-6 polynomial. Max relative error ~2e-7 on [-87, 88]; outside
 * it clamps. */
float nm_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float fx = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    union { int32_t i; float f; } u;
    u.i = ((int32_t)fx + 127) << 23;
    return y * u.f;
}
