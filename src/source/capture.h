/*
 * capture.h — a reader of raw venue captures: a file of wire messages, one per line, turned
 * into normalized events through that venue's parser (source/venue.h), exactly as live. For
 * `tickpipe replay --venue NAME FILE` and a replay source of raw captures.
 *
 * Line formats (recognized per line, so files may mix them):
 *   - a bare frame, as the `.jsonl` files of `../shared/fixtures/<venue>/` store them (JSON, or a
 * text frame such as OKX's `pong`);
 *   - cryptofeed's raw recordings: `<epoch seconds>: <frame>` (the receive time, then the
 *     frame), `<url> <- <epoch>: <frame>` (what the client sent: counted as `sent`, not
 *     parsed) and `<url> <-> <epoch>` (a connection opened: counted as `sent`);
 *   - empty lines (counted, skipped). A trailing CR is dropped.
 *
 * Receive times never come from the wall clock, so a replay is deterministic:
 *   - a cryptofeed line gives its own receive time;
 *   - a bare line is taken as received when its newest venue timestamp says (or at the
 *     previous line's receive time when that is later, or when the line has no venue time);
 *     before the file gives any time, opts.base_ns (e.g. the file's mtime; 0 = the epoch).
 * Events without a venue time (Binance spot bookTicker, Kraken v1 ticker) get ts = that
 * receive time, without TP_EV_TS_VENUE.
 *
 * Each message's events come out one per tp_capture_next call, in the order the parser gives
 * (time order within a message). A message the parser rejects is reported once
 * (TP_CAPTURE_BAD, with its reason and line) and counted per reason; control messages
 * (acks, pings, heartbeats, ignored channels) are counted by type and produce nothing. Nothing
 * stops the reader but an I/O error: the caller decides whether a bad line should (--strict).
 *
 * Position: tp_capture_offset() is the byte offset just past the last line whose events have
 * all been returned, tp_capture_lines() the lines up to it; opening with those two reads
 * exactly the rest of the file (the parser's state — gap detection, merges — starts afresh).
 *
 * Memory: one read buffer (grown up to line_max) and one event array, allocated at open;
 * nothing per line. A reader belongs to one thread.
 */
#ifndef TP_CAPTURE_H
#define TP_CAPTURE_H

#include "source/venue.h"

#define TP_CAPTURE_LINE_MAX_DEFAULT (16u << 20) /* longest line accepted, bytes */
#define TP_CAPTURE_LINE_MAX_LIMIT   (1u << 30)  /* cap on a configured line_max */
#define TP_CAPTURE_EVENTS_DEFAULT   8192        /* most events from one message */
#define TP_CAPTURE_EVENTS_LIMIT     (1u << 20)
#define TP_CAPTURE_KEEP_LINES       5 /* first line numbers kept per failure reason */

struct tp_capture_opts {
    const char *venue;     /* required: a name tp_venue_find knows */
    const char *market;    /* the parser's market (bybit: "spot", "linear", ...); NULL = default */
    int64_t base_ns;       /* receive time before the file gives any */
    size_t line_max;       /* 0 = TP_CAPTURE_LINE_MAX_DEFAULT */
    size_t events_max;     /* 0 = TP_CAPTURE_EVENTS_DEFAULT */
    uint64_t start_offset; /* 0, or a tp_capture_offset() value to resume after */
    uint64_t start_lines;  /* the tp_capture_lines() that went with it */
};

struct tp_capture_stats {
    uint64_t lines;                  /* physical lines read */
    uint64_t blank;                  /* empty lines */
    uint64_t sent;                   /* cryptofeed client-sent and connection lines */
    uint64_t messages;               /* frames handed to the parser */
    uint64_t events;                 /* events returned (gap events included) */
    uint64_t gaps;                   /* gap events among them */
    uint64_t seq_gaps;               /* connection sequence skips the parser reported */
    uint64_t by_type[TP_VMSG_COUNT]; /* frames by classification (TP_VMSG_NONE: failed) */
    uint64_t too_long;               /* lines longer than line_max, skipped (also bad) */
    uint64_t bad_total;              /* failed frames, too long lines included */
    uint64_t bad[TP_VR_COUNT];       /* failed frames per reason */
    uint64_t bad_lines[TP_VR_COUNT][TP_CAPTURE_KEEP_LINES]; /* first line numbers, 1-based */
};

enum {
    TP_CAPTURE_EOF = 0,   /* no more lines */
    TP_CAPTURE_EVENT = 1, /* *ev holds the next event */
    TP_CAPTURE_BAD = 2,   /* a line failed: tp_capture_last_reason/_line/_text say why */
};

struct tp_capture;

/* Opens path for venue opts->venue. opts is copied. 0 and *ret (owned), or -EINVAL (unknown
 * venue or market, bad options) or another negative errno (I/O), with a one-line message in
 * err (naming neither the command nor the file). */
int tp_capture_open(const char *path, const struct tp_capture_opts *opts, struct tp_capture **ret,
                    char *err, size_t errcap);
void tp_capture_free(struct tp_capture *r);

/* The next event: TP_CAPTURE_EVENT (and *ev), TP_CAPTURE_BAD, TP_CAPTURE_EOF, or a negative
 * errno on a read error (the reader is then done). *ev is written only for an event. */
int tp_capture_next(struct tp_capture *r, struct tp_event *ev);

/* About the last line that failed (TP_CAPTURE_BAD): reason (TP_VR_TOO_BIG for a line over
 * line_max), 1-based line number, and the parser's detail text (borrowed, until the next
 * call). */
enum tp_vreason tp_capture_last_reason(const struct tp_capture *r);
uint64_t tp_capture_last_line(const struct tp_capture *r);
const char *tp_capture_last_text(const struct tp_capture *r);

uint64_t tp_capture_offset(const struct tp_capture *r); /* bytes fully consumed */
uint64_t tp_capture_lines(const struct tp_capture *r);  /* lines fully consumed */
uint64_t tp_capture_size(const struct tp_capture *r);   /* file size at open */
const struct tp_capture_stats *tp_capture_stats(const struct tp_capture *r);
/* The parser (for its statistics and state). Borrowed. */
const struct tp_venue_parser *tp_capture_parser(const struct tp_capture *r);

#endif
