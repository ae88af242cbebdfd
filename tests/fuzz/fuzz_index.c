/*
 * fuzz_index.c - libFuzzer target: arbitrary bytes opened as a block index
 * (storage/index.h) from a memory buffer, three ways: as given (CRCs
 * checked), with CRC checks off (so mutations reach the structure checks),
 * and with the TOC's CRCs recomputed (so mutated sections pass the CRC gate
 * and reach every lazy decoder). Every accessor is then exercised; the
 * reader must return errors, never read out of bounds.
 *
 * Seeds: tests/fuzz/corpus/fuzz_index/ (small indexes from the writer).
 */
#include "storage/crc32c.h"
#include "storage/index.h"
#include "storage/varint.h"

#include <stdlib.h>
#include <string.h>

#define SECTIONS 6
#define TOC_SIZE (SECTIONS * 20 + 4)

static volatile size_t sink;

static void touch(const char *s, size_t len) {
    /* strings must be NUL-terminated where the reader says */
    sink += len + (unsigned char)s[len];
}

static void exercise(const index_reader *r) {
    const char *s;
    size_t len;
    index_symbol_iter si;
    index_symbols_iter(r, &si);
    uint32_t nsym = 0;
    const char *some_symbol = NULL;
    while (index_symbols_next(&si, &s, &len) && nsym++ < 4096) {
        touch(s, len);
        some_symbol = s;
    }
    for (uint32_t ref = 0; ref < 64; ref++)
        if (index_symbol(r, ref * 7, &s, &len) == 0) touch(s, len);

    uint32_t nseries = index_num_series(r);
    for (uint32_t n = 0; n < index_num_label_names(r) && n < 256; n++) {
        const char *name = index_label_name(r, n);
        touch(name, strlen(name));
        sink += (size_t)index_label_name_find(r, name);
        uint32_t nv = index_num_label_values(r, n);
        for (uint32_t v = 0; v < nv && v < 256; v++) {
            if (index_label_value(r, n, v, &s, &len) == 0) {
                touch(s, len);
                uint32_t ord;
                if (index_label_value_find(r, n, s, &ord) == 0) sink += ord;
                index_postings it;
                if (index_postings_get(r, name, s, &it) == 0)
                    while (index_postings_next(&it)) sink += index_postings_at(&it);
            }
            index_postings it;
            if (index_postings_at_ord(r, n, v, &it) == 0) {
                uint32_t target = 0;
                while (index_postings_seek(&it, target)) {
                    if (index_postings_at(&it) >= nseries) abort();
                    target = index_postings_at(&it) + 1 + (v & 3);
                }
            }
        }
        if (some_symbol) {
            index_postings it;
            if (index_postings_get(r, name, some_symbol, &it) == 0)
                while (index_postings_next(&it)) sink += index_postings_at(&it);
        }
    }
    sink += (size_t)index_label_name_find(r, "");
    sink += (size_t)index_label_name_find(r, "__name__");

    index_postings all;
    if (index_postings_all(r, &all) == 0) {
        uint32_t k = 0;
        while (index_postings_next(&all) && k++ < 1024) sink += index_postings_at(&all);
        index_postings_seek(&all, nseries / 2);
    }

    index_series ser;
    index_series_init(&ser);
    for (uint32_t i = 0; i < nseries && i < 512; i++) {
        if (index_series_get(r, i, &ser) != 0) continue;
        for (size_t j = 0; j < ser.nlabels; j++) {
            touch(ser.labels[j].name, strlen(ser.labels[j].name));
            touch(ser.labels[j].value, strlen(ser.labels[j].value));
        }
        for (size_t j = 0; j < ser.nchunks; j++) {
            if (ser.chunks[j].maxt < ser.chunks[j].mint) abort();
            sink += ser.chunks[j].ref;
        }
    }
    if (nseries) (void)index_series_get(r, nseries - 1, &ser);
    (void)index_series_get(r, nseries, &ser);
    index_series_free(&ser);
}

static void try_open(const uint8_t *data, size_t size, unsigned flags) {
    index_reader *r = NULL;
    if (index_reader_open(data, size, flags, &r) == 0) {
        exercise(r);
        index_reader_free(r);
    }
}

/* Make every CRC in the TOC match, where the TOC describes sections that
 * lie inside the buffer. */
static void fix_crcs(uint8_t *buf, size_t size) {
    if (size < 8 + TOC_SIZE) return;
    uint8_t *toc = buf + size - TOC_SIZE;
    for (int s = 0; s < SECTIONS; s++) {
        uint64_t off = be64_get(toc + 20 * s), len = be64_get(toc + 20 * s + 8);
        if (off > size - TOC_SIZE || len > size - TOC_SIZE - off) continue;
        be32_put(toc + 20 * s + 16, crc32c(0, buf + off, (size_t)len));
    }
    be32_put(toc + TOC_SIZE - 4, crc32c(0, toc, TOC_SIZE - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_open(data, size, 0);
    try_open(data, size, INDEX_OPEN_NO_CRC);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    try_open(copy, size, 0);
    free(copy);
    return 0;
}
