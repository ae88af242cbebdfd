/*
 * blockmeta.c - block ULIDs and meta.json (see block.h, docs/format/block.md).
 *
 * meta.json is read by a small recursive-descent JSON reader that knows the
 * fields flint and Prometheus write and skips every other value, so blocks
 * written by Prometheus (extra keys such as "thanos" or "hints") parse.
 * Errors carry the byte offset. The writer emits Prometheus' layout.
 */
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "tsdb/block.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- ULID --------------------------------------------------------------------- */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int block_ulid_new(int64_t ms, block_ulid out) {
    uint8_t rnd[10];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* no entropy source: fall back to a clock-seeded mix */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec;
        for (size_t i = 0; i < sizeof rnd; i++) {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            rnd[i] = (uint8_t)((x * 2685821657736338717ull) >> 56);
        }
    }
    unsigned __int128 v = (unsigned __int128)((uint64_t)ms & 0xFFFFFFFFFFFFull) << 80;
    for (size_t i = 0; i < sizeof rnd; i++) v |= (unsigned __int128)rnd[i] << (8 * (9 - i));
    for (int k = 0; k < BLOCK_ULID_LEN; k++) out[k] = crockford[(v >> (125 - 5 * k)) & 31];
    out[BLOCK_ULID_LEN] = 0;
    return 0;
}

static int crockford_val(char c) {
    const char *p = c ? strchr(crockford, c) : NULL;
    return p ? (int)(p - crockford) : -1;
}

bool block_ulid_valid(const char *s) {
    for (int k = 0; k < BLOCK_ULID_LEN; k++)
        if (crockford_val(s[k]) < 0) return false;
    return s[BLOCK_ULID_LEN] == 0 && s[0] <= '7';
}

int64_t block_ulid_time(const char *s) {
    uint64_t t = 0;
    for (int k = 0; k < 10; k++) t = t << 5 | (uint64_t)crockford_val(s[k]);
    return (int64_t)t;
}

/* ---- JSON reader ---------------------------------------------------------------- */

typedef struct jp {
    const char *start, *p, *end;
    int err;
    const char *what;
    size_t at;
} jp;

static int jp_fail(jp *j, const char *what) {
    if (!j->err) {
        j->err = FLINT_ECORRUPT;
        j->what = what;
        j->at = (size_t)(j->p - j->start);
    }
    return j->err;
}

static void jp_ws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static bool jp_eat(jp *j, char c) {
    jp_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* A string into buf (truncated to cap-1; *trunc set); escapes decoded,
 * \u escapes outside ASCII become '?' (no field flint reads needs them). */
static int jp_string(jp *j, char *buf, size_t cap, bool *trunc) {
    size_t n = 0;
    *trunc = false;
    if (!jp_eat(j, '"')) return jp_fail(j, "expected a string");
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20) return jp_fail(j, "control character in string");
        if (c == '\\') {
            if (j->p >= j->end) break;
            char e = *j->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    if (j->p >= j->end) return jp_fail(j, "truncated \\u escape");
                    char h = *j->p++;
                    int d = h >= '0' && h <= '9' ? h - '0' : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10 : -1;
                    if (d < 0) return jp_fail(j, "bad \\u escape");
                    v = v << 4 | (unsigned)d;
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default: return jp_fail(j, "bad escape in string");
            }
        }
        if (n + 1 < cap) buf[n++] = c;
        else *trunc = true;
    }
    if (j->p >= j->end) return jp_fail(j, "unterminated string");
    j->p++;
    if (cap) buf[n] = 0;
    return 0;
}

static int jp_int(jp *j, int64_t *out) {
    jp_ws(j);
    const char *s = j->p;
    bool neg = j->p < j->end && *j->p == '-';
    if (neg) j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jp_fail(j, "expected an integer");
    uint64_t v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p++ - '0');
        if (v > (UINT64_MAX - d) / 10) {
            j->p = s;
            return jp_fail(j, "integer out of range");
        }
        v = v * 10 + d;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) return jp_fail(j, "expected an integer");
    if (v > (uint64_t)INT64_MAX + neg) {
        j->p = s;
        return jp_fail(j, "integer out of range");
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int jp_uint(jp *j, uint64_t *out) {
    int64_t v;
    const char *s = j->p;
    if (jp_int(j, &v)) return j->err;
    if (v < 0) {
        j->p = s;
        return jp_fail(j, "negative count");
    }
    *out = (uint64_t)v;
    return 0;
}

static int jp_skip(jp *j, int depth) {
    if (depth > 32) return jp_fail(j, "nesting too deep");
    jp_ws(j);
    if (j->p >= j->end) return jp_fail(j, "unexpected end of input");
    char c = *j->p;
    bool trunc;
    if (c == '"') return jp_string(j, NULL, 0, &trunc);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (jp_eat(j, close)) return 0;
        do {
            if (c == '{') {
                if (jp_string(j, NULL, 0, &trunc)) return j->err;
                if (!jp_eat(j, ':')) return jp_fail(j, "expected ':'");
            }
            if (jp_skip(j, depth + 1)) return j->err;
        } while (jp_eat(j, ','));
        return jp_eat(j, close) ? 0 : jp_fail(j, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
            j->p += n;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = j->p;
        while (j->p < j->end && strchr("+-0123456789.eE", *j->p)) j->p++;
        return j->p > s ? 0 : jp_fail(j, "bad number");
    }
    return jp_fail(j, "unexpected character");
}

/* Iterate an object: call with *first = true; returns 1 with the key in
 * buf while members remain, 0 at '}', negative on error. */
static int jp_member(jp *j, bool *first, char *key, size_t cap) {
    if (*first) {
        *first = false;
        if (!jp_eat(j, '{')) return jp_fail(j, "expected '{'");
        if (jp_eat(j, '}')) return 0;
    } else {
        if (jp_eat(j, '}')) return 0;
        if (!jp_eat(j, ',')) return jp_fail(j, "expected ',' or '}'");
    }
    bool trunc;
    if (jp_string(j, key, cap, &trunc)) return j->err;
    if (trunc) key[0] = 0; /* no known key is that long */
    if (!jp_eat(j, ':')) return jp_fail(j, "expected ':'");
    return 1;
}

static int jp_ulid(jp *j, block_ulid out) {
    jp_ws(j);
    const char *s = j->p;
    char buf[64];
    bool trunc;
    if (jp_string(j, buf, sizeof buf, &trunc)) return j->err;
    if (trunc || !block_ulid_valid(buf)) {
        j->p = s;
        return jp_fail(j, "invalid ULID");
    }
    memcpy(out, buf, sizeof(block_ulid));
    return 0;
}

static int parse_stats(jp *j, block_meta *m) {
    char key[64];
    bool first = true;
    int rc;
    while ((rc = jp_member(j, &first, key, sizeof key)) == 1) {
        if (!strcmp(key, "numSamples")) rc = jp_uint(j, &m->num_samples);
        else if (!strcmp(key, "numSeries")) rc = jp_uint(j, &m->num_series);
        else if (!strcmp(key, "numChunks")) rc = jp_uint(j, &m->num_chunks);
        else rc = jp_skip(j, 1);
        if (rc) return rc;
    }
    return rc;
}

static int parse_parent(jp *j, block_parent *p) {
    char key[64];
    bool first = true, have = false;
    int rc;
    while ((rc = jp_member(j, &first, key, sizeof key)) == 1) {
        if (!strcmp(key, "ulid")) rc = jp_ulid(j, p->ulid), have = true;
        else if (!strcmp(key, "minTime")) rc = jp_int(j, &p->min_time);
        else if (!strcmp(key, "maxTime")) rc = jp_int(j, &p->max_time);
        else rc = jp_skip(j, 2);
        if (rc) return rc;
    }
    return rc ? rc : have ? 0 : jp_fail(j, "parent without ulid");
}

static int parse_compaction(jp *j, block_meta *m) {
    char key[64];
    bool first = true;
    int rc;
    size_t cap_s = 0, cap_p = 0;
    while ((rc = jp_member(j, &first, key, sizeof key)) == 1) {
        if (!strcmp(key, "level")) {
            int64_t v;
            if ((rc = jp_int(j, &v))) return rc;
            if (v < 0 || v > INT_MAX) return jp_fail(j, "compaction level out of range");
            m->level = (int)v;
        } else if (!strcmp(key, "sources") || !strcmp(key, "parents")) {
            bool src = key[0] == 's';
            if (!jp_eat(j, '[')) return jp_fail(j, "expected '['");
            if (jp_eat(j, ']')) continue;
            do {
                if (src) {
                    if (fl_grow((void **)&m->sources, &cap_s, m->nsources + 1, sizeof *m->sources)) return FLINT_ENOMEM;
                    if ((rc = jp_ulid(j, m->sources[m->nsources]))) return rc;
                    m->nsources++;
                } else {
                    if (fl_grow((void **)&m->parents, &cap_p, m->nparents + 1, sizeof *m->parents)) return FLINT_ENOMEM;
                    memset(&m->parents[m->nparents], 0, sizeof *m->parents);
                    if ((rc = parse_parent(j, &m->parents[m->nparents]))) return rc;
                    m->nparents++;
                }
            } while (jp_eat(j, ','));
            if (!jp_eat(j, ']')) return jp_fail(j, "expected ',' or ']'");
        } else if ((rc = jp_skip(j, 1))) {
            return rc;
        }
    }
    return rc;
}

int block_meta_parse(const char *json, size_t len, block_meta *m) {
    memset(m, 0, sizeof *m);
    jp j = {json, json, json + len, 0, NULL, 0};
    char key[64];
    bool first = true, have_ulid = false, have_min = false, have_max = false, have_version = false;
    int rc;
    while ((rc = jp_member(&j, &first, key, sizeof key)) == 1) {
        if (!strcmp(key, "ulid")) rc = jp_ulid(&j, m->ulid), have_ulid = true;
        else if (!strcmp(key, "minTime")) rc = jp_int(&j, &m->min_time), have_min = true;
        else if (!strcmp(key, "maxTime")) rc = jp_int(&j, &m->max_time), have_max = true;
        else if (!strcmp(key, "stats")) rc = parse_stats(&j, m);
        else if (!strcmp(key, "compaction")) rc = parse_compaction(&j, m);
        else if (!strcmp(key, "version")) {
            int64_t v;
            rc = jp_int(&j, &v);
            if (!rc && (v < 0 || v > INT_MAX)) rc = jp_fail(&j, "version out of range");
            m->version = (int)v;
            have_version = true;
        } else rc = jp_skip(&j, 0);
        if (rc) break;
    }
    if (!rc) {
        jp_ws(&j);
        if (j.p != j.end) rc = jp_fail(&j, "trailing characters");
        else if (!have_ulid) rc = jp_fail(&j, "missing \"ulid\"");
        else if (!have_min || !have_max) rc = jp_fail(&j, "missing \"minTime\"/\"maxTime\"");
        else if (!have_version) rc = jp_fail(&j, "missing \"version\"");
        else if (m->version != 1) rc = jp_fail(&j, "unsupported version");
    }
    if (rc) {
        if (rc == FLINT_ECORRUPT) flint_error(rc, "meta.json: %s at offset %zu", j.what, j.at);
        block_meta_free(m);
    }
    return rc;
}

int block_meta_read(const char *dir, block_meta *m) {
    memset(m, 0, sizeof *m);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *data;
    size_t n;
    int rc = fio_read_file(path, &data, &n);
    if (rc) return rc;
    rc = block_meta_parse(data, n, m);
    fl_free(data);
    if (rc == FLINT_ECORRUPT) {
        /* "meta.json: what at offset N" -> "<path>: what at offset N" */
        char msg[400];
        snprintf(msg, sizeof msg, "%s", flint_errmsg());
        const char *what = strncmp(msg, "meta.json: ", 11) == 0 ? msg + 11 : msg;
        flint_error(rc, "%s: %s", path, what);
    }
    return rc;
}

void block_meta_free(block_meta *m) {
    fl_free(m->sources);
    fl_free(m->parents);
    m->sources = NULL;
    m->parents = NULL;
    m->nsources = m->nparents = 0;
}

/* ---- JSON writer ---------------------------------------------------------------- */

static int put_fmt(fl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_fmt(fl_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return fl_buf_put(b, tmp, (size_t)n);
}

int block_meta_format(const block_meta *m, char **out, size_t *len) {
    fl_buf b = {0};
    int rc = put_fmt(&b, "{\n\t\"ulid\": \"%s\",\n\t\"minTime\": %lld,\n\t\"maxTime\": %lld,\n", m->ulid,
                     (long long)m->min_time, (long long)m->max_time);
    if (!rc)
        rc = put_fmt(&b, "\t\"stats\": {\n\t\t\"numSamples\": %llu,\n\t\t\"numSeries\": %llu,\n\t\t\"numChunks\": %llu\n\t},\n",
                     (unsigned long long)m->num_samples, (unsigned long long)m->num_series,
                     (unsigned long long)m->num_chunks);
    if (!rc) rc = put_fmt(&b, "\t\"compaction\": {\n\t\t\"level\": %d,\n\t\t\"sources\": [", m->level);
    for (size_t i = 0; i < m->nsources && !rc; i++)
        rc = put_fmt(&b, "%s\n\t\t\t\"%s\"", i ? "," : "", m->sources[i]);
    if (!rc) rc = put_fmt(&b, "%s]", m->nsources ? "\n\t\t" : "");
    if (!rc && m->nparents) {
        rc = put_fmt(&b, ",\n\t\t\"parents\": [");
        for (size_t i = 0; i < m->nparents && !rc; i++)
            rc = put_fmt(&b, "%s\n\t\t\t{\n\t\t\t\t\"ulid\": \"%s\",\n\t\t\t\t\"minTime\": %lld,\n\t\t\t\t\"maxTime\": %lld\n\t\t\t}",
                         i ? "," : "", m->parents[i].ulid, (long long)m->parents[i].min_time,
                         (long long)m->parents[i].max_time);
        if (!rc) rc = put_fmt(&b, "\n\t\t]");
    }
    if (!rc) rc = put_fmt(&b, "\n\t},\n\t\"version\": %d\n}\n", m->version);
    if (!rc) rc = fl_buf_put_byte(&b, 0);
    if (rc) {
        fl_buf_free(&b);
        return rc;
    }
    *out = (char *)b.data;
    *len = b.len - 1;
    return 0;
}
