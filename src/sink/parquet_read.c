/*
 * parquet_read.c — the Parquet reader (API in parquet.h; what is implemented in
 * docs/parquet.md).
 *
 * Opening reads the tail (footer length and magic), then the footer, decodes it
 * (parquet_meta.c) and validates it against the file before anything trusts it:
 *
 *  - the file starts and ends with "PAR1" and the footer length fits between them;
 *  - the schema is flat: a root whose children are all leaves, none repeated;
 *  - every row group has one chunk per column, the row counts add up, each chunk's values
 *    equal its row group's rows, and each chunk's byte range lies inside the data area
 *    (after the leading magic, before the footer).
 *
 * Reading a chunk reads its byte range once and walks its pages; every page header is
 * checked (sizes within the chunk and the limits, value counts within the rows left), every
 * decompression must produce exactly the declared size, every level and dictionary index is
 * range-checked, and a chunk whose pages do not account for exactly its rows is malformed.
 * Errors carry a message naming the row group, the column and what was wrong.
 *
 * Invariant: a reader is immutable after open except for its codec contexts and its last
 * error, so its accessors can be called in any order.
 */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/parquet_int.h"

struct rcol {
    struct tp_pq_column pub; /* name points to `name` */
    char *name;              /* owned */
    int ptype;
    int type_length;
    bool type_order; /* min_value/max_value follow the type's order */
};

struct tp_pq_reader {
    int fd; /* -1 when reading memory */
    const uint8_t *mem;
    uint64_t size;
    uint8_t *footer; /* owned (also in memory mode, so the metadata outlives nothing else) */
    size_t footer_len;
    struct tp_pq_meta m;
    struct tp_pq_limits lim;
    struct rcol *cols;
    size_t ncols;
    char **kv; /* 2 * nkv NUL-terminated copies: key, value (NULL when absent) */
    size_t nkv;
    char *created_by;
    struct tp_pq_error err;
    struct tp_pq_codec_ctx codec;
};

__attribute__((format(printf, 3, 4))) static int set_err(struct tp_pq_error *e, int code,
                                                         const char *fmt, ...)
{
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

static int read_at(struct tp_pq_reader *r, void *dst, size_t n, uint64_t off)
{
    if (off > r->size || n > r->size - off) return -EBADMSG;
    if (r->mem) {
        if (n) memcpy(dst, r->mem + off, n);
        return 0;
    }
    char *p = dst;
    while (n) {
        ssize_t k = pread(r->fd, p, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (k == 0) return -EIO; /* the file shrank */
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static char *bin_dup(struct tp_pq_bin b)
{
    char *s = malloc(b.n + 1);
    if (!s) return NULL;
    if (b.n) memcpy(s, b.p, b.n);
    s[b.n] = 0;
    return s;
}

/* The column kind of a leaf, from its physical and logical (or converted) type. */
static enum tp_pq_kind leaf_kind(const struct tp_pq_schema_el *e, bool *local_time)
{
    *local_time = false;
    switch (e->type) {
    case PQ_BOOLEAN:
        return e->logical || e->converted >= 0 ? TP_PQ_OTHER : TP_PQ_BOOL;
    case PQ_DOUBLE:
        return e->logical || e->converted >= 0 ? TP_PQ_OTHER : TP_PQ_DOUBLE;
    case PQ_INT32:
        if (e->logical == PQ_LT_INTEGER) return e->int_signed ? TP_PQ_INT32 : TP_PQ_OTHER;
        if (e->logical) return TP_PQ_OTHER;
        if (e->converted < 0 || (e->converted >= PQ_CT_INT_8 && e->converted <= PQ_CT_INT_32))
            return TP_PQ_INT32;
        return TP_PQ_OTHER;
    case PQ_INT64:
        if (e->logical == PQ_LT_TIMESTAMP) {
            *local_time = !e->ts_utc;
            return e->ts_unit == PQ_UNIT_MILLIS   ? TP_PQ_TS_MILLIS
                   : e->ts_unit == PQ_UNIT_MICROS ? TP_PQ_TS_MICROS
                   : e->ts_unit == PQ_UNIT_NANOS  ? TP_PQ_TS_NANOS
                                                  : TP_PQ_OTHER;
        }
        if (e->logical == PQ_LT_INTEGER)
            return e->int_signed && e->int_bits == 64 ? TP_PQ_INT64 : TP_PQ_OTHER;
        if (e->logical) return TP_PQ_OTHER;
        /* Converted types alone: the legacy TIMESTAMP_* meant an instant (UTC). */
        if (e->converted == PQ_CT_TIMESTAMP_MICROS) return TP_PQ_TS_MICROS;
        if (e->converted == PQ_CT_TIMESTAMP_MILLIS) return TP_PQ_TS_MILLIS;
        return e->converted < 0 || e->converted == PQ_CT_INT_64 ? TP_PQ_INT64 : TP_PQ_OTHER;
    case PQ_BYTE_ARRAY:
        if (e->logical == PQ_LT_STRING || (!e->logical && e->converted == PQ_CT_UTF8))
            return TP_PQ_STRING;
        return e->logical || e->converted >= 0 ? TP_PQ_OTHER : TP_PQ_BYTES;
    default:
        return TP_PQ_OTHER;
    }
}

void tp_pq_reader_close(struct tp_pq_reader *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->ncols; i++) free(r->cols[i].name);
    free(r->cols);
    for (size_t i = 0; i < 2 * r->nkv; i++) free(r->kv[i]);
    free(r->kv);
    free(r->created_by);
    tp_pq_meta_free(&r->m);
    free(r->footer);
    tp_pq_codec_fini(&r->codec);
    if (r->fd >= 0) close(r->fd);
    free(r);
}

/* Start of a chunk's byte range: its dictionary page when it has a usable offset. */
static int64_t chunk_start(const struct tp_pq_colmeta *c)
{
    if (c->has_dict_offset && c->dictionary_page_offset > 0 &&
        c->dictionary_page_offset < c->data_page_offset)
        return c->dictionary_page_offset;
    return c->data_page_offset;
}

static int validate(struct tp_pq_reader *r, struct tp_pq_error *e)
{
    const struct tp_pq_meta *m = &r->m;
    if (m->encrypted) return set_err(e, -ENOTSUP, "encrypted Parquet files are not supported");
    if (m->nschema < 2) return set_err(e, -EBADMSG, "the schema has no columns");
    const struct tp_pq_schema_el *root = &m->schema[0];
    if (root->num_children != (int32_t)(m->nschema - 1)) {
        for (uint32_t i = 1; i < m->nschema; i++)
            if (m->schema[i].num_children > 0 || m->schema[i].type < 0)
                return set_err(e, -ENOTSUP, "nested schema (group \"%.*s\") not supported",
                               (int)TP_MIN(m->schema[i].name.n, 64),
                               (const char *)m->schema[i].name.p);
        return set_err(e, -EBADMSG, "the root has %d children but the schema lists %u leaves",
                       root->num_children, m->nschema - 1);
    }
    r->ncols = m->nschema - 1;
    if (r->ncols > r->lim.max_columns)
        return set_err(e, -E2BIG, "%zu columns exceed the limit", r->ncols);
    r->cols = calloc(r->ncols, sizeof *r->cols);
    if (!r->cols) return set_err(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < r->ncols; i++) {
        const struct tp_pq_schema_el *s = &m->schema[i + 1];
        struct rcol *c = &r->cols[i];
        if (s->type < 0 || s->num_children > 0)
            return set_err(e, -ENOTSUP, "nested schema (column %zu is a group)", i);
        if (s->repetition == PQ_REPEATED)
            return set_err(e, -ENOTSUP, "repeated column %zu not supported", i);
        if (s->repetition != PQ_REQUIRED && s->repetition != PQ_OPTIONAL)
            return set_err(e, -EBADMSG, "column %zu has no valid repetition", i);
        if (memchr(s->name.p, 0, s->name.n))
            return set_err(e, -EBADMSG, "column %zu's name holds a NUL byte", i);
        c->name = bin_dup(s->name);
        if (!c->name) return set_err(e, -ENOMEM, "out of memory");
        c->pub.name = c->name;
        c->pub.optional = s->repetition == PQ_OPTIONAL;
        c->pub.kind = leaf_kind(s, &c->pub.local_time);
        c->ptype = s->type;
        c->type_length = s->type_length;
        c->type_order = m->has_orders && i < m->norders && m->type_order[i];
    }
    if (m->num_rows < 0) return set_err(e, -EBADMSG, "negative row count");
    uint64_t data_end = r->size - 8 - r->footer_len;
    int64_t rows = 0;
    for (uint32_t g = 0; g < m->nrgs; g++) {
        const struct tp_pq_rowgroup *rg = &m->rgs[g];
        if (rg->num_rows < 0 || rg->num_rows > INT64_MAX - rows)
            return set_err(e, -EBADMSG, "row group %u has a bad row count", g);
        rows += rg->num_rows;
        if (rg->ncols != r->ncols)
            return set_err(e, -EBADMSG, "row group %u has %u chunks for %zu columns", g, rg->ncols,
                           r->ncols);
        for (size_t i = 0; i < r->ncols; i++) {
            const struct tp_pq_chunk *k = &rg->cols[i];
            if (k->has_file_path)
                return set_err(e, -ENOTSUP, "row group %u column %zu is in another file", g, i);
            if (!k->has_meta)
                return set_err(e, -EBADMSG, "row group %u column %zu has no metadata", g, i);
            const struct tp_pq_colmeta *c = &k->meta;
            if (c->type != r->cols[i].ptype)
                return set_err(e, -EBADMSG, "row group %u column %zu: type %d, schema says %d", g,
                               i, c->type, r->cols[i].ptype);
            if (c->num_values != rg->num_rows)
                return set_err(e, -EBADMSG, "row group %u column %zu: %lld values for %lld rows", g,
                               i, (long long)c->num_values, (long long)rg->num_rows);
            int64_t start = chunk_start(c);
            if (start < 4 || c->total_compressed_size < 0 || (uint64_t)start > data_end ||
                (uint64_t)c->total_compressed_size > data_end - (uint64_t)start)
                return set_err(e, -EBADMSG,
                               "row group %u column %zu: bytes [%lld, +%lld) outside the data "
                               "area [4, %llu)",
                               g, i, (long long)start, (long long)c->total_compressed_size,
                               (unsigned long long)data_end);
        }
    }
    if (rows != m->num_rows)
        return set_err(e, -EBADMSG, "row groups hold %lld rows, the footer says %lld",
                       (long long)rows, (long long)m->num_rows);
    r->nkv = m->nkv;
    r->kv = m->nkv ? calloc(2 * (size_t)m->nkv, sizeof *r->kv) : NULL;
    if (m->nkv && !r->kv) return set_err(e, -ENOMEM, "out of memory");
    for (uint32_t i = 0; i < m->nkv; i++) {
        r->kv[2 * i] = bin_dup(m->kv[i].key);
        r->kv[2 * i + 1] = m->kv[i].has_value ? bin_dup(m->kv[i].value) : NULL;
        if (!r->kv[2 * i] || (m->kv[i].has_value && !r->kv[2 * i + 1]))
            return set_err(e, -ENOMEM, "out of memory");
    }
    if (m->has_created_by && !(r->created_by = bin_dup(m->created_by)))
        return set_err(e, -ENOMEM, "out of memory");
    return 0;
}

static int reader_open(struct tp_pq_reader **out, struct tp_pq_reader *r,
                       const struct tp_pq_limits *limits, struct tp_pq_error *err)
{
    struct tp_pq_error local;
    struct tp_pq_error *e = err ? err : &local;
    e->code = 0;
    e->msg[0] = 0;
    tp_pq_limits_fill(&r->lim, limits);
    int rc;
    uint8_t head[4], tail[8];
    if (r->size < 12) {
        rc = set_err(e, -EBADMSG, "%llu bytes: too short for a Parquet file",
                     (unsigned long long)r->size);
        goto out_free;
    }
    if ((rc = read_at(r, head, 4, 0)) < 0 || (rc = read_at(r, tail, 8, r->size - 8)) < 0) {
        set_err(e, rc, "read failed: %s", strerror(-rc));
        goto out_free;
    }
    if (!memcmp(tail + 4, "PARE", 4)) {
        rc = set_err(e, -ENOTSUP, "encrypted footer (PARE) not supported");
        goto out_free;
    }
    if (memcmp(head, TP_PQ_MAGIC, 4) || memcmp(tail + 4, TP_PQ_MAGIC, 4)) {
        rc = set_err(e, -EBADMSG, "bad magic: not a Parquet file");
        goto out_free;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                    (uint32_t)tail[3] << 24;
    if (flen > r->size - 12) {
        rc = set_err(e, -EBADMSG, "footer length %u exceeds the file (%llu bytes)", flen,
                     (unsigned long long)r->size);
        goto out_free;
    }
    if (flen > r->lim.max_footer) {
        rc =
            set_err(e, -E2BIG, "footer of %u bytes exceeds the limit %zu", flen, r->lim.max_footer);
        goto out_free;
    }
    r->footer_len = flen;
    r->footer = malloc(flen ? flen : 1);
    if (!r->footer) {
        rc = set_err(e, -ENOMEM, "out of memory for a %u-byte footer", flen);
        goto out_free;
    }
    if ((rc = read_at(r, r->footer, flen, r->size - 8 - flen)) < 0) {
        set_err(e, rc, "read failed: %s", strerror(-rc));
        goto out_free;
    }
    char msg[sizeof e->msg];
    rc = tp_pq_meta_decode(r->footer, flen, &r->lim, &r->m, msg, sizeof msg);
    if (rc < 0) {
        set_err(e, rc, "%s", msg);
        goto out_free;
    }
    rc = validate(r, e);
    if (rc < 0) goto out_free;
    *out = r;
    return 0;

out_free:
    tp_pq_reader_close(r);
    return rc;
}

int tp_pq_reader_open_mem(struct tp_pq_reader **out, const void *p, size_t n,
                          const struct tp_pq_limits *limits, struct tp_pq_error *err)
{
    struct tp_pq_reader *r = calloc(1, sizeof *r);
    if (!r) return err ? set_err(err, -ENOMEM, "out of memory") : -ENOMEM;
    r->fd = -1;
    r->mem = p ? p : (const uint8_t *)"";
    r->size = p ? n : 0;
    return reader_open(out, r, limits, err);
}

int tp_pq_reader_open_path(struct tp_pq_reader **out, const char *path,
                           const struct tp_pq_limits *limits, struct tp_pq_error *err)
{
    struct tp_pq_error local;
    struct tp_pq_error *e = err ? err : &local;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return set_err(e, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int rc = S_ISREG(st.st_mode) ? -errno : -EINVAL;
        close(fd);
        return set_err(e, rc, "%s: not a regular file", path);
    }
    struct tp_pq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return set_err(e, -ENOMEM, "out of memory");
    }
    r->fd = fd;
    r->size = (uint64_t)st.st_size;
    return reader_open(out, r, limits, err);
}

/* ---- accessors ---- */

size_t tp_pq_reader_ncols(const struct tp_pq_reader *r)
{
    return r->ncols;
}

const struct tp_pq_column *tp_pq_reader_column(const struct tp_pq_reader *r, size_t col)
{
    return col < r->ncols ? &r->cols[col].pub : NULL;
}

int tp_pq_reader_find(const struct tp_pq_reader *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (!strcmp(r->cols[i].name, name)) return (int)i;
    return -1;
}

uint64_t tp_pq_reader_rows(const struct tp_pq_reader *r)
{
    return (uint64_t)r->m.num_rows;
}

size_t tp_pq_reader_row_groups(const struct tp_pq_reader *r)
{
    return r->m.nrgs;
}

uint64_t tp_pq_reader_rg_rows(const struct tp_pq_reader *r, size_t rg)
{
    return rg < r->m.nrgs ? (uint64_t)r->m.rgs[rg].num_rows : 0;
}

const char *tp_pq_reader_kv(const struct tp_pq_reader *r, const char *key)
{
    for (size_t i = 0; i < r->nkv; i++)
        if (!strcmp(r->kv[2 * i], key)) return r->kv[2 * i + 1];
    return NULL;
}

const char *tp_pq_reader_created_by(const struct tp_pq_reader *r)
{
    return r->created_by;
}

const struct tp_pq_error *tp_pq_reader_error(const struct tp_pq_reader *r)
{
    return &r->err;
}

uint64_t tp_pq_reader_chunk_bytes(const struct tp_pq_reader *r, size_t rg, size_t col)
{
    if (rg >= r->m.nrgs || col >= r->ncols) return 0;
    int64_t n = r->m.rgs[rg].cols[col].meta.total_compressed_size;
    return n > 0 ? (uint64_t)n : 0;
}

enum tp_pq_codec tp_pq_reader_codec(const struct tp_pq_reader *r, size_t rg, size_t col)
{
    if (rg >= r->m.nrgs || col >= r->ncols) return TP_PQ_UNCOMPRESSED;
    return (enum tp_pq_codec)r->m.rgs[rg].cols[col].meta.codec;
}

/* ---- statistics ---- */

static bool stat_value(const struct rcol *c, struct tp_pq_bin b, struct tp_pq_stats *s, bool is_min)
{
    int64_t i = 0;
    double d = 0;
    switch (c->pub.kind) {
    case TP_PQ_BOOL:
        if (b.n != 1 || b.p[0] > 1) return false;
        i = b.p[0];
        break;
    case TP_PQ_INT32: {
        if (b.n != 4) return false;
        int32_t x;
        memcpy(&x, b.p, 4);
        i = x;
        break;
    }
    case TP_PQ_INT64:
    case TP_PQ_TS_MILLIS:
    case TP_PQ_TS_MICROS:
    case TP_PQ_TS_NANOS:
        if (b.n != 8) return false;
        memcpy(&i, b.p, 8);
        break;
    case TP_PQ_DOUBLE:
        if (b.n != 8) return false;
        memcpy(&d, b.p, 8);
        if (isnan(d)) return false;
        break;
    case TP_PQ_STRING:
    case TP_PQ_BYTES: {
        if (b.n > UINT32_MAX) return false;
        struct tp_pq_bytes v = {(const char *)b.p, (uint32_t)b.n};
        if (is_min)
            s->min.s = v;
        else
            s->max.s = v;
        return true;
    }
    default:
        return false;
    }
    if (c->pub.kind == TP_PQ_DOUBLE) {
        if (is_min)
            s->min.d = d;
        else
            s->max.d = d;
    } else {
        if (is_min)
            s->min.i = i;
        else
            s->max.i = i;
    }
    return true;
}

bool tp_pq_reader_stats(const struct tp_pq_reader *r, size_t rg, size_t col,
                        struct tp_pq_stats *out)
{
    if (rg >= r->m.nrgs || col >= r->ncols) return false;
    const struct tp_pq_colmeta *m = &r->m.rgs[rg].cols[col].meta;
    const struct rcol *c = &r->cols[col];
    if (!m->has_stats || c->pub.kind == TP_PQ_OTHER) return false;
    const struct tp_pq_mstats *ms = &m->stats;
    struct tp_pq_stats s;
    memset(&s, 0, sizeof s);
    s.has_null_count = ms->has_null_count;
    s.null_count = ms->null_count;
    bool byte_order = c->pub.kind == TP_PQ_STRING || c->pub.kind == TP_PQ_BYTES;
    /* min_value/max_value mean the type's order only with a TYPE_ORDER column order; for
     * numeric types that order is the signed one, which the legacy min/max use too. */
    struct tp_pq_bin lo = {0}, hi = {0};
    bool exact_known = false;
    if (ms->min_value.p && ms->max_value.p && (c->type_order || !byte_order)) {
        lo = ms->min_value, hi = ms->max_value;
        exact_known = true;
    } else if (ms->min.p && ms->max.p && !byte_order) {
        lo = ms->min, hi = ms->max;
    }
    if (lo.p && stat_value(c, lo, &s, true) && stat_value(c, hi, &s, false)) {
        s.has_minmax = true;
        s.min_exact = exact_known ? !ms->has_min_exact || ms->min_exact : true;
        s.max_exact = exact_known ? !ms->has_max_exact || ms->max_exact : true;
    }
    if (!s.has_minmax && !s.has_null_count) return false;
    *out = s;
    return true;
}

/* True when statistics prove the chunk holds no non-null value. */
static bool all_null(const struct tp_pq_reader *r, size_t rg, const struct tp_pq_stats *s)
{
    return s->has_null_count && s->null_count >= r->m.rgs[rg].num_rows;
}

bool tp_pq_reader_may_contain_i64(const struct tp_pq_reader *r, size_t rg, size_t col, int64_t lo,
                                  int64_t hi)
{
    struct tp_pq_stats s;
    if (!tp_pq_reader_stats(r, rg, col, &s)) return true;
    if (all_null(r, rg, &s)) return false;
    enum tp_pq_kind k = r->cols[col].pub.kind;
    if (!s.has_minmax || k == TP_PQ_DOUBLE || k == TP_PQ_STRING || k == TP_PQ_BYTES) return true;
    return !(s.max.i < lo || s.min.i > hi);
}

bool tp_pq_reader_may_contain_dbl(const struct tp_pq_reader *r, size_t rg, size_t col, double lo,
                                  double hi)
{
    struct tp_pq_stats s;
    if (!tp_pq_reader_stats(r, rg, col, &s)) return true;
    if (all_null(r, rg, &s)) return false;
    if (!s.has_minmax || r->cols[col].pub.kind != TP_PQ_DOUBLE) return true;
    return !(s.max.d < lo || s.min.d > hi);
}

static int bytes_cmp(struct tp_pq_bytes a, struct tp_pq_bytes b)
{
    size_t n = TP_MIN(a.n, b.n);
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

bool tp_pq_reader_may_contain_str(const struct tp_pq_reader *r, size_t rg, size_t col,
                                  struct tp_pq_bytes lo, struct tp_pq_bytes hi)
{
    struct tp_pq_stats s;
    if (!tp_pq_reader_stats(r, rg, col, &s)) return true;
    if (all_null(r, rg, &s)) return false;
    enum tp_pq_kind k = r->cols[col].pub.kind;
    if (!s.has_minmax || (k != TP_PQ_STRING && k != TP_PQ_BYTES)) return true;
    return !(bytes_cmp(s.max.s, lo) < 0 || bytes_cmp(s.min.s, hi) > 0);
}

/* ---- reading a column chunk ---- */

/* State of one chunk being decoded. */
struct rd {
    struct tp_pq_reader *r;
    const struct rcol *c;
    size_t rg, col;
    size_t n;     /* rows of the chunk */
    size_t done;  /* rows decoded */
    size_t width; /* bytes per value in the output */
    uint8_t *values;
    uint8_t *is_null;
    size_t null_count;
    struct tp_buf heap; /* strings, referenced by offset until the end */
    /* dictionary */
    bool has_dict;
    size_t dict_n;
    uint8_t *dict_vals; /* dict_n values of `width` bytes (strings: tp_pq_bytes) */
    uint8_t *dict_page; /* the decompressed dictionary page (strings point into it) */
    /* scratch, grown as pages need */
    uint8_t *page; /* a decompressed page */
    size_t page_cap;
    uint8_t *vtmp; /* a page's values before they are placed at their rows */
    size_t vtmp_cap;
    uint8_t *u32; /* levels or dictionary indices */
    size_t u32_cap;
};

__attribute__((format(printf, 3, 4))) static int rd_err(struct rd *d, int code, const char *fmt,
                                                        ...)
{
    char what[150];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return set_err(&d->r->err, code, "row group %zu column %zu (%s): %s", d->rg, d->col, d->c->name,
                   what);
}

static size_t out_width(enum tp_pq_kind k)
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

static bool is_bytes(const struct rd *d)
{
    return d->c->pub.kind == TP_PQ_STRING || d->c->pub.kind == TP_PQ_BYTES;
}

/* Size of a PLAIN fixed-width value of the physical type (0: variable or bit-packed). */
static size_t plain_width(int ptype)
{
    return ptype == PQ_INT32 ? 4 : ptype == PQ_INT64 || ptype == PQ_DOUBLE ? 8 : 0;
}

static int grow_scratch(struct rd *d, uint8_t **buf, size_t *cap, size_t need)
{
    if (need == 0) need = 1; /* callers get a valid pointer even for no values */
    if (need <= *cap) return 0;
    uint8_t *p = realloc(*buf, need);
    if (!p) return rd_err(d, -ENOMEM, "out of memory for %zu bytes", need);
    *buf = p;
    *cap = need;
    return 0;
}

/* Decodes nv PLAIN values from [p, p+len) into `vals` (width bytes each); strings are copied
 * into the heap and referenced by offset (heap_ref) or point into p (!heap_ref). *used is the
 * number of bytes consumed. */
static int plain_decode(struct rd *d, const uint8_t *p, size_t len, size_t nv, uint8_t *vals,
                        bool heap_ref, size_t *used)
{
    int pt = d->c->ptype;
    if (pt == PQ_BOOLEAN) {
        if ((nv + 7) / 8 > len) return rd_err(d, -EBADMSG, "PLAIN booleans cut short");
        for (size_t i = 0; i < nv; i++) vals[i] = (p[i >> 3] >> (i & 7)) & 1;
        *used = (nv + 7) / 8;
        return 0;
    }
    size_t w = plain_width(pt);
    if (w) {
        if (nv > len / w) return rd_err(d, -EBADMSG, "PLAIN values cut short");
        if (nv) memcpy(vals, p, nv * w);
        *used = nv * w;
        return 0;
    }
    /* BYTE_ARRAY */
    size_t off = 0;
    struct tp_pq_bytes *out = (struct tp_pq_bytes *)(void *)vals;
    for (size_t i = 0; i < nv; i++) {
        if (len - off < 4) return rd_err(d, -EBADMSG, "PLAIN byte array cut short");
        uint32_t n;
        memcpy(&n, p + off, 4);
        off += 4;
        if (n > len - off) return rd_err(d, -EBADMSG, "byte array length %u past the page", n);
        if (heap_ref) {
            size_t at = d->heap.len;
            int rc = tp_buf_append(&d->heap, p + off, n);
            if (rc < 0) return rd_err(d, rc, "strings exceed %zu bytes", d->heap.max);
            out[i].p = (const char *)(uintptr_t)at; /* offset, made a pointer at the end */
        } else {
            out[i].p = (const char *)p + off;
        }
        out[i].n = n;
        off += n;
    }
    *used = off;
    return 0;
}

static int read_dict_page(struct rd *d, const struct tp_pq_page_header *h, const uint8_t *src)
{
    if (d->has_dict) return rd_err(d, -EBADMSG, "a second dictionary page");
    if (d->done) return rd_err(d, -EBADMSG, "a dictionary page after data pages");
    if (!h->has_type_header) return rd_err(d, -EBADMSG, "dictionary page without its header");
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
        return rd_err(d, -ENOTSUP, "dictionary page encoding %d", h->encoding);
    size_t un = (size_t)h->uncompressed_size;
    d->dict_page = malloc(un ? un : 1);
    if (!d->dict_page) return rd_err(d, -ENOMEM, "out of memory");
    int rc = tp_pq_decompress(&d->r->codec, d->r->m.rgs[d->rg].cols[d->col].meta.codec, src,
                              (size_t)h->compressed_size, d->dict_page, un);
    if (rc < 0) return rd_err(d, rc, "dictionary page does not decompress to %zu bytes", un);
    size_t nv = (size_t)h->num_values;
    /* Bound the entries by the bytes they need (1 bit, 4 or 8 bytes, or a 4-byte length),
     * so the allocation below is proportional to the page. */
    size_t pw = plain_width(d->c->ptype);
    size_t most = d->c->ptype == PQ_BOOLEAN ? un * 8 : pw ? un / pw : un / 4;
    if (nv > most) return rd_err(d, -EBADMSG, "%zu dictionary entries in %zu bytes", nv, un);
    d->dict_vals = malloc(nv ? nv * d->width : 1);
    if (!d->dict_vals) return rd_err(d, -ENOMEM, "out of memory");
    size_t used;
    rc = plain_decode(d, d->dict_page, un, nv, d->dict_vals, false, &used);
    if (rc < 0) return rc;
    d->dict_n = nv;
    d->has_dict = true;
    return 0;
}

/* Places nv decoded values (vals, width bytes each) at the non-null rows of [row, row+nr). */
static void scatter(struct rd *d, size_t row, size_t nr, const uint8_t *vals, size_t nv)
{
    size_t w = d->width;
    if (nv == nr) {
        memcpy(d->values + row * w, vals, nv * w);
        return;
    }
    size_t k = 0;
    for (size_t i = row; i < row + nr; i++)
        if (!d->is_null[i]) memcpy(d->values + i * w, vals + w * k++, w);
}

/* Decodes the values section of a data page: nv values for rows [row, row+nr). */
static int page_values(struct rd *d, int enc, const uint8_t *p, size_t len, size_t row, size_t nr,
                       size_t nv)
{
    int rc;
    uint8_t *tmp = d->values + row * d->width; /* no nulls: decode in place */
    if (nv != nr) {
        rc = grow_scratch(d, &d->vtmp, &d->vtmp_cap, nv * d->width);
        if (rc < 0) return rc;
        tmp = d->vtmp;
    }
    switch (enc) {
    case PQ_ENC_PLAIN: {
        size_t used;
        rc = plain_decode(d, p, len, nv, tmp, true, &used);
        if (rc < 0) return rc;
        break;
    }
    case PQ_ENC_RLE: {
        if (d->c->ptype != PQ_BOOLEAN)
            return rd_err(d, -ENOTSUP, "RLE encoding of a non-boolean column");
        if (len < 4) return rd_err(d, -EBADMSG, "RLE booleans without their length");
        uint32_t n;
        memcpy(&n, p, 4);
        if (n > len - 4) return rd_err(d, -EBADMSG, "RLE length %u past the page", n);
        rc = grow_scratch(d, &d->u32, &d->u32_cap, nv * 4);
        if (rc < 0) return rc;
        uint32_t *bits = (uint32_t *)(void *)d->u32;
        rc = tp_pq_rle_decode(p + 4, n, 1, bits, nv);
        if (rc < 0) return rd_err(d, rc, "malformed RLE booleans");
        for (size_t i = 0; i < nv; i++) tmp[i] = (uint8_t)bits[i];
        break;
    }
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY: {
        if (!d->has_dict) return rd_err(d, -EBADMSG, "dictionary-encoded page without dictionary");
        if (nv == 0) break;
        if (len < 1) return rd_err(d, -EBADMSG, "dictionary indices without their bit width");
        int bw = p[0];
        if (bw > 32) return rd_err(d, -EBADMSG, "dictionary index width %d", bw);
        rc = grow_scratch(d, &d->u32, &d->u32_cap, nv * 4);
        if (rc < 0) return rc;
        uint32_t *ix = (uint32_t *)(void *)d->u32;
        rc = tp_pq_rle_decode(p + 1, len - 1, bw, ix, nv);
        if (rc < 0) return rd_err(d, rc, "malformed dictionary indices");
        size_t w = d->width;
        for (size_t i = 0; i < nv; i++) {
            if (ix[i] >= d->dict_n)
                return rd_err(d, -EBADMSG, "dictionary index %u of %zu entries", ix[i], d->dict_n);
            memcpy(tmp + i * w, d->dict_vals + (size_t)ix[i] * w, w);
        }
        if (is_bytes(d)) {
            /* Copy the strings into the heap: the dictionary goes away with the chunk. */
            struct tp_pq_bytes *b = (struct tp_pq_bytes *)(void *)tmp;
            for (size_t i = 0; i < nv; i++) {
                size_t at = d->heap.len;
                rc = tp_buf_append(&d->heap, b[i].p, b[i].n);
                if (rc < 0) return rd_err(d, rc, "strings exceed %zu bytes", d->heap.max);
                b[i].p = (const char *)(uintptr_t)at;
            }
        }
        break;
    }
    default:
        return rd_err(d, -ENOTSUP, "encoding %d not supported", enc);
    }
    if (nv != nr) scatter(d, row, nr, tmp, nv);
    return 0;
}

/* Decodes nr definition levels (width 1) into is_null; returns the non-null count. */
static int levels(struct rd *d, const uint8_t *p, size_t len, size_t row, size_t nr, size_t *nv)
{
    int rc = grow_scratch(d, &d->u32, &d->u32_cap, nr * 4);
    if (rc < 0) return rc;
    uint32_t *lv = (uint32_t *)(void *)d->u32;
    rc = tp_pq_rle_decode(p, len, 1, lv, nr);
    if (rc < 0) return rd_err(d, rc, "malformed definition levels");
    size_t k = 0;
    for (size_t i = 0; i < nr; i++) {
        d->is_null[row + i] = !lv[i];
        k += lv[i];
    }
    *nv = k;
    d->null_count += nr - k;
    return 0;
}

static int read_data_page(struct rd *d, const struct tp_pq_page_header *h, const uint8_t *src)
{
    if (!h->has_type_header) return rd_err(d, -EBADMSG, "data page without its header");
    size_t nr = (size_t)h->num_values;
    if (nr > d->n - d->done)
        return rd_err(d, -EBADMSG, "page of %zu values with %zu rows left", nr, d->n - d->done);
    int codec = d->r->m.rgs[d->rg].cols[d->col].meta.codec;
    size_t un = (size_t)h->uncompressed_size, cn = (size_t)h->compressed_size;
    int rc = grow_scratch(d, &d->page, &d->page_cap, un);
    if (rc < 0) return rc;
    const uint8_t *body = d->page;
    size_t row = d->done, nv = nr;
    bool optional = d->c->pub.optional;

    if (h->type == PQ_DATA_PAGE) {
        rc = tp_pq_decompress(&d->r->codec, codec, src, cn, d->page, un);
        if (rc < 0) return rd_err(d, rc, "page does not decompress to %zu bytes", un);
        size_t off = 0;
        if (optional) {
            if (h->def_encoding != PQ_ENC_RLE)
                return rd_err(d, -ENOTSUP, "definition level encoding %d", h->def_encoding);
            if (un < 4) return rd_err(d, -EBADMSG, "definition levels without their length");
            uint32_t ln;
            memcpy(&ln, body, 4);
            if (ln > un - 4) return rd_err(d, -EBADMSG, "definition levels past the page");
            rc = levels(d, body + 4, ln, row, nr, &nv);
            if (rc < 0) return rc;
            off = 4 + ln;
        }
        rc = page_values(d, h->encoding, body + off, un - off, row, nr, nv);
    } else { /* DATA_PAGE_V2 */
        if (h->num_rows != h->num_values || h->num_nulls < 0 || (size_t)h->num_nulls > nr)
            return rd_err(d, -EBADMSG, "v2 page counts (%d values, %d nulls, %d rows)",
                          h->num_values, h->num_nulls, h->num_rows);
        if (h->def_len < 0 || h->rep_len < 0 ||
            (size_t)h->def_len + (size_t)h->rep_len > TP_MIN(cn, un))
            return rd_err(d, -EBADMSG, "v2 level lengths past the page");
        size_t lvl = (size_t)h->def_len + (size_t)h->rep_len;
        if (optional) {
            rc = levels(d, src + h->rep_len, (size_t)h->def_len, row, nr, &nv);
            if (rc < 0) return rc;
        } else if (h->num_nulls) {
            return rd_err(d, -EBADMSG, "nulls in a required column");
        }
        if (nv != nr - (size_t)h->num_nulls)
            return rd_err(d, -EBADMSG, "v2 page says %d nulls, its levels %zu", h->num_nulls,
                          nr - nv);
        if (h->is_compressed) {
            rc = tp_pq_decompress(&d->r->codec, codec, src + lvl, cn - lvl, d->page, un - lvl);
        } else {
            rc = cn == un ? 0 : -EBADMSG;
            if (rc == 0 && un > lvl) memcpy(d->page, src + lvl, un - lvl);
        }
        if (rc < 0) return rd_err(d, rc, "page does not decompress to %zu bytes", un - lvl);
        rc = page_values(d, h->encoding, body, un - lvl, row, nr, nv);
    }
    if (rc < 0) return rc;
    d->done += nr;
    return 0;
}

void tp_pq_data_fini(struct tp_pq_data *dt)
{
    free(dt->values);
    free(dt->is_null);
    free(dt->heap);
    memset(dt, 0, sizeof *dt);
}

int tp_pq_reader_read(struct tp_pq_reader *r, size_t rg, size_t col, struct tp_pq_data *out)
{
    memset(out, 0, sizeof *out);
    r->err.code = 0;
    r->err.msg[0] = 0;
    if (rg >= r->m.nrgs || col >= r->ncols)
        return set_err(&r->err, -EINVAL, "no row group %zu column %zu", rg, col);
    struct rd d = {.r = r, .c = &r->cols[col], .rg = rg, .col = col};
    if (d.c->pub.kind == TP_PQ_OTHER)
        return rd_err(&d, -ENOTSUP, "a column type tickpipe does not read");
    const struct tp_pq_colmeta *m = &r->m.rgs[rg].cols[col].meta;
    d.n = (size_t)r->m.rgs[rg].num_rows;
    d.width = out_width(d.c->pub.kind);
    if (d.n > r->lim.max_chunk / (d.width + 1))
        return rd_err(&d, -E2BIG, "%zu rows exceed the limit", d.n);
    uint64_t start = (uint64_t)chunk_start(m), len = (uint64_t)m->total_compressed_size;
    if (len > r->lim.max_chunk)
        return rd_err(&d, -E2BIG, "chunk of %llu bytes exceeds the limit", (unsigned long long)len);
    tp_buf_init(&d.heap, r->lim.max_chunk);
    uint8_t *buf = malloc(len ? len : 1);
    d.values = calloc(d.n ? d.n : 1, d.width);
    d.is_null = calloc(d.n ? d.n : 1, 1);
    int rc;
    if (!buf || !d.values || !d.is_null) {
        rc = rd_err(&d, -ENOMEM, "out of memory");
        goto out;
    }
    rc = read_at(r, buf, len, start);
    if (rc < 0) {
        rd_err(&d, rc, "read failed: %s", strerror(-rc));
        goto out;
    }
    size_t pos = 0;
    while (d.done < d.n) {
        if (pos >= len) {
            rc = rd_err(&d, -EBADMSG, "chunk ends after %zu of %zu rows", d.done, d.n);
            goto out;
        }
        struct tp_pq_page_header h;
        size_t used;
        rc = tp_pq_page_header_decode(buf + pos, len - pos, &h, &used);
        if (rc < 0) {
            rd_err(&d, rc, "malformed page header at chunk byte %zu", pos);
            goto out;
        }
        pos += used;
        if ((size_t)h.compressed_size > len - pos) {
            rc = rd_err(&d, -EBADMSG, "page of %d bytes past the chunk end", h.compressed_size);
            goto out;
        }
        if ((size_t)h.uncompressed_size > r->lim.max_page) {
            rc = rd_err(&d, -E2BIG, "page of %d bytes exceeds the limit", h.uncompressed_size);
            goto out;
        }
        const uint8_t *src = buf + pos;
        pos += (size_t)h.compressed_size;
        if (h.type == PQ_DICTIONARY_PAGE)
            rc = read_dict_page(&d, &h, src);
        else if (h.type == PQ_DATA_PAGE || h.type == PQ_DATA_PAGE_V2)
            rc = read_data_page(&d, &h, src);
        else
            rc = 0; /* index pages and unknown types are skipped */
        if (rc < 0) goto out;
    }
    if (is_bytes(&d)) {
        struct tp_pq_bytes *b = (struct tp_pq_bytes *)(void *)d.values;
        for (size_t i = 0; i < d.n; i++)
            b[i].p = d.is_null[i] || !d.heap.p ? "" : d.heap.p + (uintptr_t)b[i].p;
    }
    out->kind = d.c->pub.kind;
    out->n = d.n;
    out->null_count = d.null_count;
    out->values = d.values;
    out->is_null = d.is_null;
    out->heap = d.heap.p;
    d.values = d.is_null = NULL;
    d.heap.p = NULL;
    rc = 0;
out:
    free(buf);
    free(d.values);
    free(d.is_null);
    tp_buf_fini(&d.heap);
    free(d.dict_vals);
    free(d.dict_page);
    free(d.page);
    free(d.vtmp);
    free(d.u32);
    return rc;
}
