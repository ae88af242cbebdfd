/*
 * check_units.c - Prometheus durations and byte sizes.
 */
#include "storage/err.h"
#include "storage/units.h"

#include <check.h>
#include <string.h>

START_TEST(test_units_duration_parse) {
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {{"0", 0},         {"0s", 0},       {"15s", 15000},      {"1m0s", 60000},
              {"1h30m", 5400000}, {"10s53ms", 10053}, {"1d", 86400000}, {"2w", 14 * 86400000LL},
              {"1y", 365 * 86400000LL}, {"5m59s", 359000}, {"1ms", 1}, {"20010s", 20010000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        ck_assert_msg(duration_parse(ok[i].in, strlen(ok[i].in), &ms) == 0, "%s", ok[i].in);
        ck_assert_int_eq(ms, ok[i].ms);
    }
    static const char *bad[] = {"", "1", "s", "1x", "1s1m", "1m1m", "-1s", "1.5s", "1 s", "99999999999999999999y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        ck_assert_msg(duration_parse(bad[i], strlen(bad[i]), &ms) == FLINT_EINVAL, "%s", bad[i]);
    }
}
END_TEST

START_TEST(test_units_duration_format) {
    char buf[64];
    duration_format(5400000, buf, sizeof buf);
    ck_assert_str_eq(buf, "1h30m");
    duration_format(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0s");
    duration_format(15000, buf, sizeof buf);
    ck_assert_str_eq(buf, "15s");
    duration_format(14 * 86400000LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "2w");
    duration_format(86400000LL + 1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1d1ms");
}
END_TEST

START_TEST(test_units_bytesize) {
    int64_t b;
    ck_assert_int_eq(bytesize_parse("512MB", &b), 0);
    ck_assert_int_eq(b, 512LL << 20);
    ck_assert_int_eq(bytesize_parse("1GB", &b), 0);
    ck_assert_int_eq(b, 1LL << 30);
    ck_assert_int_eq(bytesize_parse("100B", &b), 0);
    ck_assert_int_eq(b, 100);
    ck_assert_int_eq(bytesize_parse("0", &b), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(bytesize_parse("12", &b), FLINT_EINVAL);
    ck_assert_int_eq(bytesize_parse("1XB", &b), FLINT_EINVAL);
    ck_assert_int_eq(bytesize_parse("", &b), FLINT_EINVAL);
    ck_assert_int_eq(bytesize_parse("99999999999EB", &b), FLINT_EINVAL);
}
END_TEST

Suite *units_suite(void) {
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_units_duration_parse);
    tcase_add_test(tc, test_units_duration_format);
    tcase_add_test(tc, test_units_bytesize);
    suite_add_tcase(s, tc);
    return s;
}
