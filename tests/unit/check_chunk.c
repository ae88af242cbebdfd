/*
 * check_chunk.c - the chunk codecs (storage/chunk.h): XOR bucket and window
 * edges, bit-exact special values, timestamps across the int64 range,
 * rejection of non-increasing input, seek, dense round trips over many
 * shapes, XOR fallback, corrupt and truncated input at every offset, and
 * OOM at every allocation of the encoders.
 */
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ck_assert records every passing call with a system call; the per-sample
 * checks below only call into Check when they fail. */
#define EXPECT(cond, ...) \
    do { \
        if (!(cond)) ck_abort_msg(__VA_ARGS__); \
    } while (0)

static uint64_t bits_of(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static double from_bits(uint64_t b) {
    double v;
    memcpy(&v, &b, 8);
    return v;
}

/* Decode bytes with decode_all and with the iterator; both must give back
 * ts/vs bit for bit. */
static void expect_decodes_to(int enc, const uint8_t *data, size_t len, const int64_t *ts, const double *vs,
                              size_t n) {
    ck_assert_int_eq(chunk_num_samples(enc, data, len), (int)n);
    int64_t *dt = malloc((n + 1) * sizeof *dt);
    double *dv = malloc((n + 1) * sizeof *dv);
    ck_assert_int_eq(chunk_decode_all(enc, data, len, dt, dv, n), (int)n);
    for (size_t i = 0; i < n; i++) {
        EXPECT(dt[i] == ts[i], "%s decode_all t[%zu] = %lld, want %lld", chunk_enc_name(enc), i, (long long)dt[i],
               (long long)ts[i]);
        EXPECT(bits_of(dv[i]) == bits_of(vs[i]), "%s decode_all v[%zu] = %016llx, want %016llx", chunk_enc_name(enc),
               i, (unsigned long long)bits_of(dv[i]), (unsigned long long)bits_of(vs[i]));
    }
    chunk_iter it;
    chunk_iter_init(&it, enc, data, len);
    size_t k = 0;
    while (chunk_iter_next(&it)) {
        EXPECT(k < n, "%s iterator: more than %zu samples", chunk_enc_name(enc), n);
        int64_t t;
        double v;
        chunk_iter_at(&it, &t, &v);
        EXPECT(t == ts[k], "%s iterator t[%zu] = %lld", chunk_enc_name(enc), k, (long long)t);
        EXPECT(bits_of(v) == bits_of(vs[k]), "%s iterator v[%zu]", chunk_enc_name(enc), k);
        k++;
    }
    ck_assert_int_eq(chunk_iter_err(&it), 0);
    ck_assert_uint_eq(k, n);
    ck_assert(!chunk_iter_next(&it));
    free(dt);
    free(dv);
}

/* chunk_encode with `allowed`, check the encoding if expect_enc != 0, and
 * round-trip. Returns the encoded size. */
static size_t roundtrip(const int64_t *ts, const double *vs, size_t n, unsigned allowed, int expect_enc) {
    fl_buf out = {0};
    int enc = -1;
    ck_assert_int_eq(chunk_encode(ts, vs, n, allowed, &out, &enc), 0);
    if (expect_enc) ck_assert_str_eq(chunk_enc_name(enc), chunk_enc_name(expect_enc));
    expect_decodes_to(enc, out.data, out.len, ts, vs, n);
    size_t len = out.len;
    fl_buf_free(&out);
    return len;
}

/* Appender round trip; also checks the appender matches chunk_encode(XOR). */
static void xor_roundtrip(const int64_t *ts, const double *vs, size_t n) {
    xor_appender a;
    xor_app_init(&a);
    for (size_t i = 0; i < n; i++) EXPECT(xor_app_append(&a, ts[i], vs[i]) == 0, "append %zu", i);
    size_t len;
    const uint8_t *b = xor_app_bytes(&a, &len);
    expect_decodes_to(CHUNK_ENC_XOR, b, len, ts, vs, n);
    fl_buf out = {0};
    int enc;
    ck_assert_int_eq(chunk_encode(ts, vs, n, 1u << CHUNK_ENC_XOR, &out, &enc), 0);
    ck_assert_int_eq(enc, CHUNK_ENC_XOR);
    ck_assert_uint_eq(out.len, len);
    ck_assert(memcmp(out.data, b, len) == 0);
    fl_buf_free(&out);
    xor_app_free(&a);
}

/* ---- XOR --------------------------------------------------------------------- */

START_TEST(test_chunk_xor_matches_prometheus_bytes) {
    /* promtool tsdb create-blocks-from openmetrics (Prometheus 2.42) wrote
     * this chunk for these samples; NaN is Go's math.NaN(). */
    static const int64_t ts[] = {7200000, 7215000, 7230000, 7245001, 7260000, 7275000, 7290000,
                                 7300000, 7400000, 7900000, 8000000, 8001000, 8002000, 8010000};
    double vs[] = {1, 1, 2, 2.5, -0.75, 3, 3, 1e300, 7, 7.25, from_bits(0x7ff8000000000001ULL), INFINITY, 0.1, 0.2};
    static const char *hex =
        "000e80f4ee063ff000000000000098753097ffe0007683bffec077ff700037ff0563c62f3e3fe43c8800759f857e"
        "42f8af90f22001d67e61a808001000000000003a7960317dff2800000000000f73ea44004000000000000b0fd0126"
        "66666666666cdac401c00000000000000";
    size_t n = sizeof ts / sizeof ts[0];
    xor_appender a;
    xor_app_init(&a);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(xor_app_append(&a, ts[i], vs[i]), 0);
    size_t len;
    const uint8_t *b = xor_app_bytes(&a, &len);
    ck_assert_uint_eq(len, strlen(hex) / 2);
    for (size_t i = 0; i < len; i++) {
        unsigned byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        ck_assert_msg(b[i] == byte, "byte %zu: %02x, Prometheus wrote %02x", i, b[i], byte);
    }
    xor_app_free(&a);
    xor_roundtrip(ts, vs, n);
}
END_TEST

START_TEST(test_chunk_xor_dod_bucket_edges) {
    /* dod -> bits of its timestamp field (the value repeats: 1 more bit) */
    static const struct { int64_t dod; unsigned bits; } cases[] = {
        {0, 1},           {1, 16},          {-1, 16},         {8192, 16},       {8193, 20},
        {-8191, 16},      {-8192, 20},      {65536, 20},      {65537, 24},      {-65535, 20},
        {-65536, 24},     {524288, 24},     {524289, 68},     {-524287, 24},    {-524288, 68},
        {INT64_C(1) << 40, 68}, {-(INT64_C(1) << 40), 68},
    };
    const int64_t base = INT64_C(1) << 41; /* first delta, larger than every negative dod */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t ts[4] = {-5, -5 + base, -5 + 2 * base + cases[c].dod, 0};
        ts[3] = ts[2] + (ts[2] - ts[1]); /* dod 0 after the edge */
        double vs[4] = {42.5, 42.5, 42.5, 42.5};
        xor_appender a;
        xor_app_init(&a);
        ck_assert_int_eq(xor_app_append(&a, ts[0], vs[0]), 0);
        ck_assert_int_eq(xor_app_append(&a, ts[1], vs[1]), 0);
        uint32_t before = a.nbits;
        ck_assert_int_eq(xor_app_append(&a, ts[2], vs[2]), 0);
        ck_assert_msg(a.nbits - before == cases[c].bits + 1, "dod %lld took %u bits, want %u",
                      (long long)cases[c].dod, a.nbits - before - 1, cases[c].bits);
        xor_app_free(&a);
        xor_roundtrip(ts, vs, 4);
    }
}
END_TEST

START_TEST(test_chunk_xor_value_window_cases) {
    /* value bits after the previous -> bits the value field takes */
    static const struct { uint64_t xor_with; unsigned bits; const char *what; } cases[] = {
        {0, 1, "equal"},
        {0x0000000F00000000ULL, 2 + 11 + 4, "first window (leading 28, 4 bits)"},
        {0x0000000600000000ULL, 2 + 4, "inside the window: reuse"},
        {0x0000000F00000000ULL, 2 + 4, "exactly the window: reuse"},
        {0x0000001000000000ULL, 2 + 11 + 1, "more leading bits needed: new window"},
        {0x0000000000000001ULL, 2 + 11 + 33, "trailing smaller, leading 63 clamped to 31"},
        {0x0000000000000002ULL, 2 + 33, "inside the clamped window"},
        {0x8000000000000001ULL, 2 + 11 + 64, "64 significant bits (written as 0)"},
        {0x0000000000000010ULL, 2 + 64, "reuse a 64-bit window"},
        {0x7ff0000000000000ULL, 2 + 64, "exponent only"},
        {0, 1, "equal again"},
    };
    size_t n = 2 + sizeof cases / sizeof cases[0];
    int64_t ts[16];
    double vs[16];
    uint64_t cur = 0x4000000000000000ULL; /* 2.0 */
    for (size_t i = 0; i < n; i++) {
        ts[i] = (int64_t)i * 15000;
        if (i >= 2) cur ^= cases[i - 2].xor_with;
        vs[i] = from_bits(cur);
    }
    xor_appender a;
    xor_app_init(&a);
    for (size_t i = 0; i < n; i++) {
        uint32_t before = a.nbits;
        ck_assert_int_eq(xor_app_append(&a, ts[i], vs[i]), 0);
        if (i >= 2)
            ck_assert_msg(a.nbits - before == 1 + cases[i - 2].bits, "%s: %u bits, want %u", cases[i - 2].what,
                          a.nbits - before - 1, cases[i - 2].bits);
    }
    xor_app_free(&a);
    xor_roundtrip(ts, vs, n);
    roundtrip(ts, vs, n, 0, 0);
}
END_TEST

START_TEST(test_chunk_special_values_bitexact) {
    const double specials[] = {
        stale_nan(),
        from_bits(0x7ff8000000000001ULL), /* ordinary NaN (Go's math.NaN) */
        from_bits(0x7ff8000000000000ULL), /* C's NAN */
        from_bits(0xfff8000000000000ULL), /* negative NaN */
        INFINITY, -INFINITY, -0.0, 0.0, DBL_TRUE_MIN, -DBL_TRUE_MIN, DBL_MIN / 2, DBL_MIN,
        DBL_MAX, -DBL_MAX, 1.0, 1e300, 9007199254740993.0, 0.1,
    };
    size_t ns = sizeof specials / sizeof specials[0];
    ck_assert(is_stale_nan(stale_nan()));
    ck_assert(!is_stale_nan(specials[1]));
    ck_assert(!is_stale_nan(specials[2]));
    ck_assert(isnan(stale_nan()));
    ck_assert_uint_eq(bits_of(stale_nan()), STALE_NAN_BITS);
    /* every special after every special, in XOR and through chunk_encode */
    int64_t ts[2 * 18 * 18];
    double vs[2 * 18 * 18];
    size_t n = 0;
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++) {
            vs[n] = specials[i];
            ts[n] = (int64_t)n * 1000;
            n++;
            vs[n] = specials[j];
            ts[n] = (int64_t)n * 1000;
            n++;
        }
    xor_roundtrip(ts, vs, n);
    roundtrip(ts, vs, n, 0, 0);
    /* a stale marker among decimals stays in dense, as an exception */
    double dv[100];
    int64_t dt[100];
    for (int i = 0; i < 100; i++) {
        dt[i] = 1700000000000 + i * 15000;
        dv[i] = i * 0.25;
    }
    dv[37] = stale_nan();
    dv[38] = from_bits(0x7ff8000000000001ULL);
    dv[60] = -0.0;
    dv[99] = stale_nan();
    roundtrip(dt, dv, 100, 0, CHUNK_ENC_DENSE);
    roundtrip(dt, dv, 100, 1u << CHUNK_ENC_DENSE, CHUNK_ENC_DENSE);
    fl_buf out = {0};
    int enc;
    ck_assert_int_eq(chunk_encode(dt, dv, 100, 1u << CHUNK_ENC_DENSE, &out, &enc), 0);
    double back[100];
    int64_t tb[100];
    ck_assert_int_eq(chunk_decode_all(enc, out.data, out.len, tb, back, 100), 100);
    ck_assert(is_stale_nan(back[37]));
    ck_assert(!is_stale_nan(back[38]) && isnan(back[38]));
    ck_assert(signbit(back[60]) && back[60] == 0);
    fl_buf_free(&out);
}
END_TEST

START_TEST(test_chunk_timestamps_across_int64_range) {
    static const int64_t sets[][6] = {
        {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX},
        {INT64_MIN, -4611686018427387904LL, 0, 4611686018427387904LL, INT64_MAX - 1, INT64_MAX},
        {-1700000000000, -1699999985000, -1699999970000, -15000, 0, 15000},
        {INT64_MIN, INT64_MAX, 0, 0, 0, 0}, /* one huge gap: 2^64 - 1 */
    };
    static const size_t lens[] = {6, 6, 6, 2};
    for (size_t s = 0; s < 4; s++) {
        double vs[6] = {1, 2, 3, 4, 5, 6};
        xor_roundtrip(sets[s], vs, lens[s]);
        roundtrip(sets[s], vs, lens[s], 1u << CHUNK_ENC_DENSE, CHUNK_ENC_DENSE);
        roundtrip(sets[s], vs, lens[s], 0, 0);
    }
    /* regular but negative, and irregular with jitter around zero */
    int64_t ts[300];
    double vs[300];
    for (int i = 0; i < 300; i++) {
        ts[i] = -2250000 + i * 15000 + (i % 7 == 3 ? 3 : 0) - (i % 11 == 5 ? 2 : 0);
        vs[i] = i % 5;
    }
    xor_roundtrip(ts, vs, 300);
    roundtrip(ts, vs, 300, 0, CHUNK_ENC_DENSE);
}
END_TEST

START_TEST(test_chunk_rejects_non_increasing) {
    xor_appender a;
    xor_app_init(&a);
    ck_assert_int_eq(xor_app_append(&a, 1000, 1.5), 0);
    ck_assert_int_eq(xor_app_append(&a, 2000, 2.5), 0);
    size_t len;
    const uint8_t *b = xor_app_bytes(&a, &len);
    uint8_t before[64];
    memcpy(before, b, len);
    size_t len_before = len;
    ck_assert_int_eq(xor_app_append(&a, 2000, 3.5), FLINT_EOOO);
    ck_assert_int_eq(xor_app_append(&a, 1999, 3.5), FLINT_EOOO);
    ck_assert_int_eq(xor_app_append(&a, INT64_MIN, 3.5), FLINT_EOOO);
    b = xor_app_bytes(&a, &len);
    ck_assert_uint_eq(len, len_before);
    ck_assert(memcmp(b, before, len) == 0);
    ck_assert_uint_eq(a.count, 2);
    ck_assert_int_eq(xor_app_append(&a, 3000, 3.5), 0);
    int64_t ts[] = {1000, 2000, 3000};
    double vs[] = {1.5, 2.5, 3.5};
    b = xor_app_bytes(&a, &len);
    expect_decodes_to(CHUNK_ENC_XOR, b, len, ts, vs, 3);
    xor_app_free(&a);

    fl_buf out = {0};
    ck_assert_int_eq(fl_buf_put(&out, "keep", 4), 0);
    int enc = 77;
    int64_t eq[] = {1, 2, 2, 3}, dec[] = {5, 4};
    double v4[] = {1, 2, 3, 4};
    for (unsigned allowed = 0; allowed < 8; allowed += 2) {
        ck_assert_int_eq(chunk_encode(eq, v4, 4, allowed, &out, &enc), FLINT_EINVAL);
        ck_assert_int_eq(chunk_encode(dec, v4, 2, allowed, &out, &enc), FLINT_EINVAL);
        ck_assert_int_eq(chunk_encode(eq, v4, 0, allowed, &out, &enc), FLINT_EINVAL);
    }
    ck_assert_int_eq(enc, 77);
    ck_assert_uint_eq(out.len, 4);
    ck_assert(memcmp(out.data, "keep", 4) == 0);
    fl_buf_free(&out);
}
END_TEST

START_TEST(test_chunk_sample_count_limits) {
    size_t n = 65536;
    int64_t *ts = malloc(n * sizeof *ts);
    double *vs = malloc(n * sizeof *vs);
    for (size_t i = 0; i < n; i++) {
        ts[i] = (int64_t)i * 10;
        vs[i] = (double)(i % 100);
    }
    fl_buf out = {0};
    int enc;
    ck_assert_int_eq(chunk_encode(ts, vs, n, 0, &out, &enc), FLINT_ERANGE);
    ck_assert_uint_eq(out.len, 0);
    roundtrip(ts, vs, n - 1, 0, CHUNK_ENC_DENSE);
    roundtrip(ts, vs, n - 1, 1u << CHUNK_ENC_XOR, CHUNK_ENC_XOR);
    xor_appender a;
    xor_app_init(&a);
    for (size_t i = 0; i + 1 < n; i++) EXPECT(xor_app_append(&a, ts[i], vs[i]) == 0, "append %zu", i);
    ck_assert_int_eq(xor_app_append(&a, ts[n - 1], vs[n - 1]), FLINT_ERANGE);
    xor_app_free(&a);
    free(ts);
    free(vs);
}
END_TEST

START_TEST(test_chunk_appender_grows_in_small_steps) {
    xor_appender a;
    xor_app_init(&a);
    size_t len;
    ck_assert_uint_eq(a.cap, 0);
    xor_app_bytes(&a, &len);
    ck_assert_uint_eq(len, 2); /* an empty chunk is its count */
    tu_rng r = {7};
    for (int i = 0; i < 500; i++) {
        int rc = xor_app_append(&a, 1700000000000 + i * 15000 + (int64_t)(tu_next(&r) % 5),
                                (double)(tu_next(&r) % 1000) / 10);
        EXPECT(rc == 0, "append %d: %d", i, rc);
        xor_app_bytes(&a, &len);
        EXPECT(len <= a.cap && a.cap - len < 16, "%zu bytes used of %u allocated", len, a.cap);
    }
    xor_app_free(&a);
    ck_assert_ptr_null(a.buf);
    ck_assert_uint_eq(a.count, 0);
    xor_app_free(&a); /* twice is fine */
}
END_TEST

/* ---- seek ---------------------------------------------------------------------- */

static void check_seek(int enc, const uint8_t *data, size_t len, const int64_t *ts, size_t n) {
    chunk_iter it;
    int64_t t;
    double v;
    /* before the first next(): lands on the first sample >= mint */
    chunk_iter_init(&it, enc, data, len);
    ck_assert(chunk_iter_seek(&it, INT64_MIN));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[0]);
    chunk_iter_init(&it, enc, data, len);
    ck_assert(chunk_iter_seek(&it, ts[100] - 1));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[100]);
    /* exact hit, then never backwards */
    ck_assert(chunk_iter_seek(&it, ts[100]));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[100]);
    ck_assert(chunk_iter_seek(&it, ts[3]));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[100]);
    /* across a batch boundary, then next() continues from there */
    ck_assert(chunk_iter_seek(&it, ts[130]));
    ck_assert(chunk_iter_next(&it));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[131]);
    ck_assert_uint_eq(it.remaining, n - 132);
    /* the last one, then past the end */
    ck_assert(chunk_iter_seek(&it, ts[n - 1]));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[n - 1]);
    ck_assert(chunk_iter_seek(&it, ts[n - 1]));
    ck_assert(!chunk_iter_seek(&it, ts[n - 1] + 1));
    ck_assert(!chunk_iter_seek(&it, INT64_MIN)); /* ended stays ended */
    ck_assert(!chunk_iter_next(&it));
    ck_assert_int_eq(chunk_iter_err(&it), 0);
    /* beyond everything from the start */
    chunk_iter_init(&it, enc, data, len);
    ck_assert(!chunk_iter_seek(&it, INT64_MAX));
    ck_assert_int_eq(chunk_iter_err(&it), 0);
    /* re-initialised, not reallocated: the same iterator starts over */
    chunk_iter_init(&it, enc, data, len);
    ck_assert(chunk_iter_next(&it));
    chunk_iter_at(&it, &t, &v);
    ck_assert_int_eq(t, ts[0]);
}

START_TEST(test_chunk_seek_semantics) {
    enum { N = 200 };
    int64_t ts[N];
    double vs[N];
    for (int i = 0; i < N; i++) {
        ts[i] = 1000 + i * 10 + (i % 3);
        vs[i] = (i * 7) % 13;
    }
    for (int e = CHUNK_ENC_XOR; e <= CHUNK_ENC_DENSE; e++) {
        fl_buf out = {0};
        int enc;
        ck_assert_int_eq(chunk_encode(ts, vs, N, 1u << e, &out, &enc), 0);
        ck_assert_int_eq(enc, e);
        check_seek(enc, out.data, out.len, ts, N);
        fl_buf_free(&out);
    }
}
END_TEST

/* ---- dense ----------------------------------------------------------------------- */

typedef enum {
    SHAPE_CONST_ONE, SHAPE_CONST_ZERO, SHAPE_CONST_BIG, SHAPE_CONST_HALF, SHAPE_COUNTER_RESETS,
    SHAPE_CPU_SECONDS, SHAPE_NANO_SECONDS, SHAPE_PAGES, SHAPE_GAUGE_WALK, SHAPE_MIXED_DECIMALS,
    SHAPE_NEGATIVE, SHAPE_PLUS_ONE, SHAPE_ZERO_INFLATED, SHAPE_TINY, SHAPE_NEAR_2_53, SHAPE_RARE_DIP,
    SHAPE_BIG_DECIMAL_JUMPS, NSHAPES
} shape;

static double shape_value(shape s, tu_rng *r, int i, double prev) {
    switch (s) {
    case SHAPE_CONST_ONE: return 1;
    case SHAPE_CONST_ZERO: return 0;
    case SHAPE_CONST_BIG: return 125000000000.0;
    case SHAPE_CONST_HALF: return 0.5;
    case SHAPE_COUNTER_RESETS: return i % 97 == 50 ? 0 : prev + (double)(tu_next(r) % 3000);
    case SHAPE_CPU_SECONDS: return (double)(123456789 + i * 150 + (int64_t)(tu_next(r) % 40)) / 100;
    case SHAPE_NANO_SECONDS: return (double)(225000123456789LL + i * 2250000000LL + (int64_t)(tu_next(r) % 999999999)) / 1e9;
    case SHAPE_PAGES: return (double)(2000000 + (int64_t)(tu_next(r) % 3000)) * 4096;
    case SHAPE_GAUGE_WALK: return prev + (double)((int64_t)(tu_next(r) % 17) - 8);
    case SHAPE_MIXED_DECIMALS: {
        static const double m[] = {1, 0.5, 0.25, 0.001, 12.75, 3e-9, 100};
        return m[tu_next(r) % 7];
    }
    case SHAPE_NEGATIVE: return -(double)(tu_next(r) % 100000) / 1000;
    case SHAPE_PLUS_ONE: return 1000 + i;
    case SHAPE_ZERO_INFLATED: return prev + (tu_next(r) % 10 < 3 ? 0 : (double)(512 * (tu_next(r) % 3000)));
    case SHAPE_TINY: return (double)(tu_next(r) % 1000) / 1e22; /* what strtod("7e-22") gives */
    case SHAPE_NEAR_2_53: return 9007199254740991.0 - (double)(tu_next(r) % 3);
    case SHAPE_RARE_DIP: return i == 17 ? 0 : 1;
    case SHAPE_BIG_DECIMAL_JUMPS: return i % 2 ? 1e15 : -1e15;
    default: return 0;
    }
}

START_TEST(test_chunk_dense_shapes_roundtrip) {
    static const size_t lens[] = {1, 2, 3, 4, 63, 64, 65, 120, 479, 480, 1440};
    for (int s = 0; s < NSHAPES; s++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            int64_t *ts = malloc(n * sizeof *ts);
            double *vs = malloc(n * sizeof *vs);
            tu_rng r = {(uint64_t)s * 1000 + n + 1};
            double prev = 1e6;
            for (size_t i = 0; i < n; i++) {
                ts[i] = 1700000000000 + (int64_t)i * 15000;
                vs[i] = prev = shape_value((shape)s, &r, (int)i, prev);
            }
            size_t dense = roundtrip(ts, vs, n, 1u << CHUNK_ENC_DENSE, CHUNK_ENC_DENSE);
            size_t best = roundtrip(ts, vs, n, 0, 0);
            ck_assert_uint_le(best, dense);
            if (s <= SHAPE_CONST_HALF || s == SHAPE_PLUS_ONE)
                ck_assert_msg(dense <= 24, "shape %d n %zu: %zu bytes for a constant", s, n, dense);
            /* irregular timestamps: jitter and a missed scrape */
            for (size_t i = 1; i < n; i++) ts[i] = ts[i - 1] + 15000 + (int64_t)(tu_next(&r) % 7) - 3 + (i == n / 2 ? 15000 : 0);
            roundtrip(ts, vs, n, 1u << CHUNK_ENC_DENSE, CHUNK_ENC_DENSE);
            free(ts);
            free(vs);
        }
    }
}
END_TEST

START_TEST(test_chunk_dense_is_compact) {
    enum { N = 480 };
    int64_t ts[N];
    double vs[N];
    tu_rng r = {99};
    /* a 0.01-resolution counter with increments of 100..200 units */
    int64_t m = 123456789;
    for (int i = 0; i < N; i++) {
        ts[i] = 1700000000000 + i * 15000;
        m += 100 + (int64_t)(tu_next(&r) % 101);
        vs[i] = (double)m / 100;
    }
    size_t dense = roundtrip(ts, vs, N, 0, CHUNK_ENC_DENSE);
    size_t xor = roundtrip(ts, vs, N, 1u << CHUNK_ENC_XOR, CHUNK_ENC_XOR);
    /* log2(101) = 6.7 bits of information per sample */
    ck_assert_msg(dense < N * 7.2 / 8 + 40, "dense %zu bytes", dense);
    ck_assert_uint_lt(dense * 3, xor);
    /* multiples of 4096 cost the same as their page counts */
    for (int i = 0; i < N; i++) vs[i] = (double)(1000000 + (int64_t)(tu_next(&r) % 64)) * 4096;
    size_t pages = roundtrip(ts, vs, N, 0, CHUNK_ENC_DENSE);
    ck_assert_msg(pages < N * 6.2 / 8 + 40, "pages %zu bytes", pages);
}
END_TEST

START_TEST(test_chunk_dense_refusal_falls_back_to_xor) {
    enum { N = 300 };
    int64_t ts[N];
    double vs[N];
    tu_rng r = {5};
    for (int i = 0; i < N; i++) {
        ts[i] = i * 1000;
        vs[i] = tu_unif(&r) * 3.7; /* full-precision floats: not decimals */
    }
    fl_buf out = {0};
    ck_assert_int_eq(fl_buf_put(&out, "xy", 2), 0);
    int enc = 0;
    ck_assert_int_eq(chunk_encode(ts, vs, N, 1u << CHUNK_ENC_DENSE, &out, &enc), FLINT_ERANGE);
    ck_assert_uint_eq(out.len, 2);
    ck_assert_int_eq(enc, 0);
    fl_buf_free(&out);
    roundtrip(ts, vs, N, 0, CHUNK_ENC_XOR);
    /* too many non-decimal values for the exception list */
    for (int i = 0; i < N; i++) vs[i] = i % 3 ? i : NAN;
    roundtrip(ts, vs, N, 0, CHUNK_ENC_XOR);
    /* integers beyond 2^53 */
    for (int i = 0; i < N; i++) vs[i] = 1e20 + i * 65536.0;
    roundtrip(ts, vs, N, 0, CHUNK_ENC_XOR);
    /* XOR is chosen when smaller even though dense works: one sample */
    ts[0] = 0;
    vs[0] = 1;
    roundtrip(ts, vs, 1, 0, 0);
    /* an unknown encoding in the mask alone */
    out = (fl_buf){0};
    ck_assert_int_eq(chunk_encode(ts, vs, 1, 1u << 7, &out, &enc), FLINT_EINVAL);
}
END_TEST

START_TEST(test_chunk_dense_odd_decimal_becomes_exception) {
    enum { N = 480 };
    int64_t ts[N];
    double vs[N];
    for (int i = 0; i < N; i++) {
        ts[i] = i * 15000;
        vs[i] = (double)(i * 3 % 17);
    }
    size_t plain = roundtrip(ts, vs, N, 0, CHUNK_ENC_DENSE);
    vs[200] = 0.123456789012; /* 12 decimals among integers */
    size_t odd = roundtrip(ts, vs, N, 0, CHUNK_ENC_DENSE);
    ck_assert_msg(odd < plain + 16, "one odd value cost %zu bytes", odd - plain);
}
END_TEST

START_TEST(test_chunk_dense_exceptions_anywhere) {
    enum { N = 200 };
    int64_t ts[N];
    double vs[N];
    /* three shapes whose best delta orders are 0, 1 and 2 */
    for (int shape = 0; shape < 3; shape++) {
        static const int spots[][6] = {
            {0, -1, -1, -1, -1, -1},      /* the first sample (a header integer for orders 1, 2) */
            {1, -1, -1, -1, -1, -1},      /* the second (header for order 2) */
            {0, 1, 2, -1, -1, -1},        /* a run at the start */
            {50, 51, 52, 53, 54, -1},     /* a run in the middle: repeated extrapolation */
            {N - 1, -1, -1, -1, -1, -1},  /* a stale marker at the end */
            {10, 30, 70, 110, 150, 190},  /* scattered */
        };
        for (size_t sp = 0; sp < sizeof spots / sizeof spots[0]; sp++) {
            for (int i = 0; i < N; i++) {
                ts[i] = 1700000000000 + i * 15000;
                vs[i] = shape == 0 ? (double)(i % 3) : shape == 1 ? 1000.0 + 4096.0 * i : 5.0 * i * i;
            }
            for (int j = 0; j < 6 && spots[sp][j] >= 0; j++) {
                int at = spots[sp][j];
                vs[at] = j % 3 == 0 ? stale_nan() : j % 3 == 1 ? -INFINITY : 9007199254740992.0; /* 2^53 */
            }
            roundtrip(ts, vs, N, 1u << CHUNK_ENC_DENSE, CHUNK_ENC_DENSE);
        }
    }
    /* |m| just below 2^53 is an integer, just above is an exception */
    for (int i = 0; i < N; i++) vs[i] = i % 2 ? 9007199254740991.0 : -9007199254740991.0;
    vs[7] = 18014398509481984.0;
    roundtrip(ts, vs, N, 1u << CHUNK_ENC_DENSE, CHUNK_ENC_DENSE);
}
END_TEST

/* ---- docs/format/chunks.md ---------------------------------------------------------- */

static void expect_bytes(const int64_t *ts, const double *vs, size_t n, unsigned allowed, int want_enc,
                         const char *hex) {
    fl_buf out = {0};
    int enc;
    ck_assert_int_eq(chunk_encode(ts, vs, n, allowed, &out, &enc), 0);
    ck_assert_int_eq(enc, want_enc);
    char got[512] = "";
    for (size_t i = 0; i < out.len && 2 * i + 2 < sizeof got; i++) snprintf(got + 2 * i, 3, "%02x", out.data[i]);
    ck_assert_str_eq(got, hex);
    expect_decodes_to(enc, out.data, out.len, ts, vs, n);
    fl_buf_free(&out);
}

START_TEST(test_chunk_doc_examples_bytes) {
    const unsigned xor_only = 1u << CHUNK_ENC_XOR, dense_only = 1u << CHUNK_ENC_DENSE;
    int64_t t1[] = {1000, 2000, 3000, 4000, 5000};
    double v1[] = {1.0, 1.0, 2.0, 3.0, 3.0};
    expect_bytes(t1, v1, 5, xor_only, CHUNK_ENC_XOR, "0005d00f3ff0000000000000e8073097ffdb0180");
    const int64_t T0 = 1700000000000;
    int64_t t2[] = {T0, T0 + 15000, T0 + 30000, T0 + 45001, T0 + 60000};
    double v2[] = {0.5, 0.75, 0.75, 1.5, 1.25};
    expect_bytes(t2, v2, 5, xor_only, CHUNK_ENC_XOR, "000580a0abfef9623fe00000000000009875d80c8001d60efffb6058");
    int64_t t3[] = {T0, T0 + 15000, T0 + 30000, T0 + 45000};
    double v3[] = {1, 1, 1, 1};
    expect_bytes(t3, v3, 4, dense_only, CHUNK_ENC_DENSE, "00000480a0abfef96298750002");
    int64_t t4[8];
    double v4[8];
    static const int64_t m4[] = {1234500, 1234650, 1234790, 1234950, 1235100, 1235240, 1235400, 1235555};
    for (int i = 0; i < 8; i++) {
        t4[i] = T0 + i * 15000;
        v4[i] = (double)m4[i] / 100;
    }
    expect_bytes(t4, v4, 8, 0, CHUNK_ENC_DENSE, "21020880a0abfef962987580089580" "04ac0288d99601" "051800000438" "90");
    int64_t t5[] = {T0, T0 + 15002, T0 + 29999, T0 + 45000, T0 + 60001};
    double v5[] = {4096, 8192, 8192, 12288, stale_nan()};
    expect_bytes(t5, v5, 5, dense_only, CHUNK_ENC_DENSE,
                 "38000580a0abfef9629975" "80089d00" "820090" "ff1f" "00" "01047ff0000000000002" "05108b94012a" "0ca0");
}
END_TEST

/* ---- names, counts, argument errors ---------------------------------------------- */

START_TEST(test_chunk_names_counts_and_bad_arguments) {
    ck_assert_str_eq(chunk_enc_name(CHUNK_ENC_XOR), "XOR");
    ck_assert_str_eq(chunk_enc_name(CHUNK_ENC_DENSE), "DENSE");
    ck_assert_str_eq(chunk_enc_name(CHUNK_ENC_NONE), "none");
    ck_assert_str_eq(chunk_enc_name(99), "unknown");
    ck_assert_int_eq(chunk_num_samples(99, (const uint8_t *)"\0\1", 2), FLINT_ECORRUPT);
    ck_assert_int_eq(chunk_num_samples(CHUNK_ENC_XOR, (const uint8_t *)"\0", 1), FLINT_ECORRUPT);
    chunk_iter it;
    chunk_iter_init(&it, 0, (const uint8_t *)"\0\0", 2);
    ck_assert(!chunk_iter_next(&it));
    ck_assert(!chunk_iter_seek(&it, 0));
    ck_assert_int_eq(chunk_iter_err(&it), FLINT_ECORRUPT);
    /* an empty XOR chunk iterates to nothing */
    chunk_iter_init(&it, CHUNK_ENC_XOR, (const uint8_t *)"\0\0", 2);
    ck_assert(!chunk_iter_next(&it));
    ck_assert_int_eq(chunk_iter_err(&it), 0);
    int64_t ts[10], dt[10];
    double vs[10], dv[10];
    for (int i = 0; i < 10; i++) {
        ts[i] = i;
        vs[i] = i;
    }
    for (int e = CHUNK_ENC_XOR; e <= CHUNK_ENC_DENSE; e++) {
        fl_buf out = {0};
        int enc;
        ck_assert_int_eq(chunk_encode(ts, vs, 10, 1u << e, &out, &enc), 0);
        ck_assert_int_eq(chunk_num_samples(enc, out.data, out.len), 10);
        ck_assert_int_eq(chunk_decode_all(enc, out.data, out.len, dt, dv, 9), FLINT_ERANGE);
        ck_assert_int_eq(chunk_decode_all(enc, out.data, out.len, dt, dv, 10), 10);
        fl_buf_free(&out);
    }
}
END_TEST

/* ---- corruption ------------------------------------------------------------------- */

/* Decode a damaged chunk: never a crash or an out-of-bounds read (the bytes
 * sit in an exactly-sized heap block for ASan); either FLINT_ECORRUPT or a
 * complete decode with strictly increasing timestamps. */
static int decode_damaged(int enc, const uint8_t *src, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, src, len);
    int64_t ts[2048];
    double vs[2048];
    int n = chunk_decode_all(enc, copy, len, ts, vs, 2048);
    EXPECT(n >= 0 || n == FLINT_ECORRUPT || n == FLINT_ERANGE, "decode_all returned %d", n);
    for (int i = 1; i < n; i++) EXPECT(ts[i] > ts[i - 1], "decoded timestamps not increasing at %d", i);
    chunk_iter it;
    chunk_iter_init(&it, enc, copy, len);
    int k = 0;
    int64_t last = INT64_MIN;
    while (chunk_iter_next(&it)) {
        EXPECT(k == 0 || it.t > last, "iterated timestamps not increasing at %d", k);
        last = it.t;
        k++;
    }
    int err = chunk_iter_err(&it);
    EXPECT(err == 0 || err == FLINT_ECORRUPT, "iterator error %d", err);
    EXPECT(!(err == 0 && n >= 0) || k == n, "iterator gave %d samples, decode_all %d", k, n);
    EXPECT(n < 0 || err == 0, "decode_all succeeded, iterator failed with %d", err);
    free(copy);
    return err ? err : n;
}

static void damage_everywhere(int enc, const uint8_t *data, size_t len, int n) {
    for (size_t cut = 0; cut < len; cut++) {
        int rc = decode_damaged(enc, data, cut);
        EXPECT(rc == FLINT_ECORRUPT, "%s truncated to %zu of %zu bytes: %d", chunk_enc_name(enc), cut, len, rc);
    }
    ck_assert_int_eq(decode_damaged(enc, data, len), n);
    uint8_t *copy = malloc(len);
    static const uint8_t masks[] = {0x01, 0x10, 0x80, 0xff};
    for (size_t off = 0; off < len; off++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, data, len);
            copy[off] ^= masks[m];
            decode_damaged(enc, copy, len);
        }
    /* trailing garbage */
    uint8_t *longer = malloc(len + 9);
    memcpy(longer, data, len);
    memset(longer + len, 0xa5, 9);
    decode_damaged(enc, longer, len + 9);
    free(longer);
    free(copy);
}

START_TEST(test_chunk_corrupt_bytes_at_every_offset) {
    enum { N = 150 };
    int64_t ts[N];
    double vs[N];
    tu_rng r = {11};
    for (int variant = 0; variant < 7; variant++) {
        for (int i = 0; i < N; i++) {
            ts[i] = 1700000000000 + i * 15000;
            if (variant == 1) ts[i] += (int64_t)(tu_next(&r) % 9); /* irregular */
            switch (variant) {
            case 0: case 1: vs[i] = (double)(1000 + i * 37 + (int64_t)(tu_next(&r) % 50)) / 100; break;
            case 2: vs[i] = i % 10 == 3 ? stale_nan() : (double)(i % 7); break; /* exceptions */
            case 3: vs[i] = 7; break;                                           /* constant */
            case 4: vs[i] = (double)(i * i * 3 + (int64_t)(tu_next(&r) % 4)); break; /* order 2 */
            case 5: vs[i] = (double)(tu_next(&r) % 1000); break;                     /* order 0 */
            default: vs[i] = tu_unif(&r); break;                                     /* XOR fallback */
            }
        }
        for (int e = CHUNK_ENC_XOR; e <= CHUNK_ENC_DENSE; e++) {
            fl_buf out = {0};
            int enc;
            int rc = chunk_encode(ts, vs, N, 1u << e, &out, &enc);
            if (rc == FLINT_ERANGE) continue; /* dense refuses the random floats */
            ck_assert_int_eq(rc, 0);
            damage_everywhere(enc, out.data, out.len, N);
            fl_buf_free(&out);
        }
    }
    /* the iterator may start on garbage too */
    tu_rng g = {3};
    uint8_t junk[64];
    for (int trial = 0; trial < 2000; trial++) {
        size_t len = tu_next(&g) % sizeof junk;
        for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)tu_next(&g);
        if (len > 0 && trial % 2) junk[0] &= 0x7f; /* plausible dense flags */
        if (len > 1 && trial % 4 == 1) junk[1] %= 23;
        decode_damaged(CHUNK_ENC_XOR, junk, len);
        decode_damaged(CHUNK_ENC_DENSE, junk, len);
    }
}
END_TEST

/* Chunks of 64 symbols or more code them with two interleaved rANS states
 * (flag 0x40); chunks written before that, with one state, still decode.
 * The bytes below are what the one-state encoder wrote for this series. */
static void lanes_series(int64_t *ts, double *vs, int n) {
    int64_t m = 123456789;
    uint64_t r = 7;
    for (int i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        ts[i] = 1700000000000 + i * 15000 + (i % 5 == 3 ? (int64_t)(r >> 60) : 0);
        m += 100 + (int64_t)((r >> 33) % 101);
        vs[i] = (double)m / 100;
    }
}

START_TEST(test_chunk_dense_two_lanes_and_one_lane_chunks) {
    static const uint8_t one_lane[] = {
        0x29, 0x02, 0x50, 0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, 0x98, 0x75, 0x80, 0x11, 0x05, 0x24, 0x90,
        0x80, 0x19, 0x15, 0x5a, 0x38, 0x00, 0xaa, 0x02, 0xae, 0xb7, 0xde, 0x75, 0x29, 0x70, 0x85, 0x90,
        0x1f, 0x6c, 0x86, 0x2f, 0xdc, 0x8e, 0xe5, 0xef, 0x89, 0x3a, 0x5b, 0xeb, 0x55, 0x6c, 0xda, 0xe1,
        0x40, 0x5a, 0xee, 0x07, 0x2e, 0x14, 0xad, 0xb3, 0x3b, 0x97, 0x29, 0xcd, 0x21, 0x5e, 0xad, 0x27,
        0x18, 0xc5, 0x25, 0x0c, 0x43, 0x01, 0x68, 0x8e, 0x69, 0xe2, 0x46, 0xe8, 0x69, 0xea, 0x0f, 0xd1,
        0x87, 0x5f, 0xfc, 0xc2, 0x74, 0x0b, 0x2d, 0x25, 0xcc, 0xfc, 0x2b, 0x99, 0x05, 0x0e, 0x04, 0xe0,
        0x74, 0xb2, 0x43, 0x06, 0x25, 0x40, 0x8f, 0xee, 0x79, 0x90, 0x0b, 0xcd, 0xb4, 0x8b, 0x37, 0x18,
        0x0d, 0x14, 0x50, 0xb4, 0xae, 0xf5, 0x6e, 0x6d, 0xa9, 0x38, 0x4b, 0x88, 0x02, 0xb0, 0x23, 0x2d,
        0x78};
    enum { N = 80 };
    int64_t ts[N];
    double vs[N];
    lanes_series(ts, vs, N);
    ck_assert_uint_eq(one_lane[0] & 0x40, 0);
    expect_decodes_to(CHUNK_ENC_DENSE, one_lane, sizeof one_lane, ts, vs, N);

    /* today's encoder: 158 symbols, two lanes, 4 more bytes for the second state */
    fl_buf out = {0};
    int enc;
    ck_assert_int_eq(chunk_encode(ts, vs, N, 1u << CHUNK_ENC_DENSE, &out, &enc), 0);
    ck_assert_uint_eq(out.data[0], one_lane[0] | 0x40);
    ck_assert_uint_eq(out.len, sizeof one_lane + 4);
    expect_decodes_to(CHUNK_ENC_DENSE, out.data, out.len, ts, vs, N);
    /* the flag names the stream layout: cleared, the same bytes are corrupt */
    out.data[0] &= (uint8_t)~0x40;
    ck_assert_int_eq(decode_damaged(CHUNK_ENC_DENSE, out.data, out.len), FLINT_ECORRUPT);
    fl_buf_free(&out);

    /* below 64 symbols one state: 63 value symbols (order 1, regular) */
    for (int i = 0; i < N; i++) ts[i] = 1700000000000 + i * 15000;
    for (int n = 63; n <= 66; n++) {
        ck_assert_int_eq(chunk_encode(ts, vs, (size_t)n, 1u << CHUNK_ENC_DENSE, &out, &enc), 0);
        ck_assert_uint_eq(out.data[0] & 0x03, 1);
        ck_assert_uint_eq(!!(out.data[0] & 0x40), n - 1 >= 64);
        expect_decodes_to(CHUNK_ENC_DENSE, out.data, out.len, ts, vs, (size_t)n);
        fl_buf_free(&out);
    }
    /* the lanes flag without a rANS stream is corrupt */
    uint8_t copy[sizeof one_lane];
    memcpy(copy, one_lane, sizeof copy);
    copy[0] = (uint8_t)((copy[0] & ~0x20) | 0x40);
    ck_assert_int_eq(decode_damaged(CHUNK_ENC_DENSE, copy, sizeof copy), FLINT_ECORRUPT);
}
END_TEST

/* chunk_values_finite: only a dense chunk without exceptions is known to
 * hold no NaN, stale marker or infinity without decoding it. */
START_TEST(test_chunk_values_finite) {
    enum { N = 100 };
    int64_t ts[N];
    double vs[N];
    for (int i = 0; i < N; i++) ts[i] = 1700000000000 + i * 15000, vs[i] = i * 0.5;
    fl_buf out = {0};
    int enc;
    ck_assert_int_eq(chunk_encode(ts, vs, N, 1u << CHUNK_ENC_DENSE, &out, &enc), 0);
    ck_assert(chunk_values_finite(enc, out.data, out.len));
    ck_assert(!chunk_values_finite(enc, out.data, 1)); /* truncated header */
    fl_buf_free(&out);
    ck_assert_int_eq(chunk_encode(ts, vs, N, 1u << CHUNK_ENC_XOR, &out, &enc), 0);
    ck_assert(!chunk_values_finite(enc, out.data, out.len));
    fl_buf_free(&out);
    static const double odd[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 4; k++) {
        vs[40] = k < 3 ? odd[k] : stale_nan();
        ck_assert_int_eq(chunk_encode(ts, vs, N, 1u << CHUNK_ENC_DENSE, &out, &enc), 0);
        ck_assert_int_eq(enc, CHUNK_ENC_DENSE);
        ck_assert(!chunk_values_finite(enc, out.data, out.len));
        fl_buf_free(&out);
    }
}
END_TEST

/* ---- out of memory ------------------------------------------------------------------ */

static void encode_under_oom(const int64_t *ts, const double *vs, size_t n, unsigned allowed) {
    int succeeded = 0;
    for (long fail_at = 0; fail_at < 50 && !succeeded; fail_at++) {
        fl_buf out = {0};
        ck_assert_int_eq(fl_buf_put(&out, "prefix", 6), 0);
        int enc = -1;
        fl_fault_fail_after(fail_at);
        int rc = chunk_encode(ts, vs, n, allowed, &out, &enc);
        long failures = fl_fault_failures();
        fl_fault_reset();
        if (rc == FLINT_ENOMEM) {
            ck_assert_int_gt(failures, 0);
            ck_assert_uint_eq(out.len, 6);
            ck_assert(memcmp(out.data, "prefix", 6) == 0);
            ck_assert_int_eq(enc, -1);
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(failures, 0);
            ck_assert(memcmp(out.data, "prefix", 6) == 0);
            expect_decodes_to(enc, out.data + 6, out.len - 6, ts, vs, n);
            succeeded = 1;
        }
        fl_buf_free(&out);
    }
    ck_assert(succeeded);
}

START_TEST(test_chunk_encode_oom_every_allocation) {
    enum { N = 700 };
    int64_t ts[N];
    double vs[N];
    tu_rng r = {21};
    for (int i = 0; i < N; i++) {
        ts[i] = 1000 + i * 15 + (int64_t)(tu_next(&r) % 2);
        vs[i] = (double)(i * 4096);
    }
    encode_under_oom(ts, vs, N, 0);                     /* dense */
    encode_under_oom(ts, vs, N, 1u << CHUNK_ENC_XOR);   /* XOR only */
    vs[300] = 0.123456789;                              /* dense tried twice */
    encode_under_oom(ts, vs, N, 0);
    for (int i = 0; i < N; i++) vs[i] = tu_unif(&r);    /* dense refuses, XOR */
    encode_under_oom(ts, vs, N, 0);
    for (int i = 0; i < N; i++) vs[i] = 1;              /* dense, then XOR tried */
    encode_under_oom(ts, vs, 1, 0);

    /* the appender: a failed growth leaves the chunk as it was */
    xor_appender a;
    xor_app_init(&a);
    for (int i = 0; i < N; i++) {
        fl_fault_fail_after(0);
        int rc = xor_app_append(&a, ts[i], vs[i]);
        fl_fault_reset();
        if (rc == FLINT_ENOMEM) {
            size_t len;
            const uint8_t *b = xor_app_bytes(&a, &len);
            expect_decodes_to(CHUNK_ENC_XOR, b, len, ts, vs, (size_t)i);
            ck_assert_int_eq(xor_app_append(&a, ts[i], vs[i]), 0);
        } else {
            ck_assert_int_eq(rc, 0);
        }
    }
    size_t len;
    const uint8_t *b = xor_app_bytes(&a, &len);
    expect_decodes_to(CHUNK_ENC_XOR, b, len, ts, vs, N);
    xor_app_free(&a);
}
END_TEST

Suite *chunk_suite(void) {
    Suite *s = suite_create("chunk");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_chunk_xor_matches_prometheus_bytes);
    tcase_add_test(tc, test_chunk_xor_dod_bucket_edges);
    tcase_add_test(tc, test_chunk_xor_value_window_cases);
    tcase_add_test(tc, test_chunk_special_values_bitexact);
    tcase_add_test(tc, test_chunk_timestamps_across_int64_range);
    tcase_add_test(tc, test_chunk_rejects_non_increasing);
    tcase_add_test(tc, test_chunk_sample_count_limits);
    tcase_add_test(tc, test_chunk_appender_grows_in_small_steps);
    tcase_add_test(tc, test_chunk_seek_semantics);
    tcase_add_test(tc, test_chunk_dense_shapes_roundtrip);
    tcase_add_test(tc, test_chunk_dense_is_compact);
    tcase_add_test(tc, test_chunk_dense_refusal_falls_back_to_xor);
    tcase_add_test(tc, test_chunk_dense_odd_decimal_becomes_exception);
    tcase_add_test(tc, test_chunk_dense_exceptions_anywhere);
    tcase_add_test(tc, test_chunk_doc_examples_bytes);
    tcase_add_test(tc, test_chunk_names_counts_and_bad_arguments);
    tcase_add_test(tc, test_chunk_corrupt_bytes_at_every_offset);
    tcase_add_test(tc, test_chunk_dense_two_lanes_and_one_lane_chunks);
    tcase_add_test(tc, test_chunk_values_finite);
    tcase_add_test(tc, test_chunk_encode_oom_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}
