/*
 * seriesiter.c - one series' samples across chunks (see seriesiter.h).
 */
#include "tsdb/seriesiter.h"
#include "storage/alloc.h"
#include "storage/err.h"

#include <stdlib.h>
#include <string.h>

void series_iter_init(series_iter *s, const chunk_view *chunks, size_t n, int64_t mint, int64_t maxt) {
    int64_t *mt = s->mt;
    double *mv = s->mv;
    size_t mcap = s->mcap;
    s->chunks = chunks;
    s->nchunks = n;
    s->next_chunk = 0;
    s->mint = mint;
    s->maxt = maxt;
    s->in_chunk = 0;
    s->have = 0;
    s->err = 0;
    s->mt = mt;
    s->mv = mv;
    s->mcap = mcap;
    s->mn = s->mpos = 0;
    /* skip chunks entirely before mint */
    while (s->next_chunk < n && chunks[s->next_chunk].maxt < mint) s->next_chunk++;
}

void series_iter_free(series_iter *s) {
    fl_free(s->mt);
    fl_free(s->mv);
    s->mt = NULL;
    s->mv = NULL;
    s->mcap = s->mn = s->mpos = 0;
}

typedef struct tv {
    int64_t t;
    double v;
    size_t src;
} tv;

static int tv_cmp(const void *a, const void *b) {
    const tv *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->src < y->src ? -1 : x->src > y->src;
}

/* Decode chunks [first, last) (which overlap) into the merge buffer. */
static int merge_overlapping(series_iter *s, size_t first, size_t last) {
    size_t total = 0;
    for (size_t i = first; i < last; i++) {
        int n = chunk_num_samples(s->chunks[i].enc, s->chunks[i].data, s->chunks[i].len);
        if (n < 0) return n;
        total += (size_t)n;
    }
    tv *all = fl_malloc((total ? total : 1) * sizeof *all);
    if (!all) return FLINT_ENOMEM;
    size_t k = 0;
    for (size_t i = first; i < last; i++) {
        chunk_iter it;
        chunk_iter_init(&it, s->chunks[i].enc, s->chunks[i].data, s->chunks[i].len);
        while (k < total && chunk_iter_next(&it)) {
            chunk_iter_at(&it, &all[k].t, &all[k].v);
            all[k++].src = i;
        }
        if (chunk_iter_err(&it)) {
            fl_free(all);
            return chunk_iter_err(&it);
        }
    }
    qsort(all, k, sizeof *all, tv_cmp);
    if (k > s->mcap) {
        int64_t *mt = fl_realloc(s->mt, k * sizeof *mt);
        if (!mt) {
            fl_free(all);
            return FLINT_ENOMEM;
        }
        s->mt = mt;
        double *mv = fl_realloc(s->mv, k * sizeof *mv);
        if (!mv) {
            fl_free(all);
            return FLINT_ENOMEM;
        }
        s->mv = mv;
        s->mcap = k;
    }
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        if (m && s->mt[m - 1] == all[j].t) continue;
        s->mt[m] = all[j].t;
        s->mv[m++] = all[j].v;
    }
    fl_free(all);
    s->mn = m;
    s->mpos = 0;
    return 0;
}

/* Move to the next chunk (or overlapping group); false when none left. */
static bool open_next(series_iter *s) {
    s->in_chunk = 0;
    s->mn = s->mpos = 0;
    if (s->next_chunk >= s->nchunks) return false;
    const chunk_view *c = &s->chunks[s->next_chunk];
    if (c->mint > s->maxt) {
        s->next_chunk = s->nchunks;
        return false;
    }
    size_t last = s->next_chunk + 1;
    int64_t end = c->maxt;
    while (last < s->nchunks && s->chunks[last].mint <= end) {
        if (s->chunks[last].maxt > end) end = s->chunks[last].maxt;
        last++;
    }
    if (last - s->next_chunk > 1) {
        int rc = merge_overlapping(s, s->next_chunk, last);
        s->next_chunk = last;
        if (rc) {
            s->err = rc;
            return false;
        }
        s->in_chunk = 2;
        return true;
    }
    chunk_iter_init(&s->it, c->enc, c->data, c->len);
    s->next_chunk++;
    s->in_chunk = 1;
    return true;
}

static bool iter_next(series_iter *s) {
    for (;;) {
        if (s->err) return false;
        if (s->in_chunk == 1) {
            while (chunk_iter_next(&s->it)) {
                chunk_iter_at(&s->it, &s->t, &s->v);
                if (s->t < s->mint) continue;
                if (s->t > s->maxt) {
                    s->next_chunk = s->nchunks;
                    s->in_chunk = 0;
                    return false;
                }
                return true;
            }
            if (chunk_iter_err(&s->it)) {
                s->err = chunk_iter_err(&s->it);
                return false;
            }
        } else if (s->in_chunk == 2) {
            while (s->mpos < s->mn) {
                s->t = s->mt[s->mpos];
                s->v = s->mv[s->mpos++];
                if (s->t < s->mint) continue;
                if (s->t > s->maxt) {
                    s->next_chunk = s->nchunks;
                    s->in_chunk = 0;
                    return false;
                }
                return true;
            }
        }
        if (!open_next(s)) return false;
        if (s->in_chunk == 1 && s->chunks[s->next_chunk - 1].mint < s->mint) {
            if (!chunk_iter_seek(&s->it, s->mint)) {
                if (chunk_iter_err(&s->it)) {
                    s->err = chunk_iter_err(&s->it);
                    return false;
                }
                continue;
            }
            chunk_iter_at(&s->it, &s->t, &s->v);
            if (s->t > s->maxt) {
                s->next_chunk = s->nchunks;
                s->in_chunk = 0;
                return false;
            }
            return true;
        }
    }
}


bool series_iter_seek(series_iter *s, int64_t t0) {
    if (s->have && s->t >= t0) return true;
    if (t0 > s->mint) s->mint = t0;
    if (s->in_chunk == 1) {
        if (s->chunks[s->next_chunk - 1].maxt < t0) {
            s->in_chunk = 0;
        } else if (chunk_iter_seek(&s->it, t0)) {
            chunk_iter_at(&s->it, &s->t, &s->v);
            if (s->t > s->maxt) {
                s->next_chunk = s->nchunks;
                s->in_chunk = 0;
                return (s->have = false);
            }
            return (s->have = true);
        } else if (chunk_iter_err(&s->it)) {
            s->err = chunk_iter_err(&s->it);
            return (s->have = false);
        } else {
            s->in_chunk = 0;
        }
    }
    if (!s->in_chunk)
        while (s->next_chunk < s->nchunks && s->chunks[s->next_chunk].maxt < t0) s->next_chunk++;
    return (s->have = iter_next(s));
}

bool series_iter_next(series_iter *s) { return (s->have = iter_next(s)); }

int64_t series_read_all(const chunk_view *chunks, size_t n, int64_t mint, int64_t maxt, int64_t *ts,
                        double *vs, size_t cap) {
    bool overlap = false;
    for (size_t i = 1; i < n && !overlap; i++) overlap = chunks[i].mint <= chunks[i - 1].maxt;
    size_t k = 0;
    if (overlap) {
        series_iter it = {0};
        series_iter_init(&it, chunks, n, mint, maxt);
        while (series_iter_next(&it)) {
            if (k == cap) {
                series_iter_free(&it);
                return flint_error(FLINT_ERANGE, "series: more samples than room for %zu", cap);
            }
            series_iter_at(&it, &ts[k], &vs[k]);
            k++;
        }
        int rc = series_iter_err(&it);
        series_iter_free(&it);
        return rc ? rc : (int64_t)k;
    }
    for (size_t i = 0; i < n; i++) {
        const chunk_view *c = &chunks[i];
        if (c->maxt < mint) continue;
        if (c->mint > maxt) break;
        int got = chunk_decode_all(c->enc, c->data, c->len, ts + k, vs + k, cap - k);
        if (got < 0) return got;
        if (c->mint < mint || c->maxt > maxt) { /* clip in place */
            size_t w = k;
            for (size_t j = k; j < k + (size_t)got; j++)
                if (ts[j] >= mint && ts[j] <= maxt) {
                    ts[w] = ts[j];
                    vs[w++] = vs[j];
                }
            k = w;
        } else {
            k += (size_t)got;
        }
    }
    return (int64_t)k;
}
