/*
 * parse.c - the PromQL front end's entry point: copies the query, runs the
 * driver loop (re2c lexer -> lemon parser), words errors the way
 * Prometheus does ("1:5: parse error: unexpected <op:*>"), and runs the
 * type checker on a tree that parsed. See parse.h for the contract and
 * parse_int.h for how the pieces fit.
 */
#include "query/parse.h"
#include "query/literal.h"
#include "query/parse_int.h"
#include "query/promql.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* lemon's generated parser (promql.c). */
void *pql__lemonAlloc(void *(*alloc)(size_t), pql_parser *P);
void pql__lemon(void *parser, int major, pql_token minor);
void pql__lemonFree(void *parser, void (*release)(void *));

const pql_parse_opts pql_default_opts = {.experimental_functions = true, .duration_expressions = true};

/* ---- errors ---------------------------------------------------------------------- */

void pql_error_at(pql_parser *P, size_t pos, size_t end, const char *fmt, ...) {
    if (P->failed) return;
    P->failed = true;
    pql_error *e = P->err;
    e->pos = pos;
    e->end = end < pos ? pos : end;
    /* Prometheus' PositionRange.StartPosInput: line:column, both from 1,
     * the column counted in bytes. */
    char where[48];
    if (P->len == 0) {
        snprintf(where, sizeof where, "unknown position");
    } else if (pos > P->len) {
        snprintf(where, sizeof where, "invalid position");
    } else {
        size_t line = 1, line_start = 0;
        for (size_t i = 0; i < pos; i++)
            if (P->input[i] == '\n') line++, line_start = i + 1;
        snprintf(where, sizeof where, "%zu:%zu", line, pos - line_start + 1);
    }
    int n = snprintf(e->msg, sizeof e->msg, "%s: parse error: ", where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
}

void pql_oom(pql_parser *P) {
    P->oom = true;
    if (P->failed) return;
    P->failed = true;
    P->err->pos = P->err->end = 0;
    snprintf(P->err->msg, sizeof P->err->msg, "out of memory");
}

/* Go's %q of a token's text, or "%.10q..." (ten runes, then quoted). */
static void quote_token(char *out, size_t cap, const char *s, size_t n, bool truncate) {
    size_t cut = n, runes = 0;
    if (truncate && n > 10) {
        for (cut = 0; cut < n && runes < 10; runes++) {
            int32_t r;
            cut += pql_utf8_decode(s + cut, n - cut, &r);
        }
    }
    char q[80];
    snprintf(out, cap, "%s%s", pql_quote_str(q, sizeof q, s, cut), cut < n ? "..." : "");
}

void pql_describe_token(const pql_parser *P, pql_token tok, char *out, size_t cap) {
    const char *s = P->input + tok.pos;
    char q[96];
    switch (tok.type) {
    case TK_EOI: snprintf(out, cap, "end of input"); return;
    case TK_IDENTIFIER:
    case TK_METRIC_IDENTIFIER:
        quote_token(q, sizeof q, s, tok.len, false);
        snprintf(out, cap, "%s %s", tok.type == TK_IDENTIFIER ? "identifier" : "metric identifier", q);
        return;
    case TK_STRING:
    case TK_NUMBER:
    case TK_DURATION:
        quote_token(q, sizeof q, s, tok.len, true);
        snprintf(out, cap, "%s %s", tok.type == TK_STRING ? "string" : tok.type == TK_NUMBER ? "number" : "duration", q);
        return;
    case TK_BOOL: case TK_BY: case TK_GROUP_LEFT: case TK_GROUP_RIGHT:
    case TK_IGNORING: case TK_OFFSET: case TK_ON: case TK_WITHOUT:
        snprintf(out, cap, "<%.*s>", (int)(tok.len > 40 ? 40 : tok.len), s);
        return;
    case TK_ADD: case TK_SUB: case TK_MUL: case TK_DIV: case TK_MOD: case TK_POW:
    case TK_EQLC: case TK_NEQ: case TK_LTE: case TK_LSS: case TK_GTE: case TK_GTR:
    case TK_EQL_REGEX: case TK_NEQ_REGEX: case TK_LAND: case TK_LOR: case TK_LUNLESS:
    case TK_AT: case TK_ATAN2:
        snprintf(out, cap, "<op:%.*s>", (int)(tok.len > 40 ? 40 : tok.len), s);
        return;
    case TK_AVG: case TK_BOTTOMK: case TK_COUNT: case TK_COUNT_VALUES: case TK_GROUP:
    case TK_MAX: case TK_MIN: case TK_QUANTILE: case TK_STDDEV: case TK_STDVAR:
    case TK_SUM: case TK_TOPK: case TK_LIMITK: case TK_LIMIT_RATIO:
        snprintf(out, cap, "<aggr:%.*s>", (int)(tok.len > 40 ? 40 : tok.len), s);
        return;
    default: /* punctuation, =, start, end */
        quote_token(out, cap, s, tok.len, true);
        return;
    }
}

void pql_syntax_error(pql_parser *P, pql_token tok) {
    if (P->failed || P->syntax_pending) return;
    P->syntax_pending = true;
    P->bad = tok;
}

void pql_unexpected(pql_parser *P, const char *context, const char *expected) {
    if (P->failed || !P->syntax_pending) return;
    char what[128];
    pql_describe_token(P, P->bad, what, sizeof what);
    P->syntax_pending = false;
    pql_error_at(P, P->bad.pos, P->bad.pos + P->bad.len, "unexpected %s%s%s%s%s", what, context ? " in " : "",
                 context ? context : "", expected ? ", expected " : "", expected ? expected : "");
}

void pql_parse_failed(pql_parser *P) { pql_unexpected(P, NULL, NULL); }

void pql_stack_overflow(pql_parser *P) {
    pql_error_at(P, P->cur.pos, P->cur.pos + P->cur.len, "expression nesting too deep (more than %d levels)",
                 PQL_MAX_DEPTH);
}

/* ---- driver ------------------------------------------------------------------------ */

int pql_parse(const char *input, size_t len, ast_node **out, pql_error *err) {
    return pql_parse_ex(input, len, &pql_default_opts, out, err);
}

int pql_parse_ex(const char *input, size_t len, const pql_parse_opts *opts, ast_node **out, pql_error *err) {
    *out = NULL;
    memset(err, 0, sizeof *err);
    pql_parser P = {.len = len, .opts = opts ? *opts : pql_default_opts, .err = err};
    if (len >= UINT32_MAX) {
        P.input = "";
        pql_error_at(&P, 0, 0, "query too long");
        return FLINT_EINVAL;
    }
    /* The lexer wants a NUL sentinel after the last byte. */
    char *copy = fl_malloc(len + 1);
    void *parser = copy ? pql__lemonAlloc(fl_malloc, &P) : NULL;
    if (!parser) {
        fl_free(copy);
        pql_oom(&P);
        return FLINT_ENOMEM;
    }
    if (len) memcpy(copy, input, len);
    copy[len] = 0;
    P.input = copy;

    pql_lexer lx;
    pql_lex_init(&lx, copy, len);
    for (;;) {
        pql_token tok;
        int type = pql_lex(&lx, &tok);
        if (type == PQL_LEX_ERROR) {
            pql_error_at(&P, lx.err_pos, len, "%s", lx.err);
            break;
        }
        P.cur = tok;
        pql__lemon(parser, type, tok);
        if (type == TK_EOI && !P.failed && !P.syntax_pending) pql__lemon(parser, 0, tok);
        pql_unexpected(&P, NULL, NULL); /* a syntax error no error rule described */
        if (P.failed || type == TK_EOI) break;
    }
    pql__lemonFree(parser, fl_free);

    if (!P.failed && !P.result) pql_error_at(&P, 0, 0, "unexpected end of input");
    if (!P.failed) pql_check(&P, P.result);
    fl_free(copy);
    if (P.failed) {
        ast_free(P.result);
        return P.oom ? FLINT_ENOMEM : FLINT_EINVAL;
    }
    *out = P.result;
    return 0;
}
