/*
 * wbuf.h — a large write buffer over a file descriptor, and integer-only number formatting,
 * for writers that produce millions of text rows a second (tickpipe gen).
 *
 * Design: one fixed buffer of TP_WBUF_SIZE bytes. A writer asks for room for one row
 * (tp_wbuf_room, at most TP_WBUF_ROW_MAX bytes), formats straight into it, and commits the
 * length; the buffer goes to the descriptor with write(2) only when full or flushed, so the
 * system call cost is paid once a mebibyte. No stdio, no printf on the hot path: numbers are
 * formatted with integer arithmetic (two digits per step from a table).
 *
 * Invariants: len ≤ TP_WBUF_SIZE; err, once set, is sticky and every later call is a no-op
 * that returns it, so a writer checks once at the end. The descriptor is borrowed (never
 * closed here). Not thread-safe.
 */
#ifndef TP_WBUF_H
#define TP_WBUF_H

#include "core/tp.h"

#define TP_WBUF_SIZE    (1u << 20)
#define TP_WBUF_ROW_MAX 4096u

struct tp_wbuf {
    int fd;           /* borrowed */
    int err;          /* 0, or the first write error (negative errno); sticky */
    size_t len;       /* bytes buffered */
    uint64_t flushed; /* bytes written to fd so far */
    char *p;          /* owned, TP_WBUF_SIZE bytes */
};

/* Allocates the buffer. 0 or -ENOMEM. */
int tp_wbuf_init(struct tp_wbuf *w, int fd);
/* Frees the buffer; does not flush (call tp_wbuf_flush first) and does not close fd. */
void tp_wbuf_fini(struct tp_wbuf *w);
/* Writes everything buffered (retrying short writes and EINTR). 0 or the sticky error. */
int tp_wbuf_flush(struct tp_wbuf *w);

/* Room for n ≤ TP_WBUF_ROW_MAX bytes at the end of the buffer (flushing first when needed),
 * or NULL after an error. Write into it, then tp_wbuf_commit the bytes used. */
static inline char *tp_wbuf_room(struct tp_wbuf *w, size_t n)
{
    if (TP_UNLIKELY(TP_WBUF_SIZE - w->len < n)) {
        if (tp_wbuf_flush(w) < 0) return NULL;
    }
    return w->err ? NULL : w->p + w->len;
}

static inline void tp_wbuf_commit(struct tp_wbuf *w, size_t n)
{
    w->len += n;
}

/* Appends s[0..n) (n ≤ TP_WBUF_ROW_MAX). 0 or the sticky error. */
int tp_wbuf_put(struct tp_wbuf *w, const char *s, size_t n);

extern const char tp_digits2[200]; /* "00" "01" ... "99" */

/* Writes v in decimal (no NUL) and returns the length (1..20). */
static inline size_t tp_fmt_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--i] = tp_digits2[d + 1];
        tmp[--i] = tp_digits2[d];
    }
    if (v >= 10) {
        tmp[--i] = tp_digits2[v * 2 + 1];
        tmp[--i] = tp_digits2[v * 2];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(out, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

static inline size_t tp_fmt_i64(char *out, int64_t v)
{
    if (v >= 0) return tp_fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + tp_fmt_u64(out + 1, -(uint64_t)v);
}

/* Writes the fixed-point number scaled / 10^decimals with exactly `decimals` (1..18) digits
 * after the point ("-0.05" for scaled -5, decimals 2); returns the length. */
static inline size_t tp_fmt_fixed(char *out, int64_t scaled, unsigned decimals)
{
    size_t o = 0;
    uint64_t mag = (uint64_t)scaled;
    if (scaled < 0) {
        out[o++] = '-';
        mag = -(uint64_t)scaled;
    }
    uint64_t pow = 1;
    for (unsigned i = 0; i < decimals; i++) pow *= 10;
    o += tp_fmt_u64(out + o, mag / pow);
    out[o++] = '.';
    uint64_t frac = mag % pow;
    for (unsigned i = decimals; i-- > 0;) {
        out[o + i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return o + decimals;
}

#endif
