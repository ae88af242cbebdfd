/*
 * ui.h - the web UI: static HTML, CSS and JavaScript (the files of web/ui/) compiled
 * into the binary by scripts/ui-embed.sh and served by web/api.c's
 * dispatch for paths the API does not own: "/" redirects to "/graph";
 * "/graph", "/targets" and "/status" are the single page (the browser
 * script picks the view from the path); "/ui/<file>" are the assets.
 * The pages call the JSON API only; see docs/ui.md.
 */
#ifndef FLINT_WEB_UI_H
#define FLINT_WEB_UI_H

#include <stdbool.h>
#include <stddef.h>

/* One embedded file (the table is generated into build/gen/web/ui_assets.c). */
typedef struct ui_asset {
    const char *path;          /* "/ui/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_nassets;
extern const char ui_version[]; /* checksum of all assets */

/* What to answer; every pointer is static data, never freed. */
typedef struct ui_reply {
    unsigned status;            /* 200, 302 or 404 */
    const char *content_type;
    const unsigned char *body;
    size_t len;
    const char *cache_control;
    const char *location;       /* for 302, else NULL */
} ui_reply;

/* Answer a GET or HEAD of path (no query string; query is what follows
 * '?', or NULL). Returns false when path is not the UI's: the caller
 * answers it (404). Paths under "/ui/" are always the UI's: unknown ones
 * get a 404 here. */
bool ui_serve(const char *path, const char *query, ui_reply *out);

#endif
