/*
 * check_webconfig.c - the web configuration file (web/webconfig.c): every
 * error names file, line and key; TLS files are read relative to the
 * file; and basic auth (web/auth.c): bcrypt round trip, header decoding,
 * the verification cache never accepting a wrong password.
 */
#include "storage/err.h"
#include "tests/unit/testutil.h"
#include "web/auth.h"
#include "web/webconfig.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static const char *HASH_SECRET = NULL; /* bcrypt of "secret", made once per test */
static char hash_buf[128];

static void make_hash(void) {
    ck_assert_int_eq(web_auth_bcrypt("secret", 4, hash_buf, sizeof hash_buf), 0);
    HASH_SECRET = hash_buf;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char PEM[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

START_TEST(test_webconfig_errors) {
    const char *dir = tu_tmpdir();
    write_file(dir, "c.pem", PEM);
    write_file(dir, "k.pem", PEM);
    write_file(dir, "notpem", "hello\n");
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"foo: 1\n", "w.yml:1: foo: unknown key"},
        {"tls_server_config:\n  cert_file: c.pem\n", "w.yml:2: tls_server_config: missing key_file"},
        {"tls_server_config:\n  key_file: k.pem\n", "w.yml:2: tls_server_config: missing cert_file"},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  bogus: 1\n",
         "w.yml:4: tls_server_config.bogus: unknown key in tls_server_config"},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: nope.pem\n", "w.yml:3: tls_server_config.key_file: cannot read"},
        {"tls_server_config:\n  cert_file: notpem\n  key_file: k.pem\n",
         "w.yml:2: tls_server_config.cert_file: " /* path follows */},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: Sometimes\n",
         "w.yml:4: tls_server_config.client_auth_type: invalid client auth type \"Sometimes\""},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS14\n",
         "w.yml:4: tls_server_config.min_version: unknown TLS version: \"TLS14\""},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_ca_file: c.pem\n",
         "w.yml:4: tls_server_config: client CAs have been configured without a client auth policy"},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
         "needs client_ca_file"},
        {"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS13\n  max_version: TLS12\n",
         "min_version is above max_version"},
        {"basic_auth_users:\n  alice: plain\n", "w.yml:2: basic_auth_users.alice: not a bcrypt hash"},
        {"basic_auth_users:\n  alice:\n", "w.yml:2: basic_auth_users.alice: missing password hash"},
        {"http_server_config:\n  nope: 1\n", "w.yml:2: http_server_config.nope: unknown key"},
        {"basic_auth_users: [a]\n", "w.yml:1: basic_auth_users"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        web_config *c = (web_config *)1;
        int rc = web_config_parse(cases[i].yaml, strlen(cases[i].yaml), "w.yml", dir, &c);
        ck_assert_msg(rc == FLINT_EINVAL, "case %zu: rc %d", i, rc);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(flint_errmsg(), cases[i].want), "case %zu: got \"%s\", want \"%s\"", i, flint_errmsg(),
                      cases[i].want);
    }
    ck_assert_int_eq(web_config_load("/nonexistent/web.yml", &(web_config *){NULL}), FLINT_EIO);
    ck_assert_ptr_nonnull(strstr(flint_errmsg(), "/nonexistent/web.yml"));
    tu_tmpdir_cleanup();
}
END_TEST

START_TEST(test_webconfig_valid) {
    make_hash();
    const char *dir = tu_tmpdir();
    write_file(dir, "c.pem", PEM);
    write_file(dir, "k.pem", PEM);
    write_file(dir, "ca.pem", PEM);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "tls_server_config:\n  cert_file: c.pem\n  key_file: %s/k.pem\n"
             "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n  min_version: TLS13\n"
             "basic_auth_users:\n  zed: '%s'\n  alice: '%s'\n",
             dir, HASH_SECRET, HASH_SECRET);
    write_file(dir, "web.yml", yaml);
    char path[512];
    snprintf(path, sizeof path, "%s/web.yml", dir);
    web_config *c;
    ck_assert_int_eq(web_config_load(path, &c), 0);
    ck_assert(c->tls);
    ck_assert_str_eq(c->cert_pem, PEM);
    ck_assert_str_eq(c->key_pem, PEM);
    ck_assert_str_eq(c->client_ca_pem, PEM);
    ck_assert_int_eq(c->client_auth, WEB_CLIENT_VERIFY_IF_GIVEN);
    ck_assert_uint_eq(c->nusers, 2);
    ck_assert_str_eq(c->users[0].name, "alice"); /* sorted */
    ck_assert_str_eq(c->users[1].hash, HASH_SECRET);
    char prio[128];
    ck_assert_str_eq(web_config_tls_priorities(c, prio, sizeof prio), "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    web_config_free(c);

    /* no certificate at all: plain HTTP, as exporter-toolkit; default TLS 1.2+ */
    ck_assert_int_eq(web_config_parse("tls_server_config: {}\n", 22, "w.yml", dir, &c), 0);
    ck_assert(!c->tls);
    ck_assert_uint_eq(c->nusers, 0);
    ck_assert_str_eq(web_config_tls_priorities(c, prio, sizeof prio), "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3");
    int err;
    ck_assert_ptr_null(web_auth_new(c, &err)); /* no users: no auth */
    ck_assert_int_eq(err, 0);
    web_config_free(c);
    ck_assert_int_eq(web_config_parse("", 0, "w.yml", dir, &c), 0);
    web_config_free(c);
    web_config_free(NULL);
    tu_tmpdir_cleanup();
}
END_TEST

/* "Basic " + base64(s) */
static void basic(const char *s, char *out) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    o += (size_t)sprintf(out, "Basic ");
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)s[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
}

START_TEST(test_webconfig_auth) {
    make_hash();
    ck_assert(strncmp(HASH_SECRET, "$2b$04$", 7) == 0);
    ck_assert_uint_eq(strlen(HASH_SECRET), 60);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "basic_auth_users:\n  alice: '%s'\n  bob: '%s'\n", HASH_SECRET,
             "$2y$04$abcdefghijklmnopqrstuuQ0ZJHpM.XzZkpR3mZpX2tX7TQW6c7k2"); /* bob: no password matches */
    web_config *c;
    ck_assert_int_eq(web_config_parse(yaml, strlen(yaml), "w.yml", ".", &c), 0);
    int err;
    web_auth *a = web_auth_new(c, &err);
    web_config_free(c); /* the checker keeps its own copy */
    ck_assert_ptr_nonnull(a);
    for (int round = 0; round < 2; round++) { /* the second round runs from the cache */
        ck_assert(web_auth_check(a, "alice", "secret"));
        ck_assert(!web_auth_check(a, "alice", "secreT"));
        ck_assert(!web_auth_check(a, "alice", "secret "));
        ck_assert(!web_auth_check(a, "alice", ""));
        ck_assert(!web_auth_check(a, "carol", "secret"));
        ck_assert(!web_auth_check(a, "bob", "secret"));
    }
    char h[256];
    basic("alice:secret", h);
    ck_assert(web_auth_check_header(a, h));
    basic("alice:secre", h);
    ck_assert(!web_auth_check_header(a, h));
    basic("alicesecret", h); /* no colon */
    ck_assert(!web_auth_check_header(a, h));
    basic("alice:secret:x", h); /* the password is all after the first colon */
    ck_assert(!web_auth_check_header(a, h));
    ck_assert(!web_auth_check_header(a, NULL));
    ck_assert(!web_auth_check_header(a, "Bearer abc"));
    ck_assert(!web_auth_check_header(a, "Basic !!!!"));
    ck_assert(!web_auth_check_header(a, "Basic YWxpY2U6c2VjcmV0x")); /* bad length */
    ck_assert(web_auth_check_header(a, "basic YWxpY2U6c2VjcmV0")); /* scheme is case-insensitive */
    web_auth_free(a);
    web_auth_free(NULL);
    ck_assert_int_eq(web_auth_bcrypt("x", 3, h, sizeof h), FLINT_EINVAL);
}
END_TEST

Suite *webconfig_suite(void) {
    Suite *s = suite_create("webconfig");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_webconfig_errors);
    tcase_add_test(tc, test_webconfig_valid);
    tcase_add_test(tc, test_webconfig_auth);
    suite_add_tcase(s, tc);
    return s;
}
