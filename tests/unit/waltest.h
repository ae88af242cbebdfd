/*
 * waltest.h - helpers shared by check_wal.c and check_walrec.c: copying a
 * WAL directory tree (so one written log can be damaged many ways) and
 * listing what a directory holds. Header-only because the Makefile builds
 * only check_*.c, main.c and testutil.c from tests/unit.
 */
#ifndef FLINT_WALTEST_H
#define FLINT_WALTEST_H

#include "storage/alloc.h"
#include "storage/fileio.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Paths are checked for truncation (which also keeps -Wformat-truncation
 * quiet). */
static inline void wt_path(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < cap);
}

static inline void wt_seg_path(char *buf, size_t cap, const char *dir, int seg) {
    int n = snprintf(buf, cap, "%s/%08d", dir, seg);
    ck_assert(n > 0 && (size_t)n < cap);
}

/* Copy the tree at src to dst (dst must not exist). */
static inline void wt_copy_tree(const char *src, const char *dst) {
    struct stat st;
    ck_assert_int_eq(stat(src, &st), 0);
    if (S_ISDIR(st.st_mode)) {
        ck_assert_int_eq(mkdir(dst, 0755), 0);
        DIR *d = opendir(src);
        ck_assert_ptr_nonnull(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char s[PATH_MAX], t[PATH_MAX];
            wt_path(s, sizeof s, src, e->d_name);
            wt_path(t, sizeof t, dst, e->d_name);
            wt_copy_tree(s, t);
        }
        closedir(d);
        return;
    }
    char *data;
    size_t n;
    ck_assert_int_eq(fio_read_file(src, &data, &n), 0);
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(n ? write(fd, data, n) : 0, (ssize_t)n);
    close(fd);
    fl_free(data);
}

/* Fresh copy of src at dst (removing an old dst first). */
static inline void wt_recopy(const char *src, const char *dst) {
    ck_assert_int_eq(fio_rm_rf(dst), 0);
    wt_copy_tree(src, dst);
}

/* Number of entries in dir whose name starts with prefix ("" = all). */
static inline int wt_count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    }
    closedir(d);
    return n;
}

#endif
