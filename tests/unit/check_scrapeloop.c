/*
 * check_scrapeloop.c - the scrape manager against a tiny HTTP server in a
 * thread on 127.0.0.1 (no Python needed): healthy targets (text and
 * OpenMetrics), a malformed body, HTTP 500, a hanging response, a huge
 * body, a sample limit. Scrapes into a DB in a temp dir with a 1 s interval
 * for a few seconds, then reads the DB back: exact timestamps on the
 * schedule, up=0 and nothing partial for the bad targets, stale markers for
 * a series that disappears and for a removed target, honor_labels.
 */
#include "scrape/scrapeloop.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "tests/unit/testutil.h"
#include "tsdb/db.h"

#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the fixture server ---------------------------------------------------- */

#define MAX_CONN 512
#define BIG_SERIES 100000

typedef struct fixture {
    int lfd;
    int port;
    int stop_pipe[2];
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_t conns[MAX_CONN];
    int nconns;
    atomic_int hits_healthy, hits_healthy2, hits_relabel, hits_relabel2, hits_reload, big_done, big2_done, hits_om, hits_hang, hits_flaky, hits_ts, hits_ts2;
    int64_t t0;                /* ms at start: base of the exposed timestamps */
    char accept[256];          /* Accept header of the last /healthy request */
    char accept_encoding[64];  /* Accept-Encoding of the last /gzip request */
} fixture;

/* Value of header `name` in the request (case-sensitive name), or "". */
static void header_value(const char *req, const char *name, char *out, size_t cap) {
    out[0] = 0;
    const char *p = strstr(req, name);
    if (!p) return;
    p += strlen(name);
    while (*p == ' ') p++;
    size_t k = 0;
    while (*p && *p != '\r' && *p != '\n' && k + 1 < cap) out[k++] = *p++;
    out[k] = 0;
}

/* `body` gzip-compressed into out; returns the length. */
static size_t gzip_body(const char *body, unsigned char *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)body;
    z.avail_in = (unsigned)strlen(body);
    z.next_out = out;
    z.avail_out = (unsigned)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

typedef struct conn_arg {
    fixture *f;
    int fd;
} conn_arg;

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, const char *status, const char *ctype, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, ctype, strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

static void serve_healthy(int fd, int hit) {
    char body[1024];
    snprintf(body, sizeof body,
             "# HELP req_total Requests.\n# TYPE req_total counter\nreq_total{path=\"/healthy\"} %d\n"
             "temp{job=\"exposed\"} 3\n"
             "conflict{job=\"a\",exported_job=\"b\"} 1\n"
             "dup_metric 1\ndup_metric 2\n"
             "%s",
             hit, hit <= 2 ? "gone_metric 1\n" : "");
    respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
}

static void *conn_main(void *arg) {
    conn_arg *ca = arg;
    fixture *f = ca->f;
    int fd = ca->fd;
    free(ca);
    char req[4096];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[n] = 0;
    char path[256] = "";
    sscanf(req, "GET %255s", path);
    if (strcmp(path, "/healthy") == 0) {
        pthread_mutex_lock(&f->mu);
        header_value(req, "Accept:", f->accept, sizeof f->accept);
        pthread_mutex_unlock(&f->mu);
        serve_healthy(fd, atomic_fetch_add(&f->hits_healthy, 1) + 1);
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/big2") == 0) {
        /* BIG_SERIES series; the counter moves once the client has the
         * whole body and closed the connection (curl does so at the end
         * of the transfer, before the manager queues the body) */
        size_t cap = (size_t)BIG_SERIES * 40 + 1;
        char *body = malloc(cap);
        ck_assert_ptr_nonnull(body);
        size_t n = 0;
        for (int i = 0; i < BIG_SERIES; i++) n += (size_t)snprintf(body + n, cap - n, "big_metric{i=\"%d\"} 1\n", i);
        char head[256];
        int k = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
        send_all(fd, head, (size_t)k);
        send_all(fd, body, n);
        free(body);
        struct pollfd p[2] = {{fd, POLLIN, 0}, {f->stop_pipe[0], POLLIN, 0}};
        char sink[256];
        while (poll(p, 2, 10000) > 0 && !p[1].revents && recv(fd, sink, sizeof sink, 0) > 0) {
        }
        atomic_fetch_add(path[4] ? &f->big2_done : &f->big_done, 1);
    } else if (strcmp(path, "/reload") == 0) {
        serve_healthy(fd, atomic_fetch_add(&f->hits_reload, 1) + 1);
    } else if (strcmp(path, "/seeded") == 0) {
        char body[128];
        snprintf(body, sizeof body, "seeded_metric 5 %lld\nfresh_metric 1\n", (long long)f->t0);
        respond(fd, "200 OK", "text/plain; version=0.0.4", body);
    } else if (strcmp(path, "/relabel2") == 0) {
        serve_healthy(fd, atomic_fetch_add(&f->hits_relabel2, 1) + 1);
    } else if (strcmp(path, "/relabel") == 0) {
        serve_healthy(fd, atomic_fetch_add(&f->hits_relabel, 1) + 1);
    } else if (strcmp(path, "/meta") == 0) {
        respond(fd, "200 OK", "text/plain; version=0.0.4",
                "# HELP req_total Requests again.\n# TYPE req_total counter\nreq_total{path=\"x\"} 1\n");
    } else if (strcmp(path, "/metaom") == 0) {
        respond(fd, "200 OK", "application/openmetrics-text; version=1.0.0",
                "# TYPE om_seconds gauge\n# UNIT om_seconds seconds\n# HELP om_seconds Time spent.\n"
                "om_seconds 1\n# EOF\n");
    } else if (strcmp(path, "/healthy2") == 0) {
        serve_healthy(fd, atomic_fetch_add(&f->hits_healthy2, 1) + 1);
    } else if (strcmp(path, "/om") == 0) {
        char body[256];
        snprintf(body, sizeof body, "# TYPE om_events counter\nom_events_total %d\n# EOF\n",
                 atomic_fetch_add(&f->hits_om, 1) + 1);
        respond(fd, "200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", body);
    } else if (strcmp(path, "/malformed") == 0) {
        respond(fd, "200 OK", "text/plain; version=0.0.4", "good_metric 1\nbad_metric{ 2\n");
    } else if (strcmp(path, "/limit") == 0) {
        char body[1024] = "";
        for (int i = 0; i < 20; i++) sprintf(body + strlen(body), "limit_metric{i=\"%d\"} 1\n", i);
        respond(fd, "200 OK", "text/plain; version=0.0.4", body);
    } else if (strcmp(path, "/flaky") == 0) {
        if (atomic_fetch_add(&f->hits_flaky, 1) < 2)
            respond(fd, "200 OK", "text/plain; version=0.0.4", "flaky_metric 1\nflaky_other 2\n");
        else
            respond(fd, "503", "text/plain", "later\n"); /* no reason phrase, as HTTP/2 */
    } else if (strcmp(path, "/ts") == 0 || strcmp(path, "/ts2") == 0) {
        int hit = atomic_fetch_add(path[3] ? &f->hits_ts2 : &f->hits_ts, 1) + 1;
        char body[256] = "plain_metric 1\n";
        if (hit <= 2) sprintf(body + strlen(body), "ts_metric 1 %lld\n", (long long)(f->t0 + hit * 1000));
        respond(fd, "200 OK", "text/plain; version=0.0.4", body);
    } else if (strcmp(path, "/empty") == 0) {
        respond(fd, "200 OK", "text/plain; version=0.0.4", "");
    } else if (strcmp(path, "/labels") == 0) {
        respond(fd, "200 OK", "text/plain", "ll{a=\"1\",b=\"2\"} 1\n");
    } else if (strcmp(path, "/gzip") == 0) {
        pthread_mutex_lock(&f->mu);
        header_value(req, "Accept-Encoding:", f->accept_encoding, sizeof f->accept_encoding);
        pthread_mutex_unlock(&f->mu);
        unsigned char gz[512];
        size_t n = gzip_body("# TYPE gz_metric gauge\ngz_metric 7\n", gz, sizeof gz);
        char head[256];
        int k = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
        send_all(fd, head, (size_t)k);
        send_all(fd, (const char *)gz, n);
    } else if (strcmp(path, "/500") == 0) {
        respond(fd, "500 Internal Server Error", "text/plain", "boom\n");
    } else if (strcmp(path, "/hang") == 0) {
        atomic_fetch_add(&f->hits_hang, 1);
        struct pollfd p = {f->stop_pipe[0], POLLIN, 0};
        poll(&p, 1, 5000); /* bounded: until the fixture stops, at most 5 s */
    } else if (strcmp(path, "/huge") == 0) {
        /* no Content-Length: the body size limit must stop the transfer */
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
        send_all(fd, head, strlen(head));
        char line[64];
        for (int i = 0; i < 20000; i++) {
            int k = snprintf(line, sizeof line, "huge_metric{i=\"%d\"} 1\n", i);
            send_all(fd, line, (size_t)k);
        }
    } else {
        respond(fd, "404 Not Found", "text/plain", "not found\n");
    }
    shutdown(fd, SHUT_RDWR);
    close(fd);
    return NULL;
}

static void *acceptor_main(void *arg) {
    fixture *f = arg;
    for (;;) {
        struct pollfd p[2] = {{f->lfd, POLLIN, 0}, {f->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, 1000) < 0) break;
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) continue;
        conn_arg *ca = malloc(sizeof *ca);
        ck_assert_ptr_nonnull(ca);
        ca->f = f;
        ca->fd = fd;
        pthread_mutex_lock(&f->mu);
        if (f->nconns < MAX_CONN && pthread_create(&f->conns[f->nconns], NULL, conn_main, ca) == 0) {
            f->nconns++;
        } else {
            close(fd);
            free(ca);
        }
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

static void fixture_start(fixture *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    f->t0 = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    ck_assert_int_eq(pipe(f->stop_pipe), 0);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->lfd, 0);
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(f->lfd, 64), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&f->acceptor, NULL, acceptor_main, f), 0);
}

static void fixture_stop(fixture *f) {
    ck_assert_int_eq(write(f->stop_pipe[1], "x", 1), 1);
    pthread_join(f->acceptor, NULL);
    pthread_mutex_lock(&f->mu);
    int n = f->nconns;
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < n; i++) pthread_join(f->conns[i], NULL);
    close(f->lfd);
    close(f->stop_pipe[0]);
    close(f->stop_pipe[1]);
    pthread_mutex_destroy(&f->mu);
}

/* ---- reading the DB back ----------------------------------------------------- */

typedef struct series_samples {
    int64_t t[64];
    double v[64];
    int n;
    int nseries;
    char labels[512];
} series_samples;

/* Samples of the one series matching name and (label=value) pairs. */
static void read_series(tsdb *db, series_samples *out, const char *name, const char *l1, const char *v1) {
    memset(out, 0, sizeof *out);
    tsdb_querier *q;
    ck_assert_int_eq(tsdb_querier_open(db, 0, INT64_MAX, &q), 0);
    matcher m[2];
    size_t nm = 1;
    ck_assert_int_eq(matcher_init(&m[0], MATCH_EQ, "__name__", name), 0);
    if (l1) {
        ck_assert_int_eq(matcher_init(&m[1], MATCH_EQ, l1, v1), 0);
        nm = 2;
    }
    tsdb_series_set *ss;
    ck_assert_int_eq(tsdb_select(q, m, nm, &ss), 0);
    while (tsdb_series_next(ss)) {
        out->nseries++;
        labels_format(tsdb_series_labels(ss), out->labels, sizeof out->labels);
        tsdb_sample_iter *it = tsdb_series_samples(ss);
        int64_t t;
        double v;
        while (tsdb_sample_next(it, &t, &v) && out->n < 64) {
            out->t[out->n] = t;
            out->v[out->n] = v;
            out->n++;
        }
    }
    ck_assert_int_eq(tsdb_series_err(ss), 0);
    tsdb_series_set_free(ss);
    for (size_t i = 0; i < nm; i++) matcher_free(&m[i]);
    tsdb_querier_close(q);
}

static const scrape_target_status *find_status(const scrape_target_status *v, size_t n, const char *job) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < v[i].nlabels; j++)
            if (strcmp(v[i].labels[j].name, "job") == 0 && strcmp(v[i].labels[j].value, job) == 0) return &v[i];
    return NULL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the test ---------------------------------------------------------------- */

enum { T_HEALTHY, T_HONOR, T_OM, T_FLAKY, T_LABELS, T_LNAME, T_LVALUE, T_GZIP, T_TS, T_TS2, T_EMPTY, T_BAD, T_500, T_HANG, T_HUGE, T_LIMIT, T_N };

typedef struct tspec {
    char url[128];
    char inst[32];
    label lv[2];
    scrape_target_spec s;
} tspec;

static void mk_spec(tspec *t, int port, const char *path, const char *job) {
    memset(t, 0, sizeof *t);
    snprintf(t->url, sizeof t->url, "http://127.0.0.1:%d%s", port, path);
    snprintf(t->inst, sizeof t->inst, "127.0.0.1:%d", port);
    t->lv[0] = (label){"instance", t->inst};
    t->lv[1] = (label){"job", job};
    t->s.url = t->url;
    t->s.labels = t->lv;
    t->s.nlabels = 2;
    t->s.interval_ms = 1000;
    t->s.timeout_ms = 500;
    t->s.honor_timestamps = true;
    t->s.enable_compression = true;
}

START_TEST(test_scrapeloop_targets) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);

    static tspec ts[T_N];
    mk_spec(&ts[T_HEALTHY], f.port, "/healthy", "h");
    mk_spec(&ts[T_HONOR], f.port, "/healthy2", "h2");
    ts[T_HONOR].s.honor_labels = true;
    mk_spec(&ts[T_OM], f.port, "/om", "om");
    mk_spec(&ts[T_FLAKY], f.port, "/flaky", "flaky");
    mk_spec(&ts[T_LABELS], f.port, "/labels", "labels");
    ts[T_LABELS].s.label_limit = 4;
    mk_spec(&ts[T_LNAME], f.port, "/labels", "lname");
    ts[T_LNAME].s.label_name_length_limit = 7;
    mk_spec(&ts[T_LVALUE], f.port, "/labels", "lvalue");
    ts[T_LVALUE].s.label_value_length_limit = 6;
    mk_spec(&ts[T_GZIP], f.port, "/gzip", "gzip");
    mk_spec(&ts[T_TS], f.port, "/ts", "ts");
    mk_spec(&ts[T_TS2], f.port, "/ts2", "ts2");
    ts[T_TS2].s.honor_timestamps = false;
    mk_spec(&ts[T_EMPTY], f.port, "/empty", "empty");
    mk_spec(&ts[T_BAD], f.port, "/malformed", "bad");
    mk_spec(&ts[T_500], f.port, "/500", "e500");
    mk_spec(&ts[T_HANG], f.port, "/hang", "hang");
    mk_spec(&ts[T_HUGE], f.port, "/huge", "huge");
    ts[T_HUGE].s.body_size_limit = 10000;
    mk_spec(&ts[T_LIMIT], f.port, "/limit", "limit");
    ts[T_LIMIT].s.sample_limit = 10;
    scrape_target_spec specs[T_N];
    for (int i = 0; i < T_N; i++) specs[i] = ts[i].s;

    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, T_N), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    ck_assert_int_eq(scrape_manager_run(m), FLINT_EINVAL);

    /* until the healthy target has 4 scrapes and the OM one 2 (at most ~6 s) */
    scrape_target_status *st = NULL;
    size_t nst = 0;
    for (int i = 0; i < 60; i++) {
        sleep_ms(100);
        ck_assert_int_eq(scrape_manager_targets(m, &st, &nst), 0);
        const scrape_target_status *h = find_status(st, nst, "h");
        const scrape_target_status *om = find_status(st, nst, "om");
        bool done = h && h->scrapes >= 4 && om && om->scrapes >= 2;
        scrape_target_status_free(st, nst);
        if (done) break;
    }
    ck_assert_int_eq(scrape_manager_targets(m, &st, &nst), 0);
    ck_assert_uint_eq(nst, T_N);
    const scrape_target_status *s;
    s = find_status(st, nst, "h");
    ck_assert_int_eq(s->health, SCRAPE_HEALTH_UP);
    ck_assert_str_eq(s->last_error, "");
    ck_assert_uint_ge(s->scrapes, 4);
    ck_assert_uint_ge(s->duplicate_samples, 4); /* dup_metric twice per scrape */
    ck_assert_str_eq(s->scrape_url, ts[T_HEALTHY].url);
    ck_assert_int_gt(s->last_scrape_ms, 0);
    ck_assert(s->last_scrape_duration_s >= 0 && s->last_scrape_duration_s < 0.5);
    s = find_status(st, nst, "bad");
    ck_assert_int_eq(s->health, SCRAPE_HEALTH_DOWN);
    ck_assert_msg(strncmp(s->last_error, "line 2: ", 8) == 0, "%s", s->last_error);
    s = find_status(st, nst, "e500");
    ck_assert_str_eq(s->last_error, "server returned HTTP status 500 Internal Server Error");
    s = find_status(st, nst, "hang");
    ck_assert_int_eq(s->health, SCRAPE_HEALTH_DOWN);
    ck_assert_msg(strstr(s->last_error, "context deadline exceeded"), "%s", s->last_error);
    s = find_status(st, nst, "huge");
    ck_assert_str_eq(s->last_error, "body size limit exceeded");
    s = find_status(st, nst, "limit");
    ck_assert_str_eq(s->last_error, "sample limit exceeded");
    ck_assert_str_eq(scrape_health_name(s->health), "down");
    s = find_status(st, nst, "labels");
    ck_assert_str_eq(s->last_error, "label_limit exceeded (metric: ll, number of labels: 5, limit: 4)");
    s = find_status(st, nst, "lname");
    ck_assert_str_eq(s->last_error,
                     "label_name_length_limit exceeded (metric: ll, label name: __name__, length: 8, limit: 7)");
    s = find_status(st, nst, "lvalue");
    char want[256];
    snprintf(want, sizeof want,
             "label_value_length_limit exceeded (metric: ll, label name: instance, value: \"%s\", length: %zu, "
             "limit: 6)", ts[T_LVALUE].inst, strlen(ts[T_LVALUE].inst));
    ck_assert_str_eq(s->last_error, want);
    s = find_status(st, nst, "gzip");
    ck_assert_str_eq(s->last_error, "");
    s = find_status(st, nst, "flaky");
    ck_assert_str_eq(s->last_error, "server returned HTTP status 503 Service Unavailable");
    uint64_t h_scrapes = find_status(st, nst, "h")->scrapes;
    scrape_target_status_free(st, nst);
    pthread_mutex_lock(&f.mu);
    ck_assert_str_eq(f.accept, &SCRAPE_ACCEPT_HEADER[strlen("Accept: ")]);
    ck_assert_str_eq(f.accept_encoding, "gzip");
    pthread_mutex_unlock(&f.mu);

    /* keep only the two healthy targets (the OpenMetrics one and the failing
     * ones are removed, /hang in flight): stale markers for their series */
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, T_OM), 0);
    sleep_ms(300);
    ck_assert_int_eq(scrape_manager_targets(m, &st, &nst), 0);
    ck_assert_uint_eq(nst, T_OM);
    ck_assert_ptr_null(find_status(st, nst, "om"));
    ck_assert_ptr_nonnull(find_status(st, nst, "h"));
    ck_assert_uint_ge(find_status(st, nst, "h")->scrapes, h_scrapes); /* state kept */
    scrape_target_status_free(st, nst);
    scrape_manager_stop(m);
    scrape_manager_free(m);
    fixture_stop(&f);

    /* the healthy target: every scrape on the schedule, exactly 1 s apart */
    int64_t off = scrape_target_offset(&ts[T_HEALTHY].s);
    series_samples r, up;
    read_series(db, &r, "req_total", "job", "h");
    ck_assert_int_eq(r.nseries, 1);
    ck_assert_int_ge(r.n, 4);
    for (int i = 0; i < r.n; i++) {
        ck_assert_int_eq(r.t[i] % 1000, off);
        if (i) ck_assert_int_eq(r.t[i] - r.t[i - 1], 1000); /* no slot missed while /hang hung */
        ck_assert(r.v[i] == i + 1);
    }
    ck_assert_msg(strstr(r.labels, "job=\"h\"") && strstr(r.labels, "path=\"/healthy\""), "%s", r.labels);
    read_series(db, &up, "up", "job", "h");
    ck_assert_int_eq(up.n, r.n);
    for (int i = 0; i < up.n; i++) {
        ck_assert_int_eq(up.t[i], r.t[i]);
        ck_assert(up.v[i] == 1);
    }
    series_samples x;
    read_series(db, &x, "scrape_samples_scraped", "job", "h");
    ck_assert_int_eq(x.n, r.n);
    ck_assert(x.v[0] == 6 && x.v[x.n - 1] == 5);
    read_series(db, &x, "scrape_samples_post_metric_relabeling", "job", "h");
    ck_assert(x.v[0] == 6 && x.v[x.n - 1] == 5); /* duplicates counted, as Prometheus */
    read_series(db, &x, "scrape_series_added", "job", "h");
    ck_assert(x.v[0] == 5 && x.v[1] == 0);
    read_series(db, &x, "scrape_duration_seconds", "job", "h");
    ck_assert_int_eq(x.n, r.n);
    read_series(db, &x, "dup_metric", "job", "h");
    ck_assert_int_eq(x.n, r.n); /* once per scrape, the first value */
    ck_assert(x.v[0] == 1);
    /* conflict: the exposed job becomes exported_job */
    read_series(db, &x, "temp", "exported_job", "exposed");
    ck_assert_int_eq(x.nseries, 1);
    ck_assert_msg(strstr(x.labels, "job=\"h\""), "%s", x.labels);
    /* exported_job taken too: exported_exported_job */
    read_series(db, &x, "conflict", "exported_exported_job", "a");
    ck_assert_int_eq(x.nseries, 1);
    ck_assert_msg(strstr(x.labels, "exported_job=\"b\"") && strstr(x.labels, ", job=\"h\""), "%s", x.labels);
    /* honor_labels: the exposed job wins */
    read_series(db, &x, "temp", "job", "exposed");
    ck_assert_int_eq(x.nseries, 1);
    ck_assert_msg(!strstr(x.labels, "exported_job"), "%s", x.labels);
    /* the series that disappeared after 2 scrapes: a stale marker at the 3rd */
    read_series(db, &x, "gone_metric", "job", "h");
    ck_assert_int_eq(x.n, 3);
    ck_assert(x.v[0] == 1 && x.v[1] == 1 && is_stale_nan(x.v[2]));
    ck_assert_int_eq(x.t[2], r.t[2]);

    /* OpenMetrics target, then removed: stale markers after its samples */
    read_series(db, &x, "om_events_total", "job", "om");
    ck_assert_int_ge(x.n, 3);
    ck_assert(x.v[0] == 1);
    ck_assert(is_stale_nan(x.v[x.n - 1]));
    for (int i = 0; i < x.n - 1; i++) ck_assert(!isnan(x.v[i]));
    read_series(db, &x, "up", "job", "om");
    ck_assert(is_stale_nan(x.v[x.n - 1]));

    /* a target that fails after two good scrapes: stale markers for all its
     * series at the first failed scrape */
    series_samples fu;
    read_series(db, &fu, "up", "job", "flaky");
    ck_assert(fu.n >= 4 && fu.v[0] == 1 && fu.v[1] == 1 && fu.v[2] == 0);
    read_series(db, &x, "flaky_metric", "job", "flaky");
    ck_assert_int_eq(x.n, 3);
    ck_assert(x.v[1] == 1 && is_stale_nan(x.v[2]));
    ck_assert_int_eq(x.t[2], fu.t[2]);
    read_series(db, &x, "flaky_other", "job", "flaky");
    ck_assert_int_eq(x.n, 3);
    ck_assert(is_stale_nan(x.v[2]));
    /* exposed timestamps: kept with honor_timestamps, and such series get
     * no stale marker when they disappear (Prometheus); without it they
     * are on the schedule and tracked */
    read_series(db, &x, "ts_metric", "job", "ts");
    ck_assert_int_eq(x.n, 2);
    ck_assert_int_eq(x.t[0], f.t0 + 1000);
    ck_assert_int_eq(x.t[1], f.t0 + 2000);
    ck_assert(x.v[0] == 1 && x.v[1] == 1);
    read_series(db, &fu, "up", "job", "ts2");
    read_series(db, &x, "ts_metric", "job", "ts2");
    ck_assert_int_eq(x.n, 3);
    ck_assert(is_stale_nan(x.v[2]));
    for (int i = 0; i < 3; i++) ck_assert_int_eq(x.t[i], fu.t[i]);
    /* an empty body: up, no samples */
    read_series(db, &fu, "up", "job", "empty");
    ck_assert(fu.n >= 2 && fu.v[0] == 1 && fu.v[fu.n - 2] == 1);
    read_series(db, &x, "scrape_samples_scraped", "job", "empty");
    ck_assert(x.n >= 2 && x.v[0] == 0);
    /* gzip decoded */
    read_series(db, &x, "gz_metric", "job", "gzip");
    ck_assert_int_ge(x.n, 2);
    ck_assert(x.v[0] == 7);
    read_series(db, &x, "ll", NULL, NULL);
    ck_assert_int_eq(x.nseries, 0);

    /* failed targets: up=0 on the schedule, nothing partial stored; then
     * removed: a stale marker */
    const char *bad_jobs[] = {"bad", "e500", "hang", "huge", "limit"};
    for (int j = 0; j < 5; j++) {
        read_series(db, &x, "up", "job", bad_jobs[j]);
        ck_assert_msg(x.n >= 3, "%s", bad_jobs[j]);
        for (int i = 0; i < x.n - 1; i++) ck_assert_msg(x.v[i] == 0, "%s %d/%d %g", bad_jobs[j], i, x.n, x.v[i]);
        ck_assert(is_stale_nan(x.v[x.n - 1]));
        ck_assert_int_gt(x.t[x.n - 1], x.t[x.n - 2]);
        for (int i = 1; i < x.n - 1; i++) ck_assert_int_eq(x.t[i] - x.t[i - 1], 1000);
    }
    /* the kept targets got no stale marker */
    read_series(db, &x, "up", "job", "h2");
    ck_assert(x.n >= 3 && x.v[x.n - 1] == 1);
    read_series(db, &x, "good_metric", NULL, NULL);
    ck_assert_int_eq(x.nseries, 0);
    read_series(db, &x, "huge_metric", NULL, NULL);
    ck_assert_int_eq(x.nseries, 0);
    read_series(db, &x, "limit_metric", NULL, NULL);
    ck_assert_int_eq(x.nseries, 0);
    /* the whole body is counted, as Prometheus reports it, though nothing is stored */
    read_series(db, &x, "scrape_samples_scraped", "job", "limit");
    ck_assert(x.v[0] == 20);
    read_series(db, &x, "scrape_samples_post_metric_relabeling", "job", "limit");
    ck_assert(x.v[0] == 20);

    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_scrapeloop_spec_errors) {
    scrape_manager *m = scrape_manager_new(NULL);
    ck_assert_ptr_nonnull(m);
    scrape_target_spec s = {0};
    ck_assert_int_eq(scrape_manager_set_targets(m, &s, 1), FLINT_EINVAL);
    s.url = "http://127.0.0.1:1/metrics";
    ck_assert_int_eq(scrape_manager_set_targets(m, &s, 1), FLINT_EINVAL); /* no interval */
    s.interval_ms = 15000;
    s.timeout_ms = 10000;
    int64_t off = scrape_target_offset(&s);
    ck_assert(off >= 0 && off < 15000);
    ck_assert_int_eq(scrape_target_offset(&s), off); /* stable */
    ck_assert_int_eq(scrape_manager_set_targets(m, &s, 1), 0);
    scrape_target_status *st;
    size_t n;
    ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0); /* not applied before run */
    ck_assert_uint_eq(n, 0);
    scrape_target_status_free(st, n);
    scrape_manager_stop(m); /* not running: no-op */
    scrape_manager_free(m);
    scrape_manager_free(NULL);
}
END_TEST

/* Stop and run again: the schedule keeps its phase, no timestamp repeats
 * or goes back, the missed slots are skipped; an interval change through
 * set_targets moves the target to the new grid and keeps its state. */
START_TEST(test_scrapeloop_restart) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    static tspec t;
    mk_spec(&t, f.port, "/om", "om");
    t.s.interval_ms = 200;
    t.s.timeout_ms = 1000; /* clamped to the interval */
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    scrape_target_spec twice[2] = {t.s, t.s};
    ck_assert_int_eq(scrape_manager_set_targets(m, twice, 2), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    sleep_ms(700);
    scrape_manager_stop(m);
    sleep_ms(500);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    sleep_ms(700);
    scrape_target_status *st;
    size_t n;
    ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st[0].timeout_ms, 200);
    uint64_t before = st[0].scrapes;
    scrape_target_status_free(st, n);
    t.s.interval_ms = 300;
    ck_assert_int_eq(scrape_manager_set_targets(m, &t.s, 1), 0);
    sleep_ms(800);
    ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st[0].interval_ms, 300);
    ck_assert_uint_gt(st[0].scrapes, before);
    scrape_target_status_free(st, n);
    scrape_manager_free(m);
    fixture_stop(&f);

    series_samples x;
    read_series(db, &x, "om_events_total", "job", "om");
    ck_assert_int_ge(x.n, 6);
    t.s.interval_ms = 200;
    int64_t off200 = scrape_target_offset(&t.s);
    t.s.interval_ms = 300;
    int64_t off300 = scrape_target_offset(&t.s);
    int gaps = 0, on300 = 0;
    for (int i = 0; i < x.n; i++) {
        /* each scrape stored once (a scrape aborted by the stop or timed
         * out on a loaded machine was counted by the server: no == i+1) */
        if (i) ck_assert(x.v[i] > x.v[i - 1]);
        ck_assert(x.t[i] % 200 == off200 || x.t[i] % 300 == off300);
        if (x.t[i] % 300 == off300 && x.t[i] % 200 != off200) on300++;
        if (i) {
            ck_assert_int_gt(x.t[i], x.t[i - 1]);
            if (x.t[i] - x.t[i - 1] > 300) gaps++;
        }
    }
    ck_assert_int_ge(gaps, 1); /* the stop (a loaded machine may skip a slot too) */
    ck_assert_int_ge(on300, 1);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* Until the target of `job` has at least `n` scrapes (bounded: ~20 s). */
static uint64_t wait_scrapes(scrape_manager *m, const char *job, uint64_t n) {
    uint64_t got = 0;
    for (int i = 0; i < 400; i++) {
        scrape_target_status *st;
        size_t nst;
        ck_assert_int_eq(scrape_manager_targets(m, &st, &nst), 0);
        const scrape_target_status *s = find_status(st, nst, job);
        got = s ? s->scrapes : 0;
        scrape_target_status_free(st, nst);
        if (got >= n) break;
        sleep_ms(50);
    }
    return got;
}

/* metric_relabel_configs: a dropped series is never stored (not even a
 * stale marker when it disappears) and does not count after relabelling;
 * a replace rule adds a label; the target labels are there before the
 * rules run (a rule can read `job`). */
START_TEST(test_scrapeloop_metric_relabel) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    relabel_rule rules[2];
    const char *src_name[] = {"__name__"};
    relabel_spec drop = {.action = RELABEL_DROP, .source_labels = src_name, .nsource_labels = 1,
                         .source_labels_given = true, .regex = "gone_metric|temp"};
    const char *src_path[] = {"job", "path"};
    relabel_spec repl = {.action = RELABEL_REPLACE, .source_labels = src_path, .nsource_labels = 2,
                         .source_labels_given = true, .regex = "(.*);/(.*)", .target_label = "route",
                         .replacement = "$1-$2"};
    ck_assert_int_eq(relabel_rule_init(&rules[0], &drop), 0);
    ck_assert_int_eq(relabel_rule_init(&rules[1], &repl), 0);
    static tspec t;
    mk_spec(&t, f.port, "/relabel", "rl");
    t.s.interval_ms = 300;
    t.s.timeout_ms = 300;
    t.s.metric_relabel = rules;
    t.s.nmetric_relabel = 2;
    /* the same target over a sample_limit of 2: fails, but the counts after
     * relabelling are still the body's, as Prometheus reports them */
    static tspec tl;
    mk_spec(&tl, f.port, "/relabel", "rlim");
    tl.s.interval_ms = 300;
    tl.s.timeout_ms = 300;
    tl.s.metric_relabel = rules;
    tl.s.nmetric_relabel = 2;
    tl.s.sample_limit = 2;
    scrape_target_spec both[2] = {t.s, tl.s};
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(scrape_manager_set_targets(m, both, 2), 0);
    /* the manager compiled its own copy */
    relabel_rule_free(&rules[0]);
    relabel_rule_free(&rules[1]);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    ck_assert_uint_ge(wait_scrapes(m, "rl", 4), 4);
    ck_assert_uint_ge(wait_scrapes(m, "rlim", 4), 4);
    scrape_manager_free(m);
    fixture_stop(&f);

    series_samples x, up;
    read_series(db, &up, "up", "job", "rl");
    ck_assert_int_ge(up.n, 4);
    read_series(db, &x, "temp", NULL, NULL);
    ck_assert_int_eq(x.nseries, 0);
    read_series(db, &x, "gone_metric", NULL, NULL); /* dropped, then gone: no stale marker either */
    ck_assert_int_eq(x.nseries, 0);
    read_series(db, &x, "req_total", "route", "rl-healthy"); /* job (target label) and path (exposed) */
    ck_assert_int_eq(x.nseries, 1);
    ck_assert_int_ge(x.n, 4);
    read_series(db, &x, "scrape_samples_scraped", "job", "rl");
    ck_assert(x.v[0] == 6 && x.v[x.n - 1] == 5);
    read_series(db, &x, "scrape_samples_post_metric_relabeling", "job", "rl");
    ck_assert(x.v[0] == 4 && x.v[x.n - 1] == 4); /* temp and gone_metric dropped; dup_metric twice */
    read_series(db, &x, "scrape_series_added", "job", "rl");
    ck_assert(x.v[0] == 3 && x.v[1] == 0);
    read_series(db, &x, "dup_metric", "job", "rl");
    ck_assert_int_eq(x.nseries, 1);
    ck_assert_msg(!strstr(x.labels, "route"), "%s", x.labels); /* no path label: the regex does not match */
    read_series(db, &x, "up", "job", "rlim");
    ck_assert_int_ge(x.n, 4);
    for (int i = 0; i < x.n; i++) ck_assert(x.v[i] == 0);
    read_series(db, &x, "scrape_samples_scraped", "job", "rlim");
    ck_assert(x.v[0] == 6 && x.v[x.n - 1] == 5);
    read_series(db, &x, "scrape_samples_post_metric_relabeling", "job", "rlim");
    ck_assert(x.v[0] == 4 && x.v[x.n - 1] == 4);
    read_series(db, &x, "req_total", "job", "rlim");
    ck_assert_int_eq(x.nseries, 0);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* HELP/TYPE/UNIT per family from each target's last successful scrape,
 * deduplicated across targets, with the metric filter and the limit per
 * metric; families without metadata lines are not listed. */
START_TEST(test_scrapeloop_metadata) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    static tspec ts[5];
    mk_spec(&ts[0], f.port, "/healthy", "a");
    mk_spec(&ts[1], f.port, "/healthy2", "b");
    mk_spec(&ts[2], f.port, "/om", "om");
    mk_spec(&ts[3], f.port, "/meta", "meta");
    mk_spec(&ts[4], f.port, "/metaom", "metaom");
    scrape_target_spec specs[5];
    for (int i = 0; i < 5; i++) {
        ts[i].s.interval_ms = 200;
        ts[i].s.timeout_ms = 200;
        specs[i] = ts[i].s;
    }
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    scrape_metadata *v;
    size_t n;
    ck_assert_int_eq(scrape_manager_metadata(m, NULL, 0, &v, &n), 0);
    ck_assert_uint_eq(n, 0);
    scrape_metadata_free(v, n);
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, 5), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    const char *jobs[] = {"a", "b", "om", "meta", "metaom"};
    for (int i = 0; i < 5; i++) ck_assert_uint_ge(wait_scrapes(m, jobs[i], 3), 3); /* the strings reused */

    ck_assert_int_eq(scrape_manager_metadata(m, NULL, 0, &v, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(v[0].metric, "om_events");
    ck_assert_str_eq(v[0].type, "counter");
    ck_assert_str_eq(v[0].help, "");
    ck_assert_str_eq(v[1].metric, "om_seconds");
    ck_assert_str_eq(v[1].type, "gauge");
    ck_assert_str_eq(v[1].help, "Time spent.");
    ck_assert_str_eq(v[1].unit, "seconds");
    ck_assert_str_eq(v[2].metric, "req_total"); /* a and b: one entry */
    ck_assert_str_eq(v[2].help, "Requests again.");
    ck_assert_str_eq(v[3].metric, "req_total");
    ck_assert_str_eq(v[3].help, "Requests.");
    ck_assert_str_eq(v[3].type, "counter");
    ck_assert_str_eq(v[3].unit, "");
    scrape_metadata_free(v, n);
    ck_assert_int_eq(scrape_manager_metadata(m, NULL, 1, &v, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(v[2].help, "Requests again.");
    scrape_metadata_free(v, n);
    ck_assert_int_eq(scrape_manager_metadata(m, "om_seconds", 0, &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].type, "gauge");
    scrape_metadata_free(v, n);
    /* a removed target's metadata goes with it */
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, 3), 0);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(scrape_manager_metadata(m, "om_seconds", 0, &v, &n), 0);
        scrape_metadata_free(v, n);
        if (!n) break;
        sleep_ms(20);
    }
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(scrape_manager_metadata(m, "req_total", 0, &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    scrape_metadata_free(v, n);
    scrape_manager_free(m); /* asserts every interned string was released */
    fixture_stop(&f);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* A reload (set_targets again) that keeps a target with a new
 * scrape_interval: its series cache and staleness state survive (no stale
 * markers at the reload, no series added again, the series that goes away
 * later gets its marker), and the new interval applies. */
START_TEST(test_scrapeloop_reload_keeps_state) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    static tspec t;
    mk_spec(&t, f.port, "/reload", "rl");
    t.s.interval_ms = 300;
    t.s.timeout_ms = 300;
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(scrape_manager_set_targets(m, &t.s, 1), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    ck_assert_uint_ge(wait_scrapes(m, "rl", 1), 1);
    t.s.interval_ms = 700;
    t.s.timeout_ms = 500;
    t.s.sample_limit = 100; /* another option changes too */
    ck_assert_int_eq(scrape_manager_set_targets(m, &t.s, 1), 0);
    ck_assert_uint_ge(wait_scrapes(m, "rl", 5), 5);
    scrape_target_status *st;
    size_t n;
    ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st[0].interval_ms, 700);
    ck_assert_int_eq(st[0].timeout_ms, 500);
    scrape_target_status_free(st, n);
    scrape_manager_stop(m);
    scrape_manager_free(m);
    fixture_stop(&f);

    series_samples up, x;
    read_series(db, &up, "up", "job", "rl");
    ck_assert_int_ge(up.n, 5);
    for (int i = 0; i < up.n; i++) ck_assert(up.v[i] == 1); /* no stale marker: never removed */
    ck_assert_int_eq(up.t[up.n - 1] - up.t[up.n - 2], 700);
    ck_assert_int_eq(up.t[up.n - 2] - up.t[up.n - 3], 700);
    read_series(db, &x, "scrape_series_added", "job", "rl");
    ck_assert(x.v[0] == 5);
    for (int i = 1; i < x.n; i++) ck_assert(x.v[i] == 0); /* the cache survived */
    read_series(db, &x, "gone_metric", "job", "rl");
    ck_assert_int_eq(x.n, 3); /* two scrapes, then the marker the kept state knows to write */
    ck_assert(x.v[1] == 1 && is_stale_nan(x.v[2]));
    ck_assert_int_eq(x.t[2], up.t[2]);
    read_series(db, &x, "req_total", "job", "rl");
    ck_assert_int_eq(x.nseries, 1);
    for (int i = 0; i < x.n; i++) ck_assert(!isnan(x.v[i]));
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* Parsing runs off the transfer thread: while a huge body with expensive
 * metric relabelling is parsed, a fast target keeps being scraped (its
 * request count grows between the end of the big transfer and the end of
 * its processing). Then a target removed while its body is being parsed:
 * no crash, and its stale markers come after what that scrape wrote. */
START_TEST(test_scrapeloop_parse_off_thread) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    /* 40 replace rules per new series make the first parse slow; the last
     * rule drops all (big) or all but i=0..9 (big2) */
    enum { NRULES = 62 };
    static relabel_rule rules[NRULES], rules2[NRULES];
    const char *src_i[] = {"i"}, *src_name[] = {"__name__"};
    for (int r = 0; r < NRULES - 2; r++) {
        relabel_spec sp = {.action = RELABEL_REPLACE, .source_labels = src_i, .nsource_labels = 1,
                           .source_labels_given = true, .regex = "(.*)", .target_label = "x", .replacement = "$1"};
        ck_assert_int_eq(relabel_rule_init(&rules[r], &sp), 0);
        ck_assert_int_eq(relabel_rule_init(&rules2[r], &sp), 0);
    }
    relabel_spec keep_name = {.action = RELABEL_LABELDROP, .regex = "x"};
    ck_assert_int_eq(relabel_rule_init(&rules[NRULES - 2], &keep_name), 0);
    ck_assert_int_eq(relabel_rule_init(&rules2[NRULES - 2], &keep_name), 0);
    relabel_spec drop_all = {.action = RELABEL_DROP, .source_labels = src_name, .nsource_labels = 1,
                             .source_labels_given = true, .regex = "big_metric"};
    relabel_spec drop_most = {.action = RELABEL_DROP, .source_labels = src_i, .nsource_labels = 1,
                              .source_labels_given = true, .regex = "[0-9]{2,}"};
    ck_assert_int_eq(relabel_rule_init(&rules[NRULES - 1], &drop_all), 0);
    ck_assert_int_eq(relabel_rule_init(&rules2[NRULES - 1], &drop_most), 0);
    static tspec fast, big, big2;
    mk_spec(&fast, f.port, "/om", "fast");
    fast.s.interval_ms = 100;
    fast.s.timeout_ms = 100;
    mk_spec(&big, f.port, "/big", "big");
    big.s.interval_ms = 1000;
    big.s.timeout_ms = 1000;
    big.s.metric_relabel = rules;
    big.s.nmetric_relabel = NRULES;
    mk_spec(&big2, f.port, "/big2", "big2");
    big2.s.interval_ms = 1000;
    big2.s.timeout_ms = 1000;
    big2.s.metric_relabel = rules2;
    big2.s.nmetric_relabel = NRULES;
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    scrape_target_spec specs[2] = {fast.s, big.s};
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, 2), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    for (int i = 0; i < 1000 && !atomic_load(&f.big_done); i++) sleep_ms(10);
    ck_assert_int_ge(atomic_load(&f.big_done), 1);
    int fast_at_body = atomic_load(&f.hits_om);
    ck_assert_uint_ge(wait_scrapes(m, "big", 1), 1); /* parsed and appended */
    int fast_after_parse = atomic_load(&f.hits_om);
    scrape_target_status *st;
    size_t n;
    ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
    const scrape_target_status *bs = find_status(st, n, "big");
    ck_assert_str_eq(bs->last_error, "");
    fprintf(stderr, "parse_off_thread: big scrape %.3f s (transfer), fast target scraped %d times while the big body "
                    "was processed\n", bs->last_scrape_duration_s, fast_after_parse - fast_at_body);
    scrape_target_status_free(st, n);
    ck_assert_int_ge(fast_after_parse - fast_at_body, 2);

    /* big2: removed as soon as its transfer is over (its body queued or
     * being parsed) */
    specs[1] = big2.s;
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, 2), 0);
    for (int i = 0; i < 1000 && !atomic_load(&f.big2_done); i++) sleep_ms(10);
    ck_assert_int_ge(atomic_load(&f.big2_done), 1);
    ck_assert_int_eq(scrape_manager_set_targets(m, specs, 1), 0);
    for (int i = 0; i < 500; i++) {
        ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
        scrape_target_status_free(st, n);
        if (n == 1) break;
        sleep_ms(10);
    }
    ck_assert_uint_eq(n, 1);
    scrape_manager_free(m); /* waits for the worker: it finishes the parse, then retires big2 */
    fixture_stop(&f);
    for (int r = 0; r < NRULES; r++) {
        relabel_rule_free(&rules[r]);
        relabel_rule_free(&rules2[r]);
    }
    series_samples up, x;
    read_series(db, &up, "up", "job", "big2");
    ck_assert_int_eq(up.n, 2);
    ck_assert(up.v[0] == 1 && is_stale_nan(up.v[1]));
    ck_assert_int_gt(up.t[1], up.t[0]);
    read_series(db, &x, "big_metric", "i", "3");
    ck_assert_int_eq(x.nseries, 1);
    ck_assert_int_eq(x.n, 2);
    ck_assert(x.v[0] == 1 && is_stale_nan(x.v[1]));
    ck_assert_int_eq(x.t[0], up.t[0]);
    ck_assert_int_eq(x.t[1], up.t[1]);
    read_series(db, &x, "big_metric", "i", "10");
    ck_assert_int_eq(x.nseries, 0);
    read_series(db, &x, "scrape_samples_post_metric_relabeling", "job", "big");
    ck_assert(x.n >= 1 && x.v[0] == 0);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* A reload that changes metric_relabel_configs of a kept target: the new
 * rules apply to series already seen (a new series cache, as Prometheus'
 * reusableCache), series stored under the old labels get a stale marker,
 * those stored the same way again do not, and the target's own report
 * series continue. */
START_TEST(test_scrapeloop_reload_new_rules) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    const char *src_name[] = {"__name__"};
    relabel_rule r1, r2;
    relabel_spec v1 = {.action = RELABEL_REPLACE, .source_labels = src_name, .nsource_labels = 1,
                       .source_labels_given = true, .regex = "req_total", .target_label = "v", .replacement = "1"};
    relabel_spec v2 = v1;
    v2.replacement = "2";
    ck_assert_int_eq(relabel_rule_init(&r1, &v1), 0);
    ck_assert_int_eq(relabel_rule_init(&r2, &v2), 0);
    static tspec t;
    mk_spec(&t, f.port, "/relabel2", "rn");
    t.s.interval_ms = 300;
    t.s.timeout_ms = 300;
    t.s.metric_relabel = &r1;
    t.s.nmetric_relabel = 1;
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(scrape_manager_set_targets(m, &t.s, 1), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    uint64_t before = wait_scrapes(m, "rn", 3);
    ck_assert_uint_ge(before, 3);
    t.s.metric_relabel = &r2;
    ck_assert_int_eq(scrape_manager_set_targets(m, &t.s, 1), 0);
    ck_assert_uint_ge(wait_scrapes(m, "rn", before + 3), before + 3);
    scrape_manager_free(m);
    fixture_stop(&f);
    relabel_rule_free(&r1);
    relabel_rule_free(&r2);

    series_samples up, a, b, x;
    read_series(db, &up, "up", "job", "rn");
    for (int i = 0; i < up.n; i++) ck_assert(up.v[i] == 1);
    read_series(db, &a, "req_total", "v", "1");
    read_series(db, &b, "req_total", "v", "2");
    ck_assert_int_eq(a.nseries, 1);
    ck_assert_int_eq(b.nseries, 1);
    ck_assert_int_ge(a.n, 4);
    ck_assert(is_stale_nan(a.v[a.n - 1])); /* the old labels end with the first scrape under the new rules */
    ck_assert_int_eq(a.t[a.n - 1], b.t[0]);
    for (int i = 0; i < a.n - 1; i++) ck_assert(!isnan(a.v[i]));
    for (int i = 0; i < b.n; i++) ck_assert(!isnan(b.v[i]));
    ck_assert_int_eq(a.n - 1 + b.n, up.n); /* one req_total sample per scrape */
    read_series(db, &x, "conflict", "job", "rn"); /* unchanged by either rule: no marker */
    ck_assert_int_eq(x.n, up.n);
    for (int i = 0; i < x.n; i++) ck_assert(!isnan(x.v[i]));
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

/* A series whose samples the head refuses (here: older than what the DB
 * already has for it) never gets a ref; the cache keeps no labels, so each
 * scrape builds them again, the refusal is counted, and the scrape stays
 * up. */
START_TEST(test_scrapeloop_refused_series) {
    fixture f;
    fixture_start(&f);
    const char *dir = tu_tmpdir();
    tsdb_options o;
    tsdb_options_default(&o);
    tsdb *db;
    ck_assert_int_eq(tsdb_open(dir, &o, &db), 0);
    static tspec t;
    mk_spec(&t, f.port, "/seeded", "seeded");
    t.s.interval_ms = 200;
    t.s.timeout_ms = 200;
    const label seeded[] = {{"__name__", "seeded_metric"}, {"instance", t.inst}, {"job", "seeded"}};
    labels sl = {seeded, 3};
    tsdb_appender *app = tsdb_appender_begin(db);
    uint64_t ref = 0;
    ck_assert_int_eq(tsdb_append(app, 0, &sl, f.t0 + 60000, 1, &ref), 0); /* newer than what the target exposes */
    ck_assert_int_eq(tsdb_commit(app), 0);
    scrape_manager *m = scrape_manager_new(db);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(scrape_manager_set_targets(m, &t.s, 1), 0);
    ck_assert_int_eq(scrape_manager_run(m), 0);
    ck_assert_uint_ge(wait_scrapes(m, "seeded", 3), 3);
    scrape_target_status *st;
    size_t n;
    ck_assert_int_eq(scrape_manager_targets(m, &st, &n), 0);
    ck_assert_str_eq(st[0].last_error, "");
    ck_assert_uint_ge(st[0].out_of_order_samples, 3);
    scrape_target_status_free(st, n);
    scrape_manager_free(m);
    fixture_stop(&f);
    series_samples up, x;
    read_series(db, &up, "up", "job", "seeded");
    ck_assert_int_ge(up.n, 3);
    for (int i = 0; i < up.n; i++) ck_assert(up.v[i] == 1);
    read_series(db, &x, "seeded_metric", "job", "seeded");
    ck_assert_int_eq(x.n, 1); /* only the seeded sample */
    read_series(db, &x, "fresh_metric", "job", "seeded");
    ck_assert_int_eq(x.n, up.n);
    tsdb_close(db);
    tu_tmpdir_cleanup();
}
END_TEST

Suite *scrapeloop_suite(void) {
    Suite *s = suite_create("scrapeloop");
    TCase *tc = tcase_create("scrapeloop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_scrapeloop_spec_errors);
    tcase_add_test(tc, test_scrapeloop_targets);
    tcase_add_test(tc, test_scrapeloop_restart);
    tcase_add_test(tc, test_scrapeloop_metric_relabel);
    tcase_add_test(tc, test_scrapeloop_metadata);
    tcase_add_test(tc, test_scrapeloop_reload_keeps_state);
    tcase_add_test(tc, test_scrapeloop_parse_off_thread);
    tcase_add_test(tc, test_scrapeloop_reload_new_rules);
    tcase_add_test(tc, test_scrapeloop_refused_series);
    suite_add_tcase(s, tc);
    return s;
}
