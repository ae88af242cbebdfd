/*
 * check_promql_eval.c - the PromQL engine's pieces that the conformance
 * files do not cover: result shapes and ordering, error types (bad_data vs
 * execution), the sample limit, the timeout and cancellation, allocation
 * failures at every point of a query (memory released, ASan-clean), and
 * annotations reaching the result.
 */
#include "query/engine.h"
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "tsdb/db.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static tsdb *db;
static pql_engine *eng;

/* cpu{mode, cpu} counters every 15 s for 2 h, and a gauge. */
static void setup(void) {
    tsdb_options o;
    tsdb_options_default(&o);
    o.no_wal = true;
    ck_assert_int_eq(tsdb_open(tu_tmpdir(), &o, &db), 0);
    tsdb_appender *app = tsdb_appender_begin(db);
    ck_assert_ptr_nonnull(app);
    const char *modes[] = {"idle", "user", "system"};
    char cpu[16];
    for (int m = 0; m < 3; m++)
        for (int c = 0; c < 4; c++) {
            snprintf(cpu, sizeof cpu, "%d", c);
            label l[] = {{"__name__", "cpu_seconds_total"}, {"cpu", cpu}, {"mode", modes[m]}};
            labels ls = {l, 3};
            uint64_t ref = 0;
            for (int64_t t = 0; t <= 7200000; t += 15000)
                ck_assert_int_eq(tsdb_append(app, ref, &ls, t, (double)(t / 1000) * (m + 1), &ref), 0);
        }
    label g[] = {{"__name__", "temp"}, {"room", "a"}};
    labels gl = {g, 2};
    uint64_t ref = 0;
    for (int64_t t = 0; t <= 7200000; t += 60000)
        ck_assert_int_eq(tsdb_append(app, ref, &gl, t, 20.0 + (double)(t % 7), &ref), 0);
    ck_assert_int_eq(tsdb_commit(app), 0);
    eng = pql_engine_new(NULL);
    ck_assert_ptr_nonnull(eng);
}

static void teardown(void) {
    pql_engine_free(eng);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}

static int run_instant(const char *q, int64_t t, pql_result *r) {
    return pql_query_instant(eng, db, q, strlen(q), t, r);
}

START_TEST(test_promql_eval_instant_shapes) {
    pql_result r;
    ck_assert_int_eq(run_instant("1 + 1", 4000, &r), 0);
    ck_assert_int_eq(r.type, PQL_TYPE_SCALAR);
    ck_assert(r.scalar == 2);
    ck_assert_int_eq(r.t, 4000);
    pql_result_free(&r);

    ck_assert_int_eq(run_instant("\"hello\"", 0, &r), 0);
    ck_assert_int_eq(r.type, PQL_TYPE_STRING);
    ck_assert_str_eq(r.string, "hello");
    pql_result_free(&r);

    ck_assert_int_eq(run_instant("sort_desc(sum by (mode) (rate(cpu_seconds_total[5m])))", 3600000, &r), 0);
    ck_assert_int_eq(r.type, PQL_TYPE_VECTOR);
    ck_assert_uint_eq(r.nvector, 3);
    ck_assert_str_eq(labels_get(&r.vector[0].metric, "mode"), "system");
    ck_assert(fabs(r.vector[0].v - 12.0) < 1e-9); /* 4 cpus x 3/s */
    ck_assert_ptr_null(labels_get(&r.vector[0].metric, "__name__"));
    pql_result_free(&r);

    ck_assert_int_eq(run_instant("cpu_seconds_total{cpu=\"1\",mode=\"idle\"}[1m]", 60000, &r), 0);
    ck_assert_int_eq(r.type, PQL_TYPE_MATRIX);
    ck_assert_uint_eq(r.nmatrix, 1);
    ck_assert_uint_eq(r.matrix[0].npoints, 4); /* (0, 60s]: 15 30 45 60 */
    ck_assert_int_eq(r.matrix[0].points[0].t, 15000);
    ck_assert_str_eq(labels_get(&r.matrix[0].metric, "__name__"), "cpu_seconds_total");
    pql_result_free(&r);
    pql_result_free(&r); /* twice is fine */
}
END_TEST

START_TEST(test_promql_eval_range_sorted) {
    pql_result r;
    const char *q = "rate(cpu_seconds_total{cpu=~\"[23]\"}[5m])";
    ck_assert_int_eq(pql_query_range(eng, db, q, strlen(q), 600000, 7200000, 60000, &r), 0);
    ck_assert_int_eq(r.type, PQL_TYPE_MATRIX);
    ck_assert_uint_eq(r.nmatrix, 6);
    for (size_t i = 1; i < r.nmatrix; i++) ck_assert_int_lt(labels_cmp(&r.matrix[i - 1].metric, &r.matrix[i].metric), 0);
    ck_assert_uint_eq(r.matrix[0].npoints, 111);
    ck_assert_int_eq(r.matrix[0].points[110].t, 7200000);
    pql_result_free(&r);

    /* a scalar range query is one series without labels */
    ck_assert_int_eq(pql_query_range(eng, db, "time()", 6, 0, 120000, 60000, &r), 0);
    ck_assert_uint_eq(r.nmatrix, 1);
    ck_assert_uint_eq(r.matrix[0].metric.n, 0);
    ck_assert(r.matrix[0].points[2].v == 120);
    pql_result_free(&r);
}
END_TEST

START_TEST(test_promql_eval_error_types) {
    pql_result r;
    ck_assert_int_eq(run_instant("sum(", 0, &r), FLINT_EINVAL);
    ck_assert_int_eq(r.errtype, PQL_ERR_BAD_DATA);
    ck_assert(strstr(r.error, "parse error") != NULL);
    pql_result_free(&r);

    ck_assert_int_eq(pql_query_range(eng, db, "temp[5m]", 8, 0, 60000, 1000, &r), FLINT_EINVAL);
    ck_assert_int_eq(r.errtype, PQL_ERR_BAD_DATA);
    ck_assert_str_eq(r.error, "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
    pql_result_free(&r);

    ck_assert_int_eq(pql_query_range(eng, db, "temp", 4, 0, 60000, 0, &r), FLINT_EINVAL);
    ck_assert_int_eq(r.errtype, PQL_ERR_BAD_DATA);
    pql_result_free(&r);

    /* the same labels once the name is gone: an execution error */
    ck_assert_int_ne(run_instant("label_replace(cpu_seconds_total, \"mode\", \"x\", \"\", \"\")", 60000, &r), 0);
    ck_assert_int_eq(r.errtype, PQL_ERR_EXECUTION);
    ck_assert_str_eq(r.error, "vector cannot contain metrics with the same labelset");
    ck_assert_ptr_null(r.vector);
    pql_result_free(&r);

    ck_assert_int_ne(run_instant("cpu_seconds_total + on(cpu) cpu_seconds_total", 60000, &r), 0);
    ck_assert_int_eq(r.errtype, PQL_ERR_EXECUTION);
    ck_assert(strstr(r.error, "found duplicate series for the match group {cpu=") == r.error);
    pql_result_free(&r);
}
END_TEST

START_TEST(test_promql_eval_sample_limit) {
    pql_engine_opts o = {0};
    o.max_samples = 100;
    pql_engine *small = pql_engine_new(&o);
    pql_result r;
    const char *q = "cpu_seconds_total";
    ck_assert_int_eq(pql_query_range(small, db, q, strlen(q), 0, 7200000, 60000, &r), FLINT_ELIMIT);
    ck_assert_int_eq(r.errtype, PQL_ERR_TOO_MANY_SAMPLES);
    ck_assert_str_eq(r.error, "query processing would load too many samples into memory in query execution");
    ck_assert_uint_eq(r.nmatrix, 0);
    pql_result_free(&r);
    /* small enough queries still run on the same engine */
    ck_assert_int_eq(pql_query_instant(small, db, "temp", 4, 60000, &r), 0);
    ck_assert_uint_eq(r.nvector, 1);
    pql_result_free(&r);
    pql_engine_free(small);
}
END_TEST

START_TEST(test_promql_eval_timeout_and_cancel) {
    pql_engine_opts o = {0};
    o.timeout_ms = 1;
    pql_engine *quick = pql_engine_new(&o);
    pql_result r;
    /* slow enough: 721 windows of 1,800 points (not sum_over_time, whose
     * exact integer sums slide in constant time) */
    const char *q = "stddev_over_time(sum(cpu_seconds_total)[30m:1s])";
    int rc = pql_query_range(quick, db, q, strlen(q), 0, 7200000, 10000, &r);
    ck_assert_int_eq(rc, FLINT_ECANCELED);
    ck_assert_int_eq(r.errtype, PQL_ERR_TIMEOUT);
    ck_assert_str_eq(r.error, "query timed out in expression evaluation");
    pql_result_free(&r);
    pql_engine_free(quick);

    volatile int flag = 1;
    pql_set_cancel_flag(&flag);
    rc = run_instant("temp", 0, &r);
    pql_set_cancel_flag(NULL);
    ck_assert_int_eq(rc, FLINT_ECANCELED);
    ck_assert_int_eq(r.errtype, PQL_ERR_CANCELED);
    pql_result_free(&r);
}
END_TEST

START_TEST(test_promql_eval_oom_everywhere) {
    const char *q = "topk(2, sum by (mode) (rate(cpu_seconds_total[5m])) / on() group_left scalar(temp))";
    long failures = 0;
    for (long n = 0; n < 400; n++) {
        pql_result r;
        fl_fault_fail_after(n);
        int rc = pql_query_range(eng, db, q, strlen(q), 600000, 1200000, 60000, &r);
        fl_fault_reset();
        if (rc == 0) {
            ck_assert_uint_eq(r.nmatrix, 2);
            pql_result_free(&r);
            break;
        }
        failures++;
        ck_assert_int_eq(rc, FLINT_ENOMEM);
        ck_assert_int_eq(r.errtype, PQL_ERR_INTERNAL);
        pql_result_free(&r);
    }
    ck_assert_int_gt(failures, 10);
}
END_TEST

START_TEST(test_promql_eval_annotations) {
    pql_result r;
    ck_assert_int_eq(run_instant("rate(temp[5m])", 600000, &r), 0);
    ck_assert_uint_eq(r.nannotations, 1);
    ck_assert_int_eq(r.annotations[0].kind, PQL_ANNO_INFO);
    ck_assert_str_eq(r.annotations[0].text,
                     "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temp\"");
    pql_result_free(&r);
    ck_assert_int_eq(run_instant("quantile(2, temp)", 600000, &r), 0);
    ck_assert_uint_eq(r.nannotations, 1);
    ck_assert_int_eq(r.annotations[0].kind, PQL_ANNO_WARNING);
    ck_assert(isinf(r.vector[0].v));
    pql_result_free(&r);
}
END_TEST

/* Range functions over many samples run on several threads (engine.c
 * select_series_par): the results must be bit for bit those of one thread,
 * from the head and from blocks, and max_over_time (threads) must equal
 * quantile_over_time(1, ...) (always on the calling thread). */
static bool same_matrix(const pql_result *a, const pql_result *b) {
    if (a->nmatrix != b->nmatrix) return false;
    for (size_t i = 0; i < a->nmatrix; i++) {
        if (labels_cmp(&a->matrix[i].metric, &b->matrix[i].metric) != 0) return false;
        if (a->matrix[i].npoints != b->matrix[i].npoints) return false;
        for (size_t k = 0; k < a->matrix[i].npoints; k++)
            if (a->matrix[i].points[k].t != b->matrix[i].points[k].t ||
                memcmp(&a->matrix[i].points[k].v, &b->matrix[i].points[k].v, sizeof(double)) != 0)
                return false;
    }
    return true;
}

START_TEST(test_promql_eval_threads_same_results) {
    tsdb_appender *app = tsdb_appender_begin(db);
    ck_assert_ptr_nonnull(app);
    char id[16];
    uint64_t seed = 12345;
    for (int s = 0; s < 60; s++) {
        snprintf(id, sizeof id, "%d", s);
        label lc[] = {{"__name__", "big_total"}, {"id", id}};
        label lg[] = {{"__name__", "big_gauge"}, {"id", id}};
        labels cl = {lc, 2}, gl = {lg, 2};
        uint64_t rc = 0, rg = 0;
        double c = 0;
        for (int64_t i = 0; i < 2000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t t = 8000000 + i * 15000 + (int64_t)(seed >> 60); /* jittered */
            c += (double)(seed >> 50) / (s % 2 ? 1.0 : 8.0);
            if ((seed >> 40) % 97 == 0) c = 0; /* counter reset */
            double g = s % 3 ? (double)((seed >> 20) % 100000) : (double)(seed >> 11) / 1e6;
            if (i == 500 + s) g = stale_nan();
            ck_assert_int_eq(tsdb_append(app, rc, &cl, t, c, &rc), 0);
            ck_assert_int_eq(tsdb_append(app, rg, &gl, t, g, &rg), 0);
        }
    }
    ck_assert_int_eq(tsdb_commit(app), 0);
    pql_engine_opts o1 = {0}, o4 = {0};
    o1.threads = 1;
    o4.threads = 4;
    pql_engine *one = pql_engine_new(&o1), *four = pql_engine_new(&o4);
    static const char *const qs[] = {
        "rate(big_total[5m])", "sum by (id) (increase(big_total[2m]))", "avg_over_time(big_gauge[1h])",
        "sum_over_time(big_gauge[10m])", "stddev_over_time(big_gauge[5m])", "resets(big_total[30m])",
        "sum(rate(big_total[5m]))", "last_over_time(big_gauge[1m])", "max_over_time(big_gauge[5m] offset 2m)",
    };
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) ck_assert_int_eq(tsdb_flush_head(db), 0); /* now from blocks */
        for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
            pql_result a, b;
            /* 3,001 steps: the sums run on threads too (eval_agg.c) */
            ck_assert_int_eq(pql_query_range(one, db, qs[i], strlen(qs[i]), 8000000, 38000000, 10000, &a), 0);
            ck_assert_int_eq(pql_query_range(four, db, qs[i], strlen(qs[i]), 8000000, 38000000, 10000, &b), 0);
            ck_assert_uint_gt(a.nmatrix, 0);
            ck_assert_msg(same_matrix(&a, &b), "%s differs between 1 and 4 threads", qs[i]);
            pql_result_free(&a);
            pql_result_free(&b);
        }
        pql_result a, b;
        const char *mx = "max_over_time(big_gauge[5m])", *qt = "quantile_over_time(1, big_gauge[5m])";
        ck_assert_int_eq(pql_query_range(four, db, mx, strlen(mx), 8000000, 38000000, 60000, &a), 0);
        ck_assert_int_eq(pql_query_range(four, db, qt, strlen(qt), 8000000, 38000000, 60000, &b), 0);
        ck_assert_uint_eq(a.nmatrix, 60);
        ck_assert(same_matrix(&a, &b));
        pql_result_free(&a);
        pql_result_free(&b);
    }
    /* timing out while the threads run (or while series are listed)
     * releases everything (ASan) */
    pql_engine_opts ot = {0};
    ot.threads = 4;
    ot.timeout_ms = 1;
    pql_engine *quick = pql_engine_new(&ot);
    int timeouts = 0;
    for (int k = 0; k < 10; k++) {
        pql_result r;
        const char *q = "rate(big_total[5m])";
        int rc = pql_query_range(quick, db, q, strlen(q), 8000000, 38000000, 500, &r);
        ck_assert(rc == 0 || rc == FLINT_ECANCELED);
        timeouts += rc == FLINT_ECANCELED;
        pql_result_free(&r);
    }
    ck_assert_int_gt(timeouts, 0);
    pql_engine_free(quick);
    pql_engine_free(one);
    pql_engine_free(four);
}
END_TEST

/* rate and increase (engine: run_counter_windows, extrapolate() with its
 * memo and the zero-clamp shortcut) bit for bit against Prometheus'
 * extrapolatedRate written out plainly here, over counters that start near
 * zero (the clamp), reset, jitter and miss scrapes (the threshold), at
 * several ranges, steps and an offset, from the head and from blocks. */
enum { REF_SERIES = 5, REF_N = 700 };
static int64_t ref_t[REF_SERIES][REF_N];
static double ref_v[REF_SERIES][REF_N];

static bool ref_rate(int s, int64_t T, int64_t range, bool rate, double *out) {
    int64_t start = T - range;
    int lo = 0, hi = 0;
    while (lo < REF_N && ref_t[s][lo] <= start) lo++;
    hi = lo;
    while (hi < REF_N && ref_t[s][hi] <= T) hi++;
    int n = hi - lo;
    if (n < 2) return false;
    const int64_t *t = ref_t[s] + lo;
    const double *v = ref_v[s] + lo;
    double result = v[n - 1] - v[0], last = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < last) result += last;
        last = v[i];
    }
    double to_start = (double)(t[0] - start) / 1000, to_end = (double)(T - t[n - 1]) / 1000;
    double sampled = (double)(t[n - 1] - t[0]) / 1000, avg = sampled / (double)(n - 1);
    double threshold = avg * 1.1, interval = sampled;
    if (to_start >= threshold) to_start = avg / 2;
    if (result > 0 && v[0] >= 0) {
        double to_zero = sampled * (v[0] / result);
        if (to_zero < to_start) to_start = to_zero;
    }
    interval += to_start;
    if (to_end >= threshold) to_end = avg / 2;
    interval += to_end;
    double factor = interval / sampled;
    if (rate) factor /= (double)range / 1000;
    *out = result * factor;
    return true;
}

START_TEST(test_promql_eval_rate_matches_reference) {
    tsdb_appender *app = tsdb_appender_begin(db);
    ck_assert_ptr_nonnull(app);
    tu_rng r = {77};
    for (int s = 0; s < REF_SERIES; s++) {
        char id[16];
        snprintf(id, sizeof id, "%d", s);
        label l[] = {{"__name__", "ref_total"}, {"s", id}};
        labels ls = {l, 2};
        uint64_t ref = 0;
        int64_t t = 20000000;
        double v = s == 0 ? 0.5 : s == 3 ? 1e12 : 0;
        for (int i = 0; i < REF_N; i++) {
            t += 15000 + (s >= 1 ? (int64_t)(tu_next(&r) % 7) - 3 : 0);
            if (s == 2 && i % 50 == 25) t += 45000;   /* missed scrapes */
            if (s == 4 && i % 9 == 0) t += 1;         /* not whole seconds */
            v += s == 0 ? 0.01 * (double)(tu_next(&r) % 5) : (double)(tu_next(&r) % 3000) / 100;
            if (s == 1 && i % 120 == 60) v = (double)(tu_next(&r) % 10); /* reset */
            ref_t[s][i] = t;
            ref_v[s][i] = v;
            ck_assert_int_eq(tsdb_append(app, ref, &ls, t, v, &ref), 0);
        }
    }
    ck_assert_int_eq(tsdb_commit(app), 0);
    static const int64_t ranges[] = {60000, 90000, 300000, 3600000};
    static const int64_t steps[] = {15000, 17000, 60000};
    char q[128];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) ck_assert_int_eq(tsdb_flush_head(db), 0);
        for (int fn = 0; fn < 2; fn++)
            for (size_t ri = 0; ri < sizeof ranges / sizeof *ranges; ri++)
                for (size_t si = 0; si < sizeof steps / sizeof *steps; si++)
                    for (int off = 0; off < 2; off++) {
                        snprintf(q, sizeof q, "%s(ref_total[%llds]%s)", fn ? "increase" : "rate",
                                 (long long)(ranges[ri] / 1000), off ? " offset 1m" : "");
                        int64_t qs = 20000000, qe = 20000000 + REF_N * 15000 + 600000;
                        pql_result res;
                        ck_assert_int_eq(pql_query_range(eng, db, q, strlen(q), qs, qe, steps[si], &res), 0);
                        size_t checked = 0;
                        for (size_t m = 0; m < res.nmatrix; m++) {
                            int s = labels_get(&res.matrix[m].metric, "s")[0] - '0';
                            size_t k = 0;
                            for (int64_t T = qs; T <= qe; T += steps[si]) {
                                double want;
                                bool have = ref_rate(s, T - (off ? 60000 : 0), ranges[ri], !fn, &want);
                                const pql_series_out *o = &res.matrix[m];
                                bool got = k < o->npoints && o->points[k].t == T;
                                ck_assert_msg(have == got, "%s series %d at %lld: reference %d engine %d", q, s,
                                              (long long)T, have, got);
                                if (!got) continue;
                                ck_assert_msg(memcmp(&want, &o->points[k].v, sizeof want) == 0,
                                              "%s series %d at %lld: %.17g, reference %.17g", q, s,
                                              (long long)T, o->points[k].v, want);
                                k++;
                                checked++;
                            }
                            ck_assert_uint_eq(k, res.matrix[m].npoints);
                        }
                        ck_assert_uint_gt(checked, 500);
                        pql_result_free(&res);
                    }
    }
}
END_TEST

Suite *promql_eval_suite(void) {
    Suite *s = suite_create("promql_eval");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_promql_eval_instant_shapes);
    tcase_add_test(tc, test_promql_eval_range_sorted);
    tcase_add_test(tc, test_promql_eval_error_types);
    tcase_add_test(tc, test_promql_eval_sample_limit);
    tcase_add_test(tc, test_promql_eval_timeout_and_cancel);
    tcase_add_test(tc, test_promql_eval_oom_everywhere);
    tcase_add_test(tc, test_promql_eval_annotations);
    tcase_add_test(tc, test_promql_eval_rate_matches_reference);
    tcase_add_test(tc, test_promql_eval_threads_same_results);
    suite_add_tcase(s, tc);
    return s;
}
