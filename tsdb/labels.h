/*
 * labels.h - label sets, their validation, hashing and formatting; the
 * string interner; label matchers (=, !=, =~, !~ with fully anchored PCRE2).
 *
 * A label set is a sorted array of (name, value) pairs with unique names,
 * by byte order of the name. `__name__` holds the metric name. Empty
 * values are kept as given (they are meaningful in PromQL test data); the
 * storage layers drop nothing. Strings are borrowed: the head and blocks
 * point them at interned or mmapped memory.
 */
#ifndef FLINT_LABELS_H
#define FLINT_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct label {
    const char *name;
    const char *value;
} label;

typedef struct labels {
    const label *v;
    size_t n;
} labels;

#define METRIC_NAME_LABEL "__name__"

/* Byte-wise comparison of two sorted sets: name, then value, pair by pair;
 * a prefix sorts first. */
int labels_cmp(const labels *a, const labels *b);
bool labels_equal(const labels *a, const labels *b);
/* xxh3 over names and values with separators; stable across runs. */
uint64_t labels_hash(const labels *l);
/* Value of `name` or NULL. */
const char *labels_get(const labels *l, const char *name);
/* `name{a="b", c="d"}` (Prometheus' String form, escapes \\ \" \n);
 * returns the length it needed (snprintf-style; output NUL-terminated when
 * cap > 0). */
size_t labels_format(const labels *l, char *buf, size_t cap);

/* An owned copy of a label set in one allocation (the array, then the
 * strings): free it with fl_free. NULL on out of memory. */
label *labels_dup(const label *v, size_t n);

/* Validation, as Prometheus does for stored series: sorted, unique names,
 * names match [a-zA-Z_][a-zA-Z0-9_]*, __name__ (if present) matches
 * [a-zA-Z_:][a-zA-Z0-9_:]*, values valid UTF-8, at least one label.
 * FLINT_EINVAL with a message naming the offending label. */
int labels_validate(const labels *l);
bool label_name_valid(const char *s, size_t n);
bool metric_name_valid(const char *s, size_t n);
bool utf8_valid(const char *s, size_t n);

/* ---- builder: collects pairs (borrowed strings), sorts, checks dups ---- */
typedef struct labels_builder {
    label *v;
    size_t n, cap;
} labels_builder;

void lb_init(labels_builder *b);
void lb_reset(labels_builder *b);
void lb_free(labels_builder *b);
/* Add or replace `name` (empty value removes it, as Prometheus' builder). */
int lb_set(labels_builder *b, const char *name, const char *value);
/* Append without replace/sort (fast path for parsers); call lb_sort after. */
int lb_add(labels_builder *b, const char *name, const char *value);
void lb_del(labels_builder *b, const char *name);
/* Sort by name; FLINT_EINVAL if a name occurs twice (message names it). */
int lb_sort(labels_builder *b);
static inline labels lb_labels(const labels_builder *b) {
    labels l = {b->v, b->n};
    return l;
}

/* ---- string interning --------------------------------------------------------
 * Stable NUL-terminated copies; equal strings give the same pointer, so
 * interned strings compare by pointer. Thread-safe. */
typedef struct symtab symtab;
symtab *symtab_new(void);
void symtab_free(symtab *t);
/* NULL on OOM. */
const char *symtab_intern(symtab *t, const char *s, size_t n);
size_t symtab_count(const symtab *t);
size_t symtab_bytes(const symtab *t);

/* ---- matchers ---------------------------------------------------------------- */
typedef enum { MATCH_EQ = 0, MATCH_NEQ, MATCH_RE, MATCH_NRE } match_type;

typedef struct matcher {
    match_type type;
    char *name;     /* owned */
    char *value;    /* owned; the pattern for RE/NRE */
    void *re;       /* pcre2_code*, owned, RE/NRE only */
    void *md;       /* pcre2_match_data*, owned */
    /* A regex that is a plain alternation of literals ("a|b|c") or a
     * literal prefix is matched without PCRE2: */
    char **alts;    /* owned literal alternatives, or NULL */
    size_t nalts;
} matcher;

/* Compile; regexes are anchored at both ends (^(?:...)$) and `.` matches
 * newline (Prometheus 3). FLINT_EINVAL with PCRE2's message and offset. */
int matcher_init(matcher *m, match_type type, const char *name, const char *value);
void matcher_free(matcher *m);
/* Does `value` (of length n; "" for an absent label) satisfy m? Not
 * thread-safe per matcher (match data is per matcher). */
bool matcher_matches(const matcher *m, const char *value, size_t n);
/* True when the matcher accepts the empty string (so it also selects
 * series without the label). */
bool matcher_matches_empty(const matcher *m);

#endif
