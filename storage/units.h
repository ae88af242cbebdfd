/*
 * units.h - Prometheus durations ("1h30m", "15s", "1d", "0") and byte sizes
 * ("512MB", "1GiB"-less Prometheus units: B KB MB GB TB PB EB, base 1024),
 * parsed and formatted the way Prometheus' model.ParseDuration and
 * units.ParseBase2Bytes do. Used by flags, the config and the HTTP API.
 */
#ifndef FLINT_UNITS_H
#define FLINT_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parse a duration into milliseconds: one or more <int><unit> groups with
 * units y w d h m s ms in that order, each at most once, or "0". Returns 0
 * or FLINT_EINVAL (message quotes the input). */
int duration_parse(const char *s, size_t n, int64_t *ms);
/* Format like Prometheus' model.Duration.String(): "1h30m", "15s", "0s". */
size_t duration_format(int64_t ms, char *buf, size_t cap);
/* Parse "512MB", "1GB", "100B", "0" into bytes (base 1024). */
int bytesize_parse(const char *s, int64_t *bytes);

#endif
