/*
 * walrec.c - WAL record contents (series, samples), replay and checkpoints
 * (see walrec.h; byte tables in docs/format/wal.md).
 *
 * Decoders trust nothing: every length and count is checked against the
 * bytes that are left before anything is read or allocated, so a corrupt
 * record is FLINT_ECORRUPT with the offset, never a crash or a huge
 * allocation. Relies on storage/wal.h for framing, CRCs and repair.
 */
#include "tsdb/walrec.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "storage/varint.h"
#include "storage/wal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Smallest encodings, used to bound counts by the bytes left:
 * a series is ref + label count (1 byte each at least), a label two empty
 * strings, a sample two varints and 8 value bytes. */
#define MIN_SERIES_BYTES 2
#define MIN_LABEL_BYTES 2
#define MIN_SAMPLE_BYTES 10

/* Entries per record when a checkpoint re-encodes what it keeps. */
#define CHECKPOINT_BATCH 1000

int walrec_type(const uint8_t *rec, size_t len) {
    if (len == 0) return flint_error(FLINT_ECORRUPT, "walrec: empty record at offset 0");
    switch (rec[0]) {
    case WALREC_SERIES:
    case WALREC_SAMPLES:
    case WALREC_TOMBSTONES: return rec[0];
    }
    return flint_error(FLINT_ECORRUPT, "walrec: unknown record type %u at offset 0", rec[0]);
}

/* ---- encoding ------------------------------------------------------------------ */

static int put_f64(fl_buf *b, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return fl_buf_put_be64(b, bits);
}

int walrec_encode_series(fl_buf *b, const walrec_series *s, size_t n) {
    size_t start = b->len;
    int rc = fl_buf_put_byte(b, WALREC_SERIES);
    if (!rc) rc = fl_buf_put_uvarint(b, n);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = fl_buf_put_uvarint(b, s[i].ref);
        if (!rc) rc = fl_buf_put_uvarint(b, s[i].lset.n);
        for (size_t j = 0; j < s[i].lset.n && !rc; j++) {
            const label *l = &s[i].lset.v[j];
            rc = fl_buf_put_str(b, l->name, strlen(l->name));
            if (!rc) rc = fl_buf_put_str(b, l->value, strlen(l->value));
        }
    }
    if (rc) b->len = start;
    return rc;
}

/* Two's-complement wrap-around deltas: exact for every int64/uint64 pair,
 * and no signed overflow. */
static int64_t wrap_delta(uint64_t x, uint64_t base) { return (int64_t)(x - base); }
static uint64_t wrap_add(uint64_t base, int64_t d) { return base + (uint64_t)d; }

int walrec_encode_samples(fl_buf *b, const walrec_sample *s, size_t n) {
    size_t start = b->len;
    int rc = fl_buf_put_byte(b, WALREC_SAMPLES);
    if (!rc) rc = fl_buf_put_uvarint(b, n);
    if (n && !rc) {
        rc = fl_buf_put_uvarint(b, s[0].ref);
        if (!rc) rc = fl_buf_put_varint(b, s[0].t);
        if (!rc) rc = put_f64(b, s[0].v);
    }
    for (size_t i = 1; i < n && !rc; i++) {
        rc = fl_buf_put_varint(b, wrap_delta(s[i].ref, s[0].ref));
        if (!rc) rc = fl_buf_put_varint(b, wrap_delta((uint64_t)s[i].t, (uint64_t)s[0].t));
        if (!rc) rc = put_f64(b, s[i].v);
    }
    if (rc) b->len = start;
    return rc;
}

/* ---- decoding ------------------------------------------------------------------ */

void walrec_scratch_free(walrec_scratch *sc) {
    fl_free(sc->mem);
    sc->mem = NULL;
    sc->cap = 0;
}

/* Room for `need` bytes; old contents are not kept. On failure sc is as it
 * was. */
static int scratch_reserve(walrec_scratch *sc, size_t need) {
    if (need == 0) need = 1; /* so the output pointers are never NULL + offset */
    if (need <= sc->cap) return 0;
    size_t cap = sc->cap * 2 > need ? sc->cap * 2 : need;
    void *mem = fl_malloc(cap);
    if (!mem) return flint_error(FLINT_ENOMEM, "walrec: out of memory decoding a record (%zu bytes)", need);
    fl_free(sc->mem);
    sc->mem = mem;
    sc->cap = cap;
    return 0;
}

typedef struct cursor {
    const uint8_t *start, *p, *end;
} cursor;

static int corrupt(const cursor *c, const char *what) {
    return flint_error(FLINT_ECORRUPT, "walrec: %s at offset %zu", what, (size_t)(c->p - c->start));
}

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

static int get_uvarint(cursor *c, uint64_t *v, const char *what) {
    const uint8_t *q = uvarint_get(c->p, c->end, v);
    if (!q) return corrupt(c, what);
    c->p = q;
    return 0;
}

static int get_varint(cursor *c, int64_t *v, const char *what) {
    const uint8_t *q = varint_get(c->p, c->end, v);
    if (!q) return corrupt(c, what);
    c->p = q;
    return 0;
}

static int get_f64(cursor *c, double *v) {
    if (left(c) < 8) return corrupt(c, "truncated sample value");
    uint64_t bits = be64_get(c->p);
    memcpy(v, &bits, sizeof *v);
    c->p += 8;
    return 0;
}

/* Record type byte and entry count, the count bounded by the bytes left. */
static int get_header(cursor *c, int type, size_t min_entry, uint64_t *count) {
    if (left(c) < 1 || *c->p != type) return corrupt(c, type == WALREC_SERIES ? "not a series record" : "not a samples record");
    c->p++;
    int rc = get_uvarint(c, count, "truncated entry count");
    if (rc) return rc;
    if (*count > left(c) / min_entry) return corrupt(c, "entry count larger than the record");
    return 0;
}

/* A length-prefixed string: checked, and copied NUL-terminated to *dst
 * when dst is set (counting pass otherwise). */
static int get_str(cursor *c, char **dst, const char **out, size_t *bytes) {
    uint64_t n;
    int rc = get_uvarint(c, &n, "truncated string length");
    if (rc) return rc;
    if (n > left(c)) return corrupt(c, "string longer than the record");
    if (memchr(c->p, 0, n)) return corrupt(c, "NUL byte in a label string");
    if (dst) {
        memcpy(*dst, c->p, n);
        (*dst)[n] = 0;
        *out = *dst;
        *dst += n + 1;
    }
    *bytes += n + 1;
    c->p += n;
    return 0;
}

/* One pass over a series record. With series == NULL it only validates and
 * counts labels and string bytes; otherwise it fills series/labels/strs,
 * sized by an earlier counting pass. */
static int parse_series(cursor *c, uint64_t count, walrec_series *series, label *labs, char *strs, size_t *nlabels,
                        size_t *str_bytes) {
    *nlabels = *str_bytes = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t ref, nl;
        int rc = get_uvarint(c, &ref, "truncated series ref");
        if (!rc) rc = get_uvarint(c, &nl, "truncated label count");
        if (rc) return rc;
        if (nl > left(c) / MIN_LABEL_BYTES) return corrupt(c, "label count larger than the record");
        if (series) {
            series[i].ref = ref;
            series[i].lset.v = labs + *nlabels;
            series[i].lset.n = (size_t)nl;
        }
        for (uint64_t j = 0; j < nl; j++) {
            label *l = series ? &labs[*nlabels + j] : NULL;
            rc = get_str(c, series ? &strs : NULL, l ? &l->name : NULL, str_bytes);
            if (!rc) rc = get_str(c, series ? &strs : NULL, l ? &l->value : NULL, str_bytes);
            if (rc) return rc;
        }
        *nlabels += (size_t)nl;
    }
    if (c->p != c->end) return corrupt(c, "trailing bytes after the last series");
    return 0;
}

int walrec_decode_series(const uint8_t *rec, size_t len, walrec_scratch *sc, const walrec_series **out,
                         size_t *n) {
    cursor c = {rec, rec, rec + len};
    uint64_t count;
    int rc = get_header(&c, WALREC_SERIES, MIN_SERIES_BYTES, &count);
    if (rc) return rc;
    const uint8_t *body = c.p;
    size_t nlabels, str_bytes;
    if ((rc = parse_series(&c, count, NULL, NULL, NULL, &nlabels, &str_bytes))) return rc;
    /* Layout in sc: series[count] | label[nlabels] | strings. Every count is
     * bounded by len, so the sum cannot overflow. */
    size_t series_bytes = (size_t)count * sizeof(walrec_series);
    size_t label_bytes = nlabels * sizeof(label);
    if ((rc = scratch_reserve(sc, series_bytes + label_bytes + str_bytes))) return rc;
    walrec_series *series = sc->mem;
    label *labs = (label *)((char *)sc->mem + series_bytes);
    char *strs = (char *)sc->mem + series_bytes + label_bytes;
    c.p = body;
    rc = parse_series(&c, count, series, labs, strs, &nlabels, &str_bytes);
    if (rc) return rc; /* cannot happen: the first pass checked the same bytes */
    *out = series;
    *n = (size_t)count;
    return 0;
}

int walrec_decode_samples(const uint8_t *rec, size_t len, walrec_scratch *sc, const walrec_sample **out,
                          size_t *n) {
    cursor c = {rec, rec, rec + len};
    uint64_t count;
    int rc = get_header(&c, WALREC_SAMPLES, MIN_SAMPLE_BYTES, &count);
    if (rc) return rc;
    if ((rc = scratch_reserve(sc, (size_t)count * sizeof(walrec_sample)))) return rc;
    walrec_sample *s = sc->mem;
    for (uint64_t i = 0; i < count; i++) {
        if (i == 0) {
            int64_t t;
            rc = get_uvarint(&c, &s[0].ref, "truncated sample ref");
            if (!rc) rc = get_varint(&c, &t, "truncated sample time");
            if (!rc) s[0].t = t;
        } else {
            int64_t dref, dt;
            rc = get_varint(&c, &dref, "truncated sample ref delta");
            if (!rc) rc = get_varint(&c, &dt, "truncated sample time delta");
            if (!rc) {
                s[i].ref = wrap_add(s[0].ref, dref);
                s[i].t = (int64_t)wrap_add((uint64_t)s[0].t, dt);
            }
        }
        if (!rc) rc = get_f64(&c, &s[i].v);
        if (rc) return rc;
    }
    if (c.p != c.end) return corrupt(&c, "trailing bytes after the last sample");
    *out = s;
    *n = (size_t)count;
    return 0;
}

/* ---- replay ------------------------------------------------------------------- */

/* Prefix the current error message with where the record that failed to
 * decode sits in the log; returns rc. */
static int record_error(int rc, const char *what, const char *dir, int seg, int64_t off) {
    char inner[512];
    snprintf(inner, sizeof inner, "%s", flint_errmsg());
    return flint_error(rc, "wal: %s%s/%08d: record at offset %lld: %s", what, dir, seg, (long long)off, inner);
}

/* Decode one record and hand it to the callbacks. *bad is set when the
 * record itself is at fault (so the log may be cut there); other errors
 * (ENOMEM, a callback's) leave it false. */
static int replay_record(const uint8_t *rec, size_t len, const walrec_replay_cb *cb, void *ctx, walrec_scratch *sc,
                         walrec_replay_stats *st, bool *bad) {
    *bad = false;
    int type = walrec_type(rec, len);
    int rc = 0;
    if (type == WALREC_SERIES) {
        const walrec_series *s;
        size_t n;
        rc = walrec_decode_series(rec, len, sc, &s, &n);
        if (rc == 0) {
            st->series += n;
            if (cb && cb->on_series && n) return cb->on_series(ctx, s, n);
        }
    } else if (type == WALREC_SAMPLES) {
        const walrec_sample *s;
        size_t n;
        rc = walrec_decode_samples(rec, len, sc, &s, &n);
        if (rc == 0) {
            st->samples += n;
            if (cb && cb->on_samples && n) return cb->on_samples(ctx, s, n);
        }
    } else if (type == WALREC_TOMBSTONES) {
        return 0;
    } else {
        rc = type;
    }
    *bad = rc == FLINT_ECORRUPT;
    return rc;
}

/* Replay segments [first, ...] of dir. On a bad record or frame returns
 * FLINT_ECORRUPT with *cut set and (*cut_seg, *cut_off) where it starts. */
static int replay_dir(const char *dir, int first, const walrec_replay_cb *cb, void *ctx, walrec_scratch *sc,
                      walrec_replay_stats *st, bool *cut, int *cut_seg, int64_t *cut_off) {
    *cut = false;
    wal_reader *r;
    int rc = wal_reader_open(dir, first, -1, &r);
    if (rc) return rc;
    const uint8_t *rec;
    size_t len;
    while (wal_reader_next(r, &rec, &len)) {
        bool bad;
        wal_reader_record_pos(r, &st->last_seg, cut_off);
        rc = replay_record(rec, len, cb, ctx, sc, st, &bad);
        if (rc) {
            if (bad) {
                *cut = true;
                *cut_seg = st->last_seg;
                record_error(rc, "", dir, *cut_seg, *cut_off);
            }
            wal_reader_free(r);
            return rc;
        }
        st->records++;
    }
    rc = wal_reader_err(r);
    if (rc == FLINT_ECORRUPT) {
        *cut = true;
        wal_reader_pos(r, cut_seg, cut_off);
    }
    wal_reader_free(r);
    return rc;
}

static int replay_impl(const char *waldir, const walrec_replay_cb *cb, void *ctx, walrec_replay_stats *stats,
                       bool repair) {
    walrec_replay_stats local;
    walrec_replay_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    st->checkpoint_seg = st->last_seg = -1;
    walrec_scratch sc = {0};
    bool cut;
    int cut_seg = -1;
    int64_t cut_off = 0;

    char ckpt[PATH_MAX];
    int ckpt_seg = -1;
    int rc = wal_last_checkpoint(waldir, &ckpt_seg, ckpt, sizeof ckpt);
    if (rc == 0) {
        rc = replay_dir(ckpt, 0, cb, ctx, &sc, st, &cut, &cut_seg, &cut_off);
        st->checkpoint_seg = ckpt_seg;
        st->last_seg = -1;
        if (rc) {
            walrec_scratch_free(&sc);
            if (cut) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", flint_errmsg());
                return flint_error(FLINT_ECORRUPT, "wal: checkpoint %s is corrupt: %s", ckpt, msg);
            }
            return rc;
        }
    } else if (rc != FLINT_ENOTFOUND) {
        return rc;
    }
    flint_clear_error();

    int first, last;
    if ((rc = wal_segment_range(waldir, &first, &last))) {
        walrec_scratch_free(&sc);
        return rc;
    }
    if (ckpt_seg >= 0 && first > ckpt_seg + 1)
        flint_log(FLINT_LOG_WARN, "wal", "segments after the checkpoint are missing",
                  "dir=%s checkpoint=%08d first_segment=%08d", waldir, ckpt_seg, first);

    rc = replay_dir(waldir, ckpt_seg + 1, cb, ctx, &sc, st, &cut, &cut_seg, &cut_off);
    walrec_scratch_free(&sc);
    if (rc && cut && !repair) {
        /* a live writer may be in the middle of this record: stop here */
        flint_log(FLINT_LOG_DEBUG, "wal", "read-only replay stopped at an incomplete record", "dir=%s err=\"%s\"",
                  waldir, flint_errmsg());
        rc = 0;
    } else if (rc && cut) {
        flint_log(FLINT_LOG_WARN, "wal", "replay stopped at a torn or corrupt record", "dir=%s err=\"%s\"", waldir,
                  flint_errmsg());
        rc = wal_repair_ex(waldir, cut_seg, cut_off, &st->bytes_dropped);
    }
    return rc;
}

int walrec_replay(const char *waldir, const walrec_replay_cb *cb, void *ctx, walrec_replay_stats *stats) {
    return replay_impl(waldir, cb, ctx, stats, true);
}

int walrec_replay_readonly(const char *waldir, const walrec_replay_cb *cb, void *ctx, walrec_replay_stats *stats) {
    return replay_impl(waldir, cb, ctx, stats, false);
}

/* ---- checkpoint ------------------------------------------------------------------ */

typedef struct ckpt_state {
    wal *out;
    bool (*keep)(uint64_t ref, void *ctx);
    int64_t min_time;
    void *ctx;
    walrec_scratch sc;
    fl_buf rec;
    walrec_series *series;
    size_t series_cap;
    walrec_sample *samples;
    size_t samples_cap;
} ckpt_state;

static int ckpt_emit_series(ckpt_state *cs, const walrec_series *s, size_t n) {
    for (size_t i = 0; i < n; i += CHECKPOINT_BATCH) {
        size_t m = n - i < CHECKPOINT_BATCH ? n - i : CHECKPOINT_BATCH;
        fl_buf_reset(&cs->rec);
        int rc = walrec_encode_series(&cs->rec, s + i, m);
        if (!rc) rc = wal_log(cs->out, cs->rec.data, cs->rec.len);
        if (rc) return rc;
    }
    return 0;
}

static int ckpt_emit_samples(ckpt_state *cs, const walrec_sample *s, size_t n) {
    for (size_t i = 0; i < n; i += CHECKPOINT_BATCH) {
        size_t m = n - i < CHECKPOINT_BATCH ? n - i : CHECKPOINT_BATCH;
        fl_buf_reset(&cs->rec);
        int rc = walrec_encode_samples(&cs->rec, s + i, m);
        if (!rc) rc = wal_log(cs->out, cs->rec.data, cs->rec.len);
        if (rc) return rc;
    }
    return 0;
}

/* Filter one input record into the checkpoint. */
static int ckpt_record(ckpt_state *cs, const uint8_t *rec, size_t len) {
    int type = walrec_type(rec, len);
    if (type == WALREC_SERIES) {
        const walrec_series *s;
        size_t n, kept = 0;
        int rc = walrec_decode_series(rec, len, &cs->sc, &s, &n);
        if (rc) return rc;
        if (fl_grow((void **)&cs->series, &cs->series_cap, n, sizeof *cs->series)) return FLINT_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (cs->keep(s[i].ref, cs->ctx)) cs->series[kept++] = s[i];
        return ckpt_emit_series(cs, cs->series, kept);
    }
    if (type == WALREC_SAMPLES) {
        const walrec_sample *s;
        size_t n, kept = 0;
        int rc = walrec_decode_samples(rec, len, &cs->sc, &s, &n);
        if (rc) return rc;
        if (fl_grow((void **)&cs->samples, &cs->samples_cap, n, sizeof *cs->samples)) return FLINT_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (s[i].t >= cs->min_time && cs->keep(s[i].ref, cs->ctx)) cs->samples[kept++] = s[i];
        return ckpt_emit_samples(cs, cs->samples, kept);
    }
    if (type == WALREC_TOMBSTONES) return 0;
    return type;
}

static int ckpt_copy(ckpt_state *cs, const char *dir, int first, int last) {
    wal_reader *r;
    int rc = wal_reader_open(dir, first, last, &r);
    if (rc) return rc;
    const uint8_t *rec;
    size_t len;
    while (rc == 0 && wal_reader_next(r, &rec, &len)) {
        rc = ckpt_record(cs, rec, len);
        if (rc == FLINT_ECORRUPT) {
            int seg;
            int64_t off;
            wal_reader_record_pos(r, &seg, &off);
            record_error(rc, "checkpoint input ", dir, seg, off);
        }
    }
    if (rc == 0) rc = wal_reader_err(r);
    wal_reader_free(r);
    return rc;
}

int walrec_checkpoint(const char *waldir, int first_seg, int last_seg, bool (*keep_series)(uint64_t ref, void *ctx),
                      int64_t min_time, void *ctx) {
    if (first_seg < 0 || last_seg < first_seg || !keep_series)
        return flint_error(FLINT_EINVAL, "wal: checkpoint of segments %d..%d", first_seg, last_seg);
    char prev[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
    int prev_seg = -1;
    int rc = wal_last_checkpoint(waldir, &prev_seg, prev, sizeof prev);
    if (rc && rc != FLINT_ENOTFOUND) return rc;
    flint_clear_error();
    if (prev_seg >= last_seg) return 0;
    if (prev_seg >= first_seg) first_seg = prev_seg + 1;

    snprintf(tmp, sizeof tmp, "%s/checkpoint.%08d.tmp", waldir, last_seg);
    snprintf(final, sizeof final, "%s/checkpoint.%08d", waldir, last_seg);
    if ((rc = fio_rm_rf(tmp))) return rc;

    ckpt_state cs = {.keep = keep_series, .min_time = min_time, .ctx = ctx};
    wal_options o;
    wal_options_default(&o);
    rc = wal_open(tmp, &o, &cs.out);
    if (!rc && prev_seg >= 0) rc = ckpt_copy(&cs, prev, 0, -1);
    if (!rc) rc = ckpt_copy(&cs, waldir, first_seg, last_seg);
    if (!rc) rc = wal_sync(cs.out);
    wal_close(cs.out);
    walrec_scratch_free(&cs.sc);
    fl_buf_free(&cs.rec);
    fl_free(cs.series);
    fl_free(cs.samples);
    /* Publish: after this rename replay starts from the new checkpoint. */
    if (!rc) rc = fio_rename(tmp, final);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", flint_errmsg());
        fio_rm_rf(tmp);
        return flint_error(rc, "%s", msg);
    }
    /* The checkpoint stands; what it covers is only garbage now. A failure
     * to delete it is logged, and the next checkpoint tries again. */
    rc = wal_delete_before(waldir, last_seg + 1);
    if (!rc) rc = wal_delete_checkpoints_before(waldir, last_seg);
    if (rc)
        flint_log(FLINT_LOG_WARN, "wal", "could not delete what the new checkpoint covers",
                  "dir=%s checkpoint=%08d err=\"%s\"", waldir, last_seg, flint_errmsg());
    return 0;
}
