/* Threads for GEMM: OpenBLAS's own pthread pool versus neuromorph's choice (OpenBLAS single-threaded
 * inside a fixed OpenMP partition, nm_gemm). For the GEMM shapes of the MLP (batch 64) it reports the
 * time per call and whether the result of 2 threads is bit-identical to 1 thread. Built and run by
 * gemm_threads.sh. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nm_ann.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

typedef void (*gemm_fn)(int M, int N, int K, const float *A, const float *B, float *C, int threads);
static void ob(int M, int N, int K, const float *A, const float *B, float *C, int threads) {
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
}
static void nm(int M, int N, int K, const float *A, const float *B, float *C, int threads) {
    nm_gemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N, threads);
}

static double best(gemm_fn f, int M, int N, int K, const float *A, const float *B, float *C, int threads) {
    double b = 1e9;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int i = 0; i < 20; i++) f(M, N, K, A, B, C, threads);
        double t = (now() - t0) / 20;
        if (t < b) b = t;
    }
    return b;
}

int main(void) {
    /* Y = X W^T shapes of the MLP forward (N = out, K = in) and of larger layers. */
    int shapes[][3] = {{64, 512, 784}, {64, 256, 512}, {64, 10, 256}, {256, 1024, 1024}, {32, 512, 400}};
    printf("| M x N x K | OpenBLAS 1 thr (us) | OpenBLAS 2 thr (us) | nm_gemm 2 thr (us) | OpenBLAS 1 vs 2 thr | nm_gemm 1 vs 2 thr |\n");
    printf("|---|---:|---:|---:|---|---|\n");
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
        float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
        srand(7);
        for (int i = 0; i < M * K; i++) A[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < N * K; i++) B[i] = rand() / (float)RAND_MAX - 0.5f;
        double t_ob1 = best(ob, M, N, K, A, B, C1, 1), t_ob2 = best(ob, M, N, K, A, B, C1, 2);
        ob(M, N, K, A, B, C1, 1); ob(M, N, K, A, B, C2, 2);
        int ob_same = memcmp(C1, C2, sizeof(float) * M * N) == 0;
        double t_nm2 = best(nm, M, N, K, A, B, C1, 2);
        nm(M, N, K, A, B, C1, 1); nm(M, N, K, A, B, C2, 2);
        int nm_same = memcmp(C1, C2, sizeof(float) * M * N) == 0;
        printf("| %d x %d x %d | %.1f | %.1f | %.1f | %s | %s |\n", M, N, K, t_ob1 * 1e6, t_ob2 * 1e6, t_nm2 * 1e6,
               ob_same ? "identical" : "DIFFERENT", nm_same ? "identical" : "DIFFERENT");
        free(A); free(B); free(C1); free(C2);
    }
    return 0;
}
