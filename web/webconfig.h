/*
 * webconfig.h - the web configuration file of `--web.config.file`, in the
 * format of Prometheus' exporter-toolkit (docs/api.md "Security"):
 *
 *   tls_server_config:
 *     cert_file: server.crt          # PEM; relative to the file's directory
 *     key_file: server.key
 *     client_auth_type: NoClientCert # or RequireAndVerifyClientCert, ...
 *     client_ca_file: ca.crt
 *     min_version: TLS12             # TLS10 TLS11 TLS12 TLS13
 *     max_version: TLS13
 *   basic_auth_users:
 *     alice: $2y$10$...              # bcrypt hash
 *
 * web_config_load reads the file, checks every key (unknown keys are
 * errors, as exporter-toolkit's strict YAML decoding makes them), and
 * loads the PEM files into memory, so a bad file stops the server before
 * it listens. Errors read "web.yml:3: tls_server_config.key_file: ...".
 * Used by web/api.c (TLS options, web/auth.c) and `flint check web-config`.
 */
#ifndef FLINT_WEB_WEBCONFIG_H
#define FLINT_WEB_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    WEB_CLIENT_NONE = 0,          /* NoClientCert */
    WEB_CLIENT_REQUEST,           /* RequestClientCert: asked, not checked */
    WEB_CLIENT_REQUIRE_ANY,       /* RequireAnyClientCert: one must be sent */
    WEB_CLIENT_VERIFY_IF_GIVEN,   /* VerifyClientCertIfGiven */
    WEB_CLIENT_REQUIRE_AND_VERIFY /* RequireAndVerifyClientCert */
} web_client_auth;

typedef struct web_user {
    char *name;
    char *hash; /* bcrypt: $2a$, $2b$ or $2y$ */
} web_user;

typedef struct web_config {
    bool tls;                 /* tls_server_config has a certificate */
    char *cert_pem, *key_pem; /* file contents, NUL-terminated */
    char *client_ca_pem;      /* NULL when no client_ca_file */
    web_client_auth client_auth;
    int min_version, max_version; /* 10..13; max 0 = no limit */
    web_user *users;          /* sorted by name */
    size_t nusers;
} web_config;

/* Read and check `path`. *out is NULL-safe to free with web_config_free.
 * FLINT_EINVAL with "file:line: key: problem", FLINT_EIO when the file or
 * a PEM file cannot be read, FLINT_ENOMEM. */
int web_config_load(const char *path, web_config **out);
/* Same from a buffer; `dir` resolves relative file names ("." if NULL). */
int web_config_parse(const char *buf, size_t len, const char *file, const char *dir, web_config **out);
void web_config_free(web_config *c);

/* The GnuTLS priority string for the configured versions. */
const char *web_config_tls_priorities(const web_config *c, char *buf, size_t cap);

#endif
