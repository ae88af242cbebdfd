/*
 * fileio.c - write/fsync/rename/mmap/lock wrappers with fault injection.
 */
#include "storage/fileio.h"
#include "storage/alloc.h"
#include "storage/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_llong fault_budget = -1;
static int fault_err = FLINT_EIO, fault_tear = 0, fault_fsync = 0;

void fio_fault_set(long long bytes, int err, int tear, int fail_fsync) {
    fault_err = err;
    fault_tear = tear;
    fault_fsync = fail_fsync;
    atomic_store(&fault_budget, bytes);
}
void fio_fault_reset(void) { atomic_store(&fault_budget, -1); }

static int sys_error(int e, const char *op, const char *path) {
    int code = e == ENOSPC || e == EDQUOT ? FLINT_ENOSPC : FLINT_EIO;
    return flint_error(code, "%s %s: %s", op, path ? path : "?", strerror(e));
}

/* How many of n bytes may be written before the injected fault; n if none. */
static size_t fault_allow(size_t n, int *tripped) {
    *tripped = 0;
    long long b = atomic_load(&fault_budget);
    if (b < 0) return n;
    if ((long long)n <= b) {
        atomic_fetch_sub(&fault_budget, (long long)n);
        return n;
    }
    atomic_store(&fault_budget, 0);
    *tripped = 1;
    return fault_tear ? (size_t)b : 0;
}

static int fault_error(const char *path) {
    return flint_error(fault_err, "write %s: injected %s", path ? path : "?",
                       fault_err == FLINT_ENOSPC ? "no space left on device" : "I/O error");
}

int fio_write_all(int fd, const void *buf, size_t n, const char *path) {
    int tripped;
    size_t allow = fault_allow(n, &tripped);
    const uint8_t *p = buf;
    size_t left = allow;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sys_error(errno, "write", path);
        }
        p += w;
        left -= (size_t)w;
    }
    return tripped ? fault_error(path) : 0;
}

int fio_pwrite_all(int fd, const void *buf, size_t n, off_t off, const char *path) {
    int tripped;
    size_t allow = fault_allow(n, &tripped);
    const uint8_t *p = buf;
    size_t left = allow;
    while (left) {
        ssize_t w = pwrite(fd, p, left, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sys_error(errno, "pwrite", path);
        }
        p += w;
        off += w;
        left -= (size_t)w;
    }
    return tripped ? fault_error(path) : 0;
}

int fio_pread_all(int fd, void *buf, size_t n, off_t off, const char *path) {
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return sys_error(errno, "pread", path);
        }
        if (r == 0) return flint_error(FLINT_ECORRUPT, "read %s: unexpected end of file at offset %lld", path, (long long)off);
        p += r;
        off += r;
        n -= (size_t)r;
    }
    return 0;
}

int fio_fsync(int fd, const char *path) {
    if (fault_fsync && atomic_load(&fault_budget) == 0) return fault_error(path);
    if (fdatasync(fd) != 0) return sys_error(errno, "fsync", path);
    return 0;
}

int fio_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_error(errno, "open dir", dir);
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL) rc = sys_error(errno, "fsync dir", dir);
    close(fd);
    return rc;
}

static void parent_dir(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == out) out[1] = 0;
    else *slash = 0;
}

int fio_rename(const char *from, const char *to) {
    if (rename(from, to) != 0) return sys_error(errno, "rename", from);
    char dir[PATH_MAX];
    parent_dir(to, dir, sizeof dir);
    return fio_fsync_dir(dir);
}

int fio_write_file_atomic(const char *path, const void *data, size_t n) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return sys_error(errno, "create", tmp);
    int rc = fio_write_all(fd, data, n, tmp);
    if (rc == 0) rc = fio_fsync(fd, tmp);
    close(fd);
    if (rc == 0) rc = fio_rename(tmp, path);
    if (rc != 0) unlink(tmp);
    return rc;
}

/* Open read-only and stat; FLINT_ENOTFOUND for a missing file. */
static int open_stat(const char *path, int *fd_out, struct stat *st) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return flint_error(FLINT_ENOTFOUND, "open %s: %s", path, strerror(errno));
        return sys_error(errno, "open", path);
    }
    if (fstat(fd, st) != 0) {
        int rc = sys_error(errno, "stat", path);
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

int fio_read_file(const char *path, char **data, size_t *n) {
    int fd;
    struct stat st;
    int orc = open_stat(path, &fd, &st);
    if (orc) return orc;
    char *buf = fl_malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return FLINT_ENOMEM;
    }
    int rc = st.st_size ? fio_pread_all(fd, buf, (size_t)st.st_size, 0, path) : 0;
    close(fd);
    if (rc != 0) {
        fl_free(buf);
        return rc;
    }
    buf[st.st_size] = 0;
    *data = buf;
    *n = (size_t)st.st_size;
    return 0;
}

int fio_map_file(const char *path, fio_map *m) {
    m->data = NULL;
    m->size = 0;
    int fd;
    struct stat st;
    int orc = open_stat(path, &fd, &st);
    if (orc) return orc;
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int rc = sys_error(errno, "mmap", path);
            close(fd);
            return rc;
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void fio_unmap(fio_map *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int fio_lock_dir(const char *dir, int *fd_out) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return sys_error(errno, "open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return flint_error(FLINT_ELOCKED, "lock %s: data directory is in use by another process", path);
        return sys_error(e, "flock", path);
    }
    *fd_out = fd;
    return 0;
}

void fio_unlock_dir(int fd) {
    if (fd >= 0) close(fd);
}

int fio_mkdir_p(const char *path) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return sys_error(errno, "mkdir", buf);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return sys_error(errno, "mkdir", buf);
    return 0;
}

int fio_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fio_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : sys_error(errno, "stat", path);
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return sys_error(errno, "opendir", path);
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(d)) && rc == 0) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rc = fio_rm_rf(sub);
        }
        closedir(d);
        if (rc) return rc;
        if (rmdir(path) != 0) return sys_error(errno, "rmdir", path);
        return 0;
    }
    if (unlink(path) != 0 && errno != ENOENT) return sys_error(errno, "unlink", path);
    return 0;
}

int64_t fio_tree_size(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
    DIR *d = opendir(path);
    if (!d) return 0;
    int64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        total += fio_tree_size(sub);
    }
    closedir(d);
    return total;
}
