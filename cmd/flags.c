/*
 * flags.c - see flags.h.
 */
#include "cmd/flags.h"

#include <stdio.h>
#include <string.h>

void flags_usage(const flag_set *fs, FILE *f) {
    fprintf(f, "usage: %s\n", fs->usage);
    if (fs->about) fprintf(f, "\n%s\n", fs->about);
    if (fs->nflags) fprintf(f, "\nflags:\n");
    for (size_t i = 0; i < fs->nflags; i++) {
        const flag_def *d = &fs->flags[i];
        char left[96];
        if (d->kind == FLAG_BOOL) snprintf(left, sizeof left, "  --[no-]%s", d->name);
        else snprintf(left, sizeof left, "  --%s=VALUE", d->name);
        fprintf(f, "%-44s %s", left, d->help);
        if (d->def && *d->def) fprintf(f, " (default: %s)", d->def);
        fprintf(f, "\n");
    }
    fprintf(f, "  %-42s %s\n", "--help", "show this help");
}

static flag_def *find(flag_set *fs, const char *name, size_t n) {
    for (size_t i = 0; i < fs->nflags; i++)
        if (strlen(fs->flags[i].name) == n && memcmp(fs->flags[i].name, name, n) == 0) return &fs->flags[i];
    return NULL;
}

int flags_parse(flag_set *fs, int argc, char **argv) {
    for (size_t i = 0; i < fs->nflags; i++) {
        fs->flags[i].value = fs->flags[i].def ? fs->flags[i].def : "";
        if (fs->flags[i].kind == FLAG_BOOL && !*fs->flags[i].value) fs->flags[i].value = "false";
        fs->flags[i].set = false;
    }
    fs->npos = 0;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (fs->npos == sizeof fs->pos / sizeof fs->pos[0]) {
                fprintf(stderr, "error: too many arguments\n");
                goto bad;
            }
            fs->pos[fs->npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            flags_usage(fs, stdout);
            return 1;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        flag_def *d = find(fs, name, nl);
        if (!d && nl > 3 && !strncmp(name, "no-", 3) && !eq) {
            d = find(fs, name + 3, nl - 3);
            if (d && d->kind == FLAG_BOOL) {
                d->value = "false";
                d->set = true;
                continue;
            }
            d = NULL;
        }
        if (!d) {
            fprintf(stderr, "error: unknown flag --%.*s\n", (int)nl, name);
            goto bad;
        }
        d->set = true;
        if (d->kind == FLAG_BOOL) {
            if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
                fprintf(stderr, "error: flag --%s takes true or false, got \"%s\"\n", d->name, eq + 1);
                goto bad;
            }
            d->value = eq ? eq + 1 : "true";
            continue;
        }
        if (eq) d->value = eq + 1;
        else if (i + 1 < argc) d->value = argv[++i];
        else {
            fprintf(stderr, "error: flag --%s needs a value\n", d->name);
            goto bad;
        }
    }
    return 0;
bad:
    flags_usage(fs, stderr);
    return -1;
}

const char *flag_str(const flag_set *fs, const char *name) {
    for (size_t i = 0; i < fs->nflags; i++)
        if (!strcmp(fs->flags[i].name, name)) return fs->flags[i].value;
    return NULL;
}

bool flag_bool(const flag_set *fs, const char *name) {
    const char *v = flag_str(fs, name);
    return v && !strcmp(v, "true");
}
