/*
 * labelscan.h - label names and values of the series that have samples
 * in a time range, for /api/v1/labels and /api/v1/label/<name>/values
 * with start/end: tsdb_label_names/values answer from the indexes (every
 * series the head or an overlapping block holds), this walks the
 * selected series through the querier and keeps those with at least one
 * sample in the querier's [mint, maxt].
 *
 * Called by web/api.c when the range does not cover the whole database
 * (the index answer is exact then and much cheaper).
 */
#ifndef FLINT_WEB_LABELSCAN_H
#define FLINT_WEB_LABELSCAN_H

#include "tsdb/db.h"

#include <stddef.h>

/* Names (name == NULL) or values of label `name`, sorted and unique, of
 * the series matching ms[0..n) (every series when n == 0) with a sample
 * in q's range, into *out (free with tsdb_strings_free). Returns 0,
 * FLINT_ENOMEM or a storage error. */
int labelscan(tsdb_querier *q, const char *name, const matcher *ms, size_t n, tsdb_strings *out);

#endif
