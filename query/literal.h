/*
 * literal.h - PromQL literals the way Prometheus (Go) reads and writes them:
 * number and duration tokens, quoted strings, and the quoting, float and
 * duration formats of Prometheus' printer. Internal to query/; the lexer,
 * the grammar actions and the AST printer share these so that a printed
 * query parses back to the same tree.
 *
 * Every function is pure; the only allocations are the unquoted string
 * (pql_unquote) and fl_buf appends, both reporting FLINT_ENOMEM.
 */
#ifndef FLINT_QUERY_LITERAL_H
#define FLINT_QUERY_LITERAL_H

#include "storage/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 sequence at s[0..n) (n > 0) as Go's utf8.DecodeRune does:
 * overlong forms, surrogates and values above U+10FFFF are invalid and
 * yield U+FFFD with length 1. Returns the length consumed. */
size_t pql_utf8_decode(const char *s, size_t n, int32_t *rune);
bool pql_utf8_valid(const char *s, size_t n);

/* Go's unicode.IsPrint, approximated: control, format, private-use,
 * separator (other than ' ') and noncharacter code points are not
 * printable; every other assigned-looking code point is. */
bool pql_rune_printable(int32_t r);

/* Append Go's strconv.Quote(s) ("..." with \a \b \f \n \r \t \v \\ \",
 * \xNN for invalid UTF-8 bytes and controls, \uNNNN/\UNNNNNNNN for other
 * non-printable runes). */
int pql_quote(fl_buf *b, const char *s, size_t n);
/* The same into out[0..cap) for error messages, without allocating; a
 * quote that does not fit is cut short and ends in "...". Returns out. */
const char *pql_quote_str(char *out, size_t cap, const char *s, size_t n);
/* Go's %q of a rune ('x', '\n', '\x01', '\u200b') into out (>= 16 bytes);
 * rune -1 (end of input) prints as U+FFFD like Go does. */
void pql_quote_rune(char *out, size_t cap, int32_t r);
/* Go's %#U: "U+0063 'c'" (the quoted part only for printable runes). */
void pql_format_rune_u(char *out, size_t cap, int32_t r);

/* Unquote a lexed string token (with its quotes): "..." and '...' with Go
 * escapes, `...` raw. On success *out is a NUL-terminated fl_malloc'ed copy
 * (caller frees with fl_free) of *out_len bytes, which may contain NUL or
 * invalid UTF-8 from \x escapes. FLINT_EINVAL on bad syntax (the lexer has
 * already rejected those), FLINT_ENOMEM. */
int pql_unquote(const char *tok, size_t n, char **out, size_t *out_len);

/* A NUMBER token as Prometheus converts it: first a Go integer with base
 * prefix (0x.., leading 0 = octal, '_' separators), then a Go float
 * (decimal, Inf, NaN). 0 on success; FLINT_EINVAL with `err` holding Go's
 * text ("strconv.ParseFloat: parsing \"1e999\": value out of range"), or
 * FLINT_ENOMEM (only for tokens longer than 63 bytes). */
int pql_parse_number(const char *s, size_t n, double *out, char *err, size_t errcap);

/* A DURATION token (Prometheus' model.ParseDuration: "0" or ordered groups
 * of <digits><unit>, units y w d h m s ms) in milliseconds. 0 on success;
 * FLINT_EINVAL with `err` = "not a valid duration string: \"5m1h\"",
 * "unknown unit \"hs\" in duration \"5y1hs\"" or "duration out of range". */
int pql_parse_duration(const char *s, size_t n, int64_t *ms, char *err, size_t errcap);

/* Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that reads
 * back as v, never in exponent form; "+Inf", "-Inf", "NaN". */
int pql_format_float(fl_buf *b, double v);
/* Prometheus' model.Duration.String of `ms`: "1h30m", "5m", "0s", "1y",
 * "-5m"; years and weeks only when they divide the value exactly. */
int pql_format_duration(fl_buf *b, int64_t ms);

/* [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus' legacy metric name). */
bool pql_legacy_metric_name(const char *s, size_t n);
/* [a-zA-Z_][a-zA-Z0-9_]* (Prometheus' legacy label name). */
bool pql_legacy_label_name(const char *s, size_t n);

#endif
