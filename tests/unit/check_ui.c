/*
 * check_ui.c - the embedded web UI (web/ui.c): which paths it answers, with
 * what status, type and caching, and that the generated asset table holds
 * what the HTML links to.
 */
#include "web/ui.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

START_TEST(test_ui_root_redirects) {
    ui_reply r;
    ck_assert(ui_serve("/", NULL, &r));
    ck_assert_uint_eq(r.status, 302);
    ck_assert_str_eq(r.location, "/graph");
}
END_TEST

START_TEST(test_ui_pages_are_the_html) {
    static const char *pages[] = {"/graph", "/query", "/targets", "/status"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        ui_reply r;
        ck_assert_msg(ui_serve(pages[i], "g0.expr=up", &r), "%s", pages[i]);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.content_type, "text/html; charset=utf-8");
        ck_assert_str_eq(r.cache_control, "no-cache");
        ck_assert_ptr_null(r.location);
        ck_assert(r.len > 0 && memmem(r.body, r.len, "id=\"app\"", 8) != NULL);
        /* The version placeholder was replaced by the checksum. */
        ck_assert(memmem(r.body, r.len, "@UI_VERSION@", 12) == NULL);
        ck_assert(memmem(r.body, r.len, ui_version, strlen(ui_version)) != NULL);
    }
}
END_TEST

START_TEST(test_ui_assets_typed_and_cached_by_version) {
    char v[64];
    snprintf(v, sizeof v, "x=1&v=%s", ui_version);
    ck_assert_uint_ge(ui_nassets, 5);
    for (size_t i = 0; i < ui_nassets; i++) {
        ui_reply r;
        const char *path = ui_assets[i].path;
        ck_assert(ui_serve(path, v, &r));
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.cache_control, "public, max-age=31536000, immutable");
        ck_assert_uint_eq(r.len, ui_assets[i].len);
        const char *ext = strrchr(path, '.');
        const char *want = !strcmp(ext, ".js")    ? "text/javascript; charset=utf-8"
                           : !strcmp(ext, ".css") ? "text/css; charset=utf-8"
                           : !strcmp(ext, ".svg") ? "image/svg+xml"
                                                  : "text/html; charset=utf-8";
        ck_assert_str_eq(r.content_type, want);
        /* Another version, none, or the version as a prefix: revalidate. */
        static const char *other[] = {NULL, "", "v=0", "vv=1"};
        for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
            ck_assert(ui_serve(path, other[k], &r));
            ck_assert_str_eq(r.cache_control, "no-cache");
        }
    }
    snprintf(v, sizeof v, "v=%s0", ui_version);
    ui_reply r;
    ck_assert(ui_serve("/ui/app.js", v, &r));
    ck_assert_str_eq(r.cache_control, "no-cache");
}
END_TEST

START_TEST(test_ui_unknown_paths) {
    ui_reply r;
    static const char *ui404[] = {"/ui/nope.js", "/ui/app.j", "/ui/app.js/", "/ui/../api/v1/query", "/ui/x/app.js"};
    for (size_t i = 0; i < sizeof ui404 / sizeof ui404[0]; i++) {
        ck_assert_msg(ui_serve(ui404[i], NULL, &r), "%s", ui404[i]);
        ck_assert_uint_eq(r.status, 404);
    }
    static const char *not_ui[] = {"/api/v1/query", "/graph/", "/graphs", "/metrics", "", "/uix"};
    for (size_t i = 0; i < sizeof not_ui / sizeof not_ui[0]; i++)
        ck_assert_msg(!ui_serve(not_ui[i], NULL, &r), "%s", not_ui[i]);
}
END_TEST

Suite *ui_suite(void) {
    Suite *s = suite_create("ui");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ui_root_redirects);
    tcase_add_test(tc, test_ui_pages_are_the_html);
    tcase_add_test(tc, test_ui_assets_typed_and_cached_by_version);
    tcase_add_test(tc, test_ui_unknown_paths);
    suite_add_tcase(s, tc);
    return s;
}
