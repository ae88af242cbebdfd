/*
 * eval_range.c - functions over range vectors (rate, increase, delta,
 * irate, idelta, deriv, predict_linear, resets, changes, the *_over_time
 * family, double_exponential_smoothing, absent_over_time) and subqueries.
 *
 * Each input series is read once: a matrix selector loads the series'
 * samples over the whole query span (stale markers dropped), a subquery
 * evaluates its inner expression over its own aligned steps; then every
 * outer step slides a left-open window (T - range, T] over those points
 * with two indices that only move forward. Follows Prometheus'
 * functions.go (extrapolatedRate, instantValue, linearRegression, the
 * Kahan-compensated sums and means).
 */
#include "query/eval_int.h"
#include "storage/chunk.h"
#include "storage/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct rwin {
    const int64_t *t;
    const double *v;
    size_t n;
    int64_t rstart, rend; /* T - range, T */
    int64_t range_ms;
    int64_t ts;           /* step time */
    double p0, p1;        /* scalar arguments at this step */
    bool no_resets;       /* known: no v[i] < v[i-1] in the window */
    bool isum_ok;         /* isum is the exact sum of the window */
    int64_t isum;
    double range_s;       /* range_ms / 1000 */
    struct xmemo *memo;   /* extrapolated(): the last window span's figures */
    pql_q *q;
} rwin;

/* Windows of regular scrapes mostly span the same time with the same
 * sample count and sit the same way against their step: their sampled
 * interval, average, threshold and extrapolation factor repeat, and a
 * window that repeats its predecessor's costs no division. */
typedef struct xmemo {
    int64_t span;
    size_t n1;
    double sampled, avg, threshold;
    int64_t start_ms, end_ms; /* key of the factor below; start_ms < 0: none */
    double start_s, end_s;    /* durations to the window's edges, thresholded */
    double factor;            /* extrapolation factor (and 1/range for rate) */
} xmemo;

/* float64(ms) / 1000 as Prometheus computes it; exact without dividing
 * when ms is whole seconds (the quotient is then representable). */
static inline double ms_to_s(int64_t ms) {
    int64_t s = ms / 1000;
    if (s * 1000 == ms && ms < (INT64_C(1) << 53) && ms > -(INT64_C(1) << 53)) return (double)s;
    return (double)ms / 1000;
}

typedef bool (*rfn)(const rwin *w, double *out);

static double extrapolation_factor(double range_s, double sampled, double to_start, double to_end, bool rate) {
    double interval = sampled;
    interval += to_start;
    interval += to_end;
    double factor = interval / sampled;
    if (rate) factor /= range_s;
    return factor;
}

/* Prometheus' extrapolatedRate over the n >= 2 points t, v of the window
 * (rstart, rend]; no_resets: known to hold no v[i] < v[i-1]. The memo only
 * skips recomputing the same figures; every value is the one the plain
 * formula gives. Inline, so run_counter_windows has it without a call. */
static inline __attribute__((always_inline)) double extrapolate(xmemo *mm, const int64_t *t, const double *v,
                                                                size_t n, int64_t rstart, int64_t rend,
                                                                double range_s, bool counter, bool rate,
                                                                bool no_resets) {
    size_t n1 = n - 1;
    double result = v[n1] - v[0];
    if (counter && !no_resets) {
        double prev = v[0];
        for (size_t i = 1; i < n; i++) {
            if (v[i] < prev) result += prev;
            prev = v[i];
        }
    }
    int64_t span = t[n1] - t[0];
    int64_t start_ms = t[0] - rstart, end_ms = rend - t[n1];
    if (mm->n1 != n1 || mm->span != span) {
        mm->n1 = n1;
        mm->span = span;
        mm->sampled = (double)span / 1000;
        mm->avg = mm->sampled / (double)n1;
        mm->threshold = mm->avg * 1.1;
        mm->start_ms = -1;
    }
    double sampled = mm->sampled;
    if (mm->start_ms != start_ms || mm->end_ms != end_ms) {
        double to_start = ms_to_s(start_ms), to_end = ms_to_s(end_ms);
        if (to_start >= mm->threshold) to_start = mm->avg / 2;
        if (to_end >= mm->threshold) to_end = mm->avg / 2;
        mm->start_ms = start_ms;
        mm->end_ms = end_ms;
        mm->start_s = to_start;
        mm->end_s = to_end;
        mm->factor = extrapolation_factor(range_s, sampled, to_start, to_end, rate);
    }
    double factor = mm->factor, v0 = v[0];
    /* A counter is not extrapolated below zero: toZero = sampled * (v0 /
     * result) replaces the start duration when shorter. With v0 * sampled
     * at least twice start * result it is not (the products' rounding is
     * far below that margin), which saves the division for the usual
     * counter far from zero. */
    if (counter && result > 0 && v0 >= 0 && !(result < 1e300 && v0 * sampled >= 2 * mm->start_s * result)) {
        double to_zero = sampled * (v0 / result);
        if (to_zero < mm->start_s) factor = extrapolation_factor(range_s, sampled, to_zero, mm->end_s, rate);
    }
    return result * factor;
}

static bool extrapolated(const rwin *w, double *out, bool counter, bool rate) {
    if (w->n < 2) return false;
    *out = extrapolate(w->memo, w->t, w->v, w->n, w->rstart, w->rend, w->range_s, counter, rate, w->no_resets);
    return true;
}
static bool f_rate(const rwin *w, double *o) { return extrapolated(w, o, true, true); }
static bool f_increase(const rwin *w, double *o) { return extrapolated(w, o, true, false); }
static bool f_delta(const rwin *w, double *o) { return extrapolated(w, o, false, false); }

static bool instant_value(const rwin *w, double *out, bool rate) {
    if (w->n < 2) return false;
    double v0 = w->v[w->n - 2], v1 = w->v[w->n - 1];
    int64_t dt = w->t[w->n - 1] - w->t[w->n - 2];
    if (dt == 0) return false;
    double r = v1;
    if (!rate || !(v1 < v0)) r = v1 - v0;
    if (rate) r /= (double)dt / 1000;
    *out = r;
    return true;
}
static bool f_irate(const rwin *w, double *o) { return instant_value(w, o, true); }
static bool f_idelta(const rwin *w, double *o) { return instant_value(w, o, false); }

static void linreg(const rwin *w, int64_t icept, double *slope, double *intercept) {
    double n = 0, sumX = 0, cX = 0, sumY = 0, cY = 0, sumXY = 0, cXY = 0, sumX2 = 0, cX2 = 0;
    double initY = w->v[0];
    bool constY = true;
    for (size_t i = 0; i < w->n; i++) {
        if (constY && i > 0 && w->v[i] != initY) constY = false;
        n += 1.0;
        double x = (double)(w->t[i] - icept) / 1e3;
        kahan_inc(x, &sumX, &cX);
        kahan_inc(w->v[i], &sumY, &cY);
        kahan_inc(x * w->v[i], &sumXY, &cXY);
        kahan_inc(x * x, &sumX2, &cX2);
    }
    if (constY) {
        if (isinf(initY)) {
            *slope = NAN;
            *intercept = NAN;
            return;
        }
        *slope = 0;
        *intercept = initY;
        return;
    }
    sumX += cX;
    sumY += cY;
    sumXY += cXY;
    sumX2 += cX2;
    double covXY = sumXY - sumX * sumY / n;
    double varX = sumX2 - sumX * sumX / n;
    *slope = covXY / varX;
    *intercept = sumY / n - *slope * sumX / n;
}
static bool f_deriv(const rwin *w, double *o) {
    if (w->n < 2) return false;
    double s, i;
    linreg(w, w->t[0], &s, &i);
    *o = s;
    return true;
}
static bool f_predict(const rwin *w, double *o) {
    if (w->n < 2) return false;
    double s, i;
    linreg(w, w->ts, &s, &i);
    *o = s * w->p0 + i;
    return true;
}
static bool f_resets(const rwin *w, double *o) {
    size_t r = 0;
    for (size_t i = 1; i < w->n; i++) r += w->v[i] < w->v[i - 1];
    *o = (double)r;
    return true;
}
static bool f_changes(const rwin *w, double *o) {
    size_t r = 0;
    for (size_t i = 1; i < w->n; i++) {
        double a = w->v[i - 1], b = w->v[i];
        if (a != b && !(isnan(a) && isnan(b))) r++;
    }
    *o = (double)r;
    return true;
}
static bool f_avg(const rwin *w, double *o) {
    if (w->isum_ok) {
        /* every partial sum below is an exact integer: the Kahan
         * compensation stays +0 and the incremental mean never starts */
        double count = (double)w->n;
        *o = (double)w->isum / count + 0.0 / count;
        return true;
    }
    double sum = w->v[0], count = 1, mean = 0, c = 0;
    bool incr = false;
    for (size_t i = 1; i < w->n; i++) {
        double f = w->v[i];
        count = (double)(i + 1);
        if (!incr) {
            double ns = sum, nc = c;
            kahan_inc(f, &ns, &nc);
            if (!isinf(ns)) {
                sum = ns;
                c = nc;
                continue;
            }
            incr = true;
            mean = sum / (count - 1);
            c /= count - 1;
        }
        double qq = (count - 1) / count;
        double m = qq * mean, cc = qq * c;
        kahan_inc(f / count, &m, &cc);
        mean = m;
        c = cc;
    }
    *o = incr ? mean + c : sum / count + c / count;
    return true;
}
static bool f_sum(const rwin *w, double *o) {
    if (w->isum_ok) { /* exact integer partial sums: compensation +0 */
        *o = (double)w->isum + 0.0;
        return true;
    }
    double sum = 0, c = 0;
    for (size_t i = 0; i < w->n; i++) kahan_inc(w->v[i], &sum, &c);
    *o = isinf(sum) ? sum : sum + c;
    return true;
}
static bool f_count(const rwin *w, double *o) { *o = (double)w->n; return true; }
static bool f_last(const rwin *w, double *o) { *o = w->v[w->n - 1]; return true; }
static bool f_present(const rwin *w, double *o) { (void)w; *o = 1; return true; }
static bool f_ts_last(const rwin *w, double *o) { *o = (double)w->t[w->n - 1] / 1000; return true; }
static bool cmp_over(const rwin *w, double *o, int mode) {
    double m = w->v[0];
    int64_t mt = w->t[0];
    for (size_t i = 0; i < w->n; i++) {
        double cur = w->v[i];
        bool take;
        switch (mode) {
        case 0: take = cur > m || isnan(m); break;  /* max */
        case 1: take = cur < m || isnan(m); break;  /* min */
        case 2: take = cur >= m || isnan(m); break; /* ts_of_max */
        default: take = cur <= m || isnan(m); break; /* ts_of_min */
        }
        if (take) {
            m = cur;
            mt = w->t[i];
        }
    }
    *o = mode < 2 ? m : (double)mt / 1000;
    return true;
}
static bool f_max(const rwin *w, double *o) { return cmp_over(w, o, 0); }
static bool f_min(const rwin *w, double *o) { return cmp_over(w, o, 1); }
static bool f_ts_max(const rwin *w, double *o) { return cmp_over(w, o, 2); }
static bool f_ts_min(const rwin *w, double *o) { return cmp_over(w, o, 3); }
static bool variance(const rwin *w, double *o, bool sd) {
    double count = 0, mean = 0, cMean = 0, aux = 0, cAux = 0;
    for (size_t i = 0; i < w->n; i++) {
        double f = w->v[i];
        count++;
        double delta = f - (mean + cMean);
        kahan_inc(delta / count, &mean, &cMean);
        kahan_inc(delta * (f - (mean + cMean)), &aux, &cAux);
    }
    double var = (aux + cAux) / count;
    *o = sd ? sqrt(var) : var;
    return true;
}
static bool f_stddev(const rwin *w, double *o) { return variance(w, o, true); }
static bool f_stdvar(const rwin *w, double *o) { return variance(w, o, false); }
static bool f_quantile(const rwin *w, double *o) {
    double *tmp = q_alloc(w->q, w->n * sizeof *tmp);
    memcpy(tmp, w->v, w->n * sizeof *tmp);
    *o = pql_quantile(w->p0, tmp, w->n);
    q_free(w->q, tmp);
    return true;
}
static bool f_mad(const rwin *w, double *o) {
    double *tmp = q_alloc(w->q, w->n * sizeof *tmp);
    memcpy(tmp, w->v, w->n * sizeof *tmp);
    double med = pql_quantile(0.5, tmp, w->n);
    for (size_t i = 0; i < w->n; i++) tmp[i] = fabs(w->v[i] - med);
    *o = pql_quantile(0.5, tmp, w->n);
    q_free(w->q, tmp);
    return true;
}
static bool f_des(const rwin *w, double *o) {
    double sf = w->p0, tf = w->p1;
    if (sf <= 0 || sf >= 1)
        q_fail(w->q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
    if (tf <= 0 || tf >= 1)
        q_fail(w->q, PQL_ERR_EXECUTION, FLINT_EINVAL, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
    if (w->n < 2) return false;
    double s0 = 0, s1 = w->v[0], b = w->v[1] - w->v[0];
    for (size_t i = 1; i < w->n; i++) {
        double x = sf * w->v[i];
        /* calcTrendValue(i-1, ...) */
        if (i - 1 != 0) b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    *o = s1;
    return true;
}

static const struct {
    const char *name;
    rfn fn;
} range_fns[] = {
    {"rate", f_rate}, {"increase", f_increase}, {"delta", f_delta}, {"irate", f_irate},
    {"idelta", f_idelta}, {"deriv", f_deriv}, {"predict_linear", f_predict},
    {"resets", f_resets}, {"changes", f_changes}, {"avg_over_time", f_avg},
    {"sum_over_time", f_sum}, {"count_over_time", f_count}, {"last_over_time", f_last},
    {"present_over_time", f_present}, {"max_over_time", f_max}, {"min_over_time", f_min},
    {"ts_of_last_over_time", f_ts_last}, {"ts_of_max_over_time", f_ts_max},
    {"ts_of_min_over_time", f_ts_min}, {"stddev_over_time", f_stddev},
    {"stdvar_over_time", f_stdvar}, {"quantile_over_time", f_quantile},
    {"mad_over_time", f_mad}, {"double_exponential_smoothing", f_des},
    {"absent_over_time", f_present},
};

/* ---- subqueries --------------------------------------------------------------------- */

pql_vec subquery_eval(pql_q *q, const pql_ev *ev, const ast_node *sq, size_t unused, pql_ev *inner,
                      int64_t *offset_out) {
    (void)unused;
    int64_t offset = mod_offset_ms(q, &sq->subquery.mod);
    int64_t range = node_range_ms(q, sq);
    int64_t step = sq->subquery.step_ms;
    if (sq->subquery.step_expr) {
        char err[256];
        if (ast_duration_ms(sq->subquery.step_expr, false, &step, err, sizeof err))
            q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "%s", err);
    }
    if (step <= 0) step = q->default_step;
    int64_t t0 = sel_time(q, ev, &sq->subquery.mod, offset, 0);
    int64_t t1 = sel_time(q, ev, &sq->subquery.mod, offset, ev->nsteps - 1);
    int64_t lo = t0 - range;
    inner->interval = step;
    inner->start = step * (lo / step);
    if (inner->start <= lo) inner->start += step;
    inner->end = t1;
    *offset_out = offset;
    pql_vec empty = {0};
    if (inner->end < inner->start) {
        inner->nsteps = 0;
        return empty;
    }
    inner->nsteps = (size_t)((inner->end - inner->start) / step) + 1;
    pql_val v = eval_node(q, inner, sq->subquery.expr);
    if (v.type == PQL_TYPE_SCALAR) {
        pql_vec r = {0};
        labels none = {NULL, 0};
        vec_push(q, &r, none, v.scalar, false);
        return r;
    }
    return v.vec;
}

/* ---- driving a range function over the steps --------------------------------------------- */

typedef struct rctx {
    const pql_ev *ev;
    const ast_node *call;
    const ast_modifiers *mod;
    int64_t offset, range;
    rfn fn;
    double *p0, *p1;
    bool drop_name, absent_over_time, counter_check;
    pql_vec out;
    bool *covered; /* absent_over_time: steps with any point */
    pql_raw buf;   /* samples without stale markers */
    pql_q *q;      /* read only in par_work */
    struct rslot *slots; /* select_series_par: one per series */
    size_t nslots;
} rctx;

/* True when every value is an integer and the sum of their magnitudes is
 * below 2^53: then any running sum over them in double is exact. */
static bool exact_int_sums(const double *v, size_t n) {
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(v[i]);
        if (!(a < 9007199254740992.0) || a != (double)(int64_t)a) return false;
        total += (uint64_t)a;
        if (total >= (UINT64_C(1) << 53)) return false;
    }
    return true;
}

/* run_windows for rate and increase at plain step times (no @): the same
 * windows and values, with the window bookkeeping and extrapolate() in one
 * loop instead of a call per step. */
static size_t run_counter_windows(pql_q *q, const rctx *c, const int64_t *t, const double *v, size_t n,
                                  double *vals, bool poll, bool rate) {
    const pql_ev *ev = c->ev;
    size_t lo = 0, hi = 0, npts = 0, last_reset = 0;
    xmemo memo = {.n1 = 0};
    double range_s = (double)c->range / 1000;
    int64_t T = ev->start - c->offset;
    for (size_t i = 0; i < ev->nsteps; i++, T += ev->interval) {
        if (poll && (i & 255) == 255) q_check(q);
        int64_t S = T - c->range;
        while (hi < n && t[hi] <= T) {
            if (hi > 0 && v[hi] < v[hi - 1]) last_reset = hi;
            hi++;
        }
        while (lo < hi && t[lo] <= S) lo++;
        if (hi - lo < 2) continue;
        vals[i] = extrapolate(&memo, t + lo, v + lo, hi - lo, S, T, range_s, true, rate, last_reset <= lo);
        npts++;
    }
    return npts;
}

/* Slide the windows of every step over one series' points (stale markers
 * removed) into vals (absent where the function gives nothing); returns the
 * points set. Reads q only (sel_time; q_check when poll), so it runs on
 * worker threads for the functions in pure_fn. */
static size_t run_windows(pql_q *q, const rctx *c, const int64_t *t, const double *v, size_t n,
                          double *vals, bool poll) {
    if ((c->fn == f_rate || c->fn == f_increase) && c->mod->at == AST_AT_NONE && !c->absent_over_time)
        return run_counter_windows(q, c, t, v, n, vals, poll, c->fn == f_rate);
    const pql_ev *ev = c->ev;
    size_t lo = 0, hi = 0, npts = 0, last_reset = 0;
    xmemo memo = {.n1 = 0};
    rwin w = {.q = q, .range_ms = c->range, .range_s = (double)c->range / 1000, .memo = &memo};
    int64_t prevT = 0, isum = 0;
    bool isums = (c->fn == f_avg || c->fn == f_sum) && exact_int_sums(v, n);
    for (size_t i = 0; i < ev->nsteps; i++) {
        if (poll && (i & 255) == 255) q_check(q); /* long windows (subqueries) */
        int64_t T = sel_time(q, ev, c->mod, c->offset, i);
        int64_t S = T - c->range;
        if (i > 0 && T < prevT) lo = hi = last_reset = 0, isum = 0;
        prevT = T;
        while (hi < n && t[hi] <= T) {
            if (hi > 0 && v[hi] < v[hi - 1]) last_reset = hi;
            if (isums) isum += (int64_t)v[hi];
            hi++;
        }
        while (lo < hi && t[lo] <= S) {
            if (isums) isum -= (int64_t)v[lo];
            lo++;
        }
        w.isum_ok = isums;
        w.isum = isum;
        if (lo >= hi) continue;
        if (c->absent_over_time) {
            c->covered[i] = true;
            continue;
        }
        w.t = t + lo;
        w.v = v + lo;
        w.n = hi - lo;
        w.rstart = S;
        w.rend = T;
        w.ts = ev_time(ev, i);
        w.p0 = c->p0 ? c->p0[i] : 0;
        w.p1 = c->p1 ? c->p1[i] : 0;
        w.no_resets = last_reset <= lo;
        double out;
        if (!c->fn(&w, &out)) continue;
        vals[i] = out;
        npts++;
    }
    return npts;
}

/* The output side of one series: limits, the counter-name info, the vector. */
static void finish_series(pql_q *q, rctx *c, const labels *l, size_t nraw, double *vals, size_t npts,
                          bool copy_labels) {
    q_samples_add(q, (int64_t)nraw);
    q_samples_add(q, -(int64_t)nraw);
    if (!npts) {
        q_free(q, vals);
        return;
    }
    q_samples_add(q, (int64_t)npts);
    if (c->counter_check) {
        const char *name = labels_get(l, "__name__");
        if (name && *name) {
            size_t nl = strlen(name);
            static const char *const sfx[] = {"_total", "_sum", "_count", "_bucket"};
            bool ok = false;
            for (size_t k = 0; k < 4 && !ok; k++) {
                size_t sl = strlen(sfx[k]);
                ok = nl >= sl && !strcmp(name + nl - sl, sfx[k]);
            }
            if (!ok)
                q_annotate(q, PQL_ANNO_INFO,
                           "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"%s\"",
                           name);
        }
    }
    vec_push(q, &c->out, copy_labels ? labels_copy(q, l) : *l, vals, c->drop_name);
}

static void run_series(pql_q *q, rctx *c, const labels *l, const int64_t *t, const double *v, size_t n,
                       bool copy_labels) {
    q_samples_add(q, (int64_t)n);
    q_samples_add(q, -(int64_t)n);
    double *vals = c->absent_over_time ? NULL : q_steps(q, c->ev);
    size_t npts = run_windows(q, c, t, v, n, vals, true);
    if (c->absent_over_time) return;
    finish_series(q, c, l, n, vals, npts, copy_labels);
}

static void sel_series_cb(pql_q *q, void *arg, const labels *l, const pql_raw *raw) {
    rctx *c = arg;
    c->buf.n = 0;
    if (c->buf.cap < raw->n) {
        c->buf.t = q_realloc(q, c->buf.t, (raw->n + 1) * sizeof *c->buf.t);
        c->buf.v = q_realloc(q, c->buf.v, (raw->n + 1) * sizeof *c->buf.v);
        c->buf.cap = raw->n;
    }
    for (size_t j = 0; j < raw->n; j++) {
        if (is_stale_nan(raw->v[j])) continue;
        c->buf.t[c->buf.n] = raw->t[j];
        c->buf.v[c->buf.n] = raw->v[j];
        c->buf.n++;
    }
    if (c->absent_over_time) {
        run_series(q, c, l, c->buf.t, c->buf.v, c->buf.n, false);
        return;
    }
    run_series(q, c, l, c->buf.t, c->buf.v, c->buf.n, true);
}

/* ---- the same over threads (select_series_par) ------------------------------------- */

typedef struct rslot {
    double *vals;
    size_t nraw, npts;
} rslot;

static void par_begin(pql_q *q, void *arg, size_t n) {
    rctx *c = arg;
    c->slots = q_calloc(q, (n ? n : 1) * sizeof *c->slots);
    c->nslots = n;
}

static int par_work(void *arg, size_t i, pql_raw *raw) {
    rctx *c = arg;
    size_t k = raw->finite ? raw->n : 0; /* finite: no stale marker to drop */
    for (; k < raw->n; k++) { /* no copying up to the first stale marker */
        uint64_t b;
        memcpy(&b, &raw->v[k], sizeof b);
        if (b == STALE_NAN_BITS) break;
    }
    for (size_t j = k; j < raw->n; j++) {
        uint64_t b;
        memcpy(&b, &raw->v[j], sizeof b);
        if (b == STALE_NAN_BITS) continue;
        raw->t[k] = raw->t[j];
        raw->v[k] = raw->v[j];
        k++;
    }
    rslot *s = &c->slots[i];
    s->nraw = k;
    if (!(s->vals = q_steps_shared(c->q, c->ev))) return flint_error(FLINT_ENOMEM, "out of memory");
    s->npts = run_windows(c->q, c, raw->t, raw->v, k, s->vals, false);
    if (!s->npts) {
        q_free_shared(c->q, s->vals);
        s->vals = NULL;
    }
    return 0;
}

static void par_done(pql_q *q, void *arg, size_t i, const labels *l) {
    rctx *c = arg;
    rslot *s = &c->slots[i];
    double *vals = s->vals;
    s->vals = NULL;
    finish_series(q, c, l, s->nraw, vals, s->npts, false);
}

/* Functions that only read their window (no allocation, no errors). */
static bool pure_fn(rfn fn) {
    return fn != f_quantile && fn != f_mad && fn != f_des;
}

pql_val eval_range_call(pql_q *q, const pql_ev *ev, const ast_node *n, size_t mi) {
    const char *name = n->call.func->name;
    rctx c = {.ev = ev, .call = n};
    for (size_t k = 0; k < sizeof range_fns / sizeof range_fns[0]; k++)
        if (!strcmp(name, range_fns[k].name)) c.fn = range_fns[k].fn;
    if (!c.fn) q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL, "function %s is not supported", name);
    c.drop_name = strcmp(name, "last_over_time") != 0;
    c.absent_over_time = !strcmp(name, "absent_over_time");
    c.counter_check = !strcmp(name, "rate") || !strcmp(name, "increase");
    /* scalar arguments, one value per step */
    size_t sk = 0;
    for (size_t i = 0; i < n->call.nargs; i++) {
        if (i == mi) continue;
        double *s = eval_scalar(q, ev, n->call.args[i]);
        if (sk++ == 0) c.p0 = s;
        else c.p1 = s;
    }
    if (!strcmp(name, "quantile_over_time")) {
        bool warned = false;
        for (size_t i = 0; i < ev->nsteps && !warned; i++) {
            double x = c.p0[i];
            if (isnan(x) || x < 0 || x > 1) {
                if (isnan(x)) q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got NaN");
                else q_annotate(q, PQL_ANNO_WARNING, "PromQL warning: quantile value should be between 0 and 1, got %g", x);
                warned = true;
            }
        }
    }
    if (c.absent_over_time) c.covered = q_calloc(q, ev->nsteps);
    const ast_node *arg = unwrap(n->call.args[mi]);
    if (arg->kind == AST_MATRIX_SELECTOR) {
        const ast_node *vs = arg->matrix.vs;
        c.mod = &vs->vs.mod;
        c.offset = mod_offset_ms(q, c.mod);
        c.range = node_range_ms(q, arg);
        int64_t t0 = sel_time(q, ev, c.mod, c.offset, 0);
        int64_t t1 = sel_time(q, ev, c.mod, c.offset, ev->nsteps - 1);
        if (!c.absent_over_time && pure_fn(c.fn)) {
            c.q = q;
            select_series_par(q, vs, t0 - c.range + 1, t1, par_begin, par_work, par_done, &c);
            q_free(q, c.slots);
        } else {
            select_series(q, vs, t0 - c.range + 1, t1, sel_series_cb, &c);
        }
        q_free(q, c.buf.t);
        q_free(q, c.buf.v);
    } else {
        pql_ev inner;
        int64_t off;
        pql_vec sv = subquery_eval(q, ev, arg, 0, &inner, &off);
        c.mod = &arg->subquery.mod;
        c.offset = off;
        c.range = node_range_ms(q, arg);
        int64_t *ts = q_alloc(q, (inner.nsteps + 1) * sizeof *ts);
        double *vs = q_alloc(q, (inner.nsteps + 1) * sizeof *vs);
        for (size_t s = 0; s < sv.n; s++) {
            q_check(q);
            size_t k = 0;
            for (size_t i = 0; i < inner.nsteps; i++) {
                double x = sv.s[s].v[i];
                if (pql_is_absent(x)) continue;
                ts[k] = ev_time(&inner, i);
                vs[k] = x;
                k++;
            }
            bool dn = c.drop_name;
            if (!c.drop_name) c.drop_name = sv.s[s].drop_name; /* last_over_time keeps the mark */
            run_series(q, &c, &sv.s[s].lbls, ts, vs, k, false);
            c.drop_name = dn;
            q_free(q, sv.s[s].v);
            sv.s[s].v = NULL;
        }
        q_free(q, ts);
        q_free(q, vs);
        vec_free(q, &sv);
    }
    q_free(q, c.p0);
    q_free(q, c.p1);
    pql_val r = {.type = PQL_TYPE_VECTOR};
    if (c.absent_over_time) {
        double *v = q_steps(q, ev);
        bool any = false;
        for (size_t i = 0; i < ev->nsteps; i++)
            if (!c.covered[i]) {
                v[i] = 1;
                any = true;
            }
        q_free(q, c.covered);
        vec_free(q, &c.out);
        if (any) vec_push(q, &r.vec, absent_labels(q, n->call.args[mi]), v, true);
        else q_free(q, v);
        return r;
    }
    r.vec = c.out;
    return r;
}
