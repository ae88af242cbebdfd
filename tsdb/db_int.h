/*
 * db_int.h - the database's private state, shared by db.c (lifecycle,
 * appender, maintenance), compact.c (planning and merging blocks) and
 * querier.c (reads). Not for use outside tsdb/.
 */
#ifndef FLINT_DB_INT_H
#define FLINT_DB_INT_H

#include "storage/buf.h"
#include "storage/wal.h"
#include "tsdb/block.h"
#include "tsdb/db.h"
#include "tsdb/head.h"
#include "tsdb/walrec.h"

#include <pthread.h>
#include <stdatomic.h>

/* A loaded block with a reference count: the DB's list holds one
 * reference, each querier that uses it one more. A block removed by
 * compaction or retention is unlisted and marked; the last unref closes it
 * and, if marked, deletes its directory. */
typedef struct db_block {
    block *b;
    atomic_int refs;
    atomic_bool doomed;
    char *path;
} db_block;

void db_block_unref(db_block *blk);

struct tsdb {
    char *dir;
    char *waldir;
    char *head_dir;         /* private temp dir in read-only mode */
    tsdb_options opt;
    int lock_fd;

    wal *w;                 /* NULL when read-only or no_wal */
    pthread_mutex_t wal_mu; /* serialises WAL writes and the buffers below */
    fl_buf walbuf;

    head *h;

    pthread_mutex_t blocks_mu; /* the block list */
    db_block **blocks;         /* sorted by min_time, then ulid */
    size_t nblocks, capblocks;

    pthread_mutex_t maint_mu;  /* one maintenance pass at a time */
    /* counters read by tsdb_get_counters (tsdb/stats.c) from other threads */
    _Atomic uint64_t compactions, head_cuts, retention_deletes;
    _Atomic uint64_t wal_fsyncs, wal_fsync_ns, wal_writes_failed, wal_corruptions;
    struct tomb_db *tombs;     /* delete requests (tsdb/delete.c) */
};

/* Add an opened block to the list (takes the block). */
int db_add_block(tsdb *db, block *b);
/* Unlist a block and doom it (its directory goes when the last user is done). */
void db_remove_block(tsdb *db, db_block *blk);
/* Snapshot of the list with a reference on each; release with
 * db_blocks_release. */
int db_blocks_snapshot(tsdb *db, db_block ***out, size_t *n);
/* The newest block's max_time; INT64_MIN without blocks. */
int64_t db_blocks_maxt(tsdb *db);
void db_blocks_release(db_block **v, size_t n);

/* "a/b" in a new fl_malloc'd string; NULL on OOM. */
char *db_path_join(const char *a, const char *b);

/* Write the head's samples in [lo, hi) as blocks into dir (not opened). */
int db_head_write_blocks(tsdb *db, const char *dir, int64_t lo, int64_t hi);

/* compact.c */
/* Levels: block_range * 3^k up to max_block_ms. Plan one compaction over
 * the listed blocks: indices into v (sorted by min_time) of the blocks to
 * merge, or 0 when nothing is due. A window is complete when it ends at or
 * before `frontier` (no more blocks can land in it: the head starts there
 * or the newest block ends there). */
size_t compact_plan(const tsdb *db, db_block *const *v, size_t n, int64_t frontier, size_t *pick, size_t cap);
/* Merge blocks into one new block in db->dir and return it opened. */
int compact_blocks(tsdb *db, db_block *const *src, size_t n, block **out);

#endif
