/*
 * check_base.c - varints, CRC32C, the allocation and I/O fault hooks.
 */
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/crc32c.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "storage/varint.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_base_varint_roundtrip) {
    static const uint64_t vals[] = {0, 1, 127, 128, 255, 16383, 16384, (1ull << 35) - 1, UINT64_MAX};
    uint8_t buf[VARINT_MAX];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = uvarint_put(buf, vals[i]);
        ck_assert_uint_eq(n, uvarint_len(vals[i]));
        uint64_t out;
        ck_assert_ptr_eq(uvarint_get(buf, buf + n, &out), buf + n);
        ck_assert_uint_eq(out, vals[i]);
        /* truncated input must fail, not read past the end */
        if (n > 1) ck_assert_ptr_null(uvarint_get(buf, buf + n - 1, &out));
    }
    static const int64_t svals[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof svals / sizeof svals[0]; i++) {
        size_t n = varint_put(buf, svals[i]);
        int64_t out;
        ck_assert_ptr_eq(varint_get(buf, buf + n, &out), buf + n);
        ck_assert_int_eq(out, svals[i]);
    }
    /* overlong: 11 continuation bytes */
    uint8_t bad[11];
    memset(bad, 0xff, sizeof bad);
    uint64_t out;
    ck_assert_ptr_null(uvarint_get(bad, bad + sizeof bad, &out));
}
END_TEST

START_TEST(test_base_crc32c_known_vectors) {
    /* RFC 3720 B.4 test vectors */
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) inc[i] = (uint8_t)i;
    ck_assert_uint_eq(crc32c(0, zeros, 32), 0x8a9136aa);
    ck_assert_uint_eq(crc32c(0, ones, 32), 0x62a8ab43);
    ck_assert_uint_eq(crc32c(0, inc, 32), 0x46dd794e);
    ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283);
    /* incremental == one shot */
    ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}
END_TEST

START_TEST(test_base_alloc_fault_hook) {
    fl_fault_fail_after(2);
    void *a = fl_malloc(8), *b = fl_malloc(8), *c = fl_malloc(8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(fl_fault_failures(), 1);
    fl_fault_reset();
    c = fl_malloc(8);
    ck_assert_ptr_nonnull(c);
    fl_free(a); fl_free(b); fl_free(c);
    fl_free(NULL);
    fl_buf buf = {0};
    fl_fault_fail_after(0);
    ck_assert_int_eq(fl_buf_put(&buf, "x", 1), FLINT_ENOMEM);
    ck_assert_uint_eq(buf.len, 0);
    fl_fault_reset();
    ck_assert_int_eq(fl_buf_put(&buf, "x", 1), 0);
    fl_buf_free(&buf);
}
END_TEST

START_TEST(test_base_io_fault_tears_write) {
    const char *dir = tu_tmpdir();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    fio_fault_set(5, FLINT_ENOSPC, 1, 0);
    ck_assert_int_eq(fio_write_all(fd, "abcdefgh", 8, path), FLINT_ENOSPC);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), path));
    fio_fault_reset();
    close(fd);
    ck_assert_uint_eq(tu_file_size(path), 5);
    /* atomic write publishes whole content */
    ck_assert_int_eq(fio_write_file_atomic(path, "hello", 5), 0);
    char *data;
    size_t n;
    ck_assert_int_eq(fio_read_file(path, &data, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(data, "hello");
    fl_free(data);
    /* a failed atomic write leaves the old content */
    fio_fault_set(2, FLINT_EIO, 1, 0);
    ck_assert_int_eq(fio_write_file_atomic(path, "world!", 6), FLINT_EIO);
    fio_fault_reset();
    ck_assert_int_eq(fio_read_file(path, &data, &n), 0);
    ck_assert_str_eq(data, "hello");
    fl_free(data);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_base_dir_lock_excludes) {
    const char *dir = tu_tmpdir();
    int fd1, fd2;
    ck_assert_int_eq(fio_lock_dir(dir, &fd1), 0);
    /* flock is per open file description: a second open conflicts too */
    ck_assert_int_eq(fio_lock_dir(dir, &fd2), FLINT_ELOCKED);
    fio_unlock_dir(fd1);
    ck_assert_int_eq(fio_lock_dir(dir, &fd2), 0);
    fio_unlock_dir(fd2);
    tu_tmpdir_cleanup();
}
END_TEST

Suite *base_suite(void) {
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_base_varint_roundtrip);
    tcase_add_test(tc, test_base_crc32c_known_vectors);
    tcase_add_test(tc, test_base_alloc_fault_hook);
    tcase_add_test(tc, test_base_io_fault_tears_write);
    tcase_add_test(tc, test_base_dir_lock_excludes);
    suite_add_tcase(s, tc);
    return s;
}
