/*
 * check_web.c - the HTTP API: the JSON writer (escaping, Prometheus value
 * and timestamp encoding), request parameters (URL-encoded pairs,
 * timestamps, durations, Prometheus' error texts), and a server on a free
 * loopback port answering raw HTTP requests (Grafana's Save & test, shapes,
 * errors, 404/405), the exposition text writer, status figures (retention
 * strings, head cardinality), and queries, label scans, /federate and
 * /metrics served from several threads while another appends (the
 * concurrent part `make tsan` runs under ThreadSanitizer).
 * tests/web/api_test.py covers the API end to end.
 */
#include "storage/chunk.h"
#include "storage/err.h"
#include "testutil.h"
#include "tsdb/db.h"
#include "tsdb/stats.h"
#include "web/api.h"
#include "web/json.h"
#include "web/params.h"
#include "web/status.h"
#include "web/textfmt.h"

#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *out(json_writer *w) {
    static char s[4096];
    ck_assert_int_eq(w->err, 0);
    ck_assert_uint_lt(w->buf.len, sizeof s);
    memcpy(s, w->buf.data, w->buf.len);
    s[w->buf.len] = '\0';
    return s;
}

START_TEST(test_web_json_float) {
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0, "0"}, {1, "1"}, {2, "2"}, {-1, "-1"}, {0.1, "0.1"}, {1.5, "1.5"},
        {123456.789, "123456.789"}, {1e21, "1e+21"}, {1e-7, "1e-07"},
        {0.3, "0.3"}, {1.0 / 3, "0.3333333333333333"}, {100, "100"}, {1234567890123, "1234567890123"},
        {NAN, "NaN"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {-0.0, "-0"}, {0.000123, "0.000123"},
        {9007199254740993.0, "9007199254740992"}, {1435781451.781, "1435781451.781"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        json_format_float(cases[i].v, buf, sizeof buf);
        ck_assert_msg(strcmp(buf, cases[i].s) == 0, "%.17g: got %s want %s", cases[i].v, buf, cases[i].s);
    }
    /* Prometheus' MarshalValue switches to Go's 'e' layout below 1e-6 and
     * from 1e21: the extremes and both sides of each edge */
    static const struct {
        double v;
        const char *s;
    } edges[] = {
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {-1.5e300, "-1.5e+300"},
        {1e-6, "0.000001"}, {9.99e-7, "9.99e-07"}, {-2e-7, "-2e-07"}, {1.25e-100, "1.25e-100"},
        {999999999999999900000.0, "999999999999999900000"}, {1.5e21, "1.5e+21"}, {1e100, "1e+100"},
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        char buf[512];
        json_format_float(edges[i].v, buf, sizeof buf);
        ck_assert_msg(strcmp(buf, edges[i].s) == 0, "%.17g: got %s want %s", edges[i].v, buf, edges[i].s);
    }
}
END_TEST

START_TEST(test_web_json_timestamp) {
    static const struct {
        int64_t ms;
        const char *s;
    } cases[] = {{4000, "4"},          {0, "0"},        {1500, "1.500"},     {1435781451781, "1435781451.781"},
                 {1001, "1.001"},      {1010, "1.010"}, {-1, "-0.001"},     {-1500, "-1.500"},
                 {1435781451000, "1435781451"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_writer w;
        jw_init(&w);
        jw_timestamp(&w, cases[i].ms);
        ck_assert_str_eq(out(&w), cases[i].s);
        jw_free(&w);
    }
}
END_TEST

START_TEST(test_web_json_structure) {
    json_writer w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "status");
    jw_cstr(&w, "success");
    jw_key(&w, "data");
    jw_obj_begin(&w);
    jw_key(&w, "resultType");
    jw_cstr(&w, "scalar");
    jw_key(&w, "result");
    jw_arr_begin(&w);
    jw_timestamp(&w, 4000);
    jw_value(&w, 2);
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "empty");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_key(&w, "n");
    jw_int(&w, -42);
    jw_key(&w, "b");
    jw_bool(&w, true);
    jw_key(&w, "z");
    jw_null(&w);
    jw_obj_end(&w);
    ck_assert_str_eq(out(&w), "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]},"
                              "\"empty\":[],\"n\":-42,\"b\":true,\"z\":null}");
    jw_reset(&w);
    jw_arr_begin(&w);
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_obj_begin(&w);
    jw_obj_end(&w);
    jw_arr_end(&w);
    ck_assert_str_eq(out(&w), "[[],{}]");
    jw_free(&w);
}
END_TEST

START_TEST(test_web_json_escape) {
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\n\r\t", 3, "\"\\n\\r\\t\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"<a&b>", 5, "\"\\u003ca\\u0026b\\u003e\""},
        {"h\xc3\xa9", 3, "\"h\xc3\xa9\""},
        {"\xff", 1, "\"\xef\xbf\xbd\""},
        {"\xe2\x80\xa8", 3, "\"\\u2028\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"\xc3", 1, "\"\xef\xbf\xbd\""},
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_writer w;
        jw_init(&w);
        jw_str(&w, cases[i].in, cases[i].n);
        ck_assert_msg(strcmp(out(&w), cases[i].want) == 0, "case %zu: %s", i, out(&w));
        jw_free(&w);
    }
}
END_TEST

START_TEST(test_web_params_parse) {
    api_params p;
    params_init(&p);
    const char *q = "query=1%2B1&time=4&match[]=up&match%5B%5D=%7Bjob%3D%22a+b%22%7D&&flag&empty=";
    ck_assert_int_eq(params_parse(&p, q, strlen(q)), 0);
    ck_assert_str_eq(params_get(&p, "query"), "1+1");
    ck_assert_str_eq(params_get(&p, "time"), "4");
    ck_assert_uint_eq(params_count(&p, "match[]"), 2);
    ck_assert_str_eq(params_get_nth(&p, "match[]", 0), "up");
    ck_assert_str_eq(params_get_nth(&p, "match[]", 1), "{job=\"a b\"}");
    ck_assert_ptr_null(params_get_nth(&p, "match[]", 2));
    ck_assert_str_eq(params_get(&p, "flag"), "");
    ck_assert_str_eq(params_get(&p, "empty"), "");
    ck_assert_ptr_null(params_get(&p, "nope"));
    /* a second source (the URL after a POST body) appends */
    ck_assert_int_eq(params_parse(&p, "query=x", 7), 0);
    ck_assert_str_eq(params_get(&p, "query"), "1+1");
    ck_assert_uint_eq(params_count(&p, "query"), 2);
    ck_assert_int_eq(params_parse(&p, "a=%zz", 5), FLINT_EINVAL);
    ck_assert_int_eq(params_parse(&p, "a=%4", 4), FLINT_EINVAL);
    ck_assert_int_eq(params_parse(&p, "a=%", 3), FLINT_EINVAL);
    params_free(&p);
    params_free(&p);
}
END_TEST

START_TEST(test_web_params_time) {
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {{"4", 4000},
              {"0", 0},
              {"1435781451.781", 1435781451781},
              {"1435781451.7815", 1435781451782},
              {"-1.5", -1500},
              {"1e3", 1000000},
              {"2015-07-01T20:10:51.781Z", 1435781451781},
              {"2015-07-01T20:10:51Z", 1435781451000},
              {"2015-07-01T22:10:51.781+02:00", 1435781451781},
              {"2015-07-01T19:10:51.781123456-01:00", 1435781451781},
              {"1970-01-01T00:00:00Z", 0},
              {"2024-02-29T00:00:00Z", 1709164800000}};
    char err[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -7;
        ck_assert_msg(params_time("time", ok[i].in, &ms, err, sizeof err) == 0, "%s", ok[i].in);
        ck_assert_msg(ms == ok[i].ms, "%s: %lld", ok[i].in, (long long)ms);
    }
    static const char *bad[] = {"abc", "", " 4", "4 ", "2015-07-01", "2015-07-01T20:10:51",
                                "2015-13-01T20:10:51Z", "2023-02-29T00:00:00Z", "NaN", "Inf",
                                "2015-07-01T20:10:51.Z", "2015-07-01t20:10:51Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        ck_assert_msg(params_time("time", bad[i], &ms, err, sizeof err) == FLINT_EINVAL, "%s", bad[i]);
    }
    int64_t ms;
    params_time("time", "abc", &ms, err, sizeof err);
    ck_assert_str_eq(err, "invalid parameter \"time\": cannot parse \"abc\" to a valid timestamp");
    params_time("start", "", &ms, err, sizeof err);
    ck_assert_str_eq(err, "invalid parameter \"start\": cannot parse \"\" to a valid timestamp");
    /* parseTimeParam: defaults for empty values, a doubled prefix on errors */
    ck_assert_int_eq(params_time_param("time", NULL, 77, &ms, err, sizeof err), 0);
    ck_assert_int_eq(ms, 77);
    ck_assert_int_eq(params_time_param("end", "", API_MAX_TIME_MS, &ms, err, sizeof err), 0);
    ck_assert_int_eq(ms, API_MAX_TIME_MS);
    ck_assert_int_eq(params_time_param("time", "4.5", 77, &ms, err, sizeof err), 0);
    ck_assert_int_eq(ms, 4500);
    ck_assert_int_eq(params_time_param("time", "abc", 77, &ms, err, sizeof err), FLINT_EINVAL);
    ck_assert_str_eq(err, "invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a "
                          "valid timestamp");
}
END_TEST

START_TEST(test_web_params_duration) {
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {{"15", 15000}, {"0.5", 500}, {"15s", 15000}, {"1m0s", 60000}, {"1h30m", 5400000},
              {"4m0s", 240000}, {"100ms", 100}, {"0", 0}, {"-5", -5000}};
    char err[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -7;
        ck_assert_msg(params_duration("step", ok[i].in, &ms, err, sizeof err) == 0, "%s", ok[i].in);
        ck_assert_msg(ms == ok[i].ms, "%s: %lld", ok[i].in, (long long)ms);
    }
    int64_t ms;
    ck_assert_int_eq(params_duration("step", "abc", &ms, err, sizeof err), FLINT_EINVAL);
    ck_assert_str_eq(err, "invalid parameter \"step\": cannot parse \"abc\" to a valid duration");
    ck_assert_int_eq(params_duration("step", "1e300", &ms, err, sizeof err), FLINT_EINVAL);
    ck_assert_str_eq(err, "invalid parameter \"step\": cannot parse \"1e300\" to a valid duration. It overflows int64");
    ck_assert_int_eq(params_duration("timeout", "", &ms, err, sizeof err), FLINT_EINVAL);
    ck_assert_int_eq(params_duration("timeout", "1x", &ms, err, sizeof err), FLINT_EINVAL);
}
END_TEST

START_TEST(test_web_api_requests) {
    const char *dir = tu_tmpdir();
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, NULL, &db), 0);
    static const label up[] = {{"__name__", "up"}, {"job", "a"}};
    labels l = {up, 2};
    tsdb_appender *app = tsdb_appender_begin(db);
    uint64_t ref = 0;
    for (int i = 0; i < 10; i++) ck_assert_int_eq(tsdb_append(app, ref, &l, 1000 * i, i, &ref), 0);
    ck_assert_int_eq(tsdb_commit(app), 0);

    api_options o;
    api_options_default(&o);
    o.listen_address = "127.0.0.1:0";
    o.db = db;
    api_server *srv;
    ck_assert_int_eq(api_server_start(&o, &srv), 0);
    uint16_t port = api_server_port(srv);
    ck_assert_uint_gt(port, 0);

    static const struct {
        const char *req;
        int status;
        const char *body;
    } cases[] = {
        {"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 18\r\n\r\nquery=1%2B1&time=4",
         200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}"},
        {"GET /api/v1/query?query=up&time=5.5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
         "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\","
         "\"job\":\"a\"},\"value\":[5.500,\"5\"]}]}}"},
        {"GET /api/v1/query_range?query=up&start=0&end=2&step=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         200,
         "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"up\","
         "\"job\":\"a\"},\"values\":[[0,\"0\"],[1,\"1\"],[2,\"2\"]]}]}}"},
        {"GET /api/v1/label/job/values HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
         "{\"status\":\"success\",\"data\":[\"a\"]}"},
        {"GET /api/v1/series?match%5B%5D=up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
         "{\"status\":\"success\",\"data\":[{\"__name__\":\"up\",\"job\":\"a\"}]}"},
        {"GET /api/v1/query?query=up&time=abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"time\\\": invalid time "
         "value for 'time': cannot parse \\\"abc\\\" to a valid timestamp\"}"},
        {"GET /api/v1/query_range?query=up&start=0&end=11001&step=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"exceeded maximum resolution of 11,000 points "
         "per timeseries. Try decreasing the query resolution (?step=XX)\"}"},
        {"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "404 page not found\n"},
        {"PUT /api/v1/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 405,
         "Method Not Allowed\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[8192];
        int status = tu_http_do(port, cases[i].req, body, sizeof body);
        ck_assert_msg(status == cases[i].status, "case %zu: status %d", i, status);
        ck_assert_msg(strcmp(body, cases[i].body) == 0, "case %zu: %s", i, body);
    }
    api_server_stop(srv);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_web_textfmt_float) {
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0, "0"}, {1, "1"}, {-1, "-1"}, {2.5, "2.5"}, {0.1, "0.1"}, {100000, "100000"}, {123456, "123456"},
        {1e6, "1e+06"}, {1234567, "1.234567e+06"}, {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-7, "1.5e-07"},
        {1e21, "1e+21"}, {-1234.5, "-1234.5"}, {1.0 / 3, "0.3333333333333333"}, {1.795327528e12, "1.795327528e+12"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {5e-324, "5e-324"}, {NAN, "NaN"},
        {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        text_format_float(cases[i].v, buf, sizeof buf);
        ck_assert_msg(strcmp(buf, cases[i].s) == 0, "%.17g: got %s want %s", cases[i].v, buf, cases[i].s);
    }
    fl_buf b = {0};
    text_writer w = {&b, 0};
    const char *ln[] = {"a", "b"}, *lv[] = {"x\"y\\z\nw", ""};
    tw_sample(&w, "m", ln, lv, 2, 1e6);
    tw_sample(&w, "n", NULL, NULL, 0, -0.5);
    ck_assert_int_eq(w.err, 0);
    ck_assert_int_eq(fl_buf_put(&b, "", 1), 0);
    ck_assert_str_eq((const char *)b.data, "m{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 1e+06\nn -0.5\n");
    fl_buf_free(&b);
}
END_TEST

START_TEST(test_web_status_retention) {
    static const struct {
        int64_t ms, bytes;
        const char *s;
    } cases[] = {
        {15 * 86400000LL, 0, "15d"},
        {0, 1LL << 30, "1GiB"},
        {15 * 86400000LL, 1LL << 30, "15d or 1GiB"},
        {14 * 86400000LL, 3LL << 29, "2w or 1GiB512MiB"},
        {90 * 86400000LL, 100, "90d or 100B"},
        {0, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        status_retention_string(cases[i].ms, cases[i].bytes, buf, sizeof buf);
        ck_assert_msg(strcmp(buf, cases[i].s) == 0, "case %zu: got %s want %s", i, buf, cases[i].s);
    }
    char t[64];
    status_rfc3339(1435781451781LL, t, sizeof t);
    ck_assert_str_eq(t, "2015-07-01T20:10:51.781Z");
    status_rfc3339(1435781451500LL, t, sizeof t);
    ck_assert_str_eq(t, "2015-07-01T20:10:51.5Z");
    status_rfc3339(1435781451000LL, t, sizeof t);
    ck_assert_str_eq(t, "2015-07-01T20:10:51Z");
}
END_TEST

START_TEST(test_web_stats_cardinality) {
    const char *dir = tu_tmpdir();
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, NULL, &db), 0);
    tsdb_head_index_stats st;
    ck_assert_int_eq(tsdb_head_index_stats_get(db, 10, &st), 0);
    ck_assert_uint_eq(st.num_series, 0);
    ck_assert(st.mint == INT64_MAX && st.maxt == INT64_MIN); /* empty head, as Prometheus shows it */
    tsdb_head_index_stats_free(&st);
    /* job=j<k> for k < 3 holds k+1 series of metric m<k>; one metric "big" spans jobs */
    tsdb_appender *app = tsdb_appender_begin(db);
    char name[16], job[16], inst[16];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i <= k; i++) {
            snprintf(name, sizeof name, "m%d", k);
            snprintf(job, sizeof job, "j%d", k);
            snprintf(inst, sizeof inst, "i%d", i);
            label lv[] = {{"__name__", name}, {"instance", inst}, {"job", job}};
            labels l = {lv, 3};
            ck_assert_int_eq(tsdb_append(app, 0, &l, 1000 + k, 1, NULL), 0);
        }
    label big[] = {{"__name__", "big"}, {"job", "j0"}};
    labels lb = {big, 2};
    ck_assert_int_eq(tsdb_append(app, 0, &lb, 5000, 1, NULL), 0);
    ck_assert_int_eq(tsdb_commit(app), 0);
    ck_assert_int_eq(tsdb_head_index_stats_get(db, 2, &st), 0);
    ck_assert_uint_eq(st.num_series, 7);
    ck_assert_int_eq(st.mint, 1000);
    ck_assert_int_eq(st.maxt, 5000);
    /* pairs: __name__ x4, instance x3, job x3 */
    ck_assert_uint_eq(st.num_label_pairs, 10);
    ck_assert_uint_eq(st.series_by_metric.n, 2);
    ck_assert_str_eq(st.series_by_metric.v[0].name, "m2");
    ck_assert_uint_eq(st.series_by_metric.v[0].count, 3);
    ck_assert_str_eq(st.series_by_metric.v[1].name, "m1");
    ck_assert_str_eq(st.values_by_label.v[0].name, "__name__");
    ck_assert_uint_eq(st.values_by_label.v[0].count, 4);
    /* instance: i0 x3, i1 x2, i2 x1 = 6 series x 2 bytes; job: j0 x2, j1 x2, j2 x3 = 14 */
    ck_assert_str_eq(st.bytes_by_label.v[0].name, "__name__");
    ck_assert_str_eq(st.bytes_by_label.v[1].name, "job");
    ck_assert_uint_eq(st.bytes_by_label.v[1].count, 14);
    /* three pairs with 3 series each: ties go by name */
    ck_assert_str_eq(st.series_by_pair.v[0].name, "__name__=m2");
    ck_assert_uint_eq(st.series_by_pair.v[0].count, 3);
    ck_assert_str_eq(st.series_by_pair.v[1].name, "instance=i0");
    tsdb_head_index_stats_free(&st);
    int64_t lo, hi;
    tsdb_time_range(db, &lo, &hi);
    ck_assert(lo == 1000 && hi == 5000);
    tsdb_counters c;
    tsdb_get_counters(db, &c);
    ck_assert_uint_ge(c.wal_fsyncs, 1);
    ck_assert_int_ge(c.wal_segment, 0);
    ck_assert_uint_eq(c.wal_corruptions, 0);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- concurrency: requests on several threads while another appends ---------- */

typedef struct append_ctx {
    tsdb *db;
    int64_t start_ms;
    atomic_int stop;
    atomic_int commits;
    int err;
} append_ctx;

static void *append_loop(void *arg) {
    append_ctx *c = arg;
    static const label a[] = {{"__name__", "live"}, {"instance", "a"}, {"job", "w"}};
    static const label b[] = {{"__name__", "live"}, {"instance", "b"}, {"job", "w"}};
    const labels sets[] = {{a, 3}, {b, 3}};
    uint64_t refs[2] = {0, 0};
    for (int64_t i = 0; !atomic_load(&c->stop) && i < 200000; i++) {
        tsdb_appender *app = tsdb_appender_begin(c->db);
        if (!app) {
            c->err = FLINT_ENOMEM;
            break;
        }
        for (int s = 0; s < 2; s++)
            if ((c->err = tsdb_append(app, refs[s], &sets[s], c->start_ms + i, (double)i, &refs[s]))) break;
        if (c->err) {
            tsdb_rollback(app);
            break;
        }
        if ((c->err = tsdb_commit(app))) break;
        atomic_fetch_add(&c->commits, 1);
    }
    return NULL;
}

typedef struct client_ctx {
    uint16_t port;
    int64_t now_s;
    int failures;
    char last_failure[256];
} client_ctx;

static void *client_loop(void *arg) {
    client_ctx *c = arg;
    char reqs[8][512];
    snprintf(reqs[0], sizeof reqs[0], "GET /api/v1/query?query=sum(live)&time=%lld HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n", (long long)c->now_s + 5);
    snprintf(reqs[1], sizeof reqs[1], "GET /api/v1/query_range?query=rate(live%%5B1s%%5D)&start=%lld&end=%lld&step=1 "
             "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", (long long)c->now_s - 5, (long long)c->now_s + 5);
    snprintf(reqs[2], sizeof reqs[2], "GET /api/v1/labels?start=%lld&end=%lld HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n", (long long)c->now_s, (long long)c->now_s + 100);
    snprintf(reqs[3], sizeof reqs[3], "GET /api/v1/label/instance/values HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    snprintf(reqs[4], sizeof reqs[4], "GET /federate?match%%5B%%5D=live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    snprintf(reqs[5], sizeof reqs[5], "GET /api/v1/status/tsdb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    snprintf(reqs[6], sizeof reqs[6], "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    snprintf(reqs[7], sizeof reqs[7], "GET /api/v1/series?match%%5B%%5D=live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 24; i++) {
        static _Thread_local char body[65536];
        int status = tu_http_do(c->port, reqs[i % 8], body, sizeof body);
        if (status != 200) {
            c->failures++;
            snprintf(c->last_failure, sizeof c->last_failure, "%d %.200s", status, body);
        }
    }
    return NULL;
}

START_TEST(test_web_api_concurrent_append) {
    const char *dir = tu_tmpdir();
    tsdb *db;
    tsdb_options to;
    tsdb_options_default(&to);
    to.wal_sync_commits = false; /* the appender spins: no fsync per commit */
    ck_assert_int_eq(tsdb_open(dir, &to, &db), 0);
    api_options o;
    api_options_default(&o);
    o.listen_address = "127.0.0.1:0";
    o.db = db;
    o.max_concurrent_queries = 2; /* 3 clients: some wait for a slot */
    o.query_queue_wait_ms = 30000;
    api_server *srv;
    ck_assert_int_eq(api_server_start(&o, &srv), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    append_ctx ac = {.db = db, .start_ms = (int64_t)ts.tv_sec * 1000};
    pthread_t writer, clients[3];
    client_ctx cc[3];
    ck_assert_int_eq(pthread_create(&writer, NULL, append_loop, &ac), 0);
    while (atomic_load(&ac.commits) < 10 && !ac.err) usleep(1000); /* some data first */
    for (int i = 0; i < 3; i++) {
        cc[i] = (client_ctx){.port = api_server_port(srv), .now_s = ts.tv_sec};
        ck_assert_int_eq(pthread_create(&clients[i], NULL, client_loop, &cc[i]), 0);
    }
    for (int i = 0; i < 3; i++) pthread_join(clients[i], NULL);
    atomic_store(&ac.stop, 1);
    pthread_join(writer, NULL);
    ck_assert_int_eq(ac.err, 0);
    for (int i = 0; i < 3; i++) ck_assert_msg(cc[i].failures == 0, "client %d: %s", i, cc[i].last_failure);
    /* every slot was given back */
    char body[65536];
    ck_assert_int_eq(tu_http_do(api_server_port(srv), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             body, sizeof body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\nprometheus_engine_queries 0\n"));
    ck_assert_ptr_nonnull(strstr(body, "\nprometheus_engine_queries_concurrent_max 2\n"));
    api_server_stop(srv);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_web_api_bad_listen) {
    api_options o;
    api_options_default(&o);
    o.db = (tsdb *)&o; /* never used: the address fails first */
    api_server *srv = (api_server *)&o;
    o.listen_address = "127.0.0.1";
    ck_assert_int_eq(api_server_start(&o, &srv), FLINT_EINVAL);
    ck_assert_ptr_null(srv);
    o.listen_address = "127.0.0.1:99999";
    ck_assert_int_eq(api_server_start(&o, &srv), FLINT_EINVAL);
    o.listen_address = "no.such.host.invalid:80";
    ck_assert_int_eq(api_server_start(&o, &srv), FLINT_EINVAL);
    o.db = NULL;
    o.listen_address = "127.0.0.1:0";
    ck_assert_int_eq(api_server_start(&o, &srv), FLINT_EINVAL);
    api_server_stop(NULL);
}
END_TEST

Suite *web_suite(void) {
    Suite *s = suite_create("web");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_web_json_float);
    tcase_add_test(tc, test_web_json_timestamp);
    tcase_add_test(tc, test_web_json_structure);
    tcase_add_test(tc, test_web_json_escape);
    tcase_add_test(tc, test_web_params_parse);
    tcase_add_test(tc, test_web_params_time);
    tcase_add_test(tc, test_web_params_duration);
    tcase_add_test(tc, test_web_api_requests);
    tcase_add_test(tc, test_web_api_bad_listen);
    tcase_add_test(tc, test_web_textfmt_float);
    tcase_add_test(tc, test_web_status_retention);
    tcase_add_test(tc, test_web_stats_cardinality);
    tcase_add_test(tc, test_web_api_concurrent_append);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
