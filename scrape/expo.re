/*
 * expo.re - the lexer of the exposition parser (expo_parse.c): re2c recognisers
 * for the tokens whose shape is a regular language - metric and label
 * names, and quoted strings with their escapes, checked to be valid UTF-8
 * in the same pass (the byte ranges of RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF; what Go's utf8.Valid accepts).
 *
 * Each function scans one token starting at `s` and returns its end. They
 * never read at or past `lim`: YYPEEK yields 0 there, and no token may
 * contain a 0 byte, so every scan stops at `lim` at the latest. (Label
 * values with NUL bytes are therefore refused; see expo_parse.c.)
 */
#include "scrape/expo_int.h"

/*!re2c
    re2c:api = custom;
    re2c:api:style = free-form;
    re2c:define:YYCTYPE = "unsigned char";
    re2c:define:YYPEEK = "(cur < end ? *cur : 0)";
    re2c:define:YYSKIP = "++cur;";
    re2c:define:YYBACKUP = "mar = cur;";
    re2c:define:YYRESTORE = "cur = mar;";
    re2c:yyfill:enable = 0;
    re2c:flags:bit-vectors = 1; /* ~15% faster on label-heavy lines than switches */

    cont   = [\x80-\xBF];
    mb     = [\xC2-\xDF] cont
           | "\xE0" [\xA0-\xBF] cont
           | [\xE1-\xEC\xEE\xEF] cont cont
           | "\xED" [\x80-\x9F] cont
           | "\xF0" [\x90-\xBF] cont cont
           | [\xF1-\xF3] cont cont cont
           | "\xF4" [\x80-\x8F] cont cont;
*/

#define SCAN_VARS                                                  \
    const unsigned char *cur = (const unsigned char *)s;           \
    const unsigned char *end = (const unsigned char *)lim;         \
    const unsigned char *mar = cur;                                \
    (void)mar

/* [a-zA-Z_:][a-zA-Z0-9_:]*; returns s when there is none. */
const char *expo__scan_metric_name(const char *s, const char *lim) {
    SCAN_VARS;
    /*!re2c
        [a-zA-Z_:][a-zA-Z0-9_:]* { return (const char *)cur; }
        *                        { return s; }
    */
}

/* [a-zA-Z_][a-zA-Z0-9_]*; returns s when there is none. */
const char *expo__scan_label_name(const char *s, const char *lim) {
    SCAN_VARS;
    /*!re2c
        [a-zA-Z_][a-zA-Z0-9_]* { return (const char *)cur; }
        *                      { return s; }
    */
}

/* A quoted string at s (s[0] == '"'): any UTF-8 but '"', '\\', LF and NUL,
 * or a backslash followed by any UTF-8 character but LF and NUL. Returns
 * the end just past the closing quote, or NULL when the string is not
 * well-formed (unterminated, invalid UTF-8, raw LF or NUL). */
const char *expo__scan_quoted(const char *s, const char *lim) {
    SCAN_VARS;
    /*!re2c
        plain = [\x01-\x09\x0B-\x21\x23-\x5B\x5D-\x7F] | mb;
        esc   = "\\" ([\x01-\x09\x0B-\x7F] | mb);
        ["] (plain | esc)* ["] { return (const char *)cur; }
        *                      { return NULL; }
    */
}

/* The same, but raw LF is allowed too: label values of the text format,
 * where Prometheus' lexer accepts a line break inside the quotes. */
const char *expo__scan_quoted_lf(const char *s, const char *lim) {
    SCAN_VARS;
    /*!re2c
        plain_lf = [\x01-\x21\x23-\x5B\x5D-\x7F] | mb;
        esc_nolf = "\\" ([\x01-\x09\x0B-\x7F] | mb);
        ["] (plain_lf | esc_nolf)* ["] { return (const char *)cur; }
        *                              { return NULL; }
    */
}
