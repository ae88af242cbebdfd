/*
 * api.h - the Prometheus HTTP API served with libmicrohttpd: instant and
 * range queries, label names and values, series, exemplars (empty),
 * build info, format_query, the status pages (config, flags, runtimeinfo,
 * tsdb), /federate, /metrics, and the /-/healthy and /-/ready probes, with
 * Prometheus' envelope, error types, status codes and value encoding, so
 * Grafana's Prometheus data source and curl work against flint.
 *
 *   api_options o;
 *   api_options_default(&o);
 *   o.listen_address = "127.0.0.1:9090";
 *   o.db = db;
 *   api_server *srv;
 *   if (api_server_start(&o, &srv) != 0) ... flint_errmsg() ...
 *   ...
 *   api_server_stop(srv);
 *
 * Called by cmd/server.c; reads only through query/engine.h and the
 * querier of tsdb/db.h. Each connection is served by its own thread
 * (libmicrohttpd's thread per connection), so a slow query never holds up
 * a probe; max_connections bounds the threads.
 */
#ifndef FLINT_WEB_API_H
#define FLINT_WEB_API_H

#include "query/engine.h"
#include "scrape/scrapeloop.h"
#include "storage/buf.h"
#include "tsdb/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The Prometheus version flint answers /api/v1/status/buildinfo with:
 * Grafana turns features on by it (>= 2.24 for label values with match[]). */
#define API_COMPAT_VERSION "3.5.0"

typedef struct api_options {
    /* "host:port", "[v6addr]:port" or ":port" (all IPv4 interfaces);
     * port 0 picks a free port (see api_server_port). */
    const char *listen_address;
    tsdb *db;                     /* borrowed; must outlive the server */
    pql_engine_opts engine;       /* query limits; zero fields = defaults */
    const char *version;          /* buildinfo version; NULL = API_COMPAT_VERSION */
    const char *revision;         /* buildinfo revision; NULL = "" */
    unsigned max_connections;     /* 0 = 512 */
    unsigned idle_timeout_s;      /* idle connection timeout; 0 = 300 */
    size_t max_body_bytes;        /* largest POST body; 0 = 8 MiB */
    /* ---- status pages and the query concurrency cap (issue 5) -------------------
     * config_info: for /api/v1/status/config, runtimeinfo and /metrics; fill
     * *yaml (when not NULL) with the loaded configuration's text and say
     * whether the last (re)load succeeded and when (ms since the epoch).
     * Called on connection threads, so it must lock what a reload changes.
     * Returns 0 or FLINT_ENOMEM. NULL: no configuration ("", success, the
     * server's start time). */
    int (*config_info)(void *ctx, fl_buf *yaml, bool *ok, int64_t *last_ms);
    void *config_ctx;
    /* /api/v1/status/flags: every flag's name and value (borrowed; must
     * outlive the server). */
    const char *const *flag_names;
    const char *const *flag_values;
    size_t nflags;
    /* --query.max-concurrency: instant and range queries evaluating at
     * once; 0 = 20. A query that finds every slot taken waits for one up
     * to query_queue_wait_ms (0 = 5000), and never longer than its own
     * timeout, then gets 503 "unavailable". */
    unsigned max_concurrent_queries;
    int64_t query_queue_wait_ms;
    /* ---- end of the issue 5 block ---------------------------------------------- */
    scrape_manager *scraper;      /* borrowed, for /api/v1/targets; NULL = no targets */
    /* --- security (issue 5; web/webconfig.h, web/auth.h, docs/api.md "Security") ---
     * web_config: TLS and basic auth from --web.config.file; borrowed,
     * must outlive the server (NULL = plain HTTP, no auth).
     * enable_admin_api: the /api/v1/admin/tsdb endpoints (otherwise 500
     * "admin APIs disabled", as Prometheus); snapshots go to data_dir/snapshots/. */
    const struct web_config *web_config;
    bool enable_admin_api;
    const char *data_dir;
    /* POST /-/reload (Prometheus' lifecycle API): with enable_lifecycle,
     * calls reload(reload_ctx, &errmsg) from the connection's thread: 0
     * answers 200 with an empty body; otherwise 500 "failed to reload
     * config: <errmsg>" (errmsg from fl_malloc or NULL; the server frees
     * it). Without enable_lifecycle: 403 "Lifecycle API is not enabled." */
    int (*reload)(void *ctx, char **errmsg);
    void *reload_ctx;
    bool enable_lifecycle;
} api_options;

void api_options_default(api_options *o);

typedef struct api_server api_server;

/* Bind and start serving. Returns 0, FLINT_EINVAL (bad listen address or
 * options), FLINT_EIO (cannot listen; message says why) or FLINT_ENOMEM. */
int api_server_start(const api_options *opts, api_server **out);
/* The TCP port actually bound. */
uint16_t api_server_port(const api_server *s);
/* Stop accepting, wait for the connection threads, free. NULL is a no-op. */
void api_server_stop(api_server *s);

#endif
