/*
 * buf.c — capped growable buffers and the binary reader (see buf.h).
 */
#include <stdarg.h>

#include "core/buf.h"

void tp_buf_init(struct tp_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void tp_buf_fini(struct tp_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int tp_buf_reserve(struct tp_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n) return -E2BIG;
    size_t need = b->len + n + 1; /* room for a NUL terminator */
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1) cap = b->max + 1;
    char *p = realloc(b->p, cap);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int tp_buf_append(struct tp_buf *b, const void *p, size_t n)
{
    int rc = tp_buf_reserve(b, n);
    if (rc < 0) return rc;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int tp_buf_puts(struct tp_buf *b, const char *s)
{
    return tp_buf_append(b, s, strlen(s));
}

int tp_buf_putc(struct tp_buf *b, char c)
{
    return tp_buf_append(b, &c, 1);
}

int tp_buf_printf(struct tp_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    if ((size_t)n < sizeof small) return tp_buf_append(b, small, (size_t)n);
    int rc = tp_buf_reserve(b, (size_t)n);
    if (rc < 0) return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int tp_buf_u8(struct tp_buf *b, uint8_t v)
{
    return tp_buf_append(b, &v, 1);
}

int tp_buf_u16(struct tp_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return tp_buf_append(b, x, 2);
}

int tp_buf_u32(struct tp_buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    return tp_buf_append(b, x, 4);
}

int tp_buf_u64(struct tp_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    return tp_buf_append(b, x, 8);
}

int tp_buf_i64(struct tp_buf *b, int64_t v)
{
    return tp_buf_u64(b, (uint64_t)v);
}

int tp_buf_f64(struct tp_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return tp_buf_u64(b, u);
}

int tp_buf_varint(struct tp_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        x[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return tp_buf_append(b, x, n);
}

int tp_buf_str(struct tp_buf *b, const char *s, size_t n)
{
    int rc = tp_buf_varint(b, n);
    return rc < 0 ? rc : tp_buf_append(b, s, n);
}

static bool need(struct tp_rd *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = true;
        return false;
    }
    return true;
}

uint8_t tp_rd_u8(struct tp_rd *r)
{
    if (!need(r, 1)) return 0;
    return *r->p++;
}

uint16_t tp_rd_u16(struct tp_rd *r)
{
    if (!need(r, 2)) return 0;
    uint16_t v = (uint16_t)(r->p[0] | (r->p[1] << 8));
    r->p += 2;
    return v;
}

uint32_t tp_rd_u32(struct tp_rd *r)
{
    if (!need(r, 4)) return 0;
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | r->p[i];
    r->p += 4;
    return v;
}

uint64_t tp_rd_u64(struct tp_rd *r)
{
    if (!need(r, 8)) return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | r->p[i];
    r->p += 8;
    return v;
}

int64_t tp_rd_i64(struct tp_rd *r)
{
    return (int64_t)tp_rd_u64(r);
}

double tp_rd_f64(struct tp_rd *r)
{
    uint64_t u = tp_rd_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

uint64_t tp_rd_varint(struct tp_rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!need(r, 1)) return 0;
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
    r->err = true;
    return 0;
}

void tp_rd_str(struct tp_rd *r, const char **s, size_t *n, size_t max)
{
    uint64_t len = tp_rd_varint(r);
    if (r->err || len > max || !need(r, (size_t)len)) {
        r->err = true;
        *s = "";
        *n = 0;
        return;
    }
    *s = (const char *)r->p;
    *n = (size_t)len;
    r->p += len;
}

void tp_rd_bytes(struct tp_rd *r, void *dst, size_t n)
{
    if (!need(r, n)) {
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
}
