/*
 * headchunks.c - append-only files for the head's full chunks (see
 * headchunks.h for the layout and the life cycle).
 *
 * Each file is mapped read-only once, at its full possible size, when it is
 * created: mapping beyond EOF is allowed and only the written part is ever
 * touched, so the mapping never has to move while readers use it. Writes
 * collect in a 64 KiB buffer flushed with one pwrite; a read of a chunk
 * still in the buffer copies from there.
 */
#include "tsdb/headchunks.h"
#include "storage/crc32c.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HC_HEADER_SIZE 8
#define HC_WBUF_SIZE (64u << 10)
static const uint8_t hc_header[HC_HEADER_SIZE] = {'F', 'L', 'H', 'C', 1, 0, 0, 0};

typedef struct hc_file {
    uint32_t seq;
    int fd;
    const uint8_t *map; /* HEADCHUNKS_MAX_FILE_SIZE bytes reserved */
    uint64_t size;      /* bytes written (including the buffered tail) */
    int64_t maxt;       /* greatest maxt of its chunks */
} hc_file;

struct headchunks {
    pthread_rwlock_t lock;
    char *dir;
    uint32_t file_size;
    uint32_t next_seq;
    hc_file *files[HEADCHUNKS_MAX_FILES]; /* by seq % HEADCHUNKS_MAX_FILES */
    hc_file *cur;                         /* being written, or NULL */
    uint8_t *wbuf;                        /* buffered tail of cur */
    uint32_t wlen;                        /* bytes in wbuf */
    uint64_t wbuf_off;                    /* file offset of wbuf[0] */
    uint64_t chunks_written;
};

static void file_path(const headchunks *hc, uint32_t seq, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%06u", hc->dir, seq);
}

static bool is_chunk_file_name(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

int headchunks_open(const char *dir, uint32_t file_size, headchunks **out) {
    int rc = fio_mkdir_p(dir);
    if (rc) return rc;
    DIR *d = opendir(dir);
    if (!d) return flint_error(FLINT_EIO, "headchunks: opendir %s: %s", dir, strerror(errno));
    size_t dl = strlen(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_chunk_file_name(de->d_name)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%.*s/%s", (int)dl, dir, de->d_name);
        if (unlink(path) != 0) {
            rc = flint_error(FLINT_EIO, "headchunks: unlink %s: %s", path, strerror(errno));
            break;
        }
    }
    closedir(d);
    if (rc) return rc;
    headchunks *hc = fl_calloc(1, sizeof *hc);
    if (!hc) return FLINT_ENOMEM;
    hc->dir = fl_strdup(dir);
    hc->wbuf = fl_malloc(HC_WBUF_SIZE);
    if (!hc->dir || !hc->wbuf) {
        fl_free(hc->dir);
        fl_free(hc->wbuf);
        fl_free(hc);
        return FLINT_ENOMEM;
    }
    if (file_size == 0 || file_size > HEADCHUNKS_MAX_FILE_SIZE) file_size = HEADCHUNKS_MAX_FILE_SIZE;
    if (file_size < 4096) file_size = 4096;
    hc->file_size = file_size;
    hc->next_seq = 1;
    pthread_rwlock_init(&hc->lock, NULL);
    *out = hc;
    return 0;
}

/* Write the buffered tail of cur. Called with the lock held exclusively. */
static int flush_locked(headchunks *hc) {
    if (!hc->cur || hc->wlen == 0) return 0;
    char path[4096];
    file_path(hc, hc->cur->seq, path, sizeof path);
    int rc = fio_pwrite_all(hc->cur->fd, hc->wbuf, hc->wlen, (off_t)hc->wbuf_off, path);
    if (rc) return rc;
    hc->wbuf_off += hc->wlen;
    hc->wlen = 0;
    return 0;
}

static void file_free(hc_file *f) {
    if (f->map) munmap((void *)f->map, HEADCHUNKS_MAX_FILE_SIZE);
    if (f->fd >= 0) close(f->fd);
    fl_free(f);
}

/* Finish the current file (flush); it stays readable. */
static int finish_cur_locked(headchunks *hc) {
    if (!hc->cur) return 0;
    int rc = flush_locked(hc);
    if (rc) return rc;
    hc->cur = NULL;
    return 0;
}

static int new_file_locked(headchunks *hc) {
    int rc = finish_cur_locked(hc);
    if (rc) return rc;
    uint32_t seq = hc->next_seq, slot = seq % HEADCHUNKS_MAX_FILES;
    if (hc->files[slot])
        return flint_error(FLINT_ELIMIT, "headchunks: %u files in use, none free", HEADCHUNKS_MAX_FILES);
    char path[4096];
    file_path(hc, seq, path, sizeof path);
    hc_file *f = fl_calloc(1, sizeof *f);
    if (!f) return FLINT_ENOMEM;
    f->seq = seq;
    f->maxt = INT64_MIN;
    f->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        rc = flint_error(errno == ENOSPC ? FLINT_ENOSPC : FLINT_EIO, "headchunks: open %s: %s", path,
                         strerror(errno));
        fl_free(f);
        return rc;
    }
    void *m = mmap(NULL, HEADCHUNKS_MAX_FILE_SIZE, PROT_READ, MAP_SHARED, f->fd, 0);
    if (m == MAP_FAILED) {
        rc = flint_error(FLINT_EIO, "headchunks: mmap %s: %s", path, strerror(errno));
        f->map = NULL;
        file_free(f);
        unlink(path);
        return rc;
    }
    f->map = m;
    rc = fio_pwrite_all(f->fd, hc_header, HC_HEADER_SIZE, 0, path);
    if (rc) {
        file_free(f);
        unlink(path);
        return rc;
    }
    f->size = HC_HEADER_SIZE;
    hc->files[slot] = f;
    hc->cur = f;
    hc->wbuf_off = HC_HEADER_SIZE;
    hc->wlen = 0;
    hc->next_seq++;
    return 0;
}

int headchunks_write(headchunks *hc, int enc, const uint8_t *data, size_t len, int64_t maxt, uint64_t *ref) {
    uint8_t head[1 + VARINT_MAX], tail[4];
    size_t hl = 0;
    head[hl++] = (uint8_t)enc;
    hl += uvarint_put(head + hl, len);
    uint32_t crc = crc32c(crc32c(0, head, hl), data, len);
    be32_put(tail, crc);
    uint64_t rec = hl + len + 4;
    if (rec + HC_HEADER_SIZE > hc->file_size)
        return flint_error(FLINT_EINVAL, "headchunks: chunk of %zu bytes does not fit a file", len);

    pthread_rwlock_wrlock(&hc->lock);
    int rc = 0;
    if (!hc->cur || hc->cur->size + rec > hc->file_size) {
        if ((rc = new_file_locked(hc))) goto out;
    }
    if (hc->wlen + rec > HC_WBUF_SIZE) {
        if ((rc = flush_locked(hc))) goto out;
    }
    hc_file *f = hc->cur;
    uint64_t off = f->size;
    if (rec > HC_WBUF_SIZE) { /* larger than the buffer: straight to the file */
        char path[4096];
        file_path(hc, f->seq, path, sizeof path);
        uint8_t *tmp = fl_malloc(rec);
        if (!tmp) {
            rc = FLINT_ENOMEM;
            goto out;
        }
        memcpy(tmp, head, hl);
        memcpy(tmp + hl, data, len);
        memcpy(tmp + hl + len, tail, 4);
        rc = fio_pwrite_all(f->fd, tmp, rec, (off_t)off, path);
        fl_free(tmp);
        if (rc) goto out;
        hc->wbuf_off = off + rec;
    } else {
        memcpy(hc->wbuf + hc->wlen, head, hl);
        memcpy(hc->wbuf + hc->wlen + hl, data, len);
        memcpy(hc->wbuf + hc->wlen + hl + len, tail, 4);
        hc->wlen += (uint32_t)rec;
    }
    f->size = off + rec;
    if (maxt > f->maxt) f->maxt = maxt;
    hc->chunks_written++;
    *ref = (uint64_t)(f->seq % HEADCHUNKS_MAX_FILES) << HEADCHUNKS_OFFSET_BITS | off;
out:
    pthread_rwlock_unlock(&hc->lock);
    return rc;
}

int headchunks_read(headchunks *hc, uint64_t ref, fl_buf *out, int *enc) {
    uint32_t slot = (uint32_t)(ref >> HEADCHUNKS_OFFSET_BITS) & (HEADCHUNKS_MAX_FILES - 1);
    uint64_t off = ref & (HEADCHUNKS_MAX_FILE_SIZE - 1);
    int rc = 0;
    pthread_rwlock_rdlock(&hc->lock);
    hc_file *f = hc->files[slot];
    if (!f || off < HC_HEADER_SIZE || off >= f->size) {
        rc = flint_error(FLINT_ENOTFOUND, "headchunks: no chunk at slot %u offset %llu", slot,
                         (unsigned long long)off);
        goto out;
    }
    /* The record lies wholly in the file or wholly in the write buffer. */
    const uint8_t *p, *end;
    if (f == hc->cur && off >= hc->wbuf_off) {
        p = hc->wbuf + (off - hc->wbuf_off);
        end = hc->wbuf + hc->wlen;
    } else {
        p = f->map + off;
        end = f->map + (f == hc->cur ? hc->wbuf_off : f->size);
    }
    const uint8_t *rec = p;
    uint64_t len;
    const uint8_t *q = end - p > 1 ? uvarint_get(p + 1, end, &len) : NULL;
    if (!q || len > (uint64_t)(end - q) || (uint64_t)(end - q) - len < 4) {
        rc = flint_error(FLINT_ECORRUPT, "headchunks: %s/%06u: bad record at offset %llu", hc->dir, f->seq,
                         (unsigned long long)off);
        goto out;
    }
    if (crc32c(0, rec, (size_t)(q - rec) + len) != be32_get(q + len)) {
        rc = flint_error(FLINT_ECORRUPT, "headchunks: %s/%06u: CRC mismatch at offset %llu", hc->dir,
                         f->seq, (unsigned long long)off);
        goto out;
    }
    if ((rc = fl_buf_put(out, q, len))) goto out;
    *enc = rec[0];
out:
    pthread_rwlock_unlock(&hc->lock);
    return rc;
}

uint32_t headchunks_cut(headchunks *hc) {
    pthread_rwlock_wrlock(&hc->lock);
    if (hc->cur && finish_cur_locked(hc)) {
        flint_log(FLINT_LOG_WARN, "headchunks", "flush at cut failed", "err=\"%s\"", flint_errmsg());
    }
    uint32_t seq = hc->cur ? hc->cur->seq : hc->next_seq; /* cur: the flush failed, keep it */
    pthread_rwlock_unlock(&hc->lock);
    return seq;
}

int headchunks_truncate(headchunks *hc, int64_t mint, uint32_t before_seq) {
    int deleted = 0, rc = 0;
    pthread_rwlock_wrlock(&hc->lock);
    for (uint32_t slot = 0; slot < HEADCHUNKS_MAX_FILES; slot++) {
        hc_file *f = hc->files[slot];
        if (!f || f->maxt >= mint || f->seq >= before_seq) continue;
        if (f == hc->cur) {
            hc->cur = NULL; /* its chunks are all dropped: no need to flush */
            hc->wlen = 0;
        }
        char path[4096];
        file_path(hc, f->seq, path, sizeof path);
        hc->files[slot] = NULL;
        file_free(f);
        if (unlink(path) != 0 && errno != ENOENT && !rc)
            rc = flint_error(FLINT_EIO, "headchunks: unlink %s: %s", path, strerror(errno));
        deleted++;
    }
    pthread_rwlock_unlock(&hc->lock);
    return rc ? rc : deleted;
}

int headchunks_flush(headchunks *hc) {
    pthread_rwlock_wrlock(&hc->lock);
    int rc = flush_locked(hc);
    pthread_rwlock_unlock(&hc->lock);
    return rc;
}

void headchunks_get_stats(headchunks *hc, headchunks_stats *st) {
    memset(st, 0, sizeof *st);
    pthread_rwlock_rdlock(&hc->lock);
    for (uint32_t slot = 0; slot < HEADCHUNKS_MAX_FILES; slot++) {
        if (!hc->files[slot]) continue;
        st->files++;
        st->bytes += hc->files[slot]->size;
    }
    st->chunks_written = hc->chunks_written;
    pthread_rwlock_unlock(&hc->lock);
}

void headchunks_close(headchunks *hc) {
    if (!hc) return;
    if (flush_locked(hc))
        flint_log(FLINT_LOG_WARN, "headchunks", "flush on close failed", "err=\"%s\"", flint_errmsg());
    for (uint32_t slot = 0; slot < HEADCHUNKS_MAX_FILES; slot++)
        if (hc->files[slot]) file_free(hc->files[slot]);
    pthread_rwlock_destroy(&hc->lock);
    fl_free(hc->wbuf);
    fl_free(hc->dir);
    fl_free(hc);
}
