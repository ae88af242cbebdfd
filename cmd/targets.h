/*
 * targets.h - scrape targets from a loaded configuration (see targets.c).
 */
#ifndef FLINT_CMD_TARGETS_H
#define FLINT_CMD_TARGETS_H

#include "scrape/config.h"
#include "scrape/scrapeloop.h"

typedef struct target_list target_list;

/* Every static target of every job, processed like Prometheus does; targets
 * that relabelling drops or that are invalid are left out (logged). */
int target_list_build(const scrape_config *cfg, target_list **out);
/* Borrowed until target_list_free. */
const scrape_target_spec *target_list_specs(const target_list *tl, size_t *n);
void target_list_free(target_list *tl);

#endif
