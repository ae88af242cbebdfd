/*
 * build.c - the grammar's actions: build AST nodes from tokens and
 * subtrees and report the errors Prometheus reports while parsing (unknown
 * function, bad number or duration, offset/@/range placement, aggregation
 * argument counts, invalid regular expressions). Type errors are left to
 * check.c, which runs only on a tree that parsed cleanly.
 *
 * Every builder takes over its node and list arguments; on an error it
 * records it in the pql_parser, frees what it got and returns NULL (or an
 * empty value). NULL arguments mean an earlier error and pass through.
 */
#include "query/literal.h"
#include "query/parse_int.h"
#include "query/promql.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

static const char *text(const pql_parser *P, pql_token t) { return P->input + t.pos; }
static uint32_t tok_end(pql_token t) { return t.pos + t.len; }

/* Bookkeeping for every new node: NULL without an error means OOM; nodes
 * taller than PQL_MAX_DEPTH are refused so tree walks stay shallow. */
static ast_node *track(pql_parser *P, ast_node *n) {
    if (!n) {
        if (!P->failed) pql_oom(P);
        return NULL;
    }
    if (n->height > PQL_MAX_DEPTH) {
        pql_error_at(P, n->start, n->end, "expression nesting too deep (more than %d levels)", PQL_MAX_DEPTH);
        ast_free(n);
        return NULL;
    }
    return n;
}

void ast_accept(pql_parser *P, ast_node *e) {
    if (P->failed || P->result) {
        ast_free(e);
        return;
    }
    P->result = e;
}

void ast_no_expression(pql_parser *P) { pql_error_at(P, 0, 0, "no expression found in input"); }

/* ---- literals ------------------------------------------------------------------ */

/* NUMBER or DURATION token to seconds, as Prometheus' number()/parseDuration. */
static bool token_seconds(pql_parser *P, pql_token t, double *out) {
    char err[256];
    if (t.type == TK_DURATION) {
        int64_t ms;
        if (pql_parse_duration(text(P, t), t.len, &ms, err, sizeof err)) {
            pql_error_at(P, t.pos, tok_end(t), "%s", err);
            return false;
        }
        /* time.Duration.Seconds(): whole seconds plus the fraction. */
        *out = (double)(ms / 1000) + (double)(ms % 1000) / 1e3;
        return true;
    }
    int rc = pql_parse_number(text(P, t), t.len, out, err, sizeof err);
    if (rc == FLINT_ENOMEM) pql_oom(P);
    else if (rc) pql_error_at(P, t.pos, tok_end(t), "error parsing number: %s", err);
    return rc == 0;
}

ast_node *ast_number_tok(pql_parser *P, pql_token t) {
    double v;
    if (!token_seconds(P, t, &v)) return NULL;
    return track(P, ast_new_number(v, false, t.pos, tok_end(t)));
}

ast_node *ast_duration_tok(pql_parser *P, pql_token t) {
    double v;
    if (!token_seconds(P, t, &v)) return NULL;
    return track(P, ast_new_number(v, true, t.pos, tok_end(t)));
}

/* Unquote a STRING token; NULL after recording the error. */
static char *unquote(pql_parser *P, pql_token t, size_t *len) {
    char *s;
    int rc = pql_unquote(text(P, t), t.len, &s, len);
    if (rc == FLINT_ENOMEM) {
        pql_oom(P);
        return NULL;
    }
    if (rc) {
        char q[128];
        pql_quote_str(q, sizeof q, text(P, t), t.len);
        pql_error_at(P, t.pos, tok_end(t), "error unquoting string %s: invalid syntax", q);
        return NULL;
    }
    return s;
}

ast_node *ast_string_tok(pql_parser *P, pql_token t) {
    size_t len;
    char *s = unquote(P, t, &len);
    if (!s) return NULL;
    ast_node *n = ast_new_string(s, len, t.pos, tok_end(t));
    fl_free(s);
    return track(P, n);
}

ast_node *ast_paren_expr(pql_parser *P, pql_token l, ast_node *e, pql_token r) {
    return track(P, ast_new_paren(e, l.pos, tok_end(r)));
}

/* -1 and +1 fold into the number (Prometheus does the same), so a negative
 * number literal is one node. */
ast_node *ast_unary_expr(pql_parser *P, pql_token op, ast_node *e) {
    if (!e) return NULL;
    if (e->kind == AST_NUMBER) {
        if (op.type == TK_SUB) e->number.value = -e->number.value;
        e->start = op.pos;
        return e;
    }
    return track(P, ast_new_unary(op.type == TK_SUB ? AST_OP_SUB : AST_OP_ADD, e, op.pos));
}

static ast_op binary_op(int type) {
    switch (type) {
    case TK_ADD: return AST_OP_ADD;
    case TK_SUB: return AST_OP_SUB;
    case TK_MUL: return AST_OP_MUL;
    case TK_DIV: return AST_OP_DIV;
    case TK_MOD: return AST_OP_MOD;
    case TK_POW: return AST_OP_POW;
    case TK_ATAN2: return AST_OP_ATAN2;
    case TK_EQLC: return AST_OP_EQLC;
    case TK_NEQ: return AST_OP_NEQ;
    case TK_GTR: return AST_OP_GTR;
    case TK_LSS: return AST_OP_LSS;
    case TK_GTE: return AST_OP_GTE;
    case TK_LTE: return AST_OP_LTE;
    case TK_LAND: return AST_OP_AND;
    case TK_LOR: return AST_OP_OR;
    default: return AST_OP_UNLESS;
    }
}

ast_node *ast_binary_expr(pql_parser *P, ast_node *l, pql_token op, pql_binmod m, ast_node *r) {
    ast_matching *matching = m.matching;
    if (l && r && !matching) {
        matching = fl_calloc(1, sizeof *matching); /* one-to-one, ignoring nothing */
        if (!matching) pql_oom(P);
    }
    if (!matching) {
        ast_free(l);
        ast_free(r);
        return NULL;
    }
    return track(P, ast_new_binary(binary_op(op.type), l, r, m.return_bool, matching));
}

/* ---- binary operator modifiers and label lists ----------------------------- */

pql_binmod ast_binmod(bool return_bool) { return (pql_binmod){.return_bool = return_bool}; }

pql_binmod ast_binmod_on(pql_parser *P, bool return_bool, bool on, pql_names labels) {
    pql_binmod m = {.return_bool = return_bool};
    m.matching = fl_calloc(1, sizeof *m.matching);
    if (!m.matching) {
        pql_oom(P);
        ast_strlist_free(&labels.list);
        return m;
    }
    m.matching->card = AST_CARD_ONE_TO_ONE;
    m.matching->on = on;
    m.matching->labels = labels.list;
    return m;
}

pql_binmod ast_binmod_group(pql_parser *P, pql_binmod m, ast_card card, pql_names include) {
    (void)P;
    if (!m.matching) {
        ast_strlist_free(&include.list);
        return m;
    }
    m.matching->card = card;
    m.matching->include = include.list;
    return m;
}

pql_names ast_names_none(void) { return (pql_names){{NULL, 0}, 0, 0}; }

pql_names ast_names_add(pql_parser *P, pql_names l, char *name) {
    if (!name) return l;
    void *v = l.list.v;
    if (fl_grow(&v, &l.cap, l.list.n + 1, sizeof *l.list.v)) {
        pql_oom(P);
        fl_free(name);
        return l;
    }
    l.list.v = v;
    l.list.v[l.list.n++] = name;
    return l;
}

pql_names ast_names_close(pql_names l, pql_token rparen) {
    l.end = tok_end(rparen);
    return l;
}

char *ast_label_name(pql_parser *P, pql_token t) {
    char *s = fl_strndup(text(P, t), t.len);
    if (!s) pql_oom(P);
    return s;
}

/* A quoted grouping label must be a valid label name: in Prometheus 3
 * (UTF-8 names) any non-empty valid UTF-8; flint also refuses NUL bytes. */
char *ast_label_string(pql_parser *P, pql_token t) {
    size_t len;
    char *s = unquote(P, t, &len);
    if (!s) return NULL;
    if (len == 0 || !pql_utf8_valid(s, len) || memchr(s, 0, len)) {
        char q[160];
        pql_quote_str(q, sizeof q, s, len);
        pql_error_at(P, t.pos, tok_end(t), "invalid label name for grouping: %s", q);
        fl_free(s);
        return NULL;
    }
    return s;
}

/* ---- calls and aggregations ---------------------------------------------------- */

void pql_args_free(pql_args *a) {
    for (size_t i = 0; i < a->n; i++) ast_free(a->v[i]);
    fl_free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

pql_args ast_args_none(void) { return (pql_args){NULL, 0, 0, 0}; }

pql_args ast_args_add(pql_parser *P, pql_args a, ast_node *e) {
    if (!e) return a;
    void *v = a.v;
    if (fl_grow(&v, &a.cap, a.n + 1, sizeof *a.v)) {
        pql_oom(P);
        ast_free(e);
        return a;
    }
    a.v = v;
    a.v[a.n++] = e;
    return a;
}

pql_args ast_args_close(pql_args a, pql_token rparen) {
    a.end = tok_end(rparen);
    return a;
}

void ast_trailing_comma(pql_parser *P, pql_token comma) {
    pql_error_at(P, comma.pos, tok_end(comma), "trailing commas not allowed in function call args");
}

ast_node *ast_call_expr(pql_parser *P, pql_token name, pql_args args) {
    const pql_function *f = pql_function_lookup(text(P, name), name.len);
    char q[160];
    pql_quote_str(q, sizeof q, text(P, name), name.len);
    if (!f) pql_error_at(P, name.pos, tok_end(name), "unknown function with name %s", q);
    else if (f->experimental && !P->opts.experimental_functions)
        pql_error_at(P, name.pos, tok_end(name), "function %s is not enabled", q);
    if (P->failed) {
        pql_args_free(&args);
        return NULL;
    }
    return track(P, ast_new_call(f, args.v, args.n, name.pos, args.end));
}

pql_aggmod ast_aggmod(bool without, pql_names labels) {
    return (pql_aggmod){labels.list, without, labels.end};
}

pql_aggmod ast_aggmod_none(void) { return (pql_aggmod){{NULL, 0}, false, 0}; }

static ast_agg_op agg_op(int type) {
    switch (type) {
    case TK_SUM: return AST_AGG_SUM;
    case TK_AVG: return AST_AGG_AVG;
    case TK_COUNT: return AST_AGG_COUNT;
    case TK_MIN: return AST_AGG_MIN;
    case TK_MAX: return AST_AGG_MAX;
    case TK_GROUP: return AST_AGG_GROUP;
    case TK_STDDEV: return AST_AGG_STDDEV;
    case TK_STDVAR: return AST_AGG_STDVAR;
    case TK_TOPK: return AST_AGG_TOPK;
    case TK_BOTTOMK: return AST_AGG_BOTTOMK;
    case TK_COUNT_VALUES: return AST_AGG_COUNT_VALUES;
    case TK_QUANTILE: return AST_AGG_QUANTILE;
    case TK_LIMITK: return AST_AGG_LIMITK;
    default: return AST_AGG_LIMIT_RATIO;
    }
}

ast_node *ast_aggregate_expr(pql_parser *P, pql_token op, pql_aggmod mod, pql_args body) {
    ast_agg_op aop = agg_op(op.type);
    uint32_t end = body.end > mod.end ? body.end : mod.end;
    size_t want = ast_agg_has_param(aop) ? 2 : 1;
    if (body.n == 0) {
        pql_error_at(P, op.pos, end, "no arguments for aggregate expression provided");
    } else if ((aop == AST_AGG_LIMITK || aop == AST_AGG_LIMIT_RATIO) && !P->opts.experimental_functions) {
        pql_error_at(P, op.pos, end,
                     "%s() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                     ast_agg_name(aop));
    } else if (body.n != want) {
        pql_error_at(P, op.pos, end, "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
                     want, body.n);
    }
    if (P->failed) {
        pql_args_free(&body);
        ast_strlist_free(&mod.labels);
        return NULL;
    }
    ast_node *param = want == 2 ? body.v[0] : NULL, *expr = body.v[want - 1];
    fl_free(body.v);
    return track(P, ast_new_aggregate(aop, param, expr, mod.labels, mod.without, op.pos, end));
}

/* ---- selectors ----------------------------------------------------------------- */

ast_matcher ast_matcher_none(void) { return (ast_matcher){0}; }

void ast_matcher_release(ast_matcher *m) {
    fl_free(m->name);
    fl_free(m->value);
    m->name = m->value = NULL;
}

/* PCRE2 allocates through flint's wrapper, so OOM tests reach it too. */
static void *re_malloc(PCRE2_SIZE n, void *unused) {
    (void)unused;
    return fl_malloc(n);
}
static void re_free(void *p, void *unused) {
    (void)unused;
    fl_free(p);
}

/* Compile a =~/!~ pattern as the storage layer will (anchored at both ends,
 * `.` matching newline); report syntax errors like Go's regexp package and
 * find out whether the pattern accepts the empty string. */
static bool check_regex(pql_parser *P, pql_token at, const ast_matcher *m, bool *matches_empty) {
    pcre2_general_context *gctx = pcre2_general_context_create(re_malloc, re_free, NULL);
    pcre2_compile_context *cctx = gctx ? pcre2_compile_context_create(gctx) : NULL;
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    int errcode = PCRE2_ERROR_HEAP_FAILED, rc = 0;
    PCRE2_SIZE erroff;
    if (cctx)
        re = pcre2_compile((PCRE2_SPTR)m->value, m->value_len,
                           PCRE2_UTF | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &errcode, &erroff, cctx);
    if (re && (md = pcre2_match_data_create_from_pattern(re, gctx)))
        rc = pcre2_match(re, (PCRE2_SPTR) "", 0, 0, 0, md, NULL);
    if (re && md && rc != PCRE2_ERROR_NOMEMORY) {
        *matches_empty = (rc >= 0) == (m->type == MATCH_RE);
    } else if (re || errcode == PCRE2_ERROR_HEAP_FAILED) {
        pql_oom(P);
    } else {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        pql_error_at(P, at.pos, at.pos + 1, "error parsing regexp: %s: `%.*s`", (const char *)msg,
                     (int)(m->value_len > 200 ? 200 : m->value_len), m->value);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    pcre2_compile_context_free(cctx);
    pcre2_general_context_free(gctx);
    return re && md && rc != PCRE2_ERROR_NOMEMORY;
}

ast_matcher ast_matcher_new(pql_parser *P, pql_token name, pql_token op, pql_token value) {
    ast_matcher m = {0};
    size_t nlen = name.len;
    if (name.type == TK_STRING) {
        m.name = unquote(P, name, &nlen);
        if (m.name && memchr(m.name, 0, nlen)) {
            char q[160];
            pql_quote_str(q, sizeof q, m.name, nlen);
            pql_error_at(P, name.pos, tok_end(name), "invalid label name %s", q);
            ast_matcher_release(&m);
        }
    } else if (!(m.name = fl_strndup(text(P, name), name.len))) {
        pql_oom(P);
    }
    if (m.name) m.value = unquote(P, value, &m.value_len);
    if (!m.value) {
        ast_matcher_release(&m);
        return m;
    }
    m.type = op.type == TK_EQL ? MATCH_EQ : op.type == TK_NEQ ? MATCH_NEQ : op.type == TK_EQL_REGEX ? MATCH_RE : MATCH_NRE;
    if (m.type == MATCH_EQ || m.type == MATCH_NEQ) {
        m.matches_empty = (m.value_len == 0) == (m.type == MATCH_EQ);
    } else if (!check_regex(P, name, &m, &m.matches_empty)) {
        ast_matcher_release(&m);
    }
    return m;
}

/* {"metric.name"}: a quoted metric name inside the braces. */
ast_matcher ast_name_matcher(pql_parser *P, pql_token name) {
    ast_matcher m = {.type = MATCH_EQ};
    m.value = unquote(P, name, &m.value_len);
    if (m.value && !(m.name = fl_strdup("__name__"))) pql_oom(P);
    if (!m.name) ast_matcher_release(&m);
    else m.matches_empty = m.value_len == 0;
    return m;
}

static int add_matcher(ast_node *vs, ast_matcher *m) {
    int rc = ast_vs_add_matcher(vs, m->type, m->name, strlen(m->name), m->value, m->value_len, m->matches_empty);
    ast_matcher_release(m);
    return rc;
}

ast_node *ast_matchers_first(pql_parser *P, ast_matcher m) {
    if (!m.name) return NULL;
    ast_node *vs = ast_new_vector_selector(0, 0);
    if (vs && add_matcher(vs, &m)) {
        ast_free(vs);
        vs = NULL;
    }
    ast_matcher_release(&m);
    return track(P, vs);
}

ast_node *ast_matchers_add(pql_parser *P, ast_node *list, ast_matcher m) {
    if (!list || !m.name) {
        ast_matcher_release(&m);
        return list;
    }
    if (add_matcher(list, &m)) {
        pql_oom(P);
        ast_free(list);
        return NULL;
    }
    return list;
}

ast_node *ast_braces(pql_parser *P, pql_token l, ast_node *list, pql_token r) {
    if (!list) {
        if (P->failed) return NULL;
        list = track(P, ast_new_vector_selector(0, 0));
        if (!list) return NULL;
    }
    list->start = l.pos;
    list->end = tok_end(r);
    return list;
}

/* name or name{...}: the name also becomes a trailing __name__ matcher. */
static ast_node *named(pql_parser *P, pql_token name, ast_node *vs) {
    vs->start = name.pos;
    vs->vs.name = fl_strndup(text(P, name), name.len);
    if (!vs->vs.name || ast_vs_add_matcher(vs, MATCH_EQ, "__name__", 8, text(P, name), name.len, false)) {
        pql_oom(P);
        ast_free(vs);
        return NULL;
    }
    return vs;
}

ast_node *ast_selector_name(pql_parser *P, pql_token name) {
    ast_node *vs = track(P, ast_new_vector_selector(name.pos, tok_end(name)));
    return vs ? named(P, name, vs) : NULL;
}

ast_node *ast_selector_named(pql_parser *P, pql_token name, ast_node *braces) {
    return braces ? named(P, name, braces) : NULL;
}

/* ---- ranges, subqueries, offset, @ ---------------------------------------------- */

/* A range/step/offset value: a literal becomes milliseconds (*ms, node
 * freed), an expression stays for the evaluator (*expr). */
static void take_duration(ast_node *d, int64_t *ms, ast_node **expr) {
    if (d->kind == AST_NUMBER) {
        *ms = llround(d->number.value * 1000.0);
        ast_free(d);
    } else {
        *expr = d;
    }
}

ast_node *ast_matrix_expr(pql_parser *P, ast_node *e, pql_token lbracket, ast_node *range, pql_token rbracket) {
    if (!e || !range) {
        ast_free(e);
        ast_free(range);
        return NULL;
    }
    const char *msg = NULL;
    if (e->kind != AST_VECTOR_SELECTOR) msg = "ranges only allowed for vector selectors";
    else if (e->vs.mod.offset_ms != 0) msg = "no offset modifiers allowed before range";
    else if (e->vs.mod.at == AST_AT_TIMESTAMP) msg = "no @ modifiers allowed before range";
    if (msg) {
        pql_error_at(P, lbracket.pos, tok_end(rbracket), "%s", msg);
        ast_free(e);
        ast_free(range);
        return NULL;
    }
    int64_t ms = 0;
    ast_node *expr = NULL;
    take_duration(range, &ms, &expr);
    return track(P, ast_new_matrix(e, ms, expr, tok_end(rbracket)));
}

ast_node *ast_subquery_expr(pql_parser *P, ast_node *e, ast_node *range, ast_node *step, pql_token rbracket) {
    if (!e || !range || P->failed) {
        ast_free(e);
        ast_free(range);
        ast_free(step);
        return NULL;
    }
    int64_t range_ms = 0, step_ms = 0;
    ast_node *range_expr = NULL, *step_expr = NULL;
    take_duration(range, &range_ms, &range_expr);
    if (step) take_duration(step, &step_ms, &step_expr);
    return track(P, ast_new_subquery(e, range_ms, range_expr, step_ms, step_expr, tok_end(rbracket)));
}

/* The offset/@ slot of a selector, range selector or subquery, or NULL. */
static ast_modifiers *modifiers_of(ast_node *e, ast_node **holder) {
    switch (e->kind) {
    case AST_VECTOR_SELECTOR: *holder = e; return &e->vs.mod;
    case AST_MATRIX_SELECTOR: *holder = e->matrix.vs; return &e->matrix.vs->vs.mod;
    case AST_SUBQUERY: *holder = e; return &e->subquery.mod;
    default: return NULL;
    }
}

ast_node *ast_offset_expr(pql_parser *P, ast_node *e, ast_node *offset) {
    if (!e || !offset) {
        ast_free(e);
        ast_free(offset);
        return NULL;
    }
    ast_node *holder = NULL;
    ast_modifiers *mod = modifiers_of(e, &holder);
    if (!mod)
        pql_error_at(P, e->start, e->end,
                     "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    else if (mod->offset_ms != 0 || mod->offset_expr)
        pql_error_at(P, e->start, e->end, "offset may not be set multiple times");
    if (P->failed) {
        ast_free(e);
        ast_free(offset);
        return NULL;
    }
    e->end = offset->end;
    take_duration(offset, &mod->offset_ms, &mod->offset_expr);
    ast_update_height(holder);
    if (holder != e) ast_update_height(e);
    return track(P, e);
}

pql_num ast_at_number(pql_parser *P, const pql_token *sign, pql_token t) {
    pql_num n = {.start = sign ? sign->pos : t.pos, .end = tok_end(t)};
    n.ok = token_seconds(P, t, &n.value);
    if (sign && sign->type == TK_SUB) n.value = -n.value;
    return n;
}

/* The @ slot, after Prometheus' checks (placement, set twice). */
static ast_modifiers *at_slot(pql_parser *P, ast_node *e) {
    ast_node *holder;
    ast_modifiers *mod = modifiers_of(e, &holder);
    if (!mod)
        pql_error_at(P, e->start, e->end,
                     "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    else if (mod->at != AST_AT_NONE)
        pql_error_at(P, e->start, e->end, "@ <timestamp> may not be set multiple times");
    return P->failed ? NULL : mod;
}

ast_node *ast_at_expr(pql_parser *P, ast_node *e, pql_num ts) {
    if (!e || !ts.ok) {
        ast_free(e);
        return NULL;
    }
    double ms = round(ts.value * 1000.0);
    if (!isfinite(ts.value) || ms >= 9223372036854775807.0 || ms <= -9223372036854775808.0) {
        if (isnan(ts.value)) pql_error_at(P, e->start, e->end, "timestamp out of bounds for @ modifier: NaN");
        else if (isinf(ts.value))
            pql_error_at(P, e->start, e->end, "timestamp out of bounds for @ modifier: %sInf", ts.value > 0 ? "+" : "-");
        else pql_error_at(P, e->start, e->end, "timestamp out of bounds for @ modifier: %f", ts.value);
    }
    ast_modifiers *mod = P->failed ? NULL : at_slot(P, e);
    if (!mod) {
        ast_free(e);
        return NULL;
    }
    mod->at = AST_AT_TIMESTAMP;
    mod->at_ms = (int64_t)ms;
    e->end = ts.end;
    return e;
}

ast_node *ast_at_preproc(pql_parser *P, ast_node *e, pql_token which, pql_token rparen) {
    if (!e) return NULL;
    ast_modifiers *mod = at_slot(P, e);
    if (!mod) {
        ast_free(e);
        return NULL;
    }
    mod->at = which.type == TK_START ? AST_AT_START : AST_AT_END;
    e->end = tok_end(rparen);
    return e;
}

/* ---- duration expressions ------------------------------------------------------- */

/* time.Duration holds at most 2^63 ns. */
static bool duration_in_range(double seconds) { return seconds <= 9223372036.854775807 && seconds >= -9223372036.854775808; }

ast_node *ast_dur_lit(pql_parser *P, pql_token t) {
    double v;
    if (!token_seconds(P, t, &v)) return NULL;
    if (!duration_in_range(v)) {
        pql_error_at(P, t.pos, tok_end(t), "duration out of range");
        return NULL;
    }
    return track(P, ast_new_number(v, t.type == TK_DURATION, t.pos, tok_end(t)));
}

ast_node *ast_dur_signed(pql_parser *P, pql_token sign, pql_token t) {
    return ast_dur_unary(P, sign, ast_dur_lit(P, t));
}

ast_node *ast_dur_unary(pql_parser *P, pql_token op, ast_node *e) {
    if (!e) return NULL;
    if (e->kind == AST_NUMBER) {
        if (op.type == TK_SUB) e->number.value = -e->number.value;
        if (!duration_in_range(e->number.value)) {
            pql_error_at(P, op.pos, tok_end(op), "duration out of range");
            ast_free(e);
            return NULL;
        }
        e->start = op.pos;
        return e;
    }
    if (op.type == TK_ADD) return e;
    return track(P, ast_new_duration_expr(AST_OP_SUB, NULL, e, op.pos));
}

static void experimental_duration(pql_parser *P, const ast_node *e) {
    if (!P->opts.duration_expressions) pql_error_at(P, e->start, e->end, "experimental duration expression is not enabled");
}

ast_node *ast_dur_binary(pql_parser *P, ast_node *l, pql_token op, ast_node *r) {
    if (!l || !r) {
        ast_free(l);
        ast_free(r);
        return NULL;
    }
    experimental_duration(P, l);
    if ((op.type == TK_DIV || op.type == TK_MOD) && r->kind == AST_NUMBER && r->number.value == 0)
        pql_error_at(P, op.pos, tok_end(op), op.type == TK_DIV ? "division by zero" : "modulo by zero");
    if (P->failed) {
        ast_free(l);
        ast_free(r);
        return NULL;
    }
    return track(P, ast_new_duration_expr(binary_op(op.type), l, r, 0));
}

ast_node *ast_dur_paren(pql_parser *P, ast_node *e) {
    if (!e) return NULL;
    experimental_duration(P, e);
    if (P->failed) {
        ast_free(e);
        return NULL;
    }
    if (e->kind == AST_DURATION_EXPR) e->dur.wrapped = true;
    return e;
}

/* Ranges and steps must be positive. A literal that rounds to 0 ms is
 * refused too, since flint keeps time in milliseconds. */
ast_node *ast_dur_positive(pql_parser *P, ast_node *e) {
    if (e && e->kind == AST_NUMBER && (e->number.value <= 0 || llround(e->number.value * 1000.0) <= 0)) {
        pql_error_at(P, e->start, e->end, "duration must be greater than 0");
        ast_free(e);
        return NULL;
    }
    return e;
}
