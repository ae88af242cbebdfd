/*
 * index.c - the block index codec (see index.h; byte tables and worked
 * examples in docs/format/index.md).
 *
 * Writer: the symbol section is written as soon as the symbols are known;
 * series are kept in a compact intermediate form (symbol numbers + final
 * chunk-meta bytes) because a series stores its label values as ordinals
 * among its name's values, which are known only once every series is in.
 * finish() sorts the (name, value) pairs, builds the postings lists as one
 * counting-sort array and writes series, label index, postings, offset
 * tables and the TOC.
 *
 * Reader: open checks everything that is cheap to check once (header, TOC,
 * CRCs, symbol and label-index structure) and builds a small table of label
 * names; all other reads decode lazily from the buffer with bounds checks.
 */
#include "storage/index.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/crc32c.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/varint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SEC_SYMBOLS, SEC_SERIES, SEC_LABELS, SEC_POSTINGS, SEC_POSTINGS_TABLE, SEC_SERIES_TABLE, SEC_COUNT };

static const char *const sec_names[SEC_COUNT] = {
    "symbol table", "series", "label index", "postings", "postings offset table", "series offset table",
};

#define TOC_ENTRY_SIZE 20
#define TOC_SIZE (SEC_COUNT * TOC_ENTRY_SIZE + 4)
#define WRITE_CHUNK (1u << 20)

static inline size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* Unsigned wrap-around difference, so any pair of int64 round-trips. */
static inline int64_t tdiff(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t tadd(int64_t a, int64_t d) { return (int64_t)((uint64_t)a + (uint64_t)d); }

/* ============================================================================
 * writer
 * ========================================================================== */

typedef struct toc_entry {
    uint64_t off, len;
    uint32_t crc;
} toc_entry;

/* Predictions for the first chunk of each series in a group of
 * INDEX_SERIES_GROUP series: the group's first series' first chunk. */
typedef struct group_base {
    int64_t mint;
    uint64_t ref;
    uint64_t span;  /* maxt - mint */
    int64_t gap;    /* second chunk's mint - first chunk's maxt */
} group_base;

struct index_writer {
    char *path;
    int fd;
    int err;          /* sticky failure */
    int state;        /* 0: want symbols, 1: series, 2: finished */
    uint64_t pos;     /* bytes handed to the file (written or buffered) */
    fl_buf wbuf;      /* pending output */
    int cur_sec;
    uint32_t crc;     /* of the current section so far */
    toc_entry toc[SEC_COUNT];

    /* symbols: the section bytes stay for binary search */
    fl_buf syms;
    uint32_t *sym_ref; /* offset of each entry in the section */
    uint32_t *sym_str; /* offset of each string */
    size_t nsyms;

    /* series in intermediate form: uvarint nlabels, (uvarint name sym,
     * uvarint value sym)*, uvarint chunk bytes, chunk bytes (final form) */
    fl_buf tmp;
    uint64_t *keys;   /* name sym << 32 | value sym, one per label */
    size_t nkeys, keys_cap;
    uint32_t nseries;
    uint32_t *prev;   /* previous series as symbol numbers (2 per label) */
    size_t prev_n, prev_cap;
    group_base *groups;
    size_t groups_cap;
    fl_buf scratch;
};

static int w_fail(index_writer *w, int rc) {
    if (!w->err) w->err = rc;
    return rc;
}

static int w_flush(index_writer *w) {
    if (!w->wbuf.len) return 0;
    int rc = fio_write_all(w->fd, w->wbuf.data, w->wbuf.len, w->path);
    w->wbuf.len = 0;
    return rc;
}

static int w_put(index_writer *w, const void *p, size_t n) {
    w->crc = crc32c(w->crc, p, n);
    w->pos += n;
    if (n >= WRITE_CHUNK) {
        int rc = w_flush(w);
        return rc ? rc : fio_write_all(w->fd, p, n, w->path);
    }
    if (fl_buf_put(&w->wbuf, p, n)) return FLINT_ENOMEM;
    return w->wbuf.len >= WRITE_CHUNK ? w_flush(w) : 0;
}

static int w_put_uvarint(index_writer *w, uint64_t v) {
    uint8_t t[VARINT_MAX];
    return w_put(w, t, uvarint_put(t, v));
}

static int w_put_be32(index_writer *w, uint32_t v) {
    uint8_t t[4];
    be32_put(t, v);
    return w_put(w, t, 4);
}

static void sec_begin(index_writer *w, int sec) {
    w->cur_sec = sec;
    w->crc = 0;
    w->toc[sec].off = w->pos;
}

static int sec_end(index_writer *w) {
    toc_entry *e = &w->toc[w->cur_sec];
    e->len = w->pos - e->off;
    e->crc = w->crc;
    if (e->len > UINT32_MAX)
        return flint_error(FLINT_ERANGE, "index: %s section of %s exceeds 4 GiB", sec_names[w->cur_sec], w->path);
    return 0;
}

int index_writer_new(const char *path, index_writer **out) {
    *out = NULL;
    index_writer *w = fl_calloc(1, sizeof *w);
    if (!w) return FLINT_ENOMEM;
    w->fd = -1;
    w->path = fl_strdup(path);
    if (!w->path) {
        fl_free(w);
        return FLINT_ENOMEM;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = flint_error(errno == ENOSPC ? FLINT_ENOSPC : FLINT_EIO, "create %s: %s", path, strerror(errno));
        index_writer_free(w);
        return rc;
    }
    uint8_t hdr[INDEX_HEADER_SIZE] = {0};
    memcpy(hdr, INDEX_MAGIC, 4);
    hdr[4] = INDEX_VERSION;
    int rc = w_put(w, hdr, sizeof hdr);
    if (rc) {
        index_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

uint64_t index_writer_size(const index_writer *w) { return w->pos; }

int index_writer_set_symbols(index_writer *w, const char *const *syms, size_t n) {
    if (w->err) return w->err;
    if (w->state != 0) return w_fail(w, flint_error(FLINT_EINVAL, "index: symbols set twice"));
    if (n > UINT32_MAX) return w_fail(w, flint_error(FLINT_ERANGE, "index: too many symbols"));
    for (size_t i = 1; i < n; i++)
        if (strcmp(syms[i - 1], syms[i]) >= 0)
            return w_fail(w, flint_error(FLINT_EINVAL, "index: symbols not strictly increasing at \"%s\"", syms[i]));
    w->sym_ref = fl_malloc((n ? n : 1) * sizeof *w->sym_ref);
    w->sym_str = fl_malloc((n ? n : 1) * sizeof *w->sym_str);
    if (!w->sym_ref || !w->sym_str) return w_fail(w, FLINT_ENOMEM);
    fl_buf *b = &w->syms;
    if (fl_buf_put_be32(b, (uint32_t)n)) return w_fail(w, FLINT_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(syms[i]);
        if (b->len > UINT32_MAX) return w_fail(w, flint_error(FLINT_ERANGE, "index: symbol table exceeds 4 GiB"));
        w->sym_ref[i] = (uint32_t)b->len;
        if (fl_buf_put_uvarint(b, len)) return w_fail(w, FLINT_ENOMEM);
        w->sym_str[i] = (uint32_t)b->len;
        if (fl_buf_put(b, syms[i], len + 1)) return w_fail(w, FLINT_ENOMEM);
    }
    if (b->len > UINT32_MAX) return w_fail(w, flint_error(FLINT_ERANGE, "index: symbol table exceeds 4 GiB"));
    w->nsyms = n;
    sec_begin(w, SEC_SYMBOLS);
    int rc = w_put(w, b->data, b->len);
    if (!rc) rc = sec_end(w);
    if (rc) return w_fail(w, rc);
    w->state = 1;
    return 0;
}

/* Symbol number of s, or -1. */
static int64_t sym_find(const index_writer *w, const char *s) {
    size_t lo = 0, hi = w->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp((const char *)w->syms.data + w->sym_str[mid], s);
        if (c == 0) return (int64_t)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Chunk metas in their final form. Each value is predicted and only the
 * difference stored: a series' first chunk from the group base, later
 * chunks from the chunk before (same span, same gap, ref after it). */
static int encode_chunks(fl_buf *b, const group_base *base, const index_chunk_meta *c, size_t n) {
    if (fl_buf_put_uvarint(b, n)) return FLINT_ENOMEM;
    if (!n) return 0;
    bool same = true;
    for (size_t i = 1; i < n; i++) same &= c[i].enc == c[0].enc;
    /* 0: an encoding byte follows each chunk; e+1: every chunk is e */
    if (fl_buf_put_uvarint(b, same ? (uint64_t)c[0].enc + 1 : 0)) return FLINT_ENOMEM;
    uint64_t prev_span = base->span;
    int64_t prev_gap = base->gap;
    for (size_t i = 0; i < n; i++) {
        uint64_t span = (uint64_t)c[i].maxt - (uint64_t)c[i].mint;
        int rc;
        if (i == 0) {
            rc = fl_buf_put_varint(b, tdiff(c[i].mint, base->mint)) ||
                 fl_buf_put_varint(b, (int64_t)(span - prev_span)) ||
                 fl_buf_put_varint(b, (int64_t)(c[i].ref - base->ref));
        } else {
            int64_t gap = tdiff(c[i].mint, c[i - 1].maxt);
            rc = fl_buf_put_varint(b, tdiff(gap, prev_gap)) || fl_buf_put_varint(b, (int64_t)(span - prev_span)) ||
                 fl_buf_put_uvarint(b, c[i].ref - c[i - 1].ref);
            prev_gap = gap;
        }
        if (rc) return FLINT_ENOMEM;
        prev_span = span;
        if (!same && fl_buf_put_byte(b, c[i].enc)) return FLINT_ENOMEM;
    }
    return 0;
}

int index_writer_add_series(index_writer *w, const index_pair *labels, size_t nlabels,
                            const index_chunk_meta *chunks, size_t nchunks) {
    if (w->err) return w->err;
    if (w->state != 1)
        return w_fail(w, flint_error(FLINT_EINVAL, "index: series added %s", w->state ? "after finish" : "before symbols"));
    if (w->nseries == UINT32_MAX) return w_fail(w, flint_error(FLINT_ERANGE, "index: too many series"));
    uint32_t id = w->nseries;
    for (size_t i = 0; i < nchunks; i++) {
        if (chunks[i].maxt < chunks[i].mint)
            return w_fail(w, flint_error(FLINT_EINVAL, "index: series %u chunk %zu has maxt < mint", id, i));
        if (i && chunks[i].mint < chunks[i - 1].mint)
            return w_fail(w, flint_error(FLINT_EINVAL, "index: series %u chunks not sorted by mint", id));
        if (i && chunks[i].ref < chunks[i - 1].ref)
            return w_fail(w, flint_error(FLINT_EINVAL, "index: series %u chunk refs decrease", id));
    }
    /* symbol numbers, checking name order */
    if (fl_grow((void **)&w->scratch.data, &w->scratch.cap, nlabels * 2 * sizeof(uint32_t), 1))
        return w_fail(w, FLINT_ENOMEM);
    uint32_t *cur = (uint32_t *)(void *)w->scratch.data;
    for (size_t i = 0; i < nlabels; i++) {
        int64_t ns = sym_find(w, labels[i].name), vs = sym_find(w, labels[i].value);
        if (ns < 0 || vs < 0)
            return w_fail(w, flint_error(FLINT_EINVAL, "index: series %u label %s=\"%s\" not in the symbol table", id,
                                         labels[i].name, labels[i].value));
        if (i && (uint32_t)ns <= cur[2 * i - 2])
            return w_fail(w, flint_error(FLINT_EINVAL, "index: series %u label names not strictly increasing at %s", id,
                                         labels[i].name));
        cur[2 * i] = (uint32_t)ns;
        cur[2 * i + 1] = (uint32_t)vs;
    }
    /* strictly greater than the previous series (pairs, then length) */
    if (id > 0) {
        size_t m = nlabels * 2 < w->prev_n ? nlabels * 2 : w->prev_n;
        int c = 0;
        for (size_t i = 0; i < m && !c; i++) c = cur[i] < w->prev[i] ? -1 : cur[i] > w->prev[i];
        if (!c) c = nlabels * 2 < w->prev_n ? -1 : nlabels * 2 > w->prev_n;
        if (c <= 0) return w_fail(w, flint_error(FLINT_EINVAL, "index: series %u not in strictly increasing label order", id));
    }
    if (fl_grow((void **)&w->keys, &w->keys_cap, w->nkeys + nlabels, sizeof *w->keys) ||
        fl_grow((void **)&w->prev, &w->prev_cap, nlabels * 2, sizeof *w->prev))
        return w_fail(w, FLINT_ENOMEM);
    if (id % INDEX_SERIES_GROUP == 0) {
        size_t g = id / INDEX_SERIES_GROUP;
        if (fl_grow((void **)&w->groups, &w->groups_cap, g + 1, sizeof *w->groups)) return w_fail(w, FLINT_ENOMEM);
        group_base *gb = &w->groups[g];
        memset(gb, 0, sizeof *gb);
        if (nchunks) {
            gb->mint = chunks[0].mint;
            gb->ref = chunks[0].ref;
            gb->span = (uint64_t)chunks[0].maxt - (uint64_t)chunks[0].mint;
        }
        if (nchunks > 1) gb->gap = tdiff(chunks[1].mint, chunks[0].maxt);
    }
    size_t old = w->tmp.len;
    int rc = fl_buf_put_uvarint(&w->tmp, nlabels);
    for (size_t i = 0; i < 2 * nlabels && !rc; i++) rc = fl_buf_put_uvarint(&w->tmp, cur[i]);
    fl_buf cb = {0};
    if (!rc) rc = encode_chunks(&cb, &w->groups[id / INDEX_SERIES_GROUP], chunks, nchunks);
    if (!rc) rc = fl_buf_put_uvarint(&w->tmp, cb.len);
    if (!rc) rc = fl_buf_put(&w->tmp, cb.data, cb.len);
    fl_buf_free(&cb);
    if (rc) {
        w->tmp.len = old;
        return w_fail(w, rc);
    }
    for (size_t i = 0; i < nlabels; i++) w->keys[w->nkeys++] = (uint64_t)cur[2 * i] << 32 | cur[2 * i + 1];
    if (nlabels) memcpy(w->prev, cur, nlabels * 2 * sizeof *cur);
    w->prev_n = nlabels * 2;
    w->nseries++;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The (name, value) pairs of the whole index, their postings, and names. */
typedef struct pair_table {
    uint64_t *pairs;      /* unique, sorted */
    uint32_t *count;      /* series per pair, then the fill cursor */
    uint64_t *start;      /* first slot of each pair's ids */
    uint32_t *name_of;    /* name ordinal of each pair */
    size_t npairs;
    uint32_t *name_first; /* first pair of each name (nnames + 1 entries) */
    size_t nnames;
    uint32_t *ids;        /* postings, pair after pair */
} pair_table;

static void pair_table_free(pair_table *t) {
    fl_free(t->pairs);
    fl_free(t->count);
    fl_free(t->start);
    fl_free(t->name_of);
    fl_free(t->name_first);
    fl_free(t->ids);
}

static int pair_table_build(index_writer *w, pair_table *t) {
    if (w->nkeys > 1) qsort(w->keys, w->nkeys, sizeof *w->keys, cmp_u64);
    size_t n = w->nkeys ? w->nkeys : 1;
    t->pairs = fl_malloc(n * sizeof *t->pairs);
    t->count = fl_malloc(n * sizeof *t->count);
    t->start = fl_malloc(n * sizeof *t->start);
    t->name_of = fl_malloc(n * sizeof *t->name_of);
    t->name_first = fl_malloc((n + 1) * sizeof *t->name_first);
    t->ids = fl_malloc(n * sizeof *t->ids);
    if (!t->pairs || !t->count || !t->start || !t->name_of || !t->name_first || !t->ids) return FLINT_ENOMEM;
    for (size_t i = 0; i < w->nkeys; i++) {
        if (t->npairs && t->pairs[t->npairs - 1] == w->keys[i]) {
            t->count[t->npairs - 1]++;
            continue;
        }
        if (!t->npairs || t->pairs[t->npairs - 1] >> 32 != w->keys[i] >> 32) t->name_first[t->nnames++] = (uint32_t)t->npairs;
        t->name_of[t->npairs] = (uint32_t)t->nnames - 1;
        t->pairs[t->npairs] = w->keys[i];
        t->count[t->npairs++] = 1;
    }
    t->name_first[t->nnames] = (uint32_t)t->npairs;
    uint64_t s = 0;
    for (size_t g = 0; g < t->npairs; g++) {
        t->start[g] = s;
        s += t->count[g];
        t->count[g] = 0;
    }
    return 0;
}

static size_t pair_find(const pair_table *t, uint64_t key) {
    size_t lo = 0, hi = t->npairs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->pairs[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo; /* present: every key came from a series */
}

static int write_series(index_writer *w, pair_table *t, uint32_t **group_off) {
    size_t ngroups = div_up(w->nseries, INDEX_SERIES_GROUP);
    *group_off = fl_malloc((ngroups ? ngroups : 1) * sizeof **group_off);
    if (!*group_off) return FLINT_ENOMEM;
    sec_begin(w, SEC_SERIES);
    const uint8_t *p = w->tmp.data, *end = w->tmp.data + w->tmp.len;
    fl_buf *e = &w->scratch;
    int rc = 0;
    for (uint32_t id = 0; id < w->nseries && !rc; id++) {
        if (id % INDEX_SERIES_GROUP == 0) {
            const group_base *gb = &w->groups[id / INDEX_SERIES_GROUP];
            uint64_t off = w->pos - w->toc[SEC_SERIES].off;
            if (off > UINT32_MAX) return flint_error(FLINT_ERANGE, "index: series section exceeds 4 GiB");
            (*group_off)[id / INDEX_SERIES_GROUP] = (uint32_t)off;
            uint8_t hdr[4 * VARINT_MAX];
            size_t hl = varint_put(hdr, gb->mint);
            hl += uvarint_put(hdr + hl, gb->ref);
            hl += uvarint_put(hdr + hl, gb->span);
            hl += varint_put(hdr + hl, gb->gap);
            if ((rc = w_put(w, hdr, hl))) break;
        }
        uint64_t nl = 0, ns = 0, vs = 0, clen = 0;
        p = uvarint_get(p, end, &nl);
        fl_buf_reset(e);
        rc = fl_buf_put_uvarint(e, nl);
        for (uint64_t i = 0; i < nl && !rc; i++) {
            p = uvarint_get(p, end, &ns);
            p = uvarint_get(p, end, &vs);
            size_t g = pair_find(t, ns << 32 | vs);
            uint32_t name = t->name_of[g];
            t->ids[t->start[g] + t->count[g]++] = id;
            rc = fl_buf_put_uvarint(e, name);
            if (!rc) rc = fl_buf_put_uvarint(e, g - t->name_first[name]);
        }
        if (rc) break;
        p = uvarint_get(p, end, &clen);
        if ((rc = fl_buf_put(e, p, clen))) break;
        p += clen;
        if (!(rc = w_put_uvarint(w, e->len))) rc = w_put(w, e->data, e->len);
    }
    return rc ? rc : sec_end(w);
}

static int write_label_index(index_writer *w, const pair_table *t) {
    sec_begin(w, SEC_LABELS);
    int rc = w_put_uvarint(w, t->nnames);
    uint64_t ptab = 0;
    for (size_t k = 0; k < t->nnames && !rc; k++) {
        uint32_t first = t->name_first[k], nv = t->name_first[k + 1] - first;
        uint32_t maxref = 0;
        for (uint32_t g = first; g < first + nv; g++) {
            uint32_t r = w->sym_ref[(uint32_t)t->pairs[g]];
            if (r > maxref) maxref = r;
        }
        uint8_t width = maxref < (1u << 8) ? 1 : maxref < (1u << 16) ? 2 : maxref < (1u << 24) ? 3 : 4;
        rc = w_put_uvarint(w, w->sym_ref[t->pairs[first] >> 32]);
        if (!rc) rc = w_put_uvarint(w, nv);
        if (!rc) rc = w_put(w, &width, 1);
        if (!rc) rc = w_put_uvarint(w, ptab);
        ptab += div_up(nv, INDEX_POSTINGS_GROUP);
        for (uint32_t g = first; g < first + nv && !rc; g++) {
            uint8_t be[4];
            be32_put(be, w->sym_ref[(uint32_t)t->pairs[g]]);
            rc = w_put(w, be + 4 - width, width);
        }
    }
    return rc ? rc : sec_end(w);
}

/* uvarint byte length, then uvarint count<<1|range, first, deltas-1. */
static int write_list(index_writer *w, const uint32_t *ids, size_t n, bool all_range, uint32_t first) {
    fl_buf *e = &w->scratch;
    fl_buf_reset(e);
    bool range = all_range || (n > 0 && ids[n - 1] - ids[0] + 1 == n);
    int rc = fl_buf_put_uvarint(e, (uint64_t)n << 1 | range);
    if (n && !rc) rc = fl_buf_put_uvarint(e, all_range ? first : ids[0]);
    for (size_t i = 1; i < n && !range && !rc; i++) rc = fl_buf_put_uvarint(e, ids[i] - ids[i - 1] - 1);
    if (!rc) rc = w_put_uvarint(w, e->len);
    if (!rc) rc = w_put(w, e->data, e->len);
    return rc;
}

static int write_postings(index_writer *w, const pair_table *t, uint32_t **ptab, size_t *nptab) {
    size_t n = 0;
    for (size_t k = 0; k < t->nnames; k++) n += div_up(t->name_first[k + 1] - t->name_first[k], INDEX_POSTINGS_GROUP);
    *ptab = fl_malloc((n ? n : 1) * sizeof **ptab);
    if (!*ptab) return FLINT_ENOMEM;
    *nptab = 0;
    sec_begin(w, SEC_POSTINGS);
    int rc = write_list(w, NULL, w->nseries, true, 0);
    for (size_t k = 0; k < t->nnames && !rc; k++) {
        for (uint32_t g = t->name_first[k]; g < t->name_first[k + 1] && !rc; g++) {
            if ((g - t->name_first[k]) % INDEX_POSTINGS_GROUP == 0) {
                uint64_t off = w->pos - w->toc[SEC_POSTINGS].off;
                if (off > UINT32_MAX) return flint_error(FLINT_ERANGE, "index: postings section exceeds 4 GiB");
                (*ptab)[(*nptab)++] = (uint32_t)off;
            }
            rc = write_list(w, t->ids + t->start[g], t->count[g], false, 0);
        }
    }
    return rc ? rc : sec_end(w);
}

static int write_table(index_writer *w, int sec, uint32_t count, const uint32_t *v, size_t n) {
    sec_begin(w, sec);
    int rc = w_put_be32(w, count);
    for (size_t i = 0; i < n && !rc; i++) rc = w_put_be32(w, v[i]);
    return rc ? rc : sec_end(w);
}

static int write_toc(index_writer *w) {
    uint8_t toc[TOC_SIZE];
    for (int s = 0; s < SEC_COUNT; s++) {
        uint8_t *e = toc + s * TOC_ENTRY_SIZE;
        be64_put(e, w->toc[s].off);
        be64_put(e + 8, w->toc[s].len);
        be32_put(e + 16, w->toc[s].crc);
    }
    be32_put(toc + TOC_SIZE - 4, crc32c(0, toc, TOC_SIZE - 4));
    return w_put(w, toc, sizeof toc);
}

int index_writer_finish(index_writer *w) {
    if (w->err) return w->err;
    if (w->state == 0) {
        int rc = index_writer_set_symbols(w, NULL, 0);
        if (rc) return rc;
    }
    if (w->state != 1) return w_fail(w, flint_error(FLINT_EINVAL, "index: finished twice"));
    pair_table t = {0};
    uint32_t *group_off = NULL, *ptab = NULL;
    size_t nptab = 0;
    int rc = pair_table_build(w, &t);
    if (!rc) rc = write_series(w, &t, &group_off);
    if (!rc) rc = write_label_index(w, &t);
    if (!rc) rc = write_postings(w, &t, &ptab, &nptab);
    if (!rc) rc = write_table(w, SEC_POSTINGS_TABLE, (uint32_t)nptab, ptab, nptab);
    if (!rc) rc = write_table(w, SEC_SERIES_TABLE, w->nseries, group_off, div_up(w->nseries, INDEX_SERIES_GROUP));
    if (!rc) rc = write_toc(w);
    if (!rc) rc = w_flush(w);
    if (!rc) rc = fio_fsync(w->fd, w->path);
    if (!rc && close(w->fd) != 0) rc = flint_error(FLINT_EIO, "close %s: %s", w->path, strerror(errno));
    if (!rc) w->fd = -1;
    pair_table_free(&t);
    fl_free(group_off);
    fl_free(ptab);
    if (rc) return w_fail(w, rc);
    w->state = 2;
    return 0;
}

void index_writer_free(index_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    fl_free(w->path);
    fl_buf_free(&w->wbuf);
    fl_buf_free(&w->syms);
    fl_free(w->sym_ref);
    fl_free(w->sym_str);
    fl_buf_free(&w->tmp);
    fl_free(w->keys);
    fl_free(w->prev);
    fl_free(w->groups);
    fl_buf_free(&w->scratch);
    fl_free(w);
}

/* ============================================================================
 * reader
 * ========================================================================== */

typedef struct name_entry {
    const char *name;
    const uint8_t *values; /* nvalues * width bytes, big-endian symbol refs */
    uint32_t nvalues;
    uint32_t ptab_start;
    uint8_t width;
} name_entry;

struct index_reader {
    const uint8_t *data;
    size_t size;
    const uint8_t *sec[SEC_COUNT];
    size_t sec_len[SEC_COUNT];
    size_t sec_off[SEC_COUNT];
    uint32_t nsymbols, nseries, nptab;
    name_entry *names;
    uint32_t nnames;
};

/* Offset in the file of p (which lies in the buffer). */
static size_t file_off(const index_reader *r, const uint8_t *p) { return (size_t)(p - r->data); }

static int corrupt_at(const index_reader *r, const uint8_t *p, const char *what) {
    return flint_error(FLINT_ECORRUPT, "index: %s at offset %zu", what, file_off(r, p));
}

int index_symbol(const index_reader *r, uint32_t ref, const char **s, size_t *len) {
    const uint8_t *base = r->sec[SEC_SYMBOLS], *end = base + r->sec_len[SEC_SYMBOLS];
    if (ref < 4 || ref >= r->sec_len[SEC_SYMBOLS])
        return flint_error(FLINT_ECORRUPT, "index: symbol ref %u outside the symbol table at offset %zu", ref,
                           r->sec_off[SEC_SYMBOLS]);
    uint64_t n;
    const uint8_t *p = uvarint_get(base + ref, end, &n);
    if (!p || n >= (uint64_t)(end - p) || p[n] != 0) return corrupt_at(r, base + ref, "malformed symbol");
    *s = (const char *)p;
    *len = (size_t)n;
    return 0;
}

static int check_symbols(index_reader *r) {
    const uint8_t *base = r->sec[SEC_SYMBOLS], *p = base + 4, *end = base + r->sec_len[SEC_SYMBOLS];
    if (r->sec_len[SEC_SYMBOLS] < 4) return corrupt_at(r, base, "symbol table too short");
    r->nsymbols = be32_get(base);
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint32_t i = 0; i < r->nsymbols; i++) {
        uint64_t n;
        const uint8_t *q = uvarint_get(p, end, &n);
        if (!q || n >= (uint64_t)(end - q) || q[n] != 0 || memchr(q, 0, n)) return corrupt_at(r, p, "malformed symbol");
        if (prev) {
            int c = memcmp(prev, q, prev_len < n ? prev_len : n);
            if (c > 0 || (c == 0 && prev_len >= n)) return corrupt_at(r, p, "symbols out of order");
        }
        prev = q;
        prev_len = n;
        p = q + n + 1;
    }
    if (p != end) return corrupt_at(r, p, "trailing bytes in symbol table");
    return 0;
}

static int check_tables(index_reader *r) {
    const uint8_t *st = r->sec[SEC_SERIES_TABLE], *pt = r->sec[SEC_POSTINGS_TABLE];
    if (r->sec_len[SEC_SERIES_TABLE] < 4) return corrupt_at(r, st, "series offset table too short");
    r->nseries = be32_get(st);
    if (r->sec_len[SEC_SERIES_TABLE] != 4 + 4 * (uint64_t)div_up(r->nseries, INDEX_SERIES_GROUP))
        return corrupt_at(r, st, "series offset table size does not match the series count");
    if (r->sec_len[SEC_POSTINGS_TABLE] < 4) return corrupt_at(r, pt, "postings offset table too short");
    r->nptab = be32_get(pt);
    if (r->sec_len[SEC_POSTINGS_TABLE] != 4 + 4 * (uint64_t)r->nptab)
        return corrupt_at(r, pt, "postings offset table size does not match its count");
    return 0;
}

static int check_labels(index_reader *r) {
    const uint8_t *p = r->sec[SEC_LABELS], *end = p + r->sec_len[SEC_LABELS];
    uint64_t n;
    const uint8_t *q = uvarint_get(p, end, &n);
    if (!q) return corrupt_at(r, p, "malformed label index");
    /* each name needs at least 4 bytes: bounds the allocation */
    if (n > (uint64_t)(end - q) / 4) return corrupt_at(r, p, "label name count exceeds the label index");
    r->names = fl_calloc(n ? n : 1, sizeof *r->names);
    if (!r->names) return FLINT_ENOMEM;
    p = q;
    for (uint64_t k = 0; k < n; k++) {
        const uint8_t *at = p;
        uint64_t ref, nv, ptab;
        if (!(p = uvarint_get(p, end, &ref)) || !(p = uvarint_get(p, end, &nv)) || p >= end)
            return corrupt_at(r, at, "malformed label index entry");
        uint8_t width = *p++;
        if (!(p = uvarint_get(p, end, &ptab))) return corrupt_at(r, at, "malformed label index entry");
        if (width < 1 || width > 4) return corrupt_at(r, at, "bad value width in label index");
        if (nv > UINT32_MAX || nv * width > (uint64_t)(end - p)) return corrupt_at(r, at, "label values exceed the label index");
        if (ptab + div_up(nv, INDEX_POSTINGS_GROUP) > r->nptab)
            return corrupt_at(r, at, "label index points past the postings offset table");
        if (ref > UINT32_MAX) return corrupt_at(r, at, "bad label name ref");
        const char *s;
        size_t len;
        int rc = index_symbol(r, (uint32_t)ref, &s, &len);
        if (rc) return rc;
        if (k && strcmp(r->names[k - 1].name, s) >= 0) return corrupt_at(r, at, "label names out of order");
        r->names[k] = (name_entry){s, p, (uint32_t)nv, (uint32_t)ptab, width};
        r->nnames = (uint32_t)k + 1;
        p += nv * width;
    }
    if (p != end) return corrupt_at(r, p, "trailing bytes in label index");
    return 0;
}

int index_reader_open(const uint8_t *data, size_t size, unsigned flags, index_reader **out) {
    *out = NULL;
    if (size < INDEX_HEADER_SIZE + TOC_SIZE)
        return flint_error(FLINT_ECORRUPT, "index: file of %zu bytes is too short for header and TOC", size);
    if (memcmp(data, INDEX_MAGIC, 4) != 0) return flint_error(FLINT_ECORRUPT, "index: bad magic at offset 0");
    if (data[4] != INDEX_VERSION) return flint_error(FLINT_ECORRUPT, "index: unsupported version %u at offset 4", data[4]);
    if (data[5] || data[6] || data[7]) return flint_error(FLINT_ECORRUPT, "index: nonzero reserved header bytes at offset 5");
    const uint8_t *toc = data + size - TOC_SIZE;
    if (!(flags & INDEX_OPEN_NO_CRC) && crc32c(0, toc, TOC_SIZE - 4) != be32_get(toc + TOC_SIZE - 4))
        return flint_error(FLINT_ECORRUPT, "index: TOC CRC mismatch at offset %zu", size - TOC_SIZE);
    index_reader *r = fl_calloc(1, sizeof *r);
    if (!r) return FLINT_ENOMEM;
    r->data = data;
    r->size = size;
    uint64_t expect = INDEX_HEADER_SIZE;
    int rc = 0;
    for (int s = 0; s < SEC_COUNT && !rc; s++) {
        const uint8_t *e = toc + s * TOC_ENTRY_SIZE;
        uint64_t off = be64_get(e), len = be64_get(e + 8);
        /* sections are contiguous, in order, and end at the TOC */
        if (off != expect || len > size - TOC_SIZE - off) {
            rc = flint_error(FLINT_ECORRUPT, "index: TOC entry for %s section malformed at offset %zu", sec_names[s],
                             (size_t)(e - data));
            break;
        }
        r->sec[s] = data + off;
        r->sec_len[s] = (size_t)len;
        r->sec_off[s] = (size_t)off;
        expect = off + len;
        if (!(flags & INDEX_OPEN_NO_CRC) && crc32c(0, data + off, len) != be32_get(e + 16))
            rc = flint_error(FLINT_ECORRUPT, "index: %s section CRC mismatch at offset %zu", sec_names[s], (size_t)off);
    }
    if (!rc && expect != size - TOC_SIZE)
        rc = flint_error(FLINT_ECORRUPT, "index: %zu unaccounted bytes before the TOC at offset %zu",
                         (size_t)(size - TOC_SIZE - expect), (size_t)expect);
    if (!rc) rc = check_symbols(r);
    if (!rc) rc = check_tables(r);
    if (!rc) rc = check_labels(r);
    if (rc) {
        index_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void index_reader_free(index_reader *r) {
    if (!r) return;
    fl_free(r->names);
    fl_free(r);
}

uint32_t index_num_series(const index_reader *r) { return r->nseries; }
uint32_t index_num_symbols(const index_reader *r) { return r->nsymbols; }

void index_symbols_iter(const index_reader *r, index_symbol_iter *it) {
    it->r = r;
    it->pos = 4;
    it->left = r->nsymbols;
    it->err = 0;
}

bool index_symbols_next(index_symbol_iter *it, const char **s, size_t *len) {
    if (!it->left || it->err) return false;
    if (it->pos > UINT32_MAX) {
        it->err = flint_error(FLINT_ECORRUPT, "index: symbol table overrun");
        return false;
    }
    int rc = index_symbol(it->r, (uint32_t)it->pos, s, len);
    if (rc) {
        it->err = rc;
        return false;
    }
    it->pos = (size_t)((const uint8_t *)*s - it->r->sec[SEC_SYMBOLS]) + *len + 1;
    it->left--;
    return true;
}

uint32_t index_num_label_names(const index_reader *r) { return r->nnames; }

const char *index_label_name(const index_reader *r, uint32_t name_ord) {
    return name_ord < r->nnames ? r->names[name_ord].name : NULL;
}

int64_t index_label_name_find(const index_reader *r, const char *name) {
    uint32_t lo = 0, hi = r->nnames;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->names[mid].name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

uint32_t index_num_label_values(const index_reader *r, uint32_t name_ord) {
    return name_ord < r->nnames ? r->names[name_ord].nvalues : 0;
}

int index_label_value(const index_reader *r, uint32_t name_ord, uint32_t value_ord, const char **s, size_t *len) {
    if (name_ord >= r->nnames || value_ord >= r->names[name_ord].nvalues)
        return flint_error(FLINT_ECORRUPT, "index: label value %u of name %u out of range", value_ord, name_ord);
    const name_entry *ne = &r->names[name_ord];
    const uint8_t *p = ne->values + (size_t)value_ord * ne->width;
    uint32_t ref = 0;
    for (int i = 0; i < ne->width; i++) ref = ref << 8 | p[i];
    return index_symbol(r, ref, s, len);
}

int index_label_value_find(const index_reader *r, uint32_t name_ord, const char *value, uint32_t *ord) {
    if (name_ord >= r->nnames) return FLINT_ENOTFOUND;
    uint32_t lo = 0, hi = r->names[name_ord].nvalues;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *s;
        size_t len;
        int rc = index_label_value(r, name_ord, mid, &s, &len);
        if (rc) return rc;
        int c = strcmp(s, value);
        if (c == 0) {
            *ord = mid;
            return 0;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return FLINT_ENOTFOUND;
}

/* ---- postings ---------------------------------------------------------------- */

void index_postings_empty(index_postings *it) { memset(it, 0, sizeof *it); }

/* Parse the list starting at p (length-prefixed) into it. */
static int postings_init_at(const index_reader *r, const uint8_t *p, index_postings *it) {
    const uint8_t *at = p, *end = r->sec[SEC_POSTINGS] + r->sec_len[SEC_POSTINGS];
    index_postings_empty(it);
    uint64_t len, hdr, first = 0;
    if (!(p = uvarint_get(p, end, &len)) || len > (uint64_t)(end - p)) return corrupt_at(r, at, "malformed postings list");
    end = p + len;
    if (!(p = uvarint_get(p, end, &hdr))) return corrupt_at(r, at, "malformed postings list");
    uint64_t count = hdr >> 1;
    if (count > r->nseries) return corrupt_at(r, at, "postings list longer than the series count");
    if (count && !(p = uvarint_get(p, end, &first))) return corrupt_at(r, at, "malformed postings list");
    bool range = hdr & 1;
    if (count && (first >= r->nseries || (range && first + count > r->nseries)))
        return corrupt_at(r, at, "postings list refers to a series past the end");
    it->p = p;
    it->end = end;
    it->count = it->left = (uint32_t)count;
    it->first = (uint32_t)first;
    it->limit = r->nseries;
    it->range = range;
    return 0;
}

int index_postings_all(const index_reader *r, index_postings *it) { return postings_init_at(r, r->sec[SEC_POSTINGS], it); }

int index_postings_at_ord(const index_reader *r, uint32_t name_ord, uint32_t value_ord, index_postings *it) {
    index_postings_empty(it);
    if (name_ord >= r->nnames || value_ord >= r->names[name_ord].nvalues)
        return flint_error(FLINT_ECORRUPT, "index: postings for value %u of name %u out of range", value_ord, name_ord);
    size_t e = (size_t)r->names[name_ord].ptab_start + value_ord / INDEX_POSTINGS_GROUP; /* < nptab: checked at open */
    uint32_t off = be32_get(r->sec[SEC_POSTINGS_TABLE] + 4 + 4 * e);
    const uint8_t *p = r->sec[SEC_POSTINGS] + off, *end = r->sec[SEC_POSTINGS] + r->sec_len[SEC_POSTINGS];
    if (off >= r->sec_len[SEC_POSTINGS]) return corrupt_at(r, r->sec[SEC_POSTINGS_TABLE] + 4 + 4 * e, "postings offset out of range");
    for (uint32_t skip = value_ord % INDEX_POSTINGS_GROUP; skip; skip--) {
        uint64_t len;
        const uint8_t *q = uvarint_get(p, end, &len);
        if (!q || len > (uint64_t)(end - q)) return corrupt_at(r, p, "malformed postings list");
        p = q + len;
    }
    return postings_init_at(r, p, it);
}

int index_postings_get(const index_reader *r, const char *name, const char *value, index_postings *it) {
    index_postings_empty(it);
    int64_t n = index_label_name_find(r, name);
    if (n < 0) return 0;
    uint32_t v;
    int rc = index_label_value_find(r, (uint32_t)n, value, &v);
    if (rc) return rc == FLINT_ENOTFOUND ? 0 : rc;
    return index_postings_at_ord(r, (uint32_t)n, v, it);
}

bool index_postings_next(index_postings *it) {
    if (it->err || !it->left) return false;
    if (!it->started) {
        it->cur = it->first;
        it->started = true;
    } else if (it->range) {
        it->cur++;
    } else {
        uint64_t d;
        const uint8_t *p = uvarint_get(it->p, it->end, &d);
        if (!p || d >= (uint64_t)it->limit - it->cur - 1) {
            it->err = flint_error(FLINT_ECORRUPT, "index: malformed postings list entry");
            it->left = 0;
            return false;
        }
        it->p = p;
        it->cur += (uint32_t)d + 1;
    }
    it->left--;
    return true;
}

bool index_postings_seek(index_postings *it, uint32_t target) {
    if (it->started && it->cur >= target) return !it->err;
    if (it->range && it->left) {
        uint64_t last = (uint64_t)it->first + it->count - 1;
        if (target > last) {
            it->left = 0;
            return false;
        }
        it->cur = target > it->first ? target : it->first;
        it->started = true;
        it->left = (uint32_t)(last - it->cur);
        return true;
    }
    while (index_postings_next(it))
        if (it->cur >= target) return true;
    return false;
}

/* ---- series ------------------------------------------------------------------- */

void index_series_init(index_series *s) { memset(s, 0, sizeof *s); }

void index_series_free(index_series *s) {
    fl_free(s->labels);
    fl_free(s->chunks);
    index_series_init(s);
}

int index_series_get(const index_reader *r, uint32_t id, index_series *s) {
    s->nlabels = s->nchunks = 0;
    if (id >= r->nseries) return flint_error(FLINT_ENOTFOUND, "index: no series %u (%u series)", id, r->nseries);
    const uint8_t *sec = r->sec[SEC_SERIES], *end = sec + r->sec_len[SEC_SERIES];
    const uint8_t *tab = r->sec[SEC_SERIES_TABLE] + 4 + 4 * (size_t)(id / INDEX_SERIES_GROUP);
    uint32_t off = be32_get(tab);
    if (off >= r->sec_len[SEC_SERIES]) return corrupt_at(r, tab, "series offset out of range");
    const uint8_t *p = sec + off;
    int64_t base_mint, base_gap;
    uint64_t base_ref, base_span, len;
    if (!(p = varint_get(p, end, &base_mint)) || !(p = uvarint_get(p, end, &base_ref)) ||
        !(p = uvarint_get(p, end, &base_span)) || !(p = varint_get(p, end, &base_gap)))
        return corrupt_at(r, sec + off, "malformed series group header");
    for (uint32_t skip = id % INDEX_SERIES_GROUP;; skip--) {
        const uint8_t *q = uvarint_get(p, end, &len);
        if (!q || len > (uint64_t)(end - q)) return corrupt_at(r, p, "malformed series entry");
        if (!skip) {
            p = q;
            break;
        }
        p = q + len;
    }
    const uint8_t *at = p;
    end = p + len;
    uint64_t nl, nc, mode;
    if (!(p = uvarint_get(p, end, &nl)) || nl > (uint64_t)(end - p) / 2) return corrupt_at(r, at, "malformed series labels");
    if (fl_grow((void **)&s->labels, &s->labels_cap, nl, sizeof *s->labels)) return FLINT_ENOMEM;
    for (uint64_t i = 0; i < nl; i++) {
        uint64_t no, vo;
        if (!(p = uvarint_get(p, end, &no)) || !(p = uvarint_get(p, end, &vo)) || no >= r->nnames ||
            vo >= r->names[no].nvalues)
            return corrupt_at(r, at, "malformed series label ref");
        size_t vlen;
        int rc = index_label_value(r, (uint32_t)no, (uint32_t)vo, &s->labels[i].value, &vlen);
        if (rc) return rc;
        s->labels[i].name = r->names[no].name;
    }
    s->nlabels = (size_t)nl;
    if (!(p = uvarint_get(p, end, &nc)) || nc > (uint64_t)(end - p) / 3) return corrupt_at(r, at, "malformed series chunk count");
    if (nc && !(p = uvarint_get(p, end, &mode))) return corrupt_at(r, at, "malformed series chunk encoding");
    if (nc && mode > 256) return corrupt_at(r, at, "bad series chunk encoding");
    if (fl_grow((void **)&s->chunks, &s->chunks_cap, nc, sizeof *s->chunks)) return FLINT_ENOMEM;
    uint64_t span = base_span;
    int64_t gap = base_gap;
    for (uint64_t i = 0; i < nc; i++) {
        int64_t dmint, dspan;
        uint64_t dref;
        if (!(p = varint_get(p, end, &dmint)) || !(p = varint_get(p, end, &dspan)) || !(p = uvarint_get(p, end, &dref)))
            return corrupt_at(r, at, "malformed chunk meta");
        index_chunk_meta *c = &s->chunks[i];
        span += (uint64_t)dspan;
        if (i == 0) {
            c->mint = tadd(base_mint, dmint);
            c->ref = base_ref + (uint64_t)zigzag_dec(dref);
        } else {
            gap = tadd(gap, dmint);
            c->mint = tadd(c[-1].maxt, gap);
            c->ref = c[-1].ref + dref;
        }
        /* maxt = mint + span must not pass INT64_MAX */
        if (span > (uint64_t)INT64_MAX - (uint64_t)c->mint) return corrupt_at(r, at, "chunk meta span overflows");
        c->maxt = tadd(c->mint, (int64_t)span);
        if (mode) {
            c->enc = (uint8_t)(mode - 1);
        } else {
            if (p >= end) return corrupt_at(r, at, "malformed chunk meta");
            c->enc = *p++;
        }
    }
    s->nchunks = (size_t)nc;
    if (p != end) return corrupt_at(r, p, "trailing bytes in series entry");
    return 0;
}
