/*
 * lexer.re - the PromQL lexer (re2c). Produces lemon's TK_* tokens
 * (query/promql.h, generated from promql.y) for the driver in parse.c.
 *
 * Three modes, as in Prometheus' lexer: statements (keywords, operators,
 * metric names with colons), inside braces (every word is a label name)
 * and inside brackets (a duration expression: numbers, durations, + - * /
 * % ^, parentheses and one colon). Numbers and durations are scanned by
 * scan_number() with Prometheus' acceptance rules, so that a bad token
 * fails with the same text ("bad number or duration syntax: \"5m1\"");
 * strings are checked escape by escape the same way. Error positions are
 * the start of the offending token.
 */
#include "query/literal.h"
#include "query/parse_int.h"
#include "query/promql.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SKIP 0 /* no token: white space or a comment was consumed */

void pql_lex_init(pql_lexer *lx, const char *input, size_t len) {
    memset(lx, 0, sizeof *lx);
    lx->base = (const unsigned char *)input;
    lx->limit = lx->base + len;
    lx->cur = lx->base;
}

static int emit(pql_lexer *lx, pql_token *tok, const unsigned char *start, const unsigned char *end, int type) {
    tok->type = type;
    tok->pos = (uint32_t)(start - lx->base);
    tok->len = (uint32_t)(end - start);
    lx->cur = end;
    return type;
}

__attribute__((format(printf, 3, 4)))
static int fail(pql_lexer *lx, const unsigned char *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->err, sizeof lx->err, fmt, ap);
    va_end(ap);
    lx->err_pos = (size_t)(at - lx->base);
    return PQL_LEX_ERROR;
}

/* The rune at p as Go's %q prints it ('a', '\x01', '�'); at the end of
 * the input Go reads rune -1, which prints as U+FFFD too. */
static void rune_at(const pql_lexer *lx, const unsigned char *p, char *out, size_t cap) {
    int32_t r = -1;
    if (p < lx->limit) pql_utf8_decode((const char *)p, (size_t)(lx->limit - p), &r);
    pql_quote_rune(out, cap, r);
}

static int unexpected_char(pql_lexer *lx, const unsigned char *at, const char *what) {
    char q[16];
    rune_at(lx, at, q, sizeof q);
    return fail(lx, at, "%s: %s", what, q);
}

/* "unexpected character after '!': 'x'": names the character after the
 * one at `at`, reported at `at`. */
static int unexpected_after(pql_lexer *lx, const unsigned char *at, const char *what) {
    char q[16];
    rune_at(lx, at + 1, q, sizeof q);
    return fail(lx, at, "%s: %s", what, q);
}

/* ---- numbers and durations ------------------------------------------------------ */

static bool is_alnum(int c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A cursor over the input; peek() is -1 at the end, like Go's eof. */
typedef struct scan {
    const unsigned char *p, *limit;
} scan;

static int peek(const scan *s) { return s->p < s->limit ? *s->p : -1; }
static bool accept(scan *s, const char *set) {
    int c = peek(s);
    if (c > 0 && strchr(set, c)) {
        s->p++;
        return true;
    }
    return false;
}
static bool is_in(const scan *s, const char *set) {
    int c = peek(s);
    return c > 0 && strchr(set, c);
}

/* Prometheus' scanNumber: [0x][.]digits with '.', exponent and '_' rules;
 * the token must not run into a letter or digit. */
static bool scan_number(scan *s) {
    const unsigned char *initial = s->p;
    const char *digits = "0123456789";
    bool hex = false;
    if (accept(s, "0") && accept(s, "xX")) {
        accept(s, "_");
        digits = "0123456789abcdefABCDEF";
        hex = true;
    }
    accept(s, ".");
    accept(s, digits);
    bool dot = false, exponent = false;
    char any[32];
    snprintf(any, sizeof any, "%s._eE", digits);
    while (is_in(s, any)) {
        if (is_in(s, ".") && dot) {
            accept(s, ".");
            return false;
        }
        if (is_in(s, "eE") && exponent) {
            accept(s, "eE");
            return false;
        }
        if (accept(s, ".")) {
            dot = true;
            if (accept(s, "_.") || hex) return false;
            continue;
        }
        if (accept(s, "eE")) {
            exponent = true;
            accept(s, "+-");
            if (accept(s, "._eE") || peek(s) < 0) return false;
            continue;
        }
        if (accept(s, "_")) {
            if (accept(s, "._eE") || peek(s) < 0) return false;
            continue;
        }
        while (accept(s, digits)) {
        }
    }
    return s->p != initial && !is_alnum(peek(s));
}

/* The unit part of a duration after scan_number stopped: unit, then
 * (digits unit)*, not running into a letter or digit. */
static bool scan_duration_rest(scan *s) {
    if (!accept(s, "smhdwy")) return false;
    accept(s, "s");
    while (accept(s, "0123456789")) {
        while (accept(s, "0123456789")) {
        }
        if (!accept(s, "smhdw")) return false;
        accept(s, "s");
    }
    if (!is_alnum(peek(s))) return true;
    s->p++; /* Prometheus consumed it: it is part of the error text */
    return false;
}

static int lex_number(pql_lexer *lx, pql_token *tok, const unsigned char *start) {
    scan s = {start, lx->limit};
    if (scan_number(&s)) return emit(lx, tok, start, s.p, TK_NUMBER);
    if (scan_duration_rest(&s)) return emit(lx, tok, start, s.p, TK_DURATION);
    char q[96];
    return fail(lx, start, "bad number or duration syntax: %s",
                pql_quote_str(q, sizeof q, (const char *)start, (size_t)(s.p - start)));
}

/* ---- strings ------------------------------------------------------------------------- */

static int digit_val(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 16;
}

/* Read one rune at *p (advancing); -1 at the end. */
static int32_t next_rune(const pql_lexer *lx, const unsigned char **p) {
    if (*p >= lx->limit) return -1;
    int32_t r;
    *p += pql_utf8_decode((const char *)*p, (size_t)(lx->limit - *p), &r);
    return r;
}

/* Prometheus' lexEscape; *p is after the backslash. */
static int lex_escape(pql_lexer *lx, const unsigned char *start, const unsigned char **p, int32_t quote) {
    char u[32];
    int32_t c = next_rune(lx, p);
    int n;
    uint32_t base, max;
    switch (c) {
    case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\': return 0;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        n = 3, base = 8, max = 255;
        break;
    case 'x': c = next_rune(lx, p), n = 2, base = 16, max = 255; break;
    case 'u': c = next_rune(lx, p), n = 4, base = 16, max = 0x10FFFF; break;
    case 'U': c = next_rune(lx, p), n = 8, base = 16, max = 0x10FFFF; break;
    case -1: return fail(lx, start, "escape sequence not terminated");
    default:
        if (c == quote) return 0;
        pql_format_rune_u(u, sizeof u, c);
        return fail(lx, start, "unknown escape sequence %s", u);
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = (uint32_t)digit_val(c);
        if (d >= base) {
            if (c < 0) return fail(lx, start, "escape sequence not terminated");
            pql_format_rune_u(u, sizeof u, c);
            return fail(lx, start, "illegal character %s in escape sequence", u);
        }
        x = x * base + d;
        if (--n > 0) c = next_rune(lx, p);
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) return fail(lx, start, "escape sequence is an invalid Unicode code point");
    return 0;
}

/* "..." or '...' (escapes, one line) and `...` (raw); start is the quote. */
static int lex_string(pql_lexer *lx, pql_token *tok, const unsigned char *start) {
    int32_t quote = *start;
    const unsigned char *p = start + 1;
    for (;;) {
        int32_t r = next_rune(lx, &p);
        if (quote != '`' && r == '\\') {
            if (lex_escape(lx, start, &p, quote) < 0) return PQL_LEX_ERROR;
            continue;
        }
        if (r == 0xFFFD) return fail(lx, start, "invalid UTF-8 rune");
        if (r < 0) return fail(lx, start, quote == '`' ? "unterminated raw string" : "unterminated quoted string");
        if (r == '\n' && quote != '`') return fail(lx, start, "unterminated quoted string");
        if (r == quote) return emit(lx, tok, start, p, TK_STRING);
    }
}

/* ---- the three modes -------------------------------------------------------------- */

/*!re2c
    re2c:define:YYCTYPE = "unsigned char";
    re2c:yyfill:enable = 0;

    space   = [ \t\n\r]+;
    word    = [a-zA-Z_:][a-zA-Z0-9_:]*;
    label   = [a-zA-Z_][a-zA-Z0-9_]*;
    numeric = [0-9] | "." [0-9];
*/

/* Comments run to the end of the line; NUL bytes inside are ordinary. */
static int skip_comment(pql_lexer *lx, const unsigned char *p) {
    while (p < lx->limit && *p != '\n' && *p != '\r') p++;
    lx->cur = p;
    return SKIP;
}

static int lex_statement(pql_lexer *lx, pql_token *tok) {
    const unsigned char *YYCURSOR = lx->cur, *YYMARKER = YYCURSOR, *start = YYCURSOR;
    int t;
    (void)YYMARKER;
    /*!re2c
    "\x00" {
        if (start < lx->limit) return unexpected_char(lx, start, "unexpected character");
        if (lx->paren_depth != 0) return fail(lx, start, "unclosed left parenthesis");
        return emit(lx, tok, start, start, TK_EOI);
    }
    space  { lx->cur = YYCURSOR; return SKIP; }
    "#"    { return skip_comment(lx, YYCURSOR); }
    ","    { return emit(lx, tok, start, YYCURSOR, TK_COMMA); }
    "*"    { return emit(lx, tok, start, YYCURSOR, TK_MUL); }
    "/"    { return emit(lx, tok, start, YYCURSOR, TK_DIV); }
    "%"    { return emit(lx, tok, start, YYCURSOR, TK_MOD); }
    "+"    { return emit(lx, tok, start, YYCURSOR, TK_ADD); }
    "-"    { return emit(lx, tok, start, YYCURSOR, TK_SUB); }
    "^"    { return emit(lx, tok, start, YYCURSOR, TK_POW); }
    "=="   { return emit(lx, tok, start, YYCURSOR, TK_EQLC); }
    "=~"   { return unexpected_after(lx, start, "unexpected character after '='"); }
    "="    { return emit(lx, tok, start, YYCURSOR, TK_EQL); }
    "!="   { return emit(lx, tok, start, YYCURSOR, TK_NEQ); }
    "!"    { return unexpected_after(lx, start, "unexpected character after '!'"); }
    "<="   { return emit(lx, tok, start, YYCURSOR, TK_LTE); }
    "<"    { return emit(lx, tok, start, YYCURSOR, TK_LSS); }
    ">="   { return emit(lx, tok, start, YYCURSOR, TK_GTE); }
    ">"    { return emit(lx, tok, start, YYCURSOR, TK_GTR); }
    "@"    { return emit(lx, tok, start, YYCURSOR, TK_AT); }
    "("    { lx->paren_depth++; return emit(lx, tok, start, YYCURSOR, TK_LEFT_PAREN); }
    ")"    {
        t = emit(lx, tok, start, YYCURSOR, TK_RIGHT_PAREN);
        if (--lx->paren_depth < 0) return fail(lx, YYCURSOR, "unexpected right parenthesis ')'");
        return t;
    }
    "{"    { lx->brace_open = true; return emit(lx, tok, start, YYCURSOR, TK_LEFT_BRACE); }
    "["    {
        lx->bracket_open = true;
        lx->got_colon = lx->got_duration = false;
        return emit(lx, tok, start, YYCURSOR, TK_LEFT_BRACKET);
    }
    "]"    { return fail(lx, start, "unexpected right bracket ']'"); }
    ["']   { return lex_string(lx, tok, start); }
    "`"    { return lex_string(lx, tok, start); }
    numeric { return lex_number(lx, tok, start); }

    'and'          { return emit(lx, tok, start, YYCURSOR, TK_LAND); }
    'or'           { return emit(lx, tok, start, YYCURSOR, TK_LOR); }
    'unless'       { return emit(lx, tok, start, YYCURSOR, TK_LUNLESS); }
    'atan2'        { return emit(lx, tok, start, YYCURSOR, TK_ATAN2); }
    'sum'          { return emit(lx, tok, start, YYCURSOR, TK_SUM); }
    'avg'          { return emit(lx, tok, start, YYCURSOR, TK_AVG); }
    'count'        { return emit(lx, tok, start, YYCURSOR, TK_COUNT); }
    'min'          { return emit(lx, tok, start, YYCURSOR, TK_MIN); }
    'max'          { return emit(lx, tok, start, YYCURSOR, TK_MAX); }
    'group'        { return emit(lx, tok, start, YYCURSOR, TK_GROUP); }
    'stddev'       { return emit(lx, tok, start, YYCURSOR, TK_STDDEV); }
    'stdvar'       { return emit(lx, tok, start, YYCURSOR, TK_STDVAR); }
    'topk'         { return emit(lx, tok, start, YYCURSOR, TK_TOPK); }
    'bottomk'      { return emit(lx, tok, start, YYCURSOR, TK_BOTTOMK); }
    'count_values' { return emit(lx, tok, start, YYCURSOR, TK_COUNT_VALUES); }
    'quantile'     { return emit(lx, tok, start, YYCURSOR, TK_QUANTILE); }
    'limitk'       { return emit(lx, tok, start, YYCURSOR, TK_LIMITK); }
    'limit_ratio'  { return emit(lx, tok, start, YYCURSOR, TK_LIMIT_RATIO); }
    'offset'       { return emit(lx, tok, start, YYCURSOR, TK_OFFSET); }
    'by'           { return emit(lx, tok, start, YYCURSOR, TK_BY); }
    'without'      { return emit(lx, tok, start, YYCURSOR, TK_WITHOUT); }
    'on'           { return emit(lx, tok, start, YYCURSOR, TK_ON); }
    'ignoring'     { return emit(lx, tok, start, YYCURSOR, TK_IGNORING); }
    'group_left'   { return emit(lx, tok, start, YYCURSOR, TK_GROUP_LEFT); }
    'group_right'  { return emit(lx, tok, start, YYCURSOR, TK_GROUP_RIGHT); }
    'bool'         { return emit(lx, tok, start, YYCURSOR, TK_BOOL); }
    'start'        { return emit(lx, tok, start, YYCURSOR, TK_START); }
    'end'          { return emit(lx, tok, start, YYCURSOR, TK_END); }
    'inf' | 'nan'  { return emit(lx, tok, start, YYCURSOR, TK_NUMBER); }
    word {
        bool colon = memchr(start, ':', (size_t)(YYCURSOR - start)) != NULL;
        return emit(lx, tok, start, YYCURSOR, colon ? TK_METRIC_IDENTIFIER : TK_IDENTIFIER);
    }
    * { return unexpected_char(lx, start, "unexpected character"); }
    */
}

static int lex_braces(pql_lexer *lx, pql_token *tok) {
    const unsigned char *YYCURSOR = lx->cur, *YYMARKER = YYCURSOR, *start = YYCURSOR;
    (void)YYMARKER;
    /*!re2c
    "\x00" {
        if (start < lx->limit) return unexpected_char(lx, start, "unexpected character inside braces");
        return fail(lx, start, "unexpected end of input inside braces");
    }
    space  { lx->cur = YYCURSOR; return SKIP; }
    "#"    { return skip_comment(lx, YYCURSOR); }
    label  { return emit(lx, tok, start, YYCURSOR, TK_IDENTIFIER); }
    ","    { return emit(lx, tok, start, YYCURSOR, TK_COMMA); }
    ["']   { return lex_string(lx, tok, start); }
    "`"    { return lex_string(lx, tok, start); }
    "=~"   { return emit(lx, tok, start, YYCURSOR, TK_EQL_REGEX); }
    "="    { return emit(lx, tok, start, YYCURSOR, TK_EQL); }
    "!~"   { return emit(lx, tok, start, YYCURSOR, TK_NEQ_REGEX); }
    "!="   { return emit(lx, tok, start, YYCURSOR, TK_NEQ); }
    "!"    { return unexpected_after(lx, start, "unexpected character after '!' inside braces"); }
    "{"    { return fail(lx, start, "unexpected left brace '{'"); }
    "}"    { lx->brace_open = false; return emit(lx, tok, start, YYCURSOR, TK_RIGHT_BRACE); }
    *      { return unexpected_char(lx, start, "unexpected character inside braces"); }
    */
}

static int lex_duration(pql_lexer *lx, pql_token *tok) {
    const unsigned char *YYCURSOR = lx->cur, *YYMARKER = YYCURSOR, *start = YYCURSOR;
    int t;
    (void)YYMARKER;
    /*!re2c
    "\x00" {
        if (start < lx->limit) return unexpected_char(lx, start, "unexpected character in duration expression");
        return fail(lx, start, "unexpected end of input in duration expression");
    }
    space  { lx->cur = YYCURSOR; return SKIP; }
    "]"    {
        lx->bracket_open = lx->got_colon = false;
        return emit(lx, tok, start, YYCURSOR, TK_RIGHT_BRACKET);
    }
    ":"    {
        t = emit(lx, tok, start, YYCURSOR, TK_COLON);
        if (!lx->got_duration) return fail(lx, YYCURSOR, "unexpected colon before duration in duration expression");
        if (lx->got_colon) return fail(lx, YYCURSOR, "unexpected repeated colon in duration expression");
        lx->got_colon = true;
        return t;
    }
    "("    { lx->paren_depth++; return emit(lx, tok, start, YYCURSOR, TK_LEFT_PAREN); }
    ")"    {
        t = emit(lx, tok, start, YYCURSOR, TK_RIGHT_PAREN);
        if (--lx->paren_depth < 0) return fail(lx, YYCURSOR, "unexpected right parenthesis ')'");
        return t;
    }
    "+"    { return emit(lx, tok, start, YYCURSOR, TK_ADD); }
    "-"    { return emit(lx, tok, start, YYCURSOR, TK_SUB); }
    "*"    { return emit(lx, tok, start, YYCURSOR, TK_MUL); }
    "/"    { return emit(lx, tok, start, YYCURSOR, TK_DIV); }
    "%"    { return emit(lx, tok, start, YYCURSOR, TK_MOD); }
    "^"    { return emit(lx, tok, start, YYCURSOR, TK_POW); }
    numeric { lx->got_duration = true; return lex_number(lx, tok, start); }
    *      { return unexpected_char(lx, start, "unexpected character in duration expression"); }
    */
}

int pql_lex(pql_lexer *lx, pql_token *tok) {
    for (;;) {
        int t = lx->brace_open ? lex_braces(lx, tok) : lx->bracket_open ? lex_duration(lx, tok) : lex_statement(lx, tok);
        if (t != SKIP) return t;
    }
}
