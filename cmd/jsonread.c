/*
 * jsonread.c - recursive-descent JSON reader into jv trees (see jsonread.h).
 * One pass, no lookahead beyond a byte; arrays and objects grow by doubling.
 */
#include "cmd/jsonread.h"

#include "storage/alloc.h"
#include "storage/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *s;
    size_t n, pos;
} reader;

static int bad(reader *r, const char *what) {
    return flint_error(FLINT_EINVAL, "json: %s at offset %zu", what, r->pos);
}

static void skip_ws(reader *r) {
    while (r->pos < r->n && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t' || r->s[r->pos] == '\n' ||
                             r->s[r->pos] == '\r'))
        r->pos++;
}

static int hex4(reader *r, uint32_t *out) {
    if (r->n - r->pos < 4) return bad(r, "short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->s[r->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return bad(r, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *d, uint32_t cp) {
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At the opening quote. The decoded text is never longer than the source
 * (an escape of 6 bytes yields at most 3, a pair of 12 at most 4). */
static int parse_string(reader *r, char **out, size_t *outlen) {
    r->pos++;
    size_t start = r->pos, end = start;
    while (end < r->n && r->s[end] != '"') end += r->s[end] == '\\' ? 2 : 1;
    if (end >= r->n) return bad(r, "unterminated string");
    char *d = fl_malloc(end - start + 1);
    if (!d) return FLINT_ENOMEM;
    size_t k = 0;
    while (r->pos < end) {
        unsigned char c = (unsigned char)r->s[r->pos];
        if (c < 0x20) {
            fl_free(d);
            return bad(r, "control character in string");
        }
        if (c != '\\') {
            d[k++] = (char)c;
            r->pos++;
            continue;
        }
        char e = r->s[r->pos + 1];
        r->pos += 2;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *p = e ? strchr(from, e) : NULL;
        if (p) {
            d[k++] = to[p - from];
            continue;
        }
        uint32_t cp, lo;
        if (e != 'u' || hex4(r, &cp)) {
            fl_free(d);
            return e == 'u' ? FLINT_EINVAL : bad(r, "bad escape");
        }
        if (cp >= 0xD800 && cp < 0xDC00 && r->pos + 6 <= end && r->s[r->pos] == '\\' &&
            r->s[r->pos + 1] == 'u') {
            size_t save = r->pos;
            r->pos += 2;
            if (hex4(r, &lo)) {
                fl_free(d);
                return FLINT_EINVAL;
            }
            if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else r->pos = save;
        }
        if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* a lone surrogate */
        k += put_utf8(d + k, cp);
    }
    r->pos = end + 1;
    d[k] = 0;
    *out = d;
    *outlen = k;
    return 0;
}

static int parse_value(reader *r, jv *v, int depth);

static int grow_items(jv *v, size_t *cap, bool keys) {
    if (v->n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    jv *ni = fl_realloc(v->items, nc * sizeof *ni);
    if (!ni) return FLINT_ENOMEM;
    v->items = ni;
    if (keys) {
        char **nk = fl_realloc(v->keys, nc * sizeof *nk);
        if (!nk) return FLINT_ENOMEM;
        v->keys = nk;
    }
    *cap = nc;
    return 0;
}

static int parse_container(reader *r, jv *v, int depth, bool object) {
    if (depth >= JSON_READ_DEPTH) return bad(r, "nesting too deep");
    v->type = object ? JV_OBJ : JV_ARR;
    char close = object ? '}' : ']';
    size_t cap = 0;
    r->pos++;
    skip_ws(r);
    if (r->pos < r->n && r->s[r->pos] == close) {
        r->pos++;
        return 0;
    }
    for (;;) {
        int rc = grow_items(v, &cap, object);
        if (rc) return rc;
        char *key = NULL;
        if (object) {
            skip_ws(r);
            if (r->pos >= r->n || r->s[r->pos] != '"') return bad(r, "expected a string key");
            size_t klen;
            if ((rc = parse_string(r, &key, &klen))) return rc;
            skip_ws(r);
            if (r->pos >= r->n || r->s[r->pos] != ':') {
                fl_free(key);
                return bad(r, "expected ':'");
            }
            r->pos++;
        }
        jv *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (object) v->keys[v->n] = key;
        v->n++; /* counted before parsing so jv_free releases a partial item */
        if ((rc = parse_value(r, item, depth + 1))) return rc;
        skip_ws(r);
        if (r->pos < r->n && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->n && r->s[r->pos] == close) {
            r->pos++;
            return 0;
        }
        return bad(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(reader *r, jv *v, int depth) {
    skip_ws(r);
    if (r->pos >= r->n) return bad(r, "unexpected end of input");
    char c = r->s[r->pos];
    if (c == '{' || c == '[') return parse_container(r, v, depth, c == '{');
    if (c == '"') {
        v->type = JV_STR;
        return parse_string(r, &v->str, &v->len);
    }
    static const struct {
        const char *word;
        jv_type type;
        bool b;
    } words[] = {{"null", JV_NULL, false}, {"true", JV_BOOL, true}, {"false", JV_BOOL, false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t wl = strlen(words[i].word);
        if (r->n - r->pos >= wl && !memcmp(r->s + r->pos, words[i].word, wl)) {
            v->type = words[i].type;
            v->b = words[i].b;
            r->pos += wl;
            return 0;
        }
    }
    /* A number: check the JSON grammar, then let strtod convert it. */
    size_t p = r->pos;
    if (p < r->n && r->s[p] == '-') p++;
    size_t digits = p;
    while (p < r->n && r->s[p] >= '0' && r->s[p] <= '9') p++;
    if (p == digits) return bad(r, "unexpected character");
    if (p < r->n && r->s[p] == '.') {
        size_t f = ++p;
        while (p < r->n && r->s[p] >= '0' && r->s[p] <= '9') p++;
        if (p == f) return bad(r, "digits expected after '.'");
    }
    if (p < r->n && (r->s[p] == 'e' || r->s[p] == 'E')) {
        p++;
        if (p < r->n && (r->s[p] == '+' || r->s[p] == '-')) p++;
        size_t f = p;
        while (p < r->n && r->s[p] >= '0' && r->s[p] <= '9') p++;
        if (p == f) return bad(r, "digits expected in exponent");
    }
    char tmp[64];
    if (p - r->pos >= sizeof tmp) return bad(r, "number too long");
    memcpy(tmp, r->s + r->pos, p - r->pos);
    tmp[p - r->pos] = 0;
    v->type = JV_NUM;
    v->num = strtod(tmp, NULL);
    r->pos = p;
    return 0;
}

int jv_parse(const char *s, size_t n, jv *out) {
    reader r = {s, n, 0};
    memset(out, 0, sizeof *out);
    int rc = parse_value(&r, out, 0);
    if (!rc) {
        skip_ws(&r);
        if (r.pos != r.n) rc = bad(&r, "trailing data");
    }
    if (rc) {
        jv_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void jv_free(jv *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->items[i]);
        if (v->keys) fl_free(v->keys[i]);
    }
    fl_free(v->items);
    fl_free(v->keys);
    fl_free(v->str);
    memset(v, 0, sizeof *v);
}

const jv *jv_get(const jv *v, const char *key) {
    if (!v || v->type != JV_OBJ) return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->keys[i], key)) return &v->items[i];
    return NULL;
}
