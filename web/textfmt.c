/*
 * textfmt.c - the exposition text writer of textfmt.h.
 */
#include "web/textfmt.h"

#include "storage/alloc.h"
#include "storage/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t text_format_float(double v, char *buf, size_t cap) {
    int n;
    if (isnan(v)) n = snprintf(buf, cap, "NaN");
    else if (isinf(v)) n = snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
    else if (v == 0) n = snprintf(buf, cap, signbit(v) ? "-0" : "0");
    else {
        /* Go's 'g' with the shortest precision: the fewest digits that
         * round-trip, exponent form when the decimal exponent is < -4 or
         * >= 6 (Go decides with precision 6 in the shortest mode):
         * 123456 -> "123456", 1234567 -> "1.234567e+06", 1e-05 */
        char e[40];
        int prec = 1;
        for (; prec < 17; prec++) {
            snprintf(e, sizeof e, "%.*e", prec - 1, v);
            if (strtod(e, NULL) == v) break;
        }
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        int exp = atoi(strchr(e, 'e') + 1);
        if (exp < -4 || exp >= 6) {
            n = snprintf(buf, cap, "%s", e); /* C's %e also writes >= 2 exponent digits */
        } else {
            int decimals = prec - 1 - exp;
            n = snprintf(buf, cap, "%.*f", decimals > 0 ? decimals : 0, v);
        }
    }
    if (n < 0) n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

void tw_raw(text_writer *w, const char *s, size_t n) {
    if (!w->err && fl_buf_put(w->b, s, n)) w->err = FLINT_ENOMEM;
}

void tw_cstr(text_writer *w, const char *s) { tw_raw(w, s, strlen(s)); }

void tw_printf(text_writer *w, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        tw_raw(w, tmp, (size_t)n);
        return;
    }
    char *big = fl_malloc((size_t)n + 1);
    if (!big) {
        w->err = FLINT_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tw_raw(w, big, (size_t)n);
    fl_free(big);
}

void tw_header(text_writer *w, const char *name, const char *type, const char *help) {
    tw_cstr(w, "# HELP ");
    tw_cstr(w, name);
    tw_raw(w, " ", 1);
    for (const char *p = help; *p; p++) { /* expfmt escapes \ and newline in HELP */
        if (*p == '\\') tw_raw(w, "\\\\", 2);
        else if (*p == '\n') tw_raw(w, "\\n", 2);
        else tw_raw(w, p, 1);
    }
    tw_cstr(w, "\n# TYPE ");
    tw_cstr(w, name);
    tw_raw(w, " ", 1);
    tw_cstr(w, type);
    tw_raw(w, "\n", 1);
}

void tw_label_value(text_writer *w, const char *v) {
    const char *run = v;
    for (const char *p = v; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!esc) continue;
        tw_raw(w, run, (size_t)(p - run));
        tw_raw(w, esc, 2);
        run = p + 1;
    }
    tw_cstr(w, run);
}

void tw_value(text_writer *w, double v) {
    char num[40];
    size_t n = text_format_float(v, num, sizeof num);
    tw_raw(w, num, n);
}

void tw_sample(text_writer *w, const char *name, const char *const *lnames, const char *const *lvalues, size_t nl,
               double v) {
    tw_cstr(w, name);
    if (nl) {
        tw_raw(w, "{", 1);
        for (size_t i = 0; i < nl; i++) {
            if (i) tw_raw(w, ",", 1);
            tw_cstr(w, lnames[i]);
            tw_raw(w, "=\"", 2);
            tw_label_value(w, lvalues[i]);
            tw_raw(w, "\"", 1);
        }
        tw_raw(w, "}", 1);
    }
    tw_raw(w, " ", 1);
    tw_value(w, v);
    tw_raw(w, "\n", 1);
}
