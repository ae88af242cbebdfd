/*
 * err.c - error code texts and the thread-local error message (see err.h).
 */
#include "storage/err.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char errmsg_buf[512];

const char *flint_strerror(int code) {
    switch (code) {
    case FLINT_OK: return "ok";
    case FLINT_ENOMEM: return "out of memory";
    case FLINT_EIO: return "I/O error";
    case FLINT_ECORRUPT: return "data corrupt";
    case FLINT_EINVAL: return "invalid argument";
    case FLINT_ENOTFOUND: return "not found";
    case FLINT_EOOO: return "out of order sample";
    case FLINT_ETOOOLD: return "out of bounds: sample too old";
    case FLINT_EDUPSAMPLE: return "duplicate sample for timestamp";
    case FLINT_ELOCKED: return "data directory locked by another process";
    case FLINT_ERANGE: return "value out of range";
    case FLINT_ELIMIT: return "limit exceeded";
    case FLINT_ECANCELED: return "operation cancelled";
    case FLINT_ENOSPC: return "no space left on device";
    }
    return "unknown error";
}

int flint_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg_buf, sizeof errmsg_buf, fmt, ap);
    va_end(ap);
    return code;
}

const char *flint_errmsg(void) { return errmsg_buf; }

void flint_clear_error(void) { errmsg_buf[0] = 0; }
