/*
 * scrapeloop.h - the scrape manager: scrapes every target on its own
 * schedule from one thread (libcurl multi interface, no thread per target),
 * hands each finished body to a small worker pool that parses it
 * (scrape/expo.h) into one tsdb appender, adds the target labels, applies
 * metric_relabel_configs, writes the report series (up,
 * scrape_duration_seconds, ...) and the staleness markers, and keeps each
 * target's state and metric metadata (HELP/TYPE/UNIT) for the API.
 *
 * Called by the server (cmd/server.c), which fills scrape_target_spec from
 * the configuration (scrape/config.h, static and file_sd targets) and calls
 * scrape_manager_set_targets on start, on every reload (SIGHUP, POST
 * /-/reload) and when a file_sd file changes. Relies on tsdb/db.h (appender with cached
 * refs) and storage/chunk.h (the stale NaN). Semantics follow Prometheus'
 * scrape/scrape.go; differences are noted beside the code.
 *
 * Schedule: a target with interval I scrapes at the instants t with
 * t mod I == offset, offset a stable hash of (URL, labels) mod I, so the
 * targets spread over the interval and keep their phase across restarts.
 * Every sample without its own timestamp, and every report series, gets
 * the scheduled instant t exactly (not the time the request went out), so
 * a healthy target's samples are exactly I apart. Slots that pass while a
 * target is still in flight (timeout > interval is clamped to the interval)
 * are skipped, never caught up.
 *
 * Isolation: transfers never block each other (one curl multi handle,
 * per-target timeout, body size limit aborting the transfer), and parsing
 * never blocks transfers: a finished body is queued for one of
 * SCRAPE_WORKERS (2) worker threads, so a 100 MB body delays no other
 * target's request (it can delay other bodies' parsing when both workers
 * are busy). A target is scraped again only after its previous body was
 * processed (slots passing meanwhile are skipped), as Prometheus' loop is
 * sequential per target. A target removed while its body is queued or
 * being parsed is retired by the worker afterwards: its stale markers come
 * after everything that scrape wrote.
 *
 * Lifetime: the manager borrows the tsdb; free the manager (which stops
 * its threads) before tsdb_close().
 */
#ifndef FLINT_SCRAPELOOP_H
#define FLINT_SCRAPELOOP_H

#include "scrape/relabel.h"
#include "tsdb/db.h"
#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One target, as the configuration resolves it. Everything is borrowed for
 * the duration of scrape_manager_set_targets (the manager copies it). */
typedef struct scrape_target_spec {
    const char *url;          /* full scrape URL incl. metrics_path and params */
    /* Final target labels after relabeling (job, instance, ...): sorted by
     * name, no "__"-prefixed labels, no empty values. */
    const label *labels;
    size_t nlabels;
    int64_t interval_ms;      /* > 0 */
    int64_t timeout_ms;       /* > 0; clamped to interval_ms */
    bool honor_labels;        /* true: the exposed label wins; false: it becomes exported_<name> */
    bool honor_timestamps;    /* true: use the exposed timestamps */
    bool enable_compression;  /* Accept-Encoding: gzip (false: identity) */
    uint32_t sample_limit;    /* 0 = none; over it the scrape fails */
    uint32_t label_limit, label_name_length_limit, label_value_length_limit; /* 0 = none */
    int64_t body_size_limit;  /* bytes of the decoded body; 0 = none */
    /* Extra request headers, "Name: value" (e.g. "Authorization: Bearer x"). */
    const char *const *headers;
    size_t nheaders;
    const char *basic_user, *basic_password; /* NULL = no basic auth */
    const char *tls_ca_file, *tls_cert_file, *tls_key_file; /* NULL = none */
    bool tls_insecure_skip_verify;
    /* tls_config.server_name: sent as SNI and verified against the
     * certificate instead of the URL's host (https only); NULL = none */
    const char *tls_server_name;
    /* metric_relabel_configs, applied in order to every scraped series
     * after the target labels are attached (Prometheus'
     * mutateSampleLabels): a series they drop is not stored, does not
     * count in scrape_samples_post_metric_relabeling and never gets a
     * stale marker. The manager compiles its own copy, once per distinct
     * array in one set_targets call (the targets of a job share it). */
    const relabel_rule *metric_relabel;
    size_t nmetric_relabel;
} scrape_target_spec;

typedef enum scrape_health {
    SCRAPE_HEALTH_UNKNOWN = 0, /* not scraped yet */
    SCRAPE_HEALTH_UP = 1,
    SCRAPE_HEALTH_DOWN = 2,
} scrape_health;

/* "unknown", "up", "down" (Prometheus' /api/v1/targets words). */
const char *scrape_health_name(scrape_health h);

/* One target's state, copied out by scrape_manager_targets. */
typedef struct scrape_target_status {
    char *scrape_url;
    label *labels;            /* target labels (owned copy, sorted) */
    size_t nlabels;
    scrape_health health;
    char *last_error;         /* "" when the last scrape succeeded */
    int64_t last_scrape_ms;   /* wall-clock start of the last scrape; 0 = never */
    double last_scrape_duration_s;
    int64_t interval_ms, timeout_ms;
    uint64_t scrapes, duplicate_samples, out_of_order_samples, out_of_bounds_samples;
} scrape_target_status;

typedef struct scrape_manager scrape_manager;

/* A manager appending into `db` (borrowed; must outlive the manager).
 * Does not start scraping. Returns NULL on OOM or when libcurl cannot be
 * initialised (message via flint_errmsg). */
scrape_manager *scrape_manager_new(tsdb *db);

/* Replace the target list (thread-safe, any time, before or after
 * scrape_manager_run). Targets are identified by (URL, labels): one that is
 * still listed keeps its state, schedule, series cache and metadata (its
 * options are updated, from its next scrape when a worker is parsing its
 * last body); a new one is added; one no longer listed is stopped (an
 * in-flight scrape is aborted) and gets staleness markers for every series
 * of its last successful scrape and for its report series. A target listed
 * twice is scraped once (the first spec counts). The change is
 * applied by the scrape thread at its next wake-up (at once when running;
 * when scrape_manager_run starts otherwise). Copies everything; returns 0,
 * FLINT_EINVAL for a bad spec (nothing changed), FLINT_ENOMEM. */
int scrape_manager_set_targets(scrape_manager *m, const scrape_target_spec *specs, size_t n);

/* Start the scrape thread. 0, or FLINT_EINVAL when already running,
 * FLINT_ENOMEM/FLINT_EIO when the thread cannot start. */
int scrape_manager_run(scrape_manager *m);

/* Stop the threads and wait for them; in-flight scrapes and bodies still
 * queued are dropped and write nothing (no staleness markers: a restart
 * continues the series); a body being parsed is finished. The manager
 * keeps its targets and can run again. No-op when not running. */
void scrape_manager_stop(scrape_manager *m);

/* Stop if running, free everything. NULL is a no-op. */
void scrape_manager_free(scrape_manager *m);

/* Snapshot of every target's state, in the order of the last
 * set_targets that has been applied. *out is owned by the caller: free
 * with scrape_target_status_free(*out, *n). Thread-safe. */
int scrape_manager_targets(scrape_manager *m, scrape_target_status **out, size_t *n);
void scrape_target_status_free(scrape_target_status *v, size_t n);

/* One metric family's metadata (Prometheus' /api/v1/metadata entry). */
typedef struct scrape_metadata {
    char *metric;
    const char *type; /* "counter", "gauge", ..., "unknown" (static) */
    char *help;       /* "" when the target sent no HELP */
    char *unit;       /* "" when the target sent no UNIT */
} scrape_metadata;

/* The HELP/TYPE/UNIT lines of every target's last successful scrape, one
 * entry per distinct (metric, type, help, unit) across targets, sorted by
 * metric then type, help, unit. `metric` (NULL = all) keeps one family;
 * limit_per_metric > 0 keeps the first that many entries of each metric.
 * Families that had samples but no metadata line are not listed, as in
 * Prometheus. *out is the caller's: free with scrape_metadata_free.
 * Thread-safe. 0 or FLINT_ENOMEM. */
int scrape_manager_metadata(scrape_manager *m, const char *metric, size_t limit_per_metric, scrape_metadata **out,
                            size_t *n);
void scrape_metadata_free(scrape_metadata *v, size_t n);

/* The offset of a target within its interval (ms, in [0, interval_ms)):
 * it scrapes at the instants t with t mod interval_ms == offset. */
int64_t scrape_target_offset(const scrape_target_spec *spec);

/* Prometheus' Accept header (OpenMetrics preferred, text fallback). */
#define SCRAPE_ACCEPT_HEADER                                                                      \
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"          \
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

#endif
