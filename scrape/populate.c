/*
 * populate.c - target labels and scrape URL (see populate.h), after
 * Prometheus 3's scrape.PopulateDiscoveredLabels / PopulateLabels and
 * Target.URL, including Go's net/url escaping rules for host, path and
 * query so the URL (and the targets page) match Prometheus byte for byte.
 */
#include "scrape/populate.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAM_PREFIX "__param_"
#define META_PREFIX "__meta_"

static int set_if_absent(labels_builder *lb, const char *name, const char *value) {
    if (relabel_lb_get(lb, name)) return 0;
    return lb_set(lb, name, value);
}

static const char *fmt_duration(scrape_arena *a, int64_t ms) {
    char buf[64];
    size_t n = duration_format(ms, buf, sizeof buf);
    return scrape_arena_strndup(a, buf, n < sizeof buf ? n : sizeof buf - 1);
}

/* ---- Go net/url escaping ----------------------------------------------------------- */

enum { ESC_HOST, ESC_PATH, ESC_QUERY };

static bool should_escape(unsigned char c, int mode) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return false;
    if (mode == ESC_HOST && c && strchr("!$&'()*+,;=:[]<>\"", c)) return false;
    if (c == '-' || c == '_' || c == '.' || c == '~') return false;
    if (c && strchr("$&+,/:;=?@", c)) {
        if (mode == ESC_PATH) return c == '?';
        if (mode == ESC_QUERY) return true;
    }
    return true;
}

typedef struct ubuf {
    char *p;
    size_t len, cap;
} ubuf;

static int ub_put(ubuf *b, const char *s, size_t n) {
    if (fl_grow((void **)&b->p, &b->cap, b->len + n + 1, 1)) return FLINT_ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int ub_escape(ubuf *b, const char *s, int mode) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!should_escape(c, mode)) {
            if (ub_put(b, s, 1)) return FLINT_ENOMEM;
        } else if (c == ' ' && mode == ESC_QUERY) {
            if (ub_put(b, "+", 1)) return FLINT_ENOMEM;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (ub_put(b, e, 3)) return FLINT_ENOMEM;
        }
    }
    return 0;
}

typedef struct qparam {
    const char *key;
    const char *first;        /* replaced first value, or NULL */
    char *const *values;      /* from the job config */
    size_t nvalues;
} qparam;

static int qparam_cmp(const void *a, const void *b) {
    return strcmp(((const qparam *)a)->key, ((const qparam *)b)->key);
}

/* url.Values.Encode over the job's params overridden by __param_* labels. */
static int encode_query(ubuf *b, const scrape_job *job, const labels_builder *lb) {
    size_t cap = job->nparams + lb->n;
    qparam *q = fl_calloc(cap ? cap : 1, sizeof *q);
    if (!q) return FLINT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < job->nparams; i++)
        q[n++] = (qparam){job->params[i].name, NULL, job->params[i].values, job->params[i].nvalues};
    for (size_t i = 0; i < lb->n; i++) {
        if (strncmp(lb->v[i].name, PARAM_PREFIX, strlen(PARAM_PREFIX)) != 0) continue;
        const char *key = lb->v[i].name + strlen(PARAM_PREFIX);
        size_t k;
        for (k = 0; k < n && strcmp(q[k].key, key) != 0; k++) {
        }
        if (k == n) q[n++] = (qparam){key, NULL, NULL, 0};
        q[k].first = lb->v[i].value;
    }
    qsort(q, n, sizeof *q, qparam_cmp);
    int rc = 0;
    bool any = false;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t nv = q[i].nvalues ? q[i].nvalues : (q[i].first ? 1 : 0);
        for (size_t v = 0; v < nv && !rc; v++) {
            const char *val = v == 0 && q[i].first ? q[i].first : q[i].values[v];
            rc = ub_put(b, any ? "&" : "?", 1);
            if (!rc) rc = ub_escape(b, q[i].key, ESC_QUERY);
            if (!rc) rc = ub_put(b, "=", 1);
            if (!rc) rc = ub_escape(b, val, ESC_QUERY);
            any = true;
        }
    }
    fl_free(q);
    return rc;
}

/* url.URL{Scheme, Host, Path, RawQuery}.String() */
static int build_url(const scrape_job *job, const labels_builder *lb, scrape_arena *a, char **out) {
    const char *scheme = relabel_lb_get(lb, "__scheme__");
    const char *host = relabel_lb_get(lb, "__address__");
    const char *path = relabel_lb_get(lb, "__metrics_path__");
    scheme = scheme ? scheme : "";
    host = host ? host : "";
    path = path ? path : "";
    ubuf b = {0};
    int rc = ub_put(&b, "", 0);
    if (!rc && *scheme) {
        rc = ub_put(&b, scheme, strlen(scheme));
        if (!rc) rc = ub_put(&b, ":", 1);
    }
    if (!rc && (*scheme || *host) && (*host || *path)) rc = ub_put(&b, "//", 2);
    if (!rc) rc = ub_escape(&b, host, ESC_HOST);
    if (!rc && *path && path[0] != '/' && *host) rc = ub_put(&b, "/", 1);
    if (!rc) rc = ub_escape(&b, path, ESC_PATH);
    if (!rc) rc = encode_query(&b, job, lb);
    if (!rc) {
        *out = scrape_arena_strndup(a, b.p, b.len);
        if (!*out) rc = FLINT_ENOMEM;
    }
    fl_free(b.p);
    return rc;
}

/* ---- PopulateLabels --------------------------------------------------------------------- */

static int parse_label_duration(const labels_builder *lb, const char *name, const char *what, int64_t *ms) {
    const char *v = relabel_lb_get(lb, name);
    if (!v) v = "";
    if (duration_parse(v, strlen(v), ms)) {
        char why[256]; /* flint_errmsg() is the buffer flint_error writes */
        snprintf(why, sizeof why, "%s", flint_errmsg());
        return flint_error(FLINT_EINVAL, "error parsing scrape %s: %s", what, why);
    }
    if (*ms == 0) return flint_error(FLINT_EINVAL, "scrape %s cannot be 0", what);
    return 0;
}

int scrape_target_labels(const scrape_job *job, const labels *target_labels, const labels *group_labels,
                         relabel_scratch *s, labels_builder *discovered, labels_builder *final,
                         scrape_target_info *info) {
    lb_reset(discovered);
    lb_reset(final);
    memset(info, 0, sizeof *info);
    int rc = 0;
    for (size_t i = 0; i < target_labels->n && !rc; i++)
        rc = lb_set(discovered, target_labels->v[i].name, target_labels->v[i].value);
    for (size_t i = 0; group_labels && i < group_labels->n && !rc; i++)
        if (!labels_get(target_labels, group_labels->v[i].name))
            rc = lb_set(discovered, group_labels->v[i].name, group_labels->v[i].value);
    if (rc) return rc;
    const char *interval = fmt_duration(&s->arena, job->scrape_interval_ms);
    const char *timeout = fmt_duration(&s->arena, job->scrape_timeout_ms);
    if (!interval || !timeout) return FLINT_ENOMEM;
    if (set_if_absent(discovered, "job", job->job_name) ||
        set_if_absent(discovered, "__scrape_interval__", interval) ||
        set_if_absent(discovered, "__scrape_timeout__", timeout) ||
        set_if_absent(discovered, "__metrics_path__", job->metrics_path) ||
        set_if_absent(discovered, "__scheme__", job->scheme))
        return FLINT_ENOMEM;
    for (size_t i = 0; i < job->nparams; i++) {
        if (job->params[i].nvalues == 0) continue;
        size_t nl = strlen(job->params[i].name);
        char *name = scrape_arena_alloc(&s->arena, sizeof PARAM_PREFIX + nl);
        if (!name) return FLINT_ENOMEM;
        memcpy(name, PARAM_PREFIX, sizeof PARAM_PREFIX - 1);
        memcpy(name + sizeof PARAM_PREFIX - 1, job->params[i].name, nl + 1);
        if (set_if_absent(discovered, name, job->params[i].values[0])) return FLINT_ENOMEM;
    }
    rc = lb_sort(discovered);
    if (rc) return rc;

    for (size_t i = 0; i < discovered->n; i++)
        if (lb_add(final, discovered->v[i].name, discovered->v[i].value)) return FLINT_ENOMEM;
    bool keep;
    rc = relabel_process(job->relabel_configs, job->nrelabel_configs, final, s, &keep);
    if (rc) return rc;
    if (!keep) {
        lb_reset(final);
        return 0;
    }
    const char *addr = relabel_lb_get(final, "__address__");
    if (!addr || !*addr) return flint_error(FLINT_EINVAL, "no address");
    if (strchr(addr, '/')) return flint_error(FLINT_EINVAL, "\"%s\" is not a valid hostname", addr);
    rc = parse_label_duration(final, "__scrape_interval__", "interval", &info->interval_ms);
    if (rc == 0) rc = parse_label_duration(final, "__scrape_timeout__", "timeout", &info->timeout_ms);
    if (rc) return rc;
    if (info->timeout_ms > info->interval_ms)
        return flint_error(FLINT_EINVAL, "scrape timeout cannot be greater than scrape interval (\"%s\" > \"%s\")",
                           relabel_lb_get(final, "__scrape_timeout__"), relabel_lb_get(final, "__scrape_interval__"));
    rc = build_url(job, final, &s->arena, &info->url);
    if (rc) return rc;

    if (!relabel_lb_get(final, "instance") && lb_set(final, "instance", addr)) return FLINT_ENOMEM;
    for (size_t i = 0; i < final->n; i++) {
        const char *v = final->v[i].value;
        if (!utf8_valid(v, strlen(v)))
            return flint_error(FLINT_EINVAL, "invalid label value for \"%s\": \"%s\"", final->v[i].name, v);
    }
    /* meta labels go after relabelling; other internal labels only served
     * to build the URL and schedule: the public set has no `__` names */
    size_t w = 0;
    for (size_t i = 0; i < final->n; i++)
        if (strncmp(final->v[i].name, "__", 2) != 0) final->v[w++] = final->v[i];
    final->n = w;
    rc = lb_sort(final);
    return rc ? rc : 1;
}

int scrape_target_from_group(const scrape_job *job, const scrape_target_group *g, size_t target_index,
                             relabel_scratch *s, labels_builder *discovered, labels_builder *final,
                             scrape_target_info *info) {
    label addr = {"__address__", g->targets[target_index]};
    labels tl = {&addr, 1};
    labels gl = scrape_group_labels(g);
    return scrape_target_labels(job, &tl, &gl, s, discovered, final, info);
}
