/*
 * assets.h — the dashboard's static files, embedded in the binary at build time (DESIGN.md §7:
 * no file is read from disk at run time). The table is generated from web/ by
 * scripts/embed_assets.c into the build directory (assets_gen.c, a CMake custom command);
 * lookups match a request path exactly against the table, so no path can reach anything else
 * (traversal attempts simply are not found).
 */
#ifndef TP_ASSETS_H
#define TP_ASSETS_H

#include "core/tp.h"

struct tp_asset {
    const char *path;  /* "/index.html", "/app.js", "/vendor/lightweight-charts.js", ... */
    const char *ctype; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* "\"<64-bit FNV-1a of the content, hex>\"" */
};

/* Defined by the generated assets_gen.c. */
extern const struct tp_asset tp_assets[];
extern const size_t tp_assets_count;

/* The asset at path ("/" is "/index.html"); NULL when there is none. */
const struct tp_asset *tp_asset_find(const char *path);

#endif
