/*
 * replay.h — the replay source of `tickpipe run` (DESIGN.md §4; docs/ingest.md "Replay
 * sources"): a file read into the input journal, exactly once across restarts.
 *
 *   --source replay:FILE[@SPEED]          CSV, as `tickpipe replay FILE` reads it
 *   --source replay:VENUE:FILE[@SPEED]    a raw capture through VENUE's parser, as
 *                                         `tickpipe replay --venue VENUE FILE` reads it
 *
 * SPEED is a multiple of real time (events are released when their event time is due, paced
 * by the largest event time so far) or `max` (the default: as fast as the journal takes them).
 * The source is replayable: a full ring makes it wait, never drop.
 *
 * Positions. The source writes its events in batches framed by position markers (source.h,
 * "Positions"), so the journal holds, in the same commit as the events, TP_REC_SOURCE_POS
 * records naming the file (`replay:` and its real path), its identity when opened (device,
 * inode, size, a 64-bit FNV-1a hash of its first 64 KiB), the byte offset and line reached and
 * the number of events produced so far. At start the source finds its last position in the
 * journal (plus the events after it, when that is a BEGIN whose END the crash cut off): that
 * many events are already in the log. A file whose identity differs is refused (the pipeline
 * does not start; the log names the file and what changed). Otherwise the source reads the file
 * again from its start, skipping the events the journal has, so that the instruments and the
 * largest event time of the whole file are known at the end and a capture's parser has the
 * state it had (a restart costs a re-read of what was already done, at the reader's speed).
 *
 * End of file: one TP_ST_EOF status per instrument the file contained, in instrument-name
 * order, stamped (ts and ts_recv) with the largest event time read — exactly what `tickpipe
 * replay FILE` feeds its engine after the last input — then an END position with eof set, and
 * the source reports `ended`. A source whose last position has eof set ends at once.
 */
#ifndef TP_REPLAY_H
#define TP_REPLAY_H

#include "source/source.h"

#define TP_REPLAY_HEAD_BYTES (64u << 10) /* bytes covered by the head hash */
#define TP_REPLAY_BATCH      4096        /* most events per batch */

/* Parses "replay:FILE[@SPEED]" or "replay:VENUE:FILE[@SPEED]" (VENUE a name tp_venue_find
 * knows; a FILE whose name starts like "binance:" is written "./binance:..."), opens the
 * file, checks its header (CSV) and records its identity. Main thread. 0 and *ret (owned;
 * tp_source_free), -EINVAL (a bad spec or header: a usage error) or another negative errno (the
 * file cannot be read), with a one-line reason in err. */
int tp_replay_source_new(const char *spec, struct tp_source **ret, char *err, size_t errcap);

#define TP_REPLAY_VENUE_MAX 32 /* longest venue name in a spec, with NUL */

/* Splits the part of a spec after "replay:" — "[VENUE:]FILE[@SPEED]" — without opening
 * anything (added, for the fuzz target): venue ("" for CSV), path and speed (0 = max). 0, or
 * -EINVAL with a one-line reason in err. */
int tp_replay_spec_parse(const char *rest, char venue[TP_REPLAY_VENUE_MAX], char *path,
                         size_t pathcap, double *speed, char *err, size_t errcap);

/* The name a replay source's position records carry ("replay:" and the file's real path),
 * borrowed for the source's life; NULL when s is not a replay source (added). */
const char *tp_replay_source_name(const struct tp_source *s);

/* The 64-bit FNV-1a hash of the first min(size, TP_REPLAY_HEAD_BYTES) bytes of fd (read with
 * pread). 0 and *ret, or a negative errno. */
int tp_replay_head_hash(int fd, uint64_t size, uint64_t *ret);

#endif
