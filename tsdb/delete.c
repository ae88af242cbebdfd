/*
 * delete.c - delete_series and clean_tombstones (db.h, tombstones.h).
 *
 * A delete request is stored whole: its matchers and [mint, maxt], with
 * maxt clamped to the newest sample in the DB at the time of the request,
 * so samples appended later stay visible (Prometheus deletes what exists).
 * Requests live in DIR/delete_requests, one per line, strings hex-encoded
 * ("-" for the empty string):
 *
 *   flint-delete-requests 1
 *   <mint> <maxt> <nmatchers> (<type 0..3> <hex name> <hex value>)...
 *
 * e.g. `1700000000000 1700000600000 1 0 5f5f6e616d655f5f 7570` deletes
 * {__name__="up"} in that range. The file is replaced atomically on each
 * change. Queriers see requests through an immutable, reference-counted
 * set (tomb_acquire); a change builds a new set and swaps it in.
 *
 * clean_tombstones (under the maintenance lock): every block holding
 * series a request matches in its range is rewritten without the deleted
 * samples (chunks outside the intervals are copied as they are) and
 * published with the old block as its parent, so a crash between publish
 * and removal is resolved at open like a compaction. Requests are then
 * trimmed to the part that may still be in the head.
 */
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "tsdb/db_int.h"
#include "tsdb/tombstones.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tomb_req {
    int64_t mint, maxt;
    matcher *ms;
    size_t n;
} tomb_req;

struct tomb_set {
    atomic_int refs;
    pthread_mutex_t mu; /* matchers are not thread-safe (PCRE2 match data) */
    tomb_req *v;
    size_t n;
};

typedef struct tomb_db {
    pthread_mutex_t mu; /* cur and the file */
    tomb_set *cur;      /* NULL: no requests */
} tomb_db;

#define TOMB_FILE "delete_requests"
#define TOMB_HEADER "flint-delete-requests 1\n"

/* ---- intervals ------------------------------------------------------------------ */

void tomb_ivs_free(tomb_ivs *iv) {
    fl_free(iv->mint);
    fl_free(iv->maxt);
    memset(iv, 0, sizeof *iv);
}

bool tomb_ivs_has(const tomb_ivs *iv, int64_t t) {
    size_t lo = 0, hi = iv->n; /* first interval with maxt >= t */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (iv->maxt[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo < iv->n && iv->mint[lo] <= t;
}

static bool ivs_overlap(const tomb_ivs *iv, int64_t a, int64_t b) {
    for (size_t i = 0; i < iv->n; i++)
        if (iv->mint[i] <= b && iv->maxt[i] >= a) return true;
    return false;
}

int tomb_filter_views(const tomb_ivs *iv, int64_t mint, int64_t maxt, chunk_view *v, size_t *n,
                      head_chunk_set *hcs) {
    fl_buf *bytes = &hcs->bytes;
    fl_buf tmp = {0};
    int64_t *ts = NULL;
    double *vs = NULL;
    size_t cap = 0, o = 0;
    /* offsets: into `bytes` (old) or `tmp` (new) until the end */
    enum { KEEP, IN_BYTES, IN_TMP } *where = fl_calloc(*n ? *n : 1, sizeof *where);
    size_t *off = fl_calloc(*n ? *n : 1, sizeof *off);
    int rc = where && off ? 0 : FLINT_ENOMEM;
    for (size_t i = 0; i < *n && rc == 0; i++) {
        chunk_view c = v[i];
        bool in_bytes = bytes->len && c.data >= bytes->data && c.data < bytes->data + bytes->len;
        if (!ivs_overlap(iv, c.mint, c.maxt) && c.mint >= mint && c.maxt <= maxt) {
            where[o] = in_bytes ? IN_BYTES : KEEP;
            off[o] = in_bytes ? (size_t)(c.data - bytes->data) : 0;
            v[o++] = c;
            continue;
        }
        int ns = chunk_num_samples(c.enc, c.data, c.len);
        if (ns < 0) {
            rc = ns;
            break;
        }
        if ((size_t)ns > cap) {
            int64_t *nt = fl_realloc(ts, (size_t)ns * sizeof *nt);
            double *nv = nt ? fl_realloc(vs, (size_t)ns * sizeof *nv) : NULL;
            if (nt) ts = nt;
            if (!nv) {
                rc = FLINT_ENOMEM;
                break;
            }
            vs = nv;
            cap = (size_t)ns;
        }
        int got = chunk_decode_all(c.enc, c.data, c.len, ts, vs, cap);
        if (got < 0) {
            rc = got;
            break;
        }
        size_t m = 0;
        for (int k = 0; k < got; k++)
            if (ts[k] >= mint && ts[k] <= maxt && !tomb_ivs_has(iv, ts[k])) {
                ts[m] = ts[k];
                vs[m++] = vs[k];
            }
        if (m == 0) continue; /* nothing left of this chunk */
        size_t at = tmp.len;
        int enc;
        if ((rc = chunk_encode(ts, vs, m, 0, &tmp, &enc))) break;
        where[o] = IN_TMP;
        off[o] = at;
        v[o++] = (chunk_view){ts[0], ts[m - 1], NULL, (uint32_t)(tmp.len - at), (uint8_t)enc};
    }
    if (rc == 0 && tmp.len) {
        /* the rewritten chunks join the set as entries of their own, so
         * whoever copies the set's chunks copies them too */
        size_t added = 0;
        for (size_t i = 0; i < o; i++) added += where[i] == IN_TMP;
        if (fl_grow((void **)&hcs->v, &hcs->cap, hcs->n + added, sizeof *hcs->v)) rc = FLINT_ENOMEM;
        for (size_t k = 0; k < hcs->n && rc == 0; k++) /* offsets: bytes->data may move */
            hcs->v[k].data = (const uint8_t *)(uintptr_t)(hcs->v[k].data - bytes->data);
        size_t base = bytes->len;
        if (rc == 0 && fl_buf_put(bytes, tmp.data, tmp.len)) rc = FLINT_ENOMEM;
        for (size_t k = 0; k < hcs->n; k++) /* back to pointers (also after a failed put) */
            hcs->v[k].data = bytes->data + (uintptr_t)hcs->v[k].data;
        for (size_t i = 0; i < o && rc == 0; i++) {
            if (where[i] == IN_BYTES) v[i].data = bytes->data + off[i];
            else if (where[i] == IN_TMP) {
                v[i].data = bytes->data + base + off[i];
                hcs->v[hcs->n++] = (head_chunk){v[i].mint, v[i].maxt, v[i].enc, v[i].data, v[i].len};
            }
        }
    }
    if (rc == 0) *n = o;
    fl_free(where);
    fl_free(off);
    fl_free(ts);
    fl_free(vs);
    fl_buf_free(&tmp);
    return rc;
}

static int ivs_add(tomb_ivs *iv, int64_t a, int64_t b) {
    if (iv->n == iv->cap) {
        size_t cap = iv->cap ? iv->cap * 2 : 4;
        int64_t *x = fl_realloc(iv->mint, cap * sizeof *x);
        if (!x) return FLINT_ENOMEM;
        iv->mint = x;
        int64_t *y = fl_realloc(iv->maxt, cap * sizeof *y);
        if (!y) return FLINT_ENOMEM;
        iv->maxt = y;
        iv->cap = cap;
    }
    /* insertion sort by mint, then merge overlapping or touching ones */
    size_t i = iv->n++;
    while (i > 0 && iv->mint[i - 1] > a) {
        iv->mint[i] = iv->mint[i - 1];
        iv->maxt[i] = iv->maxt[i - 1];
        i--;
    }
    iv->mint[i] = a;
    iv->maxt[i] = b;
    size_t o = 0;
    for (size_t k = 1; k < iv->n; k++) {
        if (iv->mint[k] <= iv->maxt[o] || (iv->maxt[o] < INT64_MAX && iv->mint[k] == iv->maxt[o] + 1)) {
            if (iv->maxt[k] > iv->maxt[o]) iv->maxt[o] = iv->maxt[k];
        } else {
            o++;
            iv->mint[o] = iv->mint[k];
            iv->maxt[o] = iv->maxt[k];
        }
    }
    iv->n = o + 1;
    return 0;
}

/* ---- sets ------------------------------------------------------------------------ */

static void set_free(tomb_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->v[i].n; j++) matcher_free(&s->v[i].ms[j]);
        fl_free(s->v[i].ms);
    }
    fl_free(s->v);
    pthread_mutex_destroy(&s->mu);
    fl_free(s);
}

void tomb_release(tomb_set *s) {
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) set_free(s);
}

static tomb_set *set_new(size_t cap) {
    tomb_set *s = fl_calloc(1, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    if (cap && !(s->v = fl_calloc(cap, sizeof *s->v))) {
        set_free(s);
        return NULL;
    }
    return s;
}

/* Append a copy of the request (matchers recompiled). */
static int set_add(tomb_set *s, int64_t mint, int64_t maxt, const matcher *ms, size_t n) {
    tomb_req *r = &s->v[s->n];
    r->mint = mint;
    r->maxt = maxt;
    r->ms = fl_calloc(n ? n : 1, sizeof *r->ms);
    if (!r->ms) return FLINT_ENOMEM;
    s->n++;
    for (size_t i = 0; i < n; i++) {
        int rc = matcher_init(&r->ms[i], ms[i].type, ms[i].name, ms[i].value);
        if (rc) return rc;
        r->n++;
    }
    return 0;
}

tomb_set *tomb_acquire(tsdb *db) {
    tomb_db *t = db->tombs;
    if (!t) return NULL;
    pthread_mutex_lock(&t->mu);
    tomb_set *s = t->cur;
    if (s) atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&t->mu);
    return s;
}

static bool req_matches(const tomb_req *r, const labels *l) {
    for (size_t i = 0; i < r->n; i++) {
        const char *v = "";
        for (size_t k = 0; k < l->n; k++)
            if (strcmp(l->v[k].name, r->ms[i].name) == 0) v = l->v[k].value;
        if (!matcher_matches(&r->ms[i], v, strlen(v))) return false;
    }
    return true;
}

/* tomb_series with s->mu held. */
static int series_locked(tomb_set *s, const labels *l, tomb_ivs *iv) {
    iv->n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (req_matches(&s->v[i], l)) {
            int rc = ivs_add(iv, s->v[i].mint, s->v[i].maxt);
            if (rc) return rc;
        }
    return 0;
}

int tomb_series(tomb_set *s, const labels *l, tomb_ivs *iv) {
    iv->n = 0;
    if (!s) return 0;
    pthread_mutex_lock(&s->mu);
    int rc = series_locked(s, l, iv);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- the file ----------------------------------------------------------------------- */

static int put_hex(fl_buf *b, const char *s) {
    char tmp[3];
    if (!*s) return fl_buf_put(b, " -", 2);
    if (fl_buf_put(b, " ", 1)) return FLINT_ENOMEM;
    for (; *s; s++) {
        snprintf(tmp, sizeof tmp, "%02x", (unsigned char)*s);
        if (fl_buf_put(b, tmp, 2)) return FLINT_ENOMEM;
    }
    return 0;
}

static int set_write(tsdb *db, const tomb_set *s) {
    char *path = db_path_join(db->dir, TOMB_FILE);
    if (!path) return FLINT_ENOMEM;
    fl_buf b = {0};
    int rc = fl_buf_put(&b, TOMB_HEADER, strlen(TOMB_HEADER));
    for (size_t i = 0; s && i < s->n && rc == 0; i++) {
        char head[96];
        int hl = snprintf(head, sizeof head, "%" PRId64 " %" PRId64 " %zu", s->v[i].mint, s->v[i].maxt, s->v[i].n);
        rc = fl_buf_put(&b, head, (size_t)hl);
        for (size_t j = 0; j < s->v[i].n && rc == 0; j++) {
            char ty[8];
            int tl = snprintf(ty, sizeof ty, " %d", (int)s->v[i].ms[j].type);
            rc = fl_buf_put(&b, ty, (size_t)tl);
            if (rc == 0) rc = put_hex(&b, s->v[i].ms[j].name);
            if (rc == 0) rc = put_hex(&b, s->v[i].ms[j].value);
        }
        if (rc == 0) rc = fl_buf_put(&b, "\n", 1);
    }
    if (rc == 0) rc = fio_write_file_atomic(path, b.data, b.len);
    fl_buf_free(&b);
    fl_free(path);
    return rc;
}

/* Next space-separated token of *p (NUL-terminates it in place). */
static char *token(char **p) {
    while (**p == ' ') (*p)++;
    if (!**p) return NULL;
    char *t = *p;
    while (**p && **p != ' ') (*p)++;
    if (**p) *(*p)++ = '\0';
    return t;
}

static int unhex(char *t) {
    if (strcmp(t, "-") == 0) {
        t[0] = '\0';
        return 0;
    }
    size_t n = strlen(t);
    if (n % 2) return -1;
    for (size_t i = 0; i < n; i += 2) {
        char h[3] = {t[i], t[i + 1], 0}, *end;
        long v = strtol(h, &end, 16);
        if (*end || v == 0) return -1;
        t[i / 2] = (char)v;
    }
    t[n / 2] = '\0';
    return 0;
}

static int set_parse(char *data, const char *path, tomb_set **out) {
    *out = NULL;
    size_t lines = 0;
    for (char *c = data; *c; c++) lines += *c == '\n';
    if (strncmp(data, TOMB_HEADER, strlen(TOMB_HEADER)) != 0)
        return flint_error(FLINT_ECORRUPT, "%s: not a delete requests file (bad header)", path);
    tomb_set *s = set_new(lines);
    if (!s) return FLINT_ENOMEM;
    char *line = data + strlen(TOMB_HEADER);
    int rc = 0;
    for (size_t ln = 2; *line && rc == 0; ln++) {
        char *nl = strchr(line, '\n');
        if (!nl) {
            rc = flint_error(FLINT_ECORRUPT, "%s:%zu: truncated line", path, ln);
            break;
        }
        *nl = '\0';
        char *p = line, *a = token(&p), *b = token(&p), *c = token(&p), *end;
        long long mint = a ? strtoll(a, &end, 10) : 0, maxt = b ? strtoll(b, &end, 10) : 0;
        long nm = c ? strtol(c, &end, 10) : -1;
        matcher ms[32];
        size_t got = 0;
        if (!a || !b || nm < 0 || nm > 32) rc = flint_error(FLINT_ECORRUPT, "%s:%zu: malformed request", path, ln);
        for (long i = 0; i < nm && rc == 0; i++) {
            char *ty = token(&p), *name = token(&p), *value = token(&p);
            if (!ty || !name || !value || unhex(name) || unhex(value) || ty[1] || ty[0] < '0' || ty[0] > '3') {
                rc = flint_error(FLINT_ECORRUPT, "%s:%zu: malformed matcher", path, ln);
                break;
            }
            ms[i] = (matcher){.type = (match_type)(ty[0] - '0'), .name = name, .value = value};
            got++;
        }
        if (rc == 0) rc = set_add(s, mint, maxt, ms, got);
        line = nl + 1;
    }
    if (rc || s->n == 0) {
        set_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tomb_open(tsdb *db) {
    tomb_db *t = fl_calloc(1, sizeof *t);
    if (!t) return FLINT_ENOMEM;
    pthread_mutex_init(&t->mu, NULL);
    db->tombs = t;
    char *path = db_path_join(db->dir, TOMB_FILE);
    if (!path) return FLINT_ENOMEM;
    int rc = 0;
    if (fio_exists(path)) {
        char *data;
        size_t len;
        rc = fio_read_file(path, &data, &len);
        if (rc == 0) {
            rc = set_parse(data, path, &t->cur);
            fl_free(data);
        }
    }
    fl_free(path);
    return rc;
}

void tomb_close(tsdb *db) {
    tomb_db *t = db->tombs;
    if (!t) return;
    tomb_release(t->cur);
    pthread_mutex_destroy(&t->mu);
    fl_free(t);
    db->tombs = NULL;
}

/* Replace the current set with `next` (may be NULL): file first. Takes
 * next. Caller holds t->mu. */
static int set_swap(tsdb *db, tomb_set *next) {
    tomb_db *t = db->tombs;
    int rc = set_write(db, next);
    if (rc) {
        set_free(next);
        return rc;
    }
    tomb_release(t->cur);
    t->cur = next;
    return 0;
}

/* ---- delete_series --------------------------------------------------------------------- */

int tsdb_delete_series(tsdb *db, int64_t mint, int64_t maxt, const matcher *ms, size_t n) {
    if (db->opt.read_only) return flint_error(FLINT_EINVAL, "database is open read-only");
    if (n > 32) return flint_error(FLINT_EINVAL, "delete_series: at most 32 matchers per match[]");
    int64_t bmax = db_blocks_maxt(db), hmax = head_maxt(db->h);
    bool head_empty = head_mint(db->h) == INT64_MAX;
    if (bmax == INT64_MIN && head_empty) return 0; /* nothing to delete */
    int64_t newest = bmax == INT64_MIN ? INT64_MIN : bmax - 1; /* block max_time is exclusive */
    if (!head_empty && hmax > newest) newest = hmax;
    if (maxt > newest) maxt = newest;
    if (mint > maxt) return 0;
    tomb_db *t = db->tombs;
    pthread_mutex_lock(&t->mu);
    tomb_set *cur = t->cur;
    tomb_set *next = set_new((cur ? cur->n : 0) + 1);
    int rc = next ? 0 : FLINT_ENOMEM;
    if (cur) pthread_mutex_lock(&cur->mu);
    for (size_t i = 0; cur && i < cur->n && rc == 0; i++)
        rc = set_add(next, cur->v[i].mint, cur->v[i].maxt, cur->v[i].ms, cur->v[i].n);
    if (cur) pthread_mutex_unlock(&cur->mu);
    if (rc == 0) rc = set_add(next, mint, maxt, ms, n);
    if (rc == 0) rc = set_swap(db, next);
    else set_free(next);
    pthread_mutex_unlock(&t->mu);
    if (rc == 0)
        flint_log(FLINT_LOG_INFO, "tsdb", "series deleted", "mint=%" PRId64 " maxt=%" PRId64 " matchers=%zu", mint,
                  maxt, n);
    return rc;
}

/* ---- clean_tombstones --------------------------------------------------------------------- */

/* Does any request touch a series of block b in its range? (s: private copy) */
static int block_affected(const block *b, tomb_set *s, bool *yes) {
    const block_meta *m = block_get_meta(b);
    block_postings ids;
    block_postings_init(&ids);
    int rc = 0;
    *yes = false;
    for (size_t i = 0; i < s->n && !*yes && rc == 0; i++) {
        if (s->v[i].maxt < m->min_time || s->v[i].mint >= m->max_time) continue;
        rc = block_select(b, s->v[i].ms, s->v[i].n, &ids);
        *yes = rc == 0 && ids.n > 0;
    }
    block_postings_free(&ids);
    return rc;
}

typedef struct rewrite_buf {
    block_chunk *chunks;
    size_t nchunks, cap;
    size_t *offs;     /* byte offsets into bytes (pointers fixed at the end) */
    size_t offs_cap;
    fl_buf bytes;
    int64_t *ts;
    double *vs;
    size_t scap;
} rewrite_buf;

static int rb_push(rewrite_buf *rb, block_chunk c, size_t off) {
    if (fl_grow((void **)&rb->chunks, &rb->cap, rb->nchunks + 1, sizeof *rb->chunks) ||
        fl_grow((void **)&rb->offs, &rb->offs_cap, rb->nchunks + 1, sizeof *rb->offs))
        return FLINT_ENOMEM;
    rb->offs[rb->nchunks] = off;
    rb->chunks[rb->nchunks++] = c;
    return 0;
}

/* One series of the old block into the writer, without deleted samples.
 * *kept: whether any sample remained. */
static int rewrite_series(const block *b, const block_series *bs, const tomb_ivs *iv, rewrite_buf *rb,
                          block_writer *w, bool *kept) {
    rb->nchunks = 0;
    fl_buf_reset(&rb->bytes);
    int rc = 0;
    for (size_t k = 0; k < bs->nchunks && rc == 0; k++) {
        uint8_t enc;
        const uint8_t *data;
        size_t len;
        if ((rc = block_chunk_get(b, bs->chunks[k].ref, &enc, &data, &len))) break;
        int ns = chunk_num_samples(enc, data, len);
        if (ns < 0) return ns;
        bool touched = false;
        for (size_t i = 0; i < iv->n; i++)
            touched |= iv->mint[i] <= bs->chunks[k].maxt && iv->maxt[i] >= bs->chunks[k].mint;
        if (!touched) { /* copy the bytes as they are */
            size_t off = rb->bytes.len;
            if (fl_buf_put(&rb->bytes, data, len)) return FLINT_ENOMEM;
            rc = rb_push(rb, (block_chunk){bs->chunks[k].mint, bs->chunks[k].maxt, enc, (uint32_t)ns, NULL, len}, off);
            continue;
        }
        if ((size_t)ns > rb->scap) {
            int64_t *nt = fl_realloc(rb->ts, (size_t)ns * sizeof *nt);
            if (!nt) return FLINT_ENOMEM;
            rb->ts = nt;
            double *nv = fl_realloc(rb->vs, (size_t)ns * sizeof *nv);
            if (!nv) return FLINT_ENOMEM;
            rb->vs = nv;
            rb->scap = (size_t)ns;
        }
        int got = chunk_decode_all(enc, data, len, rb->ts, rb->vs, rb->scap);
        if (got < 0) return got;
        size_t m = 0;
        for (int i = 0; i < got; i++)
            if (!tomb_ivs_has(iv, rb->ts[i])) {
                rb->ts[m] = rb->ts[i];
                rb->vs[m++] = rb->vs[i];
            }
        if (m == 0) continue;
        size_t off = rb->bytes.len;
        int nenc;
        if ((rc = chunk_encode(rb->ts, rb->vs, m, 0, &rb->bytes, &nenc))) break;
        rc = rb_push(rb, (block_chunk){rb->ts[0], rb->ts[m - 1], (uint8_t)nenc, (uint32_t)m, NULL,
                                       rb->bytes.len - off}, off);
    }
    if (rc) return rc;
    *kept = rb->nchunks > 0;
    if (!*kept) return 0;
    for (size_t i = 0; i < rb->nchunks; i++) rb->chunks[i].data = rb->bytes.data + rb->offs[i];
    labels l = block_series_labels(bs);
    return block_writer_add_series(w, &l, rb->chunks, rb->nchunks);
}

/* Rewrite one block without the deleted samples; publish, swap it in. */
static int rewrite_block(tsdb *db, db_block *old, tomb_set *s) {
    const block *b = old->b;
    const block_meta *m = block_get_meta(b);
    block_parent parent;
    memcpy(parent.ulid, m->ulid, sizeof parent.ulid);
    parent.min_time = m->min_time;
    parent.max_time = m->max_time;
    block_writer_opts wo = {.level = m->level, .sources = m->sources, .nsources = m->nsources, .parents = &parent,
                            .nparents = 1};
    block_writer *w = NULL;
    int rc = block_writer_new(db->dir, m->min_time, m->max_time, &wo, &w);
    if (rc) return rc;
    block_postings ids;
    block_postings_init(&ids);
    block_series bs;
    block_series_init(&bs);
    tomb_ivs iv = {0};
    rewrite_buf rb;
    memset(&rb, 0, sizeof rb);
    size_t series_kept = 0;
    rc = block_select(b, NULL, 0, &ids);
    for (size_t i = 0; i < ids.n && rc == 0; i++) {
        if ((rc = block_series_get(b, ids.ids[i], INT64_MIN, INT64_MAX, &bs))) break;
        labels l = block_series_labels(&bs);
        if ((rc = series_locked(s, &l, &iv))) break;
        bool kept = false;
        rc = rewrite_series(b, &bs, &iv, &rb, w, &kept);
        series_kept += kept;
    }
    block_ulid ulid;
    block *nb = NULL;
    if (rc == 0 && series_kept) rc = block_writer_commit(w, ulid);
    if (rc == 0 && series_kept) {
        char *p = db_path_join(db->dir, ulid);
        rc = p ? block_open(p, &nb) : FLINT_ENOMEM;
        fl_free(p);
        if (rc == 0) rc = db_add_block(db, nb);
    }
    if (rc == 0) {
        flint_log(FLINT_LOG_INFO, "tsdb", "block rewritten without deleted samples", "old=%s new=%s", m->ulid,
                  series_kept ? ulid : "(none: everything deleted)");
        db_remove_block(db, old);
    }
    if (series_kept && rc == 0) block_writer_free(w);
    else block_writer_abort(w);
    tomb_ivs_free(&iv);
    fl_free(rb.chunks);
    fl_free(rb.offs);
    fl_buf_free(&rb.bytes);
    fl_free(rb.ts);
    fl_free(rb.vs);
    block_series_free(&bs);
    block_postings_free(&ids);
    return rc;
}

/* A private copy of s (matchers recompiled), so the rewrite does not
 * hold s->mu, which queriers take for every series. */
static int set_copy(tomb_set *s, tomb_set **out) {
    tomb_set *c = set_new(s->n);
    if (!c) return FLINT_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n && rc == 0; i++) rc = set_add(c, s->v[i].mint, s->v[i].maxt, s->v[i].ms, s->v[i].n);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        set_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int tsdb_clean_tombstones(tsdb *db) {
    if (db->opt.read_only) return flint_error(FLINT_EINVAL, "database is open read-only");
    pthread_mutex_lock(&db->maint_mu); /* no other clean, cut or compaction meanwhile */
    tomb_db *t = db->tombs;
    tomb_set *s = tomb_acquire(db), *mine = NULL;
    int rc = s ? set_copy(s, &mine) : 0;
    if (mine) {
        db_block **v = NULL;
        size_t n = 0;
        rc = db_blocks_snapshot(db, &v, &n);
        for (size_t i = 0; i < n && rc == 0; i++) {
            bool yes;
            rc = block_affected(v[i]->b, mine, &yes);
            if (rc == 0 && yes) rc = rewrite_block(db, v[i], mine);
        }
        if (v) db_blocks_release(v, n);
        /* what may still be in the head: from the oldest head sample or the
         * newest block's end, whichever is earlier */
        int64_t bmax = db_blocks_maxt(db), hmin = head_mint(db->h);
        int64_t keep_from = bmax == INT64_MIN ? INT64_MIN : (hmin < bmax ? hmin : bmax);
        if (rc == 0) {
            /* requests made meanwhile were appended after s's (only clean,
             * under maint_mu, removes any): keep them whole */
            pthread_mutex_lock(&t->mu);
            tomb_set *cur = t->cur;
            tomb_set *next = set_new(cur->n);
            rc = next ? 0 : FLINT_ENOMEM;
            pthread_mutex_lock(&cur->mu);
            for (size_t i = 0; i < cur->n && rc == 0; i++) {
                int64_t mint = cur->v[i].mint;
                if (i < mine->n) {
                    if (cur->v[i].maxt < keep_from) continue;
                    if (mint < keep_from) mint = keep_from;
                }
                rc = set_add(next, mint, cur->v[i].maxt, cur->v[i].ms, cur->v[i].n);
            }
            pthread_mutex_unlock(&cur->mu);
            if (rc == 0 && next->n == 0) {
                set_free(next);
                next = NULL;
            }
            if (rc == 0) rc = set_swap(db, next);
            else set_free(next);
            pthread_mutex_unlock(&t->mu);
        }
    }
    set_free(mine);
    tomb_release(s);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}
