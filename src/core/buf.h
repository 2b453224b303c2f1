/*
 * buf.h — growable byte buffers with a hard cap, and a bounds-checked binary reader.
 *
 * A tp_buf never grows past its `max` (curl's dynbuf "toobig"): every append checks the cap
 * first and fails with -E2BIG, leaving the buffer as it was. Binary helpers write
 * little-endian fixed-width integers, LEB128 varints and length-prefixed strings; tp_rd reads
 * them back and sets `err` instead of reading past the end, so a decoder checks once at the
 * end instead of after every field.
 *
 * Not thread-safe; a buffer belongs to one thread at a time.
 */
#ifndef TP_BUF_H
#define TP_BUF_H

#include "core/tp.h"

struct tp_buf {
    char *p;    /* owned; NUL-terminated when len < cap */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    size_t max; /* never grow beyond this */
};

void tp_buf_init(struct tp_buf *b, size_t max);
void tp_buf_fini(struct tp_buf *b);
static inline void tp_buf_reset(struct tp_buf *b)
{
    b->len = 0;
}
/* Ensures room for n more bytes. 0, or -E2BIG past the cap, -ENOMEM. */
int tp_buf_reserve(struct tp_buf *b, size_t n);
int tp_buf_append(struct tp_buf *b, const void *p, size_t n);
int tp_buf_puts(struct tp_buf *b, const char *s);
int tp_buf_putc(struct tp_buf *b, char c);
int tp_buf_printf(struct tp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Little-endian binary writers; each returns 0 or a negative errno. */
int tp_buf_u8(struct tp_buf *b, uint8_t v);
int tp_buf_u16(struct tp_buf *b, uint16_t v);
int tp_buf_u32(struct tp_buf *b, uint32_t v);
int tp_buf_u64(struct tp_buf *b, uint64_t v);
int tp_buf_i64(struct tp_buf *b, int64_t v);
int tp_buf_f64(struct tp_buf *b, double v);
int tp_buf_varint(struct tp_buf *b, uint64_t v);
/* A varint length followed by the bytes. */
int tp_buf_str(struct tp_buf *b, const char *s, size_t n);

/* Bounds-checked reader over borrowed memory. */
struct tp_rd {
    const uint8_t *p;
    const uint8_t *end;
    bool err; /* set on the first read past the end or malformed varint; sticky */
};

static inline void tp_rd_init(struct tp_rd *r, const void *p, size_t n)
{
    r->p = p;
    r->end = r->p + n;
    r->err = false;
}
uint8_t tp_rd_u8(struct tp_rd *r);
uint16_t tp_rd_u16(struct tp_rd *r);
uint32_t tp_rd_u32(struct tp_rd *r);
uint64_t tp_rd_u64(struct tp_rd *r);
int64_t tp_rd_i64(struct tp_rd *r);
double tp_rd_f64(struct tp_rd *r);
uint64_t tp_rd_varint(struct tp_rd *r);
/* Reads a tp_buf_str string: points *s into the reader's memory (borrowed), sets *n.
 * Fails (err) when the length exceeds max or the remaining bytes. */
void tp_rd_str(struct tp_rd *r, const char **s, size_t *n, size_t max);
void tp_rd_bytes(struct tp_rd *r, void *dst, size_t n);
static inline size_t tp_rd_left(const struct tp_rd *r)
{
    return (size_t)(r->end - r->p);
}

#endif
