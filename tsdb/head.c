/*
 * head.c - the head's life cycle, series maps, transactional appender and
 * WAL replay (reads, truncation and stats are in head_read.c; structures in
 * head_int.h).
 *
 * Locking rules
 * -------------
 *  - Series by ref: HEAD_STRIPES ref stripes, stripe = ref % HEAD_STRIPES.
 *    A stripe's mutex guards its table AND every mutable field of the series
 *    in it (open chunk, chunk list, pending, flags). Labels and ref of a
 *    series never change after creation and may be read by whoever keeps
 *    the series alive (see below).
 *  - Series by labels: HEAD_STRIPES hash stripes, stripe = labels hash %
 *    HEAD_STRIPES; the mutex guards that table. Creating a series holds its
 *    hash stripe for the whole creation, so one labels set gets one series.
 *  - Lock order: hash stripe -> ref stripe -> (postings rwlock | symtab |
 *    headchunks rwlock). Never two stripes of the same kind at once.
 *  - Lifetime: a series is freed only by head_truncate, after it has been
 *    removed from both maps under both its stripe locks while it had no
 *    samples and pending == 0. Hence: a reader may use a series only while
 *    holding its ref stripe lock (it looks it up under that lock and copies
 *    what it needs); an appender keeps pointers to series across calls only
 *    for series whose `pending` it raised (under the ref stripe lock) and
 *    lowers them at commit/rollback.
 *  - The postings index has its own rwlock; readers expand postings into
 *    a ref vector under it and then visit series by ref (a ref may have been
 *    truncated meanwhile: it is simply skipped).
 *  - head_truncate runs one at a time (truncate_mu).
 *  - Counters, mint/maxt and min_valid are C11 atomics.
 */
#include "tsdb/head_int.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"

#include <stdio.h>
#include <string.h>

#define HEAD_DEFAULT_CHUNK_RANGE (2 * 3600 * 1000)

void head_options_default(head_options *o) {
    memset(o, 0, sizeof *o);
    o->chunk_range = HEAD_DEFAULT_CHUNK_RANGE;
    o->samples_per_chunk = 120;
    o->chunk_max_bytes = 1024;
}

/* ---- small atomics helpers ------------------------------------------------------ */

void head_bound_min(_Atomic int64_t *a, int64_t v) {
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

void head_bound_max(_Atomic int64_t *a, int64_t v) {
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static void counter_add(_Atomic uint64_t *c, uint64_t n) {
    if (n) atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- ref map ---------------------------------------------------------------------- */

/* Refs are handed out in sequence, so the identity spreads them perfectly
 * and keeps series created together (one target's) in neighbouring slots:
 * a scrape touches few cache lines of the tables. */
static inline uint32_t ref_home(uint64_t ref, uint32_t mask) { return (uint32_t)(ref >> HEAD_STRIPE_BITS) & mask; }

head_series *head_stripe_find(ref_stripe *st, uint64_t ref) {
    if (!st->nslots) return NULL;
    uint32_t mask = st->nslots - 1;
    for (uint32_t i = ref_home(ref, mask);; i = (i + 1) & mask) {
        head_series *s = st->slots[i];
        if (!s || s->ref == ref) return s;
    }
}

static void ref_place(head_series **slots, uint32_t nslots, head_series *s) {
    uint32_t mask = nslots - 1, i = ref_home(s->ref, mask);
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = s;
}

static int ref_reserve(ref_stripe *st) {
    if ((st->count + 1) * 4 <= st->nslots * 3) return 0;
    uint32_t ns = st->nslots ? st->nslots * 2 : 8;
    head_series **slots = fl_calloc(ns, sizeof *slots);
    if (!slots) return FLINT_ENOMEM;
    for (uint32_t i = 0; i < st->nslots; i++)
        if (st->slots[i]) ref_place(slots, ns, st->slots[i]);
    fl_free(st->slots);
    st->slots = slots;
    st->nslots = ns;
    return 0;
}

void head_ref_remove(ref_stripe *st, head_series *s) {
    uint32_t mask = st->nslots - 1, i = ref_home(s->ref, mask);
    while (st->slots[i] != s) i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        head_series *x = st->slots[j];
        if (!x) break;
        uint32_t home = ref_home(x->ref, mask);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            st->slots[i] = x;
            i = j;
        }
    }
    st->slots[i] = NULL;
    st->count--;
}

/* ---- labels-hash map --------------------------------------------------------------- */

static inline uint32_t hash_home(uint64_t hash, uint32_t mask) { return (uint32_t)(hash >> HEAD_STRIPE_BITS) & mask; }
static inline uint32_t hash_tag(uint64_t hash) { return (uint32_t)(hash >> 32); }

uint64_t head_labels_hash(const head_series *s) {
    labels l = head_series_lset(s);
    return labels_hash(&l);
}

static head_series *hash_find(hash_stripe *st, uint64_t hash, const labels *l) {
    if (!st->nslots) return NULL;
    uint32_t mask = st->nslots - 1, tag = hash_tag(hash);
    for (uint32_t i = hash_home(hash, mask);; i = (i + 1) & mask) {
        head_series *s = st->slots[i];
        if (!s) return NULL;
        if (st->hashes[i] != tag) continue;
        labels sl = head_series_lset(s);
        if (labels_equal(&sl, l)) return s;
    }
}

static void hash_place(head_series **slots, uint32_t *hashes, uint32_t nslots, head_series *s, uint64_t hash) {
    uint32_t mask = nslots - 1, i = hash_home(hash, mask);
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = s;
    hashes[i] = hash_tag(hash);
}

static int hash_reserve(hash_stripe *st) {
    if ((st->count + 1) * 4 <= st->nslots * 3) return 0;
    uint32_t ns = st->nslots ? st->nslots * 2 : 8;
    head_series **slots = fl_calloc(ns, sizeof *slots);
    uint32_t *hashes = fl_calloc(ns, sizeof *hashes);
    if (!slots || !hashes) {
        fl_free(slots);
        fl_free(hashes);
        return FLINT_ENOMEM;
    }
    for (uint32_t i = 0; i < st->nslots; i++)
        if (st->slots[i]) hash_place(slots, hashes, ns, st->slots[i], head_labels_hash(st->slots[i]));
    fl_free(st->slots);
    fl_free(st->hashes);
    st->slots = slots;
    st->hashes = hashes;
    st->nslots = ns;
    return 0;
}

void head_hash_remove(hash_stripe *st, head_series *s) {
    uint32_t mask = st->nslots - 1, i = hash_home(head_labels_hash(s), mask);
    while (st->slots[i] != s) i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        head_series *x = st->slots[j];
        if (!x) break;
        uint32_t home = hash_home(head_labels_hash(x), mask);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            st->slots[i] = x;
            st->hashes[i] = st->hashes[j];
            i = j;
        }
    }
    st->slots[i] = NULL;
    st->count--;
}

/* ---- life cycle -------------------------------------------------------------------- */

int head_open(const char *dir, const head_options *opt, head **out) {
    head *h = fl_calloc(1, sizeof *h);
    if (!h) return FLINT_ENOMEM;
    if (opt) h->opt = *opt;
    else head_options_default(&h->opt);
    if (h->opt.chunk_range <= 0) h->opt.chunk_range = HEAD_DEFAULT_CHUNK_RANGE;
    if (h->opt.samples_per_chunk == 0) h->opt.samples_per_chunk = 120;
    if (h->opt.chunk_max_bytes == 0) h->opt.chunk_max_bytes = 1024;
    atomic_init(&h->next_ref, 1);
    atomic_init(&h->mint, INT64_MAX);
    atomic_init(&h->maxt, INT64_MIN);
    atomic_init(&h->min_valid, INT64_MIN);
    pthread_mutex_init(&h->truncate_mu, NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    int rc = FLINT_ENOMEM;
    size_t dl = strlen(dir);
    char *cdir = fl_malloc(dl + sizeof "/chunks_head");
    h->dir = fl_strdup(dir);
    h->syms = symtab_new();
    h->refs = fl_calloc(HEAD_STRIPES, sizeof *h->refs);
    h->hashes = fl_calloc(HEAD_STRIPES, sizeof *h->hashes);
    if (!cdir || !h->dir || !h->syms || !h->refs || !h->hashes || mem_postings_new(&h->postings)) goto fail;
    for (uint32_t i = 0; i < HEAD_STRIPES; i++) {
        pthread_mutex_init(&h->refs[i].mu, NULL);
        pthread_mutex_init(&h->hashes[i].mu, NULL);
    }
    memcpy(cdir, dir, dl);
    memcpy(cdir + dl, "/chunks_head", sizeof "/chunks_head");
    rc = headchunks_open(cdir, h->opt.chunk_file_size, &h->hc);
    fl_free(cdir);
    cdir = NULL;
    if (rc) goto fail;
    *out = h;
    return 0;
fail:
    fl_free(cdir);
    head_close(h);
    return rc;
}

void head_series_destroy(head_series *s) {
    xor_app_free(&s->app);
    fl_free(s->chunks);
    fl_free(s);
}

static void appender_destroy(head_appender *a);

void head_close(head *h) {
    if (!h) return;
    if (h->refs) {
        for (uint32_t i = 0; i < HEAD_STRIPES; i++) {
            ref_stripe *st = &h->refs[i];
            for (uint32_t k = 0; k < st->nslots; k++)
                if (st->slots[k]) head_series_destroy(st->slots[k]);
            fl_free(st->slots);
            pthread_mutex_destroy(&st->mu);
        }
    }
    if (h->hashes) {
        for (uint32_t i = 0; i < HEAD_STRIPES; i++) {
            fl_free(h->hashes[i].slots);
            fl_free(h->hashes[i].hashes);
            pthread_mutex_destroy(&h->hashes[i].mu);
        }
    }
    if (h->pool) appender_destroy(h->pool);
    headchunks_close(h->hc);
    mem_postings_free(h->postings);
    symtab_free(h->syms);
    fl_free(h->refs);
    fl_free(h->hashes);
    fl_free(h->alias);
    fl_free(h->dir);
    pthread_mutex_destroy(&h->truncate_mu);
    pthread_mutex_destroy(&h->pool_mu);
    fl_free(h);
}

/* ---- series creation --------------------------------------------------------------------- */

static int series_new(head *h, uint64_t ref, const labels *l, head_series **out) {
    if (l->n > UINT16_MAX) return flint_error(FLINT_EINVAL, "head: %zu labels, at most %u", l->n, UINT16_MAX);
    head_series *s = fl_calloc(1, sizeof *s + l->n * sizeof(label));
    if (!s) return FLINT_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = symtab_intern(h->syms, l->v[i].name, strlen(l->v[i].name));
        const char *value = symtab_intern(h->syms, l->v[i].value, strlen(l->v[i].value));
        if (!name || !value) {
            fl_free(s);
            return FLINT_ENOMEM;
        }
        s->labels[i].name = name;
        s->labels[i].value = value;
    }
    s->ref = ref;
    s->nlabels = (uint16_t)l->n;
    xor_app_init(&s->app);
    *out = s;
    return 0;
}

/* Find the series with labels *l or create it (ref want_ref, or the next
 * free ref when 0, in which case the labels are validated first).
 * *created tells which happened. */
static int get_or_create(head *h, const labels *l, uint64_t want_ref, uint8_t flags, uint64_t *ref_out,
                         bool *created) {
    uint64_t hash = labels_hash(l);
    hash_stripe *hs = &h->hashes[hash & (HEAD_STRIPES - 1)];
    int rc = 0;
    *created = false;
    pthread_mutex_lock(&hs->mu);
    head_series *s = hash_find(hs, hash, l);
    if (s) {
        *ref_out = s->ref;
        goto out;
    }
    if (!want_ref && (rc = labels_validate(l))) goto out;
    if ((rc = hash_reserve(hs))) goto out;
    uint64_t ref = want_ref ? want_ref : atomic_fetch_add(&h->next_ref, 1);
    if ((rc = series_new(h, ref, l, &s))) goto out;
    s->flags = flags;
    ref_stripe *rs = head_ref_stripe(h, ref);
    pthread_mutex_lock(&rs->mu);
    if (head_stripe_find(rs, ref)) {
        rc = flint_error(FLINT_ECORRUPT, "head: series ref %llu already used by other labels",
                         (unsigned long long)ref);
    } else if (!(rc = ref_reserve(rs))) {
        ref_place(rs->slots, rs->nslots, s);
        rs->count++;
    }
    pthread_mutex_unlock(&rs->mu);
    if (rc) {
        head_series_destroy(s);
        goto out;
    }
    labels sl = head_series_lset(s);
    if ((rc = mem_postings_add(h->postings, ref, &sl))) {
        pthread_mutex_lock(&rs->mu);
        head_ref_remove(rs, s);
        pthread_mutex_unlock(&rs->mu);
        head_series_destroy(s);
        goto out;
    }
    hash_place(hs->slots, hs->hashes, hs->nslots, s, hash);
    hs->count++;
    counter_add(&h->num_series, 1);
    counter_add(&h->series_created, 1);
    *ref_out = ref;
    *created = true;
out:
    pthread_mutex_unlock(&hs->mu);
    return rc;
}

/* ---- appending to one series (its ref stripe lock held) ------------------------------------ */

/* End of the chunk-range window holding t (the first multiple of the range
 * after t). */
static int64_t range_end(int64_t t, int64_t range) {
    int64_t q = t / range;
    if (t % range < 0) q--;
    if (q >= INT64_MAX / range) return INT64_MAX;
    return (q + 1) * range;
}

static uint64_t dbl_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

/* Write the open chunk to the chunk files and start an empty one. On
 * failure the chunk simply stays open (it grows past the cut point and the
 * next sample tries again). */
static void series_cut(head *h, head_series *s) {
    uint64_t delta = (uint64_t)s->app.t - (uint64_t)s->open_mint;
    if (delta > (uint64_t)HCM_MAX_DELTA || s->nchunks == UINT16_MAX) return;
    hchunk_meta *m = fl_realloc(s->chunks, ((size_t)s->nchunks + 1) * sizeof *m);
    if (!m) {
        counter_add(&h->chunk_write_errors, 1);
        return;
    }
    s->chunks = m;
    size_t len;
    const uint8_t *bytes = xor_app_bytes(&s->app, &len);
    uint64_t ref;
    int rc = headchunks_write(h->hc, CHUNK_ENC_XOR, bytes, len, s->app.t, &ref);
    if (rc) {
        uint64_t n = atomic_fetch_add(&h->chunk_write_errors, 1) + 1;
        if ((n & (n - 1)) == 0) /* 1, 2, 4, 8, ... */
            flint_log(FLINT_LOG_ERROR, "head", "writing a full chunk failed; it stays in memory",
                      "err=\"%s\" errors=%llu", flint_errmsg(), (unsigned long long)n);
        return;
    }
    m[s->nchunks].mint = s->open_mint;
    m[s->nchunks].packed = delta << HEADCHUNKS_REF_BITS | ref;
    s->nchunks++;
    xor_app_free(&s->app);
    counter_add(&h->chunks, 1);
    counter_add(&h->chunks_created, 1);
}

/* Append (t, v). 1: exact duplicate of the last sample (ignored); 0;
 * FLINT_EOOO / FLINT_EDUPSAMPLE; FLINT_ENOMEM / FLINT_ERANGE from the codec. */
static int series_append(head *h, head_series *s, int64_t t, double v) {
    if (s->app.count > 0) {
        if (t <= s->app.t) {
            if (t < s->app.t) return FLINT_EOOO;
            return dbl_bits(v) == s->app.vbits ? 1 : FLINT_EDUPSAMPLE;
        }
        if (s->app.count >= h->opt.samples_per_chunk || t >= s->next_at ||
            (s->app.nbits + 7) / 8 >= h->opt.chunk_max_bytes ||
            (uint64_t)t - (uint64_t)s->open_mint > (uint64_t)HCM_MAX_DELTA)
            series_cut(h, s);
    } else if (s->nchunks && t <= hcm_maxt(&s->chunks[s->nchunks - 1])) {
        return FLINT_EOOO;
    }
    bool fresh = s->app.count == 0;
    int rc = xor_app_append(&s->app, t, v);
    if (rc) return rc;
    if (fresh) {
        s->open_mint = t;
        s->next_at = range_end(t, h->opt.chunk_range);
    }
    return 0;
}

/* ---- the appender ------------------------------------------------------------------------------ */

typedef struct app_sample {
    head_series *s;
    int64_t t;
    double v;
    uint16_t last;     /* the series' last queued sample: commit releases it here */
    uint16_t unlogged; /* first queued sample of a series without a series record in the WAL */
} app_sample;

/* Per-series state inside one appender, for series another appender owns
 * (head_series.owner): its last queued sample. */
typedef struct app_slot {
    head_series *s;
    int64_t t;
    uint64_t vbits;
    uint32_t idx;      /* index of that sample in samples[] */
} app_slot;

struct head_appender {
    head *h;
    uint32_t id;       /* this batch's owner id; new for every batch */
    int64_t min_valid;
    app_sample *samples;
    size_t n, cap;
    app_slot *slots;
    uint32_t nslots, nused;
    head_wal_series *wser;
    size_t wser_cap;
    head_wal_sample *wsmp;
    size_t wsmp_cap;
};

static void appender_destroy(head_appender *a) {
    fl_free(a->samples);
    fl_free(a->slots);
    fl_free(a->wser);
    fl_free(a->wsmp);
    fl_free(a);
}

static int64_t appendable_min_valid(head *h) {
    int64_t mv = atomic_load(&h->min_valid), maxt = atomic_load(&h->maxt), lim;
    if (maxt != INT64_MIN && !__builtin_sub_overflow(maxt, h->opt.chunk_range / 2, &lim) && lim > mv)
        return lim;
    return mv;
}

int head_appender_begin(head *h, head_appender **out) {
    pthread_mutex_lock(&h->pool_mu);
    head_appender *a = h->pool;
    h->pool = NULL;
    pthread_mutex_unlock(&h->pool_mu);
    if (!a) {
        a = fl_calloc(1, sizeof *a);
        if (!a) return FLINT_ENOMEM;
        a->h = h;
    }
    a->min_valid = appendable_min_valid(h);
    do a->id = atomic_fetch_add(&h->next_app_id, 1) + 1;
    while (a->id == 0);
    *out = a;
    return 0;
}

static inline uint32_t ptr_home(const head_series *s, uint32_t mask) {
    return (uint32_t)(((uintptr_t)s >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 40) & mask;
}

static app_slot *slot_find(head_appender *a, const head_series *s) {
    if (!a->nused) return NULL;
    uint32_t mask = a->nslots - 1;
    for (uint32_t i = ptr_home(s, mask);; i = (i + 1) & mask) {
        if (a->slots[i].s == s) return &a->slots[i];
        if (!a->slots[i].s) return NULL;
    }
}

/* Room for one more sample and one more slot, so that nothing fails while
 * a stripe lock is held. */
static int appender_reserve(head_appender *a) {
    if (a->n >= UINT32_MAX - 1) return flint_error(FLINT_ELIMIT, "head: too many samples in one appender");
    if (a->n == a->cap && fl_grow((void **)&a->samples, &a->cap, a->n + 1, sizeof *a->samples))
        return FLINT_ENOMEM;
    if ((a->nused + 1) * 2 > a->nslots) {
        uint32_t ns = a->nslots ? a->nslots * 2 : 64;
        app_slot *slots = fl_calloc(ns, sizeof *slots);
        if (!slots) return FLINT_ENOMEM;
        for (uint32_t i = 0; i < a->nslots; i++) {
            if (!a->slots[i].s) continue;
            uint32_t j = ptr_home(a->slots[i].s, ns - 1);
            while (slots[j].s) j = (j + 1) & (ns - 1);
            slots[j] = a->slots[i];
        }
        fl_free(a->slots);
        a->slots = slots;
        a->nslots = ns;
    }
    return 0;
}

static app_slot *slot_insert(head_appender *a, head_series *s) {
    uint32_t mask = a->nslots - 1, i = ptr_home(s, mask);
    while (a->slots[i].s) i = (i + 1) & mask;
    a->slots[i].s = s;
    a->nused++;
    return &a->slots[i];
}

/* Check (t, v) against the series and this appender's queue and queue it.
 * Ref stripe lock held. 1: duplicate ignored. */
static int queue_sample(head_appender *a, head_series *s, int64_t t, double v) {
    uint64_t vb = dbl_bits(v);
    bool mine = s->owner == a->id;
    app_slot *slot = !mine && s->owner ? slot_find(a, s) : NULL;
    bool have = false, have_v = false;
    int64_t last = INT64_MIN;
    uint64_t last_v = 0;
    if (s->app.count) {
        have = have_v = true;
        last = s->app.t;
        last_v = s->app.vbits;
        /* commit will write here; bring the line in now (the batch fits in L2) */
        __builtin_prefetch(s->app.buf + s->app.nbits / 8, 1);
    } else if (s->nchunks) {
        have = true;
        last = hcm_maxt(&s->chunks[s->nchunks - 1]);
    }
    /* this batch's last queued sample of the series is newer than any stored */
    if (mine) {
        have = have_v = true;
        last = a->samples[s->owner_idx].t;
        last_v = dbl_bits(a->samples[s->owner_idx].v);
    } else if (slot && (!have || slot->t >= last)) {
        have = have_v = true;
        last = slot->t;
        last_v = slot->vbits;
    }
    if (have && t <= last) {
        if (t < last || !have_v)
            return flint_error(FLINT_EOOO, "out of order sample: t=%lld before %lld", (long long)t,
                               (long long)last);
        if (vb == last_v) return 1;
        return flint_error(FLINT_EDUPSAMPLE, "duplicate sample for timestamp %lld with a different value",
                           (long long)t);
    }
    uint16_t unlogged = 0;
    if (mine) {
        a->samples[s->owner_idx].last = 0;
    } else if (slot) {
        a->samples[slot->idx].last = 0;
    } else {
        /* the series' first sample in this batch */
        if (!s->owner) {
            s->owner = a->id;
            mine = true;
        } else {
            slot = slot_insert(a, s);
        }
        unlogged = !(s->flags & HS_LOGGED);
        s->pending++;
    }
    if (mine) {
        s->owner_idx = (uint32_t)a->n;
    } else {
        slot->t = t;
        slot->vbits = vb;
        slot->idx = (uint32_t)a->n;
    }
    a->samples[a->n].s = s;
    a->samples[a->n].t = t;
    a->samples[a->n].v = v;
    a->samples[a->n].last = 1;
    a->samples[a->n].unlogged = unlogged;
    a->n++;
    return 0;
}

int head_append(head_appender *a, uint64_t ref, const labels *lset, int64_t t, double v, uint64_t *ref_out) {
    head *h = a->h;
    if (t < a->min_valid)
        return flint_error(FLINT_ETOOOLD, "sample too old: t=%lld, head accepts >= %lld", (long long)t,
                           (long long)a->min_valid);
    int rc = appender_reserve(a);
    if (rc) return rc;
    for (int attempt = 0;; attempt++) {
        if (ref) {
            ref_stripe *st = head_ref_stripe(h, ref);
            pthread_mutex_lock(&st->mu);
            head_series *s = head_stripe_find(st, ref);
            if (s) rc = queue_sample(a, s, t, v);
            pthread_mutex_unlock(&st->mu);
            if (s) break;
        }
        if (!lset || lset->n == 0)
            return flint_error(FLINT_ENOTFOUND, "unknown series ref %llu and no labels", (unsigned long long)ref);
        if (attempt >= 3) /* created and truncated again, repeatedly */
            return flint_error(FLINT_ENOTFOUND, "series vanished while appending");
        bool created;
        if ((rc = get_or_create(h, lset, 0, 0, &ref, &created))) return rc;
    }
    if (rc < 0) return rc;
    if (ref_out) *ref_out = ref;
    return 0;
}

/* Empty the appender and put it back in the pool (or free it). With
 * `unpend`, lower `pending` of every series it holds first (rollback, failed
 * commit); a successful commit has done that sample by sample. */
static void appender_release(head_appender *a, bool unpend) {
    head *h = a->h;
    if (unpend) {
        for (size_t i = 0; i < a->n; i++) {
            if (!a->samples[i].last) continue;
            head_series *s = a->samples[i].s;
            ref_stripe *st = head_ref_stripe(h, s->ref);
            pthread_mutex_lock(&st->mu);
            s->pending--;
            if (s->owner == a->id) s->owner = 0;
            pthread_mutex_unlock(&st->mu);
        }
    }
    if (a->nused) memset(a->slots, 0, a->nslots * sizeof *a->slots);
    a->n = 0;
    a->nused = 0;
    /* do not keep huge arrays from one big batch (a scrape of a large
     * target): they are mapped for the batch and given back after it */
    if (a->nslots > 4096) {
        fl_free(a->slots);
        a->slots = NULL;
        a->nslots = 0;
    }
    if (a->cap > 8192) {
        fl_free(a->samples);
        a->samples = NULL;
        a->cap = 0;
    }
    if (a->wsmp_cap > 8192) {
        fl_free(a->wsmp);
        a->wsmp = NULL;
        a->wsmp_cap = 0;
    }
    if (a->wser_cap > 8192) {
        fl_free(a->wser);
        a->wser = NULL;
        a->wser_cap = 0;
    }
    pthread_mutex_lock(&h->pool_mu);
    if (!h->pool) {
        h->pool = a;
        a = NULL;
    }
    pthread_mutex_unlock(&h->pool_mu);
    if (a) appender_destroy(a);
}

static int log_batch(head_appender *a) {
    head *h = a->h;
    size_t nser = 0;
    size_t need = 0;
    for (size_t i = 0; i < a->n; i++) need += a->samples[i].unlogged;
    if (need > a->wser_cap && fl_grow((void **)&a->wser, &a->wser_cap, need, sizeof *a->wser))
        return FLINT_ENOMEM;
    if (a->n > a->wsmp_cap && fl_grow((void **)&a->wsmp, &a->wsmp_cap, a->n, sizeof *a->wsmp))
        return FLINT_ENOMEM;
    /* Series without a record when queued get one now; if another
     * appender logged one meanwhile, the WAL holds a harmless duplicate. */
    for (size_t i = 0; i < a->n; i++) {
        if (!a->samples[i].unlogged) continue;
        const head_series *s = a->samples[i].s;
        a->wser[nser].ref = s->ref;
        a->wser[nser].lset = head_series_lset(s);
        nser++;
    }
    for (size_t i = 0; i < a->n; i++) {
        a->wsmp[i].ref = a->samples[i].s->ref;
        a->wsmp[i].t = a->samples[i].t;
        a->wsmp[i].v = a->samples[i].v;
    }
    return h->opt.wal_log(h->opt.wal_ctx, a->wser, nser, a->wsmp, a->n, h->opt.wal_sync);
}

int head_commit(head_appender *a) {
    head *h = a->h;
    if (a->n == 0) {
        appender_release(a, false);
        return 0;
    }
    if (h->opt.wal_log) {
        int rc = log_batch(a);
        if (rc) {
            appender_release(a, true);
            return rc;
        }
    }
    uint64_t appended = 0, dropped = 0;
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    for (size_t i = 0; i < a->n; i++) {
        app_sample *p = &a->samples[i];
        if (i + 4 < a->n) { /* the series are scattered over the heap: fetch ahead */
            const head_series *q = a->samples[i + 4].s;
            __builtin_prefetch(q);
            __builtin_prefetch((const char *)q + 64);
        }
        ref_stripe *st = head_ref_stripe(h, p->s->ref);
        pthread_mutex_lock(&st->mu);
        int rc = series_append(h, p->s, p->t, p->v);
        if (p->last) {
            p->s->pending--;
            p->s->flags |= HS_LOGGED;
            if (p->s->owner == a->id) p->s->owner = 0;
        }
        pthread_mutex_unlock(&st->mu);
        if (rc == 0) {
            appended++;
            if (p->t < mint) mint = p->t;
            if (p->t > maxt) maxt = p->t;
        } else if (rc < 0) {
            dropped++;
        }
    }
    if (appended) {
        head_bound_min(&h->mint, mint);
        head_bound_max(&h->maxt, maxt);
    }
    counter_add(&h->samples_appended, appended);
    counter_add(&h->samples_dropped, dropped);
    appender_release(a, false);
    return 0;
}

void head_rollback(head_appender *a) { appender_release(a, true); }

/* ---- replay ---------------------------------------------------------------------------------------- */

static uint64_t alias_get(const head *h, uint64_t ref) {
    if (!h->nalias) return ref;
    size_t mask = h->nalias_slots - 1;
    for (size_t i = (size_t)(ref * UINT64_C(0x9E3779B97F4A7C15) >> 32) & mask;; i = (i + 1) & mask) {
        if (h->alias[2 * i] == ref) return h->alias[2 * i + 1];
        if (h->alias[2 * i] == 0) return ref;
    }
}

static void alias_place(uint64_t *tab, size_t nslots, uint64_t from, uint64_t to) {
    size_t mask = nslots - 1;
    size_t i = (size_t)(from * UINT64_C(0x9E3779B97F4A7C15) >> 32) & mask;
    while (tab[2 * i] && tab[2 * i] != from) i = (i + 1) & mask;
    tab[2 * i] = from;
    tab[2 * i + 1] = to;
}

static int alias_put(head *h, uint64_t from, uint64_t to) {
    if ((h->nalias + 1) * 2 > h->nalias_slots) {
        size_t ns = h->nalias_slots ? h->nalias_slots * 2 : 16;
        uint64_t *tab = fl_calloc(ns * 2, sizeof *tab);
        if (!tab) return FLINT_ENOMEM;
        for (size_t i = 0; i < h->nalias_slots; i++)
            if (h->alias[2 * i]) alias_place(tab, ns, h->alias[2 * i], h->alias[2 * i + 1]);
        fl_free(h->alias);
        h->alias = tab;
        h->nalias_slots = ns;
    }
    alias_place(h->alias, h->nalias_slots, from, to);
    h->nalias++;
    return 0;
}

int head_replay_series(head *h, uint64_t ref, const labels *lset) {
    if (ref == 0) return flint_error(FLINT_ECORRUPT, "head: replayed series with ref 0");
    ref_stripe *st = head_ref_stripe(h, ref);
    pthread_mutex_lock(&st->mu);
    head_series *s = head_stripe_find(st, ref);
    labels sl = s ? head_series_lset(s) : *lset;
    bool same = labels_equal(&sl, lset);
    pthread_mutex_unlock(&st->mu);
    if (!same)
        return flint_error(FLINT_ECORRUPT, "head: replayed series ref %llu has other labels than before",
                           (unsigned long long)ref);
    uint64_t got;
    bool created;
    int rc = get_or_create(h, lset, ref, HS_LOGGED, &got, &created);
    if (rc) return rc;
    if (got != ref && (rc = alias_put(h, ref, got))) return rc;
    uint64_t next = atomic_load(&h->next_ref);
    while (next <= ref && !atomic_compare_exchange_weak(&h->next_ref, &next, ref + 1)) {
    }
    return 0;
}

int head_replay_samples(head *h, const head_wal_sample *smp, size_t n, size_t *skipped) {
    size_t skip = 0, orig_n = n;
    uint64_t appended = 0;
    int64_t mint = INT64_MAX, maxt = INT64_MIN, min_valid = atomic_load(&h->min_valid);
    for (size_t i = 0; i < n; i++) {
        if (smp[i].t < min_valid) {
            skip++;
            continue;
        }
        uint64_t ref = alias_get(h, smp[i].ref);
        ref_stripe *st = head_ref_stripe(h, ref);
        pthread_mutex_lock(&st->mu);
        head_series *s = head_stripe_find(st, ref);
        int rc = s ? series_append(h, s, smp[i].t, smp[i].v) : FLINT_ENOTFOUND;
        pthread_mutex_unlock(&st->mu);
        if (rc == FLINT_ENOMEM) {
            n = i; /* account for what was applied, then fail */
            break;
        }
        if (rc != 0) {
            skip++;
            continue;
        }
        appended++;
        if (smp[i].t < mint) mint = smp[i].t;
        if (smp[i].t > maxt) maxt = smp[i].t;
    }
    if (appended) {
        head_bound_min(&h->mint, mint);
        head_bound_max(&h->maxt, maxt);
    }
    counter_add(&h->samples_appended, appended);
    counter_add(&h->samples_dropped, skip);
    if (skipped) *skipped = skip;
    return n < orig_n ? FLINT_ENOMEM : 0;
}
