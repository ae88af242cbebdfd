/*
 * apimetrics.h - flint's own metrics for /metrics, in Prometheus' names
 * where they exist: HTTP requests by handler and code, request durations
 * (histogram by handler), the query engine (running, cap, time spent
 * evaluating and queueing, rejections), scrape pools, the TSDB (head,
 * blocks, WAL, compactions, retention), config reloads and the process.
 *
 * The counters are atomics: requests are served on libmicrohttpd's
 * connection threads. Called by web/api.c; reads tsdb/stats.h,
 * tsdb/db.h and scrape/scrapeloop.h.
 */
#ifndef FLINT_WEB_APIMETRICS_H
#define FLINT_WEB_APIMETRICS_H

#include "scrape/scrapeloop.h"
#include "storage/buf.h"
#include "tsdb/db.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIM_MAX_HANDLERS 48
#define APIM_NCODES 20   /* the codes of apim_codes plus "other" */
#define APIM_NBUCKETS 9  /* Prometheus' buckets for HTTP request durations */

typedef struct apim_handler {
    _Atomic uint64_t codes[APIM_NCODES];
    _Atomic uint64_t buckets[APIM_NBUCKETS]; /* not cumulative; summed when written */
    _Atomic uint64_t count, sum_ns;
} apim_handler;

typedef struct api_metrics {
    const char *handlers[APIM_MAX_HANDLERS]; /* borrowed names ("/api/v1/query") */
    size_t nhandlers;
    apim_handler h[APIM_MAX_HANDLERS];
    unsigned max_concurrency;
    _Atomic uint64_t queries_running;
    _Atomic uint64_t queries, query_ns;    /* evaluations and their time */
    _Atomic uint64_t queued, queue_ns;     /* waits for a slot and their time */
    _Atomic uint64_t queries_rejected;     /* no slot in time: 503 */
} api_metrics;

/* handlers[0..n) name the handler indexes (n <= APIM_MAX_HANDLERS; more
 * are ignored); the strings must outlive m. */
void apim_init(api_metrics *m, const char *const *handlers, size_t n, unsigned max_concurrency);
/* One served request (index from apim_init; out of range: ignored). */
void apim_request(api_metrics *m, size_t handler, unsigned code, uint64_t ns);

/* What /metrics reads besides m. */
typedef struct apim_sources {
    tsdb *db;
    scrape_manager *scraper;   /* NULL: no scrape figures */
    const char *version;
    bool have_config;          /* config_ok/config_ms are known */
    bool config_ok;
    int64_t config_ms;         /* last successful (re)load, ms */
    int64_t start_ms;          /* process start */
} apim_sources;

/* Write the exposition text (format 0.0.4) into out. 0 or FLINT_ENOMEM. */
int apim_render(api_metrics *m, const apim_sources *src, fl_buf *out);

#endif
