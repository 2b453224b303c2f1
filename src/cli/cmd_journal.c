/*
 * cmd_journal.c — `tickpipe journal verify|dump DIR`: look inside an embedded journal
 * (docs/journal.md) without opening it as a writer, so both are safe on a journal in use.
 *
 *   verify  reads every segment: header, every frame's CRC, and that each segment's name is
 *           the offset after the previous one's last record. Exit 0 when all is well (a torn
 *           tail at the end of the last segment is reported but is not a problem: the next
 *           open cuts it), 1 when something is wrong, 2 on usage errors.
 *   dump    one line per record through a cursor: offset, type, and a readable rendering of
 *           its fields (times in RFC 3339, numbers in shortest round-trip form).
 *
 * Main thread.
 */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/instrument.h"
#include "core/num.h"
#include "core/tptime.h"
#include "log/record.h"
#include "log/segment.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tickpipe journal verify DIR\n"
               "       tickpipe journal dump DIR [--from N] [--limit N]\n\n"
               "verify  check every segment of the journal in DIR: headers, the CRC of every\n"
               "        record, and that offsets continue from one segment to the next.\n"
               "        Exit 0 ok, 1 a problem was found, 2 usage error.\n"
               "dump    print one line per record: offset, type and fields, from offset N\n"
               "        (default: the oldest kept) for at most N records (default: all).\n\n"
               "DIR is a journal directory, e.g. data/journal/input. The format is described in\n"
               "docs/journal.md.\n");
}

static bool parse_u64(const char *s, uint64_t *ret)
{
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

/* ---- verify ---- */

struct verify {
    const char *dir;
    uint64_t records, bytes, problems;
};

__attribute__((format(printf, 3, 4))) static void problem(struct verify *v, const char *file,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("PROBLEM %s: ", file);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    v->problems++;
}

/* Checks one segment. *frames gets its record count; returns false when its count cannot be
 * trusted (so continuity after it is not checked). */
static bool verify_segment(struct verify *v, uint64_t base, bool last, uint64_t *frames)
{
    char path[4200];
    *frames = 0;
    if (tp_seg_path(v->dir, base, path, sizeof path) < 0) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("PROBLEM %s: cannot open: %s\n", path, strerror(errno));
        v->problems++;
        return false;
    }
    struct tp_segr r;
    tp_segr_init(&r, &tp_io_posix, fd);
    bool ok = false;
    const uint8_t *h;
    uint64_t hbase;
    struct tp_seg_scan s;
    ssize_t k = tp_segr_peek(&r, 0, TP_SEG_HDR, &h);
    if (k < 0) {
        printf("PROBLEM %s: read: %s\n", path, strerror((int)-k));
        v->problems++;
        goto out;
    }
    if (k < TP_SEG_HDR && last) {
        printf("note %s: incomplete header (%lld bytes): a crash while creating the segment; "
               "the next open rewrites it\n",
               path, (long long)k);
        v->bytes += (uint64_t)k;
        ok = true;
        goto out;
    }
    if (k < TP_SEG_HDR || tp_seg_header_decode(h, &hbase) < 0) {
        problem(v, path, "invalid segment header");
        goto out;
    }
    if (hbase != base) {
        problem(v, path, "header says base offset %llu, the name says %llu",
                (unsigned long long)hbase, (unsigned long long)base);
        goto out;
    }
    int rc = tp_seg_scan(&r, TP_SEG_HDR, UINT64_MAX, &s);
    if (rc < 0) {
        printf("PROBLEM %s: read: %s\n", path, strerror(-rc));
        v->problems++;
        goto out;
    }
    *frames = s.frames;
    v->records += s.frames;
    v->bytes += s.st == TP_SCAN_CORRUPT ? s.end : s.file_end;
    switch (s.st) {
    case TP_SCAN_CLEAN:
    case TP_SCAN_LIMIT:
        ok = true;
        break;
    case TP_SCAN_TORN:
        if (last) {
            printf("note %s: torn tail of %llu bytes at byte %llu (a write cut short by a crash; "
                   "the next open cuts it)\n",
                   path, (unsigned long long)(s.file_end - s.end), (unsigned long long)s.end);
            ok = true;
        } else {
            problem(v, path,
                    "incomplete or corrupt frame at byte %llu (record %llu) in a segment that "
                    "is not the last",
                    (unsigned long long)s.end, (unsigned long long)(base + s.frames));
        }
        break;
    case TP_SCAN_CORRUPT:
        if (s.valid_at)
            problem(v, path, "corrupt frame at byte %llu, valid frames again from byte %llu",
                    (unsigned long long)s.end, (unsigned long long)s.valid_at);
        else
            problem(v, path, "corrupt frame at byte %llu (record %llu)", (unsigned long long)s.end,
                    (unsigned long long)(base + s.frames));
        break;
    }
out:
    tp_segr_fini(&r);
    close(fd);
    return ok;
}

static int journal_verify(const char *dir)
{
    struct tp_seg_list l;
    int rc = tp_seg_list(dir, &l);
    if (rc < 0) {
        fprintf(stderr, "tickpipe journal verify: %s: %s\n", dir, strerror(-rc));
        return TP_EXIT_USAGE;
    }
    if (l.n == 0) {
        printf("PROBLEM %s: no segment files\n", dir);
        tp_seg_list_free(&l);
        return TP_EXIT_PROBLEM;
    }
    struct verify v = {dir, 0, 0, 0};
    bool known = true; /* the previous segment's end is trustworthy */
    uint64_t expect = l.base[0];
    for (size_t i = 0; i < l.n; i++) {
        char name[TP_SEG_NAMELEN + 8];
        tp_seg_name(l.base[i], name, sizeof name);
        if (known && l.base[i] != expect) {
            printf("PROBLEM %s/%s: starts at offset %llu but the previous segment ends at %llu "
                   "(%s)\n",
                   dir, name, (unsigned long long)l.base[i], (unsigned long long)expect,
                   l.base[i] > expect ? "records missing" : "records overlap");
            v.problems++;
        }
        uint64_t frames;
        known = verify_segment(&v, l.base[i], i + 1 == l.n, &frames);
        expect = l.base[i] + frames;
    }
    uint64_t first = l.base[0];
    printf("%s: %zu segment%s, %llu records, offsets %llu..%llu, %llu bytes: ", dir, l.n,
           l.n == 1 ? "" : "s", (unsigned long long)v.records, (unsigned long long)first,
           (unsigned long long)(expect ? expect - 1 : 0), (unsigned long long)v.bytes);
    if (v.problems)
        printf("%llu problem%s\n", (unsigned long long)v.problems, v.problems == 1 ? "" : "s");
    else
        printf("ok\n");
    tp_seg_list_free(&l);
    return v.problems ? TP_EXIT_PROBLEM : TP_EXIT_OK;
}

/* ---- dump ---- */

static void put_num(struct tp_buf *b, const char *name, double v)
{
    if (isnan(v)) return;
    char s[TP_NUM_STRLEN];
    tp_num_format(v, s);
    tp_buf_printf(b, " %s=%s", name, s);
}

static void put_time(struct tp_buf *b, const char *name, int64_t t)
{
    char s[TP_TIME_STRLEN];
    tp_time_format(t, s);
    tp_buf_printf(b, " %s=%s", name, s);
}

static void put_interval(struct tp_buf *b, int64_t ns)
{
    char s[64];
    tp_duration_format(ns, s, sizeof s);
    tp_buf_printf(b, " %s", s);
}

static const char *instr_or_dash(uint32_t id)
{
    return id ? tp_instr_name(id) : "-";
}

static void render_event(struct tp_buf *b, const struct tp_event *e)
{
    tp_buf_printf(b, " %s %s", tp_kind_name((enum tp_kind)e->kind), instr_or_dash(e->instr));
    if (e->kind == TP_KIND_STATUS)
        tp_buf_printf(b, " %s", tp_status_name((enum tp_status)e->status));
    put_time(b, "ts", e->ts);
    put_time(b, "recv", e->ts_recv);
    if (e->flags & TP_EV_TS_VENUE) tp_buf_puts(b, " venue_ts");
    static const char *const names[] = {"price", "size", "bid", "ask",    "bid_size", "ask_size",
                                        "open",  "high", "low", "change", "value"};
    const double v[] = {e->price, e->size, e->bid, e->ask,    e->bid_size, e->ask_size,
                        e->open,  e->high, e->low, e->change, e->value};
    for (size_t i = 0; i < TP_ARRAY_LEN(v); i++) put_num(b, names[i], v[i]);
    if (e->side) tp_buf_printf(b, " side=%s", tp_side_name((enum tp_side)e->side));
    if (e->kind == TP_KIND_STATUS && e->status == TP_ST_GAP)
        tp_buf_printf(b, " gap=%llu..%llu%s", (unsigned long long)e->trade_id,
                      (unsigned long long)e->gap_last, e->flags & TP_EV_GAP_TIME ? " (times)" : "");
    else if (e->flags & TP_EV_ID_STR)
        tp_buf_printf(b, " id=%s", e->trade_id_str);
    else if (e->flags & TP_EV_HAS_ID)
        tp_buf_printf(b, " id=%llu", (unsigned long long)e->trade_id);
    if (e->vsym_len) tp_buf_printf(b, " vsym=%s", e->venue_symbol);
    if (e->flags & TP_EV_QUOTE_ONLY) tp_buf_puts(b, " quote_only");
    if (e->flags & TP_EV_SNAPSHOT) tp_buf_puts(b, " snapshot");
    if (e->flags & TP_EV_BACKFILLED) tp_buf_puts(b, " backfilled");
}

/* Renders one record after "OFFSET"; returns false when the payload does not decode. */
static bool render(struct tp_buf *b, const void *p, size_t n)
{
    switch (tp_rec_type(p, n)) {
    case TP_REC_EVENT: {
        struct tp_event e;
        if (tp_rec_get_event(p, n, &e)) return false;
        tp_buf_puts(b, " event");
        render_event(b, &e);
        return true;
    }
    case TP_REC_LATE: {
        struct tp_event e;
        int64_t iv;
        if (tp_rec_get_late(p, n, &e, &iv)) return false;
        tp_buf_puts(b, " late");
        put_interval(b, iv);
        render_event(b, &e);
        return true;
    }
    case TP_REC_BAR: {
        struct tp_bar r;
        if (tp_rec_get_bar(p, n, &r)) return false;
        tp_buf_printf(b, " bar %s", instr_or_dash(r.instr));
        put_interval(b, r.interval_ns);
        put_time(b, "ts", r.ts);
        put_num(b, "open", r.open);
        put_num(b, "high", r.high);
        put_num(b, "low", r.low);
        put_num(b, "close", r.close);
        put_num(b, "volume", r.volume);
        put_num(b, "notional", r.notional);
        put_num(b, "vwap", r.vwap);
        tp_buf_printf(b, " trades=%llu", (unsigned long long)r.trades);
        put_num(b, "buy_volume", r.buy_volume);
        put_num(b, "sell_volume", r.sell_volume);
        put_time(b, "first_ts", r.first_ts);
        put_time(b, "last_ts", r.last_ts);
        static const char *const ind[] = {"sma_20",    "ema_20", "bb_upper",     "bb_middle",
                                          "bb_lower",  "rsi_14", "macd",         "macd_signal",
                                          "macd_hist", "atr_14", "volatility_20"};
        const double iv[] = {r.ind.sma,       r.ind.ema, r.ind.bb_upper,  r.ind.bb_middle,
                             r.ind.bb_lower,  r.ind.rsi, r.ind.macd,      r.ind.macd_signal,
                             r.ind.macd_hist, r.ind.atr, r.ind.volatility};
        for (size_t i = 0; i < TP_ARRAY_LEN(iv); i++) put_num(b, ind[i], iv[i]);
        if (r.final) tp_buf_puts(b, " final");
        if (r.filled) tp_buf_puts(b, " filled");
        return true;
    }
    case TP_REC_ANOMALY: {
        struct tp_anomaly a;
        if (tp_rec_get_anomaly(p, n, &a)) return false;
        tp_buf_printf(b, " anomaly %s %s", instr_or_dash(a.instr),
                      tp_anomaly_kind_name((enum tp_anomaly_kind)a.kind));
        put_time(b, "ts", a.ts);
        put_num(b, "observed", a.observed);
        put_num(b, "expected", a.expected);
        put_num(b, "score", a.score);
        if (a.interval_ns) put_interval(b, a.interval_ns);
        return true;
    }
    case TP_REC_GAP: {
        struct tp_gap g;
        if (tp_rec_get_gap(p, n, &g)) return false;
        tp_buf_printf(b, " gap %s", instr_or_dash(g.instr));
        put_time(b, "ts", g.ts);
        tp_buf_printf(b, " missing=%llu..%llu%s%s", (unsigned long long)g.first_missing,
                      (unsigned long long)g.last_missing, g.by_time ? " (times)" : "",
                      g.backfilled ? " backfilled" : "");
        return true;
    }
    case TP_REC_SOURCE_POS: {
        struct tp_source_pos s;
        if (tp_rec_get_source_pos(p, n, &s)) return false;
        tp_buf_printf(b,
                      " source_pos %s dev=%llu ino=%llu size=%llu head_hash=%016llx offset=%llu "
                      "line=%llu events=%llu%s%s",
                      s.source, (unsigned long long)s.dev, (unsigned long long)s.ino,
                      (unsigned long long)s.size, (unsigned long long)s.head_hash,
                      (unsigned long long)s.offset, (unsigned long long)s.line,
                      (unsigned long long)s.events, s.begin ? " begin" : "", s.eof ? " eof" : "");
        return true;
    }
    case TP_REC_CHECKPOINT: {
        uint64_t next;
        const void *st;
        size_t sn;
        if (tp_rec_get_checkpoint(p, n, &next, &st, &sn)) return false;
        tp_buf_printf(b, " checkpoint input_next=%llu state_bytes=%zu", (unsigned long long)next,
                      sn);
        return true;
    }
    }
    return false;
}

static int journal_dump(const char *dir, bool has_from, uint64_t from, bool has_limit,
                        uint64_t limit)
{
    if (!has_from) {
        struct tp_seg_list l;
        int rc = tp_seg_list(dir, &l);
        if (rc < 0) {
            fprintf(stderr, "tickpipe journal dump: %s: %s\n", dir, strerror(-rc));
            return TP_EXIT_USAGE;
        }
        if (l.n == 0) {
            fprintf(stderr, "tickpipe journal dump: %s: no segment files\n", dir);
            tp_seg_list_free(&l);
            return TP_EXIT_PROBLEM;
        }
        from = l.base[0];
        tp_seg_list_free(&l);
    }
    struct tp_cursor *c;
    int rc = tp_cursor_open(dir, from, NULL, false, &c);
    if (rc < 0) {
        fprintf(stderr, "tickpipe journal dump: %s: cannot read from offset %llu: %s\n", dir,
                (unsigned long long)from, rc == -ENOENT ? "no such offset" : strerror(-rc));
        return rc == -ENOENT || rc == -EBADMSG ? TP_EXIT_PROBLEM : TP_EXIT_RUNTIME;
    }
    struct tp_buf line;
    tp_buf_init(&line, 1 << 20);
    uint64_t shown = 0;
    int ret = TP_EXIT_OK;
    while (!has_limit || shown < limit) {
        const void *p;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(c, &p, &n, &off);
        if (rc == 0) break;
        if (rc < 0) {
            fflush(stdout);
            fprintf(stderr, "tickpipe journal dump: %s: %s\n", tp_cursor_where(c),
                    rc == -EBADMSG ? "corrupt record (CRC mismatch)" : strerror(-rc));
            ret = TP_EXIT_PROBLEM;
            break;
        }
        tp_buf_reset(&line);
        tp_buf_printf(&line, "%llu", (unsigned long long)off);
        if (!render(&line, p, n)) {
            tp_buf_reset(&line);
            tp_buf_printf(&line, "%llu ? type=%u len=%zu (not a valid record)",
                          (unsigned long long)off, n ? *(const uint8_t *)p : 0u, n);
        }
        tp_buf_putc(&line, '\n');
        fwrite(line.p, 1, line.len, stdout);
        shown++;
    }
    tp_buf_fini(&line);
    tp_cursor_close(c);
    if (fflush(stdout) != 0) return TP_EXIT_RUNTIME;
    return ret;
}

int tp_cmd_journal(int argc, char **argv)
{
    if (tp_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    if (argc < 3) {
        usage(stderr);
        return TP_EXIT_USAGE;
    }
    const char *sub = argv[1], *dir = argv[2];
    if (!strcmp(sub, "verify")) {
        if (argc != 3) {
            fprintf(stderr, "tickpipe journal verify: unexpected argument '%s'\n", argv[3]);
            return TP_EXIT_USAGE;
        }
        return journal_verify(dir);
    }
    if (strcmp(sub, "dump")) {
        fprintf(stderr, "tickpipe journal: unknown subcommand '%s' (verify or dump)\n", sub);
        return TP_EXIT_USAGE;
    }
    bool has_from = false, has_limit = false;
    uint64_t from = 0, limit = 0;
    for (int i = 3; i < argc; i++) {
        bool is_from = !strcmp(argv[i], "--from"), is_limit = !strcmp(argv[i], "--limit");
        if ((!is_from && !is_limit) || i + 1 >= argc ||
            !parse_u64(argv[i + 1], is_from ? &from : &limit)) {
            fprintf(stderr, "tickpipe journal dump: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return TP_EXIT_USAGE;
        }
        if (is_from) has_from = true;
        if (is_limit) has_limit = true;
        i++;
    }
    return journal_dump(dir, has_from, from, has_limit, limit);
}
