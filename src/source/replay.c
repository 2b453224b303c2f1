/*
 * replay.c — the replay source: a CSV file or a raw venue capture into the input journal, in
 * position-framed batches, resumed exactly after a restart (see replay.h for the contract and
 * source.h "Positions" for the batch invariants).
 *
 * The source's events form one numbered stream: the file's events in reading order, then the
 * eof records. Every position record carries the number of stream events before it (`ord`
 * less a pending event), and the reader's offset and line after the last of them. A restart
 * skips what the journal holds: a CSV file is reopened at the offset of the last position
 * (its rows are independent; the position's events all lie before that offset) and the
 * events of a cut batch are skipped; a raw capture is read again from its start (its parser
 * state and receive clock depend on every earlier line). The eof records need the file's
 * instruments and largest event time: what the reopened CSV reader did not read is scanned
 * once when the file ends (the prefix scan).
 *
 * A batch is built in place in the ring: reserve up to TP_REPLAY_BATCH + 2 contiguous slots,
 * write BEGIN, the events, END, and commit them at once. Near the ring's wrap, where fewer
 * than 3 contiguous slots are left, they are committed as PAD markers. Pacing (@SPEED) cuts a
 * batch before the first event that is not due yet; that event waits in `pend` for the next.
 *
 * Threads: the struct is filled by the main thread (new, resume_*) before start; then run owns
 * everything but `id`, which the journal writer reads (position) and nobody changes.
 */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "source/capture.h"
#include "source/csvin.h"
#include "source/replay.h"

#define PACE_SLACK_NS (200 * TP_NS_PER_US) /* events due this soon go now */
#define MAX_SLEEP_NS  (100 * TP_NS_PER_MS)

struct replay_source {
    struct tp_source base;
    char path[PATH_MAX];     /* as given */
    char venue[32];          /* "" for CSV */
    double speed;            /* 0 = max */
    struct tp_source_pos id; /* name and identity (offset etc. unused); read by the writer */
    struct tp_csvin *csv;    /* one of the two readers, opened at new */
    struct tp_capture *cap;

    /* What the journal says (main thread, before start). */
    bool found;                /* a position of this file was seen */
    struct tp_source_pos last; /* the last one */
    bool last_in_tail;
    uint64_t after;  /* event records after it in the tail */
    uint64_t target; /* stream events already in the journal */

    /* (src) reading */
    uint64_t ord;         /* stream events read (handed on, skipped, or pending) */
    uint64_t off, line;   /* reader position after the last event handed on */
    uint64_t seek_off;    /* where the CSV reader was reopened (0: the start) */
    uint64_t file_events; /* the file's events read since then */
    bool file_done;       /* the reader reached the end of the file */
    uint32_t *eofs;       /* the eof records' instruments, in name order */
    uint32_t neof, eof_next;
    uint8_t *seen; /* TP_INSTR_MAX + 1 flags: instruments of the file's events */
    uint32_t *seen_ids;
    uint32_t nseen;
    int64_t max_ts;
    bool any_ts;
    struct tp_event pend; /* read, not yet due (pacing) */
    bool have_pend;
    int64_t pace_w0, pace_t0, pace_tmax;
};

enum { S_EVENT = 1, S_BAD = 2, S_END = 0 };

int tp_replay_head_hash(int fd, uint64_t size, uint64_t *ret)
{
    size_t n = (size_t)TP_MIN(size, (uint64_t)TP_REPLAY_HEAD_BYTES);
    unsigned char *b = malloc(n ? n : 1);
    if (!b) return -ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(b);
            return -e;
        }
        if (r == 0) break; /* shrank meanwhile: hash what is there */
        got += (size_t)r;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < got; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    free(b);
    *ret = h;
    return 0;
}

/* ---- the stream ---------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(tp_instr_name(*(const uint32_t *)a), tp_instr_name(*(const uint32_t *)b));
}

static void note(struct replay_source *rs, const struct tp_event *e)
{
    if (e->instr && e->instr <= TP_INSTR_MAX && !rs->seen[e->instr]) {
        rs->seen[e->instr] = 1;
        rs->seen_ids[rs->nseen++] = e->instr;
    }
    if (!rs->any_ts || e->ts > rs->max_ts) rs->max_ts = e->ts;
    rs->any_ts = true;
}

static uint64_t rd_offset(const struct replay_source *rs)
{
    return rs->csv ? tp_csvin_offset(rs->csv) : tp_capture_offset(rs->cap);
}

static uint64_t rd_lines(const struct replay_source *rs)
{
    return rs->csv ? tp_csvin_lines(rs->csv) : tp_capture_lines(rs->cap);
}

/* The file's events before the offset the CSV reader was reopened at: their instruments and
 * times are noted, and their number returned in *n. 0 or a negative errno. */
static int scan_prefix(struct replay_source *rs, uint64_t *n)
{
    struct tp_csvin *in;
    struct tp_csvin_opts o = {0};
    char err[768];
    int rc = tp_csvin_open(rs->path, &o, &in, err, sizeof err);
    if (rc < 0) {
        tp_error("source %s: %s: %s", rs->base.spec, rs->path, err);
        return rc;
    }
    struct tp_event ev;
    *n = 0;
    while (tp_csvin_offset(in) < rs->seek_off) {
        rc = tp_csvin_next(in, &ev);
        if (rc <= 0) break;
        if (rc == TP_CSVIN_EVENT) {
            note(rs, &ev);
            ++*n;
        }
    }
    tp_csvin_free(in);
    if (rc < 0) tp_error("source %s: cannot read %s: %s", rs->base.spec, rs->path, strerror(-rc));
    return rc < 0 ? rc : 0;
}

/* The file has ended: the eof records follow, one per instrument in name order, the first
 * ones skipped when the stream already passed them (a restart inside them). */
static int file_ended(struct replay_source *rs)
{
    uint64_t before = 0;
    if (rs->seek_off) {
        int rc = scan_prefix(rs, &before);
        if (rc < 0) return rc;
    }
    uint64_t events = before + rs->file_events;
    rs->file_done = true;
    qsort(rs->seen_ids, rs->nseen, sizeof *rs->seen_ids, by_name);
    rs->eofs = rs->seen_ids;
    rs->neof = rs->nseen;
    if (rs->ord < events || rs->ord - events > rs->neof) {
        tp_error("source %s: the journal's position (event %llu) does not fit the file's %llu "
                 "events and %u instruments: it changed in a way its identity did not show",
                 rs->base.spec, (unsigned long long)rs->ord, (unsigned long long)events, rs->neof);
        return -ESTALE;
    }
    rs->eof_next = (uint32_t)(rs->ord - events);
    return 0;
}

/* The stream's next event into *ev: S_EVENT (counted in ord), S_BAD (a bad row, counted by
 * the reader), S_END, or a negative errno (read error, or -ESTALE: a file that does not fit
 * its journaled position, already logged). */
static int stream_next(struct replay_source *rs, struct tp_event *ev)
{
    if (!rs->file_done) {
        int rc = rs->csv ? tp_csvin_next(rs->csv, ev) : tp_capture_next(rs->cap, ev);
        if (rc < 0) return rc;
        if (rc == TP_CSVIN_BAD) return S_BAD; /* == TP_CAPTURE_BAD */
        if (rc == TP_CSVIN_EVENT) {
            note(rs, ev);
            rs->file_events++;
            rs->ord++;
            return S_EVENT;
        }
        if ((rc = file_ended(rs)) < 0) return rc;
    }
    if (rs->eof_next == rs->neof) return S_END;
    tp_event_init(ev, TP_KIND_STATUS);
    ev->status = TP_ST_EOF;
    ev->instr = rs->eofs[rs->eof_next++];
    ev->ts = ev->ts_recv = rs->max_ts;
    rs->ord++;
    return S_EVENT;
}

static void mark(struct tp_event *slot, enum tp_mark m, const struct replay_source *rs, bool eof)
{
    memset(slot, 0, sizeof *slot);
    slot->kind = TP_KIND_MARK;
    slot->status = (uint8_t)m;
    slot->trade_id = rs->off;
    slot->gap_last = rs->line;
    slot->ts = (int64_t)(rs->ord - (rs->have_pend ? 1 : 0));
    slot->side = eof ? 1 : 0;
}

static void replay_position(struct tp_source *s, const struct tp_event *m,
                            struct tp_source_pos *ret)
{
    const struct replay_source *rs = (const struct replay_source *)s;
    *ret = rs->id;
    ret->offset = m->trade_id;
    ret->line = m->gap_last;
    ret->events = (uint64_t)m->ts;
    ret->eof = m->side != 0;
}

/* ---- pacing -------------------------------------------------------------------------------- */

/* How long until ev is due at rs->speed times real time (0: now). */
static int64_t due_in(struct replay_source *rs, const struct tp_event *ev)
{
    if (rs->speed <= 0 || ev->kind == TP_KIND_STATUS) return 0;
    int64_t now = tp_mono_ns();
    if (!rs->pace_w0) {
        rs->pace_w0 = now;
        rs->pace_t0 = rs->pace_tmax = ev->ts;
        return 0;
    }
    if (ev->ts <= rs->pace_tmax) return 0;
    double due = (double)rs->pace_w0 + (double)(ev->ts - rs->pace_t0) / rs->speed;
    double left = due - (double)now;
    if (left < (double)PACE_SLACK_NS) return 0;
    return left > 9e18 ? INT64_MAX : (int64_t)left;
}

static void paced(struct replay_source *rs, const struct tp_event *ev)
{
    if (rs->speed > 0 && ev->kind != TP_KIND_STATUS && ev->ts > rs->pace_tmax)
        rs->pace_tmax = ev->ts;
}

/* ---- the source's thread ------------------------------------------------------------------- */

/* Up to want contiguous slots, at least 3 (BEGIN, an event, END); 0 when stopping. */
static size_t reserve_batch(struct replay_source *rs, size_t want, struct tp_event **slots)
{
    struct tp_source *src = &rs->base;
    struct tp_ring *ring = src->ring;
    for (;;) {
        if (tp_source_stopping(src)) return 0;
        size_t k = tp_ring_reserve(ring, want, slots);
        if (k >= 3) return k;
        if (k && *slots + k == ring->slots + tp_ring_capacity(ring)) {
            /* The wrap: fill the slots before it with padding. */
            for (size_t i = 0; i < k; i++) mark(&(*slots)[i], TP_MARK_PAD, rs, false);
            tp_ring_commit(ring, k);
            continue;
        }
        if (k)
            tp_source_sleep(src, 50 * TP_NS_PER_US); /* a slot or two free: wait for more */
        else
            tp_source_wait_space(src, MAX_SLEEP_NS);
    }
}

static void log_bad_rows(const struct replay_source *rs)
{
    const char *spec = rs->base.spec;
    if (rs->csv) {
        const struct tp_csvin_stats *st = tp_csvin_stats(rs->csv);
        for (int k = 0; k < TP_CSV_R_COUNT; k++)
            if (st->bad[k])
                tp_warn("source %s: %llu bad row(s): %s (first at line %llu)", spec,
                        (unsigned long long)st->bad[k], tp_csv_reason_name((enum tp_csv_reason)k),
                        (unsigned long long)st->bad_lines[k][0]);
        return;
    }
    const struct tp_capture_stats *st = tp_capture_stats(rs->cap);
    for (int k = 0; k < TP_VR_COUNT; k++)
        if (st->bad[k])
            tp_warn("source %s: %llu bad message(s): %s (first at line %llu)", spec,
                    (unsigned long long)st->bad[k], tp_vreason_name((enum tp_vreason)k),
                    (unsigned long long)st->bad_lines[k][0]);
}

static int read_failed(struct replay_source *rs, int rc)
{
    tp_error("source %s: cannot read %s: %s", rs->base.spec, rs->path, strerror(-rc));
    return rc;
}

/* Positions the stream after the events the journal already has. 0, or a negative errno. */
static int skip_journaled(struct replay_source *rs)
{
    if (!rs->found) return 0;
    if (rs->csv && rs->last.offset) {
        /* Reopen the CSV reader where the last position stands. */
        struct tp_csvin_opts o = {.start_offset = rs->last.offset, .start_lines = rs->last.line};
        char err[768];
        struct tp_csvin *in;
        int rc = tp_csvin_open(rs->path, &o, &in, err, sizeof err);
        if (rc < 0) {
            tp_error("source %s: %s: %s", rs->base.spec, rs->path, err);
            return rc;
        }
        tp_csvin_free(rs->csv);
        rs->csv = in;
        rs->seek_off = rs->off = rs->last.offset;
        rs->line = rs->last.line;
        rs->ord = rs->last.events;
    }
    struct tp_event ev;
    while (rs->ord < rs->target) {
        if (tp_source_stopping(&rs->base)) return 0;
        int rc = stream_next(rs, &ev);
        if (rc == -ESTALE) return rc;
        if (rc < 0) return read_failed(rs, rc);
        if (rc == S_BAD) continue;
        if (rc == S_END) {
            tp_error("source %s: the journal holds %llu of its events, the file gives only "
                     "%llu: it changed in a way its identity did not show",
                     rs->base.spec, (unsigned long long)rs->target, (unsigned long long)rs->ord);
            return -ESTALE;
        }
        rs->off = rd_offset(rs);
        rs->line = rd_lines(rs);
    }
    return 0;
}

static int replay_run(struct tp_source *src)
{
    struct replay_source *rs = (struct replay_source *)src;
    if (rs->found && rs->last.eof) {
        atomic_store_explicit(&src->ended, true, memory_order_release);
        return 0;
    }
    if (tp_ring_capacity(src->ring) < 4) {
        tp_error("source %s: a ring of %zu events is too small for position batches (4 or "
                 "more)",
                 src->spec, tp_ring_capacity(src->ring));
        return -EINVAL;
    }
    int rc = skip_journaled(rs);
    if (rc < 0) return rc;
    if (rs->target)
        tp_info("source %s: continuing after event %llu (byte %llu, line %llu)", src->spec,
                (unsigned long long)rs->ord, (unsigned long long)rs->off,
                (unsigned long long)rs->line);
    size_t want =
        TP_MAX((size_t)3, TP_MIN((size_t)TP_REPLAY_BATCH + 2, tp_ring_capacity(src->ring) / 2));
    bool ended = false;
    while (!ended && !tp_source_stopping(src)) {
        if (rs->have_pend) {
            int64_t wait = due_in(rs, &rs->pend);
            if (wait > 0) {
                tp_source_sleep(src, TP_MIN(wait, MAX_SLEEP_NS));
                continue;
            }
        }
        struct tp_event *slots;
        size_t k = reserve_batch(rs, want, &slots);
        if (!k) break;
        mark(&slots[0], TP_MARK_BEGIN, rs, false);
        size_t n = 1;
        while (n + 1 < k) {
            struct tp_event *ev = &slots[n];
            if (rs->have_pend) {
                *ev = rs->pend;
                rs->have_pend = false;
            } else {
                rc = stream_next(rs, ev);
                if (rc == -ESTALE) return rc;
                if (rc < 0) return read_failed(rs, rc);
                if (rc == S_BAD) {
                    atomic_fetch_add_explicit(&rs->base.bad, 1, memory_order_relaxed);
                    continue;
                }
                if (rc == S_END) {
                    ended = true;
                    break;
                }
                if (due_in(rs, ev) > 0) {
                    rs->pend = *ev;
                    rs->have_pend = true;
                    break;
                }
            }
            paced(rs, ev);
            n++;
            rs->off = rd_offset(rs);
            rs->line = rd_lines(rs);
        }
        if (n == 1 && !ended) continue; /* nothing due yet: nothing committed */
        mark(&slots[n], TP_MARK_END, rs, ended);
        tp_ring_commit(src->ring, n + 1);
        atomic_fetch_add_explicit(&src->emitted, n - 1, memory_order_relaxed);
    }
    if (ended) {
        log_bad_rows(rs);
        tp_info("source %s: end of file after %llu event(s) (%u eof record(s))", src->spec,
                (unsigned long long)rs->ord, rs->neof);
        atomic_store_explicit(&src->ended, true, memory_order_release);
    }
    return 0;
}

/* ---- resume (main thread, before start) ---------------------------------------------------- */

static void replay_resume(struct tp_source *s, const struct tp_event *e)
{
    (void)e;
    ((struct replay_source *)s)->after++;
}

static void replay_resume_pos(struct tp_source *s, const struct tp_source_pos *pos, bool in_tail)
{
    struct replay_source *rs = (struct replay_source *)s;
    if (strcmp(pos->source, rs->id.source)) return;
    rs->found = true;
    rs->last = *pos;
    rs->last_in_tail = in_tail;
    rs->after = 0;
}

static void replay_resume_end(struct tp_source *s, bool whole)
{
    struct replay_source *rs = (struct replay_source *)s;
    (void)whole;
    if (!rs->found) {
        tp_info("source %s: no position in the journal: reading %s from its start", s->spec,
                rs->path);
        return;
    }
    const struct tp_source_pos *p = &rs->last, *f = &rs->id;
    char what[512] = "";
    size_t w = 0;
#define CHANGED(cond, ...)                                                                         \
    do {                                                                                           \
        if ((cond) && w < sizeof what)                                                             \
            w += (size_t)snprintf(what + w, sizeof what - w, __VA_ARGS__);                         \
    } while (0)
    CHANGED(p->dev != f->dev, "%sdevice %llu -> %llu", w ? ", " : "", (unsigned long long)p->dev,
            (unsigned long long)f->dev);
    CHANGED(p->ino != f->ino, "%sinode %llu -> %llu", w ? ", " : "", (unsigned long long)p->ino,
            (unsigned long long)f->ino);
    CHANGED(p->size != f->size, "%ssize %llu -> %llu bytes", w ? ", " : "",
            (unsigned long long)p->size, (unsigned long long)f->size);
    CHANGED(p->head_hash != f->head_hash, "%sthe first 64 KiB differ (hash %016llx -> %016llx)",
            w ? ", " : "", (unsigned long long)p->head_hash, (unsigned long long)f->head_hash);
#undef CHANGED
    if (w) {
        tp_error("source %s: %s changed since the journal recorded its position (%s); "
                 "refusing to replay it into the same journal (restore the file, or use a new "
                 "--data directory)",
                 s->spec, rs->path, what);
        atomic_store_explicit(&s->error, -ESTALE, memory_order_release);
        return;
    }
    if (p->begin && !rs->last_in_tail) {
        tp_error("source %s: its last batch starts before the journal tail that was read; "
                 "cannot tell how many of its events the journal holds",
                 s->spec);
        atomic_store_explicit(&s->error, -EBADMSG, memory_order_release);
        return;
    }
    rs->target = p->events + (p->begin ? rs->after : 0);
    if (p->eof && !p->begin)
        tp_info("source %s: the journal says %s was replayed to its end", s->spec, rs->path);
    else
        tp_info("source %s: the journal holds %llu of its events (position at byte %llu, "
                "line %llu%s)",
                s->spec, (unsigned long long)rs->target, (unsigned long long)p->offset,
                (unsigned long long)p->line, p->begin ? ", in a batch cut by a crash" : "");
}

/* ---- construction -------------------------------------------------------------------------- */

static void replay_free(struct tp_source *s)
{
    struct replay_source *rs = (struct replay_source *)s;
    tp_csvin_free(rs->csv);
    tp_capture_free(rs->cap);
    free(rs->seen);
    free(rs->seen_ids);
    tp_source_fini(s);
    free(rs);
}

static const struct tp_source_ops replay_ops = {
    .kind = "replay",
    .resume = replay_resume,
    .resume_end = replay_resume_end,
    .resume_pos = replay_resume_pos,
    .position = replay_position,
    .run = replay_run,
    .free = replay_free,
};

/* Splits "[VENUE:]FILE[@SPEED]" (after "replay:"). */
static int parse_spec(struct replay_source *rs, const char *rest, char *err, size_t errcap)
{
    const char *colon = strchr(rest, ':');
    if (colon && (size_t)(colon - rest) < sizeof rs->venue) {
        char v[sizeof rs->venue];
        memcpy(v, rest, (size_t)(colon - rest));
        v[colon - rest] = 0;
        if (tp_venue_find(v)) {
            memcpy(rs->venue, v, sizeof v);
            rest = colon + 1;
        }
    }
    size_t n = strlen(rest);
    const char *at = strrchr(rest, '@');
    if (at) {
        const char *sp = at + 1;
        char *end = NULL;
        double x = *sp ? strtod(sp, &end) : 0;
        if (!strcmp(sp, "max")) {
            n = (size_t)(at - rest);
        } else if (end && end != sp && !*end) {
            if (!(x > 0) || !isfinite(x)) {
                snprintf(err, errcap, "speed '%s' is not a positive multiple of real time or max",
                         sp);
                return -EINVAL;
            }
            rs->speed = x;
            n = (size_t)(at - rest);
        } /* else '@' is part of the file name */
    }
    if (n == 0) {
        snprintf(err, errcap, "names no file (replay:FILE[@SPEED])");
        return -EINVAL;
    }
    if (n >= sizeof rs->path) {
        snprintf(err, errcap, "file name too long");
        return -EINVAL;
    }
    memcpy(rs->path, rest, n);
    rs->path[n] = 0;
    return 0;
}

/* The position records' name for the file: "replay:" and its real path (its last part when
 * that is too long for the record). */
static void set_name(struct replay_source *rs, const char *real)
{
    size_t cap = sizeof rs->id.source, n = strlen(real);
    const char *pre = "replay:";
    if (strlen(pre) + n < cap)
        snprintf(rs->id.source, cap, "%s%s", pre, real);
    else
        snprintf(rs->id.source, cap, "%s...%s", pre, real + n - (cap - 1 - strlen(pre) - 3));
}

static int identify(struct replay_source *rs, char *err, size_t errcap)
{
    int fd = open(rs->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errcap, "cannot open %s: %s", rs->path, strerror(e));
        return e == ENOENT ? -EINVAL : -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(err, errcap, "cannot stat %s: %s", rs->path, strerror(-rc));
    } else if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        snprintf(err, errcap, "%s is not a regular file", rs->path);
    }
    if (rc == 0) {
        rs->id.dev = (uint64_t)st.st_dev;
        rs->id.ino = (uint64_t)st.st_ino;
        rs->id.size = (uint64_t)st.st_size;
        rc = tp_replay_head_hash(fd, rs->id.size, &rs->id.head_hash);
        if (rc < 0) snprintf(err, errcap, "cannot read %s: %s", rs->path, strerror(-rc));
    }
    close(fd);
    if (rc < 0) return rc;
    char *real = realpath(rs->path, NULL);
    if (!real) {
        rc = -errno;
        snprintf(err, errcap, "cannot resolve %s: %s", rs->path, strerror(-rc));
        return rc;
    }
    set_name(rs, real);
    free(real);
    return 0;
}

const char *tp_replay_source_name(const struct tp_source *s)
{
    if (!s || s->ops != &replay_ops) return NULL;
    return ((const struct replay_source *)s)->id.source;
}

int tp_replay_source_new(const char *spec, struct tp_source **ret, char *err, size_t errcap)
{
    if (strncmp(spec, "replay:", 7)) {
        snprintf(err, errcap, "is not a replay source");
        return -EINVAL;
    }
    struct replay_source *rs = calloc(1, sizeof *rs);
    if (!rs) return -ENOMEM;
    tp_source_init(&rs->base, &replay_ops, spec, false);
    int rc = parse_spec(rs, spec + 7, err, errcap);
    if (rc == 0) rc = identify(rs, err, errcap);
    if (rc < 0) goto out_free;
    rs->seen = calloc(TP_INSTR_MAX + 1, 1);
    rs->seen_ids = calloc(TP_INSTR_MAX + 1, sizeof *rs->seen_ids);
    if (!rs->seen || !rs->seen_ids) {
        rc = -ENOMEM;
        snprintf(err, errcap, "out of memory");
        goto out_free;
    }
    char rerr[768];
    if (*rs->venue) {
        struct tp_capture_opts o = {.venue = rs->venue};
        rc = tp_capture_open(rs->path, &o, &rs->cap, rerr, sizeof rerr);
    } else {
        struct tp_csvin_opts o = {0};
        rc = tp_csvin_open(rs->path, &o, &rs->csv, rerr, sizeof rerr);
    }
    if (rc < 0) {
        snprintf(err, errcap, "%s: %s", rs->path, rerr);
        goto out_free;
    }
    uint64_t size = rs->csv ? tp_csvin_size(rs->csv) : tp_capture_size(rs->cap);
    if (size != rs->id.size) {
        rc = -EAGAIN;
        snprintf(err, errcap, "%s changed while it was being opened", rs->path);
        goto out_free;
    }
    *ret = &rs->base;
    return 0;
out_free:
    replay_free(&rs->base);
    return rc;
}
