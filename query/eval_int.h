/*
 * eval_int.h - internals shared by the evaluator's files (engine.c,
 * eval_labels.c, eval_binop.c, eval_agg.c, eval_func.c, eval_range.c).
 * Not for use outside query/.
 *
 * Model. Every node is evaluated over all steps of its evaluation window
 * (pql_ev: start, end, interval) at once, series by series, like
 * Prometheus' rangeEval but column-oriented: an instant-vector value is a
 * list of series, each with one double per step; a step without a point
 * holds the "absent" NaN (a signalling-NaN bit pattern that arithmetic
 * never produces). An instant query is a window of one step. Selectors read
 * each series' samples once per query and slide over the steps; range
 * functions over a selector do so on several threads (select_series_par).
 *
 * Memory and errors. Everything a query allocates belongs to the query:
 * value arrays to a pool (freed early when a node is done with them), label
 * sets and strings to an arena. Errors (including out of memory, timeouts
 * and the sample limit) unwind with longjmp to the query entry point, which
 * frees the pool, the arena and any open querier registered with the
 * query. That keeps the evaluator free of error plumbing while "memory is
 * released when a query ends early" holds by construction.
 */
#ifndef FLINT_QUERY_EVAL_INT_H
#define FLINT_QUERY_EVAL_INT_H

#include "query/ast.h"
#include "query/engine.h"
#include "tsdb/labels.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PQL_ABSENT_BITS 0x7ff00000000000a1ULL

static inline double pql_absent(void) {
    uint64_t b = PQL_ABSENT_BITS;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}
static inline bool pql_is_absent(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == PQL_ABSENT_BITS;
}

/* The evaluation window of a node. */
typedef struct pql_ev {
    int64_t start, end, interval;
    size_t nsteps;
} pql_ev;

static inline int64_t ev_time(const pql_ev *ev, size_t i) {
    return ev->start + (int64_t)i * ev->interval;
}

/* One series of an instant-vector value. */
typedef struct pql_series {
    labels lbls;    /* arena-owned */
    double *v;      /* nsteps values, pool-owned; absent where no point */
    bool drop_name; /* delayed __name__ removal mark */
} pql_series;

typedef struct pql_vec {
    pql_series *s;
    size_t n, cap;
} pql_vec;

typedef struct pql_val {
    pql_value_type type;
    double *scalar; /* PQL_TYPE_SCALAR: nsteps values */
    pql_vec vec;    /* PQL_TYPE_VECTOR */
    const char *str;
    size_t str_len;
} pql_val;

typedef struct pql_q pql_q;

/* ---- query context ------------------------------------------------------ */
typedef struct pql_pool_hdr {
    struct pql_pool_hdr *prev, *next;
    size_t size;
    size_t pad_;
} pql_pool_hdr;

typedef struct pql_arena_blk {
    struct pql_arena_blk *next;
    size_t used, cap;
    /* data follows */
} pql_arena_blk;

typedef struct pql_cleanup {
    void (*fn)(void *);
    void *arg;
} pql_cleanup;

struct pql_q {
    const pql_engine *eng;
    tsdb *db;
    int64_t qstart, qend; /* for @ start() / end() */
    int64_t lookback;
    int64_t default_step;
    jmp_buf jb;
    pql_pool_hdr pool; /* sentinel of a circular list */
    pql_arena_blk *arena;
    int64_t samples, max_samples;
    int64_t deadline_ns; /* 0 = none */
    volatile int *cancel;
    unsigned poll;
    pql_errtype errtype;
    int errcode;
    char errmsg[1024];
    pql_annotation *annos;
    size_t nannos, cap_annos;
    pql_cleanup *cleanups;
    size_t ncleanups, cap_cleanups;
};

struct pql_engine {
    pql_engine_opts o;
};

/* engine.c */
_Noreturn void q_fail(pql_q *q, pql_errtype t, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
_Noreturn void q_oom(pql_q *q);
void *q_alloc(pql_q *q, size_t n);        /* pool; never NULL */
void *q_calloc(pql_q *q, size_t n);
void *q_realloc(pql_q *q, void *p, size_t n);
void q_free(pql_q *q, void *p);           /* NULL ok */
void *q_arena(pql_q *q, size_t n);        /* arena, 8-aligned; never NULL */
char *q_strdup(pql_q *q, const char *s, size_t n); /* arena */
void q_annotate(pql_q *q, pql_anno_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void q_check(pql_q *q);                   /* timeout / cancel poll */
void q_samples_add(pql_q *q, int64_t n);  /* counts held samples; fails at the limit */
int q_push_cleanup(pql_q *q, void (*fn)(void *), void *arg); /* returns slot */
void q_pop_cleanup(pql_q *q, int slot, bool run);

double *q_steps(pql_q *q, const pql_ev *ev);     /* nsteps absent values */
/* The same for select_series_par's work functions (any thread; NULL when
 * out of memory), and q_free for what they allocated. */
double *q_steps_shared(pql_q *q, const pql_ev *ev);
void q_free_shared(pql_q *q, void *p);
void vec_push(pql_q *q, pql_vec *v, labels l, double *vals, bool drop_name);
void vec_free(pql_q *q, pql_vec *v);
void val_free(pql_q *q, pql_val *v);

pql_val eval_node(pql_q *q, const pql_ev *ev, const ast_node *n);
/* Scalar value of a node, one per step (caller frees with q_free). */
double *eval_scalar(pql_q *q, const pql_ev *ev, const ast_node *n);
int64_t node_range_ms(pql_q *q, const ast_node *n);   /* matrix selector / subquery */
int64_t mod_offset_ms(pql_q *q, const ast_modifiers *m);
/* Unwraps parens and step-invariant wrappers. */
const ast_node *unwrap(const ast_node *n);
const char *string_arg(const ast_node *n, size_t *len);

/* ---- labels (eval_labels.c) --------------------------------------------- */
typedef struct lbuild {
    label *v;
    size_t n, cap;
} lbuild;

void lb_from(pql_q *q, lbuild *b, const labels *l);
void lb_put(pql_q *q, lbuild *b, const char *name, const char *value); /* set; "" deletes */
void lb_remove(lbuild *b, const char *name);
void lb_keep_only(lbuild *b, char *const *names, size_t n);
/* Sorted copy in the arena (strings are shared, not copied). */
labels lb_finish(pql_q *q, lbuild *b);
void lb_release(pql_q *q, lbuild *b);
/* Deep copy into the arena (for labels borrowed from storage). */
labels labels_copy(pql_q *q, const labels *l);
labels labels_drop_meta(pql_q *q, const labels *l); /* without __name__ __type__ __unit__ */
bool is_meta_label(const char *name);

/* Signature bytes: on=true keeps only `names`; on=false drops `names` and
 * __name__. The text is arena-owned. */
const char *labels_signature(pql_q *q, const labels *l, bool on, char *const *names, size_t n,
                             size_t *len);
/* Prometheus' String() into an arena string. */
const char *labels_str(pql_q *q, const labels *l);

/* A hash map from byte strings to indices. */
typedef struct smap {
    struct smap_ent *e;
    size_t cap, n;
} smap;
struct smap_ent {
    const char *k;
    size_t len;
    uint64_t h;
    size_t val;
};
void smap_init(smap *m);
/* Returns the index stored for k, or inserts `val` and returns it; *found
 * tells which. The key must stay valid (arena). */
size_t smap_get_or_put(pql_q *q, smap *m, const char *k, size_t len, size_t val, bool *found);
bool smap_get(const smap *m, const char *k, size_t len, size_t *val);
void smap_free(pql_q *q, smap *m);

/* Output collector: series keyed by label set, with the "same labelset at
 * the same step" error. */
typedef struct collector {
    pql_vec out;
    smap map;
    size_t nsteps;
} collector;
void coll_init(collector *c, const pql_ev *ev);
size_t coll_series(pql_q *q, collector *c, labels l, bool drop_name);
void coll_set(pql_q *q, collector *c, size_t idx, size_t step, double v);
pql_vec coll_take(pql_q *q, collector *c);

/* ---- node evaluators ------------------------------------------------------ */
pql_val eval_binary(pql_q *q, const pql_ev *ev, const ast_node *n);
pql_val eval_aggregate(pql_q *q, const pql_ev *ev, const ast_node *n);
pql_val eval_call(pql_q *q, const pql_ev *ev, const ast_node *n);
/* Range-vector functions (eval_range.c), called from eval_call. */
pql_val eval_range_call(pql_q *q, const pql_ev *ev, const ast_node *n, size_t matrix_arg);

pql_vec eval_vector_selector(pql_q *q, const pql_ev *ev, const ast_node *vs, bool timestamps);
/* Evaluates a subquery's inner expression over its aligned steps (*inner). */
pql_vec subquery_eval(pql_q *q, const pql_ev *ev, const ast_node *sq, size_t unused, pql_ev *inner,
                      int64_t *offset_out);
/* absent()'s labels: the equality matchers of a selector argument. */
labels absent_labels(pql_q *q, const ast_node *arg);

/* Samples of one series for range functions: timestamps and values, stale
 * markers removed. */
typedef struct pql_raw {
    int64_t *t;
    double *v;
    size_t n, cap;
    bool finite; /* select_series_par: every value known finite (no stale markers) */
} pql_raw;

/* A selector's series with all their samples in [mint, maxt] (stale markers
 * kept). The callback gets each series in label order. */
typedef void (*series_fn)(pql_q *q, void *ctx, const labels *l, const pql_raw *raw);
void select_series(pql_q *q, const ast_node *vs, int64_t mint, int64_t maxt, series_fn fn,
                   void *ctx);
/* Parallel form for per-series work that needs nothing of the query: the
 * series are snapshotted in label order on the calling thread (labels
 * copied into the arena), begin(n) sizes the caller's per-series output,
 * work(ctx, i, raw) runs on up to 4 threads (the calling one included) and
 * must not touch the pql_q (but through q_steps_shared and q_free_shared)
 * nor anything shared but its own slot i; raw
 * holds the series' samples in [mint, maxt], stale markers kept, in a
 * buffer the work may rewrite. Then done(i) runs on the calling thread for
 * every series in order, where limits, annotations and errors happen as in
 * select_series. */
typedef void (*series_begin_fn)(pql_q *q, void *ctx, size_t n);
typedef int (*series_work_fn)(void *ctx, size_t i, pql_raw *raw); /* 0 or FLINT_E* */
typedef void (*series_done_fn)(pql_q *q, void *ctx, size_t i, const labels *l);
void select_series_par(pql_q *q, const ast_node *vs, int64_t mint, int64_t maxt,
                       series_begin_fn begin, series_work_fn work, series_done_fn done, void *ctx);
/* fn over [0, n) cut into contiguous ranges, one per thread (the calling
 * one included) when `work` (elements touched) is large; fn must not touch
 * the pql_q nor anything outside its range. Returns when all are done. */
void q_parallel_ranges(pql_q *q, size_t n, size_t work, void (*fn)(void *ctx, size_t lo, size_t hi),
                       void *ctx);
/* Selector time for step i of ev (honours @ and offset). */
int64_t sel_time(pql_q *q, const pql_ev *ev, const ast_modifiers *m, int64_t offset, size_t i);

/* Kahan-Neumaier step as Prometheus' kahanSumInc. */
static inline void kahan_inc(double inc, double *sum, double *c) {
    double t = *sum + inc;
    if (__builtin_isinf(t)) *c = 0;
    else if (__builtin_fabs(*sum) >= __builtin_fabs(inc)) *c += (*sum - t) + inc;
    else *c += (inc - t) + *sum;
    *sum = t;
}

/* quantile of values (sorted in place), Prometheus' quantile(). */
double pql_quantile(double q, double *vals, size_t n);
/* Natural-order compare (facette/natsort semantics). */
bool natsort_less(const char *a, const char *b);

#endif
