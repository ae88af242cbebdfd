/*
 * relabel.h - Prometheus relabelling: `relabel_configs` rewrite a target's
 * discovered labels before it is scraped, `metric_relabel_configs` rewrite
 * each scraped series before it is appended.
 *
 * A rule is compiled once from its configuration (relabel_rule_init, which
 * validates exactly as Prometheus' relabel.Config.Validate does and returns
 * Prometheus' messages) and applied any number of times, from any number of
 * threads, by relabel_process. Regexes are PCRE2, anchored at both ends,
 * with `.` matching newline (Prometheus 3's `^(?s:...)$`) and `$` matching
 * only at the very end, as in Go.
 *
 * Callers: scrape/config.c (compiles the rules of a job), the target label
 * code (scrape/populate.c) and the scrape loop (metric relabelling).
 */
#ifndef FLINT_SCRAPE_RELABEL_H
#define FLINT_SCRAPE_RELABEL_H

#include "scrape/arena.h"
#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum relabel_action {
    RELABEL_REPLACE = 0, /* the default */
    RELABEL_KEEP,
    RELABEL_DROP,
    RELABEL_KEEPEQUAL,
    RELABEL_DROPEQUAL,
    RELABEL_HASHMOD,
    RELABEL_LABELMAP,
    RELABEL_LABELDROP,
    RELABEL_LABELKEEP,
    RELABEL_LOWERCASE,
    RELABEL_UPPERCASE,
} relabel_action;

/* "replace", "keep", ... (lower case, as Prometheus prints them). */
const char *relabel_action_name(relabel_action a);
/* Case-insensitive, as Prometheus. FLINT_EINVAL with `unknown relabel action
 * "x"` otherwise. */
int relabel_action_parse(const char *s, relabel_action *out);

/* A rule as written in the configuration; every pointer is borrowed for the
 * duration of relabel_rule_init only. NULL means "not given" (the default
 * applies). A zeroed spec is a default `replace` rule. */
typedef struct relabel_spec {
    relabel_action action;
    const char *const *source_labels;
    size_t nsource_labels;
    bool source_labels_given; /* key present, even as [] (labeldrop/labelkeep reject it) */
    const char *separator;    /* default ";" */
    const char *regex;        /* default "(.*)"; "" (YAML null) is a valid, given regex */
    uint64_t modulus;         /* 0 = not given */
    const char *target_label; /* default "" */
    const char *replacement;  /* default "$1" */
} relabel_spec;

/* A compiled rule. Every field is owned by the rule and read-only after
 * relabel_rule_init; relabel_rule_free releases them. */
typedef struct relabel_rule {
    relabel_action action;
    char **source_labels;
    size_t nsource_labels;
    bool source_labels_given;
    char *separator;
    char *regex;      /* the pattern as written (without the anchors) */
    bool regex_given; /* Prometheus compares the regex to its default by identity */
    uint64_t modulus;
    char *target_label;
    char *replacement;
    void *re;              /* pcre2_code *, anchored and compiled */
    uint32_t ovector_pairs; /* capture groups + 1 */
} relabel_rule;

/* Validate and compile. 0, FLINT_ENOMEM, or FLINT_EINVAL with Prometheus'
 * message and no location ("relabel configuration for hashmod requires
 * non-zero modulus"); the caller adds file, line and key. On failure the
 * rule holds nothing (relabel_rule_free is still safe). */
int relabel_rule_init(relabel_rule *r, const relabel_spec *spec);
void relabel_rule_free(relabel_rule *r);
/* Same configuration (action, sources, separator, regex text and whether it
 * was given, modulus, target, replacement). */
bool relabel_rule_equal(const relabel_rule *a, const relabel_rule *b);

/* Per-caller scratch for relabel_process: the arena that owns every string
 * relabel_process writes into a builder, PCRE2 match data and join buffers.
 * One per thread (or per scrape loop); not shareable between threads. */
typedef struct relabel_scratch {
    scrape_arena arena;
    void *match_data; /* pcre2_match_data * */
    uint32_t match_pairs;
    char *join;       /* joined source values */
    size_t join_cap;
    char *expand;     /* template expansion */
    size_t expand_cap;
    label *snapshot;  /* copy of the builder for labelmap/labeldrop/labelkeep */
    size_t snapshot_cap;
} relabel_scratch;

void relabel_scratch_init(relabel_scratch *s);
/* Invalidate every string relabel_process has put into builders (keeps the
 * memory for reuse). */
void relabel_scratch_reset(relabel_scratch *s);
void relabel_scratch_free(relabel_scratch *s);

/* Apply `rules` in order to the labels in `lb`, as Prometheus'
 * relabel.ProcessBuilder: *keep becomes false when a keep/drop/keepequal/
 * dropequal rule drops the set (processing stops there; lb then holds the
 * labels as they were at that point).
 *
 * Ownership: lb holds borrowed strings before and after. Names and values
 * that rules create (replacements, hashmod results, labelmap names, case
 * changes) are allocated in s->arena and stay valid until
 * relabel_scratch_reset/free; strings that were already in lb stay where
 * they were. lb is not sorted afterwards; call lb_sort if order matters.
 *
 * Returns 0, or FLINT_ENOMEM (lb then holds a partial result; discard it). */
int relabel_process(const relabel_rule *rules, size_t n, labels_builder *lb, relabel_scratch *s, bool *keep);

/* The value of `name` in lb, or NULL. */
const char *relabel_lb_get(const labels_builder *lb, const char *name);

#endif
