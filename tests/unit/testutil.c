/*
 * testutil.c - see testutil.h.
 */
#include "tests/unit/testutil.h"
#include "storage/fileio.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

int tu_http_do(uint16_t port, const char *request, char *body, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t len = strlen(request);
    ck_assert_int_eq(write(fd, request, len), (ssize_t)len);
    static _Thread_local char resp[65536]; /* per thread: clients run in parallel */
    size_t got = 0;
    for (int reads = 0; reads < 1000 && got < sizeof resp - 1; reads++) {
        ssize_t n = read(fd, resp + got, sizeof resp - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    resp[got] = '\0';
    int status = 0;
    ck_assert_int_eq(sscanf(resp, "HTTP/1.1 %d", &status), 1);
    const char *b = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    snprintf(body, cap, "%s", b + 4);
    return status;
}
