/*
 * parquet_int.h — what the Parquet writer (parquet.c) and reader (parquet_read.c) share and
 * nobody else needs: the format's enumerations, the decoded footer (parquet_meta.c), and the
 * encodings and codecs (parquet_enc.c). Field numbers and enum values are those of
 * parquet-format's parquet.thrift.
 *
 * The decoded metadata borrows every string and statistics value from the footer bytes it
 * was decoded from: those bytes must outlive it.
 */
#ifndef TP_PARQUET_INT_H
#define TP_PARQUET_INT_H

#include "core/buf.h"
#include "core/tp.h"
#include "sink/parquet.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet codec assumes a little-endian host (PLAIN values are copied as they are)"
#endif

#define TP_PQ_MAGIC "PAR1"

/* parquet.thrift enum Type */
enum {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

/* enum ConvertedType (the ones tickpipe writes or recognizes) */
enum {
    PQ_CT_UTF8 = 0,
    PQ_CT_TIMESTAMP_MILLIS = 9,
    PQ_CT_TIMESTAMP_MICROS = 10,
    PQ_CT_UINT_8 = 11,
    PQ_CT_UINT_64 = 14,
    PQ_CT_INT_8 = 15,
    PQ_CT_INT_16 = 16,
    PQ_CT_INT_32 = 17,
    PQ_CT_INT_64 = 18,
    PQ_CT_JSON = 19,
};

/* union LogicalType field ids */
enum {
    PQ_LT_STRING = 1,
    PQ_LT_TIMESTAMP = 8,
    PQ_LT_INTEGER = 10,
    PQ_LT_JSON = 12,
};

/* enum FieldRepetitionType */
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

/* enum Encoding */
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

/* enum PageType */
enum { PQ_DATA_PAGE = 0, PQ_INDEX_PAGE = 1, PQ_DICTIONARY_PAGE = 2, PQ_DATA_PAGE_V2 = 3 };

/* Time units (TimeUnit union field ids). */
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

/* ---- decoded metadata (parquet_meta.c) ---- */

struct tp_pq_bin {
    const uint8_t *p; /* borrowed from the footer; NULL when absent */
    size_t n;
};

struct tp_pq_mstats {
    struct tp_pq_bin max, min;             /* legacy (signed order) */
    struct tp_pq_bin max_value, min_value; /* per the column order */
    bool has_null_count;
    int64_t null_count;
    bool has_max_exact, max_exact, has_min_exact, min_exact;
};

struct tp_pq_schema_el {
    int type; /* physical type or -1 (a group) */
    int32_t type_length;
    int repetition; /* -1 when absent */
    struct tp_pq_bin name;
    int32_t num_children; /* -1 when absent */
    int converted;        /* -1 when absent */
    int logical;          /* LogicalType field id, 0 when absent */
    bool ts_utc;          /* TIMESTAMP: isAdjustedToUTC */
    int ts_unit;          /* TIMESTAMP: PQ_UNIT_* */
    int int_bits;         /* INTEGER: bitWidth */
    bool int_signed;      /* INTEGER: isSigned */
};

struct tp_pq_colmeta {
    int type;
    uint32_t encodings; /* bit per Encoding value < 32 */
    uint32_t path_len;  /* elements of path_in_schema */
    struct tp_pq_bin path0;
    int codec;
    int64_t num_values;
    int64_t total_uncompressed_size;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    bool has_dict_offset;
    int64_t dictionary_page_offset;
    bool has_stats;
    struct tp_pq_mstats stats;
};

struct tp_pq_chunk {
    bool has_file_path;
    bool has_meta;
    struct tp_pq_colmeta meta;
};

struct tp_pq_rowgroup {
    struct tp_pq_chunk *cols;
    uint32_t ncols;
    int64_t total_byte_size;
    int64_t num_rows;
};

struct tp_pq_mkv {
    struct tp_pq_bin key, value;
    bool has_value;
};

struct tp_pq_meta {
    int32_t version;
    struct tp_pq_schema_el *schema;
    uint32_t nschema;
    int64_t num_rows;
    struct tp_pq_rowgroup *rgs;
    uint32_t nrgs;
    struct tp_pq_mkv *kv;
    uint32_t nkv;
    bool has_created_by;
    struct tp_pq_bin created_by;
    uint8_t *type_order; /* per leaf: 1 when the ColumnOrder is TYPE_ORDER */
    uint32_t norders;
    bool has_orders;
    bool encrypted; /* encryption_algorithm present */
};

/* Decodes a FileMetaData from n bytes at p (which the result borrows). Checks the Thrift
 * encoding, required fields and the caps of lim (defaults filled in). On error returns a
 * negative errno and writes a message into msg; *m is left empty either way on failure. */
int tp_pq_meta_decode(const uint8_t *p, size_t n, const struct tp_pq_limits *lim,
                      struct tp_pq_meta *m, char *msg, size_t msglen);
void tp_pq_meta_free(struct tp_pq_meta *m);

struct tp_pq_page_header {
    int type;
    int32_t uncompressed_size, compressed_size;
    /* DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE */
    int32_t num_values;
    int encoding;
    /* DATA_PAGE */
    int def_encoding, rep_encoding;
    /* DATA_PAGE_V2 */
    int32_t num_nulls, num_rows, def_len, rep_len;
    bool is_compressed;
    /* DICTIONARY_PAGE */
    bool is_sorted;
    bool has_type_header; /* the header matching `type` was present */
};

/* Decodes a PageHeader at the start of n bytes; *used is its length. 0 or -EBADMSG. */
int tp_pq_page_header_decode(const uint8_t *p, size_t n, struct tp_pq_page_header *h, size_t *used);

/* Fills zero limits with the defaults. */
void tp_pq_limits_fill(struct tp_pq_limits *out, const struct tp_pq_limits *in);

/* ---- encodings and codecs (parquet_enc.c) ---- */

/* Bits needed for values up to max (0 for max 0). */
static inline int tp_pq_bit_width(uint64_t max)
{
    return max ? 64 - __builtin_clzll(max) : 0;
}

/* Appends the RLE/bit-packed hybrid encoding (no length prefix) of n values of bit width bw
 * (0..32) to out. */
int tp_pq_rle_encode(struct tp_buf *out, const uint32_t *v, size_t n, int bw);
/* The same for n definition levels of width 1 given as null flags: level 1 where is_null is
 * zero (NULL flags: all present). */
int tp_pq_rle_encode_nulls(struct tp_buf *out, const uint8_t *is_null, size_t n);
/* Decodes exactly n values of width bw from len bytes at p into out. Values past the end of
 * the last bit-packed group are ignored; missing values are -EBADMSG. */
int tp_pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n);

/* Compression. A codec context holds the zstd contexts, created on first use. */
struct tp_pq_codec_ctx {
    void *zc; /* ZSTD_CCtx */
    void *zd; /* ZSTD_DCtx */
};
void tp_pq_codec_fini(struct tp_pq_codec_ctx *c);
/* Largest compressed size of n bytes. */
size_t tp_pq_compress_bound(enum tp_pq_codec codec, size_t n);
/* Compresses n bytes at src into dst (room for tp_pq_compress_bound); *dn is the size. */
int tp_pq_compress(struct tp_pq_codec_ctx *c, enum tp_pq_codec codec, int level, const void *src,
                   size_t n, void *dst, size_t *dn);
/* Decompresses exactly dn bytes (the page's declared size) from n bytes at src; anything but
 * exactly dn bytes of output is -EBADMSG; a codec not built in is -ENOTSUP. */
int tp_pq_decompress(struct tp_pq_codec_ctx *c, int codec, const void *src, size_t n, void *dst,
                     size_t dn);

#endif
