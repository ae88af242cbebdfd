/*
 * check_labels.c - label sets, validation, the interner, matchers.
 */
#include "storage/alloc.h"
#include "storage/err.h"
#include "tsdb/labels.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static labels mk(const label *v, size_t n) {
    labels l = {v, n};
    return l;
}

START_TEST(test_labels_cmp_and_hash) {
    label a[] = {{"__name__", "up"}, {"job", "a"}};
    label b[] = {{"__name__", "up"}, {"job", "b"}};
    label c[] = {{"__name__", "up"}};
    labels la = mk(a, 2), lb = mk(b, 2), lc = mk(c, 1);
    ck_assert_int_lt(labels_cmp(&la, &lb), 0);
    ck_assert_int_gt(labels_cmp(&lb, &la), 0);
    ck_assert_int_lt(labels_cmp(&lc, &la), 0); /* prefix first */
    ck_assert(labels_equal(&la, &la));
    ck_assert(!labels_equal(&la, &lb));
    ck_assert_uint_ne(labels_hash(&la), labels_hash(&lb));
    /* separators: {a="bc"} and {ab="c"} must not collide by construction */
    label x[] = {{"a", "bc"}}, y[] = {{"ab", "c"}};
    labels lx = mk(x, 1), ly = mk(y, 1);
    ck_assert_uint_ne(labels_hash(&lx), labels_hash(&ly));
    ck_assert_str_eq(labels_get(&la, "job"), "a");
    ck_assert_ptr_null(labels_get(&la, "nope"));
}
END_TEST

START_TEST(test_labels_format_escapes) {
    label a[] = {{"__name__", "http_requests_total"}, {"code", "200"}, {"path", "a\"b\\c\nd"}};
    labels la = mk(a, 3);
    char buf[128];
    size_t n = labels_format(&la, buf, sizeof buf);
    ck_assert_str_eq(buf, "http_requests_total{code=\"200\", path=\"a\\\"b\\\\c\\nd\"}");
    ck_assert_uint_eq(n, strlen(buf));
    label b[] = {{"__name__", "up"}};
    labels lb = mk(b, 1);
    labels_format(&lb, buf, sizeof buf);
    ck_assert_str_eq(buf, "up");
    label c[] = {{"job", "x"}};
    labels lc = mk(c, 1);
    labels_format(&lc, buf, sizeof buf);
    ck_assert_str_eq(buf, "{job=\"x\"}");
    /* truncation reports the needed length */
    char small[4];
    ck_assert_uint_eq(labels_format(&la, small, sizeof small), n);
    ck_assert_uint_eq(strlen(small), 3);
}
END_TEST

START_TEST(test_labels_validate) {
    label ok[] = {{"__name__", "a:b_c"}, {"_x", ""}, {"job", "\xc3\xa9"}};
    labels l = mk(ok, 3);
    ck_assert_int_eq(labels_validate(&l), 0);
    label badname[] = {{"__name__", "1abc"}};
    l = mk(badname, 1);
    ck_assert_int_eq(labels_validate(&l), FLINT_EINVAL);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "1abc"));
    label badlabel[] = {{"a-b", "x"}};
    l = mk(badlabel, 1);
    ck_assert_int_eq(labels_validate(&l), FLINT_EINVAL);
    label unsorted[] = {{"b", "x"}, {"a", "y"}};
    l = mk(unsorted, 2);
    ck_assert_int_eq(labels_validate(&l), FLINT_EINVAL);
    label dup[] = {{"a", "x"}, {"a", "y"}};
    l = mk(dup, 2);
    ck_assert_int_eq(labels_validate(&l), FLINT_EINVAL);
    label badutf[] = {{"a", "\xff"}};
    l = mk(badutf, 1);
    ck_assert_int_eq(labels_validate(&l), FLINT_EINVAL);
    l = mk(NULL, 0);
    ck_assert_int_eq(labels_validate(&l), FLINT_EINVAL);
    /* UTF-8 edge cases */
    ck_assert(utf8_valid("\xf0\x9f\x98\x80", 4));
    ck_assert(!utf8_valid("\xc0\x80", 2));         /* overlong */
    ck_assert(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!utf8_valid("\xe2\x82", 2));         /* truncated */
}
END_TEST

START_TEST(test_labels_builder_sort_and_dups) {
    labels_builder b;
    lb_init(&b);
    ck_assert_int_eq(lb_add(&b, "job", "x"), 0);
    ck_assert_int_eq(lb_add(&b, "__name__", "up"), 0);
    ck_assert_int_eq(lb_add(&b, "instance", "i"), 0);
    ck_assert_int_eq(lb_sort(&b), 0);
    labels l = lb_labels(&b);
    ck_assert_str_eq(l.v[0].name, "__name__");
    ck_assert_str_eq(l.v[2].name, "job");
    ck_assert_int_eq(lb_set(&b, "job", "y"), 0);
    ck_assert_str_eq(labels_get(&l, "job"), "y");
    ck_assert_int_eq(lb_set(&b, "job", ""), 0); /* empty removes */
    l = lb_labels(&b);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_int_eq(lb_add(&b, "instance", "j"), 0);
    ck_assert_int_eq(lb_sort(&b), FLINT_EINVAL);
    lb_free(&b);
}
END_TEST

START_TEST(test_labels_symtab_interns) {
    symtab *t = symtab_new();
    ck_assert_ptr_nonnull(t);
    const char *a = symtab_intern(t, "hello", 5);
    const char *b = symtab_intern(t, "hello world", 5);
    ck_assert_ptr_eq(a, b);
    ck_assert_str_eq(a, "hello");
    const char *c = symtab_intern(t, "hell", 4);
    ck_assert_ptr_ne(a, c);
    char buf[32];
    const char *ptrs[5000];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof buf, "s%d", i);
        ptrs[i] = symtab_intern(t, buf, (size_t)n);
    }
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof buf, "s%d", i);
        ck_assert_ptr_eq(symtab_intern(t, buf, (size_t)n), ptrs[i]);
    }
    ck_assert_uint_eq(symtab_count(t), 5002);
    /* a huge string and the empty string */
    static char big[100000];
    memset(big, 'x', sizeof big - 1);
    ck_assert_str_eq(symtab_intern(t, big, sizeof big - 1), big);
    ck_assert_str_eq(symtab_intern(t, "", 0), "");
    symtab_free(t);
    symtab_free(NULL);
}
END_TEST

static bool m1(match_type ty, const char *pat, const char *v) {
    matcher m;
    ck_assert_int_eq(matcher_init(&m, ty, "l", pat), 0);
    bool r = matcher_matches(&m, v, strlen(v));
    matcher_free(&m);
    return r;
}

START_TEST(test_labels_matchers) {
    ck_assert(m1(MATCH_EQ, "a", "a"));
    ck_assert(!m1(MATCH_EQ, "a", "ab"));
    ck_assert(m1(MATCH_NEQ, "a", "ab"));
    /* anchored at both ends */
    ck_assert(m1(MATCH_RE, "fo+", "foo"));
    ck_assert(!m1(MATCH_RE, "fo+", "xfoo"));
    ck_assert(!m1(MATCH_RE, "fo+", "foox"));
    ck_assert(!m1(MATCH_RE, "a|b", "ab"));
    /* alternation binds inside the anchors */
    ck_assert(m1(MATCH_RE, "a|b.*", "bcd"));
    ck_assert(!m1(MATCH_RE, "a|b.*", "ax"));
    /* literal alternation fast path */
    ck_assert(m1(MATCH_RE, "GET|POST", "POST"));
    ck_assert(!m1(MATCH_RE, "GET|POST", "PUT"));
    ck_assert(m1(MATCH_RE, "GET|", ""));
    /* fully anchored: `$` is the end of the value, not a final newline */
    ck_assert(!m1(MATCH_RE, "a.?", "a\nb"));
    ck_assert(!m1(MATCH_RE, "fo+", "foo\n"));
    ck_assert(m1(MATCH_RE, "fo+\n", "foo\n"));
    /* dot matches newline (Prometheus 3) */
    ck_assert(m1(MATCH_RE, "a.b", "a\nb"));
    ck_assert(m1(MATCH_RE, ".*", ""));
    ck_assert(!m1(MATCH_RE, ".+", ""));
    ck_assert(m1(MATCH_NRE, "a.*", "b"));
    ck_assert(!m1(MATCH_NRE, ".*", "b"));
    /* unicode */
    ck_assert(m1(MATCH_RE, "h.llo", "h\xc3\xa9llo"));
    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_RE, "l", "a("), FLINT_EINVAL);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "a("));
    ck_assert_int_eq(matcher_init(&m, MATCH_RE, "l", "x*"), 0);
    ck_assert(matcher_matches_empty(&m));
    matcher_free(&m);
    ck_assert_int_eq(matcher_init(&m, MATCH_NEQ, "l", ""), 0);
    ck_assert(!matcher_matches_empty(&m));
    matcher_free(&m);
}
END_TEST

START_TEST(test_labels_matcher_oom) {
    for (long n = 0; n < 20; n++) {
        matcher m;
        fl_fault_fail_after(n);
        int rc = matcher_init(&m, MATCH_RE, "name", "a|b|c");
        fl_fault_reset();
        if (rc == 0) {
            ck_assert(matcher_matches(&m, "b", 1));
            matcher_free(&m);
        } else {
            ck_assert_int_eq(rc, FLINT_ENOMEM);
        }
    }
}
END_TEST

Suite *labels_suite(void) {
    Suite *s = suite_create("labels");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_labels_cmp_and_hash);
    tcase_add_test(tc, test_labels_format_escapes);
    tcase_add_test(tc, test_labels_validate);
    tcase_add_test(tc, test_labels_builder_sort_and_dups);
    tcase_add_test(tc, test_labels_symtab_interns);
    tcase_add_test(tc, test_labels_matchers);
    tcase_add_test(tc, test_labels_matcher_oom);
    suite_add_tcase(s, tc);
    return s;
}
