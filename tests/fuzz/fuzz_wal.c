/*
 * fuzz_wal.c - libFuzzer target for the WAL reader and record decoders.
 *
 * Each input is used three ways:
 *   1. written as segment 00000000 of a scratch WAL directory and read back
 *      with wal_reader; every record that passes the frame checks goes
 *      through the walrec decoders;
 *   2. decoded directly as a walrec record (random bytes rarely pass a
 *      frame CRC, so this is how the decoders see most mutations);
 *   3. cut into records (lengths from the input) that are logged with
 *      wal_log (LZ4 on) and must read back byte for byte.
 * A record that decodes is re-encoded and must decode to the same values.
 * The scratch directory lives in /dev/shm when it exists (fsyncs are free).
 */
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/fileio.h"
#include "storage/log.h"
#include "storage/wal.h"
#include "tsdb/walrec.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_dir[PATH_MAX];
static char read_dir[PATH_MAX], write_dir[PATH_MAX];

static void cleanup(void) {
    if (scratch_dir[0]) fio_rm_rf(scratch_dir);
}

static void setup(void) {
    if (scratch_dir[0]) return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(scratch_dir, sizeof scratch_dir, "%s/fuzz_wal-XXXXXX", base);
    if (!mkdtemp(scratch_dir)) abort();
    snprintf(read_dir, sizeof read_dir, "%s/r", scratch_dir);
    snprintf(write_dir, sizeof write_dir, "%s/w", scratch_dir);
    if (fio_mkdir_p(read_dir)) abort();
    atexit(cleanup);
    flint_log_set_level(FLINT_LOG_ERROR);
}

static int same_f64(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Decoded records re-encode to records that decode to the same values. */
static void check_series_roundtrip(const walrec_series *s, size_t n) {
    fl_buf b = {0};
    walrec_scratch sc = {0};
    const walrec_series *out;
    size_t m;
    if (walrec_encode_series(&b, s, n) == 0) {
        if (walrec_decode_series(b.data, b.len, &sc, &out, &m) != 0 || m != n) abort();
        for (size_t i = 0; i < n; i++) {
            if (out[i].ref != s[i].ref || out[i].lset.n != s[i].lset.n) abort();
            for (size_t j = 0; j < s[i].lset.n; j++)
                if (strcmp(out[i].lset.v[j].name, s[i].lset.v[j].name) ||
                    strcmp(out[i].lset.v[j].value, s[i].lset.v[j].value))
                    abort();
        }
    }
    walrec_scratch_free(&sc);
    fl_buf_free(&b);
}

static void check_samples_roundtrip(const walrec_sample *s, size_t n) {
    fl_buf b = {0};
    walrec_scratch sc = {0};
    const walrec_sample *out;
    size_t m;
    if (walrec_encode_samples(&b, s, n) == 0) {
        if (walrec_decode_samples(b.data, b.len, &sc, &out, &m) != 0 || m != n) abort();
        for (size_t i = 0; i < n; i++)
            if (out[i].ref != s[i].ref || out[i].t != s[i].t || !same_f64(out[i].v, s[i].v)) abort();
    }
    walrec_scratch_free(&sc);
    fl_buf_free(&b);
}

static void decode_record(const uint8_t *rec, size_t len, walrec_scratch *sc) {
    int type = walrec_type(rec, len);
    size_t n;
    if (type == WALREC_SERIES) {
        const walrec_series *s;
        if (walrec_decode_series(rec, len, sc, &s, &n) == 0) check_series_roundtrip(s, n);
    } else if (type == WALREC_SAMPLES) {
        const walrec_sample *s;
        if (walrec_decode_samples(rec, len, sc, &s, &n) == 0) check_samples_roundtrip(s, n);
    }
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) abort();
    if (size && write(fd, data, size) != (ssize_t)size) abort();
    close(fd);
}

static void read_segment(const uint8_t *data, size_t size, walrec_scratch *sc) {
    char seg[PATH_MAX + 16];
    snprintf(seg, sizeof seg, "%s/00000000", read_dir);
    write_file(seg, data, size);
    wal_reader *r;
    if (wal_reader_open(read_dir, 0, -1, &r) != 0) return;
    const uint8_t *rec;
    size_t len;
    while (wal_reader_next(r, &rec, &len)) decode_record(rec, len, sc);
    int segno;
    int64_t off;
    wal_reader_pos(r, &segno, &off);
    if (off < 0 || (uint64_t)off > size) abort();
    wal_reader_free(r);
}

/* Records: [len byte][len bytes]...; the last takes what is left. */
static void write_and_read_back(const uint8_t *data, size_t size) {
    if (fio_rm_rf(write_dir)) abort();
    wal_options opt = {.segment_size = 256, .compress = true};
    wal *w;
    if (wal_open(write_dir, &opt, &w)) abort();
    const uint8_t *p = data, *end = data + size;
    size_t nrec = 0;
    while (p < end) {
        size_t len = *p++;
        if (len == 0 || len > (size_t)(end - p)) len = (size_t)(end - p);
        if (len == 0) break;
        if (wal_log(w, p, len)) abort();
        p += len;
        nrec++;
    }
    wal_close(w);
    wal_reader *r;
    if (wal_reader_open(write_dir, 0, -1, &r)) abort();
    const uint8_t *rec;
    size_t len, got = 0;
    p = data;
    while (wal_reader_next(r, &rec, &len)) {
        size_t want = *p++;
        if (want == 0 || want > (size_t)(end - p)) want = (size_t)(end - p);
        if (len != want || memcmp(rec, p, len) != 0) abort();
        p += len;
        got++;
    }
    if (wal_reader_err(r) || got != nrec) abort();
    wal_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    walrec_scratch sc = {0};
    read_segment(data, size, &sc);
    decode_record(data, size, &sc);
    if (size <= 4096) write_and_read_back(data, size);
    walrec_scratch_free(&sc);
    return 0;
}
