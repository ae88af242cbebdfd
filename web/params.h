/*
 * params.h - request parameters for the HTTP API: query strings and
 * application/x-www-form-urlencoded bodies (percent-decoding, '+' as a
 * space, repeated keys such as match[] kept in order), and the
 * Prometheus parameter types: timestamps (decimal seconds or RFC 3339) and
 * durations (decimal seconds or Prometheus durations like "1m0s").
 *
 * Error texts follow Prometheus' API: `invalid parameter "time": cannot
 * parse "abc" to a valid timestamp`.
 */
#ifndef FLINT_WEB_PARAMS_H
#define FLINT_WEB_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct api_param {
    char *key;   /* owned, decoded, NUL-terminated */
    char *value; /* owned, decoded, NUL-terminated (may hold inner NULs) */
    size_t value_len;
} api_param;

typedef struct api_params {
    api_param *v;
    size_t n, cap;
} api_params;

void params_init(api_params *p);
void params_free(api_params *p);

/* Append the pairs of "a=1&b=x+y&match[]=..." (s[0..n), not necessarily
 * NUL-terminated). A key without '=' gets the value "". Empty segments
 * ("a=1&&b=2") are skipped. Malformed escapes ("%zz", "%4") fail with
 * FLINT_EINVAL like Go's url.ParseQuery; FLINT_ENOMEM on out of memory
 * (pairs added before the failure stay). */
int params_parse(api_params *p, const char *s, size_t n);

/* First value of key, or NULL. Borrowed until params_free. */
const char *params_get(const api_params *p, const char *key);
/* Number of values of key; the i-th with params_get_nth. */
size_t params_count(const api_params *p, const char *key);
const char *params_get_nth(const api_params *p, const char *key, size_t i);

/* Decode %XX and '+' in s[0..n) into out (at least n+1 bytes), which is
 * NUL-terminated; *out_len gets the length. FLINT_EINVAL on a bad escape. */
int url_decode(const char *s, size_t n, char *out, size_t *out_len);

/* The smallest and largest times Prometheus accepts (its MinTime and
 * MaxTime, in ms): the defaults of start/end on the metadata endpoints. */
#define API_MIN_TIME_MS (-9223309901257974LL)
#define API_MAX_TIME_MS (9223309901257974LL)

/* Parse a timestamp: decimal seconds ("1435781451.781", fractions rounded
 * to ms) or RFC 3339 ("2015-07-01T20:10:51.781Z", "...+02:00"). On error
 * returns FLINT_EINVAL and writes `invalid parameter "<name>": cannot
 * parse "<s>" to a valid timestamp` into err. */
int params_time(const char *name, const char *s, int64_t *ms, char *err, size_t errcap);
/* Prometheus' parseTimeParam as the API uses it for `time` and the
 * metadata endpoints' `start`/`end`: an empty or absent value (s NULL or
 * "") gives def; a bad one fails with `invalid parameter "<name>": invalid
 * time value for '<name>': cannot parse "<s>" to a valid timestamp`. */
int params_time_param(const char *name, const char *s, int64_t def, int64_t *ms, char *err, size_t errcap);
/* Parse a duration: decimal seconds ("15", "0.5") or a Prometheus duration
 * ("15s", "1m0s", "1h30m"). Error text `invalid parameter "<name>":
 * cannot parse "<s>" to a valid duration`. */
int params_duration(const char *name, const char *s, int64_t *ms, char *err, size_t errcap);

#endif
