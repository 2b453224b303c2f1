/*
 * qwatch.h — publishes `tickpipe validate`'s report (DATA/quality.json) to the live store, so
 * /api/quality shows it without the HTTP loop ever reading the disk (DESIGN.md §7).
 *
 * A thread of its own looks at the file every interval (stat: inode, size, mtime); when it
 * changed, it reads it (at most TP_LIVE_QUALITY_MAX bytes), checks that it is one JSON object,
 * and publishes it with tp_live_set_quality. validate replaces the file by a rename, so a read
 * sees one whole report. A missing or malformed file leaves the last good report in place.
 */
#ifndef TP_QWATCH_H
#define TP_QWATCH_H

#include "serve/live.h"

struct tp_qwatch;

/* Starts watching DATA/quality.json (data borrowed only for the call). l must outlive the
 * watcher. 0 and *ret, or a negative errno. */
int tp_qwatch_start(struct tp_live *l, const char *data, int64_t interval_ns,
                    struct tp_qwatch **ret);
/* Stops and frees the watcher. NULL is a no-op. */
void tp_qwatch_stop(struct tp_qwatch *q);

/* One look at path: publishes it when it changed since *last (updated). 1 published, 0
 * unchanged or absent, negative errno when unreadable or not a JSON object. Any thread. */
struct tp_qwatch_seen {
    uint64_t ino, size;
    int64_t mtime_ns;
};
int tp_qwatch_poll(struct tp_live *l, const char *path, struct tp_qwatch_seen *last);

#endif
