/*
 * segment.h — the on-disk pieces of the journal shared by the writer (journal.c), the readers
 * (cursor.c) and `tickpipe journal verify|dump`: segment names, the segment header, frames,
 * a buffered reader over one segment file, and the scan that tells a clean end from a torn
 * tail from corruption. Internal to the log module and its CLI; the format is in
 * docs/journal.md.
 *
 *   segment file  = header (TP_SEG_HDR bytes) frame*
 *   header        = "TPJOURNL" u32 version=1 u32 header_size=32 u64 base_offset u32 flags=0
 *                   u32 crc32c(bytes 0..27)                                (little-endian)
 *   frame         = u32 len, u32 crc32c(len bytes ‖ payload), payload[len]
 *
 * Functions here do not log and do not keep global state; any thread, one reader per thread.
 */
#ifndef TP_SEGMENT_H
#define TP_SEGMENT_H

#include "log/journal.h"

#define TP_SEG_HDR       32u
#define TP_FRAME_HDR     8u
#define TP_SEG_VERSION   1u
#define TP_SEG_NAMELEN   24 /* 20 digits + ".seg" */
#define TP_SEG_READAHEAD (256u << 10)

/* "%020llu.seg" into out (at least TP_SEG_NAMELEN + 1 bytes). */
void tp_seg_name(uint64_t base, char *out, size_t cap);
/* True when name is exactly a segment name; sets *base. */
bool tp_seg_parse_name(const char *name, uint64_t *base);
/* dir/name of the segment with this base. -ENAMETOOLONG when it does not fit. */
int tp_seg_path(const char *dir, uint64_t base, char *out, size_t cap);

void tp_seg_header_encode(uint8_t out[TP_SEG_HDR], uint64_t base);
/* 0 and *base, or -EBADMSG (bad magic, version, size or CRC). */
int tp_seg_header_decode(const uint8_t *p, uint64_t *base);

/* CRC of a frame: over the 4 length bytes, then the payload. */
uint32_t tp_frame_crc(const uint8_t lenbytes[4], const void *payload, size_t n);

/* Segment bases found in a directory, ascending. */
struct tp_seg_list {
    uint64_t *base; /* owned */
    size_t n;
};
/* Lists dir. 0 (possibly n == 0), or a negative errno (-ENOENT when dir is missing). */
int tp_seg_list(const char *dir, struct tp_seg_list *ret);
void tp_seg_list_free(struct tp_seg_list *l);

/* A read window over one file through a tp_io. peek() makes bytes [pos, pos+n) available: it
 * returns n, or fewer when the file ends first (the bytes that exist), or a negative errno.
 * *p points into the window, valid until the next peek. A miss re-reads from pos, so bytes
 * past the end seen earlier are never trusted later (tailing a file that grows). */
struct tp_segr {
    const struct tp_io *io;
    int fd;
    uint8_t *buf; /* owned */
    size_t cap;
    uint64_t off; /* file offset of buf[0] */
    size_t len;   /* valid bytes in buf */
};
void tp_segr_init(struct tp_segr *r, const struct tp_io *io, int fd);
void tp_segr_fini(struct tp_segr *r);
/* Points the reader at another file; the window is dropped. */
void tp_segr_reset(struct tp_segr *r, int fd);
ssize_t tp_segr_peek(struct tp_segr *r, uint64_t pos, size_t n, const uint8_t **p);

/* The frame at pos. */
enum tp_frame_st {
    TP_FRAME_OK = 1,      /* *payload, *len set */
    TP_FRAME_END = 0,     /* no byte at pos: a clean end */
    TP_FRAME_PARTIAL = 2, /* bytes at pos, fewer than the frame needs (length plausible) */
    TP_FRAME_BAD = 3,     /* length over TP_JOURNAL_MAX_RECORD, or CRC mismatch */
};
/* Returns an enum tp_frame_st, or a negative errno from the reader. */
int tp_seg_frame(struct tp_segr *r, uint64_t pos, const uint8_t **payload, uint32_t *len);

/* What a scan of a segment's frames found. */
enum tp_scan_st {
    TP_SCAN_CLEAN = 0,   /* valid frames up to the end of the file */
    TP_SCAN_LIMIT = 1,   /* stopped after max_frames valid frames */
    TP_SCAN_TORN = 2,    /* an invalid or partial frame at `end` and nothing valid after it */
    TP_SCAN_CORRUPT = 3, /* an invalid frame at `end` followed by a valid one at `valid_at` */
};
struct tp_seg_scan {
    enum tp_scan_st st;
    uint64_t frames;   /* valid frames from the start position */
    uint64_t end;      /* byte after the last valid frame */
    uint64_t file_end; /* size of the file (TORN and CLEAN) */
    uint64_t valid_at; /* CORRUPT: where a valid frame was found after `end` */
};
/* Scans frames from pos. A resync after an invalid frame looks for any valid frame at every
 * later byte; when that search exceeds a work budget (pathological garbage), the result is
 * CORRUPT with valid_at = 0: the conservative answer, nothing gets cut. 0 or a negative errno. */
int tp_seg_scan(struct tp_segr *r, uint64_t pos, uint64_t max_frames, struct tp_seg_scan *ret);

static inline void tp_le32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t tp_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The tp_io a journal writes through (for in-process cursors). */
const struct tp_io *tp_journal_io(const struct tp_journal *j);

#endif
