/*
 * config.c - prometheus.yml reader (see config.h): walks the libyaml
 * document through scrape/yamlutil.h, fills a scrape_config whose memory is
 * one arena, and validates in the order and with the messages of
 * Prometheus' config.Load (GlobalConfig, ScrapeConfig.Validate,
 * HTTPClientConfig.Validate, relabel.Config.Validate, file SD patterns).
 *
 * Null values (`key:` or `key: ~`) mean "not set" (the default applies),
 * except in relabel rules, where yaml.v2 turns a null separator,
 * replacement or target_label into "" and a null regex into "", as
 * Prometheus then sees them.
 */
#include "scrape/config.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_SCRAPE_INTERVAL_MS 60000
#define DEFAULT_SCRAPE_TIMEOUT_MS 10000
#define DEFAULT_EVALUATION_INTERVAL_MS 60000
#define DEFAULT_FILE_SD_REFRESH_MS 300000
#define MAX_CONFIG_BYTES (64u << 20)

const char scrape_default_config_yaml[] =
    "# flint's built-in configuration, used when --config.file is not given:\n"
    "# scrape flint's own /metrics every 15 seconds.\n"
    "global:\n"
    "  scrape_interval: 15s\n"
    "  evaluation_interval: 15s\n"
    "scrape_configs:\n"
    "  - job_name: flint\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9090']\n";

typedef struct cfg_parser {
    yu_parser y;
    scrape_config *c;
    scrape_arena *a;
    scrape_warn_fn *user_warn;
    void *user_arg;
} cfg_parser;

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        int try_rc_ = (expr);                                                                                          \
        if (try_rc_ < 0) return try_rc_;                                                                               \
    } while (0)

/* ---- paths -------------------------------------------------------------------- */

/* filepath.Clean: collapse slashes, drop ".", resolve ".." lexically. */
static char *clean_path(scrape_arena *a, const char *p) {
    size_t n = strlen(p);
    char *out = scrape_arena_alloc(a, n + 2);
    if (!out) return NULL;
    bool rooted = p[0] == '/';
    size_t w = 0, dotdot = 0; /* dotdot: where ".." backtracking must stop */
    if (rooted) out[w++] = '/', dotdot = 1;
    size_t r = rooted ? 1 : 0;
    while (r < n) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/') w--;
            } else if (!rooted) {
                if (w > 0) out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
            while (r < n && p[r] != '/') out[w++] = p[r++];
        }
    }
    if (w == 0) out[w++] = '.';
    out[w] = 0;
    return out;
}

char *scrape_join_dir(scrape_arena *a, const char *dir, const char *path) {
    if (!path) return NULL;
    if (!*path) return scrape_arena_strdup(a, "");
    if (path[0] == '/' || !dir || !*dir) return clean_path(a, path);
    size_t dl = strlen(dir), pl = strlen(path);
    char *tmp = fl_malloc(dl + pl + 2);
    if (!tmp) return NULL;
    memcpy(tmp, dir, dl);
    tmp[dl] = '/';
    memcpy(tmp + dl + 1, path, pl + 1);
    char *r = clean_path(a, tmp);
    fl_free(tmp);
    return r;
}

/* Resolve a *_file value; "" means not set (NULL). */
static int resolve_file(cfg_parser *P, char **field) {
    if (!*field) return 0;
    if (!**field) {
        *field = NULL;
        return 0;
    }
    char *r = scrape_join_dir(P->a, P->c->dir, *field);
    if (!r) return FLINT_ENOMEM;
    *field = r;
    return 0;
}

/* ---- unknown and unsupported keys ---------------------------------------------- */

static const char *const top_unsupported[] = {"alerting", "remote_write", "remote_read", "storage", "tracing",
                                              "otlp",     "runtime",      "scrape_config_files", NULL};
static const char *const global_unsupported[] = {
    "scrape_protocols", "rule_query_offset", "query_log_file", "scrape_failure_log_file", "keep_dropped_targets",
    "metric_name_validation_scheme", "metric_name_escaping_scheme", "scrape_native_histograms",
    "convert_classic_histograms_to_nhcb", "always_scrape_classic_histograms", "extra_scrape_metrics", NULL};
static const char *const job_unsupported[] = {
    "track_timestamps_staleness", "scrape_protocols", "fallback_scrape_protocol", "scrape_native_histograms",
    "always_scrape_classic_histograms", "convert_classic_histograms_to_nhcb", "scrape_failure_log_file",
    "native_histogram_bucket_limit", "native_histogram_min_bucket_factor", "keep_dropped_targets",
    "metric_name_validation_scheme", "metric_name_escaping_scheme", "extra_scrape_metrics", "oauth2", "proxy_url",
    "no_proxy", "proxy_from_environment", "proxy_connect_header", "http_headers", NULL};
/* Prometheus' service discoveries other than file_sd and static_configs. */
static const char *const sd_unsupported[] = {
    "aws_sd_configs", "azure_sd_configs", "consul_sd_configs", "digitalocean_sd_configs", "dns_sd_configs",
    "docker_sd_configs", "dockerswarm_sd_configs", "ec2_sd_configs", "eureka_sd_configs", "gce_sd_configs",
    "hetzner_sd_configs", "http_sd_configs", "ionos_sd_configs", "kubernetes_sd_configs", "kuma_sd_configs",
    "lightsail_sd_configs", "linode_sd_configs", "marathon_sd_configs", "nerve_sd_configs", "nomad_sd_configs",
    "oci_sd_configs", "openstack_sd_configs", "outscale_sd_configs", "ovhcloud_sd_configs", "puppetdb_sd_configs",
    "scaleway_sd_configs", "serverset_sd_configs", "stackit_sd_configs", "triton_sd_configs", "uyuni_sd_configs",
    "vultr_sd_configs", NULL};
static const char *const basic_auth_unsupported[] = {"username_ref", "password_ref", NULL};
static const char *const authorization_unsupported[] = {"credentials_ref", NULL};
static const char *const tls_unsupported[] = {"ca", "cert", "key", "ca_ref", "cert_ref", "key_ref",
                                              "min_version", "max_version", NULL};
static const char *const none_unsupported[] = {NULL};

static bool in_list(const char *const *list, const char *k) {
    for (; *list; list++)
        if (strcmp(*list, k) == 0) return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* One warning for a key flint ignores; the path already names it. */
static void ignored_key(cfg_parser *P, const yu_pair *pr, const char *const *unsupported, bool sd_section) {
    if (in_list(unsupported, pr->name) || (sd_section && in_list(sd_unsupported, pr->name)))
        yu_warn(&P->y, pr->key, "not supported by flint yet, ignored");
    else
        yu_warn(&P->y, pr->key, "unknown key, ignored (Prometheus would reject it)");
}

static void count_warning(void *arg, const char *msg) {
    cfg_parser *P = arg;
    P->c->nwarnings++;
    if (P->user_warn)
        P->user_warn(P->user_arg, msg);
    else
        flint_log(FLINT_LOG_WARN, "config", msg, NULL);
}

/* ---- labels ------------------------------------------------------------------------ */

static void sort_labels(label *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        label x = v[i];
        size_t j = i;
        while (j > 0 && strcmp(v[j - 1].name, x.name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* A mapping of label names to values (names validated, sorted). */
static int parse_label_map(cfg_parser *P, yaml_node_t *n, label **out, size_t *count) {
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    int rc = 0;
    label *v = scrape_arena_calloc(P->a, np ? np : 1, sizeof(label));
    if (!v) rc = FLINT_ENOMEM;
    for (size_t i = 0; i < np && !rc; i++) {
        size_t old = yu_push_key(&P->y, pairs[i].name);
        char q[256];
        if (!label_name_valid(pairs[i].name, strlen(pairs[i].name))) {
            rc = yu_error(&P->y, pairs[i].key, "%s is not a valid label name", yu_quote(pairs[i].name, q, sizeof q));
        } else {
            char *value = "";
            v[i].name = scrape_arena_strdup(P->a, pairs[i].name);
            rc = yu_get_string(&P->y, pairs[i].value, P->a, &value);
            if (rc > 0) rc = 0; /* null value: "" */
            v[i].value = value;
            if (!v[i].name) rc = FLINT_ENOMEM;
            else if (rc == 0 && !utf8_valid(value, strlen(value)))
                rc = yu_error(&P->y, pairs[i].value, "%s is not a valid label value", yu_quote(value, q, sizeof q));
        }
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    sort_labels(v, np);
    *out = v;
    *count = np;
    return 0;
}

/* os.Expand over one external label value, as config.Load does: $VAR,
 * ${VAR}, the shell's special one-character names, `$$` -> `$`; malformed
 * `${` / `${}` are eaten; an unset or empty variable expands to "" with a
 * warning. */
static bool shell_special(char c) { return strchr("*#$@!?-", c) || (c >= '0' && c <= '9'); }

static int env_put(char **buf, size_t *cap, size_t *len, const char *s, size_t n) {
    if (fl_grow((void **)buf, cap, *len + n + 1, 1)) return FLINT_ENOMEM;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

static int expand_env(cfg_parser *P, const yaml_node_t *node, const char *in, char **out) {
    char *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = env_put(&buf, &cap, &len, "", 0);
    for (size_t j = 0; rc == 0 && in[j]; j++) {
        if (in[j] != '$' || !in[j + 1]) {
            rc = env_put(&buf, &cap, &len, in + j, 1);
            continue;
        }
        const char *s = in + j + 1, *name = s;
        size_t nl = 0, w = 0;
        if (s[0] == '{') {
            if (s[1] && shell_special(s[1]) && s[2] == '}') {
                name = s + 1, nl = 1, w = 3;
            } else {
                size_t i = 1;
                while (s[i] && s[i] != '}') i++;
                if (!s[i]) w = 1;           /* "${" without "}": eaten */
                else if (i == 1) w = 2;     /* "${}": eaten */
                else name = s + 1, nl = i - 1, w = i + 1;
            }
        } else if (shell_special(s[0])) {
            nl = 1, w = 1;
        } else {
            while ((s[nl] >= 'a' && s[nl] <= 'z') || (s[nl] >= 'A' && s[nl] <= 'Z') ||
                   (s[nl] >= '0' && s[nl] <= '9') || s[nl] == '_')
                nl++;
            w = nl;
        }
        if (nl == 0 && w == 0) {
            rc = env_put(&buf, &cap, &len, "$", 1);
        } else if (nl == 1 && name[0] == '$') {
            rc = env_put(&buf, &cap, &len, "$", 1);
        } else if (nl > 0) {
            char var[256];
            const char *env = NULL;
            if (nl < sizeof var) {
                memcpy(var, name, nl);
                var[nl] = 0;
                env = getenv(var);
            }
            if (!env || !*env) {
                yu_warn(&P->y, node, "empty environment variable \"%.*s\"", (int)nl, name);
                env = "";
            }
            rc = env_put(&buf, &cap, &len, env, strlen(env));
        }
        j += w;
    }
    if (rc == 0) {
        *out = scrape_arena_strndup(P->a, buf, len);
        if (!*out) rc = FLINT_ENOMEM;
    }
    fl_free(buf);
    return rc;
}

/* ---- global --------------------------------------------------------------------------- */

static int parse_global(cfg_parser *P, yaml_node_t *n) {
    scrape_global *g = &P->c->global;
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    int rc = 0;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        yaml_node_t *v = pairs[i].value;
        size_t old = yu_push_key(&P->y, k);
        if (!strcmp(k, "scrape_interval")) rc = yu_get_duration(&P->y, v, &g->scrape_interval_ms);
        else if (!strcmp(k, "scrape_timeout")) rc = yu_get_duration(&P->y, v, &g->scrape_timeout_ms);
        else if (!strcmp(k, "evaluation_interval")) rc = yu_get_duration(&P->y, v, &g->evaluation_interval_ms);
        else if (!strcmp(k, "body_size_limit")) rc = yu_get_bytesize(&P->y, v, &g->body_size_limit);
        else if (!strcmp(k, "sample_limit")) rc = yu_get_uint(&P->y, v, &g->sample_limit);
        else if (!strcmp(k, "target_limit")) rc = yu_get_uint(&P->y, v, &g->target_limit);
        else if (!strcmp(k, "label_limit")) rc = yu_get_uint(&P->y, v, &g->label_limit);
        else if (!strcmp(k, "label_name_length_limit")) rc = yu_get_uint(&P->y, v, &g->label_name_length_limit);
        else if (!strcmp(k, "label_value_length_limit")) rc = yu_get_uint(&P->y, v, &g->label_value_length_limit);
        else if (!strcmp(k, "external_labels")) {
            rc = parse_label_map(P, v, &g->external_labels, &g->nexternal_labels);
            for (size_t j = 0; rc >= 0 && j < g->nexternal_labels; j++) {
                size_t o2 = yu_push_key(&P->y, g->external_labels[j].name);
                char *ev;
                rc = expand_env(P, v, g->external_labels[j].value, &ev);
                if (rc == 0) g->external_labels[j].value = ev;
                yu_pop(&P->y, o2);
            }
        } else ignored_key(P, &pairs[i], global_unsupported, false);
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (g->scrape_interval_ms == 0) g->scrape_interval_ms = DEFAULT_SCRAPE_INTERVAL_MS;
    if (g->scrape_timeout_ms > g->scrape_interval_ms)
        return yu_error(&P->y, n, "global scrape timeout greater than scrape interval");
    return 0;
}

static void global_defaults(scrape_global *g) {
    if (g->scrape_interval_ms == 0) g->scrape_interval_ms = DEFAULT_SCRAPE_INTERVAL_MS;
    if (g->scrape_timeout_ms == 0)
        g->scrape_timeout_ms = DEFAULT_SCRAPE_TIMEOUT_MS < g->scrape_interval_ms ? DEFAULT_SCRAPE_TIMEOUT_MS
                                                                                 : g->scrape_interval_ms;
    if (g->evaluation_interval_ms == 0) g->evaluation_interval_ms = DEFAULT_EVALUATION_INTERVAL_MS;
}

/* ---- relabel rules ------------------------------------------------------------------- */

static int parse_relabel(cfg_parser *P, yaml_node_t *n, relabel_rule *r, const char *kind) {
    if (yu_is_null(n)) return yu_error(&P->y, n, "empty or null %s relabeling rule in scrape config", kind);
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    relabel_spec spec = {0};
    int rc = 0;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        yaml_node_t *v = pairs[i].value;
        size_t old = yu_push_key(&P->y, k);
        char *s = "";
        if (!strcmp(k, "source_labels")) {
            char **names = NULL;
            size_t count = 0;
            rc = yu_get_strings(&P->y, v, P->a, &names, &count);
            spec.source_labels = (const char *const *)names;
            spec.nsource_labels = count;
            spec.source_labels_given = !yu_is_null(v);
        } else if (!strcmp(k, "separator")) {
            rc = yu_get_string(&P->y, v, P->a, &s);
            spec.separator = s;
        } else if (!strcmp(k, "regex")) {
            rc = yu_get_string(&P->y, v, P->a, &s);
            spec.regex = s;
        } else if (!strcmp(k, "modulus")) {
            rc = yu_get_uint(&P->y, v, &spec.modulus);
        } else if (!strcmp(k, "target_label")) {
            rc = yu_get_string(&P->y, v, P->a, &s);
            spec.target_label = s;
        } else if (!strcmp(k, "replacement")) {
            rc = yu_get_string(&P->y, v, P->a, &s);
            spec.replacement = s;
        } else if (!strcmp(k, "action")) {
            rc = yu_get_string(&P->y, v, P->a, &s);
            if (rc == 1 || !*s) spec.action = (relabel_action)-1; /* "relabel action cannot be empty" */
            else if (rc == 0 && relabel_action_parse(s, &spec.action)) rc = yu_error(&P->y, v, "%s", flint_errmsg());
        } else {
            ignored_key(P, &pairs[i], none_unsupported, false);
        }
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    rc = relabel_rule_init(r, &spec);
    if (rc == FLINT_EINVAL) return yu_error(&P->y, n, "%s", flint_errmsg());
    return rc;
}

static int parse_relabel_list(cfg_parser *P, yaml_node_t *n, relabel_rule **out, size_t *count, const char *kind) {
    yaml_node_item_t *items;
    size_t k;
    TRY(yu_seq_items(&P->y, n, &items, &k));
    relabel_rule *rules = scrape_arena_calloc(P->a, k ? k : 1, sizeof(relabel_rule));
    if (!rules) return FLINT_ENOMEM;
    /* publish the array first: scrape_config_free releases what was
     * compiled even when a later rule fails */
    *out = rules;
    *count = 0;
    for (size_t i = 0; i < k; i++) {
        size_t old = yu_push_index(&P->y, i);
        int rc = parse_relabel(P, yu_node(&P->y, items[i]), &rules[i], kind);
        yu_pop(&P->y, old);
        if (rc < 0) return rc;
        *count = i + 1;
    }
    return 0;
}

/* ---- target groups ------------------------------------------------------------------- */

static int parse_static_group(cfg_parser *P, yaml_node_t *n, scrape_target_group *g, size_t index) {
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    int rc = 0;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        size_t old = yu_push_key(&P->y, pairs[i].name);
        if (!strcmp(pairs[i].name, "targets"))
            rc = yu_get_strings(&P->y, pairs[i].value, P->a, &g->targets, &g->ntargets);
        else if (!strcmp(pairs[i].name, "labels"))
            rc = parse_label_map(P, pairs[i].value, &g->labels, &g->nlabels);
        else
            ignored_key(P, &pairs[i], none_unsupported, false);
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    char src[24];
    snprintf(src, sizeof src, "%zu", index);
    g->source = scrape_arena_strdup(P->a, src);
    return g->source ? 0 : FLINT_ENOMEM;
}

/* Prometheus' patFileSDName: ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$ */
static bool file_sd_name_ok(const char *s) {
    const char *star = strchr(s, '*');
    if (star && strchr(star + 1, '/')) return false;
    static const char *const ext[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"};
    for (size_t i = 0; i < 6; i++)
        if (ends_with(s, ext[i])) return true;
    return false;
}

static int parse_file_sd(cfg_parser *P, yaml_node_t *n, scrape_file_sd *f) {
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    f->refresh_interval_ms = DEFAULT_FILE_SD_REFRESH_MS;
    int rc = 0;
    yaml_node_t *files_node = n;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        size_t old = yu_push_key(&P->y, pairs[i].name);
        if (!strcmp(pairs[i].name, "files")) {
            files_node = pairs[i].value;
            rc = yu_get_strings(&P->y, pairs[i].value, P->a, &f->files, &f->nfiles);
        } else if (!strcmp(pairs[i].name, "refresh_interval")) {
            rc = yu_get_duration(&P->y, pairs[i].value, &f->refresh_interval_ms);
        } else {
            ignored_key(P, &pairs[i], none_unsupported, false);
        }
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (f->nfiles == 0) return yu_error(&P->y, n, "file service discovery config must contain at least one path name");
    size_t old = yu_push_key(&P->y, "files");
    for (size_t i = 0; i < f->nfiles && rc >= 0; i++) {
        if (!file_sd_name_ok(f->files[i]))
            rc = yu_error(&P->y, files_node, "path name \"%s\" is not valid for file discovery", f->files[i]);
        else
            rc = resolve_file(P, &f->files[i]);
    }
    yu_pop(&P->y, old);
    return rc < 0 ? rc : 0;
}

/* ---- HTTP client settings ------------------------------------------------------------ */

static int parse_basic_auth(cfg_parser *P, yaml_node_t *n, scrape_basic_auth **out) {
    if (yu_is_null(n)) return 0;
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    scrape_basic_auth *b = scrape_arena_calloc(P->a, 1, sizeof *b);
    int rc = b ? 0 : FLINT_ENOMEM;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        size_t old = yu_push_key(&P->y, k);
        if (!strcmp(k, "username")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &b->username);
        else if (!strcmp(k, "username_file")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &b->username_file);
        else if (!strcmp(k, "password")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &b->password);
        else if (!strcmp(k, "password_file")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &b->password_file);
        else ignored_key(P, &pairs[i], basic_auth_unsupported, false);
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (b->username && !*b->username) b->username = NULL;
    if (b->password && !*b->password) b->password = NULL;
    TRY(resolve_file(P, &b->username_file));
    TRY(resolve_file(P, &b->password_file));
    *out = b;
    return 0;
}

static int parse_authorization(cfg_parser *P, yaml_node_t *n, scrape_authorization **out) {
    if (yu_is_null(n)) return 0;
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    scrape_authorization *z = scrape_arena_calloc(P->a, 1, sizeof *z);
    int rc = z ? 0 : FLINT_ENOMEM;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        size_t old = yu_push_key(&P->y, k);
        if (!strcmp(k, "type")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &z->type);
        else if (!strcmp(k, "credentials")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &z->credentials);
        else if (!strcmp(k, "credentials_file")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &z->credentials_file);
        else ignored_key(P, &pairs[i], authorization_unsupported, false);
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (z->credentials && !*z->credentials) z->credentials = NULL;
    TRY(resolve_file(P, &z->credentials_file));
    *out = z;
    return 0;
}

static int parse_tls(cfg_parser *P, yaml_node_t *n, scrape_tls *t) {
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    int rc = 0;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        size_t old = yu_push_key(&P->y, k);
        if (!strcmp(k, "ca_file")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &t->ca_file);
        else if (!strcmp(k, "cert_file")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &t->cert_file);
        else if (!strcmp(k, "key_file")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &t->key_file);
        else if (!strcmp(k, "server_name")) rc = yu_get_string(&P->y, pairs[i].value, P->a, &t->server_name);
        else if (!strcmp(k, "insecure_skip_verify")) rc = yu_get_bool(&P->y, pairs[i].value, &t->insecure_skip_verify);
        else ignored_key(P, &pairs[i], tls_unsupported, false);
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (t->server_name && !*t->server_name) t->server_name = NULL;
    TRY(resolve_file(P, &t->ca_file));
    TRY(resolve_file(P, &t->cert_file));
    TRY(resolve_file(P, &t->key_file));
    if (t->cert_file && !t->key_file)
        return yu_error(&P->y, n, "exactly one of key or key_file must be configured when a client certificate is configured");
    if (t->key_file && !t->cert_file)
        return yu_error(&P->y, n, "exactly one of cert or cert_file must be configured when a client key is configured");
    return 0;
}

/* ---- scrape configs ---------------------------------------------------------------------- */

typedef struct job_nodes {
    yaml_node_t *timeout; /* for the timeout > interval message */
    char *bearer_token, *bearer_token_file;
    bool oauth2;
} job_nodes;

/* HTTPClientConfig.Validate, in Prometheus' order. */
static int validate_http(cfg_parser *P, yaml_node_t *n, scrape_job *j, job_nodes *jn) {
    yu_parser *y = &P->y;
    bool bt = jn->bearer_token && *jn->bearer_token, btf = jn->bearer_token_file && *jn->bearer_token_file;
    if (bt && btf) return yu_error(y, n, "at most one of bearer_token & bearer_token_file must be configured");
    if ((j->basic_auth || jn->oauth2) && (bt || btf))
        return yu_error(y, n, "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
    if (j->basic_auth && j->basic_auth->username && j->basic_auth->username_file)
        return yu_error(y, n, "at most one of basic_auth username, username_file & username_ref must be configured");
    if (j->basic_auth && j->basic_auth->password && j->basic_auth->password_file)
        return yu_error(y, n, "at most one of basic_auth password, password_file & password_ref must be configured");
    if (j->authorization) {
        scrape_authorization *z = j->authorization;
        if (bt || btf) return yu_error(y, n, "authorization is not compatible with bearer_token & bearer_token_file");
        if (z->credentials && z->credentials_file)
            return yu_error(y, n, "at most one of authorization credentials & credentials_file must be configured");
        const char *t = z->type ? z->type : "";
        while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r' || *t == '\v' || *t == '\f') t++;
        size_t tl = strlen(t);
        while (tl && strchr(" \t\n\r\v\f", t[tl - 1])) tl--;
        z->type = tl ? scrape_arena_strndup(P->a, t, tl) : scrape_arena_strdup(P->a, "Bearer");
        if (!z->type) return FLINT_ENOMEM;
        if (strcasecmp(z->type, "basic") == 0)
            return yu_error(y, n, "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
        if (j->basic_auth || jn->oauth2)
            return yu_error(y, n, "at most one of basic_auth, oauth2 & authorization must be configured");
    } else if (bt || btf) {
        scrape_authorization *z = scrape_arena_calloc(P->a, 1, sizeof *z);
        if (!z) return FLINT_ENOMEM;
        z->type = scrape_arena_strdup(P->a, "Bearer");
        if (!z->type) return FLINT_ENOMEM;
        if (bt) z->credentials = jn->bearer_token;
        else {
            z->credentials_file = jn->bearer_token_file;
            TRY(resolve_file(P, &z->credentials_file));
        }
        j->authorization = z;
    }
    return 0;
}

static int parse_params(cfg_parser *P, yaml_node_t *n, scrape_job *j) {
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    int rc = 0;
    j->params = scrape_arena_calloc(P->a, np ? np : 1, sizeof(scrape_param));
    if (!j->params) rc = FLINT_ENOMEM;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        size_t old = yu_push_key(&P->y, pairs[i].name);
        scrape_param *pm = &j->params[i];
        pm->name = scrape_arena_strdup(P->a, pairs[i].name);
        if (!pm->name) rc = FLINT_ENOMEM;
        else rc = yu_get_strings(&P->y, pairs[i].value, P->a, &pm->values, &pm->nvalues);
        yu_pop(&P->y, old);
        j->nparams = i + 1;
    }
    fl_free(pairs);
    return rc < 0 ? rc : 0;
}

static int parse_job_fields(cfg_parser *P, yaml_node_t *n, scrape_job *j, job_nodes *jn) {
    yu_pair *pairs;
    size_t np;
    TRY(yu_map_pairs(&P->y, n, &pairs, &np));
    int rc = 0;
    yu_parser *y = &P->y;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        yaml_node_t *v = pairs[i].value;
        size_t old = yu_push_key(y, k);
        if (!strcmp(k, "job_name")) rc = yu_get_string(y, v, P->a, &j->job_name);
        else if (!strcmp(k, "scrape_interval")) rc = yu_get_duration(y, v, &j->scrape_interval_ms);
        else if (!strcmp(k, "scrape_timeout")) {
            rc = yu_get_duration(y, v, &j->scrape_timeout_ms);
            jn->timeout = pairs[i].key;
        } else if (!strcmp(k, "metrics_path")) rc = yu_get_string(y, v, P->a, &j->metrics_path);
        else if (!strcmp(k, "scheme")) {
            rc = yu_get_string(y, v, P->a, &j->scheme);
            if (rc == 0 && strcmp(j->scheme, "http") != 0 && strcmp(j->scheme, "https") != 0)
                rc = yu_error(y, v, "unsupported scheme \"%s\" (want http or https)", j->scheme);
        } else if (!strcmp(k, "params")) rc = parse_params(P, v, j);
        else if (!strcmp(k, "honor_labels")) rc = yu_get_bool(y, v, &j->honor_labels);
        else if (!strcmp(k, "honor_timestamps")) rc = yu_get_bool(y, v, &j->honor_timestamps);
        else if (!strcmp(k, "enable_compression")) rc = yu_get_bool(y, v, &j->enable_compression);
        else if (!strcmp(k, "follow_redirects")) rc = yu_get_bool(y, v, &j->follow_redirects);
        else if (!strcmp(k, "enable_http2")) rc = yu_get_bool(y, v, &j->enable_http2);
        else if (!strcmp(k, "sample_limit")) rc = yu_get_uint(y, v, &j->sample_limit);
        else if (!strcmp(k, "target_limit")) rc = yu_get_uint(y, v, &j->target_limit);
        else if (!strcmp(k, "label_limit")) rc = yu_get_uint(y, v, &j->label_limit);
        else if (!strcmp(k, "label_name_length_limit")) rc = yu_get_uint(y, v, &j->label_name_length_limit);
        else if (!strcmp(k, "label_value_length_limit")) rc = yu_get_uint(y, v, &j->label_value_length_limit);
        else if (!strcmp(k, "body_size_limit")) rc = yu_get_bytesize(y, v, &j->body_size_limit);
        else if (!strcmp(k, "relabel_configs"))
            rc = parse_relabel_list(P, v, &j->relabel_configs, &j->nrelabel_configs, "target");
        else if (!strcmp(k, "metric_relabel_configs"))
            rc = parse_relabel_list(P, v, &j->metric_relabel_configs, &j->nmetric_relabel_configs, "metric");
        else if (!strcmp(k, "basic_auth")) rc = parse_basic_auth(P, v, &j->basic_auth);
        else if (!strcmp(k, "authorization")) rc = parse_authorization(P, v, &j->authorization);
        else if (!strcmp(k, "bearer_token")) rc = yu_get_string(y, v, P->a, &jn->bearer_token);
        else if (!strcmp(k, "bearer_token_file")) rc = yu_get_string(y, v, P->a, &jn->bearer_token_file);
        else if (!strcmp(k, "tls_config")) rc = parse_tls(P, v, &j->tls);
        else if (!strcmp(k, "static_configs")) {
            yaml_node_item_t *items;
            size_t cnt;
            rc = yu_seq_items(y, v, &items, &cnt);
            if (rc == 0) {
                j->static_groups = scrape_arena_calloc(P->a, cnt ? cnt : 1, sizeof(scrape_target_group));
                if (!j->static_groups) rc = FLINT_ENOMEM;
                j->nstatic_groups = rc ? 0 : cnt;
            }
            for (size_t g = 0; rc == 0 && g < j->nstatic_groups; g++) {
                size_t o2 = yu_push_index(y, g);
                yaml_node_t *gn = yu_node(y, items[g]);
                if (yu_is_null(gn)) rc = yu_error(y, gn, "empty or null section in static_configs");
                else rc = parse_static_group(P, gn, &j->static_groups[g], g);
                yu_pop(y, o2);
            }
        } else if (!strcmp(k, "file_sd_configs")) {
            yaml_node_item_t *items;
            size_t cnt;
            rc = yu_seq_items(y, v, &items, &cnt);
            if (rc == 0) {
                j->file_sd = scrape_arena_calloc(P->a, cnt ? cnt : 1, sizeof(scrape_file_sd));
                if (!j->file_sd) rc = FLINT_ENOMEM;
                j->nfile_sd = rc ? 0 : cnt;
            }
            for (size_t g = 0; rc == 0 && g < j->nfile_sd; g++) {
                size_t o2 = yu_push_index(y, g);
                yaml_node_t *gn = yu_node(y, items[g]);
                if (yu_is_null(gn)) rc = yu_error(y, gn, "empty or null section in file_sd_configs");
                else rc = parse_file_sd(P, gn, &j->file_sd[g]);
                yu_pop(y, o2);
            }
        } else {
            if (!strcmp(k, "oauth2") && !yu_is_null(v)) jn->oauth2 = true;
            ignored_key(P, &pairs[i], job_unsupported, true);
        }
        yu_pop(y, old);
    }
    fl_free(pairs);
    return rc < 0 ? rc : 0;
}

static int parse_job(cfg_parser *P, yaml_node_t *n, scrape_job *j) {
    yu_parser *y = &P->y;
    j->line = yu_line(n);
    j->honor_timestamps = j->enable_compression = j->follow_redirects = j->enable_http2 = true;
    if (yu_is_null(n)) return yu_error(y, n, "empty or null scrape config section");
    job_nodes jn = {0};
    TRY(parse_job_fields(P, n, j, &jn));
    if (!j->job_name || !*j->job_name) return yu_error(y, n, "job_name is empty");
    if (!j->metrics_path) j->metrics_path = "/metrics";
    if (!j->scheme) j->scheme = "http";
    TRY(validate_http(P, n, j, &jn));
    if (j->nrelabel_configs == 0) {
        for (size_t g = 0; g < j->nstatic_groups; g++)
            for (size_t t = 0; t < j->static_groups[g].ntargets; t++)
                if (strchr(j->static_groups[g].targets[t], '/'))
                    return yu_error(y, n, "\"%s\" is not a valid hostname", j->static_groups[g].targets[t]);
    }
    /* ScrapeConfig.Validate against the global section */
    const scrape_global *g = &P->c->global;
    if (j->scrape_interval_ms == 0) j->scrape_interval_ms = g->scrape_interval_ms;
    if (j->scrape_timeout_ms > j->scrape_interval_ms)
        return yu_error(y, jn.timeout ? jn.timeout : n,
                        "scrape timeout greater than scrape interval for scrape config with job name \"%s\"",
                        j->job_name);
    if (j->scrape_timeout_ms == 0)
        j->scrape_timeout_ms = g->scrape_timeout_ms < j->scrape_interval_ms ? g->scrape_timeout_ms : j->scrape_interval_ms;
    if (j->body_size_limit == 0) j->body_size_limit = g->body_size_limit;
    if (j->sample_limit == 0) j->sample_limit = g->sample_limit;
    if (j->target_limit == 0) j->target_limit = g->target_limit;
    if (j->label_limit == 0) j->label_limit = g->label_limit;
    if (j->label_name_length_limit == 0) j->label_name_length_limit = g->label_name_length_limit;
    if (j->label_value_length_limit == 0) j->label_value_length_limit = g->label_value_length_limit;
    return 0;
}

/* Prometheus' patRulePath: ^[^*]*(\*[^/]*)?$ */
static bool rule_path_ok(const char *s) {
    const char *star = strchr(s, '*');
    return !star || !strchr(star + 1, '/');
}

static int parse_rule_files(cfg_parser *P, yu_pair *pr) {
    scrape_config *c = P->c;
    TRY(yu_get_strings(&P->y, pr->value, P->a, &c->rule_files, &c->nrule_files));
    for (size_t i = 0; i < c->nrule_files; i++) {
        if (!rule_path_ok(c->rule_files[i]))
            return yu_error(&P->y, pr->value, "invalid rule file path \"%s\"", c->rule_files[i]);
        TRY(resolve_file(P, &c->rule_files[i]));
    }
    if (c->nrule_files) yu_warn(&P->y, pr->key, "not supported by flint yet: rules are not evaluated");
    return 0;
}

static int parse_document(cfg_parser *P) {
    yu_parser *y = &P->y;
    scrape_config *c = P->c;
    yaml_node_t *root = yu_root(y);
    yu_pair *pairs = NULL;
    size_t np = 0;
    if (root) TRY(yu_map_pairs(y, root, &pairs, &np));
    int rc = 0;
    yaml_node_t *jobs_node = NULL;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        if (strcmp(pairs[i].name, "global") != 0) continue;
        size_t old = yu_push_key(y, "global");
        rc = parse_global(P, pairs[i].value);
        yu_pop(y, old);
    }
    global_defaults(&c->global);
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        size_t old = yu_push_key(y, k);
        if (!strcmp(k, "global")) {
        } else if (!strcmp(k, "scrape_configs")) {
            jobs_node = pairs[i].value;
        } else if (!strcmp(k, "rule_files")) {
            rc = parse_rule_files(P, &pairs[i]);
        } else if (in_list(top_unsupported, k)) {
            if (!yu_is_null(pairs[i].value)) ignored_key(P, &pairs[i], top_unsupported, false);
        } else {
            ignored_key(P, &pairs[i], top_unsupported, false);
        }
        yu_pop(y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (!jobs_node) return 0;

    yaml_node_item_t *items;
    size_t k;
    size_t old = yu_push_key(y, "scrape_configs");
    rc = yu_seq_items(y, jobs_node, &items, &k);
    if (rc == 0) {
        c->jobs = scrape_arena_calloc(P->a, k ? k : 1, sizeof(scrape_job));
        if (!c->jobs) rc = FLINT_ENOMEM;
    }
    for (size_t i = 0; i < k && rc >= 0; i++) {
        size_t o2 = yu_push_index(y, i);
        yaml_node_t *jn = yu_node(y, items[i]);
        rc = parse_job(P, jn, &c->jobs[i]);
        c->njobs = i + 1;
        for (size_t prev = 0; rc >= 0 && prev < i; prev++) {
            if (strcmp(c->jobs[prev].job_name, c->jobs[i].job_name) == 0) {
                size_t o3 = yu_push_key(y, "job_name");
                rc = yu_error(y, jn, "found multiple scrape configs with job name \"%s\" (first at line %d)",
                              c->jobs[i].job_name, c->jobs[prev].line);
                yu_pop(y, o3);
            }
        }
        yu_pop(y, o2);
    }
    yu_pop(y, old);
    return rc < 0 ? rc : 0;
}

/* ---- entry points ---------------------------------------------------------------------- */

static char *dir_of(scrape_arena *a, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return scrape_arena_strdup(a, ".");
    if (slash == path) return scrape_arena_strdup(a, "/");
    return scrape_arena_strndup(a, path, (size_t)(slash - path));
}

int scrape_config_parse(const char *yaml, size_t len, const char *name, scrape_config **out, scrape_warn_fn *warn,
                        void *arg) {
    *out = NULL;
    scrape_config *c = fl_calloc(1, sizeof *c);
    if (!c) return FLINT_ENOMEM;
    scrape_arena_init(&c->arena);
    const char *display = name ? name : "<config>";
    c->source = scrape_arena_strdup(&c->arena, display);
    c->dir = name ? dir_of(&c->arena, name) : scrape_arena_strdup(&c->arena, ".");
    if (!c->source || !c->dir) {
        scrape_config_free(c);
        return FLINT_ENOMEM;
    }
    cfg_parser P = {.c = c, .a = &c->arena, .user_warn = warn, .user_arg = arg};
    int rc = yu_load(&P.y, yaml, len, c->source);
    if (rc == 0) {
        P.y.warn = count_warning;
        P.y.warn_arg = &P;
        rc = parse_document(&P);
    }
    yu_free(&P.y);
    if (rc) {
        scrape_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int scrape_config_load(const char *path, scrape_config **out, scrape_warn_fn *warn, void *arg) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return flint_error(errno == ENOENT ? FLINT_ENOTFOUND : FLINT_EIO, "open %s: %s", path, strerror(errno));
    struct stat st;
    const char *why = NULL;
    if (fstat(fileno(f), &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "is a directory";
    else if ((uint64_t)st.st_size > MAX_CONFIG_BYTES) why = "file too large";
    char *buf = NULL;
    size_t size = 0;
    if (!why) {
        /* read to EOF rather than trusting st_size (pipes, /proc, races) */
        size_t cap = 0;
        for (;;) {
            if (size + 4096 + 1 > cap) {
                if (fl_grow((void **)&buf, &cap, size + 4096 + 1, 1)) {
                    fl_free(buf);
                    fclose(f);
                    return FLINT_ENOMEM;
                }
            }
            size_t got = fread(buf + size, 1, cap - size - 1, f);
            size += got;
            if (got == 0) break;
            if (size > MAX_CONFIG_BYTES) {
                why = "file too large";
                break;
            }
        }
        if (!why && ferror(f)) why = "read error";
    }
    fclose(f);
    if (why) {
        fl_free(buf);
        return flint_error(FLINT_EIO, "read %s: %s", path, why);
    }
    buf[size] = 0;
    int rc = scrape_config_parse(buf, size, path, out, warn, arg);
    fl_free(buf);
    return rc;
}

int scrape_config_default(scrape_config **out) {
    return scrape_config_parse(scrape_default_config_yaml, sizeof scrape_default_config_yaml - 1, "<default config>",
                               out, NULL, NULL);
}

void scrape_config_free(scrape_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->njobs; i++) {
        scrape_job *j = &c->jobs[i];
        for (size_t r = 0; r < j->nrelabel_configs; r++) relabel_rule_free(&j->relabel_configs[r]);
        for (size_t r = 0; r < j->nmetric_relabel_configs; r++) relabel_rule_free(&j->metric_relabel_configs[r]);
    }
    scrape_arena_free(&c->arena);
    fl_free(c);
}

const scrape_job *scrape_config_job(const scrape_config *c, const char *job_name) {
    for (size_t i = 0; i < c->njobs; i++)
        if (strcmp(c->jobs[i].job_name, job_name) == 0) return &c->jobs[i];
    return NULL;
}

/* ---- equality ---------------------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool strs_eq(char *const *a, size_t na, char *const *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i])) return false;
    return true;
}

static bool group_eq(const scrape_target_group *a, const scrape_target_group *b) {
    labels la = scrape_group_labels(a), lb = scrape_group_labels(b);
    return strs_eq(a->targets, a->ntargets, b->targets, b->ntargets) && labels_equal(&la, &lb) &&
           str_eq(a->source, b->source);
}

static bool rules_eq(const relabel_rule *a, size_t na, const relabel_rule *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!relabel_rule_equal(&a[i], &b[i])) return false;
    return true;
}

bool scrape_job_equal(const scrape_job *a, const scrape_job *b) {
    if (!str_eq(a->job_name, b->job_name) || a->scrape_interval_ms != b->scrape_interval_ms ||
        a->scrape_timeout_ms != b->scrape_timeout_ms || !str_eq(a->metrics_path, b->metrics_path) ||
        !str_eq(a->scheme, b->scheme) || a->honor_labels != b->honor_labels ||
        a->honor_timestamps != b->honor_timestamps || a->enable_compression != b->enable_compression ||
        a->follow_redirects != b->follow_redirects || a->enable_http2 != b->enable_http2 ||
        a->sample_limit != b->sample_limit || a->target_limit != b->target_limit || a->label_limit != b->label_limit ||
        a->label_name_length_limit != b->label_name_length_limit ||
        a->label_value_length_limit != b->label_value_length_limit || a->body_size_limit != b->body_size_limit)
        return false;
    if (a->nparams != b->nparams) return false;
    for (size_t i = 0; i < a->nparams; i++)
        if (!str_eq(a->params[i].name, b->params[i].name) ||
            !strs_eq(a->params[i].values, a->params[i].nvalues, b->params[i].values, b->params[i].nvalues))
            return false;
    if (a->nstatic_groups != b->nstatic_groups || a->nfile_sd != b->nfile_sd) return false;
    for (size_t i = 0; i < a->nstatic_groups; i++)
        if (!group_eq(&a->static_groups[i], &b->static_groups[i])) return false;
    for (size_t i = 0; i < a->nfile_sd; i++)
        if (a->file_sd[i].refresh_interval_ms != b->file_sd[i].refresh_interval_ms ||
            !strs_eq(a->file_sd[i].files, a->file_sd[i].nfiles, b->file_sd[i].files, b->file_sd[i].nfiles))
            return false;
    if (!rules_eq(a->relabel_configs, a->nrelabel_configs, b->relabel_configs, b->nrelabel_configs) ||
        !rules_eq(a->metric_relabel_configs, a->nmetric_relabel_configs, b->metric_relabel_configs,
                  b->nmetric_relabel_configs))
        return false;
    if (!a->basic_auth != !b->basic_auth || !a->authorization != !b->authorization) return false;
    if (a->basic_auth &&
        (!str_eq(a->basic_auth->username, b->basic_auth->username) ||
         !str_eq(a->basic_auth->username_file, b->basic_auth->username_file) ||
         !str_eq(a->basic_auth->password, b->basic_auth->password) ||
         !str_eq(a->basic_auth->password_file, b->basic_auth->password_file)))
        return false;
    if (a->authorization &&
        (!str_eq(a->authorization->type, b->authorization->type) ||
         !str_eq(a->authorization->credentials, b->authorization->credentials) ||
         !str_eq(a->authorization->credentials_file, b->authorization->credentials_file)))
        return false;
    return str_eq(a->tls.ca_file, b->tls.ca_file) && str_eq(a->tls.cert_file, b->tls.cert_file) &&
           str_eq(a->tls.key_file, b->tls.key_file) && str_eq(a->tls.server_name, b->tls.server_name) &&
           a->tls.insecure_skip_verify == b->tls.insecure_skip_verify;
}
