/*
 * anomaly.c — the return z-score and volume spike detectors (anomaly.h, DESIGN.md §3).
 *
 * Both detectors look at a value against the statistics of the values before it, over a
 * sliding window, so they share one piece of machinery: struct win, a ring of the last `cap`
 * values with running sums that give the mean (and, for returns, the sample variance) in O(1)
 * per value.
 *
 * Numerics. A sliding sum that adds each value and later subtracts it drifts: every add and
 * subtract rounds, and after a large value has left, its rounding residue can be large next
 * to the small values that remain (a 10% jump leaves ~1e-18 in Σd², next to a calm Σd² of
 * ~1e-6). And the variance from sums, (Σd² − (Σd)²/n)/(n − 1), cancels whenever the mean is
 * far from the origin of the sums next to the spread. So:
 *   1. The sums are of d = x − k, where the shift k is the mean of the ring at the last
 *      rebuild, so Σd is usually small and the formula does not cancel much.
 *   2. The sums are double-doubles (hi + lo, ~106 bits), built with error-free transforms:
 *      a value's terms are computed exactly, its removal subtracts bit for bit what its
 *      addition added, and what remains of a departed spike is ~2^-106 of it. The variance
 *      formula is evaluated in double-double too, so where it does cancel (a calm stretch
 *      right after a jump, before k is re-centred) the result still has ~2^-100 of Σd² as
 *      its error instead of 2^-53 of it.
 *   3. Every `cap` pushes the ring is summed again from scratch (k re-centred on the current
 *      mean, then Σd and Σd² recomputed), which discards what little error has built up and
 *      follows a mean that has moved. That costs O(cap) once every cap values: O(1)
 *      amortized per value (one value in cap pays the rebuild).
 * And exactness where it matters: `same` counts how many of the newest values are equal; a
 * ring whose values are all equal has mean = that value and variance 0 exactly, whatever the
 * sums say, so a constant series gives σ = 0 (then floored) and never alarms.
 *
 * Invariants of struct win (checked again by win_load):
 *   1. 0 ≤ count ≤ cap; the values are v[start], v[start+1], ... (mod cap), oldest first.
 *   2. s1 ≈ Σ (v − k) and, when var, s2 ≈ Σ (v − k)² over those values; otherwise s2 = 0.
 *   3. since = pushes since the last rebuild, < cap; while count < cap, since == count.
 *   4. same = the number of trailing equal values, 1 ≤ same ≤ count (0 when count is 0).
 *   5. Every value is finite (a log return, |r| < 1000; or a volume in [0, 1e300]); so are
 *      k and the sums; with no values, k and the sums are 0.
 *   6. Behaviour depends on the order of the values only, never on where the ring starts,
 *      so a saved state is written oldest first and loaded with start = 0.
 *
 * Cooldown: `quiet_until` is the event time from which the next alarm may fire (INT64_MIN
 * before the first alarm); an alarm at ts sets it to ts + cooldown (saturating). Times are
 * event times, so a trade processed late with an earlier ts is still inside the cooldown.
 *
 * Pure state machines: no logging, no clock; one detector belongs to the engine thread.
 */
#include <math.h>
#include <stdatomic.h>

#include "engine/anomaly.h"

#define RETZ_MAGIC    UINT32_C(0x5a525054) /* "TPRZ" little-endian */
#define VOLS_MAGIC    UINT32_C(0x53565054) /* "TPVS" little-endian */
#define STATE_VERSION 1

/* Larger volumes are ignored as nonsense; the cap keeps every sum of a lookback of them
 * (≤ TP_AN_MAX_WINDOW · 1e300) finite. */
#define MAX_VOLUME 1e300

static const char *const kind_names[TP_AN_KINDS] = {
    [TP_AN_RETURN_ZSCORE] = "return_zscore",
    [TP_AN_VOLUME_SPIKE] = "volume_spike",
    [TP_AN_CROSSED_QUOTE] = "crossed_quote",
    [TP_AN_STALE] = "stale",
    [TP_AN_GAP] = "gap",
};

const char *tp_anomaly_kind_name(enum tp_anomaly_kind k)
{
    if ((int)k <= 0 || (int)k >= TP_AN_KINDS) return "unknown";
    return kind_names[k];
}

void tp_anomaly_cfg_default(struct tp_anomaly_cfg *c)
{
    c->window = 100;
    c->z = 3;
    c->cooldown_ns = 10 * TP_NS_PER_SEC;
    c->vol_lookback = 20;
    c->vol_mult = 5;
    c->stale_ns = 60 * TP_NS_PER_SEC;
}

int tp_anomaly_cfg_check(const struct tp_anomaly_cfg *c)
{
    /* A sample standard deviation needs two returns; a mean needs one bar. */
    if (c->window < 2 || c->window > TP_AN_MAX_WINDOW) return -EINVAL;
    if (c->vol_lookback < 1 || c->vol_lookback > TP_AN_MAX_WINDOW) return -EINVAL;
    if (!isfinite(c->z) || c->z <= 0) return -EINVAL;
    if (!isfinite(c->vol_mult) || c->vol_mult <= 0) return -EINVAL;
    if (c->cooldown_ns < 0 || c->stale_ns < 0) return -EINVAL;
    return 0;
}

/* Small helpers of the hot per-trade path, inlined into both builds of tp_retz_update. */
#define INLINE static inline __attribute__((always_inline))

/* ---- double-double arithmetic ----
 *
 * A value hi + lo held unevaluated, with |lo| around an ulp of |hi| or less, carries ~106
 * bits. The two error-free transforms below are exact with round-to-nearest and no
 * contraction of a*b+c into an fma (ISO C mode, which the build uses); the products in
 * two_prod are of 26-bit halves, exact, so even a contracted build computes the same. */

struct dd {
    double hi, lo;
};

/* s + e == a + b exactly (Knuth). */
INLINE void two_sum(double a, double b, double *s, double *e)
{
    double t = a + b, bb = t - a;
    *e = (a - (t - bb)) + (b - bb);
    *s = t;
}

/* p + e == a · b exactly: e = fma(a, b, −p), the rounding error of the product, which is a
 * double whenever the product does not underflow (|a·b| above 2^-969; returns and their
 * squares are nowhere near). This is the value Dekker's product of Veltkamp halves gives too
 * (the error-free transform the engine used before; the same bits), at two instructions
 * where the CPU has an fma: tp_retz_update is built for such CPUs and for the others (where
 * fma() is the C library's exact emulation). */
INLINE void two_prod(double a, double b, double *p, double *e)
{
    *p = a * b;
    *e = fma(a, b, -*p);
}

/* a += x + xl. The rounding error of hi is kept exactly in lo (as Neumaier's compensated
 * summation does), so a long run of adds and subtracts errs by ~ops · 2^-106 of the largest
 * magnitude involved, not by 2^-53 of it. */
INLINE void dd_add(struct dd *a, double x, double xl)
{
    double s, e;
    two_sum(a->hi, x, &s, &e);
    a->hi = s;
    a->lo += e + xl;
}

/* ---- the sliding window ---- */

struct win {
    double *v; /* owned; cap values */
    int cap;
    bool var;  /* keep Σd² too (returns); volumes need only the mean */
    int start; /* index of the oldest value */
    int count; /* values held */
    int since; /* pushes since the last rebuild */
    int same;  /* trailing equal values */
    double k;  /* shift of the sums */
    struct dd s1, s2;
};

static int win_init(struct win *w, int cap, bool var)
{
    memset(w, 0, sizeof *w);
    w->v = calloc((size_t)cap, sizeof *w->v); /* cap ≤ TP_AN_MAX_WINDOW (cfg checked) */
    if (!w->v) return -ENOMEM;
    w->cap = cap;
    w->var = var;
    return 0;
}

static void win_fini(struct win *w)
{
    free(w->v);
    w->v = NULL;
}

INLINE double win_at(const struct win *w, int i) /* i-th oldest */
{
    int j = w->start + i;
    return w->v[j >= w->cap ? j - w->cap : j];
}

/* Adds (sign +1) or removes (sign −1) x's terms. A removal computes bit for bit the terms
 * its addition did (k has not changed since: a rebuild recomputes everything), so the two
 * cancel up to the rounding of lo. */
INLINE void win_term(struct win *w, double x, double sign)
{
    double dh, dl;
    two_sum(x, -w->k, &dh, &dl); /* d = x − k exactly */
    dd_add(&w->s1, sign * dh, sign * dl);
    if (!w->var) return;
    double p, e;
    two_prod(dh, dh, &p, &e); /* d² = p + e + 2·dh·dl + dl² */
    e += 2 * dh * dl + dl * dl;
    dd_add(&w->s2, sign * p, sign * e);
}

INLINE void win_rebuild(struct win *w)
{
    struct dd sum = {0, 0};
    for (int i = 0; i < w->count; i++) dd_add(&sum, win_at(w, i), 0);
    w->k = w->count ? (sum.hi + sum.lo) / w->count : 0;
    w->s1 = (struct dd){0, 0};
    w->s2 = (struct dd){0, 0};
    for (int i = 0; i < w->count; i++) win_term(w, win_at(w, i), 1);
    w->since = 0;
}

/* Appends x (finite), dropping the oldest value when full. */
INLINE void win_push(struct win *w, double x)
{
    if (w->count > 0 && x == win_at(w, w->count - 1))
        w->same = TP_MIN(w->same + 1, w->cap);
    else
        w->same = 1;
    if (w->count == w->cap) {
        win_term(w, w->v[w->start], -1);
        w->v[w->start] = x;
        w->start = w->start + 1 == w->cap ? 0 : w->start + 1;
    } else {
        int j = w->start + w->count;
        w->v[j >= w->cap ? j - w->cap : j] = x;
        w->count++;
    }
    win_term(w, x, 1);
    if (++w->since == w->cap) win_rebuild(w);
}

/* Mean of the values held; count > 0. */
INLINE double win_mean(const struct win *w)
{
    if (w->same >= w->count) return win_at(w, w->count - 1);
    return w->k + (w->s1.hi + w->s1.lo) / w->count;
}

/* Sample variance (n − 1) of the values held; count ≥ 2, var. Never negative.
 *
 * (Σd² − (Σd)²/n) cancels when the mean sits far from k next to the spread (a calm stretch
 * after a jump, before the next rebuild re-centres k); in plain doubles that loses as many
 * bits as the ratio (Σd²)/(Σ(x − mean)²) has, e.g. 9 digits for a window of 2 whose older
 * value was a spike. Computed in double-double from double-double sums, the result stays
 * accurate to ~2^-53 of itself plus ~2^-100 of Σd², whatever the ratio. */
INLINE double win_var(const struct win *w)
{
    if (w->same >= w->count) return 0;
    double n = w->count, h, l, p, e, t, te, s, se;
    two_sum(w->s1.hi, w->s1.lo, &h, &l); /* Σd = h + l, normalized */
    two_prod(h, h, &p, &e);              /* (Σd)² ≈ p + e */
    e += 2 * h * l;
    double qh = p / n; /* (Σd)²/n = qh + ql */
    two_prod(qh, n, &t, &te);
    double ql = (((p - t) - te) + e) / n;
    two_sum(w->s2.hi, -qh, &s, &se);
    double q = s + ((se + w->s2.lo) - ql);
    return q > 0 ? q / (n - 1) : 0;
}

/* Serialized: count, since, k, the four sum words, then count values oldest first. The
 * capacity is not written: it comes from the cfg, which the caller checks. */
static int win_save(const struct win *w, struct tp_buf *b)
{
    int rc = 0;
    rc = rc ? rc : tp_buf_u32(b, (uint32_t)w->count);
    rc = rc ? rc : tp_buf_u32(b, (uint32_t)w->since);
    rc = rc ? rc : tp_buf_f64(b, w->k);
    rc = rc ? rc : tp_buf_f64(b, w->s1.hi);
    rc = rc ? rc : tp_buf_f64(b, w->s1.lo);
    rc = rc ? rc : tp_buf_f64(b, w->s2.hi);
    rc = rc ? rc : tp_buf_f64(b, w->s2.lo);
    for (int i = 0; i < w->count && !rc; i++) rc = tp_buf_f64(b, win_at(w, i));
    return rc;
}

/* Reads a window saved by win_save into w (whose cap and var are set), checking invariants
 * 1–6; `ok` says whether a value is acceptable. Leaves w and *r as they were on failure.
 * 0 or -EBADMSG. */
static int win_load(struct win *w, struct tp_rd *r, bool (*ok)(double))
{
    struct tp_rd rd = *r;
    uint32_t count = tp_rd_u32(&rd), since = tp_rd_u32(&rd);
    double k = tp_rd_f64(&rd);
    struct dd s1, s2;
    s1.hi = tp_rd_f64(&rd);
    s1.lo = tp_rd_f64(&rd);
    s2.hi = tp_rd_f64(&rd);
    s2.lo = tp_rd_f64(&rd);
    if (rd.err || count > (uint32_t)w->cap || since >= (uint32_t)w->cap) return -EBADMSG;
    if (count < (uint32_t)w->cap && since != count) return -EBADMSG;
    if (!isfinite(k) || !isfinite(s1.hi) || !isfinite(s1.lo) || !isfinite(s2.hi) ||
        !isfinite(s2.lo))
        return -EBADMSG;
    if ((count == 0 && (k != 0 || s1.hi != 0 || s1.lo != 0)) ||
        ((count == 0 || !w->var) && (s2.hi != 0 || s2.lo != 0)))
        return -EBADMSG;
    if (tp_rd_left(&rd) / 8 < count) return -EBADMSG;
    /* Validate the values before touching w, then read them again into place. */
    struct tp_rd vals = rd;
    for (uint32_t i = 0; i < count; i++)
        if (!ok(tp_rd_f64(&rd))) return -EBADMSG;
    if (rd.err) return -EBADMSG;
    for (uint32_t i = 0; i < count; i++) w->v[i] = tp_rd_f64(&vals);
    w->start = 0;
    w->count = (int)count;
    w->since = (int)since;
    w->k = k;
    w->s1 = s1;
    w->s2 = s2;
    w->same = 0;
    for (int i = w->count - 1; i >= 0 && w->v[i] == w->v[w->count - 1]; i--) w->same++;
    *r = rd;
    return 0;
}

/* Log returns of two finite positive doubles lie within ±746. */
static bool return_ok(double x)
{
    return isfinite(x) && fabs(x) < 1000;
}

static bool volume_ok(double x)
{
    return isfinite(x) && x >= 0 && x <= MAX_VOLUME;
}

/* ts + cooldown, saturating (cooldown ≥ 0). */
static int64_t quiet_after(int64_t ts, int64_t cooldown)
{
    return ts > INT64_MAX - cooldown ? INT64_MAX : ts + cooldown;
}

/* ---- return z-score ---- */

struct tp_retz {
    struct tp_anomaly_cfg cfg;
    bool have_prev;      /* a first trade has been seen */
    double p_prev;       /* its price when have_prev, else 0 */
    int64_t quiet_until; /* no alarm before this event time */
    struct win w;        /* the last `window` log returns */
};

struct tp_retz *tp_retz_new(const struct tp_anomaly_cfg *cfg)
{
    if (tp_anomaly_cfg_check(cfg)) return NULL;
    struct tp_retz *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->cfg = *cfg;
    d->quiet_until = INT64_MIN;
    if (win_init(&d->w, cfg->window, true)) {
        free(d);
        return NULL;
    }
    return d;
}

void tp_retz_free(struct tp_retz *d)
{
    if (!d) return;
    win_fini(&d->w);
    free(d);
}

/*
 * The return always enters the window, whether it alarmed or not and whether or not the
 * cooldown held it back: the window describes what the market did, and a jump that is real
 * (a new level, a news move) should widen σ for what follows rather than alarm again on
 * every aftershock. A price that is not a finite positive number, or whose ratio to the
 * previous one overflows (r not finite), is ignored: false, state unchanged. A tick that is
 * not a finite positive number means "unknown": σ is floored at 1e-9 only.
 */
INLINE bool retz_update(struct tp_retz *d, int64_t ts, double price, double tick,
                        struct tp_anomaly *out)
{
    if (!isfinite(price) || price <= 0) return false;
    if (!d->have_prev) {
        d->have_prev = true;
        d->p_prev = price;
        return false;
    }
    double r = log(price / d->p_prev);
    if (!isfinite(r)) return false;
    bool alarm = false;
    if (d->w.count == d->w.cap && ts >= d->quiet_until) {
        double mu = win_mean(&d->w);
        double sd = sqrt(win_var(&d->w));
        double sd_min = 1e-9;
        if (isfinite(tick) && tick > 0) sd_min = TP_MAX(sd_min, 0.5 * tick / price);
        if (!(sd >= sd_min)) sd = sd_min;
        double z = (r - mu) / sd;
        if (fabs(z) > d->cfg.z) {
            alarm = true;
            *out = (struct tp_anomaly){
                .instr = 0,
                .ts = ts,
                .kind = TP_AN_RETURN_ZSCORE,
                .observed = price,
                .expected = d->p_prev * exp(mu),
                .score = z,
                .interval_ns = 0,
            };
            d->quiet_until = quiet_after(ts, d->cfg.cooldown_ns);
        }
    }
    win_push(&d->w, r);
    d->p_prev = price;
    return alarm;
}

/* The same function built twice, for CPUs with an fma instruction and for the others, chosen
 * once at the first call (not through an ifunc, whose resolver runs before sanitizer runtimes
 * are up). Both compute the same bits (see two_prod). */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("fma"))) static bool
retz_update_fma(struct tp_retz *d, int64_t ts, double price, double tick, struct tp_anomaly *out)
{
    return retz_update(d, ts, price, tick, out);
}
#endif

static bool retz_update_any(struct tp_retz *d, int64_t ts, double price, double tick,
                            struct tp_anomaly *out)
{
    return retz_update(d, ts, price, tick, out);
}

bool tp_retz_update(struct tp_retz *d, int64_t ts, double price, double tick,
                    struct tp_anomaly *out)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static _Atomic int has_fma = -1; /* -1 not asked yet; a benign race: all threads agree */
    int f = atomic_load_explicit(&has_fma, memory_order_relaxed);
    if (TP_UNLIKELY(f < 0)) {
        __builtin_cpu_init();
        f = __builtin_cpu_supports("fma") ? 1 : 0;
        atomic_store_explicit(&has_fma, f, memory_order_relaxed);
    }
    if (f) return retz_update_fma(d, ts, price, tick, out);
#endif
    return retz_update_any(d, ts, price, tick, out);
}

/* Layout: magic u32, version u8, window u32, z f64, cooldown i64 (the cfg the state belongs
 * to), have_prev u8, p_prev f64, quiet_until i64, then the window. */
int tp_retz_save(const struct tp_retz *d, struct tp_buf *b)
{
    size_t len0 = b->len;
    int rc = 0;
    rc = rc ? rc : tp_buf_u32(b, RETZ_MAGIC);
    rc = rc ? rc : tp_buf_u8(b, STATE_VERSION);
    rc = rc ? rc : tp_buf_u32(b, (uint32_t)d->cfg.window);
    rc = rc ? rc : tp_buf_f64(b, d->cfg.z);
    rc = rc ? rc : tp_buf_i64(b, d->cfg.cooldown_ns);
    rc = rc ? rc : tp_buf_u8(b, d->have_prev);
    rc = rc ? rc : tp_buf_f64(b, d->p_prev);
    rc = rc ? rc : tp_buf_i64(b, d->quiet_until);
    rc = rc ? rc : win_save(&d->w, b);
    if (rc) b->len = len0;
    return rc;
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

int tp_retz_load(struct tp_retz *d, struct tp_rd *r)
{
    struct tp_rd rd = *r;
    uint32_t magic = tp_rd_u32(&rd);
    uint8_t version = tp_rd_u8(&rd);
    uint32_t window = tp_rd_u32(&rd);
    double z = tp_rd_f64(&rd);
    int64_t cooldown = tp_rd_i64(&rd);
    uint8_t have_prev = tp_rd_u8(&rd);
    double p_prev = tp_rd_f64(&rd);
    int64_t quiet_until = tp_rd_i64(&rd);
    if (rd.err || magic != RETZ_MAGIC || version != STATE_VERSION) return -EBADMSG;
    if (window != (uint32_t)d->cfg.window || !same_bits(z, d->cfg.z) ||
        cooldown != d->cfg.cooldown_ns)
        return -EBADMSG;
    if (have_prev > 1) return -EBADMSG;
    if (have_prev ? !(isfinite(p_prev) && p_prev > 0) : !same_bits(p_prev, 0.0)) return -EBADMSG;
    /* Returns exist only after a first price. */
    struct tp_rd peek = rd;
    if (!have_prev && tp_rd_u32(&peek) != 0) return -EBADMSG;
    int rc = win_load(&d->w, &rd, return_ok);
    if (rc) return rc;
    d->have_prev = have_prev;
    d->p_prev = p_prev;
    d->quiet_until = quiet_until;
    *r = rd;
    return 0;
}

/* ---- volume spike ---- */

struct tp_volspike {
    struct tp_anomaly_cfg cfg;
    int64_t quiet_until; /* no alarm before this event time */
    struct win w;        /* the last `vol_lookback` bar volumes */
};

struct tp_volspike *tp_volspike_new(const struct tp_anomaly_cfg *cfg)
{
    if (tp_anomaly_cfg_check(cfg)) return NULL;
    struct tp_volspike *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->cfg = *cfg;
    d->quiet_until = INT64_MIN;
    if (win_init(&d->w, cfg->vol_lookback, false)) {
        free(d);
        return NULL;
    }
    return d;
}

void tp_volspike_free(struct tp_volspike *d)
{
    if (!d) return;
    win_fini(&d->w);
    free(d);
}

/*
 * As with returns, the bar's volume enters the window whether it alarmed or not. A mean of 0
 * (no volume at all in the lookback) never alarms: any volume is "infinitely" many times
 * nothing, and the first trades after a silent stretch are not a spike worth reporting (the
 * score would be infinite). A volume that is negative or not finite is ignored: false, state
 * unchanged, and so is one above 1e300. The comparison is volume > mult × mean on the computed
 * mean, so "exactly 5×" is exact only when the mean is (integer volumes are).
 */
bool tp_volspike_update(struct tp_volspike *d, int64_t ts, double volume, int64_t interval_ns,
                        struct tp_anomaly *out)
{
    if (!volume_ok(volume)) return false;
    bool alarm = false;
    if (d->w.count == d->w.cap && ts >= d->quiet_until) {
        double mean = win_mean(&d->w);
        if (mean > 0 && volume > d->cfg.vol_mult * mean) {
            alarm = true;
            *out = (struct tp_anomaly){
                .instr = 0,
                .ts = ts,
                .kind = TP_AN_VOLUME_SPIKE,
                .observed = volume,
                .expected = mean,
                .score = volume / mean,
                .interval_ns = interval_ns,
            };
            d->quiet_until = quiet_after(ts, d->cfg.cooldown_ns);
        }
    }
    win_push(&d->w, volume);
    return alarm;
}

/* Layout: magic u32, version u8, lookback u32, mult f64, cooldown i64, quiet_until i64, then
 * the window. */
int tp_volspike_save(const struct tp_volspike *d, struct tp_buf *b)
{
    size_t len0 = b->len;
    int rc = 0;
    rc = rc ? rc : tp_buf_u32(b, VOLS_MAGIC);
    rc = rc ? rc : tp_buf_u8(b, STATE_VERSION);
    rc = rc ? rc : tp_buf_u32(b, (uint32_t)d->cfg.vol_lookback);
    rc = rc ? rc : tp_buf_f64(b, d->cfg.vol_mult);
    rc = rc ? rc : tp_buf_i64(b, d->cfg.cooldown_ns);
    rc = rc ? rc : tp_buf_i64(b, d->quiet_until);
    rc = rc ? rc : win_save(&d->w, b);
    if (rc) b->len = len0;
    return rc;
}

int tp_volspike_load(struct tp_volspike *d, struct tp_rd *r)
{
    struct tp_rd rd = *r;
    uint32_t magic = tp_rd_u32(&rd);
    uint8_t version = tp_rd_u8(&rd);
    uint32_t lookback = tp_rd_u32(&rd);
    double mult = tp_rd_f64(&rd);
    int64_t cooldown = tp_rd_i64(&rd);
    int64_t quiet_until = tp_rd_i64(&rd);
    if (rd.err || magic != VOLS_MAGIC || version != STATE_VERSION) return -EBADMSG;
    if (lookback != (uint32_t)d->cfg.vol_lookback || !same_bits(mult, d->cfg.vol_mult) ||
        cooldown != d->cfg.cooldown_ns)
        return -EBADMSG;
    int rc = win_load(&d->w, &rd, volume_ok);
    if (rc) return rc;
    d->quiet_until = quiet_until;
    *r = rd;
    return 0;
}
