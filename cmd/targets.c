/*
 * targets.c - turns a loaded prometheus.yml into the scrape manager's target
 * list: for every job and every static target, Prometheus' target label
 * processing (scrape/populate.h), then the request settings (limits, auth
 * headers from inline or file credentials, TLS files) in a
 * scrape_target_spec. Used at start, on reload and when file_sd files
 * change (target_discovery: the server polls it every few seconds).
 */
#include "cmd/targets.h"
#include "scrape/populate.h"
#include "scrape/relabel.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct target_owned {
    labels_builder discovered, final;
    char *url;
    label *labels;
    char *headers[1];
    char *basic_password;
} target_owned;

struct target_list {
    scrape_target_spec *specs;
    target_owned *own;
    size_t n, cap;
};

/* A credentials file's content without its trailing newline; NULL on error
 * (logged). */
static char *read_secret(const char *path, const char *what, const char *job) {
    char *data;
    size_t n;
    if (fio_read_file(path, &data, &n)) {
        flint_log(FLINT_LOG_ERROR, "scrape", "cannot read credentials file", "job=%s key=%s err=\"%s\"", job, what,
                  flint_errmsg());
        return NULL;
    }
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r')) data[--n] = 0;
    return data;
}

static int add_target(target_list *tl, const scrape_job *job, const scrape_target_group *g, size_t k,
                      relabel_scratch *rs) {
    if (fl_grow((void **)&tl->specs, &tl->cap, tl->n + 1, sizeof *tl->specs)) return FLINT_ENOMEM;
    size_t cap2 = tl->cap;
    target_owned *own = fl_realloc(tl->own, cap2 * sizeof *own);
    if (!own) return FLINT_ENOMEM;
    tl->own = own;
    target_owned *o = &tl->own[tl->n];
    memset(o, 0, sizeof *o);
    lb_init(&o->discovered);
    lb_init(&o->final);
    scrape_target_info info;
    int rc = scrape_target_from_group(job, g, k, rs, &o->discovered, &o->final, &info);
    if (rc <= 0) {
        if (rc < 0)
            flint_log(FLINT_LOG_WARN, "scrape", "dropping target", "job=%s target=%s err=\"%s\"", job->job_name,
                      g->targets[k], flint_errmsg());
        lb_free(&o->discovered);
        lb_free(&o->final);
        return rc == FLINT_ENOMEM ? rc : 0;
    }
    /* the final labels' strings live in the relabel scratch: copy them */
    o->url = fl_strdup(info.url);
    o->labels = fl_calloc(o->final.n ? o->final.n : 1, sizeof *o->labels);
    if (!o->url || !o->labels) return FLINT_ENOMEM;
    for (size_t i = 0; i < o->final.n; i++) {
        o->labels[i].name = fl_strdup(o->final.v[i].name);
        o->labels[i].value = fl_strdup(o->final.v[i].value);
        if (!o->labels[i].name || !o->labels[i].value) return FLINT_ENOMEM;
    }
    scrape_target_spec *s = &tl->specs[tl->n];
    memset(s, 0, sizeof *s);
    s->url = o->url;
    s->labels = o->labels;
    s->nlabels = o->final.n;
    s->interval_ms = info.interval_ms;
    s->timeout_ms = info.timeout_ms;
    s->honor_labels = job->honor_labels;
    s->honor_timestamps = job->honor_timestamps;
    s->enable_compression = job->enable_compression;
    s->sample_limit = (uint32_t)job->sample_limit;
    s->label_limit = (uint32_t)job->label_limit;
    s->label_name_length_limit = (uint32_t)job->label_name_length_limit;
    s->label_value_length_limit = (uint32_t)job->label_value_length_limit;
    s->body_size_limit = job->body_size_limit;
    if (job->basic_auth) {
        s->basic_user = job->basic_auth->username ? job->basic_auth->username : "";
        if (job->basic_auth->password_file)
            s->basic_password = o->basic_password =
                read_secret(job->basic_auth->password_file, "basic_auth.password_file", job->job_name);
        else
            s->basic_password = job->basic_auth->password ? job->basic_auth->password : "";
    }
    if (job->authorization) {
        char *cred = job->authorization->credentials_file
                         ? read_secret(job->authorization->credentials_file, "authorization.credentials_file",
                                       job->job_name)
                         : fl_strdup(job->authorization->credentials ? job->authorization->credentials : "");
        if (cred) {
            size_t n = strlen(job->authorization->type) + strlen(cred) + 32;
            o->headers[0] = fl_malloc(n);
            if (o->headers[0]) {
                snprintf(o->headers[0], n, "Authorization: %s %s", job->authorization->type, cred);
                s->headers = (const char *const *)o->headers;
                s->nheaders = 1;
            }
            fl_free(cred);
        }
    }
    s->tls_ca_file = job->tls.ca_file;
    s->tls_cert_file = job->tls.cert_file;
    s->tls_key_file = job->tls.key_file;
    s->tls_insecure_skip_verify = job->tls.insecure_skip_verify;
    s->tls_server_name = job->tls.server_name;
    s->metric_relabel = job->metric_relabel_configs;
    s->nmetric_relabel = job->nmetric_relabel_configs;
    tl->n++;
    return 0;
}

struct target_discovery {
    const scrape_config *cfg;
    filesd_watch *w; /* job by job, file_sd entry by entry */
    const scrape_file_sd **sd;
    size_t *from;    /* index of the watch taken over from `prev`, or SIZE_MAX */
    size_t n;
};

static bool file_sd_equal(const scrape_file_sd *a, const scrape_file_sd *b) {
    if (a->nfiles != b->nfiles) return false;
    for (size_t i = 0; i < a->nfiles; i++)
        if (strcmp(a->files[i], b->files[i]) != 0) return false;
    return true;
}

int target_discovery_new(const scrape_config *cfg, target_discovery *prev, target_discovery **out) {
    *out = NULL;
    target_discovery *d = fl_calloc(1, sizeof *d);
    if (!d) return FLINT_ENOMEM;
    d->cfg = cfg;
    size_t n = 0;
    for (size_t j = 0; j < cfg->njobs; j++) n += cfg->jobs[j].nfile_sd;
    d->n = n;
    if (n && (!(d->w = fl_calloc(n, sizeof *d->w)) || !(d->sd = fl_calloc(n, sizeof *d->sd)) ||
              !(d->from = fl_calloc(n, sizeof *d->from)))) {
        target_discovery_free(d);
        return FLINT_ENOMEM;
    }
    size_t i = 0;
    for (size_t j = 0; j < cfg->njobs; j++)
        for (size_t k = 0; k < cfg->jobs[j].nfile_sd; k++, i++) {
            d->sd[i] = &cfg->jobs[j].file_sd[k];
            d->from[i] = SIZE_MAX;
            filesd_watch_init(&d->w[i]);
            /* the same files as before: keep what was read (a broken
             * file's previous targets too), as Prometheus keeps a
             * discovery provider whose configuration did not change */
            for (size_t p = 0; prev && p < prev->n; p++)
                if (prev->w[p].files && file_sd_equal(prev->sd[p], d->sd[i])) {
                    d->w[i] = prev->w[p];
                    filesd_watch_init(&prev->w[p]);
                    d->from[i] = p;
                    break;
                }
        }
    bool changed;
    int rc = target_discovery_poll(d, &changed);
    if (rc) {
        target_discovery_giveback(d, prev);
        target_discovery_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void target_discovery_giveback(target_discovery *d, target_discovery *prev) {
    for (size_t i = 0; d && prev && i < d->n; i++)
        if (d->from[i] != SIZE_MAX) {
            prev->w[d->from[i]] = d->w[i];
            filesd_watch_init(&d->w[i]);
            d->from[i] = SIZE_MAX;
        }
}

int target_discovery_poll(target_discovery *d, bool *changed) {
    *changed = false;
    for (size_t i = 0; i < d->n; i++) {
        bool c;
        int rc = filesd_watch_poll(&d->w[i], d->sd[i], &c);
        if (rc) return rc;
        *changed |= c;
    }
    return 0;
}

void target_discovery_free(target_discovery *d) {
    if (!d) return;
    for (size_t i = 0; d->w && i < d->n; i++) filesd_watch_free(&d->w[i]);
    fl_free(d->w);
    fl_free(d->sd);
    fl_free(d->from);
    fl_free(d);
}

static int add_groups(target_list *tl, const scrape_job *job, const scrape_target_group *groups, size_t ngroups,
                      relabel_scratch *rs) {
    int rc = 0;
    for (size_t g = 0; g < ngroups && rc == 0; g++)
        for (size_t k = 0; k < groups[g].ntargets && rc == 0; k++) {
            rc = add_target(tl, job, &groups[g], k, rs);
            relabel_scratch_reset(rs);
        }
    return rc;
}

int target_list_build(const scrape_config *cfg, const target_discovery *d, target_list **out) {
    target_list *tl = fl_calloc(1, sizeof *tl);
    if (!tl) return FLINT_ENOMEM;
    relabel_scratch rs;
    relabel_scratch_init(&rs);
    int rc = 0;
    size_t wi = 0;
    for (size_t j = 0; j < cfg->njobs && rc == 0; j++) {
        const scrape_job *job = &cfg->jobs[j];
        rc = add_groups(tl, job, job->static_groups, job->nstatic_groups, &rs);
        for (size_t k = 0; k < job->nfile_sd && rc == 0; k++, wi++) {
            if (!d) continue;
            const filesd_watch *w = &d->w[wi];
            for (size_t f = 0; f < w->nfiles && rc == 0; f++)
                rc = add_groups(tl, job, w->files[f].f.groups, w->files[f].f.ngroups, &rs);
        }
    }
    relabel_scratch_free(&rs);
    /* specs[i].headers points at own[i].headers, and own moved each time
     * it grew: point every spec at its entry's final place */
    for (size_t i = 0; i < tl->n; i++)
        if (tl->specs[i].nheaders) tl->specs[i].headers = (const char *const *)tl->own[i].headers;
    if (rc) {
        target_list_free(tl);
        return rc;
    }
    *out = tl;
    return 0;
}

const scrape_target_spec *target_list_specs(const target_list *tl, size_t *n) {
    *n = tl->n;
    return tl->specs;
}

void target_list_free(target_list *tl) {
    if (!tl) return;
    for (size_t i = 0; i < tl->n; i++) {
        target_owned *o = &tl->own[i];
        for (size_t k = 0; k < o->final.n; k++) {
            fl_free((char *)o->labels[k].name);
            fl_free((char *)o->labels[k].value);
        }
        fl_free(o->labels);
        fl_free(o->url);
        fl_free(o->headers[0]);
        fl_free(o->basic_password);
        lb_free(&o->discovered);
        lb_free(&o->final);
    }
    fl_free(tl->specs);
    fl_free(tl->own);
    fl_free(tl);
}
