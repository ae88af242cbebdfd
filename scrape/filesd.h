/*
 * filesd.h - file-based service discovery (`file_sd_configs`): expand the
 * configured glob patterns, read each JSON (`*.json`) or YAML (`*.yml`,
 * `*.yaml`) file of target groups
 *
 *     [{"targets": ["host:9100", ...], "labels": {"env": "prod"}}, ...]
 *
 * and give every group `__meta_filepath` = the file's path, as Prometheus'
 * discovery/file does.
 *
 * Watching is the caller's: the scrape loop calls filesd_list every
 * refresh_interval (glob + stat only), compares with the previous snapshot
 * (filesd_changed / filesd_file_changed) and re-reads what changed with
 * filesd_refresh or filesd_read_file. A file that fails to read or parse
 * keeps its previous groups in Prometheus; filesd_refresh records the error
 * per file so the caller can do the same.
 */
#ifndef FLINT_SCRAPE_FILESD_H
#define FLINT_SCRAPE_FILESD_H

#include "scrape/arena.h"
#include "scrape/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct filesd_file {
    char *path;       /* as matched by the glob */
    int64_t mtime_ns; /* st_mtim */
    int64_t size;
    uint64_t dev, ino; /* a rename over the file changes these */
    int err;           /* filesd_refresh only: 0 or the read/parse error */
    char *errmsg;      /* when err != 0: "path:line:col: reason" */
    scrape_target_group *groups;
    size_t ngroups;
} filesd_file;

typedef struct filesd_snapshot {
    filesd_file *files; /* sorted by path, no duplicates */
    size_t nfiles;
    scrape_arena arena; /* owns everything in the snapshot */
} filesd_snapshot;

/* Glob every pattern (glob(3), sorted, no match is not an error), stat the
 * matches; groups are left empty. 0 or FLINT_ENOMEM; *out is initialised
 * in every case (free with filesd_snapshot_free). */
int filesd_list(const scrape_file_sd *cfg, filesd_snapshot *out);
/* filesd_list, then read and parse each file. Per-file failures are in
 * files[i].err/errmsg; the return value is 0 or FLINT_ENOMEM. */
int filesd_refresh(const scrape_file_sd *cfg, filesd_snapshot *out);
void filesd_snapshot_free(filesd_snapshot *s);

/* Same path and same mtime, size, device and inode. */
bool filesd_file_changed(const filesd_file *old, const filesd_file *cur);
/* Any file added, removed or changed. */
bool filesd_changed(const filesd_snapshot *old, const filesd_snapshot *cur);

/* Parse one file's content. The format follows the name's extension
 * (.json any case: JSON; .yml/.yaml: YAML; else FLINT_EINVAL "invalid file
 * extension"). Groups, their strings and labels (sorted, with
 * __meta_filepath = name) go into `a`; source is "name:index".
 * 0, FLINT_EINVAL ("name:line:col: reason" for JSON, "name:line: key:
 * reason" for YAML), FLINT_ENOMEM. On failure nothing is returned (arena
 * memory already used stays with the arena). */
int filesd_parse(const char *buf, size_t len, const char *name, scrape_arena *a, scrape_target_group **groups,
                 size_t *ngroups);
/* Read `path` and parse it. FLINT_EIO/FLINT_ENOTFOUND name the file. */
int filesd_read_file(const char *path, scrape_arena *a, scrape_target_group **groups, size_t *ngroups);

/* ---- watching (the server's polling) ----------------------------------------------------- */

/* One file of a watch: filesd_file (path, stat, groups; err/errmsg of the
 * last failed read, errmsg owned) with the arena that owns its groups. */
typedef struct filesd_watch_entry {
    filesd_file f;
    scrape_arena arena;
} filesd_watch_entry;

/* The current groups of one file_sd_configs entry, file by file. */
typedef struct filesd_watch {
    filesd_watch_entry *files; /* sorted by path */
    size_t nfiles;
} filesd_watch;

void filesd_watch_init(filesd_watch *w);
/* Glob and stat again (filesd_list); read the files that are new or whose
 * mtime, size, device or inode changed; forget the files that no longer
 * match. A file that cannot be read or parsed keeps its previous groups
 * (none when it is new), records err/errmsg and is logged, as Prometheus'
 * file discovery does; it is read again when it changes. *changed: some
 * file's groups were replaced, added or removed. 0, or FLINT_ENOMEM (the
 * watch is unchanged). */
int filesd_watch_poll(filesd_watch *w, const scrape_file_sd *cfg, bool *changed);
void filesd_watch_free(filesd_watch *w);

#endif
