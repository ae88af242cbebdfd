/*
 * filesd.c - file_sd: glob, stat, and parse target group files (see
 * filesd.h).
 *
 * The JSON reader is a small schema-driven recursive descent over exactly
 * the shape Prometheus accepts (an array of {targets, labels} objects, null
 * allowed where Go's decoder allows it, unknown fields rejected, field names
 * matched case-insensitively as encoding/json does). Every read is bounds
 * checked; nesting cannot exceed the schema's three levels. Errors carry
 * line and column.
 */
#include "scrape/filesd.h"
#include "scrape/yamlutil.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"

#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FILESD_MAX_BYTES (64u << 20)
#define META_FILEPATH "__meta_filepath"

/* ---- growing arrays in an arena -------------------------------------------------------- */

static int arena_grow(scrape_arena *a, void **v, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < need) nc *= 2;
    void *nv = scrape_arena_calloc(a, nc, elem);
    if (!nv) return FLINT_ENOMEM;
    if (*cap) memcpy(nv, *v, *cap * elem);
    *v = nv;
    *cap = nc;
    return 0;
}

typedef struct group_builder {
    scrape_target_group *v;
    size_t n, cap;
    size_t tcap, lcap; /* capacities of the last group's arrays */
} group_builder;

static int gb_new_group(scrape_arena *a, group_builder *gb) {
    if (arena_grow(a, (void **)&gb->v, &gb->cap, gb->n + 1, sizeof(scrape_target_group))) return FLINT_ENOMEM;
    memset(&gb->v[gb->n], 0, sizeof gb->v[gb->n]);
    gb->n++;
    gb->tcap = gb->lcap = 0;
    return 0;
}

static int gb_add_target(scrape_arena *a, group_builder *gb, char *t) {
    scrape_target_group *g = &gb->v[gb->n - 1];
    if (arena_grow(a, (void **)&g->targets, &gb->tcap, g->ntargets + 1, sizeof(char *))) return FLINT_ENOMEM;
    g->targets[g->ntargets++] = t;
    return 0;
}

/* Labels are appended as read; gb_finish sorts them and keeps the last
 * value of a repeated name (Go's map decoding), in O(n log n). */
static int gb_add_label(scrape_arena *a, group_builder *gb, char *name, char *value) {
    scrape_target_group *g = &gb->v[gb->n - 1];
    if (arena_grow(a, (void **)&g->labels, &gb->lcap, g->nlabels + 1, sizeof(label))) return FLINT_ENOMEM;
    g->labels[g->nlabels].name = name;
    g->labels[g->nlabels].value = value;
    g->nlabels++;
    return 0;
}

typedef struct seq_label {
    label l;
    size_t seq;
} seq_label;

static int seq_label_cmp(const void *a, const void *b) {
    const seq_label *x = a, *y = b;
    int c = strcmp(x->l.name, y->l.name);
    if (c) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort, drop repeated names (last wins) and any __meta_filepath from the
 * file, add ours (as Prometheus does); set the source "name:index". */
static int gb_finish(scrape_arena *a, group_builder *gb, const char *name) {
    char *path = scrape_arena_strdup(a, name);
    char *meta = scrape_arena_strdup(a, META_FILEPATH);
    if (!path || !meta) return FLINT_ENOMEM;
    size_t nl = strlen(name);
    for (size_t i = 0; i < gb->n; i++) {
        scrape_target_group *g = &gb->v[i];
        seq_label *tmp = fl_malloc((g->nlabels + 1) * sizeof *tmp);
        label *v = scrape_arena_calloc(a, g->nlabels + 1, sizeof(label));
        if (!tmp || !v) {
            fl_free(tmp);
            return FLINT_ENOMEM;
        }
        size_t n = 0;
        for (size_t k = 0; k < g->nlabels; k++) {
            if (strcmp(g->labels[k].name, META_FILEPATH) == 0) continue;
            tmp[n].l = g->labels[k];
            tmp[n].seq = n;
            n++;
        }
        tmp[n].l = (label){meta, path};
        tmp[n].seq = n;
        n++;
        qsort(tmp, n, sizeof *tmp, seq_label_cmp);
        size_t w = 0;
        for (size_t k = 0; k < n; k++)
            if (k + 1 == n || strcmp(tmp[k].l.name, tmp[k + 1].l.name) != 0) v[w++] = tmp[k].l;
        fl_free(tmp);
        g->labels = v;
        g->nlabels = w;
        char src[32];
        int sl = snprintf(src, sizeof src, ":%zu", i);
        g->source = scrape_arena_alloc(a, nl + (size_t)sl + 1);
        if (!g->source) return FLINT_ENOMEM;
        memcpy(g->source, name, nl);
        memcpy(g->source + nl, src, (size_t)sl + 1);
    }
    return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

typedef struct jparser {
    const char *s;
    size_t n, i;
    const char *name;
    scrape_arena *a;
} jparser;

static int jerr(jparser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jerr(jparser *p, const char *fmt, ...) {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') line++, col = 1;
        else col++;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return flint_error(FLINT_EINVAL, "%s:%zu:%zu: %s", p->name, line, col, msg);
}

static void jws(jparser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool jlit(jparser *p, const char *lit) {
    size_t l = strlen(lit);
    if (p->n - p->i >= l && memcmp(p->s + p->i, lit, l) == 0) {
        p->i += l;
        return true;
    }
    return false;
}

static const char *jwhat(jparser *p) {
    if (p->i >= p->n) return "end of input";
    switch (p->s[p->i]) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')) ? "a number" : "an invalid character";
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_u4(jparser *p, size_t at, unsigned *out) {
    if (p->n - at < 4) return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[at + (size_t)k]);
        if (h < 0) return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A JSON string at p->i (which must be '"') into the arena. Escaped output
 * is never longer than its source, so one allocation of the raw length
 * suffices. \u0000 is rejected (label strings are C strings). */
static int jstring(jparser *p, char **out) {
    if (p->i >= p->n || p->s[p->i] != '"') return jerr(p, "expected a string, got %s", jwhat(p));
    size_t start = ++p->i, end = start;
    while (end < p->n && p->s[end] != '"') {
        if (p->s[end] == '\\') end++;
        end++;
    }
    if (end >= p->n) {
        p->i = start - 1;
        return jerr(p, "unterminated string");
    }
    char *o = scrape_arena_alloc(p->a, end - start + 1);
    if (!o) return FLINT_ENOMEM;
    size_t w = 0;
    while (p->i < end) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) return jerr(p, "invalid control character in string");
        if (c != '\\') {
            o[w++] = (char)c;
            p->i++;
            continue;
        }
        char e = p->s[p->i + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            o[w++] = map[simple - "\"\\/bfnrt"];
            p->i += 2;
            continue;
        }
        if (e != 'u') return jerr(p, "invalid escape in string");
        unsigned cp;
        size_t esc = p->i;
        if (read_u4(p, p->i + 2, &cp)) return jerr(p, "invalid \\u escape in string");
        p->i += 6;
        if (cp >= 0xd800 && cp < 0xdc00) {
            unsigned lo;
            if (p->i + 6 <= end && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u' && read_u4(p, p->i + 2, &lo) == 0 &&
                lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p->i += 6;
            } else {
                cp = 0xfffd; /* lone surrogate: Go substitutes U+FFFD */
            }
        } else if (cp >= 0xdc00 && cp < 0xe000) {
            cp = 0xfffd;
        }
        if (cp == 0) {
            p->i = esc;
            return jerr(p, "NUL character (\\u0000) in string");
        }
        w += utf8_put(o + w, cp);
    }
    o[w] = 0;
    if (!utf8_valid(o, w)) {
        p->i = start;
        return jerr(p, "invalid UTF-8 in string");
    }
    p->i = end + 1;
    *out = o;
    return 0;
}

static int jexpect(jparser *p, char c) {
    jws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return 0;
    }
    return jerr(p, "expected '%c', got %s", c, jwhat(p));
}

/* [ "a", "b", null ] or null */
static int jtargets(jparser *p, group_builder *gb) {
    jws(p);
    if (jlit(p, "null")) return 0;
    if (jexpect(p, '[')) return jerr(p, "targets: expected an array of strings, got %s", jwhat(p));
    jws(p);
    if (p->i < p->n && p->s[p->i] == ']') return p->i++, 0;
    for (;;) {
        jws(p);
        char *t = "";
        if (!jlit(p, "null")) {
            int rc = jstring(p, &t);
            if (rc) return rc;
        }
        if (gb_add_target(p->a, gb, t)) return FLINT_ENOMEM;
        jws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        return jexpect(p, ']');
    }
}

/* { "name": "value", ... } or null */
static int jlabels(jparser *p, group_builder *gb) {
    jws(p);
    if (jlit(p, "null")) return 0;
    if (jexpect(p, '{')) return jerr(p, "labels: expected an object, got %s", jwhat(p));
    jws(p);
    if (p->i < p->n && p->s[p->i] == '}') return p->i++, 0;
    for (;;) {
        jws(p);
        size_t key_at = p->i;
        char *name, *value = "";
        int rc = jstring(p, &name);
        if (rc) return rc;
        if (!label_name_valid(name, strlen(name))) {
            p->i = key_at;
            return jerr(p, "\"%s\" is not a valid label name", name);
        }
        if ((rc = jexpect(p, ':'))) return rc;
        jws(p);
        if (!jlit(p, "null") && (rc = jstring(p, &value))) return rc;
        if (gb_add_label(p->a, gb, name, value)) return FLINT_ENOMEM;
        jws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        return jexpect(p, '}');
    }
}

static int jgroup(jparser *p, group_builder *gb, size_t index) {
    jws(p);
    size_t at = p->i;
    if (jlit(p, "null")) {
        p->i = at;
        return jerr(p, "nil target group item found (index %zu)", index);
    }
    if (p->i >= p->n || p->s[p->i] != '{') return jerr(p, "expected a target group object, got %s", jwhat(p));
    p->i++;
    if (gb_new_group(p->a, gb)) return FLINT_ENOMEM;
    jws(p);
    if (p->i < p->n && p->s[p->i] == '}') return p->i++, 0;
    for (;;) {
        jws(p);
        size_t key_at = p->i;
        char *key;
        int rc = jstring(p, &key);
        if (rc) return rc;
        if ((rc = jexpect(p, ':'))) return rc;
        if (strcasecmp(key, "targets") == 0) {
            scrape_target_group *g = &gb->v[gb->n - 1];
            g->ntargets = 0; /* a repeated key replaces, as in Go */
            rc = jtargets(p, gb);
        } else if (strcasecmp(key, "labels") == 0) {
            rc = jlabels(p, gb);
        } else {
            p->i = key_at;
            return jerr(p, "unknown field \"%s\" in target group", key);
        }
        if (rc) return rc;
        jws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        return jexpect(p, '}');
    }
}

static int parse_json(const char *buf, size_t len, const char *name, scrape_arena *a, group_builder *gb) {
    jparser p = {buf, len, 0, name, a};
    jws(&p);
    if (p.i >= p.n) return jerr(&p, "unexpected end of JSON input");
    if (!jlit(&p, "null")) {
        if (p.s[p.i] != '[') return jerr(&p, "expected an array of target groups, got %s", jwhat(&p));
        p.i++;
        jws(&p);
        if (p.i < p.n && p.s[p.i] == ']') {
            p.i++;
        } else {
            for (size_t idx = 0;; idx++) {
                int rc = jgroup(&p, gb, idx);
                if (rc) return rc;
                jws(&p);
                if (p.i < p.n && p.s[p.i] == ',') {
                    p.i++;
                    continue;
                }
                if ((rc = jexpect(&p, ']'))) return rc;
                break;
            }
        }
    }
    jws(&p);
    if (p.i != p.n) return jerr(&p, "invalid character after top-level value");
    return 0;
}

/* ---- YAML ----------------------------------------------------------------------------- */

static int yaml_group(yu_parser *y, yaml_node_t *n, scrape_arena *a, group_builder *gb) {
    if (yu_is_null(n)) return yu_error(y, n, "nil target group item found");
    yu_pair *pairs;
    size_t np;
    int rc = yu_map_pairs(y, n, &pairs, &np);
    if (rc) return rc;
    if (gb_new_group(a, gb)) rc = FLINT_ENOMEM;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        size_t old = yu_push_key(y, pairs[i].name);
        if (!strcmp(pairs[i].name, "targets")) {
            char **t;
            size_t nt;
            rc = yu_get_strings(y, pairs[i].value, a, &t, &nt);
            for (size_t k = 0; rc == 0 && k < nt; k++) rc = gb_add_target(a, gb, t[k]);
        } else if (!strcmp(pairs[i].name, "labels")) {
            yu_pair *lp;
            size_t nl;
            rc = yu_map_pairs(y, pairs[i].value, &lp, &nl);
            for (size_t k = 0; rc == 0 && k < nl; k++) {
                size_t o2 = yu_push_key(y, lp[k].name);
                char q[256];
                char *name = scrape_arena_strdup(a, lp[k].name), *value = "";
                if (!name) rc = FLINT_ENOMEM;
                else if (!label_name_valid(name, strlen(name)))
                    rc = yu_error(y, lp[k].key, "%s is not a valid label name", yu_quote(name, q, sizeof q));
                else if ((rc = yu_get_string(y, lp[k].value, a, &value)) >= 0 && !utf8_valid(value, strlen(value)))
                    rc = yu_error(y, lp[k].value, "%s is not a valid label value", yu_quote(value, q, sizeof q));
                else if (rc >= 0)
                    rc = gb_add_label(a, gb, name, value);
                yu_pop(y, o2);
            }
            fl_free(lp);
        } else {
            rc = yu_error(y, pairs[i].key, "unknown field in target group");
        }
        yu_pop(y, old);
    }
    fl_free(pairs);
    return rc < 0 ? rc : 0;
}

static int parse_yaml(const char *buf, size_t len, const char *name, scrape_arena *a, group_builder *gb) {
    yu_parser y = {0};
    int rc = yu_load(&y, buf, len, name);
    if (rc) return rc;
    yaml_node_t *root = yu_root(&y);
    yaml_node_item_t *items;
    size_t k;
    rc = yu_seq_items(&y, root, &items, &k);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        size_t old = yu_push_index(&y, i);
        rc = yaml_group(&y, yu_node(&y, items[i]), a, gb);
        yu_pop(&y, old);
    }
    yu_free(&y);
    return rc;
}

/* ---- entry points ---------------------------------------------------------------------- */

static bool ext_is(const char *name, const char *ext) {
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    return dot && (!slash || dot > slash) && strcasecmp(dot, ext) == 0;
}

int filesd_parse(const char *buf, size_t len, const char *name, scrape_arena *a, scrape_target_group **groups,
                 size_t *ngroups) {
    *groups = NULL;
    *ngroups = 0;
    group_builder gb = {0};
    int rc;
    if (ext_is(name, ".json"))
        rc = parse_json(buf, len, name, a, &gb);
    else if (ext_is(name, ".yml") || ext_is(name, ".yaml"))
        rc = parse_yaml(buf, len, name, a, &gb);
    else {
        const char *dot = strrchr(name, '.');
        return flint_error(FLINT_EINVAL, "%s: invalid file extension: \"%s\"", name,
                           dot && !strchr(dot, '/') ? dot : "");
    }
    if (rc == 0) rc = gb_finish(a, &gb, name);
    if (rc) return rc;
    *groups = gb.v;
    *ngroups = gb.n;
    return 0;
}

static int read_all(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return flint_error(errno == ENOENT ? FLINT_ENOTFOUND : FLINT_EIO, "open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, size = 0;
    int rc = 0;
    for (;;) {
        if (fl_grow((void **)&buf, &cap, size + 4096 + 1, 1)) {
            rc = FLINT_ENOMEM;
            break;
        }
        size_t got = fread(buf + size, 1, cap - size - 1, f);
        size += got;
        if (got == 0) break;
        if (size > FILESD_MAX_BYTES) {
            rc = flint_error(FLINT_EIO, "read %s: file too large", path);
            break;
        }
    }
    if (!rc && ferror(f)) rc = flint_error(FLINT_EIO, "read %s: %s", path, strerror(errno ? errno : EIO));
    fclose(f);
    if (rc) {
        fl_free(buf);
        return rc;
    }
    buf[size] = 0;
    *out = buf;
    *len = size;
    return 0;
}

int filesd_read_file(const char *path, scrape_arena *a, scrape_target_group **groups, size_t *ngroups) {
    char *buf = NULL;
    size_t len = 0;
    *groups = NULL;
    *ngroups = 0;
    int rc = read_all(path, &buf, &len);
    if (rc) return rc;
    rc = filesd_parse(buf, len, path, a, groups, ngroups);
    fl_free(buf);
    return rc;
}

static int file_cmp(const void *a, const void *b) {
    return strcmp(((const filesd_file *)a)->path, ((const filesd_file *)b)->path);
}

int filesd_list(const scrape_file_sd *cfg, filesd_snapshot *out) {
    memset(out, 0, sizeof *out);
    scrape_arena_init(&out->arena);
    size_t cap = 0;
    for (size_t p = 0; p < cfg->nfiles; p++) {
        glob_t g;
        int grc = glob(cfg->files[p], 0, NULL, &g);
        if (grc == GLOB_NOSPACE) return FLINT_ENOMEM;
        if (grc != 0) continue; /* GLOB_NOMATCH, GLOB_ABORTED: nothing to read now */
        int rc = 0;
        for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
            struct stat st;
            if (stat(g.gl_pathv[i], &st) != 0 || S_ISDIR(st.st_mode)) continue;
            if (arena_grow(&out->arena, (void **)&out->files, &cap, out->nfiles + 1, sizeof(filesd_file))) {
                rc = FLINT_ENOMEM;
                break;
            }
            filesd_file *f = &out->files[out->nfiles];
            memset(f, 0, sizeof *f);
            f->path = scrape_arena_strdup(&out->arena, g.gl_pathv[i]);
            if (!f->path) rc = FLINT_ENOMEM;
            f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            f->size = (int64_t)st.st_size;
            f->dev = (uint64_t)st.st_dev;
            f->ino = (uint64_t)st.st_ino;
            if (!rc) out->nfiles++;
        }
        globfree(&g);
        if (rc) return rc;
    }
    if (out->nfiles > 1) qsort(out->files, out->nfiles, sizeof(filesd_file), file_cmp);
    size_t w = 0;
    for (size_t i = 0; i < out->nfiles; i++)
        if (w == 0 || strcmp(out->files[w - 1].path, out->files[i].path) != 0) out->files[w++] = out->files[i];
    out->nfiles = w;
    return 0;
}

int filesd_refresh(const scrape_file_sd *cfg, filesd_snapshot *out) {
    int rc = filesd_list(cfg, out);
    if (rc) return rc;
    for (size_t i = 0; i < out->nfiles; i++) {
        filesd_file *f = &out->files[i];
        rc = filesd_read_file(f->path, &out->arena, &f->groups, &f->ngroups);
        if (rc == FLINT_ENOMEM) return rc;
        if (rc) {
            f->err = rc;
            f->errmsg = scrape_arena_strdup(&out->arena, flint_errmsg());
            if (!f->errmsg) return FLINT_ENOMEM;
        }
    }
    return 0;
}

void filesd_snapshot_free(filesd_snapshot *s) {
    scrape_arena_free(&s->arena);
    s->files = NULL;
    s->nfiles = 0;
}

bool filesd_file_changed(const filesd_file *old, const filesd_file *cur) {
    return strcmp(old->path, cur->path) != 0 || old->mtime_ns != cur->mtime_ns || old->size != cur->size ||
           old->dev != cur->dev || old->ino != cur->ino;
}

bool filesd_changed(const filesd_snapshot *old, const filesd_snapshot *cur) {
    if (old->nfiles != cur->nfiles) return true;
    for (size_t i = 0; i < old->nfiles; i++)
        if (filesd_file_changed(&old->files[i], &cur->files[i])) return true;
    return false;
}

/* ---- watching: the last good groups of every file -------------------------------------- */

void filesd_watch_init(filesd_watch *w) { memset(w, 0, sizeof *w); }

static void watch_entry_free(filesd_watch_entry *e) {
    scrape_arena_free(&e->arena);
    fl_free(e->f.errmsg);
    memset(e, 0, sizeof *e);
}

void filesd_watch_free(filesd_watch *w) {
    for (size_t i = 0; i < w->nfiles; i++) watch_entry_free(&w->files[i]);
    fl_free(w->files);
    memset(w, 0, sizeof *w);
}

int filesd_watch_poll(filesd_watch *w, const scrape_file_sd *cfg, bool *changed) {
    *changed = false;
    filesd_snapshot snap;
    int rc = filesd_list(cfg, &snap);
    if (rc) {
        filesd_snapshot_free(&snap);
        return rc;
    }
    filesd_watch_entry *nv = fl_calloc(snap.nfiles ? snap.nfiles : 1, sizeof *nv);
    bool *moved = fl_calloc(w->nfiles ? w->nfiles : 1, sizeof *moved);
    bool *fresh = fl_calloc(snap.nfiles ? snap.nfiles : 1, sizeof *fresh); /* nv[i] is new, not an old entry */
    if (!nv || !moved || !fresh) {
        rc = FLINT_ENOMEM;
        goto out;
    }
    size_t j = 0; /* both lists are sorted by path: merge */
    for (size_t i = 0; i < snap.nfiles; i++) {
        const filesd_file *cur = &snap.files[i];
        while (j < w->nfiles && strcmp(w->files[j].f.path, cur->path) < 0) j++;
        filesd_watch_entry *old = j < w->nfiles && strcmp(w->files[j].f.path, cur->path) == 0 ? &w->files[j] : NULL;
        filesd_watch_entry *e = &nv[i];
        if (old && !filesd_file_changed(&old->f, cur)) {
            *e = *old;
            moved[j] = true;
            continue;
        }
        scrape_arena_init(&e->arena);
        fresh[i] = true;
        e->f = *cur;
        e->f.groups = NULL;
        e->f.ngroups = 0;
        e->f.errmsg = NULL;
        if (!(e->f.path = scrape_arena_strdup(&e->arena, cur->path))) {
            rc = FLINT_ENOMEM;
            goto out;
        }
        rc = filesd_read_file(cur->path, &e->arena, &e->f.groups, &e->f.ngroups);
        if (rc == FLINT_ENOMEM) goto out;
        if (rc == 0) {
            *changed = true; /* new or changed content (an unchanged rewrite counts too) */
            continue;
        }
        /* Prometheus keeps a broken file's previous targets; the file is
         * read again when it changes */
        char *msg = fl_strdup(flint_errmsg());
        if (!msg) {
            rc = FLINT_ENOMEM;
            goto out;
        }
        flint_log(FLINT_LOG_ERROR, "discovery", "Error reading file", "path=%s err=\"%s\"", cur->path, msg);
        int err = rc;
        rc = 0;
        if (old) {
            scrape_arena_free(&e->arena);
            int64_t mt = cur->mtime_ns, sz = cur->size;
            uint64_t dev = cur->dev, ino = cur->ino;
            fl_free(old->f.errmsg);
            old->f.errmsg = NULL;
            *e = *old;
            moved[j] = true;
            fresh[i] = false;
            e->f.mtime_ns = mt;
            e->f.size = sz;
            e->f.dev = dev;
            e->f.ino = ino;
        }
        e->f.err = err;
        e->f.errmsg = msg;
    }
    for (size_t k = 0; k < w->nfiles; k++)
        if (!moved[k]) {
            if (w->files[k].f.ngroups) *changed = true; /* a removed file's targets go */
            watch_entry_free(&w->files[k]);
        }
    fl_free(w->files);
    w->files = nv;
    w->nfiles = snap.nfiles;
    nv = NULL;
out:
    if (nv) { /* failure: free what was built; the old entries stay the watch's */
        for (size_t i = 0; fresh && i < snap.nfiles; i++)
            if (fresh[i]) watch_entry_free(&nv[i]);
        fl_free(nv);
    }
    fl_free(moved);
    fl_free(fresh);
    filesd_snapshot_free(&snap);
    return rc;
}
