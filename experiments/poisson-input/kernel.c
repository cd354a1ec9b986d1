/* The Poisson-input kernel alone (issue 14): loads a saved network, then calls nm_inputs_apply on every
 * population that has Poisson inputs, step after step, and prints the thread CPU time per neuron and draw
 * (best of REPS). The engine's own objects do the work (linked by kernel.sh); NM_ISA picks the path.
 *   usage: kernel NET.nmnet STEPS REPS */
#include "nm_snn.h"
#include "snn_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int64_t nm_inputs_apply(nm_engine *e, int pop, int32_t lo, int32_t hi, int64_t n, int64_t *events);

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s NET.nmnet STEPS REPS\n", argv[0]); return 2; }
    char err[512];
    nm_net_meta meta;
    nm_engine *e = nm_engine_load(argv[1], &meta, err, sizeof err);
    if (!e) { fprintf(stderr, "%s: %s\n", argv[1], err); return 1; }
    if (nm_engine_run(e, 1, 1)) { fprintf(stderr, "%s: the first step failed\n", argv[1]); return 1; }   /* buffers, threads */
    const int steps = atoi(argv[2]), reps = atoi(argv[3]);
    if (steps < 1 || reps < 1) { fprintf(stderr, "STEPS and REPS must be >= 1\n"); return 2; }
    int64_t *events = calloc((size_t)e->ninputs + 1, sizeof(int64_t));
    double best = 1e30;
    int64_t draws = 0;
    for (int r = 0; r < reps; r++) {
        draws = 0;
        const double t0 = thread_cpu();
        for (int64_t n = 10; n < 10 + steps; n++)
            for (int p = 0; p < e->npops; p++) {
                int nin = 0;
                for (int k = 0; k < e->ninputs; k++) nin += e->inputs[k].d.pop == p;
                if (!nin) continue;
                nm_inputs_apply(e, p, 0, e->pops[p].n, n, events);   /* every input of p */
                draws += (int64_t)nin * e->pops[p].n;
            }
        const double t = thread_cpu() - t0;
        if (t < best) best = t;
    }
    int64_t ev = 0;
    for (int k = 0; k < e->ninputs; k++) ev += events[k];
    printf("%.3f ns per neuron and draw (best of %d runs of %d steps; %lld draws per run, %lld events in all)\n",
           1e9 * best / (double)draws, reps, steps, (long long)draws, (long long)ev);
    free(events);
    nm_engine_free(e);
    return 0;
}
