/*
 * commands.c — the command table.
 */
#include "cli/commands.h"

const struct tp_command tp_commands[] = {
    {"run", "run the pipeline: sources -> journal -> engine -> outputs", tp_cmd_run},
    {"replay", "run the engine over files as fast as possible; write bars, anomalies, late",
     tp_cmd_replay},
    {"gen", "generate a synthetic dataset", tp_cmd_gen},
    {"validate", "check the data in the lake and the database", tp_cmd_validate},
    {"etl", "compute interval summaries", tp_cmd_etl},
    {"compact", "compact the lake's small files", tp_cmd_compact},
    {"journal", "inspect a journal: tickpipe journal dump|verify DIR", tp_cmd_journal},
};
const size_t tp_ncommands = TP_ARRAY_LEN(tp_commands);

bool tp_cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return false;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    }
    return false;
}
