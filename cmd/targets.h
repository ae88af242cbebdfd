/*
 * targets.h - scrape targets from a loaded configuration (see targets.c).
 */
#ifndef FLINT_CMD_TARGETS_H
#define FLINT_CMD_TARGETS_H

#include "scrape/config.h"
#include "scrape/filesd.h"
#include "scrape/scrapeloop.h"

typedef struct target_list target_list;

/* The file_sd state of one configuration: a filesd_watch for every
 * file_sd_configs entry of every job, in configuration order. The
 * configuration is borrowed and must outlive it. */
typedef struct target_discovery target_discovery;

/* Read every file now (errors logged; such files give no targets). On a
 * reload pass the running discovery as `prev` (or NULL): an entry listing
 * the same files takes over prev's watch (so a file broken now keeps the
 * targets it had), leaving prev's empty; target_discovery_giveback
 * returns them when the reload is abandoned. 0 or FLINT_ENOMEM (prev as
 * it was). */
int target_discovery_new(const scrape_config *cfg, target_discovery *prev, target_discovery **out);
void target_discovery_giveback(target_discovery *d, target_discovery *prev);
/* Re-glob, stat, re-read changed files (filesd_watch_poll): *changed when
 * the groups of some file changed. A broken file keeps its previous
 * groups. 0 or FLINT_ENOMEM. */
int target_discovery_poll(target_discovery *d, bool *changed);
void target_discovery_free(target_discovery *d);

/* Every static and file_sd target (`d`'s current groups; NULL = static
 * only) of every job, processed like Prometheus does; targets that
 * relabelling drops or that are invalid are left out (logged). */
int target_list_build(const scrape_config *cfg, const target_discovery *d, target_list **out);
/* Borrowed until target_list_free. */
const scrape_target_spec *target_list_specs(const target_list *tl, size_t *n);
void target_list_free(target_list *tl);

#endif
