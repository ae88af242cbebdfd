/*
 * parse.h - the PromQL front end: text in, a type-checked syntax tree
 * (query/ast.h) or an error with its byte position out. Used by the HTTP
 * API, the CLI, the rule evaluator and the conformance runner.
 *
 * It follows Prometheus 3.5's parser: the same syntax (including quoted
 * UTF-8 metric and label names, `@`, negative offsets, subqueries and the
 * experimental duration expressions), the same type checks, and error
 * texts worded like Prometheus' ("1:5: parse error: unexpected <op:*>").
 * Only the first error is reported, as Prometheus' Error() does.
 */
#ifndef FLINT_QUERY_PARSE_H
#define FLINT_QUERY_PARSE_H

#include "query/ast.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct pql_error {
    size_t pos;     /* byte offset of the error in the input */
    size_t end;     /* end of the offending range (>= pos) */
    char msg[512];  /* "<line>:<col>: parse error: <text>", col in bytes from 1 */
} pql_error;

typedef struct pql_parse_opts {
    /* Prometheus' --enable-feature=promql-experimental-functions: the
     * functions marked experimental in the table, limitk, limit_ratio. */
    bool experimental_functions;
    /* --enable-feature=promql-duration-expr: arithmetic and parentheses in
     * ranges, subquery steps and offsets (`x[5m+30s]`, `offset (1h/2)`). */
    bool duration_expressions;
} pql_parse_opts;

/* Both features on: flint accepts everything Prometheus 3.5 can be
 * configured to accept (its own PromQL test files need both). */
extern const pql_parse_opts pql_default_opts;

/* Expressions nested deeper than this (parentheses, operator chains,
 * calls) are rejected ("expression nesting too deep"), which bounds the
 * recursion of every tree walk. */
#define PQL_MAX_DEPTH 1000

/* Parse input[0..len) with pql_default_opts. On success returns 0 and
 * *out is the tree (caller frees with ast_free). On a syntax or type error
 * returns FLINT_EINVAL, *out is NULL and *err describes the first error;
 * FLINT_ENOMEM when memory ran out (err->msg says so). `input` need not be
 * NUL-terminated and may contain any bytes. opts NULL means the defaults. */
int pql_parse(const char *input, size_t len, ast_node **out, pql_error *err);
int pql_parse_ex(const char *input, size_t len, const pql_parse_opts *opts, ast_node **out, pql_error *err);

#endif
