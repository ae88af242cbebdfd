/*
 * fuzz_config.c - libFuzzer target for the scrape configuration front end:
 * every input goes through the prometheus.yml reader and through both
 * file_sd parsers (JSON and YAML). Parsers must either fail with a
 * positioned message or succeed; a parsed configuration must compare equal
 * to itself job by job, and its static targets must go through target
 * label processing without crashing.
 */
#include "scrape/config.h"
#include "scrape/filesd.h"
#include "scrape/populate.h"
#include "storage/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *arg, const char *msg) {
    (void)arg;
    if (!*msg) abort();
}

static void check_error(int rc) {
    if (rc == FLINT_EINVAL && flint_errmsg()[0] == 0) abort();
    if (rc != 0 && rc != FLINT_EINVAL && rc != FLINT_ENOMEM) abort();
}

static void targets(const scrape_config *c) {
    relabel_scratch s;
    relabel_scratch_init(&s);
    labels_builder d, f;
    lb_init(&d);
    lb_init(&f);
    for (size_t j = 0; j < c->njobs; j++) {
        const scrape_job *job = &c->jobs[j];
        if (!scrape_job_equal(job, job)) abort();
        for (size_t g = 0; g < job->nstatic_groups; g++) {
            for (size_t t = 0; t < job->static_groups[g].ntargets && t < 16; t++) {
                scrape_target_info info;
                int rc = scrape_target_from_group(job, &job->static_groups[g], t, &s, &d, &f, &info);
                if (rc == 1 && (!info.url || info.interval_ms <= 0 || info.timeout_ms > info.interval_ms)) abort();
                if (rc < 0) check_error(rc);
                relabel_scratch_reset(&s);
            }
        }
    }
    lb_free(&d);
    lb_free(&f);
    relabel_scratch_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    scrape_config *c = NULL;
    int rc = scrape_config_parse(text, size, "/etc/fuzz/prometheus.yml", &c, quiet, NULL);
    check_error(rc);
    if (rc == 0) {
        targets(c);
        scrape_config_free(c);
    } else if (c) {
        abort();
    }
    static const char *const names[] = {"sd/targets.json", "sd/targets.yml"};
    for (size_t k = 0; k < 2; k++) {
        scrape_arena a;
        scrape_arena_init(&a);
        scrape_target_group *g;
        size_t n;
        rc = filesd_parse(text, size, names[k], &a, &g, &n);
        check_error(rc);
        if (rc == 0) {
            for (size_t i = 0; i < n; i++) {
                /* every group carries __meta_filepath, labels sorted and unique */
                labels l = scrape_group_labels(&g[i]);
                if (!labels_get(&l, "__meta_filepath")) abort();
                for (size_t j = 1; j < l.n; j++)
                    if (strcmp(l.v[j - 1].name, l.v[j].name) >= 0) abort();
            }
        }
        scrape_arena_free(&a);
    }
    return 0;
}
