/*
 * fuzz_settings.c — libFuzzer target for the settings parser (cli/settings.h): the config
 * file's `key = value` lines and the command line's flags.
 *
 * Input: config text, then optionally a NUL byte and command-line arguments separated by
 * line breaks (the config flags -c/--config are dropped: the text is the config). The table
 * has a setting of every type. The text goes through tp_settings_config_apply (the config
 * file parser), the arguments through tp_settings_parse. Properties:
 *   - every value accepted has its type's invariant: an integer ≥ 0, a finite double, a
 *     duration ≥ 0 that formats and parses back the same, at most TP_SET_LIST_MAX list values,
 *     a bool; and an origin;
 *   - tp_settings_parse returns 0 or TP_EXIT_USAGE; on 0, its positional arguments are
 *     arguments that were given, in order, and the last `--fz-str=V` given wins (the value is
 *     V, pointing into argv).
 */
#include <math.h>

#include "cli/settings.h"
#include "cli/settings_int.h"
#include "core/tptime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TAB_N 8

static void table(struct tp_setting *t)
{
    const struct tp_setting def[TAB_N] = {
        {.name = "fz-str", .type = TP_SET_STR, .def = "x", .help = "a string"},
        {.name = "fz-int", .type = TP_SET_INT, .def = "5", .help = "an integer"},
        {.name = "fz-dbl", .type = TP_SET_DOUBLE, .def = "1.5", .help = "a number"},
        {.name = "fz-dur", .type = TP_SET_DUR, .def = "1s", .help = "a duration"},
        {.name = "fz-bool", .type = TP_SET_BOOL, .def = "", .help = "a flag", .short_flag = 'b'},
        {.name = "fz-list", .type = TP_SET_LIST, .def = "a", .help = "a list"},
        {.name = "data-dir", .type = TP_SET_STR, .def = "", .help = "dir", .short_flag = 'd'},
        {.name = "source", .type = TP_SET_LIST, .def = "sim", .help = "sources"},
    };
    memcpy(t, def, sizeof def);
}

static void check(const struct tp_setting *t)
{
    for (size_t i = 0; i < TAB_N; i++) {
        const struct tp_setting *s = &t[i];
        if (!s->origin) abort();
        switch (s->type) {
        case TP_SET_INT:
            if (s->i < 0) abort();
            break;
        case TP_SET_DOUBLE:
            if (!isfinite(s->d)) abort();
            break;
        case TP_SET_DUR: {
            if (s->i < 0) abort();
            char out[64];
            int64_t back;
            tp_duration_format(s->i, out, sizeof out);
            if (tp_duration_parse(out, &back) != 0 || back != s->i) abort();
            break;
        }
        case TP_SET_LIST:
            if (s->nlist > TP_SET_LIST_MAX) abort();
            for (size_t k = 0; k < s->nlist; k++)
                if (!s->list[k]) abort();
            break;
        default:
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        unsetenv("TICKPIPE_CONFIG");
        init = true;
    }
    if (size > (64u << 10)) return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t clen = nul ? (size_t)(nul - data) : size;

    /* Arguments first (tp_settings_parse resets the table to its defaults). */
    char *args = malloc(size - clen + 1);
    char *argv[130];
    int argc = 0;
    argv[argc++] = "fuzz";
    if (!args) abort();
    if (nul) {
        size_t an = size - clen - 1;
        memcpy(args, nul + 1, an);
        args[an] = 0;
        for (char *a = args, *nl; a && argc < 129; a = nl) {
            nl = strchr(a, '\n');
            if (nl) *nl++ = 0;
            if (!strcmp(a, "-c") || !strcmp(a, "--config") || !strncmp(a, "--config=", 9)) continue;
            argv[argc++] = a;
        }
    }
    argv[argc] = NULL;
    struct tp_setting t[TAB_N];
    table(t);
    struct tp_settings_result res;
    int rc = tp_settings_parse("fuzz", t, TAB_N, argc, argv, &res);
    if (rc != 0 && rc != TP_EXIT_USAGE) abort();
    if (rc == 0) {
        check(t);
        if (res.npositional < 0 || res.npositional >= argc) abort();
        int at = 1;
        for (int i = 0; i < res.npositional; i++) {
            while (at < argc && argv[at] != res.positional[i]) at++;
            if (at == argc) abort(); /* not an argument, or out of order */
            at++;
        }
        const char *last = NULL;
        bool after_dashdash = false;
        for (int a = 1; a < argc; a++) {
            if (after_dashdash) continue;
            if (!strcmp(argv[a], "--"))
                after_dashdash = true;
            else if (!strncmp(argv[a], "--fz-str=", 9))
                last = argv[a] + 9;
            else if (!strcmp(argv[a], "--fz-str") && a + 1 < argc)
                last = argv[++a];
            else if (argv[a][0] == '-' && argv[a][1] && !strchr(argv[a], '=') && a + 1 < argc &&
                     strcmp(argv[a], "-b") && strcmp(argv[a], "--fz-bool"))
                a++; /* a flag taking the next argument as its value */
        }
        if (last && t[0].str != last) abort();
    }
    free(res.positional);
    free(args);

    /* The config text. */
    char *text = malloc(clen + 1);
    if (!text) abort();
    memcpy(text, data, clen);
    text[clen] = 0;
    table(t);
    if (tp_settings_parse("fuzz", t, TAB_N, 1, argv, &res) != 0) abort();
    free(res.positional);
    bool reset[TAB_N] = {false};
    if (tp_settings_config_apply("fuzz", t, TAB_N, "fuzz.conf", "config fuzz.conf", text, reset) ==
        0)
        check(t);
    free(text);
    return 0;
}
