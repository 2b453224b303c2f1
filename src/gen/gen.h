/*
 * gen.h — synthetic datasets for tests, demos and benchmarks (`tickpipe gen`, docs/gen.md).
 *
 * Two datasets, both a pure function of their options (the same options and seed give the
 * same bytes on every machine with the same libm), written as CSV to a file descriptor:
 *
 * - minute-2024: the seed project's dataset, one row a minute through the leap year 2024
 *   (527,040 rows), columns `id,timestamp,stock_price,sales_trend`; see tp_gen_minute.
 * - trades: benchmark trades in the replay CSV input format `ts,instrument,price,size,side,
 *   trade_id` for N instruments with Zipf-distributed activity, a fraction delivered out of
 *   order within the allowed lateness, a fraction delivered beyond it, and a fraction of
 *   re-emitted rows (duplicate trade ids); every count is measured while writing, with the
 *   rules of DESIGN.md §3, and returned for the sidecar JSON; see tp_gen_trades.
 *
 * Pure module: no logging, no terminal output (progress goes through a callback). Any
 * thread, one call at a time per descriptor.
 */
#ifndef TP_GEN_H
#define TP_GEN_H

#include "core/buf.h"
#include "core/tptime.h"

#define TP_GEN_MINUTE_ROWS    UINT64_C(527040) /* 366 days × 1440 minutes */
#define TP_GEN_MAX_SYMBOLS    100000u
#define TP_GEN_INTERVALS      6 /* the default bar intervals, for the late counts */
#define TP_GEN_PROGRESS_EVERY (UINT64_C(1) << 20)

/* 1s, 1m, 5m, 15m, 1h, 1d in ns, and their names. */
extern const int64_t tp_gen_interval_ns[TP_GEN_INTERVALS];
extern const char *const tp_gen_interval_name[TP_GEN_INTERVALS];

/* The file format written: CSV (the default), or Parquet with the same columns (docs/gen.md
 * gives the Parquet types). */
enum tp_gen_format { TP_GEN_CSV = 0, TP_GEN_PARQUET };

/* Called every TP_GEN_PROGRESS_EVERY rows and once at the end; may be NULL. */
typedef void tp_gen_progress_fn(uint64_t done, uint64_t total, void *arg);

/*
 * minute-2024. Row i (0-based) of `rows` ≤ TP_GEN_MINUTE_ROWS:
 *   id          = i + 1
 *   timestamp   = 2024-01-01 00:00:00 UTC + i minutes, written "YYYY-MM-DD HH:MM:SS"
 *                 (no zone: UTC, as tickpipe and DuckDB read a zoneless time)
 *   stock_price = P_i rounded to 2 decimals, where P_0 = 100 and, for i ≥ 1,
 *                 P_i = max(1.0, P_(i-1) + 0.0002 + 2·z_i): the floor applies to the walk's
 *                 state (a reflecting floor), and the state is never rounded
 *   sales_trend = 200 + 50·sin(2π·doy/365) + 5·e_i rounded to 2 decimals, doy the 1-based
 *                 day of the year of the timestamp (1 on 2024-01-01, 366 on 2024-12-31)
 * z_i and e_i are standard normal draws (tp_rng_normal) from one tp_rng seeded with `seed`,
 * in the order e_0, z_1, e_1, z_2, e_2, ... (row 0 has no step). Rounding is half away from zero
 * of the double v·100 (llround). Header line first; lines end in "\n".
 * 0 and *ret_bytes (may be NULL) set, or -EINVAL (rows too many), -ENOMEM, a write error.
 */
int tp_gen_minute(int fd, uint64_t rows, uint64_t seed, tp_gen_progress_fn *progress,
                  void *progress_arg, uint64_t *ret_bytes);
/* The same rows in format fmt (tp_gen_minute is fmt TP_GEN_CSV). For Parquet, fd must be at
 * offset 0 and *ret_bytes is the file size. */
int tp_gen_minute_to(int fd, enum tp_gen_format fmt, uint64_t rows, uint64_t seed,
                     tp_gen_progress_fn *progress, void *progress_arg, uint64_t *ret_bytes);

struct tp_gen_trades_opts {
    uint64_t rows;             /* rows written, duplicates included */
    uint32_t symbols;          /* instruments gen:S0001-USD ... (1..TP_GEN_MAX_SYMBOLS) */
    uint64_t seed;             /* tp_rng seed */
    int64_t start_ns;          /* event time of the first trade */
    double rate;               /* trades per second of event time, all instruments (> 0) */
    double zipf;               /* activity of the k-th instrument ∝ 1/k^zipf (≥ 0) */
    double out_of_order;       /* fraction of new trades held back < lateness (target) */
    double late;               /* fraction of new trades held back 2–60 × lateness (target) */
    double duplicates;         /* fraction of rows that re-emit a recent row (target, < 1) */
    int64_t lateness_ns;       /* the engine's allowed lateness the counts assume (> 0) */
    enum tp_ts_unit unit;      /* the unit of the written epoch timestamps (not AUTO) */
    enum tp_gen_format format; /* CSV (0) or Parquet (fd at offset 0) */
    tp_gen_progress_fn *progress;
    void *progress_arg;
};

/* What tp_gen_trades wrote, classified with the rules of DESIGN.md §3 against the rows
 * before each one in the file: a row is a duplicate when an earlier row has the same
 * (instrument, trade_id); for the others, M = the max ts of the earlier non-duplicate rows
 * of its instrument (none for its first row), and the row is in order when ts ≥ M,
 * out of order when M − lateness ≤ ts < M, beyond the lateness when ts < M − lateness, and
 * late for interval I when M − lateness ≥ the end of its I-window. Times are the written
 * (unit-truncated) times, in ns. */
struct tp_gen_trades_stats {
    uint64_t rows, trades; /* trades: rows that are not duplicates */
    uint64_t in_order, out_of_order, beyond_lateness, duplicates;
    uint64_t late[TP_GEN_INTERVALS];
    int64_t min_ts, max_ts; /* over all rows */
    uint64_t bytes;
};

/* Writes the trades dataset (header line first) to fd. 0 and *ret set, or -EINVAL (bad
 * options), -ENOMEM, a write error. */
int tp_gen_trades(int fd, const struct tp_gen_trades_opts *o, struct tp_gen_trades_stats *ret);

/* Appends the sidecar JSON (one object, newline-terminated) describing o and s to out.
 * file is the data file's name as it should appear in the JSON (borrowed). 0 or -errno. */
int tp_gen_trades_sidecar(const struct tp_gen_trades_opts *o, const struct tp_gen_trades_stats *s,
                          const char *file, struct tp_buf *out);

#endif
