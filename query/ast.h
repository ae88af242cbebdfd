/*
 * ast.h - the PromQL syntax tree that query/parse.c produces and the
 * evaluator consumes: node kinds, value types, the function table,
 * constructors, ast_free, and two printers (Prometheus' String() form for
 * /api/v1/format_query and tests, and an S-expression that shows the
 * tree's shape).
 *
 * Shape (mirrors Prometheus' promql/parser/ast.go):
 *
 *   AST_NUMBER          scalar literal; `duration` set when written as 5m
 *   AST_STRING          string literal, unescaped bytes
 *   AST_VECTOR_SELECTOR name{l="v",...} with its offset and @ modifiers
 *   AST_MATRIX_SELECTOR vs[range]; the offset/@ live on the inner `vs`
 *   AST_SUBQUERY        expr[range:step] with its own offset/@
 *   AST_CALL            func(args...)
 *   AST_AGGREGATE       op by|without (labels) ([param,] expr)
 *   AST_BINARY          lhs op [bool] [on|ignoring (..) [group_x (..)]] rhs
 *   AST_UNARY           -expr / +expr (never on a number: "-1" is a number)
 *   AST_PAREN           (expr)
 *   AST_DURATION_EXPR   arithmetic inside [..] and after offset (lhs NULL
 *                       for unary minus); evaluate with ast_duration_ms()
 *   AST_STEP_INVARIANT  wrapper the evaluator may insert; never parsed
 *
 * Every node carries its value type (set at construction) and its byte
 * range [start, end) in the query text. Nodes own their children and
 * strings; ast_free releases a whole tree. A tree is never shared.
 *
 * After a successful pql_parse the tree is type-checked like Prometheus'
 * checkAST: function and aggregation argument types are right, binary
 * operands are scalars or instant vectors, and `binary.matching` is NULL
 * exactly when one side is a scalar (set operators always get
 * AST_CARD_MANY_TO_MANY).
 */
#ifndef FLINT_QUERY_AST_H
#define FLINT_QUERY_AST_H

#include "storage/buf.h"
#include "tsdb/labels.h" /* match_type */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Expression value types. */
typedef enum pql_value_type {
    PQL_TYPE_NONE = 0,
    PQL_TYPE_SCALAR,
    PQL_TYPE_VECTOR, /* instant vector */
    PQL_TYPE_MATRIX, /* range vector */
    PQL_TYPE_STRING,
} pql_value_type;

/* "scalar", "instant vector", "range vector", "string", "none"
 * (Prometheus' DocumentedType, used in error messages). */
const char *pql_type_name(pql_value_type t);
/* "scalar", "vector", "matrix", "string", "none" (Prometheus' ValueType). */
const char *pql_type_short_name(pql_value_type t);

typedef enum ast_kind {
    AST_NUMBER,
    AST_STRING,
    AST_VECTOR_SELECTOR,
    AST_MATRIX_SELECTOR,
    AST_SUBQUERY,
    AST_CALL,
    AST_AGGREGATE,
    AST_BINARY,
    AST_UNARY,
    AST_PAREN,
    AST_DURATION_EXPR,
    AST_STEP_INVARIANT,
} ast_kind;

/* Binary, unary and duration-expression operators. */
typedef enum ast_op {
    AST_OP_ADD, AST_OP_SUB, AST_OP_MUL, AST_OP_DIV, AST_OP_MOD, AST_OP_POW, AST_OP_ATAN2,
    AST_OP_EQLC, AST_OP_NEQ, AST_OP_GTR, AST_OP_LSS, AST_OP_GTE, AST_OP_LTE,
    AST_OP_AND, AST_OP_OR, AST_OP_UNLESS,
} ast_op;

const char *ast_op_name(ast_op op); /* "+", "==", "and", "atan2" ... */
bool ast_op_is_comparison(ast_op op);
bool ast_op_is_set(ast_op op); /* and or unless */

typedef enum ast_agg_op {
    AST_AGG_SUM, AST_AGG_AVG, AST_AGG_COUNT, AST_AGG_MIN, AST_AGG_MAX, AST_AGG_GROUP,
    AST_AGG_STDDEV, AST_AGG_STDVAR, AST_AGG_TOPK, AST_AGG_BOTTOMK, AST_AGG_COUNT_VALUES,
    AST_AGG_QUANTILE, AST_AGG_LIMITK, AST_AGG_LIMIT_RATIO,
} ast_agg_op;

const char *ast_agg_name(ast_agg_op op); /* "sum", "count_values" ... */
/* topk bottomk count_values quantile limitk limit_ratio take a parameter. */
bool ast_agg_has_param(ast_agg_op op);

/* Vector matching cardinality of a binary operation between vectors. */
typedef enum ast_card {
    AST_CARD_ONE_TO_ONE,
    AST_CARD_MANY_TO_ONE, /* group_left */
    AST_CARD_ONE_TO_MANY, /* group_right */
    AST_CARD_MANY_TO_MANY, /* and, or, unless */
} ast_card;

/* A list of owned, NUL-terminated label names. */
typedef struct ast_strlist {
    char **v;
    size_t n;
} ast_strlist;

typedef struct ast_matching {
    ast_card card;
    bool on;              /* on(labels) rather than ignoring(labels) */
    ast_strlist labels;   /* the on/ignoring labels */
    ast_strlist include;  /* group_left/group_right labels */
} ast_matching;

/* One label matcher of a selector. `name` and `value` are owned and
 * NUL-terminated; value_len counts bytes (a \x00 escape can put a NUL in a
 * value). For =~ and !~ the value is the unanchored pattern; the parser
 * has compiled it once (anchored, dot matches newline) to validate it. */
typedef struct ast_matcher {
    match_type type;
    char *name;
    char *value;
    size_t value_len;
    bool matches_empty; /* the matcher accepts "" (a series without the label) */
} ast_matcher;

/* The @ modifier. */
typedef enum ast_at_kind {
    AST_AT_NONE,
    AST_AT_TIMESTAMP, /* @ <number>: at_ms */
    AST_AT_START,     /* @ start() */
    AST_AT_END,       /* @ end() */
} ast_at_kind;

/* offset and @ of a vector selector or a subquery. The offset is either a
 * literal (offset_ms, negative allowed, 0 = none) or a duration expression
 * (offset_expr, an AST_NUMBER or AST_DURATION_EXPR to be evaluated with
 * ast_duration_ms(.., allow_negative = true)). */
typedef struct ast_modifiers {
    int64_t offset_ms;
    struct ast_node *offset_expr;
    ast_at_kind at;
    int64_t at_ms;
} ast_modifiers;

/* A PromQL function: name, argument types, return type. With `variadic`
 * 0 a call takes exactly nargs arguments. Otherwise the last declared type
 * is optional and repeatable: a call takes nargs-1 up to nargs-1+variadic
 * arguments (variadic > 0), or nargs-1 or more (variadic -1); the extra ones
 * have the last declared type (round(v [, to_nearest]), hour([v]),
 * label_join(v, dst, sep, src...)). Experimental functions are those that
 * Prometheus 3.5 guards with --enable-feature=promql-experimental-functions. */
typedef struct pql_function {
    const char *name;
    pql_value_type arg_types[5];
    uint8_t nargs;
    int8_t variadic;
    pql_value_type ret;
    bool experimental;
} pql_function;

/* Prometheus 3.5's function table, sorted by name. */
const pql_function *pql_function_lookup(const char *name, size_t len);
const pql_function *pql_functions(size_t *count);

typedef struct ast_node ast_node;

struct ast_node {
    ast_kind kind;
    pql_value_type type;
    uint32_t start, end; /* byte range [start, end) in the query */
    uint32_t height;     /* 1 + height of the tallest child; bounds recursion */
    union {
        struct {
            double value; /* seconds for durations */
            bool duration;
        } number;
        struct {
            char *s; /* owned, NUL-terminated, len bytes */
            size_t len;
        } string;
        struct {
            /* The metric name written before the braces, or NULL. When
             * set, matchers[nmatchers-1] is the `__name__="name"` matcher
             * added for it, so `matchers` alone selects the series. */
            char *name;
            ast_matcher *matchers;
            size_t nmatchers;
            ast_modifiers mod;
            /* info()'s second argument may match the empty string. */
            bool bypass_empty_check;
        } vs;
        struct {
            ast_node *vs; /* AST_VECTOR_SELECTOR; holds offset and @ */
            int64_t range_ms;
            ast_node *range_expr; /* AST_DURATION_EXPR instead of range_ms, or NULL */
        } matrix;
        struct {
            ast_node *expr;
            int64_t range_ms;
            ast_node *range_expr; /* or NULL */
            int64_t step_ms;      /* 0 with step_expr NULL: default step */
            ast_node *step_expr;  /* or NULL */
            ast_modifiers mod;
        } subquery;
        struct {
            const pql_function *func;
            ast_node **args;
            size_t nargs;
        } call;
        struct {
            ast_agg_op op;
            ast_node *expr;
            ast_node *param; /* NULL unless ast_agg_has_param(op) */
            ast_strlist grouping;
            bool without;
        } agg;
        struct {
            ast_op op;
            ast_node *lhs, *rhs;
            bool return_bool;
            ast_matching *matching; /* NULL when a side is a scalar */
        } binary;
        struct {
            ast_op op; /* AST_OP_ADD or AST_OP_SUB */
            ast_node *expr;
        } unary;
        struct {
            ast_node *expr;
        } paren, step_invariant;
        struct {
            ast_op op; /* + - * / % ^ */
            ast_node *lhs; /* NULL: unary minus of rhs */
            ast_node *rhs;
            bool wrapped; /* written in parentheses */
        } dur;
    };
};

/* ---- constructors ------------------------------------------------------------
 * Each returns a new node or NULL on out of memory. Node arguments are
 * taken over: on failure they are freed too, so `ast_new_paren(ast_new_...)`
 * chains never leak. NULL node arguments make the constructor fail (and
 * free the others); positions are byte offsets. */
ast_node *ast_new_number(double value, bool duration, uint32_t start, uint32_t end);
ast_node *ast_new_string(const char *s, size_t len, uint32_t start, uint32_t end);
/* An empty selector; add matchers with ast_vs_add_matcher. */
ast_node *ast_new_vector_selector(uint32_t start, uint32_t end);
/* Append a matcher (copies name and value). 0 or FLINT_ENOMEM. */
int ast_vs_add_matcher(ast_node *vs, match_type type, const char *name, size_t name_len,
                       const char *value, size_t value_len, bool matches_empty);
ast_node *ast_new_matrix(ast_node *vs, int64_t range_ms, ast_node *range_expr, uint32_t end);
ast_node *ast_new_subquery(ast_node *expr, int64_t range_ms, ast_node *range_expr,
                           int64_t step_ms, ast_node *step_expr, uint32_t end);
/* Takes over args[0..nargs) and the args array itself (fl_malloc'ed). */
ast_node *ast_new_call(const pql_function *f, ast_node **args, size_t nargs, uint32_t start, uint32_t end);
/* Takes over `grouping` (its strings and array) and expr/param. */
ast_node *ast_new_aggregate(ast_agg_op op, ast_node *param, ast_node *expr, ast_strlist grouping,
                            bool without, uint32_t start, uint32_t end);
/* Takes over `matching` (may be NULL). */
ast_node *ast_new_binary(ast_op op, ast_node *lhs, ast_node *rhs, bool return_bool, ast_matching *matching);
ast_node *ast_new_unary(ast_op op, ast_node *expr, uint32_t start);
ast_node *ast_new_paren(ast_node *expr, uint32_t start, uint32_t end);
/* lhs NULL for unary minus; start is the operator's offset then. */
ast_node *ast_new_duration_expr(ast_op op, ast_node *lhs, ast_node *rhs, uint32_t start);
ast_node *ast_new_step_invariant(ast_node *expr);
/* Recompute n->height after attaching children by hand. */
void ast_update_height(ast_node *n);

void ast_free(ast_node *n); /* NULL is a no-op */
void ast_strlist_free(ast_strlist *l);
void ast_matching_free(ast_matching *m);

/* Children in evaluation order (Prometheus' Children): aggregate -> expr,
 * param; binary -> lhs, rhs; call -> args; matrix -> vs; subquery, paren,
 * unary, step invariant -> expr. Duration expressions and offsets are not
 * children. */
size_t ast_child_count(const ast_node *n);
ast_node *ast_child(const ast_node *n, size_t i);

/* ---- printers --------------------------------------------------------------
 * Both append to `out` and keep it NUL-terminated (the NUL is not counted
 * in out->len). 0 or FLINT_ENOMEM (the buffer may then hold a prefix). */

/* Prometheus' String() form: `sum by (job) (rate(x{a="b"}[5m] offset 1m))`.
 * Matchers are sorted, the name matcher folds into the name, @ prints as
 * seconds with three decimals. Unlike Prometheus, an offset that is an
 * unparenthesised duration expression prints in parentheses and on/ignoring
 * labels are quoted when they must be, so the output always parses back to
 * the same tree. */
int ast_dump(const ast_node *n, fl_buf *out);
/* The tree's shape for tests and debugging, one line:
 * `(+ 1 (* 2 3))`, `(neg (paren x))`, `(call rate x[5m])`,
 * `(sum by (job) x)`, `(subquery x 1h 5m)`, `(subquery x 1h default)`.
 * Selectors and literals print as in ast_dump. */
int ast_dump_tree(const ast_node *n, fl_buf *out);

/* Evaluate a range/step/offset duration (AST_NUMBER or AST_DURATION_EXPR)
 * to milliseconds as Prometheus' engine does before evaluation. Fails with
 * FLINT_EINVAL and a message in `err` ("<start>:<end>: duration must be
 * greater than 0", "division by zero", "duration is out of range"). */
int ast_duration_ms(const ast_node *e, bool allow_negative, int64_t *ms, char *err, size_t errcap);

#endif
