/*
 * units.c - duration and byte-size parsing/formatting (see units.h).
 */
#include "storage/units.h"
#include "storage/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int64_t ms;
} dur_units[] = {
    {"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000}, {"h", 3600000},
    {"m", 60000},            {"s", 1000},           {"ms", 1},
};
#define NUNITS (sizeof dur_units / sizeof dur_units[0])

int duration_parse(const char *s, size_t n, int64_t *out) {
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (n == 0) return flint_error(FLINT_EINVAL, "empty duration string");
    size_t i = 0, next_unit = 0;
    int64_t total = 0;
    while (i < n) {
        if (s[i] < '0' || s[i] > '9') goto bad;
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (v > (INT64_MAX - 9) / 10) goto bad;
            v = v * 10 + (s[i++] - '0');
        }
        size_t ul = 0;
        while (i + ul < n && ((s[i + ul] >= 'a' && s[i + ul] <= 'z'))) ul++;
        if (ul == 0) goto bad;
        size_t u;
        for (u = next_unit; u < NUNITS; u++)
            if (strlen(dur_units[u].name) == ul && memcmp(dur_units[u].name, s + i, ul) == 0) break;
        if (u == NUNITS) goto bad;
        next_unit = u + 1;
        if (v > INT64_MAX / dur_units[u].ms || total > INT64_MAX - v * dur_units[u].ms) goto bad;
        total += v * dur_units[u].ms;
        i += ul;
    }
    *out = total;
    return 0;
bad:
    return flint_error(FLINT_EINVAL, "not a valid duration string: \"%.*s\"", (int)(n > 64 ? 64 : n), s);
}

size_t duration_format(int64_t ms, char *buf, size_t cap) {
    if (ms == 0) return (size_t)snprintf(buf, cap, "0s");
    size_t len = 0;
    char tmp[96];
    if (ms < 0) {
        tmp[len++] = '-';
        ms = -ms;
    }
    for (size_t u = 0; u < NUNITS; u++) {
        int64_t q = ms / dur_units[u].ms;
        if (!q) continue;
        /* Prometheus only emits y and w when they divide exactly */
        if ((u == 0 || u == 1) && ms % dur_units[u].ms) continue;
        len += (size_t)snprintf(tmp + len, sizeof tmp - len, "%lld%s", (long long)q, dur_units[u].name);
        ms -= q * dur_units[u].ms;
    }
    return (size_t)snprintf(buf, cap, "%s", tmp);
}

int bytesize_parse(const char *s, int64_t *bytes) {
    static const struct {
        const char *u;
        int shift;
    } units[] = {{"EB", 60}, {"PB", 50}, {"TB", 40}, {"GB", 30}, {"MB", 20}, {"KB", 10}, {"B", 0}};
    const char *p = s;
    int64_t v = 0;
    if (*p < '0' || *p > '9') goto bad;
    while (*p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) goto bad;
        v = v * 10 + (*p++ - '0');
    }
    if (!*p) {
        if (v != 0) goto bad; /* a bare number needs a unit, except 0 */
        *bytes = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].u) == 0) {
            if (units[i].shift && v > (INT64_MAX >> units[i].shift)) goto bad;
            *bytes = v << units[i].shift;
            return 0;
        }
    }
bad:
    return flint_error(FLINT_EINVAL, "invalid size \"%s\" (want e.g. 512MB, 10GB)", s);
}
