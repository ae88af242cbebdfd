/*
 * block.c - block writer, reader and queries (see block.h; layout in
 * docs/format/block.md, index bytes in docs/format/index.md).
 *
 * Writer: chunks stream into the segment files as series arrive; labels
 * are interned (so the symbol set falls out of the interner) and kept with
 * the chunk metas until commit, which writes the index and meta.json,
 * fsyncs and renames `<ULID>.tmp` to `<ULID>`.
 *
 * Selection follows Prometheus' PostingsForMatchers: a matcher that does
 * not match "" contributes the union of the postings of the values it
 * matches, to be intersected; one that matches "" contributes the union of
 * the postings of the values it rejects, to be subtracted (series without
 * the label have the empty value, so they stay). With nothing to
 * intersect, the base is the all-postings list.
 */
#include "tsdb/block.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/chunkfile.h"
#include "storage/err.h"
#include "storage/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* out = a/b; FLINT_EINVAL when it does not fit PATH_MAX. */
static int path_join(char *out, size_t cap, const char *a, const char *b) {
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap) return flint_error(FLINT_EINVAL, "path too long: %s/%s", a, b);
    return 0;
}

/* Re-raise the current error message with a prefix naming the block. */
static int prefix_error(int rc, const char *what) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", flint_errmsg());
    return flint_error(rc, "%s: %s", what, msg);
}

/* ============================================================================
 * writer
 * ========================================================================== */

typedef struct series_rec {
    size_t label_off, nlabels;
    size_t chunk_off, nchunks;
} series_rec;

struct block_writer {
    char *data_dir;
    char tmp_dir[PATH_MAX];
    char final_dir[PATH_MAX];
    block_meta meta;           /* sources/parents owned */
    uint64_t segment_bytes;
    chunkfile_writer *cw;
    symtab *syms;
    const char **symlist;      /* distinct interned strings */
    size_t nsyms, syms_cap;
    label *labels;             /* interned, series after series */
    size_t nlabels, labels_cap;
    index_chunk_meta *chunks;
    size_t nchunks, chunks_cap;
    series_rec *series;
    size_t nseries, series_cap;
    int err;
    bool committed;
};

const char *block_writer_ulid(const block_writer *w) { return w->meta.ulid; }

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int block_writer_new(const char *data_dir, int64_t mint, int64_t maxt, const block_writer_opts *opts,
                     block_writer **out) {
    *out = NULL;
    if (maxt <= mint) return flint_error(FLINT_EINVAL, "block: empty time range [%lld, %lld)", (long long)mint, (long long)maxt);
    block_writer *w = fl_calloc(1, sizeof *w);
    if (!w) return FLINT_ENOMEM;
    w->committed = true; /* nothing on disk to abort yet */
    block_ulid_new(now_ms(), w->meta.ulid);
    w->meta.min_time = mint;
    w->meta.max_time = maxt;
    w->meta.version = 1;
    w->meta.level = opts && opts->level > 0 ? opts->level : 1;
    w->segment_bytes = opts ? opts->segment_bytes : 0;
    size_t ns = opts && opts->nsources ? opts->nsources : 1, np = opts ? opts->nparents : 0;
    w->data_dir = fl_strdup(data_dir);
    w->meta.sources = fl_malloc(ns * sizeof *w->meta.sources);
    w->meta.parents = np ? fl_malloc(np * sizeof *w->meta.parents) : NULL;
    w->syms = symtab_new();
    int rc = 0;
    if (!w->data_dir || !w->meta.sources || (np && !w->meta.parents) || !w->syms) rc = FLINT_ENOMEM;
    if (!rc) {
        if (opts && opts->nsources) memcpy(w->meta.sources, opts->sources, ns * sizeof *w->meta.sources);
        else memcpy(w->meta.sources[0], w->meta.ulid, sizeof(block_ulid));
        w->meta.nsources = ns;
        if (np) memcpy(w->meta.parents, opts->parents, np * sizeof *w->meta.parents);
        w->meta.nparents = np;
        snprintf(w->tmp_dir, sizeof w->tmp_dir, "%s/%s.tmp", data_dir, w->meta.ulid);
        snprintf(w->final_dir, sizeof w->final_dir, "%s/%s", data_dir, w->meta.ulid);
        rc = strlen(data_dir) + BLOCK_ULID_LEN + 32 < PATH_MAX ? fio_mkdir_p(data_dir)
                                                               : flint_error(FLINT_EINVAL, "block: data directory path too long");
    }
    if (!rc) {
        if (mkdir(w->tmp_dir, 0755) != 0)
            rc = flint_error(errno == ENOSPC ? FLINT_ENOSPC : FLINT_EIO, "mkdir %s: %s", w->tmp_dir, strerror(errno));
        else w->committed = false;
    }
    if (!rc) {
        char chunks[PATH_MAX];
        rc = path_join(chunks, sizeof chunks, w->tmp_dir, "chunks");
        if (!rc) rc = chunkfile_writer_new(chunks, w->segment_bytes, &w->cw);
    }
    if (rc) {
        block_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* The caller reserved room in symlist, so a new string is always listed
 * (an interned string missing from symlist would break the index). */
static const char *intern(block_writer *w, const char *s) {
    size_t before = symtab_count(w->syms);
    const char *p = symtab_intern(w->syms, s, strlen(s));
    if (p && symtab_count(w->syms) != before) w->symlist[w->nsyms++] = p;
    return p;
}

static int check_series(const block_writer *w, const labels *l, const block_chunk *c, size_t n) {
    if (l->n == 0) return flint_error(FLINT_EINVAL, "block: series without labels");
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->v[i - 1].name, l->v[i].name) >= 0)
            return flint_error(FLINT_EINVAL, "block: label names not sorted and unique at \"%s\"", l->v[i].name);
    if (w->nseries) {
        const series_rec *p = &w->series[w->nseries - 1];
        labels prev = {w->labels + p->label_off, p->nlabels};
        if (labels_cmp(&prev, l) >= 0) {
            char buf[256];
            labels_format(l, buf, sizeof buf);
            return flint_error(FLINT_EINVAL, "block: series %s added out of order", buf);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i].maxt < c[i].mint || c[i].mint < w->meta.min_time || c[i].maxt >= w->meta.max_time)
            return flint_error(FLINT_EINVAL, "block: chunk [%lld, %lld] outside block range [%lld, %lld) or inverted",
                               (long long)c[i].mint, (long long)c[i].maxt, (long long)w->meta.min_time,
                               (long long)w->meta.max_time);
        if (i && c[i].mint <= c[i - 1].maxt)
            return flint_error(FLINT_EINVAL, "block: chunks of a series overlap or are unsorted at mint %lld",
                               (long long)c[i].mint);
    }
    return 0;
}

int block_writer_add_series(block_writer *w, const labels *l, const block_chunk *c, size_t n) {
    if (w->err) return w->err;
    if (w->committed) return flint_error(FLINT_EINVAL, "block: writer already committed");
    int rc = check_series(w, l, c, n);
    if (rc) return rc;
    if (fl_grow((void **)&w->labels, &w->labels_cap, w->nlabels + l->n, sizeof *w->labels) ||
        fl_grow((void **)&w->chunks, &w->chunks_cap, w->nchunks + n, sizeof *w->chunks) ||
        fl_grow((void **)&w->series, &w->series_cap, w->nseries + 1, sizeof *w->series) ||
        fl_grow((void **)&w->symlist, &w->syms_cap, w->nsyms + 2 * l->n, sizeof *w->symlist))
        return FLINT_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = intern(w, l->v[i].name), *value = intern(w, l->v[i].value);
        if (!name || !value) return FLINT_ENOMEM; /* interned strings unused so far: harmless */
        w->labels[w->nlabels + i] = (label){name, value};
    }
    for (size_t i = 0; i < n; i++) {
        index_chunk_meta *m = &w->chunks[w->nchunks + i];
        m->mint = c[i].mint;
        m->maxt = c[i].maxt;
        m->enc = c[i].enc;
        rc = chunkfile_writer_add(w->cw, c[i].enc, c[i].data, c[i].len, &m->ref);
        if (rc) return w->err = rc; /* segment state unknown: the writer is done */
    }
    w->series[w->nseries++] = (series_rec){w->nlabels, l->n, w->nchunks, n};
    w->nlabels += l->n;
    w->nchunks += n;
    for (size_t i = 0; i < n; i++) w->meta.num_samples += c[i].nsamples;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int write_index(block_writer *w) {
    char path[PATH_MAX];
    if (path_join(path, sizeof path, w->tmp_dir, "index")) return FLINT_EINVAL;
    if (w->nsyms > 1) qsort(w->symlist, w->nsyms, sizeof *w->symlist, cmp_str);
    index_writer *iw;
    int rc = index_writer_new(path, &iw);
    if (rc) return rc;
    index_pair *pairs = NULL;
    size_t cap = 0;
    rc = index_writer_set_symbols(iw, w->symlist, w->nsyms);
    for (size_t s = 0; s < w->nseries && !rc; s++) {
        const series_rec *r = &w->series[s];
        if (fl_grow((void **)&pairs, &cap, r->nlabels, sizeof *pairs)) {
            rc = FLINT_ENOMEM;
            break;
        }
        for (size_t i = 0; i < r->nlabels; i++)
            pairs[i] = (index_pair){w->labels[r->label_off + i].name, w->labels[r->label_off + i].value};
        rc = index_writer_add_series(iw, pairs, r->nlabels, w->chunks + r->chunk_off, r->nchunks);
    }
    if (!rc) rc = index_writer_finish(iw);
    index_writer_free(iw);
    fl_free(pairs);
    return rc;
}

static int write_meta(const char *dir, const block_meta *m) {
    char path[PATH_MAX], *json;
    size_t len;
    snprintf(path, sizeof path, "%s/meta.json", dir);
    int rc = block_meta_format(m, &json, &len);
    if (rc) return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) rc = flint_error(errno == ENOSPC ? FLINT_ENOSPC : FLINT_EIO, "create %s: %s", path, strerror(errno));
    if (!rc) rc = fio_write_all(fd, json, len, path);
    if (!rc) rc = fio_fsync(fd, path);
    if (fd >= 0 && close(fd) != 0 && !rc) rc = flint_error(FLINT_EIO, "close %s: %s", path, strerror(errno));
    fl_free(json);
    return rc;
}

int block_writer_commit(block_writer *w, block_ulid ulid_out) {
    if (w->err) return w->err;
    if (w->committed) return flint_error(FLINT_EINVAL, "block: writer already committed");
    w->meta.num_series = w->nseries;
    w->meta.num_chunks = w->nchunks;
    int rc = chunkfile_writer_finish(w->cw);
    if (!rc) rc = write_index(w);
    if (!rc) rc = write_meta(w->tmp_dir, &w->meta);
    if (!rc) rc = fio_fsync_dir(w->tmp_dir);
    if (!rc) rc = fio_rename(w->tmp_dir, w->final_dir);
    if (rc) return w->err = rc;
    w->committed = true;
    if (ulid_out) memcpy(ulid_out, w->meta.ulid, sizeof(block_ulid));
    return 0;
}

void block_writer_abort(block_writer *w) {
    if (!w) return;
    chunkfile_writer_free(w->cw);
    if (!w->committed) fio_rm_rf(w->tmp_dir);
    symtab_free(w->syms);
    fl_free(w->symlist);
    fl_free(w->labels);
    fl_free(w->chunks);
    fl_free(w->series);
    block_meta_free(&w->meta);
    fl_free(w->data_dir);
    fl_free(w);
}

void block_writer_free(block_writer *w) { block_writer_abort(w); }

/* ============================================================================
 * reader
 * ========================================================================== */

struct block {
    char *dir;
    block_meta meta;
    fio_map index_map;
    index_reader *ix;
    chunkfile_reader *chunks;
    uint64_t size;
};

int block_open(const char *dir, block **out) {
    *out = NULL;
    block *b = fl_calloc(1, sizeof *b);
    if (!b) return FLINT_ENOMEM;
    char path[PATH_MAX];
    int rc = (b->dir = fl_strdup(dir)) ? 0 : FLINT_ENOMEM;
    if (!rc && (rc = block_meta_read(dir, &b->meta)) != 0 && rc != FLINT_ENOMEM) rc = prefix_error(rc, "block");
    if (!rc) {
        const char *base = strrchr(dir, '/');
        base = base ? base + 1 : dir;
        if (block_ulid_valid(base) && strcmp(base, b->meta.ulid) != 0)
            rc = flint_error(FLINT_ECORRUPT, "block %s: meta.json names block %s", dir, b->meta.ulid);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/index", dir);
        rc = fio_map_file(path, &b->index_map);
        if (!rc) rc = index_reader_open(b->index_map.data, b->index_map.size, 0, &b->ix);
        if (rc && rc != FLINT_ENOMEM) rc = prefix_error(rc, path);
    }
    if (!rc && index_num_series(b->ix) != b->meta.num_series)
        rc = flint_error(FLINT_ECORRUPT, "block %s: index has %u series, meta.json says %llu", dir,
                         index_num_series(b->ix), (unsigned long long)b->meta.num_series);
    if (!rc) {
        snprintf(path, sizeof path, "%s/chunks", dir);
        rc = chunkfile_reader_open(path, &b->chunks);
        if (rc && rc != FLINT_ENOMEM) rc = prefix_error(rc, "block");
    }
    if (rc) {
        block_close(b);
        return rc;
    }
    snprintf(path, sizeof path, "%s/meta.json", dir);
    struct stat st;
    b->size = b->index_map.size + chunkfile_reader_bytes(b->chunks) + (stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
    *out = b;
    return 0;
}

void block_close(block *b) {
    if (!b) return;
    index_reader_free(b->ix);
    fio_unmap(&b->index_map);
    chunkfile_reader_free(b->chunks);
    block_meta_free(&b->meta);
    fl_free(b->dir);
    fl_free(b);
}

const block_meta *block_get_meta(const block *b) { return &b->meta; }
const char *block_path(const block *b) { return b->dir; }
uint64_t block_size_bytes(const block *b) { return b->size; }
uint32_t block_num_series(const block *b) { return index_num_series(b->ix); }
const index_reader *block_index(const block *b) { return b->ix; }

int block_chunk_get(const block *b, uint64_t ref, uint8_t *enc, const uint8_t **data, size_t *len) {
    return chunkfile_read(b->chunks, ref, enc, data, len);
}

void block_series_init(block_series *s) {
    memset(s, 0, sizeof *s);
    index_series_init(&s->raw);
}

void block_series_free(block_series *s) {
    fl_free(s->labels);
    index_series_free(&s->raw);
    block_series_init(s);
}

int block_series_get(const block *b, uint32_t id, int64_t mint, int64_t maxt, block_series *s) {
    s->nlabels = s->nchunks = 0;
    int rc = index_series_get(b->ix, id, &s->raw);
    if (rc) return rc;
    if (fl_grow((void **)&s->labels, &s->labels_cap, s->raw.nlabels, sizeof *s->labels)) return FLINT_ENOMEM;
    for (size_t i = 0; i < s->raw.nlabels; i++) s->labels[i] = (label){s->raw.labels[i].name, s->raw.labels[i].value};
    s->nlabels = s->raw.nlabels;
    /* keep the overlapping chunks, in place */
    size_t k = 0;
    for (size_t i = 0; i < s->raw.nchunks; i++)
        if (s->raw.chunks[i].maxt >= mint && s->raw.chunks[i].mint <= maxt) s->raw.chunks[k++] = s->raw.chunks[i];
    s->chunks = s->raw.chunks;
    s->nchunks = k;
    return 0;
}

/* ---- postings sets ------------------------------------------------------------- */

void block_postings_init(block_postings *p) { memset(p, 0, sizeof *p); }
void block_postings_free(block_postings *p) {
    fl_free(p->ids);
    block_postings_init(p);
}

static int set_push(block_postings *s, uint32_t id) {
    if (s->n == s->cap && fl_grow((void **)&s->ids, &s->cap, s->n + 1, sizeof *s->ids)) return FLINT_ENOMEM;
    s->ids[s->n++] = id;
    return 0;
}

static int set_from_iter(block_postings *s, index_postings *it) {
    s->n = 0;
    if (fl_grow((void **)&s->ids, &s->cap, it->count, sizeof *s->ids)) return FLINT_ENOMEM;
    while (index_postings_next(it)) s->ids[s->n++] = index_postings_at(it);
    return index_postings_err(it);
}

/* Union of several lists: a bitmap over the series ids. */
typedef struct list_union {
    uint64_t *bits;
    size_t nwords;
    size_t lists;
    index_postings first;  /* the only list, while there is one */
} list_union;

static int union_add(const block *b, list_union *u, index_postings *it) {
    if (it->count == 0) return 0;
    if (u->lists++ == 0) {
        u->first = *it;
        return 0;
    }
    if (!u->bits) {
        u->nwords = (index_num_series(b->ix) + 63) / 64;
        u->bits = fl_calloc(u->nwords ? u->nwords : 1, sizeof *u->bits);
        if (!u->bits) return FLINT_ENOMEM;
        while (index_postings_next(&u->first)) u->bits[index_postings_at(&u->first) / 64] |= 1ull << (index_postings_at(&u->first) % 64);
        if (index_postings_err(&u->first)) return index_postings_err(&u->first);
    }
    while (index_postings_next(it)) u->bits[index_postings_at(it) / 64] |= 1ull << (index_postings_at(it) % 64);
    return index_postings_err(it);
}

static int union_finish(list_union *u, block_postings *out) {
    out->n = 0;
    int rc = 0;
    if (u->lists == 1) {
        rc = set_from_iter(out, &u->first);
    } else if (u->lists > 1 && u->bits) { /* no bitmap: union_add failed, caller has the error */
        for (size_t w = 0; w < u->nwords && !rc; w++)
            for (uint64_t word = u->bits[w]; word && !rc; word &= word - 1)
                rc = set_push(out, (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word)));
    }
    fl_free(u->bits);
    u->bits = NULL;
    return rc;
}

static int union_lookup(const block *b, list_union *u, uint32_t name, const char *value) {
    uint32_t v;
    int rc = index_label_value_find(b->ix, name, value, &v);
    if (rc) return rc == FLINT_ENOTFOUND ? 0 : rc;
    index_postings it;
    rc = index_postings_at_ord(b->ix, name, v, &it);
    return rc ? rc : union_add(b, u, &it);
}

/* The series having label m->name with a value v where matches(v) == want. */
static int matcher_set(const block *b, const matcher *m, bool want, block_postings *out) {
    out->n = 0;
    int64_t name = index_label_name_find(b->ix, m->name);
    if (name < 0) return 0;
    list_union u = {0};
    int rc = 0;
    bool literal_eq = (m->type == MATCH_EQ && want) || (m->type == MATCH_NEQ && !want);
    bool literal_alts = m->alts && ((m->type == MATCH_RE && want) || (m->type == MATCH_NRE && !want));
    if (literal_eq) {
        rc = union_lookup(b, &u, (uint32_t)name, m->value);
    } else if (literal_alts) {
        for (size_t i = 0; i < m->nalts && !rc; i++) rc = union_lookup(b, &u, (uint32_t)name, m->alts[i]);
    } else {
        uint32_t nv = index_num_label_values(b->ix, (uint32_t)name);
        for (uint32_t i = 0; i < nv && !rc; i++) {
            const char *s;
            size_t len;
            if ((rc = index_label_value(b->ix, (uint32_t)name, i, &s, &len))) break;
            if (matcher_matches(m, s, len) != want) continue;
            index_postings it;
            if (!(rc = index_postings_at_ord(b->ix, (uint32_t)name, i, &it))) rc = union_add(b, &u, &it);
        }
    }
    int rc2 = union_finish(&u, out);
    return rc ? rc : rc2;
}

/* a := a ∩ b, or a := a \ b when subtract. */
static void set_merge(block_postings *a, const block_postings *b, bool subtract) {
    size_t i = 0, j = 0, k = 0;
    while (i < a->n) {
        while (j < b->n && b->ids[j] < a->ids[i]) j++;
        bool in_b = j < b->n && b->ids[j] == a->ids[i];
        if (in_b != subtract) a->ids[k++] = a->ids[i];
        i++;
    }
    a->n = k;
}

int block_select(const block *b, const matcher *ms, size_t n, block_postings *out) {
    out->n = 0;
    block_postings cur = {0};
    int rc = 0;
    bool have = false;
    /* intersections first (smallest sets end the work early), then
     * subtractions */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (size_t i = 0; i < n && !rc; i++) {
            bool empty_ok = matcher_matches_empty(&ms[i]);
            if (empty_ok != (pass == 1)) continue;
            if (pass == 1 && !have) {
                index_postings all;
                if ((rc = index_postings_all(b->ix, &all)) || (rc = set_from_iter(out, &all))) break;
                have = true;
            }
            if ((rc = matcher_set(b, &ms[i], !empty_ok, &cur))) break;
            if (!have) {
                block_postings t = *out;
                *out = cur;
                cur = t;
                have = true;
            } else {
                set_merge(out, &cur, empty_ok);
            }
            if (out->n == 0) goto done;
        }
    }
    if (!rc && !have) {
        index_postings all;
        if (!(rc = index_postings_all(b->ix, &all))) rc = set_from_iter(out, &all);
    }
done:
    block_postings_free(&cur);
    if (rc) out->n = 0;
    return rc;
}

/* ---- label names and values -------------------------------------------------------- */

int block_label_names(const block *b, const matcher *ms, size_t n, const char ***out, size_t *count) {
    *out = NULL;
    *count = 0;
    uint32_t nn = index_num_label_names(b->ix);
    const char **v = fl_malloc((nn ? nn : 1) * sizeof *v);
    if (!v) return FLINT_ENOMEM;
    if (n == 0) {
        for (uint32_t i = 0; i < nn; i++) v[i] = index_label_name(b->ix, i);
        *out = v;
        *count = nn;
        return 0;
    }
    bool *seen = fl_calloc(nn ? nn : 1, sizeof *seen);
    block_postings sel = {0};
    index_series s;
    index_series_init(&s);
    int rc = seen ? block_select(b, ms, n, &sel) : FLINT_ENOMEM;
    for (size_t k = 0; k < sel.n && !rc; k++) {
        if ((rc = index_series_get(b->ix, sel.ids[k], &s))) break;
        for (size_t i = 0; i < s.nlabels; i++) {
            int64_t o = index_label_name_find(b->ix, s.labels[i].name);
            if (o >= 0) seen[o] = true;
        }
    }
    size_t c = 0;
    for (uint32_t i = 0; i < nn && !rc; i++)
        if (seen[i]) v[c++] = index_label_name(b->ix, i);
    index_series_free(&s);
    block_postings_free(&sel);
    fl_free(seen);
    if (rc) {
        fl_free(v);
        return rc;
    }
    *out = v;
    *count = c;
    return 0;
}

int block_label_values(const block *b, const char *name, const matcher *ms, size_t n, const char ***out,
                       size_t *count) {
    *out = NULL;
    *count = 0;
    int64_t no = index_label_name_find(b->ix, name);
    uint32_t nv = no >= 0 ? index_num_label_values(b->ix, (uint32_t)no) : 0;
    const char **v = fl_malloc((nv ? nv : 1) * sizeof *v);
    if (!v) return FLINT_ENOMEM;
    int rc = 0;
    size_t c = 0;
    if (n == 0) {
        for (uint32_t i = 0; i < nv && !rc; i++) {
            size_t len;
            rc = index_label_value(b->ix, (uint32_t)no, i, &v[c++], &len);
        }
    } else if (nv) {
        /* mark the value ordinals the selected series use */
        block_postings sel = {0};
        index_series s;
        index_series_init(&s);
        bool *seen = fl_calloc(nv, sizeof *seen);
        rc = seen ? block_select(b, ms, n, &sel) : FLINT_ENOMEM;
        for (size_t k = 0; k < sel.n && !rc; k++) {
            if ((rc = index_series_get(b->ix, sel.ids[k], &s))) break;
            for (size_t i = 0; i < s.nlabels; i++) {
                if (strcmp(s.labels[i].name, name) != 0) continue;
                uint32_t o;
                int frc = index_label_value_find(b->ix, (uint32_t)no, s.labels[i].value, &o);
                if (frc == 0) seen[o] = true;
                else if (frc != FLINT_ENOTFOUND) rc = frc;
                break;
            }
        }
        for (uint32_t i = 0; i < nv && !rc; i++) {
            size_t len;
            if (seen[i]) rc = index_label_value(b->ix, (uint32_t)no, i, &v[c++], &len);
        }
        fl_free(seen);
        index_series_free(&s);
        block_postings_free(&sel);
    }
    if (rc) {
        fl_free(v);
        return rc;
    }
    *out = v;
    *count = c;
    return 0;
}

/* ---- directory management ------------------------------------------------------------ */

static void parent_of(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == out) out[1] = 0;
    else *slash = 0;
}

int block_delete(const char *dir) {
    char gone[PATH_MAX], parent[PATH_MAX];
    snprintf(gone, sizeof gone, "%s.deleted", dir);
    parent_of(dir, parent, sizeof parent);
    int rc = fio_rm_rf(gone); /* a previous delete that crashed */
    if (!rc && !fio_exists(dir)) return flint_error(FLINT_ENOTFOUND, "block %s: no such block", dir);
    if (!rc) rc = fio_rename(dir, gone);
    if (!rc) rc = fio_rm_rf(gone);
    if (!rc) rc = fio_fsync_dir(parent);
    return rc;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int cmp_ulid(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

int block_list(const char *data_dir, bool remove_leftovers, block_ulid **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(data_dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return flint_error(FLINT_EIO, "opendir %s: %s", data_dir, strerror(errno));
    }
    block_ulid *v = NULL;
    size_t c = 0, cap = 0;
    int rc = 0;
    bool removed = false;
    struct dirent *e;
    while ((e = readdir(d)) && !rc) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", data_dir, e->d_name);
        if (has_suffix(e->d_name, ".tmp") || has_suffix(e->d_name, ".deleted")) {
            /* only block leftovers: <ULID>.tmp / <ULID>.deleted */
            if (remove_leftovers && strlen(e->d_name) > BLOCK_ULID_LEN && e->d_name[BLOCK_ULID_LEN] == '.') {
                char id[BLOCK_ULID_LEN + 1];
                memcpy(id, e->d_name, BLOCK_ULID_LEN);
                id[BLOCK_ULID_LEN] = 0;
                if (block_ulid_valid(id)) {
                    rc = fio_rm_rf(path);
                    removed = true;
                }
            }
            continue;
        }
        if (!block_ulid_valid(e->d_name)) continue;
        char meta[PATH_MAX];
        if (path_join(meta, sizeof meta, path, "meta.json") || !fio_exists(meta)) continue;
        if (fl_grow((void **)&v, &cap, c + 1, sizeof *v)) {
            rc = FLINT_ENOMEM;
            break;
        }
        memcpy(v[c++], e->d_name, sizeof(block_ulid));
    }
    closedir(d);
    if (!rc && removed) rc = fio_fsync_dir(data_dir);
    if (rc) {
        fl_free(v);
        return rc;
    }
    if (c > 1) qsort(v, c, sizeof *v, cmp_ulid);
    *out = v;
    *n = c;
    return 0;
}
