/* Saving a built network before its first run, and loading it back (the C-only runner
 * `neuromorph-run` and round-trip tests). The file holds what the public API was given: populations
 * (model, size, parameters, state, currents, rates, spike times, recording choices), projections
 * (descriptor and arrays) and state monitors. Loading replays the same API calls in the same order,
 * so everything derived from them (random streams from the seed, pooling tables, buffers) is rebuilt
 * identically: same seed => the same spikes as running the original engine.
 *
 * Format version 4 (little-endian, native layout of the fixed-size fields):
 *   header (24 bytes): "NMNET\0\0" + version byte 4; u64 payload length; u64 checksum of the payload
 *   payload, every item padded with zero bytes to a multiple of 8 (so every array is 8-byte aligned):
 *     f64 dt, u64 seed, i32 npops, nprojs, nmons, ninputs
 *     per population: str name; str model; i32 n, nparams, nblocks, flags;
 *       nparams x (str parameter name; f64 value)    the model's parameters by name (snn_model.h)
 *       f32 vars[nvars][n] (nvars: the model's); i32 refractory[n]; f32 iext[n];
 *       nblocks x (str block name; i64 count; count elements of the block's size)   e.g. Poisson
 *         "rates" (f32 per neuron), spike_source "spike_steps" (i64)
 *       [u8 mask[n]]
 *     per projection: i32 kind, pre, post, port, delay, geometry[11], flags; f32 w0;
 *       sparse: i64 rowptr[npre+1], i32 col[nnz], [f32 w[nnz]], [u16 delays[nnz]];
 *       dense: f32 w[npre*npost]; conv: f32 kernel[...]; max-pool: nothing
 *     per Poisson input: str name; i32 pop, port, sources, binomial, flags (1: a mask follows), 0; f64 p;
 *       f32 weight; [u8 mask[n]]
 *     per monitor: str name; f64 scale; i32 pop, var, every, nidx; i32 idx[nidx]
 *     "NMEND\0\0\0"
 *   str = i32 length, bytes (no NUL).
 * Version 3 had no Poisson inputs and a poisson model without its bernoulli flag; version 2 stored a
 * model number and 32 positional parameters; version 1 had no checksum.
 * Checksum (nm_net_checksum): h = 0x9E3779B97F4A7C15; for each 8-byte little-endian word w of the
 * payload (the last one zero-filled): h = rotl64((h ^ w) * 0xFF51AFD7ED558CCD, 31); then h ^= length and
 * the murmur3 finalizer (h ^= h >> 33; h *= 0xFF51AFD7ED558CCD; h ^= h >> 33; h *= 0xC4CEB9FE1A85EC53;
 * h ^= h >> 33). Every step is a bijection of h for a fixed word and injective in the word for a fixed
 * h, so a change confined to one word (any single changed byte) always changes the checksum.
 *
 * Loading reads the whole file, verifies length and checksum, then every count against the bytes that
 * remain before anything is allocated for it; the engine's own checks (nm_check_pop / nm_check_proj:
 * parameters, row pointers, sorted targets, geometry, delays) run on every population and projection.
 * Files of versions 1 to 3 are refused with a message saying how to re-create them. */
#include "nm_snn.h"
#include "snn_internal.h"
#include "nm_output.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/stat.h>

static const char MAGIC[7] = {'N', 'M', 'N', 'E', 'T', 0, 0};
static const char END[8] = {'N', 'M', 'E', 'N', 'D', 0, 0, 0};
#define HEADER_BYTES 24

enum { F_IEXT = 1, F_REC = 2, F_MASK = 4, F_COUNTS = 8, F_NOPER = 16 };
#define F_ALL 31
enum { P_W = 1, P_DELAYS = 2 };

static int64_t kernel_len(const nm_proj_desc *d) {
    return (int64_t)d->k_h * d->k_w * d->in_c * (d->depthwise ? 1 : d->out_c);
}

/* ---- checksum ---- */

typedef struct { uint64_t h, len; uint8_t part[8]; int np; } hash_t;
static const uint64_t HK = 0xFF51AFD7ED558CCDull;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t le64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}
static void hash_init(hash_t *s) { s->h = 0x9E3779B97F4A7C15ull; s->len = 0; s->np = 0; }
static void hash_add(hash_t *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->len += n;
    while (n && s->np) { s->part[s->np++] = *p++; n--; if (s->np == 8) { s->h = rotl64((s->h ^ le64(s->part)) * HK, 31); s->np = 0; } }
    for (; n >= 8; n -= 8, p += 8) s->h = rotl64((s->h ^ le64(p)) * HK, 31);
    while (n--) s->part[s->np++] = *p++;
}
static uint64_t hash_end(hash_t *s) {
    uint64_t h = s->h;
    if (s->np) {
        memset(s->part + s->np, 0, (size_t)(8 - s->np));
        h = rotl64((h ^ le64(s->part)) * HK, 31);
    }
    h ^= s->len;
    h ^= h >> 33; h *= HK; h ^= h >> 33; h *= 0xC4CEB9FE1A85EC53ull; h ^= h >> 33;
    return h;
}
uint64_t nm_net_checksum(const void *data, size_t len) {
    hash_t s;
    hash_init(&s);
    hash_add(&s, data, len);
    return hash_end(&s);
}

/* ---- names ---- */

/* Names become file names of neuromorph-run's outputs: at most NM_MAX_NAME bytes, no '/', no control
 * characters, not "." or "..". NULL if fine, else why not. */
static const char *bad_name(const char *s, size_t n) {
    if (n > NM_MAX_NAME) return "is longer than 255 bytes";
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '/') return "contains '/'";
        if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f) return "contains a control character";
    }
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return "is '.' or '..'";
    return NULL;
}

/* ---- saving ---- */

typedef struct { FILE *f; hash_t h; int ok; } wr_t;

static void put(wr_t *w, const void *p, size_t sz, size_t n) {
    if (!w->ok || n == 0) return;
    if (fwrite(p, sz, n, w->f) != n) { w->ok = 0; return; }
    hash_add(&w->h, p, sz * n);
}
static void pad8(wr_t *w) {
    static const uint8_t zeros[8] = {0};
    size_t r = (size_t)(w->h.len % 8);
    if (r) put(w, zeros, 1, 8 - r);
}
static void put_arr(wr_t *w, const void *p, size_t sz, size_t n) { put(w, p, sz, n); pad8(w); }
static void put_str(wr_t *w, const char *s) {
    int32_t n = (int32_t)strlen(s);
    put(w, &n, 4, 1);
    put(w, s, 1, (size_t)n);
    pad8(w);
}

int nm_engine_save(const nm_engine *e, const nm_net_meta *meta, const char *path, char *err, size_t errlen) {
    const char *const *names = meta ? meta->pop_names : NULL;
    if (e->step != 0) { snprintf(err, errlen, "the network has already run (save it before the first run)"); return -1; }
    for (int p = 0; p < e->npops; p++) {
        const char *nm = names && names[p] ? names[p] : "", *why = bad_name(nm, strlen(nm));
        if (why) { snprintf(err, errlen, "%s: the name '%.40s' %s and cannot be saved", path, nm, why); return -1; }
    }
    for (int k = 0; k < e->ninputs; k++) {
        const char *nm = meta && meta->input_names && meta->input_names[k] ? meta->input_names[k] : "", *why = bad_name(nm, strlen(nm));
        if (why) { snprintf(err, errlen, "%s: the input name '%.40s' %s and cannot be saved", path, nm, why); return -1; }
    }
    /* written like every other output file (nm_output.h): a temporary beside `path`, removed on
     * SIGINT/SIGTERM/SIGHUP and swept by a later run if the process was killed, then renamed */
    nm_file *out = nm_file_create(path, err, errlen);
    if (!out) return -1;
    FILE *f = nm_file_stream(out);
    wr_t w = {f, {0}, 1};
    const uint8_t header[HEADER_BYTES] = {'N', 'M', 'N', 'E', 'T', 0, 0, NM_NET_VERSION};
    if (fwrite(header, 1, HEADER_BYTES, f) != HEADER_BYTES) w.ok = 0;
    hash_init(&w.h);
    const int32_t counts[4] = {e->npops, e->nprojs, e->nmons, e->ninputs};
    put(&w, &e->dt, 8, 1);
    put(&w, &e->seed, 8, 1);
    put(&w, counts, 4, 4);
    for (int p = 0; w.ok && p < e->npops; p++) {
        const pop_t *P = &e->pops[p];
        const nm_model *M = P->model;
        int32_t fl = (P->iext_used ? F_IEXT : 0) | (P->record ? F_REC : 0) | (P->mask ? F_MASK : 0) |
                     (P->count_rec ? F_COUNTS : 0) | (P->no_per_neuron ? F_NOPER : 0);
        int32_t nblocks = 0;
        for (int k = 0; k < M->nblocks; k++) { int64_t c; if (M->get_block(P, k, &c)) nblocks++; }
        int32_t hdr[4] = {P->n, M->nparams, nblocks, fl};
        put_str(&w, names && names[p] ? names[p] : "");
        put_str(&w, M->name);
        put(&w, hdr, 4, 4);
        for (int j = 0; j < M->nparams; j++) {   /* by name, in the model's order */
            const double x = nm_param_get(&M->params[j], P->params);
            put_str(&w, M->params[j].name);
            put(&w, &x, 8, 1);
        }
        for (int v = 0; v < P->nvars; v++) put_arr(&w, P->var[v], 4, (size_t)P->n);
        put_arr(&w, P->refr, 4, (size_t)P->n);
        put_arr(&w, P->iext, 4, (size_t)P->n);
        for (int k = 0; k < M->nblocks; k++) {
            int64_t count = 0;
            const void *data = M->get_block(P, k, &count);
            if (!data) continue;
            put_str(&w, M->blocks[k].name);
            put(&w, &count, 8, 1);
            put_arr(&w, data, M->blocks[k].elsize, (size_t)count);
        }
        if (P->mask) put_arr(&w, P->mask, 1, (size_t)P->n);
    }
    for (int j = 0; w.ok && j < e->nprojs; j++) {
        const nm_proj_desc *d = &e->projs[j].d;
        int32_t npre = e->pops[d->pre].n, npost = e->pops[d->post].n;
        int32_t fl = (d->w ? P_W : 0) | (d->delays ? P_DELAYS : 0);
        int32_t hdr[17] = {d->kind, d->pre, d->post, d->port, d->delay, d->in_h, d->in_w, d->in_c, d->out_h,
                           d->out_w, d->out_c, d->k_h, d->k_w, d->stride, d->pad, d->depthwise, fl};
        put(&w, hdr, 4, 17);
        put(&w, &d->w0, 4, 1);
        switch (d->kind) {
        case NM_PROJ_SPARSE: {
            int64_t nnz = d->rowptr[npre];
            put_arr(&w, d->rowptr, 8, (size_t)npre + 1);
            put_arr(&w, d->col, 4, (size_t)nnz);
            if (d->w) put_arr(&w, d->w, 4, (size_t)nnz);
            if (d->delays) put_arr(&w, d->delays, 2, (size_t)nnz);
            break;
        }
        case NM_PROJ_DENSE: put_arr(&w, d->w, 4, (size_t)npre * (size_t)npost); break;
        case NM_PROJ_CONV: put_arr(&w, d->w, 4, (size_t)kernel_len(d)); break;
        default: break;   /* max-pool gate: w0 only */
        }
    }
    for (int k = 0; w.ok && k < e->ninputs; k++) {
        const nm_poisson_input_desc *d = &e->inputs[k].d;
        const int32_t hdr[6] = {d->pop, d->port, d->sources, d->binomial, d->mask ? 1 : 0, 0};
        put_str(&w, meta && meta->input_names && meta->input_names[k] ? meta->input_names[k] : "");
        put(&w, hdr, 4, 6);
        put(&w, &d->p, 8, 1);
        put_arr(&w, &d->weight, 4, 1);
        if (d->mask) put_arr(&w, d->mask, 1, (size_t)e->pops[d->pop].n);
    }
    for (int m = 0; w.ok && m < e->nmons; m++) {
        const mon_t *M = &e->mons[m];
        int32_t hdr[4] = {M->pop, M->var, M->every, M->nidx};
        const double scale = meta && meta->mon_scales ? meta->mon_scales[m] : 1.0;
        put_str(&w, meta && meta->mon_names && meta->mon_names[m] ? meta->mon_names[m] : "");
        put(&w, &scale, 8, 1);
        put(&w, hdr, 4, 4);
        put_arr(&w, M->idx, 4, (size_t)M->nidx);
    }
    put(&w, END, 1, 8);
    /* the header's length and checksum, now that they are known */
    uint64_t tail[2] = {w.h.len, 0};
    tail[1] = hash_end(&w.h);
    if (w.ok && (fseek(f, 8, SEEK_SET) != 0 || fwrite(tail, 8, 2, f) != 2)) w.ok = 0;
    return nm_file_finish(out, w.ok, err, errlen);
}

/* ---- loading ---- */

typedef struct {
    const uint8_t *p;   /* the payload */
    size_t n, off;
    const char *path;
    char *err;
    size_t errlen;
    char ctx[96];       /* what is being read, e.g. "population 2 'exc'" */
    int bad;
} rd_t;

/* Records the first problem: "<file>: <context>: <message>". Returns 0 (for `return bad(...)`). */
static int bad(rd_t *r, const char *fmt, ...) {
    if (r->bad) return 0;
    r->bad = 1;
    int k = snprintf(r->err, r->errlen, "%s: %s%s", r->path, r->ctx, r->ctx[0] ? ": " : "");
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < r->errlen) vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return 0;
}

/* `count` items of `size` bytes at the cursor (then padding to 8 bytes, which must be zero), or NULL if
 * the rest of the payload cannot hold them. */
static const void *take(rd_t *r, size_t size, int64_t count, const char *what) {
    if (r->bad) return NULL;
    const size_t left = r->n - r->off;
    if (count < 0 || (uint64_t)count > left / size) {
        bad(r, "%s: %lld items of %zu bytes do not fit in the %zu bytes left in the file", what, (long long)count, size, left);
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    size_t bytes = (size_t)count * size, padded = (bytes + 7) / 8 * 8;
    if (padded > left) { bad(r, "%s: the file ends inside it", what); return NULL; }
    for (size_t k = bytes; k < padded; k++)
        if (p[k]) { bad(r, "%s: non-zero padding", what); return NULL; }
    r->off += padded;
    return p;
}

static int take_i32s(rd_t *r, int32_t *out, int n, const char *what) {
    const void *p = take(r, 4, n, what);
    if (p) memcpy(out, p, 4 * (size_t)n);
    return p != NULL;
}

/* A string: NUL-terminated copy (kept by the engine), checked with bad_name. */
static char *take_str(rd_t *r, nm_engine *e, const char *what) {
    int32_t n = -1;
    if (r->bad) return NULL;
    if (r->n - r->off < 4) { bad(r, "%s: the file ends inside it", what); return NULL; }
    memcpy(&n, r->p + r->off, 4);
    if (n < 0) { bad(r, "%s: negative length %d", what, (int)n); return NULL; }
    const uint8_t *p = take(r, 1, (int64_t)n + 4, what);   /* the length and its bytes are one padded item */
    if (!p) return NULL;
    const char *why = bad_name((const char *)p + 4, (size_t)n);
    if (why) { bad(r, "%s '%.*s' %s", what, n < 40 ? (int)n : 40, (const char *)p + 4, why); return NULL; }
    char *s = malloc((size_t)n + 1);
    if (!s) { bad(r, "out of memory"); return NULL; }
    memcpy(s, p + 4, (size_t)n);
    s[n] = 0;
    void **no = realloc(e->owned, sizeof(void *) * (size_t)(e->nowned + 1));
    if (!no) { free(s); bad(r, "out of memory"); return NULL; }
    e->owned = no;
    e->owned[e->nowned++] = s;
    return s;
}

static int keep(nm_engine *e, void *p) {   /* memory the loaded engine's projections point into */
    void **no = realloc(e->owned, sizeof(void *) * (size_t)(e->nowned + 1));
    if (!no) return -1;
    e->owned = no;
    e->owned[e->nowned++] = p;
    return 0;
}

static const char *fp_name(double x) { return isnan(x) ? "NaN" : "infinite"; }

/* Reads population p (already announced in the header) and adds it: its model by name, the model's
 * parameters by name (checked by nm_engine_add_pop like any other caller's), state, currents, data
 * blocks and recording choices. */
static int load_pop(rd_t *r, nm_engine *e, int p, char **names) {
    snprintf(r->ctx, sizeof r->ctx, "population %d", p);
    char *name = take_str(r, e, "name");
    if (!name) return 0;
    names[p] = name;
    snprintf(r->ctx, sizeof r->ctx, "population %d '%.40s'", p, name);
    for (int q = 0; q < p; q++)
        if (*name && !strcmp(names[q], name)) return bad(r, "the name is used by population %d too", q);
    const char *model = take_str(r, e, "model");
    if (!model) return 0;
    const nm_model *M = nm_model_find(model);
    int32_t hdr[4];
    if (!take_i32s(r, hdr, 4, "header")) return 0;
    const int32_t n = hdr[0], nparams = hdr[1], nblocks = hdr[2], fl = hdr[3];
    char why[200];
    if (!M) {   /* the engine's message, with the models it knows */
        nm_check_pop(model, n, 0, NULL, NULL, &M, NULL, why, sizeof why);
        return bad(r, "%s", why);
    }
    /* every parameter takes at least 16 bytes (its name and value) */
    if (nparams < 0 || nparams > 256 || (size_t)nparams > (r->n - r->off) / 16)
        return bad(r, "%d parameters cannot be in the %zu bytes left in the file", (int)nparams, r->n - r->off);
    const char *pnames[256];
    double values[256];
    for (int k = 0; k < nparams; k++) {
        if (!(pnames[k] = take_str(r, e, "parameter name"))) return 0;
        const double *x = take(r, 8, 1, "parameter value");
        if (!x) return 0;
        values[k] = *x;
    }
    if (nblocks < 0 || nblocks > M->nblocks) return bad(r, "%d data blocks (model %s has %d)", (int)nblocks, M->name, M->nblocks);
    if (fl & ~F_ALL) return bad(r, "unknown flags 0x%x", (unsigned)fl);
    /* what the population stores per neuron must be in the file before the engine allocates for it */
    const int64_t per_neuron = 4 * ((int64_t)M->nvars + 2) + ((fl & F_MASK) ? 1 : 0);
    if (n > 0 && (int64_t)n > (int64_t)((r->n - r->off) / (size_t)per_neuron))
        return bad(r, "%d neurons need %lld bytes, more than the %zu left in the file", (int)n, (long long)(per_neuron * n), r->n - r->off);
    if (nm_engine_add_pop(e, model, n, nparams, pnames, values) != p) {
        const char *msg = nm_engine_error(e);
        return bad(r, "%s", strncmp(msg, "population: ", 12) ? msg : msg + 12);   /* the context names it already */
    }
    pop_t *P = &e->pops[p];
    for (int v = 0; v < P->nvars; v++) {
        const float *x = take(r, 4, n, "state");
        if (!x) return 0;
        for (int32_t i = 0; i < n; i++)
            if (!isfinite(x[i])) return bad(r, "state variable '%s' of neuron %d is %s", M->vars[v].name, (int)i, fp_name(x[i]));
        memcpy(P->var[v], x, 4 * (size_t)n);
    }
    const int32_t *refr = take(r, 4, n, "refractory counters");
    const float *iext = take(r, 4, n, "currents");
    if (!refr || !iext) return 0;
    for (int32_t i = 0; i < n; i++) {
        if (refr[i] < 0) return bad(r, "refractory counter of neuron %d is negative (%d)", (int)i, (int)refr[i]);
        if (!isfinite(iext[i])) return bad(r, "current of neuron %d is %s", (int)i, fp_name(iext[i]));
    }
    memcpy(P->refr, refr, 4 * (size_t)n);
    memcpy(P->iext, iext, 4 * (size_t)n);
    if (fl & F_IEXT) (void)nm_pop_iext(e, p);
    for (int k = 0; k < nblocks; k++) {
        const char *bname = take_str(r, e, "data block name");
        const int64_t *count = take(r, 8, 1, "data block length");
        if (!bname || !count) return 0;
        int b = -1;
        for (int j = 0; j < M->nblocks; j++) if (!strcmp(M->blocks[j].name, bname)) b = j;
        if (b < 0) return bad(r, "model %s has no data block '%.40s'", M->name, bname);
        const void *data = take(r, M->blocks[b].elsize, *count, bname);
        if (!data) return 0;
        if (nm_pop_set_block(e, p, bname, data, *count) != 0) return bad(r, "%s", nm_engine_error(e));
    }
    const uint8_t *mask = NULL;
    if (fl & F_MASK) {
        if (!(mask = take(r, 1, n, "recording mask"))) return 0;
        for (int32_t i = 0; i < n; i++) if (mask[i] > 1) return bad(r, "recording mask of neuron %d is %d (0 or 1)", (int)i, mask[i]);
    }
    if ((fl & F_MASK) && !(fl & F_REC)) return bad(r, "a recording mask without recording");
    if ((fl & F_REC) && nm_engine_record_spikes(e, p, mask)) return bad(r, "%s", nm_engine_error(e));
    if ((fl & F_COUNTS) && nm_engine_record_counts(e, p)) return bad(r, "%s", nm_engine_error(e));
    if ((fl & F_NOPER) && nm_pop_count_per_neuron(e, p, 0)) return bad(r, "%s", nm_engine_error(e));
    return 1;
}

static const char *kind_label(int k) {
    return k == NM_PROJ_SPARSE ? "sparse" : k == NM_PROJ_DENSE ? "dense" : k == NM_PROJ_CONV ? "conv" : k == NM_PROJ_MAXPOOL ? "maxpool" : "unknown kind";
}

static int finite_weights(rd_t *r, const float *w, int64_t n, const char *what) {
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(w[k])) return bad(r, "%s %lld is %s", what, (long long)k, fp_name(w[k]));
    return 1;
}

static int load_proj(rd_t *r, nm_engine *e, int j) {
    snprintf(r->ctx, sizeof r->ctx, "projection %d", j);
    int32_t h[18];
    if (!take_i32s(r, h, 18, "header")) return 0;
    nm_proj_desc d;
    memset(&d, 0, sizeof d);
    d.kind = h[0]; d.pre = h[1]; d.post = h[2]; d.port = h[3]; d.delay = h[4];
    d.in_h = h[5]; d.in_w = h[6]; d.in_c = h[7]; d.out_h = h[8]; d.out_w = h[9]; d.out_c = h[10];
    d.k_h = h[11]; d.k_w = h[12]; d.stride = h[13]; d.pad = h[14]; d.depthwise = h[15];
    const int32_t fl = h[16];
    memcpy(&d.w0, &h[17], 4);
    snprintf(r->ctx, sizeof r->ctx, "projection %d (%s)", j, kind_label(d.kind));
    if (fl & ~(P_W | P_DELAYS)) return bad(r, "unknown flags 0x%x", (unsigned)fl);
    if ((fl & P_DELAYS) && d.kind != NM_PROJ_SPARSE) return bad(r, "per-synapse delays on a %s projection", kind_label(d.kind));
    if (!(fl & P_W) && (d.kind == NM_PROJ_DENSE || d.kind == NM_PROJ_CONV)) return bad(r, "no weights");
    if ((fl & P_W) && d.kind == NM_PROJ_MAXPOOL) return bad(r, "weights on a max-pool gate");
    if (!isfinite(d.w0)) return bad(r, "weight w0 is %s", fp_name(d.w0));
    /* populations, port, delay and geometry first: they size the arrays that follow */
    static const float dummy[1] = {0};
    static const int64_t zero_row[1] = {0};
    d.w = (fl & P_W) ? dummy : NULL;
    d.rowptr = zero_row;
    d.delays = (fl & P_DELAYS) ? (const uint16_t *)dummy : NULL;
    char why[200];
    if (nm_check_proj_shape(e, &d, why, sizeof why)) return bad(r, "%s", why);
    const int64_t npre = e->pops[d.pre].n, npost = e->pops[d.post].n;
    d.w = NULL; d.delays = NULL; d.rowptr = NULL;
    switch (d.kind) {
    case NM_PROJ_SPARSE: {
        const int64_t *rp = take(r, 8, npre + 1, "row pointers");
        if (!rp) return 0;
        const int64_t nnz = rp[npre];
        if (nnz < 0 || rp[0] != 0) return bad(r, "row pointers run from %lld to %lld", (long long)rp[0], (long long)nnz);
        for (int64_t i = 0; i < npre; i++)
            if (rp[i + 1] < rp[i] || rp[i + 1] > nnz)
                return bad(r, "row pointer %lld (%lld) is outside [row pointer %lld (%lld), %lld synapses]", (long long)i + 1,
                           (long long)rp[i + 1], (long long)i, (long long)rp[i], (long long)nnz);
        d.rowptr = rp;
        if (!(d.col = take(r, 4, nnz, "targets"))) return 0;
        if ((fl & P_W) && !(d.w = take(r, 4, nnz, "weights"))) return 0;
        if ((fl & P_DELAYS) && !(d.delays = take(r, 2, nnz, "delays"))) return 0;
        if (d.w && !finite_weights(r, d.w, nnz, "weight of synapse")) return 0;
        break;
    }
    case NM_PROJ_DENSE:
        if (!(d.w = take(r, 4, npre * npost, "weights"))) return 0;
        if (!finite_weights(r, d.w, npre * npost, "weight")) return 0;
        break;
    case NM_PROJ_CONV: {
        /* sides are at most 65535 (checked): the product may still overflow */
        const double kl = (double)d.k_h * d.k_w * d.in_c * (d.depthwise ? 1 : d.out_c);
        if (kl > (double)(r->n - r->off) / 4) return bad(r, "a kernel of %.0f weights does not fit in the %zu bytes left in the file", kl, r->n - r->off);
        if (!(d.w = take(r, 4, kernel_len(&d), "kernel"))) return 0;
        if (!finite_weights(r, d.w, kernel_len(&d), "kernel weight")) return 0;
        break;
    }
    default: break;
    }
    if (nm_engine_add_proj(e, &d) != j) return bad(r, "%s", nm_engine_error(e));
    return 1;
}

static int load_input(rd_t *r, nm_engine *e, int k, char **inames) {
    snprintf(r->ctx, sizeof r->ctx, "poisson input %d", k);
    if (!(inames[k] = take_str(r, e, "name"))) return 0;
    int32_t h[6];
    if (!take_i32s(r, h, 6, "header")) return 0;
    const double *p = take(r, 8, 1, "p");
    const float *w = take(r, 4, 1, "weight");
    if (!p || !w) return 0;
    if (h[4] & ~1 || h[5] != 0) return bad(r, "unknown flags 0x%x", (unsigned)h[4]);
    nm_poisson_input_desc d;
    memset(&d, 0, sizeof d);
    d.pop = h[0]; d.port = h[1]; d.sources = h[2]; d.binomial = h[3]; d.p = *p; d.weight = *w;
    char why[200];
    if (nm_check_poisson_input(e, &d, why, sizeof why)) return bad(r, "%s", why);   /* the target's size is known now */
    if (h[4] & 1) {
        if (!(d.mask = take(r, 1, e->pops[d.pop].n, "mask"))) return 0;
    }
    if (nm_engine_add_poisson_input(e, &d) != k) return bad(r, "%s", nm_engine_error(e));
    return 1;
}

static int load_mon(rd_t *r, nm_engine *e, int m, char **mnames, double *mscales) {
    snprintf(r->ctx, sizeof r->ctx, "state monitor %d", m);
    if (!(mnames[m] = take_str(r, e, "name"))) return 0;
    const double *scale = take(r, 8, 1, "scale");
    int32_t h[4];
    if (!scale || !take_i32s(r, h, 4, "header")) return 0;
    if (!isfinite(*scale)) return bad(r, "scale is %s", fp_name(*scale));
    mscales[m] = *scale;
    const int32_t *idx = take(r, 4, h[3], "neuron indices");
    if (!idx) return 0;
    if (nm_engine_add_state_monitor(e, h[0], h[1], idx, h[3], h[2]) != m) return bad(r, "%s", nm_engine_error(e));
    /* the read-out scale follows from the population's parameters (the saver writes exactly that one, as a
     * float32): any other value would silently rescale the recorded state */
    const double want = nm_readout_scale(e, h[0], h[1]);
    if (!(isfinite(want) && fabs(*scale - want) <= 1e-6 * fabs(want)))
        return bad(r, "read-out scale %g does not match the population's parameters (%g)", *scale, want);
    return 1;
}

/* The ring buffers of the loaded network (allocated at the first run) must fit in memory. */
static int buffers_fit(rd_t *r, const nm_engine *e) {
    double bytes = 0;
    for (int p = 0; p < e->npops; p++) bytes += (double)e->pops[p].nports * e->pops[p].n * 4.0 * (e->max_delay + 1);
    const double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    r->ctx[0] = 0;
    if (mem > 0 && bytes > mem)
        return bad(r, "the delay buffers of this network would need %.1f GB (maximum delay %d steps), more than this machine's %.1f GB",
                   bytes / 1e9, e->max_delay, mem / 1e9);
    return 1;
}

/* The 24-byte header (`got` bytes of it present) of a file of `total` bytes: magic, version and payload
 * length. 0, or -1 with a message naming `path`. */
static int check_header(const uint8_t *head, size_t got, uint64_t total, const char *path, char *err, size_t errlen) {
    if (got < 8 || memcmp(head, MAGIC, 7) != 0) { snprintf(err, errlen, "%s: not a neuromorph network file (bad magic)", path); return -1; }
    if (head[7] != NM_NET_VERSION) {
        if (head[7] < NM_NET_VERSION)
            snprintf(err, errlen, "%s: a network file of an older format (version %d; this neuromorph reads version %d, which saves "
                     "models by name with named parameters, Poisson inputs and the poisson model's draw): re-create it with: "
                     "neuromorph simulate CONFIG --save-network %s", path, head[7], NM_NET_VERSION, path);
        else
            snprintf(err, errlen, "%s: a network file of a newer format (version %d; this version reads %d): run it with the "
                     "neuromorph-run of the neuromorph that saved it, or re-create it with this one", path, head[7], NM_NET_VERSION);
        return -1;
    }
    if (got < HEADER_BYTES) { snprintf(err, errlen, "%s: truncated network file (%zu bytes, the header alone has 24)", path, got); return -1; }
    uint64_t len;
    memcpy(&len, head + 8, 8);
    const uint64_t have = total - HEADER_BYTES;
    if (len > have) {
        snprintf(err, errlen, "%s: truncated network file (the header announces %llu bytes, %llu follow it)", path,
                 (unsigned long long)len, (unsigned long long)have);
        return -1;
    }
    if (len < have) {
        snprintf(err, errlen, "%s: corrupt network file: %llu bytes after the end marker (the header announces %llu)", path,
                 (unsigned long long)(have - len), (unsigned long long)len);
        return -1;
    }
    return 0;
}

static nm_engine *load_payload(uint8_t *buf, size_t len, uint64_t sum, const char *path, nm_net_meta *meta, char *err, size_t errlen);

nm_engine *nm_engine_load(const char *path, nm_net_meta *meta, char *err, size_t errlen) {
    if (meta) memset(meta, 0, sizeof *meta);
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open network file", path); return NULL; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) { fclose(f); snprintf(err, errlen, "%s: not a regular file", path); return NULL; }
    uint8_t head[HEADER_BYTES];
    const size_t got = fread(head, 1, HEADER_BYTES, f);
    if (check_header(head, got, (uint64_t)st.st_size, path, err, errlen)) { fclose(f); return NULL; }
    uint64_t len, sum;
    memcpy(&len, head + 8, 8);
    memcpy(&sum, head + 16, 8);
    uint8_t *buf = malloc(len ? (size_t)len : 1);
    if (!buf) { fclose(f); snprintf(err, errlen, "%s: out of memory reading %llu bytes", path, (unsigned long long)len); return NULL; }
    const size_t rd_n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (rd_n != len) { free(buf); snprintf(err, errlen, "%s: cannot read the network file (%zu of %llu bytes)", path, rd_n, (unsigned long long)len); return NULL; }
    return load_payload(buf, (size_t)len, sum, path, meta, err, errlen);
}

nm_engine *nm_engine_load_buffer(const void *data, size_t size, const char *name, nm_net_meta *meta, char *err, size_t errlen) {
    if (meta) memset(meta, 0, sizeof *meta);
    const uint8_t *d = data;
    if (check_header(d, size < HEADER_BYTES ? size : HEADER_BYTES, size, name, err, errlen)) return NULL;
    uint64_t sum;
    memcpy(&sum, d + 16, 8);
    const size_t len = size - HEADER_BYTES;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) { snprintf(err, errlen, "%s: out of memory", name); return NULL; }
    memcpy(buf, d + HEADER_BYTES, len);
    return load_payload(buf, len, sum, name, meta, err, errlen);
}

/* Verifies the checksum of the payload (malloc'ed; kept by the engine, whose projections point into it,
 * or freed) and builds the network. */
static nm_engine *load_payload(uint8_t *buf, size_t len, uint64_t sum, const char *path, nm_net_meta *meta, char *err, size_t errlen) {
    if (nm_net_checksum(buf, len) != sum) {
        free(buf);
        snprintf(err, errlen, "%s: checksum mismatch: the network file is corrupt or was changed after it was saved (re-create it with: "
                 "neuromorph simulate CONFIG --save-network %s)", path, path);
        return NULL;
    }

    rd_t r = {buf, (size_t)len, 0, path, err, errlen, "", 0};
    const double *dtp = take(&r, 8, 1, "dt");
    const uint64_t *seedp = take(&r, 8, 1, "seed");
    int32_t counts[4];
    if (!dtp || !seedp || !take_i32s(&r, counts, 4, "counts")) { free(buf); return NULL; }
    const double dt = *dtp;
    if (!(dt >= 1e-6 && dt <= 1e4)) { bad(&r, "time step dt = %g ms is outside [1e-6, 1e4] ms", dt); free(buf); return NULL; }
    /* every population, projection and monitor takes at least this many bytes */
    const size_t left = r.n - r.off;
    if (counts[0] < 0 || counts[1] < 0 || counts[2] < 0 || counts[3] < 0 || (size_t)counts[0] > left / 32 ||
        (size_t)counts[1] > left / 72 || (size_t)counts[2] > left / 32 || (size_t)counts[3] > left / 48) {
        bad(&r, "header: %d populations, %d projections, %d monitors and %d inputs cannot be in %zu bytes", (int)counts[0], (int)counts[1],
            (int)counts[2], (int)counts[3], left);
        free(buf);
        return NULL;
    }
    nm_engine *e = nm_engine_new(dt, *seedp);
    if (!e || keep(e, buf)) { if (e) nm_engine_free(e); free(buf); snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    /* names, kept by the engine: populations, monitors */
    char **names = calloc((size_t)counts[0] + 1, sizeof(char *));
    char **mnames = calloc((size_t)counts[2] + 1, sizeof(char *));
    double *mscales = calloc((size_t)counts[2] + 1, sizeof(double));
    char **inames = calloc((size_t)counts[3] + 1, sizeof(char *));
    int ok = names && mnames && mscales && inames;
    if (!ok) { free(names); free(mnames); free(mscales); free(inames); }
    else ok = !keep(e, names) && !keep(e, mnames) && !keep(e, mscales) && !keep(e, inames);   /* freed with the engine */
    if (!ok) { nm_engine_free(e); snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    for (int p = 0; ok && p < counts[0]; p++) ok = load_pop(&r, e, p, names);
    for (int j = 0; ok && j < counts[1]; j++) ok = load_proj(&r, e, j);
    for (int k = 0; ok && k < counts[3]; k++) ok = load_input(&r, e, k, inames);
    for (int m = 0; ok && m < counts[2]; m++) ok = load_mon(&r, e, m, mnames, mscales);
    if (ok) {
        snprintf(r.ctx, sizeof r.ctx, "end");
        const uint8_t *end = take(&r, 1, 8, "end marker");
        if (!end) ok = 0;
        else if (memcmp(end, END, 8) != 0) ok = bad(&r, "no end marker where the network ends");
        else if (r.off != r.n) ok = bad(&r, "%zu bytes after the end marker", r.n - r.off);
    }
    if (ok) ok = buffers_fit(&r, e);
    if (!ok) { nm_engine_free(e); return NULL; }
    if (meta) {
        meta->pop_names = (const char *const *)names;
        meta->mon_names = (const char *const *)mnames;
        meta->mon_scales = mscales;
        meta->input_names = (const char *const *)inames;
    }
    return e;
}
