/* Deterministic connectivity generation. Rows (or columns) are grouped in blocks of CONNECT_BLOCK, each
 * with its own GSL stream derived from (seed, stream, block); blocks run in parallel and are
 * concatenated in block order, so the result does not depend on the thread count. */
#include "nm_snn.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define CONNECT_BLOCK 256

typedef struct { int32_t *a; int64_t n, cap; } ivec;
static int ipush(ivec *v, int32_t x) {
    if (v->n == v->cap) {
        int64_t nc = v->cap ? v->cap * 2 : 256;
        int32_t *na = realloc(v->a, sizeof(int32_t) * (size_t)nc);
        if (!na) return -1;
        v->a = na; v->cap = nc;
    }
    v->a[v->n++] = x;
    return 0;
}

static uint64_t block_stream(uint64_t stream, int64_t block) { return stream ^ ((uint64_t)block * 0x9E3779B97F4A7C15ull + 0x1234567ull); }

int nm_connect_fixed_prob(int32_t npre, int32_t npost, double p, int autapses, uint64_t seed,
                          uint64_t stream, int64_t **rowptr_out, int32_t **col_out, int64_t *nnz_out) {
    int32_t nblocks = (npre + CONNECT_BLOCK - 1) / CONNECT_BLOCK;
    ivec *cols = calloc((size_t)(nblocks ? nblocks : 1), sizeof(ivec));
    int64_t *rowptr = calloc((size_t)npre + 1, sizeof(int64_t));
    if (!cols || !rowptr) { free(cols); free(rowptr); return -1; }
    int err = 0;
    #pragma omp parallel for schedule(static)
    for (int32_t b = 0; b < nblocks; b++) {
        nm_rng *r = nm_rng_new(seed, block_stream(stream, b));
        int32_t i0 = b * CONNECT_BLOCK, i1 = i0 + CONNECT_BLOCK < npre ? i0 + CONNECT_BLOCK : npre;
        for (int32_t i = i0; i < i1; i++) {
            int64_t before = cols[b].n;
            if (p > 0) {
                int64_t j = -1;
                for (;;) {
                    j += (int64_t)nm_rng_geometric(r, p > 1 ? 1 : p);
                    if (j >= npost) break;
                    if (!autapses && j == i) continue;
                    if (ipush(&cols[b], (int32_t)j)) { err = 1; break; }
                }
            }
            rowptr[i + 1] = cols[b].n - before; /* row length for now */
        }
        nm_rng_free(r);
    }
    int64_t nnz = 0;
    for (int32_t i = 0; i < npre; i++) { int64_t len = rowptr[i + 1]; rowptr[i] = nnz; nnz += len; }
    rowptr[npre] = nnz;
    int32_t *col = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1));
    if (!col || err) { free(col); for (int32_t b = 0; b < nblocks; b++) free(cols[b].a); free(cols); free(rowptr); return -1; }
    int64_t w = 0;
    for (int32_t b = 0; b < nblocks; b++) {
        if (cols[b].n) memcpy(col + w, cols[b].a, sizeof(int32_t) * (size_t)cols[b].n);
        w += cols[b].n;
        free(cols[b].a);
    }
    free(cols);
    *rowptr_out = rowptr; *col_out = col; *nnz_out = nnz;
    return 0;
}

int nm_connect_all_to_all(int32_t npre, int32_t npost, int autapses, int64_t **rowptr_out, int32_t **col_out, int64_t *nnz_out) {
    if (npre < 0 || npost < 0) return -1;
    /* row i skips target i (if i < npost) without autapses: it starts after i full rows minus the skipped ones */
    const int skip = !autapses;
    const int64_t nnz = (int64_t)npre * npost - (skip ? (npre < npost ? npre : npost) : 0);
    int64_t *rowptr = malloc(sizeof(int64_t) * ((size_t)npre + 1));
    int32_t *col = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1));
    if (!rowptr || !col) { free(rowptr); free(col); return -1; }
    #pragma omp parallel for schedule(static)
    for (int32_t i = 0; i <= npre; i++) rowptr[i] = (int64_t)i * npost - (skip ? (i < npost ? i : npost) : 0);
    #pragma omp parallel for schedule(static)
    for (int32_t i = 0; i < npre; i++) {
        int32_t *row = col + rowptr[i];
        int64_t w = 0;
        for (int32_t k = 0; k < npost; k++)
            if (!(skip && k == i)) row[w++] = k;
    }
    *rowptr_out = rowptr; *col_out = col; *nnz_out = nnz;
    return 0;
}

/* draws k distinct-or-not values in [0, n) excluding `self` (if >= 0) into out; marks is scratch of n bytes */
static void draw_k(nm_rng *r, int32_t n, int32_t k, int32_t self, int multapses, uint8_t *marks, int32_t *out) {
    for (int32_t q = 0; q < k; q++) {
        int32_t x;
        for (;;) {
            x = (int32_t)nm_rng_uniform_int(r, (unsigned long)n);
            if (x == self) continue;
            if (!multapses && marks[x]) continue;
            break;
        }
        if (!multapses) marks[x] = 1;
        out[q] = x;
    }
    if (!multapses) for (int32_t q = 0; q < k; q++) marks[out[q]] = 0;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int nm_connect_fixed_outdegree(int32_t npre, int32_t npost, int32_t k, int autapses, int multapses,
                               uint64_t seed, uint64_t stream, int64_t **rowptr_out, int32_t **col_out, int64_t *nnz_out) {
    if (k < 0 || (!multapses && k > npost - (autapses ? 0 : (npre == npost ? 1 : 0)))) return -1;
    if (npost == 0 && k > 0) return -1;
    int64_t nnz = (int64_t)npre * k;
    int64_t *rowptr = malloc(sizeof(int64_t) * ((size_t)npre + 1));
    int32_t *col = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1));
    if (!rowptr || !col) { free(rowptr); free(col); return -1; }
    for (int32_t i = 0; i <= npre; i++) rowptr[i] = (int64_t)i * k;
    int32_t nblocks = (npre + CONNECT_BLOCK - 1) / CONNECT_BLOCK;
    #pragma omp parallel
    {
        uint8_t *marks = calloc((size_t)npost + 1, 1);
        #pragma omp for schedule(static)
        for (int32_t b = 0; b < nblocks; b++) {
            nm_rng *r = nm_rng_new(seed, block_stream(stream, b));
            int32_t i0 = b * CONNECT_BLOCK, i1 = i0 + CONNECT_BLOCK < npre ? i0 + CONNECT_BLOCK : npre;
            for (int32_t i = i0; i < i1; i++) {
                int32_t *row = col + (int64_t)i * k;
                draw_k(r, npost, k, autapses ? -1 : i, multapses, marks, row);
                qsort(row, (size_t)k, sizeof(int32_t), cmp_i32);
            }
            nm_rng_free(r);
        }
        free(marks);
    }
    *rowptr_out = rowptr; *col_out = col; *nnz_out = nnz;
    return 0;
}

int nm_connect_fixed_indegree(int32_t npre, int32_t npost, int32_t k, int autapses, int multapses,
                              uint64_t seed, uint64_t stream, int64_t **rowptr_out, int32_t **col_out, int64_t *nnz_out) {
    if (k < 0 || (!multapses && k > npre - (autapses ? 0 : (npre == npost ? 1 : 0)))) return -1;
    if (npre == 0 && k > 0) return -1;
    int64_t nnz = (int64_t)npost * k;
    int32_t *src = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1)); /* src[j*k + q] */
    int64_t *rowptr = calloc((size_t)npre + 1, sizeof(int64_t));
    int32_t *col = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1));
    if (!src || !rowptr || !col) { free(src); free(rowptr); free(col); return -1; }
    int32_t nblocks = (npost + CONNECT_BLOCK - 1) / CONNECT_BLOCK;
    #pragma omp parallel
    {
        uint8_t *marks = calloc((size_t)npre + 1, 1);
        #pragma omp for schedule(static)
        for (int32_t b = 0; b < nblocks; b++) {
            nm_rng *r = nm_rng_new(seed, block_stream(stream, b));
            int32_t j0 = b * CONNECT_BLOCK, j1 = j0 + CONNECT_BLOCK < npost ? j0 + CONNECT_BLOCK : npost;
            for (int32_t j = j0; j < j1; j++) draw_k(r, npre, k, autapses ? -1 : j, multapses, marks, src + (int64_t)j * k);
            nm_rng_free(r);
        }
        free(marks);
    }
    /* transpose to CSR by source: columns visited in ascending order keep targets sorted per row */
    for (int64_t q = 0; q < nnz; q++) rowptr[src[q] + 1]++;
    for (int32_t i = 0; i < npre; i++) rowptr[i + 1] += rowptr[i];
    int64_t *fill = malloc(sizeof(int64_t) * ((size_t)npre + 1));
    if (!fill) { free(src); free(rowptr); free(col); return -1; }
    memcpy(fill, rowptr, sizeof(int64_t) * ((size_t)npre + 1));
    for (int32_t j = 0; j < npost; j++)
        for (int32_t q = 0; q < k; q++) { int32_t s = src[(int64_t)j * k + q]; col[fill[s]++] = j; }
    free(fill);
    free(src);
    *rowptr_out = rowptr; *col_out = col; *nnz_out = nnz;
    return 0;
}

int nm_draw_values(int64_t n_rows, const int64_t *rowptr, int dist, double a, double b, double lo,
                   double hi, uint64_t seed, uint64_t stream, float *out) {
    int64_t nblocks = (n_rows + CONNECT_BLOCK - 1) / CONNECT_BLOCK;
    #pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        nm_rng *r = nm_rng_new(seed, block_stream(stream, blk));
        int64_t r0 = blk * CONNECT_BLOCK, r1 = r0 + CONNECT_BLOCK < n_rows ? r0 + CONNECT_BLOCK : n_rows;
        for (int64_t q = rowptr[r0]; q < rowptr[r1]; q++) {
            double x;
            switch (dist) {
            case 0: x = a + (b - a) * nm_rng_uniform(r); break;
            case 1: x = a + nm_rng_gaussian(r, b); break;
            case 2: x = exp(a + nm_rng_gaussian(r, b)); break;
            case 3: x = nm_rng_exponential(r, a); break;
            default: x = a;
            }
            if (x < lo) x = lo;
            if (x > hi) x = hi;
            out[q] = (float)x;
        }
        nm_rng_free(r);
    }
    return 0;
}
