/* Saving a built network before its first run, and loading it back (the C-only runner
 * `neuromorph-run` and round-trip tests). The file holds what the public API was given: populations
 * (model, size, parameters, state, currents, rates, spike times, recording choices), projections
 * (descriptor and arrays) and state monitors. Loading replays the same API calls in the same order,
 * so everything derived from them (random streams from the seed, pooling tables, buffers) is rebuilt
 * identically: same seed => the same spikes as running the original engine.
 *
 * Format (little-endian, native layout of the fixed-size fields): "NMNET\0\0\1", then
 *   f64 dt, u64 seed, i32 npops, nprojs, nmons;
 *   per population: i32 name length, name bytes; i32 model, n, nvars, flags; f64 params[NM_MAX_PARAMS]; f32 vars[nvars][n];
 *     i32 refractory[n]; f32 iext[n]; [f32 rates[n]]; [i64 ptr[n+1], i64 total, i64 steps[total]];
 *     [u8 mask[n]]
 *   per projection: i32 kind, pre, post, port, delay, geometry[11], flags; f32 w0;
 *     sparse: i64 rowptr[npre+1], i32 col[nnz], [f32 w[nnz]], [u16 delays[nnz]]; dense: f32 w[npre*npost];
 *     conv: f32 kernel[...]
 *   per monitor: i32 name length, name bytes, f64 scale; i32 pop, var, every, nidx, idx[nidx]
 *   "NMEND\0\0\0" */
#include "nm_snn.h"
#include "snn_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

static const char MAGIC[8] = {'N', 'M', 'N', 'E', 'T', 0, 0, 1};
static const char END[8] = {'N', 'M', 'E', 'N', 'D', 0, 0, 0};

enum { F_IEXT = 1, F_RATES = 2, F_SRC = 4, F_REC = 8, F_MASK = 16, F_COUNTS = 32, F_NOPER = 64 };
enum { P_W = 1, P_DELAYS = 2 };

static int64_t kernel_len(const nm_proj_desc *d) {
    return (int64_t)d->k_h * d->k_w * d->in_c * (d->depthwise ? 1 : d->out_c);
}

static int wr(FILE *f, const void *p, size_t sz, size_t n) { return n == 0 || fwrite(p, sz, n, f) == n; }

int nm_engine_save(const nm_engine *e, const nm_net_meta *meta, const char *path, char *err, size_t errlen) {
    const char *const *names = meta ? meta->pop_names : NULL;
    if (e->step != 0) { snprintf(err, errlen, "the network has already run (save it before the first run)"); return -1; }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) { snprintf(err, errlen, "out of memory"); return -1; }
    snprintf(tmp, pl + 16, "%s.tmp%d", path, (int)getpid() % 100000);
    FILE *f = fopen(tmp, "wb");
    if (!f) { snprintf(err, errlen, "cannot write %s", tmp); free(tmp); return -1; }
    int ok = wr(f, MAGIC, 1, 8) && wr(f, &e->dt, 8, 1) && wr(f, &e->seed, 8, 1) && wr(f, &e->npops, 4, 1) &&
             wr(f, &e->nprojs, 4, 1) && wr(f, &e->nmons, 4, 1);
    for (int p = 0; ok && p < e->npops; p++) {
        const pop_t *P = &e->pops[p];
        int32_t fl = (P->iext_used ? F_IEXT : 0) | (P->rate_p ? F_RATES : 0) | (P->src_ptr ? F_SRC : 0) |
                     (P->record ? F_REC : 0) | (P->mask ? F_MASK : 0) | (P->count_rec ? F_COUNTS : 0) |
                     (P->no_per_neuron ? F_NOPER : 0);
        int32_t hdr[4] = {P->model, P->n, P->nvars, fl};
        const char *name = names && names[p] ? names[p] : "";
        int32_t nl = (int32_t)strlen(name);
        ok = wr(f, &nl, 4, 1) && wr(f, name, 1, (size_t)nl) && wr(f, hdr, 4, 4) && wr(f, P->p, 8, NM_MAX_PARAMS);
        for (int v = 0; ok && v < P->nvars; v++) ok = wr(f, P->var[v], 4, (size_t)P->n);
        ok = ok && wr(f, P->refr, 4, (size_t)P->n) && wr(f, P->iext, 4, (size_t)P->n);
        if (ok && P->rate_p) ok = wr(f, P->rate_p, 4, (size_t)P->n);
        if (ok && P->src_ptr) {
            int64_t total = P->src_ptr[P->n];
            ok = wr(f, P->src_ptr, 8, (size_t)P->n + 1) && wr(f, &total, 8, 1) && wr(f, P->src_steps, 8, (size_t)total);
        }
        if (ok && P->mask) ok = wr(f, P->mask, 1, (size_t)P->n);
    }
    for (int j = 0; ok && j < e->nprojs; j++) {
        const nm_proj_desc *d = &e->projs[j].d;
        int32_t npre = e->pops[d->pre].n, npost = e->pops[d->post].n;
        int32_t fl = (d->w ? P_W : 0) | (d->delays ? P_DELAYS : 0);
        int32_t hdr[17] = {d->kind, d->pre, d->post, d->port, d->delay, d->in_h, d->in_w, d->in_c, d->out_h,
                           d->out_w, d->out_c, d->k_h, d->k_w, d->stride, d->pad, d->depthwise, fl};
        ok = wr(f, hdr, 4, 17) && wr(f, &d->w0, 4, 1);
        if (!ok) break;
        switch (d->kind) {
        case NM_PROJ_SPARSE: {
            int64_t nnz = d->rowptr[npre];
            ok = wr(f, d->rowptr, 8, (size_t)npre + 1) && wr(f, d->col, 4, (size_t)nnz);
            if (ok && d->w) ok = wr(f, d->w, 4, (size_t)nnz);
            if (ok && d->delays) ok = wr(f, d->delays, 2, (size_t)nnz);
            break;
        }
        case NM_PROJ_DENSE: ok = wr(f, d->w, 4, (size_t)npre * (size_t)npost); break;
        case NM_PROJ_CONV: ok = wr(f, d->w, 4, (size_t)kernel_len(d)); break;
        default: break;   /* max-pool gate: w0 only */
        }
    }
    for (int m = 0; ok && m < e->nmons; m++) {
        const mon_t *M = &e->mons[m];
        int32_t hdr[4] = {M->pop, M->var, M->every, M->nidx};
        const char *name = meta && meta->mon_names && meta->mon_names[m] ? meta->mon_names[m] : "";
        const double scale = meta && meta->mon_scales ? meta->mon_scales[m] : 1.0;
        int32_t nl = (int32_t)strlen(name);
        ok = wr(f, &nl, 4, 1) && wr(f, name, 1, (size_t)nl) && wr(f, &scale, 8, 1) && wr(f, hdr, 4, 4) &&
             wr(f, M->idx, 4, (size_t)M->nidx);
    }
    ok = ok && wr(f, END, 1, 8);
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        snprintf(err, errlen, "cannot write %s", path);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* ---- loading ---- */

typedef struct { FILE *f; const char *path; char *err; size_t errlen; int bad; } rd_t;

static int rd(rd_t *r, void *p, size_t sz, size_t n, const char *what) {
    if (r->bad) return 0;
    if (n == 0) return 1;
    if (fread(p, sz, n, r->f) != n) {
        snprintf(r->err, r->errlen, "%s: truncated or unreadable network file (while reading %s)", r->path, what);
        r->bad = 1;
        return 0;
    }
    return 1;
}

static void *rd_array(rd_t *r, size_t sz, int64_t n, const char *what) {
    if (r->bad) return NULL;
    if (n < 0 || n > ((int64_t)1 << 40)) {
        snprintf(r->err, r->errlen, "%s: corrupt network file (%s: length %lld)", r->path, what, (long long)n);
        r->bad = 1;
        return NULL;
    }
    void *p = malloc(sz * (size_t)(n ? n : 1));
    if (!p) { snprintf(r->err, r->errlen, "out of memory (%s)", what); r->bad = 1; return NULL; }
    if (!rd(r, p, sz, (size_t)n, what)) { free(p); return NULL; }
    return p;
}

static int keep(nm_engine *e, void *p) {   /* arrays the loaded engine's projections point into */
    void **no = realloc(e->owned, sizeof(void *) * (size_t)(e->nowned + 1));
    if (!no) return -1;
    e->owned = no;
    e->owned[e->nowned++] = p;
    return 0;
}

/* Frees what was loaded and returns NULL; the message (printf-style, after the file name) is kept
 * unless a read already reported the problem. */
static nm_engine *load_fail(rd_t *r, nm_engine *e, const char *fmt, ...) {
    if (!r->bad && fmt && *fmt) {
        int k = snprintf(r->err, r->errlen, "%s: ", r->path);
        va_list ap;
        va_start(ap, fmt);
        if (k >= 0 && (size_t)k < r->errlen) vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    if (e) nm_engine_free(e);
    fclose(r->f);
    return NULL;
}

nm_engine *nm_engine_load(const char *path, nm_net_meta *meta, char *err, size_t errlen) {
    rd_t r = {fopen(path, "rb"), path, err, errlen, 0};
    if (meta) memset(meta, 0, sizeof *meta);
    if (!r.f) { snprintf(err, errlen, "%s: cannot open network file", path); return NULL; }
    char magic[8];
    double dt;
    uint64_t seed;
    int32_t counts[3];
    if (!rd(&r, magic, 1, 8, "header")) return load_fail(&r, NULL, NULL);
    if (memcmp(magic, MAGIC, 8) != 0) return load_fail(&r, NULL, "not a neuromorph network file (bad magic)");
    if (!rd(&r, &dt, 8, 1, "dt") || !rd(&r, &seed, 8, 1, "seed") || !rd(&r, counts, 4, 3, "counts"))
        return load_fail(&r, NULL, NULL);
    if (!(dt > 0) || counts[0] < 0 || counts[1] < 0 || counts[2] < 0 || counts[0] > 1000000 || counts[1] > 1000000)
        return load_fail(&r, NULL, "corrupt network file (header)");
    nm_engine *e = nm_engine_new(dt, seed);
    if (!e) return load_fail(&r, NULL, "out of memory");
    char **names = calloc((size_t)counts[0] + 1, sizeof(char *));
    if (!names || keep(e, names)) { free(names); return load_fail(&r, e, "out of memory"); }
    for (int p = 0; p < counts[0]; p++) {
        int32_t hdr[4], nl = -1;
        double params[NM_MAX_PARAMS];
        if (!rd(&r, &nl, 4, 1, "population name")) return load_fail(&r, e, NULL);
        if (nl < 0 || nl > 4096) return load_fail(&r, e, "corrupt network file (name of population %d)", p);
        if (!(names[p] = malloc((size_t)nl + 1)) || keep(e, names[p])) { free(names[p]); return load_fail(&r, e, "out of memory"); }
        if (!rd(&r, names[p], 1, (size_t)nl, "population name")) return load_fail(&r, e, NULL);
        names[p][nl] = 0;
        if (!rd(&r, hdr, 4, 4, "population header") || !rd(&r, params, 8, NM_MAX_PARAMS, "parameters"))
            return load_fail(&r, e, NULL);
        if (hdr[1] < 0 || hdr[1] > (1 << 30) || nm_engine_add_pop(e, hdr[0], hdr[1], params, NM_MAX_PARAMS) != p || e->pops[p].nvars != hdr[2])
            return load_fail(&r, e, "corrupt network file (population %d)", (int)p);
        pop_t *P = &e->pops[p];
        const int32_t fl = hdr[3];
        for (int v = 0; v < P->nvars; v++)
            if (!rd(&r, P->var[v], 4, (size_t)P->n, "state")) return load_fail(&r, e, NULL);
        if (!rd(&r, P->refr, 4, (size_t)P->n, "refractory counters") || !rd(&r, P->iext, 4, (size_t)P->n, "currents"))
            return load_fail(&r, e, NULL);
        if (fl & F_IEXT) (void)nm_pop_iext(e, p);
        if (fl & F_RATES) {
            float *rates = rd_array(&r, 4, P->n, "rates");
            if (!rates || nm_pop_set_rates(e, p, rates) != 0) { free(rates); return load_fail(&r, e, "corrupt network file (rates of population %d)", (int)p); }
            free(rates);
        }
        if (fl & F_SRC) {
            int64_t *ptr = rd_array(&r, 8, (int64_t)P->n + 1, "spike times");
            int64_t total = -1;
            if (ptr) rd(&r, &total, 8, 1, "spike count");
            int64_t *steps = ptr && total == ptr[P->n] ? rd_array(&r, 8, total, "spike times") : NULL;
            int bad = !steps || nm_pop_set_spike_steps(e, p, ptr, steps) != 0;
            free(ptr); free(steps);
            if (bad) return load_fail(&r, e, "corrupt network file (spike times of population %d)", (int)p);
        }
        uint8_t *mask = NULL;
        if ((fl & F_MASK) && !(mask = rd_array(&r, 1, P->n, "recording mask"))) return load_fail(&r, e, NULL);
        if (fl & F_REC) nm_engine_record_spikes(e, p, mask);
        free(mask);
        if (fl & F_COUNTS) nm_engine_record_counts(e, p);
        if (fl & F_NOPER) nm_pop_count_per_neuron(e, p, 0);
    }
    for (int j = 0; j < counts[1]; j++) {
        int32_t h[17];
        nm_proj_desc d;
        memset(&d, 0, sizeof d);
        if (!rd(&r, h, 4, 17, "projection header") || !rd(&r, &d.w0, 4, 1, "projection weight"))
            return load_fail(&r, e, NULL);
        d.kind = h[0]; d.pre = h[1]; d.post = h[2]; d.port = h[3]; d.delay = h[4];
        d.in_h = h[5]; d.in_w = h[6]; d.in_c = h[7]; d.out_h = h[8]; d.out_w = h[9]; d.out_c = h[10];
        d.k_h = h[11]; d.k_w = h[12]; d.stride = h[13]; d.pad = h[14]; d.depthwise = h[15];
        const int32_t fl = h[16];
        if (d.pre < 0 || d.pre >= e->npops || d.post < 0 || d.post >= e->npops)
            return load_fail(&r, e, "corrupt network file (projection %d: populations)", (int)j);
        const int64_t npre = e->pops[d.pre].n, npost = e->pops[d.post].n;
        switch (d.kind) {
        case NM_PROJ_SPARSE: {
            int64_t *rp = rd_array(&r, 8, npre + 1, "CSR row pointers");
            if (!rp || keep(e, rp)) { free(rp); return load_fail(&r, e, NULL); }
            const int64_t nnz = rp[npre];
            for (int64_t i = 0; i < npre; i++)
                if (rp[i] > rp[i + 1] || rp[0] != 0) return load_fail(&r, e, "corrupt network file (projection %d: row pointers)", (int)j);
            int32_t *col = rd_array(&r, 4, nnz, "CSR targets");
            if (!col || keep(e, col)) { free(col); return load_fail(&r, e, NULL); }
            for (int64_t k = 0; k < nnz; k++)
                if (col[k] < 0 || col[k] >= npost) return load_fail(&r, e, "corrupt network file (projection %d: target index)", (int)j);
            d.rowptr = rp; d.col = col;
            if (fl & P_W) {
                float *w = rd_array(&r, 4, nnz, "weights");
                if (!w || keep(e, w)) { free(w); return load_fail(&r, e, NULL); }
                d.w = w;
            }
            if (fl & P_DELAYS) {
                uint16_t *dl = rd_array(&r, 2, nnz, "delays");
                if (!dl || keep(e, dl)) { free(dl); return load_fail(&r, e, NULL); }
                d.delays = dl;
            }
            break;
        }
        case NM_PROJ_DENSE: case NM_PROJ_CONV: {
            int64_t len = d.kind == NM_PROJ_DENSE ? npre * npost : kernel_len(&d);
            if (d.kind == NM_PROJ_CONV && (d.k_h < 1 || d.k_w < 1 || d.in_c < 1 || d.out_c < 1))
                return load_fail(&r, e, "corrupt network file (projection %d: geometry)", (int)j);
            float *w = rd_array(&r, 4, len, "weights");
            if (!w || keep(e, w)) { free(w); return load_fail(&r, e, NULL); }
            d.w = w;
            break;
        }
        case NM_PROJ_MAXPOOL: break;
        default: return load_fail(&r, e, "corrupt network file (projection %d: kind)", (int)j);
        }
        if (nm_engine_add_proj(e, &d) != j) {
            snprintf(err, errlen, "%s: projection %d: %s", path, j, nm_engine_error(e));
            r.bad = 1;
            return load_fail(&r, e, NULL);
        }
    }
    char **mnames = calloc((size_t)counts[2] + 1, sizeof(char *));
    double *mscales = calloc((size_t)counts[2] + 1, sizeof(double));
    if (!mnames || keep(e, mnames)) { free(mnames); free(mscales); return load_fail(&r, e, "out of memory"); }
    if (!mscales || keep(e, mscales)) { free(mscales); return load_fail(&r, e, "out of memory"); }
    for (int m = 0; m < counts[2]; m++) {
        int32_t h[4], nl = -1;
        if (!rd(&r, &nl, 4, 1, "monitor name")) return load_fail(&r, e, NULL);
        if (nl < 0 || nl > 4096) return load_fail(&r, e, "corrupt network file (name of monitor %d)", m);
        if (!(mnames[m] = malloc((size_t)nl + 1)) || keep(e, mnames[m])) { free(mnames[m]); return load_fail(&r, e, "out of memory"); }
        if (!rd(&r, mnames[m], 1, (size_t)nl, "monitor name") || !rd(&r, &mscales[m], 8, 1, "monitor scale"))
            return load_fail(&r, e, NULL);
        mnames[m][nl] = 0;
        if (!rd(&r, h, 4, 4, "monitor")) return load_fail(&r, e, NULL);
        if (h[0] < 0 || h[0] >= e->npops) return load_fail(&r, e, "corrupt network file (monitor %d)", (int)m);
        int32_t *idx = rd_array(&r, 4, h[3], "monitor indices");
        if (!idx) return load_fail(&r, e, NULL);
        int rc = nm_engine_add_state_monitor(e, h[0], h[1], idx, h[3], h[2]);
        free(idx);
        if (rc != m) return load_fail(&r, e, "corrupt network file (monitor %d)", (int)m);
    }
    char end[8];
    if (!rd(&r, end, 1, 8, "end marker")) return load_fail(&r, e, NULL);
    if (memcmp(end, END, 8) != 0 || fgetc(r.f) != EOF) return load_fail(&r, e, "corrupt network file (end marker)");
    fclose(r.f);
    if (meta) {
        meta->pop_names = (const char *const *)names;
        meta->mon_names = (const char *const *)mnames;
        meta->mon_scales = mscales;
    }
    return e;
}
