/*
 * snapshot.c - tsdb_snapshot (db.h), behind the admin API's
 * /api/v1/admin/tsdb/snapshot: a directory that is a data directory of its
 * own, made of
 *   - hard links of every block's files (blocks are immutable, so a link
 *     is a copy that costs no space and stays valid when the DB later
 *     deletes the block),
 *   - the head's samples written as blocks (unless skip_head),
 *   - a copy of the delete requests, so deleted data stays hidden.
 * The maintenance lock is held throughout, so no compaction or retention
 * removes a block between listing and linking it. Appends keep running;
 * the head part holds what was committed when it was read.
 */
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"
#include "tsdb/db_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Recreate the tree under src in dst with hard links of its files. */
static int link_tree(const char *src, const char *dst) {
    if (mkdir(dst, 0777) && errno != EEXIST) return flint_error(FLINT_EIO, "mkdir %s: %s", dst, strerror(errno));
    DIR *d = opendir(src);
    if (!d) return flint_error(FLINT_EIO, "opendir %s: %s", src, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *s = db_path_join(src, e->d_name), *t = db_path_join(dst, e->d_name);
        struct stat st;
        if (!s || !t) rc = FLINT_ENOMEM;
        else if (lstat(s, &st)) rc = flint_error(FLINT_EIO, "stat %s: %s", s, strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = link_tree(s, t);
        else if (S_ISREG(st.st_mode) && link(s, t))
            rc = flint_error(FLINT_EIO, "link %s -> %s: %s", s, t, strerror(errno));
        fl_free(s);
        fl_free(t);
    }
    closedir(d);
    if (rc == 0) rc = fio_fsync_dir(dst);
    return rc;
}

int tsdb_snapshot(tsdb *db, const char *dir, bool with_head) {
    int rc = fio_mkdir_p(dir);
    if (rc) return rc;
    pthread_mutex_lock(&db->maint_mu);
    db_block **v = NULL;
    size_t n = 0;
    rc = db_blocks_snapshot(db, &v, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *t = db_path_join(dir, block_get_meta(v[i]->b)->ulid);
        rc = t ? link_tree(block_path(v[i]->b), t) : FLINT_ENOMEM;
        fl_free(t);
    }
    if (v) db_blocks_release(v, n);
    if (rc == 0 && with_head) {
        int64_t lo = head_mint(db->h), hi = head_maxt(db->h);
        if (lo != INT64_MAX && hi >= lo) rc = db_head_write_blocks(db, dir, lo, hi + 1);
    }
    if (rc == 0) {
        char *src = db_path_join(db->dir, "delete_requests"), *dst = db_path_join(dir, "delete_requests");
        char *data = NULL;
        size_t len = 0;
        if (!src || !dst) rc = FLINT_ENOMEM;
        else if (fio_exists(src) && (rc = fio_read_file(src, &data, &len)) == 0)
            rc = fio_write_file_atomic(dst, data, len);
        fl_free(data);
        fl_free(src);
        fl_free(dst);
    }
    pthread_mutex_unlock(&db->maint_mu);
    if (rc == 0) rc = fio_fsync_dir(dir);
    return rc;
}
