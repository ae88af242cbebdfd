/*
 * crashwriter.c - the writer and the verifier of the crash test
 * (tests/crash/run.sh).
 *
 *   crashwriter write DIR   appends forever: each commit adds one sample per
 *                           series at the next timestamp, then records the
 *                           timestamp in DIR.ack (a write(2) after the commit
 *                           returned). Runs maintenance (head cut, compaction,
 *                           retention, WAL checkpoints) every few commits with
 *                           a small block range so kills land in those too.
 *   crashwriter verify DIR  opens the DB (replaying the WAL after the kill)
 *                           and checks that every series has every sample up
 *                           to the last acknowledged timestamp, with the
 *                           right value. Exit 0 = all there.
 *
 * Values are a pure function of (series, t), so the verifier needs no log of
 * what was written. Timestamps continue across runs from the last sample
 * found, so the database grows through many kill/reopen cycles.
 */
#include "storage/err.h"
#include "tsdb/db.h"
#include "tsdb/labels.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSERIES 50
#define STEP_MS 1000
#define BLOCK_RANGE_MS (60 * 1000)

static double value_of(int s, int64_t t) { return (double)s * 1e6 + (double)(t / STEP_MS) * 0.25; }

static void series_labels(int s, label *lv, char *buf) {
    snprintf(buf, 32, "s%03d", s);
    lv[0].name = "__name__";
    lv[0].value = "crash_test_value";
    lv[1].name = "series";
    lv[1].value = buf;
}

static void open_opts(tsdb_options *o) {
    tsdb_options_default(o);
    o->block_range_ms = BLOCK_RANGE_MS;
    o->max_block_ms = 4 * BLOCK_RANGE_MS;
    o->retention_ms = 0;
    o->wal_segment_size = 64 * 1024; /* many segments: checkpoints and cuts happen often */
}

/* Highest timestamp stored for series 0, or -STEP_MS when empty. */
static int64_t last_stored(tsdb *db) {
    tsdb_querier *q;
    if (tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q)) return -STEP_MS;
    matcher m;
    matcher_init(&m, MATCH_EQ, "series", "s000");
    tsdb_series_set *ss;
    int64_t last = -STEP_MS;
    if (tsdb_select(q, &m, 1, &ss) == 0) {
        if (tsdb_series_next(ss)) {
            tsdb_sample_iter *it = tsdb_series_samples(ss);
            int64_t t;
            double v;
            while (tsdb_sample_next(it, &t, &v)) last = t;
        }
        tsdb_series_set_free(ss);
    }
    matcher_free(&m);
    tsdb_querier_close(q);
    return last;
}

static int do_write(const char *dir) {
    tsdb_options o;
    open_opts(&o);
    tsdb *db;
    int rc = tsdb_open(dir, &o, &db);
    if (rc) {
        fprintf(stderr, "write: open: %s\n", flint_errmsg());
        return 1;
    }
    char ackpath[4096];
    snprintf(ackpath, sizeof ackpath, "%s.ack", dir);
    int ackfd = open(ackpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (ackfd < 0) return 1;
    uint64_t refs[NSERIES] = {0};
    int64_t t = last_stored(db) + STEP_MS;
    for (long commit = 0;; commit++, t += STEP_MS) {
        tsdb_appender *app = tsdb_appender_begin(db);
        if (!app) return 1;
        for (int s = 0; s < NSERIES; s++) {
            label lv[2];
            char buf[32];
            series_labels(s, lv, buf);
            labels l = {lv, 2};
            rc = tsdb_append(app, refs[s], &l, t, value_of(s, t), &refs[s]);
            if (rc) {
                fprintf(stderr, "write: append t=%" PRId64 ": %s\n", t, flint_errmsg());
                return 1;
            }
        }
        rc = tsdb_commit(app);
        if (rc) {
            fprintf(stderr, "write: commit: %s\n", flint_errmsg());
            return 1;
        }
        char line[32];
        int n = snprintf(line, sizeof line, "%" PRId64 "\n", t);
        if (write(ackfd, line, (size_t)n) != n) return 1;
        if (commit % 20 == 19) {
            rc = tsdb_maintain(db);
            if (rc) {
                fprintf(stderr, "write: maintain: %s\n", flint_errmsg());
                return 1;
            }
        }
    }
}

static int do_verify(const char *dir) {
    char ackpath[4096];
    snprintf(ackpath, sizeof ackpath, "%s.ack", dir);
    FILE *f = fopen(ackpath, "r");
    int64_t acked = -1;
    if (f) {
        char line[64];
        while (fgets(line, sizeof line, f))
            if (strchr(line, '\n')) acked = strtoll(line, NULL, 10);
        fclose(f);
    }
    tsdb_options o;
    open_opts(&o);
    tsdb *db;
    if (tsdb_open(dir, &o, &db)) {
        fprintf(stderr, "verify: open failed: %s\n", flint_errmsg());
        return 1;
    }
    tsdb_querier *q;
    if (tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q)) return 1;
    matcher m;
    matcher_init(&m, MATCH_EQ, "__name__", "crash_test_value");
    tsdb_series_set *ss;
    if (tsdb_select(q, &m, 1, &ss)) {
        fprintf(stderr, "verify: select: %s\n", flint_errmsg());
        return 1;
    }
    int nseries = 0, bad = 0;
    while (tsdb_series_next(ss)) {
        const labels *l = tsdb_series_labels(ss);
        int s = atoi(labels_get(l, "series") + 1);
        tsdb_sample_iter *it = tsdb_series_samples(ss);
        int64_t t, expect = 0;
        double v;
        while (tsdb_sample_next(it, &t, &v)) {
            if (t != expect || v != value_of(s, t)) {
                fprintf(stderr, "verify: series %d: got t=%" PRId64 " v=%g, want t=%" PRId64 " v=%g\n", s, t,
                        v, expect, value_of(s, expect));
                bad++;
                break;
            }
            expect += STEP_MS;
        }
        if (tsdb_sample_err(it)) {
            fprintf(stderr, "verify: series %d: %s\n", s, flint_errmsg());
            bad++;
        }
        if (expect - STEP_MS < acked) {
            fprintf(stderr, "verify: series %d: last sample %" PRId64 " < acknowledged %" PRId64 "\n", s,
                    expect - STEP_MS, acked);
            bad++;
        }
        nseries++;
    }
    if (tsdb_series_err(ss)) {
        fprintf(stderr, "verify: %s\n", flint_errmsg());
        bad++;
    }
    tsdb_series_set_free(ss);
    matcher_free(&m);
    tsdb_querier_close(q);
    tsdb_close(db);
    if (acked >= 0 && nseries != NSERIES) {
        fprintf(stderr, "verify: %d series, want %d\n", nseries, NSERIES);
        bad++;
    }
    printf("verify: acked=%" PRId64 " series=%d %s\n", acked, nseries, bad ? "FAIL" : "ok");
    return bad ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: crashwriter write|verify DIR\n");
        return 2;
    }
    if (!strcmp(argv[1], "write")) return do_write(argv[2]);
    if (!strcmp(argv[1], "verify")) return do_verify(argv[2]);
    return 2;
}
