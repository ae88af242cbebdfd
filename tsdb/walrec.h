/*
 * walrec.h - what a WAL record holds: series (ref + labels) and sample
 * batches, their encoders and bounds-checked decoders; replay of the log
 * into callbacks (cutting a torn tail) and checkpoints that compact old
 * segments. Sits on storage/wal.h (framing); the head calls it on commit,
 * on start-up and when it truncates. Byte layout: docs/format/wal.md.
 *
 * Examples (record bytes, before framing):
 *   series {ref 7, {__name__="up", job="a"}}:
 *     01 01 07 02 08 "__name__" 02 "up" 03 "job" 01 "a"
 *   samples {7, 1000, 1.0}, {8, 1015, 2.0}:
 *     02 02 07 d0 0f 3f f0 00 00 00 00 00 00 | 02 1e 40 00 00 00 00 00 00 00
 *     (type, count, ref, zigzag t, be64 v | zigzag Δref, zigzag Δt, be64 v)
 */
#ifndef FLINT_WALREC_H
#define FLINT_WALREC_H

#include "storage/buf.h"
#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum walrec_type {
    WALREC_SERIES = 1,
    WALREC_SAMPLES = 2,
    WALREC_TOMBSTONES = 3, /* reserved: replay skips it, checkpoints drop it */
};

typedef struct walrec_series {
    uint64_t ref;
    labels lset;
} walrec_series;

typedef struct walrec_sample {
    uint64_t ref;
    int64_t t; /* ms */
    double v;  /* bit pattern kept (stale NaN survives) */
} walrec_sample;

/* The record's type (WALREC_*), or FLINT_ECORRUPT for an empty record or
 * an unknown type. */
int walrec_type(const uint8_t *rec, size_t len);

/* Append one record to b (usually reset first; the record is b->data[old
 * len .. len)). Label strings are NUL-terminated C strings. On error
 * (FLINT_ENOMEM) b->len is what it was. */
int walrec_encode_series(fl_buf *b, const walrec_series *s, size_t n);
int walrec_encode_samples(fl_buf *b, const walrec_sample *s, size_t n);

/* Memory the decoders write their output into, reused across records.
 * Zero-initialise; release with walrec_scratch_free. */
typedef struct walrec_scratch {
    void *mem;
    size_t cap;
} walrec_scratch;
void walrec_scratch_free(walrec_scratch *sc);

/* Decode a record of the matching type. *out (n entries) lives in sc:
 * label strings are NUL-terminated copies in sc, so the output does not
 * depend on rec staying valid, and it stays valid until the next decode
 * into sc or walrec_scratch_free(sc). FLINT_ECORRUPT (message with the
 * byte offset) for a wrong type, a truncated or overlong record, a count
 * that does not match, or a string with a NUL byte; FLINT_ENOMEM. sc is
 * usable after any failure. */
int walrec_decode_series(const uint8_t *rec, size_t len, walrec_scratch *sc, const walrec_series **out,
                         size_t *n);
int walrec_decode_samples(const uint8_t *rec, size_t len, walrec_scratch *sc, const walrec_sample **out,
                          size_t *n);

/* ---- replay ------------------------------------------------------------------ */

/* Each callback gets one decoded record; the arrays are borrowed for the
 * call only (copy or intern the label strings). A non-zero return stops
 * replay and is returned as is. Either callback may be NULL. */
typedef struct walrec_replay_cb {
    int (*on_series)(void *ctx, const walrec_series *s, size_t n);
    int (*on_samples)(void *ctx, const walrec_sample *s, size_t n);
} walrec_replay_cb;

typedef struct walrec_replay_stats {
    int checkpoint_seg;      /* replayed checkpoint, -1 if none */
    int last_seg;            /* segment of the last record replayed, -1 if none */
    uint64_t records, series, samples;
    int64_t bytes_dropped;   /* cut off a torn/corrupt tail (logged) */
} walrec_replay_stats;

/* Replay WALDIR: the latest checkpoint, then every segment after it. A torn
 * or corrupt record in the segments (short, CRC, LZ4, or a record that
 * does not decode) cuts the log there with wal_repair_ex (later segments
 * are deleted) and replay returns 0 with stats->bytes_dropped set. Real
 * I/O errors, FLINT_ENOMEM and callback errors are returned and nothing is
 * cut. A corrupt checkpoint is FLINT_ECORRUPT: it was fsynced before it
 * was published, so that is not a torn write. A missing WALDIR is an empty
 * log. stats may be NULL. */
int walrec_replay(const char *waldir, const walrec_replay_cb *cb, void *ctx, walrec_replay_stats *stats);

/* The same without changing anything on disk: a torn or corrupt record
 * ends the replay (returning 0) instead of cutting the log. For readers of
 * a directory that a live server may be writing (`flint query --data`). */
int walrec_replay_readonly(const char *waldir, const walrec_replay_cb *cb, void *ctx, walrec_replay_stats *stats);

/* ---- checkpoint ---------------------------------------------------------------- */

/* Compact the latest checkpoint (if any) and segments [first_seg, last_seg]
 * into DIR/checkpoint.<last_seg>: SERIES entries whose ref keep_series
 * accepts, and their SAMPLES with t >= min_time. Written to
 * checkpoint.<last_seg>.tmp, fsynced, renamed (atomic publish), then
 * segments <= last_seg and older checkpoints are deleted. A failure or a
 * crash at any point leaves a log that replays to the old state or the new
 * one. Once the checkpoint is published, failing to delete what it covers
 * is logged, not returned (the next checkpoint retries). Segments already
 * covered by the latest checkpoint are skipped; if it covers last_seg there
 * is nothing to do. A corrupt record in the input fails the checkpoint
 * (FLINT_ECORRUPT; run replay/repair first). */
int walrec_checkpoint(const char *waldir, int first_seg, int last_seg, bool (*keep_series)(uint64_t ref, void *ctx),
                      int64_t min_time, void *ctx);

#endif
