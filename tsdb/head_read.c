/*
 * head_read.c - reading the head: selection by matchers and time, series
 * labels and chunk copies, labels order for block writing, label names and
 * values; truncation and stats. Follows the locking rules in head.c: a
 * series is only touched under its ref stripe lock, looked up by ref.
 */
#include "tsdb/head_int.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"

#include <stdlib.h>
#include <string.h>

/* Does the series `ref` have samples in [mint, maxt]? */
static bool ref_overlaps(head *h, uint64_t ref, int64_t mint, int64_t maxt) {
    ref_stripe *st = head_ref_stripe(h, ref);
    pthread_mutex_lock(&st->mu);
    head_series *s = head_stripe_find(st, ref);
    bool ok = s && head_series_mint(s) <= maxt && head_series_maxt(s) >= mint;
    pthread_mutex_unlock(&st->mu);
    return ok;
}

/* Keep the refs in v[from..) that overlap [mint, maxt]. */
static void filter_time(head *h, postings_vec *v, size_t from, int64_t mint, int64_t maxt) {
    size_t w = from;
    for (size_t i = from; i < v->n; i++)
        if (ref_overlaps(h, v->v[i], mint, maxt)) v->v[w++] = v->v[i];
    v->n = w;
}

int head_select(head *h, const matcher *ms, size_t n, int64_t mint, int64_t maxt, postings_vec *out) {
    size_t from = out->n;
    int rc = mem_postings_select(h->postings, ms, n, out);
    if (rc) {
        out->n = from;
        return rc;
    }
    filter_time(h, out, from, mint, maxt);
    return 0;
}

static int all_refs(head *h, postings_vec *out) {
    postings *p = NULL;
    mem_postings_rdlock(h->postings);
    const postings_index *ix = mem_postings_index(h->postings);
    int rc = ix->ops->all(ix, &p);
    if (!rc) rc = postings_expand(p, out);
    postings_free(p);
    mem_postings_unlock(h->postings);
    return rc;
}

/* ---- labels order -------------------------------------------------------------------- */

typedef struct sort_entry {
    uint64_t ref;
    labels l; /* into the arena; n == SIZE_MAX: unknown ref */
} sort_entry;

static int cmp_entry(const void *a, const void *b) {
    const sort_entry *x = a, *y = b;
    bool xu = x->l.n == SIZE_MAX, yu = y->l.n == SIZE_MAX;
    if (xu || yu) return xu == yu ? (x->ref < y->ref ? -1 : x->ref > y->ref) : xu ? 1 : -1;
    return labels_cmp(&x->l, &y->l);
}

int head_sort_refs(head *h, uint64_t *refs, size_t n) {
    if (n < 2) return 0;
    sort_entry *e = fl_malloc(n * sizeof *e);
    label *arena = NULL;
    size_t used = 0, cap = 0;
    if (!e) return FLINT_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        e[i].ref = refs[i];
        e[i].l.v = NULL;
        e[i].l.n = SIZE_MAX;
        ref_stripe *st = head_ref_stripe(h, refs[i]);
        pthread_mutex_lock(&st->mu);
        head_series *s = head_stripe_find(st, refs[i]);
        if (s) {
            if (used + s->nlabels > cap &&
                fl_grow((void **)&arena, &cap, used + s->nlabels, sizeof *arena)) {
                rc = FLINT_ENOMEM;
            } else {
                memcpy(arena + used, s->labels, s->nlabels * sizeof *arena);
                e[i].l.v = (const label *)(uintptr_t)used; /* offset until the arena settles */
                e[i].l.n = s->nlabels;
                used += s->nlabels;
            }
        }
        pthread_mutex_unlock(&st->mu);
    }
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            if (e[i].l.n != SIZE_MAX) e[i].l.v = arena + (uintptr_t)e[i].l.v;
        qsort(e, n, sizeof *e, cmp_entry);
        for (size_t i = 0; i < n; i++) refs[i] = e[i].ref;
    }
    fl_free(arena);
    fl_free(e);
    return rc;
}

int head_series_sorted(head *h, int64_t mint, int64_t maxt, postings_vec *out) {
    size_t from = out->n;
    int rc = all_refs(h, out);
    if (!rc) {
        filter_time(h, out, from, mint, maxt);
        rc = head_sort_refs(h, out->v + from, out->n - from);
    }
    if (rc) out->n = from;
    return rc;
}

/* ---- one series ------------------------------------------------------------------------ */

int head_series_labels(head *h, uint64_t ref, labels_builder *b) {
    lb_reset(b);
    ref_stripe *st = head_ref_stripe(h, ref);
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    head_series *s = head_stripe_find(st, ref);
    if (!s) rc = FLINT_ENOTFOUND;
    for (size_t i = 0; s && i < s->nlabels && !rc; i++) rc = lb_add(b, s->labels[i].name, s->labels[i].value);
    pthread_mutex_unlock(&st->mu);
    if (rc == FLINT_ENOTFOUND) return flint_error(rc, "head: no series with ref %llu", (unsigned long long)ref);
    if (rc) lb_reset(b);
    return rc;
}

void head_chunk_set_init(head_chunk_set *cs) { memset(cs, 0, sizeof *cs); }

void head_chunk_set_reset(head_chunk_set *cs) {
    cs->n = 0;
    fl_buf_reset(&cs->bytes);
}

void head_chunk_set_free(head_chunk_set *cs) {
    fl_free(cs->v);
    fl_buf_free(&cs->bytes);
    head_chunk_set_init(cs);
}

static int cs_push(head_chunk_set *cs, int64_t mint, int64_t maxt, int enc, size_t off) {
    if (cs->n == cs->cap && fl_grow((void **)&cs->v, &cs->cap, cs->n + 1, sizeof *cs->v)) return FLINT_ENOMEM;
    head_chunk *c = &cs->v[cs->n++];
    c->mint = mint;
    c->maxt = maxt;
    c->enc = enc;
    c->data = (const uint8_t *)(uintptr_t)off; /* offset until the buffer settles */
    c->len = cs->bytes.len - off;
    return 0;
}

int head_series_chunks(head *h, uint64_t ref, int64_t mint, int64_t maxt, head_chunk_set *cs) {
    head_chunk_set_reset(cs);
    ref_stripe *st = head_ref_stripe(h, ref);
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    head_series *s = head_stripe_find(st, ref);
    if (!s) {
        pthread_mutex_unlock(&st->mu);
        return flint_error(FLINT_ENOTFOUND, "head: no series with ref %llu", (unsigned long long)ref);
    }
    for (uint32_t i = 0; i < s->nchunks && !rc; i++) {
        const hchunk_meta *m = &s->chunks[i];
        int64_t cmaxt = hcm_maxt(m);
        if (cmaxt < mint || m->mint > maxt) continue;
        size_t off = cs->bytes.len;
        int enc;
        if (!(rc = headchunks_read(h->hc, hcm_ref(m), &cs->bytes, &enc))) rc = cs_push(cs, m->mint, cmaxt, enc, off);
    }
    if (!rc && s->app.count && s->open_mint <= maxt && s->app.t >= mint) {
        size_t len, off = cs->bytes.len;
        const uint8_t *b = xor_app_bytes(&s->app, &len);
        if (!(rc = fl_buf_put(&cs->bytes, b, len))) rc = cs_push(cs, s->open_mint, s->app.t, CHUNK_ENC_XOR, off);
    }
    pthread_mutex_unlock(&st->mu);
    if (rc) {
        head_chunk_set_reset(cs);
        return rc;
    }
    for (size_t i = 0; i < cs->n; i++) cs->v[i].data = cs->bytes.data + (uintptr_t)cs->v[i].data;
    return 0;
}

/* ---- label names and values ---------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort and drop duplicates (interned: equal strings are equal pointers). */
static size_t sort_unique(const char **v, size_t n) {
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_str);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i], v[w - 1]) != 0) v[w++] = v[i];
    return w;
}

/* Collect names (name == NULL) or values of `name` of the series matching ms. */
static int collect_from_series(head *h, const char *name, const matcher *ms, size_t n, const char ***out,
                               size_t *nout) {
    postings_vec refs = {0};
    int rc = mem_postings_select(h->postings, ms, n, &refs);
    const char **v = NULL;
    size_t nv = 0, cap = 0;
    for (size_t i = 0; i < refs.n && !rc; i++) {
        ref_stripe *st = head_ref_stripe(h, refs.v[i]);
        pthread_mutex_lock(&st->mu);
        head_series *s = head_stripe_find(st, refs.v[i]);
        for (uint32_t k = 0; s && k < s->nlabels && !rc; k++) {
            const char *x = NULL;
            if (!name) x = s->labels[k].name;
            else if (strcmp(s->labels[k].name, name) == 0) x = s->labels[k].value;
            if (!x) continue;
            if (nv == cap && fl_grow((void **)&v, &cap, nv + 1, sizeof *v)) rc = FLINT_ENOMEM;
            else v[nv++] = x;
        }
        pthread_mutex_unlock(&st->mu);
        /* compact now and then so that many series do not hold many copies */
        if (nv > 4096 && nv == cap) nv = sort_unique(v, nv);
    }
    postings_vec_free(&refs);
    if (rc) {
        fl_free(v);
        return rc;
    }
    if (!v && !(v = fl_malloc(sizeof *v))) return FLINT_ENOMEM;
    *out = v;
    *nout = sort_unique(v, nv);
    return 0;
}

int head_label_names(head *h, const matcher *ms, size_t n, const char ***out, size_t *nout) {
    if (n == 0) return mem_postings_label_names(h->postings, out, nout);
    return collect_from_series(h, NULL, ms, n, out, nout);
}

int head_label_values(head *h, const char *name, const matcher *ms, size_t n, const char ***out, size_t *nout) {
    if (n == 0) return mem_postings_label_values(h->postings, name, out, nout);
    return collect_from_series(h, name, ms, n, out, nout);
}

/* ---- truncation ------------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool series_gone(const head_series *s) { return s->nchunks == 0 && s->app.count == 0 && s->pending == 0; }

/* Drop s's chunks ending before mint (stripe lock held); true if nothing is
 * left. */
static bool series_truncate(head *h, head_series *s, int64_t mint) {
    uint32_t drop = 0;
    while (drop < s->nchunks && hcm_maxt(&s->chunks[drop]) < mint) drop++;
    if (drop) {
        uint32_t left = s->nchunks - drop;
        memmove(s->chunks, s->chunks + drop, left * sizeof *s->chunks);
        if (left == 0) {
            fl_free(s->chunks);
            s->chunks = NULL;
        } else {
            hchunk_meta *m = fl_realloc(s->chunks, left * sizeof *m);
            if (m) s->chunks = m; /* shrinking is optional */
        }
        s->nchunks = (uint16_t)left;
        atomic_fetch_sub_explicit(&h->chunks, drop, memory_order_relaxed);
    }
    if (s->app.count && s->app.t < mint) xor_app_free(&s->app);
    return series_gone(s);
}

int head_truncate(head *h, int64_t mint) {
    pthread_mutex_lock(&h->truncate_mu);
    head_bound_max(&h->min_valid, mint);
    uint32_t file_limit = headchunks_cut(h->hc);
    head_series **cand = NULL;
    size_t ncand = 0, cap = 0;
    int rc = 0;
    /* 1: drop old chunks everywhere, note the series left empty */
    for (uint32_t i = 0; i < HEAD_STRIPES; i++) {
        ref_stripe *st = &h->refs[i];
        pthread_mutex_lock(&st->mu);
        for (uint32_t k = 0; k < st->nslots; k++) {
            head_series *s = st->slots[k];
            if (!s || !series_truncate(h, s, mint)) continue;
            if (ncand == cap && fl_grow((void **)&cand, &cap, ncand + 1, sizeof *cand)) {
                rc = FLINT_ENOMEM; /* the rest stay until the next truncation */
                continue;
            }
            cand[ncand++] = s;
        }
        pthread_mutex_unlock(&st->mu);
    }
    /* 2: remove them from both maps, rechecking under both locks (an
     * appender may have picked one up meanwhile). Only truncation frees
     * series, so the candidates are still allocated. */
    uint64_t *gone = fl_malloc((ncand ? ncand : 1) * sizeof *gone);
    size_t ngone = 0;
    for (size_t i = 0; i < ncand && gone; i++) {
        head_series *s = cand[i];
        uint64_t hash = head_labels_hash(s);
        hash_stripe *hs = &h->hashes[hash & (HEAD_STRIPES - 1)];
        ref_stripe *st = head_ref_stripe(h, s->ref);
        pthread_mutex_lock(&hs->mu);
        pthread_mutex_lock(&st->mu);
        bool remove = series_gone(s);
        if (remove) {
            head_ref_remove(st, s);
            head_hash_remove(hs, s);
            gone[ngone] = s->ref;
            cand[ngone++] = s;
        }
        pthread_mutex_unlock(&st->mu);
        pthread_mutex_unlock(&hs->mu);
    }
    if (!gone && ncand) rc = FLINT_ENOMEM;
    /* 3: postings, then free (no lookup can reach them any more) */
    if (gone) {
        qsort(gone, ngone, sizeof *gone, cmp_u64);
        mem_postings_delete(h->postings, gone, ngone);
        for (size_t i = 0; i < ngone; i++) head_series_destroy(cand[i]);
        atomic_fetch_sub(&h->num_series, ngone);
        atomic_fetch_add(&h->series_removed, ngone);
    }
    fl_free(gone);
    fl_free(cand);
    /* 4: files whose chunks are all gone */
    int frc = headchunks_truncate(h->hc, mint, file_limit);
    if (frc < 0 && !rc) rc = frc;
    /* the head now starts at mint at the earliest */
    int64_t cur = atomic_load(&h->mint);
    while (cur < mint && !atomic_compare_exchange_weak(&h->mint, &cur, mint)) {
    }
    pthread_mutex_unlock(&h->truncate_mu);
    if (rc) flint_log(FLINT_LOG_WARN, "head", "truncation incomplete", "err=\"%s\"", flint_strerror(rc));
    return rc;
}

/* ---- stats ------------------------------------------------------------------------------------- */

void head_get_stats(head *h, head_stats *st) {
    memset(st, 0, sizeof *st);
    st->num_series = atomic_load(&h->num_series);
    st->series_created = atomic_load(&h->series_created);
    st->series_removed = atomic_load(&h->series_removed);
    st->samples_appended = atomic_load(&h->samples_appended);
    st->samples_dropped = atomic_load(&h->samples_dropped);
    st->chunks = atomic_load(&h->chunks);
    st->chunks_created = atomic_load(&h->chunks_created);
    st->chunk_write_errors = atomic_load(&h->chunk_write_errors);
    headchunks_stats hs;
    headchunks_get_stats(h->hc, &hs);
    st->chunk_files = hs.files;
    st->chunk_file_bytes = hs.bytes;
    st->mint = atomic_load(&h->mint);
    st->maxt = atomic_load(&h->maxt);
    st->min_valid_time = atomic_load(&h->min_valid);
}

int64_t head_mint(head *h) { return atomic_load(&h->mint); }
int64_t head_maxt(head *h) { return atomic_load(&h->maxt); }
