/*
 * chunkfile.h - chunk segment files of a block: `chunks/000001`,
 * `000002`, ... each an 8-byte header and a run of CRC32C-checked records
 * holding opaque chunk bytes tagged with their encoding. Layout in
 * docs/format/block.md.
 *
 * tsdb/block.c writes chunks here while series are added and reads them
 * back through mmap. A chunk is addressed by a 64-bit ref:
 * segment number << 32 | byte offset of its record in that segment.
 *
 * The reader checks segment headers at open and a record's CRC each time
 * it is read (lazily: opening a block must not read gigabytes of chunks);
 * a bad record gives FLINT_ECORRUPT naming the file and offset.
 */
#ifndef FLINT_CHUNKFILE_H
#define FLINT_CHUNKFILE_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKFILE_MAGIC "FLCK"
#define CHUNKFILE_VERSION 1
#define CHUNKFILE_HEADER_SIZE 8
#define CHUNKFILE_SEGMENT_BYTES (512ull << 20)

static inline uint64_t chunkfile_ref(uint32_t segment, uint32_t offset) { return (uint64_t)segment << 32 | offset; }

/* ---- writer ------------------------------------------------------------------ */
typedef struct chunkfile_writer chunkfile_writer;

/* Create `dir` (mkdir -p) and start segment 1. segment_bytes 0 means
 * CHUNKFILE_SEGMENT_BYTES; a record never spans segments (a chunk larger
 * than a segment gets a segment of its own). */
int chunkfile_writer_new(const char *dir, uint64_t segment_bytes, chunkfile_writer **out);
/* Append one chunk; *ref receives its address. Data is copied (buffered).
 * On failure the writer is failed: later calls return the same error. */
int chunkfile_writer_add(chunkfile_writer *w, uint8_t enc, const uint8_t *data, size_t len, uint64_t *ref);
/* Flush, fsync every segment and the directory, close. */
int chunkfile_writer_finish(chunkfile_writer *w);
/* Total bytes of all segments so far. */
uint64_t chunkfile_writer_bytes(const chunkfile_writer *w);
/* Close without syncing (abort) or release after finish. Files stay. */
void chunkfile_writer_free(chunkfile_writer *w);

/* ---- reader ------------------------------------------------------------------ */
typedef struct chunkfile_reader chunkfile_reader;

/* Map every segment in `dir` (numbered 1..n without gaps; a missing
 * directory is an error). Checks each segment's header. */
int chunkfile_reader_open(const char *dir, chunkfile_reader **out);
void chunkfile_reader_free(chunkfile_reader *r);
/* The chunk at ref: its encoding and bytes (pointing into the mapping,
 * valid until chunkfile_reader_free). Verifies the record's bounds and CRC:
 * FLINT_ECORRUPT with path and offset, FLINT_ENOTFOUND for a segment that
 * does not exist. Thread-safe. */
int chunkfile_read(const chunkfile_reader *r, uint64_t ref, uint8_t *enc, const uint8_t **data, size_t *len);
uint32_t chunkfile_num_segments(const chunkfile_reader *r);
uint64_t chunkfile_reader_bytes(const chunkfile_reader *r);

#endif
