/*
 * tptime.h — time in tickpipe: int64 nanoseconds since the Unix epoch, UTC (DESIGN.md §2).
 *
 * Parsing accepts RFC 3339 / ISO-8601 ("2026-11-23T12:34:00.123Z", a space instead of T, up to
 * 9 fractional digits, Z or ±HH:MM or none = UTC, a date alone = midnight) and epoch numbers
 * whose unit comes from the integer part's digit count (≤11 s, 12–14 ms, 15–17 µs, ≥18 ns)
 * unless a unit is forced. Formatting gives RFC 3339 with 9 fractional digits and Z.
 * Pure functions; any thread.
 */
#ifndef TP_TPTIME_H
#define TP_TPTIME_H

#include "core/tp.h"

enum tp_ts_unit { TP_TS_AUTO = 0, TP_TS_S, TP_TS_MS, TP_TS_US, TP_TS_NS };

#define TP_TIME_STRLEN 40 /* enough for any int64 time formatted, with NUL */

/* Parses s[0..n) as a time. 0 and *ret set, or -EINVAL (malformed) / -ERANGE (out of int64). */
int tp_time_parse(const char *s, size_t n, enum tp_ts_unit unit, int64_t *ret);
/* Parses a unit name: "s", "ms", "us", "ns". 0 or -EINVAL. */
int tp_ts_unit_parse(const char *s, enum tp_ts_unit *ret);
/* Writes "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" and a NUL into out; returns the length. */
size_t tp_time_format(int64_t ns, char out[TP_TIME_STRLEN]);
/* Writes the date "YYYY-MM-DD" of ns; returns the length (10 for years 0..9999). */
size_t tp_date_format(int64_t ns, char out[16]);
/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t tp_days_from_civil(int64_t y, unsigned m, unsigned d);
void tp_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Parses a duration: "500ms", "2s", "1m", "5m", "1h", "1d", "250us", "10ns", or a bare
 * number of seconds. 0 or -EINVAL. */
int tp_duration_parse(const char *s, int64_t *ret_ns);
/* Formats a duration in the largest unit that divides it exactly: "1m", "1500ms". */
size_t tp_duration_format(int64_t ns, char *out, size_t cap);

int64_t tp_now_ns(void);  /* CLOCK_REALTIME */
int64_t tp_mono_ns(void); /* CLOCK_MONOTONIC */

#endif
