/*
 * head.h - the head: the in-memory part of the TSDB holding the most recent
 * hours of every active series. Series live in striped hash maps (by labels
 * and by ref) with an in-memory postings index; each series appends to one
 * open XOR chunk, and full chunks move to files under <dir>/chunks_head so
 * that a series costs a few hundred bytes of heap.
 *
 * Writers use the transactional appender (begin, append*, commit or
 * rollback), logging each committed batch through a WAL callback the DB
 * layer provides. Readers select series by matchers and copy their labels
 * and chunks out. The DB rebuilds the head from the WAL on start through
 * head_replay_series / head_replay_samples; the chunk files are scratch
 * and recreated empty by head_open.
 *
 * Everything here is thread-safe unless stated; see the locking rules at
 * the top of head.c.
 *
 * Label strings are interned for the head's lifetime (the interner has no
 * removal), so heavy series churn grows the string table until the head
 * is closed; rebuilding the interner at truncation is future work.
 */
#ifndef FLINT_HEAD_H
#define FLINT_HEAD_H

#include "storage/buf.h"
#include "tsdb/labels.h"
#include "tsdb/postings.h"
#include "tsdb/walrec.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct head head;
typedef struct head_appender head_appender;

/* ---- the WAL hook -------------------------------------------------------------
 * At commit the head calls wal_log once with the series records it has not
 * logged before (ref + labels, strings borrowed for the call) and then the
 * batch's samples; the callback writes the series records before the
 * samples (tsdb/walrec.h SERIES then SAMPLES) and, when sync is true,
 * makes them durable before returning. A non-zero return aborts the
 * commit: nothing is applied, the appender's error is that return. */
/* The WAL record types themselves (tsdb/walrec.h), so the hook encodes
 * the appender's arrays without copying them. */
typedef walrec_series head_wal_series;
typedef walrec_sample head_wal_sample;

typedef int (*head_wal_log_fn)(void *ctx, const head_wal_series *series, size_t nseries,
                               const head_wal_sample *samples, size_t nsamples, bool sync);

typedef struct head_options {
    int64_t chunk_range;        /* ms; chunks never span a multiple of it (default 2 h) */
    uint32_t samples_per_chunk; /* cut the open chunk at this many samples (120) */
    uint32_t chunk_max_bytes;   /* ... or at this many bytes (1024) */
    uint32_t chunk_file_size;   /* head chunk file size; 0 = 64 MiB */
    head_wal_log_fn wal_log;    /* NULL: no WAL (tests, benchmarks) */
    void *wal_ctx;
    bool wal_sync;              /* pass sync=true to wal_log on every commit */
} head_options;

void head_options_default(head_options *o);

/* Open a head whose chunk files live in dir/chunks_head (created, emptied).
 * opt may be NULL (defaults). */
int head_open(const char *dir, const head_options *opt, head **out);
/* Free everything. No appender or reader may be active. NULL is a no-op. */
void head_close(head *h);

/* ---- appending ------------------------------------------------------------------
 * begin -> append* -> commit | rollback. One appender is used by one thread
 * at a time; several appenders may run in parallel with each other and with
 * readers. Samples become visible to readers at commit. */
int head_appender_begin(head *h, head_appender **out);

/* Queue sample (t, v) for the series `ref` (as returned before) or, when
 * ref is 0 or unknown, for the series with labels *lset (created if new,
 * after labels_validate; lset sorted, strings borrowed for the call).
 * *ref_out (may be NULL) receives the series ref to cache.
 * Errors, for this sample only (the appender stays usable):
 *   FLINT_ETOOOLD    t < the head's minimum valid time: max(head maxt -
 *                    chunk_range/2, last truncation); no series is created
 *   FLINT_EOOO       t < the series' last timestamp (committed, or queued
 *                    in this appender)
 *   FLINT_EDUPSAMPLE t == that last timestamp with different value bits
 *                    (identical bits: silently ignored, returns 0)
 *   FLINT_ENOTFOUND  unknown ref and no labels
 *   FLINT_EINVAL     invalid labels (message names the label)
 *   FLINT_ENOMEM */
int head_append(head_appender *a, uint64_t ref, const labels *lset, int64_t t, double v, uint64_t *ref_out);

/* Log (series records, then samples) through the WAL hook, then apply the
 * samples. On a logging error nothing is applied and that error returns.
 * A sample that another appender made out of order in the meantime is
 * dropped and counted (stats.samples_dropped); as in Prometheus, the WAL
 * may then hold it, so a replay can keep a sample the live head dropped.
 * The appender is released in every case. */
int head_commit(head_appender *a);
/* Drop the queued samples and release the appender. Series it created stay
 * (as in Prometheus); they are logged when a sample of theirs is first
 * committed and removed by truncation if none ever is. */
void head_rollback(head_appender *a);

/* ---- WAL replay (the DB, at open, single-threaded) ------------------------------ */
/* Recreate series `ref` with labels *lset. A ref already present with the
 * same labels is fine (duplicate record); labels already present under
 * another ref make `ref` an alias of that series for replayed samples;
 * the same ref with other labels is FLINT_ECORRUPT. New refs handed out
 * afterwards are greater than every replayed one. */
int head_replay_series(head *h, uint64_t ref, const labels *lset);
/* Apply replayed samples. Samples of unknown refs, out of order, or older
 * than the minimum valid time are skipped and counted; *skipped (may be
 * NULL) receives how many in this call. Returns 0 or FLINT_ENOMEM. */
int head_replay_samples(head *h, const head_wal_sample *s, size_t n, size_t *skipped);

/* ---- WAL glue (tsdb/head_wal.c) -------------------------------------------------
 * A head_wal_log_fn writing walrec SERIES then SAMPLES records into a wal
 * (ctx: a head_wal_writer), serialising concurrent commits, and replay of
 * a WAL directory into a head. */
typedef struct head_wal_writer {
    struct wal *w; /* borrowed */
    fl_buf buf;
    pthread_mutex_t mu;
} head_wal_writer;

int head_wal_writer_init(head_wal_writer *hw, struct wal *w);
void head_wal_writer_free(head_wal_writer *hw);
/* Use as head_options.wal_log with wal_ctx = the writer. */
int head_wal_log(void *ctx, const head_wal_series *series, size_t nseries, const head_wal_sample *samples,
                 size_t nsamples, bool sync);
/* walrec_replay(waldir) into h (series, then samples; torn tails are cut
 * as walrec_replay does). stats may be NULL; *skipped (may be NULL) counts
 * samples head_replay_samples skipped. */
struct walrec_replay_stats;
int head_replay_wal(head *h, const char *waldir, struct walrec_replay_stats *stats, uint64_t *skipped);

/* ---- reading ------------------------------------------------------------------------ */
/* Refs (increasing) of the series matching all of ms[0..n) (Prometheus
 * PostingsForMatchers semantics, see postings.h) with samples in [mint,
 * maxt], appended to out. */
int head_select(head *h, const matcher *ms, size_t n, int64_t mint, int64_t maxt, postings_vec *out);
/* Refs of every series with samples in [mint, maxt], in labels order
 * (for writing a block), appended to out. */
int head_series_sorted(head *h, int64_t mint, int64_t maxt, postings_vec *out);
/* Sort refs[0..n) by their series' labels (unknown refs go last). */
int head_sort_refs(head *h, uint64_t *refs, size_t n);

/* Add the series' labels to b (reset first). The strings are interned:
 * they stay valid until head_close, even after the series is truncated.
 * FLINT_ENOTFOUND for an unknown ref. */
int head_series_labels(head *h, uint64_t ref, labels_builder *b);

/* Chunks of one series overlapping [mint, maxt], oldest first: full chunks
 * copied from the chunk files, the open chunk as a copy taken under the
 * series' lock. data points into the set's own buffer, valid until the
 * set is reset or freed. */
typedef struct head_chunk {
    int64_t mint, maxt;
    int enc; /* CHUNK_ENC_* */
    const uint8_t *data;
    size_t len;
} head_chunk;

typedef struct head_chunk_set {
    head_chunk *v;
    size_t n, cap;
    fl_buf bytes;
} head_chunk_set;

void head_chunk_set_init(head_chunk_set *cs);
void head_chunk_set_reset(head_chunk_set *cs);
void head_chunk_set_free(head_chunk_set *cs);
/* Replace cs's contents with the chunks of `ref`. FLINT_ENOTFOUND for an
 * unknown ref; on other errors cs is empty. */
int head_series_chunks(head *h, uint64_t ref, int64_t mint, int64_t maxt, head_chunk_set *cs);

/* Label names (sorted, unique) of the series matching ms (all series when
 * n == 0). *out is fl_malloc'd (caller fl_frees the array, not the
 * strings: interned, valid until head_close). */
int head_label_names(head *h, const matcher *ms, size_t n, const char ***out, size_t *nout);
/* Values of label `name` (sorted, unique) among the series matching ms
 * (all series when n == 0); ownership as head_label_names. */
int head_label_values(head *h, const char *name, const matcher *ms, size_t n, const char ***out,
                      size_t *nout);

/* ---- truncation and stats -------------------------------------------------------------- */
/* Drop chunks ending before mint, then the series left with no samples and
 * no appender using them (from the maps and postings), then chunk files
 * holding only dropped chunks. Samples older than mint are refused
 * afterwards (FLINT_ETOOOLD). Runs alongside appenders and readers. */
int head_truncate(head *h, int64_t mint);

typedef struct head_stats {
    uint64_t num_series;
    uint64_t series_created, series_removed;
    uint64_t samples_appended;  /* committed into chunks */
    uint64_t samples_dropped;   /* out of order at commit or replay, or unappendable */
    uint64_t chunks;            /* full chunks held now (in files) */
    uint64_t chunks_created;    /* full chunks cut since open */
    uint64_t chunk_write_errors;
    uint32_t chunk_files;
    uint64_t chunk_file_bytes;
    int64_t mint, maxt;         /* INT64_MAX / INT64_MIN when empty */
    int64_t min_valid_time;
} head_stats;
void head_get_stats(head *h, head_stats *st);
int64_t head_mint(head *h);
int64_t head_maxt(head *h);

#endif
