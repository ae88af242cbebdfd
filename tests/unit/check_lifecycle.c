/*
 * check_lifecycle.c - the scrape manager's parts of the HTTP API: POST/PUT
 * /-/reload (Prometheus' lifecycle API: 403 without --web.enable-lifecycle,
 * 200 with an empty body, 500 with the error) and /api/v1/metadata from
 * the manager (the server scrapes its own /metrics, which has HELP/TYPE
 * lines), with its metric, limit and limit_per_metric parameters.
 */
#include "scrape/scrapeloop.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "testutil.h"
#include "tsdb/db.h"
#include "web/api.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int get(uint16_t port, const char *path, char *body, size_t cap) {
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    return tu_http_do(port, req, body, cap);
}

static int send_empty(uint16_t port, const char *method, const char *path, char *body, size_t cap) {
    char req[512];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
             method, path);
    return tu_http_do(port, req, body, cap);
}

static int post(uint16_t port, const char *path, char *body, size_t cap) {
    return send_empty(port, "POST", path, body, cap);
}

typedef struct reload_recorder {
    int calls;
    int fail;
} reload_recorder;

static int recorded_reload(void *ctx, char **errmsg) {
    reload_recorder *s = ctx;
    s->calls++;
    if (!s->fail) return 0;
    *errmsg = fl_strdup("couldn't load configuration (--config.file=\"x.yml\"): x.yml:3: bad");
    return -1;
}

START_TEST(test_lifecycle_reload) {
    const char *dir = tu_tmpdir();
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, NULL, &db), 0);
    reload_recorder rec = {0, 0};
    static char body[65536];
    for (int enabled = 0; enabled < 2; enabled++) {
        api_options o;
        api_options_default(&o);
        o.listen_address = "127.0.0.1:0";
        o.db = db;
        o.reload = recorded_reload;
        o.reload_ctx = &rec;
        o.enable_lifecycle = enabled;
        api_server *srv;
        ck_assert_int_eq(api_server_start(&o, &srv), 0);
        uint16_t port = api_server_port(srv);
        if (!enabled) {
            ck_assert_int_eq(post(port, "/-/reload", body, sizeof body), 403);
            ck_assert_str_eq(body, "Lifecycle API is not enabled.");
            ck_assert_int_eq(rec.calls, 0);
        } else {
            ck_assert_int_eq(post(port, "/-/reload", body, sizeof body), 200);
            ck_assert_str_eq(body, "");
            ck_assert_int_eq(rec.calls, 1);
            rec.fail = 1;
            ck_assert_int_eq(post(port, "/-/reload", body, sizeof body), 500);
            ck_assert_str_eq(body, "failed to reload config: couldn't load configuration (--config.file=\"x.yml\"): "
                                   "x.yml:3: bad\n");
            ck_assert_int_eq(rec.calls, 2);
            ck_assert_int_eq(get(port, "/-/reload", body, sizeof body), 405);
            ck_assert_int_eq(rec.calls, 2);
            rec.fail = 0; /* PUT as well as POST, as Prometheus routes it */
            ck_assert_int_eq(send_empty(port, "PUT", "/-/reload", body, sizeof body), 200);
            ck_assert_int_eq(rec.calls, 3);
        }
        api_server_stop(srv);
    }
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_lifecycle_metadata_api) {
    const char *dir = tu_tmpdir();
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, NULL, &db), 0);
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    api_options o;
    api_options_default(&o);
    o.listen_address = "127.0.0.1:0";
    o.db = db;
    o.scraper = m;
    api_server *srv;
    ck_assert_int_eq(api_server_start(&o, &srv), 0);
    uint16_t port = api_server_port(srv);
    static char body[65536];
    ck_assert_int_eq(get(port, "/api/v1/metadata", body, sizeof body), 200);
    ck_assert_str_eq(body, "{\"status\":\"success\",\"data\":{}}");

    /* two targets (the same /metrics under two jobs): one entry each */
    char url[128], inst[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned)port);
    snprintf(inst, sizeof inst, "127.0.0.1:%u", (unsigned)port);
    label l1[] = {{"instance", inst}, {"job", "a"}}, l2[] = {{"instance", inst}, {"job", "b"}};
    scrape_target_spec s[2] = {{.url = url, .labels = l1, .nlabels = 2, .interval_ms = 200, .timeout_ms = 200},
                               {.url = url, .labels = l2, .nlabels = 2, .interval_ms = 200, .timeout_ms = 200}};
    ck_assert_int_eq(scrape_manager_set_targets(m, s, 2), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    for (int i = 0; i < 200; i++) {
        scrape_target_status *st;
        size_t n;
        ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
        bool done = n == 2 && st[0].scrapes >= 1 && st[1].scrapes >= 1;
        scrape_target_status_free(st, n);
        if (done) break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(get(port, "/api/v1/metadata?metric=prometheus_tsdb_head_series", body, sizeof body), 200);
    ck_assert_str_eq(body, "{\"status\":\"success\",\"data\":{\"prometheus_tsdb_head_series\":[{\"type\":\"gauge\","
                           "\"help\":\"Total number of series in the head block.\",\"unit\":\"\"}]}}");
    ck_assert_int_eq(get(port, "/api/v1/metadata?limit=2", body, sizeof body), 200);
    int keys = 0;
    for (const char *p = body; (p = strstr(p, "\":[{")); p++) keys++;
    ck_assert_int_eq(keys, 2);
    ck_assert_int_eq(get(port, "/api/v1/metadata?limit=0", body, sizeof body), 200);
    ck_assert_str_eq(body, "{\"status\":\"success\",\"data\":{}}");
    ck_assert_int_eq(get(port, "/api/v1/metadata?metric=nope", body, sizeof body), 200);
    ck_assert_str_eq(body, "{\"status\":\"success\",\"data\":{}}");
    ck_assert_int_eq(get(port, "/api/v1/metadata?limit=x", body, sizeof body), 400);
    ck_assert_msg(strstr(body, "limit must be a number"), "%s", body);
    ck_assert_int_eq(get(port, "/api/v1/metadata?limit_per_metric=x", body, sizeof body), 400);
    ck_assert_msg(strstr(body, "limit_per_metric must be a number"), "%s", body);
    api_server_stop(srv);
    scrape_manager_free(m);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

Suite *lifecycle_suite(void) {
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_lifecycle_reload);
    tcase_add_test(tc, test_lifecycle_metadata_api);
    suite_add_tcase(s, tc);
    return s;
}
