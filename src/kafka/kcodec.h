/*
 * kcodec.h — tickpipe's Kafka records as JSON (schema version 1, docs/kafka.md): ticks in
 * `tickpipe.ticks`, final bars in `tickpipe.bars`, anomalies in `tickpipe.anomalies`, and
 * their keys.
 *
 * Ticks: one JSON object per normalized event with the ticks columns of DESIGN.md §5 (ts,
 * ts_ns, ts_recv, instrument, venue_symbol, kind, price, size, side, trade_id, bid, ask,
 * bid_size, ask_size, open, high, low, change, value), then what the engine needs beyond
 * them to see exactly the event the source made: status (status records), first_missing and
 * last_missing (gaps: numbers for ids, RFC 3339 strings for times), ts_venue, quote_only,
 * snapshot (booleans). Numeric trade ids are JSON numbers, string ids JSON strings, so the
 * two kinds stay apart. Times are RFC 3339 with 9 fractional digits and Z (exact), ts_ns the
 * epoch nanoseconds as a string; numbers are in shortest round-trip form, so decoding a tick
 * gives back the same event bit for bit (tp_kafka_tick_parse ∘ tp_kafka_tick_json = id).
 *
 * Bars and anomalies: the row objects of the API (serve/rows.h: the §5 columns; bars add
 * `final`, always true here). Their bytes are a pure function of the row, so a result
 * produced again after a failover is byte-identical to the first copy. Keys:
 *   bars       instrument|interval|ts                 sim:BTC-USD|1m|2026-11-23T12:34:00.000000000Z
 *   anomalies  instrument|interval|ts|kind            (interval empty for per-trade detectors)
 * Anomalies add their kind to the key because two detectors can fire at the same instant.
 *
 * Pure functions, any thread; a decoder belongs to one thread.
 */
#ifndef TP_KCODEC_H
#define TP_KCODEC_H

#include "core/buf.h"
#include "core/event.h"
#include "core/json.h"
#include "engine/anomaly.h"
#include "engine/bar.h"
#include "engine/engine.h"

/* Append the JSON value / the key to b. 0 or a negative errno (-E2BIG past b's cap). */
int tp_kafka_tick_json(struct tp_buf *b, const struct tp_event *e);
int tp_kafka_bar_key(struct tp_buf *b, const struct tp_bar *bar);
int tp_kafka_bar_json(struct tp_buf *b, const struct tp_bar *bar);
int tp_kafka_anomaly_key(struct tp_buf *b, const struct tp_anomaly *a);
int tp_kafka_anomaly_json(struct tp_buf *b, const struct tp_anomaly *a);

/* Late events (tickpipe.late; the tick's members plus `interval`) and gaps (tickpipe.gaps:
 * instrument, ts, first_missing, last_missing, backfilled). Keys:
 *   late  instrument|interval|ts|OFFSET   OFFSET: the late tick's offset in tickpipe.ticks
 *                                         (two late trades may share a time)
 *   gaps  instrument||ts|FIRST_MISSING    (a trade id, or an RFC 3339 time)
 * Deterministic like the bars': the same input offsets give the same keys and bytes. */
int tp_kafka_late_key(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns,
                      int64_t offset);
int tp_kafka_late_json(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns);
int tp_kafka_gap_key(struct tp_buf *b, const struct tp_gap *g);
int tp_kafka_gap_json(struct tp_buf *b, const struct tp_gap *g);

/* The key of a tick: its instrument's name (borrowed, NUL-terminated). */
const char *tp_kafka_tick_key(const struct tp_event *e);

struct tp_kafka_dec {
    struct tp_json j;
};

void tp_kafka_dec_init(struct tp_kafka_dec *d);
void tp_kafka_dec_fini(struct tp_kafka_dec *d);

/* Decodes a tick value p[0..n) (borrowed). 0 and *ret (its instrument interned), or
 * -EINVAL with *why (static text) naming the first problem: not JSON, not an object, a
 * missing or bad instrument, kind, ts, number or id. Unknown members are ignored. */
int tp_kafka_tick_parse(struct tp_kafka_dec *d, const void *p, size_t n, struct tp_event *ret,
                        const char **why);

/* Decodes a bar value of tickpipe.bars (final: true) or an anomaly of tickpipe.anomalies, as
 * tp_kafka_*_json writes them (what the serve role reads). 0 and *ret (instrument interned),
 * or -EINVAL with *why. Unknown members are ignored; absent numbers are NaN. */
int tp_kafka_bar_parse(struct tp_kafka_dec *d, const void *p, size_t n, struct tp_bar *ret,
                       const char **why);
int tp_kafka_anomaly_parse(struct tp_kafka_dec *d, const void *p, size_t n, struct tp_anomaly *ret,
                           const char **why);

#endif
