/*
 * test_replay.c — `tickpipe replay` in process: replaying a journal of the events of a CSV file
 * gives byte-identical outputs to replaying the file (the eof convention is the same for both),
 * and the journal reader skips records that are not events. The golden cases and the error
 * paths are in tests/integration/replay_golden.sh.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/rng.h"
#include "log/journal.h"
#include "log/record.h"
#include "source/csvin.h"
#include "tpt.h"

static char root[256];

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rm_rf(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void make_root(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/test_replay_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp: %s", strerror(errno));
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) TPT_FAIL("open %s: %s", path, strerror(errno));
    struct tp_buf b;
    tp_buf_init(&b, 256u << 20);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) tp_buf_append(&b, chunk, got);
    fclose(f);
    tp_buf_putc(&b, 0);
    *n = b.len - 1;
    return b.p;
}

static int replay(char **args, int n)
{
    char *argv[32];
    argv[0] = "replay";
    for (int i = 0; i < n; i++) argv[i + 1] = args[i];
    argv[n + 1] = NULL;
    return tp_cmd_replay(n + 1, argv);
}

/* A random walk over three instruments with trades out of order, duplicates and quotes. */
static void write_csv(const char *path)
{
    struct tp_buf b;
    tp_buf_init(&b, 64u << 20);
    tp_buf_puts(&b, "ts,instrument,kind,price,size,side,trade_id,bid,ask\n");
    struct tp_rng r;
    tp_rng_seed(&r, 7);
    const char *names[] = {"sim:AAA", "sim:BBB", "fmp:EUR-USD"};
    double px[] = {100, 50, 1.08};
    int64_t t = INT64_C(1795437240) * 1000; /* ms */
    for (int i = 0; i < 6000; i++) {
        int k = (int)(tp_rng_u64(&r) % 3);
        t += (int64_t)(tp_rng_u64(&r) % 400);
        int64_t ts = t - (int64_t)(tp_rng_u64(&r) % 5 == 0 ? tp_rng_u64(&r) % 4000 : 0);
        px[k] *= 1 + ((double)(tp_rng_u64(&r) % 2001) - 1000) / 1e6;
        if (k == 2) {
            double spread = tp_rng_u64(&r) % 50 == 0 ? -0.0001 : 0.0002;
            tp_buf_printf(&b, "%lld,%s,quote,,,,,%.5f,%.5f\n", (long long)ts, names[k], px[k],
                          px[k] + spread);
        } else {
            int id = i - (tp_rng_u64(&r) % 30 == 0 ? 3 : 0); /* some ids repeat */
            tp_buf_printf(&b, "%lld,%s,trade,%.4f,%.3f,%s,%d,,\n", (long long)ts, names[k], px[k],
                          (double)(tp_rng_u64(&r) % 1000) / 100, i % 2 ? "buy" : "sell", id);
        }
    }
    FILE *f = fopen(path, "wb");
    fwrite(b.p, 1, b.len, f);
    fclose(f);
    tp_buf_fini(&b);
}

/* Writes the events of a CSV file into a journal, with a source position record in between. */
static void write_journal(const char *csv, const char *dir)
{
    struct tp_journal_opts o;
    tp_journal_opts_default(&o, dir);
    o.sync = TP_SYNC_NONE;
    o.segment_bytes = 64 << 10; /* several segments */
    struct tp_journal *j;
    ASSERT_EQ_INT(tp_journal_open(&o, &j, NULL), 0);
    struct tp_csvin *in;
    char err[256];
    struct tp_csvin_opts co = {0};
    ASSERT_EQ_INT(tp_csvin_open(csv, &co, &in, err, sizeof err), 0);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 20);
    struct tp_event ev;
    int rc, n = 0;
    while ((rc = tp_csvin_next(in, &ev)) != TP_CSVIN_EOF) {
        ASSERT_EQ_INT(rc, TP_CSVIN_EVENT);
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_event(&b, &ev), 0);
        ASSERT_EQ_INT(tp_journal_append(j, b.p, b.len, NULL), 0);
        if (++n % 1000 == 0) {
            struct tp_source_pos sp = {.offset = tp_csvin_offset(in), .line = tp_csvin_lines(in)};
            snprintf(sp.source, sizeof sp.source, "replay:%.100s", csv);
            tp_buf_reset(&b);
            ASSERT_EQ_INT(tp_rec_put_source_pos(&b, &sp), 0);
            ASSERT_EQ_INT(tp_journal_append(j, b.p, b.len, NULL), 0);
        }
    }
    tp_buf_fini(&b);
    tp_csvin_free(in);
    ASSERT_EQ_INT(tp_journal_close(j), 0);
}

static void same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *pa = slurp(a, &na), *pb = slurp(b, &nb);
    bool same = na == nb && !memcmp(pa, pb, na);
    free(pa);
    free(pb);
    if (!same) TPT_FAIL("%s (%zu bytes) and %s (%zu bytes) differ", a, na, b, nb);
}

static void test_journal_equals_csv(void)
{
    make_root();
    char csv[300], jdir[300], out_csv[300], out_j[300];
    snprintf(csv, sizeof csv, "%s/in.csv", root);
    snprintf(jdir, sizeof jdir, "%s/journal", root);
    snprintf(out_csv, sizeof out_csv, "%s/out_csv", root);
    snprintf(out_j, sizeof out_j, "%s/out_journal", root);
    write_csv(csv);
    write_journal(csv, jdir);

    char *a1[] = {csv, "--out", out_csv, "--intervals", "1s,1m,5m", "--zscore-window", "20"};
    ASSERT_EQ_INT(replay(a1, 7), 0);
    char *a2[] = {jdir,          "--input-format", "journal",         "--out", out_j,
                  "--intervals", "1s,1m,5m",       "--zscore-window", "20"};
    ASSERT_EQ_INT(replay(a2, 9), 0);

    const char *files[] = {"bars.csv", "anomalies.csv", "late.csv"};
    for (size_t i = 0; i < TP_ARRAY_LEN(files); i++) {
        char pa[400], pb[400];
        snprintf(pa, sizeof pa, "%s/%s", out_csv, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", out_j, files[i]);
        same_file(pa, pb);
    }
    /* the data is not trivial: bars, late rows, duplicates and crossed quotes all appear */
    size_t n;
    char path[400];
    snprintf(path, sizeof path, "%s/late.csv", out_csv);
    char *late = slurp(path, &n);
    ASSERT(strstr(late, ",1s\n") != NULL);
    free(late);
    snprintf(path, sizeof path, "%s/anomalies.csv", out_csv);
    char *an = slurp(path, &n);
    ASSERT(strstr(an, "crossed_quote") != NULL);
    free(an);
    snprintf(path, sizeof path, "%s/stats.json", out_j);
    char *st = slurp(path, &n);
    ASSERT(strstr(st, "\"format\": \"journal\", \"events\": 6000") != NULL);
    ASSERT(strstr(st, "\"duplicates\": 0,") == NULL);
    free(st);
    rm_rf(root);
}

static void test_empty_inputs(void)
{
    make_root();
    char csv[300], jdir[300], out[300];
    snprintf(csv, sizeof csv, "%s/empty.csv", root);
    snprintf(jdir, sizeof jdir, "%s/journal", root);
    snprintf(out, sizeof out, "%s/out", root);
    FILE *f = fopen(csv, "w");
    fputs("ts,instrument,price,size\n", f);
    fclose(f);
    ASSERT_EQ_INT(mkdir(jdir, 0755), 0);
    char *a1[] = {csv, "--out", out};
    ASSERT_EQ_INT(replay(a1, 3), 0);
    char path[400];
    size_t n;
    snprintf(path, sizeof path, "%s/bars.csv", out);
    char *bars = slurp(path, &n);
    ASSERT(!strncmp(bars, "instrument,interval,ts,", 23) && strchr(bars, '\n') == bars + n - 1);
    free(bars);
    char *a2[] = {jdir, "--input-format", "journal", "--out", out};
    ASSERT_EQ_INT(replay(a2, 5), 0);
    rm_rf(root);
}

TPT_MAIN({"journal_equals_csv", test_journal_equals_csv}, {"empty_inputs", test_empty_inputs})
