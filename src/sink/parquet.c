/*
 * parquet.c — the Parquet writer (API in parquet.h; what is implemented in docs/parquet.md).
 *
 * File layout written:
 *
 *   "PAR1" | row group 0: chunk(col 0) chunk(col 1) ... | row group 1 ... | footer | len | "PAR1"
 *   chunk := [dictionary page] data page+          page := PageHeader (Thrift) payload
 *
 * Design. Appended rows are buffered per column for the current row group: the non-null
 * values packed densely (fixed-width values as their PLAIN bytes; strings as a length array
 * and a byte heap) and, for optional columns, one null flag per row. When the row group is
 * full (row_group_rows, or row_group_bytes of buffered values) each column chunk is encoded
 * with the whole chunk in view: a dictionary is tried first and kept when it is within its
 * limits and smaller than PLAIN (else the chunk falls back to PLAIN), then the rows are cut
 * into pages of at most page_rows rows and about page_bytes value bytes, each page encoded
 * (RLE definition levels, values), compressed, given a header with its statistics, and
 * written. The footer's metadata (offsets, sizes, statistics per chunk) is kept until close.
 *
 * Invariants:
 *  1. pos is the file offset of the next byte written (the output buffer included);
 *  2. every column buffer holds exactly rg_rows rows (nulls) and nn values after an append
 *     returns; a failed append that already changed buffers makes the writer failed (err),
 *     a rejected one (bad arguments) changes nothing;
 *  3. the buffered bytes of a row group never exceed row_group_bytes, except by a single
 *     batch slice of one row;
 *  4. after err is set, nothing more is written and every call returns err.
 */
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "sink/parquet_int.h"
#include "sink/thrift.h"

#define CREATED_BY       "tickpipe version 0.1.0"
#define SLICE_ROWS       8192
#define OUT_FLUSH        (1u << 20)
#define MAX_DICT_ENTRIES ((size_t)1 << 20)
#define MAX_ROW_GROUPS   ((size_t)1 << 20)
#define MAX_STATS_BYTES  4096

/* Statistics of a page or a chunk, kept in the column's type. */
struct wstats {
    int64_t nulls;
    int64_t nans;
    bool any; /* a non-null (non-NaN for doubles) value was seen */
    union {
        int64_t i;
        double d;
        struct tp_pq_bytes s; /* borrowed from the row group's heap until encoded */
    } min, max;
};

/* The encoded statistics of a chunk, kept for the footer. */
struct wstats_enc {
    int64_t nulls, nans;
    bool has_minmax, min_exact, max_exact;
    uint8_t *min, *max; /* owned */
    uint32_t min_len, max_len;
};

struct wchunk {
    int64_t num_values;
    int64_t dict_offset; /* -1: no dictionary page */
    int64_t data_offset;
    int64_t total_uncompressed, total_compressed;
    uint32_t encodings; /* bit per Encoding */
    int32_t dict_pages, dict_data_pages, plain_data_pages;
    struct wstats_enc st;
};

struct wrowgroup {
    struct wchunk *chunks; /* ncols */
    int64_t num_rows;
    int64_t file_offset;
    int64_t total_byte_size, total_compressed;
};

struct wcol {
    char *name; /* owned */
    enum tp_pq_kind kind;
    bool optional, local_time;
    int ptype;           /* physical type */
    int width;           /* bytes of a fixed-width value in buffers; 0 for strings */
    struct tp_buf vals;  /* fixed: packed non-null values; strings: uint32 lengths */
    struct tp_buf heap;  /* strings: the bytes */
    struct tp_buf nulls; /* optional: one flag per row */
    size_t nn;           /* non-null values buffered */
};

struct tp_pq_writer {
    int fd;
    bool own_fd;
    int err;
    struct tp_pq_options o;
    char *created_by;
    struct tp_pq_kv *kv; /* owned copies */
    size_t nkv;
    struct wcol *cols;
    size_t ncols;
    size_t rg_rows, rg_bytes;
    uint64_t rows;
    uint64_t pos;
    struct tp_buf out; /* bytes not yet written */
    struct wrowgroup *rgs;
    size_t nrgs, caprgs;
    struct tp_pq_codec_ctx codec;
    /* scratch, reused across chunks */
    struct tp_buf idx;   /* uint32 dictionary indices */
    struct tp_buf dict;  /* dictionary: fixed values, or uint32 (offset, length) for strings */
    struct tp_buf table; /* uint32 hash slots */
    struct tp_buf page;  /* uncompressed page body */
    struct tp_buf cpage; /* compressed page */
    struct tp_buf hdr;   /* page header */
    struct tp_buf lv;    /* encoded levels */
    struct tp_buf tmp;   /* plain values being assembled */
    struct tp_buf stamp; /* per dictionary entry: the last page that used it */
    uint32_t page_no;    /* pages written, for stamp */
};

void tp_pq_options_default(struct tp_pq_options *o)
{
    *o = (struct tp_pq_options){
        .codec = TP_PQ_ZSTD,
        .zstd_level = 3,
        .row_group_rows = 1u << 20,
        .row_group_bytes = 128u << 20,
        .page_rows = 65536,
        .page_bytes = 1u << 20,
        .dictionary = true,
        .dict_max_bytes = 1u << 20,
        .dict_max_entries = 65536,
        .page_v2 = false,
        .page_stats = true,
        .stats_max_bytes = 64,
        .max_value_bytes = 16u << 20,
        .created_by = NULL,
        .kv = NULL,
        .nkv = 0,
    };
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static int kind_info(enum tp_pq_kind k, int *ptype, int *width)
{
    switch (k) {
    case TP_PQ_BOOL:
        *ptype = PQ_BOOLEAN, *width = 1;
        return 0;
    case TP_PQ_INT32:
        *ptype = PQ_INT32, *width = 4;
        return 0;
    case TP_PQ_INT64:
    case TP_PQ_TS_MILLIS:
    case TP_PQ_TS_MICROS:
    case TP_PQ_TS_NANOS:
        *ptype = PQ_INT64, *width = 8;
        return 0;
    case TP_PQ_DOUBLE:
        *ptype = PQ_DOUBLE, *width = 8;
        return 0;
    case TP_PQ_STRING:
    case TP_PQ_BYTES:
        *ptype = PQ_BYTE_ARRAY, *width = 0;
        return 0;
    default:
        return -EINVAL;
    }
}

/* ---- output ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (k == 0) return -EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int out_flush(struct tp_pq_writer *w)
{
    int rc = write_all(w->fd, w->out.p, w->out.len);
    tp_buf_reset(&w->out);
    return rc;
}

static int emit(struct tp_pq_writer *w, const void *p, size_t n)
{
    if (w->out.len + n > OUT_FLUSH && w->out.len) {
        int rc = out_flush(w);
        if (rc < 0) return rc;
    }
    int rc = n > OUT_FLUSH ? write_all(w->fd, p, n) : tp_buf_append(&w->out, p, n);
    if (rc == 0) w->pos += n;
    return rc;
}

/* ---- open ---- */

static void free_rowgroups(struct tp_pq_writer *w)
{
    for (size_t g = 0; g < w->nrgs; g++) {
        for (size_t c = 0; c < w->ncols; c++) {
            free(w->rgs[g].chunks[c].st.min);
            free(w->rgs[g].chunks[c].st.max);
        }
        free(w->rgs[g].chunks);
    }
    free(w->rgs);
}

static void writer_free(struct tp_pq_writer *w)
{
    if (!w) return;
    for (size_t c = 0; c < w->ncols; c++) {
        free(w->cols[c].name);
        tp_buf_fini(&w->cols[c].vals);
        tp_buf_fini(&w->cols[c].heap);
        tp_buf_fini(&w->cols[c].nulls);
    }
    free(w->cols);
    for (size_t i = 0; i < w->nkv; i++) {
        free((char *)w->kv[i].key);
        free((char *)w->kv[i].value);
    }
    free(w->kv);
    free(w->created_by);
    free_rowgroups(w);
    struct tp_buf *bufs[] = {&w->out,   &w->idx, &w->dict, &w->table, &w->page,
                             &w->cpage, &w->hdr, &w->lv,   &w->tmp,   &w->stamp};
    for (size_t i = 0; i < TP_ARRAY_LEN(bufs); i++) tp_buf_fini(bufs[i]);
    tp_pq_codec_fini(&w->codec);
    if (w->own_fd && w->fd >= 0) close(w->fd);
    free(w);
}

static int check_options(const struct tp_pq_options *o)
{
    if (o->codec != TP_PQ_UNCOMPRESSED && o->codec != TP_PQ_SNAPPY && o->codec != TP_PQ_ZSTD)
        return -EINVAL;
    if (!o->row_group_rows || !o->row_group_bytes || !o->page_rows || !o->page_bytes)
        return -EINVAL;
    if (o->row_group_rows > INT32_MAX || o->page_rows > INT32_MAX) return -EINVAL;
    if (o->row_group_bytes > ((size_t)1 << 40)) return -EINVAL;
    if (o->dict_max_entries > MAX_DICT_ENTRIES || o->stats_max_bytes > MAX_STATS_BYTES)
        return -EINVAL;
    if (o->max_value_bytes > INT32_MAX - 4) return -EINVAL;
    return 0;
}

static int writer_open(struct tp_pq_writer **out, int fd, bool own, const struct tp_pq_column *cols,
                       size_t ncols, const struct tp_pq_options *opt)
{
    struct tp_pq_options o;
    if (opt)
        o = *opt;
    else
        tp_pq_options_default(&o);
    int rc = check_options(&o);
    if (rc < 0) return rc;
    if (ncols == 0 || ncols > 4096 || !cols) return -EINVAL;
    for (size_t i = 0; i < ncols; i++) {
        int pt, wd;
        if (!cols[i].name || !cols[i].name[0] || strlen(cols[i].name) > 1024) return -EINVAL;
        if (kind_info(cols[i].kind, &pt, &wd) < 0) return -EINVAL;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cols[i].name, cols[j].name)) return -EINVAL;
    }
    if (o.nkv > 65536 || (o.nkv && !o.kv)) return -EINVAL;
    for (size_t i = 0; i < o.nkv; i++)
        if (!o.kv[i].key) return -EINVAL;

    struct tp_pq_writer *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->fd = fd;
    w->own_fd = own;
    w->o = o;
    w->o.kv = NULL;
    w->o.created_by = NULL;
    size_t colmax = o.row_group_bytes + o.max_value_bytes + 64;
    tp_buf_init(&w->out, OUT_FLUSH + 64);
    tp_buf_init(&w->idx, (size_t)o.row_group_rows * 4 + 64);
    tp_buf_init(&w->dict, o.dict_max_bytes + 16 * o.dict_max_entries + 64);
    tp_buf_init(&w->table, MAX_DICT_ENTRIES * 16);
    tp_buf_init(&w->stamp, MAX_DICT_ENTRIES * 4);
    /* a page body: its values (page_bytes, overshot by one value), levels; or a dictionary */
    size_t pagemax =
        2 * (o.page_bytes + o.max_value_bytes) + (size_t)o.page_rows * 8 + o.dict_max_bytes + 4096;
    tp_buf_init(&w->page, pagemax);
    tp_buf_init(&w->tmp, pagemax);
    tp_buf_init(&w->lv, (size_t)o.page_rows + 4096);
    tp_buf_init(&w->cpage, tp_pq_compress_bound(o.codec, pagemax) + 64);
    tp_buf_init(&w->hdr, 64 + 4 * MAX_STATS_BYTES);
    w->created_by = dupstr(opt && opt->created_by ? opt->created_by : CREATED_BY);
    w->cols = calloc(ncols, sizeof *w->cols);
    w->kv = o.nkv ? calloc(o.nkv, sizeof *w->kv) : NULL;
    if (!w->created_by || !w->cols || (o.nkv && !w->kv)) goto out_nomem;
    w->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        struct wcol *c = &w->cols[i];
        c->name = dupstr(cols[i].name);
        if (!c->name) goto out_nomem;
        c->kind = cols[i].kind;
        c->optional = cols[i].optional;
        c->local_time = cols[i].local_time;
        kind_info(c->kind, &c->ptype, &c->width);
        tp_buf_init(&c->vals, colmax);
        tp_buf_init(&c->heap, colmax);
        tp_buf_init(&c->nulls, colmax);
    }
    w->nkv = o.nkv;
    for (size_t i = 0; i < o.nkv; i++) {
        w->kv[i].key = dupstr(opt->kv[i].key);
        w->kv[i].value = opt->kv[i].value ? dupstr(opt->kv[i].value) : NULL;
        if (!w->kv[i].key || (opt->kv[i].value && !w->kv[i].value)) goto out_nomem;
    }
    rc = emit(w, TP_PQ_MAGIC, 4);
    if (rc < 0) {
        w->own_fd = false; /* the caller closes what it opened after a failure */
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;

out_nomem:
    w->own_fd = false;
    writer_free(w);
    return -ENOMEM;
}

int tp_pq_writer_open_fd(struct tp_pq_writer **out, int fd, const struct tp_pq_column *cols,
                         size_t ncols, const struct tp_pq_options *opt)
{
    if (fd < 0) return -EBADF;
    return writer_open(out, fd, false, cols, ncols, opt);
}

int tp_pq_writer_open_path(struct tp_pq_writer **out, const char *path,
                           const struct tp_pq_column *cols, size_t ncols,
                           const struct tp_pq_options *opt)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = writer_open(out, fd, true, cols, ncols, opt);
    if (rc < 0) close(fd);
    return rc;
}

uint64_t tp_pq_writer_rows(const struct tp_pq_writer *w)
{
    return w->rows;
}

uint64_t tp_pq_writer_bytes(const struct tp_pq_writer *w)
{
    return w->pos;
}

/* ---- statistics ---- */

static void stats_init(struct wstats *s)
{
    memset(s, 0, sizeof *s);
}

static inline int bytes_cmp(struct tp_pq_bytes a, struct tp_pq_bytes b)
{
    if (a.n >= 8 && b.n >= 8) { /* most pairs differ in their first 8 bytes */
        uint64_t x, y;
        memcpy(&x, a.p, 8);
        memcpy(&y, b.p, 8);
        if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
    size_t n = TP_MIN(a.n, b.n);
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

/* Folds non-null values v[0..n) of column c into s. */
static void stats_fixed(const struct wcol *c, struct wstats *s, const void *v, size_t n)
{
    if (!n) return;
    switch (c->kind) {
    case TP_PQ_BOOL: {
        const uint8_t *b = v;
        int64_t lo = s->any ? s->min.i : 1, hi = s->any ? s->max.i : 0;
        for (size_t i = 0; i < n; i++) {
            lo &= b[i];
            hi |= b[i];
        }
        s->min.i = lo, s->max.i = hi, s->any = true;
        return;
    }
    case TP_PQ_INT32: {
        const int32_t *x = v;
        int32_t lo = s->any ? (int32_t)s->min.i : x[0], hi = s->any ? (int32_t)s->max.i : x[0];
        for (size_t i = 0; i < n; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        s->min.i = lo, s->max.i = hi, s->any = true;
        return;
    }
    case TP_PQ_DOUBLE: {
        const double *x = v;
        double lo = s->any ? s->min.d : INFINITY, hi = s->any ? s->max.d : -INFINITY;
        bool any = s->any;
        for (size_t i = 0; i < n; i++) {
            if (isnan(x[i])) {
                s->nans++;
                continue;
            }
            any = true;
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        if (any) {
            /* The specification's rule for zeros: min -0.0, max +0.0. */
            if (lo == 0) lo = -0.0;
            if (hi == 0) hi = 0.0;
            s->min.d = lo, s->max.d = hi, s->any = true;
        }
        return;
    }
    default: {
        const int64_t *x = v;
        int64_t lo = s->any ? s->min.i : x[0], hi = s->any ? s->max.i : x[0];
        for (size_t i = 0; i < n; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        s->min.i = lo, s->max.i = hi, s->any = true;
        return;
    }
    }
}

static void stats_bytes(struct wstats *s, struct tp_pq_bytes v)
{
    if (!s->any) {
        s->min.s = s->max.s = v;
        s->any = true;
        return;
    }
    if (bytes_cmp(v, s->min.s) < 0) s->min.s = v;
    if (bytes_cmp(v, s->max.s) > 0) s->max.s = v;
}

static void stats_merge(const struct wcol *c, struct wstats *into, const struct wstats *s)
{
    into->nulls += s->nulls;
    into->nans += s->nans;
    if (!s->any) return;
    if (c->width == 0) {
        stats_bytes(into, s->min.s);
        stats_bytes(into, s->max.s);
    } else if (c->kind == TP_PQ_DOUBLE) {
        stats_fixed(c, into, &s->min.d, 1);
        stats_fixed(c, into, &s->max.d, 1);
    } else if (c->kind == TP_PQ_INT32) {
        int32_t v[2] = {(int32_t)s->min.i, (int32_t)s->max.i};
        stats_fixed(c, into, v, 2);
    } else if (c->kind == TP_PQ_BOOL) {
        uint8_t v[2] = {(uint8_t)s->min.i, (uint8_t)s->max.i};
        stats_fixed(c, into, v, 2);
    } else {
        stats_fixed(c, into, &s->min.i, 1);
        stats_fixed(c, into, &s->max.i, 1);
    }
}

/* Encodes a statistic value as PLAIN without length prefix into b[8] (fixed types). */
static uint32_t enc_fixed(const struct wcol *c, const void *v, uint8_t *b)
{
    if (c->kind == TP_PQ_BOOL) {
        b[0] = (uint8_t) * (const int64_t *)v;
        return 1;
    }
    if (c->kind == TP_PQ_INT32) {
        int32_t x = (int32_t) * (const int64_t *)v;
        memcpy(b, &x, 4);
        return 4;
    }
    memcpy(b, v, 8); /* int64 or double, little-endian host */
    return 8;
}

/* A lower bound of s no longer than max bytes: a prefix (cut at an ASCII byte or a UTF-8
 * lead byte, so a STRING stays valid UTF-8). */
static uint32_t trunc_min(struct tp_pq_bytes s, size_t max)
{
    if (s.n <= max) return s.n;
    size_t n = max;
    while (n > 0 && ((uint8_t)s.p[n] & 0xC0) == 0x80) n--; /* s.p[n] starts a character */
    return (uint32_t)n;
}

/* An upper bound of s no longer than max bytes: the prefix up to its last ASCII byte below
 * 0x7f within max bytes, that byte incremented. False when there is none. */
static bool trunc_max(struct tp_pq_bytes s, size_t max, uint8_t *out, uint32_t *n)
{
    if (s.n <= max) {
        if (s.n) memcpy(out, s.p, s.n);
        *n = s.n;
        return true;
    }
    for (size_t i = max; i-- > 0;) {
        if ((uint8_t)s.p[i] < 0x7f) {
            memcpy(out, s.p, i + 1);
            out[i]++;
            *n = (uint32_t)(i + 1);
            return true;
        }
    }
    return false;
}

/* Fills the encoded statistics of column c from s. */
static int stats_encode(const struct tp_pq_writer *w, const struct wcol *c, const struct wstats *s,
                        struct wstats_enc *e)
{
    memset(e, 0, sizeof *e);
    e->nulls = s->nulls;
    e->nans = s->nans;
    /* With NaNs present no bounds are written: readers differ on where NaN sorts (DuckDB
     * takes it as the largest value and would skip the chunk for `x > bound`), and without
     * bounds none of them can skip it wrongly. nan_count still says how many there are. */
    if (!s->any || s->nans) return 0;
    uint8_t bmin[MAX_STATS_BYTES], bmax[MAX_STATS_BYTES];
    uint32_t nmin, nmax;
    if (c->width) {
        nmin = enc_fixed(c, &s->min, bmin);
        nmax = enc_fixed(c, &s->max, bmax);
        e->min_exact = e->max_exact = true;
    } else {
        nmin = trunc_min(s->min.s, w->o.stats_max_bytes);
        memcpy(bmin, s->min.s.p, nmin);
        if (!trunc_max(s->max.s, w->o.stats_max_bytes, bmax, &nmax)) return 0;
        e->min_exact = nmin == s->min.s.n;
        e->max_exact = nmax == s->max.s.n && !memcmp(bmax, s->max.s.p, nmax);
    }
    e->min = malloc(nmin ? nmin : 1);
    e->max = malloc(nmax ? nmax : 1);
    if (!e->min || !e->max) {
        free(e->min);
        free(e->max);
        e->min = e->max = NULL;
        return -ENOMEM;
    }
    memcpy(e->min, bmin, nmin);
    memcpy(e->max, bmax, nmax);
    e->min_len = nmin;
    e->max_len = nmax;
    e->has_minmax = true;
    return 0;
}

/* Legacy min/max (signed order) are written for the types whose order is signed. */
static bool signed_order(const struct wcol *c)
{
    return c->width != 0;
}

static void thrift_stats(struct tp_thrift_w *t, int16_t id, const struct wcol *c,
                         const struct wstats_enc *e)
{
    tp_thrift_w_struct_begin(t, id);
    if (e->has_minmax && signed_order(c)) {
        tp_thrift_w_binary(t, 1, e->max, e->max_len);
        tp_thrift_w_binary(t, 2, e->min, e->min_len);
    }
    tp_thrift_w_i64(t, 3, e->nulls);
    if (e->has_minmax) {
        tp_thrift_w_binary(t, 5, e->max, e->max_len);
        tp_thrift_w_binary(t, 6, e->min, e->min_len);
        tp_thrift_w_bool(t, 7, e->max_exact);
        tp_thrift_w_bool(t, 8, e->min_exact);
    }
    if (c->kind == TP_PQ_DOUBLE) tp_thrift_w_i64(t, 9, e->nans);
    tp_thrift_w_struct_end(t);
}

/* ---- dictionary ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n;
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ mix64(k)) * UINT64_C(0x100000001b3);
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    if (n) memcpy(&k, p, n);
    return mix64(h ^ k);
}

static uint64_t fixed_key(const struct wcol *c, const uint8_t *v)
{
    uint64_t k = 0;
    memcpy(&k, v, (size_t)c->width);
    return k;
}

/* Builds the dictionary of column c's buffered values into w->dict and their indices into
 * w->idx. Returns the number of entries, 0 when the dictionary would exceed its limits (the
 * chunk then falls back to PLAIN), or a negative errno. *dict_bytes is its PLAIN size. */
static long build_dict(struct tp_pq_writer *w, const struct wcol *c, size_t *dict_bytes)
{
    size_t nn = c->nn, max_entries = w->o.dict_max_entries;
    if (!max_entries) return 0;
    size_t slots = 16;
    while (slots < 2 * max_entries) slots <<= 1;
    uint64_t mask = slots - 1;
    tp_buf_reset(&w->table);
    tp_buf_reset(&w->dict);
    tp_buf_reset(&w->idx);
    int rc = tp_buf_reserve(&w->table, slots * 4);
    if (rc == 0) rc = tp_buf_reserve(&w->idx, nn * 4);
    if (rc < 0) return rc;
    uint32_t *tab = (uint32_t *)w->table.p, *idx = (uint32_t *)w->idx.p;
    memset(tab, 0, slots * 4);
    size_t entries = 0, bytes = 0;

    if (c->width) {
        const uint8_t *v = (const uint8_t *)c->vals.p;
        size_t wd = (size_t)c->width;
        uint64_t prev_key = 0;
        uint32_t prev = UINT32_MAX;
        for (size_t i = 0; i < nn; i++) {
            uint64_t k = fixed_key(c, v + i * wd);
            if (prev != UINT32_MAX && k == prev_key) {
                idx[i] = prev;
                continue;
            }
            uint64_t h = mix64(k) & mask;
            for (;;) {
                uint32_t e = tab[h];
                if (!e) {
                    if (entries >= max_entries || bytes + wd > w->o.dict_max_bytes) return 0;
                    rc = tp_buf_append(&w->dict, v + i * wd, wd);
                    if (rc < 0) return rc;
                    tab[h] = (uint32_t)++entries;
                    bytes += wd;
                    prev = (uint32_t)(entries - 1);
                    break;
                }
                if (fixed_key(c, (const uint8_t *)w->dict.p + (e - 1) * wd) == k) {
                    prev = e - 1;
                    break;
                }
                h = (h + 1) & mask;
            }
            prev_key = k;
            idx[i] = prev;
        }
    } else {
        const uint32_t *lens = (const uint32_t *)c->vals.p;
        const char *heap = c->heap.p;
        size_t off = 0, prev_off = 0;
        uint32_t prev = UINT32_MAX, prev_len = 0;
        for (size_t i = 0; i < nn; i++) {
            uint32_t n = lens[i];
            const char *s = heap + off;
            if (prev != UINT32_MAX && n == prev_len && !memcmp(s, heap + prev_off, n)) {
                idx[i] = prev;
                off += n;
                continue;
            }
            uint64_t h = hash_bytes(s, n) & mask;
            for (;;) {
                uint32_t e = tab[h];
                if (!e) {
                    if (entries >= max_entries || bytes + 4 + n > w->o.dict_max_bytes) return 0;
                    uint32_t ent[2] = {(uint32_t)off, n};
                    rc = tp_buf_append(&w->dict, ent, sizeof ent);
                    if (rc < 0) return rc;
                    tab[h] = (uint32_t)++entries;
                    bytes += 4 + (size_t)n;
                    prev = (uint32_t)(entries - 1);
                    break;
                }
                const uint32_t *ent = (const uint32_t *)w->dict.p + 2 * (e - 1);
                if (ent[1] == n && !memcmp(heap + ent[0], s, n)) {
                    prev = e - 1;
                    break;
                }
                h = (h + 1) & mask;
            }
            prev_off = off;
            prev_len = n;
            idx[i] = prev;
            off += n;
        }
    }
    *dict_bytes = bytes;
    return (long)entries;
}

/* ---- pages ---- */

static int w_header_page(struct tp_pq_writer *w, int type, size_t usize, size_t csize,
                         struct tp_thrift_w *t)
{
    if (usize > INT32_MAX || csize > INT32_MAX) return -E2BIG;
    tp_buf_reset(&w->hdr);
    tp_thrift_w_init(t, &w->hdr);
    tp_thrift_w_e_struct_begin(t);
    tp_thrift_w_i32(t, 1, type);
    tp_thrift_w_i32(t, 2, (int32_t)usize);
    tp_thrift_w_i32(t, 3, (int32_t)csize);
    return 0;
}

/* Compresses body (n bytes) into w->cpage. */
static int compress_body(struct tp_pq_writer *w, const void *body, size_t n, size_t *cn)
{
    tp_buf_reset(&w->cpage);
    int rc = tp_buf_reserve(&w->cpage, tp_pq_compress_bound(w->o.codec, n));
    if (rc < 0) return rc;
    return tp_pq_compress(&w->codec, w->o.codec, w->o.zstd_level, body, n, w->cpage.p, cn);
}

/* Writes header (w->hdr) and payload, accounting them in chunk k. */
static int emit_page(struct tp_pq_writer *w, struct wchunk *k, size_t usize, const void *pre,
                     size_t npre, const void *payload, size_t n)
{
    int rc = emit(w, w->hdr.p, w->hdr.len);
    if (rc == 0 && npre) rc = emit(w, pre, npre);
    if (rc == 0) rc = emit(w, payload, n);
    k->total_uncompressed += (int64_t)(w->hdr.len + usize);
    k->total_compressed += (int64_t)(w->hdr.len + npre + n);
    return rc;
}

static int write_dict_page(struct tp_pq_writer *w, const struct wcol *c, struct wchunk *k,
                           size_t entries, size_t dict_bytes)
{
    const void *body = w->dict.p;
    size_t n = dict_bytes;
    if (!c->width) { /* strings: build the PLAIN body (length, bytes) */
        tp_buf_reset(&w->tmp);
        int rc = tp_buf_reserve(&w->tmp, dict_bytes);
        if (rc < 0) return rc;
        const uint32_t *ent = (const uint32_t *)w->dict.p;
        char *q = w->tmp.p;
        for (size_t i = 0; i < entries; i++) {
            memcpy(q, &ent[2 * i + 1], 4);
            memcpy(q + 4, c->heap.p + ent[2 * i], ent[2 * i + 1]);
            q += 4 + ent[2 * i + 1];
        }
        w->tmp.len = dict_bytes;
        body = w->tmp.p;
    }
    size_t cn;
    int rc = compress_body(w, body, n, &cn);
    if (rc < 0) return rc;
    struct tp_thrift_w t;
    rc = w_header_page(w, PQ_DICTIONARY_PAGE, n, cn, &t);
    if (rc < 0) return rc;
    tp_thrift_w_struct_begin(&t, 7);
    tp_thrift_w_i32(&t, 1, (int32_t)entries);
    tp_thrift_w_i32(&t, 2, PQ_ENC_PLAIN);
    tp_thrift_w_struct_end(&t);
    tp_thrift_w_struct_end(&t);
    if (t.err) return t.err;
    k->dict_offset = (int64_t)w->pos;
    k->dict_pages++;
    return emit_page(w, k, n, NULL, 0, w->cpage.p, cn);
}

/* The rows [r0, r0+nr) of column c, holding the non-null values [v0, v0+nv). */
struct page_span {
    size_t r0, nr, v0, nv;
    size_t s0; /* strings: heap offset of value v0 */
};

/* Appends the PLAIN encoding of the span's values to b and folds them into st. */
static int plain_values(struct tp_pq_writer *w, const struct wcol *c, const struct page_span *sp,
                        struct tp_buf *b, struct wstats *st)
{
    int rc;
    if (c->kind == TP_PQ_BOOL) {
        const uint8_t *v = (const uint8_t *)c->vals.p + sp->v0;
        stats_fixed(c, st, v, sp->nv);
        rc = tp_buf_reserve(b, (sp->nv + 7) / 8);
        if (rc < 0) return rc;
        uint8_t *q = (uint8_t *)b->p + b->len;
        memset(q, 0, (sp->nv + 7) / 8);
        for (size_t i = 0; i < sp->nv; i++) q[i >> 3] |= (uint8_t)(v[i] << (i & 7));
        b->len += (sp->nv + 7) / 8;
        return 0;
    }
    if (c->width) {
        const uint8_t *v = (const uint8_t *)c->vals.p + sp->v0 * (size_t)c->width;
        stats_fixed(c, st, v, sp->nv);
        return tp_buf_append(b, v, sp->nv * (size_t)c->width);
    }
    const uint32_t *lens = (const uint32_t *)c->vals.p + sp->v0;
    size_t total = 0;
    for (size_t i = 0; i < sp->nv; i++) total += 4 + (size_t)lens[i];
    rc = tp_buf_reserve(b, total);
    if (rc < 0) return rc;
    char *q = b->p + b->len;
    const char *s = c->heap.p + sp->s0;
    for (size_t i = 0; i < sp->nv; i++) {
        memcpy(q, &lens[i], 4);
        memcpy(q + 4, s, lens[i]);
        stats_bytes(st, (struct tp_pq_bytes){s, lens[i]});
        q += 4 + lens[i];
        s += lens[i];
    }
    b->len += total;
    return 0;
}

/* Folds the span's values into st for a dictionary-encoded page: each distinct dictionary
 * entry the page uses once (w->stamp remembers which were seen on this page). */
static void dict_span_stats(struct tp_pq_writer *w, const struct wcol *c,
                            const struct page_span *sp, struct wstats *st)
{
    uint32_t *stamp = (uint32_t *)(void *)w->stamp.p, page = ++w->page_no;
    const uint32_t *idx = (const uint32_t *)(void *)w->idx.p + sp->v0;
    uint32_t prev = UINT32_MAX;
    for (size_t i = 0; i < sp->nv; i++) {
        uint32_t k = idx[i];
        if (k == prev || stamp[k] == page) continue;
        prev = k;
        stamp[k] = page;
        if (c->width) {
            stats_fixed(c, st, w->dict.p + (size_t)k * (size_t)c->width, 1);
        } else {
            const uint32_t *ent = (const uint32_t *)(void *)w->dict.p + 2 * (size_t)k;
            stats_bytes(st, (struct tp_pq_bytes){c->heap.p + ent[0], ent[1]});
        }
    }
}

static int write_data_page(struct tp_pq_writer *w, const struct wcol *c, struct wchunk *k,
                           const struct page_span *sp, int dict_bw, struct wstats *chunk_st)
{
    const uint8_t *nulls = c->optional ? (const uint8_t *)c->nulls.p + sp->r0 : NULL;
    struct wstats st;
    stats_init(&st);
    st.nulls = (int64_t)(sp->nr - sp->nv);
    int rc;

    /* levels */
    tp_buf_reset(&w->lv);
    if (c->optional) {
        rc = tp_pq_rle_encode_nulls(&w->lv, nulls, sp->nr);
        if (rc < 0) return rc;
    }
    /* values */
    int enc = dict_bw >= 0 ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN;
    tp_buf_reset(&w->tmp);
    if (dict_bw >= 0) {
        dict_span_stats(w, c, sp, &st);
        rc = tp_buf_u8(&w->tmp, (uint8_t)dict_bw);
        if (rc == 0)
            rc = tp_pq_rle_encode(&w->tmp, (const uint32_t *)w->idx.p + sp->v0, sp->nv, dict_bw);
    } else {
        rc = plain_values(w, c, sp, &w->tmp, &st);
    }
    if (rc < 0) return rc;

    /* body: v1 compresses [len32 levels] values together; v2 keeps levels outside */
    size_t usize, cn;
    const void *pre = NULL;
    size_t npre = 0;
    if (!w->o.page_v2) {
        tp_buf_reset(&w->page);
        if (c->optional) {
            rc = tp_buf_u32(&w->page, (uint32_t)w->lv.len);
            if (rc == 0) rc = tp_buf_append(&w->page, w->lv.p, w->lv.len);
        }
        if (rc == 0) rc = tp_buf_append(&w->page, w->tmp.p, w->tmp.len);
        if (rc == 0) rc = compress_body(w, w->page.p, w->page.len, &cn);
        usize = w->page.len;
    } else {
        rc = compress_body(w, w->tmp.p, w->tmp.len, &cn);
        pre = w->lv.p;
        npre = w->lv.len;
        usize = w->lv.len + w->tmp.len;
    }
    if (rc < 0) return rc;

    struct wstats_enc se = {0};
    if (w->o.page_stats) {
        rc = stats_encode(w, c, &st, &se);
        if (rc < 0) return rc;
    }
    struct tp_thrift_w t;
    rc = w_header_page(w, w->o.page_v2 ? PQ_DATA_PAGE_V2 : PQ_DATA_PAGE, usize, npre + cn, &t);
    if (rc < 0) goto out;
    if (!w->o.page_v2) {
        tp_thrift_w_struct_begin(&t, 5);
        tp_thrift_w_i32(&t, 1, (int32_t)sp->nr);
        tp_thrift_w_i32(&t, 2, enc);
        tp_thrift_w_i32(&t, 3, PQ_ENC_RLE);
        tp_thrift_w_i32(&t, 4, PQ_ENC_RLE);
        if (w->o.page_stats) thrift_stats(&t, 5, c, &se);
        tp_thrift_w_struct_end(&t);
    } else {
        tp_thrift_w_struct_begin(&t, 8);
        tp_thrift_w_i32(&t, 1, (int32_t)sp->nr);
        tp_thrift_w_i32(&t, 2, (int32_t)(sp->nr - sp->nv));
        tp_thrift_w_i32(&t, 3, (int32_t)sp->nr);
        tp_thrift_w_i32(&t, 4, enc);
        tp_thrift_w_i32(&t, 5, (int32_t)w->lv.len);
        tp_thrift_w_i32(&t, 6, 0);
        tp_thrift_w_bool(&t, 7, w->o.codec != TP_PQ_UNCOMPRESSED);
        if (w->o.page_stats) thrift_stats(&t, 8, c, &se);
        tp_thrift_w_struct_end(&t);
    }
    tp_thrift_w_struct_end(&t);
    rc = t.err;
    if (rc < 0) goto out;
    if (k->data_offset < 0) k->data_offset = (int64_t)w->pos;
    if (dict_bw >= 0)
        k->dict_data_pages++;
    else
        k->plain_data_pages++;
    k->encodings |= 1u << enc;
    if (c->optional) k->encodings |= 1u << PQ_ENC_RLE;
    stats_merge(c, chunk_st, &st);
    rc = emit_page(w, k, usize, pre, npre, w->cpage.p, cn);
out:
    free(se.min);
    free(se.max);
    return rc;
}

/* Encodes and writes the buffered chunk of column c; fills k. */
static int write_chunk(struct tp_pq_writer *w, struct wcol *c, struct wchunk *k)
{
    memset(k, 0, sizeof *k);
    k->dict_offset = -1;
    k->data_offset = -1;
    k->num_values = (int64_t)w->rg_rows;
    int rc;

    /* Dictionary, if it pays: its PLAIN size plus the packed indices against PLAIN values. */
    int dict_bw = -1;
    if (w->o.dictionary && c->kind != TP_PQ_BOOL && c->nn > 0) {
        size_t dict_bytes = 0;
        long entries = build_dict(w, c, &dict_bytes);
        if (entries < 0) return (int)entries;
        if (entries > 0) {
            int bw = tp_pq_bit_width((uint64_t)entries - 1);
            if (bw == 0) bw = 1; /* some readers mishandle width 0 */
            size_t plain = c->width ? c->nn * (size_t)c->width : c->nn * 4 + c->heap.len;
            size_t dcost = dict_bytes + (c->nn * (size_t)bw + 7) / 8 + 16;
            if (dcost < plain) {
                tp_buf_reset(&w->stamp);
                rc = tp_buf_reserve(&w->stamp, (size_t)entries * 4);
                if (rc < 0) return rc;
                memset(w->stamp.p, 0, (size_t)entries * 4);
                w->page_no = 0;
                rc = write_dict_page(w, c, k, (size_t)entries, dict_bytes);
                if (rc < 0) return rc;
                dict_bw = bw;
            }
        }
    }

    /* Pages: cut the rows by page_rows and page_bytes of values. */
    struct wstats chunk_st;
    stats_init(&chunk_st);
    const uint8_t *nulls = c->optional ? (const uint8_t *)c->nulls.p : NULL;
    const uint32_t *lens = c->width ? NULL : (const uint32_t *)c->vals.p;
    size_t per_value = dict_bw >= 0 ? (size_t)(dict_bw + 7) / 8 : (size_t)c->width;
    struct page_span sp = {0};
    while (sp.r0 < w->rg_rows) {
        size_t lim = TP_MIN(w->o.page_rows, w->rg_rows - sp.r0);
        size_t bytes = 0, nr = 0, nv = 0, sb = 0;
        while (nr < lim && bytes < w->o.page_bytes) {
            if (!nulls || !nulls[sp.r0 + nr]) {
                if (lens) {
                    size_t n = lens[sp.v0 + nv];
                    sb += n;
                    bytes += dict_bw >= 0 ? per_value : 4 + n;
                } else {
                    bytes += per_value;
                }
                nv++;
            }
            nr++;
        }
        sp.nr = nr;
        sp.nv = nv;
        rc = write_data_page(w, c, k, &sp, dict_bw, &chunk_st);
        if (rc < 0) return rc;
        sp.r0 += nr;
        sp.v0 += nv;
        sp.s0 += sb;
    }
    return stats_encode(w, c, &chunk_st, &k->st);
}

static void col_reset(struct wcol *c)
{
    tp_buf_reset(&c->vals);
    tp_buf_reset(&c->heap);
    tp_buf_reset(&c->nulls);
    c->nn = 0;
}

static int flush_rowgroup(struct tp_pq_writer *w)
{
    if (w->rg_rows == 0) return 0;
    if (w->nrgs == w->caprgs) {
        if (w->nrgs >= MAX_ROW_GROUPS) return -E2BIG;
        size_t cap = w->caprgs ? w->caprgs * 2 : 8;
        struct wrowgroup *g = realloc(w->rgs, cap * sizeof *g);
        if (!g) return -ENOMEM;
        w->rgs = g;
        w->caprgs = cap;
    }
    struct wrowgroup *g = &w->rgs[w->nrgs];
    memset(g, 0, sizeof *g);
    g->chunks = calloc(w->ncols, sizeof *g->chunks);
    if (!g->chunks) return -ENOMEM;
    w->nrgs++; /* from here the footer owns g, even if a chunk fails */
    g->num_rows = (int64_t)w->rg_rows;
    g->file_offset = (int64_t)w->pos;
    for (size_t i = 0; i < w->ncols; i++) {
        int rc = write_chunk(w, &w->cols[i], &g->chunks[i]);
        if (rc < 0) return rc;
        g->total_byte_size += g->chunks[i].total_uncompressed;
        g->total_compressed += g->chunks[i].total_compressed;
        col_reset(&w->cols[i]);
    }
    w->rg_rows = 0;
    w->rg_bytes = 0;
    return 0;
}

/* ---- append ---- */

/* Bytes that rows [off, off+m) add to the buffers. */
static size_t slice_bytes(const struct tp_pq_writer *w, const struct tp_pq_batch_col *b, size_t off,
                          size_t m)
{
    size_t total = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        const struct wcol *c = &w->cols[i];
        const uint8_t *nul = c->optional ? b[i].is_null : NULL;
        if (c->optional) total += m;
        if (c->width) {
            size_t nn = m;
            if (nul)
                for (size_t r = off; r < off + m; r++) nn -= nul[r] != 0;
            total += nn * (size_t)c->width;
        } else {
            const struct tp_pq_bytes *v = b[i].values;
            for (size_t r = off; r < off + m; r++)
                if (!nul || !nul[r]) total += 4 + (size_t)v[r].n;
        }
    }
    return total;
}

static int append_slice(struct tp_pq_writer *w, const struct tp_pq_batch_col *b, size_t off,
                        size_t m)
{
    int rc = 0;
    for (size_t i = 0; i < w->ncols && rc == 0; i++) {
        struct wcol *c = &w->cols[i];
        const uint8_t *nul = c->optional ? b[i].is_null : NULL;
        if (c->optional) {
            rc = tp_buf_reserve(&c->nulls, m);
            if (rc < 0) break;
            uint8_t *q = (uint8_t *)c->nulls.p + c->nulls.len;
            if (nul)
                for (size_t r = 0; r < m; r++) q[r] = nul[off + r] != 0;
            else
                memset(q, 0, m);
            c->nulls.len += m;
        }
        if (c->kind == TP_PQ_BOOL) {
            const uint8_t *v = (const uint8_t *)b[i].values + off;
            rc = tp_buf_reserve(&c->vals, m);
            if (rc < 0) break;
            uint8_t *q = (uint8_t *)c->vals.p + c->vals.len;
            size_t k = 0;
            for (size_t r = 0; r < m; r++)
                if (!nul || !nul[off + r]) q[k++] = v[r] != 0;
            c->vals.len += k;
            c->nn += k;
        } else if (c->width) {
            size_t wd = (size_t)c->width;
            const uint8_t *v = (const uint8_t *)b[i].values + off * wd;
            if (!nul) {
                rc = tp_buf_append(&c->vals, v, m * wd);
                c->nn += rc == 0 ? m : 0;
                continue;
            }
            rc = tp_buf_reserve(&c->vals, m * wd);
            if (rc < 0) break;
            uint8_t *q = (uint8_t *)c->vals.p + c->vals.len;
            size_t k = 0;
            for (size_t r = 0; r < m; r++)
                if (!nul[off + r]) memcpy(q + wd * k++, v + r * wd, wd);
            c->vals.len += k * wd;
            c->nn += k;
        } else {
            const struct tp_pq_bytes *v = (const struct tp_pq_bytes *)b[i].values + off;
            size_t nn = 0, total = 0;
            for (size_t r = 0; r < m; r++)
                if (!nul || !nul[off + r]) nn++, total += v[r].n;
            rc = tp_buf_reserve(&c->vals, nn * 4);
            if (rc == 0) rc = tp_buf_reserve(&c->heap, total);
            if (rc < 0) break;
            uint32_t *lens = (uint32_t *)(void *)(c->vals.p + c->vals.len);
            char *h = c->heap.p + c->heap.len;
            size_t k = 0;
            for (size_t r = 0; r < m; r++) {
                if (nul && nul[off + r]) continue;
                lens[k++] = v[r].n;
                if (v[r].n) memcpy(h, v[r].p, v[r].n);
                h += v[r].n;
            }
            c->vals.len += nn * 4;
            c->heap.len += total;
            c->nn += nn;
        }
    }
    return rc;
}

/* Rejects a batch that would be refused part way: nulls in required columns, missing
 * arrays, values over the size limit. */
static int check_batch(const struct tp_pq_writer *w, const struct tp_pq_batch_col *b, size_t n)
{
    for (size_t i = 0; i < w->ncols; i++) {
        const struct wcol *c = &w->cols[i];
        if (!b[i].values) return -EINVAL;
        const uint8_t *nul = b[i].is_null;
        if (!c->optional && nul)
            for (size_t r = 0; r < n; r++)
                if (nul[r]) return -EINVAL;
        if (c->width == 0) {
            const struct tp_pq_bytes *v = b[i].values;
            for (size_t r = 0; r < n; r++) {
                if (c->optional && nul && nul[r]) continue;
                if (v[r].n > w->o.max_value_bytes) return -E2BIG;
                if (v[r].n && !v[r].p) return -EINVAL;
            }
        }
    }
    return 0;
}

int tp_pq_writer_append(struct tp_pq_writer *w, const struct tp_pq_batch_col *cols, size_t n)
{
    if (w->err) return w->err;
    if (!cols) return -EINVAL;
    int rc = check_batch(w, cols, n);
    if (rc < 0) return rc;
    size_t off = 0;
    while (off < n) {
        size_t m = TP_MIN(n - off, SLICE_ROWS);
        m = TP_MIN(m, w->o.row_group_rows - w->rg_rows);
        size_t bytes = slice_bytes(w, cols, off, m);
        if (w->rg_rows > 0 && w->rg_bytes + bytes > w->o.row_group_bytes) {
            rc = flush_rowgroup(w);
            if (rc < 0) goto fail;
            continue;
        }
        while (m > 1 && bytes > w->o.row_group_bytes) {
            m /= 2;
            bytes = slice_bytes(w, cols, off, m);
        }
        rc = append_slice(w, cols, off, m);
        if (rc < 0) goto fail;
        w->rg_rows += m;
        w->rg_bytes += bytes;
        w->rows += m;
        off += m;
        if (w->rg_rows >= w->o.row_group_rows || w->rg_bytes >= w->o.row_group_bytes) {
            rc = flush_rowgroup(w);
            if (rc < 0) goto fail;
        }
    }
    return 0;
fail:
    w->err = rc;
    return rc;
}

int tp_pq_writer_flush(struct tp_pq_writer *w)
{
    if (w->err) return w->err;
    int rc = flush_rowgroup(w);
    if (rc < 0) w->err = rc;
    return rc;
}

/* ---- footer ---- */

static void footer_schema(struct tp_pq_writer *w, struct tp_thrift_w *t)
{
    tp_thrift_w_list_begin(t, 2, TP_THRIFT_STRUCT, (uint32_t)(w->ncols + 1));
    tp_thrift_w_e_struct_begin(t);
    tp_thrift_w_string(t, 4, "schema");
    tp_thrift_w_i32(t, 5, (int32_t)w->ncols);
    tp_thrift_w_struct_end(t);
    for (size_t i = 0; i < w->ncols; i++) {
        const struct wcol *c = &w->cols[i];
        tp_thrift_w_e_struct_begin(t);
        tp_thrift_w_i32(t, 1, c->ptype);
        tp_thrift_w_i32(t, 3, c->optional ? PQ_OPTIONAL : PQ_REQUIRED);
        tp_thrift_w_string(t, 4, c->name);
        int unit = 0, conv = -1;
        if (c->kind == TP_PQ_TS_MILLIS) unit = PQ_UNIT_MILLIS, conv = PQ_CT_TIMESTAMP_MILLIS;
        if (c->kind == TP_PQ_TS_MICROS) unit = PQ_UNIT_MICROS, conv = PQ_CT_TIMESTAMP_MICROS;
        if (c->kind == TP_PQ_TS_NANOS) unit = PQ_UNIT_NANOS;
        if (c->kind == TP_PQ_STRING) conv = PQ_CT_UTF8;
        if (conv >= 0) tp_thrift_w_i32(t, 6, conv);
        if (c->kind == TP_PQ_STRING) {
            tp_thrift_w_struct_begin(t, 10);
            tp_thrift_w_struct_begin(t, PQ_LT_STRING);
            tp_thrift_w_struct_end(t);
            tp_thrift_w_struct_end(t);
        } else if (unit) {
            tp_thrift_w_struct_begin(t, 10);
            tp_thrift_w_struct_begin(t, PQ_LT_TIMESTAMP);
            tp_thrift_w_bool(t, 1, !c->local_time);
            tp_thrift_w_struct_begin(t, 2);
            tp_thrift_w_struct_begin(t, (int16_t)unit);
            tp_thrift_w_struct_end(t);
            tp_thrift_w_struct_end(t);
            tp_thrift_w_struct_end(t);
            tp_thrift_w_struct_end(t);
        }
        tp_thrift_w_struct_end(t);
    }
}

static void footer_chunk(struct tp_pq_writer *w, struct tp_thrift_w *t, const struct wcol *c,
                         const struct wchunk *k)
{
    tp_thrift_w_e_struct_begin(t);
    tp_thrift_w_i64(t, 2, 0); /* file_offset: no ColumnMetaData outside the footer */
    tp_thrift_w_struct_begin(t, 3);
    tp_thrift_w_i32(t, 1, c->ptype);
    uint32_t enc = k->encodings | (k->dict_pages ? 1u << PQ_ENC_PLAIN : 0);
    tp_thrift_w_list_begin(t, 2, TP_THRIFT_I32, (uint32_t)__builtin_popcount(enc));
    for (int e = 0; e < 32; e++)
        if (enc & (1u << e)) tp_thrift_w_e_i32(t, e);
    tp_thrift_w_list_begin(t, 3, TP_THRIFT_BINARY, 1);
    tp_thrift_w_e_binary(t, c->name, strlen(c->name));
    tp_thrift_w_i32(t, 4, (int32_t)w->o.codec);
    tp_thrift_w_i64(t, 5, k->num_values);
    tp_thrift_w_i64(t, 6, k->total_uncompressed);
    tp_thrift_w_i64(t, 7, k->total_compressed);
    tp_thrift_w_i64(t, 9, k->data_offset);
    if (k->dict_offset >= 0) tp_thrift_w_i64(t, 11, k->dict_offset);
    thrift_stats(t, 12, c, &k->st);
    /* encoding_stats: which pages use which encoding */
    uint32_t kinds = (k->dict_pages > 0) + (k->dict_data_pages > 0) + (k->plain_data_pages > 0);
    int data_type = w->o.page_v2 ? PQ_DATA_PAGE_V2 : PQ_DATA_PAGE;
    tp_thrift_w_list_begin(t, 13, TP_THRIFT_STRUCT, kinds);
    const struct {
        int32_t count;
        int type, enc;
    } es[] = {{k->dict_pages, PQ_DICTIONARY_PAGE, PQ_ENC_PLAIN},
              {k->dict_data_pages, data_type, PQ_ENC_RLE_DICTIONARY},
              {k->plain_data_pages, data_type, PQ_ENC_PLAIN}};
    for (size_t i = 0; i < TP_ARRAY_LEN(es); i++) {
        if (!es[i].count) continue;
        tp_thrift_w_e_struct_begin(t);
        tp_thrift_w_i32(t, 1, es[i].type);
        tp_thrift_w_i32(t, 2, es[i].enc);
        tp_thrift_w_i32(t, 3, es[i].count);
        tp_thrift_w_struct_end(t);
    }
    tp_thrift_w_struct_end(t);
    tp_thrift_w_struct_end(t);
}

static int write_footer(struct tp_pq_writer *w)
{
    struct tp_buf b;
    tp_buf_init(&b, (size_t)1 << 31);
    struct tp_thrift_w t;
    tp_thrift_w_init(&t, &b);
    tp_thrift_w_e_struct_begin(&t);
    tp_thrift_w_i32(&t, 1, 1);
    footer_schema(w, &t);
    tp_thrift_w_i64(&t, 3, (int64_t)w->rows);
    tp_thrift_w_list_begin(&t, 4, TP_THRIFT_STRUCT, (uint32_t)w->nrgs);
    for (size_t g = 0; g < w->nrgs && !t.err; g++) {
        const struct wrowgroup *rg = &w->rgs[g];
        tp_thrift_w_e_struct_begin(&t);
        tp_thrift_w_list_begin(&t, 1, TP_THRIFT_STRUCT, (uint32_t)w->ncols);
        for (size_t i = 0; i < w->ncols; i++) footer_chunk(w, &t, &w->cols[i], &rg->chunks[i]);
        tp_thrift_w_i64(&t, 2, rg->total_byte_size);
        tp_thrift_w_i64(&t, 3, rg->num_rows);
        tp_thrift_w_i64(&t, 5, rg->file_offset);
        tp_thrift_w_i64(&t, 6, rg->total_compressed);
        if (g <= INT16_MAX) tp_thrift_w_i16(&t, 7, (int16_t)g);
        tp_thrift_w_struct_end(&t);
    }
    if (w->nkv) {
        tp_thrift_w_list_begin(&t, 5, TP_THRIFT_STRUCT, (uint32_t)w->nkv);
        for (size_t i = 0; i < w->nkv; i++) {
            tp_thrift_w_e_struct_begin(&t);
            tp_thrift_w_string(&t, 1, w->kv[i].key);
            if (w->kv[i].value) tp_thrift_w_string(&t, 2, w->kv[i].value);
            tp_thrift_w_struct_end(&t);
        }
    }
    tp_thrift_w_string(&t, 6, w->created_by);
    tp_thrift_w_list_begin(&t, 7, TP_THRIFT_STRUCT, (uint32_t)w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        tp_thrift_w_e_struct_begin(&t);  /* ColumnOrder */
        tp_thrift_w_struct_begin(&t, 1); /* TYPE_ORDER */
        tp_thrift_w_struct_end(&t);
        tp_thrift_w_struct_end(&t);
    }
    tp_thrift_w_struct_end(&t);
    int rc = t.err;
    if (rc == 0 && b.len > UINT32_MAX) rc = -E2BIG;
    if (rc == 0) rc = emit(w, b.p, b.len);
    if (rc == 0) {
        uint8_t tail[8];
        for (int i = 0; i < 4; i++) tail[i] = (uint8_t)(b.len >> (8 * i));
        memcpy(tail + 4, TP_PQ_MAGIC, 4);
        rc = emit(w, tail, 8);
    }
    if (rc == 0) rc = out_flush(w);
    tp_buf_fini(&b);
    return rc;
}

int tp_pq_writer_close(struct tp_pq_writer *w)
{
    int rc = w->err;
    if (rc == 0) rc = flush_rowgroup(w);
    if (rc == 0) rc = write_footer(w);
    if (w->own_fd) {
        if (close(w->fd) < 0 && rc == 0) rc = -errno;
        w->fd = -1;
    }
    writer_free(w);
    return rc;
}

void tp_pq_writer_abort(struct tp_pq_writer *w)
{
    writer_free(w);
}
