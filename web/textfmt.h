/*
 * textfmt.h - writing Prometheus' text exposition format 0.0.4 into an
 * fl_buf, for /metrics (web/apimetrics.c) and /federate (web/federate.c):
 * values formatted like Go's expfmt (strconv 'g', shortest, "1e+06",
 * "NaN", "+Inf"), label values escaped (\\, \", \n), HELP/TYPE lines.
 *
 * Errors are sticky in the writer: the first FLINT_ENOMEM is kept in
 * w->err and later calls do nothing.
 */
#ifndef FLINT_WEB_TEXTFMT_H
#define FLINT_WEB_TEXTFMT_H

#include "storage/buf.h"
#include "tsdb/labels.h"

#include <stddef.h>
#include <stdint.h>

typedef struct text_writer {
    fl_buf *b;  /* borrowed */
    int err;
} text_writer;

/* Go's strconv.FormatFloat(v, 'g', -1, 64) with expfmt's NaN/+Inf/-Inf;
 * returns the length (cap >= 32 suffices). */
size_t text_format_float(double v, char *buf, size_t cap);

void tw_raw(text_writer *w, const char *s, size_t n);
void tw_cstr(text_writer *w, const char *s);
void tw_printf(text_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "# HELP name help\n# TYPE name type\n" (help escaped as expfmt does). */
void tw_header(text_writer *w, const char *name, const char *type, const char *help);
/* A label value escaped (without quotes). */
void tw_label_value(text_writer *w, const char *v);
/* One line: name{k="v",...} value. lnames/lvalues may be NULL when
 * nl == 0. */
void tw_sample(text_writer *w, const char *name, const char *const *lnames, const char *const *lvalues, size_t nl,
               double v);
/* A value as text_format_float writes it. */
void tw_value(text_writer *w, double v);

#endif
