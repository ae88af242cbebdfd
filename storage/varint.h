/*
 * varint.h - LEB128 unsigned varints, zigzag signed varints, and fixed-width
 * big-endian integers, as used by every on-disk format (docs/format/).
 *
 * Decoders never read past `end` and return NULL on truncated or overlong
 * input, so corrupt files produce an error, not a crash.
 */
#ifndef FLINT_VARINT_H
#define FLINT_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VARINT_MAX 10

static inline uint64_t zigzag_enc(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t zigzag_dec(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* Write `v` at p (room for VARINT_MAX bytes); returns bytes written. */
static inline size_t uvarint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static inline size_t varint_put(uint8_t *p, int64_t v) { return uvarint_put(p, zigzag_enc(v)); }
static inline size_t uvarint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

/* Read a varint from [p, end); returns the position after it or NULL. */
static inline const uint8_t *uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
        uint8_t b = *p++;
        if (shift == 63 && b > 1) return NULL;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return p;
        }
    }
    return NULL;
}
static inline const uint8_t *varint_get(const uint8_t *p, const uint8_t *end, int64_t *out) {
    uint64_t u;
    p = uvarint_get(p, end, &u);
    if (p) *out = zigzag_dec(u);
    return p;
}

static inline void be32_put(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t be32_get(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void be64_put(uint8_t *p, uint64_t v) {
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}
static inline uint64_t be64_get(const uint8_t *p) { return (uint64_t)be32_get(p) << 32 | be32_get(p + 4); }

#endif
