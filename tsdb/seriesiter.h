/*
 * seriesiter.h - the sample iterator of one series over a list of chunks
 * gathered from several places (blocks, head-chunk files, the open head
 * chunk), clipped to [mint, maxt].
 *
 * Chunks are given sorted by mint. When none overlap (the normal case) the
 * iterator walks them one after another with chunk_iter, seeking into the
 * first; when some overlap (overlapping blocks, or a block and the head
 * during a cut), those chunks are decoded together, sorted by time and
 * de-duplicated (first source wins), which is rare and bounded by the
 * chunks involved.
 */
#ifndef FLINT_SERIESITER_H
#define FLINT_SERIESITER_H

#include "storage/chunk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chunk_view {
    int64_t mint, maxt;
    const uint8_t *data;
    uint32_t len;
    uint8_t enc;
} chunk_view;

typedef struct series_iter {
    const chunk_view *chunks; /* borrowed */
    size_t nchunks, next_chunk;
    int64_t mint, maxt;
    chunk_iter it;
    int in_chunk;
    int have; /* t, v hold a returned sample */
    int err;
    /* merged overlapping samples */
    int64_t *mt;
    double *mv;
    size_t mn, mpos, mcap;
    int64_t t;
    double v;
} series_iter;

/* chunks must stay valid while iterating. */
void series_iter_init(series_iter *s, const chunk_view *chunks, size_t n, int64_t mint, int64_t maxt);
bool series_iter_next(series_iter *s);
/* Advance to the first sample with t >= t0 (never backwards). */
bool series_iter_seek(series_iter *s, int64_t t0);
static inline void series_iter_at(const series_iter *s, int64_t *t, double *v) {
    *t = s->t;
    *v = s->v;
}
static inline int series_iter_err(const series_iter *s) { return s->err; }
/* Release merge buffers (the iterator may be re-initialised afterwards). */
void series_iter_free(series_iter *s);

/* Bulk form: every sample of chunks[0..n) in [mint, maxt] into ts/vs, in
 * time order (de-duplicated as the iterator does). cap must be at least
 * the chunks' sample count (chunk_num_samples summed). Non-overlapping
 * chunks are decoded whole with chunk_decode_all straight into the arrays;
 * overlapping ones go through the iterator. Returns the count or a
 * negative FLINT_E*. Touches nothing but its arguments (any thread). */
int64_t series_read_all(const chunk_view *chunks, size_t n, int64_t mint, int64_t maxt, int64_t *ts,
                        double *vs, size_t cap);

#endif
