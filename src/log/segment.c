/*
 * segment.c — segment names, headers, frames, the buffered reader and the recovery scan (see
 * segment.h for the format).
 *
 * The scan's one subtle rule: an invalid frame is a torn tail only when no valid frame follows
 * it anywhere in the file. After the first invalid frame the scan therefore tries every later
 * byte as the start of a frame (length plausible, fits in the file, CRC matches). That is
 * linear in the garbage for zeros and short lengths; for garbage whose lengths all look
 * plausible it could be quadratic, so the search has a budget and answers "corrupt" (the
 * conservative verdict: nothing gets cut, an operator looks) when it runs out.
 */
#include <dirent.h>

#include <sys/stat.h>

#include "log/segment.h"

static const uint8_t magic[8] = {'T', 'P', 'J', 'O', 'U', 'R', 'N', 'L'};

#define RESYNC_BUDGET ((uint64_t)1 << 30) /* bytes examined while looking for a valid frame */

void tp_seg_name(uint64_t base, char *out, size_t cap)
{
    snprintf(out, cap, "%020llu.seg", (unsigned long long)base);
}

bool tp_seg_parse_name(const char *name, uint64_t *base)
{
    if (strlen(name) != TP_SEG_NAMELEN || strcmp(name + 20, ".seg")) return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *base = v;
    return true;
}

int tp_seg_path(const char *dir, uint64_t base, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%020llu.seg", dir, (unsigned long long)base);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void tp_seg_header_encode(uint8_t out[TP_SEG_HDR], uint64_t base)
{
    memcpy(out, magic, 8);
    tp_le32_put(out + 8, TP_SEG_VERSION);
    tp_le32_put(out + 12, TP_SEG_HDR);
    le64_put(out + 16, base);
    tp_le32_put(out + 24, 0);
    tp_le32_put(out + 28, tp_crc32c(0, out, 28));
}

int tp_seg_header_decode(const uint8_t *p, uint64_t *base)
{
    if (memcmp(p, magic, 8) || tp_le32_get(p + 8) != TP_SEG_VERSION ||
        tp_le32_get(p + 12) != TP_SEG_HDR || tp_le32_get(p + 24) != 0 ||
        tp_le32_get(p + 28) != tp_crc32c(0, p, 28))
        return -EBADMSG;
    *base = le64_get(p + 16);
    return 0;
}

uint32_t tp_frame_crc(const uint8_t lenbytes[4], const void *payload, size_t n)
{
    return tp_crc32c(tp_crc32c(0, lenbytes, 4), payload, n);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int tp_seg_list(const char *dir, struct tp_seg_list *ret)
{
    DIR *d = opendir(dir);
    if (!d) return -errno;
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t base;
        if (!tp_seg_parse_name(de->d_name, &base)) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            if (nc > (SIZE_MAX / sizeof *v)) {
                rc = -ENOMEM;
                break;
            }
            uint64_t *nv = realloc(v, nc * sizeof *v);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = base;
    }
    closedir(d);
    if (rc < 0) {
        free(v);
        return rc;
    }
    if (n) qsort(v, n, sizeof *v, cmp_u64);
    ret->base = v;
    ret->n = n;
    return 0;
}

void tp_seg_list_free(struct tp_seg_list *l)
{
    free(l->base);
    l->base = NULL;
    l->n = 0;
}

void tp_segr_init(struct tp_segr *r, const struct tp_io *io, int fd)
{
    r->io = io;
    r->fd = fd;
    r->buf = NULL;
    r->cap = 0;
    r->off = 0;
    r->len = 0;
}

void tp_segr_fini(struct tp_segr *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->len = 0;
}

void tp_segr_reset(struct tp_segr *r, int fd)
{
    r->fd = fd;
    r->off = 0;
    r->len = 0;
}

ssize_t tp_segr_peek(struct tp_segr *r, uint64_t pos, size_t n, const uint8_t **p)
{
    if (pos >= r->off && pos - r->off <= r->len && r->len - (pos - r->off) >= n) {
        *p = r->buf + (pos - r->off);
        return (ssize_t)n;
    }
    /* Miss: re-read from pos (see segment.h). The window grows only as data arrives, so a
     * length field that claims more than the file holds costs no big allocation. */
    size_t want = TP_MAX(n, (size_t)TP_SEG_READAHEAD);
    if (pos > (uint64_t)INT64_MAX - want) return -EFBIG;
    r->off = pos;
    r->len = 0;
    while (r->len < n) {
        if (r->len == r->cap || r->cap < TP_SEG_READAHEAD) {
            size_t nc = TP_MIN(TP_MAX(r->cap * 2, (size_t)TP_SEG_READAHEAD), want);
            if (nc <= r->len) nc = want;
            uint8_t *nb = realloc(r->buf, nc);
            if (!nb) return -ENOMEM;
            r->buf = nb;
            r->cap = nc;
        }
        size_t room = TP_MIN(r->cap, want) - r->len;
        ssize_t k = r->io->pread(r->fd, r->buf + r->len, room, (off_t)(pos + r->len));
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (k == 0) break;
        r->len += (size_t)k;
    }
    *p = r->buf;
    return (ssize_t)TP_MIN(n, r->len);
}

int tp_seg_frame(struct tp_segr *r, uint64_t pos, const uint8_t **payload, uint32_t *len)
{
    const uint8_t *h;
    ssize_t k = tp_segr_peek(r, pos, TP_FRAME_HDR, &h);
    if (k < 0) return (int)k;
    if (k == 0) return TP_FRAME_END;
    if (k < TP_FRAME_HDR) return TP_FRAME_PARTIAL;
    uint32_t n = tp_le32_get(h);
    uint32_t crc = tp_le32_get(h + 4);
    if (n > TP_JOURNAL_MAX_RECORD) return TP_FRAME_BAD;
    const uint8_t *f;
    k = tp_segr_peek(r, pos, TP_FRAME_HDR + (size_t)n, &f);
    if (k < 0) return (int)k;
    if ((size_t)k < TP_FRAME_HDR + (size_t)n) return TP_FRAME_PARTIAL;
    if (tp_frame_crc(f, f + TP_FRAME_HDR, n) != crc) return TP_FRAME_BAD;
    *payload = f + TP_FRAME_HDR;
    *len = n;
    return TP_FRAME_OK;
}

/* After an invalid frame at bad: is there a valid frame at any later byte? A candidate whose
 * length runs past the end of the file cannot be one and costs nothing but its header: the
 * budget counts the bytes actually checked. (Counting claimed lengths instead made the
 * random "lengths" inside a large record torn by a crash exhaust the budget within a few
 * dozen bytes, and a torn tail was then reported as corruption.) */
static int resync(struct tp_segr *r, uint64_t bad, struct tp_seg_scan *s)
{
    uint64_t spent = 0, size = UINT64_MAX;
    struct stat sb;
    if (fstat(r->fd, &sb) == 0 && sb.st_size >= 0) size = (uint64_t)sb.st_size;
    for (uint64_t q = bad + 1;; q++) {
        const uint8_t *h;
        ssize_t k = tp_segr_peek(r, q, TP_FRAME_HDR, &h);
        if (k < 0) return (int)k;
        if (k < TP_FRAME_HDR) {
            s->st = TP_SCAN_TORN;
            s->file_end = q + (uint64_t)k;
            return 0;
        }
        uint32_t n = tp_le32_get(h);
        spent += TP_FRAME_HDR;
        if (n > TP_JOURNAL_MAX_RECORD) continue;
        if (size != UINT64_MAX && q + TP_FRAME_HDR + n > size) continue;
        spent += n;
        if (spent > RESYNC_BUDGET) {
            s->st = TP_SCAN_CORRUPT;
            s->valid_at = 0;
            return 0;
        }
        const uint8_t *payload;
        uint32_t len;
        int st = tp_seg_frame(r, q, &payload, &len);
        if (st < 0) return st;
        if (st == TP_FRAME_OK) {
            s->st = TP_SCAN_CORRUPT;
            s->valid_at = q;
            return 0;
        }
    }
}

int tp_seg_scan(struct tp_segr *r, uint64_t pos, uint64_t max_frames, struct tp_seg_scan *ret)
{
    struct tp_seg_scan s = {0};
    for (;;) {
        if (s.frames == max_frames) {
            s.st = TP_SCAN_LIMIT;
            s.end = pos;
            break;
        }
        const uint8_t *payload;
        uint32_t len;
        int st = tp_seg_frame(r, pos, &payload, &len);
        if (st < 0) return st;
        if (st == TP_FRAME_OK) {
            s.frames++;
            pos += TP_FRAME_HDR + (uint64_t)len;
            continue;
        }
        s.end = pos;
        if (st == TP_FRAME_END) {
            s.st = TP_SCAN_CLEAN;
            s.file_end = pos;
            break;
        }
        int rc = resync(r, pos, &s);
        if (rc < 0) return rc;
        break;
    }
    *ret = s;
    return 0;
}
