/*
 * eval_func.c - function calls over instant vectors and scalars: math and
 * trigonometry, clamp/round, time and date functions, scalar/vector,
 * absent, sort and sort_by_label, histogram_quantile/histogram_fraction
 * over classic `le` buckets, label_replace and label_join. Calls with a
 * range-vector argument go to eval_range.c. Follows Prometheus'
 * functions.go and quantile.go.
 */
#include "query/eval_int.h"
#include "query/literal.h"
#include "storage/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>


static bool is(const ast_node *n, const char *name) { return strcmp(n->call.func->name, name) == 0; }

/* ---- simple per-value functions ------------------------------------------------ */

static double fn_sgn(double v) { return v < 0 ? -1 : v > 0 ? 1 : v; }
static double fn_deg(double v) { return v * 180 / M_PI; }
static double fn_rad(double v) { return v * M_PI / 180; }

typedef double (*math_fn)(double);
static const struct {
    const char *name;
    math_fn fn;
} math_fns[] = {
    {"abs", fabs}, {"ceil", ceil}, {"floor", floor}, {"exp", exp}, {"sqrt", sqrt},
    {"ln", log}, {"log2", log2}, {"log10", log10}, {"sin", sin}, {"cos", cos},
    {"tan", tan}, {"asin", asin}, {"acos", acos}, {"atan", atan}, {"sinh", sinh},
    {"cosh", cosh}, {"tanh", tanh}, {"asinh", asinh}, {"acosh", acosh}, {"atanh", atanh},
    {"rad", fn_rad}, {"deg", fn_deg}, {"sgn", fn_sgn},
};

static void map_values(pql_vec *v, size_t nsteps, math_fn fn) {
    for (size_t s = 0; s < v->n; s++) {
        v->s[s].drop_name = true;
        for (size_t i = 0; i < nsteps; i++)
            if (!pql_is_absent(v->s[s].v[i])) v->s[s].v[i] = fn(v->s[s].v[i]);
    }
}

/* Drop series left without points. */
static void compact(pql_q *q, pql_vec *v, size_t nsteps) {
    size_t k = 0;
    for (size_t s = 0; s < v->n; s++) {
        bool any = false;
        for (size_t i = 0; i < nsteps && !any; i++) any = !pql_is_absent(v->s[s].v[i]);
        if (any) v->s[k++] = v->s[s];
        else q_free(q, v->s[s].v);
    }
    v->n = k;
}

/* ---- dates ----------------------------------------------------------------------- */

static bool civil(double secs, struct tm *tm) {
    int64_t s;
    if (isnan(secs) || secs >= 9.2233720368547758e18 || secs < -9.2233720368547758e18) s = INT64_MIN;
    else s = (int64_t)secs;
    time_t t = (time_t)s;
    return gmtime_r(&t, tm) != NULL;
}

static double date_value(const char *name, double secs) {
    struct tm tm;
    if (!civil(secs, &tm)) return NAN;
    long year = (long)tm.tm_year + 1900;
    if (!strcmp(name, "year")) return (double)year;
    if (!strcmp(name, "month")) return tm.tm_mon + 1;
    if (!strcmp(name, "day_of_month")) return tm.tm_mday;
    if (!strcmp(name, "day_of_week")) return tm.tm_wday;
    if (!strcmp(name, "day_of_year")) return tm.tm_yday + 1;
    if (!strcmp(name, "hour")) return tm.tm_hour;
    if (!strcmp(name, "minute")) return tm.tm_min;
    /* days_in_month */
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int d = dim[tm.tm_mon];
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (tm.tm_mon == 1 && leap) d = 29;
    return d;
}

static bool is_date_fn(const char *n) {
    static const char *const names[] = {"year", "month", "day_of_month", "day_of_week",
                                        "day_of_year", "hour", "minute", "days_in_month"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(n, names[i])) return true;
    return false;
}

/* ---- absent ----------------------------------------------------------------------------- */

labels absent_labels(pql_q *q, const ast_node *arg) {
    const ast_node *a = unwrap(arg);
    labels none = {NULL, 0};
    const ast_node *vs = a->kind == AST_VECTOR_SELECTOR ? a
                         : a->kind == AST_MATRIX_SELECTOR ? a->matrix.vs : NULL;
    if (!vs) return none;
    lbuild b = {0};
    char **has = q_alloc(q, (vs->vs.nmatchers + 1) * sizeof *has);
    size_t nhas = 0;
    for (size_t i = 0; i < vs->vs.nmatchers; i++) {
        const ast_matcher *m = &vs->vs.matchers[i];
        if (!strcmp(m->name, "__name__")) continue;
        bool seen = false;
        for (size_t j = 0; j < nhas; j++) seen |= !strcmp(has[j], m->name);
        if (m->type == MATCH_EQ && !seen) {
            lb_put(q, &b, m->name, m->value);
            has[nhas++] = m->name;
        } else {
            lb_remove(&b, m->name);
        }
    }
    labels r = lb_finish(q, &b);
    lb_release(q, &b);
    q_free(q, has);
    return r;
}

/* ---- sorting (instant queries only: a range result is sorted by labels) ------------------- */

typedef struct sort_ctx {
    const char **lbl;
    size_t nl;
    bool desc;
    int mode; /* 0 sort, 1 sort_desc, 2 by label */
} sort_ctx;
static _Thread_local sort_ctx *g_sort;

static int cmp_sort(const void *pa, const void *pb) {
    const pql_series *a = pa, *b = pb;
    if (g_sort->mode < 2) {
        double x = a->v[0], y = b->v[0];
        /* sort: ascending with NaN last; sort_desc: descending with NaN last */
        if (isnan(x) || isnan(y)) return isnan(x) ? (isnan(y) ? 0 : 1) : -1;
        if (g_sort->mode == 0) return x < y ? -1 : x > y ? 1 : 0;
        return x > y ? -1 : x < y ? 1 : 0;
    }
    for (size_t i = 0; i < g_sort->nl; i++) {
        const char *x = labels_get(&a->lbls, g_sort->lbl[i]);
        const char *y = labels_get(&b->lbls, g_sort->lbl[i]);
        if (!x) x = "";
        if (!y) y = "";
        if (!strcmp(x, y)) continue;
        bool lt = natsort_less(x, y);
        return g_sort->desc ? (lt ? 1 : -1) : (lt ? -1 : 1);
    }
    int c = labels_cmp(&a->lbls, &b->lbls);
    return g_sort->desc ? -c : c;
}

/* ---- classic histograms ---------------------------------------------------------------- */

typedef struct bucket {
    double ub, count;
} bucket;

static int cmp_bucket(const void *pa, const void *pb) {
    double a = ((const bucket *)pa)->ub, b = ((const bucket *)pb)->ub;
    return a < b ? -1 : a > b ? 1 : 0;
}

static size_t coalesce(bucket *b, size_t n) {
    bucket last = b[0];
    size_t i = 0;
    for (size_t j = 1; j < n; j++) {
        if (b[j].ub == last.ub) last.count += b[j].count;
        else {
            b[i++] = last;
            last = b[j];
        }
    }
    b[i] = last;
    return i + 1;
}

static bool almost_equal(double a, double b, double eps) {
    if (isnan(a) && isnan(b)) return true;
    if (a == b) return true;
    double minNormal = 2.2250738585072014e-308;
    double absSum = fabs(a) + fabs(b), diff = fabs(a - b);
    if (a == 0 || b == 0 || absSum < minNormal) return diff < eps * minNormal;
    return diff / fmin(absSum, 1.7976931348623157e308) < eps;
}

static double bucket_quantile(double qv, bucket *b, size_t n, bool *forced) {
    *forced = false;
    if (isnan(qv)) return NAN;
    if (qv < 0) return -INFINITY;
    if (qv > 1) return INFINITY;
    qsort(b, n, sizeof *b, cmp_bucket);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0) return NAN;
    n = coalesce(b, n);
    double prev = b[0].count;
    for (size_t i = 1; i < n; i++) {
        double curr = b[i].count;
        if (curr == prev) continue;
        if (almost_equal(prev, curr, 1e-12)) {
            b[i].count = prev;
            continue;
        }
        if (curr < prev) {
            b[i].count = prev;
            *forced = true;
            continue;
        }
        prev = curr;
    }
    if (n < 2) return NAN;
    double obs = b[n - 1].count;
    if (obs == 0) return NAN;
    double rank = qv * obs;
    size_t lo = 0, hi = n - 1; /* sort.Search over [0, n-1) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].count >= rank) hi = mid;
        else lo = mid + 1;
    }
    size_t k = lo;
    if (k == n - 1) return b[n - 2].ub;
    if (k == 0 && b[0].ub <= 0) return b[0].ub;
    double start = 0, end = b[k].ub, count = b[k].count;
    if (k > 0) {
        start = b[k - 1].ub;
        count -= b[k - 1].count;
        rank -= b[k - 1].count;
    }
    return start + (end - start) * (rank / count);
}

static double bucket_fraction(double lower, double upper, bucket *b, size_t n) {
    qsort(b, n, sizeof *b, cmp_bucket);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0) return NAN;
    n = coalesce(b, n);
    double count = b[n - 1].count;
    if (count == 0 || isnan(lower) || isnan(upper)) return NAN;
    if (lower >= upper) return 0;
    double rank = 0, lowerRank = 0, upperRank = 0;
    bool lowerSet = false, upperSet = false;
    for (size_t i = 0; i < n; i++) {
        double lb = i > 0 ? b[i - 1].ub : -INFINITY, ub = b[i].ub;
        if (!lowerSet && lb >= lower) { lowerRank = rank; lowerSet = true; }
        if (!upperSet && lb >= upper) { upperRank = rank; upperSet = true; }
        if (lowerSet && upperSet) break;
        if (!lowerSet && lb < lower && ub > lower) {
            lowerRank = rank + (b[i].count - rank) * (lower - lb) / (ub - lb);
            lowerSet = true;
        }
        if (!upperSet && lb < upper && ub > upper) {
            upperRank = rank + (b[i].count - rank) * (upper - lb) / (ub - lb);
            upperSet = true;
        }
        if (lowerSet && upperSet) break;
        rank = b[i].count;
    }
    if (!lowerSet || lowerRank > count) lowerRank = count;
    if (!upperSet || upperRank > count) upperRank = count;
    return (upperRank - lowerRank) / count;
}

/* Go's strconv.ParseFloat for `le` values (accepts +Inf, inf, 1e3, 0x...). */
static bool parse_le(const char *s, double *out) {
    char err[64];
    size_t n = strlen(s);
    if (!n) return false;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (!strcasecmp(p, "nan")) {
        *out = NAN;
        return true;
    }
    char *end;
    *out = strtod(s, &end);
    (void)err;
    return *end == 0 && end != s;
}

static pql_val histogram_fn(pql_q *q, const pql_ev *ev, const ast_node *n, bool fraction) {
    double *qa = NULL, *lo = NULL, *hi = NULL;
    const ast_node *vecarg;
    if (fraction) {
        lo = eval_scalar(q, ev, n->call.args[0]);
        hi = eval_scalar(q, ev, n->call.args[1]);
        vecarg = n->call.args[2];
    } else {
        qa = eval_scalar(q, ev, n->call.args[0]);
        vecarg = n->call.args[1];
    }
    pql_val in = eval_node(q, ev, vecarg);
    pql_vec *v = &in.vec;
    if (!fraction) {
        bool warned_nan = false, warned_hi = false, warned_lo = false;
        for (size_t i = 0; i < ev->nsteps; i++) {
            double x = qa[i];
            if (isnan(x) && !warned_nan) {
                q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got NaN");
                warned_nan = true;
            } else if (x > 1 && !warned_hi) {
                q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got %g", x);
                warned_hi = true;
            } else if (x < 0 && !warned_lo) {
                q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got %g", x);
                warned_lo = true;
            }
        }
    }
    /* series -> histogram group (labels without le) */
    size_t *gid = q_alloc(q, (v->n + 1) * sizeof *gid);
    double *ub = q_alloc(q, (v->n + 1) * sizeof *ub);
    smap m;
    smap_init(&m);
    pql_vec out = {0};
    size_t ng = 0;
    char *le = "le";
    for (size_t s = 0; s < v->n; s++) {
        const char *lv = labels_get(&v->s[s].lbls, "le");
        if (!lv || !parse_le(lv, &ub[s])) {
            const char *name = labels_get(&v->s[s].lbls, "__name__");
            q_annotate(q, PQL_ANNO_WARNING,
                       "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"%s\" for metric name \"%s\"",
                       lv ? lv : "", name ? name : "");
            gid[s] = (size_t)-1;
            continue;
        }
        size_t len;
        const char *key = labels_signature(q, &v->s[s].lbls, false, &le, 1, &len);
        /* labels_signature(on=false) also drops __name__; keep the name in the key */
        const char *name = labels_get(&v->s[s].lbls, "__name__");
        size_t nl = name ? strlen(name) : 0;
        char *k2 = q_arena(q, len + nl + 2);
        memcpy(k2, name ? name : "", nl);
        k2[nl] = (char)0xfd;
        memcpy(k2 + nl + 1, key, len);
        bool found;
        gid[s] = smap_get_or_put(q, &m, k2, len + nl + 1, ng, &found);
        if (!found) {
            lbuild b = {0};
            lb_from(q, &b, &v->s[s].lbls);
            lb_remove(&b, "le");
            vec_push(q, &out, lb_finish(q, &b), q_steps(q, ev), true);
            lb_release(q, &b);
            ng++;
        }
    }
    smap_free(q, &m);
    bucket *bk = q_alloc(q, (v->n + 1) * sizeof *bk);
    size_t *cnt = q_alloc(q, (ng + 1) * sizeof *cnt);
    size_t *first = q_alloc(q, (ng + 1) * sizeof *first);
    /* group members listed contiguously: order series by group */
    size_t *order = q_alloc(q, (v->n + 1) * sizeof *order);
    memset(cnt, 0, (ng + 1) * sizeof *cnt);
    for (size_t s = 0; s < v->n; s++)
        if (gid[s] != (size_t)-1) cnt[gid[s]]++;
    size_t acc = 0;
    for (size_t g = 0; g < ng; g++) {
        first[g] = acc;
        acc += cnt[g];
        cnt[g] = 0;
    }
    for (size_t s = 0; s < v->n; s++)
        if (gid[s] != (size_t)-1) order[first[gid[s]] + cnt[gid[s]]++] = s;
    for (size_t i = 0; i < ev->nsteps; i++) {
        for (size_t g = 0; g < ng; g++) {
            size_t nb = 0;
            for (size_t j = 0; j < cnt[g]; j++) {
                size_t s = order[first[g] + j];
                double x = v->s[s].v[i];
                if (pql_is_absent(x)) continue;
                bk[nb].ub = ub[s];
                bk[nb].count = x;
                nb++;
            }
            if (!nb) continue;
            double r;
            if (fraction) r = bucket_fraction(lo[i], hi[i], bk, nb);
            else {
                bool forced;
                r = bucket_quantile(qa[i], bk, nb, &forced);
                if (forced) {
                    const char *name = labels_get(&out.s[g].lbls, "__name__");
                    q_annotate(q, PQL_ANNO_INFO,
                               "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"%s\"",
                               name ? name : "");
                }
            }
            out.s[g].v[i] = r;
        }
    }
    q_free(q, bk);
    q_free(q, cnt);
    q_free(q, first);
    q_free(q, order);
    q_free(q, gid);
    q_free(q, ub);
    q_free(q, qa);
    q_free(q, lo);
    q_free(q, hi);
    val_free(q, &in);
    compact(q, &out, ev->nsteps);
    pql_val r = {.type = PQL_TYPE_VECTOR, .vec = out};
    return r;
}

/* ---- label_replace / label_join ----------------------------------------------------------- */

static bool label_name_ok(const char *s, size_t n) { return n > 0 && pql_utf8_valid(s, n) && !memchr(s, 0, n); }

/* Go's Regexp.Expand of `tmpl` with the match `ov` of `src`. */
static void expand(pql_q *q, fl_buf *out, const char *tmpl, size_t tl, const char *src,
                   const PCRE2_SIZE *ov, uint32_t ngroups, pcre2_code *re) {
    for (size_t i = 0; i < tl;) {
        if (tmpl[i] != '$' || i + 1 >= tl) {
            if (fl_buf_put_byte(out, (uint8_t)tmpl[i])) q_oom(q);
            i++;
            continue;
        }
        i++;
        if (tmpl[i] == '$') {
            if (fl_buf_put_byte(out, '$')) q_oom(q);
            i++;
            continue;
        }
        size_t ns, ne;
        bool brace = tmpl[i] == '{';
        if (brace) {
            ns = i + 1;
            ne = ns;
            while (ne < tl && tmpl[ne] != '}' &&
                   ((tmpl[ne] >= 'a' && tmpl[ne] <= 'z') || (tmpl[ne] >= 'A' && tmpl[ne] <= 'Z') ||
                    (tmpl[ne] >= '0' && tmpl[ne] <= '9') || tmpl[ne] == '_'))
                ne++;
            if (ne >= tl || tmpl[ne] != '}' || ne == ns) {
                /* malformed: emit '$' literally */
                if (fl_buf_put_byte(out, '$')) q_oom(q);
                continue;
            }
        } else {
            ns = i;
            ne = ns;
            while (ne < tl && ((tmpl[ne] >= 'a' && tmpl[ne] <= 'z') || (tmpl[ne] >= 'A' && tmpl[ne] <= 'Z') ||
                               (tmpl[ne] >= '0' && tmpl[ne] <= '9') || tmpl[ne] == '_'))
                ne++;
            if (ne == ns) {
                if (fl_buf_put_byte(out, '$')) q_oom(q);
                continue;
            }
        }
        char name[128];
        size_t nl = ne - ns < sizeof name - 1 ? ne - ns : sizeof name - 1;
        memcpy(name, tmpl + ns, nl);
        name[nl] = 0;
        long grp = -1;
        bool numeric = true;
        for (size_t k = 0; k < nl; k++) numeric &= name[k] >= '0' && name[k] <= '9';
        if (numeric) {
            grp = strtol(name, NULL, 10);
            if (nl > 9) grp = -1;
        } else {
            int g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
            grp = g >= 0 ? g : -1;
        }
        if (grp >= 0 && (uint32_t)grp < ngroups && ov[2 * grp] != PCRE2_UNSET) {
            if (fl_buf_put(out, src + ov[2 * grp], ov[2 * grp + 1] - ov[2 * grp])) q_oom(q);
        }
        i = brace ? ne + 1 : ne;
    }
}

static void re_free(void *p) { pcre2_code_free(p); }
static void md_free(void *p) { pcre2_match_data_free(p); }

static void check_same_labelset(pql_q *q, const pql_vec *v) {
    smap m;
    smap_init(&m);
    for (size_t s = 0; s < v->n; s++) {
        size_t len;
        const char *k = labels_signature(q, &v->s[s].lbls, true, NULL, (size_t)-1, &len);
        bool found;
        smap_get_or_put(q, &m, k, len, s, &found);
        if (found) q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "vector cannot contain metrics with the same labelset");
    }
    smap_free(q, &m);
}

static pql_val label_replace(pql_q *q, const pql_ev *ev, const ast_node *n) {
    size_t dl, rl, sl, xl;
    const char *dst = string_arg(n->call.args[1], &dl);
    const char *repl = string_arg(n->call.args[2], &rl);
    const char *src = string_arg(n->call.args[3], &sl);
    const char *rx = string_arg(n->call.args[4], &xl);
    fl_buf pat = {0};
    if (fl_buf_put(&pat, "^(?s:", 5) || fl_buf_put(&pat, rx, xl) || fl_buf_put(&pat, ")$", 2)) {
        fl_buf_free(&pat);
        q_oom(q);
    }
    int errc;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                                   &errc, &erroff, NULL);
    fl_buf_free(&pat);
    if (!re) q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid regular expression in label_replace(): %.*s", (int)xl, rx);
    int slot = q_push_cleanup(q, re_free, re);
    if (!label_name_ok(dst, dl))
        q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid destination label name in label_replace(): %.*s", (int)dl, dst);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) q_oom(q);
    int slot2 = q_push_cleanup(q, md_free, md);
    pql_val in = eval_node(q, ev, n->call.args[0]);
    lbuild b = {0};
    fl_buf out = {0};
    uint32_t ngroups = pcre2_get_ovector_count(md);
    for (size_t s = 0; s < in.vec.n; s++) {
        pql_series *se = &in.vec.s[s];
        const char *sv = labels_get(&se->lbls, src);
        if (!sv) sv = "";
        int rc = pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
        if (rc < 0) continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        out.len = 0;
        expand(q, &out, repl, rl, sv, ov, ngroups, re);
        lb_from(q, &b, &se->lbls);
        lb_put(q, &b, dst, q_strdup(q, (const char *)(out.data ? (char *)out.data : ""), out.len));
        se->lbls = lb_finish(q, &b);
        if (!strcmp(dst, "__name__")) se->drop_name = false;
    }
    fl_buf_free(&out);
    lb_release(q, &b);
    q_pop_cleanup(q, slot2, true);
    q_pop_cleanup(q, slot, true);
    check_same_labelset(q, &in.vec);
    return in;
}

static pql_val label_join(pql_q *q, const pql_ev *ev, const ast_node *n) {
    size_t dl, sepl;
    const char *dst = string_arg(n->call.args[1], &dl);
    const char *sep = string_arg(n->call.args[2], &sepl);
    size_t nsrc = n->call.nargs - 3;
    for (size_t i = 0; i < nsrc; i++) {
        size_t l;
        const char *s = string_arg(n->call.args[3 + i], &l);
        if (!label_name_ok(s, l))
            q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid source label name in label_join(): %.*s", (int)l, s);
    }
    if (!label_name_ok(dst, dl))
        q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid destination label name in label_join(): %.*s", (int)dl, dst);
    pql_val in = eval_node(q, ev, n->call.args[0]);
    lbuild b = {0};
    fl_buf out = {0};
    for (size_t s = 0; s < in.vec.n; s++) {
        pql_series *se = &in.vec.s[s];
        out.len = 0;
        for (size_t i = 0; i < nsrc; i++) {
            size_t l;
            const char *sn = string_arg(n->call.args[3 + i], &l);
            const char *v = labels_get(&se->lbls, sn);
            if (i && fl_buf_put(&out, sep, sepl)) q_oom(q);
            if (v && fl_buf_put(&out, v, strlen(v))) q_oom(q);
        }
        lb_from(q, &b, &se->lbls);
        lb_put(q, &b, dst, q_strdup(q, out.data ? (const char *)out.data : "", out.len));
        se->lbls = lb_finish(q, &b);
        if (!strcmp(dst, "__name__")) se->drop_name = false;
    }
    fl_buf_free(&out);
    lb_release(q, &b);
    check_same_labelset(q, &in.vec);
    return in;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

pql_val eval_call(pql_q *q, const pql_ev *ev, const ast_node *n) {
    const char *name = n->call.func->name;
    for (size_t i = 0; i < n->call.nargs; i++) {
        const ast_node *a = unwrap(n->call.args[i]);
        if (a->kind == AST_MATRIX_SELECTOR || a->kind == AST_SUBQUERY) return eval_range_call(q, ev, n, i);
    }
    pql_val r = {0};
    if (is(n, "label_replace")) return label_replace(q, ev, n);
    if (is(n, "label_join")) return label_join(q, ev, n);
    if (is(n, "histogram_quantile")) return histogram_fn(q, ev, n, false);
    if (is(n, "histogram_fraction")) return histogram_fn(q, ev, n, true);
    if (is(n, "timestamp")) {
        const ast_node *a = unwrap(n->call.args[0]);
        r.type = PQL_TYPE_VECTOR;
        if (a->kind == AST_VECTOR_SELECTOR) {
            r.vec = eval_vector_selector(q, ev, a, true);
            for (size_t s = 0; s < r.vec.n; s++) r.vec.s[s].drop_name = true;
            return r;
        }
        r = eval_node(q, ev, n->call.args[0]);
        for (size_t s = 0; s < r.vec.n; s++) {
            r.vec.s[s].drop_name = true;
            for (size_t i = 0; i < ev->nsteps; i++)
                if (!pql_is_absent(r.vec.s[s].v[i])) r.vec.s[s].v[i] = (double)ev_time(ev, i) / 1000.0;
        }
        return r;
    }
    if (is(n, "time") || is(n, "pi")) {
        r.type = PQL_TYPE_SCALAR;
        r.scalar = q_alloc(q, ev->nsteps * sizeof(double));
        for (size_t i = 0; i < ev->nsteps; i++) r.scalar[i] = is(n, "pi") ? M_PI : (double)ev_time(ev, i) / 1000.0;
        return r;
    }
    if (is_date_fn(name)) {
        if (n->call.nargs == 0) {
            r.type = PQL_TYPE_VECTOR;
            double *v = q_alloc(q, ev->nsteps * sizeof *v);
            for (size_t i = 0; i < ev->nsteps; i++) v[i] = date_value(name, (double)(ev_time(ev, i) / 1000));
            labels none = {NULL, 0};
            vec_push(q, &r.vec, none, v, false);
            return r;
        }
        r = eval_node(q, ev, n->call.args[0]);
        for (size_t s = 0; s < r.vec.n; s++) {
            r.vec.s[s].drop_name = true;
            for (size_t i = 0; i < ev->nsteps; i++)
                if (!pql_is_absent(r.vec.s[s].v[i])) r.vec.s[s].v[i] = date_value(name, r.vec.s[s].v[i]);
        }
        return r;
    }
    if (is(n, "vector")) {
        double *v = eval_scalar(q, ev, n->call.args[0]);
        r.type = PQL_TYPE_VECTOR;
        labels none = {NULL, 0};
        vec_push(q, &r.vec, none, v, false);
        return r;
    }
    if (is(n, "scalar")) {
        pql_val in = eval_node(q, ev, n->call.args[0]);
        r.type = PQL_TYPE_SCALAR;
        r.scalar = q_alloc(q, ev->nsteps * sizeof(double));
        for (size_t i = 0; i < ev->nsteps; i++) {
            size_t cnt = 0;
            double v = NAN;
            for (size_t s = 0; s < in.vec.n; s++)
                if (!pql_is_absent(in.vec.s[s].v[i])) {
                    cnt++;
                    v = in.vec.s[s].v[i];
                }
            r.scalar[i] = cnt == 1 ? v : NAN;
        }
        val_free(q, &in);
        return r;
    }
    if (is(n, "absent")) {
        pql_val in = eval_node(q, ev, n->call.args[0]);
        double *v = q_steps(q, ev);
        bool any = false;
        for (size_t i = 0; i < ev->nsteps; i++) {
            bool present = false;
            for (size_t s = 0; s < in.vec.n && !present; s++) present = !pql_is_absent(in.vec.s[s].v[i]);
            if (!present) {
                v[i] = 1;
                any = true;
            }
        }
        val_free(q, &in);
        r.type = PQL_TYPE_VECTOR;
        if (any) vec_push(q, &r.vec, absent_labels(q, n->call.args[0]), v, false);
        else q_free(q, v);
        return r;
    }
    if (is(n, "round") || is(n, "clamp") || is(n, "clamp_min") || is(n, "clamp_max")) {
        double *a1 = n->call.nargs > 1 ? eval_scalar(q, ev, n->call.args[1]) : NULL;
        double *a2 = n->call.nargs > 2 ? eval_scalar(q, ev, n->call.args[2]) : NULL;
        r = eval_node(q, ev, n->call.args[0]);
        for (size_t s = 0; s < r.vec.n; s++) {
            r.vec.s[s].drop_name = true;
            for (size_t i = 0; i < ev->nsteps; i++) {
                double x = r.vec.s[s].v[i];
                if (pql_is_absent(x)) continue;
                if (is(n, "round")) {
                    double inv = 1.0 / (a1 ? a1[i] : 1.0);
                    x = floor(x * inv + 0.5) / inv;
                } else {
                    double lo = is(n, "clamp_max") ? -INFINITY : a1[i];
                    double hi = is(n, "clamp") ? a2[i] : is(n, "clamp_max") ? a1[i] : INFINITY;
                    if (hi < lo) x = pql_absent();
                    else x = fmax(lo, fmin(hi, x));
                }
                r.vec.s[s].v[i] = x;
            }
        }
        q_free(q, a1);
        q_free(q, a2);
        compact(q, &r.vec, ev->nsteps);
        return r;
    }
    if (is(n, "sort") || is(n, "sort_desc") || is(n, "sort_by_label") || is(n, "sort_by_label_desc")) {
        r = eval_node(q, ev, n->call.args[0]);
        if (ev->nsteps != 1) return r;
        sort_ctx c = {0};
        c.mode = is(n, "sort") ? 0 : is(n, "sort_desc") ? 1 : 2;
        c.desc = is(n, "sort_by_label_desc");
        if (c.mode == 2) {
            c.nl = n->call.nargs - 1;
            c.lbl = q_alloc(q, (c.nl + 1) * sizeof *c.lbl);
            for (size_t i = 0; i < c.nl; i++) {
                size_t l;
                c.lbl[i] = string_arg(n->call.args[1 + i], &l);
            }
        }
        g_sort = &c;
        /* a stable sort keeps ties in input order like Go's for short inputs */
        for (size_t i = 1; i < r.vec.n; i++)
            for (size_t j = i; j > 0 && cmp_sort(&r.vec.s[j], &r.vec.s[j - 1]) < 0; j--) {
                pql_series t = r.vec.s[j];
                r.vec.s[j] = r.vec.s[j - 1];
                r.vec.s[j - 1] = t;
            }
        g_sort = NULL;
        q_free(q, c.lbl);
        return r;
    }
    if (!strncmp(name, "histogram_", 10)) {
        /* native-histogram functions: no float input qualifies */
        pql_val in = eval_node(q, ev, n->call.args[0]);
        val_free(q, &in);
        r.type = PQL_TYPE_VECTOR;
        return r;
    }
    if (is(n, "info")) return eval_node(q, ev, n->call.args[0]);
    for (size_t k = 0; k < sizeof math_fns / sizeof math_fns[0]; k++)
        if (!strcmp(name, math_fns[k].name)) {
            r = eval_node(q, ev, n->call.args[0]);
            map_values(&r.vec, ev->nsteps, math_fns[k].fn);
            return r;
        }
    q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "function %s is not supported", name);
}
