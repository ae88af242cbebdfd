/*
 * check_wal.c - WAL framing (storage/wal.c): round trips across segment
 * cuts with and without LZ4, torn and corrupt tails at every byte of the
 * last record, corruption in earlier segments, zero-filled tails, empty and
 * missing segments, injected write/fsync errors and OOM, checkpoint
 * directory helpers.
 */
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "storage/varint.h"
#include "storage/wal.h"
#include "tests/unit/testutil.h"
#include "tests/unit/waltest.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_MAX 512
#define FRAME_HDR 13

/* Record `id`: 20..319 bytes, starting with the id (be32). Ids divisible by
 * 3 are random bytes (LZ4 cannot shrink them), the others repeated text. */
static size_t gen_len(uint32_t id) { return 20 + (id * 7919u) % 300; }
static bool gen_is_text(uint32_t id) { return id % 3 != 0; }

static size_t gen_record(uint32_t id, uint8_t *buf) {
    size_t len = gen_len(id);
    if (gen_is_text(id)) {
        for (size_t i = 0; i < len;) {
            char word[32];
            int w = snprintf(word, sizeof word, "sample-%u ", id);
            for (int k = 0; k < w && i < len; k++) buf[i++] = (uint8_t)word[k];
        }
    } else {
        tu_rng rng = {id * 0x9e3779b97f4a7c15ull + 1};
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)tu_next(&rng);
    }
    be32_put(buf, id);
    return len;
}

static void log_ids(wal *w, uint32_t from, uint32_t to) {
    uint8_t buf[REC_MAX];
    for (uint32_t id = from; id < to; id++) {
        size_t len = gen_record(id, buf);
        ck_assert_int_eq(wal_log(w, buf, len), 0);
    }
}

static void write_ids(const char *dir, const wal_options *opt, uint32_t from, uint32_t to) {
    wal *w;
    ck_assert_int_eq(wal_open(dir, opt, &w), 0);
    log_ids(w, from, to);
    wal_close(w);
}

typedef struct read_result {
    uint32_t ids[4096];
    size_t n;
    int err;
    int seg;          /* wal_reader_pos at the end */
    int64_t off;
    int last_seg;     /* where the last good record starts */
    int64_t last_off;
} read_result;

/* Read every record of dir, checking each against gen_record(its id). */
static void read_ids(const char *dir, read_result *res) {
    wal_reader *r;
    memset(res, 0, sizeof *res);
    res->last_seg = -1;
    ck_assert_int_eq(wal_reader_open(dir, 0, -1, &r), 0);
    const uint8_t *rec;
    size_t len;
    uint8_t want[REC_MAX];
    while (wal_reader_next(r, &rec, &len)) {
        ck_assert_uint_ge(len, 4);
        uint32_t id = be32_get(rec);
        ck_assert_uint_eq(len, gen_record(id, want));
        ck_assert_mem_eq(rec, want, len);
        ck_assert_uint_lt(res->n, sizeof res->ids / sizeof res->ids[0]);
        res->ids[res->n++] = id;
        wal_reader_record_pos(r, &res->last_seg, &res->last_off);
    }
    res->err = wal_reader_err(r);
    wal_reader_pos(r, &res->seg, &res->off);
    wal_reader_free(r);
}

static void assert_ids_seq(const read_result *res, uint32_t from, uint32_t to) {
    ck_assert_uint_eq(res->n, to - from);
    for (size_t i = 0; i < res->n; i++) ck_assert_uint_eq(res->ids[i], from + i);
}

static void sub_dir(char *buf, size_t cap, const char *base, const char *name) { wt_path(buf, cap, base, name); }

/* ---- round trips ---------------------------------------------------------------- */

START_TEST(test_wal_roundtrip_across_segments) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal_options opt = {.segment_size = 4096, .compress = true};
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), 0);
    log_ids(w, 0, 3000);
    uint64_t written = wal_bytes_written(w);
    int cur = wal_current_segment(w);
    wal_close(w);
    ck_assert_int_gt(cur, 10);

    int first, last;
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(last, cur);
    uint64_t on_disk = 0;
    for (int s = first; s <= last; s++) {
        char p[PATH_MAX];
        wt_seg_path(p, sizeof p, dir, s);
        size_t sz = tu_file_size(p);
        ck_assert_uint_le(sz, 4096); /* every record is far below the segment size */
        if (s != last) ck_assert_uint_gt(sz, 4096 - (REC_MAX + FRAME_HDR));
        on_disk += sz;
    }
    ck_assert_uint_eq(on_disk, written);

    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 3000);
    ck_assert_int_eq(res->seg, last);

    /* a sub-range of segments */
    wal_reader *r;
    ck_assert_int_eq(wal_reader_open(dir, 2, 3, &r), 0);
    const uint8_t *rec;
    size_t len, n = 0;
    while (wal_reader_next(r, &rec, &len)) n++;
    ck_assert_int_eq(wal_reader_err(r), 0);
    int seg;
    int64_t off;
    wal_reader_pos(r, &seg, &off);
    ck_assert_int_eq(seg, 3);
    wal_reader_free(r);
    ck_assert_uint_gt(n, 10);
    ck_assert_uint_lt(n, 3000);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_compressed_and_uncompressed) {
    const char *base = tu_tmpdir();
    char raw[PATH_MAX], lz[PATH_MAX];
    sub_dir(raw, sizeof raw, base, "raw");
    sub_dir(lz, sizeof lz, base, "lz4");
    wal_options o_raw = {.segment_size = 0, .compress = false}, o_lz = {.segment_size = 0, .compress = true};
    write_ids(raw, &o_raw, 0, 600);
    write_ids(lz, &o_lz, 0, 600);

    /* uncompressed: exactly header + payload per record */
    uint64_t payload = 0, random_payload = 0;
    for (uint32_t id = 0; id < 600; id++) {
        payload += gen_len(id) + FRAME_HDR;
        if (!gen_is_text(id)) random_payload += gen_len(id) + FRAME_HDR;
    }
    char p[PATH_MAX];
    wt_seg_path(p, sizeof p, raw, 0);
    ck_assert_uint_eq(tu_file_size(p), payload);
    /* compressed: text shrinks, random bytes are stored raw (never grow) */
    wt_seg_path(p, sizeof p, lz, 0);
    size_t lz_size = tu_file_size(p);
    ck_assert_uint_lt(lz_size, payload / 2);
    ck_assert_uint_gt(lz_size, random_payload);

    read_result *res = fl_malloc(sizeof *res);
    read_ids(raw, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 600);
    read_ids(lz, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 600);
    fl_free(res);

    /* options default */
    wal_options d;
    wal_options_default(&d);
    ck_assert_uint_eq(d.segment_size, WAL_DEFAULT_SEGMENT_SIZE);
    ck_assert(d.compress);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_large_record_gets_own_segment) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal_options opt = {.segment_size = 1024, .compress = true};
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    size_t big_len = 1 << 20;
    uint8_t *big = fl_malloc(big_len);
    tu_rng rng = {42};
    for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)tu_next(&rng);
    uint8_t small[4] = {1, 2, 3, 4};
    ck_assert_int_eq(wal_log(w, small, 4), 0);
    ck_assert_int_eq(wal_log(w, big, big_len), 0);
    ck_assert_int_eq(wal_current_segment(w), 1);
    ck_assert_int_eq(wal_log(w, small, 4), 0);
    ck_assert_int_eq(wal_current_segment(w), 2);
    wal_close(w);

    wal_reader *r;
    ck_assert_int_eq(wal_reader_open(dir, 0, -1, &r), 0);
    const uint8_t *rec;
    size_t len;
    ck_assert(wal_reader_next(r, &rec, &len));
    ck_assert_uint_eq(len, 4);
    ck_assert(wal_reader_next(r, &rec, &len));
    ck_assert_uint_eq(len, big_len);
    ck_assert_mem_eq(rec, big, big_len);
    ck_assert(wal_reader_next(r, &rec, &len));
    ck_assert_mem_eq(rec, small, 4);
    ck_assert(!wal_reader_next(r, &rec, &len));
    ck_assert_int_eq(wal_reader_err(r), 0);
    wal_reader_free(r);
    fl_free(big);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_rejects_bad_record_lengths) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal *w;
    ck_assert_int_eq(wal_open(dir, NULL, &w), 0);
    uint8_t b = 1;
    ck_assert_int_eq(wal_log(w, &b, 0), FLINT_EINVAL);
    /* the length is checked before the bytes are touched */
    ck_assert_int_eq(wal_log(w, &b, (64u << 20) + 1), FLINT_EINVAL);
    ck_assert_uint_eq(wal_bytes_written(w), 0);
    wal_close(w);
    wal_close(NULL);
    wal_reader_free(NULL);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_open_starts_new_segment) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal_options opt = {.segment_size = 0, .compress = true};
    write_ids(dir, &opt, 0, 10);
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), 1);
    wal_close(w); /* leaves an empty segment 1 */
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), 2);
    log_ids(w, 10, 20);
    ck_assert_int_eq(wal_cut(w), 3);
    log_ids(w, 20, 30);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);

    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 30);
    fl_free(res);

    /* a checkpoint numbered past the last segment pushes the next one on */
    char ck[PATH_MAX];
    sub_dir(ck, sizeof ck, dir, "checkpoint.00000009");
    ck_assert_int_eq(fio_mkdir_p(ck), 0);
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), 10);
    wal_close(w);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- torn and corrupt tails --------------------------------------------------------- */

/* A log of `n` records over several segments whose last record is text of
 * at least 120 bytes (LZ4-framed when compress is on). */
static uint32_t pick_count(void) {
    uint32_t n = 40;
    while (!(gen_is_text(n - 1) && gen_len(n - 1) >= 120)) n++;
    return n;
}

/* After a damaged tail: the reader returns ids [0, n-1) and stops at
 * (seg, start); repair cuts there; open + append + read sees the old good
 * records and the new ones. */
static void check_cut_and_continue(const char *work, const wal_options *opt, uint32_t n, int seg, int64_t start,
                                   bool expect_err, read_result *res) {
    read_ids(work, res);
    ck_assert_int_eq(res->err, expect_err ? FLINT_ECORRUPT : 0);
    assert_ids_seq(res, 0, n - 1);
    if (expect_err) {
        ck_assert_int_eq(res->seg, seg);
        ck_assert_int_eq(res->off, start);
        char where[64];
        snprintf(where, sizeof where, "%08d at offset %lld", seg % 100000000, (long long)start);
        ck_assert_msg(strstr(flint_errmsg(), where), "message '%s' lacks '%s'", flint_errmsg(), where);
    }
    int64_t dropped;
    ck_assert_int_eq(wal_repair_ex(work, res->seg, res->off, &dropped), 0);
    char p[PATH_MAX];
    wt_seg_path(p, sizeof p, work, seg);
    ck_assert_uint_eq(tu_file_size(p), (size_t)start);
    read_ids(work, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, n - 1);

    wal *w;
    ck_assert_int_eq(wal_open(work, opt, &w), 0);
    ck_assert_int_eq(wal_current_segment(w), seg + 1);
    log_ids(w, 5000, 5003);
    wal_close(w);
    read_ids(work, res);
    ck_assert_int_eq(res->err, 0);
    ck_assert_uint_eq(res->n, n - 1 + 3);
    for (uint32_t i = 0; i < n - 1; i++) ck_assert_uint_eq(res->ids[i], i);
    for (uint32_t i = 0; i < 3; i++) ck_assert_uint_eq(res->ids[n - 1 + i], 5000 + i);
}

static void torn_tail_every_offset(bool compress) {
    const char *base = tu_tmpdir();
    char src[PATH_MAX], work[PATH_MAX], seg_file[PATH_MAX];
    sub_dir(src, sizeof src, base, "src");
    sub_dir(work, sizeof work, base, "work");
    wal_options opt = {.segment_size = 2048, .compress = compress};
    uint32_t n = pick_count();
    write_ids(src, &opt, 0, n);

    read_result *res = fl_malloc(sizeof *res);
    read_ids(src, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, n);
    int seg = res->last_seg;
    int64_t start = res->last_off, end = res->off;
    ck_assert_int_gt(seg, 0);
    ck_assert_int_eq(res->seg, seg);
    /* the last frame is LZ4'd exactly when compression is on */
    if (compress) ck_assert_int_lt(end - start, (int64_t)gen_len(n - 1) + FRAME_HDR);
    else ck_assert_int_eq(end - start, (int64_t)gen_len(n - 1) + FRAME_HDR);
    wt_seg_path(seg_file, sizeof seg_file, work, seg);

    /* truncated at every length inside the last record */
    for (int64_t len = start; len < end; len++) {
        wt_recopy(src, work);
        tu_file_truncate(seg_file, (size_t)len);
        check_cut_and_continue(work, &opt, n, seg, start, len > start, res);
    }
    /* one flipped bit in every byte of the last record */
    for (int64_t off = start; off < end; off++) {
        wt_recopy(src, work);
        tu_file_poke(seg_file, (size_t)off, (uint8_t)(1u << (off % 8)));
        check_cut_and_continue(work, &opt, n, seg, start, true, res);
    }
    fl_free(res);
    tu_tmpdir_cleanup();
}

START_TEST(test_wal_torn_tail_every_offset_uncompressed) { torn_tail_every_offset(false); }
END_TEST

START_TEST(test_wal_torn_tail_every_offset_compressed) { torn_tail_every_offset(true); }
END_TEST

START_TEST(test_wal_corrupt_earlier_segment_drops_later_ones) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal_options opt = {.segment_size = 2048, .compress = true};
    write_ids(dir, &opt, 0, 200);
    int first, last;
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_ge(last, 4);

    /* find the record that starts nearest the middle of segment 1 */
    wal_reader *r;
    ck_assert_int_eq(wal_reader_open(dir, 0, -1, &r), 0);
    const uint8_t *rec;
    size_t len;
    uint32_t bad_id = 0;
    int64_t bad_off = -1;
    while (wal_reader_next(r, &rec, &len)) {
        int seg;
        int64_t off;
        wal_reader_record_pos(r, &seg, &off);
        if (seg == 1 && off >= 700 && bad_off < 0) {
            bad_off = off;
            bad_id = be32_get(rec);
        }
    }
    wal_reader_free(r);
    ck_assert_int_ge(bad_off, 0);

    char p[PATH_MAX];
    wt_seg_path(p, sizeof p, dir, 1);
    tu_file_poke(p, (size_t)bad_off + FRAME_HDR + 2, 0x40);
    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, FLINT_ECORRUPT);
    assert_ids_seq(res, 0, bad_id);
    ck_assert_int_eq(res->seg, 1);
    ck_assert_int_eq(res->off, bad_off);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "CRC"));

    /* Like Prometheus, the repair deletes every later segment: their records
     * cannot be replayed in order once one before them is lost. */
    int64_t dropped;
    ck_assert_int_eq(wal_repair_ex(dir, res->seg, res->off, &dropped), 0);
    ck_assert_int_gt(dropped, (int64_t)(last - 1) * 1024);
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(last, 1);
    ck_assert_uint_eq(tu_file_size(p), (size_t)bad_off);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, bad_id);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_zero_filled_tail_is_torn) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal_options opt = {.segment_size = 0, .compress = true};
    write_ids(dir, &opt, 0, 50);
    wt_seg_path(p, sizeof p, dir, 0);
    size_t good = tu_file_size(p);
    read_result *res = fl_malloc(sizeof *res);

    /* preallocated/zeroed space after the last record, short and long */
    static const size_t zero_lens[] = {1, FRAME_HDR - 1, FRAME_HDR, 4096};
    for (size_t k = 0; k < sizeof zero_lens / sizeof zero_lens[0]; k++) {
        ck_assert_int_eq(truncate(p, (off_t)(good + zero_lens[k])), 0);
        read_ids(dir, res);
        ck_assert_int_eq(res->err, FLINT_ECORRUPT);
        ck_assert_ptr_nonnull(strstr(flint_errmsg(), "zero-filled"));
        assert_ids_seq(res, 0, 50);
        ck_assert_int_eq(res->off, (int64_t)good);
        int64_t dropped;
        ck_assert_int_eq(wal_repair_ex(dir, res->seg, res->off, &dropped), 0);
        ck_assert_int_eq(dropped, (int64_t)zero_lens[k]);
        ck_assert_uint_eq(tu_file_size(p), good);
    }
    /* a torn record whose later half reads back as zeros */
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    log_ids(w, 50, 51);
    wal_close(w);
    wt_seg_path(p, sizeof p, dir, 1);
    size_t sz = tu_file_size(p);
    ck_assert_int_eq(truncate(p, (off_t)(sz / 2)), 0);
    ck_assert_int_eq(truncate(p, (off_t)(sz + 100)), 0);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, FLINT_ECORRUPT);
    assert_ids_seq(res, 0, 50);
    ck_assert_int_eq(res->seg, 1);
    ck_assert_int_eq(res->off, 0);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_empty_and_missing_segments) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    read_result *res = fl_malloc(sizeof *res);

    /* no directory at all: an empty log */
    int first, last;
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, -1);
    ck_assert_int_eq(last, -1);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    ck_assert_uint_eq(res->n, 0);

    wal_options opt = {.segment_size = 0, .compress = true};
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0); /* 0: empty */
    wal_close(w);
    write_ids(dir, &opt, 0, 5);                   /* 1 */
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0); /* 2: empty */
    wal_close(w);
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0); /* 3: empty */
    wal_close(w);
    write_ids(dir, &opt, 5, 10);                  /* 4 */
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0); /* 5: empty, last */
    wal_close(w);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 10);
    ck_assert_int_eq(res->seg, 5);
    ck_assert_int_eq(res->off, 0);

    /* a hole in the numbering is corruption at the end of the segment before it */
    wt_seg_path(p, sizeof p, dir, 3);
    ck_assert_int_eq(unlink(p), 0);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "00000003 is missing"));
    assert_ids_seq(res, 0, 5);
    ck_assert_int_eq(res->seg, 2);
    ck_assert_int_eq(res->off, 0);
    ck_assert_int_eq(wal_repair(dir, res->seg, res->off), 0);
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(last, 2);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- injected errors ----------------------------------------------------------------- */

static void enospc_case(long long budget, int tear) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal_options opt = {.segment_size = 0, .compress = false};
    wal *w;
    ck_assert_int_eq(wal_open(dir, &opt, &w), 0);
    log_ids(w, 0, 5);
    uint64_t before = wal_bytes_written(w);
    uint8_t buf[REC_MAX];
    size_t len = gen_record(5, buf);
    fio_fault_set(budget, FLINT_ENOSPC, tear, 0);
    int rc = wal_log(w, buf, len);
    fio_fault_reset();
    ck_assert_int_eq(rc, FLINT_ENOSPC);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "no space"));
    ck_assert_uint_eq(wal_bytes_written(w), before);
    wt_seg_path(p, sizeof p, dir, 0);
    ck_assert_uint_eq(tu_file_size(p), before); /* the torn part was cut back */

    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 5);
    /* the log goes on after the error */
    log_ids(w, 6, 8);
    wal_close(w);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    ck_assert_uint_eq(res->n, 7);
    ck_assert_uint_eq(res->ids[5], 6);
    ck_assert_uint_eq(res->ids[6], 7);
    fl_free(res);
    tu_tmpdir_cleanup();
}

START_TEST(test_wal_enospc_mid_record) {
    size_t frame = gen_len(5) + FRAME_HDR;
    for (long long b = 0; b < (long long)frame; b++) {
        enospc_case(b, 1);
        enospc_case(b, 0);
    }
}
END_TEST

START_TEST(test_wal_fsync_failure_is_sticky) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    wal *w;
    ck_assert_int_eq(wal_open(dir, NULL, &w), 0);
    log_ids(w, 0, 3);
    fio_fault_set(0, FLINT_EIO, 0, 1);
    ck_assert_int_eq(wal_sync(w), FLINT_EIO);
    fio_fault_reset();
    /* after a failed fdatasync nothing more is acknowledged */
    uint8_t buf[REC_MAX];
    size_t len = gen_record(3, buf);
    ck_assert_int_eq(wal_log(w, buf, len), FLINT_EIO);
    ck_assert_int_eq(wal_sync(w), FLINT_EIO);
    ck_assert_int_eq(wal_cut(w), FLINT_EIO);
    wal_close(w);
    /* a reopened log works again and keeps what was written */
    write_ids(dir, NULL, 3, 6);
    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 0, 6);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_io_error_reading_segment) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    write_ids(dir, NULL, 0, 3);
    /* a "segment" that cannot be mapped: a directory */
    wt_seg_path(p, sizeof p, dir, 1);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, FLINT_EIO);
    assert_ids_seq(res, 0, 3);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

/* open, log, close, read back: the first error, or 0 */
static int oom_scenario(const char *dir, size_t *nread) {
    wal_options opt = {.segment_size = 1024, .compress = true};
    wal *w;
    *nread = 0;
    int rc = wal_open(dir, &opt, &w);
    if (rc) return rc;
    uint8_t buf[REC_MAX];
    for (uint32_t id = 0; id < 20 && !rc; id++) {
        size_t len = gen_record(id, buf);
        rc = wal_log(w, buf, len);
    }
    wal_close(w);
    if (rc) return rc;
    wal_reader *r;
    if ((rc = wal_reader_open(dir, 0, -1, &r))) return rc;
    const uint8_t *rec;
    size_t len;
    while (wal_reader_next(r, &rec, &len)) (*nread)++;
    rc = wal_reader_err(r);
    wal_reader_free(r);
    return rc;
}

START_TEST(test_wal_oom_every_allocation) {
    const char *base = tu_tmpdir();
    int done = 0;
    for (long n = 0; n < 1000 && !done; n++) {
        char dir[PATH_MAX];
        char name[32];
        snprintf(name, sizeof name, "oom%ld", n);
        wt_path(dir, sizeof dir, base, name);
        size_t nread;
        fl_fault_fail_after(n);
        int rc = oom_scenario(dir, &nread);
        long failures = fl_fault_failures();
        fl_fault_reset();
        if (failures == 0) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(nread, 20);
            done = 1;
        } else {
            ck_assert_int_eq(rc, FLINT_ENOMEM);
            /* what did reach the disk still reads back cleanly */
            read_result *res = fl_malloc(sizeof *res);
            read_ids(dir, res);
            ck_assert_int_eq(res->err, 0);
            ck_assert_uint_le(res->n, 20);
            fl_free(res);
        }
    }
    ck_assert(done);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- checkpoint directory helpers ----------------------------------------------------- */

START_TEST(test_wal_checkpoint_dir_helpers) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    int seg;
    char path[PATH_MAX];
    ck_assert_int_eq(wal_last_checkpoint(dir, &seg, path, sizeof path), FLINT_ENOTFOUND);
    write_ids(dir, NULL, 0, 2);
    write_ids(dir, NULL, 2, 4);
    write_ids(dir, NULL, 4, 6);
    ck_assert_int_eq(wal_last_checkpoint(dir, &seg, path, sizeof path), FLINT_ENOTFOUND);
    static const char *names[] = {"checkpoint.00000000", "checkpoint.00000001", "checkpoint.00000002.tmp",
                                  "checkpoint.x", "checkpoint.00000001.old", "other"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        wt_path(p, sizeof p, dir, names[i]);
        ck_assert_int_eq(fio_mkdir_p(p), 0);
    }
    ck_assert_int_eq(wal_last_checkpoint(dir, &seg, path, sizeof path), 0);
    ck_assert_int_eq(seg, 1);
    wt_path(p, sizeof p, dir, "checkpoint.00000001");
    ck_assert_str_eq(path, p);
    int first, last;
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(last, 2);

    ck_assert_int_eq(wal_delete_checkpoints_before(dir, 1), 0);
    ck_assert_int_eq(wal_last_checkpoint(dir, &seg, path, sizeof path), 0);
    ck_assert_int_eq(seg, 1);
    wt_path(p, sizeof p, dir, "checkpoint.00000000");
    ck_assert(!fio_exists(p));
    wt_path(p, sizeof p, dir, "checkpoint.00000002.tmp");
    ck_assert(!fio_exists(p));
    wt_path(p, sizeof p, dir, "checkpoint.x");
    ck_assert(fio_exists(p)); /* not ours: left alone */

    ck_assert_int_eq(wal_delete_before(dir, 2), 0);
    ck_assert_int_eq(wal_segment_range(dir, &first, &last), 0);
    ck_assert_int_eq(first, 2);
    ck_assert_int_eq(last, 2);
    read_result *res = fl_malloc(sizeof *res);
    read_ids(dir, res);
    ck_assert_int_eq(res->err, 0);
    assert_ids_seq(res, 4, 6);
    fl_free(res);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_wal_repair_logs_what_it_dropped) {
    const char *base = tu_tmpdir();
    char dir[PATH_MAX], p[PATH_MAX], logf[PATH_MAX];
    sub_dir(dir, sizeof dir, base, "wal");
    sub_dir(logf, sizeof logf, base, "stderr");
    write_ids(dir, NULL, 0, 10);
    write_ids(dir, NULL, 10, 20);
    wt_seg_path(p, sizeof p, dir, 0);
    size_t seg0 = tu_file_size(p);
    wt_seg_path(p, sizeof p, dir, 1);
    size_t seg1 = tu_file_size(p);

    flint_log_set_level(FLINT_LOG_WARN);
    int saved = dup(2);
    int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    int64_t dropped;
    int rc = wal_repair_ex(dir, 0, 100, &dropped);
    dup2(saved, 2);
    close(saved);
    close(fd);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(dropped, (int64_t)(seg0 - 100 + seg1));
    char *text;
    size_t n;
    ck_assert_int_eq(fio_read_file(logf, &text, &n), 0);
    char want[128];
    snprintf(want, sizeof want, "segment=00000000 offset=100 bytes_dropped=%lld segments_deleted=1",
             (long long)dropped);
    ck_assert_msg(strstr(text, "level=warn") && strstr(text, want), "log line: %s", text);
    fl_free(text);
    tu_tmpdir_cleanup();
}
END_TEST

/* The many repairs these tests make would flood the output with warnings;
 * test_wal_repair_logs_what_it_dropped turns them back on. */
static void quiet_logs(void) { flint_log_set_level(FLINT_LOG_ERROR); }

Suite *wal_suite(void) {
    Suite *s = suite_create("wal");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, quiet_logs, NULL);
    tcase_add_test(tc, test_wal_roundtrip_across_segments);
    tcase_add_test(tc, test_wal_compressed_and_uncompressed);
    tcase_add_test(tc, test_wal_large_record_gets_own_segment);
    tcase_add_test(tc, test_wal_rejects_bad_record_lengths);
    tcase_add_test(tc, test_wal_open_starts_new_segment);
    tcase_add_test(tc, test_wal_torn_tail_every_offset_uncompressed);
    tcase_add_test(tc, test_wal_torn_tail_every_offset_compressed);
    tcase_add_test(tc, test_wal_corrupt_earlier_segment_drops_later_ones);
    tcase_add_test(tc, test_wal_zero_filled_tail_is_torn);
    tcase_add_test(tc, test_wal_empty_and_missing_segments);
    tcase_add_test(tc, test_wal_enospc_mid_record);
    tcase_add_test(tc, test_wal_fsync_failure_is_sticky);
    tcase_add_test(tc, test_wal_io_error_reading_segment);
    tcase_add_test(tc, test_wal_oom_every_allocation);
    tcase_add_test(tc, test_wal_checkpoint_dir_helpers);
    tcase_add_test(tc, test_wal_repair_logs_what_it_dropped);
    suite_add_tcase(s, tc);
    return s;
}
