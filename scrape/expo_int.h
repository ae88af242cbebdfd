/*
 * expo_int.h - internals shared by the exposition parser's files: the re2c
 * token recognisers (expo.re) and the number helpers (expo_num.c) that the
 * line parser (expo_parse.c) calls. Not for use outside scrape/expo*.
 */
#ifndef FLINT_EXPO_INT_H
#define FLINT_EXPO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* expo.re: each returns the end of the token starting at s, reading
 * nothing at or after lim. Names return s when there is no name; quoted
 * strings (s[0] == '"') return NULL when malformed. */
const char *expo__scan_metric_name(const char *s, const char *lim);
const char *expo__scan_label_name(const char *s, const char *lim);
const char *expo__scan_quoted(const char *s, const char *lim);
const char *expo__scan_quoted_lf(const char *s, const char *lim);

/* expo_num.c: Prometheus' normalisation of an `le`/`quantile` label value
 * (parse as float, format with expo_format_om_float). Writes the canonical
 * text to out (32 bytes) and returns its length, or 0 when the value is
 * not a number (it is then kept as it is, as Prometheus does). */
size_t expo__normalize_om_float(const char *v, size_t n, char *out);

#endif
