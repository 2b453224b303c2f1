/*
 * test_ops.c — the pieces under validate and the S3 uploader: the hash map and interner
 * (ops/vmap.h), the lake walk and part names (ops/lakefiles.h), the s3:// URL, and the
 * uploader's state files (sink/s3_int.h): what is recorded survives a reopen, a torn last
 * line is ignored, a multipart state keeps its acknowledged parts.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/lakefiles.h"
#include "ops/vmap.h"
#include "sink/s3.h"
#include "sink/s3_int.h"
#include "tpt.h"

static void test_vmap(void)
{
    struct tp_vmap m = {0};
    uint64_t k[2];
    for (uint32_t i = 0; i < 100000; i++) {
        tp_vmap_key(i, i * 7, k);
        uint32_t *slot;
        ASSERT_EQ_INT(tp_vmap_put(&m, k, i, &slot), 1);
        ASSERT_EQ_INT(*slot, i);
    }
    ASSERT_EQ_U64(m.n, 100000);
    for (uint32_t i = 0; i < 100000; i += 97) {
        tp_vmap_key(i, i * 7, k);
        uint32_t *slot = tp_vmap_get(&m, k);
        ASSERT(slot && *slot == i);
        ASSERT_EQ_INT(tp_vmap_put(&m, k, 5, NULL), 0); /* present: unchanged */
        ASSERT_EQ_INT(*tp_vmap_get(&m, k), i);
    }
    tp_vmap_key(0, 0, k); /* the (0, 0) pair is never a real key */
    ASSERT(k[0] || k[1]);
    tp_vmap_key(5, 1, k);
    ASSERT(!tp_vmap_get(&m, k));
    tp_vmap_clear(&m);
    tp_vmap_key(3, 21, k);
    ASSERT(!tp_vmap_get(&m, k));
    tp_vmap_fini(&m);

    struct tp_vstrs s = {0};
    uint32_t a, b, c;
    ASSERT_EQ_INT(tp_vstrs_intern(&s, "sim:BTC-USD", 11, &a), 0);
    ASSERT_EQ_INT(tp_vstrs_intern(&s, "sim:ETH-USD", 11, &b), 0);
    ASSERT_EQ_INT(tp_vstrs_intern(&s, "sim:BTC-USDx", 11, &c), 0);
    ASSERT(a == c && a != b);
    ASSERT_EQ_STR(tp_vstrs_get(&s, b), "sim:ETH-USD");
    ASSERT_EQ_STR(tp_vstrs_get(&s, 99), "");
    tp_vstrs_fini(&s);
    ASSERT(tp_vhash_a("a", 1) != tp_vhash_b("a", 1));
}

static void touch(const char *path)
{
    char d[700];
    snprintf(d, sizeof d, "%s", path);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(d, 0755);
            *p = '/';
        }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, "x", 1), 1);
    close(fd);
}

static void test_lakefiles(void)
{
    char log[16];
    uint32_t part;
    uint64_t f, l;
    ASSERT(tp_lake_name_parse("part-input-0-00000000000000000010-00000000000000000020.parquet", log,
                              &part, &f, &l));
    ASSERT_EQ_STR(log, "input");
    ASSERT(part == 0 && f == 10 && l == 20);
    ASSERT(tp_lake_name_parse("part-tickpipe.ticks-3-5-5.parquet", log, &part, &f, &l));
    ASSERT_EQ_STR(log, "tickpipe.ticks");
    ASSERT(part == 3 && f == 5 && l == 5);
    static const char *const bad[] = {"part-input-0-20-10.parquet",
                                      "part-input-0-1.parquet",
                                      "part--0-1-2.parquet",
                                      "part-input-0-1-2.parquet.tmp",
                                      "x-input-0-1-2.parquet",
                                      "part-in put-0-1-2.parquet",
                                      "part-input-0-1-99999999999999999999.parquet"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        if (tp_lake_name_parse(bad[i], log, &part, &f, &l)) TPT_FAIL("parsed '%s'", bad[i]);

    char dir[] = "/tmp/tp_test_ops_XXXXXX";
    ASSERT(mkdtemp(dir));
    char p[600];
    const char *files[] = {
        "ticks/date=2026-11-23/venue=sim/part-input-0-0-9.parquet",
        "ticks/date=2026-11-23/venue=a%3Ab/other.parquet",
        "ticks/date=2026-11-23/venue=sim/part-input-0-10-19.parquet.tmp",
        "ticks/date=2026-11-23/venue=sim/_staging/part-input-0-0-9.parquet",
        "bars/interval=1m/date=2026-11-23/part-output-0-0-4.parquet",
        "bars/oops/part-output-0-0-4.parquet",
        "gaps/date=2026-11-23/part-output-0-0-4.parquet",
        "_tickpipe/ack",
        "other/date=2026-11-23/x.parquet",
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(files); i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        touch(p);
    }
    struct tp_lake_files lf;
    ASSERT_EQ_INT(tp_lake_files_list(dir, &lf), 0);
    ASSERT_EQ_U64(lf.n, 5); /* no .tmp, no _staging, no other table */
    ASSERT_EQ_STR(lf.v[0].rel, "bars/interval=1m/date=2026-11-23/part-output-0-0-4.parquet");
    ASSERT(lf.v[0].table == TP_LF_BARS && !lf.v[0].bad_partition && lf.v[0].named);
    ASSERT_EQ_STR(lf.v[0].interval, "1m");
    ASSERT_EQ_STR(lf.v[1].rel, "bars/oops/part-output-0-0-4.parquet");
    ASSERT(lf.v[1].bad_partition);
    ASSERT(lf.v[2].table == TP_LF_GAPS);
    ASSERT_EQ_STR(lf.v[3].venue, "a:b"); /* unescaped */
    ASSERT(!lf.v[3].named);
    ASSERT_EQ_STR(lf.v[4].date, "2026-11-23");
    ASSERT_EQ_STR(lf.v[4].venue, "sim");
    ASSERT(lf.v[4].first == 0 && lf.v[4].last == 9 && lf.v[4].size == 1 && lf.v[4].rows == -1);
    tp_lake_files_fini(&lf);
    snprintf(p, sizeof p, "%s/none", dir);
    ASSERT_EQ_INT(tp_lake_files_list(p, &lf), 0); /* a missing lake is empty */
    ASSERT_EQ_U64(lf.n, 0);
    tp_lake_files_fini(&lf);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ASSERT_EQ_INT(system(p), 0);
}

static void test_s3_url(void)
{
    char b[64], pre[128];
    ASSERT_EQ_INT(tp_s3_parse_url("s3://my-bucket/lake/raw/", b, pre, sizeof pre), 0);
    ASSERT_EQ_STR(b, "my-bucket");
    ASSERT_EQ_STR(pre, "lake/raw");
    ASSERT_EQ_INT(tp_s3_parse_url("s3://b.c.d", b, pre, sizeof pre), 0);
    ASSERT_EQ_STR(pre, "");
    static const char *const bad[] = {"http://b/x", "s3://",       "s3://ab", "s3://Upper/x",
                                      "s3://b_c/x", "s3://bkt//x", NULL};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        if (tp_s3_parse_url(bad[i], b, pre, sizeof pre) == 0)
            TPT_FAIL("accepted '%s'", bad[i] ? bad[i] : "NULL");
    /* no credentials: a clear error, nothing created */
    struct tp_s3_cfg c;
    tp_s3_cfg_default(&c);
    c.url = "s3://bkt/x";
    c.state_dir = "/tmp/tp_test_ops_nocreds";
    c.access_key = NULL;
    unsetenv("AWS_ACCESS_KEY_ID");
    struct tp_s3 *s = NULL;
    char err[256];
    ASSERT_EQ_INT(tp_s3_new(&c, &s, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "AWS_ACCESS_KEY_ID"));
    c.access_key = "a";
    c.secret_key = "b";
    c.endpoint = "ftp://x";
    ASSERT_EQ_INT(tp_s3_new(&c, &s, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "endpoint"));
}

static void test_s3_state(void)
{
    char dir[] = "/tmp/tp_test_ops_XXXXXX";
    ASSERT(mkdtemp(dir));
    char err[256];
    struct s3state st;
    ASSERT_EQ_INT(s3state_open(&st, dir, err, sizeof err), 0);
    ASSERT(!s3state_done(&st, "k/a b", 10, 5));
    ASSERT_EQ_INT(s3state_record(&st, "k/a b", 10, 5, "\"e1\""), 0);
    ASSERT_EQ_INT(s3state_record(&st, "k/c", 20, 6, ""), 0);
    ASSERT_EQ_INT(s3state_record(&st, "k/c", 21, 7, "\"e3\""), 0); /* the file changed */
    s3state_close(&st);
    /* a torn append at the end is ignored */
    char p[600];
    snprintf(p, sizeof p, "%s/uploaded.log", dir);
    int fd = open(p, O_WRONLY | O_APPEND);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, "v1 99 1 \"x\" k/torn", 18), 18);
    close(fd);
    ASSERT_EQ_INT(s3state_open(&st, dir, err, sizeof err), 0);
    ASSERT(s3state_done(&st, "k/a b", 10, 5));
    ASSERT(!s3state_done(&st, "k/a b", 10, 6));
    ASSERT(s3state_done(&st, "k/c", 21, 7));
    ASSERT(!s3state_done(&st, "k/c", 20, 6));
    ASSERT(!s3state_done(&st, "k/torn", 99, 1));

    struct s3mpu m;
    ASSERT_EQ_INT(s3mpu_load(&st, "big", &m), -ENOENT);
    ASSERT_EQ_INT(s3mpu_create(&st, "big", 5000, 9, 1024, "id/1+2", &m), 0);
    ASSERT_EQ_INT(m.nparts, 5);
    ASSERT_EQ_INT(s3mpu_add_part(&m, 1, "\"p1\""), 0);
    ASSERT_EQ_INT(s3mpu_add_part(&m, 3, "\"p3\""), 0);
    ASSERT_EQ_INT(s3mpu_add_part(&m, 6, "\"p6\""), -EINVAL);
    s3mpu_fini(&m);
    ASSERT_EQ_INT(s3mpu_load(&st, "other", &m), -ENOENT);
    ASSERT_EQ_INT(s3mpu_load(&st, "big", &m), 0);
    ASSERT(m.size == 5000 && m.mtime == 9 && m.part_size == 1024 && m.nparts == 5);
    ASSERT_EQ_STR(m.upload_id, "id/1+2");
    ASSERT_EQ_STR(m.etag[0], "\"p1\"");
    ASSERT_EQ_STR(m.etag[1], "");
    ASSERT_EQ_STR(m.etag[2], "\"p3\"");
    s3mpu_remove(&m);
    ASSERT_EQ_INT(s3mpu_load(&st, "big", &m), -ENOENT);
    s3state_close(&st);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ASSERT_EQ_INT(system(p), 0);
}

TPT_MAIN({"vmap", test_vmap}, {"lakefiles", test_lakefiles}, {"s3_url", test_s3_url},
         {"s3_state", test_s3_state})
