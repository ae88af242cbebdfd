/*
 * json.c - the JSON writer of json.h. Floats take the shortest decimal that
 * reads back to the same double (found with %.*e, 1..17 digits, checked
 * with strtod) and are then laid out without an exponent, as Go's 'f'
 * format with precision -1 does.
 */
#include "web/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(json_writer *w) {
    memset(w, 0, sizeof *w);
    w->first[0] = true;
}

void jw_free(json_writer *w) { fl_buf_free(&w->buf); }

void jw_reset(json_writer *w) {
    fl_buf saved = w->buf;
    jw_init(w);
    w->buf = saved;
    w->buf.len = 0;
}

static void put(json_writer *w, const void *p, size_t n) {
    if (w->err) return;
    w->err = fl_buf_put(&w->buf, p, n);
}

/* Separator before a value or a key. */
static void sep(json_writer *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth]) put(w, ",", 1);
    w->first[w->depth] = false;
}

static void open(json_writer *w, char c) {
    sep(w);
    put(w, &c, 1);
    if (w->depth >= JSON_MAX_DEPTH) {
        if (!w->err) w->err = FLINT_ERANGE;
        return;
    }
    w->first[++w->depth] = true;
}

static void close_(json_writer *w, char c) {
    if (w->depth > 0) w->depth--;
    put(w, &c, 1);
}

void jw_obj_begin(json_writer *w) { open(w, '{'); }
void jw_obj_end(json_writer *w) { close_(w, '}'); }
void jw_arr_begin(json_writer *w) { open(w, '['); }
void jw_arr_end(json_writer *w) { close_(w, ']'); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

int json_escape(fl_buf *b, const char *str, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* s[run..i) is pending verbatim output */
    while (i < n) {
        unsigned char c = s[i];
        char esc[8];
        size_t esc_len = 0, adv = 1;
        if (c >= 0x80) {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0) {
                memcpy(esc, "\xEF\xBF\xBD", 3); /* U+FFFD */
                esc_len = 3;
            } else if (l == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                memcpy(esc, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                esc_len = 6;
                adv = 3;
            } else {
                i += l;
                continue;
            }
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, esc_len = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2), esc_len = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2), esc_len = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2), esc_len = 2;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15], esc_len = 6;
        } else {
            i++;
            continue;
        }
        if (fl_buf_put(b, s + run, i - run) || fl_buf_put(b, esc, esc_len)) return FLINT_ENOMEM;
        i += adv;
        run = i;
    }
    return fl_buf_put(b, s + run, n - run);
}

void jw_str(json_writer *w, const char *s, size_t n) {
    sep(w);
    put(w, "\"", 1);
    if (!w->err) w->err = json_escape(&w->buf, s, n);
    put(w, "\"", 1);
}

void jw_cstr(json_writer *w, const char *s) { jw_str(w, s, strlen(s)); }

void jw_key(json_writer *w, const char *k) {
    jw_cstr(w, k);
    put(w, ":", 1);
    w->after_key = true;
}

void jw_int(json_writer *w, int64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    sep(w);
    put(w, tmp, (size_t)n);
}

void jw_num(json_writer *w, double v) {
    char tmp[40];
    int n = isfinite(v) ? snprintf(tmp, sizeof tmp, "%.17g", v) : snprintf(tmp, sizeof tmp, "null");
    sep(w);
    put(w, tmp, (size_t)n);
}

void jw_bool(json_writer *w, bool v) {
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(json_writer *w) {
    sep(w);
    put(w, "null", 4);
}

size_t json_format_float(double v, char *buf, size_t cap) {
    char tmp[400];
    size_t n = 0;
    if (isnan(v)) {
        n = (size_t)snprintf(tmp, sizeof tmp, "NaN");
    } else if (isinf(v)) {
        n = (size_t)snprintf(tmp, sizeof tmp, v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        n = (size_t)snprintf(tmp, sizeof tmp, signbit(v) ? "-0" : "0");
    } else {
        /* Shortest round-tripping mantissa: d.ddddde±XX */
        char e[40];
        for (int prec = 0; prec <= 16; prec++) {
            snprintf(e, sizeof e, "%.*e", prec, v);
            if (strtod(e, NULL) == v) break;
        }
        const char *p = e;
        bool neg = *p == '-';
        if (neg) p++;
        char digits[24];
        size_t nd = 0;
        for (; *p && *p != 'e'; p++)
            if (*p != '.') digits[nd++] = *p;
        int exp10 = atoi(p + 1);
        while (nd > 1 && digits[nd - 1] == '0') nd--;
        /* value = 0.d1d2...dn x 10^(exp10+1) */
        int point = exp10 + 1; /* digits before the decimal point */
        if (neg) tmp[n++] = '-';
        if (fabs(v) < 1e-6 || fabs(v) >= 1e21) {
            /* Go's 'e' layout there, as Prometheus' jsonutil.MarshalValue:
             * d[.ddd]e±XX, at least two exponent digits */
            tmp[n++] = digits[0];
            if (nd > 1) tmp[n++] = '.';
            memcpy(tmp + n, digits + 1, nd - 1);
            n += nd - 1;
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        } else if (point <= 0) {
            tmp[n++] = '0';
            tmp[n++] = '.';
            for (int i = 0; i < -point; i++) tmp[n++] = '0';
            memcpy(tmp + n, digits, nd);
            n += nd;
        } else {
            for (int i = 0; i < point; i++) tmp[n++] = (size_t)i < nd ? digits[i] : '0';
            if ((size_t)point < nd) {
                tmp[n++] = '.';
                memcpy(tmp + n, digits + point, nd - (size_t)point);
                n += nd - (size_t)point;
            }
        }
        tmp[n] = '\0';
    }
    if (cap == 0) return n;
    size_t c = n < cap - 1 ? n : cap - 1;
    memcpy(buf, tmp, c);
    buf[c] = '\0';
    return c;
}

void jw_value(json_writer *w, double v) {
    char tmp[400];
    size_t n = json_format_float(v, tmp, sizeof tmp);
    sep(w);
    put(w, "\"", 1);
    put(w, tmp, n);
    put(w, "\"", 1);
}

/* As Prometheus' marshalTimestamp: integer seconds, then ".mmm" unless the
 * milliseconds are zero (trailing zeros kept: 1.500 stays "1.500"). */
void jw_timestamp(json_writer *w, int64_t ms) {
    char tmp[40];
    uint64_t t = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    int n = snprintf(tmp, sizeof tmp, "%s%" PRIu64, ms < 0 ? "-" : "", t / 1000);
    if (t % 1000) n += snprintf(tmp + n, sizeof tmp - (size_t)n, ".%03u", (unsigned)(t % 1000));
    sep(w);
    put(w, tmp, (size_t)n);
}
