/*
 * head_int.h - the head's private structures, shared by head.c (life cycle,
 * series maps, appender, replay) and head_read.c (selection, chunk and
 * label reads, truncation, stats). Not for other modules.
 *
 * Memory per series is the design constraint (<= 800 B with ~5 labels and
 * 2 h of 15 s samples, everything counted): the series is one allocation
 * with its labels inline as interned pointers, the open chunk grows in
 * 16-byte steps, each full chunk costs 16 bytes of metadata, the maps
 * are open-addressing tables of pointers (no per-entry nodes), and the
 * series lock is the stripe's lock (no per-series mutex).
 */
#ifndef FLINT_HEAD_INT_H
#define FLINT_HEAD_INT_H

#include "storage/chunk.h"
#include "tsdb/head.h"
#include "tsdb/headchunks.h"
#include "tsdb/postings.h"

#include <pthread.h>
#include <stdatomic.h>

/* Stripes of the ref map (each lock also guards its series) and of the
 * labels-hash map. */
#define HEAD_STRIPE_BITS 10
#define HEAD_STRIPES (1u << HEAD_STRIPE_BITS)

/* A full chunk: mint, and maxt - mint and the head-chunks ref packed. */
#define HCM_DELTA_BITS (64 - HEADCHUNKS_REF_BITS) /* 26: chunks up to ~18.6 h */
#define HCM_MAX_DELTA ((INT64_C(1) << HCM_DELTA_BITS) - 1)
typedef struct hchunk_meta {
    int64_t mint;
    uint64_t packed; /* delta << HEADCHUNKS_REF_BITS | ref */
} hchunk_meta;

static inline int64_t hcm_maxt(const hchunk_meta *m) {
    return m->mint + (int64_t)(m->packed >> HEADCHUNKS_REF_BITS);
}
static inline uint64_t hcm_ref(const hchunk_meta *m) {
    return m->packed & ((UINT64_C(1) << HEADCHUNKS_REF_BITS) - 1);
}

enum { HS_LOGGED = 1 }; /* a series record for it is in the WAL */

typedef struct head_series {
    uint64_t ref;
    xor_appender app;     /* open chunk; app.t / app.vbits: last sample */
    int64_t open_mint;    /* first timestamp of the open chunk */
    int64_t next_at;      /* cut the open chunk before a sample at >= this */
    hchunk_meta *chunks;  /* full chunks, oldest first, exact-size array */
    uint16_t nchunks;
    uint16_t pending;     /* appenders holding queued samples of it */
    uint16_t nlabels;
    uint8_t flags;        /* HS_* */
    /* The appender (by id) that queues its samples in place of a slot of
     * its own, and the index of its last queued sample there: one appender
     * at a time, the common case; others use their slot tables. 0 = none. */
    uint32_t owner;
    uint32_t owner_idx;
    label labels[];       /* interned strings */
} head_series;

/* ref -> series; its lock guards the series in it too. */
typedef struct ref_stripe {
    pthread_mutex_t mu;
    head_series **slots;
    uint32_t nslots, count;
} __attribute__((aligned(64))) ref_stripe;

/* labels hash -> series; hashes[] keeps 32 bits of each hash so probes
 * rarely compare labels. */
typedef struct hash_stripe {
    pthread_mutex_t mu;
    head_series **slots;
    uint32_t *hashes;
    uint32_t nslots, count;
} __attribute__((aligned(64))) hash_stripe;

struct head {
    head_options opt;
    char *dir;
    symtab *syms;
    mem_postings *postings;
    headchunks *hc;
    ref_stripe *refs;     /* HEAD_STRIPES */
    hash_stripe *hashes;  /* HEAD_STRIPES */
    _Atomic uint64_t next_ref;
    _Atomic uint32_t next_app_id; /* appender batch ids (head_series.owner) */
    _Atomic int64_t mint, maxt, min_valid;
    pthread_mutex_t truncate_mu;
    pthread_mutex_t pool_mu;
    head_appender *pool;  /* one idle appender kept for reuse */
    /* replay: refs that duplicate another series' labels */
    uint64_t *alias; /* pairs (from, to), open addressing by from */
    size_t nalias_slots, nalias;
    /* counters */
    _Atomic uint64_t num_series, series_created, series_removed;
    _Atomic uint64_t samples_appended, samples_dropped;
    _Atomic uint64_t chunks, chunks_created, chunk_write_errors;
};

static inline ref_stripe *head_ref_stripe(head *h, uint64_t ref) {
    return &h->refs[ref & (HEAD_STRIPES - 1)];
}

/* Find the series with `ref` in its stripe (lock held). */
head_series *head_stripe_find(ref_stripe *st, uint64_t ref);

static inline labels head_series_lset(const head_series *s) {
    labels l = {s->labels, s->nlabels};
    return l;
}
static inline int64_t head_series_mint(const head_series *s) {
    if (s->nchunks) return s->chunks[0].mint;
    return s->app.count ? s->open_mint : INT64_MAX;
}
static inline int64_t head_series_maxt(const head_series *s) {
    if (s->app.count) return s->app.t;
    return s->nchunks ? hcm_maxt(&s->chunks[s->nchunks - 1]) : INT64_MIN;
}

/* Atomically lower/raise a bound. */
void head_bound_min(_Atomic int64_t *a, int64_t v);
void head_bound_max(_Atomic int64_t *a, int64_t v);
void head_series_destroy(head_series *s);
/* Remove s from the hash map (its stripe lock held by the caller). */
void head_hash_remove(hash_stripe *st, head_series *s);
/* Remove s from the ref map (stripe lock held). */
void head_ref_remove(ref_stripe *st, head_series *s);
uint64_t head_labels_hash(const head_series *s);

#endif
