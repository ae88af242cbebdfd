/*
 * check.c - type checking of a parsed PromQL tree, after Prometheus'
 * checkAST: function and aggregation argument counts and types, operand
 * types of binary and unary operators, vector matching rules, subqueries
 * only over instant vectors, and selectors that cannot select everything.
 * Children are checked before their parent, so the first error recorded is
 * the one Prometheus reports.
 */
#include "query/literal.h"
#include "query/parse_int.h"

#include <stdio.h>
#include <string.h>

static pql_value_type check(pql_parser *P, ast_node *n);

static const char *quoted(char *out, size_t cap, const char *s) { return pql_quote_str(out, cap, s, strlen(s)); }

static void expect_type(pql_parser *P, ast_node *n, pql_value_type want, const char *context) {
    pql_value_type t = check(P, n);
    if (t != want)
        pql_error_at(P, n->start, n->end, "expected type %s in %s, got %s", pql_type_name(want), context, pql_type_name(t));
}

static bool scalar_or_vector(pql_value_type t) { return t == PQL_TYPE_SCALAR || t == PQL_TYPE_VECTOR; }

/* The operator's own bytes, for errors about it: from the end of the left
 * operand to the start of the right one, trimmed of white space. */
static size_t op_pos(const pql_parser *P, const ast_node *n) {
    size_t p = n->binary.lhs->end;
    while (p < P->len && strchr(" \t\n\r", P->input[p]) && P->input[p]) p++;
    return p;
}

static void check_binary(pql_parser *P, ast_node *n) {
    pql_value_type lt = check(P, n->binary.lhs), rt = check(P, n->binary.rhs);
    ast_op op = n->binary.op;
    ast_matching *m = n->binary.matching;
    size_t at = op_pos(P, n);
    char q[64];
    quoted(q, sizeof q, ast_op_name(op));

    if (n->binary.return_bool && !ast_op_is_comparison(op))
        pql_error_at(P, at, at + 1, "bool modifier can only be used on comparison operators");
    if (ast_op_is_comparison(op) && !n->binary.return_bool && n->binary.lhs->type == PQL_TYPE_SCALAR &&
        n->binary.rhs->type == PQL_TYPE_SCALAR)
        pql_error_at(P, at, at + 1, "comparisons between scalars must use BOOL modifier");
    if (m && ast_op_is_set(op) && m->card == AST_CARD_ONE_TO_ONE) m->card = AST_CARD_MANY_TO_MANY;
    if (m && m->on)
        for (size_t i = 0; i < m->labels.n; i++)
            for (size_t j = 0; j < m->include.n; j++)
                if (strcmp(m->labels.v[i], m->include.v[j]) == 0) {
                    char l[160];
                    quoted(l, sizeof l, m->labels.v[i]);
                    pql_error_at(P, at, at + 1, "label %s must not occur in ON and GROUP clause at once", l);
                }
    if (!scalar_or_vector(lt))
        pql_error_at(P, n->binary.lhs->start, n->binary.lhs->end,
                     "binary expression must contain only scalar and instant vector types");
    if (!scalar_or_vector(rt))
        pql_error_at(P, n->binary.rhs->start, n->binary.rhs->end,
                     "binary expression must contain only scalar and instant vector types");
    if ((lt != PQL_TYPE_VECTOR || rt != PQL_TYPE_VECTOR) && m) {
        if (m->labels.n) pql_error_at(P, n->start, n->end, "vector matching only allowed between instant vectors");
        ast_matching_free(m);
        n->binary.matching = m = NULL;
    } else if (m && ast_op_is_set(op)) {
        if (m->card == AST_CARD_ONE_TO_MANY || m->card == AST_CARD_MANY_TO_ONE)
            pql_error_at(P, n->start, n->end, "no grouping allowed for %s operation", q);
        if (m->card != AST_CARD_MANY_TO_MANY)
            pql_error_at(P, n->start, n->end, "set operations must always be many-to-many");
    }
    if ((lt == PQL_TYPE_SCALAR || rt == PQL_TYPE_SCALAR) && ast_op_is_set(op))
        pql_error_at(P, n->start, n->end, "set operator %s not allowed in binary scalar expression", q);
}

static void check_call(pql_parser *P, ast_node *n) {
    const pql_function *f = n->call.func;
    size_t nargs = n->call.nargs;
    char q[64], ctx[96];
    quoted(q, sizeof q, f->name);
    if (f->variadic == 0) {
        if (f->nargs != nargs)
            pql_error_at(P, n->start, n->end, "expected %d argument(s) in call to %s, got %zu", f->nargs, q, nargs);
    } else {
        size_t required = (size_t)f->nargs - 1;
        if (required > nargs)
            pql_error_at(P, n->start, n->end, "expected at least %zu argument(s) in call to %s, got %zu", required, q,
                         nargs);
        else if (f->variadic > 0 && required + (size_t)f->variadic < nargs)
            pql_error_at(P, n->start, n->end, "expected at most %zu argument(s) in call to %s, got %zu",
                         required + (size_t)f->variadic, q, nargs);
    }
    /* info(v, {selector}): the selector may be all-empty but has no name. */
    if (strcmp(f->name, "info") == 0 && nargs > 1) {
        ast_node *sel = n->call.args[1];
        if (sel->type != PQL_TYPE_VECTOR)
            pql_error_at(P, n->start, n->end, "expected type %s in call to function %s, got %s",
                         pql_type_name(PQL_TYPE_VECTOR), q, pql_type_name(sel->type));
        if (sel->kind != AST_VECTOR_SELECTOR || sel->vs.name)
            pql_error_at(P, sel->start, sel->end, "expected label selectors only, got %s instead",
                         sel->kind == AST_VECTOR_SELECTOR ? "vector selector" : "expression");
        else sel->vs.bypass_empty_check = true;
    }
    snprintf(ctx, sizeof ctx, "call to function %s", q);
    for (size_t i = 0; i < nargs; i++) {
        size_t t = i;
        if (i >= f->nargs) {
            if (f->variadic == 0) break;
            t = f->nargs - 1u;
        }
        expect_type(P, n->call.args[i], f->arg_types[t], ctx);
    }
}

static void check_selector(pql_parser *P, ast_node *n) {
    if (n->vs.name) {
        /* The last matcher is the one the name added. */
        for (size_t i = 0; i + 1 < n->vs.nmatchers; i++)
            if (strcmp(n->vs.matchers[i].name, "__name__") == 0) {
                char a[160], b[160];
                quoted(a, sizeof a, n->vs.name);
                pql_quote_str(b, sizeof b, n->vs.matchers[i].value, n->vs.matchers[i].value_len);
                pql_error_at(P, n->start, n->end, "metric name must not be set twice: %s or %s", a, b);
            }
        return;
    }
    if (n->vs.bypass_empty_check) return;
    for (size_t i = 0; i < n->vs.nmatchers; i++)
        if (!n->vs.matchers[i].matches_empty) return;
    pql_error_at(P, n->start, n->end, "vector selector must contain at least one non-empty matcher");
}

static pql_value_type check(pql_parser *P, ast_node *n) {
    switch (n->kind) {
    case AST_AGGREGATE:
        expect_type(P, n->agg.expr, PQL_TYPE_VECTOR, "aggregation expression");
        if (n->agg.op == AST_AGG_COUNT_VALUES) expect_type(P, n->agg.param, PQL_TYPE_STRING, "aggregation parameter");
        else if (n->agg.param) expect_type(P, n->agg.param, PQL_TYPE_SCALAR, "aggregation parameter");
        break;
    case AST_BINARY: check_binary(P, n); break;
    case AST_CALL: check_call(P, n); break;
    case AST_PAREN: check(P, n->paren.expr); break;
    case AST_STEP_INVARIANT: check(P, n->step_invariant.expr); break;
    case AST_UNARY: {
        pql_value_type t = check(P, n->unary.expr);
        if (!scalar_or_vector(t))
            pql_error_at(P, n->start, n->end,
                         "unary expression only allowed on expressions of type scalar or instant vector, got \"%s\"",
                         pql_type_name(t));
        break;
    }
    case AST_SUBQUERY: {
        pql_value_type t = check(P, n->subquery.expr);
        if (t != PQL_TYPE_VECTOR)
            pql_error_at(P, n->start, n->end, "subquery is only allowed on instant vector, got %s instead",
                         pql_type_short_name(t));
        break;
    }
    case AST_MATRIX_SELECTOR: check(P, n->matrix.vs); break;
    case AST_VECTOR_SELECTOR: check_selector(P, n); break;
    case AST_NUMBER:
    case AST_STRING:
    case AST_DURATION_EXPR: break;
    }
    return n->type;
}

void pql_check(pql_parser *P, ast_node *root) { check(P, root); }
