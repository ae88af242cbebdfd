/*
 * xor_stub.c - TEMPORARY stand-in for storage/xorchunk.c + storage/chunk.c
 * (branch wt-codec) so the head builds and its tests run before the codec
 * lands on main. Not Gorilla: 2-byte count, then raw (t, v) pairs, 16 bytes
 * each. Delete this file when merging main brings the real codec.
 * Every definition is weak, so a tree holding both links the real codec
 * (storage/ objects come first in libflint.a and win over weak ones).
 */
#define STUB __attribute__((weak))
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"

#include <string.h>

STUB double stale_nan(void) {
    uint64_t b = STALE_NAN_BITS;
    double v;
    memcpy(&v, &b, 8);
    return v;
}

STUB bool is_stale_nan(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == STALE_NAN_BITS;
}

STUB void xor_app_init(xor_appender *a) {
    memset(a, 0, sizeof *a);
    a->leading = 0xff;
}

STUB int xor_app_append(xor_appender *a, int64_t t, double v) {
    if (a->count > 0 && t <= a->t) return flint_error(FLINT_EOOO, "stub chunk: out of order");
    if (a->count == 65535) return flint_error(FLINT_ERANGE, "stub chunk: full");
    uint32_t need = 2 + 16u * (a->count + 1u);
    if (need > a->cap) {
        uint32_t nc = (need + 15) / 16 * 16;
        uint8_t *nb = fl_realloc(a->buf, nc);
        if (!nb) return FLINT_ENOMEM;
        a->buf = nb;
        a->cap = nc;
    }
    uint64_t vb;
    memcpy(&vb, &v, 8);
    be64_put(a->buf + 2 + 16u * a->count, (uint64_t)t);
    be64_put(a->buf + 10 + 16u * a->count, vb);
    a->count++;
    a->buf[0] = (uint8_t)(a->count >> 8);
    a->buf[1] = (uint8_t)a->count;
    a->nbits = need * 8;
    a->t = t;
    a->vbits = vb;
    return 0;
}

STUB const uint8_t *xor_app_bytes(const xor_appender *a, size_t *len) {
    static const uint8_t empty[2] = {0, 0};
    if (!a->count) {
        *len = 2;
        return empty;
    }
    *len = a->nbits / 8;
    return a->buf;
}

STUB void xor_app_free(xor_appender *a) {
    fl_free(a->buf);
    xor_app_init(a);
}

STUB void chunk_iter_init(chunk_iter *it, int enc, const uint8_t *data, size_t len) {
    memset(it, 0, sizeof *it);
    it->enc = enc;
    it->data = data;
    it->len = len;
    if (len < 2 || enc != CHUNK_ENC_XOR) {
        it->err = FLINT_ECORRUPT;
        return;
    }
    it->remaining = (uint32_t)(data[0] << 8 | data[1]);
    if (2 + 16ull * it->remaining > len) it->err = FLINT_ECORRUPT;
}

STUB bool chunk_iter_next(chunk_iter *it) {
    if (it->err || !it->remaining) return false;
    size_t i = (size_t)(it->data[0] << 8 | it->data[1]) - it->remaining;
    it->t = (int64_t)be64_get(it->data + 2 + 16 * i);
    uint64_t vb = be64_get(it->data + 10 + 16 * i);
    memcpy(&it->v, &vb, 8);
    it->remaining--;
    return true;
}

STUB bool chunk_iter_seek(chunk_iter *it, int64_t mint) {
    while (chunk_iter_next(it))
        if (it->t >= mint) return true;
    return false;
}

STUB int chunk_num_samples(int enc, const uint8_t *data, size_t len) {
    (void)enc;
    if (len < 2) return FLINT_ECORRUPT;
    return data[0] << 8 | data[1];
}
