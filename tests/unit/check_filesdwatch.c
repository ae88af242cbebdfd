/*
 * check_filesdwatch.c - filesd_watch, what the server polls for
 * file_sd_configs: new, changed, renamed-over and removed files, glob
 * re-expansion, and a broken file keeping its previous groups (Prometheus'
 * file discovery behaviour); OOM leaves the watch as it was.
 */
#include "scrape/filesd.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text) {
    char tmp[512], path[512];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, path), 0); /* a new inode each time: never missed */
}

/* Targets of every group of the file named `name` (suffix), "" when none. */
static const char *targets_of(const filesd_watch *w, const char *name) {
    static char out[512];
    out[0] = 0;
    for (size_t i = 0; i < w->nfiles; i++) {
        const char *p = w->files[i].f.path;
        if (strcmp(p + strlen(p) - strlen(name), name) != 0) continue;
        for (size_t g = 0; g < w->files[i].f.ngroups; g++)
            for (size_t k = 0; k < w->files[i].f.groups[g].ntargets; k++)
                snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", out[0] ? "," : "",
                         w->files[i].f.groups[g].targets[k]);
    }
    return out;
}

static const filesd_file *file_named(const filesd_watch *w, const char *name) {
    for (size_t i = 0; i < w->nfiles; i++) {
        const char *p = w->files[i].f.path;
        if (strcmp(p + strlen(p) - strlen(name), name) == 0) return &w->files[i].f;
    }
    return NULL;
}

START_TEST(test_filesdwatch_changes) {
    const char *dir = tu_tmpdir();
    char pattern[512];
    snprintf(pattern, sizeof pattern, "%s/*.json", dir);
    char *files[] = {pattern};
    scrape_file_sd cfg = {.files = files, .nfiles = 1, .refresh_interval_ms = 300000};
    filesd_watch w;
    filesd_watch_init(&w);
    bool changed = true;
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0); /* nothing matches yet */
    ck_assert(!changed);
    ck_assert_uint_eq(w.nfiles, 0);

    put(dir, "a.json", "[{\"targets\": [\"a:1\", \"a:2\"]}]");
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(changed);
    ck_assert_str_eq(targets_of(&w, "a.json"), "a:1,a:2");
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(!changed); /* same stat: not read again */

    put(dir, "b.json", "[{\"targets\": [\"b:1\"], \"labels\": {\"env\": \"x\"}}]"); /* the glob again */
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(changed);
    ck_assert_uint_eq(w.nfiles, 2);
    ck_assert_str_eq(targets_of(&w, "b.json"), "b:1");

    /* broken: the previous groups stay, the error is recorded */
    put(dir, "a.json", "[{\"targets\": [\"a:1\", ");
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(!changed);
    ck_assert_str_eq(targets_of(&w, "a.json"), "a:1,a:2");
    const filesd_file *fa = file_named(&w, "a.json");
    ck_assert_int_eq(fa->err, FLINT_EINVAL);
    ck_assert_msg(strstr(fa->errmsg, "a.json"), "%s", fa->errmsg);
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0); /* not read again until it changes */
    ck_assert(!changed);
    ck_assert_int_eq(file_named(&w, "a.json")->err, FLINT_EINVAL);

    /* fixed */
    put(dir, "a.json", "[{\"targets\": [\"a:3\"]}]");
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(changed);
    ck_assert_str_eq(targets_of(&w, "a.json"), "a:3");
    ck_assert_int_eq(file_named(&w, "a.json")->err, 0);
    ck_assert_ptr_null(file_named(&w, "a.json")->errmsg);

    /* a new broken file: no groups, no change; removing b: change */
    put(dir, "c.json", "{");
    char pb[512];
    snprintf(pb, sizeof pb, "%s/b.json", dir);
    ck_assert_int_eq(unlink(pb), 0);
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(changed);
    ck_assert_uint_eq(w.nfiles, 2);
    ck_assert_ptr_null(file_named(&w, "b.json"));
    ck_assert_str_eq(targets_of(&w, "c.json"), "");
    ck_assert_int_ne(file_named(&w, "c.json")->err, 0);
    put(dir, "d.json", "{");
    ck_assert_int_eq(filesd_watch_poll(&w, &cfg, &changed), 0);
    ck_assert(!changed); /* another broken new file changes no target */

    /* OOM at every allocation of a poll: the watch stays as it was */
    put(dir, "a.json", "[{\"targets\": [\"a:4\", \"a:5\"]}]");
    int rc = FLINT_ENOMEM;
    for (long nth = 0; rc == FLINT_ENOMEM && nth < 1000; nth++) {
        fl_fault_fail_after(nth);
        rc = filesd_watch_poll(&w, &cfg, &changed);
        fl_fault_reset();
        if (rc == FLINT_ENOMEM) ck_assert_str_eq(targets_of(&w, "a.json"), "a:3");
    }
    ck_assert_int_eq(rc, 0);
    ck_assert(changed);
    ck_assert_str_eq(targets_of(&w, "a.json"), "a:4,a:5");
    filesd_watch_free(&w);
    filesd_watch_free(&w); /* freed twice: a no-op */
    tu_tmpdir_cleanup();
}
END_TEST

Suite *filesdwatch_suite(void) {
    Suite *s = suite_create("filesdwatch");
    TCase *tc = tcase_create("filesdwatch");
    tcase_add_test(tc, test_filesdwatch_changes);
    suite_add_tcase(s, tc);
    return s;
}
