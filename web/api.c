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
#include "web/ui.h" /* the web UI served beside the API */

#include "query/parse.h"
#include "tsdb/stats.h"
#include "web/apimetrics.h"
#include "web/federate.h"
#include "web/labelscan.h"
#include "web/status.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "web/auth.h"
#include "web/json.h"
#include "web/params.h"
#include "web/webconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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
    /* issue 5: status pages, the query cap, /metrics counters */
    int (*config_info)(void *ctx, fl_buf *yaml, bool *ok, int64_t *last_ms);
    void *config_ctx;
    const char *const *flag_names, *const *flag_values;
    size_t nflags;
    pthread_mutex_t slot_mu;  /* query slots */
    pthread_cond_t slot_cv;
    unsigned slots_used, slots_max;
    int64_t queue_wait_ms;
    api_metrics metrics;
    /* security (issue 5): basic auth, client certificates, admin API */
    web_auth *auth;
    web_client_auth client_auth;
    bool admin;
    char *data_dir;
    int (*reload)(void *ctx, char **errmsg); /* lifecycle API (api_options) */
    void *reload_ctx;
    bool enable_lifecycle;
};

static int64_t process_start_ms;

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
    const char *cache_control, *location; /* web UI headers (web/ui.h) */
    const char *content_type;
    json_writer w;      /* the body */
    const char *allow;  /* Allow header for 405 */
    size_t handler;     /* route index for /metrics; SIZE_MAX: none (404) */
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
static int query_engine(const api_req *q, pql_engine **e, bool *own, int64_t *timeout_ms, char *err,
                        size_t errcap) {
    const char *to = param(q, "timeout");
    *e = q->srv->engine;
    *own = false;
    pql_engine_opts eo = q->srv->engine_opts;
    int64_t cur = eo.timeout_ms == 0 ? 2 * 60 * 1000 : eo.timeout_ms;
    *timeout_ms = cur > 0 ? cur : INT64_MAX;
    if (!to || !*to) return 0;
    int64_t ms;
    if (params_duration("timeout", to, &ms, err, errcap)) return FLINT_EINVAL;
    if (ms < 1) ms = 1; /* an expired deadline: the query times out at once */
    if (cur > 0 && cur <= ms) return 0;
    *timeout_ms = ms;
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
            /* atomic: the query's thread reads it while evaluating */
            __atomic_store_n(&w->canceled, 1, __ATOMIC_RELAXED);
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

/* ---- the query concurrency cap ---------------------------------------------------
 * At most slots_max instant/range queries evaluate at once. One that finds
 * every slot taken waits on slot_cv for min(queue_wait_ms, its timeout)
 * and is refused with 503 when none came free (Prometheus queues without
 * a bound; a bounded wait keeps a flood from piling up connections). */

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Take a slot, waiting up to wait_ms; false when none came free. */
static bool slot_take(api_server *s, int64_t wait_ms) {
    int64_t t0 = mono_ns();
    pthread_mutex_lock(&s->slot_mu);
    if (s->slots_used >= s->slots_max && wait_ms > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        int64_t ns = dl.tv_nsec + (wait_ms % 1000) * 1000000;
        dl.tv_sec += (time_t)(wait_ms / 1000 + ns / 1000000000);
        dl.tv_nsec = (long)(ns % 1000000000);
        while (s->slots_used >= s->slots_max)
            if (pthread_cond_timedwait(&s->slot_cv, &s->slot_mu, &dl) == ETIMEDOUT) break;
    }
    bool ok = s->slots_used < s->slots_max;
    if (ok) s->slots_used++;
    atomic_store(&s->metrics.queries_running, s->slots_used);
    pthread_mutex_unlock(&s->slot_mu);
    atomic_fetch_add(&s->metrics.queue_ns, (uint64_t)(mono_ns() - t0));
    atomic_fetch_add(&s->metrics.queued, 1);
    if (!ok) atomic_fetch_add(&s->metrics.queries_rejected, 1);
    return ok;
}

static void slot_give(api_server *s) {
    pthread_mutex_lock(&s->slot_mu);
    s->slots_used--;
    atomic_store(&s->metrics.queries_running, s->slots_used);
    pthread_cond_signal(&s->slot_cv);
    pthread_mutex_unlock(&s->slot_mu);
}

static void too_many_queries(api_resp *r, unsigned limit) {
    char msg[96];
    snprintf(msg, sizeof msg, "too many concurrent queries (limit %u)", limit);
    resp_error(r, "unavailable", msg);
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
    int64_t timeout_ms;
    if (query_engine(q, &e, &own, &timeout_ms, err, sizeof err)) return bad_data(r, err);
    ast_node *tree;
    api_server *srv = q->srv;
    if (parse_query(q, r, &tree) == 0) {
        if (!slot_take(srv, timeout_ms < srv->queue_wait_ms ? timeout_ms : srv->queue_wait_ms)) {
            too_many_queries(r, srv->slots_max);
        } else {
            pql_result res;
            disconnect_watch w;
            watch_start(&w, q->conn);
            int64_t t0 = mono_ns();
            int rc = pql_exec_instant(e, srv->db, tree, t, &res);
            atomic_fetch_add(&srv->metrics.query_ns, (uint64_t)(mono_ns() - t0));
            atomic_fetch_add(&srv->metrics.queries, 1);
            slot_give(srv);
            log_if_canceled(watch_stop(&w), rc, &res);
            bool truncated = rc == 0 && limit && res.type == PQL_TYPE_VECTOR && res.nvector > limit;
            if (truncated) res.nvector = limit;
            finish_query(r, &res, rc, truncated);
            pql_result_free(&res);
        }
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
    int64_t timeout_ms;
    if (query_engine(q, &e, &own, &timeout_ms, err, sizeof err)) return bad_data(r, err);
    ast_node *tree;
    api_server *srv = q->srv;
    if (parse_query(q, r, &tree) == 0) {
        pql_result res;
        int rc;
        bool range_ok = tree->type == PQL_TYPE_SCALAR || tree->type == PQL_TYPE_VECTOR;
        if (range_ok && !slot_take(srv, timeout_ms < srv->queue_wait_ms ? timeout_ms : srv->queue_wait_ms)) {
            too_many_queries(r, srv->slots_max);
            ast_free(tree);
            if (own) pql_engine_free(e);
            return 0;
        }
        if (!range_ok) {
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
            int64_t t0 = mono_ns();
            rc = pql_exec_range(e, srv->db, tree, start, end, step, &res);
            atomic_fetch_add(&srv->metrics.query_ns, (uint64_t)(mono_ns() - t0));
            atomic_fetch_add(&srv->metrics.queries, 1);
            slot_give(srv);
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
    /* The indexes answer for every series held; when [start, end] leaves
     * part of the data out, walk the series for samples in the range. */
    int64_t db_mint, db_maxt;
    tsdb_time_range(q->srv->db, &db_mint, &db_maxt);
    bool whole = start <= db_mint && end >= db_maxt;
    tsdb_querier *qr = NULL;
    size_t nlists = ms.n ? ms.n : 1;
    tsdb_strings *lists = fl_calloc(nlists, sizeof *lists);
    int rc = lists ? tsdb_querier_open(q->srv->db, start, end, &qr) : FLINT_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nlists; i++) {
        const matcher *m = ms.n ? ms.v[i].v : NULL;
        size_t nm = ms.n ? ms.v[i].n : 0;
        if (!whole) rc = labelscan(qr, name, m, nm, &lists[i]);
        else if (name) rc = tsdb_label_values(qr, name, m, nm, &lists[i]);
        else rc = tsdb_label_names(qr, m, nm, &lists[i]);
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
    label *v = labels_dup(src->v, src->n);
    if (!v) return FLINT_ENOMEM;
    dst->l = (labels){v, src->n};
    dst->mem = v;
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

/* ---- status pages, /federate, /metrics (issue 5) --------------------------------- */

/* The configuration's state from the config_info hook (defaults without one). */
static int config_state(api_server *s, fl_buf *yaml, bool *ok, int64_t *last_ms) {
    *ok = true;
    *last_ms = process_start_ms;
    if (!s->config_info) return 0;
    return s->config_info(s->config_ctx, yaml, ok, last_ms);
}

static int h_status_config(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    fl_buf yaml = {0};
    bool ok;
    int64_t last;
    if (config_state(q->srv, &yaml, &ok, &last)) {
        fl_buf_free(&yaml);
        resp_error(r, "internal", "out of memory");
        return 0;
    }
    resp_begin(r);
    jw_obj_begin(&r->w);
    jw_key(&r->w, "yaml");
    jw_str(&r->w, yaml.data ? (const char *)yaml.data : "", yaml.len);
    jw_obj_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    fl_buf_free(&yaml);
    return 0;
}

static int h_status_flags(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    resp_begin(r);
    status_write_flags(&r->w, q->srv->flag_names, q->srv->flag_values, q->srv->nflags);
    resp_end(r, NULL, 0, NULL);
    return 0;
}

static int h_status_runtimeinfo(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    status_runtime rt = {process_start_ms, true, process_start_ms};
    if (config_state(q->srv, NULL, &rt.reload_ok, &rt.last_config_ms)) {
        resp_error(r, "internal", "out of memory");
        return 0;
    }
    resp_begin(r);
    status_write_runtimeinfo(&r->w, q->srv->db, &rt);
    resp_end(r, NULL, 0, NULL);
    return 0;
}

/* Prometheus 3: `limit` (default 10) must be a positive number. */
static int h_status_tsdb(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    const char *ls = param(q, "limit");
    long long limit = 10;
    if (ls && *ls) {
        char *end;
        errno = 0;
        limit = strtoll(ls, &end, 10);
        if (*end || errno || limit <= 0) return bad_data(r, "limit must be a positive number");
    }
    resp_begin(r);
    if (status_write_tsdb(&r->w, q->srv->db, (size_t)limit)) {
        resp_error(r, "internal", "out of memory");
        return 0;
    }
    resp_end(r, NULL, 0, NULL);
    return 0;
}

/* /federate answers in text: errors are plain text lines as Go's http.Error.
 * Without match[] nothing is selected: an empty 200, as Prometheus 2.42. */
static int h_federate(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    if (params_count(&q->params, "match[]") == 0) {
        resp_text(r, 200, "");
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return 0;
    }
    matcher_sets ms;
    char err[1024];
    if (parse_matchers(q, &ms, err, sizeof err - 1)) {
        strcat(err, "\n");
        resp_text(r, 400, err);
        return 0;
    }
    federate_selector *sel = fl_calloc(ms.n, sizeof *sel);
    if (!sel) {
        matcher_sets_free(&ms);
        resp_text(r, 500, "out of memory\n");
        return 0;
    }
    for (size_t i = 0; i < ms.n; i++) sel[i] = (federate_selector){ms.v[i].v, ms.v[i].n};
    int64_t lookback = q->srv->engine_opts.lookback_ms > 0 ? q->srv->engine_opts.lookback_ms : 5 * 60 * 1000;
    resp_text(r, 200, "");
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    int rc = federate_write(q->srv->db, sel, ms.n, now_ms(), lookback, &r->w.buf);
    if (rc) {
        snprintf(err, sizeof err, "%s\n", rc == FLINT_ENOMEM ? "out of memory" : flint_errmsg());
        resp_text(r, 500, err);
    }
    fl_free(sel);
    matcher_sets_free(&ms);
    return 0;
}

static int h_metrics(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    api_server *s = q->srv;
    resp_text(r, 200, "");
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    apim_sources src = {s->db, s->scraper, s->version, s->config_info != NULL, true, 0, process_start_ms};
    if (config_state(s, NULL, &src.config_ok, &src.config_ms) || apim_render(&s->metrics, &src, &r->w.buf))
        resp_text(r, 500, "out of memory\n");
    return 0;
}

/* ---- admin API (issue 5; tsdb/snapshot.c, tsdb/delete.c) ------------------------ */

/* Unless --web.enable-admin-api, Prometheus answers errorType "unavailable"
 * with status 500: its respondError has no case for that type (checked
 * against Prometheus 2.42 and 3.x's web/api/v1/api.go). */
static bool admin_enabled(api_req *q, api_resp *r) {
    if (q->srv->admin) return true;
    resp_error(r, "unavailable", "admin APIs disabled");
    r->status = 500;
    return false;
}

static void resp_no_content(api_resp *r) {
    r->status = 204;
    r->content_type = NULL;
    jw_reset(&r->w);
}

static int h_admin_snapshot(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    if (!admin_enabled(q, r)) return 0;
    bool skip_head = false;
    const char *sh = param(q, "skip_head");
    if (sh && *sh) { /* Go's strconv.ParseBool */
        static const char *t[] = {"1", "t", "T", "TRUE", "true", "True"}, *f[] = {"0", "f", "F", "FALSE", "false", "False"};
        int v = -1;
        for (size_t i = 0; i < 6; i++) v = strcmp(sh, t[i]) == 0 ? 1 : strcmp(sh, f[i]) == 0 ? 0 : v;
        if (v < 0) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"%.64s\": "
                     "invalid syntax", sh);
            return bad_data(r, msg);
        }
        skip_head = v == 1;
    }
    /* <data>/snapshots/<UTC time>-<16 hex digits>, as Prometheus names them */
    char name[64], dir[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t o = strftime(name, sizeof name, "%Y%m%dT%H%M%SZ", &tm);
    uint64_t rnd = 0;
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(&rnd, sizeof rnd, 1, ur) != 1) rnd = (uint64_t)now_ms() * 0x9E3779B97F4A7C15ull;
    if (ur) fclose(ur);
    snprintf(name + o, sizeof name - o, "-%016llx", (unsigned long long)(rnd >> 1));
    snprintf(dir, sizeof dir, "%s/snapshots/%s", q->srv->data_dir ? q->srv->data_dir : ".", name);
    if (tsdb_snapshot(q->srv->db, dir, !skip_head)) {
        char msg[600];
        snprintf(msg, sizeof msg, "create snapshot: %s", flint_errmsg());
        resp_error(r, "internal", msg);
        return 0;
    }
    flint_log(FLINT_LOG_INFO, "web", "snapshot created", "dir=%s", dir);
    resp_begin(r);
    jw_obj_begin(&r->w);
    jw_key(&r->w, "name");
    jw_cstr(&r->w, name);
    jw_obj_end(&r->w);
    resp_end(r, NULL, 0, NULL);
    return 0;
}

static int h_admin_delete_series(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    if (!admin_enabled(q, r)) return 0;
    if (params_count(&q->params, "match[]") == 0) return bad_data(r, "no match[] parameter provided");
    char err[512];
    int64_t start, end;
    if (parse_start_end(q, &start, &end, err, sizeof err)) return bad_data(r, err);
    matcher_sets sets;
    if (parse_matchers(q, &sets, err, sizeof err)) return bad_data(r, err);
    int rc = 0;
    for (size_t i = 0; i < sets.n && rc == 0; i++)
        rc = tsdb_delete_series(q->srv->db, start, end, sets.v[i].v, sets.v[i].n);
    matcher_sets_free(&sets);
    if (rc) {
        resp_error(r, "internal", flint_errmsg());
        return 0;
    }
    resp_no_content(r);
    return 0;
}

static int h_admin_clean_tombstones(api_req *q, api_resp *r, const char *arg) {
    (void)arg;
    if (!admin_enabled(q, r)) return 0;
    if (tsdb_clean_tombstones(q->srv->db)) {
        resp_error(r, "internal", flint_errmsg());
        return 0;
    }
    resp_no_content(r);
    return 0;
}

enum { M_GET = 1, M_POST = 2, M_HEAD = 4, M_PUT = 8 };

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
    {"/api/v1/status/config", M_GET, h_status_config},
    {"/api/v1/status/flags", M_GET, h_status_flags},
    {"/api/v1/status/runtimeinfo", M_GET, h_status_runtimeinfo},
    {"/api/v1/status/tsdb", M_GET, h_status_tsdb},
    {"/api/v1/metadata", M_GET, h_metadata},
    {"/api/v1/rules", M_GET, h_rules},
    {"/api/v1/alerts", M_GET, h_alerts},
    {"/api/v1/targets", M_GET, h_targets},
    {"/api/v1/admin/tsdb/snapshot", M_POST | M_PUT, h_admin_snapshot},
    {"/api/v1/admin/tsdb/delete_series", M_POST | M_PUT, h_admin_delete_series},
    {"/api/v1/admin/tsdb/clean_tombstones", M_POST | M_PUT, h_admin_clean_tombstones},
    {"/-/healthy", M_GET | M_HEAD, h_healthy},
    {"/-/ready", M_GET | M_HEAD, h_ready},
    {"/-/reload", M_POST | M_PUT, h_reload},
    {"/metrics", M_GET, h_metrics},
    {"/federate", M_GET, h_federate},
};

#define NROUTES (sizeof routes / sizeof routes[0])
/* /metrics handler names: the routes', then label values' (index NROUTES),
 * then the web UI's pages and assets (NROUTES + 1). */
static const char *handler_names[NROUTES + 2];

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
                                                    : strcmp(method, "HEAD") == 0 ? M_HEAD
                                                    : strcmp(method, "PUT") == 0  ? M_PUT : 0;
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
    ui_reply ui; /* the web UI answers paths the API does not own */
    if (!rt && (m == M_GET || m == M_HEAD) && ui_serve(path, qs ? qs + 1 : NULL, &ui)) {
        r->handler = NROUTES + 1;
        r->status = ui.status, r->content_type = ui.content_type;
        r->cache_control = ui.cache_control, r->location = ui.location;
        if (!r->w.err) r->w.err = fl_buf_put(&r->w.buf, ui.body, ui.len);
        return;
    }
    if (!rt) {
        resp_text(r, 404, "404 page not found\n");
        return;
    }
    r->handler = rt == &label_values ? NROUTES : (size_t)(rt - routes);
    if (!(rt->methods & m)) {
        resp_text(r, 405, "Method Not Allowed\n");
        r->allow = rt == &label_values ? "GET" : rt->methods == (M_POST | M_PUT) ? "POST, PUT"
                                           : rt->methods == (M_GET | M_POST) ? "GET, POST"
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
    if ((m == M_POST || m == M_PUT) && ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
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
    if (r->content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (gz) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->cache_control) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    if (r->location) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    enum MHD_Result ret = MHD_queue_response(q->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- security: TLS, client certificates, basic auth (issue 5) ------------------- */

/* TLS options for MHD_OPTION_ARRAY (tls_opts[0] stays MHD_OPTION_END
 * without TLS) and the basic-auth checker. Non-zero only on OOM. */
static int security_setup(api_server *s, const api_options *o, struct MHD_OptionItem *tls_opts, char *prio,
                          size_t cap) {
    s->admin = o->enable_admin_api;
    if (o->data_dir && !(s->data_dir = fl_strdup(o->data_dir))) return FLINT_ENOMEM;
    const web_config *c = o->web_config;
    if (!c) return 0;
    int err;
    s->auth = web_auth_new(c, &err);
    if (err) return err;
    if (!c->tls) return 0;
    size_t k = 0;
    tls_opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, c->cert_pem};
    tls_opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, c->key_pem};
    tls_opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)web_config_tls_priorities(c, prio, cap)};
    /* with a trust list libmicrohttpd asks clients for a certificate;
     * security_check verifies it per request */
    if (c->client_ca_pem && c->client_auth != WEB_CLIENT_NONE) {
        tls_opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, c->client_ca_pem};
        s->client_auth = c->client_auth;
    }
    tls_opts[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return 0;
}

/* On a request's headers: client certificate policy, then basic auth
 * (401 "Unauthorized" with WWW-Authenticate: Basic, as exporter-toolkit). */
static enum MHD_Result security_check(api_req *q) {
    api_server *s = q->srv;
    if (s->client_auth == WEB_CLIENT_REQUIRE_ANY || s->client_auth == WEB_CLIENT_VERIFY_IF_GIVEN ||
        s->client_auth == WEB_CLIENT_REQUIRE_AND_VERIFY) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        gnutls_session_t sess = ci ? (gnutls_session_t)ci->tls_session : NULL;
        unsigned npeers = 0;
        if (sess) gnutls_certificate_get_peers(sess, &npeers);
        unsigned status = 0;
        bool need = s->client_auth != WEB_CLIENT_VERIFY_IF_GIVEN;
        bool verify = s->client_auth != WEB_CLIENT_REQUIRE_ANY;
        if (!sess || (need && npeers == 0) ||
            (verify && npeers > 0 && (gnutls_certificate_verify_peers2(sess, &status) < 0 || status != 0))) {
            flint_log(FLINT_LOG_WARN, "web", "client certificate refused", "certificates=%u status=%u", npeers, status);
            return MHD_NO; /* a TLS handshake failure in Go; here the connection closes */
        }
    }
    if (!s->auth) return MHD_YES;
    const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (web_auth_check_header(s->auth, h)) return MHD_YES;
    static const char body[] = "Unauthorized\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic");
    enum MHD_Result ret = MHD_queue_response(q->conn, MHD_HTTP_UNAUTHORIZED, resp);
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
        if (q->srv->auth || q->srv->client_auth) return security_check(q); /* web/auth.h */
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
    r.handler = SIZE_MAX;
    jw_init(&r.w);
    int64_t t0 = mono_ns();
    dispatch(q, method, &r);
    enum MHD_Result ret = send_resp(q, &r, strcmp(method, "HEAD") == 0);
    apim_request(&q->srv->metrics, r.handler, r.status, (uint64_t)(mono_ns() - t0));
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
    s->config_info = opts->config_info;
    s->config_ctx = opts->config_ctx;
    s->flag_names = opts->flag_names;
    s->flag_values = opts->flag_values;
    s->nflags = opts->flag_names && opts->flag_values ? opts->nflags : 0;
    s->slots_max = opts->max_concurrent_queries ? opts->max_concurrent_queries : 20;
    s->queue_wait_ms = opts->query_queue_wait_ms > 0 ? opts->query_queue_wait_ms : 5000;
    pthread_mutex_init(&s->slot_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->slot_cv, &ca);
    pthread_condattr_destroy(&ca);
    for (size_t i = 0; i < NROUTES; i++) handler_names[i] = routes[i].path;
    handler_names[NROUTES] = "/api/v1/label/:name/values";
    handler_names[NROUTES + 1] = "/ui";
    apim_init(&s->metrics, handler_names, NROUTES + 2, s->slots_max);
    struct MHD_OptionItem tls_opts[5] = {{MHD_OPTION_END, 0, NULL}};
    char prio[128];
    if (security_setup(s, opts, tls_opts, prio, sizeof prio)) {
        api_server_stop(s);
        return FLINT_ENOMEM;
    }
    if (!s->engine || !s->version || !s->revision) {
        api_server_stop(s);
        return FLINT_ENOMEM;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (tls_opts[0].option ? MHD_USE_TLS : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_ARRAY, tls_opts,
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
    pthread_mutex_destroy(&s->slot_mu);
    pthread_cond_destroy(&s->slot_cv);
    fl_free(s->version);
    fl_free(s->revision);
    web_auth_free(s->auth);
    fl_free(s->data_dir);
    fl_free(s);
}
