/*
 * relabel.c - compiling and applying relabel rules (see relabel.h), after
 * Prometheus' model/relabel: the same validation messages, the same
 * replace fast path, Go regexp.Expand's `$1` / `${1}` / `${name}` template
 * rules, and hashmod's md5 shard choice.
 *
 * PCRE2 allocates through fl_malloc (compile and match contexts), so the
 * fault-injection hook reaches it too.
 */
#include "scrape/relabel.h"
#include "scrape/md5.h"
#include "storage/alloc.h"
#include "storage/err.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_SEPARATOR ";"
#define DEFAULT_REGEX "(.*)"
#define DEFAULT_REPLACEMENT "$1"

static const char *const action_names[] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",           [RELABEL_DROP] = "drop",
    [RELABEL_KEEPEQUAL] = "keepequal", [RELABEL_DROPEQUAL] = "dropequal", [RELABEL_HASHMOD] = "hashmod",
    [RELABEL_LABELMAP] = "labelmap",   [RELABEL_LABELDROP] = "labeldrop", [RELABEL_LABELKEEP] = "labelkeep",
    [RELABEL_LOWERCASE] = "lowercase", [RELABEL_UPPERCASE] = "uppercase",
};
#define NACTIONS (sizeof action_names / sizeof action_names[0])

const char *relabel_action_name(relabel_action a) {
    return (size_t)a < NACTIONS ? action_names[a] : "unknown";
}

int relabel_action_parse(const char *s, relabel_action *out) {
    for (size_t i = 0; i < NACTIONS; i++) {
        if (strcasecmp(s, action_names[i]) == 0) {
            *out = (relabel_action)i;
            return 0;
        }
    }
    return flint_error(FLINT_EINVAL, "unknown relabel action \"%s\"", s);
}

/* ---- PCRE2 through fl_malloc ------------------------------------------------ */

static void *re_malloc(PCRE2_SIZE n, void *ud) {
    (void)ud;
    return fl_malloc(n);
}
static void re_free(void *p, void *ud) {
    (void)ud;
    fl_free(p);
}

/* ---- validation helpers --------------------------------------------------------- */

static bool is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Prometheus' relabelTargetLegacy, ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$:
 * a label name in which `$var` / `${var}` may stand for any part. */
static bool valid_target_template(const char *s) {
    size_t i = 0, n = strlen(s);
    if (n == 0) return false;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '$') {
            i++;
            if (i < n && s[i] == '{') {
                size_t start = ++i;
                while (i < n && is_word((unsigned char)s[i])) i++;
                if (i == start || i >= n || s[i] != '}') return false;
                i++;
            } else {
                size_t start = i;
                while (i < n && is_word((unsigned char)s[i])) i++;
                if (i == start) return false;
            }
        } else if (is_word(c)) {
            if (i == 0 && c >= '0' && c <= '9') return false;
            i++;
        } else {
            return false;
        }
    }
    return true;
}

static bool name_ok(const char *s) { return label_name_valid(s, strlen(s)); }

static int compile_regex(relabel_rule *r) {
    size_t pl = strlen(r->regex);
    char *anchored = fl_malloc(pl + 8);
    if (!anchored) return FLINT_ENOMEM;
    memcpy(anchored, "^(?:", 4);
    memcpy(anchored + 4, r->regex, pl);
    memcpy(anchored + 4 + pl, ")$", 3);
    pcre2_general_context *gctx = pcre2_general_context_create(re_malloc, re_free, NULL);
    pcre2_compile_context *cctx = gctx ? pcre2_compile_context_create(gctx) : NULL;
    if (!cctx) {
        pcre2_general_context_free(gctx);
        fl_free(anchored);
        return FLINT_ENOMEM;
    }
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)anchored, PCRE2_ZERO_TERMINATED,
                                   PCRE2_DOTALL | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &errcode, &erroff, cctx);
    pcre2_compile_context_free(cctx);
    pcre2_general_context_free(gctx);
    fl_free(anchored);
    if (!re) {
        if (errcode == PCRE2_ERROR_NOMEMORY || errcode == PCRE2_ERROR_HEAP_FAILED) return FLINT_ENOMEM;
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        size_t off = erroff >= 4 ? erroff - 4 : 0;
        if (off > pl) off = pl;
        return flint_error(FLINT_EINVAL, "error parsing regexp \"%s\": %s at offset %zu", r->regex, (char *)msg, off);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort; the interpreter is the fallback */
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    r->re = re;
    r->ovector_pairs = groups + 1;
    return 0;
}

/* relabel.Config.Validate, message for message. */
static int validate(const relabel_rule *r) {
    relabel_action a = r->action;
    const char *an = relabel_action_name(a);
    bool needs_target = a == RELABEL_REPLACE || a == RELABEL_HASHMOD || a == RELABEL_LOWERCASE ||
                        a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
    bool plain_target = a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL ||
                        a == RELABEL_DROPEQUAL;
    if (r->modulus == 0 && a == RELABEL_HASHMOD)
        return flint_error(FLINT_EINVAL, "relabel configuration for hashmod requires non-zero modulus");
    if (needs_target && r->target_label[0] == 0)
        return flint_error(FLINT_EINVAL, "relabel configuration for %s action requires 'target_label' value", an);
    bool has_var = strchr(r->target_label, '$') != NULL;
    if (a == RELABEL_REPLACE && ((!has_var && !name_ok(r->target_label)) ||
                                 (has_var && !valid_target_template(r->target_label))))
        return flint_error(FLINT_EINVAL, "\"%s\" is invalid 'target_label' for %s action", r->target_label, an);
    if (plain_target && !name_ok(r->target_label))
        return flint_error(FLINT_EINVAL, "\"%s\" is invalid 'target_label' for %s action", r->target_label, an);
    if (plain_target && strcmp(r->replacement, DEFAULT_REPLACEMENT) != 0)
        return flint_error(FLINT_EINVAL, "'replacement' can not be set for %s action", an);
    if (a == RELABEL_LABELMAP && !valid_target_template(r->replacement))
        return flint_error(FLINT_EINVAL, "\"%s\" is invalid 'replacement' for %s action", r->replacement, an);
    if (a == RELABEL_HASHMOD && !name_ok(r->target_label))
        return flint_error(FLINT_EINVAL, "\"%s\" is invalid 'target_label' for %s action", r->target_label, an);
    if ((a == RELABEL_DROPEQUAL || a == RELABEL_KEEPEQUAL) &&
        (r->regex_given || r->modulus != 0 || strcmp(r->separator, DEFAULT_SEPARATOR) != 0 ||
         strcmp(r->replacement, DEFAULT_REPLACEMENT) != 0))
        return flint_error(FLINT_EINVAL,
                           "%s action requires only 'source_labels' and `target_label`, and no other fields", an);
    if ((a == RELABEL_LABELDROP || a == RELABEL_LABELKEEP) &&
        (r->source_labels_given || r->target_label[0] != 0 || r->modulus != 0 ||
         strcmp(r->separator, DEFAULT_SEPARATOR) != 0 || strcmp(r->replacement, DEFAULT_REPLACEMENT) != 0))
        return flint_error(FLINT_EINVAL, "%s action requires only 'regex', and no other fields", an);
    return 0;
}

int relabel_rule_init(relabel_rule *r, const relabel_spec *spec) {
    memset(r, 0, sizeof *r);
    if ((size_t)spec->action >= NACTIONS) return flint_error(FLINT_EINVAL, "relabel action cannot be empty");
    for (size_t i = 0; i < spec->nsource_labels; i++)
        if (!name_ok(spec->source_labels[i]))
            return flint_error(FLINT_EINVAL, "\"%s\" is not a valid label name", spec->source_labels[i]);
    r->action = spec->action;
    r->source_labels_given = spec->source_labels_given || spec->nsource_labels > 0;
    r->regex_given = spec->regex != NULL;
    r->modulus = spec->modulus;
    r->separator = fl_strdup(spec->separator ? spec->separator : DEFAULT_SEPARATOR);
    r->regex = fl_strdup(spec->regex ? spec->regex : DEFAULT_REGEX);
    r->target_label = fl_strdup(spec->target_label ? spec->target_label : "");
    r->replacement = fl_strdup(spec->replacement ? spec->replacement : DEFAULT_REPLACEMENT);
    if (!r->separator || !r->regex || !r->target_label || !r->replacement) goto oom;
    if (spec->nsource_labels) {
        r->source_labels = fl_calloc(spec->nsource_labels, sizeof(char *));
        if (!r->source_labels) goto oom;
        for (size_t i = 0; i < spec->nsource_labels; i++) {
            r->source_labels[i] = fl_strdup(spec->source_labels[i]);
            if (!r->source_labels[i]) goto oom;
            r->nsource_labels = i + 1;
        }
    }
    /* Prometheus compiles the regex while unmarshalling, before Validate */
    int rc = compile_regex(r);
    if (rc == 0) rc = validate(r);
    if (rc) {
        relabel_rule_free(r);
        return rc;
    }
    return 0;
oom:
    relabel_rule_free(r);
    return FLINT_ENOMEM;
}

void relabel_rule_free(relabel_rule *r) {
    for (size_t i = 0; i < r->nsource_labels; i++) fl_free(r->source_labels[i]);
    fl_free(r->source_labels);
    fl_free(r->separator);
    fl_free(r->regex);
    fl_free(r->target_label);
    fl_free(r->replacement);
    if (r->re) pcre2_code_free(r->re);
    memset(r, 0, sizeof *r);
}

bool relabel_rule_equal(const relabel_rule *a, const relabel_rule *b) {
    if (a->action != b->action || a->nsource_labels != b->nsource_labels ||
        a->source_labels_given != b->source_labels_given || a->regex_given != b->regex_given ||
        a->modulus != b->modulus)
        return false;
    for (size_t i = 0; i < a->nsource_labels; i++)
        if (strcmp(a->source_labels[i], b->source_labels[i]) != 0) return false;
    return strcmp(a->separator, b->separator) == 0 && strcmp(a->regex, b->regex) == 0 &&
           strcmp(a->target_label, b->target_label) == 0 && strcmp(a->replacement, b->replacement) == 0;
}

/* ---- scratch ------------------------------------------------------------------ */

void relabel_scratch_init(relabel_scratch *s) {
    memset(s, 0, sizeof *s);
    scrape_arena_init(&s->arena);
}

void relabel_scratch_reset(relabel_scratch *s) { scrape_arena_reset(&s->arena); }

void relabel_scratch_free(relabel_scratch *s) {
    scrape_arena_free(&s->arena);
    if (s->match_data) pcre2_match_data_free(s->match_data);
    fl_free(s->join);
    fl_free(s->expand);
    fl_free(s->snapshot);
    relabel_scratch_init(s);
}

static int ensure_match_data(relabel_scratch *s, uint32_t pairs) {
    if (s->match_data && s->match_pairs >= pairs) return 0;
    if (pairs < 16) pairs = 16;
    pcre2_general_context *gctx = pcre2_general_context_create(re_malloc, re_free, NULL);
    if (!gctx) return FLINT_ENOMEM;
    pcre2_match_data *md = pcre2_match_data_create(pairs, gctx);
    pcre2_general_context_free(gctx);
    if (!md) return FLINT_ENOMEM;
    if (s->match_data) pcre2_match_data_free(s->match_data);
    s->match_data = md;
    s->match_pairs = pairs;
    return 0;
}

/* Byte buffer append for the join/expand buffers. */
typedef struct sbuf {
    char **p;
    size_t *cap;
    size_t len;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n) {
    if (fl_grow((void **)b->p, b->cap, b->len + n + 1, 1)) return FLINT_ENOMEM;
    if (n) memcpy(*b->p + b->len, s, n);
    b->len += n;
    (*b->p)[b->len] = 0;
    return 0;
}

const char *relabel_lb_get(const labels_builder *lb, const char *name) {
    for (size_t i = 0; i < lb->n; i++)
        if (strcmp(lb->v[i].name, name) == 0) return lb->v[i].value;
    return NULL;
}

/* Match the whole subject; returns >0 on a match (the number of ovector
 * pairs set, in s->match_data), 0 on no match, FLINT_ENOMEM. Invalid UTF-8
 * in the subject counts as no match. */
static int re_match(const relabel_rule *r, relabel_scratch *s, const char *subj, size_t n) {
    int rc = pcre2_match(r->re, (PCRE2_SPTR)subj, n, 0, 0, s->match_data, NULL);
    if (rc == PCRE2_ERROR_NOMEMORY) return FLINT_ENOMEM;
    return rc > 0 ? rc : 0;
}

/* Go's regexp extract(): the name after `$` (optionally in braces), and its
 * number when it is a plain decimal without leading zeros (< 1e8). Letters
 * beyond ASCII count as name characters (Go uses unicode.IsLetter). */
static bool tmpl_extract(const char *t, size_t n, size_t *name_off, size_t *name_len, long *num, size_t *consumed) {
    size_t i = 0;
    bool brace = false;
    if (n == 0) return false;
    if (t[0] == '{') {
        brace = true;
        i = 1;
    }
    size_t start = i;
    while (i < n && (is_word((unsigned char)t[i]) || (unsigned char)t[i] >= 0x80)) i++;
    if (i == start) return false;
    size_t end = i;
    if (brace) {
        if (i >= n || t[i] != '}') return false;
        i++;
    }
    long v = 0;
    for (size_t k = start; k < end; k++) {
        if (t[k] < '0' || t[k] > '9' || v >= 100000000) {
            v = -1;
            break;
        }
        v = v * 10 + (t[k] - '0');
    }
    if (t[start] == '0' && end - start > 1) v = -1;
    *name_off = start;
    *name_len = end - start;
    *num = v;
    *consumed = i;
    return true;
}

/* Go's Regexp.ExpandString: `$$` is `$`, `$name`/`${name}` is the group's
 * text (empty when absent or unset), a malformed `$` is literal. */
static int expand(const relabel_rule *r, relabel_scratch *s, const char *tmpl, const char *subj, int ngroups,
                  sbuf *out) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer((pcre2_match_data *)s->match_data);
    size_t n = strlen(tmpl), i = 0;
    while (i < n) {
        const char *dollar = memchr(tmpl + i, '$', n - i);
        if (!dollar) return sb_put(out, tmpl + i, n - i);
        size_t d = (size_t)(dollar - tmpl);
        if (sb_put(out, tmpl + i, d - i)) return FLINT_ENOMEM;
        i = d + 1;
        if (i < n && tmpl[i] == '$') {
            if (sb_put(out, "$", 1)) return FLINT_ENOMEM;
            i++;
            continue;
        }
        size_t no, nl, used;
        long num;
        if (!tmpl_extract(tmpl + i, n - i, &no, &nl, &num, &used)) {
            if (sb_put(out, "$", 1)) return FLINT_ENOMEM;
            continue;
        }
        long group = num;
        if (group < 0) {
            char name[256];
            if (nl < sizeof name) {
                memcpy(name, tmpl + i + no, nl);
                name[nl] = 0;
                int g = pcre2_substring_number_from_name(r->re, (PCRE2_SPTR)name);
                group = g > 0 ? g : -1;
            }
        }
        i += used;
        if (group >= 0 && group < ngroups && ov[2 * group] != PCRE2_UNSET) {
            if (sb_put(out, subj + ov[2 * group], ov[2 * group + 1] - ov[2 * group])) return FLINT_ENOMEM;
        }
    }
    return 0;
}

static const char *arena_copy(relabel_scratch *s, const char *p, size_t n) {
    return scrape_arena_strndup(&s->arena, p, n);
}

/* Case mapping for ASCII, Latin-1, Greek and Cyrillic (the same byte length
 * in both cases); other characters are copied unchanged. */
static const char *change_case(relabel_scratch *s, const char *v, size_t n, bool upper) {
    char *o = scrape_arena_strndup(&s->arena, v, n);
    if (!o) return NULL;
    unsigned char *u = (unsigned char *)o;
    for (size_t i = 0; i < n; i++) {
        unsigned c = u[i];
        if (c < 0x80) {
            if (upper && c >= 'a' && c <= 'z') u[i] = (unsigned char)(c - 32);
            if (!upper && c >= 'A' && c <= 'Z') u[i] = (unsigned char)(c + 32);
            continue;
        }
        if (i + 1 >= n || (c & 0xe0) != 0xc0 || (u[i + 1] & 0xc0) != 0x80) continue;
        unsigned cp = (c & 0x1f) << 6 | (u[i + 1] & 0x3f), m = cp;
        if (upper) {
            if ((cp >= 0xe0 && cp <= 0xfe && cp != 0xf7) || (cp >= 0x3b1 && cp <= 0x3c9 && cp != 0x3c2) ||
                (cp >= 0x430 && cp <= 0x44f))
                m = cp - 0x20;
            else if (cp >= 0x450 && cp <= 0x45f)
                m = cp - 0x50;
        } else {
            if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) ||
                (cp >= 0x410 && cp <= 0x42f))
                m = cp + 0x20;
            else if (cp >= 0x400 && cp <= 0x40f)
                m = cp + 0x50;
        }
        u[i] = (unsigned char)(0xc0 | m >> 6);
        u[i + 1] = (unsigned char)(0x80 | (m & 0x3f));
        i++;
    }
    return o;
}

static int snapshot(labels_builder *lb, relabel_scratch *s) {
    if (fl_grow((void **)&s->snapshot, &s->snapshot_cap, lb->n ? lb->n : 1, sizeof(label))) return FLINT_ENOMEM;
    if (lb->n) memcpy(s->snapshot, lb->v, lb->n * sizeof(label));
    return 0;
}

static int set_label(labels_builder *lb, const char *name, const char *value) {
    return lb_set(lb, name, value);
}

static int relabel_one(const relabel_rule *r, labels_builder *lb, relabel_scratch *s, bool *keep) {
    sbuf join = {&s->join, &s->join_cap, 0};
    if (sb_put(&join, "", 0)) return FLINT_ENOMEM;
    for (size_t i = 0; i < r->nsource_labels; i++) {
        const char *v = relabel_lb_get(lb, r->source_labels[i]);
        if (i && sb_put(&join, r->separator, strlen(r->separator))) return FLINT_ENOMEM;
        if (v && sb_put(&join, v, strlen(v))) return FLINT_ENOMEM;
    }
    const char *val = s->join;
    size_t vlen = join.len;
    if (ensure_match_data(s, r->ovector_pairs)) return FLINT_ENOMEM;

    switch (r->action) {
    case RELABEL_DROP:
    case RELABEL_KEEP: {
        int m = re_match(r, s, val, vlen);
        if (m < 0) return m;
        if ((m > 0) == (r->action == RELABEL_DROP)) *keep = false;
        return 0;
    }
    case RELABEL_DROPEQUAL:
    case RELABEL_KEEPEQUAL: {
        const char *t = relabel_lb_get(lb, r->target_label);
        bool eq = strcmp(t ? t : "", val) == 0 && strlen(val) == vlen;
        if (eq == (r->action == RELABEL_DROPEQUAL)) *keep = false;
        return 0;
    }
    case RELABEL_REPLACE: {
        if (vlen == 0 && !r->regex_given && !strchr(r->target_label, '$') && !strchr(r->replacement, '$')) {
            const char *v = arena_copy(s, r->replacement, strlen(r->replacement));
            const char *t = arena_copy(s, r->target_label, strlen(r->target_label));
            if (!v || !t) return FLINT_ENOMEM;
            return set_label(lb, t, v);
        }
        int ng = re_match(r, s, val, vlen);
        if (ng <= 0) return ng;
        sbuf out = {&s->expand, &s->expand_cap, 0};
        if (expand(r, s, r->target_label, val, ng, &out)) return FLINT_ENOMEM;
        if (!label_name_valid(out.len ? s->expand : "", out.len)) return 0;
        const char *target = arena_copy(s, s->expand, out.len);
        if (!target) return FLINT_ENOMEM;
        out.len = 0;
        if (sb_put(&out, "", 0) || expand(r, s, r->replacement, val, ng, &out)) return FLINT_ENOMEM;
        if (out.len == 0) {
            lb_del(lb, target);
            return 0;
        }
        const char *res = arena_copy(s, s->expand, out.len);
        if (!res) return FLINT_ENOMEM;
        return set_label(lb, target, res);
    }
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE: {
        const char *v = change_case(s, val, vlen, r->action == RELABEL_UPPERCASE);
        const char *t = arena_copy(s, r->target_label, strlen(r->target_label));
        if (!v || !t) return FLINT_ENOMEM;
        return set_label(lb, t, v);
    }
    case RELABEL_HASHMOD: {
        uint8_t d[16];
        scrape_md5(val, vlen, d);
        uint64_t h = 0;
        for (int i = 8; i < 16; i++) h = h << 8 | d[i];
        char num[24];
        int len = snprintf(num, sizeof num, "%llu", (unsigned long long)(h % r->modulus));
        const char *v = arena_copy(s, num, (size_t)len);
        const char *t = arena_copy(s, r->target_label, strlen(r->target_label));
        if (!v || !t) return FLINT_ENOMEM;
        return set_label(lb, t, v);
    }
    case RELABEL_LABELMAP:
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP: {
        /* Like labels.Builder.Range: iterate over the labels as they were
         * before this rule, while the rule changes the builder. */
        if (snapshot(lb, s)) return FLINT_ENOMEM;
        size_t n = lb->n;
        for (size_t i = 0; i < n; i++) {
            label l = s->snapshot[i];
            int ng = re_match(r, s, l.name, strlen(l.name));
            if (ng < 0) return ng;
            if (r->action == RELABEL_LABELDROP) {
                if (ng) lb_del(lb, l.name);
            } else if (r->action == RELABEL_LABELKEEP) {
                if (!ng) lb_del(lb, l.name);
            } else if (ng) {
                sbuf out = {&s->expand, &s->expand_cap, 0};
                if (sb_put(&out, "", 0) || expand(r, s, r->replacement, l.name, ng, &out)) return FLINT_ENOMEM;
                const char *name = arena_copy(s, s->expand, out.len);
                if (!name || set_label(lb, name, l.value)) return FLINT_ENOMEM;
            }
        }
        return 0;
    }
    }
    return 0;
}

int relabel_process(const relabel_rule *rules, size_t n, labels_builder *lb, relabel_scratch *s, bool *keep) {
    *keep = true;
    for (size_t i = 0; i < n; i++) {
        int rc = relabel_one(&rules[i], lb, s, keep);
        if (rc) return rc;
        if (!*keep) return 0;
    }
    return 0;
}
