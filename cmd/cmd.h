/*
 * cmd.h - the subcommands of the flint binary and what they share
 * (database flags, logging flags).
 */
#ifndef FLINT_CMD_H
#define FLINT_CMD_H

#include "cmd/flags.h"
#include "tsdb/db.h"

#define FLINT_VERSION "2.53.0-flint.0.1.0"

int cmd_server(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_tsdb(int argc, char **argv);
int cmd_query(int argc, char **argv);

/* --storage.tsdb.retention.* into options; -1 after printing an error. */
int cmd_db_options(const flag_set *fs, tsdb_options *o);
/* --log.level / --log.format; -1 after printing an error. */
int cmd_logging(const flag_set *fs);

#endif
