/*
 * literal.c - PromQL literals as Prometheus' Go code reads and prints them
 * (strconv number and quote rules, model.ParseDuration/Duration.String,
 * util/strutil.Unquote). Used by the lexer, the grammar actions and the AST
 * printer; see literal.h. Written from the documented Go semantics, so that
 * a query printed by ast_dump parses back to the same tree and error texts
 * read like Prometheus' ("not a valid duration string: \"5m1h\"").
 */
#include "query/literal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 --------------------------------------------------------------- */

size_t pql_utf8_decode(const char *str, size_t n, int32_t *rune) {
    const uint8_t *s = (const uint8_t *)str;
    uint8_t c = s[0];
    *rune = 0xFFFD;
    if (c < 0x80) {
        *rune = c;
        return 1;
    }
    size_t len;
    int32_t r, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, r = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, r = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, r = c & 0x07, min = 0x10000;
    else return 1;
    if (n < len) return 1;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 1;
        r = (r << 6) | (s[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return 1;
    *rune = r;
    return len;
}

bool pql_utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int32_t r;
        size_t w = pql_utf8_decode(s + i, n - i, &r);
        if (r == 0xFFFD && w == 1) return false;
        i += w;
    }
    return true;
}

bool pql_rune_printable(int32_t r) {
    if (r < 0x20 || (r >= 0x7F && r <= 0xA0) || r == 0xAD) return false;
    if (r < 0x300) return true;
    static const int32_t ranges[][2] = {
        {0x0378, 0x0379}, {0x0600, 0x0605}, {0x061C, 0x061C}, {0x06DD, 0x06DD},
        {0x070F, 0x070F}, {0x1680, 0x1680}, {0x180E, 0x180E}, {0x2000, 0x200F},
        {0x2028, 0x202F}, {0x205F, 0x206F}, {0x3000, 0x3000}, {0xD800, 0xF8FF},
        {0xFDD0, 0xFDEF}, {0xFEFF, 0xFEFF}, {0xFFF0, 0xFFFB}, {0xFFFE, 0xFFFF},
        {0x110BD, 0x110BD}, {0x1D173, 0x1D17A}, {0xE0000, 0xE007F}, {0xF0000, 0x10FFFF},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (r >= ranges[i][0] && r <= ranges[i][1]) return false;
    return (r & 0xFFFE) != 0xFFFE && r <= 0x10FFFF;
}

static const char lowerhex[] = "0123456789abcdef";

static size_t utf8_encode(char *out, int32_t r) {
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xC0 | (r >> 6));
        out[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xE0 | (r >> 12));
        out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (r >> 18));
    out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
    out[3] = (char)(0x80 | (r & 0x3F));
    return 4;
}

/* Go's appendEscapedRune: the escape for one rune inside `quote` quotes;
 * out needs 10 bytes; returns the length. */
static size_t escape_rune(char *out, int32_t r, char quote) {
    if (r == quote || r == '\\') {
        out[0] = '\\';
        out[1] = (char)r;
        return 2;
    }
    if (pql_rune_printable(r)) return utf8_encode(out, r);
    static const char simple[] = "\a\b\f\n\r\t\v", letters[] = "abfnrtv";
    for (int i = 0; simple[i]; i++)
        if (r == simple[i]) {
            out[0] = '\\';
            out[1] = letters[i];
            return 2;
        }
    if (r < ' ' || r == 0x7F) {
        out[0] = '\\', out[1] = 'x', out[2] = lowerhex[r >> 4], out[3] = lowerhex[r & 0xF];
        return 4;
    }
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
    int digits = r < 0x10000 ? 4 : 8;
    out[0] = '\\';
    out[1] = digits == 4 ? 'u' : 'U';
    for (int i = 0; i < digits; i++) out[2 + i] = lowerhex[(r >> (4 * (digits - 1 - i))) & 0xF];
    return (size_t)digits + 2;
}

/* Where quoted text goes: a growable buffer or a fixed one. */
typedef struct quote_sink {
    fl_buf *buf;
    char *out;
    size_t cap, len;
    bool full;
} quote_sink;

static bool sink_put(quote_sink *k, const char *s, size_t n) {
    if (k->buf) return fl_buf_put(k->buf, s, n) == 0;
    if (k->full || k->len + n + 5 > k->cap) { /* keep room for `..."` and NUL */
        k->full = true;
        return true;
    }
    memcpy(k->out + k->len, s, n);
    k->len += n;
    return true;
}

static bool quote_to(quote_sink *k, const char *s, size_t n) {
    if (!sink_put(k, "\"", 1)) return false;
    for (size_t i = 0; i < n;) {
        int32_t r;
        size_t w = pql_utf8_decode(s + i, n - i, &r);
        char esc[12];
        size_t elen;
        if (w == 1 && r == 0xFFFD) {
            uint8_t c = (uint8_t)s[i];
            esc[0] = '\\', esc[1] = 'x', esc[2] = lowerhex[c >> 4], esc[3] = lowerhex[c & 0xF];
            elen = 4;
        } else {
            elen = escape_rune(esc, r, '"');
        }
        if (!sink_put(k, esc, elen)) return false;
        i += w;
    }
    return sink_put(k, "\"", 1);
}

int pql_quote(fl_buf *b, const char *s, size_t n) {
    quote_sink k = {.buf = b};
    return quote_to(&k, s, n) ? 0 : FLINT_ENOMEM;
}

const char *pql_quote_str(char *out, size_t cap, const char *s, size_t n) {
    quote_sink k = {.out = out, .cap = cap};
    if (cap < 8) {
        if (cap) out[0] = 0;
        return out;
    }
    quote_to(&k, s, n);
    if (k.full) {
        memcpy(out + k.len, "...\"", 4);
        k.len += 4;
    }
    out[k.len] = 0;
    return out;
}

void pql_quote_rune(char *out, size_t cap, int32_t r) {
    char esc[12];
    if (r < 0) r = 0xFFFD;
    size_t elen = escape_rune(esc, r, '\'');
    snprintf(out, cap, "'%.*s'", (int)elen, esc);
}

void pql_format_rune_u(char *out, size_t cap, int32_t r) {
    if (pql_rune_printable(r)) {
        char enc[4];
        size_t len = utf8_encode(enc, r);
        snprintf(out, cap, "U+%04" PRIX32 " '%.*s'", (uint32_t)r, (int)len, enc);
    } else {
        snprintf(out, cap, "U+%04" PRIX32, (uint32_t)r);
    }
}

/* ---- strings ------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int pql_unquote(const char *tok, size_t n, char **out, size_t *out_len) {
    if (n < 2 || tok[0] != tok[n - 1]) return FLINT_EINVAL;
    char quote = tok[0];
    const char *s = tok + 1;
    size_t len = n - 2;
    if (quote != '"' && quote != '\'' && quote != '`') return FLINT_EINVAL;
    /* Escapes never make a string longer than its source text. */
    char *buf = fl_malloc(len + 1);
    if (!buf) return FLINT_ENOMEM;
    size_t o = 0;
    if (quote == '`') {
        if (memchr(s, '`', len)) goto bad;
        memcpy(buf, s, len);
        o = len;
    } else {
        for (size_t i = 0; i < len;) {
            char c = s[i];
            if (c == quote || c == '\n') goto bad;
            if (c != '\\') {
                buf[o++] = c;
                i++;
                continue;
            }
            if (i + 1 >= len) goto bad;
            char e = s[i + 1];
            i += 2;
            int32_t v = 0;
            int ndig = 0;
            switch (e) {
            case 'a': buf[o++] = '\a'; break;
            case 'b': buf[o++] = '\b'; break;
            case 'f': buf[o++] = '\f'; break;
            case 'n': buf[o++] = '\n'; break;
            case 'r': buf[o++] = '\r'; break;
            case 't': buf[o++] = '\t'; break;
            case 'v': buf[o++] = '\v'; break;
            case '\\': buf[o++] = '\\'; break;
            case '\'':
            case '"':
                if (e != quote) goto bad;
                buf[o++] = e;
                break;
            case 'x': ndig = 2; break;
            case 'u': ndig = 4; break;
            case 'U': ndig = 8; break;
            case '0': case '1': case '2': case '3':
            case '4': case '5': case '6': case '7':
                if (i + 2 > len) goto bad;
                v = e - '0';
                for (int j = 0; j < 2; j++) {
                    char d = s[i + (size_t)j];
                    if (d < '0' || d > '7') goto bad;
                    v = (v << 3) | (d - '0');
                }
                i += 2;
                if (v > 255) goto bad;
                buf[o++] = (char)v;
                break;
            default:
                goto bad;
            }
            if (ndig) {
                if (i + (size_t)ndig > len) goto bad;
                uint32_t u = 0;
                for (int j = 0; j < ndig; j++) {
                    int h = hexval(s[i + (size_t)j]);
                    if (h < 0) goto bad;
                    u = (u << 4) | (uint32_t)h;
                }
                i += (size_t)ndig;
                if (e == 'x') {
                    buf[o++] = (char)u; /* a single byte, maybe not UTF-8 */
                } else {
                    if (u > 0x10FFFF) goto bad;
                    if (u >= 0xD800 && u <= 0xDFFF) u = 0xFFFD; /* Go's EncodeRune */
                    o += utf8_encode(buf + o, (int32_t)u);
                }
            }
        }
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return 0;
bad:
    fl_free(buf);
    return FLINT_EINVAL;
}

/* ---- numbers --------------------------------------------------------------- */

static char lower(char c) { return (char)(c | 0x20); }

/* Go's underscoreOK: '_' only between digits or after a base prefix. */
static bool underscore_ok(const char *s, size_t n) {
    char saw = '^';
    size_t i = 0;
    bool hex = false;
    if (n >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = lower(s[1]) == 'x';
    }
    for (; i < n; i++) {
        if ((s[i] >= '0' && s[i] <= '9') || (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
            saw = '0';
            continue;
        }
        if (s[i] == '_') {
            if (saw != '0') return false;
            saw = '_';
            continue;
        }
        if (saw == '_') return false;
        saw = '!';
    }
    return saw != '_';
}

/* strconv.ParseInt(s, 0, 64) for an unsigned token; false on any error. */
static bool go_parse_int(const char *s, size_t n, int64_t *out) {
    if (n == 0) return false;
    const char *d = s;
    size_t dn = n;
    unsigned base = 10;
    if (s[0] == '0') {
        if (n >= 3 && lower(s[1]) == 'b') base = 2, d += 2, dn -= 2;
        else if (n >= 3 && lower(s[1]) == 'o') base = 8, d += 2, dn -= 2;
        else if (n >= 3 && lower(s[1]) == 'x') base = 16, d += 2, dn -= 2;
        else base = 8, d += 1, dn -= 1;
    }
    uint64_t v = 0;
    bool underscores = false;
    for (size_t i = 0; i < dn; i++) {
        if (d[i] == '_') {
            underscores = true;
            continue;
        }
        int h = hexval(d[i]);
        if (h < 0 || (unsigned)h >= base) return false;
        if (v > (UINT64_MAX - (unsigned)h) / base) return false;
        v = v * base + (unsigned)h;
    }
    if (underscores && !underscore_ok(s, n)) return false;
    if (v > (uint64_t)INT64_MAX) return false;
    *out = (int64_t)v;
    return true;
}

static bool ieq(const char *s, size_t n, const char *lit) {
    if (strlen(lit) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lit[i]) return false;
    return true;
}

/* Go's error text; a long token is cut short ("...") so that the reason
 * still fits in an error message. */
static void go_float_err(char *err, size_t cap, const char *s, size_t n, const char *why) {
    char q[80];
    snprintf(err, cap, "strconv.ParseFloat: parsing %s: %s", pql_quote_str(q, sizeof q, s, n), why);
}

int pql_parse_number(const char *s, size_t n, double *out, char *err, size_t errcap) {
    int64_t iv;
    if (go_parse_int(s, n, &iv)) {
        *out = (double)iv;
        return 0;
    }
    if (ieq(s, n, "inf") || ieq(s, n, "infinity")) {
        *out = INFINITY;
        return 0;
    }
    if (ieq(s, n, "nan")) {
        *out = NAN;
        return 0;
    }
    /* Decimal float: digits [. digits] [e [+-] digits], '_' separators.
     * (Hex floats need a 'p' exponent, which no PromQL token can hold.) */
    char small[64];
    char *tmp = n < sizeof small ? small : fl_malloc(n + 1);
    if (!tmp) return FLINT_ENOMEM;
    size_t t = 0, i = 0, mant_digits = 0;
    bool underscores = false, ok = n > 0, seen_dot = false;
    for (; ok && i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') mant_digits++;
        else if (c == '.' && !seen_dot) seen_dot = true;
        else if (c == '_') { underscores = true; continue; }
        else break;
        tmp[t++] = c;
    }
    if (ok && i < n && lower(s[i]) == 'e') {
        tmp[t++] = s[i++];
        if (i < n && (s[i] == '+' || s[i] == '-')) tmp[t++] = s[i++];
        size_t exp_digits = 0;
        for (; i < n; i++) {
            if (s[i] == '_') { underscores = true; continue; }
            if (s[i] < '0' || s[i] > '9') break;
            tmp[t++] = s[i];
            exp_digits++;
        }
        if (!exp_digits) ok = false;
    }
    if (i != n || mant_digits == 0 || (underscores && !underscore_ok(s, n))) ok = false;
    double v = 0;
    if (ok) {
        tmp[t] = 0;
        v = strtod(tmp, NULL);
    }
    if (tmp != small) fl_free(tmp);
    if (!ok) {
        go_float_err(err, errcap, s, n, "invalid syntax");
        return FLINT_EINVAL;
    }
    if (isinf(v)) {
        go_float_err(err, errcap, s, n, "value out of range");
        return FLINT_EINVAL;
    }
    *out = v;
    return 0;
}

/* ---- durations ------------------------------------------------------------- */

int pql_parse_duration(const char *s, size_t n, int64_t *ms, char *err, size_t errcap) {
    static const struct { const char *unit; int pos; uint64_t mult_ms; } units[] = {
        {"ms", 7, 1}, {"s", 6, 1000}, {"m", 5, 60000}, {"h", 4, 3600000},
        {"d", 3, 86400000}, {"w", 2, 604800000}, {"y", 1, 31536000000},
    };
    const uint64_t max_ns = (uint64_t)INT64_MAX;
    if (n == 1 && s[0] == '0') {
        *ms = 0;
        return 0;
    }
    if (n == 0) {
        snprintf(err, errcap, "empty duration string");
        return FLINT_EINVAL;
    }
    uint64_t total_ns = 0;
    int last_pos = 0;
    size_t i = 0;
    while (i < n) {
        size_t d0 = i;
        uint64_t v = 0;
        bool overflow = false;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (v > (UINT64_MAX - 9) / 10) overflow = true;
            else v = v * 10 + (uint64_t)(s[i] - '0');
            i++;
        }
        if (i == d0 || overflow) goto invalid;
        size_t u0 = i;
        while (i < n && !(s[i] >= '0' && s[i] <= '9')) i++;
        if (i == u0) goto invalid;
        size_t k = 0, ulen = i - u0;
        while (k < sizeof units / sizeof units[0] &&
               !(strlen(units[k].unit) == ulen && memcmp(units[k].unit, s + u0, ulen) == 0))
            k++;
        if (k == sizeof units / sizeof units[0]) {
            char qu[40], qs[80];
            snprintf(err, errcap, "unknown unit %s in duration %s", pql_quote_str(qu, sizeof qu, s + u0, ulen),
                     pql_quote_str(qs, sizeof qs, s, n));
            return FLINT_EINVAL;
        }
        if (units[k].pos <= last_pos) goto invalid;
        last_pos = units[k].pos;
        uint64_t mult_ns = units[k].mult_ms * 1000000u;
        if (v > ((uint64_t)1 << 63) / mult_ns) goto range;
        total_ns += v * mult_ns;
        if (total_ns > max_ns) goto range;
    }
    *ms = (int64_t)(total_ns / 1000000u);
    return 0;
invalid: {
    char q[80];
    snprintf(err, errcap, "not a valid duration string: %s", pql_quote_str(q, sizeof q, s, n));
    return FLINT_EINVAL;
}
range:
    snprintf(err, errcap, "duration out of range");
    return FLINT_EINVAL;
}

int pql_format_duration(fl_buf *b, int64_t ms) {
    char out[96];
    size_t o = 0;
    if (ms == 0) return fl_buf_put(b, "0s", 2);
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0) out[o++] = '-';
    static const struct { const char *unit; uint64_t mult; bool exact; } units[] = {
        {"y", 31536000000u, true}, {"w", 604800000u, true}, {"d", 86400000u, false},
        {"h", 3600000u, false}, {"m", 60000u, false}, {"s", 1000u, false}, {"ms", 1u, false},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (units[i].exact && v % units[i].mult != 0) continue;
        uint64_t q = v / units[i].mult;
        if (q > 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%" PRIu64 "%s", q, units[i].unit);
            v -= q * units[i].mult;
        }
    }
    return fl_buf_put(b, out, o);
}

int pql_format_float(fl_buf *b, double v) {
    if (isnan(v)) return fl_buf_put(b, "NaN", 3);
    if (isinf(v)) return fl_buf_put(b, v > 0 ? "+Inf" : "-Inf", 4);
    /* Shortest digits that read back as v, via %.*e and strtod. */
    char e[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v) break;
    }
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    bool neg = false;
    if (*p == '-') neg = true, p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char out[400];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = -1; z > exp10; z--) out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else {
        for (int i = 0; i <= exp10; i++) out[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)exp10 + 1 < nd) {
            out[o++] = '.';
            memcpy(out + o, digits + exp10 + 1, nd - (size_t)exp10 - 1);
            o += nd - (size_t)exp10 - 1;
        }
    }
    return fl_buf_put(b, out, o);
}

/* ---- names ----------------------------------------------------------------- */

bool pql_legacy_metric_name(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

bool pql_legacy_label_name(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}
