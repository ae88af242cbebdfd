/*
 * eval_agg.c - aggregation operators: sum avg count min max group stddev
 * stdvar quantile (one series per group), topk bottomk limitk limit_ratio
 * (a subset of the input series per group) and count_values, with by /
 * without. Follows Prometheus' rangeEvalAgg, aggregation, aggregationK and
 * aggregationCountValues step for step, including its Kahan-compensated
 * sums, the switch to an incremental mean on overflow, Go's heap order for
 * topk/bottomk and xxhash64 label hashes for limit_ratio.
 */
#include "query/eval_int.h"
#include "query/literal.h"
#include "storage/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct gstate {
    double v, mean, c, count;
    bool seen, incr;
} gstate;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Group key of a series: `by` keeps the grouping labels, `without` drops
 * them and __name__. */
static const char *group_key(pql_q *q, const labels *l, bool without, char *const *g, size_t ng,
                             size_t *len) {
    return labels_signature(q, l, !without, g, ng, len);
}

static labels group_labels(pql_q *q, const labels *l, bool without, char *const *g, size_t ng) {
    lbuild b = {0};
    lb_from(q, &b, l);
    if (without) {
        for (size_t i = 0; i < ng; i++) lb_remove(&b, g[i]);
        lb_remove(&b, "__name__");
    } else {
        lb_keep_only(&b, g, ng);
    }
    labels r = lb_finish(q, &b);
    lb_release(q, &b);
    return r;
}

/* ---- Go's container/heap over series indices ------------------------------------ */
typedef struct kheap {
    size_t *idx;
    size_t n, cap;
    const pql_vec *in;
    size_t step;
    bool reverse; /* vectorByReverseValueHeap (bottomk) */
} kheap;

static bool kh_less(const kheap *h, size_t i, size_t j) {
    double vi = h->in->s[h->idx[i]].v[h->step], vj = h->in->s[h->idx[j]].v[h->step];
    if (isnan(vi)) return true;
    return h->reverse ? vi > vj : vi < vj;
}
static void kh_swap(kheap *h, size_t i, size_t j) {
    size_t t = h->idx[i];
    h->idx[i] = h->idx[j];
    h->idx[j] = t;
}
static void kh_up(kheap *h, size_t j) {
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (!kh_less(h, j, i)) break;
        kh_swap(h, i, j);
        j = i;
    }
}
static bool kh_down(kheap *h, size_t i0, size_t n) {
    size_t i = i0;
    for (;;) {
        size_t j1 = 2 * i + 1;
        if (j1 >= n) break;
        size_t j = j1;
        if (j1 + 1 < n && kh_less(h, j1 + 1, j1)) j = j1 + 1;
        if (!kh_less(h, j, i)) break;
        kh_swap(h, i, j);
        i = j;
    }
    return i > i0;
}
static void kh_push(pql_q *q, kheap *h, size_t series) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 8;
        h->idx = q_realloc(q, h->idx, nc * sizeof *h->idx);
        h->cap = nc;
    }
    h->idx[h->n++] = series;
    kh_up(h, h->n - 1);
}
static void kh_fix0(kheap *h) {
    if (!kh_down(h, 0, h->n)) kh_up(h, 0);
}
/* sort.Sort(sort.Reverse(heap)): insertion sort as Go uses for short
 * inputs (stable), which gives Go's order on ties for k <= 12. */
static void kh_sort_reverse(kheap *h) {
    for (size_t i = 1; i < h->n; i++)
        for (size_t j = i; j > 0 && kh_less(h, j - 1, j); j--) kh_swap(h, j, j - 1);
}

static uint64_t prom_labels_hash(const labels *l) {
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    const char sep = (char)0xff;
    for (size_t i = 0; i < l->n; i++) {
        XXH64_update(&st, l->v[i].name, strlen(l->v[i].name));
        XXH64_update(&st, &sep, 1);
        XXH64_update(&st, l->v[i].value, strlen(l->v[i].value));
        XXH64_update(&st, &sep, 1);
    }
    return XXH64_digest(&st);
}

static bool ratio_keep(const labels *l, double r) {
    double off = (double)prom_labels_hash(l) / (double)UINT64_MAX;
    return (r >= 0 && off < r) || (r < 0 && off >= 1.0 + r);
}

static bool convertible_to_int64(double v) {
    return v <= 9223372036854774784.0 && v >= -9223372036854775808.0;
}

static pql_val agg_k(pql_q *q, const pql_ev *ev, const ast_node *n, pql_vec *in,
                     const size_t *gid, size_t ngroups, const double *param) {
    ast_agg_op op = n->agg.op;
    collector c;
    coll_init(&c, ev);
    size_t *outidx = q_alloc(q, (in->n + 1) * sizeof *outidx);
    for (size_t s = 0; s < in->n; s++) outidx[s] = (size_t)-1;
    kheap *heaps = q_calloc(q, (ngroups + 1) * sizeof *heaps);
    bool *seen = q_alloc(q, ngroups + 1);
    double pmax = -INFINITY, pmin = INFINITY;
    for (size_t i = 0; i < ev->nsteps; i++) {
        if (param[i] > pmax) pmax = param[i];
        if (param[i] < pmin) pmin = param[i];
    }
    if (op == AST_AGG_LIMIT_RATIO) {
        if (pmax > 1.0)
            q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: ratio value should be between -1 and 1, got %g, capping to %g", pmax, 1.0);
        if (pmin < -1.0)
            q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: ratio value should be between -1 and 1, got %g, capping to %g", pmin, -1.0);
    }
    for (size_t i = 0; i < ev->nsteps; i++) {
        double fp = param[i];
        memset(seen, 0, ngroups + 1);
        for (size_t g = 0; g < ngroups; g++) {
            heaps[g].n = 0;
            heaps[g].in = in;
            heaps[g].step = i;
            heaps[g].reverse = op == AST_AGG_BOTTOMK;
        }
        int64_t k = 0;
        double r = 0;
        bool stop = false;
        size_t remaining = ngroups;
        for (size_t s = 0; s < in->n && !stop; s++) {
            if (pql_is_absent(in->s[s].v[i])) continue;
            if (op == AST_AGG_LIMIT_RATIO) {
                if (isnan(fp)) q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "Ratio value %g is NaN", fp);
                if (fp == 0) { stop = true; seen[0] = false; break; }
                r = fp < -1 ? -1 : fp > 1 ? 1 : fp;
            } else {
                if (!convertible_to_int64(fp))
                    q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "Scalar value %g overflows int64", fp);
                k = (int64_t)fp;
                if (k > (int64_t)in->n) k = (int64_t)in->n;
                if (k < 1) { stop = true; break; }
            }
            size_t g = gid[s];
            kheap *h = &heaps[g];
            if (!seen[g]) {
                seen[g] = true;
                if (op == AST_AGG_LIMIT_RATIO) {
                    if (ratio_keep(&in->s[s].lbls, r)) kh_push(q, h, s);
                } else {
                    kh_push(q, h, s);
                }
                if (op == AST_AGG_LIMITK && (int64_t)h->n == k && --remaining == 0) break;
                continue;
            }
            double v = in->s[s].v[i];
            switch (op) {
            case AST_AGG_TOPK: {
                double top = in->s[h->idx[0]].v[i];
                if ((int64_t)h->n < k) kh_push(q, h, s);
                else if (top < v || (isnan(top) && !isnan(v))) {
                    h->idx[0] = s;
                    if (k > 1) kh_fix0(h);
                }
                break;
            }
            case AST_AGG_BOTTOMK: {
                double top = in->s[h->idx[0]].v[i];
                if ((int64_t)h->n < k) kh_push(q, h, s);
                else if (top > v || (isnan(top) && !isnan(v))) {
                    h->idx[0] = s;
                    if (k > 1) kh_fix0(h);
                }
                break;
            }
            case AST_AGG_LIMITK:
                if ((int64_t)h->n < k) {
                    kh_push(q, h, s);
                    if ((int64_t)h->n == k && --remaining == 0) stop = true;
                }
                break;
            default: /* limit_ratio */
                if (ratio_keep(&in->s[s].lbls, r)) kh_push(q, h, s);
                break;
            }
        }
        if (stop && op != AST_AGG_LIMITK) continue;
        for (size_t g = 0; g < ngroups; g++) {
            if (!seen[g]) continue;
            kheap *h = &heaps[g];
            if ((op == AST_AGG_TOPK || op == AST_AGG_BOTTOMK) && h->n > 1) kh_sort_reverse(h);
            for (size_t j = 0; j < h->n; j++) {
                size_t s = h->idx[j];
                if (outidx[s] == (size_t)-1) outidx[s] = coll_series(q, &c, in->s[s].lbls, in->s[s].drop_name);
                coll_set(q, &c, outidx[s], i, in->s[s].v[i]);
            }
        }
    }
    for (size_t g = 0; g < ngroups; g++) q_free(q, heaps[g].idx);
    q_free(q, heaps);
    q_free(q, seen);
    q_free(q, outidx);
    pql_val out = {.type = PQL_TYPE_VECTOR};
    out.vec = coll_take(q, &c);
    return out;
}

static pql_val count_values(pql_q *q, const pql_ev *ev, const ast_node *n, char **grouping,
                            size_t ng, pql_vec *in) {
    size_t vl_len;
    const char *vlabel = string_arg(n->agg.param, &vl_len);
    collector c;
    coll_init(&c, ev);
    lbuild b = {0};
    fl_buf fb = {0};
    for (size_t i = 0; i < ev->nsteps; i++) {
        smap m;
        smap_init(&m);
        size_t *counts = NULL, *outs = NULL, ncounts = 0;
        for (size_t s = 0; s < in->n; s++) {
            double v = in->s[s].v[i];
            if (pql_is_absent(v)) continue;
            fb.len = 0;
            if (pql_format_float(&fb, v) || fl_buf_put_byte(&fb, 0)) {
                fl_buf_free(&fb);
                q_oom(q);
            }
            lb_from(q, &b, &in->s[s].lbls);
            lb_put(q, &b, vlabel, q_strdup(q, (const char *)fb.data, fb.len - 1));
            labels tmp = lb_finish(q, &b);
            size_t len;
            const char *key = group_key(q, &tmp, n->agg.without, grouping, ng, &len);
            bool found;
            size_t gi = smap_get_or_put(q, &m, key, len, ncounts, &found);
            if (!found) {
                counts = q_realloc(q, counts, (ncounts + 1) * sizeof *counts);
                outs = q_realloc(q, outs, (ncounts + 1) * sizeof *outs);
                counts[ncounts] = 0;
                outs[ncounts] = coll_series(q, &c, group_labels(q, &tmp, n->agg.without, grouping, ng), false);
                ncounts++;
            }
            counts[gi]++;
        }
        for (size_t g = 0; g < ncounts; g++) coll_set(q, &c, outs[g], i, (double)counts[g]);
        q_free(q, counts);
        q_free(q, outs);
        smap_free(q, &m);
    }
    fl_buf_free(&fb);
    lb_release(q, &b);
    pql_val out = {.type = PQL_TYPE_VECTOR};
    out.vec = coll_take(q, &c);
    return out;
}

/* The sum's Kahan states of steps [lo, hi), series in order. */
typedef struct sum_job {
    const pql_vec *in;
    const size_t *gid;
    double *sum, *comp;
    size_t ns;
} sum_job;

static void sum_steps(void *arg, size_t lo, size_t hi) {
    const sum_job *j = arg;
    for (size_t s = 0; s < j->in->n; s++) {
        const double *v = j->in->s[s].v;
        double *gsum = j->sum + j->gid[s] * j->ns, *gc = j->comp + j->gid[s] * j->ns;
        for (size_t i = lo; i < hi; i++) {
            double f = v[i];
            if (pql_is_absent(f)) continue;
            if (pql_is_absent(gsum[i])) gsum[i] = f;
            else kahan_inc(f, &gsum[i], &gc[i]);
        }
    }
}

/* Drop groups without points; returns the points kept. Prometheus copies
 * the drop-name mark from the input series with the group's index
 * (engine.go aggregation()); kept for identical results. */
static int64_t agg_finish(pql_q *q, const pql_ev *ev, const pql_vec *in, pql_vec *out) {
    size_t k = 0;
    int64_t npts = 0;
    for (size_t g = 0; g < out->n; g++) {
        bool any = false;
        for (size_t i = 0; i < ev->nsteps; i++)
            if (!pql_is_absent(out->s[g].v[i])) { any = true; npts++; }
        out->s[g].drop_name = g < in->n ? in->s[g].drop_name : false;
        if (any) out->s[k++] = out->s[g];
        else q_free(q, out->s[g].v);
    }
    out->n = k;
    return npts;
}

pql_val eval_aggregate(pql_q *q, const pql_ev *ev, const ast_node *n) {
    ast_agg_op op = n->agg.op;
    size_t ng = n->agg.grouping.n;
    char **grouping = q_alloc(q, (ng + 1) * sizeof *grouping);
    if (ng) memcpy(grouping, n->agg.grouping.v, ng * sizeof *grouping);
    qsort(grouping, ng, sizeof *grouping, cmp_str);

    if (op == AST_AGG_COUNT_VALUES) {
        size_t vl_len;
        const char *vl = string_arg(n->agg.param, &vl_len);
        if (vl_len == 0 || !pql_utf8_valid(vl, vl_len) || memchr(vl, 0, vl_len)) {
            char qbuf[300];
            q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid label name %s",
                   pql_quote_str(qbuf, sizeof qbuf, vl, vl_len));
        }
        if (!n->agg.without) {
            grouping = q_realloc(q, grouping, (ng + 2) * sizeof *grouping);
            grouping[ng++] = (char *)vl;
            qsort(grouping, ng, sizeof *grouping, cmp_str);
        }
        pql_val in = eval_node(q, ev, n->agg.expr);
        pql_val out = count_values(q, ev, n, grouping, ng, &in.vec);
        val_free(q, &in);
        q_free(q, grouping);
        return out;
    }

    double *param = NULL;
    bool const_param = false;
    if (n->agg.param) {
        param = eval_scalar(q, ev, n->agg.param);
        const_param = unwrap(n->agg.param)->kind == AST_NUMBER;
    }
    (void)const_param;
    pql_val inv = eval_node(q, ev, n->agg.expr);
    pql_vec *in = &inv.vec;

    /* series -> group */
    size_t *gid = q_alloc(q, (in->n + 1) * sizeof *gid);
    smap m;
    smap_init(&m);
    size_t ngroups = 0;
    bool kind_k = op == AST_AGG_TOPK || op == AST_AGG_BOTTOMK || op == AST_AGG_LIMITK ||
                  op == AST_AGG_LIMIT_RATIO;
    pql_vec out = {0};
    for (size_t s = 0; s < in->n; s++) {
        size_t len;
        const char *key = group_key(q, &in->s[s].lbls, n->agg.without, grouping, ng, &len);
        bool found;
        gid[s] = smap_get_or_put(q, &m, key, len, ngroups, &found);
        if (!found) {
            if (!kind_k) {
                labels gl = group_labels(q, &in->s[s].lbls, n->agg.without, grouping, ng);
                vec_push(q, &out, gl, q_steps(q, ev), false);
            }
            ngroups++;
        }
    }
    smap_free(q, &m);

    if (kind_k) {
        double pmax = -INFINITY, pmin = INFINITY;
        for (size_t i = 0; i < ev->nsteps; i++) {
            pmax = fmax(pmax, param[i]);
            pmin = fmin(pmin, param[i]);
        }
        pql_val r = {.type = PQL_TYPE_VECTOR};
        if (!(op == AST_AGG_LIMIT_RATIO ? (pmax == 0 && pmin == 0) : pmax < 1))
            r = agg_k(q, ev, n, in, gid, ngroups, param);
        else if (op == AST_AGG_LIMIT_RATIO || pmax < 1) {
            /* nothing selected */
        }
        q_free(q, gid);
        q_free(q, param);
        val_free(q, &inv);
        q_free(q, grouping);
        return r;
    }

    if (op == AST_AGG_QUANTILE) {
        bool has_nan = false;
        double pmax = -INFINITY, pmin = INFINITY;
        for (size_t i = 0; i < ev->nsteps; i++) {
            if (isnan(param[i])) has_nan = true;
            pmax = fmax(pmax, param[i]);
            pmin = fmin(pmin, param[i]);
        }
        if (has_nan) q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got NaN");
        if (pmax > 1) q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got %g", pmax);
        if (pmin < 0) q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got %g", pmin);
    }

    if (op == AST_AGG_SUM && ngroups * ev->nsteps <= (size_t)1 << 21) {
        /* sum: series by series over contiguous values, one Kahan state
         * per (group, step); each state sees its series in the same order
         * as the step-major loop below, so the sums are identical */
        size_t ns = ev->nsteps;
        double *sum = q_alloc(q, (ngroups * ns + 1) * sizeof *sum);
        double *comp = q_calloc(q, (ngroups * ns + 1) * sizeof *comp);
        for (size_t g = 0; g < ngroups; g++) memcpy(sum + g * ns, out.s[g].v, ns * sizeof *sum);
        q_check(q);
        sum_job job = {in, gid, sum, comp, ns};
        q_parallel_ranges(q, ns, in->n * ns, sum_steps, &job); /* steps are independent */
        q_check(q);
        for (size_t g = 0; g < ngroups; g++)
            for (size_t i = 0; i < ns; i++) {
                double v = sum[g * ns + i];
                out.s[g].v[i] = pql_is_absent(v) ? v : v + comp[g * ns + i];
            }
        q_free(q, sum);
        q_free(q, comp);
        int64_t npts = agg_finish(q, ev, in, &out);
        q_free(q, gid);
        q_free(q, param);
        val_free(q, &inv);
        q_free(q, grouping);
        q_samples_add(q, npts);
        return (pql_val){.type = PQL_TYPE_VECTOR, .vec = out};
    }
    gstate *gs = q_alloc(q, (ngroups + 1) * sizeof *gs);
    double **qv = NULL;
    size_t *qn = NULL;
    if (op == AST_AGG_QUANTILE) {
        qv = q_calloc(q, (ngroups + 1) * sizeof *qv);
        qn = q_calloc(q, (ngroups + 1) * sizeof *qn);
        for (size_t s = 0; s < in->n; s++) qn[gid[s]]++;
        for (size_t g = 0; g < ngroups; g++) qv[g] = q_alloc(q, (qn[g] + 1) * sizeof(double));
    }
    for (size_t i = 0; i < ev->nsteps; i++) {
        if ((i & 255) == 255) q_check(q);
        for (size_t g = 0; g < ngroups; g++) {
            gs[g].seen = false;
            if (qn) qn[g] = 0;
        }
        for (size_t s = 0; s < in->n; s++) {
            double f = in->s[s].v[i];
            if (pql_is_absent(f)) continue;
            gstate *g = &gs[gid[s]];
            if (!g->seen) {
                g->seen = true;
                g->v = f;
                g->mean = f;
                g->c = 0;
                g->count = 1;
                g->incr = false;
                switch (op) {
                case AST_AGG_STDVAR:
                case AST_AGG_STDDEV: g->v = (isnan(f) || isinf(f)) ? NAN : 0; break;
                case AST_AGG_GROUP: g->v = 1; break;
                case AST_AGG_QUANTILE: qv[gid[s]][qn[gid[s]]++] = f; break;
                default: break;
                }
                continue;
            }
            switch (op) {
            case AST_AGG_SUM: kahan_inc(f, &g->v, &g->c); break;
            case AST_AGG_AVG:
                g->count++;
                if (!g->incr) {
                    double nv = g->v, nc = g->c;
                    kahan_inc(f, &nv, &nc);
                    if (!isinf(nv)) {
                        g->v = nv;
                        g->c = nc;
                        break;
                    }
                    g->incr = true;
                    g->mean = g->v / (g->count - 1);
                    g->c /= g->count - 1;
                }
                {
                    double qq = (g->count - 1) / g->count;
                    double mean = qq * g->mean, c = qq * g->c;
                    kahan_inc(f / g->count, &mean, &c);
                    g->mean = mean;
                    g->c = c;
                }
                break;
            case AST_AGG_GROUP: break;
            case AST_AGG_MAX: if (g->v < f || isnan(g->v)) g->v = f; break;
            case AST_AGG_MIN: if (g->v > f || isnan(g->v)) g->v = f; break;
            case AST_AGG_COUNT: g->count++; break;
            case AST_AGG_STDVAR:
            case AST_AGG_STDDEV: {
                g->count++;
                double delta = f - g->mean;
                g->mean += delta / g->count;
                g->v += delta * (f - g->mean);
                break;
            }
            case AST_AGG_QUANTILE: qv[gid[s]][qn[gid[s]]++] = f; break;
            default: break;
            }
        }
        for (size_t g = 0; g < ngroups; g++) {
            gstate *a = &gs[g];
            if (!a->seen) continue;
            double v = a->v;
            switch (op) {
            case AST_AGG_AVG: v = a->incr ? a->mean + a->c : a->v / a->count + a->c / a->count; break;
            case AST_AGG_COUNT: v = a->count; break;
            case AST_AGG_STDVAR: v = a->v / a->count; break;
            case AST_AGG_STDDEV: v = sqrt(a->v / a->count); break;
            case AST_AGG_QUANTILE: v = pql_quantile(param[i], qv[g], qn[g]); break;
            case AST_AGG_SUM: v = a->v + a->c; break;
            default: break;
            }
            out.s[g].v[i] = v;
        }
    }
    int64_t npts = agg_finish(q, ev, in, &out);
    if (qv) {
        for (size_t g = 0; g < ngroups; g++) q_free(q, qv[g]);
        q_free(q, qv);
        q_free(q, qn);
    }
    q_free(q, gs);
    q_free(q, gid);
    q_free(q, param);
    val_free(q, &inv);
    q_free(q, grouping);
    q_samples_add(q, npts);
    pql_val r = {.type = PQL_TYPE_VECTOR, .vec = out};
    return r;
}
