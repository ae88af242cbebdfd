/*
 * expo_num.c - the numbers of the exposition formats: sample values in Go's
 * float syntax converted bit-exactly, integer and decimal-seconds
 * timestamps, and Prometheus' OpenMetrics float formatting (used to
 * normalise `le` and `quantile` label values).
 *
 * Values: Clinger's fast path (W. D. Clinger, "How to read floating point
 * numbers accurately", PLDI 1990): when the decimal significand m fits in
 * 53 bits and the power of ten p is at most 22 in magnitude, both m and
 * 10^|p| are exact doubles and one IEEE multiply or divide rounds the exact
 * quotient correctly - the same double strtod() returns. Everything else
 * (more than 19 digits, large exponents, "0.1e-30") goes to strtod_l() in
 * the C locale on a NUL-terminated copy. A copy of a very long number is
 * rewritten to at most 800 significant digits plus one sticky digit, which
 * cannot change the rounding: every halfway point between two doubles has
 * at most 767 significant digits, so it cannot fall strictly between the
 * original and the rewritten value.
 */
#include "scrape/expo.h"
#include "scrape/expo_int.h"
#include "storage/err.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the C locale, whatever setlocale() the program did ---------------- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static double strtod_c(const char *s) {
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
}

/* ---- scanning the Go float syntax -------------------------------------- */

enum { DEC_NUMBER, DEC_INF, DEC_NAN };

typedef struct dec {
    int kind;       /* DEC_* */
    bool neg;
    bool exact;     /* at most 19 digits (leading zeros included): mant is the
                     * whole significand and value = mant * 10^exp10 */
    uint64_t mant;
    int64_t exp10;
    int64_t exp;    /* the written exponent (after 'e'), saturated */
} dec;

#define EXP_SATURATE 1000000000000000LL /* far beyond any double, fits int64 sums */

static bool is_digit(char c) { return (unsigned)(c - '0') < 10; }

static bool ieq(const char *s, size_t n, const char *lower) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != lower[i] || !lower[i]) return false;
    }
    return lower[n] == 0;
}

/* Check s[0..n) against [+-](inf|infinity) | nan | [+-](d+[.d*]|.d+)([eE][+-]?d+)?
 * and collect what the conversions need. */
static int scan_dec(const char *s, size_t n, dec *d) {
    const char *p = s, *e = s + n;
    d->kind = DEC_NUMBER;
    d->neg = false;
    d->exp = 0;
    if (p < e && (*p == '+' || *p == '-')) d->neg = *p++ == '-';
    uint64_t m = 0;
    const char *ds = p;
    while (p < e && is_digit(*p)) m = m * 10 + (uint64_t)(*p++ - '0');
    size_t ndig = (size_t)(p - ds), nfrac = 0;
    if (p < e && *p == '.') {
        const char *fs = ++p;
        while (p < e && is_digit(*p)) m = m * 10 + (uint64_t)(*p++ - '0');
        nfrac = (size_t)(p - fs);
        ndig += nfrac;
    }
    if (ndig == 0) {
        if (p != ds) return FLINT_EINVAL; /* "." or "+." */
        if (ieq(p, (size_t)(e - p), "inf") || ieq(p, (size_t)(e - p), "infinity")) {
            d->kind = DEC_INF;
            return 0;
        }
        if (p == s && ieq(s, n, "nan")) {
            d->kind = DEC_NAN;
            return 0;
        }
        return FLINT_EINVAL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= e || !is_digit(*p)) return FLINT_EINVAL;
        int64_t x = 0;
        for (; p < e && is_digit(*p); p++)
            if (x < EXP_SATURATE) x = x * 10 + (*p - '0');
        d->exp = eneg ? -x : x;
    }
    if (p != e) return FLINT_EINVAL;
    d->exact = ndig <= 19;
    d->mant = m;
    d->exp10 = d->exp - (int64_t)nfrac;
    return 0;
}

/* The significant digits of a scanned number (leading zeros and the dot
 * skipped) and where the decimal point falls: value = 0.DIGITS * 10^point. */
typedef struct digit_iter {
    const char *s, *end;
    bool dot, started;
    int64_t point;
} digit_iter;

static void digits_begin(digit_iter *it, const char *s, size_t n) {
    it->s = s;
    it->end = s + n;
    if (it->s < it->end && (*it->s == '+' || *it->s == '-')) it->s++;
    it->dot = it->started = false;
    it->point = 0;
}

/* Next significant digit ('0'..'9'), or 0 at the end of the digits. */
static char digits_next(digit_iter *it) {
    while (it->s < it->end) {
        char c = *it->s++;
        if (c == '.') {
            it->dot = true;
            continue;
        }
        if (!is_digit(c)) {
            it->end = it->s - 1;
            break;
        }
        if (!it->started) {
            if (c == '0') {
                if (it->dot) it->point--;
                continue;
            }
            it->started = true;
        }
        if (!it->dot) it->point++;
        return c;
    }
    return 0;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define MANT_MAX (1ULL << 53)

static double strtod_long(const char *s, size_t n, bool neg, int64_t exp) {
    enum { KEEP = 800 };
    char buf[KEEP + 64];
    size_t k = 0;
    if (neg) buf[k++] = '-';
    buf[k++] = '0';
    buf[k++] = '.';
    digit_iter it;
    digits_begin(&it, s, n);
    int nd = 0;
    bool sticky = false;
    char c;
    while ((c = digits_next(&it)) != 0) {
        if (nd < KEEP) {
            buf[k++] = c;
            nd++;
        } else if (c != '0') {
            sticky = true;
        }
    }
    /* digits_next stops at 'e'; the point counted all integer digits */
    if (nd == 0) return neg ? -0.0 : 0.0;
    if (sticky) buf[k++] = '1';
    snprintf(buf + k, sizeof buf - k, "e%lld", (long long)(it.point + exp));
    return strtod_c(buf);
}

int expo_parse_double(const char *s, size_t n, double *out) {
    dec d;
    if (scan_dec(s, n, &d)) return FLINT_EINVAL;
    if (d.kind == DEC_INF) {
        *out = d.neg ? -HUGE_VAL : HUGE_VAL;
        return 0;
    }
    if (d.kind == DEC_NAN) {
        *out = __builtin_nan("");
        return 0;
    }
    double v;
    if (d.exact && d.mant == 0) {
        *out = d.neg ? -0.0 : 0.0;
        return 0;
    }
    if (d.exact && d.mant <= MANT_MAX && d.exp10 >= -22 && d.exp10 <= 22 + 15) {
        if (d.exp10 < 0) {
            v = (double)d.mant / pow10_exact[-d.exp10];
            goto done;
        }
        if (d.exp10 <= 22) {
            v = (double)d.mant * pow10_exact[d.exp10];
            goto done;
        }
        /* 123e25 = 123000 * 1e22 when the shifted significand stays exact */
        uint64_t m = d.mant;
        int64_t e = d.exp10;
        while (e > 22 && m <= MANT_MAX / 10) {
            m *= 10;
            e--;
        }
        if (e == 22) {
            v = (double)m * 1e22;
            goto done;
        }
    }
    if (n < 128) {
        char buf[128];
        memcpy(buf, s, n);
        buf[n] = 0;
        v = strtod_c(buf);
        if (isinf(v)) {
            *out = v;
            return FLINT_ERANGE;
        }
        *out = v;
        return 0;
    }
    v = strtod_long(s, n, d.neg, d.exp);
    if (isinf(v)) {
        *out = v;
        return FLINT_ERANGE;
    }
    *out = v;
    return 0;
done:
    *out = d.neg ? -v : v;
    return 0;
}

/* ---- timestamps --------------------------------------------------------- */

int expo_parse_int64(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= n) return FLINT_EINVAL;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i])) return FLINT_EINVAL;
        unsigned dg = (unsigned)(s[i] - '0');
        if (v > (limit - dg) / 10) {
            /* keep checking the syntax: "9...9x" is a syntax error */
            for (; i < n; i++)
                if (!is_digit(s[i])) return FLINT_EINVAL;
            return FLINT_ERANGE;
        }
        v = v * 10 + dg;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int expo_parse_seconds_ms(const char *s, size_t n, int64_t *ms) {
    /* the common case: whole seconds, at most 15 digits */
    if (n - 1 < 15) {
        int64_t v = 0;
        size_t i = 0;
        for (; i < n && is_digit(s[i]); i++) v = v * 10 + (s[i] - '0');
        if (i == n) {
            *ms = v * 1000;
            return 0;
        }
    }
    dec d;
    if (scan_dec(s, n, &d) || d.kind != DEC_NUMBER) return FLINT_EINVAL;
    uint64_t limit = d.neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    if (d.exact) {
        /* ms = trunc(mant * 10^(exp10 + 3)) */
        static const uint64_t p10[20] = {1ULL,
                                         10ULL,
                                         100ULL,
                                         1000ULL,
                                         10000ULL,
                                         100000ULL,
                                         1000000ULL,
                                         10000000ULL,
                                         100000000ULL,
                                         1000000000ULL,
                                         10000000000ULL,
                                         100000000000ULL,
                                         1000000000000ULL,
                                         10000000000000ULL,
                                         100000000000000ULL,
                                         1000000000000000ULL,
                                         10000000000000000ULL,
                                         100000000000000000ULL,
                                         1000000000000000000ULL,
                                         10000000000000000000ULL};
        int64_t k = d.exp10 + 3;
        v = d.mant;
        if (k < 0) {
            v = k < -19 ? 0 : v / p10[-k];
        } else if (v != 0) {
            if (k > 19 || v > limit / p10[k]) return FLINT_ERANGE;
            v *= p10[k];
        }
        if (v > limit) return FLINT_ERANGE;
        *ms = d.neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
    }
    /* value * 1000 = 0.DIGITS * 10^(point + exp + 3): the integer part is
     * the first point+exp+3 digits, padded with zeros */
    digit_iter it;
    digits_begin(&it, s, n);
    while (digits_next(&it) != 0) {
    } /* point is final only after the last digit */
    int64_t want = it.point + d.exp + 3, taken = 0;
    digits_begin(&it, s, n);
    char c;
    while (taken < want && (c = digits_next(&it)) != 0) {
        unsigned dg = (unsigned)(c - '0');
        if (v > (limit - dg) / 10) return FLINT_ERANGE;
        v = v * 10 + dg;
        taken++;
    }
    if (v != 0) {
        for (; taken < want; taken++) {
            if (v > limit / 10) return FLINT_ERANGE;
            v *= 10;
        }
    }
    *ms = d.neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* ---- Prometheus' FormatOpenMetricsFloat --------------------------------- */

/* Go's strconv 'g' with the shortest digits: %e when the decimal exponent
 * x is < -4 or >= 6 (exponent with at least two digits), else %f; then
 * ".0" when the result has neither '.' nor 'e'. digits: nd > 0 significant
 * digits without trailing zeros; value = d.ddd * 10^x. */
static size_t format_go_g(bool neg, const char *digits, int nd, int x, char *out) {
    size_t k = 0;
    if (neg) out[k++] = '-';
    if (x < -4 || x >= 6) {
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            memcpy(out + k, digits + 1, (size_t)nd - 1);
            k += (size_t)nd - 1;
        }
        out[k++] = 'e';
        out[k++] = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100) out[k++] = (char)('0' + ax / 100);
        out[k++] = (char)('0' + ax / 10 % 10);
        out[k++] = (char)('0' + ax % 10);
        out[k] = 0;
        return k;
    }
    if (x < 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -x - 1; i++) out[k++] = '0';
        memcpy(out + k, digits, (size_t)nd);
        k += (size_t)nd;
    } else {
        for (int i = 0; i <= x; i++) out[k++] = i < nd ? digits[i] : '0';
        out[k++] = '.';
        if (nd > x + 1) {
            memcpy(out + k, digits + x + 1, (size_t)(nd - x - 1));
            k += (size_t)(nd - x - 1);
        } else {
            out[k++] = '0';
        }
    }
    out[k] = 0;
    return k;
}

size_t expo_format_om_float(double f, char *buf) {
    const char *fixed = NULL;
    if (f == 1) fixed = "1.0";
    else if (f == 0) fixed = "0.0";
    else if (f == -1) fixed = "-1.0";
    else if (isnan(f)) fixed = "NaN";
    else if (isinf(f)) fixed = f > 0 ? "+Inf" : "-Inf";
    if (fixed) {
        strcpy(buf, fixed);
        return strlen(fixed);
    }
    /* the shortest %e that reads back as f; %e rounds correctly, so the
     * first precision that round-trips gives the shortest digits */
    char tmp[40];
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, f);
        if (strtod_c(tmp) == f) break;
    }
    if (c_locale) uselocale(old);
    /* tmp: [-]d[.ddd]e[+-]xx */
    const char *t = tmp;
    bool neg = *t == '-';
    if (neg) t++;
    char digits[24];
    int nd = 0;
    for (; *t && *t != 'e'; t++)
        if (is_digit(*t)) digits[nd++] = *t;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int x = atoi(t + 1);
    return format_go_g(neg, digits, nd, x, buf);
}

size_t expo__normalize_om_float(const char *v, size_t n, char *out) {
    double f;
    if (expo_parse_double(v, n, &f)) return 0;
    dec d;
    scan_dec(v, n, &d);
    /* A decimal of at most 15 significant digits that lands on a normal
     * double is that double's shortest representation (two such decimals
     * are always more than one ulp apart), so format its own digits. */
    if (d.kind == DEC_NUMBER && d.exact && isfinite(f) && fabs(f) >= DBL_MIN && f != 1 && f != -1) {
        uint64_t m = d.mant;
        int64_t e = d.exp10;
        while (m % 10 == 0) {
            m /= 10;
            e++;
        }
        if (m >= 1000000000000000ULL) return expo_format_om_float(f, out);
        char digits[24];
        int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)m);
        return format_go_g(d.neg, digits, nd, (int)(e + nd - 1), out);
    }
    return expo_format_om_float(f, out);
}
