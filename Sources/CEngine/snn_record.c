/* Recording: spike recording (all or masked neurons), per-step spike counts, per-neuron counts, state
 * monitors, and the merge of an interval's spike lists into them after the barrier (thread 0). */
#include "nm_snn.h"
#include "snn_internal.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

int nm_engine_record_spikes(nm_engine *e, int pop, const uint8_t *mask) {
    if (pop < 0 || pop >= e->npops) return nm_fail(e, "spike recording: no such population");
    pop_t *P = &e->pops[pop];
    P->record = 1;
    free(P->mask);
    P->mask = NULL;
    if (mask) {
        P->mask = nm_calloc(e, (size_t)P->n, 1);
        memcpy(P->mask, mask, (size_t)P->n);
    }
    return 0;
}
int64_t nm_rec_count(const nm_engine *e, int pop) { return e->pops[pop].rec_n; }
const int64_t *nm_rec_steps(const nm_engine *e, int pop) { return e->pops[pop].rec_steps; }
const int32_t *nm_rec_ids(const nm_engine *e, int pop) { return e->pops[pop].rec_ids; }
void nm_rec_clear(nm_engine *e) {
    for (int p = 0; p < e->npops; p++) { e->pops[p].rec_n = 0; e->pops[p].cnt_n = 0; }
    for (int m = 0; m < e->nmons; m++) e->mons[m].nsamples = 0;
}
int nm_engine_record_counts(nm_engine *e, int pop) {
    if (pop < 0 || pop >= e->npops) return nm_fail(e, "spike counts: no such population");
    e->pops[pop].count_rec = 1;
    return 0;
}
int64_t nm_counts_len(const nm_engine *e, int pop) { return e->pops[pop].cnt_n; }
const int32_t *nm_counts(const nm_engine *e, int pop) { return e->pops[pop].cnt; }
int64_t nm_pop_spike_total(const nm_engine *e, int pop) { return e->pops[pop].total; }
const int32_t *nm_pop_spike_counts(const nm_engine *e, int pop) {
    return e->pops[pop].no_per_neuron ? NULL : e->pops[pop].per_neuron;
}
int nm_pop_count_per_neuron(nm_engine *e, int pop, int on) {
    if (pop < 0 || pop >= e->npops) return nm_fail(e, "no such population");
    if (!on)  /* a max-pool gate reads its source's counts */
        for (int j = 0; j < e->nprojs; j++)
            if (e->projs[j].d.kind == NM_PROJ_MAXPOOL && e->projs[j].d.pre == pop) return 0;
    e->pops[pop].no_per_neuron = !on;
    if (on) memset(e->pops[pop].per_neuron, 0, sizeof(int32_t) * (size_t)e->pops[pop].n);
    return 0;
}

int nm_engine_add_state_monitor(nm_engine *e, int pop, int var, const int32_t *idx, int32_t nidx, int32_t every) {
    if (pop < 0 || pop >= e->npops) return nm_fail(e, "state monitor: no such population");
    pop_t *P = &e->pops[pop];
    if (var < 0 || var >= P->nvars) return nm_fail(e, "state monitor: no such variable");
    if (every < 1) return nm_fail(e, "state monitor: sampling interval must be >= 1 step");
    if (nidx < 0 || (nidx > 0 && !idx)) return nm_fail(e, "state monitor: bad neuron list");
    for (int32_t k = 0; k < nidx; k++) if (idx[k] < 0 || idx[k] >= P->n) return nm_fail(e, "state monitor: neuron index out of range");
    mon_t *nm = realloc(e->mons, sizeof(mon_t) * (size_t)(e->nmons + 1));
    if (!nm) return nm_fail(e, "out of memory");
    e->mons = nm;
    mon_t *M = &e->mons[e->nmons];
    memset(M, 0, sizeof *M);
    M->pop = pop; M->var = var; M->nidx = nidx; M->every = every;
    M->idx = malloc(sizeof(int32_t) * (size_t)(nidx ? nidx : 1));
    if (!M->idx) return nm_fail(e, "out of memory");
    if (nidx) memcpy(M->idx, idx, sizeof(int32_t) * (size_t)nidx);
    return e->nmons++;
}
int64_t nm_state_samples(const nm_engine *e, int mon) { return e->mons[mon].nsamples; }
const float *nm_state_data(const nm_engine *e, int mon) { return e->mons[mon].data; }
const int64_t *nm_state_steps(const nm_engine *e, int mon) { return e->mons[mon].steps; }

/* ---- recording after merge (single thread) ---- */

int nm_grow(void **p, int64_t *cap, int64_t need, size_t sz) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, (size_t)nc * sz);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

int nm_record_interval(nm_engine *e, int b, int nt, int64_t n0, int L) {
    for (int p = 0; p < e->npops; p++) {
        pop_t *P = &e->pops[p];
        if (P->count_rec) {
            int64_t cap = P->cnt_cap;
            if (nm_grow((void **)&P->cnt, &cap, P->cnt_n + L, sizeof(int32_t))) return -1;
            P->cnt_cap = cap;
        }
        for (int k = 0; k < L; k++) {
            int64_t step_count = 0;
            for (int tt = 0; tt < nt; tt++) {
                const tl_t *T = &e->tl[(b * nt + tt) * e->npops + p];
                int64_t a = T->ptr[k], z = T->ptr[k + 1];
                step_count += z - a;
                if (P->record && z > a) {
                    int64_t c1 = P->rec_cap, c2 = P->rec_cap;
                    if (nm_grow((void **)&P->rec_steps, &c1, P->rec_n + (z - a), sizeof(int64_t))) return -1;
                    if (nm_grow((void **)&P->rec_ids, &c2, P->rec_n + (z - a), sizeof(int32_t))) return -1;
                    P->rec_cap = c1;
                    for (int64_t s = a; s < z; s++) {
                        int32_t i = T->ids[s];
                        if (P->mask && !P->mask[i]) continue;
                        P->rec_steps[P->rec_n] = n0 + k + 1;
                        P->rec_ids[P->rec_n] = i;
                        P->rec_n++;
                    }
                }
            }
            P->total += step_count;
            if (P->count_rec) P->cnt[P->cnt_n++] = (int32_t)step_count;
        }
    }
    return 0;
}
