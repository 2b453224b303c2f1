/*
 * parquet_meta.c — decodes a Parquet footer (FileMetaData) and page headers (PageHeader)
 * from Thrift compact bytes into the structs of parquet_int.h, validating as it goes.
 *
 * Design: one function per Thrift struct, each a loop over the fields it knows (matched by
 * id and checked for type), skipping the others. Missing required fields make the input
 * malformed. Lists are allocated once at their declared size, which the Thrift reader has
 * already bounded by the bytes left and which is bounded again here by the limits; the total
 * number of column chunks is capped as well, so memory stays proportional to the footer.
 * Strings and statistics are borrowed from the footer bytes.
 */
#include <stdarg.h>

#include "sink/parquet_int.h"
#include "sink/thrift.h"

#define MAX_KV          65536
#define MAX_TOTAL_CHUNK ((size_t)1 << 21)
#define MAX_NAME        4096
#define MAX_STAT        (64u << 20)

void tp_pq_limits_fill(struct tp_pq_limits *out, const struct tp_pq_limits *in)
{
    struct tp_pq_limits d = {
        .max_footer = 64u << 20,
        .max_chunk = (size_t)1 << 30,
        .max_page = 256u << 20,
        .max_columns = 4096,
        .max_row_groups = 1u << 20,
    };
    if (in) {
        if (in->max_footer) d.max_footer = in->max_footer;
        if (in->max_chunk) d.max_chunk = in->max_chunk;
        if (in->max_page) d.max_page = in->max_page;
        if (in->max_columns) d.max_columns = in->max_columns;
        if (in->max_row_groups) d.max_row_groups = in->max_row_groups;
    }
    *out = d;
}

struct dec {
    struct tp_thrift_r r;
    const struct tp_pq_limits *lim;
    const uint8_t *base; /* start of the footer, for messages */
    size_t total_chunks;
    char *msg;
    size_t msglen;
};

/* Records the first problem: the Thrift error code and a message saying where. */
__attribute__((format(printf, 3, 4))) static void fail(struct dec *d, int err, const char *fmt, ...)
{
    if (d->r.err && d->msg[0]) return;
    tp_thrift_r_fail(&d->r, err);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, d->msglen, fmt, ap);
    va_end(ap);
}

/* Names the place of a Thrift-level error found by the reader itself. */
static void where(struct dec *d, const char *what)
{
    if (d->r.err && !d->msg[0])
        snprintf(d->msg, d->msglen, "%s in %s at footer byte %zu",
                 d->r.err == -E2BIG ? "size beyond limit" : "malformed Thrift", what,
                 (size_t)(d->r.p - d->base));
}

/* Allocates n zeroed elements of size sz, n having been bounded by the caller. */
static void *alloc_list(struct dec *d, uint32_t n, size_t sz)
{
    if (d->r.err || n == 0) return NULL;
    void *p = calloc(n, sz);
    if (!p) fail(d, -ENOMEM, "out of memory for %u metadata entries", n);
    return p;
}

static void binary(struct dec *d, int t, struct tp_pq_bin *b, size_t max)
{
    tp_thrift_r_binary(&d->r, t, &b->p, &b->n, max);
    if (!b->p && !d->r.err) b->p = (const uint8_t *)""; /* present but empty */
}

static void dec_stats(struct dec *d, struct tp_pq_mstats *s)
{
    struct tp_thrift_r *r = &d->r;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        switch (id) {
        case 1:
            binary(d, t, &s->max, MAX_STAT);
            break;
        case 2:
            binary(d, t, &s->min, MAX_STAT);
            break;
        case 3:
            s->has_null_count = true;
            s->null_count = tp_thrift_r_i64(r, t);
            break;
        case 5:
            binary(d, t, &s->max_value, MAX_STAT);
            break;
        case 6:
            binary(d, t, &s->min_value, MAX_STAT);
            break;
        case 7:
            s->has_max_exact = true;
            s->max_exact = tp_thrift_r_bool(r, t);
            break;
        case 8:
            s->has_min_exact = true;
            s->min_exact = tp_thrift_r_bool(r, t);
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
}

/* A union: records which member is set (the last one, if several). */
static int union_member(struct dec *d)
{
    struct tp_thrift_r *r = &d->r;
    int member = 0;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        member = id;
        tp_thrift_r_skip(r, t);
    }
    return member;
}

static void dec_logical(struct dec *d, struct tp_pq_schema_el *e)
{
    struct tp_thrift_r *r = &d->r;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        e->logical = id;
        if (id == PQ_LT_TIMESTAMP && t == TP_THRIFT_STRUCT) {
            bool has_utc = false;
            tp_thrift_r_struct_begin(r);
            int16_t l2 = 0, id2;
            int t2;
            while (tp_thrift_r_field(r, &l2, &id2, &t2) > 0) {
                if (id2 == 1) {
                    e->ts_utc = tp_thrift_r_bool(r, t2);
                    has_utc = true;
                } else if (id2 == 2 && t2 == TP_THRIFT_STRUCT) {
                    e->ts_unit = union_member(d);
                } else {
                    tp_thrift_r_skip(r, t2);
                }
            }
            if (!has_utc || !e->ts_unit) fail(d, -EBADMSG, "TimestampType without its fields");
        } else if (id == PQ_LT_INTEGER && t == TP_THRIFT_STRUCT) {
            tp_thrift_r_struct_begin(r);
            int16_t l2 = 0, id2;
            int t2;
            while (tp_thrift_r_field(r, &l2, &id2, &t2) > 0) {
                if (id2 == 1)
                    e->int_bits = tp_thrift_r_i8(r, t2);
                else if (id2 == 2)
                    e->int_signed = tp_thrift_r_bool(r, t2);
                else
                    tp_thrift_r_skip(r, t2);
            }
        } else {
            tp_thrift_r_skip(r, t);
        }
    }
}

static void dec_schema_el(struct dec *d, struct tp_pq_schema_el *e)
{
    struct tp_thrift_r *r = &d->r;
    e->type = e->repetition = e->converted = -1;
    e->num_children = -1;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    bool has_name = false;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        switch (id) {
        case 1:
            e->type = tp_thrift_r_i32(r, t);
            break;
        case 2:
            e->type_length = tp_thrift_r_i32(r, t);
            break;
        case 3:
            e->repetition = tp_thrift_r_i32(r, t);
            break;
        case 4:
            binary(d, t, &e->name, MAX_NAME);
            has_name = true;
            break;
        case 5:
            e->num_children = tp_thrift_r_i32(r, t);
            break;
        case 6:
            e->converted = tp_thrift_r_i32(r, t);
            break;
        case 10:
            if (t == TP_THRIFT_STRUCT)
                dec_logical(d, e);
            else
                fail(d, -EBADMSG, "SchemaElement.logicalType is not a struct");
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
    if (!d->r.err && !has_name) fail(d, -EBADMSG, "SchemaElement without a name");
}

static void dec_colmeta(struct dec *d, struct tp_pq_colmeta *c)
{
    struct tp_thrift_r *r = &d->r;
    unsigned seen = 0;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id >= 1 && id <= 12) seen |= 1u << id;
        switch (id) {
        case 1:
            c->type = tp_thrift_r_i32(r, t);
            break;
        case 2: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, 1024);
            for (uint32_t i = 0; i < n && !r->err; i++) {
                int32_t e = tp_thrift_r_i32(r, et);
                if (e >= 0 && e < 32) c->encodings |= 1u << e;
            }
            tp_thrift_r_list_end(r);
            break;
        }
        case 3: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, 1024);
            c->path_len = n;
            for (uint32_t i = 0; i < n && !r->err; i++) {
                struct tp_pq_bin b;
                binary(d, et, &b, MAX_NAME);
                if (i == 0) c->path0 = b;
            }
            tp_thrift_r_list_end(r);
            break;
        }
        case 4:
            c->codec = tp_thrift_r_i32(r, t);
            break;
        case 5:
            c->num_values = tp_thrift_r_i64(r, t);
            break;
        case 6:
            c->total_uncompressed_size = tp_thrift_r_i64(r, t);
            break;
        case 7:
            c->total_compressed_size = tp_thrift_r_i64(r, t);
            break;
        case 9:
            c->data_page_offset = tp_thrift_r_i64(r, t);
            break;
        case 11:
            c->has_dict_offset = true;
            c->dictionary_page_offset = tp_thrift_r_i64(r, t);
            break;
        case 12:
            if (t != TP_THRIFT_STRUCT) {
                fail(d, -EBADMSG, "ColumnMetaData.statistics is not a struct");
                break;
            }
            c->has_stats = true;
            dec_stats(d, &c->stats);
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
    unsigned need = 1u << 1 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 7 | 1u << 9;
    if (!r->err && (seen & need) != need)
        fail(d, -EBADMSG, "ColumnMetaData lacks a required field (have mask 0x%x)", seen);
}

static void dec_chunk(struct dec *d, struct tp_pq_chunk *c)
{
    struct tp_thrift_r *r = &d->r;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id == 1) {
            c->has_file_path = true;
            tp_thrift_r_skip(r, t);
        } else if (id == 3 && t == TP_THRIFT_STRUCT) {
            c->has_meta = true;
            dec_colmeta(d, &c->meta);
        } else {
            tp_thrift_r_skip(r, t);
        }
    }
}

static void dec_rowgroup(struct dec *d, struct tp_pq_rowgroup *g)
{
    struct tp_thrift_r *r = &d->r;
    bool has_cols = false, has_rows = false;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        switch (id) {
        case 1: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, (uint32_t)d->lim->max_columns);
            if (!r->err && et != TP_THRIFT_STRUCT)
                fail(d, -EBADMSG, "RowGroup.columns is not a list of structs");
            if (!r->err && (d->total_chunks += n) > MAX_TOTAL_CHUNK)
                fail(d, -E2BIG, "more than %zu column chunks", MAX_TOTAL_CHUNK);
            if (has_cols) {
                fail(d, -EBADMSG, "RowGroup.columns twice");
                break;
            }
            g->cols = alloc_list(d, n, sizeof *g->cols);
            g->ncols = g->cols ? n : 0;
            for (uint32_t i = 0; i < n && !r->err; i++) dec_chunk(d, &g->cols[i]);
            tp_thrift_r_list_end(r);
            has_cols = true;
            break;
        }
        case 2:
            g->total_byte_size = tp_thrift_r_i64(r, t);
            break;
        case 3:
            g->num_rows = tp_thrift_r_i64(r, t);
            has_rows = true;
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
    if (!r->err && (!has_cols || !has_rows))
        fail(d, -EBADMSG, "RowGroup lacks columns or num_rows");
}

static void dec_kv(struct dec *d, struct tp_pq_mkv *kv)
{
    struct tp_thrift_r *r = &d->r;
    bool has_key = false;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id == 1) {
            binary(d, t, &kv->key, SIZE_MAX);
            has_key = true;
        } else if (id == 2) {
            binary(d, t, &kv->value, SIZE_MAX);
            kv->has_value = true;
        } else {
            tp_thrift_r_skip(r, t);
        }
    }
    if (!r->err && !has_key) fail(d, -EBADMSG, "KeyValue without a key");
}

static void dec_filemeta(struct dec *d, struct tp_pq_meta *m)
{
    struct tp_thrift_r *r = &d->r;
    unsigned seen = 0;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id >= 1 && id <= 9) {
            if (seen & (1u << id)) {
                fail(d, -EBADMSG, "FileMetaData field %d twice", id);
                break;
            }
            seen |= 1u << id;
        }
        switch (id) {
        case 1:
            m->version = tp_thrift_r_i32(r, t);
            break;
        case 2: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, (uint32_t)d->lim->max_columns + 1);
            if (!r->err && et != TP_THRIFT_STRUCT)
                fail(d, -EBADMSG, "FileMetaData.schema is not a list of structs");
            m->schema = alloc_list(d, n, sizeof *m->schema);
            m->nschema = m->schema ? n : 0;
            for (uint32_t i = 0; i < n && !r->err; i++) dec_schema_el(d, &m->schema[i]);
            tp_thrift_r_list_end(r);
            where(d, "the schema");
            break;
        }
        case 3:
            m->num_rows = tp_thrift_r_i64(r, t);
            break;
        case 4: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, (uint32_t)d->lim->max_row_groups);
            if (!r->err && et != TP_THRIFT_STRUCT)
                fail(d, -EBADMSG, "FileMetaData.row_groups is not a list of structs");
            m->rgs = alloc_list(d, n, sizeof *m->rgs);
            m->nrgs = m->rgs ? n : 0;
            for (uint32_t i = 0; i < n && !r->err; i++) dec_rowgroup(d, &m->rgs[i]);
            tp_thrift_r_list_end(r);
            where(d, "the row groups");
            break;
        }
        case 5: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, MAX_KV);
            if (!r->err && et != TP_THRIFT_STRUCT)
                fail(d, -EBADMSG, "key_value_metadata is not a list of structs");
            m->kv = alloc_list(d, n, sizeof *m->kv);
            m->nkv = m->kv ? n : 0;
            for (uint32_t i = 0; i < n && !r->err; i++) dec_kv(d, &m->kv[i]);
            tp_thrift_r_list_end(r);
            where(d, "the key-value metadata");
            break;
        }
        case 6:
            binary(d, t, &m->created_by, SIZE_MAX);
            m->has_created_by = true;
            break;
        case 7: {
            int et;
            uint32_t n;
            tp_thrift_r_list_begin(r, t, &et, &n, (uint32_t)d->lim->max_columns);
            if (!r->err && et != TP_THRIFT_STRUCT)
                fail(d, -EBADMSG, "column_orders is not a list of structs");
            m->type_order = alloc_list(d, n, 1);
            m->norders = m->type_order ? n : 0;
            m->has_orders = true;
            for (uint32_t i = 0; i < n && !r->err; i++) m->type_order[i] = union_member(d) == 1;
            tp_thrift_r_list_end(r);
            break;
        }
        case 8:
            m->encrypted = true;
            tp_thrift_r_skip(r, t);
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
    where(d, "FileMetaData");
    unsigned need = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4;
    if (!r->err && (seen & need) != need)
        fail(d, -EBADMSG, "FileMetaData lacks a required field (have mask 0x%x)", seen);
}

void tp_pq_meta_free(struct tp_pq_meta *m)
{
    if (m->rgs)
        for (uint32_t i = 0; i < m->nrgs; i++) free(m->rgs[i].cols);
    free(m->rgs);
    free(m->schema);
    free(m->kv);
    free(m->type_order);
    memset(m, 0, sizeof *m);
}

int tp_pq_meta_decode(const uint8_t *p, size_t n, const struct tp_pq_limits *lim,
                      struct tp_pq_meta *m, char *msg, size_t msglen)
{
    struct tp_pq_limits l;
    tp_pq_limits_fill(&l, lim);
    struct dec d = {.lim = &l, .base = p, .msg = msg, .msglen = msglen};
    msg[0] = 0;
    memset(m, 0, sizeof *m);
    tp_thrift_r_init(&d.r, p, n);
    dec_filemeta(&d, m);
    if (d.r.err) {
        if (!msg[0])
            snprintf(msg, msglen, "%s in the footer at byte %zu of %zu",
                     d.r.err == -E2BIG ? "size beyond limit" : "malformed Thrift",
                     (size_t)(d.r.p - p), n);
        int err = d.r.err;
        tp_pq_meta_free(m);
        return err;
    }
    return 0;
}

/* ---- page headers ---- */

static void dec_data_page(struct tp_thrift_r *r, struct tp_pq_page_header *h, unsigned *seen)
{
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id >= 1 && id <= 4) *seen |= 1u << id;
        switch (id) {
        case 1:
            h->num_values = tp_thrift_r_i32(r, t);
            break;
        case 2:
            h->encoding = tp_thrift_r_i32(r, t);
            break;
        case 3:
            h->def_encoding = tp_thrift_r_i32(r, t);
            break;
        case 4:
            h->rep_encoding = tp_thrift_r_i32(r, t);
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
}

static void dec_data_page_v2(struct tp_thrift_r *r, struct tp_pq_page_header *h, unsigned *seen)
{
    h->is_compressed = true;
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id >= 1 && id <= 6) *seen |= 1u << id;
        switch (id) {
        case 1:
            h->num_values = tp_thrift_r_i32(r, t);
            break;
        case 2:
            h->num_nulls = tp_thrift_r_i32(r, t);
            break;
        case 3:
            h->num_rows = tp_thrift_r_i32(r, t);
            break;
        case 4:
            h->encoding = tp_thrift_r_i32(r, t);
            break;
        case 5:
            h->def_len = tp_thrift_r_i32(r, t);
            break;
        case 6:
            h->rep_len = tp_thrift_r_i32(r, t);
            break;
        case 7:
            h->is_compressed = tp_thrift_r_bool(r, t);
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
}

static void dec_dict_page(struct tp_thrift_r *r, struct tp_pq_page_header *h, unsigned *seen)
{
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) {
        if (id >= 1 && id <= 2) *seen |= 1u << id;
        switch (id) {
        case 1:
            h->num_values = tp_thrift_r_i32(r, t);
            break;
        case 2:
            h->encoding = tp_thrift_r_i32(r, t);
            break;
        case 3:
            h->is_sorted = tp_thrift_r_bool(r, t);
            break;
        default:
            tp_thrift_r_skip(r, t);
        }
    }
}

int tp_pq_page_header_decode(const uint8_t *p, size_t n, struct tp_pq_page_header *h, size_t *used)
{
    struct tp_thrift_r r;
    tp_thrift_r_init(&r, p, n);
    memset(h, 0, sizeof *h);
    h->type = -1;
    unsigned seen = 0, sub = 0;
    tp_thrift_r_struct_begin(&r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(&r, &last, &id, &t) > 0) {
        if (id >= 1 && id <= 3) seen |= 1u << id;
        switch (id) {
        case 1:
            h->type = tp_thrift_r_i32(&r, t);
            break;
        case 2:
            h->uncompressed_size = tp_thrift_r_i32(&r, t);
            break;
        case 3:
            h->compressed_size = tp_thrift_r_i32(&r, t);
            break;
        case 5:
        case 7:
        case 8: {
            int want = id == 5 ? PQ_DATA_PAGE : id == 7 ? PQ_DICTIONARY_PAGE : PQ_DATA_PAGE_V2;
            if (t != TP_THRIFT_STRUCT || h->type != want) {
                tp_thrift_r_skip(&r, t); /* a header for another page type: ignore it */
                break;
            }
            if (id == 5)
                dec_data_page(&r, h, &sub);
            else if (id == 7)
                dec_dict_page(&r, h, &sub);
            else
                dec_data_page_v2(&r, h, &sub);
            h->has_type_header = true;
            break;
        }
        default:
            tp_thrift_r_skip(&r, t);
        }
    }
    if (r.err) return r.err;
    if (seen != (1u << 1 | 1u << 2 | 1u << 3)) return -EBADMSG;
    if (h->uncompressed_size < 0 || h->compressed_size < 0) return -EBADMSG;
    if (h->has_type_header) {
        unsigned need = h->type == PQ_DATA_PAGE         ? 0x1e
                        : h->type == PQ_DICTIONARY_PAGE ? 0x06
                                                        : 0x7e;
        if ((sub & need) != need) return -EBADMSG;
        if (h->num_values < 0) return -EBADMSG;
    }
    *used = (size_t)(r.p - p);
    return 0;
}
