/*
 * query.c - `flint query EXPR --data DIR`: PromQL straight on a data
 * directory, read-only (blocks plus the WAL replayed in memory, nothing
 * written, no lock taken), so it also works beside a running server.
 * Instant queries with --time, range queries with --start/--end/--step;
 * output as an aligned table, Prometheus API JSON (the `data` object) or
 * CSV. Errors go to stderr with Prometheus' wording and position; the exit
 * code is 1 for a failed query, 2 for bad usage.
 *
 * With --server URL instead of --data the same query goes to a running
 * server's /api/v1/query or /api/v1/query_range (flint or Prometheus; a form
 * POST through libcurl), the JSON answer is read back (cmd/jsonread.h) into
 * a pql_result and printed by the same code, so both modes print the same
 * bytes for the same data. Server errors (errorType/error) and connection
 * failures go to stderr with exit code 1.
 */
#include "cmd/cmd.h"
#include "cmd/flags.h"
#include "cmd/jsonread.h"
#include "query/engine.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "tsdb/db.h"
#include "web/json.h"
#include "web/params.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void csv_field(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_row(const char *fmt, const labels *l, int64_t t, double v) {
    char lb[4096], val[64];
    labels_format(l, lb, sizeof lb);
    json_format_float(v, val, sizeof val); /* Prometheus' float text, as the API */
    if (!strcmp(fmt, "csv")) {
        csv_field(lb);
        printf(",%" PRId64 ".%03d,%s\n", t / 1000, (int)(t % 1000 < 0 ? -(t % 1000) : t % 1000), val);
    } else {
        printf("%-60s %s @%" PRId64 ".%03d\n", lb, val, t / 1000, (int)(t % 1000 < 0 ? -(t % 1000) : t % 1000));
    }
}

static void json_metric(json_writer *w, const labels *l) {
    jw_obj_begin(w);
    for (size_t i = 0; i < l->n; i++) {
        jw_key(w, l->v[i].name);
        jw_cstr(w, l->v[i].value);
    }
    jw_obj_end(w);
}

static void print_json(const pql_result *r) {
    json_writer w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "resultType");
    static const char *types[] = {"", "scalar", "vector", "matrix", "string"};
    jw_cstr(&w, r->type >= 1 && r->type <= 4 ? types[r->type] : "none");
    jw_key(&w, "result");
    if (r->type == PQL_TYPE_SCALAR || r->type == PQL_TYPE_STRING) {
        jw_arr_begin(&w);
        jw_timestamp(&w, r->t);
        if (r->type == PQL_TYPE_SCALAR) jw_value(&w, r->scalar);
        else jw_str(&w, r->string, r->string_len);
        jw_arr_end(&w);
    } else if (r->type == PQL_TYPE_VECTOR) {
        jw_arr_begin(&w);
        for (size_t i = 0; i < r->nvector; i++) {
            jw_obj_begin(&w);
            jw_key(&w, "metric");
            json_metric(&w, &r->vector[i].metric);
            jw_key(&w, "value");
            jw_arr_begin(&w);
            jw_timestamp(&w, r->vector[i].t);
            jw_value(&w, r->vector[i].v);
            jw_arr_end(&w);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
    } else {
        jw_arr_begin(&w);
        for (size_t i = 0; i < r->nmatrix; i++) {
            jw_obj_begin(&w);
            jw_key(&w, "metric");
            json_metric(&w, &r->matrix[i].metric);
            jw_key(&w, "values");
            jw_arr_begin(&w);
            for (size_t k = 0; k < r->matrix[i].npoints; k++) {
                jw_arr_begin(&w);
                jw_timestamp(&w, r->matrix[i].points[k].t);
                jw_value(&w, r->matrix[i].points[k].v);
                jw_arr_end(&w);
            }
            jw_arr_end(&w);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
    }
    jw_obj_end(&w);
    fwrite(w.buf.data, 1, w.buf.len, stdout);
    putchar('\n');
    jw_free(&w);
}

static void print_result(const pql_result *r, const char *fmt) {
    if (!strcmp(fmt, "json")) {
        print_json(r);
        return;
    }
    if (!strcmp(fmt, "csv")) printf("metric,timestamp,value\n");
    labels none = {NULL, 0};
    switch (r->type) {
    case PQL_TYPE_SCALAR: print_row(fmt, &none, r->t, r->scalar); break;
    case PQL_TYPE_STRING: printf("%.*s\n", (int)r->string_len, r->string); break;
    case PQL_TYPE_VECTOR:
        for (size_t i = 0; i < r->nvector; i++) print_row(fmt, &r->vector[i].metric, r->vector[i].t, r->vector[i].v);
        break;
    default:
        for (size_t i = 0; i < r->nmatrix; i++)
            for (size_t k = 0; k < r->matrix[i].npoints; k++)
                print_row(fmt, &r->matrix[i].metric, r->matrix[i].points[k].t, r->matrix[i].points[k].v);
    }
}

/* ---- --server: the same query through the HTTP API ------------------------------ */

#define REMOTE_MAX_BODY ((size_t)1 << 30) /* refuse answers over 1 GiB */

/* What a remote answer was turned into: res points into doc and the arrays. */
typedef struct remote_result {
    jv doc;
    pql_result res;
    label *labels;         /* every series' labels, one pool */
    pql_sample *vector;
    pql_series_out *matrix;
    pql_point *points;     /* every matrix point, one pool */
} remote_result;

static void remote_free(remote_result *rr) {
    jv_free(&rr->doc);
    fl_free(rr->labels);
    fl_free(rr->vector);
    fl_free(rr->matrix);
    fl_free(rr->points);
    memset(rr, 0, sizeof *rr);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    fl_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > REMOTE_MAX_BODY || fl_buf_put(b, p, n)) return 0; /* curl then fails the transfer */
    return n;
}

static void fmt_seconds(char *buf, size_t cap, int64_t ms) {
    int64_t s = ms / 1000, f = ms % 1000;
    if (f < 0) {
        s--;
        f += 1000;
    }
    snprintf(buf, cap, "%" PRId64 ".%03d", s, (int)f);
}

static int cmp_label(const void *a, const void *b) {
    return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

/* Number of labels of a "metric" object; -1 if it is not one of strings. */
static long metric_size(const jv *m) {
    if (!m || m->type != JV_OBJ) return -1;
    for (size_t i = 0; i < m->n; i++)
        if (m->items[i].type != JV_STR) return -1;
    return (long)m->n;
}

/* The metric object as a sorted label set in pool[*used..]. */
static labels take_metric(const jv *m, label *pool, size_t *used) {
    label *l = pool + *used;
    for (size_t i = 0; i < m->n; i++) {
        l[i].name = m->keys[i];
        l[i].value = m->items[i].str;
    }
    qsort(l, m->n, sizeof *l, cmp_label);
    *used += m->n;
    labels out = {l, m->n};
    return out;
}

/* [t, "v"]: t in seconds as a JSON number, v a sample value string. */
static bool take_point(const jv *p, int64_t *t, double *v) {
    if (!p || p->type != JV_ARR || p->n != 2 || p->items[0].type != JV_NUM || p->items[1].type != JV_STR)
        return false;
    *t = (int64_t)llround(p->items[0].num * 1000.0);
    char *end;
    *v = strtod(p->items[1].str, &end);
    return end != p->items[1].str && *end == 0;
}

/* Fill rr->res from the "data" object of a success answer. 0 or -1 (shape). */
static int decode_data(remote_result *rr, const jv *data) {
    pql_result *r = &rr->res;
    const jv *type = jv_get(data, "resultType"), *result = jv_get(data, "result");
    if (!type || type->type != JV_STR || !result || result->type != JV_ARR) return -1;
    if (!strcmp(type->str, "scalar") || !strcmp(type->str, "string")) {
        if (result->n != 2 || result->items[0].type != JV_NUM || result->items[1].type != JV_STR) return -1;
        r->t = (int64_t)llround(result->items[0].num * 1000.0);
        if (type->str[1] == 'c') {
            char *end;
            r->type = PQL_TYPE_SCALAR;
            r->scalar = strtod(result->items[1].str, &end);
            return *end == 0 && end != result->items[1].str ? 0 : -1;
        }
        r->type = PQL_TYPE_STRING;
        r->string = result->items[1].str;
        r->string_len = result->items[1].len;
        return 0;
    }
    bool vector = !strcmp(type->str, "vector");
    if (!vector && strcmp(type->str, "matrix")) return -1;
    size_t nlabels = 0, npoints = 0;
    for (size_t i = 0; i < result->n; i++) {
        const jv *el = &result->items[i], *vals = jv_get(el, vector ? "value" : "values");
        long k = metric_size(jv_get(el, "metric"));
        if (k < 0 || !vals) return -1;
        nlabels += (size_t)k;
        if (!vector) {
            if (vals->type != JV_ARR) return -1;
            npoints += vals->n;
        }
    }
    size_t used = 0;
    rr->labels = fl_malloc((nlabels ? nlabels : 1) * sizeof *rr->labels);
    if (vector) rr->vector = fl_calloc(result->n ? result->n : 1, sizeof *rr->vector);
    else {
        rr->matrix = fl_calloc(result->n ? result->n : 1, sizeof *rr->matrix);
        rr->points = fl_malloc((npoints ? npoints : 1) * sizeof *rr->points);
    }
    if (!rr->labels || (vector ? !rr->vector : !rr->matrix || !rr->points)) return flint_error(FLINT_ENOMEM, "out of memory");
    size_t pused = 0;
    for (size_t i = 0; i < result->n; i++) {
        const jv *el = &result->items[i];
        labels metric = take_metric(jv_get(el, "metric"), rr->labels, &used);
        if (vector) {
            pql_sample *s = &rr->vector[i];
            s->metric = metric;
            if (!take_point(jv_get(el, "value"), &s->t, &s->v)) return -1;
            continue;
        }
        const jv *vals = jv_get(el, "values");
        pql_series_out *s = &rr->matrix[i];
        s->metric = metric;
        s->points = rr->points + pused;
        for (size_t k = 0; k < vals->n; k++, pused++)
            if (!take_point(&vals->items[k], &rr->points[pused].t, &rr->points[pused].v)) return -1;
        s->npoints = vals->n;
    }
    r->type = vector ? PQL_TYPE_VECTOR : PQL_TYPE_MATRIX;
    r->vector = rr->vector;
    r->nvector = vector ? result->n : 0;
    r->matrix = rr->matrix;
    r->nmatrix = vector ? 0 : result->n;
    return 0;
}

/* Run the query on the server at base_url; 0 and rr filled (success), or 1
 * after printing the error to stderr. */
static int remote_query(const char *base_url, const char *q, bool range, int64_t t, int64_t start, int64_t end,
                        int64_t step, int64_t timeout, remote_result *rr) {
    memset(rr, 0, sizeof *rr);
    fl_buf url = {0}, form = {0}, body = {0};
    int rc = 1;
    CURL *c = curl_easy_init();
    char *eq = c ? curl_easy_escape(c, q, (int)strlen(q)) : NULL;
    if (!eq) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    size_t bl = strlen(base_url);
    while (bl && base_url[bl - 1] == '/') bl--;
    bool scheme = strstr(base_url, "://") != NULL;
    const char *path = range ? "/api/v1/query_range" : "/api/v1/query";
    char a[32], b[32], st[32], to[32];
    fmt_seconds(to, sizeof to, timeout);
    if ((!scheme && fl_buf_put(&url, "http://", 7)) || fl_buf_put(&url, base_url, bl) ||
        fl_buf_put(&url, path, strlen(path) + 1) || fl_buf_put(&form, "query=", 6) ||
        fl_buf_put(&form, eq, strlen(eq))) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    char params[160];
    if (range) {
        fmt_seconds(a, sizeof a, start);
        fmt_seconds(b, sizeof b, end);
        fmt_seconds(st, sizeof st, step);
        snprintf(params, sizeof params, "&start=%s&end=%s&step=%s", a, b, st);
    } else {
        fmt_seconds(a, sizeof a, t);
        snprintf(params, sizeof params, "&time=%s", a);
    }
    if (timeout > 0) snprintf(params + strlen(params), sizeof params - strlen(params), "&timeout=%s", to);
    if (fl_buf_put(&form, params, strlen(params) + 1)) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, (const char *)url.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)form.data);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* gzip when the server offers it */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    /* the server stops the query at `timeout`; give its answer time to arrive */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout > 0 ? timeout + 30000 : 0));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "flint-query/" FLINT_VERSION);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "error: %s: %s\n", (const char *)url.data, curl_err[0] ? curl_err : curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (jv_parse((const char *)body.data, body.len, &rr->doc)) {
        fprintf(stderr, "error: %s: HTTP %ld, not a Prometheus API answer (%s): %.*s\n", (const char *)url.data,
                status, flint_errmsg(), (int)(body.len < 200 ? body.len : 200), body.data ? (const char *)body.data : "");
        goto out;
    }
    const jv *stat = jv_get(&rr->doc, "status");
    if (!stat || stat->type != JV_STR) {
        fprintf(stderr, "error: %s: HTTP %ld, answer without a status\n", (const char *)url.data, status);
        goto out;
    }
    if (strcmp(stat->str, "success")) {
        const jv *et = jv_get(&rr->doc, "errorType"), *em = jv_get(&rr->doc, "error");
        fprintf(stderr, "error (%s): %s\n", et && et->type == JV_STR ? et->str : "unknown",
                em && em->type == JV_STR ? em->str : "(no message)");
        goto out;
    }
    int d = decode_data(rr, jv_get(&rr->doc, "data"));
    if (d) {
        fprintf(stderr, "error: %s: %s\n", (const char *)url.data,
                d == -1 ? "unexpected shape of the answer's data" : flint_errmsg());
        goto out;
    }
    rc = 0;
out:
    if (eq) curl_free(eq);
    if (c) curl_easy_cleanup(c);
    fl_free(url.data);
    fl_free(form.data);
    fl_free(body.data);
    if (rc) remote_free(rr);
    return rc;
}

/* The server's warnings and infos, to stderr like the local annotations. */
static void remote_annotations(const remote_result *rr) {
    static const char *keys[] = {"warnings", "infos"};
    for (int k = 0; k < 2; k++) {
        const jv *a = jv_get(&rr->doc, keys[k]);
        if (!a || a->type != JV_ARR) continue;
        for (size_t i = 0; i < a->n; i++)
            if (a->items[i].type == JV_STR) fprintf(stderr, "%s\n", a->items[i].str);
    }
}

int cmd_query(int argc, char **argv) {
    flag_def defs[] = {
        {"data", FLAG_STRING, "", "data directory to query, read-only (works beside a running server)", 0, 0},
        {"server", FLAG_STRING, "", "instead of --data: URL of a running flint or Prometheus (http://host:9090)", 0, 0},
        {"time", FLAG_STRING, "", "evaluation time of an instant query: RFC 3339 or unix seconds (default: now)", 0, 0},
        {"start", FLAG_STRING, "", "range query start (RFC 3339 or unix seconds)", 0, 0},
        {"end", FLAG_STRING, "", "range query end (default: now)", 0, 0},
        {"step", FLAG_STRING, "1m", "range query resolution: seconds or a duration", 0, 0},
        {"format", FLAG_STRING, "table", "table, json or csv", 0, 0},
        {"timeout", FLAG_STRING, "2m", "query timeout", 0, 0},
    };
    flag_set fs = {.usage = "flint query [flags] (--data DIR | --server URL) EXPR",
                   .about = "Evaluate a PromQL expression on a data directory (read-only) or a running server and print the result.",
                   .flags = defs,
                   .nflags = sizeof defs / sizeof defs[0]};
    int r = flags_parse(&fs, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    const char *dir = flag_str(&fs, "data"), *fmt = flag_str(&fs, "format"), *server = flag_str(&fs, "server");
    if (fs.npos != 1 || !*dir == !*server) {
        fprintf(stderr, "error: want one of --data DIR or --server URL, and one expression\n");
        flags_usage(&fs, stderr);
        return 2;
    }
    if (strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "csv")) {
        fprintf(stderr, "error: --format must be table, json or csv\n");
        return 2;
    }
    char err[512];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    const char *ts = flag_str(&fs, "time"), *ss = flag_str(&fs, "start"), *es = flag_str(&fs, "end");
    int64_t t = now_ms, start = 0, end = now_ms, step = 60000, timeout = 0;
    bool range = *ss != 0;
    if ((*ts && params_time("time", ts, &t, err, sizeof err)) ||
        (range && params_time("start", ss, &start, err, sizeof err)) ||
        (*es && params_time("end", es, &end, err, sizeof err)) ||
        params_duration("step", flag_str(&fs, "step"), &step, err, sizeof err) ||
        params_duration("timeout", flag_str(&fs, "timeout"), &timeout, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    if (range && (end < start || step <= 0)) {
        fprintf(stderr, "error: a range query needs end >= start and a positive step\n");
        return 2;
    }
    if (*server) {
        remote_result rr;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = remote_query(server, fs.pos[0], range, t, start, end, step, timeout, &rr);
        if (!rc) {
            print_result(&rr.res, fmt);
            remote_annotations(&rr);
            remote_free(&rr);
        }
        curl_global_cleanup();
        return rc;
    }
    flint_log_set_level(FLINT_LOG_WARN);
    tsdb_options o;
    tsdb_options_default(&o);
    o.read_only = true;
    tsdb *db;
    if (tsdb_open(dir, &o, &db)) {
        fprintf(stderr, "error: %s\n", flint_errmsg());
        return 1;
    }
    pql_engine_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.timeout_ms = timeout;
    pql_engine *e = pql_engine_new(&eo);
    if (!e) {
        fprintf(stderr, "error: out of memory\n");
        tsdb_close(db);
        return 1;
    }
    const char *q = fs.pos[0];
    pql_result res;
    int rc = range ? pql_query_range(e, db, q, strlen(q), start, end, step, &res)
                   : pql_query_instant(e, db, q, strlen(q), t, &res);
    if (rc) {
        static const char *names[] = {"", "bad_data", "execution", "timeout", "canceled", "execution", "internal"};
        fprintf(stderr, "error (%s): %s\n", res.errtype <= PQL_ERR_INTERNAL ? names[res.errtype] : "internal",
                res.error);
    } else {
        print_result(&res, fmt);
        for (size_t i = 0; i < res.nannotations; i++) fprintf(stderr, "%s\n", res.annotations[i].text);
    }
    pql_result_free(&res);
    pql_engine_free(e);
    tsdb_close(db);
    return rc ? 1 : 0;
}
