/*
 * serve_demo.c — the HTTP server on its own, fed with synthetic data, for the integration and
 * browser tests (tests/integration/serve_api.sh, dashboard_e2e.sh) until `tickpipe run` wires
 * the real pipeline to it.
 *
 *   serve_demo [--http ADDR:PORT] [--rate EVENTS_PER_S] [--seconds N] [--seed N]
 *              [--history MINUTES] [--spike-every SECONDS] [--client-queue N]
 *
 * It starts the server (port 0 picks a free one; the token comes from TICKPIPE_TOKEN), prints
 * `listening on http://HOST:PORT` on stdout, then plays the part of the pipeline: a random walk
 * of trades and quotes for sim:BTC-USD, sim:ETH-USD and sim:SOL-USD plus quotes for the
 * quote-only fmp:EUR-USD, bars for 1s, 1m and 5m built here (open-bar updates on every trade,
 * final bars with the real indicators of engine/indicator.h), the real return z-score detector
 * on a path with a price spike injected every --spike-every seconds (so anomalies appear), and
 * status and counters for /metrics. Event times are the wall clock; --history minutes of past
 * trades are published first so the charts have bars and warm indicators at once.
 * SIGINT/SIGTERM (or --seconds) stop it cleanly: exit 0.
 */
#include <math.h>
#include <signal.h>
#include <time.h>

#include "core/instrument.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "engine/anomaly.h"
#include "engine/indicator.h"
#include "serve/serve.h"

#define NTRADED 3
#define NIV     3

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct series {
    int64_t iv;
    struct tp_bar bar; /* the open bar; valid when open */
    bool open;
    struct tp_ind *ind;
};

struct sym {
    uint32_t id;
    double price, tick;
    struct series s[NIV];
    struct tp_retz *retz;
    uint64_t trade_id;
};

struct demo {
    struct tp_live *live;
    struct tp_rng rng;
    struct sym sym[NTRADED];
    uint32_t fx;
    double fx_mid;
    uint64_t events;
};

static const int64_t intervals[NIV] = {TP_NS_PER_SEC, 60 * TP_NS_PER_SEC, 300 * TP_NS_PER_SEC};

static void bar_start(struct tp_bar *b, uint32_t id, int64_t iv, int64_t ts, double p)
{
    memset(b, 0, sizeof(*b));
    b->instr = id;
    b->interval_ns = iv;
    b->ts = tp_window_start(ts, iv);
    b->open = b->high = b->low = b->close = p;
    b->first_ts = b->last_ts = ts;
    b->vwap = NAN;
    tp_ind_values_clear(&b->ind);
}

/* Adds a trade to the symbol's bars, closing windows that ended (the demo's watermark is the
 * trade time itself: no lateness, unlike the engine). */
static void bars_trade(struct demo *d, struct sym *y, int64_t ts, double p, double q, int side)
{
    for (int k = 0; k < NIV; k++) {
        struct series *s = &y->s[k];
        int64_t w = tp_window_start(ts, s->iv);
        if (s->open && w > s->bar.ts) {
            s->bar.final = true;
            tp_ind_update(s->ind, s->bar.high, s->bar.low, s->bar.close, &s->bar.ind);
            tp_live_bar_final(d->live, &s->bar);
            s->open = false;
        }
        if (!s->open) {
            bar_start(&s->bar, y->id, s->iv, ts, p);
            s->open = true;
        }
        struct tp_bar *b = &s->bar;
        if (p > b->high) b->high = p;
        if (p < b->low) b->low = p;
        b->close = p;
        b->volume += q;
        b->notional += p * q;
        b->vwap = fmin(b->high, fmax(b->low, b->notional / b->volume));
        b->trades++;
        if (side == TP_SIDE_BUY)
            b->buy_volume += q;
        else
            b->sell_volume += q;
        b->last_ts = ts;
        tp_live_bar_update(d->live, b);
    }
}

static void trade(struct demo *d, struct sym *y, int64_t ts, bool spike)
{
    double r = 0.0004 * tp_rng_normal(&d->rng);
    if (spike) r = (tp_rng_uniform(&d->rng) < 0.5 ? -1 : 1) * 0.02;
    double inv = round(1 / y->tick); /* prices on the tick grid, printed without noise */
    y->price = fmax(y->tick, round(y->price * exp(r) * inv) / inv);
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.ts = ts;
    e.ts_recv = ts + 150 * TP_NS_PER_US;
    e.instr = y->id;
    e.flags |= TP_EV_TS_VENUE;
    e.price = y->price;
    e.size = round((tp_rng_exp(&d->rng, 0.5) + 0.0001) * 1e4) / 1e4;
    e.side = tp_rng_uniform(&d->rng) < 0.5 ? TP_SIDE_BUY : TP_SIDE_SELL;
    tp_event_set_id(&e, ++y->trade_id);
    const char *name = tp_instr_name(y->id);
    const char *colon = strchr(name, ':');
    tp_event_set_vsym(&e, colon + 1, strlen(colon + 1));
    tp_live_event(d->live, &e);
    d->events++;
    bars_trade(d, y, ts, e.price, e.size, e.side);
    struct tp_anomaly a;
    if (tp_retz_update(y->retz, ts, e.price, y->tick, &a)) {
        a.instr = y->id;
        tp_live_anomaly(d->live, &a);
    }
}

static void quote(struct demo *d, int64_t ts)
{
    d->fx_mid *= exp(0.00005 * tp_rng_normal(&d->rng));
    struct tp_event e;
    tp_event_init(&e, TP_KIND_QUOTE);
    e.ts = ts;
    e.ts_recv = ts + 200 * TP_NS_PER_US;
    e.instr = d->fx;
    e.flags |= TP_EV_QUOTE_ONLY;
    e.bid = round((d->fx_mid - 0.00005) * 1e5) / 1e5;
    e.ask = round((d->fx_mid + 0.00005) * 1e5) / 1e5;
    e.bid_size = 1e6;
    e.ask_size = 1e6;
    tp_event_set_vsym(&e, "EURUSD", 6);
    tp_live_event(d->live, &e);
    d->events++;
}

static void status(struct demo *d, uint32_t id, enum tp_status st, int64_t ts)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_STATUS);
    e.ts = e.ts_recv = ts;
    e.instr = id;
    e.status = (uint8_t)st;
    tp_live_event(d->live, &e);
}

static int num_arg(const char *flag, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "serve_demo: bad %s (expected %lld..%lld)\n", flag, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static void sleep_ns(int64_t ns)
{
    struct timespec t = {.tv_sec = ns / TP_NS_PER_SEC, .tv_nsec = ns % TP_NS_PER_SEC};
    nanosleep(&t, NULL);
}

int main(int argc, char **argv)
{
    struct tp_serve_cfg cfg;
    tp_serve_cfg_default(&cfg);
    cfg.http = "127.0.0.1:0";
    long long rate = 50, seconds = 0, seed = 1, history = 60, spike_every = 10, queue = 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--http") && v)
            cfg.http = v;
        else if (!strcmp(a, "--rate"))
            rc = num_arg(a, v, 1, 1000000, &rate);
        else if (!strcmp(a, "--seconds"))
            rc = num_arg(a, v, 0, 86400, &seconds);
        else if (!strcmp(a, "--seed"))
            rc = num_arg(a, v, 0, INT64_MAX, &seed);
        else if (!strcmp(a, "--history"))
            rc = num_arg(a, v, 0, 1440, &history);
        else if (!strcmp(a, "--spike-every"))
            rc = num_arg(a, v, 1, 86400, &spike_every);
        else if (!strcmp(a, "--client-queue"))
            rc = num_arg(a, v, 1, 65536, &queue);
        else {
            fprintf(stderr, "serve_demo: unknown argument %s\n", a);
            return TP_EXIT_USAGE;
        }
        if (rc) return TP_EXIT_USAGE;
        i++;
    }
    cfg.client_queue = (uint32_t)queue;
    cfg.token = getenv("TICKPIPE_TOKEN");

    struct demo d;
    memset(&d, 0, sizeof(d));
    tp_rng_seed(&d.rng, (uint64_t)seed);
    d.live = tp_live_new(NULL);
    if (!d.live) return TP_EXIT_RUNTIME;
    static const char *const names[NTRADED] = {"sim:BTC-USD", "sim:ETH-USD", "sim:SOL-USD"};
    static const double start[NTRADED] = {64000, 3100, 145}, ticks[NTRADED] = {0.01, 0.01, 0.001};
    struct tp_anomaly_cfg acfg;
    tp_anomaly_cfg_default(&acfg);
    struct tp_ind_cfg icfg;
    tp_ind_cfg_default(&icfg);
    int rc = TP_EXIT_RUNTIME;
    for (int k = 0; k < NTRADED; k++) {
        struct sym *y = &d.sym[k];
        if (tp_instr_intern(names[k], strlen(names[k]), &y->id)) goto out_free;
        tp_instr_set_tick(y->id, ticks[k]);
        y->price = start[k];
        y->tick = ticks[k];
        if (!(y->retz = tp_retz_new(&acfg))) goto out_free;
        for (int j = 0; j < NIV; j++) {
            y->s[j].iv = intervals[j];
            if (!(y->s[j].ind = tp_ind_new(&icfg))) goto out_free;
        }
    }
    if (tp_instr_intern("fmp:EUR-USD", 11, &d.fx)) goto out_free;
    d.fx_mid = 1.0850;

    char err[256];
    struct tp_serve *srv;
    int src = tp_serve_start(d.live, &cfg, &srv, err, sizeof(err));
    if (src) {
        fprintf(stderr, "serve_demo: %s\n", err);
        rc = src == -EPERM || src == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
        goto out_free;
    }
    char host[64];
    int port;
    bool lo;
    tp_serve_parse_addr(cfg.http, host, sizeof(host), &port, &lo);
    printf("listening on http://%s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", tp_serve_port(srv));
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int64_t now = tp_now_ns();
    for (int k = 0; k < NTRADED; k++) status(&d, d.sym[k].id, TP_ST_CONNECTED, now);
    status(&d, d.fx, TP_ST_SUBSCRIBED, now);
    tp_live_set_source(d.live, "sim", TP_ST_CONNECTED, 0, 0);
    tp_live_set_source(d.live, "fmp", TP_ST_SUBSCRIBED, 0, 0);
    tp_live_set_sink(d.live, "lake", 0, 0);
    /* A second sink that stays down (the health panel's failing row). */
    tp_live_set_sink(d.live, "redis", 0, 1);
    tp_live_set_sink_health(d.live, "redis", false, 0, "Connection refused");

    /* History: one trade per instrument every 2 s (a spike now and then), fast. */
    int64_t t0 = now - history * 60 * TP_NS_PER_SEC;
    for (int64_t t = t0; t < now; t += 2 * TP_NS_PER_SEC) {
        for (int k = 0; k < NTRADED; k++)
            trade(&d, &d.sym[k], t + k * 1000, tp_rng_below(&d.rng, 400) == 0);
        quote(&d, t);
    }

    /* Live: `rate` events per second in 1 ms steps; a spike every spike_every seconds. */
    int64_t begin = tp_mono_ns(), next_spike = begin + spike_every * TP_NS_PER_SEC;
    int64_t next_sec = begin + TP_NS_PER_SEC;
    uint64_t due_total = 0;
    unsigned spike_k = 0;
    while (!stop_flag) {
        int64_t m = tp_mono_ns();
        if (seconds && m - begin >= seconds * TP_NS_PER_SEC) break;
        uint64_t due = (uint64_t)((double)(m - begin) / 1e9 * (double)rate);
        bool spike = m >= next_spike;
        if (spike) next_spike += spike_every * TP_NS_PER_SEC;
        for (; due_total < due || spike; due_total++) {
            int64_t ts = tp_now_ns();
            unsigned k = (unsigned)(due_total % (NTRADED + 1));
            if (spike) {
                trade(&d, &d.sym[spike_k++ % NTRADED], ts, true);
                spike = false;
                continue;
            }
            if (k == NTRADED)
                quote(&d, ts);
            else
                trade(&d, &d.sym[k], ts, false);
        }
        if (m >= next_sec) {
            next_sec += TP_NS_PER_SEC;
            struct tp_live_counters c = {
                .events_in = d.events,
                .events_out = d.events,
                .late = d.events / 1000,
                .duplicates = d.events / 5000,
                .bad = 0,
                .lag_ns = 150 * TP_NS_PER_US + (int64_t)tp_rng_below(&d.rng, 100000),
                .watermark_lag_ns = 2 * TP_NS_PER_SEC,
            };
            tp_live_set_counters(d.live, &c);
            tp_live_set_source(d.live, "sim", TP_ST_CONNECTED, d.events, 0);
            tp_live_set_sink(d.live, "lake", d.events, 0);
            tp_live_set_sink_health(d.live, "lake", true, tp_rng_below(&d.rng, 100), NULL);
            tp_live_set_sink_health(d.live, "redis", false, d.events, "Connection refused");
            tp_live_set_queue(d.live, "input", tp_rng_below(&d.rng, 64), 65536, 0);
            int64_t ts = tp_now_ns();
            for (int k = 0; k < NTRADED; k++) {
                struct tp_event hb;
                tp_event_init(&hb, TP_KIND_STATUS);
                hb.ts = hb.ts_recv = ts;
                hb.instr = d.sym[k].id;
                hb.status = TP_ST_HEARTBEAT;
                tp_live_event(d.live, &hb);
            }
        }
        sleep_ns(TP_NS_PER_MS);
    }
    tp_serve_stop(srv);
    rc = TP_EXIT_OK;
out_free:
    for (int k = 0; k < NTRADED; k++) {
        tp_retz_free(d.sym[k].retz);
        for (int j = 0; j < NIV; j++) tp_ind_free(d.sym[k].s[j].ind);
    }
    tp_live_free(d.live);
    return rc;
}
