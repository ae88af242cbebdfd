/*
 * chunk_int.h - the contract between chunk.c and the encoding files
 * (xorchunk.c, dense.c): one typed ops table entry per encoding. Private to
 * storage/; users include storage/chunk.h only.
 *
 * chunk.c validates arguments (n in 1..CHUNK_MAX_SAMPLES, strictly
 * increasing timestamps, a known encoding) before calling into an entry, and
 * owns the iterator's phase; the entries own the union member of their
 * encoding in chunk_iter.
 */
#ifndef FLINT_CHUNK_INT_H
#define FLINT_CHUNK_INT_H

#include "storage/chunk.h"

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
    /* Decode the next sample into it->t, it->v; false at the end or with
     * it->err set. Called only while it->remaining > 0 and err == 0. */
    bool (*iter_next)(chunk_iter *it);
    /* Samples in the chunk or FLINT_ECORRUPT. */
    int (*num_samples)(const uint8_t *data, size_t len);
    /* Decode everything into ts/vs (cap >= the chunk's samples, checked by
     * the caller); the count or FLINT_ECORRUPT. */
    int (*decode_all)(const uint8_t *data, size_t len, int64_t *ts, double *vs, size_t cap);
} chunk_ops;

extern const chunk_ops xor_chunk_ops;
extern const chunk_ops dense_chunk_ops;

#endif
