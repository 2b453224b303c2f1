/*
 * test_lake.c — the data lake: hive escaping, part file names, the ack file, the cleanup past
 * the ack, the batch writer (boundaries, partitions, sorting, columns, nulls) read back with
 * tickpipe's Parquet reader and the tick reader, the sink over real journals across a
 * simulated crash (files past the ack removed and rewritten, every tick exactly once), and
 * compaction (same rows, one sorted file, the directory swapped).
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "sink/lake.h"
#include "tpt.h"

static char root[64];

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/tp_lake_XXXXXX");
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp: %s", strerror(errno));
}

static void cleanup(void)
{
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

static void touch(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    ASSERT_EQ_INT(tp_lake_mkdirs(dir), 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, "x", 1), 1);
    close(fd);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint32_t instr(const char *name)
{
    uint32_t id;
    if (tp_instr_intern(name, strlen(name), &id) < 0) TPT_FAIL("intern %s", name);
    return id;
}

/* ---- names ---- */

static void test_escape(void)
{
    char out[256];
    ASSERT_EQ_INT(tp_lake_escape("binance", 7, out, sizeof out), 7);
    ASSERT_EQ_STR(out, "binance");
    ASSERT_EQ_INT(tp_lake_escape("2026-11-23", 10, out, sizeof out), 10);
    ASSERT_EQ_STR(out, "2026-11-23");
    /* every character Hive escapes, and some it keeps (space, comma, '-', '.', UTF-8) */
    const char in[] = "a/b:c=d%e#f?g\\h'i\"j*k{l[m]n^o p,q-r.s\xc3\xa9";
    int n = tp_lake_escape(in, strlen(in), out, sizeof out);
    ASSERT_EQ_STR(out, "a%2Fb%3Ac%3Dd%25e%23f%3Fg%5Ch%27i%22j%2Ak%7Bl%5Bm%5Dn%5Eo p,q-r.s\xc3\xa9");
    ASSERT_EQ_INT(n, (int)strlen(out));
    ASSERT_EQ_INT(tp_lake_escape("\x01\x1f\x7f\n", 4, out, sizeof out), 12);
    ASSERT_EQ_STR(out, "%01%1F%7F%0A");
    ASSERT(tp_lake_escape("", 0, out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "__HIVE_DEFAULT_PARTITION__");
    ASSERT_EQ_INT(tp_lake_escape("abc/", 4, out, 6), -ENAMETOOLONG);
    ASSERT_EQ_INT(tp_lake_escape("abc/", 4, out, 7), 6);
    /* every byte round-trips through escape and unescape */
    char all[255], esc[1024], back[256];
    for (int i = 0; i < 255; i++) all[i] = (char)(i + 1);
    n = tp_lake_escape(all, sizeof all, esc, sizeof esc);
    ASSERT(n > 255);
    for (int i = 0; i < n; i++) ASSERT(esc[i] != '/' && esc[i] != '=' && esc[i] != ':');
    ASSERT_EQ_INT(tp_lake_unescape(esc, (size_t)n, back, sizeof back), 255);
    ASSERT(!memcmp(back, all, 255));
    /* a lone or malformed % is kept */
    ASSERT_EQ_INT(tp_lake_unescape("a%2", 3, back, sizeof back), 3);
    ASSERT_EQ_STR(back, "a%2");
    ASSERT_EQ_INT(tp_lake_unescape("%zz%41", 6, back, sizeof back), 4);
    ASSERT_EQ_STR(back, "%zzA");
}

static void test_part_names(void)
{
    char name[TP_LAKE_NAME_MAX];
    ASSERT(tp_lake_part_name(TP_LOG_INPUT, 0, 0, 4194303, name, sizeof name) > 0);
    ASSERT_EQ_STR(name, "part-input-0-00000000000000000000-00000000000004194303.parquet");
    ASSERT(tp_lake_part_name(TP_LOG_OUTPUT, 7, UINT64_MAX - 1, UINT64_MAX, name, sizeof name) > 0);
    ASSERT_EQ_STR(name, "part-output-7-18446744073709551614-18446744073709551615.parquet");
    enum tp_sink_log log;
    uint32_t p;
    uint64_t f, l;
    ASSERT(tp_lake_parse_part_name(name, &log, &p, &f, &l));
    ASSERT_EQ_INT(log, TP_LOG_OUTPUT);
    ASSERT_EQ_INT(p, 7);
    ASSERT_EQ_U64(f, UINT64_MAX - 1);
    ASSERT_EQ_U64(l, UINT64_MAX);
    static const char *const bad[] = {
        "part-input-0-00000000000000000000-00000000000004194303.parquet.tmp",
        "part-input-0-0000000000000000000-00000000000004194303.parquet",
        "part-input-01-00000000000000000000-00000000000004194303.parquet",
        "part-inputs-0-00000000000000000000-00000000000004194303.parquet",
        "part-input-0-00000000000000000009-00000000000000000001.parquet",
        "part-input-0-99999999999999999999-99999999999999999999.parquet",
        "part-input--00000000000000000000-00000000000004194303.parquet",
        "x-input-0-00000000000000000000-00000000000004194303.parquet",
        "part-input-0-00000000000000000000-00000000000004194303.parquetx",
        "",
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        if (tp_lake_parse_part_name(bad[i], &log, &p, &f, &l)) TPT_FAIL("accepted '%s'", bad[i]);
}

static void test_ack_file(void)
{
    make_root();
    uint64_t a[2] = {1, 1};
    ASSERT_EQ_INT(tp_lake_ack_read(root, a), -ENOENT);
    const uint64_t w[2] = {4194304, 123};
    ASSERT_EQ_INT(tp_lake_ack_write(root, w), 0);
    ASSERT_EQ_INT(tp_lake_ack_read(root, a), 0);
    ASSERT_EQ_U64(a[0], 4194304);
    ASSERT_EQ_U64(a[1], 123);
    char path[256];
    snprintf(path, sizeof path, "%s/_tickpipe/ack.tmp", root);
    ASSERT(!exists(path));
    const uint64_t w2[2] = {0, UINT64_MAX};
    ASSERT_EQ_INT(tp_lake_ack_write(root, w2), 0);
    ASSERT_EQ_INT(tp_lake_ack_read(root, a), 0);
    ASSERT_EQ_U64(a[0], 0);
    ASSERT_EQ_U64(a[1], UINT64_MAX);
    static const char *const bad[] = {
        "",
        "tickpipe lake ack 1\ninput 1\n",
        "tickpipe lake ack 1\ninput 1\noutput 2\nmore\n",
        "tickpipe lake ack 1\ninput 01\noutput 2\n",
        "tickpipe lake ack 1\ninput 1\noutput 18446744073709551616\n",
        "tickpipe lake ack 2\ninput 1\noutput 2\n",
        "tickpipe lake ack 1\noutput 2\ninput 1\n",
        "tickpipe lake ack 1\ninput 1\noutput 2",
    };
    snprintf(path, sizeof path, "%s/_tickpipe/ack", root);
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        a[0] = 77;
        if (tp_lake_ack_read(root, a) != -EBADMSG) TPT_FAIL("accepted ack %zu", i);
        ASSERT_EQ_U64(a[0], 77);
    }
    /* the lock excludes a second holder */
    int fd1, fd2;
    ASSERT_EQ_INT(tp_lake_lock(root, false, &fd1), 0);
    ASSERT_EQ_INT(tp_lake_lock(root, false, &fd2), -EBUSY);
    tp_lake_unlock(fd1);
    ASSERT_EQ_INT(tp_lake_lock(root, false, &fd2), 0);
    tp_lake_unlock(fd2);
    cleanup();
}

static void test_remove_past(void)
{
    make_root();
    char p[16][512];
    const char *rel[] = {
        "ticks/date=2026-01-01/venue=sim/"
        "part-input-0-00000000000000000000-00000000000000000099.parquet",
        "ticks/date=2026-01-01/venue=sim/"
        "part-input-0-00000000000000000100-00000000000000000199.parquet",
        "ticks/date=2026-01-02/venue=sim/"
        "part-input-0-00000000000000000100-00000000000000000199.parquet",
        "ticks/date=2026-01-02/venue=sim/"
        "part-input-0-00000000000000000200-00000000000000000299.parquet.tmp",
        "ticks/date=2026-01-02/venue=sim/notes.txt",
        "bars/interval=1m/date=2026-01-01/"
        "part-output-0-00000000000000000000-00000000000000000009.parquet",
        "bars/interval=1m/date=2026-01-01/"
        "part-output-0-00000000000000000010-00000000000000000019.parquet",
        "gaps/date=2026-01-01/part-output-0-00000000000000000010-00000000000000000019.parquet",
        "late/date=2026-01-01/part-output-0-00000000000000000000-00000000000000000009.parquet.tmp",
    };
    /* ack: input 100 (the first file is in), output 10 */
    const bool keep[] = {true, false, false, false, true, true, false, false, false};
    for (size_t i = 0; i < TP_ARRAY_LEN(rel); i++) {
        snprintf(p[i], sizeof p[i], "%s/%s", root, rel[i]);
        touch(p[i]);
    }
    struct tp_lake_scan s;
    ASSERT_EQ_INT(tp_lake_remove_past(root, NULL, &s), 0); /* counting only */
    ASSERT_EQ_U64(s.parts, 6);
    ASSERT_EQ_U64(s.removed, 0);
    for (size_t i = 0; i < TP_ARRAY_LEN(rel); i++) ASSERT(exists(p[i]));
    const uint64_t ack[2] = {100, 10};
    ASSERT_EQ_INT(tp_lake_remove_past(root, ack, &s), 0);
    ASSERT_EQ_U64(s.removed, 6);
    ASSERT_EQ_U64(s.foreign, 1);
    for (size_t i = 0; i < TP_ARRAY_LEN(rel); i++)
        if (exists(p[i]) != keep[i]) TPT_FAIL("%s: exists %d, want %d", rel[i], !keep[i], keep[i]);
    cleanup();
}

/* ---- the writer ---- */

static struct tp_event trade(uint32_t id, int64_t ts, double price, double size, int side,
                             uint64_t tid)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = id;
    e.ts = ts;
    e.ts_recv = ts + 1500; /* 1.5 µs later */
    e.price = price;
    e.size = size;
    e.side = (uint8_t)side;
    e.flags = TP_EV_TS_VENUE;
    if (tid) tp_event_set_id(&e, tid);
    const char *name = tp_instr_name(id);
    const char *sym = strchr(name, ':') + 1;
    tp_event_set_vsym(&e, sym, strlen(sym));
    return e;
}

static int64_t day0(void)
{
    int64_t t;
    tp_time_parse("2026-11-23T23:59:59.999999999Z", 30, TP_TS_AUTO, &t);
    return t;
}

/* Reads every tick of a lake back (files in path order, rows in file order). */
static size_t read_ticks(const char *lake, struct tp_event *out, size_t cap, size_t *nfiles)
{
    char **paths;
    size_t n, k = 0;
    char err[256];
    ASSERT_EQ_INT(tp_lake_list_files(lake, &paths, &n), 0);
    for (size_t i = 0; i < n; i++) {
        struct tp_lake_ticks *t;
        if (tp_lake_ticks_open(paths[i], &t, err, sizeof err) < 0)
            TPT_FAIL("%s: %s", paths[i], err);
        int rc;
        struct tp_event e;
        while ((rc = tp_lake_ticks_next(t, &e, err, sizeof err)) == 1)
            if (k < cap) out[k++] = e;
        if (rc < 0) TPT_FAIL("%s: %s", paths[i], err);
        tp_lake_ticks_free(t);
        free(paths[i]);
    }
    free(paths);
    if (nfiles) *nfiles = n;
    return k;
}

static void test_writer_ticks(void)
{
    make_root();
    uint32_t a = instr("sim:BTC-USD"), b = instr("sim:AAA-USD"), c = instr("zzz:ETH-USD");
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, root);
    o.batch_offsets = 10;
    struct tp_lake_writer *w;
    ASSERT_EQ_INT(tp_lake_writer_new(&o, &w), 0);
    int64_t t0 = day0(); /* the last ns of 2026-11-23 */
    /* offsets 0..9: one batch; arrival order is not the file order */
    ASSERT_EQ_INT(tp_lake_skip(w, TP_LOG_INPUT, 0), 0);
    struct tp_event ev[9];
    ev[0] = trade(a, t0 + 5, 100.5, 2, TP_SIDE_BUY, 7);   /* 2026-11-24 */
    ev[1] = trade(a, t0, 100.25, 0.5, TP_SIDE_SELL, 6);   /* 2026-11-23 */
    ev[2] = trade(b, t0 + 3, 1.5, 1, TP_SIDE_UNKNOWN, 0); /* no id, no side */
    ev[3] = trade(a, t0 + 2, 100.75, 1, TP_SIDE_BUY, 9);  /* same ts as the next: offset order */
    ev[4] = trade(a, t0 + 2, 100.5, 3, TP_SIDE_BUY, 8);
    tp_event_set_id_str(&ev[4], "X-8", 3);
    ev[5] = trade(c, t0 + 1, 2000, 1, TP_SIDE_SELL, 1);
    tp_event_init(&ev[6], TP_KIND_QUOTE);
    ev[6].instr = b;
    ev[6].ts = ev[6].ts_recv = t0 + 4;
    ev[6].bid = 1.25;
    ev[6].ask = 1.75;
    ev[6].bid_size = 3;
    ev[6].value = -1;
    tp_event_init(&ev[7], TP_KIND_STATUS);
    ev[7].instr = a;
    ev[7].status = TP_ST_HEARTBEAT;
    ev[7].ts = t0 + 9;
    ev[8] = trade(a, t0 - 1000, 99, 1, TP_SIDE_BUY, 5);
    for (int i = 0; i < 9; i++) {
        ASSERT_EQ_INT(tp_lake_tick(w, (uint64_t)(i + 10), &ev[i]), 0);
        ASSERT(!tp_lake_due(w, TP_LOG_INPUT));
    }
    ASSERT_EQ_INT(tp_lake_tick(w, 15, &ev[0]), -EINVAL); /* offsets must ascend */
    ASSERT_EQ_INT(tp_lake_skip(w, TP_LOG_INPUT, 19), 0); /* the boundary (19 + 1) % 10 */
    ASSERT(tp_lake_due(w, TP_LOG_INPUT));
    uint64_t next = 0;
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0);
    ASSERT_EQ_U64(next, 20);
    ASSERT(!tp_lake_pending(w, TP_LOG_INPUT));
    struct tp_lake_stats st;
    tp_lake_writer_stats(w, &st);
    ASSERT_EQ_U64(st.files, 3); /* (23, sim), (24, sim), (23, zzz) */
    ASSERT_EQ_U64(st.rows, 8);
    tp_lake_writer_free(w);

    char path[512];
    const char *name = "part-input-0-00000000000000000000-00000000000000000019.parquet";
    snprintf(path, sizeof path, "%s/ticks/date=2026-11-23/venue=sim/%s", root, name);
    ASSERT(exists(path));
    snprintf(path, sizeof path, "%s/ticks/date=2026-11-24/venue=sim/%s", root, name);
    ASSERT(exists(path));
    snprintf(path, sizeof path, "%s/ticks/date=2026-11-24/venue=zzz/%s", root, name);
    ASSERT(exists(path));

    /* read back: files by path, rows by (instrument, ts, offset) */
    struct tp_event got[16];
    size_t nf, n = read_ticks(root, got, 16, &nf);
    ASSERT_EQ_U64(nf, 3);
    ASSERT_EQ_U64(n, 8);
    /* 2026-11-23/venue=sim: BTC t0-1000, t0 */
    ASSERT_EQ_STR(tp_instr_name(got[0].instr), "sim:BTC-USD");
    ASSERT_EQ_U64(got[0].ts, t0 - 1000);
    ASSERT_EQ_U64(got[1].ts, t0);
    ASSERT_EQ_DBL(got[1].price, 100.25);
    ASSERT_EQ_DBL(got[1].size, 0.5);
    ASSERT_EQ_INT(got[1].side, TP_SIDE_SELL);
    ASSERT_EQ_U64(got[1].trade_id, 6);
    ASSERT_EQ_U64(got[1].ts_recv, tp_floor_div(t0 + 1500, 1000) * 1000); /* microseconds */
    ASSERT_EQ_STR(got[1].venue_symbol, "BTC-USD");
    /* 2026-11-24/venue=sim: AAA (trade t0+3, quote t0+4), BTC (t0+2 twice in offset order, t0+5) */
    ASSERT_EQ_STR(tp_instr_name(got[2].instr), "sim:AAA-USD");
    ASSERT_EQ_U64(got[2].ts, t0 + 3);
    ASSERT_EQ_INT(got[2].side, TP_SIDE_UNKNOWN);
    ASSERT(!(got[2].flags & TP_EV_HAS_ID));
    ASSERT_EQ_INT(got[3].kind, TP_KIND_QUOTE);
    ASSERT_EQ_DBL(got[3].bid, 1.25);
    ASSERT_EQ_DBL(got[3].ask, 1.75);
    ASSERT_EQ_DBL(got[3].bid_size, 3);
    ASSERT(isnan(got[3].ask_size) && isnan(got[3].price) && isnan(got[3].open));
    ASSERT_EQ_DBL(got[3].value, -1);
    ASSERT_EQ_U64(got[4].ts, t0 + 2);
    ASSERT_EQ_DBL(got[4].price, 100.75);
    ASSERT_EQ_U64(got[5].ts, t0 + 2);
    ASSERT(got[5].flags & TP_EV_ID_STR);
    ASSERT_EQ_STR(got[5].trade_id_str, "X-8");
    ASSERT_EQ_U64(got[6].ts, t0 + 5);
    /* 2026-11-24/venue=zzz */
    ASSERT_EQ_STR(tp_instr_name(got[7].instr), "zzz:ETH-USD");
    ASSERT_EQ_DBL(got[7].price, 2000);

    /* the Parquet file itself: schema, key-value metadata, statistics */
    snprintf(path, sizeof path, "%s/ticks/date=2026-11-24/venue=sim/%s", root, name);
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_STR(tp_pq_reader_kv(r, TP_LAKE_KV_VERSION), TP_LAKE_SCHEMA_VERSION);
    ASSERT_EQ_STR(tp_pq_reader_kv(r, "tickpipe.offsets"), "0-19");
    size_t ncols;
    const struct tp_pq_column *cols = tp_lake_schema(TP_LAKE_TICKS, &ncols);
    ASSERT_EQ_U64(tp_pq_reader_ncols(r), ncols);
    for (size_t i = 0; i < ncols; i++) {
        ASSERT_EQ_STR(tp_pq_reader_column(r, i)->name, cols[i].name);
        ASSERT_EQ_INT(tp_pq_reader_column(r, i)->kind, cols[i].kind);
        ASSERT_EQ_INT(tp_pq_reader_column(r, i)->optional, cols[i].optional);
    }
    struct tp_pq_stats s;
    ASSERT(tp_pq_reader_stats(r, 0, 1, &s) && s.has_minmax);
    ASSERT_EQ_U64(s.min.i, t0 + 2);
    ASSERT_EQ_U64(s.max.i, t0 + 5);
    ASSERT(tp_pq_reader_stats(r, 0, 9, &s)); /* trade_id: AAA's trade and quote have none */
    ASSERT_EQ_U64(s.null_count, 2);
    tp_pq_reader_close(r);
    cleanup();
}

static void test_batch_cap(void)
{
    make_root();
    uint32_t a = instr("sim:BTC-USD");
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, root);
    o.batch_offsets = 1000000;
    o.batch_bytes = 100 * 96 + 50; /* about 100 rows of 64 + 32 bytes */
    struct tp_lake_writer *w;
    ASSERT_EQ_INT(tp_lake_writer_new(&o, &w), 0);
    int64_t t0 = day0() - TP_NS_PER_SEC;
    uint64_t next = 0, commits[8];
    int nc = 0;
    for (uint64_t off = 0; off < 300; off++) {
        struct tp_event e = trade(a, t0 + (int64_t)off, 100, 1, TP_SIDE_BUY, off + 1);
        ASSERT_EQ_INT(tp_lake_tick(w, off, &e), 0);
        if (tp_lake_due(w, TP_LOG_INPUT)) {
            ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0);
            ASSERT_EQ_U64(next, off + 1);
            if (nc < 8) commits[nc++] = next;
        }
    }
    if (nc < 2 || nc > 4) TPT_FAIL("%d commits", nc); /* the memory cap closed batches early */
    for (int i = 1; i < nc; i++) ASSERT_EQ_U64(commits[i] - commits[i - 1], commits[0]);
    if (!tp_lake_pending(w, TP_LOG_INPUT))
        TPT_FAIL("nothing pending after %llu", (unsigned long long)next);
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0); /* the final partial batch */
    ASSERT_EQ_U64(next, 300);
    struct tp_event got[400];
    size_t nf, n = read_ticks(root, got, 400, &nf);
    ASSERT_EQ_U64(n, 300);
    ASSERT_EQ_U64(nf, (uint64_t)nc + 1);
    for (size_t i = 0; i < n; i++) ASSERT_EQ_U64(got[i].trade_id, i + 1);
    tp_lake_writer_free(w);
    cleanup();
}

static void test_writer_outputs(void)
{
    make_root();
    uint32_t a = instr("sim:BTC-USD");
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, root);
    struct tp_lake_writer *w;
    ASSERT_EQ_INT(tp_lake_writer_new(&o, &w), 0);
    int64_t t0 = day0() + 1 - 86400 * TP_NS_PER_SEC; /* 2026-11-23T00:00:00 */
    struct tp_bar b = {.instr = a,
                       .interval_ns = 60 * TP_NS_PER_SEC,
                       .ts = t0 + 60 * TP_NS_PER_SEC,
                       .open = 1,
                       .high = 2,
                       .low = 0.5,
                       .close = 1.5,
                       .volume = 3,
                       .notional = 4.5,
                       .vwap = 1.5,
                       .trades = 2,
                       .buy_volume = 1,
                       .sell_volume = 2,
                       .first_ts = t0 + 60 * TP_NS_PER_SEC + 1234,
                       .last_ts = t0 + 61 * TP_NS_PER_SEC,
                       .final = true};
    tp_ind_values_clear(&b.ind);
    b.ind.rsi = 55.5;
    struct tp_bar b1s = b;
    b1s.interval_ns = TP_NS_PER_SEC;
    struct tp_anomaly an = {.instr = a,
                            .ts = t0 + 5,
                            .kind = TP_AN_RETURN_ZSCORE,
                            .observed = 1,
                            .expected = 2,
                            .score = 3.5};
    struct tp_gap g = {
        .instr = a, .ts = t0 + 7, .first_missing = 10, .last_missing = 12, .backfilled = true};
    struct tp_event late = trade(a, t0 + 9, 5, 1, TP_SIDE_SELL, 3);
    ASSERT_EQ_INT(tp_lake_bar(w, 0, &b), 0);
    ASSERT_EQ_INT(tp_lake_bar(w, 1, &b1s), 0); /* not kept: 1s bars are off */
    ASSERT_EQ_INT(tp_lake_anomaly(w, 2, &an), 0);
    ASSERT_EQ_INT(tp_lake_skip(w, TP_LOG_OUTPUT, 3), 0); /* a checkpoint */
    ASSERT_EQ_INT(tp_lake_gap(w, 4, &g), 0);
    ASSERT_EQ_INT(tp_lake_late(w, 5, &late, 60 * TP_NS_PER_SEC), 0);
    uint64_t next = 0;
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_OUTPUT, &next), 0);
    ASSERT_EQ_U64(next, 6);
    tp_lake_writer_free(w);

    const char *name = "part-output-0-00000000000000000000-00000000000000000005.parquet";
    char path[512];
    snprintf(path, sizeof path, "%s/bars/interval=1s", root);
    ASSERT(!exists(path));
    snprintf(path, sizeof path, "%s/bars/interval=1m/date=2026-11-23/%s", root, name);
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_U64(tp_pq_reader_rows(r), 1);
    struct tp_pq_data d;
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "interval"), &d), 0);
    ASSERT_EQ_INT(((struct tp_pq_bytes *)d.values)[0].n, 2);
    ASSERT(!memcmp(((struct tp_pq_bytes *)d.values)[0].p, "1m", 2));
    tp_pq_data_fini(&d);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "first_ts"), &d), 0);
    ASSERT_EQ_U64(((int64_t *)d.values)[0], (t0 + 60 * TP_NS_PER_SEC) / 1000 + 1);
    tp_pq_data_fini(&d);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "sma_20"), &d), 0);
    ASSERT_EQ_U64(d.null_count, 1);
    tp_pq_data_fini(&d);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "rsi_14"), &d), 0);
    ASSERT_EQ_DBL(((double *)d.values)[0], 55.5);
    tp_pq_data_fini(&d);
    tp_pq_reader_close(r);

    snprintf(path, sizeof path, "%s/anomalies/date=2026-11-23/%s", root, name);
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "interval"), &d), 0);
    ASSERT_EQ_U64(d.null_count, 1); /* a per-trade detector */
    tp_pq_data_fini(&d);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "kind"), &d), 0);
    ASSERT(!memcmp(((struct tp_pq_bytes *)d.values)[0].p, "return_zscore", 13));
    tp_pq_data_fini(&d);
    tp_pq_reader_close(r);

    snprintf(path, sizeof path, "%s/gaps/date=2026-11-23/%s", root, name);
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "last_missing"), &d), 0);
    ASSERT_EQ_U64(((int64_t *)d.values)[0], 12);
    tp_pq_data_fini(&d);
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)tp_pq_reader_find(r, "backfilled"), &d), 0);
    ASSERT_EQ_INT(((uint8_t *)d.values)[0], 1);
    tp_pq_data_fini(&d);
    tp_pq_reader_close(r);

    /* late rows are ticks plus an interval, and read back as ticks */
    snprintf(path, sizeof path, "%s/late/date=2026-11-23/%s", root, name);
    char err[256];
    struct tp_lake_ticks *t;
    ASSERT_EQ_INT(tp_lake_ticks_open(path, &t, err, sizeof err), 0);
    struct tp_event e;
    ASSERT_EQ_INT(tp_lake_ticks_next(t, &e, err, sizeof err), 1);
    ASSERT_EQ_U64(e.ts, t0 + 9);
    ASSERT_EQ_U64(e.trade_id, 3);
    ASSERT_EQ_INT(tp_lake_ticks_next(t, &e, err, sizeof err), 0);
    tp_lake_ticks_free(t);
    cleanup();
}

/* ---- the sink over journals ---- */

static char jdir[2][128];
static uint64_t nticks; /* non-status events in the input journal */

static void make_journals(uint64_t n)
{
    uint32_t a = instr("sim:BTC-USD"), b = instr("sim:ETH-USD");
    struct tp_buf buf;
    tp_buf_init(&buf, 1 << 20);
    nticks = 0;
    for (int l = 0; l < 2; l++) {
        snprintf(jdir[l], sizeof jdir[l], "%s/journal/%s", root, l ? "output" : "input");
        struct tp_journal_opts o;
        tp_journal_opts_default(&o, jdir[l]);
        o.segment_bytes = 1 << 16;
        struct tp_journal *j;
        ASSERT_EQ_INT(tp_journal_open(&o, &j, NULL), 0);
        int64_t t0 = day0() - 60 * TP_NS_PER_SEC;
        for (uint64_t i = 0; i < n; i++) {
            tp_buf_reset(&buf);
            int64_t ts = t0 + (int64_t)i * 1000003; /* crosses midnight */
            if (l == 0) {
                struct tp_event e =
                    trade(i % 3 ? a : b, ts, 100 + (double)(i % 7), 1, TP_SIDE_BUY, i + 1);
                if (i % 10 == 9) {
                    tp_event_init(&e, TP_KIND_STATUS);
                    e.status = TP_ST_HEARTBEAT;
                    e.instr = a;
                    e.ts = e.ts_recv = ts;
                } else {
                    nticks++;
                }
                ASSERT_EQ_INT(tp_rec_put_event(&buf, &e), 0);
            } else if (i % 5 == 4) {
                ASSERT_EQ_INT(tp_rec_put_checkpoint(&buf, i, "state", 5), 0);
            } else {
                struct tp_bar bar = {.instr = a,
                                     .interval_ns = 60 * TP_NS_PER_SEC,
                                     .ts = tp_window_start(ts, 60 * TP_NS_PER_SEC) -
                                           (int64_t)i * 60 * TP_NS_PER_SEC,
                                     .open = 1,
                                     .high = 1,
                                     .low = 1,
                                     .close = 1,
                                     .volume = 1,
                                     .notional = 1,
                                     .vwap = 1,
                                     .trades = i,
                                     .buy_volume = 1,
                                     .first_ts = ts,
                                     .last_ts = ts,
                                     .final = true};
                tp_ind_values_clear(&bar.ind);
                ASSERT_EQ_INT(tp_rec_put_bar(&buf, &bar), 0);
            }
            ASSERT_EQ_INT(tp_journal_append(j, buf.p, buf.len, NULL), 0);
        }
        ASSERT_EQ_INT(tp_journal_close(j), 0);
    }
    tp_buf_fini(&buf);
}

/* Feeds records [from, to) of log to the sink, committing as it asks. */
static void feed(void *self, int log, uint64_t from, uint64_t to)
{
    struct tp_cursor *c;
    ASSERT_EQ_INT(tp_cursor_open(jdir[log], from, NULL, false, &c), 0);
    const void *p;
    size_t n;
    uint64_t off;
    while (tp_cursor_offset(c) < to && tp_cursor_next(c, &p, &n, &off) == 1)
        ASSERT(tp_lake_sink_ops.write(self, (enum tp_sink_log)log, off, p, n) >= 0);
    tp_cursor_close(c);
}

static uint64_t bar_rows(void)
{
    char **paths;
    size_t n;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/lake/bars", root);
    ASSERT_EQ_INT(tp_lake_list_files(dir, &paths, &n), 0);
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        struct tp_pq_reader *r;
        ASSERT_EQ_INT(tp_pq_reader_open_path(&r, paths[i], NULL, NULL), 0);
        rows += tp_pq_reader_rows(r);
        tp_pq_reader_close(r);
        free(paths[i]);
    }
    free(paths);
    return rows;
}

static void test_sink_crash_and_rerun(void)
{
    make_root();
    const uint64_t N = 2000;
    make_journals(N);
    char lake[256];
    snprintf(lake, sizeof lake, "%s/lake", root);
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, lake);
    o.batch_offsets = 300;
    void *s;
    ASSERT_EQ_INT(tp_lake_sink_new(&o, &s), 0);
    uint64_t ack[2];
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s, ack), 0);
    ASSERT_EQ_U64(ack[0], 0);
    ASSERT_EQ_U64(ack[1], 0);
    feed(s, 0, 0, 1000);
    feed(s, 1, 0, 700);
    ASSERT_EQ_INT(tp_lake_sink_ops.flush(s, false, ack), 0);
    ASSERT_EQ_U64(ack[0], 900); /* batches [0,299] [300,599] [600,899] */
    ASSERT_EQ_U64(ack[1], 600);
    /* a crash: the open batches are lost; a half-done commit left a visible file past the ack
     * and a .tmp */
    tp_lake_sink_ops.free(s);
    char stray[512], tmp[512];
    snprintf(stray, sizeof stray,
             "%s/ticks/date=2026-11-24/venue=sim/"
             "part-input-0-00000000000000000900-00000000000000001199.parquet",
             lake);
    snprintf(tmp, sizeof tmp,
             "%s/bars/interval=1m/date=2026-11-23/"
             "part-output-0-00000000000000000600-00000000000000000899.parquet.tmp",
             lake);
    touch(stray);
    touch(tmp);

    ASSERT_EQ_INT(tp_lake_sink_new(&o, &s), 0);
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s, ack), 0);
    ASSERT_EQ_U64(ack[0], 900);
    ASSERT_EQ_U64(ack[1], 600);
    ASSERT(!exists(stray));
    ASSERT(!exists(tmp));
    feed(s, 0, ack[0], N);
    feed(s, 1, ack[1], N);
    ASSERT_EQ_INT(tp_lake_sink_ops.flush(s, true, ack), 0);
    ASSERT_EQ_U64(ack[0], N);
    ASSERT_EQ_U64(ack[1], N);
    tp_lake_sink_ops.close(s);
    tp_lake_sink_ops.free(s);
    uint64_t disk[2];
    ASSERT_EQ_INT(tp_lake_ack_read(lake, disk), 0);
    ASSERT_EQ_U64(disk[0], N);
    ASSERT_EQ_U64(disk[1], N);

    /* every tick exactly once: trade ids 1..N without the heartbeats' */
    static struct tp_event got[4000];
    size_t n = read_ticks(lake, got, 4000, NULL);
    ASSERT_EQ_U64(n, nticks);
    static uint8_t seen[2001];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n; i++) {
        ASSERT(got[i].trade_id >= 1 && got[i].trade_id <= N);
        ASSERT_EQ_INT(seen[got[i].trade_id]++, 0);
        ASSERT(got[i].trade_id % 10 != 0);
    }
    ASSERT_EQ_U64(bar_rows(), N - N / 5);

    /* a lake with part files but without its ack is refused, and nothing is removed */
    char ackp[512];
    snprintf(ackp, sizeof ackp, "%s/_tickpipe/ack", lake);
    ASSERT_EQ_INT(unlink(ackp), 0);
    ASSERT_EQ_INT(tp_lake_sink_new(&o, &s), 0);
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s, ack), -EBADMSG);
    tp_lake_sink_ops.free(s);
    ASSERT_EQ_U64(read_ticks(lake, got, 4000, NULL), nticks);
    cleanup();
}

/* ---- compaction ---- */

static int cmp_ev(const void *pa, const void *pb)
{
    const struct tp_event *a = pa, *b = pb;
    if (a->trade_id != b->trade_id) return a->trade_id < b->trade_id ? -1 : 1;
    return 0;
}

static size_t count_files(const char *dir)
{
    char **paths;
    size_t n;
    ASSERT_EQ_INT(tp_lake_list_files(dir, &paths, &n), 0);
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return n;
}

static void test_compact(void)
{
    make_root();
    uint32_t a = instr("sim:BTC-USD"), b = instr("sim:ETH-USD"), c = instr("aaa:ETH-USD");
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, root);
    o.batch_offsets = 50;
    struct tp_lake_writer *w;
    ASSERT_EQ_INT(tp_lake_writer_new(&o, &w), 0);
    int64_t t0 = day0() - 100 * TP_NS_PER_SEC;
    const uint32_t ids[] = {a, b, c};
    uint64_t next = 0;
    const uint64_t N = 500; /* 10 batches over two days, two venues */
    for (uint64_t off = 0; off < N; off++) {
        /* times jump around inside each batch, so merging has work to do */
        int64_t ts = t0 + (int64_t)((off * 7919) % N) * 400 * TP_NS_PER_MS;
        struct tp_event e = trade(ids[off % 3], ts, 100 + (double)off, 1, TP_SIDE_BUY, off + 1);
        ASSERT_EQ_INT(tp_lake_tick(w, off, &e), 0);
        if (tp_lake_due(w, TP_LOG_INPUT)) ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0);
    }
    struct tp_bar bar = {.instr = a,
                         .interval_ns = 60 * TP_NS_PER_SEC,
                         .ts = t0,
                         .open = 1,
                         .high = 1,
                         .low = 1,
                         .close = 1,
                         .first_ts = t0,
                         .last_ts = t0};
    tp_ind_values_clear(&bar.ind);
    for (uint64_t off = 0; off < 3; off++) {
        ASSERT_EQ_INT(tp_lake_bar(w, off, &bar), 0);
        ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_OUTPUT, &next), 0);
        bar.ts += 60 * TP_NS_PER_SEC;
    }
    tp_lake_writer_free(w);
    /* the last input batch is not acknowledged: its files stay as they are */
    const uint64_t ack[2] = {N - 50, 3};
    ASSERT_EQ_INT(tp_lake_ack_write(root, ack), 0);
    char foreign[512];
    snprintf(foreign, sizeof foreign, "%s/ticks/date=2026-11-23/venue=sim/README", root);
    touch(foreign);
    static struct tp_event before[600], after[600];
    size_t nf0, n0 = read_ticks(root, before, 600, &nf0);
    ASSERT_EQ_U64(n0, N);
    ASSERT_EQ_U64(nf0, 10 * 2 + 10 * 2); /* 10 batches x 2 days x 2 venues */

    /* the lock held elsewhere: refused after the wait */
    char err[512];
    struct tp_lake_compact_opts co = {
        .dir = root, .max_inputs = 4, .lock_wait_ns = 100 * TP_NS_PER_MS};
    struct tp_lake_compact_stats st;
    int lk;
    ASSERT_EQ_INT(tp_lake_lock(root, false, &lk), 0);
    ASSERT_EQ_INT(tp_lake_compact(&co, &st, err, sizeof err), -EBUSY);
    tp_lake_unlock(lk);
    co.dry_run = true;
    ASSERT_EQ_INT(tp_lake_compact(&co, &st, err, sizeof err), 0);
    ASSERT_EQ_U64(count_files(root), nf0);

    co.dry_run = false;
    if (tp_lake_compact(&co, &st, err, sizeof err) < 0) TPT_FAIL("compact: %s", err);
    /* 9 committed files per partition in groups of 4: 4+4 merged, 1 left; the 10th is past
     * the ack; the bars' first two files (the third is on the next day) became one */
    ASSERT_EQ_U64(st.partitions, 5);
    ASSERT_EQ_U64(st.inputs, 4 * 8 + 2);
    ASSERT_EQ_U64(st.outputs, 4 * 2 + 1);
    size_t nf1, n1 = read_ticks(root, after, 600, &nf1);
    ASSERT_EQ_U64(n1, N);
    ASSERT_EQ_U64(nf1, 4 * (2 + 1 + 1));
    ASSERT(exists(foreign));
    char path[512];
    snprintf(path, sizeof path,
             "%s/ticks/date=2026-11-23/venue=sim/"
             "part-input-0-00000000000000000000-00000000000000000199.parquet",
             root);
    ASSERT(exists(path));
    snprintf(path, sizeof path,
             "%s/ticks/date=2026-11-23/venue=sim/"
             "part-input-0-00000000000000000450-00000000000000000499.parquet",
             root);
    ASSERT(exists(path)); /* past the ack: untouched */
    snprintf(path, sizeof path, "%s/_tickpipe/compact", root);
    ASSERT(!exists(path));
    snprintf(path, sizeof path, "%s/bars/interval=1m/date=2026-11-23", root);
    ASSERT_EQ_U64(count_files(path), 1);
    /* a merged file is sorted by (instrument, ts); the rows are the same */
    snprintf(path, sizeof path,
             "%s/ticks/date=2026-11-23/venue=sim/"
             "part-input-0-00000000000000000200-00000000000000000399.parquet",
             root);
    struct tp_lake_ticks *t;
    ASSERT_EQ_INT(tp_lake_ticks_open(path, &t, err, sizeof err), 0);
    struct tp_event prev, e;
    uint64_t rows = 0;
    while (tp_lake_ticks_next(t, &e, err, sizeof err) == 1) {
        if (rows++) {
            int c2 = strcmp(tp_instr_name(prev.instr), tp_instr_name(e.instr));
            ASSERT(c2 < 0 || (c2 == 0 && prev.ts <= e.ts));
        }
        prev = e;
    }
    tp_lake_ticks_free(t);
    ASSERT(rows > 50);
    qsort(before, n0, sizeof *before, cmp_ev);
    qsort(after, n1, sizeof *after, cmp_ev);
    for (size_t i = 0; i < n0; i++) {
        ASSERT_EQ_U64(after[i].trade_id, before[i].trade_id);
        ASSERT_EQ_U64(after[i].ts, before[i].ts);
        ASSERT_EQ_DBL(after[i].price, before[i].price);
        ASSERT_EQ_INT(after[i].instr, before[i].instr);
    }
    /* again: the 4+4 merged files and the one left merge once more */
    if (tp_lake_compact(&co, &st, err, sizeof err) < 0) TPT_FAIL("compact: %s", err);
    ASSERT_EQ_U64(st.inputs, 4 * 3);
    ASSERT_EQ_U64(read_ticks(root, after, 600, &nf1), N);
    ASSERT_EQ_U64(nf1, 4 * 2);
    cleanup();
}

TPT_MAIN({"escape", test_escape}, {"part_names", test_part_names}, {"ack_file", test_ack_file},
         {"remove_past", test_remove_past}, {"writer_ticks", test_writer_ticks},
         {"batch_cap", test_batch_cap}, {"writer_outputs", test_writer_outputs},
         {"sink_crash_and_rerun", test_sink_crash_and_rerun}, {"compact", test_compact})
