/*
 * check.c - `flint check config` (see check.h): promtool's checkConfig over
 * flint's configuration reader, target label processing and file_sd parser.
 */
#include "scrape/check.h"
#include "scrape/config.h"
#include "scrape/filesd.h"
#include "scrape/populate.h"
#include "storage/err.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

static void print_warning(void *arg, const char *msg) { fprintf((FILE *)arg, "  WARNING: %s\n", msg); }

/* Go's os.Stat error text: "stat PATH: no such file or directory". */
static int file_missing(const char *path, char *err, size_t cap) {
    struct stat st;
    if (!path || stat(path, &st) == 0) return 0;
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(errno));
    reason[0] = (char)tolower((unsigned char)reason[0]);
    snprintf(err, cap, "stat %s: %s", path, reason);
    return 1;
}

static int fail(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(FILE *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "  FAILED: ");
    vfprintf(out, fmt, ap);
    fprintf(out, "\n");
    va_end(ap);
    return 1;
}

/* TargetsFromGroup: the first target that cannot be built is an error. */
static int check_groups(const scrape_job *job, const scrape_target_group *groups, size_t n, relabel_scratch *s,
                        char *err, size_t cap) {
    labels_builder disc, fin;
    lb_init(&disc);
    lb_init(&fin);
    int rc = 0;
    for (size_t g = 0; g < n && !rc; g++) {
        for (size_t t = 0; t < groups[g].ntargets && !rc; t++) {
            scrape_target_info info;
            int r = scrape_target_from_group(job, &groups[g], t, s, &disc, &fin, &info);
            if (r == FLINT_ENOMEM) {
                snprintf(err, cap, "out of memory");
                rc = 1;
            } else if (r < 0) {
                snprintf(err, cap, "instance %zu in group %s: %s", t, groups[g].source, flint_errmsg());
                rc = 1;
            }
            relabel_scratch_reset(s);
        }
    }
    lb_free(&disc);
    lb_free(&fin);
    return rc;
}

static int check_job(const scrape_job *j, FILE *out, relabel_scratch *s) {
    char err[1024];
    if (j->authorization && file_missing(j->authorization->credentials_file, err, sizeof err))
        return fail(out, "error checking authorization credentials or bearer token file \"%s\": %s",
                    j->authorization->credentials_file, err);
    if (j->basic_auth && file_missing(j->basic_auth->password_file, err, sizeof err))
        return fail(out, "error checking basic_auth password file \"%s\": %s", j->basic_auth->password_file, err);
    if (j->basic_auth && file_missing(j->basic_auth->username_file, err, sizeof err))
        return fail(out, "error checking basic_auth username file \"%s\": %s", j->basic_auth->username_file, err);
    if (file_missing(j->tls.cert_file, err, sizeof err))
        return fail(out, "error checking client cert file \"%s\": %s", j->tls.cert_file, err);
    if (file_missing(j->tls.key_file, err, sizeof err))
        return fail(out, "error checking client key file \"%s\": %s", j->tls.key_file, err);
    if (file_missing(j->tls.ca_file, err, sizeof err))
        return fail(out, "error checking CA file \"%s\": %s", j->tls.ca_file, err);

    for (size_t f = 0; f < j->nfile_sd; f++) {
        for (size_t p = 0; p < j->file_sd[f].nfiles; p++) {
            const char *pattern = j->file_sd[f].files[p];
            glob_t g;
            int grc = glob(pattern, 0, NULL, &g);
            if (grc != 0 || g.gl_pathc == 0) {
                if (grc == 0) globfree(&g);
                fprintf(out, "  WARNING: file \"%s\" for file_sd in scrape job \"%s\" does not exist\n", pattern,
                        j->job_name);
                continue;
            }
            int rc = 0;
            for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
                scrape_arena a;
                scrape_arena_init(&a);
                scrape_target_group *groups;
                size_t n;
                if (filesd_read_file(g.gl_pathv[i], &a, &groups, &n) != 0)
                    rc = fail(out, "checking SD file \"%s\": %s", pattern, flint_errmsg());
                else if (check_groups(j, groups, n, s, err, sizeof err))
                    rc = fail(out, "%s", err);
                scrape_arena_free(&a);
            }
            globfree(&g);
            if (rc) return rc;
        }
    }
    if (check_groups(j, j->static_groups, j->nstatic_groups, s, err, sizeof err)) return fail(out, "%s", err);
    return 0;
}

int scrape_check_config(const char *path, FILE *out) {
    fprintf(out, "Checking %s\n", path);
    scrape_config *c;
    if (scrape_config_load(path, &c, print_warning, out) != 0) {
        fprintf(out, "  FAILED: %s\n\n", flint_errmsg());
        return 1;
    }
    int rc = 0;
    char err[1024];
    for (size_t i = 0; i < c->nrule_files && !rc; i++) {
        const char *rf = c->rule_files[i];
        if (strchr(rf, '*')) continue;
        if (file_missing(rf, err, sizeof err)) rc = fail(out, "\"%s\" does not point to an existing file", rf);
    }
    relabel_scratch s;
    relabel_scratch_init(&s);
    for (size_t i = 0; i < c->njobs && !rc; i++) rc = check_job(&c->jobs[i], out, &s);
    relabel_scratch_free(&s);
    if (!rc) {
        fprintf(out, "  SUCCESS: %zu scrape configs found\n", c->njobs);
        fprintf(out, " SUCCESS: %s is valid prometheus config file syntax\n", path);
    }
    fprintf(out, "\n");
    scrape_config_free(c);
    return rc;
}
