/*
 * compact.c - which blocks to merge, and the merge itself.
 *
 * Planning follows Prometheus' leveled scheme: ranges block_range * 3^k
 * (2 h, 6 h, 18 h, 54 h, ...) up to max_block_ms. Overlapping blocks are
 * merged first (vertical compaction). Otherwise, for each range from the
 * smallest upward, blocks are grouped by the aligned window that contains
 * them entirely; a window with two or more blocks is merged once it is
 * complete: the newest block ends at or after the window's end, so no more
 * data for it will arrive from the head.
 *
 * Merging walks the sources' series in label order (a k-way merge; block
 * series ids are already in label order), copies chunks as they are, and
 * re-encodes only where chunks of one series overlap across sources.
 */
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "tsdb/db_int.h"
#include "tsdb/seriesiter.h"

#include <stdlib.h>
#include <string.h>

static int64_t window_start(int64_t t, int64_t r) {
    int64_t w = t / r;
    if (t < 0 && t % r) w--;
    return w * r;
}

size_t compact_plan(const tsdb *db, db_block *const *v, size_t n, int64_t frontier, size_t *pick, size_t cap) {
    if (n < 2) return 0;
    /* 1. overlaps (v is sorted by min_time) */
    for (size_t i = 0; i + 1 < n; i++) {
        const block_meta *a = block_get_meta(v[i]->b);
        int64_t end = a->max_time;
        size_t j = i + 1, k = 0;
        while (j < n && block_get_meta(v[j]->b)->min_time < end) {
            int64_t e = block_get_meta(v[j]->b)->max_time;
            if (e > end) end = e;
            j++;
        }
        if (j - i >= 2) {
            for (size_t x = i; x < j && k < cap; x++) pick[k++] = x;
            return k;
        }
    }
    /* 2. leveled windows */
    for (int64_t r = db->opt.block_range_ms * 3; r <= db->opt.max_block_ms && r > 0; r *= 3) {
        for (size_t i = 0; i < n;) {
            const block_meta *a = block_get_meta(v[i]->b);
            int64_t ws = window_start(a->min_time, r), we = ws + r;
            size_t j = i, k = 0;
            while (j < n) {
                const block_meta *b = block_get_meta(v[j]->b);
                if (b->min_time >= we || b->max_time > we || b->min_time < ws) break;
                j++;
            }
            if (j - i >= 2 && frontier >= we) {
                for (size_t x = i; x < j && k < cap; x++) pick[k++] = x;
                return k;
            }
            i = j > i ? j : i + 1;
        }
    }
    return 0;
}

/* One source being walked in series order. */
typedef struct src_cursor {
    const block *b;
    block_postings ids;
    size_t pos;
    block_series cur;
    int valid;
} src_cursor;

static int cursor_load(src_cursor *c) {
    c->valid = 0;
    if (c->pos >= c->ids.n) return 0;
    int rc = block_series_get(c->b, c->ids.ids[c->pos], INT64_MIN, INT64_MAX, &c->cur);
    if (rc) return rc;
    c->valid = 1;
    return 0;
}

typedef struct merged_chunk {
    int64_t mint, maxt;
    uint8_t enc;
    uint32_t nsamples;
    const uint8_t *data;
    size_t len;
    size_t src;
} merged_chunk;

static int mchunk_cmp(const void *a, const void *b) {
    const merged_chunk *x = a, *y = b;
    if (x->mint != y->mint) return x->mint < y->mint ? -1 : 1;
    return x->src < y->src ? -1 : x->src > y->src;
}

/* Re-encode an overlapping run of chunks [i, j) into `out` chunks. */
/* Appends chunks to *out whose .data is NULL; their bytes start at the
 * offsets appended to *offs (into `bytes`, fixed up by the caller once
 * `bytes` stops growing). */
static int reencode_overlap(const merged_chunk *mc, size_t i, size_t j, fl_buf *bytes, block_chunk **out, size_t *nout,
                            size_t *capout, size_t **offs, size_t *capoffs) {
    chunk_view *views = fl_malloc((j - i) * sizeof *views);
    if (!views) return FLINT_ENOMEM;
    size_t total = 0;
    for (size_t k = i; k < j; k++) {
        views[k - i] = (chunk_view){mc[k].mint, mc[k].maxt, mc[k].data, (uint32_t)mc[k].len, mc[k].enc};
        total += mc[k].nsamples;
    }
    int64_t *ts = fl_malloc((total ? total : 1) * sizeof *ts);
    double *vs = fl_malloc((total ? total : 1) * sizeof *vs);
    series_iter it = {0};
    int rc = FLINT_ENOMEM;
    if (!ts || !vs) goto out;
    series_iter_init(&it, views, j - i, INT64_MIN, INT64_MAX);
    size_t n = 0;
    while (n < total && series_iter_next(&it)) series_iter_at(&it, &ts[n], &vs[n]), n++;
    if ((rc = series_iter_err(&it))) goto out;
    /* cut into chunks of at most 480 samples */
    for (size_t a = 0; a < n; a += 480) {
        size_t m = n - a < 480 ? n - a : 480;
        size_t off = bytes->len;
        int enc;
        if ((rc = chunk_encode(ts + a, vs + a, m, 0, bytes, &enc))) goto out;
        if (fl_grow((void **)out, capout, *nout + 1, sizeof **out) ||
            fl_grow((void **)offs, capoffs, *nout + 1, sizeof **offs)) {
            rc = FLINT_ENOMEM;
            goto out;
        }
        (*offs)[*nout] = off;
        (*out)[(*nout)++] = (block_chunk){.mint = ts[a], .maxt = ts[a + m - 1], .enc = (uint8_t)enc,
                                          .nsamples = (uint32_t)m, .data = NULL, .len = bytes->len - off};
    }
    rc = 0;
out:
    series_iter_free(&it);
    fl_free(views);
    fl_free(ts);
    fl_free(vs);
    return rc;
}

int compact_blocks(tsdb *db, db_block *const *src, size_t n, block **out) {
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    int level = 0;
    size_t nsources = 0;
    for (size_t i = 0; i < n; i++) {
        const block_meta *m = block_get_meta(src[i]->b);
        if (m->min_time < mint) mint = m->min_time;
        if (m->max_time > maxt) maxt = m->max_time;
        if (m->level > level) level = m->level;
        nsources += m->nsources ? m->nsources : 1;
    }
    block_ulid *sources = fl_calloc(nsources, sizeof *sources);
    block_parent *parents = fl_calloc(n, sizeof *parents);
    src_cursor *cur = fl_calloc(n, sizeof *cur);
    char *take = fl_calloc(n, 1);
    merged_chunk *mc = NULL;
    size_t capmc = 0;
    block_chunk *bc = NULL;
    size_t capbc = 0, *offs = NULL, capoffs = 0;
    fl_buf reenc = {0};
    block_writer *w = NULL;
    int rc = FLINT_ENOMEM;
    if (!sources || !parents || !cur || !take) goto out;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        const block_meta *m = block_get_meta(src[i]->b);
        if (m->nsources)
            for (size_t k = 0; k < m->nsources; k++) memcpy(sources[ns++], m->sources[k], sizeof(block_ulid));
        else
            memcpy(sources[ns++], m->ulid, sizeof(block_ulid));
        memcpy(parents[i].ulid, m->ulid, sizeof(block_ulid));
        parents[i].min_time = m->min_time;
        parents[i].max_time = m->max_time;
    }
    block_writer_opts wo = {.level = level + 1, .sources = sources, .nsources = ns, .parents = parents, .nparents = n};
    if ((rc = block_writer_new(db->dir, mint, maxt, &wo, &w))) goto out;
    for (size_t i = 0; i < n; i++) {
        cur[i].b = src[i]->b;
        block_postings_init(&cur[i].ids);
        block_series_init(&cur[i].cur);
        if ((rc = block_select(cur[i].b, NULL, 0, &cur[i].ids))) goto out;
        if ((rc = cursor_load(&cur[i]))) goto out;
    }
    for (;;) {
        /* smallest label set among the cursors */
        int best = -1;
        labels bl = {0};
        for (size_t i = 0; i < n; i++) {
            if (!cur[i].valid) continue;
            labels l = block_series_labels(&cur[i].cur);
            if (best < 0 || labels_cmp(&l, &bl) < 0) {
                best = (int)i;
                bl = l;
            }
        }
        if (best < 0) break;
        size_t nmc = 0;
        for (size_t i = 0; i < n; i++) {
            take[i] = 0;
            if (!cur[i].valid) continue;
            labels l = block_series_labels(&cur[i].cur);
            if ((int)i != best && labels_cmp(&l, &bl) != 0) continue;
            take[i] = 1;
            for (size_t c = 0; c < cur[i].cur.nchunks; c++) {
                const block_chunk_meta *cm = &cur[i].cur.chunks[c];
                if (fl_grow((void **)&mc, &capmc, nmc + 1, sizeof *mc)) {
                    rc = FLINT_ENOMEM;
                    goto out;
                }
                merged_chunk *m = &mc[nmc++];
                m->mint = cm->mint;
                m->maxt = cm->maxt;
                m->src = i;
                if ((rc = block_chunk_get(cur[i].b, cm->ref, &m->enc, &m->data, &m->len))) goto out;
                int ns2 = chunk_num_samples(m->enc, m->data, m->len);
                if (ns2 < 0) {
                    rc = ns2;
                    goto out;
                }
                m->nsamples = (uint32_t)ns2;
            }
        }
        qsort(mc, nmc, sizeof *mc, mchunk_cmp);
        size_t nbc = 0;
        fl_buf_reset(&reenc);
        for (size_t i = 0; i < nmc;) {
            size_t j = i + 1;
            int64_t end = mc[i].maxt;
            while (j < nmc && mc[j].mint <= end) {
                if (mc[j].maxt > end) end = mc[j].maxt;
                j++;
            }
            if (j - i == 1) {
                if (fl_grow((void **)&bc, &capbc, nbc + 1, sizeof *bc)) {
                    rc = FLINT_ENOMEM;
                    goto out;
                }
                bc[nbc++] = (block_chunk){.mint = mc[i].mint, .maxt = mc[i].maxt, .enc = mc[i].enc,
                                          .nsamples = mc[i].nsamples, .data = mc[i].data, .len = mc[i].len};
            } else {
                if ((rc = reencode_overlap(mc, i, j, &reenc, &bc, &nbc, &capbc, &offs, &capoffs))) goto out;
            }
            i = j;
        }
        for (size_t k = 0; k < nbc; k++)
            if (!bc[k].data) bc[k].data = reenc.data + offs[k];
        if (nbc) {
            if ((rc = block_writer_add_series(w, &bl, bc, nbc))) goto out;
        }
        /* bl points into cur[best]: advance only after every comparison */
        for (size_t i = 0; i < n; i++) {
            if (!take[i]) continue;
            cur[i].pos++;
            if ((rc = cursor_load(&cur[i]))) goto out;
        }
    }
    block_ulid ulid;
    if ((rc = block_writer_commit(w, ulid))) goto out;
    char *path = db_path_join(db->dir, ulid);
    if (!path) {
        rc = FLINT_ENOMEM;
        goto out;
    }
    rc = block_open(path, out);
    fl_free(path);
out:
    if (w) {
        if (rc) block_writer_abort(w);
        else block_writer_free(w);
    }
    for (size_t i = 0; cur && i < n; i++) {
        block_postings_free(&cur[i].ids);
        block_series_free(&cur[i].cur);
    }
    fl_free(cur);
    fl_free(take);
    fl_free(mc);
    fl_free(bc);
    fl_free(offs);
    fl_buf_free(&reenc);
    fl_free(sources);
    fl_free(parents);
    return rc;
}
