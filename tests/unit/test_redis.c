/*
 * test_redis.c — the Redis sink: URL parsing, key, channel and stream-id derivation (pure),
 * and, against a real redis-server started on a free loopback port in a temporary directory
 * (skipped when Debian's redis-server is not installed), the sink's operations called as the
 * runner calls them: last-state hashes and their time guard (the Lua comparison of nanosecond
 * strings, negative ones too), bar streams with ids from the bar time and their cap, a replay
 * that adds nothing and publishes nothing again, the stored offsets, publications seen by a
 * subscriber, a flushed script cache (NOSCRIPT), and a server that goes away.
 */
#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "log/record.h"
#include "sink/redis.h"
#include "tpt.h"

/* ---- pure parts ---- */

static void test_url(void)
{
    struct tp_redis_url u;
    char err[128];
    ASSERT_EQ_INT(tp_redis_url_parse("redis://127.0.0.1:6390", &u, err, sizeof err), 0);
    ASSERT_EQ_STR(u.host, "127.0.0.1");
    ASSERT_EQ_INT(u.port, 6390);
    ASSERT_EQ_INT(u.db, 0);
    ASSERT_EQ_STR(u.password, "");
    ASSERT_EQ_STR(u.user, "");

    ASSERT_EQ_INT(tp_redis_url_parse("redis://localhost", &u, err, sizeof err), 0);
    ASSERT_EQ_STR(u.host, "localhost");
    ASSERT_EQ_INT(u.port, 6379);

    ASSERT_EQ_INT(
        tp_redis_url_parse("redis://:s%40cr%2Ft@cache.example:7000/3", &u, err, sizeof err), 0);
    ASSERT_EQ_STR(u.host, "cache.example");
    ASSERT_EQ_INT(u.port, 7000);
    ASSERT_EQ_INT(u.db, 3);
    ASSERT_EQ_STR(u.password, "s@cr/t");
    ASSERT_EQ_STR(u.user, "");

    ASSERT_EQ_INT(tp_redis_url_parse("redis://app:pw@h/12", &u, err, sizeof err), 0);
    ASSERT_EQ_STR(u.user, "app");
    ASSERT_EQ_STR(u.password, "pw");
    ASSERT_EQ_INT(u.db, 12);
    ASSERT_EQ_INT(u.port, 6379);

    ASSERT_EQ_INT(tp_redis_url_parse("redis://[::1]:6380/1", &u, err, sizeof err), 0);
    ASSERT_EQ_STR(u.host, "::1");
    ASSERT_EQ_INT(u.port, 6380);
    ASSERT_EQ_INT(u.db, 1);
    ASSERT_EQ_INT(tp_redis_url_parse("redis://h:1/", &u, err, sizeof err), 0);
    ASSERT_EQ_INT(u.db, 0);

    static const char *const bad[] = {
        "",
        "http://h",
        "rediss://h",
        "redis://",
        "redis://:6379",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:12x",
        "redis://h:",
        "redis://h/x",
        "redis://h/-1",
        "redis://h?db=1",
        "redis://secret@h",
        "redis://:bad%zzescape@h",
        "redis://:trunc%4@h",
        "redis://[::1",
        "redis://[::1]x",
        "redis://a b",
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (tp_redis_url_parse(bad[i], &u, err, sizeof err) != -EINVAL)
            TPT_FAIL("'%s' was accepted", bad[i]);
        if (!err[0]) TPT_FAIL("'%s': no reason given", bad[i]);
    }
    /* A refused URL's reason never repeats the password. */
    ASSERT_EQ_INT(tp_redis_url_parse("redis://:hunter2@h:99999", &u, err, sizeof err), -EINVAL);
    ASSERT(!strstr(err, "hunter2"));
    ASSERT_EQ_INT(tp_redis_url_parse(NULL, &u, err, sizeof err), -EINVAL);
}

static void test_keys_and_ids(void)
{
    char k[TP_REDIS_KEY_MAX];
    ASSERT_EQ_INT(tp_redis_key_last("binance:BTC-USDT", k, sizeof k), 30);
    ASSERT_EQ_STR(k, "tickpipe:last:binance:BTC-USDT");
    tp_redis_key_bars("sim:BTC-USD", 60 * TP_NS_PER_SEC, k, sizeof k);
    ASSERT_EQ_STR(k, "tickpipe:bars:sim:BTC-USD:1m");
    tp_redis_key_bars("sim:BTC-USD", TP_NS_PER_SEC, k, sizeof k);
    ASSERT_EQ_STR(k, "tickpipe:bars:sim:BTC-USD:1s");
    tp_redis_key_bars("fmp:EUR-USD", 86400 * TP_NS_PER_SEC, k, sizeof k);
    ASSERT_EQ_STR(k, "tickpipe:bars:fmp:EUR-USD:1d");
    tp_redis_key_bars("x:Y", 15 * 60 * TP_NS_PER_SEC, k, sizeof k);
    ASSERT_EQ_STR(k, "tickpipe:bars:x:Y:15m");
    tp_redis_chan_ticks("finnhub:AAPL", k, sizeof k);
    ASSERT_EQ_STR(k, "tickpipe:ticks:finnhub:AAPL");
    tp_redis_chan_anomalies("finnhub:AAPL", k, sizeof k);
    ASSERT_EQ_STR(k, "tickpipe:anomalies:finnhub:AAPL");
    char small[20];
    ASSERT_EQ_INT(tp_redis_key_last("binance:BTC-USDT", small, sizeof small), -ENAMETOOLONG);
    ASSERT_EQ_STR(small, "");

    char id[TP_REDIS_ID_STRLEN];
    /* 2026-11-23T12:34:00Z */
    ASSERT_EQ_INT(tp_redis_stream_id(INT64_C(1795437240000000000), id), 15);
    ASSERT_EQ_STR(id, "1795437240000-0");
    tp_redis_stream_id(INT64_C(1795437240123456789), id);
    ASSERT_EQ_STR(id, "1795437240123-456789");
    tp_redis_stream_id(1, id);
    ASSERT_EQ_STR(id, "0-1");
    ASSERT_EQ_INT(tp_redis_stream_id(0, id), -ERANGE);
    ASSERT_EQ_INT(tp_redis_stream_id(-TP_NS_PER_SEC, id), -ERANGE);
    /* Ids order as the times do, also across a millisecond boundary. */
    int64_t ts[] = {1, 999999, 1000000, 1000001, INT64_C(1795437240000000000), INT64_MAX};
    for (size_t i = 0; i + 1 < TP_ARRAY_LEN(ts); i++) {
        char a[TP_REDIS_ID_STRLEN], b[TP_REDIS_ID_STRLEN];
        tp_redis_stream_id(ts[i], a);
        tp_redis_stream_id(ts[i + 1], b);
        unsigned long long am, as, bm, bs;
        ASSERT(sscanf(a, "%llu-%llu", &am, &as) == 2 && sscanf(b, "%llu-%llu", &bm, &bs) == 2);
        if (!(am < bm || (am == bm && as < bs))) TPT_FAIL("id %s not below %s", a, b);
    }
}

/* ---- a real server ---- */

static pid_t srv_pid;
static int srv_port;
static char srv_dir[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &n))
        TPT_FAIL("no free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *client(void)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv_port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static void server_stop(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGKILL);
        waitpid(srv_pid, NULL, 0);
    }
    srv_pid = 0;
}

static void cleanup(void)
{
    server_stop();
    if (srv_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", srv_dir);
        if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
        srv_dir[0] = '\0';
    }
}

/* Starts redis-server (once; again after server_stop on the same port). Skips the test when
 * it is not installed. */
static void server_start(void)
{
    if (srv_pid > 0) return;
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        TPT_SKIP("redis-server is not installed (apt-get install redis-server)");
    if (!srv_dir[0]) {
        snprintf(srv_dir, sizeof srv_dir, "/tmp/tp_redis_XXXXXX");
        if (!mkdtemp(srv_dir)) TPT_FAIL("mkdtemp: %s", strerror(errno));
        atexit(cleanup);
        srv_port = free_port();
    }
    char port[16];
    snprintf(port, sizeof port, "%d", srv_port);
    srv_pid = fork();
    if (srv_pid < 0) TPT_FAIL("fork: %s", strerror(errno));
    if (srv_pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--protected-mode", "yes", "--save", "", "--appendonly", "no", "--dir", srv_dir,
               "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        redisContext *c = client();
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return;
        }
        usleep(50000);
    }
    TPT_FAIL("redis-server did not answer on port %d", srv_port);
}

static redisContext *q;

static redisReply *cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(q, fmt, ap);
    va_end(ap);
    if (!r) TPT_FAIL("redis command failed: %s", q->errstr);
    return r;
}

/* HGET as a string ("" when absent) into out. */
static const char *hget(const char *key, const char *field, char *out, size_t cap)
{
    redisReply *r = cmd("HGET %s %s", key, field);
    snprintf(out, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return out;
}

static long long int_cmd(const char *fmt, const char *a1)
{
    redisReply *r = cmd(fmt, a1);
    if (r->type != REDIS_REPLY_INTEGER) TPT_FAIL("'%s %s': not an integer", fmt, a1);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void flushall(void)
{
    freeReplyObject(cmd("FLUSHALL"));
    freeReplyObject(cmd("SCRIPT FLUSH"));
}

static void connect_q(void)
{
    signal(SIGPIPE, SIG_IGN);
    server_start();
    if (!q) q = client();
    if (!q) TPT_FAIL("cannot connect to the test server");
    flushall();
}

static void disconnect_q(void)
{
    if (q) redisFree(q);
    q = NULL;
}

static struct tp_redis_sink *new_sink(uint64_t maxlen, size_t batch)
{
    char url[64], err[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv_port);
    struct tp_redis_cfg cfg = {
        .url = url, .maxlen = maxlen, .batch = batch, .timeout_ns = 2 * TP_NS_PER_SEC};
    struct tp_redis_sink *s;
    if (tp_redis_sink_new(&cfg, &s, err, sizeof err)) TPT_FAIL("sink: %s", err);
    return s;
}

static uint32_t instr(const char *name)
{
    uint32_t id;
    if (tp_instr_intern(name, strlen(name), &id)) TPT_FAIL("intern %s", name);
    return id;
}

#define T0 INT64_C(1795437240000000000) /* 2026-11-23T12:34:00Z */

static struct tp_event trade(uint32_t id, int64_t ts, double price, double size)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = id;
    e.ts = e.ts_recv = ts;
    e.price = price;
    e.size = size;
    e.side = TP_SIDE_BUY;
    return e;
}

static struct tp_event quote(uint32_t id, int64_t ts, double bid, double ask)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_QUOTE);
    e.instr = id;
    e.ts = e.ts_recv = ts;
    e.bid = bid;
    e.ask = ask;
    e.bid_size = 1;
    e.ask_size = 2;
    return e;
}

static struct tp_bar bar(uint32_t id, int64_t interval, int64_t ts, double close)
{
    struct tp_bar b = {.instr = id, .interval_ns = interval, .ts = ts};
    b.open = b.high = b.low = b.close = close;
    b.volume = 2;
    b.notional = 2 * close;
    b.vwap = close;
    b.trades = 2;
    b.buy_volume = 1;
    b.sell_volume = 1;
    b.first_ts = ts + 1;
    b.last_ts = ts + 2;
    b.final = true;
    tp_ind_values_clear(&b.ind);
    b.ind.sma = close - 1;
    return b;
}

/* Writes one record through the sink's ops (as the runner does); returns write's result. */
static int put_event(struct tp_redis_sink *s, uint64_t off, const struct tp_event *e)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_rec_put_event(&b, e), 0);
    int rc = tp_redis_sink_ops.write(s, TP_LOG_INPUT, off, b.p, b.len);
    tp_buf_fini(&b);
    return rc;
}

static int put_bar(struct tp_redis_sink *s, uint64_t off, const struct tp_bar *bar)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_rec_put_bar(&b, bar), 0);
    int rc = tp_redis_sink_ops.write(s, TP_LOG_OUTPUT, off, b.p, b.len);
    tp_buf_fini(&b);
    return rc;
}

static void flush(struct tp_redis_sink *s, uint64_t want_in, uint64_t want_out)
{
    uint64_t ack[2];
    ASSERT_EQ_INT(tp_redis_sink_ops.flush(s, false, ack), 0);
    ASSERT_EQ_U64(ack[0], want_in);
    ASSERT_EQ_U64(ack[1], want_out);
    char v[32];
    ASSERT_EQ_U64(strtoull(hget("tickpipe:offsets", "redis.input", v, sizeof v), NULL, 10),
                  want_in);
    ASSERT_EQ_U64(strtoull(hget("tickpipe:offsets", "redis.output", v, sizeof v), NULL, 10),
                  want_out);
}

/* The Lua guard compares decimal strings as integers, negative ones too. */
static void test_script_guard(void)
{
    connect_q();
    static const struct {
        const char *stored, *incoming;
        int applied;
    } cases[] = {
        {"1795437240000000000", "1795437239999999999", 0},
        {"1795437240000000000", "1795437240000000000", 1},
        {"1795437240000000000", "1795437240000000001", 1},
        {"999999999", "1000000000", 1},
        {"1000000000", "999999999", 0},
        {"-5", "-3", 1},
        {"-3", "-5", 0},
        {"-5", "-10", 0},
        {"-10", "-5", 1},
        {"-1", "0", 1},
        {"0", "-1", 0},
        {"9007199254740993", "9007199254740992", 0}, /* beyond doubles' exact integers */
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        freeReplyObject(cmd("DEL g"));
        freeReplyObject(cmd("HSET g t %s v old", cases[i].stored));
        redisReply *r = cmd("EVAL %s 1 g t %s v new x", tp_redis_last_script(), cases[i].incoming);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != cases[i].applied)
            TPT_FAIL("stored %s, incoming %s: reply %lld (type %d), want %d", cases[i].stored,
                     cases[i].incoming, r->integer, r->type, cases[i].applied);
        freeReplyObject(r);
        char v[32];
        ASSERT_EQ_STR(hget("g", "v", v, sizeof v), cases[i].applied ? "new" : "old");
        ASSERT_EQ_STR(hget("g", "t", v, sizeof v),
                      cases[i].applied ? cases[i].incoming : cases[i].stored);
    }
    /* An empty value deletes the field; no guard sets unconditionally. */
    redisReply *r = cmd("EVAL %s 1 g %s %s v %s w 1", tp_redis_last_script(), "", "", "");
    ASSERT_EQ_INT(r->integer, 1);
    freeReplyObject(r);
    ASSERT_EQ_INT(int_cmd("HEXISTS g %s", "v"), 0);
    char v[8];
    ASSERT_EQ_STR(hget("g", "w", v, sizeof v), "1");
    disconnect_q();
}

/* Last state, streams, offsets, replay, publications. */
static void test_sink_writes(void)
{
    connect_q();
    redisContext *sub = client();
    ASSERT(sub != NULL);
    redisReply *r = redisCommand(sub, "PSUBSCRIBE tickpipe:*");
    ASSERT(r != NULL);
    freeReplyObject(r);

    uint32_t a = instr("test:AAA"), b = instr("test:BBB");
    struct tp_redis_sink *s = new_sink(5, 1000);
    uint64_t ack[2];
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    ASSERT_EQ_U64(ack[0], 0);
    ASSERT_EQ_U64(ack[1], 0);

    /* Input: trades and quotes; B's last trade comes before an older one in log order. */
    struct tp_event ev[] = {
        trade(a, T0 + 1, 100.5, 1),       trade(b, T0 + 5, 20.25, 3),
        quote(a, T0 + 2, 100.25, 100.75), trade(a, T0 + 3, 101.125, 0.5),
        trade(b, T0 + 4, 19, 1),         /* older than B's last */
        quote(a, T0 + 2, 100.5, 100.75), /* equal time: applied (not older) */
    };
    struct tp_event st;
    tp_event_init(&st, TP_KIND_STATUS);
    st.instr = a;
    st.status = TP_ST_CONNECTED;
    st.ts = T0;
    ASSERT_EQ_INT(put_event(s, 0, &st), 0);
    for (size_t i = 0; i < TP_ARRAY_LEN(ev); i++) ASSERT_EQ_INT(put_event(s, 1 + i, &ev[i]), 0);
    /* Output: 8 one-second bars of A (the stream keeps about 5), one 1m bar of B. */
    for (int i = 0; i < 8; i++) {
        struct tp_bar br = bar(a, TP_NS_PER_SEC, T0 + i * TP_NS_PER_SEC, 100 + i);
        ASSERT_EQ_INT(put_bar(s, (uint64_t)i, &br), 0);
    }
    struct tp_bar bb = bar(b, 60 * TP_NS_PER_SEC, T0, 20);
    ASSERT_EQ_INT(put_bar(s, 8, &bb), 0);
    flush(s, 7, 9);

    char v[64];
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "price", v, sizeof v), "101.125");
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "size", v, sizeof v), "0.5");
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "ts", v, sizeof v),
                  "2026-11-23T12:34:00.000000003Z");
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "ts_ns", v, sizeof v), "1795437240000000003");
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "bid", v, sizeof v), "100.5");
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "ask", v, sizeof v), "100.75");
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "quote_ts_ns", v, sizeof v),
                  "1795437240000000002");
    ASSERT_EQ_STR(hget("tickpipe:last:test:BBB", "price", v, sizeof v), "20.25");
    ASSERT_EQ_STR(hget("tickpipe:last:test:BBB", "size", v, sizeof v), "3");

    /* A later batch with an older trade of A changes nothing; a newer one of B applies. */
    struct tp_event old = trade(a, T0, 1, 1), nb = trade(b, T0 + 6, 21, 2);
    ASSERT_EQ_INT(put_event(s, 7, &old), 0);
    ASSERT_EQ_INT(put_event(s, 8, &nb), 0);
    flush(s, 9, 9);
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "price", v, sizeof v), "101.125");
    ASSERT_EQ_STR(hget("tickpipe:last:test:BBB", "price", v, sizeof v), "21");
    struct tp_redis_stats rs;
    tp_redis_sink_stats(s, &rs);
    ASSERT_EQ_U64(rs.last_older, 1);

    /* Streams: ids from the bar time, capped near maxlen, fields named as the bar columns. */
    long long len = int_cmd("XLEN %s", "tickpipe:bars:test:AAA:1s");
    if (len < 5 || len > 8) TPT_FAIL("stream length %lld, want 5..8", len);
    r = cmd("XREVRANGE tickpipe:bars:test:AAA:1s + - COUNT 1");
    ASSERT(r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    ASSERT_EQ_STR(r->element[0]->element[0]->str, "1795437247000-0");
    redisReply *f = r->element[0]->element[1];
    ASSERT_EQ_INT(f->elements, 2 * 26);
    ASSERT_EQ_STR(f->element[0]->str, "instrument");
    ASSERT_EQ_STR(f->element[1]->str, "test:AAA");
    ASSERT_EQ_STR(f->element[3]->str, "1s");
    ASSERT_EQ_STR(f->element[4]->str, "ts");
    ASSERT_EQ_STR(f->element[5]->str, "2026-11-23T12:34:07.000000000Z");
    ASSERT_EQ_STR(f->element[12]->str, "close");
    ASSERT_EQ_STR(f->element[13]->str, "107");
    ASSERT_EQ_STR(f->element[30]->str, "sma_20");
    ASSERT_EQ_STR(f->element[31]->str, "106");
    ASSERT_EQ_STR(f->element[33]->str, ""); /* ema_20 is null */
    freeReplyObject(r);
    ASSERT_EQ_INT(int_cmd("XLEN %s", "tickpipe:bars:test:BBB:1m"), 1);

    /* Publications: 6 ticks (not the status) + 9 bars + 2 ticks of the second batch. */
    int got = 0, ticks = 0, bars = 0;
    while (got < 17) {
        void *m = NULL;
        if (redisGetReply(sub, &m) != REDIS_OK)
            TPT_FAIL("subscriber: %s after %d", sub->errstr, got);
        r = m;
        ASSERT(r->type == REDIS_REPLY_ARRAY && r->elements == 4);
        const char *chan = r->element[2]->str, *msg = r->element[3]->str;
        if (!strncmp(chan, "tickpipe:ticks:", 15)) {
            ticks++;
            ASSERT(strstr(msg, "\"kind\":\"") != NULL);
            ASSERT(strstr(msg, "\"ts_ns\":\"17954372400000000") != NULL);
        } else if (!strncmp(chan, "tickpipe:bars:", 14)) {
            bars++;
            ASSERT(strstr(msg, "\"interval\":\"1") != NULL);
            ASSERT(strstr(msg, "\"final\":true") != NULL);
        }
        freeReplyObject(r);
        got++;
    }
    ASSERT_EQ_INT(ticks, 8);
    ASSERT_EQ_INT(bars, 9);

    /* A replay after a reconnect: the runner re-sends from older offsets (here from 0). The
     * streams gain nothing, the last state keeps its newer values, nothing is published. */
    tp_redis_sink_ops.close(s);
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    ASSERT_EQ_U64(ack[0], 9);
    ASSERT_EQ_U64(ack[1], 9);
    for (size_t i = 0; i < TP_ARRAY_LEN(ev); i++) ASSERT_EQ_INT(put_event(s, 1 + i, &ev[i]), 0);
    for (int i = 0; i < 8; i++) {
        struct tp_bar br = bar(a, TP_NS_PER_SEC, T0 + i * TP_NS_PER_SEC, 100 + i);
        ASSERT_EQ_INT(put_bar(s, (uint64_t)i, &br), 0);
    }
    ASSERT_EQ_INT(put_bar(s, 8, &bb), 0);
    flush(s, 7, 9);
    ASSERT_EQ_INT(int_cmd("XLEN %s", "tickpipe:bars:test:AAA:1s"), len);
    ASSERT_EQ_INT(int_cmd("XLEN %s", "tickpipe:bars:test:BBB:1m"), 1);
    ASSERT_EQ_STR(hget("tickpipe:last:test:BBB", "price", v, sizeof v), "21");
    tp_redis_sink_stats(s, &rs);
    ASSERT_EQ_U64(rs.bars_present, 9);
    ASSERT_EQ_U64(rs.bars_added, 9);
    ASSERT_EQ_U64(rs.published, 17);
    /* Nothing more reached the subscriber (a PING through the pub/sub connection answers
     * first if no message is queued before it). */
    r = redisCommand(sub, "PING");
    ASSERT(r != NULL);
    ASSERT(r->type == REDIS_REPLY_ARRAY && !strcmp(r->element[0]->str, "pong"));
    freeReplyObject(r);

    tp_redis_sink_ops.free(s);
    redisFree(sub);
    disconnect_q();
}

/* A flushed script cache: the data commands ran, the scripts are loaded and sent again. */
static void test_noscript(void)
{
    connect_q();
    uint32_t a = instr("test:AAA");
    struct tp_redis_sink *s = new_sink(0, 1000);
    uint64_t ack[2];
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    struct tp_event e = trade(a, T0 + 10, 55, 1);
    ASSERT_EQ_INT(put_event(s, 0, &e), 0);
    flush(s, 1, 0);
    freeReplyObject(cmd("SCRIPT FLUSH"));
    e = trade(a, T0 + 11, 56, 1);
    ASSERT_EQ_INT(put_event(s, 1, &e), 0);
    struct tp_bar br = bar(a, TP_NS_PER_SEC, T0, 56);
    ASSERT_EQ_INT(put_bar(s, 0, &br), 0);
    flush(s, 2, 1);
    char v[32];
    ASSERT_EQ_STR(hget("tickpipe:last:test:AAA", "price", v, sizeof v), "56");
    ASSERT_EQ_INT(int_cmd("XLEN %s", "tickpipe:bars:test:AAA:1s"), 1);
    struct tp_redis_stats rs;
    tp_redis_sink_stats(s, &rs);
    ASSERT_EQ_U64(rs.noscript, 1);
    ASSERT_EQ_U64(rs.published, 3);
    tp_redis_sink_ops.free(s);
    disconnect_q();
}

/* Batches: write asks for a flush after `batch` records. A malformed stored offset is fatal;
 * a server that goes away is a retryable error (never -EIO/-EBADMSG), and open fails until
 * it is back, then resumes from the stored offsets. */
static void test_batch_and_outage(void)
{
    connect_q();
    uint32_t a = instr("test:AAA");
    struct tp_redis_sink *s = new_sink(0, 4);
    uint64_t ack[2];
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    for (int i = 0; i < 4; i++) {
        struct tp_event e = trade(a, T0 + i, 10 + i, 1);
        ASSERT_EQ_INT(put_event(s, (uint64_t)i, &e), i == 3);
    }
    flush(s, 4, 0);
    tp_redis_sink_ops.close(s);

    freeReplyObject(cmd("HSET tickpipe:offsets redis.output x12"));
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), -EBADMSG);
    freeReplyObject(cmd("HSET tickpipe:offsets redis.output 0"));

    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    struct tp_event e = trade(a, T0 + 9, 99, 1);
    ASSERT_EQ_INT(put_event(s, 4, &e), 0);
    disconnect_q();
    server_stop();
    int rc = tp_redis_sink_ops.flush(s, false, ack);
    if (rc >= 0 || rc == -EIO || rc == -EBADMSG) TPT_FAIL("flush to a dead server gave %d", rc);
    tp_redis_sink_ops.close(s);
    rc = tp_redis_sink_ops.open(s, ack);
    ASSERT_EQ_INT(rc, -ECONNREFUSED);
    /* The server comes back empty (no persistence): the sink starts over at offset 0. */
    server_start();
    q = client();
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    ASSERT_EQ_U64(ack[0], 0);
    tp_redis_sink_ops.free(s);
    disconnect_q();
}

/* AUTH with a password (and a user), SELECT of the URL's database; a wrong password is a
 * retryable -EACCES (the runner logs it and retries: the password may be rotated). */
static void test_auth_and_db(void)
{
    connect_q();
    freeReplyObject(cmd("CONFIG SET requirepass %s", "s3cret/x"));
    freeReplyObject(cmd("AUTH %s", "s3cret/x"));
    char url[96], err[128];
    struct tp_redis_sink *s;
    uint64_t ack[2];
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d/2", srv_port);
    struct tp_redis_cfg cfg = {.url = url};
    ASSERT_EQ_INT(tp_redis_sink_new(&cfg, &s, err, sizeof err), 0);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d/2", srv_port);
    ASSERT_EQ_STR(tp_redis_sink_where(s), where);
    ASSERT(!strstr(tp_redis_sink_where(s), "wrong"));
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), -EACCES);
    tp_redis_sink_ops.free(s);

    snprintf(url, sizeof url, "redis://default:s3cret%%2Fx@127.0.0.1:%d/2", srv_port);
    ASSERT_EQ_INT(tp_redis_sink_new(&cfg, &s, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_redis_sink_ops.open(s, ack), 0);
    struct tp_event e = trade(instr("test:DB"), T0, 7, 1);
    ASSERT_EQ_INT(put_event(s, 0, &e), 0);
    ASSERT_EQ_INT(tp_redis_sink_ops.flush(s, true, ack), 0);
    ASSERT_EQ_U64(ack[0], 1);
    tp_redis_sink_ops.free(s);
    char v[16];
    ASSERT_EQ_STR(hget("tickpipe:last:test:DB", "price", v, sizeof v), ""); /* not in db 0 */
    freeReplyObject(cmd("SELECT 2"));
    ASSERT_EQ_STR(hget("tickpipe:last:test:DB", "price", v, sizeof v), "7");
    freeReplyObject(cmd("FLUSHDB"));
    freeReplyObject(cmd("CONFIG SET requirepass %s", ""));
    disconnect_q();
}

TPT_MAIN({"url", test_url}, {"keys_and_ids", test_keys_and_ids},
         {"script_guard", test_script_guard}, {"sink_writes", test_sink_writes},
         {"noscript", test_noscript}, {"auth_and_db", test_auth_and_db},
         {"batch_and_outage", test_batch_and_outage})
