/*
 * wal.c - write-ahead log framing (see wal.h and docs/format/wal.md).
 *
 * Writer: one open segment file; every record is framed (13-byte header:
 * kind, stored length, uncompressed length, CRC32C), optionally LZ4'd, and
 * written with a single pwrite at the segment's end offset through the
 * fileio wrapper (so tests can tear it). Reader: maps one segment at a time
 * and walks frames, stopping at the first one that is short, zero, fails
 * its CRC or does not decompress. Callers: tsdb/walrec.c (records, replay,
 * checkpoints) and the head's appender. A wal handle is used by one thread
 * at a time (the head serialises commits); readers are independent of it.
 */
#include "storage/wal.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/crc32c.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "storage/varint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Frame header: kind u8 | stored_len be32 | uncompressed_len be32 | crc be32.
 * The CRC covers header bytes 0..8 and the stored payload. */
#define WAL_HDR_SIZE 13
#define WAL_HDR_CRC_OFF 9
#define WAL_KIND_RAW 1
#define WAL_KIND_LZ4 2
#define WAL_MAX_RECORD (64u << 20)
/* LZ4 cannot expand more than ~255x; a header claiming more is corrupt and
 * must not make the reader allocate a huge buffer. */
#define WAL_LZ4_MAX_RATIO 255u

#define CHECKPOINT_PREFIX "checkpoint."

struct wal {
    char *dir;
    wal_options opt;
    int seg;            /* current segment number */
    int fd;             /* -1 when the segment could not be (re)opened */
    uint64_t seg_size;  /* bytes of good records in the current segment */
    uint64_t bytes_written;
    int sync_err;       /* sticky: a failed fdatasync leaves the page cache in doubt */
    fl_buf frame;
};

struct wal_reader {
    char *dir;
    int *segs;          /* segment numbers to read, ascending */
    size_t nsegs, idx;  /* idx: position in segs of the mapped/next segment */
    fio_map map;
    bool mapped;
    int cur_seg;
    size_t off;         /* offset of the next record in cur_seg */
    size_t rec_off;     /* offset of the record last returned */
    uint8_t *dbuf;      /* decompression buffer */
    size_t dcap;
    int err;
};

/* ---- directory helpers ----------------------------------------------------- */

/* Parse a segment name: decimal digits only, fits in int. */
static bool parse_seg_name(const char *s, int *out) {
    if (!*s) return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) return false;
    }
    *out = (int)v;
    return true;
}

/* checkpoint.NNN (tmp=false) or checkpoint.NNN.tmp (tmp=true). */
static bool parse_checkpoint_name(const char *s, int *out, bool *tmp) {
    size_t plen = strlen(CHECKPOINT_PREFIX);
    if (strncmp(s, CHECKPOINT_PREFIX, plen) != 0) return false;
    char num[32];
    const char *digits = s + plen;
    const char *dot = strchr(digits, '.');
    size_t n = dot ? (size_t)(dot - digits) : strlen(digits);
    if (n == 0 || n >= sizeof num) return false;
    memcpy(num, digits, n);
    num[n] = 0;
    *tmp = false;
    if (dot) {
        if (strcmp(dot, ".tmp") != 0) return false;
        *tmp = true;
    }
    return parse_seg_name(num, out);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Sorted segment numbers in DIR; a missing DIR has none. Caller frees. */
static int list_segments(const char *dir, int **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return flint_error(FLINT_EIO, "wal: opendir %s: %s", dir, strerror(errno));
    }
    int *segs = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int seg;
        if (!parse_seg_name(e->d_name, &seg)) continue;
        if (fl_grow((void **)&segs, &cap, cnt + 1, sizeof *segs)) {
            rc = FLINT_ENOMEM;
            break;
        }
        segs[cnt++] = seg;
    }
    closedir(d);
    if (rc) {
        fl_free(segs);
        return rc;
    }
    if (cnt) qsort(segs, cnt, sizeof *segs, cmp_int);
    *out = segs;
    *n = cnt;
    return 0;
}

static void seg_path(char *buf, size_t cap, const char *dir, int seg) {
    snprintf(buf, cap, "%s/%08d", dir, seg);
}

int wal_segment_range(const char *dir, int *first, int *last) {
    int *segs;
    size_t n;
    *first = *last = -1;
    int rc = list_segments(dir, &segs, &n);
    if (rc) return rc;
    if (n) {
        *first = segs[0];
        *last = segs[n - 1];
    }
    fl_free(segs);
    return 0;
}

int wal_delete_before(const char *dir, int seg) {
    int *segs;
    size_t n;
    int rc = list_segments(dir, &segs, &n);
    if (rc) return rc;
    size_t deleted = 0;
    for (; deleted < n && segs[deleted] < seg && rc == 0; deleted++) {
        char path[PATH_MAX];
        seg_path(path, sizeof path, dir, segs[deleted]);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = flint_error(FLINT_EIO, "wal: unlink %s: %s", path, strerror(errno));
    }
    fl_free(segs);
    if (rc == 0 && deleted) rc = fio_fsync_dir(dir);
    return rc;
}

int wal_last_checkpoint(const char *dir, int *seg, char *path, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return flint_error(FLINT_ENOTFOUND, "wal: no checkpoint in %s", dir);
        return flint_error(FLINT_EIO, "wal: opendir %s: %s", dir, strerror(errno));
    }
    int best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        int n;
        bool tmp;
        if (parse_checkpoint_name(e->d_name, &n, &tmp) && !tmp && n > best) best = n;
    }
    closedir(d);
    if (best < 0) return flint_error(FLINT_ENOTFOUND, "wal: no checkpoint in %s", dir);
    *seg = best;
    if (path && cap) snprintf(path, cap, "%s/" CHECKPOINT_PREFIX "%08d", dir, best);
    return 0;
}

int wal_delete_checkpoints_before(const char *dir, int seg) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return flint_error(FLINT_EIO, "wal: opendir %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    bool removed = false;
    struct dirent *e;
    while ((e = readdir(d)) && rc == 0) {
        int n;
        bool tmp;
        if (!parse_checkpoint_name(e->d_name, &n, &tmp) || (!tmp && n >= seg)) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = fio_rm_rf(path);
        removed = true;
    }
    closedir(d);
    if (rc == 0 && removed) rc = fio_fsync_dir(dir);
    return rc;
}

/* ---- writer ------------------------------------------------------------------ */

void wal_options_default(wal_options *o) {
    o->segment_size = WAL_DEFAULT_SEGMENT_SIZE;
    o->compress = true;
}

/* Create segment w->seg (it must not exist: a new segment never reuses an
 * old file) and make its directory entry durable. */
static int open_segment(wal *w) {
    char path[PATH_MAX];
    seg_path(path, sizeof path, w->dir, w->seg);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return flint_error(FLINT_EIO, "wal: create %s: %s", path, strerror(errno));
    int rc = fio_fsync_dir(w->dir);
    if (rc) {
        close(fd);
        unlink(path);
        return rc;
    }
    w->fd = fd;
    w->seg_size = 0;
    return 0;
}

int wal_open(const char *dir, const wal_options *opt, wal **out) {
    *out = NULL;
    int rc = fio_mkdir_p(dir);
    if (rc) return rc;
    int first, last, ckpt = -1;
    if ((rc = wal_segment_range(dir, &first, &last))) return rc;
    rc = wal_last_checkpoint(dir, &ckpt, NULL, 0);
    if (rc && rc != FLINT_ENOTFOUND) return rc;
    flint_clear_error();
    /* A segment numbered at or below the last checkpoint would be skipped by
     * replay, so the new one goes after both. */
    int newest = last > ckpt ? last : ckpt;
    if (newest >= INT_MAX - 1) return flint_error(FLINT_ERANGE, "wal: %s: segment numbers exhausted", dir);

    wal *w = fl_calloc(1, sizeof *w);
    if (!w) return FLINT_ENOMEM;
    w->fd = -1;
    w->dir = fl_strdup(dir);
    if (!w->dir) {
        fl_free(w);
        return FLINT_ENOMEM;
    }
    wal_options_default(&w->opt);
    if (opt) {
        w->opt = *opt;
        if (!w->opt.segment_size) w->opt.segment_size = WAL_DEFAULT_SEGMENT_SIZE;
    }
    w->seg = newest + 1;
    if ((rc = open_segment(w))) {
        fl_free(w->dir);
        fl_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int wal_sync(wal *w) {
    if (w->sync_err) return w->sync_err;
    if (w->fd < 0) return 0;
    char path[PATH_MAX];
    seg_path(path, sizeof path, w->dir, w->seg);
    int rc = fio_fsync(w->fd, path);
    /* After a failed fdatasync the kernel may have dropped the dirty pages
     * and cleared the error: nothing written since the last good sync can be
     * trusted, so the log refuses further work until it is reopened. */
    if (rc) w->sync_err = rc;
    return rc;
}

int wal_cut(wal *w) {
    if (w->sync_err) return w->sync_err;
    if (w->fd >= 0) {
        int rc = wal_sync(w);
        if (rc) return rc;
        close(w->fd);
        w->fd = -1;
        if (w->seg == INT_MAX - 1) return flint_error(FLINT_ERANGE, "wal: %s: segment numbers exhausted", w->dir);
        w->seg++;
    }
    int rc = open_segment(w);
    return rc ? rc : w->seg;
}

/* Build the frame for rec in w->frame: header, then LZ4 or raw payload. */
static int build_frame(wal *w, const uint8_t *rec, size_t len) {
    fl_buf *f = &w->frame;
    fl_buf_reset(f);
    uint8_t kind = WAL_KIND_RAW;
    size_t stored = len;
    if (w->opt.compress) {
        int bound = LZ4_compressBound((int)len);
        if (fl_buf_reserve(f, WAL_HDR_SIZE + (size_t)bound)) return FLINT_ENOMEM;
        int c = LZ4_compress_default((const char *)rec, (char *)f->data + WAL_HDR_SIZE, (int)len, bound);
        if (c > 0 && (size_t)c < len) {
            kind = WAL_KIND_LZ4;
            stored = (size_t)c;
        }
    }
    if (kind == WAL_KIND_RAW) {
        if (fl_buf_reserve(f, WAL_HDR_SIZE + len)) return FLINT_ENOMEM;
        memcpy(f->data + WAL_HDR_SIZE, rec, len);
    }
    uint8_t *h = f->data;
    h[0] = kind;
    be32_put(h + 1, (uint32_t)stored);
    be32_put(h + 5, (uint32_t)len);
    uint32_t crc = crc32c(0, h, WAL_HDR_CRC_OFF);
    crc = crc32c(crc, h + WAL_HDR_SIZE, stored);
    be32_put(h + WAL_HDR_CRC_OFF, crc);
    f->len = WAL_HDR_SIZE + stored;
    return 0;
}

int wal_log(wal *w, const uint8_t *rec, size_t len) {
    if (len == 0 || len > WAL_MAX_RECORD)
        return flint_error(FLINT_EINVAL, "wal: record of %zu bytes (must be 1..%u)", len, WAL_MAX_RECORD);
    if (w->sync_err) return w->sync_err;
    int rc = build_frame(w, rec, len);
    if (rc) return rc;
    if (w->fd >= 0 && w->seg_size > 0 && w->seg_size + w->frame.len > w->opt.segment_size) {
        rc = wal_cut(w);
        if (rc < 0) return rc;
    }
    if (w->fd < 0 && (rc = wal_cut(w)) < 0) return rc; /* retry a failed segment creation */
    char path[PATH_MAX];
    seg_path(path, sizeof path, w->dir, w->seg);
    rc = fio_pwrite_all(w->fd, w->frame.data, w->frame.len, (off_t)w->seg_size, path);
    if (rc) {
        /* Not acknowledged. The next record is written at the same offset,
         * over whatever part of this one reached the file; cutting the file
         * back now keeps a shorter next record from leaving stale bytes
         * behind it. If that fails too the stale bytes are a torn tail. */
        if (ftruncate(w->fd, (off_t)w->seg_size) != 0)
            flint_log(FLINT_LOG_WARN, "wal", "could not cut failed write", "segment=%s offset=%llu err=\"%s\"",
                      path, (unsigned long long)w->seg_size, strerror(errno));
        return rc;
    }
    w->seg_size += w->frame.len;
    w->bytes_written += w->frame.len;
    if (w->frame.cap > (1u << 20)) fl_buf_free(&w->frame); /* one big record does not pin its frame */
    return 0;
}

int wal_current_segment(const wal *w) { return w->seg; }
uint64_t wal_bytes_written(const wal *w) { return w->bytes_written; }

void wal_close(wal *w) {
    if (!w) return;
    if (w->fd >= 0) {
        if (wal_sync(w))
            flint_log(FLINT_LOG_WARN, "wal", "fsync on close failed", "dir=%s err=\"%s\"", w->dir, flint_errmsg());
        close(w->fd);
    }
    fl_buf_free(&w->frame);
    fl_free(w->dir);
    fl_free(w);
}

/* ---- reader ------------------------------------------------------------------ */

int wal_reader_open(const char *dir, int first, int last, wal_reader **out) {
    *out = NULL;
    wal_reader *r = fl_calloc(1, sizeof *r);
    if (!r) return FLINT_ENOMEM;
    r->cur_seg = first;
    if (!(r->dir = fl_strdup(dir))) {
        fl_free(r);
        return FLINT_ENOMEM;
    }
    int *segs;
    size_t n;
    int rc = list_segments(dir, &segs, &n);
    if (rc) {
        wal_reader_free(r);
        return rc;
    }
    size_t keep = 0;
    for (size_t i = 0; i < n; i++)
        if (segs[i] >= first && (last < 0 || segs[i] <= last)) segs[keep++] = segs[i];
    r->segs = segs;
    r->nsegs = keep;
    if (keep) r->cur_seg = segs[0];
    *out = r;
    return 0;
}

void wal_reader_free(wal_reader *r) {
    if (!r) return;
    if (r->mapped) fio_unmap(&r->map);
    fl_free(r->segs);
    fl_free(r->dbuf);
    fl_free(r->dir);
    fl_free(r);
}

int wal_reader_err(const wal_reader *r) { return r->err; }

void wal_reader_pos(const wal_reader *r, int *seg, int64_t *off) {
    *seg = r->cur_seg;
    *off = (int64_t)r->off;
}

void wal_reader_record_pos(const wal_reader *r, int *seg, int64_t *off) {
    *seg = r->cur_seg;
    *off = (int64_t)r->rec_off;
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static bool reader_fail(wal_reader *r, int code, const char *what) {
    char path[PATH_MAX];
    seg_path(path, sizeof path, r->dir, r->cur_seg);
    r->err = flint_error(code, "wal: %s at offset %zu: %s", path, r->off, what);
    return false;
}

/* Map the next segment; false at the end of the list or on error. */
static bool reader_advance(wal_reader *r) {
    if (r->mapped) {
        fio_unmap(&r->map);
        r->mapped = false;
        if (r->idx + 1 < r->nsegs && r->segs[r->idx + 1] != r->cur_seg + 1) {
            /* A hole: later segments cannot be replayed in order. Report it at
             * the end of this segment so a repair drops what follows. */
            char what[64];
            snprintf(what, sizeof what, "next segment %08d is missing", r->cur_seg + 1);
            return reader_fail(r, FLINT_ECORRUPT, what);
        }
        r->idx++;
    }
    if (r->idx >= r->nsegs) return false;
    r->cur_seg = r->segs[r->idx];
    r->off = 0;
    char path[PATH_MAX];
    seg_path(path, sizeof path, r->dir, r->cur_seg);
    int rc = fio_map_file(path, &r->map);
    if (rc) {
        r->err = rc;
        return false;
    }
    r->mapped = true;
    return true;
}

bool wal_reader_next(wal_reader *r, const uint8_t **rec, size_t *len) {
    if (r->err) return false;
    while (!r->mapped || r->off == r->map.size) {
        /* At the end of the last segment stay there, so the position names
         * where the log ends. */
        if (r->mapped && r->idx + 1 >= r->nsegs) return false;
        if (!reader_advance(r)) return false;
    }
    const uint8_t *p = r->map.data + r->off;
    size_t avail = r->map.size - r->off;
    if (p[0] == 0 && all_zero(p, avail)) return reader_fail(r, FLINT_ECORRUPT, "zero-filled tail");
    if (avail < WAL_HDR_SIZE) return reader_fail(r, FLINT_ECORRUPT, "truncated record header");
    uint8_t kind = p[0];
    uint32_t stored = be32_get(p + 1), ulen = be32_get(p + 5), crc = be32_get(p + WAL_HDR_CRC_OFF);
    if (kind != WAL_KIND_RAW && kind != WAL_KIND_LZ4) return reader_fail(r, FLINT_ECORRUPT, "unknown record kind");
    if (ulen == 0 || ulen > WAL_MAX_RECORD || stored == 0 ||
        (kind == WAL_KIND_RAW && stored != ulen) ||
        (kind == WAL_KIND_LZ4 && (stored >= ulen || (uint64_t)stored * WAL_LZ4_MAX_RATIO < ulen)))
        return reader_fail(r, FLINT_ECORRUPT, "bad record lengths");
    if (stored > avail - WAL_HDR_SIZE) return reader_fail(r, FLINT_ECORRUPT, "truncated record");
    uint32_t want = crc32c(crc32c(0, p, WAL_HDR_CRC_OFF), p + WAL_HDR_SIZE, stored);
    if (want != crc) return reader_fail(r, FLINT_ECORRUPT, "record CRC mismatch");
    const uint8_t *payload = p + WAL_HDR_SIZE;
    if (kind == WAL_KIND_LZ4) {
        if (ulen > r->dcap) {
            uint8_t *nb = fl_realloc(r->dbuf, ulen);
            if (!nb) {
                r->err = flint_error(FLINT_ENOMEM, "wal: out of memory decompressing a %u-byte record", ulen);
                return false;
            }
            r->dbuf = nb;
            r->dcap = ulen;
        }
        int d = LZ4_decompress_safe((const char *)payload, (char *)r->dbuf, (int)stored, (int)ulen);
        if (d < 0 || (uint32_t)d != ulen) return reader_fail(r, FLINT_ECORRUPT, "record does not decompress");
        payload = r->dbuf;
    }
    r->rec_off = r->off;
    r->off += WAL_HDR_SIZE + stored;
    *rec = payload;
    *len = ulen;
    return true;
}

/* ---- repair -------------------------------------------------------------------- */

int wal_repair_ex(const char *dir, int seg, int64_t off, int64_t *bytes_dropped) {
    int64_t dropped = 0;
    int deleted = 0;
    if (bytes_dropped) *bytes_dropped = 0;
    if (off < 0) return flint_error(FLINT_EINVAL, "wal: repair at negative offset %lld", (long long)off);
    int *segs;
    size_t n;
    int rc = list_segments(dir, &segs, &n);
    if (rc) return rc;
    /* Newest first: if we crash half way, what is left is still a contiguous
     * run that ends with the corrupt segment, and the next repair finishes. */
    for (size_t i = n; i-- > 0 && rc == 0;) {
        if (segs[i] <= seg) break;
        char path[PATH_MAX];
        seg_path(path, sizeof path, dir, segs[i]);
        struct stat st;
        if (stat(path, &st) == 0) dropped += st.st_size;
        if (unlink(path) != 0 && errno != ENOENT)
            rc = flint_error(FLINT_EIO, "wal: unlink %s: %s", path, strerror(errno));
        else
            deleted++;
    }
    fl_free(segs);
    if (rc == 0 && deleted) rc = fio_fsync_dir(dir);
    if (rc) return rc;

    char path[PATH_MAX];
    seg_path(path, sizeof path, dir, seg);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) return flint_error(FLINT_EIO, "wal: open %s: %s", path, strerror(errno));
    } else {
        struct stat st;
        if (fstat(fd, &st) != 0) rc = flint_error(FLINT_EIO, "wal: stat %s: %s", path, strerror(errno));
        else if (st.st_size > off) {
            dropped += st.st_size - off;
            if (ftruncate(fd, off) != 0) rc = flint_error(FLINT_EIO, "wal: truncate %s: %s", path, strerror(errno));
            else rc = fio_fsync(fd, path);
        }
        close(fd);
        if (rc) return rc;
    }
    if (bytes_dropped) *bytes_dropped = dropped;
    if (dropped || deleted)
        flint_log(FLINT_LOG_WARN, "wal", "cut corrupt or torn WAL tail",
                  "dir=%s segment=%08d offset=%lld bytes_dropped=%lld segments_deleted=%d", dir, seg,
                  (long long)off, (long long)dropped, deleted);
    return 0;
}

int wal_repair(const char *dir, int seg, int64_t off) { return wal_repair_ex(dir, seg, off, NULL); }
