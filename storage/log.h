/*
 * log.h - leveled logging to stderr in logfmt or JSON, Prometheus-style
 * (level=info ts=... caller=... msg="..." key=value).
 *
 * flint_log(FLINT_LOG_WARN, "wal", "msg=%s segment=%d", ...) writes one line;
 * the caller formats the key=value tail. Thread-safe (one write() per line).
 */
#ifndef FLINT_LOG_H
#define FLINT_LOG_H

enum { FLINT_LOG_DEBUG = 0, FLINT_LOG_INFO = 1, FLINT_LOG_WARN = 2, FLINT_LOG_ERROR = 3 };

void flint_log_set_level(int level);
int flint_log_level_parse(const char *s); /* "debug".."error" -> level, -1 if unknown */
void flint_log_set_json(int json);
/* component: short module name; msg: human sentence; fmt: optional extra
 * logfmt pairs ("segment=%d offset=%ld"), may be NULL. */
void flint_log(int level, const char *component, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
