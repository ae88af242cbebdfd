/*
 * testutil.c - see testutil.h.
 */
#include "tests/unit/testutil.h"
#include "storage/fileio.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_path[PATH_MAX];

const char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/flint-test-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_path));
    return tmp_path;
}

void tu_tmpdir_cleanup(void) {
    if (tmp_path[0]) fio_rm_rf(tmp_path);
    tmp_path[0] = 0;
}

size_t tu_file_size(const char *path) {
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (size_t)st.st_size;
}

void tu_file_poke(const char *path, size_t off, uint8_t xor_mask) {
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= xor_mask;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

void tu_file_truncate(const char *path, size_t len) { ck_assert_int_eq(truncate(path, (off_t)len), 0); }
