/*
 * import.c - `flint import openmetrics FILE DATA_DIR`: backfill blocks from
 * an OpenMetrics file with timestamps (what `promtool tsdb
 * create-blocks-from openmetrics` accepts), written directly as blocks.
 *
 * The file is mmapped and split at `# TYPE` lines (family boundaries) into
 * one slice per thread; each thread pulls samples with the exposition
 * parser (whose repeated-series fast path skips label work on consecutive
 * lines of one series) and hands runs of one series to the block builder,
 * which encodes chunks as runs complete. Blocks are written at the end,
 * aligned to --max-block-duration. Progress goes to stderr once a second.
 */
#include "cmd/cmd.h"
#include "cmd/flags.h"
#include "scrape/expo.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/units.h"
#include "tsdb/blockbuild.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RUN_CAP 8192

typedef struct import_job {
    const char *path;
    const char *base;   /* whole file */
    const char *buf;    /* this slice */
    size_t len;
    bool last;          /* the slice that must end with # EOF */
    blockbuild *bb;
    int rc;
    char err[512];
    atomic_ullong *samples, *bytes;
} import_job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t line_of(const char *base, const char *p) {
    size_t n = 1;
    for (const char *q = base; q < p; q++) {
        q = memchr(q, '\n', (size_t)(p - q));
        if (!q) break;
        n++;
    }
    return n;
}

#define PREFETCH_BYTES (64u << 20)

/* Keep at least PREFETCH_BYTES/2 of the mapping ahead of `at` requested. */
static void prefetch(const char **prefetched, const char *at, const char *end) {
    while (*prefetched < end && *prefetched - at < (ptrdiff_t)(PREFETCH_BYTES / 2)) {
        uintptr_t a = (uintptr_t)*prefetched & ~(uintptr_t)4095;
        size_t n = (size_t)(end - *prefetched) < PREFETCH_BYTES ? (size_t)(end - *prefetched) : PREFETCH_BYTES;
        madvise((void *)a, n + ((uintptr_t)*prefetched - a), MADV_WILLNEED);
        *prefetched += n;
    }
}

static void *import_thread(void *arg) {
    import_job *j = arg;
    expo_parser p;
    expo_parser_init(&p, EXPO_OPENMETRICS, j->buf, j->len);
    int64_t ts[RUN_CAP];
    double vs[RUN_CAP];
    size_t n = 0;
    uint32_t id = 0;
    int r, rc = 0;
    uint64_t local = 0;
    const char *released = j->buf;
    /* page faults on the mapping are served one readahead window at a time;
     * ask for the next 64 MB ahead of the parser instead */
    const char *slice_end = j->buf + j->len, *prefetched = j->buf;
    prefetch(&prefetched, j->buf, slice_end);
    while ((r = expo_next(&p)) > 0) {
        if (r != EXPO_SAMPLE) continue;
        const expo_sample *s = expo_sample_at(&p);
        if (!s->has_ts) {
            snprintf(j->err, sizeof j->err, "%s: line %zu: sample without a timestamp (backfill needs one)",
                     j->path, line_of(j->base, s->series));
            rc = FLINT_EINVAL;
            break;
        }
        if (!s->series_repeated || n == RUN_CAP) {
            if (n && (rc = blockbuild_add(j->bb, id, ts, vs, n))) break;
            n = 0;
            if (!s->series_repeated) {
                labels l = {s->labels, s->nlabels};
                if ((rc = blockbuild_series(j->bb, &l, &id))) {
                    snprintf(j->err, sizeof j->err, "%s: line %zu: %s", j->path, line_of(j->base, s->series),
                             flint_errmsg());
                    break;
                }
            }
        }
        ts[n] = s->ts_ms;
        vs[n++] = s->value;
        if (++local == 65536) {
            atomic_fetch_add(j->samples, local);
            atomic_store(j->bytes, (unsigned long long)(s->series - j->base));
            local = 0;
            prefetch(&prefetched, s->series, slice_end);
            /* drop parsed pages from our mapping so resident memory stays
             * small; they stay in the page cache, and the parser's look-back
             * (the previous line) is far above the range released */
            const char *upto = s->series - (8 << 20);
            if (upto - released > (256 << 20)) {
                uintptr_t a = ((uintptr_t)released + 4095) & ~(uintptr_t)4095;
                uintptr_t b = (uintptr_t)upto & ~(uintptr_t)4095;
                if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
                released = upto;
            }
        }
        /* a slice before the last ends where the next family begins, without
         * "# EOF": stop there rather than provoke the parser's error */
        if (!j->last && expo_offset(&p) >= j->len) break;
    }
    atomic_fetch_add(j->samples, local);
    if (r < 0 && rc == 0) {
        if (!j->last && expo_error_offset(&p) >= j->len) {
            /* the slice ended after a metadata line: no "# EOF" expected */
        } else {
            rc = r;
            size_t off = expo_error_offset(&p);
            const char *msg = expo_error(&p);
            const char *colon = strchr(msg, ':');
            snprintf(j->err, sizeof j->err, "%s: line %zu:%s", j->path,
                     line_of(j->base, j->buf + (off < j->len ? off : j->len)), colon ? colon + 1 : msg);
        }
    }
    if (rc == 0 && n) rc = blockbuild_add(j->bb, id, ts, vs, n);
    if (rc && !j->err[0]) snprintf(j->err, sizeof j->err, "%s: %s", j->path, flint_errmsg());
    j->rc = rc;
    expo_parser_free(&p);
    return NULL;
}

/* Start of the first "# TYPE" line at or after `from`, or NULL. */
static const char *next_family(const char *from, const char *end) {
    const char *p = from;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return NULL;
        p = nl + 1;
        if ((size_t)(end - p) > 7 && memcmp(p, "# TYPE ", 7) == 0) return p;
    }
    return NULL;
}

typedef struct progress_ctx {
    double t0;
} progress_ctx;

static void block_done(const char *ulid, int64_t mint, int64_t maxt, uint64_t series, void *ctx) {
    progress_ctx *pc = ctx;
    fprintf(stderr, "import: wrote block %s [%" PRId64 ", %" PRId64 "] %" PRIu64 " series (%.1fs)\n", ulid, mint,
            maxt, series, now_s() - pc->t0);
}

int cmd_import(int argc, char **argv) {
    flag_def defs[] = {
        {"max-block-duration", FLAG_STRING, "18h", "length of the blocks written (aligned to multiples of it)", 0, 0},
        {"chunk-samples", FLAG_STRING, "480", "samples per chunk", 0, 0},
        {"threads", FLAG_STRING, "0", "parser threads (0 = one per CPU)", 0, 0},
        {"quiet", FLAG_BOOL, "false", "no progress on stderr", 0, 0},
    };
    flag_set fs = {.usage = "flint import openmetrics [flags] FILE DATA_DIR",
                   .about = "Backfill blocks into DATA_DIR from an OpenMetrics file whose samples all carry\n"
                            "timestamps (the input `promtool tsdb create-blocks-from openmetrics` takes).\n"
                            "Each series' samples must not go back in time within a series run; duplicates\n"
                            "with equal values are dropped. Stop a server using DATA_DIR first, or import\n"
                            "into another directory and move the blocks in.",
                   .flags = defs,
                   .nflags = sizeof defs / sizeof defs[0]};
    int r = flags_parse(&fs, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    if (fs.npos != 3 || strcmp(fs.pos[0], "openmetrics") != 0) {
        fprintf(stderr, "error: expected: openmetrics FILE DATA_DIR\n");
        flags_usage(&fs, stderr);
        return 2;
    }
    const char *path = fs.pos[1], *dir = fs.pos[2];
    bool quiet = flag_bool(&fs, "quiet");
    int64_t block_ms;
    const char *bd = flag_str(&fs, "max-block-duration");
    if (duration_parse(bd, strlen(bd), &block_ms) || block_ms < 60000) {
        fprintf(stderr, "error: --max-block-duration: want a duration of at least 1m, got \"%s\"\n", bd);
        return 2;
    }
    long chunk = atol(flag_str(&fs, "chunk-samples"));
    if (chunk < 1 || chunk > 65535) {
        fprintf(stderr, "error: --chunk-samples must be 1..65535\n");
        return 2;
    }
    long threads = atol(flag_str(&fs, "threads"));
    if (threads <= 0) threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;

    fio_map m;
    if (fio_map_file(path, &m)) {
        fprintf(stderr, "import: %s\n", flint_errmsg());
        return 1;
    }
    madvise((void *)m.data, m.size, MADV_SEQUENTIAL);
    int lock_fd = -1;
    if (fio_mkdir_p(dir) || fio_lock_dir(dir, &lock_fd)) {
        fprintf(stderr, "import: %s\n", flint_errmsg());
        fio_unmap(&m);
        return 1;
    }
    blockbuild *bb;
    if (blockbuild_new(dir, block_ms, (uint32_t)chunk, &bb)) {
        fprintf(stderr, "import: %s\n", flint_errmsg());
        fio_unmap(&m);
        fio_unlock_dir(lock_fd);
        return 1;
    }
    /* slices at family boundaries */
    const char *base = (const char *)m.data, *end = base + m.size;
    const char *cuts[17];
    size_t ncuts = 0;
    cuts[ncuts++] = base;
    for (long t = 1; t < threads; t++) {
        const char *c = next_family(base + m.size / (size_t)threads * (size_t)t, end);
        if (c && c > cuts[ncuts - 1]) cuts[ncuts++] = c;
    }
    import_job jobs[16];
    pthread_t tids[16];
    atomic_ullong samples = 0, bytes[16];
    double t0 = now_s();
    for (size_t i = 0; i < ncuts; i++) {
        atomic_init(&bytes[i], (unsigned long long)(cuts[i] - base));
        const char *e = i + 1 < ncuts ? cuts[i + 1] : end;
        jobs[i] = (import_job){.path = path, .base = base, .buf = cuts[i], .len = (size_t)(e - cuts[i]),
                               .last = i + 1 == ncuts, .bb = bb, .samples = &samples, .bytes = &bytes[i]};
        pthread_create(&tids[i], NULL, import_thread, &jobs[i]);
    }
    /* progress while the threads run */
    bool joined[16] = {0};
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        bool running = false;
        for (size_t i = 0; i < ncuts; i++) {
            if (joined[i]) continue;
            if (pthread_tryjoin_np(tids[i], NULL) == EBUSY) running = true;
            else joined[i] = true;
        }
        if (!running) break;
        nanosleep(&ts, NULL);
        static double last;
        double now = now_s();
        if (!quiet && now - last >= 1.0) {
            last = now;
            uint64_t done = 0;
            for (size_t i = 0; i < ncuts; i++) done += atomic_load(&bytes[i]) - (uint64_t)(cuts[i] - base);
            unsigned long long sm = atomic_load(&samples);
            fprintf(stderr, "import: %.0f%% of %.2f GB, %.1f M samples, %.2f M samples/s\n",
                    100.0 * (double)done / (double)(m.size ? m.size : 1), m.size / 1e9, sm / 1e6,
                    sm / 1e6 / (now - t0));
        }
    }
    int rc = 0;
    for (size_t i = 0; i < ncuts; i++) {
        if (jobs[i].rc && !rc) {
            rc = jobs[i].rc;
            fprintf(stderr, "import: %s\n", jobs[i].err);
        }
    }
    double t_parse = now_s() - t0;
    if (rc == 0) {
        progress_ctx pc = {t0};
        if (!quiet) fprintf(stderr, "import: parsed %llu samples in %.1fs, writing blocks\n",
                            (unsigned long long)atomic_load(&samples), t_parse);
        rc = blockbuild_finish(bb, quiet ? NULL : block_done, &pc);
        if (rc) fprintf(stderr, "import: writing blocks: %s\n", flint_errmsg());
    }
    if (rc == 0) {
        blockbuild_stats st;
        blockbuild_get_stats(bb, &st);
        double el = now_s() - t0;
        int64_t disk = fio_tree_size(dir);
        printf("imported %" PRIu64 " samples of %" PRIu64 " series into %u blocks in %.1fs (%.2f M samples/s)\n",
               st.samples, st.series, st.blocks, el, st.samples / 1e6 / el);
        printf("time range [%" PRId64 ", %" PRId64 "], %" PRIu64 " chunks, %.3f bytes/sample in chunks, %" PRId64
               " bytes on disk (%.3f bytes/sample)\n",
               st.mint, st.maxt, st.chunks, st.samples ? (double)st.chunk_bytes / (double)st.samples : 0.0, disk,
               st.samples ? (double)disk / (double)st.samples : 0.0);
        if (st.duplicates_dropped)
            printf("dropped %" PRIu64 " duplicate samples (same timestamp and value)\n", st.duplicates_dropped);
    }
    blockbuild_free(bb);
    fio_unmap(&m);
    fio_unlock_dir(lock_fd);
    return rc ? 1 : 0;
}
