/*
 * main.c — the tickpipe binary: subcommand dispatch, version and help (DESIGN.md §4).
 * Signals are set up by the commands that run long (cli/cmd_run.c).
 */
#include "cli/commands.h"

#define TP_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "tickpipe %s — a real-time market data pipeline\n\n"
            "usage: tickpipe COMMAND [ARGS]\n\ncommands:\n",
            TP_VERSION);
    for (size_t i = 0; i < tp_ncommands; i++)
        fprintf(f, "  %-10s %s\n", tp_commands[i].name, tp_commands[i].summary);
    fprintf(f, "  %-10s %s\n  %-10s %s\n", "version", "print the version", "help",
            "help [COMMAND]: this text, or a command's usage and settings");
    fprintf(f, "\nExit codes: 0 ok, 1 the work found a problem, 2 usage or configuration "
               "error, 3 runtime failure.\n");
}

static const struct tp_command *find(const char *name)
{
    for (size_t i = 0; i < tp_ncommands; i++)
        if (!strcmp(tp_commands[i].name, name)) return &tp_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tickpipe %s\n", TP_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const struct tp_command *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "tickpipe help: unknown command '%s'\n", argv[2]);
            return TP_EXIT_USAGE;
        }
        char *hargv[] = {argv[2], "--help", NULL};
        return c->fn(2, hargv);
    }
    const struct tp_command *c = find(cmd);
    if (!c) {
        fprintf(stderr, "tickpipe: unknown command '%s' (see 'tickpipe help')\n", cmd);
        return TP_EXIT_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}
