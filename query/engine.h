/*
 * engine.h - the PromQL evaluator: instant and range queries over a tsdb
 * (read only through the querier of tsdb/db.h), with Prometheus 3.5
 * semantics: 5-minute look-back with a left-open window, left-open range
 * windows (t-range, t], staleness markers, offset and @ (start()/end()),
 * subqueries, delayed __name__ removal, annotations, sample limits and a
 * timeout. Used by the HTTP API (web/), the CLI and tests/promql/runner.c.
 *
 *   pql_engine *e = pql_engine_new(NULL);
 *   pql_result r;
 *   if (pql_query_range(e, db, q, strlen(q), start, end, step, &r) != 0)
 *       ... r.errtype, r.error ...
 *   else
 *       ... r.type == PQL_TYPE_MATRIX: r.matrix[0..r.nmatrix) ...
 *   pql_result_free(&r);   (always, success or not)
 *   pql_engine_free(e);
 *
 * Every result owns its memory (labels, points, annotations); nothing in it
 * borrows from the database. An engine is immutable after creation and may
 * be shared by threads; each query call is independent.
 */
#ifndef FLINT_QUERY_ENGINE_H
#define FLINT_QUERY_ENGINE_H

#include "query/ast.h"
#include "tsdb/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pql_engine_opts {
    int64_t lookback_ms;        /* instant-selector look-back; 0 = 5m */
    int64_t max_samples;        /* samples held at once per query; 0 = 50,000,000 */
    int64_t timeout_ms;         /* per query; 0 = 2 minutes, < 0 = none */
    int64_t default_step_ms;    /* subquery step when none is given; 0 = 1m */
    int threads;                /* threads per query for per-series work; 0 = CPUs, at most 4 */
} pql_engine_opts;

typedef struct pql_engine pql_engine;

/* NULL opts = defaults. NULL on out of memory. */
pql_engine *pql_engine_new(const pql_engine_opts *opts);
void pql_engine_free(pql_engine *e); /* NULL is a no-op */

/* What went wrong; the HTTP layer maps these to Prometheus' errorType. */
typedef enum pql_errtype {
    PQL_ERR_NONE = 0,
    PQL_ERR_BAD_DATA,   /* parse error, bad parameters (400 bad_data) */
    PQL_ERR_EXECUTION,  /* evaluation error (422 execution) */
    PQL_ERR_TIMEOUT,    /* query timed out (503 timeout) */
    PQL_ERR_CANCELED,   /* cancelled by the caller (503 canceled) */
    PQL_ERR_TOO_MANY_SAMPLES, /* max_samples reached (422 execution) */
    PQL_ERR_INTERNAL,   /* out of memory, storage error (500 internal) */
} pql_errtype;

typedef struct pql_point {
    int64_t t; /* ms */
    double v;
} pql_point;

/* A series of a matrix result: labels sorted by name, points by time. */
typedef struct pql_series_out {
    labels metric;
    pql_point *points;
    size_t npoints;
} pql_series_out;

/* An element of a vector result; t is the evaluation time. */
typedef struct pql_sample {
    labels metric;
    int64_t t;
    double v;
} pql_sample;

typedef enum pql_anno_kind { PQL_ANNO_WARNING, PQL_ANNO_INFO } pql_anno_kind;

/* "PromQL warning: ..." / "PromQL info: ..." (Prometheus' texts, without
 * the position suffix); duplicates are merged. */
typedef struct pql_annotation {
    pql_anno_kind kind;
    const char *text;
} pql_annotation;

typedef struct pql_result {
    /* PQL_TYPE_SCALAR, _VECTOR, _MATRIX or _STRING on success. */
    pql_value_type type;
    int64_t t;           /* evaluation time of a scalar/string/vector result */
    double scalar;
    const char *string;  /* NUL-terminated */
    size_t string_len;
    /* Vector results: instant queries keep the engine's order (sort(),
     * topk() ...); matrix results are sorted by labels. */
    pql_sample *vector;
    size_t nvector;
    pql_series_out *matrix;
    size_t nmatrix;
    pql_annotation *annotations;
    size_t nannotations;
    pql_errtype errtype;  /* PQL_ERR_NONE on success */
    char error[1024];     /* Prometheus' wording; "" on success */
    void *mem_;           /* internal: the memory everything above lives in */
} pql_result;

/* Release a result (success or failure). Safe to call twice. */
void pql_result_free(pql_result *r);

/* Parse and run an instant query at t_ms. Returns 0, or a negative
 * FLINT_E* with r->errtype and r->error set (FLINT_EINVAL for bad_data,
 * FLINT_ECANCELED for timeouts/cancel, FLINT_ELIMIT for the sample limit,
 * FLINT_ENOMEM, FLINT_EIO ...). r must be freed with pql_result_free either
 * way. */
int pql_query_instant(const pql_engine *e, tsdb *db, const char *query, size_t len,
                      int64_t t_ms, pql_result *r);
/* A range query over [start, end] every step ms (step > 0, end >= start).
 * The expression must be a scalar or an instant vector; the result is
 * always a matrix (a scalar becomes one series with no labels). */
int pql_query_range(const pql_engine *e, tsdb *db, const char *query, size_t len,
                    int64_t start_ms, int64_t end_ms, int64_t step_ms, pql_result *r);

/* The same for an already parsed tree (borrowed; the engine never changes
 * it). Used by the conformance runner to evaluate rewritten trees. */
int pql_exec_instant(const pql_engine *e, tsdb *db, const ast_node *expr, int64_t t_ms,
                     pql_result *r);
int pql_exec_range(const pql_engine *e, tsdb *db, const ast_node *expr, int64_t start_ms,
                   int64_t end_ms, int64_t step_ms, pql_result *r);

/* Cancellation: a query polls *flag (when set) and ends with
 * PQL_ERR_CANCELED once it becomes non-zero. Set per thread before the
 * call; NULL disables. */
void pql_set_cancel_flag(volatile int *flag);

#endif
