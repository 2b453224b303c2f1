/*
 * test_anomaly.c — the return z-score and volume spike detectors: detection of injected
 * spikes, warm-up, cooldown, the tick floor, the false alarm rate of the 3-sigma rule on a
 * Gaussian path, agreement with a direct (two-pass) computation, and the saved state (exact
 * round trip, corrupted input rejected).
 */
#include <math.h>

#include "core/buf.h"
#include "core/rng.h"
#include "engine/anomaly.h"
#include "tpt.h"

#define SEC TP_NS_PER_SEC

static struct tp_anomaly_cfg defcfg(void)
{
    struct tp_anomaly_cfg c;
    tp_anomaly_cfg_default(&c);
    return c;
}

static struct tp_retz *retz(const struct tp_anomaly_cfg *c)
{
    struct tp_retz *d = tp_retz_new(c);
    if (!d) TPT_FAIL("tp_retz_new failed");
    return d;
}

static struct tp_volspike *volspike(const struct tp_anomaly_cfg *c)
{
    struct tp_volspike *d = tp_volspike_new(c);
    if (!d) TPT_FAIL("tp_volspike_new failed");
    return d;
}

/* A calm return whose size is bounded: uniform with standard deviation sigma, so |r| is at
 * most √3·sigma and |r − μ|/σ can never approach 3 (no natural alarms). */
static double calm(struct tp_rng *g, double sigma)
{
    return sigma * sqrt(3.0) * (2 * tp_rng_uniform(g) - 1);
}

static void test_defaults(void)
{
    struct tp_anomaly_cfg c = defcfg();
    ASSERT_EQ_INT(c.window, 100);
    ASSERT_EQ_DBL(c.z, 3);
    ASSERT_EQ_INT(c.cooldown_ns, 10 * SEC);
    ASSERT_EQ_INT(c.vol_lookback, 20);
    ASSERT_EQ_DBL(c.vol_mult, 5);
    ASSERT_EQ_INT(c.stale_ns, 60 * SEC);
    ASSERT_EQ_INT(tp_anomaly_cfg_check(&c), 0);
    ASSERT_EQ_STR(tp_anomaly_kind_name(TP_AN_RETURN_ZSCORE), "return_zscore");
    ASSERT_EQ_STR(tp_anomaly_kind_name(TP_AN_VOLUME_SPIKE), "volume_spike");
    ASSERT_EQ_STR(tp_anomaly_kind_name(TP_AN_CROSSED_QUOTE), "crossed_quote");
    ASSERT_EQ_STR(tp_anomaly_kind_name(TP_AN_STALE), "stale");
    ASSERT_EQ_STR(tp_anomaly_kind_name(TP_AN_GAP), "gap");
    ASSERT_EQ_STR(tp_anomaly_kind_name((enum tp_anomaly_kind)0), "unknown");
    ASSERT_EQ_STR(tp_anomaly_kind_name((enum tp_anomaly_kind)TP_AN_KINDS), "unknown");

    struct tp_anomaly_cfg bad[8];
    for (int i = 0; i < 8; i++) bad[i] = c;
    bad[0].window = 1;
    bad[1].window = TP_AN_MAX_WINDOW + 1;
    bad[2].z = 0;
    bad[3].z = NAN;
    bad[4].vol_lookback = 0;
    bad[5].vol_lookback = TP_AN_MAX_WINDOW + 1;
    bad[6].vol_mult = INFINITY;
    bad[7].cooldown_ns = -1;
    for (int i = 0; i < 8; i++) {
        if (tp_anomaly_cfg_check(&bad[i]) != -EINVAL) TPT_FAIL("cfg %d accepted", i);
        ASSERT(tp_retz_new(&bad[i]) == NULL);
        ASSERT(tp_volspike_new(&bad[i]) == NULL);
    }
    tp_retz_free(NULL);
    tp_volspike_free(NULL);
}

/* One-trade outliers of 8–30σ in a calm walk, 300 s apart: each is caught on its trade, the
 * return back to the level one second later falls in the cooldown, nothing else alarms. */
static void test_spikes_caught(void)
{
    struct tp_anomaly_cfg c = defcfg();
    struct tp_retz *d = retz(&c);
    struct tp_rng g;
    tp_rng_seed(&g, 7);
    const double sigma = 1e-4;
    double level = 250;
    int spikes = 0, caught = 0;
    for (int i = 0; i < 60000; i++) {
        int64_t ts = INT64_C(1700000000) * SEC + i * SEC;
        bool spike = i >= 400 && i % 300 == 100;
        double p;
        double k = 0;
        if (spike) {
            k = (8 + 22 * tp_rng_uniform(&g)) * (tp_rng_uniform(&g) < 0.5 ? -1 : 1);
            p = level * exp(k * sigma);
            spikes++;
        } else {
            level *= exp(calm(&g, sigma));
            p = level;
        }
        struct tp_anomaly a;
        bool al = tp_retz_update(d, ts, p, 0, &a);
        if (al != spike) TPT_FAIL("trade %d: alarm %d, spike %d", i, al, spike);
        if (al) {
            caught++;
            ASSERT_EQ_INT(a.kind, TP_AN_RETURN_ZSCORE);
            ASSERT_EQ_INT(a.ts, ts);
            ASSERT_EQ_INT(a.instr, 0);
            ASSERT_EQ_INT(a.interval_ns, 0);
            ASSERT_EQ_DBL(a.observed, p);
            ASSERT(a.score * k > 0); /* signed like the spike */
            ASSERT(fabs(a.score) > 3);
            ASSERT(fabs(a.expected / level - 1) < 5 * sigma);
        }
    }
    ASSERT(spikes > 150);
    ASSERT_EQ_INT(caught, spikes);
    tp_retz_free(d);
}

static void test_constant_never(void)
{
    struct tp_anomaly_cfg c = defcfg();
    c.cooldown_ns = 0; /* nothing may hide an alarm */
    struct tp_retz *d0 = retz(&c), *d1 = retz(&c);
    struct tp_anomaly a;
    for (int i = 0; i < 10000; i++) {
        ASSERT(!tp_retz_update(d0, i * SEC, 123.45, 0, &a));
        ASSERT(!tp_retz_update(d1, i * SEC, 0.000123, 1e-6, &a));
    }
    /* A varying stretch, then a constant one: once the window holds only zero returns its σ is
     * exactly 0 and μ exactly 0, so nothing alarms and a jump is judged against p_prev. */
    struct tp_retz *d = retz(&c);
    struct tp_rng g;
    tp_rng_seed(&g, 3);
    double p = 50;
    for (int i = 0; i < 500; i++) {
        p *= exp(calm(&g, 1e-2));
        tp_retz_update(d, i * SEC, p, 0, &a);
    }
    for (int i = 500; i < 5000; i++)
        if (tp_retz_update(d, i * SEC, p, 0, &a)) TPT_FAIL("constant price alarmed at %d", i);
    ASSERT(tp_retz_update(d, 5000 * SEC, p * 1.001, 0, &a));
    ASSERT_EQ_DBL(a.expected, p);
    ASSERT_NEAR(a.score, log(p * 1.001 / p) / 1e-9, 1e-12);
    tp_retz_free(d0);
    tp_retz_free(d1);
    tp_retz_free(d);
}

static void test_warmup(void)
{
    struct tp_anomaly_cfg c = defcfg();
    c.cooldown_ns = 0;
    struct tp_anomaly a;
    /* Trade 0 sets p_prev; trades 1..100 give returns 1..100: none may alarm, huge or not. */
    struct tp_retz *d = retz(&c);
    double p = 100;
    for (int i = 0; i <= 100; i++) {
        if (i == 1) p *= 10;
        if (i == 50) p /= 1000;
        if (i == 100) p *= 1e6;
        if (tp_retz_update(d, i * SEC, p, 0, &a)) TPT_FAIL("alarm in warm-up at trade %d", i);
    }
    tp_retz_free(d);

    /* Return 101 is the first one judged. */
    d = retz(&c);
    for (int i = 0; i <= 100; i++) ASSERT(!tp_retz_update(d, i * SEC, 100, 0, &a));
    ASSERT(tp_retz_update(d, 101 * SEC, 100.01, 0, &a));
    ASSERT_EQ_DBL(a.observed, 100.01);
    ASSERT_EQ_DBL(a.expected, 100);
    ASSERT_NEAR(a.score, log(100.01 / 100) / 1e-9, 1e-12);
    tp_retz_free(d);

    /* Prices that are not finite positive numbers are ignored and change nothing. */
    d = retz(&c);
    struct tp_buf b0, b1;
    tp_buf_init(&b0, 1 << 20);
    tp_buf_init(&b1, 1 << 20);
    for (int i = 0; i <= 50; i++) tp_retz_update(d, i * SEC, 100 + i * 0.01, 0, &a);
    ASSERT_EQ_INT(tp_retz_save(d, &b0), 0);
    const double bad[] = {0, -1, -0.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        ASSERT(!tp_retz_update(d, 60 * SEC, bad[i], 0, &a));
    ASSERT_EQ_INT(tp_retz_save(d, &b1), 0);
    ASSERT_EQ_INT(b0.len, b1.len);
    ASSERT(memcmp(b0.p, b1.p, b0.len) == 0);
    tp_buf_fini(&b0);
    tp_buf_fini(&b1);
    tp_retz_free(d);
}

/* Level shifts of 40σ at T, T+5 s, T+10 s − 1 ns, T+10 s and T+20 s: without a cooldown all
 * five alarm; with the default 10 s only T, T+10 s and T+20 s do. */
static void test_cooldown(void)
{
    struct tp_anomaly_cfg c = defcfg(), c0 = defcfg();
    c0.cooldown_ns = 0;
    struct tp_retz *d = retz(&c), *d0 = retz(&c0);
    struct tp_rng g;
    tp_rng_seed(&g, 11);
    const double sigma = 1e-4;
    const int64_t T = 200 * SEC;
    const int64_t shifts[] = {T, T + 5 * SEC, T + 10 * SEC - 1, T + 10 * SEC, T + 20 * SEC};
    int64_t got[16], got0[16];
    int n = 0, n0 = 0;
    double p = 80;
    size_t next = 0;
    for (int i = 0; i < 400; i++) {
        int64_t ts = i * SEC;
        /* the extra trade one nanosecond before T + 10 s */
        if (ts == T + 10 * SEC) {
            p *= exp(-40 * sigma);
            struct tp_anomaly a;
            if (tp_retz_update(d, ts - 1, p, 0, &a)) got[n++] = a.ts;
            if (tp_retz_update(d0, ts - 1, p, 0, &a)) got0[n0++] = a.ts;
            next++;
        }
        if (next < TP_ARRAY_LEN(shifts) && shifts[next] == ts) {
            p *= exp((next % 2 ? -40 : 40) * sigma);
            next++;
        } else {
            p *= exp(calm(&g, sigma));
        }
        struct tp_anomaly a;
        if (tp_retz_update(d, ts, p, 0, &a)) {
            if (n == 8) TPT_FAIL("too many alarms");
            got[n++] = a.ts;
        }
        if (tp_retz_update(d0, ts, p, 0, &a)) {
            if (n0 == 8) TPT_FAIL("too many alarms");
            got0[n0++] = a.ts;
        }
    }
    ASSERT_EQ_INT(next, TP_ARRAY_LEN(shifts));
    ASSERT_EQ_INT(n0, 5);
    for (int i = 0; i < 5; i++) ASSERT_EQ_INT(got0[i], shifts[i]);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(got[0], T);
    ASSERT_EQ_INT(got[1], T + 10 * SEC);
    ASSERT_EQ_INT(got[2], T + 20 * SEC);
    tp_retz_free(d);
    tp_retz_free(d0);
}

/*
 * The false alarm rate on a Gaussian path. The 3-sigma rule with known μ and σ gives
 * P(|N(0,1)| > 3) = 0.270%, but here μ and σ are estimated from the previous 100 returns,
 * independent of r: then (r − μ)/(σ·√(1 + 1/n)) follows Student's t with n − 1 = 99 degrees
 * of freedom, and P(|t₉₉| > 3/√1.01) = 0.357% (numerical integration of the t density). With
 * trades 10 s apart the cooldown never hides an alarm, so over ~200,000 judged returns the
 * count is binomial-like with a standard deviation of ~0.013%; the band 0.30%–0.42% is about
 * ±4.5 of those, and excludes the known-σ rate.
 */
static void test_false_alarm_rate(void)
{
    struct tp_anomaly_cfg c = defcfg();
    struct tp_retz *d = retz(&c);
    struct tp_rng g;
    tp_rng_seed(&g, 2024);
    const int N = 200101;
    double p = 100;
    int alarms = 0;
    for (int i = 0; i < N; i++) {
        if (i) p *= exp(1e-3 * tp_rng_normal(&g));
        struct tp_anomaly a;
        if (tp_retz_update(d, i * 10 * SEC, p, 0.0001, &a)) alarms++;
    }
    double rate = (double)alarms / (N - 101);
    fprintf(stderr, "  false alarm rate %.4f%% (%d of %d)\n", 100 * rate, alarms, N - 101);
    ASSERT(rate > 0.0030);
    ASSERT(rate < 0.0042);
    tp_retz_free(d);
}

/* A price of 100 with a tick of 0.01 that moves one tick on 2% of trades: a one-tick move is
 * ~2 floored σ, never an alarm; without the tick (σ of a window of zeros is 0) it alarms. A
 * three-tick move still alarms with the floor. */
static void test_tick_floor(void)
{
    struct tp_anomaly_cfg c = defcfg();
    c.cooldown_ns = 0;
    struct tp_retz *d = retz(&c), *d0 = retz(&c);
    struct tp_rng g;
    tp_rng_seed(&g, 5);
    long ticks = 10000;
    int moves = 0, alarms0 = 0;
    struct tp_anomaly a;
    for (int i = 0; i < 30000; i++) {
        if (tp_rng_uniform(&g) < 0.02) {
            ticks += tp_rng_uniform(&g) < 0.5 ? -1 : 1;
            moves++;
        }
        double p = ticks / 100.0;
        if (tp_retz_update(d, i * SEC, p, 0.01, &a)) TPT_FAIL("one-tick alarm at trade %d", i);
        if (tp_retz_update(d0, i * SEC, p, 0, &a)) alarms0++;
    }
    ASSERT(moves > 400);
    ASSERT(alarms0 > 100);
    /* a quiet stretch, then three ticks */
    for (int i = 30000; i < 30200; i++)
        ASSERT(!tp_retz_update(d, i * SEC, ticks / 100.0, 0.01, &a));
    double p = (ticks + 3) / 100.0;
    ASSERT(tp_retz_update(d, 30200 * SEC, p, 0.01, &a));
    ASSERT_NEAR(a.score, log(p / (ticks / 100.0)) / (0.5 * 0.01 / p), 1e-9);
    tp_retz_free(d);
    tp_retz_free(d0);
}

/*
 * Every decision, expected value and score against a direct computation: μ and σ of the last
 * `window` returns with a plain two-pass loop, the floor, then the rule. The path changes
 * regime (σ from 1e-5 to 3e-2, with drift), has spikes and constant stretches, and runs long
 * enough for many rebuilds of the running sums.
 */
static void reference_run(int window, double zlim, uint64_t seed)
{
    struct tp_anomaly_cfg c = defcfg();
    c.window = window;
    c.z = zlim;
    c.cooldown_ns = 0;
    struct tp_retz *d = retz(&c);
    struct tp_rng g;
    tp_rng_seed(&g, seed);
    const int N = 60000;
    double *ret = malloc(sizeof *ret * N);
    ASSERT(ret != NULL);
    const double sig[] = {1e-3, 1e-5, 1e-2, 2e-4, 0};
    const double tick = 0.01;
    double p = 100, prev = 0;
    int nret = 0, alarms = 0, judged = 0;
    double worst = 0; /* largest score error, relative to max(1, |z|) */
    for (int i = 0; i < N; i++) {
        double s = sig[(i / 5000) % TP_ARRAY_LEN(sig)];
        if (i) {
            double drift = (i / 5000) % 2 ? -s / 5 : s / 5;
            double r = s * tp_rng_normal(&g) + drift;
            if (tp_rng_uniform(&g) < 0.005) r += 20 * (s ? s : 1e-3);
            if (tp_rng_uniform(&g) < 0.01) r = 0;
            p *= exp(r);
        }
        struct tp_anomaly a;
        bool al = tp_retz_update(d, i * SEC, p, tick, &a);
        if (i == 0) {
            prev = p;
            ASSERT(!al);
            continue;
        }
        double r = log(p / prev);
        if (nret >= window) {
            double mu = 0, ss = 0;
            for (int j = nret - window; j < nret; j++) mu += ret[j];
            mu /= window;
            for (int j = nret - window; j < nret; j++) ss += (ret[j] - mu) * (ret[j] - mu);
            double sd = sqrt(ss / (window - 1));
            double fl = fmax(0.5 * tick / p, 1e-9);
            if (sd < fl) sd = fl;
            double z = (r - mu) / sd;
            if (fabs(fabs(z) - zlim) > 1e-9) {
                judged++;
                if (al != (fabs(z) > zlim))
                    TPT_FAIL("trade %d: alarm %d, reference z %.17g", i, al, z);
            }
            if (al) {
                alarms++;
                ASSERT_EQ_DBL(a.observed, p);
                ASSERT_NEAR(a.expected, prev * exp(mu), 1e-12);
                ASSERT_NEAR(a.score, z, 1e-12);
                worst = fmax(worst, fabs(a.score - z) / fmax(1, fabs(z)));
            }
        } else {
            ASSERT(!al);
        }
        ret[nret++] = r;
        prev = p;
    }
    fprintf(stderr, "  window %d: %d alarms, %d decisions checked, worst score error %.2g\n",
            window, alarms, judged, worst);
    ASSERT(alarms > 1000);
    ASSERT(judged > N - window - 10);
    free(ret);
    tp_retz_free(d);
}

static void test_reference(void)
{
    reference_run(100, 2, 17);
    reference_run(7, 1.5, 18);
    reference_run(2, 1, 19);
}

/* Runs two retz detectors in lock step and requires identical outputs, bit for bit. */
static void same_alarm(bool x, const struct tp_anomaly *a, bool y, const struct tp_anomaly *b)
{
    ASSERT_EQ_INT(x, y);
    if (!x) return;
    ASSERT_EQ_INT(a->ts, b->ts);
    ASSERT_EQ_INT(a->kind, b->kind);
    ASSERT_EQ_INT(a->interval_ns, b->interval_ns);
    ASSERT_EQ_DBL(a->observed, b->observed);
    ASSERT_EQ_DBL(a->expected, b->expected);
    ASSERT_EQ_DBL(a->score, b->score);
}

static double path_price(struct tp_rng *g, double p, int i)
{
    double r = 1e-3 * tp_rng_normal(g);
    if (i % 997 == 500) r += 0.05;
    return p * exp(r);
}

static void test_retz_save_load(void)
{
    struct tp_anomaly_cfg c = defcfg();
    const int cut[] = {0, 1, 2, 50, 100, 101, 102, 150, 199, 200, 12345, 19999};
    const int N = 20000;
    for (size_t k = 0; k < TP_ARRAY_LEN(cut); k++) {
        struct tp_retz *a = retz(&c), *b = NULL;
        struct tp_rng g;
        tp_rng_seed(&g, 99);
        double p = 30;
        int alarms = 0;
        for (int i = 0; i < N; i++) {
            if (i == cut[k]) {
                struct tp_buf s1, s2;
                tp_buf_init(&s1, 1 << 20);
                tp_buf_init(&s2, 1 << 20);
                ASSERT_EQ_INT(tp_retz_save(a, &s1), 0);
                b = retz(&c);
                struct tp_rd rd;
                tp_rd_init(&rd, s1.p, s1.len);
                ASSERT_EQ_INT(tp_retz_load(b, &rd), 0);
                ASSERT(!rd.err);
                ASSERT_EQ_INT(tp_rd_left(&rd), 0);
                ASSERT_EQ_INT(tp_retz_save(b, &s2), 0);
                ASSERT_EQ_INT(s1.len, s2.len);
                ASSERT(memcmp(s1.p, s2.p, s1.len) == 0);
                tp_buf_fini(&s1);
                tp_buf_fini(&s2);
            }
            p = path_price(&g, p, i);
            int64_t ts = i * (SEC / 2);
            struct tp_anomaly x, y;
            bool ax = tp_retz_update(a, ts, p, 0, &x);
            if (b) {
                bool ay = tp_retz_update(b, ts, p, 0, &y);
                same_alarm(ax, &x, ay, &y);
                alarms += ay;
            }
        }
        if (cut[k] < 10000) ASSERT(alarms > 10);
        tp_retz_free(a);
        tp_retz_free(b);
    }
}

/* Offsets in a saved retz state (see the layout in anomaly.c). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_HAVE_PREV = 25,
    OFF_P_PREV = 26,
    OFF_COUNT = 42,
    OFF_SINCE = 46,
    OFF_VALUES = 90,
};

static int load_bytes(struct tp_retz *d, const void *p, size_t n)
{
    struct tp_rd rd;
    tp_rd_init(&rd, p, n);
    struct tp_rd before = rd;
    int rc = tp_retz_load(d, &rd);
    if (rc && (rd.p != before.p || rd.err)) TPT_FAIL("failed load moved the reader");
    return rc;
}

static void put_u32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}

static void put_f64(char *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    for (int i = 0; i < 8; i++) p[i] = (char)(u >> (8 * i));
}

static void test_retz_corrupt(void)
{
    struct tp_anomaly_cfg c = defcfg();
    struct tp_retz *a = retz(&c), *b = retz(&c);
    struct tp_rng g;
    tp_rng_seed(&g, 1);
    double p = 10;
    struct tp_anomaly x;
    for (int i = 0; i < 250; i++) {
        p = path_price(&g, p, i);
        tp_retz_update(a, i * SEC, p, 0, &x);
        if (i < 40) tp_retz_update(b, i * SEC, p * 2, 0, &x);
    }
    struct tp_buf s, ref, after;
    tp_buf_init(&s, 1 << 20);
    tp_buf_init(&ref, 1 << 20);
    tp_buf_init(&after, 1 << 20);
    ASSERT_EQ_INT(tp_retz_save(a, &s), 0);
    ASSERT_EQ_INT(s.len, OFF_VALUES + 8 * 100);
    ASSERT_EQ_INT(tp_retz_save(b, &ref), 0);

    /* every truncation */
    for (size_t n = 0; n < s.len; n++)
        if (load_bytes(b, s.p, n) != -EBADMSG) TPT_FAIL("truncated at %zu accepted", n);

    /* specific damage */
    char *m = malloc(s.len);
    ASSERT(m != NULL);
    struct {
        size_t off;
        int what; /* 0 u8, 1 u32, 2 f64 */
        double v;
    } dmg[] = {
        {OFF_MAGIC, 0, 0x55},      {OFF_VERSION, 0, 2},      {OFF_HAVE_PREV, 0, 2},
        {OFF_HAVE_PREV, 0, 0},     {OFF_P_PREV, 2, -1},      {OFF_P_PREV, 2, 0},
        {OFF_P_PREV, 2, NAN},      {OFF_COUNT, 1, 101},      {OFF_COUNT, 1, 99},
        {OFF_COUNT, 1, 1u << 31},  {OFF_SINCE, 1, 100},      {OFF_VALUES + 40, 2, NAN},
        {OFF_VALUES, 2, INFINITY}, {OFF_VALUES - 8, 2, NAN}, /* a sum */
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(dmg); i++) {
        memcpy(m, s.p, s.len);
        if (dmg[i].what == 0) m[dmg[i].off] = (char)dmg[i].v;
        if (dmg[i].what == 1) put_u32(m + dmg[i].off, (uint32_t)dmg[i].v);
        if (dmg[i].what == 2) put_f64(m + dmg[i].off, dmg[i].v);
        if (load_bytes(b, m, s.len) != -EBADMSG) TPT_FAIL("damage %zu accepted", i);
    }

    /* the cfg the state belongs to */
    struct tp_anomaly_cfg other[3] = {c, c, c};
    other[0].window = 50;
    other[1].z = 2.5;
    other[2].cooldown_ns = 5 * SEC;
    for (int i = 0; i < 3; i++) {
        struct tp_retz *o = retz(&other[i]);
        if (load_bytes(o, s.p, s.len) != -EBADMSG) TPT_FAIL("cfg mismatch %d accepted", i);
        tp_retz_free(o);
    }

    /* nothing above changed b */
    ASSERT_EQ_INT(tp_retz_save(b, &after), 0);
    ASSERT_EQ_INT(after.len, ref.len);
    ASSERT(memcmp(after.p, ref.p, ref.len) == 0);

    /* random bit flips: rejected or accepted, never a crash (ASan watches) */
    for (size_t off = 0; off < s.len; off++) {
        memcpy(m, s.p, s.len);
        m[off] ^= (char)(1u << (off % 8));
        int rc = load_bytes(b, m, s.len);
        ASSERT(rc == 0 || rc == -EBADMSG);
        if (rc == 0)
            for (int i = 0; i < 300; i++) tp_retz_update(b, (300 + i) * SEC, 10 + i % 7, 0, &x);
    }

    /* trailing bytes belong to the caller */
    struct tp_rd rd;
    struct tp_buf two;
    tp_buf_init(&two, 1 << 20);
    ASSERT_EQ_INT(tp_retz_save(a, &two), 0);
    ASSERT_EQ_INT(tp_buf_u32(&two, 0xdeadbeef), 0);
    tp_rd_init(&rd, two.p, two.len);
    ASSERT_EQ_INT(tp_retz_load(b, &rd), 0);
    ASSERT_EQ_INT(tp_rd_left(&rd), 4);
    ASSERT_EQ_U64(tp_rd_u32(&rd), 0xdeadbeef);

    /* a save that does not fit leaves the buffer as it was */
    struct tp_buf small;
    tp_buf_init(&small, 100);
    ASSERT_EQ_INT(tp_buf_u32(&small, 7), 0);
    ASSERT_EQ_INT(tp_retz_save(a, &small), -E2BIG);
    ASSERT_EQ_INT(small.len, 4);

    free(m);
    tp_buf_fini(&s);
    tp_buf_fini(&ref);
    tp_buf_fini(&after);
    tp_buf_fini(&two);
    tp_buf_fini(&small);
    tp_retz_free(a);
    tp_retz_free(b);
}

static bool vs(struct tp_volspike *d, int64_t ts, double v, struct tp_anomaly *a)
{
    return tp_volspike_update(d, ts, v, 60 * SEC, a);
}

static void test_volspike(void)
{
    struct tp_anomaly_cfg c = defcfg();
    struct tp_anomaly a;
    const int64_t M = 60 * SEC;

    /* warm-up: 20 bars are needed before one is judged, however large */
    struct tp_volspike *d = volspike(&c);
    for (int i = 0; i < 19; i++) ASSERT(!vs(d, i * M, 100, &a));
    ASSERT(!vs(d, 19 * M, 1e9, &a));
    tp_volspike_free(d);

    /* exactly 5× the mean does not alarm; just above does */
    d = volspike(&c);
    for (int i = 0; i < 20; i++) ASSERT(!vs(d, i * M, 100, &a));
    ASSERT(!vs(d, 20 * M, 500, &a));
    tp_volspike_free(d);
    d = volspike(&c);
    for (int i = 0; i < 20; i++) ASSERT(!vs(d, i * M, 100, &a));
    ASSERT(vs(d, 20 * M, nextafter(500, 1000), &a));
    ASSERT_EQ_INT(a.kind, TP_AN_VOLUME_SPIKE);
    ASSERT_EQ_INT(a.ts, 20 * M);
    ASSERT_EQ_INT(a.interval_ns, 60 * SEC);
    ASSERT_EQ_INT(a.instr, 0);
    ASSERT_EQ_DBL(a.observed, nextafter(500, 1000));
    ASSERT_EQ_DBL(a.expected, 100);
    ASSERT_EQ_DBL(a.score, nextafter(500, 1000) / 100);
    tp_volspike_free(d);

    /* a mean of zero never alarms; the bar still enters the lookback */
    d = volspike(&c);
    for (int i = 0; i < 40; i++) ASSERT(!vs(d, i * M, 0, &a));
    ASSERT(!vs(d, 40 * M, 1e12, &a));
    ASSERT(vs(d, 41 * M, 1e12, &a)); /* mean now 5e10 */
    ASSERT_EQ_DBL(a.expected, 1e12 / 20);
    tp_volspike_free(d);

    /* cooldown on bar start times; an alarming bar enters the lookback too */
    struct tp_anomaly_cfg c1 = c;
    c1.cooldown_ns = 10 * M;
    d = volspike(&c1);
    for (int i = 0; i < 20; i++) ASSERT(!vs(d, i * M, 100, &a));
    ASSERT(vs(d, 20 * M, 1000, &a));
    ASSERT_EQ_DBL(a.expected, 100);
    ASSERT(!vs(d, 21 * M, 1e6, &a));     /* would alarm: cooldown */
    ASSERT(!vs(d, 30 * M - 1, 1e8, &a)); /* still inside */
    ASSERT(vs(d, 30 * M, 1e10, &a));     /* the boundary is allowed */
    ASSERT_EQ_DBL(a.expected, (1000 + 1e6 + 1e8 + 17 * 100) / 20);

    /* volumes that are negative or not finite are ignored */
    struct tp_buf b0, b1;
    tp_buf_init(&b0, 1 << 16);
    tp_buf_init(&b1, 1 << 16);
    ASSERT_EQ_INT(tp_volspike_save(d, &b0), 0);
    ASSERT(!vs(d, 40 * M, -1, &a));
    ASSERT(!vs(d, 40 * M, NAN, &a));
    ASSERT(!vs(d, 40 * M, INFINITY, &a));
    ASSERT_EQ_INT(tp_volspike_save(d, &b1), 0);
    ASSERT_EQ_INT(b0.len, b1.len);
    ASSERT(memcmp(b0.p, b1.p, b0.len) == 0);
    tp_buf_fini(&b0);
    tp_buf_fini(&b1);
    tp_volspike_free(d);
}

/* Decisions and means on decimal volumes against a plain sum of the previous 20. */
static void test_volspike_reference(void)
{
    struct tp_anomaly_cfg c = defcfg();
    c.cooldown_ns = 0;
    struct tp_volspike *d = volspike(&c);
    struct tp_rng g;
    tp_rng_seed(&g, 4);
    const int N = 20000;
    double *v = malloc(sizeof *v * N);
    ASSERT(v != NULL);
    int alarms = 0;
    for (int i = 0; i < N; i++) {
        double scale = (i / 2000) % 2 ? 1e-3 : 1e4; /* regimes far apart */
        v[i] = scale * tp_rng_exp(&g, 1.0);
        if (tp_rng_uniform(&g) < 0.02) v[i] *= 30;
        struct tp_anomaly a;
        bool al = vs(d, i * SEC, v[i], &a);
        if (i < 20) {
            ASSERT(!al);
            continue;
        }
        double mean = 0;
        for (int j = i - 20; j < i; j++) mean += v[j];
        mean /= 20;
        if (fabs(v[i] / (5 * mean) - 1) > 1e-12 && al != (v[i] > 5 * mean))
            TPT_FAIL("bar %d: alarm %d, volume %.17g, mean %.17g", i, al, v[i], mean);
        if (al) {
            alarms++;
            ASSERT_NEAR(a.expected / mean, 1, 1e-12);
            ASSERT_NEAR(a.score, v[i] / mean, 1e-12);
        }
    }
    ASSERT(alarms > 100);
    free(v);
    tp_volspike_free(d);
}

static void test_volspike_save_load(void)
{
    struct tp_anomaly_cfg c = defcfg();
    c.cooldown_ns = 3 * SEC;
    const int cut[] = {0, 1, 19, 20, 21, 39, 40, 777};
    for (size_t k = 0; k < TP_ARRAY_LEN(cut); k++) {
        struct tp_volspike *a = volspike(&c), *b = NULL;
        struct tp_rng g;
        tp_rng_seed(&g, 8);
        int alarms = 0;
        for (int i = 0; i < 3000; i++) {
            if (i == cut[k]) {
                struct tp_buf s1, s2;
                tp_buf_init(&s1, 1 << 16);
                tp_buf_init(&s2, 1 << 16);
                ASSERT_EQ_INT(tp_volspike_save(a, &s1), 0);
                b = volspike(&c);
                struct tp_rd rd;
                tp_rd_init(&rd, s1.p, s1.len);
                ASSERT_EQ_INT(tp_volspike_load(b, &rd), 0);
                ASSERT_EQ_INT(tp_rd_left(&rd), 0);
                ASSERT_EQ_INT(tp_volspike_save(b, &s2), 0);
                ASSERT_EQ_INT(s1.len, s2.len);
                ASSERT(memcmp(s1.p, s2.p, s1.len) == 0);
                tp_buf_fini(&s1);
                tp_buf_fini(&s2);
            }
            double v = 0.37 * tp_rng_exp(&g, 1.0) * (tp_rng_uniform(&g) < 0.03 ? 40 : 1);
            struct tp_anomaly x, y;
            bool ax = vs(a, i * SEC, v, &x);
            if (b) {
                bool ay = vs(b, i * SEC, v, &y);
                same_alarm(ax, &x, ay, &y);
                alarms += ay;
            }
        }
        ASSERT(alarms > 10);
        tp_volspike_free(a);
        tp_volspike_free(b);
    }

    /* corrupted or foreign state */
    struct tp_volspike *a = volspike(&c), *b = volspike(&c);
    for (int i = 0; i < 30; i++) {
        struct tp_anomaly x;
        vs(a, i * SEC, 1 + i, &x);
    }
    struct tp_buf s;
    tp_buf_init(&s, 1 << 16);
    ASSERT_EQ_INT(tp_volspike_save(a, &s), 0);
    struct tp_rd rd;
    for (size_t n = 0; n < s.len; n++) {
        tp_rd_init(&rd, s.p, n);
        if (tp_volspike_load(b, &rd) != -EBADMSG) TPT_FAIL("truncated at %zu accepted", n);
    }
    char *m = malloc(s.len);
    ASSERT(m != NULL);
    memcpy(m, s.p, s.len);
    put_f64(m + s.len - 8, -1); /* a negative volume */
    tp_rd_init(&rd, m, s.len);
    ASSERT_EQ_INT(tp_volspike_load(b, &rd), -EBADMSG);
    tp_rd_init(&rd, s.p, s.len);
    struct tp_retz *z = retz(&c); /* a state of the other kind */
    ASSERT_EQ_INT(tp_retz_load(z, &rd), -EBADMSG);
    struct tp_anomaly_cfg o = c;
    o.vol_mult = 4;
    struct tp_volspike *w = volspike(&o);
    tp_rd_init(&rd, s.p, s.len);
    ASSERT_EQ_INT(tp_volspike_load(w, &rd), -EBADMSG);
    o = c;
    o.vol_lookback = 21;
    struct tp_volspike *w2 = volspike(&o);
    tp_rd_init(&rd, s.p, s.len);
    ASSERT_EQ_INT(tp_volspike_load(w2, &rd), -EBADMSG);
    free(m);
    tp_buf_fini(&s);
    tp_retz_free(z);
    tp_volspike_free(a);
    tp_volspike_free(b);
    tp_volspike_free(w);
    tp_volspike_free(w2);
}

TPT_MAIN({"defaults", test_defaults}, {"spikes_caught", test_spikes_caught},
         {"constant_never", test_constant_never}, {"warmup", test_warmup},
         {"cooldown", test_cooldown}, {"false_alarm_rate", test_false_alarm_rate},
         {"tick_floor", test_tick_floor}, {"reference", test_reference},
         {"retz_save_load", test_retz_save_load}, {"retz_corrupt", test_retz_corrupt},
         {"volspike", test_volspike}, {"volspike_reference", test_volspike_reference},
         {"volspike_save_load", test_volspike_save_load})
