/*
 * blockbuild.c - blocks straight from sample runs (see blockbuild.h).
 *
 * Per series: its labels (interned), the encoded chunks so far (bytes in one
 * growable buffer per series, metas beside), and a raw "pending" tail that
 * becomes a chunk when it reaches chunk_samples, crosses a window boundary,
 * or ends a long run. A run older than what the series already holds marks
 * the series unsorted: finish() decodes, sorts and re-encodes it.
 */
#include "tsdb/blockbuild.h"
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "tsdb/block.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BB_DEFAULT_CHUNK 480
#define BB_LOCKS 64

typedef struct bb_chunk {
    int64_t mint, maxt;
    uint32_t off, len, nsamples;
    uint8_t enc;
} bb_chunk;

typedef struct bb_series {
    label *lv;
    size_t nl;
    fl_buf bytes;
    bb_chunk *chunks;
    size_t nchunks, capchunks;
    int64_t *pt;
    double *pv;
    size_t npend, cappend;
    int64_t last_t;
    uint64_t last_vbits;
    int has_last;
    int unsorted;
} bb_series;

struct blockbuild {
    char *dir;
    int64_t block_ms;
    uint32_t chunk_samples;
    symtab *syms;
    pthread_mutex_t mu; /* series table */
    pthread_mutex_t locks[BB_LOCKS];
    bb_series **series;
    size_t nseries, capseries;
    uint32_t *slots; /* hash -> id+1 */
    uint64_t *slot_hash;
    size_t nslots;
    blockbuild_stats st;
    pthread_mutex_t st_mu;
};

static int64_t window_of(const blockbuild *b, int64_t t) {
    int64_t w = t / b->block_ms;
    if (t < 0 && t % b->block_ms) w--;
    return w;
}

int blockbuild_new(const char *data_dir, int64_t block_ms, uint32_t chunk_samples, blockbuild **out) {
    if (block_ms <= 0) return flint_error(FLINT_EINVAL, "block range must be positive");
    blockbuild *b = fl_calloc(1, sizeof *b);
    if (!b) return FLINT_ENOMEM;
    b->dir = fl_strdup(data_dir);
    b->syms = symtab_new();
    b->nslots = 1024;
    b->slots = fl_calloc(b->nslots, sizeof *b->slots);
    b->slot_hash = fl_calloc(b->nslots, sizeof *b->slot_hash);
    if (!b->dir || !b->syms || !b->slots || !b->slot_hash) {
        fl_free(b->dir);
        symtab_free(b->syms);
        fl_free(b->slots);
        fl_free(b->slot_hash);
        fl_free(b);
        return FLINT_ENOMEM;
    }
    b->block_ms = block_ms;
    b->chunk_samples = chunk_samples ? chunk_samples : BB_DEFAULT_CHUNK;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->st_mu, NULL);
    for (int i = 0; i < BB_LOCKS; i++) pthread_mutex_init(&b->locks[i], NULL);
    b->st.mint = INT64_MAX;
    b->st.maxt = INT64_MIN;
    *out = b;
    return 0;
}

static void series_free(bb_series *s) {
    if (!s) return;
    fl_free(s->lv);
    fl_buf_free(&s->bytes);
    fl_free(s->chunks);
    fl_free(s->pt);
    fl_free(s->pv);
    fl_free(s);
}

void blockbuild_free(blockbuild *b) {
    if (!b) return;
    for (size_t i = 0; i < b->nseries; i++) series_free(b->series[i]);
    fl_free(b->series);
    fl_free(b->slots);
    fl_free(b->slot_hash);
    symtab_free(b->syms);
    fl_free(b->dir);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->st_mu);
    for (int i = 0; i < BB_LOCKS; i++) pthread_mutex_destroy(&b->locks[i]);
    fl_free(b);
}

static int grow_slots(blockbuild *b) {
    size_t ns = b->nslots * 2;
    uint32_t *slots = fl_calloc(ns, sizeof *slots);
    uint64_t *hashes = fl_calloc(ns, sizeof *hashes);
    if (!slots || !hashes) {
        fl_free(slots);
        fl_free(hashes);
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < b->nslots; i++) {
        if (!b->slots[i]) continue;
        size_t j = b->slot_hash[i] & (ns - 1);
        while (slots[j]) j = (j + 1) & (ns - 1);
        slots[j] = b->slots[i];
        hashes[j] = b->slot_hash[i];
    }
    fl_free(b->slots);
    fl_free(b->slot_hash);
    b->slots = slots;
    b->slot_hash = hashes;
    b->nslots = ns;
    return 0;
}

static bb_series *series_create(blockbuild *b, const labels *l) {
    bb_series *s = fl_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->lv = fl_malloc(l->n * sizeof(label));
    if (!s->lv) goto oom;
    for (size_t i = 0; i < l->n; i++) {
        s->lv[i].name = symtab_intern(b->syms, l->v[i].name, strlen(l->v[i].name));
        s->lv[i].value = symtab_intern(b->syms, l->v[i].value, strlen(l->v[i].value));
        if (!s->lv[i].name || !s->lv[i].value) goto oom;
    }
    s->nl = l->n;
    return s;
oom:
    series_free(s);
    return NULL;
}

int blockbuild_series(blockbuild *b, const labels *l, uint32_t *id) {
    int rc = labels_validate(l);
    if (rc) return rc;
    uint64_t h = labels_hash(l);
    pthread_mutex_lock(&b->mu);
    size_t mask = b->nslots - 1, i = h & mask;
    while (b->slots[i]) {
        if (b->slot_hash[i] == h) {
            bb_series *s = b->series[b->slots[i] - 1];
            labels sl = {s->lv, s->nl};
            if (labels_equal(&sl, l)) {
                *id = b->slots[i] - 1;
                pthread_mutex_unlock(&b->mu);
                return 0;
            }
        }
        i = (i + 1) & mask;
    }
    rc = FLINT_ENOMEM;
    if ((b->nseries + 1) * 2 > b->nslots) {
        if (grow_slots(b)) goto out;
        mask = b->nslots - 1;
        i = h & mask;
        while (b->slots[i]) i = (i + 1) & mask;
    }
    if (b->nseries >= UINT32_MAX - 1) {
        rc = flint_error(FLINT_ELIMIT, "too many series");
        goto out;
    }
    if (fl_grow((void **)&b->series, &b->capseries, b->nseries + 1, sizeof *b->series)) goto out;
    bb_series *s = series_create(b, l);
    if (!s) goto out;
    b->series[b->nseries] = s;
    b->slots[i] = (uint32_t)b->nseries + 1;
    b->slot_hash[i] = h;
    *id = (uint32_t)b->nseries++;
    rc = 0;
out:
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Encode the pending samples of s into a chunk. Caller holds the lock. */
static int flush_pending(blockbuild *b, bb_series *s) {
    if (!s->npend) return 0;
    if (fl_grow((void **)&s->chunks, &s->capchunks, s->nchunks + 1, sizeof *s->chunks)) return FLINT_ENOMEM;
    size_t off = s->bytes.len;
    int enc;
    int rc = chunk_encode(s->pt, s->pv, s->npend, 0, &s->bytes, &enc);
    if (rc) return rc;
    bb_chunk *c = &s->chunks[s->nchunks++];
    c->mint = s->pt[0];
    c->maxt = s->pt[s->npend - 1];
    c->off = (uint32_t)off;
    c->len = (uint32_t)(s->bytes.len - off);
    c->enc = (uint8_t)enc;
    c->nsamples = (uint32_t)s->npend;
    s->npend = 0;
    (void)b;
    return 0;
}

static int push_sample(blockbuild *b, bb_series *s, int64_t t, double v) {
    if (!s->unsorted && s->npend &&
        (s->npend >= b->chunk_samples || window_of(b, s->pt[0]) != window_of(b, t))) {
        int rc = flush_pending(b, s);
        if (rc) return rc;
    }
    if (s->npend == s->cappend) {
        size_t nc = s->cappend ? s->cappend * 2 : 64;
        int64_t *pt = fl_realloc(s->pt, nc * sizeof *pt);
        if (!pt) return FLINT_ENOMEM;
        s->pt = pt;
        double *pv = fl_realloc(s->pv, nc * sizeof *pv);
        if (!pv) return FLINT_ENOMEM;
        s->pv = pv;
        s->cappend = nc;
    }
    s->pt[s->npend] = t;
    s->pv[s->npend] = v;
    s->npend++;
    return 0;
}

static void series_name(const bb_series *s, char *buf, size_t cap) {
    labels l = {s->lv, s->nl};
    labels_format(&l, buf, cap);
}

int blockbuild_add(blockbuild *b, uint32_t id, const int64_t *ts, const double *vs, size_t n) {
    if (id >= b->nseries) return flint_error(FLINT_EINVAL, "blockbuild: unknown series id %u", id);
    pthread_mutex_lock(&b->mu);
    bb_series *s = b->series[id];
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_t *lk = &b->locks[id % BB_LOCKS];
    pthread_mutex_lock(lk);
    int rc = 0;
    uint64_t added = 0, dups = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t vbits;
        memcpy(&vbits, &vs[i], 8);
        if (s->has_last && ts[i] <= s->last_t && !s->unsorted) {
            if (ts[i] == s->last_t) {
                if (vbits == s->last_vbits) {
                    dups++;
                    continue;
                }
                char name[256];
                series_name(s, name, sizeof name);
                rc = flint_error(FLINT_EDUPSAMPLE, "duplicate sample for timestamp %lld with a different value, series %s",
                                 (long long)ts[i], name);
                break;
            }
            /* an older run: keep everything raw from here, sort at finish */
            s->unsorted = 1;
        }
        rc = push_sample(b, s, ts[i], vs[i]);
        if (rc) break;
        if (!s->has_last || ts[i] > s->last_t) {
            s->last_t = ts[i];
            s->last_vbits = vbits;
        }
        s->has_last = 1;
        added++;
    }
    /* a long run is probably the whole series (series-major files): encode
     * its tail now rather than holding raw samples until finish */
    if (rc == 0 && !s->unsorted && n >= b->chunk_samples / 4) rc = flush_pending(b, s);
    pthread_mutex_unlock(lk);
    pthread_mutex_lock(&b->st_mu);
    b->st.samples += added;
    b->st.duplicates_dropped += dups;
    if (added) {
        if (ts[0] < b->st.mint) b->st.mint = ts[0];
        if (ts[n - 1] > b->st.maxt) b->st.maxt = ts[n - 1];
    }
    pthread_mutex_unlock(&b->st_mu);
    return rc;
}

typedef struct tv {
    int64_t t;
    double v;
} tv;

static int tv_cmp(const void *a, const void *b) {
    const tv *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Unsorted series: decode everything, sort, drop duplicates, re-encode. */
static int resort_series(blockbuild *b, bb_series *s) {
    size_t total = s->npend;
    for (size_t i = 0; i < s->nchunks; i++) {
        int n = chunk_num_samples(s->chunks[i].enc, s->bytes.data + s->chunks[i].off, s->chunks[i].len);
        if (n < 0) return n;
        total += (size_t)n;
    }
    tv *all = fl_malloc((total ? total : 1) * sizeof *all);
    int64_t *t = fl_malloc((total ? total : 1) * sizeof *t);
    double *v = fl_malloc((total ? total : 1) * sizeof *v);
    int rc = FLINT_ENOMEM;
    if (!all || !t || !v) goto out;
    size_t k = 0;
    for (size_t i = 0; i < s->nchunks; i++) {
        bb_chunk *c = &s->chunks[i];
        int n = chunk_decode_all(c->enc, s->bytes.data + c->off, c->len, t, v, total);
        if (n < 0) {
            rc = n;
            goto out;
        }
        for (int j = 0; j < n; j++) all[k++] = (tv){t[j], v[j]};
    }
    for (size_t j = 0; j < s->npend; j++) all[k++] = (tv){s->pt[j], s->pv[j]};
    qsort(all, k, sizeof *all, tv_cmp);
    s->nchunks = 0;
    fl_buf_reset(&s->bytes);
    s->npend = 0;
    s->unsorted = 0;
    uint64_t dups = 0;
    for (size_t j = 0; j < k; j++) {
        if (j > 0 && all[j].t == all[j - 1].t) {
            if (memcmp(&all[j].v, &all[j - 1].v, 8) == 0) {
                dups++;
                continue;
            }
            char name[256];
            series_name(s, name, sizeof name);
            rc = flint_error(FLINT_EDUPSAMPLE, "duplicate sample for timestamp %lld with a different value, series %s",
                             (long long)all[j].t, name);
            goto out;
        }
        rc = push_sample(b, s, all[j].t, all[j].v);
        if (rc) goto out;
    }
    rc = flush_pending(b, s);
    pthread_mutex_lock(&b->st_mu);
    b->st.duplicates_dropped += dups;
    b->st.samples -= dups;
    pthread_mutex_unlock(&b->st_mu);
out:
    fl_free(all);
    fl_free(t);
    fl_free(v);
    return rc;
}

static const blockbuild *sort_ctx;
static int series_order(const void *a, const void *b) {
    const bb_series *x = sort_ctx->series[*(const uint32_t *)a], *y = sort_ctx->series[*(const uint32_t *)b];
    labels lx = {x->lv, x->nl}, ly = {y->lv, y->nl};
    return labels_cmp(&lx, &ly);
}

int blockbuild_finish(blockbuild *b,
                      void (*progress)(const char *ulid, int64_t mint, int64_t maxt, uint64_t series, void *ctx),
                      void *ctx) {
    int rc = 0;
    int64_t wmin = INT64_MAX, wmax = INT64_MIN;
    for (size_t i = 0; i < b->nseries; i++) {
        bb_series *s = b->series[i];
        rc = s->unsorted ? resort_series(b, s) : flush_pending(b, s);
        if (rc) return rc;
        for (size_t c = 0; c < s->nchunks; c++) {
            int64_t w = window_of(b, s->chunks[c].mint);
            if (w < wmin) wmin = w;
            if (w > wmax) wmax = w;
            b->st.chunks++;
            b->st.chunk_bytes += s->chunks[c].len;
        }
    }
    b->st.series = b->nseries;
    if (wmin > wmax) return 0;
    uint32_t *order = fl_malloc((b->nseries ? b->nseries : 1) * sizeof *order);
    size_t *cursor = fl_calloc(b->nseries ? b->nseries : 1, sizeof *cursor);
    block_chunk *bc = NULL;
    size_t capbc = 0;
    if (!order || !cursor) {
        rc = FLINT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < b->nseries; i++) order[i] = (uint32_t)i;
    sort_ctx = b;
    qsort(order, b->nseries, sizeof *order, series_order);
    for (int64_t w = wmin; w <= wmax; w++) {
        int64_t mint = INT64_MAX, maxt = INT64_MIN;
        uint64_t nser = 0;
        for (size_t i = 0; i < b->nseries; i++) {
            bb_series *s = b->series[i];
            size_t c = cursor[i];
            if (c < s->nchunks && window_of(b, s->chunks[c].mint) == w) {
                if (s->chunks[c].mint < mint) mint = s->chunks[c].mint;
                nser++;
                while (c < s->nchunks && window_of(b, s->chunks[c].mint) == w) c++;
                if (s->chunks[c - 1].maxt > maxt) maxt = s->chunks[c - 1].maxt;
            }
        }
        if (!nser) continue;
        /* Blocks cover their whole aligned window, so the compactor can tell
         * when a larger window is complete; except the newest window, which
         * ends just after its newest sample: a server opened on the
         * directory accepts samples from there on (the head refuses any
         * older than the newest block's end), instead of dropping every
         * scrape until the window's end has passed. A head block for the
         * rest of that window overlaps it and the compactor merges the two. */
        block_writer *bw;
        (void)mint;
        int64_t bmax = (w + 1) * b->block_ms;
        if (w == wmax && maxt < INT64_MAX && maxt + 1 < bmax) bmax = maxt + 1;
        rc = block_writer_new(b->dir, w * b->block_ms, bmax, NULL, &bw);
        if (rc) goto out;
        for (size_t k = 0; k < b->nseries && rc == 0; k++) {
            uint32_t i = order[k];
            bb_series *s = b->series[i];
            size_t c0 = cursor[i], c = c0;
            while (c < s->nchunks && window_of(b, s->chunks[c].mint) == w) c++;
            if (c == c0) continue;
            if (fl_grow((void **)&bc, &capbc, c - c0, sizeof *bc)) {
                rc = FLINT_ENOMEM;
                break;
            }
            for (size_t j = c0; j < c; j++) {
                bb_chunk *ch = &s->chunks[j];
                bc[j - c0] = (block_chunk){.mint = ch->mint, .maxt = ch->maxt, .enc = ch->enc,
                                           .nsamples = ch->nsamples, .data = s->bytes.data + ch->off,
                                           .len = ch->len};
            }
            labels l = {s->lv, s->nl};
            rc = block_writer_add_series(bw, &l, bc, c - c0);
            cursor[i] = c;
        }
        if (rc) {
            block_writer_abort(bw);
            goto out;
        }
        block_ulid ulid;
        rc = block_writer_commit(bw, ulid);
        if (rc) {
            block_writer_abort(bw);
            goto out;
        }
        block_writer_free(bw);
        b->st.blocks++;
        if (progress) progress(ulid, mint, maxt, nser, ctx);
    }
out:
    fl_free(bc);
    fl_free(order);
    fl_free(cursor);
    return rc;
}

void blockbuild_get_stats(const blockbuild *b, blockbuild_stats *st) { *st = b->st; }
