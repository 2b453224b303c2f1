/*
 * live.c — the live state store (see live.h for the contract and capacities).
 *
 * Layout: `slot_of[instrument id]` maps the process-wide instrument ids to dense slots
 * 1..max_instruments (0 = not tracked); each slot (struct inst) is allocated on the first event
 * of its instrument and holds the summary, the 24 h buckets, the tick ring and up to
 * TP_LIVE_MAX_INTERVALS series (allocated on their first bar). Rings are indexed by a running
 * count: element k lives at k % capacity, and the newest n = min(count, capacity) are valid.
 *
 * Invariants (under `mu`):
 *   1. inst[i] != NULL for 1 ≤ i ≤ ninst, and slot_of[inst[i]->instr] == i.
 *   2. A series' open bars are sorted by ts, all with ts > last_final_ts when has_final.
 *   3. feed element seq s (1 ≤ s ≤ feed_seq, s > feed_seq − feed_cap) is at (s − 1) % feed_cap.
 *   4. 24 h bucket k holds idx ≡ k (mod NBUCKET); a bucket with a smaller idx than an incoming
 *      event's is stale and is reset, never merged.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/instrument.h"
#include "serve/live.h"

#define SEC       TP_NS_PER_SEC
#define NBUCKET   288
#define BUCKET_NS (300 * SEC) /* 288 × 5 min = 24 h */

struct bucket {
    int64_t idx; /* floor(ts / BUCKET_NS); INT64_MIN when empty */
    int64_t first_ts;
    double first; /* price of the earliest event in the bucket */
    double vol;   /* Σ trade size */
};

struct series {
    int64_t interval_ns;
    struct tp_bar *ring; /* cfg.bars final bars */
    uint64_t count;      /* final bars ever stored */
    int64_t last_final_ts;
    bool has_final;
    uint32_t nopen;
    struct tp_bar open[TP_LIVE_OPEN_MAX];
    bool open_dirty[TP_LIVE_OPEN_MAX];
};

struct inst {
    uint32_t instr;
    char vsym[TP_VSYM_MAX + 1];
    int64_t max_ts;
    double price, bid, ask;
    bool has_trade_price; /* price came from a trade, snapshot or vendor bar (not a mid) */
    uint8_t status;
    int64_t status_ts;
    uint64_t records;
    double price_sum;
    uint64_t price_n;
    bool dirty; /* summary changed since the last tp_live_take_instruments */
    struct bucket b[NBUCKET];
    struct tp_event *ticks; /* cfg.ticks */
    uint64_t nticks;
    uint32_t nseries;
    struct series *series[TP_LIVE_MAX_INTERVALS];
};

struct tp_live {
    pthread_mutex_t mu;
    char *quality; /* the latest validate report (owned), nquality bytes */
    size_t nquality;
    struct tp_live_cfg cfg;
    uint32_t *slot_of;  /* TP_INSTR_MAX + 1 entries */
    struct inst **inst; /* [1..cfg.max_instruments]; [0] unused */
    uint32_t ninst;
    uint64_t instruments_dropped;

    struct tp_anomaly *an; /* cfg.anomalies */
    uint64_t nan;

    struct tp_live_msg *feed; /* cfg.feed */
    uint64_t feed_seq;
    atomic_uint want;
    atomic_bool armed;
    void (*notify)(void *);
    void *notify_arg;

    struct tp_live_counters c;
    uint64_t source_bad; /* tp_live_set_source_bad */
    uint64_t published, bars_final;
    int64_t intervals[TP_LIVE_MAX_INTERVALS];
    uint64_t bars_by_interval[TP_LIVE_MAX_INTERVALS];
    uint64_t an_by_kind[TP_AN_KINDS];
    bool has_conn[TP_LIVE_MAX_NAMED]; /* connector statistics of sources[i] */
    struct tp_connstats conn[TP_LIVE_MAX_NAMED];
    struct tp_live_named sources[TP_LIVE_MAX_NAMED], sinks[TP_LIVE_MAX_NAMED],
        queues[TP_LIVE_MAX_NAMED];
    uint32_t nsources, nsinks, nqueues;
    struct tp_live_kafka kafka[TP_LIVE_MAX_KAFKA];
    uint32_t nkafka;
};

void tp_live_cfg_default(struct tp_live_cfg *c)
{
    c->max_instruments = 256;
    c->ticks = 256;
    c->bars = 500;
    c->anomalies = 1024;
    c->feed = 32768;
}

static bool ring_ok(uint32_t n)
{
    return n >= 1 && n <= TP_LIVE_MAX_RING;
}

struct tp_live *tp_live_new(const struct tp_live_cfg *cfg)
{
    struct tp_live_cfg c;
    if (cfg)
        c = *cfg;
    else
        tp_live_cfg_default(&c);
    if (c.max_instruments < 1 || c.max_instruments > TP_LIVE_MAX_INSTR_CAP || !ring_ok(c.ticks) ||
        !ring_ok(c.bars) || !ring_ok(c.anomalies) || !ring_ok(c.feed))
        return NULL;
    struct tp_live *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->cfg = c;
    l->slot_of = calloc((size_t)TP_INSTR_MAX + 1, sizeof(*l->slot_of));
    l->inst = calloc((size_t)c.max_instruments + 1, sizeof(*l->inst));
    l->an = calloc(c.anomalies, sizeof(*l->an));
    l->feed = calloc(c.feed, sizeof(*l->feed));
    if (!l->slot_of || !l->inst || !l->an || !l->feed) goto out_free;
    if (pthread_mutex_init(&l->mu, NULL)) goto out_free;
    atomic_init(&l->want, 0);
    atomic_init(&l->armed, true);
    l->c.lag_ns = -1;
    l->c.watermark_lag_ns = -1;
    return l;
out_free:
    free(l->slot_of);
    free(l->inst);
    free(l->an);
    free(l->feed);
    free(l);
    return NULL;
}

void tp_live_free(struct tp_live *l)
{
    if (!l) return;
    for (uint32_t i = 1; i <= l->ninst; i++) {
        struct inst *in = l->inst[i];
        for (uint32_t k = 0; k < in->nseries; k++) {
            free(in->series[k]->ring);
            free(in->series[k]);
        }
        free(in->ticks);
        free(in);
    }
    pthread_mutex_destroy(&l->mu);
    free(l->quality);
    free(l->slot_of);
    free(l->inst);
    free(l->an);
    free(l->feed);
    free(l);
}

void tp_live_get_cfg(const struct tp_live *l, struct tp_live_cfg *out)
{
    *out = l->cfg; /* immutable after tp_live_new */
}

/* ---- Internals (all under l->mu) ---- */

static struct inst *inst_get(struct tp_live *l, uint32_t instr)
{
    if (instr == 0 || instr > TP_INSTR_MAX) return NULL;
    uint32_t s = l->slot_of[instr];
    return s ? l->inst[s] : NULL;
}

static struct inst *inst_get_or_add(struct tp_live *l, uint32_t instr)
{
    if (instr == 0 || instr > TP_INSTR_MAX) return NULL;
    struct inst *in = inst_get(l, instr);
    if (in) return in;
    if (l->ninst >= l->cfg.max_instruments) goto out_drop;
    in = calloc(1, sizeof(*in));
    if (!in) goto out_drop;
    in->ticks = malloc((size_t)l->cfg.ticks * sizeof(*in->ticks));
    if (!in->ticks) {
        free(in);
        goto out_drop;
    }
    in->instr = instr;
    in->price = in->bid = in->ask = NAN;
    for (int k = 0; k < NBUCKET; k++) in->b[k].idx = INT64_MIN;
    l->inst[++l->ninst] = in;
    l->slot_of[instr] = l->ninst;
    return in;
out_drop:
    l->instruments_dropped++;
    return NULL;
}

static struct series *series_get(struct inst *in, int64_t interval_ns)
{
    for (uint32_t k = 0; k < in->nseries; k++)
        if (in->series[k]->interval_ns == interval_ns) return in->series[k];
    return NULL;
}

static struct series *series_get_or_add(struct tp_live *l, struct inst *in, int64_t interval_ns)
{
    struct series *s = series_get(in, interval_ns);
    if (s || interval_ns <= 0 || in->nseries >= TP_LIVE_MAX_INTERVALS) return s;
    s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->ring = malloc((size_t)l->cfg.bars * sizeof(*s->ring));
    if (!s->ring) {
        free(s);
        return NULL;
    }
    s->interval_ns = interval_ns;
    in->series[in->nseries++] = s;
    return s;
}

/* Appends to the feed when a reader wants the kind; returns true when the reader should be
 * woken (the caller calls notify after unlocking). */
static bool feed_push(struct tp_live *l, unsigned kind, const void *p, size_t n)
{
    if (!(atomic_load_explicit(&l->want, memory_order_relaxed) & kind)) return false;
    struct tp_live_msg *m = &l->feed[l->feed_seq % l->cfg.feed];
    m->seq = ++l->feed_seq;
    m->kind = (uint8_t)kind;
    memcpy(&m->u, p, n);
    return l->notify && atomic_exchange_explicit(&l->armed, false, memory_order_acq_rel);
}

/* Called with the lock held, so that once tp_live_set_notify(NULL) returns no publisher is
 * still inside the hook (the HTTP server may be destroying what it points to). The hook is
 * cheap (a write to the event loop's wake-up pipe) and runs at most once per drain. */
static void wake(struct tp_live *l, bool need)
{
    if (need && l->notify) l->notify(l->notify_arg);
}

static void bucket_add(struct inst *in, int64_t ts, double price, double vol)
{
    int64_t idx = tp_floor_div(ts, BUCKET_NS);
    int64_t k = idx % NBUCKET;
    if (k < 0) k += NBUCKET;
    struct bucket *b = &in->b[k];
    if (b->idx > idx) return; /* older than the window this slot now holds */
    if (b->idx < idx) {
        b->idx = idx;
        b->first = NAN;
        b->first_ts = INT64_MAX;
        b->vol = 0;
    }
    if (!isnan(price) && ts < b->first_ts) {
        b->first = price;
        b->first_ts = ts;
    }
    if (!isnan(vol)) b->vol += vol;
}

static void set_price(struct inst *in, double p)
{
    in->price = p;
    in->has_trade_price = true;
    in->price_sum += p;
    in->price_n++;
}

static void summary(const struct inst *in, struct tp_live_instr *o)
{
    o->instr = in->instr;
    memcpy(o->venue_symbol, in->vsym, sizeof(o->venue_symbol));
    o->ts = in->max_ts;
    o->price = in->price;
    o->bid = in->bid;
    o->ask = in->ask;
    o->status = in->status;
    o->status_ts = in->status_ts;
    o->records = in->records;
    o->avg_price = in->price_n ? in->price_sum / (double)in->price_n : NAN;
    /* 24 h window of event time: buckets (cur − NBUCKET, cur]. */
    int64_t cur = tp_floor_div(in->max_ts, BUCKET_NS);
    double vol = 0, ref = NAN;
    int64_t ref_idx = INT64_MAX;
    for (int k = 0; k < NBUCKET; k++) {
        const struct bucket *b = &in->b[k];
        if (b->idx == INT64_MIN || b->idx > cur || b->idx <= cur - NBUCKET) continue;
        vol += b->vol;
        if (!isnan(b->first) && b->idx < ref_idx) {
            ref_idx = b->idx;
            ref = b->first;
        }
    }
    o->volume_24h = vol;
    o->change_24h = isnan(in->price) || isnan(ref) ? NAN : in->price - ref;
    o->change_24h_pct = isnan(o->change_24h) || ref == 0 ? NAN : o->change_24h / ref * 100.0;
}

/* ---- Publishing ---- */

static bool is_state(uint8_t st)
{
    return st == TP_ST_CONNECTED || st == TP_ST_DISCONNECTED || st == TP_ST_SUBSCRIBED ||
           st == TP_ST_STALE || st == TP_ST_EOF;
}

/* One event, with the lock held. Returns whether the stream feed got a message. */
static bool event_locked(struct tp_live *l, const struct tp_event *e)
{
    bool need = false;
    l->published++;
    struct inst *in = inst_get_or_add(l, e->instr);
    if (!in) return need;
    if (e->kind == TP_KIND_STATUS) {
        if (is_state(e->status)) {
            in->status = e->status;
            in->status_ts = e->ts;
            in->dirty = true;
        } else if (e->status == TP_ST_HEARTBEAT && in->status == TP_ST_NONE) {
            in->status = TP_ST_CONNECTED;
            in->status_ts = e->ts;
            in->dirty = true;
        }
        if (e->status != TP_ST_HEARTBEAT && e->status != TP_ST_HOLD && e->status != TP_ST_RELEASE)
            need = feed_push(l, TP_LIVE_STATUS, e, sizeof(*e));
        return need;
    }
    in->records++;
    if (e->ts > in->max_ts) in->max_ts = e->ts;
    if (e->vsym_len) memcpy(in->vsym, e->venue_symbol, sizeof(in->vsym));
    switch (e->kind) {
    case TP_KIND_TRADE:
        if (!isnan(e->price)) {
            set_price(in, e->price);
            bucket_add(in, e->ts, e->price, e->size);
        }
        break;
    case TP_KIND_SNAPSHOT:
    case TP_KIND_VBAR:
        if (!isnan(e->price)) {
            set_price(in, e->price);
            bucket_add(in, e->ts, e->price, NAN);
        }
        break;
    case TP_KIND_QUOTE:
        if (!isnan(e->bid)) in->bid = e->bid;
        if (!isnan(e->ask)) in->ask = e->ask;
        if (!in->has_trade_price && !isnan(e->bid) && !isnan(e->ask)) {
            /* Quote-only instruments show the mid as their price (DESIGN.md §3). */
            double mid = (e->bid + e->ask) / 2;
            in->price = mid;
            in->price_sum += mid;
            in->price_n++;
            bucket_add(in, e->ts, mid, NAN);
        }
        break;
    default:
        break;
    }
    in->ticks[in->nticks++ % l->cfg.ticks] = *e;
    in->dirty = true;
    return feed_push(l, TP_LIVE_TICK, e, sizeof(*e));
}

void tp_live_event(struct tp_live *l, const struct tp_event *e)
{
    tp_live_events(l, e, 1);
}

void tp_live_events(struct tp_live *l, const struct tp_event *e, size_t n)
{
    bool need = false;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) need |= event_locked(l, &e[i]);
    wake(l, need);
    pthread_mutex_unlock(&l->mu);
}

void tp_live_bar_update(struct tp_live *l, const struct tp_bar *b)
{
    pthread_mutex_lock(&l->mu);
    struct inst *in = inst_get_or_add(l, b->instr);
    struct series *s = in ? series_get_or_add(l, in, b->interval_ns) : NULL;
    if (!s || (s->has_final && b->ts <= s->last_final_ts)) goto out_unlock;
    uint32_t i = 0;
    while (i < s->nopen && s->open[i].ts < b->ts) i++;
    if (i < s->nopen && s->open[i].ts == b->ts) {
        s->open[i] = *b;
        s->open[i].final = false;
        s->open_dirty[i] = true;
        goto out_unlock;
    }
    if (s->nopen == TP_LIVE_OPEN_MAX) {
        if (i == 0) goto out_unlock; /* older than every open window kept: evict it instead */
        memmove(&s->open[0], &s->open[1], sizeof(s->open[0]) * (TP_LIVE_OPEN_MAX - 1));
        memmove(&s->open_dirty[0], &s->open_dirty[1], sizeof(bool) * (TP_LIVE_OPEN_MAX - 1));
        s->nopen--;
        i--;
    }
    memmove(&s->open[i + 1], &s->open[i], sizeof(s->open[0]) * (s->nopen - i));
    memmove(&s->open_dirty[i + 1], &s->open_dirty[i], sizeof(bool) * (s->nopen - i));
    s->open[i] = *b;
    s->open[i].final = false;
    s->open_dirty[i] = true;
    s->nopen++;
out_unlock:
    pthread_mutex_unlock(&l->mu);
}

static void count_interval(struct tp_live *l, int64_t iv)
{
    for (int k = 0; k < TP_LIVE_MAX_INTERVALS; k++) {
        if (l->intervals[k] == iv || l->intervals[k] == 0) {
            l->intervals[k] = iv;
            l->bars_by_interval[k]++;
            return;
        }
    }
}

void tp_live_bar_final(struct tp_live *l, const struct tp_bar *b)
{
    bool need = false;
    pthread_mutex_lock(&l->mu);
    struct inst *in = inst_get_or_add(l, b->instr);
    struct series *s = in ? series_get_or_add(l, in, b->interval_ns) : NULL;
    if (!s || (s->has_final && b->ts <= s->last_final_ts)) goto out_unlock;
    struct tp_bar *slot = &s->ring[s->count++ % l->cfg.bars];
    *slot = *b;
    slot->final = true;
    s->has_final = true;
    s->last_final_ts = b->ts;
    uint32_t drop = 0;
    while (drop < s->nopen && s->open[drop].ts <= b->ts) drop++;
    memmove(&s->open[0], &s->open[drop], sizeof(s->open[0]) * (s->nopen - drop));
    memmove(&s->open_dirty[0], &s->open_dirty[drop], sizeof(bool) * (s->nopen - drop));
    s->nopen -= drop;
    l->bars_final++;
    count_interval(l, b->interval_ns);
    need = feed_push(l, TP_LIVE_FINAL_BAR, slot, sizeof(*slot));
out_unlock:
    wake(l, need);
    pthread_mutex_unlock(&l->mu);
}

void tp_live_anomaly(struct tp_live *l, const struct tp_anomaly *a)
{
    pthread_mutex_lock(&l->mu);
    l->an[l->nan++ % l->cfg.anomalies] = *a;
    l->an_by_kind[a->kind < TP_AN_KINDS ? a->kind : 0]++;
    wake(l, feed_push(l, TP_LIVE_ANOMALY, a, sizeof(*a)));
    pthread_mutex_unlock(&l->mu);
}

void tp_live_set_counters(struct tp_live *l, const struct tp_live_counters *c)
{
    pthread_mutex_lock(&l->mu);
    l->c = *c;
    pthread_mutex_unlock(&l->mu);
}

void tp_live_set_source_bad(struct tp_live *l, uint64_t bad)
{
    pthread_mutex_lock(&l->mu);
    l->source_bad = bad;
    pthread_mutex_unlock(&l->mu);
}

static struct tp_live_named *named(struct tp_live_named *tab, uint32_t *n, const char *name,
                                   int *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > TP_LIVE_NAME_MAX) {
        *err = -EINVAL;
        return NULL;
    }
    for (uint32_t i = 0; i < *n; i++)
        if (!strcmp(tab[i].name, name)) return &tab[i];
    if (*n >= TP_LIVE_MAX_NAMED) {
        *err = -ENOSPC;
        return NULL;
    }
    struct tp_live_named *e = &tab[(*n)++];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, name, len + 1);
    return e;
}

int tp_live_set_source(struct tp_live *l, const char *name, enum tp_status st, uint64_t events,
                       uint64_t dropped)
{
    int err = 0;
    pthread_mutex_lock(&l->mu);
    struct tp_live_named *e = named(l->sources, &l->nsources, name, &err);
    if (e) {
        e->status = (uint8_t)st;
        e->events = events;
        e->dropped = dropped;
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

int tp_live_set_source_conn(struct tp_live *l, const char *name, const struct tp_connstats *c)
{
    int err = 0;
    pthread_mutex_lock(&l->mu);
    struct tp_live_named *e = named(l->sources, &l->nsources, name, &err);
    if (e) {
        size_t i = (size_t)(e - l->sources);
        l->has_conn[i] = true;
        l->conn[i] = *c;
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

int tp_live_set_sink(struct tp_live *l, const char *name, uint64_t records, uint64_t errors)
{
    int err = 0;
    pthread_mutex_lock(&l->mu);
    struct tp_live_named *e = named(l->sinks, &l->nsinks, name, &err);
    if (e) {
        e->events = records;
        e->dropped = errors;
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

int tp_live_set_sink_health(struct tp_live *l, const char *name, bool up, uint64_t lag,
                            const char *last_error)
{
    int err = 0;
    pthread_mutex_lock(&l->mu);
    struct tp_live_named *e = named(l->sinks, &l->nsinks, name, &err);
    if (e) {
        e->health = true;
        e->up = up;
        e->lag = lag;
        size_t n = last_error ? strnlen(last_error, TP_LIVE_ERROR_MAX) : 0;
        if (n) memcpy(e->error, last_error, n);
        e->error[n] = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

int tp_live_set_queue(struct tp_live *l, const char *name, uint64_t depth, uint64_t capacity,
                      uint64_t dropped)
{
    int err = 0;
    pthread_mutex_lock(&l->mu);
    struct tp_live_named *e = named(l->queues, &l->nqueues, name, &err);
    if (e) {
        e->depth = depth;
        e->capacity = capacity;
        e->dropped = dropped;
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

int tp_live_set_kafka(struct tp_live *l, const struct tp_live_kafka *k)
{
    if (!k->role[0] || !memchr(k->role, 0, sizeof k->role)) return -EINVAL;
    int err = -ENOSPC;
    pthread_mutex_lock(&l->mu);
    uint32_t i = 0;
    while (i < l->nkafka && strcmp(l->kafka[i].role, k->role)) i++;
    if (i < TP_LIVE_MAX_KAFKA) {
        l->kafka[i] = *k;
        if (i == l->nkafka) l->nkafka++;
        err = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

/* ---- Reading ---- */

static int cmp_instr_name(const void *a, const void *b)
{
    const struct tp_live_instr *x = a, *y = b;
    return strcmp(tp_instr_name(x->instr), tp_instr_name(y->instr));
}

size_t tp_live_instruments(struct tp_live *l, struct tp_live_instr *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    for (uint32_t i = 1; i <= l->ninst && n < cap; i++) summary(l->inst[i], &out[n++]);
    pthread_mutex_unlock(&l->mu);
    qsort(out, n, sizeof(*out), cmp_instr_name);
    return n;
}

int tp_live_instrument(struct tp_live *l, uint32_t instr, struct tp_live_instr *out)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&l->mu);
    struct inst *in = inst_get(l, instr);
    if (in) {
        summary(in, out);
        rc = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

size_t tp_live_ticks(struct tp_live *l, uint32_t instr, struct tp_event *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    struct inst *in = inst_get(l, instr);
    if (in) {
        uint64_t have = TP_MIN(in->nticks, (uint64_t)l->cfg.ticks);
        n = (size_t)TP_MIN(have, (uint64_t)cap);
        for (uint64_t k = in->nticks - n; k < in->nticks; k++)
            out[k - (in->nticks - n)] = in->ticks[k % l->cfg.ticks];
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

size_t tp_live_bars(struct tp_live *l, uint32_t instr, int64_t interval_ns, int64_t from,
                    int64_t to, struct tp_bar *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0) return 0;
    pthread_mutex_lock(&l->mu);
    struct inst *in = inst_get(l, instr);
    struct series *s = in ? series_get(in, interval_ns) : NULL;
    if (!s) goto out_unlock;
    /* Count the matching open bars first: they are the newest and come last. */
    size_t nopen = 0;
    for (uint32_t i = 0; i < s->nopen; i++)
        if (s->open[i].ts >= from && s->open[i].ts < to) nopen++;
    size_t want_final = cap > nopen ? cap - nopen : 0;
    /* Final bars in range, newest backwards until want_final are found. */
    uint64_t have = TP_MIN(s->count, (uint64_t)l->cfg.bars);
    uint64_t lo = s->count - have, k = s->count;
    size_t nf = 0;
    while (k > lo && nf < want_final) {
        const struct tp_bar *b = &s->ring[(k - 1) % l->cfg.bars];
        if (b->ts < from) break;
        if (b->ts < to) nf++;
        k--;
    }
    for (uint64_t j = k; j < s->count && n < nf; j++) {
        const struct tp_bar *b = &s->ring[j % l->cfg.bars];
        if (b->ts >= from && b->ts < to) out[n++] = *b;
    }
    size_t skip = nopen > cap ? nopen - cap : 0; /* keep the newest open bars */
    for (uint32_t i = 0; i < s->nopen && n < cap; i++)
        if (s->open[i].ts >= from && s->open[i].ts < to && (skip == 0 || skip-- == 0))
            out[n++] = s->open[i];
out_unlock:
    pthread_mutex_unlock(&l->mu);
    return n;
}

size_t tp_live_anomalies(struct tp_live *l, int64_t since, uint32_t instr, struct tp_anomaly *out,
                         size_t cap)
{
    size_t n = 0;
    if (cap == 0) return 0;
    pthread_mutex_lock(&l->mu);
    uint64_t have = TP_MIN(l->nan, (uint64_t)l->cfg.anomalies);
    uint64_t lo = l->nan - have, k = l->nan;
    size_t want = 0;
    while (k > lo && want < cap) {
        const struct tp_anomaly *a = &l->an[(k - 1) % l->cfg.anomalies];
        if (a->ts >= since && (!instr || a->instr == instr)) want++;
        k--;
    }
    for (uint64_t j = k; j < l->nan && n < want; j++) {
        const struct tp_anomaly *a = &l->an[j % l->cfg.anomalies];
        if (a->ts >= since && (!instr || a->instr == instr)) out[n++] = *a;
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

void tp_live_stats(struct tp_live *l, struct tp_live_stats *o)
{
    pthread_mutex_lock(&l->mu);
    o->c = l->c;
    o->c.bad += l->source_bad;
    o->published = l->published;
    o->bars_final = l->bars_final;
    memcpy(o->bars_by_interval, l->bars_by_interval, sizeof(o->bars_by_interval));
    memcpy(o->intervals, l->intervals, sizeof(o->intervals));
    memcpy(o->anomalies_by_kind, l->an_by_kind, sizeof(o->anomalies_by_kind));
    o->instruments = l->ninst;
    o->instruments_dropped = l->instruments_dropped;
    o->feed_seq = l->feed_seq;
    memcpy(o->sources, l->sources, sizeof(o->sources));
    memcpy(o->sinks, l->sinks, sizeof(o->sinks));
    memcpy(o->queues, l->queues, sizeof(o->queues));
    o->nsources = l->nsources;
    o->nsinks = l->nsinks;
    o->nqueues = l->nqueues;
    memcpy(o->kafka, l->kafka, sizeof(o->kafka));
    o->nkafka = l->nkafka;
    memcpy(o->has_conn, l->has_conn, sizeof(o->has_conn));
    memcpy(o->conn, l->conn, l->nsources * sizeof(o->conn[0]));
    pthread_mutex_unlock(&l->mu);
}

/* ---- The stream feed ---- */

void tp_live_set_notify(struct tp_live *l, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&l->mu);
    l->notify = fn;
    l->notify_arg = arg;
    pthread_mutex_unlock(&l->mu);
}

void tp_live_feed_want(struct tp_live *l, unsigned kinds)
{
    atomic_store_explicit(&l->want, kinds, memory_order_relaxed);
}

void tp_live_rearm(struct tp_live *l)
{
    atomic_store_explicit(&l->armed, true, memory_order_release);
}

uint64_t tp_live_feed_head(struct tp_live *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t h = l->feed_seq;
    pthread_mutex_unlock(&l->mu);
    return h;
}

size_t tp_live_feed_read(struct tp_live *l, uint64_t *cursor, struct tp_live_msg *out, size_t cap,
                         uint64_t *missed)
{
    size_t n = 0;
    *missed = 0;
    pthread_mutex_lock(&l->mu);
    uint64_t head = l->feed_seq, next = *cursor + 1;
    if (*cursor > head) next = head + 1; /* a cursor from the future: nothing to read */
    uint64_t oldest = head >= l->cfg.feed ? head - l->cfg.feed + 1 : 1;
    if (next < oldest) {
        *missed = oldest - next;
        next = oldest;
    }
    while (next <= head && n < cap) {
        out[n++] = l->feed[(next - 1) % l->cfg.feed];
        next++;
    }
    *cursor = next - 1;
    pthread_mutex_unlock(&l->mu);
    return n;
}

size_t tp_live_take_open_bars(struct tp_live *l, struct tp_bar *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    for (uint32_t i = 1; i <= l->ninst && n < cap; i++) {
        struct inst *in = l->inst[i];
        for (uint32_t k = 0; k < in->nseries && n < cap; k++) {
            struct series *s = in->series[k];
            for (uint32_t j = 0; j < s->nopen && n < cap; j++)
                if (s->open_dirty[j]) {
                    out[n++] = s->open[j];
                    s->open_dirty[j] = false;
                }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

size_t tp_live_take_instruments(struct tp_live *l, struct tp_live_instr *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    for (uint32_t i = 1; i <= l->ninst && n < cap; i++)
        if (l->inst[i]->dirty) {
            summary(l->inst[i], &out[n++]);
            l->inst[i]->dirty = false;
        }
    pthread_mutex_unlock(&l->mu);
    return n;
}

int tp_live_set_quality(struct tp_live *l, const char *json, size_t n)
{
    if (n > TP_LIVE_QUALITY_MAX) return -E2BIG;
    char *copy = malloc(n + 1);
    if (!copy) return -ENOMEM;
    memcpy(copy, json, n);
    copy[n] = 0;
    pthread_mutex_lock(&l->mu);
    char *old = l->quality;
    l->quality = copy;
    l->nquality = n;
    pthread_mutex_unlock(&l->mu);
    free(old);
    return 0;
}

int tp_live_quality(struct tp_live *l, struct tp_buf *b)
{
    pthread_mutex_lock(&l->mu);
    int rc = l->quality ? tp_buf_append(b, l->quality, l->nquality) : 0;
    if (rc == 0 && l->quality) rc = 1;
    pthread_mutex_unlock(&l->mu);
    return rc;
}
