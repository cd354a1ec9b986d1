/* Whole-file reader that inflates gzip (zlib) and reads plain files unchanged. See nm_ann.h. */
#include "nm_ann.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void nm_ann_free(void *p) { free(p); }

int nm_read_file_gz(const char *path, uint8_t **out, int64_t *len, char *err, int errlen) {
    int more = 0;
    return nm_read_file_gz_max(path, INT64_MAX, out, len, &more, err, errlen);
}

int nm_read_file_gz_max(const char *path, int64_t max_len, uint8_t **out, int64_t *len, int *more, char *err, int errlen) {
    *out = NULL;
    *len = 0;
    *more = 0;
    if (max_len < 0) max_len = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
    fclose(probe);
    gzFile f = gzopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot open: %s", strerror(errno)); return -1; }
    gzbuffer(f, 1 << 17);
    /* never allocate more than max_len (+1 so that an empty limit still gets a valid pointer) */
    size_t limit = (uint64_t)max_len > (uint64_t)SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)max_len;
    size_t cap = limit < (1u << 20) ? limit + 1 : (1u << 20), n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) { gzclose(f); snprintf(err, errlen, "out of memory"); return -1; }
    for (;;) {
        if (n == limit) {
            /* the limit is reached: probe for one more byte (and let zlib check what it read) */
            uint8_t extra;
            if (gzread(f, &extra, 1) > 0) *more = 1;
            break;
        }
        if (cap - n < (1 << 16) && cap < limit + 1) {
            size_t ncap = cap > (limit + 1) / 2 ? limit + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { free(buf); gzclose(f); snprintf(err, errlen, "out of memory"); return -1; }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - n;
        if (want > limit - n) want = limit - n;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, buf + n, (unsigned)want);
        if (r < 0) {
            int code;
            const char *m = gzerror(f, &code);
            snprintf(err, errlen, "gzip data is corrupt (%s)", m ? m : "zlib error");
            free(buf);
            gzclose(f);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    /* A truncated gzip stream reads as a short file without an error; gzerror reports it. */
    int code;
    const char *m = gzerror(f, &code);
    if (code != Z_OK && code != Z_BUF_ERROR) {
        snprintf(err, errlen, "gzip data is corrupt (%s)", m ? m : "zlib error");
        free(buf);
        gzclose(f);
        return -1;
    }
    if (code == Z_BUF_ERROR) {
        snprintf(err, errlen, "gzip data is truncated (unexpected end of file)");
        free(buf);
        gzclose(f);
        return -1;
    }
    gzclose(f);
    *out = buf;
    *len = (int64_t)n;
    return 0;
}

int nm_write_file_gz(const char *path, const uint8_t *data, int64_t len) {
    gzFile f = gzopen(path, "wb6");
    if (!f) return -1;
    int64_t off = 0;
    while (off < len) {
        unsigned chunk = (unsigned)(len - off > (1 << 30) ? (1 << 30) : len - off);
        int w = gzwrite(f, data + off, chunk);
        if (w <= 0) { gzclose(f); return -1; }
        off += w;
    }
    return gzclose(f) == Z_OK ? 0 : -1;
}
