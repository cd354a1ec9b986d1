/* Output folders of neuromorph's commands: the policy of nm_output.h (refused destinations, marker,
 * lock, staging folder, commit by rename, sweep of stale staging folders, removal on SIGINT/SIGTERM/
 * SIGHUP). Shared by `neuromorph` (through Common's OutputClaim/AtomicDirectory) and `neuromorph-run`
 * (which includes this file). Nothing here is a hot loop; it is C so that both executables follow one
 * policy and the signal handler stays async-signal-safe. */
#include "nm_output.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#define NM_PATH 4096

/* ---- signal-time cleanup ------------------------------------------------------------------------ */

#define NM_CLEANUP_SLOTS 64
/* state: 0 free, 1 file, 2 folder of files, 3 being filled (ignored by the handler) */
static struct { volatile sig_atomic_t state; char path[NM_PATH]; } nm_cleanup_slots[NM_CLEANUP_SLOTS];
static volatile sig_atomic_t nm_handlers_installed;
static struct sigaction nm_default_action;   /* SIG_DFL, prepared before any handler runs */

/* Removes the files in `dir` (and empty subfolders), then `dir`: only system calls, no allocation, so it
 * may run in a signal handler. */
static void nm_remove_flat(const char *dir) {
    for (int pass = 0; pass < 3; pass++) {
#ifdef __linux__
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return;
        char buf[8192] __attribute__((aligned(8)));
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
                /* struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name */
                unsigned short reclen;
                memcpy(&reclen, buf + off + 16, sizeof reclen);
                const char *name = buf + off + 19;
                if (!(name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))) {
                    if (unlinkat(fd, name, 0) != 0) unlinkat(fd, name, AT_REMOVEDIR);
                }
                off += reclen;
            }
        }
        close(fd);
#endif
        if (rmdir(dir) == 0 || errno == ENOENT) return;
    }
}

/* libomp's registration file of this process (nm_omp_forget_stale_registration), written before any
 * handler is installed; empty if unknown. */
static char nm_omp_registration[96];

static void nm_omp_registration_path(void) {
    snprintf(nm_omp_registration, sizeof nm_omp_registration, "/dev/shm/__KMP_REGISTERED_LIB_%d_%d", (int)getpid(), (int)getuid());
}

void nm_omp_forget_stale_registration(void) {
    nm_omp_registration_path();
    unlink(nm_omp_registration);   /* OpenMP has not started here: a file with our pid is a dead process's */
}

static void nm_cleanup_handler(int sig) {
    const int saved = errno;
    for (int s = 0; s < NM_CLEANUP_SLOTS; s++) {
        const int st = nm_cleanup_slots[s].state;
        if (st == 1) unlink(nm_cleanup_slots[s].path);
        else if (st == 2) nm_remove_flat(nm_cleanup_slots[s].path);
    }
    /* dying of the signal skips libomp's exit handler: remove its registration as it would */
    if (nm_omp_registration[0]) unlink(nm_omp_registration);
    /* die of the signal, as without the handler (the shell sees 128 + sig) */
    sigaction(sig, &nm_default_action, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    errno = saved;
    _exit(128 + sig);
}

static void nm_install_handlers(void) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&nm_handlers_installed, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    if (!nm_omp_registration[0]) nm_omp_registration_path();
    memset(&nm_default_action, 0, sizeof nm_default_action);
    nm_default_action.sa_handler = SIG_DFL;
    sigemptyset(&nm_default_action.sa_mask);
    const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nm_cleanup_handler;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < 3; k++) sigaddset(&sa.sa_mask, sigs[k]);
    for (int k = 0; k < 3; k++) {
        struct sigaction old;
        /* keep a signal the caller ignores (nohup) or handles itself */
        if (sigaction(sigs[k], NULL, &old) == 0 && old.sa_handler != SIG_DFL) continue;
        sigaction(sigs[k], &sa, NULL);
    }
}

int nm_cleanup_register(const char *path, int is_dir) {
    if (!path || strlen(path) >= NM_PATH) return -1;
    nm_install_handlers();
    for (int s = 0; s < NM_CLEANUP_SLOTS; s++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&nm_cleanup_slots[s].state, &expected, 3, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            strcpy(nm_cleanup_slots[s].path, path);
            __atomic_store_n(&nm_cleanup_slots[s].state, is_dir ? 2 : 1, __ATOMIC_RELEASE);
            return s;
        }
    }
    return -1;
}

void nm_cleanup_unregister(int slot) {
    if (slot >= 0 && slot < NM_CLEANUP_SLOTS) __atomic_store_n(&nm_cleanup_slots[slot].state, 0, __ATOMIC_RELEASE);
}

/* ---- paths -------------------------------------------------------------------------------------- */

int nm_path_resolve(const char *path, char *out, size_t outlen) {
    if (!path || !*path || outlen < 2) { errno = ENOENT; return -1; }
    char abs[2 * NM_PATH];
    if (path[0] == '/') {
        if (strlen(path) >= sizeof abs) { errno = ENAMETOOLONG; return -1; }
        strcpy(abs, path);
    } else {
        char cwd[NM_PATH];
        if (!getcwd(cwd, sizeof cwd)) return -1;
        if (snprintf(abs, sizeof abs, "%s/%s", cwd, path) >= (int)sizeof abs) { errno = ENAMETOOLONG; return -1; }
    }
    char res[NM_PATH] = "/";
    char *save = NULL;
    for (char *c = strtok_r(abs, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            char *s = strrchr(res, '/');
            if (s == res) res[1] = 0; else *s = 0;
            continue;
        }
        char cand[NM_PATH];
        if (snprintf(cand, sizeof cand, "%s%s%s", res, res[1] ? "/" : "", c) >= (int)sizeof cand) { errno = ENAMETOOLONG; return -1; }
        struct stat st;
        char real[PATH_MAX];
        if (lstat(cand, &st) == 0 && S_ISLNK(st.st_mode) && realpath(cand, real) && strlen(real) < sizeof res) strcpy(res, real);
        else strcpy(res, cand);   /* a plain entry, a missing one, or a dangling symlink: as it is */
    }
    if (strlen(res) >= outlen) { errno = ENAMETOOLONG; return -1; }
    strcpy(out, res);
    return 0;
}

/* `child` lies strictly inside `dir` (both resolved). */
static int nm_is_under(const char *child, const char *dir) {
    const size_t n = strlen(dir);
    if (n == 1) return child[0] == '/' && child[1] != 0;
    return strncmp(child, dir, n) == 0 && child[n] == '/';
}

/* "neuromorph simulate", or "neuromorph-run" for the runner's kind "run" (for messages). */
static const char *nm_label(const char *kind, char *buf, size_t cap) {
    if (!strcmp(kind, "run")) snprintf(buf, cap, "neuromorph-run");
    else snprintf(buf, cap, "neuromorph %s", kind);
    return buf;
}

/* Removes a tree without following symlinks (not for signal handlers). */
static int nm_rm_tree_at(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return unlinkat(dirfd, name, 0);
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return -1; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        nm_rm_tree_at(fd, e->d_name);
    }
    closedir(d);
    return unlinkat(dirfd, name, AT_REMOVEDIR);
}
static int nm_rm_tree(const char *path) { return nm_rm_tree_at(AT_FDCWD, path); }

/* ---- marker ------------------------------------------------------------------------------------- */

typedef struct { char kind[32]; char **files; int nfiles; } nm_marker;

static void nm_marker_free(nm_marker *m) {
    for (int k = 0; k < m->nfiles; k++) free(m->files[k]);
    free(m->files);
    m->files = NULL;
    m->nfiles = 0;
}

static const char *nm_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* A JSON string at p (p[0] == '"') into out (truncated to cap); the position after it, NULL if malformed. */
static const char *nm_jstr(const char *p, char *out, size_t cap) {
    size_t n = 0;
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            const char e = *p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    const char h = *p++;
                    if (h >= '0' && h <= '9') v = v * 16 + (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') v = v * 16 + (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') v = v * 16 + (unsigned)(h - 'A' + 10);
                    else return NULL;
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            case 0: return NULL;
            default: c = e;
            }
        }
        if (out && n + 1 < cap) out[n++] = c;
    }
    if (*p != '"') return NULL;
    if (out && cap) out[n] = 0;
    return p + 1;
}

/* Reads folder/NM_OUTPUT_MARKER: 1 with kind and files, 0 if absent or not a marker. */
static int nm_marker_read(const char *folder, nm_marker *m) {
    memset(m, 0, sizeof *m);
    char path[NM_PATH + 64];
    snprintf(path, sizeof path, "%s/%s", folder, NM_OUTPUT_MARKER);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char *buf = malloc(1 << 20);
    if (!buf) { fclose(f); return 0; }
    const size_t len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[len] = 0;
    int ok = 0, cap = 0;
    const char *p = nm_ws(buf);
    if (*p++ != '{') goto done;
    for (;;) {
        p = nm_ws(p);
        if (*p == '}') { ok = m->kind[0] != 0; break; }
        char key[64];
        if (!(p = nm_jstr(p, key, sizeof key))) break;
        p = nm_ws(p);
        if (*p++ != ':') break;
        p = nm_ws(p);
        if (*p == '"') {
            if (!(p = nm_jstr(p, strcmp(key, "kind") ? NULL : m->kind, sizeof m->kind))) break;
        } else if (*p == '[') {
            p = nm_ws(p + 1);
            while (*p == '"') {
                char name[NM_PATH];
                if (!(p = nm_jstr(p, name, sizeof name))) goto done;
                if (!strcmp(key, "files")) {
                    if (m->nfiles == cap) {
                        cap = cap ? 2 * cap : 16;
                        char **grown = realloc(m->files, sizeof(char *) * (size_t)cap);
                        if (!grown) goto done;
                        m->files = grown;
                    }
                    m->files[m->nfiles++] = strdup(name);
                }
                p = nm_ws(p);
                if (*p == ',') p = nm_ws(p + 1);
            }
            if (*p++ != ']') break;
        } else {
            while (*p && *p != ',' && *p != '}') p++;   /* number, true, false, null */
        }
        p = nm_ws(p);
        if (*p == ',') { p++; continue; }
        if (*p == '}') { ok = m->kind[0] != 0; break; }
        break;
    }
done:
    free(buf);
    if (!ok) nm_marker_free(m);
    return ok;
}

int nm_out_marker_kind(const char *folder, char *kind, size_t kindlen) {
    nm_marker m;
    if (!nm_marker_read(folder, &m)) return 0;
    snprintf(kind, kindlen, "%s", m.kind);
    nm_marker_free(&m);
    return 1;
}

static void nm_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned)(unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static int nm_cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Writes folder/NM_OUTPUT_MARKER (through a temporary file and a rename). */
static int nm_marker_write(const char *folder, const char *kind, const char *command, char **files, int nfiles) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return -1;
    char when[32] = "";
    const time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\n  \"kind\": ");
    nm_json_string(f, kind);
    fprintf(f, ",\n  \"version\": ");
    nm_json_string(f, NM_VERSION);
    fprintf(f, ",\n  \"command\": ");
    nm_json_string(f, command ? command : "");
    fprintf(f, ",\n  \"created\": ");
    nm_json_string(f, when);
    fprintf(f, ",\n  \"files\": [");
    for (int k = 0; k < nfiles; k++) {
        fprintf(f, "%s", k ? ", " : "");
        nm_json_string(f, files[k]);
    }
    fprintf(f, "]\n}\n");
    fclose(f);
    char tmp[NM_PATH + 64], dst[NM_PATH + 64];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", folder, NM_OUTPUT_MARKER);
    snprintf(dst, sizeof dst, "%s/%s", folder, NM_OUTPUT_MARKER);
    FILE *o = fopen(tmp, "wb");
    int ok = o && fwrite(buf, 1, len, o) == len;
    if (o && fclose(o) != 0) ok = 0;
    free(buf);
    if (!ok || rename(tmp, dst) != 0) { unlink(tmp); return -1; }
    return 0;
}

/* ---- listing ------------------------------------------------------------------------------------ */

/* Entries of a folder (apart from the marker and the `known` names): how many, and the three first in
 * byte order for messages ("a.txt, b/"). -1 if the folder cannot be read. */
typedef struct { long count; char first[3][256]; } nm_listing;

static long nm_list(const char *dir, char *const *known, int nknown, nm_listing *L) {
    memset(L, 0, sizeof *L);
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        /* the marker, and its temporary file (a writer killed while writing the marker leaves it) */
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, NM_OUTPUT_MARKER) || !strcmp(n, NM_OUTPUT_MARKER ".tmp")) continue;
        int skip = 0;
        for (int k = 0; k < nknown && !skip; k++) skip = !strcmp(n, known[k]);
        if (skip) continue;
        char shown[256];
        char full[NM_PATH + 256];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", dir, n);
        const int isdir = lstat(full, &st) == 0 && S_ISDIR(st.st_mode);
        snprintf(shown, sizeof shown, "%.250s%s", n, isdir ? "/" : "");
        L->count++;
        /* keep the three smallest names */
        for (int k = 0; k < 3; k++) {
            if (!L->first[k][0] || strcmp(shown, L->first[k]) < 0) {
                for (int j = 2; j > k; j--) memcpy(L->first[j], L->first[j - 1], 256);
                memcpy(L->first[k], shown, 256);
                break;
            }
        }
    }
    closedir(d);
    return L->count;
}

static void nm_listing_text(const nm_listing *L, char *out, size_t cap) {
    snprintf(out, cap, "%s%s%s%s%s%s", L->first[0], L->first[1][0] ? ", " : "", L->first[1], L->first[2][0] ? ", " : "",
             L->first[2], L->count > 3 ? ", ..." : "");
}

/* ---- sweep -------------------------------------------------------------------------------------- */

/* The lock of NAME in `folder` is free (nobody writes NAME). */
static int nm_lock_free(const char *folder, const char *name) {
    char lock[NM_PATH + 300];
    snprintf(lock, sizeof lock, "%s/.%s.lock", folder, name);
    const int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    const int ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);   /* closing drops the lock again */
    return ok;
}

/* Parses ".NAME<tag>PID-RAND" (tag ".partial-", ".old-" or ".tmp-"): NAME into name, the pid; 0 if no match. */
static int nm_parse_leftover(const char *entry, const char *tag, char *name, size_t cap, long *pid) {
    if (entry[0] != '.') return 0;
    const char *t = NULL;
    for (const char *s = strstr(entry + 1, tag); s; s = strstr(s + 1, tag)) t = s;   /* last occurrence */
    if (!t || t == entry + 1) return 0;
    const char *p = t + strlen(tag);
    char *end = NULL;
    errno = 0;
    const long v = strtol(p, &end, 10);
    if (errno || end == p || v <= 0 || *end != '-' || !end[1]) return 0;
    for (const char *h = end + 1; *h; h++) if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'))) return 0;
    const size_t n = (size_t)(t - entry - 1);
    if (n + 1 > cap) return 0;
    memcpy(name, entry + 1, n);
    name[n] = 0;
    *pid = v;
    return 1;
}

/* Sweeps `folder`; `own` is a NAME whose lock this process holds (its leftovers are stale too). */
static int nm_sweep(const char *folder, const char *own) {
    DIR *d = opendir(folder);
    if (!d) return 0;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        const int lock = len > 6 && !strcmp(e->d_name + len - 5, ".lock");
        if (e->d_name[0] != '.' || (!lock && !strstr(e->d_name, ".partial-") && !strstr(e->d_name, ".old-") && !strstr(e->d_name, ".tmp-")))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char **g = realloc(names, sizeof(char *) * (size_t)cap);
            if (!g) break;
            names = g;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    int removed = 0;
    for (int k = 0; k < n; k++) {
        char name[256], path[NM_PATH + 300];
        long pid = 0;
        snprintf(path, sizeof path, "%s/%s", folder, names[k]);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        const int partial = nm_parse_leftover(names[k], ".partial-", name, sizeof name, &pid);
        const int old = !partial && nm_parse_leftover(names[k], ".old-", name, sizeof name, &pid);
        const size_t len = strlen(names[k]);
        if (!partial && !old && len > 6 && !strcmp(names[k] + len - 5, ".lock") && S_ISREG(st.st_mode)) {
            /* a lock file left by a killed writer: remove it while holding it (claimers check the inode) */
            snprintf(name, sizeof name, "%.*s", (int)(len - 6 < sizeof name - 1 ? len - 6 : sizeof name - 1), names[k] + 1);
            if (own && !strcmp(name, own)) continue;
            const int fd = open(path, O_RDWR | O_CLOEXEC);
            if (fd < 0) continue;
            struct stat a;
            if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 && a.st_ino == st.st_ino && a.st_dev == st.st_dev && unlink(path) == 0) removed++;
            close(fd);
            continue;
        }
        if ((partial || old) && S_ISDIR(st.st_mode)) {
            char kind[32];
            nm_listing L;
            const int ours = nm_out_marker_kind(path, kind, sizeof kind) || nm_list(path, NULL, 0, &L) == 0;
            if (!ours || !((own && !strcmp(name, own)) || nm_lock_free(folder, name))) continue;
            char dest[NM_PATH + 300];
            snprintf(dest, sizeof dest, "%s/%s", folder, name);
            struct stat ds;
            if (old && lstat(dest, &ds) != 0 && errno == ENOENT && rename(path, dest) == 0) { removed++; continue; }
            if (nm_rm_tree(path) == 0) removed++;
        } else if (!partial && !old && nm_parse_leftover(names[k], ".tmp-", name, sizeof name, &pid) && S_ISREG(st.st_mode)) {
            if (pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH && unlink(path) == 0) removed++;
        }
    }
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
    return removed;
}

int nm_out_sweep(const char *folder) { return nm_sweep(folder, NULL); }

/* ---- single files ------------------------------------------------------------------------------- */

struct nm_file {
    FILE *f;
    int slot;
    char path[NM_PATH];
    char tmp[NM_PATH + 300];
};

nm_file *nm_file_create(const char *path, char *err, size_t errlen) {
    const size_t pl = path ? strlen(path) : 0;
    if (pl == 0 || pl >= NM_PATH) { snprintf(err, errlen, "cannot write '%.200s': %s", path ? path : "", pl ? "the path is too long" : "no file name"); return NULL; }
    nm_file *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "cannot write %s: out of memory", path); return NULL; }
    memcpy(w->path, path, pl + 1);
    const char *slash = strrchr(path, '/');
    const int dl = slash ? (int)(slash - path + 1) : 0;
    static unsigned counter;
    for (int t = 0; t < 100 && !w->f; t++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const unsigned r = (unsigned)ts.tv_nsec * 2654435761u ^ __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) * 40503u;
        snprintf(w->tmp, sizeof w->tmp, "%.*s.%s.tmp-%d-%08x", dl, path, path + dl, (int)getpid(), r);
        w->slot = nm_cleanup_register(w->tmp, 0);   /* before it exists: a signal in between finds nothing to remove */
        const int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 && !(w->f = fdopen(fd, "wb"))) { close(fd); unlink(w->tmp); }
        if (!w->f) {
            const int en = errno;
            nm_cleanup_unregister(w->slot);
            if (en != EEXIST) {
                snprintf(err, errlen, "cannot write %s: %s", path, strerror(en));
                free(w);
                return NULL;
            }
        }
    }
    if (!w->f) { snprintf(err, errlen, "cannot write %s: no free temporary name beside it", path); free(w); return NULL; }
    return w;
}

FILE *nm_file_stream(nm_file *w) { return w->f; }

int nm_file_finish(nm_file *w, int ok, char *err, size_t errlen) {
    int en = 0;
    if (ferror(w->f)) { ok = 0; en = errno; }
    if (fflush(w->f) != 0 && !en) { ok = 0; en = errno; }
    if (fclose(w->f) != 0 && !en) { ok = 0; en = errno; }
    if (ok && rename(w->tmp, w->path) != 0) { ok = 0; en = errno; }
    if (!ok) {
        unlink(w->tmp);
        snprintf(err, errlen, "cannot write %s%s%s", w->path, en ? ": " : "", en ? strerror(en) : "");
    }
    nm_cleanup_unregister(w->slot);
    free(w);
    return ok ? 0 : -1;
}

/* ---- claim, stage, commit ----------------------------------------------------------------------- */

struct nm_out {
    char dest[NM_PATH];     /* resolved destination */
    char parent[NM_PATH];
    char name[256];
    char shown[NM_PATH];    /* as the user wrote it */
    char kind[32];
    char label[48];         /* "neuromorph simulate", "neuromorph-run" */
    char option[32];
    char lock[NM_PATH + 300];
    char staging[NM_PATH + 300];
    char *command;
    int flags, state, lockfd, staged, committed, lock_slot, staging_slot;
};

static int nm_mkdirs(const char *path) {
    char p[NM_PATH];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(p, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

static int nm_take_lock(nm_out *o, char *err, size_t errlen) {
    snprintf(o->lock, sizeof o->lock, "%s/.%s.lock", o->parent, o->name);
    for (int tries = 0; tries < 20; tries++) {
        const int fd = open(o->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "cannot write into %s (%s), where the %s folder %s would go", o->parent, strerror(errno), o->option, o->shown);
            return -1;
        }
        int locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
        /* a sweep elsewhere may hold it for a moment while it tests whether the lock is free */
        for (int k = 0; !locked && errno == EWOULDBLOCK && k < 3; k++) {
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
        }
        if (!locked) {
            const int e = errno;
            char who[128] = "";
            const ssize_t r = pread(fd, who, sizeof who - 1, 0);
            who[r > 0 ? r : 0] = 0;
            for (char *s = who; *s; s++) if (*s == '\n') *s = 0;
            close(fd);
            if (e == EWOULDBLOCK)
                snprintf(err, errlen, "%s is being written by another neuromorph process (%s); wait for it to finish or choose another %s",
                         o->shown, who[0] ? who : "pid unknown", o->option);
            else
                snprintf(err, errlen, "cannot lock %s (%s)", o->lock, strerror(e));
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(o->lock, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char who[128];
            const int len = snprintf(who, sizeof who, "pid %d, %s\n", (int)getpid(), o->label);
            if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)len, 0) != len) { /* the pid is only for messages */ }
            o->lockfd = fd;
            o->lock_slot = nm_cleanup_register(o->lock, 0);
            return 0;
        }
        close(fd);   /* its previous holder removed or replaced the file: lock the current one */
    }
    snprintf(err, errlen, "cannot lock %s: the lock file keeps changing", o->lock);
    return -1;
}

static void nm_refuse_path(const nm_out *o, const char *what, char *err, size_t errlen) {
    snprintf(err, errlen, "%s '%s' %s; neuromorph writes into a new folder (or one it wrote before), e.g. runs/NAME",
             o->option, o->shown, what);
}

nm_out *nm_out_claim(const char *dest, const char *kind, const char *option, int flags,
                     const char *const *inputs, int ninputs, const char *command, char *err, size_t errlen) {
    nm_out *o = calloc(1, sizeof *o);
    if (!o) { snprintf(err, errlen, "out of memory"); return NULL; }
    o->lockfd = -1;
    o->lock_slot = o->staging_slot = -1;
    o->flags = flags;
    snprintf(o->kind, sizeof o->kind, "%s", kind);
    nm_label(o->kind, o->label, sizeof o->label);
    snprintf(o->option, sizeof o->option, "%s", option && *option ? option : "output folder");
    snprintf(o->shown, sizeof o->shown, "%s", dest ? dest : "");
    o->command = strdup(command ? command : "");
    if (!dest || !*dest) {
        nm_refuse_path(o, "is empty (it would mean the current folder)", err, errlen);
        goto fail;
    }
    if (nm_path_resolve(dest, o->dest, sizeof o->dest) != 0) {
        snprintf(err, errlen, "%s '%s': cannot resolve the path (%s)", o->option, dest, strerror(errno));
        goto fail;
    }
    char cwd[NM_PATH] = "", home[NM_PATH] = "";
    if (nm_path_resolve(".", cwd, sizeof cwd) != 0) cwd[0] = 0;
    const char *h = getenv("HOME");
    if (!h || !*h || nm_path_resolve(h, home, sizeof home) != 0) home[0] = 0;
    char what[NM_PATH + 128];
    if (!strcmp(o->dest, "/")) {
        nm_refuse_path(o, "is the root folder", err, errlen);
        goto fail;
    }
    if (cwd[0] && !strcmp(o->dest, cwd)) {
        snprintf(what, sizeof what, "is the current folder (%s)", cwd);
        nm_refuse_path(o, what, err, errlen);
        goto fail;
    }
    if (cwd[0] && nm_is_under(cwd, o->dest)) {
        snprintf(what, sizeof what, "(%s) contains the current folder", o->dest);
        nm_refuse_path(o, what, err, errlen);
        goto fail;
    }
    if (home[0] && !strcmp(o->dest, home)) {
        snprintf(what, sizeof what, "is the home folder (%s)", home);
        nm_refuse_path(o, what, err, errlen);
        goto fail;
    }
    for (int k = 0; k < ninputs; k++) {
        char in[NM_PATH];
        if (!inputs[k] || !*inputs[k] || nm_path_resolve(inputs[k], in, sizeof in) != 0) continue;
        if (!strcmp(in, o->dest)) {
            snprintf(what, sizeof what, "is an input of this command (%s)", inputs[k]);
            nm_refuse_path(o, what, err, errlen);
            goto fail;
        }
        if (nm_is_under(in, o->dest)) {
            snprintf(what, sizeof what, "contains %s, an input of this command", inputs[k]);
            nm_refuse_path(o, what, err, errlen);
            goto fail;
        }
    }
    {
        char *slash = strrchr(o->dest, '/');
        snprintf(o->name, sizeof o->name, "%s", slash + 1);
        if (strlen(slash + 1) > 200) {
            nm_refuse_path(o, "has a last component longer than 200 bytes", err, errlen);
            goto fail;
        }
        if (slash == o->dest) strcpy(o->parent, "/");
        else { memcpy(o->parent, o->dest, (size_t)(slash - o->dest)); o->parent[slash - o->dest] = 0; }
    }
    if (nm_mkdirs(o->parent) != 0) {
        snprintf(err, errlen, "cannot create the folder %s for %s %s (%s)", o->parent, o->option, o->shown, strerror(errno));
        goto fail;
    }
    if (nm_take_lock(o, err, errlen) != 0) goto fail;
    nm_sweep(o->parent, o->name);

    struct stat st;
    if (lstat(o->dest, &st) != 0) {
        if (errno != ENOENT) { snprintf(err, errlen, "cannot read %s (%s)", o->shown, strerror(errno)); goto fail; }
        o->state = NM_OUT_ABSENT;
        return o;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is %s, not a folder written by %s; choose another %s or remove it", o->shown,
                 S_ISLNK(st.st_mode) ? "a symbolic link to nothing" : S_ISREG(st.st_mode) ? "a file" : "not a folder", o->label, o->option);
        goto fail;
    }
    nm_marker m;
    nm_listing L;
    char list[1024];
    if (!nm_marker_read(o->dest, &m)) {
        if (nm_list(o->dest, NULL, 0, &L) < 0) { snprintf(err, errlen, "cannot read the folder %s (%s)", o->shown, strerror(errno)); goto fail; }
        if (L.count == 0) {
            char mp[NM_PATH + 64];
            snprintf(mp, sizeof mp, "%s/%s", o->dest, NM_OUTPUT_MARKER);
            if (access(mp, F_OK) != 0) { o->state = NM_OUT_EMPTY; return o; }
            snprintf(err, errlen, "%s holds an unreadable %s file, so it is not known to be a %s output; choose another %s or remove it",
                     o->shown, NM_OUTPUT_MARKER, o->label, o->option);
            goto fail;
        }
        nm_listing_text(&L, list, sizeof list);
        snprintf(err, errlen, "%s exists and was not written by %s (it holds %ld entr%s, e.g. %s); choose another %s or remove it",
                 o->shown, o->label, L.count, L.count == 1 ? "y" : "ies", list, o->option);
        goto fail;
    }
    if (strcmp(m.kind, o->kind) != 0) {
        char other[48];
        snprintf(err, errlen, "%s holds the output of %s, not %s; choose another %s", o->shown, nm_label(m.kind, other, sizeof other), o->label, o->option);
        nm_marker_free(&m);
        goto fail;
    }
    if (flags & NM_OUT_RESUME) {
        nm_marker_free(&m);
        o->state = NM_OUT_SAME_KIND;
        nm_sweep(o->dest, NULL);   /* temporary files of writers that were killed */
        return o;
    }
    if (!(flags & NM_OUT_FORCE)) {
        snprintf(err, errlen, "%s holds an earlier %s output; pass --force to replace it, or choose another %s", o->shown, o->label, o->option);
        nm_marker_free(&m);
        goto fail;
    }
    nm_list(o->dest, m.files, m.nfiles, &L);
    nm_marker_free(&m);
    if (L.count > 0) {
        nm_listing_text(&L, list, sizeof list);
        snprintf(err, errlen, "%s holds %ld entr%s that %s did not write (%s); move %s away or choose another %s, --force replaces only what neuromorph wrote",
                 o->shown, L.count, L.count == 1 ? "y" : "ies", o->label, list, L.count == 1 ? "it" : "them", o->option);
        goto fail;
    }
    o->state = NM_OUT_SAME_KIND;
    return o;
fail:
    nm_out_release(o);
    return NULL;
}

int nm_out_state(const nm_out *o) { return o->state; }
const char *nm_out_destination(const nm_out *o) { return o->dest; }

const char *nm_out_stage(nm_out *o, char *err, size_t errlen) {
    if (o->staged) return o->staging;
    static unsigned counter;
    for (int t = 0; t < 100; t++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const unsigned r = (unsigned)ts.tv_nsec * 2654435761u ^ __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) * 40503u;
        snprintf(o->staging, sizeof o->staging, "%s/.%s.partial-%d-%08x", o->parent, o->name, (int)getpid(), r);
        o->staging_slot = nm_cleanup_register(o->staging, 1);   /* before mkdir: no window without cleanup */
        if (mkdir(o->staging, 0777) == 0) break;
        const int e = errno;
        nm_cleanup_unregister(o->staging_slot);
        o->staging_slot = -1;
        if (e != EEXIST) {
            snprintf(err, errlen, "cannot create a folder in %s for %s %s (%s)", o->parent, o->option, o->shown, strerror(e));
            return NULL;
        }
    }
    if (o->staging_slot < 0) { snprintf(err, errlen, "cannot create a staging folder in %s", o->parent); return NULL; }
    o->staged = 1;
    if (nm_marker_write(o->staging, o->kind, o->command, NULL, 0) != 0) {
        snprintf(err, errlen, "cannot write into %s (%s)", o->parent, strerror(errno));
        return NULL;
    }
    return o->staging;
}

/* Names in `dir` apart from the marker, sorted; the count, -1 on error. */
static int nm_names(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, NM_OUTPUT_MARKER)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **g = realloc(v, sizeof(char *) * (size_t)cap);
            if (!g) { closedir(d); for (int k = 0; k < n; k++) free(v[k]); free(v); return -1; }
            v = g;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof(char *), nm_cmp_names);
    *out = v;
    return n;
}

int nm_out_commit(nm_out *o, char *err, size_t errlen) {
    if (!o->staged || o->committed) { snprintf(err, errlen, "%s: nothing to commit", o->shown); return -1; }
    char **names = NULL;
    const int n = nm_names(o->staging, &names);
    const int wrote = n >= 0 && nm_marker_write(o->staging, o->kind, o->command, names, n) == 0;
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
    if (!wrote) { snprintf(err, errlen, "cannot write %s into %s (%s)", NM_OUTPUT_MARKER, o->shown, strerror(errno)); return -1; }
    struct stat st;
    if (lstat(o->dest, &st) != 0) {
        if (rename(o->staging, o->dest) != 0) {
            snprintf(err, errlen, "cannot move the finished output into %s (%s)", o->shown, strerror(errno));
            return -1;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s was created by someone else while %s was writing; nothing was replaced", o->shown, o->label);
        return -1;
    } else if (o->state == NM_OUT_SAME_KIND) {
        /* check again: the folder must still hold only what neuromorph wrote */
        nm_marker m;
        if (!nm_marker_read(o->dest, &m) || strcmp(m.kind, o->kind) != 0) {
            nm_marker_free(&m);
            snprintf(err, errlen, "%s changed while %s was writing (its marker is gone); nothing was replaced", o->shown, o->label);
            return -1;
        }
        nm_listing L;
        nm_list(o->dest, m.files, m.nfiles, &L);
        nm_marker_free(&m);
        if (L.count > 0) {
            char list[1024];
            nm_listing_text(&L, list, sizeof list);
            snprintf(err, errlen, "%s gained entries that %s did not write (%s) while it was writing; nothing was replaced", o->shown, o->label, list);
            return -1;
        }
        int swapped = 0;
#if defined(__linux__) && defined(SYS_renameat2)
        /* one atomic step: the new output in place, the old one at the staging path */
        swapped = syscall(SYS_renameat2, AT_FDCWD, o->staging, AT_FDCWD, o->dest, 2 /* RENAME_EXCHANGE */) == 0;
#endif
        if (swapped) {
            nm_rm_tree(o->staging);
        } else {
            char old[NM_PATH + 300];
            snprintf(old, sizeof old, "%s/.%s.old-%d-%08x", o->parent, o->name, (int)getpid(), (unsigned)time(NULL));
            if (rename(o->dest, old) != 0) {
                snprintf(err, errlen, "cannot replace %s (%s)", o->shown, strerror(errno));
                return -1;
            }
            if (rename(o->staging, o->dest) != 0) {
                const int e = errno;
                if (rename(old, o->dest) != 0) { /* the sweep puts it back (.old with the name missing) */ }
                snprintf(err, errlen, "cannot replace %s (%s)", o->shown, strerror(e));
                return -1;
            }
            nm_rm_tree(old);
        }
    } else if (rename(o->staging, o->dest) != 0) {   /* an empty folder (rename(2) replaces it) */
        snprintf(err, errlen, "%s is no longer empty or cannot be replaced (%s); nothing was replaced", o->shown, strerror(errno));
        return -1;
    }
    o->committed = 1;
    nm_cleanup_unregister(o->staging_slot);
    o->staging_slot = -1;
    return 0;
}

void nm_out_release(nm_out *o) {
    if (!o) return;
    if (o->staged && !o->committed) nm_rm_tree(o->staging);
    nm_cleanup_unregister(o->staging_slot);
    /* unregister before unlinking: once unlinked, the path may be another writer's lock */
    nm_cleanup_unregister(o->lock_slot);
    if (o->lockfd >= 0) {
        unlink(o->lock);
        close(o->lockfd);
    }
    free(o->command);
    free(o);
}
