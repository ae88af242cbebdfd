/*
 * chunk_bench.c - chunk codec benchmark on an OpenMetrics file such as the
 * one /work/shared/bench/gen_dataset.py writes (lines `name{labels} value
 * timestamp_seconds`, each series' samples consecutive, `# ` lines skipped).
 *
 * Every series is cut into chunks of N samples for each --chunk length and
 * encoded twice: XOR only, and chunk_encode's best (dense, XOR fallback).
 * Every chunk is decoded again and compared bit for bit. Reports bytes per
 * sample overall and per series kind (counter / gauge / constant, from the
 * `# TYPE` lines and, when present, dataset.json's "constant" names), and
 * encode / decode speed in ns per sample.
 *
 *   build/bench/chunk_bench [--chunk 120,240,480,960,1440] [--max-series N]
 *                           [--repeat N] [--csv FILE] dataset.om
 *
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per phase over
 * a whole series, so other load on the machine and timer calls barely show;
 * --repeat N runs each decoding phase N times and counts the fastest.
 */
#include "storage/chunk.h"
#include "storage/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LENS 8
enum { KIND_COUNTER, KIND_GAUGE, KIND_CONSTANT, NKIND };
static const char *kind_names[NKIND] = {"counter", "gauge", "constant"};

typedef struct stats {
    uint64_t samples, chunks, xor_bytes, best_bytes, dense_chunks;
    uint64_t kind_samples[NKIND], kind_xor[NKIND], kind_best[NKIND];
    double enc_ns, xor_enc_ns, dec_ns, iter_ns, xor_dec_ns;
} stats;

static size_t chunk_lens[MAX_LENS];
static int nlens;
static stats st[MAX_LENS];
static char **const_names;
static size_t nconst;
static FILE *csv;

/* CPU time of this thread: other processes on the machine do not count. */
static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "chunk_bench: %s\n", msg);
    exit(1);
}

/* "constant" metric names from dataset.json beside the dataset, if any. */
static void load_const_names(const char *om_path) {
    char path[4096];
    snprintf(path, sizeof path, "%s", om_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "dataset.json");
    FILE *f = fopen(path, "r");
    if (!f) return;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strstr(buf, "\"constant\": [");
    if (!p) return;
    p += strlen("\"constant\": [");
    char *end = strchr(p, ']');
    while (p && end && p < end) {
        char *q1 = strchr(p, '"');
        if (!q1 || q1 > end) break;
        char *q2 = strchr(q1 + 1, '"');
        if (!q2) break;
        const_names = realloc(const_names, (nconst + 1) * sizeof *const_names);
        const_names[nconst++] = strndup(q1 + 1, (size_t)(q2 - q1 - 1));
        p = q2 + 1;
    }
}

static int kind_of(const char *key, int type_kind) {
    size_t len = strcspn(key, "{ ");
    for (size_t i = 0; i < nconst; i++)
        if (strlen(const_names[i]) == len && strncmp(const_names[i], key, len) == 0) return KIND_CONSTANT;
    return type_kind;
}

static void check_equal(const int64_t *ts, const double *vs, const int64_t *dt, const double *dv, size_t n,
                        const char *what) {
    for (size_t i = 0; i < n; i++)
        if (ts[i] != dt[i] || memcmp(&vs[i], &dv[i], 8) != 0) {
            fprintf(stderr, "chunk_bench: %s mismatch at %zu: (%lld,%.17g) vs (%lld,%.17g)\n", what, i,
                    (long long)ts[i], vs[i], (long long)dt[i], dv[i]);
            exit(1);
        }
}

static int repeat = 1;

/* Encode one series in chunks of each length; time each phase over the
 * whole series (so timer calls cost nothing per sample), then verify. */
static void process_series(const char *key, int kind, const int64_t *ts, const double *vs, size_t n) {
    static fl_buf *xb, *db;
    static int *encs;
    static size_t nbufs;
    static int64_t *dt;
    static double *dv;
    static size_t dcap;
    if (n > dcap) {
        dcap = n;
        dt = realloc(dt, n * sizeof *dt);
        dv = realloc(dv, n * sizeof *dv);
        if (!dt || !dv) die("out of memory");
    }
    for (int li = 0; li < nlens; li++) {
        stats *s = &st[li];
        size_t clen = chunk_lens[li], nchunks = (n + clen - 1) / clen;
        if (nchunks > nbufs) {
            xb = realloc(xb, nchunks * sizeof *xb);
            db = realloc(db, nchunks * sizeof *db);
            encs = realloc(encs, nchunks * sizeof *encs);
            if (!xb || !db || !encs) die("out of memory");
            memset(xb + nbufs, 0, (nchunks - nbufs) * sizeof *xb);
            memset(db + nbufs, 0, (nchunks - nbufs) * sizeof *db);
            nbufs = nchunks;
        }
        for (size_t c = 0; c < nchunks; c++) {
            fl_buf_reset(&xb[c]);
            fl_buf_reset(&db[c]);
        }
        int xenc;
        double t0 = now_ns();
        for (size_t c = 0; c < nchunks; c++) {
            size_t off = c * clen, cn = n - off < clen ? n - off : clen;
            if (chunk_encode(ts + off, vs + off, cn, 1u << CHUNK_ENC_XOR, &xb[c], &xenc)) die(flint_errmsg());
        }
        double t1 = now_ns();
        for (size_t c = 0; c < nchunks; c++) {
            size_t off = c * clen, cn = n - off < clen ? n - off : clen;
            if (chunk_encode(ts + off, vs + off, cn, 0, &db[c], &encs[c])) die(flint_errmsg());
        }
        double t2 = now_ns();
        /* each decoding phase: the fastest of `repeat` runs */
        double dec = 1e300, iter = 1e300, xdec = 1e300, sum = 0;
        size_t k = 0;
        for (int rep = 0; rep < repeat; rep++) {
            double a = now_ns();
            for (size_t c = 0; c < nchunks; c++)
                if (chunk_decode_all(encs[c], db[c].data, db[c].len, dt + c * clen, dv + c * clen, clen) < 0)
                    die(flint_errmsg());
            double b = now_ns();
            dec = b - a < dec ? b - a : dec;
        }
        check_equal(ts, vs, dt, dv, n, "decode_all");
        for (int rep = 0; rep < repeat; rep++) {
            double a = now_ns();
            k = 0;
            for (size_t c = 0; c < nchunks; c++) {
                chunk_iter it;
                chunk_iter_init(&it, encs[c], db[c].data, db[c].len);
                while (chunk_iter_next(&it)) {
                    sum += it.v;
                    dt[k++] = it.t;
                }
                if (chunk_iter_err(&it)) die("iterator error");
            }
            double b = now_ns();
            iter = b - a < iter ? b - a : iter;
        }
        if (k != n) die("iterator count");
        if (sum == 12345.678) fprintf(stderr, " ");
        for (int rep = 0; rep < repeat; rep++) {
            double a = now_ns();
            for (size_t c = 0; c < nchunks; c++)
                if (chunk_decode_all(CHUNK_ENC_XOR, xb[c].data, xb[c].len, dt + c * clen, dv + c * clen, clen) < 0)
                    die(flint_errmsg());
            double b = now_ns();
            xdec = b - a < xdec ? b - a : xdec;
        }
        check_equal(ts, vs, dt, dv, n, "xor");
        uint64_t series_best = 0, series_xor = 0;
        for (size_t c = 0; c < nchunks; c++) {
            series_best += db[c].len;
            series_xor += xb[c].len;
            s->dense_chunks += encs[c] == CHUNK_ENC_DENSE;
        }
        s->xor_enc_ns += t1 - t0;
        s->enc_ns += t2 - t1;
        s->dec_ns += dec;
        s->iter_ns += iter;
        s->xor_dec_ns += xdec;
        s->chunks += nchunks;
        s->samples += n;
        s->xor_bytes += series_xor;
        s->best_bytes += series_best;
        s->kind_samples[kind] += n;
        s->kind_xor[kind] += series_xor;
        s->kind_best[kind] += series_best;
        if (csv) {
            fprintf(csv, "%zu,%s,\"", clen, kind_names[kind]);
            for (const char *p = key; *p; p++) fputs(*p == '"' ? "\"\"" : (char[2]){*p, 0}, csv);
            fprintf(csv, "\",%zu,%llu,%llu\n", n, (unsigned long long)series_xor, (unsigned long long)series_best);
        }
    }
}

static void parse_lens(const char *arg) {
    nlens = 0;
    for (const char *p = arg; *p && nlens < MAX_LENS;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65535) die("bad --chunk list");
        chunk_lens[nlens++] = (size_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') die("bad --chunk list");
    }
}

int main(int argc, char **argv) {
    const char *path = NULL;
    long max_series = -1;
    parse_lens("120,240,480,960,1440");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) parse_lens(argv[++i]);
        else if (strcmp(argv[i], "--max-series") == 0 && i + 1 < argc) max_series = atol(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
            csv = fopen(argv[++i], "w");
            if (!csv) die("cannot open csv");
            fprintf(csv, "chunk,kind,series,samples,xor_bytes,best_bytes\n");
        } else if (argv[i][0] == '-') {
            die("usage: chunk_bench [--chunk 120,240,...] [--max-series N] [--repeat N] [--csv FILE] dataset.om");
        } else path = argv[i];
    }
    if (!path) die("usage: chunk_bench [--chunk 120,240,...] [--max-series N] [--csv FILE] dataset.om");
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open dataset");
    load_const_names(path);

    char *line = NULL;
    size_t lcap = 0;
    ssize_t llen;
    char key[4096] = "", cur[4096] = "";
    int type_kind = KIND_GAUGE, cur_kind = KIND_GAUGE;
    int64_t *ts = NULL;
    double *vs = NULL;
    size_t n = 0, cap = 0;
    long series = 0;
    double t_start = now_ns();
    while ((llen = getline(&line, &lcap, f)) > 0) {
        if (line[llen - 1] == '\n') line[--llen] = 0;
        if (line[0] == '#') {
            if (strncmp(line, "# TYPE ", 7) == 0) type_kind = strstr(line + 7, " counter") ? KIND_COUNTER : KIND_GAUGE;
            continue;
        }
        char *sp2 = strrchr(line, ' ');
        if (!sp2) continue;
        *sp2 = 0;
        char *sp1 = strrchr(line, ' ');
        if (!sp1) continue;
        *sp1 = 0;
        double v = strtod(sp1 + 1, NULL);
        int64_t t = (int64_t)llround(strtod(sp2 + 1, NULL) * 1000.0);
        snprintf(key, sizeof key, "%s", line);
        if (strcmp(key, cur) != 0) {
            if (n) process_series(cur, cur_kind, ts, vs, n);
            n = 0;
            if (max_series >= 0 && series >= max_series) break;
            series++;
            memcpy(cur, key, sizeof cur);
            cur_kind = kind_of(cur, type_kind);
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 8192;
            ts = realloc(ts, cap * sizeof *ts);
            vs = realloc(vs, cap * sizeof *vs);
            if (!ts || !vs) die("out of memory");
        }
        if (n && t <= ts[n - 1]) continue; /* not increasing: skip like an OOO append */
        ts[n] = t;
        vs[n] = v;
        n++;
    }
    if (n && (max_series < 0 || series <= max_series)) process_series(cur, cur_kind, ts, vs, n);
    fclose(f);
    free(line);

    printf("dataset %s: %ld series, %llu samples (%.1f s CPU)\n", path, series, (unsigned long long)st[0].samples,
           (now_ns() - t_start) / 1e9);
    printf("%6s %9s %9s %6s %9s %9s %9s | %7s %7s %7s %7s %7s\n", "chunk", "xor B/s", "best B/s", "dense%",
           "counter", "gauge", "constant", "enc", "xor_enc", "dec_all", "iter", "xor_dec");
    for (int li = 0; li < nlens; li++) {
        stats *s = &st[li];
        double ns = (double)s->samples;
        printf("%6zu %9.4f %9.4f %5.1f%%", chunk_lens[li], s->xor_bytes / ns, s->best_bytes / ns,
               100.0 * s->dense_chunks / (double)s->chunks);
        for (int k = 0; k < NKIND; k++)
            printf(" %9.4f", s->kind_samples[k] ? s->kind_best[k] / (double)s->kind_samples[k] : 0.0);
        printf(" | %7.1f %7.1f %7.2f %7.2f %7.2f\n", s->enc_ns / ns, s->xor_enc_ns / ns, s->dec_ns / ns,
               s->iter_ns / ns, s->xor_dec_ns / ns);
    }
    printf("(B/s = bytes per sample incl. chunk headers; speeds in ns/sample; per-kind columns are best)\n");
    for (int k = 0; k < NKIND; k++)
        printf("  %-8s %9llu samples, xor %.4f B/s, best %.4f B/s at chunk %zu\n", kind_names[k],
               (unsigned long long)st[0].kind_samples[k],
               st[0].kind_samples[k] ? st[nlens - 1].kind_xor[k] / (double)st[nlens - 1].kind_samples[k] : 0.0,
               st[0].kind_samples[k] ? st[nlens - 1].kind_best[k] / (double)st[nlens - 1].kind_samples[k] : 0.0,
               chunk_lens[nlens - 1]);
    if (csv) fclose(csv);
    return 0;
}
