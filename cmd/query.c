/*
 * query.c - `flint query EXPR --data DIR`: PromQL straight on a data
 * directory, read-only (blocks plus the WAL replayed in memory, nothing
 * written, no lock taken), so it also works beside a running server.
 * Instant queries with --time, range queries with --start/--end/--step;
 * output as an aligned table, Prometheus API JSON (the `data` object) or
 * CSV. Errors go to stderr with Prometheus' wording and position; the exit
 * code is 1 for a failed query, 2 for bad usage.
 */
#include "cmd/cmd.h"
#include "cmd/flags.h"
#include "query/engine.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "tsdb/db.h"
#include "web/json.h"
#include "web/params.h"

#include <inttypes.h>
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

int cmd_query(int argc, char **argv) {
    flag_def defs[] = {
        {"data", FLAG_STRING, "", "data directory to query, read-only (works beside a running server)", 0, 0},
        {"time", FLAG_STRING, "", "evaluation time of an instant query: RFC 3339 or unix seconds (default: now)", 0, 0},
        {"start", FLAG_STRING, "", "range query start (RFC 3339 or unix seconds)", 0, 0},
        {"end", FLAG_STRING, "", "range query end (default: now)", 0, 0},
        {"step", FLAG_STRING, "1m", "range query resolution: seconds or a duration", 0, 0},
        {"format", FLAG_STRING, "table", "table, json or csv", 0, 0},
        {"timeout", FLAG_STRING, "2m", "query timeout", 0, 0},
    };
    flag_set fs = {.usage = "flint query [flags] --data DIR EXPR",
                   .about = "Evaluate a PromQL expression on a data directory and print the result.",
                   .flags = defs,
                   .nflags = sizeof defs / sizeof defs[0]};
    int r = flags_parse(&fs, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    const char *dir = flag_str(&fs, "data"), *fmt = flag_str(&fs, "format");
    if (fs.npos != 1 || !*dir) {
        fprintf(stderr, "error: want --data DIR and one expression\n");
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
