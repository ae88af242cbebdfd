/*
 * postings.c - postings iterators (list, intersect, union, without), the
 * selection of series by matchers over any postings_index (Prometheus'
 * PostingsForMatchers), and the head's in-memory index (see postings.h).
 *
 * The in-memory index is two levels of open-addressing tables keyed by
 * string (xxh3 hash + strcmp): label name -> (label value -> sorted ref
 * list). Strings are the caller's (the head's interned ones), so an entry
 * costs two pointers, a hash and the list. One rwlock guards it; lists
 * are realloc'd on add, so readers use them only under the read lock.
 */
#include "tsdb/postings.h"
#include "storage/alloc.h"
#include "storage/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

void postings_free(postings *p) {
    if (p) p->ops->destroy(p);
}

static void plain_destroy(postings *p) { fl_free(p); }

/* ---- empty ------------------------------------------------------------------ */

static bool empty_next(postings *p) {
    (void)p;
    return false;
}
static bool empty_seek(postings *p, uint64_t v) {
    (void)p;
    (void)v;
    return false;
}
static const postings_ops empty_ops = {empty_next, empty_seek, plain_destroy};

int postings_empty_new(postings **out) {
    postings *p = fl_calloc(1, sizeof *p);
    if (!p) return FLINT_ENOMEM;
    p->ops = &empty_ops;
    *out = p;
    return 0;
}

bool postings_is_empty_type(const postings *p) { return p->ops == &empty_ops; }

/* ---- sorted array ------------------------------------------------------------ */

typedef struct list_postings {
    postings base;
    const uint64_t *v;
    size_t n, i; /* i: index after the current element */
    uint64_t *owned;
} list_postings;

static bool list_next(postings *p) {
    list_postings *l = (list_postings *)p;
    if (l->i >= l->n) {
        l->i = l->n + 1; /* exhausted: seek must not revive it */
        return false;
    }
    p->cur = l->v[l->i++];
    return true;
}

static bool list_seek(postings *p, uint64_t x) {
    list_postings *l = (list_postings *)p;
    if (l->i > l->n) return false;
    if (l->i > 0 && l->v[l->i - 1] >= x) return true;
    /* gallop from i, then binary search */
    size_t lo = l->i, step = 1, hi = lo;
    while (hi < l->n && l->v[hi] < x) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > l->n) hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    if (lo >= l->n) {
        l->i = l->n + 1;
        return false;
    }
    p->cur = l->v[lo];
    l->i = lo + 1;
    return true;
}

static void list_destroy(postings *p) {
    fl_free(((list_postings *)p)->owned);
    fl_free(p);
}
static const postings_ops list_ops = {list_next, list_seek, list_destroy};

int postings_list_new(const uint64_t *refs, size_t n, postings **out) {
    list_postings *l = fl_calloc(1, sizeof *l);
    if (!l) return FLINT_ENOMEM;
    l->base.ops = &list_ops;
    l->v = refs;
    l->n = n;
    *out = &l->base;
    return 0;
}

int postings_list_owned_new(uint64_t *refs, size_t n, postings **out) {
    int rc = postings_list_new(refs, n, out);
    if (rc) {
        fl_free(refs);
        return rc;
    }
    ((list_postings *)*out)->owned = refs;
    return 0;
}

/* ---- intersection -------------------------------------------------------------- */

typedef struct multi_postings {
    postings base;
    postings **its;
    size_t n;
    bool started, done;
} multi_postings;

static void multi_destroy(postings *p) {
    multi_postings *m = (multi_postings *)p;
    for (size_t i = 0; i < m->n; i++) postings_free(m->its[i]);
    fl_free(m->its);
    fl_free(m);
}

static bool multi_fail(multi_postings *m, postings *it) {
    m->done = true;
    if (it && it->err && !m->base.err) m->base.err = it->err;
    return false;
}

/* Move every iterator to the first common ref >= target. */
static bool isect_align(multi_postings *m, uint64_t target) {
    for (;;) {
        bool moved = false;
        for (size_t i = 0; i < m->n; i++) {
            if (!postings_seek(m->its[i], target)) return multi_fail(m, m->its[i]);
            if (postings_at(m->its[i]) > target) {
                target = postings_at(m->its[i]);
                moved = true;
            }
        }
        if (!moved) {
            m->base.cur = target;
            return true;
        }
    }
}

static bool isect_next(postings *p) {
    multi_postings *m = (multi_postings *)p;
    if (m->done) return false;
    if (!postings_next(m->its[0])) return multi_fail(m, m->its[0]);
    m->started = true;
    return isect_align(m, postings_at(m->its[0]));
}

static bool isect_seek(postings *p, uint64_t x) {
    multi_postings *m = (multi_postings *)p;
    if (m->done) return false;
    if (m->started && p->cur >= x) return true;
    m->started = true;
    return isect_align(m, x);
}
static const postings_ops isect_ops = {isect_next, isect_seek, multi_destroy};

static void free_its(postings **its, size_t n) {
    for (size_t i = 0; i < n; i++) postings_free(its[i]);
}

static int multi_new(const postings_ops *ops, postings **its, size_t n, postings **out) {
    multi_postings *m = fl_calloc(1, sizeof *m);
    postings **copy = fl_malloc(n * sizeof *copy);
    if (!m || !copy) {
        fl_free(m);
        fl_free(copy);
        free_its(its, n);
        return FLINT_ENOMEM;
    }
    memcpy(copy, its, n * sizeof *copy);
    m->base.ops = ops;
    m->its = copy;
    m->n = n;
    *out = &m->base;
    return 0;
}

int postings_intersect_new(postings **its, size_t n, postings **out) {
    if (n == 0) return postings_empty_new(out);
    if (n == 1) {
        *out = its[0];
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (postings_is_empty_type(its[i])) {
            free_its(its, n);
            return postings_empty_new(out);
        }
    }
    return multi_new(&isect_ops, its, n, out);
}

/* ---- union (k-way merge over a min-heap of live iterators) -------------------- */

static void heap_down(postings **h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, s = i;
        if (l < n && postings_at(h[l]) < postings_at(h[s])) s = l;
        if (l + 1 < n && postings_at(h[l + 1]) < postings_at(h[s])) s = l + 1;
        if (s == i) return;
        postings *t = h[i];
        h[i] = h[s];
        h[s] = t;
        i = s;
    }
}

/* Remove exhausted iterator at i (it is kept in its[] beyond n for freeing). */
static void heap_drop(multi_postings *m, size_t i) {
    postings *t = m->its[i];
    m->its[i] = m->its[m->n - 1];
    m->its[m->n - 1] = t;
    m->n--;
}

static void heapify(multi_postings *m) {
    for (size_t i = m->n / 2; i-- > 0;) heap_down(m->its, m->n, i);
}

typedef struct union_postings {
    multi_postings m;
    size_t total; /* all iterators, for destroy */
} union_postings;

static void union_destroy(postings *p) {
    union_postings *u = (union_postings *)p;
    u->m.n = u->total;
    multi_destroy(p);
}

/* Advance every heap member for which step() says so; drop exhausted. */
static bool union_settle(multi_postings *m) {
    if (m->n == 0) {
        m->done = true;
        return false;
    }
    heapify(m);
    m->base.cur = postings_at(m->its[0]);
    return true;
}

static bool union_next(postings *p) {
    multi_postings *m = (multi_postings *)p;
    if (m->done) return false;
    if (!m->started) {
        m->started = true;
        for (size_t i = 0; i < m->n;) {
            if (postings_next(m->its[i])) {
                i++;
                continue;
            }
            if (m->its[i]->err) return multi_fail(m, m->its[i]);
            heap_drop(m, i);
        }
        return union_settle(m);
    }
    uint64_t cur = p->cur;
    while (m->n > 0 && postings_at(m->its[0]) == cur) {
        if (postings_next(m->its[0])) {
            heap_down(m->its, m->n, 0);
        } else {
            if (m->its[0]->err) return multi_fail(m, m->its[0]);
            heap_drop(m, 0);
            heap_down(m->its, m->n, 0);
        }
    }
    if (m->n == 0) {
        m->done = true;
        return false;
    }
    p->cur = postings_at(m->its[0]);
    return true;
}

static bool union_seek(postings *p, uint64_t x) {
    multi_postings *m = (multi_postings *)p;
    if (m->done) return false;
    if (m->started && p->cur >= x) return true;
    m->started = true;
    for (size_t i = 0; i < m->n;) {
        if (postings_seek(m->its[i], x)) {
            i++;
            continue;
        }
        if (m->its[i]->err) return multi_fail(m, m->its[i]);
        heap_drop(m, i);
    }
    return union_settle(m);
}
static const postings_ops union_ops = {union_next, union_seek, union_destroy};

int postings_union_new(postings **its, size_t n, postings **out) {
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (postings_is_empty_type(its[i])) postings_free(its[i]);
        else its[live++] = its[i];
    }
    if (live == 0) return postings_empty_new(out);
    if (live == 1) {
        *out = its[0];
        return 0;
    }
    union_postings *u = fl_calloc(1, sizeof *u);
    postings **copy = fl_malloc(live * sizeof *copy);
    if (!u || !copy) {
        fl_free(u);
        fl_free(copy);
        free_its(its, live);
        return FLINT_ENOMEM;
    }
    memcpy(copy, its, live * sizeof *copy);
    u->m.base.ops = &union_ops;
    u->m.its = copy;
    u->m.n = live;
    u->total = live;
    *out = &u->m.base;
    return 0;
}

/* ---- difference ------------------------------------------------------------------ */

typedef struct without_postings {
    postings base;
    postings *full, *drop;
    bool drop_done, done;
} without_postings;

static bool without_settle(without_postings *w) {
    for (;;) {
        uint64_t c = postings_at(w->full);
        if (!w->drop_done) {
            if (!postings_seek(w->drop, c)) {
                if (w->drop->err) {
                    w->base.err = w->drop->err;
                    w->done = true;
                    return false;
                }
                w->drop_done = true;
            } else if (postings_at(w->drop) == c) {
                if (!postings_next(w->full)) break;
                continue;
            }
        }
        w->base.cur = c;
        return true;
    }
    w->done = true;
    if (w->full->err) w->base.err = w->full->err;
    return false;
}

static bool without_next(postings *p) {
    without_postings *w = (without_postings *)p;
    if (w->done) return false;
    if (!postings_next(w->full)) {
        w->done = true;
        w->base.err = w->full->err;
        return false;
    }
    return without_settle(w);
}

static bool without_seek(postings *p, uint64_t x) {
    without_postings *w = (without_postings *)p;
    if (w->done) return false;
    if (!postings_seek(w->full, x)) {
        w->done = true;
        w->base.err = w->full->err;
        return false;
    }
    return without_settle(w);
}

static void without_destroy(postings *p) {
    without_postings *w = (without_postings *)p;
    postings_free(w->full);
    postings_free(w->drop);
    fl_free(w);
}
static const postings_ops without_ops = {without_next, without_seek, without_destroy};

int postings_without_new(postings *full, postings *drop, postings **out) {
    if (postings_is_empty_type(full) || postings_is_empty_type(drop)) {
        postings_free(drop);
        *out = full;
        return 0;
    }
    without_postings *w = fl_calloc(1, sizeof *w);
    if (!w) {
        postings_free(full);
        postings_free(drop);
        return FLINT_ENOMEM;
    }
    w->base.ops = &without_ops;
    w->full = full;
    w->drop = drop;
    *out = &w->base;
    return 0;
}

/* ---- vectors ---------------------------------------------------------------------- */

void postings_vec_free(postings_vec *pv) {
    fl_free(pv->v);
    pv->v = NULL;
    pv->n = pv->cap = 0;
}

int postings_vec_push(postings_vec *pv, uint64_t ref) {
    if (pv->n == pv->cap && fl_grow((void **)&pv->v, &pv->cap, pv->n + 1, sizeof *pv->v))
        return FLINT_ENOMEM;
    pv->v[pv->n++] = ref;
    return 0;
}

int postings_expand(postings *p, postings_vec *out) {
    while (postings_next(p))
        if (postings_vec_push(out, postings_at(p))) return FLINT_ENOMEM;
    return postings_err(p);
}

/* ---- selection by matchers ----------------------------------------------------------- */

typedef struct value_collect {
    const postings_index *ix;
    const matcher *m;
    bool want; /* collect values for which matches() == want */
    postings **its;
    size_t n, cap;
    int err;
} value_collect;

static int collect_value(void *arg, const char *value) {
    value_collect *c = arg;
    if (matcher_matches(c->m, value, strlen(value)) != c->want) return 0;
    if (c->n == c->cap && fl_grow((void **)&c->its, &c->cap, c->n + 1, sizeof *c->its))
        return c->err = FLINT_ENOMEM;
    int rc = c->ix->ops->get(c->ix, c->m->name, value, &c->its[c->n]);
    if (rc) return c->err = rc;
    c->n++;
    return 0;
}

/* Union of the postings of every value v of m's label with
 * matcher_matches(m, v) == want. Literal fast paths skip the value scan. */
static int values_postings(const postings_index *ix, const matcher *m, bool want, postings **out) {
    if ((m->type == MATCH_EQ && want) || (m->type == MATCH_NEQ && !want))
        return ix->ops->get(ix, m->name, m->value, out);
    value_collect c = {ix, m, want, NULL, 0, 0, 0};
    if (m->alts && ((m->type == MATCH_RE && want) || (m->type == MATCH_NRE && !want))) {
        c.its = fl_malloc((m->nalts ? m->nalts : 1) * sizeof *c.its);
        if (!c.its) return FLINT_ENOMEM;
        c.cap = m->nalts;
        for (size_t i = 0; i < m->nalts && !c.err; i++) {
            int rc = ix->ops->get(ix, m->name, m->alts[i], &c.its[c.n]);
            if (rc) c.err = rc;
            else c.n++;
        }
    } else {
        int rc = ix->ops->for_each_value(ix, m->name, collect_value, &c);
        if (rc && !c.err) c.err = rc;
    }
    if (c.err) {
        free_its(c.its, c.n);
        fl_free(c.its);
        return c.err;
    }
    int rc = postings_union_new(c.its, c.n, out);
    fl_free(c.its);
    return rc;
}

static bool is_not(const matcher *m) { return m->type == MATCH_NEQ || m->type == MATCH_NRE; }

int postings_for_matchers(const postings_index *ix, const matcher *ms, size_t n, postings **out) {
    postings **its = fl_calloc(n + 1, sizeof *its), **nots = fl_calloc(n + 1, sizeof *nots);
    size_t nits = 0, nnots = 0;
    int rc = 0;
    if (!its || !nots) {
        rc = FLINT_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const matcher *m = &ms[i];
        postings *p = NULL;
        if (m->name[0] == 0 && m->value[0] == 0) {
            if ((rc = ix->ops->all(ix, &p))) goto fail;
            its[nits++] = p;
            continue;
        }
        bool must_be_set = false;
        for (size_t j = 0; j < n; j++)
            if (strcmp(ms[j].name, m->name) == 0 && !matcher_matches_empty(&ms[j])) must_be_set = true;
        bool empty_ok = matcher_matches_empty(m);
        if (must_be_set && !(is_not(m) && empty_ok)) {
            /* l="a", l=~"a.*", l!="" (label must be set): series whose value matches */
            if ((rc = values_postings(ix, m, true, &p))) goto fail;
            if (postings_is_empty_type(p)) {
                postings_free(p);
                free_its(its, nits);
                free_its(nots, nnots);
                fl_free(its);
                fl_free(nots);
                return postings_empty_new(out);
            }
            its[nits++] = p;
        } else {
            /* l!="a" where l is set anyway, or a matcher accepting "" (absent
             * label or a matching value): subtract series with a value that
             * does not match. */
            if ((rc = values_postings(ix, m, false, &p))) goto fail;
            nots[nnots++] = p;
        }
    }
    if (nits == 0 && nnots > 0) {
        postings *all = NULL;
        if ((rc = ix->ops->all(ix, &all))) goto fail;
        its[nits++] = all;
    }
    postings *res = NULL;
    rc = postings_intersect_new(its, nits, &res);
    nits = 0;
    if (rc) goto fail;
    for (size_t i = 0; i < nnots; i++) {
        postings *next = NULL;
        rc = postings_without_new(res, nots[i], &next);
        nots[i] = NULL;
        if (rc) {
            for (size_t j = i + 1; j < nnots; j++) postings_free(nots[j]);
            nnots = 0;
            goto fail;
        }
        res = next;
    }
    fl_free(its);
    fl_free(nots);
    *out = res;
    return 0;
fail:
    if (its) free_its(its, nits);
    if (nots) free_its(nots, nnots);
    fl_free(its);
    fl_free(nots);
    return rc;
}

/* ---- in-memory index ---------------------------------------------------------------------- */

typedef struct pl_entry {
    const char *key;
    uint64_t hash;
} pl_entry;

typedef struct pl_table {
    pl_entry **slots;
    uint32_t nslots, count;
} pl_table;

typedef struct pl_list {
    pl_entry e; /* key: the label value */
    uint64_t *refs;
    uint32_t n, cap;
} pl_list;

typedef struct pl_name {
    pl_entry e; /* key: the label name */
    pl_table values;
} pl_name;

struct mem_postings {
    pthread_rwlock_t lock;
    pl_table names;
    uint64_t *all;
    size_t nall, capall;
    postings_index ix;
    size_t list_bytes; /* capacity of every list, in bytes */
};

static uint64_t str_hash(const char *s) { return XXH3_64bits(s, strlen(s)); }

static pl_entry *tab_find(const pl_table *t, const char *key, uint64_t h) {
    if (!t->nslots) return NULL;
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        pl_entry *e = t->slots[i];
        if (!e) return NULL;
        if (e->hash == h && (e->key == key || strcmp(e->key, key) == 0)) return e;
    }
}

static void tab_place(pl_entry **slots, uint32_t nslots, pl_entry *e) {
    uint32_t mask = nslots - 1, i = (uint32_t)e->hash & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = e;
}

/* Make room for one more entry (load <= 3/4). */
static int tab_reserve(pl_table *t) {
    if ((t->count + 1) * 4 <= t->nslots * 3) return 0;
    uint32_t ns = t->nslots ? t->nslots * 2 : 4;
    pl_entry **slots = fl_calloc(ns, sizeof *slots);
    if (!slots) return FLINT_ENOMEM;
    for (uint32_t i = 0; i < t->nslots; i++)
        if (t->slots[i]) tab_place(slots, ns, t->slots[i]);
    fl_free(t->slots);
    t->slots = slots;
    t->nslots = ns;
    return 0;
}

static void tab_insert(pl_table *t, pl_entry *e) {
    tab_place(t->slots, t->nslots, e);
    t->count++;
}

/* Remove e (present) with backward-shift deletion. */
static void tab_remove(pl_table *t, pl_entry *e) {
    uint32_t mask = t->nslots - 1, i = (uint32_t)e->hash & mask;
    while (t->slots[i] != e) i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        pl_entry *x = t->slots[j];
        if (!x) break;
        uint32_t home = (uint32_t)x->hash & mask;
        /* move x into the hole if its home is not in (i, j] cyclically */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = x;
            i = j;
        }
    }
    t->slots[i] = NULL;
    t->count--;
}

int mem_postings_new(mem_postings **out);

static int mp_for_each_value(const postings_index *ix, const char *name, int (*fn)(void *, const char *),
                             void *arg) {
    const mem_postings *mp = (const mem_postings *)((const char *)ix - offsetof(mem_postings, ix));
    pl_name *nm = (pl_name *)tab_find(&mp->names, name, str_hash(name));
    if (!nm) return 0;
    for (uint32_t i = 0; i < nm->values.nslots; i++) {
        pl_entry *e = nm->values.slots[i];
        if (!e) continue;
        int rc = fn(arg, e->key);
        if (rc) return rc;
    }
    return 0;
}

static int mp_get(const postings_index *ix, const char *name, const char *value, postings **out) {
    const mem_postings *mp = (const mem_postings *)((const char *)ix - offsetof(mem_postings, ix));
    pl_name *nm = (pl_name *)tab_find(&mp->names, name, str_hash(name));
    pl_list *l = nm ? (pl_list *)tab_find(&nm->values, value, str_hash(value)) : NULL;
    if (!l) return postings_empty_new(out);
    return postings_list_new(l->refs, l->n, out);
}

static int mp_all(const postings_index *ix, postings **out) {
    const mem_postings *mp = (const mem_postings *)((const char *)ix - offsetof(mem_postings, ix));
    return postings_list_new(mp->all, mp->nall, out);
}

static const postings_index_ops mem_index_ops = {mp_for_each_value, mp_get, mp_all};

int mem_postings_new(mem_postings **out) {
    mem_postings *mp = fl_calloc(1, sizeof *mp);
    if (!mp) return FLINT_ENOMEM;
    pthread_rwlock_init(&mp->lock, NULL);
    mp->ix.ops = &mem_index_ops;
    *out = mp;
    return 0;
}

static void free_name(pl_name *nm) {
    for (uint32_t i = 0; i < nm->values.nslots; i++) {
        pl_list *l = (pl_list *)nm->values.slots[i];
        if (!l) continue;
        fl_free(l->refs);
        fl_free(l);
    }
    fl_free(nm->values.slots);
    fl_free(nm);
}

void mem_postings_free(mem_postings *mp) {
    if (!mp) return;
    for (uint32_t i = 0; i < mp->names.nslots; i++)
        if (mp->names.slots[i]) free_name((pl_name *)mp->names.slots[i]);
    fl_free(mp->names.slots);
    fl_free(mp->all);
    pthread_rwlock_destroy(&mp->lock);
    fl_free(mp);
}

void mem_postings_rdlock(mem_postings *mp) { pthread_rwlock_rdlock(&mp->lock); }
void mem_postings_unlock(mem_postings *mp) { pthread_rwlock_unlock(&mp->lock); }
const postings_index *mem_postings_index(mem_postings *mp) { return &mp->ix; }

/* Capacity growth for lists: exact for the many one- and two-element lists
 * of high-cardinality labels, then by half. */
static uint32_t list_next_cap(uint32_t cap) { return cap < 4 ? cap + 1 : cap + cap / 2; }

/* Ensure room for one more ref in l. */
static int list_reserve(mem_postings *mp, uint64_t **refs, uint32_t n, uint32_t *cap) {
    if (n < *cap) return 0;
    uint32_t nc = list_next_cap(*cap);
    uint64_t *nr = fl_realloc(*refs, (size_t)nc * sizeof *nr);
    if (!nr) return FLINT_ENOMEM;
    mp->list_bytes += (size_t)(nc - *cap) * sizeof *nr;
    *refs = nr;
    *cap = nc;
    return 0;
}

/* Insert ref keeping order: append, then move back past larger refs. */
static void list_insert(uint64_t *refs, uint32_t *n, uint64_t ref) {
    uint32_t i = (*n)++;
    while (i > 0 && refs[i - 1] > ref) {
        refs[i] = refs[i - 1];
        i--;
    }
    refs[i] = ref;
}

/* Undo the empty entries created by a failed add. */
static void drop_empty(mem_postings *mp, const labels *l) {
    for (size_t i = 0; i < l->n; i++) {
        pl_name *nm = (pl_name *)tab_find(&mp->names, l->v[i].name, str_hash(l->v[i].name));
        if (!nm) continue;
        pl_list *pl = (pl_list *)tab_find(&nm->values, l->v[i].value, str_hash(l->v[i].value));
        if (pl && pl->n == 0) {
            tab_remove(&nm->values, &pl->e);
            mp->list_bytes -= (size_t)pl->cap * sizeof(uint64_t);
            fl_free(pl->refs);
            fl_free(pl);
        }
        if (nm->values.count == 0) {
            tab_remove(&mp->names, &nm->e);
            free_name(nm);
        }
    }
}

int mem_postings_add(mem_postings *mp, uint64_t ref, const labels *l) {
    pthread_rwlock_wrlock(&mp->lock);
    size_t capall = mp->capall;
    /* phase 1: every list exists with room (can fail; undone) */
    int rc = 0;
    if (mp->nall == mp->capall) {
        size_t nc = mp->capall < 1024 ? 1024 : mp->capall + mp->capall / 2;
        uint64_t *na = fl_realloc(mp->all, nc * sizeof *na);
        if (!na) {
            rc = FLINT_ENOMEM;
            goto out;
        }
        mp->all = na;
        mp->capall = nc;
    }
    for (size_t i = 0; i < l->n && !rc; i++) {
        const char *name = l->v[i].name, *value = l->v[i].value;
        uint64_t hn = str_hash(name), hv = str_hash(value);
        pl_name *nm = (pl_name *)tab_find(&mp->names, name, hn);
        if (!nm) {
            if (tab_reserve(&mp->names) || !(nm = fl_calloc(1, sizeof *nm))) {
                rc = FLINT_ENOMEM;
                break;
            }
            nm->e.key = name;
            nm->e.hash = hn;
            tab_insert(&mp->names, &nm->e);
        }
        pl_list *pl = (pl_list *)tab_find(&nm->values, value, hv);
        if (!pl) {
            if (tab_reserve(&nm->values) || !(pl = fl_calloc(1, sizeof *pl))) {
                rc = FLINT_ENOMEM;
                break;
            }
            pl->e.key = value;
            pl->e.hash = hv;
            tab_insert(&nm->values, &pl->e);
        }
        if (list_reserve(mp, &pl->refs, pl->n, &pl->cap)) rc = FLINT_ENOMEM;
    }
    if (rc) {
        drop_empty(mp, l);
        (void)capall;
        goto out;
    }
    /* phase 2: cannot fail */
    for (size_t i = 0; i < l->n; i++) {
        pl_name *nm = (pl_name *)tab_find(&mp->names, l->v[i].name, str_hash(l->v[i].name));
        pl_list *pl = (pl_list *)tab_find(&nm->values, l->v[i].value, str_hash(l->v[i].value));
        list_insert(pl->refs, &pl->n, ref);
    }
    uint32_t nall = (uint32_t)mp->nall;
    list_insert(mp->all, &nall, ref);
    mp->nall = nall;
out:
    pthread_rwlock_unlock(&mp->lock);
    return rc;
}

/* Remove sorted del[] from refs[0..*n) in one merge pass. */
static void list_subtract(uint64_t *refs, uint32_t *n, const uint64_t *del, size_t ndel) {
    uint32_t w = 0;
    size_t j = 0;
    for (uint32_t i = 0; i < *n; i++) {
        uint64_t r = refs[i];
        while (j < ndel && del[j] < r) j++;
        if (j < ndel && del[j] == r) continue;
        refs[w++] = r;
    }
    *n = w;
}

void mem_postings_delete(mem_postings *mp, const uint64_t *del, size_t ndel) {
    if (ndel == 0) return;
    pthread_rwlock_wrlock(&mp->lock);
    uint32_t nall = (uint32_t)mp->nall;
    list_subtract(mp->all, &nall, del, ndel);
    mp->nall = nall;
    for (uint32_t i = 0; i < mp->names.nslots; i++) {
        pl_name *nm = (pl_name *)mp->names.slots[i];
        if (!nm) continue;
        for (uint32_t k = 0; k < nm->values.nslots; k++) {
            pl_list *pl = (pl_list *)nm->values.slots[k];
            if (!pl) continue;
            list_subtract(pl->refs, &pl->n, del, ndel);
            if (pl->n == 0) {
                tab_remove(&nm->values, &pl->e);
                mp->list_bytes -= (size_t)pl->cap * sizeof(uint64_t);
                fl_free(pl->refs);
                fl_free(pl);
                k--; /* backward shift may have moved another entry here */
            } else if (pl->n < pl->cap / 2) {
                uint64_t *nr = fl_realloc(pl->refs, (size_t)pl->n * sizeof *nr);
                if (nr) { /* shrinking is optional */
                    mp->list_bytes -= (size_t)(pl->cap - pl->n) * sizeof *nr;
                    pl->refs = nr;
                    pl->cap = pl->n;
                }
            }
        }
        if (nm->values.count == 0) {
            tab_remove(&mp->names, &nm->e);
            free_name(nm);
            i--;
        }
    }
    pthread_rwlock_unlock(&mp->lock);
}

int mem_postings_select(mem_postings *mp, const matcher *ms, size_t n, postings_vec *out) {
    postings *p = NULL;
    pthread_rwlock_rdlock(&mp->lock);
    int rc = postings_for_matchers(&mp->ix, ms, n, &p);
    if (!rc) rc = postings_expand(p, out);
    postings_free(p);
    pthread_rwlock_unlock(&mp->lock);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int collect_keys(const pl_table *t, const char ***out, size_t *n) {
    const char **v = fl_malloc((t->count ? t->count : 1) * sizeof *v);
    if (!v) return FLINT_ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < t->nslots; i++)
        if (t->slots[i]) v[k++] = t->slots[i]->key;
    qsort(v, k, sizeof *v, cmp_str);
    *out = v;
    *n = k;
    return 0;
}

int mem_postings_label_names(mem_postings *mp, const char ***out, size_t *n) {
    pthread_rwlock_rdlock(&mp->lock);
    int rc = collect_keys(&mp->names, out, n);
    pthread_rwlock_unlock(&mp->lock);
    return rc;
}

int mem_postings_label_values(mem_postings *mp, const char *name, const char ***out, size_t *n) {
    pthread_rwlock_rdlock(&mp->lock);
    pl_name *nm = (pl_name *)tab_find(&mp->names, name, str_hash(name));
    pl_table empty = {0};
    int rc = collect_keys(nm ? &nm->values : &empty, out, n);
    pthread_rwlock_unlock(&mp->lock);
    return rc;
}

size_t mem_postings_num_series(mem_postings *mp) {
    pthread_rwlock_rdlock(&mp->lock);
    size_t n = mp->nall;
    pthread_rwlock_unlock(&mp->lock);
    return n;
}

size_t mem_postings_bytes(mem_postings *mp) {
    pthread_rwlock_rdlock(&mp->lock);
    size_t b = mp->list_bytes + mp->capall * sizeof(uint64_t) + mp->names.nslots * sizeof(void *);
    pthread_rwlock_unlock(&mp->lock);
    return b;
}
