/*
 * pg_copy.c — the binary COPY encoder (see pg_int.h): PostgreSQL's "binary format" of COPY,
 * written straight into a capped tp_buf.
 *
 * Why binary rather than text: doubles go in as their exact bits (no formatting, no parsing,
 * no rounding question), times as integers, and no field needs escaping; it is also the
 * cheapest format for the server to read. Every append reserves its whole size first, so a
 * failed append (-E2BIG) leaves the buffer as it was.
 */
#include <math.h>

#include "sink/pg_int.h"

/* 2000-01-01T00:00:00Z, PostgreSQL's epoch, in microseconds since 1970. */
#define PG_EPOCH_US INT64_C(946684800000000)

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint8_t *room(struct tp_buf *b, size_t n)
{
    if (tp_buf_reserve(b, n) < 0) return NULL;
    uint8_t *p = (uint8_t *)b->p + b->len;
    b->len += n;
    return p;
}

int tp_pgc_header(struct tp_buf *b)
{
    /* signature, flags (no OIDs), header extension length */
    static const uint8_t hdr[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    return tp_buf_append(b, hdr, sizeof hdr);
}

int tp_pgc_trailer(struct tp_buf *b)
{
    uint8_t *p = room(b, 2);
    if (!p) return -E2BIG;
    be16(p, 0xffff);
    return 0;
}

int tp_pgc_row(struct tp_buf *b, int nfields)
{
    uint8_t *p = room(b, 2);
    if (!p) return -E2BIG;
    be16(p, (uint16_t)nfields);
    return 0;
}

int tp_pgc_null(struct tp_buf *b)
{
    uint8_t *p = room(b, 4);
    if (!p) return -E2BIG;
    be32(p, 0xffffffffu);
    return 0;
}

static int put8(struct tp_buf *b, uint64_t v)
{
    uint8_t *p = room(b, 12);
    if (!p) return -E2BIG;
    be32(p, 8);
    be64(p + 4, v);
    return 0;
}

int tp_pgc_f8(struct tp_buf *b, double v)
{
    if (isnan(v)) return tp_pgc_null(b);
    uint64_t u;
    memcpy(&u, &v, 8);
    return put8(b, u);
}

int tp_pgc_i8(struct tp_buf *b, int64_t v)
{
    return put8(b, (uint64_t)v);
}

int tp_pgc_bool(struct tp_buf *b, bool v)
{
    uint8_t *p = room(b, 5);
    if (!p) return -E2BIG;
    be32(p, 1);
    p[4] = v ? 1 : 0;
    return 0;
}

int64_t tp_pgc_pgtime(int64_t ns)
{
    return tp_floor_div(ns, 1000) - PG_EPOCH_US;
}

int tp_pgc_ts(struct tp_buf *b, int64_t ns)
{
    return put8(b, (uint64_t)tp_pgc_pgtime(ns));
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when s[0] does not start one (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c >= 0x01 && c < 0x80) return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (len > n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

int tp_pgc_text(struct tp_buf *b, const char *s, size_t n)
{
    if (n > INT32_MAX) return -E2BIG;
    uint8_t *p = room(b, 4 + n);
    if (!p) return -E2BIG;
    be32(p, (uint32_t)n);
    const uint8_t *in = (const uint8_t *)s;
    uint8_t *out = p + 4;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(in + i, n - i);
        if (k == 0) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, in + i, k);
        i += k;
    }
    return 0;
}

int tp_pgc_text_or_null(struct tp_buf *b, const char *s, size_t n)
{
    return n ? tp_pgc_text(b, s, n) : tp_pgc_null(b);
}
