/*
 * db.c - the database lifecycle (see db.h): open (lock, leftovers, blocks,
 * WAL replay into the head), the appender (the head's, with the WAL as its
 * log), maintenance (head cut into a block, WAL checkpoint, compaction,
 * retention) and close.
 *
 * Crash safety, in the order things happen on a head cut:
 *   1. the block for [lo, hi) is written and published (atomic rename);
 *   2. the head is truncated at hi, so it refuses samples older than hi;
 *   3. the WAL is cut and checkpointed: series still in the head and
 *      samples >= hi are kept, older segments deleted.
 * A crash after 1 leaves the samples both in the block and in the WAL; on
 * replay the head's minimum valid time is the newest block's max time, so
 * the duplicates are skipped. Compaction publishes the merged block before
 * unlisting its sources; a crash in between leaves the sources on disk,
 * and open() deletes blocks named as parents of another block.
 */
#include "tsdb/db_int.h"
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "tsdb/blockbuild.h"
#include "tsdb/tombstones.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void tsdb_options_default(tsdb_options *o) {
    memset(o, 0, sizeof *o);
    o->retention_ms = TSDB_DEFAULT_RETENTION_MS;
    o->block_range_ms = TSDB_DEFAULT_BLOCK_RANGE_MS;
    /* every acknowledged commit survives a power cut (docs/format/wal.md);
     * a scraper commits once per target and interval, so this is cheap */
    o->wal_sync_commits = true;
}

char *db_path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = fl_malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* ---- block list ------------------------------------------------------------------ */

void db_block_unref(db_block *blk) {
    if (!blk || atomic_fetch_sub(&blk->refs, 1) != 1) return;
    block_close(blk->b);
    if (atomic_load(&blk->doomed)) {
        if (block_delete(blk->path))
            flint_log(FLINT_LOG_ERROR, "tsdb", "deleting block failed", "dir=%s err=\"%s\"", blk->path,
                      flint_errmsg());
    }
    fl_free(blk->path);
    fl_free(blk);
}

static int block_order(const void *a, const void *b) {
    const block_meta *x = block_get_meta((*(db_block *const *)a)->b);
    const block_meta *y = block_get_meta((*(db_block *const *)b)->b);
    if (x->min_time != y->min_time) return x->min_time < y->min_time ? -1 : 1;
    return strcmp(x->ulid, y->ulid);
}

int db_add_block(tsdb *db, block *b) {
    db_block *blk = fl_calloc(1, sizeof *blk);
    char *path = fl_strdup(block_path(b));
    if (!blk || !path) {
        fl_free(blk);
        fl_free(path);
        block_close(b);
        return FLINT_ENOMEM;
    }
    blk->b = b;
    blk->path = path;
    atomic_init(&blk->refs, 1);
    atomic_init(&blk->doomed, false);
    pthread_mutex_lock(&db->blocks_mu);
    if (fl_grow((void **)&db->blocks, &db->capblocks, db->nblocks + 1, sizeof *db->blocks)) {
        pthread_mutex_unlock(&db->blocks_mu);
        blk->refs = 1;
        db_block_unref(blk);
        return FLINT_ENOMEM;
    }
    db->blocks[db->nblocks++] = blk;
    qsort(db->blocks, db->nblocks, sizeof *db->blocks, block_order);
    pthread_mutex_unlock(&db->blocks_mu);
    return 0;
}

void db_remove_block(tsdb *db, db_block *blk) {
    pthread_mutex_lock(&db->blocks_mu);
    for (size_t i = 0; i < db->nblocks; i++) {
        if (db->blocks[i] != blk) continue;
        memmove(&db->blocks[i], &db->blocks[i + 1], (db->nblocks - i - 1) * sizeof *db->blocks);
        db->nblocks--;
        atomic_store(&blk->doomed, true);
        pthread_mutex_unlock(&db->blocks_mu);
        db_block_unref(blk);
        return;
    }
    pthread_mutex_unlock(&db->blocks_mu);
}

int db_blocks_snapshot(tsdb *db, db_block ***out, size_t *n) {
    pthread_mutex_lock(&db->blocks_mu);
    db_block **v = fl_malloc((db->nblocks ? db->nblocks : 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&db->blocks_mu);
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < db->nblocks; i++) {
        v[i] = db->blocks[i];
        atomic_fetch_add(&v[i]->refs, 1);
    }
    *n = db->nblocks;
    pthread_mutex_unlock(&db->blocks_mu);
    *out = v;
    return 0;
}

void db_blocks_release(db_block **v, size_t n) {
    for (size_t i = 0; i < n; i++) db_block_unref(v[i]);
    fl_free(v);
}

int64_t db_blocks_maxt(tsdb *db) {
    int64_t m = INT64_MIN;
    pthread_mutex_lock(&db->blocks_mu);
    for (size_t i = 0; i < db->nblocks; i++) {
        const block_meta *bm = block_get_meta(db->blocks[i]->b);
        if (bm->max_time > m) m = bm->max_time;
    }
    pthread_mutex_unlock(&db->blocks_mu);
    return m;
}

/* Load every block; delete (when writable) those that another block names
 * as a parent: a compaction finished but did not get to remove them. */
static int load_blocks(tsdb *db) {
    block_ulid *ulids = NULL;
    size_t n = 0;
    int rc = block_list(db->dir, !db->opt.read_only, &ulids, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        char *p = db_path_join(db->dir, ulids[i]);
        if (!p) {
            rc = FLINT_ENOMEM;
            break;
        }
        block *b;
        rc = block_open(p, &b);
        if (rc == FLINT_ENOMEM) {
            fl_free(p);
            break;
        }
        if (rc) {
            /* keep the data on disk for inspection, serve the rest */
            flint_log(FLINT_LOG_ERROR, "tsdb", "skipping unreadable block", "dir=%s err=\"%s\"", p, flint_errmsg());
            fl_free(p);
            rc = 0;
            continue;
        }
        fl_free(p);
        rc = db_add_block(db, b);
        if (rc) break;
    }
    fl_free(ulids);
    if (rc || db->opt.read_only) return rc;
    for (size_t i = 0; i < db->nblocks;) {
        const char *id = block_get_meta(db->blocks[i]->b)->ulid;
        int superseded = 0;
        for (size_t j = 0; j < db->nblocks && !superseded; j++) {
            const block_meta *m = block_get_meta(db->blocks[j]->b);
            for (size_t k = 0; k < m->nparents; k++)
                if (strcmp(m->parents[k].ulid, id) == 0) superseded = 1;
        }
        if (superseded) {
            flint_log(FLINT_LOG_INFO, "tsdb", "removing block already compacted into another", "ulid=%s", id);
            db_remove_block(db, db->blocks[i]);
        } else {
            i++;
        }
    }
    return 0;
}

/* ---- WAL hook --------------------------------------------------------------------- */

static int db_wal_log(void *ctx, const head_wal_series *series, size_t nseries, const head_wal_sample *samples,
                      size_t nsamples, bool sync) {
    tsdb *db = ctx;
    int rc = 0;
    pthread_mutex_lock(&db->wal_mu);
    /* Series records go out in groups: a first scrape of a big target
     * creates 100,000 series at once, and one record for them would need
     * the encoded labels twice over (record + frame). Several records are
     * as good as one: a series record only maps a ref to its labels, and
     * one written without the samples of a failed commit is dropped with
     * the head's other sample-less series. Samples stay one record, so a
     * commit's samples are logged all or nothing. */
    enum { SERIES_PER_RECORD = 4096 };
    for (size_t off = 0; off < nseries; off += SERIES_PER_RECORD) {
        size_t k = nseries - off < SERIES_PER_RECORD ? nseries - off : SERIES_PER_RECORD;
        fl_buf_reset(&db->walbuf);
        if ((rc = walrec_encode_series(&db->walbuf, series + off, k))) goto out;
        if ((rc = wal_log(db->w, db->walbuf.data, db->walbuf.len))) goto out;
    }
    if (nsamples) {
        fl_buf_reset(&db->walbuf);
        if ((rc = walrec_encode_samples(&db->walbuf, samples, nsamples))) goto out;
        if ((rc = wal_log(db->w, db->walbuf.data, db->walbuf.len))) goto out;
    }
    if (sync) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = wal_sync(db->w);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        db->wal_fsyncs++;
        db->wal_fsync_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
    }
out:
    if (rc && rc != FLINT_ENOMEM) db->wal_writes_failed++;
    /* a huge batch should not pin its buffer forever */
    if (db->walbuf.cap > (1u << 20)) fl_buf_free(&db->walbuf);

    pthread_mutex_unlock(&db->wal_mu);
    return rc;
}

/* ---- replay ----------------------------------------------------------------------------- */

typedef struct replay_ctx {
    tsdb *db;
    head_wal_sample *buf;
    size_t cap;
    uint64_t skipped;
} replay_ctx;

static int replay_series(void *ctx, const walrec_series *s, size_t n) {
    replay_ctx *rc = ctx;
    for (size_t i = 0; i < n; i++) {
        int r = head_replay_series(rc->db->h, s[i].ref, &s[i].lset);
        if (r == FLINT_ENOMEM) return r;
        if (r) flint_log(FLINT_LOG_WARN, "wal", "skipping bad series record", "ref=%llu err=\"%s\"",
                         (unsigned long long)s[i].ref, flint_errmsg());
    }
    return 0;
}

static int replay_samples(void *ctx, const walrec_sample *s, size_t n) {
    replay_ctx *rc = ctx;
    if (fl_grow((void **)&rc->buf, &rc->cap, n, sizeof *rc->buf)) return FLINT_ENOMEM;
    for (size_t i = 0; i < n; i++) rc->buf[i] = (head_wal_sample){s[i].ref, s[i].t, s[i].v};
    size_t skipped = 0;
    int r = head_replay_samples(rc->db->h, rc->buf, n, &skipped);
    rc->skipped += skipped;
    return r;
}

/* ---- open / close ----------------------------------------------------------------------- */

int tsdb_open(const char *dir, const tsdb_options *opt, tsdb **out) {
    tsdb *db = fl_calloc(1, sizeof *db);
    if (!db) return FLINT_ENOMEM;
    if (opt) db->opt = *opt;
    else tsdb_options_default(&db->opt);
    if (db->opt.block_range_ms <= 0) db->opt.block_range_ms = TSDB_DEFAULT_BLOCK_RANGE_MS;
    if (db->opt.max_block_ms <= 0) {
        int64_t m = 31 * 86400000LL;
        if (db->opt.retention_ms > 0 && db->opt.retention_ms / 10 < m) m = db->opt.retention_ms / 10;
        db->opt.max_block_ms = m < db->opt.block_range_ms ? db->opt.block_range_ms : m;
    }
    db->lock_fd = -1;
    pthread_mutex_init(&db->wal_mu, NULL);
    pthread_mutex_init(&db->blocks_mu, NULL);
    pthread_mutex_init(&db->maint_mu, NULL);
    int rc = FLINT_ENOMEM;
    db->dir = fl_strdup(dir);
    db->waldir = db_path_join(dir, "wal");
    if (!db->dir || !db->waldir) goto fail;
    if (db->opt.read_only) {
        if (!fio_exists(dir)) {
            rc = flint_error(FLINT_ENOTFOUND, "data directory %s does not exist", dir);
            goto fail;
        }
        /* the head's chunk files must not touch a live server's */
        char tmpl[] = "/tmp/flint-ro-head-XXXXXX";
        if (!mkdtemp(tmpl)) {
            rc = flint_error(FLINT_EIO, "mkdtemp for read-only head failed");
            goto fail;
        }
        db->head_dir = fl_strdup(tmpl);
        if (!db->head_dir) goto fail;
    } else {
        if ((rc = fio_mkdir_p(dir))) goto fail;
        if ((rc = fio_lock_dir(dir, &db->lock_fd))) goto fail;
    }
    if ((rc = load_blocks(db))) goto fail;
    if ((rc = tomb_open(db))) goto fail;

    head_options ho;
    head_options_default(&ho);
    ho.chunk_range = db->opt.block_range_ms;
    if (!db->opt.read_only && !db->opt.no_wal) {
        ho.wal_log = db_wal_log;
        ho.wal_ctx = db;
        ho.wal_sync = db->opt.wal_sync_commits;
    }
    if ((rc = head_open(db->head_dir ? db->head_dir : dir, &ho, &db->h))) goto fail;
    int64_t bmax = db_blocks_maxt(db);
    if (bmax != INT64_MIN && (rc = head_truncate(db->h, bmax))) goto fail;

    if (!db->opt.no_wal) {
        replay_ctx rctx = {.db = db};
        walrec_replay_cb cb = {replay_series, replay_samples};
        walrec_replay_stats st;
        rc = db->opt.read_only ? walrec_replay_readonly(db->waldir, &cb, &rctx, &st)
                               : walrec_replay(db->waldir, &cb, &rctx, &st);
        fl_free(rctx.buf);
        if (rc) goto fail;
        if (st.bytes_dropped > 0) db->wal_corruptions++;
        if (st.records)
            flint_log(FLINT_LOG_INFO, "tsdb", "WAL replay completed",
                      "checkpoint=%d last_segment=%d series=%llu samples=%llu skipped=%llu bytes_dropped=%lld",
                      st.checkpoint_seg, st.last_seg, (unsigned long long)st.series,
                      (unsigned long long)st.samples, (unsigned long long)rctx.skipped, (long long)st.bytes_dropped);
        if (!db->opt.read_only) {
            wal_options wo;
            wal_options_default(&wo);
            if (db->opt.wal_segment_size) wo.segment_size = db->opt.wal_segment_size;
            if ((rc = wal_open(db->waldir, &wo, &db->w))) goto fail;
        }
    }
    *out = db;
    return 0;
fail:;
    /* keep the error message of the failing step */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", flint_errmsg());
    tsdb_close(db);
    flint_error(rc, "%s", msg);
    return rc;
}

void tsdb_close(tsdb *db) {
    if (!db) return;
    head_close(db->h);
    tomb_close(db);
    if (db->w) wal_close(db->w);
    for (size_t i = 0; i < db->nblocks; i++) db_block_unref(db->blocks[i]);
    fl_free(db->blocks);
    fl_buf_free(&db->walbuf);
    if (db->head_dir) fio_rm_rf(db->head_dir);
    fio_unlock_dir(db->lock_fd);
    pthread_mutex_destroy(&db->wal_mu);
    pthread_mutex_destroy(&db->blocks_mu);
    pthread_mutex_destroy(&db->maint_mu);
    fl_free(db->dir);
    fl_free(db->waldir);
    fl_free(db->head_dir);
    fl_free(db);
}

/* ---- appender ------------------------------------------------------------------------------ */

struct tsdb_appender {
    head_appender *ha;
};

tsdb_appender *tsdb_appender_begin(tsdb *db) {
    if (db->opt.read_only) {
        flint_error(FLINT_EINVAL, "database is open read-only");
        return NULL;
    }
    head_appender *ha;
    if (head_appender_begin(db->h, &ha)) return NULL;
    return (tsdb_appender *)ha;
}

int tsdb_append(tsdb_appender *app, uint64_t ref, const labels *lset, int64_t t, double v, uint64_t *ref_out) {
    return head_append((head_appender *)app, ref, lset, t, v, ref_out);
}

int tsdb_commit(tsdb_appender *app) { return head_commit((head_appender *)app); }
void tsdb_rollback(tsdb_appender *app) { head_rollback((head_appender *)app); }

/* ---- head cut --------------------------------------------------------------------------------- */

static bool keep_if_in_head(uint64_t ref, void *ctx) {
    tsdb *db = ctx;
    labels_builder lb;
    lb_init(&lb);
    int rc = head_series_labels(db->h, ref, &lb);
    lb_free(&lb);
    return rc == 0;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

int db_head_write_blocks(tsdb *db, const char *dir, int64_t lo, int64_t hi) {
    blockbuild *bb;
    int rc = blockbuild_new(dir, db->opt.block_range_ms, 0, &bb);
    if (rc) return rc;
    postings_vec refs = {0};
    labels_builder lb;
    lb_init(&lb);
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    int64_t *ts = NULL;
    double *vs = NULL;
    size_t cap = 0;
    if ((rc = head_series_sorted(db->h, lo, hi - 1, &refs))) goto out;
    for (size_t i = 0; i < refs.n; i++) {
        rc = head_series_chunks(db->h, refs.v[i], lo, hi - 1, &cs);
        if (rc == FLINT_ENOTFOUND) continue;
        if (rc) goto out;
        if ((rc = head_series_labels(db->h, refs.v[i], &lb))) goto out;
        labels l = lb_labels(&lb);
        uint32_t id;
        if ((rc = blockbuild_series(bb, &l, &id))) goto out;
        for (size_t c = 0; c < cs.n; c++) {
            int n = chunk_num_samples(cs.v[c].enc, cs.v[c].data, cs.v[c].len);
            if (n < 0) {
                rc = n;
                goto out;
            }
            if ((size_t)n > cap) {
                cap = (size_t)n;
                int64_t *nt = fl_realloc(ts, cap * sizeof *ts);
                if (!nt) { rc = FLINT_ENOMEM; goto out; }
                ts = nt;
                double *nv = fl_realloc(vs, cap * sizeof *vs);
                if (!nv) { rc = FLINT_ENOMEM; goto out; }
                vs = nv;
            }
            n = chunk_decode_all(cs.v[c].enc, cs.v[c].data, cs.v[c].len, ts, vs, cap);
            if (n < 0) {
                rc = n;
                goto out;
            }
            size_t a = 0, b = (size_t)n;
            while (a < b && ts[a] < lo) a++;
            while (b > a && ts[b - 1] >= hi) b--;
            if (b > a && (rc = blockbuild_add(bb, id, ts + a, vs + a, b - a))) goto out;
        }
    }
    rc = blockbuild_finish(bb, NULL, NULL);
out:
    fl_free(ts);
    fl_free(vs);
    head_chunk_set_free(&cs);
    lb_free(&lb);
    postings_vec_free(&refs);
    blockbuild_free(bb);
    return rc;
}

/* Write the head's samples in [lo, hi) as one block and open it. */
static int write_head_block(tsdb *db, int64_t lo, int64_t hi) {
    int rc = db_head_write_blocks(db, db->dir, lo, hi);
    if (rc) return rc;
    /* open what was just written */
    block_ulid *ulids = NULL;
    size_t nu = 0;
    if ((rc = block_list(db->dir, false, &ulids, &nu))) return rc;
    for (size_t i = 0; i < nu && rc == 0; i++) {
        int known = 0;
        pthread_mutex_lock(&db->blocks_mu);
        for (size_t j = 0; j < db->nblocks; j++)
            if (!strcmp(block_get_meta(db->blocks[j]->b)->ulid, ulids[i])) known = 1;
        pthread_mutex_unlock(&db->blocks_mu);
        if (known) continue;
        char *p = db_path_join(db->dir, ulids[i]);
        block *b;
        if (!p) rc = FLINT_ENOMEM;
        else if ((rc = block_open(p, &b)) == 0) rc = db_add_block(db, b);
        fl_free(p);
    }
    fl_free(ulids);
    return rc;
}

static int cut_head(tsdb *db, bool all) {
    int64_t range = db->opt.block_range_ms;
    for (;;) {
        int64_t hmin = head_mint(db->h), hmax = head_maxt(db->h);
        if (hmin == INT64_MAX || hmax < hmin) return 0;
        if (!all && hmax - hmin <= range / 2 * 3) return 0;
        int64_t lo = floor_div(hmin, range) * range, hi = lo + range;
        if (all && hmax < hi) hi = hmax + 1;
        int rc = write_head_block(db, lo, hi);
        if (rc) return rc;
        db->head_cuts++;
        if ((rc = head_truncate(db->h, hi))) return rc;
        if (db->w) {
            int first, last;
            pthread_mutex_lock(&db->wal_mu);
            int seg = wal_cut(db->w);
            pthread_mutex_unlock(&db->wal_mu);
            if (seg < 0) return seg;
            if ((rc = wal_segment_range(db->waldir, &first, &last))) return rc;
            if (first >= 0 && seg - 1 >= first) {
                rc = walrec_checkpoint(db->waldir, first, seg - 1, keep_if_in_head, hi, db);
                if (rc) return rc;
            }
        }
        flint_log(FLINT_LOG_INFO, "tsdb", "head cut into a block", "mint=%lld maxt=%lld", (long long)lo,
                  (long long)hi);
        if (all && hi > hmax) return 0;
    }
}

int tsdb_flush_head(tsdb *db) {
    if (db->opt.read_only) return flint_error(FLINT_EINVAL, "database is open read-only");
    pthread_mutex_lock(&db->maint_mu);
    int rc = cut_head(db, true);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}

/* ---- retention ------------------------------------------------------------------------------------ */

static int apply_retention(tsdb *db) {
    db_block **v;
    size_t n;
    int rc = db_blocks_snapshot(db, &v, &n);
    if (rc) return rc;
    int64_t newest = head_maxt(db->h);
    for (size_t i = 0; i < n; i++) {
        int64_t m = block_get_meta(v[i]->b)->max_time;
        if (m > newest) newest = m;
    }
    /* walk newest first; once a block is beyond a limit, it and all older go */
    int64_t size = 0;
    if (db->opt.retention_bytes > 0) {
        char *hc = db_path_join(db->dir, "chunks_head");
        size = fio_tree_size(db->waldir) + (hc ? fio_tree_size(hc) : 0);
        fl_free(hc);
    }
    bool drop_rest = false;
    /* v is sorted by min_time ascending: newest at the end */
    for (size_t k = n; k-- > 0;) {
        const block_meta *bm = block_get_meta(v[k]->b);
        const char *why = NULL;
        if (drop_rest) why = "older than a block beyond retention";
        else if (db->opt.retention_ms > 0 && newest != INT64_MIN && bm->max_time <= newest - db->opt.retention_ms)
            why = "time retention";
        else if (db->opt.retention_bytes > 0) {
            size += (int64_t)block_size_bytes(v[k]->b);
            if (size > db->opt.retention_bytes) why = "size retention";
        }
        if (why) {
            drop_rest = true;
            flint_log(FLINT_LOG_INFO, "tsdb", "deleting block", "ulid=%s reason=\"%s\" mint=%lld maxt=%lld", bm->ulid,
                      why, (long long)bm->min_time, (long long)bm->max_time);
            db_remove_block(db, v[k]);
            db->retention_deletes++;
        }
    }
    db_blocks_release(v, n);
    return 0;
}

/* ---- compaction ---------------------------------------------------------------------------------- */

static int compact_once(tsdb *db, bool *did) {
    *did = false;
    db_block **v;
    size_t n;
    int rc = db_blocks_snapshot(db, &v, &n);
    if (rc) return rc;
    int64_t frontier = head_mint(db->h);
    if (frontier == INT64_MAX) frontier = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t m = block_get_meta(v[i]->b)->max_time;
        if (m > frontier) frontier = m;
    }
    size_t pick[64];
    size_t np = compact_plan(db, v, n, frontier, pick, 64);
    if (np >= 2) {
        db_block *src[64];
        for (size_t i = 0; i < np; i++) src[i] = v[pick[i]];
        block *nb;
        rc = compact_blocks(db, src, np, &nb);
        if (rc == 0) rc = db_add_block(db, nb);
        if (rc == 0) {
            for (size_t i = 0; i < np; i++) db_remove_block(db, src[i]);
            db->compactions++;
            *did = true;
        }
    }
    db_blocks_release(v, n);
    return rc;
}

int tsdb_maintain(tsdb *db) {
    if (db->opt.read_only) return 0;
    pthread_mutex_lock(&db->maint_mu);
    int rc = cut_head(db, false);
    if (rc == 0) {
        bool did = true;
        for (int i = 0; i < 16 && did && rc == 0; i++) rc = compact_once(db, &did);
    }
    if (rc == 0) rc = apply_retention(db);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}

/* ---- stats ------------------------------------------------------------------------------------------ */

void tsdb_get_stats(tsdb *db, tsdb_stats *st) {
    memset(st, 0, sizeof *st);
    head_stats hs;
    head_get_stats(db->h, &hs);
    st->head_series = hs.num_series;
    st->head_samples = hs.samples_appended;
    st->head_chunks = hs.chunks;
    st->head_mint = hs.mint;
    st->head_maxt = hs.maxt;
    st->mint = INT64_MAX;
    st->maxt = INT64_MIN;
    pthread_mutex_lock(&db->blocks_mu);
    st->blocks = (uint32_t)db->nblocks;
    for (size_t i = 0; i < db->nblocks; i++) {
        const block_meta *m = block_get_meta(db->blocks[i]->b);
        st->block_series += m->num_series;
        st->block_samples += m->num_samples;
        st->block_bytes += block_size_bytes(db->blocks[i]->b);
        if (m->min_time < st->mint) st->mint = m->min_time;
        if (m->max_time - 1 > st->maxt) st->maxt = m->max_time - 1;
    }
    pthread_mutex_unlock(&db->blocks_mu);
    if (hs.num_series && hs.mint < st->mint) st->mint = hs.mint;
    if (hs.num_series && hs.maxt > st->maxt) st->maxt = hs.maxt;
    st->wal_bytes = (uint64_t)fio_tree_size(db->waldir);
    st->disk_bytes = (uint64_t)fio_tree_size(db->dir);
}
