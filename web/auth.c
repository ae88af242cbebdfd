/*
 * auth.c - basic authentication with bcrypt hashes (see auth.h).
 *
 * bcrypt comes from libxcrypt (crypt_r with a "$2b$..." setting; Debian's
 * libcrypt supports $2a$, $2b$ and $2y$); SHA-256 for the cache key from
 * GnuTLS, which libmicrohttpd already links for HTTPS. The cache is a
 * direct-mapped table of digests of (user, hash, password): a hit means
 * this exact triple verified before, as exporter-toolkit's cache does.
 */
#include "web/auth.h"
#include "storage/alloc.h"
#include "storage/err.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE_SLOTS 64

struct web_auth {
    web_user *users;
    size_t nusers;
    pthread_mutex_t mu;
    uint8_t cache[AUTH_CACHE_SLOTS][32];
    bool used[AUTH_CACHE_SLOTS];
};

/* A valid bcrypt hash of a random password: unknown users cost the same. */
static const char dummy_hash[] = "$2b$10$Cz8SnOndbDrg0KqcaHjD0OIj/T/VYqjuBKvMbCeAusYcNoPy3o7mm";

web_auth *web_auth_new(const web_config *c, int *err) {
    *err = 0;
    if (!c || c->nusers == 0) return NULL;
    web_auth *a = fl_calloc(1, sizeof *a);
    if (!a) goto oom;
    pthread_mutex_init(&a->mu, NULL);
    a->users = fl_calloc(c->nusers, sizeof *a->users);
    if (!a->users) goto oom;
    for (size_t i = 0; i < c->nusers; i++) {
        a->users[i].name = fl_strdup(c->users[i].name);
        a->users[i].hash = fl_strdup(c->users[i].hash);
        a->nusers++;
        if (!a->users[i].name || !a->users[i].hash) goto oom;
    }
    return a;
oom:
    web_auth_free(a);
    *err = FLINT_ENOMEM;
    return NULL;
}

void web_auth_free(web_auth *a) {
    if (!a) return;
    for (size_t i = 0; i < a->nusers; i++) {
        fl_free(a->users[i].name);
        fl_free(a->users[i].hash);
    }
    fl_free(a->users);
    pthread_mutex_destroy(&a->mu);
    fl_free(a);
}

static bool ct_equal(const void *x, const void *y, size_t n) {
    const volatile uint8_t *a = x, *b = y;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) d |= a[i] ^ b[i];
    return d == 0;
}

/* bcrypt(pass, hash) == hash, in constant time over the output. */
static bool bcrypt_matches(const char *pass, const char *hash) {
    struct crypt_data *cd = fl_calloc(1, sizeof *cd);
    if (!cd) return false;
    const char *out = crypt_r(pass, hash, cd);
    size_t hl = strlen(hash);
    bool ok = out && out[0] != '*' && strlen(out) == hl && ct_equal(out, hash, hl);
    explicit_bzero(cd, sizeof *cd);
    fl_free(cd);
    return ok;
}

static int digest(const char *user, const char *hash, const char *pass, uint8_t out[32]) {
    size_t ul = strlen(user), hl = strlen(hash), pl = strlen(pass);
    size_t n = ul + hl + pl + 2;
    char *buf = fl_malloc(n);
    if (!buf) return FLINT_ENOMEM;
    memcpy(buf, user, ul + 1); /* NUL separators: "ab"+"c" != "a"+"bc" */
    memcpy(buf + ul + 1, hash, hl + 1);
    memcpy(buf + ul + hl + 2, pass, pl);
    int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, out);
    explicit_bzero(buf, n);
    fl_free(buf);
    return rc == 0 ? 0 : FLINT_EINVAL;
}

bool web_auth_check(web_auth *a, const char *user, const char *pass) {
    if (!a || !user || !pass) return false;
    const web_user *u = NULL;
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, user) == 0) u = &a->users[i];
    if (!u) {
        (void)bcrypt_matches(pass, dummy_hash);
        return false;
    }
    uint8_t d[32];
    if (digest(user, u->hash, pass, d)) return false;
    size_t slot = (d[0] | (size_t)d[1] << 8) % AUTH_CACHE_SLOTS;
    pthread_mutex_lock(&a->mu);
    bool hit = a->used[slot] && ct_equal(a->cache[slot], d, sizeof d);
    pthread_mutex_unlock(&a->mu);
    if (hit) return true;
    if (!bcrypt_matches(pass, u->hash)) return false;
    pthread_mutex_lock(&a->mu);
    memcpy(a->cache[slot], d, sizeof d);
    a->used[slot] = true;
    pthread_mutex_unlock(&a->mu);
    return true;
}

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool web_auth_check_header(web_auth *a, const char *h) {
    if (!h || strncasecmp(h, "Basic ", 6) != 0) return false;
    h += 6;
    while (*h == ' ') h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ') n--;
    if (n == 0 || n % 4 || n > 4096) return false;
    char *dec = fl_malloc(n / 4 * 3 + 1);
    if (!dec) return false;
    size_t o = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)h[i + k];
            v[k] = c == '=' && i + 4 == n && k >= 2 ? -2 : b64val(c);
            if (v[k] == -1) ok = false;
        }
        if (!ok || (v[2] == -2 && v[3] != -2)) {
            ok = false;
            break;
        }
        dec[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (v[2] != -2) dec[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (v[3] != -2) dec[o++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    dec[o] = '\0';
    char *colon = ok ? memchr(dec, ':', o) : NULL;
    if (colon && strlen(dec) == o) { /* no NUL inside */
        *colon = '\0';
        ok = web_auth_check(a, dec, colon + 1);
    } else {
        ok = false;
    }
    explicit_bzero(dec, o);
    fl_free(dec);
    return ok;
}

int web_auth_bcrypt(const char *pass, int cost, char *out, size_t cap) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (cost < 4 || cost > 31) return flint_error(FLINT_EINVAL, "bcrypt cost must be 4..31");
    if (!crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, setting, sizeof setting))
        return flint_error(FLINT_EIO, "crypt_gensalt: bcrypt is not supported by libcrypt");
    struct crypt_data *cd = fl_calloc(1, sizeof *cd);
    if (!cd) return FLINT_ENOMEM;
    const char *h = crypt_r(pass, setting, cd);
    int rc = 0;
    if (!h || h[0] == '*' || strlen(h) >= cap) rc = flint_error(FLINT_EIO, "bcrypt failed");
    else memcpy(out, h, strlen(h) + 1);
    fl_free(cd);
    return rc;
}
