/*
 * check_expo.c - the exposition parser (scrape/expo.h): table-driven input
 * -> dump tests for the text and OpenMetrics formats, errors with their
 * line, the raw-series fast path, start timestamps, bounds (every prefix of
 * a body, parsed from an exact-size heap copy so ASan sees any over-read),
 * OOM paths, and the number parsers against strtod on random decimals.
 *
 * A dump has one line per entry:
 *   HELP name "text"            TYPE name counter          UNIT name "unit"
 *   name{a="b"} VALUE [@TS] TYPE [created] [rep] [# {x="y"} V [@TS]] [st=MS]
 *   EOF  |  ERR line N: reason
 * VALUE is Prometheus' OpenMetrics float format; `rep` marks a sample the
 * parser recognised as repeating the previous series.
 */
#include "scrape/expo.h"
#include "scrape/expo_int.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ck_assert* reports every passing assertion to the runner (a write per
 * call); loops over a million inputs check with this instead. */
#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) ck_abort_msg(__VA_ARGS__);                            \
    } while (0)

#define DUMP_ST 0x100u /* dump flag: ask expo_start_timestamp for every sample */

static void put_quoted(FILE *m, const char *s, size_t n) {
    fputc('"', m);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(m, "\\%c", c);
        else if (c == '\n') fputs("\\n", m);
        else if (c < 0x20 || c == 0x7f) fprintf(m, "\\x%02x", c);
        else fputc(c, m);
    }
    fputc('"', m);
}

static void put_labels(FILE *m, const label *l, size_t n, bool skip_name) {
    fputc('{', m);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (skip_name && !strcmp(l[i].name, "__name__")) continue;
        if (!first) fputc(',', m);
        first = false;
        fprintf(m, "%s=", l[i].name);
        put_quoted(m, l[i].value, strlen(l[i].value));
    }
    fputc('}', m);
}

/* Parse in[0..n) from an exact-size heap copy and dump it. Caller frees. */
static char *dump_n(expo_format f, const char *in, size_t n, unsigned flags) {
    char *copy = malloc(n ? n : 1);
    EXPECT(copy, "malloc");
    memcpy(copy, in, n);
    expo_parser p;
    expo_parser_init(&p, f, copy, n);
    expo_parser_set_flags(&p, flags & ~DUMP_ST);
    char *out = NULL;
    size_t outn = 0;
    FILE *m = open_memstream(&out, &outn);
    EXPECT(m, "open_memstream");
    int r;
    while ((r = expo_next(&p)) > 0) {
        char v[32];
        if (r == EXPO_SAMPLE) {
            const expo_sample *s = expo_sample_at(&p);
            /* the label set holds __name__ = name, sorted, unique */
            const char *nm = NULL;
            for (size_t i = 0; i < s->nlabels; i++) {
                if (!strcmp(s->labels[i].name, "__name__")) nm = s->labels[i].value;
                if (i) EXPECT(strcmp(s->labels[i - 1].name, s->labels[i].name) < 0, "labels not sorted");
            }
            EXPECT(nm && !strcmp(nm, s->name), "__name__ missing");
            EXPECT(strlen(s->name) == s->name_len, "name_len");
            EXPECT(s->series >= copy && s->series + s->series_len <= copy + n, "series outside the input");
            fputs(s->name, m);
            put_labels(m, s->labels, s->nlabels, true);
            expo_format_om_float(s->value, v);
            fprintf(m, " %s", v);
            if (s->has_ts) fprintf(m, " @%lld", (long long)s->ts_ms);
            fprintf(m, " %s", expo_type_name(s->type));
            if (s->created) fputs(" created", m);
            if (s->series_repeated) fputs(" rep", m);
            if (s->has_exemplar) {
                fputs(" # ", m);
                put_labels(m, s->exemplar.labels, s->exemplar.nlabels, false);
                expo_format_om_float(s->exemplar.value, v);
                fprintf(m, " %s", v);
                if (s->exemplar.has_ts) fprintf(m, " @%lld", (long long)s->exemplar.ts_ms);
            }
            if (flags & DUMP_ST) {
                int64_t st = 0;
                int sr = expo_start_timestamp(&p, &st);
                EXPECT(sr >= 0, "start timestamp: %d", sr);
                if (sr) fprintf(m, " st=%lld", (long long)st);
                /* the sample is untouched by the look-ahead */
                EXPECT(!strcmp(expo_sample_at(&p)->name, nm), "sample changed by the look-ahead");
            }
            fputc('\n', m);
        } else {
            const expo_meta *md = expo_meta_at(&p);
            fprintf(m, "%s %.*s ", r == EXPO_HELP ? "HELP" : r == EXPO_TYPE ? "TYPE" : "UNIT", (int)md->name_len,
                    md->name);
            if (r == EXPO_TYPE) fputs(expo_type_name(md->type), m);
            else put_quoted(m, md->text, md->text_len);
            fputc('\n', m);
        }
    }
    if (r < 0) {
        fprintf(m, "ERR %s\n", expo_error(&p));
        EXPECT(r == FLINT_EINVAL, "rc %d", r);
        EXPECT(!strcmp(flint_errmsg(), expo_error(&p)), "flint_errmsg");
        EXPECT(expo_next(&p) == r, "not sticky"); /* sticky */
    } else {
        fputs("EOF\n", m);
        EXPECT(expo_next(&p) == EXPO_EOF, "EOF not sticky");
    }
    fclose(m);
    expo_parser_free(&p);
    free(copy);
    return out;
}

static char *dump(expo_format f, const char *in, unsigned flags) { return dump_n(f, in, strlen(in), flags); }

typedef struct dump_case {
    const char *in;
    const char *want;
} dump_case;

static void check_cases(expo_format f, const dump_case *c, size_t n, unsigned flags) {
    for (size_t i = 0; i < n; i++) {
        char *got = dump(f, c[i].in, flags);
        if (strcmp(got, c[i].want) != 0)
            ck_abort_msg("case %zu (%s):\n--- input\n%s\n--- want\n%s--- got\n%s", i,
                         f == EXPO_TEXT ? "text" : "om", c[i].in, c[i].want, got);
        free(got);
    }
}

#define CHECK_CASES(f, cases, flags) check_cases(f, cases, sizeof cases / sizeof cases[0], flags)

/* ---- text format ----------------------------------------------------------- */

START_TEST(test_expo_text_metric_types) {
    static const dump_case cases[] = {
        {"# HELP http_requests_total The total number of HTTP requests.\n"
         "# TYPE http_requests_total counter\n"
         "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
         "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
         "# TYPE temp gauge\n"
         "temp 21.5\n"
         "# TYPE u untyped\n"
         "u{x=\"1\"} -7\n"
         "no_metadata 3\n",
         "HELP http_requests_total \"The total number of HTTP requests.\"\n"
         "TYPE http_requests_total counter\n"
         "http_requests_total{code=\"200\",method=\"post\"} 1027.0 @1395066363000 counter\n"
         "http_requests_total{code=\"400\",method=\"post\"} 3.0 @1395066363000 counter\n"
         "TYPE temp gauge\n"
         "temp{} 21.5 gauge\n"
         "TYPE u unknown\n"
         "u{x=\"1\"} -7.0 unknown\n"
         "no_metadata{} 3.0 unknown\n"
         "EOF\n"},
        /* histogram: le normalised as Prometheus 3 does ("1" -> "1.0") */
        {"# HELP rpc_duration_seconds_hist A histogram.\n"
         "# TYPE rpc_duration_seconds_hist histogram\n"
         "rpc_duration_seconds_hist_bucket{le=\"0.05\"} 24054\n"
         "rpc_duration_seconds_hist_bucket{le=\"1\"} 33444\n"
         "rpc_duration_seconds_hist_bucket{le=\"1e3\"} 33444\n"
         "rpc_duration_seconds_hist_bucket{le=\"+Inf\"} 144320\n"
         "rpc_duration_seconds_hist_sum 53423\n"
         "rpc_duration_seconds_hist_count 144320\n",
         "HELP rpc_duration_seconds_hist \"A histogram.\"\n"
         "TYPE rpc_duration_seconds_hist histogram\n"
         "rpc_duration_seconds_hist_bucket{le=\"0.05\"} 24054.0 histogram\n"
         "rpc_duration_seconds_hist_bucket{le=\"1.0\"} 33444.0 histogram\n"
         "rpc_duration_seconds_hist_bucket{le=\"1000.0\"} 33444.0 histogram\n"
         "rpc_duration_seconds_hist_bucket{le=\"+Inf\"} 144320.0 histogram\n"
         "rpc_duration_seconds_hist_sum{} 53423.0 histogram\n"
         "rpc_duration_seconds_hist_count{} 144320.0 histogram\n"
         "EOF\n"},
        /* summary: quantile normalised; le of a non-histogram is left alone */
        {"# TYPE rpc summary\n"
         "rpc{quantile=\"0.01\"} 3102\n"
         "rpc{quantile=\"1\"} 4773\n"
         "rpc{quantile=\"abc\"} 1\n"
         "rpc_sum 1.7560473e+07\n"
         "rpc_count 2693\n"
         "# TYPE g gauge\n"
         "g{le=\"1\"} 1\n",
         "TYPE rpc summary\n"
         "rpc{quantile=\"0.01\"} 3102.0 summary\n"
         "rpc{quantile=\"1.0\"} 4773.0 summary\n"
         "rpc{quantile=\"abc\"} 1.0 summary\n"
         "rpc_sum{} 1.7560473e+07 summary\n"
         "rpc_count{} 2693.0 summary\n"
         "TYPE g gauge\n"
         "g{le=\"1\"} 1.0 gauge\n"
         "EOF\n"},
        /* a sample outside the TYPE's family is unknown (Prometheus would
         * keep "counter"); OpenMetrics-only types are refused in text */
        {"# TYPE a counter\nb 1\na 2\n", "TYPE a counter\nb{} 1.0 unknown\na{} 2.0 unknown\nEOF\n"},
        {"# TYPE a counter\na 2\na_total 3\n", "TYPE a counter\na{} 2.0 counter\na_total{} 3.0 counter\nEOF\n"},
        {"# TYPE a info\n", "ERR line 1: invalid metric type \"info\"\n"},
        {"# TYPE a unknown\n", "ERR line 1: invalid metric type \"unknown\"\n"},
    };
    CHECK_CASES(EXPO_TEXT, cases, 0);
}
END_TEST

START_TEST(test_expo_text_blanks_comments) {
    static const dump_case cases[] = {
        {"", "EOF\n"},
        {"\n\n  \n\t\n", "EOF\n"},
        {"# just a comment\n#no space\n#\n# HELP\n# TYPEfoo\n  # indented comment\na 1",
         "a{} 1.0 unknown\nEOF\n"},
        /* blanks between every pair of tokens, before and after the line */
        {"  a { b = \"c\" , d=\"e\" } \t 1 \t 2 \t\n", "a{b=\"c\",d=\"e\"} 1.0 @2 unknown\nEOF\n"},
        {"a{b=\"c\" d=\"e\"} 1\n", "a{b=\"c\",d=\"e\"} 1.0 unknown\nEOF\n"},
        {"a{}1\na{b=\"c\"}2\n", "a{} 1.0 unknown\na{b=\"c\"} 2.0 unknown\nEOF\n"},
        {"a\t1\n", "a{} 1.0 unknown\nEOF\n"},
        /* HELP/TYPE with tabs and extra blanks; empty help */
        {"#\tHELP\tm\thelp  text \n# HELP  n\n# HELP o   \n# TYPE\tm\tgauge\n",
         "HELP m \"help  text \"\nHELP n \"\"\nHELP o \"\"\nTYPE m gauge\nEOF\n"},
        {"# HELP m  two blanks\n", "HELP m \" two blanks\"\nEOF\n"},
        {"# TYPE m  gauge\n", "ERR line 1: invalid metric type \" gauge\"\n"},
        {"# HELP m-x text\n", "ERR line 1: expected a blank after the metric name, got \"-x\"\n"},
        /* "# EOF" is just a comment in the text format */
        {"a 1\n# EOF\nb 2\n", "a{} 1.0 unknown\nb{} 2.0 unknown\nEOF\n"},
    };
    CHECK_CASES(EXPO_TEXT, cases, 0);
}
END_TEST

START_TEST(test_expo_label_escapes) {
    static const dump_case text[] = {
        {"a{b=\"x\\\\y\\\"z\\nw\"} 1\n", "a{b=\"x\\\\y\\\"z\\nw\"} 1.0 unknown\nEOF\n"},
        /* other escapes stay as they are (Go's strings.Replacer) */
        {"a{b=\"\\t\\x\\\\n\"} 1\n", "a{b=\"\\\\t\\\\x\\\\n\"} 1.0 unknown\nEOF\n"},
        /* a raw line break inside a text label value (Prometheus' lexer
         * accepts it); the next line is line 3 */
        {"a{b=\"x\ny\"} 1\nc 2 x\n", "a{b=\"x\\ny\"} 1.0 unknown\nERR line 3: expected timestamp or new record, got \"x\"\n"},
        /* HELP in text: \\ and \n are escapes, \" is not */
        {"# HELP m a\\\\b\\nc\\\"d\n", "HELP m \"a\\\\b\\nc\\\\\\\"d\"\nEOF\n"},
    };
    CHECK_CASES(EXPO_TEXT, text, 0);
    static const dump_case om[] = {
        {"a{b=\"x\\\\y\\\"z\\nw\"} 1\n# EOF\n", "a{b=\"x\\\\y\\\"z\\nw\"} 1.0 unknown\nEOF\n"},
        /* HELP in OpenMetrics: \" is an escape too */
        {"# HELP m a\\\\b\\nc\\\"d\n# EOF\n", "HELP m \"a\\\\b\\nc\\\"d\"\nEOF\n"},
        /* raw line break in a label value: refused in OpenMetrics */
        {"a{b=\"x\ny\"} 1\n# EOF\n", "ERR line 1: expected label value, got \"\\\"x\"\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, om, 0);
}
END_TEST

START_TEST(test_expo_empty_and_trailing_comma) {
    static const dump_case text[] = {
        {"a{} 1\n", "a{} 1.0 unknown\nEOF\n"},
        {"a{b=\"c\",} 1\n", "a{b=\"c\"} 1.0 unknown\nEOF\n"},
        {"a{b=\"\"} 1\n", "a{b=\"\"} 1.0 unknown\nEOF\n"},
        {"a{,} 1\n", "ERR line 1: expected label name, got \",\"\n"},
        {"a{b=\"c\",,} 1\n", "ERR line 1: expected label name, got \",\"\n"},
    };
    CHECK_CASES(EXPO_TEXT, text, 0);
    static const dump_case om[] = {
        {"a{} 1\n# EOF\n", "a{} 1.0 unknown\nEOF\n"},
        {"a{b=\"c\",} 1\n# EOF\n", "a{b=\"c\"} 1.0 unknown\nEOF\n"},
        {"a{b=\"c\" } 1\n# EOF\n", "ERR line 1: expected comma or brace close, got \" \"\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, om, 0);
}
END_TEST

START_TEST(test_expo_quoted_names) {
    static const dump_case om[] = {
        {"# HELP \"go.gc_duration_seconds\" A summary.\n"
         "# TYPE \"go.gc_duration_seconds\" summary\n"
         "# UNIT \"go.gc_duration_seconds\" seconds\n"
         "{\"go.gc_duration_seconds\",quantile=\"0\"} 4.9351e-05\n"
         "{\"go.gc_duration_seconds_created\"} 1520872607.123\n"
         "{q=\"0.9\",\"http.status\",a=\"b\"} 8.3835e-05\n"
         "{\"Heiz\xc3\xb6l \\\"x\\\" {c\\nd}\",\"strange\xc2\xa9\\n'q'\"=\"6\"} 10.0\n"
         "quotedexemplar_count 1 # {\"id.thing\"=\"histogram-count-test\",other=\"hello\"} 4\n"
         "# EOF\n",
         "HELP go.gc_duration_seconds \"A summary.\"\n"
         "TYPE go.gc_duration_seconds summary\n"
         "UNIT go.gc_duration_seconds \"seconds\"\n"
         "go.gc_duration_seconds{quantile=\"0.0\"} 4.9351e-05 summary st=1520872607123\n"
         "go.gc_duration_seconds_created{} 1.520872607123e+09 summary created st=1520872607123\n"
         "http.status{a=\"b\",q=\"0.9\"} 8.3835e-05 unknown\n"
         "Heiz\xc3\xb6l \"x\" {c\nd}{strange\xc2\xa9\n'q'=\"6\"} 10.0 unknown\n"
         "quotedexemplar_count{} 1.0 unknown # {id.thing=\"histogram-count-test\",other=\"hello\"} 4.0\n"
         "EOF\n"},
        {"{\"a\",\"b\"} 1\n# EOF\n", "ERR line 1: metric name already set\n"},
        {"a{\"b\"} 1\n# EOF\n", "ERR line 1: metric name already set\n"},
        {"{\"\"} 1\n# EOF\n", "ERR line 1: empty metric name\n"},
        {"{\"a\",\"\"=\"x\"} 1\n# EOF\n", "ERR line 1: empty label name\n"},
        {"{\"a\xff\"} 1\n# EOF\n", "ERR line 1: invalid UTF-8 label name: \"\\\"a\\xff\\\"\"\n"},
        {"a 1 # {\"b\"} 1\n# EOF\n", "ERR line 1: expected label name, got \"}\"\n"},
        {"{b=\"c\",} 1\n# EOF\n", "ERR line 1: metric name not set\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, om, DUMP_ST);
    static const dump_case text[] = {
        {"{\"my.metric\", \"a.b\"=\"c\"} 1\n# TYPE \"x.y\" gauge\n{\"x.y\"} 2\n",
         "my.metric{a.b=\"c\"} 1.0 unknown\nTYPE x.y gauge\nx.y{} 2.0 gauge\nEOF\n"},
        {"{a=\"ok\"} 1\n", "ERR line 1: metric name not set\n"},
    };
    CHECK_CASES(EXPO_TEXT, text, 0);
}
END_TEST

START_TEST(test_expo_values) {
    static const dump_case text[] = {
        {"a 1e3\nb .5\nc 5.\nd -0\ne +Inf\nf -Inf\ng NaN\nh nan\ni Infinity\nj -inf\nk 0.1e-2\nl 1E+2\n"
         "m 1.7976931348623157e308\nn 4.9e-324\no 1e-400\n",
         "a{} 1000.0 unknown\nb{} 0.5 unknown\nc{} 5.0 unknown\nd{} 0.0 unknown\ne{} +Inf unknown\n"
         "f{} -Inf unknown\ng{} NaN unknown\nh{} NaN unknown\ni{} +Inf unknown\nj{} -Inf unknown\n"
         "k{} 0.001 unknown\nl{} 100.0 unknown\nm{} 1.7976931348623157e+308 unknown\nn{} 5e-324 unknown\n"
         "o{} 0.0 unknown\nEOF\n"},
        {"a 1e400\n", "ERR line 1: value \"1e400\" out of range\n"},
        {"a true\n", "ERR line 1: invalid value \"true\"\n"},
        {"a +nan\n", "ERR line 1: invalid value \"+nan\"\n"},
        {"a 1_2\n", "ERR line 1: unsupported character in float \"1_2\"\n"},
        {"a 0x1p-3\n", "ERR line 1: unsupported character in float \"0x1p-3\"\n"},
        {"a 0x10\n", "ERR line 1: invalid value \"0x10\"\n"},
        {"a 1e\n", "ERR line 1: invalid value \"1e\"\n"},
        {"a .\n", "ERR line 1: invalid value \".\"\n"},
        {"a\n", "ERR line 1: expected value after metric, got \"\\n\"\n"},
        {"a", "ERR line 1: expected value after metric, got end of input\n"},
        /* text timestamps: integer milliseconds, no sign */
        {"a 1 -5\n", "ERR line 1: expected timestamp or new record, got \"-5\"\n"},
        {"a 1 9223372036854775807\n", "a{} 1.0 @9223372036854775807 unknown\nEOF\n"},
        {"a 1 9223372036854775808\n", "ERR line 1: timestamp \"9223372036854775808\" out of range\n"},
        {"a 1 1.5\n", "ERR line 1: expected next entry after timestamp, got \".5\"\n"},
        {"a 1 2 3\n", "ERR line 1: expected next entry after timestamp, got \"3\"\n"},
        {"a 1{\n", "ERR line 1: expected timestamp or new record, got \"{\"\n"},
    };
    CHECK_CASES(EXPO_TEXT, text, 0);

    /* NaN values carry Prometheus' normal NaN bits, never the stale marker */
    const char body[] = "a NaN\nb nan\n";
    expo_parser p;
    expo_parser_init(&p, EXPO_TEXT, body, sizeof body - 1);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
        uint64_t bits;
        memcpy(&bits, &expo_sample_at(&p)->value, 8);
        ck_assert_uint_eq(bits, EXPO_NORMAL_NAN_BITS);
    }
    expo_parser_free(&p);
}
END_TEST

/* ---- OpenMetrics ------------------------------------------------------------ */

START_TEST(test_expo_om_metric_types) {
    static const dump_case cases[] = {
        {"# HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
         "# TYPE go_gc_duration_seconds summary\n"
         "# UNIT go_gc_duration_seconds seconds\n"
         "go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
         "go_gc_duration_seconds{quantile=\"0.25\"} 7.424100000000001e-05\n"
         "go_gc_duration_seconds_count 99\n"
         "# HELP nohelp1 \n"
         "# UNIT nounit \n"
         "# HELP go_goroutines Number of goroutines that currently exist.\n"
         "# TYPE go_goroutines gauge\n"
         "go_goroutines 33 123.123\n"
         "# TYPE hh histogram\n"
         "hh_bucket{le=\"+Inf\"} 1\n"
         "hh_count 1\n"
         "hh_sum 2\n"
         "# TYPE gh gaugehistogram\n"
         "gh_bucket{le=\"1\"} 1\n"
         "gh_gcount 1\n"
         "gh_gsum 1\n"
         "# TYPE ii info\n"
         "ii_info{foo=\"bar\"} 1\n"
         "# TYPE ss stateset\n"
         "ss{ss=\"foo\"} 1\n"
         "ss{ss=\"bar\"} 0\n"
         "# TYPE un unknown\n"
         "un 1\n"
         "_metric_starting_with_underscore 1\n"
         "testmetric{_label_starting_with_underscore=\"foo\"} 1\n"
         "some:aggregate:rate5m{a_b=\"c\"} 1\n"
         "# EOF\n",
         "HELP go_gc_duration_seconds \"A summary of the GC invocation durations.\"\n"
         "TYPE go_gc_duration_seconds summary\n"
         "UNIT go_gc_duration_seconds \"seconds\"\n"
         "go_gc_duration_seconds{quantile=\"0.0\"} 4.9351e-05 summary\n"
         "go_gc_duration_seconds{quantile=\"0.25\"} 7.424100000000001e-05 summary\n"
         "go_gc_duration_seconds_count{} 99.0 summary\n"
         "HELP nohelp1 \"\"\n"
         "UNIT nounit \"\"\n"
         "HELP go_goroutines \"Number of goroutines that currently exist.\"\n"
         "TYPE go_goroutines gauge\n"
         "go_goroutines{} 33.0 @123123 gauge\n"
         "TYPE hh histogram\n"
         "hh_bucket{le=\"+Inf\"} 1.0 histogram\n"
         "hh_count{} 1.0 histogram\n"
         "hh_sum{} 2.0 histogram\n"
         "TYPE gh gaugehistogram\n"
         "gh_bucket{le=\"1\"} 1.0 gaugehistogram\n"
         "gh_gcount{} 1.0 gaugehistogram\n"
         "gh_gsum{} 1.0 gaugehistogram\n"
         "TYPE ii info\n"
         "ii_info{foo=\"bar\"} 1.0 info\n"
         "TYPE ss stateset\n"
         "ss{ss=\"foo\"} 1.0 stateset\n"
         "ss{ss=\"bar\"} 0.0 stateset\n"
         "TYPE un unknown\n"
         "un{} 1.0 unknown\n"
         "_metric_starting_with_underscore{} 1.0 unknown\n"
         "testmetric{_label_starting_with_underscore=\"foo\"} 1.0 unknown\n"
         "some:aggregate:rate5m{a_b=\"c\"} 1.0 unknown\n"
         "EOF\n"},
        {"# TYPE u untyped\n# EOF\n", "ERR line 1: invalid metric type \"untyped\"\n"},
        {"# TYPE c counter \n# EOF\n", "ERR line 1: invalid metric type \"counter \"\n"},
        {"# TYPE c  counter\n# EOF\n", "ERR line 1: invalid metric type \" counter\"\n"},
        {"# UNIT metric suffix\n# EOF\n", "ERR line 1: unit \"suffix\" not a suffix of metric \"metric\"\n"},
        {"# UNIT metricsuffix suffix\n# EOF\n",
         "ERR line 1: unit \"suffix\" not a suffix of metric \"metricsuffix\"\n"},
        {"# UNIT m suffix\n# EOF\n", "ERR line 1: unit \"suffix\" not a suffix of metric \"m\"\n"},
        {"# UNIT m_suffix suffix\n# EOF\n", "UNIT m_suffix \"suffix\"\nEOF\n"},
        {"# TYPE m\n# EOF\n", "ERR line 1: expected text in TYPE\n"},
        {"# HELP m\n# EOF\n", "ERR line 1: expected text in HELP\n"},
        {"# UNIT m\n# EOF\n", "ERR line 1: expected text in UNIT\n"},
        {"# TYPE \n# EOF\n", "ERR line 1: expected metric name after TYPE, got \"\\n\"\n"},
        {"# HELP m text", "ERR line 1: expected text in HELP\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, cases, 0);
}
END_TEST

START_TEST(test_expo_om_strict_syntax) {
    static const dump_case cases[] = {
        {"\n# EOF\n", "ERR line 1: expected a valid start token, got \"\\n\"\n"},
        {" a 1\n# EOF\n", "ERR line 1: expected a valid start token, got \" a\"\n"},
        {"9\n# EOF\n", "ERR line 1: expected a valid start token, got \"9\"\n"},
        {"# comment\n# EOF\n", "ERR line 1: expected a valid start token, got \"# commen\"\n"},
        {"#  TYPE c counter\n# EOF\n", "ERR line 1: expected a valid start token, got \"#  TYPE \"\n"},
        {"#\tTYPE c counter\n# EOF\n", "ERR line 1: expected a valid start token, got \"#\\tTYPE c\"\n"},
        {"#", "ERR line 1: expected a valid start token, got \"#\"\n"},
        {"a\t1\n# EOF\n", "ERR line 1: expected value after metric, got \"\\t1\"\n"},
        {"a  1\n# EOF\n", "ERR line 1: expected value after metric, got \" 1\"\n"},
        {"a 1\t2\n# EOF\n", "ERR line 1: invalid value \"1\\t2\"\n"},
        {"a 1 2 \n# EOF\n", "ERR line 1: expected next entry after timestamp, got \" \"\n"},
        {"a 1 2 #\n# EOF\n", "ERR line 1: expected next entry after timestamp, got \" #\"\n"},
        {"a 1 \n# EOF\n", "ERR line 1: expected timestamp or exemplar, got \"\\n\"\n"},
        {"a 1 1z\n# EOF\n", "ERR line 1: invalid timestamp \"1z\"\n"},
        {"a 1 1 1\n# EOF\n", "ERR line 1: expected next entry after timestamp, got \" 1\"\n"},
        {"a{b='c'} 1\n# EOF\n", "ERR line 1: expected label value, got \"'c'\"\n"},
        {"a{,b=\"c\"} 1\n# EOF\n", "ERR line 1: expected label name, got \",b\"\n"},
        {"a{b=\"c\"d=\"e\"} 1\n# EOF\n", "ERR line 1: expected comma or brace close, got \"d\"\n"},
        {"a{b=\"c\",,d=\"e\"} 1\n# EOF\n", "ERR line 1: expected label name, got \",d\"\n"},
        {"a{b=\n# EOF\n", "ERR line 1: expected label value, got \"\\n\"\n"},
        {"a{b = \"c\"} 1\n# EOF\n", "ERR line 1: expected equal, got \" \"\n"},
        {"{A}0\n# EOF\n", "ERR line 1: expected equal, got \"}0\"\n"},
        {"empty_label_name{=\"\"} 0\n# EOF\n", "ERR line 1: expected label name, got \"=\"\n"},
        {"something_weird{problem=\"\n# EOF\n", "ERR line 1: expected label value, got \"\\\"\"\n"},
        {"a{b=\"c\"} 1 NaN\n# EOF\n", "ERR line 1: invalid timestamp \"NaN\"\n"},
        {"a 1 -Inf\n# EOF\n", "ERR line 1: invalid timestamp \"-Inf\"\n"},
        {"a 1 1e30\n# EOF\n", "ERR line 1: timestamp \"1e30\" out of range\n"},
        {"a 1 0x1p3\n# EOF\n", "ERR line 1: unsupported character in float \"0x1p3\"\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, cases, 0);
}
END_TEST

START_TEST(test_expo_om_timestamps) {
    static const dump_case cases[] = {
        {"a 1 1700000000.123\n"
         "a 1 1700000000.1239999\n"
         "a 1 1520879607.789\n"
         "a 1 1700000000\n"
         "a 1 1.7e9\n"
         "a 1 17e8\n"
         "a 1 0.0005\n"
         "a 1 -1.5\n"
         "a 1 -0.0009\n"
         "a 1 1.\n"
         "a 1 .25\n"
         "a 1 +3\n"
         "a 1 1700000000.123000000000000000000001\n"
         "a 1 9223372036854775.807\n"
         "# EOF\n",
         "a{} 1.0 @1700000000123 unknown\n"
         "a{} 1.0 @1700000000123 unknown rep\n"
         "a{} 1.0 @1520879607789 unknown rep\n"
         "a{} 1.0 @1700000000000 unknown rep\n"
         "a{} 1.0 @1700000000000 unknown rep\n"
         "a{} 1.0 @1700000000000 unknown rep\n"
         "a{} 1.0 @0 unknown rep\n"
         "a{} 1.0 @-1500 unknown rep\n"
         "a{} 1.0 @0 unknown rep\n"
         "a{} 1.0 @1000 unknown rep\n"
         "a{} 1.0 @250 unknown rep\n"
         "a{} 1.0 @3000 unknown rep\n"
         "a{} 1.0 @1700000000123 unknown rep\n"
         "a{} 1.0 @9223372036854775807 unknown rep\n"
         "EOF\n"},
        {"a 1 9223372036854775.808\n# EOF\n", "ERR line 1: timestamp \"9223372036854775.808\" out of range\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, cases, 0);
}
END_TEST

START_TEST(test_expo_om_exemplars) {
    static const dump_case cases[] = {
        {"# TYPE foo counter\n"
         "foo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5\n"
         "# TYPE hhh histogram\n"
         "hhh_bucket{le=\"+Inf\"} 1 # {id=\"histogram-bucket-test\"} 4\n"
         "hhh_count 1 # {id=\"histogram-count-test\"} 4\n"
         "# TYPE ggh gaugehistogram\n"
         "ggh_bucket{le=\"+Inf\"} 1 # {xx=\"yy\",id=\"gaugehistogram-bucket-test\"} 4 123.123\n"
         "# TYPE smr_seconds summary\n"
         "smr_seconds_count 2.0 # {id=\"summary-count-test\"} 1 123.321\n"
         "custom_metric_total 1 # {} 2\n"
         "# EOF\n",
         "TYPE foo counter\n"
         "foo_total{} 17.0 @1520879607789 counter # {id=\"counter-test\"} 5.0\n"
         "TYPE hhh histogram\n"
         "hhh_bucket{le=\"+Inf\"} 1.0 histogram # {id=\"histogram-bucket-test\"} 4.0\n"
         "hhh_count{} 1.0 histogram # {id=\"histogram-count-test\"} 4.0\n"
         "TYPE ggh gaugehistogram\n"
         "ggh_bucket{le=\"+Inf\"} 1.0 gaugehistogram # {id=\"gaugehistogram-bucket-test\",xx=\"yy\"} 4.0 @123123\n"
         "TYPE smr_seconds summary\n"
         "smr_seconds_count{} 2.0 summary # {id=\"summary-count-test\"} 1.0 @123321\n"
         "custom_metric_total{} 1.0 unknown # {} 2.0\n"
         "EOF\n"},
        {"a 1 # {aa=\"bb\"} 4", "ERR line 1: data does not end with # EOF\n"},
        {"a 1 # {aa=bb}\n# EOF\n", "ERR line 1: expected label value, got \"bb\"\n"},
        {"a 1 # {aa=\"bb\"}\n# EOF\n", "ERR line 1: expected value after exemplar labels, got \"\\n\"\n"},
        {"a 1 # {aa=\"bb\"}", "ERR line 1: expected value after exemplar labels, got end of input\n"},
        {"a 1 # {bb}\n# EOF\n", "ERR line 1: expected equal, got \"}\"\n"},
        {"a 1 # {bb, a=\"dd\"}\n# EOF\n", "ERR line 1: expected equal, got \",\"\n"},
        {"a 1 # {aa=\"bb\",,cc=\"dd\"} 1\n# EOF\n", "ERR line 1: expected label name, got \",cc\"\n"},
        {"a 1 # {aa=\"bb\"} 1_2\n# EOF\n", "ERR line 1: unsupported character in float \"1_2\"\n"},
        {"a 1 # {aa=\"bb\"} true\n# EOF\n", "ERR line 1: invalid value \"true\"\n"},
        {"a 1 # {aa=\"bb\",cc=}\n# EOF\n", "ERR line 1: expected label value, got \"}\"\n"},
        {"a 1 # {aa=\"bb\"} 4 NaN\n# EOF\n", "ERR line 1: invalid exemplar timestamp \"NaN\"\n"},
        {"a 1 # {aa=\"bb\"} 4 -Inf\n# EOF\n", "ERR line 1: invalid exemplar timestamp \"-Inf\"\n"},
        {"a 1 # {aa=\"bb\"} 4 5 6\n# EOF\n",
         "ERR line 1: expected next entry after exemplar timestamp, got \" 6\"\n"},
        {"a 1 # {a=\"1\",a=\"2\"} 4\n# EOF\n", "ERR line 1: duplicate label name \"a\"\n"},
        /* no exemplars in the text format */
    };
    CHECK_CASES(EXPO_OPENMETRICS, cases, 0);
    static const dump_case text[] = {
        {"a 1 # {aa=\"bb\"} 4\n", "ERR line 1: expected timestamp or new record, got \"#\"\n"},
    };
    CHECK_CASES(EXPO_TEXT, text, 0);
}
END_TEST

static const char created_body[] =
    "# HELP foo Counter with and without labels to certify ST is parsed for both cases\n"
    "# TYPE foo counter\n"
    "foo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5\n"
    "foo_created 1520872607.123\n"
    "foo_total{a=\"b\"} 17.0 1520879607.789 # {id=\"counter-test\"} 5\n"
    "foo_created{a=\"b\"} 1520872607.123\n"
    "foo_total{le=\"c\"} 21.0\n"
    "foo_created{le=\"c\"} 1520872621.123\n"
    "foo_total{le=\"1\"} 10.0\n"
    "# HELP bar Summary with ST at the end\n"
    "# TYPE bar summary\n"
    "bar_count 17.0\n"
    "bar_sum 324789.3\n"
    "bar{quantile=\"0.95\"} 123.7\n"
    "bar_created 1520872608.124\n"
    "# TYPE baz histogram\n"
    "baz_bucket{le=\"0.0\"} 0\n"
    "baz_bucket{le=\"+Inf\"} 17\n"
    "baz_created 1520872609.125\n"
    "# TYPE fizz_created gauge\n"
    "fizz_created 17.0\n"
    "# TYPE something histogram\n"
    "something_count 18\n"
    "something_created 1520430001\n"
    "something_bucket{le=\"1\"} 2\n"
    "# TYPE thing_c counter\n"
    "thing_c_created 1520872607.123\n"
    "thing_c_total 14123.232\n"
    "# EOF\n";

START_TEST(test_expo_om_created) {
    /* default: _created lines are samples (flagged), as in Prometheus */
    char *got = dump(EXPO_OPENMETRICS, created_body, DUMP_ST);
    const char *want =
        "HELP foo \"Counter with and without labels to certify ST is parsed for both cases\"\n"
        "TYPE foo counter\n"
        "foo_total{} 17.0 @1520879607789 counter # {id=\"counter-test\"} 5.0 st=1520872607123\n"
        "foo_created{} 1.520872607123e+09 counter created st=1520872607123\n"
        "foo_total{a=\"b\"} 17.0 @1520879607789 counter # {id=\"counter-test\"} 5.0 st=1520872607123\n"
        "foo_created{a=\"b\"} 1.520872607123e+09 counter created st=1520872607123\n"
        "foo_total{le=\"c\"} 21.0 counter st=1520872621123\n"
        "foo_created{le=\"c\"} 1.520872621123e+09 counter created st=1520872621123\n"
        "foo_total{le=\"1\"} 10.0 counter\n"
        "HELP bar \"Summary with ST at the end\"\n"
        "TYPE bar summary\n"
        "bar_count{} 17.0 summary st=1520872608124\n"
        "bar_sum{} 324789.3 summary st=1520872608124\n"
        "bar{quantile=\"0.95\"} 123.7 summary st=1520872608124\n"
        "bar_created{} 1.520872608124e+09 summary created st=1520872608124\n"
        "TYPE baz histogram\n"
        "baz_bucket{le=\"0.0\"} 0.0 histogram st=1520872609125\n"
        "baz_bucket{le=\"+Inf\"} 17.0 histogram st=1520872609125\n"
        "baz_created{} 1.520872609125e+09 histogram created st=1520872609125\n"
        "TYPE fizz_created gauge\n"
        "fizz_created{} 17.0 gauge\n"
        "TYPE something histogram\n"
        "something_count{} 18.0 histogram st=1520430001000\n"
        "something_created{} 1.520430001e+09 histogram created st=1520430001000\n"
        "something_bucket{le=\"1.0\"} 2.0 histogram st=1520430001000\n"
        "TYPE thing_c counter\n"
        "thing_c_created{} 1.520872607123e+09 counter created\n"
        "thing_c_total{} 14123.232 counter\n"
        "EOF\n";
    /* As in Prometheus: the result is cached per series (labels without
     * le/quantile), so the _created line itself and the buckets after it
     * get it too; a _created line before its series is not found. */
    ck_assert_msg(!strcmp(got, want), "got:\n%s", got);
    free(got);

    /* skipped with EXPO_SKIP_CREATED; start timestamps still found */
    got = dump(EXPO_OPENMETRICS, created_body, EXPO_SKIP_CREATED | DUMP_ST);
    ck_assert_ptr_null(strstr(got, " created"));
    ck_assert_ptr_null(strstr(got, "foo_created"));
    ck_assert_ptr_nonnull(strstr(got, "bar{quantile=\"0.95\"} 123.7 summary st=1520872608124\n"));
    ck_assert_ptr_nonnull(strstr(got, "fizz_created{} 17.0 gauge\n"));
    free(got);

    /* the remembered stopping point of a look-ahead answers for every
     * sample before it, and a new look-ahead starts once past it */
    got = dump(EXPO_OPENMETRICS,
               "# TYPE c counter\n"
               "c_total{a=\"1\"} 1\n"
               "c_total{a=\"2\"} 1\n"
               "c_created{a=\"2\"} 100\n"
               "c_total{a=\"3\"} 1\n"
               "c_total{a=\"3\"} 2\n"
               "c_created{a=\"3\"} 300.5\n"
               "c_total{a=\"1\"} 2\n"
               "c_total{a=\"2\"} 2\n"
               "# TYPE d counter\n"
               "d_total 1\n"
               "d_created 7\n"
               "# EOF\n",
               EXPO_SKIP_CREATED | DUMP_ST);
    ck_assert_str_eq(got, "TYPE c counter\n"
                          "c_total{a=\"1\"} 1.0 counter\n"
                          "c_total{a=\"2\"} 1.0 counter st=100000\n"
                          "c_total{a=\"3\"} 1.0 counter st=300500\n"
                          "c_total{a=\"3\"} 2.0 counter rep st=300500\n"
                          "c_total{a=\"1\"} 2.0 counter\n"
                          "c_total{a=\"2\"} 2.0 counter\n"
                          "TYPE d counter\n"
                          "d_total{} 1.0 counter st=7000\n"
                          "EOF\n");
    free(got);

    /* _created is not special in the text format */
    got = dump(EXPO_TEXT, "# TYPE foo counter\nfoo_created 1\n", EXPO_SKIP_CREATED);
    ck_assert_str_eq(got, "TYPE foo counter\nfoo_created{} 1.0 counter\nEOF\n");
    free(got);
}
END_TEST

START_TEST(test_expo_om_eof) {
    static const dump_case cases[] = {
        {"# EOF", "EOF\n"},
        {"# EOF\n", "EOF\n"},
        {"", "ERR line 1: data does not end with # EOF\n"},
        {"a 1", "ERR line 1: data does not end with # EOF\n"},
        {"a 1\n", "a{} 1.0 unknown\nERR line 2: data does not end with # EOF\n"},
        {"a 1 2", "ERR line 1: data does not end with # EOF\n"},
        {"# EOF\na 1", "ERR line 2: unexpected data after # EOF\n"},
        {"# EOF\n\n", "ERR line 2: unexpected data after # EOF\n"},
        {"# EOF ", "ERR line 1: unexpected data after # EOF\n"},
        {"# EOFa 1", "ERR line 1: unexpected data after # EOF\n"},
        {" # EOF\n", "ERR line 1: expected a valid start token, got \" #\"\n"},
        {"#EOF\n", "ERR line 1: expected a valid start token, got \"#EOF\"\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, cases, 0);
}
END_TEST

START_TEST(test_expo_om_family_order) {
    static const dump_case cases[] = {
        {"# TYPE a gauge\na 1\n# TYPE a gauge\n# EOF\n",
         "TYPE a gauge\na{} 1.0 gauge\nERR line 3: TYPE line for metric family \"a\" after its samples\n"},
        {"# TYPE a counter\na_total 1\n# HELP a x\n# EOF\n",
         "TYPE a counter\na_total{} 1.0 counter\nERR line 3: HELP line for metric family \"a\" after its samples\n"},
        {"a 1\n# UNIT a x\n# EOF\n", "a{} 1.0 unknown\nERR line 2: unit \"x\" not a suffix of metric \"a\"\n"},
        {"a_x 1\n# UNIT a_x x\n# EOF\n",
         "a_x{} 1.0 unknown\nERR line 2: UNIT line for metric family \"a_x\" after its samples\n"},
        {"# TYPE a gauge\n# TYPE a counter\n# EOF\n",
         "TYPE a gauge\nERR line 2: second TYPE line for metric family \"a\"\n"},
        {"# HELP a x\n# HELP a y\n# EOF\n", "HELP a \"x\"\nERR line 2: second HELP line for metric family \"a\"\n"},
        /* HELP, TYPE, UNIT in any order before the samples */
        {"# UNIT a_s s\n# TYPE a_s counter\n# HELP a_s h\na_s_total 1\n# EOF\n",
         "UNIT a_s \"s\"\nTYPE a_s counter\nHELP a_s \"h\"\na_s_total{} 1.0 counter\nEOF\n"},
    };
    CHECK_CASES(EXPO_OPENMETRICS, cases, 0);
    /* the text format accepts all of it, as Prometheus does */
    char *got = dump(EXPO_TEXT, "# TYPE a gauge\na 1\n# TYPE a counter\na 2\n", 0);
    ck_assert_str_eq(got, "TYPE a gauge\na{} 1.0 gauge\nTYPE a counter\na{} 2.0 counter\nEOF\n");
    free(got);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_expo_text_errors) {
    /* Prometheus' TestPromParseErrors, with flint's wording of "got" */
    static const dump_case cases[] = {
        {"a", "ERR line 1: expected value after metric, got end of input\n"},
        {"a{b='c'} 1\n", "ERR line 1: expected label value, got \"'c'\"\n"},
        {"a{b=\n", "ERR line 1: expected label value, got \"\\n\"\n"},
        {"a{\xff=\"foo\"} 1\n", "ERR line 1: expected label name, got \"\\xff\"\n"},
        {"a{b=\"\xff\"} 1\n", "ERR line 1: invalid UTF-8 label value: \"\\\"\\xff\\\"\"\n"},
        {"{\"a\", \"b = \"c\"}", "ERR line 1: expected equal, got \"c\"\n"},
        {"{\"a\",b\\nc=\"d\"} 1", "ERR line 1: expected equal, got \"\\\\nc\"\n"},
        {"a true\n", "ERR line 1: invalid value \"true\"\n"},
        {"something_weird{problem=\"", "ERR line 1: expected label value, got \"\\\"\"\n"},
        {"empty_label_name{=\"\"} 0", "ERR line 1: expected label name, got \"=\"\n"},
        {"{A}0", "ERR line 1: expected equal, got \"}0\"\n"},
        {"foo 1_2\n", "ERR line 1: unsupported character in float \"1_2\"\n"},
        {"foo 0x1P-3\n", "ERR line 1: unsupported character in float \"0x1P-3\"\n"},
        {"foo 0 1_2\n", "ERR line 1: expected next entry after timestamp, got \"_2\"\n"},
        {"{a=\"ok\"} 1", "ERR line 1: metric name not set\n"},
        {"# TYPE #\n#EOF\n", "ERR line 1: expected metric name after TYPE, got \"#\"\n"},
        {"# HELP #\n#EOF\n", "ERR line 1: expected metric name after HELP, got \"#\"\n"},
        {"# HELP \n", "ERR line 1: expected metric name after HELP, got \"\\n\"\n"},
        {"a{x=\"1\",x=\"2\"} 1\n", "ERR line 1: duplicate label name \"x\"\n"},
        {"a{__name__=\"b\"} 1\n", "ERR line 1: duplicate label name \"__name__\"\n"},
        {"-a 1\n", "ERR line 1: expected a valid start token, got \"-a\"\n"},
        {"a{b=\"c\"\n", "ERR line 1: expected label name, got \"\\n\"\n"},
        {"a{b=\"c\\\n\"} 1\n", "ERR line 1: expected label value, got \"\\\"c\\\\\"\n"},
    };
    CHECK_CASES(EXPO_TEXT, cases, 0);
    /* inputs with NUL bytes */
#define LIT(s) s, sizeof(s) - 1
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } nul[] = {
        {LIT("a{b=\x00\"ssss\"} 1\n"), "ERR line 1: expected label value, got \"\\x00\"\n"},
        {LIT("a{b\x00=\"hiih\"}\t1"), "ERR line 1: expected equal, got \"\\x00\"\n"},
        {LIT("a 0 1\x00"), "ERR line 1: expected next entry after timestamp, got \"\\x00\"\n"},
        {LIT("\x00"), "ERR line 1: expected a valid start token, got \"\\x00\"\n"},
        {LIT("a\x00{b=\"ddd\"} 1"), "ERR line 1: invalid value \"\\x00\"\n"},
    };
#undef LIT
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
        char *got = dump_n(EXPO_TEXT, nul[i].in, nul[i].n, 0);
        ck_assert_msg(!strcmp(got, nul[i].want), "case %zu: want %s got %s", i, nul[i].want, got);
        free(got);
    }
}
END_TEST

START_TEST(test_expo_error_lines) {
    const char body[] = "# HELP a x\n"
                        "a 1\n"
                        "\n"
                        "a{b=\"c\",d=} 2\n";
    expo_parser p;
    expo_parser_init(&p, EXPO_TEXT, body, sizeof body - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_HELP);
    ck_assert_uint_eq(expo_line(&p), 1);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    ck_assert_uint_eq(expo_line(&p), 2);
    ck_assert_str_eq(expo_error(&p), "");
    ck_assert_int_eq(expo_next(&p), FLINT_EINVAL);
    ck_assert_str_eq(expo_error(&p), "line 4: expected label value, got \"}\"");
    ck_assert_uint_eq(expo_error_line(&p), 4);
    ck_assert_uint_eq(expo_error_offset(&p), (size_t)(strstr(body, "=}") + 1 - body));
    ck_assert_str_eq(flint_errmsg(), "line 4: expected label value, got \"}\"");
    ck_assert_int_eq(expo_next(&p), FLINT_EINVAL);
    ck_assert_uint_eq(expo_line(&p), 4);
    expo_parser_free(&p);
}
END_TEST

START_TEST(test_expo_invalid_utf8) {
    static const struct {
        const char *bytes;
        bool valid;
    } seqs[] = {
        {"\xc3\xa9", true},          {"\xe2\x82\xac", true},     {"\xf0\x9f\x98\x80", true},
        {"\xf4\x8f\xbf\xbf", true},  {"\xed\x9f\xbf", true},     {"\x7f", true},
        {"\xc0\xaf", false},         {"\xc1\xbf", false},        {"\xe0\x80\xaf", false},
        {"\xed\xa0\x80", false},     {"\xf4\x90\x80\x80", false}, {"\xf5\x80\x80\x80", false},
        {"\xc3", false},             {"\xe2\x82", false},        {"\x80", false},
        {"\xfe", false},             {"\xff", false},            {"\xf0\x9f\x98", false},
    };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        char in[128];
        for (int f = 0; f < 2; f++) {
            snprintf(in, sizeof in, "a{b=\"x%sy\"} 1\n%s", seqs[i].bytes, f ? "# EOF\n" : "");
            char *got = dump((expo_format)f, in, 0);
            if (seqs[i].valid) {
                ck_assert_msg(strncmp(got, "a{b=", 4) == 0, "seq %zu: %s", i, got);
            } else {
                ck_assert_msg(strncmp(got, "ERR line 1: invalid UTF-8 label value", 37) == 0, "seq %zu: %s", i, got);
            }
            free(got);
            /* HELP text too */
            snprintf(in, sizeof in, "# HELP a x%sy\n%s", seqs[i].bytes, f ? "# EOF\n" : "");
            got = dump((expo_format)f, in, 0);
            if (seqs[i].valid) ck_assert_msg(strncmp(got, "HELP a", 6) == 0, "seq %zu: %s", i, got);
            else ck_assert_msg(strstr(got, "is not valid UTF-8") != NULL, "seq %zu: %s", i, got);
            free(got);
        }
    }
    /* an escaped byte is still checked */
    char *got = dump(EXPO_TEXT, "a{b=\"\\\xc3\xa9\\\xff\"} 1\n", 0);
    ck_assert_str_eq(got, "ERR line 1: invalid UTF-8 label value: \"\\\"\\\\\\xc3\\xa9\\\\\\xff\\\"\"\n");
    free(got);
}
END_TEST

START_TEST(test_expo_crlf) {
    char *got = dump(EXPO_TEXT, "a 1\r\nb 2\r\n", 0);
    ck_assert_str_eq(got, "ERR line 1: invalid value \"1\\r\" (CRLF line endings are not allowed)\n");
    free(got);
    got = dump(EXPO_TEXT, "a 1 2\r\n", 0);
    ck_assert_str_eq(got, "ERR line 1: expected next entry after timestamp, got \"\\r\" (CRLF line endings are not allowed)\n");
    free(got);
    got = dump(EXPO_OPENMETRICS, "# TYPE a gauge\r\n# EOF\r\n", 0);
    ck_assert_str_eq(got, "ERR line 1: invalid metric type \"gauge\\r\" (CRLF line endings are not allowed)\n");
    free(got);
}
END_TEST

START_TEST(test_expo_nul_bytes) {
    /* NUL in a label value: refused (flint's strings are C strings) */
    const char v[] = "a{b=\"x\0y\"} 1\n";
    char *got = dump_n(EXPO_TEXT, v, sizeof v - 1, 0);
    ck_assert_str_eq(got, "ERR line 1: label value contains a NUL byte\n");
    free(got);
    /* NUL in HELP text: kept, as Prometheus does */
    const char h[] = "# HELP m foo\0bar\n# EOF\n";
    expo_parser p;
    expo_parser_init(&p, EXPO_OPENMETRICS, h, sizeof h - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_HELP);
    ck_assert_uint_eq(expo_meta_at(&p)->text_len, 7);
    ck_assert_int_eq(memcmp(expo_meta_at(&p)->text, "foo\0bar", 7), 0);
    ck_assert_int_eq(expo_next(&p), EXPO_EOF);
    expo_parser_free(&p);
}
END_TEST

/* ---- long input -------------------------------------------------------------------- */

START_TEST(test_expo_long_lines) {
    /* a 1 MiB label value, a 1 MiB help text, 5000 labels */
    size_t big = 1 << 20;
    size_t cap = 2 * big + 5000 * 32 + 256, k = 0;
    char *in = malloc(cap);
    ck_assert_ptr_nonnull(in);
    k += (size_t)sprintf(in + k, "# HELP m ");
    memset(in + k, 'h', big);
    k += big;
    k += (size_t)sprintf(in + k, "\nm{v=\"");
    for (size_t i = 0; i < big; i++) in[k++] = (char)('a' + i % 26);
    k += (size_t)sprintf(in + k, "\"} 1\nw{");
    for (int i = 4999; i >= 0; i--) k += (size_t)sprintf(in + k, "l%04d=\"%d\",", i, i);
    k += (size_t)sprintf(in + k, "} 2\n");
    expo_parser p;
    expo_parser_init(&p, EXPO_TEXT, in, k);
    ck_assert_int_eq(expo_next(&p), EXPO_HELP);
    ck_assert_uint_eq(expo_meta_at(&p)->text_len, big);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    const expo_sample *s = expo_sample_at(&p);
    ck_assert_uint_eq(s->nlabels, 2);
    ck_assert_uint_eq(strlen(s->labels[1].value), big);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    s = expo_sample_at(&p);
    ck_assert_uint_eq(s->nlabels, 5001);
    ck_assert_str_eq(s->labels[0].name, "__name__");
    ck_assert_str_eq(s->labels[1].name, "l0000");
    ck_assert_str_eq(s->labels[5000].name, "l4999");
    ck_assert_str_eq(s->labels[5000].value, "4999");
    ck_assert_int_eq(expo_next(&p), EXPO_EOF);
    /* the same label twice among many: found by the sorted check */
    k = (size_t)sprintf(in, "w{");
    for (int i = 0; i < 3000; i++) k += (size_t)sprintf(in + k, "l%04d=\"%d\",", i % 2999, i);
    k += (size_t)sprintf(in + k, "} 2\n");
    expo_parser_reset(&p, EXPO_TEXT, in, k);
    ck_assert_int_eq(expo_next(&p), FLINT_EINVAL);
    ck_assert_str_eq(expo_error(&p), "line 1: duplicate label name \"l0000\"");
    expo_parser_free(&p);
    free(in);
}
END_TEST

/* ---- the raw series and the repeat fast path ------------------------------------------- */

START_TEST(test_expo_series_repeat) {
    const char body[] = "a{x=\"1\"} 1 10\n"
                        "a{x=\"1\"} 2 20\n"
                        "a{x=\"1\"}\t3\n"    /* tab: fast path too (text) */
                        "a{x=\"1\"}4\n"      /* no blank: slow path, same result */
                        "a 5\n"
                        "a {x=\"2\"} 6\n"    /* "a" then a label set: not a repeat */
                        "a 7\n"
                        "a  8\n"
                        "# TYPE a gauge\n"   /* metadata: the type may change */
                        "a 9\n"
                        "a 10\n"
                        "a{x=\"1\"} 11\n";
    char *got = dump(EXPO_TEXT, body, 0);
    ck_assert_str_eq(got, "a{x=\"1\"} 1.0 @10 unknown\n"
                          "a{x=\"1\"} 2.0 @20 unknown rep\n"
                          "a{x=\"1\"} 3.0 unknown rep\n"
                          "a{x=\"1\"} 4.0 unknown\n"
                          "a{} 5.0 unknown\n"
                          "a{x=\"2\"} 6.0 unknown\n"
                          "a{} 7.0 unknown\n"
                          "a{} 8.0 unknown rep\n"
                          "TYPE a gauge\n"
                          "a{} 9.0 gauge\n"
                          "a{} 10.0 gauge rep\n"
                          "a{x=\"1\"} 11.0 gauge\n"
                          "EOF\n");
    free(got);

    /* raw spans and stable pointers */
    const char om[] = "m{a=\"x\\\"y\"} 1 5 # {t=\"1\"} 2\n"
                      "m{a=\"x\\\"y\"} 2 6\n"
                      "m{a=\"x\\\"z\"} 3\n"
                      "# EOF\n";
    expo_parser p;
    expo_parser_init(&p, EXPO_OPENMETRICS, om, sizeof om - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    const expo_sample *s = expo_sample_at(&p);
    ck_assert_uint_eq(s->series_len, strlen("m{a=\"x\\\"y\"}"));
    ck_assert_ptr_eq(s->series, om);
    ck_assert(s->has_exemplar);
    const label *l1 = s->labels;
    const char *v1 = s->labels[1].value;
    ck_assert_str_eq(v1, "x\"y");
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    ck_assert(s->series_repeated);
    ck_assert(!s->has_exemplar);
    ck_assert_ptr_eq(s->labels, l1);
    ck_assert_ptr_eq(s->labels[1].value, v1);
    ck_assert_ptr_eq(s->series, strchr(om, '\n') + 1);
    ck_assert_int_eq(memcmp(s->series, om, s->series_len), 0);
    ck_assert_int_eq(s->ts_ms, 6000);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    ck_assert(!s->series_repeated);
    ck_assert_str_eq(s->labels[1].value, "x\"z");
    ck_assert_int_eq(expo_next(&p), EXPO_EOF);
    expo_parser_free(&p);

    /* an error on a repeated line is reported like any other */
    got = dump(EXPO_OPENMETRICS, "a 1\na 2\na x\n# EOF\n", 0);
    ck_assert_str_eq(got, "a{} 1.0 unknown\na{} 2.0 unknown rep\nERR line 3: invalid value \"x\"\n");
    free(got);
}
END_TEST

START_TEST(test_expo_reset_reuse) {
    const char a[] = "x{a=\"1\"} 1\n", b[] = "# TYPE y counter\ny_total{b=\"2\"} 2\n# EOF\n";
    expo_parser p;
    expo_parser_init(&p, EXPO_TEXT, a, sizeof a - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    ck_assert_int_eq(expo_next(&p), EXPO_EOF);
    expo_parser_reset(&p, EXPO_OPENMETRICS, b, sizeof b - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_TYPE);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    ck_assert_str_eq(expo_sample_at(&p)->labels[1].value, "2");
    ck_assert(!expo_sample_at(&p)->series_repeated);
    ck_assert_int_eq(expo_sample_at(&p)->type, EXPO_COUNTER);
    ck_assert_int_eq(expo_next(&p), EXPO_EOF);
    /* after an error, a reset parses again */
    expo_parser_reset(&p, EXPO_TEXT, "x{", 2);
    ck_assert_int_lt(expo_next(&p), 0);
    expo_parser_reset(&p, EXPO_TEXT, a, sizeof a - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    ck_assert_str_eq(expo_error(&p), "");
    expo_parser_free(&p);
    /* free twice is harmless, and a freed parser can be reset */
    expo_parser_free(&p);
    expo_parser_reset(&p, EXPO_TEXT, a, sizeof a - 1);
    ck_assert_int_eq(expo_next(&p), EXPO_SAMPLE);
    expo_parser_free(&p);
}
END_TEST

START_TEST(test_expo_content_type) {
    ck_assert_int_eq(expo_format_from_content_type(NULL), EXPO_TEXT);
    ck_assert_int_eq(expo_format_from_content_type(""), EXPO_TEXT);
    ck_assert_int_eq(expo_format_from_content_type("text/plain; version=0.0.4; charset=utf-8"), EXPO_TEXT);
    ck_assert_int_eq(expo_format_from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                     EXPO_OPENMETRICS);
    ck_assert_int_eq(expo_format_from_content_type("Application/OpenMetrics-Text"), EXPO_OPENMETRICS);
    ck_assert_int_eq(expo_format_from_content_type(" application/openmetrics-text ;version=0.0.1"),
                     EXPO_OPENMETRICS);
    ck_assert_int_eq(expo_format_from_content_type("application/openmetrics-textx"), EXPO_TEXT);
    ck_assert_int_eq(expo_format_from_content_type("application/vnd.google.protobuf"), EXPO_TEXT);
    ck_assert_str_eq(expo_type_name(EXPO_GAUGEHISTOGRAM), "gaugehistogram");
    ck_assert_str_eq(expo_type_name((expo_type)99), "unknown");
}
END_TEST

/* ---- real bodies ---------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run the tests from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

START_TEST(test_expo_node_exporter) {
    size_t n;
    char *b = slurp("bench/testdata/node_exporter.txt", &n);
    expo_parser p;
    expo_parser_init(&p, EXPO_TEXT, b, n);
    int r;
    size_t samples = 0, help = 0, type = 0, counters = 0;
    while ((r = expo_next(&p)) > 0) {
        samples += r == EXPO_SAMPLE;
        help += r == EXPO_HELP;
        type += r == EXPO_TYPE;
        if (r == EXPO_SAMPLE && expo_sample_at(&p)->type == EXPO_COUNTER) counters++;
    }
    ck_assert_msg(r == EXPO_EOF, "%s", expo_error(&p));
    ck_assert_uint_eq(samples, 507);
    ck_assert_uint_eq(help, type);
    ck_assert_uint_gt(counters, 50);
    expo_parser_free(&p);
    free(b);
}
END_TEST

/* python3-prometheus-client's generate_latest() for the same registry in
 * both formats (the corpus of fuzz_expo holds the full outputs) */
START_TEST(test_expo_python_client) {
    const char *text = "# HELP http_requests_total Total requests.\\nSecond line with \\\\ backslash\n"
                       "# TYPE http_requests_total counter\n"
                       "http_requests_total{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 3.0\n"
                       "# HELP http_requests_created Total requests.\\nSecond line with \\\\ backslash\n"
                       "# TYPE http_requests_created gauge\n"
                       "http_requests_created{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 1.7953199133308415e+09\n"
                       "# HELP request_latency_seconds Latency\n"
                       "# TYPE request_latency_seconds histogram\n"
                       "request_latency_seconds_bucket{handler=\"/api\",le=\"0.005\"} 1.0\n"
                       "request_latency_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 5.0\n"
                       "request_latency_seconds_count{handler=\"/api\"} 5.0\n"
                       "request_latency_seconds_sum{handler=\"/api\"} 16.320999999999998\n";
    char *got = dump(EXPO_TEXT, text, 0);
    ck_assert_str_eq(got,
                     "HELP http_requests_total \"Total requests.\\nSecond line with \\\\ backslash\"\n"
                     "TYPE http_requests_total counter\n"
                     "http_requests_total{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 3.0 counter\n"
                     "HELP http_requests_created \"Total requests.\\nSecond line with \\\\ backslash\"\n"
                     "TYPE http_requests_created gauge\n"
                     "http_requests_created{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 1.7953199133308415e+09 gauge\n"
                     "HELP request_latency_seconds \"Latency\"\n"
                     "TYPE request_latency_seconds histogram\n"
                     "request_latency_seconds_bucket{handler=\"/api\",le=\"0.005\"} 1.0 histogram\n"
                     "request_latency_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 5.0 histogram\n"
                     "request_latency_seconds_count{handler=\"/api\"} 5.0 histogram\n"
                     "request_latency_seconds_sum{handler=\"/api\"} 16.320999999999998 histogram\n"
                     "EOF\n");
    free(got);
    const char *om = "# HELP http_requests Total requests.\\nSecond line with \\\\ backslash\n"
                     "# TYPE http_requests counter\n"
                     "http_requests_total{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 3.0\n"
                     "http_requests_created{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 1.7953199133308415e+09\n"
                     "# HELP temperature_celsius Temperature\n"
                     "# TYPE temperature_celsius gauge\n"
                     "# UNIT temperature_celsius celsius\n"
                     "temperature_celsius{room=\"\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9\"} -3.25e-07\n"
                     "# HELP build Build information\n"
                     "# TYPE build info\n"
                     "build_info{revision=\"abc\",version=\"1.2.3\"} 1.0\n"
                     "# HELP task_state State\n"
                     "# TYPE task_state stateset\n"
                     "task_state{task_state=\"running\"} 1.0\n"
                     "# EOF\n";
    got = dump(EXPO_OPENMETRICS, om, DUMP_ST);
    ck_assert_str_eq(got,
                     "HELP http_requests \"Total requests.\\nSecond line with \\\\ backslash\"\n"
                     "TYPE http_requests counter\n"
                     "http_requests_total{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 3.0 counter st=1795319913330\n"
                     "http_requests_created{method=\"GET\",path=\"/a\\\"quoted\\\"\"} 1.7953199133308415e+09 counter "
                     "created st=1795319913330\n"
                     "HELP temperature_celsius \"Temperature\"\n"
                     "TYPE temperature_celsius gauge\n"
                     "UNIT temperature_celsius \"celsius\"\n"
                     "temperature_celsius{room=\"\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9\"} -3.25e-07 gauge\n"
                     "HELP build \"Build information\"\n"
                     "TYPE build info\n"
                     "build_info{revision=\"abc\",version=\"1.2.3\"} 1.0 info\n"
                     "HELP task_state \"State\"\n"
                     "TYPE task_state stateset\n"
                     "task_state{task_state=\"running\"} 1.0 stateset\n"
                     "EOF\n");
    free(got);
}
END_TEST

/* Every prefix of a body parses without reading outside it (the copy is
 * exactly the prefix: ASan sees an over-read) and without crashing. */
START_TEST(test_expo_every_prefix) {
    const char *bodies[] = {created_body,
                            "# HELP a \\\\x\\n\n# TYPE a histogram\na_bucket{le=\"1\",\"q.n\"=\"\xc3\xa9\\\"\"} 1 2\n"
                            "{\"a.b\"} NaN\n  # c\n\na_sum -Inf 3\n"};
    for (int f = 0; f < 2; f++) {
        for (int b = 0; b < 2; b++) {
            size_t n = strlen(bodies[b]);
            for (size_t k = 0; k <= n; k++) free(dump_n((expo_format)f, bodies[b], k, DUMP_ST));
        }
    }
}
END_TEST

/* ---- OOM --------------------------------------------------------------------------------- */

START_TEST(test_expo_oom) {
    const char *body = created_body;
    char *want = dump(EXPO_OPENMETRICS, body, DUMP_ST);
    const char *text_body = "# HELP a x\\\\y\n{\"q\\\"n\", b=\"\\\\\"} 1\na_bucket{le=\"1\"} 2\n";
    char *want_text = dump(EXPO_TEXT, text_body, 0);
    bool done = false;
    for (long n = 0; !done && n < 10000; n++) {
        expo_parser p;
        for (int f = 0; f < 2; f++) {
            const char *in = f ? body : text_body;
            expo_parser_init(&p, (expo_format)f, in, strlen(in));
            fl_fault_fail_after(n);
            int r;
            int64_t st;
            size_t samples = 0;
            while ((r = expo_next(&p)) > 0) {
                if (r == EXPO_SAMPLE) {
                    samples++;
                    int sr = expo_start_timestamp(&p, &st);
                    if (sr < 0) {
                        r = sr;
                        break;
                    }
                }
            }
            long failures = fl_fault_failures();
            fl_fault_reset();
            if (r == FLINT_ENOMEM) {
                ck_assert_int_gt(failures, 0);
                /* sticky for expo_next's own failures */
                if (expo_error(&p)[0]) ck_assert_int_eq(expo_next(&p), FLINT_ENOMEM);
            } else {
                ck_assert_int_eq(r, EXPO_EOF);
                if (f && failures == 0) done = true;
            }
            expo_parser_free(&p);
        }
    }
    ck_assert(done);
    /* and a normal run still gives the same dump */
    char *again = dump(EXPO_OPENMETRICS, body, DUMP_ST);
    ck_assert_str_eq(again, want);
    char *again_text = dump(EXPO_TEXT, text_body, 0);
    ck_assert_str_eq(again_text, want_text);
    free(want);
    free(again);
    free(want_text);
    free(again_text);
}
END_TEST

/* ---- numbers ------------------------------------------------------------------------------ */

static void expect_double(const char *s, int want_rc) {
    double got = 12345, ref;
    int rc = expo_parse_double(s, strlen(s), &got);
    ck_assert_msg(rc == want_rc, "%s: rc %d, want %d", s, rc, want_rc);
    if (rc == FLINT_EINVAL) {
        ck_assert(got == 12345);
        return;
    }
    ref = strtod(s, NULL);
    ck_assert_msg(memcmp(&got, &ref, 8) == 0, "%s: got %a, strtod %a", s, got, ref);
}

START_TEST(test_expo_parse_double_syntax) {
    static const char *ok[] = {"0", "-0", "+0", "1", "-1", "1.", ".5", "-.5", "+.5e-3", "1e5", "1E+05", "1e-5",
                               "007", "0.000", "123456789012345678901234567890", "1e22", "1e23", "123e25",
                               "9007199254740993", "0.1", "2.2250738585072011e-308", "4.9e-324", "1e-400",
                               "1.7976931348623157e308", "inf", "+Inf", "-INF", "infinity", "-Infinity", "nan",
                               "NaN", "NAN", "1e-99999999999999999999999", "0e99999999999999999999"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) expect_double(ok[i], 0);
    static const char *bad[] = {"", "+", "-", ".", "+.", "e5", ".e5", "1e", "1e+", "1e-", "1.2.3", "1..2", "--1",
                                "+-1", " 1", "1 ", "0x10", "0x1p3", "1_000", "1p3", "infin", "infinit", "infinityy",
                                "in", "+nan", "-nan", "nan1", "inf1", "1f", "1e5.5", "\xff", "1e5e5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_double(bad[i], FLINT_EINVAL);
    expect_double("1e309", FLINT_ERANGE);
    expect_double("-1.8e308", FLINT_ERANGE);
    expect_double("1797693134862315807937289714053034150799341327710e260", FLINT_ERANGE);
    /* a 2000-digit number, all digits significant (the rewritten copy) */
    char *longn = malloc(4100);
    ck_assert_ptr_nonnull(longn);
    for (int i = 0; i < 2000; i++) longn[i] = (char)('1' + i % 9);
    strcpy(longn + 2000, "e-1990");
    expect_double(longn, 0);
    longn[0] = '0';
    longn[1] = '.';
    for (int i = 2; i < 4000; i++) longn[i] = '0';
    strcpy(longn + 4000, "1e3700");
    expect_double(longn, 0);
    free(longn);
}
END_TEST

static size_t random_decimal(tu_rng *r, char *b) {
    size_t k = 0;
    uint64_t x = tu_next(r);
    if (x & 1) b[k++] = '-';
    else if (x & 2) b[k++] = '+';
    int shape = (int)(x >> 2 & 7);
    int nd = 1 + (int)(tu_next(r) % (shape == 7 ? 40 : 20));
    int dot = (x >> 8 & 3) ? (int)(tu_next(r) % (unsigned)(nd + 1)) : -1;
    bool lead = (x >> 10 & 7) == 0;
    if (lead) {
        b[k++] = '0';
        b[k++] = '.';
        for (int i = (int)(tu_next(r) % 12); i > 0; i--) b[k++] = '0';
        dot = -1;
    }
    for (int i = 0; i < nd; i++) {
        if (i == dot) b[k++] = '.';
        b[k++] = (char)('0' + tu_next(r) % 10);
    }
    if (dot == nd) b[k++] = '.';
    int ex = (int)(x >> 16 & 3);
    if (ex) {
        int range = ex == 1 ? 30 : ex == 2 ? 330 : 30;
        int e = (int)(tu_next(r) % (unsigned)(2 * range + 1)) - range;
        k += (size_t)sprintf(b + k, "%c%s%d", (x >> 20 & 1) ? 'e' : 'E', e >= 0 && (x >> 21 & 1) ? "+" : "", e);
    }
    b[k] = 0;
    return k;
}

START_TEST(test_expo_parse_double_vs_strtod) {
    tu_rng r = {0x9e3779b97f4a7c15ULL ^ (uint64_t)_i};
    char b[128];
    long n = 1000000;
    for (long i = 0; i < n; i++) {
        size_t len = random_decimal(&r, b);
        double got, ref = strtod(b, NULL);
        int rc = expo_parse_double(b, len, &got);
        EXPECT(rc == 0 || (rc == FLINT_ERANGE && isinf(ref)), "%s: rc %d", b, rc);
        EXPECT(memcmp(&got, &ref, 8) == 0, "%s: got %a, strtod %a", b, got, ref);
    }
    /* shortest round-trip texts of random doubles (17 digits: the fallback) */
    for (long i = 0; i < 200000; i++) {
        uint64_t bits = tu_next(&r);
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d)) continue;
        int len = snprintf(b, sizeof b, "%.*g", (int)(i % 18) + 1, d);
        double got, ref = strtod(b, NULL);
        int rc = expo_parse_double(b, (size_t)len, &got);
        EXPECT(rc == 0 || (rc == FLINT_ERANGE && isinf(ref)), "%s: rc %d", b, rc);
        EXPECT(memcmp(&got, &ref, 8) == 0, "%s: got %a, strtod %a", b, got, ref);
    }
}
END_TEST

START_TEST(test_expo_parse_timestamps) {
    static const struct {
        const char *s;
        int rc;
        int64_t ms;
    } sec[] = {
        {"0", 0, 0},
        {"1700000000", 0, 1700000000000},
        {"1700000000.123", 0, 1700000000123},
        {"1700000000.1", 0, 1700000000100},
        {"1700000000.1239", 0, 1700000000123},
        {"1520879607.789", 0, 1520879607789},
        {"-1.5", 0, -1500},
        {"-0.0009", 0, 0},
        {"1.7e9", 0, 1700000000000},
        {"1.7000000001234e9", 0, 1700000000123},
        {"17e-4", 0, 1},
        {"1e-400", 0, 0},
        {"0e400", 0, 0},
        {".001", 0, 1},
        {"5.", 0, 5000},
        {"+5", 0, 5000},
        {"9223372036854775.807", 0, INT64_MAX},
        {"-9223372036854775.808", 0, INT64_MIN},
        {"9223372036854775.808", FLINT_ERANGE, 0},
        {"1e16", FLINT_ERANGE, 0},
        {"1e400", FLINT_ERANGE, 0},
        {"123456789012345678901234567890e-20", 0, 1234567890123},
        {"0.00000000000000000000000001234e30", 0, 12340000},
        {"NaN", FLINT_EINVAL, 0},
        {"Inf", FLINT_EINVAL, 0},
        {"-inf", FLINT_EINVAL, 0},
        {"", FLINT_EINVAL, 0},
        {"1z", FLINT_EINVAL, 0},
        {"0x10", FLINT_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++) {
        int64_t ms = 42;
        int rc = expo_parse_seconds_ms(sec[i].s, strlen(sec[i].s), &ms);
        EXPECT(rc == sec[i].rc, "%s: rc %d", sec[i].s, rc);
        if (!rc) EXPECT(ms == sec[i].ms, "%s: %lld", sec[i].s, (long long)ms);
    }
    /* random seconds with fractions against integer arithmetic */
    tu_rng r = {12345};
    for (int i = 0; i < 200000; i++) {
        int64_t whole = (int64_t)(tu_next(&r) % 4000000000ULL);
        int fd = (int)(tu_next(&r) % 10);
        uint64_t frac = tu_next(&r) % 10000000000ULL;
        char fs[16];
        snprintf(fs, sizeof fs, "%010llu", (unsigned long long)frac);
        fs[fd] = 0;
        char b[64];
        snprintf(b, sizeof b, "%s%lld%s%s", i & 1 ? "-" : "", (long long)whole, fd ? "." : "", fs);
        int64_t want = whole * 1000, frac3 = 0;
        for (int j = 0; j < 3; j++) frac3 = frac3 * 10 + (j < fd ? fs[j] - '0' : 0);
        want += frac3;
        if (i & 1) want = -want;
        int64_t ms;
        EXPECT(expo_parse_seconds_ms(b, strlen(b), &ms) == 0, "%s", b);
        EXPECT(ms == want, "%s: %lld want %lld", b, (long long)ms, (long long)want);
    }
    static const struct {
        const char *s;
        int rc;
        int64_t v;
    } ints[] = {
        {"0", 0, 0},
        {"-0", 0, 0},
        {"+7", 0, 7},
        {"9223372036854775807", 0, INT64_MAX},
        {"-9223372036854775808", 0, INT64_MIN},
        {"9223372036854775808", FLINT_ERANGE, 0},
        {"-9223372036854775809", FLINT_ERANGE, 0},
        {"99999999999999999999x", FLINT_EINVAL, 0},
        {"", FLINT_EINVAL, 0},
        {"-", FLINT_EINVAL, 0},
        {"1.0", FLINT_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v = 42;
        int rc = expo_parse_int64(ints[i].s, strlen(ints[i].s), &v);
        EXPECT(rc == ints[i].rc, "%s: rc %d", ints[i].s, rc);
        if (!rc) EXPECT(v == ints[i].v, "%s: %lld", ints[i].s, (long long)v);
    }
}
END_TEST

START_TEST(test_expo_format_om_float) {
    static const struct {
        double f;
        const char *s;
    } cases[] = {
        {1, "1.0"},
        {0, "0.0"},
        {-0.0, "0.0"},
        {-1, "-1.0"},
        {2, "2.0"},
        {0.005, "0.005"},
        {0.25, "0.25"},
        {1e-4, "0.0001"},
        {1e-5, "1e-05"},
        {100000, "100000.0"},
        {123456, "123456.0"},
        {1e6, "1e+06"},
        {1234567, "1.234567e+06"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.5e300, "1.5e+300"},
        {5e-324, "5e-324"},
        {-2.5, "-2.5"},
        {HUGE_VAL, "+Inf"},
        {-HUGE_VAL, "-Inf"},
        {NAN, "NaN"},
    };
    char b[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expo_format_om_float(cases[i].f, b);
        ck_assert_str_eq(b, cases[i].s);
    }
    /* round trip, and the label normaliser agrees with the formatter */
    tu_rng r = {777};
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = tu_next(&r);
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d)) continue;
        size_t n = expo_format_om_float(d, b);
        EXPECT(n == strlen(b), "%s", b);
        EXPECT(strtod(b, NULL) == d, "%a -> %s", d, b);
        char norm[32];
        EXPECT(expo__normalize_om_float(b, n, norm) == n, "%s", b);
        EXPECT(!strcmp(norm, b), "%s vs %s", norm, b);
    }
    for (int i = 0; i < 100000; i++) {
        char in[64], want[32], got[32];
        size_t n = random_decimal(&r, in);
        double d;
        if (expo_parse_double(in, n, &d)) continue;
        expo_format_om_float(d, want);
        EXPECT(expo__normalize_om_float(in, n, got) > 0, "%s", in);
        EXPECT(!strcmp(got, want), "%s: %s, want %s", in, got, want);
    }
    ck_assert_uint_eq(expo__normalize_om_float("abc", 3, b), 0);
    ck_assert_uint_eq(expo__normalize_om_float("1e999", 5, b), 0);
}
END_TEST

Suite *expo_suite(void) {
    Suite *s = suite_create("expo");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_expo_text_metric_types);
    tcase_add_test(tc, test_expo_text_blanks_comments);
    tcase_add_test(tc, test_expo_label_escapes);
    tcase_add_test(tc, test_expo_empty_and_trailing_comma);
    tcase_add_test(tc, test_expo_quoted_names);
    tcase_add_test(tc, test_expo_values);
    tcase_add_test(tc, test_expo_text_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("openmetrics");
    tcase_add_test(tc, test_expo_om_metric_types);
    tcase_add_test(tc, test_expo_om_strict_syntax);
    tcase_add_test(tc, test_expo_om_timestamps);
    tcase_add_test(tc, test_expo_om_exemplars);
    tcase_add_test(tc, test_expo_om_created);
    tcase_add_test(tc, test_expo_om_eof);
    tcase_add_test(tc, test_expo_om_family_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("robustness");
    tcase_add_test(tc, test_expo_error_lines);
    tcase_add_test(tc, test_expo_invalid_utf8);
    tcase_add_test(tc, test_expo_crlf);
    tcase_add_test(tc, test_expo_nul_bytes);
    tcase_add_test(tc, test_expo_long_lines);
    tcase_add_test(tc, test_expo_series_repeat);
    tcase_add_test(tc, test_expo_reset_reuse);
    tcase_add_test(tc, test_expo_content_type);
    tcase_add_test(tc, test_expo_node_exporter);
    tcase_add_test(tc, test_expo_python_client);
    tcase_add_test(tc, test_expo_every_prefix);
    tcase_add_test(tc, test_expo_oom);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_add_test(tc, test_expo_parse_double_syntax);
    tcase_add_loop_test(tc, test_expo_parse_double_vs_strtod, 0, 3);
    tcase_add_test(tc, test_expo_parse_timestamps);
    tcase_add_test(tc, test_expo_format_om_float);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}
