/*
 * fuzz_tptime.c — libFuzzer target for times and durations (core/tptime.h).
 *
 * Input: the first byte picks the forced unit (auto, s, ms, us, ns); the rest is the text.
 * Properties on every accepted input:
 *   - the text parses the same a second time (pure function);
 *   - tp_time_format gives "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" for years 0..9999, and parsing
 *     that back gives the same nanosecond (format → parse is the identity);
 *   - tp_civil_from_days ∘ tp_days_from_civil is the identity on the value's date;
 *   - the text, read as a duration, either fails or formats to a string that parses back to
 *     the same duration (tp_duration_format → tp_duration_parse).
 * Rejections are -EINVAL or -ERANGE only.
 */
#include "core/tptime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum tp_ts_unit units[] = {TP_TS_AUTO, TP_TS_S, TP_TS_MS, TP_TS_US, TP_TS_NS};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256) return 0;
    enum tp_ts_unit unit = units[data[0] % TP_ARRAY_LEN(units)];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    int64_t ns, again;
    int rc = tp_time_parse(s, n, unit, &ns);
    if (rc == 0) {
        if (tp_time_parse(s, n, unit, &again) != 0 || again != ns) abort();
        char out[TP_TIME_STRLEN];
        size_t len = tp_time_format(ns, out);
        if (len == 0 || len >= TP_TIME_STRLEN || strlen(out) != len) abort();
        int64_t days = floor_div(ns, 86400 * TP_NS_PER_SEC), y;
        unsigned m, d;
        tp_civil_from_days(days, &y, &m, &d);
        if (m < 1 || m > 12 || d < 1 || d > 31 || tp_days_from_civil(y, m, d) != days) abort();
        if (y >= 0 && y <= 9999) {
            if (len != 30 || out[4] != '-' || out[10] != 'T' || out[29] != 'Z') abort();
            if (tp_time_parse(out, len, TP_TS_AUTO, &again) != 0 || again != ns) abort();
            char date[16];
            if (tp_date_format(ns, date) != 10 || memcmp(date, out, 10) != 0) abort();
        }
    } else if (rc != -EINVAL && rc != -ERANGE) {
        abort();
    }

    char text[258];
    memcpy(text, s, n);
    text[n] = 0;
    if (strlen(text) == n && tp_duration_parse(text, &ns) == 0) {
        if (ns < 0) abort();
        char out[64];
        size_t len = tp_duration_format(ns, out, sizeof out);
        if (len == 0 || len >= sizeof out) abort();
        if (tp_duration_parse(out, &again) != 0 || again != ns) abort();
    }
    return 0;
}
