/*
 * config.h - the scrape configuration: flint's reading of the
 * `prometheus.yml` subset it implements (global, scrape_configs with static
 * and file-based targets, relabelling, HTTP client settings, limits).
 *
 * scrape_config_load/parse validate like Prometheus' config.Load and report
 * errors as `file:line: key.path: message` (FLINT_EINVAL, text in
 * flint_errmsg()). Keys Prometheus knows but flint does not implement yet,
 * and keys nobody knows, give one warning each (file, line, key) and are
 * otherwise ignored; Prometheus would reject unknown keys. See
 * docs/configuration.md for every key, default and deviation.
 *
 * A loaded configuration is immutable and owned by one scrape_config;
 * every pointer inside it lives until scrape_config_free. Callers: cmd/
 * (flags, `flint check config`), the scrape manager (jobs, reload).
 */
#ifndef FLINT_SCRAPE_CONFIG_H
#define FLINT_SCRAPE_CONFIG_H

#include "scrape/arena.h"
#include "scrape/relabel.h"
#include "scrape/yamlutil.h"
#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set of targets sharing labels: one entry of static_configs, or one
 * element of a file_sd file. */
typedef struct scrape_target_group {
    char **targets; /* addresses ("host:port"), each becomes __address__ */
    size_t ntargets;
    label *labels; /* sorted by name, unique; strings owned with the group */
    size_t nlabels;
    char *source; /* "path:index" for file_sd, "static:N" for static_configs */
} scrape_target_group;

static inline labels scrape_group_labels(const scrape_target_group *g) {
    labels l = {g->labels, g->nlabels};
    return l;
}

typedef struct scrape_file_sd {
    char **files; /* patterns, relative ones joined to the config's directory */
    size_t nfiles;
    int64_t refresh_interval_ms; /* default 5m */
} scrape_file_sd;

typedef struct scrape_param {
    char *name;
    char **values;
    size_t nvalues;
} scrape_param;

/* Secrets are kept as given; *_file paths are resolved against the config
 * file's directory. NULL = not set. */
typedef struct scrape_basic_auth {
    char *username;
    char *username_file;
    char *password;
    char *password_file;
} scrape_basic_auth;

/* authorization:, or bearer_token / bearer_token_file mapped onto it with
 * type "Bearer" (as Prometheus' HTTPClientConfig.Validate does). */
typedef struct scrape_authorization {
    char *type; /* "Bearer" unless given */
    char *credentials;
    char *credentials_file;
} scrape_authorization;

typedef struct scrape_tls {
    char *ca_file, *cert_file, *key_file; /* resolved paths or NULL */
    char *server_name;
    bool insecure_skip_verify;
} scrape_tls;

typedef struct scrape_job {
    char *job_name;
    int line; /* where the job's mapping starts, for messages */
    int64_t scrape_interval_ms, scrape_timeout_ms;
    char *metrics_path; /* "/metrics" */
    char *scheme;       /* "http" or "https" */
    scrape_param *params;
    size_t nparams;
    bool honor_labels;       /* false */
    bool honor_timestamps;   /* true */
    bool enable_compression; /* true */
    bool follow_redirects;   /* true */
    bool enable_http2;       /* true */
    scrape_target_group *static_groups;
    size_t nstatic_groups;
    scrape_file_sd *file_sd;
    size_t nfile_sd;
    relabel_rule *relabel_configs;
    size_t nrelabel_configs;
    relabel_rule *metric_relabel_configs;
    size_t nmetric_relabel_configs;
    scrape_basic_auth *basic_auth;       /* NULL when absent */
    scrape_authorization *authorization; /* NULL when absent */
    scrape_tls tls;
    /* 0 = no limit; inherited from global when not set per job */
    uint64_t sample_limit, target_limit, label_limit, label_name_length_limit, label_value_length_limit;
    int64_t body_size_limit; /* bytes */
} scrape_job;

typedef struct scrape_global {
    int64_t scrape_interval_ms;     /* 1m */
    int64_t scrape_timeout_ms;      /* 10s, at most scrape_interval */
    int64_t evaluation_interval_ms; /* 1m */
    label *external_labels;         /* sorted; values after ${ENV} expansion */
    size_t nexternal_labels;
    uint64_t sample_limit, target_limit, label_limit, label_name_length_limit, label_value_length_limit;
    int64_t body_size_limit;
} scrape_global;

typedef struct scrape_config {
    char *source; /* the name used in messages (the path as given) */
    char *dir;    /* directory relative paths were resolved against */
    scrape_global global;
    scrape_job *jobs;
    size_t njobs;
    char **rule_files; /* as given, resolved; flint does not evaluate rules yet */
    size_t nrule_files;
    size_t nwarnings; /* warnings issued while loading */
    scrape_arena arena; /* owns everything above */
} scrape_config;

/* Read and parse `path`. 0 and *out (free with scrape_config_free), or
 * FLINT_EIO ("open prometheus.yml: No such file or directory"),
 * FLINT_EINVAL, FLINT_ENOMEM; *out is NULL on failure. Warnings go to
 * warn(arg, line) as they are found, or to flint_log when warn is NULL. */
int scrape_config_load(const char *path, scrape_config **out, scrape_warn_fn *warn, void *arg);
/* The same over a buffer: `name` is used in messages and its directory for
 * relative paths (NULL: "<config>", relative to the working directory). */
int scrape_config_parse(const char *yaml, size_t len, const char *name, scrape_config **out, scrape_warn_fn *warn,
                        void *arg);
void scrape_config_free(scrape_config *c);

/* The configuration flint uses without --config.file: job "flint" scraping
 * localhost:9090 every 15s. */
extern const char scrape_default_config_yaml[];
int scrape_config_default(scrape_config **out);

const scrape_job *scrape_config_job(const scrape_config *c, const char *job_name);
/* Two jobs configured identically (every field above, rules included): the
 * scrape manager keeps the targets of unchanged jobs across a reload. */
bool scrape_job_equal(const scrape_job *a, const scrape_job *b);

/* Go's filepath.Join(dir, path) unless path is empty or absolute (then
 * path), cleaned like filepath.Clean. Result in `a`; NULL on OOM. */
char *scrape_join_dir(scrape_arena *a, const char *dir, const char *path);

#endif
