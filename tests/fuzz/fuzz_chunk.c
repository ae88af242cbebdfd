/*
 * fuzz_chunk.c - libFuzzer target for the chunk codecs (storage/chunk.h).
 *
 * The first input byte picks what the rest is:
 *   0 mod 4  an XOR chunk, 1 mod 4  a dense chunk: decoded with
 *            chunk_decode_all, the iterator and seek; must end cleanly or
 *            with FLINT_ECORRUPT, agree with each other, and only ever yield
 *            strictly increasing timestamps.
 *   2, 3     a recipe for samples (timestamp style, value style, then per
 *            sample bytes): encoded with chunk_encode under the mask the
 *            recipe names and with the XOR appender, decoded again, and
 *            compared bit for bit.
 * Seeds: tests/fuzz/corpus/fuzz_chunk/.
 */
#include "storage/chunk.h"
#include "storage/err.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES 3000

static int64_t dec_t[MAX_SAMPLES + 1];
static double dec_v[MAX_SAMPLES + 1];

static uint64_t bits_of(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static void check(int cond) {
    if (!cond) abort();
}

static void fuzz_decode(int enc, const uint8_t *data, size_t size) {
    /* an exact-size copy, so reading one byte too far is an ASan report */
    uint8_t *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    int n = chunk_num_samples(enc, copy, size);
    int got = chunk_decode_all(enc, copy, size, dec_t, dec_v, MAX_SAMPLES);
    check(got >= 0 || got == FLINT_ECORRUPT || got == FLINT_ERANGE);
    if (got >= 0) check(got == n);
    for (int i = 1; i < got; i++) check(dec_t[i] > dec_t[i - 1]);

    chunk_iter it;
    chunk_iter_init(&it, enc, copy, size);
    int k = 0;
    while (chunk_iter_next(&it)) {
        int64_t t;
        double v;
        chunk_iter_at(&it, &t, &v);
        if (got >= 0) check(k < got && t == dec_t[k] && bits_of(v) == bits_of(dec_v[k]));
        k++;
    }
    int err = chunk_iter_err(&it);
    check(err == 0 || err == FLINT_ECORRUPT);
    if (got >= 0) check(err == 0 && k == got);
    if (err == 0 && n >= 0) check(k == n);

    /* seek to the middle sample, then past the end */
    if (got > 0) {
        chunk_iter_init(&it, enc, copy, size);
        check(chunk_iter_seek(&it, dec_t[got / 2]));
        check(it.t == dec_t[got / 2]);
        check(!chunk_iter_seek(&it, dec_t[got - 1] == INT64_MAX ? INT64_MAX : dec_t[got - 1] + 1) ||
              dec_t[got - 1] == INT64_MAX);
        check(chunk_iter_err(&it) == 0);
    }
    free(copy);
}

/* ---- recipes ------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint64_t take(reader *r, unsigned nbytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < nbytes; i++) v = v << 8 | (r->p < r->end ? *r->p++ : 0);
    return v;
}

static double special(unsigned i) {
    static const uint64_t bits[] = {
        STALE_NAN_BITS, 0x7ff8000000000001ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL,
        0x8000000000000000ULL, 0, 1, 0x000fffffffffffffULL, 0x7fefffffffffffffULL, 0xffefffffffffffffULL,
    };
    double v;
    memcpy(&v, &bits[i % (sizeof bits / sizeof bits[0])], 8);
    return v;
}

static void fuzz_roundtrip(const uint8_t *data, size_t size) {
    static int64_t ts[MAX_SAMPLES];
    static double vs[MAX_SAMPLES];
    reader r = {data, data + size};
    unsigned allowed = (unsigned)take(&r, 1) & 7;
    unsigned tmode = (unsigned)take(&r, 1) % 4;
    unsigned vmode = (unsigned)take(&r, 1) % 6;
    unsigned dexp = (unsigned)take(&r, 1) % 23;
    int64_t t = (int64_t)take(&r, 8);
    int64_t step = (int64_t)(take(&r, 3) + 1);
    int64_t m = (int64_t)(take(&r, 4) - (1ull << 31));
    size_t n = 0;
    while (r.p < r.end && n < MAX_SAMPLES) {
        if (n > 0) {
            uint64_t delta;
            switch (tmode) {
            case 0: delta = (uint64_t)step; break;
            case 1: delta = (uint64_t)step + take(&r, 1) % 16; break;
            case 2: delta = take(&r, 2) + 1; break;
            default: delta = take(&r, 8) | 1; break;
            }
            if (delta > (uint64_t)INT64_MAX - (uint64_t)t) break; /* would pass INT64_MAX */
            t = (int64_t)((uint64_t)t + delta);
        }
        double v;
        unsigned kind = vmode == 5 ? (unsigned)take(&r, 1) % 5 : vmode;
        switch (kind) {
        case 0: { /* raw float64 */
            uint64_t b = take(&r, 8);
            memcpy(&v, &b, 8);
            break;
        }
        case 1: /* decimal counter m / 10^d */
            m += (int64_t)take(&r, 2);
            if (m > (INT64_C(1) << 53) || m < -(INT64_C(1) << 53)) m = 0;
            v = (double)m / pow(10, dexp);
            break;
        case 2: /* small gauge */
            v = (double)((int8_t)take(&r, 1)) / 4;
            break;
        case 3: /* a special now and then */
            v = special((unsigned)take(&r, 1));
            break;
        default: /* repeat */
            v = n ? vs[n - 1] : 0;
            take(&r, 1);
            break;
        }
        ts[n] = t;
        vs[n] = v;
        n++;
    }
    if (n == 0) return;

    fl_buf out = {0};
    int enc = 0;
    int rc = chunk_encode(ts, vs, n, allowed, &out, &enc);
    unsigned effective = allowed ? allowed : 1u << CHUNK_ENC_XOR | 1u << CHUNK_ENC_DENSE;
    if (rc == FLINT_ERANGE || rc == FLINT_EINVAL) {
        /* dense alone may refuse; a mask without a known encoding is invalid */
        check(!(effective & (1u << CHUNK_ENC_XOR)));
        check(out.len == 0);
        return;
    }
    check(rc == 0);
    check(chunk_decode_all(enc, out.data, out.len, dec_t, dec_v, MAX_SAMPLES) == (int)n);
    for (size_t i = 0; i < n; i++) check(dec_t[i] == ts[i] && bits_of(dec_v[i]) == bits_of(vs[i]));
    chunk_iter it;
    chunk_iter_init(&it, enc, out.data, out.len);
    for (size_t i = 0; i < n; i++) check(chunk_iter_next(&it) && it.t == ts[i] && bits_of(it.v) == bits_of(vs[i]));
    check(!chunk_iter_next(&it) && chunk_iter_err(&it) == 0);

    /* the appender writes exactly what chunk_encode(XOR) writes */
    xor_appender a;
    xor_app_init(&a);
    for (size_t i = 0; i < n; i++) check(xor_app_append(&a, ts[i], vs[i]) == 0);
    size_t len;
    const uint8_t *b = xor_app_bytes(&a, &len);
    fl_buf xo = {0};
    int xenc;
    check(chunk_encode(ts, vs, n, 1u << CHUNK_ENC_XOR, &xo, &xenc) == 0);
    check(xo.len == len && memcmp(xo.data, b, len) == 0);
    if (enc == CHUNK_ENC_XOR) check(out.len == len && memcmp(out.data, b, len) == 0);
    else if (effective & (1u << CHUNK_ENC_XOR)) check(out.len <= len); /* the smaller one */
    fl_buf_free(&xo);
    xor_app_free(&a);
    fl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    switch (data[0] % 4) {
    case 0: fuzz_decode(CHUNK_ENC_XOR, data + 1, size - 1); break;
    case 1: fuzz_decode(CHUNK_ENC_DENSE, data + 1, size - 1); break;
    default: fuzz_roundtrip(data + 1, size - 1); break;
    }
    return 0;
}
