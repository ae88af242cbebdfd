/*
 * status.c - the status pages of status.h.
 */
#include "web/status.h"

#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/units.h"
#include "tsdb/stats.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t status_rfc3339(int64_t ms, char *buf, size_t cap) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    /* Go's RFC3339Nano: the fraction without trailing zeros, none when 0 */
    char frac[8] = "";
    int f = (int)(ms % 1000);
    if (f) {
        snprintf(frac, sizeof frac, ".%03d", f);
        for (size_t e = strlen(frac); frac[e - 1] == '0'; e--) frac[e - 1] = '\0';
    }
    int n = snprintf(buf + k, cap - k, "%sZ", frac);
    return k + (n > 0 ? (size_t)n : 0);
}

/* alecthomas/units' Base2Bytes.String(): 1073741824 -> "1GiB",
 * 1610612736 -> "1GiB512MiB", 100 -> "100B". */
static size_t bytes_string(int64_t n, char *buf, size_t cap) {
    static const char *units[] = {"", "K", "M", "G", "T", "P", "E"};
    char parts[7][32];
    memset(parts, 0, sizeof parts);
    for (int i = 0; i < 7; i++) {
        if (n % 1024 != 0 || (i == 0 && n == 0))
            snprintf(parts[i], sizeof parts[i], "%lld%s%s", (long long)(n % 1024), units[i], i ? "iB" : "B");
        n /= 1024;
        if (n == 0) break;
    }
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 6; i >= 0; i--) {
        int m = snprintf(buf + k, cap - k, "%s", parts[i]);
        if (m > 0 && (size_t)m < cap - k) k += (size_t)m;
    }
    return k;
}

size_t status_retention_string(int64_t retention_ms, int64_t retention_bytes, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = '\0';
    if (retention_ms > 0) k = duration_format(retention_ms, buf, cap);
    if (retention_bytes > 0) {
        if (k && k + 4 < cap) {
            memcpy(buf + k, " or ", 5);
            k += 4;
        }
        k += bytes_string(retention_bytes, buf + k, cap - k);
    }
    return k;
}

static long thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long n = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0) n = strtol(line + 8, NULL, 10);
    fclose(f);
    return n;
}

void status_write_runtimeinfo(json_writer *w, tsdb *db, const status_runtime *rt) {
    tsdb_counters c;
    tsdb_get_counters(db, &c);
    char buf[PATH_MAX + 1];
    jw_obj_begin(w);
    jw_key(w, "startTime");
    status_rfc3339(rt->start_ms, buf, sizeof buf);
    jw_cstr(w, buf);
    jw_key(w, "CWD");
    jw_cstr(w, getcwd(buf, sizeof buf) ? buf : "");
    jw_key(w, "reloadConfigSuccess");
    jw_bool(w, rt->reload_ok);
    jw_key(w, "lastConfigTime");
    status_rfc3339(rt->last_config_ms, buf, sizeof buf);
    jw_cstr(w, buf);
    jw_key(w, "corruptionCount");
    jw_int(w, (int64_t)c.wal_corruptions);
    jw_key(w, "goroutineCount");
    jw_int(w, thread_count());
    jw_key(w, "GOMAXPROCS");
    jw_int(w, sysconf(_SC_NPROCESSORS_ONLN));
    jw_key(w, "GOMEMLIMIT");
    jw_int(w, INT64_MAX); /* Go's "no limit" */
    jw_key(w, "GOGC");
    jw_cstr(w, "");
    jw_key(w, "GODEBUG");
    jw_cstr(w, "");
    jw_key(w, "storageRetention");
    status_retention_string(c.retention_ms, c.retention_bytes, buf, sizeof buf);
    jw_cstr(w, buf);
    jw_obj_end(w);
}

static void write_list(json_writer *w, const char *key, const tsdb_stat_list *l) {
    jw_key(w, key);
    jw_arr_begin(w);
    for (size_t i = 0; i < l->n; i++) {
        jw_obj_begin(w);
        jw_key(w, "name");
        jw_cstr(w, l->v[i].name);
        jw_key(w, "value");
        jw_int(w, (int64_t)l->v[i].count);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

int status_write_tsdb(json_writer *w, tsdb *db, size_t limit) {
    tsdb_head_index_stats st;
    int rc = tsdb_head_index_stats_get(db, limit, &st);
    if (rc) return rc;
    jw_obj_begin(w);
    jw_key(w, "headStats");
    jw_obj_begin(w);
    jw_key(w, "numSeries");
    jw_int(w, (int64_t)st.num_series);
    jw_key(w, "numLabelPairs");
    jw_int(w, (int64_t)st.num_label_pairs);
    jw_key(w, "chunkCount");
    jw_int(w, (int64_t)st.chunk_count);
    jw_key(w, "minTime");
    jw_int(w, st.mint);
    jw_key(w, "maxTime");
    jw_int(w, st.maxt);
    jw_obj_end(w);
    write_list(w, "seriesCountByMetricName", &st.series_by_metric);
    write_list(w, "labelValueCountByLabelName", &st.values_by_label);
    write_list(w, "memoryInBytesByLabelName", &st.bytes_by_label);
    write_list(w, "seriesCountByLabelValuePair", &st.series_by_pair);
    jw_obj_end(w);
    tsdb_head_index_stats_free(&st);
    return 0;
}

typedef struct flag_pair {
    const char *name, *value;
} flag_pair;

static int cmp_flag(const void *a, const void *b) {
    return strcmp(((const flag_pair *)a)->name, ((const flag_pair *)b)->name);
}

void status_write_flags(json_writer *w, const char *const *names, const char *const *values, size_t n) {
    flag_pair *v = fl_malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        w->err = FLINT_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) v[i] = (flag_pair){names[i], values[i] ? values[i] : ""};
    if (n > 1) qsort(v, n, sizeof *v, cmp_flag);
    jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_key(w, v[i].name);
        jw_cstr(w, v[i].value);
    }
    jw_obj_end(w);
    fl_free(v);
}
