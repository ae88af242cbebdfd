/*
 * check_tsdbadmin.c - the admin operations of the TSDB (tsdb/delete.c,
 * tsdb/snapshot.c): delete requests hide exactly the matching series in
 * their range (head and blocks, next and seek), survive a reopen, leave
 * later samples visible; clean_tombstones rewrites blocks so the samples
 * are gone from disk; a snapshot opens read-only with the same data.
 */
#include "storage/err.h"
#include "storage/fileio.h"
#include "tests/unit/testutil.h"
#include "tsdb/db.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_MS (60 * 1000LL)

static void append_range(tsdb *db, int64_t t0, int64_t t1) {
    uint64_t refs[3] = {0};
    static const char *names[3] = {"a", "b", "c"};
    for (int64_t t = t0; t < t1; t += MIN_MS) {
        tsdb_appender *a = tsdb_appender_begin(db);
        ck_assert_ptr_nonnull(a);
        for (int s = 0; s < 3; s++) {
            label lv[2] = {{"__name__", "m"}, {"s", names[s]}};
            labels l = {lv, 2};
            ck_assert_int_eq(tsdb_append(a, refs[s], &l, t, (double)t, &refs[s]), 0);
        }
        ck_assert_int_eq(tsdb_commit(a), 0);
    }
}

/* "a=N b=N c=N": samples per series in [mint, maxt]; with seek_to, the
 * count starts at the first sample >= seek_to (found with seek). */
static void counts(tsdb *db, int64_t mint, int64_t maxt, int64_t seek_to, char *out, size_t cap) {
    tsdb_querier *q;
    ck_assert_int_eq(tsdb_querier_open(db, mint, maxt, &q), 0);
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "__name__", "m"), 0);
    tsdb_series_set *ss;
    ck_assert_int_eq(tsdb_select(q, &m, 1, &ss), 0);
    size_t o = 0;
    out[0] = '\0';
    while (tsdb_series_next(ss)) {
        const labels *l = tsdb_series_labels(ss);
        tsdb_sample_iter *it = tsdb_series_samples(ss);
        int64_t t, prev = INT64_MIN;
        double v;
        int n = 0;
        bool more = seek_to != INT64_MIN ? tsdb_sample_seek(it, seek_to, &t, &v) : tsdb_sample_next(it, &t, &v);
        for (; more; more = tsdb_sample_next(it, &t, &v)) {
            ck_assert_int_gt(t, prev);
            ck_assert(v == (double)t);
            prev = t;
            n++;
        }
        ck_assert_int_eq(tsdb_sample_err(it), 0);
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%d", o ? " " : "", labels_get(l, "s"), n);
    }
    ck_assert_int_eq(tsdb_series_err(ss), 0);
    tsdb_series_set_free(ss);
    matcher_free(&m);
    tsdb_querier_close(q);
}

static tsdb *open_rw(const char *dir) {
    tsdb_options o;
    tsdb_options_default(&o);
    o.wal_sync_commits = false;
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    return db;
}

static void del(tsdb *db, int64_t mint, int64_t maxt, match_type ty, const char *name, const char *value) {
    matcher m;
    ck_assert_int_eq(matcher_init(&m, ty, name, value), 0);
    ck_assert_int_eq(tsdb_delete_series(db, mint, maxt, &m, 1), 0);
    matcher_free(&m);
}

START_TEST(test_tsdbadmin_delete_head_blocks_reopen_clean) {
    const char *dir = tu_tmpdir();
    char path[512], got[128];
    snprintf(path, sizeof path, "%s/db", dir);
    tsdb *db = open_rw(path);
    append_range(db, 0, 100 * MIN_MS); /* 100 samples per series, t = 0 .. 99 min */
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=100 b=100 c=100");

    /* minutes 10..19 of a; regex delete of c from minute 90 to "the end" */
    del(db, 10 * MIN_MS, 19 * MIN_MS, MATCH_EQ, "s", "a");
    del(db, 90 * MIN_MS, INT64_MAX, MATCH_RE, "s", "c|nothing");
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=90 b=100 c=90");
    counts(db, INT64_MIN, INT64_MAX, 12 * MIN_MS, got, sizeof got); /* seek into the hole: lands on 20 */
    ck_assert_str_eq(got, "a=80 b=88 c=78");
    counts(db, 10 * MIN_MS, 19 * MIN_MS, INT64_MIN, got, sizeof got); /* a fully hidden in range: skipped */
    ck_assert_str_eq(got, "b=10 c=10");

    /* samples appended after the request stay visible (end clamped to the newest sample) */
    append_range(db, 100 * MIN_MS, 110 * MIN_MS);
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=100 b=110 c=100");

    /* durable: reopen (WAL replay into the head) */
    tsdb_close(db);
    db = open_rw(path);
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=100 b=110 c=100");

    /* into blocks, then clean: same answers, the requests file shrinks */
    ck_assert_int_eq(tsdb_flush_head(db), 0);
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=100 b=110 c=100");
    char reqs[600];
    snprintf(reqs, sizeof reqs, "%s/delete_requests", path);
    size_t before = tu_file_size(reqs);
    ck_assert_int_eq(tsdb_clean_tombstones(db), 0);
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=100 b=110 c=100");
    ck_assert_uint_lt(tu_file_size(reqs), before);
    tsdb_close(db);
    /* without any request file the blocks themselves no longer hold the samples */
    ck_assert_int_eq(unlink(reqs), 0);
    db = open_rw(path);
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, got, sizeof got);
    ck_assert_str_eq(got, "a=100 b=110 c=100");
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    ck_assert_uint_eq(st.block_samples, 310);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_tsdbadmin_snapshot_opens_with_same_data) {
    const char *dir = tu_tmpdir();
    char path[512], snap[600], snap2[600], a[128], b[128];
    snprintf(path, sizeof path, "%s/db", dir);
    tsdb *db = open_rw(path);
    /* a block of one whole 2 h window (a flushed partial window would make
     * a block reaching to the window's end, which the head then refuses
     * samples before on reopen), and a head */
    append_range(db, 0, 120 * MIN_MS);
    ck_assert_int_eq(tsdb_flush_head(db), 0);
    append_range(db, 120 * MIN_MS, 150 * MIN_MS);
    del(db, 5 * MIN_MS, 124 * MIN_MS, MATCH_EQ, "s", "b");
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, a, sizeof a);
    ck_assert_str_eq(a, "a=150 b=30 c=150");
    snprintf(snap, sizeof snap, "%s/snapshots/one", path);
    ck_assert_int_eq(tsdb_snapshot(db, snap, true), 0);
    snprintf(snap2, sizeof snap2, "%s/snapshots/two", path);
    ck_assert_int_eq(tsdb_snapshot(db, snap2, false), 0);
    append_range(db, 150 * MIN_MS, 155 * MIN_MS); /* after the snapshot: not in it */
    tsdb_options ro;
    tsdb_options_default(&ro);
    ro.read_only = true;
    tsdb *s;
    ck_assert_int_eq(tsdb_open(snap, &ro, &s), 0);
    counts(s, INT64_MIN, INT64_MAX, INT64_MIN, b, sizeof b);
    ck_assert_str_eq(b, a);
    tsdb_close(s);
    ck_assert_int_eq(tsdb_open(snap2, &ro, &s), 0); /* skip_head: the block only */
    counts(s, INT64_MIN, INT64_MAX, INT64_MIN, b, sizeof b);
    ck_assert_str_eq(b, "a=120 b=5 c=120");
    tsdb_close(s);
    /* the live DB's block listing ignores snapshots/ */
    tsdb_close(db);
    db = open_rw(path);
    counts(db, INT64_MIN, INT64_MAX, INT64_MIN, a, sizeof a);
    ck_assert_str_eq(a, "a=155 b=35 c=155");
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_tsdbadmin_bad_requests_file) {
    const char *dir = tu_tmpdir();
    char path[512], reqs[600];
    snprintf(path, sizeof path, "%s/db", dir);
    ck_assert_int_eq(fio_mkdir_p(path), 0);
    snprintf(reqs, sizeof reqs, "%s/delete_requests", path);
    static const char bad[] = "flint-delete-requests 1\n0 10 1 0 7a\n";
    ck_assert_int_eq(fio_write_file_atomic(reqs, bad, sizeof bad - 1), 0);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(path, NULL, &db), FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "delete_requests:2: malformed matcher"));
    /* empty DB: a delete is a no-op, clean is fine */
    ck_assert_int_eq(unlink(reqs), 0);
    db = open_rw(path);
    del(db, 0, 100, MATCH_EQ, "s", "a");
    ck_assert_int_eq(fio_exists(reqs), 0);
    ck_assert_int_eq(tsdb_clean_tombstones(db), 0);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

Suite *tsdbadmin_suite(void) {
    Suite *s = suite_create("tsdbadmin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tsdbadmin_delete_head_blocks_reopen_clean);
    tcase_add_test(tc, test_tsdbadmin_snapshot_opens_with_same_data);
    tcase_add_test(tc, test_tsdbadmin_bad_requests_file);
    suite_add_tcase(s, tc);
    return s;
}
