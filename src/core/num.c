/*
 * num.c — decimal parsing and shortest round-trip printing (see num.h).
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

size_t tp_num_format(double v, char out[TP_NUM_STRLEN])
{
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
