/*
 * main.c - the Check runner: every tests/unit/check_<module>.c contributes
 * `Suite *<module>_suite(void)`, listed by the Makefile in build/gen/suites.h.
 * Usage: check_flint [SUITE...]  (no argument: all suites). Fork mode, so a
 * crashing test is reported as an error and the run goes on.
 */
#include "storage/log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

typedef struct {
    const char *name;
    Suite *(*make)(void);
} suite_entry;

static const suite_entry all_suites[] = {
#define SUITE(name) {#name, name##_suite},
#include "suites.h"
#undef SUITE
    {NULL, NULL}};

int main(int argc, char **argv) {
    /* tests provoke warnings on purpose; FLINT_TEST_LOG=debug shows them */
    const char *lvl = getenv("FLINT_TEST_LOG");
    flint_log_set_level(lvl && flint_log_level_parse(lvl) >= 0 ? flint_log_level_parse(lvl) : FLINT_LOG_ERROR);
    SRunner *sr = NULL;
    int added = 0;
    for (const suite_entry *e = all_suites; e->name; e++) {
        int want = argc < 2;
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], e->name) == 0) want = 1;
        if (!want) continue;
        if (!sr) sr = srunner_create(e->make());
        else srunner_add_suite(sr, e->make());
        added++;
    }
    if (!sr) {
        fprintf(stderr, "no such suite\n");
        return 2;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    int run = srunner_ntests_run(sr);
    srunner_free(sr);
    printf("unit: %d passed, %d failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
