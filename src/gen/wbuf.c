/*
 * wbuf.c — the big write buffer (see wbuf.h).
 */
#include <unistd.h>

#include "gen/wbuf.h"

const char tp_digits2[200] = "0001020304050607080910111213141516171819"
                             "2021222324252627282930313233343536373839"
                             "4041424344454647484950515253545556575859"
                             "6061626364656667686970717273747576777879"
                             "8081828384858687888990919293949596979899";

int tp_wbuf_init(struct tp_wbuf *w, int fd)
{
    w->fd = fd;
    w->err = 0;
    w->len = 0;
    w->flushed = 0;
    w->p = malloc(TP_WBUF_SIZE);
    return w->p ? 0 : -ENOMEM;
}

void tp_wbuf_fini(struct tp_wbuf *w)
{
    free(w->p);
    w->p = NULL;
    w->len = 0;
}

int tp_wbuf_flush(struct tp_wbuf *w)
{
    if (w->err) return w->err;
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->p + off, w->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            w->err = -errno;
            return w->err;
        }
        if (n == 0) {
            w->err = -EIO;
            return w->err;
        }
        off += (size_t)n;
    }
    w->flushed += w->len;
    w->len = 0;
    return 0;
}

int tp_wbuf_put(struct tp_wbuf *w, const char *s, size_t n)
{
    char *p = tp_wbuf_room(w, n);
    if (!p) return w->err;
    memcpy(p, s, n);
    tp_wbuf_commit(w, n);
    return 0;
}
