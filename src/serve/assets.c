/*
 * assets.c — lookup in the embedded asset table (see assets.h).
 */
#include "serve/assets.h"

const struct tp_asset *tp_asset_find(const char *path)
{
    if (!strcmp(path, "/")) path = "/index.html";
    for (size_t i = 0; i < tp_assets_count; i++)
        if (!strcmp(tp_assets[i].path, path)) return &tp_assets[i];
    return NULL;
}
