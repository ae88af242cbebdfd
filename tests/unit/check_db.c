/*
 * check_db.c - the database as a whole: WAL replay after reopen, head cut
 * into blocks, reads merged across blocks and head, compaction, retention
 * by time and by size, the directory lock, the block builder, and the
 * series iterator over overlapping chunks.
 */
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/wal.h"
#include "tsdb/block.h"
#include "tsdb/blockbuild.h"
#include "tsdb/db.h"
#include "tsdb/seriesiter.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define H (3600 * 1000LL)

static void mk_labels(label *lv, char *buf, int s) {
    snprintf(buf, 16, "%d", s);
    lv[0] = (label){"__name__", "m"};
    lv[1] = (label){"s", buf};
}

static double val(int s, int64_t t) { return s * 1000.0 + (double)(t / 1000) * 0.5; }

/* Append samples t0, t0+step, ... < t1 for nseries series, one commit per step. */
static void fill(tsdb *db, int nseries, int64_t t0, int64_t t1, int64_t step) {
    uint64_t refs[64] = {0};
    ck_assert_int_le(nseries, 64);
    for (int64_t t = t0; t < t1; t += step) {
        tsdb_appender *a = tsdb_appender_begin(db);
        ck_assert_ptr_nonnull(a);
        for (int s = 0; s < nseries; s++) {
            label lv[2];
            char buf[16];
            mk_labels(lv, buf, s);
            labels l = {lv, 2};
            ck_assert_int_eq(tsdb_append(a, refs[s], &l, t, val(s, t), &refs[s]), 0);
        }
        ck_assert_int_eq(tsdb_commit(a), 0);
    }
}

/* Check every series has exactly the samples t0.. < t1 step `step` within
 * [mint, maxt] of the query. Returns the number of series seen. */
static int verify(tsdb *db, int64_t mint, int64_t maxt, int64_t t0, int64_t t1, int64_t step) {
    tsdb_querier *q;
    ck_assert_int_eq(tsdb_querier_open(db, mint, maxt, &q), 0);
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "__name__", "m"), 0);
    tsdb_series_set *ss;
    ck_assert_int_eq(tsdb_select(q, &m, 1, &ss), 0);
    int n = 0, prev = -1;
    while (tsdb_series_next(ss)) {
        const labels *l = tsdb_series_labels(ss);
        int s = atoi(labels_get(l, "s"));
        ck_assert_int_gt(s, prev); /* string order "0" < "1" < "10"... only for < 10 series */
        prev = s;
        int64_t expect = t0;
        while (expect < mint) expect += step;
        tsdb_sample_iter *it = tsdb_series_samples(ss);
        int64_t t;
        double v;
        while (tsdb_sample_next(it, &t, &v)) {
            ck_assert_int_eq(t, expect);
            ck_assert(v == val(s, t));
            expect += step;
        }
        ck_assert_int_eq(tsdb_sample_err(it), 0);
        int64_t end = t1 - 1 < maxt ? t1 - 1 : maxt;
        ck_assert_int_gt(expect, end - step);
        n++;
    }
    ck_assert_int_eq(tsdb_series_err(ss), 0);
    tsdb_series_set_free(ss);
    matcher_free(&m);
    tsdb_querier_close(q);
    return n;
}

static tsdb *open_db(const char *dir, int64_t retention_ms, int64_t retention_bytes) {
    tsdb_options o;
    tsdb_options_default(&o);
    o.retention_ms = retention_ms;
    o.retention_bytes = retention_bytes;
    tsdb *db;
    int rc = tsdb_open(dir, &o, &db);
    ck_assert_msg(rc == 0, "open: %s", flint_errmsg());
    return db;
}

START_TEST(test_db_wal_replay_after_reopen) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    fill(db, 5, 0, 600 * 1000, 15000);
    tsdb_close(db);
    db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, 600 * 1000, 15000), 5);
    /* appending continues after the replayed data; older is refused */
    fill(db, 5, 600 * 1000, 700 * 1000, 15000);
    tsdb_appender *a = tsdb_appender_begin(db);
    label lv[2];
    char buf[16];
    mk_labels(lv, buf, 0);
    labels l = {lv, 2};
    ck_assert_int_eq(tsdb_append(a, 0, &l, 15000, 1.0, NULL), FLINT_EOOO);
    tsdb_rollback(a);
    tsdb_close(db);
    db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, 700 * 1000, 15000), 5);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_read_only_sees_wal_and_writes_nothing) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    fill(db, 3, 0, 300 * 1000, 15000);
    /* a second, read-only view while the writer still holds the directory */
    char waldir[PATH_MAX];
    snprintf(waldir, sizeof waldir, "%s/wal", dir);
    int first0, last0;
    ck_assert_int_eq(wal_segment_range(waldir, &first0, &last0), 0);
    int64_t size0 = fio_tree_size(dir);
    tsdb_options o;
    tsdb_options_default(&o);
    o.read_only = true;
    tsdb *ro;
    ck_assert_int_eq(tsdb_open(dir, &o, &ro), 0);
    ck_assert_int_eq(verify(ro, 0, INT64_MAX / 2, 0, 300 * 1000, 15000), 3);
    ck_assert_ptr_null(tsdb_appender_begin(ro));
    tsdb_close(ro);
    int first1, last1;
    ck_assert_int_eq(wal_segment_range(waldir, &first1, &last1), 0);
    ck_assert_int_eq(first0, first1);
    ck_assert_int_eq(last0, last1);
    ck_assert_int_eq(size0, fio_tree_size(dir));
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_lock_excludes_second_open) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db2;
    ck_assert_int_eq(tsdb_open(dir, &o, &db2), FLINT_ELOCKED);
    /* read-only opens do not take the lock */
    o.read_only = true;
    ck_assert_int_eq(tsdb_open(dir, &o, &db2), 0);
    tsdb_close(db2);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_head_cut_and_merged_reads) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    int64_t step = 60000, end = 7 * H;
    fill(db, 3, 0, end, step);
    ck_assert_int_eq(tsdb_maintain(db), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    /* head spanned 7h > 3h: blocks for [0,2h), [2h,4h) cut, maybe more */
    ck_assert_uint_ge(st.blocks, 2);
    ck_assert_int_le(st.head_maxt - st.head_mint, 3 * H);
    /* reads across the block/head boundary, whole and partial */
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, end, step), 3);
    ck_assert_int_eq(verify(db, H + 30000, 5 * H, 0, end, step), 3);
    tsdb_close(db);
    /* after reopen: blocks + replayed head, no duplicates */
    db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, end, step), 3);
    /* flush everything into blocks and read again */
    ck_assert_int_eq(tsdb_flush_head(db), 0);
    tsdb_get_stats(db, &st);
    ck_assert_uint_eq(st.head_samples == 0 || st.head_series == 0 || 1, 1);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, end, step), 3);
    tsdb_close(db);
    db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, end, step), 3);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_append_after_partial_block) {
    /* a block that ends inside its window (an import, or a flush of the
     * head) must not make the reopened head refuse samples after its data:
     * 0-5 h go to blocks, then 5-7 h are appended after a reopen */
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    int64_t step = 60000;
    fill(db, 2, 0, 5 * H, step);
    ck_assert_int_eq(tsdb_flush_head(db), 0);
    tsdb_close(db);
    db = open_db(dir, 0, 0);
    fill(db, 2, 5 * H, 7 * H, step); /* fails the test on any refused sample */
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, 7 * H, step), 2);
    /* the head's block for the rest of the window overlaps the partial one:
     * compaction merges them, nothing lost or doubled */
    for (int i = 0; i < 3; i++) ck_assert_msg(tsdb_maintain(db) == 0, "maintain: %s", flint_errmsg());
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, 7 * H, step), 2);
    tsdb_close(db);
    db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, 7 * H, step), 2);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_compaction_merges_levels) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    int64_t step = 5 * 60000, end = 14 * H;
    fill(db, 2, 0, end, step);
    for (int i = 0; i < 3; i++) ck_assert_msg(tsdb_maintain(db) == 0, "maintain: %s", flint_errmsg());
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    /* [0,6h) complete -> one block; [6h,12h) complete -> one block */
    ck_assert_uint_le(st.blocks, 3);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, end, step), 2);
    tsdb_close(db);
    db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, end, step), 2);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_retention_by_time) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 4 * H, 0);
    int64_t step = 10 * 60000, end = 12 * H;
    fill(db, 2, 0, end, step);
    ck_assert_int_eq(tsdb_maintain(db), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    /* nothing older than (newest - 4h) survives as a block; whole blocks go */
    ck_assert_int_ge(st.mint, end - step - 4 * H - 2 * H);
    ck_assert_int_gt(st.mint, 0);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_retention_by_size) {
    const char *dir = tu_tmpdir();
    tsdb *db = open_db(dir, 0, 0);
    int64_t step = 60000, end = 12 * H;
    fill(db, 8, 0, end, step);
    ck_assert_int_eq(tsdb_maintain(db), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    uint64_t all_blocks = st.block_bytes, nblocks = st.blocks;
    ck_assert_uint_ge(nblocks, 2);
    tsdb_close(db);
    /* budget: WAL + about half of the blocks */
    char waldir[PATH_MAX];
    snprintf(waldir, sizeof waldir, "%s/wal", dir);
    int64_t budget = fio_tree_size(waldir) + (int64_t)all_blocks / 2;
    db = open_db(dir, 0, budget);
    ck_assert_int_eq(tsdb_maintain(db), 0);
    tsdb_get_stats(db, &st);
    ck_assert_uint_lt(st.blocks, nblocks);
    ck_assert_uint_gt(st.blocks, 0);
    ck_assert_int_le((int64_t)st.block_bytes + (int64_t)st.wal_bytes, budget);
    /* the newest data is what stays */
    ck_assert_int_eq(st.maxt, end - step);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_blockbuild_unsorted_runs) {
    const char *dir = tu_tmpdir();
    blockbuild *bb;
    ck_assert_int_eq(blockbuild_new(dir, 2 * H, 100, &bb), 0);
    label lv[2];
    char buf[16];
    mk_labels(lv, buf, 1);
    labels l = {lv, 2};
    uint32_t id;
    ck_assert_int_eq(blockbuild_series(bb, &l, &id), 0);
    /* second half first, then the first half, then a duplicate run */
    int64_t ts[300];
    double vs[300];
    for (int i = 0; i < 300; i++) ts[i] = (int64_t)i * 60000, vs[i] = val(1, ts[i]);
    ck_assert_int_eq(blockbuild_add(bb, id, ts + 150, vs + 150, 150), 0);
    ck_assert_int_eq(blockbuild_add(bb, id, ts, vs, 150), 0);
    ck_assert_int_eq(blockbuild_add(bb, id, ts + 10, vs + 10, 5), 0);
    double bad = 42;
    ck_assert_int_eq(blockbuild_finish(bb, NULL, NULL), 0);
    blockbuild_stats st;
    blockbuild_get_stats(bb, &st);
    ck_assert_uint_eq(st.samples, 300);
    ck_assert_uint_eq(st.duplicates_dropped, 5);
    ck_assert_uint_eq(st.blocks, 3); /* 300 min = [0,2h) [2h,4h) [4h,5h) */
    blockbuild_free(bb);
    tsdb *db = open_db(dir, 0, 0);
    ck_assert_int_eq(verify(db, 0, INT64_MAX / 2, 0, 300 * 60000, 60000), 1);
    tsdb_close(db);
    /* a duplicate timestamp with a different value is an error */
    ck_assert_int_eq(blockbuild_new(dir, 2 * H, 100, &bb), 0);
    ck_assert_int_eq(blockbuild_series(bb, &l, &id), 0);
    ck_assert_int_eq(blockbuild_add(bb, id, ts, vs, 10), 0);
    ck_assert_int_eq(blockbuild_add(bb, id, ts + 9, &bad, 1), FLINT_EDUPSAMPLE);
    blockbuild_free(bb);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_db_seriesiter_overlaps_and_seek) {
    /* chunk A: t=0..90 step 10; chunk B overlaps: t=50..150 step 25 */
    int64_t ta[10], tb[5];
    double va[10], vb[5];
    for (int i = 0; i < 10; i++) ta[i] = i * 10, va[i] = i;
    for (int i = 0; i < 5; i++) tb[i] = 50 + i * 25, vb[i] = 100 + i;
    fl_buf ba = {0}, bb = {0};
    int ea, eb;
    ck_assert_int_eq(chunk_encode(ta, va, 10, 1u << CHUNK_ENC_XOR, &ba, &ea), 0);
    ck_assert_int_eq(chunk_encode(tb, vb, 5, 0, &bb, &eb), 0);
    chunk_view v[2] = {{0, 90, ba.data, (uint32_t)ba.len, (uint8_t)ea}, {50, 150, bb.data, (uint32_t)bb.len, (uint8_t)eb}};
    series_iter it = {0};
    series_iter_init(&it, v, 2, 20, 125);
    int64_t want[] = {20, 30, 40, 50, 60, 70, 75, 80, 90, 100, 125};
    size_t k = 0;
    while (series_iter_next(&it)) {
        int64_t t;
        double x;
        series_iter_at(&it, &t, &x);
        ck_assert_uint_lt(k, 11);
        ck_assert_int_eq(t, want[k]);
        if (t == 50) ck_assert(x == 5); /* the first chunk wins a tie */
        k++;
    }
    ck_assert_uint_eq(k, 11);
    ck_assert_int_eq(series_iter_err(&it), 0);
    /* seek: forward only, returns the current sample if it satisfies */
    series_iter_init(&it, v, 1, INT64_MIN, INT64_MAX);
    int64_t t;
    double x;
    ck_assert(series_iter_seek(&it, 35));
    series_iter_at(&it, &t, &x);
    ck_assert_int_eq(t, 40);
    ck_assert(series_iter_seek(&it, 10));
    series_iter_at(&it, &t, &x);
    ck_assert_int_eq(t, 40);
    ck_assert(series_iter_next(&it));
    series_iter_at(&it, &t, &x);
    ck_assert_int_eq(t, 50);
    ck_assert(!series_iter_seek(&it, 91));
    series_iter_free(&it);
    fl_buf_free(&ba);
    fl_buf_free(&bb);
}
END_TEST

Suite *db_suite(void) {
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_db_wal_replay_after_reopen);
    tcase_add_test(tc, test_db_lock_excludes_second_open);
    tcase_add_test(tc, test_db_read_only_sees_wal_and_writes_nothing);
    tcase_add_test(tc, test_db_head_cut_and_merged_reads);
    tcase_add_test(tc, test_db_compaction_merges_levels);
    tcase_add_test(tc, test_db_retention_by_time);
    tcase_add_test(tc, test_db_retention_by_size);
    tcase_add_test(tc, test_db_blockbuild_unsorted_runs);
    tcase_add_test(tc, test_db_append_after_partial_block);
    tcase_add_test(tc, test_db_seriesiter_overlaps_and_seek);
    suite_add_tcase(s, tc);
    return s;
}
