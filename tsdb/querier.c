/*
 * querier.c - reads over blocks and head (see db.h).
 *
 * A querier pins the blocks overlapping its range (reference counts) and
 * reads the head live. tsdb_select gathers, per source, the matching series
 * in label order (block ids are in label order; head refs are sorted by
 * labels), then walks the sources as a k-way merge on labels. For each
 * series it collects chunk views (block chunks straight from the mmap,
 * head chunks copied under the series lock) and hands them to a
 * series_iter clipped to the range. tsdb_series_snapshot keeps a series'
 * chunk views (head chunk bytes copied) for readers on other threads, which
 * decode them whole with series_read_all.
 */
#include "storage/alloc.h"
#include "storage/err.h"
#include "tsdb/db_int.h"
#include "tsdb/seriesiter.h"
#include "tsdb/tombstones.h"

#include <stdlib.h>
#include <string.h>

struct tsdb_querier {
    tsdb *db;
    int64_t mint, maxt;
    db_block **blocks; /* referenced, overlapping [mint, maxt] */
    size_t nblocks;
    tomb_set *tombs; /* delete requests at open (tsdb/delete.c); NULL: none */
};

struct tsdb_sample_iter {
    series_iter it;
};

typedef struct qsrc {
    const block *b;       /* NULL: the head */
    block_postings ids;   /* block sources */
    postings_vec refs;    /* head source */
    size_t pos;
    block_series bs;
    labels_builder hl;    /* head labels of the current ref */
    int valid;
    labels cur;
} qsrc;

struct tsdb_series_set {
    tsdb_querier *q;
    qsrc *src;
    size_t nsrc;
    int err;
    labels_builder lb;    /* current series labels (strings stable) */
    labels cur;
    chunk_view *views;
    size_t nviews, capviews;
    head_chunk_set hcs;
    tsdb_sample_iter si;
    tomb_ivs del;         /* deleted intervals of the current series */
};

int tsdb_querier_open(tsdb *db, int64_t mint, int64_t maxt, tsdb_querier **out) {
    tsdb_querier *q = fl_calloc(1, sizeof *q);
    if (!q) return FLINT_ENOMEM;
    db_block **all;
    size_t n;
    /* delete requests before blocks: clean_tombstones trims requests only
     * after swapping in the rewritten blocks */
    q->tombs = tomb_acquire(db);
    int rc = db_blocks_snapshot(db, &all, &n);
    if (rc) {
        tomb_release(q->tombs);
        fl_free(q);
        return rc;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const block_meta *m = block_get_meta(all[i]->b);
        if (m->max_time - 1 < mint || m->min_time > maxt) db_block_unref(all[i]);
        else all[k++] = all[i];
    }
    q->db = db;
    q->mint = mint;
    q->maxt = maxt;
    q->blocks = all;
    q->nblocks = k;
    *out = q;
    return 0;
}

void tsdb_querier_close(tsdb_querier *q) {
    if (!q) return;
    db_blocks_release(q->blocks, q->nblocks);
    tomb_release(q->tombs);
    fl_free(q);
}

/* Load the current series of a source (labels, and for blocks its chunks). */
static int src_load(tsdb_series_set *s, qsrc *c) {
    c->valid = 0;
    if (c->b) {
        while (c->pos < c->ids.n) {
            int rc = block_series_get(c->b, c->ids.ids[c->pos], s->q->mint, s->q->maxt, &c->bs);
            if (rc) return rc;
            if (c->bs.nchunks) {
                c->cur = block_series_labels(&c->bs);
                c->valid = 1;
                return 0;
            }
            c->pos++;
        }
        return 0;
    }
    while (c->pos < c->refs.n) {
        int rc = head_series_labels(s->q->db->h, c->refs.v[c->pos], &c->hl);
        if (rc == 0) {
            c->cur = lb_labels(&c->hl);
            c->valid = 1;
            return 0;
        }
        if (rc != FLINT_ENOTFOUND) return rc;
        c->pos++; /* truncated meanwhile */
    }
    return 0;
}

int tsdb_select(tsdb_querier *q, const matcher *ms, size_t n, tsdb_series_set **out) {
    tsdb_series_set *s = fl_calloc(1, sizeof *s);
    if (!s) return FLINT_ENOMEM;
    s->q = q;
    lb_init(&s->lb);
    head_chunk_set_init(&s->hcs);
    s->src = fl_calloc(q->nblocks + 1, sizeof *s->src);
    if (!s->src) {
        fl_free(s);
        return FLINT_ENOMEM;
    }
    s->nsrc = q->nblocks + 1;
    int rc = 0;
    for (size_t i = 0; i < s->nsrc; i++) {
        qsrc *c = &s->src[i];
        block_postings_init(&c->ids);
        block_series_init(&c->bs);
        lb_init(&c->hl);
    }
    for (size_t i = 0; i < q->nblocks && rc == 0; i++) {
        qsrc *c = &s->src[i];
        c->b = q->blocks[i]->b;
        rc = block_select(c->b, ms, n, &c->ids);
        if (rc == 0) rc = src_load(s, c);
    }
    if (rc == 0) {
        qsrc *c = &s->src[q->nblocks];
        rc = head_select(q->db->h, ms, n, q->mint, q->maxt, &c->refs);
        if (rc == 0) rc = head_sort_refs(q->db->h, c->refs.v, c->refs.n);
        if (rc == 0) rc = src_load(s, c);
    }
    if (rc) {
        tsdb_series_set_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int view_cmp(const void *a, const void *b) {
    const chunk_view *x = a, *y = b;
    return x->mint < y->mint ? -1 : x->mint > y->mint;
}

static int add_view(tsdb_series_set *s, chunk_view v) {
    if (fl_grow((void **)&s->views, &s->capviews, s->nviews + 1, sizeof *s->views)) return FLINT_ENOMEM;
    s->views[s->nviews++] = v;
    return 0;
}

bool tsdb_series_next(tsdb_series_set *s) {
    while (!s->err) {
        int best = -1;
        for (size_t i = 0; i < s->nsrc; i++) {
            if (!s->src[i].valid) continue;
            if (best < 0 || labels_cmp(&s->src[i].cur, &s->src[best].cur) < 0) best = (int)i;
        }
        if (best < 0) return false;
        /* copy the labels: the sources move on below */
        lb_reset(&s->lb);
        const labels *bl = &s->src[best].cur;
        for (size_t i = 0; i < bl->n; i++)
            if (lb_add(&s->lb, bl->v[i].name, bl->v[i].value)) {
                s->err = FLINT_ENOMEM;
                return false;
            }
        s->cur = lb_labels(&s->lb);
        s->nviews = 0;
        head_chunk_set_reset(&s->hcs);
        int rc = 0;
        for (size_t i = 0; i < s->nsrc && rc == 0; i++) {
            qsrc *c = &s->src[i];
            if (!c->valid || ((int)i != best && labels_cmp(&c->cur, &s->cur) != 0)) continue;
            if (c->b) {
                for (size_t k = 0; k < c->bs.nchunks && rc == 0; k++) {
                    uint8_t enc;
                    const uint8_t *data;
                    size_t len;
                    rc = block_chunk_get(c->b, c->bs.chunks[k].ref, &enc, &data, &len);
                    if (rc == 0)
                        rc = add_view(s, (chunk_view){c->bs.chunks[k].mint, c->bs.chunks[k].maxt, data,
                                                      (uint32_t)len, enc});
                }
            } else {
                rc = head_series_chunks(s->q->db->h, c->refs.v[c->pos], s->q->mint, s->q->maxt, &s->hcs);
                if (rc == FLINT_ENOTFOUND) rc = 0;
                for (size_t k = 0; k < s->hcs.n && rc == 0; k++)
                    rc = add_view(s, (chunk_view){s->hcs.v[k].mint, s->hcs.v[k].maxt, s->hcs.v[k].data,
                                                  (uint32_t)s->hcs.v[k].len, (uint8_t)s->hcs.v[k].enc});
            }
            c->pos++;
            if (rc == 0) rc = src_load(s, c);
        }
        if (rc) {
            s->err = rc;
            return false;
        }
        if (!s->nviews) continue;
        qsort(s->views, s->nviews, sizeof *s->views, view_cmp);
        if (s->q->tombs) { /* delete_series: chunks rewritten without deleted samples */
            rc = tomb_series(s->q->tombs, &s->cur, &s->del);
            if (rc == 0 && s->del.n)
                rc = tomb_filter_views(&s->del, s->q->mint, s->q->maxt, s->views, &s->nviews, &s->hcs);
            if (rc) s->err = rc;
            if (rc || !s->nviews) continue;
        }
        series_iter_init(&s->si.it, s->views, s->nviews, s->q->mint, s->q->maxt);
        return true;
    }
    return false;
}

const labels *tsdb_series_labels(const tsdb_series_set *s) { return &s->cur; }
int tsdb_series_err(const tsdb_series_set *s) { return s->err; }
tsdb_sample_iter *tsdb_series_samples(tsdb_series_set *s) { return &s->si; }

bool tsdb_sample_next(tsdb_sample_iter *it, int64_t *t, double *v) {
    if (!series_iter_next(&it->it)) return false;
    series_iter_at(&it->it, t, v);
    return true;
}

bool tsdb_sample_seek(tsdb_sample_iter *it, int64_t mint, int64_t *t, double *v) {
    if (!series_iter_seek(&it->it, mint)) return false;
    series_iter_at(&it->it, t, v);
    return true;
}

int tsdb_sample_err(const tsdb_sample_iter *it) { return series_iter_err(&it->it); }

void tsdb_series_set_free(tsdb_series_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nsrc; i++) {
        block_postings_free(&s->src[i].ids);
        block_series_free(&s->src[i].bs);
        postings_vec_free(&s->src[i].refs);
        lb_free(&s->src[i].hl);
    }
    fl_free(s->src);
    lb_free(&s->lb);
    fl_free(s->views);
    head_chunk_set_free(&s->hcs);
    series_iter_free(&s->si.it);
    tomb_ivs_free(&s->del);
    fl_free(s);
}

/* ---- snapshots for parallel readers ----------------------------------------------- */

struct tsdb_chunks {
    int64_t mint, maxt;
    size_t n, max_samples;
    bool finite;       /* every chunk's values known finite (no stale markers) */
    chunk_view *views; /* follow the struct; head chunk bytes after them */
};

int tsdb_series_snapshot(tsdb_series_set *s, tsdb_chunks **out) {
    size_t bytes = 0, total = 0;
    for (size_t i = 0; i < s->hcs.n; i++) bytes += s->hcs.v[i].len;
    for (size_t i = 0; i < s->nviews; i++) {
        int n = chunk_num_samples(s->views[i].enc, s->views[i].data, s->views[i].len);
        if (n < 0) return n;
        total += (size_t)n;
    }
    tsdb_chunks *c = fl_malloc(sizeof *c + s->nviews * sizeof *c->views + bytes);
    if (!c) return FLINT_ENOMEM;
    c->mint = s->q->mint;
    c->maxt = s->q->maxt;
    c->n = s->nviews;
    c->max_samples = total;
    c->finite = true;
    for (size_t i = 0; i < s->nviews && c->finite; i++)
        c->finite = chunk_values_finite(s->views[i].enc, s->views[i].data, s->views[i].len);
    c->views = (chunk_view *)(c + 1);
    memcpy(c->views, s->views, s->nviews * sizeof *c->views);
    /* head chunk bytes live in s->hcs until next(): copy them */
    uint8_t *p = (uint8_t *)(c->views + c->n);
    for (size_t i = 0; i < c->n; i++) {
        const uint8_t *d = c->views[i].data;
        if (s->hcs.bytes.len && d >= s->hcs.bytes.data && d < s->hcs.bytes.data + s->hcs.bytes.len) {
            memcpy(p, d, c->views[i].len);
            c->views[i].data = p;
            p += c->views[i].len;
        }
    }
    *out = c;
    return 0;
}

size_t tsdb_chunks_max_samples(const tsdb_chunks *c) { return c->max_samples; }

bool tsdb_chunks_finite(const tsdb_chunks *c) { return c->finite; }

size_t tsdb_series_count_bound(const tsdb_series_set *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->nsrc; i++) n += s->src[i].b ? s->src[i].ids.n : s->src[i].refs.n;
    return n;
}

/* The PromQL engine reads range-function input here, not through
 * tsdb_sample_next: any per-sample filtering added to the iterator path
 * (deletions) must be applied here too. */
int64_t tsdb_chunks_read(const tsdb_chunks *c, int64_t *ts, double *vs, size_t cap) {
    return series_read_all(c->views, c->n, c->mint, c->maxt, ts, vs, cap);
}

void tsdb_chunks_free(tsdb_chunks *c) { fl_free(c); }

/* ---- label names and values ------------------------------------------------------ */

void tsdb_strings_free(tsdb_strings *s) {
    for (size_t i = 0; i < s->n; i++) fl_free(s->v[i]);
    fl_free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Sort, de-duplicate and copy the borrowed strings into out. */
static int finish_strings(const char **v, size_t n, tsdb_strings *out) {
    if (n) qsort(v, n, sizeof *v, str_cmp);
    out->v = fl_malloc((n ? n : 1) * sizeof *out->v);
    out->n = 0;
    if (!out->v) return FLINT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(v[i], v[i - 1]) == 0) continue;
        if (!(out->v[out->n] = fl_strdup(v[i]))) {
            tsdb_strings_free(out);
            return FLINT_ENOMEM;
        }
        out->n++;
    }
    return 0;
}

static int append_strs(const char ***acc, size_t *n, size_t *cap, const char **v, size_t m) {
    if (m == 0) return 0;
    if (fl_grow((void **)acc, cap, *n + m, sizeof **acc)) return FLINT_ENOMEM;
    memcpy(*acc + *n, v, m * sizeof *v);
    *n += m;
    return 0;
}

static int collect(tsdb_querier *q, const char *name, const matcher *ms, size_t n, tsdb_strings *out) {
    const char **acc = NULL;
    size_t nacc = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < q->nblocks && rc == 0; i++) {
        const char **v = NULL;
        size_t m = 0;
        rc = name ? block_label_values(q->blocks[i]->b, name, ms, n, &v, &m)
                  : block_label_names(q->blocks[i]->b, ms, n, &v, &m);
        if (rc == 0) rc = append_strs(&acc, &nacc, &cap, v, m);
        fl_free(v);
    }
    if (rc == 0) {
        const char **v = NULL;
        size_t m = 0;
        rc = name ? head_label_values(q->db->h, name, ms, n, &v, &m) : head_label_names(q->db->h, ms, n, &v, &m);
        if (rc == 0) rc = append_strs(&acc, &nacc, &cap, v, m);
        fl_free(v);
    }
    /* strings are borrowed from blocks (pinned) and the head (interned):
     * copy them before returning */
    if (rc == 0) rc = finish_strings(acc, nacc, out);
    fl_free(acc);
    return rc;
}

int tsdb_label_names(tsdb_querier *q, const matcher *ms, size_t n, tsdb_strings *out) {
    return collect(q, NULL, ms, n, out);
}

int tsdb_label_values(tsdb_querier *q, const char *name, const matcher *ms, size_t n, tsdb_strings *out) {
    return collect(q, name, ms, n, out);
}
