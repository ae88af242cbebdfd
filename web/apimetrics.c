/*
 * apimetrics.c - the counters and the /metrics text of apimetrics.h.
 */
#include "web/apimetrics.h"

#include "storage/alloc.h"
#include "storage/err.h"
#include "tsdb/stats.h"
#include "web/textfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const unsigned apim_codes[APIM_NCODES - 1] = {200, 204, 301, 302, 304, 400, 401, 403, 404, 405,
                                                     406, 413, 414, 422, 429, 499, 500, 502, 503};
/* prometheus_http_request_duration_seconds buckets (Prometheus web.go) */
static const double apim_bounds[APIM_NBUCKETS] = {0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120};

void apim_init(api_metrics *m, const char *const *handlers, size_t n, unsigned max_concurrency) {
    memset(m, 0, sizeof *m);
    if (n > APIM_MAX_HANDLERS) n = APIM_MAX_HANDLERS;
    for (size_t i = 0; i < n; i++) m->handlers[i] = handlers[i];
    m->nhandlers = n;
    m->max_concurrency = max_concurrency;
}

void apim_request(api_metrics *m, size_t handler, unsigned code, uint64_t ns) {
    if (handler >= m->nhandlers) return;
    apim_handler *h = &m->h[handler];
    size_t c = APIM_NCODES - 1;
    for (size_t i = 0; i < APIM_NCODES - 1; i++)
        if (apim_codes[i] == code) c = i;
    atomic_fetch_add(&h->codes[c], 1);
    double s = (double)ns / 1e9;
    for (size_t b = 0; b < APIM_NBUCKETS; b++)
        if (s <= apim_bounds[b]) {
            atomic_fetch_add(&h->buckets[b], 1);
            break;
        }
    atomic_fetch_add(&h->sum_ns, ns);
    atomic_fetch_add(&h->count, 1); /* last: a reader sees count <= sum of buckets + overflow */
}

static void gauge(text_writer *w, const char *name, const char *type, const char *help, double v) {
    tw_header(w, name, type, help);
    tw_sample(w, name, NULL, NULL, 0, v);
}

static void write_http(text_writer *w, api_metrics *m) {
    tw_header(w, "prometheus_http_requests_total", "counter", "Counter of HTTP requests.");
    for (size_t i = 0; i < m->nhandlers; i++)
        for (size_t c = 0; c < APIM_NCODES; c++) {
            uint64_t n = atomic_load(&m->h[i].codes[c]);
            if (!n) continue;
            char code[16];
            if (c < APIM_NCODES - 1) snprintf(code, sizeof code, "%u", apim_codes[c]);
            else snprintf(code, sizeof code, "other");
            const char *ln[] = {"code", "handler"}, *lv[] = {code, m->handlers[i]};
            tw_sample(w, "prometheus_http_requests_total", ln, lv, 2, (double)n);
        }
    tw_header(w, "prometheus_http_request_duration_seconds", "histogram", "Histogram of latencies for HTTP requests.");
    for (size_t i = 0; i < m->nhandlers; i++) {
        apim_handler *h = &m->h[i];
        uint64_t count = atomic_load(&h->count);
        if (!count) continue;
        uint64_t cum = 0;
        for (size_t b = 0; b <= APIM_NBUCKETS; b++) {
            char le[32];
            if (b < APIM_NBUCKETS) {
                cum += atomic_load(&h->buckets[b]);
                text_format_float(apim_bounds[b], le, sizeof le);
            } else {
                snprintf(le, sizeof le, "+Inf");
            }
            const char *ln[] = {"handler", "le"}, *lv[] = {m->handlers[i], le};
            /* +Inf counts everything observed so far; never below a finite bucket */
            tw_sample(w, "prometheus_http_request_duration_seconds_bucket", ln, lv, 2,
                      (double)(b < APIM_NBUCKETS ? cum : (count > cum ? count : cum)));
        }
        const char *ln[] = {"handler"}, *lv[] = {m->handlers[i]};
        tw_sample(w, "prometheus_http_request_duration_seconds_sum", ln, lv, 1,
                  (double)atomic_load(&h->sum_ns) / 1e9);
        tw_sample(w, "prometheus_http_request_duration_seconds_count", ln, lv, 1, (double)(count > cum ? count : cum));
    }
}

static void write_engine(text_writer *w, api_metrics *m) {
    gauge(w, "prometheus_engine_queries", "gauge", "The current number of queries being executed (holding a slot).",
          (double)atomic_load(&m->queries_running));
    gauge(w, "prometheus_engine_queries_concurrent_max", "gauge", "The max number of concurrent queries.",
          (double)m->max_concurrency);
    tw_header(w, "prometheus_engine_query_duration_seconds", "summary", "Query timings");
    const char *ln[] = {"slice"}, *inner[] = {"inner_eval"}, *queue[] = {"queue_time"};
    tw_sample(w, "prometheus_engine_query_duration_seconds_sum", ln, inner, 1, (double)atomic_load(&m->query_ns) / 1e9);
    tw_sample(w, "prometheus_engine_query_duration_seconds_count", ln, inner, 1, (double)atomic_load(&m->queries));
    tw_sample(w, "prometheus_engine_query_duration_seconds_sum", ln, queue, 1, (double)atomic_load(&m->queue_ns) / 1e9);
    tw_sample(w, "prometheus_engine_query_duration_seconds_count", ln, queue, 1, (double)atomic_load(&m->queued));
    gauge(w, "flint_engine_queries_rejected_total", "counter",
          "Queries refused with 503 because every slot stayed busy (--query.max-concurrency).",
          (double)atomic_load(&m->queries_rejected));
}

static int cmp_pool(const void *a, const void *b) {
    const scrape_target_status *x = a, *y = b;
    labels lx = {x->labels, x->nlabels}, ly = {y->labels, y->nlabels};
    const char *jx = labels_get(&lx, "job"), *jy = labels_get(&ly, "job");
    return strcmp(jx ? jx : "", jy ? jy : "");
}

static int write_scrape(text_writer *w, scrape_manager *sm) {
    scrape_target_status *v = NULL;
    size_t n = 0;
    if (scrape_manager_targets(sm, &v, &n)) return 0; /* figures left out, not fatal */
    if (n > 1) qsort(v, n, sizeof *v, cmp_pool);
    uint64_t dup = 0, ooo = 0, oob = 0, scrapes = 0;
    tw_header(w, "prometheus_target_scrape_pool_targets", "gauge", "Current number of targets in this scrape pool.");
    for (size_t i = 0; i < n;) {
        labels li = {v[i].labels, v[i].nlabels};
        const char *job = labels_get(&li, "job");
        if (!job) job = "";
        size_t j = i, count = 0;
        for (; j < n; j++) {
            labels lj = {v[j].labels, v[j].nlabels};
            const char *jj = labels_get(&lj, "job");
            if (strcmp(jj ? jj : "", job)) break;
            count++;
        }
        const char *ln[] = {"scrape_job"}, *lv[] = {job};
        tw_sample(w, "prometheus_target_scrape_pool_targets", ln, lv, 1, (double)count);
        i = j;
    }
    for (size_t i = 0; i < n; i++) {
        dup += v[i].duplicate_samples;
        ooo += v[i].out_of_order_samples;
        oob += v[i].out_of_bounds_samples;
        scrapes += v[i].scrapes;
    }
    gauge(w, "prometheus_target_scrapes_sample_duplicate_timestamp_total", "counter",
          "Total number of samples rejected due to duplicate timestamps but different values.", (double)dup);
    gauge(w, "prometheus_target_scrapes_sample_out_of_order_total", "counter",
          "Total number of samples rejected due to not being out of the expected order.", (double)ooo);
    gauge(w, "prometheus_target_scrapes_sample_out_of_bounds_total", "counter",
          "Total number of samples rejected due to timestamp falling outside of the time bounds.", (double)oob);
    gauge(w, "flint_target_scrapes_total", "counter", "Scrapes attempted by the current targets.", (double)scrapes);
    scrape_target_status_free(v, n);
    return 0;
}

static void write_tsdb(text_writer *w, tsdb *db) {
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    tsdb_counters c;
    tsdb_get_counters(db, &c);
    gauge(w, "prometheus_tsdb_head_series", "gauge", "Total number of series in the head block.", (double)st.head_series);
    gauge(w, "prometheus_tsdb_head_samples_appended_total", "counter", "Total number of appended samples.",
          (double)st.head_samples);
    gauge(w, "prometheus_tsdb_head_chunks", "gauge", "Total number of full chunks in the head block.",
          (double)st.head_chunks);
    gauge(w, "prometheus_tsdb_head_chunks_created_total", "counter", "Total number of chunks created in the head",
          (double)c.chunks_created);
    gauge(w, "prometheus_tsdb_head_series_created_total", "counter", "Total number of series created in the head",
          (double)c.series_created);
    gauge(w, "prometheus_tsdb_head_series_removed_total", "counter", "Total number of series removed in the head",
          (double)c.series_removed);
    gauge(w, "prometheus_tsdb_out_of_order_samples_total", "counter",
          "Total number of out of order samples ingestion failed attempts.", (double)c.samples_dropped);
    if (st.head_series) {
        gauge(w, "prometheus_tsdb_head_min_time", "gauge", "Minimum time bound of the head block.", (double)st.head_mint);
        gauge(w, "prometheus_tsdb_head_max_time", "gauge", "Maximum timestamp of the head block.", (double)st.head_maxt);
    }
    if (st.mint <= st.maxt)
        gauge(w, "prometheus_tsdb_lowest_timestamp", "gauge", "Lowest timestamp value stored in the database.",
              (double)st.mint);
    gauge(w, "prometheus_tsdb_blocks_loaded", "gauge", "Number of currently loaded data blocks", (double)st.blocks);
    gauge(w, "prometheus_tsdb_compactions_total", "counter",
          "Total number of compactions that were executed for the partition (head cuts included).",
          (double)(c.compactions + c.head_cuts));
    gauge(w, "flint_tsdb_head_cuts_total", "counter", "Head cuts into blocks.", (double)c.head_cuts);
    gauge(w, "flint_tsdb_retention_deletes_total", "counter", "Blocks deleted by time or size retention.",
          (double)c.retention_deletes);
    gauge(w, "prometheus_tsdb_retention_limit_seconds", "gauge", "How long to retain samples in storage.",
          (double)c.retention_ms / 1000.0);
    gauge(w, "prometheus_tsdb_retention_limit_bytes", "gauge", "Max number of bytes to be retained in the tsdb blocks",
          (double)c.retention_bytes);
    gauge(w, "prometheus_tsdb_storage_blocks_bytes", "gauge",
          "The number of bytes that are currently used for local storage by all blocks.", (double)st.block_bytes);
    gauge(w, "prometheus_tsdb_wal_storage_size_bytes", "gauge", "Size of the write log directory.",
          (double)st.wal_bytes);
    gauge(w, "flint_tsdb_disk_bytes", "gauge", "Bytes of every file in the data directory.", (double)st.disk_bytes);
    tw_header(w, "prometheus_tsdb_wal_fsync_duration_seconds", "summary", "Duration of write log fsync.");
    tw_sample(w, "prometheus_tsdb_wal_fsync_duration_seconds_sum", NULL, NULL, 0, c.wal_fsync_seconds);
    tw_sample(w, "prometheus_tsdb_wal_fsync_duration_seconds_count", NULL, NULL, 0, (double)c.wal_fsyncs);
    gauge(w, "prometheus_tsdb_wal_segment_current", "gauge", "Write log segment index that TSDB is currently writing to.",
          (double)c.wal_segment);
    gauge(w, "prometheus_tsdb_wal_corruptions_total", "counter", "Total number of write log corruptions.",
          (double)c.wal_corruptions);
    gauge(w, "prometheus_tsdb_wal_writes_failed_total", "counter", "Total number of write log writes that failed.",
          (double)c.wal_writes_failed);
}

static void write_process(text_writer *w, const apim_sources *src) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) pages = rss = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    gauge(w, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", (double)rss * page);
    gauge(w, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", (double)pages * page);
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    gauge(w, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
          (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9);
    gauge(w, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
          (double)src->start_ms / 1000.0);
}

int apim_render(api_metrics *m, const apim_sources *src, fl_buf *out) {
    text_writer w = {out, 0};
    tw_header(&w, "flint_build_info", "gauge", "A metric with a constant '1' value labeled by version.");
    const char *ln[] = {"version"}, *lv[] = {src->version ? src->version : ""};
    tw_sample(&w, "flint_build_info", ln, lv, 1, 1);
    if (src->have_config) {
        gauge(&w, "prometheus_config_last_reload_successful", "gauge",
              "Whether the last configuration reload attempt was successful.", src->config_ok ? 1 : 0);
        gauge(&w, "prometheus_config_last_reload_success_timestamp_seconds", "gauge",
              "Timestamp of the last successful configuration reload.", (double)src->config_ms / 1000.0);
    }
    write_http(&w, m);
    write_engine(&w, m);
    if (src->scraper) write_scrape(&w, src->scraper);
    write_tsdb(&w, src->db);
    write_process(&w, src);
    return w.err;
}
