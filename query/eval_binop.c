/*
 * eval_binop.c - binary operators: scalar/scalar, vector/scalar and
 * vector/vector arithmetic and comparisons (with and without bool), the
 * set operators and/or/unless, and vector matching (on/ignoring,
 * group_left/group_right with extra labels) with Prometheus' errors for
 * ambiguous matches. Semantics follow Prometheus' VectorBinop,
 * VectorscalarBinop, resultMetric and the set-operator functions.
 *
 * Matching signatures are computed once per series and turned into small
 * integer ids; each step then matches through arrays indexed by id.
 */
#include "query/eval_int.h"
#include "storage/err.h"

#include <math.h>

static bool changes_schema(ast_op op) {
    switch (op) {
    case AST_OP_ADD: case AST_OP_SUB: case AST_OP_MUL: case AST_OP_DIV:
    case AST_OP_POW: case AST_OP_MOD: case AST_OP_ATAN2:
        return true;
    default:
        return false;
    }
}

/* vectorElemBinop for floats: the value and whether the element is kept. */
static double elem_op(ast_op op, double l, double r, bool *keep) {
    *keep = true;
    switch (op) {
    case AST_OP_ADD: return l + r;
    case AST_OP_SUB: return l - r;
    case AST_OP_MUL: return l * r;
    case AST_OP_DIV: return l / r;
    case AST_OP_POW: return pow(l, r);
    case AST_OP_MOD: return fmod(l, r);
    case AST_OP_ATAN2: return atan2(l, r);
    case AST_OP_EQLC: *keep = l == r; return l;
    case AST_OP_NEQ: *keep = l != r; return l;
    case AST_OP_GTR: *keep = l > r; return l;
    case AST_OP_LSS: *keep = l < r; return l;
    case AST_OP_GTE: *keep = l >= r; return l;
    case AST_OP_LTE: *keep = l <= r; return l;
    default: *keep = false; return 0;
    }
}

static pql_val scalar_scalar(pql_q *q, const pql_ev *ev, const ast_node *n, pql_val l, pql_val r) {
    for (size_t i = 0; i < ev->nsteps; i++) {
        bool keep;
        double v = elem_op(n->binary.op, l.scalar[i], r.scalar[i], &keep);
        if (ast_op_is_comparison(n->binary.op)) v = keep ? 1 : 0;
        l.scalar[i] = v;
    }
    val_free(q, &r);
    return l;
}

static pql_val vector_scalar(pql_q *q, const pql_ev *ev, const ast_node *n, pql_val vec,
                             const double *sc, bool swap) {
    ast_op op = n->binary.op;
    bool rb = n->binary.return_bool;
    bool cmp = ast_op_is_comparison(op);
    double absent = pql_absent();
    size_t k = 0;
    for (size_t s = 0; s < vec.vec.n; s++) {
        pql_series *se = &vec.vec.s[s];
        bool any = false;
        for (size_t i = 0; i < ev->nsteps; i++) {
            double x = se->v[i];
            if (pql_is_absent(x)) continue;
            double lf = x, rf = sc[i];
            if (swap) {
                lf = sc[i];
                rf = x;
            }
            bool keep;
            double v = elem_op(op, lf, rf, &keep);
            if (cmp && swap) v = rf;
            if (rb) {
                v = keep ? 1 : 0;
                keep = true;
            }
            se->v[i] = keep ? v : absent;
            if (keep) any = true;
        }
        if (changes_schema(op) || rb) se->drop_name = true;
        if (any) vec.vec.s[k++] = *se;
        else q_free(q, se->v);
    }
    vec.vec.n = k;
    return vec;
}

/* Signature ids of both sides' series. */
typedef struct sigs {
    size_t *lid, *rid;
    size_t nids;
} sigs;

static sigs make_sigs(pql_q *q, const ast_matching *m, const pql_vec *l, const pql_vec *r) {
    sigs s;
    smap map;
    smap_init(&map);
    s.lid = q_alloc(q, (l->n + 1) * sizeof *s.lid);
    s.rid = q_alloc(q, (r->n + 1) * sizeof *s.rid);
    size_t next = 0;
    for (int side = 0; side < 2; side++) {
        const pql_vec *v = side ? r : l;
        size_t *ids = side ? s.rid : s.lid;
        for (size_t i = 0; i < v->n; i++) {
            size_t len;
            const char *k = labels_signature(q, &v->s[i].lbls, m->on, m->labels.v, m->labels.n, &len);
            bool found;
            ids[i] = smap_get_or_put(q, &map, k, len, next, &found);
            if (!found) next++;
        }
    }
    smap_free(q, &map);
    s.nids = next;
    return s;
}

static void sigs_free(pql_q *q, sigs *s) {
    q_free(q, s->lid);
    q_free(q, s->rid);
}

static pql_val set_op(pql_q *q, const pql_ev *ev, const ast_node *n, pql_val l, pql_val r) {
    ast_op op = n->binary.op;
    sigs sg = make_sigs(q, n->binary.matching, &l.vec, &r.vec);
    size_t *mark = q_alloc(q, (sg.nids + 1) * sizeof *mark); /* step+1 when seen */
    memset(mark, 0, (sg.nids + 1) * sizeof *mark);
    size_t *lout = q_alloc(q, (l.vec.n + 1) * sizeof *lout);
    size_t *rout = q_alloc(q, (r.vec.n + 1) * sizeof *rout);
    for (size_t i = 0; i < l.vec.n; i++) lout[i] = (size_t)-1;
    for (size_t i = 0; i < r.vec.n; i++) rout[i] = (size_t)-1;
    collector c;
    coll_init(&c, ev);
    for (size_t i = 0; i < ev->nsteps; i++) {
        size_t tag = i + 1;
        size_t nl = 0, nr = 0;
        for (size_t s = 0; s < l.vec.n; s++) nl += !pql_is_absent(l.vec.s[s].v[i]);
        for (size_t s = 0; s < r.vec.n; s++) nr += !pql_is_absent(r.vec.s[s].v[i]);
        if (op == AST_OP_OR) {
            for (size_t s = 0; s < l.vec.n; s++) {
                double x = l.vec.s[s].v[i];
                if (pql_is_absent(x)) continue;
                mark[sg.lid[s]] = tag;
                if (lout[s] == (size_t)-1) lout[s] = coll_series(q, &c, l.vec.s[s].lbls, l.vec.s[s].drop_name);
                coll_set(q, &c, lout[s], i, x);
            }
            for (size_t s = 0; s < r.vec.n; s++) {
                double x = r.vec.s[s].v[i];
                if (pql_is_absent(x) || (nl && mark[sg.rid[s]] == tag)) continue;
                if (rout[s] == (size_t)-1) rout[s] = coll_series(q, &c, r.vec.s[s].lbls, r.vec.s[s].drop_name);
                coll_set(q, &c, rout[s], i, x);
            }
            continue;
        }
        if (op == AST_OP_AND && (!nl || !nr)) continue;
        for (size_t s = 0; s < r.vec.n; s++)
            if (!pql_is_absent(r.vec.s[s].v[i])) mark[sg.rid[s]] = tag;
        for (size_t s = 0; s < l.vec.n; s++) {
            double x = l.vec.s[s].v[i];
            if (pql_is_absent(x)) continue;
            bool matched = nr && mark[sg.lid[s]] == tag;
            if ((op == AST_OP_AND) != matched) continue;
            if (lout[s] == (size_t)-1) lout[s] = coll_series(q, &c, l.vec.s[s].lbls, l.vec.s[s].drop_name);
            coll_set(q, &c, lout[s], i, x);
        }
    }
    q_free(q, mark);
    q_free(q, lout);
    q_free(q, rout);
    sigs_free(q, &sg);
    val_free(q, &l);
    val_free(q, &r);
    pql_val out = {.type = PQL_TYPE_VECTOR};
    out.vec = coll_take(q, &c);
    return out;
}

static labels match_labels(pql_q *q, const labels *l, const ast_matching *m) {
    lbuild b = {0};
    lb_from(q, &b, l);
    if (m->on) lb_keep_only(&b, m->labels.v, m->labels.n);
    else {
        lb_remove(&b, "__name__");
        for (size_t i = 0; i < m->labels.n; i++) lb_remove(&b, m->labels.v[i]);
    }
    labels r = lb_finish(q, &b);
    lb_release(q, &b);
    return r;
}

static labels result_metric(pql_q *q, const labels *lhs, const labels *rhs, ast_op op,
                            const ast_matching *m) {
    lbuild b = {0};
    lb_from(q, &b, lhs);
    if (changes_schema(op)) {
        lb_remove(&b, "__name__");
        lb_remove(&b, "__type__");
        lb_remove(&b, "__unit__");
    }
    if (m->card == AST_CARD_ONE_TO_ONE) {
        if (m->on) lb_keep_only(&b, m->labels.v, m->labels.n);
        else
            for (size_t i = 0; i < m->labels.n; i++) lb_remove(&b, m->labels.v[i]);
    }
    for (size_t i = 0; i < m->include.n; i++) {
        const char *v = labels_get(rhs, m->include.v[i]);
        if (v && *v) lb_put(q, &b, m->include.v[i], v);
        else lb_remove(&b, m->include.v[i]);
    }
    labels r = lb_finish(q, &b);
    lb_release(q, &b);
    return r;
}

static pql_val vector_vector(pql_q *q, const pql_ev *ev, const ast_node *n, pql_val l, pql_val r) {
    const ast_matching *m = n->binary.matching;
    ast_op op = n->binary.op;
    bool rb = n->binary.return_bool;
    bool swap = m->card == AST_CARD_ONE_TO_MANY;
    pql_vec *L = swap ? &r.vec : &l.vec, *R = swap ? &l.vec : &r.vec;
    sigs sg = make_sigs(q, m, &l.vec, &r.vec);
    size_t *lsig = swap ? sg.rid : sg.lid, *rsig = swap ? sg.lid : sg.rid;
    size_t nids = sg.nids + 1;
    size_t *rhs_at = q_alloc(q, nids * sizeof *rhs_at);   /* rhs series index + 1 at this step */
    size_t *matched = q_alloc(q, nids * sizeof *matched); /* step + 1 when matched (one-to-one) */
    memset(matched, 0, nids * sizeof *matched);
    for (size_t i = 0; i < nids; i++) rhs_at[i] = 0;
    size_t *cache_r = q_alloc(q, (L->n + 1) * sizeof *cache_r);
    size_t *cache_o = q_alloc(q, (L->n + 1) * sizeof *cache_o);
    for (size_t i = 0; i < L->n; i++) cache_r[i] = (size_t)-1;
    collector c;
    coll_init(&c, ev);
    for (size_t i = 0; i < ev->nsteps; i++) {
        if ((i & 255) == 255) q_check(q);
        size_t nl = 0, nr = 0;
        for (size_t s = 0; s < L->n; s++) nl += !pql_is_absent(L->s[s].v[i]);
        for (size_t s = 0; s < R->n; s++) nr += !pql_is_absent(R->s[s].v[i]);
        if (!nl || !nr) continue;
        for (size_t s = 0; s < R->n; s++) {
            if (pql_is_absent(R->s[s].v[i])) continue;
            size_t id = rsig[s];
            if (rhs_at[id]) {
                const pql_series *dup = &R->s[rhs_at[id] - 1];
                labels ml = match_labels(q, &R->s[s].lbls, m);
                q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL,
                       "found duplicate series for the match group %s on the %s hand-side of the "
                       "operation: [%s, %s];many-to-many matching not allowed: matching labels must "
                       "be unique on one side",
                       labels_str(q, &ml), swap ? "left" : "right", labels_str(q, &R->s[s].lbls),
                       labels_str(q, &dup->lbls));
            }
            rhs_at[id] = s + 1;
        }
        for (size_t s = 0; s < L->n; s++) {
            double lv = L->s[s].v[i];
            if (pql_is_absent(lv)) continue;
            size_t id = lsig[s];
            if (!rhs_at[id]) continue;
            size_t rs = rhs_at[id] - 1;
            double fl = lv, fr = R->s[rs].v[i];
            if (swap) {
                fl = fr;
                fr = lv;
            }
            bool keep;
            double v = elem_op(op, fl, fr, &keep);
            if (rb) v = keep ? 1 : 0;
            else if (!keep) continue;
            if (m->card == AST_CARD_ONE_TO_ONE) {
                if (matched[id] == i + 1)
                    q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL,
                           "multiple matches for labels: many-to-one matching must be explicit "
                           "(group_left/group_right)");
                matched[id] = i + 1;
            }
            size_t oi;
            if (cache_r[s] == rs) oi = cache_o[s];
            else {
                labels rm = result_metric(q, &L->s[s].lbls, &R->s[rs].lbls, op, m);
                oi = coll_series(q, &c, rm, rb);
                cache_r[s] = rs;
                cache_o[s] = oi;
            }
            if (m->card != AST_CARD_ONE_TO_ONE && !pql_is_absent(c.out.s[oi].v[i]))
                q_fail(q, PQL_ERR_EXECUTION, FLINT_EINVAL,
                       "multiple matches for labels: grouping labels must ensure unique matches");
            coll_set(q, &c, oi, i, v);
        }
        for (size_t s = 0; s < R->n; s++) rhs_at[rsig[s]] = 0;
    }
    q_free(q, rhs_at);
    q_free(q, matched);
    q_free(q, cache_r);
    q_free(q, cache_o);
    sigs_free(q, &sg);
    val_free(q, &l);
    val_free(q, &r);
    pql_val out = {.type = PQL_TYPE_VECTOR};
    out.vec = coll_take(q, &c);
    return out;
}

pql_val eval_binary(pql_q *q, const pql_ev *ev, const ast_node *n) {
    pql_val l = eval_node(q, ev, n->binary.lhs);
    pql_val r = eval_node(q, ev, n->binary.rhs);
    if (l.type == PQL_TYPE_SCALAR && r.type == PQL_TYPE_SCALAR) return scalar_scalar(q, ev, n, l, r);
    if (l.type == PQL_TYPE_VECTOR && r.type == PQL_TYPE_SCALAR) {
        pql_val out = vector_scalar(q, ev, n, l, r.scalar, false);
        val_free(q, &r);
        return out;
    }
    if (l.type == PQL_TYPE_SCALAR && r.type == PQL_TYPE_VECTOR) {
        pql_val out = vector_scalar(q, ev, n, r, l.scalar, true);
        val_free(q, &l);
        return out;
    }
    if (ast_op_is_set(n->binary.op)) return set_op(q, ev, n, l, r);
    return vector_vector(q, ev, n, l, r);
}
