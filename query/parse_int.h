/*
 * parse_int.h - what the PromQL lexer (lexer.re), the lemon grammar
 * (promql.y), its actions (build.c), the driver and the type checker
 * (parse.c, check.c) share. Not a public header: callers use parse.h.
 *
 * Flow: pql_parse_ex copies the input, then a driver loop pulls tokens from
 * pql_lex and pushes them into the lemon parser; grammar actions build
 * nodes through the ast_* builders below, which report parse-time errors
 * into the pql_parser; after the parse the type checker walks the tree.
 * The first error stops everything, as only the first one is reported.
 */
#ifndef FLINT_QUERY_PARSE_INT_H
#define FLINT_QUERY_PARSE_INT_H

#include "query/ast.h"
#include "query/parse.h"

#include <stdbool.h>
#include <stdint.h>

/* A token: its lemon code (TK_* from the generated promql.h) and its bytes
 * in the input. Tokens own nothing. */
typedef struct pql_token {
    int type;
    uint32_t pos, len;
} pql_token;

/* ---- lexer (lexer.re) ------------------------------------------------------- */

typedef struct pql_lexer {
    const unsigned char *base;  /* input, NUL-terminated copy */
    const unsigned char *limit; /* base + len */
    const unsigned char *cur;
    int paren_depth;
    bool brace_open;   /* inside {...}: words are label names, no keywords */
    bool bracket_open; /* inside [...]: a duration expression */
    bool got_colon, got_duration;
    size_t err_pos;
    char err[256];
} pql_lexer;

#define PQL_LEX_ERROR (-1)

void pql_lex_init(pql_lexer *lx, const char *input, size_t len);
/* The next token's code (TK_EOI at the end of input, comments skipped), or
 * PQL_LEX_ERROR with lx->err and lx->err_pos set, worded like Prometheus'
 * lexer ("unexpected character inside braces: '*'"). */
int pql_lex(pql_lexer *lx, pql_token *tok);

/* ---- parser state ------------------------------------------------------------ */

typedef struct pql_parser {
    const char *input;
    size_t len;
    pql_parse_opts opts;
    ast_node *result;
    pql_error *err;
    bool failed; /* an error (or OOM) is recorded in *err */
    bool oom;
    /* Set by %syntax_error, consumed by the first error rule that reduces
     * (which adds its context) or by the driver (plain "unexpected X"). */
    bool syntax_pending;
    pql_token bad;
    pql_token cur; /* the token being pushed, for stack overflow errors */
} pql_parser;

/* Record the first error: "<line>:<col>: parse error: <fmt...>". */
void pql_error_at(pql_parser *P, size_t pos, size_t end, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pql_oom(pql_parser *P);
/* Hooks for %syntax_error, %parse_failure, %stack_overflow. */
void pql_syntax_error(pql_parser *P, pql_token tok);
void pql_parse_failed(pql_parser *P);
void pql_stack_overflow(pql_parser *P);
/* From an error rule: "unexpected <tok>[ in <context>][, expected <what>]". */
void pql_unexpected(pql_parser *P, const char *context, const char *expected);
/* Prometheus' description of a token: `<op:*>`, `identifier "foo"`,
 * `"("`, `end of input`... */
void pql_describe_token(const pql_parser *P, pql_token tok, char *out, size_t cap);

/* The type checker (check.c), Prometheus' checkAST. Records the first error
 * through pql_error_at; adjusts binary matching as documented in ast.h. */
void pql_check(pql_parser *P, ast_node *root);

/* ---- values of grammar nonterminals ----------------------------------------- */

typedef struct pql_names { /* (a, "b", c) */
    ast_strlist list;
    size_t cap;
    uint32_t end;
} pql_names;

typedef struct pql_args { /* (expr, expr, ...) */
    ast_node **v;
    size_t n, cap;
    uint32_t end;
} pql_args;

typedef struct pql_binmod { /* bool, on/ignoring, group_left/right */
    bool return_bool;
    ast_matching *matching; /* NULL: one-to-one on nothing */
} pql_binmod;

typedef struct pql_aggmod { /* by/without (labels) */
    ast_strlist labels;
    bool without;
    uint32_t end;
} pql_aggmod;

typedef struct pql_num { /* the number after @ */
    double value;
    uint32_t start, end;
    bool ok;
} pql_num;

void pql_args_free(pql_args *a);

/* ---- grammar actions (build.c) ------------------------------------------------
 * Builders take over their node/list arguments (freeing them on failure)
 * and return NULL (or an empty value) after recording an error or OOM.
 * NULL node arguments come from earlier errors and are passed through. */
void ast_accept(pql_parser *P, ast_node *e);
void ast_no_expression(pql_parser *P);

ast_node *ast_number_tok(pql_parser *P, pql_token t);
ast_node *ast_duration_tok(pql_parser *P, pql_token t);
ast_node *ast_string_tok(pql_parser *P, pql_token t);
ast_node *ast_paren_expr(pql_parser *P, pql_token l, ast_node *e, pql_token r);
ast_node *ast_unary_expr(pql_parser *P, pql_token op, ast_node *e);
ast_node *ast_binary_expr(pql_parser *P, ast_node *l, pql_token op, pql_binmod m, ast_node *r);

pql_binmod ast_binmod(bool return_bool);
pql_binmod ast_binmod_on(pql_parser *P, bool return_bool, bool on, pql_names labels);
pql_binmod ast_binmod_group(pql_parser *P, pql_binmod m, ast_card card, pql_names include);

pql_names ast_names_none(void);
pql_names ast_names_add(pql_parser *P, pql_names l, char *name);
pql_names ast_names_close(pql_names l, pql_token rparen);
char *ast_label_name(pql_parser *P, pql_token t);   /* a word */
char *ast_label_string(pql_parser *P, pql_token t); /* a quoted name */

pql_args ast_args_none(void);
pql_args ast_args_add(pql_parser *P, pql_args a, ast_node *e);
pql_args ast_args_close(pql_args a, pql_token rparen);
void ast_trailing_comma(pql_parser *P, pql_token comma);
ast_node *ast_call_expr(pql_parser *P, pql_token name, pql_args args);

pql_aggmod ast_aggmod(bool without, pql_names labels);
pql_aggmod ast_aggmod_none(void);
ast_node *ast_aggregate_expr(pql_parser *P, pql_token op, pql_aggmod mod, pql_args body);

ast_matcher ast_matcher_none(void);
void ast_matcher_release(ast_matcher *m);
ast_matcher ast_matcher_new(pql_parser *P, pql_token name, pql_token op, pql_token value);
ast_matcher ast_name_matcher(pql_parser *P, pql_token name);
ast_node *ast_matchers_first(pql_parser *P, ast_matcher m);
ast_node *ast_matchers_add(pql_parser *P, ast_node *list, ast_matcher m);
ast_node *ast_braces(pql_parser *P, pql_token l, ast_node *list, pql_token r);
ast_node *ast_selector_name(pql_parser *P, pql_token name);
ast_node *ast_selector_named(pql_parser *P, pql_token name, ast_node *braces);

ast_node *ast_matrix_expr(pql_parser *P, ast_node *e, pql_token lbracket, ast_node *range, pql_token rbracket);
ast_node *ast_subquery_expr(pql_parser *P, ast_node *e, ast_node *range, ast_node *step, pql_token rbracket);
ast_node *ast_offset_expr(pql_parser *P, ast_node *e, ast_node *offset);
ast_node *ast_at_expr(pql_parser *P, ast_node *e, pql_num ts);
ast_node *ast_at_preproc(pql_parser *P, ast_node *e, pql_token which, pql_token rparen);
pql_num ast_at_number(pql_parser *P, const pql_token *sign, pql_token t);

ast_node *ast_dur_lit(pql_parser *P, pql_token t);
ast_node *ast_dur_signed(pql_parser *P, pql_token sign, pql_token t);
ast_node *ast_dur_unary(pql_parser *P, pql_token op, ast_node *e);
ast_node *ast_dur_binary(pql_parser *P, ast_node *l, pql_token op, ast_node *r);
ast_node *ast_dur_paren(pql_parser *P, ast_node *e);
ast_node *ast_dur_positive(pql_parser *P, ast_node *e);

#endif
