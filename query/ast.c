/*
 * ast.c - PromQL syntax tree: constructors, ast_free, child access, the
 * two printers (Prometheus' String() form and a tree form) and the
 * duration-expression evaluator. See ast.h for the node shapes; the
 * grammar actions that call these constructors live in build.c.
 */
#include "query/ast.h"
#include "query/literal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *pql_type_name(pql_value_type t) {
    switch (t) {
    case PQL_TYPE_SCALAR: return "scalar";
    case PQL_TYPE_VECTOR: return "instant vector";
    case PQL_TYPE_MATRIX: return "range vector";
    case PQL_TYPE_STRING: return "string";
    case PQL_TYPE_NONE: break;
    }
    return "none";
}

const char *pql_type_short_name(pql_value_type t) {
    switch (t) {
    case PQL_TYPE_SCALAR: return "scalar";
    case PQL_TYPE_VECTOR: return "vector";
    case PQL_TYPE_MATRIX: return "matrix";
    case PQL_TYPE_STRING: return "string";
    case PQL_TYPE_NONE: break;
    }
    return "none";
}

const char *ast_op_name(ast_op op) {
    static const char *const names[] = {
        [AST_OP_ADD] = "+", [AST_OP_SUB] = "-", [AST_OP_MUL] = "*", [AST_OP_DIV] = "/",
        [AST_OP_MOD] = "%", [AST_OP_POW] = "^", [AST_OP_ATAN2] = "atan2", [AST_OP_EQLC] = "==",
        [AST_OP_NEQ] = "!=", [AST_OP_GTR] = ">", [AST_OP_LSS] = "<", [AST_OP_GTE] = ">=",
        [AST_OP_LTE] = "<=", [AST_OP_AND] = "and", [AST_OP_OR] = "or", [AST_OP_UNLESS] = "unless",
    };
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

bool ast_op_is_comparison(ast_op op) { return op >= AST_OP_EQLC && op <= AST_OP_LTE; }
bool ast_op_is_set(ast_op op) { return op >= AST_OP_AND && op <= AST_OP_UNLESS; }

const char *ast_agg_name(ast_agg_op op) {
    static const char *const names[] = {
        [AST_AGG_SUM] = "sum", [AST_AGG_AVG] = "avg", [AST_AGG_COUNT] = "count",
        [AST_AGG_MIN] = "min", [AST_AGG_MAX] = "max", [AST_AGG_GROUP] = "group",
        [AST_AGG_STDDEV] = "stddev", [AST_AGG_STDVAR] = "stdvar", [AST_AGG_TOPK] = "topk",
        [AST_AGG_BOTTOMK] = "bottomk", [AST_AGG_COUNT_VALUES] = "count_values",
        [AST_AGG_QUANTILE] = "quantile", [AST_AGG_LIMITK] = "limitk", [AST_AGG_LIMIT_RATIO] = "limit_ratio",
    };
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

bool ast_agg_has_param(ast_agg_op op) {
    return op == AST_AGG_TOPK || op == AST_AGG_BOTTOMK || op == AST_AGG_COUNT_VALUES ||
           op == AST_AGG_QUANTILE || op == AST_AGG_LIMITK || op == AST_AGG_LIMIT_RATIO;
}

/* ---- children and height ------------------------------------------------------ */

size_t ast_child_count(const ast_node *n) {
    switch (n->kind) {
    case AST_AGGREGATE: return (n->agg.expr != NULL) + (n->agg.param != NULL);
    case AST_BINARY: return 2;
    case AST_CALL: return n->call.nargs;
    case AST_MATRIX_SELECTOR:
    case AST_SUBQUERY:
    case AST_UNARY:
    case AST_PAREN:
    case AST_STEP_INVARIANT: return 1;
    default: return 0;
    }
}

ast_node *ast_child(const ast_node *n, size_t i) {
    switch (n->kind) {
    case AST_AGGREGATE:
        if (i == 0) return n->agg.expr ? n->agg.expr : n->agg.param;
        return i == 1 && n->agg.expr ? n->agg.param : NULL;
    case AST_BINARY: return i == 0 ? n->binary.lhs : i == 1 ? n->binary.rhs : NULL;
    case AST_CALL: return i < n->call.nargs ? n->call.args[i] : NULL;
    case AST_MATRIX_SELECTOR: return i == 0 ? n->matrix.vs : NULL;
    case AST_SUBQUERY: return i == 0 ? n->subquery.expr : NULL;
    case AST_UNARY: return i == 0 ? n->unary.expr : NULL;
    case AST_PAREN: return i == 0 ? n->paren.expr : NULL;
    case AST_STEP_INVARIANT: return i == 0 ? n->step_invariant.expr : NULL;
    default: return NULL;
    }
}

static uint32_t height_of(const ast_node *n) { return n ? n->height : 0; }

void ast_update_height(ast_node *n) {
    uint32_t h = 0;
    for (size_t i = 0, c = ast_child_count(n); i < c; i++)
        if (height_of(ast_child(n, i)) > h) h = height_of(ast_child(n, i));
    const ast_node *extra[3] = {NULL, NULL, NULL};
    switch (n->kind) {
    case AST_VECTOR_SELECTOR: extra[0] = n->vs.mod.offset_expr; break;
    case AST_MATRIX_SELECTOR: extra[0] = n->matrix.range_expr; break;
    case AST_SUBQUERY:
        extra[0] = n->subquery.range_expr, extra[1] = n->subquery.step_expr,
        extra[2] = n->subquery.mod.offset_expr;
        break;
    case AST_DURATION_EXPR: extra[0] = n->dur.lhs, extra[1] = n->dur.rhs; break;
    default: break;
    }
    for (int i = 0; i < 3; i++)
        if (height_of(extra[i]) > h) h = height_of(extra[i]);
    n->height = h + 1;
}

/* ---- constructors ------------------------------------------------------------ */

static ast_node *node_new(ast_kind kind, pql_value_type type, uint32_t start, uint32_t end) {
    ast_node *n = fl_calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->type = type;
    n->start = start;
    n->end = end;
    n->height = 1;
    return n;
}

ast_node *ast_new_number(double value, bool duration, uint32_t start, uint32_t end) {
    ast_node *n = node_new(AST_NUMBER, PQL_TYPE_SCALAR, start, end);
    if (!n) return NULL;
    n->number.value = value;
    n->number.duration = duration;
    return n;
}

ast_node *ast_new_string(const char *s, size_t len, uint32_t start, uint32_t end) {
    ast_node *n = node_new(AST_STRING, PQL_TYPE_STRING, start, end);
    char *copy = fl_malloc(len + 1);
    if (!n || !copy) {
        fl_free(n);
        fl_free(copy);
        return NULL;
    }
    if (len) memcpy(copy, s, len);
    copy[len] = 0;
    n->string.s = copy;
    n->string.len = len;
    return n;
}

ast_node *ast_new_vector_selector(uint32_t start, uint32_t end) {
    return node_new(AST_VECTOR_SELECTOR, PQL_TYPE_VECTOR, start, end);
}

int ast_vs_add_matcher(ast_node *vs, match_type type, const char *name, size_t name_len,
                       const char *value, size_t value_len, bool matches_empty) {
    ast_matcher *grown = fl_realloc(vs->vs.matchers, (vs->vs.nmatchers + 1) * sizeof *grown);
    if (!grown) return FLINT_ENOMEM;
    vs->vs.matchers = grown;
    ast_matcher *m = &grown[vs->vs.nmatchers];
    m->name = fl_strndup(name, name_len);
    m->value = fl_malloc(value_len + 1);
    if (!m->name || !m->value) {
        fl_free(m->name);
        fl_free(m->value);
        return FLINT_ENOMEM;
    }
    if (value_len) memcpy(m->value, value, value_len);
    m->value[value_len] = 0;
    m->value_len = value_len;
    m->type = type;
    m->matches_empty = matches_empty;
    vs->vs.nmatchers++;
    return 0;
}

ast_node *ast_new_matrix(ast_node *vs, int64_t range_ms, ast_node *range_expr, uint32_t end) {
    ast_node *n = vs ? node_new(AST_MATRIX_SELECTOR, PQL_TYPE_MATRIX, vs->start, end) : NULL;
    if (!n) {
        ast_free(vs);
        ast_free(range_expr);
        return NULL;
    }
    n->matrix.vs = vs;
    n->matrix.range_ms = range_ms;
    n->matrix.range_expr = range_expr;
    ast_update_height(n);
    return n;
}

ast_node *ast_new_subquery(ast_node *expr, int64_t range_ms, ast_node *range_expr,
                           int64_t step_ms, ast_node *step_expr, uint32_t end) {
    ast_node *n = expr ? node_new(AST_SUBQUERY, PQL_TYPE_MATRIX, expr->start, end) : NULL;
    if (!n) {
        ast_free(expr);
        ast_free(range_expr);
        ast_free(step_expr);
        return NULL;
    }
    n->subquery.expr = expr;
    n->subquery.range_ms = range_ms;
    n->subquery.range_expr = range_expr;
    n->subquery.step_ms = step_ms;
    n->subquery.step_expr = step_expr;
    ast_update_height(n);
    return n;
}

ast_node *ast_new_call(const pql_function *f, ast_node **args, size_t nargs, uint32_t start, uint32_t end) {
    bool ok = f != NULL;
    for (size_t i = 0; i < nargs; i++) ok = ok && args[i];
    ast_node *n = ok ? node_new(AST_CALL, f->ret, start, end) : NULL;
    if (!n) {
        for (size_t i = 0; i < nargs; i++) ast_free(args[i]);
        fl_free(args);
        return NULL;
    }
    n->call.func = f;
    n->call.args = args;
    n->call.nargs = nargs;
    ast_update_height(n);
    return n;
}

ast_node *ast_new_aggregate(ast_agg_op op, ast_node *param, ast_node *expr, ast_strlist grouping,
                            bool without, uint32_t start, uint32_t end) {
    bool ok = expr && (param != NULL) == ast_agg_has_param(op);
    ast_node *n = ok ? node_new(AST_AGGREGATE, PQL_TYPE_VECTOR, start, end) : NULL;
    if (!n) {
        ast_free(param);
        ast_free(expr);
        ast_strlist_free(&grouping);
        return NULL;
    }
    n->agg.op = op;
    n->agg.param = param;
    n->agg.expr = expr;
    n->agg.grouping = grouping;
    n->agg.without = without;
    ast_update_height(n);
    return n;
}

ast_node *ast_new_binary(ast_op op, ast_node *lhs, ast_node *rhs, bool return_bool, ast_matching *matching) {
    ast_node *n = NULL;
    if (lhs && rhs) {
        bool scalar = lhs->type == PQL_TYPE_SCALAR && rhs->type == PQL_TYPE_SCALAR;
        n = node_new(AST_BINARY, scalar ? PQL_TYPE_SCALAR : PQL_TYPE_VECTOR, lhs->start, rhs->end);
    }
    if (!n) {
        ast_free(lhs);
        ast_free(rhs);
        ast_matching_free(matching);
        return NULL;
    }
    n->binary.op = op;
    n->binary.lhs = lhs;
    n->binary.rhs = rhs;
    n->binary.return_bool = return_bool;
    n->binary.matching = matching;
    ast_update_height(n);
    return n;
}

/* A node with one child expression and the child's type. */
static ast_node *wrap(ast_kind kind, ast_node *expr, uint32_t start, uint32_t end) {
    ast_node *n = expr ? node_new(kind, expr->type, start, end) : NULL;
    if (!n) {
        ast_free(expr);
        return NULL;
    }
    switch (kind) {
    case AST_UNARY: n->unary.expr = expr; break;
    case AST_PAREN: n->paren.expr = expr; break;
    default: n->step_invariant.expr = expr; break;
    }
    ast_update_height(n);
    return n;
}

ast_node *ast_new_unary(ast_op op, ast_node *expr, uint32_t start) {
    ast_node *n = wrap(AST_UNARY, expr, start, expr ? expr->end : start);
    if (n) n->unary.op = op;
    return n;
}

ast_node *ast_new_paren(ast_node *expr, uint32_t start, uint32_t end) { return wrap(AST_PAREN, expr, start, end); }

ast_node *ast_new_step_invariant(ast_node *expr) {
    return wrap(AST_STEP_INVARIANT, expr, expr ? expr->start : 0, expr ? expr->end : 0);
}

ast_node *ast_new_duration_expr(ast_op op, ast_node *lhs, ast_node *rhs, uint32_t start) {
    ast_node *n = rhs ? node_new(AST_DURATION_EXPR, PQL_TYPE_SCALAR, lhs ? lhs->start : start, rhs->end) : NULL;
    if (!n) {
        ast_free(lhs);
        ast_free(rhs);
        return NULL;
    }
    n->dur.op = op;
    n->dur.lhs = lhs;
    n->dur.rhs = rhs;
    ast_update_height(n);
    return n;
}

void ast_strlist_free(ast_strlist *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) fl_free(l->v[i]);
    fl_free(l->v);
    l->v = NULL;
    l->n = 0;
}

void ast_matching_free(ast_matching *m) {
    if (!m) return;
    ast_strlist_free(&m->labels);
    ast_strlist_free(&m->include);
    fl_free(m);
}

void ast_free(ast_node *n) {
    if (!n) return;
    switch (n->kind) {
    case AST_NUMBER: break;
    case AST_STRING: fl_free(n->string.s); break;
    case AST_VECTOR_SELECTOR:
        fl_free(n->vs.name);
        for (size_t i = 0; i < n->vs.nmatchers; i++) {
            fl_free(n->vs.matchers[i].name);
            fl_free(n->vs.matchers[i].value);
        }
        fl_free(n->vs.matchers);
        ast_free(n->vs.mod.offset_expr);
        break;
    case AST_MATRIX_SELECTOR:
        ast_free(n->matrix.vs);
        ast_free(n->matrix.range_expr);
        break;
    case AST_SUBQUERY:
        ast_free(n->subquery.expr);
        ast_free(n->subquery.range_expr);
        ast_free(n->subquery.step_expr);
        ast_free(n->subquery.mod.offset_expr);
        break;
    case AST_CALL:
        for (size_t i = 0; i < n->call.nargs; i++) ast_free(n->call.args[i]);
        fl_free(n->call.args);
        break;
    case AST_AGGREGATE:
        ast_free(n->agg.param);
        ast_free(n->agg.expr);
        ast_strlist_free(&n->agg.grouping);
        break;
    case AST_BINARY:
        ast_free(n->binary.lhs);
        ast_free(n->binary.rhs);
        ast_matching_free(n->binary.matching);
        break;
    case AST_UNARY: ast_free(n->unary.expr); break;
    case AST_PAREN: ast_free(n->paren.expr); break;
    case AST_STEP_INVARIANT: ast_free(n->step_invariant.expr); break;
    case AST_DURATION_EXPR:
        ast_free(n->dur.lhs);
        ast_free(n->dur.rhs);
        break;
    }
    fl_free(n);
}

/* ---- printing ------------------------------------------------------------------ */

static int put(fl_buf *b, const char *s) { return fl_buf_put(b, s, strlen(s)); }

/* A grouping/matching label as Prometheus prints it, quoted when it would
 * not lex back as a label: not a legacy name, or a word the lexer turns
 * into a number or a keyword that grouping does not accept. */
static int put_label(fl_buf *b, const char *s) {
    size_t n = strlen(s);
    bool quote = !pql_legacy_metric_name(s, n) || strcasecmp(s, "inf") == 0 || strcasecmp(s, "nan") == 0 ||
                 strcasecmp(s, "without") == 0;
    return quote ? pql_quote(b, s, n) : fl_buf_put(b, s, n);
}

static int put_labels(fl_buf *b, const ast_strlist *l) {
    if (put(b, "(")) return FLINT_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        if (i && put(b, ", ")) return FLINT_ENOMEM;
        if (put_label(b, l->v[i])) return FLINT_ENOMEM;
    }
    return put(b, ")");
}

static int put_matcher(fl_buf *b, const ast_matcher *m) {
    static const char *const ops[] = {[MATCH_EQ] = "=", [MATCH_NEQ] = "!=", [MATCH_RE] = "=~", [MATCH_NRE] = "!~"};
    size_t nlen = strlen(m->name);
    int rc = pql_legacy_label_name(m->name, nlen) ? fl_buf_put(b, m->name, nlen) : pql_quote(b, m->name, nlen);
    if (rc || put(b, ops[m->type])) return FLINT_ENOMEM;
    return pql_quote(b, m->value, m->value_len);
}

static int dump(const ast_node *n, fl_buf *b);

/* After `offset` only a signed literal or an expression that starts with a
 * parenthesis parses as the offset: `x offset 1m + 2` is (x offset 1m) + 2
 * and `x offset -1m ^ 2` is (x offset -1m) ^ 2. So an unparenthesised
 * binary expression, or a minus over one, prints in parentheses. */
static bool offset_needs_parens(const ast_node *e) {
    if (e->kind != AST_DURATION_EXPR || e->dur.wrapped) return false;
    return e->dur.lhs != NULL || offset_needs_parens(e->dur.rhs) || e->dur.rhs->kind != AST_DURATION_EXPR;
}

static int put_modifiers(fl_buf *b, const ast_modifiers *mod) {
    char tmp[64];
    switch (mod->at) {
    case AST_AT_TIMESTAMP:
        snprintf(tmp, sizeof tmp, " @ %.3f", (double)mod->at_ms / 1000.0);
        if (put(b, tmp)) return FLINT_ENOMEM;
        break;
    case AST_AT_START:
        if (put(b, " @ start()")) return FLINT_ENOMEM;
        break;
    case AST_AT_END:
        if (put(b, " @ end()")) return FLINT_ENOMEM;
        break;
    case AST_AT_NONE: break;
    }
    if (mod->offset_expr) {
        bool paren = offset_needs_parens(mod->offset_expr);
        if (put(b, paren ? " offset (" : " offset ") || dump(mod->offset_expr, b)) return FLINT_ENOMEM;
        return paren ? put(b, ")") : 0;
    }
    if (mod->offset_ms != 0) return put(b, " offset ") || pql_format_duration(b, mod->offset_ms) ? FLINT_ENOMEM : 0;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int dump_selector(const ast_node *n, fl_buf *b, bool with_modifiers) {
    const char *name = n->vs.name ? n->vs.name : "";
    if (put(b, name)) return FLINT_ENOMEM;
    /* Prometheus prints the matchers' strings sorted. */
    size_t count = 0;
    char **strs = n->vs.nmatchers ? fl_calloc(n->vs.nmatchers, sizeof *strs) : NULL;
    int rc = n->vs.nmatchers && !strs ? FLINT_ENOMEM : 0;
    for (size_t i = 0; !rc && i < n->vs.nmatchers; i++) {
        const ast_matcher *m = &n->vs.matchers[i];
        if (m->type == MATCH_EQ && strcmp(m->name, "__name__") == 0 && m->value_len && n->vs.name &&
            m->value_len == strlen(n->vs.name) && memcmp(m->value, n->vs.name, m->value_len) == 0)
            continue;
        fl_buf one = {0};
        if (put_matcher(&one, m) || fl_buf_put_byte(&one, 0)) {
            fl_buf_free(&one);
            rc = FLINT_ENOMEM;
        } else {
            strs[count++] = (char *)one.data;
        }
    }
    if (!rc && count) {
        qsort(strs, count, sizeof *strs, cmp_str);
        rc = put(b, "{");
        for (size_t i = 0; !rc && i < count; i++) rc = (i && put(b, ",")) || put(b, strs[i]) ? FLINT_ENOMEM : 0;
        if (!rc) rc = put(b, "}");
    }
    for (size_t i = 0; i < count; i++) fl_free(strs[i]);
    fl_free(strs);
    if (rc) return rc;
    return with_modifiers ? put_modifiers(b, &n->vs.mod) : 0;
}

static int put_range(fl_buf *b, int64_t ms, const ast_node *expr) {
    return expr ? dump(expr, b) : pql_format_duration(b, ms);
}

static int dump_number(const ast_node *n, fl_buf *b) {
    if (!n->number.duration) return pql_format_float(b, n->number.value);
    double v = n->number.value;
    if (v < 0 && put(b, "-")) return FLINT_ENOMEM;
    return pql_format_duration(b, llround(fabs(v) * 1000.0));
}

static int dump(const ast_node *n, fl_buf *b) {
    switch (n->kind) {
    case AST_NUMBER: return dump_number(n, b);
    case AST_STRING: return pql_quote(b, n->string.s, n->string.len);
    case AST_VECTOR_SELECTOR: return dump_selector(n, b, true);
    case AST_MATRIX_SELECTOR:
        if (dump_selector(n->matrix.vs, b, false) || put(b, "[") ||
            put_range(b, n->matrix.range_ms, n->matrix.range_expr) || put(b, "]"))
            return FLINT_ENOMEM;
        return put_modifiers(b, &n->matrix.vs->vs.mod);
    case AST_SUBQUERY:
        if (dump(n->subquery.expr, b) || put(b, "[") ||
            put_range(b, n->subquery.range_ms, n->subquery.range_expr) || put(b, ":"))
            return FLINT_ENOMEM;
        if (n->subquery.step_ms != 0 || n->subquery.step_expr)
            if (put_range(b, n->subquery.step_ms, n->subquery.step_expr)) return FLINT_ENOMEM;
        if (put(b, "]")) return FLINT_ENOMEM;
        return put_modifiers(b, &n->subquery.mod);
    case AST_CALL:
        if (put(b, n->call.func->name) || put(b, "(")) return FLINT_ENOMEM;
        for (size_t i = 0; i < n->call.nargs; i++)
            if ((i && put(b, ", ")) || dump(n->call.args[i], b)) return FLINT_ENOMEM;
        return put(b, ")");
    case AST_AGGREGATE:
        if (put(b, ast_agg_name(n->agg.op))) return FLINT_ENOMEM;
        if (n->agg.without || n->agg.grouping.n) {
            if (put(b, n->agg.without ? " without " : " by ") || put_labels(b, &n->agg.grouping) || put(b, " "))
                return FLINT_ENOMEM;
        }
        if (put(b, "(")) return FLINT_ENOMEM;
        if (n->agg.param && (dump(n->agg.param, b) || put(b, ", "))) return FLINT_ENOMEM;
        if (dump(n->agg.expr, b)) return FLINT_ENOMEM;
        return put(b, ")");
    case AST_BINARY: {
        const ast_matching *m = n->binary.matching;
        /* "+Inf ^ 2" would read back as +(Inf ^ 2): the left operand of ^
         * prints as "Inf". */
        const ast_node *l = n->binary.lhs;
        bool plain_inf = n->binary.op == AST_OP_POW && l->kind == AST_NUMBER && !l->number.duration &&
                         isinf(l->number.value) && l->number.value > 0;
        if ((plain_inf ? put(b, "Inf") : dump(l, b)) || put(b, " ") || put(b, ast_op_name(n->binary.op)))
            return FLINT_ENOMEM;
        if (n->binary.return_bool && put(b, " bool")) return FLINT_ENOMEM;
        bool grouped = m && (m->card == AST_CARD_MANY_TO_ONE || m->card == AST_CARD_ONE_TO_MANY);
        if (m && (m->labels.n || m->on || grouped)) {
            if (put(b, m->on ? " on " : " ignoring ") || put_labels(b, &m->labels)) return FLINT_ENOMEM;
            if (grouped && (put(b, m->card == AST_CARD_MANY_TO_ONE ? " group_left " : " group_right ") ||
                            put_labels(b, &m->include)))
                return FLINT_ENOMEM;
        }
        if (put(b, " ")) return FLINT_ENOMEM;
        return dump(n->binary.rhs, b);
    }
    case AST_UNARY: return put(b, ast_op_name(n->unary.op)) || dump(n->unary.expr, b) ? FLINT_ENOMEM : 0;
    case AST_PAREN: return put(b, "(") || dump(n->paren.expr, b) || put(b, ")") ? FLINT_ENOMEM : 0;
    case AST_STEP_INVARIANT: return dump(n->step_invariant.expr, b);
    case AST_DURATION_EXPR:
        if (n->dur.wrapped && put(b, "(")) return FLINT_ENOMEM;
        if (n->dur.lhs) {
            if (dump(n->dur.lhs, b) || put(b, " ") || put(b, ast_op_name(n->dur.op)) || put(b, " "))
                return FLINT_ENOMEM;
        } else if (put(b, ast_op_name(n->dur.op))) {
            return FLINT_ENOMEM;
        }
        if (dump(n->dur.rhs, b)) return FLINT_ENOMEM;
        return n->dur.wrapped ? put(b, ")") : 0;
    }
    return 0;
}

static int terminate(fl_buf *b, int rc) {
    if (rc) return rc;
    if (fl_buf_reserve(b, 1)) return FLINT_ENOMEM;
    b->data[b->len] = 0;
    return 0;
}

int ast_dump(const ast_node *n, fl_buf *out) { return terminate(out, dump(n, out)); }

static int tree(const ast_node *n, fl_buf *b) {
    switch (n->kind) {
    case AST_CALL:
        if (put(b, "(call ") || put(b, n->call.func->name)) return FLINT_ENOMEM;
        for (size_t i = 0; i < n->call.nargs; i++)
            if (put(b, " ") || tree(n->call.args[i], b)) return FLINT_ENOMEM;
        return put(b, ")");
    case AST_AGGREGATE:
        if (put(b, "(") || put(b, ast_agg_name(n->agg.op))) return FLINT_ENOMEM;
        if ((n->agg.without || n->agg.grouping.n) &&
            (put(b, n->agg.without ? " without " : " by ") || put_labels(b, &n->agg.grouping)))
            return FLINT_ENOMEM;
        if (n->agg.param && (put(b, " ") || tree(n->agg.param, b))) return FLINT_ENOMEM;
        return put(b, " ") || tree(n->agg.expr, b) || put(b, ")") ? FLINT_ENOMEM : 0;
    case AST_BINARY: {
        const ast_matching *m = n->binary.matching;
        if (put(b, "(") || put(b, ast_op_name(n->binary.op))) return FLINT_ENOMEM;
        if (n->binary.return_bool && put(b, " bool")) return FLINT_ENOMEM;
        if (m && (m->labels.n || m->on) && (put(b, m->on ? " on " : " ignoring ") || put_labels(b, &m->labels)))
            return FLINT_ENOMEM;
        if (m && m->card == AST_CARD_MANY_TO_ONE && (put(b, " group_left ") || put_labels(b, &m->include)))
            return FLINT_ENOMEM;
        if (m && m->card == AST_CARD_ONE_TO_MANY && (put(b, " group_right ") || put_labels(b, &m->include)))
            return FLINT_ENOMEM;
        return put(b, " ") || tree(n->binary.lhs, b) || put(b, " ") || tree(n->binary.rhs, b) || put(b, ")")
                   ? FLINT_ENOMEM : 0;
    }
    case AST_UNARY:
        return put(b, n->unary.op == AST_OP_SUB ? "(neg " : "(pos ") || tree(n->unary.expr, b) || put(b, ")")
                   ? FLINT_ENOMEM : 0;
    case AST_PAREN: return put(b, "(paren ") || tree(n->paren.expr, b) || put(b, ")") ? FLINT_ENOMEM : 0;
    case AST_STEP_INVARIANT:
        return put(b, "(step-invariant ") || tree(n->step_invariant.expr, b) || put(b, ")") ? FLINT_ENOMEM : 0;
    case AST_SUBQUERY:
        if (put(b, "(subquery ") || tree(n->subquery.expr, b) || put(b, " ") ||
            put_range(b, n->subquery.range_ms, n->subquery.range_expr) || put(b, " "))
            return FLINT_ENOMEM;
        if (n->subquery.step_ms || n->subquery.step_expr) {
            if (put_range(b, n->subquery.step_ms, n->subquery.step_expr)) return FLINT_ENOMEM;
        } else if (put(b, "default")) {
            return FLINT_ENOMEM;
        }
        return put_modifiers(b, &n->subquery.mod) || put(b, ")") ? FLINT_ENOMEM : 0;
    default: return dump(n, b);
    }
}

int ast_dump_tree(const ast_node *n, fl_buf *out) { return terminate(out, tree(n, out)); }

/* ---- duration expressions ----------------------------------------------------- */

static int dur_eval(const ast_node *e, double *out, char *err, size_t errcap) {
    if (e->kind == AST_NUMBER) {
        *out = e->number.value;
        return 0;
    }
    if (e->kind != AST_DURATION_EXPR) {
        snprintf(err, errcap, "unexpected duration expression type");
        return FLINT_EINVAL;
    }
    double lhs = 0, rhs;
    if (e->dur.lhs && dur_eval(e->dur.lhs, &lhs, err, errcap)) return FLINT_EINVAL;
    if (dur_eval(e->dur.rhs, &rhs, err, errcap)) return FLINT_EINVAL;
    switch (e->dur.op) {
    case AST_OP_ADD: *out = lhs + rhs; return 0;
    case AST_OP_SUB: *out = e->dur.lhs ? lhs - rhs : -rhs; return 0;
    case AST_OP_MUL: *out = lhs * rhs; return 0;
    case AST_OP_POW: *out = pow(lhs, rhs); return 0;
    case AST_OP_DIV:
    case AST_OP_MOD:
        if (rhs == 0) {
            snprintf(err, errcap, "%u:%u: %s by zero", e->start, e->end, e->dur.op == AST_OP_DIV ? "division" : "modulo");
            return FLINT_EINVAL;
        }
        *out = e->dur.op == AST_OP_DIV ? lhs / rhs : fmod(lhs, rhs);
        return 0;
    default:
        snprintf(err, errcap, "unexpected duration expression operator %s", ast_op_name(e->dur.op));
        return FLINT_EINVAL;
    }
}

int ast_duration_ms(const ast_node *e, bool allow_negative, int64_t *ms, char *err, size_t errcap) {
    double seconds;
    if (dur_eval(e, &seconds, err, errcap)) return FLINT_EINVAL;
    if (seconds <= 0 && !allow_negative) {
        snprintf(err, errcap, "%u:%u: duration must be greater than 0", e->start, e->end);
        return FLINT_EINVAL;
    }
    double v = seconds * 1000.0;
    if (!(v > -9.2e18 && v < 9.2e18)) { /* also NaN */
        snprintf(err, errcap, "%u:%u: duration is out of range", e->start, e->end);
        return FLINT_EINVAL;
    }
    *ms = (int64_t)v; /* truncates, as Go's time.Duration(float) does */
    return 0;
}
