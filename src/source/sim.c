/*
 * sim.c — the market simulator: a deterministic event generator on a virtual timeline, and the
 * `sim` source that paces it (see sim.h for the model and its guarantees).
 *
 * Determinism: the generator draws, in a fixed order, the arrival of the next market event
 * (time step, instrument) and, when that event is returned, its contents (price path step,
 * jump, spread, kind, side, size) followed by the next arrival. Heartbeats are a function of
 * time alone. So the sequence depends only on the seed, the start time, the rate, the
 * instrument set and the resume state, never on how often or with which limits tp_sim_next is
 * called. The RNG is seeded from (seed, start time), so two runs started at different times
 * (a restart) do not repeat each other's random path.
 *
 * Invariants: item ts never decreases; market event ts strictly increase (steps ≥ 1 ns); a
 * heartbeat at second b comes before every market event with ts ≥ b; prices are k / 10^d for
 * an integer k ≥ 1 (bid < ask by at least one tick); trade ids per instrument increase by 1.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>

#include "core/instrument.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "source/sim.h"

enum asset { CRYPTO, EQUITY, FOREX };

/* One simulated instrument's reference data. Volatility is per square root of a day of event
 * time (the simulator trades every instrument around the clock); spread is the mean in basis
 * points of the mid (never below one tick); sizes are lognormal (median, sigma of the log)
 * rounded to 10^-size_dec (a negative size_dec: to multiples of 10^-size_dec). */
struct def {
    const char *sym;
    enum asset cls;
    double price;
    int tick_dec;
    double weight;
    double vol_day;
    double spread_bps;
    double size_median, size_sigma;
    int size_dec;
};

static const struct def defs[] = {
    {"BTC-USD", CRYPTO, 60000, 2, 20, 0.030, 0.1, 0.01, 1.3, 6},
    {"ETH-USD", CRYPTO, 3000, 2, 14, 0.040, 0.2, 0.2, 1.3, 5},
    {"SOL-USD", CRYPTO, 150, 3, 8, 0.050, 0.5, 3, 1.3, 3},
    {"DOGE-USD", CRYPTO, 0.15, 5, 6, 0.060, 2.0, 2000, 1.4, 0},
    {"AAPL", EQUITY, 190, 2, 9, 0.015, 0.6, 100, 1.0, 0},
    {"MSFT", EQUITY, 420, 2, 7, 0.014, 0.4, 80, 1.0, 0},
    {"NVDA", EQUITY, 120, 2, 10, 0.030, 1.0, 150, 1.0, 0},
    {"EUR-USD", FOREX, 1.08, 5, 10, 0.005, 0.5, 1e6, 0.8, -3},
    {"GBP-USD", FOREX, 1.27, 5, 8, 0.006, 0.8, 1e6, 0.8, -3},
    {"USD-JPY", FOREX, 150, 3, 8, 0.006, 0.7, 1e6, 0.8, -3},
};

#define TRADE_P         0.5  /* share of trades among a trading instrument's events */
#define JUMPS_PER_HOUR  12.0 /* default, per instrument */
#define JUMP_SCALE      0.1  /* a jump is (1 + Exp(1)) * JUMP_SCALE * daily volatility */
#define SECONDS_PER_DAY 86400.0
#define RESUME_GAP_NS   TP_NS_PER_US /* start this long after the last record seen */
#define SIZE_Q          1024         /* quantiles in a size table */

struct inst {
    const struct def *d;
    uint32_t id;
    uint16_t flags;   /* TP_EV_TS_VENUE, plus TP_EV_QUOTE_ONLY for forex */
    double inv;       /* 10^tick_dec: price = k / inv */
    double size_mul;  /* 10^|size_dec| */
    double sig_ns;    /* log-price sigma per sqrt(ns) */
    double jump_p_ns; /* jump probability per ns */
    double jump_size; /* log-price scale of a jump */
    double spread;    /* mean spread as a fraction of the mid */
    /* Size quantiles in lots: the lognormal's inverse CDF at SIZE_Q + 1 evenly spaced
     * probabilities, interpolated linearly by a uniform draw (a lognormal truncated at about
     * 3.3 sigma, at the cost of one uniform instead of a normal and an exp). */
    double size_q[SIZE_Q + 1];
    double cumw; /* cumulative weight, for the draw */
    double log_mid;
    int64_t t;        /* event time of log_mid */
    uint64_t next_id; /* next trade id */
    bool id_known;    /* next_id came from the journal */
};

struct tp_sim {
    struct tp_rng rng;
    struct inst in[TP_SIM_MAX_INSTR];
    size_t n;
    double total_w;
    uint64_t seed;
    int64_t start;
    double mean_ns;
    bool begun;
    bool resumed;
    bool whole; /* the resume records were the journal's whole history */
    int64_t resume_ts;
    /* Timeline. */
    size_t conn_i;   /* CONNECTED records returned (== n when done) */
    int64_t next_hb; /* next whole second of heartbeats */
    size_t hb_i;     /* heartbeats of next_hb returned */
    int64_t arr_ts;  /* pending arrival: time and instrument */
    size_t arr_i;
    int64_t clock;   /* time of the last arrival drawn */
    int64_t last_ts; /* time of the last item returned */
    uint64_t market; /* market events returned */
};

/* Standard normal quantiles at (i + 0.5) / (SIZE_Q + 1), by bisection on erfc: computed once. */
static double zq[SIZE_Q + 1];
static pthread_once_t zq_once = PTHREAD_ONCE_INIT;

static void zq_init(void)
{
    for (int i = 0; i <= SIZE_Q; i++) {
        double p = (i + 0.5) / (SIZE_Q + 1), lo = -10, hi = 10;
        for (int k = 0; k < 64; k++) {
            double mid = (lo + hi) / 2;
            if (0.5 * erfc(-mid / sqrt(2.0)) < p)
                lo = mid;
            else
                hi = mid;
        }
        zq[i] = (lo + hi) / 2;
    }
}

/* Rounds a non-negative x half up (llround's result for x >= 0, without the call). */
static inline int64_t round_pos(double x)
{
    return (int64_t)(x + 0.5);
}

static double pow10i(int d)
{
    double v = 1;
    for (int i = 0; i < d; i++) v *= 10;
    return v;
}

const char *tp_sim_known_symbols(void)
{
    return "BTC-USD, ETH-USD, SOL-USD, DOGE-USD, AAPL, MSFT, NVDA, EUR-USD, GBP-USD, USD-JPY";
}

static const struct def *find_def(const char *sym)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(defs); i++)
        if (!strcmp(defs[i].sym, sym)) return &defs[i];
    return NULL;
}

static int add_inst(struct tp_sim *s, const struct def *d, double jumps_per_hour)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->in[i].d == d) return -EINVAL;
    char name[TP_INSTR_NAMELEN + 1];
    int len = snprintf(name, sizeof name, "sim:%s", d->sym);
    struct inst *in = &s->in[s->n];
    int rc = tp_instr_intern(name, (size_t)len, &in->id);
    if (rc < 0) return rc;
    in->d = d;
    in->inv = pow10i(d->tick_dec);
    tp_instr_set_tick(in->id, 1.0 / in->inv);
    in->flags = TP_EV_TS_VENUE | (d->cls == FOREX ? TP_EV_QUOTE_ONLY : 0);
    in->size_mul = pow10i(d->size_dec < 0 ? -d->size_dec : d->size_dec);
    in->sig_ns = d->vol_day / sqrt(SECONDS_PER_DAY * 1e9);
    in->jump_p_ns = jumps_per_hour / 3600e9;
    in->jump_size = JUMP_SCALE * d->vol_day;
    in->spread = d->spread_bps * 1e-4;
    double lot_mul = d->size_dec >= 0 ? in->size_mul : 1 / in->size_mul; /* units -> lots */
    for (int q = 0; q <= SIZE_Q; q++)
        in->size_q[q] = d->size_median * exp(d->size_sigma * zq[q]) * lot_mul;
    s->total_w += d->weight;
    in->cumw = s->total_w;
    in->log_mid = log(d->price);
    in->id_known = false;
    in->next_id = 0;
    s->n++;
    return 0;
}

int tp_sim_new(const struct tp_sim_opts *o, struct tp_sim **ret, size_t *bad_symbol)
{
    if (!(o->rate > 0 && o->rate <= TP_SIM_MAX_RATE)) return -EINVAL;
    if (o->nsymbols > TP_SIM_MAX_INSTR) return -EINVAL;
    pthread_once(&zq_once, zq_init);
    struct tp_sim *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    double jph = o->jumps_per_hour < 0 ? JUMPS_PER_HOUR : o->jumps_per_hour;
    int rc = 0;
    if (o->symbols && o->nsymbols) {
        for (size_t i = 0; i < o->nsymbols && !rc; i++) {
            const struct def *d = find_def(o->symbols[i]);
            rc = d ? add_inst(s, d, jph) : -EINVAL;
            if (rc == -EINVAL && bad_symbol) *bad_symbol = i;
        }
    } else {
        for (size_t i = 0; i < TP_ARRAY_LEN(defs) && !rc; i++) rc = add_inst(s, &defs[i], jph);
    }
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->seed = o->seed;
    s->start = o->start_ns;
    s->mean_ns = 1e9 / o->rate;
    s->resume_ts = INT64_MIN;
    *ret = s;
    return 0;
}

void tp_sim_free(struct tp_sim *s)
{
    free(s);
}

size_t tp_sim_ninstr(const struct tp_sim *s)
{
    return s->n;
}

uint32_t tp_sim_instr(const struct tp_sim *s, size_t i)
{
    return i < s->n ? s->in[i].id : 0;
}

bool tp_sim_quote_only(const struct tp_sim *s, size_t i)
{
    return i < s->n && (s->in[i].flags & TP_EV_QUOTE_ONLY);
}

uint64_t tp_sim_market_events(const struct tp_sim *s)
{
    return s->market;
}

void tp_sim_resume(struct tp_sim *s, const struct tp_event *e)
{
    if (s->begun) return;
    struct inst *in = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->in[i].id == e->instr) in = &s->in[i];
    if (!in) return;
    s->resumed = true;
    if (e->ts > s->resume_ts) s->resume_ts = e->ts;
    if (e->kind == TP_KIND_TRADE) {
        if ((e->flags & TP_EV_HAS_ID) && !(e->flags & TP_EV_ID_STR) &&
            (!in->id_known || e->trade_id >= in->next_id)) {
            in->next_id = e->trade_id + 1;
            in->id_known = true;
        }
        if (isfinite(e->price) && e->price > 0) in->log_mid = log(e->price);
    } else if (e->kind == TP_KIND_QUOTE) {
        if (isfinite(e->bid) && isfinite(e->ask) && e->bid > 0 && e->ask >= e->bid)
            in->log_mid = log((e->bid + e->ask) / 2);
    }
}

void tp_sim_resume_whole(struct tp_sim *s)
{
    s->whole = true;
}

/* Draws the next arrival: time step and instrument. */
static void draw_arrival(struct tp_sim *s)
{
    double step = tp_rng_exp(&s->rng, s->mean_ns);
    s->clock += step < 1 ? 1 : round_pos(step);
    double u = tp_rng_uniform(&s->rng) * s->total_w;
    size_t i = 0;
    while (i + 1 < s->n && u >= s->in[i].cumw) i++;
    s->arr_ts = s->clock;
    s->arr_i = i;
}

static void begin(struct tp_sim *s)
{
    s->begun = true;
    if (s->resumed && s->resume_ts > INT64_MAX - RESUME_GAP_NS) s->resume_ts = INT64_MAX / 2;
    if (s->resumed && s->start < s->resume_ts + RESUME_GAP_NS)
        s->start = s->resume_ts + RESUME_GAP_NS;
    uint64_t mix = (uint64_t)s->start;
    tp_rng_seed(&s->rng, s->seed ^ tp_splitmix64(&mix));
    uint64_t base = !s->whole && s->start > 0 ? (uint64_t)(s->start / TP_NS_PER_US) + 1 : 1;
    for (size_t i = 0; i < s->n; i++) {
        s->in[i].t = s->start;
        if (!s->in[i].id_known) s->in[i].next_id = base;
    }
    s->clock = s->start;
    s->last_ts = s->start;
    s->next_hb = (tp_floor_div(s->start, TP_NS_PER_SEC) + 1) * TP_NS_PER_SEC;
    draw_arrival(s);
}

static void make_status(const struct tp_sim *s, size_t i, enum tp_status st, int64_t ts,
                        struct tp_event *e)
{
    const struct inst *in = &s->in[i];
    tp_event_init(e, TP_KIND_STATUS);
    e->status = (uint8_t)st;
    e->instr = in->id;
    e->ts = e->ts_recv = ts;
    e->flags = in->flags;
    tp_event_set_vsym(e, in->d->sym, strlen(in->d->sym));
}

static double draw_size(struct tp_sim *s, const struct inst *in)
{
    double u = tp_rng_uniform(&s->rng) * SIZE_Q;
    int q = (int)u;
    double v = in->size_q[q] + (u - q) * (in->size_q[q + 1] - in->size_q[q]);
    int64_t k = round_pos(v);
    if (k < 1) k = 1;
    return in->d->size_dec >= 0 ? (double)k / in->size_mul : (double)k * in->size_mul;
}

/* Fills the pending arrival's market event into e, then draws the next arrival. */
static void fill_market(struct tp_sim *s, struct tp_event *e)
{
    struct inst *in = &s->in[s->arr_i];
    const struct def *d = in->d;
    int64_t ts = s->arr_ts;
    double dt = (double)(ts - in->t);
    in->t = ts;
    in->log_mid += in->sig_ns * sqrt(dt) * tp_rng_normal(&s->rng);
    if (tp_rng_uniform(&s->rng) < in->jump_p_ns * dt) {
        double mag = in->jump_size * (1 + tp_rng_exp(&s->rng, 1.0));
        in->log_mid += tp_rng_uniform(&s->rng) < 0.5 ? -mag : mag;
    }
    double mid = exp(in->log_mid);
    int64_t km = round_pos(mid * in->inv);
    int64_t sp = round_pos(mid * in->spread * (0.5 + tp_rng_uniform(&s->rng)) * in->inv);
    if (sp < 1) sp = 1;
    int64_t bk = km - sp / 2;
    if (bk < 1) bk = 1;
    int64_t ak = bk + sp;

    bool trade = !(in->flags & TP_EV_QUOTE_ONLY) && tp_rng_uniform(&s->rng) < TRADE_P;
    tp_event_init(e, trade ? TP_KIND_TRADE : TP_KIND_QUOTE);
    e->instr = in->id;
    e->ts = e->ts_recv = ts;
    e->flags = in->flags;
    tp_event_set_vsym(e, d->sym, strlen(d->sym));
    if (trade) {
        bool buy = tp_rng_uniform(&s->rng) < 0.5;
        e->side = buy ? TP_SIDE_BUY : TP_SIDE_SELL;
        e->price = (double)(buy ? ak : bk) / in->inv;
        e->size = draw_size(s, in);
        tp_event_set_id(e, in->next_id++);
    } else {
        e->bid = (double)bk / in->inv;
        e->ask = (double)ak / in->inv;
        e->bid_size = draw_size(s, in);
        e->ask_size = draw_size(s, in);
    }
    s->market++;
    s->last_ts = ts;
    draw_arrival(s);
}

int64_t tp_sim_peek_ts(struct tp_sim *s)
{
    if (!s->begun) begin(s);
    if (s->conn_i < s->n) return s->start;
    return s->next_hb <= s->arr_ts ? s->next_hb : s->arr_ts;
}

bool tp_sim_next(struct tp_sim *s, int64_t limit, struct tp_event *ev)
{
    if (!s->begun) begin(s);
    if (s->conn_i < s->n) {
        if (s->start > limit) return false;
        make_status(s, s->conn_i++, TP_ST_CONNECTED, s->start, ev);
        return true;
    }
    if (s->next_hb <= s->arr_ts) {
        if (s->next_hb > limit) return false;
        make_status(s, s->hb_i, TP_ST_HEARTBEAT, s->next_hb, ev);
        s->last_ts = s->next_hb;
        if (++s->hb_i == s->n) {
            s->hb_i = 0;
            s->next_hb += TP_NS_PER_SEC;
        }
        return true;
    }
    if (s->arr_ts > limit) return false;
    fill_market(s, ev);
    return true;
}

size_t tp_sim_final(struct tp_sim *s, enum tp_status st, struct tp_event *ev)
{
    if (!s->begun) begin(s);
    for (size_t i = 0; i < s->n; i++) make_status(s, i, st, s->last_ts, &ev[i]);
    return s->n;
}

/* ---- the source ---------------------------------------------------------------------- */

#define BATCH        256
#define MIN_SLEEP_NS (500 * TP_NS_PER_US)
#define MAX_SLEEP_NS (100 * TP_NS_PER_MS)

struct sim_source {
    struct tp_source base;
    struct tp_sim *sim;
    uint64_t max_events;
};

static void sim_resume(struct tp_source *src, const struct tp_event *e)
{
    tp_sim_resume(((struct sim_source *)src)->sim, e);
}

static void sim_resume_end(struct tp_source *src, bool whole)
{
    if (whole) tp_sim_resume_whole(((struct sim_source *)src)->sim);
}

static bool budget_spent(const struct sim_source *ss)
{
    return ss->max_events && tp_sim_market_events(ss->sim) >= ss->max_events;
}

static int sim_run(struct tp_source *src)
{
    struct sim_source *ss = (struct sim_source *)src;
    struct tp_sim *sim = ss->sim;
    struct tp_ring *ring = src->ring;
    /* Live pacing keeps event time this far ahead of the wall clock: 0, unless the journal's
     * last records are in the future (a previous run at max pace), which the clock must not
     * go back behind. */
    int64_t offset = 0;
    /* The pacing clock: the wall clock read once, advanced by CLOCK_MONOTONIC. A step of the
     * wall clock (an operator's `date -s`, a VM restored from a snapshot, NTP stepping) then
     * neither releases a burst of simulated hours nor stalls the market: event time stays
     * continuous (docs/operations.md "Faults": clock jumps). */
    const int64_t real0 = tp_now_ns(), mono0 = tp_mono_ns();
#define PACE_NOW() (real0 + (tp_mono_ns() - mono0))
    if (src->live) {
        int64_t first = tp_sim_peek_ts(sim), now = PACE_NOW();
        if (first > now) offset = first - now;
        if (offset > TP_NS_PER_SEC)
            tp_warn("sim: the journal's last event time is %.1f s ahead of the clock; event "
                    "time continues from it",
                    (double)offset / 1e9);
    }
    while (!tp_source_stopping(src) && !budget_spent(ss)) {
        int64_t limit = src->live ? PACE_NOW() + offset : INT64_MAX;
        struct tp_event *slots;
        size_t n = tp_ring_reserve(ring, BATCH, &slots);
        if (!n) {
            if (!src->live) {
                tp_source_wait_space(src, MAX_SLEEP_NS);
                continue;
            }
            /* Live and full: what is due now is lost; remember it as a gap. */
            struct tp_event ev;
            size_t k = 0;
            while (k < BATCH && !budget_spent(ss) && tp_sim_next(sim, limit, &ev)) {
                tp_source_drop(src, &ev);
                k++;
            }
            tp_source_wait_space(src, k ? TP_NS_PER_MS : MIN_SLEEP_NS);
            continue;
        }
        size_t used = tp_source_put_gaps(src, slots, n);
        while (used < n && !budget_spent(ss) && tp_sim_next(sim, limit, &slots[used])) used++;
        tp_ring_commit(ring, used);
        atomic_fetch_add_explicit(&src->emitted, used, memory_order_relaxed);
        if (used < n && src->live && !budget_spent(ss)) {
            int64_t wait = tp_sim_peek_ts(sim) - offset - PACE_NOW();
            if (wait > 0) tp_source_sleep(src, TP_MIN(TP_MAX(wait, MIN_SLEEP_NS), MAX_SLEEP_NS));
        }
    }
#undef PACE_NOW
    bool ended = budget_spent(ss);
    struct tp_event fin[TP_SIM_MAX_INSTR];
    size_t k = tp_sim_final(sim, ended ? TP_ST_EOF : TP_ST_DISCONNECTED, fin);
    tp_source_put(src, fin, k, TP_NS_PER_SEC);
    if (ended) atomic_store_explicit(&src->ended, true, memory_order_release);
    return 0;
}

static void sim_free(struct tp_source *src)
{
    struct sim_source *ss = (struct sim_source *)src;
    tp_sim_free(ss->sim);
    tp_source_fini(src);
    free(ss);
}

static const struct tp_source_ops sim_ops = {
    .kind = "sim",
    .resume = sim_resume,
    .resume_end = sim_resume_end,
    .run = sim_run,
    .free = sim_free,
};

int tp_sim_source_new(const char *spec, const struct tp_sim_source_opts *o, struct tp_source **ret,
                      char *err, size_t errcap)
{
    char buf[TP_SOURCE_SPEC_MAX];
    const char *syms[TP_SIM_MAX_INSTR];
    size_t nsyms = 0;
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, errcap, "source spec '%.40s...' is too long", spec);
        return -EINVAL;
    }
    if (strcmp(spec, "sim") != 0) {
        if (strncmp(spec, "sim:", 4) != 0) {
            snprintf(err, errcap, "'%s' is not a sim source", spec);
            return -EINVAL;
        }
        snprintf(buf, sizeof buf, "%s", spec + 4);
        for (char *p = buf, *q; p; p = q) {
            q = strchr(p, ',');
            if (q) *q++ = 0;
            for (char *c = p; *c; c++) *c = (char)toupper((unsigned char)*c);
            if (!*p) continue;
            if (nsyms == TP_SIM_MAX_INSTR) {
                snprintf(err, errcap, "'%s' names more instruments than sim has", spec);
                return -EINVAL;
            }
            syms[nsyms++] = p;
        }
        if (!nsyms) {
            snprintf(err, errcap, "'%s' names no instrument", spec);
            return -EINVAL;
        }
    }
    if (!(o->rate > 0 && o->rate <= TP_SIM_MAX_RATE)) {
        snprintf(err, errcap, "sim rate %g is outside (0, %g] events/s", o->rate, TP_SIM_MAX_RATE);
        return -EINVAL;
    }
    struct sim_source *ss = calloc(1, sizeof *ss);
    if (!ss) return -ENOMEM;
    struct tp_sim_opts so = {
        .seed = o->seed,
        .start_ns = o->start_ns ? o->start_ns : tp_now_ns(),
        .rate = o->rate,
        .jumps_per_hour = -1,
        .symbols = nsyms ? syms : NULL,
        .nsymbols = nsyms,
    };
    size_t bad = 0;
    int rc = tp_sim_new(&so, &ss->sim, &bad);
    if (rc < 0) {
        if (rc == -EINVAL && nsyms && find_def(syms[bad]))
            snprintf(err, errcap, "names %s twice", syms[bad]);
        else if (rc == -EINVAL)
            snprintf(err, errcap, "names '%s', which sim does not have (it has %s)",
                     nsyms ? syms[bad] : "?", tp_sim_known_symbols());
        else
            snprintf(err, errcap, "cannot create the simulator: %s", strerror(-rc));
        free(ss);
        return rc;
    }
    tp_source_init(&ss->base, &sim_ops, spec, !o->max_pace);
    ss->max_events = o->max_events;
    *ret = &ss->base;
    return 0;
}
