/*
 * tptime.c — parsing and formatting of times and durations (see tptime.h).
 *
 * The civil-date conversions are the well-known days-from-civil formulas over 400-year eras,
 * exact for the whole proleptic Gregorian calendar, with floor semantics before 1970.
 */
#include <time.h>

#include "core/tptime.h"

int64_t tp_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void tp_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static bool digits(const char *s, size_t n, size_t at, size_t cnt, int64_t *out)
{
    if (at + cnt > n) return false;
    int64_t v = 0;
    for (size_t i = at; i < at + cnt; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int parse_epoch(const char *s, size_t n, enum tp_ts_unit unit, int64_t *ret)
{
    /* The common case, a plain count of at most 18 digits (it fits 64 bits): one pass. */
    if (n <= 18) {
        uint64_t v = 0;
        size_t k = 0;
        while (k < n && (unsigned)(s[k] - '0') <= 9) v = v * 10 + (unsigned)(s[k++] - '0');
        if (k == n) {
            if (unit == TP_TS_AUTO)
                unit = n <= 11 ? TP_TS_S : n <= 14 ? TP_TS_MS : n <= 17 ? TP_TS_US : TP_TS_NS;
            int64_t mul = unit == TP_TS_S    ? TP_NS_PER_SEC
                          : unit == TP_TS_MS ? TP_NS_PER_MS
                          : unit == TP_TS_US ? TP_NS_PER_US
                                             : 1;
            int64_t ns;
            if (__builtin_mul_overflow((int64_t)v, mul, &ns)) return -ERANGE;
            *ret = ns;
            return 0;
        }
    }
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    size_t int_start = i;
    __int128 ip = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        ip = ip * 10 + (s[i] - '0');
        if (ip > (__int128)INT64_MAX * 10) return -ERANGE;
        i++;
    }
    size_t int_digits = i - int_start;
    if (int_digits == 0) return -EINVAL;
    /* Fraction, in units of 1e-18 of the input unit, so 9 digits of ns below seconds fit. */
    int64_t frac = 0;
    int frac_digits = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t fs = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (frac_digits < 18) {
                frac = frac * 10 + (s[i] - '0');
                frac_digits++;
            }
            i++;
        }
        if (i == fs) return -EINVAL;
    }
    if (i != n) return -EINVAL;
    if (unit == TP_TS_AUTO) {
        if (int_digits <= 11)
            unit = TP_TS_S;
        else if (int_digits <= 14)
            unit = TP_TS_MS;
        else if (int_digits <= 17)
            unit = TP_TS_US;
        else
            unit = TP_TS_NS;
    }
    int64_t mul = unit == TP_TS_S    ? TP_NS_PER_SEC
                  : unit == TP_TS_MS ? TP_NS_PER_MS
                  : unit == TP_TS_US ? TP_NS_PER_US
                                     : 1;
    __int128 ns = ip * mul;
    /* fraction of one unit, scaled to ns, truncated toward zero */
    if (frac_digits) {
        __int128 f = frac;
        for (int k = frac_digits; k < 18; k++) f *= 10;
        ns += (f * mul) / (__int128)1000000000000000000LL;
    }
    if (neg) ns = -ns;
    if (ns > INT64_MAX || ns < INT64_MIN) return -ERANGE;
    *ret = (int64_t)ns;
    return 0;
}

int tp_time_parse(const char *s, size_t n, enum tp_ts_unit unit, int64_t *ret)
{
    while (n && (s[0] == ' ' || s[0] == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    if (n == 0) return -EINVAL;
    /* An ISO date has '-' at index 4 (years 0000-9999). Anything else is an epoch number. */
    if (n < 10 || s[4] != '-') return parse_epoch(s, n, unit, ret);

    int64_t y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
    if (!digits(s, n, 0, 4, &y) || s[4] != '-' || !digits(s, n, 5, 2, &mo) || s[7] != '-' ||
        !digits(s, n, 8, 2, &d))
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return -EINVAL;
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return -EINVAL;
    size_t i = 10;
    int64_t off = 0;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return -EINVAL;
        i++;
        if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' ||
            !digits(s, n, i + 3, 2, &mi))
            return -EINVAL;
        i += 5;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &se)) return -EINVAL;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                size_t fs = i;
                int fd = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (fd < 9)
                        frac = frac * 10 + (s[i] - '0'), fd++;
                    else
                        return -EINVAL; /* more than 9 fractional digits */
                    i++;
                }
                if (i == fs) return -EINVAL;
                for (; fd < 9; fd++) frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || se > 60) return -EINVAL;
        if (i < n) {
            if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int64_t oh, om;
                int sign = s[i] == '-' ? -1 : 1;
                if (!digits(s, n, i + 1, 2, &oh)) return -EINVAL;
                size_t j = i + 3;
                if (j < n && s[j] == ':') j++;
                if (!digits(s, n, j, 2, &om) || j + 2 != n || oh > 23 || om > 59) return -EINVAL;
                off = sign * (oh * 3600 + om * 60);
                i = n;
            } else {
                return -EINVAL;
            }
        }
    }
    if (i != n) return -EINVAL;
    __int128 secs = (__int128)tp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                    mi * 60 + se - off;
    __int128 ns = secs * TP_NS_PER_SEC + frac;
    if (ns > INT64_MAX || ns < INT64_MIN) return -ERANGE;
    *ret = (int64_t)ns;
    return 0;
}

int tp_ts_unit_parse(const char *s, enum tp_ts_unit *ret)
{
    static const struct {
        const char *name;
        enum tp_ts_unit u;
    } t[] = {{"s", TP_TS_S}, {"ms", TP_TS_MS}, {"us", TP_TS_US}, {"ns", TP_TS_NS}};
    for (size_t i = 0; i < TP_ARRAY_LEN(t); i++)
        if (!strcmp(s, t[i].name)) {
            *ret = t[i].u;
            return 0;
        }
    return -EINVAL;
}

size_t tp_time_format(int64_t ns, char out[TP_TIME_STRLEN])
{
    int64_t secs = tp_floor_div(ns, TP_NS_PER_SEC);
    int64_t frac = ns - secs * TP_NS_PER_SEC;
    int64_t days = tp_floor_div(secs, 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    tp_civil_from_days(days, &y, &m, &d);
    int n =
        snprintf(out, TP_TIME_STRLEN, "%04lld-%02u-%02uT%02d:%02d:%02d.%09lldZ", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (long long)frac);
    return n < 0 ? 0 : (size_t)n;
}

size_t tp_date_format(int64_t ns, char out[16])
{
    int64_t days = tp_floor_div(ns, INT64_C(86400) * TP_NS_PER_SEC);
    int64_t y;
    unsigned m, d;
    tp_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
    return n < 0 ? 0 : (size_t)n;
}

int tp_duration_parse(const char *s, int64_t *ret_ns)
{
    if (!s || !*s) return -EINVAL;
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10) return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0) return -EINVAL;
    static const struct {
        const char *suf;
        int64_t mul;
    } u[] = {{"", TP_NS_PER_SEC},         {"ns", 1},
             {"us", TP_NS_PER_US},        {"ms", TP_NS_PER_MS},
             {"s", TP_NS_PER_SEC},        {"m", 60 * TP_NS_PER_SEC},
             {"h", 3600 * TP_NS_PER_SEC}, {"d", 86400 * TP_NS_PER_SEC}};
    for (size_t k = 0; k < TP_ARRAY_LEN(u); k++)
        if (!strcmp(s + i, u[k].suf)) {
            if (v > INT64_MAX / u[k].mul) return -EINVAL;
            *ret_ns = v * u[k].mul;
            return 0;
        }
    return -EINVAL;
}

size_t tp_duration_format(int64_t ns, char *out, size_t cap)
{
    static const struct {
        const char *suf;
        int64_t mul;
    } u[] = {{"d", 86400 * TP_NS_PER_SEC},
             {"h", 3600 * TP_NS_PER_SEC},
             {"m", 60 * TP_NS_PER_SEC},
             {"s", TP_NS_PER_SEC},
             {"ms", TP_NS_PER_MS},
             {"us", TP_NS_PER_US},
             {"ns", 1}};
    for (size_t k = 0; k < TP_ARRAY_LEN(u); k++)
        if (ns != 0 && ns % u[k].mul == 0) {
            int n = snprintf(out, cap, "%lld%s", (long long)(ns / u[k].mul), u[k].suf);
            return n < 0 ? 0 : (size_t)n;
        }
    int n = snprintf(out, cap, "0s");
    return n < 0 ? 0 : (size_t)n;
}

int64_t tp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * TP_NS_PER_SEC + ts.tv_nsec;
}

int64_t tp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * TP_NS_PER_SEC + ts.tv_nsec;
}
