/*
 * db.h - the database: one data directory holding the WAL, the head and the
 * immutable blocks, with its lifecycle (lock, replay, head cut, compaction,
 * retention) and the two doors everything else uses: the appender (scrape,
 * import) and the querier (PromQL, API).
 *
 * Directory layout (docs/format/block.md):
 *   DIR/lock                exclusive flock while a writer has it open
 *   DIR/wal/                WAL segments and checkpoints (storage/wal.h)
 *   DIR/chunks_head/        full head chunks, out of the heap
 *   DIR/<ULID>/             blocks (tsdb/block.h)
 *
 * Threads: appenders and queriers may be used from any thread at once.
 * tsdb_maintain() (head cut, compaction, retention) is called by the
 * server's background thread or by tools; it takes the DB's maintenance
 * lock and swaps the block list atomically, so queriers keep the blocks
 * they opened with (reference counts) until they close.
 */
#ifndef FLINT_DB_H
#define FLINT_DB_H

#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tsdb tsdb;

#define TSDB_DEFAULT_BLOCK_RANGE_MS (2 * 3600 * 1000LL)
#define TSDB_DEFAULT_RETENTION_MS (15 * 86400 * 1000LL)

typedef struct tsdb_options {
    int64_t retention_ms;       /* delete blocks entirely older than this; 0 = none */
    int64_t retention_bytes;    /* size budget over the whole dir incl. WAL; 0 = none */
    int64_t block_range_ms;     /* head cut size, smallest block range (2h) */
    int64_t max_block_ms;       /* largest compacted block; 0 = min(31d, retention/10) */
    bool wal_sync_commits;      /* fdatasync the WAL on every commit (default true) */
    uint32_t wal_segment_size;  /* 0 = default */
    bool read_only;             /* no lock, no WAL replay writes, no maintenance */
    bool no_wal;                /* tools that write blocks directly */
} tsdb_options;

void tsdb_options_default(tsdb_options *o);

/* Open or create. Takes the directory lock (FLINT_ELOCKED if another
 * process holds it), removes leftovers (*.tmp blocks), opens the blocks and
 * replays the WAL into the head (a torn tail is cut and logged). */
int tsdb_open(const char *dir, const tsdb_options *opt, tsdb **out);
/* Flush and close: syncs the WAL, releases the lock. NULL is a no-op. */
void tsdb_close(tsdb *db);

/* ---- writing ------------------------------------------------------------------ */
typedef struct tsdb_appender tsdb_appender;

tsdb_appender *tsdb_appender_begin(tsdb *db); /* NULL on OOM */
/* Add a sample for series `ref` (from a previous call; 0 if unknown) or
 * `lset` (sorted; used when ref is 0 or stale). *ref_out receives the ref to
 * cache. Errors per sample (FLINT_EOOO, FLINT_ETOOOLD, FLINT_EDUPSAMPLE,
 * FLINT_EINVAL) leave the appender usable. */
int tsdb_append(tsdb_appender *app, uint64_t ref, const labels *lset, int64_t t, double v,
                uint64_t *ref_out);
/* Log to the WAL, then make the samples visible. The appender is freed
 * whatever the result. Once it returns 0 the samples survive a process
 * crash (and a machine crash when wal_sync_commits is set). */
int tsdb_commit(tsdb_appender *app);
void tsdb_rollback(tsdb_appender *app);

/* Head cut into blocks when it spans > 1.5 x block range, block compaction,
 * retention. Returns 0 or the first error (the DB stays usable). */
int tsdb_maintain(tsdb *db);
/* Write every head sample into blocks now (used by tools and tests). */
int tsdb_flush_head(tsdb *db);

/* ---- reading ------------------------------------------------------------------ */
typedef struct tsdb_querier tsdb_querier;
typedef struct tsdb_series_set tsdb_series_set;

/* A consistent view over [mint, maxt] (inclusive ms). */
int tsdb_querier_open(tsdb *db, int64_t mint, int64_t maxt, tsdb_querier **out);
void tsdb_querier_close(tsdb_querier *q);

/* Series matching all matchers, sorted by labels, each with its samples in
 * the querier's range merged across head and blocks. */
int tsdb_select(tsdb_querier *q, const matcher *ms, size_t n, tsdb_series_set **out);
bool tsdb_series_next(tsdb_series_set *s);
/* Labels of the current series, borrowed until the next call. */
const labels *tsdb_series_labels(const tsdb_series_set *s);
/* Error that ended the iteration, 0 if none. */
int tsdb_series_err(const tsdb_series_set *s);
void tsdb_series_set_free(tsdb_series_set *s);

/* Samples of the current series: caller-allocated iterator. */
typedef struct tsdb_sample_iter tsdb_sample_iter;
tsdb_sample_iter *tsdb_series_samples(tsdb_series_set *s); /* borrowed until next() */
bool tsdb_sample_next(tsdb_sample_iter *it, int64_t *t, double *v);
/* First sample with t >= mint (never moves back). */
bool tsdb_sample_seek(tsdb_sample_iter *it, int64_t mint, int64_t *t, double *v);
int tsdb_sample_err(const tsdb_sample_iter *it);

/* The current series' chunks as an owned snapshot that outlives next() and
 * may be read from another thread while the querier stays open (head chunk
 * bytes are copied; block chunks are pinned by the querier). For readers
 * that decode many series in parallel. */
typedef struct tsdb_chunks tsdb_chunks;
int tsdb_series_snapshot(tsdb_series_set *s, tsdb_chunks **out);
/* Upper bound of the series tsdb_series_next will return (all of them,
 * including those already returned). */
size_t tsdb_series_count_bound(const tsdb_series_set *s);
/* Upper bound of the samples tsdb_chunks_read can return. */
size_t tsdb_chunks_max_samples(const tsdb_chunks *c);
/* The samples in [querier mint, maxt] (as tsdb_sample_next would return
 * them) into ts/vs of capacity cap >= tsdb_chunks_max_samples: the count,
 * or a negative FLINT_E*. Touches only c and the arrays. */
int64_t tsdb_chunks_read(const tsdb_chunks *c, int64_t *ts, double *vs, size_t cap);
void tsdb_chunks_free(tsdb_chunks *c); /* NULL ok */
/* True when every value tsdb_chunks_read returns is known to be finite
 * (so there is no stale marker to drop); false: maybe not. */
bool tsdb_chunks_finite(const tsdb_chunks *c);

/* Sorted, de-duplicated strings; free with tsdb_strings_free. */
typedef struct tsdb_strings {
    char **v;
    size_t n;
} tsdb_strings;
void tsdb_strings_free(tsdb_strings *s);
int tsdb_label_names(tsdb_querier *q, const matcher *ms, size_t n, tsdb_strings *out);
int tsdb_label_values(tsdb_querier *q, const char *name, const matcher *ms, size_t n, tsdb_strings *out);

/* ---- admin: snapshots and deletion (tsdb/snapshot.c, tsdb/delete.c) ------------- */
/* Create `dir` holding hard links of every block and, when with_head, the
 * head's samples written as blocks, plus the delete requests; the
 * directory opens as a data directory of its own (flint query --data). */
int tsdb_snapshot(tsdb *db, const char *dir, bool with_head);
/* Hide the samples in [mint, maxt] of the series matching ms (durably:
 * DIR/delete_requests); clean_tombstones rewrites the blocks without them. */
int tsdb_delete_series(tsdb *db, int64_t mint, int64_t maxt, const matcher *ms, size_t n);
int tsdb_clean_tombstones(tsdb *db);

/* ---- stats for analyze / status / metrics --------------------------------------- */
typedef struct tsdb_stats {
    uint64_t head_series, head_samples, head_chunks;
    int64_t head_mint, head_maxt;
    uint32_t blocks;
    uint64_t block_series, block_samples, block_bytes;
    int64_t mint, maxt;
    uint64_t wal_bytes, disk_bytes;
} tsdb_stats;
void tsdb_get_stats(tsdb *db, tsdb_stats *st);

#endif
