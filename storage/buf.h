/*
 * buf.h - a growable byte buffer for encoders (WAL records, chunks, index
 * sections). Appends report FLINT_ENOMEM and leave the buffer unchanged on
 * failure; fl_buf_free releases it (no-op on an empty buffer).
 */
#ifndef FLINT_BUF_H
#define FLINT_BUF_H

#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/varint.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fl_buf {
    uint8_t *data;
    size_t len, cap;
} fl_buf;

static inline int fl_buf_reserve(fl_buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + extra) nc *= 2;
    uint8_t *nd = fl_realloc(b->data, nc);
    if (!nd) return FLINT_ENOMEM;
    b->data = nd;
    b->cap = nc;
    return 0;
}
static inline int fl_buf_put(fl_buf *b, const void *p, size_t n) {
    if (fl_buf_reserve(b, n)) return FLINT_ENOMEM;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}
static inline int fl_buf_put_byte(fl_buf *b, uint8_t c) { return fl_buf_put(b, &c, 1); }
static inline int fl_buf_put_uvarint(fl_buf *b, uint64_t v) {
    if (fl_buf_reserve(b, VARINT_MAX)) return FLINT_ENOMEM;
    b->len += uvarint_put(b->data + b->len, v);
    return 0;
}
static inline int fl_buf_put_varint(fl_buf *b, int64_t v) { return fl_buf_put_uvarint(b, zigzag_enc(v)); }
static inline int fl_buf_put_be32(fl_buf *b, uint32_t v) {
    uint8_t t[4];
    be32_put(t, v);
    return fl_buf_put(b, t, 4);
}
static inline int fl_buf_put_be64(fl_buf *b, uint64_t v) {
    uint8_t t[8];
    be64_put(t, v);
    return fl_buf_put(b, t, 8);
}
/* uvarint length + bytes */
static inline int fl_buf_put_str(fl_buf *b, const char *s, size_t n) {
    if (fl_buf_put_uvarint(b, n)) return FLINT_ENOMEM;
    return fl_buf_put(b, s, n);
}
static inline void fl_buf_reset(fl_buf *b) { b->len = 0; }
static inline void fl_buf_free(fl_buf *b) {
    fl_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#endif
