/*
 * json.h - a small streaming JSON writer into an fl_buf for the HTTP API
 * (web/api.c). Commas and nesting are tracked by the writer; strings are
 * escaped like Go's encoding/json (HTML-safe, invalid UTF-8 as U+FFFD);
 * sample values are written the way Prometheus does: JSON strings holding
 * Go's strconv.FormatFloat(v, 'f', -1, 64) ("NaN", "+Inf", "-Inf",
 * "0.1", "1e21" as "1000000000000000000000"), timestamps as JSON numbers in
 * seconds with millisecond precision ("1435781451.781").
 *
 * Errors are sticky: the first FLINT_ENOMEM is kept in w->err and later
 * calls do nothing, so a caller checks once at the end.
 */
#ifndef FLINT_WEB_JSON_H
#define FLINT_WEB_JSON_H

#include "storage/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
    fl_buf buf;          /* the output; owned, released by jw_free */
    int err;             /* 0 or the first error */
    int depth;
    bool after_key;
    bool first[JSON_MAX_DEPTH + 1];
} json_writer;

void jw_init(json_writer *w);
void jw_free(json_writer *w);
/* Forget the output (keeps the memory) so the writer can start over. */
void jw_reset(json_writer *w);

void jw_obj_begin(json_writer *w);
void jw_obj_end(json_writer *w);
void jw_arr_begin(json_writer *w);
void jw_arr_end(json_writer *w);
/* An object key (escaped); the next value follows without a comma. */
void jw_key(json_writer *w, const char *k);
void jw_str(json_writer *w, const char *s, size_t n);
void jw_cstr(json_writer *w, const char *s);
void jw_int(json_writer *w, int64_t v);
/* A finite double as a JSON number (%.17g); null otherwise. */
void jw_num(json_writer *w, double v);
void jw_bool(json_writer *w, bool v);
void jw_null(json_writer *w);
/* A sample value: a JSON string in Prometheus' format. */
void jw_value(json_writer *w, double v);
/* A timestamp in ms as seconds: 1500 -> 1.5, 4000 -> 4, -1 -> -0.001. */
void jw_timestamp(json_writer *w, int64_t ms);

/* Go's strconv.FormatFloat(v, 'f', -1, 64) into buf (NUL-terminated);
 * returns the length. cap >= 400 always suffices. */
size_t json_format_float(double v, char *buf, size_t cap);
/* Append s[0..n) escaped (without quotes) to b. 0 or FLINT_ENOMEM. */
int json_escape(fl_buf *b, const char *s, size_t n);

#endif
