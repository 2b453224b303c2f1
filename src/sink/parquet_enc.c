/*
 * parquet_enc.c — the Parquet encodings the writer and the reader share: the RLE/bit-packed
 * hybrid (definition levels, dictionary indices) and the page codecs (ZSTD via libzstd,
 * SNAPPY via libsnappy's C interface, UNCOMPRESSED).
 *
 * RLE/bit-packed hybrid (parquet-format Encodings.md):
 *   run := varint(count << 1) value[ceil(bw/8) bytes LE]        -- an RLE run
 *        | varint(groups << 1 | 1) packed[groups * bw bytes]    -- 8*groups bit-packed values,
 *                                                                  LSB first
 * The encoder emits an RLE run for 8 or more equal values and bit-packs the rest in whole
 * groups of 8; only the final bit-packed run is padded (with zeros), so a decoder that knows
 * the value count never sees the padding. The decoder checks every header and value width
 * against the bytes it was given and tolerates a last bit-packed run cut short after the
 * values it needs (some writers truncate it).
 */
#include <snappy-c.h>
#include <zstd.h>

#include "sink/parquet_int.h"

/* ---- RLE / bit-packed hybrid ---- */

#define MAX_RUN      (size_t) INT32_MAX /* run lengths must fit a signed 32-bit integer */
#define MAX_GROUPS   ((size_t)1 << 20)  /* groups per bit-packed run, to bound a header */
#define MIN_RLE_RUN  8
#define LONG_RUN_END 16 /* a bit-packed run stops where a run this long begins */

static uint8_t *put_varint(uint8_t *q, uint64_t v)
{
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return q;
}

static int emit_rle(struct tp_buf *out, uint32_t value, size_t count, int bw)
{
    int rc = tp_buf_reserve(out, 10 + 4);
    if (rc < 0) return rc;
    uint8_t *q = (uint8_t *)out->p + out->len, *q0 = q;
    q = put_varint(q, (uint64_t)count << 1);
    for (int b = 0; b < (bw + 7) / 8; b++) *q++ = (uint8_t)(value >> (8 * b));
    out->len += (size_t)(q - q0);
    return 0;
}

/* Bit-packs v[0..n) as ceil(n/8) groups (zero padding) of width bw. */
static int emit_packed(struct tp_buf *out, const uint32_t *v, size_t n, int bw)
{
    size_t groups = (n + 7) / 8;
    size_t bytes = groups * (size_t)bw;
    int rc = tp_buf_reserve(out, 10 + bytes);
    if (rc < 0) return rc;
    uint8_t *q = (uint8_t *)out->p + out->len, *q0 = q;
    q = put_varint(q, (uint64_t)groups << 1 | 1);
    uint64_t acc = 0;
    int nb = 0;
    for (size_t i = 0; i < groups * 8; i++) {
        acc |= (uint64_t)(i < n ? v[i] : 0) << nb;
        nb += bw;
        while (nb >= 8) {
            *q++ = (uint8_t)acc;
            acc >>= 8;
            nb -= 8;
        }
    }
    /* groups * 8 * bw is a multiple of 8 bits: nothing is left in acc. */
    out->len += (size_t)(q - q0);
    return 0;
}

static size_t run_at(const uint32_t *v, size_t i, size_t n, size_t cap)
{
    size_t j = i + 1;
    size_t lim = n - i > cap ? i + cap : n;
    while (j < lim && v[j] == v[i]) j++;
    return j - i;
}

int tp_pq_rle_encode(struct tp_buf *out, const uint32_t *v, size_t n, int bw)
{
    if (bw < 0 || bw > 32) return -EINVAL;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        size_t r = run_at(v, i, n, MAX_RUN);
        if (r >= MIN_RLE_RUN) {
            rc = emit_rle(out, v[i], r, bw);
            i += r;
            continue;
        }
        size_t s = i;
        i += 8;
        while (i < n && (i - s) / 8 < MAX_GROUPS && run_at(v, i, n, LONG_RUN_END) < LONG_RUN_END)
            i += 8;
        if (i > n) i = n;
        rc = emit_packed(out, v + s, i - s, bw);
    }
    return rc;
}

int tp_pq_rle_encode_nulls(struct tp_buf *out, const uint8_t *is_null, size_t n)
{
    size_t nulls = 0;
    if (is_null)
        for (size_t i = 0; i < n; i++) nulls += is_null[i] != 0;
    if (nulls == 0) return n ? emit_rle(out, 1, n, 1) : 0;
    if (nulls == n) return emit_rle(out, 0, n, 1);
    /* Mixed: encode through the general path in one piece. (Slicing it would be wrong: a
     * bit-packed run that ends inside the stream is padded to a whole group, and the padding
     * would read back as extra levels.) n is a page's rows, bounded by the writer. */
    uint32_t small[4096], *tmp = n <= TP_ARRAY_LEN(small) ? small : malloc(n * sizeof *tmp);
    if (!tmp) return -ENOMEM;
    for (size_t k = 0; k < n; k++) tmp[k] = !is_null[k];
    int rc = tp_pq_rle_encode(out, tmp, n, 1);
    if (tmp != small) free(tmp);
    return rc;
}

static bool get_uleb32(const uint8_t **pp, const uint8_t *e, uint32_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (p >= e) return false;
        uint8_t c = *p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (v > UINT32_MAX) return false;
            *out = (uint32_t)v;
            *pp = p;
            return true;
        }
    }
    return false;
}

int tp_pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n)
{
    if (bw < 0 || bw > 32) return -EBADMSG;
    const uint8_t *e = p + len;
    uint32_t mask = bw == 32 ? UINT32_MAX : ((uint32_t)1 << bw) - 1;
    size_t got = 0;
    while (got < n) {
        uint32_t h;
        if (!get_uleb32(&p, e, &h)) return -EBADMSG;
        if (h & 1) {
            size_t cnt = (size_t)(h >> 1) * 8;
            size_t bytes = (size_t)(h >> 1) * (size_t)bw;
            size_t avail = (size_t)(e - p);
            if (bytes > avail) bytes = avail; /* a cut-short last run; checked below */
            size_t fit = bw ? bytes * 8 / (size_t)bw : cnt;
            size_t take = TP_MIN(TP_MIN(cnt, fit), n - got);
            if (bw == 0) {
                memset(out + got, 0, take * sizeof *out);
            } else {
                const uint8_t *q = p;
                uint64_t acc = 0;
                int nb = 0;
                for (size_t k = 0; k < take; k++) {
                    while (nb < bw) {
                        acc |= (uint64_t)*q++ << nb;
                        nb += 8;
                    }
                    out[got + k] = (uint32_t)acc & mask;
                    acc >>= bw;
                    nb -= bw;
                }
            }
            got += take;
            p += bytes;
            if (take < TP_MIN(cnt, n - (got - take))) return -EBADMSG; /* values missing */
        } else {
            size_t cnt = h >> 1;
            int w = (bw + 7) / 8;
            if ((size_t)(e - p) < (size_t)w) return -EBADMSG;
            uint32_t val = 0;
            for (int b = 0; b < w; b++) val |= (uint32_t)p[b] << (8 * b);
            p += w;
            if (val & ~mask) return -EBADMSG;
            size_t take = TP_MIN(cnt, n - got);
            for (size_t k = 0; k < take; k++) out[got + k] = val;
            got += take;
        }
    }
    return 0;
}

/* ---- codecs ---- */

void tp_pq_codec_fini(struct tp_pq_codec_ctx *c)
{
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    c->zc = c->zd = NULL;
}

size_t tp_pq_compress_bound(enum tp_pq_codec codec, size_t n)
{
    switch (codec) {
    case TP_PQ_ZSTD:
        return ZSTD_compressBound(n);
    case TP_PQ_SNAPPY:
        return snappy_max_compressed_length(n);
    default:
        return n;
    }
}

int tp_pq_compress(struct tp_pq_codec_ctx *c, enum tp_pq_codec codec, int level, const void *src,
                   size_t n, void *dst, size_t *dn)
{
    switch (codec) {
    case TP_PQ_UNCOMPRESSED:
        if (n) memcpy(dst, src, n);
        *dn = n;
        return 0;
    case TP_PQ_ZSTD: {
        if (!c->zc && !(c->zc = ZSTD_createCCtx())) return -ENOMEM;
        size_t r = ZSTD_compressCCtx(c->zc, dst, ZSTD_compressBound(n), src, n, level);
        if (ZSTD_isError(r)) return -EIO;
        *dn = r;
        return 0;
    }
    case TP_PQ_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if (snappy_compress(src, n, dst, &cap) != SNAPPY_OK) return -EIO;
        *dn = cap;
        return 0;
    }
    }
    return -ENOTSUP;
}

int tp_pq_decompress(struct tp_pq_codec_ctx *c, int codec, const void *src, size_t n, void *dst,
                     size_t dn)
{
    switch (codec) {
    case TP_PQ_UNCOMPRESSED:
        if (n != dn) return -EBADMSG;
        if (n) memcpy(dst, src, n);
        return 0;
    case TP_PQ_ZSTD: {
        if (!c->zd && !(c->zd = ZSTD_createDCtx())) return -ENOMEM;
        size_t r = ZSTD_decompressDCtx(c->zd, dst, dn, src, n);
        if (ZSTD_isError(r) || r != dn) return -EBADMSG;
        return 0;
    }
    case TP_PQ_SNAPPY: {
        size_t ulen;
        if (snappy_uncompressed_length(src, n, &ulen) != SNAPPY_OK || ulen != dn) return -EBADMSG;
        size_t cap = dn;
        if (snappy_uncompress(src, n, dst, &cap) != SNAPPY_OK || cap != dn) return -EBADMSG;
        return 0;
    }
    }
    return -ENOTSUP;
}
