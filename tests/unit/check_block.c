/*
 * check_block.c - blocks: chunk segment files, meta.json, ULIDs, write →
 * open round trips, matcher selection against a brute-force model, label
 * names/values, corruption (index, chunks, meta), crash safety under
 * injected I/O faults, OOM loops, delete/list.
 */
#include "storage/alloc.h"
#include "storage/chunkfile.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "tests/unit/testutil.h"
#include "tsdb/block.h"

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- chunk files ---------------------------------------------------------------- */

START_TEST(test_block_chunkfile_roundtrip_and_segments) {
    const char *dir = tu_tmpdir();
    char cdir[PATH_MAX];
    snprintf(cdir, sizeof cdir, "%s/chunks", dir);
    chunkfile_writer *w;
    ck_assert_int_eq(chunkfile_writer_new(cdir, 200, &w), 0);
    uint64_t refs[60];
    uint8_t data[600];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 60; i++) {
        size_t len = i == 30 ? 500 : (size_t)(i % 40); /* one chunk bigger than a segment; empty ones */
        ck_assert_int_eq(chunkfile_writer_add(w, (uint8_t)i, data + i, len, &refs[i]), 0);
        if (i) ck_assert_uint_gt(refs[i], refs[i - 1]);
    }
    ck_assert_int_eq(chunkfile_writer_finish(w), 0);
    uint64_t written = chunkfile_writer_bytes(w);
    chunkfile_writer_free(w);

    chunkfile_reader *r;
    ck_assert_int_eq(chunkfile_reader_open(cdir, &r), 0);
    ck_assert_uint_gt(chunkfile_num_segments(r), 5);
    ck_assert_uint_eq(chunkfile_reader_bytes(r), written);
    ck_assert_uint_eq(fio_tree_size(cdir), written);
    for (int i = 0; i < 60; i++) {
        uint8_t enc;
        const uint8_t *p;
        size_t len;
        ck_assert_int_eq(chunkfile_read(r, refs[i], &enc, &p, &len), 0);
        ck_assert_uint_eq(enc, (uint8_t)i);
        ck_assert_uint_eq(len, i == 30 ? 500 : (size_t)(i % 40));
        ck_assert(len == 0 || memcmp(p, data + i, len) == 0);
    }
    uint8_t enc;
    const uint8_t *p;
    size_t len;
    ck_assert_int_eq(chunkfile_read(r, chunkfile_ref(999, 8), &enc, &p, &len), FLINT_ENOTFOUND);
    ck_assert_int_eq(chunkfile_read(r, chunkfile_ref(1, 3), &enc, &p, &len), FLINT_ECORRUPT);
    ck_assert_int_eq(chunkfile_read(r, chunkfile_ref(1, 1u << 30), &enc, &p, &len), FLINT_ECORRUPT);
    chunkfile_reader_free(r);

    /* a gap in the numbering is corruption; no directory is not found */
    char seg[PATH_MAX + 16];
    snprintf(seg, sizeof seg, "%s/000002", cdir);
    ck_assert_int_eq(unlink(seg), 0);
    ck_assert_int_eq(chunkfile_reader_open(cdir, &r), FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "000002 missing"));
    snprintf(seg, sizeof seg, "%s/nope", dir);
    ck_assert_int_eq(chunkfile_reader_open(seg, &r), FLINT_ENOTFOUND);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_chunkfile_crc_every_byte) {
    const char *dir = tu_tmpdir();
    char cdir[PATH_MAX], seg[PATH_MAX + 16];
    snprintf(cdir, sizeof cdir, "%s/chunks", dir);
    snprintf(seg, sizeof seg, "%s/000001", cdir);
    chunkfile_writer *w;
    ck_assert_int_eq(chunkfile_writer_new(cdir, 0, &w), 0);
    uint64_t refs[3];
    ck_assert_int_eq(chunkfile_writer_add(w, 1, (const uint8_t *)"hello", 5, &refs[0]), 0);
    ck_assert_int_eq(chunkfile_writer_add(w, 2, (const uint8_t *)"chunky world", 12, &refs[1]), 0);
    ck_assert_int_eq(chunkfile_writer_add(w, 1, (const uint8_t *)"!", 1, &refs[2]), 0);
    ck_assert_int_eq(chunkfile_writer_finish(w), 0);
    chunkfile_writer_free(w);
    size_t size = tu_file_size(seg);
    /* every byte after the header belongs to one record: flipping it makes
     * exactly that record fail with path and offset */
    for (size_t at = CHUNKFILE_HEADER_SIZE; at < size; at++) {
        tu_file_poke(seg, at, 0x20);
        chunkfile_reader *r;
        ck_assert_int_eq(chunkfile_reader_open(cdir, &r), 0);
        int bad = 0;
        for (int i = 0; i < 3; i++) {
            uint8_t enc;
            const uint8_t *p;
            size_t len;
            int rc = chunkfile_read(r, refs[i], &enc, &p, &len);
            if (rc == 0) continue;
            ck_assert_int_eq(rc, FLINT_ECORRUPT);
            char want[PATH_MAX + 64];
            snprintf(want, sizeof want, "%s: chunk", seg);
            ck_assert_msg(strstr(flint_errmsg(), want), "%s", flint_errmsg());
            snprintf(want, sizeof want, "at offset %u", (unsigned)(uint32_t)refs[i]);
            ck_assert_msg(strstr(flint_errmsg(), want), "%s", flint_errmsg());
            bad++;
        }
        ck_assert_msg(bad >= 1, "flip at %zu undetected", at);
        chunkfile_reader_free(r);
        tu_file_poke(seg, at, 0x20);
    }
    /* header bytes */
    for (size_t at = 0; at < CHUNKFILE_HEADER_SIZE; at++) {
        tu_file_poke(seg, at, 0x01);
        chunkfile_reader *r;
        ck_assert_int_eq(chunkfile_reader_open(cdir, &r), FLINT_ECORRUPT);
        ck_assert_ptr_nonnull(strstr(flint_errmsg(), seg));
        tu_file_poke(seg, at, 0x01);
    }
    /* truncation: records past the end fail, earlier ones still read */
    tu_file_truncate(seg, (size_t)(uint32_t)refs[1] + 4);
    chunkfile_reader *r;
    ck_assert_int_eq(chunkfile_reader_open(cdir, &r), 0);
    uint8_t enc;
    const uint8_t *p;
    size_t len;
    ck_assert_int_eq(chunkfile_read(r, refs[0], &enc, &p, &len), 0);
    ck_assert_int_eq(chunkfile_read(r, refs[1], &enc, &p, &len), FLINT_ECORRUPT);
    ck_assert_int_eq(chunkfile_read(r, refs[2], &enc, &p, &len), FLINT_ECORRUPT);
    chunkfile_reader_free(r);
    tu_file_truncate(seg, 3);
    ck_assert_int_eq(chunkfile_reader_open(cdir, &r), FLINT_ECORRUPT);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- ULIDs and meta.json ------------------------------------------------------------- */

START_TEST(test_block_ulid_format_and_order) {
    block_ulid a, b;
    ck_assert_int_eq(block_ulid_new(1700000000000, a), 0);
    ck_assert_uint_eq(strlen(a), 26);
    ck_assert(block_ulid_valid(a));
    ck_assert_int_eq(block_ulid_time(a), 1700000000000);
    ck_assert_int_eq(block_ulid_new(1700000000001, b), 0);
    ck_assert_int_lt(strcmp(a, b), 0);
    ck_assert(block_ulid_valid("01BKGV7JBM69T2G1BGBGM6KB12"));
    ck_assert_int_eq(block_ulid_time("01ARYZ6S41TSV4RRFFQ69G5FAV"), 1469918176385); /* the ULID spec example */
    ck_assert(!block_ulid_valid("01BKGV7JBM69T2G1BGBGM6KB1"));   /* short */
    ck_assert(!block_ulid_valid("01BKGV7JBM69T2G1BGBGM6KB1U"));  /* U not Crockford */
    ck_assert(!block_ulid_valid("81BKGV7JBM69T2G1BGBGM6KB12"));  /* > 128 bits */
    ck_assert(!block_ulid_valid("01BKGV7JBM69T2G1BGBGM6KB12x"));
    for (int i = 0; i < 100; i++) {
        block_ulid c;
        block_ulid_new(5, c);
        ck_assert_str_ne(c, a);
        memcpy(a, c, sizeof a);
    }
}
END_TEST

static const char prom_meta[] =
    "{\n\t\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\",\n\t\"minTime\": 1602237600000,\n\t\"maxTime\": 1602244800000,\n"
    "\t\"stats\": {\"numSamples\": 553673232, \"numSeries\": 1346066, \"numChunks\": 4440437, \"numTombstones\": 0},\n"
    "\t\"compaction\": {\"level\": 2, \"sources\": [\"01EM65SHSX4VARXBBHBF0M0FDS\", \"01EM6GAJSYWSQQRDY782EA5ZPN\"],\n"
    "\t\t\"parents\": [{\"ulid\": \"01EM65SHSX4VARXBBHBF0M0FDS\", \"minTime\": 1602237600000, \"maxTime\": 1602241200000},\n"
    "\t\t            {\"ulid\": \"01EM6GAJSYWSQQRDY782EA5ZPN\", \"minTime\": 1602241200000, \"maxTime\": 1602244800000}],\n"
    "\t\t\"hints\": [\"from-out-of-order\"], \"deletable\": false},\n"
    "\t\"thanos\": {\"labels\": {\"a\": \"b\\u00e9\\n\"}, \"downsample\": {\"resolution\": 0.5e3}, \"x\": null},\n"
    "\t\"version\": 1\n}\n";

START_TEST(test_block_meta_parse_prometheus) {
    block_meta m;
    ck_assert_int_eq(block_meta_parse(prom_meta, strlen(prom_meta), &m), 0);
    ck_assert_str_eq(m.ulid, "01EM6Q6A1YPX4G9TEB20J22B2R");
    ck_assert_int_eq(m.min_time, 1602237600000);
    ck_assert_int_eq(m.max_time, 1602244800000);
    ck_assert_uint_eq(m.num_samples, 553673232);
    ck_assert_uint_eq(m.num_series, 1346066);
    ck_assert_uint_eq(m.num_chunks, 4440437);
    ck_assert_int_eq(m.level, 2);
    ck_assert_uint_eq(m.nsources, 2);
    ck_assert_str_eq(m.sources[1], "01EM6GAJSYWSQQRDY782EA5ZPN");
    ck_assert_uint_eq(m.nparents, 2);
    ck_assert_int_eq(m.parents[1].min_time, 1602241200000);
    ck_assert_int_eq(m.version, 1);
    /* format → parse is the identity */
    char *json;
    size_t len;
    ck_assert_int_eq(block_meta_format(&m, &json, &len), 0);
    block_meta m2;
    ck_assert_int_eq(block_meta_parse(json, len, &m2), 0);
    ck_assert_str_eq(m2.ulid, m.ulid);
    ck_assert_int_eq(m2.max_time, m.max_time);
    ck_assert_uint_eq(m2.num_chunks, m.num_chunks);
    ck_assert_uint_eq(m2.nparents, 2);
    ck_assert_str_eq(m2.parents[0].ulid, m.parents[0].ulid);
    ck_assert_int_eq(m2.parents[0].max_time, m.parents[0].max_time);
    ck_assert_str_eq(m2.sources[0], m.sources[0]);
    ck_assert_ptr_nonnull(strstr(json, "\t\"stats\": {\n\t\t\"numSamples\": 553673232,"));
    fl_free(json);
    block_meta_free(&m2);
    block_meta_free(&m);
}
END_TEST

START_TEST(test_block_meta_parse_errors) {
    struct {
        const char *json, *msg;
    } bad[] = {
        {"", "expected '{' at offset 0"},
        {"[]", "expected '{' at offset 0"},
        {"{\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\", \"minTime\": 1, \"maxTime\": 2}", "missing \"version\""},
        {"{\"minTime\": 1, \"maxTime\": 2, \"version\": 1}", "missing \"ulid\""},
        {"{\"ulid\": \"nope\", \"minTime\": 1, \"maxTime\": 2, \"version\": 1}", "invalid ULID at offset 9"},
        {"{\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\", \"minTime\": 1.5, \"maxTime\": 2, \"version\": 1}", "expected an integer"},
        {"{\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\", \"minTime\": 1, \"maxTime\": 99999999999999999999, \"version\": 1}",
         "integer out of range"},
        {"{\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\", \"minTime\": 1, \"maxTime\": 2, \"version\": 2}", "unsupported version"},
        {"{\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\", \"minTime\": 1, \"maxTime\": 2, \"version\": 1,}", "expected a string"},
        {"{\"ulid\": \"01EM6Q6A1YPX4G9TEB20J22B2R\", \"minTime\": 1, \"maxTime\": 2, \"version\": 1} x", "trailing characters"},
        {"{\"stats\": {\"numSeries\": -1}}", "negative count"},
        {"{\"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "nesting too deep"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        block_meta m;
        ck_assert_int_eq(block_meta_parse(bad[i].json, strlen(bad[i].json), &m), FLINT_ECORRUPT);
        ck_assert_msg(strstr(flint_errmsg(), bad[i].msg), "case %zu: %s", i, flint_errmsg());
        ck_assert_ptr_nonnull(strstr(flint_errmsg(), "meta.json: "));
    }
    /* every prefix of a valid file fails cleanly */
    size_t n = strlen(prom_meta);
    for (size_t len = 0; len < n - 2; len++) {
        char *cut = malloc(len + 1);
        memcpy(cut, prom_meta, len);
        block_meta m;
        ck_assert_int_eq(block_meta_parse(cut, len, &m), FLINT_ECORRUPT);
        free(cut);
    }
}
END_TEST

/* ---- a test data set ------------------------------------------------------------------- */

typedef struct tblock {
    labels *series;
    label *pool;
    size_t n;
} tblock;

/* name{k=v,...} written as "k=v,k=v" (sorted by name here). */
static const char *const spec[] = {
    "__name__=up,instance=a,job=x",
    "__name__=up,instance=b,job=x",
    "__name__=up,empty=,instance=c,job=y",
    "__name__=http_requests,code=200,instance=a,method=GET",
    "__name__=http_requests,code=500,instance=b,method=POST",
    "__name__=http_requests,code=200,instance=c",
    "__name__=http_requests,code=404,instance=ünï,method=",
    "__name__=go_goroutines,instance=a",
    "foo=bar",
    "__name__=weird,instance=,job=x",
};
#define NSPEC (sizeof spec / sizeof spec[0])

static int cmp_labels(const void *a, const void *b) { return labels_cmp(a, b); }

static void tblock_make(tblock *t) {
    t->n = NSPEC;
    t->series = calloc(NSPEC, sizeof *t->series);
    t->pool = calloc(NSPEC * 8, sizeof *t->pool);
    for (size_t i = 0; i < NSPEC; i++) {
        char *s = strdup(spec[i]), *save = NULL;
        label *l = t->pool + i * 8;
        size_t n = 0;
        for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            *eq = 0;
            l[n].name = strdup(tok);
            l[n].value = strdup(eq + 1);
            n++;
        }
        free(s);
        t->series[i] = (labels){l, n};
    }
    qsort(t->series, t->n, sizeof *t->series, cmp_labels);
}

static void tblock_free(tblock *t) {
    for (size_t i = 0; i < NSPEC * 8; i++) {
        free((char *)t->pool[i].name);
        free((char *)t->pool[i].value);
    }
    free(t->pool);
    free(t->series);
}

/* Chunk c of series s: [base + 1000c, base + 1000c + 500], bytes derived from (s, c). */
static void make_chunk(size_t s, int c, uint8_t *buf, block_chunk *out) {
    size_t len = 5 + (s * 7 + (size_t)c * 3) % 40;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(s * 31 + (size_t)c * 17 + i);
    *out = (block_chunk){1000 + 1000 * c, 1000 + 1000 * c + 500, (uint8_t)(1 + c % 2), 120, buf, len};
}

static int write_tblock(const char *data_dir, const tblock *t, const block_writer_opts *opts, block_ulid id) {
    block_writer *w;
    int rc = block_writer_new(data_dir, 0, 10000, opts, &w);
    if (rc) return rc;
    for (size_t s = 0; s < t->n && !rc; s++) {
        uint8_t bufs[3][64];
        block_chunk c[3];
        int nc = (int)(s % 4); /* 0..3 chunks */
        for (int k = 0; k < nc; k++) make_chunk(s, k, bufs[k], &c[k]);
        rc = block_writer_add_series(w, &t->series[s], c, (size_t)nc);
    }
    if (!rc) rc = block_writer_commit(w, id);
    block_writer_abort(w);
    return rc;
}

static void block_dir(char *out, const char *data_dir, const char *id) { sprintf(out, "%s/%s", data_dir, id); }

START_TEST(test_block_write_open_roundtrip) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    block_ulid *list;
    size_t n;
    ck_assert_int_eq(block_list(dir, true, &list, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0], id);
    fl_free(list);

    char path[PATH_MAX];
    block_dir(path, dir, id);
    block *b;
    ck_assert_msg(block_open(path, &b) == 0, "%s", flint_errmsg());
    const block_meta *m = block_get_meta(b);
    ck_assert_str_eq(m->ulid, id);
    ck_assert_int_eq(m->min_time, 0);
    ck_assert_int_eq(m->max_time, 10000);
    ck_assert_uint_eq(m->num_series, NSPEC);
    size_t chunks = 0;
    for (size_t s = 0; s < NSPEC; s++) chunks += s % 4;
    ck_assert_uint_eq(m->num_chunks, chunks);
    ck_assert_uint_eq(m->num_samples, chunks * 120);
    ck_assert_int_eq(m->level, 1);
    ck_assert_uint_eq(m->nsources, 1);
    ck_assert_str_eq(m->sources[0], id);
    ck_assert_uint_eq(block_num_series(b), NSPEC);
    ck_assert_uint_eq(block_size_bytes(b), (uint64_t)fio_tree_size(path));
    ck_assert_str_eq(block_path(b), path);

    block_series s;
    block_series_init(&s);
    for (uint32_t i = 0; i < NSPEC; i++) {
        ck_assert_int_eq(block_series_get(b, i, INT64_MIN, INT64_MAX, &s), 0);
        labels l = block_series_labels(&s);
        ck_assert(labels_equal(&l, &t.series[i]));
        ck_assert_uint_eq(s.nchunks, i % 4);
        for (size_t k = 0; k < s.nchunks; k++) {
            uint8_t want[64], enc;
            block_chunk c;
            make_chunk(i, (int)k, want, &c);
            ck_assert_int_eq(s.chunks[k].mint, c.mint);
            ck_assert_int_eq(s.chunks[k].maxt, c.maxt);
            ck_assert_uint_eq(s.chunks[k].enc, c.enc);
            const uint8_t *data;
            size_t len;
            ck_assert_int_eq(block_chunk_get(b, s.chunks[k].ref, &enc, &data, &len), 0);
            ck_assert_uint_eq(enc, c.enc);
            ck_assert_uint_eq(len, c.len);
            ck_assert_mem_eq(data, want, len);
        }
        /* time range: only chunk 1 ([2000, 2500]) overlaps [2400, 2600] */
        ck_assert_int_eq(block_series_get(b, i, 2400, 2600, &s), 0);
        ck_assert_uint_eq(s.nchunks, i % 4 >= 2 ? 1 : 0);
        if (s.nchunks) ck_assert_int_eq(s.chunks[0].mint, 2000);
        ck_assert_int_eq(block_series_get(b, i, 1501, 1999, &s), 0); /* gap between chunks */
        ck_assert_uint_eq(s.nchunks, 0);
        ck_assert_int_eq(block_series_get(b, i, 1500, 2000, &s), 0); /* inclusive edges */
        ck_assert_uint_eq(s.nchunks, i % 4 >= 2 ? 2 : i % 4);
    }
    ck_assert_int_eq(block_series_get(b, NSPEC, INT64_MIN, INT64_MAX, &s), FLINT_ENOTFOUND);
    block_series_free(&s);
    block_close(b);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_compaction_meta_and_empty_block) {
    const char *dir = tu_tmpdir();
    block_ulid src[2] = {"01EM65SHSX4VARXBBHBF0M0FDS", "01EM6GAJSYWSQQRDY782EA5ZPN"};
    block_parent par[2] = {{"01EM65SHSX4VARXBBHBF0M0FDS", 0, 5000}, {"01EM6GAJSYWSQQRDY782EA5ZPN", 5000, 10000}};
    block_writer_opts o = {.level = 2, .sources = src, .nsources = 2, .parents = par, .nparents = 2};
    block_writer *w;
    ck_assert_int_eq(block_writer_new(dir, 0, 10000, &o, &w), 0);
    block_ulid id;
    ck_assert_int_eq(block_writer_commit(w, id), 0); /* no series at all */
    ck_assert_str_eq(block_writer_ulid(w), id);
    ck_assert_int_eq(block_writer_commit(w, id), FLINT_EINVAL);
    block_writer_free(w);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    block *b;
    ck_assert_int_eq(block_open(path, &b), 0);
    const block_meta *m = block_get_meta(b);
    ck_assert_int_eq(m->level, 2);
    ck_assert_uint_eq(m->nsources, 2);
    ck_assert_str_eq(m->sources[1], src[1]);
    ck_assert_uint_eq(m->nparents, 2);
    ck_assert_int_eq(m->parents[1].min_time, 5000);
    ck_assert_uint_eq(block_num_series(b), 0);
    block_postings p;
    block_postings_init(&p);
    matcher mt;
    ck_assert_int_eq(matcher_init(&mt, MATCH_NEQ, "a", "b"), 0);
    ck_assert_int_eq(block_select(b, &mt, 1, &p), 0);
    ck_assert_uint_eq(p.n, 0);
    matcher_free(&mt);
    block_postings_free(&p);
    const char **names;
    size_t n;
    ck_assert_int_eq(block_label_names(b, NULL, 0, &names, &n), 0);
    ck_assert_uint_eq(n, 0);
    fl_free(names);
    block_close(b);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_writer_rejects_bad_series) {
    const char *dir = tu_tmpdir();
    block_writer *w;
    ck_assert_int_eq(block_writer_new(dir, 0, 0, NULL, &w), FLINT_EINVAL); /* empty range */
    ck_assert_int_eq(block_writer_new(dir, 0, 10000, NULL, &w), 0);
    label lb[] = {{"a", "2"}}, la[] = {{"a", "1"}}, dup[] = {{"b", "1"}, {"a", "1"}}, lc[] = {{"a", "3"}};
    labels b = {lb, 1}, a = {la, 1}, d = {dup, 2}, none = {NULL, 0}, c = {lc, 1};
    uint8_t x[4] = {1, 2, 3, 4};
    block_chunk ok = {10, 20, 1, 2, x, 4};
    block_chunk out_of_range[] = {{-5, 20, 1, 2, x, 4}};
    block_chunk at_maxt[] = {{9990, 10000, 1, 2, x, 4}};
    block_chunk inverted[] = {{30, 20, 1, 2, x, 4}};
    block_chunk overlap[] = {{10, 20, 1, 2, x, 4}, {20, 30, 1, 2, x, 4}};
    ck_assert_int_eq(block_writer_add_series(w, &b, &ok, 1), 0);
    ck_assert_int_eq(block_writer_add_series(w, &a, &ok, 1), FLINT_EINVAL);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "out of order"));
    ck_assert_int_eq(block_writer_add_series(w, &b, &ok, 1), FLINT_EINVAL); /* duplicate */
    ck_assert_int_eq(block_writer_add_series(w, &d, &ok, 1), FLINT_EINVAL);
    ck_assert_int_eq(block_writer_add_series(w, &none, &ok, 1), FLINT_EINVAL);
    ck_assert_int_eq(block_writer_add_series(w, &c, out_of_range, 1), FLINT_EINVAL);
    ck_assert_int_eq(block_writer_add_series(w, &c, at_maxt, 1), FLINT_EINVAL);
    ck_assert_int_eq(block_writer_add_series(w, &c, inverted, 1), FLINT_EINVAL);
    ck_assert_int_eq(block_writer_add_series(w, &c, overlap, 2), FLINT_EINVAL);
    /* the writer is still good */
    ck_assert_int_eq(block_writer_add_series(w, &c, &ok, 1), 0);
    block_ulid id;
    ck_assert_int_eq(block_writer_commit(w, id), 0);
    ck_assert_int_eq(block_writer_add_series(w, &c, &ok, 1), FLINT_EINVAL);
    block_writer_free(w);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    block *bl;
    ck_assert_int_eq(block_open(path, &bl), 0);
    ck_assert_uint_eq(block_num_series(bl), 2);
    block_close(bl);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- selection ------------------------------------------------------------------------ */

typedef struct tm {
    match_type type;
    const char *name, *value;
} tm;

static const tm matchers[] = {
    {MATCH_EQ, "__name__", "up"},         {MATCH_NEQ, "__name__", "up"},
    {MATCH_RE, "__name__", "up|go_goroutines"}, {MATCH_RE, "__name__", "http.*"},
    {MATCH_NRE, "__name__", "up|weird"},  {MATCH_NRE, "__name__", "h.*"},
    {MATCH_EQ, "instance", ""},           {MATCH_NEQ, "instance", ""},
    {MATCH_EQ, "instance", "a"},          {MATCH_RE, "instance", "ü.*"},
    {MATCH_RE, "method", ""},             {MATCH_RE, "method", ".*"},
    {MATCH_RE, "method", ".+"},           {MATCH_NRE, "method", ".*"},
    {MATCH_NRE, "method", ""},            {MATCH_NRE, "method", ".+"},
    {MATCH_RE, "method", "GET|"},         {MATCH_RE, "method", "G.*|"},
    {MATCH_NEQ, "method", "GET"},         {MATCH_EQ, "method", ""},
    {MATCH_EQ, "nonexistent", "x"},       {MATCH_EQ, "nonexistent", ""},
    {MATCH_NEQ, "nonexistent", "x"},      {MATCH_RE, "nonexistent", ".+"},
    {MATCH_NRE, "nonexistent", "x|y"},    {MATCH_EQ, "empty", ""},
    {MATCH_NEQ, "empty", ""},             {MATCH_RE, "code", "[25]00"},
    {MATCH_NRE, "code", "2.."},           {MATCH_RE, "job", "x|y"},
    {MATCH_EQ, "foo", "bar"},             {MATCH_RE, "__name__", ".+"},
};
#define NMATCHERS (sizeof matchers / sizeof matchers[0])

static bool model_matches(const labels *l, const matcher *ms, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *v = labels_get(l, ms[i].name);
        if (!v) v = "";
        if (!matcher_matches(&ms[i], v, strlen(v))) return false;
    }
    return true;
}

static void check_select(const block *b, const tblock *t, matcher *ms, size_t n, block_postings *p) {
    ck_assert_int_eq(block_select(b, ms, n, p), 0);
    size_t k = 0;
    for (size_t s = 0; s < t->n; s++) {
        if (!model_matches(&t->series[s], ms, n)) continue;
        ck_assert_msg(k < p->n && p->ids[k] == s, "matchers %s%s%s...: series %zu missing", ms[0].name,
                      ms[0].type == MATCH_EQ ? "=" : ms[0].type == MATCH_NEQ ? "!=" : ms[0].type == MATCH_RE ? "=~" : "!~",
                      ms[0].value, s);
        k++;
    }
    ck_assert_msg(k == p->n, "matchers %s ... selected %zu, want %zu", ms[0].name, p->n, k);

    /* label names / values over the same selection */
    const char **out;
    size_t cnt;
    ck_assert_int_eq(block_label_values(b, "instance", ms, n, &out, &cnt), 0);
    size_t want = 0;
    const char *seen[NSPEC];
    for (size_t s = 0; s < t->n; s++) {
        const char *v = labels_get(&t->series[s], "instance");
        if (!v || !model_matches(&t->series[s], ms, n)) continue;
        size_t j = 0;
        while (j < want && strcmp(seen[j], v)) j++;
        if (j == want) seen[want++] = v;
    }
    ck_assert_uint_eq(cnt, want);
    for (size_t i = 1; i < cnt; i++) ck_assert_int_lt(strcmp(out[i - 1], out[i]), 0);
    fl_free(out);
    ck_assert_int_eq(block_label_names(b, ms, n, &out, &cnt), 0);
    for (size_t i = 0; i < cnt; i++) {
        bool found = false;
        for (size_t s = 0; s < t->n && !found; s++)
            found = model_matches(&t->series[s], ms, n) && labels_get(&t->series[s], out[i]);
        ck_assert_msg(found, "label name %s not in selection", out[i]);
        if (i) ck_assert_int_lt(strcmp(out[i - 1], out[i]), 0);
    }
    fl_free(out);
}

START_TEST(test_block_select_matches_brute_force) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    block *b;
    ck_assert_int_eq(block_open(path, &b), 0);
    matcher ms[NMATCHERS];
    for (size_t i = 0; i < NMATCHERS; i++)
        ck_assert_int_eq(matcher_init(&ms[i], matchers[i].type, matchers[i].name, matchers[i].value), 0);
    block_postings p;
    block_postings_init(&p);
    check_select(b, &t, ms, 0, &p);
    ck_assert_uint_eq(p.n, NSPEC);
    for (size_t i = 0; i < NMATCHERS; i++) {
        check_select(b, &t, &ms[i], 1, &p);
        for (size_t j = 0; j < NMATCHERS; j++) {
            matcher pair[3] = {ms[i], ms[j], ms[(i * 7 + j) % NMATCHERS]};
            check_select(b, &t, pair, 2, &p);
            check_select(b, &t, pair, 3, &p);
        }
    }
    block_postings_free(&p);
    for (size_t i = 0; i < NMATCHERS; i++) matcher_free(&ms[i]);
    block_close(b);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_label_names_and_values) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    block *b;
    ck_assert_int_eq(block_open(path, &b), 0);
    const char **out;
    size_t n;
    ck_assert_int_eq(block_label_names(b, NULL, 0, &out, &n), 0);
    const char *names[] = {"__name__", "code", "empty", "foo", "instance", "job", "method"};
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < n; i++) ck_assert_str_eq(out[i], names[i]);
    fl_free(out);
    ck_assert_int_eq(block_label_values(b, "__name__", NULL, 0, &out, &n), 0);
    const char *metrics[] = {"go_goroutines", "http_requests", "up", "weird"};
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) ck_assert_str_eq(out[i], metrics[i]);
    fl_free(out);
    ck_assert_int_eq(block_label_values(b, "method", NULL, 0, &out, &n), 0);
    ck_assert_uint_eq(n, 3); /* "", GET, POST */
    ck_assert_str_eq(out[0], "");
    fl_free(out);
    ck_assert_int_eq(block_label_values(b, "nope", NULL, 0, &out, &n), 0);
    ck_assert_uint_eq(n, 0);
    fl_free(out);
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "__name__", "up"), 0);
    ck_assert_int_eq(block_label_values(b, "instance", &m, 1, &out, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out[0], "a");
    ck_assert_str_eq(out[2], "c");
    fl_free(out);
    ck_assert_int_eq(block_label_names(b, &m, 1, &out, &n), 0);
    ck_assert_uint_eq(n, 4); /* __name__ empty instance job */
    ck_assert_str_eq(out[1], "empty");
    fl_free(out);
    matcher_free(&m);
    block_close(b);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- corruption -------------------------------------------------------------------------- */

START_TEST(test_block_corrupt_index_and_chunks) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    char path[PATH_MAX], file[PATH_MAX + 32];
    block_dir(path, dir, id);

    /* index: a flipped byte anywhere fails open, naming the file */
    snprintf(file, sizeof file, "%s/index", path);
    size_t size = tu_file_size(file);
    for (size_t at = 0; at < size; at += 3) {
        tu_file_poke(file, at, 0x04);
        block *b = NULL;
        ck_assert_int_eq(block_open(path, &b), FLINT_ECORRUPT);
        ck_assert_ptr_null(b);
        ck_assert_msg(strstr(flint_errmsg(), file) && strstr(flint_errmsg(), "index: "), "%s", flint_errmsg());
        tu_file_poke(file, at, 0x04);
    }
    tu_file_truncate(file, size - 1);
    block *b;
    ck_assert_int_eq(block_open(path, &b), FLINT_ECORRUPT);

    /* chunks: open works, the damaged chunk reads as corrupt with path and
     * offset, the others read fine */
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    block_dir(path, dir, id);
    snprintf(file, sizeof file, "%s/chunks/000001", path);
    ck_assert_int_eq(block_open(path, &b), 0);
    block_series s;
    block_series_init(&s);
    ck_assert_int_eq(block_series_get(b, 3, INT64_MIN, INT64_MAX, &s), 0);
    ck_assert_uint_eq(s.nchunks, 3);
    uint64_t ref = s.chunks[1].ref, ref0 = s.chunks[0].ref;
    block_series_free(&s);
    block_close(b);
    tu_file_poke(file, (uint32_t)ref + 3, 0x80);
    ck_assert_int_eq(block_open(path, &b), 0);
    uint8_t enc;
    const uint8_t *data;
    size_t len;
    ck_assert_int_eq(block_chunk_get(b, ref, &enc, &data, &len), FLINT_ECORRUPT);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "%s: chunk CRC mismatch at offset %u", file, (unsigned)(uint32_t)ref);
    ck_assert_msg(strstr(flint_errmsg(), want), "%s", flint_errmsg());
    ck_assert_int_eq(block_chunk_get(b, ref0, &enc, &data, &len), 0);
    block_close(b);

    /* meta.json: corrupt, then missing */
    snprintf(file, sizeof file, "%s/meta.json", path);
    tu_file_poke(file, 0, 0x01);
    ck_assert_int_eq(block_open(path, &b), FLINT_ECORRUPT);
    ck_assert_msg(strstr(flint_errmsg(), "meta.json: expected '{' at offset 0"), "%s", flint_errmsg());
    ck_assert_int_eq(unlink(file), 0);
    ck_assert_int_eq(block_open(path, &b), FLINT_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "meta.json"));
    /* without meta.json the directory is not listed as a block */
    block_ulid *list;
    size_t n;
    ck_assert_int_eq(block_list(dir, false, &list, &n), 0);
    for (size_t i = 0; i < n; i++) ck_assert_str_ne(list[i], id);
    fl_free(list);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_meta_mismatch_detected) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id, id2;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id2), 0);
    char a[PATH_MAX], bpath[PATH_MAX], from[PATH_MAX + 16], to[PATH_MAX + 16];
    block_dir(a, dir, id);
    block_dir(bpath, dir, id2);
    /* another block's meta.json: the ULID does not match the directory */
    snprintf(from, sizeof from, "%s/meta.json", bpath);
    snprintf(to, sizeof to, "%s/meta.json", a);
    ck_assert_int_eq(rename(from, to), 0);
    block *b;
    ck_assert_int_eq(block_open(a, &b), FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "meta.json names block"));
    /* a series count that disagrees with the index */
    char *json;
    size_t len;
    block_meta m;
    ck_assert_int_eq(block_meta_read(a, &m), 0);
    memcpy(m.ulid, id, sizeof m.ulid);
    m.num_series++;
    ck_assert_int_eq(block_meta_format(&m, &json, &len), 0);
    ck_assert_int_eq(fio_write_file_atomic(to, json, len), 0);
    fl_free(json);
    block_meta_free(&m);
    ck_assert_int_eq(block_open(a, &b), FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "meta.json says"));
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- crash safety and faults -------------------------------------------------------------- */

static size_t count_entries(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (!suffix[0] || (l >= sl && !strcmp(e->d_name + l - sl, suffix))) n++;
    }
    closedir(d);
    return n;
}

START_TEST(test_block_crash_during_commit_leaves_no_block) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    size_t total = (size_t)fio_tree_size(path);
    ck_assert_int_eq(block_delete(path), 0);
    ck_assert_uint_eq(count_entries(dir, ""), 0);
    int runs = 0;
    for (size_t at = 0; at < total; at += 1 + at / 16, runs++) {
        int tear = runs % 2, fsync_fails = runs % 3 == 0;
        fio_fault_set((long long)at, runs % 4 == 1 ? FLINT_ENOSPC : FLINT_EIO, tear, fsync_fails);
        block_writer *w = NULL;
        int rc = block_writer_new(dir, 0, 10000, NULL, &w);
        for (size_t s = 0; s < t.n && !rc; s++) {
            uint8_t bufs[3][64];
            block_chunk c[3];
            for (int k = 0; k < (int)(s % 4); k++) make_chunk(s, k, bufs[k], &c[k]);
            rc = block_writer_add_series(w, &t.series[s], c, s % 4);
        }
        if (!rc) rc = block_writer_commit(w, id);
        fio_fault_reset();
        ck_assert_msg(rc == FLINT_EIO || rc == FLINT_ENOSPC, "fault at %zu: rc %d", at, rc);
        /* as after a crash: nothing published, only the .tmp directory */
        ck_assert_uint_eq(count_entries(dir, ".tmp"), 1);
        ck_assert_uint_eq(count_entries(dir, ""), 1);
        block_ulid *list;
        size_t n;
        ck_assert_int_eq(block_list(dir, true, &list, &n), 0);
        ck_assert_uint_eq(n, 0);
        fl_free(list);
        ck_assert_uint_eq(count_entries(dir, ""), 0);
        block_writer_abort(w);
    }
    ck_assert_int_gt(runs, 50);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_oom_writer) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    int rc = FLINT_ENOMEM;
    long n;
    block_ulid id;
    for (n = 0; rc == FLINT_ENOMEM && n < 100000; n++) {
        fl_fault_fail_after(n);
        rc = write_tblock(dir, &t, NULL, id);
        fl_fault_reset();
        ck_assert_msg(rc == 0 || rc == FLINT_ENOMEM, "n %ld: %d %s", n, rc, flint_errmsg());
        if (rc) ck_assert_uint_eq(count_entries(dir, ""), 0); /* aborted: nothing left */
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_gt(n, 20);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    block *b;
    ck_assert_int_eq(block_open(path, &b), 0);
    ck_assert_uint_eq(block_num_series(b), NSPEC);
    block_close(b);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

/* ENOMEM inside add_series leaves the writer as it was: retrying the same
 * series and going on gives a complete, correct block. */
START_TEST(test_block_oom_add_series_retry) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    int failures = 0;
    for (size_t victim = 0; victim < t.n; victim++) {
        for (long n = 0; n < 40; n++) {
            block_writer *w;
            ck_assert_int_eq(block_writer_new(dir, 0, 10000, NULL, &w), 0);
            for (size_t s = 0; s < t.n; s++) {
                uint8_t bufs[3][64];
                block_chunk c[3];
                for (int k = 0; k < (int)(s % 4); k++) make_chunk(s, k, bufs[k], &c[k]);
                if (s == victim) {
                    fl_fault_fail_after(n);
                    int rc = block_writer_add_series(w, &t.series[s], c, s % 4);
                    fl_fault_reset();
                    ck_assert(rc == 0 || rc == FLINT_ENOMEM);
                    if (rc == 0) continue;
                    failures++;
                }
                ck_assert_int_eq(block_writer_add_series(w, &t.series[s], c, s % 4), 0);
            }
            block_ulid id;
            ck_assert_msg(block_writer_commit(w, id) == 0, "%s", flint_errmsg());
            block_writer_free(w);
            char path[PATH_MAX];
            block_dir(path, dir, id);
            block *b;
            ck_assert_int_eq(block_open(path, &b), 0);
            block_series bs;
            block_series_init(&bs);
            for (uint32_t i = 0; i < t.n; i++) {
                ck_assert_int_eq(block_series_get(b, i, INT64_MIN, INT64_MAX, &bs), 0);
                labels l = block_series_labels(&bs);
                ck_assert(labels_equal(&l, &t.series[i]));
                ck_assert_uint_eq(bs.nchunks, i % 4);
            }
            block_series_free(&bs);
            block_close(b);
            ck_assert_int_eq(block_delete(path), 0);
        }
    }
    ck_assert_int_gt(failures, 5); /* a series whose strings are all known may allocate nothing */
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_oom_open_and_query) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid id;
    ck_assert_int_eq(write_tblock(dir, &t, NULL, id), 0);
    char path[PATH_MAX];
    block_dir(path, dir, id);
    matcher ms[3];
    ck_assert_int_eq(matcher_init(&ms[0], MATCH_RE, "__name__", "up|http_requests"), 0);
    ck_assert_int_eq(matcher_init(&ms[1], MATCH_NEQ, "instance", "b"), 0);
    ck_assert_int_eq(matcher_init(&ms[2], MATCH_RE, "job", "x|"), 0);
    int rc = FLINT_ENOMEM;
    for (long n = 0; rc == FLINT_ENOMEM && n < 10000; n++) {
        block *b = NULL;
        block_postings p;
        block_postings_init(&p);
        block_series s;
        block_series_init(&s);
        const char **out = NULL;
        size_t cnt;
        fl_fault_fail_after(n);
        rc = block_open(path, &b);
        if (!rc) rc = block_select(b, ms, 3, &p);
        for (size_t i = 0; i < p.n && !rc; i++) rc = block_series_get(b, p.ids[i], INT64_MIN, INT64_MAX, &s);
        if (!rc) rc = block_label_names(b, ms, 3, &out, &cnt);
        fl_free(out);
        out = NULL;
        if (!rc) rc = block_label_values(b, "instance", ms, 2, &out, &cnt);
        fl_fault_reset();
        ck_assert_msg(rc == 0 || rc == FLINT_ENOMEM, "n %ld: %d %s", n, rc, flint_errmsg());
        if (!rc) ck_assert_uint_eq(p.n, 4);
        fl_free(out);
        block_series_free(&s);
        block_postings_free(&p);
        block_close(b);
    }
    ck_assert_int_eq(rc, 0);
    for (int i = 0; i < 3; i++) matcher_free(&ms[i]);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_block_delete_and_list_cleanup) {
    const char *dir = tu_tmpdir();
    tblock t;
    tblock_make(&t);
    block_ulid ids[3];
    for (int i = 0; i < 3; i++) ck_assert_int_eq(write_tblock(dir, &t, NULL, ids[i]), 0);
    char p[PATH_MAX + 64];
    /* leftovers of crashes, and things that are not blocks */
    snprintf(p, sizeof p, "%s/01EM65SHSX4VARXBBHBF0M0FDS.tmp/chunks", dir);
    ck_assert_int_eq(fio_mkdir_p(p), 0);
    snprintf(p, sizeof p, "%s/01EM65SHSX4VARXBBHBF0M0FDT.deleted", dir);
    ck_assert_int_eq(fio_mkdir_p(p), 0);
    snprintf(p, sizeof p, "%s/wal", dir);
    ck_assert_int_eq(fio_mkdir_p(p), 0);
    snprintf(p, sizeof p, "%s/other.tmp", dir);
    ck_assert_int_eq(fio_write_file_atomic(p, "x", 1), 0);
    snprintf(p, sizeof p, "%s/01EM65SHSX4VARXBBHBF0M0FDV", dir); /* no meta.json */
    ck_assert_int_eq(fio_mkdir_p(p), 0);

    block_ulid *list;
    size_t n;
    ck_assert_int_eq(block_list(dir, false, &list, &n), 0);
    ck_assert_uint_eq(n, 3);
    fl_free(list);
    ck_assert_uint_eq(count_entries(dir, ""), 8);
    ck_assert_int_eq(block_list(dir, true, &list, &n), 0);
    ck_assert_uint_eq(n, 3);
    for (int i = 1; i < 3; i++) ck_assert_int_lt(strcmp(list[i - 1], list[i]), 0);
    fl_free(list);
    ck_assert_uint_eq(count_entries(dir, ".deleted"), 0);
    ck_assert_uint_eq(count_entries(dir, ".tmp"), 1); /* other.tmp is not a block's */

    snprintf(p, sizeof p, "%s/%s", dir, ids[1]);
    ck_assert_int_eq(block_delete(p), 0);
    ck_assert(!fio_exists(p));
    ck_assert_int_eq(block_delete(p), FLINT_ENOTFOUND);
    ck_assert_int_eq(block_list(dir, true, &list, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0], ids[0]);
    ck_assert_str_eq(list[1], ids[2]);
    fl_free(list);
    snprintf(p, sizeof p, "%s/missing-dir", dir);
    ck_assert_int_eq(block_list(p, true, &list, &n), 0);
    ck_assert_uint_eq(n, 0);
    tblock_free(&t);
    tu_tmpdir_cleanup();
}
END_TEST

Suite *block_suite(void) {
    Suite *s = suite_create("block");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_block_chunkfile_roundtrip_and_segments);
    tcase_add_test(tc, test_block_chunkfile_crc_every_byte);
    tcase_add_test(tc, test_block_ulid_format_and_order);
    tcase_add_test(tc, test_block_meta_parse_prometheus);
    tcase_add_test(tc, test_block_meta_parse_errors);
    tcase_add_test(tc, test_block_write_open_roundtrip);
    tcase_add_test(tc, test_block_compaction_meta_and_empty_block);
    tcase_add_test(tc, test_block_writer_rejects_bad_series);
    tcase_add_test(tc, test_block_select_matches_brute_force);
    tcase_add_test(tc, test_block_label_names_and_values);
    tcase_add_test(tc, test_block_corrupt_index_and_chunks);
    tcase_add_test(tc, test_block_meta_mismatch_detected);
    tcase_add_test(tc, test_block_crash_during_commit_leaves_no_block);
    tcase_add_test(tc, test_block_oom_writer);
    tcase_add_test(tc, test_block_oom_add_series_retry);
    tcase_add_test(tc, test_block_oom_open_and_query);
    tcase_add_test(tc, test_block_delete_and_list_cleanup);
    suite_add_tcase(s, tc);
    return s;
}
