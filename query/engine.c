/*
 * engine.c - the evaluator's core: the query context (pool, arena,
 * longjmp error unwinding, annotations, limits, timeout), the public entry
 * points of engine.h, node dispatch, vector selectors, and the final
 * result (delayed name removal, sorting, conversion to pql_result).
 *
 * Threads. A query runs on its calling thread, except two kinds of work
 * that fan out over up to 4 threads (the CPUs, or pql_engine_opts.threads)
 * when they are big enough: select_series_par (per-series decode and range
 * functions; the series are listed and their results consumed in label
 * order on the calling thread, so results, limits and errors do not depend
 * on the thread count) and q_parallel_ranges (independent index ranges,
 * e.g. the steps of a sum). Worker threads never longjmp nor touch the
 * query's pool except through q_steps_shared/q_free_shared.
 *
 * Other node kinds live in eval_binop.c, eval_agg.c, eval_func.c and
 * eval_range.c; label helpers in eval_labels.c. See eval_int.h for the
 * evaluation model.
 */
#include "query/eval_int.h"
#include "query/parse.h"
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static _Thread_local volatile int *tls_cancel;

void pql_set_cancel_flag(volatile int *flag) { tls_cancel = flag; }

pql_engine *pql_engine_new(const pql_engine_opts *opts) {
    pql_engine *e = fl_calloc(1, sizeof *e);
    if (!e) return NULL;
    if (opts) e->o = *opts;
    if (e->o.lookback_ms <= 0) e->o.lookback_ms = 5 * 60 * 1000;
    if (e->o.max_samples <= 0) e->o.max_samples = 50000000;
    if (e->o.timeout_ms == 0) e->o.timeout_ms = 2 * 60 * 1000;
    if (e->o.default_step_ms <= 0) e->o.default_step_ms = 60 * 1000;
    return e;
}

void pql_engine_free(pql_engine *e) { fl_free(e); }

/* ---- pool, arena, errors ------------------------------------------------ */

static void q_release(pql_q *q) {
    for (size_t i = q->ncleanups; i > 0; i--)
        if (q->cleanups[i - 1].fn) q->cleanups[i - 1].fn(q->cleanups[i - 1].arg);
    q->ncleanups = 0;
    fl_free(q->cleanups);
    q->cleanups = NULL;
    pql_pool_hdr *h = q->pool.next;
    while (h != &q->pool) {
        pql_pool_hdr *n = h->next;
        fl_free(h);
        h = n;
    }
    q->pool.next = q->pool.prev = &q->pool;
    pql_arena_blk *b = q->arena;
    while (b) {
        pql_arena_blk *n = b->next;
        fl_free(b);
        b = n;
    }
    q->arena = NULL;
    fl_free(q->annos);
    q->annos = NULL;
    q->nannos = q->cap_annos = 0;
}

_Noreturn void q_fail(pql_q *q, pql_errtype t, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->errmsg, sizeof q->errmsg, fmt, ap);
    va_end(ap);
    q->errtype = code == FLINT_ENOMEM ? PQL_ERR_INTERNAL : t;
    q->errcode = code;
    longjmp(q->jb, 1);
}

_Noreturn void q_oom(pql_q *q) { q_fail(q, PQL_ERR_INTERNAL, FLINT_ENOMEM, "out of memory"); }

void *q_alloc(pql_q *q, size_t n) {
    if (n > SIZE_MAX - sizeof(pql_pool_hdr)) q_oom(q);
    pql_pool_hdr *h = fl_malloc(sizeof *h + n);
    if (!h) q_oom(q);
    h->size = n;
    h->next = q->pool.next;
    h->prev = &q->pool;
    q->pool.next->prev = h;
    q->pool.next = h;
    return h + 1;
}

void *q_calloc(pql_q *q, size_t n) {
    void *p = q_alloc(q, n);
    memset(p, 0, n);
    return p;
}

void q_free(pql_q *q, void *p) {
    (void)q;
    if (!p) return;
    pql_pool_hdr *h = (pql_pool_hdr *)p - 1;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    fl_free(h);
}

void *q_realloc(pql_q *q, void *p, size_t n) {
    if (!p) return q_alloc(q, n);
    pql_pool_hdr *h = (pql_pool_hdr *)p - 1;
    if (n > SIZE_MAX - sizeof(pql_pool_hdr)) q_oom(q);
    /* unlink, realloc, relink: a failed realloc leaves h valid and linked */
    pql_pool_hdr *prev = h->prev, *next = h->next;
    pql_pool_hdr *nh = fl_realloc(h, sizeof *nh + n);
    if (!nh) q_oom(q);
    nh->size = n;
    prev->next = nh;
    next->prev = nh;
    return nh + 1;
}

void *q_arena(pql_q *q, size_t n) {
    n = (n + 7) & ~(size_t)7;
    pql_arena_blk *b = q->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 32768 ? n : 32768;
        b = fl_malloc(sizeof *b + cap);
        if (!b) q_oom(q);
        b->used = 0;
        b->cap = cap;
        b->next = q->arena;
        q->arena = b;
    }
    void *p = (char *)(b + 1) + b->used;
    b->used += n;
    return p;
}

char *q_strdup(pql_q *q, const char *s, size_t n) {
    char *d = q_arena(q, n + 1);
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void q_annotate(pql_q *q, pql_anno_kind kind, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < q->nannos; i++)
        if (q->annos[i].kind == kind && strcmp(q->annos[i].text, buf) == 0) return;
    if (fl_grow((void **)&q->annos, &q->cap_annos, q->nannos + 1, sizeof *q->annos)) q_oom(q);
    q->annos[q->nannos].kind = kind;
    q->annos[q->nannos].text = q_strdup(q, buf, strlen(buf));
    q->nannos++;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void q_check(pql_q *q) {
    if (q->cancel && __atomic_load_n(q->cancel, __ATOMIC_RELAXED)) /* set by another thread */
        q_fail(q, PQL_ERR_CANCELED, FLINT_ECANCELED, "query was canceled in expression evaluation");
    if (q->deadline_ns && now_ns() > q->deadline_ns)
        q_fail(q, PQL_ERR_TIMEOUT, FLINT_ECANCELED, "query timed out in expression evaluation");
}

void q_samples_add(pql_q *q, int64_t n) {
    q->samples += n;
    if (n > 0 && q->samples > q->max_samples)
        q_fail(q, PQL_ERR_TOO_MANY_SAMPLES, FLINT_ELIMIT,
               "query processing would load too many samples into memory in query execution");
}

int q_push_cleanup(pql_q *q, void (*fn)(void *), void *arg) {
    if (fl_grow((void **)&q->cleanups, &q->cap_cleanups, q->ncleanups + 1, sizeof *q->cleanups)) {
        fn(arg);
        q_oom(q);
    }
    q->cleanups[q->ncleanups].fn = fn;
    q->cleanups[q->ncleanups].arg = arg;
    return (int)q->ncleanups++;
}

void q_pop_cleanup(pql_q *q, int slot, bool run) {
    pql_cleanup c = q->cleanups[slot];
    q->cleanups[slot].fn = NULL;
    while (q->ncleanups > 0 && !q->cleanups[q->ncleanups - 1].fn) q->ncleanups--;
    if (run && c.fn) c.fn(c.arg);
}

/* ---- values ------------------------------------------------------------------ */

/* The pool for select_series_par's work functions, which run on several
 * threads while the calling thread does nothing else with the pool. */
static pthread_mutex_t shared_pool_mu = PTHREAD_MUTEX_INITIALIZER;

double *q_steps_shared(pql_q *q, const pql_ev *ev) {
    size_t n = ev->nsteps * sizeof(double);
    pql_pool_hdr *h = fl_malloc(sizeof *h + n);
    if (!h) return NULL;
    h->size = n;
    pthread_mutex_lock(&shared_pool_mu);
    h->next = q->pool.next;
    h->prev = &q->pool;
    q->pool.next->prev = h;
    q->pool.next = h;
    pthread_mutex_unlock(&shared_pool_mu);
    double *v = (double *)(h + 1), a = pql_absent();
    for (size_t i = 0; i < ev->nsteps; i++) v[i] = a;
    return v;
}

void q_free_shared(pql_q *q, void *p) {
    pthread_mutex_lock(&shared_pool_mu);
    q_free(q, p);
    pthread_mutex_unlock(&shared_pool_mu);
}

double *q_steps(pql_q *q, const pql_ev *ev) {
    double *v = q_alloc(q, ev->nsteps * sizeof *v);
    double a = pql_absent();
    for (size_t i = 0; i < ev->nsteps; i++) v[i] = a;
    return v;
}

void vec_push(pql_q *q, pql_vec *v, labels l, double *vals, bool drop_name) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 8;
        v->s = q_realloc(q, v->s, nc * sizeof *v->s);
        v->cap = nc;
    }
    v->s[v->n].lbls = l;
    v->s[v->n].v = vals;
    v->s[v->n].drop_name = drop_name;
    v->n++;
}

void vec_free(pql_q *q, pql_vec *v) {
    for (size_t i = 0; i < v->n; i++) q_free(q, v->s[i].v);
    q_free(q, v->s);
    v->s = NULL;
    v->n = v->cap = 0;
}

void val_free(pql_q *q, pql_val *v) {
    if (v->type == PQL_TYPE_SCALAR) q_free(q, v->scalar);
    if (v->type == PQL_TYPE_VECTOR) vec_free(q, &v->vec);
    v->scalar = NULL;
}

const ast_node *unwrap(const ast_node *n) {
    while (n && (n->kind == AST_PAREN || n->kind == AST_STEP_INVARIANT))
        n = n->kind == AST_PAREN ? n->paren.expr : n->step_invariant.expr;
    return n;
}

const char *string_arg(const ast_node *n, size_t *len) {
    n = unwrap(n);
    *len = n->string.len;
    return n->string.s;
}

int64_t mod_offset_ms(pql_q *q, const ast_modifiers *m) {
    if (!m->offset_expr) return m->offset_ms;
    int64_t ms;
    char err[256];
    if (ast_duration_ms(m->offset_expr, true, &ms, err, sizeof err))
        q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "%s", err);
    return ms;
}

int64_t node_range_ms(pql_q *q, const ast_node *n) {
    const ast_node *e = n->kind == AST_MATRIX_SELECTOR ? n->matrix.range_expr : n->subquery.range_expr;
    int64_t ms = n->kind == AST_MATRIX_SELECTOR ? n->matrix.range_ms : n->subquery.range_ms;
    if (!e) return ms;
    char err[256];
    if (ast_duration_ms(e, false, &ms, err, sizeof err))
        q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "%s", err);
    return ms;
}

int64_t sel_time(pql_q *q, const pql_ev *ev, const ast_modifiers *m, int64_t offset, size_t i) {
    switch (m->at) {
    case AST_AT_TIMESTAMP: return m->at_ms - offset;
    case AST_AT_START: return q->qstart - offset;
    case AST_AT_END: return q->qend - offset;
    default: return ev_time(ev, i) - offset;
    }
}

/* ---- selecting series ---------------------------------------------------------- */

typedef struct sel_state {
    matcher *ms;
    size_t nms;
    tsdb_querier *qr;
    tsdb_series_set *set;
} sel_state;

static void sel_state_free(void *arg) {
    sel_state *s = arg;
    if (s->set) tsdb_series_set_free(s->set);
    if (s->qr) tsdb_querier_close(s->qr);
    for (size_t i = 0; i < s->nms; i++) matcher_free(&s->ms[i]);
    s->set = NULL;
    s->qr = NULL;
    s->nms = 0;
}

static void raw_push(pql_q *q, pql_raw *r, int64_t t, double v) {
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        r->t = q_realloc(q, r->t, nc * sizeof *r->t);
        r->v = q_realloc(q, r->v, nc * sizeof *r->v);
        r->cap = nc;
    }
    r->t[r->n] = t;
    r->v[r->n] = v;
    r->n++;
}

static sel_state *sel_open(pql_q *q, const ast_node *vs, int64_t mint, int64_t maxt, int *slot) {
    sel_state *st = q_calloc(q, sizeof *st);
    st->ms = q_calloc(q, (vs->vs.nmatchers ? vs->vs.nmatchers : 1) * sizeof *st->ms);
    *slot = q_push_cleanup(q, sel_state_free, st);
    for (size_t i = 0; i < vs->vs.nmatchers; i++) {
        const ast_matcher *am = &vs->vs.matchers[i];
        int rc = matcher_init(&st->ms[i], am->type, am->name, am->value);
        if (rc) q_fail(q, PQL_ERR_EXECUTION, rc, "%s", flint_errmsg());
        st->nms++;
    }
    int rc = tsdb_querier_open(q->db, mint, maxt, &st->qr);
    if (rc) q_fail(q, PQL_ERR_INTERNAL, rc, "%s", flint_errmsg());
    rc = tsdb_select(st->qr, st->ms, st->nms, &st->set);
    if (rc) q_fail(q, PQL_ERR_INTERNAL, rc, "%s", flint_errmsg());
    return st;
}

static void sel_close(pql_q *q, sel_state *st, int slot) {
    q_pop_cleanup(q, slot, true);
    q_free(q, st->ms);
    q_free(q, st);
}

/* ---- selecting series in parallel ------------------------------------------------ */

typedef struct par_series {
    labels l;
    tsdb_chunks *chunks;
} par_series;

typedef struct par_state {
    const pql_q *q; /* read only off the calling thread: cancel flag, deadline */
    par_series *s;  /* room for `cap` series, fixed while threads run */
    size_t n, cap;
    series_work_fn work;
    void *ctx;
    _Atomic size_t next;
    _Atomic size_t avail;  /* series of s published to the threads */
    _Atomic int produced;  /* all series are published */
    _Atomic int stop;
    _Atomic size_t err_at; /* lowest series index that failed, SIZE_MAX if none */
    pthread_mutex_t mu;    /* errors, and waiting for series (cv) */
    pthread_cond_t cv;
    pthread_t th[3];
    int nth;
    int err;
    char errmsg[512];
} par_state;

static void par_free_chunks(void *arg) {
    par_state *st = arg;
    for (size_t i = 0; i < st->n; i++) {
        tsdb_chunks_free(st->s[i].chunks);
        st->s[i].chunks = NULL;
    }
}

static bool q_expired(const pql_q *q) {
    return (q->cancel && *q->cancel) || (q->deadline_ns && now_ns() > q->deadline_ns);
}

static void par_fail(par_state *st, size_t i, int rc) {
    pthread_mutex_lock(&st->mu);
    if (i < atomic_load(&st->err_at)) {
        atomic_store(&st->err_at, i);
        st->err = rc;
        snprintf(st->errmsg, sizeof st->errmsg, "%s", flint_errmsg());
    }
    pthread_mutex_unlock(&st->mu);
    atomic_store(&st->stop, 1);
}

/* Series i once published; false when there is none (or a stop). */
static bool par_wait(par_state *st, size_t i) {
    if (i < atomic_load(&st->avail)) return true;
    pthread_mutex_lock(&st->mu);
    while (i >= atomic_load(&st->avail) && !atomic_load(&st->produced) && !atomic_load(&st->stop))
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    return i < atomic_load(&st->avail) && !atomic_load(&st->stop);
}

static void par_wake(par_state *st) {
    pthread_mutex_lock(&st->mu);
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void *par_run(void *arg) {
    par_state *st = arg;
    pql_raw raw = {0};
    for (unsigned k = 0; !atomic_load(&st->stop); k++) {
        size_t i = atomic_fetch_add(&st->next, 1);
        if (!par_wait(st, i)) break;
        size_t need = tsdb_chunks_max_samples(st->s[i].chunks);
        if (need > raw.cap) {
            fl_free(raw.t);
            fl_free(raw.v);
            raw.t = fl_malloc((need ? need : 1) * sizeof *raw.t);
            raw.v = fl_malloc((need ? need : 1) * sizeof *raw.v);
            raw.cap = raw.t && raw.v ? need : 0;
            if (!raw.cap) {
                par_fail(st, i, flint_error(FLINT_ENOMEM, "out of memory"));
                break;
            }
        }
        int64_t got = tsdb_chunks_read(st->s[i].chunks, raw.t, raw.v, raw.cap);
        if (got < 0) {
            par_fail(st, i, (int)got);
            break;
        }
        raw.n = (size_t)got;
        raw.finite = tsdb_chunks_finite(st->s[i].chunks);
        int rc = st->work(st->ctx, i, &raw);
        if (rc) {
            par_fail(st, i, rc);
            break;
        }
        if ((k & 15) == 15 && q_expired(st->q)) atomic_store(&st->stop, 1);
    }
    fl_free(raw.t);
    fl_free(raw.v);
    return NULL;
}

/* Threads for n series of `samples` samples in all: 1 for small work. */
static int par_threads(const pql_engine *e, size_t n, size_t samples) {
    if (n < 2 || samples < 100000) return 1;
    long c = e->o.threads > 0 ? e->o.threads : sysconf(_SC_NPROCESSORS_ONLN);
    int t = c < 1 ? 1 : c > 4 ? 4 : (int)c;
    return (size_t)t > n ? (int)n : t;
}

typedef struct range_job {
    void (*fn)(void *ctx, size_t lo, size_t hi);
    void *ctx;
    size_t lo, hi;
} range_job;

static void *range_run(void *arg) {
    range_job *j = arg;
    j->fn(j->ctx, j->lo, j->hi);
    return NULL;
}

void q_parallel_ranges(pql_q *q, size_t n, size_t work, void (*fn)(void *ctx, size_t lo, size_t hi),
                       void *ctx) {
    int want = par_threads(q->eng, n, work);
    range_job jobs[4];
    pthread_t th[4];
    int nth = 0;
    for (int t = 0; t < want; t++)
        jobs[t] = (range_job){fn, ctx, n * (size_t)t / (size_t)want, n * (size_t)(t + 1) / (size_t)want};
    for (int t = 1; t < want; t++) {
        if (pthread_create(&th[t], NULL, range_run, &jobs[t]) != 0) break;
        nth = t;
    }
    /* the calling thread takes its own range and any a thread could not */
    fn(ctx, jobs[0].lo, jobs[0].hi);
    for (int t = nth + 1; t < want; t++) fn(ctx, jobs[t].lo, jobs[t].hi);
    for (int t = 1; t <= nth; t++) pthread_join(th[t], NULL);
}

/* Stop and join the threads (also when the query fails while listing). */
static void par_join(void *arg) {
    par_state *st = arg;
    if (st->nth) {
        atomic_store(&st->produced, 1);
        par_wake(st);
        for (int i = 0; i < st->nth; i++) pthread_join(st->th[i], NULL);
        st->nth = 0;
    }
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
}

void select_series_par(pql_q *q, const ast_node *vs, int64_t mint, int64_t maxt,
                       series_begin_fn begin, series_work_fn work, series_done_fn done, void *ctx) {
    int slot;
    sel_state *sel = sel_open(q, vs, mint, maxt, &slot);
    par_state *st = q_calloc(q, sizeof *st);
    /* the series array never moves: threads start on the first series
     * while the rest are listed */
    st->cap = tsdb_series_count_bound(sel->set);
    st->s = q_calloc(q, (st->cap ? st->cap : 1) * sizeof *st->s);
    begin(q, ctx, st->cap);
    st->q = q;
    st->work = work;
    st->ctx = ctx;
    atomic_init(&st->next, 0);
    atomic_init(&st->avail, 0);
    atomic_init(&st->produced, 0);
    atomic_init(&st->stop, 0);
    atomic_init(&st->err_at, SIZE_MAX);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    int pslot = q_push_cleanup(q, par_free_chunks, st);
    int jslot = q_push_cleanup(q, par_join, st); /* runs first on failure */
    size_t samples = 0;
    bool started = false;
    while (tsdb_series_next(sel->set)) {
        q_check(q);
        if (st->n == st->cap) q_fail(q, PQL_ERR_INTERNAL, FLINT_EINVAL, "series count above its bound");
        tsdb_chunks *c = NULL;
        int rc = tsdb_series_snapshot(sel->set, &c);
        if (rc) q_fail(q, PQL_ERR_INTERNAL, rc, "%s", flint_errmsg());
        st->s[st->n].chunks = c; /* counted at once: freed if what follows fails */
        st->n++;
        st->s[st->n - 1].l = labels_copy(q, tsdb_series_labels(sel->set));
        atomic_store(&st->avail, st->n);
        samples += tsdb_chunks_max_samples(c);
        if (!started && st->n >= 2 && samples >= 100000) {
            int want = par_threads(q->eng, st->cap, samples);
            while (st->nth < want - 1 && pthread_create(&st->th[st->nth], NULL, par_run, st) == 0) st->nth++;
            started = true;
        } else if (started && (st->n & 15) == 0) {
            par_wake(st);
        }
    }
    int rc = tsdb_series_err(sel->set);
    if (rc) q_fail(q, PQL_ERR_INTERNAL, rc, "%s", flint_errmsg());
    atomic_store(&st->produced, 1);
    par_wake(st);
    par_run(st);
    q_pop_cleanup(q, jslot, true);
    if (atomic_load(&st->err_at) < st->n) q_fail(q, PQL_ERR_INTERNAL, st->err, "%s", st->errmsg);
    q_check(q); /* a stop without an error: cancelled or timed out */
    if (atomic_load(&st->next) < st->n)
        q_fail(q, PQL_ERR_INTERNAL, FLINT_ECANCELED, "query evaluation stopped early");
    par_free_chunks(st);
    for (size_t i = 0; i < st->n; i++) done(q, ctx, i, &st->s[i].l);
    q_pop_cleanup(q, pslot, false);
    q_free(q, st->s);
    q_free(q, st);
    sel_close(q, sel, slot);
}

void select_series(pql_q *q, const ast_node *vs, int64_t mint, int64_t maxt, series_fn fn,
                   void *ctx) {
    int slot, rc;
    sel_state *st = sel_open(q, vs, mint, maxt, &slot);
    pql_raw raw = {0};
    while (tsdb_series_next(st->set)) {
        q_check(q);
        const labels *l = tsdb_series_labels(st->set);
        tsdb_sample_iter *it = tsdb_series_samples(st->set);
        raw.n = 0;
        int64_t t;
        double v;
        if (it && tsdb_sample_seek(it, mint, &t, &v)) {
            do {
                if (t > maxt) break;
                raw_push(q, &raw, t, v);
            } while (tsdb_sample_next(it, &t, &v));
            if ((rc = tsdb_sample_err(it)) != 0)
                q_fail(q, PQL_ERR_INTERNAL, rc, "%s", flint_errmsg());
        }
        fn(q, ctx, l, &raw);
    }
    if ((rc = tsdb_series_err(st->set)) != 0) q_fail(q, PQL_ERR_INTERNAL, rc, "%s", flint_errmsg());
    q_free(q, raw.t);
    q_free(q, raw.v);
    sel_close(q, st, slot);
}

/* ---- vector selectors ----------------------------------------------------------- */

typedef struct vs_ctx {
    const pql_ev *ev;
    const ast_node *vs;
    int64_t offset;
    pql_vec out;
    bool timestamps; /* values are sample timestamps (for timestamp()) */
} vs_ctx;

static void vs_series(pql_q *q, void *arg, const labels *l, const pql_raw *raw) {
    vs_ctx *c = arg;
    const pql_ev *ev = c->ev;
    double *vals = NULL;
    size_t j = 0, npts = 0;
    bool have = false;
    int64_t lt = 0;
    double lv = 0;
    int64_t prevT = INT64_MIN;
    for (size_t i = 0; i < ev->nsteps; i++) {
        int64_t T = sel_time(q, ev, &c->vs->vs.mod, c->offset, i);
        if (T < prevT) { /* never happens (times increase), but stay correct */
            j = 0;
            have = false;
        }
        prevT = T;
        while (j < raw->n && raw->t[j] <= T) {
            lt = raw->t[j];
            lv = raw->v[j];
            have = true;
            j++;
        }
        if (!have || lt <= T - q->lookback || is_stale_nan(lv)) continue;
        if (!vals) vals = q_steps(q, ev);
        vals[i] = c->timestamps ? (double)lt / 1000.0 : lv;
        npts++;
    }
    if (!vals) return;
    q_samples_add(q, (int64_t)npts);
    vec_push(q, &c->out, labels_copy(q, l), vals, false);
}

pql_vec eval_vector_selector(pql_q *q, const pql_ev *ev, const ast_node *vs, bool timestamps) {
    vs_ctx c = {.ev = ev, .vs = vs, .timestamps = timestamps};
    c.offset = mod_offset_ms(q, &vs->vs.mod);
    int64_t t0 = sel_time(q, ev, &vs->vs.mod, c.offset, 0);
    int64_t t1 = sel_time(q, ev, &vs->vs.mod, c.offset, ev->nsteps - 1);
    select_series(q, vs, t0 - q->lookback + 1, t1, vs_series, &c);
    return c.out;
}

/* ---- dispatch -------------------------------------------------------------------- */

double *eval_scalar(pql_q *q, const pql_ev *ev, const ast_node *n) {
    pql_val v = eval_node(q, ev, n);
    if (v.type != PQL_TYPE_SCALAR) q_fail(q, PQL_ERR_INTERNAL, FLINT_EINVAL, "expected scalar");
    return v.scalar;
}

pql_val eval_node(pql_q *q, const pql_ev *ev, const ast_node *n) {
    pql_val r = {0};
    if ((++q->poll & 63) == 0) q_check(q);
    switch (n->kind) {
    case AST_NUMBER:
        r.type = PQL_TYPE_SCALAR;
        r.scalar = q_alloc(q, ev->nsteps * sizeof(double));
        for (size_t i = 0; i < ev->nsteps; i++) r.scalar[i] = n->number.value;
        return r;
    case AST_STRING:
        r.type = PQL_TYPE_STRING;
        r.str = n->string.s;
        r.str_len = n->string.len;
        return r;
    case AST_PAREN: return eval_node(q, ev, n->paren.expr);
    case AST_STEP_INVARIANT: return eval_node(q, ev, n->step_invariant.expr);
    case AST_UNARY:
        r = eval_node(q, ev, n->unary.expr);
        if (n->unary.op == AST_OP_SUB) {
            if (r.type == PQL_TYPE_SCALAR) {
                for (size_t i = 0; i < ev->nsteps; i++) r.scalar[i] = -r.scalar[i];
            } else {
                for (size_t s = 0; s < r.vec.n; s++) {
                    r.vec.s[s].drop_name = true;
                    for (size_t i = 0; i < ev->nsteps; i++)
                        if (!pql_is_absent(r.vec.s[s].v[i])) r.vec.s[s].v[i] = -r.vec.s[s].v[i];
                }
            }
        }
        return r;
    case AST_VECTOR_SELECTOR:
        r.type = PQL_TYPE_VECTOR;
        r.vec = eval_vector_selector(q, ev, n, false);
        return r;
    case AST_CALL: return eval_call(q, ev, n);
    case AST_AGGREGATE: return eval_aggregate(q, ev, n);
    case AST_BINARY: return eval_binary(q, ev, n);
    case AST_MATRIX_SELECTOR:
    case AST_SUBQUERY:
    case AST_DURATION_EXPR:
        break;
    }
    q_fail(q, PQL_ERR_INTERNAL, FLINT_EINVAL, "cannot evaluate a %s here", pql_type_name(n->type));
}

/* ---- results ------------------------------------------------------------------------ */

static int cmp_series_out(const void *a, const void *b) {
    return labels_cmp(&((const pql_series_out *)a)->metric, &((const pql_series_out *)b)->metric);
}

/* Delayed name removal, then Prometheus' "same labelset" check. */
static void cleanup_names(pql_q *q, pql_vec *v) {
    for (size_t i = 0; i < v->n; i++)
        if (v->s[i].drop_name) v->s[i].lbls = labels_drop_meta(q, &v->s[i].lbls);
    if (v->n < 2) return;
    smap m;
    smap_init(&m);
    for (size_t i = 0; i < v->n; i++) {
        size_t len;
        const char *k = labels_signature(q, &v->s[i].lbls, true, NULL, (size_t)-1, &len);
        bool found;
        smap_get_or_put(q, &m, k, len, i, &found);
        if (found) q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "vector cannot contain metrics with the same labelset");
    }
    smap_free(q, &m);
}

/* Matrix-typed top-level expression of an instant query: raw samples. */
typedef struct msel_ctx {
    int64_t mint, maxt;
    pql_series_out *out;
    size_t n, cap;
} msel_ctx;

static void msel_series(pql_q *q, void *arg, const labels *l, const pql_raw *raw) {
    msel_ctx *c = arg;
    size_t k = 0;
    for (size_t j = 0; j < raw->n; j++)
        if (raw->t[j] > c->mint && !is_stale_nan(raw->v[j])) k++;
    if (!k) return;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        c->out = q_realloc(q, c->out, nc * sizeof *c->out);
        c->cap = nc;
    }
    pql_point *p = q_arena(q, k * sizeof *p);
    k = 0;
    for (size_t j = 0; j < raw->n; j++)
        if (raw->t[j] > c->mint && !is_stale_nan(raw->v[j])) {
            p[k].t = raw->t[j];
            p[k].v = raw->v[j];
            k++;
        }
    q_samples_add(q, (int64_t)k);
    c->out[c->n].metric = labels_copy(q, l);
    c->out[c->n].points = p;
    c->out[c->n].npoints = k;
    c->n++;
}


static void exec_matrix_instant(pql_q *q, const ast_node *e, int64_t t, pql_result *r) {
    const ast_node *n = unwrap(e);
    pql_ev ev = {t, t, 1, 1};
    msel_ctx c = {0};
    if (n->kind == AST_MATRIX_SELECTOR) {
        const ast_node *vs = n->matrix.vs;
        int64_t off = mod_offset_ms(q, &vs->vs.mod);
        int64_t T = sel_time(q, &ev, &vs->vs.mod, off, 0);
        c.maxt = T;
        c.mint = T - node_range_ms(q, n);
        select_series(q, vs, c.mint + 1, c.maxt, msel_series, &c);
    } else if (n->kind == AST_SUBQUERY) {
        pql_ev inner;
        int64_t off;
        pql_vec v = subquery_eval(q, &ev, n, 0, &inner, &off);
        for (size_t s = 0; s < v.n; s++) {
            size_t k = 0;
            for (size_t i = 0; i < inner.nsteps; i++)
                if (!pql_is_absent(v.s[s].v[i])) k++;
            if (!k) continue;
            if (c.n == c.cap) {
                size_t nc = c.cap ? c.cap * 2 : 8;
                c.out = q_realloc(q, c.out, nc * sizeof *c.out);
                c.cap = nc;
            }
            pql_point *p = q_arena(q, k * sizeof *p);
            k = 0;
            for (size_t i = 0; i < inner.nsteps; i++)
                if (!pql_is_absent(v.s[s].v[i])) {
                    p[k].t = ev_time(&inner, i);
                    p[k].v = v.s[s].v[i];
                    k++;
                }
            c.out[c.n].metric = v.s[s].lbls;
            c.out[c.n].points = p;
            c.out[c.n].npoints = k;
            c.n++;
        }
        vec_free(q, &v);
    } else {
        q_fail(q, PQL_ERR_INTERNAL, FLINT_EINVAL, "unsupported range-vector expression");
    }
    qsort(c.out, c.n, sizeof *c.out, cmp_series_out);
    for (size_t i = 1; i < c.n; i++)
        if (labels_equal(&c.out[i - 1].metric, &c.out[i].metric))
            q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "vector cannot contain metrics with the same labelset");
    r->type = PQL_TYPE_MATRIX;
    r->matrix = c.out;
    r->nmatrix = c.n;
}

static void exec_into(pql_q *q, const ast_node *e, int64_t start, int64_t end, int64_t step,
                      bool instant, pql_result *r) {
    if (instant && (e->type == PQL_TYPE_MATRIX)) {
        exec_matrix_instant(q, e, start, r);
        return;
    }
    pql_ev ev = {start, end, step, (size_t)((end - start) / step) + 1};
    if (e->type == PQL_TYPE_STRING) {
        size_t len;
        const char *s = string_arg(e, &len);
        r->type = PQL_TYPE_STRING;
        r->string = q_strdup(q, s, len);
        r->string_len = len;
        r->t = start;
        return;
    }
    pql_val v = eval_node(q, &ev, e);
    if (v.type == PQL_TYPE_SCALAR && instant) {
        r->type = PQL_TYPE_SCALAR;
        r->scalar = v.scalar[0];
        r->t = start;
        return;
    }
    if (v.type == PQL_TYPE_SCALAR) {
        pql_series_out *so = q_alloc(q, sizeof *so);
        so->metric.v = NULL;
        so->metric.n = 0;
        so->points = q_arena(q, ev.nsteps * sizeof(pql_point));
        for (size_t i = 0; i < ev.nsteps; i++) {
            so->points[i].t = ev_time(&ev, i);
            so->points[i].v = v.scalar[i];
        }
        so->npoints = ev.nsteps;
        r->type = PQL_TYPE_MATRIX;
        r->matrix = so;
        r->nmatrix = 1;
        return;
    }
    cleanup_names(q, &v.vec);
    if (instant) {
        pql_sample *out = q_alloc(q, (v.vec.n ? v.vec.n : 1) * sizeof *out);
        size_t k = 0;
        for (size_t s = 0; s < v.vec.n; s++) {
            if (pql_is_absent(v.vec.s[s].v[0])) continue;
            out[k].metric = v.vec.s[s].lbls;
            out[k].t = start;
            out[k].v = v.vec.s[s].v[0];
            k++;
        }
        r->type = PQL_TYPE_VECTOR;
        r->vector = out;
        r->nvector = k;
        return;
    }
    pql_series_out *out = q_alloc(q, (v.vec.n ? v.vec.n : 1) * sizeof *out);
    size_t k = 0;
    for (size_t s = 0; s < v.vec.n; s++) {
        size_t np = 0;
        for (size_t i = 0; i < ev.nsteps; i++)
            if (!pql_is_absent(v.vec.s[s].v[i])) np++;
        if (!np) continue;
        pql_point *p = q_arena(q, np * sizeof *p);
        np = 0;
        for (size_t i = 0; i < ev.nsteps; i++)
            if (!pql_is_absent(v.vec.s[s].v[i])) {
                p[np].t = ev_time(&ev, i);
                p[np].v = v.vec.s[s].v[i];
                np++;
            }
        out[k].metric = v.vec.s[s].lbls;
        out[k].points = p;
        out[k].npoints = np;
        k++;
    }
    qsort(out, k, sizeof *out, cmp_series_out);
    r->type = PQL_TYPE_MATRIX;
    r->matrix = out;
    r->nmatrix = k;
}

/* The memory a result keeps: the query context itself. */
void pql_result_free(pql_result *r) {
    if (!r) return;
    pql_q *q = r->mem_;
    if (q) {
        q_release(q);
        fl_free(q);
    }
    memset(r, 0, sizeof *r);
}

static int exec_common(const pql_engine *e, tsdb *db, const ast_node *expr, int64_t start,
                       int64_t end, int64_t step, bool instant, pql_result *r) {
    memset(r, 0, sizeof *r);
    pql_q *q = fl_calloc(1, sizeof *q);
    if (!q) {
        r->errtype = PQL_ERR_INTERNAL;
        snprintf(r->error, sizeof r->error, "out of memory");
        return FLINT_ENOMEM;
    }
    r->mem_ = q;
    q->eng = e;
    q->db = db;
    q->qstart = start;
    q->qend = end;
    q->lookback = e->o.lookback_ms;
    q->default_step = e->o.default_step_ms;
    q->max_samples = e->o.max_samples;
    q->pool.next = q->pool.prev = &q->pool;
    q->cancel = tls_cancel;
    if (e->o.timeout_ms > 0) q->deadline_ns = now_ns() + e->o.timeout_ms * 1000000LL;
    if (setjmp(q->jb)) {
        /* Error: release everything the query holds, keep the message. */
        r->errtype = q->errtype;
        snprintf(r->error, sizeof r->error, "%s", q->errmsg);
        int code = q->errcode ? q->errcode : FLINT_EINVAL;
        q_release(q);
        fl_free(q);
        r->mem_ = NULL;
        r->type = PQL_TYPE_NONE;
        r->vector = NULL;
        r->matrix = NULL;
        r->nvector = r->nmatrix = 0;
        r->annotations = NULL;
        r->nannotations = 0;
        return code;
    }
    if (!instant) {
        if (step <= 0)
            q_fail(q, PQL_ERR_BAD_DATA, FLINT_EINVAL,
                   "zero or negative query resolution step widths are not accepted. Try a positive integer");
        if (end < start) q_fail(q, PQL_ERR_BAD_DATA, FLINT_EINVAL, "end timestamp must not be before start time");
        const ast_node *u = unwrap(expr);
        if (u->type != PQL_TYPE_SCALAR && u->type != PQL_TYPE_VECTOR)
            q_fail(q, PQL_ERR_BAD_DATA, FLINT_EINVAL,
                   "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                   pql_type_name(u->type));
    }
    exec_into(q, expr, start, end, instant ? 1 : step, instant, r);
    r->annotations = q->annos;
    r->nannotations = q->nannos;
    return 0;
}

int pql_exec_instant(const pql_engine *e, tsdb *db, const ast_node *expr, int64_t t_ms, pql_result *r) {
    return exec_common(e, db, expr, t_ms, t_ms, 1, true, r);
}

int pql_exec_range(const pql_engine *e, tsdb *db, const ast_node *expr, int64_t start_ms,
                   int64_t end_ms, int64_t step_ms, pql_result *r) {
    return exec_common(e, db, expr, start_ms, end_ms, step_ms, false, r);
}

static int parse_for(const char *query, size_t len, ast_node **tree, pql_result *r) {
    pql_error err;
    memset(r, 0, sizeof *r);
    int rc = pql_parse(query, len, tree, &err);
    if (rc) {
        r->errtype = rc == FLINT_ENOMEM ? PQL_ERR_INTERNAL : PQL_ERR_BAD_DATA;
        snprintf(r->error, sizeof r->error, "%s", err.msg);
    }
    return rc;
}

int pql_query_instant(const pql_engine *e, tsdb *db, const char *query, size_t len, int64_t t_ms,
                      pql_result *r) {
    ast_node *tree;
    int rc = parse_for(query, len, &tree, r);
    if (rc) return rc;
    rc = pql_exec_instant(e, db, tree, t_ms, r);
    ast_free(tree);
    return rc;
}

int pql_query_range(const pql_engine *e, tsdb *db, const char *query, size_t len, int64_t start_ms,
                    int64_t end_ms, int64_t step_ms, pql_result *r) {
    ast_node *tree;
    int rc = parse_for(query, len, &tree, r);
    if (rc) return rc;
    rc = pql_exec_range(e, db, tree, start_ms, end_ms, step_ms, r);
    ast_free(tree);
    return rc;
}
