/*
 * wal_bench.c - WAL throughput: logging sample batches (encode + frame +
 * write, with and without LZ4; and with an fdatasync per record, the
 * default "sync every commit" policy), replay speed, and checkpoint speed.
 *
 *   build/bench/wal_bench [DIR] [RECORDS]
 *
 * DIR (default $TMPDIR or /tmp) gets a scratch directory that is removed at
 * the end. Every figure is the best of 3 runs (the disk is noisy). Each record holds 1,000 samples of one scrape: series refs
 * r..r+999 at one timestamp, half counters (integral, rising), half gauges
 * (random doubles), like a node_exporter target.
 */
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "storage/wal.h"
#include "tsdb/walrec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES_PER_RECORD 1000
#define NUM_SERIES 10000
#define RUNS 3

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc) {
    fprintf(stderr, "wal_bench: %s: %s (%s)\n", what, flint_strerror(rc), flint_errmsg());
    exit(1);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Batch k: 1,000 consecutive series of the 10,000, all at scrape k/10. */
static void make_batch(walrec_sample *s, long k) {
    uint64_t first_ref = 1 + (uint64_t)(k % (NUM_SERIES / SAMPLES_PER_RECORD)) * SAMPLES_PER_RECORD;
    int64_t t = 1700000000000 + (k / (NUM_SERIES / SAMPLES_PER_RECORD)) * 15000 + (int64_t)(rng_next() % 50);
    for (int i = 0; i < SAMPLES_PER_RECORD; i++) {
        uint64_t ref = first_ref + (uint64_t)i;
        double v = ref % 2 ? (double)(ref * 100 + (uint64_t)k * (ref % 7)) /* counter */
                           : (double)(rng_next() % 100000) / 37.0;      /* gauge */
        s[i] = (walrec_sample){ref, t, v};
    }
}

typedef struct log_result {
    double secs;
    uint64_t record_bytes, disk_bytes, samples;
} log_result;

static log_result bench_log_once(const char *dir, bool compress, long records, bool sync_each) {
    fio_rm_rf(dir);
    wal_options o = {.segment_size = 0, .compress = compress};
    wal *w;
    int rc = wal_open(dir, &o, &w);
    if (rc) die("wal_open", rc);
    fl_buf b = {0};
    static walrec_sample batch[SAMPLES_PER_RECORD];
    log_result res = {0};
    /* the series records a head would log first */
    label l[3];
    char inst[32];
    l[0] = (label){"__name__", "node_metric"};
    l[1] = (label){"instance", inst};
    l[2] = (label){"job", "node"};
    for (uint64_t ref = 1; ref <= NUM_SERIES; ref++) {
        snprintf(inst, sizeof inst, "host-%llu:9100", (unsigned long long)ref);
        walrec_series s = {ref, {l, 3}};
        fl_buf_reset(&b);
        if ((rc = walrec_encode_series(&b, &s, 1)) || (rc = wal_log(w, b.data, b.len))) die("log series", rc);
    }
    double t0 = now_s();
    for (long k = 0; k < records; k++) {
        make_batch(batch, k);
        fl_buf_reset(&b);
        if ((rc = walrec_encode_samples(&b, batch, SAMPLES_PER_RECORD))) die("encode", rc);
        if ((rc = wal_log(w, b.data, b.len))) die("wal_log", rc);
        if (sync_each && (rc = wal_sync(w))) die("wal_sync", rc);
        res.record_bytes += b.len;
        res.samples += SAMPLES_PER_RECORD;
    }
    if ((rc = wal_sync(w))) die("wal_sync", rc);
    res.secs = now_s() - t0;
    wal_close(w);
    fl_buf_free(&b);
    res.disk_bytes = (uint64_t)fio_tree_size(dir);
    return res;
}

static log_result bench_log(const char *dir, bool compress, long records, bool sync_each) {
    log_result best = {0};
    for (int i = 0; i < RUNS; i++) {
        log_result r = bench_log_once(dir, compress, records, sync_each);
        if (i == 0 || r.secs < best.secs) best = r;
    }
    return best;
}

typedef struct replay_count {
    uint64_t series, samples;
    double sum;
} replay_count;

static int count_series(void *ctx, const walrec_series *s, size_t n) {
    (void)s;
    ((replay_count *)ctx)->series += n;
    return 0;
}

static int count_samples(void *ctx, const walrec_sample *s, size_t n) {
    replay_count *c = ctx;
    c->samples += n;
    for (size_t i = 0; i < n; i++) c->sum += s[i].v; /* touch every sample */
    return 0;
}

static bool keep_odd(uint64_t ref, void *ctx) {
    (void)ctx;
    return ref % 2 == 1;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    long records = argc > 2 ? atol(argv[2]) : 5000;
    char root[PATH_MAX], dir[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/wal_bench-XXXXXX", base);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/wal", root);
    flint_log_set_level(FLINT_LOG_ERROR);

    printf("wal_bench: %ld records x %d samples, %d series, dir %s\n\n", records, SAMPLES_PER_RECORD, NUM_SERIES,
           base);
    printf("%-26s %10s %12s %14s %10s %10s\n", "log", "seconds", "MB/s(rec)", "samples/s", "disk MB", "B/sample");
    for (int compress = 0; compress <= 1; compress++) {
        log_result r = bench_log(dir, compress, records, false);
        printf("%-26s %10.3f %12.1f %14.0f %10.1f %10.2f\n", compress ? "lz4, sync at end" : "raw, sync at end",
               r.secs, (double)r.record_bytes / 1e6 / r.secs, (double)r.samples / r.secs,
               (double)r.disk_bytes / 1e6, (double)r.disk_bytes / (double)r.samples);

        /* replay what was just written */
        replay_count c;
        walrec_replay_cb cb = {count_series, count_samples};
        double t0, secs = 0;
        int rc;
        for (int i = 0; i < RUNS; i++) {
            memset(&c, 0, sizeof c);
            t0 = now_s();
            if ((rc = walrec_replay(dir, &cb, &c, NULL))) die("replay", rc);
            double d = now_s() - t0;
            if (i == 0 || d < secs) secs = d;
        }
        printf("%-26s %10.3f %12.1f %14.0f %10s %10s\n", compress ? "  replay (lz4)" : "  replay (raw)", secs,
               (double)r.record_bytes / 1e6 / secs, (double)c.samples / secs, "", "");
        if (c.samples != r.samples) {
            fprintf(stderr, "replay saw %llu samples, logged %llu\n", (unsigned long long)c.samples,
                    (unsigned long long)r.samples);
            return 1;
        }
        if (compress) {
            /* checkpoint of everything written (half the series kept) */
            wal *w;
            if ((rc = wal_open(dir, NULL, &w))) die("wal_open", rc);
            int last = wal_current_segment(w) - 1;
            wal_close(w);
            t0 = now_s();
            if ((rc = walrec_checkpoint(dir, 0, last, keep_odd, 0, NULL))) die("checkpoint", rc);
            secs = now_s() - t0;
            printf("%-26s %10.3f %12.1f %14.0f %10.1f %10s\n", "  checkpoint (keep 1/2)", secs,
                   (double)r.record_bytes / 1e6 / secs, (double)r.samples / secs,
                   (double)fio_tree_size(dir) / 1e6, "");
        }
    }
    long synced = records < 500 ? records : 500;
    for (int compress = 0; compress <= 1; compress++) {
        log_result r = bench_log(dir, compress, synced, true);
        printf("%-26s %10.3f %12.1f %14.0f   (%.0f commits/s)\n", compress ? "lz4, fdatasync per record" : "raw, fdatasync per record",
               r.secs, (double)r.record_bytes / 1e6 / r.secs, (double)r.samples / r.secs, (double)synced / r.secs);
    }
    fio_rm_rf(root);
    return 0;
}
