/*
 * index.h - the block index file codec: symbol table, series (label refs +
 * chunk metas), label-value index, postings lists, offset tables and a TOC,
 * every section CRC32C-checked. Byte layout: docs/format/index.md.
 *
 * This layer knows strings and integers only. tsdb/block.c writes one index
 * per block (index_writer) and reads it through a mapping (index_reader);
 * tests/fuzz/fuzz_index.c opens arbitrary bytes with the reader.
 *
 * Series are numbered 0..n-1 in the order they were added (sorted by
 * labels); postings lists hold those ids. Strings handed out by the reader
 * point into the caller's buffer and are NUL-terminated there.
 */
#ifndef FLINT_INDEX_H
#define FLINT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INDEX_MAGIC "FLIX"
#define INDEX_VERSION 1
#define INDEX_HEADER_SIZE 8
/* Series per group in the series section (one offset-table entry each). */
#define INDEX_SERIES_GROUP 16
/* Label values per postings-offset-table entry. */
#define INDEX_POSTINGS_GROUP 16

typedef struct index_pair {
    const char *name;
    const char *value;
} index_pair;

/* A chunk as the index sees it: [mint, maxt] (inclusive), where its bytes
 * are (chunkfile ref: segment << 32 | offset) and their encoding. */
typedef struct index_chunk_meta {
    int64_t mint, maxt;
    uint64_t ref;
    uint8_t enc;
} index_chunk_meta;

/* ---- writer ----------------------------------------------------------------
 * index_writer_new → index_writer_set_symbols (once) → index_writer_add_series
 * (each series once, strictly increasing label order) → index_writer_finish
 * → index_writer_free. Any failure leaves the writer failed: later calls
 * return the same error; free it (the partial file stays for the caller to
 * remove with its directory). */
typedef struct index_writer index_writer;

/* Create (truncate) the file at path. FLINT_EIO/ENOSPC/ENOMEM. */
int index_writer_new(const char *path, index_writer **out);
/* All strings any series will use, strictly increasing by strcmp (the empty
 * string is allowed). Copied. FLINT_EINVAL if not sorted/unique. */
int index_writer_set_symbols(index_writer *w, const char *const *syms, size_t n);
/* Labels: names strictly increasing, every string in the symbol set, the
 * whole set greater than the previous series' (labels_cmp order). Chunks:
 * mint <= maxt, sorted by mint. Copied. FLINT_EINVAL names the problem. */
int index_writer_add_series(index_writer *w, const index_pair *labels, size_t nlabels,
                            const index_chunk_meta *chunks, size_t nchunks);
/* Write the remaining sections and the TOC, fsync, close. */
int index_writer_finish(index_writer *w);
/* Bytes written so far (the file size after finish). */
uint64_t index_writer_size(const index_writer *w);
void index_writer_free(index_writer *w);

/* ---- reader ----------------------------------------------------------------
 * Opens a whole index held in memory (usually an fio_map_file mapping; the
 * buffer must outlive the reader). Open checks the header, the TOC, every
 * section's CRC32C and the structure of the symbol and label sections;
 * every later read is bounds-checked, so corrupt input gives FLINT_ECORRUPT
 * ("index: ... at offset N"), never an out-of-bounds read. After open the
 * reader is immutable: concurrent reads are safe. */
typedef struct index_reader index_reader;

/* Skip the CRC checks (fuzzing the structure checks; `flint tsdb` salvage). */
#define INDEX_OPEN_NO_CRC 1u

int index_reader_open(const uint8_t *data, size_t size, unsigned flags, index_reader **out);
void index_reader_free(index_reader *r);

uint32_t index_num_series(const index_reader *r);
uint32_t index_num_symbols(const index_reader *r);

/* Symbols, in increasing order. The cursor starts at 0; returns false at
 * the end (or on corruption, with *err set). */
typedef struct index_symbol_iter {
    const index_reader *r;
    size_t pos;
    uint32_t left;
    int err;
} index_symbol_iter;
void index_symbols_iter(const index_reader *r, index_symbol_iter *it);
bool index_symbols_next(index_symbol_iter *it, const char **s, size_t *len);
/* The symbol stored at `ref` (its offset in the symbol section, as the label
 * index holds it). FLINT_ECORRUPT if ref is not a valid symbol. */
int index_symbol(const index_reader *r, uint32_t ref, const char **s, size_t *len);

/* Label names (sorted). Ordinal i in [0, index_num_label_names). */
uint32_t index_num_label_names(const index_reader *r);
const char *index_label_name(const index_reader *r, uint32_t name_ord);
/* Ordinal of `name`, or -1 when no series has it. */
int64_t index_label_name_find(const index_reader *r, const char *name);
/* Values of a name (sorted), by ordinal in [0, index_num_label_values). */
uint32_t index_num_label_values(const index_reader *r, uint32_t name_ord);
int index_label_value(const index_reader *r, uint32_t name_ord, uint32_t value_ord, const char **s,
                      size_t *len);
/* Ordinal of `value` among the name's values (binary search): 0 and *ord,
 * FLINT_ENOTFOUND when absent (no message recorded), FLINT_ECORRUPT. */
int index_label_value_find(const index_reader *r, uint32_t name_ord, const char *value, uint32_t *ord);

/* ---- postings: sorted series ids ------------------------------------------
 * Caller-allocated iterator over a list in the mapping. next/seek return
 * false at the end or on corruption; index_postings_err says which. */
typedef struct index_postings {
    const uint8_t *p, *end;
    uint32_t count;     /* entries in the list */
    uint32_t left;      /* entries not yet returned */
    uint32_t cur;       /* current id (valid after a true next/seek) */
    uint32_t first;
    uint32_t limit;     /* ids must be < limit (the series count) */
    bool range;         /* stored as [first, first+count) */
    bool started;
    int err;
} index_postings;

/* An empty list (never fails). */
void index_postings_empty(index_postings *it);
/* Every series: [0, n). */
int index_postings_all(const index_reader *r, index_postings *it);
/* The list for (name ordinal, value ordinal). */
int index_postings_at_ord(const index_reader *r, uint32_t name_ord, uint32_t value_ord,
                          index_postings *it);
/* The list for name=value; empty when the pair does not occur. */
int index_postings_get(const index_reader *r, const char *name, const char *value, index_postings *it);
bool index_postings_next(index_postings *it);
/* Advance to the first id >= target (never backwards). */
bool index_postings_seek(index_postings *it, uint32_t target);
static inline uint32_t index_postings_at(const index_postings *it) { return it->cur; }
static inline int index_postings_err(const index_postings *it) { return it->err; }

/* ---- series -----------------------------------------------------------------
 * Caller-allocated, reused across calls (arrays grow, never shrink). */
typedef struct index_series {
    index_pair *labels;          /* strings point into the mapping */
    size_t nlabels, labels_cap;
    index_chunk_meta *chunks;
    size_t nchunks, chunks_cap;
} index_series;

void index_series_init(index_series *s);
void index_series_free(index_series *s);
/* Decode series `id`. FLINT_ENOTFOUND if id >= n, FLINT_ECORRUPT,
 * FLINT_ENOMEM (s keeps its arrays; contents unspecified on error). */
int index_series_get(const index_reader *r, uint32_t id, index_series *s);

#endif
