/*
 * indicator.c — streaming technical indicators (indicator.h, DESIGN.md §3), O(1) per bar and
 * equal to TA-Lib's batch functions (TA_COMPATIBILITY_DEFAULT, no unstable period).
 *
 * Bars are numbered from 1 (t = tp_ind_count after the update). Each indicator is built from
 * three small parts, every one of them a pure function of the values fed so far:
 *
 *   struct ema     EMA with k = 2/(n+1) seeded by the SMA of its first n inputs, then
 *                  v = (x − v)·k + v (TA-Lib's form). EMA(close); MACD's slow EMA (fed from
 *                  bar 1), fast EMA (fed from bar slow−fast+1, so both seeds end on bar slow)
 *                  and signal EMA (fed macd from bar slow).
 *   struct wilder  Wilder smoothing: the mean of the first n inputs, then v = (v·(n−1) + x)/n.
 *                  RSI's average gain and loss (fed the changes, from bar 2) and ATR (fed the
 *                  true range, from bar 2: TR of bar 1 needs a previous close).
 *   struct win     the last n values in a ring, with their mean and Σ(x − mean)². SMA and
 *                  Bollinger (closes) and volatility (log returns, from bar 2).
 *
 * First values: SMA(n), EMA(n), BB(n) at bar n; RSI(n), ATR(n) at bar n+1; volatility(n) at
 * bar n+1 (n ≥ 2; with n = 1 the sample deviation is undefined and stays null); MACD, signal
 * and histogram at bar slow+sig−1. NaN before.
 *
 * Numerical method of the windows (the reason for struct win's shape): running sums over
 * millions of bars must stay within 1e-9 relative of a direct two-pass computation; a
 * variance of closes near 30000 moving by cents must not cancel catastrophically; and a
 * jump of 10× that leaves the window must leave no residue in the σ of the calm values
 * after it. Chosen: compensated sums of exact terms, re-based every n values.
 *   1. The sums are of shifted values, S1 = Σ(x − K) and S2 = Σ(x − K)², with the shift K
 *      a value recently in the window, so their magnitudes follow the local spread, not the
 *      price level.
 *   2. Each value enters as exact terms: x − K as a TwoSum pair and (x − K)² as an FMA
 *      product pair (plus the cross term, rounded at eps² relative). S1 and S2 are
 *      Neumaier-compensated sums of these terms, carrying about twice double precision, so
 *      subtracting a leaving value's terms (recomputed bit-identically with the same K)
 *      cancels what adding them did, up to eps² of the largest sum seen lately.
 *   3. The mean K + S1/n and M2 = S2 − S1²/n are evaluated in double-double as well, so a
 *      K far from the window (after a jump) costs little: the mean stays within about
 *      eps² · |mean − K| and σ within eps · |mean − K| (plain sums: eps · |mean − K| and
 *      √eps · |mean − K|).
 *   4. A shadow pair T1, T2 restarts every n values and only ever adds; when it holds
 *      exactly the window's n values it replaces S1, S2 (and its shift K' replaces K). So
 *      the live sums never carry more than 2n updates, K follows the series, and all this
 *      stays O(1) per bar — no O(n) rebuild from the ring. K' is the median of the newest
 *      three values when the shadow restarts, so a one-bar bad tick does not become the
 *      shift. What remains: when the price moves by a factor F within 2n bars, |mean − K|
 *      can reach F · price, so σ may be off by about eps · F · price — inside the 1e-9 ·
 *      price agreement up to F ≈ 10⁶.
 *   5. A run counter makes the variance exactly 0 (and the mean exactly the value) when
 *      every value in the window is equal: a flat market shows σ = 0, volatility = 0.
 * The long-series test measures the result against a direct two-pass computation.
 * Non-finite values (a log return of a non-positive close) are kept in the ring but not in
 * the sums; the window's statistics are null while one is in it.
 *
 * Invariants (checked again by tp_ind_load):
 *   - a win fed p values holds len = min(p, n) of them and its shadow m = p mod n;
 *   - the sma and bb windows are fed every close (p = count), the vol window every return
 *     (p = count − 1);
 *   - every part's phase (seeding, smoothing) follows from count alone.
 *
 * Inputs are finite prices (the engine's bars are): a non-finite one would stay in the EMA
 * and Wilder states for good. Every null output is the canonical NaN. Owned by the engine
 * thread; not thread-safe. A pure module: it never logs.
 */
#include <math.h>

#include "engine/indicator.h"

#define IND_MAGIC UINT32_C(0x31495054) /* "TPI1" little-endian: format version 1 */

/* Neumaier's compensated sum: the value is s + c, with c the rounding error lost by s. */
struct csum {
    double s, c;
};

static void cs_add(struct csum *a, double x)
{
    double t = a->s + x;
    if (fabs(a->s) >= fabs(x))
        a->c += (a->s - t) + x;
    else
        a->c += (x - t) + a->s;
    a->s = t;
}

static double cs_get(const struct csum *a)
{
    return a->s + a->c;
}

/* The exact terms of a value x with shift k (file comment, point 2): d = x − k = t[0] + t[1]
 * exactly (TwoSum); d² = t[2] + t[3] exactly for t[0]² (FMA) plus the cross term t[4]
 * = 2·t[0]·t[1], whose rounding and the dropped t[1]² are eps² of d². */
static void shift_terms(double x, double k, double t[5])
{
    double d = x - k;
    double bv = d - x;
    double dl = (x - (d - bv)) + (-k - bv);
    t[0] = d;
    t[1] = dl;
    t[2] = d * d;
    t[3] = fma(d, d, -t[2]);
    t[4] = 2 * d * dl;
}

/* Adds (sign 1) or removes (sign −1) value x's terms to S1 = s1 and S2 = s2. */
static void sums_add(struct csum *s1, struct csum *s2, double x, double k, double sign)
{
    double t[5];
    shift_terms(x, k, t);
    cs_add(s1, sign * t[0]);
    cs_add(s1, sign * t[1]);
    cs_add(s2, sign * t[2]);
    cs_add(s2, sign * t[3]);
    cs_add(s2, sign * t[4]);
}

/* The last n values (oldest at ring[head]) with shifted compensated sums (file comment). */
struct win {
    int n;
    int len;  /* values held, ≤ n */
    int head; /* slot of the oldest value */
    int bad;  /* non-finite values held (not in the sums) */
    int run;  /* trailing values equal to the newest one, ≤ n */
    double k; /* shift of s1, s2 */
    struct csum s1, s2;
    int m;     /* values fed to the shadow since it restarted, < n */
    int mgood; /* finite ones among them */
    double sk; /* shift of t1, t2 */
    struct csum t1, t2;
    double *ring; /* n slots, borrowed from tp_ind.mem */
};

static double median3(double a, double b, double c)
{
    return fmax(fmin(a, b), fmin(fmax(a, b), c));
}

static void win_push(struct win *w, double x)
{
    if (w->len == w->n) {
        double old = w->ring[w->head];
        w->head = w->head + 1 == w->n ? 0 : w->head + 1;
        w->len--;
        if (!isfinite(old)) {
            w->bad--;
        } else {
            sums_add(&w->s1, &w->s2, old, w->k, -1);
        }
    }
    int slot = w->head + w->len;
    if (slot >= w->n) slot -= w->n;
    double prev = w->len ? w->ring[slot == 0 ? w->n - 1 : slot - 1] : NAN;
    w->run = (w->len && x == prev) ? TP_MIN(w->run + 1, w->n) : 1;
    w->ring[slot] = x;
    if (!isfinite(x)) {
        w->bad++;
    } else {
        if (w->len - w->bad == 0) { /* no finite value held: restart the sums around x */
            w->k = x;
            w->s1 = w->s2 = (struct csum){0, 0};
        }
        sums_add(&w->s1, &w->s2, x, w->k, 1);
        if (w->mgood == 0) { /* the shadow's shift: the median of the newest three values */
            w->sk = x;
            if (w->len >= 2) {
                double p1 = w->ring[slot == 0 ? w->n - 1 : slot - 1];
                double p2 = w->ring[slot >= 2 ? slot - 2 : slot + w->n - 2];
                if (isfinite(p1) && isfinite(p2)) w->sk = median3(x, p1, p2);
            }
            w->t1 = w->t2 = (struct csum){0, 0};
        }
        sums_add(&w->t1, &w->t2, x, w->sk, 1);
        w->mgood++;
    }
    w->len++;
    if (++w->m == w->n) { /* the shadow holds exactly the window: take it over */
        if (w->mgood) {
            w->k = w->sk;
            w->s1 = w->t1;
            w->s2 = w->t2;
        }
        w->m = w->mgood = 0;
    }
}

/* Mean of a full window without non-finite values. */
static double win_mean(const struct win *w)
{
    if (w->run >= w->len) { /* all equal: exactly that value */
        int newest = w->head + w->len - 1;
        return w->ring[newest >= w->n ? newest - w->n : newest];
    }
    /* K + S1/n with S1/n = q + ql exactly enough (FMA remainder) and a TwoSum for K + q, so
     * a K far from the window (a price that moved 10⁴× within 2n bars) costs nothing */
    double n = w->len;
    double q = w->s1.s / n;
    double ql = (fma(-q, n, w->s1.s) + w->s1.c) / n;
    double h = w->k + q;
    double hv = h - w->k;
    double hl = (w->k - (h - hv)) + (q - hv);
    return h + (hl + ql);
}

/* Σ(x − mean)² = S2 − S1²/n of a full window without non-finite values, ≥ 0, evaluated in
 * double-double (file comment, point 3). */
static double win_m2(const struct win *w)
{
    if (w->run >= w->len) return 0;
    double n = w->len;
    /* S1 = a + b, normalized (TwoSum) */
    double a = w->s1.s + w->s1.c;
    double bv = a - w->s1.s;
    double b = (w->s1.s - (a - bv)) + (w->s1.c - bv);
    /* S1² = ph + pl: a² exactly by FMA, plus 2ab (b² is below eps² of it) */
    double ph = a * a;
    double pl = fma(a, a, -ph) + 2 * a * b;
    /* S1²/n = th + tl: the remainder ph − th·n is exact by FMA */
    double th = ph / n;
    double tl = (fma(-th, n, ph) + pl) / n;
    /* S2 − S1²/n: TwoSum of the leading parts, then the small ones */
    double h = w->s2.s - th;
    double hv = h - w->s2.s;
    double hl = (w->s2.s - (h - hv)) + (-th - hv);
    double m2 = h + ((hl + w->s2.c) - tl);
    return m2 > 0 ? m2 : 0;
}

/* An EMA seeded by the SMA of its first n inputs. */
struct ema {
    int n;
    double k;
    struct csum seed;
    double v;
};

/* Feeds input i (1-based) of this EMA's stream; returns the EMA, NaN while seeding. */
static double ema_step(struct ema *e, uint64_t i, double x)
{
    if (i < (uint64_t)e->n) {
        cs_add(&e->seed, x);
        return NAN;
    }
    if (i == (uint64_t)e->n) {
        cs_add(&e->seed, x);
        e->v = cs_get(&e->seed) / e->n;
    } else {
        e->v = (x - e->v) * e->k + e->v;
    }
    return e->v;
}

/* Wilder's smoothing seeded by the mean of its first n inputs. */
struct wilder {
    int n;
    struct csum seed;
    double v;
};

static double wilder_step(struct wilder *w, uint64_t i, double x)
{
    if (i < (uint64_t)w->n) {
        cs_add(&w->seed, x);
        return NAN;
    }
    if (i == (uint64_t)w->n) {
        cs_add(&w->seed, x);
        w->v = cs_get(&w->seed) / w->n;
    } else {
        w->v = (w->v * (w->n - 1) + x) / w->n;
    }
    return w->v;
}

struct tp_ind {
    struct tp_ind_cfg cfg;
    uint64_t count;    /* bars fed */
    double prev_close; /* close of bar count (valid when count ≥ 1) */
    struct win sma, bb, vol;
    struct ema ema, fast, slow, sig;
    struct wilder gain, loss, atr;
    double *mem; /* owned: the three rings */
};

void tp_ind_cfg_default(struct tp_ind_cfg *c)
{
    *c = (struct tp_ind_cfg){
        .sma = 20,
        .ema = 20,
        .bb = 20,
        .bb_k = 2,
        .rsi = 14,
        .macd_fast = 12,
        .macd_slow = 26,
        .macd_sig = 9,
        .atr = 14,
        .vol = 20,
    };
}

static bool period_ok(int p)
{
    return p >= 1 && p <= TP_IND_MAX_PERIOD;
}

int tp_ind_cfg_check(const struct tp_ind_cfg *c)
{
    if (!period_ok(c->sma) || !period_ok(c->ema) || !period_ok(c->bb) || !period_ok(c->rsi) ||
        !period_ok(c->macd_fast) || !period_ok(c->macd_slow) || !period_ok(c->macd_sig) ||
        !period_ok(c->atr) || !period_ok(c->vol))
        return -EINVAL;
    if (c->macd_fast >= c->macd_slow) return -EINVAL;
    if (!(c->bb_k > 0) || !isfinite(c->bb_k)) return -EINVAL;
    return 0;
}

static void ema_init(struct ema *e, int n)
{
    *e = (struct ema){.n = n, .k = 2.0 / (n + 1.0)};
}

struct tp_ind *tp_ind_new(const struct tp_ind_cfg *cfg)
{
    if (tp_ind_cfg_check(cfg)) return NULL;
    struct tp_ind *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* periods are capped by tp_ind_cfg_check, so this is at most 3 · TP_IND_MAX_PERIOD */
    size_t slots = (size_t)cfg->sma + (size_t)cfg->bb + (size_t)cfg->vol;
    s->mem = calloc(slots, sizeof *s->mem);
    if (!s->mem) {
        free(s);
        return NULL;
    }
    s->cfg = *cfg;
    s->sma = (struct win){.n = cfg->sma, .ring = s->mem};
    s->bb = (struct win){.n = cfg->bb, .ring = s->mem + cfg->sma};
    s->vol = (struct win){.n = cfg->vol, .ring = s->mem + cfg->sma + cfg->bb};
    ema_init(&s->ema, cfg->ema);
    ema_init(&s->fast, cfg->macd_fast);
    ema_init(&s->slow, cfg->macd_slow);
    ema_init(&s->sig, cfg->macd_sig);
    s->gain = (struct wilder){.n = cfg->rsi};
    s->loss = (struct wilder){.n = cfg->rsi};
    s->atr = (struct wilder){.n = cfg->atr};
    return s;
}

void tp_ind_free(struct tp_ind *s)
{
    if (!s) return;
    free(s->mem);
    free(s);
}

uint64_t tp_ind_count(const struct tp_ind *s)
{
    return s->count;
}

void tp_ind_update(struct tp_ind *s, double high, double low, double close,
                   struct tp_ind_values *out)
{
    uint64_t t = ++s->count;
    tp_ind_values_clear(out);

    win_push(&s->sma, close);
    if (t >= (uint64_t)s->sma.n && !s->sma.bad) out->sma = win_mean(&s->sma);

    out->ema = ema_step(&s->ema, t, close);

    win_push(&s->bb, close);
    if (t >= (uint64_t)s->bb.n && !s->bb.bad) {
        double mid = win_mean(&s->bb);
        double dev = s->cfg.bb_k * sqrt(win_m2(&s->bb) / s->bb.n);
        out->bb_middle = mid;
        out->bb_upper = mid + dev;
        out->bb_lower = mid - dev;
    }

    /* MACD: the fast EMA starts slow − fast bars late so both seeds end on bar slow. */
    double slow = ema_step(&s->slow, t, close);
    uint64_t skip = (uint64_t)(s->cfg.macd_slow - s->cfg.macd_fast);
    double fast = t > skip ? ema_step(&s->fast, t - skip, close) : NAN;
    if (t >= (uint64_t)s->cfg.macd_slow) {
        double macd = fast - slow;
        double sig = ema_step(&s->sig, t - (uint64_t)s->cfg.macd_slow + 1, macd);
        if (!isnan(sig)) {
            out->macd = macd;
            out->macd_signal = sig;
            out->macd_hist = macd - sig;
        }
    }

    if (t >= 2) {
        uint64_t j = t - 1; /* changes, true ranges and returns are numbered from bar 2 */
        double prev = s->prev_close;
        double diff = close - prev;
        double g = wilder_step(&s->gain, j, diff > 0 ? diff : 0);
        double l = wilder_step(&s->loss, j, diff < 0 ? -diff : 0);
        if (!isnan(g)) {
            double sum = g + l;
            out->rsi = sum != 0 ? 100 * (g / sum) : 0; /* TA-Lib's 0, with an exact test */
        }

        double tr = high - low;
        tr = fmax(tr, fabs(high - prev));
        tr = fmax(tr, fabs(low - prev));
        out->atr = wilder_step(&s->atr, j, tr);

        double r = close > 0 && prev > 0 ? log(close / prev) : NAN;
        win_push(&s->vol, r);
        if (j >= (uint64_t)s->vol.n && s->vol.n >= 2 && s->vol.bad == 0)
            out->volatility = sqrt(win_m2(&s->vol) / (s->vol.n - 1));
    }
    s->prev_close = close;

    /* Null is the canonical NaN (what tp_ind_values_clear writes, and what the journal codec
     * treats as absent), whatever NaN an arithmetic path may have produced. */
    double *f[] = {&out->sma,       &out->ema, &out->bb_upper,  &out->bb_middle,
                   &out->bb_lower,  &out->rsi, &out->macd,      &out->macd_signal,
                   &out->macd_hist, &out->atr, &out->volatility};
    for (size_t i = 0; i < TP_ARRAY_LEN(f); i++)
        if (isnan(*f[i])) *f[i] = NAN;
}

/* --- checkpoint ------------------------------------------------------------------------- */

/* Layout (little-endian): u32 magic, the cfg (nine u32 periods in struct order, bb_k as f64),
 * u64 count, f64 prev_close, the sma, bb and vol windows (u32 len, u32 m, f64 k, s1, s2, sk,
 * t1, t2 — each csum as two f64 —, then the len values oldest first), the ema, fast, slow and
 * sig EMAs (seed, v) and the gain, loss and atr smoothers (seed, v). Doubles are raw bits, so
 * a load continues bit-identically. */

static int put_csum(struct tp_buf *b, const struct csum *c)
{
    int rc = tp_buf_f64(b, c->s);
    return rc ? rc : tp_buf_f64(b, c->c);
}

static int put_win(struct tp_buf *b, const struct win *w)
{
    int rc = 0;
    if (!rc) rc = tp_buf_u32(b, (uint32_t)w->len);
    if (!rc) rc = tp_buf_u32(b, (uint32_t)w->m);
    if (!rc) rc = tp_buf_f64(b, w->k);
    if (!rc) rc = put_csum(b, &w->s1);
    if (!rc) rc = put_csum(b, &w->s2);
    if (!rc) rc = tp_buf_f64(b, w->sk);
    if (!rc) rc = put_csum(b, &w->t1);
    if (!rc) rc = put_csum(b, &w->t2);
    for (int i = 0, p = w->head; !rc && i < w->len; i++, p = p + 1 == w->n ? 0 : p + 1)
        rc = tp_buf_f64(b, w->ring[p]);
    return rc;
}

static int put_ema(struct tp_buf *b, const struct ema *e)
{
    int rc = put_csum(b, &e->seed);
    return rc ? rc : tp_buf_f64(b, e->v);
}

static int put_wilder(struct tp_buf *b, const struct wilder *w)
{
    int rc = put_csum(b, &w->seed);
    return rc ? rc : tp_buf_f64(b, w->v);
}

static int put_cfg(struct tp_buf *b, const struct tp_ind_cfg *c)
{
    const int p[] = {c->sma,       c->ema,      c->bb,  c->rsi, c->macd_fast,
                     c->macd_slow, c->macd_sig, c->atr, c->vol};
    int rc = 0;
    for (size_t i = 0; !rc && i < TP_ARRAY_LEN(p); i++) rc = tp_buf_u32(b, (uint32_t)p[i]);
    return rc ? rc : tp_buf_f64(b, c->bb_k);
}

int tp_ind_save(const struct tp_ind *s, struct tp_buf *b)
{
    size_t start = b->len;
    int rc = tp_buf_u32(b, IND_MAGIC);
    if (!rc) rc = put_cfg(b, &s->cfg);
    if (!rc) rc = tp_buf_u64(b, s->count);
    if (!rc) rc = tp_buf_f64(b, s->prev_close);
    if (!rc) rc = put_win(b, &s->sma);
    if (!rc) rc = put_win(b, &s->bb);
    if (!rc) rc = put_win(b, &s->vol);
    if (!rc) rc = put_ema(b, &s->ema);
    if (!rc) rc = put_ema(b, &s->fast);
    if (!rc) rc = put_ema(b, &s->slow);
    if (!rc) rc = put_ema(b, &s->sig);
    if (!rc) rc = put_wilder(b, &s->gain);
    if (!rc) rc = put_wilder(b, &s->loss);
    if (!rc) rc = put_wilder(b, &s->atr);
    if (rc) b->len = start; /* all or nothing */
    return rc;
}

static void get_csum(struct tp_rd *r, struct csum *c)
{
    c->s = tp_rd_f64(r);
    c->c = tp_rd_f64(r);
}

/* Reads a window fed `pushes` values; false when its lengths do not match that. */
static bool get_win(struct tp_rd *r, struct win *w, uint64_t pushes)
{
    uint32_t len = tp_rd_u32(r), m = tp_rd_u32(r);
    if (r->err || len != TP_MIN(pushes, (uint64_t)w->n) || m != pushes % (uint64_t)w->n)
        return false;
    w->len = (int)len;
    w->m = (int)m;
    w->head = 0;
    w->k = tp_rd_f64(r);
    get_csum(r, &w->s1);
    get_csum(r, &w->s2);
    w->sk = tp_rd_f64(r);
    get_csum(r, &w->t1);
    get_csum(r, &w->t2);
    if (tp_rd_left(r) < (size_t)len * 8) return false;
    w->bad = w->run = w->mgood = 0;
    for (int i = 0; i < w->len; i++) {
        double x = tp_rd_f64(r);
        w->ring[i] = x;
        if (!isfinite(x)) w->bad++;
        w->run = (i && x == w->ring[i - 1]) ? w->run + 1 : 1;
        if (i >= w->len - w->m && isfinite(x)) w->mgood++; /* the shadow's values */
    }
    return !r->err;
}

static void get_ema(struct tp_rd *r, struct ema *e)
{
    get_csum(r, &e->seed);
    e->v = tp_rd_f64(r);
}

static void get_wilder(struct tp_rd *r, struct wilder *w)
{
    get_csum(r, &w->seed);
    w->v = tp_rd_f64(r);
}

static bool get_cfg_matches(struct tp_rd *r, const struct tp_ind_cfg *c)
{
    const int p[] = {c->sma,       c->ema,      c->bb,  c->rsi, c->macd_fast,
                     c->macd_slow, c->macd_sig, c->atr, c->vol};
    bool ok = true;
    for (size_t i = 0; i < TP_ARRAY_LEN(p); i++)
        if (tp_rd_u32(r) != (uint32_t)p[i]) ok = false;
    if (tp_rd_f64(r) != c->bb_k) ok = false;
    return ok && !r->err;
}

int tp_ind_load(struct tp_ind *s, struct tp_rd *r)
{
    /* Decode into a fresh state and swap it in only when everything checks out, so a failed
     * load leaves s as it was. */
    struct tp_ind *t = tp_ind_new(&s->cfg);
    if (!t) return -ENOMEM;
    int rc = -EBADMSG;
    if (tp_rd_u32(r) != IND_MAGIC || r->err) goto out_free;
    if (!get_cfg_matches(r, &s->cfg)) goto out_free;
    t->count = tp_rd_u64(r);
    t->prev_close = tp_rd_f64(r);
    if (r->err) goto out_free;
    uint64_t returns = t->count ? t->count - 1 : 0;
    if (!get_win(r, &t->sma, t->count) || !get_win(r, &t->bb, t->count) ||
        !get_win(r, &t->vol, returns))
        goto out_free;
    get_ema(r, &t->ema);
    get_ema(r, &t->fast);
    get_ema(r, &t->slow);
    get_ema(r, &t->sig);
    get_wilder(r, &t->gain);
    get_wilder(r, &t->loss);
    get_wilder(r, &t->atr);
    if (r->err) goto out_free;
    struct tp_ind tmp = *s; /* the rings live in mem blocks, so swapping structs is safe */
    *s = *t;
    *t = tmp;
    rc = 0;
out_free:
    if (rc) r->err = true;
    tp_ind_free(t);
    return rc;
}
