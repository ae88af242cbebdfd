/*
 * check_head.c - the head: appender semantics (commit, rollback, cached
 * refs, every error kind), chunk cutting and the chunk files read back,
 * selection and label queries, truncation, the WAL hook and replay,
 * concurrency (appender and readers), OOM on the commit paths.
 */
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/wal.h"
#include "tests/unit/testutil.h"
#include "tsdb/head.h"
#include "tsdb/headchunks.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char test_dir[2048];

static void setup(void) { snprintf(test_dir, sizeof test_dir, "%s", tu_tmpdir()); }
static void teardown(void) { tu_tmpdir_cleanup(); }

static head *open_head(const head_options *o) {
    head *h = NULL;
    ck_assert_int_eq(head_open(test_dir, o, &h), 0);
    return h;
}

static labels L(label *v, size_t n) {
    labels l = {v, n};
    return l;
}

/* Decode every sample of ref in [mint, maxt] into ts/vs (cap); count. */
static size_t read_series(head *h, uint64_t ref, int64_t mint, int64_t maxt, int64_t *ts, double *vs, size_t cap) {
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    ck_assert_int_eq(head_series_chunks(h, ref, mint, maxt, &cs), 0);
    size_t n = 0;
    for (size_t i = 0; i < cs.n; i++) {
        chunk_iter it;
        chunk_iter_init(&it, cs.v[i].enc, cs.v[i].data, cs.v[i].len);
        int64_t prev = INT64_MIN;
        while (chunk_iter_next(&it)) {
            int64_t t;
            double v;
            chunk_iter_at(&it, &t, &v);
            ck_assert_int_gt(t, prev);
            ck_assert_int_ge(t, cs.v[i].mint);
            ck_assert_int_le(t, cs.v[i].maxt);
            prev = t;
            if (t < mint || t > maxt) continue;
            ck_assert_uint_lt(n, cap);
            ts[n] = t;
            vs[n] = v;
            n++;
        }
        ck_assert_int_eq(chunk_iter_err(&it), 0);
        if (i > 0) ck_assert_int_gt(cs.v[i].mint, cs.v[i - 1].maxt);
    }
    head_chunk_set_free(&cs);
    return n;
}

static uint64_t bits(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static int append1(head *h, uint64_t ref, const labels *l, int64_t t, double v, uint64_t *out) {
    head_appender *a;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    int rc = head_append(a, ref, l, t, v, out);
    ck_assert_int_eq(head_commit(a), 0);
    return rc;
}

START_TEST(test_head_append_commit_and_read) {
    head *h = open_head(NULL);
    label l1[] = {{"__name__", "up"}, {"job", "a"}};
    labels ls = L(l1, 2);
    head_appender *a;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    uint64_t ref = 0;
    ck_assert_int_eq(head_append(a, 0, &ls, 1000, 1.0, &ref), 0);
    ck_assert_uint_gt(ref, 0);
    ck_assert_int_eq(head_append(a, ref, NULL, 2000, 2.0, NULL), 0);
    /* not visible before commit */
    int64_t ts[8];
    double vs[8];
    ck_assert_uint_eq(read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 8), 0);
    ck_assert_int_eq(head_commit(a), 0);
    ck_assert_uint_eq(read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 8), 2);
    ck_assert_int_eq(ts[0], 1000);
    ck_assert(vs[1] == 2.0);
    labels_builder b;
    lb_init(&b);
    ck_assert_int_eq(head_series_labels(h, ref, &b), 0);
    labels got = lb_labels(&b);
    ck_assert(labels_equal(&got, &ls));
    lb_free(&b);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 1);
    ck_assert_uint_eq(st.samples_appended, 2);
    ck_assert_int_eq(st.mint, 1000);
    ck_assert_int_eq(st.maxt, 2000);
    ck_assert_int_eq(head_mint(h), 1000);
    ck_assert_int_eq(head_maxt(h), 2000);
    head_close(h);
}
END_TEST

START_TEST(test_head_rollback_discards_samples_keeps_series) {
    head *h = open_head(NULL);
    label l1[] = {{"__name__", "up"}};
    labels ls = L(l1, 1);
    head_appender *a;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    uint64_t ref;
    ck_assert_int_eq(head_append(a, 0, &ls, 1000, 1.0, &ref), 0);
    head_rollback(a);
    int64_t ts[4];
    double vs[4];
    ck_assert_uint_eq(read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 4), 0);
    /* the series stays and its ref still works; the rolled-back timestamp is free again */
    ck_assert_int_eq(append1(h, ref, NULL, 1000, 5.0, NULL), 0);
    ck_assert_uint_eq(read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 4), 1);
    ck_assert(vs[0] == 5.0);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 1);
    head_close(h);
}
END_TEST

START_TEST(test_head_cached_refs_and_unknown_refs) {
    head *h = open_head(NULL);
    label l1[] = {{"__name__", "a"}}, l2[] = {{"__name__", "b"}};
    labels la = L(l1, 1), lb = L(l2, 1);
    uint64_t ra, rb, again;
    ck_assert_int_eq(append1(h, 0, &la, 10, 1, &ra), 0);
    ck_assert_int_eq(append1(h, 0, &lb, 10, 1, &rb), 0);
    ck_assert_uint_eq(rb, ra + 1); /* creation order */
    ck_assert_int_eq(append1(h, 0, &la, 20, 2, &again), 0);
    ck_assert_uint_eq(again, ra);
    ck_assert_int_eq(append1(h, ra, NULL, 30, 3, &again), 0);
    ck_assert_uint_eq(again, ra);
    /* unknown ref: labels decide; without labels it is an error */
    ck_assert_int_eq(append1(h, 999, NULL, 40, 4, NULL), FLINT_ENOTFOUND);
    ck_assert_int_eq(append1(h, 999, &lb, 40, 4, &again), 0);
    ck_assert_uint_eq(again, rb);
    /* invalid labels are refused when creating */
    label bad[] = {{"__name__", "x"}, {"0bad", "v"}};
    labels lbad = L(bad, 2);
    ck_assert_int_eq(append1(h, 0, &lbad, 40, 4, NULL), FLINT_EINVAL);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 2);
    head_close(h);
}
END_TEST

START_TEST(test_head_out_of_order_too_old_and_duplicates) {
    head *h = open_head(NULL);
    label l1[] = {{"__name__", "m"}};
    labels ls = L(l1, 1);
    uint64_t ref;
    ck_assert_int_eq(append1(h, 0, &ls, 10000, 1.0, &ref), 0);
    /* against committed data */
    ck_assert_int_eq(append1(h, ref, NULL, 9000, 1.0, NULL), FLINT_EOOO);
    ck_assert_int_eq(append1(h, ref, NULL, 10000, 1.0, NULL), 0); /* exact duplicate: ignored */
    ck_assert_int_eq(append1(h, ref, NULL, 10000, 2.0, NULL), FLINT_EDUPSAMPLE);
    /* NaN payloads compare by bits */
    ck_assert_int_eq(append1(h, ref, NULL, 11000, stale_nan(), NULL), 0);
    ck_assert_int_eq(append1(h, ref, NULL, 11000, stale_nan(), NULL), 0);
    ck_assert_int_eq(append1(h, ref, NULL, 11000, NAN, NULL), FLINT_EDUPSAMPLE);

    /* within one uncommitted appender */
    head_appender *a;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    ck_assert_int_eq(head_append(a, ref, NULL, 20000, 5.0, NULL), 0);
    ck_assert_int_eq(head_append(a, ref, NULL, 15000, 5.0, NULL), FLINT_EOOO);
    ck_assert_int_eq(head_append(a, ref, NULL, 20000, 5.0, NULL), 0);
    ck_assert_int_eq(head_append(a, ref, NULL, 20000, 6.0, NULL), FLINT_EDUPSAMPLE);
    ck_assert_int_eq(head_append(a, ref, NULL, 21000, 6.0, NULL), 0);
    ck_assert_int_eq(head_commit(a), 0);
    int64_t ts[16];
    double vs[16];
    size_t n = read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 16);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(ts[2], 20000);
    ck_assert(vs[2] == 5.0);
    ck_assert_uint_eq(bits(vs[1]), 0x7ff0000000000002ULL);

    /* too old: more than chunk_range/2 behind the head's maxt */
    int64_t hour = 3600 * 1000;
    ck_assert_int_eq(append1(h, ref, NULL, 10 * hour, 1.0, NULL), 0);
    label l2[] = {{"__name__", "new"}};
    labels ln = L(l2, 1);
    ck_assert_int_eq(append1(h, 0, &ln, 9 * hour - 1, 1.0, NULL), FLINT_ETOOOLD);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 1); /* too old never creates the series */
    ck_assert_int_eq(append1(h, 0, &ln, 9 * hour, 1.0, NULL), 0);
    /* and after truncation, anything before the truncation point */
    ck_assert_int_eq(head_truncate(h, 10 * hour - 10), 0);
    ck_assert_int_eq(append1(h, 0, &ln, 10 * hour - 11, 1.0, NULL), FLINT_ETOOOLD);
    head_close(h);
}
END_TEST

/* Values that exercise the codec: counters, gauges, NaN payloads, -0, Inf. */
static double sample_value(int i) {
    switch (i % 7) {
    case 0: return i * 0.01 + 1e6;
    case 1: return -0.0;
    case 2: return INFINITY;
    case 3: return stale_nan();
    case 4: return 5e-324;
    default: return (double)i * 1.5;
    }
}

START_TEST(test_head_chunks_cut_at_120_and_read_back_bit_exact) {
    head_options o;
    head_options_default(&o);
    o.chunk_max_bytes = 1 << 20; /* these values are costly: test the sample count */
    head *h = open_head(&o);
    label l1[] = {{"__name__", "m"}, {"job", "j"}};
    labels ls = L(l1, 2);
    uint64_t ref = 0;
    head_appender *a;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    for (int i = 0; i < 300; i++) ck_assert_int_eq(head_append(a, ref, &ls, 1000 + 15000LL * i, sample_value(i), &ref), 0);
    ck_assert_int_eq(head_commit(a), 0);
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    ck_assert_int_eq(head_series_chunks(h, ref, INT64_MIN, INT64_MAX, &cs), 0);
    ck_assert_uint_eq(cs.n, 3);
    ck_assert_int_eq(chunk_num_samples(cs.v[0].enc, cs.v[0].data, cs.v[0].len), 120);
    ck_assert_int_eq(chunk_num_samples(cs.v[1].enc, cs.v[1].data, cs.v[1].len), 120);
    ck_assert_int_eq(chunk_num_samples(cs.v[2].enc, cs.v[2].data, cs.v[2].len), 60);
    ck_assert_int_eq(cs.v[0].mint, 1000);
    ck_assert_int_eq(cs.v[0].maxt, 1000 + 15000LL * 119);
    ck_assert_int_eq(cs.v[1].mint, 1000 + 15000LL * 120);
    head_chunk_set_free(&cs);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.chunks, 2);
    ck_assert_uint_eq(st.chunk_files, 1);
    /* the chunk file exists and holds both chunks */
    char path[4096];
    snprintf(path, sizeof path, "%s/chunks_head/000001", test_dir);
    ck_assert_uint_gt(st.chunk_file_bytes, 8);

    static int64_t ts[400];
    static double vs[400];
    size_t n = read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 400);
    ck_assert_uint_eq(n, 300);
    for (int i = 0; i < 300; i++) {
        ck_assert_int_eq(ts[i], 1000 + 15000LL * i);
        ck_assert_uint_eq(bits(vs[i]), bits(sample_value(i)));
    }
    /* a window inside the second chunk */
    n = read_series(h, ref, 1000 + 15000LL * 130, 1000 + 15000LL * 135, ts, vs, 400);
    ck_assert_uint_eq(n, 6);
    head_close(h);
    /* close flushed the buffered tail: the file holds header + 2 records */
    ck_assert_uint_eq(tu_file_size(path), st.chunk_file_bytes);
    /* reopening starts over with no chunk files */
    h = open_head(&o);
    ck_assert_int_eq(access(path, F_OK), -1);
    head_close(h);
}
END_TEST

START_TEST(test_head_chunk_files_records_crc_and_truncation) {
    char dir[2100];
    snprintf(dir, sizeof dir, "%s/hc", test_dir);
    headchunks *hc;
    ck_assert_int_eq(headchunks_open(dir, 4096, &hc), 0);
    uint8_t data[300];
    for (int i = 0; i < 300; i++) data[i] = (uint8_t)(i * 7);
    uint64_t refs[40];
    for (int i = 0; i < 40; i++) ck_assert_int_eq(headchunks_write(hc, CHUNK_ENC_XOR, data, 100 + (size_t)i * 5, i * 10, &refs[i]), 0);
    headchunks_stats st;
    headchunks_get_stats(hc, &st);
    ck_assert_uint_gt(st.files, 1);
    ck_assert_uint_eq(st.chunks_written, 40);
    fl_buf b = {0};
    for (int i = 0; i < 40; i++) { /* read back from files and from the write buffer */
        int enc = 0;
        b.len = 0;
        ck_assert_int_eq(headchunks_read(hc, refs[i], &b, &enc), 0);
        ck_assert_int_eq(enc, CHUNK_ENC_XOR);
        ck_assert_uint_eq(b.len, 100 + (size_t)i * 5);
        ck_assert_int_eq(memcmp(b.data, data, b.len), 0);
    }
    ck_assert_int_eq(headchunks_flush(hc), 0);
    /* flip a byte inside the first chunk: its CRC catches it */
    char path[2200];
    snprintf(path, sizeof path, "%s/000001", dir);
    tu_file_poke(path, 8 + 2 + 50, 0x10);
    int enc;
    b.len = 0;
    ck_assert_int_eq(headchunks_read(hc, refs[0], &b, &enc), FLINT_ECORRUPT);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(headchunks_read(hc, refs[0] + 3, &b, &enc) < 0, 1);
    /* truncation deletes only files below the cut whose chunks all end before mint */
    uint32_t limit = headchunks_cut(hc);
    int deleted = headchunks_truncate(hc, 300, limit); /* file 1 holds chunks 0..23, maxt <= 230 */
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(headchunks_read(hc, refs[0], &b, &enc), FLINT_ENOTFOUND);
    ck_assert_int_eq(headchunks_read(hc, refs[39], &b, &enc), 0);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(headchunks_truncate(hc, INT64_MAX, limit), 2);
    headchunks_get_stats(hc, &st);
    ck_assert_uint_eq(st.files, 0);
    fl_buf_free(&b);
    headchunks_close(hc);
}
END_TEST

START_TEST(test_head_chunks_cut_at_range_boundary) {
    head_options o;
    head_options_default(&o);
    o.chunk_range = 60000; /* 1 min */
    head *h = open_head(&o);
    label l1[] = {{"__name__", "m"}};
    labels ls = L(l1, 1);
    uint64_t ref = 0;
    for (int i = 0; i < 10; i++) ck_assert_int_eq(append1(h, ref, &ls, 15000LL * i, i, &ref), 0);
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    ck_assert_int_eq(head_series_chunks(h, ref, INT64_MIN, INT64_MAX, &cs), 0);
    ck_assert_uint_eq(cs.n, 3); /* [0,45s] [60s,105s] [120s,135s] */
    ck_assert_int_eq(cs.v[0].maxt, 45000);
    ck_assert_int_eq(cs.v[1].mint, 60000);
    ck_assert_int_eq(cs.v[2].mint, 120000);
    head_chunk_set_free(&cs);
    head_close(h);
}
END_TEST

START_TEST(test_head_chunks_cut_at_byte_budget) {
    head_options o;
    head_options_default(&o);
    o.chunk_max_bytes = 256;
    head *h = open_head(&o);
    label l1[] = {{"__name__", "m"}};
    labels ls = L(l1, 1);
    uint64_t ref = 0;
    for (int i = 0; i < 120; i++) ck_assert_int_eq(append1(h, ref, &ls, 1000LL * i, sample_value(i), &ref), 0);
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    ck_assert_int_eq(head_series_chunks(h, ref, INT64_MIN, INT64_MAX, &cs), 0);
    ck_assert_uint_gt(cs.n, 1);
    int total = 0;
    for (size_t i = 0; i < cs.n; i++) {
        ck_assert_uint_lt(cs.v[i].len, 256 + 20); /* budget + at most one sample */
        total += chunk_num_samples(cs.v[i].enc, cs.v[i].data, cs.v[i].len);
    }
    ck_assert_int_eq(total, 120);
    head_chunk_set_free(&cs);
    head_close(h);
}
END_TEST

/* series: 1 {n=1} 2 {i=a,n=1} 3 {i=b,n=1} 4 {n=2} 5 {n=2.5}, sample at t=ref*100 */
static head *matcher_head(void) {
    head *h = open_head(NULL);
    label s1[] = {{"n", "1"}}, s2[] = {{"i", "a"}, {"n", "1"}}, s3[] = {{"i", "b"}, {"n", "1"}}, s4[] = {{"n", "2"}},
          s5[] = {{"n", "2.5"}};
    labels ls[] = {L(s1, 1), L(s2, 2), L(s3, 2), L(s4, 1), L(s5, 1)};
    for (int i = 0; i < 5; i++) {
        uint64_t ref;
        ck_assert_int_eq(append1(h, 0, &ls[i], (i + 1) * 100, i, &ref), 0);
        ck_assert_uint_eq(ref, (uint64_t)i + 1);
    }
    return h;
}

static void expect_select(head *h, int type, const char *name, const char *value, int type2, const char *name2,
                          const char *value2, int64_t mint, int64_t maxt, const char *want) {
    matcher ms[2];
    size_t n = 1;
    ck_assert_int_eq(matcher_init(&ms[0], type, name, value), 0);
    if (name2) {
        ck_assert_int_eq(matcher_init(&ms[1], type2, name2, value2), 0);
        n = 2;
    }
    postings_vec v = {0};
    ck_assert_int_eq(head_select(h, ms, n, mint, maxt, &v), 0);
    char got[64] = "";
    for (size_t i = 0; i < v.n; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%llu", (unsigned long long)v.v[i]);
    ck_assert_msg(strcmp(got, want) == 0, "%s %s: got \"%s\", want \"%s\"", name, value, got, want);
    postings_vec_free(&v);
    for (size_t i = 0; i < n; i++) matcher_free(&ms[i]);
}

START_TEST(test_head_select_every_matcher_kind) {
    head *h = matcher_head();
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    expect_select(h, MATCH_EQ, "n", "1", 0, NULL, NULL, lo, hi, "123");
    expect_select(h, MATCH_NEQ, "n", "1", 0, NULL, NULL, lo, hi, "45");
    expect_select(h, MATCH_RE, "n", "2.*", 0, NULL, NULL, lo, hi, "45");
    expect_select(h, MATCH_NRE, "n", "1|2", 0, NULL, NULL, lo, hi, "5");
    expect_select(h, MATCH_EQ, "i", "", 0, NULL, NULL, lo, hi, "145");
    expect_select(h, MATCH_NEQ, "i", "", 0, NULL, NULL, lo, hi, "23");
    expect_select(h, MATCH_NEQ, "i", "a", 0, NULL, NULL, lo, hi, "1345");
    expect_select(h, MATCH_EQ, "n", "1", MATCH_RE, "i", "a|", lo, hi, "12");
    expect_select(h, MATCH_EQ, "n", "1", MATCH_NRE, "i", ".+", lo, hi, "1");
    expect_select(h, MATCH_EQ, "n", "1", MATCH_NRE, "i", ".*", lo, hi, "");
    expect_select(h, MATCH_EQ, "missing", "", 0, NULL, NULL, lo, hi, "12345");
    /* time: series i has its sample at i*100 */
    expect_select(h, MATCH_RE, "n", ".+", 0, NULL, NULL, 200, 300, "23");
    expect_select(h, MATCH_RE, "n", ".+", 0, NULL, NULL, 501, hi, "");
    head_close(h);
}
END_TEST

START_TEST(test_head_label_names_and_values) {
    head *h = matcher_head();
    const char **v;
    size_t n;
    ck_assert_int_eq(head_label_names(h, NULL, 0, &v, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0], "i");
    ck_assert_str_eq(v[1], "n");
    fl_free(v);
    ck_assert_int_eq(head_label_values(h, "n", NULL, 0, &v, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(v[0], "1");
    ck_assert_str_eq(v[2], "2.5");
    fl_free(v);
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_NEQ, "n", "1"), 0);
    ck_assert_int_eq(head_label_names(h, &m, 1, &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0], "n");
    fl_free(v);
    matcher_free(&m);
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "n", "1"), 0);
    ck_assert_int_eq(head_label_values(h, "i", &m, 1, &v, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0], "a");
    ck_assert_str_eq(v[1], "b");
    fl_free(v);
    ck_assert_int_eq(head_label_values(h, "nope", &m, 1, &v, &n), 0);
    ck_assert_uint_eq(n, 0);
    fl_free(v);
    matcher_free(&m);
    head_close(h);
}
END_TEST

START_TEST(test_head_series_sorted_by_labels) {
    head *h = open_head(NULL);
    label a[] = {{"__name__", "z"}}, b[] = {{"__name__", "a"}, {"x", "2"}}, c[] = {{"__name__", "a"}, {"x", "1"}},
          d[] = {{"__name__", "a"}};
    labels ls[] = {L(a, 1), L(b, 2), L(c, 2), L(d, 1)};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(append1(h, 0, &ls[i], 100 * (i + 1), 1, NULL), 0);
    postings_vec v = {0};
    ck_assert_int_eq(head_series_sorted(h, INT64_MIN, INT64_MAX, &v), 0);
    ck_assert_uint_eq(v.n, 4);
    ck_assert_uint_eq(v.v[0], 4); /* a{} */
    ck_assert_uint_eq(v.v[1], 3); /* a{x=1} */
    ck_assert_uint_eq(v.v[2], 2); /* a{x=2} */
    ck_assert_uint_eq(v.v[3], 1); /* z */
    v.n = 0;
    ck_assert_int_eq(head_series_sorted(h, 150, 250, &v), 0);
    ck_assert_uint_eq(v.n, 1);
    ck_assert_uint_eq(v.v[0], 2);
    postings_vec_free(&v);
    head_close(h);
}
END_TEST

START_TEST(test_head_truncate_releases_series_and_files) {
    head_options o;
    head_options_default(&o);
    o.chunk_file_size = 4096; /* many small files */
    head *h = open_head(&o);
    char name[32];
    uint64_t refs[20];
    head_appender *a;
    /* 20 series; 10 stop at t=~60 min, 10 go on to ~3 h */
    for (int step = 0; step < 720; step++) {
        ck_assert_int_eq(head_appender_begin(h, &a), 0);
        for (int s = 0; s < 20; s++) {
            if (s >= 10 && step >= 240) continue;
            snprintf(name, sizeof name, "s%02d", s);
            label l[] = {{"__name__", "m"}, {"s", name}};
            labels ls = L(l, 2);
            ck_assert_int_eq(head_append(a, step ? refs[s] : 0, &ls, 15000LL * step, step * 1.25 + s, &refs[s]), 0);
        }
        ck_assert_int_eq(head_commit(a), 0);
    }
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 20);
    uint32_t files_before = st.chunk_files;
    ck_assert_uint_gt(files_before, 3);
    int64_t mint = 2 * 3600 * 1000;
    ck_assert_int_eq(head_truncate(h, mint), 0);
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 10);
    ck_assert_uint_eq(st.series_removed, 10);
    ck_assert_uint_lt(st.chunk_files, files_before);
    ck_assert_int_eq(st.mint, mint);
    /* removed series are gone from postings and the ref map */
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_RE, "s", "s1.*"), 0);
    postings_vec v = {0};
    ck_assert_int_eq(head_select(h, &m, 1, INT64_MIN, INT64_MAX, &v), 0);
    ck_assert_uint_eq(v.n, 0);
    matcher_free(&m);
    const char **vals;
    size_t nv;
    ck_assert_int_eq(head_label_values(h, "s", NULL, 0, &vals, &nv), 0);
    ck_assert_uint_eq(nv, 10);
    fl_free(vals);
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    ck_assert_int_eq(head_series_chunks(h, refs[15], INT64_MIN, INT64_MAX, &cs), FLINT_ENOTFOUND);
    /* the survivors keep only data from mint on (chunks overlapping it) and still read back */
    static int64_t ts[800];
    static double vs[800];
    size_t n = read_series(h, refs[3], INT64_MIN, INT64_MAX, ts, vs, 800);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_ge(ts[n - 1], mint);
    for (size_t i = 0; i < n; i++) ck_assert(vs[i] == (double)(ts[i] / 15000) * 1.25 + 3);
    ck_assert_int_eq(head_series_chunks(h, refs[3], mint, INT64_MAX, &cs), 0);
    ck_assert_int_ge(cs.v[0].maxt, mint);
    head_chunk_set_free(&cs);
    /* the removed series can come back, with a new ref */
    label l[] = {{"__name__", "m"}, {"s", "s15"}};
    labels ls = L(l, 2);
    uint64_t nref;
    ck_assert_int_eq(append1(h, refs[15], &ls, 720 * 15000LL, 1, &nref), 0);
    ck_assert_uint_gt(nref, refs[19]);
    /* truncating everything removes every file */
    ck_assert_int_eq(head_truncate(h, INT64_MAX), 0);
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 0);
    ck_assert_uint_eq(st.chunk_files, 0);
    ck_assert_uint_eq(st.chunks, 0);
    head_close(h);
}
END_TEST

/* ---- WAL hook ---------------------------------------------------------------- */

typedef struct wal_rec {
    int calls, fail;
    int nseries, nsamples, syncs;
    uint64_t series_refs[16];
    char series_names[16][32];
} wal_rec;

static int wal_hook(void *ctx, const head_wal_series *s, size_t ns, const head_wal_sample *smp, size_t nsmp, bool sync) {
    wal_rec *r = ctx;
    (void)smp;
    r->calls++;
    if (r->fail) return FLINT_EIO;
    for (size_t i = 0; i < ns && r->nseries < 16; i++) {
        r->series_refs[r->nseries] = s[i].ref;
        snprintf(r->series_names[r->nseries], 32, "%s", labels_get(&s[i].lset, "__name__"));
        r->nseries++;
    }
    r->nsamples += (int)nsmp;
    r->syncs += sync;
    return 0;
}

START_TEST(test_head_wal_hook_logs_series_once_and_failure_applies_nothing) {
    wal_rec rec = {0};
    head_options o;
    head_options_default(&o);
    o.wal_log = wal_hook;
    o.wal_ctx = &rec;
    o.wal_sync = true;
    head *h = open_head(&o);
    label l1[] = {{"__name__", "a"}}, l2[] = {{"__name__", "b"}};
    labels la = L(l1, 1), lb = L(l2, 1);
    uint64_t ra, rb;
    ck_assert_int_eq(append1(h, 0, &la, 10, 1, &ra), 0);
    ck_assert_int_eq(rec.nseries, 1);
    ck_assert_int_eq(rec.nsamples, 1);
    ck_assert_int_eq(rec.syncs, 1);
    ck_assert_int_eq(append1(h, ra, NULL, 20, 1, NULL), 0);
    ck_assert_int_eq(rec.nseries, 1); /* not again */
    ck_assert_int_eq(rec.nsamples, 2);

    /* a series created in a rolled-back appender is logged with its first committed sample */
    head_appender *a;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    ck_assert_int_eq(head_append(a, 0, &lb, 10, 1, &rb), 0);
    head_rollback(a);
    ck_assert_int_eq(rec.calls, 2);
    /* failing log: error out, nothing applied, series still unlogged */
    rec.fail = 1;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    ck_assert_int_eq(head_append(a, rb, NULL, 30, 1, NULL), 0);
    ck_assert_int_eq(head_append(a, ra, NULL, 30, 1, NULL), 0);
    ck_assert_int_eq(head_commit(a), FLINT_EIO);
    int64_t ts[4];
    double vs[4];
    ck_assert_uint_eq(read_series(h, rb, INT64_MIN, INT64_MAX, ts, vs, 4), 0);
    ck_assert_uint_eq(read_series(h, ra, INT64_MIN, INT64_MAX, ts, vs, 4), 2);
    rec.fail = 0;
    ck_assert_int_eq(append1(h, rb, NULL, 30, 1, NULL), 0);
    ck_assert_int_eq(rec.nseries, 2);
    ck_assert_uint_eq(rec.series_refs[1], rb);
    ck_assert_str_eq(rec.series_names[1], "b");
    /* an empty commit does not call the hook */
    int calls = rec.calls;
    ck_assert_int_eq(head_appender_begin(h, &a), 0);
    ck_assert_int_eq(head_commit(a), 0);
    ck_assert_int_eq(rec.calls, calls);
    head_close(h);
}
END_TEST

START_TEST(test_head_replay_series_and_samples) {
    head *h = open_head(NULL);
    label l1[] = {{"__name__", "a"}}, l2[] = {{"__name__", "b"}};
    labels la = L(l1, 1), lb = L(l2, 1);
    ck_assert_int_eq(head_replay_series(h, 7, &la), 0);
    ck_assert_int_eq(head_replay_series(h, 7, &la), 0);  /* duplicate record */
    ck_assert_int_eq(head_replay_series(h, 9, &la), 0);  /* same labels, other ref: alias */
    ck_assert_int_eq(head_replay_series(h, 3, &lb), 0);
    ck_assert_int_eq(head_replay_series(h, 3, &la), FLINT_ECORRUPT);
    head_wal_sample s[] = {{7, 100, 1}, {9, 200, 2}, {3, 100, 5}, {42, 100, 1}, {7, 50, 1}};
    size_t skipped;
    ck_assert_int_eq(head_replay_samples(h, s, 5, &skipped), 0);
    ck_assert_uint_eq(skipped, 2); /* unknown ref 42, out-of-order 50 */
    int64_t ts[4];
    double vs[4];
    ck_assert_uint_eq(read_series(h, 7, INT64_MIN, INT64_MAX, ts, vs, 4), 2);
    ck_assert_int_eq(ts[1], 200);
    /* new series get refs after the replayed ones */
    label l3[] = {{"__name__", "c"}};
    labels lc = L(l3, 1);
    uint64_t ref;
    ck_assert_int_eq(append1(h, 0, &lc, 300, 1, &ref), 0);
    ck_assert_uint_eq(ref, 10);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 3);
    ck_assert_int_eq(st.mint, 100);
    head_close(h);
}
END_TEST

START_TEST(test_head_wal_writer_and_replay_round_trip) {
    char waldir[2100];
    snprintf(waldir, sizeof waldir, "%s/wal", test_dir);
    wal *w;
    ck_assert_int_eq(wal_open(waldir, NULL, &w), 0);
    head_wal_writer hw;
    ck_assert_int_eq(head_wal_writer_init(&hw, w), 0);
    head_options o;
    head_options_default(&o);
    o.wal_log = head_wal_log;
    o.wal_ctx = &hw;
    head *h = open_head(&o);
    char name[16];
    uint64_t refs[30] = {0};
    for (int step = 0; step < 300; step++) {
        head_appender *a;
        ck_assert_int_eq(head_appender_begin(h, &a), 0);
        for (int s = 0; s < 30; s++) {
            if (s >= 20 && step < 100) continue; /* series created later */
            snprintf(name, sizeof name, "%d", s);
            label l[] = {{"__name__", "w"}, {"s", name}};
            labels ls = {l, 2};
            ck_assert_int_eq(head_append(a, refs[s], &ls, 1000LL * step, sample_value(step + s), &refs[s]), 0);
        }
        if (step % 50 == 49) head_rollback(a);
        else ck_assert_int_eq(head_commit(a), 0);
    }
    head_stats before;
    head_get_stats(h, &before);
    static int64_t ts[2][400];
    static double vs[2][400];
    size_t n0[30];
    for (int s = 0; s < 30; s++) n0[s] = read_series(h, refs[s], INT64_MIN, INT64_MAX, ts[0], vs[0], 400);
    head_close(h);
    head_wal_writer_free(&hw);
    wal_close(w);

    /* a new head from the log alone */
    h = open_head(NULL);
    uint64_t skipped = 1;
    ck_assert_int_eq(head_replay_wal(h, waldir, NULL, &skipped), 0);
    ck_assert_uint_eq(skipped, 0);
    head_stats after;
    head_get_stats(h, &after);
    ck_assert_uint_eq(after.num_series, 30);
    ck_assert_uint_eq(after.samples_appended, before.samples_appended);
    ck_assert_int_eq(after.mint, before.mint);
    ck_assert_int_eq(after.maxt, before.maxt);
    for (int s = 0; s < 30; s++) {
        size_t n = read_series(h, refs[s], INT64_MIN, INT64_MAX, ts[1], vs[1], 400);
        ck_assert_uint_eq(n, n0[s]);
        labels_builder b;
        lb_init(&b);
        ck_assert_int_eq(head_series_labels(h, refs[s], &b), 0);
        labels l = lb_labels(&b);
        snprintf(name, sizeof name, "%d", s);
        ck_assert_str_eq(labels_get(&l, "s"), name);
        lb_free(&b);
    }
    /* the last series' samples, bit for bit */
    size_t n = read_series(h, refs[29], INT64_MIN, INT64_MAX, ts[1], vs[1], 400);
    for (size_t i = 0; i < n; i++) ck_assert_uint_eq(bits(vs[1][i]), bits(sample_value((int)(ts[1][i] / 1000) + 29)));
    uint64_t ref;
    label l[] = {{"__name__", "fresh"}};
    labels ls = L(l, 1);
    ck_assert_int_eq(append1(h, 0, &ls, 400000, 1, &ref), 0);
    ck_assert_uint_gt(ref, refs[29]);
    head_close(h);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------- */

enum { CC_SERIES = 200 };

typedef struct cc_state {
    head *h;
    atomic_int stop;
    atomic_int errors;
    atomic_long reads;
    atomic_llong committed_t; /* every series has samples up to here */
} cc_state;

static double cc_value(uint64_t ref, int64_t t) { return (double)ref * 1000.0 + (double)(t / 1000); }

static void *cc_writer(void *arg) {
    cc_state *c = arg;
    uint64_t refs[CC_SERIES] = {0};
    char name[16];
    for (int64_t step = 0; !atomic_load(&c->stop); step++) {
        head_appender *a;
        if (head_appender_begin(c->h, &a)) {
            atomic_fetch_add(&c->errors, 1);
            break;
        }
        int64_t t = step * 1000;
        for (int s = 0; s < CC_SERIES; s++) {
            snprintf(name, sizeof name, "%d", s);
            label l[] = {{"__name__", "cc"}, {"s", name}};
            labels ls = {l, 2};
            uint64_t r = refs[s];
            if (head_append(a, r, &ls, t, 0, &refs[s])) atomic_fetch_add(&c->errors, 1);
            (void)r;
        }
        head_rollback(a); /* value depends on the ref: redo with it known */
        if (head_appender_begin(c->h, &a)) break;
        for (int s = 0; s < CC_SERIES; s++)
            if (head_append(a, refs[s], NULL, t, cc_value(refs[s], t), NULL)) atomic_fetch_add(&c->errors, 1);
        if (head_commit(a)) atomic_fetch_add(&c->errors, 1);
        atomic_store(&c->committed_t, t);
        if (step % 500 == 499 && head_truncate(c->h, t - 200000) < 0) atomic_fetch_add(&c->errors, 1);
    }
    return NULL;
}

static void *cc_reader(void *arg) {
    cc_state *c = arg;
    matcher m;
    if (matcher_init(&m, MATCH_RE, "s", "1.*|2.*")) return NULL;
    head_chunk_set cs;
    head_chunk_set_init(&cs);
    labels_builder b;
    lb_init(&b);
    while (!atomic_load(&c->stop)) {
        int64_t seen = atomic_load(&c->committed_t);
        postings_vec v = {0};
        if (head_select(c->h, &m, 1, INT64_MIN, INT64_MAX, &v)) atomic_fetch_add(&c->errors, 1);
        for (size_t i = 0; i < v.n; i++) {
            if (head_series_labels(c->h, v.v[i], &b) == 0) {
                labels l = lb_labels(&b);
                const char *s = labels_get(&l, "s");
                if (!s || (s[0] != '1' && s[0] != '2')) atomic_fetch_add(&c->errors, 1);
            }
            int rc = head_series_chunks(c->h, v.v[i], INT64_MIN, INT64_MAX, &cs);
            if (rc == FLINT_ENOTFOUND) continue;
            if (rc) {
                atomic_fetch_add(&c->errors, 1);
                continue;
            }
            int64_t prev = INT64_MIN, last = INT64_MIN;
            for (size_t k = 0; k < cs.n; k++) {
                chunk_iter it;
                chunk_iter_init(&it, cs.v[k].enc, cs.v[k].data, cs.v[k].len);
                while (chunk_iter_next(&it)) {
                    int64_t t;
                    double val;
                    chunk_iter_at(&it, &t, &val);
                    if (t <= prev || val != cc_value(v.v[i], t)) atomic_fetch_add(&c->errors, 1);
                    prev = last = t;
                }
                if (chunk_iter_err(&it)) atomic_fetch_add(&c->errors, 1);
            }
            /* whatever was committed before the select is visible */
            if (seen > 0 && last < seen) atomic_fetch_add(&c->errors, 1);
        }
        postings_vec_free(&v);
        atomic_fetch_add(&c->reads, 1);
    }
    lb_free(&b);
    head_chunk_set_free(&cs);
    matcher_free(&m);
    return NULL;
}

START_TEST(test_head_concurrent_appender_and_readers) {
    head_options o;
    head_options_default(&o);
    o.chunk_file_size = 1 << 16;
    cc_state c = {.h = open_head(&o)};
    pthread_t w, r[2];
    pthread_create(&w, NULL, cc_writer, &c);
    for (int i = 0; i < 2; i++) pthread_create(&r[i], NULL, cc_reader, &c);
    struct timespec ts = {2, 0};
    nanosleep(&ts, NULL);
    atomic_store(&c.stop, 1);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++) pthread_join(r[i], NULL);
    ck_assert_int_eq(atomic_load(&c.errors), 0);
    ck_assert_int_gt(atomic_load(&c.reads), 2);
    head_stats st;
    head_get_stats(c.h, &st);
    ck_assert_uint_gt(st.chunks_created, 0);
    ck_assert_uint_eq(st.samples_dropped, 0);
    head_close(c.h);
}
END_TEST

typedef struct race_state {
    head *h;
    int id;
    atomic_long attempted, refused;
} race_state;

/* Two appenders race on the same series with interleaving timestamps. */
static void *race_writer(void *arg) {
    race_state *r = arg;
    char name[16];
    for (int step = 0; step < 400; step++) {
        head_appender *a;
        if (head_appender_begin(r->h, &a)) return NULL;
        long attempted = 0, refused = 0;
        for (int s = 0; s < 50; s++) {
            snprintf(name, sizeof name, "%d", s);
            label l[] = {{"__name__", "race"}, {"s", name}};
            labels ls = {l, 2};
            int rc = head_append(a, 0, &ls, step * 10 + r->id, r->id, NULL);
            attempted++;
            refused += rc != 0;
        }
        if (step % 7 == 3) {
            head_rollback(a);
            continue;
        }
        if (head_commit(a)) return NULL;
        atomic_fetch_add(&r->attempted, attempted);
        atomic_fetch_add(&r->refused, refused);
    }
    return NULL;
}

START_TEST(test_head_concurrent_appenders_on_same_series) {
    head *h = open_head(NULL);
    race_state r[2] = {{.h = h, .id = 0}, {.h = h, .id = 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, race_writer, &r[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_eq(st.num_series, 50);
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "__name__", "race"), 0);
    postings_vec v = {0};
    ck_assert_int_eq(head_select(h, &m, 1, INT64_MIN, INT64_MAX, &v), 0);
    ck_assert_uint_eq(v.n, 50);
    static int64_t ts[1000];
    static double vs[1000];
    uint64_t total = 0;
    for (size_t i = 0; i < v.n; i++) {
        size_t n = read_series(h, v.v[i], INT64_MIN, INT64_MAX, ts, vs, 1000); /* checks order */
        for (size_t k = 0; k < n; k++) ck_assert(vs[k] == (double)(ts[k] % 10));
        total += n;
    }
    ck_assert_uint_eq(total, st.samples_appended);
    /* every queued sample was applied, refused at append, or dropped at commit */
    long attempted = atomic_load(&r[0].attempted) + atomic_load(&r[1].attempted);
    long refused = atomic_load(&r[0].refused) + atomic_load(&r[1].refused);
    ck_assert_uint_eq(st.samples_appended + st.samples_dropped, (uint64_t)(attempted - refused));
    postings_vec_free(&v);
    matcher_free(&m);
    head_close(h);
}
END_TEST

/* ---- OOM ------------------------------------------------------------------------------ */

START_TEST(test_head_oom_on_append_and_commit_leaves_head_consistent) {
    head *h = open_head(NULL);
    char name[16];
    int64_t t = 0;
    long failures = 0;
    uint64_t committed = 0;
    for (long n = 0; n < 400; n++) {
        head_appender *a;
        fl_fault_fail_after(n % 60);
        int rc = head_appender_begin(h, &a);
        if (rc) {
            fl_fault_reset();
            failures++;
            continue;
        }
        t += 15000;
        int queued = 0;
        for (int s = 0; s < 8; s++) {
            snprintf(name, sizeof name, "%ld", (n + s) % 11);
            label l[] = {{"__name__", "oom"}, {"s", name}};
            labels ls = {l, 2};
            rc = head_append(a, 0, &ls, t, (double)t, NULL);
            if (rc == 0) queued++;
            else ck_assert(rc == FLINT_ENOMEM);
        }
        rc = head_commit(a);
        fl_fault_reset();
        failures += fl_fault_failures() > 0;
        ck_assert(rc == 0 || rc == FLINT_ENOMEM);
        if (rc == 0) committed += (uint64_t)queued;
    }
    ck_assert_int_gt(failures, 0);
    head_stats st;
    head_get_stats(h, &st);
    /* everything queued and committed was applied or counted as dropped */
    ck_assert_uint_eq(st.samples_appended + st.samples_dropped, committed);
    /* every series reads back consistently and still takes samples */
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "__name__", "oom"), 0);
    postings_vec v = {0};
    ck_assert_int_eq(head_select(h, &m, 1, INT64_MIN, INT64_MAX, &v), 0);
    ck_assert_uint_eq(v.n, st.num_series);
    static int64_t ts[1000];
    static double vs[1000];
    uint64_t total = 0;
    for (size_t i = 0; i < v.n; i++) {
        size_t k = read_series(h, v.v[i], INT64_MIN, INT64_MAX, ts, vs, 1000);
        for (size_t j = 0; j < k; j++) ck_assert(vs[j] == (double)ts[j]);
        total += k;
        ck_assert_int_eq(append1(h, v.v[i], NULL, t + 15000, 1, NULL), 0);
    }
    ck_assert_uint_eq(total, st.samples_appended);
    postings_vec_free(&v);
    matcher_free(&m);
    /* OOM during truncation is survivable too */
    for (long n = 0; n < 20; n++) {
        fl_fault_fail_after(n);
        int rc = head_truncate(h, t - 15000 * 100);
        fl_fault_reset();
        ck_assert(rc == 0 || rc == FLINT_ENOMEM);
    }
    head_close(h);
}
END_TEST

START_TEST(test_head_chunk_file_write_failure_keeps_chunk_open) {
    head *h = open_head(NULL);
    label l1[] = {{"__name__", "m"}};
    labels ls = L(l1, 1);
    uint64_t ref = 0;
    /* 64 KiB write buffer: fail the flush by faulting the file layer */
    fio_fault_set(0, FLINT_ENOSPC, 0, 0);
    for (int i = 0; i < 150; i++) ck_assert_int_eq(append1(h, ref, &ls, 1000LL * i, i, &ref), 0);
    fio_fault_reset();
    head_stats st;
    head_get_stats(h, &st);
    ck_assert_uint_gt(st.chunk_write_errors, 0);
    /* nothing lost: the open chunk grew past 120 */
    static int64_t ts[400];
    static double vs[400];
    ck_assert_uint_eq(read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 400), 150);
    for (int i = 150; i < 300; i++) ck_assert_int_eq(append1(h, ref, &ls, 1000LL * i, i, &ref), 0);
    head_get_stats(h, &st);
    ck_assert_uint_gt(st.chunks, 0);
    ck_assert_uint_eq(read_series(h, ref, INT64_MIN, INT64_MAX, ts, vs, 400), 300);
    for (int i = 0; i < 300; i++) ck_assert(ts[i] == 1000LL * i && vs[i] == i);
    head_close(h);
}
END_TEST

Suite *head_suite(void) {
    Suite *s = suite_create("head");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_head_append_commit_and_read);
    tcase_add_test(tc, test_head_rollback_discards_samples_keeps_series);
    tcase_add_test(tc, test_head_cached_refs_and_unknown_refs);
    tcase_add_test(tc, test_head_out_of_order_too_old_and_duplicates);
    tcase_add_test(tc, test_head_chunks_cut_at_120_and_read_back_bit_exact);
    tcase_add_test(tc, test_head_chunks_cut_at_range_boundary);
    tcase_add_test(tc, test_head_chunk_files_records_crc_and_truncation);
    tcase_add_test(tc, test_head_chunks_cut_at_byte_budget);
    tcase_add_test(tc, test_head_select_every_matcher_kind);
    tcase_add_test(tc, test_head_label_names_and_values);
    tcase_add_test(tc, test_head_series_sorted_by_labels);
    tcase_add_test(tc, test_head_truncate_releases_series_and_files);
    tcase_add_test(tc, test_head_wal_hook_logs_series_once_and_failure_applies_nothing);
    tcase_add_test(tc, test_head_replay_series_and_samples);
    tcase_add_test(tc, test_head_wal_writer_and_replay_round_trip);
    tcase_add_test(tc, test_head_concurrent_appender_and_readers);
    tcase_add_test(tc, test_head_concurrent_appenders_on_same_series);
    tcase_add_test(tc, test_head_oom_on_append_and_commit_leaves_head_consistent);
    tcase_add_test(tc, test_head_chunk_file_write_failure_keeps_chunk_open);
    suite_add_tcase(s, tc);
    return s;
}
