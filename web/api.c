/*
 * api.c - the HTTP API of api.h: request plumbing on libmicrohttpd (raw
 * URI captured by the URI log callback so repeated and '+'-encoded
 * parameters are decoded by web/params.c, POST bodies collected up to a
 * limit), a route table, one handler per endpoint written after
 * Prometheus' web/api/v1/api.go, the JSON envelope (web/json.h) and
 * gzip with zlib.
 *
 * Parameters come from the form body first, then the query string, as
 * Go's Request.FormValue reads them.
 */
#include "web/api.h"

#include "query/parse.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "web/json.h"
#include "web/params.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Prometheus' limit on points per series in a range query. */
#define API_MAX_POINTS 11000

struct api_server {
    struct MHD_Daemon *daemon;
    tsdb *db;
    pql_engine_opts engine_opts;
    pql_engine *engine;
    char *version, *revision;
    size_t max_body_bytes;
    uint16_t port;
    scrape_manager *scraper;
    int (*reload)(void *ctx, char **errmsg); /* lifecycle API (api_options) */
    void *reload_ctx;
    bool enable_lifecycle;
};

void api_options_default(api_options *o) {
    memset(o, 0, sizeof *o);
    o->listen_address = "127.0.0.1:9090";
}

/* ---- requests and responses -------------------------------------------------- */

typedef struct api_req {
    api_server *srv;
    struct MHD_Connection *conn;
    char *uri;          /* raw request target: path and query string */
    fl_buf body;
    bool body_too_large;
    bool started;
    api_params params;  /* body pairs first, then the query string's */
} api_req;

typedef struct api_resp {
    unsigned status;
    const char *content_type;
    json_writer w;      /* the body */
    const char *allow;  /* Allow header for 405 */
} api_resp;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void resp_text(api_resp *r, unsigned status, const char *text) {
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    jw_reset(&r->w);
    if (!r->w.err) r->w.err = fl_buf_put(&r->w.buf, text, strlen(text));
}

/* {"status":"error","errorType":...,"error":...} */
static void resp_error(api_resp *r, const char *errtype, const char *msg) {
    static const struct {
        const char *type;
        unsigned status;
    } codes[] = {{"bad_data", 400},  {"execution", 422}, {"canceled", 499}, {"timeout", 503},
                 {"internal", 500},  {"not_found", 404}, {"unavailable", 503}};
    r->status = 500;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].type, errtype) == 0) r->status = codes[i].status;
    r->content_type = "application/json";
    jw_reset(&r->w);
    jw_obj_begin(&r->w);
    jw_key(&r->w, "status");
    jw_cstr(&r->w, "error");
    jw_key(&r->w, "errorType");
    jw_cstr(&r->w, errtype);
    jw_key(&r->w, "error");
    jw_cstr(&r->w, msg);
    jw_obj_end(&r->w);
}

static int bad_data(api_resp *r, const char *msg) {
    resp_error(r, "bad_data", msg);
    return 0;
}

/* Start {"status":"success","data": ; the handler writes the data value. */
static void resp_begin(api_resp *r) {
    r->status = 200;
    r->content_type = "application/json";
    jw_reset(&r->w);
    jw_obj_begin(&r->w);
    jw_key(&r->w, "status");
    jw_cstr(&r->w, "success");
    jw_key(&r->w, "data");
}

/* Close the envelope, with Prometheus 3's "warnings"/"infos" when any. */
static void resp_end(api_resp *r, const pql_annotation *annos, size_t n, const char *extra_warning) {
    for (int kind = 0; kind < 2; kind++) {
        bool any = kind == 0 && extra_warning;
        for (size_t i = 0; i < n; i++) any |= (int)annos[i].kind == (kind == 0 ? PQL_ANNO_WARNING : PQL_ANNO_INFO);
        if (!any) continue;
        jw_key(&r->w, kind == 0 ? "warnings" : "infos");
        jw_arr_begin(&r->w);
        for (size_t i = 0; i < n; i++)
            if ((int)annos[i].kind == (kind == 0 ? PQL_ANNO_WARNING : PQL_ANNO_INFO)) jw_cstr(&r->w, annos[i].text);
        if (kind == 0 && extra_warning) jw_cstr(&r->w, extra_warning);
        jw_arr_end(&r->w);
    }
    jw_obj_end(&r->w);
}

static const char *param(const api_req *q, const char *key) { return params_get(&q->params, key); }

/* ---- shared parameter handling ---------------------------------------------- */

static void write_labels(json_writer *w, const labels *l) {
    jw_obj_begin(w);
    for (size_t i = 0; i < l->n; i++) {
        jw_key(w, l->v[i].name);
        jw_cstr(w, l->v[i].value);
    }
    jw_obj_end(w);
}

typedef struct matcher_set {
    matcher *v;
    size_t n;
} matcher_set;

typedef struct matcher_sets {
    matcher_set *v;
    size_t n;
} matcher_sets;

static void matcher_sets_free(matcher_sets *s) {
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->v[i].n; j++) matcher_free(&s->v[i].v[j]);
        fl_free(s->v[i].v);
    }
    fl_free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Prometheus' parseMatchersParam: every match[] is a bare series selector
 * with at least one matcher that does not match the empty string. On
 * error returns non-zero with the message in err. */
static int parse_matchers(const api_req *q, matcher_sets *out, char *err, size_t errcap) {
    size_t n = params_count(&q->params, "match[]");
    memset(out, 0, sizeof *out);
    if (n == 0) return 0;
    out->v = fl_calloc(n, sizeof *out->v);
    if (!out->v) {
        snprintf(err, errcap, "out of memory");
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = params_get_nth(&q->params, "match[]", i);
        ast_node *tree = NULL;
        pql_error perr;
        int rc = pql_parse(s, strlen(s), &tree, &perr);
        if (rc) {
            snprintf(err, errcap, "%s", perr.msg);
            matcher_sets_free(out);
            return rc;
        }
        if (tree->kind != AST_VECTOR_SELECTOR || tree->vs.mod.offset_ms || tree->vs.mod.offset_expr ||
            tree->vs.mod.at != AST_AT_NONE) {
            snprintf(err, errcap, "1:1: parse error: expected a series selector, got %s", s);
            ast_free(tree);
            matcher_sets_free(out);
            return FLINT_EINVAL;
        }
        matcher_set *set = &out->v[out->n++];
        set->v = fl_calloc(tree->vs.nmatchers ? tree->vs.nmatchers : 1, sizeof *set->v);
        if (!set->v) {
            ast_free(tree);
            matcher_sets_free(out);
            snprintf(err, errcap, "out of memory");
            return FLINT_ENOMEM;
        }
        bool non_empty = false;
        for (size_t j = 0; j < tree->vs.nmatchers; j++) {
            const ast_matcher *am = &tree->vs.matchers[j];
            rc = matcher_init(&set->v[j], am->type, am->name, am->value);
            if (rc) {
                snprintf(err, errcap, "%s", flint_errmsg());
                ast_free(tree);
                matcher_sets_free(out);
                return rc;
            }
            set->n++;
            non_empty |= !am->matches_empty;
        }
        ast_free(tree);
        if (!non_empty) {
            snprintf(err, errcap, "match[] must contain at least one non-empty matcher");
            matcher_sets_free(out);
            return FLINT_EINVAL;
        }
    }
    return 0;
}

/* Prometheus' parseLimitParam; 0 = no limit. */
static int parse_limit(const api_req *q, size_t *limit, char *err, size_t errcap) {
    const char *s = param(q, "limit");
    *limit = 0;
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s || errno) {
        snprintf(err, errcap, "invalid parameter \"limit\": strconv.Atoi: parsing \"%s\": invalid syntax", s);
        return FLINT_EINVAL;
    }
    if (v < 0) {
        snprintf(err, errcap, "invalid parameter \"limit\": limit must be non-negative");
        return FLINT_EINVAL;
    }
    *limit = (size_t)v;
    return 0;
}

/* start/end of the metadata endpoints (defaults: all time). */
static int parse_start_end(const api_req *q, int64_t *start, int64_t *end, char *err, size_t errcap) {
    if (params_time_param("start", param(q, "start"), API_MIN_TIME_MS, start, err, errcap) ||
        params_time_param("end", param(q, "end"), API_MAX_TIME_MS, end, err, errcap))
        return FLINT_EINVAL;
    return 0;
}

/* The engine for one query: the server's, or one with a shorter timeout
 * when the request's `timeout` asks for it (*own set: free it). */
static int query_engine(const api_req *q, pql_engine **e, bool *own, char *err, size_t errcap) {
    const char *to = param(q, "timeout");
    *e = q->srv->engine;
    *own = false;
    if (!to || !*to) return 0;
    int64_t ms;
    if (params_duration("timeout", to, &ms, err, errcap)) return FLINT_EINVAL;
    if (ms < 1) ms = 1; /* an expired deadline: the query times out at once */
    pql_engine_opts eo = q->srv->engine_opts;
    int64_t cur = eo.timeout_ms == 0 ? 2 * 60 * 1000 : eo.timeout_ms;
    if (cur > 0 && cur <= ms) return 0;
    eo.timeout_ms = ms;
    *e = pql_engine_new(&eo);
    if (!*e) {
        snprintf(err, errcap, "out of memory");
        return FLINT_ENOMEM;
    }
    *own = true;
    return 0;
}

static const char *errtype_name(pql_errtype t) {
    switch (t) {
    case PQL_ERR_BAD_DATA: return "bad_data";
    case PQL_ERR_EXECUTION: return "execution";
    case PQL_ERR_TIMEOUT: return "timeout";
    case PQL_ERR_CANCELED: return "canceled";
    case PQL_ERR_TOO_MANY_SAMPLES: return "execution";
    case PQL_ERR_INTERNAL: return "internal";
    case PQL_ERR_NONE: break;
    }
    return "internal";
}

static void write_result(json_writer *w, const pql_result *r) {
    jw_obj_begin(w);
    jw_key(w, "resultType");
    jw_cstr(w, pql_type_short_name(r->type));
    jw_key(w, "result");
    switch (r->type) {
    case PQL_TYPE_SCALAR:
        jw_arr_begin(w);
        jw_timestamp(w, r->t);
        jw_value(w, r->scalar);
        jw_arr_end(w);
        break;
    case PQL_TYPE_STRING:
        jw_arr_begin(w);
        jw_timestamp(w, r->t);
        jw_str(w, r->string ? r->string : "", r->string ? r->string_len : 0);
        jw_arr_end(w);
        break;
    case PQL_TYPE_VECTOR:
        jw_arr_begin(w);
        for (size_t i = 0; i < r->nvector; i++) {
            jw_obj_begin(w);
            jw_key(w, "metric");
            write_labels(w, &r->vector[i].metric);
            jw_key(w, "value");
            jw_arr_begin(w);
            jw_timestamp(w, r->vector[i].t);
            jw_value(w, r->vector[i].v);
            jw_arr_end(w);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        break;
    case PQL_TYPE_MATRIX:
        jw_arr_begin(w);
        for (size_t i = 0; i < r->nmatrix; i++) {
            const pql_series_out *s = &r->matrix[i];
            jw_obj_begin(w);
            jw_key(w, "metric");
            write_labels(w, &s->metric);
            jw_key(w, "values");
            jw_arr_begin(w);
            for (size_t j = 0; j < s->npoints; j++) {
                jw_arr_begin(w);
                jw_timestamp(w, s->points[j].t);
                jw_value(w, s->points[j].v);
                jw_arr_end(w);
            }
            jw_arr_end(w);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        break;
    case PQL_TYPE_NONE:
        jw_null(w);
        break;
    }
    jw_obj_end(w);
}

/* Parse `query` like Prometheus' NewInstantQuery/NewRangeQuery: a syntax
 * error is `invalid parameter "query": <parser message>`. */
static int parse_query(const api_req *q, api_resp *r, ast_node **tree) {
    const char *s = param(q, "query");
    pql_error perr;
    if (!s) s = "";
    int rc = pql_parse(s, strlen(s), tree, &perr);
    if (rc == FLINT_ENOMEM) {
        resp_error(r, "internal", "out of memory");
        return rc;
    }
    if (rc) {
        char msg[700];
        snprintf(msg, sizeof msg, "invalid parameter \"query\": %s", perr.msg);
        bad_data(r, msg);
        return rc;
    }
    return 0;
}

static void finish_query(api_resp *r, pql_result *res, int rc, bool truncated) {
    if (rc) {
        resp_error(r, errtype_name(res->errtype), res->error[0] ? res->error : flint_strerror(rc));
        return;
    }
    resp_begin(r);
    write_result(&r->w, res);
    resp_end(r, res->annotations, res->nannotations, truncated ? "results truncated due to limit" : NULL);
}

/* ---- cancelling queries whose client went away -------------------------------
 * The connection's thread is busy evaluating, so a small watcher thread
 * polls the socket for the peer's hang-up and raises the engine's cancel
 * flag (as Go's server cancels a request's context). A pipe stops the
 * watcher when the query ends. Without a watcher (no fd, no thread) the
 * query simply runs to its end. */

typedef struct disconnect_watch {
    int fd;
    int wake[2];
    volatile int canceled;
    pthread_t thread;
    bool running;
} disconnect_watch;

static void *watch_main(void *arg) {
    disconnect_watch *w = arg;
    struct pollfd p[2] = {{w->fd, POLLRDHUP, 0}, {w->wake[0], POLLIN, 0}};
    for (;;) { /* ends on the wake pipe, a hang-up or an error */
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || p[1].revents) break;
        if (p[0].revents) {
            w->canceled = 1;
            break;
        }
    }
    return NULL;
}

static void watch_start(disconnect_watch *w, struct MHD_Connection *conn) {
    memset(w, 0, sizeof *w);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || ci->connect_fd < 0 || pipe2(w->wake, O_CLOEXEC)) return;
    w->fd = ci->connect_fd;
    if (pthread_create(&w->thread, NULL, watch_main, w)) {
        close(w->wake[0]);
        close(w->wake[1]);
        return;
    }
    w->running = true;
    pql_set_cancel_flag(&w->canceled);
}

/* Stop watching; true when the client hung up. */
static bool watch_stop(disconnect_watch *w) {
    if (!w->running) return false;
    pql_set_cancel_flag(NULL);
    ssize_t n;
    do n = write(w->wake[1], "x", 1); while (n < 0 && errno == EINTR);
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    w->running = false;
    return w->canceled != 0;
}

static void log_if_canceled(bool client_gone, int rc, const pql_result *res) {
    if (client_gone && rc && res->errtype == PQL_ERR_CANCELED)
        flint_log(FLINT_LOG_INFO, "web", "query canceled: the client went away", NULL);
}

/* ---- handlers --------------------------------------------------------------- */

typedef int (*api_handler)(api_req *q, api_resp *r, const char *arg);

static int h_query(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    char err[1024];
    int64_t t;
    size_t limit;
    if (parse_limit(q, &limit, err, sizeof err)) return bad_data(r, err);
    if (params_time_param("time", param(q, "time"), now_ms(), &t, err, sizeof err)) return bad_data(r, err);
    pql_engine *e;
    bool own;
    if (query_engine(q, &e, &own, err, sizeof err)) return bad_data(r, err);
    ast_node *tree;
    if (parse_query(q, r, &tree) == 0) {
        pql_result res;
        disconnect_watch w;
        watch_start(&w, q->conn);
        int rc = pql_exec_instant(e, q->srv->db, tree, t, &res);
        log_if_canceled(watch_stop(&w), rc, &res);
        bool truncated = rc == 0 && limit && res.type == PQL_TYPE_VECTOR && res.nvector > limit;
        if (truncated) res.nvector = limit;
        finish_query(r, &res, rc, truncated);
        pql_result_free(&res);
        ast_free(tree);
    }
    if (own) pql_engine_free(e);
    return 0;
}

static int h_query_range(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    char err[1024];
    int64_t start, end, step;
    size_t limit;
    if (parse_limit(q, &limit, err, sizeof err)) return bad_data(r, err);
    const char *s = param(q, "start"), *en = param(q, "end"), *st = param(q, "step");
    if (params_time("start", s ? s : "", &start, err, sizeof err)) return bad_data(r, err);
    if (params_time("end", en ? en : "", &end, err, sizeof err)) return bad_data(r, err);
    if (end < start) return bad_data(r, "invalid parameter \"end\": end timestamp must not be before start time");
    if (params_duration("step", st ? st : "", &step, err, sizeof err)) return bad_data(r, err);
    if (step <= 0)
        return bad_data(r, "invalid parameter \"step\": zero or negative query resolution step widths are not "
                           "accepted. Try a positive integer");
    if ((uint64_t)end - (uint64_t)start > 0 && ((uint64_t)end - (uint64_t)start) / (uint64_t)step > API_MAX_POINTS)
        return bad_data(r, "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
                           "query resolution (?step=XX)");
    pql_engine *e;
    bool own;
    if (query_engine(q, &e, &own, err, sizeof err)) return bad_data(r, err);
    ast_node *tree;
    if (parse_query(q, r, &tree) == 0) {
        pql_result res;
        int rc;
        if (tree->type != PQL_TYPE_SCALAR && tree->type != PQL_TYPE_VECTOR) {
            memset(&res, 0, sizeof res);
            res.errtype = PQL_ERR_BAD_DATA;
            snprintf(res.error, sizeof res.error,
                     "invalid parameter \"query\": invalid expression type \"%s\" for range query, must be "
                     "Scalar or instant Vector",
                     pql_type_name(tree->type));
            rc = FLINT_EINVAL;
        } else {
            disconnect_watch w;
            watch_start(&w, q->conn);
            rc = pql_exec_range(e, q->srv->db, tree, start, end, step, &res);
            log_if_canceled(watch_stop(&w), rc, &res);
        }
        bool truncated = rc == 0 && limit && res.nmatrix > limit;
        if (truncated) res.nmatrix = limit;
        finish_query(r, &res, rc, truncated);
        pql_result_free(&res);
        ast_free(tree);
    }
    if (own) pql_engine_free(e);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted, de-duplicated union of string lists; writes the JSON array. */
static int write_string_union(api_resp *r, tsdb_strings *lists, size_t nlists, size_t limit) {
    size_t total = 0;
    for (size_t i = 0; i < nlists; i++) total += lists[i].n;
    char **all = fl_malloc((total ? total : 1) * sizeof *all);
    if (!all) return FLINT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < nlists; i++)
        for (size_t j = 0; j < lists[i].n; j++) all[n++] = lists[i].v[j];
    if (nlists > 1) qsort(all, n, sizeof *all, cmp_str);
    size_t uniq = 0;
    for (size_t i = 0; i < n; i++)
        if (uniq == 0 || strcmp(all[uniq - 1], all[i]) != 0) all[uniq++] = all[i];
    bool truncated = limit && uniq > limit;
    if (truncated) uniq = limit;
    resp_begin(r);
    jw_arr_begin(&r->w);
    for (size_t i = 0; i < uniq; i++) jw_cstr(&r->w, all[i]);
    jw_arr_end(&r->w);
    resp_end(r, NULL, 0, truncated ? "results truncated due to limit" : NULL);
    fl_free(all);
    return 0;
}

/* /api/v1/labels (arg NULL) and /api/v1/label/<arg>/values. */
static int h_labels(api_req *q, api_resp *r, const char *name) {
    char err[1024];
    int64_t start, end;
    size_t limit;
    if (name && (!*name || !utf8_valid(name, strlen(name)))) {
        snprintf(err, sizeof err, "invalid label name: \"%s\"", name);
        return bad_data(r, err);
    }
    if (parse_start_end(q, &start, &end, err, sizeof err)) return bad_data(r, err);
    matcher_sets ms;
    if (parse_matchers(q, &ms, err, sizeof err)) return bad_data(r, err);
    if (parse_limit(q, &limit, err, sizeof err)) {
        matcher_sets_free(&ms);
        return bad_data(r, err);
    }
    tsdb_querier *qr = NULL;
    size_t nlists = ms.n ? ms.n : 1;
    tsdb_strings *lists = fl_calloc(nlists, sizeof *lists);
    int rc = lists ? tsdb_querier_open(q->srv->db, start, end, &qr) : FLINT_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nlists; i++) {
        const matcher *m = ms.n ? ms.v[i].v : NULL;
        size_t nm = ms.n ? ms.v[i].n : 0;
        rc = name ? tsdb_label_values(qr, name, m, nm, &lists[i]) : tsdb_label_names(qr, m, nm, &lists[i]);
    }
    if (rc == 0) rc = write_string_union(r, lists, nlists, limit);
    if (rc) resp_error(r, rc == FLINT_ENOMEM ? "internal" : "execution", flint_errmsg());
    for (size_t i = 0; lists && i < nlists; i++) tsdb_strings_free(&lists[i]);
    fl_free(lists);
    tsdb_querier_close(qr);
    matcher_sets_free(&ms);
    return 0;
}

static int h_label_names(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    return h_labels(q, r, NULL);
}

/* A label set copied out of a series set: one allocation. */
typedef struct owned_labels {
    labels l;
    void *mem;
} owned_labels;

static int copy_labels(const labels *src, owned_labels *dst) {
    size_t bytes = src->n * sizeof(label);
    for (size_t i = 0; i < src->n; i++) bytes += strlen(src->v[i].name) + strlen(src->v[i].value) + 2;
    char *mem = fl_malloc(bytes ? bytes : 1);
    if (!mem) return FLINT_ENOMEM;
    label *v = (label *)mem;
    char *p = mem + src->n * sizeof(label);
    for (size_t i = 0; i < src->n; i++) {
        size_t nl = strlen(src->v[i].name) + 1, vl = strlen(src->v[i].value) + 1;
        memcpy(p, src->v[i].name, nl);
        v[i].name = p;
        p += nl;
        memcpy(p, src->v[i].value, vl);
        v[i].value = p;
        p += vl;
    }
    dst->l = (labels){v, src->n};
    dst->mem = mem;
    return 0;
}

static int cmp_owned(const void *a, const void *b) {
    return labels_cmp(&((const owned_labels *)a)->l, &((const owned_labels *)b)->l);
}

static int h_series(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    char err[1024];
    int64_t start, end;
    size_t limit;
    if (params_count(&q->params, "match[]") == 0) return bad_data(r, "no match[] parameter provided");
    if (parse_start_end(q, &start, &end, err, sizeof err)) return bad_data(r, err);
    if (parse_limit(q, &limit, err, sizeof err)) return bad_data(r, err);
    matcher_sets ms;
    char perr[900];
    if (parse_matchers(q, &ms, perr, sizeof perr)) {
        snprintf(err, sizeof err, "invalid parameter \"match[]\": %s", perr);
        return bad_data(r, err);
    }
    tsdb_querier *qr = NULL;
    owned_labels *all = NULL;
    size_t n = 0, cap = 0;
    int rc = tsdb_querier_open(q->srv->db, start, end, &qr);
    for (size_t i = 0; rc == 0 && i < ms.n; i++) {
        tsdb_series_set *set = NULL;
        rc = tsdb_select(qr, ms.v[i].v, ms.v[i].n, &set);
        while (rc == 0 && tsdb_series_next(set)) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                owned_labels *na = fl_realloc(all, nc * sizeof *na);
                if (!na) {
                    rc = FLINT_ENOMEM;
                    break;
                }
                all = na;
                cap = nc;
            }
            rc = copy_labels(tsdb_series_labels(set), &all[n]);
            if (rc == 0) n++;
        }
        if (rc == 0 && set) rc = tsdb_series_err(set);
        tsdb_series_set_free(set);
    }
    if (rc == 0) {
        if (ms.n > 1 && n > 1) qsort(all, n, sizeof *all, cmp_owned);
        size_t uniq = 0;
        for (size_t i = 0; i < n; i++) {
            if (uniq && labels_equal(&all[uniq - 1].l, &all[i].l)) {
                fl_free(all[i].mem);
                continue;
            }
            all[uniq++] = all[i];
        }
        n = uniq;
        bool truncated = limit && n > limit;
        resp_begin(r);
        jw_arr_begin(&r->w);
        for (size_t i = 0; i < n && (!truncated || i < limit); i++) write_labels(&r->w, &all[i].l);
        jw_arr_end(&r->w);
        resp_end(r, NULL, 0, truncated ? "results truncated due to limit" : NULL);
    } else {
        resp_error(r, rc == FLINT_ENOMEM ? "internal" : "execution", flint_errmsg());
    }
    for (size_t i = 0; i < n; i++) fl_free(all[i].mem);
    fl_free(all);
    tsdb_querier_close(qr);
    matcher_sets_free(&ms);
    return 0;
}

/* No exemplar storage yet: validate like Prometheus, answer []. */
static int h_query_exemplars(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    char err[1024];
    int64_t start, end;
    if (parse_start_end(q, &start, &end, err, sizeof err)) return bad_data(r, err);
    if (end < start) return bad_data(r, "end timestamp must not be before start timestamp");
    const char *s = param(q, "query");
    ast_node *tree;
    pql_error perr;
    if (!s) s = "";
    if (pql_parse(s, strlen(s), &tree, &perr)) return bad_data(r, perr.msg);
    ast_free(tree);
    resp_begin(r);
    jw_arr_begin(&r->w);
    jw_arr_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    return 0;
}

static int h_format_query(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    ast_node *tree;
    if (parse_query(q, r, &tree)) return 0;
    fl_buf out = {0};
    if (ast_dump(tree, &out)) {
        resp_error(r, "internal", "out of memory");
    } else {
        resp_begin(r);
        jw_str(&r->w, (const char *)out.data, out.len);
        resp_end(r, NULL, 0, NULL);
    }
    fl_buf_free(&out);
    ast_free(tree);
    return 0;
}

static int h_buildinfo(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    resp_begin(r);
    jw_obj_begin(&r->w);
    jw_key(&r->w, "version");
    jw_cstr(&r->w, q->srv->version);
    jw_key(&r->w, "revision");
    jw_cstr(&r->w, q->srv->revision);
    jw_key(&r->w, "branch");
    jw_cstr(&r->w, "");
    jw_key(&r->w, "buildUser");
    jw_cstr(&r->w, "");
    jw_key(&r->w, "buildDate");
    jw_cstr(&r->w, "");
    jw_key(&r->w, "goVersion");
    jw_cstr(&r->w, "");
    jw_obj_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    return 0;
}

static void jw_labels_obj(json_writer *w, const label *v, size_t n) {
    jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_key(w, v[i].name);
        jw_cstr(w, v[i].value);
    }
    jw_obj_end(w);
}

/* /api/v1/targets: the scrape manager's snapshot, in Prometheus' shape.
 * discoveredLabels holds the target labels (flint does not keep the
 * pre-relabelling set per target yet). */
static int h_targets(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    scrape_target_status *v = NULL;
    size_t n = 0;
    if (q->srv->scraper && scrape_manager_targets(q->srv->scraper, &v, &n)) {
        resp_error(r, "internal", flint_errmsg());
        return 0;
    }
    const char *state = param(q, "state");
    bool active = !state || !*state || !strcmp(state, "any") || !strcmp(state, "active");
    resp_begin(r);
    jw_obj_begin(&r->w);
    jw_key(&r->w, "activeTargets");
    jw_arr_begin(&r->w);
    for (size_t i = 0; active && i < n; i++) {
        const scrape_target_status *t = &v[i];
        labels l = {t->labels, t->nlabels};
        const char *job = labels_get(&l, "job");
        char buf[64];
        jw_obj_begin(&r->w);
        jw_key(&r->w, "discoveredLabels");
        jw_labels_obj(&r->w, t->labels, t->nlabels);
        jw_key(&r->w, "labels");
        jw_labels_obj(&r->w, t->labels, t->nlabels);
        jw_key(&r->w, "scrapePool");
        jw_cstr(&r->w, job ? job : "");
        jw_key(&r->w, "scrapeUrl");
        jw_cstr(&r->w, t->scrape_url);
        jw_key(&r->w, "globalUrl");
        jw_cstr(&r->w, t->scrape_url);
        jw_key(&r->w, "lastError");
        jw_cstr(&r->w, t->last_error ? t->last_error : "");
        jw_key(&r->w, "lastScrape");
        if (t->last_scrape_ms) {
            time_t secs = (time_t)(t->last_scrape_ms / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            size_t k = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(buf + k, sizeof buf - k, ".%03dZ", (int)(t->last_scrape_ms % 1000));
            jw_cstr(&r->w, buf);
        } else {
            jw_cstr(&r->w, "0001-01-01T00:00:00Z");
        }
        jw_key(&r->w, "lastScrapeDuration");
        jw_num(&r->w, t->last_scrape_duration_s);
        jw_key(&r->w, "health");
        jw_cstr(&r->w, scrape_health_name(t->health));
        jw_key(&r->w, "scrapeInterval");
        duration_format(t->interval_ms, buf, sizeof buf);
        jw_cstr(&r->w, buf);
        jw_key(&r->w, "scrapeTimeout");
        duration_format(t->timeout_ms, buf, sizeof buf);
        jw_cstr(&r->w, buf);
        jw_obj_end(&r->w);
    }
    jw_arr_end(&r->w);
    jw_key(&r->w, "droppedTargets");
    jw_arr_begin(&r->w);
    jw_arr_end(&r->w);
    jw_key(&r->w, "droppedTargetCounts");
    jw_obj_begin(&r->w);
    jw_obj_end(&r->w);
    jw_obj_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    scrape_target_status_free(v, n);
    return 0;
}

/* /api/v1/metadata from the scrape manager's per-target HELP/TYPE/UNIT, as
 * Prometheus: {"<metric>": [{"type", "help", "unit"}, ...]}, distinct
 * entries across targets; limit < 0 (default) means none and 0 gives {};
 * limit_per_metric counts only when > 0. */
static int md_limit(const char *s, long *out) {
    *out = -1;
    if (!s || !*s) return 0;
    char *end;
    *out = strtol(s, &end, 10);
    return *end ? -1 : 0;
}

static int h_metadata(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    long limit, per_metric;
    if (md_limit(param(q, "limit"), &limit)) return bad_data(r, "limit must be a number");
    if (md_limit(param(q, "limit_per_metric"), &per_metric)) return bad_data(r, "limit_per_metric must be a number");
    const char *metric = param(q, "metric");
    scrape_metadata *v = NULL;
    size_t n = 0;
    if (q->srv->scraper &&
        scrape_manager_metadata(q->srv->scraper, metric && *metric ? metric : NULL,
                                per_metric > 0 ? (size_t)per_metric : 0, &v, &n)) {
        resp_error(r, "internal", flint_errmsg());
        return 0;
    }
    resp_begin(r);
    jw_obj_begin(&r->w);
    long metrics = 0;
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(v[i - 1].metric, v[i].metric) != 0;
        if (first) {
            if (limit >= 0 && metrics >= limit) break;
            if (i) jw_arr_end(&r->w);
            jw_key(&r->w, v[i].metric);
            jw_arr_begin(&r->w);
            metrics++;
        }
        jw_obj_begin(&r->w);
        jw_key(&r->w, "type");
        jw_cstr(&r->w, v[i].type);
        jw_key(&r->w, "help");
        jw_cstr(&r->w, v[i].help);
        jw_key(&r->w, "unit");
        jw_cstr(&r->w, v[i].unit);
        jw_obj_end(&r->w);
    }
    if (metrics) jw_arr_end(&r->w);
    jw_obj_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    scrape_metadata_free(v, n);
    return 0;
}

/* Endpoints whose data flint does not keep yet (no rule evaluation): the
 * empty answers Prometheus gives with nothing loaded, so Grafana's
 * alerting views work. */
static int h_empty_list(api_resp *r, const char *key) {
    resp_begin(r);
    jw_obj_begin(&r->w);
    jw_key(&r->w, key);
    jw_arr_begin(&r->w);
    jw_arr_end(&r->w);
    jw_obj_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    return 0;
}

static int h_rules(api_req *q, api_resp *r, const char *arg) {
    (void)q, (void)arg;
    return h_empty_list(r, "groups");
}

static int h_alerts(api_req *q, api_resp *r, const char *arg) {
    (void)q, (void)arg;
    return h_empty_list(r, "alerts");
}

static int h_healthy(api_req *q, api_resp *r, const char *arg) {
    (void)q, (void)arg;
    resp_text(r, 200, "Flint Server is Healthy.\n");
    return 0;
}

/* POST /-/reload, as Prometheus' web.Handler.reload. */
static int h_reload(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    api_server *s = q->srv;
    if (!s->enable_lifecycle) {
        resp_text(r, 403, "Lifecycle API is not enabled.");
        return 0;
    }
    char *err = NULL;
    if (!s->reload || s->reload(s->reload_ctx, &err) == 0) {
        resp_text(r, 200, "");
    } else {
        char msg[1200];
        snprintf(msg, sizeof msg, "failed to reload config: %s\n", err ? err : "unknown error");
        resp_text(r, 500, msg);
    }
    fl_free(err);
    return 0;
}

static int h_ready(api_req *q, api_resp *r, const char *arg) {
    (void)q, (void)arg;
    resp_text(r, 200, "Flint Server is Ready.\n");
    return 0;
}

/* ---- /metrics: flint's own figures in Prometheus' names ------------------------ */

static int64_t process_start_ms;

static void metric(fl_buf *b, const char *name, const char *type, const char *help, double v) {
    char line[512];
    int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
    if (n > 0) fl_buf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static int h_metrics(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    resp_text(r, 200, "");
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    fl_buf *b = &r->w.buf;
    tsdb_stats st;
    tsdb_get_stats(q->srv->db, &st);
    char line[256];
    int n = snprintf(line, sizeof line,
                     "# HELP flint_build_info A metric with a constant '1' value labeled by version.\n"
                     "# TYPE flint_build_info gauge\nflint_build_info{version=\"%s\"} 1\n",
                     q->srv->version);
    if (n > 0) fl_buf_put(b, line, (size_t)n);
    metric(b, "prometheus_tsdb_head_series", "gauge", "Total number of series in the head block.", (double)st.head_series);
    metric(b, "prometheus_tsdb_head_samples_appended_total", "counter", "Total number of appended samples.",
           (double)st.head_samples);
    metric(b, "prometheus_tsdb_head_chunks", "gauge", "Total number of full chunks in the head block.",
           (double)st.head_chunks);
    metric(b, "prometheus_tsdb_blocks_loaded", "gauge", "Number of currently loaded data blocks.", (double)st.blocks);
    metric(b, "prometheus_tsdb_storage_blocks_bytes", "gauge", "The number of bytes used by loaded blocks.",
           (double)st.block_bytes);
    metric(b, "prometheus_tsdb_wal_storage_size_bytes", "gauge", "Size of the write ahead log directory.",
           (double)st.wal_bytes);
    metric(b, "flint_tsdb_disk_bytes", "gauge", "Bytes of every file in the data directory.", (double)st.disk_bytes);
    if (st.head_series) {
        metric(b, "prometheus_tsdb_head_min_time", "gauge", "Minimum time bound of the head block (ms).",
               (double)st.head_mint);
        metric(b, "prometheus_tsdb_head_max_time", "gauge", "Maximum timestamp of the head block (ms).",
               (double)st.head_maxt);
    }
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    metric(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           (double)rss * (double)sysconf(_SC_PAGESIZE));
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    metric(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
           (double)cpu.tv_sec + cpu.tv_nsec / 1e9);
    metric(b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
           (double)process_start_ms / 1000.0);
    return 0;
}

enum { M_GET = 1, M_POST = 2, M_HEAD = 4 };

static const struct route {
    const char *path;
    unsigned methods;
    api_handler fn;
} routes[] = {
    {"/api/v1/query", M_GET | M_POST, h_query},
    {"/api/v1/query_range", M_GET | M_POST, h_query_range},
    {"/api/v1/labels", M_GET | M_POST, h_label_names},
    {"/api/v1/series", M_GET | M_POST, h_series},
    {"/api/v1/query_exemplars", M_GET | M_POST, h_query_exemplars},
    {"/api/v1/format_query", M_GET | M_POST, h_format_query},
    {"/api/v1/status/buildinfo", M_GET, h_buildinfo},
    {"/api/v1/metadata", M_GET, h_metadata},
    {"/api/v1/rules", M_GET, h_rules},
    {"/api/v1/alerts", M_GET, h_alerts},
    {"/api/v1/targets", M_GET, h_targets},
    {"/-/healthy", M_GET | M_HEAD, h_healthy},
    {"/-/ready", M_GET | M_HEAD, h_ready},
    {"/-/reload", M_POST, h_reload},
    {"/metrics", M_GET, h_metrics},
};

/* Decode %XX in a path segment ('+' stays '+'). */
static bool path_decode(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
                return false;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return strlen(out) == o; /* no embedded NUL */
}

static void dispatch(api_req *q, const char *method, api_resp *r) {
    unsigned m = strcmp(method, "GET") == 0 ? M_GET : strcmp(method, "POST") == 0 ? M_POST
                                                    : strcmp(method, "HEAD") == 0 ? M_HEAD : 0;
    const char *qs = strchr(q->uri, '?');
    size_t plen = qs ? (size_t)(qs - q->uri) : strlen(q->uri);
    char path[1024];
    if (plen >= sizeof path) {
        resp_text(r, 404, "404 page not found\n");
        return;
    }
    memcpy(path, q->uri, plen);
    path[plen] = '\0';

    const struct route *rt = NULL;
    char name[1024];
    static const struct route label_values = {"/api/v1/label/<name>/values", M_GET, h_labels};
    static const char lv_pre[] = "/api/v1/label/", lv_suf[] = "/values";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].path, path) == 0) rt = &routes[i];
    const char *arg = NULL;
    if (!rt && plen > sizeof lv_pre - 1 + sizeof lv_suf - 1 && strncmp(path, lv_pre, sizeof lv_pre - 1) == 0 &&
        strcmp(path + plen - (sizeof lv_suf - 1), lv_suf) == 0) {
        const char *seg = path + sizeof lv_pre - 1;
        size_t seglen = plen - (sizeof lv_pre - 1) - (sizeof lv_suf - 1);
        if (memchr(seg, '/', seglen) == NULL && path_decode(seg, seglen, name)) {
            rt = &label_values;
            arg = name;
        }
    }
    if (!rt) {
        resp_text(r, 404, "404 page not found\n");
        return;
    }
    if (!(rt->methods & m)) {
        resp_text(r, 405, "Method Not Allowed\n");
        r->allow = rt == &label_values ? "GET" : rt->methods == (M_GET | M_POST) ? "GET, POST"
                                           : rt->methods == M_GET                 ? "GET"
                                           : rt->methods == M_POST                ? "POST"
                                                                                  : "GET, HEAD";
        return;
    }
    if (q->body_too_large) {
        resp_error(r, "bad_data", "error parsing form values: http: request body too large");
        r->status = 413;
        return;
    }
    /* Form body first, then the URL's query string (Go's FormValue order). */
    const char *ctype = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int rc = 0;
    if (m == M_POST && ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
        rc = params_parse(&q->params, (const char *)q->body.data, q->body.len);
    if (rc == 0 && qs) rc = params_parse(&q->params, qs + 1, strlen(qs + 1));
    if (rc == FLINT_EINVAL) {
        resp_error(r, "bad_data", "error parsing form values: invalid URL escape");
        return;
    }
    if (rc) {
        resp_error(r, "internal", "out of memory");
        return;
    }
    rt->fn(q, r, arg);
}

/* ---- gzip and sending --------------------------------------------------------- */

static bool accepts_gzip(struct MHD_Connection *conn) {
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (!ae) return false;
    const char *p = strcasestr(ae, "gzip");
    if (!p) return false;
    p += 4;
    while (*p == ' ') p++;
    if (*p == ';') { /* gzip;q=0 refuses it */
        const char *qv = strstr(p, "q=");
        if (qv && strtod(qv + 2, NULL) == 0) return false;
    }
    return true;
}

/* gzip in[0..n) into a new fl_malloc'ed buffer. */
static int gzip_buf(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return FLINT_ENOMEM;
    size_t cap = deflateBound(&zs, (uLong)n) + 32;
    uint8_t *buf = fl_malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return FLINT_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int zrc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) {
        fl_free(buf);
        return FLINT_ENOMEM;
    }
    *out = buf;
    return 0;
}

static enum MHD_Result send_resp(api_req *q, api_resp *r, bool head) {
    if (r->w.err) {
        fl_buf_free(&r->w.buf);
        jw_init(&r->w);
        resp_error(r, "internal", "out of memory while writing the response");
        if (r->w.err) return MHD_NO;
    }
    /* The body leaves the writer here: MHD frees it (or we do on failure). */
    uint8_t *body = r->w.buf.data;
    size_t len = r->w.buf.len;
    r->w.buf.data = NULL;
    r->w.buf.len = r->w.buf.cap = 0;
    bool gz = false;
    if (len > 0 && accepts_gzip(q->conn)) {
        uint8_t *z;
        size_t zlen;
        if (gzip_buf(body, len, &z, &zlen) == 0) { /* else send it plain */
            fl_free(body);
            body = z;
            len = zlen;
            gz = true;
        }
    }
    struct MHD_Response *resp;
    if (head) {
        fl_free(body);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer_with_free_callback(len, body ? body : (void *)"",
                                                                  body ? fl_free : NULL);
    }
    if (!resp) {
        if (!head) fl_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (gz) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result ret = MHD_queue_response(q->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- libmicrohttpd callbacks -------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    api_req *q = fl_calloc(1, sizeof *q);
    if (!q) return NULL;
    q->srv = cls;
    q->conn = conn;
    q->uri = fl_strdup(uri ? uri : "/");
    if (!q->uri) {
        fl_free(q);
        return NULL;
    }
    params_init(&q->params);
    return q;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    api_req *q = *con_cls;
    if (!q) return;
    fl_buf_free(&q->body);
    params_free(&q->params);
    fl_free(q->uri);
    fl_free(q);
    *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls, (void)conn, (void)url, (void)version;
    api_req *q = *con_cls;
    if (!q) return MHD_NO; /* out of memory in on_uri: drop the connection */
    if (!q->started) {
        q->started = true;
        return MHD_YES; /* headers only; the body (if any) follows */
    }
    if (*upload_data_size) {
        if (!q->body_too_large) {
            if (q->body.len + *upload_data_size > q->srv->max_body_bytes) {
                q->body_too_large = true;
                fl_buf_free(&q->body);
            } else if (fl_buf_put(&q->body, upload_data, *upload_data_size)) {
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    api_resp r;
    memset(&r, 0, sizeof r);
    jw_init(&r.w);
    dispatch(q, method, &r);
    enum MHD_Result ret = send_resp(q, &r, strcmp(method, "HEAD") == 0);
    jw_free(&r.w);
    return ret;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int parse_listen(const char *addr, struct sockaddr_storage *ss, bool *v6) {
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon) return flint_error(FLINT_EINVAL, "web: listen address %s: missing port", addr);
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) return flint_error(FLINT_EINVAL, "web: listen address %s: host too long", addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    const char *port = colon + 1;
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return flint_error(FLINT_EINVAL, "web: listen address %s: bad port", addr);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = host[0] ? AF_UNSPEC : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int grc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (grc || !res)
        return flint_error(FLINT_EINVAL, "web: listen address %s: %s", addr, gai_strerror(grc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int api_server_start(const api_options *opts, api_server **out) {
    *out = NULL;
    if (!process_start_ms) process_start_ms = now_ms();
    if (!opts || !opts->db || !opts->listen_address)
        return flint_error(FLINT_EINVAL, "web: a database and a listen address are required");
    struct sockaddr_storage ss;
    bool v6 = false;
    int rc = parse_listen(opts->listen_address, &ss, &v6);
    if (rc) return rc;
    api_server *s = fl_calloc(1, sizeof *s);
    if (!s) return FLINT_ENOMEM;
    s->db = opts->db;
    s->scraper = opts->scraper;
    s->reload = opts->reload;
    s->reload_ctx = opts->reload_ctx;
    s->enable_lifecycle = opts->enable_lifecycle;
    s->engine_opts = opts->engine;
    s->engine = pql_engine_new(&opts->engine);
    s->version = fl_strdup(opts->version ? opts->version : API_COMPAT_VERSION);
    s->revision = fl_strdup(opts->revision ? opts->revision : "");
    s->max_body_bytes = opts->max_body_bytes ? opts->max_body_bytes : 8u << 20;
    if (!s->engine || !s->version || !s->revision) {
        api_server_stop(s);
        return FLINT_ENOMEM;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)(opts->max_connections ? opts->max_connections : 512),
                                 /* request line + headers: room for long PromQL in GET
                                  * URLs (libmicrohttpd's default of 32 KiB answers 414) */
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(512u << 10),
                                 MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)(opts->idle_timeout_s ? opts->idle_timeout_s : 300),
                                 MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        api_server_stop(s);
        return flint_error(FLINT_EIO, "web: cannot listen on %s: %s", opts->listen_address,
                           e ? strerror(e) : "libmicrohttpd failed to start");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    *out = s;
    return 0;
}

uint16_t api_server_port(const api_server *s) { return s->port; }

void api_server_stop(api_server *s) {
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    pql_engine_free(s->engine);
    fl_free(s->version);
    fl_free(s->revision);
    fl_free(s);
}
