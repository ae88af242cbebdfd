/*
 * expo.h - pull parser for the Prometheus text exposition format (0.0.4) and
 * OpenMetrics 1.0 text, over one in-memory buffer.
 *
 * Used by the scrape loop (one body per scrape) and by `flint import
 * openmetrics` (one mmapped file). The caller picks the format (from the
 * Content-Type, see expo_format_from_content_type) and pulls entries:
 *
 *     expo_parser p;
 *     expo_parser_init(&p, EXPO_OPENMETRICS, buf, len);
 *     int r;
 *     while ((r = expo_next(&p)) > 0) {
 *         if (r != EXPO_SAMPLE) continue;          // HELP/TYPE/UNIT: expo_meta_at
 *         const expo_sample *s = expo_sample_at(&p);
 *         if (!s->series_repeated) ref = lookup(s->labels, s->nlabels);
 *         append(ref, s->has_ts ? s->ts_ms : now, s->value);
 *     }
 *     if (r < 0) fprintf(stderr, "%s\n", expo_error(&p));   // "line 3: ..."
 *     expo_parser_free(&p);
 *
 * The behaviour is Prometheus' (model/textparse/promparse.go and
 * openmetricsparse.go): the same lines are accepted and refused, and errors
 * say "line N: <reason>". Where flint differs, the comment in expo_parse.c says so.
 * The parser never reads outside [buf, buf+len) and does not need a NUL
 * terminator; it allocates only its scratch buffers (grown as lines need,
 * kept across expo_parser_reset).
 *
 * Numbers: values use Go's float syntax (ParseFloat without hex and '_'),
 * converted bit-exactly (expo_parse_double); text timestamps are integer
 * milliseconds; OpenMetrics timestamps are decimal seconds converted to
 * milliseconds exactly from the digits (1700000000.123 -> 1700000000123),
 * truncating below the millisecond like Go's int64(ts*1000).
 */
#ifndef FLINT_EXPO_H
#define FLINT_EXPO_H

#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum expo_format {
    EXPO_TEXT = 0,        /* text/plain; version=0.0.4 */
    EXPO_OPENMETRICS = 1, /* application/openmetrics-text; version=1.0.0 */
} expo_format;

/* What expo_next() found. EXPO_EOF is 0 so `while ((r = expo_next(p)) > 0)`
 * reads a body; errors are negative FLINT_E* codes. */
enum expo_entry {
    EXPO_EOF = 0,    /* text: end of input; OpenMetrics: `# EOF` (and nothing after) */
    EXPO_SAMPLE = 1, /* expo_sample_at() */
    EXPO_HELP = 2,   /* expo_meta_at(): name, text = help (unescaped) */
    EXPO_TYPE = 3,   /* expo_meta_at(): name, type (text = the word) */
    EXPO_UNIT = 4,   /* expo_meta_at(): name, text = unit (OpenMetrics only) */
};

typedef enum expo_type {
    EXPO_UNKNOWN = 0, /* "untyped" (text), "unknown" (OpenMetrics), or no TYPE */
    EXPO_COUNTER,
    EXPO_GAUGE,
    EXPO_HISTOGRAM,
    EXPO_GAUGEHISTOGRAM,
    EXPO_SUMMARY,
    EXPO_INFO,
    EXPO_STATESET,
} expo_type;

/* Options for expo_parser_set_flags(). */
enum expo_flags {
    /* OpenMetrics: do not return `<family>_created` samples of counters,
     * histograms and summaries (Prometheus' OpenMetricsSkipSTSeries, used
     * when start timestamps are ingested); expo_start_timestamp() still
     * finds them. Without it they are ordinary samples with `created` set,
     * which is Prometheus' default. */
    EXPO_SKIP_CREATED = 1u << 0,
};

/* Prometheus' "normal" NaN (value.NormalNaN): every NaN sample value is
 * returned with exactly these bits, so it never looks like a stale marker. */
#define EXPO_NORMAL_NAN_BITS 0x7ff8000000000001ULL

typedef struct expo_exemplar {
    const label *labels; /* sorted by name; strings NUL-terminated */
    size_t nlabels;
    double value;
    int64_t ts_ms;
    bool has_ts;
} expo_exemplar;

/* One sample line. Every pointer is borrowed from the parser (or from the
 * input buffer) until the next expo_next()/expo_start_timestamp()/reset. */
typedef struct expo_sample {
    const char *name; /* metric name, unescaped, NUL-terminated */
    size_t name_len;
    /* The series: `__name__` plus the line's labels, sorted by name, names
     * unique, values unescaped and NUL-terminated. For histogram `le` and
     * summary `quantile` labels the value is normalised as Prometheus 3
     * does ("1" -> "1.0"). */
    const label *labels;
    size_t nlabels;
    double value;
    int64_t ts_ms;
    bool has_ts;
    /* Type of the family the sample belongs to: the last TYPE line's, when
     * the sample's name is that family's name plus a suffix the type allows
     * (counter: _total, _created; histogram: _bucket, _count, _sum,
     * _created; gaugehistogram: _bucket, _gcount, _gsum; summary: _count,
     * _sum, _created; info: _info; any: no suffix); EXPO_UNKNOWN otherwise. */
    expo_type type;
    /* OpenMetrics `<family>_created` sample of a counter/histogram/summary. */
    bool created;
    /* Raw bytes of the line from its first byte to the end of the label set
     * (the `}`), or of the name when there is none. */
    const char *series;
    size_t series_len;
    /* The raw series equals the previous sample's, and no metadata line came
     * in between: name, labels, type and created are the previous sample's
     * (the same pointers). The parser itself skipped the label work. */
    bool series_repeated;
    bool has_exemplar; /* OpenMetrics `# {...} value [ts]` */
    expo_exemplar exemplar;
} expo_sample;

/* One HELP/TYPE/UNIT line; strings are not NUL-terminated. */
typedef struct expo_meta {
    const char *name; /* metric family name, unescaped */
    size_t name_len;
    const char *text; /* HELP: help (unescaped); TYPE: the type word; UNIT: the unit */
    size_t text_len;
    expo_type type;   /* TYPE: the type parsed from text; otherwise EXPO_UNKNOWN */
} expo_meta;

typedef struct expo_scratch {
    char *data;
    size_t len, cap;
} expo_scratch;

/* Caller-allocated; fields are private (read them through the functions). */
typedef struct expo_parser {
    const char *buf, *cur, *end;
    expo_format format;
    unsigned flags;
    int status;             /* 0 running, 1 at EOF, < 0 sticky error */
    const char *entry;      /* first byte of the entry expo_next returned */
    const char *line_pos;   /* line counting cache: line_no is the line of */
    size_t line_no;         /*   line_pos (1-based) */
    /* previous sample's raw series (in buf), for the repeat fast path */
    const char *prev;
    size_t prev_len;
    bool prev_braces;
    /* current metric family: name of the last metadata line (or of the last
     * sample outside it), its type, what was seen for it */
    expo_scratch fam;
    expo_type fam_type;
    unsigned fam_seen;
    /* decoded strings and label arrays of the sample and of its exemplar */
    expo_scratch sstr, xstr, mstr;
    size_t *soff, soff_cap; /* (name, value) offsets into sstr / xstr */
    label *slab, *xlab;
    size_t slab_cap, xlab_cap;
    const char *val_s;      /* the sample value's text */
    size_t val_n;
    /* start timestamps (expo_start_timestamp): the current sample's key;
     * the last key found (Prometheus' cache); where the last look-ahead
     * stopped and what it stopped at */
    struct expo_parser *peek;
    expo_scratch st_cur, st_key, st_stop_key;
    bool st_cur_valid, st_valid, st_stop_created;
    int64_t st_ms, st_stop_ms;
    const char *st_stop;
    /* error: message, byte offset, line */
    size_t err_off, err_line;
    char err[320];
    expo_sample sample;
    expo_meta meta;
} expo_parser;

/* Prepare `p` to parse [buf, buf+len) in `format`. Allocates nothing; the
 * buffer is borrowed and must outlive the parser's use of it. */
void expo_parser_init(expo_parser *p, expo_format format, const char *buf, size_t len);
/* Start over on another buffer, keeping the scratch memory and the flags. */
void expo_parser_reset(expo_parser *p, expo_format format, const char *buf, size_t len);
void expo_parser_set_flags(expo_parser *p, unsigned flags);
/* Release the scratch memory; `p` may be reset/initialised again. */
void expo_parser_free(expo_parser *p);

/* Parse the next entry: EXPO_SAMPLE, EXPO_HELP, EXPO_TYPE, EXPO_UNIT, or
 * EXPO_EOF (0) at the end; comments and (text) blank lines are skipped.
 * On malformed input: FLINT_EINVAL with expo_error() "line N: <reason>"
 * (also recorded with flint_error); FLINT_ENOMEM when scratch memory cannot
 * grow. Errors are sticky: every later call returns the same code. */
int expo_next(expo_parser *p);

/* The current sample (after EXPO_SAMPLE) / metadata (after HELP/TYPE/UNIT). */
const expo_sample *expo_sample_at(const expo_parser *p);
const expo_meta *expo_meta_at(const expo_parser *p);

/* 1-based line number of the entry expo_next() last returned (counted
 * lazily, so it costs nothing unless asked). */
size_t expo_line(expo_parser *p);

/* Bytes of the buffer consumed so far (the parser's position). The importer
 * uses it to stop at the end of a slice that has no `# EOF` of its own. */
size_t expo_offset(const expo_parser *p);

/* After an error: "line N: <reason>", the line N and the byte offset into
 * the buffer where the problem was found. "" / 0 when there was no error. */
const char *expo_error(const expo_parser *p);
size_t expo_error_line(const expo_parser *p);
size_t expo_error_offset(const expo_parser *p);

/* OpenMetrics start timestamp of the current sample, as Prometheus'
 * StartTimestamp(): for a counter/histogram/summary sample, look ahead in
 * the same family for `<family>_created` with the same labels (ignoring
 * `le`/`quantile`) and return its value in ms. 1: found (*st_ms set);
 * 0: none (any other type, another metadata line or an error comes first,
 * or the next _created line is another series'); FLINT_ENOMEM. The current
 * sample stays as it is. Where the look-ahead stopped is remembered, so a
 * family without _created lines is scanned once, not once per sample. */
int expo_start_timestamp(expo_parser *p, int64_t *st_ms);

/* EXPO_OPENMETRICS for "application/openmetrics-text" (any parameters,
 * case-insensitive media type), EXPO_TEXT for anything else, as Prometheus
 * falls back to the text format. `ct` may be NULL. */
expo_format expo_format_from_content_type(const char *ct);
/* "counter", "gauge", ..., "unknown". */
const char *expo_type_name(expo_type t);

/* ---- numbers (exposed for the importer and for tests) ------------------ */

/* Parse exactly s[0..n) as a Go float (strconv.ParseFloat syntax minus hex
 * and '_', which Prometheus refuses): [+-]digits[.digits][e[+-]digits],
 * also ".5" and "5.", and case-insensitive "inf", "infinity" (signed or
 * not) and "nan" (unsigned). The result is bit-identical to glibc strtod()
 * in the C locale on the same text. Returns 0; FLINT_EINVAL for bad syntax
 * (*out untouched); FLINT_ERANGE when a finite number overflows (*out is
 * +-Inf, as strtod gives; Go and Prometheus refuse it). Underflow is not an
 * error (Go's rule). */
int expo_parse_double(const char *s, size_t n, double *out);

/* Decimal seconds (the syntax above) to milliseconds, exactly from the
 * digits, truncated toward zero below 1 ms. FLINT_EINVAL for bad syntax
 * and for NaN/Inf; FLINT_ERANGE when the result does not fit int64. */
int expo_parse_seconds_ms(const char *s, size_t n, int64_t *ms);

/* [+-]digits as int64 (Go's strconv.ParseInt base 10). FLINT_EINVAL for
 * bad syntax, FLINT_ERANGE for overflow. */
int expo_parse_int64(const char *s, size_t n, int64_t *out);

/* Format `f` as Prometheus' labels.FormatOpenMetricsFloat (Go's shortest
 * %g, ".0" appended to integers, "+Inf", "-Inf", "NaN"). `buf` needs 32
 * bytes; returns the length (NUL-terminated). */
size_t expo_format_om_float(double f, char *buf);

#endif
