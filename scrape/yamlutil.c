/*
 * yamlutil.c - positioned YAML reading over libyaml's document API (see
 * yamlutil.h). Scalar resolution follows yaml.v2 (YAML 1.1): plain `~`,
 * `null` and empty are null; booleans accept true/false/yes/no/on/off in
 * their usual capitalisations; every non-null scalar converts to a string.
 */
#include "scrape/yamlutil.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"
#include "storage/units.h"
#include "tsdb/labels.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Enough for any real configuration; an alias bomb ("a: &a [*b, *b, ...]")
 * stops here instead of expanding exponentially. */
#define YU_VISIT_BUDGET 1000000UL
#define YU_MERGE_DEPTH 16

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 (padding required, CR/LF ignored) decoded in place;
 * returns the decoded length or -1. */
static long b64_decode_inplace(unsigned char *s, size_t n) {
    size_t w = 0, quad = 0, pad = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\r' || c == '\n') continue;
        if (c == '=') {
            pad++;
            acc <<= 6;
        } else {
            int v = b64val(c);
            if (v < 0 || pad) return -1;
            acc = acc << 6 | (uint32_t)v;
        }
        if (++quad == 4) {
            if (pad > 2) return -1;
            s[w++] = (unsigned char)(acc >> 16);
            if (pad < 2) s[w++] = (unsigned char)(acc >> 8);
            if (pad < 1) s[w++] = (unsigned char)acc;
            quad = 0;
            acc = 0;
            if (pad) pad = 3; /* nothing may follow the padded quantum */
        }
    }
    if (quad || pad > 3) return -1;
    return (long)w;
}

/* yaml.v2 turns `!!binary` scalars into their decoded bytes; do that once,
 * in place (the decoded form is shorter), and retag them as strings. */
static int decode_binary_scalars(yu_parser *p) {
    static const char bin[] = "tag:yaml.org,2002:binary", str[] = "tag:yaml.org,2002:str";
    for (yaml_node_t *n = p->doc.nodes.start; n < p->doc.nodes.top; n++) {
        if (n->type != YAML_SCALAR_NODE || !n->tag || strcmp((const char *)n->tag, bin) != 0) continue;
        long len = b64_decode_inplace(n->data.scalar.value, n->data.scalar.length);
        if (len < 0) return yu_error(p, n, "!!binary value contains invalid base64 data");
        n->data.scalar.value[len] = 0;
        n->data.scalar.length = (size_t)len;
        memcpy(n->tag, str, sizeof str);
    }
    return 0;
}

int yu_load(yu_parser *p, const char *buf, size_t len, const char *file) {
    yaml_parser_t yp;
    p->loaded = false;
    p->file = file;
    p->pathlen = 0;
    p->path[0] = 0;
    p->budget = YU_VISIT_BUDGET;
    if (!yaml_parser_initialize(&yp)) return FLINT_ENOMEM;
    yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
    int rc = 0;
    if (!yaml_parser_load(&yp, &p->doc)) {
        if (yp.error == YAML_MEMORY_ERROR) {
            rc = FLINT_ENOMEM;
        } else {
            int line = (int)yp.problem_mark.line + 1;
            const char *problem = yp.problem ? yp.problem : "syntax error";
            if (yp.context)
                rc = flint_error(FLINT_EINVAL, "%s:%d: yaml: %s %s", file, line, problem, yp.context);
            else
                rc = flint_error(FLINT_EINVAL, "%s:%d: yaml: %s", file, line, problem);
        }
    } else {
        p->loaded = true;
        rc = decode_binary_scalars(p);
    }
    yaml_parser_delete(&yp);
    return rc;
}

void yu_free(yu_parser *p) {
    if (p->loaded) yaml_document_delete(&p->doc);
    p->loaded = false;
}

yaml_node_t *yu_root(yu_parser *p) { return p->loaded ? yaml_document_get_root_node(&p->doc) : NULL; }
yaml_node_t *yu_node(yu_parser *p, int id) { return yaml_document_get_node(&p->doc, id); }

bool yu_is_null(const yaml_node_t *n) {
    if (!n) return true;
    if (n->type != YAML_SCALAR_NODE) return false;
    if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0) return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *s = (const char *)n->data.scalar.value;
    size_t l = n->data.scalar.length;
    return l == 0 || (l == 1 && s[0] == '~') ||
           (l == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

const char *yu_scalar(const yaml_node_t *n, size_t *len) {
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    if (len) *len = n->data.scalar.length;
    return (const char *)n->data.scalar.value;
}

const char *yu_kind(const yaml_node_t *n) {
    if (!n) return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_SCALAR_NODE: return yu_is_null(n) ? "null" : "a scalar";
    default: return "nothing";
    }
}

const char *yu_quote(const char *s, char *out, size_t cap) {
    size_t w = 0, n = strlen(s);
    if (cap < 8) {
        if (cap) out[0] = 0;
        return out;
    }
    out[w++] = '"';
    for (size_t i = 0; i < n && w + 6 < cap;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (c == '"' || c == '\\') {
            out[w++] = '\\';
            out[w++] = (char)c;
            i++;
        } else if (c == '\n') {
            out[w++] = '\\', out[w++] = 'n', i++;
        } else if (c == '\t') {
            out[w++] = '\\', out[w++] = 't', i++;
        } else if (c < 0x20 || c == 0x7f || len == 0 || i + len > n || !utf8_valid(s + i, len)) {
            w += (size_t)snprintf(out + w, cap - w, "\\x%02x", c);
            i++;
        } else {
            if (w + len + 2 >= cap) break;
            memcpy(out + w, s + i, len);
            w += len;
            i += len;
        }
    }
    out[w++] = '"';
    out[w] = 0;
    return out;
}

/* ---- key path ------------------------------------------------------------------ */

static size_t path_append(yu_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_append(yu_parser *p, const char *fmt, ...) {
    size_t old = p->pathlen;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(p->path + old, sizeof p->path - old, fmt, ap);
    va_end(ap);
    if (w < 0) w = 0;
    p->pathlen = old + (size_t)w < sizeof p->path ? old + (size_t)w : sizeof p->path - 1;
    return old;
}

size_t yu_push_key(yu_parser *p, const char *key) {
    return p->pathlen ? path_append(p, ".%s", key) : path_append(p, "%s", key);
}

size_t yu_push_index(yu_parser *p, size_t i) { return path_append(p, "[%zu]", i); }

/* ---- messages ------------------------------------------------------------------- */

static void vformat(yu_parser *p, const yaml_node_t *n, char *out, size_t cap, const char *fmt, va_list ap) {
    int off;
    if (p->pathlen)
        off = snprintf(out, cap, "%s:%d: %s: ", p->file, yu_line(n), p->path);
    else
        off = snprintf(out, cap, "%s:%d: ", p->file, yu_line(n));
    if (off < 0) off = 0;
    if ((size_t)off < cap) vsnprintf(out + off, cap - (size_t)off, fmt, ap);
}

int yu_error(yu_parser *p, const yaml_node_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vformat(p, n, msg, sizeof msg, fmt, ap);
    va_end(ap);
    return flint_error(FLINT_EINVAL, "%s", msg);
}

void yu_warn(yu_parser *p, const yaml_node_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vformat(p, n, msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->warn)
        p->warn(p->warn_arg, msg);
    else
        flint_log(FLINT_LOG_WARN, "config", msg, NULL);
}

/* ---- mappings and sequences ---------------------------------------------------- */

typedef struct pair_list {
    yu_pair *v;
    size_t n, cap;
} pair_list;

static int spend(yu_parser *p, const yaml_node_t *n) {
    if (p->budget == 0) return yu_error(p, n, "document too large (aliases expand to too many nodes)");
    p->budget--;
    return 0;
}

static bool has_key(const pair_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0) return true;
    return false;
}

static bool is_merge_key(const yaml_node_t *k) {
    return k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           k->data.scalar.length == 2 && memcmp(k->data.scalar.value, "<<", 2) == 0;
}

static int collect(yu_parser *p, yaml_node_t *map, pair_list *l, bool merged, int depth);

static int merge_from(yu_parser *p, yaml_node_t *src, pair_list *l, int depth) {
    if (depth > YU_MERGE_DEPTH) return yu_error(p, src, "merge keys nested too deeply");
    if (src->type == YAML_MAPPING_NODE) return collect(p, src, l, true, depth + 1);
    if (src->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = src->data.sequence.items.start; it < src->data.sequence.items.top; it++) {
            yaml_node_t *m = yu_node(p, *it);
            if (!m || m->type != YAML_MAPPING_NODE) return yu_error(p, src, "map merge requires map or sequence of maps as the value");
            int rc = collect(p, m, l, true, depth + 1);
            if (rc) return rc;
        }
        return 0;
    }
    return yu_error(p, src, "map merge requires map or sequence of maps as the value");
}

/* Explicit keys of this mapping first (duplicates are errors), then merged
 * keys that are not already present (yaml.v2: explicit keys win). */
static int collect(yu_parser *p, yaml_node_t *map, pair_list *l, bool merged, int depth) {
    size_t first = l->n;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yu_node(p, pr->key), *v = yu_node(p, pr->value);
        if (!k || !v) continue;
        int rc = spend(p, k);
        if (rc) return rc;
        if (is_merge_key(k)) continue;
        if (k->type != YAML_SCALAR_NODE) return yu_error(p, k, "mapping keys must be strings, got %s", yu_kind(k));
        const char *name = (const char *)k->data.scalar.value;
        if (strlen(name) != k->data.scalar.length) return yu_error(p, k, "mapping key contains a NUL byte");
        if (merged) {
            if (has_key(l, name)) continue;
        } else {
            for (size_t i = first; i < l->n; i++)
                if (strcmp(l->v[i].name, name) == 0)
                    return yu_error(p, k, "key \"%s\" already set in this mapping (line %d)", name,
                                    yu_line(l->v[i].key));
        }
        if (fl_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(yu_pair))) return FLINT_ENOMEM;
        l->v[l->n++] = (yu_pair){k, v, name};
    }
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yu_node(p, pr->key), *v = yu_node(p, pr->value);
        if (!k || !v || !is_merge_key(k)) continue;
        int rc = merge_from(p, v, l, depth);
        if (rc) return rc;
    }
    return 0;
}

int yu_map_pairs(yu_parser *p, yaml_node_t *map, yu_pair **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (yu_is_null(map)) return 0;
    if (map->type != YAML_MAPPING_NODE) return yu_error(p, map, "expected a mapping, got %s", yu_kind(map));
    pair_list l = {0};
    int rc = collect(p, map, &l, false, 0);
    if (rc) {
        fl_free(l.v);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

int yu_seq_items(yu_parser *p, yaml_node_t *seq, yaml_node_item_t **items, size_t *n) {
    *items = NULL;
    *n = 0;
    if (yu_is_null(seq)) return 0;
    if (seq->type != YAML_SEQUENCE_NODE) return yu_error(p, seq, "expected a sequence, got %s", yu_kind(seq));
    size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (count > p->budget) return yu_error(p, seq, "document too large (aliases expand to too many nodes)");
    p->budget -= count;
    *items = seq->data.sequence.items.start;
    *n = count;
    return 0;
}

/* ---- typed values ------------------------------------------------------------- */

static int need_scalar(yu_parser *p, yaml_node_t *n, const char *what) {
    if (n->type == YAML_SCALAR_NODE) return 0;
    return yu_error(p, n, "expected %s, got %s", what, yu_kind(n));
}

int yu_get_string(yu_parser *p, yaml_node_t *n, scrape_arena *a, char **out) {
    if (yu_is_null(n)) return 1;
    int rc = need_scalar(p, n, "a string");
    if (rc) return rc;
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return yu_error(p, n, "string contains a NUL byte");
    char *s = scrape_arena_strndup(a, (const char *)n->data.scalar.value, n->data.scalar.length);
    if (!s) return FLINT_ENOMEM;
    *out = s;
    return 0;
}

int yu_get_bool(yu_parser *p, yaml_node_t *n, bool *out) {
    if (yu_is_null(n)) return 1;
    int rc = need_scalar(p, n, "a boolean");
    if (rc) return rc;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
    const char *s = (const char *)n->data.scalar.value;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return yu_error(p, n, "not a boolean: \"%.64s\"", s);
}

int yu_get_uint(yu_parser *p, yaml_node_t *n, uint64_t *out) {
    if (yu_is_null(n)) return 1;
    int rc = need_scalar(p, n, "an unsigned integer");
    if (rc) return rc;
    const char *s = (const char *)n->data.scalar.value;
    size_t i = 0, len = n->data.scalar.length;
    uint64_t v = 0;
    if (i < len && s[i] == '+') i++;
    if (i == len) goto bad;
    for (; i < len; i++) {
        if (s[i] == '_') continue; /* YAML 1.1 digit separators */
        if (s[i] < '0' || s[i] > '9') goto bad;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) goto bad;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
bad:
    return yu_error(p, n, "not an unsigned integer: \"%.64s\"", s);
}

int yu_get_duration(yu_parser *p, yaml_node_t *n, int64_t *ms) {
    if (yu_is_null(n)) return 1;
    int rc = need_scalar(p, n, "a duration");
    if (rc) return rc;
    const char *s = (const char *)n->data.scalar.value;
    if (duration_parse(s, n->data.scalar.length, ms)) return yu_error(p, n, "%s", flint_errmsg());
    return 0;
}

int yu_get_bytesize(yu_parser *p, yaml_node_t *n, int64_t *bytes) {
    if (yu_is_null(n)) return 1;
    int rc = need_scalar(p, n, "a size");
    if (rc) return rc;
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length || bytesize_parse(s, bytes))
        return yu_error(p, n, "invalid size \"%.64s\" (want e.g. 512MB, 10GB)", s);
    return 0;
}

int yu_get_strings(yu_parser *p, yaml_node_t *n, scrape_arena *a, char ***out, size_t *count) {
    yaml_node_item_t *items;
    size_t k;
    int rc = yu_seq_items(p, n, &items, &k);
    if (rc) return rc;
    char **v = scrape_arena_calloc(a, k ? k : 1, sizeof(char *));
    if (!v) return FLINT_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        size_t old = yu_push_index(p, i);
        v[i] = "";
        rc = yu_get_string(p, yu_node(p, items[i]), a, &v[i]);
        yu_pop(p, old);
        if (rc < 0) return rc;
    }
    *out = v;
    *count = k;
    return 0;
}
