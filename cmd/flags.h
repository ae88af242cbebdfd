/*
 * flags.h - a small declarative flag parser for the subcommands, in
 * Prometheus' style: `--name=value` or `--name value`, booleans as `--flag`
 * / `--no-flag`, `--help` printing every flag with its default and help.
 * Positional arguments are collected in order.
 */
#ifndef FLINT_CMD_FLAGS_H
#define FLINT_CMD_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { FLAG_STRING, FLAG_BOOL } flag_kind;

typedef struct flag_def {
    const char *name;   /* without the leading dashes */
    flag_kind kind;
    const char *def;    /* default shown in help ("" for none) */
    const char *help;
    const char *value;  /* result: points into argv or at def; "true"/"false" for bools */
    bool set;           /* given on the command line */
} flag_def;

typedef struct flag_set {
    const char *usage;  /* "flint tsdb analyze [flags] DIR" */
    const char *about;  /* one paragraph */
    flag_def *flags;
    size_t nflags;
    const char *pos[16];
    size_t npos;
} flag_set;

/* Parse argv[0..argc). Returns 0, 1 if --help was printed (exit 0), or -1
 * after printing an error and the usage to stderr (exit 2). */
int flags_parse(flag_set *fs, int argc, char **argv);
const char *flag_str(const flag_set *fs, const char *name);
bool flag_bool(const flag_set *fs, const char *name);
void flags_usage(const flag_set *fs, FILE *f);

#endif
