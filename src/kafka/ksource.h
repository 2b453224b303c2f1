/*
 * ksource.h — `--source kafka:TOPIC`: a source that consumes a topic written by someone else
 * (DESIGN.md §1, §2; docs/kafka.md "Reading other producers' topics").
 *
 * Without a map, records are expected in tickpipe's tick schema (kafka/kcodec.h). With a map
 * (`--map ts=date,instrument=ticker,bid=bid,...,venue=fmp,quote_only`), each record is a JSON
 * object — or an array of them, whose events are put in time order — and the map names the
 * member holding each field:
 *
 *   ts instrument kind price size side trade_id bid ask bid_size ask_size open high low change
 *   value ts_recv venue_symbol
 *
 * plus two constants: `venue=NAME` (the instrument member holds the venue's native symbol,
 * normalized as the venue parsers do: `EUR/USD` → `fmp:EUR-USD`) and `quote_only` (the source
 * declares its instruments quote-only: bars from the mid). Without a kind member, a record is a
 * trade when it has a price and a quote when it has bid and ask. Numbers may be JSON numbers
 * or strings (exact decimal parsing); times RFC 3339 / ISO-8601 or epoch digits (unit from the
 * digit count). A record that does not decode is counted and skipped (the first ten logged).
 *
 * Position: the source reads in a consumer group (default `tickpipe-source.TOPIC`) and
 * commits, at most every 200 ms, the offsets of the records whose events the pipeline has
 * taken from the source's ring, so a restart continues after them (records taken but not yet
 * durable when the machine crashes are read again: at least once for that window, and
 * duplicates with trade ids are then dropped by the engine's deduplication).
 *
 * Like a replay file, the source waits when its ring is full (its input can be read again).
 * With `exit_at_eof` it ends once it has read every partition to its end, after writing one
 * `eof` status per instrument it saw, so every open window closes.
 *
 * Threads: tp_ksource_new on the main thread; the source's thread owns its consumer.
 */
#ifndef TP_KSOURCE_H
#define TP_KSOURCE_H

#include "kafka/kafka.h"
#include "source/source.h"

struct tp_ksource_opts {
    struct tp_kafka_opts kafka; /* brokers, pass-through options */
    const char *topic;
    const char *group; /* NULL: "tickpipe-source.TOPIC" */
    const char *map;   /* comma-separated K=NAME list; NULL or "": tickpipe's tick schema */
    bool exit_at_eof;
};

/* Checks a map. 0, or -EINVAL with a one-line reason in err. */
int tp_ksource_map_check(const char *map, char *err, size_t errcap);

/* Creates the source for spec "kafka:TOPIC" (owned; tp_source_free). 0, -EINVAL with the
 * reason in err, or -ENOMEM. */
int tp_ksource_new(const char *spec, const struct tp_ksource_opts *o, struct tp_source **ret,
                   char *err, size_t errcap);

/* Decodes one record with a map (for tests): up to cap events into ev, in time order. Returns
 * how many, or -EINVAL with *why. Instruments are interned. */
struct tp_kmap;
int tp_kmap_new(const char *map, struct tp_kmap **ret, char *err, size_t errcap);
void tp_kmap_free(struct tp_kmap *m);
int tp_kmap_decode(struct tp_kmap *m, const void *p, size_t n, struct tp_event *ev, size_t cap,
                   const char **why);

#endif
