/*
 * populate.h - from a discovered target to the labels and URL it is scraped
 * with, as Prometheus' scrape.PopulateLabels (Prometheus 3 semantics: no
 * default port is added to __address__).
 *
 * Called by the scrape manager for each target of each group (static or
 * file_sd) whenever the groups or the job change, and by
 * scrape_check_config to report targets Prometheus would reject.
 */
#ifndef FLINT_SCRAPE_POPULATE_H
#define FLINT_SCRAPE_POPULATE_H

#include "scrape/config.h"
#include "scrape/relabel.h"
#include "tsdb/labels.h"

#include <stdint.h>

typedef struct scrape_target_info {
    char *url;           /* scheme://address/path?params, in the scratch arena */
    int64_t interval_ms; /* from __scrape_interval__ after relabelling */
    int64_t timeout_ms;  /* from __scrape_timeout__ after relabelling */
} scrape_target_info;

/* Build one target:
 *
 *  1. discovered := target_labels, then group_labels not already set, then
 *     job, __scrape_interval__, __scrape_timeout__, __metrics_path__,
 *     __scheme__ and __param_<name> (first value) where not set; sorted.
 *     These are the "discovered labels" of the targets page.
 *  2. final := discovered, rewritten by job->relabel_configs.
 *  3. Checks, with Prometheus' messages: "no address",
 *     "\"a/b\" is not a valid hostname", "error parsing scrape interval:
 *     ...", "scrape interval cannot be 0", the same for the timeout,
 *     "scrape timeout cannot be greater than scrape interval (...)",
 *     "invalid label value for ...".
 *  4. The URL from __scheme__, __address__, __metrics_path__, the job's
 *     params and __param_* labels (Go's url.URL.String escaping).
 *  5. final loses every `__`-prefixed label; instance defaults to
 *     __address__; sorted. These are the labels every series of the target
 *     gets (before honor_labels handling).
 *
 * Returns 1 (kept; final and *info filled), 0 (dropped by relabelling;
 * final empty), FLINT_EINVAL (message says why), FLINT_ENOMEM.
 *
 * Ownership: both builders are reset first and then hold borrowed
 * strings - from the inputs, from job, and from s->arena (relabel results,
 * formatted durations, the URL). Copy or intern what you keep before
 * relabel_scratch_reset(s).
 */
int scrape_target_labels(const scrape_job *job, const labels *target_labels, const labels *group_labels,
                         relabel_scratch *s, labels_builder *discovered, labels_builder *final,
                         scrape_target_info *info);

/* Convenience for a static/file_sd target: target_labels = {__address__}. */
int scrape_target_from_group(const scrape_job *job, const scrape_target_group *g, size_t target_index,
                             relabel_scratch *s, labels_builder *discovered, labels_builder *final,
                             scrape_target_info *info);

#endif
