/*
 * yamlutil.h - reading YAML documents the way Prometheus' yaml.v2 decoder
 * reads them, with positioned messages: libyaml loads the document graph
 * (aliases resolved), these helpers walk it while keeping the key path
 * ("scrape_configs[0].scrape_interval") so every error and warning names
 * file, line and key: `prometheus.yml:12: scrape_configs[0].scrape_interval:
 * not a valid duration string: "1x"`.
 *
 * Used by scrape/config.c and scrape/filesd.c. Merge keys (`<<: *base`) are
 * honoured as yaml.v2 does; duplicate keys are errors (yaml.v2 strict mode);
 * `!!binary` scalars are base64-decoded at load, as yaml.v2 does.
 */
#ifndef FLINT_SCRAPE_YAMLUTIL_H
#define FLINT_SCRAPE_YAMLUTIL_H

#include "scrape/arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* Receives one finished warning line ("file:line: key: text"), borrowed for
 * the call. */
typedef void scrape_warn_fn(void *arg, const char *msg);

typedef struct yu_parser {
    yaml_document_t doc;
    bool loaded;
    const char *file; /* name used in messages, borrowed */
    char path[512];   /* current key path */
    size_t pathlen;
    scrape_warn_fn *warn; /* NULL: warnings go to flint_log */
    void *warn_arg;
    unsigned long budget; /* mapping/sequence entries left to visit (alias bombs) */
} yu_parser;

typedef struct yu_pair {
    yaml_node_t *key, *value;
    const char *name; /* the key's text (borrowed from the document) */
} yu_pair;

/* Load the first document of buf. FLINT_EINVAL "file:line: yaml: problem",
 * FLINT_ENOMEM. An empty input loads as an empty document (root NULL). */
int yu_load(yu_parser *p, const char *buf, size_t len, const char *file);
void yu_free(yu_parser *p);
yaml_node_t *yu_root(yu_parser *p);
yaml_node_t *yu_node(yu_parser *p, int id);
static inline int yu_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

/* An untagged plain `~`, `null`, `Null`, `NULL` or empty scalar, or an
 * explicit !!null. */
bool yu_is_null(const yaml_node_t *n);
/* Scalar text; NULL when n is not a scalar. */
const char *yu_scalar(const yaml_node_t *n, size_t *len);

/* Key path: push returns the length to restore with yu_pop. */
size_t yu_push_key(yu_parser *p, const char *key);
size_t yu_push_index(yu_parser *p, size_t i);
static inline void yu_pop(yu_parser *p, size_t len) {
    p->pathlen = len;
    p->path[len] = 0;
}

/* flint_error(FLINT_EINVAL, "file:line: path: text") and return it. */
int yu_error(yu_parser *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One warning line through p->warn (or flint_log when NULL). */
void yu_warn(yu_parser *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The entries of a mapping node (merge keys resolved, explicit keys first),
 * in an array the caller frees with fl_free. A null node gives none.
 * Errors: not a mapping, non-scalar key, duplicate key, budget exhausted. */
int yu_map_pairs(yu_parser *p, yaml_node_t *map, yu_pair **out, size_t *n);
/* Items of a sequence node (NULL/null gives 0 items): fills *items (borrowed
 * from the document) and *n. */
int yu_seq_items(yu_parser *p, yaml_node_t *seq, yaml_node_item_t **items, size_t *n);

/* Typed values; a null node leaves *out unchanged and returns 1 ("not
 * set"), 0 on success, negative on error (message names file:line:key). */
int yu_get_string(yu_parser *p, yaml_node_t *n, scrape_arena *a, char **out);
int yu_get_bool(yu_parser *p, yaml_node_t *n, bool *out);
int yu_get_uint(yu_parser *p, yaml_node_t *n, uint64_t *out);
int yu_get_duration(yu_parser *p, yaml_node_t *n, int64_t *ms);
int yu_get_bytesize(yu_parser *p, yaml_node_t *n, int64_t *bytes);
/* A sequence of strings (null items become ""). */
int yu_get_strings(yu_parser *p, yaml_node_t *n, scrape_arena *a, char ***out, size_t *count);

/* s in double quotes for messages, Go %q style: \" \\ \n \t, other control
 * bytes and invalid UTF-8 as \xNN; truncated to fit cap (>= 8). */
const char *yu_quote(const char *s, char *out, size_t cap);

/* "a mapping", "a sequence", "a string" for messages. */
const char *yu_kind(const yaml_node_t *n);

#endif
