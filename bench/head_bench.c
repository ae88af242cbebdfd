/*
 * head_bench.c - the head's two budgets:
 *   append   append throughput (samples/s) with cached refs over 100,000
 *            series, one appender per 1,000-series "scrape", no WAL hook
 *            and with a hook that encodes WAL-like records in memory;
 *   rss      resident memory per series: 100,000 series of node_exporter
 *            shape (100 hosts x 1,000 series, ~5 labels) get 480 samples
 *            each at 15 s spacing (2 h) with realistic values, then VmRSS
 *            minus the baseline taken before the head existed, divided by
 *            the number of series. Reported after 240, 479 and 480
 *            samples (the open chunk half full, nearly full, just cut).
 * Each part runs in a child process so they do not share heap history.
 *
 * Usage: head_bench [append|rss] [--series N] [--jitter]
 * (--jitter adds 0-5 ms of scrape-time jitter; by default timestamps are
 * exactly 15 s apart, as Prometheus' scrape timestamp alignment makes
 * them.)
 */
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/varint.h"
#include "tsdb/head.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static size_t nseries = 100000;
static int jitter;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this thread: the figure to trust on a shared machine. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long vm_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static inline uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static inline double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* ---- node_exporter-shaped series ------------------------------------------------ */

enum kind {
    K_CPU,       /* seconds in USER_HZ ticks: v = ticks / 100 */
    K_NS,        /* seconds with ns precision (schedstat, pressure) */
    K_BYTES,     /* integer counter, large increments */
    K_PACKETS,   /* integer counter, moderate increments */
    K_SLOW,      /* integer counter, small increments, often 0 */
    K_ERR,       /* integer counter, rare increments */
    K_PAGES,     /* gauge in bytes, random walk in 4 KiB pages */
    K_LOAD,      /* gauge with 2 decimals, bounded random walk */
    K_CONST,     /* constant (info metrics, sizes, zero modes) */
};

typedef struct family {
    const char *name;
    const char *lname1; /* extra labels: name and value pattern, count */
    int n1;
    const char *lname2;
    int n2;
    enum kind kind;
} family;

/* 1,000 series per host. */
static const family families[] = {
    {"node_cpu_seconds_total", "cpu", 8, "mode", 6, K_CPU},
    {"node_cpu_seconds_total", "cpu", 8, "mode_zero", 2, K_CONST},
    {"node_cpu_guest_seconds_total", "cpu", 8, "mode", 2, K_CONST},
    {"node_network_receive_bytes_total", "device", 6, NULL, 0, K_BYTES},
    {"node_network_transmit_bytes_total", "device", 6, NULL, 0, K_BYTES},
    {"node_network_receive_packets_total", "device", 6, NULL, 0, K_PACKETS},
    {"node_network_transmit_packets_total", "device", 6, NULL, 0, K_PACKETS},
    {"node_network_stat_total", "device", 6, "stat", 12, K_ERR},
    {"node_disk_read_bytes_total", "device", 8, NULL, 0, K_BYTES},
    {"node_disk_written_bytes_total", "device", 8, NULL, 0, K_BYTES},
    {"node_disk_reads_completed_total", "device", 8, NULL, 0, K_PACKETS},
    {"node_disk_writes_completed_total", "device", 8, NULL, 0, K_PACKETS},
    {"node_disk_io_time_seconds_total", "device", 8, NULL, 0, K_NS},
    {"node_disk_op_time_seconds_total", "device", 8, "op", 3, K_NS},
    {"node_disk_io_now", "device", 8, NULL, 0, K_SLOW},
    {"node_filesystem_avail_bytes", "mountpoint", 10, NULL, 0, K_PAGES},
    {"node_filesystem_free_bytes", "mountpoint", 10, NULL, 0, K_PAGES},
    {"node_filesystem_files_free", "mountpoint", 10, NULL, 0, K_SLOW},
    {"node_filesystem_attr", "mountpoint", 10, "attr", 4, K_CONST},
    {"node_memory_bytes", "field", 40, NULL, 0, K_PAGES},
    {"node_memory_static_bytes", "field", 10, NULL, 0, K_CONST},
    {"node_interrupts_total", "cpu", 8, "type", 50, K_SLOW},
    {"node_schedstat_seconds_total", "cpu", 8, "kind", 2, K_NS},
    {"node_vmstat_total", "field", 100, NULL, 0, K_PACKETS},
    {"node_netstat_total", "field", 40, NULL, 0, K_PACKETS},
    {"node_netstat_errors_total", "field", 40, NULL, 0, K_ERR},
    {"node_load", "window", 3, NULL, 0, K_LOAD},
    {"node_pressure_seconds_total", "resource", 6, NULL, 0, K_NS},
    {"node_procs", "state", 3, NULL, 0, K_SLOW},
    {"node_info", "field", 3, NULL, 0, K_CONST},
    {"node_context_switches_total", "x", 1, NULL, 0, K_BYTES},
    {"node_timex_offset_seconds", "x", 1, NULL, 0, K_NS},
};
#define NFAM (sizeof families / sizeof families[0])

typedef struct series_state {
    double v;
    int64_t acc; /* integer state (ticks, ns, bytes) */
    uint8_t kind;
} series_state;

/* Labels are built from shared strings: the bench's own copies are made
 * before the RSS baseline. */
typedef struct spec {
    const char *name;
    const char *l1n, *l1v, *l2n, *l2v;
    int host;
} spec;

static char hosts[1000][32];
static char vals[200][16];

static size_t build_specs(spec *sp, series_state *st, size_t want) {
    for (int h = 0; h < 1000; h++) snprintf(hosts[h], sizeof hosts[h], "host-%03d:9100", h);
    for (int i = 0; i < 200; i++) snprintf(vals[i], sizeof vals[i], "%d", i);
    size_t n = 0;
    for (int h = 0; n < want; h++) {
        for (size_t f = 0; f < NFAM && n < want; f++) {
            const family *fm = &families[f];
            int n2 = fm->n2 ? fm->n2 : 1;
            for (int a = 0; a < fm->n1 && n < want; a++) {
                for (int b = 0; b < n2 && n < want; b++) {
                    spec *s = &sp[n];
                    s->name = fm->name;
                    s->host = h % 1000;
                    s->l1n = fm->lname1;
                    s->l1v = vals[a];
                    s->l2n = fm->lname2;
                    s->l2v = fm->lname2 ? vals[b + (strcmp(fm->lname2, "mode_zero") == 0 ? 6 : 0)] : NULL;
                    if (s->l2n && strcmp(s->l2n, "mode_zero") == 0) s->l2n = "mode";
                    series_state *x = &st[n];
                    x->kind = (uint8_t)fm->kind;
                    x->acc = (int64_t)(unif() * 1e8);
                    switch (fm->kind) {
                    case K_CPU: x->acc = (int64_t)(unif() * 5e7); break;
                    case K_NS: x->acc = (int64_t)(unif() * 1e15); break;
                    case K_PAGES: x->acc = (int64_t)(unif() * 4e6); break;
                    case K_LOAD: x->acc = (int64_t)(unif() * 400); break;
                    case K_CONST: x->acc = unif() < 0.5 ? 0 : (int64_t)(unif() * 1e12); break;
                    default: break;
                    }
                    n++;
                }
            }
        }
    }
    return n;
}

static double next_value(series_state *x) {
    switch ((enum kind)x->kind) {
    case K_CPU: x->acc += (int64_t)(unif() * 1500); return (double)x->acc / 100.0;
    case K_NS: x->acc += (int64_t)(unif() * 15e9); return (double)x->acc / 1e9;
    case K_BYTES: x->acc += (int64_t)(unif() * 2e6); return (double)x->acc;
    case K_PACKETS: x->acc += (int64_t)(unif() * 2000); return (double)x->acc;
    case K_SLOW: x->acc += unif() < 0.5 ? 0 : (int64_t)(unif() * 50); return (double)x->acc;
    case K_ERR: x->acc += unif() < 0.01; return (double)x->acc;
    case K_PAGES: x->acc += (int64_t)(unif() * 512) - 256; return (double)(x->acc * 4096);
    case K_LOAD: {
        x->acc += (int64_t)(unif() * 21) - 10;
        if (x->acc < 0) x->acc = -x->acc;
        return (double)x->acc / 100.0;
    }
    case K_CONST: return (double)x->acc;
    }
    return 0;
}

static size_t make_labels(const spec *s, label *l) {
    size_t n = 0;
    l[n++] = (label){"__name__", s->name};
    l[n++] = (label){"instance", hosts[s->host]};
    l[n++] = (label){"job", "node"};
    if (s->l1n) l[n++] = (label){s->l1n, s->l1v};
    if (s->l2n) l[n++] = (label){s->l2n, s->l2v};
    /* sort by name (few elements) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(l[j - 1].name, l[j].name) > 0; j--) {
            label t = l[j];
            l[j] = l[j - 1];
            l[j - 1] = t;
        }
    return n;
}

static void die(const char *what, int rc) {
    fprintf(stderr, "head_bench: %s: %s (%s)\n", what, flint_strerror(rc), flint_errmsg());
    exit(1);
}

/* One scrape round over every series: one appender per 1,000 series. */
static void scrape_round(head *h, const spec *sp, series_state *st, uint64_t *refs, int64_t t, int values) {
    for (size_t base = 0; base < nseries; base += 1000) {
        head_appender *a;
        int rc = head_appender_begin(h, &a);
        if (rc) die("begin", rc);
        int64_t tt = t + (jitter ? (int64_t)(rnd() % 6) : 0);
        for (size_t i = base; i < base + 1000 && i < nseries; i++) {
            label l[8];
            labels ls = {l, 0};
            if (!refs[i]) ls.n = make_labels(&sp[i], l);
            double v = values ? next_value(&st[i]) : (double)(t / 1000 + (int64_t)i);
            if ((rc = head_append(a, refs[i], &ls, tt, v, &refs[i]))) die("append", rc);
        }
        if ((rc = head_commit(a))) die("commit", rc);
    }
}

/* ---- a WAL-like hook: encodes records into a reused buffer ----------------------------- */

typedef struct enc_ctx {
    uint8_t *buf;
    size_t cap;
    uint64_t bytes;
} enc_ctx;

static int encode_hook(void *ctx, const head_wal_series *s, size_t ns, const head_wal_sample *smp, size_t n, bool sync) {
    enc_ctx *e = ctx;
    (void)sync;
    size_t need = ns * 256 + n * 30 + 64;
    if (need > e->cap) {
        e->buf = realloc(e->buf, need);
        e->cap = need;
    }
    uint8_t *p = e->buf;
    for (size_t i = 0; i < ns; i++) {
        p += uvarint_put(p, s[i].ref);
        for (size_t k = 0; k < s[i].lset.n && p - e->buf < (ptrdiff_t)need - 64; k++) {
            size_t a = strlen(s[i].lset.v[k].name), b = strlen(s[i].lset.v[k].value);
            if (a + b > 100) continue;
            p += uvarint_put(p, a);
            memcpy(p, s[i].lset.v[k].name, a);
            p += a;
            p += uvarint_put(p, b);
            memcpy(p, s[i].lset.v[k].value, b);
            p += b;
        }
    }
    if (n) {
        /* Prometheus' samples record: base ref and time, then deltas */
        p += uvarint_put(p, smp[0].ref);
        p += varint_put(p, smp[0].t);
        for (size_t i = 0; i < n; i++) {
            p += varint_put(p, (int64_t)(smp[i].ref - smp[0].ref));
            p += varint_put(p, smp[i].t - smp[0].t);
            uint64_t vb;
            memcpy(&vb, &smp[i].v, 8);
            be64_put(p, vb);
            p += 8;
        }
    }
    e->bytes += (uint64_t)(p - e->buf);
    return 0;
}

/* ---- parts ------------------------------------------------------------------------------------- */

static char dir_template[] = "/tmp/head-bench-XXXXXX";

static void bench_append(void) {
    spec *sp = calloc(nseries, sizeof *sp);
    series_state *st = calloc(nseries, sizeof *st);
    uint64_t *refs = calloc(nseries, sizeof *refs);
    build_specs(sp, st, nseries);
    for (int with_wal = 0; with_wal < 2; with_wal++) {
        enc_ctx e = {0};
        head_options o;
        head_options_default(&o);
        if (with_wal) {
            o.wal_log = encode_hook;
            o.wal_ctx = &e;
        }
        head *h;
        int rc = head_open(dir_template, &o, &h);
        if (rc) die("open", rc);
        memset(refs, 0, nseries * sizeof *refs);
        scrape_round(h, sp, st, refs, 0, 0); /* creates the series */
        const int rounds = 240;
        double t0 = now_s(), c0 = cpu_s();
        for (int r = 1; r <= rounds; r++) scrape_round(h, sp, st, refs, 15000LL * r, 0);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        double total = (double)rounds * (double)nseries;
        printf("append%s: %zu series x %d rounds, %.0f samples in %.2f s wall, %.2f s CPU: %.2f M samples/s per "
               "CPU second (%.0f ns/sample)\n",
               with_wal ? " (+ WAL record encoding hook)" : " (no WAL hook)", nseries, rounds, total, dt, dc,
               total / dc / 1e6, dc / total * 1e9);
        /* the append call alone (queue, checks), without commit */
        head_appender *a;
        head_appender_begin(h, &a);
        t0 = cpu_s();
        for (size_t i = 0; i < nseries; i++) head_append(a, refs[i], NULL, 15000LL * (rounds + 1), 1.0, NULL);
        dt = cpu_s() - t0;
        head_rollback(a);
        printf("  head_append alone: %.0f ns/sample; ", dt / (double)nseries * 1e9);
        head_stats hs;
        head_get_stats(h, &hs);
        printf("chunks cut: %llu, chunk file bytes: %llu\n", (unsigned long long)hs.chunks_created,
               (unsigned long long)hs.chunk_file_bytes);
        head_close(h);
        free(e.buf);
    }
    free(sp);
    free(st);
    free(refs);
}

static void bench_rss(void) {
    spec *sp = calloc(nseries, sizeof *sp);
    series_state *st = calloc(nseries, sizeof *st);
    uint64_t *refs = calloc(nseries, sizeof *refs);
    build_specs(sp, st, nseries);
    /* touch the bench's own arrays so they count in the baseline */
    memset(refs, 0, nseries * sizeof *refs);
    for (size_t i = 0; i < nseries; i++) sp[i].host += 0;
    long base = vm_rss_kb();
    head *h;
    int rc = head_open(dir_template, NULL, &h);
    if (rc) die("open", rc);
    long after_open = vm_rss_kb();
    size_t lbl = 0;
    for (size_t i = 0; i < nseries; i++) {
        label l[8];
        lbl += make_labels(&sp[i], l);
    }
    printf("rss: %zu series, %.1f labels per series; baseline %ld kB, empty head %ld kB\n", nseries,
           (double)lbl / (double)nseries, base, after_open);
    const int checkpoints[] = {240, 479, 480};
    int next = 0;
    int64_t t0 = 1700000000000LL / 7200000 * 7200000; /* a chunk-range boundary */
    double start = now_s();
    for (int r = 0; r < 480; r++) {
        scrape_round(h, sp, st, refs, t0 + 15000LL * r, 1);
        if (r + 1 == checkpoints[next]) {
            long kb = vm_rss_kb();
            head_stats hs;
            head_get_stats(h, &hs);
            struct mallinfo2 mi = mallinfo2();
            printf("  after %3d samples/series: RSS %ld kB, head %.0f bytes/series (malloc: %.0f in use, %.0f free "
                   "per series; chunks in files: %llu, %.2f bytes/sample on disk)\n",
                   r + 1, kb, (double)(kb - base) * 1024.0 / (double)nseries, (double)mi.uordblks / (double)nseries,
                   (double)mi.fordblks / (double)nseries, (unsigned long long)hs.chunks,
                   hs.chunks ? (double)hs.chunk_file_bytes / ((double)hs.chunks * 120.0) : 0.0);
            next++;
            if (next == 3) break;
        }
    }
    printf("  (%.1f s to append %.0f samples)\n", now_s() - start, 480.0 * (double)nseries);
    head_close(h);
    free(sp);
    free(st);
    free(refs);
}

static void run_child(void (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "head_bench: part failed\n");
        exit(1);
    }
}

int main(int argc, char **argv) {
    int do_append = 1, do_rss = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "append") == 0) do_rss = 0;
        else if (strcmp(argv[i], "rss") == 0) do_append = 0;
        else if (strcmp(argv[i], "--jitter") == 0) jitter = 1;
        else if (strcmp(argv[i], "--series") == 0 && i + 1 < argc) nseries = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: head_bench [append|rss] [--series N] [--jitter]\n");
            return 2;
        }
    }
    if (!mkdtemp(dir_template)) {
        perror("mkdtemp");
        return 1;
    }
    if (do_rss) run_child(bench_rss);
    if (do_append) run_child(bench_append);
    fio_rm_rf(dir_template);
    return 0;
}
