/*
 * cursor.c — readers of the journal (see journal.h): open at any offset, read in offset
 * order, tail the writer.
 *
 * Design. A cursor holds one segment open and reads it through a tp_segr window (one pread
 * per 256 KiB, not per record). Every frame's CRC is checked, skipped ones included, so no
 * record is ever returned from a frame that does not verify. At the end of a segment the next
 * one is found by name: the segment named by the cursor's offset.
 *
 * Bounds. With `live` (the writer is in this process) the cursor reads below
 * tp_journal_written (or _durable): every such record is whole in the files, so anything
 * missing or partial there is corruption. Without `live` it reads what the files hold: a
 * partial frame at the end of the last segment is a record being written (or a torn tail a
 * writer will cut at its next open), so it answers "nothing yet" (0) and looks again on the
 * next call. When the next segment appears, the current one is complete (the writer created
 * the next one only after finishing it), so the cursor re-reads the current one once more
 * before switching to catch frames written just before the roll.
 *
 * One cursor belongs to one thread.
 */
#include <fcntl.h>
#include <unistd.h>

#include "log/segment.h"

#define PATH_CAP  4096
#define WHERE_CAP (PATH_CAP + 64)

struct tp_cursor {
    const struct tp_journal *live; /* borrowed; NULL for a journal in another process */
    bool durable_only;
    bool hdr_ok;     /* the current segment's header was checked */
    uint64_t target; /* first offset to return (records before it are skipped) */
    uint64_t off;    /* offset of the frame at pos */
    uint64_t base;   /* base offset of the current segment */
    uint64_t pos;    /* byte of the next frame in the current segment */
    int fd;
    const struct tp_io *io;
    struct tp_segr rd;
    char *where; /* owned scratch for tp_cursor_where */
    char dir[PATH_CAP];
};

static int open_seg(struct tp_cursor *c, uint64_t base, int *ret_fd)
{
    char path[PATH_CAP];
    int rc = tp_seg_path(c->dir, base, path, sizeof path);
    if (rc < 0) return rc;
    int fd = c->io->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    *ret_fd = fd;
    return 0;
}

static bool seg_exists(struct tp_cursor *c, uint64_t base)
{
    char path[PATH_CAP];
    return tp_seg_path(c->dir, base, path, sizeof path) == 0 && access(path, F_OK) == 0;
}

/* Checks the current segment's header. 1 ok, 0 not all there yet, -EBADMSG. */
static int check_header(struct tp_cursor *c)
{
    if (c->hdr_ok) return 1;
    const uint8_t *h;
    ssize_t k = tp_segr_peek(&c->rd, 0, TP_SEG_HDR, &h);
    if (k < 0) return (int)k;
    if (k < TP_SEG_HDR) return c->live ? -EBADMSG : 0;
    uint64_t b;
    if (tp_seg_header_decode(h, &b) < 0 || b != c->base) return -EBADMSG;
    c->hdr_ok = true;
    c->pos = TP_SEG_HDR;
    return 1;
}

static uint64_t limit(const struct tp_cursor *c)
{
    if (!c->live) return UINT64_MAX;
    return c->durable_only ? tp_journal_durable(c->live) : tp_journal_written(c->live);
}

/* At the end of the current segment: move to the next one if it exists. 1 switched, 0 not
 * (yet), <0 error. */
static int next_segment(struct tp_cursor *c)
{
    if (c->off == c->base) return 0; /* an empty segment: the next one would be named as this */
    int fd;
    int rc = open_seg(c, c->off, &fd);
    if (rc == -ENOENT) return 0;
    if (rc < 0) return rc;
    /* The next segment exists, so the current one is final: make sure nothing was added to it
     * between our last read and the roll. */
    const uint8_t *p;
    uint32_t n;
    int st = tp_seg_frame(&c->rd, c->pos, &p, &n);
    if (st != TP_FRAME_END) {
        c->io->close(fd);
        if (st < 0) return st;
        return st == TP_FRAME_OK ? 0 : -EBADMSG; /* 0: go read it */
    }
    c->io->close(c->fd);
    c->fd = fd;
    tp_segr_reset(&c->rd, fd);
    c->base = c->off;
    c->pos = TP_SEG_HDR;
    c->hdr_ok = false;
    return 1;
}

int tp_cursor_next(struct tp_cursor *c, const void **payload, size_t *n, uint64_t *offset)
{
    for (;;) {
        int rc = check_header(c);
        if (rc <= 0) return rc;
        if (c->off >= limit(c)) return 0;
        const uint8_t *p;
        uint32_t len;
        int st = tp_seg_frame(&c->rd, c->pos, &p, &len);
        if (st < 0) return st;
        if (st == TP_FRAME_OK) {
            uint64_t off = c->off++;
            c->pos += TP_FRAME_HDR + (uint64_t)len;
            if (off < c->target) continue;
            *payload = p;
            *n = len;
            *offset = off;
            return 1;
        }
        if (st == TP_FRAME_BAD) return -EBADMSG;
        if (st == TP_FRAME_PARTIAL) {
            /* In-process bounds say the record is whole; otherwise it is a record being
             * written, unless a later segment exists (then nothing will complete it). */
            if (c->live || seg_exists(c, c->off)) return -EBADMSG;
            return 0;
        }
        rc = next_segment(c);
        if (rc < 0) return rc;
        if (rc == 0) {
            /* Either the current segment grew (loop reads it) or there is no next segment. */
            const uint8_t *q;
            uint32_t qn;
            st = tp_seg_frame(&c->rd, c->pos, &q, &qn);
            if (st < 0) return st;
            if (st == TP_FRAME_END) return c->live ? -EBADMSG : 0;
        }
    }
}

int tp_cursor_open(const char *dir, uint64_t from, const struct tp_journal *live, bool durable_only,
                   struct tp_cursor **ret)
{
    if (!dir || strlen(dir) + 2 + TP_SEG_NAMELEN >= PATH_CAP) return -EINVAL;
    if (live && from > tp_journal_next_offset(live)) return -ENOENT;
    struct tp_seg_list l;
    int rc = tp_seg_list(dir, &l);
    if (rc < 0) return rc;
    size_t s = 0;
    while (s + 1 < l.n && l.base[s + 1] <= from) s++;
    if (l.n == 0 || l.base[s] > from) {
        tp_seg_list_free(&l);
        return -ENOENT;
    }
    bool last = s + 1 == l.n;
    struct tp_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        tp_seg_list_free(&l);
        return -ENOMEM;
    }
    c->where = malloc(WHERE_CAP);
    if (!c->where) {
        rc = -ENOMEM;
        goto out_free;
    }
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    c->live = live;
    c->durable_only = durable_only;
    c->io = live ? tp_journal_io(live) : &tp_io_posix;
    c->base = c->off = l.base[s];
    c->target = from;
    c->pos = TP_SEG_HDR;
    rc = open_seg(c, c->base, &c->fd);
    if (rc < 0) goto out_free;
    tp_segr_init(&c->rd, c->io, c->fd);
    /* Skip to `from` now, so that a missing offset is reported here. */
    while (c->off < from) {
        rc = check_header(c);
        if (rc < 0) goto out_close;
        if (rc == 0) break;
        const uint8_t *p;
        uint32_t len;
        int st = tp_seg_frame(&c->rd, c->pos, &p, &len);
        if (st < 0 || st == TP_FRAME_BAD) {
            rc = st < 0 ? st : -EBADMSG;
            goto out_close;
        }
        if (st != TP_FRAME_OK) break;
        c->off++;
        c->pos += TP_FRAME_HDR + (uint64_t)len;
    }
    if (c->off < from && !live) {
        rc =
            last ? -ENOENT : -EBADMSG; /* beyond the end, or a segment shorter than its name says */
        goto out_close;
    }
    tp_seg_list_free(&l);
    *ret = c;
    return 0;
out_close:
    tp_segr_fini(&c->rd);
    c->io->close(c->fd);
out_free:
    free(c->where);
    free(c);
    tp_seg_list_free(&l);
    return rc;
}

void tp_cursor_close(struct tp_cursor *c)
{
    if (!c) return;
    tp_segr_fini(&c->rd);
    c->io->close(c->fd);
    free(c->where);
    free(c);
}

uint64_t tp_cursor_offset(const struct tp_cursor *c)
{
    return TP_MAX(c->off, c->target);
}

const char *tp_cursor_where(const struct tp_cursor *c)
{
    char name[TP_SEG_NAMELEN + 8];
    tp_seg_name(c->base, name, sizeof name);
    snprintf(c->where, WHERE_CAP, "%s/%s:%llu", c->dir, name, (unsigned long long)c->pos);
    return c->where;
}
