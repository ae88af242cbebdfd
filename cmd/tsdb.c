/*
 * tsdb.c - `flint tsdb ls DIR` and `flint tsdb analyze DIR`: what is in a
 * data directory, for an engineer debugging storage. Opens the database
 * read-only (no lock, no WAL replay, nothing written), so it is safe on the
 * directory of a running server; head samples still only in the WAL are
 * not counted (the WAL's size is shown).
 */
#include "cmd/cmd.h"
#include "cmd/flags.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "tsdb/block.h"
#include "tsdb/db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fmt_time(int64_t ms, char *buf, size_t cap) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct block_row {
    block_meta meta;
    uint64_t bytes;
} block_row;

static int load_rows(const char *dir, block_row **rows, size_t *n) {
    block_ulid *ulids = NULL;
    size_t nu = 0;
    int rc = block_list(dir, false, &ulids, &nu);
    if (rc) return rc;
    *rows = fl_calloc(nu ? nu : 1, sizeof **rows);
    *n = 0;
    if (!*rows) {
        fl_free(ulids);
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < nu; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, ulids[i]);
        block_row *r = &(*rows)[*n];
        if (block_meta_read(path, &r->meta)) {
            fprintf(stderr, "warning: block %s: %s\n", ulids[i], flint_errmsg());
            continue;
        }
        r->bytes = (uint64_t)fio_tree_size(path);
        (*n)++;
    }
    fl_free(ulids);
    return 0;
}

static void free_rows(block_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) block_meta_free(&rows[i].meta);
    fl_free(rows);
}

static int cmd_ls(int argc, char **argv) {
    flag_set fs = {.usage = "flint tsdb ls DIR", .about = "List the blocks of a data directory."};
    int r = flags_parse(&fs, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    if (fs.npos != 1) {
        flags_usage(&fs, stderr);
        return 2;
    }
    block_row *rows;
    size_t n;
    if (load_rows(fs.pos[0], &rows, &n)) {
        fprintf(stderr, "error: %s\n", flint_errmsg());
        return 1;
    }
    printf("%-26s  %-20s  %-20s  %8s  %12s  %9s  %6s  %12s\n", "BLOCK ULID", "MIN TIME", "MAX TIME", "SERIES",
           "SAMPLES", "CHUNKS", "LEVEL", "BYTES");
    for (size_t i = 0; i < n; i++) {
        char a[32], b[32];
        fmt_time(rows[i].meta.min_time, a, sizeof a);
        fmt_time(rows[i].meta.max_time, b, sizeof b);
        printf("%-26s  %-20s  %-20s  %8" PRIu64 "  %12" PRIu64 "  %9" PRIu64 "  %6d  %12" PRIu64 "\n",
               rows[i].meta.ulid, a, b, rows[i].meta.num_series, rows[i].meta.num_samples, rows[i].meta.num_chunks,
               rows[i].meta.level, rows[i].bytes);
    }
    free_rows(rows, n);
    return 0;
}

typedef struct name_count {
    char *name;
    uint64_t count;
} name_count;

static int nc_cmp(const void *a, const void *b) {
    const name_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static int cmd_analyze(int argc, char **argv) {
    flag_def defs[] = {
        {"limit", FLAG_STRING, "20", "how many label names and metric names to list", 0, 0},
        {"format", FLAG_STRING, "text", "text or json", 0, 0},
    };
    flag_set fs = {.usage = "flint tsdb analyze [flags] DIR",
                   .about = "Blocks, time range, series, samples, bytes on disk and per sample, and the\n"
                            "highest-cardinality label names and metric names of a data directory.",
                   .flags = defs,
                   .nflags = sizeof defs / sizeof defs[0]};
    int r = flags_parse(&fs, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    if (fs.npos != 1) {
        flags_usage(&fs, stderr);
        return 2;
    }
    const char *dir = fs.pos[0];
    int limit = atoi(flag_str(&fs, "limit"));
    bool json = !strcmp(flag_str(&fs, "format"), "json");
    block_row *rows;
    size_t nrows;
    if (load_rows(dir, &rows, &nrows)) {
        fprintf(stderr, "error: %s\n", flint_errmsg());
        return 1;
    }
    tsdb_options o;
    tsdb_options_default(&o);
    o.read_only = true;
    tsdb *db;
    if (tsdb_open(dir, &o, &db)) {
        fprintf(stderr, "error: %s\n", flint_errmsg());
        free_rows(rows, nrows);
        return 1;
    }
    tsdb_querier *q = NULL;
    int rc = tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q);
    uint64_t series = 0, samples = 0, chunks = 0, block_bytes = 0;
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    for (size_t i = 0; i < nrows; i++) {
        samples += rows[i].meta.num_samples;
        chunks += rows[i].meta.num_chunks;
        block_bytes += rows[i].bytes;
        if (rows[i].meta.min_time < mint) mint = rows[i].meta.min_time;
        if (rows[i].meta.max_time > maxt) maxt = rows[i].meta.max_time;
    }
    /* unique series across blocks */
    matcher all;
    name_count *names = NULL, *metrics = NULL;
    size_t nnames = 0, nmetrics = 0;
    if (rc == 0) rc = matcher_init(&all, MATCH_RE, "__name__", ".+");
    if (rc == 0) {
        tsdb_series_set *ss;
        rc = tsdb_select(q, &all, 1, &ss);
        if (rc == 0) {
            while (tsdb_series_next(ss)) series++;
            rc = tsdb_series_err(ss);
            tsdb_series_set_free(ss);
        }
        tsdb_strings ln = {0};
        if (rc == 0) rc = tsdb_label_names(q, NULL, 0, &ln);
        names = fl_calloc(ln.n ? ln.n : 1, sizeof *names);
        for (size_t i = 0; rc == 0 && names && i < ln.n; i++) {
            tsdb_strings lv = {0};
            rc = tsdb_label_values(q, ln.v[i], NULL, 0, &lv);
            names[nnames].name = fl_strdup(ln.v[i]);
            names[nnames++].count = lv.n;
            if (!strcmp(ln.v[i], "__name__")) {
                metrics = fl_calloc(lv.n ? lv.n : 1, sizeof *metrics);
                for (size_t k = 0; rc == 0 && metrics && k < lv.n; k++) {
                    matcher mm;
                    rc = matcher_init(&mm, MATCH_EQ, "__name__", lv.v[k]);
                    if (rc) break;
                    tsdb_series_set *s2;
                    uint64_t c = 0;
                    rc = tsdb_select(q, &mm, 1, &s2);
                    if (rc == 0) {
                        while (tsdb_series_next(s2)) c++;
                        tsdb_series_set_free(s2);
                    }
                    matcher_free(&mm);
                    metrics[nmetrics].name = fl_strdup(lv.v[k]);
                    metrics[nmetrics++].count = c;
                }
            }
            tsdb_strings_free(&lv);
        }
        tsdb_strings_free(&ln);
        matcher_free(&all);
    }
    if (rc) {
        fprintf(stderr, "error: %s\n", flint_errmsg());
    } else {
        qsort(names, nnames, sizeof *names, nc_cmp);
        if (metrics) qsort(metrics, nmetrics, sizeof *metrics, nc_cmp);
        char wal_path[4096];
        snprintf(wal_path, sizeof wal_path, "%s/wal", dir);
        int64_t wal = fio_tree_size(wal_path), disk = fio_tree_size(dir);
        if (json) {
            printf("{\"blocks\":%zu,\"series\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"chunks\":%" PRIu64
                   ",\"min_time\":%" PRId64 ",\"max_time\":%" PRId64 ",\"block_bytes\":%" PRIu64
                   ",\"wal_bytes\":%" PRId64 ",\"disk_bytes\":%" PRId64 ",\"bytes_per_sample\":%.4f,\"label_names\":[",
                   nrows, series, samples, chunks, nrows ? mint : 0, nrows ? maxt : 0, block_bytes, wal, disk,
                   samples ? (double)block_bytes / (double)samples : 0.0);
            for (size_t i = 0; i < nnames && (int)i < limit; i++) {
                printf(i ? ",{\"name\":" : "{\"name\":");
                json_str(names[i].name);
                printf(",\"values\":%" PRIu64 "}", names[i].count);
            }
            printf("],\"metrics\":[");
            for (size_t i = 0; i < nmetrics && (int)i < limit; i++) {
                printf(i ? ",{\"name\":" : "{\"name\":");
                json_str(metrics[i].name);
                printf(",\"series\":%" PRIu64 "}", metrics[i].count);
            }
            printf("]}\n");
        } else {
            char a[32] = "-", b[32] = "-";
            if (nrows) {
                fmt_time(mint, a, sizeof a);
                fmt_time(maxt, b, sizeof b);
            }
            printf("Data directory: %s\n", dir);
            printf("Blocks:         %zu\n", nrows);
            printf("Block range:    %s .. %s (blocks cover aligned windows)\n", a, b);
            printf("Series:         %" PRIu64 "\n", series);
            printf("Samples:        %" PRIu64 "\n", samples);
            printf("Chunks:         %" PRIu64 " (%.1f samples per chunk)\n", chunks,
                   chunks ? (double)samples / (double)chunks : 0.0);
            printf("Block bytes:    %" PRIu64 " (%.3f bytes per sample)\n", block_bytes,
                   samples ? (double)block_bytes / (double)samples : 0.0);
            printf("WAL bytes:      %" PRId64 " (samples still in the WAL are not counted above)\n", wal);
            printf("Disk bytes:     %" PRId64 "\n", disk);
            printf("\nHighest cardinality label names (distinct values):\n");
            for (size_t i = 0; i < nnames && (int)i < limit; i++)
                printf("  %10" PRIu64 "  %s\n", names[i].count, names[i].name);
            printf("\nHighest cardinality metric names (series):\n");
            for (size_t i = 0; i < nmetrics && (int)i < limit; i++)
                printf("  %10" PRIu64 "  %s\n", metrics[i].count, metrics[i].name);
        }
    }
    for (size_t i = 0; i < nnames; i++) fl_free(names[i].name);
    for (size_t i = 0; i < nmetrics; i++) fl_free(metrics[i].name);
    fl_free(names);
    fl_free(metrics);
    tsdb_querier_close(q);
    tsdb_close(db);
    free_rows(rows, nrows);
    return rc ? 1 : 0;
}

int cmd_tsdb(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: flint tsdb <command> [flags] DIR\n\ncommands:\n"
               "  ls DIR        list blocks\n"
               "  analyze DIR   series, samples, bytes per sample, cardinality\n");
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "ls")) return cmd_ls(argc - 1, argv + 1);
    if (!strcmp(argv[0], "analyze")) return cmd_analyze(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown tsdb command %s\n", argv[0]);
    return 2;
}
