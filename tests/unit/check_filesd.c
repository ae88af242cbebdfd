/*
 * check_filesd.c - file_sd: JSON and YAML target group files, their errors
 * (with line and column), __meta_filepath and sources, globbing, change
 * detection, OOM paths.
 */
#include "scrape/filesd.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(const char *text, const char *name, scrape_arena *a, scrape_target_group **g, size_t *n) {
    return filesd_parse(text, strlen(text), name, a, g, n);
}

/* "targets|labels" of group i */
static const char *show(const scrape_target_group *g) {
    static char out[1024];
    size_t w = 0;
    for (size_t i = 0; i < g->ntargets; i++) w += (size_t)snprintf(out + w, sizeof out - w, "%s%s", i ? "," : "", g->targets[i]);
    w += (size_t)snprintf(out + w, sizeof out - w, "|");
    for (size_t i = 0; i < g->nlabels; i++)
        w += (size_t)snprintf(out + w, sizeof out - w, "%s%s=%s", i ? "," : "", g->labels[i].name, g->labels[i].value);
    return out;
}

START_TEST(test_filesd_json) {
    scrape_arena a;
    scrape_arena_init(&a);
    scrape_target_group *g;
    size_t n;
    const char *json = "[\n"
                       "  {\"targets\": [\"a:9100\", \"b:9100\"], \"labels\": {\"env\": \"prod\", \"job\": \"node\"}},\n"
                       "  {\"labels\": {\"x\": \"\\u00e9\\n\\\"q\\\" \\ud83d\\ude00\"}, \"targets\": [\"c:1\"]},\n"
                       "  {\"Targets\": [\"d:1\"], \"LABELS\": null},\n"
                       "  {\"targets\": null},\n"
                       "  {}\n"
                       "]\n";
    ck_assert_msg(parse(json, "/sd/nodes.json", &a, &g, &n) == 0, "%s", flint_errmsg());
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(show(&g[0]), "a:9100,b:9100|__meta_filepath=/sd/nodes.json,env=prod,job=node");
    ck_assert_str_eq(show(&g[1]), "c:1|__meta_filepath=/sd/nodes.json,x=é\n\"q\" 😀");
    ck_assert_str_eq(show(&g[2]), "d:1|__meta_filepath=/sd/nodes.json");
    ck_assert_str_eq(show(&g[3]), "|__meta_filepath=/sd/nodes.json");
    ck_assert_str_eq(g[0].source, "/sd/nodes.json:0");
    ck_assert_str_eq(g[4].source, "/sd/nodes.json:4");

    /* empty array, null, whitespace, a file's own __meta_filepath is replaced,
     * repeated label keys keep the last value */
    ck_assert_int_eq(parse(" [ ] ", "x.json", &a, &g, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(parse("null", "x.JSON", &a, &g, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(parse("[{\"targets\":[\"a\"],\"labels\":{\"__meta_filepath\":\"fake\",\"k\":\"1\",\"k\":\"2\"}}]",
                           "x.json", &a, &g, &n),
                     0);
    ck_assert_str_eq(show(&g[0]), "a|__meta_filepath=x.json,k=2");
    /* lone surrogates become U+FFFD, as in Go */
    ck_assert_int_eq(parse("[{\"labels\":{\"k\":\"\\ud800x\"}}]", "x.json", &a, &g, &n), 0);
    ck_assert_str_eq(g[0].labels[1].value, "\xef\xbf\xbdx");
    scrape_arena_free(&a);
}
END_TEST

START_TEST(test_filesd_json_errors) {
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"", "f.json:1:1: unexpected end of JSON input"},
        {"{}", "f.json:1:1: expected an array of target groups, got an object"},
        {"[null]", "f.json:1:2: nil target group item found (index 0)"},
        {"[{\"targets\": [\"a\"]},\n null]", "f.json:2:2: nil target group item found (index 1)"},
        {"[1]", "f.json:1:2: expected a target group object, got a number"},
        {"[{\"targets\": \"a\"}]", "f.json:1:14: targets: expected an array of strings, got a string"},
        {"[{\"targets\": [1]}]", "f.json:1:15: expected a string, got a number"},
        {"[{\"labels\": {\"a\": 1}}]", "f.json:1:19: expected a string, got a number"},
        {"[{\"labels\": []}]", "f.json:1:13: labels: expected an object, got an array"},
        {"[{\"labels\": {\"1a\": \"x\"}}]", "f.json:1:14: \"1a\" is not a valid label name"},
        {"[{\"target\": []}]", "f.json:1:3: unknown field \"target\" in target group"},
        {"[{\"targets\": [\"a\"]}", "f.json:1:20: expected ']', got end of input"},
        {"[{\"targets\": [\"a\"]}] x", "f.json:1:22: invalid character after top-level value"},
        {"[{\"targets\": [\"a\" \"b\"]}]", "f.json:1:19: expected ']', got a string"},
        {"[{\"targets\": [\"a\\x\"]}]", "f.json:1:17: invalid escape in string"},
        {"[{\"targets\": [\"a\\u12\"]}]", "f.json:1:17: invalid \\u escape in string"},
        {"[{\"targets\": [\"a\\u0000\"]}]", "f.json:1:17: NUL character (\\u0000) in string"},
        {"[{\"targets\": [\"a\nb\"]}]", "f.json:1:17: invalid control character in string"},
        {"[{\"targets\": [\"a\xff\"]}]", "f.json:1:16: invalid UTF-8 in string"},
        {"[{\"targets\": [\"abc", "f.json:1:15: unterminated string"},
        {"[{\"targets\" [\"a\"]}]", "f.json:1:13: expected ':', got an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scrape_arena a;
        scrape_arena_init(&a);
        scrape_target_group *g;
        size_t n;
        ck_assert_msg(parse(bad[i].json, "f.json", &a, &g, &n) == FLINT_EINVAL, "case %zu parsed", i);
        if (strcmp(flint_errmsg(), bad[i].msg) != 0) fprintf(stderr, "case %zu: got %s\n", i, flint_errmsg());
        ck_assert_str_eq(flint_errmsg(), bad[i].msg);
        ck_assert_ptr_null(g);
        scrape_arena_free(&a);
    }
}
END_TEST

START_TEST(test_filesd_yaml) {
    scrape_arena a;
    scrape_arena_init(&a);
    scrape_target_group *g;
    size_t n;
    const char *y = "- targets: ['a:1', b:2]\n"
                    "  labels:\n"
                    "    env: prod\n"
                    "- targets:\n"
                    "    - c:3\n";
    ck_assert_msg(parse(y, "sd/t.yml", &a, &g, &n) == 0, "%s", flint_errmsg());
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(show(&g[0]), "a:1,b:2|__meta_filepath=sd/t.yml,env=prod");
    ck_assert_str_eq(show(&g[1]), "c:3|__meta_filepath=sd/t.yml");
    ck_assert_str_eq(g[1].source, "sd/t.yml:1");
    ck_assert_int_eq(parse("", "e.yaml", &a, &g, &n), 0);
    ck_assert_uint_eq(n, 0);

    static const struct {
        const char *yaml, *msg;
    } bad[] = {
        {"- ~\n", "t.yaml:1: [0]: nil target group item found"},
        {"targets: [a]\n", "t.yaml:1: expected a sequence, got a mapping"},
        {"- targets: [a]\n  lables: {}\n", "t.yaml:2: [0].lables: unknown field in target group"},
        {"- labels: {a-b: x}\n", "t.yaml:1: [0].labels.a-b: \"a-b\" is not a valid label name"},
        {"- targets: a\n", "t.yaml:1: [0].targets: expected a sequence, got a scalar"},
        {"- targets: [a\n", "t.yaml:2: yaml: did not find expected ',' or ']' while parsing a flow sequence"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(bad[i].yaml, "t.yaml", &a, &g, &n) == FLINT_EINVAL, "case %zu", i);
        if (strcmp(flint_errmsg(), bad[i].msg) != 0) fprintf(stderr, "yaml case %zu: got %s\n", i, flint_errmsg());
        ck_assert_str_eq(flint_errmsg(), bad[i].msg);
    }
    ck_assert_int_eq(parse("[]", "t.txt", &a, &g, &n), FLINT_EINVAL);
    ck_assert_str_eq(flint_errmsg(), "t.txt: invalid file extension: \".txt\"");
    scrape_arena_free(&a);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *content) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

START_TEST(test_filesd_glob_refresh_and_changes) {
    const char *dir = tu_tmpdir();
    char sub[512], p1[512], p2[512], p3[512];
    snprintf(sub, sizeof sub, "%s/sd", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_file(sub, "b.json", "[{\"targets\": [\"b:1\"]}]");
    write_file(sub, "a.json", "[{\"targets\": [\"a:1\", \"a:2\"]}, {\"targets\": [\"a:3\"]}]");
    write_file(sub, "bad.json", "[{\"targets\": 1}]");
    write_file(sub, "c.yml", "- targets: [c:1]\n");
    snprintf(p1, sizeof p1, "%s/sd/*.json", dir);
    snprintf(p2, sizeof p2, "%s/sd/c.yml", dir);
    snprintf(p3, sizeof p3, "%s/sd/a.json", dir); /* overlaps p1: listed once */
    char *files[] = {p1, p2, p3, "/nonexistent/*.json"};
    scrape_file_sd cfg = {files, 4, 300000};

    filesd_snapshot s1, s2;
    ck_assert_int_eq(filesd_refresh(&cfg, &s1), 0);
    ck_assert_uint_eq(s1.nfiles, 4);
    ck_assert(strstr(s1.files[0].path, "/sd/a.json") != NULL);
    ck_assert_uint_eq(s1.files[0].ngroups, 2);
    ck_assert_str_eq(s1.files[0].groups[0].labels[0].value, s1.files[0].path);
    ck_assert(strstr(s1.files[1].path, "/sd/b.json") != NULL);
    ck_assert_int_eq(s1.files[1].err, 0);
    ck_assert(strstr(s1.files[2].path, "/sd/bad.json") != NULL);
    ck_assert_int_eq(s1.files[2].err, FLINT_EINVAL);
    ck_assert(strstr(s1.files[2].errmsg, "bad.json:1:14: targets: expected an array of strings") != NULL);
    ck_assert_uint_eq(s1.files[2].ngroups, 0);
    ck_assert(strstr(s1.files[3].path, "/sd/c.yml") != NULL);
    ck_assert_uint_eq(s1.files[3].groups[0].ntargets, 1);

    ck_assert_int_eq(filesd_list(&cfg, &s2), 0);
    ck_assert(!filesd_changed(&s1, &s2));
    filesd_snapshot_free(&s2);

    /* rewrite one file with a different size: changed */
    write_file(sub, "b.json", "[{\"targets\": [\"b:1\", \"b:2\"]}]");
    ck_assert_int_eq(filesd_list(&cfg, &s2), 0);
    ck_assert(filesd_changed(&s1, &s2));
    ck_assert(!filesd_file_changed(&s1.files[0], &s2.files[0]));
    ck_assert(filesd_file_changed(&s1.files[1], &s2.files[1]));
    filesd_snapshot_free(&s2);

    /* a removed file: changed */
    snprintf(p3, sizeof p3, "%s/sd/c.yml", dir);
    ck_assert_int_eq(unlink(p3), 0);
    ck_assert_int_eq(filesd_list(&cfg, &s2), 0);
    ck_assert_uint_eq(s2.nfiles, 3);
    ck_assert(filesd_changed(&s1, &s2));
    filesd_snapshot_free(&s2);
    filesd_snapshot_free(&s1);
    filesd_snapshot_free(&s1); /* idempotent */

    scrape_arena a;
    scrape_arena_init(&a);
    scrape_target_group *g;
    size_t n;
    ck_assert_int_eq(filesd_read_file("/nonexistent/x.json", &a, &g, &n), FLINT_ENOTFOUND);
    ck_assert_str_eq(flint_errmsg(), "open /nonexistent/x.json: No such file or directory");
    scrape_arena_free(&a);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_filesd_oom) {
    const char *json = "[{\"targets\": [\"a:1\", \"b:2\", \"c:3\", \"d:4\", \"e:5\"], \"labels\": {\"a\": \"1\", \"b\": "
                       "\"2\", \"c\": \"3\", \"d\": \"4\", \"e\": \"5\"}}, {\"targets\": [\"x\"]}]";
    const char *yaml = "- targets: [a, b, c]\n  labels: {x: y, z: w}\n- targets: [d]\n";
    const char *inputs[][2] = {{json, "f.json"}, {yaml, "f.yml"}};
    for (size_t k = 0; k < 2; k++) {
        bool done = false;
        for (long fail = 0; fail < 500 && !done; fail++) {
            scrape_arena a;
            scrape_arena_init(&a);
            scrape_target_group *g;
            size_t n;
            fl_fault_fail_after(fail);
            int rc = parse(inputs[k][0], inputs[k][1], &a, &g, &n);
            fl_fault_reset();
            ck_assert_msg(rc == 0 || rc == FLINT_ENOMEM, "%s fail=%ld rc=%d", inputs[k][1], fail, rc);
            if (rc == 0) {
                ck_assert_uint_eq(n, 2);
                done = true;
            }
            scrape_arena_free(&a);
        }
        ck_assert(done);
    }
}
END_TEST

Suite *filesd_suite(void) {
    Suite *s = suite_create("filesd");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_filesd_json);
    tcase_add_test(tc, test_filesd_json_errors);
    tcase_add_test(tc, test_filesd_yaml);
    tcase_add_test(tc, test_filesd_glob_refresh_and_changes);
    tcase_add_test(tc, test_filesd_oom);
    suite_add_tcase(s, tc);
    return s;
}
