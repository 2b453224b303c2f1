/*
 * journal_bench.c — throughput of the embedded journal (log/journal.h): append rate of
 * ~60-byte trade records with TP_SYNC_NONE and with group commit every 5 ms, the cost of
 * encoding them (log/record.h), and the read rate of a cursor. Each measurement runs `--runs`
 * times (default 3) on a fresh directory and the median is printed.
 *
 *   journal_bench [--records N] [--runs N] [--dir PARENT]
 *
 * Records are encoded once into a ring of 4096 distinct payloads before timing, so the append
 * numbers measure the journal alone (the copy, the CRC, the write() calls, and for group
 * commit the committer's fdatasync running beside the writer).
 */
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/event.h"
#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"

#define RING 4096

static volatile size_t sink; /* keeps measured loops from being optimized away */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void make_event(uint64_t i, uint32_t instr, struct tp_event *e)
{
    tp_event_init(e, TP_KIND_TRADE);
    e->instr = instr;
    e->ts = INT64_C(1795437240000000000) + (int64_t)i * 1000003;
    e->ts_recv = e->ts + 250000 + (int64_t)(i % 1000);
    e->price = 50000.0 + (double)(i % 10007) * 0.01;
    e->size = 0.001 * (double)(1 + i % 97);
    e->side = (uint8_t)(1 + i % 2);
    e->flags = TP_EV_TS_VENUE;
    tp_event_set_id(e, 1000000000 + i);
    tp_event_set_vsym(e, "BTCUSDT", 7);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

struct ring {
    struct tp_buf buf;
    size_t off[RING + 1];
};

static double now_s(void)
{
    return (double)tp_mono_ns() / 1e9;
}

/* One append run: returns records/s of the appends (close excluded); *with_close includes
 * the final flush and sync; *read_rate is the cursor's records/s over the result. */
static int run(const char *parent, enum tp_sync_mode mode, uint64_t n, const struct ring *r,
               double *rate, double *with_close, double *read_rate)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tpbench-XXXXXX", parent);
    if (!mkdtemp(dir)) return -errno;
    struct tp_journal_opts o;
    tp_journal_opts_default(&o, dir);
    o.sync = mode;
    struct tp_journal *j;
    int rc = tp_journal_open(&o, &j, NULL);
    if (rc < 0) return rc;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        size_t k = i % RING;
        rc = tp_journal_append(j, r->buf.p + r->off[k], r->off[k + 1] - r->off[k], NULL);
        if (rc < 0) break;
    }
    double t1 = now_s();
    int crc = tp_journal_close(j);
    double t2 = now_s();
    if (rc < 0 || crc < 0) return rc < 0 ? rc : crc;
    *rate = (double)n / (t1 - t0);
    *with_close = (double)n / (t2 - t0);
    struct tp_cursor *c;
    rc = tp_cursor_open(dir, 0, NULL, false, &c);
    if (rc < 0) return rc;
    const void *p;
    size_t len;
    uint64_t off, got = 0;
    double t3 = now_s();
    while ((rc = tp_cursor_next(c, &p, &len, &off)) == 1) {
        got++;
        sink += len;
    }
    double t4 = now_s();
    tp_cursor_close(c);
    if (rc < 0 || got != n) return rc < 0 ? rc : -EIO;
    *read_rate = (double)n / (t4 - t3);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = 5000000;
    int runs = 3;
    const char *parent = getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--records"))
            n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--runs"))
            runs = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dir"))
            parent = argv[i + 1];
        else {
            fprintf(stderr, "usage: journal_bench [--records N] [--runs N] [--dir PARENT]\n");
            return 2;
        }
    }
    if (n == 0 || runs < 1 || runs > 99) return 2;
    uint32_t instr;
    tp_instr_intern("binance:BTC-USDT", 16, &instr);
    static struct ring r;
    tp_buf_init(&r.buf, 1 << 24);
    struct tp_event e;
    for (size_t i = 0; i < RING; i++) {
        r.off[i] = r.buf.len;
        make_event(i, instr, &e);
        tp_rec_put_event(&r.buf, &e);
    }
    r.off[RING] = r.buf.len;
    printf("journal_bench: %llu records of %.1f bytes on average (payload), median of %d runs\n",
           (unsigned long long)n, (double)r.buf.len / RING, runs);

    /* Encoding alone. */
    double enc[99];
    struct tp_buf b;
    tp_buf_init(&b, 4096);
    for (int k = 0; k < runs; k++) {
        double t0 = now_s();
        size_t total = 0;
        for (uint64_t i = 0; i < n; i++) {
            make_event(i, instr, &e);
            tp_buf_reset(&b);
            tp_rec_put_event(&b, &e);
            total += b.len;
        }
        enc[k] = (double)n / (now_s() - t0);
        sink += total;
    }
    tp_buf_fini(&b);
    printf("  encode event          %8.2f M records/s\n", median(enc, runs) / 1e6);

    static const struct {
        enum tp_sync_mode mode;
        const char *name;
    } modes[] = {{TP_SYNC_NONE, "none"}, {TP_SYNC_GROUP, "group 5ms"}};
    for (size_t m = 0; m < 2; m++) {
        double a[99], ac[99], rd[99];
        for (int k = 0; k < runs; k++) {
            int rc = run(parent, modes[m].mode, n, &r, &a[k], &ac[k], &rd[k]);
            if (rc < 0) {
                fprintf(stderr, "journal_bench: %s: %s\n", modes[m].name, strerror(-rc));
                return 3;
            }
        }
        double bytes = (double)(r.buf.len + 8 * RING) / RING;
        double ma = median(a, runs);
        printf("  append sync=%-9s %8.2f M records/s (%6.0f MB/s); with close %6.2f M/s; "
               "cursor read %6.2f M records/s\n",
               modes[m].name, ma / 1e6, ma * bytes / 1e6, median(ac, runs) / 1e6,
               median(rd, runs) / 1e6);
    }
    tp_buf_fini(&r.buf);
    return 0;
}
