/*
 * scrapeloop.c - the scrape manager (scrape/scrapeloop.h): one thread runs
 * a libcurl multi handle for every target; when a transfer ends, the body
 * is queued for a worker, which parses and appends it (one appender per
 * scrape, metric relabelling, metadata), then writes the report series and
 * staleness markers.
 *
 * Per target a series cache maps the raw series text of the exposition
 * (`name{labels}` as the target sent it) to the cached tsdb ref, as
 * Prometheus' scrapeCache does: a known series costs a hash of its bytes,
 * no label work (a series metric relabelling dropped is cached as
 * dropped). Unlike Prometheus the cache keeps neither the raw text (the
 * key is its 128-bit hash) nor the final labels (the head has them behind
 * the ref): 32 bytes per series in one table; the labels are built again
 * only when the head does not know a ref. The cache also carries what staleness needs: whether
 * the series was in the last successful scrape. Metadata is one entry per
 * family per target, its strings interned across targets.
 *
 * Threads: the scrape thread owns the transfers and the schedule. A
 * target's series state (cache, parser, body, counters) belongs to the
 * scrape thread while the target is not busy, and to one worker from the
 * moment its body is queued until the worker releases it (busy, under
 * qmu); options from set_targets wait in next_spec meanwhile. The mutex mu
 * guards the target list, the pending list from set_targets and what the
 * API reads (status, spec, metadata vectors).
 */
#include "scrape/scrapeloop.h"

#include "scrape/expo.h"
#include "storage/alloc.h"
#include "storage/chunk.h"
#include "storage/err.h"
#include "storage/log.h"

#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- per-target series cache --------------------------------------------- */

/* One slot per series the target exposed recently, 32 bytes, in an open
 * addressing table (linear probing, no per-entry allocation). The key is the
 * 128-bit XXH3 hash of the raw series bytes, not the bytes themselves: two
 * different series of one target colliding needs ~2^64 series, and the
 * table stays a fraction of the head's own per-series memory. The label set
 * is not kept either: the head has it under `ref`, and when the head does
 * not know a ref (the first append was refused, or the series left the
 * head) the labels are built again from the sample (append_sample). */
enum {
    SE_USED = 1,        /* slot holds an entry */
    SE_LAST_OK = 2,     /* exposed by the last successful scrape (staleness) */
    SE_EXPLICIT_TS = 4, /* exposed with its own timestamp: no staleness tracking */
    SE_DROPPED = 8,     /* metric relabelling drops it: no append, no staleness */
};

typedef struct series_entry {
    uint64_t h_lo, h_hi;    /* XXH3-128 of the raw series bytes */
    uint64_t ref;           /* tsdb ref; 0 = none yet */
    uint32_t seen;          /* low bits of the last scrape attempt that exposed it */
    uint32_t flags;         /* SE_* */
} series_entry;

typedef struct series_cache {
    series_entry *slots;    /* nslots, a power of two; flags == 0: empty */
    size_t nslots, n;
} series_cache;

/* Fill at most 7/8 of the slots: 100,000 series fit 131,072 (4 MiB). */
#define CACHE_FULL(n, nslots) ((n) * 8 > (nslots) * 7)

static void cache_free(series_cache *c) {
    fl_free(c->slots);
    memset(c, 0, sizeof *c);
}

static inline size_t cache_home(uint64_t h_lo, size_t mask) { return (size_t)h_lo & mask; }

static series_entry *cache_get(const series_cache *c, XXH128_hash_t h) {
    if (!c->nslots) return NULL;
    size_t mask = c->nslots - 1;
    for (size_t i = cache_home(h.low64, mask);; i = (i + 1) & mask) {
        series_entry *e = &c->slots[i];
        if (!e->flags) return NULL;
        if (e->h_lo == h.low64 && e->h_hi == h.high64) return e;
    }
}

static series_entry *cache_place(series_entry *slots, size_t nslots, const series_entry *e) {
    size_t mask = nslots - 1, i = cache_home(e->h_lo, mask);
    while (slots[i].flags) i = (i + 1) & mask;
    slots[i] = *e;
    return &slots[i];
}

/* Insert a new entry (not present). Pointers into the table are invalid
 * after a call (it may grow). */
static series_entry *cache_put(series_cache *c, XXH128_hash_t h) {
    if (!c->nslots || CACHE_FULL(c->n + 1, c->nslots)) {
        size_t ns = c->nslots ? c->nslots * 2 : 256;
        series_entry *slots = fl_calloc(ns, sizeof *slots);
        if (!slots) return NULL;
        for (size_t i = 0; i < c->nslots; i++)
            if (c->slots[i].flags) cache_place(slots, ns, &c->slots[i]);
        fl_free(c->slots);
        c->slots = slots;
        c->nslots = ns;
    }
    series_entry e = {.h_lo = h.low64, .h_hi = h.high64, .flags = SE_USED};
    c->n++;
    return cache_place(c->slots, c->nslots, &e);
}

/* Remove slot i by shifting the rest of its cluster back (no tombstones). */
static void cache_remove_at(series_cache *c, size_t i) {
    size_t mask = c->nslots - 1;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!c->slots[j].flags) break;
        size_t k = cache_home(c->slots[j].h_lo, mask);
        /* the entry at j may move to i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        c->slots[i] = c->slots[j];
        i = j;
    }
    memset(&c->slots[i], 0, sizeof c->slots[i]);
    c->n--;
}

/* Drop entries not exposed for `keep` scrape attempts and not needed for
 * staleness (Prometheus drops them after one; a few more spare the label
 * work for series that flap). In place: the scan starts after an empty
 * slot so every cluster is walked in probe order, and a slot is looked at
 * again after a removal shifted another entry into it. */
static void cache_evict(series_cache *c, uint32_t now_id, uint32_t keep) {
    if (!c->n) return;
    size_t mask = c->nslots - 1, start = 0;
    while (c->slots[start].flags) start = (start + 1) & mask; /* the table is never full */
    for (size_t step = 0; step < c->nslots; step++) {
        size_t i = (start + 1 + step) & mask;
        while (c->slots[i].flags && !(c->slots[i].flags & SE_LAST_OK) &&
               (uint32_t)(now_id - c->slots[i].seen) > keep)
            cache_remove_at(c, i);
    }
}

/* ---- metadata: interned strings, one entry per family ---------------------- */

/* A reference-counted string shared by every target that exposes it (the
 * same HELP text on 1,000 node exporters is stored once). Counts change
 * atomically; a count reaches 0 and the string leaves the table only under
 * the table's mutex, so a lookup never revives a dying string. */
typedef struct istr {
    struct istr *next;
    uint64_t hash;
    uint32_t refs;
    uint32_t len;
    char s[];
} istr;

typedef struct md_intern {
    pthread_mutex_t mu;
    istr **buckets;
    size_t nbuckets, n;
} md_intern;

static void istr_ref(istr *x) {
    if (x) __atomic_add_fetch(&x->refs, 1, __ATOMIC_RELAXED);
}

/* Caller holds in->mu. */
static void istr_unref_locked(md_intern *in, istr *x) {
    if (!x || __atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    istr **pp = &in->buckets[x->hash & (in->nbuckets - 1)];
    while (*pp != x) pp = &(*pp)->next;
    *pp = x->next;
    in->n--;
    fl_free(x);
}

/* The interned copy of s[0..len) with one more reference; NULL on OOM. */
static istr *intern(md_intern *in, const char *s, size_t len) {
    uint64_t h = XXH3_64bits(s, len);
    pthread_mutex_lock(&in->mu);
    istr *x = NULL;
    if (in->nbuckets) {
        for (x = in->buckets[h & (in->nbuckets - 1)]; x; x = x->next)
            if (x->hash == h && x->len == len && memcmp(x->s, s, len) == 0) break;
    }
    if (x) {
        istr_ref(x);
        pthread_mutex_unlock(&in->mu);
        return x;
    }
    if (in->n + 1 > in->nbuckets) {
        size_t nb = in->nbuckets ? in->nbuckets * 2 : 256;
        istr **b = fl_calloc(nb, sizeof *b);
        if (!b) goto oom;
        for (size_t i = 0; i < in->nbuckets; i++)
            for (istr *y = in->buckets[i], *next; y; y = next) {
                next = y->next;
                y->next = b[y->hash & (nb - 1)];
                b[y->hash & (nb - 1)] = y;
            }
        fl_free(in->buckets);
        in->buckets = b;
        in->nbuckets = nb;
    }
    if (len > UINT32_MAX || !(x = fl_malloc(sizeof *x + len + 1))) goto oom;
    x->hash = h;
    x->refs = 1;
    x->len = (uint32_t)len;
    memcpy(x->s, s, len);
    x->s[len] = 0;
    x->next = in->buckets[h & (in->nbuckets - 1)];
    in->buckets[h & (in->nbuckets - 1)] = x;
    in->n++;
    pthread_mutex_unlock(&in->mu);
    return x;
oom:
    pthread_mutex_unlock(&in->mu);
    return NULL;
}

static bool istr_eq(const istr *x, const char *s, size_t len) {
    return x && x->len == len && memcmp(x->s, s, len) == 0;
}

/* One metric family's HELP/TYPE/UNIT as a target exposed it; help and unit
 * NULL when not exposed. */
typedef struct md_entry {
    istr *name, *help, *unit;
    expo_type type;
} md_entry;

static void md_release(md_intern *in, md_entry *v, size_t n) {
    if (!n) {
        fl_free(v);
        return;
    }
    pthread_mutex_lock(&in->mu);
    for (size_t i = 0; i < n; i++) {
        istr_unref_locked(in, v[i].name);
        istr_unref_locked(in, v[i].help);
        istr_unref_locked(in, v[i].unit);
    }
    pthread_mutex_unlock(&in->mu);
    fl_free(v);
}

/* The metadata of the scrape being parsed. A target usually exposes the
 * same families in the same order every time: each family is first
 * compared with the previous scrape's entry after the last match, and
 * its strings are reused from there without a hash or a lock. */
typedef struct md_build {
    md_intern *in;
    md_entry *v;
    size_t n, cap;
    const md_entry *old;
    size_t nold, hint;
    const md_entry *match; /* the old entry of the current family, or NULL */
    bool oom;
} md_build;

/* `*slot` = the string s[0..len), from the matching old entry when equal. */
static void md_set(md_build *b, istr **slot, istr *old, const char *s, size_t len) {
    if (istr_eq(*slot, s, len)) return;
    istr *x;
    if (istr_eq(old, s, len)) {
        x = old;
        istr_ref(x);
    } else if (!(x = intern(b->in, s, len))) {
        b->oom = true;
        return;
    }
    if (*slot) {
        pthread_mutex_lock(&b->in->mu);
        istr_unref_locked(b->in, *slot);
        pthread_mutex_unlock(&b->in->mu);
    }
    *slot = x;
}

static void md_on_meta(md_build *b, int kind, const expo_meta *mt) {
    if (b->oom) return;
    md_entry *e = b->n ? &b->v[b->n - 1] : NULL;
    if (!e || !istr_eq(e->name, mt->name, mt->name_len)) { /* a new family */
        if (fl_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v)) {
            b->oom = true;
            return;
        }
        e = &b->v[b->n];
        memset(e, 0, sizeof *e);
        b->match = NULL;
        for (size_t k = b->hint; k < b->nold && k < b->hint + 2; k++) /* the next, or one removed before it */
            if (istr_eq(b->old[k].name, mt->name, mt->name_len)) {
                b->match = &b->old[k];
                b->hint = k + 1;
                break;
            }
        md_set(b, &e->name, b->match ? b->match->name : NULL, mt->name, mt->name_len);
        if (b->oom) return;
        b->n++;
    }
    const md_entry *o = b->match;
    switch (kind) {
    case EXPO_HELP: md_set(b, &e->help, o ? o->help : NULL, mt->text, mt->text_len); break;
    case EXPO_UNIT: md_set(b, &e->unit, o ? o->unit : NULL, mt->text, mt->text_len); break;
    case EXPO_TYPE: e->type = mt->type; break;
    default: break;
    }
}

/* ---- targets ------------------------------------------------------------- */

enum { REP_UP, REP_DURATION, REP_SCRAPED, REP_POST_RELABEL, REP_SERIES_ADDED, REP_N };
static const char *const report_names[REP_N] = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};

/* Compiled metric_relabel_configs, shared by the targets whose specs
 * pointed to the same array; freed with the last reference (atomic: a
 * worker may drop a retired target's spec). */
typedef struct mrules {
    int refs;
    relabel_rule *v;
    size_t n;
} mrules;

static void mrules_unref(mrules *r) {
    if (!r || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (size_t i = 0; i < r->n; i++) relabel_rule_free(&r->v[i]);
    fl_free(r->v);
    fl_free(r);
}

/* A compiled copy of rules[0..n) (the configuration's rules belong to it). */
static int mrules_make(const relabel_rule *rules, size_t n, mrules **out) {
    *out = NULL;
    mrules *r = fl_calloc(1, sizeof *r);
    if (!r) return FLINT_ENOMEM;
    r->refs = 1;
    if (!(r->v = fl_calloc(n, sizeof *r->v))) {
        fl_free(r);
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const relabel_rule *a = &rules[i];
        relabel_spec sp = {
            .action = a->action,
            .source_labels = (const char *const *)a->source_labels,
            .nsource_labels = a->nsource_labels,
            .source_labels_given = a->source_labels_given,
            .separator = a->separator,
            .regex = a->regex_given ? a->regex : NULL,
            .modulus = a->modulus,
            .target_label = a->target_label,
            .replacement = a->replacement,
        };
        int rc = relabel_rule_init(&r->v[i], &sp);
        if (rc) {
            r->n = i;
            mrules_unref(r);
            return rc;
        }
        r->n = i + 1;
    }
    *out = r;
    return 0;
}

/* Owned copy of a spec. */
typedef struct spec_copy {
    scrape_target_spec s;
    mrules *mr;               /* NULL when there are no rules */
    label *labels;
    char **headers;
    char *url, *user, *password, *ca, *cert, *key, *server_name;
} spec_copy;

typedef struct target {
    spec_copy spec;
    uint64_t id_hash;         /* identity: (URL, labels) */
    int64_t offset_ms;
    int64_t next_ms;          /* next scheduled instant; 0 = not scheduled yet */
    /* in flight */
    CURL *easy;
    struct curl_slist *req_headers;
    struct curl_slist *connect_to; /* tls_server_name: "NAME:PORT:HOST:PORT" */
    char *body;
    size_t body_len, body_cap;
    bool body_too_big;
    char status_line[128];
    int64_t sched_ms;         /* instant of the scrape in flight / last scrape */
    int64_t start_wall_ms;
    double start_mono;
    char curl_err[CURL_ERROR_SIZE];
    /* a finished transfer handed to the workers (see "Threads" above) */
    bool busy;                /* queued or being parsed: the worker owns the series state */
    bool retired;             /* removed while busy: the worker retires and frees it */
    struct target *qnext;
    char fin_err[512];        /* transfer error ("" = body to parse) */
    char *fin_ct;             /* Content-Type (owned) or NULL */
    double fin_dur;
    spec_copy next_spec;      /* options from set_targets while busy */
    bool has_next_spec;
    bool cache_reset;         /* options that shape series changed: next scrape starts a new cache */
    /* series */
    series_cache cache;
    uint64_t scrape_id;       /* attempts so far */
    int64_t last_ts;          /* newest timestamp written for the target's report series */
    label *rep_labels[REP_N]; /* report series label sets (owned) */
    uint64_t rep_refs[REP_N];
    bool rep_written;         /* report series exist (for staleness on removal) */
    labels_builder lb;
    md_entry *md;             /* metadata of the last successful scrape (swapped under the manager's mutex) */
    size_t nmd;
    expo_parser parser;
    bool parser_ready;
    /* state for the API (guarded by the manager's mutex) */
    scrape_health health;
    char last_error[512];
    int64_t last_scrape_ms;
    double last_duration_s;
    uint64_t scrapes, dups, ooo, oob;
    uint64_t n_dups, n_ooo, n_oob; /* scrape thread's counters, published by set_state */
} target;

struct scrape_manager {
    tsdb *db;
    CURLM *multi;
    pthread_mutex_t mu;
    pthread_t thread;
    bool running;
    volatile int stop;        /* read by the thread under mu */
    target **targets;
    size_t ntargets;
    spec_copy *pending;       /* from set_targets, applied by the thread */
    size_t npending;
    bool has_pending;
    md_intern intern;         /* HELP/UNIT texts and family names of every target */
    /* workers: finished transfers are parsed and appended off the scrape
     * thread; qmu guards the queue, busy/retired and wstop */
    pthread_mutex_t qmu;
    pthread_cond_t qcond;
    target *qhead, *qtail;
    bool wstop;
    struct scrape_worker *workers;
    size_t nworkers;
};

#define SCRAPE_WORKERS 2

typedef struct scrape_worker {
    scrape_manager *m;
    pthread_t thread;
    relabel_scratch rs;       /* metric relabelling */
} scrape_worker;

const char *scrape_health_name(scrape_health h) {
    switch (h) {
    case SCRAPE_HEALTH_UP: return "up";
    case SCRAPE_HEALTH_DOWN: return "down";
    default: return "unknown";
    }
}

static void spec_copy_free(spec_copy *c) {
    mrules_unref(c->mr);
    fl_free(c->labels);
    for (size_t i = 0; c->headers && i < c->s.nheaders; i++) fl_free(c->headers[i]);
    fl_free(c->headers);
    fl_free(c->url);
    fl_free(c->user);
    fl_free(c->password);
    fl_free(c->ca);
    fl_free(c->cert);
    fl_free(c->key);
    fl_free(c->server_name);
    memset(c, 0, sizeof *c);
}

static int dup_opt(const char *s, char **out) {
    *out = NULL;
    if (!s) return 0;
    *out = fl_strdup(s);
    return *out ? 0 : FLINT_ENOMEM;
}

/* `shared`: compiled rules to reuse when in->metric_relabel is theirs. */
static int spec_copy_make(const scrape_target_spec *in, spec_copy *c, mrules *shared) {
    memset(c, 0, sizeof *c);
    if (!in->url || !*in->url) return flint_error(FLINT_EINVAL, "scrape: target without URL");
    if (in->interval_ms <= 0 || in->timeout_ms <= 0)
        return flint_error(FLINT_EINVAL, "scrape: target %s: interval and timeout must be > 0", in->url);
    c->s = *in;
    if (c->s.timeout_ms > c->s.interval_ms) c->s.timeout_ms = c->s.interval_ms;
    int rc = 0;
    if ((rc = dup_opt(in->url, &c->url)) || (rc = dup_opt(in->basic_user, &c->user)) ||
        (rc = dup_opt(in->basic_password, &c->password)) || (rc = dup_opt(in->tls_ca_file, &c->ca)) ||
        (rc = dup_opt(in->tls_cert_file, &c->cert)) || (rc = dup_opt(in->tls_key_file, &c->key)) ||
        (rc = dup_opt(in->tls_server_name, &c->server_name)))
        goto fail;
    rc = FLINT_ENOMEM;
    if (!(c->labels = labels_dup(in->labels, in->nlabels))) goto fail;
    if (in->nheaders) {
        if (!(c->headers = fl_calloc(in->nheaders, sizeof *c->headers))) goto fail;
        for (size_t i = 0; i < in->nheaders; i++)
            if (!(c->headers[i] = fl_strdup(in->headers[i]))) goto fail;
    }
    c->s.url = c->url;
    c->s.labels = c->labels;
    c->s.headers = (const char *const *)c->headers;
    c->s.basic_user = c->user;
    c->s.basic_password = c->password;
    c->s.tls_ca_file = c->ca;
    c->s.tls_cert_file = c->cert;
    c->s.tls_key_file = c->key;
    c->s.tls_server_name = c->server_name;
    c->s.metric_relabel = NULL;
    c->s.nmetric_relabel = 0;
    if (in->nmetric_relabel) {
        if (shared) {
            __atomic_add_fetch(&shared->refs, 1, __ATOMIC_RELAXED);
            c->mr = shared;
        } else if ((rc = mrules_make(in->metric_relabel, in->nmetric_relabel, &c->mr))) {
            goto fail;
        }
        c->s.metric_relabel = c->mr->v;
        c->s.nmetric_relabel = c->mr->n;
    }
    return 0;
fail:
    spec_copy_free(c);
    return rc;
}

static uint64_t fnv1a(uint64_t h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s;; p++) { /* the NUL too, as a separator */
        h ^= *p;
        h *= 1099511628211ULL;
        if (!*p) return h;
    }
}

/* FNV-1a over the URL and the labels (Prometheus: fnv64a of the label hash
 * and the URL). */
static uint64_t spec_identity(const scrape_target_spec *s) {
    uint64_t h = 14695981039346656037ULL;
    h = fnv1a(h, s->url);
    for (size_t i = 0; i < s->nlabels; i++) {
        h = fnv1a(h, s->labels[i].name);
        h = fnv1a(h, s->labels[i].value);
    }
    return h;
}

int64_t scrape_target_offset(const scrape_target_spec *spec) {
    if (spec->interval_ms <= 0) return 0;
    /* Prometheus: offset = (target hash ^ seed) % interval; seed 0 here. */
    return (int64_t)(spec_identity(spec) % (uint64_t)spec->interval_ms);
}

/* Next instant t > after with t mod interval == offset. */
static int64_t next_slot(int64_t after, int64_t interval, int64_t offset) {
    int64_t base = after - ((after % interval) + interval) % interval + offset;
    while (base <= after) base += interval;
    return base;
}

static void target_free(scrape_manager *m, target *t) {
    if (!t) return;
    md_release(&m->intern, t->md, t->nmd);
    fl_free(t->fin_ct);
    if (t->has_next_spec) spec_copy_free(&t->next_spec);
    spec_copy_free(&t->spec);
    fl_free(t->body);
    cache_free(&t->cache);
    for (int i = 0; i < REP_N; i++) fl_free(t->rep_labels[i]);
    lb_free(&t->lb);
    if (t->parser_ready) expo_parser_free(&t->parser);
    fl_free(t);
}

static int target_build_report_labels(target *t) {
    for (int i = 0; i < REP_N; i++) {
        fl_free(t->rep_labels[i]);
        t->rep_labels[i] = NULL;
        size_t n = t->spec.s.nlabels;
        label *v = fl_malloc((n + 1) * sizeof *v);
        if (!v) return FLINT_ENOMEM;
        size_t k = 0;
        bool put = false;
        for (size_t j = 0; j < n; j++) {
            if (!put && strcmp(t->spec.s.labels[j].name, METRIC_NAME_LABEL) > 0) {
                v[k++] = (label){METRIC_NAME_LABEL, report_names[i]};
                put = true;
            }
            v[k++] = t->spec.s.labels[j];
        }
        if (!put) v[k++] = (label){METRIC_NAME_LABEL, report_names[i]};
        t->rep_labels[i] = labels_dup(v, k);
        fl_free(v);
        if (!t->rep_labels[i]) return FLINT_ENOMEM;
    }
    return 0;
}

/* ---- appending ------------------------------------------------------------ */

/* Append one sample, counting the per-sample errors Prometheus tolerates. */
static int append_counted(target *t, tsdb_appender *app, uint64_t *ref, const label *lv, size_t n,
                          int64_t ts, double v, uint64_t *appended) {
    labels l = {lv, n};
    int rc = tsdb_append(app, *ref, &l, ts, v, ref);
    switch (rc) {
    case 0: (*appended)++; return 0;
    case FLINT_EOOO: t->n_ooo++; return 0;
    case FLINT_ETOOOLD: t->n_oob++; return 0;
    case FLINT_EDUPSAMPLE: t->n_dups++; return 0;
    default: return rc;
    }
}

static int write_report(target *t, tsdb_appender *app, int64_t ts, bool up, double duration, uint64_t scraped,
                        uint64_t post, uint64_t added) {
    double vals[REP_N] = {up ? 1 : 0, duration, (double)scraped, (double)post, (double)added};
    uint64_t dummy = 0;
    size_t n = t->spec.s.nlabels + 1;
    for (int i = 0; i < REP_N; i++) {
        int rc = append_counted(t, app, &t->rep_refs[i], t->rep_labels[i], n, ts, vals[i], &dummy);
        if (rc) return rc;
    }
    t->rep_written = true;
    if (ts > t->last_ts) t->last_ts = ts;
    return 0;
}

/* Stale markers for every series of the last successful scrape (all: true)
 * or for those of it the current attempt did not expose (all: false). */
static int write_stale(target *t, tsdb_appender *app, int64_t ts, bool all) {
    uint64_t dummy = 0;
    uint32_t now = (uint32_t)t->scrape_id;
    for (size_t i = 0; i < t->cache.nslots; i++) {
        series_entry *e = &t->cache.slots[i];
        if (!(e->flags & SE_LAST_OK)) continue;
        if (!all && e->seen == now && !(e->flags & SE_EXPLICIT_TS)) continue;
        int rc = append_counted(t, app, &e->ref, NULL, 0, ts, stale_nan(), &dummy);
        if (rc == FLINT_ENOTFOUND) continue; /* not in the head: nothing to mark */
        if (rc) return rc;
    }
    return 0;
}

static void mark_stale_done(target *t, bool success) {
    uint32_t now = (uint32_t)t->scrape_id;
    for (size_t i = 0; i < t->cache.nslots; i++) {
        series_entry *e = &t->cache.slots[i];
        if (!e->flags) continue;
        bool last_ok = success && e->seen == now && !(e->flags & (SE_EXPLICIT_TS | SE_DROPPED));
        e->flags = last_ok ? e->flags | SE_LAST_OK : e->flags & ~(uint32_t)SE_LAST_OK;
    }
}

/* Is `name` among the sample's labels (sorted)? */
static const char *find_label(const label *v, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return v[i].value;
    return NULL;
}

/* Build the final label set of a newly seen series into t->lb, as
 * Prometheus' mutateSampleLabels: target labels are added; on a conflict
 * honor_labels keeps the exposed value, otherwise the exposed label is
 * renamed exported_<name> (prefixed again while that exists too). Empty
 * values are dropped. Then metric_relabel_configs (strings they create
 * live in `rs` until its reset). `names` collects the allocated names
 * (freed by the caller after copying). Returns 0, 1 when relabelling
 * drops the series, or an error with `err` set. */
static int build_labels(target *t, const expo_sample *s, relabel_scratch *rs, char **names, size_t *nnames,
                        char *err, size_t errcap) {
    labels_builder *b = &t->lb;
    lb_reset(b);
    int rc;
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].value[0] && (rc = lb_add(b, s->labels[i].name, s->labels[i].value))) return rc;
    if ((rc = lb_sort(b))) {
        snprintf(err, errcap, "%s", flint_errmsg());
        return rc;
    }
    const scrape_target_spec *sp = &t->spec.s;
    for (size_t i = 0; i < sp->nlabels; i++) {
        const label *tl = &sp->labels[i];
        const char *exposed = find_label(s->labels, s->nlabels, tl->name);
        if (exposed && *exposed) {
            if (sp->honor_labels) continue;
            /* rename: exported_<name>, while taken by the exposed labels or
             * a target label, prefix again */
            size_t nl = strlen(tl->name);
            char *nm = NULL;
            for (int k = 1;; k++) {
                fl_free(nm);
                nm = fl_malloc(nl + 9 * (size_t)k + 1);
                if (!nm) return FLINT_ENOMEM;
                nm[0] = 0;
                for (int j = 0; j < k; j++) strcat(nm, "exported_");
                strcat(nm, tl->name);
                const char *ev = find_label(s->labels, s->nlabels, nm);
                const char *tv = find_label(sp->labels, sp->nlabels, nm);
                if (!(ev && *ev) && !tv) break;
            }
            names[(*nnames)++] = nm;
            if ((rc = lb_set(b, nm, exposed))) return rc;
        }
        if ((rc = lb_set(b, tl->name, tl->value))) return rc;
    }
    if (sp->nmetric_relabel) {
        bool keep = true;
        if ((rc = relabel_process(sp->metric_relabel, sp->nmetric_relabel, b, rs, &keep))) return rc;
        /* Prometheus: a set the rules drop, or empty them, is dropped */
        if (!keep || b->n == 0) return 1;
    }
    if ((rc = lb_sort(b))) {
        snprintf(err, errcap, "%s", flint_errmsg());
        return rc;
    }
    labels l = lb_labels(b);
    if (labels_validate(&l)) {
        char buf[256];
        labels_format(&l, buf, sizeof buf);
        snprintf(err, errcap, "invalid metric name or label names: %s", buf);
        return FLINT_EINVAL;
    }
    /* label limits, Prometheus' messages */
    const char *metric = labels_get(&l, METRIC_NAME_LABEL);
    if (!metric) metric = "";
    if (sp->label_limit && l.n > sp->label_limit) {
        snprintf(err, errcap, "label_limit exceeded (metric: %.50s, number of labels: %zu, limit: %u)", metric,
                 l.n, sp->label_limit);
        return FLINT_ELIMIT;
    }
    for (size_t i = 0; i < l.n; i++) {
        size_t nl = strlen(l.v[i].name), vl = strlen(l.v[i].value);
        if (sp->label_name_length_limit && nl > sp->label_name_length_limit) {
            snprintf(err, errcap,
                     "label_name_length_limit exceeded (metric: %.50s, label name: %.50s, length: %zu, limit: %u)",
                     metric, l.v[i].name, nl, sp->label_name_length_limit);
            return FLINT_ELIMIT;
        }
        if (sp->label_value_length_limit && vl > sp->label_value_length_limit) {
            snprintf(err, errcap,
                     "label_value_length_limit exceeded (metric: %.50s, label name: %.50s, value: \"%.50s\", "
                     "length: %zu, limit: %u)",
                     metric, l.v[i].name, l.v[i].value, vl, sp->label_value_length_limit);
            return FLINT_ELIMIT;
        }
    }
    return 0;
}

typedef struct scrape_result {
    /* scraped: samples parsed; post_relabel: samples kept by metric
     * relabeling, duplicates included (Prometheus' `added`: "the exact
     * number of time series exposed on a scrape after relabelling"; the
     * sample limit applies to it); appended: stored */
    uint64_t scraped, post_relabel, appended, series_added;
    bool over_limit; /* sample_limit passed: the scrape fails once the body is counted */
    char err[512];
} scrape_result;

/* One sample: its cache entry (found by the raw series bytes, or made:
 * labels built, relabelled, checked), the limits, the append. 0, or an
 * error with res->err set. */
static int append_sample(target *t, tsdb_appender *app, const expo_sample *s, relabel_scratch *rs,
                         series_entry **prev, scrape_result *res) {
    const scrape_target_spec *sp = &t->spec.s;
    char *names[64];
    size_t nnames = 0;
    bool have_labels = false; /* t->lb holds the series' final labels */
    int rc = 0;
    if (sp->nlabels > 64) {
        snprintf(res->err, sizeof res->err, "too many target labels");
        return FLINT_ELIMIT;
    }
    /* the parser says when the raw series is the previous sample's: then
     * not even the hash is needed */
    series_entry *e = s->series_repeated ? *prev : NULL;
    uint32_t now = (uint32_t)t->scrape_id;
    if (res->over_limit) {
        /* Past sample_limit the scrape fails, but like Prometheus the rest
         * of the body is still counted (scrape_samples_scraped and
         * _post_metric_relabeling report what the target exposed); nothing
         * is cached or stored, so a runaway target grows nothing. */
        if (!e) e = cache_get(&t->cache, XXH3_128bits(s->series, s->series_len));
        *prev = e;
        bool kept = true;
        if (e) {
            kept = !(e->flags & SE_DROPPED);
        } else if (sp->nmetric_relabel) {
            rc = build_labels(t, s, rs, names, &nnames, res->err, sizeof res->err);
            kept = rc == 0;
            have_labels = true; /* the relabel scratch is reset below */
            rc = 0;
            res->err[0] = 0;
        }
        res->post_relabel += kept;
        goto out;
    }
    if (!e) {
        XXH128_hash_t h = XXH3_128bits(s->series, s->series_len);
        e = cache_get(&t->cache, h);
        if (!e) {
            rc = build_labels(t, s, rs, names, &nnames, res->err, sizeof res->err);
            bool dropped = rc == 1;
            if (rc && !dropped) goto out;
            if (!(e = cache_put(&t->cache, h))) {
                rc = FLINT_ENOMEM;
                snprintf(res->err, sizeof res->err, "out of memory");
                goto out;
            }
            rc = 0;
            if (dropped) e->flags |= SE_DROPPED;
            else res->series_added++;
            have_labels = !dropped;
            e->seen = now - 1; /* not seen in this scrape yet */
        }
    }
    /* only the previous sample's entry is used again, and nothing grows
     * the table between the two */
    *prev = e;
    if (e->flags & SE_DROPPED) { /* by metric_relabel_configs (cached, as Prometheus' addDropped) */
        e->seen = now;
        goto out;
    }
    res->post_relabel++;
    if (sp->sample_limit && res->post_relabel > sp->sample_limit) {
        res->over_limit = true; /* the error comes after the body is counted */
        goto out;
    }
    if (e->seen == now && !s->has_ts) {
        /* the same series twice in one scrape: Prometheus' head refuses
         * the second (same timestamp) and counts it; store it once */
        t->n_dups++;
        goto out;
    }
    e->seen = now;
    bool own_ts = sp->honor_timestamps && s->has_ts;
    e->flags = own_ts ? e->flags | SE_EXPLICIT_TS : e->flags & ~(uint32_t)SE_EXPLICIT_TS;
    int64_t ts = own_ts ? s->ts_ms : t->sched_ms;
    for (;;) {
        labels l = {NULL, 0};
        if (have_labels) l = lb_labels(&t->lb);
        rc = append_counted(t, app, &e->ref, l.v, l.n, ts, s->value, &res->appended);
        if (rc != FLINT_ENOTFOUND || have_labels) break;
        /* the head does not know the ref: the labels again (nothing was
         * built in this call, so names is empty) */
        rc = build_labels(t, s, rs, names, &nnames, res->err, sizeof res->err);
        if (rc == 1) rc = 0; /* cannot happen: the rules did not change (a change resets the cache) */
        if (rc) goto out;
        have_labels = true;
    }
    if (rc) snprintf(res->err, sizeof res->err, "append: %s", flint_errmsg());
out:
    for (size_t i = 0; i < nnames; i++) fl_free(names[i]);
    if (sp->nmetric_relabel && (have_labels || nnames)) relabel_scratch_reset(rs);
    return rc;
}

/* Parse the body and append every sample into `app`. 0, or an error with
 * res->err set (the caller rolls back). */
static int append_body(target *t, tsdb_appender *app, const char *ctype, relabel_scratch *rs, md_build *md,
                       scrape_result *res) {
    expo_format fmt = expo_format_from_content_type(ctype);
    const char *body = t->body ? t->body : ""; /* an empty body is a scrape without samples */
    if (!t->parser_ready) {
        expo_parser_init(&t->parser, fmt, body, t->body_len);
        t->parser_ready = true;
    } else {
        expo_parser_reset(&t->parser, fmt, body, t->body_len);
    }
    series_entry *prev = NULL;
    int r, rc = 0;
    while ((r = expo_next(&t->parser)) > 0) {
        if (r != EXPO_SAMPLE) {
            md_on_meta(md, r, expo_meta_at(&t->parser));
            continue;
        }
        const expo_sample *s = expo_sample_at(&t->parser);
        res->scraped++;
        if ((rc = append_sample(t, app, s, rs, &prev, res))) return rc;
    }
    if (r < 0) {
        snprintf(res->err, sizeof res->err, "%s", r == FLINT_EINVAL ? expo_error(&t->parser) : flint_strerror(r));
        return r;
    }
    if (md->oom) {
        snprintf(res->err, sizeof res->err, "out of memory");
        return FLINT_ENOMEM;
    }
    if (res->over_limit) {
        snprintf(res->err, sizeof res->err, "sample limit exceeded");
        return FLINT_ELIMIT;
    }
    return 0;
}

/* ---- transfers ------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    target *t = ud;
    size_t n = size * nmemb;
    if (t->spec.s.body_size_limit > 0 && (int64_t)(t->body_len + n) > t->spec.s.body_size_limit) {
        t->body_too_big = true;
        return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    if (t->body_len + n + 1 > t->body_cap) {
        size_t cap = t->body_cap ? t->body_cap : 16384;
        while (cap < t->body_len + n + 1) cap *= 2;
        char *b = fl_realloc(t->body, cap);
        if (!b) return 0;
        t->body = b;
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, data, n);
    t->body_len += n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
    target *t = ud;
    size_t n = size * nmemb;
    if (n > 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* "HTTP/1.1 500 Internal Server Error\r\n" -> "500 Internal Server Error" */
        const char *p = memchr(data, ' ', n);
        size_t k = 0;
        if (p) {
            p++;
            while (p < data + n && *p != '\r' && *p != '\n' && k + 1 < sizeof t->status_line)
                t->status_line[k++] = *p++;
        }
        t->status_line[k] = 0;
    }
    return n;
}

/* Go's http.StatusText for the codes a target plausibly returns: HTTP/2
 * status lines carry no reason phrase, but Prometheus' error (resp.Status)
 * has one. */
static const char *status_text(long code) {
    switch (code) {
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

static int start_scrape(scrape_manager *m, target *t) {
    const scrape_target_spec *sp = &t->spec.s;
    CURL *c = curl_easy_init();
    if (!c) return FLINT_ENOMEM;
    struct curl_slist *h = NULL, *h2, *conn = NULL;
    char tmo[96];
    snprintf(tmo, sizeof tmo, "X-Prometheus-Scrape-Timeout-Seconds: %g", (double)sp->timeout_ms / 1000.0);
#define ADD(s)                                                                                     \
    do {                                                                                           \
        if (!(h2 = curl_slist_append(h, (s)))) goto oom;                                           \
        h = h2;                                                                                    \
    } while (0)
    ADD(SCRAPE_ACCEPT_HEADER);
    ADD(tmo);
    if (!sp->enable_compression) ADD("Accept-Encoding: identity");
    for (size_t i = 0; i < sp->nheaders; i++) ADD(sp->headers[i]);
    /* tls_config.server_name: libcurl takes the SNI and the name it
     * verifies from the URL, so the URL names the server and CONNECT_TO
     * sends the connection to the target's address; the Host header stays
     * the target's, as in Prometheus */
    char *sni_url = NULL;
    if (sp->tls_server_name && strncmp(sp->url, "https://", 8) == 0) {
        const char *auth = sp->url + 8, *rest = auth + strcspn(auth, "/?#");
        const char *close = auth[0] == '[' ? memchr(auth, ']', (size_t)(rest - auth)) : NULL;
        const char *colon = memchr(close ? close : auth, ':', (size_t)(rest - (close ? close : auth)));
        int hostlen = (int)((colon ? colon : rest) - auth);
        const char *port = colon ? colon + 1 : "443";
        int portlen = colon ? (int)(rest - port) : 3;
        size_t n = strlen(sp->url) + strlen(sp->tls_server_name) + 16;
        char hosthdr[300], ct[600];
        snprintf(hosthdr, sizeof hosthdr, "Host: %.*s", (int)(rest - auth), auth);
        ADD(hosthdr);
        snprintf(ct, sizeof ct, "%s:%.*s:%.*s:%.*s", sp->tls_server_name, portlen, port, hostlen, auth, portlen, port);
        if (!(sni_url = fl_malloc(n)) || !(conn = curl_slist_append(NULL, ct))) {
            fl_free(sni_url);
            goto oom;
        }
        snprintf(sni_url, n, "https://%s%s%.*s%s", sp->tls_server_name, colon ? ":" : "", colon ? portlen : 0, port,
                 rest);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, conn);
    }
#undef ADD
    curl_easy_setopt(c, CURLOPT_URL, sni_url ? sni_url : sp->url);
    fl_free(sni_url); /* libcurl copied it */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "flint/0.1");
    if (sp->enable_compression) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)sp->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy from the environment, as Prometheus */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_err);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t);
    if (sp->body_size_limit > 0) curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sp->body_size_limit);
    if (sp->basic_user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, sp->basic_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, sp->basic_password ? sp->basic_password : "");
    }
    if (sp->tls_ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, sp->tls_ca_file);
    if (sp->tls_cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, sp->tls_cert_file);
    if (sp->tls_key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, sp->tls_key_file);
    if (sp->tls_insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    t->body_len = 0;
    t->body_too_big = false;
    t->status_line[0] = 0;
    t->curl_err[0] = 0;
    if (curl_multi_add_handle(m->multi, c) != CURLM_OK) goto oom;
    t->easy = c;
    t->req_headers = h;
    t->connect_to = conn;
    t->start_wall_ms = wall_ms();
    t->start_mono = mono_s();
    return 0;
oom:
    curl_slist_free_all(h);
    curl_slist_free_all(conn);
    curl_easy_cleanup(c);
    return FLINT_ENOMEM;
}

static void end_transfer(scrape_manager *m, target *t) {
    if (!t->easy) return;
    curl_multi_remove_handle(m->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->req_headers);
    curl_slist_free_all(t->connect_to);
    t->easy = NULL;
    t->req_headers = NULL;
    t->connect_to = NULL;
}

static void set_state(scrape_manager *m, target *t, bool up, const char *err, double dur) {
    pthread_mutex_lock(&m->mu);
    t->health = up ? SCRAPE_HEALTH_UP : SCRAPE_HEALTH_DOWN;
    snprintf(t->last_error, sizeof t->last_error, "%s", up ? "" : err);
    t->last_scrape_ms = t->start_wall_ms;
    t->last_duration_s = dur;
    t->scrapes++;
    t->dups = t->n_dups;
    t->ooo = t->n_ooo;
    t->oob = t->n_oob;
    pthread_mutex_unlock(&m->mu);
}

/* Scrape thread: a transfer ended. Work out its error, release the
 * handle, and queue the target for a worker (parse, append, report,
 * staleness); the target is busy until the worker is done. */
static void transfer_done(scrape_manager *m, target *t, CURLcode cc) {
    t->fin_dur = mono_s() - t->start_mono;
    char *err = t->fin_err;
    size_t errcap = sizeof t->fin_err;
    err[0] = 0;
    long code = 0;
    const char *ctype = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
    fl_free(t->fin_ct);
    t->fin_ct = ctype ? fl_strdup(ctype) : NULL;
    if (t->body_too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, errcap, "body size limit exceeded");
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, errcap, "Get \"%s\": context deadline exceeded", t->spec.s.url);
    } else if (cc != CURLE_OK) {
        /* libcurl's "Couldn't connect to server" hides why: add the OS
         * error, in Prometheus' words ("connect: connection refused") */
        long oserr = 0;
        char os[160] = "";
        if (cc == CURLE_COULDNT_CONNECT && curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK &&
            oserr > 0) {
            char buf[128];
            snprintf(os, sizeof os, " (connect: %s)", strerror_r((int)oserr, buf, sizeof buf));
            if (os[11] >= 'A' && os[11] <= 'Z') os[11] = (char)(os[11] - 'A' + 'a');
        }
        snprintf(err, errcap, "Get \"%s\": %s%s", t->spec.s.url, t->curl_err[0] ? t->curl_err : curl_easy_strerror(cc),
                 os);
    } else if (code != 200) {
        if (strchr(t->status_line, ' '))
            snprintf(err, errcap, "server returned HTTP status %s", t->status_line);
        else
            snprintf(err, errcap, "server returned HTTP status %ld %s", code, status_text(code));
    }
    end_transfer(m, t);
    pthread_mutex_lock(&m->qmu);
    t->busy = true;
    t->qnext = NULL;
    if (m->qtail) m->qtail->qnext = t;
    else m->qhead = t;
    m->qtail = t;
    pthread_cond_signal(&m->qcond);
    pthread_mutex_unlock(&m->qmu);
}

/* After a scrape with a new cache: stale markers at ts for the series of
 * the old cache's last successful scrape. Those the scrape stored again
 * already have a sample at ts, so their marker is refused and ignored
 * (Prometheus' end-of-run markers are likewise out of order then); the
 * others, now stored under other labels or gone, end here. */
static void stale_old_cache(scrape_manager *m, target *t, series_cache *old, int64_t ts) {
    tsdb_appender *app = tsdb_appender_begin(m->db);
    if (!app) return;
    for (size_t i = 0; i < old->nslots; i++) {
        series_entry *e = &old->slots[i];
        if (!(e->flags & SE_LAST_OK)) continue;
        labels none = {NULL, 0};
        int rc = tsdb_append(app, e->ref, &none, ts, stale_nan(), &e->ref);
        if (rc && rc != FLINT_EOOO && rc != FLINT_ETOOOLD && rc != FLINT_EDUPSAMPLE && rc != FLINT_ENOTFOUND) {
            tsdb_rollback(app);
            return;
        }
    }
    if (tsdb_commit(app))
        flint_log(FLINT_LOG_WARN, "scrape", "stale markers after a configuration change failed", "target=%s err=\"%s\"",
                  t->spec.s.url, flint_errmsg());
}

/* Worker: parse, append, report, staleness for a queued target. */
static void process_scrape(scrape_manager *m, scrape_worker *w, target *t) {
    series_cache old_cache = {0};
    bool reset = t->cache_reset;
    if (reset) {
        old_cache = t->cache;
        memset(&t->cache, 0, sizeof t->cache);
        t->cache_reset = false;
    }
    double dur = t->fin_dur;
    char err[512];
    snprintf(err, sizeof err, "%s", t->fin_err);
    const char *ct = t->fin_ct;
    t->scrape_id++;
    scrape_result res;
    memset(&res, 0, sizeof res);
    int64_t ts = t->sched_ms;
    bool ok = !err[0];
    tsdb_appender *app = tsdb_appender_begin(m->db);
    if (!app) {
        snprintf(err, sizeof err, "out of memory");
        ok = false;
    }
    md_build md = {.in = &m->intern, .old = t->md, .nold = t->nmd};
    if (ok) {
        int rc = append_body(t, app, ct, &w->rs, &md, &res);
        if (!rc) rc = write_stale(t, app, ts, false);
        if (!rc) rc = write_report(t, app, ts, true, dur, res.scraped, res.post_relabel, res.series_added);
        if (!rc) {
            rc = tsdb_commit(app);
            app = NULL;
            if (rc) snprintf(res.err, sizeof res.err, "commit: %s", flint_errmsg());
        }
        if (rc) {
            if (app) tsdb_rollback(app);
            ok = false;
            snprintf(err, sizeof err, "%s", res.err[0] ? res.err : flint_strerror(rc));
            app = tsdb_appender_begin(m->db);
        }
    }
    if (!ok && app) {
        /* nothing of the failed scrape is stored: stale markers for the last
         * good scrape's series, and the report with up=0 */
        int rc = write_stale(t, app, ts, true);
        if (!rc) rc = write_report(t, app, ts, false, dur, res.scraped, res.post_relabel, res.series_added);
        if (rc) tsdb_rollback(app);
        else if (tsdb_commit(app))
            flint_log(FLINT_LOG_WARN, "scrape", "commit of a failed scrape's report failed", "target=%s err=\"%s\"",
                      t->spec.s.url, flint_errmsg());
    }
    mark_stale_done(t, ok);
    if (reset) {
        stale_old_cache(m, t, &old_cache, ts);
        cache_free(&old_cache);
    }
    if (ok) { /* the metadata of the last successful scrape */
        pthread_mutex_lock(&m->mu);
        md_entry *old = t->md;
        size_t nold = t->nmd;
        t->md = md.v;
        t->nmd = md.n;
        pthread_mutex_unlock(&m->mu);
        md_release(&m->intern, old, nold);
    } else {
        md_release(&m->intern, md.v, md.n);
    }
    if (t->scrape_id % 16 == 0) cache_evict(&t->cache, (uint32_t)t->scrape_id, 4);
    if (!ok)
        flint_log(FLINT_LOG_DEBUG, "scrape", "scrape failed", "target=%s err=\"%s\"", t->spec.s.url, err);
    set_state(m, t, ok, err, dur);
    if (t->body_cap > (1u << 20)) { /* a big body's buffer is mapped per scrape, not kept */
        fl_free(t->body);
        t->body = NULL;
        t->body_cap = 0;
    }
    t->body_len = 0;
}

/* A removed target: stale markers for its series and report series.
 * Called by the owner of its series state: the scrape thread (after
 * end_transfer), or the worker that was busy with it. */
static void target_retire(scrape_manager *m, target *t) {
    if (!t->rep_written) return;
    int64_t ts = wall_ms();
    if (ts <= t->last_ts) ts = t->last_ts + 1;
    tsdb_appender *app = tsdb_appender_begin(m->db);
    if (!app) return;
    int rc = write_stale(t, app, ts, true);
    uint64_t dummy = 0;
    size_t n = t->spec.s.nlabels + 1;
    for (int i = 0; !rc && i < REP_N; i++)
        rc = append_counted(t, app, &t->rep_refs[i], t->rep_labels[i], n, ts, stale_nan(), &dummy);
    if (rc) tsdb_rollback(app);
    else tsdb_commit(app);
}

/* ---- workers ------------------------------------------------------------- */

/* The worker is done with t: it goes back to the scrape thread, or, when
 * it was removed meanwhile, is retired (stale markers after everything
 * the last scrape wrote) and freed here. */
static void worker_release(scrape_manager *m, target *t) {
    pthread_mutex_lock(&m->qmu);
    t->busy = false;
    bool retired = t->retired;
    pthread_mutex_unlock(&m->qmu);
    if (retired) {
        target_retire(m, t);
        target_free(m, t);
    }
}

static void *worker_main(void *arg) {
    scrape_worker *w = arg;
    scrape_manager *m = w->m;
    for (;;) {
        pthread_mutex_lock(&m->qmu);
        while (!m->wstop && !m->qhead) pthread_cond_wait(&m->qcond, &m->qmu);
        if (m->wstop) { /* what is still queued is dropped by scrape_manager_stop */
            pthread_mutex_unlock(&m->qmu);
            break;
        }
        target *t = m->qhead;
        m->qhead = t->qnext;
        if (!m->qhead) m->qtail = NULL;
        pthread_mutex_unlock(&m->qmu);
        /* also when removed meanwhile: a body that arrived is stored, as
         * Prometheus' loop finishes the scrape it is in when stopped */
        process_scrape(m, w, t);
        worker_release(m, t);
    }
    return NULL;
}

static void workers_stop(scrape_manager *m) {
    pthread_mutex_lock(&m->qmu);
    m->wstop = true;
    pthread_cond_broadcast(&m->qcond);
    pthread_mutex_unlock(&m->qmu);
    for (size_t i = 0; i < m->nworkers; i++) {
        pthread_join(m->workers[i].thread, NULL);
        relabel_scratch_free(&m->workers[i].rs);
    }
    fl_free(m->workers);
    m->workers = NULL;
    m->nworkers = 0;
    /* finished transfers nobody parsed: dropped, as an aborted scrape */
    for (target *t; (t = m->qhead);) {
        m->qhead = t->qnext;
        t->body_len = 0;
        worker_release(m, t);
    }
    m->qtail = NULL;
    m->wstop = false;
}

static int workers_start(scrape_manager *m) {
    if (!(m->workers = fl_calloc(SCRAPE_WORKERS, sizeof *m->workers))) return FLINT_ENOMEM;
    for (size_t i = 0; i < SCRAPE_WORKERS; i++) {
        scrape_worker *w = &m->workers[i];
        w->m = m;
        relabel_scratch_init(&w->rs);
        if (pthread_create(&w->thread, NULL, worker_main, w)) {
            relabel_scratch_free(&w->rs);
            workers_stop(m);
            return flint_error(FLINT_EIO, "scrape: cannot start a worker thread");
        }
        m->nworkers++;
    }
    return 0;
}

static bool is_busy(scrape_manager *m, target *t) {
    pthread_mutex_lock(&m->qmu);
    bool b = t->busy;
    pthread_mutex_unlock(&m->qmu);
    return b;
}

/* ---- the manager ---------------------------------------------------------- */

static void init_curl(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

scrape_manager *scrape_manager_new(tsdb *db) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_curl);
    scrape_manager *m = fl_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->db = db;
    if (!(m->multi = curl_multi_init())) {
        fl_free(m);
        flint_error(FLINT_ENOMEM, "scrape: curl_multi_init failed");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->intern.mu, NULL);
    pthread_mutex_init(&m->qmu, NULL);
    pthread_cond_init(&m->qcond, NULL);
    return m;
}

int scrape_manager_set_targets(scrape_manager *m, const scrape_target_spec *specs, size_t n) {
    spec_copy *v = n ? fl_calloc(n, sizeof *v) : NULL;
    if (n && !v) return FLINT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        /* the targets of a job are usually consecutive and share the
         * job's rules: compile each distinct array once */
        mrules *shared = NULL;
        for (size_t j = i; j-- > 0 && !shared;) {
            if (specs[j].metric_relabel == specs[i].metric_relabel && v[j].mr &&
                specs[j].nmetric_relabel == specs[i].nmetric_relabel)
                shared = v[j].mr;
            if (i - j > 8) break;
        }
        int rc = spec_copy_make(&specs[i], &v[i], shared);
        if (rc) {
            for (size_t j = 0; j < i; j++) spec_copy_free(&v[j]);
            fl_free(v);
            return rc;
        }
    }
    pthread_mutex_lock(&m->mu);
    if (m->has_pending) {
        for (size_t j = 0; j < m->npending; j++) spec_copy_free(&m->pending[j]);
        fl_free(m->pending);
    }
    m->pending = v;
    m->npending = n;
    m->has_pending = true;
    pthread_mutex_unlock(&m->mu);
    curl_multi_wakeup(m->multi);
    return 0;
}

/* Do a and b turn the same exposed series into the same stored ones? Not
 * when honor_labels/honor_timestamps, the label limits or the metric
 * relabelling rules differ: then the series cache cannot be kept (as
 * Prometheus' reusableCache, which only ignores interval, timeout,
 * sample_limit and the HTTP client settings). */
static bool spec_same_series(const scrape_target_spec *a, const scrape_target_spec *b) {
    if (a->honor_labels != b->honor_labels || a->honor_timestamps != b->honor_timestamps ||
        a->label_limit != b->label_limit || a->label_name_length_limit != b->label_name_length_limit ||
        a->label_value_length_limit != b->label_value_length_limit || a->nmetric_relabel != b->nmetric_relabel)
        return false;
    for (size_t i = 0; i < a->nmetric_relabel; i++)
        if (!relabel_rule_equal(&a->metric_relabel[i], &b->metric_relabel[i])) return false;
    return true;
}

/* Scrape thread, target not busy: the options from the last set_targets. */
static void apply_next_spec(scrape_manager *m, target *t) {
    if (!t->has_next_spec) return;
    if (!spec_same_series(&t->spec.s, &t->next_spec.s)) t->cache_reset = true;
    int64_t old_interval = t->spec.s.interval_ms;
    pthread_mutex_lock(&m->mu);
    spec_copy_free(&t->spec);
    t->spec = t->next_spec;
    pthread_mutex_unlock(&m->mu);
    memset(&t->next_spec, 0, sizeof t->next_spec);
    t->has_next_spec = false;
    t->offset_ms = scrape_target_offset(&t->spec.s);
    if (old_interval != t->spec.s.interval_ms)
        t->next_ms = next_slot(t->sched_ms, t->spec.s.interval_ms, t->offset_ms);
}

/* Scrape thread: stop a target no longer listed. Busy with a worker: the
 * worker retires and frees it when done (so its stale markers come after
 * everything its last scrape writes); otherwise here. */
static void target_remove(scrape_manager *m, target *t) {
    end_transfer(m, t);
    pthread_mutex_lock(&m->qmu);
    bool busy = t->busy;
    if (busy) t->retired = true;
    pthread_mutex_unlock(&m->qmu);
    if (busy) return;
    target_retire(m, t);
    target_free(m, t);
}

/* Scrape thread: make the pending list the target list. */
static void apply_pending(scrape_manager *m) {
    pthread_mutex_lock(&m->mu);
    if (!m->has_pending) {
        pthread_mutex_unlock(&m->mu);
        return;
    }
    spec_copy *v = m->pending;
    size_t n = m->npending;
    m->pending = NULL;
    m->npending = 0;
    m->has_pending = false;
    target **old = m->targets;
    size_t nold = m->ntargets;
    pthread_mutex_unlock(&m->mu);

    target **nt = fl_calloc(n ? n : 1, sizeof *nt);
    bool *kept = fl_calloc(nold ? nold : 1, sizeof *kept);
    if (!nt || !kept) goto oom;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = spec_identity(&v[i].s);
        target *t = NULL;
        bool twice = false; /* the same target listed twice: scrape it once, as Prometheus */
        for (size_t j = 0; j < i && !twice; j++) twice = nt[j] && nt[j]->id_hash == id;
        if (twice) {
            spec_copy_free(&v[i]);
            nt[i] = NULL;
            continue;
        }
        for (size_t j = 0; j < nold; j++)
            if (!kept[j] && old[j]->id_hash == id) {
                t = old[j];
                kept[j] = true;
                break;
            }
        if (t) {
            /* a worker may be reading the options: they change when it is done */
            if (t->has_next_spec) spec_copy_free(&t->next_spec);
            t->next_spec = v[i];
            t->has_next_spec = true;
            memset(&v[i], 0, sizeof v[i]);
            if (!is_busy(m, t)) apply_next_spec(m, t);
        } else {
            t = fl_calloc(1, sizeof *t);
            if (!t) goto oom_i;
            t->spec = v[i];
            memset(&v[i], 0, sizeof v[i]);
            t->id_hash = id;
            t->offset_ms = scrape_target_offset(&t->spec.s);
            lb_init(&t->lb);
            if (target_build_report_labels(t)) {
                target_free(m, t);
                goto oom_i;
            }
        }
        nt[i] = t;
        continue;
    oom_i:
        flint_log(FLINT_LOG_ERROR, "scrape", "out of memory adding a target", "target=%s", v[i].s.url);
        spec_copy_free(&v[i]);
        nt[i] = NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (nt[i]) nt[k++] = nt[i];
    pthread_mutex_lock(&m->mu);
    m->targets = nt;
    m->ntargets = k;
    pthread_mutex_unlock(&m->mu);
    for (size_t j = 0; j < nold; j++)
        if (!kept[j]) target_remove(m, old[j]);
    fl_free(old);
    fl_free(kept);
    fl_free(v);
    return;
oom:
    /* keep the old list; drop the new one */
    flint_log(FLINT_LOG_ERROR, "scrape", "out of memory applying targets", NULL);
    for (size_t i = 0; i < n; i++) spec_copy_free(&v[i]);
    fl_free(v);
    fl_free(nt);
    fl_free(kept);
}

static void *scrape_thread(void *arg) {
    scrape_manager *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        int stop = m->stop;
        pthread_mutex_unlock(&m->mu);
        if (stop) break;
        apply_pending(m);
        int64_t now = wall_ms();
        int64_t wake = now + 1000;
        for (size_t i = 0; i < m->ntargets; i++) {
            target *t = m->targets[i];
            bool busy = is_busy(m, t);
            if (!busy && t->has_next_spec) apply_next_spec(m, t);
            int64_t iv = t->spec.s.interval_ms;
            if (!t->next_ms) t->next_ms = next_slot(now, iv, t->offset_ms);
            if (!t->easy && !busy && now >= t->next_ms) {
                /* the latest slot <= now: normally next_ms itself; later
                 * when the thread was held up or the manager was stopped
                 * (missed slots are skipped, never caught up) */
                t->sched_ms = next_slot(now - iv, iv, t->offset_ms);
                if (t->sched_ms < t->next_ms) t->sched_ms = t->next_ms;
                if (start_scrape(m, t))
                    flint_log(FLINT_LOG_ERROR, "scrape", "cannot start a scrape", "target=%s", t->spec.s.url);
                t->next_ms = next_slot(now, iv, t->offset_ms); /* missed slots are skipped */
            } else if (now >= t->next_ms) { /* in flight or being parsed: the slot is skipped */
                t->next_ms = next_slot(now, iv, t->offset_ms);
            }
            if (t->next_ms < wake) wake = t->next_ms;
        }
        int running = 0;
        curl_multi_perform(m->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            target *t = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            CURLcode cc = msg->data.result;
            if (t) transfer_done(m, t, cc);
        }
        now = wall_ms();
        long curl_tmo = -1;
        curl_multi_timeout(m->multi, &curl_tmo);
        int64_t wait = wake - now;
        if (wait < 0) wait = 0;
        if (curl_tmo >= 0 && curl_tmo < wait) wait = curl_tmo;
        if (wait > 0) curl_multi_poll(m->multi, NULL, 0, (int)wait, NULL);
    }
    for (size_t i = 0; i < m->ntargets; i++) end_transfer(m, m->targets[i]);
    return NULL;
}

int scrape_manager_run(scrape_manager *m) {
    pthread_mutex_lock(&m->mu);
    if (m->running) {
        pthread_mutex_unlock(&m->mu);
        return flint_error(FLINT_EINVAL, "scrape: manager already running");
    }
    m->stop = 0;
    m->running = true;
    pthread_mutex_unlock(&m->mu);
    int rc = workers_start(m);
    if (!rc && pthread_create(&m->thread, NULL, scrape_thread, m)) {
        workers_stop(m);
        rc = flint_error(FLINT_EIO, "scrape: cannot start the scrape thread");
    }
    if (rc) {
        pthread_mutex_lock(&m->mu);
        m->running = false;
        pthread_mutex_unlock(&m->mu);
    }
    return rc;
}

void scrape_manager_stop(scrape_manager *m) {
    pthread_mutex_lock(&m->mu);
    bool running = m->running;
    m->stop = 1;
    pthread_mutex_unlock(&m->mu);
    if (!running) return;
    curl_multi_wakeup(m->multi);
    pthread_join(m->thread, NULL);
    workers_stop(m); /* a parse under way completes; queued bodies are dropped */
    pthread_mutex_lock(&m->mu);
    m->running = false;
    pthread_mutex_unlock(&m->mu);
}

void scrape_manager_free(scrape_manager *m) {
    if (!m) return;
    scrape_manager_stop(m);
    for (size_t i = 0; i < m->ntargets; i++) {
        end_transfer(m, m->targets[i]);
        target_free(m, m->targets[i]);
    }
    fl_free(m->targets);
    for (size_t j = 0; j < m->npending; j++) spec_copy_free(&m->pending[j]);
    fl_free(m->pending);
    curl_multi_cleanup(m->multi);
    pthread_cond_destroy(&m->qcond);
    pthread_mutex_destroy(&m->qmu);
    assert(m->intern.n == 0);
    fl_free(m->intern.buckets);
    pthread_mutex_destroy(&m->intern.mu);
    pthread_mutex_destroy(&m->mu);
    fl_free(m);
}

int scrape_manager_targets(scrape_manager *m, scrape_target_status **out, size_t *n) {
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->mu);
    size_t cnt = m->ntargets;
    scrape_target_status *v = cnt ? fl_calloc(cnt, sizeof *v) : NULL;
    if (cnt && !v) {
        pthread_mutex_unlock(&m->mu);
        return FLINT_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        const target *t = m->targets[i];
        scrape_target_status *s = &v[i];
        s->scrape_url = fl_strdup(t->spec.s.url);
        s->labels = labels_dup(t->spec.s.labels, t->spec.s.nlabels);
        s->nlabels = t->spec.s.nlabels;
        s->last_error = fl_strdup(t->last_error);
        s->health = t->health;
        s->last_scrape_ms = t->last_scrape_ms;
        s->last_scrape_duration_s = t->last_duration_s;
        s->interval_ms = t->spec.s.interval_ms;
        s->timeout_ms = t->spec.s.timeout_ms;
        s->scrapes = t->scrapes;
        s->duplicate_samples = t->dups;
        s->out_of_order_samples = t->ooo;
        s->out_of_bounds_samples = t->oob;
        if (!s->scrape_url || !s->labels || !s->last_error) {
            pthread_mutex_unlock(&m->mu);
            scrape_target_status_free(v, cnt);
            return FLINT_ENOMEM;
        }
    }
    pthread_mutex_unlock(&m->mu);
    *out = v;
    *n = cnt;
    return 0;
}

void scrape_target_status_free(scrape_target_status *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        fl_free(v[i].scrape_url);
        fl_free(v[i].labels);
        fl_free(v[i].last_error);
    }
    fl_free(v);
}

/* ---- metadata API --------------------------------------------------------- */

static int md_out_cmp(const void *pa, const void *pb) {
    const scrape_metadata *a = pa, *b = pb;
    int c = strcmp(a->metric, b->metric);
    if (!c) c = strcmp(a->type, b->type);
    if (!c) c = strcmp(a->help, b->help);
    if (!c) c = strcmp(a->unit, b->unit);
    return c;
}

int scrape_manager_metadata(scrape_manager *m, const char *metric, size_t limit_per_metric, scrape_metadata **out,
                            size_t *n) {
    *out = NULL;
    *n = 0;
    scrape_metadata *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->ntargets && !rc; i++) {
        const target *t = m->targets[i];
        for (size_t k = 0; k < t->nmd; k++) {
            const md_entry *e = &t->md[k];
            if (metric && strcmp(e->name->s, metric) != 0) continue;
            if ((rc = fl_grow((void **)&v, &cap, cnt + 1, sizeof *v))) break;
            scrape_metadata *o = &v[cnt];
            o->metric = fl_strdup(e->name->s);
            o->type = expo_type_name(e->type);
            o->help = fl_strdup(e->help ? e->help->s : "");
            o->unit = fl_strdup(e->unit ? e->unit->s : "");
            cnt++;
            if (!o->metric || !o->help || !o->unit) {
                rc = FLINT_ENOMEM;
                break;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (rc) {
        scrape_metadata_free(v, cnt);
        return FLINT_ENOMEM;
    }
    if (cnt) qsort(v, cnt, sizeof *v, md_out_cmp);
    /* unique, and at most limit_per_metric per metric */
    size_t k = 0, per = 0;
    for (size_t i = 0; i < cnt; i++) {
        bool same_metric = k && strcmp(v[k - 1].metric, v[i].metric) == 0;
        bool dup = same_metric && md_out_cmp(&v[k - 1], &v[i]) == 0;
        per = same_metric ? per : 0;
        if (dup || (limit_per_metric && per >= limit_per_metric)) {
            fl_free(v[i].metric);
            fl_free(v[i].help);
            fl_free(v[i].unit);
            continue;
        }
        v[k++] = v[i];
        per++;
    }
    *out = v;
    *n = k;
    return 0;
}

void scrape_metadata_free(scrape_metadata *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        fl_free(v[i].metric);
        fl_free(v[i].help);
        fl_free(v[i].unit);
    }
    fl_free(v);
}
