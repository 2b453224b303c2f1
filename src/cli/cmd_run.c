/*
 * cmd_run.c — `tickpipe run` (placeholder until its module lands).
 */
#include "cli/commands.h"

int tp_cmd_run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tickpipe %s: not implemented in this version yet\n", argv[0]);
    return TP_EXIT_USAGE;
}
