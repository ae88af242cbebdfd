/*
 * fileio.h - the one I/O wrapper: whole writes, fsync, atomic publish,
 * mmap, directory locks and tree helpers, with a fault-injection hook.
 *
 * Every write to a data directory goes through fio_write_all/fio_pwrite_all
 * so tests can make the Nth byte fail (EIO or ENOSPC) or tear a write
 * (write a prefix, then fail) - SQLite's *fault.test idea. Errors come back
 * as FLINT_EIO / FLINT_ENOSPC with a message naming the path and errno text.
 */
#ifndef FLINT_FILEIO_H
#define FLINT_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write all n bytes (retrying EINTR and short writes). */
int fio_write_all(int fd, const void *buf, size_t n, const char *path);
int fio_pwrite_all(int fd, const void *buf, size_t n, off_t off, const char *path);
/* Read exactly n bytes at off; FLINT_ECORRUPT if the file is shorter. */
int fio_pread_all(int fd, void *buf, size_t n, off_t off, const char *path);
int fio_fsync(int fd, const char *path);
int fio_fsync_dir(const char *dir);
/* rename(2) then fsync the destination's parent directory. */
int fio_rename(const char *from, const char *to);
/* Write a whole small file atomically: path.tmp, fsync, rename, dir fsync. */
int fio_write_file_atomic(const char *path, const void *data, size_t n);
/* Read a whole file into a malloc'd buffer (NUL-terminated, *n excludes it).
 * Caller frees with fl_free. */
int fio_read_file(const char *path, char **data, size_t *n);

/* Read-only mapping of a whole file. An empty file maps to data=NULL,size=0. */
typedef struct fio_map {
    const uint8_t *data;
    size_t size;
} fio_map;
int fio_map_file(const char *path, fio_map *m);
void fio_unmap(fio_map *m);

/* Exclusive, non-blocking lock on DIR/lock (flock). *fd_out holds it until
 * fio_unlock_dir. FLINT_ELOCKED if another process has it. */
int fio_lock_dir(const char *dir, int *fd_out);
void fio_unlock_dir(int fd);

int fio_mkdir_p(const char *path);
/* Remove a file or a directory tree. Missing is not an error. */
int fio_rm_rf(const char *path);
/* Total bytes of regular files under path (recursive); 0 if missing. */
int64_t fio_tree_size(const char *path);
int fio_exists(const char *path);

/* Fault injection (tests): after `bytes` more bytes have been written through
 * this wrapper, writes fail with `err` (FLINT_EIO or FLINT_ENOSPC); when
 * `tear` is set, the failing write still writes the bytes up to the limit.
 * fsync fails too once tripped when `fail_fsync` is set. bytes < 0 disables. */
void fio_fault_set(long long bytes, int err, int tear, int fail_fsync);
void fio_fault_reset(void);

#endif
