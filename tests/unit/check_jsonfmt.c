/*
 * check_jsonfmt.c - json_format_float (web/json.c): Prometheus' float text
 * (Go's strconv.FormatFloat(v, 'f', -1, 64)): the shortest digits that read
 * back to the same double, laid out without an exponent. Checked on fixed
 * cases and on a deterministic stream of doubles of every magnitude: each
 * text must read back exactly, and no correctly rounded decimal with one
 * digit less may read back (so the text is the shortest).
 */
#include "web/json.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fmt(double v) {
    static char buf[400];
    json_format_float(v, buf, sizeof buf);
    return buf;
}

START_TEST(test_jsonfmt_fixed) {
    ck_assert_str_eq(fmt(0), "0");
    ck_assert_str_eq(fmt(-0.0), "-0");
    ck_assert_str_eq(fmt(1), "1");
    ck_assert_str_eq(fmt(-2.5), "-2.5");
    ck_assert_str_eq(fmt(0.1), "0.1");
    ck_assert_str_eq(fmt(0.3), "0.3");
    ck_assert_str_eq(fmt(0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(fmt(1.0 / 3), "0.3333333333333333");
    ck_assert_str_eq(fmt(2.0 / 3), "0.6666666666666666");
    ck_assert_str_eq(fmt(100), "100");
    /* Prometheus (jsonutil.MarshalFloat) switches to Go's 'e' layout for
     * |v| < 1e-6 and |v| >= 1e21 */
    ck_assert_str_eq(fmt(1e21), "1e+21");
    ck_assert_str_eq(fmt(999999999999999900000.0), "999999999999999900000");
    ck_assert_str_eq(fmt(123456789012345680000.0), "123456789012345680000");
    ck_assert_str_eq(fmt(9007199254740993.0), "9007199254740992");
    ck_assert_str_eq(fmt(1918042112), "1918042112");
    ck_assert_str_eq(fmt(1933920665.6), "1933920665.6");
    ck_assert_str_eq(fmt(5e-324), "5e-324");
    ck_assert_str_eq(fmt(1e-7), "1e-07");
    ck_assert_str_eq(fmt(0.000001), "0.000001");
    ck_assert_str_eq(fmt(-1.5e300), "-1.5e+300");
    ck_assert_str_eq(fmt(1e23), "1e+23");
    ck_assert_str_eq(fmt(NAN), "NaN");
    ck_assert_str_eq(fmt(INFINITY), "+Inf");
    ck_assert_str_eq(fmt(-INFINITY), "-Inf");
}
END_TEST

/* Significant digits of a text (the mantissa when there is an exponent). */
static int sig_digits(const char *s) {
    int n = 0, lead = 1, trail = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (lead && *s == '0') continue;
        lead = 0;
        n++;
        trail = *s == '0' ? trail + 1 : 0;
    }
    return n - trail > 0 ? n - trail : 1;
}

START_TEST(test_jsonfmt_shortest_roundtrip) {
    uint64_t x = 88172645463325252ULL;
    for (long i = 0; i < 300000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        switch (i % 4) {
        case 0: memcpy(&v, &x, sizeof v); break;                            /* any bits */
        case 1: v = (double)(x % 100000000000ULL) / 1000.0; break;          /* decimals */
        case 2: v = ldexp((double)(x >> 11), -(int)(x % 150)); break;      /* 53-bit fractions */
        default: v = (double)(x % 1000000) * pow(10, (int)(x % 50) - 25); break;
        }
        if (!isfinite(v) || v == 0) continue;
        const char *s = fmt(v);
        ck_assert_msg(strtod(s, NULL) == v, "%.17g printed as %s", v, s);
        int nd = sig_digits(s);
        if (nd > 1) {
            char e[64];
            snprintf(e, sizeof e, "%.*e", nd - 2, v);
            ck_assert_msg(strtod(e, NULL) != v, "%.17g printed as %s, but %s reads back too", v, s, e);
        }
    }
}
END_TEST

Suite *jsonfmt_suite(void) {
    Suite *s = suite_create("jsonfmt");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_jsonfmt_fixed);
    tcase_add_test(tc, test_jsonfmt_shortest_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
