/*
 * auth.h - HTTP basic authentication against the bcrypt hashes of the web
 * configuration file (web/webconfig.h), as exporter-toolkit does it:
 * every request needs a valid `Authorization: Basic ...` header, or gets
 * 401 with `WWW-Authenticate: Basic`.
 *
 * A bcrypt verification costs milliseconds on purpose, so successful
 * (user, password, hash) triples are remembered by their SHA-256 digest
 * (never the password itself) in a small table; a request with the same
 * credentials costs one hash. Unknown users are checked against a dummy
 * hash so timing does not reveal which names exist. Comparisons are
 * constant-time. Thread-safe (one mutex around the cache).
 */
#ifndef FLINT_WEB_AUTH_H
#define FLINT_WEB_AUTH_H

#include "web/webconfig.h"

#include <stdbool.h>

typedef struct web_auth web_auth;

/* NULL when the config has no users (no auth) or out of memory (*err set
 * to FLINT_ENOMEM). Copies what it needs from c. */
web_auth *web_auth_new(const web_config *c, int *err);
void web_auth_free(web_auth *a);

/* true when the Authorization header value (may be NULL) carries a user
 * and password that match. */
bool web_auth_check_header(web_auth *a, const char *authorization);
/* true when user/pass match the user's bcrypt hash. */
bool web_auth_check(web_auth *a, const char *user, const char *pass);

/* bcrypt hash of pass at the given cost (4..31) into out (>= 64 bytes);
 * 0 or FLINT_EINVAL/FLINT_EIO. For tests and tools. */
int web_auth_bcrypt(const char *pass, int cost, char *out, size_t cap);

#endif
