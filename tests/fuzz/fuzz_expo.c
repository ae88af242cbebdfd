/*
 * fuzz_expo.c - libFuzzer target for the exposition parser (scrape/expo.h).
 *
 * The first input byte picks the format (bit 0: OpenMetrics), EXPO_SKIP_CREATED
 * (bit 1) and whether to ask for start timestamps (bit 2); the rest is the
 * body, parsed from libFuzzer's exact-size buffer so ASan sees any read past
 * it. Beyond "no crash, no over-read, no leak" it checks what the parser
 * promises: sorted unique labels with __name__, valid UTF-8 values, raw
 * series inside the line, NaN values with Prometheus' normal-NaN bits, a
 * line number on every error. The body is also fed to the number parsers,
 * differentially against strtod.
 */
#include "scrape/expo.h"
#include "storage/err.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                         \
    do {                                                                   \
        if (!(c)) __builtin_trap();                                        \
    } while (0)

static bool utf8_ok(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n) return false;
        if (len > 1) {
            unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
            unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
            if (s[i + 1] < lo || s[i + 1] > hi) return false;
            for (size_t j = 2; j < len; j++)
                if (s[i + j] < 0x80 || s[i + j] > 0xBF) return false;
        }
        i += len;
    }
    return true;
}

static void check_labels(const label *l, size_t n) {
    for (size_t i = 0; i < n; i++) {
        REQUIRE(l[i].name[0] != 0);
        REQUIRE(utf8_ok((const unsigned char *)l[i].name, strlen(l[i].name)));
        REQUIRE(utf8_ok((const unsigned char *)l[i].value, strlen(l[i].value)));
        if (i) REQUIRE(strcmp(l[i - 1].name, l[i].name) < 0);
    }
}

static void numbers(const char *s, size_t n) {
    if (n > 400) return;
    char z[401];
    memcpy(z, s, n);
    z[n] = 0;
    double v;
    int rc = expo_parse_double(s, n, &v);
    if (rc == 0 || rc == FLINT_ERANGE) {
        REQUIRE(memchr(s, 0, n) == NULL);
        double ref = strtod(z, NULL);
        REQUIRE(memcmp(&v, &ref, sizeof v) == 0);
        REQUIRE((rc == FLINT_ERANGE) == (isinf(v) && !strpbrk(z, "iI")));
        if (isfinite(v)) {
            char b[32];
            expo_format_om_float(v, b);
            REQUIRE(strtod(b, NULL) == v);
        }
    }
    int64_t ms;
    int trc = expo_parse_seconds_ms(s, n, &ms);
    if (trc == 0) {
        REQUIRE(rc == 0 && isfinite(v));
        if (fabs(v) < 1e12) REQUIRE(fabs((double)ms - v * 1000) <= 1.0 + fabs(v) * 1e-12);
    } else if (trc == FLINT_ERANGE) {
        REQUIRE(rc != FLINT_EINVAL && fabs(v) * 1000 >= 9.2e18 * 0.999);
    } else {
        REQUIRE(rc == FLINT_EINVAL || !isfinite(v));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    unsigned mode = data[0];
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    numbers(buf, len);

    expo_parser p;
    expo_parser_init(&p, mode & 1 ? EXPO_OPENMETRICS : EXPO_TEXT, buf, len);
    expo_parser_set_flags(&p, mode & 2 ? EXPO_SKIP_CREATED : 0);
    int r;
    const label *prev_labels = NULL;
    while ((r = expo_next(&p)) > 0) {
        REQUIRE(r == EXPO_SAMPLE || r == EXPO_HELP || r == EXPO_TYPE || r == EXPO_UNIT);
        REQUIRE(expo_line(&p) >= 1);
        if (r != EXPO_SAMPLE) {
            const expo_meta *m = expo_meta_at(&p);
            REQUIRE(m->name_len > 0);
            if (r == EXPO_HELP) REQUIRE(utf8_ok((const unsigned char *)m->text, m->text_len) || memchr(m->text, 0, m->text_len));
            continue;
        }
        const expo_sample *s = expo_sample_at(&p);
        REQUIRE(s->series >= buf && s->series + s->series_len <= buf + len);
        REQUIRE(s->nlabels >= 1);
        check_labels(s->labels, s->nlabels);
        bool has_name = false;
        for (size_t i = 0; i < s->nlabels; i++)
            if (!strcmp(s->labels[i].name, "__name__")) has_name = !strcmp(s->labels[i].value, s->name);
        REQUIRE(has_name);
        REQUIRE(strlen(s->name) == s->name_len);
        if (s->series_repeated) REQUIRE(s->labels == prev_labels);
        prev_labels = s->labels;
        if (s->value != s->value) {
            uint64_t bits;
            memcpy(&bits, &s->value, 8);
            REQUIRE(bits == EXPO_NORMAL_NAN_BITS);
        }
        if (s->has_exemplar) check_labels(s->exemplar.labels, s->exemplar.nlabels);
        if (s->created) REQUIRE(!(mode & 2) && (mode & 1));
        if (mode & 4) {
            int64_t st;
            int sr = expo_start_timestamp(&p, &st);
            REQUIRE(sr == 0 || sr == 1);
            REQUIRE(expo_sample_at(&p) == s && s->labels == prev_labels);
        }
    }
    if (r < 0) {
        REQUIRE(r == FLINT_EINVAL);
        REQUIRE(strncmp(expo_error(&p), "line ", 5) == 0);
        REQUIRE(expo_error_line(&p) >= 1 && expo_error_offset(&p) <= len);
        REQUIRE(expo_next(&p) == r);
    } else {
        REQUIRE(expo_next(&p) == EXPO_EOF);
    }
    expo_parser_free(&p);
    return 0;
}
