/*
 * labels.c - label sets, validation, hashing, formatting, the string
 * interner and label matchers (see labels.h).
 *
 * Matchers compile regexes with PCRE2 anchored at both ends, with `.`
 * matching newlines as in Prometheus 3. Patterns that are plain literals or
 * alternations of literals ("GET|POST"), and ".*" / ".+", skip PCRE2: they
 * are the common Grafana shapes (template variables expand to a|b|c).
 */
#include "tsdb/labels.h"
#include "storage/alloc.h"
#include "storage/err.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/* ---- label sets ------------------------------------------------------------ */

int labels_cmp(const labels *a, const labels *b) {
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        if (a->v[i].name != b->v[i].name) {
            int c = strcmp(a->v[i].name, b->v[i].name);
            if (c) return c < 0 ? -1 : 1;
        }
        if (a->v[i].value != b->v[i].value) {
            int c = strcmp(a->v[i].value, b->v[i].value);
            if (c) return c < 0 ? -1 : 1;
        }
    }
    return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool labels_equal(const labels *a, const labels *b) { return a->n == b->n && labels_cmp(a, b) == 0; }

uint64_t labels_hash(const labels *l) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    static const char sep = '\xff';
    for (size_t i = 0; i < l->n; i++) {
        XXH3_64bits_update(&st, l->v[i].name, strlen(l->v[i].name));
        XXH3_64bits_update(&st, &sep, 1);
        XXH3_64bits_update(&st, l->v[i].value, strlen(l->v[i].value));
        XXH3_64bits_update(&st, &sep, 1);
    }
    return XXH3_64bits_digest(&st);
}

const char *labels_get(const labels *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0) return l->v[i].value;
    return NULL;
}

typedef struct outbuf {
    char *p;
    size_t cap, len;
} outbuf;

static void ob_putc(outbuf *o, char c) {
    if (o->len + 1 < o->cap) o->p[o->len] = c;
    o->len++;
}
static void ob_puts(outbuf *o, const char *s) {
    while (*s) ob_putc(o, *s++);
}
static void ob_quoted(outbuf *o, const char *s) {
    ob_putc(o, '"');
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            ob_putc(o, '\\');
            ob_putc(o, *s);
        } else if (*s == '\n') {
            ob_putc(o, '\\');
            ob_putc(o, 'n');
        } else
            ob_putc(o, *s);
    }
    ob_putc(o, '"');
}

size_t labels_format(const labels *l, char *buf, size_t cap) {
    outbuf o = {buf, cap, 0};
    const char *name = labels_get(l, METRIC_NAME_LABEL);
    if (name) ob_puts(&o, name);
    int first = 1;
    ob_putc(&o, '{');
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, METRIC_NAME_LABEL) == 0) continue;
        if (!first) ob_puts(&o, ", ");
        first = 0;
        ob_puts(&o, l->v[i].name);
        ob_putc(&o, '=');
        ob_quoted(&o, l->v[i].value);
    }
    ob_putc(&o, '}');
    /* "name{}" prints as "name", like Prometheus */
    if (first && name && o.len == strlen(name) + 2) o.len -= 2;
    if (cap) buf[o.len < cap ? o.len : cap - 1] = 0;
    return o.len;
}

/* ---- validation ----------------------------------------------------------- */

static inline bool is_alpha_(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z' ? 1 : c == '_'; }
static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

bool label_name_valid(const char *s, size_t n) {
    if (n == 0 || !is_alpha_((unsigned char)s[0])) return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_((unsigned char)s[i]) && !is_digit((unsigned char)s[i])) return false;
    return true;
}

bool metric_name_valid(const char *s, size_t n) {
    if (n == 0 || !(is_alpha_((unsigned char)s[0]) || s[0] == ':')) return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_((unsigned char)s[i]) && !is_digit((unsigned char)s[i]) && s[i] != ':') return false;
    return true;
}

bool utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
        else return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int labels_validate(const labels *l) {
    if (l->n == 0) return flint_error(FLINT_EINVAL, "empty label set");
    for (size_t i = 0; i < l->n; i++) {
        const char *name = l->v[i].name, *value = l->v[i].value;
        size_t nl = strlen(name);
        if (i > 0) {
            int c = strcmp(l->v[i - 1].name, name);
            if (c == 0) return flint_error(FLINT_EINVAL, "duplicate label name \"%s\"", name);
            if (c > 0) return flint_error(FLINT_EINVAL, "labels not sorted at \"%s\"", name);
        }
        if (strcmp(name, METRIC_NAME_LABEL) == 0) {
            if (!metric_name_valid(value, strlen(value)))
                return flint_error(FLINT_EINVAL, "invalid metric name \"%s\"", value);
        } else if (!label_name_valid(name, nl)) {
            return flint_error(FLINT_EINVAL, "invalid label name \"%s\"", name);
        }
        if (!utf8_valid(value, strlen(value)))
            return flint_error(FLINT_EINVAL, "invalid UTF-8 in value of label \"%s\"", name);
    }
    return 0;
}

/* ---- builder ---------------------------------------------------------------- */

void lb_init(labels_builder *b) {
    b->v = NULL;
    b->n = b->cap = 0;
}
void lb_reset(labels_builder *b) { b->n = 0; }
void lb_free(labels_builder *b) {
    fl_free(b->v);
    lb_init(b);
}

int lb_add(labels_builder *b, const char *name, const char *value) {
    if (fl_grow((void **)&b->v, &b->cap, b->n + 1, sizeof(label))) return FLINT_ENOMEM;
    b->v[b->n].name = name;
    b->v[b->n].value = value;
    b->n++;
    return 0;
}

void lb_del(labels_builder *b, const char *name) {
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->v[i].name, name) == 0) {
            memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(label));
            b->n--;
            return;
        }
    }
}

int lb_set(labels_builder *b, const char *name, const char *value) {
    if (!value || !*value) {
        lb_del(b, name);
        return 0;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->v[i].name, name) == 0) {
            b->v[i].value = value;
            return 0;
        }
    }
    return lb_add(b, name, value);
}

static int label_name_cmp(const void *a, const void *b) {
    return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

int lb_sort(labels_builder *b) {
    /* insertion sort: sets are small and usually nearly sorted */
    for (size_t i = 1; i < b->n; i++) {
        label x = b->v[i];
        size_t j = i;
        while (j > 0 && label_name_cmp(&b->v[j - 1], &x) > 0) {
            b->v[j] = b->v[j - 1];
            j--;
        }
        b->v[j] = x;
    }
    for (size_t i = 1; i < b->n; i++)
        if (strcmp(b->v[i - 1].name, b->v[i].name) == 0)
            return flint_error(FLINT_EINVAL, "duplicate label name \"%s\"", b->v[i].name);
    return 0;
}

/* ---- interner ----------------------------------------------------------------
 * Open-addressing hash set of pointers into arena blocks; strings are never
 * freed before the table (the head rebuilds its table on restart). */

typedef struct sym_block {
    struct sym_block *next;
    size_t used, cap;
    char data[];
} sym_block;

struct symtab {
    pthread_mutex_t mu;
    const char **slots;
    uint64_t *hashes;
    size_t nslots, count, bytes;
    sym_block *blocks;
};

symtab *symtab_new(void) {
    symtab *t = fl_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nslots = 1024;
    t->slots = fl_calloc(t->nslots, sizeof *t->slots);
    t->hashes = fl_calloc(t->nslots, sizeof *t->hashes);
    if (!t->slots || !t->hashes) {
        fl_free(t->slots);
        fl_free(t->hashes);
        fl_free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void symtab_free(symtab *t) {
    if (!t) return;
    for (sym_block *b = t->blocks, *n; b; b = n) {
        n = b->next;
        fl_free(b);
    }
    fl_free(t->slots);
    fl_free(t->hashes);
    pthread_mutex_destroy(&t->mu);
    fl_free(t);
}

static int symtab_rehash(symtab *t) {
    size_t ns = t->nslots * 2;
    const char **slots = fl_calloc(ns, sizeof *slots);
    uint64_t *hashes = fl_calloc(ns, sizeof *hashes);
    if (!slots || !hashes) {
        fl_free(slots);
        fl_free(hashes);
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i]) continue;
        size_t j = t->hashes[i] & (ns - 1);
        while (slots[j]) j = (j + 1) & (ns - 1);
        slots[j] = t->slots[i];
        hashes[j] = t->hashes[i];
    }
    fl_free(t->slots);
    fl_free(t->hashes);
    t->slots = slots;
    t->hashes = hashes;
    t->nslots = ns;
    return 0;
}

static char *symtab_store(symtab *t, const char *s, size_t n) {
    sym_block *b = t->blocks;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 16384 ? n + 1 : 16384;
        sym_block *nb = fl_malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        /* keep the partially filled block in front if the new one is a
         * one-off for a huge string */
        if (b && cap > 16384) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            t->blocks = nb;
        }
        b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = 0;
    b->used += n + 1;
    t->bytes += n + 1;
    return p;
}

const char *symtab_intern(symtab *t, const char *s, size_t n) {
    uint64_t h = XXH3_64bits(s, n);
    pthread_mutex_lock(&t->mu);
    size_t mask = t->nslots - 1, i = h & mask;
    while (t->slots[i]) {
        if (t->hashes[i] == h && strncmp(t->slots[i], s, n) == 0 && t->slots[i][n] == 0) {
            const char *r = t->slots[i];
            pthread_mutex_unlock(&t->mu);
            return r;
        }
        i = (i + 1) & mask;
    }
    const char *r = NULL;
    if ((t->count + 1) * 4 > t->nslots * 3) {
        if (symtab_rehash(t)) goto out;
        mask = t->nslots - 1;
        i = h & mask;
        while (t->slots[i]) i = (i + 1) & mask;
    }
    char *p = symtab_store(t, s, n);
    if (!p) goto out;
    t->slots[i] = p;
    t->hashes[i] = h;
    t->count++;
    r = p;
out:
    pthread_mutex_unlock(&t->mu);
    return r;
}

size_t symtab_count(const symtab *t) { return t->count; }
size_t symtab_bytes(const symtab *t) { return t->bytes; }

/* ---- matchers --------------------------------------------------------------- */

/* Split a regex into literal alternatives if it has no metacharacters other
 * than top-level '|'. Returns 1 (alts set), 0 (not literal), or ENOMEM. */
static int split_literal_alts(matcher *m) {
    const char *p = m->value;
    for (const char *q = p; *q; q++)
        if (strchr(".^$*+?()[]{}\\", *q)) return 0;
    size_t n = 1;
    for (const char *q = p; *q; q++) n += *q == '|';
    m->alts = fl_calloc(n, sizeof(char *));
    if (!m->alts) return FLINT_ENOMEM;
    const char *start = p;
    for (size_t k = 0; k < n; k++) {
        const char *end = strchr(start, '|');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        m->alts[k] = fl_strndup(start, len);
        if (!m->alts[k]) return FLINT_ENOMEM;
        m->nalts = k + 1;
        start = end ? end + 1 : start + len;
    }
    return 1;
}

int matcher_init(matcher *m, match_type type, const char *name, const char *value) {
    memset(m, 0, sizeof *m);
    m->type = type;
    m->name = fl_strdup(name);
    m->value = fl_strdup(value);
    if (!m->name || !m->value) goto oom;
    if (type != MATCH_RE && type != MATCH_NRE) return 0;
    if (strcmp(value, ".*") == 0 || strcmp(value, ".+") == 0) return 0;
    int rc = split_literal_alts(m);
    if (rc < 0) goto oom;
    if (rc == 1) return 0;
    size_t vl = strlen(value);
    char *anchored = fl_malloc(vl + 8);
    if (!anchored) goto oom;
    memcpy(anchored, "^(?:", 4);
    memcpy(anchored + 4, value, vl);
    memcpy(anchored + 4 + vl, ")$", 3);
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)anchored, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY,
                                   &errcode, &erroff, NULL);
    fl_free(anchored);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        size_t off = erroff >= 4 ? erroff - 4 : 0;
        int r = flint_error(FLINT_EINVAL, "invalid regular expression \"%s\": %s at offset %zu", value,
                            (char *)msg, off);
        matcher_free(m);
        return r;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort */
    m->re = re;
    m->md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!m->md) goto oom;
    return 0;
oom:
    matcher_free(m);
    return FLINT_ENOMEM;
}

void matcher_free(matcher *m) {
    fl_free(m->name);
    fl_free(m->value);
    if (m->md) pcre2_match_data_free(m->md);
    if (m->re) pcre2_code_free(m->re);
    for (size_t i = 0; i < m->nalts; i++) fl_free(m->alts[i]);
    fl_free(m->alts);
    memset(m, 0, sizeof *m);
}

static bool regex_matches(const matcher *m, const char *v, size_t n) {
    if (m->alts) {
        for (size_t i = 0; i < m->nalts; i++)
            if (strlen(m->alts[i]) == n && memcmp(m->alts[i], v, n) == 0) return true;
        return false;
    }
    if (!m->re) {
        /* ".*" or ".+" */
        return m->value[1] == '*' || n > 0;
    }
    int rc = pcre2_match(m->re, (PCRE2_SPTR)v, n, 0, 0, m->md, NULL);
    return rc >= 0;
}

bool matcher_matches(const matcher *m, const char *value, size_t n) {
    switch (m->type) {
    case MATCH_EQ: return strlen(m->value) == n && memcmp(m->value, value, n) == 0;
    case MATCH_NEQ: return !(strlen(m->value) == n && memcmp(m->value, value, n) == 0);
    case MATCH_RE: return regex_matches(m, value, n);
    case MATCH_NRE: return !regex_matches(m, value, n);
    }
    return false;
}

bool matcher_matches_empty(const matcher *m) { return matcher_matches(m, "", 0); }

label *labels_dup(const label *v, size_t n) {
    size_t bytes = n * sizeof(label);
    for (size_t i = 0; i < n; i++) bytes += strlen(v[i].name) + strlen(v[i].value) + 2;
    label *out = fl_malloc(bytes ? bytes : 1);
    if (!out) return NULL;
    char *p = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(v[i].name) + 1, b = strlen(v[i].value) + 1;
        memcpy(p, v[i].name, a);
        out[i].name = p;
        p += a;
        memcpy(p, v[i].value, b);
        out[i].value = p;
        p += b;
    }
    return out;
}
