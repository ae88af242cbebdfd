/*
 * chunk_int.h - the contract between chunk.c and the encoding files
 * (xorchunk.c, dense.c): one typed ops table entry per encoding. Private to
 * storage/; users include storage/chunk.h only.
 *
 * chunk.c validates arguments (n in 1..CHUNK_MAX_SAMPLES, strictly
 * increasing timestamps, a known encoding) before calling into an entry, and
 * owns the iterator's phase and batch (it->u.bt/bv, idx, nbuf); the entries
 * own it->u.next and the union member of their encoding.
 */
#ifndef FLINT_CHUNK_INT_H
#define FLINT_CHUNK_INT_H

#include "storage/chunk.h"

#include <string.h>

/* Both encodings count samples in 16 bits (XOR: Prometheus' layout). */
#define CHUNK_MAX_SAMPLES 65535u

/* chunk_iter.u.phase */
enum {
    CHUNK_ITER_BEFORE = 0, /* next() not called yet */
    CHUNK_ITER_AT = 1,     /* t, v hold a sample */
    CHUNK_ITER_DONE = 2,   /* ended (or err set) */
};

typedef struct chunk_ops {
    const char *name;
    /* Append the encoding of n samples to out. FLINT_ERANGE when the
     * encoding cannot represent them, FLINT_ENOMEM; out keeps its old length
     * on failure. */
    int (*encode)(const int64_t *ts, const double *vs, size_t n, fl_buf *out);
    /* Set up it->u for it->data/it->len: it->remaining and it->u.total, or
     * it->err on a malformed header. */
    void (*iter_init)(chunk_iter *it);
    /* Decode the next cnt samples (cnt <= it->u.total - it->u.next) into
     * ts/vs and advance it->u.next; false with it->err set when the chunk
     * turns out to be corrupt. */
    bool (*decode)(chunk_iter *it, int64_t *ts, double *vs, uint32_t cnt);
    /* Samples in the chunk or FLINT_ECORRUPT. */
    int (*num_samples)(const uint8_t *data, size_t len);
} chunk_ops;

extern const chunk_ops xor_chunk_ops;
extern const chunk_ops dense_chunk_ops;
bool dense_values_finite(const uint8_t *data, size_t len);

/* The bit pattern of a double and back (values round-trip bit-exactly). */
static inline uint64_t dbits(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static inline double bitsd(uint64_t b) {
    double v;
    memcpy(&v, &b, 8);
    return v;
}

#endif
