/*
 * pq_tool.c — a test helper around tickpipe's Parquet writer and reader, for checks against
 * an independent implementation (DuckDB, in tests/duckdb/parquet_check.mjs):
 *
 *   pq_tool suite DIR   writes DIR/<variant>.parquet for every codec x dictionary x page
 *                       version, all from one table with every column kind (nulls, NaN,
 *                       infinities, -0.0, unicode, empty strings, binary bytes, times before
 *                       1970, an all-null column), and DIR/<variant>.jsonl with the rows it
 *                       wrote, and DIR/suite.json listing the variants;
 *   pq_tool dump FILE   reads FILE with tickpipe's reader and prints one JSON line with the
 *                       schema, row groups and key-value metadata, one per chunk with its
 *                       statistics, then one per row.
 *
 * Values in JSON: null; booleans; INT32 as numbers; INT64 and timestamps as decimal
 * strings (in the column's unit); DOUBLE as the 16 hex digits of its bits, or "nan";
 * STRING as a JSON string; BYTES as lowercase hex. Exit 0, 1 on a Parquet error (message on
 * stderr), 2 on usage.
 */
#include <math.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "sink/parquet.h"

#define ROWS 5000

static void json_str(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_hex(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", (unsigned char)p[i]);
    fputc('"', f);
}

static void json_double(FILE *f, double d)
{
    if (isnan(d)) {
        fputs("\"nan\"", f);
        return;
    }
    uint64_t u;
    memcpy(&u, &d, 8);
    fprintf(f, "\"%016llx\"", (unsigned long long)u);
}

static const char *kind_name(enum tp_pq_kind k)
{
    static const char *const names[] = {"other",  "bool",  "int32",     "int64",     "double",
                                        "string", "bytes", "ts_millis", "ts_micros", "ts_nanos"};
    return (size_t)k < sizeof names / sizeof *names ? names[k] : "other";
}

/* Prints value i of a column of kind k (values at v). */
static void json_value(FILE *f, enum tp_pq_kind k, const void *v, size_t i)
{
    switch (k) {
    case TP_PQ_BOOL:
        fputs(((const uint8_t *)v)[i] ? "true" : "false", f);
        break;
    case TP_PQ_INT32:
        fprintf(f, "%d", ((const int32_t *)v)[i]);
        break;
    case TP_PQ_DOUBLE:
        json_double(f, ((const double *)v)[i]);
        break;
    case TP_PQ_STRING: {
        const struct tp_pq_bytes *b = (const struct tp_pq_bytes *)v + i;
        json_str(f, b->p, b->n);
        break;
    }
    case TP_PQ_BYTES: {
        const struct tp_pq_bytes *b = (const struct tp_pq_bytes *)v + i;
        json_hex(f, b->p, b->n);
        break;
    }
    default:
        fprintf(f, "\"%lld\"", (long long)((const int64_t *)v)[i]);
    }
}

/* ---- suite ---- */

#define NC 12

static const struct tp_pq_column COLS[NC] = {
    {"b", TP_PQ_BOOL, true, false},       {"i32", TP_PQ_INT32, false, false},
    {"i64", TP_PQ_INT64, true, false},    {"d", TP_PQ_DOUBLE, true, false},
    {"s", TP_PQ_STRING, true, false},     {"u", TP_PQ_STRING, false, false},
    {"blob", TP_PQ_BYTES, true, false},   {"ts", TP_PQ_TS_MICROS, false, false},
    {"tsn", TP_PQ_TS_NANOS, true, false}, {"tsm", TP_PQ_TS_MILLIS, false, false},
    {"tsl", TP_PQ_TS_MICROS, true, true}, {"allnull", TP_PQ_INT64, true, false},
};

static const char *const SYMS[] = {"binance:BTC-USDT", "coinbase:ETH-USD", "kraken:BTC-USD",
                                   "fmp:EUR-USD",      "ünïcødé €",        ""};

static size_t kind_size(enum tp_pq_kind k)
{
    return k == TP_PQ_BOOL                         ? 1
           : k == TP_PQ_INT32                      ? 4
           : k == TP_PQ_STRING || k == TP_PQ_BYTES ? sizeof(struct tp_pq_bytes)
                                                   : 8;
}

struct table {
    void *vals[NC];
    uint8_t *nulls[NC];
    char *pool;
};

static void make_table(struct table *t)
{
    struct tp_rng rng;
    tp_rng_seed(&rng, 20261123);
    t->pool = malloc(ROWS * 64);
    char *pool = t->pool;
    for (int c = 0; c < NC; c++) {
        t->vals[c] = calloc(ROWS, kind_size(COLS[c].kind));
        t->nulls[c] = calloc(ROWS, 1);
    }
    uint8_t *b = t->vals[0];
    int32_t *i32 = t->vals[1];
    int64_t *i64 = t->vals[2], *ts = t->vals[7], *tsn = t->vals[8], *tsm = t->vals[9],
            *tsl = t->vals[10];
    double *d = t->vals[3];
    struct tp_pq_bytes *s = t->vals[4], *u = t->vals[5], *blob = t->vals[6];
    double price = 43000.5;
    for (size_t i = 0; i < ROWS; i++) {
        b[i] = tp_rng_below(&rng, 2);
        i32[i] = (int32_t)tp_rng_u64(&rng);
        if (i == 1) i32[i] = INT32_MIN;
        if (i == 2) i32[i] = INT32_MAX;
        i64[i] = (int64_t)tp_rng_u64(&rng);
        if (i == 4) i64[i] = INT64_MIN + 1; /* DuckDB's BIGINT range */
        price += (double)((int64_t)tp_rng_below(&rng, 41) - 20) * 0.25;
        d[i] = price;
        if (i % 500 == 7) d[i] = NAN;
        if (i == 10) d[i] = INFINITY;
        if (i == 11) d[i] = -INFINITY;
        if (i == 12) d[i] = -0.0;
        if (i == 13) d[i] = 5e-324;
        const char *sym = SYMS[i % 97 < 90 ? (i / 700) % 4 : tp_rng_below(&rng, 6)];
        s[i] = (struct tp_pq_bytes){sym, (uint32_t)strlen(sym)};
        int k = snprintf(pool, 48, "%s-%zu", i % 3 ? "trade" : "tr\"ade\\", i * 7919 % 100003);
        u[i] = (struct tp_pq_bytes){pool, (uint32_t)k};
        pool += k;
        size_t bl = tp_rng_below(&rng, 9);
        for (size_t j = 0; j < bl; j++) pool[j] = (char)tp_rng_below(&rng, 256);
        blob[i] = (struct tp_pq_bytes){pool, (uint32_t)bl};
        pool += bl;
        ts[i] = INT64_C(1795437240000000) + (int64_t)i * 997;
        tsn[i] = INT64_C(1795437240123456789) + (int64_t)i * 1234567;
        tsm[i] = INT64_C(-86400000) + (int64_t)i * 60000; /* from 1969-12-31 */
        tsl[i] = INT64_C(1700000000000000) + (int64_t)i * 1000000;
        t->nulls[0][i] = i % 7 == 3;
        t->nulls[2][i] = i % 3 == 0;
        t->nulls[3][i] = i % 13 == 5;
        t->nulls[4][i] = i % 5 == 4 || (i >= 2100 && i < 2600);
        t->nulls[6][i] = i % 2 == 1;
        t->nulls[8][i] = i >= 4000;
        t->nulls[10][i] = i % 17 == 0;
        t->nulls[11][i] = 1;
    }
}

static void free_table(struct table *t)
{
    for (int c = 0; c < NC; c++) {
        free(t->vals[c]);
        free(t->nulls[c]);
    }
    free(t->pool);
}

static int write_variant(const char *dir, const char *name, const struct table *t,
                         const struct tp_pq_options *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, name);
    struct tp_pq_writer *w;
    int rc = tp_pq_writer_open_path(&w, path, COLS, NC, o);
    if (rc) return rc;
    for (size_t off = 0; off < ROWS && rc == 0; off += 1234) {
        size_t m = ROWS - off < 1234 ? ROWS - off : 1234;
        struct tp_pq_batch_col bc[NC];
        for (int c = 0; c < NC; c++) {
            bc[c].values = (const char *)t->vals[c] + off * kind_size(COLS[c].kind);
            bc[c].is_null = COLS[c].optional ? t->nulls[c] + off : NULL;
        }
        rc = tp_pq_writer_append(w, bc, m);
    }
    if (rc) {
        tp_pq_writer_abort(w);
        return rc;
    }
    rc = tp_pq_writer_close(w);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -errno;
    for (size_t i = 0; i < ROWS; i++) {
        fputc('{', f);
        for (int c = 0; c < NC; c++) {
            fprintf(f, "%s\"%s\":", c ? "," : "", COLS[c].name);
            if (t->nulls[c][i])
                fputs("null", f);
            else
                json_value(f, COLS[c].kind, t->vals[c], i);
        }
        fputs("}\n", f);
    }
    return fclose(f) ? -errno : 0;
}

static int suite(const char *dir)
{
    struct table t;
    make_table(&t);
    char path[4096];
    snprintf(path, sizeof path, "%s/suite.json", dir);
    FILE *idx = fopen(path, "w");
    if (!idx) {
        perror(path);
        return 1;
    }
    fputs("{\"rows\":5000,\"columns\":[", idx);
    for (int c = 0; c < NC; c++)
        fprintf(idx, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"optional\":%s,\"local\":%s}",
                c ? "," : "", COLS[c].name, kind_name(COLS[c].kind),
                COLS[c].optional ? "true" : "false", COLS[c].local_time ? "true" : "false");
    fputs("],\"variants\":[", idx);
    const struct {
        const char *name;
        enum tp_pq_codec codec;
    } codecs[] = {{"zstd", TP_PQ_ZSTD}, {"snappy", TP_PQ_SNAPPY}, {"none", TP_PQ_UNCOMPRESSED}};
    const struct tp_pq_kv kv[] = {{"tickpipe.schema_version", "1"}};
    int rc = 0, first = 1;
    for (size_t ci = 0; ci < sizeof codecs / sizeof *codecs && rc == 0; ci++)
        for (int dict = 1; dict >= 0 && rc == 0; dict--)
            for (int v2 = 0; v2 < 2 && rc == 0; v2++) {
                struct tp_pq_options o;
                tp_pq_options_default(&o);
                o.codec = codecs[ci].codec;
                o.dictionary = dict;
                o.page_v2 = v2;
                o.row_group_rows = 2000;
                o.page_rows = 300;
                o.kv = kv;
                o.nkv = 1;
                char name[64];
                snprintf(name, sizeof name, "%s_%s_%s", codecs[ci].name, dict ? "dict" : "plain",
                         v2 ? "v2" : "v1");
                rc = write_variant(dir, name, &t, &o);
                if (rc) {
                    fprintf(stderr, "pq_tool: writing %s: %s\n", name, strerror(-rc));
                    break;
                }
                fprintf(idx,
                        "%s{\"name\":\"%s\",\"codec\":\"%s\",\"dictionary\":%s,\"v2\":%s,"
                        "\"row_groups\":3}",
                        first ? "" : ",", name, codecs[ci].name, dict ? "true" : "false",
                        v2 ? "true" : "false");
                first = 0;
            }
    fputs("]}\n", idx);
    fclose(idx);
    free_table(&t);
    return rc ? 1 : 0;
}

/* ---- dump ---- */

static void json_stat(FILE *f, enum tp_pq_kind k, const struct tp_pq_stats *s, bool is_min)
{
    if (k == TP_PQ_DOUBLE) {
        json_double(f, is_min ? s->min.d : s->max.d);
    } else if (k == TP_PQ_STRING || k == TP_PQ_BYTES) {
        struct tp_pq_bytes b = is_min ? s->min.s : s->max.s;
        if (k == TP_PQ_STRING)
            json_str(f, b.p, b.n);
        else
            json_hex(f, b.p, b.n);
    } else if (k == TP_PQ_BOOL) {
        fputs((is_min ? s->min.i : s->max.i) ? "true" : "false", f);
    } else if (k == TP_PQ_INT32) {
        fprintf(f, "%lld", (long long)(is_min ? s->min.i : s->max.i));
    } else {
        fprintf(f, "\"%lld\"", (long long)(is_min ? s->min.i : s->max.i));
    }
}

static int dump(const char *path)
{
    struct tp_pq_reader *r;
    struct tp_pq_error e;
    int rc = tp_pq_reader_open_path(&r, path, NULL, &e);
    if (rc) {
        fprintf(stderr, "pq_tool: %s: %s\n", path, e.msg);
        return 1;
    }
    FILE *f = stdout;
    size_t nc = tp_pq_reader_ncols(r), ng = tp_pq_reader_row_groups(r);
    fprintf(f, "{\"rows\":%llu,\"row_groups\":%zu,\"created_by\":",
            (unsigned long long)tp_pq_reader_rows(r), ng);
    const char *cb = tp_pq_reader_created_by(r);
    if (cb)
        json_str(f, cb, strlen(cb));
    else
        fputs("null", f);
    const char *sv = tp_pq_reader_kv(r, "tickpipe.schema_version");
    fputs(",\"schema_version\":", f);
    if (sv)
        json_str(f, sv, strlen(sv));
    else
        fputs("null", f);
    fputs(",\"columns\":[", f);
    for (size_t c = 0; c < nc; c++) {
        const struct tp_pq_column *col = tp_pq_reader_column(r, c);
        fprintf(f, "%s{\"name\":", c ? "," : "");
        json_str(f, col->name, strlen(col->name));
        fprintf(f, ",\"kind\":\"%s\",\"optional\":%s,\"local\":%s}", kind_name(col->kind),
                col->optional ? "true" : "false", col->local_time ? "true" : "false");
    }
    fputs("]}\n", f);
    for (size_t g = 0; g < ng; g++)
        for (size_t c = 0; c < nc; c++) {
            struct tp_pq_stats s;
            enum tp_pq_kind k = tp_pq_reader_column(r, c)->kind;
            fprintf(f, "{\"stats\":true,\"rg\":%zu,\"col\":%zu,\"rows\":%llu", g, c,
                    (unsigned long long)tp_pq_reader_rg_rows(r, g));
            if (tp_pq_reader_stats(r, g, c, &s)) {
                if (s.has_null_count) fprintf(f, ",\"null_count\":%lld", (long long)s.null_count);
                if (s.has_minmax) {
                    fputs(",\"min\":", f);
                    json_stat(f, k, &s, true);
                    fputs(",\"max\":", f);
                    json_stat(f, k, &s, false);
                    fprintf(f, ",\"exact\":%s", s.min_exact && s.max_exact ? "true" : "false");
                }
            }
            fputs("}\n", f);
        }
    struct tp_pq_data *d = calloc(nc ? nc : 1, sizeof *d);
    for (size_t g = 0; g < ng && rc == 0; g++) {
        for (size_t c = 0; c < nc && rc == 0; c++) {
            rc = tp_pq_reader_read(r, g, c, &d[c]);
            if (rc) fprintf(stderr, "pq_tool: %s: %s\n", path, tp_pq_reader_error(r)->msg);
        }
        size_t n = rc ? 0 : (size_t)tp_pq_reader_rg_rows(r, g);
        for (size_t i = 0; i < n; i++) {
            fputc('{', f);
            for (size_t c = 0; c < nc; c++) {
                fprintf(f, "%s", c ? "," : "");
                json_str(f, tp_pq_reader_column(r, c)->name,
                         strlen(tp_pq_reader_column(r, c)->name));
                fputc(':', f);
                if (d[c].is_null[i])
                    fputs("null", f);
                else
                    json_value(f, d[c].kind, d[c].values, i);
            }
            fputs("}\n", f);
        }
        for (size_t c = 0; c < nc; c++) tp_pq_data_fini(&d[c]);
    }
    free(d);
    tp_pq_reader_close(r);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "suite")) return suite(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "dump")) return dump(argv[2]);
    fprintf(stderr, "usage: pq_tool suite DIR | pq_tool dump FILE\n");
    return 2;
}
