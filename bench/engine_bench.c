/*
 * engine_bench.c - PromQL engine throughput, in-process (issue 4).
 *
 * Usage: engine_bench DATA_DIR [HIST_DATA_DIR]
 *
 * DATA_DIR is a flint data directory holding ../shared/bench/gen_dataset.py's
 * dataset (`flint import openmetrics dataset.om DIR`); HIST_DATA_DIR one
 * holding bench/gen_histogram.py's classic histogram. Both are opened
 * read-only. Each query runs as a range query over the directory's whole
 * time range (tsdb_get_stats) at a 60 s step:
 *   (a) rate(node_network_receive_bytes_total[5m])
 *   (b) sum by (mode) (rate(node_cpu_seconds_total[5m]))
 *   (c) histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
 * and the five queries of ../shared/bench/queries.txt (issue 5), each
 * once cold (not counted) and then 5 times; reported: median wall ms,
 * median and best CPU ms (the process's CPU time, all the query's threads;
 * the figure holds better than wall time on a shared machine), the raw
 * samples the query reads (counted once, outside the timing, by selecting
 * the series of the query's first selector through the querier and
 * counting samples in [start - range, end]),
 * the series and points returned ("in-series" is how many series the
 * selector matches), and raw samples / median CPU second, i.e. samples
 * read per second per core. ENGINE_BENCH_ONLY=<label> runs one query,
 * ENGINE_BENCH_THREADS=n sets pql_engine_opts.threads.
 */
#include "query/engine.h"
#include "query/parse.h"
#include "tsdb/db.h"
#include "tsdb/labels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5
#define STEP_MS 60000LL
#define RANGE_MS (5 * 60000LL)

typedef struct bench_query {
    const char *label;
    const char *query;
    const char *metric; /* the one selector's __name__ */
    int hist;           /* runs on HIST_DATA_DIR */
} bench_query;

static const bench_query QUERIES[] = {
    {"rate", "rate(node_network_receive_bytes_total[5m])", "node_network_receive_bytes_total", 0},
    {"sum-rate", "sum by (mode) (rate(node_cpu_seconds_total[5m]))", "node_cpu_seconds_total", 0},
    {"hist-q90",
     "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
     "http_request_duration_seconds_bucket", 1},
    /* the HTTP latency set (../shared/bench/queries.txt), same range */
    {"rate1", "rate(node_network_receive_bytes_total{instance=\"host-000:9100\",device=\"eth0\"}[5m])",
     "node_network_receive_bytes_total", 0},
    {"sum-re",
     "sum by (instance) (rate({__name__=~\"node_(cpu_seconds|network_receive_bytes|disk_read_bytes|"
     "context_switches)_total\"}[5m]))",
     "node_cpu_seconds_total", 0},
    {"avg-1h", "avg_over_time(node_memory_MemAvailable_bytes[1h])", "node_memory_MemAvailable_bytes", 0},
    {"topk5", "topk(5, rate(node_network_receive_bytes_total{device=\"eth0\"}[5m]))",
     "node_network_receive_bytes_total", 0},
};

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The query's first node of kind k (depth first), or NULL. */
static const ast_node *first_of(const ast_node *n, ast_kind k) {
    if (n->kind == k) return n;
    for (size_t i = 0; i < ast_child_count(n); i++) {
        const ast_node *r = first_of(ast_child(n, i), k);
        if (r) return r;
    }
    return NULL;
}

/* Samples of the series matching ms[0..nm) with t in [mint, maxt], and the
 * first and last of their timestamps (*tmin > *tmax when there are none). */
static int count_samples(tsdb *db, const matcher *ms, size_t nm, int64_t mint, int64_t maxt,
                         uint64_t *nsamples, uint64_t *nseries, int64_t *tmin,
                         int64_t *tmax) {
    tsdb_querier *q = NULL;
    int rc = tsdb_querier_open(db, mint, maxt, &q);
    if (rc != 0) return rc;
    tsdb_series_set *ss = NULL;
    rc = tsdb_select(q, ms, nm, &ss);
    *nsamples = *nseries = 0;
    *tmin = INT64_MAX;
    *tmax = INT64_MIN;
    if (rc == 0) {
        while (tsdb_series_next(ss)) {
            tsdb_sample_iter *it = tsdb_series_samples(ss);
            int64_t t;
            double v;
            (*nseries)++;
            if (!it) continue;
            if (tsdb_sample_seek(it, mint, &t, &v)) {
                if (t < *tmin && t <= maxt) *tmin = t;
                do {
                    if (t > maxt) break;
                    if (t > *tmax) *tmax = t;
                    (*nsamples)++;
                } while (tsdb_sample_next(it, &t, &v));
            }
            if (tsdb_sample_err(it) != 0) rc = tsdb_sample_err(it);
        }
        if (rc == 0) rc = tsdb_series_err(ss);
        tsdb_series_set_free(ss);
    }
    tsdb_querier_close(q);
    return rc;
}

static int open_db(const char *dir, tsdb **db, tsdb_stats *st) {
    tsdb_options o;
    tsdb_options_default(&o);
    o.read_only = true;
    int rc = tsdb_open(dir, &o, db);
    if (rc != 0) {
        fprintf(stderr, "engine_bench: cannot open %s: error %d\n", dir, rc);
        return rc;
    }
    tsdb_get_stats(*db, st);
    if (st->maxt < st->mint) {
        fprintf(stderr, "engine_bench: %s holds no samples\n", dir);
        return -1;
    }
    return 0;
}

/* tsdb_get_stats gives the blocks' bounds, which are aligned and may
 * extend well past the data (a 24 h import spans 36 h of blocks here), so
 * the query range is the first to the last sample of the selected metric
 * inside them; the raw samples read are then those in [start - 5m, end]. */
static int run(const pql_engine *e, tsdb *db, const tsdb_stats *st, const bench_query *bq) {
    size_t len = strlen(bq->query);
    uint64_t raw = 0, rawseries = 0;
    int64_t start, end;
    /* the range: first to last sample of the metric; the raw samples: of
     * the query's selector over [start - range, end] */
    matcher name, ms[8];
    size_t nm = 0;
    int rc = matcher_init(&name, MATCH_EQ, "__name__", bq->metric);
    if (rc == 0) {
        rc = count_samples(db, &name, 1, st->mint, st->maxt, &raw, &rawseries, &start, &end);
        matcher_free(&name);
    }
    ast_node *root = NULL;
    pql_error perr;
    if (rc == 0 && (rc = pql_parse(bq->query, len, &root, &perr)) != 0)
        fprintf(stderr, "engine_bench: %s: parse error\n", bq->query);
    const ast_node *sel = root ? first_of(root, AST_VECTOR_SELECTOR) : NULL;
    const ast_node *mat = root ? first_of(root, AST_MATRIX_SELECTOR) : NULL;
    int64_t range = mat ? mat->matrix.range_ms : RANGE_MS;
    for (size_t i = 0; rc == 0 && sel && i < sel->vs.nmatchers && i < 8; i++) {
        const ast_matcher *am = &sel->vs.matchers[i];
        if ((rc = matcher_init(&ms[i], am->type, am->name, am->value)) == 0) nm++;
    }
    ast_free(root);
    if (rc == 0 && start <= end)
        rc = count_samples(db, ms, nm, start - range, end, &raw, &rawseries, &(int64_t){0},
                           &(int64_t){0});
    for (size_t i = 0; i < nm; i++) matcher_free(&ms[i]);
    if (rc != 0) {
        fprintf(stderr, "engine_bench: counting samples of %s: error %d\n", bq->metric, rc);
        return rc;
    }
    if (start > end) {
        fprintf(stderr, "engine_bench: no samples of %s\n", bq->metric);
        return -1;
    }
    double wall[RUNS], cpu[RUNS];
    size_t nseries = 0, npoints = 0;
    for (int i = -1; i < RUNS; i++) {
        pql_result r;
        double w0 = wall_ms(), c0 = cpu_ms();
        rc = pql_query_range(e, db, bq->query, len, start, end, STEP_MS, &r);
        double c1 = cpu_ms(), w1 = wall_ms();
        if (rc != 0) {
            fprintf(stderr, "engine_bench: %s: %s\n", bq->query, r.error);
            pql_result_free(&r);
            return rc;
        }
        if (i >= 0) {
            wall[i] = w1 - w0;
            cpu[i] = c1 - c0;
        } else {
            nseries = r.nmatrix;
            for (size_t s = 0; s < r.nmatrix; s++) npoints += r.matrix[s].npoints;
        }
        pql_result_free(&r);
    }
    double mw = median(wall, RUNS), mc = median(cpu, RUNS), best = cpu[0]; /* sorted */
    double per_core = mc > 0 ? raw / (mc / 1e3) : 0;
    printf("%-9s %8zu %9zu %9llu %12llu %9.1f %9.1f %9.1f %10.2f M\n", bq->label, nseries,
           npoints, (unsigned long long)rawseries, (unsigned long long)raw, mw, mc, best,
           per_core / 1e6);
    printf("          %s  [%lld, %lld] ms, %.2f h\n", bq->query, (long long)start,
           (long long)end, (end - start) / 3.6e6);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: engine_bench DATA_DIR [HIST_DATA_DIR]\n");
        return 2;
    }
    pql_engine_opts eo = {0};
    if (getenv("ENGINE_BENCH_THREADS")) eo.threads = atoi(getenv("ENGINE_BENCH_THREADS"));
    pql_engine *e = pql_engine_new(&eo);
    if (!e) {
        fprintf(stderr, "engine_bench: out of memory\n");
        return 1;
    }
    int fail = 0;
    printf("range queries from the first to the last sample of the metric, step 60 s; "
           "1 cold run, then median of %d\n",
           RUNS);
    printf("%-9s %8s %9s %9s %12s %9s %9s %9s %12s\n", "query", "series", "points", "in-series",
           "raw-samples", "wall-ms", "cpu-ms", "cpu-best", "samples/s/core");
    for (int d = 0; d < argc - 1; d++) {
        tsdb *db = NULL;
        tsdb_stats st;
        if (open_db(argv[1 + d], &db, &st) != 0) {
            tsdb_close(db);
            fail = 1;
            continue;
        }
        const char *only = getenv("ENGINE_BENCH_ONLY"); /* one query label */
        for (size_t i = 0; i < sizeof QUERIES / sizeof *QUERIES; i++)
            if (QUERIES[i].hist == d && (!only || !strcmp(only, QUERIES[i].label)) &&
                run(e, db, &st, &QUERIES[i]) != 0)
                fail = 1;
        tsdb_close(db);
    }
    if (argc < 3) printf("(no HIST_DATA_DIR: histogram_quantile query skipped)\n");
    pql_engine_free(e);
    return fail;
}
