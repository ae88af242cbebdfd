/*
 * bstream.c - the parts of the bit streams that allocate (see bstream.h);
 * the per-bit reads and writes are inline in the header because the codecs
 * call them once or twice per sample.
 */
#include "storage/bstream.h"

int bstream_append_zeroed(fl_buf *b, size_t nbytes, bstream_w *w) {
    w->nbits = 0;
    if (nbytes == 0) {
        w->buf = b->data ? b->data + b->len : NULL; /* nothing may be written */
        return 0;
    }
    int rc = fl_buf_reserve(b, nbytes);
    if (rc) return rc;
    memset(b->data + b->len, 0, nbytes);
    w->buf = b->data + b->len;
    b->len += nbytes;
    return 0;
}
