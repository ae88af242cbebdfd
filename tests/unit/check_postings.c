/*
 * check_postings.c - postings iterators (list, intersect, union, without)
 * against brute force, the in-memory index (out-of-order adds, deletes,
 * names/values, OOM), and selection by every matcher kind.
 */
#include "storage/alloc.h"
#include "storage/err.h"
#include "tests/unit/testutil.h"
#include "tsdb/postings.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static postings *list(const uint64_t *v, size_t n) {
    postings *p = NULL;
    ck_assert_int_eq(postings_list_new(v, n, &p), 0);
    return p;
}

/* Expand p (freeing it) and compare with want[0..n). */
static void expect(postings *p, const uint64_t *want, size_t n) {
    postings_vec got = {0};
    ck_assert_int_eq(postings_expand(p, &got), 0);
    postings_free(p);
    ck_assert_uint_eq(got.n, n);
    for (size_t i = 0; i < n; i++) ck_assert_uint_eq(got.v[i], want[i]);
    postings_vec_free(&got);
}

START_TEST(test_postings_list_next_and_seek) {
    static const uint64_t v[] = {2, 4, 8, 16, 32, 64, 128};
    postings *p = list(v, 7);
    ck_assert(postings_seek(p, 5));
    ck_assert_uint_eq(postings_at(p), 8);
    ck_assert(postings_seek(p, 3)); /* never moves back */
    ck_assert_uint_eq(postings_at(p), 8);
    ck_assert(postings_next(p));
    ck_assert_uint_eq(postings_at(p), 16);
    ck_assert(postings_seek(p, 128));
    ck_assert_uint_eq(postings_at(p), 128);
    ck_assert(!postings_seek(p, 129));
    ck_assert(!postings_next(p));
    ck_assert(!postings_seek(p, 0)); /* exhausted stays exhausted */
    ck_assert_int_eq(postings_err(p), 0);
    postings_free(p);
    p = list(v, 0);
    ck_assert(!postings_next(p));
    postings_free(p);
}
END_TEST

START_TEST(test_postings_intersect_union_without) {
    static const uint64_t a[] = {1, 2, 3, 5, 8, 13, 21}, b[] = {2, 3, 4, 8, 9, 21, 22}, c[] = {3, 8, 21, 100};
    postings *its[3] = {list(a, 7), list(b, 7), list(c, 4)}, *p;
    ck_assert_int_eq(postings_intersect_new(its, 3, &p), 0);
    expect(p, (uint64_t[]){3, 8, 21}, 3);

    postings *u[3] = {list(a, 7), list(b, 7), list(c, 4)};
    ck_assert_int_eq(postings_union_new(u, 3, &p), 0);
    expect(p, (uint64_t[]){1, 2, 3, 4, 5, 8, 9, 13, 21, 22, 100}, 11);

    ck_assert_int_eq(postings_without_new(list(a, 7), list(b, 7), &p), 0);
    expect(p, (uint64_t[]){1, 5, 13}, 3);

    /* empty inputs */
    postings *e = NULL, *two[2];
    ck_assert_int_eq(postings_empty_new(&e), 0);
    two[0] = list(a, 7);
    two[1] = e;
    ck_assert_int_eq(postings_intersect_new(two, 2, &p), 0);
    ck_assert(postings_is_empty_type(p));
    postings_free(p);
    ck_assert_int_eq(postings_union_new(NULL, 0, &p), 0);
    expect(p, NULL, 0);
    ck_assert_int_eq(postings_intersect_new(NULL, 0, &p), 0);
    expect(p, NULL, 0);

    /* seek through a union and an intersection */
    postings *u2[2] = {list(a, 7), list(c, 4)};
    ck_assert_int_eq(postings_union_new(u2, 2, &p), 0);
    ck_assert(postings_seek(p, 9));
    ck_assert_uint_eq(postings_at(p), 13);
    ck_assert(postings_next(p));
    ck_assert_uint_eq(postings_at(p), 21);
    ck_assert(postings_next(p));
    ck_assert_uint_eq(postings_at(p), 100);
    ck_assert(!postings_next(p));
    postings_free(p);
}
END_TEST

/* Random sets, nested combinations, compared with bitmaps. */
START_TEST(test_postings_random_nested_match_brute_force) {
    tu_rng r = {0x9e3779b97f4a7c15ULL};
    enum { U = 2000, K = 4 };
    for (int round = 0; round < 50; round++) {
        static uint64_t sets[K][U];
        size_t n[K];
        static uint8_t bits[K][U];
        memset(bits, 0, sizeof bits);
        for (int k = 0; k < K; k++) {
            n[k] = 0;
            unsigned dens = 1 + (unsigned)(tu_next(&r) % 8);
            for (uint64_t x = 0; x < U; x++)
                if (tu_next(&r) % 8 < dens) {
                    sets[k][n[k]++] = x;
                    bits[k][x] = 1;
                }
        }
        /* (A ∩ B) ∪ C  without D */
        postings *ab[2] = {list(sets[0], n[0]), list(sets[1], n[1])}, *i, *un, *res;
        ck_assert_int_eq(postings_intersect_new(ab, 2, &i), 0);
        postings *uc[2] = {i, list(sets[2], n[2])};
        ck_assert_int_eq(postings_union_new(uc, 2, &un), 0);
        ck_assert_int_eq(postings_without_new(un, list(sets[3], n[3]), &res), 0);
        uint64_t want[U];
        size_t nw = 0;
        for (uint64_t x = 0; x < U; x++)
            if (((bits[0][x] && bits[1][x]) || bits[2][x]) && !bits[3][x]) want[nw++] = x;
        /* mix seeks into the walk */
        size_t j = 0;
        while (j < nw) {
            if (tu_next(&r) % 3 == 0) {
                /* anything in (previous, want[j]] lands on want[j] */
                uint64_t lo = j > 0 ? want[j - 1] + 1 : 0;
                uint64_t target = lo + tu_next(&r) % (want[j] - lo + 1);
                ck_assert(postings_seek(res, target));
            } else {
                ck_assert(postings_next(res));
            }
            ck_assert_uint_eq(postings_at(res), want[j]);
            j++;
        }
        ck_assert(!postings_next(res));
        postings_free(res);
    }
}
END_TEST

static labels L(label *v, size_t n) {
    labels l = {v, n};
    return l;
}

START_TEST(test_postings_mem_add_out_of_order_and_delete) {
    mem_postings *mp;
    ck_assert_int_eq(mem_postings_new(&mp), 0);
    label a[] = {{"__name__", "up"}, {"job", "a"}}, b[] = {{"__name__", "up"}, {"job", "b"}};
    labels la = L(a, 2), lb = L(b, 2);
    ck_assert_int_eq(mem_postings_add(mp, 5, &la), 0);
    ck_assert_int_eq(mem_postings_add(mp, 3, &la), 0); /* earlier ref arrives late */
    ck_assert_int_eq(mem_postings_add(mp, 4, &lb), 0);
    ck_assert_int_eq(mem_postings_add(mp, 9, &la), 0);
    ck_assert_uint_eq(mem_postings_num_series(mp), 4);

    matcher m;
    ck_assert_int_eq(matcher_init(&m, MATCH_EQ, "job", "a"), 0);
    postings_vec v = {0};
    ck_assert_int_eq(mem_postings_select(mp, &m, 1, &v), 0);
    ck_assert_uint_eq(v.n, 3);
    ck_assert_uint_eq(v.v[0], 3);
    ck_assert_uint_eq(v.v[1], 5);
    ck_assert_uint_eq(v.v[2], 9);

    const char **names;
    size_t n;
    ck_assert_int_eq(mem_postings_label_names(mp, &names, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "__name__");
    ck_assert_str_eq(names[1], "job");
    fl_free(names);
    ck_assert_int_eq(mem_postings_label_values(mp, "job", &names, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "a");
    ck_assert_str_eq(names[1], "b");
    fl_free(names);

    uint64_t del[] = {4, 5};
    mem_postings_delete(mp, del, 2);
    ck_assert_uint_eq(mem_postings_num_series(mp), 2);
    ck_assert_int_eq(mem_postings_label_values(mp, "job", &names, &n), 0);
    ck_assert_uint_eq(n, 1); /* job="b" is gone with its only series */
    ck_assert_str_eq(names[0], "a");
    fl_free(names);
    v.n = 0;
    ck_assert_int_eq(mem_postings_select(mp, &m, 1, &v), 0);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_uint_eq(v.v[1], 9);
    uint64_t all[] = {3, 9};
    mem_postings_delete(mp, all, 2);
    ck_assert_int_eq(mem_postings_label_names(mp, &names, &n), 0);
    ck_assert_uint_eq(n, 0);
    fl_free(names);
    postings_vec_free(&v);
    matcher_free(&m);
    mem_postings_free(mp);
}
END_TEST

START_TEST(test_postings_mem_add_oom_leaves_index_unchanged) {
    mem_postings *mp;
    ck_assert_int_eq(mem_postings_new(&mp), 0);
    char vals[64][16];
    for (int k = 0; k < 64; k++) snprintf(vals[k], sizeof vals[k], "v%d", k);
    int failures = 0;
    for (int k = 0; k < 64; k++) {
        label l[] = {{"__name__", "m"}, {"a", vals[k]}, {"b", vals[k % 3]}};
        labels ls = L(l, 3);
        for (long n = 0;; n++) {
            fl_fault_fail_after(n);
            int rc = mem_postings_add(mp, (uint64_t)k + 1, &ls);
            fl_fault_reset();
            if (rc == 0) break;
            ck_assert_int_eq(rc, FLINT_ENOMEM);
            failures++;
            ck_assert_uint_eq(mem_postings_num_series(mp), (size_t)k);
            const char **v;
            size_t nv;
            ck_assert_int_eq(mem_postings_label_values(mp, "a", &v, &nv), 0);
            ck_assert_uint_eq(nv, (size_t)k); /* no empty list left behind */
            fl_free(v);
        }
    }
    ck_assert_int_gt(failures, 0);
    ck_assert_uint_eq(mem_postings_num_series(mp), 64);
    mem_postings_free(mp);
}
END_TEST

/* Prometheus' TestPostingsForMatchers, plus stored empty values. */
typedef struct mcase {
    struct {
        int type;
        const char *name, *value;
    } m[3];
    int nm;
    uint64_t want[8];
    int nwant;
} mcase;

START_TEST(test_postings_for_matchers_every_kind) {
    mem_postings *mp;
    ck_assert_int_eq(mem_postings_new(&mp), 0);
    label s1[] = {{"n", "1"}}, s2[] = {{"i", "a"}, {"n", "1"}}, s3[] = {{"i", "b"}, {"n", "1"}}, s4[] = {{"n", "2"}},
          s5[] = {{"n", "2.5"}}, s6[] = {{"i", ""}, {"n", "3"}};
    labels ls[] = {L(s1, 1), L(s2, 2), L(s3, 2), L(s4, 1), L(s5, 1), L(s6, 2)};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(mem_postings_add(mp, (uint64_t)i + 1, &ls[i]), 0);

    static const mcase cases[] = {
        {{{MATCH_EQ, "n", "1"}}, 1, {1, 2, 3}, 3},
        {{{MATCH_EQ, "n", "1"}, {MATCH_EQ, "i", "a"}}, 2, {2}, 1},
        {{{MATCH_EQ, "n", "1"}, {MATCH_EQ, "i", "missing"}}, 2, {0}, 0},
        {{{MATCH_EQ, "missing", ""}}, 1, {1, 2, 3, 4, 5, 6}, 6},
        {{{MATCH_NEQ, "n", "1"}}, 1, {4, 5, 6}, 3},
        {{{MATCH_NEQ, "i", ""}}, 1, {2, 3}, 2},
        {{{MATCH_NEQ, "i", "a"}}, 1, {1, 3, 4, 5, 6}, 5},
        {{{MATCH_EQ, "n", "1"}, {MATCH_NEQ, "i", ""}}, 2, {2, 3}, 2},
        {{{MATCH_EQ, "n", "1"}, {MATCH_NEQ, "i", "a"}}, 2, {1, 3}, 2},
        {{{MATCH_EQ, "i", ""}}, 1, {1, 4, 5, 6}, 4},
        {{{MATCH_RE, "n", "^1$"}}, 1, {1, 2, 3}, 3},
        {{{MATCH_RE, "n", "1|2"}}, 1, {1, 2, 3, 4}, 4},
        {{{MATCH_RE, "n", "2.*"}}, 1, {4, 5}, 2},
        {{{MATCH_RE, "i", "a|b"}}, 1, {2, 3}, 2},
        {{{MATCH_EQ, "n", "1"}, {MATCH_RE, "i", ".*"}}, 2, {1, 2, 3}, 3},
        {{{MATCH_EQ, "n", "1"}, {MATCH_RE, "i", ".+"}}, 2, {2, 3}, 2},
        {{{MATCH_EQ, "n", "1"}, {MATCH_RE, "i", "^$"}}, 2, {1}, 1},
        {{{MATCH_EQ, "n", "1"}, {MATCH_RE, "i", ""}}, 2, {1}, 1},
        {{{MATCH_EQ, "n", "1"}, {MATCH_RE, "i", "a|"}}, 2, {1, 2}, 2},
        {{{MATCH_EQ, "n", "1"}, {MATCH_NRE, "i", ".*"}}, 2, {0}, 0},
        {{{MATCH_EQ, "n", "1"}, {MATCH_NRE, "i", ".+"}}, 2, {1}, 1},
        {{{MATCH_EQ, "n", "1"}, {MATCH_NRE, "i", "a"}}, 2, {1, 3}, 2},
        {{{MATCH_EQ, "n", "1"}, {MATCH_NRE, "i", "a|b"}}, 2, {1}, 1},
        {{{MATCH_NRE, "n", "1|2.5"}}, 1, {4, 6}, 2},
        {{{MATCH_NRE, "i", "(a|b)"}}, 1, {1, 4, 5, 6}, 4},
        {{{MATCH_RE, "i", ".+"}, {MATCH_NEQ, "i", "a"}}, 2, {3}, 1},
        {{{MATCH_RE, "n", "1|3"}, {MATCH_RE, "i", "a|"}}, 2, {1, 2, 6}, 3},
        {{{MATCH_EQ, "", ""}}, 1, {1, 2, 3, 4, 5, 6}, 6},
        {{{0}}, 0, {0}, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        matcher ms[3];
        for (int k = 0; k < cases[c].nm; k++)
            ck_assert_int_eq(matcher_init(&ms[k], cases[c].m[k].type, cases[c].m[k].name, cases[c].m[k].value), 0);
        postings_vec v = {0};
        ck_assert_int_eq(mem_postings_select(mp, ms, (size_t)cases[c].nm, &v), 0);
        ck_assert_msg(v.n == (size_t)cases[c].nwant, "case %zu: got %zu refs, want %d", c, v.n, cases[c].nwant);
        for (int k = 0; k < cases[c].nwant; k++)
            ck_assert_msg(v.v[k] == cases[c].want[k], "case %zu: ref %d is %llu", c, k, (unsigned long long)v.v[k]);
        postings_vec_free(&v);
        for (int k = 0; k < cases[c].nm; k++) matcher_free(&ms[k]);
    }
    mem_postings_free(mp);
}
END_TEST

Suite *postings_suite(void) {
    Suite *s = suite_create("postings");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_postings_list_next_and_seek);
    tcase_add_test(tc, test_postings_intersect_union_without);
    tcase_add_test(tc, test_postings_random_nested_match_brute_force);
    tcase_add_test(tc, test_postings_mem_add_out_of_order_and_delete);
    tcase_add_test(tc, test_postings_mem_add_oom_leaves_index_unchanged);
    tcase_add_test(tc, test_postings_for_matchers_every_kind);
    suite_add_tcase(s, tc);
    return s;
}
