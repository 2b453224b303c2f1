/*
 * journal_bars.c — a test helper: prints the final bars of an output journal as CSV lines in
 * exactly the format of `tickpipe replay`'s bars.csv (the header, then one line per
 * TP_REC_BAR with `final` set, in journal order, through sink/csvout.h), so that a test can
 * compare what `tickpipe run` journaled with what `tickpipe replay` wrote.
 *
 *   journal_bars DIR      DIR is a journal directory (DATA/journal/output)
 *
 * Exit 0; 1 when a record does not decode or the journal cannot be read (message on stderr);
 * 2 on usage.
 */
#include <stdio.h>

#include "core/buf.h"
#include "log/journal.h"
#include "log/record.h"
#include "log/segment.h"
#include "sink/csvout.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: journal_bars DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    struct tp_seg_list l;
    int rc = tp_seg_list(dir, &l);
    if (rc < 0) {
        fprintf(stderr, "journal_bars: %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    uint64_t first = l.n ? l.base[0] : 0;
    size_t nseg = l.n;
    tp_seg_list_free(&l);
    fputs(tp_csv_header(TP_CSV_BARS), stdout);
    if (!nseg) return 0;
    struct tp_cursor *c;
    if ((rc = tp_cursor_open(dir, first, NULL, false, &c)) < 0) {
        fprintf(stderr, "journal_bars: %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    struct tp_buf b;
    tp_buf_init(&b, 1 << 20);
    const void *p;
    size_t n;
    uint64_t off;
    int ret = 0;
    while ((rc = tp_cursor_next(c, &p, &n, &off)) > 0) {
        if (tp_rec_type(p, n) != TP_REC_BAR) continue;
        struct tp_bar bar;
        if (tp_rec_get_bar(p, n, &bar) < 0) {
            fprintf(stderr, "journal_bars: %s: record %llu does not decode\n", dir,
                    (unsigned long long)off);
            ret = 1;
            break;
        }
        if (!bar.final) continue;
        tp_buf_reset(&b);
        if (tp_csv_put_bar(&b, &bar) < 0) {
            ret = 1;
            break;
        }
        fwrite(b.p, 1, b.len, stdout);
    }
    if (rc < 0) {
        fprintf(stderr, "journal_bars: %s: %s: %s\n", dir, tp_cursor_where(c), strerror(-rc));
        ret = 1;
    }
    tp_cursor_close(c);
    tp_buf_fini(&b);
    if (fflush(stdout) != 0) ret = 1;
    return ret;
}
