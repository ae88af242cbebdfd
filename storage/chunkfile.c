/*
 * chunkfile.c - chunk segment files (see chunkfile.h, docs/format/block.md).
 *
 * Record: [encoding u8][uvarint len][len bytes][CRC32C u32 BE], the CRC
 * covering encoding, length and data. The writer buffers records and
 * writes through fio_write_all (fault injection); a segment is fsynced when
 * it is closed, the directory once at finish.
 */
#include "storage/chunkfile.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/crc32c.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/varint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITE_BUF (256u << 10)
#define SEGMENT_NAME_LEN 6

/* ---- writer ------------------------------------------------------------------ */

struct chunkfile_writer {
    char *dir;
    char path[PATH_MAX];  /* current segment */
    int fd;
    int err;
    uint32_t seq;         /* current segment number */
    uint64_t seg_size;    /* bytes in the current segment (incl. buffered) */
    uint64_t seg_limit;
    uint64_t total;
    fl_buf buf;
};

static int cw_fail(chunkfile_writer *w, int rc) {
    if (!w->err) w->err = rc;
    return rc;
}

static int cw_flush(chunkfile_writer *w) {
    if (!w->buf.len) return 0;
    int rc = fio_write_all(w->fd, w->buf.data, w->buf.len, w->path);
    w->buf.len = 0;
    return rc;
}

/* Flush, fsync and close the current segment. */
static int cw_close_segment(chunkfile_writer *w) {
    if (w->fd < 0) return 0;
    int rc = cw_flush(w);
    if (!rc) rc = fio_fsync(w->fd, w->path);
    if (close(w->fd) != 0 && !rc) rc = flint_error(FLINT_EIO, "close %s: %s", w->path, strerror(errno));
    w->fd = -1;
    return rc;
}

static int cw_open_segment(chunkfile_writer *w) {
    if (w->seq == UINT32_MAX) return flint_error(FLINT_ERANGE, "chunks: too many segments in %s", w->dir);
    w->seq++;
    snprintf(w->path, sizeof w->path, "%s/%06u", w->dir, w->seq);
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return flint_error(errno == ENOSPC ? FLINT_ENOSPC : FLINT_EIO, "create %s: %s", w->path, strerror(errno));
    uint8_t hdr[CHUNKFILE_HEADER_SIZE] = {0};
    memcpy(hdr, CHUNKFILE_MAGIC, 4);
    hdr[4] = CHUNKFILE_VERSION;
    if (fl_buf_put(&w->buf, hdr, sizeof hdr)) return FLINT_ENOMEM;
    w->seg_size = sizeof hdr;
    w->total += sizeof hdr;
    return 0;
}

int chunkfile_writer_new(const char *dir, uint64_t segment_bytes, chunkfile_writer **out) {
    *out = NULL;
    chunkfile_writer *w = fl_calloc(1, sizeof *w);
    if (!w) return FLINT_ENOMEM;
    w->fd = -1;
    w->seg_limit = segment_bytes ? segment_bytes : CHUNKFILE_SEGMENT_BYTES;
    if (w->seg_limit > UINT32_MAX) w->seg_limit = UINT32_MAX;
    w->dir = fl_strdup(dir);
    int rc = w->dir ? fl_buf_reserve(&w->buf, WRITE_BUF) : FLINT_ENOMEM;
    if (!rc) rc = fio_mkdir_p(dir);
    if (!rc) rc = cw_open_segment(w);
    if (rc) {
        chunkfile_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int chunkfile_writer_add(chunkfile_writer *w, uint8_t enc, const uint8_t *data, size_t len, uint64_t *ref) {
    if (w->err) return w->err;
    if (w->fd < 0) return cw_fail(w, flint_error(FLINT_EINVAL, "chunks: writer for %s already finished", w->dir));
    uint8_t hdr[1 + VARINT_MAX];
    hdr[0] = enc;
    size_t hl = 1 + uvarint_put(hdr + 1, len);
    uint64_t rec = hl + (uint64_t)len + 4;
    if (rec > UINT32_MAX - CHUNKFILE_HEADER_SIZE)
        return cw_fail(w, flint_error(FLINT_ERANGE, "chunks: chunk of %zu bytes too large", len));
    if (w->seg_size + rec > w->seg_limit && w->seg_size > CHUNKFILE_HEADER_SIZE) {
        int rc = cw_close_segment(w);
        if (!rc) rc = cw_open_segment(w);
        if (rc) return cw_fail(w, rc);
    }
    if (w->seg_size + rec > UINT32_MAX) return cw_fail(w, flint_error(FLINT_ERANGE, "chunks: segment offset overflow"));
    uint8_t crc[4];
    be32_put(crc, crc32c(crc32c(0, hdr, hl), data, len));
    *ref = chunkfile_ref(w->seq, (uint32_t)w->seg_size);
    int rc = 0;
    if (w->buf.len + rec > WRITE_BUF) rc = cw_flush(w);
    if (!rc && rec > WRITE_BUF) {
        /* large chunk: write through */
        rc = fio_write_all(w->fd, hdr, hl, w->path);
        if (!rc) rc = fio_write_all(w->fd, data, len, w->path);
        if (!rc) rc = fio_write_all(w->fd, crc, 4, w->path);
    } else if (!rc) {
        /* fits the WRITE_BUF reserved at creation: no reallocation */
        if (fl_buf_put(&w->buf, hdr, hl) || fl_buf_put(&w->buf, data, len) || fl_buf_put(&w->buf, crc, 4))
            rc = FLINT_ENOMEM;
    }
    if (rc) return cw_fail(w, rc);
    w->seg_size += rec;
    w->total += rec;
    return 0;
}

int chunkfile_writer_finish(chunkfile_writer *w) {
    if (w->err) return w->err;
    int rc = cw_close_segment(w);
    if (!rc) rc = fio_fsync_dir(w->dir);
    return rc ? cw_fail(w, rc) : 0;
}

uint64_t chunkfile_writer_bytes(const chunkfile_writer *w) { return w->total; }

void chunkfile_writer_free(chunkfile_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    fl_buf_free(&w->buf);
    fl_free(w->dir);
    fl_free(w);
}

/* ---- reader ------------------------------------------------------------------ */

struct chunkfile_reader {
    char *dir;
    fio_map *segs;   /* segs[i] is segment i+1 */
    uint32_t nsegs;
    uint64_t bytes;
};

static int seg_number(const char *name, uint32_t *out) {
    if (strlen(name) != SEGMENT_NAME_LEN) return 0;
    uint64_t v = 0;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v == 0) return 0;
    *out = (uint32_t)v;
    return 1;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int chunkfile_reader_open(const char *dir, chunkfile_reader **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        int code = errno == ENOENT ? FLINT_ENOTFOUND : FLINT_EIO;
        return flint_error(code, "chunks: open %s: %s", dir, strerror(errno));
    }
    uint32_t *nums = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t num;
        if (!seg_number(e->d_name, &num)) continue;
        if (fl_grow((void **)&nums, &cap, n + 1, sizeof *nums)) {
            rc = FLINT_ENOMEM;
            break;
        }
        nums[n++] = num;
    }
    closedir(d);
    chunkfile_reader *r = rc ? NULL : fl_calloc(1, sizeof *r);
    if (!rc && !r) rc = FLINT_ENOMEM;
    if (!rc) {
        r->dir = fl_strdup(dir);
        r->segs = fl_calloc(n ? n : 1, sizeof *r->segs);
        if (!r->dir || !r->segs) rc = FLINT_ENOMEM;
    }
    if (!rc && n > 1) qsort(nums, n, sizeof *nums, cmp_u32);
    for (size_t i = 0; i < n && !rc; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%06u", dir, (unsigned)(i + 1));
        if (nums[i] != i + 1) {
            rc = flint_error(FLINT_ECORRUPT, "chunks: segment %s missing", path);
            break;
        }
        rc = fio_map_file(path, &r->segs[i]);
        if (rc) break;
        r->nsegs = (uint32_t)i + 1;
        const fio_map *m = &r->segs[i];
        r->bytes += m->size;
        if (m->size < CHUNKFILE_HEADER_SIZE || memcmp(m->data, CHUNKFILE_MAGIC, 4) != 0)
            rc = flint_error(FLINT_ECORRUPT, "chunks: %s: bad segment header at offset 0", path);
        else if (m->data[4] != CHUNKFILE_VERSION || m->data[5] || m->data[6] || m->data[7])
            rc = flint_error(FLINT_ECORRUPT, "chunks: %s: unsupported segment version %u at offset 4", path, m->data[4]);
        else if (m->size > UINT32_MAX)
            rc = flint_error(FLINT_ECORRUPT, "chunks: %s: segment larger than 4 GiB", path);
    }
    fl_free(nums);
    if (rc) {
        chunkfile_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void chunkfile_reader_free(chunkfile_reader *r) {
    if (!r) return;
    for (uint32_t i = 0; i < r->nsegs; i++) fio_unmap(&r->segs[i]);
    fl_free(r->segs);
    fl_free(r->dir);
    fl_free(r);
}

uint32_t chunkfile_num_segments(const chunkfile_reader *r) { return r->nsegs; }
uint64_t chunkfile_reader_bytes(const chunkfile_reader *r) { return r->bytes; }

int chunkfile_read(const chunkfile_reader *r, uint64_t ref, uint8_t *enc, const uint8_t **data, size_t *len) {
    uint32_t seq = (uint32_t)(ref >> 32), off = (uint32_t)ref;
    if (seq == 0 || seq > r->nsegs)
        return flint_error(FLINT_ENOTFOUND, "chunks: ref %llu names segment %06u, %s has %u", (unsigned long long)ref, seq,
                           r->dir, r->nsegs);
    const fio_map *m = &r->segs[seq - 1];
    const uint8_t *p = m->data + off, *end = m->data + m->size;
    uint64_t n;
    const uint8_t *q;
    if (off < CHUNKFILE_HEADER_SIZE || off >= m->size || !(q = uvarint_get(p + 1, end, &n)) || n > (uint64_t)(end - q) ||
        (uint64_t)(end - q) - n < 4)
        return flint_error(FLINT_ECORRUPT, "chunks: %s/%06u: chunk record out of bounds at offset %u", r->dir, seq, off);
    uint32_t want = be32_get(q + n);
    if (crc32c(0, p, (size_t)(q + n - p)) != want)
        return flint_error(FLINT_ECORRUPT, "chunks: %s/%06u: chunk CRC mismatch at offset %u", r->dir, seq, off);
    *enc = *p;
    *data = q;
    *len = (size_t)n;
    return 0;
}
