/*
 * redis.c — the Redis sink (redis.h): journal records → pipelined MULTI/EXEC batches through
 * hiredis (a blocking context on the sink runner's thread).
 *
 * A batch is one transaction, built as records arrive and sent whole at flush:
 *
 *   MULTI
 *   XADD / PUBLISH ...            one or two per record, appended as `write` sees them
 *   EVALSHA last <instrument> ... one per instrument and group (trade, quote) in the batch:
 *                                 only the newest event of each is sent (the guard makes the
 *                                 older ones no-ops anyway)
 *   EVALSHA last tickpipe:offsets "" "" redis.input N redis.output M
 *   EXEC
 *
 * then every reply is read (the flush). Invariants:
 *
 *  1. The stored offsets are written in the transaction of the data they cover, by the same
 *     script as the last-state updates: a transaction either applies whole (EXEC ran) or not
 *     at all (connection lost before EXEC, EXECABORT), and inside one EXEC either every
 *     EVALSHA finds the script or none does. So the offsets never run ahead of the data.
 *  2. NOSCRIPT (the script cache was flushed) is seen in the EXEC reply: the XADDs and
 *     PUBLISHes ran, the scripts did not; the sink loads the script again and sends the
 *     EVALSHAs (last state and offsets) in a second transaction.
 *  3. Redelivered records change nothing: the last-state guard refuses older times, an XADD
 *     with an id not above the stream's last is refused by Redis (counted as already there).
 *  4. Publications are at most once: a record is published only when its offset is at or past
 *     `published` (the end of the last batch whose EXEC ran in this process), so a batch sent
 *     again after a failure does not publish twice; and the offsets stored with the batch mean
 *     a later process does not get it again.
 *  5. Memory is bounded by the batch: at most `batch` records (and kMaxBytes of commands) are
 *     queued before `write` asks the runner for a flush.
 *
 * Errors: connection problems are negative errnos that the runner retries with backoff
 * (never -EIO or -EBADMSG, which it treats as fatal); a Redis error reply to the whole batch
 * (EXECABORT, OOM, LOADING, a failed AUTH) is -EAGAIN after logging the server's words once;
 * a persistent error on one data command (WRONGTYPE: another program owns that key) is logged,
 * counted and skipped. A corrupt journal record or a malformed stored offset is -EBADMSG.
 */
#include <hiredis/hiredis.h>
#include <math.h>
#include <sys/time.h>

#include "core/instrument.h"
#include "core/log.h"
#include "core/num.h"
#include "core/tptime.h"
#include "log/record.h"
#include "serve/rows.h"
#include "sink/redis.h"

#define DEFAULT_BATCH   1000
#define MAX_BATCH       100000
#define DEFAULT_TIMEOUT (5 * TP_NS_PER_SEC)
#define MAX_BYTES       (8u << 20) /* queued command bytes before asking for a flush */
#define JSON_MAX        (64u << 10)
#define MAX_ARGS        72
#define ARG_STORE       4096

static const char OFFSETS_KEY[] = "tickpipe:offsets";

enum cmd_kind { CMD_XADD, CMD_PUBLISH, CMD_LAST, CMD_OFFSETS };

/* The newest trade (or snapshot) and quote of one instrument in the current batch. */
struct last {
    uint32_t instr;
    bool has_trade, has_quote;
    struct tp_event trade, quote;
};

struct tp_redis_sink {
    struct tp_redis_url url;
    char where[300];
    char field[2][80]; /* its fields in tickpipe:offsets: "NAME.input", "NAME.output" */
    uint64_t maxlen;
    size_t batch;
    int64_t timeout_ns;

    redisContext *c;
    char sha[48]; /* the script's SHA1, from SCRIPT LOAD */

    /* The current batch. */
    bool in_tx;    /* MULTI appended */
    size_t ncmd;   /* commands after MULTI */
    uint8_t *kind; /* enum cmd_kind of each, cap kind_cap */
    size_t kind_cap;
    size_t nrec;       /* records in the batch */
    size_t bytes;      /* approximate bytes of queued commands */
    struct last *last; /* batch's instruments, cap `batch` */
    size_t nlast;
    uint32_t *slot;        /* instrument id → index in last + 1 (0: none); TP_INSTR_MAX + 1 */
    uint64_t next[2];      /* one past the last record written (per log) */
    uint64_t acked[2];     /* stored in Redis */
    uint64_t published[2]; /* records below were published by this process (invariant 4) */

    struct tp_buf json;
    char last_err[160]; /* the last server error logged (log each distinct one once) */
    struct tp_redis_stats st;
};

/* An argument vector with a small store for formatted values (hiredis copies at append). */
struct args {
    int n;
    const char *v[MAX_ARGS];
    size_t l[MAX_ARGS];
    char store[ARG_STORE];
    size_t used;
};

static void arg(struct args *a, const char *s, size_t n)
{
    if (a->n == MAX_ARGS) return; /* cannot happen: commands here have fixed shapes */
    a->v[a->n] = s;
    a->l[a->n++] = n;
}

static void arg_s(struct args *a, const char *s)
{
    arg(a, s, strlen(s));
}

/* Copies s[0..n) into the store. */
static void arg_copy(struct args *a, const char *s, size_t n)
{
    if (a->used + n > sizeof a->store) n = 0; /* cannot happen: bounded by MAX_ARGS × 40 */
    memcpy(a->store + a->used, s, n);
    arg(a, a->store + a->used, n);
    a->used += n;
}

static void arg_num(struct args *a, double v)
{
    char t[TP_NUM_STRLEN];
    size_t n = isfinite(v) ? tp_num_format(v, t) : 0;
    arg_copy(a, t, n);
}

static void arg_time(struct args *a, int64_t ns)
{
    char t[TP_TIME_STRLEN];
    arg_copy(a, t, tp_time_format(ns, t));
}

static void arg_i64(struct args *a, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    arg_copy(a, t, (size_t)n);
}

static void arg_u64(struct args *a, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    arg_copy(a, t, (size_t)n);
}

/* ---- errors ---- */

/* The errno for the context's error: a connection problem the runner retries. */
static int ctx_errno(const redisContext *c, int saved_errno)
{
    switch (c ? c->err : REDIS_ERR_OTHER) {
    case REDIS_ERR_IO:
        if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == EINPROGRESS)
            return -ETIMEDOUT;
        if (saved_errno > 0 && saved_errno != EIO && saved_errno != EBADMSG) return -saved_errno;
        return -ECONNRESET;
    case REDIS_ERR_EOF:
        return -ECONNRESET;
    case REDIS_ERR_PROTOCOL:
        return -EPROTO;
    case REDIS_ERR_OOM:
        return -ENOMEM;
    default:
        return -EHOSTUNREACH; /* name resolution and the like */
    }
}

/* Logs a server error once per distinct message (a failing server repeats itself). */
static void log_server(struct tp_redis_sink *s, const char *what, const redisReply *r)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %.*s", what, (int)TP_MIN(r->len, (size_t)120), r->str);
    if (!strcmp(msg, s->last_err)) return;
    snprintf(s->last_err, sizeof s->last_err, "%s", msg);
    tp_warn("redis %s: %s", s->where, msg);
}

static bool err_is(const redisReply *r, const char *prefix)
{
    size_t n = strlen(prefix);
    return r->type == REDIS_REPLY_ERROR && r->len >= n && !memcmp(r->str, prefix, n);
}

/* ---- connection ---- */

static void reset_batch(struct tp_redis_sink *s)
{
    for (size_t i = 0; i < s->nlast; i++) s->slot[s->last[i].instr] = 0;
    s->nlast = 0;
    s->in_tx = false;
    s->ncmd = 0;
    s->nrec = 0;
    s->bytes = 0;
}

static void disconnect(struct tp_redis_sink *s)
{
    if (s->c) redisFree(s->c);
    s->c = NULL;
    reset_batch(s);
    for (int l = 0; l < 2; l++) s->next[l] = s->acked[l];
}

static int append(struct tp_redis_sink *s, struct args *a)
{
    if (redisAppendCommandArgv(s->c, a->n, a->v, a->l) != REDIS_OK) return ctx_errno(s->c, errno);
    for (int i = 0; i < a->n; i++) s->bytes += a->l[i] + 16;
    return 0;
}

/* One reply; 0 and *ret (free with freeReplyObject), or a connection errno. */
static int get_reply(struct tp_redis_sink *s, redisReply **ret)
{
    void *r = NULL;
    errno = 0;
    if (redisGetReply(s->c, &r) != REDIS_OK || !r) return ctx_errno(s->c, errno);
    *ret = r;
    return 0;
}

static struct timeval tv_of(int64_t ns)
{
    return (struct timeval){.tv_sec = (time_t)(ns / TP_NS_PER_SEC),
                            .tv_usec = (suseconds_t)(ns % TP_NS_PER_SEC / 1000)};
}

/* A stored offset: absent (nil) is 0; anything but a decimal number is -EBADMSG. */
static int parse_offset(const redisReply *r, uint64_t *ret)
{
    if (r->type == REDIS_REPLY_NIL) {
        *ret = 0;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) return -EBADMSG;
    uint64_t v = 0;
    for (size_t i = 0; i < r->len; i++) {
        unsigned d = (unsigned)(r->str[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return -EBADMSG;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

/* Reads the reply to SCRIPT LOAD into s->sha. */
static int read_script_load(struct tp_redis_sink *s)
{
    redisReply *r;
    int rc = get_reply(s, &r);
    if (rc < 0) return rc;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < sizeof s->sha) {
        memcpy(s->sha, r->str, r->len);
        s->sha[r->len] = '\0';
    } else {
        if (r->type == REDIS_REPLY_ERROR) log_server(s, "SCRIPT LOAD", r);
        rc = r->type == REDIS_REPLY_ERROR ? -EAGAIN : -EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

static int append_script_load(struct tp_redis_sink *s)
{
    struct args a = {0};
    arg_s(&a, "SCRIPT");
    arg_s(&a, "LOAD");
    arg_s(&a, tp_redis_last_script());
    return append(s, &a);
}

static int rs_open(void *self, uint64_t ack[2])
{
    struct tp_redis_sink *s = self;
    disconnect(s);
    errno = 0;
    s->c = redisConnectWithTimeout(s->url.host, s->url.port, tv_of(s->timeout_ns));
    if (!s->c || s->c->err) {
        int rc = ctx_errno(s->c, errno);
        disconnect(s);
        return rc;
    }
    redisSetTimeout(s->c, tv_of(s->timeout_ns));
    redisEnableKeepAlive(s->c);

    /* AUTH, SELECT, SCRIPT LOAD and the stored offsets in one round trip. */
    struct args a = {0};
    int rc = 0, nauth = 0;
    if (s->url.password[0]) {
        arg_s(&a, "AUTH");
        if (s->url.user[0]) arg_s(&a, s->url.user);
        arg_s(&a, s->url.password);
        rc = append(s, &a);
        nauth = 1;
    }
    if (rc == 0 && s->url.db) {
        a = (struct args){0};
        arg_s(&a, "SELECT");
        arg_i64(&a, s->url.db);
        rc = append(s, &a);
    }
    if (rc == 0) rc = append_script_load(s);
    if (rc == 0) {
        a = (struct args){0};
        arg_s(&a, "HMGET");
        arg_s(&a, OFFSETS_KEY);
        arg_s(&a, s->field[0]);
        arg_s(&a, s->field[1]);
        rc = append(s, &a);
    }
    /* Read every reply (the first error is the one that matters). */
    int first = rc;
    for (int i = 0; first == 0 && i < nauth + (s->url.db != 0); i++) {
        redisReply *r;
        rc = get_reply(s, &r);
        if (rc < 0) {
            first = rc;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            log_server(s, i < nauth ? "AUTH" : "SELECT", r);
            first = i < nauth ? -EACCES : -EAGAIN;
        }
        freeReplyObject(r);
    }
    if (first == 0) first = read_script_load(s);
    uint64_t off[2] = {0, 0};
    if (first == 0) {
        redisReply *r;
        first = get_reply(s, &r);
        if (first == 0) {
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
                for (int l = 0; l < 2 && first == 0; l++)
                    if (parse_offset(r->element[l], &off[l]) < 0) {
                        tp_error("redis %s: %s %s holds '%.*s', not an offset: fix or delete it",
                                 s->where, OFFSETS_KEY, s->field[l],
                                 (int)TP_MIN(r->element[l]->len, (size_t)40),
                                 r->element[l]->str ? r->element[l]->str : "");
                        first = -EBADMSG;
                    }
            } else {
                if (r->type == REDIS_REPLY_ERROR)
                    log_server(s,
                               "HMGET "
                               "tickpipe:offsets",
                               r);
                first = r->type == REDIS_REPLY_ERROR ? -EAGAIN : -EPROTO;
            }
            freeReplyObject(r);
        }
    }
    if (first < 0) {
        disconnect(s);
        return first;
    }
    s->last_err[0] = '\0';
    for (int l = 0; l < 2; l++) s->next[l] = s->acked[l] = ack[l] = off[l];
    return 0;
}

static void rs_close(void *self)
{
    disconnect(self);
}

/* ---- the batch ---- */

static int begin(struct tp_redis_sink *s)
{
    if (s->in_tx) return 0;
    struct args a = {0};
    arg_s(&a, "MULTI");
    int rc = append(s, &a);
    if (rc == 0) s->in_tx = true;
    return rc;
}

static int queue(struct tp_redis_sink *s, struct args *a, enum cmd_kind k)
{
    int rc = begin(s);
    if (rc == 0) rc = append(s, a);
    if (rc < 0) return rc;
    if (s->ncmd == s->kind_cap) return -ENOBUFS; /* cannot happen: kind_cap covers a batch */
    s->kind[s->ncmd++] = (uint8_t)k;
    return 0;
}

static int publish(struct tp_redis_sink *s, const char *chan)
{
    struct args a = {0};
    arg_s(&a, "PUBLISH");
    arg_s(&a, chan);
    arg(&a, s->json.p, s->json.len);
    return queue(s, &a, CMD_PUBLISH);
}

/* Keeps the newest trade/snapshot and quote of each instrument of the batch (equal times:
 * the later record, as applying them one by one with the "not older" guard would). */
static void remember(struct tp_redis_sink *s, const struct tp_event *e)
{
    bool quote = e->kind == TP_KIND_QUOTE;
    if (!quote && !isfinite(e->price)) return;
    if (e->instr == 0 || e->instr > TP_INSTR_MAX) return;
    uint32_t k = s->slot[e->instr];
    struct last *l;
    if (k) {
        l = &s->last[k - 1];
    } else {
        if (s->nlast == s->batch) return; /* cannot happen: one per record at most */
        l = &s->last[s->nlast++];
        *l = (struct last){.instr = e->instr};
        s->slot[e->instr] = (uint32_t)s->nlast;
    }
    if (quote && (!l->has_quote || e->ts >= l->quote.ts)) {
        l->quote = *e;
        l->has_quote = true;
    } else if (!quote && (!l->has_trade || e->ts >= l->trade.ts)) {
        l->trade = *e;
        l->has_trade = true;
    }
}

static int write_event(struct tp_redis_sink *s, const void *p, size_t n, bool pub)
{
    struct tp_event e;
    if (tp_rec_get_event(p, n, &e) < 0) return -EBADMSG;
    if (e.kind == TP_KIND_STATUS) return 0;
    if (e.kind == TP_KIND_TRADE || e.kind == TP_KIND_SNAPSHOT || e.kind == TP_KIND_QUOTE)
        remember(s, &e);
    if (!pub) return 0;
    char chan[TP_REDIS_KEY_MAX];
    if (tp_redis_chan_ticks(tp_instr_name(e.instr), chan, sizeof chan) < 0) return 0;
    struct tp_jw w;
    tp_buf_reset(&s->json);
    tp_jw_init(&w, &s->json);
    tp_row_tick(&w, &e);
    if (w.err) return 0; /* cannot happen: a tick is far below JSON_MAX */
    return publish(s, chan);
}

static int write_bar(struct tp_redis_sink *s, const void *p, size_t n, bool pub)
{
    struct tp_bar b;
    if (tp_rec_get_bar(p, n, &b) < 0) return -EBADMSG;
    const char *instr = tp_instr_name(b.instr);
    char key[TP_REDIS_KEY_MAX], id[TP_REDIS_ID_STRLEN], iv[32];
    if (tp_redis_key_bars(instr, b.interval_ns, key, sizeof key) < 0) return 0;
    int rc;
    if (tp_redis_stream_id(b.ts, id) < 0) {
        s->st.bars_skipped++;
    } else {
        struct args a = {0};
        arg_s(&a, "XADD");
        arg_s(&a, key);
        arg_s(&a, "MAXLEN");
        arg_s(&a, "~");
        arg_u64(&a, s->maxlen);
        arg_s(&a, id);
        const struct tp_ind_values *v = &b.ind;
        arg_s(&a, "instrument");
        arg_s(&a, instr);
        arg_s(&a, "interval");
        arg_copy(&a, iv, tp_duration_format(b.interval_ns, iv, sizeof iv));
        const struct {
            const char *k;
            double v;
        } nums[] = {
            {"open", b.open},     {"high", b.high},         {"low", b.low},   {"close", b.close},
            {"volume", b.volume}, {"notional", b.notional}, {"vwap", b.vwap},
        };
        arg_s(&a, "ts");
        arg_time(&a, b.ts);
        for (size_t i = 0; i < TP_ARRAY_LEN(nums); i++) {
            arg_s(&a, nums[i].k);
            arg_num(&a, nums[i].v);
        }
        arg_s(&a, "trades");
        arg_u64(&a, b.trades);
        arg_s(&a, "buy_volume");
        arg_num(&a, b.buy_volume);
        arg_s(&a, "sell_volume");
        arg_num(&a, b.sell_volume);
        arg_s(&a, "first_ts");
        arg_time(&a, b.first_ts);
        arg_s(&a, "last_ts");
        arg_time(&a, b.last_ts);
        const struct {
            const char *k;
            double v;
        } ind[] = {
            {"sma_20", v->sma},
            {"ema_20", v->ema},
            {"bb_upper", v->bb_upper},
            {"bb_middle", v->bb_middle},
            {"bb_lower", v->bb_lower},
            {"rsi_14", v->rsi},
            {"macd", v->macd},
            {"macd_signal", v->macd_signal},
            {"macd_hist", v->macd_hist},
            {"atr_14", v->atr},
            {"volatility_20", v->volatility},
        };
        for (size_t i = 0; i < TP_ARRAY_LEN(ind); i++) {
            arg_s(&a, ind[i].k);
            arg_num(&a, ind[i].v);
        }
        rc = queue(s, &a, CMD_XADD);
        if (rc < 0) return rc;
    }
    if (!pub) return 0;
    struct tp_jw w;
    tp_buf_reset(&s->json);
    tp_jw_init(&w, &s->json);
    tp_row_bar(&w, &b);
    if (w.err) return 0;
    return publish(s, key); /* the bar channel has the stream's name */
}

static int write_anomaly(struct tp_redis_sink *s, const void *p, size_t n, bool pub)
{
    struct tp_anomaly an;
    if (tp_rec_get_anomaly(p, n, &an) < 0) return -EBADMSG;
    char chan[TP_REDIS_KEY_MAX];
    if (!pub || tp_redis_chan_anomalies(tp_instr_name(an.instr), chan, sizeof chan) < 0) return 0;
    struct tp_jw w;
    tp_buf_reset(&s->json);
    tp_jw_init(&w, &s->json);
    tp_row_anomaly(&w, &an);
    if (w.err) return 0;
    return publish(s, chan);
}

static int rs_write(void *self, enum tp_sink_log log, uint64_t off, const void *p, size_t n)
{
    struct tp_redis_sink *s = self;
    if (!s->c) return -ENOTCONN;
    bool pub = off >= s->published[log];
    int rc = 0;
    enum tp_rec_type t = tp_rec_type(p, n);
    if (log == TP_LOG_INPUT && t == TP_REC_EVENT)
        rc = write_event(s, p, n, pub);
    else if (log == TP_LOG_OUTPUT && t == TP_REC_BAR)
        rc = write_bar(s, p, n, pub);
    else if (log == TP_LOG_OUTPUT && t == TP_REC_ANOMALY)
        rc = write_anomaly(s, p, n, pub);
    if (rc < 0) return rc;
    s->next[log] = off + 1;
    s->nrec++;
    return s->nrec >= s->batch || s->bytes >= MAX_BYTES;
}

/* Appends the last-state updates of the batch and the offsets, then EXEC. */
static int append_scripts_exec(struct tp_redis_sink *s)
{
    int rc = begin(s);
    for (size_t i = 0; rc == 0 && i < s->nlast; i++) {
        const struct last *l = &s->last[i];
        char key[TP_REDIS_KEY_MAX];
        if (tp_redis_key_last(tp_instr_name(l->instr), key, sizeof key) < 0) continue;
        for (int q = 0; q < 2 && rc == 0; q++) {
            const struct tp_event *e = q ? &l->quote : &l->trade;
            if (!(q ? l->has_quote : l->has_trade)) continue;
            struct args a = {0};
            arg_s(&a, "EVALSHA");
            arg_s(&a, s->sha);
            arg_s(&a, "1");
            arg_s(&a, key);
            if (q) {
                arg_s(&a, "quote_ts_ns");
                arg_i64(&a, e->ts);
                arg_s(&a, "bid");
                arg_num(&a, e->bid);
                arg_s(&a, "ask");
                arg_num(&a, e->ask);
                arg_s(&a, "bid_size");
                arg_num(&a, e->bid_size);
                arg_s(&a, "ask_size");
                arg_num(&a, e->ask_size);
                arg_s(&a, "quote_ts");
                arg_time(&a, e->ts);
            } else {
                arg_s(&a, "ts_ns");
                arg_i64(&a, e->ts);
                arg_s(&a, "price");
                arg_num(&a, e->price);
                arg_s(&a, "size");
                arg_num(&a, e->size); /* a snapshot has none: the field is removed */
                arg_s(&a, "ts");
                arg_time(&a, e->ts);
            }
            rc = queue(s, &a, CMD_LAST);
        }
    }
    if (rc == 0) {
        struct args a = {0};
        arg_s(&a, "EVALSHA");
        arg_s(&a, s->sha);
        arg_s(&a, "1");
        arg_s(&a, OFFSETS_KEY);
        arg_s(&a, "");
        arg_s(&a, "");
        for (int l = 0; l < 2; l++) {
            arg_s(&a, s->field[l]);
            arg_u64(&a, s->next[l]);
        }
        rc = queue(s, &a, CMD_OFFSETS);
    }
    if (rc == 0) {
        struct args a = {0};
        arg_s(&a, "EXEC");
        rc = append(s, &a);
    }
    return rc;
}

/* Reads the replies of MULTI, the queued commands and EXEC. 0 when EXEC ran (*noscript set
 * when the scripts were missing, *offsets_ok when the offsets were stored), or a negative
 * errno (-EAGAIN: the server refused the batch; nothing was applied). */
static int read_tx(struct tp_redis_sink *s, bool *noscript, bool *offsets_ok)
{
    *noscript = false;
    *offsets_ok = false;
    int refused = 0;
    for (size_t i = 0; i < s->ncmd + 1; i++) { /* MULTI's +OK, then a +QUEUED each */
        redisReply *r;
        int rc = get_reply(s, &r);
        if (rc < 0) return rc;
        if (r->type == REDIS_REPLY_ERROR && !refused) {
            log_server(s, i ? "queueing a command" : "MULTI", r);
            refused = -EAGAIN;
        }
        freeReplyObject(r);
    }
    redisReply *x;
    int rc = get_reply(s, &x);
    if (rc < 0) return rc;
    if (x->type != REDIS_REPLY_ARRAY || x->elements != s->ncmd) {
        if (x->type == REDIS_REPLY_ERROR) log_server(s, "EXEC", x);
        freeReplyObject(x);
        return refused ? refused : -EAGAIN;
    }
    s->st.transactions++;
    for (size_t i = 0; i < s->ncmd; i++) {
        const redisReply *r = x->element[i];
        bool err = r->type == REDIS_REPLY_ERROR;
        switch ((enum cmd_kind)s->kind[i]) {
        case CMD_XADD:
            if (!err)
                s->st.bars_added++;
            else if (err_is(r, "ERR The ID specified in XADD is equal or smaller"))
                s->st.bars_present++;
            else {
                s->st.errors++;
                log_server(s, "XADD", r);
            }
            break;
        case CMD_PUBLISH:
            if (err) {
                s->st.errors++;
                log_server(s, "PUBLISH", r);
            } else {
                s->st.published++;
            }
            break;
        case CMD_LAST:
        case CMD_OFFSETS:
            if (err_is(r, "NOSCRIPT")) {
                *noscript = true;
            } else if (err) {
                s->st.errors++;
                log_server(s, s->kind[i] == CMD_LAST ? "last-state script" : "offsets", r);
            } else if (s->kind[i] == CMD_OFFSETS) {
                *offsets_ok = true;
            } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
                s->st.last_updates++;
            } else {
                s->st.last_older++;
            }
            break;
        }
    }
    freeReplyObject(x);
    return 0;
}

static int rs_flush(void *self, bool final, uint64_t ack[2])
{
    struct tp_redis_sink *s = self;
    (void) final; /* every flush acknowledges everything written */
    if (!s->c) return -ENOTCONN;
    if (!s->in_tx && !s->nlast && s->next[0] == s->acked[0] && s->next[1] == s->acked[1]) {
        for (int l = 0; l < 2; l++) ack[l] = s->acked[l];
        return 0;
    }
    int rc = append_scripts_exec(s);
    bool noscript, offsets_ok;
    if (rc == 0) rc = read_tx(s, &noscript, &offsets_ok);
    if (rc < 0) return rc;
    /* EXEC ran: its publications are done, whatever happens next (invariant 4). */
    for (int l = 0; l < 2; l++) s->published[l] = TP_MAX(s->published[l], s->next[l]);
    if (noscript) {
        /* Invariant 2: only the scripts are sent again. */
        s->st.noscript++;
        tp_info("redis %s: the script cache lost the last-state script; loading it again",
                s->where);
        s->in_tx = false;
        s->ncmd = 0;
        rc = append_script_load(s);
        if (rc == 0) rc = read_script_load(s);
        if (rc == 0) rc = append_scripts_exec(s);
        if (rc == 0) rc = read_tx(s, &noscript, &offsets_ok);
        if (rc < 0) return rc;
        if (noscript) return -EAGAIN;
    }
    if (!offsets_ok) return -EAGAIN; /* logged by read_tx; retried from the stored offsets */
    reset_batch(s);
    for (int l = 0; l < 2; l++) ack[l] = s->acked[l] = s->next[l];
    s->last_err[0] = '\0';
    return 0;
}

static void rs_free(void *self)
{
    struct tp_redis_sink *s = self;
    if (!s) return;
    disconnect(s);
    free(s->kind);
    free(s->last);
    free(s->slot);
    tp_buf_fini(&s->json);
    free(s);
}

const struct tp_sink_ops tp_redis_sink_ops = {
    .name = "redis",
    .reads_input = true,
    .reads_output = true,
    .flush_ns = 100 * TP_NS_PER_MS,
    .open = rs_open,
    .write = rs_write,
    .flush = rs_flush,
    .close = rs_close,
    .free = rs_free,
};

int tp_redis_sink_new(const struct tp_redis_cfg *cfg, struct tp_redis_sink **ret, char *err,
                      size_t errcap)
{
    struct tp_redis_url u;
    int rc = tp_redis_url_parse(cfg->url, &u, err, errcap);
    if (rc < 0) return rc;
    struct tp_redis_sink *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->url = u;
    s->maxlen = cfg->maxlen ? cfg->maxlen : TP_REDIS_DEFAULT_MAXLEN;
    s->batch = cfg->batch ? TP_MIN(cfg->batch, (size_t)MAX_BATCH) : DEFAULT_BATCH;
    s->timeout_ns = cfg->timeout_ns > 0 ? cfg->timeout_ns : DEFAULT_TIMEOUT;
    const char *name = cfg->name && *cfg->name ? cfg->name : "redis";
    int n0 = snprintf(s->field[0], sizeof s->field[0], "%s.input", name);
    int n1 = snprintf(s->field[1], sizeof s->field[1], "%s.output", name);
    if (n0 < 0 || n1 < 0 || (size_t)n1 >= sizeof s->field[1]) {
        snprintf(err, errcap, "the sink name is too long");
        free(s);
        return -EINVAL;
    }
    bool v6 = strchr(u.host, ':') != NULL;
    snprintf(s->where, sizeof s->where, "%s%s%s:%d/%d", v6 ? "[" : "", u.host, v6 ? "]" : "",
             u.port, u.db);
    /* Per record at most two commands (XADD and PUBLISH) and two last-state scripts. */
    s->kind_cap = 4 * s->batch + 4;
    s->kind = malloc(s->kind_cap);
    s->last = malloc(s->batch * sizeof *s->last);
    s->slot = calloc(TP_INSTR_MAX + 1, sizeof *s->slot);
    tp_buf_init(&s->json, JSON_MAX);
    if (!s->kind || !s->last || !s->slot) {
        rs_free(s);
        return -ENOMEM;
    }
    *ret = s;
    return 0;
}

const char *tp_redis_sink_where(const struct tp_redis_sink *s)
{
    return s->where;
}

void tp_redis_sink_stats(const struct tp_redis_sink *s, struct tp_redis_stats *ret)
{
    *ret = s->st;
}
