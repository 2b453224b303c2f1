/*
 * settings.c — flags, environment, config file, defaults (see settings.h).
 *
 * Parsing goes in increasing precedence: defaults, then the config file, then the
 * environment, then flags, each overwriting what came before. Lists are replaced whole by
 * the first higher-precedence source that names them, then appended to by that source.
 */
#include <ctype.h>
#include <strings.h>
#include <math.h>

#include "cli/settings.h"
#include "cli/settings_int.h"
#include "core/num.h"
#include "core/tptime.h"

#define CONFIG_MAX_BYTES (1u << 20)

struct tp_setting *tp_setting(struct tp_setting *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tab[i].name, name)) return &tab[i];
    fprintf(stderr, "tickpipe: internal error: no setting '%s'\n", name);
    abort();
}

static void env_name(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    const char *pre = "TICKPIPE_";
    for (; *pre && o + 1 < cap; pre++) out[o++] = *pre;
    for (; *name && o + 1 < cap; name++)
        out[o++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[o] = 0;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < TP_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(v, yes[i])) return *out = true, true;
        if (!strcasecmp(v, no[i])) return *out = false, true;
    }
    return false;
}

/* Applies value v from origin to s. Returns 0, or prints the error and returns -1. */
static int apply(const char *cmd, struct tp_setting *s, const char *v, const char *origin,
                 bool *list_reset)
{
    const char *why = NULL;
    switch (s->type) {
    case TP_SET_STR:
        s->str = v;
        break;
    case TP_SET_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno || x < 0)
            why = "a non-negative integer";
        else
            s->i = x;
        break;
    }
    case TP_SET_DOUBLE: {
        double d;
        if (tp_num_parse(v, strlen(v), &d) < 0 || !isfinite(d))
            why = "a number";
        else
            s->d = d;
        break;
    }
    case TP_SET_DUR: {
        int64_t ns;
        if (tp_duration_parse(v, &ns) < 0)
            why = "a duration like 500ms, 2s, 1m, 1h";
        else
            s->i = ns;
        break;
    }
    case TP_SET_BOOL:
        if (!parse_bool(v, &s->b)) why = "true or false";
        break;
    case TP_SET_LIST:
        if (!*list_reset) {
            s->nlist = 0;
            *list_reset = true;
        }
        if (s->nlist >= TP_SET_LIST_MAX)
            why = "at most 256 values";
        else
            s->list[s->nlist++] = v;
        break;
    }
    if (why) {
        fprintf(stderr, "tickpipe %s: --%s: '%s' is not %s (from %s)\n", cmd, s->name, v, why,
                origin);
        return -1;
    }
    s->origin = origin;
    return 0;
}

static struct tp_setting *find_key(struct tp_setting *tab, size_t n, const char *key, size_t kl)
{
    for (size_t i = 0; i < n; i++) {
        const char *nm = tab[i].name;
        if (strlen(nm) != kl) continue;
        size_t j = 0;
        for (; j < kl; j++) {
            char a = key[j] == '_' ? '-' : key[j];
            if (a != nm[j]) break;
        }
        if (j == kl) return &tab[i];
    }
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int tp_settings_config_apply(const char *cmd, struct tp_setting *tab, size_t n, const char *path,
                             const char *origin, char *text, bool *reset)
{
    int lineno = 0;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *l = trim(line);
        line = next;
        if (!*l) continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            fprintf(stderr, "tickpipe %s: %s:%d: expected 'key = value'\n", cmd, path, lineno);
            return -1;
        }
        *eq = 0;
        char *key = trim(l), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        struct tp_setting *s = find_key(tab, n, key, strlen(key));
        if (!s) {
            fprintf(stderr, "tickpipe %s: %s:%d: unknown setting '%s'\n", cmd, path, lineno, key);
            return -1;
        }
        if (apply(cmd, s, val, origin, &reset[s - tab]) < 0) return -1;
    }
    return 0;
}

static int load_config(const char *cmd, struct tp_setting *tab, size_t n, const char *path,
                       bool *reset)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tickpipe %s: --config: cannot open '%s': %s\n", cmd, path,
                strerror(errno));
        return -1;
    }
    /* Kept until exit: setting values point into it. */
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!text || len > CONFIG_MAX_BYTES) {
        fprintf(stderr, "tickpipe %s: --config: '%s' is larger than 1 MiB\n", cmd, path);
        free(text);
        return -1;
    }
    text[len] = 0;
    char *origin = malloc(strlen(path) + 8);
    if (!origin) return -1;
    snprintf(origin, strlen(path) + 8, "config %s", path);
    return tp_settings_config_apply(cmd, tab, n, path, origin, text, reset);
}

int tp_settings_parse(const char *cmd, struct tp_setting *tab, size_t n, int argc, char **argv,
                      struct tp_settings_result *ret)
{
    bool reset[n > 0 ? n : 1];
    ret->positional = calloc((size_t)argc + 1, sizeof(char *));
    ret->npositional = 0;
    if (!ret->positional) return TP_EXIT_RUNTIME;

    for (size_t i = 0; i < n; i++) {
        struct tp_setting *s = &tab[i];
        s->str = NULL;
        s->i = 0;
        s->d = 0;
        s->b = false;
        s->nlist = 0;
        reset[i] = true; /* defaults are replaced, not appended to */
        if (s->def && *s->def) {
            if (apply(cmd, s, s->def, "default", &reset[i]) < 0) abort();
            reset[i] = false;
        }
        s->origin = "default";
    }

    /* The config file: -c/--config flag, else TICKPIPE_CONFIG. */
    const char *config = getenv("TICKPIPE_CONFIG");
    for (int a = 1; a < argc; a++) {
        if ((!strcmp(argv[a], "-c") || !strcmp(argv[a], "--config")) && a + 1 < argc)
            config = argv[a + 1];
        else if (!strncmp(argv[a], "--config=", 9))
            config = argv[a] + 9;
    }
    if (config && *config) {
        for (size_t i = 0; i < n; i++) reset[i] = false;
        if (load_config(cmd, tab, n, config, reset) < 0) return TP_EXIT_USAGE;
    }

    bool env_reset[n > 0 ? n : 1];
    for (size_t i = 0; i < n; i++) {
        env_reset[i] = false;
        char var[128];
        env_name(tab[i].name, var, sizeof var);
        const char *v = getenv(var);
        if (!v) continue;
        if (tab[i].type == TP_SET_LIST) {
            /* a list in one variable: comma- or space-separated values are one value each
             * only when separated by ';' (commas are common inside a value) */
            char *copy = strdup(v);
            if (!copy) return TP_EXIT_RUNTIME;
            for (char *p = copy, *q; p; p = q) {
                q = strchr(p, ';');
                if (q) *q++ = 0;
                char *t = trim(p);
                if (*t && apply(cmd, &tab[i], t, "environment", &env_reset[i]) < 0)
                    return TP_EXIT_USAGE;
            }
        } else if (apply(cmd, &tab[i], v, "environment", &env_reset[i]) < 0) {
            return TP_EXIT_USAGE;
        }
    }

    bool flag_reset[n > 0 ? n : 1];
    for (size_t i = 0; i < n; i++) flag_reset[i] = false;
    bool only_positional = false;
    for (int a = 1; a < argc; a++) {
        char *arg = argv[a];
        if (only_positional || arg[0] != '-' || !strcmp(arg, "-")) {
            ret->positional[ret->npositional++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(arg, "-c") || !strcmp(arg, "--config")) {
            if (a + 1 >= argc) {
                fprintf(stderr, "tickpipe %s: %s needs a file\n", cmd, arg);
                return TP_EXIT_USAGE;
            }
            a++;
            continue;
        }
        if (!strncmp(arg, "--config=", 9)) continue;
        struct tp_setting *s = NULL;
        const char *val = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t i = 0; i < n; i++)
                if (strlen(tab[i].name) == nl && !strncmp(tab[i].name, name, nl)) s = &tab[i];
            if (eq) val = eq + 1;
        } else if (arg[1] && !arg[2]) {
            for (size_t i = 0; i < n; i++)
                if (tab[i].short_flag == arg[1]) s = &tab[i];
        }
        if (!s) {
            fprintf(stderr, "tickpipe %s: unknown option '%s' (see 'tickpipe help %s')\n", cmd, arg,
                    cmd);
            return TP_EXIT_USAGE;
        }
        if (s->type == TP_SET_BOOL && !val) {
            s->b = true;
            s->origin = "flag";
            continue;
        }
        if (!val) {
            if (a + 1 >= argc) {
                fprintf(stderr, "tickpipe %s: --%s needs a value\n", cmd, s->name);
                return TP_EXIT_USAGE;
            }
            val = argv[++a];
        }
        if (apply(cmd, s, val, "flag", &flag_reset[s - tab]) < 0) return TP_EXIT_USAGE;
    }
    return 0;
}

void tp_settings_help(FILE *f, const struct tp_setting *tab, size_t n)
{
    fprintf(f, "\nSettings (flag, environment variable, default):\n");
    for (size_t i = 0; i < n; i++) {
        char var[128];
        env_name(tab[i].name, var, sizeof var);
        const char *arg = tab[i].type == TP_SET_BOOL   ? ""
                          : tab[i].type == TP_SET_LIST ? " V..."
                                                       : " V";
        char flag[96];
        if (tab[i].short_flag)
            snprintf(flag, sizeof flag, "-%c, --%s%s", tab[i].short_flag, tab[i].name, arg);
        else
            snprintf(flag, sizeof flag, "--%s%s", tab[i].name, arg);
        fprintf(f, "  %-28s %s\n", flag, tab[i].help);
        fprintf(f, "  %-28s env %s, default: %s\n", "", var,
                tab[i].def && *tab[i].def ? tab[i].def : "(none)");
    }
    fprintf(f, "\nPrecedence: flags, then environment, then the config file (-c FILE or\n"
               "TICKPIPE_CONFIG; lines 'key = value'), then defaults.\n");
}
