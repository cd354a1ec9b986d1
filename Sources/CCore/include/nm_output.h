/* Output folders of neuromorph's commands: one policy for `neuromorph` (through Swift's Common module)
 * and `neuromorph-run` (which compiles nm_output.c itself).
 *
 * - A destination is never `""`, `/`, the home folder, the working folder or a folder above it, an
 *   input of the command or a folder that contains one (paths compared after resolving symlinks, `.`
 *   and `..`).
 * - An existing destination is used only if it is an empty folder, or a folder that carries the marker
 *   file NM_OUTPUT_MARKER of the same kind: replaced with NM_OUT_FORCE (and only if it holds nothing but
 *   the files the marker lists), kept and updated in place with NM_OUT_RESUME (training).
 * - The claim holds a lock (flock on `.NAME.lock` beside the destination, checked for inode reuse) until
 *   it is released: a second writer fails and names the first one's pid.
 * - Files are written into a staging folder `.NAME.partial-PID-RAND` beside the destination and moved
 *   into place in one rename (RENAME_EXCHANGE when a previous output is replaced). SIGINT, SIGTERM and
 *   SIGHUP remove the staging folder and the lock before the process dies of the signal; stale staging
 *   folders of writers that are gone (their lock is free) are swept by the next claim in that folder.
 * Error messages are one sentence naming the path; they go to `err`. */
#ifndef NM_OUTPUT_H
#define NM_OUTPUT_H
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* neuromorph's version (written into every output marker; `neuromorph --version`). */
#define NM_VERSION "0.1.0"
/* File inside every output folder: a small JSON object naming kind, version, command, files. */
#define NM_OUTPUT_MARKER ".neuromorph-output"

enum { NM_OUT_FORCE = 1, NM_OUT_RESUME = 2 };
/* What the claimed destination was: absent, an empty folder, or an output of the same kind. */
enum { NM_OUT_ABSENT = 0, NM_OUT_EMPTY = 1, NM_OUT_SAME_KIND = 2 };

typedef struct nm_out nm_out;

/* Absolute path without symlinks, `.` or `..`: the longest existing prefix through realpath(3), the
 * rest lexically. Returns 0, or -1 (empty path, or too long). */
int nm_path_resolve(const char *path, char *out, size_t outlen);

/* Checks `dest` against the policy above, creates its parent folders, takes the lock and sweeps stale
 * staging folders beside it. `kind` names the command (simulate, train, convert, compare, run);
 * `option` the flag for messages ("--out"); `inputs` the files and folders the command reads;
 * `command` the command line (for the marker). NULL on refusal, with the reason in `err`. */
nm_out *nm_out_claim(const char *dest, const char *kind, const char *option, int flags,
                     const char *const *inputs, int ninputs, const char *command, char *err, size_t errlen);
/* NM_OUT_ABSENT, NM_OUT_EMPTY or NM_OUT_SAME_KIND. */
int nm_out_state(const nm_out *o);
/* The resolved destination path. */
const char *nm_out_destination(const nm_out *o);
/* Creates the staging folder (with a marker) and returns its path; NULL with `err` on failure. Removed
 * on SIGINT/SIGTERM/SIGHUP and on release without commit. */
const char *nm_out_stage(nm_out *o, char *err, size_t errlen);
/* Moves the staging folder into place (the marker then lists the files in it). 0, or -1 with `err`
 * (the destination is then unchanged). The lock stays held until release. */
int nm_out_commit(nm_out *o, char *err, size_t errlen);
/* Removes an uncommitted staging folder, releases the lock, frees `o`. NULL is allowed. */
void nm_out_release(nm_out *o);

/* Reads the marker of `folder`: writes its kind into `kind` and returns 1, 0 without a readable marker. */
int nm_out_marker_kind(const char *folder, char *kind, size_t kindlen);
/* Removes stale neuromorph leftovers in `folder`: staging folders `.NAME.partial-*` and `.NAME.old-*`
 * whose lock is free (an `.old` folder is put back if NAME is missing) and temporary files
 * `.NAME.tmp-PID-*` of processes that no longer exist. Returns how many entries it removed. */
int nm_out_sweep(const char *folder);

/* A single file written in C the way Common's AtomicFile writes one: into `.NAME.tmp-PID-RAND` beside
 * `path` (the name nm_out_sweep removes once its writer is gone), registered for removal on SIGINT/
 * SIGTERM/SIGHUP, renamed over `path` only when complete. Messages name `path`, never the temporary. */
typedef struct nm_file nm_file;
/* Creates the temporary file; NULL with `err` ("cannot write PATH: reason"). */
nm_file *nm_file_create(const char *path, char *err, size_t errlen);
/* The stream to write to (binary). */
FILE *nm_file_stream(nm_file *w);
/* Closes and renames the temporary over the path when `ok` and every write succeeded (0); otherwise
 * removes it and returns -1 with `err`. Frees `w` either way. */
int nm_file_finish(nm_file *w, int ok, char *err, size_t errlen);

/* OpenMP's runtime (libomp) registers each process in /dev/shm/__KMP_REGISTERED_LIB_<pid>_<uid> when
 * OpenMP first starts and removes the file at a normal exit. A process killed while it registers leaves
 * an empty file, and the next process to get that pid aborts at its first OpenMP call ("OMP: Error #15:
 * Initializing libomp.so.5, but found unknown library already initialized"). Call this before the first
 * OpenMP call: a file with this process's pid can then only be such a leftover, and is removed. The
 * signal handler of nm_cleanup_register removes this process's file too (a death by signal skips libomp's
 * own clean-up). */
void nm_omp_forget_stale_registration(void);

/* Registers `path` (a file, or a folder of files when is_dir) for removal on SIGINT/SIGTERM/SIGHUP
 * (installing the handlers on first use); returns a slot for nm_cleanup_unregister, -1 if all are
 * taken. The handler removes registered paths, restores the default action and re-raises the signal. */
int nm_cleanup_register(const char *path, int is_dir);
void nm_cleanup_unregister(int slot);

#ifdef __cplusplus
}
#endif
#endif
