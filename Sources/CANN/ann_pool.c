/* A small cache of large aligned buffers for tensors. Training allocates the same activation and
 * gradient sizes every mini-batch; fresh multi-megabyte blocks come from mmap and every page is
 * zero-filled by the kernel on first touch (seen as 13% of a CNN epoch in clear_page_erms). Reusing
 * freed blocks of the same size avoids that. Blocks below 64 KiB go straight to malloc. */
#include "nm_ann.h"
#include <pthread.h>
#include <stdlib.h>

#define POOL_SLOTS 128
#define POOL_MIN_BYTES (64 * 1024)
#define POOL_MAX_TOTAL ((size_t)1 << 30)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { void *p; size_t bytes; } pool[POOL_SLOTS];
static int pool_count = 0;
static size_t pool_total = 0;

void *nm_buffer_alloc(size_t bytes) {
    if (bytes < 64) bytes = 64;
    if (bytes >= POOL_MIN_BYTES) {
        pthread_mutex_lock(&pool_lock);
        for (int i = pool_count - 1; i >= 0; i--) {
            if (pool[i].bytes == bytes) {
                void *p = pool[i].p;
                pool[i] = pool[--pool_count];
                pool_total -= bytes;
                pthread_mutex_unlock(&pool_lock);
                return p;
            }
        }
        pthread_mutex_unlock(&pool_lock);
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

void nm_buffer_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < 64) bytes = 64;
    if (bytes >= POOL_MIN_BYTES) {
        pthread_mutex_lock(&pool_lock);
        if (pool_count < POOL_SLOTS && pool_total + bytes <= POOL_MAX_TOTAL) {
            pool[pool_count].p = p;
            pool[pool_count].bytes = bytes;
            pool_count++;
            pool_total += bytes;
            pthread_mutex_unlock(&pool_lock);
            return;
        }
        /* Full: evict the oldest entry, keep the most recent sizes. */
        void *old = NULL;
        if (pool_count > 0) {
            old = pool[0].p;
            pool_total -= pool[0].bytes;
            pool[0] = pool[--pool_count];
        }
        if (pool_total + bytes <= POOL_MAX_TOTAL) {
            pool[pool_count].p = p;
            pool[pool_count].bytes = bytes;
            pool_count++;
            pool_total += bytes;
            p = NULL;
        }
        pthread_mutex_unlock(&pool_lock);
        free(old);
    }
    free(p);
}

void nm_buffer_trim(void) {
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < pool_count; i++) free(pool[i].p);
    pool_count = 0;
    pool_total = 0;
    pthread_mutex_unlock(&pool_lock);
}
