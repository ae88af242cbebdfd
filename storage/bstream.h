/*
 * bstream.h - bit streams, most significant bit first, as used by the chunk
 * codecs (storage/xorchunk.c, storage/dense.c; docs/format/chunks.md).
 *
 * The writer ORs bits into a caller-provided byte array whose unwritten bytes
 * are zero and which the caller has already made large enough: chunk
 * encoders compute their worst case first, grow once, and then cannot fail
 * half-way through a sample. bstream_append_zeroed() provides such a region
 * at the end of an fl_buf.
 *
 * The reader never touches a byte outside [data, data+len). Bits past the
 * end read as zero and move the position past `end`; the caller checks
 * bstream_overrun() once per sample batch and reports truncation.
 */
#ifndef FLINT_BSTREAM_H
#define FLINT_BSTREAM_H

#include "storage/buf.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- writer ------------------------------------------------------------- */
typedef struct bstream_w {
    uint8_t *buf;   /* borrowed; bytes from bit `nbits` on are zero */
    uint64_t nbits; /* bits written */
} bstream_w;

/* Write the low n bits of v (n <= 64). */
static inline void bstream_write(bstream_w *w, uint64_t v, unsigned n) {
    assert(n <= 64);
    if (n == 0) return;
    if (n < 64) v &= (UINT64_C(1) << n) - 1;
    uint8_t *p = w->buf + (w->nbits >> 3);
    unsigned room = 8 - (unsigned)(w->nbits & 7); /* free bits in *p */
    w->nbits += n;
    if (n <= room) {
        *p |= (uint8_t)(v << (room - n));
        return;
    }
    n -= room;
    *p++ |= (uint8_t)(v >> n);
    while (n >= 8) {
        n -= 8;
        *p++ = (uint8_t)(v >> n);
    }
    if (n) *p = (uint8_t)(v << (8 - n));
}

static inline void bstream_write_bit(bstream_w *w, unsigned bit) { bstream_write(w, bit, 1); }

/* Bytes the writer has touched so far. */
static inline size_t bstream_bytes(const bstream_w *w) { return (size_t)((w->nbits + 7) >> 3); }

/* Grow `b` by nbytes zero bytes and point *w at them (w->nbits = 0).
 * FLINT_ENOMEM leaves b unchanged. */
int bstream_append_zeroed(fl_buf *b, size_t nbytes, bstream_w *w);

/* ---- reader ------------------------------------------------------------- */
typedef struct bstream_r {
    const uint8_t *data; /* borrowed */
    size_t len;          /* bytes readable at data */
    uint64_t pos;        /* bit position from data */
    uint64_t end;        /* bit position where the stream ends (<= 8*len) */
} bstream_r;

static inline void bstream_r_init(bstream_r *r, const uint8_t *data, size_t len, uint64_t pos) {
    r->data = data;
    r->len = len;
    r->pos = pos;
    r->end = (uint64_t)len * 8;
}

/* The 8 bytes at byte offset `at` as a big-endian word, zero past len. */
static inline uint64_t bstream_load64(const uint8_t *data, size_t len, uint64_t at) {
    if (__builtin_expect(at + 8 <= len, 1)) {
        uint64_t w;
        memcpy(&w, data + at, 8);
        return __builtin_bswap64(w);
    }
    if (len >= 8 && at < len) { /* the last 8 bytes, shifted: no loop near the end */
        uint64_t w;
        memcpy(&w, data + len - 8, 8);
        return __builtin_bswap64(w) << ((at + 8 - len) * 8);
    }
    uint64_t w = 0;
    for (unsigned i = 0; i < 8; i++) {
        w <<= 8;
        if (at + i < len) w |= data[at + i];
    }
    return w;
}

/* Read n bits (n <= 56) as an unsigned number. */
static inline uint64_t bstream_read56(bstream_r *r, unsigned n) {
    uint64_t w = bstream_load64(r->data, r->len, r->pos >> 3) << (r->pos & 7);
    r->pos += n;
    return (w >> 1) >> (63 - n); /* n == 0 gives 0 without a 64-bit shift */
}

/* Read n bits (n <= 64). */
static inline uint64_t bstream_read(bstream_r *r, unsigned n) {
    assert(n <= 64);
    if (n <= 56) return bstream_read56(r, n);
    uint64_t hi = bstream_read56(r, n - 32);
    return hi << 32 | bstream_read56(r, 32);
}

static inline unsigned bstream_read_bit(bstream_r *r) { return (unsigned)bstream_read56(r, 1); }

/* Read whole bytes at the bit position (any alignment) into out. */
static inline void bstream_read_bytes(bstream_r *r, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)bstream_read56(r, 8);
}

/* True when reads went past the end of the stream. */
static inline bool bstream_overrun(const bstream_r *r) { return r->pos > r->end; }

#endif
