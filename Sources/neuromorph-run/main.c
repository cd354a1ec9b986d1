/* neuromorph-run: runs a network saved by `neuromorph simulate CONFIG --save-network FILE` with the
 * engine alone: no Swift runtime, Foundation, YAML parser or BLAS in the process (the counterpart of
 * Brian2's compiled standalone `./main`; the Swift command is the code generator). Same seed, same
 * spikes as `neuromorph simulate`.
 *
 *   neuromorph-run FILE --duration SECONDS [--threads N] [--out DIR [--force]]
 *
 * On a terminal, progress (percent, real-time factor, ETA) goes to stderr.
 *
 * Writes DIR/summary.json (neurons, synapses, spikes, synaptic_events, simulated_seconds, wall_seconds,
 * build_seconds (loading), realtime_factor, peak_rss_bytes, threads, seed, dt_ms, isa (the vector path
 * that ran, nm_isa.h; NM_ISA chooses it) and cpu (model name), populations with
 * neurons / spikes / mean_rate_hz, Poisson inputs with target / sources / rate_hz / events), for populations whose spikes are recorded spikes_<pop>_t.npy (s,
 * float64) and spikes_<pop>_i.npy (int32), and for state monitors state_<pop>_<var>.npy (float32,
 * [samples, neurons]), state_<pop>_t.npy and state_<pop>_neurons.npy, as `neuromorph simulate` does
 * (not its rates_<pop>.npy and raster.svg). DIR follows neuromorph's output policy (nm_output.h): never
 * an input, `.`, a folder above the working folder; an existing folder only if empty or, with --force,
 * written by an earlier neuromorph-run (marker kind "run"). The files go into a staging folder beside
 * DIR that replaces it in one rename when all are written (removed on SIGINT/SIGTERM; a lock stops a
 * second writer). Without --out the summary goes to stdout.
 *
 * The engine is the CEngine target (with CCore: threads, RNG, vector paths, output policy), linked as is:
 * no OpenBLAS or zlib (those are the ANN kernels' target). The runner reads the engine's recordings
 * through its internal structures (snn_internal.h), being built with it. */
#include "nm_snn.h"
#include "nm_isa.h"
#include "nm_output.h"
#include "snn_internal.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The claimed output folder (nm_output.h), released at exit. */
static nm_out *run_claim;
static void release_claim(void) {
    nm_out_release(run_claim);
    run_claim = NULL;
}

static int usage(const char *msg) {
    fprintf(stderr, "neuromorph-run: %s\nusage: neuromorph-run FILE --duration SECONDS [--threads N] [--out DIR [--force]]\n"
            "  FILE      a network saved by: neuromorph simulate CONFIG --save-network FILE\n"
            "  --duration SECONDS  simulated time (s), > 0\n"
            "  --threads N         threads, 1..1024 (default: all cores)\n"
            "  --out DIR           output folder (summary.json, spikes_<pop>_t.npy / _i.npy): new, empty, or\n"
            "                      with --force one an earlier neuromorph-run wrote (its .neuromorph-output marker)\n"
            "  --force             replace such a folder\n"
            "  NM_ISA=avx512|avx2|baseline in the environment forces a vector path (default: the CPU's best)\n", msg);
    return 2;
}

/* Writes `len` bytes to DIR/name through DIR/.name.tmp and a rename. */
static int put_file(const char *dir, const char *name, const void *a, size_t alen, const void *b, size_t blen) {
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = (alen == 0 || fwrite(a, 1, alen, f) == alen) && (blen == 0 || fwrite(b, 1, blen, f) == blen);
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, dst) != 0) { remove(tmp); return -1; }
    return 0;
}

/* NumPy .npy (format 1.0) of a 1-D (cols < 0) or 2-D [n][cols] array: descr "<f8", "<f4" or "<i4". */
static int put_npy2(const char *dir, const char *name, const char *descr, const void *data, int64_t n, int64_t cols, size_t elsize) {
    char h[160];
    int len = cols < 0
        ? snprintf(h + 10, sizeof h - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }", descr, (long long)n)
        : snprintf(h + 10, sizeof h - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }", descr, (long long)n, (long long)cols);
    if (cols >= 0) n *= cols;
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    for (int k = 0; k < pad; k++) h[10 + len + k] = ' ';
    h[10 + len + pad] = '\n';
    int hl = len + pad + 1;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (char)(hl & 0xff);
    h[9] = (char)(hl >> 8);
    return put_file(dir, name, h, (size_t)(10 + hl), data, (size_t)n * elsize);
}
static int put_npy(const char *dir, const char *name, const char *descr, const void *data, int64_t n, size_t elsize) {
    return put_npy2(dir, name, descr, data, n, -1, elsize);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv) {
    nm_omp_forget_stale_registration();   /* before the first OpenMP call (nm_output.h) */
    const char *file = NULL, *out = NULL;
    double duration = -1;
    int threads = 0, force = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) { usage("runs a saved network"); return 0; }
        if (!strcmp(argv[a], "--force")) { force = 1; continue; }
        if (!strcmp(argv[a], "--duration") || !strcmp(argv[a], "--threads") || !strcmp(argv[a], "--out")) {
            if (a + 1 >= argc) { char m[128]; snprintf(m, sizeof m, "%s needs a value", argv[a]); return usage(m); }
            const char *v = argv[++a];
            char *end = NULL;
            if (!strcmp(argv[a - 1], "--duration")) {
                errno = 0;
                duration = strtod(v, &end);
                if (errno || end == v || *end || !(duration > 0) || duration > 1e9) {
                    char m[256]; snprintf(m, sizeof m, "--duration must be a positive number of seconds, got '%s'", v); return usage(m);
                }
            } else if (!strcmp(argv[a - 1], "--threads")) {
                long t = strtol(v, &end, 10);
                if (end == v || *end || t < 1 || t > 1024) {
                    char m[256]; snprintf(m, sizeof m, "--threads must be a whole number between 1 and 1024, got '%s'", v); return usage(m);
                }
                threads = (int)t;
            } else out = v;
        } else if (argv[a][0] == '-') {
            char m[256]; snprintf(m, sizeof m, "unknown option '%s'", argv[a]); return usage(m);
        } else if (!file) file = argv[a];
        else { char m[256]; snprintf(m, sizeof m, "unexpected argument '%s'", argv[a]); return usage(m); }
    }
    if (!file) return usage("missing the network file");
    if (duration < 0) return usage("missing --duration");
    if (threads == 0) threads = omp_get_max_threads();
    if (nm_isa_env_error()) { fprintf(stderr, "neuromorph-run: %s\n", nm_isa_env_error()); return 2; }

    double t0 = now_s();
    char err[512];
    nm_net_meta meta;
    nm_engine *e = nm_engine_load(file, &meta, err, sizeof err);
    if (!e) { fprintf(stderr, "neuromorph-run: %s\n", err); return 1; }
    const double build = now_s() - t0;
    const int64_t steps = (int64_t)llround(duration * 1000.0 / e->dt);
    if (steps < 1) { fprintf(stderr, "neuromorph-run: --duration %g s is shorter than one step (dt = %g ms)\n", duration, e->dt); return 2; }
    /* state monitors record every sample in memory (and convert it once more for writing): refuse a
     * duration whose samples cannot fit instead of running until the allocation fails */
    double mon_bytes = 0;
    for (int m = 0; m < e->nmons; m++)
        mon_bytes += ((double)steps / e->mons[m].every + 2) * (8.0 * e->mons[m].nidx + 16);
    const double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    if (mem > 0 && mon_bytes > mem) {
        fprintf(stderr, "neuromorph-run: --duration %g s: the state monitors of %s would need %.1f GB for their samples, more than "
                "this machine's %.1f GB (shorten the run, or sample fewer neurons or less often)\n", duration, file, mon_bytes / 1e9, mem / 1e9);
        nm_engine_free(e);
        return 2;
    }
    /* the output folder: claimed (policy, lock) before the run, written into a staging folder */
    const char *dir = NULL;
    if (out) {
        char cmd[4096] = "neuromorph-run", oerr[2048];
        for (int a = 1; a < argc; a++) {
            const size_t l = strlen(cmd);
            snprintf(cmd + l, sizeof cmd - l, " %s", argv[a]);
        }
        const char *inputs[1] = {file};
        run_claim = nm_out_claim(out, "run", "--out", force ? NM_OUT_FORCE : 0, inputs, 1, cmd, oerr, sizeof oerr);
        if (!run_claim || !(dir = nm_out_stage(run_claim, oerr, sizeof oerr))) {
            fprintf(stderr, "neuromorph-run: %s\n", oerr);
            nm_engine_free(e);
            return 1;
        }
        atexit(release_claim);   /* any later exit removes the staging folder (unless committed) and the lock */
    }
    /* on a terminal: progress (percent, real-time factor, ETA) on stderr, the run in ~100 pieces
     * (running in pieces gives the same spikes as one run) */
    const int tty = isatty(2);
    const int64_t piece = tty ? (steps + 99) / 100 : steps;
    double t1 = now_s();
    for (int64_t done = 0; done < steps; ) {
        const int64_t k = steps - done < piece ? steps - done : piece;
        if (nm_engine_run(e, k, threads) != 0) {
            nm_fault fault;
            if (nm_engine_fault(e, &fault)) {   /* NaN state, AdEx solver: named with the saved names */
                char msg[1024];
                const char *var = fault.var >= 0 ? nm_pop_var_name(e, fault.pop, fault.var) : NULL;
                nm_fault_describe(e, &fault, meta.pop_names[fault.pop], var, msg, sizeof msg);
                fprintf(stderr, "%sneuromorph-run: %s: simulation stopped: %s\n", tty ? "\n" : "", file, msg);
            } else {
                fprintf(stderr, "%sneuromorph-run: engine: %s\n", tty ? "\n" : "", nm_engine_error(e));
            }
            nm_engine_free(e);
            return 1;
        }
        done += k;
        if (tty) {
            const double el = now_s() - t1, frac = (double)done / (double)steps;
            fprintf(stderr, "\rneuromorph-run %s: %3.0f %%  RTF %.3f  ETA %.0f s   ", file, 100 * frac,
                    el / ((double)done * e->dt / 1000.0), el / frac - el);
        }
    }
    if (tty) fprintf(stderr, "\r%*s\r", 80, "");
    const double wall = now_s() - t1;
    const double sim_s = (double)steps * e->dt / 1000.0;

    /* spikes of recorded populations */
    if (out) {
        for (int p = 0; p < e->npops; p++) {
            const pop_t *P = &e->pops[p];
            if (!P->record) continue;
            double *t = malloc(sizeof(double) * (size_t)(P->rec_n ? P->rec_n : 1));
            if (!t) { fprintf(stderr, "neuromorph-run: out of memory\n"); return 1; }
            for (int64_t k = 0; k < P->rec_n; k++) t[k] = (double)P->rec_steps[k] * e->dt / 1000.0;
            char nt[600], ni[600];
            snprintf(nt, sizeof nt, "spikes_%s_t.npy", meta.pop_names[p]);
            snprintf(ni, sizeof ni, "spikes_%s_i.npy", meta.pop_names[p]);
            int bad = put_npy(dir, nt, "<f8", t, P->rec_n, 8) || put_npy(dir, ni, "<i4", P->rec_ids, P->rec_n, 4);
            free(t);
            if (bad) { fprintf(stderr, "neuromorph-run: cannot write %s/%s\n", out, nt); return 1; }
        }
    }
    /* sampled state: state_<pop>_<var>.npy [samples, neurons] (float32, reported unit), and once per
     * population state_<pop>_t.npy (s) and state_<pop>_neurons.npy, as neuromorph simulate writes them */
    if (out) {
        for (int m = 0; m < e->nmons; m++) {
            const mon_t *M = &e->mons[m];
            const char *pn = meta.pop_names[M->pop];
            int first = 1;
            for (int k = 0; k < m; k++) first &= e->mons[k].pop != M->pop;
            float *v = malloc(sizeof(float) * (size_t)(M->nsamples * M->nidx + 1));
            double *t = malloc(sizeof(double) * (size_t)(M->nsamples + 1));
            if (!v || !t) { fprintf(stderr, "neuromorph-run: out of memory\n"); return 1; }
            for (int64_t k = 0; k < M->nsamples * M->nidx; k++) {
                v[k] = (float)(M->data[k] * meta.mon_scales[m]);
                if (!isfinite(v[k])) {   /* the state is finite (checked during the run): only the float32 read-out can overflow */
                    fprintf(stderr, "neuromorph-run: %s: state monitor %d ('%s' of '%s'): the sample at t = %g s of neuron %d is %g, "
                            "which float32 (state_%s_%s.npy) cannot hold; nothing written\n", file, m, meta.mon_names[m], pn,
                            (double)M->steps[k / M->nidx] * e->dt / 1000.0, (int)M->idx[k % M->nidx], M->data[k] * meta.mon_scales[m],
                            pn, meta.mon_names[m]);
                    free(v); free(t);
                    return 1;
                }
            }
            for (int64_t k = 0; k < M->nsamples; k++) t[k] = (double)M->steps[k] * e->dt / 1000.0;
            char nv[600], nt[600], ni[600];
            snprintf(nv, sizeof nv, "state_%s_%s.npy", pn, meta.mon_names[m]);
            snprintf(nt, sizeof nt, "state_%s_t.npy", pn);
            snprintf(ni, sizeof ni, "state_%s_neurons.npy", pn);
            int bad = put_npy2(dir, nv, "<f4", v, M->nsamples, M->nidx, 4) ||
                      (first && (put_npy(dir, nt, "<f8", t, M->nsamples, 8) || put_npy(dir, ni, "<i4", M->idx, M->nidx, 4)));
            free(v); free(t);
            if (bad) { fprintf(stderr, "neuromorph-run: cannot write %s/%s\n", out, nv); return 1; }
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t neurons = 0, spikes = 0, synapses = 0, events = 0;
    for (int p = 0; p < e->npops; p++) {
        if (!e->pops[p].is_source) neurons += e->pops[p].n;
        spikes += e->pops[p].total;
    }
    for (int j = 0; j < e->nprojs; j++) { synapses += e->projs[j].synapses; events += e->projs[j].events; }

    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) { fprintf(stderr, "neuromorph-run: out of memory\n"); return 1; }
    fprintf(f, "{\n  \"network_file\": ");
    json_string(f, file);
    fprintf(f, ",\n  \"neurons\": %lld,\n  \"synapses\": %lld,\n  \"spikes\": %lld,\n  \"synaptic_events\": %lld,\n",
            (long long)neurons, (long long)synapses, (long long)spikes, (long long)events);
    fprintf(f, "  \"simulated_seconds\": %.17g,\n  \"wall_seconds\": %.17g,\n  \"build_seconds\": %.17g,\n"
               "  \"realtime_factor\": %.17g,\n  \"peak_rss_bytes\": %lld,\n  \"threads\": %d,\n  \"threads_mode\": \"fixed\",\n"
               "  \"seed\": %llu,\n  \"dt_ms\": %.17g,\n  \"isa\": \"%s\",\n  \"cpu\": ",
            sim_s, wall, build, wall / sim_s, (long long)ru.ru_maxrss * 1024, threads, (unsigned long long)e->seed, e->dt,
            nm_isa_name());
    json_string(f, nm_cpu_model());
    fprintf(f, ",\n  \"populations\": {");
    for (int p = 0; p < e->npops; p++) {
        const pop_t *P = &e->pops[p];
        fprintf(f, "%s\n    ", p ? "," : "");
        json_string(f, meta.pop_names[p]);
        fprintf(f, ": {\"neurons\": %d, \"spikes\": %lld, \"mean_rate_hz\": %.17g}", P->n, (long long)P->total,
                (double)P->total / (double)(P->n > 0 ? P->n : 1) / sim_s);
    }
    fprintf(f, "\n  },\n  \"poisson_inputs\": {");
    for (int k = 0; k < e->ninputs; k++) {
        const nm_pinput *in = &e->inputs[k];
        fprintf(f, "%s\n    ", k ? "," : "");
        json_string(f, meta.input_names[k]);
        fprintf(f, ": {\"kind\": \"poisson_input\", \"target\": ");
        json_string(f, meta.pop_names[in->d.pop]);
        fprintf(f, ", \"sources\": %d, \"rate_hz\": %.17g, \"events\": %lld}", (int)in->d.sources, in->d.p / e->dt * 1000.0,
                (long long)in->events);
    }
    fprintf(f, "%s}\n}\n", e->ninputs ? "\n  " : "");
    fclose(f);
    if (out) {
        char oerr[2048];
        if (put_file(dir, "summary.json", buf, blen, NULL, 0)) { fprintf(stderr, "neuromorph-run: cannot write %s/summary.json\n", out); return 1; }
        if (nm_out_commit(run_claim, oerr, sizeof oerr) != 0) { fprintf(stderr, "neuromorph-run: %s\n", oerr); return 1; }
        fprintf(stderr, "neuromorph-run: %lld spikes in %.3f s simulated, wall %.3f s (RTF %.4f); wrote %s\n",
                (long long)spikes, sim_s, wall, wall / sim_s, out);
    } else {
        fwrite(buf, 1, blen, stdout);
    }
    free(buf);
    nm_engine_free(e);
    return 0;
}
