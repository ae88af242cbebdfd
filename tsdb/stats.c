/*
 * stats.c - the figures of tsdb/stats.h: head index cardinality computed
 * from the head's postings index like Prometheus' MemPostings.Stats, and
 * the DB's counters (db_int.h, atomics) for status pages and /metrics.
 */
#include "tsdb/stats.h"

#include "storage/alloc.h"
#include "storage/err.h"
#include "tsdb/db_int.h"
#include "tsdb/head_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stat_acc {
    tsdb_stat *v;
    size_t n, cap;
} stat_acc;

static int acc_push(stat_acc *a, const char *name, const char *value, uint64_t count) {
    if (fl_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v)) return FLINT_ENOMEM;
    size_t ln = strlen(name), lv = value ? strlen(value) + 1 : 0;
    char *s = fl_malloc(ln + lv + 1);
    if (!s) return FLINT_ENOMEM;
    memcpy(s, name, ln);
    if (value) {
        s[ln] = '=';
        memcpy(s + ln + 1, value, lv - 1);
    }
    s[ln + lv] = '\0';
    a->v[a->n++] = (tsdb_stat){s, count};
    return 0;
}

static void list_free(tsdb_stat_list *l) {
    for (size_t i = 0; i < l->n; i++) fl_free(l->v[i].name);
    fl_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int stat_cmp(const void *a, const void *b) {
    const tsdb_stat *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sort, cut to limit, hand over to the list. */
static void acc_finish(stat_acc *a, size_t limit, tsdb_stat_list *out) {
    if (a->n > 1) qsort(a->v, a->n, sizeof *a->v, stat_cmp);
    if (limit && a->n > limit) {
        for (size_t i = limit; i < a->n; i++) fl_free(a->v[i].name);
        a->n = limit;
    }
    out->v = a->v;
    out->n = a->n;
    a->v = NULL;
    a->n = a->cap = 0;
}

typedef struct value_walk {
    const postings_index *ix;
    const char *name;
    bool is_metric;
    uint64_t nvalues, bytes;
    stat_acc *metrics, *pairs;
    int err;
} value_walk;

static int on_value(void *arg, const char *value) {
    value_walk *w = arg;
    postings *p = NULL;
    int rc = w->ix->ops->get(w->ix, w->name, value, &p);
    if (rc) return w->err = rc;
    uint64_t series = 0;
    while (postings_next(p)) series++;
    postings_free(p);
    w->nvalues++;
    w->bytes += (uint64_t)strlen(value) * series;
    if (w->is_metric && (rc = acc_push(w->metrics, value, NULL, series))) return w->err = rc;
    if ((rc = acc_push(w->pairs, w->name, value, series))) return w->err = rc;
    return 0;
}

int tsdb_head_index_stats_get(tsdb *db, size_t limit, tsdb_head_index_stats *out) {
    memset(out, 0, sizeof *out);
    head_stats hs;
    head_get_stats(db->h, &hs);
    out->num_series = hs.num_series;
    out->chunk_count = hs.chunks + hs.num_series; /* full chunks + one open chunk per series */
    out->mint = hs.num_series ? hs.mint : INT64_MAX;
    out->maxt = hs.num_series ? hs.maxt : INT64_MIN;

    mem_postings *mp = db->h->postings;
    const char **names = NULL;
    size_t nnames = 0;
    int rc = mem_postings_label_names(mp, &names, &nnames);
    if (rc) return rc;
    stat_acc metrics = {0}, values = {0}, bytes = {0}, pairs = {0};
    const postings_index *ix = mem_postings_index(mp);
    /* names are interned by the head: they stay valid even if a label
     * disappears before the read lock below is taken */
    mem_postings_rdlock(mp);
    for (size_t i = 0; i < nnames && rc == 0; i++) {
        value_walk w = {ix, names[i], strcmp(names[i], "__name__") == 0, 0, 0, &metrics, &pairs, 0};
        rc = ix->ops->for_each_value(ix, names[i], on_value, &w);
        if (rc == 0) rc = w.err;
        if (rc == 0 && w.nvalues) rc = acc_push(&values, names[i], NULL, w.nvalues);
        if (rc == 0 && w.nvalues) rc = acc_push(&bytes, names[i], NULL, w.bytes);
        out->num_label_pairs += w.nvalues;
    }
    mem_postings_unlock(mp);
    fl_free(names);
    acc_finish(&metrics, limit, &out->series_by_metric);
    acc_finish(&values, limit, &out->values_by_label);
    acc_finish(&bytes, limit, &out->bytes_by_label);
    acc_finish(&pairs, limit, &out->series_by_pair);
    if (rc) tsdb_head_index_stats_free(out);
    return rc;
}

void tsdb_head_index_stats_free(tsdb_head_index_stats *s) {
    list_free(&s->series_by_metric);
    list_free(&s->values_by_label);
    list_free(&s->bytes_by_label);
    list_free(&s->series_by_pair);
}

void tsdb_get_counters(tsdb *db, tsdb_counters *c) {
    memset(c, 0, sizeof *c);
    c->compactions = atomic_load(&db->compactions);
    c->head_cuts = atomic_load(&db->head_cuts);
    c->retention_deletes = atomic_load(&db->retention_deletes);
    c->wal_fsyncs = atomic_load(&db->wal_fsyncs);
    c->wal_fsync_seconds = (double)atomic_load(&db->wal_fsync_ns) / 1e9;
    c->wal_writes_failed = atomic_load(&db->wal_writes_failed);
    c->wal_corruptions = atomic_load(&db->wal_corruptions);
    c->wal_segment = -1;
    if (db->w) {
        pthread_mutex_lock(&db->wal_mu); /* wal_cut runs under it */
        c->wal_segment = wal_current_segment(db->w);
        pthread_mutex_unlock(&db->wal_mu);
    }
    head_stats hs;
    head_get_stats(db->h, &hs);
    c->series_created = hs.series_created;
    c->series_removed = hs.series_removed;
    c->samples_dropped = hs.samples_dropped;
    c->chunks_created = hs.chunks_created;
    c->retention_ms = db->opt.retention_ms;
    c->retention_bytes = db->opt.retention_bytes;
}

void tsdb_time_range(tsdb *db, int64_t *mint, int64_t *maxt) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    pthread_mutex_lock(&db->blocks_mu);
    for (size_t i = 0; i < db->nblocks; i++) {
        const block_meta *m = block_get_meta(db->blocks[i]->b);
        if (m->min_time < lo) lo = m->min_time;
        if (m->max_time - 1 > hi) hi = m->max_time - 1;
    }
    pthread_mutex_unlock(&db->blocks_mu);
    head_stats hs;
    head_get_stats(db->h, &hs);
    if (hs.num_series && hs.mint < lo) lo = hs.mint;
    if (hs.num_series && hs.maxt > hi) hi = hs.maxt;
    *mint = lo;
    *maxt = hi;
}
