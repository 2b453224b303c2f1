/*
 * test_etl_lake.c — `etl` over the lake (etl/etl_lake.c): a small lake written by the lake
 * writer in three batches (the last one past the ack, as after a crash before the ack), whose
 * summaries must break ties of equal ts by log order within a file and across files, skip
 * the uncommitted file, and be read back from LAKE/summary with tickpipe's Parquet reader;
 * a second run recomputes nothing; intervals that do not divide a day are refused.
 */
#include <sys/stat.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "etl/etl.h"
#include "sink/lake.h"
#include "tpt.h"

static char root[64];

static uint32_t instr(const char *name)
{
    uint32_t id;
    if (tp_instr_intern(name, strlen(name), &id) < 0) TPT_FAIL("intern %s", name);
    return id;
}

static struct tp_event trade(uint32_t id, int64_t ts, double price)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = id;
    e.ts = ts;
    e.ts_recv = ts;
    e.price = price;
    e.size = 1;
    e.flags = TP_EV_TS_VENUE;
    return e;
}

static struct tp_etl_spec spec(const char *s)
{
    struct tp_etl_spec sp;
    char err[160];
    if (tp_etl_spec_parse(s, &sp, err, sizeof err) < 0) TPT_FAIL("%s: %s", s, err);
    return sp;
}

static void test_daily(void)
{
    struct tp_etl_spec a = spec("10m:price"), b = spec("7m:price"), c = spec("1d:value"),
                       d = spec("2d:price"), e = spec("90m:size");
    ASSERT(tp_etl_spec_daily(&a));
    ASSERT(!tp_etl_spec_daily(&b));
    ASSERT(tp_etl_spec_daily(&c));
    ASSERT(!tp_etl_spec_daily(&d));
    ASSERT(tp_etl_spec_daily(&e));
    struct tp_etl_lake_result res;
    char err[256];
    ASSERT_EQ_INT(tp_etl_lake_update("/nonexistent", &b, 1, false, &res, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "divide a day") != NULL);
}

static void test_ties_and_ack(void)
{
    snprintf(root, sizeof root, "/tmp/tp_etl_lake_XXXXXX");
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp");
    uint32_t a = instr("x:A"), b = instr("y:B");
    int64_t t;
    ASSERT_EQ_INT(tp_time_parse("2026-11-24T10:00:00Z", 20, TP_TS_AUTO, &t), 0);
    const int64_t min = 60 * TP_NS_PER_SEC;
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, root);
    struct tp_lake_writer *w;
    ASSERT_EQ_INT(tp_lake_writer_new(&o, &w), 0);
    /* batch 1, offsets 0-4: a tie at t (1 then 2) and the last time t+2m (3) */
    struct tp_event b1[] = {trade(a, t, 1), trade(a, t, 2), trade(a, t + min, 5), trade(b, t, 7),
                            trade(a, t + 2 * min, 3)};
    /* batch 2, offsets 5-6: the same last time again (8: later in the log, so the last) and
     * the first time again (4: later, so not the first) */
    struct tp_event b2[] = {trade(a, t + 2 * min, 8), trade(a, t, 4)};
    uint64_t off = 0, next = 0, ack[2] = {0, 0};
    for (size_t i = 0; i < TP_ARRAY_LEN(b1); i++) ASSERT_EQ_INT(tp_lake_tick(w, off++, &b1[i]), 0);
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0);
    for (size_t i = 0; i < TP_ARRAY_LEN(b2); i++) ASSERT_EQ_INT(tp_lake_tick(w, off++, &b2[i]), 0);
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0);
    ack[0] = next;
    ASSERT_EQ_U64(ack[0], 7);
    ASSERT_EQ_INT(tp_lake_ack_write(root, ack), 0);
    /* batch 3, offset 7: committed files but no ack (a crash in between): not summarized */
    struct tp_event x = trade(a, t, 100);
    ASSERT_EQ_INT(tp_lake_tick(w, off++, &x), 0);
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_INPUT, &next), 0);
    tp_lake_writer_free(w);

    struct tp_etl_spec sp[] = {spec("10m:price"), spec("1m:bid")};
    struct tp_etl_lake_result res;
    char err[256] = "";
    if (tp_etl_lake_update(root, sp, 2, false, &res, err, sizeof err) < 0) TPT_FAIL("%s", err);
    ASSERT_EQ_U64(res.files, 3); /* x:A's two files and y:B's; the third x:A file is past the ack */
    ASSERT_EQ_U64(res.dates, 1);
    ASSERT_EQ_U64(res.ticks, 7);
    ASSERT_EQ_U64(res.windows, 2);
    ASSERT_EQ_U64(res.files_written, 1); /* no bid values: no file for 1m:bid */

    char path[256];
    snprintf(path, sizeof path,
             "%s/summary/interval=10m/field=price/date=2026-11-24/part-0.parquet", root);
    struct tp_pq_reader *r;
    struct tp_pq_error pe;
    if (tp_pq_reader_open_path(&r, path, NULL, &pe) < 0) TPT_FAIL("%s: %s", path, pe.msg);
    ASSERT_EQ_U64(tp_pq_reader_rows(r), 2);
    ASSERT_EQ_STR(tp_pq_reader_kv(r, "tickpipe.table"), "summary");
    const char *names[] = {"instrument", "field", "interval", "ts",   "avg",
                           "min",        "max",   "first",    "last", "count"};
    struct tp_pq_data d[10];
    for (int c = 0; c < 10; c++) {
        int k = tp_pq_reader_find(r, names[c]);
        if (k != c) TPT_FAIL("column %s at %d", names[c], k);
        ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)c, &d[c]), 0);
    }
    const struct tp_pq_bytes *ins = d[0].values, *fld = d[1].values, *iv = d[2].values;
    const int64_t *ts = d[3].values, *cnt = d[9].values;
    const double *avg = d[4].values, *mn = d[5].values, *mx = d[6].values, *fi = d[7].values,
                 *la = d[8].values;
    ASSERT(ins[0].n == 3 && !memcmp(ins[0].p, "x:A", 3));
    ASSERT(ins[1].n == 3 && !memcmp(ins[1].p, "y:B", 3));
    ASSERT(fld[0].n == 5 && !memcmp(fld[0].p, "price", 5));
    ASSERT(iv[1].n == 3 && !memcmp(iv[1].p, "10m", 3));
    ASSERT_EQ_INT(ts[0], t / 1000);
    ASSERT_EQ_INT(cnt[0], 6);
    ASSERT_EQ_DBL(avg[0], (1.0 + 2 + 5 + 3 + 8 + 4) / 6);
    ASSERT_EQ_DBL(mn[0], 1);
    ASSERT_EQ_DBL(mx[0], 8);
    ASSERT_EQ_DBL(fi[0], 1); /* t: 1 (offset 0) before 2 (offset 1) and 4 (offset 6) */
    ASSERT_EQ_DBL(la[0], 8); /* t+2m: 8 (offset 5, second file) after 3 (offset 4) */
    ASSERT_EQ_INT(cnt[1], 1);
    ASSERT_EQ_DBL(fi[1], 7);
    ASSERT_EQ_DBL(la[1], 7);
    for (int c = 0; c < 10; c++) tp_pq_data_fini(&d[c]);
    tp_pq_reader_close(r);

    /* again: nothing changed, nothing recomputed; full: recomputed, the same bytes */
    if (tp_etl_lake_update(root, sp, 2, false, &res, err, sizeof err) < 0) TPT_FAIL("%s", err);
    ASSERT_EQ_U64(res.dates, 0);
    ASSERT_EQ_U64(res.files_written, 0);
    if (tp_etl_lake_update(root, sp, 2, true, &res, err, sizeof err) < 0) TPT_FAIL("%s", err);
    ASSERT_EQ_U64(res.dates, 1);
    ASSERT_EQ_U64(res.files_written, 0);
    ASSERT_EQ_U64(res.files_same, 1);
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

TPT_MAIN({"daily", test_daily}, {"ties_and_ack", test_ties_and_ack})
