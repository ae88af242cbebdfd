/*
 * params.c - URL-encoded parameters and Prometheus' parseTime and
 * parseDuration (web/api/v1/api.go) for the HTTP API.
 */
#include "web/params.h"

#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/units.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void params_init(api_params *p) { memset(p, 0, sizeof *p); }

void params_free(api_params *p) {
    for (size_t i = 0; i < p->n; i++) {
        fl_free(p->v[i].key);
        fl_free(p->v[i].value);
    }
    fl_free(p->v);
    memset(p, 0, sizeof *p);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int url_decode(const char *s, size_t n, char *out, size_t *out_len) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n) return FLINT_EINVAL;
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return FLINT_EINVAL;
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

static int add_pair(api_params *p, const char *k, size_t kn, const char *v, size_t vn) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        api_param *nv = fl_realloc(p->v, nc * sizeof *nv);
        if (!nv) return FLINT_ENOMEM;
        p->v = nv;
        p->cap = nc;
    }
    char *key = fl_malloc(kn + 1), *val = fl_malloc(vn + 1);
    size_t klen, vlen;
    if (!key || !val) {
        fl_free(key);
        fl_free(val);
        return FLINT_ENOMEM;
    }
    if (url_decode(k, kn, key, &klen) || url_decode(v, vn, val, &vlen)) {
        fl_free(key);
        fl_free(val);
        return FLINT_EINVAL;
    }
    p->v[p->n++] = (api_param){key, val, vlen};
    return 0;
}

int params_parse(api_params *p, const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && s[end] != '&') end++;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t kn = eq ? (size_t)(eq - (s + i)) : end - i;
            const char *v = eq ? eq + 1 : s + end;
            size_t vn = eq ? (size_t)(s + end - v) : 0;
            int rc = add_pair(p, s + i, kn, v, vn);
            if (rc) return rc;
        }
        i = end + 1;
    }
    return 0;
}

size_t params_count(const api_params *p, const char *key) {
    size_t c = 0;
    for (size_t i = 0; i < p->n; i++) c += strcmp(p->v[i].key, key) == 0;
    return c;
}

const char *params_get_nth(const api_params *p, const char *key, size_t nth) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].key, key) == 0 && nth-- == 0) return p->v[i].value;
    return NULL;
}

const char *params_get(const api_params *p, const char *key) { return params_get_nth(p, key, 0); }

/* Go's strconv.ParseFloat accepts what strtod does minus leading spaces
 * and hex/"infinity" spellings we do not care to reject; demand the whole
 * string be consumed. */
static bool parse_float(const char *s, double *out) {
    if (!*s || isspace((unsigned char)*s)) return false;
    char *end;
    double d = strtod(s, &end);
    if (*end) return false;
    *out = d;
    return true;
}

static bool digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339 as Go's time.RFC3339Nano parser takes it:
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM). */
static bool parse_rfc3339(const char *s, int64_t *ms) {
    int Y, M, D, h, m, sec;
    size_t n = strlen(s);
    if (n < 20) return false;
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &m) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 59) return false;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap) return false;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        int64_t scale = 100;
        while (isdigit((unsigned char)*p)) {
            if (nd < 3) frac_ms += (*p - '0') * scale, scale /= 10;
            nd++, p++;
        }
        if (nd == 0 || nd > 9) return false;
    }
    int64_t off_s = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        off_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p) return false;
    struct tm tm = {0};
    tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D;
    tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
    int64_t t = (int64_t)timegm(&tm);
    *ms = (t - off_s) * 1000 + frac_ms;
    return true;
}

int params_time(const char *name, const char *s, int64_t *ms, char *err, size_t errcap) {
    double d;
    if (parse_float(s, &d) && isfinite(d)) {
        /* Prometheus: whole seconds, fraction rounded to milliseconds. */
        double whole, frac = modf(d, &whole);
        if (fabs(whole) < 9.2e15) {
            *ms = (int64_t)whole * 1000 + (int64_t)round(frac * 1000);
            return 0;
        }
    } else if (parse_rfc3339(s, ms)) {
        return 0;
    } else if (strcmp(s, "-292273086-05-16T16:47:06Z") == 0) {
        *ms = API_MIN_TIME_MS;
        return 0;
    } else if (strcmp(s, "292277025-08-18T07:12:54.999999999Z") == 0) {
        *ms = API_MAX_TIME_MS;
        return 0;
    }
    snprintf(err, errcap, "invalid parameter \"%s\": cannot parse \"%s\" to a valid timestamp", name, s);
    return FLINT_EINVAL;
}

int params_time_param(const char *name, const char *s, int64_t def, int64_t *ms, char *err, size_t errcap) {
    if (!s || !*s) {
        *ms = def;
        return 0;
    }
    char inner[512];
    if (params_time(name, s, ms, inner, sizeof inner) == 0) return 0;
    /* inner: invalid parameter "<name>": cannot parse ... */
    const char *why = strstr(inner, "cannot parse");
    snprintf(err, errcap, "invalid parameter \"%s\": invalid time value for '%s': %s", name, name, why ? why : inner);
    return FLINT_EINVAL;
}

int params_duration(const char *name, const char *s, int64_t *ms, char *err, size_t errcap) {
    double d;
    if (parse_float(s, &d)) {
        double v = d * 1000.0;
        if (isnan(v) || v >= 9.2e18 || v <= -9.2e18) {
            snprintf(err, errcap,
                     "invalid parameter \"%s\": cannot parse \"%s\" to a valid duration. It overflows int64",
                     name, s);
            return FLINT_EINVAL;
        }
        *ms = (int64_t)v;
        return 0;
    }
    if (duration_parse(s, strlen(s), ms) == 0) return 0;
    flint_clear_error();
    snprintf(err, errcap, "invalid parameter \"%s\": cannot parse \"%s\" to a valid duration", name, s);
    return FLINT_EINVAL;
}
