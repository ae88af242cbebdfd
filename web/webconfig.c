/*
 * webconfig.c - loads and checks the exporter-toolkit web configuration
 * file (see webconfig.h): YAML through scrape/yamlutil.h so messages carry
 * file, line and key; PEM files read into memory for libmicrohttpd's
 * MHD_OPTION_HTTPS_MEM_* options.
 *
 * Checks follow exporter-toolkit: a key file without a certificate (or the
 * reverse) is an error; client_ca_file without a verifying
 * client_auth_type, or a verifying type without a CA, is an error; every
 * basic_auth_users hash must be bcrypt. http_server_config is accepted
 * (its keys are checked, http2/headers are not applied).
 */
#include "web/webconfig.h"
#include "scrape/arena.h"
#include "scrape/yamlutil.h"
#include "storage/alloc.h"
#include "storage/err.h"
#include "storage/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wc_parser {
    yu_parser y;
    scrape_arena a;
    const char *dir;
    web_config *c;
} wc_parser;

void web_config_free(web_config *c) {
    if (!c) return;
    fl_free(c->cert_pem);
    fl_free(c->key_pem);
    fl_free(c->client_ca_pem);
    for (size_t i = 0; i < c->nusers; i++) {
        fl_free(c->users[i].name);
        fl_free(c->users[i].hash);
    }
    fl_free(c->users);
    fl_free(c);
}

/* Read a PEM file named at node n (relative to the config's directory). */
static int read_pem(wc_parser *P, yaml_node_t *n, const char *name, char **out) {
    char path[4096];
    if (name[0] == '/' || !P->dir || strcmp(P->dir, ".") == 0) snprintf(path, sizeof path, "%s", name);
    else snprintf(path, sizeof path, "%s/%s", P->dir, name);
    size_t len;
    char *data;
    int rc = fio_read_file(path, &data, &len);
    if (rc == FLINT_ENOMEM) return rc;
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", flint_errmsg());
        return yu_error(&P->y, n, "cannot read %s: %s", path, msg);
    }
    if (!strstr(data, "-----BEGIN ")) {
        fl_free(data);
        return yu_error(&P->y, n, "%s is not a PEM file", path);
    }
    *out = data;
    return 0;
}

static int parse_version(wc_parser *P, yaml_node_t *n, int *out) {
    char *s = NULL;
    int rc = yu_get_string(&P->y, n, &P->a, &s);
    if (rc) return rc < 0 ? rc : 0;
    static const char *names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = 10 + i;
            return 0;
        }
    char q[128];
    return yu_error(&P->y, n, "unknown TLS version: %s", yu_quote(s, q, sizeof q));
}

static int parse_tls(wc_parser *P, yaml_node_t *n) {
    yu_pair *pairs;
    size_t np;
    int rc = yu_map_pairs(&P->y, n, &pairs, &np);
    if (rc) return rc;
    char *cert = NULL, *key = NULL, *ca = NULL, *auth = NULL;
    yaml_node_t *cert_n = NULL, *key_n = NULL, *ca_n = NULL, *auth_n = NULL;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        yaml_node_t *v = pairs[i].value;
        size_t old = yu_push_key(&P->y, k);
        if (strcmp(k, "cert_file") == 0) rc = yu_get_string(&P->y, v, &P->a, &cert), cert_n = v;
        else if (strcmp(k, "key_file") == 0) rc = yu_get_string(&P->y, v, &P->a, &key), key_n = v;
        else if (strcmp(k, "client_ca_file") == 0) rc = yu_get_string(&P->y, v, &P->a, &ca), ca_n = v;
        else if (strcmp(k, "client_auth_type") == 0) rc = yu_get_string(&P->y, v, &P->a, &auth), auth_n = v;
        else if (strcmp(k, "min_version") == 0) rc = parse_version(P, v, &P->c->min_version);
        else if (strcmp(k, "max_version") == 0) rc = parse_version(P, v, &P->c->max_version);
        else if (strcmp(k, "cipher_suites") == 0 || strcmp(k, "curve_preferences") == 0 ||
                 strcmp(k, "client_allowed_sans") == 0 || strcmp(k, "prefer_server_cipher_suites") == 0)
            yu_warn(&P->y, v, "not supported by flint; ignored");
        else rc = yu_error(&P->y, pairs[i].key, "unknown key in tls_server_config");
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (cert && !*cert) cert = NULL;
    if (key && !*key) key = NULL;
    if (ca && !*ca) ca = NULL;
    if (!cert && !key && !ca && !auth) return 0; /* no TLS, as exporter-toolkit */
    if (!cert) return yu_error(&P->y, n, "missing cert_file");
    if (!key) return yu_error(&P->y, n, "missing key_file");
    size_t old;
    static const char *auths[] = {"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                  "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
    if (auth && *auth) {
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(auth, auths[i]) == 0) found = i;
        if (strcmp(auth, "RequireClientCert") == 0) found = WEB_CLIENT_REQUIRE_ANY; /* old name */
        old = yu_push_key(&P->y, "client_auth_type");
        char q[128];
        if (found < 0) rc = yu_error(&P->y, auth_n, "invalid client auth type %s", yu_quote(auth, q, sizeof q));
        yu_pop(&P->y, old);
        if (rc < 0) return rc;
        P->c->client_auth = (web_client_auth)found;
    }
    bool verifies = P->c->client_auth == WEB_CLIENT_VERIFY_IF_GIVEN ||
                    P->c->client_auth == WEB_CLIENT_REQUIRE_AND_VERIFY;
    old = P->y.pathlen;
    if (ca && P->c->client_auth == WEB_CLIENT_NONE)
        rc = yu_error(&P->y, ca_n, "client CAs have been configured without a client auth policy (client_auth_type)");
    else if (!ca && (verifies || P->c->client_auth == WEB_CLIENT_REQUIRE_ANY))
        rc = yu_error(&P->y, auth_n, "client_auth_type %s needs client_ca_file (flint asks for client certificates "
                      "signed by it)", auths[P->c->client_auth]);
    else if (P->c->max_version && P->c->min_version > P->c->max_version)
        rc = yu_error(&P->y, n, "min_version is above max_version");
    yu_pop(&P->y, old);
    if (rc < 0) return rc;
    old = yu_push_key(&P->y, "cert_file");
    rc = read_pem(P, cert_n, cert, &P->c->cert_pem);
    yu_pop(&P->y, old);
    if (rc) return rc;
    old = yu_push_key(&P->y, "key_file");
    rc = read_pem(P, key_n, key, &P->c->key_pem);
    yu_pop(&P->y, old);
    if (rc) return rc;
    if (ca) {
        old = yu_push_key(&P->y, "client_ca_file");
        rc = read_pem(P, ca_n, ca, &P->c->client_ca_pem);
        yu_pop(&P->y, old);
        if (rc) return rc;
    }
    P->c->tls = true;
    return 0;
}

static int user_cmp(const void *a, const void *b) {
    return strcmp(((const web_user *)a)->name, ((const web_user *)b)->name);
}

static int parse_users(wc_parser *P, yaml_node_t *n) {
    yu_pair *pairs;
    size_t np;
    int rc = yu_map_pairs(&P->y, n, &pairs, &np);
    if (rc) return rc;
    if (np && !(P->c->users = fl_calloc(np, sizeof *P->c->users))) rc = FLINT_ENOMEM;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        size_t old = yu_push_key(&P->y, pairs[i].name);
        char *hash = NULL;
        rc = yu_get_string(&P->y, pairs[i].value, &P->a, &hash);
        if (rc > 0 || (rc == 0 && !*hash)) {
            rc = yu_error(&P->y, pairs[i].key, "missing password hash");
        } else if (rc == 0 && !(strlen(hash) == 60 && hash[0] == '$' && hash[1] == '2' &&
                               strchr("aby", hash[2]) && hash[3] == '$')) {
            rc = yu_error(&P->y, pairs[i].value, "not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)");
        } else if (rc == 0) {
            web_user *u = &P->c->users[P->c->nusers];
            u->name = fl_strdup(pairs[i].name);
            u->hash = fl_strdup(hash);
            P->c->nusers++;
            if (!u->name || !u->hash) rc = FLINT_ENOMEM;
        }
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    if (rc < 0) return rc;
    if (P->c->nusers) qsort(P->c->users, P->c->nusers, sizeof *P->c->users, user_cmp);
    return 0;
}

static int parse_http(wc_parser *P, yaml_node_t *n) {
    yu_pair *pairs;
    size_t np;
    int rc = yu_map_pairs(&P->y, n, &pairs, &np);
    if (rc) return rc;
    for (size_t i = 0; i < np && rc >= 0; i++) {
        size_t old = yu_push_key(&P->y, pairs[i].name);
        if (strcmp(pairs[i].name, "http2") == 0 || strcmp(pairs[i].name, "headers") == 0)
            yu_warn(&P->y, pairs[i].value, "not supported by flint; ignored");
        else rc = yu_error(&P->y, pairs[i].key, "unknown key in http_server_config");
        yu_pop(&P->y, old);
    }
    fl_free(pairs);
    return rc < 0 ? rc : 0;
}

int web_config_parse(const char *buf, size_t len, const char *file, const char *dir, web_config **out) {
    *out = NULL;
    wc_parser P;
    memset(&P, 0, sizeof P);
    scrape_arena_init(&P.a);
    P.dir = dir ? dir : ".";
    P.c = fl_calloc(1, sizeof *P.c);
    if (!P.c) return FLINT_ENOMEM;
    int rc = yu_load(&P.y, buf, len, file);
    yu_pair *pairs = NULL;
    size_t np = 0;
    if (rc == 0) rc = yu_map_pairs(&P.y, yu_root(&P.y), &pairs, &np);
    for (size_t i = 0; i < np && rc >= 0; i++) {
        const char *k = pairs[i].name;
        size_t old = yu_push_key(&P.y, k);
        if (strcmp(k, "tls_server_config") == 0) rc = parse_tls(&P, pairs[i].value);
        else if (strcmp(k, "basic_auth_users") == 0) rc = parse_users(&P, pairs[i].value);
        else if (strcmp(k, "http_server_config") == 0) rc = parse_http(&P, pairs[i].value);
        else rc = yu_error(&P.y, pairs[i].key, "unknown key (expected tls_server_config, basic_auth_users or http_server_config)");
        yu_pop(&P.y, old);
    }
    fl_free(pairs);
    yu_free(&P.y);
    scrape_arena_free(&P.a);
    if (rc < 0) {
        web_config_free(P.c);
        return rc;
    }
    *out = P.c;
    return 0;
}

int web_config_load(const char *path, web_config **out) {
    *out = NULL;
    char *buf;
    size_t len;
    int rc = fio_read_file(path, &buf, &len);
    if (rc == FLINT_ENOMEM) return rc;
    if (rc) return flint_error(FLINT_EIO, "web config %s: %s", path, flint_errmsg());
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    rc = web_config_parse(buf, len, path, dir[0] ? dir : "/", out);
    fl_free(buf);
    return rc;
}

const char *web_config_tls_priorities(const web_config *c, char *buf, size_t cap) {
    /* exporter-toolkit's default minimum is TLS 1.2 */
    int lo = c->min_version ? c->min_version : 12, hi = c->max_version ? c->max_version : 13;
    size_t o = (size_t)snprintf(buf, cap, "NORMAL:-VERS-ALL");
    for (int v = lo; v <= hi && o < cap; v++) o += (size_t)snprintf(buf + o, cap - o, ":+VERS-TLS1.%d", v - 10);
    return buf;
}
