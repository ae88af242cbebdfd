/*
 * err.h - error codes and the per-thread error message.
 *
 * Every fallible function in flint returns 0 (or a non-negative count) on
 * success and a negative FLINT_E* code on failure.  Where there is more to
 * say than the code ("index: postings table CRC mismatch at offset 4096"),
 * the failing function records it with flint_error(), which keeps the text in
 * a thread-local buffer until the next flint_error() on that thread, like
 * errno/strerror but with a sentence.  Callers that print errors use
 * flint_errmsg(); callers that recover simply drop it.
 */
#ifndef FLINT_ERR_H
#define FLINT_ERR_H

enum {
    FLINT_OK = 0,
    FLINT_ENOMEM = -1,      /* an allocation failed */
    FLINT_EIO = -2,         /* a system call on a file failed (see message) */
    FLINT_ECORRUPT = -3,    /* on-disk data failed a checksum or a bound check */
    FLINT_EINVAL = -4,      /* bad argument or malformed input */
    FLINT_ENOTFOUND = -5,   /* no such series/block/file */
    FLINT_EOOO = -6,        /* out-of-order sample */
    FLINT_ETOOOLD = -7,     /* sample older than what the head accepts */
    FLINT_EDUPSAMPLE = -8,  /* same timestamp, different value */
    FLINT_ELOCKED = -9,     /* data directory locked by another process */
    FLINT_ERANGE = -10,     /* value does not fit (encoder cannot represent it) */
    FLINT_ELIMIT = -11,     /* a configured limit was hit */
    FLINT_ECANCELED = -12,  /* operation was cancelled or timed out */
    FLINT_ENOSPC = -13,     /* no space left on device */
};

/* Static text for a code ("out of memory"). Never NULL. */
const char *flint_strerror(int code);

/* Record a message for `code` on this thread and return `code`, so that a
 * failure path reads `return flint_error(FLINT_ECORRUPT, "wal: ...", ...);` */
int flint_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread, or the code's static text when
 * nothing was recorded since flint_clear_error(). Borrowed until the next
 * flint_error() on this thread. */
const char *flint_errmsg(void);
void flint_clear_error(void);

#endif
