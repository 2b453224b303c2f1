/*
 * test_sim.c — the market simulator: determinism for a seed whatever the pacing (generator and
 * source thread), instruments and kinds per asset class, quote-only forex, heartbeats at least
 * once per second of event time, prices on tick, statistical sanity of arrivals and returns,
 * resume from journal records, the finite run (max events, eof), the live full-ring policy
 * (drops become gap records), and price shocks (--sim-shock).
 */
#include <math.h>
#include <pthread.h>

#include "core/instrument.h"
#include "core/num.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "source/sim.h"
#include "tpt.h"

#define START INT64_C(1795437240000000000) /* 2026-11-23T12:34:00Z */

static struct tp_sim *new_sim(uint64_t seed, double rate, double jumps, const char *const *syms,
                              size_t nsyms)
{
    struct tp_sim_opts o = {.seed = seed,
                            .start_ns = START,
                            .rate = rate,
                            .jumps_per_hour = jumps,
                            .symbols = syms,
                            .nsymbols = nsyms};
    struct tp_sim *s = NULL;
    int rc = tp_sim_new(&o, &s, NULL);
    if (rc) TPT_FAIL("tp_sim_new: %d", rc);
    return s;
}

static bool same_dbl(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static bool same_event(const struct tp_event *a, const struct tp_event *b)
{
    return a->ts == b->ts && a->ts_recv == b->ts_recv && a->instr == b->instr &&
           a->kind == b->kind && a->side == b->side && a->status == b->status &&
           a->flags == b->flags && same_dbl(a->price, b->price) && same_dbl(a->size, b->size) &&
           same_dbl(a->bid, b->bid) && same_dbl(a->ask, b->ask) &&
           same_dbl(a->bid_size, b->bid_size) && same_dbl(a->ask_size, b->ask_size) &&
           a->trade_id == b->trade_id && a->gap_last == b->gap_last &&
           !strcmp(a->venue_symbol, b->venue_symbol);
}

#define DET_N 100000

static void test_deterministic_whatever_the_pacing(void)
{
    struct tp_event *a = malloc(DET_N * sizeof *a), *b = malloc(DET_N * sizeof *b);
    ASSERT(a && b);
    struct tp_sim *s = new_sim(7, 5000, -1, NULL, 0);
    for (size_t i = 0; i < DET_N; i++) ASSERT(tp_sim_next(s, INT64_MAX, &a[i]));
    tp_sim_free(s);

    /* The same sim, asked with a limit that creeps forward in random steps (as live pacing
     * does), returns the same items. */
    s = new_sim(7, 5000, -1, NULL, 0);
    struct tp_rng pace;
    tp_rng_seed(&pace, 99);
    int64_t limit = START - 1;
    size_t n = 0, refused = 0;
    while (n < DET_N) {
        if (tp_sim_next(s, limit, &b[n])) {
            if (b[n].ts > limit) TPT_FAIL("item %zu ts %lld past limit", n, (long long)b[n].ts);
            n++;
        } else {
            refused++;
            ASSERT(tp_sim_peek_ts(s) > limit);
            limit += (int64_t)tp_rng_below(&pace, 3 * TP_NS_PER_MS);
        }
    }
    tp_sim_free(s);
    ASSERT(refused > 1000);
    for (size_t i = 0; i < DET_N; i++)
        if (!same_event(&a[i], &b[i])) TPT_FAIL("item %zu differs between pacings", i);

    /* Another seed gives another path. */
    s = new_sim(8, 5000, -1, NULL, 0);
    size_t differ = 0;
    for (size_t i = 0; i < 1000; i++) {
        ASSERT(tp_sim_next(s, INT64_MAX, &b[i]));
        differ += !same_event(&a[i], &b[i]);
    }
    tp_sim_free(s);
    ASSERT(differ > 900);
    free(a);
    free(b);
}

struct collect {
    struct tp_source *src;
    struct tp_ring ring;
    struct tp_bell bell;
};

static void *stop_thread(void *arg)
{
    tp_source_stop(arg);
    return NULL;
}

/* Drains the ring while the source stops, so its last records find room. */
static void stop_and_drain(struct collect *c, struct tp_event *out, size_t *n, size_t cap)
{
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, stop_thread, c->src), 0);
    struct tp_event tmp[64];
    for (int idle = 0; idle < 200;) {
        size_t k = tp_ring_pop(&c->ring, tmp, 64);
        if (!k) {
            idle++;
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            continue;
        }
        for (size_t i = 0; i < k && out && *n < cap; i++) out[(*n)++] = tmp[i];
    }
    pthread_join(t, NULL);
}

static void test_source_max_pace_matches_generator(void)
{
    const size_t N = 30000;
    struct tp_event *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    ASSERT(a && b);
    struct tp_sim *s = new_sim(3, 100000, -1, NULL, 0);
    for (size_t i = 0; i < N; i++) ASSERT(tp_sim_next(s, INT64_MAX, &a[i]));
    tp_sim_free(s);

    struct collect c;
    struct tp_sim_source_opts o = {.seed = 3, .rate = 100000, .max_pace = true, .start_ns = START};
    char err[256];
    ASSERT_EQ_INT(tp_sim_source_new("sim", &o, &c.src, err, sizeof err), 0);
    ASSERT(!c.src->live);
    tp_bell_init(&c.bell);
    ASSERT_EQ_INT(tp_ring_init(&c.ring, 512, &c.bell), 0);
    c.src->ring = &c.ring;
    ASSERT_EQ_INT(tp_source_start(c.src), 0);
    size_t n = 0;
    while (n < N) {
        size_t k = tp_ring_pop(&c.ring, b + n, N - n);
        if (!k) sched_yield();
        n += k;
    }
    stop_and_drain(&c, NULL, NULL, 0);
    ASSERT_EQ_U64(tp_ring_drops(&c.ring), 0);
    tp_source_free(c.src);
    tp_ring_fini(&c.ring);
    for (size_t i = 0; i < N; i++)
        if (!same_event(&a[i], &b[i])) TPT_FAIL("item %zu differs from the generator", i);
    free(a);
    free(b);
}

/* Index of a known symbol in the simulator's instrument list. */
static size_t index_of(struct tp_sim *s, uint32_t id)
{
    for (size_t i = 0; i < tp_sim_ninstr(s); i++)
        if (tp_sim_instr(s, i) == id) return i;
    TPT_FAIL("instrument %u is not the sim's", id);
}

static void test_instruments_and_kinds(void)
{
    struct tp_sim *s = new_sim(1, 1000, -1, NULL, 0);
    size_t ni = tp_sim_ninstr(s);
    ASSERT_EQ_INT(ni, 10);
    const char *crypto[] = {"sim:BTC-USD", "sim:ETH-USD", "sim:SOL-USD", "sim:DOGE-USD"};
    const char *equity[] = {"sim:AAPL", "sim:MSFT", "sim:NVDA"};
    const char *fx[] = {"sim:EUR-USD", "sim:GBP-USD", "sim:USD-JPY"};
    uint64_t trades[16] = {0}, quotes[16] = {0}, status[16] = {0};
    uint64_t last_id[16] = {0}, buys = 0, sells = 0;
    for (int k = 0; k < 60000; k++) {
        struct tp_event e;
        ASSERT(tp_sim_next(s, INT64_MAX, &e));
        size_t i = index_of(s, e.instr);
        ASSERT_EQ_INT(e.ts_recv, e.ts);
        ASSERT(e.flags & TP_EV_TS_VENUE);
        ASSERT_EQ_INT(!!(e.flags & TP_EV_QUOTE_ONLY), tp_sim_quote_only(s, i));
        const char *name = tp_instr_name(e.instr);
        ASSERT_EQ_STR(e.venue_symbol, name + 4);
        if (e.kind == TP_KIND_TRADE) {
            trades[i]++;
            ASSERT(e.flags & TP_EV_HAS_ID);
            ASSERT(!(e.flags & TP_EV_ID_STR));
            if (last_id[i]) ASSERT_EQ_U64(e.trade_id, last_id[i] + 1);
            last_id[i] = e.trade_id;
            ASSERT(e.side == TP_SIDE_BUY || e.side == TP_SIDE_SELL);
            buys += e.side == TP_SIDE_BUY;
            sells += e.side == TP_SIDE_SELL;
            ASSERT(e.price > 0 && e.size > 0);
            ASSERT(isnan(e.bid) && isnan(e.ask));
        } else if (e.kind == TP_KIND_QUOTE) {
            quotes[i]++;
            ASSERT(e.bid > 0 && e.ask > e.bid && e.bid_size > 0 && e.ask_size > 0);
            ASSERT(isnan(e.price) && isnan(e.size));
            ASSERT(!(e.flags & TP_EV_HAS_ID));
        } else {
            ASSERT_EQ_INT(e.kind, TP_KIND_STATUS);
            ASSERT(e.status == TP_ST_CONNECTED || e.status == TP_ST_HEARTBEAT);
            status[i]++;
        }
    }
    for (size_t k = 0; k < 4; k++) {
        size_t i = index_of(s, tp_instr_find(crypto[k], strlen(crypto[k])));
        ASSERT(!tp_sim_quote_only(s, i) && trades[i] > 100 && quotes[i] > 100);
    }
    for (size_t k = 0; k < 3; k++) {
        size_t i = index_of(s, tp_instr_find(equity[k], strlen(equity[k])));
        ASSERT(!tp_sim_quote_only(s, i) && trades[i] > 100 && quotes[i] > 100);
    }
    for (size_t k = 0; k < 3; k++) {
        size_t i = index_of(s, tp_instr_find(fx[k], strlen(fx[k])));
        ASSERT(tp_sim_quote_only(s, i));
        ASSERT_EQ_U64(trades[i], 0);
        ASSERT(quotes[i] > 100 && status[i] > 10);
    }
    ASSERT(buys > 0.45 * (double)(buys + sells) && sells > 0.45 * (double)(buys + sells));
    /* BTC starts near 60000. */
    struct tp_event e;
    size_t btc = index_of(s, tp_instr_find("sim:BTC-USD", 11));
    do ASSERT(tp_sim_next(s, INT64_MAX, &e));
    while (e.instr != tp_sim_instr(s, btc) || e.kind != TP_KIND_TRADE);
    ASSERT(e.price > 50000 && e.price < 70000);
    tp_sim_free(s);

    /* A subset, case-insensitive through the source spec; unknown and repeated symbols fail. */
    const char *sub[] = {"ETH-USD", "EUR-USD"};
    s = new_sim(1, 1000, -1, sub, 2);
    ASSERT_EQ_INT(tp_sim_ninstr(s), 2);
    ASSERT_EQ_STR(tp_instr_name(tp_sim_instr(s, 0)), "sim:ETH-USD");
    ASSERT(tp_sim_quote_only(s, 1));
    tp_sim_free(s);
    const char *bad[] = {"BTC-USD", "XYZ"};
    struct tp_sim_opts o = {
        .seed = 1, .start_ns = START, .rate = 10, .symbols = bad, .nsymbols = 2};
    size_t which = 99;
    ASSERT_EQ_INT(tp_sim_new(&o, &s, &which), -EINVAL);
    ASSERT_EQ_INT(which, 1);
    const char *twice[] = {"BTC-USD", "BTC-USD"};
    o.symbols = twice;
    ASSERT_EQ_INT(tp_sim_new(&o, &s, &which), -EINVAL);
    o.symbols = NULL;
    o.nsymbols = 0;
    o.rate = 0;
    ASSERT_EQ_INT(tp_sim_new(&o, &s, NULL), -EINVAL);

    struct tp_source *src;
    char err[256];
    struct tp_sim_source_opts so = {.seed = 1, .rate = 200};
    ASSERT_EQ_INT(tp_sim_source_new("sim:btc-usd,SOL-USD", &so, &src, err, sizeof err), 0);
    ASSERT(src->live);
    tp_source_free(src);
    ASSERT_EQ_INT(tp_sim_source_new("sim:BTC-USD,FOO", &so, &src, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "FOO"));
    ASSERT_EQ_INT(tp_sim_source_new("sim:", &so, &src, err, sizeof err), -EINVAL);
    so.rate = 1e9;
    ASSERT_EQ_INT(tp_sim_source_new("sim", &so, &src, err, sizeof err), -EINVAL);
}

static void test_heartbeats_every_second(void)
{
    /* A slow sim (few events per second) still writes heartbeats; so does a fast one. */
    double rates[] = {3, 20000};
    for (int r = 0; r < 2; r++) {
        struct tp_sim *s = new_sim(5, rates[r], -1, NULL, 0);
        size_t ni = tp_sim_ninstr(s);
        int64_t last_hb[TP_SIM_MAX_INSTR];
        for (size_t i = 0; i < ni; i++) last_hb[i] = INT64_MIN;
        int64_t prev_ts = INT64_MIN, prev_market = INT64_MIN, end = START + 120 * TP_NS_PER_SEC;
        uint64_t hbs = 0;
        struct tp_event e;
        while (tp_sim_next(s, end, &e)) {
            size_t i = index_of(s, e.instr);
            ASSERT(e.ts >= prev_ts);
            prev_ts = e.ts;
            if (e.kind == TP_KIND_STATUS) {
                if (e.status == TP_ST_CONNECTED) {
                    ASSERT_EQ_INT(e.ts, START);
                } else {
                    ASSERT_EQ_INT(e.status, TP_ST_HEARTBEAT);
                    ASSERT_EQ_INT(e.ts % TP_NS_PER_SEC, 0);
                    hbs++;
                }
                last_hb[i] = e.ts;
            } else {
                ASSERT(e.ts > prev_market);
                prev_market = e.ts;
            }
            /* Once all are connected, every instrument has had a connected or heartbeat
             * record within the last second. */
            if (e.kind == TP_KIND_STATUS && e.status == TP_ST_CONNECTED && i + 1 < ni) continue;
            for (size_t j = 0; j < ni; j++)
                if (last_hb[j] == INT64_MIN || e.ts - last_hb[j] > TP_NS_PER_SEC)
                    TPT_FAIL("rate %g: instrument %zu silent for more than 1 s at %lld", rates[r],
                             j, (long long)e.ts);
        }
        ASSERT_EQ_U64(hbs, 120 * ni);
        tp_sim_free(s);
    }
}

static int decimals_of(double v)
{
    char b[TP_NUM_STRLEN];
    tp_num_format(v, b);
    const char *dot = strchr(b, '.');
    ASSERT(!strchr(b, 'e'));
    return dot ? (int)strlen(dot + 1) : 0;
}

static void test_prices_on_tick(void)
{
    struct tp_sim *s = new_sim(11, 2000, 600, NULL, 0);
    int dec[TP_SIM_MAX_INSTR];
    for (size_t i = 0; i < tp_sim_ninstr(s); i++) {
        double tick = tp_instr_get(tp_sim_instr(s, i))->tick;
        ASSERT(tick > 0);
        dec[i] = (int)llround(-log10(tick));
        ASSERT_NEAR(tick, pow(10, -dec[i]), 1e-15);
    }
    ASSERT_NEAR(tp_instr_get(tp_instr_find("sim:BTC-USD", 11))->tick, 0.01, 1e-15);
    ASSERT_NEAR(tp_instr_get(tp_instr_find("sim:EUR-USD", 11))->tick, 0.00001, 1e-15);
    for (int k = 0; k < 50000; k++) {
        struct tp_event e;
        ASSERT(tp_sim_next(s, INT64_MAX, &e));
        size_t i = index_of(s, e.instr);
        double px[3] = {e.price, e.bid, e.ask};
        for (int j = 0; j < 3; j++) {
            if (isnan(px[j])) continue;
            double ticks = px[j] * pow(10, dec[i]);
            if (fabs(ticks - round(ticks)) > 1e-6 || decimals_of(px[j]) > dec[i])
                TPT_FAIL("%s price %.17g is not on its tick", tp_instr_name(e.instr), px[j]);
        }
        if (e.kind == TP_KIND_QUOTE) ASSERT(e.ask - e.bid >= pow(10, -dec[i]) * 0.999);
    }
    tp_sim_free(s);
}

/* Standardized mid returns of BTC between consecutive quotes: z = r / (sigma * sqrt(dt)). */
static void mid_returns(struct tp_sim *s, size_t nev, double sig_day, double *mean, double *var,
                        double *maxabs, size_t *outliers)
{
    uint32_t btc = tp_instr_find("sim:BTC-USD", 11);
    double prev = NAN, sum = 0, sum2 = 0, mx = 0;
    int64_t prev_ts = 0;
    size_t n = 0, out = 0;
    double sig_ns = sig_day / sqrt(86400e9);
    for (size_t k = 0; k < nev; k++) {
        struct tp_event e;
        ASSERT(tp_sim_next(s, INT64_MAX, &e));
        if (e.instr != btc || e.kind != TP_KIND_QUOTE) continue;
        double mid = log((e.bid + e.ask) / 2);
        if (!isnan(prev)) {
            double z = (mid - prev) / (sig_ns * sqrt((double)(e.ts - prev_ts)));
            if (fabs(z) > 8) {
                out++;
            } else {
                sum += z;
                sum2 += z * z;
                n++;
            }
            mx = fmax(mx, fabs(z));
        }
        prev = mid;
        prev_ts = e.ts;
    }
    *mean = sum / (double)n;
    *var = sum2 / (double)n - *mean * *mean;
    *maxabs = mx;
    *outliers = out;
}

static void test_statistics(void)
{
    /* Arrivals: Poisson at the rate (mean gap 1/rate, coefficient of variation 1), instruments
     * in proportion to their weights (BTC 20 of 100). */
    const double rate = 2000;
    struct tp_sim *s = new_sim(21, rate, 0, NULL, 0);
    uint32_t btc = tp_instr_find("sim:BTC-USD", 11);
    int64_t prev = INT64_MIN;
    double sum = 0, sum2 = 0, lsum = 0, lsum2 = 0;
    size_t n = 0, nbtc = 0, nsize = 0;
    while (n < 200000) {
        struct tp_event e;
        ASSERT(tp_sim_next(s, INT64_MAX, &e));
        if (e.kind == TP_KIND_STATUS) continue;
        if (prev != INT64_MIN) {
            double g = (double)(e.ts - prev) / 1e9;
            sum += g;
            sum2 += g * g;
        }
        prev = e.ts;
        n++;
        nbtc += e.instr == btc;
        if (e.instr == btc && e.kind == TP_KIND_TRADE) {
            lsum += log(e.size);
            lsum2 += log(e.size) * log(e.size);
            nsize++;
        }
    }
    double mean = sum / (double)(n - 1), sd = sqrt(sum2 / (double)(n - 1) - mean * mean);
    double lmean = lsum / (double)nsize, lsd = sqrt(lsum2 / (double)nsize - lmean * lmean);
    /* BTC sizes: lognormal around a median of 0.01 with a log-sd of 1.3 */
    ASSERT(nsize > 10000);
    ASSERT_NEAR(lmean, log(0.01), 0.03);
    ASSERT_NEAR(lsd, 1.3, 0.05);
    ASSERT_NEAR(mean * rate, 1.0, 0.02);
    ASSERT_NEAR(sd / mean, 1.0, 0.03);
    ASSERT_NEAR((double)nbtc / (double)n, 0.20, 0.01);
    tp_sim_free(s);

    /* Returns without jumps: Gaussian with BTC's volatility (3% a day), no fat tails. */
    double m, v, mx;
    size_t out;
    s = new_sim(22, rate, 0, NULL, 0);
    mid_returns(s, 200000, 0.03, &m, &v, &mx, &out);
    ASSERT(fabs(m) < 0.05);
    ASSERT_NEAR(v, 1.0, 0.08);
    ASSERT(mx < 6.5);
    ASSERT_EQ_INT(out, 0);
    tp_sim_free(s);

    /* With jumps (600 an hour per instrument, 100 s of event time: about 17 for BTC) there are
     * returns far outside the Gaussian, and the rest keep their variance. */
    s = new_sim(23, rate, 600, NULL, 0);
    mid_returns(s, 200000, 0.03, &m, &v, &mx, &out);
    ASSERT(out >= 6 && out <= 40);
    ASSERT(mx > 50);
    ASSERT_NEAR(v, 1.0, 0.1);
    tp_sim_free(s);
}

static void test_resume_continues_ids_and_prices(void)
{
    struct tp_sim *s = new_sim(31, 1000, 0, NULL, 0);
    uint32_t btc = tp_instr_find("sim:BTC-USD", 11), eth = tp_instr_find("sim:ETH-USD", 11);
    uint32_t sol = tp_instr_find("sim:SOL-USD", 11);
    int64_t last = START + 5 * TP_NS_PER_SEC;
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = btc;
    e.ts = last - 10;
    e.price = 65432.1;
    tp_event_set_id(&e, 777);
    tp_sim_resume(s, &e);
    e.ts = last - 20;
    tp_event_set_id(&e, 700); /* an older id does not move the counter back */
    tp_sim_resume(s, &e);
    tp_event_init(&e, TP_KIND_QUOTE);
    e.instr = eth;
    e.ts = last;
    e.bid = 2500;
    e.ask = 2500.02;
    tp_sim_resume(s, &e);
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = tp_instr_find("sim:BTC-USD", 11) + 1000; /* not the sim's: ignored */
    e.ts = last + 100 * TP_NS_PER_SEC;
    tp_sim_resume(s, &e);

    int64_t first = tp_sim_peek_ts(s);
    ASSERT_EQ_INT(first, last + TP_NS_PER_US);
    bool seen_btc = false, seen_eth = false, seen_sol = false;
    for (int k = 0; k < 20000 && !(seen_btc && seen_eth && seen_sol); k++) {
        ASSERT(tp_sim_next(s, INT64_MAX, &e));
        ASSERT(e.ts >= first);
        if (e.kind == TP_KIND_TRADE && e.instr == btc && !seen_btc) {
            ASSERT_EQ_U64(e.trade_id, 778);
            ASSERT(fabs(e.price / 65432.1 - 1) < 0.002);
            seen_btc = true;
        }
        if (e.kind == TP_KIND_TRADE && e.instr == eth && !seen_eth) {
            ASSERT(fabs(e.price / 2500.01 - 1) < 0.002);
            seen_eth = true;
        }
        if (e.kind == TP_KIND_TRADE && e.instr == sol && !seen_sol) {
            /* no history: ids from the start time in microseconds */
            ASSERT_EQ_U64(e.trade_id, (uint64_t)(first / 1000) + 1);
            seen_sol = true;
        }
    }
    ASSERT(seen_btc && seen_eth && seen_sol);
    tp_sim_free(s);

    /* When the records fed were the whole journal, an instrument without history starts at 1. */
    s = new_sim(31, 1000, 0, NULL, 0);
    tp_event_init(&e, TP_KIND_QUOTE);
    e.instr = eth;
    e.ts = last;
    e.bid = 2500;
    e.ask = 2500.02;
    tp_sim_resume(s, &e);
    tp_sim_resume_whole(s);
    do ASSERT(tp_sim_next(s, INT64_MAX, &e));
    while (e.instr != sol || e.kind != TP_KIND_TRADE);
    ASSERT_EQ_U64(e.trade_id, 1);
    tp_sim_free(s);
}

static void test_finite_run_ends_with_eof(void)
{
    struct collect c;
    struct tp_sim_source_opts o = {
        .seed = 4, .rate = 50000, .max_pace = true, .max_events = 5000, .start_ns = START};
    char err[256];
    ASSERT_EQ_INT(tp_sim_source_new("sim:BTC-USD,EUR-USD", &o, &c.src, err, sizeof err), 0);
    tp_bell_init(&c.bell);
    ASSERT_EQ_INT(tp_ring_init(&c.ring, 256, &c.bell), 0);
    c.src->ring = &c.ring;
    ASSERT_EQ_INT(tp_source_start(c.src), 0);
    size_t market = 0, eof = 0, after_eof = 0;
    struct tp_event buf[64];
    int64_t t0 = tp_mono_ns();
    while (!(atomic_load(&c.src->ended) && tp_ring_count(&c.ring) == 0)) {
        if (tp_mono_ns() - t0 > 20 * TP_NS_PER_SEC) TPT_FAIL("the finite run did not end");
        size_t k = tp_ring_pop(&c.ring, buf, 64);
        if (!k) sched_yield();
        for (size_t i = 0; i < k; i++) {
            if (eof) after_eof++;
            if (buf[i].kind == TP_KIND_TRADE || buf[i].kind == TP_KIND_QUOTE) market++;
            if (buf[i].kind == TP_KIND_STATUS && buf[i].status == TP_ST_EOF) eof++, after_eof = 0;
        }
    }
    ASSERT_EQ_INT(market, 5000);
    ASSERT_EQ_INT(eof, 2);
    ASSERT_EQ_INT(after_eof, 0);
    ASSERT_EQ_INT(tp_source_stop(c.src), 0);
    tp_source_free(c.src);
    tp_ring_fini(&c.ring);
}

static void test_live_full_ring_records_gaps(void)
{
    struct collect c;
    struct tp_sim_source_opts o = {.seed = 9, .rate = 200000};
    char err[256];
    ASSERT_EQ_INT(tp_sim_source_new("sim", &o, &c.src, err, sizeof err), 0);
    ASSERT(c.src->live);
    tp_bell_init(&c.bell);
    ASSERT_EQ_INT(tp_ring_init(&c.ring, 64, &c.bell), 0);
    c.src->ring = &c.ring;
    ASSERT_EQ_INT(tp_source_start(c.src), 0);
    /* Nobody reads for a while: the ring fills and the sim drops. */
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    ASSERT(tp_ring_drops(&c.ring) > 0);
    /* Then read: the gaps arrive as status records. */
    struct tp_event *got = malloc(20000 * sizeof *got);
    ASSERT(got);
    size_t n = 0;
    int64_t t0 = tp_mono_ns();
    while (n < 20000 && tp_mono_ns() - t0 < 2 * TP_NS_PER_SEC) {
        size_t k = tp_ring_pop(&c.ring, got + n, 20000 - n);
        if (!k) sched_yield();
        n += k;
    }
    stop_and_drain(&c, NULL, NULL, 0);
    size_t gaps = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tp_event *e = &got[i];
        if (e->kind != TP_KIND_STATUS || e->status != TP_ST_GAP) continue;
        gaps++;
        ASSERT(e->flags & TP_EV_GAP_TIME);
        ASSERT((int64_t)e->trade_id <= (int64_t)e->gap_last);
        ASSERT_EQ_INT(e->ts, (int64_t)e->gap_last);
        ASSERT(strlen(e->venue_symbol) > 0);
    }
    ASSERT(gaps > 0);
    ASSERT(atomic_load(&c.src->gaps) >= gaps);
    free(got);
    tp_source_free(c.src);
    tp_ring_fini(&c.ring);
}

/* --sim-shock: the same events (times, instruments, kinds, sides, sizes, ids) as without, and
 * prices that jump by half a daily volatility at the shock times, round-robin over the
 * trading instruments, up then down. */
static void test_shocks(void)
{
    const char *const syms[] = {"BTC-USD", "EUR-USD", "ETH-USD"};
    struct tp_sim *s[2];
    for (int k = 0; k < 2; k++) {
        struct tp_sim_opts o = {.seed = 7,
                                .start_ns = START,
                                .rate = 500,
                                .jumps_per_hour = 0,
                                .symbols = syms,
                                .nsymbols = 3,
                                .shock_ns = k ? 2 * TP_NS_PER_SEC : 0};
        ASSERT_EQ_INT(tp_sim_new(&o, &s[k], NULL), 0);
    }
    const uint32_t btc = tp_sim_instr(s[0], 0), eth = tp_sim_instr(s[0], 2);
    int64_t end = START + 7 * TP_NS_PER_SEC;
    int checked[3] = {0, 0, 0};
    for (;;) {
        struct tp_event a, b;
        bool ga = tp_sim_next(s[0], end, &a), gb = tp_sim_next(s[1], end, &b);
        ASSERT_EQ_INT(ga, gb);
        if (!ga) break;
        ASSERT_EQ_U64(a.ts, b.ts);
        ASSERT_EQ_INT(a.instr, b.instr);
        ASSERT_EQ_INT(a.kind, b.kind);
        if (a.kind != TP_KIND_TRADE && a.kind != TP_KIND_QUOTE) continue;
        ASSERT_EQ_INT(a.side, b.side);
        ASSERT_EQ_U64(a.trade_id, b.trade_id);
        ASSERT(same_dbl(a.size, b.size) && same_dbl(a.bid_size, b.bid_size));
        double pa = a.kind == TP_KIND_TRADE ? a.price : (a.bid + a.ask) / 2;
        double pb = b.kind == TP_KIND_TRADE ? b.price : (b.bid + b.ask) / 2;
        /* expected ratio: BTC up 1.5 % from its first event at or after 2 s (and again at 6 s:
         * the third shock, up), ETH down 2 % from 4 s; EUR-USD (quote-only) never */
        double want = 1;
        if (a.instr == btc && a.ts >= START + 6 * TP_NS_PER_SEC)
            want = exp(0.015 * 2);
        else if (a.instr == btc && a.ts >= START + 2 * TP_NS_PER_SEC)
            want = exp(0.015);
        else if (a.instr == eth && a.ts >= START + 4 * TP_NS_PER_SEC)
            want = exp(-0.02);
        /* the shock lands on the instrument's first event at or after its time: allow the
         * event that straddles it to be either */
        double r = pb / pa;
        bool near_edge = (a.ts - START) % (2 * TP_NS_PER_SEC) < 50 * TP_NS_PER_MS;
        if (!near_edge) {
            ASSERT_NEAR(r, want, 2e-4);
            checked[a.instr == btc ? 0 : a.instr == eth ? 2 : 1]++;
        }
    }
    ASSERT(checked[0] > 100 && checked[1] > 100 && checked[2] > 100);
    tp_sim_free(s[0]);
    tp_sim_free(s[1]);
}

TPT_MAIN({"deterministic_whatever_the_pacing", test_deterministic_whatever_the_pacing},
         {"source_max_pace_matches_generator", test_source_max_pace_matches_generator},
         {"instruments_and_kinds", test_instruments_and_kinds},
         {"heartbeats_every_second", test_heartbeats_every_second},
         {"prices_on_tick", test_prices_on_tick}, {"statistics", test_statistics},
         {"resume_continues_ids_and_prices", test_resume_continues_ids_and_prices},
         {"finite_run_ends_with_eof", test_finite_run_ends_with_eof},
         {"live_full_ring_records_gaps", test_live_full_ring_records_gaps}, {"shocks", test_shocks})
