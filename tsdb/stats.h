/*
 * stats.h - figures about a running database for /api/v1/status/tsdb,
 * /api/v1/status/runtimeinfo and /metrics (web/): the head's index
 * cardinality (Prometheus' PostingsStats: series per metric name, values
 * per label name, bytes of values per label name, series per label pair,
 * each top-N), the maintenance and WAL counters, and the time range held.
 *
 * Everything here is safe to call from any thread while appenders,
 * queriers and maintenance run; it reads the head's postings index under
 * its read lock and the counters atomically.
 */
#ifndef FLINT_TSDB_STATS_H
#define FLINT_TSDB_STATS_H

#include "tsdb/db.h"

#include <stddef.h>
#include <stdint.h>

/* One "name": count entry of a top-N list; name is owned by the list. */
typedef struct tsdb_stat {
    char *name;
    uint64_t count;
} tsdb_stat;

typedef struct tsdb_stat_list {
    tsdb_stat *v;
    size_t n;
} tsdb_stat_list;

typedef struct tsdb_head_index_stats {
    uint64_t num_series;
    uint64_t num_label_pairs;   /* distinct name=value pairs */
    uint64_t chunk_count;       /* full chunks plus open ones */
    int64_t mint, maxt;         /* INT64_MAX / INT64_MIN when empty (as Prometheus) */
    tsdb_stat_list series_by_metric;  /* __name__ value -> series */
    tsdb_stat_list values_by_label;   /* label name -> distinct values */
    tsdb_stat_list bytes_by_label;    /* label name -> sum(len(value) * series) */
    tsdb_stat_list series_by_pair;    /* "name=value" -> series */
} tsdb_head_index_stats;

/* Fill *out with the head's figures, each list sorted by count
 * (descending, then name) and cut to `limit` entries (0 = no cut).
 * Returns 0 or FLINT_ENOMEM (then *out is empty). Free with
 * tsdb_head_index_stats_free. */
int tsdb_head_index_stats_get(tsdb *db, size_t limit, tsdb_head_index_stats *out);
void tsdb_head_index_stats_free(tsdb_head_index_stats *s);

/* Counters since open (monotonic) and current gauges. */
typedef struct tsdb_counters {
    uint64_t compactions, head_cuts, retention_deletes;
    uint64_t wal_fsyncs;
    double wal_fsync_seconds;   /* total time in fdatasync of commits */
    uint64_t wal_writes_failed; /* commits whose WAL write or sync failed */
    uint64_t wal_corruptions;   /* torn/corrupt WAL tails cut at open */
    int wal_segment;            /* current segment number; -1 without a WAL */
    uint64_t series_created, series_removed, samples_dropped, chunks_created;
    int64_t retention_ms, retention_bytes; /* 0 = none */
} tsdb_counters;
void tsdb_get_counters(tsdb *db, tsdb_counters *c);

/* Oldest and newest sample time held (blocks and head); *mint > *maxt
 * when the database is empty. Cheaper than tsdb_get_stats (no disk walk). */
void tsdb_time_range(tsdb *db, int64_t *mint, int64_t *maxt);

#endif
