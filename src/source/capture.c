/*
 * capture.c — the raw capture reader (see capture.h).
 *
 * Reading: the file is read in blocks into one buffer (1 MiB to start, grown up to
 * line_max + 1 only when a line needs it); lines are found with memchr. A line longer than
 * line_max is skipped up to its line break (discarding what is read meanwhile) and reported
 * once as bad (too_big). `base` is the file offset of buf[0]; `done_off` the offset just past
 * the last line fully delivered.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tptime.h"
#include "source/capture.h"

#define READ_BLOCK (1u << 20)

struct tp_capture {
    int fd;
    struct tp_capture_opts o;
    struct tp_venue_parser *p;
    char *buf;
    size_t cap, pos, end; /* buf[pos..end) unread */
    uint64_t base;        /* file offset of buf[0] */
    bool eof;
    uint64_t size;
    uint64_t line_no;              /* lines read so far */
    uint64_t done_off, done_lines; /* position after the last fully delivered line */
    uint64_t pend_off, pend_lines; /* position after the line being delivered */
    struct tp_event *ev;
    size_t ev_pos, ev_n;
    int64_t clock; /* the receive time of the last line */
    enum tp_vreason last_reason;
    uint64_t last_line;
    char last_text[TP_VENUE_TEXT_MAX + 1];
    struct tp_venue_result res;
    struct tp_capture_stats st;
};

int tp_capture_open(const char *path, const struct tp_capture_opts *opts, struct tp_capture **ret,
                    char *err, size_t errcap)
{
    const struct tp_venue *v = tp_venue_find(opts->venue);
    if (!v) {
        snprintf(err, errcap, "unknown venue '%s'", opts->venue ? opts->venue : "");
        return -EINVAL;
    }
    size_t line_max = opts->line_max ? opts->line_max : TP_CAPTURE_LINE_MAX_DEFAULT;
    size_t events_max = opts->events_max ? opts->events_max : TP_CAPTURE_EVENTS_DEFAULT;
    if (line_max > TP_CAPTURE_LINE_MAX_LIMIT || events_max > TP_CAPTURE_EVENTS_LIMIT) {
        snprintf(err, errcap, "line_max or events_max too large");
        return -EINVAL;
    }
    struct tp_capture *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->o = *opts;
    r->o.line_max = line_max;
    r->o.events_max = events_max;
    r->fd = -1;
    struct tp_venue_opts vo = {.market = opts->market};
    int rc = tp_venue_parser_new(v, &vo, &r->p);
    if (rc < 0) {
        snprintf(err, errcap, "venue %s has no market '%s'", v->name,
                 opts->market ? opts->market : "");
        goto out_free;
    }
    r->cap = TP_MIN((size_t)READ_BLOCK, line_max + 1);
    r->buf = malloc(r->cap);
    r->ev = malloc(events_max * sizeof *r->ev);
    if (!r->buf || !r->ev) {
        rc = -ENOMEM;
        snprintf(err, errcap, "out of memory");
        goto out_free;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = -errno;
        snprintf(err, errcap, "cannot open: %s", strerror(errno));
        goto out_free;
    }
    struct stat sb;
    if (fstat(r->fd, &sb) < 0) {
        rc = -errno;
        snprintf(err, errcap, "cannot stat: %s", strerror(errno));
        goto out_free;
    }
    r->size = (uint64_t)sb.st_size;
    if (opts->start_offset) {
        if (opts->start_offset > r->size || lseek(r->fd, (off_t)opts->start_offset, SEEK_SET) < 0) {
            rc = -EINVAL;
            snprintf(err, errcap, "resume offset %llu is past the end of the file",
                     (unsigned long long)opts->start_offset);
            goto out_free;
        }
    }
    r->base = r->done_off = r->pend_off = opts->start_offset;
    r->line_no = r->done_lines = r->pend_lines = opts->start_lines;
    r->clock = opts->base_ns;
    *ret = r;
    return 0;
out_free:
    tp_capture_free(r);
    return rc;
}

void tp_capture_free(struct tp_capture *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    tp_venue_parser_free(r->p);
    free(r->buf);
    free(r->ev);
    free(r);
}

/* Reads more into the buffer, moving the unread part to the front and growing up to
 * line_max + 1 when the unread part fills it. 1 read something, 0 end of file, <0 error. */
static int fill(struct tp_capture *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->base += r->pos;
        r->end -= r->pos;
        r->pos = 0;
    }
    if (r->end == r->cap) {
        size_t limit = r->o.line_max + 1, nc = r->cap * 2;
        if (nc > limit) nc = limit;
        if (nc <= r->cap) return 2; /* full: the caller treats it as a long line */
        char *nb = realloc(r->buf, nc);
        if (!nb) return -ENOMEM;
        r->buf = nb;
        r->cap = nc;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) {
            r->eof = true;
            return 0;
        }
        r->end += (size_t)n;
        return 1;
    }
}

enum { LINE_OK = 1, LINE_LONG = 2 };

/* The next line (without its break): LINE_OK with the text in *s and *n, LINE_LONG (skipped), 0 at
 * the end, or a negative errno. */
static int next_line(struct tp_capture *r, const char **s, size_t *n)
{
    size_t scan = r->pos;
    for (;;) {
        char *nl = memchr(r->buf + scan, '\n', r->end - scan);
        if (nl) {
            *s = r->buf + r->pos;
            *n = (size_t)(nl - (r->buf + r->pos));
            r->pos = (size_t)(nl - r->buf) + 1;
            r->line_no++;
            if (*n > r->o.line_max) return LINE_LONG;
            return LINE_OK;
        }
        if (r->eof) {
            if (r->pos == r->end) return 0;
            *s = r->buf + r->pos;
            *n = r->end - r->pos;
            r->pos = r->end;
            r->line_no++;
            if (*n > r->o.line_max) return LINE_LONG;
            return LINE_OK;
        }
        size_t scanned = r->end - r->pos;
        int f = fill(r);
        if (f < 0) return f;
        if (f == 2) {
            /* longer than line_max: drop what we have and skip to the next break */
            r->base += r->end;
            r->pos = r->end = 0;
            for (;;) {
                int g = fill(r);
                if (g < 0) return g;
                char *b = memchr(r->buf, '\n', r->end);
                if (b) {
                    r->pos = (size_t)(b - r->buf) + 1;
                    break;
                }
                r->base += r->end;
                r->end = 0;
                if (g == 0) break;
            }
            r->line_no++;
            return LINE_LONG;
        }
        scan = r->pos + scanned;
    }
}

static void bad(struct tp_capture *r, enum tp_vreason why, const char *text)
{
    r->st.bad_total++;
    r->st.bad[why]++;
    for (int k = 0; k < TP_CAPTURE_KEEP_LINES; k++)
        if (!r->st.bad_lines[why][k]) {
            r->st.bad_lines[why][k] = r->line_no;
            break;
        }
    r->last_reason = why;
    r->last_line = r->line_no;
    snprintf(r->last_text, sizeof r->last_text, "%s", text);
}

/* A cryptofeed prefix "<digits>[.<digits>]: ": its time and the payload after it. */
static bool cryptofeed_ts(const char *s, size_t n, int64_t *ts, size_t *skip)
{
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == 0) return false;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i + 1 >= n || s[i] != ':' || s[i + 1] != ' ') return false;
    if (tp_time_parse(s, i, TP_TS_S, ts) < 0) return false;
    *skip = i + 2;
    return true;
}

int tp_capture_next(struct tp_capture *r, struct tp_event *ev)
{
    for (;;) {
        if (r->ev_pos < r->ev_n) {
            *ev = r->ev[r->ev_pos++];
            if (r->ev_pos == r->ev_n) {
                r->done_off = r->pend_off;
                r->done_lines = r->pend_lines;
            }
            return TP_CAPTURE_EVENT;
        }
        const char *s;
        size_t n;
        uint64_t before_off = r->done_off, before_lines = r->done_lines;
        int lr = next_line(r, &s, &n);
        if (lr < 0) return lr;
        if (lr == 0) return TP_CAPTURE_EOF;
        r->st.lines++;
        /* Until this line's events are all delivered, the position stays before it. */
        uint64_t after = r->base + r->pos, after_lines = r->line_no;
        r->done_off = r->pend_off = after;
        r->done_lines = r->pend_lines = after_lines;
        if (lr == LINE_LONG) {
            r->st.too_long++;
            bad(r, TP_VR_TOO_BIG, "line longer than line_max");
            return TP_CAPTURE_BAD;
        }
        if (n && s[n - 1] == '\r') n--;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
        if (k == n) {
            r->st.blank++;
            continue;
        }
        if ((n >= 5 && !memcmp(s, "ws://", 5)) || (n >= 6 && !memcmp(s, "wss://", 6)) ||
            (n >= 4 && !memcmp(s, "http", 4))) {
            r->st.sent++; /* what the client sent, or a connection mark */
            continue;
        }
        int64_t line_ts = 0;
        size_t skip = 0;
        bool has_ts = cryptofeed_ts(s, n, &line_ts, &skip);
        int64_t recv = has_ts ? line_ts : r->clock;
        r->st.messages++;
        int got = tp_venue_parse(r->p, s + skip, n - skip, recv, r->ev, r->o.events_max, &r->res);
        r->st.by_type[r->res.type]++;
        if (got < 0) {
            bad(r, r->res.reason, r->res.text);
            return TP_CAPTURE_BAD;
        }
        if (r->res.seq_gap) r->st.seq_gaps++;
        if (!has_ts) {
            for (int i = 0; i < got; i++)
                if ((r->ev[i].flags & TP_EV_TS_VENUE) && r->ev[i].ts > recv) recv = r->ev[i].ts;
        }
        if (recv > r->clock) r->clock = recv;
        for (int i = 0; i < got; i++) {
            struct tp_event *e = &r->ev[i];
            e->ts_recv = recv;
            if (!(e->flags & TP_EV_TS_VENUE)) e->ts = recv;
            if (e->kind == TP_KIND_STATUS && e->status == TP_ST_GAP) r->st.gaps++;
        }
        r->st.events += (uint64_t)got;
        r->ev_pos = 0;
        r->ev_n = (size_t)got;
        if (got) {
            r->done_off = before_off;
            r->done_lines = before_lines;
        }
    }
}

enum tp_vreason tp_capture_last_reason(const struct tp_capture *r)
{
    return r->last_reason;
}

uint64_t tp_capture_last_line(const struct tp_capture *r)
{
    return r->last_line;
}

const char *tp_capture_last_text(const struct tp_capture *r)
{
    return r->last_text;
}

uint64_t tp_capture_offset(const struct tp_capture *r)
{
    return r->done_off;
}

uint64_t tp_capture_lines(const struct tp_capture *r)
{
    return r->done_lines;
}

uint64_t tp_capture_size(const struct tp_capture *r)
{
    return r->size;
}

const struct tp_capture_stats *tp_capture_stats(const struct tp_capture *r)
{
    return &r->st;
}

const struct tp_venue_parser *tp_capture_parser(const struct tp_capture *r)
{
    return r->p;
}
