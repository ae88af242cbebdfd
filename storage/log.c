/*
 * log.c - one line per event on stderr, logfmt (default) or JSON.
 */
#include "storage/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = FLINT_LOG_INFO;
static int log_json = 0;

void flint_log_set_level(int level) { log_level = level; }
void flint_log_set_json(int json) { log_json = json; }

int flint_log_level_parse(const char *s) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static size_t put_quoted(char *out, size_t cap, const char *s) {
    size_t n = 0;
    if (n < cap) out[n++] = '"';
    for (; *s && n + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') { out[n++] = '\\'; out[n++] = *s; }
        else if (*s == '\n') { out[n++] = '\\'; out[n++] = 'n'; }
        else out[n++] = *s;
    }
    if (n < cap) out[n++] = '"';
    return n;
}

void flint_log(int level, const char *component, const char *msg, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_level) return;
    char line[2048], extra[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[96];
    snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    size_t n;
    if (log_json) {
        n = (size_t)snprintf(line, sizeof line, "{\"level\":\"%s\",\"ts\":\"%s\",\"component\":\"%s\",\"msg\":",
                             names[level], tbuf, component);
        if (n < sizeof line) n += put_quoted(line + n, sizeof line - n, msg);
        if (extra[0] && n < sizeof line) {
            n += (size_t)snprintf(line + n, sizeof line - n, ",\"detail\":");
            if (n < sizeof line) n += put_quoted(line + n, sizeof line - n, extra);
        }
        if (n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, "}\n");
    } else {
        n = (size_t)snprintf(line, sizeof line, "ts=%s level=%s component=%s msg=", tbuf, names[level],
                             component);
        if (n < sizeof line) n += put_quoted(line + n, sizeof line - n, msg);
        if (extra[0] && n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, " %s", extra);
        if (n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, "\n");
    }
    if (n > sizeof line) n = sizeof line;
    ssize_t w = write(2, line, n);
    (void)w;
}
