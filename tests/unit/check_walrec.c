/*
 * check_walrec.c - WAL record contents, replay and checkpoints
 * (tsdb/walrec.c): exact bytes, round trips at the edges (refs, times,
 * NaN payloads, long strings), decoders on every truncation and flipped
 * byte, replay cutting torn/corrupt tails at every byte of the last record,
 * checkpoints (what they keep, crash safety with injected write/fsync
 * faults and interrupted publishes), and OOM on every allocation.
 * Label strings are compared directly (no labels_* calls).
 */
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "storage/wal.h"
#include "tests/unit/testutil.h"
#include "tests/unit/waltest.h"
#include "tsdb/walrec.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- test series --------------------------------------------------------------- */

/* Series `ref`: {__name__="metric_<ref%7>", instance="host-<ref>", job="node"}. */
typedef struct test_series {
    char name[32], inst[32];
    label l[3];
    walrec_series s;
} test_series;

static void make_series(test_series *ts, uint64_t ref) {
    snprintf(ts->name, sizeof ts->name, "metric_%u", (unsigned)(ref % 7));
    snprintf(ts->inst, sizeof ts->inst, "host-%llu", (unsigned long long)ref);
    ts->l[0] = (label){"__name__", ts->name};
    ts->l[1] = (label){"instance", ts->inst};
    ts->l[2] = (label){"job", "node"};
    ts->s.ref = ref;
    ts->s.lset = (labels){ts->l, 3};
}

/* "name=value;..." for comparisons */
static void series_text(const walrec_series *s, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < s->lset.n; i++) {
        int w = snprintf(buf + n, cap - n, "%s=%s;", s->lset.v[i].name, s->lset.v[i].value);
        ck_assert(w >= 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
}

static double sample_value(uint64_t ref, int64_t t) { return (double)ref * 1000.0 + (double)t / 1000.0; }

/* ---- a model of the log: what replay must return ---------------------------------- */

typedef struct model_entry {
    bool is_series;
    int seg;
    uint64_t ref;
    int64_t t;
    double v;
} model_entry;

typedef struct model {
    model_entry *e;
    size_t n, cap;
} model;

static void model_add(model *m, bool is_series, int seg, uint64_t ref, int64_t t, double v) {
    ck_assert_int_eq(fl_grow((void **)&m->e, &m->cap, m->n + 1, sizeof *m->e), 0);
    m->e[m->n++] = (model_entry){is_series, seg, ref, t, v};
}

typedef struct keep_ctx {
    uint64_t modulus; /* keep refs divisible by this */
    long calls;
} keep_ctx;

static bool keep_mod(uint64_t ref, void *ctx) {
    keep_ctx *k = ctx;
    k->calls++;
    return ref % k->modulus == 0;
}

/* What a checkpoint of segments <= last_seg leaves. */
static void model_checkpoint(model *m, int last_seg, uint64_t modulus, int64_t min_time) {
    size_t keep = 0;
    for (size_t i = 0; i < m->n; i++) {
        model_entry *x = &m->e[i];
        bool old = x->seg <= last_seg;
        if (old && x->ref % modulus != 0) continue;
        if (old && !x->is_series && x->t < min_time) continue;
        m->e[keep++] = *x;
    }
    m->n = keep;
}

/* Log a SERIES record for refs [from, to) and `rounds` SAMPLES records for
 * refs [1, to) at t0, t0+15000, ... */
static void log_batch(wal *w, model *m, uint64_t from, uint64_t to, int64_t t0, int rounds) {
    fl_buf b = {0};
    int seg = wal_current_segment(w);
    if (to > from) {
        size_t n = (size_t)(to - from);
        test_series *ts = fl_malloc(n * sizeof *ts);
        walrec_series *s = fl_malloc(n * sizeof *s);
        for (size_t i = 0; i < n; i++) {
            make_series(&ts[i], from + i);
            s[i] = ts[i].s;
            if (m) model_add(m, true, seg, from + i, 0, 0);
        }
        ck_assert_int_eq(walrec_encode_series(&b, s, n), 0);
        ck_assert_int_eq(wal_log(w, b.data, b.len), 0);
        fl_free(ts);
        fl_free(s);
    }
    walrec_sample *smp = fl_malloc((size_t)to * sizeof *smp);
    for (int r = 0; r < rounds; r++) {
        size_t n = 0;
        int64_t t = t0 + r * 15000;
        for (uint64_t ref = 1; ref < to; ref++) {
            smp[n++] = (walrec_sample){ref, t, sample_value(ref, t)};
            if (m) model_add(m, false, seg, ref, t, sample_value(ref, t));
        }
        fl_buf_reset(&b);
        ck_assert_int_eq(walrec_encode_samples(&b, smp, n), 0);
        ck_assert_int_eq(wal_log(w, b.data, b.len), 0);
    }
    fl_free(smp);
    fl_buf_free(&b);
}

/* ---- collecting replay ------------------------------------------------------------ *
 * The collector grows with plain realloc, not fl_realloc: the OOM tests
 * fail fl_* allocations, and only the library's must fail there. */

static void grow_plain(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    ck_assert_ptr_nonnull(np);
    *p = np;
    *cap = nc;
}

typedef struct got_series {
    uint64_t ref;
    char text[160];
} got_series;

typedef struct collector {
    got_series *series;
    size_t nseries, series_cap;
    walrec_sample *samples;
    size_t nsamples, samples_cap;
    int fail_on_call;  /* on_samples returns FLINT_ELIMIT on this call (1-based); 0 never */
    int calls;
} collector;

static int on_series(void *ctx, const walrec_series *s, size_t n) {
    collector *c = ctx;
    grow_plain((void **)&c->series, &c->series_cap, c->nseries + n, sizeof *c->series);
    for (size_t i = 0; i < n; i++) {
        c->series[c->nseries].ref = s[i].ref;
        series_text(&s[i], c->series[c->nseries].text, sizeof c->series[0].text);
        c->nseries++;
    }
    return 0;
}

static int on_samples(void *ctx, const walrec_sample *s, size_t n) {
    collector *c = ctx;
    if (++c->calls == c->fail_on_call) return flint_error(FLINT_ELIMIT, "test: callback refuses");
    grow_plain((void **)&c->samples, &c->samples_cap, c->nsamples + n, sizeof *c->samples);
    memcpy(c->samples + c->nsamples, s, n * sizeof *s);
    c->nsamples += n;
    return 0;
}

static const walrec_replay_cb collect_cb = {on_series, on_samples};

static void collector_free(collector *c) {
    free(c->series);
    free(c->samples);
    memset(c, 0, sizeof *c);
}

/* Replay dir; assert it matches the model exactly. */
static void assert_replay_matches(const char *dir, const model *m, walrec_replay_stats *st_out) {
    collector c = {0};
    walrec_replay_stats st;
    ck_assert_int_eq(walrec_replay(dir, &collect_cb, &c, &st), 0);
    size_t si = 0, pi = 0;
    for (size_t i = 0; i < m->n; i++) {
        const model_entry *x = &m->e[i];
        if (x->is_series) {
            ck_assert_uint_lt(si, c.nseries);
            ck_assert_uint_eq(c.series[si].ref, x->ref);
            test_series ts;
            make_series(&ts, x->ref);
            char want[160];
            series_text(&ts.s, want, sizeof want);
            ck_assert_str_eq(c.series[si].text, want);
            si++;
        } else {
            ck_assert_uint_lt(pi, c.nsamples);
            ck_assert_uint_eq(c.samples[pi].ref, x->ref);
            ck_assert_int_eq(c.samples[pi].t, x->t);
            ck_assert(c.samples[pi].v == x->v);
            pi++;
        }
    }
    ck_assert_uint_eq(si, c.nseries);
    ck_assert_uint_eq(pi, c.nsamples);
    ck_assert_uint_eq(st.series, c.nseries);
    ck_assert_uint_eq(st.samples, c.nsamples);
    if (st_out) *st_out = st;
    collector_free(&c);
}

static void sub_dir(char *buf, size_t cap, const char *base, const char *name) { wt_path(buf, cap, base, name); }

/* ---- encoding and decoding ---------------------------------------------------------- */

START_TEST(test_walrec_known_bytes) {
    fl_buf b = {0};
    label l[2] = {{"__name__", "up"}, {"job", "a"}};
    walrec_series s = {7, {l, 2}};
    ck_assert_int_eq(walrec_encode_series(&b, &s, 1), 0);
    static const uint8_t want_series[] = {0x01, 0x01, 0x07, 0x02, 0x08, '_', '_', 'n', 'a', 'm', 'e', '_', '_',
                                          0x02, 'u',  'p',  0x03, 'j',  'o', 'b', 0x01, 'a'};
    ck_assert_uint_eq(b.len, sizeof want_series);
    ck_assert_mem_eq(b.data, want_series, sizeof want_series);
    ck_assert_int_eq(walrec_type(b.data, b.len), WALREC_SERIES);

    fl_buf_reset(&b);
    walrec_sample smp[2] = {{7, 1000, 1.0}, {8, 1015, 2.0}};
    ck_assert_int_eq(walrec_encode_samples(&b, smp, 2), 0);
    static const uint8_t want_samples[] = {0x02, 0x02, 0x07, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                                           0x02, 0x1e, 0x40, 0,    0,    0,    0,    0, 0, 0};
    ck_assert_uint_eq(b.len, sizeof want_samples);
    ck_assert_mem_eq(b.data, want_samples, sizeof want_samples);
    ck_assert_int_eq(walrec_type(b.data, b.len), WALREC_SAMPLES);

    /* encoders append */
    size_t before = b.len;
    ck_assert_int_eq(walrec_encode_samples(&b, NULL, 0), 0);
    ck_assert_uint_eq(b.len, before + 2);
    ck_assert_uint_eq(b.data[before], 0x02);
    ck_assert_uint_eq(b.data[before + 1], 0x00);

    uint8_t tomb = WALREC_TOMBSTONES, junk = 0x09;
    ck_assert_int_eq(walrec_type(&tomb, 1), WALREC_TOMBSTONES);
    ck_assert_int_eq(walrec_type(&junk, 1), FLINT_ECORRUPT);
    ck_assert_int_eq(walrec_type(&junk, 0), FLINT_ECORRUPT);
    fl_buf_free(&b);
}
END_TEST

START_TEST(test_walrec_series_roundtrip) {
    /* long strings (two-byte length varints), empty values, extreme refs, a
     * series without labels (the decoder does not validate label sets) */
    char long_value[400];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    label a[3] = {{"__name__", "http_requests_total"}, {"code", ""}, {"path", long_value}};
    label b1[1] = {{"__name__", "\xc3\xa9t\xc3\xa9"}};
    walrec_series in[4] = {{0, {a, 3}}, {UINT64_MAX, {b1, 1}}, {12345678901234ull, {NULL, 0}}, {1, {a, 2}}};
    fl_buf buf = {0};
    walrec_scratch sc = {0};
    for (size_t n = 0; n <= 4; n++) {
        fl_buf_reset(&buf);
        ck_assert_int_eq(walrec_encode_series(&buf, in, n), 0);
        const walrec_series *out;
        size_t got;
        ck_assert_int_eq(walrec_decode_series(buf.data, buf.len, &sc, &out, &got), 0);
        ck_assert_uint_eq(got, n);
        /* the output does not point into the record */
        memset(buf.data, 0xee, buf.len);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_eq(out[i].ref, in[i].ref);
            ck_assert_uint_eq(out[i].lset.n, in[i].lset.n);
            for (size_t j = 0; j < in[i].lset.n; j++) {
                ck_assert_str_eq(out[i].lset.v[j].name, in[i].lset.v[j].name);
                ck_assert_str_eq(out[i].lset.v[j].value, in[i].lset.v[j].value);
            }
        }
    }
    /* a samples record is not a series record, and the other way round */
    fl_buf_reset(&buf);
    ck_assert_int_eq(walrec_encode_series(&buf, in, 2), 0);
    const walrec_sample *smp;
    size_t n;
    ck_assert_int_eq(walrec_decode_samples(buf.data, buf.len, &sc, &smp, &n), FLINT_ECORRUPT);
    walrec_scratch_free(&sc);
    walrec_scratch_free(&sc);
    fl_buf_free(&buf);
}
END_TEST

static uint64_t f64_bits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}
static double bits_f64(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

START_TEST(test_walrec_samples_roundtrip_edges) {
    const double stale = bits_f64(0x7ff0000000000002ull);
    walrec_sample in[] = {
        {1000, 1700000000000, 1.5},
        {999, 1700000000015, -0.0},
        {0, INT64_MIN, NAN},
        {UINT64_MAX, INT64_MAX, stale},
        {1000, -1, INFINITY},
        {1, 0, -INFINITY},
        {UINT64_MAX - 1, INT64_MIN + 1, 4.9e-324},
        {5, 1700000000000, 1.7976931348623157e308},
    };
    size_t total = sizeof in / sizeof in[0];
    fl_buf buf = {0};
    walrec_scratch sc = {0};
    /* every start element exercises the deltas against a different base */
    for (size_t start = 0; start < total; start++) {
        fl_buf_reset(&buf);
        ck_assert_int_eq(walrec_encode_samples(&buf, in + start, total - start), 0);
        const walrec_sample *out;
        size_t n;
        ck_assert_int_eq(walrec_decode_samples(buf.data, buf.len, &sc, &out, &n), 0);
        ck_assert_uint_eq(n, total - start);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_eq(out[i].ref, in[start + i].ref);
            ck_assert_int_eq(out[i].t, in[start + i].t);
            ck_assert_uint_eq(f64_bits(out[i].v), f64_bits(in[start + i].v));
        }
    }
    /* 1,000 typical samples cost about 10 bytes each before LZ4 */
    walrec_sample *many = fl_malloc(1000 * sizeof *many);
    for (size_t i = 0; i < 1000; i++) many[i] = (walrec_sample){100 + i, 1700000000000 + (int64_t)(i % 3), (double)i};
    fl_buf_reset(&buf);
    ck_assert_int_eq(walrec_encode_samples(&buf, many, 1000), 0);
    ck_assert_uint_lt(buf.len, 1000 * 12);
    fl_free(many);
    walrec_scratch_free(&sc);
    fl_buf_free(&buf);
}
END_TEST

/* Decode rec as whatever type it claims; returns the decoder's result. */
static int decode_any(const uint8_t *rec, size_t len, walrec_scratch *sc) {
    const walrec_series *s;
    const walrec_sample *p;
    size_t n;
    int type = walrec_type(rec, len);
    if (type == WALREC_SERIES) return walrec_decode_series(rec, len, sc, &s, &n);
    if (type == WALREC_SAMPLES) return walrec_decode_samples(rec, len, sc, &p, &n);
    return type < 0 ? type : 0;
}

START_TEST(test_walrec_decoders_reject_truncated_and_damaged) {
    fl_buf series = {0}, samples = {0};
    label a[2] = {{"__name__", "up"}, {"instance", "localhost:9100"}};
    walrec_series s[2] = {{1, {a, 2}}, {300, {a, 1}}};
    ck_assert_int_eq(walrec_encode_series(&series, s, 2), 0);
    walrec_sample p[3] = {{1, 1000, 1}, {300, 900, 2}, {2, 5000000, 3}};
    ck_assert_int_eq(walrec_encode_samples(&samples, p, 3), 0);
    walrec_scratch sc = {0};
    fl_buf *recs[2] = {&series, &samples};
    for (int k = 0; k < 2; k++) {
        fl_buf *r = recs[k];
        ck_assert_int_eq(decode_any(r->data, r->len, &sc), 0);
        /* every proper prefix is corrupt */
        for (size_t len = 0; len < r->len; len++) {
            uint8_t *copy = fl_malloc(len ? len : 1); /* exact size: ASan sees any overread */
            memcpy(copy, r->data, len);
            ck_assert_int_eq(decode_any(copy, len, &sc), FLINT_ECORRUPT);
            ck_assert_ptr_nonnull(strstr(flint_errmsg(), "offset"));
            fl_free(copy);
        }
        /* a trailing byte is corrupt */
        uint8_t *longer = fl_malloc(r->len + 1);
        memcpy(longer, r->data, r->len);
        longer[r->len] = 0;
        ck_assert_int_eq(decode_any(longer, r->len + 1, &sc), FLINT_ECORRUPT);
        fl_free(longer);
        /* any damaged byte: an error or a decode, never a crash */
        for (size_t off = 0; off < r->len; off++) {
            static const uint8_t masks[] = {0x01, 0x80, 0xff};
            for (size_t m = 0; m < sizeof masks; m++) {
                uint8_t *copy = fl_malloc(r->len);
                memcpy(copy, r->data, r->len);
                copy[off] ^= masks[m];
                int rc = decode_any(copy, r->len, &sc);
                ck_assert(rc == 0 || rc == FLINT_ECORRUPT);
                fl_free(copy);
            }
        }
    }
    walrec_scratch_free(&sc);
    fl_buf_free(&series);
    fl_buf_free(&samples);
}
END_TEST

START_TEST(test_walrec_decoders_bound_counts_before_allocating) {
    /* counts and lengths far beyond the record: corrupt, and nothing is
     * allocated for them (an allocation would fail here and give ENOMEM) */
    static const uint8_t huge_series[] = {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    static const uint8_t huge_samples[] = {0x02, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const uint8_t huge_labels[] = {0x01, 0x01, 0x05, 0xff, 0xff, 0x03, 0x00};
    static const uint8_t huge_string[] = {0x01, 0x01, 0x05, 0x01, 0xff, 0xff, 0x03, 'a', 'b'};
    static const uint8_t nul_string[] = {0x01, 0x01, 0x05, 0x01, 0x02, 'a', 0, 0x01, 'b'};
    static const uint8_t overlong_varint[] = {0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff,
                                              0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {{huge_series, sizeof huge_series},   {huge_samples, sizeof huge_samples},
                 {huge_labels, sizeof huge_labels},   {huge_string, sizeof huge_string},
                 {nul_string, sizeof nul_string},     {overlong_varint, sizeof overlong_varint}};
    walrec_scratch sc = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_fault_fail_after(0);
        int rc = decode_any(cases[i].p, cases[i].n, &sc);
        fl_fault_reset();
        ck_assert_msg(rc == FLINT_ECORRUPT, "case %zu: %d", i, rc);
    }
    walrec_scratch_free(&sc);
}
END_TEST

START_TEST(test_walrec_oom_encode_decode) {
    test_series ts[50];
    walrec_series s[50];
    walrec_sample p[300];
    for (int i = 0; i < 50; i++) {
        make_series(&ts[i], (uint64_t)i * 3);
        s[i] = ts[i].s;
    }
    for (int i = 0; i < 300; i++) p[i] = (walrec_sample){(uint64_t)i % 50, 1000 + i, i * 0.5};
    fl_buf ref_series = {0}, ref_samples = {0};
    ck_assert_int_eq(walrec_encode_series(&ref_series, s, 50), 0);
    ck_assert_int_eq(walrec_encode_samples(&ref_samples, p, 300), 0);

    int phases_done = 0;
    for (int phase = 0; phase < 4; phase++) {
        for (long n = 0; n < 100; n++) {
            fl_buf b = {0};
            ck_assert_int_eq(fl_buf_put(&b, "pre", 3), 0); /* encoders append after this */
            walrec_scratch sc = {0};
            const walrec_series *os;
            const walrec_sample *op;
            size_t cnt;
            fl_fault_fail_after(n);
            int rc;
            switch (phase) {
            case 0: rc = walrec_encode_series(&b, s, 50); break;
            case 1: rc = walrec_encode_samples(&b, p, 300); break;
            case 2: rc = walrec_decode_series(ref_series.data, ref_series.len, &sc, &os, &cnt); break;
            default: rc = walrec_decode_samples(ref_samples.data, ref_samples.len, &sc, &op, &cnt); break;
            }
            long failures = fl_fault_failures();
            fl_fault_reset();
            if (failures) {
                ck_assert_int_eq(rc, FLINT_ENOMEM);
                ck_assert_uint_eq(b.len, 3); /* the buffer is as it was */
                /* the scratch is still usable */
                if (phase == 2) ck_assert_int_eq(walrec_decode_series(ref_series.data, ref_series.len, &sc, &os, &cnt), 0);
                if (phase == 3) ck_assert_int_eq(walrec_decode_samples(ref_samples.data, ref_samples.len, &sc, &op, &cnt), 0);
            } else {
                ck_assert_int_eq(rc, 0);
                if (phase == 0) ck_assert_mem_eq(b.data + 3, ref_series.data, ref_series.len);
                if (phase == 1) ck_assert_mem_eq(b.data + 3, ref_samples.data, ref_samples.len);
                if (phase >= 2) ck_assert_uint_eq(cnt, phase == 2 ? 50 : 300);
            }
            fl_buf_free(&b);
            walrec_scratch_free(&sc);
            if (!failures) {
                phases_done++;
                break;
            }
        }
    }
    ck_assert_int_eq(phases_done, 4);
    fl_buf_free(&ref_series);
    fl_buf_free(&ref_samples);
}
END_TEST

/* ---- replay ------------------------------------------------------------------------ */

START_TEST(test_walrec_replay_roundtrip) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    model m = {0};
    wal_options opt = {.segment_size = 8192, .compress = true};
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    log_batch(w, &m, 1, 200, 1000, 5);
    log_batch(w, &m, 200, 300, 100000, 5);
    int last = wal_current_segment(w);
    wal_close(w);
    ck_assert_int_gt(last, 2);
    walrec_replay_stats st;
    assert_replay_matches(dir, &m, &st);
    ck_assert_int_eq(st.checkpoint_seg, -1);
    ck_assert_int_eq(st.last_seg, last);
    ck_assert_int_eq(st.bytes_dropped, 0);
    ck_assert_uint_eq(st.records, 12);

    /* a missing directory is an empty log; NULL stats and callbacks are fine */
    char none[PATH_MAX];
    sub_dir(none, sizeof none, base, "none");
    ck_assert_int_eq(walrec_replay(none, &collect_cb, NULL, &st), 0);
    ck_assert_uint_eq(st.records, 0);
    ck_assert_int_eq(walrec_replay(dir, NULL, NULL, NULL), 0);
    fl_free(m.e);
    tu_tmpdir_cleanup();
}
END_TEST

/* Damage the last record every way; replay returns the records before it,
 * cuts the log there, and a reopened log appends after the cut. */
START_TEST(test_wal_replay_torn_tail_every_offset) {
    const char *base = tu_tmpdir();
    char src[PATH_MAX], work[PATH_MAX], seg_file[PATH_MAX];
    sub_dir(src, sizeof src, base, "src");
    sub_dir(work, sizeof work, base, "work");
    for (int compress = 0; compress <= 1; compress++) {
        ck_assert_int_eq(fio_rm_rf(src), 0);
        model m = {0};
        wal_options opt = {.segment_size = 4096, .compress = compress};
        wal *w;
        ck_assert_int_eq(wal_open(src, &opt, &w), 0);
        log_batch(w, &m, 1, 20, 1000, 3);
        size_t keep = m.n;
        log_batch(w, &m, 20, 20, 100000, 1); /* the last record: 19 samples */
        wal_close(w);
        m.n = keep;

        wal_reader *r;
        ck_assert_int_eq(wal_reader_open(src, 0, -1, &r), 0);
        const uint8_t *rec;
        size_t len;
        int seg = -1;
        int64_t start = 0, end;
        while (wal_reader_next(r, &rec, &len)) wal_reader_record_pos(r, &seg, &start);
        wal_reader_pos(r, &seg, &end);
        wal_reader_free(r);
        wt_seg_path(seg_file, sizeof seg_file, work, seg);

        model after = {0};
        for (int mode = 0; mode < 2; mode++) {
            for (int64_t pos = start; pos < end; pos++) {
                if (mode == 0 && pos == start) continue; /* nothing torn */
                wt_recopy(src, work);
                if (mode == 0) tu_file_truncate(seg_file, (size_t)pos);
                else tu_file_poke(seg_file, (size_t)pos, (uint8_t)(1u << (pos % 8)));
                walrec_replay_stats st;
                assert_replay_matches(work, &m, &st);
                ck_assert_int_eq(st.bytes_dropped, mode == 0 ? pos - start : end - start);
                ck_assert_uint_eq(tu_file_size(seg_file), (size_t)start);
                /* append after the cut: old good records + new ones */
                after.n = 0;
                for (size_t i = 0; i < m.n; i++) model_add(&after, m.e[i].is_series, 0, m.e[i].ref, m.e[i].t, m.e[i].v);
                ck_assert_int_eq(wal_open(work, &opt, &w), 0);
                log_batch(w, &after, 20, 22, 200000, 1);
                wal_close(w);
                assert_replay_matches(work, &after, &st);
                ck_assert_int_eq(st.bytes_dropped, 0);
            }
        }
        fl_free(after.e);
        fl_free(m.e);
    }
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_walrec_replay_cuts_at_undecodable_record) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    /* records with good frames whose contents are not a valid record:
     * an unknown type, and a samples record with a missing value */
    static const uint8_t bad_type[] = {0x09, 0x00};
    static const uint8_t bad_samples[] = {0x02, 0x01, 0x05, 0x02, 0x3f};
    const uint8_t *bad[] = {bad_type, bad_samples};
    size_t bad_len[] = {sizeof bad_type, sizeof bad_samples};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(fio_rm_rf(dir), 0);
        model m = {0};
        wal *w;
        ck_assert_int_eq(wal_open(dir, NULL, &w), 0);
        log_batch(w, &m, 1, 10, 1000, 2);
        uint8_t tomb[] = {WALREC_TOMBSTONES, 0x00}; /* reserved: skipped */
        ck_assert_int_eq(wal_log(w, tomb, sizeof tomb), 0);
        ck_assert_int_eq(wal_cut(w), 1);
        log_batch(w, &m, 10, 12, 5000, 1);
        int64_t cut_at = (int64_t)wal_bytes_written(w);
        ck_assert_int_eq(wal_log(w, bad[k], bad_len[k]), 0);
        log_batch(w, NULL, 12, 20, 9000, 2); /* lost: after the bad record */
        ck_assert_int_eq(wal_cut(w), 2);
        log_batch(w, NULL, 20, 30, 9000, 2); /* lost: a later segment */
        wal_close(w);
        walrec_replay_stats st;
        assert_replay_matches(dir, &m, &st);
        ck_assert_int_gt(st.bytes_dropped, 0);
        int first, last;
        ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
        ck_assert_int_eq(last, 1);
        char p[PATH_MAX];
        wt_seg_path(p, sizeof p, dir, 0);
        int64_t seg0 = (int64_t)tu_file_size(p);
        wt_seg_path(p, sizeof p, dir, 1);
        ck_assert_int_eq((int64_t)tu_file_size(p), cut_at - seg0);
        fl_free(m.e);
    }
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_walrec_replay_errors_propagate_without_cutting) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal *w;
    ck_assert_int_eq(wal_open(dir, NULL, &w), 0);
    log_batch(w, NULL, 1, 10, 1000, 3);
    wal_close(w);
    int64_t size = fio_tree_size(dir);

    /* a callback error stops replay and comes back as is */
    collector c = {.fail_on_call = 2};
    ck_assert_int_eq(walrec_replay(dir, &collect_cb, &c, NULL), FLINT_ELIMIT);
    ck_assert_str_eq(flint_errmsg(), "test: callback refuses");
    collector_free(&c);
    ck_assert_int_eq(fio_tree_size(dir), size);

    /* a segment that cannot be read is an I/O error, not a torn tail */
    wt_seg_path(p, sizeof p, dir, 1);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(walrec_replay(dir, &collect_cb, &c, NULL), FLINT_EIO);
    collector_free(&c);
    ck_assert(fio_exists(p));
    ck_assert_int_eq(rmdir(p), 0);

    /* a corrupt checkpoint is an error (it was fsynced before publishing) */
    char ck[PATH_MAX];
    sub_dir(ck, sizeof ck, dir, "checkpoint.00000000");
    ck_assert_int_eq(fio_mkdir_p(ck), 0);
    wt_seg_path(p, sizeof p, ck, 0);
    ck_assert_int_eq(fio_write_file_atomic(p, "garbage!garbage!", 16), 0);
    ck_assert_int_eq(walrec_replay(dir, &collect_cb, &c, NULL), FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "checkpoint"));
    collector_free(&c);
    ck_assert_int_eq(fio_tree_size(ck), 16);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- checkpoints -------------------------------------------------------------------- */

/* The log the checkpoint tests start from: segments 0..3 (3 is the one
 * being written), series 1..49, samples every 15 s from t=1000. */
static void build_checkpoint_log(const char *dir, model *m) {
    wal_options opt = {.segment_size = 0, .compress = true};
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    log_batch(w, m, 1, 20, 1000, 2);   /* seg 0: t 1000, 16000 */
    ck_assert_int_eq(wal_cut(w), 1);
    log_batch(w, m, 20, 40, 31000, 2); /* seg 1: t 31000, 46000 */
    ck_assert_int_eq(wal_cut(w), 2);
    log_batch(w, m, 40, 40, 61000, 2); /* seg 2: t 61000, 76000 */
    ck_assert_int_eq(wal_cut(w), 3);
    log_batch(w, m, 40, 50, 91000, 1); /* seg 3 */
    wal_close(w);
}

START_TEST(test_walrec_checkpoint_keeps_series_and_recent_samples) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    model m = {0};
    build_checkpoint_log(dir, &m);

    keep_ctx k = {.modulus = 2};
    ck_assert_int_eq(walrec_checkpoint(dir, 0, 2, keep_mod, 40000, &k), 0);
    ck_assert_int_gt(k.calls, 0);
    model_checkpoint(&m, 2, 2, 40000);
    int first, last, ck;
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, 3);
    ck_assert_int_eq(last, 3);
    ck_assert_int_eq(wal_last_checkpoint(dir, &ck, p, sizeof p), 0);
    ck_assert_int_eq(ck, 2);
    ck_assert_int_eq(wt_count_entries(dir, "checkpoint."), 1);
    walrec_replay_stats st;
    assert_replay_matches(dir, &m, &st);
    ck_assert_int_eq(st.checkpoint_seg, 2);
    ck_assert_int_eq(st.last_seg, 3);

    /* nothing to do when the checkpoint already covers the range */
    ck_assert_int_eq(walrec_checkpoint(dir, 0, 2, keep_mod, 0, &k), 0);
    assert_replay_matches(dir, &m, NULL);

    /* the next checkpoint folds the previous one in and replaces it */
    wal *w;
    ck_assert_int_eq(wal_open(dir, NULL, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), 4);
    log_batch(w, &m, 50, 52, 121000, 1);
    wal_close(w);
    k.modulus = 4;
    ck_assert_int_eq(walrec_checkpoint(dir, 0, 3, keep_mod, 80000, &k), 0);
    model_checkpoint(&m, 3, 4, 80000);
    ck_assert_int_eq(wal_last_checkpoint(dir, &ck, p, sizeof p), 0);
    ck_assert_int_eq(ck, 3);
    ck_assert_int_eq(wt_count_entries(dir, "checkpoint."), 1);
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, 4);
    assert_replay_matches(dir, &m, &st);
    ck_assert_int_eq(st.checkpoint_seg, 3);

    /* bad arguments */
    ck_assert_int_eq(walrec_checkpoint(dir, 5, 4, keep_mod, 0, &k), FLINT_EINVAL);
    ck_assert_int_eq(walrec_checkpoint(dir, 0, 4, NULL, 0, &k), FLINT_EINVAL);
    fl_free(m.e);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_walrec_checkpoint_fails_on_corrupt_input) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    model m = {0};
    build_checkpoint_log(dir, &m);
    wt_seg_path(p, sizeof p, dir, 1);
    tu_file_poke(p, 20, 0x10);
    int64_t size = fio_tree_size(dir);
    keep_ctx k = {.modulus = 2};
    ck_assert_int_eq(walrec_checkpoint(dir, 0, 2, keep_mod, 0, &k), FLINT_ECORRUPT);
    ck_assert_int_eq(wt_count_entries(dir, "checkpoint."), 0);
    ck_assert_int_eq(fio_tree_size(dir), size);
    fl_free(m.e);
    tu_tmpdir_cleanup();
}
END_TEST

/* A checkpoint that fails at any byte it writes (torn or not), or at its
 * fsync, leaves the log replaying to exactly the old state. */
START_TEST(test_wal_checkpoint_crash_safe_at_every_write) {
    const char *base = tu_tmpdir();
    char src[PATH_MAX], work[PATH_MAX];
    sub_dir(src, sizeof src, base, "src");
    sub_dir(work, sizeof work, base, "work");
    model m = {0};
    build_checkpoint_log(src, &m);
    /* an earlier checkpoint, so the failing one also reads one */
    keep_ctx k = {.modulus = 3};
    ck_assert_int_eq(walrec_checkpoint(src, 0, 0, keep_mod, 0, &k), 0);
    model_checkpoint(&m, 0, 3, 0);
    model new_state = {0};
    for (size_t i = 0; i < m.n; i++) model_add(&new_state, m.e[i].is_series, m.e[i].seg, m.e[i].ref, m.e[i].t, m.e[i].v);
    model_checkpoint(&new_state, 2, 2, 40000);

    /* how many bytes does the checkpoint write? */
    wt_recopy(src, work);
    k.modulus = 2;
    ck_assert_int_eq(walrec_checkpoint(work, 1, 2, keep_mod, 40000, &k), 0);
    char ck_dir[PATH_MAX];
    sub_dir(ck_dir, sizeof ck_dir, work, "checkpoint.00000002");
    long long total = fio_tree_size(ck_dir);
    ck_assert_int_gt(total, 100);
    assert_replay_matches(work, &new_state, NULL);

    for (long long b = 0; b <= total; b++) {
        for (int tear = 0; tear <= 1; tear++) {
            if (b == total && tear) continue;
            wt_recopy(src, work);
            int64_t size = fio_tree_size(work);
            /* b == total: every write succeeds and the fsync fails */
            fio_fault_set(b, tear ? FLINT_ENOSPC : FLINT_EIO, tear, b == total);
            int rc = walrec_checkpoint(work, 1, 2, keep_mod, 40000, &k);
            fio_fault_reset();
            ck_assert_int_eq(rc, tear ? FLINT_ENOSPC : FLINT_EIO);
            ck_assert_int_eq(wt_count_entries(work, "checkpoint.00000002"), 0); /* no .tmp left */
            ck_assert_int_eq(fio_tree_size(work), size);
            walrec_replay_stats st;
            assert_replay_matches(work, &m, &st);
            ck_assert_int_eq(st.checkpoint_seg, 0);
            ck_assert_int_eq(st.bytes_dropped, 0);
        }
    }
    fl_free(new_state.e);
    fl_free(m.e);
    tu_tmpdir_cleanup();
}
END_TEST

/* States a crash can leave between the steps of a checkpoint. */
START_TEST(test_walrec_checkpoint_interrupted_states_replay) {
    const char *base = tu_tmpdir();
    char src[PATH_MAX], work[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    sub_dir(src, sizeof src, base, "src");
    sub_dir(work, sizeof work, base, "work");
    model m = {0};
    build_checkpoint_log(src, &m);
    keep_ctx k = {.modulus = 3};
    ck_assert_int_eq(walrec_checkpoint(src, 0, 0, keep_mod, 0, &k), 0);
    model_checkpoint(&m, 0, 3, 0);
    model new_state = {0};
    for (size_t i = 0; i < m.n; i++) model_add(&new_state, m.e[i].is_series, m.e[i].seg, m.e[i].ref, m.e[i].t, m.e[i].v);
    model_checkpoint(&new_state, 2, 2, 40000);
    k.modulus = 2;

    /* 1. crashed while writing: a half-written .tmp is ignored, then replaced */
    wt_recopy(src, work);
    sub_dir(p, sizeof p, work, "checkpoint.00000002.tmp");
    ck_assert_int_eq(fio_mkdir_p(p), 0);
    wt_seg_path(q, sizeof q, p, 0);
    ck_assert_int_eq(fio_write_file_atomic(q, "\x02\x00\x00", 3), 0);
    assert_replay_matches(work, &m, NULL);
    ck_assert_int_eq(walrec_checkpoint(work, 1, 2, keep_mod, 40000, &k), 0);
    ck_assert(!fio_exists(p));
    assert_replay_matches(work, &new_state, NULL);

    /* 2. crashed after the rename, before any deletion: the old checkpoint
     * and the covered segments are still there */
    wt_recopy(src, work);
    ck_assert_int_eq(walrec_checkpoint(work, 1, 2, keep_mod, 40000, &k), 0);
    for (int seg = 1; seg <= 2; seg++) {
        wt_seg_path(p, sizeof p, src, seg);
        wt_seg_path(q, sizeof q, work, seg);
        wt_copy_tree(p, q);
    }
    sub_dir(p, sizeof p, src, "checkpoint.00000000");
    sub_dir(q, sizeof q, work, "checkpoint.00000000");
    wt_copy_tree(p, q);
    walrec_replay_stats st;
    assert_replay_matches(work, &new_state, &st);
    ck_assert_int_eq(st.checkpoint_seg, 2);
    /* a new log after that state still goes after the checkpoint */
    wal *w;
    ck_assert_int_eq(wal_open(work, NULL, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), 4);
    wal_close(w);
    /* the next checkpoint cleans up the leftovers */
    ck_assert_int_eq(walrec_checkpoint(work, 3, 3, keep_mod, 40000, &k), 0);
    ck_assert_int_eq(wt_count_entries(work, "checkpoint."), 1);
    int first, last;
    ck_assert_int_eq(wal_segment_range(work, &first, &last), 0);
    ck_assert_int_eq(first, 4);
    fl_free(new_state.e);
    fl_free(m.e);
    tu_tmpdir_cleanup();
}
END_TEST

/* Replay dir into a model (segment numbers unknown: 0). */
static void model_from_replay(const char *dir, model *m) {
    collector c = {0};
    m->n = 0;
    ck_assert_int_eq(walrec_replay(dir, &collect_cb, &c, NULL), 0);
    for (size_t i = 0; i < c.nseries; i++) model_add(m, true, 0, c.series[i].ref, 0, 0);
    for (size_t i = 0; i < c.nsamples; i++) model_add(m, false, 0, c.samples[i].ref, c.samples[i].t, c.samples[i].v);
    collector_free(&c);
}

START_TEST(test_walrec_oom_replay_and_checkpoint) {
    const char *base = tu_tmpdir();
    char src[PATH_MAX], work[PATH_MAX], p[PATH_MAX];
    sub_dir(src, sizeof src, base, "src");
    sub_dir(work, sizeof work, base, "work");
    model m = {0};
    build_checkpoint_log(src, &m);
    /* a torn tail too, so an OOM must not be mistaken for one */
    wt_seg_path(p, sizeof p, src, 3);
    tu_file_truncate(p, tu_file_size(p) - 3);
    int64_t src_size = fio_tree_size(src);

    bool done = false;
    for (long n = 0; n < 2000 && !done; n++) {
        wt_recopy(src, work);
        collector c = {0};
        walrec_replay_stats st;
        fl_fault_fail_after(n);
        int rc = walrec_replay(work, &collect_cb, &c, &st);
        long failures = fl_fault_failures();
        fl_fault_reset();
        collector_free(&c);
        if (failures) {
            ck_assert_int_eq(rc, FLINT_ENOMEM);
            ck_assert_int_eq(fio_tree_size(work), src_size); /* nothing was cut */
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_gt(st.bytes_dropped, 0);
            done = true;
        }
    }
    ck_assert(done);

    /* checkpoint under OOM: the old state or the new one, nothing else */
    ck_assert_int_eq(walrec_replay(src, NULL, NULL, NULL), 0); /* cut the tail first */
    model old_state = {0}, new_state = {0};
    model_from_replay(src, &old_state);
    keep_ctx k = {.modulus = 2};
    wt_recopy(src, work);
    ck_assert_int_eq(walrec_checkpoint(work, 0, 2, keep_mod, 40000, &k), 0);
    model_from_replay(work, &new_state);
    ck_assert_uint_lt(new_state.n, old_state.n);
    done = false;
    for (long n = 0; n < 2000 && !done; n++) {
        wt_recopy(src, work);
        fl_fault_fail_after(n);
        int rc = walrec_checkpoint(work, 0, 2, keep_mod, 40000, &k);
        long failures = fl_fault_failures();
        fl_fault_reset();
        if (rc == 0) {
            /* published (a failed clean-up after that is only logged) */
            assert_replay_matches(work, &new_state, NULL);
            done = failures == 0;
        } else {
            ck_assert_int_gt(failures, 0);
            ck_assert_int_eq(rc, FLINT_ENOMEM);
            ck_assert_int_eq(wt_count_entries(work, "checkpoint."), 0);
            assert_replay_matches(work, &old_state, NULL);
        }
    }
    ck_assert(done);
    fl_free(old_state.e);
    fl_free(new_state.e);
    fl_free(m.e);
    tu_tmpdir_cleanup();
}
END_TEST

static void quiet_logs(void) { flint_log_set_level(FLINT_LOG_ERROR); }

Suite *walrec_suite(void) {
    Suite *s = suite_create("walrec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, quiet_logs, NULL);
    tcase_add_test(tc, test_walrec_known_bytes);
    tcase_add_test(tc, test_walrec_series_roundtrip);
    tcase_add_test(tc, test_walrec_samples_roundtrip_edges);
    tcase_add_test(tc, test_walrec_decoders_reject_truncated_and_damaged);
    tcase_add_test(tc, test_walrec_decoders_bound_counts_before_allocating);
    tcase_add_test(tc, test_walrec_oom_encode_decode);
    tcase_add_test(tc, test_walrec_replay_roundtrip);
    tcase_add_test(tc, test_wal_replay_torn_tail_every_offset);
    tcase_add_test(tc, test_walrec_replay_cuts_at_undecodable_record);
    tcase_add_test(tc, test_walrec_replay_errors_propagate_without_cutting);
    tcase_add_test(tc, test_walrec_checkpoint_keeps_series_and_recent_samples);
    tcase_add_test(tc, test_walrec_checkpoint_fails_on_corrupt_input);
    tcase_add_test(tc, test_wal_checkpoint_crash_safe_at_every_write);
    tcase_add_test(tc, test_walrec_checkpoint_interrupted_states_replay);
    tcase_add_test(tc, test_walrec_oom_replay_and_checkpoint);
    suite_add_tcase(s, tc);
    return s;
}
