/*
 * apiserver.c - a tiny flint with known data for tests/web/api_test.py:
 * opens a database in a fresh temporary directory, appends a few series
 * through the tsdb appender, serves the HTTP API on the listen address
 * given (default 127.0.0.1:0, a free port), prints "listening on PORT"
 * and waits for SIGTERM or SIGINT, then stops and removes the directory.
 *
 *   apiserver [listen-address]
 *
 * Data (every 10 s from t=1000 s to t=2000 s inclusive, 101 samples):
 *   up{instance="localhost:9090",job="prometheus"}        1
 *   up{instance="localhost:9100",job="node"}              0
 *   http_requests_total{code="200",job="api"}             10 * i
 *   http_requests_total{code="500",job="api"}             i
 *   weird{v="a\"b<é>\n"}                                  NaN at every step
 */
#include "storage/err.h"
#include "tsdb/db.h"
#include "web/api.h"

#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv) {
    const char *listen = argc > 1 ? argv[1] : "127.0.0.1:0";
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
    o.retention_ms = 0;
    tsdb *db = NULL;
    api_server *srv = NULL;
    int rc = tsdb_open(dir, &o, &db);
    if (rc == 0) rc = append_all(db);
    if (rc == 0) {
        api_options ao;
        api_options_default(&ao);
        ao.listen_address = listen;
        ao.db = db;
        ao.engine.timeout_ms = 10000;
        rc = api_server_start(&ao, &srv);
    }
    if (rc) {
        fprintf(stderr, "apiserver: %s\n", flint_errmsg());
    } else {
        printf("listening on %u\n", api_server_port(srv));
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
    }
    api_server_stop(srv);
    tsdb_close(db);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc ? 1 : 0;
}
