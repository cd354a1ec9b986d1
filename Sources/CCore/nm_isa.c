/* The dispatch layer: which vector path the kernels run (see nm_isa.h and nm_vec.h). The CPU is
 * detected once; NM_ISA or nm_isa_set() may choose a lower path. CPU feature detection is the only
 * architecture-specific code of the kernels. */
#include "nm_vec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

int nm_isa_active_ = -1;

/* nm_bit_positions[b]: the positions of the set bits of byte b, ascending, then zeros (compact_bits in
 * nm_vec.h). Generated: [[j for j in range(8) if b >> j & 1] + zeros for b in range(256)]. */
const uint8_t nm_bit_positions[256][8] = {
    {0,0,0,0,0,0,0,0}, {0,0,0,0,0,0,0,0}, {1,0,0,0,0,0,0,0}, {0,1,0,0,0,0,0,0}, {2,0,0,0,0,0,0,0}, {0,2,0,0,0,0,0,0}, {1,2,0,0,0,0,0,0}, {0,1,2,0,0,0,0,0},
    {3,0,0,0,0,0,0,0}, {0,3,0,0,0,0,0,0}, {1,3,0,0,0,0,0,0}, {0,1,3,0,0,0,0,0}, {2,3,0,0,0,0,0,0}, {0,2,3,0,0,0,0,0}, {1,2,3,0,0,0,0,0}, {0,1,2,3,0,0,0,0},
    {4,0,0,0,0,0,0,0}, {0,4,0,0,0,0,0,0}, {1,4,0,0,0,0,0,0}, {0,1,4,0,0,0,0,0}, {2,4,0,0,0,0,0,0}, {0,2,4,0,0,0,0,0}, {1,2,4,0,0,0,0,0}, {0,1,2,4,0,0,0,0},
    {3,4,0,0,0,0,0,0}, {0,3,4,0,0,0,0,0}, {1,3,4,0,0,0,0,0}, {0,1,3,4,0,0,0,0}, {2,3,4,0,0,0,0,0}, {0,2,3,4,0,0,0,0}, {1,2,3,4,0,0,0,0}, {0,1,2,3,4,0,0,0},
    {5,0,0,0,0,0,0,0}, {0,5,0,0,0,0,0,0}, {1,5,0,0,0,0,0,0}, {0,1,5,0,0,0,0,0}, {2,5,0,0,0,0,0,0}, {0,2,5,0,0,0,0,0}, {1,2,5,0,0,0,0,0}, {0,1,2,5,0,0,0,0},
    {3,5,0,0,0,0,0,0}, {0,3,5,0,0,0,0,0}, {1,3,5,0,0,0,0,0}, {0,1,3,5,0,0,0,0}, {2,3,5,0,0,0,0,0}, {0,2,3,5,0,0,0,0}, {1,2,3,5,0,0,0,0}, {0,1,2,3,5,0,0,0},
    {4,5,0,0,0,0,0,0}, {0,4,5,0,0,0,0,0}, {1,4,5,0,0,0,0,0}, {0,1,4,5,0,0,0,0}, {2,4,5,0,0,0,0,0}, {0,2,4,5,0,0,0,0}, {1,2,4,5,0,0,0,0}, {0,1,2,4,5,0,0,0},
    {3,4,5,0,0,0,0,0}, {0,3,4,5,0,0,0,0}, {1,3,4,5,0,0,0,0}, {0,1,3,4,5,0,0,0}, {2,3,4,5,0,0,0,0}, {0,2,3,4,5,0,0,0}, {1,2,3,4,5,0,0,0}, {0,1,2,3,4,5,0,0},
    {6,0,0,0,0,0,0,0}, {0,6,0,0,0,0,0,0}, {1,6,0,0,0,0,0,0}, {0,1,6,0,0,0,0,0}, {2,6,0,0,0,0,0,0}, {0,2,6,0,0,0,0,0}, {1,2,6,0,0,0,0,0}, {0,1,2,6,0,0,0,0},
    {3,6,0,0,0,0,0,0}, {0,3,6,0,0,0,0,0}, {1,3,6,0,0,0,0,0}, {0,1,3,6,0,0,0,0}, {2,3,6,0,0,0,0,0}, {0,2,3,6,0,0,0,0}, {1,2,3,6,0,0,0,0}, {0,1,2,3,6,0,0,0},
    {4,6,0,0,0,0,0,0}, {0,4,6,0,0,0,0,0}, {1,4,6,0,0,0,0,0}, {0,1,4,6,0,0,0,0}, {2,4,6,0,0,0,0,0}, {0,2,4,6,0,0,0,0}, {1,2,4,6,0,0,0,0}, {0,1,2,4,6,0,0,0},
    {3,4,6,0,0,0,0,0}, {0,3,4,6,0,0,0,0}, {1,3,4,6,0,0,0,0}, {0,1,3,4,6,0,0,0}, {2,3,4,6,0,0,0,0}, {0,2,3,4,6,0,0,0}, {1,2,3,4,6,0,0,0}, {0,1,2,3,4,6,0,0},
    {5,6,0,0,0,0,0,0}, {0,5,6,0,0,0,0,0}, {1,5,6,0,0,0,0,0}, {0,1,5,6,0,0,0,0}, {2,5,6,0,0,0,0,0}, {0,2,5,6,0,0,0,0}, {1,2,5,6,0,0,0,0}, {0,1,2,5,6,0,0,0},
    {3,5,6,0,0,0,0,0}, {0,3,5,6,0,0,0,0}, {1,3,5,6,0,0,0,0}, {0,1,3,5,6,0,0,0}, {2,3,5,6,0,0,0,0}, {0,2,3,5,6,0,0,0}, {1,2,3,5,6,0,0,0}, {0,1,2,3,5,6,0,0},
    {4,5,6,0,0,0,0,0}, {0,4,5,6,0,0,0,0}, {1,4,5,6,0,0,0,0}, {0,1,4,5,6,0,0,0}, {2,4,5,6,0,0,0,0}, {0,2,4,5,6,0,0,0}, {1,2,4,5,6,0,0,0}, {0,1,2,4,5,6,0,0},
    {3,4,5,6,0,0,0,0}, {0,3,4,5,6,0,0,0}, {1,3,4,5,6,0,0,0}, {0,1,3,4,5,6,0,0}, {2,3,4,5,6,0,0,0}, {0,2,3,4,5,6,0,0}, {1,2,3,4,5,6,0,0}, {0,1,2,3,4,5,6,0},
    {7,0,0,0,0,0,0,0}, {0,7,0,0,0,0,0,0}, {1,7,0,0,0,0,0,0}, {0,1,7,0,0,0,0,0}, {2,7,0,0,0,0,0,0}, {0,2,7,0,0,0,0,0}, {1,2,7,0,0,0,0,0}, {0,1,2,7,0,0,0,0},
    {3,7,0,0,0,0,0,0}, {0,3,7,0,0,0,0,0}, {1,3,7,0,0,0,0,0}, {0,1,3,7,0,0,0,0}, {2,3,7,0,0,0,0,0}, {0,2,3,7,0,0,0,0}, {1,2,3,7,0,0,0,0}, {0,1,2,3,7,0,0,0},
    {4,7,0,0,0,0,0,0}, {0,4,7,0,0,0,0,0}, {1,4,7,0,0,0,0,0}, {0,1,4,7,0,0,0,0}, {2,4,7,0,0,0,0,0}, {0,2,4,7,0,0,0,0}, {1,2,4,7,0,0,0,0}, {0,1,2,4,7,0,0,0},
    {3,4,7,0,0,0,0,0}, {0,3,4,7,0,0,0,0}, {1,3,4,7,0,0,0,0}, {0,1,3,4,7,0,0,0}, {2,3,4,7,0,0,0,0}, {0,2,3,4,7,0,0,0}, {1,2,3,4,7,0,0,0}, {0,1,2,3,4,7,0,0},
    {5,7,0,0,0,0,0,0}, {0,5,7,0,0,0,0,0}, {1,5,7,0,0,0,0,0}, {0,1,5,7,0,0,0,0}, {2,5,7,0,0,0,0,0}, {0,2,5,7,0,0,0,0}, {1,2,5,7,0,0,0,0}, {0,1,2,5,7,0,0,0},
    {3,5,7,0,0,0,0,0}, {0,3,5,7,0,0,0,0}, {1,3,5,7,0,0,0,0}, {0,1,3,5,7,0,0,0}, {2,3,5,7,0,0,0,0}, {0,2,3,5,7,0,0,0}, {1,2,3,5,7,0,0,0}, {0,1,2,3,5,7,0,0},
    {4,5,7,0,0,0,0,0}, {0,4,5,7,0,0,0,0}, {1,4,5,7,0,0,0,0}, {0,1,4,5,7,0,0,0}, {2,4,5,7,0,0,0,0}, {0,2,4,5,7,0,0,0}, {1,2,4,5,7,0,0,0}, {0,1,2,4,5,7,0,0},
    {3,4,5,7,0,0,0,0}, {0,3,4,5,7,0,0,0}, {1,3,4,5,7,0,0,0}, {0,1,3,4,5,7,0,0}, {2,3,4,5,7,0,0,0}, {0,2,3,4,5,7,0,0}, {1,2,3,4,5,7,0,0}, {0,1,2,3,4,5,7,0},
    {6,7,0,0,0,0,0,0}, {0,6,7,0,0,0,0,0}, {1,6,7,0,0,0,0,0}, {0,1,6,7,0,0,0,0}, {2,6,7,0,0,0,0,0}, {0,2,6,7,0,0,0,0}, {1,2,6,7,0,0,0,0}, {0,1,2,6,7,0,0,0},
    {3,6,7,0,0,0,0,0}, {0,3,6,7,0,0,0,0}, {1,3,6,7,0,0,0,0}, {0,1,3,6,7,0,0,0}, {2,3,6,7,0,0,0,0}, {0,2,3,6,7,0,0,0}, {1,2,3,6,7,0,0,0}, {0,1,2,3,6,7,0,0},
    {4,6,7,0,0,0,0,0}, {0,4,6,7,0,0,0,0}, {1,4,6,7,0,0,0,0}, {0,1,4,6,7,0,0,0}, {2,4,6,7,0,0,0,0}, {0,2,4,6,7,0,0,0}, {1,2,4,6,7,0,0,0}, {0,1,2,4,6,7,0,0},
    {3,4,6,7,0,0,0,0}, {0,3,4,6,7,0,0,0}, {1,3,4,6,7,0,0,0}, {0,1,3,4,6,7,0,0}, {2,3,4,6,7,0,0,0}, {0,2,3,4,6,7,0,0}, {1,2,3,4,6,7,0,0}, {0,1,2,3,4,6,7,0},
    {5,6,7,0,0,0,0,0}, {0,5,6,7,0,0,0,0}, {1,5,6,7,0,0,0,0}, {0,1,5,6,7,0,0,0}, {2,5,6,7,0,0,0,0}, {0,2,5,6,7,0,0,0}, {1,2,5,6,7,0,0,0}, {0,1,2,5,6,7,0,0},
    {3,5,6,7,0,0,0,0}, {0,3,5,6,7,0,0,0}, {1,3,5,6,7,0,0,0}, {0,1,3,5,6,7,0,0}, {2,3,5,6,7,0,0,0}, {0,2,3,5,6,7,0,0}, {1,2,3,5,6,7,0,0}, {0,1,2,3,5,6,7,0},
    {4,5,6,7,0,0,0,0}, {0,4,5,6,7,0,0,0}, {1,4,5,6,7,0,0,0}, {0,1,4,5,6,7,0,0}, {2,4,5,6,7,0,0,0}, {0,2,4,5,6,7,0,0}, {1,2,4,5,6,7,0,0}, {0,1,2,4,5,6,7,0},
    {3,4,5,6,7,0,0,0}, {0,3,4,5,6,7,0,0}, {1,3,4,5,6,7,0,0}, {0,1,3,4,5,6,7,0}, {2,3,4,5,6,7,0,0}, {0,2,3,4,5,6,7,0}, {1,2,3,4,5,6,7,0}, {0,1,2,3,4,5,6,7},
};
static int isa_best = NM_ISA_BASELINE;       /* the best path allowed (nm_isa_limit_cpu) */
static int isa_detected = NM_ISA_BASELINE;   /* the best path the CPU supports */
static char isa_env_err[320];
static int isa_env_bad = 0;
static char cpu_model[128];
static char isa_avail[64];
static int isa_state = 0;   /* 0: not detected, 1: detecting, 2: done */

static const char *const isa_names[NM_ISA_COUNT] = {"baseline", "avx2", "avx512"};

/* Path index of a name, NM_ISA_COUNT for "auto", -1 if unknown. */
static int isa_lookup(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "auto")) return NM_ISA_COUNT;
    if (!strcmp(name, "scalar")) return NM_ISA_BASELINE;
    for (int k = 0; k < NM_ISA_COUNT; k++) if (!strcmp(name, isa_names[k])) return k;
    return -1;
}

static void detect_cpu_model(void) {
#if defined(__x86_64__)
    unsigned int r[12], a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
        for (unsigned int leaf = 0; leaf < 3; leaf++) __get_cpuid(0x80000002u + leaf, &r[4 * leaf], &r[4 * leaf + 1], &r[4 * leaf + 2], &r[4 * leaf + 3]);
        char s[49];
        memcpy(s, r, 48);
        s[48] = 0;
        const char *p = s;
        while (*p == ' ') p++;
        snprintf(cpu_model, sizeof cpu_model, "%s", p);
    }
#endif
    if (!cpu_model[0]) {
        FILE *f = fopen("/proc/cpuinfo", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) && strncmp(line, "Hardware", 8)) continue;
            const char *p = strchr(line, ':');
            if (!p) continue;
            for (p++; *p == ' ' || *p == '\t'; p++) {}
            snprintf(cpu_model, sizeof cpu_model, "%s", p);
            break;
        }
        if (f) fclose(f);
    }
    size_t n = strlen(cpu_model);
    while (n && (cpu_model[n - 1] == '\n' || cpu_model[n - 1] == ' ')) cpu_model[--n] = 0;
    if (!cpu_model[0]) {
#if defined(__aarch64__)
        snprintf(cpu_model, sizeof cpu_model, "unknown aarch64 CPU");
#elif defined(__x86_64__)
        snprintf(cpu_model, sizeof cpu_model, "unknown x86-64 CPU");
#else
        snprintf(cpu_model, sizeof cpu_model, "unknown CPU");
#endif
    }
}

static void list_available(void) {
    isa_avail[0] = 0;
    for (int k = isa_best; k >= 0; k--) {
        strcat(isa_avail, isa_names[k]);
        if (k) strcat(isa_avail, ",");
    }
}

static const char *isa_requirement(int k) {
    return k == NM_ISA_AVX512 ? "AVX-512 F, BW, VL and DQ" : k == NM_ISA_AVX2 ? "AVX2, BMI1, BMI2 and POPCNT" : "nothing";
}

static void isa_detect(void) {
    detect_cpu_model();
    isa_best = NM_ISA_BASELINE;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                     __builtin_cpu_supports("popcnt");
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    isa_best = avx512 ? NM_ISA_AVX512 : avx2 ? NM_ISA_AVX2 : NM_ISA_BASELINE;
#endif
    isa_detected = isa_best;
    list_available();
    int chosen = isa_best;
    const char *env = getenv("NM_ISA");
    if (env && *env) {
        const int k = isa_lookup(env);
        if (k < 0) {
            snprintf(isa_env_err, sizeof isa_env_err,
                     "NM_ISA=%s is not a vector path: expected avx512, avx2, baseline (or scalar, the same) or auto", env);
            isa_env_bad = 1;
        } else if (k < NM_ISA_COUNT && k > isa_best) {
            snprintf(isa_env_err, sizeof isa_env_err,
                     "NM_ISA=%s: this CPU (%s) cannot run the %s path, which needs %s; paths available here: %s", env,
                     cpu_model, isa_names[k], isa_requirement(k), isa_avail);
            isa_env_bad = 1;
        } else {
            chosen = k == NM_ISA_COUNT ? isa_best : k;
        }
    }
    __atomic_store_n(&nm_isa_active_, chosen, __ATOMIC_RELEASE);
}

/* Detects once; a thread that arrives while another detects waits for it. */
int nm_isa_init_(void) {
    int expected = 0;
    if (__atomic_compare_exchange_n(&isa_state, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        isa_detect();
        __atomic_store_n(&isa_state, 2, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&isa_state, __ATOMIC_ACQUIRE) != 2) nm_cpu_relax();
    }
    return __atomic_load_n(&nm_isa_active_, __ATOMIC_ACQUIRE);
}

const char *nm_isa_name(void) { return isa_names[nm_isa_index()]; }
const char *nm_isa_best(void) { nm_isa_init_(); return isa_names[isa_best]; }
const char *nm_isa_available(void) { nm_isa_init_(); return isa_avail; }
const char *nm_isa_env_error(void) { nm_isa_init_(); return isa_env_bad ? isa_env_err : NULL; }
const char *nm_cpu_model(void) { nm_isa_init_(); return cpu_model; }

int nm_isa_supported(const char *name) {
    nm_isa_init_();
    const int k = isa_lookup(name);
    if (k < 0) return -1;
    return k == NM_ISA_COUNT || k <= isa_best;
}

int nm_isa_set(const char *name, char *err, size_t errlen) {
    nm_isa_init_();
    const int k = isa_lookup(name);
    if (k < 0) {
        if (err && errlen) snprintf(err, errlen, "'%s' is not a vector path: expected avx512, avx2, baseline (or scalar, the same) or auto", name ? name : "");
        return -1;
    }
    if (k < NM_ISA_COUNT && k > isa_best) {
        if (err && errlen)
            snprintf(err, errlen, "this CPU (%s) cannot run the %s path, which needs %s; paths available here: %s", cpu_model,
                     isa_names[k], isa_requirement(k), isa_avail);
        return -1;
    }
    __atomic_store_n(&nm_isa_active_, k == NM_ISA_COUNT ? isa_best : k, __ATOMIC_RELEASE);
    return 0;
}

int nm_isa_limit_cpu(const char *name) {
    nm_isa_init_();
    const int k = isa_lookup(name);
    if (k < 0) return -1;
    isa_best = k < isa_detected ? k : isa_detected;
    list_available();
    if (__atomic_load_n(&nm_isa_active_, __ATOMIC_ACQUIRE) > isa_best) __atomic_store_n(&nm_isa_active_, isa_best, __ATOMIC_RELEASE);
    return 0;
}

/* ---- the primitives on the current path, for tests (nm_isa.h) ---- */

NM_AI long vec_exp_body(const float *x, float *y, long n) {
    for (long i = 0; i < n; i += NM_LANES) {
        const int k = n - i < NM_LANES ? (int)(n - i) : NM_LANES;
        vf_store_n(y + i, vf_exp(vf_load_n(x + i, k)), k);
    }
    return n;
}
NM_STAMP(long, vec_exp, (const float *x, float *y, long n), (x, y, n));
void nm_vec_exp(const float *x, float *y, long n) { NM_CALL(vec_exp)(x, y, n); }

NM_AI long vec_compact_ge_body(const int isa, const float *x, long n, float threshold, int *out, unsigned short *bits) {
    int64_t c = 0;
    for (long i = 0; i < n; i += NM_LANES) {
        const int k = n - i < NM_LANES ? (int)(n - i) : NM_LANES;
        const uint32_t m = vmask_bits(vf_load_n(x + i, k) >= threshold) & lanes_below(k);
        bits[i / NM_LANES] = (unsigned short)m;
        c = (i / NM_LANES) % 2 ? compact_bits(m, (int32_t)i, (int32_t *)out, c, isa)   /* both variants */
                               : compact_bits_all(m, (int32_t)i, (int32_t *)out, c, isa);
    }
    return (long)c;
}
NM_STAMP_ISA(long, vec_compact_ge, (const float *x, long n, float threshold, int *out, unsigned short *bits), (x, n, threshold, out, bits));
long nm_vec_compact_ge(const float *x, long n, float threshold, int *out, unsigned short *bits) {
    return NM_CALL(vec_compact_ge)(x, n, threshold, out, bits);
}

NM_AI long vec_masked_add_body(float *acc, const float *w, const unsigned short *bits, long n) {
    long used = 0;
    for (long i = 0; i < n; i += NM_LANES) {
        const int k = n - i < NM_LANES ? (int)(n - i) : NM_LANES;
        const uint32_t b = bits[i / NM_LANES] & lanes_below(k);
        const nm_vf a = vf_load_n(acc + i, k);
        vf_store_n(acc + i, vmask_from_bits(b) ? a + vf_load_n(w + i, k) : a, k);
        used += __builtin_popcount(b);
    }
    return used;
}
NM_STAMP(long, vec_masked_add, (float *acc, const float *w, const unsigned short *bits, long n), (acc, w, bits, n));
long nm_vec_masked_add(float *acc, const float *w, const unsigned short *bits, long n) {
    return NM_CALL(vec_masked_add)(acc, w, bits, n);
}
