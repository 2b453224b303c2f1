/*
 * settings_int.h — the config file parser of settings.c without the file, for the fuzz target
 * (tests/fuzz/fuzz_settings.c). Not for commands: they go through tp_settings_parse.
 */
#ifndef TP_SETTINGS_INT_H
#define TP_SETTINGS_INT_H

#include "cli/settings.h"

/* Applies the `key = value` lines of text (NUL-terminated, edited in place; setting values
 * point into it afterwards) to tab, as if read from the config file `path`, with origin as
 * the settings' origin (borrowed for as long as tab is used). reset[i] false means list i
 * is replaced by its first value here. 0, or -1 after printing a one-line error. */
int tp_settings_config_apply(const char *cmd, struct tp_setting *tab, size_t n, const char *path,
                             const char *origin, char *text, bool *reset);

#endif
