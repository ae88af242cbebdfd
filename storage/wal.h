/*
 * wal.h - write-ahead log framing: numbered segment files of CRC-checked,
 * LZ4-compressed records. Knows bytes, not samples: tsdb/walrec.h defines
 * what a record holds (series, samples) and does checkpoints.
 *
 * Layout (docs/format/wal.md): DIR/00000000, DIR/00000001, ... each segment
 * a sequence of records; DIR/checkpoint.NNNNNNNN/ holds the same kind of
 * segments, covering everything up to and including segment NNNNNNNN.
 *
 * Durability: wal_log() hands the record to the kernel (write(2)) before it
 * returns; wal_sync() makes everything logged so far durable (fdatasync).
 * The head calls wal_log() for every committed batch and wal_sync() per
 * commit or periodically according to the DB's sync policy (see wal.md).
 *
 * Torn/corrupt tails: the reader stops at the first record that is short,
 * fails its CRC or does not decompress, and reports where; wal_repair()
 * cuts the log there (truncating that segment, deleting later ones) and
 * logs what was dropped. Never fatal for the DB.
 */
#ifndef FLINT_WAL_H
#define FLINT_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_DEFAULT_SEGMENT_SIZE (128u << 20)

typedef struct wal wal;

typedef struct wal_options {
    uint32_t segment_size;   /* cut a new segment past this many bytes; 0 = default */
    bool compress;           /* LZ4 records that shrink (default true via wal_options_default) */
} wal_options;

void wal_options_default(wal_options *o);

/* Open (creating DIR if needed) for appending. Always starts a new segment
 * after the last existing one, so a previous torn tail is never appended to.
 * opt may be NULL. */
int wal_open(const char *dir, const wal_options *opt, wal **out);
/* Append one record (1 <= len <= 64 MiB). On error nothing is
 * acknowledged; the segment may hold a torn record that replay cuts off. */
int wal_log(wal *w, const uint8_t *rec, size_t len);
int wal_sync(wal *w);
/* Close the current segment and start the next; returns the new segment's
 * number (>= 0) or an error. */
int wal_cut(wal *w);
int wal_current_segment(const wal *w);
/* Bytes written since open (for metrics). */
uint64_t wal_bytes_written(const wal *w);
/* fsync and close; NULL is a no-op. */
void wal_close(wal *w);

/* Segment numbers present in DIR (checkpoint dirs excluded): first/last,
 * both -1 when there are none. */
int wal_segment_range(const char *dir, int *first, int *last);
/* Delete segments numbered < seg. */
int wal_delete_before(const char *dir, int seg);

/* Latest complete checkpoint in DIR: its segment number and path (cap
 * bytes); FLINT_ENOTFOUND when there is none. */
int wal_last_checkpoint(const char *dir, int *seg, char *path, size_t cap);
/* Delete checkpoints older than seg, and leftover *.tmp checkpoints. */
int wal_delete_checkpoints_before(const char *dir, int seg);

/* ---- reading ------------------------------------------------------------- */
typedef struct wal_reader wal_reader;

/* Read segments [first, last] of DIR in order (last = -1: through the last
 * one present). */
int wal_reader_open(const char *dir, int first, int last, wal_reader **out);
/* Next record; *rec is borrowed until the next call. False at the end or on
 * corruption (then wal_reader_err() != 0). */
bool wal_reader_next(wal_reader *r, const uint8_t **rec, size_t *len);
/* 0 at a clean end; FLINT_ECORRUPT/FLINT_EIO with flint_errmsg() naming the
 * segment and offset otherwise. */
int wal_reader_err(const wal_reader *r);
/* Where the last good record ended: segment and byte offset. After an
 * error this is where the bad record (or the hole before a missing
 * segment) starts: pass it to wal_repair. */
void wal_reader_pos(const wal_reader *r, int *seg, int64_t *off);
/* Where the record last returned by wal_reader_next starts (for callers
 * whose own decoding of it fails: cut the log there). */
void wal_reader_record_pos(const wal_reader *r, int *seg, int64_t *off);
void wal_reader_free(wal_reader *r);

/* Cut the log at (seg, off): truncate segment seg to off bytes and delete
 * every later segment. Logs a warning with what was dropped. */
int wal_repair(const char *dir, int seg, int64_t off);
/* wal_repair that also reports how many bytes it dropped (truncated plus
 * deleted; 0 when there was nothing after (seg, off)). */
int wal_repair_ex(const char *dir, int seg, int64_t off, int64_t *bytes_dropped);

#endif
