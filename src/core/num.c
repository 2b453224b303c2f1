/*
 * num.c — decimal parsing and shortest round-trip printing (see num.h).
 *
 * Printing: the shortest round-trip form is the correctly rounded 15-, 16- or 17-digit
 * decimal, the first of them that reads back as v (DBL_DIG = 15: a shorter form that reads
 * back is the 15-digit one with trailing zeros dropped). The fast path decides this in exact
 * integer arithmetic for 1e-6 ≤ |v| < 2^53, which covers what tickpipe prints (prices, sizes,
 * sums, indicators): with |v| = f·2^-s, the p-digit candidate is d = round(f·10^k / 2^s), and
 * it reads back as v exactly when it lies inside v's rounding interval (see fast_digits).
 * Exact ties, either in the rounding of d or on the interval's boundary, where rounding
 * rules decide, and every other value go to the reference path: glibc's printf ("%.*e",
 * correctly rounded) and strtod under the "C" locale, precision 15, 16, 17 in turn. Both
 * paths give the same text (test_core compares them on millions of values).
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>

#include "core/num.h"

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static double strtod_c(const char *s, char **end)
{
    pthread_once(&c_locale_once, c_locale_init);
    return strtod_l(s, end, c_locale);
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int tp_num_parse(const char *s, size_t n, double *ret)
{
    /* The common case first: digits with at most one '.', 15 digits or fewer, so the integer
     * of all digits is exact and one division by an exact power of ten rounds correctly (the
     * same computation as the exact path below). */
    if (n >= 1 && n <= 16) {
        uint64_t m = 0;
        size_t i = 0, dot = n;
        for (; i < n; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (d <= 9)
                m = m * 10 + d;
            else if (s[i] == '.' && dot == n)
                dot = i;
            else
                break;
        }
        size_t digits = n - (dot < n);
        if (i == n && digits >= 1 && digits <= 15) {
            size_t frac = dot < n ? n - dot - 1 : 0;
            double v = (double)m;
            *ret = frac ? v / pow10_exact[frac] : v;
            return 0;
        }
    }
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    uint64_t mant = 0;
    int sig = 0;       /* significant digits accumulated into mant */
    int dropped = 0;   /* integer digits that did not fit (scale up) */
    int frac_used = 0; /* fraction digits in mant */
    bool inexact = false, any = false;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        any = true;
        if (sig < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            if (mant) sig++;
        } else {
            dropped++;
            if (s[i] != '0') inexact = true;
        }
    }
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant) sig++;
                frac_used++;
            } else if (s[i] != '0') {
                inexact = true;
            }
        }
    }
    if (!any) return -EINVAL;
    int64_t exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t es = i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (exp10 < 100000) exp10 = exp10 * 10 + (s[i] - '0');
        if (i == es) return -EINVAL;
        if (eneg) exp10 = -exp10;
    }
    if (i != n) return -EINVAL;
    int64_t e = exp10 + dropped - frac_used;
    if (!inexact && mant <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        double v = (double)mant;
        v = e >= 0 ? v * pow10_exact[e] : v / pow10_exact[-e];
        *ret = neg ? -v : v;
        return 0;
    }
    if (mant == 0 && !inexact) {
        *ret = neg ? -0.0 : 0.0;
        return 0;
    }
    /* Slow path: correctly rounded by glibc, on a NUL-terminated copy. */
    char tmp[128];
    char *heap = NULL, *p = tmp;
    if (n >= sizeof tmp) {
        if (n > 4096) return -EINVAL; /* no sane number is this long */
        heap = malloc(n + 1);
        if (!heap) return -ENOMEM;
        p = heap;
    }
    memcpy(p, s, n);
    p[n] = 0;
    char *end;
    double v = strtod_c(p, &end);
    bool ok = end == p + n;
    free(heap);
    if (!ok) return -EINVAL;
    if (isinf(v)) return -ERANGE;
    *ret = v;
    return 0;
}

/* Digits and decimal exponent of the shortest round-trip form: v = 0.d1d2...dk × 10^dexp. */
static int shortest_digits(double v, char *dig, int *dexp)
{
    char tmp[40];
    /* For normal doubles a ≤15-digit shortest form is exactly what %.15g rounds to; a
     * subnormal has fewer significant bits, so search from 1 digit. */
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (prec == 17 || strtod_c(tmp, NULL) == v) break;
    }
    /* tmp is d.ddddde±x */
    int k = 0;
    char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') dig[k++] = *p;
    int e = (int)strtol(p + 1, NULL, 10);
    while (k > 1 && dig[k - 1] == '0') k--;
    dig[k] = 0;
    *dexp = e + 1;
    return k;
}

static const uint64_t pow10_u64[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};

typedef unsigned __int128 u128;

static inline u128 pow10_u128(int k) /* k ≤ 38 */
{
    return k <= 19 ? (u128)pow10_u64[k] : (u128)pow10_u64[19] * pow10_u64[k - 19];
}

/* The shortest round-trip digits of a (1e-6 ≤ a < 2^53): a reads back from d·10^-k, d of 15
 * to 17 digits (trailing zeros not yet dropped). false: the reference path must decide.
 *
 * a = f·2^-s exactly (f < 2^53, 0 < s ≤ 72 in this range). For p digits take k with
 * X = f·10^k having p digits before the binary point (X < 2^127: k ≤ 22), Q = X >> s,
 * R = X mod 2^s: d = Q rounded half to even by R (a tie R = 2^(s-1) goes to the reference
 * path). d·10^-k reads back as a when its distance to a, |d·2^s − X|·2^-s·10^-k, is below
 * half the gap to the next double (2^-s, or 2^-(s+1) below a power of two), i.e. when
 * 2·dist < 10^k (4·dist below a power of two); equality is a tie for the reader: reference. */
static bool fast_digits(double a, uint64_t *ret_d, int *ret_k)
{
    uint64_t bits;
    memcpy(&bits, &a, 8);
    int be = (int)(bits >> 52) & 0x7ff;
    uint64_t f = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int s = 1075 - be; /* a = f·2^-s */
    if (be == 0 || s <= 0 || s > 100) return false;
    int E = be - 1023;          /* 2^E ≤ a < 2^(E+1) */
    int lg = (E * 78913) >> 18; /* floor(E·log10 2): 10^lg ≤ a < 10^(lg+2) */
    u128 one = (u128)1 << s, mask = one - 1, half = one >> 1;
    for (int p = 15; p <= 17; p++) {
        int k = p - 1 - lg;
        if (k < 0 || k > 22) return false;
        u128 tenk = pow10_u128(k), x = (u128)f * tenk;
        uint64_t q = (uint64_t)(x >> s);
        if (q >= pow10_u64[p]) { /* p + 1 digits: one fraction digit fewer */
            if (--k < 0) return false;
            tenk = pow10_u128(k);
            x = (u128)f * tenk;
            q = (uint64_t)(x >> s);
        }
        u128 r = x & mask;
        if (r == half) return false;
        bool up = r > half;
        u128 dist = up ? 2 * (one - r) : (f == UINT64_C(1) << 52 ? 4 * r : 2 * r);
        if (dist == tenk) return false;
        if (dist < tenk) {
            *ret_d = q + up;
            *ret_k = k;
            return true;
        }
    }
    return false;
}

static const char dig2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                           "34353637383940414243444546474849505152535455565758596061626364656667"
                           "6869707172737475767778798081828384858687888990919293949596979899";

/* Plain notation of [-]d·10^-k without trailing fraction zeros (d ≤ 10^17). */
static size_t put_plain(char *out, bool neg, uint64_t d, int k)
{
    while (k >= 8 && d % 100000000 == 0) d /= 100000000, k -= 8;
    if (k >= 4 && d % 10000 == 0) d /= 10000, k -= 4;
    if (k >= 2 && d % 100 == 0) d /= 100, k -= 2;
    if (k >= 1 && d % 10 == 0) d /= 10, k -= 1;
    char t[24];
    int i = (int)sizeof t;
    while (d >= 100) {
        unsigned r = (unsigned)(d % 100);
        d /= 100;
        i -= 2;
        memcpy(t + i, dig2 + 2 * r, 2);
    }
    if (d >= 10) {
        i -= 2;
        memcpy(t + i, dig2 + 2 * d, 2);
    } else {
        t[--i] = (char)('0' + d);
    }
    int n = (int)sizeof t - i;
    char *o = out;
    if (neg) *o++ = '-';
    if (k == 0) {
        memcpy(o, t + i, (size_t)n);
        o += n;
    } else if (k >= n) {
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t)(k - n));
        o += k - n;
        memcpy(o, t + i, (size_t)n);
        o += n;
    } else {
        memcpy(o, t + i, (size_t)(n - k));
        o += n - k;
        *o++ = '.';
        memcpy(o, t + i + n - k, (size_t)k);
        o += k;
    }
    *o = 0;
    return (size_t)(o - out);
}

size_t tp_num_format(double v, char out[TP_NUM_STRLEN])
{
    double a = fabs(v);
    if (a >= 1e-6 && a < 9007199254740992.0) {
        uint64_t d;
        int k;
        if (fast_digits(a, &d, &k)) return put_plain(out, v < 0, d, k);
    }
    if (isnan(v)) return (size_t)snprintf(out, TP_NUM_STRLEN, "NaN");
    if (isinf(v)) return (size_t)snprintf(out, TP_NUM_STRLEN, v < 0 ? "-Infinity" : "Infinity");
    if (v == 0) return (size_t)snprintf(out, TP_NUM_STRLEN, "0");
    size_t o = 0;
    if (v < 0) {
        out[o++] = '-';
        v = -v;
    }
    char dig[24];
    int dexp;
    int k = shortest_digits(v, dig, &dexp);
    if (dexp > -6 && dexp <= 21) {
        if (dexp <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int z = 0; z < -dexp; z++) out[o++] = '0';
            for (int j = 0; j < k; j++) out[o++] = dig[j];
        } else if (k <= dexp) {
            for (int j = 0; j < k; j++) out[o++] = dig[j];
            for (int z = k; z < dexp; z++) out[o++] = '0';
        } else {
            for (int j = 0; j < dexp; j++) out[o++] = dig[j];
            out[o++] = '.';
            for (int j = dexp; j < k; j++) out[o++] = dig[j];
        }
        out[o] = 0;
        return o;
    }
    out[o++] = dig[0];
    if (k > 1) {
        out[o++] = '.';
        for (int j = 1; j < k; j++) out[o++] = dig[j];
    }
    int n = snprintf(out + o, TP_NUM_STRLEN - o, "e%c%d", dexp - 1 < 0 ? '-' : '+', abs(dexp - 1));
    return o + (size_t)(n < 0 ? 0 : n);
}
