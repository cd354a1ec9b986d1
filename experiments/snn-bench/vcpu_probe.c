/* vcpu_probe: how much do two threads gain on this machine for a small, cache-resident neuron update?
 *
 * Replays the shape of one step of a 4000-neuron LIF network without any synapses: 5 float arrays of
 * 4000 (cache-line aligned; each thread owns whole lines), a plain C update loop (the compiler
 * vectorizes it) over each thread's half, and a spin barrier after every step: the pattern of
 * neuromorph's engine at N = 4000. Prints wall ns per step and update ns per step for each thread.
 * Measured on the 2-vCPU benchmark VM (see README.md): one thread updates 4000 neurons in ~790 ns;
 * two threads take 650-980 ns each for 2000, so the wall time per step does not improve.
 *
 *   cc -O2 -march=native -fopenmp vcpu_probe.c -o /tmp/vcpu_probe && /tmp/vcpu_probe
 *   (Debian: clang -O2 -march=native -fopenmp -I"$(dirname "$(find /usr/lib/llvm-* -name omp.h | head -1)")" ...)
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 4000
#define SLOTS 2
static float *v, *xe, *xi, *be, *bi;
static _Alignas(64) _Atomic int bar_count;
static _Alignas(64) _Atomic int bar_sense;

static void barrier(int *local, int n) {
    int s = !*local;
    *local = s;
    if (atomic_fetch_add(&bar_count, 1) == n - 1) { atomic_store(&bar_count, 0); atomic_store(&bar_sense, s); return; }
    while (atomic_load_explicit(&bar_sense, memory_order_acquire) != s) { }
}

static float *arr(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(float))) exit(1);
    memset(p, 0, n * sizeof(float));
    return p;
}

static void update(int lo, int hi, int slot) {
    float *b1 = be + (size_t)slot * N, *b2 = bi + (size_t)slot * N;
    for (int i = lo; i < hi; i++) {
        float ye = xe[i] + b1[i], yi = xi[i] + b2[i];
        b1[i] = 0.0f; b2[i] = 0.0f;
        float x = v[i] * 0.995f + 0.1f + ye - yi;
        v[i] = x >= 1.0f ? 0.0f : x;
        xe[i] = ye * 0.98f; xi[i] = yi * 0.99f;
    }
}

static double run(int nt, int steps, int chunks, double *upd_ns) {
    struct timespec a, b;
    double upd[2] = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int c = 0; c < chunks; c++) {
        #pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), local = 0;
            int lo = (N / 64) * t / nt * 64, hi = t == nt - 1 ? N : (N / 64) * (t + 1) / nt * 64;
            double u = 0;
            for (int s = 0; s < steps; s++) {
                double t0 = omp_get_wtime();
                update(lo, hi, s % SLOTS);
                u += omp_get_wtime() - t0;
                if (nt > 1) barrier(&local, nt);
            }
            upd[t] += u;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double wall = (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
    for (int t = 0; t < nt; t++) upd_ns[t] = upd[t] / ((double)steps * chunks) * 1e9;
    return wall / ((double)steps * chunks) * 1e9;
}

int main(void) {
    v = arr(N); xe = arr(N); xi = arr(N); be = arr((size_t)N * SLOTS); bi = arr((size_t)N * SLOTS);
    printf("threads  wall ns/step  update ns/step (per thread)\n");
    for (int rep = 0; rep < 5; rep++)
        for (int nt = 1; nt <= 2; nt++) {
            double u[2] = {0, 0};
            double w = run(nt, 500, 200, u);
            printf("%7d  %12.0f  %6.0f%s%6.0f\n", nt, w, u[0], nt > 1 ? " " : "", nt > 1 ? u[1] : 0.0);
        }
    return 0;
}
