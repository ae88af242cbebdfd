/*
 * check.h - `flint check config FILE`, after `promtool check config`: load
 * and validate the configuration, then check what it refers to (secret and
 * certificate files exist, rule files exist, file_sd files parse and their
 * targets pass target label processing, static targets too).
 */
#ifndef FLINT_SCRAPE_CHECK_H
#define FLINT_SCRAPE_CHECK_H

#include <stdio.h>

/* Prints to `out`:
 *
 *     Checking prometheus.yml
 *       WARNING: prometheus.yml:14: alerting: not supported by flint yet, ignored
 *       SUCCESS: 2 scrape configs found
 *      SUCCESS: prometheus.yml is valid prometheus config file syntax
 *
 * or, on the first error, `  FAILED: <message>`. Returns 0 when the file is
 * valid, 1 otherwise (promtool's exit codes). */
int scrape_check_config(const char *path, FILE *out);

#endif
