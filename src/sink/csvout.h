/*
 * csvout.h — the engine's outputs as CSV tables with the columns of DESIGN.md §5: bars (with
 * indicators), anomalies, and late events (the ticks columns plus `interval`).
 *
 * Conventions (DESIGN.md §5): times RFC 3339 with 9 fractional digits and Z; `ts_ns` the
 * integer; numbers in shortest round-trip form; null (NaN, an absent id) an empty field;
 * `interval` as 1s/1m/5m/...; a field is quoted (RFC 4180, "" for a quote) only when it holds
 * a comma, a quote or a line break. Lines end with "\n". The output is a pure function of the
 * rows written, so the same rows give byte-identical files.
 *
 * The tp_csv_put_* functions append one line to a tp_buf (pure, any thread). A tp_csvout
 * writes one table to one file through a 1 MiB buffer (large write()s) and keeps the first
 * error, so the engine's void callbacks can write rows and the caller checks once at close.
 * A writer belongs to one thread.
 */
#ifndef TP_CSVOUT_H
#define TP_CSVOUT_H

#include "core/buf.h"
#include "core/event.h"
#include "engine/anomaly.h"
#include "engine/bar.h"

enum tp_csv_table { TP_CSV_BARS, TP_CSV_ANOMALIES, TP_CSV_LATE };

/* The header line of a table, with its "\n". Static. */
const char *tp_csv_header(enum tp_csv_table t);

/* Append one line; 0 or a negative errno (-E2BIG past the buffer's cap). */
int tp_csv_put_bar(struct tp_buf *b, const struct tp_bar *bar);
int tp_csv_put_anomaly(struct tp_buf *b, const struct tp_anomaly *a);
int tp_csv_put_late(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns);

struct tp_csvout;

/* Creates (or truncates) path with mode 0644 and writes the header. 0 and *ret (owned; close
 * with tp_csvout_close), or a negative errno. */
int tp_csvout_open(const char *path, enum tp_csv_table t, struct tp_csvout **ret);
/* Rows. Each returns 0 or the writer's first error (sticky: later rows are dropped). */
int tp_csvout_bar(struct tp_csvout *w, const struct tp_bar *bar);
int tp_csvout_anomaly(struct tp_csvout *w, const struct tp_anomaly *a);
int tp_csvout_late(struct tp_csvout *w, const struct tp_event *e, int64_t interval_ns);
uint64_t tp_csvout_rows(const struct tp_csvout *w);
int tp_csvout_error(const struct tp_csvout *w);
/* Writes what is buffered, fsyncs when sync, closes and frees. Returns the first error met
 * over the writer's life (0 when none). NULL is a no-op. */
int tp_csvout_close(struct tp_csvout *w, bool sync);

#endif
