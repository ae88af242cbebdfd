/*
 * check_index.c - the block index codec: round trips (symbols, series,
 * label values, postings, empty values, unicode, 10k series), postings
 * seek, writer input checks, a CRC check per section and per byte,
 * truncation, structure checks without CRCs, OOM and I/O faults.
 */
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/index.h"
#include "storage/varint.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a model of an index: series with labels and chunk metas ---------------- */

typedef struct tseries {
    index_pair l[8];
    size_t nl;
    index_chunk_meta c[4];
    size_t nc;
} tseries;

typedef struct model {
    tseries *s;
    size_t n;
    char **strs; /* owned strings */
    size_t nstrs, cap;
    const char **syms;
    size_t nsyms;
} model;

static const char *mstr(model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *mstr(model *m, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (m->nstrs == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->strs = realloc(m->strs, m->cap * sizeof *m->strs);
    }
    return m->strs[m->nstrs++] = strdup(buf);
}

static int cmp_pairs(const tseries *a, const tseries *b) {
    size_t n = a->nl < b->nl ? a->nl : b->nl;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a->l[i].name, b->l[i].name);
        if (!c) c = strcmp(a->l[i].value, b->l[i].value);
        if (c) return c;
    }
    return a->nl < b->nl ? -1 : a->nl > b->nl;
}
static int cmp_series(const void *a, const void *b) { return cmp_pairs(a, b); }
static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Sort series, collect symbols. */
static void model_seal(model *m) {
    if (m->n > 1) qsort(m->s, m->n, sizeof *m->s, cmp_series);
    size_t cap = 0;
    for (size_t i = 0; i < m->n; i++) cap += 2 * m->s[i].nl;
    const char **all = malloc((cap ? cap : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->s[i].nl; j++) all[k++] = m->s[i].l[j].name, all[k++] = m->s[i].l[j].value;
    if (k > 1) qsort(all, k, sizeof *all, cmp_cstr);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (!u || strcmp(all[u - 1], all[i])) all[u++] = all[i];
    m->syms = all;
    m->nsyms = u;
}

static void model_free(model *m) {
    for (size_t i = 0; i < m->nstrs; i++) free(m->strs[i]);
    free(m->strs);
    free(m->s);
    free(m->syms);
    memset(m, 0, sizeof *m);
}

static int model_write(const model *m, const char *path) {
    index_writer *w;
    int rc = index_writer_new(path, &w);
    if (rc) return rc;
    rc = index_writer_set_symbols(w, m->syms, m->nsyms);
    for (size_t i = 0; i < m->n && !rc; i++) rc = index_writer_add_series(w, m->s[i].l, m->s[i].nl, m->s[i].c, m->s[i].nc);
    if (!rc) rc = index_writer_finish(w);
    index_writer_free(w);
    return rc;
}

/* A small model: 3 metrics x instances, empty values, unicode, extremes. */
static void model_small(model *m) {
    memset(m, 0, sizeof *m);
    m->s = calloc(16, sizeof *m->s);
    const char *inst[] = {"a:1", "b:2", "ünïcödé-☃"};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 3; i++) {
            tseries *t = &m->s[m->n++];
            t->l[t->nl++] = (index_pair){"__name__", mstr(m, "metric_%d", k)};
            t->l[t->nl++] = (index_pair){"instance", inst[i]};
            if (i == 1) t->l[t->nl++] = (index_pair){"job", ""};
            else t->l[t->nl++] = (index_pair){"job", "node"};
            for (int c = 0; c < k + 1; c++)
                t->c[t->nc++] = (index_chunk_meta){1000 * c + i, 1000 * c + 999, ((uint64_t)1 << 32) + 8 + 100 * (uint64_t)(m->n * 4 + (size_t)c), (uint8_t)(c == 1 ? 2 : 1)};
        }
    }
    /* extremes: a single-label series with int64 limits, and one without chunks */
    tseries *t = &m->s[m->n++];
    t->l[t->nl++] = (index_pair){"zz", "last"};
    t->c[t->nc++] = (index_chunk_meta){INT64_MIN, INT64_MIN + 5, 0, 0};
    t->c[t->nc++] = (index_chunk_meta){-1, INT64_MAX, UINT64_MAX, 255};
    t = &m->s[m->n++];
    t->l[t->nl++] = (index_pair){"zz", "no chunks"};
    model_seal(m);
}

/* 10,000 series, 5 labels, 3 chunks: 50 metrics x 200 instances. */
static void model_large(model *m, size_t metrics, size_t instances) {
    memset(m, 0, sizeof *m);
    m->s = calloc(metrics * instances, sizeof *m->s);
    tu_rng r = {42};
    const char **inst = malloc(instances * sizeof *inst);
    for (size_t i = 0; i < instances; i++) inst[i] = mstr(m, "10.0.%zu.%zu:9100", i / 250, i % 250);
    for (size_t k = 0; k < metrics; k++) {
        const char *name = mstr(m, "node_metric_%zu_total", k);
        for (size_t i = 0; i < instances; i++) {
            tseries *t = &m->s[m->n++];
            t->l[t->nl++] = (index_pair){"__name__", name};
            t->l[t->nl++] = (index_pair){"env", i % 2 ? "prod" : "staging"};
            t->l[t->nl++] = (index_pair){"instance", inst[i]};
            t->l[t->nl++] = (index_pair){"job", "node"};
            t->l[t->nl++] = (index_pair){"region", i % 3 ? "eu-west-1" : "us-east-1"};
        }
    }
    if (m->n > 1) qsort(m->s, m->n, sizeof *m->s, cmp_series);
    /* chunks in series order, as a block writer lays them out */
    uint64_t off = 8;
    for (size_t s = 0; s < m->n; s++) {
        tseries *t = &m->s[s];
        int64_t t0 = 1700000000000 + (int64_t)(tu_next(&r) % 1000);
        for (int c = 0; c < 3; c++) {
            int64_t mint = t0 + c * 120 * 15000;
            t->c[t->nc++] = (index_chunk_meta){mint, mint + 119 * 15000, ((uint64_t)1 << 32) | off, 2};
            off += 100 + tu_next(&r) % 100;
        }
    }
    free(inst);
    model_seal(m);
}

typedef struct mapped {
    fio_map map;
    index_reader *r;
} mapped;

static const char *ipath(void) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/index", tu_tmpdir());
    return path;
}

static void open_mapped(const char *path, mapped *mp) {
    ck_assert_int_eq(fio_map_file(path, &mp->map), 0);
    int rc = index_reader_open(mp->map.data, mp->map.size, 0, &mp->r);
    ck_assert_msg(rc == 0, "open: %s", flint_errmsg());
}

static void close_mapped(mapped *mp) {
    index_reader_free(mp->r);
    fio_unmap(&mp->map);
}

/* Every accessor agrees with the model. */
static void verify_model(const index_reader *r, const model *m) {
    ck_assert_uint_eq(index_num_series(r), m->n);
    ck_assert_uint_eq(index_num_symbols(r), m->nsyms);
    index_symbol_iter si;
    index_symbols_iter(r, &si);
    const char *s;
    size_t len;
    for (size_t i = 0; i < m->nsyms; i++) {
        ck_assert(index_symbols_next(&si, &s, &len));
        ck_assert_str_eq(s, m->syms[i]);
        ck_assert_uint_eq(len, strlen(m->syms[i]));
    }
    ck_assert(!index_symbols_next(&si, &s, &len));
    ck_assert_int_eq(si.err, 0);

    index_series got;
    index_series_init(&got);
    for (size_t i = 0; i < m->n; i++) {
        ck_assert_int_eq(index_series_get(r, (uint32_t)i, &got), 0);
        ck_assert_uint_eq(got.nlabels, m->s[i].nl);
        for (size_t j = 0; j < got.nlabels; j++) {
            ck_assert_str_eq(got.labels[j].name, m->s[i].l[j].name);
            ck_assert_str_eq(got.labels[j].value, m->s[i].l[j].value);
        }
        ck_assert_uint_eq(got.nchunks, m->s[i].nc);
        for (size_t j = 0; j < got.nchunks; j++) {
            ck_assert_int_eq(got.chunks[j].mint, m->s[i].c[j].mint);
            ck_assert_int_eq(got.chunks[j].maxt, m->s[i].c[j].maxt);
            ck_assert_uint_eq(got.chunks[j].ref, m->s[i].c[j].ref);
            ck_assert_uint_eq(got.chunks[j].enc, m->s[i].c[j].enc);
        }
        /* postings of each of its pairs contain it */
        for (size_t j = 0; j < m->s[i].nl; j++) {
            index_postings it;
            ck_assert_int_eq(index_postings_get(r, m->s[i].l[j].name, m->s[i].l[j].value, &it), 0);
            ck_assert(index_postings_seek(&it, (uint32_t)i));
            ck_assert_uint_eq(index_postings_at(&it), i);
        }
    }
    ck_assert_int_eq(index_series_get(r, (uint32_t)m->n, &got), FLINT_ENOTFOUND);
    index_series_free(&got);

    /* every postings list equals the brute-force set; values sorted */
    size_t total = 0;
    for (uint32_t n = 0; n < index_num_label_names(r); n++) {
        const char *name = index_label_name(r, n);
        ck_assert_int_eq(index_label_name_find(r, name), n);
        const char *prev = NULL;
        for (uint32_t v = 0; v < index_num_label_values(r, n); v++) {
            const char *val;
            ck_assert_int_eq(index_label_value(r, n, v, &val, &len), 0);
            if (prev) ck_assert_int_lt(strcmp(prev, val), 0);
            prev = val;
            uint32_t ord = UINT32_MAX;
            ck_assert_int_eq(index_label_value_find(r, n, val, &ord), 0);
            ck_assert_uint_eq(ord, v);
            index_postings it;
            ck_assert_int_eq(index_postings_at_ord(r, n, v, &it), 0);
            size_t i = 0;
            for (; i < m->n; i++) {
                const char *mv = NULL;
                for (size_t j = 0; j < m->s[i].nl; j++)
                    if (!strcmp(m->s[i].l[j].name, name)) mv = m->s[i].l[j].value;
                if (!mv || strcmp(mv, val)) continue;
                ck_assert(index_postings_next(&it));
                ck_assert_uint_eq(index_postings_at(&it), i);
                total++;
            }
            ck_assert(!index_postings_next(&it));
            ck_assert_int_eq(index_postings_err(&it), 0);
        }
    }
    size_t labels_total = 0;
    for (size_t i = 0; i < m->n; i++) labels_total += m->s[i].nl;
    ck_assert_uint_eq(total, labels_total);

    index_postings all;
    ck_assert_int_eq(index_postings_all(r, &all), 0);
    for (size_t i = 0; i < m->n; i++) {
        ck_assert(index_postings_next(&all));
        ck_assert_uint_eq(index_postings_at(&all), i);
    }
    ck_assert(!index_postings_next(&all));
    ck_assert_int_eq(index_label_name_find(r, "nope"), -1);
    uint32_t ord;
    if (index_num_label_names(r)) ck_assert_int_eq(index_label_value_find(r, 0, "\xff-not-a-value", &ord), FLINT_ENOTFOUND);
    index_postings none;
    ck_assert_int_eq(index_postings_get(r, "nope", "x", &none), 0);
    ck_assert(!index_postings_next(&none));
}

/* ---- round trips ---------------------------------------------------------------- */

START_TEST(test_index_empty_roundtrip) {
    model m = {0};
    model_seal(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    mapped mp;
    open_mapped(path, &mp);
    verify_model(mp.r, &m);
    ck_assert_uint_eq(index_num_label_names(mp.r), 0);
    close_mapped(&mp);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_small_roundtrip) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    mapped mp;
    open_mapped(path, &mp);
    verify_model(mp.r, &m);
    /* empty value and unicode are ordinary values */
    int64_t job = index_label_name_find(mp.r, "job");
    ck_assert_int_ge(job, 0);
    ck_assert_uint_eq(index_num_label_values(mp.r, (uint32_t)job), 2);
    const char *v;
    size_t len;
    ck_assert_int_eq(index_label_value(mp.r, (uint32_t)job, 0, &v, &len), 0);
    ck_assert_str_eq(v, "");
    ck_assert_uint_eq(len, 0);
    index_postings it;
    ck_assert_int_eq(index_postings_get(mp.r, "instance", "ünïcödé-☃", &it), 0);
    ck_assert_uint_eq(it.count, 3);
    close_mapped(&mp);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_many_series_roundtrip) {
    model m;
    model_large(&m, 50, 200);
    ck_assert_uint_eq(m.n, 10000);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    size_t size = tu_file_size(path);
    fprintf(stderr, "index: 10000 series x 5 labels x 3 chunks: %zu bytes, %.1f bytes/series\n", size,
            (double)size / 10000.0);
    /* the budget this format is designed to (see docs/format/index.md) */
    ck_assert_uint_lt(size, 10000 * 48);
    mapped mp;
    open_mapped(path, &mp);
    verify_model(mp.r, &m);
    close_mapped(&mp);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_postings_seek) {
    /* value "even" on even ids (delta list), "lo" on a contiguous range */
    model m = {0};
    m.s = calloc(100, sizeof *m.s);
    for (int i = 0; i < 100; i++) {
        tseries *t = &m.s[m.n++];
        t->l[t->nl++] = (index_pair){"a", mstr(&m, "%03d", i)};
        t->l[t->nl++] = (index_pair){"parity", i % 2 ? "odd" : "even"};
        t->l[t->nl++] = (index_pair){"z", i < 40 ? "lo" : "hi"};
    }
    model_seal(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    mapped mp;
    open_mapped(path, &mp);
    index_postings it;
    ck_assert_int_eq(index_postings_get(mp.r, "parity", "even", &it), 0);
    ck_assert(!it.range);
    ck_assert(index_postings_seek(&it, 7));
    ck_assert_uint_eq(index_postings_at(&it), 8);
    ck_assert(index_postings_seek(&it, 3)); /* never backwards */
    ck_assert_uint_eq(index_postings_at(&it), 8);
    ck_assert(index_postings_next(&it));
    ck_assert_uint_eq(index_postings_at(&it), 10);
    ck_assert(index_postings_seek(&it, 98));
    ck_assert_uint_eq(index_postings_at(&it), 98);
    ck_assert(!index_postings_seek(&it, 99));
    ck_assert(!index_postings_next(&it));

    ck_assert_int_eq(index_postings_get(mp.r, "z", "lo", &it), 0);
    ck_assert(it.range);
    ck_assert_uint_eq(it.count, 40);
    ck_assert(index_postings_seek(&it, 0));
    ck_assert_uint_eq(index_postings_at(&it), 0);
    ck_assert(index_postings_seek(&it, 17));
    ck_assert_uint_eq(index_postings_at(&it), 17);
    ck_assert(index_postings_next(&it));
    ck_assert_uint_eq(index_postings_at(&it), 18);
    ck_assert(index_postings_seek(&it, 39));
    ck_assert(!index_postings_next(&it));
    ck_assert_int_eq(index_postings_get(mp.r, "z", "hi", &it), 0);
    ck_assert(index_postings_seek(&it, 5));
    ck_assert_uint_eq(index_postings_at(&it), 40);
    ck_assert(!index_postings_seek(&it, 100));
    index_postings_empty(&it);
    ck_assert(!index_postings_seek(&it, 0));
    close_mapped(&mp);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_writer_rejects_bad_input) {
    const char *path = ipath();
    index_writer *w;
    const char *unsorted[] = {"b", "a"};
    ck_assert_int_eq(index_writer_new(path, &w), 0);
    ck_assert_int_eq(index_writer_set_symbols(w, unsorted, 2), FLINT_EINVAL);
    ck_assert_int_eq(index_writer_finish(w), FLINT_EINVAL); /* sticky */
    index_writer_free(w);

    const char *syms[] = {"", "a", "b", "c"};
    index_pair ab[] = {{"a", "b"}}, ac[] = {{"a", "c"}}, dup[] = {{"b", "a"}, {"a", "c"}}, missing[] = {{"x", "a"}};
    index_chunk_meta inv = {10, 5, 0, 1};
    index_chunk_meta unsorted_c[] = {{10, 20, 0, 1}, {5, 6, 0, 1}};
    index_chunk_meta refs_down[] = {{10, 20, 100, 1}, {25, 26, 50, 1}};
    struct {
        const index_pair *l;
        size_t nl;
        const index_chunk_meta *c;
        size_t nc;
    } bad[] = {{ac, 1, NULL, 0},      /* not greater than the previous ac */
               {ab, 1, NULL, 0},      /* smaller */
               {dup, 2, NULL, 0},     /* names out of order */
               {missing, 1, NULL, 0}, /* not a symbol */
               {ac, 1, &inv, 1},      {ac, 1, unsorted_c, 2}, {ac, 1, refs_down, 2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(index_writer_new(path, &w), 0);
        ck_assert_int_eq(index_writer_add_series(w, ab, 1, NULL, 0), FLINT_EINVAL); /* before symbols */
        index_writer_free(w);
        ck_assert_int_eq(index_writer_new(path, &w), 0);
        ck_assert_int_eq(index_writer_set_symbols(w, syms, 4), 0);
        ck_assert_int_eq(index_writer_add_series(w, ac, 1, NULL, 0), 0);
        int rc = index_writer_add_series(w, bad[i].l, bad[i].nl, bad[i].c, bad[i].nc);
        ck_assert_msg(rc == FLINT_EINVAL, "case %zu: %d", i, rc);
        ck_assert_str_ne(flint_errmsg(), "");
        index_writer_free(w);
    }
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- corruption ------------------------------------------------------------------- */

#define TOC_SIZE (6 * 20 + 4)
static const char *const sec_names[] = {"symbol table", "series", "label index", "postings", "postings offset table",
                                        "series offset table"};

START_TEST(test_index_crc_mismatch_names_section) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    fio_map map;
    ck_assert_int_eq(fio_map_file(path, &map), 0);
    size_t size = map.size;
    uint64_t off[6], len[6];
    for (int s = 0; s < 6; s++) {
        off[s] = be64_get(map.data + size - TOC_SIZE + 20 * s);
        len[s] = be64_get(map.data + size - TOC_SIZE + 20 * s + 8);
        ck_assert_uint_gt(len[s], 0);
    }
    fio_unmap(&map);
    for (int s = 0; s < 6; s++) {
        size_t at = (size_t)(off[s] + len[s] / 2);
        tu_file_poke(path, at, 0x10);
        ck_assert_int_eq(fio_map_file(path, &map), 0);
        index_reader *r;
        ck_assert_int_eq(index_reader_open(map.data, map.size, 0, &r), FLINT_ECORRUPT);
        char want[128];
        snprintf(want, sizeof want, "index: %s section CRC mismatch at offset %llu", sec_names[s], (unsigned long long)off[s]);
        ck_assert_str_eq(flint_errmsg(), want);
        fio_unmap(&map);
        tu_file_poke(path, at, 0x10);
    }
    /* header and TOC */
    struct {
        size_t at;
        const char *msg;
    } other[] = {{0, "index: bad magic at offset 0"},
                 {4, "index: unsupported version"},
                 {6, "index: nonzero reserved header bytes"},
                 {size - 10, "index: TOC CRC mismatch at offset"}};
    for (size_t i = 0; i < 4; i++) {
        tu_file_poke(path, other[i].at, 0x01);
        ck_assert_int_eq(fio_map_file(path, &map), 0);
        index_reader *r;
        ck_assert_int_eq(index_reader_open(map.data, map.size, 0, &r), FLINT_ECORRUPT);
        ck_assert_msg(strstr(flint_errmsg(), other[i].msg), "%s", flint_errmsg());
        fio_unmap(&map);
        tu_file_poke(path, other[i].at, 0x01);
    }
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

/* Every byte of the file is covered by a check: any single flipped bit fails. */
START_TEST(test_index_every_byte_checked) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    char *data;
    size_t n;
    ck_assert_int_eq(fio_read_file(path, &data, &n), 0);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            data[i] ^= (char)(1 << bit);
            index_reader *r = NULL;
            int rc = index_reader_open((const uint8_t *)data, n, 0, &r);
            ck_assert_msg(rc == FLINT_ECORRUPT, "byte %zu bit %d: rc %d", i, bit, rc);
            ck_assert_ptr_null(r);
            data[i] ^= (char)(1 << bit);
        }
    }
    fl_free(data);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_truncated_file) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    char *data;
    size_t n;
    ck_assert_int_eq(fio_read_file(path, &data, &n), 0);
    for (size_t len = 0; len < n; len++) {
        /* a copy of exactly len bytes, so ASan sees any overrun */
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, data, len);
        index_reader *r = NULL;
        ck_assert_int_eq(index_reader_open(cut, len, 0, &r), FLINT_ECORRUPT);
        ck_assert_int_eq(index_reader_open(cut, len, INDEX_OPEN_NO_CRC, &r), FLINT_ECORRUPT);
        free(cut);
    }
    index_reader *r = NULL;
    ck_assert_int_eq(index_reader_open((const uint8_t *)data, 10, 0, &r), FLINT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "too short"));
    fl_free(data);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

/* Walk every accessor; errors are fine, crashes and overruns are not. */
static void exercise(const index_reader *r) {
    index_symbol_iter si;
    const char *s;
    size_t len;
    index_symbols_iter(r, &si);
    while (index_symbols_next(&si, &s, &len)) ck_assert_uint_eq(strlen(s), len);
    index_series ser;
    index_series_init(&ser);
    for (uint32_t i = 0; i < index_num_series(r) && i < 64; i++)
        if (index_series_get(r, i, &ser) == 0)
            for (size_t j = 0; j < ser.nlabels; j++) (void)strlen(ser.labels[j].value);
    index_series_free(&ser);
    for (uint32_t n = 0; n < index_num_label_names(r); n++) {
        (void)index_label_name_find(r, index_label_name(r, n));
        for (uint32_t v = 0; v < index_num_label_values(r, n) && v < 64; v++) {
            index_postings it;
            if (index_label_value(r, n, v, &s, &len) == 0) {
                uint32_t ord;
                (void)index_label_value_find(r, n, s, &ord);
            }
            if (index_postings_at_ord(r, n, v, &it) == 0) {
                uint32_t prev = 0;
                bool first = true;
                while (index_postings_next(&it)) {
                    ck_assert(first || index_postings_at(&it) > prev);
                    ck_assert_uint_lt(index_postings_at(&it), index_num_series(r));
                    prev = index_postings_at(&it);
                    first = false;
                }
            }
        }
    }
    index_postings all;
    if (index_postings_all(r, &all) == 0)
        while (index_postings_seek(&all, index_postings_at(&all) + 3)) {
        }
}

START_TEST(test_index_structure_checks_without_crc) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    char *data;
    size_t n;
    ck_assert_int_eq(fio_read_file(path, &data, &n), 0);
    tu_rng rng = {7};
    uint8_t *buf = malloc(n);
    int opened = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, data, n);
        int flips = 1 + (int)(tu_next(&rng) % 4);
        for (int f = 0; f < flips; f++) buf[tu_next(&rng) % n] = (uint8_t)tu_next(&rng);
        index_reader *r = NULL;
        int rc = index_reader_open(buf, n, INDEX_OPEN_NO_CRC, &r);
        if (rc) {
            ck_assert_int_eq(rc, FLINT_ECORRUPT);
            continue;
        }
        opened++;
        exercise(r);
        index_reader_free(r);
    }
    ck_assert_int_gt(opened, 100);
    free(buf);
    fl_free(data);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

/* ---- faults ----------------------------------------------------------------------- */

START_TEST(test_index_oom_writer) {
    model m;
    model_small(&m);
    const char *path = ipath();
    int rc = FLINT_ENOMEM;
    long n;
    for (n = 0; rc == FLINT_ENOMEM && n < 10000; n++) {
        fl_fault_fail_after(n);
        rc = model_write(&m, path);
        fl_fault_reset();
        ck_assert(rc == 0 || rc == FLINT_ENOMEM);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_gt(n, 5);
    mapped mp;
    open_mapped(path, &mp);
    verify_model(mp.r, &m);
    close_mapped(&mp);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_oom_reader) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    fio_map map;
    ck_assert_int_eq(fio_map_file(path, &map), 0);
    int rc = FLINT_ENOMEM;
    for (long n = 0; rc == FLINT_ENOMEM && n < 1000; n++) {
        index_reader *r = NULL;
        fl_fault_fail_after(n);
        rc = index_reader_open(map.data, map.size, 0, &r);
        if (rc == 0) {
            index_series s;
            index_series_init(&s);
            for (uint32_t i = 0; i < index_num_series(r) && rc == 0; i++) rc = index_series_get(r, i, &s);
            index_series_free(&s);
        }
        fl_fault_reset();
        ck_assert(rc == 0 || rc == FLINT_ENOMEM);
        index_reader_free(r);
    }
    ck_assert_int_eq(rc, 0);
    fio_unmap(&map);
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_index_io_fault_writer) {
    model m;
    model_small(&m);
    const char *path = ipath();
    ck_assert_int_eq(model_write(&m, path), 0);
    size_t size = tu_file_size(path);
    for (size_t at = 0; at < size; at += 7) {
        fio_fault_set((long long)at, at % 2 ? FLINT_ENOSPC : FLINT_EIO, (int)(at % 3 == 0), 1);
        int rc = model_write(&m, path);
        fio_fault_reset();
        ck_assert_msg(rc == FLINT_EIO || rc == FLINT_ENOSPC, "at %zu: %d", at, rc);
        ck_assert_ptr_nonnull(strstr(flint_errmsg(), path));
        /* what is on disk never opens as a valid index */
        fio_map map;
        if (fio_map_file(path, &map) == 0) {
            index_reader *r = NULL;
            ck_assert_int_ne(index_reader_open(map.data, map.size, 0, &r), 0);
            fio_unmap(&map);
        }
    }
    model_free(&m);
    tu_tmpdir_cleanup();
}
END_TEST

Suite *index_suite(void) {
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_index_empty_roundtrip);
    tcase_add_test(tc, test_index_small_roundtrip);
    tcase_add_test(tc, test_index_many_series_roundtrip);
    tcase_add_test(tc, test_index_postings_seek);
    tcase_add_test(tc, test_index_writer_rejects_bad_input);
    tcase_add_test(tc, test_index_crc_mismatch_names_section);
    tcase_add_test(tc, test_index_every_byte_checked);
    tcase_add_test(tc, test_index_truncated_file);
    tcase_add_test(tc, test_index_structure_checks_without_crc);
    tcase_add_test(tc, test_index_oom_writer);
    tcase_add_test(tc, test_index_oom_reader);
    tcase_add_test(tc, test_index_io_fault_writer);
    suite_add_tcase(s, tc);
    return s;
}
