/*
 * lakefiles.h — the list of files in a data lake (DESIGN.md §5), for the commands that read
 * the lake from outside the writer: `tickpipe validate` and the S3 uploader.
 *
 *   LAKE/ticks/date=D/venue=V/part-<log>-<partition>-<first>-<last>.parquet
 *   LAKE/bars/interval=I/date=D/part-....parquet
 *   LAKE/anomalies/date=D/...   LAKE/late/date=D/...   LAKE/gaps/date=D/...
 *
 * The walk lists every regular *.parquet file under the five table directories (*.tmp files,
 * names starting with '.' or '_', and other tables are left out: a writer's staging and
 * state files are never listed) with its path relative to LAKE, its table, its hive partition
 * values (unescaped: %XX → byte) and, when its name has the writer's form, the log and offset
 * range. It never opens the files and never follows a symbolic link out of the tree.
 *
 * Limits: at most TP_LAKE_FILES_MAX files and TP_LAKE_DEPTH_MAX directory levels; beyond
 * them -E2BIG. Pure I/O, no logging; any thread.
 */
#ifndef TP_LAKEFILES_H
#define TP_LAKEFILES_H

#include "core/tp.h"

#define TP_LAKE_FILES_MAX (1u << 22)
#define TP_LAKE_DEPTH_MAX 8
#define TP_LAKE_PATH_MAX  1024
#define TP_LAKE_PVAL_MAX  64 /* longest partition value kept, bytes */

enum tp_lf_table { TP_LF_TICKS = 0, TP_LF_BARS, TP_LF_ANOMALIES, TP_LF_LATE, TP_LF_GAPS, TP_LF_N };

/* "ticks", "bars", ... Static. */
const char *tp_lf_table_name(enum tp_lf_table t);

struct tp_lake_file {
    char *rel; /* owned: path relative to the lake root */
    enum tp_lf_table table;
    char date[TP_LAKE_PVAL_MAX + 1]; /* date=... value, "" when absent */
    char venue[TP_LAKE_PVAL_MAX + 1];
    char interval[TP_LAKE_PVAL_MAX + 1];
    bool bad_partition; /* a directory level is not key=value, or a key is unexpected */
    bool named;         /* the name is part-<log>-<partition>-<first>-<last>.parquet */
    char log[16];       /* "input", "output", ... when named */
    uint32_t partition;
    uint64_t first, last;
    uint64_t size;
    int64_t mtime_ns;
    int64_t rows; /* -1 until a reader of the file fills it in (validate) */
};

struct tp_lake_files {
    struct tp_lake_file *v; /* owned; sorted by rel */
    size_t n, cap;
};

/* Lists the files of the lake rooted at lake. A missing root is an empty list (0). 0 or a
 * negative errno (-E2BIG past the limits). *ret is filled; free with tp_lake_files_fini. */
int tp_lake_files_list(const char *lake, struct tp_lake_files *ret);
void tp_lake_files_fini(struct tp_lake_files *f);

/* Parses a writer's file name "part-<log>-<partition>-<first>-<last>.parquet" (log: letters,
 * digits, '_' and '.'; the numbers decimal, first ≤ last). */
bool tp_lake_name_parse(const char *name, char log[16], uint32_t *partition, uint64_t *first,
                        uint64_t *last);

#endif
