/*
 * server.c - `flint server`: opens the database (lock, WAL replay), runs
 * maintenance (head cut into blocks, compaction, retention) once a minute,
 * and shuts down cleanly on SIGTERM/SIGINT (WAL synced, lock released).
 * Flags use Prometheus' names so existing command lines carry over.
 *
 * Scraping: the configuration's targets (static and file_sd) go to the
 * scrape manager at start; file_sd files are polled every
 * FILESD_POLL_SECONDS (glob again, stat, re-read what changed) and the
 * targets rebuilt when a file changed. The configuration is reloaded on
 * SIGHUP and, with --web.enable-lifecycle, on POST /-/reload; a failed
 * reload keeps the running configuration. Unchanged targets keep their
 * state (scrape_manager_set_targets).
 */
#include "cmd/cmd.h"
#include "cmd/flags.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "tsdb/db.h"
#include "web/api.h"
#include "web/webconfig.h"
#include "cmd/targets.h"
#include "scrape/config.h"
#include "scrape/scrapeloop.h"

#include "storage/alloc.h"
#include "storage/buf.h"

#include <pthread.h>
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

/* What /api/v1/status/config and runtimeinfo show: the text of the last
 * configuration loaded and whether the last (re)load worked. Reloads run
 * on the main thread, the API reads on connection threads: hence the lock. */
static struct {
    pthread_mutex_t mu;
    fl_buf yaml;
    bool ok;
    int64_t last_ms;
} loaded_config = {PTHREAD_MUTEX_INITIALIZER, {0}, false, 0};

static int config_info(void *ctx, fl_buf *yaml, bool *ok, int64_t *last_ms) {
    (void)ctx;
    int rc = 0;
    pthread_mutex_lock(&loaded_config.mu);
    *ok = loaded_config.ok;
    *last_ms = loaded_config.last_ms;
    if (yaml && loaded_config.yaml.len) rc = fl_buf_put(yaml, loaded_config.yaml.data, loaded_config.yaml.len);
    pthread_mutex_unlock(&loaded_config.mu);
    return rc;
}

/* Record a load: its file text (or the embedded default) on success. */
static void note_config(const char *path, bool ok) {
    fl_buf text = {0};
    if (ok && *path) {
        FILE *f = fopen(path, "rb");
        char chunk[4096];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) fl_buf_put(&text, chunk, n);
        if (f) fclose(f);
    } else if (ok) {
        fl_buf_put(&text, scrape_default_config_yaml, strlen(scrape_default_config_yaml));
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&loaded_config.mu);
    loaded_config.ok = ok;
    if (ok) {
        fl_buf_free(&loaded_config.yaml);
        loaded_config.yaml = text;
        loaded_config.last_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    pthread_mutex_unlock(&loaded_config.mu);
}

/* Prometheus watches file_sd files with inotify and re-reads them every
 * refresh_interval (default 5m); flint polls mtime/size/inode every few
 * seconds instead, which notices the same changes without a watcher. */
#define FILESD_POLL_SECONDS 5

/* The configuration in force and its file_sd state. The main loop (SIGHUP,
 * polling) and the HTTP threads (POST /-/reload) change it under mu. */
typedef struct server_config {
    pthread_mutex_t mu;
    const char *path; /* "" = the embedded self-scrape configuration */
    scrape_manager *sm;
    scrape_config *cfg;
    target_discovery *sd;
} server_config;

/* Targets of (c, d) to the scrape manager. */
static int push_targets(server_config *s, const scrape_config *c, const target_discovery *d) {
    target_list *tl;
    int rc = target_list_build(c, d, &tl);
    if (rc) return rc;
    size_t n;
    const scrape_target_spec *specs = target_list_specs(tl, &n);
    rc = scrape_manager_set_targets(s->sm, specs, n);
    if (!rc) flint_log(FLINT_LOG_INFO, "scrape", "targets loaded", "jobs=%zu targets=%zu", c->njobs, n);
    target_list_free(tl);
    return rc;
}

/* Load the configuration, read its file_sd files, hand the targets to the
 * scrape manager; the new configuration then replaces the running one.
 * On failure nothing changes: -1, logged, and *errmsg (fl_malloc, when
 * errmsg is not NULL) in Prometheus' words. */
static int apply_config(server_config *s, char **errmsg) {
    pthread_mutex_lock(&s->mu);
    scrape_config *c = NULL;
    target_discovery *d = NULL;
    int rc = *s->path ? scrape_config_load(s->path, &c, NULL, NULL) : scrape_config_default(&c);
    if (!rc) rc = target_discovery_new(c, s->sd, &d);
    if (!rc) rc = push_targets(s, c, d);
    if (rc) {
        target_discovery_giveback(d, s->sd);
        char msg[1024];
        snprintf(msg, sizeof msg, "couldn't load configuration (--config.file=\"%s\"): %s", s->path,
                 flint_errmsg());
        flint_log(FLINT_LOG_ERROR, "main", "loading the configuration failed", "err=\"%s\"", msg);
        if (errmsg) *errmsg = fl_strdup(msg);
        note_config(s->path, false);
        target_discovery_free(d);
        scrape_config_free(c);
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    target_discovery_free(s->sd);
    scrape_config_free(s->cfg);
    s->cfg = c;
    s->sd = d;
    note_config(s->path, true);
    pthread_mutex_unlock(&s->mu);
    flint_log(FLINT_LOG_INFO, "main", "Completed loading of configuration file", "file=\"%s\"",
              *s->path ? s->path : "(embedded)");
    return 0;
}

/* api_options.reload: POST /-/reload. */
static int reload_from_api(void *ctx, char **errmsg) {
    server_config *s = ctx;
    flint_log(FLINT_LOG_INFO, "main", "reloading configuration", "file=\"%s\" by=api", s->path);
    return apply_config(s, errmsg);
}

/* Re-read changed file_sd files; new targets when some file changed. */
static void poll_file_sd(server_config *s) {
    pthread_mutex_lock(&s->mu);
    bool changed = false;
    int rc = s->sd ? target_discovery_poll(s->sd, &changed) : 0;
    if (!rc && changed) rc = push_targets(s, s->cfg, s->sd);
    if (rc) flint_log(FLINT_LOG_ERROR, "discovery", "file_sd refresh failed", "err=\"%s\"", flint_errmsg());
    pthread_mutex_unlock(&s->mu);
}

int cmd_server(int argc, char **argv) {
    flag_def defs[] = {
        {"config.file", FLAG_STRING, "", "Prometheus configuration file (default: the embedded self-scrape config)", 0, 0},
        {"storage.tsdb.path", FLAG_STRING, "data/", "base path for metrics storage", 0, 0},
        {"storage.tsdb.retention.time", FLAG_STRING, "15d", "how long to retain samples", 0, 0},
        {"storage.tsdb.retention.size", FLAG_STRING, "0", "maximum bytes of storage (units B KB MB GB TB PB); 0 = no limit", 0, 0},
        {"web.listen-address", FLAG_STRING, "0.0.0.0:9090", "address to listen on for the UI and API", 0, 0},
        {"web.enable-lifecycle", FLAG_BOOL, NULL, "enable reload via HTTP request (POST /-/reload)", 0, 0},
        {"query.timeout", FLAG_STRING, "2m", "maximum time a query may take before being aborted", 0, 0},
        {"query.max-samples", FLAG_STRING, "50000000", "maximum number of samples a single query can load into memory", 0, 0},
        {"query.lookback-delta", FLAG_STRING, "5m", "how far back to look for samples of an instant selector", 0, 0},
        {"query.max-concurrency", FLAG_STRING, "20", "maximum number of queries executed concurrently (more wait up to 5s, then 503)", 0, 0},
        {"log.level", FLAG_STRING, "info", "debug, info, warn or error", 0, 0},
        {"log.format", FLAG_STRING, "logfmt", "logfmt or json", 0, 0},
        {"web.config.file", FLAG_STRING, "", "[EXPERIMENTAL] path to a web configuration file (TLS, basic auth)", 0, 0},
        {"web.enable-admin-api", FLAG_BOOL, "false", "enable the admin API (snapshot, delete_series, clean_tombstones)", 0, 0},
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
    /* issue 5: the query cap and /api/v1/status/flags */
    const char *mc = flag_str(&fs, "query.max-concurrency");
    char *mc_end;
    long max_conc = strtol(mc, &mc_end, 10);
    if (!*mc || *mc_end || max_conc <= 0 || max_conc > 100000) {
        fprintf(stderr, "error: --query.max-concurrency: a positive integer is required\n");
        return 2;
    }
    ao.max_concurrent_queries = (unsigned)max_conc;
    const char *flag_names[sizeof defs / sizeof defs[0]], *flag_values[sizeof defs / sizeof defs[0]];
    for (size_t i = 0; i < fs.nflags; i++) {
        flag_names[i] = defs[i].name;
        flag_values[i] = flag_str(&fs, defs[i].name);
    }
    ao.flag_names = flag_names;
    ao.flag_values = flag_values;
    ao.nflags = fs.nflags;
    ao.config_info = config_info;
    const char *path = flag_str(&fs, "storage.tsdb.path");
    web_config *wc = NULL; /* a bad web config stops the server before anything starts */
    const char *wcfile = flag_str(&fs, "web.config.file");
    if (wcfile && *wcfile && web_config_load(wcfile, &wc)) {
        flint_log(FLINT_LOG_ERROR, "web", "loading the web config file failed", "err=\"%s\"", flint_errmsg());
        return 1;
    }
    ao.web_config = wc;
    ao.enable_admin_api = flag_bool(&fs, "web.enable-admin-api");
    ao.data_dir = path;
    flint_log(FLINT_LOG_INFO, "main", "starting flint", "version=%s storage=%s", FLINT_VERSION, path);
    tsdb *db;
    if (tsdb_open(path, &o, &db)) {
        flint_log(FLINT_LOG_ERROR, "main", "opening storage failed", "err=\"%s\"", flint_errmsg());
        web_config_free(wc);
        return 1;
    }
    const char *cfg = flag_str(&fs, "config.file");
    scrape_manager *sm = scrape_manager_new(db);
    server_config sc = {.path = cfg, .sm = sm};
    pthread_mutex_init(&sc.mu, NULL);
    if (!sm || apply_config(&sc, NULL) != 0) {
        if (sm) scrape_manager_free(sm);
        pthread_mutex_destroy(&sc.mu);
        tsdb_close(db);
        web_config_free(wc);
        return 1;
    }
    scrape_manager_run(sm);
    ao.listen_address = flag_str(&fs, "web.listen-address");
    ao.db = db;
    ao.scraper = sm;
    ao.reload = reload_from_api;
    ao.reload_ctx = &sc;
    ao.enable_lifecycle = flag_bool(&fs, "web.enable-lifecycle");
    ao.version = FLINT_VERSION; /* semver: Grafana reads it */
    api_server *api;
    if (api_server_start(&ao, &api)) {
        flint_log(FLINT_LOG_ERROR, "web", "starting the HTTP API failed", "err=\"%s\"", flint_errmsg());
        scrape_manager_free(sm);
        target_discovery_free(sc.sd);
        scrape_config_free(sc.cfg);
        pthread_mutex_destroy(&sc.mu);
        tsdb_close(db);
        web_config_free(wc);
        return 1;
    }
    flint_log(FLINT_LOG_INFO, "web", "listening", "address=%s port=%u tls=%s", ao.listen_address,
              (unsigned)api_server_port(api), wc && wc->tls ? "true" : "false");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    flint_log(FLINT_LOG_INFO, "main", "server is ready", NULL);
    time_t last = time(NULL), last_poll = last;
    unsigned ticks = 0;
    while (!stop_requested) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (++ticks % 5 == 0) fl_mem_release(); /* what scrapes and queries freed */
        if (reload_requested) {
            reload_requested = 0;
            flint_log(FLINT_LOG_INFO, "main", "reloading configuration", "file=\"%s\" by=SIGHUP", *cfg ? cfg : "(embedded)");
            apply_config(&sc, NULL); /* on error the previous configuration stays */
        }
        if (time(NULL) - last_poll >= FILESD_POLL_SECONDS) {
            last_poll = time(NULL);
            poll_file_sd(&sc);
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
    target_discovery_free(sc.sd);
    scrape_config_free(sc.cfg);
    pthread_mutex_destroy(&sc.mu);
    tsdb_close(db);
    fl_buf_free(&loaded_config.yaml);
    web_config_free(wc);
    flint_log(FLINT_LOG_INFO, "main", "see you next time", NULL);
    return 0;
}
