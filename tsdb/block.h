/*
 * block.h - immutable on-disk blocks: `<data_dir>/<ULID>/` holding
 * `chunks/000001...`, `index` and `meta.json` (docs/format/block.md).
 *
 * The head (on cut) and the compactor write blocks with block_writer; the
 * DB opens them with block_open and the querier selects series by matchers,
 * reads their chunk metas and chunk bytes. Retention removes them with
 * block_delete; startup lists them with block_list, which also removes
 * what a crash left behind.
 *
 * Crash safety: a block is written into `<ULID>.tmp/`, every file and the
 * directory fsynced, then renamed to `<ULID>` (and the parent fsynced), so
 * a `<ULID>` directory is always complete. Deletion renames to
 * `<ULID>.deleted` first, so a half-removed block is never visible.
 *
 * Relies on storage/index (index codec), storage/chunkfile (segments),
 * storage/fileio (fsync/rename/mmap, fault injection) and tsdb/labels.
 */
#ifndef FLINT_BLOCK_H
#define FLINT_BLOCK_H

#include "storage/index.h"
#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCK_ULID_LEN 26
/* 26 Crockford base32 characters + NUL. */
typedef char block_ulid[BLOCK_ULID_LEN + 1];

/* ---- ULIDs ------------------------------------------------------------------- */
/* 48-bit ms timestamp + 80 random bits; lexical order = time order. */
int block_ulid_new(int64_t ms, block_ulid out);
bool block_ulid_valid(const char *s);
/* The timestamp of a valid ULID. */
int64_t block_ulid_time(const char *s);

/* ---- meta.json --------------------------------------------------------------- */
typedef struct block_parent {
    block_ulid ulid;
    int64_t min_time, max_time;
} block_parent;

typedef struct block_meta {
    block_ulid ulid;
    int64_t min_time, max_time;  /* [min_time, max_time), as Prometheus */
    uint64_t num_samples, num_series, num_chunks;
    int level;                   /* compaction level, 1 for a head block */
    block_ulid *sources;         /* owned; level-1 blocks this one holds */
    size_t nsources;
    block_parent *parents;       /* owned; blocks compacted into this one */
    size_t nparents;
    int version;                 /* meta.json format version: 1 */
} block_meta;

/* Parse `<dir>/meta.json` into m (zeroed first; release with
 * block_meta_free). FLINT_ENOTFOUND if missing, FLINT_ECORRUPT with the
 * byte offset if malformed. Unknown keys are skipped. */
int block_meta_read(const char *dir, block_meta *m);
/* Serialise m (Prometheus' field names and layout) into a NUL-terminated
 * malloc'd string; caller frees with fl_free. */
int block_meta_format(const block_meta *m, char **out, size_t *len);
int block_meta_parse(const char *json, size_t len, block_meta *m);
void block_meta_free(block_meta *m);

/* ---- writer ------------------------------------------------------------------ */
/* A chunk handed to the writer; the bytes are copied into the block. */
typedef struct block_chunk {
    int64_t mint, maxt;      /* first and last sample timestamp */
    uint8_t enc;             /* CHUNK_ENC_* (opaque here) */
    uint32_t nsamples;       /* counted into meta.json numSamples */
    const uint8_t *data;
    size_t len;
} block_chunk;

typedef struct block_writer_opts {
    int level;                     /* 0 means 1 */
    const block_ulid *sources;     /* none: the new block itself */
    size_t nsources;
    const block_parent *parents;
    size_t nparents;
    uint64_t segment_bytes;        /* chunk segment size; 0: 512 MiB */
} block_writer_opts;

typedef struct block_writer block_writer;

/* Start a block for [mint, maxt) in `<data_dir>/<ULID>.tmp/` (data_dir is
 * created if missing). opts may be NULL. */
int block_writer_new(const char *data_dir, int64_t mint, int64_t maxt, const block_writer_opts *opts,
                     block_writer **out);
/* Add one series: labels strictly greater (labels_cmp) than the previous
 * series', names strictly increasing, at least one label; chunks sorted and
 * non-overlapping (mint <= maxt < next mint), inside [mint, maxt) of the
 * block. Labels and chunk bytes are copied. FLINT_EINVAL (saying what is
 * wrong) and FLINT_ENOMEM leave the writer as before the call, so the
 * caller may skip or retry the series; I/O errors fail the writer. */
int block_writer_add_series(block_writer *w, const labels *l, const block_chunk *chunks, size_t n);
/* Write index and meta.json, fsync everything, rename `<ULID>.tmp` to
 * `<ULID>`. ulid_out (may be NULL) receives the id. On failure nothing is
 * published and `<ULID>.tmp` stays as a crash would leave it; call
 * block_writer_abort. */
int block_writer_commit(block_writer *w, block_ulid ulid_out);
/* Remove `<ULID>.tmp` (unless committed) and release the writer. NULL ok. */
void block_writer_abort(block_writer *w);
/* Same as abort: release a committed writer. */
void block_writer_free(block_writer *w);
const char *block_writer_ulid(const block_writer *w);

/* ---- reader ------------------------------------------------------------------ */
typedef struct block block;

/* Open `dir`: parse meta.json, map and verify the index (every section
 * CRC), map the chunk segments (record CRCs are checked on each read).
 * Errors name the block directory and what failed. */
int block_open(const char *dir, block **out);
void block_close(block *b);
const block_meta *block_get_meta(const block *b);
const char *block_path(const block *b);
/* Bytes on disk (index + chunks + meta.json). */
uint64_t block_size_bytes(const block *b);
uint32_t block_num_series(const block *b);
const index_reader *block_index(const block *b);

/* Sorted series ids. Caller-allocated; reused across calls. */
typedef struct block_postings {
    uint32_t *ids;
    size_t n, cap;
} block_postings;
void block_postings_init(block_postings *p);
void block_postings_free(block_postings *p);

/* Ids of the series matching all matchers (Prometheus semantics: a matcher
 * that matches "" also selects series without the label). No matchers:
 * every series. out is overwritten. Matchers are used from one thread. */
int block_select(const block *b, const matcher *ms, size_t n, block_postings *out);

typedef index_chunk_meta block_chunk_meta;

/* A series' labels and the chunks overlapping a time range. Strings point
 * into the block's mapping (valid until block_close). */
typedef struct block_series {
    label *labels;
    size_t nlabels, labels_cap;
    block_chunk_meta *chunks;
    size_t nchunks;
    index_series raw;
} block_series;
void block_series_init(block_series *s);
void block_series_free(block_series *s);
static inline labels block_series_labels(const block_series *s) {
    labels l = {s->labels, s->nlabels};
    return l;
}
/* Series `id`, with only the chunks that overlap [mint, maxt] (inclusive;
 * INT64_MIN/INT64_MAX for all). */
int block_series_get(const block *b, uint32_t id, int64_t mint, int64_t maxt, block_series *s);

/* The bytes of a chunk (a ref from block_chunk_meta). CRC-checked. */
int block_chunk_get(const block *b, uint64_t ref, uint8_t *enc, const uint8_t **data, size_t *len);

/* Sorted label names / values of `name`, over the series matching ms (all
 * series when n == 0). *out is a malloc'd array (fl_free) of strings
 * borrowed from the block; *count its length. */
int block_label_names(const block *b, const matcher *ms, size_t n, const char ***out, size_t *count);
int block_label_values(const block *b, const char *name, const matcher *ms, size_t n, const char ***out,
                       size_t *count);

/* ---- directory management ---------------------------------------------------- */
/* Remove a block directory crash-safely (rename to `<dir>.deleted`, fsync
 * the parent, remove, fsync again). */
int block_delete(const char *dir);
/* ULIDs of the block directories in data_dir (directories named by a
 * valid ULID that hold a meta.json), sorted ascending. With
 * remove_leftovers, `*.tmp` and `*.deleted` entries are removed first
 * (only at startup, when no writer runs). *out: fl_free. */
int block_list(const char *data_dir, bool remove_leftovers, block_ulid **out, size_t *n);

#endif
