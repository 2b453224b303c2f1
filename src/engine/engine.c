/*
 * engine.c — the streaming engine: events in, final bars with indicators, anomalies, late
 * events and gaps out, through callbacks (engine.h; semantics DESIGN.md §3; every choice
 * written down in docs/engine.md).
 *
 * Per event: validate (bad rows are counted in stats.ignored and go no further) →
 * deduplicate (trades) → raise the watermark, emitting every window it finalizes → late check
 * per interval → add to the open windows → detectors. Windows finalized by one watermark
 * advance are emitted by interval ascending, then window start ascending; each bar is
 * followed by its volume_spike alarm if any. The per-trade detector runs last.
 *
 * Cost per trade: one array index to find the instrument, one bit test for a numeric id, and
 * per interval a compare against the newest open window (a division only when the trade
 * starts or revisits another window). Nothing is allocated in steady state: rings, sets and
 * bitmaps grow by doubling up to their caps and stay allocated.
 *
 * Callbacks run synchronously on the caller's thread and must not call back into the
 * engine.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "engine/engine_int.h"

#define INTERVAL_MIN TP_NS_PER_MS
#define INTERVAL_MAX (366 * 86400 * TP_NS_PER_SEC)
#define DAY_NS       (86400 * TP_NS_PER_SEC)

void tp_engine_cfg_default(struct tp_engine_cfg *c)
{
    static const int64_t iv[] = {TP_NS_PER_SEC,       60 * TP_NS_PER_SEC,   300 * TP_NS_PER_SEC,
                                 900 * TP_NS_PER_SEC, 3600 * TP_NS_PER_SEC, DAY_NS};
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < TP_ARRAY_LEN(iv); i++) c->intervals[i] = iv[i];
    c->n_intervals = (int)TP_ARRAY_LEN(iv);
    c->lateness_ns = 2 * TP_NS_PER_SEC;
    c->hold_cap_ns = 60 * TP_NS_PER_SEC;
    c->fill = false;
    tp_ind_cfg_default(&c->ind);
    tp_anomaly_cfg_default(&c->an);
    c->dedup_bitmap_bits = 1u << 16;
    c->dedup_str_max = 100000;
    c->dedup_str_max_age_ns = 600 * TP_NS_PER_SEC;
}

int tp_engine_parse_intervals(struct tp_engine_cfg *c, const char *list)
{
    int64_t iv[TP_MAX_INTERVALS];
    int n = 0;
    const char *p = list;
    if (!p || !*p) return -EINVAL;
    for (;;) {
        const char *q = p;
        while (*q && *q != ',') q++;
        const char *a = p, *z = q;
        while (a < z && (*a == ' ' || *a == '\t')) a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t')) z--;
        char tok[32];
        size_t len = (size_t)(z - a);
        if (len == 0 || len >= sizeof tok || n == TP_MAX_INTERVALS) return -EINVAL;
        memcpy(tok, a, len);
        tok[len] = 0;
        int64_t v;
        if (tp_duration_parse(tok, &v) < 0 || v < INTERVAL_MIN || v > INTERVAL_MAX) return -EINVAL;
        if (n > 0 && v <= iv[n - 1]) return -EINVAL;
        iv[n++] = v;
        if (!*q) break;
        p = q + 1;
    }
    memcpy(c->intervals, iv, sizeof iv[0] * (size_t)n);
    c->n_intervals = n;
    return 0;
}

/* Validates cfg and derives the ring bound of each interval. 0 or -EINVAL. */
static int check_cfg(const struct tp_engine_cfg *c, uint32_t win_max[TP_MAX_INTERVALS])
{
    if (c->n_intervals < 1 || c->n_intervals > TP_MAX_INTERVALS) return -EINVAL;
    if (c->lateness_ns < 0 || c->lateness_ns > DAY_NS) return -EINVAL;
    if (c->hold_cap_ns < 0 || c->hold_cap_ns > DAY_NS) return -EINVAL;
    for (int i = 0; i < c->n_intervals; i++) {
        int64_t iv = c->intervals[i];
        if (iv < INTERVAL_MIN || iv > INTERVAL_MAX) return -EINVAL;
        if (i > 0 && iv <= c->intervals[i - 1]) return -EINVAL;
        /* Open windows of one interval span less than hold cap + lateness + 2 intervals
         * (docs/engine.md, "Bounds"). */
        int64_t need = (c->hold_cap_ns + c->lateness_ns) / iv + 3;
        if (need > TP_ENGINE_WIN_MAX) return -EINVAL;
        uint32_t m = 4;
        while (m < (uint32_t)need) m *= 2;
        win_max[i] = m;
    }
    uint32_t b = c->dedup_bitmap_bits;
    if (b < 64 || b > (1u << 24) || (b & (b - 1))) return -EINVAL;
    if (c->dedup_str_max < 1 || c->dedup_str_max > (1u << 22)) return -EINVAL;
    if (c->dedup_str_max_age_ns < 0) return -EINVAL;
    if (c->an.cooldown_ns < 0 || c->an.stale_ns < 0) return -EINVAL;
    if (tp_ind_cfg_check(&c->ind) < 0) return -EINVAL;
    /* The detectors validate their own cfg: probe them once. */
    struct tp_retz *rz = tp_retz_new(&c->an);
    struct tp_volspike *vs = tp_volspike_new(&c->an);
    bool ok = rz && vs;
    tp_retz_free(rz);
    tp_volspike_free(vs);
    return ok ? 0 : -EINVAL;
}

struct tp_engine *tp_engine_new(const struct tp_engine_cfg *cfg, const struct tp_engine_out *out)
{
    struct tp_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (check_cfg(cfg, e->win_max) < 0) {
        free(e);
        return NULL;
    }
    e->cfg = *cfg;
    if (out) e->out = *out;
    e->dcfg.bits = cfg->dedup_bitmap_bits;
    e->dcfg.str_max = cfg->dedup_str_max;
    e->dcfg.snap_max = TP_DEDUP_SNAP_MAX;
    e->dcfg.max_age = cfg->dedup_str_max_age_ns;
    return e;
}

static void inst_free(const struct tp_engine *e, struct inst *in)
{
    if (!in) return;
    for (int i = 0; i < e->cfg.n_intervals; i++) {
        tp_wring_fini(&in->iv[i].ring);
        tp_ind_free(in->iv[i].ind);
        tp_volspike_free(in->iv[i].vs);
    }
    tp_retz_free(in->retz);
    tp_dedup_fini(&in->dd);
    free(in);
}

void tp_engine_inst_clear(struct tp_engine *e)
{
    for (uint32_t i = 0; i < e->n_inst; i++) {
        e->by_id[e->by_name[i]->id] = NULL;
        inst_free(e, e->by_name[i]);
    }
    e->n_inst = 0;
}

void tp_engine_free(struct tp_engine *e)
{
    if (!e) return;
    tp_engine_inst_clear(e);
    free(e->by_id);
    free(e->by_name);
    free(e);
}

const struct tp_engine_stats *tp_engine_stats(const struct tp_engine *e)
{
    return &e->st;
}

/* ---- instruments ------------------------------------------------------------------------ */

struct inst *tp_engine_inst_new(struct tp_engine *e, uint32_t id)
{
    const struct tp_instrument *ti = tp_instr_get(id);
    if (!ti) return NULL;
    if (id >= e->by_id_cap) {
        uint32_t ncap = e->by_id_cap ? e->by_id_cap : 64;
        while (ncap <= id) ncap *= 2;
        struct inst **nb = realloc(e->by_id, sizeof *nb * ncap);
        if (!nb) return NULL;
        memset(nb + e->by_id_cap, 0, sizeof *nb * (ncap - e->by_id_cap));
        e->by_id = nb;
        e->by_id_cap = ncap;
    }
    if (e->n_inst == e->by_name_cap) {
        uint32_t ncap = e->by_name_cap ? e->by_name_cap * 2 : 64;
        struct inst **nb = realloc(e->by_name, sizeof *nb * ncap);
        if (!nb) return NULL;
        e->by_name = nb;
        e->by_name_cap = ncap;
    }
    int n = e->cfg.n_intervals;
    struct inst *in = calloc(1, sizeof *in + sizeof in->iv[0] * (size_t)n);
    if (!in) return NULL;
    in->id = id;
    in->name = ti->name;
    tp_wm_init(&in->wm);
    in->next_close = INT64_MAX;
    in->last_ev = INT64_MIN;
    in->connected = true;
    tp_dedup_init(&in->dd, &e->dcfg);
    in->retz = tp_retz_new(&e->cfg.an);
    bool ok = in->retz != NULL;
    for (int i = 0; i < n; i++) {
        struct islot *s = &in->iv[i];
        tp_wring_init(&s->ring, e->win_max[i]);
        s->ind = tp_ind_new(&e->cfg.ind);
        s->vs = tp_volspike_new(&e->cfg.an);
        s->last_close = NAN;
        ok = ok && s->ind && s->vs;
    }
    if (!ok) {
        inst_free(e, in);
        return NULL;
    }
    /* Insert into by_name (binary search; new instruments are rare). */
    uint32_t lo = 0, hi = e->n_inst;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (strcmp(e->by_name[mid]->name, in->name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(e->by_name + lo + 1, e->by_name + lo, sizeof *e->by_name * (e->n_inst - lo));
    e->by_name[lo] = in;
    e->n_inst++;
    e->by_id[id] = in;
    return in;
}

static inline struct inst *get_inst(struct tp_engine *e, uint32_t id)
{
    struct inst *in = id < e->by_id_cap ? e->by_id[id] : NULL;
    return TP_LIKELY(in != NULL) ? in : tp_engine_inst_new(e, id);
}

void tp_engine_inst_rearm(const struct tp_engine *e, struct inst *in)
{
    int64_t nc = INT64_MAX;
    for (int i = 0; i < e->cfg.n_intervals; i++) {
        const struct islot *s = &in->iv[i];
        int64_t iv = e->cfg.intervals[i];
        const struct tp_win *f = tp_wring_front(&s->ring);
        if (f && f->start + iv < nc) nc = f->start + iv;
        if (e->cfg.fill && s->has_emitted && s->emitted_end + iv < nc) nc = s->emitted_end + iv;
    }
    in->next_close = nc;
}

/* ---- outputs ------------------------------------------------------------------------------ */

static void emit_anomaly(struct tp_engine *e, struct tp_anomaly *a)
{
    if (a->kind < TP_AN_KINDS) e->st.anomalies[a->kind]++;
    if (e->out.anomaly) e->out.anomaly(e->out.ctx, a);
}

static void emit_real(struct tp_engine *e, struct inst *in, int i, const struct tp_win *w)
{
    struct islot *s = &in->iv[i];
    int64_t iv = e->cfg.intervals[i];
    struct tp_bar b;
    tp_win_to_bar(w, in->id, iv, &b);
    b.final = true;
    tp_ind_update(s->ind, b.high, b.low, b.close, &b.ind);
    e->st.bars[i]++;
    if (e->out.bar) e->out.bar(e->out.ctx, &b);
    s->last_close = b.close;
    s->has_emitted = true;
    s->emitted_end = w->start + iv;
    struct tp_anomaly a;
    if (tp_volspike_update(s->vs, b.ts, b.volume, iv, &a)) {
        a.instr = in->id;
        emit_anomaly(e, &a);
    }
}

static void emit_fill(struct tp_engine *e, struct inst *in, int i, int64_t start)
{
    struct islot *s = &in->iv[i];
    int64_t iv = e->cfg.intervals[i];
    struct tp_bar b;
    memset(&b, 0, sizeof b);
    b.instr = in->id;
    b.interval_ns = iv;
    b.ts = start;
    b.open = b.high = b.low = b.close = s->last_close;
    b.vwap = NAN;
    b.first_ts = b.last_ts = start;
    b.final = true;
    b.filled = true;
    tp_ind_values_clear(&b.ind);
    e->st.bars[i]++;
    if (e->out.bar) e->out.bar(e->out.ctx, &b);
    s->emitted_end = start + iv;
}

/* The first fill window to emit for the empty windows from `from` (a window start) up to,
 * not including, `until`: at most TP_ENGINE_FILL_MAX of them, the newest, so that a wild
 * watermark jump cannot stall the engine. Stays aligned: it skips whole windows. */
static int64_t fill_from(int64_t from, int64_t until, int64_t iv)
{
    if (until <= from) return from;
    int64_t n = (until - from - 1) / iv + 1;
    return n > TP_ENGINE_FILL_MAX ? from + (n - TP_ENGINE_FILL_MAX) * iv : from;
}

/* Emits every window (and fill bar) that the watermark has finalized. */
static void close_windows(struct tp_engine *e, struct inst *in)
{
    int64_t W = in->wm.w;
    for (int i = 0; i < e->cfg.n_intervals; i++) {
        struct islot *s = &in->iv[i];
        int64_t iv = e->cfg.intervals[i];
        struct tp_win *w;
        while ((w = tp_wring_front(&s->ring)) && w->start + iv <= W) {
            if (e->cfg.fill && s->has_emitted)
                for (int64_t t = fill_from(s->emitted_end, w->start, iv); t < w->start; t += iv)
                    emit_fill(e, in, i, t);
            emit_real(e, in, i, w);
            tp_wring_pop(&s->ring);
        }
        if (e->cfg.fill && s->has_emitted && W != TP_WM_POS_INF)
            for (int64_t t = fill_from(s->emitted_end, W - iv + 1, iv); t + iv <= W; t += iv)
                emit_fill(e, in, i, t);
    }
    tp_engine_inst_rearm(e, in);
}

static inline void advanced(struct tp_engine *e, struct inst *in)
{
    if (in->wm.w >= in->next_close) close_windows(e, in);
}

/* A market event of the instrument was seen: restarts the stale clock. */
static inline void touch(struct inst *in, int64_t ts)
{
    if (ts > in->last_ev) in->last_ev = ts;
    in->stale_alarmed = false;
}

/* Watermark, late check and windows for one bar input (a trade, or a quote-only mid). */
static void accept(struct tp_engine *e, struct inst *in, const struct tp_event *ev, double price,
                   double size)
{
    int64_t ts = ev->ts;
    if (!in->wm.eof) {
        tp_wm_raise(&in->wm, ts - e->cfg.lateness_ns, e->cfg.hold_cap_ns);
        advanced(e, in);
    }
    int64_t W = in->wm.w;
    for (int i = 0; i < e->cfg.n_intervals; i++) {
        struct islot *s = &in->iv[i];
        int64_t iv = e->cfg.intervals[i];
        struct tp_win *w = tp_wring_back(&s->ring);
        if (!(w && w->start <= ts && ts - w->start < iv)) {
            int64_t start = tp_window_start(ts, iv);
            if (start + iv <= W) {
                e->st.late[i]++;
                if (e->out.late) e->out.late(e->out.ctx, ev, iv);
                continue;
            }
            w = tp_wring_get(&s->ring, start);
            if (TP_UNLIKELY(!w)) { /* out of memory; the ring cap is never reached */
                e->st.ignored++;
                continue;
            }
            if (start + iv < in->next_close) in->next_close = start + iv;
        }
        tp_win_add(w, ts, price, size, ev->side);
    }
}

/* ---- events -------------------------------------------------------------------------------- */

static void on_trade(struct tp_engine *e, struct inst *in, const struct tp_event *ev)
{
    if (!(isfinite(ev->price) && ev->price > 0 && isfinite(ev->size) && ev->size >= 0) ||
        in->quote_only) {
        e->st.ignored++;
        return;
    }
    if (tp_dedup_trade(&in->dd, &e->dcfg, ev, &e->st.dedup_evictions)) {
        e->st.duplicates++;
        return;
    }
    e->st.trades++;
    touch(in, ev->ts);
    accept(e, in, ev, ev->price, ev->size);
    const struct tp_instrument *ti = tp_instr_get(in->id);
    struct tp_anomaly a;
    if (tp_retz_update(in->retz, ev->ts, ev->price, ti ? ti->tick : 0, &a)) {
        a.instr = in->id;
        emit_anomaly(e, &a);
    }
}

static void on_quote(struct tp_engine *e, struct inst *in, const struct tp_event *ev)
{
    if (!(isfinite(ev->bid) && ev->bid > 0 && isfinite(ev->ask) && ev->ask > 0)) {
        e->st.ignored++;
        return;
    }
    if (ev->flags & TP_EV_QUOTE_ONLY) in->quote_only = true;
    e->st.quotes++;
    touch(in, ev->ts);
    if (in->quote_only) accept(e, in, ev, (ev->bid + ev->ask) / 2, 0);
    if (ev->bid >= ev->ask &&
        (!in->has_crossed || ev->ts - in->last_crossed >= e->cfg.an.cooldown_ns)) {
        in->has_crossed = true;
        in->last_crossed = ev->ts;
        struct tp_anomaly a = {.instr = in->id,
                               .ts = ev->ts,
                               .kind = TP_AN_CROSSED_QUOTE,
                               .observed = ev->bid,
                               .expected = ev->ask,
                               .score = ev->bid - ev->ask,
                               .interval_ns = 0};
        emit_anomaly(e, &a);
    }
}

static void on_heartbeat(struct tp_engine *e, struct inst *in, const struct tp_event *ev)
{
    if (!in->wm.eof) {
        tp_wm_raise(&in->wm, ev->ts - e->cfg.lateness_ns, e->cfg.hold_cap_ns);
        advanced(e, in);
    }
    if (in->last_ev == INT64_MIN) {
        in->last_ev = ev->ts; /* no market event yet: the stale clock starts here */
        return;
    }
    int64_t idle = ev->ts - in->last_ev;
    if (in->connected && !in->stale_alarmed && e->cfg.an.stale_ns > 0 &&
        idle >= e->cfg.an.stale_ns) {
        in->stale_alarmed = true;
        double obs = (double)idle / 1e9, exp = (double)e->cfg.an.stale_ns / 1e9;
        struct tp_anomaly a = {.instr = in->id,
                               .ts = ev->ts,
                               .kind = TP_AN_STALE,
                               .observed = obs,
                               .expected = exp,
                               .score = obs / exp,
                               .interval_ns = 0};
        emit_anomaly(e, &a);
    }
}

static void on_gap(struct tp_engine *e, struct inst *in, const struct tp_event *ev)
{
    struct tp_gap g = {.instr = in->id,
                       .ts = ev->ts,
                       .first_missing = ev->trade_id,
                       .last_missing = ev->gap_last,
                       .by_time = (ev->flags & TP_EV_GAP_TIME) != 0,
                       .backfilled = (ev->flags & TP_EV_BACKFILLED) != 0};
    double missing;
    if (g.by_time) {
        int64_t a = (int64_t)g.first_missing, b = (int64_t)g.last_missing;
        if (b < a || a < -TP_ENGINE_TS_MAX || b > TP_ENGINE_TS_MAX) {
            e->st.ignored++;
            return;
        }
        missing = (double)(b - a) / 1e9;
    } else {
        if (g.last_missing < g.first_missing) {
            e->st.ignored++;
            return;
        }
        missing = (double)(g.last_missing - g.first_missing) + 1;
    }
    e->st.gaps++;
    if (e->out.gap) e->out.gap(e->out.ctx, &g);
    if (g.backfilled) return; /* the gap's alarm came with its first record */
    struct tp_anomaly a = {.instr = in->id,
                           .ts = ev->ts,
                           .kind = TP_AN_GAP,
                           .observed = missing,
                           .expected = 0,
                           .score = missing,
                           .interval_ns = 0};
    emit_anomaly(e, &a);
}

static void on_status(struct tp_engine *e, struct inst *in, const struct tp_event *ev)
{
    switch (ev->status) {
    case TP_ST_HEARTBEAT:
        on_heartbeat(e, in, ev);
        break;
    case TP_ST_HOLD:
        tp_wm_hold(&in->wm, ev->ts - e->cfg.lateness_ns, e->cfg.hold_cap_ns);
        advanced(e, in);
        break;
    case TP_ST_RELEASE:
        tp_wm_release(&in->wm);
        advanced(e, in);
        break;
    case TP_ST_EOF:
        tp_wm_eof(&in->wm);
        advanced(e, in);
        break;
    case TP_ST_GAP:
        on_gap(e, in, ev);
        break;
    case TP_ST_CONNECTED:
        in->connected = true;
        if (ev->ts > in->last_ev) in->last_ev = ev->ts; /* staleness counts from here */
        break;
    case TP_ST_DISCONNECTED:
        in->connected = false;
        break;
    default: /* subscribed, a source's own stale notice: nothing to do */
        break;
    }
}

void tp_engine_process(struct tp_engine *e, const struct tp_event *ev)
{
    e->st.events++;
    if (TP_UNLIKELY(ev->ts < -TP_ENGINE_TS_MAX || ev->ts > TP_ENGINE_TS_MAX)) {
        e->st.ignored++;
        return;
    }
    struct inst *in = get_inst(e, ev->instr);
    if (TP_UNLIKELY(!in)) {
        e->st.ignored++;
        return;
    }
    switch (ev->kind) {
    case TP_KIND_TRADE:
        on_trade(e, in, ev);
        break;
    case TP_KIND_QUOTE:
        on_quote(e, in, ev);
        break;
    case TP_KIND_SNAPSHOT:
        if (!isfinite(ev->price)) {
            e->st.ignored++;
            break;
        }
        e->st.snapshots++;
        touch(in, ev->ts);
        break;
    case TP_KIND_VBAR:
        if (!isfinite(ev->price)) {
            e->st.ignored++;
            break;
        }
        e->st.vbars++;
        touch(in, ev->ts);
        break;
    case TP_KIND_STATUS:
        e->st.status++;
        on_status(e, in, ev);
        break;
    default:
        e->st.ignored++;
        break;
    }
}

void tp_engine_flush_all(struct tp_engine *e)
{
    for (uint32_t i = 0; i < e->n_inst; i++) {
        struct inst *in = e->by_name[i];
        tp_wm_eof(&in->wm);
        advanced(e, in);
    }
}

int tp_engine_partial(const struct tp_engine *e, uint32_t instr, int interval_idx,
                      struct tp_bar *ret)
{
    if (interval_idx < 0 || interval_idx >= e->cfg.n_intervals || instr >= e->by_id_cap ||
        !e->by_id[instr])
        return -ENOENT;
    const struct tp_win *w = tp_wring_back(&e->by_id[instr]->iv[interval_idx].ring);
    if (!w) return -ENOENT;
    tp_win_to_bar(w, instr, e->cfg.intervals[interval_idx], ret);
    return 0;
}
