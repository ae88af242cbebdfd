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
 * once cold (not counted) and then 5 times; reported: median wall ms,
 * median and best CPU ms (this thread's CPU time: the engine runs on the calling
 * thread, and the figure holds on a shared machine), the raw samples the
 * query reads (counted once, outside the timing, by selecting the same
 * series through the querier and counting samples in [start - 5m, end]),
 * the series and points returned ("in-series" is how many series the
 * selector matches), and raw samples / median CPU second, i.e. samples
 * read per second per core.
 */
#include "query/engine.h"
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
};

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* Samples of series {__name__="metric"} with t in [mint, maxt], and the
 * first and last of their timestamps (*tmin > *tmax when there are none). */
static int count_samples(tsdb *db, const char *metric, int64_t mint, int64_t maxt,
                         uint64_t *nsamples, uint64_t *nseries, int64_t *tmin,
                         int64_t *tmax) {
    matcher m;
    int rc = matcher_init(&m, MATCH_EQ, "__name__", metric);
    if (rc != 0) return rc;
    tsdb_querier *q = NULL;
    rc = tsdb_querier_open(db, mint, maxt, &q);
    if (rc != 0) {
        matcher_free(&m);
        return rc;
    }
    tsdb_series_set *ss = NULL;
    rc = tsdb_select(q, &m, 1, &ss);
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
    matcher_free(&m);
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
    int rc = count_samples(db, bq->metric, st->mint, st->maxt, &raw, &rawseries, &start, &end);
    if (rc == 0 && start <= end)
        rc = count_samples(db, bq->metric, start - RANGE_MS, end, &raw, &rawseries, &(int64_t){0},
                           &(int64_t){0});
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
    pql_engine *e = pql_engine_new(NULL);
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
        for (size_t i = 0; i < sizeof QUERIES / sizeof *QUERIES; i++)
            if (QUERIES[i].hist == d && run(e, db, &st, &QUERIES[i]) != 0) fail = 1;
        tsdb_close(db);
    }
    if (argc < 3) printf("(no HIST_DATA_DIR: histogram_quantile query skipped)\n");
    pql_engine_free(e);
    return fail;
}
