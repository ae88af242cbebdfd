/*
 * jsonread.h - a small JSON reader (RFC 8259) for the command line: parses a
 * whole document into a tree of jv values. `flint query --server` uses it
 * for the Prometheus API responses it gets back; web/json.h is the writer.
 *
 * Strings are decoded (escapes, \uXXXX with surrogate pairs, to UTF-8) and
 * NUL-terminated; numbers are doubles. Depth is limited to JSON_READ_DEPTH.
 * The tree owns its memory: jv_free releases everything below a value.
 */
#ifndef FLINT_CMD_JSONREAD_H
#define FLINT_CMD_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_READ_DEPTH 64

typedef enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ } jv_type;

typedef struct jv {
    jv_type type;
    bool b;            /* JV_BOOL */
    double num;        /* JV_NUM */
    char *str;         /* JV_STR: decoded, NUL-terminated */
    size_t len;        /* JV_STR: bytes (may hold NULs) */
    struct jv *items;  /* JV_ARR elements, JV_OBJ values */
    char **keys;       /* JV_OBJ keys, decoded, NUL-terminated */
    size_t n;          /* JV_ARR / JV_OBJ: number of items */
} jv;

/* Parse s[0..n) (one value, surrounding whitespace allowed). 0 and *out
 * filled (free with jv_free), or FLINT_EINVAL with flint_errmsg() naming
 * the byte offset, or FLINT_ENOMEM; *out is then empty (JV_NULL). */
int jv_parse(const char *s, size_t n, jv *out);
void jv_free(jv *v);
/* The value under `key` of an object (the first if repeated), or NULL if v
 * is not an object or has no such key. Borrowed from v. */
const jv *jv_get(const jv *v, const char *key);

#endif
