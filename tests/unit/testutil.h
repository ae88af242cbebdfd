/*
 * testutil.h - helpers shared by the Check suites: temporary directories
 * (removed by the suite's teardown), a deterministic PRNG, file pokes.
 */
#ifndef FLINT_TESTUTIL_H
#define FLINT_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* mkdtemp under $TMPDIR (or /tmp); the path is static until the next call of
 * tu_tmpdir_cleanup(). */
const char *tu_tmpdir(void);
void tu_tmpdir_cleanup(void);

/* xorshift64* deterministic generator */
typedef struct tu_rng { uint64_t s; } tu_rng;
static inline uint64_t tu_next(tu_rng *r) {
    r->s ^= r->s >> 12; r->s ^= r->s << 25; r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}
static inline double tu_unif(tu_rng *r) { return (double)(tu_next(r) >> 11) / 9007199254740992.0; }

/* Read/overwrite/truncate bytes of a file; ck_assert on failure. */
size_t tu_file_size(const char *path);
void tu_file_poke(const char *path, size_t off, uint8_t xor_mask);
void tu_file_truncate(const char *path, size_t len);

/* One HTTP/1.1 request over a fresh connection to 127.0.0.1:port (10 s
 * timeouts): the status code, the body copied into body. Safe from
 * several threads. */
int tu_http_do(uint16_t port, const char *request, char *body, size_t cap);

#endif
