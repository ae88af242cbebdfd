/*
 * expo_parse.c - the exposition parser: lines, metadata, metric families, label
 * sets, errors (the token recognisers are in expo.re, numbers in
 * expo_num.c). See expo.h for the interface.
 *
 * The grammar is Prometheus' (model/textparse/promlex.l, openmetricslex.l
 * and the parsers over them), line by line:
 *
 *   text:  [ \t]* name [ \t]* ['{' labels '}'] [ \t]* value [[ \t]+ int-ms] [ \t]* '\n'
 *          [ \t]* '#' [ \t]+ ('HELP'|'TYPE') [ \t]+ name [ \t] text '\n'
 *          other '#' lines and blank lines are skipped; the last line may
 *          lack its '\n'. Spaces may separate any two tokens, commas
 *          between labels are optional and may trail.
 *   OM:    name ['{' labels '}'] ' ' value [' ' seconds] [' # {' labels '} ' value [' ' seconds]] '\n'
 *          '# ' ('HELP'|'TYPE'|'UNIT') ' ' name ' ' text '\n'
 *          '# EOF' ['\n'] and then nothing. No blank lines, no comments,
 *          exactly one space between tokens; a trailing comma is allowed
 *          in label sets (Prometheus allows it).
 *   both:  a label set may hold the metric name as a quoted string
 *          ({"my.metric", a="b"}) and quoted label names ({"a.b"="c"}).
 *
 * Repeated series: a sample line that starts with the previous sample's
 * raw series bytes, followed by the blank before the value, with no
 * metadata line in between, has the previous name, labels and type; only
 * its value, timestamp and exemplar are parsed (one memcmp instead of the
 * label work). Backfill files hold each series' samples in a row, so this
 * carries almost every line there.
 *
 * Where flint is stricter than Prometheus (the errors are still Prometheus'
 * sentences where one exists):
 *   - label values, quoted names and metric names may not contain NUL bytes
 *     (flint's strings are C strings); Prometheus keeps them;
 *   - quoted names must be valid UTF-8 and non-empty, and may not hold a
 *     raw line break; duplicate label names (including `__name__`) are an
 *     error here, not later;
 *   - text format: a NUL byte at a line start is an error (Prometheus stops
 *     as if the input ended); a HELP/TYPE name must be followed by a space
 *     or the end of the line (Prometheus drops one character);
 *   - OpenMetrics: HELP/TYPE/UNIT for a family after its samples, and a
 *     second HELP/TYPE/UNIT line for it, are errors (the spec forbids them;
 *     Prometheus accepts them); "a 1 \n" (space, no timestamp) is an error;
 *   - OpenMetrics timestamps are converted from their digits, so
 *     1700000000.123 is 1700000000123 ms; Prometheus computes
 *     int64(float * 1000), which can be 1 ms less.
 *   - a sample's type is its family's only when its name belongs to the
 *     family (expo.h); Prometheus keeps the last TYPE for any name;
 *   - `le`/`quantile` values in Go-only float syntax (hex "0x1p-3") are
 *     kept as they are; Prometheus normalises them.
 */
#include "scrape/expo.h"
#include "scrape/expo_int.h"
#include "storage/alloc.h"
#include "storage/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SEEN_HELP = 1, SEEN_TYPE = 2, SEEN_UNIT = 4, SEEN_SAMPLES = 8, FAM_SET = 16 };
enum { SKIP = 100 }; /* internal: line consumed, nothing to return */
enum { ESC_NONE, ESC_LVAL, ESC_HELP };

static const char *const type_names[] = {"unknown", "counter", "gauge", "histogram",
                                         "gaugehistogram", "summary", "info", "stateset"};

const char *expo_type_name(expo_type t) {
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "unknown";
}

/* ---- lifecycle ------------------------------------------------------------ */

void expo_parser_init(expo_parser *p, expo_format format, const char *buf, size_t len) {
    memset(p, 0, sizeof *p);
    expo_parser_reset(p, format, buf, len);
}

void expo_parser_reset(expo_parser *p, expo_format format, const char *buf, size_t len) {
    p->buf = p->cur = p->entry = p->line_pos = buf;
    p->end = buf + len;
    p->format = format;
    p->status = 0;
    p->line_no = 1;
    p->prev = NULL;
    p->prev_len = 0;
    p->prev_braces = false;
    p->fam.len = 0;
    p->fam_type = EXPO_UNKNOWN;
    p->fam_seen = 0;
    p->st_valid = p->st_cur_valid = false;
    p->st_stop = NULL;
    p->err[0] = 0;
    p->err_off = p->err_line = 0;
    memset(&p->sample, 0, sizeof p->sample);
    memset(&p->meta, 0, sizeof p->meta);
}

void expo_parser_set_flags(expo_parser *p, unsigned flags) { p->flags = flags; }

void expo_parser_free(expo_parser *p) {
    fl_free(p->fam.data);
    fl_free(p->sstr.data);
    fl_free(p->xstr.data);
    fl_free(p->mstr.data);
    fl_free(p->soff);
    fl_free(p->slab);
    fl_free(p->xlab);
    fl_free(p->st_cur.data);
    fl_free(p->st_key.data);
    fl_free(p->st_stop_key.data);
    if (p->peek) {
        expo_parser_free(p->peek);
        fl_free(p->peek);
    }
    const char *buf = p->buf, *end = p->end;
    expo_format f = p->format;
    memset(p, 0, sizeof *p);
    p->buf = p->cur = p->entry = p->line_pos = buf;
    p->end = end;
    p->format = f;
    p->line_no = 1;
}

const expo_sample *expo_sample_at(const expo_parser *p) { return &p->sample; }
const expo_meta *expo_meta_at(const expo_parser *p) { return &p->meta; }
const char *expo_error(const expo_parser *p) { return p->err; }
size_t expo_error_line(const expo_parser *p) { return p->err_line; }
size_t expo_error_offset(const expo_parser *p) { return p->err_off; }

/* ---- scratch strings ---------------------------------------------------- */

static int scratch_reserve(expo_scratch *b, size_t extra) {
    if (b->cap - b->len >= extra) return 0;
    if (extra > ((size_t)-1 >> 2) - b->len) return FLINT_ENOMEM;
    size_t nc = b->cap ? b->cap : 256;
    while (nc - b->len < extra) nc *= 2;
    char *nd = fl_realloc(b->data, nc);
    if (!nd) return FLINT_ENOMEM;
    b->data = nd;
    b->cap = nc;
    return 0;
}

/* Append s[0..n) with the escapes of `mode` decoded, then a NUL; *off is
 * where it starts. Decoding follows Go's strings.Replacer: left to right,
 * `\\` `\"` `\n` (ESC_LVAL) or `\\` `\n` (ESC_HELP); any other backslash
 * stays as it is. */
static int put_str(expo_scratch *b, const char *s, size_t n, int mode, size_t *off) {
    if (scratch_reserve(b, n + 1)) return FLINT_ENOMEM;
    char *d = b->data + b->len;
    *off = b->len;
    const char *bs = mode == ESC_NONE ? NULL : memchr(s, '\\', n);
    if (!bs) {
        memcpy(d, s, n);
        d[n] = 0;
        b->len += n + 1;
        return 0;
    }
    size_t k = (size_t)(bs - s);
    memcpy(d, s, k);
    for (size_t i = k; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == '\\' || e == 'n' || (e == '"' && mode == ESC_LVAL)) {
                d[k++] = e == 'n' ? '\n' : e;
                i++;
                continue;
            }
        }
        d[k++] = c;
    }
    d[k] = 0;
    b->len += k + 1;
    return 0;
}

/* ---- errors ----------------------------------------------------------------- */

static size_t line_at(expo_parser *p, const char *at) {
    if (at < p->line_pos) {
        p->line_pos = p->buf;
        p->line_no = 1;
    }
    const char *s = p->line_pos;
    size_t n = p->line_no;
    while (s < at) {
        const char *nl = memchr(s, '\n', (size_t)(at - s));
        if (!nl) break;
        n++;
        s = nl + 1;
    }
    p->line_pos = at;
    p->line_no = n;
    return n;
}

size_t expo_line(expo_parser *p) { return line_at(p, p->entry); }

size_t expo_offset(const expo_parser *p) { return (size_t)(p->cur - p->buf); }

/* Go-%q-like quoting of s[0..n) into out (cap > 8), shortened with "...". */
static void quote(char *out, size_t cap, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[5];
        size_t en = 0;
        if (c == '"' || c == '\\') e[en++] = '\\', e[en++] = (char)c;
        else if (c == '\n') e[en++] = '\\', e[en++] = 'n';
        else if (c == '\t') e[en++] = '\\', e[en++] = 't';
        else if (c == '\r') e[en++] = '\\', e[en++] = 'r';
        else if (c < 0x20 || c >= 0x7f) e[en++] = '\\', e[en++] = 'x', e[en++] = hex[c >> 4], e[en++] = hex[c & 15];
        else e[en++] = (char)c;
        if (k + en + 5 > cap) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        memcpy(out + k, e, en);
        k += en;
    }
    out[k++] = '"';
    out[k] = 0;
}

/* What a "got ..." names: the token at `at` - the run up to the next
 * separator, at least one byte - or the end of input. */
static void describe(char *out, size_t cap, const char *at, const char *end) {
    if (at >= end) {
        snprintf(out, cap, "end of input");
        return;
    }
    const char *e = at + 1;
    if (*at != '\n')
        while (e < end && e - at < 24 && !strchr(" \t\n,={}\"", *e) && *e) e++;
    quote(out, cap, at, (size_t)(e - at));
}

__attribute__((format(printf, 3, 4))) static int fail(expo_parser *p, const char *at, const char *fmt, ...) {
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (at > p->end) at = p->end;
    p->err_off = (size_t)(at - p->buf);
    p->err_line = line_at(p, at);
    /* a CR where a line should end is the usual cause of a strange token */
    const char *cr = at < p->end ? memchr(at, '\r', (size_t)(p->end - at) < 64 ? (size_t)(p->end - at) : 64) : NULL;
    const char *nl = at < p->end ? memchr(at, '\n', (size_t)(p->end - at)) : NULL;
    bool crlf = cr && (!nl || cr < nl);
    snprintf(p->err, sizeof p->err, "line %zu: %s%s", p->err_line, reason,
             crlf ? " (CRLF line endings are not allowed)" : "");
    p->status = FLINT_EINVAL;
    return flint_error(FLINT_EINVAL, "%s", p->err);
}

static int fail_got(expo_parser *p, const char *at, const char *expected) {
    char got[80];
    describe(got, sizeof got, at, p->end);
    return fail(p, at, "%s, got %s", expected, got);
}

static int oom(expo_parser *p) {
    p->status = FLINT_ENOMEM;
    snprintf(p->err, sizeof p->err, "line %zu: out of memory", line_at(p, p->entry));
    return flint_error(FLINT_ENOMEM, "%s", p->err);
}

/* A quoted string at q (q[0] == '"') that the lexer refused: say why. */
static int fail_quoted(expo_parser *p, const char *q, bool allow_lf, const char *what) {
    const char *end = p->end;
    for (const char *s = q + 1; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0) return fail(p, s, "%s contains a NUL byte", what);
        if (c == '\n' && !allow_lf) break;
        if (c == '\\') {
            if (s + 1 >= end || s[1] == '\n') break;
            if (s[1] == 0) return fail(p, s + 1, "%s contains a NUL byte", what);
            s++;
            continue;
        }
        if (c == '"') {
            char qs[80];
            quote(qs, sizeof qs, q, (size_t)(s + 1 - q));
            return fail(p, q, "invalid UTF-8 %s: %s", what, qs);
        }
    }
    char got[80];
    describe(got, sizeof got, q, end);
    return fail(p, q, "expected %s, got %s", what, got);
}

/* ---- small helpers --------------------------------------------------------- */

static bool text_is_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) len = 3, lo = 0xA0;
        else if (c == 0xED) len = 3, hi = 0x9F;
        else if (c >= 0xE1 && c <= 0xEF) len = 3;
        else if (c == 0xF0) len = 4, lo = 0x90;
        else if (c == 0xF4) len = 4, hi = 0x8F;
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else return false;
        if (i + len > n) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t j = 2; j < len; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xBF) return false;
        i += len;
    }
    return true;
}

static const char *skip_ws(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    return s;
}

static bool is_name_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool suffix_is(const char *s, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n == k && memcmp(s, suf, k) == 0;
}

static int parse_type_word(const char *s, size_t n, expo_format f, expo_type *t) {
    static const struct {
        const char *w;
        expo_type t;
        bool text, om;
    } words[] = {
        {"counter", EXPO_COUNTER, true, true},     {"gauge", EXPO_GAUGE, true, true},
        {"histogram", EXPO_HISTOGRAM, true, true}, {"summary", EXPO_SUMMARY, true, true},
        {"untyped", EXPO_UNKNOWN, true, false},    {"unknown", EXPO_UNKNOWN, false, true},
        {"gaugehistogram", EXPO_GAUGEHISTOGRAM, false, true},
        {"info", EXPO_INFO, false, true},          {"stateset", EXPO_STATESET, false, true},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (!(f == EXPO_TEXT ? words[i].text : words[i].om)) continue;
        if (strlen(words[i].w) == n && memcmp(words[i].w, s, n) == 0) {
            *t = words[i].t;
            return 0;
        }
    }
    return -1;
}

/* ---- metric families ---------------------------------------------------- */

/* Does a sample named name[0..n) belong to the current family? Sets
 * *created for OpenMetrics `_created` of counter/histogram/summary. */
static bool family_member(const expo_parser *p, const char *name, size_t n, bool *created) {
    *created = false;
    if (!(p->fam_seen & FAM_SET)) return false;
    size_t fl = p->fam.len;
    if (n < fl || memcmp(name, p->fam.data, fl) != 0) return false;
    const char *suf = name + fl;
    size_t sl = n - fl;
    if (sl == 0) return true;
    bool created_ok = false;
    switch (p->fam_type) {
    case EXPO_COUNTER:
        if (suffix_is(suf, sl, "_total")) return true;
        created_ok = true;
        break;
    case EXPO_HISTOGRAM:
        if (suffix_is(suf, sl, "_bucket") || suffix_is(suf, sl, "_count") || suffix_is(suf, sl, "_sum"))
            return true;
        created_ok = true;
        break;
    case EXPO_GAUGEHISTOGRAM:
        return suffix_is(suf, sl, "_bucket") || suffix_is(suf, sl, "_gcount") || suffix_is(suf, sl, "_gsum");
    case EXPO_SUMMARY:
        if (suffix_is(suf, sl, "_count") || suffix_is(suf, sl, "_sum")) return true;
        created_ok = true;
        break;
    case EXPO_INFO:
        return suffix_is(suf, sl, "_info");
    default:
        return false;
    }
    if (created_ok && suffix_is(suf, sl, "_created")) {
        *created = p->format == EXPO_OPENMETRICS;
        return true;
    }
    return false;
}

static int family_set(expo_parser *p, const char *name, size_t n) {
    p->fam.len = 0;
    if (scratch_reserve(&p->fam, n + 1)) return FLINT_ENOMEM;
    memcpy(p->fam.data, name, n);
    p->fam.data[n] = 0;
    p->fam.len = n;
    p->fam_type = EXPO_UNKNOWN;
    p->fam_seen = FAM_SET;
    return 0;
}

/* A HELP/TYPE/UNIT line for name[0..n): enter (or stay in) its family. */
static int family_meta(expo_parser *p, const char *line, int kind, const char *name, size_t n) {
    static const char *const kinds[] = {"", "", "HELP", "TYPE", "UNIT"};
    unsigned bit = kind == EXPO_HELP ? SEEN_HELP : kind == EXPO_TYPE ? SEEN_TYPE : SEEN_UNIT;
    bool same = (p->fam_seen & FAM_SET) && p->fam.len == n && memcmp(p->fam.data, name, n) == 0;
    if (same && p->format == EXPO_OPENMETRICS) {
        char q[80];
        quote(q, sizeof q, name, n);
        if (p->fam_seen & SEEN_SAMPLES)
            return fail(p, line, "%s line for metric family %s after its samples", kinds[kind], q);
        if (p->fam_seen & bit) return fail(p, line, "second %s line for metric family %s", kinds[kind], q);
    }
    if (!same && family_set(p, name, n)) return oom(p);
    p->fam_seen |= bit;
    p->prev_len = 0; /* the next sample's type may differ from the last one's */
    return 0;
}

/* ---- metadata lines --------------------------------------------------------- */

/* s: the metric name after "# HELP " etc.; kind: EXPO_HELP/TYPE/UNIT. */
static int parse_meta(expo_parser *p, const char *line, const char *s, int kind) {
    static const char *const kinds[] = {"", "", "HELP", "TYPE", "UNIT"};
    const char *end = p->end;
    bool om = p->format == EXPO_OPENMETRICS;
    const char *ne;
    expo_meta *m = &p->meta;
    p->mstr.len = 0;
    size_t name_off = 0, name_len;
    bool name_scratch = false;
    char what[40];
    if (s < end && *s == '"') {
        ne = expo__scan_quoted(s, end);
        if (!ne) {
            snprintf(what, sizeof what, "metric name after %s", kinds[kind]);
            return fail_quoted(p, s, false, what);
        }
        if (put_str(&p->mstr, s + 1, (size_t)(ne - s - 2), ESC_LVAL, &name_off)) return oom(p);
        name_len = strlen(p->mstr.data + name_off);
        name_scratch = true;
        if (name_len == 0) return fail(p, s, "empty metric name after %s", kinds[kind]);
    } else {
        ne = expo__scan_metric_name(s, end);
        if (ne == s) {
            snprintf(what, sizeof what, "expected metric name after %s", kinds[kind]);
            return fail_got(p, s, what);
        }
        name_len = (size_t)(ne - s);
    }
    /* the text: OM: ' ' text '\n'; text format: rest of the line, less the
     * one blank that separates it (all blanks: empty text) */
    const char *eol = memchr(ne, '\n', (size_t)(end - ne));
    const char *te = eol ? eol : end, *ts;
    if (om) {
        if (!eol || ne >= end || *ne != ' ') return fail(p, ne, "expected text in %s", kinds[kind]);
        ts = ne + 1;
    } else if (ne == te || skip_ws(ne, te) == te) {
        ts = te;
    } else if (*ne == ' ' || *ne == '\t') {
        ts = ne + 1;
    } else {
        return fail_got(p, ne, "expected a blank after the metric name");
    }
    size_t tn = (size_t)(te - ts);
    m->type = EXPO_UNKNOWN;
    switch (kind) {
    case EXPO_HELP: {
        if (!text_is_utf8((const unsigned char *)ts, tn)) {
            char q[80];
            quote(q, sizeof q, ts, tn);
            return fail(p, ts, "help text %s is not valid UTF-8", q);
        }
        if (memchr(ts, '\\', tn)) {
            size_t off;
            if (put_str(&p->mstr, ts, tn, om ? ESC_LVAL : ESC_HELP, &off)) return oom(p);
            m->text = p->mstr.data + off;
            m->text_len = p->mstr.len - 1 - off;
        } else {
            m->text = ts;
            m->text_len = tn;
        }
        break;
    }
    case EXPO_TYPE:
        if (parse_type_word(ts, tn, p->format, &m->type)) {
            char q[80];
            quote(q, sizeof q, ts, tn);
            return fail(p, ts, "invalid metric type %s", q);
        }
        m->text = ts;
        m->text_len = tn;
        break;
    case EXPO_UNIT:
        m->text = ts;
        m->text_len = tn;
        break;
    }
    m->name = name_scratch ? p->mstr.data + name_off : s;
    m->name_len = name_len;
    if (kind == EXPO_UNIT && tn > 0) {
        const char *nm = m->name;
        if (name_len < tn + 1 || memcmp(nm + name_len - tn, ts, tn) != 0 || nm[name_len - tn - 1] != '_') {
            char qu[80], qn[80];
            quote(qu, sizeof qu, ts, tn);
            quote(qn, sizeof qn, nm, name_len);
            return fail(p, ts, "unit %s not a suffix of metric %s", qu, qn);
        }
    }
    int r = family_meta(p, line, kind, m->name, name_len);
    if (r) return r;
    if (kind == EXPO_TYPE) p->fam_type = m->type;
    p->cur = eol ? eol + 1 : end;
    return kind;
}

/* A line starting with '#' at s. */
static int parse_comment(expo_parser *p, const char *line, const char *s) {
    const char *end = p->end;
    size_t left = (size_t)(end - s);
    if (p->format == EXPO_OPENMETRICS) {
        if (left >= 7 && s[1] == ' ' && s[6] == ' ') {
            if (!memcmp(s + 2, "HELP", 4)) return parse_meta(p, line, s + 7, EXPO_HELP);
            if (!memcmp(s + 2, "TYPE", 4)) return parse_meta(p, line, s + 7, EXPO_TYPE);
            if (!memcmp(s + 2, "UNIT", 4)) return parse_meta(p, line, s + 7, EXPO_UNIT);
        }
        if (left >= 5 && !memcmp(s, "# EOF", 5)) {
            const char *t = s + 5;
            if (t < end && *t == '\n') t++;
            if (t != end) return fail(p, t, "unexpected data after # EOF");
            p->cur = end;
            p->status = 1;
            return EXPO_EOF;
        }
        const char *e = s + 1;
        while (e < end && e - s < 8 && *e != '\n') e++;
        char got[80];
        quote(got, sizeof got, s, (size_t)(e - s));
        return fail(p, s, "expected a valid start token, got %s", got);
    }
    /* text: '#' [ \t]+ (HELP|TYPE) [ \t]+ is metadata, anything else a comment */
    const char *t = s + 1;
    if (t < end && (*t == ' ' || *t == '\t')) {
        t = skip_ws(t, end);
        if ((size_t)(end - t) > 4 && (t[4] == ' ' || t[4] == '\t')) {
            int kind = !memcmp(t, "HELP", 4) ? EXPO_HELP : !memcmp(t, "TYPE", 4) ? EXPO_TYPE : 0;
            if (kind) return parse_meta(p, line, skip_ws(t + 4, end), kind);
        }
    }
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    p->cur = eol ? eol + 1 : end;
    return SKIP;
}

/* ---- label sets ----------------------------------------------------------- */

static int push_off(expo_parser *p, size_t *n, size_t a, size_t b) {
    if (*n + 2 > p->soff_cap) {
        void *v = p->soff;
        if (fl_grow(&v, &p->soff_cap, *n + 2, sizeof *p->soff)) return FLINT_ENOMEM;
        p->soff = v;
    }
    p->soff[(*n)++] = a;
    p->soff[(*n)++] = b;
    return 0;
}

/* Parse '{' ... '}' at s into `str` (decoded, NUL-terminated strings) and
 * p->soff (pairs of offsets: name, value). For a sample label set, a
 * quoted metric name sets *name_off (it must not be set yet: *name_off ==
 * (size_t)-1). Returns the end after '}' or NULL (error reported). */
static const char *parse_labels(expo_parser *p, const char *s, expo_scratch *str, size_t *noff,
                                size_t *name_off, bool exemplar) {
    const char *end = p->end;
    bool text = p->format == EXPO_TEXT;
    const char *c = s + 1;
    for (;;) {
        if (text) c = skip_ws(c, end);
        if (c < end && *c == '}') return c + 1;
        const char *tok = c, *te;
        bool quoted = c < end && *c == '"';
        if (quoted) {
            te = expo__scan_quoted(c, end);
            if (!te) {
                fail_quoted(p, c, false, "label name");
                return NULL;
            }
        } else {
            te = expo__scan_label_name(c, end);
            if (te == c) {
                fail_got(p, c, "expected label name");
                return NULL;
            }
        }
        c = te;
        if (text) c = skip_ws(c, end);
        if (quoted && c < end && (*c == ',' || *c == '}')) {
            if (exemplar) {
                fail_got(p, c, "expected label name");
                return NULL;
            }
            if (*name_off != (size_t)-1) {
                fail(p, tok, "metric name already set");
                return NULL;
            }
            if (put_str(str, tok + 1, (size_t)(te - tok - 2), ESC_LVAL, name_off)) {
                oom(p);
                return NULL;
            }
            if (str->data[*name_off] == 0) {
                fail(p, tok, "empty metric name");
                return NULL;
            }
            if (*c == '}') return c + 1;
            c++;
            continue;
        }
        size_t ln_off, lv_off;
        if (quoted) {
            if (put_str(str, tok + 1, (size_t)(te - tok - 2), ESC_LVAL, &ln_off)) {
                oom(p);
                return NULL;
            }
            if (str->data[ln_off] == 0) {
                fail(p, tok, "empty label name");
                return NULL;
            }
        } else if (put_str(str, tok, (size_t)(te - tok), ESC_NONE, &ln_off)) {
            oom(p);
            return NULL;
        }
        if (c >= end || *c != '=') {
            fail_got(p, c, "expected equal");
            return NULL;
        }
        c++;
        if (text) c = skip_ws(c, end);
        if (c >= end || *c != '"') {
            fail_got(p, c, "expected label value");
            return NULL;
        }
        const char *ve = text ? expo__scan_quoted_lf(c, end) : expo__scan_quoted(c, end);
        if (!ve) {
            fail_quoted(p, c, text, "label value");
            return NULL;
        }
        if (put_str(str, c + 1, (size_t)(ve - c - 2), ESC_LVAL, &lv_off) || push_off(p, noff, ln_off, lv_off)) {
            oom(p);
            return NULL;
        }
        c = ve;
        if (text) c = skip_ws(c, end);
        if (c < end && *c == ',') {
            c++;
        } else if (!text && (c >= end || *c != '}')) {
            fail_got(p, c, "expected comma or brace close");
            return NULL;
        }
    }
}

static int label_cmp(const void *a, const void *b) {
    return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

/* Sort lab[0..n) by name and refuse a repeated name. */
static int sort_labels(expo_parser *p, const char *line, label *lab, size_t n) {
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            label x = lab[i];
            size_t j = i;
            while (j > 0 && strcmp(lab[j - 1].name, x.name) > 0) {
                lab[j] = lab[j - 1];
                j--;
            }
            lab[j] = x;
        }
    } else {
        qsort(lab, n, sizeof *lab, label_cmp);
    }
    for (size_t i = 1; i < n; i++) {
        if (strcmp(lab[i - 1].name, lab[i].name) == 0) {
            char q[80];
            quote(q, sizeof q, lab[i].name, strlen(lab[i].name));
            return fail(p, line, "duplicate label name %s", q);
        }
    }
    return 0;
}

static int grow_labels(label **v, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    void *t = *v;
    if (fl_grow(&t, cap, need, sizeof **v)) return FLINT_ENOMEM;
    *v = t;
    return 0;
}

/* ---- sample lines ----------------------------------------------------------- */

static int parse_value(expo_parser *p, const char *s, size_t n, double *v) {
    int r = expo_parse_double(s, n, v);
    if (r == 0) {
        if (*v != *v) {
            uint64_t bits = EXPO_NORMAL_NAN_BITS;
            memcpy(v, &bits, sizeof bits);
        }
        return 0;
    }
    char q[80];
    quote(q, sizeof q, s, n);
    if (r == FLINT_ERANGE) return fail(p, s, "value %s out of range", q);
    if (memchr(s, '_', n) || memchr(s, 'p', n) || memchr(s, 'P', n))
        return fail(p, s, "unsupported character in float %s", q);
    return fail(p, s, "invalid value %s", q);
}

static int parse_om_ts(expo_parser *p, const char *s, size_t n, int64_t *ms, bool exemplar) {
    int r = expo_parse_seconds_ms(s, n, ms);
    if (r == 0) return 0;
    const char *what = exemplar ? "exemplar timestamp" : "timestamp";
    char q[80];
    quote(q, sizeof q, s, n);
    if (r == FLINT_ERANGE) return fail(p, s, "%s %s out of range", what, q);
    double d;
    if (expo_parse_double(s, n, &d) == 0) /* NaN or Inf */
        return fail(p, s, "invalid %s %s", what, q);
    if (memchr(s, '_', n) || memchr(s, 'p', n) || memchr(s, 'P', n))
        return fail(p, s, "unsupported character in float %s", q);
    return fail(p, s, "invalid %s %s", what, q);
}

static const char *om_token_end(const char *s, const char *end) {
    while (s < end && *s != ' ' && *s != '\n') s++;
    return s;
}

/* OpenMetrics exemplar at s (the '{' after " # "). */
static int parse_exemplar(expo_parser *p, const char *s) {
    const char *end = p->end;
    expo_exemplar *x = &p->sample.exemplar;
    size_t noff = 0, unused = 0;
    p->xstr.len = 0;
    const char *c = parse_labels(p, s, &p->xstr, &noff, &unused, true);
    if (!c) return p->status;
    size_t n = noff / 2;
    if (grow_labels(&p->xlab, &p->xlab_cap, n ? n : 1)) return oom(p);
    for (size_t i = 0; i < n; i++) {
        p->xlab[i].name = p->xstr.data + p->soff[2 * i];
        p->xlab[i].value = p->xstr.data + p->soff[2 * i + 1];
    }
    int r = sort_labels(p, s, p->xlab, n);
    if (r) return r;
    x->labels = p->xlab;
    x->nlabels = n;
    if (c >= end || *c != ' ') return fail_got(p, c, "expected value after exemplar labels");
    const char *v = c + 1, *ve = om_token_end(v, end);
    if (ve == v) return fail_got(p, v, "expected value after exemplar labels");
    if ((r = parse_value(p, v, (size_t)(ve - v), &x->value))) return r;
    x->has_ts = false;
    if (ve >= end) return fail(p, ve, "data does not end with # EOF");
    if (*ve == ' ') {
        const char *t = ve + 1, *te = om_token_end(t, end);
        if (te == t) return fail_got(p, t, "expected exemplar timestamp");
        if ((r = parse_om_ts(p, t, (size_t)(te - t), &x->ts_ms, true))) return r;
        x->has_ts = true;
        ve = te;
        if (ve >= end) return fail(p, ve, "data does not end with # EOF");
        if (*ve != '\n') return fail_got(p, ve, "expected next entry after exemplar timestamp");
    }
    p->sample.has_exemplar = true;
    p->cur = ve + 1;
    return 0;
}

/* Value, timestamp, exemplar and line end, from t (just after the series). */
static int parse_tail(expo_parser *p, const char *t) {
    const char *end = p->end;
    expo_sample *smp = &p->sample;
    smp->has_ts = false;
    smp->has_exemplar = false;
    int r;
    if (p->format == EXPO_OPENMETRICS) {
        if (t >= end || *t != ' ') return fail_got(p, t, "expected value after metric");
        const char *v = t + 1, *ve = om_token_end(v, end);
        if (ve == v) return fail_got(p, v, "expected value after metric");
        if ((r = parse_value(p, v, (size_t)(ve - v), &smp->value))) return r;
        p->val_s = v;
        p->val_n = (size_t)(ve - v);
        if (ve >= end) return fail(p, ve, "data does not end with # EOF");
        if (*ve == '\n') {
            p->cur = ve + 1;
            return EXPO_SAMPLE;
        }
        if (end - ve > 3 && ve[1] == '#' && ve[2] == ' ' && ve[3] == '{')
            return parse_exemplar(p, ve + 3) ? p->status : EXPO_SAMPLE;
        const char *ts = ve + 1, *te = om_token_end(ts, end);
        if (te == ts) return fail_got(p, ts, "expected timestamp or exemplar");
        if ((r = parse_om_ts(p, ts, (size_t)(te - ts), &smp->ts_ms, false))) return r;
        smp->has_ts = true;
        if (te >= end) return fail(p, te, "data does not end with # EOF");
        if (*te == '\n') {
            p->cur = te + 1;
            return EXPO_SAMPLE;
        }
        if (end - te > 3 && te[1] == '#' && te[2] == ' ' && te[3] == '{')
            return parse_exemplar(p, te + 3) ? p->status : EXPO_SAMPLE;
        return fail_got(p, te, "expected next entry after timestamp");
    }
    /* text */
    const char *v = skip_ws(t, end), *ve = v;
    while (ve < end && *ve != ' ' && *ve != '\t' && *ve != '\n' && *ve != '{') ve++;
    if (ve == v) return fail_got(p, v, "expected value after metric");
    if ((r = parse_value(p, v, (size_t)(ve - v), &smp->value))) return r;
    p->val_s = v;
    p->val_n = (size_t)(ve - v);
    const char *c = skip_ws(ve, end);
    if (c < end && *c >= '0' && *c <= '9') {
        const char *te = c;
        while (te < end && *te >= '0' && *te <= '9') te++;
        if (expo_parse_int64(c, (size_t)(te - c), &smp->ts_ms)) {
            char q[80];
            quote(q, sizeof q, c, (size_t)(te - c));
            return fail(p, c, "timestamp %s out of range", q);
        }
        smp->has_ts = true;
        c = skip_ws(te, end);
        if (c < end && *c != '\n') return fail_got(p, c, "expected next entry after timestamp");
    } else if (c < end && *c != '\n') {
        return fail_got(p, c, "expected timestamp or new record");
    }
    p->cur = c < end ? c + 1 : end;
    return EXPO_SAMPLE;
}

/* Build the sorted label array of the sample from p->sstr/p->soff, after
 * normalising `le`/`quantile` values. */
static int finish_labels(expo_parser *p, const char *line, size_t name_off, size_t noff) {
    expo_sample *smp = &p->sample;
    size_t n = noff / 2;
    const char *norm_name = smp->type == EXPO_HISTOGRAM ? "le" : smp->type == EXPO_SUMMARY ? "quantile" : NULL;
    if (norm_name) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(p->sstr.data + p->soff[2 * i], norm_name) != 0) continue;
            const char *v = p->sstr.data + p->soff[2 * i + 1];
            char canon[32];
            size_t cn = expo__normalize_om_float(v, strlen(v), canon);
            if (cn && strcmp(canon, v) != 0 && put_str(&p->sstr, canon, cn, ESC_NONE, &p->soff[2 * i + 1]))
                return oom(p);
        }
    }
    if (grow_labels(&p->slab, &p->slab_cap, n + 1)) return oom(p);
    const char *base = p->sstr.data;
    p->slab[0].name = METRIC_NAME_LABEL;
    p->slab[0].value = base + name_off;
    for (size_t i = 0; i < n; i++) {
        p->slab[i + 1].name = base + p->soff[2 * i];
        p->slab[i + 1].value = base + p->soff[2 * i + 1];
    }
    int r = sort_labels(p, line, p->slab, n + 1);
    if (r) return r;
    smp->labels = p->slab;
    smp->nlabels = n + 1;
    smp->name = base + name_off;
    return 0;
}

/* A sample line: line = its first byte, s = its first non-blank byte. */
static int parse_sample(expo_parser *p, const char *line, const char *s) {
    const char *end = p->end;
    bool text = p->format == EXPO_TEXT;
    expo_sample *smp = &p->sample;
    int r;

    /* Fast path: the same series bytes as the previous sample, followed by
     * the blank before the value, mean the same name, labels, type. */
    size_t pl = p->prev_len;
    if (pl && (size_t)(end - line) > pl && memcmp(line, p->prev, pl) == 0 &&
        (line[pl] == ' ' || (text && line[pl] == '\t'))) {
        const char *t = line + pl;
        if (!text || p->prev_braces || (t = skip_ws(t, end)) >= end || *t != '{') {
            smp->series = line;
            smp->series_repeated = true;
            p->prev = line;
            r = parse_tail(p, line + pl);
            if (r == EXPO_SAMPLE && smp->created && (p->flags & EXPO_SKIP_CREATED)) return SKIP;
            return r;
        }
    }

    p->sstr.len = 0;
    p->st_cur_valid = false;
    size_t noff = 0, name_off = (size_t)-1;
    const char *c = s;
    bool braces = false;
    if (*c != '{') {
        const char *ne = expo__scan_metric_name(c, end);
        if (put_str(&p->sstr, c, (size_t)(ne - c), ESC_NONE, &name_off)) return oom(p);
        c = ne;
        const char *b = text ? skip_ws(c, end) : c;
        if (b < end && *b == '{') c = b;
    }
    if (c < end && *c == '{') {
        c = parse_labels(p, c, &p->sstr, &noff, &name_off, false);
        if (!c) return p->status;
        braces = true;
    }
    if (name_off == (size_t)-1) return fail(p, line, "metric name not set");
    const char *name = p->sstr.data + name_off;
    smp->name_len = strlen(name);
    bool created;
    if (family_member(p, name, smp->name_len, &created)) {
        smp->type = p->fam_type;
    } else {
        if (family_set(p, name, smp->name_len)) return oom(p);
        smp->type = EXPO_UNKNOWN;
    }
    p->fam_seen |= SEEN_SAMPLES;
    smp->created = created;
    if ((r = finish_labels(p, line, name_off, noff))) return r;
    smp->series = line;
    smp->series_len = (size_t)(c - line);
    smp->series_repeated = false;
    p->prev = line;
    p->prev_len = smp->series_len;
    p->prev_braces = braces;
    r = parse_tail(p, c);
    if (r == EXPO_SAMPLE && created && (p->flags & EXPO_SKIP_CREATED)) return SKIP;
    return r;
}

/* ---- the pull loop ------------------------------------------------------------ */

int expo_next(expo_parser *p) {
    if (p->status) return p->status > 0 ? EXPO_EOF : p->status;
    const char *end = p->end;
    for (;;) {
        const char *line = p->cur;
        p->entry = line;
        if (line >= end) {
            if (p->format == EXPO_OPENMETRICS) return fail(p, end, "data does not end with # EOF");
            p->status = 1;
            return EXPO_EOF;
        }
        const char *s = line;
        if (p->format == EXPO_TEXT) {
            s = skip_ws(line, end);
            if (s >= end) {
                p->cur = end;
                continue;
            }
            if (*s == '\n') {
                p->cur = s + 1;
                continue;
            }
        }
        unsigned char c = (unsigned char)*s;
        int r;
        if (c == '#') r = parse_comment(p, line, s);
        else if (c == '{' || is_name_start(c)) r = parse_sample(p, line, s);
        else return fail_got(p, s, "expected a valid start token");
        if (r != SKIP) return r;
    }
}

/* ---- start timestamps ----------------------------------------------------------- */

/* Key of a series for _created matching: family name, then the labels but
 * __name__ and le (histogram) / quantile (summary). */
static int st_key(expo_scratch *k, const expo_sample *s, const char *fam, size_t fam_len) {
    const char *skip = s->type == EXPO_HISTOGRAM ? "le" : s->type == EXPO_SUMMARY ? "quantile" : "";
    k->len = 0;
    if (scratch_reserve(k, fam_len + 1)) return FLINT_ENOMEM;
    memcpy(k->data, fam, fam_len);
    k->data[fam_len] = 0;
    k->len = fam_len + 1;
    for (size_t i = 0; i < s->nlabels; i++) {
        const label *l = &s->labels[i];
        if (!strcmp(l->name, METRIC_NAME_LABEL) || !strcmp(l->name, skip)) continue;
        size_t a = strlen(l->name) + 1, b = strlen(l->value) + 1;
        if (scratch_reserve(k, a + b)) return FLINT_ENOMEM;
        memcpy(k->data + k->len, l->name, a);
        memcpy(k->data + k->len + a, l->value, b);
        k->len += a + b;
    }
    return 0;
}

static bool same_key(const expo_scratch *a, const expo_scratch *b) {
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static int copy_key(expo_scratch *dst, const expo_scratch *src) {
    dst->len = 0;
    if (scratch_reserve(dst, src->len)) return FLINT_ENOMEM;
    memcpy(dst->data, src->data, src->len);
    dst->len = src->len;
    return 0;
}

/* Look ahead from p->cur to the first _created sample or the first entry
 * that is not a sample, and remember where that was and what it said. */
static int st_look_ahead(expo_parser *p) {
    p->st_stop = NULL;
    if (!p->peek) {
        p->peek = fl_calloc(1, sizeof *p->peek);
        if (!p->peek) return FLINT_ENOMEM;
    }
    expo_parser *q = p->peek;
    expo_parser_reset(q, p->format, p->buf, (size_t)(p->end - p->buf));
    q->flags = 0;
    q->cur = p->cur;
    if (family_set(q, p->fam.data, p->fam.len)) return FLINT_ENOMEM;
    q->fam_type = p->fam_type;
    q->fam_seen = p->fam_seen;
    bool created = false;
    int64_t ms = 0;
    for (;;) {
        int r = expo_next(q);
        if (r == FLINT_ENOMEM) return r;
        if (r != EXPO_SAMPLE) break;
        const expo_sample *qs = &q->sample;
        if (!qs->created) continue;
        if (st_key(&q->st_cur, qs, q->fam.data, q->fam.len) || copy_key(&p->st_stop_key, &q->st_cur))
            return FLINT_ENOMEM;
        created = expo_parse_seconds_ms(q->val_s, q->val_n, &ms) == 0;
        break;
    }
    p->st_stop = q->entry;
    p->st_stop_created = created;
    p->st_stop_ms = ms;
    return 0;
}

int expo_start_timestamp(expo_parser *p, int64_t *st_ms) {
    const expo_sample *s = &p->sample;
    if (p->format != EXPO_OPENMETRICS || p->status < 0) return 0;
    if (s->type != EXPO_COUNTER && s->type != EXPO_HISTOGRAM && s->type != EXPO_SUMMARY) return 0;
    if (!(p->fam_seen & FAM_SET)) return 0;
    if (!(s->series_repeated && p->st_cur_valid)) {
        p->st_cur_valid = false;
        if (st_key(&p->st_cur, s, p->fam.data, p->fam.len)) return FLINT_ENOMEM;
        p->st_cur_valid = true;
    }
    /* Prometheus' cache: the last series found keeps its start time */
    if (p->st_valid && same_key(&p->st_cur, &p->st_key)) {
        *st_ms = p->st_ms;
        return 1;
    }
    /* A look-ahead from here would stop where the last one stopped, as
     * long as we are still before that point. */
    if (!p->st_stop || p->cur > p->st_stop) {
        int r = st_look_ahead(p);
        if (r) return r;
    }
    /* the first _created line decides, as in Prometheus */
    if (!p->st_stop_created || !same_key(&p->st_cur, &p->st_stop_key)) return 0;
    p->st_valid = false;
    if (copy_key(&p->st_key, &p->st_cur)) return FLINT_ENOMEM;
    p->st_ms = p->st_stop_ms;
    p->st_valid = true;
    *st_ms = p->st_ms;
    return 1;
}

/* ---- content type ----------------------------------------------------------------- */

expo_format expo_format_from_content_type(const char *ct) {
    static const char om[] = "application/openmetrics-text";
    if (!ct) return EXPO_TEXT;
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    return n == sizeof om - 1 && strncasecmp(ct, om, n) == 0 ? EXPO_OPENMETRICS : EXPO_TEXT;
}
