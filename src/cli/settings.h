/*
 * settings.h — one table per command of every setting it takes, filled from (highest
 * precedence first) command-line flags, TICKPIPE_* environment variables, a config file, and
 * the defaults; `tickpipe help COMMAND` prints the table (DESIGN.md §4, docs/config.md).
 *
 * A setting named "data-dir" is the flag --data-dir, the variable TICKPIPE_DATA_DIR and the
 * config key data-dir (or data_dir). The config file (-c FILE, --config FILE or
 * TICKPIPE_CONFIG) has lines `key = value`; '#' starts a comment; a list setting may repeat
 * its key. Values are validated by type here; a bad one is a one-line error that names the
 * setting and where it came from. Main thread only.
 */
#ifndef TP_SETTINGS_H
#define TP_SETTINGS_H

#include "core/tp.h"

enum tp_set_type {
    TP_SET_STR,    /* any text */
    TP_SET_INT,    /* a non-negative integer (int64) */
    TP_SET_DOUBLE, /* a finite decimal number */
    TP_SET_DUR,    /* a duration: 500ms, 2s, 1m, ... (stored in ns) */
    TP_SET_BOOL,   /* a flag without value; true/false/1/0/yes/no in env and config */
    TP_SET_LIST,   /* repeatable text */
};

#define TP_SET_LIST_MAX 256

struct tp_setting {
    const char *name; /* flag name without "--" */
    enum tp_set_type type;
    const char *def;  /* default as text ("" for none) */
    const char *help; /* one line */
    char short_flag;  /* e.g. 'c'; 0 for none */
    /* Filled by tp_settings_parse: */
    const char *str; /* STR: value (NULL when unset and no default) */
    int64_t i;       /* INT and DUR */
    double d;        /* DOUBLE */
    bool b;          /* BOOL */
    const char *list[TP_SET_LIST_MAX];
    size_t nlist;
    const char *origin; /* "default", "config FILE", "environment", "flag" */
};

struct tp_settings_result {
    char **positional; /* arguments that are not flags, in order (borrowed from argv) */
    int npositional;
};

/* Parses argv[1..argc) (argv[0] is the command name) against tab. 0, or TP_EXIT_USAGE after
 * printing a one-line error to stderr naming the command and the setting. Strings point into
 * argv, the environment, or memory kept until exit. */
int tp_settings_parse(const char *cmd, struct tp_setting *tab, size_t n, int argc, char **argv,
                      struct tp_settings_result *ret);
/* The setting called name; aborts when absent (a programming error). */
struct tp_setting *tp_setting(struct tp_setting *tab, size_t n, const char *name);
/* Prints the settings table: flag, variable, default, help. */
void tp_settings_help(FILE *f, const struct tp_setting *tab, size_t n);

#endif
