/*
 * chunk.h - compressed sample chunks: the encodings and their common
 * iterator. Used by the head (appendable XOR chunk), the block writer
 * (sealed chunks in the densest encoding that fits) and the querier.
 *
 * Encodings (docs/format/chunks.md has byte tables and worked examples):
 *   CHUNK_ENC_XOR    Gorilla: delta-of-delta timestamps, XOR'd values. Can
 *                    be appended to sample by sample (head chunks), and
 *                    represents every float64 bit-exactly.
 *   CHUNK_ENC_DENSE  sealed, whole-chunk encoding for blocks: values that are
 *                    decimals (v = m / 10^d, |m| < 2^53) as integers, delta
 *                    orders, gcd and bias removal, entropy-coded (rANS);
 *                    timestamps likewise. Built from a complete sample array
 *                    only; falls back to XOR when values are not decimal.
 * A new encoding is one new file plus one entry in chunk.c's ops table.
 *
 * Invariants of every chunk: timestamps strictly increasing int64 ms (may be
 * negative); values any float64, bit-exact round trip (NaN payloads such as
 * the stale marker 0x7ff0000000000002, +-Inf, -0.0, subnormals).
 */
#ifndef FLINT_CHUNK_H
#define FLINT_CHUNK_H

#include "storage/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CHUNK_ENC_NONE = 0, CHUNK_ENC_XOR = 1, CHUNK_ENC_DENSE = 2 };

/* Prometheus' staleness marker and a test for it (bit pattern, not isnan). */
#define STALE_NAN_BITS 0x7ff0000000000002ULL
double stale_nan(void);
bool is_stale_nan(double v);

/* ---- appendable XOR chunk (head) -------------------------------------- */
/* Caller-allocated. The byte buffer is owned and grows in small steps so a
 * head series with a short open chunk holds few bytes. */
typedef struct xor_appender {
    uint8_t *buf;       /* owned; chunk bytes so far */
    uint32_t cap;       /* bytes allocated */
    uint32_t nbits;     /* bits written */
    uint16_t count;     /* samples */
    uint8_t leading, trailing;
    int64_t t;          /* last timestamp */
    int64_t tdelta;     /* last timestamp delta */
    uint64_t vbits;     /* last value bits */
} xor_appender;

void xor_app_init(xor_appender *a);
/* Append (t, v). t must be > the last timestamp: FLINT_EOOO otherwise (the
 * chunk is unchanged). FLINT_ENOMEM leaves the chunk unchanged, and so does
 * FLINT_ERANGE for a chunk already holding 65535 samples (the 16-bit count). */
int xor_app_append(xor_appender *a, int64_t t, double v);
/* Bytes of the chunk as it stands (valid until the next append/free). */
const uint8_t *xor_app_bytes(const xor_appender *a, size_t *len);
/* Release the buffer; the appender is empty again. */
void xor_app_free(xor_appender *a);

/* ---- sealed encoding ------------------------------------------------------ */
/* Encode n samples (n >= 1, strictly increasing ts) in the smallest
 * encoding among `allowed` (bit mask of 1<<CHUNK_ENC_*; 0 = all), appending
 * the bytes to out. *enc_out receives the encoding. FLINT_EINVAL for
 * non-increasing timestamps (or a mask naming no known encoding),
 * FLINT_ENOMEM; FLINT_ERANGE for n > 65535 or when only DENSE is allowed and
 * the values are not decimals it can hold. `out` keeps its old length on
 * failure. */
int chunk_encode(const int64_t *ts, const double *vs, size_t n, unsigned allowed, fl_buf *out,
                 int *enc_out);

/* ---- iteration (every encoding) ------------------------------------------- */
/* Caller-allocated, re-initialised not reallocated; about 3.2 KB (a decoded
 * batch of CHUNK_BATCH samples and the dense decoding tables). Decoding never
 * reads outside [data, data+len); malformed bytes end the iteration with
 * chunk_iter_err() == FLINT_ECORRUPT (samples of the batch that turned out
 * corrupt are not returned). The data must stay valid while iterating. */
#define CHUNK_BATCH 64        /* samples decoded at a time */
#define CHUNK_DENSE_TLOG_T 8  /* dense: largest rANS table (log2) for timestamps */
#define CHUNK_DENSE_TLOG_V 8  /* dense: ... and for values (more buys ~0.003%) */
typedef struct chunk_iter {
    int enc;
    int err;
    int64_t t;
    double v;
    const uint8_t *data;
    size_t len;
    uint32_t remaining;   /* samples not yet returned */
    /* decoding state; fields are private to chunk.c and the codec files */
    struct {
        uint32_t total;         /* samples in the chunk */
        uint32_t next;          /* samples decoded so far (codec-owned) */
        uint32_t idx, nbuf;     /* position in the decoded batch */
        uint8_t phase;          /* CHUNK_ITER_* in storage/chunk_int.h */
        int64_t bt[CHUNK_BATCH]; /* decoded batch */
        double bv[CHUNK_BATCH];
        union {
            struct {
                uint64_t pos;           /* bit position */
                int64_t t;              /* last decoded timestamp */
                uint64_t tdelta;
                uint64_t vbits;
                uint8_t leading, trailing;
            } x;
            struct chunk_dense_state {
                uint32_t rans, rans2;   /* rANS states: the next symbol's, the other lane's */
                uint64_t rans_pos, rans_end; /* byte offsets of the rANS stream */
                uint64_t raw_pos, raw_end;   /* bit offsets of the raw bits */
                uint64_t exc_pos;       /* byte offset of the next exception */
                uint32_t exc_left, exc_idx;
                int64_t t_last;         /* last decoded timestamp (t0 before) */
                uint64_t tdelta, gcd, bias, m, dm;
                uint8_t flags, order, tlog_t, tlog_v;
                uint8_t nbmax_t, nbmax_v; /* most raw bits one symbol carries */
                double scale;           /* 10^decimal exponent */
                /* rANS slot -> freq | (slot - cum) << 11 | symbol << 21 */
                uint32_t tab_t[1 << CHUNK_DENSE_TLOG_T], tab_v[1 << CHUNK_DENSE_TLOG_V];
            } d;
        };
    } u;
} chunk_iter;

void chunk_iter_init(chunk_iter *it, int enc, const uint8_t *data, size_t len);
/* Internal to chunk_iter_next: decode the next batch; false at the end or on
 * error. */
bool chunk__iter_refill(chunk_iter *it);
/* Advance; false at the end or on error. Inline: the query engine calls it
 * once per sample, and all but one call in CHUNK_BATCH only copy. */
static inline bool chunk_iter_next(chunk_iter *it) {
    if (it->u.idx == it->u.nbuf && !chunk__iter_refill(it)) return false;
    it->t = it->u.bt[it->u.idx];
    it->v = it->u.bv[it->u.idx];
    it->u.idx++;
    it->remaining--;
    return true;
}
/* Advance to the first sample with t >= mint (never moves back); false if
 * none. May be called before the first next(). */
bool chunk_iter_seek(chunk_iter *it, int64_t mint);
static inline void chunk_iter_at(const chunk_iter *it, int64_t *t, double *v) {
    *t = it->t;
    *v = it->v;
}
static inline int chunk_iter_err(const chunk_iter *it) { return it->err; }

/* Number of samples in a chunk without decoding it (FLINT_ECORRUPT if the
 * header is malformed). */
int chunk_num_samples(int enc, const uint8_t *data, size_t len);

/* Decode a whole chunk into caller arrays of capacity cap. Returns the
 * number of samples, FLINT_ERANGE if cap is too small, FLINT_ECORRUPT. */
/* True when every value of the chunk is known, without decoding, to be a
 * finite number (a dense chunk without exceptions: all decimals; so no
 * stale marker). False means "maybe not". */
bool chunk_values_finite(int enc, const uint8_t *data, size_t len);
int chunk_decode_all(int enc, const uint8_t *data, size_t len, int64_t *ts, double *vs, size_t cap);

const char *chunk_enc_name(int enc);

#endif
