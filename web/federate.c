/*
 * federate.c - /federate (federate.h), after Prometheus' web/federate.go:
 * select per match[], keep each series' newest sample in the window,
 * merge duplicates across selectors, sort by name, write text 0.0.4.
 */
#include "web/federate.h"

#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "web/textfmt.h"

#include <stdlib.h>
#include <string.h>

typedef struct fed_sample {
    labels l;   /* strings inside mem */
    void *mem;
    int64_t t;
    double v;
} fed_sample;

typedef struct fed_vec {
    fed_sample *v;
    size_t n, cap;
} fed_vec;

static int push_copy(fed_vec *fv, const labels *src, int64_t t, double v) {
    if (fl_grow((void **)&fv->v, &fv->cap, fv->n + 1, sizeof *fv->v)) return FLINT_ENOMEM;
    label *lv = labels_dup(src->v, src->n);
    if (!lv) return FLINT_ENOMEM;
    fv->v[fv->n++] = (fed_sample){{lv, src->n}, lv, t, v};
    return 0;
}

static const char *metric_name(const labels *l) {
    const char *n = labels_get(l, "__name__");
    return n ? n : "";
}

static int cmp_sample(const void *a, const void *b) {
    const fed_sample *x = a, *y = b;
    int c = strcmp(metric_name(&x->l), metric_name(&y->l));
    return c ? c : labels_cmp(&x->l, &y->l);
}

static void write_series(text_writer *w, const fed_sample *s) {
    tw_cstr(w, metric_name(&s->l));
    bool any = false, instance = false;
    for (size_t i = 0; i < s->l.n; i++) {
        const label *lb = &s->l.v[i];
        if (!*lb->value || strcmp(lb->name, "__name__") == 0) continue; /* empty = unset */
        tw_raw(w, any ? "," : "{", 1);
        any = true;
        instance |= strcmp(lb->name, "instance") == 0;
        tw_cstr(w, lb->name);
        tw_raw(w, "=\"", 2);
        tw_label_value(w, lb->value);
        tw_raw(w, "\"", 1);
    }
    if (!instance) {
        tw_cstr(w, any ? "," : "{");
        tw_cstr(w, "instance=\"\"");
        any = true;
    }
    tw_raw(w, "} ", 2);
    tw_value(w, s->v);
    tw_printf(w, " %lld\n", (long long)s->t);
}

int federate_write(tsdb *db, const federate_selector *sel, size_t nsel, int64_t now_ms, int64_t lookback_ms,
                   fl_buf *out) {
    tsdb_querier *q = NULL;
    fed_vec fv = {0};
    int rc = tsdb_querier_open(db, now_ms - lookback_ms, now_ms, &q);
    for (size_t i = 0; rc == 0 && i < nsel; i++) {
        tsdb_series_set *set = NULL;
        rc = tsdb_select(q, sel[i].v, sel[i].n, &set);
        while (rc == 0 && tsdb_series_next(set)) {
            tsdb_sample_iter *it = tsdb_series_samples(set);
            int64_t t, last_t = 0;
            double v, last_v = 0;
            bool have = false;
            while (tsdb_sample_next(it, &t, &v)) {
                last_t = t;
                last_v = v;
                have = true;
            }
            rc = tsdb_sample_err(it);
            /* the exposition format has no stale markers: leave them out */
            if (rc || !have || is_stale_nan(last_v)) continue;
            const labels *l = tsdb_series_labels(set);
            if (!labels_get(l, "__name__") || !*labels_get(l, "__name__")) continue; /* nameless */
            rc = push_copy(&fv, l, last_t, last_v);
        }
        if (rc == 0 && set) rc = tsdb_series_err(set);
        tsdb_series_set_free(set);
    }
    if (rc == 0) {
        if (fv.n > 1) qsort(fv.v, fv.n, sizeof *fv.v, cmp_sample);
        text_writer w = {out, 0};
        const char *last_name = NULL;
        for (size_t i = 0; i < fv.n; i++) {
            /* the same series from two selectors: once (Prometheus merges sets) */
            if (i && labels_equal(&fv.v[i - 1].l, &fv.v[i].l)) continue;
            const char *name = metric_name(&fv.v[i].l);
            if (!last_name || strcmp(last_name, name)) {
                tw_cstr(&w, "# TYPE ");
                tw_cstr(&w, name);
                tw_cstr(&w, " untyped\n");
                last_name = name;
            }
            write_series(&w, &fv.v[i]);
        }
        rc = w.err;
    }
    for (size_t i = 0; i < fv.n; i++) fl_free(fv.v[i].mem);
    fl_free(fv.v);
    tsdb_querier_close(q);
    return rc;
}
