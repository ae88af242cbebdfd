/*
 * json.c - the JSON writer of json.h. Floats take the shortest decimal that
 * reads back to the same double (Ryu's digit loop on exact 128-bit
 * integers; outside its range %.*e with 1..17 digits, checked with strtod)
 * and are then laid out without an exponent, as Go's 'f' format with
 * precision -1 does.
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

/* ---- shortest digits without printf ----------------------------------------
 * Ryu's digit-removal loop (Ulf Adams, "Ryu: fast float-to-string
 * conversion", PLDI 2018) run on exact 128-bit integers instead of Ryu's
 * tables: the value 4m * 2^e2 and its rounding interval bounds are scaled
 * by 10^k (k = min(31, -e2) when e2 < 0) and truncated, with the remainder
 * kept as "trailing zeros" flags, which keeps every step exact. Covers
 * normal doubles with -100 <= e2 <= 72 (about 1.4e-14 .. 1.7e38), the rest
 * takes the printf/strtod path. Gives the shortest digits that read back to
 * the same double, the closest of them to the value (Go's 'f', -1). */
typedef unsigned __int128 u128;
#define P(hi, lo) (((u128)(hi) << 64) | (u128)(lo))
static const u128 POW5[32] = {
    P(0x0000000000000000ULL, 0x0000000000000001ULL), /* 5^0 */
    P(0x0000000000000000ULL, 0x0000000000000005ULL), /* 5^1 */
    P(0x0000000000000000ULL, 0x0000000000000019ULL), /* 5^2 */
    P(0x0000000000000000ULL, 0x000000000000007dULL), /* 5^3 */
    P(0x0000000000000000ULL, 0x0000000000000271ULL), /* 5^4 */
    P(0x0000000000000000ULL, 0x0000000000000c35ULL), /* 5^5 */
    P(0x0000000000000000ULL, 0x0000000000003d09ULL), /* 5^6 */
    P(0x0000000000000000ULL, 0x000000000001312dULL), /* 5^7 */
    P(0x0000000000000000ULL, 0x000000000005f5e1ULL), /* 5^8 */
    P(0x0000000000000000ULL, 0x00000000001dcd65ULL), /* 5^9 */
    P(0x0000000000000000ULL, 0x00000000009502f9ULL), /* 5^10 */
    P(0x0000000000000000ULL, 0x0000000002e90eddULL), /* 5^11 */
    P(0x0000000000000000ULL, 0x000000000e8d4a51ULL), /* 5^12 */
    P(0x0000000000000000ULL, 0x0000000048c27395ULL), /* 5^13 */
    P(0x0000000000000000ULL, 0x000000016bcc41e9ULL), /* 5^14 */
    P(0x0000000000000000ULL, 0x000000071afd498dULL), /* 5^15 */
    P(0x0000000000000000ULL, 0x0000002386f26fc1ULL), /* 5^16 */
    P(0x0000000000000000ULL, 0x000000b1a2bc2ec5ULL), /* 5^17 */
    P(0x0000000000000000ULL, 0x000003782dace9d9ULL), /* 5^18 */
    P(0x0000000000000000ULL, 0x00001158e460913dULL), /* 5^19 */
    P(0x0000000000000000ULL, 0x000056bc75e2d631ULL), /* 5^20 */
    P(0x0000000000000000ULL, 0x0001b1ae4d6e2ef5ULL), /* 5^21 */
    P(0x0000000000000000ULL, 0x000878678326eac9ULL), /* 5^22 */
    P(0x0000000000000000ULL, 0x002a5a058fc295edULL), /* 5^23 */
    P(0x0000000000000000ULL, 0x00d3c21bcecceda1ULL), /* 5^24 */
    P(0x0000000000000000ULL, 0x0422ca8b0a00a425ULL), /* 5^25 */
    P(0x0000000000000000ULL, 0x14adf4b7320334b9ULL), /* 5^26 */
    P(0x0000000000000000ULL, 0x6765c793fa10079dULL), /* 5^27 */
    P(0x0000000000000002ULL, 0x04fce5e3e2502611ULL), /* 5^28 */
    P(0x000000000000000aULL, 0x18f07d736b90be55ULL), /* 5^29 */
    P(0x0000000000000032ULL, 0x7cb2734119d3b7a9ULL), /* 5^30 */
    P(0x00000000000000fcULL, 0x6f7c40458122964dULL), /* 5^31 */
};
static const u128 POW10[39] = {
    P(0x0000000000000000ULL, 0x0000000000000001ULL),
    P(0x0000000000000000ULL, 0x000000000000000aULL),
    P(0x0000000000000000ULL, 0x0000000000000064ULL),
    P(0x0000000000000000ULL, 0x00000000000003e8ULL),
    P(0x0000000000000000ULL, 0x0000000000002710ULL),
    P(0x0000000000000000ULL, 0x00000000000186a0ULL),
    P(0x0000000000000000ULL, 0x00000000000f4240ULL),
    P(0x0000000000000000ULL, 0x0000000000989680ULL),
    P(0x0000000000000000ULL, 0x0000000005f5e100ULL),
    P(0x0000000000000000ULL, 0x000000003b9aca00ULL),
    P(0x0000000000000000ULL, 0x00000002540be400ULL),
    P(0x0000000000000000ULL, 0x000000174876e800ULL),
    P(0x0000000000000000ULL, 0x000000e8d4a51000ULL),
    P(0x0000000000000000ULL, 0x000009184e72a000ULL),
    P(0x0000000000000000ULL, 0x00005af3107a4000ULL),
    P(0x0000000000000000ULL, 0x00038d7ea4c68000ULL),
    P(0x0000000000000000ULL, 0x002386f26fc10000ULL),
    P(0x0000000000000000ULL, 0x016345785d8a0000ULL),
    P(0x0000000000000000ULL, 0x0de0b6b3a7640000ULL),
    P(0x0000000000000000ULL, 0x8ac7230489e80000ULL),
    P(0x0000000000000005ULL, 0x6bc75e2d63100000ULL),
    P(0x0000000000000036ULL, 0x35c9adc5dea00000ULL),
    P(0x000000000000021eULL, 0x19e0c9bab2400000ULL),
    P(0x000000000000152dULL, 0x02c7e14af6800000ULL),
    P(0x000000000000d3c2ULL, 0x1bcecceda1000000ULL),
    P(0x0000000000084595ULL, 0x161401484a000000ULL),
    P(0x000000000052b7d2ULL, 0xdcc80cd2e4000000ULL),
    P(0x00000000033b2e3cULL, 0x9fd0803ce8000000ULL),
    P(0x00000000204fce5eULL, 0x3e25026110000000ULL),
    P(0x00000001431e0faeULL, 0x6d7217caa0000000ULL),
    P(0x0000000c9f2c9cd0ULL, 0x4674edea40000000ULL),
    P(0x0000007e37be2022ULL, 0xc0914b2680000000ULL),
    P(0x000004ee2d6d415bULL, 0x85acef8100000000ULL),
    P(0x0000314dc6448d93ULL, 0x38c15b0a00000000ULL),
    P(0x0001ed09bead87c0ULL, 0x378d8e6400000000ULL),
    P(0x0013426172c74d82ULL, 0x2b878fe800000000ULL),
    P(0x00c097ce7bc90715ULL, 0xb34b9f1000000000ULL),
    P(0x0785ee10d5da46d9ULL, 0x00f436a000000000ULL),
    P(0x4b3b4ca85a86c47aULL, 0x098a224000000000ULL),
};
#undef P

static int ndigits128(u128 v) {
    int d = 1;
    while (d < 39 && v >= POW10[d]) d++;
    return d;
}

/* Ryu's digit loop on r (the value), p and m (the interval's ends), all
 * scaled by 10^q and truncated; vr_tz/vm_tz: the digits dropped from r and m
 * so far were zeros (last: the most recent one dropped from r); p_exact: p
 * was not truncated (it is then excluded unless accept). */
static bool shortest_loop3(uint64_t r, uint64_t p, uint64_t m, bool vr_tz, bool vm_tz, bool p_exact,
                           bool accept, int q, uint64_t *out, int *exp10, unsigned last) {
    if (!accept && p_exact) p--;
    int removed = 0;
    while (p / 10 > m / 10) {
        vm_tz = vm_tz && m % 10 == 0;
        vr_tz = vr_tz && last == 0;
        last = (unsigned)(r % 10);
        r /= 10;
        p /= 10;
        m /= 10;
        removed++;
    }
    if (vm_tz)
        while (m % 10 == 0) {
            vr_tz = vr_tz && last == 0;
            last = (unsigned)(r % 10);
            r /= 10;
            p /= 10;
            m /= 10;
            removed++;
        }
    if (vr_tz && last == 5 && r % 2 == 0) last = 4; /* round half to even */
    *out = r + ((r == m && (!accept || !vm_tz)) || last >= 5);
    *exp10 = q + removed;
    return true;
}

static bool shortest_loop(uint64_t r, uint64_t p, uint64_t m, bool vr_tz, bool vm_tz, bool p_exact,
                          bool accept, int q, uint64_t *out, int *exp10) {
    return shortest_loop3(r, p, m, vr_tz, vm_tz, p_exact, accept, q, out, exp10, 0);
}

/* Digits of the finite, non-zero |v|: *out * 10^*exp10. False when v is
 * outside the covered range. */
static bool shortest_fast(double v, uint64_t *out, int *exp10) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t ie = (uint32_t)(bits >> 52) & 0x7ff;
    uint64_t im = bits & ((1ULL << 52) - 1);
    if (ie == 0 || ie == 0x7ff) return false;
    uint64_t m2 = im | (1ULL << 52);
    int e2 = (int)ie - 1075 - 2;
    bool accept = (m2 & 1) == 0;
    uint64_t mv = 4 * m2, mp = mv + 2, mm = mv - 1 - (im != 0 || ie <= 1);
    u128 vr, vp, vm;
    bool vr_tz, vm_tz, vp_exact;
    int q;
    if (e2 >= 0) {
        if (e2 > 72) return false;
        vr = (u128)mv << e2;
        vp = (u128)mp << e2;
        vm = (u128)mm << e2;
        vr_tz = vm_tz = vp_exact = true;
        q = 0;
    } else {
        int s = -e2;
        if (s > 100) return false;
        /* 10^k taking the value to 18-19 digits (width of the interval
         * >= 8 units there), so that everything fits 64 bits */
        int k = (int)floor(19.0 - (e2 + 55) * 0.30102999566398120);
        if (k > s) k = s;
        if (k > 31) k = 31;
        int sh = s - k;
        u128 p0 = (u128)mp * POW5[k] >> sh;
        if ((p0 >> 64) == 0 && p0 - ((u128)mm * POW5[k] >> sh) >= 2) {
            uint64_t sr = (uint64_t)((u128)mv * POW5[k] >> sh), sp = (uint64_t)p0;
            uint64_t sm = (uint64_t)((u128)mm * POW5[k] >> sh);
            u128 mask = ((u128)1 << sh) - 1;
            return shortest_loop(sr, sp, sm, ((u128)mv * POW5[k] & mask) == 0,
                                 accept && ((u128)mm * POW5[k] & mask) == 0,
                                 ((u128)mp * POW5[k] & mask) == 0, accept, -k, out, exp10);
        }
        k = s < 31 ? s : 31;
        sh = s - k;
        u128 r = (u128)mv * POW5[k], p = (u128)mp * POW5[k], m = (u128)mm * POW5[k];
        u128 mask = ((u128)1 << sh) - 1;
        vr = r >> sh;
        vp = p >> sh;
        vm = m >> sh;
        vr_tz = (r & mask) == 0;
        vm_tz = (m & mask) == 0;
        vp_exact = (p & mask) == 0;
        q = -k;
    }
    vm_tz = vm_tz && accept;
    if (!accept && vp_exact) vp--;
    int removed = 0;
    unsigned last = 0;
    /* drop digits in one go down to 19 (the loop below would drop them:
     * checked), then one at a time in 64 bits */
    int d = ndigits128(vp) - 19;
    if (d > 0) {
        u128 pd = POW10[d];
        if (vp / pd <= vm / pd) return false; /* cannot happen in range */
        u128 rem = vr % pd;
        vm_tz = vm_tz && vm % pd == 0;
        vr_tz = vr_tz && rem % POW10[d - 1] == 0;
        last = (unsigned)(rem / POW10[d - 1]);
        vr /= pd;
        vp /= pd;
        vm /= pd;
        removed = d;
    }
    /* vp's exclusion is done */
    return shortest_loop3((uint64_t)vr, (uint64_t)vp, (uint64_t)vm, vr_tz, vm_tz, false, accept, q + removed,
                          out, exp10, last);
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
        bool neg = signbit(v);
        char digits[24];
        size_t nd = 0;
        int exp10;
        uint64_t dv;
        double a = fabs(v);
        if (a < 9007199254740992.0 && a == (double)(uint64_t)a) {
            /* an integer below 2^53: its digits are the shortest (the
             * neighbours are at most 1 away), trailing zeros dropped below */
            dv = (uint64_t)a;
            char rev[24];
            size_t k = 0;
            do rev[k++] = (char)('0' + dv % 10);
            while ((dv /= 10) != 0);
            exp10 = (int)k - 1;
            while (k) digits[nd++] = rev[--k];
        } else if (shortest_fast(v, &dv, &exp10)) {
            char rev[24];
            size_t k = 0;
            do rev[k++] = (char)('0' + dv % 10);
            while ((dv /= 10) != 0);
            while (k) digits[nd++] = rev[--k];
            exp10 += (int)nd - 1; /* of the first digit */
        } else {
            /* Shortest round-tripping mantissa: d.ddddde±XX */
            char e[40];
            for (int prec = 0; prec <= 16; prec++) {
                snprintf(e, sizeof e, "%.*e", prec, v);
                if (strtod(e, NULL) == v) break;
            }
            const char *p = e;
            if (*p == '-') p++;
            for (; *p && *p != 'e'; p++)
                if (*p != '.') digits[nd++] = *p;
            exp10 = atoi(p + 1);
        }
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
    char tmp[40], *e = tmp + sizeof tmp, *p = e;
    uint64_t t = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    unsigned frac = (unsigned)(t % 1000);
    if (frac) {
        for (int i = 0; i < 3; i++, frac /= 10) *--p = (char)('0' + frac % 10);
        *--p = '.';
    }
    t /= 1000;
    do *--p = (char)('0' + t % 10);
    while ((t /= 10) != 0);
    if (ms < 0) *--p = '-';
    sep(w);
    put(w, p, (size_t)(e - p));
}
