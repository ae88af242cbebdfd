/*
 * head_wal.c - glue between the head and the WAL: a ready-made
 * head_wal_log_fn that encodes commits as walrec SERIES and SAMPLES records
 * into a storage/wal.h log, and replay of a WAL directory into a head. The
 * head itself only knows the callback (head.h), so tests and benchmarks
 * run it without a log and the DB decides the sync policy.
 */
#include "tsdb/head.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/wal.h"
#include "tsdb/walrec.h"

#include <stddef.h>

/* The head's record types mirror walrec's, so batches pass without copies. */
_Static_assert(sizeof(head_wal_series) == sizeof(walrec_series), "series layout");
_Static_assert(offsetof(head_wal_series, lset) == offsetof(walrec_series, lset), "series layout");
_Static_assert(sizeof(head_wal_sample) == sizeof(walrec_sample), "sample layout");
_Static_assert(offsetof(head_wal_sample, t) == offsetof(walrec_sample, t), "sample layout");
_Static_assert(offsetof(head_wal_sample, v) == offsetof(walrec_sample, v), "sample layout");

/* Records stay far below wal_log's 64 MiB limit. */
#define WAL_SERIES_PER_RECORD 10000
#define WAL_SAMPLES_PER_RECORD 100000

int head_wal_writer_init(head_wal_writer *hw, wal *w) {
    hw->w = w;
    hw->buf = (fl_buf){0};
    return pthread_mutex_init(&hw->mu, NULL) ? FLINT_ENOMEM : 0;
}

void head_wal_writer_free(head_wal_writer *hw) {
    fl_buf_free(&hw->buf);
    pthread_mutex_destroy(&hw->mu);
}

int head_wal_log(void *ctx, const head_wal_series *series, size_t nseries, const head_wal_sample *samples,
                 size_t nsamples, bool sync) {
    head_wal_writer *hw = ctx;
    int rc = 0;
    pthread_mutex_lock(&hw->mu);
    for (size_t i = 0; i < nseries && !rc; i += WAL_SERIES_PER_RECORD) {
        size_t n = nseries - i < WAL_SERIES_PER_RECORD ? nseries - i : WAL_SERIES_PER_RECORD;
        fl_buf_reset(&hw->buf);
        rc = walrec_encode_series(&hw->buf, (const walrec_series *)(series + i), n);
        if (!rc) rc = wal_log(hw->w, hw->buf.data, hw->buf.len);
    }
    for (size_t i = 0; i < nsamples && !rc; i += WAL_SAMPLES_PER_RECORD) {
        size_t n = nsamples - i < WAL_SAMPLES_PER_RECORD ? nsamples - i : WAL_SAMPLES_PER_RECORD;
        fl_buf_reset(&hw->buf);
        rc = walrec_encode_samples(&hw->buf, (const walrec_sample *)(samples + i), n);
        if (!rc) rc = wal_log(hw->w, hw->buf.data, hw->buf.len);
    }
    if (!rc && sync) rc = wal_sync(hw->w);
    /* a big batch should not pin a big buffer */
    if (hw->buf.cap > (1u << 20)) fl_buf_free(&hw->buf);
    pthread_mutex_unlock(&hw->mu);
    return rc;
}

typedef struct replay_ctx {
    head *h;
    uint64_t skipped;
} replay_ctx;

static int on_series(void *ctx, const walrec_series *s, size_t n) {
    replay_ctx *r = ctx;
    for (size_t i = 0; i < n; i++) {
        int rc = head_replay_series(r->h, s[i].ref, &s[i].lset);
        if (rc) return rc;
    }
    return 0;
}

static int on_samples(void *ctx, const walrec_sample *s, size_t n) {
    replay_ctx *r = ctx;
    size_t skipped = 0;
    int rc = head_replay_samples(r->h, (const head_wal_sample *)s, n, &skipped);
    r->skipped += skipped;
    return rc;
}

int head_replay_wal(head *h, const char *waldir, walrec_replay_stats *stats, uint64_t *skipped) {
    replay_ctx r = {h, 0};
    walrec_replay_cb cb = {on_series, on_samples};
    int rc = walrec_replay(waldir, &cb, &r, stats);
    if (skipped) *skipped = r.skipped;
    return rc;
}
