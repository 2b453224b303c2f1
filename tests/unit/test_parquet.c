/*
 * test_parquet.c — the Thrift compact codec, the RLE/bit-packed hybrid, and the Parquet
 * writer and reader: round trips for every column kind, encoding, codec and page version,
 * nulls, row groups and pages, statistics and row-group skipping, dictionary fallback, and
 * corrupt files (every truncation, bad magic, lying footer lengths, mutated bytes), which
 * must give errors and never crash (this runs under ASan and UBSan).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/rng.h"
#include "sink/parquet.h"
#include "sink/parquet_int.h"
#include "sink/thrift.h"
#include "tpt.h"

/* ---- Thrift ---- */

static void test_thrift_roundtrip(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 20);
    struct tp_thrift_w w;
    tp_thrift_w_init(&w, &b);
    tp_thrift_w_e_struct_begin(&w);
    tp_thrift_w_bool(&w, 1, true);
    tp_thrift_w_bool(&w, 2, false);
    tp_thrift_w_i8(&w, 3, -7);
    tp_thrift_w_i16(&w, 4, -32768);
    tp_thrift_w_i32(&w, 5, INT32_MIN);
    tp_thrift_w_i64(&w, 6, INT64_MIN);
    tp_thrift_w_i64(&w, 7, INT64_MAX);
    tp_thrift_w_double(&w, 8, -1.5e300);
    tp_thrift_w_string(&w, 40, "long-form id"); /* delta > 15 */
    tp_thrift_w_i32(&w, 9, 12345);              /* id going down: long form */
    tp_thrift_w_struct_begin(&w, 10);
    tp_thrift_w_i32(&w, 1, -1);
    tp_thrift_w_struct_begin(&w, 2);
    tp_thrift_w_string(&w, 1, "inner");
    tp_thrift_w_struct_end(&w);
    tp_thrift_w_struct_end(&w);
    tp_thrift_w_list_begin(&w, 11, TP_THRIFT_I32, 3);
    for (int i = 0; i < 3; i++) tp_thrift_w_e_i32(&w, i * 1000 - 1);
    tp_thrift_w_list_begin(&w, 12, TP_THRIFT_I64, 100); /* long-form list header */
    for (int i = 0; i < 100; i++) tp_thrift_w_e_i64(&w, (int64_t)i << 40);
    tp_thrift_w_list_begin(&w, 13, TP_THRIFT_STRUCT, 2);
    for (int i = 0; i < 2; i++) {
        tp_thrift_w_e_struct_begin(&w);
        tp_thrift_w_i32(&w, 1, i);
        tp_thrift_w_struct_end(&w);
    }
    tp_thrift_w_list_begin(&w, 14, TP_THRIFT_TRUE, 2);
    tp_thrift_w_e_bool(&w, true);
    tp_thrift_w_e_bool(&w, false);
    tp_thrift_w_binary(&w, 15, "\0\1\2", 3);
    tp_thrift_w_struct_end(&w);
    ASSERT_EQ_INT(w.err, 0);
    ASSERT_EQ_INT(w.depth, 0);

    struct tp_thrift_r r;
    tp_thrift_r_init(&r, b.p, b.len);
    tp_thrift_r_struct_begin(&r);
    int16_t last = 0, id;
    int t, seen = 0;
    while (tp_thrift_r_field(&r, &last, &id, &t) > 0) {
        seen++;
        const uint8_t *p;
        size_t n;
        int et;
        uint32_t cnt;
        switch (id) {
        case 1:
            ASSERT(tp_thrift_r_bool(&r, t));
            break;
        case 2:
            ASSERT(!tp_thrift_r_bool(&r, t));
            break;
        case 3:
            ASSERT_EQ_INT(tp_thrift_r_i8(&r, t), -7);
            break;
        case 4:
            ASSERT_EQ_INT(tp_thrift_r_i16(&r, t), -32768);
            break;
        case 5:
            ASSERT_EQ_INT(tp_thrift_r_i32(&r, t), INT32_MIN);
            break;
        case 6:
            ASSERT(tp_thrift_r_i64(&r, t) == INT64_MIN);
            break;
        case 7:
            ASSERT(tp_thrift_r_i64(&r, t) == INT64_MAX);
            break;
        case 8:
            ASSERT_EQ_DBL(tp_thrift_r_double(&r, t), -1.5e300);
            break;
        case 40:
            tp_thrift_r_binary(&r, t, &p, &n, 100);
            ASSERT_EQ_INT(n, 12);
            ASSERT(!memcmp(p, "long-form id", 12));
            break;
        case 9:
            ASSERT_EQ_INT(tp_thrift_r_i32(&r, t), 12345);
            break;
        case 10:
            tp_thrift_r_skip(&r, t);
            break; /* nested struct skipped whole */
        case 11:
            tp_thrift_r_list_begin(&r, t, &et, &cnt, 10);
            ASSERT_EQ_INT(cnt, 3);
            for (uint32_t i = 0; i < cnt; i++)
                ASSERT_EQ_INT(tp_thrift_r_i32(&r, et), (int)i * 1000 - 1);
            tp_thrift_r_list_end(&r);
            break;
        case 12:
            tp_thrift_r_list_begin(&r, t, &et, &cnt, 1000);
            ASSERT_EQ_INT(cnt, 100);
            for (uint32_t i = 0; i < cnt; i++) ASSERT(tp_thrift_r_i64(&r, et) == (int64_t)i << 40);
            tp_thrift_r_list_end(&r);
            break;
        case 13:
            tp_thrift_r_list_begin(&r, t, &et, &cnt, 10);
            ASSERT_EQ_INT(cnt, 2);
            for (uint32_t i = 0; i < cnt; i++) {
                tp_thrift_r_struct_begin(&r);
                int16_t l2 = 0, id2;
                int t2;
                ASSERT_EQ_INT(tp_thrift_r_field(&r, &l2, &id2, &t2), 1);
                ASSERT_EQ_INT(tp_thrift_r_i32(&r, t2), (int)i);
                ASSERT_EQ_INT(tp_thrift_r_field(&r, &l2, &id2, &t2), 0);
            }
            tp_thrift_r_list_end(&r);
            break;
        case 14:
            tp_thrift_r_skip(&r, t);
            break; /* list of bools */
        case 15:
            tp_thrift_r_binary(&r, t, &p, &n, 3);
            ASSERT_EQ_INT(n, 3);
            ASSERT_EQ_INT(p[2], 2);
            break;
        default:
            TPT_FAIL("unexpected field %d", id);
        }
    }
    ASSERT_EQ_INT(r.err, 0);
    ASSERT_EQ_INT(seen, 16);
    ASSERT(r.p == r.end);
    ASSERT_EQ_INT(r.depth, 0);

    /* Every truncation is an error, never a read past the end. */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.p, cut);
        tp_thrift_r_init(&r, copy, cut);
        tp_thrift_r_skip(&r, TP_THRIFT_STRUCT);
        free(copy);
        if (!r.err) TPT_FAIL("truncation at %zu accepted", cut);
    }
    tp_buf_fini(&b);
}

static void test_thrift_malformed(void)
{
    struct tp_thrift_r r;
    /* nesting beyond the depth cap */
    uint8_t deep[200];
    for (size_t i = 0; i < sizeof deep; i++) deep[i] = 0x1c; /* field 1, struct */
    tp_thrift_r_init(&r, deep, sizeof deep);
    tp_thrift_r_skip(&r, TP_THRIFT_STRUCT);
    ASSERT_EQ_INT(r.err, -E2BIG);
    /* a list claiming more elements than bytes */
    const uint8_t biglist[] = {0x19, 0xf5, 0xff, 0xff, 0xff, 0x07, 0x00};
    tp_thrift_r_init(&r, biglist, sizeof biglist);
    tp_thrift_r_skip(&r, TP_THRIFT_STRUCT);
    ASSERT_EQ_INT(r.err, -EBADMSG);
    /* a list over the caller's cap */
    const uint8_t list20[] = {0xf5, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int et;
    uint32_t n;
    tp_thrift_r_init(&r, list20, sizeof list20);
    tp_thrift_r_list_begin(&r, TP_THRIFT_LIST, &et, &n, 10);
    ASSERT_EQ_INT(r.err, -E2BIG);
    ASSERT_EQ_INT(n, 0);
    /* unknown type nibble */
    const uint8_t badtype[] = {0x1e, 0x00};
    tp_thrift_r_init(&r, badtype, sizeof badtype);
    tp_thrift_r_skip(&r, TP_THRIFT_STRUCT);
    ASSERT_EQ_INT(r.err, -EBADMSG);
    /* overlong varint for an i32 */
    const uint8_t overlong[] = {0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    tp_thrift_r_init(&r, overlong, sizeof overlong);
    tp_thrift_r_skip(&r, TP_THRIFT_STRUCT);
    ASSERT_EQ_INT(r.err, -EBADMSG);
    /* binary longer than the input */
    const uint8_t longbin[] = {0x18, 0x10, 'a', 'b', 0x00};
    tp_thrift_r_init(&r, longbin, sizeof longbin);
    tp_thrift_r_skip(&r, TP_THRIFT_STRUCT);
    ASSERT_EQ_INT(r.err, -EBADMSG);
    /* a map (never written by Parquet) is skipped: {1: map<i32,binary>{7: "x"}, 2: i32 5} */
    const uint8_t map[] = {0x1b, 0x01, 0x58, 0x0e, 0x01, 'x', 0x15, 0x0a, 0x00};
    tp_thrift_r_init(&r, map, sizeof map);
    tp_thrift_r_struct_begin(&r);
    int16_t last = 0, id;
    int t;
    ASSERT_EQ_INT(tp_thrift_r_field(&r, &last, &id, &t), 1);
    ASSERT_EQ_INT(t, TP_THRIFT_MAP);
    tp_thrift_r_skip(&r, t);
    ASSERT_EQ_INT(tp_thrift_r_field(&r, &last, &id, &t), 1);
    ASSERT_EQ_INT(id, 2);
    ASSERT_EQ_INT(tp_thrift_r_i32(&r, t), 5);
    ASSERT_EQ_INT(tp_thrift_r_field(&r, &last, &id, &t), 0);
    ASSERT_EQ_INT(r.err, 0);
    /* a type mismatch on a known field */
    tp_thrift_r_init(&r, map, sizeof map);
    tp_thrift_r_struct_begin(&r);
    last = 0;
    tp_thrift_r_field(&r, &last, &id, &t);
    tp_thrift_r_i32(&r, t);
    ASSERT_EQ_INT(r.err, -EBADMSG);
}

/* ---- RLE / bit-packed hybrid ---- */

static void test_rle_roundtrip(void)
{
    struct tp_rng rng;
    tp_rng_seed(&rng, 42);
    size_t n = 5000;
    uint32_t *v = malloc(n * 4), *back = malloc(n * 4);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 24);
    for (int bw = 0; bw <= 32; bw++) {
        uint64_t lim = (uint64_t)1 << bw;
        for (int pattern = 0; pattern < 4; pattern++) {
            for (size_t i = 0; i < n; i++) {
                uint32_t x = (uint32_t)(tp_rng_u64(&rng) % lim);
                if (pattern == 1 && i > 0 && tp_rng_below(&rng, 10) < 8) x = v[i - 1];
                if (pattern == 2) x = (uint32_t)((i / 37) % lim);
                if (pattern == 3) x = i < n / 2 ? 0 : (uint32_t)(lim - 1);
                v[i] = x;
            }
            for (size_t len = 0; len < n; len = len ? len * 3 + 1 : 1) {
                tp_buf_reset(&b);
                ASSERT_EQ_INT(tp_pq_rle_encode(&b, v, len, bw), 0);
                memset(back, 0xab, n * 4);
                int rc = tp_pq_rle_decode((const uint8_t *)b.p, b.len, bw, back, len);
                if (rc) TPT_FAIL("bw %d pattern %d len %zu: decode %d", bw, pattern, len, rc);
                for (size_t i = 0; i < len; i++)
                    if (back[i] != v[i])
                        TPT_FAIL("bw %d pattern %d len %zu: [%zu] %u != %u", bw, pattern, len, i,
                                 back[i], v[i]);
                /* a truncation fails or (when only padding was cut) decodes the same */
                if (len > 0 && len < 200)
                    for (size_t cut = 0; cut < b.len; cut++) {
                        uint8_t *q = malloc(cut + 1); /* exact size for ASan */
                        memcpy(q, b.p, cut);
                        int rc2 = tp_pq_rle_decode(q, cut, bw, back, len);
                        free(q);
                        if (rc2 == 0)
                            for (size_t i = 0; i < len; i++)
                                if (back[i] != v[i])
                                    TPT_FAIL("bw %d len %zu cut %zu: wrong value", bw, len, cut);
                    }
            }
        }
    }
    /* runs compress: 10000 equal values take a few bytes */
    for (size_t i = 0; i < n; i++) v[i] = 3;
    tp_buf_reset(&b);
    ASSERT_EQ_INT(tp_pq_rle_encode(&b, v, n, 2), 0);
    ASSERT(b.len <= 4);
    /* null flags to levels */
    uint8_t nulls[1000];
    for (size_t i = 0; i < 1000; i++) nulls[i] = (i % 7 == 0) || (i > 500 && i < 600);
    tp_buf_reset(&b);
    ASSERT_EQ_INT(tp_pq_rle_encode_nulls(&b, nulls, 1000), 0);
    ASSERT_EQ_INT(tp_pq_rle_decode((const uint8_t *)b.p, b.len, 1, back, 1000), 0);
    for (size_t i = 0; i < 1000; i++) ASSERT_EQ_INT(back[i], !nulls[i]);
    /* Regression: more than 4096 flags whose runs do not end on group boundaries (the encoder
     * once cut them into 4096-flag slices, and the padding of a slice's last bit-packed run
     * read back as extra nulls). */
    uint8_t *many = malloc(n);
    for (size_t i = 0; i < n; i++) many[i] = i >= 9 && (i % 3 == 0 || (i / 1001) % 2);
    tp_buf_reset(&b);
    ASSERT_EQ_INT(tp_pq_rle_encode_nulls(&b, many, n), 0);
    ASSERT_EQ_INT(tp_pq_rle_decode((const uint8_t *)b.p, b.len, 1, back, n), 0);
    for (size_t i = 0; i < n; i++)
        if (back[i] != (uint32_t)!many[i]) TPT_FAIL("level %zu: %u", i, back[i]);
    free(many);
    /* a value wider than the bit width is malformed */
    const uint8_t wide[] = {0x02, 0x05}; /* RLE run of 1, value 5, width 2 */
    ASSERT_EQ_INT(tp_pq_rle_decode(wide, 2, 2, back, 1), -EBADMSG);
    tp_buf_fini(&b);
    free(v);
    free(back);
}

/* ---- test tables ---- */

#define NCOLS 11

struct table {
    size_t n;
    struct tp_pq_column cols[NCOLS];
    void *vals[NCOLS];
    uint8_t *nulls[NCOLS];
    char *pool;
};

static const char *const SYMS[] = {"binance:BTC-USDT", "coinbase:ETH-USD", "kraken:BTC-USD",
                                   "okx:SOL-USDT",     "é-ü-unicode",      ""};

/* A table with every column kind, nullable and required, low and high cardinality. */
static void table_make(struct table *t, size_t n, uint64_t seed)
{
    struct tp_rng rng;
    tp_rng_seed(&rng, seed);
    memset(t, 0, sizeof *t);
    t->n = n;
    const struct tp_pq_column cols[NCOLS] = {
        {"flag", TP_PQ_BOOL, true, false},      {"qty", TP_PQ_INT32, false, false},
        {"id", TP_PQ_INT64, true, false},       {"price", TP_PQ_DOUBLE, true, false},
        {"sym", TP_PQ_STRING, true, false},     {"uniq", TP_PQ_STRING, false, false},
        {"blob", TP_PQ_BYTES, true, false},     {"ts", TP_PQ_TS_MICROS, false, false},
        {"ts_ns", TP_PQ_TS_NANOS, true, false}, {"ts_ms", TP_PQ_TS_MILLIS, false, true},
        {"level", TP_PQ_INT64, false, false},
    };
    memcpy(t->cols, cols, sizeof cols);
    t->pool = malloc(n * 48 + 16);
    char *pool = t->pool;
    uint8_t *flag = malloc(n);
    int32_t *qty = malloc(n * 4);
    int64_t *id = malloc(n * 8), *ts = malloc(n * 8), *tsn = malloc(n * 8), *tsm = malloc(n * 8);
    int64_t *level = malloc(n * 8);
    double *price = malloc(n * 8);
    struct tp_pq_bytes *sym = malloc(n * sizeof *sym), *uniq = malloc(n * sizeof *uniq),
                       *blob = malloc(n * sizeof *blob);
    for (int c = 0; c < NCOLS; c++) t->nulls[c] = calloc(n ? n : 1, 1);
    double p = 50000;
    for (size_t i = 0; i < n; i++) {
        flag[i] = tp_rng_below(&rng, 2);
        qty[i] = (int32_t)tp_rng_u64(&rng);
        id[i] = (int64_t)tp_rng_u64(&rng);
        p += (double)((int64_t)tp_rng_below(&rng, 21) - 10) * 0.01;
        price[i] = p;
        if (i % 97 == 5) price[i] = -0.0;
        if (i % 89 == 7 && i < 2000) price[i] = NAN; /* NaN only in the first 2000 rows */
        if (i % 101 == 3) price[i] = INFINITY;
        const char *s = SYMS[tp_rng_below(&rng, TP_ARRAY_LEN(SYMS))];
        sym[i] = (struct tp_pq_bytes){s, (uint32_t)strlen(s)};
        int k =
            snprintf(pool, 40, "trade-%zu-%llu", i, (unsigned long long)tp_rng_below(&rng, 1000));
        uniq[i] = (struct tp_pq_bytes){pool, (uint32_t)k};
        pool += k;
        size_t bl = tp_rng_below(&rng, 6);
        for (size_t j = 0; j < bl; j++) pool[j] = (char)tp_rng_below(&rng, 256);
        blob[i] = (struct tp_pq_bytes){pool, (uint32_t)bl};
        pool += bl;
        ts[i] = INT64_C(1795437240000000) + (int64_t)i * 1000 - 500000;
        tsn[i] = INT64_C(1795437240000000000) + (int64_t)i * 1001;
        tsm[i] = -INT64_C(1000) * (int64_t)i; /* before 1970 too */
        level[i] = (int64_t)(i / 300);
        t->nulls[0][i] = i % 5 == 1;
        t->nulls[2][i] = i % 3 == 0;
        t->nulls[3][i] = i % 11 == 2;
        t->nulls[4][i] = i % 4 == 3 || (i >= 1000 && i < 1400);
        t->nulls[6][i] = i % 2 == 0;
        t->nulls[8][i] = i >= n / 2; /* a long run of nulls */
    }
    void *v[NCOLS] = {flag, qty, id, price, sym, uniq, blob, ts, tsn, tsm, level};
    memcpy(t->vals, v, sizeof v);
    for (int c = 0; c < NCOLS; c++)
        if (!t->cols[c].optional) memset(t->nulls[c], 0, n ? n : 1);
}

static void table_free(struct table *t)
{
    for (int c = 0; c < NCOLS; c++) {
        free(t->vals[c]);
        free(t->nulls[c]);
    }
    free(t->pool);
}

static size_t kind_size(enum tp_pq_kind k)
{
    switch (k) {
    case TP_PQ_BOOL:
        return 1;
    case TP_PQ_INT32:
        return 4;
    case TP_PQ_STRING:
    case TP_PQ_BYTES:
        return sizeof(struct tp_pq_bytes);
    default:
        return 8;
    }
}

static char tmpdir[256];

static const char *tmp_path(const char *name, char *buf, size_t cap)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/tp_parquet_XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) TPT_FAIL("mkdtemp failed");
    }
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    return buf;
}

/* Writes rows [0, n) of t in batches of `batch` rows to path. */
static int write_table(const char *path, const struct table *t, const struct tp_pq_options *o,
                       size_t batch)
{
    struct tp_pq_writer *w;
    int rc = tp_pq_writer_open_path(&w, path, t->cols, NCOLS, o);
    if (rc) return rc;
    for (size_t off = 0; off < t->n; off += batch) {
        size_t m = TP_MIN(batch, t->n - off);
        struct tp_pq_batch_col b[NCOLS];
        for (int c = 0; c < NCOLS; c++) {
            b[c].values = (const char *)t->vals[c] + off * kind_size(t->cols[c].kind);
            b[c].is_null = t->cols[c].optional ? t->nulls[c] + off : NULL;
        }
        rc = tp_pq_writer_append(w, b, m);
        if (rc) {
            tp_pq_writer_abort(w);
            return rc;
        }
    }
    return tp_pq_writer_close(w);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) TPT_FAIL("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    if (fread(p, 1, (size_t)len, f) != (size_t)len) TPT_FAIL("short read");
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void check_value(const struct table *t, int c, size_t row, const struct tp_pq_data *d,
                        size_t i)
{
    bool null = t->nulls[c][row] != 0;
    if ((d->is_null[i] != 0) != null)
        TPT_FAIL("col %s row %zu: null %d, expected %d", t->cols[c].name, row, d->is_null[i], null);
    if (null) return;
    switch (t->cols[c].kind) {
    case TP_PQ_BOOL:
        ASSERT_EQ_INT(((uint8_t *)d->values)[i], ((uint8_t *)t->vals[c])[row] != 0);
        break;
    case TP_PQ_INT32:
        ASSERT_EQ_INT(((int32_t *)d->values)[i], ((int32_t *)t->vals[c])[row]);
        break;
    case TP_PQ_DOUBLE: {
        double a = ((double *)d->values)[i], b = ((double *)t->vals[c])[row];
        if (memcmp(&a, &b, 8)) TPT_FAIL("col price row %zu: %.17g != %.17g", row, a, b);
        break;
    }
    case TP_PQ_STRING:
    case TP_PQ_BYTES: {
        struct tp_pq_bytes a = ((struct tp_pq_bytes *)d->values)[i];
        struct tp_pq_bytes b = ((struct tp_pq_bytes *)t->vals[c])[row];
        if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n)))
            TPT_FAIL("col %s row %zu: \"%.*s\" != \"%.*s\"", t->cols[c].name, row, (int)a.n, a.p,
                     (int)b.n, b.p);
        break;
    }
    default:
        if (((int64_t *)d->values)[i] != ((int64_t *)t->vals[c])[row])
            TPT_FAIL("col %s row %zu: %lld != %lld", t->cols[c].name, row,
                     (long long)((int64_t *)d->values)[i], (long long)((int64_t *)t->vals[c])[row]);
    }
}

/* Reads the file at path back and compares everything with t. Returns the row groups. */
static size_t verify_file(const char *path, const struct table *t)
{
    struct tp_pq_reader *r;
    struct tp_pq_error e;
    int rc = tp_pq_reader_open_path(&r, path, NULL, &e);
    if (rc) TPT_FAIL("open %s: %d %s", path, rc, e.msg);
    ASSERT_EQ_INT(tp_pq_reader_ncols(r), NCOLS);
    ASSERT_EQ_U64(tp_pq_reader_rows(r), t->n);
    for (int c = 0; c < NCOLS; c++) {
        const struct tp_pq_column *col = tp_pq_reader_column(r, (size_t)c);
        ASSERT_EQ_STR(col->name, t->cols[c].name);
        ASSERT_EQ_INT(col->kind, t->cols[c].kind);
        ASSERT_EQ_INT(col->optional, t->cols[c].optional);
        ASSERT_EQ_INT(col->local_time, t->cols[c].local_time);
        ASSERT_EQ_INT(tp_pq_reader_find(r, t->cols[c].name), c);
    }
    size_t row = 0, ngroups = tp_pq_reader_row_groups(r);
    for (size_t g = 0; g < ngroups; g++) {
        size_t rows = (size_t)tp_pq_reader_rg_rows(r, g);
        for (int c = 0; c < NCOLS; c++) {
            struct tp_pq_data d;
            rc = tp_pq_reader_read(r, g, (size_t)c, &d);
            if (rc) TPT_FAIL("read rg %zu col %d: %d %s", g, c, rc, tp_pq_reader_error(r)->msg);
            ASSERT_EQ_INT(d.n, rows);
            ASSERT_EQ_INT(d.kind, t->cols[c].kind);
            size_t nulls = 0;
            for (size_t i = 0; i < rows; i++) {
                check_value(t, c, row + i, &d, i);
                nulls += t->nulls[c][row + i] != 0;
            }
            ASSERT_EQ_INT(d.null_count, nulls);
            tp_pq_data_fini(&d);
        }
        row += rows;
    }
    ASSERT_EQ_INT(row, t->n);
    tp_pq_reader_close(r);
    return ngroups;
}

static void test_roundtrip_matrix(void)
{
    struct table t;
    table_make(&t, 3000, 7);
    const enum tp_pq_codec codecs[] = {TP_PQ_UNCOMPRESSED, TP_PQ_SNAPPY, TP_PQ_ZSTD};
    char path[512];
    for (size_t ci = 0; ci < TP_ARRAY_LEN(codecs); ci++)
        for (int dict = 0; dict < 2; dict++)
            for (int v2 = 0; v2 < 2; v2++)
                for (int stats = 0; stats < 2; stats++) {
                    struct tp_pq_options o;
                    tp_pq_options_default(&o);
                    o.codec = codecs[ci];
                    o.dictionary = dict;
                    o.page_v2 = v2;
                    o.page_stats = stats;
                    o.row_group_rows = 1100; /* 3 row groups */
                    o.page_rows = 256;       /* several pages per chunk */
                    tmp_path("matrix.parquet", path, sizeof path);
                    int rc = write_table(path, &t, &o, 333);
                    if (rc) TPT_FAIL("write codec %d dict %d v2 %d: %d", codecs[ci], dict, v2, rc);
                    ASSERT_EQ_INT(verify_file(path, &t), 3);
                }
    table_free(&t);
}

static void test_roundtrip_shapes(void)
{
    char path[512];
    struct tp_pq_options o;
    /* one row; a single batch larger than a row group; pages cut by bytes */
    size_t sizes[] = {1, 7, 20000};
    for (size_t k = 0; k < TP_ARRAY_LEN(sizes); k++) {
        struct table t;
        table_make(&t, sizes[k], 100 + k);
        tp_pq_options_default(&o);
        o.row_group_rows = 8000;
        o.page_bytes = 4096;
        tmp_path("shapes.parquet", path, sizeof path);
        ASSERT_EQ_INT(write_table(path, &t, &o, sizes[k]), 0);
        ASSERT_EQ_INT(verify_file(path, &t), (sizes[k] + 7999) / 8000);
        table_free(&t);
    }
    /* row groups cut by bytes */
    struct table t;
    table_make(&t, 5000, 3);
    tp_pq_options_default(&o);
    o.row_group_bytes = 64 * 1024;
    tmp_path("bytes.parquet", path, sizeof path);
    ASSERT_EQ_INT(write_table(path, &t, &o, 1000), 0);
    size_t groups = verify_file(path, &t);
    ASSERT(groups >= 3);
    /* zero rows: a valid file with no row groups */
    struct table empty;
    table_make(&empty, 0, 1);
    tmp_path("empty.parquet", path, sizeof path);
    ASSERT_EQ_INT(write_table(path, &empty, NULL, 1), 0);
    ASSERT_EQ_INT(verify_file(path, &empty), 0);
    table_free(&empty);
    /* explicit flush makes a row group */
    struct tp_pq_writer *w;
    tmp_path("flush.parquet", path, sizeof path);
    ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, t.cols, NCOLS, NULL), 0);
    for (size_t off = 0; off < 300; off += 100) {
        struct tp_pq_batch_col b[NCOLS];
        for (int c = 0; c < NCOLS; c++) {
            b[c].values = (const char *)t.vals[c] + off * kind_size(t.cols[c].kind);
            b[c].is_null = t.cols[c].optional ? t.nulls[c] + off : NULL;
        }
        ASSERT_EQ_INT(tp_pq_writer_append(w, b, 100), 0);
        ASSERT_EQ_INT(tp_pq_writer_flush(w), 0);
    }
    ASSERT_EQ_U64(tp_pq_writer_rows(w), 300);
    ASSERT_EQ_INT(tp_pq_writer_close(w), 0);
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_INT(tp_pq_reader_row_groups(r), 3);
    tp_pq_reader_close(r);
    table_free(&t);
}

/* The chunk's encodings, from the footer (the reader does not expose them). */
static uint32_t chunk_encodings(const char *path, size_t rg, size_t col)
{
    size_t n;
    uint8_t *p = slurp(path, &n);
    uint32_t flen;
    memcpy(&flen, p + n - 8, 4);
    struct tp_pq_meta m;
    char msg[200];
    ASSERT_EQ_INT(tp_pq_meta_decode(p + n - 8 - flen, flen, NULL, &m, msg, sizeof msg), 0);
    uint32_t enc = m.rgs[rg].cols[col].meta.encodings;
    bool dict = m.rgs[rg].cols[col].meta.has_dict_offset;
    tp_pq_meta_free(&m);
    free(p);
    ASSERT_EQ_INT(dict, (enc >> PQ_ENC_RLE_DICTIONARY) & 1);
    return enc;
}

static void test_dictionary_fallback(void)
{
    struct table t;
    table_make(&t, 4000, 11);
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    o.dict_max_entries = 100;
    char path[512];
    tmp_path("dict.parquet", path, sizeof path);
    ASSERT_EQ_INT(write_table(path, &t, &o, 4000), 0);
    verify_file(path, &t);
    /* few distinct symbols: dictionary; unique strings and random ids: PLAIN */
    ASSERT(chunk_encodings(path, 0, 4) & (1u << PQ_ENC_RLE_DICTIONARY));
    ASSERT(chunk_encodings(path, 0, 10) & (1u << PQ_ENC_RLE_DICTIONARY));
    ASSERT(!(chunk_encodings(path, 0, 5) & (1u << PQ_ENC_RLE_DICTIONARY)));
    ASSERT(!(chunk_encodings(path, 0, 2) & (1u << PQ_ENC_RLE_DICTIONARY)));
    ASSERT(!(chunk_encodings(path, 0, 0) & (1u << PQ_ENC_RLE_DICTIONARY))); /* booleans */
    /* a byte cap on the dictionary falls back as well */
    o.dict_max_entries = 65536;
    o.dict_max_bytes = 16;
    ASSERT_EQ_INT(write_table(path, &t, &o, 4000), 0);
    verify_file(path, &t);
    ASSERT(!(chunk_encodings(path, 0, 4) & (1u << PQ_ENC_RLE_DICTIONARY)));
    table_free(&t);
}

static void test_statistics(void)
{
    struct table t;
    table_make(&t, 6000, 5);
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    o.row_group_rows = 2000;
    o.stats_max_bytes = 10; /* truncates "binance:BTC-USDT" and friends */
    o.page_rows = 500;
    char path[512];
    tmp_path("stats.parquet", path, sizeof path);
    ASSERT_EQ_INT(write_table(path, &t, &o, 777), 0);
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_INT(tp_pq_reader_row_groups(r), 3);
    for (size_t g = 0; g < 3; g++) {
        size_t r0 = g * 2000;
        for (int c = 0; c < NCOLS; c++) {
            struct tp_pq_stats s;
            ASSERT(tp_pq_reader_stats(r, g, (size_t)c, &s));
            ASSERT(s.has_null_count);
            int64_t nulls = 0, imin = INT64_MAX, imax = INT64_MIN;
            double dmin = INFINITY, dmax = -INFINITY;
            struct tp_pq_bytes smin = {0}, smax = {0};
            bool any = false, nan = false;
            for (size_t i = r0; i < r0 + 2000; i++) {
                if (t.nulls[c][i]) {
                    nulls++;
                    continue;
                }
                enum tp_pq_kind k = t.cols[c].kind;
                if (k == TP_PQ_DOUBLE) {
                    double x = ((double *)t.vals[c])[i];
                    if (isnan(x)) {
                        nan = true;
                        continue;
                    }
                    dmin = fmin(dmin, x), dmax = fmax(dmax, x);
                } else if (k == TP_PQ_STRING || k == TP_PQ_BYTES) {
                    struct tp_pq_bytes x = ((struct tp_pq_bytes *)t.vals[c])[i];
                    int lo = any ? memcmp(x.p, smin.p, TP_MIN(x.n, smin.n)) : -1;
                    int hi = any ? memcmp(x.p, smax.p, TP_MIN(x.n, smax.n)) : 1;
                    if (lo < 0 || (lo == 0 && x.n < smin.n)) smin = x;
                    if (hi > 0 || (hi == 0 && x.n > smax.n)) smax = x;
                } else {
                    int64_t x = k == TP_PQ_BOOL    ? ((uint8_t *)t.vals[c])[i]
                                : k == TP_PQ_INT32 ? ((int32_t *)t.vals[c])[i]
                                                   : ((int64_t *)t.vals[c])[i];
                    imin = TP_MIN(imin, x), imax = TP_MAX(imax, x);
                }
                any = true;
            }
            ASSERT_EQ_INT(s.null_count, nulls);
            ASSERT_EQ_INT(s.has_minmax, any && !nan); /* no bounds with NaNs in the chunk */
            if (!s.has_minmax) continue;
            enum tp_pq_kind k = t.cols[c].kind;
            if (k == TP_PQ_DOUBLE) {
                ASSERT_EQ_DBL(s.min.d, dmin);
                ASSERT_EQ_DBL(s.max.d, dmax);
            } else if (k == TP_PQ_STRING || k == TP_PQ_BYTES) {
                /* bounds, exact when short, and a truncated prefix when long */
                size_t mn = TP_MIN(smin.n, 10);
                ASSERT(s.min.s.n <= 10 && s.max.s.n <= 10);
                ASSERT(s.min.s.n <= mn && !memcmp(s.min.s.p, smin.p, s.min.s.n));
                ASSERT_EQ_INT(s.min_exact, s.min.s.n == smin.n);
                ASSERT_EQ_INT(s.max_exact, smax.n <= 10);
                if (s.max_exact)
                    ASSERT(s.max.s.n == smax.n && !memcmp(s.max.s.p, smax.p, smax.n));
                else
                    ASSERT(memcmp(s.max.s.p, smax.p, s.max.s.n) > 0);
            } else {
                ASSERT_EQ_INT(s.min.i, imin);
                ASSERT_EQ_INT(s.max.i, imax);
            }
        }
        /* skipping by a range of ts: each row group covers its own 2000 ms */
        int64_t t0 = INT64_C(1795437240000000) - 500000;
        for (size_t q = 0; q < 3; q++) {
            int64_t lo = t0 + (int64_t)(q * 2000 + 10) * 1000, hi = lo + 100;
            ASSERT_EQ_INT(tp_pq_reader_may_contain_i64(r, g, 7, lo, hi), q == g);
        }
        ASSERT(tp_pq_reader_may_contain_dbl(r, g, 3, -1e300, 1e300));
        /* the first row group has NaNs, so no bounds; the others start at -0.0 */
        ASSERT_EQ_INT(tp_pq_reader_may_contain_dbl(r, g, 3, -2e9, -1e9), g == 0);
        struct tp_pq_bytes a = {"\xff", 1}, z = {"\xff\xff", 2}, b = {"binance", 7};
        ASSERT(!tp_pq_reader_may_contain_str(r, g, 4, a, z));
        ASSERT(tp_pq_reader_may_contain_str(r, g, 4, b, b));
    }
    /* ts_ns is null in the second half: the last row group holds no value at all */
    ASSERT(!tp_pq_reader_may_contain_i64(r, 2, 8, INT64_MIN, INT64_MAX));
    ASSERT(tp_pq_reader_may_contain_i64(r, 0, 8, INT64_MIN, INT64_MAX));
    tp_pq_reader_close(r);
    table_free(&t);
}

static void test_metadata(void)
{
    struct table t;
    table_make(&t, 10, 1);
    const struct tp_pq_kv kv[] = {{"tickpipe.schema_version", "1"}, {"novalue", NULL}};
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    o.kv = kv;
    o.nkv = 2;
    char path[512];
    tmp_path("meta.parquet", path, sizeof path);
    ASSERT_EQ_INT(write_table(path, &t, &o, 10), 0);
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    ASSERT_EQ_STR(tp_pq_reader_kv(r, "tickpipe.schema_version"), "1");
    ASSERT(tp_pq_reader_kv(r, "novalue") == NULL);
    ASSERT(tp_pq_reader_kv(r, "absent") == NULL);
    ASSERT(!strncmp(tp_pq_reader_created_by(r), "tickpipe version ", 17));
    ASSERT_EQ_INT(tp_pq_reader_codec(r, 0, 0), TP_PQ_ZSTD);
    tp_pq_reader_close(r);
    table_free(&t);
}

static void test_writer_errors(void)
{
    const struct tp_pq_column cols[] = {{"a", TP_PQ_INT64, false, false},
                                        {"s", TP_PQ_STRING, true, false}};
    struct tp_pq_writer *w;
    char path[512];
    tmp_path("err.parquet", path, sizeof path);
    /* bad schemas and options */
    const struct tp_pq_column dup[] = {{"a", TP_PQ_INT64, false, false},
                                       {"a", TP_PQ_INT64, false, false}};
    ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, dup, 2, NULL), -EINVAL);
    const struct tp_pq_column other[] = {{"a", TP_PQ_OTHER, false, false}};
    ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, other, 1, NULL), -EINVAL);
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    const struct tp_pq_kv nokey[] = {{NULL, "x"}};
    o.kv = nokey;
    o.nkv = 1;
    ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, cols, 2, &o), -EINVAL);
    tp_pq_options_default(&o);
    o.codec = (enum tp_pq_codec)2; /* GZIP is not built in */
    ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, cols, 2, &o), -EINVAL);
    ASSERT(tp_pq_writer_open_path(&w, "/nonexistent/dir/x.parquet", cols, 2, NULL) < 0);

    tp_pq_options_default(&o);
    o.max_value_bytes = 8;
    ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, cols, 2, &o), 0);
    int64_t a[2] = {1, 2};
    struct tp_pq_bytes s[2] = {{"ok", 2}, {"much too long", 13}};
    uint8_t nul[2] = {1, 0};
    struct tp_pq_batch_col b[2] = {{a, nul}, {s, NULL}};
    ASSERT_EQ_INT(tp_pq_writer_append(w, b, 2), -EINVAL); /* null in a required column */
    b[0].is_null = NULL;
    ASSERT_EQ_INT(tp_pq_writer_append(w, b, 2), -E2BIG); /* value too long */
    ASSERT_EQ_U64(tp_pq_writer_rows(w), 0);              /* nothing appended */
    uint8_t nul2[2] = {0, 1};
    b[1].is_null = nul2;
    ASSERT_EQ_INT(tp_pq_writer_append(w, b, 2), 0); /* the long value is null: fine */
    ASSERT_EQ_INT(tp_pq_writer_close(w), 0);
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
    struct tp_pq_data d;
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, 1, &d), 0);
    ASSERT_EQ_INT(d.is_null[1], 1);
    ASSERT_EQ_INT(((struct tp_pq_bytes *)d.values)[0].n, 2);
    tp_pq_data_fini(&d);
    tp_pq_reader_close(r);

    /* a write error (read-only descriptor) is reported, at the latest by close */
    int fd = open(path, O_RDONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(tp_pq_writer_open_fd(&w, fd, cols, 2, NULL), 0);
    b[1].is_null = NULL;
    s[1].n = 3;
    int rc = 0;
    for (int i = 0; i < 2000 && rc == 0; i++) rc = tp_pq_writer_append(w, b, 2);
    int rc2 = tp_pq_writer_close(w);
    ASSERT_EQ_INT(rc ? rc : rc2, -EBADF);
    close(fd);
}

/* A dictionary of one entry (index width 1), a column of one repeated value and nulls. */
static void test_constant_columns(void)
{
    const struct tp_pq_column cols[] = {{"k", TP_PQ_INT64, false, false},
                                        {"s", TP_PQ_STRING, true, false},
                                        {"d", TP_PQ_DOUBLE, true, false}};
    enum { N = 1000 };
    static int64_t k[N];
    static struct tp_pq_bytes s[N];
    static double d[N];
    static uint8_t nul[N];
    for (int i = 0; i < N; i++) {
        k[i] = 42;
        s[i] = (struct tp_pq_bytes){"same", 4};
        d[i] = 1.5;
        nul[i] = i % 10 == 0;
    }
    char path[512];
    tmp_path("const.parquet", path, sizeof path);
    for (int v2 = 0; v2 < 2; v2++) {
        struct tp_pq_options o;
        tp_pq_options_default(&o);
        o.page_v2 = v2;
        o.page_rows = 100;
        struct tp_pq_writer *w;
        ASSERT_EQ_INT(tp_pq_writer_open_path(&w, path, cols, 3, &o), 0);
        struct tp_pq_batch_col b[3] = {{k, NULL}, {s, nul}, {d, nul}};
        ASSERT_EQ_INT(tp_pq_writer_append(w, b, N), 0);
        ASSERT_EQ_INT(tp_pq_writer_close(w), 0);
        ASSERT(chunk_encodings(path, 0, 0) & (1u << PQ_ENC_RLE_DICTIONARY));
        struct tp_pq_reader *r;
        ASSERT_EQ_INT(tp_pq_reader_open_path(&r, path, NULL, NULL), 0);
        for (size_t c = 0; c < 3; c++) {
            struct tp_pq_data dt;
            ASSERT_EQ_INT(tp_pq_reader_read(r, 0, c, &dt), 0);
            ASSERT_EQ_INT(dt.null_count, c ? N / 10 : 0);
            for (int i = 0; i < N; i++) {
                ASSERT_EQ_INT(dt.is_null[i], c && nul[i]);
                if (dt.is_null[i]) continue;
                if (c == 0) ASSERT_EQ_INT(((int64_t *)dt.values)[i], 42);
                if (c == 1) ASSERT(!memcmp(((struct tp_pq_bytes *)dt.values)[i].p, "same", 4));
                if (c == 2) ASSERT_EQ_DBL(((double *)dt.values)[i], 1.5);
            }
            tp_pq_data_fini(&dt);
        }
        struct tp_pq_stats st;
        ASSERT(tp_pq_reader_stats(r, 0, 0, &st));
        ASSERT(st.has_minmax && st.min.i == 42 && st.max.i == 42);
        tp_pq_reader_close(r);
    }
}

/* ---- corrupt input ---- */

/* Opens n bytes and, if that works, reads every chunk; returns the open result. */
static int try_read_all(const uint8_t *p, size_t n, struct tp_pq_error *e)
{
    struct tp_pq_reader *r;
    struct tp_pq_limits lim = {.max_chunk = 1 << 22, .max_page = 1 << 22};
    int rc = tp_pq_reader_open_mem(&r, p, n, &lim, e);
    if (rc < 0) {
        if (!e->msg[0] || e->code != rc) TPT_FAIL("error %d without a message", rc);
        return rc;
    }
    int bad = 0;
    for (size_t g = 0; g < tp_pq_reader_row_groups(r); g++)
        for (size_t c = 0; c < tp_pq_reader_ncols(r); c++) {
            struct tp_pq_data d;
            int k = tp_pq_reader_read(r, g, c, &d);
            if (k == 0)
                tp_pq_data_fini(&d);
            else if (!tp_pq_reader_error(r)->msg[0])
                TPT_FAIL("read error %d without message", k);
            else
                bad = k;
        }
    tp_pq_reader_close(r);
    return bad;
}

static uint8_t *small_file(size_t *n, enum tp_pq_codec codec, bool v2)
{
    struct table t;
    table_make(&t, 40, 9);
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    o.codec = codec;
    o.page_v2 = v2;
    o.row_group_rows = 25;
    o.page_rows = 10;
    char path[512];
    tmp_path("small.parquet", path, sizeof path);
    if (write_table(path, &t, &o, 40)) TPT_FAIL("write small file");
    table_free(&t);
    return slurp(path, n);
}

static void test_corrupt_truncated(void)
{
    size_t n;
    uint8_t *p = small_file(&n, TP_PQ_ZSTD, false);
    struct tp_pq_error e;
    ASSERT_EQ_INT(try_read_all(p, n, &e), 0);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *q = malloc(cut ? cut : 1); /* exact size, so ASan sees any overread */
        memcpy(q, p, cut);
        int rc = try_read_all(q, cut, &e);
        free(q);
        if (rc >= 0) TPT_FAIL("truncation at %zu of %zu accepted", cut, n);
    }
    free(p);
}

static void test_corrupt_footer(void)
{
    size_t n;
    uint8_t *p = small_file(&n, TP_PQ_SNAPPY, false);
    struct tp_pq_error e;
    uint32_t flen;
    memcpy(&flen, p + n - 8, 4);
    /* bad magic at either end */
    p[0] = 'X';
    ASSERT_EQ_INT(try_read_all(p, n, &e), -EBADMSG);
    ASSERT(strstr(e.msg, "magic"));
    p[0] = 'P';
    p[n - 1] = 'X';
    ASSERT_EQ_INT(try_read_all(p, n, &e), -EBADMSG);
    p[n - 1] = '1';
    /* lying footer lengths */
    const uint32_t lies[] = {
        0, 1, flen - 1, flen + 1, (uint32_t)n - 12, (uint32_t)n - 11, (uint32_t)n, UINT32_MAX};
    for (size_t i = 0; i < TP_ARRAY_LEN(lies); i++) {
        memcpy(p + n - 8, &lies[i], 4);
        int rc = try_read_all(p, n, &e);
        if (rc >= 0) TPT_FAIL("footer length %u accepted", lies[i]);
    }
    memcpy(p + n - 8, &flen, 4);
    ASSERT_EQ_INT(try_read_all(p, n, &e), 0);
    /* every footer byte set to a few values: an error or a valid read, never a crash */
    const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x15, 0x19, 0x1c};
    size_t f0 = n - 8 - flen;
    for (size_t i = f0; i < n - 8; i++) {
        uint8_t keep = p[i];
        for (size_t k = 0; k < TP_ARRAY_LEN(vals); k++) {
            p[i] = vals[k];
            try_read_all(p, n, &e);
            p[i] = keep ^ (uint8_t)(1u << (k % 8));
            try_read_all(p, n, &e);
        }
        p[i] = keep;
    }
    free(p);
}

static void test_corrupt_pages(void)
{
    /* every byte of the data area mutated: reading gives the right values or an error.
     * Uncompressed pages expose the level and value decoders to every byte; compressed ones
     * mostly the codecs' own checks, so one of each page version is enough for those. */
    const struct {
        enum tp_pq_codec codec;
        bool v2;
    } cases[] = {{TP_PQ_UNCOMPRESSED, false},
                 {TP_PQ_UNCOMPRESSED, true},
                 {TP_PQ_SNAPPY, false},
                 {TP_PQ_ZSTD, true}};
    struct tp_rng rng;
    tp_rng_seed(&rng, 99);
    for (size_t ci = 0; ci < TP_ARRAY_LEN(cases); ci++) {
        size_t n;
        uint8_t *p = small_file(&n, cases[ci].codec, cases[ci].v2);
        uint32_t flen;
        memcpy(&flen, p + n - 8, 4);
        struct tp_pq_error e;
        size_t errors = 0, total = 0;
        for (size_t i = 4; i < n - 8 - flen; i++, total++) {
            uint8_t keep = p[i];
            p[i] = (uint8_t)(keep ^ (1 + tp_rng_below(&rng, 255))); /* always a change */
            errors += try_read_all(p, n, &e) < 0;
            p[i] = keep;
        }
        free(p);
        /* headers, levels, lengths and compressed streams catch many changes; PLAIN values
         * in uncompressed pages cannot be checked (no CRCs are written) */
        if (errors == 0 || errors == total)
            TPT_FAIL("case %zu: %zu of %zu mutations detected", ci, errors, total);
        if (cases[ci].codec != TP_PQ_UNCOMPRESSED && errors < total / 4)
            TPT_FAIL("case %zu: only %zu of %zu mutations of compressed pages detected", ci, errors,
                     total);
    }
}

static void test_not_parquet(void)
{
    struct tp_pq_error e;
    struct tp_pq_reader *r;
    ASSERT_EQ_INT(tp_pq_reader_open_mem(&r, NULL, 0, NULL, &e), -EBADMSG);
    ASSERT(strstr(e.msg, "too short"));
    ASSERT_EQ_INT(tp_pq_reader_open_mem(&r, "PAR1\0\0\0\0PAR1", 12, NULL, &e), -EBADMSG);
    ASSERT_EQ_INT(tp_pq_reader_open_mem(&r, "PAR1\0\0\0\0PARE", 12, NULL, &e), -ENOTSUP);
    ASSERT(tp_pq_reader_open_path(&r, "/nonexistent.parquet", NULL, &e) < 0);
    ASSERT(strstr(e.msg, "nonexistent"));
    ASSERT_EQ_INT(tp_pq_reader_open_path(&r, "/", NULL, &e), -EINVAL);
    /* a footer over the limit */
    size_t n;
    uint8_t *p = small_file(&n, TP_PQ_ZSTD, false);
    struct tp_pq_limits lim = {.max_footer = 16};
    ASSERT_EQ_INT(tp_pq_reader_open_mem(&r, p, n, &lim, &e), -E2BIG);
    /* a chunk over the limit */
    lim = (struct tp_pq_limits){.max_chunk = 8};
    ASSERT_EQ_INT(tp_pq_reader_open_mem(&r, p, n, &lim, &e), 0);
    struct tp_pq_data d;
    ASSERT_EQ_INT(tp_pq_reader_read(r, 0, 0, &d), -E2BIG);
    ASSERT(strstr(tp_pq_reader_error(r)->msg, "limit"));
    ASSERT_EQ_INT(tp_pq_reader_read(r, 5, 0, &d), -EINVAL);
    tp_pq_reader_close(r);
    free(p);
}

static void cleanup(void)
{
    if (!tmpdir[0]) return;
    const char *names[] = {"matrix.parquet", "shapes.parquet", "bytes.parquet", "empty.parquet",
                           "flush.parquet",  "dict.parquet",   "stats.parquet", "meta.parquet",
                           "err.parquet",    "small.parquet",  "const.parquet"};
    char path[512];
    for (size_t i = 0; i < TP_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

static void test_cleanup(void)
{
    cleanup();
    ASSERT(access(tmpdir, F_OK) != 0 || !tmpdir[0]);
}

TPT_MAIN({"thrift_roundtrip", test_thrift_roundtrip}, {"thrift_malformed", test_thrift_malformed},
         {"rle_roundtrip", test_rle_roundtrip}, {"roundtrip_matrix", test_roundtrip_matrix},
         {"roundtrip_shapes", test_roundtrip_shapes},
         {"dictionary_fallback", test_dictionary_fallback}, {"statistics", test_statistics},
         {"metadata", test_metadata}, {"writer_errors", test_writer_errors},
         {"constant_columns", test_constant_columns}, {"corrupt_truncated", test_corrupt_truncated},
         {"corrupt_footer", test_corrupt_footer}, {"corrupt_pages", test_corrupt_pages},
         {"not_parquet", test_not_parquet}, {"cleanup", test_cleanup})
