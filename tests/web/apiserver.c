/*
 * apiserver.c - a tiny flint with known data for tests/web/api_test.py:
 * opens a database in a fresh temporary directory, appends a few series
 * through the tsdb appender, serves the HTTP API on the listen address
 * given (default 127.0.0.1:0, a free port), prints "listening on PORT"
 * and waits for SIGTERM or SIGINT, then stops and removes the directory.
 *
 *   apiserver [listen-address [max-concurrent-queries]]
 *
 * It prints "listening on PORT now MS", MS being the server's "now" the
 * recent series below are relative to.
 * Data (every 10 s from t=1000 s to t=2000 s inclusive, 101 samples):
 *   up{instance="localhost:9090",job="prometheus"}        1
 *   up{instance="localhost:9100",job="node"}              0
 *   http_requests_total{code="200",job="api"}             10 * i
 *   http_requests_total{code="500",job="api"}             i
 *   weird{v="a\"b<é>\n"}                                  NaN at every step
 * Recent series, for /federate and time-bounded label queries (now = MS):
 *   fed_gauge{instance="a",job="fed"}    1 at now-120 s, 2.5 at now-60 s
 *   fed_gauge{instance="b",job="fed"}    7 at now-600 s (outside the 5 m lookback)
 *   fed_counter{job="fed"}               1e6 at now-30 s
 *   fed_stale{job="fed"}                 5 at now-90 s, a stale marker at now-30 s
 * Status pages: a fixed configuration text, the flags
 * query.max-concurrency and storage.tsdb.retention.*, retention 15d or 1GiB.
 */
#include "storage/chunk.h"
#include "storage/err.h"
#include "tsdb/db.h"
#include "web/api.h"

#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int append_all(tsdb *db) {
    static const label up1[] = {{"__name__", "up"}, {"instance", "localhost:9090"}, {"job", "prometheus"}};
    static const label up2[] = {{"__name__", "up"}, {"instance", "localhost:9100"}, {"job", "node"}};
    static const label r200[] = {{"__name__", "http_requests_total"}, {"code", "200"}, {"job", "api"}};
    static const label r500[] = {{"__name__", "http_requests_total"}, {"code", "500"}, {"job", "api"}};
    static const label weird[] = {{"__name__", "weird"}, {"v", "a\"b<\xc3\xa9>\n"}};
    const labels sets[] = {{up1, 3}, {up2, 3}, {r200, 3}, {r500, 3}, {weird, 2}};
    uint64_t refs[5] = {0};
    tsdb_appender *app = tsdb_appender_begin(db);
    if (!app) return FLINT_ENOMEM;
    for (int i = 0; i <= 100; i++) {
        int64_t t = 1000000 + (int64_t)i * 10000;
        const double vals[] = {1, 0, 10.0 * i, i, NAN};
        for (int s = 0; s < 5; s++) {
            int rc = tsdb_append(app, refs[s], &sets[s], t, vals[s], &refs[s]);
            if (rc) {
                tsdb_rollback(app);
                return rc;
            }
        }
    }
    return tsdb_commit(app);
}

static int append_recent(tsdb *db, int64_t now) {
    static const label ga[] = {{"__name__", "fed_gauge"}, {"instance", "a"}, {"job", "fed"}};
    static const label gb[] = {{"__name__", "fed_gauge"}, {"instance", "b"}, {"job", "fed"}};
    static const label fc[] = {{"__name__", "fed_counter"}, {"job", "fed"}};
    static const label fs[] = {{"__name__", "fed_stale"}, {"job", "fed"}};
    const struct {
        labels l;
        int64_t ago_s;
        double v;
    } pts[] = {{{ga, 3}, 120, 1}, {{ga, 3}, 60, 2.5}, {{gb, 3}, 600, 7}, {{fc, 2}, 30, 1e6},
               {{fs, 2}, 90, 5},  {{fs, 2}, 30, stale_nan()}};
    tsdb_appender *app = tsdb_appender_begin(db);
    if (!app) return FLINT_ENOMEM;
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        int rc = tsdb_append(app, 0, &pts[i].l, now - pts[i].ago_s * 1000, pts[i].v, NULL);
        if (rc) {
            tsdb_rollback(app);
            return rc;
        }
    }
    return tsdb_commit(app);
}

static const char config_yaml[] = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: fed\n";

static int config_info(void *ctx, fl_buf *yaml, bool *ok, int64_t *last_ms) {
    *ok = true;
    *last_ms = *(const int64_t *)ctx;
    if (yaml && fl_buf_put(yaml, config_yaml, sizeof config_yaml - 1)) return FLINT_ENOMEM;
    return 0;
}

int main(int argc, char **argv) {
    const char *listen = argc > 1 ? argv[1] : "127.0.0.1:0";
    const char *cap = argc > 2 ? argv[2] : "20";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000; /* whole seconds: easy to compare */
    char dir[] = "/tmp/flint-apiserver-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */

    tsdb_options o;
    tsdb_options_default(&o);
    o.retention_ms = 15 * 86400 * 1000LL; /* no maintenance runs here: nothing is deleted */
    o.retention_bytes = 1LL << 30;
    tsdb *db = NULL;
    api_server *srv = NULL;
    int rc = tsdb_open(dir, &o, &db);
    if (rc == 0) rc = append_all(db);
    if (rc == 0) rc = append_recent(db, now);
    static const char *flag_names[] = {"query.max-concurrency", "storage.tsdb.retention.time",
                                       "storage.tsdb.retention.size"};
    const char *flag_values[] = {cap, "15d", "1GB"};
    if (rc == 0) {
        api_options ao;
        api_options_default(&ao);
        ao.listen_address = listen;
        ao.db = db;
        ao.engine.timeout_ms = 10000;
        ao.max_concurrent_queries = (unsigned)atoi(cap);
        ao.config_info = config_info;
        ao.config_ctx = &now;
        ao.flag_names = flag_names;
        ao.flag_values = flag_values;
        ao.nflags = 3;
        rc = api_server_start(&ao, &srv);
    }
    if (rc) {
        fprintf(stderr, "apiserver: %s\n", flint_errmsg());
    } else {
        printf("listening on %u now %lld\n", api_server_port(srv), (long long)now);
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
    }
    api_server_stop(srv);
    tsdb_close(db);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc ? 1 : 0;
}
