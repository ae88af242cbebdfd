/*
 * promql.y - the PromQL grammar for lemon (Prometheus 3.5 syntax).
 *
 * lemon writes build/gen/query/promql.{c,h}; promql.h holds the TK_* token
 * codes that lexer.re returns. parse.c drives the parser one token at a
 * time (pql__lemon) and ends the input with EOI. Actions are one-line calls
 * of the builders in build.c, which own all checking and error reporting.
 * Every nonterminal that owns memory has a %destructor, so a syntax error
 * anywhere releases what was built so far.
 *
 * Operator precedence, loosest first, as in Prometheus: or < and unless <
 * comparisons < + - < * / % atan2 < ^ (right-assoc); unary minus/plus binds
 * like *, so -2^2 is -(2^2); offset, @ and [..] bind tightest.
 *
 * Syntax errors: %syntax_error remembers the token; an `error` rule below
 * adds Prometheus' context ("in label matching, expected string"), else the
 * driver reports a plain "unexpected <token>".
 */

%name pql__lemon
%token_prefix TK_
%token_type {pql_token}
%extra_context {pql_parser *P}
%start_symbol input
/* Fixed stack (entries); nesting beyond it is "expression nesting too deep". */
%stack_size 4000

%include {
#include "query/parse_int.h"

#include <assert.h>
#include <stdlib.h>
}

%syntax_error { pql_syntax_error(P, TOKEN); }
%parse_failure { pql_parse_failed(P); }
%stack_overflow { pql_stack_overflow(P); }

/* Token codes in a fixed order (lexer.re and parse.c use the names). */
%token EOI COMMA LEFT_PAREN RIGHT_PAREN LEFT_BRACE RIGHT_BRACE LEFT_BRACKET RIGHT_BRACKET COLON
       EQL IDENTIFIER METRIC_IDENTIFIER NUMBER DURATION STRING.
%token ADD SUB MUL DIV MOD POW EQLC NEQ LTE LSS GTE GTR EQL_REGEX NEQ_REGEX LAND LOR LUNLESS AT ATAN2.
%token AVG BOTTOMK COUNT COUNT_VALUES GROUP MAX MIN QUANTILE STDDEV STDVAR SUM TOPK LIMITK LIMIT_RATIO.
%token BOOL BY GROUP_LEFT GROUP_RIGHT IGNORING OFFSET ON WITHOUT START END.

%left LOR.
%left LAND LUNLESS.
%left EQLC GTE GTR LSS LTE NEQ.
%left ADD SUB.
%left MUL DIV MOD ATAN2.
%right POW.
%nonassoc OFFSET.
%nonassoc AT.
%right LEFT_BRACKET LEFT_PAREN.

%type expr {ast_node *}
%destructor expr { ast_free($$); }
%type label_matchers {ast_node *}
%destructor label_matchers { ast_free($$); }
%type matcher_list {ast_node *}
%destructor matcher_list { ast_free($$); }
%type dexpr {ast_node *}
%destructor dexpr { ast_free($$); }
%type dur_pos {ast_node *}
%destructor dur_pos { ast_free($$); }
%type oexpr {ast_node *}
%destructor oexpr { ast_free($$); }
%type odur {ast_node *}
%destructor odur { ast_free($$); }
%type matcher {ast_matcher}
%destructor matcher { ast_matcher_release(&$$); }
%type names {pql_names}
%destructor names { ast_strlist_free(&$$.list); }
%type maybe_names {pql_names}
%destructor maybe_names { ast_strlist_free(&$$.list); }
%type name_list {pql_names}
%destructor name_list { ast_strlist_free(&$$.list); }
%type name {char *}
%destructor name { fl_free($$); }
%type bin_mod {pql_binmod}
%destructor bin_mod { ast_matching_free($$.matching); }
%type on_ign {pql_binmod}
%destructor on_ign { ast_matching_free($$.matching); }
%type aggr_mod {pql_aggmod}
%destructor aggr_mod { ast_strlist_free(&$$.labels); }
%type call_body {pql_args}
%destructor call_body { pql_args_free(&$$); }
%type call_args {pql_args}
%destructor call_args { pql_args_free(&$$); }
%type at_num {pql_num}
%type metric_ident {pql_token}
%type maybe_label {pql_token}
%type aggr_op {pql_token}
%type match_op {pql_token}

input ::= expr(E) EOI.                    { ast_accept(P, E); }
input ::= EOI.                            { ast_no_expression(P); }

/* ---- literals, parentheses, unary and binary operators ---- */
expr(A) ::= NUMBER(T).                    { A = ast_number_tok(P, T); }
expr(A) ::= DURATION(T).                  { A = ast_duration_tok(P, T); }
expr(A) ::= STRING(T).                    { A = ast_string_tok(P, T); }
expr(A) ::= LEFT_PAREN(L) expr(E) RIGHT_PAREN(R). { A = ast_paren_expr(P, L, E, R); }
expr(A) ::= ADD|SUB(O) expr(E). [MUL]     { A = ast_unary_expr(P, O, E); }

expr(A) ::= expr(L) LOR(O) bin_mod(M) expr(R).                     { A = ast_binary_expr(P, L, O, M, R); }
expr(A) ::= expr(L) LAND|LUNLESS(O) bin_mod(M) expr(R).            { A = ast_binary_expr(P, L, O, M, R); }
expr(A) ::= expr(L) EQLC|GTE|GTR|LSS|LTE|NEQ(O) bin_mod(M) expr(R). { A = ast_binary_expr(P, L, O, M, R); }
expr(A) ::= expr(L) ADD|SUB(O) bin_mod(M) expr(R).                 { A = ast_binary_expr(P, L, O, M, R); }
expr(A) ::= expr(L) MUL|DIV|MOD|ATAN2(O) bin_mod(M) expr(R).       { A = ast_binary_expr(P, L, O, M, R); }
expr(A) ::= expr(L) POW(O) bin_mod(M) expr(R).                     { A = ast_binary_expr(P, L, O, M, R); }

bin_mod(A) ::= .                                   { A = ast_binmod(false); }
bin_mod(A) ::= BOOL.                               { A = ast_binmod(true); }
bin_mod(A) ::= on_ign(M).                          { A = M; }
bin_mod(A) ::= on_ign(M) GROUP_LEFT maybe_names(G).  { A = ast_binmod_group(P, M, AST_CARD_MANY_TO_ONE, G); }
bin_mod(A) ::= on_ign(M) GROUP_RIGHT maybe_names(G). { A = ast_binmod_group(P, M, AST_CARD_ONE_TO_MANY, G); }
on_ign(A) ::= IGNORING names(L).                   { A = ast_binmod_on(P, false, false, L); }
on_ign(A) ::= ON names(L).                         { A = ast_binmod_on(P, false, true, L); }
on_ign(A) ::= BOOL IGNORING names(L).              { A = ast_binmod_on(P, true, false, L); }
on_ign(A) ::= BOOL ON names(L).                    { A = ast_binmod_on(P, true, true, L); }

/* `group_left (x)`: the parenthesis is read as the label list. */
maybe_names(A) ::= . [LOR]                         { A = ast_names_none(); }
maybe_names(A) ::= names(L).                       { A = L; }

/* ---- label name lists: by/without, on/ignoring, group_x ---- */
names(A) ::= LEFT_PAREN name_list(L) RIGHT_PAREN(R).       { A = ast_names_close(L, R); }
names(A) ::= LEFT_PAREN name_list(L) COMMA RIGHT_PAREN(R). { A = ast_names_close(L, R); }
names(A) ::= LEFT_PAREN RIGHT_PAREN(R).                    { A = ast_names_close(ast_names_none(), R); }
names(A) ::= error.                        { A = ast_names_none(); pql_unexpected(P, "grouping opts", "\"(\""); }
name_list(A) ::= name_list(L) COMMA name(N). { A = ast_names_add(P, L, N); }
name_list(A) ::= name(N).                    { A = ast_names_add(P, ast_names_none(), N); }
name_list(A) ::= name_list(L) error.         { A = L; pql_unexpected(P, "grouping opts", "\",\" or \")\""); }
name(A) ::= maybe_label(T).                  { A = ast_label_name(P, T); }
name(A) ::= STRING(T).                       { A = ast_label_string(P, T); }
name(A) ::= error.                           { A = NULL; pql_unexpected(P, "grouping opts", "label"); }

/* Keywords that may still name a label in a grouping (Prometheus' maybe_label). */
maybe_label(A) ::= AVG(T). { A = T; } maybe_label(A) ::= BOOL(T). { A = T; } maybe_label(A) ::= BOTTOMK(T). { A = T; }
maybe_label(A) ::= BY(T). { A = T; } maybe_label(A) ::= COUNT(T). { A = T; } maybe_label(A) ::= COUNT_VALUES(T). { A = T; }
maybe_label(A) ::= GROUP(T). { A = T; } maybe_label(A) ::= GROUP_LEFT(T). { A = T; } maybe_label(A) ::= GROUP_RIGHT(T). { A = T; }
maybe_label(A) ::= IDENTIFIER(T). { A = T; } maybe_label(A) ::= IGNORING(T). { A = T; } maybe_label(A) ::= LAND(T). { A = T; }
maybe_label(A) ::= LOR(T). { A = T; } maybe_label(A) ::= LUNLESS(T). { A = T; } maybe_label(A) ::= MAX(T). { A = T; }
maybe_label(A) ::= METRIC_IDENTIFIER(T). { A = T; } maybe_label(A) ::= MIN(T). { A = T; } maybe_label(A) ::= OFFSET(T). { A = T; }
maybe_label(A) ::= ON(T). { A = T; } maybe_label(A) ::= QUANTILE(T). { A = T; } maybe_label(A) ::= STDDEV(T). { A = T; }
maybe_label(A) ::= STDVAR(T). { A = T; } maybe_label(A) ::= SUM(T). { A = T; } maybe_label(A) ::= TOPK(T). { A = T; }
maybe_label(A) ::= START(T). { A = T; } maybe_label(A) ::= END(T). { A = T; } maybe_label(A) ::= ATAN2(T). { A = T; }
maybe_label(A) ::= LIMITK(T). { A = T; } maybe_label(A) ::= LIMIT_RATIO(T). { A = T; }

/* ---- function calls and aggregations ---- */
expr(A) ::= IDENTIFIER(N) call_body(B).      { A = ast_call_expr(P, N, B); }
call_body(A) ::= LEFT_PAREN call_args(L) RIGHT_PAREN(R). { A = ast_args_close(L, R); }
call_body(A) ::= LEFT_PAREN RIGHT_PAREN(R).  { A = ast_args_close(ast_args_none(), R); }
call_args(A) ::= call_args(L) COMMA expr(E). { A = ast_args_add(P, L, E); }
call_args(A) ::= expr(E).                    { A = ast_args_add(P, ast_args_none(), E); }
call_args(A) ::= call_args(L) COMMA(C).      { A = L; ast_trailing_comma(P, C); }

expr(A) ::= aggr_op(O) aggr_mod(M) call_body(B). { A = ast_aggregate_expr(P, O, M, B); }
expr(A) ::= aggr_op(O) call_body(B) aggr_mod(M). { A = ast_aggregate_expr(P, O, M, B); }
expr(A) ::= aggr_op(O) call_body(B).             { A = ast_aggregate_expr(P, O, ast_aggmod_none(), B); }
expr(A) ::= aggr_op error.                       { A = NULL; pql_unexpected(P, "aggregation", NULL); }
aggr_mod(A) ::= BY names(L).                     { A = ast_aggmod(false, L); }
aggr_mod(A) ::= WITHOUT names(L).                { A = ast_aggmod(true, L); }
aggr_op(A) ::= AVG(T). { A = T; } aggr_op(A) ::= BOTTOMK(T). { A = T; } aggr_op(A) ::= COUNT(T). { A = T; }
aggr_op(A) ::= COUNT_VALUES(T). { A = T; } aggr_op(A) ::= GROUP(T). { A = T; } aggr_op(A) ::= MAX(T). { A = T; }
aggr_op(A) ::= MIN(T). { A = T; } aggr_op(A) ::= QUANTILE(T). { A = T; } aggr_op(A) ::= STDDEV(T). { A = T; }
aggr_op(A) ::= STDVAR(T). { A = T; } aggr_op(A) ::= SUM(T). { A = T; } aggr_op(A) ::= TOPK(T). { A = T; }
aggr_op(A) ::= LIMITK(T). { A = T; } aggr_op(A) ::= LIMIT_RATIO(T). { A = T; }

/* ---- vector selectors ---- */
expr(A) ::= metric_ident(N).                     { A = ast_selector_name(P, N); }
expr(A) ::= metric_ident(N) label_matchers(M).   { A = ast_selector_named(P, N, M); }
expr(A) ::= label_matchers(M).                   { A = M; }
metric_ident(A) ::= AVG(T). { A = T; } metric_ident(A) ::= BOTTOMK(T). { A = T; } metric_ident(A) ::= BY(T). { A = T; }
metric_ident(A) ::= COUNT(T). { A = T; } metric_ident(A) ::= COUNT_VALUES(T). { A = T; } metric_ident(A) ::= GROUP(T). { A = T; }
metric_ident(A) ::= IDENTIFIER(T). { A = T; } metric_ident(A) ::= LAND(T). { A = T; } metric_ident(A) ::= LOR(T). { A = T; }
metric_ident(A) ::= LUNLESS(T). { A = T; } metric_ident(A) ::= MAX(T). { A = T; } metric_ident(A) ::= METRIC_IDENTIFIER(T). { A = T; }
metric_ident(A) ::= MIN(T). { A = T; } metric_ident(A) ::= OFFSET(T). { A = T; } metric_ident(A) ::= QUANTILE(T). { A = T; }
metric_ident(A) ::= STDDEV(T). { A = T; } metric_ident(A) ::= STDVAR(T). { A = T; } metric_ident(A) ::= SUM(T). { A = T; }
metric_ident(A) ::= TOPK(T). { A = T; } metric_ident(A) ::= WITHOUT(T). { A = T; } metric_ident(A) ::= START(T). { A = T; }
metric_ident(A) ::= END(T). { A = T; } metric_ident(A) ::= LIMITK(T). { A = T; } metric_ident(A) ::= LIMIT_RATIO(T). { A = T; }

label_matchers(A) ::= LEFT_BRACE(L) matcher_list(M) RIGHT_BRACE(R).       { A = ast_braces(P, L, M, R); }
label_matchers(A) ::= LEFT_BRACE(L) matcher_list(M) COMMA RIGHT_BRACE(R). { A = ast_braces(P, L, M, R); }
label_matchers(A) ::= LEFT_BRACE(L) RIGHT_BRACE(R).                       { A = ast_braces(P, L, NULL, R); }
matcher_list(A) ::= matcher_list(L) COMMA matcher(M). { A = ast_matchers_add(P, L, M); }
matcher_list(A) ::= matcher(M).                       { A = ast_matchers_first(P, M); }
matcher_list(A) ::= matcher_list(L) error.  { A = L; pql_unexpected(P, "label matching", "\",\" or \"}\""); }
matcher(A) ::= IDENTIFIER(N) match_op(O) STRING(V). { A = ast_matcher_new(P, N, O, V); }
matcher(A) ::= STRING(N) match_op(O) STRING(V).     { A = ast_matcher_new(P, N, O, V); }
matcher(A) ::= STRING(N).                           { A = ast_name_matcher(P, N); }
matcher(A) ::= STRING match_op error.     { A = ast_matcher_none(); pql_unexpected(P, "label matching", "string"); }
matcher(A) ::= IDENTIFIER match_op error. { A = ast_matcher_none(); pql_unexpected(P, "label matching", "string"); }
matcher(A) ::= IDENTIFIER error.  { A = ast_matcher_none(); pql_unexpected(P, "label matching", "label matching operator"); }
matcher(A) ::= error.             { A = ast_matcher_none(); pql_unexpected(P, "label matching", "identifier or \"}\""); }
match_op(A) ::= EQL|NEQ|EQL_REGEX|NEQ_REGEX(T). { A = T; }

/* ---- ranges, subqueries, offset and @ ---- */
expr(A) ::= expr(E) LEFT_BRACKET(L) dur_pos(R) RIGHT_BRACKET(T).                  { A = ast_matrix_expr(P, E, L, R, T); }
expr(A) ::= expr(E) LEFT_BRACKET dur_pos(R) COLON dur_pos(S) RIGHT_BRACKET(T).    { A = ast_subquery_expr(P, E, R, S, T); }
expr(A) ::= expr(E) LEFT_BRACKET dur_pos(R) COLON RIGHT_BRACKET(T).               { A = ast_subquery_expr(P, E, R, NULL, T); }
expr(A) ::= expr(E) LEFT_BRACKET dur_pos COLON dur_pos error. { A = E; pql_unexpected(P, "subquery selector", "\"]\""); }
expr(A) ::= expr(E) LEFT_BRACKET dur_pos COLON error. { A = E; pql_unexpected(P, "subquery selector", "number or duration or \"]\""); }
expr(A) ::= expr(E) LEFT_BRACKET dur_pos error.       { A = E; pql_unexpected(P, "subquery or range", "\":\" or \"]\""); }
expr(A) ::= expr(E) LEFT_BRACKET error.               { A = E; pql_unexpected(P, "subquery selector", "number or duration"); }

expr(A) ::= expr(E) OFFSET odur(D).    { A = ast_offset_expr(P, E, D); }
expr(A) ::= expr(E) OFFSET error.      { A = E; pql_unexpected(P, "offset", "number or duration"); }

expr(A) ::= expr(E) AT at_num(N).                                  { A = ast_at_expr(P, E, N); }
expr(A) ::= expr(E) AT START|END(S) LEFT_PAREN RIGHT_PAREN(R).     { A = ast_at_preproc(P, E, S, R); }
expr(A) ::= expr(E) AT error.          { A = E; pql_unexpected(P, "@", "timestamp"); }
at_num(A) ::= NUMBER|DURATION(T).              { A = ast_at_number(P, NULL, T); }
at_num(A) ::= ADD|SUB(S) NUMBER|DURATION(T).   { A = ast_at_number(P, &S, T); }

/* Inside [..]: a duration, a unitless number of seconds, or (with duration
 * expressions) arithmetic over them. Literals must be positive. */
dur_pos(A) ::= dexpr(E).                    { A = ast_dur_positive(P, E); }
dexpr(A) ::= NUMBER|DURATION(T).            { A = ast_dur_lit(P, T); }
dexpr(A) ::= ADD|SUB(O) dexpr(E). [MUL]     { A = ast_dur_unary(P, O, E); }
dexpr(A) ::= dexpr(L) ADD|SUB(O) dexpr(R).  { A = ast_dur_binary(P, L, O, R); }
dexpr(A) ::= dexpr(L) MUL|DIV|MOD(O) dexpr(R). { A = ast_dur_binary(P, L, O, R); }
dexpr(A) ::= dexpr(L) POW(O) dexpr(R).      { A = ast_dur_binary(P, L, O, R); }
dexpr(A) ::= LEFT_PAREN dexpr(E) RIGHT_PAREN. { A = ast_dur_paren(P, E); }

/* After offset: a literal with one sign binds tightest (`x offset -2 ^ 2`
 * is `(x offset -2) ^ 2`); an expression starts with a parenthesis or two
 * signs and then runs as far as duration arithmetic goes, as in Prometheus
 * (`x offset - -2 ^ 2` is `x offset (--2 ^ 2)`). */
odur(A) ::= NUMBER|DURATION(T).             { A = ast_dur_lit(P, T); }
odur(A) ::= ADD|SUB(S) NUMBER|DURATION(T).  { A = ast_dur_signed(P, S, T); }
odur(A) ::= oexpr(E). [LOR]                 { A = E; }
oexpr(A) ::= LEFT_PAREN dexpr(E) RIGHT_PAREN. { A = ast_dur_paren(P, E); }
oexpr(A) ::= ADD|SUB(O) oexpr(E). [MUL]     { A = ast_dur_unary(P, O, E); }
oexpr(A) ::= ADD|SUB(O) ADD|SUB(S) NUMBER|DURATION(T). [MUL] { A = ast_dur_unary(P, O, ast_dur_signed(P, S, T)); }
oexpr(A) ::= oexpr(L) ADD|SUB(O) dexpr(R).  { A = ast_dur_binary(P, L, O, R); }
oexpr(A) ::= oexpr(L) MUL|DIV|MOD(O) dexpr(R). { A = ast_dur_binary(P, L, O, R); }
oexpr(A) ::= oexpr(L) POW(O) dexpr(R).      { A = ast_dur_binary(P, L, O, R); }
