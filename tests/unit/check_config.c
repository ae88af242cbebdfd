/*
 * check_config.c - the prometheus.yml reader: realistic files (Debian's
 * sample included), defaults and inheritance, every error path with its
 * exact `file:line: key: message`, warnings for unsupported and unknown
 * keys, relative paths, environment expansion, merge keys, job equality,
 * target label processing (PopulateLabels), `check config`, OOM loops.
 */
#include "scrape/check.h"
#include "scrape/config.h"
#include "scrape/populate.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct warn_list {
    char msg[16][512];
    int n;
} warn_list;

static void collect(void *arg, const char *m) {
    warn_list *w = arg;
    if (w->n < 16) snprintf(w->msg[w->n], sizeof w->msg[0], "%s", m);
    w->n++;
}

static scrape_config *parse_ok(const char *yaml, const char *name, warn_list *w) {
    scrape_config *c = NULL;
    int rc = scrape_config_parse(yaml, strlen(yaml), name, &c, collect, w);
    ck_assert_msg(rc == 0, "unexpected error: %s", flint_errmsg());
    return c;
}

static void expect_error(const char *yaml, const char *msg) {
    scrape_config *c = NULL;
    warn_list w = {0};
    int rc = scrape_config_parse(yaml, strlen(yaml), "prometheus.yml", &c, collect, &w);
    ck_assert_msg(rc == FLINT_EINVAL, "no error for:\n%s\n(want %s)", yaml, msg);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(flint_errmsg(), msg);
}

static const char realistic[] =
    "# a realistic configuration\n"
    "global:\n"
    "  scrape_interval: 30s\n"
    "  evaluation_interval: 1m\n"
    "  external_labels:\n"
    "    region: eu-west\n"
    "    cluster: c1\n"
    "scrape_configs:\n"
    "  - job_name: prometheus\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9090']\n"
    "  - job_name: node\n"
    "    scrape_interval: 15s\n"
    "    scrape_timeout: 5s\n"
    "    metrics_path: /probe\n"
    "    scheme: https\n"
    "    honor_labels: true\n"
    "    honor_timestamps: false\n"
    "    enable_compression: false\n"
    "    params:\n"
    "      module: [http_2xx, extra]\n"
    "      target: ['example.com']\n"
    "    basic_auth:\n"
    "      username: admin\n"
    "      password_file: secrets/pw\n"
    "    tls_config:\n"
    "      ca_file: /etc/ssl/ca.pem\n"
    "      cert_file: certs/client.pem\n"
    "      key_file: certs/client.key\n"
    "      server_name: node.internal\n"
    "      insecure_skip_verify: yes\n"
    "    sample_limit: 10000\n"
    "    label_limit: 64\n"
    "    label_name_length_limit: 128\n"
    "    label_value_length_limit: 1024\n"
    "    body_size_limit: 10MB\n"
    "    static_configs:\n"
    "      - targets: ['a:9100', 'b:9100']\n"
    "        labels:\n"
    "          env: prod\n"
    "          dc: \"x1\"\n"
    "      - targets: ['c:9100']\n"
    "    file_sd_configs:\n"
    "      - files: ['targets/*.json', '/abs/nodes.yml']\n"
    "        refresh_interval: 1m\n"
    "      - files: [more.yaml]\n"
    "    relabel_configs:\n"
    "      - source_labels: [__address__]\n"
    "        regex: '(.*):9100'\n"
    "        target_label: host\n"
    "        replacement: '$1'\n"
    "      - action: labeldrop\n"
    "        regex: tmp_.*\n"
    "    metric_relabel_configs:\n"
    "      - source_labels: [__name__]\n"
    "        regex: go_.*\n"
    "        action: drop\n"
    "  - job_name: bearer\n"
    "    bearer_token_file: token\n"
    "    static_configs: [{targets: ['x:1']}]\n";

START_TEST(test_config_realistic_round_trip) {
    warn_list w = {0};
    scrape_config *c = parse_ok(realistic, "/etc/flint/prometheus.yml", &w);
    ck_assert_int_eq(w.n, 0);
    ck_assert_str_eq(c->dir, "/etc/flint");
    ck_assert_int_eq(c->global.scrape_interval_ms, 30000);
    ck_assert_int_eq(c->global.scrape_timeout_ms, 10000);
    ck_assert_int_eq(c->global.evaluation_interval_ms, 60000);
    ck_assert_uint_eq(c->global.nexternal_labels, 2);
    ck_assert_str_eq(c->global.external_labels[0].name, "cluster"); /* sorted */
    ck_assert_str_eq(c->global.external_labels[1].value, "eu-west");
    ck_assert_uint_eq(c->njobs, 3);

    const scrape_job *p = &c->jobs[0];
    ck_assert_str_eq(p->job_name, "prometheus");
    ck_assert_int_eq(p->scrape_interval_ms, 30000);
    ck_assert_int_eq(p->scrape_timeout_ms, 10000);
    ck_assert_str_eq(p->metrics_path, "/metrics");
    ck_assert_str_eq(p->scheme, "http");
    ck_assert(!p->honor_labels && p->honor_timestamps && p->enable_compression);
    ck_assert_uint_eq(p->nstatic_groups, 1);
    ck_assert_str_eq(p->static_groups[0].targets[0], "localhost:9090");
    ck_assert_ptr_null(p->basic_auth);
    ck_assert_ptr_null(p->authorization);

    const scrape_job *n = scrape_config_job(c, "node");
    ck_assert_ptr_eq(n, &c->jobs[1]);
    ck_assert_int_eq(n->scrape_interval_ms, 15000);
    ck_assert_int_eq(n->scrape_timeout_ms, 5000);
    ck_assert_str_eq(n->metrics_path, "/probe");
    ck_assert_str_eq(n->scheme, "https");
    ck_assert(n->honor_labels && !n->honor_timestamps && !n->enable_compression);
    ck_assert_uint_eq(n->nparams, 2);
    ck_assert_str_eq(n->params[0].name, "module");
    ck_assert_uint_eq(n->params[0].nvalues, 2);
    ck_assert_str_eq(n->params[0].values[1], "extra");
    ck_assert_str_eq(n->basic_auth->username, "admin");
    ck_assert_ptr_null(n->basic_auth->password);
    ck_assert_str_eq(n->basic_auth->password_file, "/etc/flint/secrets/pw");
    ck_assert_str_eq(n->tls.ca_file, "/etc/ssl/ca.pem");
    ck_assert_str_eq(n->tls.cert_file, "/etc/flint/certs/client.pem");
    ck_assert_str_eq(n->tls.key_file, "/etc/flint/certs/client.key");
    ck_assert_str_eq(n->tls.server_name, "node.internal");
    ck_assert(n->tls.insecure_skip_verify);
    ck_assert_uint_eq(n->sample_limit, 10000);
    ck_assert_uint_eq(n->label_limit, 64);
    ck_assert_uint_eq(n->label_name_length_limit, 128);
    ck_assert_uint_eq(n->label_value_length_limit, 1024);
    ck_assert_int_eq(n->body_size_limit, 10 << 20);
    ck_assert_uint_eq(n->nstatic_groups, 2);
    ck_assert_uint_eq(n->static_groups[0].ntargets, 2);
    ck_assert_uint_eq(n->static_groups[0].nlabels, 2);
    ck_assert_str_eq(n->static_groups[0].labels[0].name, "dc");
    ck_assert_str_eq(n->static_groups[0].labels[1].value, "prod");
    ck_assert_str_eq(n->static_groups[1].source, "1");
    ck_assert_uint_eq(n->nfile_sd, 2);
    ck_assert_str_eq(n->file_sd[0].files[0], "/etc/flint/targets/*.json");
    ck_assert_str_eq(n->file_sd[0].files[1], "/abs/nodes.yml");
    ck_assert_int_eq(n->file_sd[0].refresh_interval_ms, 60000);
    ck_assert_int_eq(n->file_sd[1].refresh_interval_ms, 300000);
    ck_assert_str_eq(n->file_sd[1].files[0], "/etc/flint/more.yaml");
    ck_assert_uint_eq(n->nrelabel_configs, 2);
    ck_assert_int_eq(n->relabel_configs[0].action, RELABEL_REPLACE);
    ck_assert_str_eq(n->relabel_configs[0].target_label, "host");
    ck_assert_int_eq(n->relabel_configs[1].action, RELABEL_LABELDROP);
    ck_assert_uint_eq(n->nmetric_relabel_configs, 1);
    ck_assert_int_eq(n->metric_relabel_configs[0].action, RELABEL_DROP);

    const scrape_job *b = &c->jobs[2];
    ck_assert_ptr_nonnull(b->authorization);
    ck_assert_str_eq(b->authorization->type, "Bearer");
    ck_assert_ptr_null(b->authorization->credentials);
    ck_assert_str_eq(b->authorization->credentials_file, "/etc/flint/token");
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_debian_sample) {
    const char *path = "/etc/prometheus/prometheus.yml";
    if (access(path, R_OK) != 0) return; /* prometheus package not installed */
    warn_list w = {0};
    scrape_config *c;
    ck_assert_msg(scrape_config_load(path, &c, collect, &w) == 0, "%s", flint_errmsg());
    ck_assert_int_eq(c->global.scrape_interval_ms, 15000);
    ck_assert_int_eq(c->global.evaluation_interval_ms, 15000);
    ck_assert_uint_eq(c->global.nexternal_labels, 1);
    ck_assert_str_eq(c->global.external_labels[0].value, "example");
    ck_assert_uint_eq(c->njobs, 2);
    ck_assert_str_eq(c->jobs[0].job_name, "prometheus");
    ck_assert_int_eq(c->jobs[0].scrape_interval_ms, 5000);
    ck_assert_int_eq(c->jobs[0].scrape_timeout_ms, 5000);
    ck_assert_str_eq(c->jobs[1].job_name, "node");
    ck_assert_int_eq(c->jobs[1].scrape_interval_ms, 15000);
    ck_assert_int_eq(c->jobs[1].scrape_timeout_ms, 10000);
    ck_assert_str_eq(c->jobs[1].static_groups[0].targets[0], "localhost:9100");
    /* alerting is not supported yet: one warning naming it */
    ck_assert_int_eq(w.n, 1);
    ck_assert_msg(strstr(w.msg[0], "prometheus.yml:14: alerting: not supported by flint yet") != NULL, "%s", w.msg[0]);
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_defaults_and_inheritance) {
    warn_list w = {0};
    scrape_config *c = parse_ok("", "prometheus.yml", &w);
    ck_assert_int_eq(c->global.scrape_interval_ms, 60000);
    ck_assert_int_eq(c->global.scrape_timeout_ms, 10000);
    ck_assert_int_eq(c->global.evaluation_interval_ms, 60000);
    ck_assert_uint_eq(c->njobs, 0);
    scrape_config_free(c);

    c = parse_ok("global:\nscrape_configs:\n", "prometheus.yml", &w);
    ck_assert_int_eq(c->global.scrape_interval_ms, 60000);
    ck_assert_uint_eq(c->njobs, 0);
    scrape_config_free(c);

    /* global timeout defaults to min(10s, interval); job timeout to
     * min(global timeout, job interval); limits are inherited */
    c = parse_ok("global:\n  scrape_interval: 5s\n  sample_limit: 100\n  body_size_limit: 1KB\n"
                 "scrape_configs:\n"
                 "  - job_name: a\n"
                 "  - job_name: b\n    scrape_interval: 2s\n    sample_limit: 7\n"
                 "  - job_name: c\n    scrape_interval: 1m\n"
                 "  - job_name: d\n    scrape_interval: 0\n    scrape_timeout: 3s\n",
                 "prometheus.yml", &w);
    ck_assert_int_eq(c->global.scrape_timeout_ms, 5000);
    ck_assert_int_eq(c->jobs[0].scrape_interval_ms, 5000);
    ck_assert_int_eq(c->jobs[0].scrape_timeout_ms, 5000);
    ck_assert_uint_eq(c->jobs[0].sample_limit, 100);
    ck_assert_int_eq(c->jobs[0].body_size_limit, 1024);
    ck_assert_int_eq(c->jobs[1].scrape_interval_ms, 2000);
    ck_assert_int_eq(c->jobs[1].scrape_timeout_ms, 2000);
    ck_assert_uint_eq(c->jobs[1].sample_limit, 7);
    ck_assert_int_eq(c->jobs[2].scrape_timeout_ms, 5000);
    ck_assert_int_eq(c->jobs[3].scrape_interval_ms, 5000);
    ck_assert_int_eq(c->jobs[3].scrape_timeout_ms, 3000);
    ck_assert(c->jobs[0].follow_redirects && c->jobs[0].enable_http2);
    ck_assert_int_eq(w.n, 0);
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_default_config) {
    scrape_config *c;
    ck_assert_int_eq(scrape_config_default(&c), 0);
    ck_assert_uint_eq(c->njobs, 1);
    ck_assert_str_eq(c->jobs[0].job_name, "flint");
    ck_assert_int_eq(c->jobs[0].scrape_interval_ms, 15000);
    ck_assert_int_eq(c->jobs[0].scrape_timeout_ms, 10000);
    ck_assert_str_eq(c->jobs[0].static_groups[0].targets[0], "localhost:9090");
    ck_assert_uint_eq(c->nwarnings, 0);
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_errors_name_file_line_key) {
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"scrape_configs:\n  - job_name: a\n    scrape_interval: 1x\n",
         "prometheus.yml:3: scrape_configs[0].scrape_interval: not a valid duration string: \"1x\""},
        {"global:\n  scrape_timeout: 1.5s\n", "prometheus.yml:2: global.scrape_timeout: not a valid duration string: \"1.5s\""},
        {"global:\n  evaluation_interval: ''\n", "prometheus.yml:2: global.evaluation_interval: empty duration string"},
        {"global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
         "prometheus.yml:2: global: global scrape timeout greater than scrape interval"},
        {"scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
         "prometheus.yml:4: scrape_configs[0]: scrape timeout greater than scrape interval for scrape config with job "
         "name \"a\""},
        {"global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: a\n    scrape_timeout: 6s\n",
         "prometheus.yml:5: scrape_configs[0]: scrape timeout greater than scrape interval for scrape config with job "
         "name \"a\""},
        {"scrape_configs:\n  - job_name: ''\n", "prometheus.yml:2: scrape_configs[0]: job_name is empty"},
        {"scrape_configs:\n  - scrape_interval: 1m\n", "prometheus.yml:2: scrape_configs[0]: job_name is empty"},
        {"scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
         "prometheus.yml:4: scrape_configs[2].job_name: found multiple scrape configs with job name \"a\" (first at "
         "line 2)"},
        {"scrape_configs:\n  - ~\n", "prometheus.yml:2: scrape_configs[0]: empty or null scrape config section"},
        {"scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
         "prometheus.yml:3: scrape_configs[0].scheme: unsupported scheme \"ftp\" (want http or https)"},
        {"scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n",
         "prometheus.yml:3: scrape_configs[0].honor_labels: not a boolean: \"maybe\""},
        {"scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
         "prometheus.yml:3: scrape_configs[0].sample_limit: not an unsigned integer: \"-1\""},
        {"scrape_configs:\n  - job_name: a\n    label_limit: [1]\n",
         "prometheus.yml:3: scrape_configs[0].label_limit: expected an unsigned integer, got a sequence"},
        {"scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB\n",
         "prometheus.yml:3: scrape_configs[0].body_size_limit: invalid size \"10XB\" (want e.g. 512MB, 10GB)"},
        {"scrape_configs:\n  job_name: a\n", "prometheus.yml:2: scrape_configs: expected a sequence, got a mapping"},
        {"global: [1]\n", "prometheus.yml:1: global: expected a mapping, got a sequence"},
        {"scrape_configs:\n  - job_name: a\n    job_name: b\n",
         "prometheus.yml:3: scrape_configs[0]: key \"job_name\" already set in this mapping (line 2)"},
        {"global:\n  scrape_interval: 1m\n   bad: indent\n",
         "prometheus.yml:3: yaml: mapping values are not allowed in this context"},
        {"scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['http://a:80/metrics']\n",
         "prometheus.yml:2: scrape_configs[0]: \"http://a:80/metrics\" is not a valid hostname"},
        {"scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [a]\n        labels: {1a: x}\n",
         "prometheus.yml:5: scrape_configs[0].static_configs[0].labels.1a: \"1a\" is not a valid label name"},
        {"global:\n  external_labels:\n    a-b: x\n",
         "prometheus.yml:3: global.external_labels.a-b: \"a-b\" is not a valid label name"},
        {"scrape_configs:\n  - job_name: a\n    params:\n      module: x\n",
         "prometheus.yml:4: scrape_configs[0].params.module: expected a sequence, got a scalar"},
        /* relabelling */
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [x]\n        target_label: y\n"
         "        action: hashmod\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod requires non-zero "
         "modulus"},
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: frobnicate\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0].action: unknown relabel action \"frobnicate\""},
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: ~\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: relabel action cannot be empty"},
        {"scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - source_labels: [a]\n",
         "prometheus.yml:4: scrape_configs[0].metric_relabel_configs[0]: relabel configuration for replace action "
         "requires 'target_label' value"},
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      -\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: empty or null target relabeling rule in scrape "
         "config"},
        {"scrape_configs:\n  - job_name: a\n    metric_relabel_configs: [~]\n",
         "prometheus.yml:3: scrape_configs[0].metric_relabel_configs[0]: empty or null metric relabeling rule in "
         "scrape config"},
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a-b]\n        target_label: c\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: \"a-b\" is not a valid label name"},
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - target_label: c\n        action: keepequal\n"
         "        source_labels: [a]\n        separator: ','\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: keepequal action requires only 'source_labels' and "
         "`target_label`, and no other fields"},
        {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: labelkeep\n        source_labels: []\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: labelkeep action requires only 'regex', and no other "
         "fields"},
        /* HTTP client settings, in Prometheus' order */
        {"scrape_configs:\n  - job_name: a\n    bearer_token: t\n    bearer_token_file: f\n",
         "prometheus.yml:2: scrape_configs[0]: at most one of bearer_token & bearer_token_file must be configured"},
        {"scrape_configs:\n  - job_name: a\n    bearer_token: t\n    basic_auth: {username: u}\n",
         "prometheus.yml:2: scrape_configs[0]: at most one of basic_auth, oauth2, bearer_token & bearer_token_file "
         "must be configured"},
        {"scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p, password_file: f}\n",
         "prometheus.yml:2: scrape_configs[0]: at most one of basic_auth password, password_file & password_ref must "
         "be configured"},
        {"scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, username_file: f}\n",
         "prometheus.yml:2: scrape_configs[0]: at most one of basic_auth username, username_file & username_ref must "
         "be configured"},
        {"scrape_configs:\n  - job_name: a\n    authorization: {credentials: c}\n    bearer_token_file: f\n",
         "prometheus.yml:2: scrape_configs[0]: authorization is not compatible with bearer_token & "
         "bearer_token_file"},
        {"scrape_configs:\n  - job_name: a\n    authorization: {credentials: c, credentials_file: f}\n",
         "prometheus.yml:2: scrape_configs[0]: at most one of authorization credentials & credentials_file must be "
         "configured"},
        {"scrape_configs:\n  - job_name: a\n    authorization: {type: ' Basic ', credentials: c}\n",
         "prometheus.yml:2: scrape_configs[0]: authorization type cannot be set to \"basic\", use \"basic_auth\" "
         "instead"},
        {"scrape_configs:\n  - job_name: a\n    authorization: {credentials: c}\n    basic_auth: {username: u}\n",
         "prometheus.yml:2: scrape_configs[0]: at most one of basic_auth, oauth2 & authorization must be configured"},
        {"scrape_configs:\n  - job_name: a\n    tls_config:\n      cert_file: c.pem\n",
         "prometheus.yml:4: scrape_configs[0].tls_config: exactly one of key or key_file must be configured when a "
         "client certificate is configured"},
        {"scrape_configs:\n  - job_name: a\n    tls_config: {key_file: k.pem}\n",
         "prometheus.yml:3: scrape_configs[0].tls_config: exactly one of cert or cert_file must be configured when a "
         "client key is configured"},
        /* file_sd */
        {"scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - refresh_interval: 1m\n",
         "prometheus.yml:4: scrape_configs[0].file_sd_configs[0]: file service discovery config must contain at least "
         "one path name"},
        {"scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.txt]\n",
         "prometheus.yml:4: scrape_configs[0].file_sd_configs[0].files: path name \"targets.txt\" is not valid for "
         "file discovery"},
        {"scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['a/*/b.json']\n",
         "prometheus.yml:4: scrape_configs[0].file_sd_configs[0].files: path name \"a/*/b.json\" is not valid for "
         "file discovery"},
        {"scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [a.json]\n        refresh_interval: x\n",
         "prometheus.yml:5: scrape_configs[0].file_sd_configs[0].refresh_interval: not a valid duration string: "
         "\"x\""},
        /* top level */
        {"rule_files: ['a*/b.yml']\n", "prometheus.yml:1: rule_files: invalid rule file path \"a*/b.yml\""},
        {"- a\n- b\n", "prometheus.yml:1: expected a mapping, got a sequence"},
        /* !!binary is decoded as yaml.v2 does (Prometheus' labelname/labelvalue/labelmap.bad.yml) */
        {"global:\n  external_labels:\n    !!binary \"/w==\": value\n",
         "prometheus.yml:3: global.external_labels.\xff: \"\\xff\" is not a valid label name"},
        {"global:\n  external_labels:\n    name: !!binary \"/w==\"\n",
         "prometheus.yml:3: global.external_labels.name: \"\\xff\" is not a valid label value"},
        {"scrape_configs:\n  - job_name: p\n    relabel_configs:\n      - action: labelmap\n"
         "        replacement: !!binary \"/w==$1\"\n",
         "prometheus.yml:5: !!binary value contains invalid base64 data"},
        {"scrape_configs:\n  - job_name: p\n    static_configs:\n      -\n",
         "prometheus.yml:4: scrape_configs[0].static_configs[0]: empty or null section in static_configs"},
        {"scrape_configs:\n  - job_name: p\n    file_sd_configs: [~]\n",
         "prometheus.yml:3: scrape_configs[0].file_sd_configs[0]: empty or null section in file_sd_configs"},
        {"scrape_configs:\n  - job_name: p\n    relabel_configs:\n      - regex: abc(def\n",
         "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: error parsing regexp \"abc(def\": missing closing "
         "parenthesis at offset 7"},
        {"global:\n  <<: 1\n", "prometheus.yml:2: global: map merge requires map or sequence of maps as the value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect_error(cases[i].yaml, cases[i].msg);
}
END_TEST

START_TEST(test_config_warns_unsupported_and_unknown_keys) {
    warn_list w = {0};
    scrape_config *c = parse_ok("global:\n"
                                "  scrape_interval: 1m\n"
                                "  query_log_file: q.log\n"
                                "  colour: blue\n"
                                "alerting:\n"
                                "  alertmanagers: []\n"
                                "remote_write:\n"
                                "  - url: http://x/api/v1/write\n"
                                "rule_files: [rules/*.yml]\n"
                                "scrape_configs:\n"
                                "  - job_name: k\n"
                                "    kubernetes_sd_configs: [{role: pod}]\n"
                                "    consult_sd_configs: [{server: x}]\n"
                                "    oauth2: {client_id: x}\n"
                                "    scrape_intervall: 1m\n"
                                "    tls_config: {min_version: TLS12}\n"
                                "    static_configs:\n"
                                "      - targets: [a:1]\n"
                                "        labelz: {}\n"
                                "    relabel_configs:\n"
                                "      - target_label: a\n"
                                "        replacement: b\n"
                                "        regexp: x\n"
                                "storage: ~\n"
                                "tracing: {endpoint: x}\n"
                                "frobnicate: 1\n",
                                "prometheus.yml", &w);
    static const char *const want[] = {
        "prometheus.yml:3: global.query_log_file: not supported by flint yet, ignored",
        "prometheus.yml:4: global.colour: unknown key, ignored (Prometheus would reject it)",
        "prometheus.yml:5: alerting: not supported by flint yet, ignored",
        "prometheus.yml:7: remote_write: not supported by flint yet, ignored",
        "prometheus.yml:9: rule_files: not supported by flint yet: rules are not evaluated",
        "prometheus.yml:25: tracing: not supported by flint yet, ignored",
        "prometheus.yml:26: frobnicate: unknown key, ignored (Prometheus would reject it)",
        "prometheus.yml:12: scrape_configs[0].kubernetes_sd_configs: not supported by flint yet, ignored",
        "prometheus.yml:13: scrape_configs[0].consult_sd_configs: unknown key, ignored (Prometheus would reject it)",
        "prometheus.yml:14: scrape_configs[0].oauth2: not supported by flint yet, ignored",
        "prometheus.yml:15: scrape_configs[0].scrape_intervall: unknown key, ignored (Prometheus would reject it)",
        "prometheus.yml:16: scrape_configs[0].tls_config.min_version: not supported by flint yet, ignored",
        "prometheus.yml:19: scrape_configs[0].static_configs[0].labelz: unknown key, ignored (Prometheus would reject "
        "it)",
        "prometheus.yml:23: scrape_configs[0].relabel_configs[0].regexp: unknown key, ignored (Prometheus would "
        "reject it)",
    };
    size_t nwant = sizeof want / sizeof want[0];
    ck_assert_int_eq(w.n, (int)nwant);
    for (size_t i = 0; i < nwant; i++) ck_assert_str_eq(w.msg[i], want[i]);
    ck_assert_uint_eq(c->nwarnings, nwant);
    ck_assert_uint_eq(c->nrule_files, 1);
    ck_assert_str_eq(c->rule_files[0], "rules/*.yml");
    ck_assert_uint_eq(c->njobs, 1);
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_relative_paths) {
    warn_list w = {0};
    const char *y = "scrape_configs:\n"
                    "  - job_name: a\n"
                    "    authorization: {credentials_file: ./tok}\n"
                    "    tls_config: {ca_file: ../ca.pem, cert_file: 'c//d/../e.pem', key_file: /k.pem}\n"
                    "    file_sd_configs: [{files: ['sd/*.yml']}]\n";
    scrape_config *c = parse_ok(y, "conf/prometheus.yml", &w);
    const scrape_job *j = &c->jobs[0];
    ck_assert_str_eq(j->authorization->credentials_file, "conf/tok");
    ck_assert_str_eq(j->tls.ca_file, "ca.pem");
    ck_assert_str_eq(j->tls.cert_file, "conf/c/e.pem");
    ck_assert_str_eq(j->tls.key_file, "/k.pem");
    ck_assert_str_eq(j->file_sd[0].files[0], "conf/sd/*.yml");
    scrape_config_free(c);
    c = parse_ok(y, "prometheus.yml", &w);
    ck_assert_str_eq(c->jobs[0].authorization->credentials_file, "tok");
    ck_assert_str_eq(c->jobs[0].tls.ca_file, "../ca.pem");
    scrape_config_free(c);

    scrape_arena a;
    scrape_arena_init(&a);
    ck_assert_str_eq(scrape_join_dir(&a, "/", "x"), "/x");
    ck_assert_str_eq(scrape_join_dir(&a, "/a/b", "../../../x"), "/x");
    ck_assert_str_eq(scrape_join_dir(&a, "a", "../../x/./y/"), "../x/y");
    ck_assert_str_eq(scrape_join_dir(&a, ".", ""), "");
    ck_assert_str_eq(scrape_join_dir(&a, "a", "."), "a");
    ck_assert_str_eq(scrape_join_dir(&a, "a", ".."), ".");
    scrape_arena_free(&a);
}
END_TEST

START_TEST(test_config_external_labels_env) {
    setenv("FLINT_TEST_DC", "eu1", 1);
    unsetenv("FLINT_TEST_UNSET");
    warn_list w = {0};
    scrape_config *c = parse_ok("global:\n  external_labels:\n"
                                "    a: ${FLINT_TEST_DC}-x\n"
                                "    b: $FLINT_TEST_DC/$$literal\n"
                                "    c: pre${FLINT_TEST_UNSET}post\n"
                                "    d: 'cost: 5$'\n"
                                "    e: '${}x${'\n",
                                "prometheus.yml", &w);
    const scrape_global *g = &c->global;
    ck_assert_str_eq(g->external_labels[0].value, "eu1-x");
    ck_assert_str_eq(g->external_labels[1].value, "eu1/$literal");
    ck_assert_str_eq(g->external_labels[2].value, "prepost");
    ck_assert_str_eq(g->external_labels[3].value, "cost: 5$");
    ck_assert_str_eq(g->external_labels[4].value, "x");
    ck_assert_int_eq(w.n, 1);
    ck_assert_str_eq(w.msg[0], "prometheus.yml:3: global.external_labels.c: empty environment variable \"FLINT_TEST_UNSET\"");
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_merge_keys_and_anchors) {
    warn_list w = {0};
    scrape_config *c = parse_ok("scrape_configs:\n"
                                "  - &base\n"
                                "    job_name: a\n"
                                "    scrape_interval: 30s\n"
                                "    metrics_path: /m\n"
                                "    static_configs: &targets [{targets: ['x:1']}]\n"
                                "  - <<: *base\n"
                                "    job_name: b\n"
                                "  - <<: [*base]\n"
                                "    job_name: c\n"
                                "    metrics_path: /other\n"
                                "    static_configs: *targets\n",
                                "prometheus.yml", &w);
    ck_assert_uint_eq(c->njobs, 3);
    ck_assert_str_eq(c->jobs[1].job_name, "b");
    ck_assert_int_eq(c->jobs[1].scrape_interval_ms, 30000);
    ck_assert_str_eq(c->jobs[1].metrics_path, "/m");
    ck_assert_str_eq(c->jobs[2].metrics_path, "/other");
    ck_assert_str_eq(c->jobs[2].static_groups[0].targets[0], "x:1");
    ck_assert_int_eq(w.n, 0);
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_yaml_scalars) {
    warn_list w = {0};
    scrape_config *c = parse_ok("scrape_configs:\n"
                                "  - job_name: 123\n"
                                "    honor_labels: On\n"
                                "    enable_compression: NO\n"
                                "    sample_limit: 1_000\n"
                                "    metrics_path: ~\n"
                                "    static_configs:\n"
                                "      - targets: ['a:1', ~]\n"
                                "        labels: {x: 5, y: ~, z: true}\n",
                                "prometheus.yml", &w);
    const scrape_job *j = &c->jobs[0];
    ck_assert_str_eq(j->job_name, "123");
    ck_assert(j->honor_labels && !j->enable_compression);
    ck_assert_uint_eq(j->sample_limit, 1000);
    ck_assert_str_eq(j->metrics_path, "/metrics");
    ck_assert_str_eq(j->static_groups[0].targets[1], "");
    ck_assert_str_eq(j->static_groups[0].labels[0].value, "5");
    ck_assert_str_eq(j->static_groups[0].labels[1].value, "");
    ck_assert_str_eq(j->static_groups[0].labels[2].value, "true");
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_relabel_null_fields) {
    /* yaml.v2 turns nulls into "" for relabel strings; regex: ~ is "" */
    warn_list w = {0};
    scrape_config *c = parse_ok("scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
                                "      - {source_labels: [a, b], separator: ~, target_label: t, regex: ~, replacement: x}\n"
                                "      - {source_labels: [a], target_label: u, action: Replace}\n",
                                "prometheus.yml", &w);
    const relabel_rule *r = &c->jobs[0].relabel_configs[0];
    ck_assert_str_eq(r->separator, "");
    ck_assert_str_eq(r->regex, "");
    ck_assert(r->regex_given);
    r = &c->jobs[0].relabel_configs[1];
    ck_assert_str_eq(r->separator, ";");
    ck_assert_str_eq(r->regex, "(.*)");
    ck_assert(!r->regex_given);
    ck_assert_str_eq(r->replacement, "$1");
    scrape_config_free(c);
}
END_TEST

START_TEST(test_config_job_equal) {
    warn_list w = {0};
    scrape_config *a = parse_ok(realistic, "/etc/flint/prometheus.yml", &w);
    scrape_config *b = parse_ok(realistic, "/etc/flint/prometheus.yml", &w);
    for (size_t i = 0; i < a->njobs; i++) ck_assert(scrape_job_equal(&a->jobs[i], &b->jobs[i]));
    ck_assert(!scrape_job_equal(&a->jobs[0], &a->jobs[1]));
    scrape_config_free(b);
    /* one changed detail per variant: each must compare unequal */
    static const char *const edits[][2] = {
        {"regex: '(.*):9100'", "regex: '(.*):9101'"},
        {"env: prod", "env: prd"},
        {"label_limit: 64", "label_limit: 65"},
        {"server_name: node.internal", "server_name: node.internal2"},
        {"module: [http_2xx, extra]", "module: [http_2xx]"},
        {"refresh_interval: 1m", "refresh_interval: 2m"},
        {"username: admin", "username: root"},
        {"action: drop", "action: keep"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char buf[sizeof realistic + 64];
        const char *at = strstr(realistic, edits[e][0]);
        ck_assert_ptr_nonnull(at);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - realistic), realistic, edits[e][1], at + strlen(edits[e][0]));
        b = parse_ok(buf, "/etc/flint/prometheus.yml", &w);
        ck_assert_msg(!scrape_job_equal(&a->jobs[1], &b->jobs[1]), "edit %zu", e);
        ck_assert(scrape_job_equal(&a->jobs[0], &b->jobs[0]));
        scrape_config_free(b);
    }
    scrape_config_free(a);
}
END_TEST

START_TEST(test_config_load_errors) {
    scrape_config *c = (scrape_config *)1;
    ck_assert_int_eq(scrape_config_load("/nonexistent/flint.yml", &c, NULL, NULL), FLINT_ENOTFOUND);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(flint_errmsg(), "open /nonexistent/flint.yml: No such file or directory");
    ck_assert_int_eq(scrape_config_load("/", &c, NULL, NULL), FLINT_EIO);
    ck_assert_str_eq(flint_errmsg(), "read /: is a directory");

    const char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/prom.yml", dir);
    FILE *f = fopen(path, "w");
    fputs("scrape_configs:\n  - job_name: x\n    scrape_timeout: 2x\n", f);
    fclose(f);
    ck_assert_int_eq(scrape_config_load(path, &c, NULL, NULL), FLINT_EINVAL);
    char want[600];
    snprintf(want, sizeof want, "%s:3: scrape_configs[0].scrape_timeout: not a valid duration string: \"2x\"", path);
    ck_assert_str_eq(flint_errmsg(), want);
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_config_alias_bomb_is_bounded) {
    /* nine levels of ten aliases: 10^9 entries if expanded naively */
    char y[4096];
    size_t w = (size_t)snprintf(y, sizeof y, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        w += (size_t)snprintf(y + w, sizeof y - w, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
                              i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    snprintf(y + w, sizeof y - w, "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: *a8\n");
    scrape_config *c;
    warn_list wl = {0};
    /* a8 has 10 items of sequences: "targets" wants strings */
    ck_assert_int_eq(scrape_config_parse(y, strlen(y), "bomb.yml", &c, collect, &wl), FLINT_EINVAL);
    /* merge-key recursion through a self-referencing anchor stops too */
    const char *self = "global: &g\n  <<: *g\n";
    int rc = scrape_config_parse(self, strlen(self), "self.yml", &c, collect, &wl);
    if (rc == 0) scrape_config_free(c);
}
END_TEST

static const char oom_yaml[] =
    "global:\n  scrape_interval: 10s\n  external_labels: {a: '${HOME}', b: c}\n"
    "alerting: {alertmanagers: []}\n"
    "scrape_configs:\n"
    "  - job_name: j\n"
    "    params: {m: [a, b]}\n"
    "    basic_auth: {username: u, password_file: p}\n"
    "    tls_config: {ca_file: ca, cert_file: c, key_file: k}\n"
    "    static_configs: [{targets: ['a:1', 'b:2'], labels: {x: y}}]\n"
    "    file_sd_configs: [{files: ['f/*.json']}]\n"
    "    relabel_configs:\n"
    "      - {source_labels: [__address__], regex: '(.*):1', target_label: h}\n"
    "      - {action: hashmod, source_labels: [a], modulus: 4, target_label: s}\n"
    "    metric_relabel_configs: [{action: labeldrop, regex: 'x.*'}]\n"
    "  - job_name: k\n"
    "    bearer_token: t\n";

START_TEST(test_config_oom) {
    bool done = false;
    for (long n = 0; n < 2000 && !done; n++) {
        scrape_config *c = NULL;
        warn_list w = {0};
        fl_fault_fail_after(n);
        int rc = scrape_config_parse(oom_yaml, strlen(oom_yaml), "/etc/p.yml", &c, collect, &w);
        fl_fault_reset();
        if (rc == 0) {
            ck_assert_uint_eq(c->njobs, 2);
            ck_assert_uint_eq(c->jobs[0].nrelabel_configs, 2);
            done = true;
            scrape_config_free(c);
        } else {
            ck_assert_msg(rc == FLINT_ENOMEM, "n=%ld rc=%d %s", n, rc, flint_errmsg());
            ck_assert_ptr_null(c);
        }
    }
    ck_assert(done);
}
END_TEST

/* ---- PopulateLabels ------------------------------------------------------------------ */

typedef struct pop_result {
    int rc;
    char disc[1024], fin[1024], url[512], err[256];
    int64_t interval, timeout;
} pop_result;

static void fmt_lb(labels_builder *lb, char *out, size_t cap) {
    size_t w = 0;
    out[0] = 0;
    for (size_t i = 0; i < lb->n; i++)
        w += (size_t)snprintf(out + w, cap - w, "%s%s=%s", i ? "," : "", lb->v[i].name, lb->v[i].value);
}

static pop_result populate(const char *job_yaml, const char *address, const char *group_labels_csv) {
    char y[2048];
    snprintf(y, sizeof y, "scrape_configs:\n  - job_name: j\n%s", job_yaml);
    warn_list w = {0};
    scrape_config *c = parse_ok(y, "prometheus.yml", &w);
    label gl[8];
    size_t ngl = 0;
    char store[256];
    snprintf(store, sizeof store, "%s", group_labels_csv);
    for (char *tok = strtok(store, ","); tok && ngl < 8; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        gl[ngl++] = (label){tok, eq + 1};
    }
    label tl[1] = {{"__address__", address}};
    labels tls = {tl, 1}, gls = {gl, ngl};
    relabel_scratch s;
    relabel_scratch_init(&s);
    labels_builder d, f;
    lb_init(&d);
    lb_init(&f);
    scrape_target_info info;
    pop_result r = {0};
    r.rc = scrape_target_labels(&c->jobs[0], &tls, &gls, &s, &d, &f, &info);
    fmt_lb(&d, r.disc, sizeof r.disc);
    if (r.rc == 1) {
        fmt_lb(&f, r.fin, sizeof r.fin);
        snprintf(r.url, sizeof r.url, "%s", info.url);
        r.interval = info.interval_ms;
        r.timeout = info.timeout_ms;
    } else if (r.rc < 0) {
        snprintf(r.err, sizeof r.err, "%s", flint_errmsg());
    }
    lb_free(&d);
    lb_free(&f);
    relabel_scratch_free(&s);
    scrape_config_free(c);
    return r;
}

START_TEST(test_config_populate_labels) {
    pop_result r = populate("", "localhost:9090", "");
    ck_assert_int_eq(r.rc, 1);
    ck_assert_str_eq(r.disc, "__address__=localhost:9090,__metrics_path__=/metrics,__scheme__=http,"
                             "__scrape_interval__=1m,__scrape_timeout__=10s,job=j");
    ck_assert_str_eq(r.fin, "instance=localhost:9090,job=j");
    ck_assert_str_eq(r.url, "http://localhost:9090/metrics");
    ck_assert_int_eq(r.interval, 60000);
    ck_assert_int_eq(r.timeout, 10000);

    /* Prometheus 3: no default port is added */
    r = populate("    scheme: https\n", "example.com", "env=prod");
    ck_assert_str_eq(r.fin, "env=prod,instance=example.com,job=j");
    ck_assert_str_eq(r.url, "https://example.com/metrics");

    /* group labels do not override the target's own, job is not
     * overridden when the group sets it */
    r = populate("", "a:1", "__address__=b:2,job=custom,__meta_x=y");
    ck_assert_str_eq(r.fin, "instance=a:1,job=custom");
    ck_assert(strstr(r.disc, "__meta_x=y") != NULL);

    /* params: first value as __param_*, relabelled params override the
     * first value, keys sorted, query escaped */
    ck_assert_msg(r.rc == 1, "%s", r.err);
    r = populate("    metrics_path: /probe\n    params:\n      module: [http_2xx, x y]\n      a: ['&=']\n"
                 "    relabel_configs:\n"
                 "      - {source_labels: [__address__], target_label: __param_target}\n"
                 "      - {target_label: __address__, replacement: 'blackbox:9115'}\n"
                 "      - {source_labels: [__param_target], target_label: instance}\n",
                 "https://example.com/a b", "");
    ck_assert_int_eq(r.rc, 1);
    ck_assert_str_eq(r.fin, "instance=https://example.com/a b,job=j");
    ck_assert_str_eq(r.url, "http://blackbox:9115/probe?a=%26%3D&module=http_2xx&module=x+y&target=https%3A%2F%2Fexample.com%2Fa+b");
    ck_assert(strstr(r.disc, "__param_module=http_2xx") != NULL);

    /* relabelled interval and timeout, meta labels mapped then dropped */
    r = populate("    relabel_configs:\n"
                 "      - {source_labels: [__meta_interval], target_label: __scrape_interval__}\n"
                 "      - {source_labels: [__meta_interval], target_label: __scrape_timeout__}\n"
                 "      - {action: labelmap, regex: '__meta_(.+)', replacement: 'm_$1'}\n",
                 "h:1", "__meta_interval=5s");
    ck_assert_int_eq(r.rc, 1);
    ck_assert_int_eq(r.interval, 5000);
    ck_assert_int_eq(r.timeout, 5000);
    ck_assert_str_eq(r.fin, "instance=h:1,job=j,m_interval=5s");

    /* path escaping as Go's url.URL.String */
    r = populate("    metrics_path: 'metrics/a b?#%'\n", "h:1", "");
    ck_assert_str_eq(r.url, "http://h:1/metrics/a%20b%3F%23%25");
    r = populate("    relabel_configs: [{target_label: instance, replacement: fixed}]\n", "h:1", "");
    ck_assert_str_eq(r.fin, "instance=fixed,job=j");

    /* dropped */
    r = populate("    relabel_configs: [{action: drop, source_labels: [__address__], regex: 'h:.*'}]\n", "h:1", "");
    ck_assert_int_eq(r.rc, 0);

    /* errors, with Prometheus' messages */
    r = populate("", "", "");
    ck_assert_int_eq(r.rc, FLINT_EINVAL);
    ck_assert_str_eq(r.err, "no address");
    r = populate("    relabel_configs: [{target_label: __address__, replacement: 'a/b'}]\n", "h:1", "");
    ck_assert_str_eq(r.err, "\"a/b\" is not a valid hostname");
    r = populate("    relabel_configs: [{target_label: __scrape_interval__, replacement: 'soon'}]\n", "h:1", "");
    ck_assert_str_eq(r.err, "error parsing scrape interval: not a valid duration string: \"soon\"");
    r = populate("    relabel_configs: [{target_label: __scrape_timeout__, replacement: '0s'}]\n", "h:1", "");
    ck_assert_str_eq(r.err, "scrape timeout cannot be 0");
    r = populate("    relabel_configs: [{target_label: __scrape_timeout__, replacement: '2m'}]\n", "h:1", "");
    ck_assert_str_eq(r.err, "scrape timeout cannot be greater than scrape interval (\"2m\" > \"1m\")");
    r = populate("    relabel_configs: [{action: labeldrop, regex: __scrape_interval__}]\n", "h:1", "");
    ck_assert_str_eq(r.err, "error parsing scrape interval: empty duration string");
}
END_TEST

START_TEST(test_config_populate_oom) {
    const char *y = "scrape_configs:\n  - job_name: j\n    params: {m: [a]}\n    static_configs: [{targets: [h:1]}]\n"
                    "    relabel_configs: [{source_labels: [__address__], target_label: x, regex: '(.*):1'}]\n";
    scrape_config *c;
    ck_assert_int_eq(scrape_config_parse(y, strlen(y), "p.yml", &c, NULL, NULL), 0);
    bool done = false;
    for (long n = 0; n < 500 && !done; n++) {
        relabel_scratch s;
        relabel_scratch_init(&s);
        labels_builder d, f;
        lb_init(&d);
        lb_init(&f);
        scrape_target_info info;
        fl_fault_fail_after(n);
        int rc = scrape_target_from_group(&c->jobs[0], &c->jobs[0].static_groups[0], 0, &s, &d, &f, &info);
        fl_fault_reset();
        ck_assert_msg(rc == 1 || rc == FLINT_ENOMEM, "n=%ld rc=%d", n, rc);
        if (rc == 1) {
            ck_assert_str_eq(info.url, "http://h:1/metrics?m=a");
            ck_assert_uint_eq(f.n, 3); /* instance, job, x */
            done = true;
        }
        lb_free(&d);
        lb_free(&f);
        relabel_scratch_free(&s);
    }
    ck_assert(done);
    scrape_config_free(c);
}
END_TEST

/* ---- check config ---------------------------------------------------------------------- */

static int run_check(const char *yaml, char *out, size_t cap, const char *setup_file, const char *setup_content) {
    const char *dir = tu_tmpdir();
    char path[512];
    if (setup_file) {
        snprintf(path, sizeof path, "%s/%s", dir, setup_file);
        FILE *f = fopen(path, "w");
        fputs(setup_content, f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/prometheus.yml", dir);
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    FILE *mem = fmemopen(out, cap, "w");
    int rc = scrape_check_config(path, mem);
    fclose(mem);
    /* make the temporary directory name stable in the output */
    char *p;
    size_t dl = strlen(dir);
    while ((p = strstr(out, dir)) != NULL) {
        memmove(p + 3, p + dl, strlen(p + dl) + 1);
        memcpy(p, "TMP", 3);
    }
    tu_tmpdir_cleanup();
    return rc;
}

START_TEST(test_config_check_config) {
    char out[4096];
    int rc = run_check("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['x:1']}]\n"
                       "    file_sd_configs: [{files: [sd.json, 'none/*.yml']}]\n"
                       "alerting: {}\n",
                       out, sizeof out, "sd.json", "[{\"targets\": [\"y:2\"], \"labels\": {\"a\": \"b\"}}]");
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(out, "Checking TMP/prometheus.yml\n"
                          "  WARNING: TMP/prometheus.yml:5: alerting: not supported by flint yet, ignored\n"
                          "  WARNING: file \"TMP/none/*.yml\" for file_sd in scrape job \"a\" does not exist\n"
                          "  SUCCESS: 1 scrape configs found\n"
                          " SUCCESS: TMP/prometheus.yml is valid prometheus config file syntax\n\n");

    rc = run_check("scrape_configs:\n  - job_name: a\n    scrape_interval: 1x\n", out, sizeof out, NULL, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, "Checking TMP/prometheus.yml\n"
                          "  FAILED: TMP/prometheus.yml:3: scrape_configs[0].scrape_interval: not a valid duration "
                          "string: \"1x\"\n\n");

    rc = run_check("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: pw}\n", out,
                   sizeof out, NULL, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, "Checking TMP/prometheus.yml\n"
                          "  FAILED: error checking basic_auth password file \"TMP/pw\": stat TMP/pw: no such file or "
                          "directory\n\n");
    rc = run_check("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: pw}\n", out,
                   sizeof out, "pw", "secret");
    ck_assert_int_eq(rc, 0);

    rc = run_check("scrape_configs:\n  - job_name: a\n    bearer_token_file: tok\n", out, sizeof out, NULL, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert(strstr(out, "FAILED: error checking authorization credentials or bearer token file \"TMP/tok\"") != NULL);

    rc = run_check("scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c, key_file: k}\n", out, sizeof out,
                   NULL, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert(strstr(out, "FAILED: error checking client cert file \"TMP/c\"") != NULL);

    rc = run_check("scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [sd.json]}]\n", out, sizeof out,
                   "sd.json", "[{\"targets\": [\"y:2\"], \"lables\": {}}]");
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, "Checking TMP/prometheus.yml\n"
                          "  FAILED: checking SD file \"TMP/sd.json\": TMP/sd.json:1:23: unknown field \"lables\" in "
                          "target group\n\n");

    rc = run_check("scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [sd.yml]}]\n", out, sizeof out,
                   "sd.yml", "- targets: ['a/b:1']\n");
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, "Checking TMP/prometheus.yml\n"
                          "  FAILED: instance 0 in group TMP/sd.yml:0: \"a/b:1\" is not a valid hostname\n\n");

    rc = run_check("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['']}]\n", out, sizeof out, NULL,
                   NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, "Checking TMP/prometheus.yml\n  FAILED: instance 0 in group 0: no address\n\n");

    rc = run_check("rule_files: [rules.yml]\n", out, sizeof out, NULL, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert(strstr(out, "FAILED: \"TMP/rules.yml\" does not point to an existing file") != NULL);

    FILE *mem = fmemopen(out, sizeof out, "w");
    ck_assert_int_eq(scrape_check_config("/nonexistent.yml", mem), 1);
    fclose(mem);
    ck_assert_str_eq(out, "Checking /nonexistent.yml\n  FAILED: open /nonexistent.yml: No such file or directory\n\n");
}
END_TEST

Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_config_realistic_round_trip);
    tcase_add_test(tc, test_config_debian_sample);
    tcase_add_test(tc, test_config_defaults_and_inheritance);
    tcase_add_test(tc, test_config_default_config);
    tcase_add_test(tc, test_config_errors_name_file_line_key);
    tcase_add_test(tc, test_config_warns_unsupported_and_unknown_keys);
    tcase_add_test(tc, test_config_relative_paths);
    tcase_add_test(tc, test_config_external_labels_env);
    tcase_add_test(tc, test_config_merge_keys_and_anchors);
    tcase_add_test(tc, test_config_yaml_scalars);
    tcase_add_test(tc, test_config_relabel_null_fields);
    tcase_add_test(tc, test_config_job_equal);
    tcase_add_test(tc, test_config_load_errors);
    tcase_add_test(tc, test_config_alias_bomb_is_bounded);
    tcase_add_test(tc, test_config_oom);
    tcase_add_test(tc, test_config_populate_labels);
    tcase_add_test(tc, test_config_populate_oom);
    tcase_add_test(tc, test_config_check_config);
    suite_add_tcase(s, tc);
    return s;
}
