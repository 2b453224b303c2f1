/*
 * csv2journal.c — a small converter for the benchmarks: reads a trades CSV with the same reader
 * `tickpipe replay` uses (source/csvin) and appends each event, as a TP_REC_EVENT record, to a
 * journal directory, so that `tickpipe replay DIR --input-format journal` replays exactly the
 * events a CSV replay of the file sees. Bad rows are skipped and counted, as replay does.
 *
 *   csv2journal FILE.csv JOURNAL_DIR
 *
 * Built by bench/replay_vs_duckdb.sh against build/libtpcore.a (not part of the tickpipe
 * binary). The journal is written without fsync (TP_SYNC_NONE; closing syncs once): it is
 * benchmark input, not a system of record.
 */
#include "core/buf.h"
#include "log/journal.h"
#include "log/record.h"
#include "source/csvin.h"

int main(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: csv2journal FILE.csv JOURNAL_DIR\n");
        return 2;
    }
    char err[256];
    struct tp_csvin_opts copts = {0};
    struct tp_csvin *in;
    int rc = tp_csvin_open(argv[1], &copts, &in, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "csv2journal: %s: %s\n", argv[1], err);
        return 3;
    }
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, argv[2]);
    jo.sync = TP_SYNC_NONE;
    jo.write_buffer = 4u << 20;
    struct tp_journal *j;
    if ((rc = tp_journal_open(&jo, &j, NULL)) < 0) {
        fprintf(stderr, "csv2journal: %s: %s\n", argv[2], strerror(-rc));
        tp_csvin_free(in);
        return 3;
    }
    struct tp_buf b;
    tp_buf_init(&b, 1u << 20);
    struct tp_event ev;
    uint64_t events = 0;
    while ((rc = tp_csvin_next(in, &ev)) != TP_CSVIN_EOF) {
        if (rc < 0) break;
        if (rc != TP_CSVIN_EVENT) continue;
        tp_buf_reset(&b);
        if ((rc = tp_rec_put_event(&b, &ev)) < 0) break;
        if ((rc = tp_journal_append(j, b.p, b.len, NULL)) < 0) break;
        events++;
    }
    tp_buf_fini(&b);
    int crc = tp_journal_close(j);
    uint64_t bad = tp_csvin_stats(in)->bad_total;
    tp_csvin_free(in);
    if (rc < 0 || crc < 0) {
        fprintf(stderr, "csv2journal: %s\n", strerror(rc < 0 ? -rc : -crc));
        return 3;
    }
    fprintf(stderr, "csv2journal: %llu events (%llu bad rows skipped) into %s\n",
            (unsigned long long)events, (unsigned long long)bad, argv[2]);
    return 0;
}
