/*
 * chunk.c - the encodings behind one interface (chunk.h): a typed ops table
 * indexed by CHUNK_ENC_*, argument checks, encoding choice (dense when it
 * can represent the samples, XOR otherwise or when XOR is smaller), and the
 * common iterator (phase tracking, seek). The codecs live in xorchunk.c and
 * dense.c; their contract is storage/chunk_int.h; the byte layouts are in
 * docs/format/chunks.md.
 */
#include "storage/chunk.h"
#include "storage/chunk_int.h"
#include "storage/err.h"

#include <string.h>

static const chunk_ops *const chunk_encodings[] = {
    [CHUNK_ENC_XOR] = &xor_chunk_ops,
    [CHUNK_ENC_DENSE] = &dense_chunk_ops,
};
#define CHUNK_NENC (int)(sizeof chunk_encodings / sizeof chunk_encodings[0])

static const chunk_ops *chunk_ops_for(int enc) {
    return enc > 0 && enc < CHUNK_NENC ? chunk_encodings[enc] : NULL;
}

double stale_nan(void) {
    uint64_t b = STALE_NAN_BITS;
    double v;
    memcpy(&v, &b, 8);
    return v;
}

bool is_stale_nan(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == STALE_NAN_BITS;
}

const char *chunk_enc_name(int enc) {
    if (enc == CHUNK_ENC_NONE) return "none";
    const chunk_ops *ops = chunk_ops_for(enc);
    return ops ? ops->name : "unknown";
}

/* Fewest bytes an XOR chunk of these samples can take, cheaper to compute
 * than the chunk: the header, the first sample, then per sample at least 1
 * bit for a zero delta-of-delta (16 otherwise), and 1 bit for a repeated
 * value or 2 plus the XOR's significant bits. Saves encoding XOR when dense
 * is already smaller. */
static size_t chunk_xor_lower_bound(const int64_t *ts, const double *vs, size_t n) {
    uint64_t bits = 16 + 8 * uvarint_len(zigzag_enc(ts[0])) + 64;
    if (n >= 2) bits += 8 * uvarint_len((uint64_t)ts[1] - (uint64_t)ts[0]);
    uint64_t prev;
    memcpy(&prev, &vs[0], 8);
    for (size_t i = 1; i < n; i++) {
        uint64_t cur;
        memcpy(&cur, &vs[i], 8);
        uint64_t x = cur ^ prev;
        prev = cur;
        bits += x ? 2 + 64 - (uint64_t)__builtin_clzll(x) - (uint64_t)__builtin_ctzll(x) : 1;
        if (i >= 2) bits += (uint64_t)ts[i] - (uint64_t)ts[i - 1] == (uint64_t)ts[i - 1] - (uint64_t)ts[i - 2] ? 1 : 16;
    }
    return (size_t)((bits + 7) / 8);
}

int chunk_encode(const int64_t *ts, const double *vs, size_t n, unsigned allowed, fl_buf *out,
                 int *enc_out) {
    if (n == 0) return flint_error(FLINT_EINVAL, "chunk: no samples to encode");
    for (size_t i = 1; i < n; i++)
        if (ts[i] <= ts[i - 1])
            return flint_error(FLINT_EINVAL, "chunk: timestamp %lld at %zu not after %lld", (long long)ts[i], i,
                               (long long)ts[i - 1]);
    if (n > CHUNK_MAX_SAMPLES)
        return flint_error(FLINT_ERANGE, "chunk: %zu samples, at most %u", n, CHUNK_MAX_SAMPLES);
    unsigned known = 1u << CHUNK_ENC_XOR | 1u << CHUNK_ENC_DENSE;
    if (allowed == 0) allowed = known;
    if (!(allowed & known)) return flint_error(FLINT_EINVAL, "chunk: no known encoding in mask %#x", allowed);

    size_t start = out->len;
    int best = CHUNK_ENC_NONE;
    int rc = 0;
    if (allowed & 1u << CHUNK_ENC_DENSE) {
        rc = dense_chunk_ops.encode(ts, vs, n, out);
        if (rc == 0) best = CHUNK_ENC_DENSE;
        else if (rc != FLINT_ERANGE) return rc;
    }
    if ((allowed & 1u << CHUNK_ENC_XOR) &&
        (best == CHUNK_ENC_NONE || out->len - start > chunk_xor_lower_bound(ts, vs, n))) {
        size_t mid = out->len;
        rc = xor_chunk_ops.encode(ts, vs, n, out);
        if (rc) {
            out->len = start;
            return rc;
        }
        if (best == CHUNK_ENC_NONE) {
            best = CHUNK_ENC_XOR;
        } else if (out->len - mid < mid - start) {
            memmove(out->data + start, out->data + mid, out->len - mid);
            out->len = start + (out->len - mid);
            best = CHUNK_ENC_XOR;
        } else {
            out->len = mid;
        }
    }
    if (best == CHUNK_ENC_NONE) return rc; /* dense refused and XOR not allowed */
    *enc_out = best;
    return 0;
}

/* ---- iteration -------------------------------------------------------------- */

void chunk_iter_init(chunk_iter *it, int enc, const uint8_t *data, size_t len) {
    it->enc = enc;
    it->err = 0;
    it->t = 0;
    it->v = 0;
    it->data = data;
    it->len = len;
    it->remaining = 0;
    it->u.total = it->u.next = 0;
    it->u.idx = it->u.nbuf = 0;
    it->u.phase = CHUNK_ITER_BEFORE;
    const chunk_ops *ops = chunk_ops_for(enc);
    if (!ops) it->err = flint_error(FLINT_ECORRUPT, "chunk: unknown encoding %d", enc);
    else ops->iter_init(it);
    if (it->err) it->u.phase = CHUNK_ITER_DONE;
}

/* The batch (it->u.bt/bv) holds samples [next - nbuf, next); phase becomes
 * AT with the first batch, as chunk_iter_next then returns its first sample. */
bool chunk__iter_refill(chunk_iter *it) {
    uint32_t left = it->u.total - it->u.next;
    if (it->err || it->u.phase == CHUNK_ITER_DONE || left == 0) {
        it->u.phase = CHUNK_ITER_DONE;
        return false;
    }
    uint32_t cnt = left < CHUNK_BATCH ? left : CHUNK_BATCH;
    if (!chunk_ops_for(it->enc)->decode(it, it->u.bt, it->u.bv, cnt)) {
        it->u.phase = CHUNK_ITER_DONE;
        return false;
    }
    it->u.idx = 0;
    it->u.nbuf = cnt;
    it->u.phase = CHUNK_ITER_AT;
    return true;
}

bool chunk_iter_seek(chunk_iter *it, int64_t mint) {
    if (it->err || it->u.phase == CHUNK_ITER_DONE) return false;
    if (it->u.phase == CHUNK_ITER_AT && it->t >= mint) return true;
    for (;;) {
        /* skip inside the decoded batch without stopping on each sample */
        while (it->u.idx < it->u.nbuf && it->u.bt[it->u.idx] < mint) {
            it->u.idx++;
            it->remaining--;
        }
        if (!chunk_iter_next(it)) return false;
        if (it->t >= mint) return true;
    }
}

int chunk_num_samples(int enc, const uint8_t *data, size_t len) {
    const chunk_ops *ops = chunk_ops_for(enc);
    if (!ops) return flint_error(FLINT_ECORRUPT, "chunk: unknown encoding %d", enc);
    return ops->num_samples(data, len);
}

bool chunk_values_finite(int enc, const uint8_t *data, size_t len) {
    return enc == CHUNK_ENC_DENSE && dense_values_finite(data, len);
}

int chunk_decode_all(int enc, const uint8_t *data, size_t len, int64_t *ts, double *vs, size_t cap) {
    chunk_iter it;
    chunk_iter_init(&it, enc, data, len);
    if (it.err) return it.err;
    if (it.u.total > cap) return flint_error(FLINT_ERANGE, "chunk: %u samples, room for %zu", it.u.total, cap);
    if (it.u.total && !chunk_ops_for(enc)->decode(&it, ts, vs, it.u.total)) return it.err;
    return (int)it.u.total;
}
