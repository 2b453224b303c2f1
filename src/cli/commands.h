/*
 * commands.h — the subcommands of the tickpipe binary (DESIGN.md §4). Each takes the
 * arguments after the program name (argv[0] is the command name), returns an exit code
 * (TP_EXIT_*), and prints its usage and settings for `--help` / `tickpipe help COMMAND`.
 * Main thread.
 */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

#include "core/tp.h"

struct tp_command {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
};

int tp_cmd_run(int argc, char **argv);
int tp_cmd_replay(int argc, char **argv);
int tp_cmd_gen(int argc, char **argv);
int tp_cmd_validate(int argc, char **argv);
int tp_cmd_etl(int argc, char **argv);
int tp_cmd_compact(int argc, char **argv);
int tp_cmd_journal(int argc, char **argv);

/* True when argv asks for help (--help or -h anywhere before "--"). */
bool tp_cmd_wants_help(int argc, char **argv);

/* The table of commands, for dispatch and `tickpipe help`. */
extern const struct tp_command tp_commands[];
extern const size_t tp_ncommands;

#endif
