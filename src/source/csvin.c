/*
 * csvin.c — the streaming CSV reader (see csvin.h).
 *
 * Buffer: buf[0..end) holds file bytes from file offset buf_off; buf[pos..end) is not yet
 * consumed. cap = BLOCK + line_max + 2, so that after compaction (moving buf[pos..end) to the
 * front) any record of at most line_max bytes plus its CRLF fits with a block to spare, and a
 * buffer holding more than line_max + 1 bytes without a line break proves the line too long.
 *
 * Invariants:
 *  1. buf_off + pos is always a record boundary (the start of a line that is not inside a
 *     quoted field), and `lines` counts the '\n' in the file before it (plus start_lines
 *     when resuming).
 *  2. scan ≤ end − pos: buf[pos..pos+scan) is known to hold no '\n', so a refill does not
 *     search the same bytes twice.
 *  3. The field slices fp/fl point into buf (unquoted fields) or scratch (unescaped quoted
 *     fields); they are valid until the next fill, i.e. only while one record is turned into
 *     an event.
 *
 * A record is found in two ways: the fast path takes a line without any '"' and splits it
 * at commas with memchr; a line with a quote goes through an RFC 4180 state machine that may
 * cross line breaks and asks for more data (NEED_MORE) by re-parsing from the record start
 * after a refill. A bad multi-line record (unterminated quote, longer than line_max) is
 * rejected and reading resumes at the line after its first line, so one stray quote costs
 * one row, not the rest of the file.
 */
#include <ctype.h>
#include <fcntl.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/num.h"
#include "source/csvin.h"

#define BLOCK     (1u << 20)
#define IC_SLOTS  4096 /* instrument cache entries (a power of two); 3/4 of them used */
#define IC_MAXLEN TP_INSTR_NAMELEN

static const char *const field_names[TP_CF_COUNT] = {
    [TP_CF_TS] = "ts",
    [TP_CF_TS_RECV] = "ts_recv",
    [TP_CF_INSTRUMENT] = "instrument",
    [TP_CF_VENUE_SYMBOL] = "venue_symbol",
    [TP_CF_KIND] = "kind",
    [TP_CF_PRICE] = "price",
    [TP_CF_SIZE] = "size",
    [TP_CF_SIDE] = "side",
    [TP_CF_TRADE_ID] = "trade_id",
    [TP_CF_BID] = "bid",
    [TP_CF_ASK] = "ask",
    [TP_CF_BID_SIZE] = "bid_size",
    [TP_CF_ASK_SIZE] = "ask_size",
    [TP_CF_OPEN] = "open",
    [TP_CF_HIGH] = "high",
    [TP_CF_LOW] = "low",
    [TP_CF_CHANGE] = "change",
    [TP_CF_VALUE] = "value",
};

static const struct {
    const char *name, *text;
} reasons[TP_CSV_R_COUNT] = {
    [TP_CSV_R_COLUMNS] = {"column_count", "wrong number of columns"},
    [TP_CSV_R_QUOTING] = {"bad_quoting", "unterminated quote or text after a closing quote"},
    [TP_CSV_R_LINE_TOO_LONG] = {"line_too_long", "line longer than the limit"},
    [TP_CSV_R_TS] = {"bad_ts", "malformed or out-of-range timestamp"},
    [TP_CSV_R_INSTRUMENT] = {"bad_instrument", "missing instrument or not venue:SYMBOL"},
    [TP_CSV_R_KIND] = {"bad_kind", "unknown kind (trade, quote, snapshot, bar)"},
    [TP_CSV_R_PRICE] = {"bad_price", "missing or malformed price"},
    [TP_CSV_R_PRICE_NONPOS] = {"nonpositive_price", "price not greater than zero"},
    [TP_CSV_R_NONFINITE] = {"not_finite", "NaN or infinite number"},
    [TP_CSV_R_SIZE] = {"bad_size", "missing or malformed size"},
    [TP_CSV_R_SIZE_NEG] = {"negative_size", "negative size"},
    [TP_CSV_R_SIDE] = {"bad_side", "side not buy, sell or empty"},
    [TP_CSV_R_TRADE_ID] = {"bad_trade_id", "trade id longer than 63 bytes"},
    [TP_CSV_R_NUMBER] = {"bad_number", "malformed number (value, open, high, low, change)"},
};

const char *tp_csv_reason_name(enum tp_csv_reason r)
{
    return (unsigned)r < TP_CSV_R_COUNT ? reasons[r].name : "";
}

const char *tp_csv_reason_text(enum tp_csv_reason r)
{
    return (unsigned)r < TP_CSV_R_COUNT ? reasons[r].text : "";
}

const char *tp_csv_field_name(enum tp_csv_field f)
{
    return (unsigned)f < TP_CF_COUNT ? field_names[f] : "";
}

/* A cached instrument column value: the raw text and what it resolved to. */
struct icache {
    uint32_t id; /* 0 = empty slot */
    uint8_t len, vlen;
    char raw[IC_MAXLEN];
    char vsym[TP_VSYM_MAX + 1]; /* the native symbol when the raw text was normalized */
};

struct tp_csvin {
    int fd;
    struct tp_csvin_opts o;
    size_t line_max;
    uint32_t default_instr;
    int col[TP_CF_COUNT]; /* header column of each logical field, -1 when absent */
    int ncols;
    bool empty; /* the file has no header */

    char *buf;
    size_t cap, pos, end, scan;
    uint64_t buf_off;
    bool eof;
    int err; /* sticky read error */
    char *scratch;
    uint64_t size;

    uint64_t lines;
    uint64_t rec_line;
    enum tp_csv_reason last;
    struct tp_csvin_stats st;

    int nf; /* fields in the current record (may exceed TP_CSVIN_MAX_COLS) */
    const char *fp[TP_CSVIN_MAX_COLS];
    uint32_t fl[TP_CSVIN_MAX_COLS];

    struct icache *ic;
    uint32_t ic_used;
    uint32_t ic_last; /* slot of the last hit */
};

/* ---- the map ----------------------------------------------------------------------------- */

struct colname {
    const char *p;
    size_t n;
};

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r')) (*n)--;
}

static int field_by_name(const char *p, size_t n)
{
    for (int f = 0; f < TP_CF_COUNT; f++)
        if (strlen(field_names[f]) == n && !strncasecmp(field_names[f], p, n)) return f;
    return -1;
}

/* Parses "K=COL,..." into names[field]; 0 or -EINVAL with a message. */
static int parse_map(const char *map, struct colname names[TP_CF_COUNT], char *err, size_t errcap)
{
    for (int f = 0; f < TP_CF_COUNT; f++) names[f].p = NULL, names[f].n = 0;
    if (!map) return 0;
    for (const char *s = map; *s;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *item = s;
        s = comma ? comma + 1 : s + n;
        trim(&item, &n);
        if (!n) continue;
        const char *eq = memchr(item, '=', n);
        if (!eq) {
            snprintf(err, errcap, "map: '%.*s' is not FIELD=COLUMN", (int)TP_MIN(n, 200), item);
            return -EINVAL;
        }
        const char *k = item, *v = eq + 1;
        size_t kn = (size_t)(eq - item), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        int f = field_by_name(k, kn);
        if (f < 0) {
            snprintf(err, errcap,
                     "map: unknown field '%.*s' (fields: ts, ts_recv, instrument, venue_symbol, "
                     "kind, price, size, side, trade_id, bid, ask, bid_size, ask_size, open, "
                     "high, low, change, value)",
                     (int)TP_MIN(kn, 100), k);
            return -EINVAL;
        }
        if (!vn) {
            snprintf(err, errcap, "map: %s= names no column", field_names[f]);
            return -EINVAL;
        }
        if (names[f].p) {
            snprintf(err, errcap, "map: %s is mapped twice", field_names[f]);
            return -EINVAL;
        }
        names[f].p = v;
        names[f].n = vn;
    }
    return 0;
}

int tp_csvin_map_check(const char *map, char *err, size_t errcap)
{
    struct colname names[TP_CF_COUNT];
    return parse_map(map, names, err, errcap);
}

/* ---- reading ----------------------------------------------------------------------------- */

/* Moves the unconsumed bytes to the front and reads once more. 0, or a negative errno. */
static int fill(struct tp_csvin *r)
{
    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->buf_off += r->pos;
        r->end -= r->pos;
        r->pos = 0;
    }
    while (!r->eof && r->end < r->cap) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0) {
            if (errno == EINTR) continue;
            return r->err = -errno;
        }
        if (n == 0)
            r->eof = true;
        else
            r->end += (size_t)n;
        break;
    }
    return 0;
}

static void consume(struct tp_csvin *r, size_t to, uint64_t newlines)
{
    r->pos = to;
    r->scan = 0;
    r->lines += newlines;
}

static uint64_t count_nl(const char *p, size_t n)
{
    uint64_t c = 0;
    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++) c++;
    return c;
}

static inline void add_field(struct tp_csvin *r, const char *p, size_t n)
{
    if (r->nf < TP_CSVIN_MAX_COLS) {
        r->fp[r->nf] = p;
        r->fl[r->nf] = (uint32_t)n;
    }
    r->nf++;
}

/* Splits a line at commas if it has no quote: true and the fields set, or false (a quote:
 * the caller parses it as quoted). One pass, sixteen bytes at a time where SSE2 exists (every
 * x86-64), comparing for ',' and '"' at once; the scalar loop does the rest. */
static bool split_unquoted(struct tp_csvin *r, const char *p, size_t n)
{
    const char *e = p + n, *start = p, *q = p;
    r->nf = 0;
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
    for (; e - q >= 16; q += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote))) return false;
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma));
        for (; m; m &= m - 1) {
            const char *c = q + __builtin_ctz(m);
            add_field(r, start, (size_t)(c - start));
            start = c + 1;
        }
    }
#endif
    for (; q < e; q++) {
        if (*q == '"') return false;
        if (*q == ',') {
            add_field(r, start, (size_t)(q - start));
            start = q + 1;
        }
    }
    add_field(r, start, (size_t)(e - start));
    return true;
}

enum qres { Q_OK, Q_MORE, Q_BAD, Q_LONG };

/* A record ends: its content is `content` bytes, its line break included `next`. */
static enum qres done(const struct tp_csvin *r, size_t content, size_t next, size_t *ret_next)
{
    if (content > r->line_max) return Q_LONG;
    *ret_next = next;
    return Q_OK;
}

/* RFC 4180 record starting at s with n bytes available (more may follow unless at_eof).
 * Q_OK: fields set, *next = bytes of the record including its line break. Q_MORE: needs more
 * data. Q_BAD: bad quoting. Q_LONG: the record exceeds line_max. */
static enum qres split_quoted(struct tp_csvin *r, const char *s, size_t n, bool at_eof,
                              size_t *next)
{
    size_t i = 0, so = 0;
    r->nf = 0;
    for (;;) {
        if (i > r->line_max + 1) return Q_LONG;
        if (i < n && s[i] == '"') {
            size_t start = so;
            i++;
            for (;;) {
                if (i >= n) return at_eof ? Q_BAD : Q_MORE;
                if (i > r->line_max + 1) return Q_LONG;
                char c = s[i];
                if (c == '"') {
                    if (i + 1 >= n && !at_eof) return Q_MORE;
                    if (i + 1 < n && s[i + 1] == '"') {
                        r->scratch[so++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                r->scratch[so++] = c;
                i++;
            }
            add_field(r, r->scratch + start, so - start);
            /* after the closing quote: a comma, a line break, or the end of the file */
            if (i >= n) {
                if (!at_eof) return Q_MORE;
                return done(r, i, i, next);
            }
            if (s[i] == ',') {
                i++;
                continue;
            }
            if (s[i] == '\n') return done(r, i, i + 1, next);
            if (s[i] == '\r') {
                if (i + 1 >= n) {
                    if (!at_eof) return Q_MORE;
                    return done(r, i, i + 1, next);
                }
                if (s[i + 1] == '\n') return done(r, i, i + 2, next);
            }
            return Q_BAD;
        }
        /* an unquoted field */
        size_t start = i;
        while (i < n && s[i] != ',' && s[i] != '\n') {
            if (s[i] == '"') return Q_BAD;
            i++;
        }
        if (i > r->line_max + 1) return Q_LONG;
        if (i >= n && !at_eof) return Q_MORE;
        if (i < n && s[i] == ',') {
            add_field(r, s + start, i - start);
            i++;
            continue;
        }
        size_t fe = i;
        if (fe > start && s[fe - 1] == '\r') fe--;
        add_field(r, s + start, fe - start);
        return done(r, fe, i < n ? i + 1 : i, next);
    }
}

/* Counts the record just read (starting at rec_line) as bad for `why`. */
static int reject(struct tp_csvin *r, enum tp_csv_reason why)
{
    r->last = why;
    r->st.records++;
    r->st.bad_total++;
    if (r->st.bad[why] < TP_CSVIN_KEEP_LINES) r->st.bad_lines[why][r->st.bad[why]] = r->rec_line;
    r->st.bad[why]++;
    return TP_CSVIN_BAD;
}

/* Skips the rest of a line longer than line_max: everything up to and including the next
 * '\n'. Returns 0 or a negative errno. */
static int skip_line(struct tp_csvin *r)
{
    for (;;) {
        const char *nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
        if (nl) {
            consume(r, (size_t)(nl - r->buf) + 1, 1);
            return 0;
        }
        r->pos = r->end;
        if (r->eof) {
            consume(r, r->end, 0);
            return 0;
        }
        int rc = fill(r);
        if (rc < 0) return rc;
    }
}

enum rec { REC_FIELDS, REC_EOF, REC_TOO_LONG, REC_QUOTING };

/* Finds the next non-empty record and splits it into fields. Sets rec_line. Returns an enum
 * rec or a negative errno. */
static int next_record(struct tp_csvin *r)
{
    for (;;) {
        size_t avail = r->end - r->pos;
        const char *s = r->buf + r->pos;
        const char *nl = avail > r->scan ? memchr(s + r->scan, '\n', avail - r->scan) : NULL;
        if (!nl) {
            r->scan = avail;
            if (avail > r->line_max + 1) {
                r->rec_line = r->lines + 1;
                int rc = skip_line(r);
                return rc < 0 ? rc : REC_TOO_LONG;
            }
            if (!r->eof) {
                int rc = fill(r);
                if (rc < 0) return rc;
                continue;
            }
            if (avail == 0) return REC_EOF;
        }
        /* the first physical line is s[0..len) (+ '\n' unless the file ends there) */
        size_t len = nl ? (size_t)(nl - s) : avail;
        size_t line_end = nl ? len + 1 : len;
        r->rec_line = r->lines + 1;
        size_t content = len;
        if (content && s[content - 1] == '\r') content--;
        if (content > r->line_max) {
            consume(r, r->pos + line_end, nl ? 1 : 0);
            return REC_TOO_LONG;
        }
        if (content == 0) { /* blank line */
            consume(r, r->pos + line_end, nl ? 1 : 0);
            continue;
        }
        if (TP_LIKELY(split_unquoted(r, s, content))) {
            consume(r, r->pos + line_end, nl ? 1 : 0);
            return REC_FIELDS;
        }
        size_t next = 0;
        enum qres q = split_quoted(r, s, avail, r->eof, &next);
        if (q == Q_MORE) {
            int rc = fill(r);
            if (rc < 0) return rc;
            continue; /* re-parse from the record start with more bytes */
        }
        if (q == Q_OK) {
            consume(r, r->pos + next, count_nl(s, next));
            return REC_FIELDS;
        }
        /* resume at the line after the record's first line */
        consume(r, r->pos + line_end, nl ? 1 : 0);
        return q == Q_LONG ? REC_TOO_LONG : REC_QUOTING;
    }
}

/* ---- turning fields into an event -------------------------------------------------------- */

static inline bool get(const struct tp_csvin *r, enum tp_csv_field f, const char **p, size_t *n)
{
    int c = r->col[f];
    if (c < 0) return false;
    *p = r->fp[c];
    *n = r->fl[c];
    return true;
}

static bool nonfinite_word(const char *p, size_t n)
{
    if (n && (*p == '+' || *p == '-')) p++, n--;
    return (n == 3 && (!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3))) ||
           (n == 8 && !strncasecmp(p, "infinity", 8));
}

enum numres { N_OK, N_EMPTY, N_BAD, N_NONFINITE };

static enum numres num(const char *p, size_t n, double *v)
{
    trim(&p, &n);
    if (!n) return N_EMPTY;
    int rc = tp_num_parse(p, n, v);
    if (TP_LIKELY(rc == 0)) return N_OK;
    if (rc == -ERANGE || nonfinite_word(p, n)) return N_NONFINITE;
    return N_BAD;
}

/* A price-like field (price, bid, ask): required or optional. Returns a reason or -1. */
static int price_field(const struct tp_csvin *r, enum tp_csv_field f, bool required, double *out)
{
    const char *p;
    size_t n;
    if (!get(r, f, &p, &n)) return required ? TP_CSV_R_PRICE : -1;
    switch (num(p, n, out)) {
    case N_OK:
        return *out > 0 ? -1 : TP_CSV_R_PRICE_NONPOS;
    case N_EMPTY:
        *out = NAN;
        return required ? TP_CSV_R_PRICE : -1;
    case N_NONFINITE:
        return TP_CSV_R_NONFINITE;
    default:
        return TP_CSV_R_PRICE;
    }
}

/* A size-like field: absent → `absent`, empty → NaN unless required. */
static int size_field(const struct tp_csvin *r, enum tp_csv_field f, bool required, double absent,
                      double *out)
{
    const char *p;
    size_t n;
    if (!get(r, f, &p, &n)) {
        *out = absent;
        return -1;
    }
    switch (num(p, n, out)) {
    case N_OK:
        return *out >= 0 ? -1 : TP_CSV_R_SIZE_NEG;
    case N_EMPTY:
        *out = NAN;
        return required ? TP_CSV_R_SIZE : -1;
    case N_NONFINITE:
        return TP_CSV_R_NONFINITE;
    default:
        return TP_CSV_R_SIZE;
    }
}

static int other_field(const struct tp_csvin *r, enum tp_csv_field f, double *out)
{
    const char *p;
    size_t n;
    if (!get(r, f, &p, &n)) return -1;
    switch (num(p, n, out)) {
    case N_OK:
        return -1;
    case N_EMPTY:
        *out = NAN;
        return -1;
    case N_NONFINITE:
        return TP_CSV_R_NONFINITE;
    default:
        return TP_CSV_R_NUMBER;
    }
}

/* Mixes the first and the last 8 bytes and the length: names differ there. */
static uint32_t ic_hash(const char *p, size_t n)
{
    uint64_t a = 0, b = 0;
    memcpy(&a, p, n < 8 ? n : 8);
    if (n > 8) memcpy(&b, p + n - 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ n) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32);
}

/* Resolves an instrument column value: a valid name, or venue:symbol normalized (the raw
 * symbol then becomes the venue symbol). 0 and the id, or -EINVAL. */
static int resolve_instr(const char *p, size_t n, uint32_t *id, char *vsym, size_t *vlen)
{
    *vlen = 0;
    if (tp_instr_intern(p, n, id) == 0) return 0;
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p || (size_t)(colon - p) > 32) return -EINVAL;
    char venue[33];
    size_t vl = (size_t)(colon - p);
    for (size_t i = 0; i < vl; i++) venue[i] = (char)tolower((unsigned char)p[i]);
    venue[vl] = 0;
    const char *sym = colon + 1;
    size_t sl = n - vl - 1;
    char name[TP_INSTR_NAMELEN + 1];
    int len = tp_instr_normalize(venue, sym, sl, name, sizeof name);
    if (len < 0 || tp_instr_intern(name, (size_t)len, id) < 0) return -EINVAL;
    *vlen = TP_MIN(sl, (size_t)TP_VSYM_MAX);
    memcpy(vsym, sym, *vlen);
    return 0;
}

static int instrument(struct tp_csvin *r, const char *p, size_t n, struct tp_event *ev)
{
    struct icache *c = &r->ic[r->ic_last];
    if (TP_LIKELY(c->id && c->len == n && !memcmp(c->raw, p, n))) goto hit;
    if (n <= IC_MAXLEN) {
        uint32_t h = ic_hash(p, n) & (IC_SLOTS - 1);
        for (uint32_t k = 0; k < IC_SLOTS; k++, h = (h + 1) & (IC_SLOTS - 1)) {
            c = &r->ic[h];
            if (!c->id) break;
            if (c->len == n && !memcmp(c->raw, p, n)) {
                r->ic_last = h;
                goto hit;
            }
        }
        /* c is the empty slot where p belongs (or the last probed one when full) */
        uint32_t id;
        size_t vlen;
        char vsym[TP_VSYM_MAX + 1];
        if (resolve_instr(p, n, &id, vsym, &vlen) < 0) return -EINVAL;
        if (!c->id && r->ic_used < IC_SLOTS * 3 / 4) {
            c->id = id;
            c->len = (uint8_t)n;
            memcpy(c->raw, p, n);
            c->vlen = (uint8_t)vlen;
            memcpy(c->vsym, vsym, vlen);
            r->ic_used++;
            r->ic_last = (uint32_t)(c - r->ic);
        }
        ev->instr = id;
        if (vlen) tp_event_set_vsym(ev, vsym, vlen);
        return 0;
    }
    {
        uint32_t id;
        size_t vlen;
        char vsym[TP_VSYM_MAX + 1];
        if (resolve_instr(p, n, &id, vsym, &vlen) < 0) return -EINVAL;
        ev->instr = id;
        if (vlen) tp_event_set_vsym(ev, vsym, vlen);
        return 0;
    }
hit:
    ev->instr = c->id;
    if (c->vlen) tp_event_set_vsym(ev, c->vsym, c->vlen);
    return 0;
}

static bool canonical_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (p[0] == '0' && n > 1)) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9) return false;
        /* 19 digits always fit; only the 20th can overflow */
        if (i == 19 && (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v)))
            return false;
        if (i < 19) v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Builds the event of the current record into ev. Returns -1, or the reason it is bad. */
static int build(struct tp_csvin *r, struct tp_event *ev)
{
    if (r->nf != r->ncols) return TP_CSV_R_COLUMNS;
    const char *p;
    size_t n;
    enum tp_kind kind = TP_KIND_TRADE;
    if (get(r, TP_CF_KIND, &p, &n) && (trim(&p, &n), n)) {
        char k[16];
        if (n >= sizeof k) return TP_CSV_R_KIND;
        for (size_t i = 0; i < n; i++) k[i] = (char)tolower((unsigned char)p[i]);
        k[n] = 0;
        if (tp_kind_parse(k, &kind) < 0 || kind == TP_KIND_STATUS) return TP_CSV_R_KIND;
    } else {
        const char *q;
        size_t qn;
        bool has_price = get(r, TP_CF_PRICE, &q, &qn) && (trim(&q, &qn), qn);
        bool has_bid = get(r, TP_CF_BID, &q, &qn) && (trim(&q, &qn), qn);
        bool has_ask = get(r, TP_CF_ASK, &q, &qn) && (trim(&q, &qn), qn);
        if (!has_price && (has_bid || has_ask)) kind = TP_KIND_QUOTE;
    }
    tp_event_init(ev, kind);
    ev->flags = TP_EV_TS_VENUE;
    if (kind == TP_KIND_QUOTE && r->o.quote_only) ev->flags |= TP_EV_QUOTE_ONLY;

    if (!get(r, TP_CF_TS, &p, &n) || tp_time_parse(p, n, r->o.ts_unit, &ev->ts) < 0)
        return TP_CSV_R_TS;
    ev->ts_recv = ev->ts;
    if (get(r, TP_CF_TS_RECV, &p, &n) && (trim(&p, &n), n) &&
        tp_time_parse(p, n, r->o.ts_unit, &ev->ts_recv) < 0)
        return TP_CSV_R_TS;

    if (get(r, TP_CF_INSTRUMENT, &p, &n) && (trim(&p, &n), n)) {
        if (instrument(r, p, n, ev) < 0) return TP_CSV_R_INSTRUMENT;
    } else if (r->default_instr) {
        ev->instr = r->default_instr;
    } else {
        return TP_CSV_R_INSTRUMENT;
    }
    if (get(r, TP_CF_VENUE_SYMBOL, &p, &n) && (trim(&p, &n), n)) tp_event_set_vsym(ev, p, n);

    int why;
    bool quote = kind == TP_KIND_QUOTE;
    if ((why = price_field(r, TP_CF_PRICE, !quote, &ev->price)) >= 0) return why;
    if ((why = price_field(r, TP_CF_BID, quote, &ev->bid)) >= 0) return why;
    if ((why = price_field(r, TP_CF_ASK, quote, &ev->ask)) >= 0) return why;
    bool trade = kind == TP_KIND_TRADE;
    if ((why = size_field(r, TP_CF_SIZE, trade, trade ? 0.0 : NAN, &ev->size)) >= 0) return why;
    if ((why = size_field(r, TP_CF_BID_SIZE, false, NAN, &ev->bid_size)) >= 0) return why;
    if ((why = size_field(r, TP_CF_ASK_SIZE, false, NAN, &ev->ask_size)) >= 0) return why;
    if ((why = other_field(r, TP_CF_OPEN, &ev->open)) >= 0) return why;
    if ((why = other_field(r, TP_CF_HIGH, &ev->high)) >= 0) return why;
    if ((why = other_field(r, TP_CF_LOW, &ev->low)) >= 0) return why;
    if ((why = other_field(r, TP_CF_CHANGE, &ev->change)) >= 0) return why;
    if ((why = other_field(r, TP_CF_VALUE, &ev->value)) >= 0) return why;

    if (get(r, TP_CF_SIDE, &p, &n)) {
        enum tp_side side;
        trim(&p, &n);
        if (n == 3 && !memcmp(p, "buy", 3)) /* the common spellings first */
            side = TP_SIDE_BUY;
        else if (n == 4 && !memcmp(p, "sell", 4))
            side = TP_SIDE_SELL;
        else if (tp_side_parse(p, n, &side) < 0)
            return TP_CSV_R_SIDE;
        ev->side = (uint8_t)side;
    }
    if (get(r, TP_CF_TRADE_ID, &p, &n) && (trim(&p, &n), n)) {
        uint64_t id;
        if (canonical_u64(p, n, &id))
            tp_event_set_id(ev, id);
        else if (tp_event_set_id_str(ev, p, n) < 0)
            return TP_CSV_R_TRADE_ID;
    }
    return -1;
}

int tp_csvin_next(struct tp_csvin *r, struct tp_event *ev)
{
    if (r->err) return r->err;
    if (r->empty) return TP_CSVIN_EOF;
    int rc = next_record(r);
    if (rc < 0) return rc;
    switch (rc) {
    case REC_EOF:
        return TP_CSVIN_EOF;
    case REC_TOO_LONG:
        return reject(r, TP_CSV_R_LINE_TOO_LONG);
    case REC_QUOTING:
        return reject(r, TP_CSV_R_QUOTING);
    default:
        break;
    }
    struct tp_event tmp;
    int why = build(r, &tmp);
    if (why >= 0) return reject(r, (enum tp_csv_reason)why);
    *ev = tmp;
    r->st.records++;
    r->st.events++;
    return TP_CSVIN_EVENT;
}

/* ---- open -------------------------------------------------------------------------------- */

static bool name_eq(const char *a, size_t an, const char *b, size_t bn)
{
    trim(&a, &an);
    trim(&b, &bn);
    return an == bn && !strncasecmp(a, b, an);
}

static void list_columns(const struct tp_csvin *r, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int c = 0; c < r->nf && c < TP_CSVIN_MAX_COLS && o + 1 < cap; c++) {
        int w = snprintf(out + o, cap - o, "%s%.*s", c ? ", " : "", (int)TP_MIN(r->fl[c], 64u),
                         r->fp[c]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

static int read_header(struct tp_csvin *r, char *err, size_t errcap)
{
    int rc = fill(r);
    if (rc < 0) {
        snprintf(err, errcap, "read: %s", strerror(-rc));
        return rc;
    }
    if (r->end - r->pos >= 3 && !memcmp(r->buf, "\xEF\xBB\xBF", 3)) r->pos = 3; /* BOM */
    rc = next_record(r);
    if (rc < 0) {
        snprintf(err, errcap, "read: %s", strerror(-rc));
        return rc;
    }
    if (rc == REC_EOF) {
        r->empty = true;
        return 0;
    }
    if (rc != REC_FIELDS) {
        snprintf(err, errcap, "header (line %llu): %s", (unsigned long long)r->rec_line,
                 rc == REC_TOO_LONG ? "line too long" : "bad quoting");
        return -EINVAL;
    }
    if (r->nf > TP_CSVIN_MAX_COLS) {
        snprintf(err, errcap, "header: more than %d columns", TP_CSVIN_MAX_COLS);
        return -EINVAL;
    }
    r->ncols = r->nf;
    struct colname names[TP_CF_COUNT];
    if ((rc = parse_map(r->o.map, names, err, errcap)) < 0) return rc;
    for (int f = 0; f < TP_CF_COUNT; f++) {
        const char *want = names[f].p ? names[f].p : field_names[f];
        size_t wn = names[f].p ? names[f].n : strlen(field_names[f]);
        r->col[f] = -1;
        for (int c = 0; c < r->ncols; c++)
            if (name_eq(r->fp[c], r->fl[c], want, wn)) {
                r->col[f] = c;
                break;
            }
        if (names[f].p && r->col[f] < 0) {
            char cols[512];
            list_columns(r, cols, sizeof cols);
            snprintf(err, errcap, "map %s=%.*s: no such column (columns: %s)", field_names[f],
                     (int)TP_MIN(wn, 100), want, cols);
            return -EINVAL;
        }
    }
    char cols[512];
    list_columns(r, cols, sizeof cols);
    if (r->col[TP_CF_TS] < 0) {
        snprintf(err, errcap, "no ts column: map one with ts=COLUMN (columns: %s)", cols);
        return -EINVAL;
    }
    if (r->col[TP_CF_INSTRUMENT] < 0 && !r->default_instr) {
        snprintf(err, errcap,
                 "no instrument column: name the instrument (venue:SYMBOL) or map a column "
                 "with instrument=COLUMN (columns: %s)",
                 cols);
        return -EINVAL;
    }
    if (r->col[TP_CF_PRICE] < 0 && (r->col[TP_CF_BID] < 0 || r->col[TP_CF_ASK] < 0)) {
        snprintf(err, errcap,
                 "no price column (nor bid and ask): map one with price=COLUMN (columns: %s)",
                 cols);
        return -EINVAL;
    }
    return 0;
}

int tp_csvin_open(const char *path, const struct tp_csvin_opts *opts, struct tp_csvin **ret,
                  char *err, size_t errcap)
{
    size_t line_max = opts->line_max ? opts->line_max : TP_CSVIN_LINE_MAX_DEFAULT;
    if (line_max > TP_CSVIN_LINE_MAX_LIMIT) {
        snprintf(err, errcap, "line limit %zu is above %u", line_max, TP_CSVIN_LINE_MAX_LIMIT);
        return -EINVAL;
    }
    struct colname names[TP_CF_COUNT];
    int rc = parse_map(opts->map, names, err, errcap);
    if (rc < 0) return rc;
    uint32_t def = 0;
    if (opts->instrument && *opts->instrument &&
        tp_instr_intern(opts->instrument, strlen(opts->instrument), &def) < 0) {
        snprintf(err, errcap, "instrument '%.100s' is not venue:SYMBOL (like seed:STOCK)",
                 opts->instrument);
        return -EINVAL;
    }

    struct tp_csvin *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->o = *opts;
    r->line_max = line_max;
    r->default_instr = def;
    r->cap = BLOCK + line_max + 2;
    r->buf = malloc(r->cap);
    r->scratch = malloc(line_max + 2);
    r->ic = calloc(IC_SLOTS, sizeof *r->ic);
    r->fd = -1;
    if (!r->buf || !r->scratch || !r->ic) {
        rc = -ENOMEM;
        snprintf(err, errcap, "out of memory");
        goto out_free;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat stt;
    if (r->fd < 0 || fstat(r->fd, &stt) < 0) {
        rc = -errno;
        snprintf(err, errcap, "cannot open: %s", strerror(errno));
        goto out_free;
    }
    if (S_ISDIR(stt.st_mode)) {
        rc = -EISDIR;
        snprintf(err, errcap, "cannot read: is a directory");
        goto out_free;
    }
    r->size = (uint64_t)stt.st_size;
    (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    if ((rc = read_header(r, err, errcap)) < 0) goto out_free;
    if (opts->start_offset) {
        uint64_t here = r->buf_off + r->pos;
        if (r->empty || opts->start_offset < here || opts->start_offset > r->size) {
            snprintf(err, errcap, "resume offset %llu is not after the header or is past the end",
                     (unsigned long long)opts->start_offset);
            rc = -EINVAL;
            goto out_free;
        }
        if (lseek(r->fd, (off_t)opts->start_offset, SEEK_SET) < 0) {
            rc = -errno;
            snprintf(err, errcap, "seek: %s", strerror(errno));
            goto out_free;
        }
        r->buf_off = opts->start_offset;
        r->pos = r->end = r->scan = 0;
        r->eof = false;
        r->lines = opts->start_lines;
    }
    *ret = r;
    return 0;

out_free:
    tp_csvin_free(r);
    return rc;
}

void tp_csvin_free(struct tp_csvin *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    free(r->buf);
    free(r->scratch);
    free(r->ic);
    free(r);
}

enum tp_csv_reason tp_csvin_last_reason(const struct tp_csvin *r)
{
    return r->last;
}

uint64_t tp_csvin_record_line(const struct tp_csvin *r)
{
    return r->rec_line;
}

uint64_t tp_csvin_offset(const struct tp_csvin *r)
{
    return r->buf_off + r->pos;
}

uint64_t tp_csvin_lines(const struct tp_csvin *r)
{
    return r->lines;
}

uint64_t tp_csvin_size(const struct tp_csvin *r)
{
    return r->size;
}

const struct tp_csvin_stats *tp_csvin_stats(const struct tp_csvin *r)
{
    return &r->st;
}
