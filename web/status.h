/*
 * status.h - the data objects of /api/v1/status/runtimeinfo,
 * /api/v1/status/tsdb, /api/v1/status/flags and /api/v1/status/config in
 * Prometheus' shapes (web/api/v1/api.go), written into a json_writer by
 * web/api.c's handlers, which own the envelope.
 */
#ifndef FLINT_WEB_STATUS_H
#define FLINT_WEB_STATUS_H

#include "tsdb/db.h"
#include "web/json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct status_runtime {
    int64_t start_ms;        /* process start */
    bool reload_ok;          /* last configuration (re)load succeeded */
    int64_t last_config_ms;  /* time of the last successful load */
} status_runtime;

/* {"startTime":..., "CWD", "reloadConfigSuccess", "lastConfigTime",
 *  "corruptionCount", "goroutineCount" (threads), "GOMAXPROCS" (online
 *  cores), "GOMEMLIMIT", "GOGC" "", "GODEBUG" "", "storageRetention"} */
void status_write_runtimeinfo(json_writer *w, tsdb *db, const status_runtime *rt);
/* {"headStats":{...},"seriesCountByMetricName":[{"name","value"}],...}
 * each list top `limit`. 0 or FLINT_ENOMEM. */
int status_write_tsdb(json_writer *w, tsdb *db, size_t limit);
/* {"name":"value",...} sorted by name. */
void status_write_flags(json_writer *w, const char *const *names, const char *const *values, size_t n);

/* Prometheus' storageRetention: "15d", "1GiB", "15d or 1GiB", "" (none). */
size_t status_retention_string(int64_t retention_ms, int64_t retention_bytes, char *buf, size_t cap);
/* Go's time.Time JSON form in UTC: "2026-01-02T03:04:05.678Z",
 * "...:05.5Z", "...:05Z". */
size_t status_rfc3339(int64_t ms, char *buf, size_t cap);

#endif
