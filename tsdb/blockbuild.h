/*
 * blockbuild.h - builds blocks straight from samples, without head or WAL:
 * the backfill path of `flint import openmetrics`.
 *
 * Samples arrive as runs (consecutive samples of one series, ascending).
 * Each series' samples are cut at block-window boundaries and every
 * `chunk_samples` samples and encoded at once in the densest chunk encoding,
 * so memory holds compressed chunks, not raw samples. blockbuild_finish()
 * writes one block per window that has data, series in label order.
 *
 * Threads: several parser threads may call blockbuild_series/_add at once;
 * runs of one series from different threads are merged in time order (a run
 * that arrives out of order is kept raw and sorted at finish).
 */
#ifndef FLINT_BLOCKBUILD_H
#define FLINT_BLOCKBUILD_H

#include "tsdb/labels.h"

#include <stddef.h>
#include <stdint.h>

typedef struct blockbuild blockbuild;

typedef struct blockbuild_stats {
    uint64_t series, samples, chunks, chunk_bytes, duplicates_dropped;
    uint32_t blocks;
    int64_t mint, maxt;
} blockbuild_stats;

/* block_ms: window size (aligned to multiples of it since the epoch);
 * chunk_samples: cut chunks at this many samples (0 = default). */
int blockbuild_new(const char *data_dir, int64_t block_ms, uint32_t chunk_samples, blockbuild **out);
void blockbuild_free(blockbuild *b);

/* Id of the series with these labels (sorted, validated here), created on
 * first use. */
int blockbuild_series(blockbuild *b, const labels *l, uint32_t *id);
/* Add n samples of series id, ascending timestamps within the run. A
 * duplicate timestamp with the same value is dropped; with a different
 * value it is FLINT_EDUPSAMPLE (message names the series and time). */
int blockbuild_add(blockbuild *b, uint32_t id, const int64_t *ts, const double *vs, size_t n);
/* Write the blocks. progress (may be NULL) is called after each block. */
int blockbuild_finish(blockbuild *b, void (*progress)(const char *ulid, int64_t mint, int64_t maxt,
                                                      uint64_t series, void *ctx),
                      void *ctx);
void blockbuild_get_stats(const blockbuild *b, blockbuild_stats *st);

#endif
