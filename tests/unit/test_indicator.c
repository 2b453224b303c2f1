/*
 * test_indicator.c — the streaming indicators (engine/indicator.h) against hand-checkable
 * series, against an independent batch reference (tests/ref/ta_ref.py, python3 + numpy) on
 * several generated series, for numerical drift over a million bars, and for exact
 * checkpoint round trips.
 */
#include <math.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/rng.h"
#include "engine/indicator.h"
#include "tpt.h"

#define NCOL 11

static const char *const col_name[NCOL] = {"sma",       "ema", "bb_upper",  "bb_middle",
                                           "bb_lower",  "rsi", "macd",      "macd_signal",
                                           "macd_hist", "atr", "volatility"};

static void to_cols(const struct tp_ind_values *v, double *c)
{
    c[0] = v->sma;
    c[1] = v->ema;
    c[2] = v->bb_upper;
    c[3] = v->bb_middle;
    c[4] = v->bb_lower;
    c[5] = v->rsi;
    c[6] = v->macd;
    c[7] = v->macd_signal;
    c[8] = v->macd_hist;
    c[9] = v->atr;
    c[10] = v->volatility;
}

struct series {
    size_t n;
    double *h, *l, *c;
};

static struct series series_alloc(size_t n)
{
    struct series s = {n, calloc(n, sizeof(double)), calloc(n, sizeof(double)),
                       calloc(n, sizeof(double))};
    if (!s.h || !s.l || !s.c) TPT_FAIL("out of memory");
    return s;
}

static void series_free(struct series *s)
{
    free(s->h);
    free(s->l);
    free(s->c);
}

/* Feeds the whole series; returns n × NCOL values (caller frees). */
static double *run_c(const struct tp_ind_cfg *cfg, const struct series *s)
{
    struct tp_ind *st = tp_ind_new(cfg);
    ASSERT(st != NULL);
    double *out = malloc(s->n * NCOL * sizeof(double));
    ASSERT(out != NULL);
    for (size_t i = 0; i < s->n; i++) {
        struct tp_ind_values v;
        tp_ind_update(st, s->h[i], s->l[i], s->c[i], &v);
        to_cols(&v, out + i * NCOL);
    }
    ASSERT_EQ_U64(tp_ind_count(st), s->n);
    tp_ind_free(st);
    return out;
}

/* ---- hand-checkable cases ---------------------------------------------------------------- */

static void test_cfg(void)
{
    struct tp_ind_cfg c, d;
    tp_ind_cfg_default(&c);
    ASSERT_EQ_INT(c.sma, 20);
    ASSERT_EQ_INT(c.ema, 20);
    ASSERT_EQ_INT(c.bb, 20);
    ASSERT_EQ_DBL(c.bb_k, 2);
    ASSERT_EQ_INT(c.rsi, 14);
    ASSERT_EQ_INT(c.macd_fast, 12);
    ASSERT_EQ_INT(c.macd_slow, 26);
    ASSERT_EQ_INT(c.macd_sig, 9);
    ASSERT_EQ_INT(c.atr, 14);
    ASSERT_EQ_INT(c.vol, 20);
    ASSERT_EQ_INT(tp_ind_cfg_check(&c), 0);
    int *fields[] = {&d.sma,       &d.ema,      &d.bb,  &d.rsi, &d.macd_fast,
                     &d.macd_slow, &d.macd_sig, &d.atr, &d.vol};
    for (size_t i = 0; i < TP_ARRAY_LEN(fields); i++) {
        d = c;
        *fields[i] = 0;
        ASSERT_EQ_INT(tp_ind_cfg_check(&d), -EINVAL);
        ASSERT(tp_ind_new(&d) == NULL);
        d = c;
        *fields[i] = TP_IND_MAX_PERIOD + 1;
        ASSERT_EQ_INT(tp_ind_cfg_check(&d), -EINVAL);
        d = c;
        *fields[i] = -5;
        ASSERT_EQ_INT(tp_ind_cfg_check(&d), -EINVAL);
    }
    d = c;
    d.macd_fast = d.macd_slow;
    ASSERT_EQ_INT(tp_ind_cfg_check(&d), -EINVAL);
    d.macd_fast = d.macd_slow + 1;
    ASSERT_EQ_INT(tp_ind_cfg_check(&d), -EINVAL);
    const double bad_k[] = {0, -1, NAN, INFINITY};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad_k); i++) {
        d = c;
        d.bb_k = bad_k[i];
        ASSERT_EQ_INT(tp_ind_cfg_check(&d), -EINVAL);
    }
    d = (struct tp_ind_cfg){1, 1, 1, 0.5, 1, 1, 2, 1, 1, 1};
    ASSERT_EQ_INT(tp_ind_cfg_check(&d), 0);
    d = (struct tp_ind_cfg){1000, 1000, 1000, 9, 1000, 999, 1000, 1000, 1000, 1000};
    ASSERT_EQ_INT(tp_ind_cfg_check(&d), 0);
}

static void test_values_clear(void)
{
    struct tp_ind_values v;
    memset(&v, 0, sizeof v);
    tp_ind_values_clear(&v);
    double c[NCOL];
    to_cols(&v, c);
    for (int i = 0; i < NCOL; i++)
        if (!isnan(c[i])) TPT_FAIL("%s not cleared", col_name[i]);
}

/* Closes 1..40, high = close + 1, low = close − 1. */
static void test_linear(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    struct tp_ind *s = tp_ind_new(&cfg);
    ASSERT(s != NULL);
    double sd20 = sqrt((20.0 * 20.0 - 1) / 12); /* population σ of 20 consecutive integers */
    for (int t = 1; t <= 40; t++) {
        struct tp_ind_values v;
        tp_ind_update(s, t + 1, t - 1, t, &v);
        if (t < 20) {
            ASSERT(isnan(v.sma) && isnan(v.ema) && isnan(v.bb_middle));
        } else {
            /* SMA of t−19..t is t − 9.5; the EMA seeded at 10.5 keeps the same lag on a line,
             * since (1 + 9.5) · 2/21 = 1. */
            ASSERT_NEAR(v.sma, t - 9.5, 1e-15);
            ASSERT_NEAR(v.ema, t - 9.5, 1e-13);
            ASSERT_NEAR(v.bb_middle, t - 9.5, 1e-15);
            ASSERT_NEAR(v.bb_upper, t - 9.5 + 2 * sd20, 1e-13);
            ASSERT_NEAR(v.bb_lower, t - 9.5 - 2 * sd20, 1e-13);
        }
        if (t == 20) ASSERT_EQ_DBL(v.ema, 10.5); /* the seed: the SMA of the first 20 */
        if (t < 15) {
            ASSERT(isnan(v.rsi) && isnan(v.atr));
        } else {
            ASSERT_EQ_DBL(v.rsi, 100); /* all gains */
            ASSERT_EQ_DBL(v.atr, 2);   /* TR = max(2, 2, 0) */
        }
        if (t < 34) {
            ASSERT(isnan(v.macd) && isnan(v.macd_signal) && isnan(v.macd_hist));
        } else {
            /* Both EMAs seeded on bar 26 (fast = mean of 15..26 = t − 5.5, slow = mean of
             * 1..26 = t − 12.5) keep their lags (n − 1)/2 on a line: macd = 7. */
            ASSERT_NEAR(v.macd, 7, 1e-12);
            ASSERT_NEAR(v.macd_signal, 7, 1e-12);
            ASSERT_NEAR(v.macd_hist, 0, 1e-12);
        }
        if (t < 21)
            ASSERT(isnan(v.volatility));
        else
            ASSERT(v.volatility > 0);
    }
    tp_ind_free(s);
}

/* A flat series: exact zeros, not rounding noise. */
static void test_constant(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    struct tp_ind *s = tp_ind_new(&cfg);
    ASSERT(s != NULL);
    for (int t = 1; t <= 100; t++) {
        struct tp_ind_values v;
        tp_ind_update(s, 30000.37, 30000.33, 30000.35, &v);
        if (t >= 20) {
            ASSERT_EQ_DBL(v.sma, 30000.35);
            ASSERT_EQ_DBL(v.bb_upper, 30000.35);
            ASSERT_EQ_DBL(v.bb_lower, 30000.35);
            ASSERT_NEAR(v.ema, 30000.35, 1e-15);
        }
        if (t >= 15) {
            ASSERT_EQ_DBL(v.rsi, 0); /* no gain, no loss: TA-Lib's 0 */
            ASSERT_NEAR(v.atr, 30000.37 - 30000.33, 1e-15);
        }
        if (t >= 21) ASSERT_EQ_DBL(v.volatility, 0);
        if (t >= 34) {
            /* the seeds (means of 12 and 26 equal values) may differ by an ulp of 30000 */
            ASSERT_NEAR(v.macd, 0, 1e-11);
            ASSERT_NEAR(v.macd_hist, 0, 1e-11);
        }
    }
    /* A walk that turns flat: σ and volatility come back to exactly 0 once the window is. */
    for (int t = 0; t < 200; t++) {
        struct tp_ind_values v;
        double c = t < 100 ? 30000 + (t % 7) * 0.01 + t : 40000.5;
        tp_ind_update(s, c, c, c, &v);
        if (t >= 120) {
            ASSERT_EQ_DBL(v.bb_upper, 40000.5);
            ASSERT_EQ_DBL(v.bb_lower, 40000.5);
            ASSERT_EQ_DBL(v.volatility, 0);
            ASSERT_EQ_DBL(v.sma, 40000.5);
        }
    }
    tp_ind_free(s);
}

/* Alternating 100, 110: every return is ±ln 1.1, sample σ of 20 of them = ln 1.1 · √(20/19);
 * RSI: Wilder's averages settle into a 2-cycle, after a gain g = (13 · (13g/14) + 10)/14, i.e.
 * g = 140/27 with the loss average 13/14 of that = 130/27, so RSI = 100 · 140/270. */
static void test_alternating(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    struct tp_ind *s = tp_ind_new(&cfg);
    ASSERT(s != NULL);
    struct tp_ind_values v;
    for (int t = 1; t <= 400; t++) {
        double c = t % 2 ? 100 : 110;
        tp_ind_update(s, c + 1, c - 1, c, &v);
        if (t >= 21) ASSERT_NEAR(v.volatility, log(1.1) * sqrt(20.0 / 19), 1e-12);
        if (t >= 15) ASSERT_NEAR(v.atr, 11, 1e-12); /* |high − prev close| = 11 every bar */
        if (t == 15) ASSERT_NEAR(v.rsi, 100.0 * 70 / 140, 1e-12); /* 7 gains, 7 losses of 10 */
        if (t >= 20) ASSERT_NEAR(v.sma, 105, 1e-12);
        if (t >= 20) ASSERT_NEAR(v.bb_upper, 105 + 2 * 5, 1e-12);
    }
    ASSERT_NEAR(v.rsi, 100.0 * 140 / 270, 1e-9); /* bar 400 closes at 110: a gain */
    tp_ind_free(s);
}

/* A non-positive close has no log return: volatility is null while one is in the window. */
static void test_nonpositive(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    struct tp_ind *s = tp_ind_new(&cfg);
    ASSERT(s != NULL);
    for (int t = 1; t <= 100; t++) {
        double c = t == 40 ? 0 : 100 + t % 3;
        struct tp_ind_values v;
        tp_ind_update(s, c + 1, c - 1, c, &v);
        /* bars 40 and 41 have no return; the window holds them through bar 60 */
        if (t >= 21 && (t < 40 || t > 60))
            ASSERT(isfinite(v.volatility) && v.volatility > 0);
        else
            ASSERT(isnan(v.volatility));
        ASSERT(isfinite(v.sma) || t < 20);
    }
    tp_ind_free(s);
}

/* Null is always the canonical NaN, bit for bit (the journal codec stores any other NaN as a
 * present value), even when a bad input makes the arithmetic produce another NaN. */
static void test_null_canonical(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    struct tp_ind *s = tp_ind_new(&cfg);
    ASSERT(s != NULL);
    double canon = NAN;
    for (int t = 1; t <= 60; t++) {
        double c = 100 + t;
        double h = t == 40 ? INFINITY : c + 1, l = t == 40 ? INFINITY : c - 1;
        if (t == 45) c = -NAN;
        struct tp_ind_values v;
        tp_ind_update(s, h, l, c, &v);
        double col[NCOL];
        to_cols(&v, col);
        for (int i = 0; i < NCOL; i++)
            if (isnan(col[i]) && memcmp(&col[i], &canon, sizeof canon))
                TPT_FAIL("%s at bar %d is a non-canonical NaN", col_name[i], t);
    }
    tp_ind_free(s);
}

/* The first non-null bar of every indicator, for the defaults and configured periods. */
static void check_warmup(const struct tp_ind_cfg *cfg)
{
    int first[NCOL] = {
        cfg->sma,
        cfg->ema,
        cfg->bb,
        cfg->bb,
        cfg->bb,
        cfg->rsi + 1,
        cfg->macd_slow + cfg->macd_sig - 1,
        cfg->macd_slow + cfg->macd_sig - 1,
        cfg->macd_slow + cfg->macd_sig - 1,
        cfg->atr + 1,
        cfg->vol >= 2 ? cfg->vol + 1 : 1 << 30, /* a sample σ of one return: always null */
    };
    struct tp_ind *s = tp_ind_new(cfg);
    ASSERT(s != NULL);
    struct tp_rng rng;
    tp_rng_seed(&rng, 7);
    double c = 100;
    for (int t = 1; t <= 2100; t++) {
        c *= exp(0.01 * tp_rng_normal(&rng));
        struct tp_ind_values v;
        tp_ind_update(s, c * 1.01, c * 0.99, c, &v);
        double col[NCOL];
        to_cols(&v, col);
        for (int i = 0; i < NCOL; i++) {
            if (t < first[i] && !isnan(col[i]))
                TPT_FAIL("%s not null at bar %d (first %d)", col_name[i], t, first[i]);
            if (t >= first[i] && !isfinite(col[i]))
                TPT_FAIL("%s null at bar %d (first %d)", col_name[i], t, first[i]);
        }
    }
    tp_ind_free(s);
}

static void test_warmup(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    check_warmup(&cfg); /* 20, 20, 20, 15, 34, 15, 21 */
    check_warmup(&(struct tp_ind_cfg){3, 5, 4, 1.5, 6, 2, 7, 3, 2, 4});
    check_warmup(&(struct tp_ind_cfg){1, 1, 1, 1, 1, 1, 2, 1, 1, 1});
    check_warmup(&(struct tp_ind_cfg){1, 1, 1, 1, 1, 1, 2, 1, 1, 2});
    check_warmup(&(struct tp_ind_cfg){1000, 999, 1000, 3, 1000, 500, 1000, 1000, 1000, 1000});
}

/* ---- generated series -------------------------------------------------------------------- */

/* A random walk around 30000 with cent-sized steps: variance far below the price level. */
static struct series gen_walk(size_t n, uint64_t seed)
{
    struct series s = series_alloc(n);
    struct tp_rng r;
    tp_rng_seed(&r, seed);
    double c = 30000;
    for (size_t i = 0; i < n; i++) {
        c += 0.01 * tp_rng_normal(&r);
        s.c[i] = c;
        s.h[i] = c + 0.02 * fabs(tp_rng_normal(&r));
        s.l[i] = c - 0.02 * fabs(tp_rng_normal(&r));
    }
    return s;
}

/* A geometric walk around 0.0001 (values below 1: tolerance is absolute there). */
static struct series gen_tiny(size_t n, uint64_t seed)
{
    struct series s = series_alloc(n);
    struct tp_rng r;
    tp_rng_seed(&r, seed);
    double c = 1e-4;
    for (size_t i = 0; i < n; i++) {
        c *= exp(0.002 * tp_rng_normal(&r));
        s.c[i] = c;
        s.h[i] = c * (1 + 0.001 * fabs(tp_rng_normal(&r)));
        s.l[i] = c * (1 - 0.001 * fabs(tp_rng_normal(&r)));
    }
    return s;
}

/* A walk with jumps (×10, ×0.1, ×2, ×0.5) and flat stretches: large values leaving the window,
 * then variance exactly zero. */
static struct series gen_jumps(size_t n, uint64_t seed)
{
    struct series s = series_alloc(n);
    struct tp_rng r;
    tp_rng_seed(&r, seed);
    double c = 100;
    size_t flat = 0;
    for (size_t i = 0; i < n; i++) {
        if (flat) {
            flat--;
            s.c[i] = s.h[i] = s.l[i] = c;
            continue;
        }
        double u = tp_rng_uniform(&r);
        if (u < 0.005)
            c *= 10;
        else if (u < 0.01)
            c *= 0.1;
        else if (u < 0.02)
            c *= tp_rng_uniform(&r) < 0.5 ? 2 : 0.5;
        else if (u < 0.03)
            flat = 20 + tp_rng_below(&r, 60);
        c *= exp(0.001 * tp_rng_normal(&r));
        s.c[i] = c;
        s.h[i] = c * (1 + 0.01 * tp_rng_uniform(&r));
        s.l[i] = c * (1 - 0.01 * tp_rng_uniform(&r));
    }
    return s;
}

/* ---- the python reference ---------------------------------------------------------------- */

/* Finds a python3 that imports numpy: $TP_PYTHON, python3 on PATH, then Debian's
 * /usr/bin/python3 (where python3-numpy installs, even when PATH starts with another python). */
static bool find_python(char *py, size_t cap)
{
    const char *cands[] = {getenv("TP_PYTHON"), "python3", "/usr/bin/python3"};
    for (size_t i = 0; i < TP_ARRAY_LEN(cands); i++) {
        if (!cands[i] || !*cands[i]) continue;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) {
            snprintf(py, cap, "%s", cands[i]);
            return true;
        }
    }
    return false;
}

static void ref_script(char *path, size_t cap)
{
    const char *src = getenv("TP_SRC");
    if (src) {
        snprintf(path, cap, "%s/tests/ref/ta_ref.py", src);
        return;
    }
    /* run by hand: the source root is three levels above this file */
    snprintf(path, cap, "%s", __FILE__);
    char *p = strstr(path, "tests/unit/test_indicator.c");
    if (p)
        *p = 0;
    else
        snprintf(path, cap, "./");
    size_t len = strlen(path);
    snprintf(path + len, cap - len, "tests/ref/ta_ref.py");
}

/* Runs the reference on s with cfg; returns n × NCOL values (caller frees). */
static double *run_ref(const char *py, const struct tp_ind_cfg *cfg, const struct series *s)
{
    char script[1024];
    ref_script(script, sizeof script);
    if (access(script, R_OK) != 0) TPT_FAIL("reference script %s not found", script);
    const char *tmp = getenv("TMPDIR");
    char csv[512];
    snprintf(csv, sizeof csv, "%s/tp_ind_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(csv);
    ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "w");
    ASSERT(f != NULL);
    for (size_t i = 0; i < s->n; i++) fprintf(f, "%.17g,%.17g,%.17g\n", s->h[i], s->l[i], s->c[i]);
    ASSERT_EQ_INT(fclose(f), 0);

    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' %d %d %d %.17g %d %d %d %d %d %d", py, script, csv,
             cfg->sma, cfg->ema, cfg->bb, cfg->bb_k, cfg->rsi, cfg->macd_fast, cfg->macd_slow,
             cfg->macd_sig, cfg->atr, cfg->vol);
    FILE *p = popen(cmd, "r");
    ASSERT(p != NULL);
    double *ref = malloc(s->n * NCOL * sizeof(double));
    ASSERT(ref != NULL);
    char *line = NULL;
    size_t cap = 0, rows = 0;
    bool bad = false;
    while (getline(&line, &cap, p) > 0) {
        if (rows == s->n) {
            bad = true;
            break;
        }
        char *q = line;
        for (int c = 0; c < NCOL; c++) {
            char *end;
            ref[rows * NCOL + c] = strtod(q, &end);
            if (end == q || *end != (c + 1 < NCOL ? ',' : '\n')) bad = true;
            q = end + 1;
        }
        rows++;
    }
    free(line);
    int rc = pclose(p);
    unlink(csv);
    if (rc != 0 || bad || rows != s->n) {
        free(ref);
        TPT_FAIL("reference failed: exit %d, %zu of %zu rows%s", rc, rows, s->n,
                 bad ? ", malformed" : "");
    }
    return ref;
}

/* Compares every value with the DESIGN.md §3 tolerance; prints the largest error per column
 * as |a − b| / max(1, |b|). */
static void compare(const char *what, const struct tp_ind_cfg *cfg, const struct series *s,
                    const char *py)
{
    double *got = run_c(cfg, s);
    double *ref = run_ref(py, cfg, s);
    double worst[NCOL] = {0};
    for (size_t i = 0; i < s->n; i++) {
        for (int c = 0; c < NCOL; c++) {
            double a = got[i * NCOL + c], b = ref[i * NCOL + c];
            if (isnan(a) != isnan(b) || fabs(a - b) > 1e-9 * fmax(1, fabs(b))) {
                free(got);
                free(ref);
                TPT_FAIL("%s: %s at bar %zu: %.17g vs reference %.17g", what, col_name[c], i + 1, a,
                         b);
            }
            if (!isnan(a)) worst[c] = fmax(worst[c], fabs(a - b) / fmax(1, fabs(b)));
        }
    }
    double all = 0;
    for (int c = 0; c < NCOL; c++) all = fmax(all, worst[c]);
    fprintf(stderr, "  %-28s %7zu bars, max |a-b|/max(1,|b|) = %.3g (", what, s->n, all);
    for (int c = 0; c < NCOL; c++)
        fprintf(stderr, "%s%s %.2g", c ? ", " : "", col_name[c], worst[c]);
    fprintf(stderr, ")\n");
    free(got);
    free(ref);
}

static void test_reference(void)
{
    char py[256];
    if (!find_python(py, sizeof py))
        TPT_SKIP("python3 with numpy not found (make test installs python3-numpy)");
    struct tp_ind_cfg def, small = {3, 5, 4, 1.5, 6, 2, 7, 3, 2, 4},
                           ones = {1, 1, 1, 1, 1, 1, 2, 1, 1, 2},
                           big = {1000, 999, 700, 0.5, 300, 100, 1000, 1000, 700, 1000};
    tp_ind_cfg_default(&def);

    struct series w = gen_walk(10000, 1), t = gen_tiny(10000, 2), j = gen_jumps(10000, 3);
    compare("walk ~30000", &def, &w, py);
    compare("walk ~30000, small periods", &small, &w, py);
    compare("walk ~0.0001", &def, &t, py);
    compare("walk ~0.0001, periods 1", &ones, &t, py);
    compare("jumps and flats", &def, &j, py);
    compare("jumps and flats, small", &small, &j, py);
    compare("jumps and flats, big", &big, &j, py);
    series_free(&w);
    series_free(&t);
    series_free(&j);

    struct series l = gen_walk(200000, 4);
    compare("long walk ~30000", &def, &l, py);
    series_free(&l);
}

/* ---- drift over a million bars, against direct two-pass windows ------------------------- */

static void test_drift(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    cfg.bb_k = 1e6; /* so that (upper − middle)/k gives σ without the rounding of 30000 */
    const size_t n = 1000000;
    struct series s = gen_walk(n, 5);
    struct tp_ind *st = tp_ind_new(&cfg);
    ASSERT(st != NULL);
    double worst_sd = 0, worst_vol = 0, worst_sma = 0;
    for (size_t i = 0; i < n; i++) {
        struct tp_ind_values v;
        tp_ind_update(st, s.h[i], s.l[i], s.c[i], &v);
        if (i < 40 || i % 997) continue;
        /* two-pass mean and σ of the last 20 closes and of the last 20 log returns */
        double m = 0, ss = 0, rm = 0, rss = 0, r[20];
        for (size_t k = i - 19; k <= i; k++) m += s.c[k];
        m /= 20;
        for (size_t k = i - 19; k <= i; k++) ss += (s.c[k] - m) * (s.c[k] - m);
        for (size_t k = 0; k < 20; k++) rm += r[k] = log(s.c[i - k] / s.c[i - k - 1]);
        rm /= 20;
        for (size_t k = 0; k < 20; k++) rss += (r[k] - rm) * (r[k] - rm);
        double sd = sqrt(ss / 20), vol = sqrt(rss / 19);
        worst_sma = fmax(worst_sma, fabs(v.sma - m) / m);
        worst_sd = fmax(worst_sd, fabs((v.bb_upper - v.bb_middle) / cfg.bb_k - sd) / sd);
        worst_vol = fmax(worst_vol, fabs(v.volatility - vol) / vol);
    }
    fprintf(stderr, "  1e6 bars: max relative error sma %.3g, bb sigma %.3g, volatility %.3g\n",
            worst_sma, worst_sd, worst_vol);
    /* relative to the value itself, far tighter than DESIGN's max(1, |b|) */
    ASSERT(worst_sma < 1e-14);
    ASSERT(worst_sd < 1e-12);
    ASSERT(worst_vol < 1e-12);
    tp_ind_free(st);
    series_free(&s);
}

/* One-bar spikes of 10⁵× in a calm series (σ ≈ 1e-9 of the price): once a spike has left the
 * window, σ and volatility of the calm values agree with a direct two-pass computation far
 * inside DESIGN's 1e-9 · price, and even relative to their own tiny size (plain running sums
 * would leave a residue of eps · spike², 10¹⁰ times σ², here; the double-double sums leave
 * eps² · spike²). */
static void test_spike_residue(void)
{
    struct tp_ind_cfg cfg;
    tp_ind_cfg_default(&cfg);
    cfg.bb_k = 1e6;
    struct tp_ind *st = tp_ind_new(&cfg);
    ASSERT(st != NULL);
    struct tp_rng rng;
    tp_rng_seed(&rng, 13);
    enum { N = 3000 };
    static double c[N];
    double worst_sd = 0, worst_vol = 0, worst_abs = 0;
    for (size_t i = 0; i < N; i++) {
        c[i] = i % 250 == 100 ? 1e7 : 100 * (1 + 1e-9 * tp_rng_normal(&rng));
        struct tp_ind_values v;
        tp_ind_update(st, c[i], c[i], c[i], &v);
        size_t since = (i + 150) % 250; /* bars since the last spike */
        if (i < 300 || since < 22) continue;
        double m = 0, ss = 0, rm = 0, rss = 0, r[20];
        for (size_t k = i - 19; k <= i; k++) m += c[k];
        m /= 20;
        for (size_t k = i - 19; k <= i; k++) ss += (c[k] - m) * (c[k] - m);
        for (size_t k = 0; k < 20; k++) rm += r[k] = log(c[i - k] / c[i - k - 1]);
        rm /= 20;
        for (size_t k = 0; k < 20; k++) rss += (r[k] - rm) * (r[k] - rm);
        double sd = sqrt(ss / 20), vol = sqrt(rss / 19);
        double err = fabs((v.bb_upper - v.bb_middle) / cfg.bb_k - sd);
        worst_abs = fmax(worst_abs, err / m);
        worst_sd = fmax(worst_sd, err / sd);
        worst_vol = fmax(worst_vol, fabs(v.volatility - vol) / vol);
    }
    fprintf(stderr,
            "  after spikes: bb sigma error %.3g of the price, %.3g of sigma; volatility %.3g\n",
            worst_abs, worst_sd, worst_vol);
    ASSERT(worst_abs < 1e-13);
    ASSERT(worst_sd < 1e-4);
    ASSERT(worst_vol < 1e-9);
    tp_ind_free(st);
}

/* ---- checkpoints ------------------------------------------------------------------------- */

static void check_round_trip(const struct tp_ind_cfg *cfg, const struct series *s)
{
    double *want = run_c(cfg, s);
    struct tp_ind *a = tp_ind_new(cfg), *b = tp_ind_new(cfg);
    ASSERT(a != NULL && b != NULL);
    struct tp_buf buf, again;
    tp_buf_init(&buf, 1 << 20);
    tp_buf_init(&again, 1 << 20);
    const size_t follow = 2200; /* past every warm-up and two window rebuilds */
    for (size_t i = 0; i < s->n; i++) {
        bool cut = i < 120 || i % 53 == 0;
        if (cut && i + follow <= s->n) {
            tp_buf_reset(&buf);
            ASSERT_EQ_INT(tp_ind_save(a, &buf), 0);
            /* b holds unrelated state from the previous cut: the load must replace all of it */
            struct tp_rd r;
            tp_rd_init(&r, buf.p, buf.len);
            ASSERT_EQ_INT(tp_ind_load(b, &r), 0);
            ASSERT_EQ_INT(tp_rd_left(&r), 0);
            ASSERT_EQ_U64(tp_ind_count(b), i);
            tp_buf_reset(&again);
            ASSERT_EQ_INT(tp_ind_save(b, &again), 0);
            ASSERT_EQ_INT(again.len, buf.len);
            ASSERT(memcmp(again.p, buf.p, buf.len) == 0);
            size_t stop = i + (i % 5 == 0 ? follow : 60);
            for (size_t k = i; k < stop; k++) {
                struct tp_ind_values v;
                double c[NCOL];
                tp_ind_update(b, s->h[k], s->l[k], s->c[k], &v);
                to_cols(&v, c);
                if (memcmp(c, want + k * NCOL, sizeof c) != 0)
                    TPT_FAIL("after a load at bar %zu, bar %zu differs", i, k + 1);
            }
        }
        struct tp_ind_values v;
        tp_ind_update(a, s->h[i], s->l[i], s->c[i], &v);
    }
    tp_buf_fini(&buf);
    tp_buf_fini(&again);
    tp_ind_free(a);
    tp_ind_free(b);
    free(want);
}

static void test_save_load(void)
{
    struct tp_ind_cfg def;
    tp_ind_cfg_default(&def);
    struct series w = gen_walk(6000, 11), j = gen_jumps(6000, 12);
    check_round_trip(&def, &w);
    check_round_trip(&def, &j);
    check_round_trip(&(struct tp_ind_cfg){3, 5, 4, 1.5, 6, 2, 7, 3, 2, 4}, &j);
    /* a non-positive close puts a non-finite return in the volatility window */
    j.c[3000] = 0;
    j.c[3001] = -1;
    check_round_trip(&def, &j);
    series_free(&w);
    series_free(&j);
}

static int load_bytes(struct tp_ind *s, const void *p, size_t n)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    int rc = tp_ind_load(s, &r);
    if (rc) ASSERT(r.err);
    return rc;
}

static void test_corrupt(void)
{
    struct tp_ind_cfg def, other;
    tp_ind_cfg_default(&def);
    struct series w = gen_walk(500, 21);
    struct tp_ind *a = tp_ind_new(&def), *b = tp_ind_new(&def);
    ASSERT(a != NULL && b != NULL);
    for (size_t i = 0; i < 300; i++) {
        struct tp_ind_values v;
        tp_ind_update(a, w.h[i], w.l[i], w.c[i], &v);
        if (i < 250) tp_ind_update(b, w.h[i], w.l[i], w.c[i], &v);
    }
    struct tp_buf buf;
    tp_buf_init(&buf, 1 << 20);
    ASSERT_EQ_INT(tp_ind_save(a, &buf), 0);
    char *good = malloc(buf.len);
    ASSERT(good != NULL);
    memcpy(good, buf.p, buf.len);
    size_t n = buf.len;

    /* every truncation */
    for (size_t k = 0; k < n; k++)
        if (load_bytes(b, good, k) != -EBADMSG) TPT_FAIL("accepted %zu of %zu bytes", k, n);
    /* structure: magic (0..3), cfg (4..47), count (48..55), first window's len and m */
    const size_t structural[] = {0, 3, 4, 8, 20, 32, 40, 47, 48, 64, 68};
    for (size_t k = 0; k < TP_ARRAY_LEN(structural); k++) {
        memcpy(buf.p, good, n);
        buf.p[structural[k]] ^= 0x01;
        if (load_bytes(b, buf.p, n) != -EBADMSG)
            TPT_FAIL("accepted a flip at byte %zu", structural[k]);
    }
    /* a count below the window lengths */
    memcpy(buf.p, good, n);
    memset(buf.p + 48, 0, 8);
    buf.p[48] = 5;
    ASSERT_EQ_INT(load_bytes(b, buf.p, n), -EBADMSG);
    /* garbage */
    struct tp_rng r;
    tp_rng_seed(&r, 9);
    for (size_t k = 0; k < n; k++) buf.p[k] = (char)tp_rng_u64(&r);
    ASSERT_EQ_INT(load_bytes(b, buf.p, n), -EBADMSG);
    /* another configuration */
    for (int f = 0; f < 10; f++) {
        other = def;
        switch (f) {
        case 0:
            other.sma++;
            break;
        case 1:
            other.ema++;
            break;
        case 2:
            other.bb++;
            break;
        case 3:
            other.bb_k = 2.5;
            break;
        case 4:
            other.rsi++;
            break;
        case 5:
            other.macd_fast++;
            break;
        case 6:
            other.macd_slow++;
            break;
        case 7:
            other.macd_sig++;
            break;
        case 8:
            other.atr++;
            break;
        default:
            other.vol++;
            break;
        }
        struct tp_ind *o = tp_ind_new(&other);
        ASSERT(o != NULL);
        ASSERT_EQ_INT(load_bytes(o, good, n), -EBADMSG);
        tp_ind_free(o);
    }

    /* the failed loads left b as it was: it continues exactly like an uninterrupted state */
    ASSERT_EQ_U64(tp_ind_count(b), 250);
    struct tp_ind *c = tp_ind_new(&def);
    ASSERT(c != NULL);
    for (size_t i = 0; i < 500; i++) {
        struct tp_ind_values v1, v2;
        tp_ind_update(c, w.h[i], w.l[i], w.c[i], &v1);
        if (i < 250) continue;
        tp_ind_update(b, w.h[i], w.l[i], w.c[i], &v2);
        ASSERT(memcmp(&v1, &v2, sizeof v1) == 0);
    }
    /* a good load still works afterwards */
    ASSERT_EQ_INT(load_bytes(b, good, n), 0);
    ASSERT_EQ_U64(tp_ind_count(b), 300);

    /* a save that does not fit leaves the buffer as it was */
    struct tp_buf small;
    tp_buf_init(&small, 100);
    ASSERT_EQ_INT(tp_buf_puts(&small, "hdr"), 0);
    ASSERT_EQ_INT(tp_ind_save(a, &small), -E2BIG);
    ASSERT_EQ_INT(small.len, 3);
    tp_buf_fini(&small);

    tp_ind_free(c);
    free(good);
    tp_buf_fini(&buf);
    tp_ind_free(a);
    tp_ind_free(b);
    series_free(&w);
}

TPT_MAIN({"cfg", test_cfg}, {"values_clear", test_values_clear}, {"linear", test_linear},
         {"constant", test_constant}, {"alternating", test_alternating},
         {"nonpositive", test_nonpositive}, {"null_canonical", test_null_canonical},
         {"warmup", test_warmup}, {"reference", test_reference}, {"drift", test_drift},
         {"spike_residue", test_spike_residue}, {"save_load", test_save_load},
         {"corrupt", test_corrupt})
