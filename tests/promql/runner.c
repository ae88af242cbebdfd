/*
 * runner.c - the PromQL conformance runner: executes Prometheus' own test
 * scripts (*.test in $PROMQL_TESTS_DIR, default ../shared/promql-tests)
 * against flint's engine and storage, exactly as that directory's
 * FORMAT.md describes (v3.5.5 rules): load/clear/eval, the @ re-runs and
 * the range-mode cross-check of instant evals, annotation and failure
 * expectations, "almost equal" floats. Evals that eval-index.tsv marks as
 * needing native histograms are skipped; everything else passes or fails.
 *
 *   build/promql-runner [-v] [-f FILE_SUBSTRING] [-l LINE]
 *
 * Prints "file: N passed, N failed, N skipped" per file, failure details
 * with -v, and "promql: N passed, N failed, N skipped" at the end. With
 * --floor N it exits non-zero when fewer than N evals passed.
 */
#include "query/engine.h"
#include "query/literal.h"
#include "query/parse.h"
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "tsdb/db.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static int verbose;
static const char *only_file;
static int only_line;

/* ---- small helpers ------------------------------------------------------------- */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}
static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}
static char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '\v' || *s == '\f') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n' ||
                 s[n - 1] == '\v' || s[n - 1] == '\f'))
        s[--n] = 0;
    return s;
}

/* ---- label sets (owned) ------------------------------------------------------------ */

typedef struct lset {
    label *v;
    size_t n;
} lset;

static int lcmp(const void *a, const void *b) {
    return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

static void lset_set(lset *l, const char *name, size_t nl, const char *value, size_t vl) {
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i].name) == nl && !memcmp(l->v[i].name, name, nl)) {
            free((char *)l->v[i].value);
            l->v[i].value = xstrndup(value, vl);
            return;
        }
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n].name = xstrndup(name, nl);
    l->v[l->n].value = xstrndup(value, vl);
    l->n++;
}

static void lset_free(lset *l) {
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->v[i].name);
        free((char *)l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static labels lset_view(const lset *l) {
    labels r = {l->v, l->n};
    return r;
}

static bool idchar(char c, bool first, bool colon) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* A quoted string at s[*i]; returns the unquoted bytes (malloc). */
static char *parse_quoted(const char *s, size_t *i, size_t *len) {
    char q = s[*i];
    size_t j = *i + 1;
    while (s[j] && s[j] != q) {
        if (s[j] == '\\' && q != '`' && s[j + 1]) j++;
        j++;
    }
    if (s[j] != q) return NULL;
    char *out;
    if (pql_unquote(s + *i, j + 1 - *i, &out, len)) return NULL;
    char *r = xstrndup(out, *len);
    fl_free(out);
    *i = j + 1;
    return r;
}

/* Series description: name{labels}; *i is left after it. */
static bool parse_series(const char *s, size_t *i, lset *out) {
    size_t p = *i;
    while (s[p] == ' ' || s[p] == '\t') p++;
    size_t st = p;
    if (idchar(s[p], true, true)) {
        while (idchar(s[p], false, true)) p++;
        lset_set(out, "__name__", 8, s + st, p - st);
    }
    if (s[p] == '{') {
        p++;
        for (;;) {
            while (s[p] == ' ' || s[p] == '\t') p++;
            if (s[p] == '}') {
                p++;
                break;
            }
            char *name = NULL;
            size_t nl = 0;
            if (s[p] == '"' || s[p] == '\'' || s[p] == '`') {
                name = parse_quoted(s, &p, &nl);
                if (!name) return false;
            } else {
                size_t a = p;
                while (idchar(s[p], p == a, false)) p++;
                if (p == a) return false;
                name = xstrndup(s + a, p - a);
                nl = p - a;
            }
            while (s[p] == ' ' || s[p] == '\t') p++;
            if (s[p] != '=') { /* a lone quoted metric name */
                lset_set(out, "__name__", 8, name, nl);
                free(name);
            } else {
                p++;
                while (s[p] == ' ' || s[p] == '\t') p++;
                size_t vl;
                char *val = parse_quoted(s, &p, &vl);
                if (!val) {
                    free(name);
                    return false;
                }
                lset_set(out, name, nl, val, vl);
                free(name);
                free(val);
            }
            while (s[p] == ' ' || s[p] == '\t') p++;
            if (s[p] == ',') p++;
            else if (s[p] != '}') return false;
        }
    }
    if (p == st) return false;
    if (out->n) qsort(out->v, out->n, sizeof *out->v, lcmp);
    *i = p;
    return true;
}

/* ---- value sequences ---------------------------------------------------------------- */

enum { V_NUM, V_OMIT, V_HIST };
typedef struct vitem {
    int kind;
    double v;
} vitem;
typedef struct vseq {
    vitem *v;
    size_t n, cap;
} vseq;

static void vpush(vseq *s, int kind, double v) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].kind = kind;
    s->v[s->n].v = v;
    s->n++;
}

static bool parse_num(const char *s, size_t n, double *out) {
    char buf[128];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *p = buf;
    if (*p == '+' || *p == '-') p++;
    if (!strcasecmp(p, "inf")) {
        *out = buf[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (!strcasecmp(p, "nan")) {
        *out = NAN;
        return true;
    }
    if (!((*p >= '0' && *p <= '9') || *p == '.')) return false;
    char *end;
    *out = strtod(buf, &end);
    return *end == 0;
}

static bool parse_values(const char *s, vseq *out, bool *has_hist) {
    size_t i = 0;
    for (;;) {
        while (s[i] == ' ' || s[i] == '\t') i++;
        if (!s[i]) return true;
        if (s[i] == '{' && s[i + 1] == '{') {
            *has_hist = true;
            const char *e = strstr(s + i, "}}");
            if (!e) return false;
            i = (size_t)(e - s) + 2;
            if ((s[i] == '+' || s[i] == '-') && s[i + 1] == '{') {
                e = strstr(s + i, "}}");
                if (!e) return false;
                i = (size_t)(e - s) + 2;
            }
            long k = 0;
            if (s[i] == 'x') {
                k = strtol(s + i + 1, NULL, 10);
                i++;
                while (s[i] >= '0' && s[i] <= '9') i++;
            }
            for (long j = 0; j <= k; j++) vpush(out, V_HIST, 0);
            continue;
        }
        size_t a = i;
        while (s[i] && s[i] != ' ' && s[i] != '\t') i++;
        const char *t = s + a;
        size_t n = i - a;
        if (n == 1 && t[0] == '_') {
            vpush(out, V_OMIT, 0);
            continue;
        }
        if (n == 5 && !memcmp(t, "stale", 5)) {
            vpush(out, V_NUM, stale_nan());
            continue;
        }
        /* repetition suffix xK */
        long k = -1;
        size_t base = n;
        for (size_t j = n; j > 0; j--) {
            if (t[j - 1] == 'x') {
                bool digits = j < n;
                for (size_t m = j; m < n; m++) digits &= t[m] >= '0' && t[m] <= '9';
                if (digits) {
                    k = strtol(t + j, NULL, 10);
                    base = j - 1;
                }
                break;
            }
        }
        if (k >= 0 && base == 1 && t[0] == '_') {
            for (long j = 0; j < k; j++) vpush(out, V_OMIT, 0);
            continue;
        }
        if (k < 0) {
            double v;
            if (!parse_num(t, n, &v)) return false;
            vpush(out, V_NUM, v);
            continue;
        }
        /* N or A+B / A-B */
        size_t op = 0;
        for (size_t j = 1; j < base; j++)
            if ((t[j] == '+' || t[j] == '-') && t[j - 1] != 'e' && t[j - 1] != 'E') op = j;
        double a0, b = 0;
        if (op) {
            if (!parse_num(t, op, &a0) || !parse_num(t + op + 1, base - op - 1, &b)) return false;
            if (t[op] == '-') b = -b;
        } else if (!parse_num(t, base, &a0)) {
            return false;
        }
        double v = a0;
        vpush(out, V_NUM, v);
        for (long j = 0; j < k; j++) {
            v += b;
            vpush(out, V_NUM, v);
        }
    }
}

/* ---- durations -------------------------------------------------------------------------- */

static bool parse_dur(const char *s, int64_t *ms) {
    char err[128];
    return pql_parse_duration(s, strlen(s), ms, err, sizeof err) == 0;
}

/* ---- the test file model ---------------------------------------------------------------- */

typedef struct expect_line {
    int type; /* 0 fail 1 warn 2 info 3 no_warn 4 no_info 5 ordered */
    int match; /* 0 any, 1 msg, 2 regex */
    char *text;
} expect_line;

typedef struct exp_series {
    lset l;
    vseq vals;
} exp_series;

typedef struct eval_cmd {
    int line;
    bool range;
    int64_t t, start, end, step;
    char *expr;
    bool fail, warn, info, ordered;
    char *fail_msg, *fail_re;
    expect_line *ex;
    size_t nex;
    bool has_scalar;
    double scalar;
    exp_series *es;
    size_t nes;
    bool has_hist;
    char *bad; /* parse problem of the eval block */
} eval_cmd;

/* ---- database ----------------------------------------------------------------------------- */

typedef struct dbctx {
    char dir[256];
    tsdb *db;
} dbctx;

static int rm_rf(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

static void db_open_fresh(dbctx *d) {
    if (d->db) tsdb_close(d->db);
    d->db = NULL;
    if (d->dir[0]) rm_rf(d->dir);
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/flint-promql-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir)) {
        perror("mkdtemp");
        exit(2);
    }
    tsdb_options o;
    tsdb_options_default(&o);
    o.no_wal = true;
    o.retention_ms = 0;
    o.block_range_ms = INT64_MAX / 8;
    int rc = tsdb_open(d->dir, &o, &d->db);
    if (rc) {
        fprintf(stderr, "tsdb_open %s: %s\n", d->dir, flint_errmsg());
        exit(2);
    }
}

static void db_close(dbctx *d) {
    if (d->db) tsdb_close(d->db);
    d->db = NULL;
    if (d->dir[0]) rm_rf(d->dir);
    d->dir[0] = 0;
}

/* ---- comparing ------------------------------------------------------------------------------ */

static bool almost_equal(double e, double a) {
    bool se = is_stale_nan(e), sa = is_stale_nan(a);
    if (se || sa) return se && sa;
    if (isnan(e) && isnan(a)) return true;
    if (e == a) return true;
    const double minNormal = 2.2250738585072014e-308;
    double absSum = fabs(e) + fabs(a), diff = fabs(e - a);
    if (e == 0 || a == 0 || absSum < minNormal) return diff < 1e-6 * minNormal;
    return diff / fmin(absSum, DBL_MAX) < 1e-6;
}

static bool re_search(const char *pattern, const char *text) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    if (!re) return false;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

static char failmsg[4096];

/* Prefix the current failure message. */
static void fail_prefix(const char *fmt, long long t) {
    char tmp[sizeof failmsg];
    int n = snprintf(tmp, sizeof tmp, fmt, t);
    if (n < 0 || (size_t)n >= sizeof tmp) return;
    size_t rest = sizeof tmp - (size_t)n;
    size_t fl = strnlen(failmsg, rest - 1);
    memcpy(tmp + n, failmsg, fl);
    tmp[(size_t)n + fl] = 0;
    memcpy(failmsg, tmp, sizeof failmsg);
}
static bool failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool failf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failmsg, sizeof failmsg, fmt, ap);
    va_end(ap);
    return false;
}

static const char *lstr(const labels *l) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) & 3;
    labels_format(l, buf[k], sizeof buf[k]);
    return buf[k];
}

static bool match_text(const expect_line *x, const char *text) {
    if (x->match == 1) return strcmp(x->text, text) == 0;
    if (x->match == 2) return re_search(x->text, text);
    return strchr(text, '\n') == NULL;
}

static bool check_annotations(const eval_cmd *e, const pql_result *r) {
    size_t nw = 0, ni = 0;
    for (size_t i = 0; i < r->nannotations; i++) {
        if (r->annotations[i].kind == PQL_ANNO_WARNING) nw++;
        else ni++;
    }
    if (e->warn && !nw) return failf("expected a warning, got none");
    if (e->info && !ni) return failf("expected an info annotation, got none");
    for (int kind = 1; kind <= 2; kind++) {
        pql_anno_kind ak = kind == 1 ? PQL_ANNO_WARNING : PQL_ANNO_INFO;
        size_t nlines = 0;
        for (size_t j = 0; j < e->nex; j++) nlines += e->ex[j].type == kind;
        if (!nlines) continue;
        if ((kind == 1 ? nw : ni) == 0) return failf("expected %s annotations, got none", kind == 1 ? "warn" : "info");
        for (size_t j = 0; j < e->nex; j++) {
            if (e->ex[j].type != kind) continue;
            bool ok = false;
            for (size_t i = 0; i < r->nannotations && !ok; i++)
                ok = r->annotations[i].kind == ak && match_text(&e->ex[j], r->annotations[i].text);
            if (!ok) return failf("no annotation matches expect line %s", e->ex[j].text ? e->ex[j].text : "");
        }
        for (size_t i = 0; i < r->nannotations; i++) {
            if (r->annotations[i].kind != ak) continue;
            bool ok = false;
            for (size_t j = 0; j < e->nex && !ok; j++) ok = e->ex[j].type == kind && match_text(&e->ex[j], r->annotations[i].text);
            if (!ok) return failf("unexpected annotation: %s", r->annotations[i].text);
        }
    }
    for (size_t j = 0; j < e->nex; j++) {
        if (e->ex[j].type == 3 && nw) return failf("unexpected warning: %s", r->annotations[0].text);
        if (e->ex[j].type == 4 && ni) return failf("unexpected info annotation");
    }
    return true;
}

/* Does the error text satisfy the failure expectation? */
static bool check_fail(const eval_cmd *e, const char *msg) {
    if (e->fail_msg && strcmp(e->fail_msg, msg) != 0)
        return failf("expected error %s, got %s", e->fail_msg, msg);
    if (e->fail_re && !re_search(e->fail_re, msg)) return failf("error %s does not match %s", msg, e->fail_re);
    for (size_t j = 0; j < e->nex; j++)
        if (e->ex[j].type == 0 && !match_text(&e->ex[j], msg))
            return failf("error %s does not match expectation %s", msg, e->ex[j].text);
    return true;
}

static const exp_series *find_expected(const eval_cmd *e, const labels *l) {
    for (size_t i = e->nes; i > 0; i--) {
        labels el = lset_view(&e->es[i - 1].l);
        if (labels_equal(&el, l)) return &e->es[i - 1];
    }
    return NULL;
}

static size_t distinct_expected(const eval_cmd *e) {
    size_t n = 0;
    for (size_t i = 0; i < e->nes; i++) {
        labels li = lset_view(&e->es[i].l);
        bool later = false;
        for (size_t j = i + 1; j < e->nes && !later; j++) {
            labels lj = lset_view(&e->es[j].l);
            later = labels_equal(&li, &lj);
        }
        n += !later;
    }
    return n;
}

static bool compare_vector(const eval_cmd *e, const pql_sample *v, size_t n, bool ordered) {
    if (e->has_scalar) return failf("expected scalar, got vector");
    for (size_t i = 0; i < n; i++) {
        const exp_series *x = find_expected(e, &v[i].metric);
        if (!x) return failf("unexpected series %s %g", lstr(&v[i].metric), v[i].v);
        if (ordered) {
            labels lp = i < e->nes ? lset_view(&e->es[i].l) : (labels){NULL, 0};
            if (i >= e->nes || !labels_equal(&lp, &v[i].metric))
                return failf("series %s at position %zu out of order", lstr(&v[i].metric), i);
        }
        if (x->vals.n < 1 || x->vals.v[0].kind != V_NUM)
            return failf("series %s: expected no float", lstr(&v[i].metric));
        if (!almost_equal(x->vals.v[0].v, v[i].v))
            return failf("series %s: expected %.17g, got %.17g", lstr(&v[i].metric), x->vals.v[0].v, v[i].v);
    }
    size_t want = distinct_expected(e);
    if (want != n) return failf("expected %zu series, got %zu", want, n);
    return true;
}

static bool compare_matrix(const eval_cmd *e, const pql_result *r, int64_t start, int64_t end, int64_t step) {
    if (e->ordered) return failf("ordered is not possible for a range query");
    if (e->has_scalar) return failf("expected scalar, got matrix");
    for (size_t i = 1; i < r->nmatrix; i++)
        if (labels_cmp(&r->matrix[i - 1].metric, &r->matrix[i].metric) >= 0)
            return failf("matrix not sorted: %s before %s", lstr(&r->matrix[i - 1].metric), lstr(&r->matrix[i].metric));
    for (size_t i = 0; i < r->nmatrix; i++) {
        const pql_series_out *s = &r->matrix[i];
        const exp_series *x = find_expected(e, &s->metric);
        if (!x) return failf("unexpected series %s", lstr(&s->metric));
        size_t want = 0;
        for (size_t k = 0; k < x->vals.n; k++) {
            if (x->vals.v[k].kind == V_OMIT) continue;
            int64_t t = start + (int64_t)k * step;
            if (t > end) return failf("expected point after the end for %s", lstr(&s->metric));
            if (x->vals.v[k].kind == V_HIST) return failf("expected histogram for %s", lstr(&s->metric));
            want++;
        }
        if (want != s->npoints)
            return failf("series %s: expected %zu points, got %zu", lstr(&s->metric), want, s->npoints);
        size_t p = 0;
        for (size_t k = 0; k < x->vals.n; k++) {
            if (x->vals.v[k].kind == V_OMIT) continue;
            int64_t t = start + (int64_t)k * step;
            if (s->points[p].t != t)
                return failf("series %s: expected point at %lld, got %lld", lstr(&s->metric), (long long)t,
                             (long long)s->points[p].t);
            if (!almost_equal(x->vals.v[k].v, s->points[p].v))
                return failf("series %s at %lld: expected %.17g, got %.17g", lstr(&s->metric), (long long)t,
                             x->vals.v[k].v, s->points[p].v);
            p++;
        }
    }
    size_t want = distinct_expected(e);
    if (want != r->nmatrix) return failf("expected %zu series, got %zu", want, r->nmatrix);
    return true;
}

/* ---- running evals ---------------------------------------------------------------------------- */

static pql_engine *engine;

static bool run_range_mode_check(const eval_cmd *e, dbctx *d, const ast_node *tree, int64_t T,
                                 const pql_result *inst) {
    pql_result r;
    int rc = pql_exec_range(engine, d->db, tree, T - 60000, T + 60000, 60000, &r);
    if (rc) {
        bool ok = failf("range-mode check at %lld failed: %s", (long long)T, r.error);
        pql_result_free(&r);
        return ok;
    }
    bool ok = true;
    if (e->ordered) goto out;
    for (size_t i = 1; i < r.nmatrix && ok; i++)
        if (labels_cmp(&r.matrix[i - 1].metric, &r.matrix[i].metric) >= 0)
            ok = failf("range-mode check: matrix not sorted");
    if (!ok) goto out;
    pql_sample *v = xmalloc((r.nmatrix + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < r.nmatrix; i++)
        for (size_t p = 0; p < r.matrix[i].npoints; p++)
            if (r.matrix[i].points[p].t == T) {
                v[n].metric = r.matrix[i].metric;
                v[n].t = T;
                v[n].v = r.matrix[i].points[p].v;
                n++;
            }
    if (inst->type == PQL_TYPE_SCALAR) {
        if (!n) ok = failf("range-mode check: no point at %lld", (long long)T);
        else if (!almost_equal(e->scalar, v[0].v))
            ok = failf("range-mode check: expected scalar %.17g, got %.17g", e->scalar, v[0].v);
    } else {
        ok = compare_vector(e, v, n, false);
        if (!ok) {
            fail_prefix("range-mode check at %lld: ", (long long)T);
        }
    }
    free(v);
out:
    pql_result_free(&r);
    return ok;
}

static bool run_instant_query(const eval_cmd *e, dbctx *d, const ast_node *tree, int64_t T) {
    pql_result r;
    int rc = pql_exec_instant(engine, d->db, tree, T, &r);
    bool ok;
    if (rc) {
        if (r.errtype == PQL_ERR_BAD_DATA) ok = failf("query could not be created: %s", r.error);
        else if (!e->fail) ok = failf("unexpected error at %lld: %s", (long long)T, r.error);
        else ok = check_fail(e, r.error);
        pql_result_free(&r);
        return ok;
    }
    if (e->fail) {
        pql_result_free(&r);
        return failf("expected an error at %lld, query succeeded", (long long)T);
    }
    ok = check_annotations(e, &r);
    if (ok) {
        if (r.type == PQL_TYPE_SCALAR) {
            if (!e->has_scalar) ok = failf("unexpected scalar %.17g", r.scalar);
            else if (!almost_equal(e->scalar, r.scalar)) ok = failf("expected scalar %.17g, got %.17g", e->scalar, r.scalar);
        } else if (r.type == PQL_TYPE_VECTOR) {
            ok = compare_vector(e, r.vector, r.nvector, e->ordered);
            if (!ok) {
                fail_prefix("at %lld: ", (long long)T);
            }
        } else {
            ok = failf("unexpected result type %s", pql_type_name(r.type));
        }
    }
    if (ok) ok = run_range_mode_check(e, d, tree, T, &r);
    pql_result_free(&r);
    return ok;
}

static const char *const at_unsafe[] = {"time", "timestamp", "minute", "hour", "day_of_month",
                                        "day_of_week", "day_of_year", "days_in_month", "month",
                                        "year", "predict_linear"};

static void add_at(ast_node *n, int64_t T, bool *unsafe) {
    switch (n->kind) {
    case AST_VECTOR_SELECTOR:
        if (n->vs.mod.at != AST_AT_TIMESTAMP) {
            n->vs.mod.at = AST_AT_TIMESTAMP;
            n->vs.mod.at_ms = T;
        }
        return;
    case AST_MATRIX_SELECTOR: add_at(n->matrix.vs, T, unsafe); return;
    case AST_SUBQUERY:
        if (n->subquery.mod.at != AST_AT_TIMESTAMP) {
            n->subquery.mod.at = AST_AT_TIMESTAMP;
            n->subquery.mod.at_ms = T;
        }
        return; /* the inside is never touched */
    case AST_CALL:
        for (size_t i = 0; i < sizeof at_unsafe / sizeof at_unsafe[0]; i++)
            if (!strcmp(n->call.func->name, at_unsafe[i])) *unsafe = true;
        break;
    default: break;
    }
    for (size_t i = 0; i < ast_child_count(n); i++) {
        ast_node *c = ast_child(n, i);
        if (c) add_at(c, T, unsafe);
    }
}

static bool run_eval(const eval_cmd *e, dbctx *d) {
    if (e->bad) return failf("%s", e->bad);
    ast_node *tree;
    pql_error perr;
    if (pql_parse(e->expr, strlen(e->expr), &tree, &perr)) return failf("parse error: %s", perr.msg);
    bool ok;
    if (e->range) {
        pql_result r;
        int rc = pql_exec_range(engine, d->db, tree, e->start, e->end, e->step, &r);
        if (rc) {
            if (r.errtype == PQL_ERR_BAD_DATA) ok = failf("query could not be created: %s", r.error);
            else if (!e->fail) ok = failf("unexpected error: %s", r.error);
            else ok = check_fail(e, r.error);
        } else if (e->fail) {
            ok = failf("expected an error, query succeeded");
        } else {
            ok = check_annotations(e, &r) && compare_matrix(e, &r, e->start, e->end, e->step);
        }
        pql_result_free(&r);
        ast_free(tree);
        return ok;
    }
    ok = run_instant_query(e, d, tree, e->t);
    ast_free(tree);
    if (!ok) return false;
    /* @ re-runs */
    if (pql_parse(e->expr, strlen(e->expr), &tree, &perr)) return failf("parse error: %s", perr.msg);
    bool unsafe = false;
    add_at(tree, e->t, &unsafe);
    if (!unsafe) {
        int64_t T = e->t;
        int64_t times[5];
        size_t nt;
        if (T == 0) {
            times[0] = -1000;
            times[1] = 0;
            times[2] = 1000;
            nt = 3;
        } else {
            times[0] = -10 * T;
            times[1] = 0;
            times[2] = T / 5;
            times[3] = T;
            times[4] = 10 * T;
            nt = 5;
        }
        for (size_t i = 0; i < nt && ok; i++) {
            ok = run_instant_query(e, d, tree, times[i]);
            if (!ok) {
                fail_prefix("@ re-run at %lld: ", (long long)times[i]);
            }
        }
    }
    ast_free(tree);
    return ok;
}

/* ---- loading --------------------------------------------------------------------------------- */

typedef struct load_series {
    lset l;
    vseq vals;
} load_series;

static bool do_load(dbctx *d, int64_t step, load_series *ls, size_t n, char *err, size_t errcap) {
    tsdb_appender *app = tsdb_appender_begin(d->db);
    if (!app) {
        snprintf(err, errcap, "appender: out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        /* last line for a label set wins */
        bool later = false;
        labels li = lset_view(&ls[i].l);
        for (size_t j = i + 1; j < n && !later; j++) {
            labels lj = lset_view(&ls[j].l);
            later = labels_equal(&li, &lj);
        }
        if (later) continue;
        uint64_t ref = 0;
        for (size_t k = 0; k < ls[i].vals.n; k++) {
            if (ls[i].vals.v[k].kind != V_NUM) continue;
            int rc = tsdb_append(app, ref, &li, (int64_t)k * step, ls[i].vals.v[k].v, &ref);
            if (rc && rc != FLINT_EDUPSAMPLE) {
                snprintf(err, errcap, "append %s: %s", lstr(&li), flint_errmsg());
                tsdb_rollback(app);
                return false;
            }
        }
    }
    int rc = tsdb_commit(app);
    if (rc) {
        snprintf(err, errcap, "commit: %s", flint_errmsg());
        return false;
    }
    return true;
}

/* ---- eval-index.tsv -------------------------------------------------------------------------- */

typedef struct skip_ent {
    char file[64];
    int line;
} skip_ent;
static skip_ent *skips;
static size_t nskips;

static void load_index(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/eval-index.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "warning: %s not found; nothing will be skipped\n", path);
        return;
    }
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *cols[9] = {0};
        size_t nc = 0;
        char *p = line;
        while (nc < 9) {
            cols[nc++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (nc < 6 || !strcmp(cols[0], "file")) continue;
        if (strcmp(cols[5], "yes") != 0) continue;
        skips = xrealloc(skips, (nskips + 1) * sizeof *skips);
        snprintf(skips[nskips].file, sizeof skips[nskips].file, "%s", cols[0]);
        skips[nskips].line = atoi(cols[1]);
        nskips++;
    }
    fclose(f);
}

static bool skipped(const char *file, int line) {
    for (size_t i = 0; i < nskips; i++)
        if (skips[i].line == line && !strcmp(skips[i].file, file)) return true;
    return false;
}

/* ---- one file ---------------------------------------------------------------------------------- */

typedef struct counts {
    long pass, fail, skip;
} counts;

static void free_eval(eval_cmd *e) {
    free(e->expr);
    free(e->fail_msg);
    free(e->fail_re);
    for (size_t i = 0; i < e->nex; i++) free(e->ex[i].text);
    free(e->ex);
    for (size_t i = 0; i < e->nes; i++) {
        lset_free(&e->es[i].l);
        free(e->es[i].vals.v);
    }
    free(e->es);
    free(e->bad);
}

static char *next_word(char **p) {
    while (**p == ' ' || **p == '\t') (*p)++;
    if (!**p) return NULL;
    char *w = *p;
    while (**p && **p != ' ' && **p != '\t') (*p)++;
    if (**p) *(*p)++ = 0;
    return w;
}

static void parse_eval_header(char *hdr, eval_cmd *e) {
    char *p = hdr;
    char *cmd = next_word(&p);
    if (!strcmp(cmd, "eval_fail")) e->fail = true;
    else if (!strcmp(cmd, "eval_warn")) e->warn = true;
    else if (!strcmp(cmd, "eval_info")) e->info = true;
    else if (!strcmp(cmd, "eval_ordered")) e->ordered = true;
    char *kind = next_word(&p);
    if (!kind) {
        e->bad = strdup("bad eval header");
        return;
    }
    if (!strcmp(kind, "instant")) {
        char *at = next_word(&p);
        char *t = next_word(&p);
        if (!at || strcmp(at, "at") || !t || !parse_dur(t, &e->t)) {
            e->bad = strdup("bad instant eval header");
            return;
        }
    } else if (!strcmp(kind, "range")) {
        char *w[6];
        for (int i = 0; i < 6; i++) w[i] = next_word(&p);
        if (!w[5] || strcmp(w[0], "from") || strcmp(w[2], "to") || strcmp(w[4], "step") ||
            !parse_dur(w[1], &e->start) || !parse_dur(w[3], &e->end) || !parse_dur(w[5], &e->step)) {
            e->bad = strdup("bad range eval header");
            return;
        }
        e->range = true;
    } else {
        e->bad = strdup("bad eval header");
        return;
    }
    while (*p == ' ' || *p == '\t') p++;
    e->expr = strdup(p);
}

static bool is_scalar_line(const char *s, double *v) {
    if (strchr(s, ' ') || strchr(s, '\t') || strchr(s, '{')) return false;
    return parse_num(s, strlen(s), v);
}

static void run_file(const char *dir, const char *name, counts *total) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        total->fail++;
        return;
    }
    char **lines = NULL;
    size_t nlines = 0;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) >= 0) {
        lines = xrealloc(lines, (nlines + 1) * sizeof *lines);
        char *t = trim(buf);
        lines[nlines++] = strdup(t[0] == '#' ? "" : t);
    }
    free(buf);
    fclose(f);

    counts c = {0};
    dbctx d = {0};
    db_open_fresh(&d);
    size_t i = 0;
    while (i < nlines) {
        char *l = lines[i];
        if (!*l) {
            i++;
            continue;
        }
        int lineno = (int)i + 1;
        if (!strncmp(l, "clear", 5) && (l[5] == 0 || l[5] == ' ')) {
            db_open_fresh(&d);
            i++;
            continue;
        }
        if (!strncmp(l, "load", 4)) {
            char *p = l;
            next_word(&p);
            char *st = next_word(&p);
            int64_t step;
            i++;
            load_series *ls = NULL;
            size_t nls = 0;
            bool ok = st && parse_dur(st, &step);
            while (i < nlines && *lines[i]) {
                if (ok) {
                    ls = xrealloc(ls, (nls + 1) * sizeof *ls);
                    memset(&ls[nls], 0, sizeof ls[nls]);
                    size_t pos = 0;
                    bool hh = false;
                    if (!parse_series(lines[i], &pos, &ls[nls].l) || !parse_values(lines[i] + pos, &ls[nls].vals, &hh)) {
                        fprintf(stderr, "%s:%zu: bad load line\n", name, i + 1);
                    }
                    nls++;
                }
                i++;
            }
            char err[512];
            if (ok && !do_load(&d, step, ls, nls, err, sizeof err))
                fprintf(stderr, "%s:%d: load failed: %s\n", name, lineno, err);
            for (size_t k = 0; k < nls; k++) {
                lset_free(&ls[k].l);
                free(ls[k].vals.v);
            }
            free(ls);
            continue;
        }
        if (!strncmp(l, "eval", 4)) {
            eval_cmd e = {0};
            e.line = lineno;
            char *hdr = strdup(l);
            parse_eval_header(hdr, &e);
            free(hdr);
            i++;
            while (i < nlines && *lines[i]) {
                char *b = lines[i];
                i++;
                if (e.fail && !strncmp(b, "expected_fail_message", 21)) {
                    e.fail_msg = strdup(trim(b + 21));
                    break;
                }
                if (e.fail && !strncmp(b, "expected_fail_regexp", 20)) {
                    e.fail_re = strdup(trim(b + 20));
                    break;
                }
                if (!strncmp(b, "expect ", 7)) {
                    char *p = b + 7;
                    char *ty = next_word(&p);
                    expect_line x = {0};
                    static const char *const types[] = {"fail", "warn", "info", "no_warn", "no_info", "ordered"};
                    x.type = -1;
                    for (int k = 0; k < 6; k++)
                        if (ty && !strcmp(ty, types[k])) x.type = k;
                    while (*p == ' ') p++;
                    if (!strncmp(p, "msg:", 4)) {
                        x.match = 1;
                        x.text = strdup(trim(p + 4));
                    } else if (!strncmp(p, "regex:", 6)) {
                        x.match = 2;
                        x.text = strdup(trim(p + 6));
                    }
                    if (x.type == 0) e.fail = true;
                    if (x.type == 5) e.ordered = true;
                    e.ex = xrealloc(e.ex, (e.nex + 1) * sizeof *e.ex);
                    e.ex[e.nex++] = x;
                    continue;
                }
                double sv;
                if (is_scalar_line(b, &sv)) {
                    e.has_scalar = true;
                    e.scalar = sv;
                    break;
                }
                e.es = xrealloc(e.es, (e.nes + 1) * sizeof *e.es);
                memset(&e.es[e.nes], 0, sizeof e.es[e.nes]);
                size_t pos = 0;
                if (!parse_series(b, &pos, &e.es[e.nes].l) || !parse_values(b + pos, &e.es[e.nes].vals, &e.has_hist))
                    if (!e.bad) e.bad = strdup("bad expected series line");
                if (!e.range && e.es[e.nes].vals.n != 1 && !e.bad) e.bad = strdup("instant eval with more than one value");
                e.nes++;
            }
            bool want = (!only_line || only_line == e.line);
            if (!want) {
                free_eval(&e);
                continue;
            }
            if (skipped(name, e.line)) {
                c.skip++;
                if (verbose > 1) printf("  %s:%d: skipped (native histograms)\n", name, e.line);
            } else if (run_eval(&e, &d)) {
                c.pass++;
                if (verbose > 1) printf("  %s:%d: ok\n", name, e.line);
            } else {
                c.fail++;
                if (verbose) printf("  %s:%d: FAIL %s\n      %s\n", name, e.line, e.expr ? e.expr : "", failmsg);
            }
            free_eval(&e);
            continue;
        }
        fprintf(stderr, "%s:%d: invalid command\n", name, lineno);
        i++;
    }
    db_close(&d);
    for (size_t k = 0; k < nlines; k++) free(lines[k]);
    free(lines);
    printf("%s: %ld passed, %ld failed, %ld skipped\n", name, c.pass, c.fail, c.skip);
    fflush(stdout);
    total->pass += c.pass;
    total->fail += c.fail;
    total->skip += c.skip;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    long floor = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose++;
        else if (!strcmp(argv[i], "-vv")) verbose += 2;
        else if (!strcmp(argv[i], "-f") && i + 1 < argc) only_file = argv[++i];
        else if (!strcmp(argv[i], "-l") && i + 1 < argc) only_line = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--floor") && i + 1 < argc) floor = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-v|-vv] [-f FILE] [-l LINE] [--floor N]\n", argv[0]);
            return 2;
        }
    }
    const char *dir = getenv("PROMQL_TESTS_DIR");
    if (!dir || !*dir) dir = "../shared/promql-tests";
    load_index(dir);
    pql_engine_opts o = {0};
    o.timeout_ms = 100000;
    engine = pql_engine_new(&o);
    if (!engine) return 2;
    DIR *dd = opendir(dir);
    if (!dd) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 2;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(dd))) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".test")) {
            if (only_file && !strstr(de->d_name, only_file)) continue;
            names = xrealloc(names, (nn + 1) * sizeof *names);
            names[nn++] = strdup(de->d_name);
        }
    }
    closedir(dd);
    qsort(names, nn, sizeof *names, cmp_name);
    counts total = {0};
    for (size_t i = 0; i < nn; i++) {
        run_file(dir, names[i], &total);
        free(names[i]);
    }
    free(names);
    free(skips);
    pql_engine_free(engine);
    printf("promql: %ld passed, %ld failed, %ld skipped\n", total.pass, total.fail, total.skip);
    if (floor >= 0 && total.pass < floor) {
        printf("promql: %ld passed is below the floor of %ld\n", total.pass, floor);
        return 1;
    }
    return 0;
}
