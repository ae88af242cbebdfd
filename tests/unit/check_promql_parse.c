/*
 * check_promql_parse.c - the PromQL front end (query/parse.h): input ->
 * printed tree or error text with position, table-driven and in the spirit
 * of Prometheus' promql/parser/parse_test.go; precedence through the tree
 * printer; node positions; feature flags; duration-expression evaluation;
 * out-of-memory paths; and every `eval` expression of Prometheus' own test
 * files ($PROMQL_TESTS_DIR, default ../shared/promql-tests) must parse.
 */
#include "query/ast.h"
#include "query/parse.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A case: `want` is the ast_dump output, or "ERR " and the full error. */
typedef struct pcase {
    const char *in;
    const char *want;
} pcase;

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static char *dump_of(const ast_node *n, bool tree) {
    fl_buf b = {0};
    ck_assert_int_eq(tree ? ast_dump_tree(n, &b) : ast_dump(n, &b), 0);
    return (char *)b.data;
}

/* Parse, compare, and check that the printed form parses back to itself. */
static void run_case(const pcase *c, const pql_parse_opts *opts, bool tree) {
    ast_node *n = NULL;
    pql_error err;
    int rc = pql_parse_ex(c->in, strlen(c->in), opts, &n, &err);
    if (strncmp(c->want, "ERR ", 4) == 0) {
        ck_assert_msg(rc == FLINT_EINVAL, "%s: parsed, want error %s", c->in, c->want + 4);
        ck_assert_ptr_null(n);
        ck_assert_msg(strcmp(err.msg, c->want + 4) == 0, "%s:\n got  %s\n want %s", c->in, err.msg, c->want + 4);
        return;
    }
    ck_assert_msg(rc == 0, "%s: %s", c->in, err.msg);
    char *got = dump_of(n, tree);
    ck_assert_msg(strcmp(got, c->want) == 0, "%s:\n got  %s\n want %s", c->in, got, c->want);
    char *printed = dump_of(n, false);
    ast_node *again = NULL;
    ck_assert_msg(pql_parse_ex(printed, strlen(printed), opts, &again, &err) == 0, "%s: reparse of %s: %s", c->in,
                  printed, err.msg);
    char *printed2 = dump_of(again, false);
    ck_assert_str_eq(printed2, printed);
    fl_free(printed2);
    fl_free(printed);
    fl_free(got);
    ast_free(again);
    ast_free(n);
}

static void run_cases(const pcase *cases, size_t n, bool tree) {
    for (size_t i = 0; i < n; i++) run_case(&cases[i], &pql_default_opts, tree);
}

START_TEST(test_promql_parse_number_literals) {
    static const pcase cases[] = {
        {"1", "1"},
        {"+Inf", "+Inf"},
        {"-Inf", "-Inf"},
        {"inf", "+Inf"},
        {"NaN", "NaN"},
        {"nAn", "NaN"},
        {".5", "0.5"},
        {"5.", "5"},
        {"123.4567", "123.4567"},
        {"5e-3", "0.005"},
        {"5e3", "5000"},
        {"1E3", "1000"},
        {"0xc", "12"},
        {"0x1F", "31"},
        {"0755", "493"},
        {"1_000", "1000"},
        {"+5.5e-3", "0.0055"},
        {"-0755", "-493"},
        {"0.1", "0.1"},
        {"1e-7", "0.0000001"},
        {"1048576", "1048576"},
        {"123456789012345678", "123456789012345680"},
        {"-0", "-0"},
        {"5m", "5m"},
        {"1h30m", "1h30m"},
        {"90m", "1h30m"},
        {"-5m", "-5m"},
        {"1m0s", "1m"},
        {"10s53ms", "10s53ms"},
        {"2w", "2w"},
        {"14d", "2w"},
        {"1y", "1y"},
        {"0", "0"},
        {"1 # a comment", "1"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_string_literals) {
    static const pcase cases[] = {
        {"\"abc\"", "\"abc\""},
        {"'abc'", "\"abc\""},
        {"`a\\b`", "\"a\\\\b\""},
        {"'\\''", "\"'\""},
        {"\"\\\"\"", "\"\\\"\""},
        {"\"\\a\\b\\f\\n\\r\\t\\v\\\\\"", "\"\\a\\b\\f\\n\\r\\t\\v\\\\\""},
        {"\"\\x41\\101\\u00e9\\U0001F600\"", "\"AAé😀\""},
        {"\"\\xff\"", "\"\\xff\""},
        {"\"\\x00\"", "\"\\x00\""},
        {"\"tab\there\"", "\"tab\\there\""},
        {"`multi\nline`", "\"multi\\nline\""},
        {"\"\\u200b\"", "\"\\u200b\""},
        {"'\"'", "\"\\\"\""},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_selectors) {
    static const pcase cases[] = {
        {"foo", "foo"},
        {"foo:bar{a=\"bc\"}", "foo:bar{a=\"bc\"}"},
        {":foo", ":foo"},
        {"{\"foo\"}", "{__name__=\"foo\"}"},
        {"{\"foo\", a=\"bc\"}", "{__name__=\"foo\",a=\"bc\"}"},
        {"foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\"}", "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}"},
        {"foo{a=\"b\", foo!=\"bar\",}", "foo{a=\"b\",foo!=\"bar\"}"},
        {"{__name__=~\"bar\", __name__!~\"baz\"}", "{__name__!~\"baz\",__name__=~\"bar\"}"},
        {"{__name__=\"bar\", __name__=\"baz\"}", "{__name__=\"bar\",__name__=\"baz\"}"},
        {"foo{NaN='bc'}", "foo{NaN=\"bc\"}"},
        {"foo{bar='}'}", "foo{bar=\"}\"}"},
        {"{\"a.b\"=\"c\"}", "{\"a.b\"=\"c\"}"},
        {"{\"0\"=\"1\"}", "{\"0\"=\"1\"}"},
        {"{\"_0\"=\"1\"}", "{_0=\"1\"}"},
        {"{\"\"=\"0\"}", "{\"\"=\"0\"}"},
        {"{``=\"0\"}", "{\"\"=\"0\"}"},
        {"{__name__=\"\",a=\"x\"}", "{__name__=\"\",a=\"x\"}"},
        {"{'foo\\'bar', 'a\\\\dos\\\\path'='boo\\\\urns'}", "{\"a\\\\dos\\\\path\"=\"boo\\\\urns\",__name__=\"foo'bar\"}"},
        {"foo{}", "foo"},
        {"foo { a = \"b\" }", "foo{a=\"b\"}"},
        {"foo{a=\"b\" # comment\n}", "foo{a=\"b\"}"},
        {"{job=~\".+\"}", "{job=~\".+\"}"},
        {"{__name__=~'testmetric1|testmetric2'}", "{__name__=~\"testmetric1|testmetric2\"}"},
        {"foo{a=\"x\\ny\"}", "foo{a=\"x\\ny\"}"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_keywords_as_names) {
    static const pcase cases[] = {
        {"sum", "sum"},
        {"min", "min"},
        {"by", "by"},
        {"offset", "offset"},
        {"without", "without"},
        {"and", "and"},
        {"start", "start"},
        {"end", "end"},
        {"limitk", "limitk"},
        {"foo + and", "foo + and"},
        {"foo * sum", "foo * sum"},
        {"sum{by=\"x\"}", "sum{by=\"x\"}"},
        {"count{on=\"x\", offset=\"y\"}", "count{offset=\"y\",on=\"x\"}"},
        {"sum by (on, by, offset, group_left) (x)", "sum by (on, by, offset, group_left) (x)"},
        {"a + on(by) b", "a + on (by) b"},
        {"a + ignoring(sum, avg) group_left(bool) b", "a + ignoring (sum, avg) group_left (bool) b"},
        {"sum without(and, by, avg, count, alert, annotations)(some_metric)",
         "sum without (and, by, avg, count, alert, annotations) (some_metric)"},
        {"rate(by[5m])", "rate(by[5m])"},
        {"start offset 1m", "start offset 1m"},
        {"x @ end()", "x @ end()"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_operator_precedence) {
    static const pcase cases[] = {
        {"1 + 2 * 3", "(+ 1 (* 2 3))"},
        {"1 * 2 + 3", "(+ (* 1 2) 3)"},
        {"1 - 2 - 3", "(- (- 1 2) 3)"},
        {"2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"},
        {"-2 ^ 2", "(neg (^ 2 2))"},
        {"-1 * 2", "(* -1 2)"},
        {"-1^-2", "(neg (^ 1 -2))"},
        {"+1 + -2 * 1", "(+ 1 (* -2 1))"},
        {"1 + 2/(3*1)", "(+ 1 (/ 2 (paren (* 3 1))))"},
        {"a or b and c", "(or a (and b c))"},
        {"a and b unless c", "(unless (and a b) c)"},
        {"a or b or c", "(or (or a b) c)"},
        {"a > b + c", "(> a (+ b c))"},
        {"a + b > c or d", "(or (> (+ a b) c) d)"},
        {"a atan2 b * c", "(* (atan2 a b) c)"},
        {"a % b ^ c", "(% a (^ b c))"},
        {"-a ^ b", "(neg (^ a b))"},
        {"-a * b", "(* (neg a) b)"},
        {"- -a", "(neg (neg a))"},
        {"+a", "(pos a)"},
        {"-(a)", "(neg (paren a))"},
        {"(a + b) * c", "(* (paren (+ a b)) c)"},
        {"a offset 5m + b", "(+ a offset 5m b)"},
        {"a + b offset 5m", "(+ a b offset 5m)"},
        {"-a offset 5m", "(neg a offset 5m)"},
        {"a + b @ 10", "(+ a b @ 10.000)"},
        {"1 < bool 2 - 1 * 2", "(< bool 1 (- 2 (* 1 2)))"},
        {"a == bool b", "(== bool a b)"},
        {"foo + bar or bla and blub", "(or (+ foo bar) (and bla blub))"},
        {"foo and bar unless baz or qux", "(or (unless (and foo bar) baz) qux)"},
        {"a / on(x) b * c", "(* (/ on (x) a b) c)"},
        {"sum(a) + rate(b[5m])", "(+ (sum a) (call rate b[5m]))"},
        {"a[5m:1m] ", "(subquery a 5m 1m)"},
    };
    run_cases(cases, NCASES(cases), true);
}
END_TEST

START_TEST(test_promql_parse_binary_operators) {
    static const pcase cases[] = {
        {"1 + 1", "1 + 1"},
        {"1 - 1", "1 - 1"},
        {"1 * 1", "1 * 1"},
        {"1 % 1", "1 % 1"},
        {"1 / 1", "1 / 1"},
        {"2 ^ 2", "2 ^ 2"},
        {"1 == bool 1", "1 == bool 1"},
        {"1 != bool 1", "1 != bool 1"},
        {"1 > bool 1", "1 > bool 1"},
        {"1 >= bool 1", "1 >= bool 1"},
        {"1 < bool 1", "1 < bool 1"},
        {"1 <= bool 1", "1 <= bool 1"},
        {"foo == 1", "foo == 1"},
        {"2.5 / bar", "2.5 / bar"},
        {"foo atan2 bar", "foo atan2 bar"},
        {"foo ATAN2 bar", "foo atan2 bar"},
        {"foo AND bar", "foo and bar"},
        {"-some_metric", "-some_metric"},
        {" +some_metric", "+some_metric"},
        {"1 + -2", "1 + -2"},
        {"time() - 1h", "time() - 1h"},
        {"Inf ^ 2", "Inf ^ 2"},
        {"+Inf * 2", "+Inf * 2"},
        {"2 ^ -Inf", "2 ^ -Inf"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_vector_matching) {
    static const pcase cases[] = {
        {"a - on(b) c", "a - on (b) c"},
        {"a - on() c", "a - on () c"},
        {"a - ignoring(b) c", "a - ignoring (b) c"},
        {"a - ignoring() c", "a - c"},
        {"a - on(b) group_left c", "a - on (b) group_left () c"},
        {"a - on(b) group_left(x) c", "a - on (b) group_left (x) c"},
        {"a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c"},
        {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)"},
        {"a - on(b) group_left (c)", "ERR 1:25: parse error: unexpected end of input"},
        {"a - ignoring() group_left c", "a - ignoring () group_left () c"},
        {"bar + on(foo) bla / on(baz, buz) group_right(test) blub",
         "bar + on (foo) bla / on (baz, buz) group_right (test) blub"},
        {"foo * on(test,blub) group_left bar", "foo * on (test, blub) group_left () bar"},
        {"foo and on(test,blub) bar", "foo and on (test, blub) bar"},
        {"foo and ignoring() bar", "foo and bar"},
        {"foo unless on(bar) baz", "foo unless on (bar) baz"},
        {"foo / ignoring(test,blub) group_left(blub) bar", "foo / ignoring (test, blub) group_left (blub) bar"},
        {"foo - on(test,blub) group_right(bar,foo) bar", "foo - on (test, blub) group_right (bar, foo) bar"},
        {"a > bool on(x) b", "a > bool on (x) b"},
        {"a + on(\"x.y\") b", "a + on (\"x.y\") b"},
        {"a + on(x,) b", "a + on (x) b"},
        {"1 + on() foo", "1 + foo"},
        {"foo + ignoring() 1", "foo + 1"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

/* The evaluator relies on the cardinality the checker settles. */
START_TEST(test_promql_parse_matching_cardinality) {
    static const struct {
        const char *in;
        int card; /* -1: no matching (a scalar side) */
        bool on;
    } cases[] = {
        {"a + b", AST_CARD_ONE_TO_ONE, false},
        {"a and b", AST_CARD_MANY_TO_MANY, false},
        {"a or on(x) b", AST_CARD_MANY_TO_MANY, true},
        {"a * on(x) group_left(y) b", AST_CARD_MANY_TO_ONE, true},
        {"a * ignoring(x) group_right b", AST_CARD_ONE_TO_MANY, false},
        {"a * 2", -1, false},
        {"2 * a", -1, false},
        {"1 + 2", -1, false},
    };
    for (size_t i = 0; i < NCASES(cases); i++) {
        ast_node *n;
        pql_error err;
        ck_assert_msg(pql_parse(cases[i].in, strlen(cases[i].in), &n, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(n->kind, AST_BINARY);
        if (cases[i].card < 0) {
            ck_assert_ptr_null(n->binary.matching);
        } else {
            ck_assert_ptr_nonnull(n->binary.matching);
            ck_assert_int_eq(n->binary.matching->card, cases[i].card);
            ck_assert_int_eq(n->binary.matching->on, cases[i].on);
        }
        ast_free(n);
    }
}
END_TEST

START_TEST(test_promql_parse_aggregations) {
    static const pcase cases[] = {
        {"sum by (foo) (some_metric)", "sum by (foo) (some_metric)"},
        {"sum(some_metric) by (foo)", "sum by (foo) (some_metric)"},
        {"SUM BY (group) (http_requests{job=\"api-server\"})", "sum by (group) (http_requests{job=\"api-server\"})"},
        {"avg by (foo)(some_metric)", "avg by (foo) (some_metric)"},
        {"max by (foo)(some_metric)", "max by (foo) (some_metric)"},
        {"sum without (foo) (some_metric)", "sum without (foo) (some_metric)"},
        {"sum (some_metric) without (foo)", "sum without (foo) (some_metric)"},
        {"stddev(some_metric)", "stddev(some_metric)"},
        {"stdvar by (foo)(some_metric)", "stdvar by (foo) (some_metric)"},
        {"sum by ()(some_metric)", "sum(some_metric)"},
        {"sum without ()(some_metric)", "sum without () (some_metric)"},
        {"sum by (foo,bar,)(some_metric)", "sum by (foo, bar) (some_metric)"},
        {"sum by (foo,)(some_metric)", "sum by (foo) (some_metric)"},
        {"topk(5, some_metric)", "topk(5, some_metric)"},
        {"bottomk(3, x)", "bottomk(3, x)"},
        {"quantile(0.9, x)", "quantile(0.9, x)"},
        {"count_values(\"value\", some_metric)", "count_values(\"value\", some_metric)"},
        {"group(x)", "group(x)"},
        {"count by (a) (x)", "count by (a) (x)"},
        {"min(x) without (a, b)", "min without (a, b) (x)"},
        {"sum by (\"foo.bar\") (x)", "sum by (\"foo.bar\") (x)"},
        {"sum by (foo:bar) (x)", "sum by (foo:bar) (x)"},
        {"sum by (\"inf\") (x)", "sum by (\"inf\") (x)"},
        {"limitk(2, x)", "limitk(2, x)"},
        {"limit_ratio(0.5, x)", "limit_ratio(0.5, x)"},
        {"topk(scalar(y), x)", "topk(scalar(y), x)"},
        {"sum(rate(x[5m])) by (job)", "sum by (job) (rate(x[5m]))"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_function_calls) {
    static const pcase cases[] = {
        {"time()", "time()"},
        {"pi()", "pi()"},
        {"floor(some_metric{foo!=\"bar\"})", "floor(some_metric{foo!=\"bar\"})"},
        {"rate(some_metric[5m])", "rate(some_metric[5m])"},
        {"round(some_metric)", "round(some_metric)"},
        {"round(some_metric, 5)", "round(some_metric, 5)"},
        {"hour()", "hour()"},
        {"hour(x)", "hour(x)"},
        {"vector(1)", "vector(1)"},
        {"scalar(x)", "scalar(x)"},
        {"clamp(x, 0, 1)", "clamp(x, 0, 1)"},
        {"label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")", "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")"},
        {"label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")", "label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")"},
        {"label_join(x, \"d\", \",\")", "label_join(x, \"d\", \",\")"},
        {"histogram_quantile(0.9, rate(x_bucket[5m]))", "histogram_quantile(0.9, rate(x_bucket[5m]))"},
        {"histogram_fraction(0, 0.2, x)", "histogram_fraction(0, 0.2, x)"},
        {"histogram_count(x)", "histogram_count(x)"},
        {"predict_linear(x[5m], 3600)", "predict_linear(x[5m], 3600)"},
        {"quantile_over_time(0.5, x[5m])", "quantile_over_time(0.5, x[5m])"},
        {"absent_over_time(nonexistent{job=\"x\"}[1h])", "absent_over_time(nonexistent{job=\"x\"}[1h])"},
        {"sort_by_label(x, \"a\", \"b\")", "sort_by_label(x, \"a\", \"b\")"},
        {"sort_by_label_desc(x)", "sort_by_label_desc(x)"},
        {"double_exponential_smoothing(x[5m], 0.5, 0.5)", "double_exponential_smoothing(x[5m], 0.5, 0.5)"},
        {"ts_of_max_over_time(x[5m])", "ts_of_max_over_time(x[5m])"},
        {"mad_over_time(x[1m])", "mad_over_time(x[1m])"},
        {"info(x)", "info(x)"},
        {"info(x, {k=~\".*\"})", "info(x, {k=~\".*\"})"},
        {"ceil(-x)", "ceil(-x)"},
        {"abs(x) + absent(y)", "abs(x) + absent(y)"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_ranges_and_subqueries) {
    static const pcase cases[] = {
        {"test[5s]", "test[5s]"},
        {"test[1000ms]", "test[1s]"},
        {"test[1001ms]", "test[1s1ms]"},
        {"foo[5m30s]", "foo[5m30s]"},
        {"test[5h] OFFSET 5m", "test[5h] offset 5m"},
        {"test[5d] OFFSET 10s", "test[5d] offset 10s"},
        {"test[5w] offset 2w", "test[5w] offset 2w"},
        {"test{a=\"b\"}[5y] OFFSET 3d", "test{a=\"b\"}[5y] offset 3d"},
        {"test{a=\"b\"}[5m] OFFSET 3600", "test{a=\"b\"}[5m] offset 1h"},
        {"foo[3ms] @ 2.345", "foo[3ms] @ 2.345"},
        {"foo[10]", "foo[10s]"},
        {"foo[1.5]", "foo[1s500ms]"},
        {"foo[1m0s]", "foo[1m]"},
        {"foo[4m0s]", "foo[4m]"},
        {"foo[10s53ms]", "foo[10s53ms]"},
        {"foo[ 5m ]", "foo[5m]"},
        {"foo[1h:5m]", "foo[1h:5m]"},
        {"foo[1h:]", "foo[1h:]"},
        {"foo[1h:5m] offset 1w", "foo[1h:5m] offset 1w"},
        {"rate(foo[5m])[1h:]", "rate(foo[5m])[1h:]"},
        {"sum(foo)[1h:1m] @ 100", "sum(foo)[1h:1m] @ 100.000"},
        {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:])[4m:3s]", "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:])[4m:3s]"},
        {"(foo + bar{nm=\"val\"})[5m:]", "(foo + bar{nm=\"val\"})[5m:]"},
        {"foo[5m:] offset -1m @ start()", "foo[5m:] @ start() offset -1m"},
        {"foo[10m:6s] @ end() offset 5m", "foo[10m:6s] @ end() offset 5m"},
        {"foo @ start() [5m]", "foo[5m] @ start()"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_offset_and_at) {
    static const pcase cases[] = {
        {"foo offset 5m", "foo offset 5m"},
        {"foo offset -7m", "foo offset -7m"},
        {"foo OFFSET 1h30m", "foo offset 1h30m"},
        {"foo OFFSET 1m30ms", "foo offset 1m30ms"},
        {"foo offset 0", "foo"},
        {"foo offset 1.5", "foo offset 1s500ms"},
        {"foo offset +5m", "foo offset 5m"},
        {"foo @ 1603774568", "foo @ 1603774568.000"},
        {"foo @ -100", "foo @ -100.000"},
        {"foo @ .3", "foo @ 0.300"},
        {"foo @ 3.", "foo @ 3.000"},
        {"foo @ 3.3333", "foo @ 3.333"},
        {"foo @ 3e2", "foo @ 300.000"},
        {"foo @ 0xA", "foo @ 10.000"},
        {"foo @ +5", "foo @ 5.000"},
        {"foo @ 1m", "foo @ 60.000"},
        {"foo @ start()", "foo @ start()"},
        {"foo @ end()", "foo @ end()"},
        {"foo offset 5m @ 10", "foo @ 10.000 offset 5m"},
        {"foo @ 10 offset 5m", "foo @ 10.000 offset 5m"},
        {"foo[5m] @ end() offset 1m", "foo[5m] @ end() offset 1m"},
        {"foo[5m] offset 1m @ 10", "foo[5m] @ 10.000 offset 1m"},
        {"metric1_total offset 100 + 2", "metric1_total offset 1m40s + 2"},
        {"metric1_total offset -2 ^ 2", "metric1_total offset -2s ^ 2"},
        {"metric1_total offset -2 * 2", "metric1_total offset -2s * 2"},
        {"(metric1_total offset 2) ^ 2", "(metric1_total offset 2s) ^ 2"},
        {"x offset --5m", "x offset 5m"},
        {"x offset - -5m * 2", "x offset (5m * 2)"},
        {"x offset ---5m", "x offset -5m"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_duration_expressions) {
    static const pcase cases[] = {
        {"foo[5m+30s]", "foo[5m + 30s]"},
        {"foo[26m+4m]", "foo[26m + 4m]"},
        {"foo[30m+0s]", "foo[30m + 0s]"},
        {"foo[60*30]", "foo[60 * 30]"},
        {"foo[2m*(10+5)]", "foo[2m * (10 + 5)]"},
        {"foo[-5m+35m]", "foo[-5m + 35m]"},
        {"foo[1h/2]", "foo[1h / 2]"},
        {"foo[1h30m % 1h]", "foo[1h30m % 1h]"},
        {"foo[30m1s-30m1s % 1m]", "foo[30m1s - 30m1s % 1m]"},
        {"foo[(9m30s+30s)*3]", "foo[(9m30s + 30s) * 3]"},
        {"foo[24m+((1.5*2m)+2m)]", "foo[24m + ((1.5 * 2m) + 2m)]"},
        {"foo[(5m)]", "foo[5m]"},
        {"foo[2^3]", "foo[2 ^ 3]"},
        {"foo[-(1m)*-2]", "foo[-1m * -2]"},
        {"foo[29s+1s:5s+5s]", "foo[29s + 1s:5s + 5s]"},
        {"foo[1m:((((8 - 2) / 3) * 7s) % 4) + 8000ms]", "foo[1m:((((8 - 2) / 3) * 7s) % 4) + 8s]"},
        {"foo offset (100 + 2)", "foo offset (100 + 2)"},
        {"foo offset (2 ^ 2)", "foo offset (2 ^ 2)"},
        {"foo offset (-2 * 2)", "foo offset (-2 * 2)"},
        {"foo offset (5m)", "foo offset 5m"},
        {"foo offset -(5m)", "foo offset -5m"},
        {"foo offset -(1m + 1m)", "foo offset -(1m + 1m)"},
        {"foo offset (1m) * 2", "foo offset (1m * 2)"},
        {"foo offset -(1m) ^ 2", "foo offset (-1m ^ 2)"},
        {"foo[1m:20*500ms] offset -(20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms))",
         "foo[1m:20 * 500ms] offset -(20 * (((((8 - 2) / 3) * 7s) % 4) + 8s))"},
        {"foo[5s/0d]", "ERR 1:7: parse error: division by zero"},
        {"foo offset (4d/0)", "ERR 1:15: parse error: division by zero"},
        {"foo[5s%0d]", "ERR 1:7: parse error: modulo by zero"},
        {"foo offset 9.5e10", "ERR 1:12: parse error: duration out of range"},
        {"foo[9.5e10]", "ERR 1:5: parse error: duration out of range"},
        {"foo[step()]", "ERR 1:5: parse error: unexpected character in duration expression: 's'"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_lexer_errors) {
    static const pcase cases[] = {
        {".", "ERR 1:1: parse error: unexpected character: '.'"},
        {"2.5.", "ERR 1:1: parse error: bad number or duration syntax: \"2.5.\""},
        {"100..4", "ERR 1:1: parse error: bad number or duration syntax: \"100..\""},
        {"0deadbeef", "ERR 1:1: parse error: bad number or duration syntax: \"0de\""},
        {"1e", "ERR 1:1: parse error: bad number or duration syntax: \"1e\""},
        {"1 !~ 1", "ERR 1:3: parse error: unexpected character after '!': '~'"},
        {"1 =~ 1", "ERR 1:3: parse error: unexpected character after '=': '~'"},
        {"(1))", "ERR 1:5: parse error: unexpected right parenthesis ')'"},
        {"((1)", "ERR 1:5: parse error: unclosed left parenthesis"},
        {"(", "ERR 1:2: parse error: unclosed left parenthesis"},
        {"sum(rate(", "ERR 1:10: parse error: unclosed left parenthesis"},
        {"{", "ERR 1:2: parse error: unexpected end of input inside braces"},
        {"}", "ERR 1:1: parse error: unexpected character: '}'"},
        {"some}", "ERR 1:5: parse error: unexpected character: '}'"},
        {"foo ]", "ERR 1:5: parse error: unexpected right bracket ']'"},
        {"some_metric{a:b=\"b\"}", "ERR 1:14: parse error: unexpected character inside braces: ':'"},
        {"foo{a*\"b\"}", "ERR 1:6: parse error: unexpected character inside braces: '*'"},
        {"foo{a>=\"b\"}", "ERR 1:6: parse error: unexpected character inside braces: '>'"},
        {"foo{1}", "ERR 1:5: parse error: unexpected character inside braces: '1'"},
        {"foo{a!b}", "ERR 1:6: parse error: unexpected character after '!' inside braces: 'b'"},
        {"foo{{}", "ERR 1:5: parse error: unexpected left brace '{'"},
        {"some_metric{a=\"\xff\"}", "ERR 1:15: parse error: invalid UTF-8 rune"},
        {"label_replace(a, `b`, `c\xff`, `d`, `.*`)", "ERR 1:23: parse error: invalid UTF-8 rune"},
        {"\"\\c\"", "ERR 1:1: parse error: unknown escape sequence U+0063 'c'"},
        {"\"\\x.\"", "ERR 1:1: parse error: illegal character U+002E '.' in escape sequence"},
        {"\"\\", "ERR 1:1: parse error: escape sequence not terminated"},
        {"\"\\ud800\"", "ERR 1:1: parse error: escape sequence is an invalid Unicode code point"},
        {"\"\\'\"", "ERR 1:1: parse error: unknown escape sequence U+0027 '''"},
        {"\"abc", "ERR 1:1: parse error: unterminated quoted string"},
        {"\"a\nb\"", "ERR 1:1: parse error: unterminated quoted string"},
        {"`\\``", "ERR 1:4: parse error: unterminated raw string"},
        {"foo[5mm]", "ERR 1:5: parse error: bad number or duration syntax: \"5mm\""},
        {"foo[5m1]", "ERR 1:5: parse error: bad number or duration syntax: \"5m1\""},
        {"foo[5m:1m1]", "ERR 1:8: parse error: bad number or duration syntax: \"1m1\""},
        {"foo[5y1hs]", "ERR 1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\""},
        {"foo[5m1h]", "ERR 1:5: parse error: not a valid duration string: \"5m1h\""},
        {"foo[5m1m]", "ERR 1:5: parse error: not a valid duration string: \"5m1m\""},
        {"foo[1.5m]", "ERR 1:5: parse error: unknown unit \".\" in duration \"1.5m\""},
        {"foo{bar=\"baz\"}[", "ERR 1:16: parse error: unexpected end of input in duration expression"},
        {"foo[:5m]", "ERR 1:6: parse error: unexpected colon before duration in duration expression"},
        {"foo[5m::]", "ERR 1:9: parse error: unexpected repeated colon in duration expression"},
        {"some_metric[5m] OFFSET 1mm", "ERR 1:24: parse error: bad number or duration syntax: \"1mm\""},
        {"a\x01", "ERR 1:2: parse error: unexpected character: '\\x01'"},
        {"é", "ERR 1:1: parse error: unexpected character: 'é'"},
        {"a\n+\n$", "ERR 3:1: parse error: unexpected character: '$'"},
        {"foo{a=\"b\"\n,c=`d`} +\n  ;", "ERR 3:3: parse error: unexpected character: ';'"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_syntax_errors) {
    static const pcase cases[] = {
        {"", "ERR unknown position: parse error: no expression found in input"},
        {"# just a comment\n\n", "ERR 1:1: parse error: no expression found in input"},
        {"1+", "ERR 1:3: parse error: unexpected end of input"},
        {"1 /", "ERR 1:4: parse error: unexpected end of input"},
        {"*1", "ERR 1:1: parse error: unexpected <op:*>"},
        {"*test", "ERR 1:1: parse error: unexpected <op:*>"},
        {"1 +* 2", "ERR 1:4: parse error: unexpected <op:*>"},
        {"-=", "ERR 1:2: parse error: unexpected \"=\""},
        {"++-++-+-+-<", "ERR 1:11: parse error: unexpected <op:<>"},
        {"e-+=/(0)", "ERR 1:4: parse error: unexpected \"=\""},
        {"foo and", "ERR 1:8: parse error: unexpected end of input"},
        {"a - on(b) ignoring(c) d", "ERR 1:11: parse error: unexpected <ignoring>"},
        {"foo + group_left(baz) bar", "ERR 1:7: parse error: unexpected <group_left>"},
        {"some_metric{a=b}", "ERR 1:15: parse error: unexpected identifier \"b\" in label matching, expected string"},
        {"foo{gibberish}", "ERR 1:14: parse error: unexpected \"}\" in label matching, expected label matching operator"},
        {"foo{__name__= =}", "ERR 1:15: parse error: unexpected \"=\" in label matching, expected string"},
        {"foo{__name__ == \"bar\"}", "ERR 1:15: parse error: unexpected \"=\" in label matching, expected string"},
        {"foo{,}", "ERR 1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
        {"foo{__name__=\"bar\" lol}",
         "ERR 1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or \"}\""},
        {"foo{\"a\"=}", "ERR 1:9: parse error: unexpected \"}\" in label matching, expected string"},
        {"foo{a=\"b\"}{c=\"d\"}", "ERR 1:11: parse error: unexpected \"{\""},
        {"foo[]", "ERR 1:5: parse error: unexpected \"]\" in subquery selector, expected number or duration"},
        {"foo[5m 1m]", "ERR 1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\""},
        {"foo[5m:1m 2m]", "ERR 1:11: parse error: unexpected duration \"2m\" in subquery selector, expected \"]\""},
        {"some_metric[5m] OFFSET", "ERR 1:23: parse error: unexpected end of input in offset, expected number or duration"},
        {"foo offset bar", "ERR 1:12: parse error: unexpected identifier \"bar\" in offset, expected number or duration"},
        {"some_metric[5m] @", "ERR 1:18: parse error: unexpected end of input in @, expected timestamp"},
        {"foo @ bar", "ERR 1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
        {"start()", "ERR 1:6: parse error: unexpected \"(\""},
        {"end()", "ERR 1:4: parse error: unexpected \"(\""},
        {"sum without(==)(some_metric)", "ERR 1:13: parse error: unexpected <op:==> in grouping opts, expected label"},
        {"sum without(,)(some_metric)", "ERR 1:13: parse error: unexpected \",\" in grouping opts, expected label"},
        {"sum without(foo,,)(some_metric)", "ERR 1:17: parse error: unexpected \",\" in grouping opts, expected label"},
        {"sum (some_metric) by test",
         "ERR 1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\""},
        {"sum by (a b) (x)", "ERR 1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
        {"sum some_metric by (test)", "ERR 1:5: parse error: unexpected identifier \"some_metric\""},
        {"MIN keep_common (some_metric)", "ERR 1:5: parse error: unexpected identifier \"keep_common\""},
        {"MIN (some_metric) keep_common", "ERR 1:19: parse error: unexpected identifier \"keep_common\""},
        {"sum (some_metric) without (test) by (test)", "ERR 1:34: parse error: unexpected <by>"},
        {"sum without (test) (some_metric) by (test)", "ERR 1:34: parse error: unexpected <by>"},
        {"a + on(inf) b", "ERR 1:8: parse error: unexpected number \"inf\" in grouping opts, expected label"},
        {"topk(some_metric,)", "ERR 1:17: parse error: trailing commas not allowed in function call args"},
        {"foo \"long string value\"", "ERR 1:5: parse error: unexpected string \"\\\"long stri\"..."},
        {"foo 1m", "ERR 1:5: parse error: unexpected duration \"1m\""},
        {"foo bar", "ERR 1:5: parse error: unexpected identifier \"bar\""},
        {"foo a:b", "ERR 1:5: parse error: unexpected metric identifier \"a:b\""},
        {"foo sum", "ERR 1:5: parse error: unexpected <aggr:sum>"},
        {"foo bool", "ERR 1:5: parse error: unexpected <bool>"},
        {"foo )", "ERR 1:6: parse error: unexpected right parenthesis ')'"},
        {"(foo,)", "ERR 1:5: parse error: unexpected \",\""},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_semantic_errors) {
    static const pcase cases[] = {
        {"non_existent_function_far_bar()", "ERR 1:1: parse error: unknown function with name \"non_existent_function_far_bar\""},
        {"a>b()", "ERR 1:3: parse error: unknown function with name \"b\""},
        {"1 offset 1d",
         "ERR 1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
        {"(foo) offset 1d",
         "ERR 1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
        {"foo offset 1s offset 2s", "ERR 1:1: parse error: offset may not be set multiple times"},
        {"some_metric OFFSET 1m[5m]", "ERR 1:22: parse error: no offset modifiers allowed before range"},
        {"some_metric @ 1234 [5m]", "ERR 1:20: parse error: no @ modifiers allowed before range"},
        {"(foo + bar)[5m]", "ERR 1:12: parse error: ranges only allowed for vector selectors"},
        {"rate(food[1m])[1h] offset 1h", "ERR 1:15: parse error: ranges only allowed for vector selectors"},
        {"rate(some_metric[5m]) @ 1234",
         "ERR 1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
        {"foo @ 1 @ 2", "ERR 1:1: parse error: @ <timestamp> may not be set multiple times"},
        {"foo @ start() @ end()", "ERR 1:1: parse error: @ <timestamp> may not be set multiple times"},
        {"foo @ +Inf", "ERR 1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
        {"foo @ -Inf", "ERR 1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
        {"foo @ NaN", "ERR 1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
        {"foo @ 9223372036854775808",
         "ERR 1:1: parse error: timestamp out of bounds for @ modifier: 9223372036854775808.000000"},
        {"foo[0m]", "ERR 1:5: parse error: duration must be greater than 0"},
        {"foo[-1]", "ERR 1:5: parse error: duration must be greater than 0"},
        {"foo[5m:0s]", "ERR 1:8: parse error: duration must be greater than 0"},
        {"foo[0.0001]", "ERR 1:5: parse error: duration must be greater than 0"},
        {"sum () by (test)", "ERR 1:1: parse error: no arguments for aggregate expression provided"},
        {"topk(some_metric)", "ERR 1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"},
        {"sum(a, b)", "ERR 1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"},
        {"sum by (\"\") (x)", "ERR 1:9: parse error: invalid label name for grouping: \"\""},
        {"sum by (\"\\xff\") (x)", "ERR 1:9: parse error: invalid label name for grouping: \"\\xff\""},
        {"foo{a=~\"(\"}", "ERR 1:5: parse error: error parsing regexp: missing closing parenthesis: `(`"},
        {"foo{a!~\"*\"}", "ERR 1:5: parse error: error parsing regexp: quantifier does not follow a repeatable item: `*`"},
        {"1e400", "ERR 1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range"},
        {"1e5.5", "ERR 1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e5.5\": invalid syntax"},
        {"0x1e+5", "ERR 1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x1e+5\": invalid syntax"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_type_errors) {
    static const pcase cases[] = {
        {"1 and 1", "ERR 1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
        {"1 or 1", "ERR 1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
        {"1 unless 1", "ERR 1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
        {"foo and 1", "ERR 1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
        {"1 or foo", "ERR 1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
        {"1 == 1", "ERR 1:3: parse error: comparisons between scalars must use BOOL modifier"},
        {"-\"string\"", "ERR 1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\""},
        {"-test[5m]", "ERR 1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""},
        {"1 or on(bar) foo", "ERR 1:1: parse error: vector matching only allowed between instant vectors"},
        {"foo == on(bar) 10", "ERR 1:1: parse error: vector matching only allowed between instant vectors"},
        {"foo and on(bar) group_left(baz) bar", "ERR 1:1: parse error: no grouping allowed for \"and\" operation"},
        {"foo or on(bar) group_right(baz) bar", "ERR 1:1: parse error: no grouping allowed for \"or\" operation"},
        {"foo unless on(bar) group_left(baz) bar", "ERR 1:1: parse error: no grouping allowed for \"unless\" operation"},
        {"http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}",
         "ERR 1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once"},
        {"foo + bool bar", "ERR 1:5: parse error: bool modifier can only be used on comparison operators"},
        {"foo + bool 10", "ERR 1:5: parse error: bool modifier can only be used on comparison operators"},
        {"foo and bool 10", "ERR 1:5: parse error: bool modifier can only be used on comparison operators"},
        {"x[5m] + 1", "ERR 1:1: parse error: binary expression must contain only scalar and instant vector types"},
        {"1 + \"a\"", "ERR 1:5: parse error: binary expression must contain only scalar and instant vector types"},
        {"floor()", "ERR 1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0"},
        {"floor(some_metric, other_metric)", "ERR 1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
        {"floor(1)", "ERR 1:7: parse error: expected type instant vector in call to function \"floor\", got scalar"},
        {"hour(some_metric, some_metric, some_metric)", "ERR 1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3"},
        {"time(some_metric)", "ERR 1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
        {"rate(some_metric)", "ERR 1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
        {"rate(avg)", "ERR 1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
        {"label_join(x)", "ERR 1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"},
        {"label_join(x, \"a\", \",\", 1)", "ERR 1:25: parse error: expected type string in call to function \"label_join\", got scalar"},
        {"round(x, 1, 2)", "ERR 1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
        {"sort_by_label(x, 1)", "ERR 1:18: parse error: expected type string in call to function \"sort_by_label\", got scalar"},
        {"topk(some_metric, other_metric)", "ERR 1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
        {"count_values(5, other_metric)", "ERR 1:14: parse error: expected type string in aggregation parameter, got scalar"},
        {"sum(1)", "ERR 1:5: parse error: expected type instant vector in aggregation expression, got scalar"},
        {"sum(x[5m])", "ERR 1:5: parse error: expected type instant vector in aggregation expression, got range vector"},
        {"{}", "ERR 1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"{x=\"\"}", "ERR 1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"{x=~\".*\"}", "ERR 1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"{x!~\".+\"}", "ERR 1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"{x!=\"a\"}", "ERR 1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"foo{__name__=\"bar\"}", "ERR 1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
        {"test[5d] OFFSET 10s [10m:5s]", "ERR 1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
        {"(foo + bar{nm=\"val\"})[5m:][10m:5s]", "ERR 1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
        {"info(rate(http_request_counter_total{}[5m]), target_info{foo=\"bar\"})",
         "ERR 1:46: parse error: expected label selectors only, got vector selector instead"},
        {"(-{}-1)", "ERR 1:3: parse error: vector selector must contain at least one non-empty matcher"},
        {"\"a\"[5m:]", "ERR 1:1: parse error: subquery is only allowed on instant vector, got string instead"},
    };
    run_cases(cases, NCASES(cases), false);
}
END_TEST

START_TEST(test_promql_parse_experimental_features_off) {
    static const pql_parse_opts off = {false, false};
    static const pcase cases[] = {
        {"sort_by_label(x, \"a\")", "ERR 1:1: parse error: function \"sort_by_label\" is not enabled"},
        {"mad_over_time(x[5m])", "ERR 1:1: parse error: function \"mad_over_time\" is not enabled"},
        {"limitk(2, x)",
         "ERR 1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"},
        {"foo[5m+1m]", "ERR 1:5: parse error: experimental duration expression is not enabled"},
        {"foo offset (5m)", "ERR 1:13: parse error: experimental duration expression is not enabled"},
        {"foo[5m:1m] offset -1m", "foo[5m:1m] offset -1m"},
        {"rate(foo[5m])", "rate(foo[5m])"},
    };
    for (size_t i = 0; i < NCASES(cases); i++) run_case(&cases[i], &off, false);
}
END_TEST

/* Node kinds, types and byte ranges the evaluator and error messages use. */
START_TEST(test_promql_parse_node_positions) {
    const char *q = "sum by (a) (rate(foo{x=\"y\"}[5m] offset 1m)) + -bar @ 10";
    ast_node *n;
    pql_error err;
    ck_assert_msg(pql_parse(q, strlen(q), &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n->kind, AST_BINARY);
    ck_assert_uint_eq(n->start, 0);
    ck_assert_uint_eq(n->end, strlen(q));
    ck_assert_int_eq(n->type, PQL_TYPE_VECTOR);
    ast_node *agg = n->binary.lhs;
    ck_assert_int_eq(agg->kind, AST_AGGREGATE);
    ck_assert_uint_eq(agg->start, 0);
    ck_assert_uint_eq(agg->end, 43);
    ck_assert_uint_eq(agg->agg.grouping.n, 1);
    ck_assert_str_eq(agg->agg.grouping.v[0], "a");
    ast_node *call = agg->agg.expr;
    ck_assert_int_eq(call->kind, AST_CALL);
    ck_assert_str_eq(call->call.func->name, "rate");
    ck_assert_uint_eq(call->start, 12);
    ck_assert_uint_eq(call->end, 42);
    ast_node *m = call->call.args[0];
    ck_assert_int_eq(m->kind, AST_MATRIX_SELECTOR);
    ck_assert_int_eq(m->type, PQL_TYPE_MATRIX);
    ck_assert_uint_eq(m->start, 17);
    ck_assert_uint_eq(m->end, 41);
    ck_assert_int_eq(m->matrix.range_ms, 300000);
    ast_node *vs = m->matrix.vs;
    ck_assert_int_eq(vs->vs.mod.offset_ms, 60000);
    ck_assert_str_eq(vs->vs.name, "foo");
    ck_assert_uint_eq(vs->vs.nmatchers, 2); /* x="y", then __name__="foo" */
    ck_assert_str_eq(vs->vs.matchers[1].name, "__name__");
    ck_assert_str_eq(vs->vs.matchers[1].value, "foo");
    ck_assert_uint_eq(vs->start, 17);
    ck_assert_uint_eq(vs->end, 27);
    ast_node *u = n->binary.rhs;
    ck_assert_int_eq(u->kind, AST_UNARY);
    ck_assert_uint_eq(u->start, 46);
    ck_assert_int_eq(u->unary.expr->vs.mod.at, AST_AT_TIMESTAMP);
    ck_assert_int_eq(u->unary.expr->vs.mod.at_ms, 10000);
    ck_assert_uint_eq(ast_child_count(n), 2);
    ck_assert_ptr_eq(ast_child(n, 0), agg);
    ck_assert_ptr_eq(ast_child(agg, 0), call);
    ck_assert_uint_eq(n->height, 5);
    ast_free(n);

    /* A negative number literal is one node starting at the sign. */
    ck_assert_int_eq(pql_parse("  -1.5", 6, &n, &err), 0);
    ck_assert_int_eq(n->kind, AST_NUMBER);
    ck_assert_uint_eq(n->start, 2);
    ck_assert(n->number.value == -1.5);
    ast_free(n);

    /* Errors carry the byte offset too. */
    ck_assert_int_eq(pql_parse("foo +\n  *", 9, &n, &err), FLINT_EINVAL);
    ck_assert_uint_eq(err.pos, 8);
    ck_assert_str_eq(err.msg, "2:3: parse error: unexpected <op:*>");
}
END_TEST

START_TEST(test_promql_parse_matcher_empty_flags) {
    const char *q = "foo{a=\"\", b!=\"\", c=~\".*\", d!~\"x\", e=~\"x+\", f!~\".*\", g=\"v\", h=~\"(?i)A|\"}";
    static const bool want[] = {true, false, true, true, false, false, false, true};
    ast_node *n;
    pql_error err;
    ck_assert_msg(pql_parse(q, strlen(q), &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n->vs.nmatchers, NCASES(want) + 1);
    for (size_t i = 0; i < NCASES(want); i++)
        ck_assert_msg(n->vs.matchers[i].matches_empty == want[i], "matcher %s", n->vs.matchers[i].name);
    ck_assert_int_eq(n->vs.matchers[2].type, MATCH_RE);
    ck_assert_int_eq(n->vs.matchers[3].type, MATCH_NRE);
    ast_free(n);
    /* A NUL byte from an escape stays in the value. */
    ck_assert_int_eq(pql_parse("foo{a=\"x\\x00y\"}", 15, &n, &err), 0);
    ck_assert_uint_eq(n->vs.matchers[0].value_len, 3);
    ck_assert_int_eq(memcmp(n->vs.matchers[0].value, "x\0y", 3), 0);
    ast_free(n);
}
END_TEST

START_TEST(test_promql_parse_duration_evaluation) {
    static const struct {
        const char *in;
        int64_t ms;
        const char *err;
    } cases[] = {
        {"foo[2m*(10+5)]", 1800000, NULL},
        {"foo[1h30m % 1h]", 1800000, NULL},
        {"foo[-5m+35m]", 1800000, NULL},
        {"foo[24m+((1.5*2m)+2m)]", 1740000, NULL},
        {"foo[30m1s-30m1s % 1m]", 1800000, NULL},
        {"foo[5m-10m]", 0, "4:10: duration must be greater than 0"},
        {"foo[5m/(1-1)]", 0, "4:11: division by zero"},
        {"foo[5m%(1-1)]", 0, "4:11: modulo by zero"},
        {"foo[2^70]", 0, "4:8: duration is out of range"},
    };
    char err[128];
    for (size_t i = 0; i < NCASES(cases); i++) {
        ast_node *n;
        pql_error perr;
        ck_assert_msg(pql_parse(cases[i].in, strlen(cases[i].in), &n, &perr) == 0, "%s", perr.msg);
        ck_assert_ptr_nonnull(n->matrix.range_expr);
        int64_t ms = -1;
        int rc = ast_duration_ms(n->matrix.range_expr, false, &ms, err, sizeof err);
        if (cases[i].err) {
            ck_assert_int_eq(rc, FLINT_EINVAL);
            ck_assert_str_eq(err, cases[i].err);
        } else {
            ck_assert_msg(rc == 0, "%s: %s", cases[i].in, err);
            ck_assert_int_eq(ms, cases[i].ms);
        }
        ast_free(n);
    }
    /* Offsets may be negative. */
    ast_node *n;
    pql_error perr;
    const char *q = "foo offset -(2 ^ 2)";
    ck_assert_int_eq(pql_parse(q, strlen(q), &n, &perr), 0);
    int64_t ms;
    ck_assert_int_eq(ast_duration_ms(n->vs.mod.offset_expr, true, &ms, err, sizeof err), 0);
    ck_assert_int_eq(ms, -4000);
    ck_assert_int_eq(ast_duration_ms(n->vs.mod.offset_expr, false, &ms, err, sizeof err), FLINT_EINVAL);
    ast_free(n);
}
END_TEST

/* Every function of the table parses with arguments of its declared types. */
START_TEST(test_promql_parse_function_table) {
    size_t count;
    const pql_function *fs = pql_functions(&count);
    ck_assert_uint_eq(count, 80);
    for (size_t i = 0; i < count; i++) {
        if (i) ck_assert_int_lt(strcmp(fs[i - 1].name, fs[i].name), 0);
        ck_assert_ptr_eq(pql_function_lookup(fs[i].name, strlen(fs[i].name)), &fs[i]);
        fl_buf q = {0};
        ck_assert_int_eq(fl_buf_put(&q, fs[i].name, strlen(fs[i].name)), 0);
        ck_assert_int_eq(fl_buf_put_byte(&q, '('), 0);
        for (int a = 0; a < fs[i].nargs; a++) {
            static const char *const arg[] = {
                [PQL_TYPE_SCALAR] = "1", [PQL_TYPE_VECTOR] = "{job=\"v\"}", [PQL_TYPE_MATRIX] = "m[5m]", [PQL_TYPE_STRING] = "\"s\""};
            if (a) ck_assert_int_eq(fl_buf_put(&q, ", ", 2), 0);
            ck_assert_int_eq(fl_buf_put(&q, arg[fs[i].arg_types[a]], strlen(arg[fs[i].arg_types[a]])), 0);
        }
        ck_assert_int_eq(fl_buf_put(&q, ")", 1), 0);
        ast_node *n;
        pql_error err;
        ck_assert_msg(pql_parse((const char *)q.data, q.len, &n, &err) == 0, "%.*s: %s", (int)q.len, q.data, err.msg);
        ck_assert_int_eq(n->type, fs[i].ret);
        ast_free(n);
        fl_buf_free(&q);
    }
    ck_assert_ptr_null(pql_function_lookup("rat", 3));
    ck_assert_ptr_null(pql_function_lookup("ratee", 5));
    ck_assert_ptr_nonnull(pql_function_lookup("rate(", 4));
}
END_TEST

START_TEST(test_promql_parse_deep_nesting) {
    char *q = fl_malloc(20001);
    ast_node *n;
    pql_error err;
    /* 600 levels of parentheses are fine ... */
    memset(q, '(', 600);
    q[600] = '1';
    memset(q + 601, ')', 600);
    ck_assert_msg(pql_parse(q, 1201, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n->height, 601);
    ast_free(n);
    /* ... 5000 are refused (parser stack) ... */
    memset(q, '(', 5000);
    q[5000] = '1';
    memset(q + 5001, ')', 5000);
    ck_assert_int_eq(pql_parse(q, 10001, &n, &err), FLINT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "expression nesting too deep"));
    /* ... and so is a left-deep operator chain of 3000 (tree height). */
    for (int i = 0; i < 3000; i++) memcpy(q + 2 * i, "1+", 2);
    q[5999] = '1';
    ck_assert_int_eq(pql_parse(q, 6000, &n, &err), FLINT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "expression nesting too deep"));
    /* Prometheus' own deep case, at a depth flint accepts. */
    size_t len = 0;
    q[len++] = '(';
    for (int i = 0; i < 100; i++) memcpy(q + len, "-{}-1", 5), len += 5;
    q[len++] = ')';
    for (int i = 0; i < 100; i++) memcpy(q + len, "[1m:]", 5), len += 5;
    ck_assert_int_eq(pql_parse(q, len, &n, &err), FLINT_EINVAL);
    ck_assert_str_eq(err.msg, "1:3: parse error: vector selector must contain at least one non-empty matcher");
    fl_free(q);
}
END_TEST

/* Input is bytes with a length: NUL is a character, not the end. */
START_TEST(test_promql_parse_embedded_nul) {
    ast_node *n;
    pql_error err;
    ck_assert_int_eq(pql_parse("foo\0bar", 7, &n, &err), FLINT_EINVAL);
    ck_assert_str_eq(err.msg, "1:4: parse error: unexpected character: '\\x00'");
    ck_assert_int_eq(pql_parse("foo{a=\"b\0\"}", 11, &n, &err), 0);
    ck_assert_uint_eq(n->vs.matchers[0].value_len, 2);
    ast_free(n);
    ck_assert_int_eq(pql_parse("foo # c\0mment", 13, &n, &err), 0);
    ast_free(n);
    ck_assert_int_eq(pql_parse("foo", 2, &n, &err), 0); /* only the first two bytes */
    ck_assert_str_eq(n->vs.name, "fo");
    ast_free(n);
}
END_TEST

/* Every allocation of a parse can fail: the result is FLINT_ENOMEM (or the
 * query's own error), never a crash or a leak (checked under ASan). */
START_TEST(test_promql_parse_out_of_memory) {
    static const char *const queries[] = {
        "sum by (job, \"a.b\") (rate(http_requests_total{job=~\"api|web\", code!=\"500\"}[5m] offset 1m)) "
        "/ on(job) group_left(x) scalar(up) > bool 0.5",
        "foo[1h:5m] @ start() offset (1m + 30s) + topk(3, label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\"))",
        "histogram_quantile(0.9, sum(rate(x_bucket[5m])) by (le)) or vector(1)",
        "foo{a=~\"(\"}",
        "sum by (a, b c) (x)",
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890 + x",
    };
    for (size_t q = 0; q < NCASES(queries); q++) {
        ast_node *n = NULL;
        pql_error err;
        int want = pql_parse(queries[q], strlen(queries[q]), &n, &err);
        ast_free(n);
        for (long fail = 0;; fail++) {
            fl_fault_fail_after(fail);
            int rc = pql_parse(queries[q], strlen(queries[q]), &n, &err);
            long failures = fl_fault_failures();
            fl_fault_reset();
            if (failures == 0) {
                ck_assert_int_eq(rc, want);
                ast_free(n);
                break;
            }
            ck_assert_msg(rc == FLINT_ENOMEM || rc == FLINT_EINVAL, "%s: rc %d after %ld allocations", queries[q], rc, fail);
            if (rc == FLINT_ENOMEM) ck_assert_str_eq(err.msg, "out of memory");
            ck_assert_ptr_null(n);
        }
    }
}
END_TEST

/* ---- Prometheus' PromQL test files ------------------------------------------------ */

/* The next white-space separated word of *p, or NULL at the end. */
static const char *next_word(char **p, size_t *len) {
    while (isspace((unsigned char)**p)) (*p)++;
    const char *start = *p;
    while (**p && !isspace((unsigned char)**p)) (*p)++;
    *len = (size_t)(*p - start);
    return *len ? start : NULL;
}

/* The expression of an `eval` header (FORMAT.md §5.1): what follows
 * `eval* instant at T` or `eval* range from S to E step P`. */
static const char *eval_expression(char *line) {
    static const char *const instant[] = {"instant", "at", NULL};
    static const char *const range[] = {"range", "from", NULL, "to", NULL, "step", NULL};
    char *p = line;
    size_t len;
    next_word(&p, &len); /* eval, eval_fail, ... */
    char *mark = p;
    const char *kind = next_word(&p, &len);
    if (!kind) return NULL;
    const char *const *pattern = strncmp(kind, "instant", len) == 0 ? instant : range;
    size_t words = pattern == instant ? 3 : 7;
    p = mark;
    for (size_t i = 0; i < words; i++) {
        const char *w = next_word(&p, &len);
        if (!w || (pattern[i] && (len != strlen(pattern[i]) || strncmp(w, pattern[i], len) != 0))) return NULL;
    }
    while (isspace((unsigned char)*p)) p++;
    return p;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

START_TEST(test_promql_parse_conformance_files) {
    const char *dir = getenv("PROMQL_TESTS_DIR");
    if (!dir || !*dir) dir = "../shared/promql-tests";
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s (set PROMQL_TESTS_DIR)", dir);
    char *names[64];
    size_t nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nfiles < 64) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".test") == 0) names[nfiles++] = strdup(e->d_name);
    }
    closedir(d);
    ck_assert_uint_gt(nfiles, 0);
    qsort(names, nfiles, sizeof names[0], cmp_names);

    size_t total = 0, parsed = 0;
    char path[4096], line[8192];
    for (size_t f = 0; f < nfiles; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        FILE *fp = fopen(path, "r");
        ck_assert_msg(fp != NULL, "cannot open %s", path);
        for (int lineno = 1; fgets(line, sizeof line, fp); lineno++) {
            size_t len = strlen(line);
            while (len && isspace((unsigned char)line[len - 1])) line[--len] = 0;
            char *p = line;
            while (isspace((unsigned char)*p)) p++;
            if (strncasecmp(p, "eval", 4) != 0) continue;
            const char *expr = eval_expression(p);
            ck_assert_msg(expr != NULL, "%s:%d: bad eval header", names[f], lineno);
            total++;
            ast_node *n;
            pql_error err;
            if (pql_parse(expr, strlen(expr), &n, &err) != 0) {
                fprintf(stderr, "%s:%d: %s\n  %s\n", names[f], lineno, expr, err.msg);
                continue;
            }
            /* The printed form must parse back to itself, too. */
            char *printed = dump_of(n, false);
            ast_node *again;
            if (pql_parse(printed, strlen(printed), &again, &err) == 0) {
                char *printed2 = dump_of(again, false);
                if (strcmp(printed, printed2) == 0) parsed++;
                else fprintf(stderr, "%s:%d: %s prints unstably: %s / %s\n", names[f], lineno, expr, printed, printed2);
                fl_free(printed2);
                ast_free(again);
            } else {
                fprintf(stderr, "%s:%d: printed %s does not parse: %s\n", names[f], lineno, printed, err.msg);
            }
            fl_free(printed);
            ast_free(n);
        }
        fclose(fp);
        free(names[f]);
    }
    printf("promql_parse: %zu of %zu eval expressions in %zu files of %s parse\n", parsed, total, nfiles, dir);
    ck_assert_uint_gt(total, 0);
    ck_assert_uint_eq(parsed, total);
}
END_TEST

Suite *promql_parse_suite(void) {
    Suite *s = suite_create("promql_parse");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_promql_parse_number_literals);
    tcase_add_test(tc, test_promql_parse_string_literals);
    tcase_add_test(tc, test_promql_parse_selectors);
    tcase_add_test(tc, test_promql_parse_keywords_as_names);
    tcase_add_test(tc, test_promql_parse_operator_precedence);
    tcase_add_test(tc, test_promql_parse_binary_operators);
    tcase_add_test(tc, test_promql_parse_vector_matching);
    tcase_add_test(tc, test_promql_parse_matching_cardinality);
    tcase_add_test(tc, test_promql_parse_aggregations);
    tcase_add_test(tc, test_promql_parse_function_calls);
    tcase_add_test(tc, test_promql_parse_ranges_and_subqueries);
    tcase_add_test(tc, test_promql_parse_offset_and_at);
    tcase_add_test(tc, test_promql_parse_duration_expressions);
    tcase_add_test(tc, test_promql_parse_lexer_errors);
    tcase_add_test(tc, test_promql_parse_syntax_errors);
    tcase_add_test(tc, test_promql_parse_semantic_errors);
    tcase_add_test(tc, test_promql_parse_type_errors);
    tcase_add_test(tc, test_promql_parse_experimental_features_off);
    tcase_add_test(tc, test_promql_parse_node_positions);
    tcase_add_test(tc, test_promql_parse_matcher_empty_flags);
    tcase_add_test(tc, test_promql_parse_duration_evaluation);
    tcase_add_test(tc, test_promql_parse_function_table);
    tcase_add_test(tc, test_promql_parse_deep_nesting);
    tcase_add_test(tc, test_promql_parse_embedded_nul);
    tcase_add_test(tc, test_promql_parse_out_of_memory);
    tcase_add_test(tc, test_promql_parse_conformance_files);
    suite_add_tcase(s, tc);
    return s;
}
