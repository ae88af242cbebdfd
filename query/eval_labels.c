/*
 * eval_labels.c - label-set work for the evaluator: a small builder over
 * arena strings, signatures for vector matching and grouping, a byte-string
 * hash map, the output collector (series keyed by label set with
 * Prometheus' duplicate check), natural-order comparison for
 * sort_by_label, and quantile(). All memory comes from the query (see
 * eval_int.h); nothing here returns an error code.
 */
#include "query/eval_int.h"

#include <math.h>
#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- builder ---------------------------------------------------------------- */

static void lb_reserve(pql_q *q, lbuild *b, size_t need) {
    if (need <= b->cap) return;
    size_t nc = b->cap ? b->cap * 2 : 16;
    while (nc < need) nc *= 2;
    b->v = q_realloc(q, b->v, nc * sizeof *b->v);
    b->cap = nc;
}

void lb_from(pql_q *q, lbuild *b, const labels *l) {
    lb_reserve(q, b, l->n + 1);
    if (l->n) memcpy(b->v, l->v, l->n * sizeof *l->v);
    b->n = l->n;
}

void lb_remove(lbuild *b, const char *name) {
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0) {
            memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof *b->v);
            b->n--;
            return;
        }
}

void lb_put(pql_q *q, lbuild *b, const char *name, const char *value) {
    if (!*value) {
        lb_remove(b, name);
        return;
    }
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0) {
            b->v[i].value = value;
            return;
        }
    lb_reserve(q, b, b->n + 1);
    b->v[b->n].name = name;
    b->v[b->n].value = value;
    b->n++;
}

void lb_keep_only(lbuild *b, char *const *names, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        bool keep = false;
        for (size_t j = 0; j < n && !keep; j++) keep = strcmp(b->v[i].name, names[j]) == 0;
        if (keep) b->v[k++] = b->v[i];
    }
    b->n = k;
}

static int label_cmp(const void *a, const void *b) {
    return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

labels lb_finish(pql_q *q, lbuild *b) {
    labels l;
    label *v = q_arena(q, (b->n ? b->n : 1) * sizeof *v);
    if (b->n) memcpy(v, b->v, b->n * sizeof *v);
    qsort(v, b->n, sizeof *v, label_cmp);
    l.v = v;
    l.n = b->n;
    return l;
}

void lb_release(pql_q *q, lbuild *b) {
    q_free(q, b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

labels labels_copy(pql_q *q, const labels *l) {
    label *v = q_arena(q, (l->n ? l->n : 1) * sizeof *v);
    for (size_t i = 0; i < l->n; i++) {
        v[i].name = q_strdup(q, l->v[i].name, strlen(l->v[i].name));
        v[i].value = q_strdup(q, l->v[i].value, strlen(l->v[i].value));
    }
    labels r = {v, l->n};
    return r;
}

bool is_meta_label(const char *name) {
    return strcmp(name, "__name__") == 0 || strcmp(name, "__type__") == 0 ||
           strcmp(name, "__unit__") == 0;
}

labels labels_drop_meta(pql_q *q, const labels *l) {
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!is_meta_label(l->v[i].name)) k++;
    if (k == l->n) return *l;
    label *v = q_arena(q, (k ? k : 1) * sizeof *v);
    k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!is_meta_label(l->v[i].name)) v[k++] = l->v[i];
    labels r = {v, k};
    return r;
}

/* ---- signatures ---------------------------------------------------------------- */

static bool in_list(const char *name, char *const *names, size_t n) {
    for (size_t j = 0; j < n; j++)
        if (strcmp(name, names[j]) == 0) return true;
    return false;
}

const char *labels_signature(pql_q *q, const labels *l, bool on, char *const *names, size_t n,
                             size_t *len) {
    bool all = n == (size_t)-1;
    size_t total = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *nm = l->v[i].name;
        bool inc = all ? true
                   : on ? in_list(nm, names, n)
                        : !(strcmp(nm, "__name__") == 0 || in_list(nm, names, n));
        if (inc) total += strlen(nm) + strlen(l->v[i].value) + 2;
    }
    char *s = q_arena(q, total + 1);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *nm = l->v[i].name;
        bool inc = all ? true
                   : on ? in_list(nm, names, n)
                        : !(strcmp(nm, "__name__") == 0 || in_list(nm, names, n));
        if (!inc) continue;
        size_t a = strlen(nm), b = strlen(l->v[i].value);
        memcpy(s + k, nm, a);
        k += a;
        s[k++] = (char)0xff;
        memcpy(s + k, l->v[i].value, b);
        k += b;
        s[k++] = (char)0xfe;
    }
    s[k] = 0;
    *len = k;
    return s;
}

const char *labels_str(pql_q *q, const labels *l) {
    size_t need = labels_format(l, NULL, 0);
    char *s = q_arena(q, need + 1);
    labels_format(l, s, need + 1);
    return s;
}

/* ---- string map ---------------------------------------------------------------- */

void smap_init(smap *m) {
    m->e = NULL;
    m->cap = m->n = 0;
}

static void smap_grow(pql_q *q, smap *m) {
    size_t nc = m->cap ? m->cap * 2 : 64;
    struct smap_ent *ne = q_calloc(q, nc * sizeof *ne);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].k) continue;
        size_t j = m->e[i].h & (nc - 1);
        while (ne[j].k) j = (j + 1) & (nc - 1);
        ne[j] = m->e[i];
    }
    q_free(q, m->e);
    m->e = ne;
    m->cap = nc;
}

size_t smap_get_or_put(pql_q *q, smap *m, const char *k, size_t len, size_t val, bool *found) {
    if ((m->n + 1) * 2 > m->cap) smap_grow(q, m);
    uint64_t h = XXH3_64bits(k, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].k) {
        if (m->e[j].h == h && m->e[j].len == len && memcmp(m->e[j].k, k, len) == 0) {
            *found = true;
            return m->e[j].val;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j].k = k;
    m->e[j].len = len;
    m->e[j].h = h;
    m->e[j].val = val;
    m->n++;
    *found = false;
    return val;
}

bool smap_get(const smap *m, const char *k, size_t len, size_t *val) {
    if (!m->cap) return false;
    uint64_t h = XXH3_64bits(k, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].k) {
        if (m->e[j].h == h && m->e[j].len == len && memcmp(m->e[j].k, k, len) == 0) {
            *val = m->e[j].val;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

void smap_free(pql_q *q, smap *m) {
    q_free(q, m->e);
    smap_init(m);
}

/* ---- collector ------------------------------------------------------------------ */

void coll_init(collector *c, const pql_ev *ev) {
    memset(c, 0, sizeof *c);
    smap_init(&c->map);
    c->nsteps = ev->nsteps;
}

size_t coll_series(pql_q *q, collector *c, labels l, bool drop_name) {
    size_t len;
    const char *k = labels_signature(q, &l, true, NULL, (size_t)-1, &len);
    bool found;
    size_t idx = smap_get_or_put(q, &c->map, k, len, c->out.n, &found);
    if (!found) {
        double *v = q_alloc(q, c->nsteps * sizeof *v);
        double a = pql_absent();
        for (size_t i = 0; i < c->nsteps; i++) v[i] = a;
        vec_push(q, &c->out, l, v, drop_name);
    }
    return idx;
}

void coll_set(pql_q *q, collector *c, size_t idx, size_t step, double v) {
    double *d = &c->out.s[idx].v[step];
    if (!pql_is_absent(*d))
        q_fail(q, PQL_ERR_EXECUTION, -4, "vector cannot contain metrics with the same labelset");
    *d = v;
}

pql_vec coll_take(pql_q *q, collector *c) {
    smap_free(q, &c->map);
    pql_vec v = c->out;
    memset(&c->out, 0, sizeof c->out);
    return v;
}

/* ---- natural sort (github.com/facette/natsort) ------------------------------------ */

/* natsort splits both strings into chunks of digits and non-digits and
 * compares chunk by chunk: two numeric chunks by value (ties: as strings),
 * otherwise as strings. */
static size_t chunk(const char *s, size_t i, bool *digit) {
    size_t j = i;
    *digit = s[i] >= '0' && s[i] <= '9';
    while (s[j] && ((s[j] >= '0' && s[j] <= '9') == *digit)) j++;
    return j;
}

bool natsort_less(const char *a, const char *b) {
    size_t i = 0, j = 0;
    while (a[i] && b[j]) {
        bool da, db;
        size_t ie = chunk(a, i, &da), je = chunk(b, j, &db);
        size_t la = ie - i, lb = je - j;
        if (da && db) {
            /* compare numerically: strip leading zeros, longer is bigger */
            size_t ia = i, jb = j;
            while (ia < ie - 1 && a[ia] == '0') ia++;
            while (jb < je - 1 && b[jb] == '0') jb++;
            size_t na = ie - ia, nb = je - jb;
            if (na != nb) return na < nb;
            int c = memcmp(a + ia, b + jb, na);
            if (c) return c < 0;
        } else {
            size_t m = la < lb ? la : lb;
            int c = memcmp(a + i, b + j, m);
            if (c) return c < 0;
            if (la != lb) return la < lb;
        }
        i = ie;
        j = je;
    }
    return !a[i] && b[j];
}

/* ---- quantile ------------------------------------------------------------------------ */

static int cmp_nan_first(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    if (isnan(a)) return isnan(b) ? 0 : -1;
    if (isnan(b)) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
}

double pql_quantile(double qv, double *vals, size_t n) {
    if (n == 0 || isnan(qv)) return NAN;
    if (qv < 0) return -INFINITY;
    if (qv > 1) return INFINITY;
    qsort(vals, n, sizeof *vals, cmp_nan_first);
    double fn = (double)n;
    double rank = qv * (fn - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin(fn - 1, lower + 1);
    double weight = rank - floor(rank);
    return vals[(size_t)lower] * (1 - weight) + vals[(size_t)upper] * weight;
}
