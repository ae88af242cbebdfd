/*
 * xorchunk.c - Gorilla XOR chunks in Prometheus' byte layout: the head's
 * appendable chunk (xor_app_*) and CHUNK_ENC_XOR for chunk.c (encode,
 * iterate, decode). Byte tables and worked examples: docs/format/chunks.md.
 *
 *   2 bytes  sample count, big-endian
 *   sample 0: t as signed varint, v as 64 raw bits
 *   sample 1: t - t0 as unsigned varint, then v XOR-coded
 *   sample i: delta-of-delta of t in a bucket, then v XOR-coded
 *     dod == 0            '0'
 *     -8191..8192         '10'   + 14 bits (two's complement)
 *     -65535..65536       '110'  + 17 bits
 *     -524287..524288     '1110' + 20 bits
 *     otherwise           '1111' + 64 bits
 *   value: '0' same bits as before; '10' + the XOR's meaningful bits inside
 *   the previous leading/trailing-zero window; '11' + 5 bits leading zeros
 *   (clamped to 31) + 6 bits significant-bit count (64 written as 0) + bits.
 *
 * Example 1 of docs/format/chunks.md, bit by bit there: (1000, 1.0),
 * (2000, 1.0), (3000, 2.0), (4000, 3.0), (5000, 3.0) ->
 *   00 05 | d0 0f | 3f f0 00 00 00 00 00 00 | e8 07 | 30 97 ff db 01 80
 * i.e. count, t0 varint, v0, t1-t0 uvarint, then '0' (v1 repeats), '0' (dod),
 * '11 00001 001011' + 11 bits (v2), '0', '11 01100 000001 1' (v3), '0 0'.
 *
 * Arithmetic on timestamps is modulo 2^64 like Prometheus', so any strictly
 * increasing int64 sequence round-trips, INT64_MIN to INT64_MAX included.
 */
#include "storage/bstream.h"
#include "storage/chunk_int.h"
#include "storage/err.h"

#include <string.h>

#define XOR_GROW_STEP 16u       /* appender buffer grows by this much */
#define XOR_MAX_SAMPLE_BITS 160 /* 10 varint bytes + 77 value bits, 68 + 77 */

/* ---- encoding --------------------------------------------------------- */

static bool xor_bit_range(int64_t x, unsigned nbits) {
    return -((INT64_C(1) << (nbits - 1)) - 1) <= x && x <= (INT64_C(1) << (nbits - 1));
}


/* The leading/trailing window of a non-zero XOR, leading clamped to 31. */
static void xor_window(uint64_t delta, unsigned *leading, unsigned *trailing) {
    unsigned l = (unsigned)__builtin_clzll(delta);
    *leading = l >= 32 ? 31 : l;
    *trailing = (unsigned)__builtin_ctzll(delta);
}

/* Bits xor_put_value would write. */
static unsigned xor_value_bits(const xor_appender *a, uint64_t vbits) {
    uint64_t delta = vbits ^ a->vbits;
    if (delta == 0) return 1;
    unsigned l, tr;
    xor_window(delta, &l, &tr);
    if (a->leading != 0xff && l >= a->leading && tr >= a->trailing)
        return 2 + 64 - a->leading - a->trailing;
    return 2 + 5 + 6 + 64 - l - tr;
}

static void xor_put_value(xor_appender *a, bstream_w *w, uint64_t vbits) {
    uint64_t delta = vbits ^ a->vbits;
    a->vbits = vbits;
    if (delta == 0) {
        bstream_write_bit(w, 0);
        return;
    }
    bstream_write_bit(w, 1);
    unsigned l, tr;
    xor_window(delta, &l, &tr);
    if (a->leading != 0xff && l >= a->leading && tr >= a->trailing) {
        bstream_write_bit(w, 0);
        bstream_write(w, delta >> a->trailing, 64u - a->leading - a->trailing);
        return;
    }
    a->leading = (uint8_t)l;
    a->trailing = (uint8_t)tr;
    bstream_write_bit(w, 1);
    bstream_write(w, l, 5);
    unsigned sig = 64 - l - tr; /* 1..64; 64 is written as 0 */
    bstream_write(w, sig & 63, 6);
    bstream_write(w, delta >> tr, sig);
}

static unsigned xor_dod_bits(int64_t dod) {
    if (dod == 0) return 1;
    if (xor_bit_range(dod, 14)) return 2 + 14;
    if (xor_bit_range(dod, 17)) return 3 + 17;
    if (xor_bit_range(dod, 20)) return 4 + 20;
    return 4 + 64;
}

static void xor_put_dod(bstream_w *w, int64_t dod) {
    if (dod == 0) {
        bstream_write_bit(w, 0);
    } else if (xor_bit_range(dod, 14)) {
        bstream_write(w, 0x2, 2);
        bstream_write(w, (uint64_t)dod, 14);
    } else if (xor_bit_range(dod, 17)) {
        bstream_write(w, 0x6, 3);
        bstream_write(w, (uint64_t)dod, 17);
    } else if (xor_bit_range(dod, 20)) {
        bstream_write(w, 0xe, 4);
        bstream_write(w, (uint64_t)dod, 20);
    } else {
        bstream_write(w, 0xf, 4);
        bstream_write(w, (uint64_t)dod, 64);
    }
}

static void xor_put_varint_bytes(bstream_w *w, uint64_t u) {
    uint8_t tmp[VARINT_MAX];
    size_t n = uvarint_put(tmp, u);
    for (size_t i = 0; i < n; i++) bstream_write(w, tmp[i], 8);
}

/* Bits the sample after the current state takes (t > a->t when count > 0). */
static unsigned xor_sample_bits(const xor_appender *a, int64_t t, double v) {
    uint64_t vb = dbits(v);
    if (a->count == 0) return (unsigned)(8 * uvarint_len(zigzag_enc(t)) + 64);
    uint64_t tdelta = (uint64_t)t - (uint64_t)a->t;
    if (a->count == 1) return (unsigned)(8 * uvarint_len(tdelta)) + xor_value_bits(a, vb);
    return xor_dod_bits((int64_t)(tdelta - a->tdelta)) + xor_value_bits(a, vb);
}

/* Write the sample at bit a->nbits of a->buf (room checked by the caller)
 * and update the state and the count header. */
static void xor_put_sample(xor_appender *a, int64_t t, double v) {
    bstream_w w = {a->buf, a->nbits};
    uint64_t vb = dbits(v);
    if (a->count == 0) {
        xor_put_varint_bytes(&w, zigzag_enc(t));
        bstream_write(&w, vb, 64);
        a->vbits = vb;
        a->tdelta = 0;
    } else {
        uint64_t tdelta = (uint64_t)t - (uint64_t)a->t;
        if (a->count == 1) xor_put_varint_bytes(&w, tdelta);
        else xor_put_dod(&w, (int64_t)(tdelta - (uint64_t)a->tdelta));
        a->tdelta = (int64_t)tdelta;
        xor_put_value(a, &w, vb);
    }
    a->t = t;
    a->count++;
    a->nbits = (uint32_t)w.nbits;
    a->buf[0] = (uint8_t)(a->count >> 8);
    a->buf[1] = (uint8_t)a->count;
}

void xor_app_init(xor_appender *a) {
    memset(a, 0, sizeof *a);
    a->leading = 0xff;
}

int xor_app_append(xor_appender *a, int64_t t, double v) {
    if (a->count > 0 && t <= a->t)
        return flint_error(FLINT_EOOO, "xor chunk: timestamp %lld not after %lld", (long long)t,
                           (long long)a->t);
    if (a->count == CHUNK_MAX_SAMPLES)
        return flint_error(FLINT_ERANGE, "xor chunk: full at %u samples", CHUNK_MAX_SAMPLES);
    uint64_t base = a->count ? a->nbits : 16; /* the count header */
    uint64_t need = (base + xor_sample_bits(a, t, v) + 7) / 8;
    if (need > a->cap) {
        uint64_t ncap = (need + XOR_GROW_STEP - 1) / XOR_GROW_STEP * XOR_GROW_STEP;
        uint8_t *nb = fl_realloc(a->buf, ncap);
        if (!nb) return flint_error(FLINT_ENOMEM, "xor chunk: out of memory growing to %llu bytes",
                                    (unsigned long long)ncap);
        memset(nb + a->cap, 0, ncap - a->cap);
        a->buf = nb;
        a->cap = (uint32_t)ncap;
    }
    a->nbits = (uint32_t)base;
    xor_put_sample(a, t, v);
    return 0;
}

const uint8_t *xor_app_bytes(const xor_appender *a, size_t *len) {
    static const uint8_t empty[2] = {0, 0};
    if (a->count == 0) {
        *len = sizeof empty;
        return empty;
    }
    *len = (a->nbits + 7) / 8;
    return a->buf;
}

void xor_app_free(xor_appender *a) {
    fl_free(a->buf);
    xor_app_init(a);
}

static int xor_encode(const int64_t *ts, const double *vs, size_t n, fl_buf *out) {
    if (n > CHUNK_MAX_SAMPLES)
        return flint_error(FLINT_ERANGE, "xor chunk: %zu samples, at most %u", n, CHUNK_MAX_SAMPLES);
    size_t worst = 2 + (n * XOR_MAX_SAMPLE_BITS + 7) / 8;
    size_t old_len = out->len;
    bstream_w region;
    int rc = bstream_append_zeroed(out, worst, &region);
    if (rc) return flint_error(rc, "xor chunk: out of memory for %zu samples", n);
    /* a borrowed appender writing straight into out */
    xor_appender a;
    xor_app_init(&a);
    a.buf = region.buf;
    a.cap = (uint32_t)worst;
    a.nbits = 16;
    for (size_t i = 0; i < n; i++) xor_put_sample(&a, ts[i], vs[i]);
    out->len = old_len + (a.nbits + 7) / 8;
    return 0;
}

/* ---- decoding --------------------------------------------------------- */

static int xor_num_samples(const uint8_t *data, size_t len) {
    if (len < 2) return flint_error(FLINT_ECORRUPT, "xor chunk: %zu bytes, no header", len);
    return (int)(data[0] << 8 | data[1]);
}

static bool xor_get_uvarint(bstream_r *r, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint64_t b = bstream_read56(r, 8);
        if (bstream_overrun(r) || (shift == 63 && b > 1)) return false;
        v |= (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool xor_fail(chunk_iter *it, uint32_t index, const char *what) {
    it->err = flint_error(FLINT_ECORRUPT, "xor chunk: %s at sample %u of %u", what, index, it->u.total);
    return false;
}

static void xor_iter_init(chunk_iter *it) {
    int n = xor_num_samples(it->data, it->len);
    if (n < 0) {
        it->err = n;
        return;
    }
    it->u.total = (uint32_t)n;
    it->remaining = (uint32_t)n;
    it->u.x.pos = 16;
    it->u.x.t = 0;
    it->u.x.tdelta = 0;
    it->u.x.vbits = 0;
    it->u.x.leading = 0;
    it->u.x.trailing = 0;
}

static bool xor_decode(chunk_iter *it, int64_t *ts, double *vs, uint32_t cnt) {
    static const unsigned dod_sizes[5] = {0, 14, 17, 20, 64};
    bstream_r r;
    bstream_r_init(&r, it->data, it->len, it->u.x.pos);
    int64_t t = it->u.x.t;
    uint64_t tdelta = it->u.x.tdelta, vbits = it->u.x.vbits;
    unsigned leading = it->u.x.leading, trailing = it->u.x.trailing;
    uint32_t first = it->u.next;
    for (uint32_t k = 0; k < cnt; k++) {
        uint32_t index = first + k;
        if (index == 0) {
            uint64_t zz;
            if (!xor_get_uvarint(&r, &zz)) return xor_fail(it, index, "truncated first timestamp");
            t = zigzag_dec(zz);
            vbits = bstream_read(&r, 64);
        } else {
            if (index == 1) {
                if (!xor_get_uvarint(&r, &tdelta)) return xor_fail(it, index, "truncated timestamp delta");
            } else {
                unsigned prefix = 0;
                while (prefix < 4 && bstream_read_bit(&r)) prefix++;
                unsigned sz = dod_sizes[prefix];
                uint64_t dod = 0;
                if (sz == 64) {
                    dod = bstream_read(&r, 64);
                } else if (sz) {
                    dod = bstream_read56(&r, sz);
                    if (dod > (UINT64_C(1) << (sz - 1))) dod -= UINT64_C(1) << sz;
                }
                tdelta += dod;
            }
            int64_t nt = (int64_t)((uint64_t)t + tdelta);
            if (nt <= t) return xor_fail(it, index, "timestamp not increasing");
            t = nt;
            if (bstream_read_bit(&r)) {
                if (bstream_read_bit(&r)) {
                    unsigned l = (unsigned)bstream_read56(&r, 5);
                    unsigned sig = (unsigned)bstream_read56(&r, 6);
                    if (sig == 0) sig = 64;
                    if (l + sig > 64) return xor_fail(it, index, "value window out of range");
                    leading = l;
                    trailing = 64 - l - sig;
                }
                vbits ^= bstream_read(&r, 64 - leading - trailing) << trailing;
            }
        }
        if (bstream_overrun(&r)) return xor_fail(it, index, "truncated");
        ts[k] = t;
        vs[k] = bitsd(vbits);
    }
    it->u.next = first + cnt;
    it->u.x.pos = r.pos;
    it->u.x.t = t;
    it->u.x.tdelta = tdelta;
    it->u.x.vbits = vbits;
    it->u.x.leading = (uint8_t)leading;
    it->u.x.trailing = (uint8_t)trailing;
    return true;
}

const chunk_ops xor_chunk_ops = {
    .name = "XOR",
    .encode = xor_encode,
    .iter_init = xor_iter_init,
    .decode = xor_decode,
    .num_samples = xor_num_samples,
};
