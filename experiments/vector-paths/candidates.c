/* Two ways to write a neuron kernel once for every vector width, on the engine's most expensive
 * update (LIF with exponential conductances, COBA):
 *   ext     the engine's own kernel (Sources/CEngine/models/lif_cond_exp.c: clang ext_vector_type blocks of 16
 *           neurons, compare masks as bits, bit compaction), called through its per-path table;
 *   simd    the same arithmetic as a plain loop under `#pragma omp simd` (spike flags, then a scan of
 *           the flags), compiled per path with the same target attributes.
 * Both run N neurons for S steps with sparse conductance input (as COBA's), on each path; the program
 * prints ns per neuron-step (median of R repetitions) and checks that every variant and path ends in
 * the same state, bit for bit.
 *
 *   bash experiments/vector-paths/run.sh candidates     (builds with Swift's clang and runs it) */
#include "../../Sources/CEngine/models/lif_cond_exp.c"
#include <math.h>
#include <stdio.h>
#include <time.h>

/* ---- the candidate: a loop the compiler vectorizes ---- */
static inline __attribute__((always_inline)) float expf_def(float x) {   /* = vf_exp per lane */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float t = x * 1.44269504088896341f + 0.5f;
    int32_t n = (int32_t)t;
    n -= (float)n > t;
    const float fx = (float)n;
    const float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    union { int32_t i; float f; } u;
    u.i = (n + 127) << 23;
    return y * u.f;
}

static inline __attribute__((always_inline)) int64_t cond_simd_body(const cond_consts *c, float *v, float *ge, float *gi, float *be,
                                                                    float *bi, const float *ie, int32_t *rf, uint8_t *fl,
                                                                    int32_t lo, int32_t hi, int32_t *out) {
    const float gl = c->gl, glel = c->glel, ee = c->ee, ei = c->ei, i0 = c->i0, dtc = c->dtc, vres = c->vres, vth = c->vth;
    const float pe = c->pe, pi = c->pi;
    const int32_t tref = c->tref;
#pragma omp simd
    for (int32_t i = lo; i < hi; i++) {
        const float g1 = ge[i] + be[i], g2 = gi[i] + bi[i];
        be[i] = 0.0f; bi[i] = 0.0f;
        const int32_t r = rf[i];
        const int ref = r > 0;
        const float gt = (gl + g1) + g2;
        const float it = ((glel + g1 * ee) + g2 * ei) + (i0 + ie[i]);
        const float a = dtc * gt;
        float p = -1.0f / 40320.0f;
        p = p * a + 1.0f / 5040.0f;
        p = p * a + -1.0f / 720.0f;
        p = p * a + 1.0f / 120.0f;
        p = p * a + -1.0f / 24.0f;
        p = p * a + 1.0f / 6.0f;
        p = p * a + -0.5f;
        p = p * a + 1.0f;
        const float phi = fabsf(a) < 0.5f ? p : (1.0f - expf_def(-a)) / a;
        float x = v[i] + (dtc * (it - gt * v[i])) * phi;
        x = ref ? vres : x;
        const int sp = !ref && x >= vth;
        x = sp ? vres : x;
        rf[i] = sp ? tref : (ref ? r - 1 : 0);
        v[i] = x;
        ge[i] = g1 * pe;
        gi[i] = g2 * pi;
        fl[i - lo] = (uint8_t)sp;
    }
    return nm_scan_flags(fl, lo, hi, out);
}
NM_STAMP(int64_t, cond_simd,
         (const cond_consts *c, float *v, float *ge, float *gi, float *be, float *bi, const float *ie, int32_t *rf, uint8_t *fl,
          int32_t lo, int32_t hi, int32_t *out),
         (c, v, ge, gi, be, bi, ie, rf, fl, lo, hi, out));

/* ---- harness ---- */
enum { N = 4000, STEPS = 2000 };

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

typedef struct { float v[N], ge[N], gi[N], be[N], bi[N], ie[N]; int32_t rf[N]; } state_t;

static uint64_t rng_state = 1;
static uint32_t rnd(void) { rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull; return (uint32_t)(rng_state >> 33); }

static void init(state_t *s) {
    rng_state = 1;
    for (int i = 0; i < N; i++) { s->v[i] = -60.0f + (float)(rnd() % 10000) * 1e-3f; s->ge[i] = s->gi[i] = s->be[i] = s->bi[i] = s->ie[i] = 0; s->rf[i] = 0; }
}
/* COBA-like input: ~1 % of neurons get an excitatory jump (6 nS), ~0.5 % an inhibitory one (67 nS) */
static void inputs(state_t *s) {
    for (int k = 0; k < N / 100; k++) s->be[rnd() % N] += 6.0f;
    for (int k = 0; k < N / 200; k++) s->bi[rnd() % N] += 67.0f;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 7;
    const char *only = argc > 2 ? argv[2] : NULL;   /* one path only (for callgrind) */
    nm_isa_init_();
    static state_t s;
    static int32_t out[N + 16];
    static uint8_t fl[N + 64];
    /* COBA parameters (configs/coba.yaml), dt = 0.1 ms */
    pop_t P;
    memset(&P, 0, sizeof P);
    P.n = N;
    nm_lif_cond_exp_params par = {.c_m = 200, .g_l = 10, .e_l = -60, .e_e = 0, .e_i = -80, .v_th = -50, .v_reset = -60,
                                   .t_ref_steps = 50, .pe = exp(-0.1 / 5), .pi = exp(-0.1 / 10), .i_e = 0};
    P.params = &par;
    nm_engine E;
    memset(&E, 0, sizeof E);
    E.nslots = 1;
    E.dt = 0.1;
    cond_consts c;
    c.gl = 10; c.ee = 0; c.ei = -80; c.vth = -50; c.vres = -60; c.tref = 50; c.pe = (float)exp(-0.1 / 5); c.pi = (float)exp(-0.1 / 10);
    c.i0 = 0; c.dtc = 0.1f / 200.0f; c.glel = 10.0f * -60.0f;
    const char *names[NM_ISA_COUNT] = {"baseline", "avx2", "avx512"};
    uint32_t ref_hash = 0;
    int have_ref = 0, bad = 0;
    printf("%-9s %-8s %12s %10s\n", "variant", "path", "ns/neuron", "spikes");
    for (int variant = 0; variant < 2; variant++)
        for (int k = NM_ISA_COUNT - 1; k >= 0; k--) {
            if (nm_isa_supported(names[k]) != 1 || (only && strcmp(only, names[k]))) continue;
            double t[64];
            int64_t spikes = 0;
            for (int r = 0; r < reps && r < 64; r++) {
                init(&s);
                P.var[0] = s.v; P.var[1] = s.ge; P.var[2] = s.gi; P.buf[0] = s.be; P.buf[1] = s.bi; P.iext = s.ie; P.refr = s.rf;
                spikes = 0;
                double el = 0;
                for (int step = 0; step < STEPS; step++) {
                    inputs(&s);
                    const double t0 = now();
                    spikes += variant == 0 ? upd_cond_exp_isa[k](&E, &P, 0, N, step, out, 0)
                                           : cond_simd_isa[k](&c, s.v, s.ge, s.gi, s.be, s.bi, s.ie, s.rf, fl, 0, N, out);
                    el += now() - t0;
                }
                t[r] = el;
            }
            qsort(t, (size_t)(reps < 64 ? reps : 64), sizeof(double), cmp);
            uint32_t h = 2166136261u;
            const uint8_t *bytes = (const uint8_t *)&s;
            for (size_t q = 0; q < sizeof s; q++) h = (h ^ bytes[q]) * 16777619u;
            if (!have_ref) { ref_hash = h; have_ref = 1; }
            if (h != ref_hash) bad = 1;
            printf("%-9s %-8s %12.3f %10lld   state %08x\n", variant ? "omp simd" : "ext", names[k],
                   1e9 * t[(reps < 64 ? reps : 64) / 2] / ((double)N * STEPS), (long long)spikes, h);
        }
    printf(bad ? "DIFFERENT final states\n" : "all final states bit-identical\n");
    return bad;
}
