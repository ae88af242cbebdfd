/*
 * federate.h - Prometheus' /federate: for every series matching any of
 * the match[] selectors, its newest sample within the lookback window
 * ending now, written in the text exposition format 0.0.4 with its
 * timestamp in ms, grouped under `# TYPE <name> untyped` lines, sorted by
 * metric name (then labels). Stale markers are left out, as are nameless
 * series; a series without an `instance` label gets instance="" as in
 * Prometheus (which adds it with the external labels).
 *
 * Called by web/api.c; reads through the tsdb querier only.
 */
#ifndef FLINT_WEB_FEDERATE_H
#define FLINT_WEB_FEDERATE_H

#include "storage/buf.h"
#include "tsdb/db.h"

#include <stddef.h>
#include <stdint.h>

/* One match[] selector: its matchers (borrowed). */
typedef struct federate_selector {
    const matcher *v;
    size_t n;
} federate_selector;

/* Append the federation text for sel[0..nsel) over [now - lookback, now]
 * to out. Returns 0, FLINT_ENOMEM, or a storage error (message in
 * flint_errmsg()); out may hold partial text on error. */
int federate_write(tsdb *db, const federate_selector *sel, size_t nsel, int64_t now_ms, int64_t lookback_ms,
                   fl_buf *out);

#endif
