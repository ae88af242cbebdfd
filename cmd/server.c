/*
 * server.c - `flint server`: opens the database (lock, WAL replay), runs
 * maintenance (head cut into blocks, compaction, retention) once a minute,
 * and shuts down cleanly on SIGTERM/SIGINT (WAL synced, lock released).
 * Flags use Prometheus' names so existing command lines carry over.
 *
 * Scraping (issue 3) and the HTTP API/UI (issue 5) attach here; until they
 * land, --config.file and --web.listen-address are parsed and reported.
 */
#include "cmd/cmd.h"
#include "cmd/flags.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "tsdb/db.h"
#include "web/api.h"
#include "cmd/targets.h"
#include "scrape/config.h"
#include "scrape/scrapeloop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_hup(int sig) {
    (void)sig;
    reload_requested = 1;
}

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

int cmd_db_options(const flag_set *fs, tsdb_options *o) {
    tsdb_options_default(o);
    const char *rt = flag_str(fs, "storage.tsdb.retention.time");
    if (rt && *rt) {
        if (duration_parse(rt, strlen(rt), &o->retention_ms)) {
            fprintf(stderr, "error: --storage.tsdb.retention.time: %s\n", flint_errmsg());
            return -1;
        }
    }
    const char *rs = flag_str(fs, "storage.tsdb.retention.size");
    if (rs && *rs) {
        if (bytesize_parse(rs, &o->retention_bytes)) {
            fprintf(stderr, "error: --storage.tsdb.retention.size: %s\n", flint_errmsg());
            return -1;
        }
    }
    return 0;
}

int cmd_logging(const flag_set *fs) {
    const char *lvl = flag_str(fs, "log.level");
    int level = flint_log_level_parse(lvl ? lvl : "info");
    if (level < 0) {
        fprintf(stderr, "error: --log.level must be one of debug, info, warn, error\n");
        return -1;
    }
    flint_log_set_level(level);
    const char *fmt = flag_str(fs, "log.format");
    if (fmt && strcmp(fmt, "logfmt") && strcmp(fmt, "json")) {
        fprintf(stderr, "error: --log.format must be logfmt or json\n");
        return -1;
    }
    flint_log_set_json(fmt && !strcmp(fmt, "json"));
    return 0;
}

/* --query.* flags into the engine options the HTTP API runs queries with. */
static int engine_options(const flag_set *fs, pql_engine_opts *eo) {
    memset(eo, 0, sizeof *eo);
    const char *to = flag_str(fs, "query.timeout");
    if (duration_parse(to, strlen(to), &eo->timeout_ms) || eo->timeout_ms <= 0) {
        fprintf(stderr, "error: --query.timeout: a positive duration like 2m is required\n");
        return -1;
    }
    const char *lb = flag_str(fs, "query.lookback-delta");
    if (duration_parse(lb, strlen(lb), &eo->lookback_ms) || eo->lookback_ms <= 0) {
        fprintf(stderr, "error: --query.lookback-delta: a positive duration like 5m is required\n");
        return -1;
    }
    const char *ms = flag_str(fs, "query.max-samples");
    char *end;
    long long n = strtoll(ms, &end, 10);
    if (!*ms || *end || n <= 0) {
        fprintf(stderr, "error: --query.max-samples: a positive integer is required\n");
        return -1;
    }
    eo->max_samples = n;
    return 0;
}

/* Load the configuration (the embedded self-scrape one when path is "")
 * and hand its targets to the scrape manager. -1 (logged) on error. */
static int apply_config(const char *path, scrape_manager *sm) {
    scrape_config *c = NULL;
    int rc = *path ? scrape_config_load(path, &c, NULL, NULL) : scrape_config_default(&c);
    if (rc) {
        flint_log(FLINT_LOG_ERROR, "main", "loading the configuration failed", "err=\"%s\"", flint_errmsg());
        return -1;
    }
    target_list *tl;
    rc = target_list_build(c, &tl);
    if (rc == 0) {
        size_t n;
        const scrape_target_spec *specs = target_list_specs(tl, &n);
        rc = scrape_manager_set_targets(sm, specs, n);
        flint_log(FLINT_LOG_INFO, "scrape", "targets loaded", "jobs=%zu targets=%zu", c->njobs, n);
        target_list_free(tl);
    }
    if (rc) flint_log(FLINT_LOG_ERROR, "main", "applying the configuration failed", "err=\"%s\"", flint_errmsg());
    scrape_config_free(c);
    return rc ? -1 : 0;
}

int cmd_server(int argc, char **argv) {
    flag_def defs[] = {
        {"config.file", FLAG_STRING, "", "Prometheus configuration file (default: the embedded self-scrape config)", 0, 0},
        {"storage.tsdb.path", FLAG_STRING, "data/", "base path for metrics storage", 0, 0},
        {"storage.tsdb.retention.time", FLAG_STRING, "15d", "how long to retain samples", 0, 0},
        {"storage.tsdb.retention.size", FLAG_STRING, "0", "maximum bytes of storage (units B KB MB GB TB PB); 0 = no limit", 0, 0},
        {"web.listen-address", FLAG_STRING, "0.0.0.0:9090", "address to listen on for the UI and API", 0, 0},
        {"query.timeout", FLAG_STRING, "2m", "maximum time a query may take before being aborted", 0, 0},
        {"query.max-samples", FLAG_STRING, "50000000", "maximum number of samples a single query can load into memory", 0, 0},
        {"query.lookback-delta", FLAG_STRING, "5m", "how far back to look for samples of an instant selector", 0, 0},
        {"log.level", FLAG_STRING, "info", "debug, info, warn or error", 0, 0},
        {"log.format", FLAG_STRING, "logfmt", "logfmt or json", 0, 0},
    };
    flag_set fs = {.usage = "flint server [flags]",
                   .about = "Run the flint server: storage with WAL, head, blocks, compaction and retention.",
                   .flags = defs,
                   .nflags = sizeof defs / sizeof defs[0]};
    int r = flags_parse(&fs, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    if (fs.npos) {
        fprintf(stderr, "error: unexpected argument %s\n", fs.pos[0]);
        return 2;
    }
    if (cmd_logging(&fs)) return 2;
    fl_mem_policy_server();
    tsdb_options o;
    if (cmd_db_options(&fs, &o)) return 2;
    api_options ao;
    api_options_default(&ao);
    if (engine_options(&fs, &ao.engine)) return 2;
    const char *path = flag_str(&fs, "storage.tsdb.path");
    flint_log(FLINT_LOG_INFO, "main", "starting flint", "version=%s storage=%s", FLINT_VERSION, path);
    tsdb *db;
    if (tsdb_open(path, &o, &db)) {
        flint_log(FLINT_LOG_ERROR, "main", "opening storage failed", "err=\"%s\"", flint_errmsg());
        return 1;
    }
    const char *cfg = flag_str(&fs, "config.file");
    scrape_manager *sm = scrape_manager_new(db);
    if (!sm || apply_config(cfg, sm) != 0) {
        if (sm) scrape_manager_free(sm);
        tsdb_close(db);
        return 1;
    }
    scrape_manager_run(sm);
    ao.listen_address = flag_str(&fs, "web.listen-address");
    ao.db = db;
    ao.scraper = sm;
    ao.version = FLINT_VERSION; /* semver: Grafana reads it */
    api_server *api;
    if (api_server_start(&ao, &api)) {
        flint_log(FLINT_LOG_ERROR, "web", "starting the HTTP API failed", "err=\"%s\"", flint_errmsg());
        scrape_manager_free(sm);
        tsdb_close(db);
        return 1;
    }
    flint_log(FLINT_LOG_INFO, "web", "listening", "address=%s port=%u", ao.listen_address,
              (unsigned)api_server_port(api));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    flint_log(FLINT_LOG_INFO, "main", "server is ready", NULL);
    time_t last = time(NULL);
    unsigned ticks = 0;
    while (!stop_requested) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (++ticks % 5 == 0) fl_mem_release(); /* what scrapes and queries freed */
        if (reload_requested) {
            reload_requested = 0;
            flint_log(FLINT_LOG_INFO, "main", "reloading configuration", "file=\"%s\"", *cfg ? cfg : "(embedded)");
            apply_config(cfg, sm); /* on error the previous targets stay */
        }
        if (time(NULL) - last >= 60) {
            last = time(NULL);
            if (tsdb_maintain(db))
                flint_log(FLINT_LOG_ERROR, "tsdb", "maintenance failed", "err=\"%s\"", flint_errmsg());
        }
    }
    flint_log(FLINT_LOG_INFO, "main", "received termination signal, shutting down", NULL);
    api_server_stop(api); /* waits for in-flight queries before the DB closes */
    scrape_manager_free(sm); /* stops the scrape thread before the DB closes */
    tsdb_close(db);
    flint_log(FLINT_LOG_INFO, "main", "see you next time", NULL);
    return 0;
}
