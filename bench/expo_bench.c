/*
 * expo_bench.c - throughput of the exposition parser (scrape/expo.h), in
 * MB/s and samples/s, each the best of a few runs:
 *
 *   node_exporter  a real body (bench/testdata/node_exporter.txt, text
 *                  format) parsed over and over, parser reset per body, as
 *                  successive scrapes are;
 *   synthetic      a large text and OpenMetrics body where every line is a
 *                  new series (the label path on every line);
 *   file           OpenMetrics files (default /tmp/bench-small/dataset.om),
 *                  mmapped and parsed whole, as `flint import openmetrics`
 *                  reads them: one series' samples in a row, so the
 *                  repeated-series fast path carries most lines;
 *   floats         expo_parse_double against strtod on sample values.
 *
 * The consumer loop reads what an appender would: value and timestamp of
 * every sample, the label array of every new series; for files, a second
 * line adds expo_start_timestamp() on every sample.
 *
 * Usage: build/bench/expo_bench [-r RUNS] [-q] [FILE.om ...]
 *        (-q: skip node_exporter, synthetic and floats; just the files)
 */
#include "scrape/expo.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct result {
    size_t bytes, samples, repeated, series_labels;
    double checksum;
    int err;
} result;

static void consume(expo_parser *p, result *r, bool st) {
    int e;
    while ((e = expo_next(p)) > 0) {
        if (e != EXPO_SAMPLE) continue;
        const expo_sample *s = expo_sample_at(p);
        r->samples++;
        r->checksum += s->value + (double)(s->has_ts ? s->ts_ms : 0);
        int64_t st_ms;
        if (st && expo_start_timestamp(p, &st_ms) == 1) r->checksum += (double)st_ms;
        if (s->series_repeated) {
            r->repeated++;
        } else {
            for (size_t i = 0; i < s->nlabels; i++) r->series_labels += (unsigned char)s->labels[i].value[0];
        }
    }
    if (e < 0) {
        fprintf(stderr, "parse error: %s\n", expo_error(p));
        r->err = e;
    }
}

/* Parse `body` `times` times (reset in between); best of `runs`. */
static void bench_body(const char *what, expo_format f, const char *body, size_t len, int times, int runs,
                       bool st) {
    expo_parser p;
    expo_parser_init(&p, f, body, len);
    double best = 1e30;
    result r = {0};
    for (int run = 0; run < runs; run++) {
        memset(&r, 0, sizeof r);
        double t0 = now();
        for (int i = 0; i < times; i++) {
            expo_parser_reset(&p, f, body, len);
            consume(&p, &r, st);
            if (r.err) break;
            r.bytes += len;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%-34s %8.1f MB/s %8.2f M samples/s  (%zu bytes x %d, %zu samples/body, %.0f%% repeated)\n", what,
           (double)r.bytes / best / 1e6, (double)r.samples / best / 1e6, len, times, r.samples / (size_t)times,
           r.samples ? 100.0 * (double)r.repeated / (double)r.samples : 0.0);
    expo_parser_free(&p);
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* n series of a realistic shape, every line a new series. */
static char *synthetic(expo_format f, size_t n, size_t *len) {
    size_t cap = n * 160 + 4096, k = 0;
    char *b = malloc(cap);
    if (!b) return NULL;
    const char *fam = "http_server_request_duration_seconds";
    k += (size_t)snprintf(b + k, cap - k, "# HELP %s Duration of HTTP requests.\n# TYPE %s gauge\n", fam, fam);
    for (size_t i = 0; i < n; i++) {
        k += (size_t)snprintf(b + k, cap - k,
                              "%s{instance=\"10.0.%zu.%zu:8080\",job=\"api\",method=\"%s\",route=\"/v1/items/%zu\","
                              "status=\"%d\"} %zu.%03zu %s\n",
                              fam, i / 256 % 256, i % 256, i % 3 ? "GET" : "POST", i % 1000, 200 + (int)(i % 5),
                              i * 7 % 100000, i % 1000, f == EXPO_TEXT ? "1700000000123" : "1700000000.123");
    }
    if (f == EXPO_OPENMETRICS) k += (size_t)snprintf(b + k, cap - k, "# EOF\n");
    *len = k;
    return b;
}

static void bench_file(const char *path, int runs) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%-34s (cannot open %s)\n", "file", path);
        return;
    }
    struct stat st;
    fstat(fd, &st);
    size_t len = (size_t)st.st_size;
    const char *m = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (m == MAP_FAILED) {
        perror("mmap");
        return;
    }
    madvise((void *)m, len, MADV_SEQUENTIAL | MADV_WILLNEED);
    char what[64];
    const char *base = strrchr(path, '/');
    snprintf(what, sizeof what, "file %s", base ? base + 1 : path);
    /* first pass reads the page cache in */
    bench_body(what, EXPO_OPENMETRICS, m, len, 1, runs + 1, false);
    snprintf(what, sizeof what, "  + expo_start_timestamp");
    bench_body(what, EXPO_OPENMETRICS, m, len, 1, runs, true);
    munmap((void *)m, len);
}

/* ns per value for expo_parse_double and strtod over one class of text */
static void bench_float_class(const char *what, int cls) {
    enum { N = 1 << 20 };
    static char text[N][26];
    static size_t lens[N];
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (cls) {
        case 0: lens[i] = (size_t)snprintf(text[i], 26, "%llu", x % 100000000); break;
        case 1: lens[i] = (size_t)snprintf(text[i], 26, "%llu.%02llu", x % 10000000, x / 7 % 100); break;
        case 2: lens[i] = (size_t)snprintf(text[i], 26, "%.6g", (double)(x % 1000000) * 1e-7); break;
        default: lens[i] = (size_t)snprintf(text[i], 26, "%.17g", (double)(x >> 11) / 9007199254740992.0); break;
        }
    }
    double sum = 0, best_e = 1e30, best_s = 1e30;
    for (int run = 0; run < 3; run++) {
        double t0 = now();
        for (int i = 0; i < N; i++) {
            double v;
            expo_parse_double(text[i], lens[i], &v);
            sum += v;
        }
        double t1 = now();
        for (int i = 0; i < N; i++) sum += strtod(text[i], NULL);
        double t2 = now();
        if (t1 - t0 < best_e) best_e = t1 - t0;
        if (t2 - t1 < best_s) best_s = t2 - t1;
    }
    printf("expo_parse_double %-16s %8.1f ns/value (strtod %.1f ns/value) e.g. %s%s\n", what, best_e / N * 1e9,
           best_s / N * 1e9, text[0], sum == 0.5 ? " " : "");
}

static void bench_floats(void) {
    bench_float_class("integers", 0);
    bench_float_class("ddddddd.dd", 1);
    bench_float_class("%.6g", 2);
    bench_float_class("17 digits", 3);
}

int main(int argc, char **argv) {
    int runs = 3, quick = 0, nfiles = 0;
    const char *files[16];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-q")) quick = 1;
        else if (nfiles < 16) files[nfiles++] = argv[i];
    }
    if (!nfiles) files[nfiles++] = "/tmp/bench-small/dataset.om";
    if (!quick) {
        size_t len;
        char *ne = read_all("bench/testdata/node_exporter.txt", &len);
        if (ne) {
            bench_body("node_exporter (text)", EXPO_TEXT, ne, len, 2000, runs, false);
            free(ne);
        } else {
            printf("(bench/testdata/node_exporter.txt not found; run from the repository root)\n");
        }
        for (int f = 0; f < 2; f++) {
            char *b = synthetic((expo_format)f, 500000, &len);
            if (!b) return 1;
            bench_body(f ? "synthetic 500k series (OM)" : "synthetic 500k series (text)", (expo_format)f, b, len, 1,
                       runs, false);
            free(b);
        }
        bench_floats();
    }
    for (int i = 0; i < nfiles; i++) bench_file(files[i], runs);
    return 0;
}
