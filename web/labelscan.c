/*
 * labelscan.c - labelscan.h: a walk over the selected series with a
 * small string set (open addressing) for the names or values seen.
 */
#include "web/labelscan.h"

#include "storage/alloc.h"
#include "storage/err.h"

#include <stdlib.h>
#include <string.h>

typedef struct strset {
    char **slots;
    size_t nslots, count;
} strset;

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int strset_add(strset *s, const char *v) {
    if ((s->count + 1) * 4 > s->nslots * 3) {
        size_t ns = s->nslots ? s->nslots * 2 : 64;
        char **slots = fl_calloc(ns, sizeof *slots);
        if (!slots) return FLINT_ENOMEM;
        for (size_t i = 0; i < s->nslots; i++) {
            if (!s->slots[i]) continue;
            size_t j = str_hash(s->slots[i]) & (ns - 1);
            while (slots[j]) j = (j + 1) & (ns - 1);
            slots[j] = s->slots[i];
        }
        fl_free(s->slots);
        s->slots = slots;
        s->nslots = ns;
    }
    size_t j = str_hash(v) & (s->nslots - 1);
    for (; s->slots[j]; j = (j + 1) & (s->nslots - 1))
        if (strcmp(s->slots[j], v) == 0) return 0;
    if (!(s->slots[j] = fl_strdup(v))) return FLINT_ENOMEM;
    s->count++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Move the strings into out, sorted; s is emptied. */
static int strset_finish(strset *s, tsdb_strings *out) {
    out->v = fl_malloc((s->count ? s->count : 1) * sizeof *out->v);
    out->n = 0;
    if (!out->v) return FLINT_ENOMEM;
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i]) out->v[out->n++] = s->slots[i];
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    fl_free(s->slots);
    s->slots = NULL;
    s->nslots = s->count = 0;
    return 0;
}

static void strset_free(strset *s) {
    for (size_t i = 0; i < s->nslots; i++) fl_free(s->slots[i]);
    fl_free(s->slots);
}

int labelscan(tsdb_querier *q, const char *name, const matcher *ms, size_t n, tsdb_strings *out) {
    out->v = NULL;
    out->n = 0;
    matcher all;
    int rc = 0;
    if (n == 0) { /* every series: a matcher that accepts any name, also none */
        rc = matcher_init(&all, MATCH_RE, "__name__", ".*");
        if (rc) return rc;
        ms = &all;
        n = 1;
    }
    strset set = {0};
    tsdb_series_set *ss = NULL;
    if (rc == 0) rc = tsdb_select(q, ms, n, &ss);
    while (rc == 0 && tsdb_series_next(ss)) {
        int64_t t;
        double v;
        /* chunks overlapping the range may still hold no sample in it */
        if (!tsdb_sample_next(tsdb_series_samples(ss), &t, &v)) {
            rc = tsdb_sample_err(tsdb_series_samples(ss));
            continue;
        }
        const labels *l = tsdb_series_labels(ss);
        for (size_t i = 0; i < l->n && rc == 0; i++) {
            if (!name) rc = strset_add(&set, l->v[i].name);
            else if (strcmp(l->v[i].name, name) == 0) rc = strset_add(&set, l->v[i].value);
        }
    }
    if (rc == 0 && ss) rc = tsdb_series_err(ss);
    tsdb_series_set_free(ss);
    if (ms == &all) matcher_free(&all);
    if (rc == 0) rc = strset_finish(&set, out);
    strset_free(&set);
    return rc;
}
