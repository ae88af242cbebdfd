/*
 * headchunks.h - the head's full chunks on disk, so they leave the heap:
 * append-only files DIR/000001, DIR/000002, ... (DIR is <db>/chunks_head),
 * written with pwrite through a small write buffer and read back through
 * a read-only mmap of each file. Called by tsdb/head.c only.
 *
 * The files are scratch space, not a source of truth: the head is rebuilt
 * from the WAL on restart, so headchunks_open() deletes whatever it finds
 * in DIR and starts at file 1. (Replaying these files on start instead of
 * re-encoding the WAL's samples, like Prometheus' mmapped head chunks, is a
 * possible later optimisation; the record CRC is there for that day.)
 *
 * File layout: an 8-byte header "FLHC" 0x01 0 0 0, then records
 *     enc (1 byte) | len (uvarint) | chunk bytes (len) | CRC32C (4 bytes, BE)
 * the CRC covering enc, len and the bytes.
 *
 * A chunk's location (ref) packs into HEADCHUNKS_REF_BITS bits:
 * file slot (file sequence mod HEADCHUNKS_MAX_FILES) << 26 | offset, so a
 * file holds at most 64 MiB.
 *
 * Thread-safe: one rwlock; writes take it exclusively, reads share it and
 * copy the bytes out, so a file can be deleted by truncate as soon as no
 * series refers to it.
 */
#ifndef FLINT_HEADCHUNKS_H
#define FLINT_HEADCHUNKS_H

#include "storage/buf.h"

#include <stddef.h>
#include <stdint.h>

#define HEADCHUNKS_OFFSET_BITS 26
#define HEADCHUNKS_SLOT_BITS 12
#define HEADCHUNKS_REF_BITS (HEADCHUNKS_OFFSET_BITS + HEADCHUNKS_SLOT_BITS)
#define HEADCHUNKS_MAX_FILE_SIZE (1u << HEADCHUNKS_OFFSET_BITS)
#define HEADCHUNKS_MAX_FILES (1u << HEADCHUNKS_SLOT_BITS)

typedef struct headchunks headchunks;

/* Create DIR (and parents) and empty it of previous chunk files.
 * file_size: cut a new file past this many bytes (0: the maximum, 64 MiB). */
int headchunks_open(const char *dir, uint32_t file_size, headchunks **out);
/* Close and unmap; the files stay (the next open removes them). NULL ok. */
void headchunks_close(headchunks *hc);

/* Append one chunk whose samples end at maxt; *ref receives its location.
 * FLINT_EIO/FLINT_ENOSPC (message names the file) or FLINT_ELIMIT when
 * every file slot is in use; nothing is written then. */
int headchunks_write(headchunks *hc, int enc, const uint8_t *data, size_t len, int64_t maxt, uint64_t *ref);

/* Append a copy of the chunk at ref to out and set *enc. FLINT_ENOTFOUND for
 * a ref into a deleted file, FLINT_ECORRUPT on a CRC mismatch,
 * FLINT_ENOMEM. out keeps its length on failure. */
int headchunks_read(headchunks *hc, uint64_t ref, fl_buf *out, int *enc);

/* Finish the file being written (later chunks go to a new file) and
 * return the sequence number the next file will get. Truncation calls it
 * before dropping chunks from series, so that a chunk written while it
 * runs can only land in a file it will not delete. */
uint32_t headchunks_cut(headchunks *hc);
/* Delete every file numbered below before_seq all of whose chunks end
 * before mint (the head has dropped them). Returns the number of files
 * deleted or an error. */
int headchunks_truncate(headchunks *hc, int64_t mint, uint32_t before_seq);

/* Flush the write buffer (the head calls it on close; tests use it). */
int headchunks_flush(headchunks *hc);

typedef struct headchunks_stats {
    uint32_t files;          /* files present */
    uint64_t bytes;          /* bytes written to present files */
    uint64_t chunks_written; /* since open */
} headchunks_stats;
void headchunks_get_stats(headchunks *hc, headchunks_stats *st);

#endif
