/*
 * ui.c - serves the embedded web UI of ui.h. The pages are one HTML file
 * whose asset links carry "?v=<ui_version>"; an asset asked for with the
 * current version may be cached for a year (a new build changes the
 * link), anything else is revalidated on every load ("no-cache"). gzip,
 * when the client accepts it, is done by web/api.c's response path.
 */
#include "web/ui.h"

#include <string.h>

/* Paths that show the single page; its script reads location.pathname. */
static const char *const pages[] = {"/graph", "/query", "/targets", "/status"};

static const char not_found[] = "404 page not found\n";

static const ui_asset *find_asset(const char *path) {
    for (size_t i = 0; i < ui_nassets; i++)
        if (strcmp(ui_assets[i].path, path) == 0) return &ui_assets[i];
    return NULL;
}

/* Does the query string carry v=<ui_version>? */
static bool current_version(const char *query) {
    size_t vlen = strlen(ui_version);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, "v=", 2) == 0 && strncmp(p + 2, ui_version, vlen) == 0 &&
            (p[2 + vlen] == '&' || p[2 + vlen] == '\0'))
            return true;
        p = strchr(p, '&');
        if (p) p++;
    }
    return false;
}

bool ui_serve(const char *path, const char *query, ui_reply *out) {
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->cache_control = "no-cache";
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 || strcmp(path, "/ui/") == 0) {
        out->status = 302; /* as Prometheus does */
        out->location = "/graph";
        out->content_type = "text/html; charset=utf-8";
        static const char moved[] = "<a href=\"/graph\">Found</a>.\n";
        out->body = (const unsigned char *)moved;
        out->len = sizeof moved - 1;
        return true;
    }
    const ui_asset *a = NULL;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (strcmp(path, pages[i]) == 0) a = find_asset("/ui/index.html");
    if (!a && strncmp(path, "/ui/", 4) == 0) {
        a = find_asset(path);
        if (!a) {
            out->status = 404;
            out->content_type = "text/plain; charset=utf-8";
            out->body = (const unsigned char *)not_found;
            out->len = sizeof not_found - 1;
            return true;
        }
        if (current_version(query)) out->cache_control = "public, max-age=31536000, immutable";
    }
    if (!a) return false;
    out->content_type = a->content_type;
    out->body = a->data;
    out->len = a->len;
    return true;
}
