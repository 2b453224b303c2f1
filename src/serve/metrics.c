/*
 * metrics.c — /metrics in the Prometheus text exposition format (version 0.0.4): for each
 * family a # HELP and a # TYPE line, then its samples; label values escaped (\\, \", \n);
 * counters end in _total. Label sets are bounded: sources, sinks and queues by
 * TP_LIVE_MAX_NAMED, intervals by TP_LIVE_MAX_INTERVALS, routes and codes by fixed tables,
 * connector instruments by TP_CONN_SYMS per REST source.
 * Every name is listed in docs/api.md.
 */
#include <stddef.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "serve/api.h"

struct mw {
    struct tp_buf *b;
    int err;
};

static void put(struct mw *m, const char *s)
{
    if (!m->err) m->err = tp_buf_puts(m->b, s);
}

static void family(struct mw *m, const char *name, const char *type, const char *help)
{
    if (!m->err)
        m->err = tp_buf_printf(m->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(struct mw *m, const char *v)
{
    for (; *v && !m->err; v++) {
        if (*v == '\\')
            put(m, "\\\\");
        else if (*v == '"')
            put(m, "\\\"");
        else if (*v == '\n')
            put(m, "\\n");
        else
            m->err = tp_buf_putc(m->b, *v);
    }
}

/* name{k="v"} value — k NULL for no label. */
static void sample_u(struct mw *m, const char *name, const char *k, const char *v, uint64_t val)
{
    put(m, name);
    if (k) {
        put(m, "{");
        put(m, k);
        put(m, "=\"");
        label_value(m, v);
        put(m, "\"}");
    }
    if (!m->err) m->err = tp_buf_printf(m->b, " %llu\n", (unsigned long long)val);
}

static void sample_d(struct mw *m, const char *name, double val)
{
    if (!m->err) m->err = tp_buf_printf(m->b, "%s %.9g\n", name, val);
}

/* name{role="r"} value with a signed value (-1 stays -1: unknown). */
static void sample_role_i(struct mw *m, const char *name, const char *role, int64_t v, double div)
{
    put(m, name);
    put(m, "{role=\"");
    label_value(m, role);
    put(m, "\"}");
    if (!m->err) m->err = tp_buf_printf(m->b, " %.9g\n", v < 0 ? -1.0 : (double)v / div);
}

/* The Kafka roles of this process (docs/kafka.md "Observability"); families without samples
 * are left out when no role runs. */
static void kafka_metrics(struct mw *m, const struct tp_live_stats *st)
{
    if (!st->nkafka) return;
    const struct tp_live_kafka *k = st->kafka;
    uint32_t n = st->nkafka;
    family(m, "tickpipe_kafka_producer_queue_messages", "gauge",
           "Messages in a Kafka role's producer queue, not yet acknowledged (-1 no producer).");
    for (uint32_t i = 0; i < n; i++)
        sample_role_i(m, "tickpipe_kafka_producer_queue_messages", k[i].role, k[i].producer_queue,
                      1);
    family(m, "tickpipe_kafka_producer_queue_capacity", "gauge",
           "Capacity of that queue (queue.buffering.max.messages; 0 unknown).");
    for (uint32_t i = 0; i < n; i++)
        sample_role_i(m, "tickpipe_kafka_producer_queue_capacity", k[i].role,
                      k[i].producer_queue < 0 ? -1 : k[i].producer_queue_cap, 1);
    family(m, "tickpipe_kafka_delivery_latency_seconds", "gauge",
           "Mean produce-to-acknowledgement time of the last period (-1 unknown).");
    for (uint32_t i = 0; i < n; i++)
        sample_role_i(m, "tickpipe_kafka_delivery_latency_seconds", k[i].role,
                      k[i].delivery_latency_us, 1e6);
    family(m, "tickpipe_kafka_consumer_lag_records", "gauge",
           "Records behind the high watermarks of a role's partitions (-1 no consumer; per "
           "partition: tickpipe_queue_depth{queue=\"kafka lag:TOPIC[P]\"}).");
    for (uint32_t i = 0; i < n; i++)
        sample_role_i(m, "tickpipe_kafka_consumer_lag_records", k[i].role, k[i].consumer_lag, 1);
    family(m, "tickpipe_kafka_partitions", "gauge", "Partitions a role's consumer holds.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_partitions", "role", k[i].role, k[i].partitions);
    family(m, "tickpipe_kafka_rebalances_total", "counter",
           "Partition assignments and revocations of a role's consumer group.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_rebalances_total", "role", k[i].role, k[i].rebalances);
    family(m, "tickpipe_kafka_delivered_total", "counter",
           "Messages a role produced and the "
           "cluster acknowledged.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_delivered_total", "role", k[i].role, k[i].delivered);
    family(m, "tickpipe_kafka_delivery_failures_total", "counter",
           "Messages whose delivery failed (the role stops).");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_delivery_failures_total", "role", k[i].role, k[i].failed);
    family(m, "tickpipe_kafka_consumed_total", "counter", "Records a role's consumer read.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_consumed_total", "role", k[i].role, k[i].consumed);
    family(m, "tickpipe_kafka_client_errors_total", "counter",
           "Errors librdkafka reported (transient ones included: a broker down, a timeout).");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_client_errors_total", "role", k[i].role, k[i].errors);
    family(m, "tickpipe_kafka_request_retries_total", "counter", "Requests librdkafka retried.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_request_retries_total", "role", k[i].role, k[i].retries);
    family(m, "tickpipe_kafka_request_timeouts_total", "counter", "Requests that timed out.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_request_timeouts_total", "role", k[i].role, k[i].timeouts);
    family(m, "tickpipe_kafka_disconnects_total", "counter", "Broker connections lost.");
    for (uint32_t i = 0; i < n; i++)
        sample_u(m, "tickpipe_kafka_disconnects_total", "role", k[i].role, k[i].disconnects);
}

/* ---- connectors (source/connstats.h) ----------------------------------------------------- */

/* name{source="S",venue="V"[,k="v"]} — the label set of a connector sample, value to follow. */
static void conn_labels(struct mw *m, const char *name, const char *src,
                        const struct tp_connstats *c, const char *k, const char *v)
{
    put(m, name);
    put(m, "{source=\"");
    label_value(m, src);
    put(m, "\",venue=\"");
    label_value(m, c->venue);
    if (k) {
        put(m, "\",");
        put(m, k);
        put(m, "=\"");
        label_value(m, v);
    }
    put(m, "\"}");
}

static void conn_u(struct mw *m, const char *name, const char *src, const struct tp_connstats *c,
                   const char *k, const char *v, uint64_t val)
{
    conn_labels(m, name, src, c, k, v);
    if (!m->err) m->err = tp_buf_printf(m->b, " %llu\n", (unsigned long long)val);
}

static void conn_d(struct mw *m, const char *name, const char *src, const struct tp_connstats *c,
                   double val)
{
    conn_labels(m, name, src, c, NULL, NULL);
    if (!m->err) m->err = tp_buf_printf(m->b, " %.9g\n", val);
}

/* Seconds from t to now, millisecond resolution; -1 when t is 0 (never). */
static double age_s(int64_t t, int64_t now)
{
    if (!t) return -1;
    int64_t d = now > t ? now - t : 0;
    return (double)(d / TP_NS_PER_MS) / 1e3;
}

/* One plain counter or gauge per connector of a kind: the field at `off`. */
struct conn_fam {
    const char *name, *type, *help;
    size_t off; /* of a uint64_t (or uint32_t when u32) in struct tp_connstats */
    bool u32;
};

#define CF(n, t, f, h)                                                                             \
    {                                                                                              \
        n, t, h, offsetof(struct tp_connstats, f), false                                           \
    }
#define CF32(n, t, f, h)                                                                           \
    {                                                                                              \
        n, t, h, offsetof(struct tp_connstats, f), true                                            \
    }

static const struct conn_fam ws_fams[] = {
    CF("tickpipe_ws_connect_attempts_total", "counter", attempts,
       "Connection attempts started (name lookup, TCP, TLS, handshake)."),
    CF("tickpipe_ws_connects_total", "counter", connects, "WebSocket handshakes completed."),
    CF("tickpipe_ws_connect_failures_total", "counter", failures,
       "Attempts that failed before the handshake completed."),
    CF("tickpipe_ws_subscribe_requests_total", "counter", sub_requests,
       "Subscribe requests sent (every connection resubscribes)."),
    CF("tickpipe_ws_subscribe_acks_total", "counter", sub_acks,
       "Subscription acknowledgements from the venue (OKX acknowledges each channel)."),
    CF("tickpipe_ws_messages_total", "counter", messages, "Frames received."),
    CF("tickpipe_ws_received_bytes_total", "counter", bytes, "Bytes of the frames received."),
    CF("tickpipe_ws_malformed_messages_total", "counter", malformed,
       "Frames the venue's parser could not use, or past the size cap."),
    CF("tickpipe_ws_venue_errors_total", "counter", venue_errors, "Error messages from the venue."),
    CF("tickpipe_ws_pings_sent_total", "counter", pings_sent,
       "Keep-alive pings and silence probes sent."),
    CF("tickpipe_ws_pongs_received_total", "counter", pongs,
       "Pongs received (protocol or the venue's own)."),
    CF("tickpipe_ws_venue_pings_answered_total", "counter", pings_answered,
       "Application pings from the venue answered."),
    CF32("tickpipe_ws_instruments", "gauge", instruments, "Instruments of the subscription."),
    CF32("tickpipe_ws_held_instruments", "gauge", held,
         "Instruments whose data is stale now: held over an outage or a gap being backfilled."),
    CF("tickpipe_ws_backfilled_gaps_total", "counter", backfilled_gaps,
       "Gaps (trade ids, or an outage where the venue serves trades by time) wholly "
       "recovered from the venue's REST API."),
    CF("tickpipe_ws_backfill_failed_total", "counter", backfill_failed,
       "Gaps not (wholly) recovered: they stay recorded."),
    CF("tickpipe_ws_backfilled_trades_total", "counter", backfilled_trades,
       "Trades recovered by backfill."),
};

static const struct conn_fam rest_fams[] = {
    CF("tickpipe_rest_polls_total", "counter", polls, "HTTP requests started."),
    CF("tickpipe_rest_successes_total", "counter", successes, "Responses that were data."),
    CF("tickpipe_rest_timeouts_total", "counter", timeouts,
       "Requests without a complete response in time."),
    CF("tickpipe_rest_transport_errors_total", "counter", transport,
       "Requests that failed below HTTP (refused, reset, TLS), timeouts apart."),
    CF("tickpipe_rest_venue_errors_total", "counter", venue_errors,
       "Error bodies (Alpha Vantage Error Message, Yahoo chart.error, ...)."),
    CF("tickpipe_rest_malformed_total", "counter", bad, "Bodies that were not the venue's format."),
    CF32("tickpipe_rest_failing_instruments", "gauge", failing,
         "Instruments whose last poll failed."),
};

static uint64_t fam_value(const struct conn_fam *f, const struct tp_connstats *c)
{
    const char *p = (const char *)c + f->off;
    if (f->u32) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void plain_fams(struct mw *m, const struct tp_live_stats *st, unsigned kind,
                       const struct conn_fam *fams, size_t nf)
{
    for (size_t f = 0; f < nf; f++) {
        family(m, fams[f].name, fams[f].type, fams[f].help);
        for (uint32_t i = 0; i < st->nsources; i++)
            if (st->has_conn[i] && st->conn[i].kind == kind)
                conn_u(m, fams[f].name, st->sources[i].name, &st->conn[i], NULL, NULL,
                       fam_value(&fams[f], &st->conn[i]));
    }
}

#define EACH(kind_)                                                                                \
    for (uint32_t i = 0; i < st->nsources; i++)                                                    \
        if (st->has_conn[i] && st->conn[i].kind == (kind_))

int tp_metrics_write_connectors(struct tp_buf *b, const struct tp_live_stats *st, int64_t now)
{
    struct mw mm = {b, 0}, *m = &mm;
    bool ws = false, rest = false;
    for (uint32_t i = 0; i < st->nsources; i++) {
        if (!st->has_conn[i]) continue;
        ws |= st->conn[i].kind == TP_CONN_WS;
        rest |= st->conn[i].kind == TP_CONN_REST;
    }
    if (ws) {
        family(m, "tickpipe_ws_state", "gauge",
               "1 for the connector's current state (connecting, connected, subscribed, stale, "
               "backoff, stopped), 0 for the others.");
        EACH(TP_CONN_WS)
        for (unsigned s = 0; s < TP_WS_STATES; s++)
            conn_u(m, "tickpipe_ws_state", st->sources[i].name, &st->conn[i], "state",
                   tp_ws_state_name(s), st->conn[i].state == s);
        family(m, "tickpipe_ws_disconnects_total", "counter",
               "Open connections that ended, by reason: peer (the venue closed), stale (the "
               "watchdog), planned (a venue notice or the age limit), error, stop.");
        EACH(TP_CONN_WS)
        for (unsigned r = 0; r < TP_DC_REASONS; r++)
            conn_u(m, "tickpipe_ws_disconnects_total", st->sources[i].name, &st->conn[i], "reason",
                   tp_ws_dc_name(r), st->conn[i].disconnects[r]);
        family(m, "tickpipe_ws_backoff_seconds", "gauge",
               "The reconnect delay being waited (0 when not waiting).");
        EACH(TP_CONN_WS)
        conn_d(m, "tickpipe_ws_backoff_seconds", st->sources[i].name, &st->conn[i],
               (double)st->conn[i].backoff_ns / 1e9);
        family(m, "tickpipe_ws_last_message_age_seconds", "gauge",
               "Seconds since the last frame of any kind (-1 none yet).");
        EACH(TP_CONN_WS)
        conn_d(m, "tickpipe_ws_last_message_age_seconds", st->sources[i].name, &st->conn[i],
               age_s(st->conn[i].last_rx, now));
        family(m, "tickpipe_ws_clock_skew_seconds", "gauge",
               "Receive time minus the venue's event time, the minimum over 30-60 s (no sample "
               "before it is measured).");
        EACH(TP_CONN_WS)
        if (st->conn[i].have_skew)
            conn_d(m, "tickpipe_ws_clock_skew_seconds", st->sources[i].name, &st->conn[i],
                   (double)st->conn[i].skew_ns / 1e9);
        family(m, "tickpipe_ws_gaps_total", "counter",
               "Gaps recorded: id (the venue's trade ids skipped), outage (time over a reconnect, "
               "venues without consecutive ids).");
        EACH(TP_CONN_WS)
        {
            conn_u(m, "tickpipe_ws_gaps_total", st->sources[i].name, &st->conn[i], "kind", "id",
                   st->conn[i].id_gaps);
            conn_u(m, "tickpipe_ws_gaps_total", st->sources[i].name, &st->conn[i], "kind", "outage",
                   st->conn[i].outage_gaps);
        }
        plain_fams(m, st, TP_CONN_WS, ws_fams, TP_ARRAY_LEN(ws_fams));
    }
    if (rest) {
        family(m, "tickpipe_rest_state", "gauge",
               "1 for the poller's current state (waiting, ok, degraded, failing, rate_limited), "
               "0 for the others.");
        EACH(TP_CONN_REST)
        for (unsigned s = 0; s < TP_RS_STATES; s++)
            conn_u(m, "tickpipe_rest_state", st->sources[i].name, &st->conn[i], "state",
                   tp_rest_state_name(s), st->conn[i].state == s);
        family(m, "tickpipe_rest_http_errors_total", "counter",
               "Responses with an HTTP error status by class (429 apart: "
               "tickpipe_rest_rate_limited_total).");
        EACH(TP_CONN_REST)
        {
            const struct tp_connstats *c = &st->conn[i];
            conn_u(m, "tickpipe_rest_http_errors_total", st->sources[i].name, c, "class", "4xx",
                   c->http_4xx);
            conn_u(m, "tickpipe_rest_http_errors_total", st->sources[i].name, c, "class", "5xx",
                   c->http_5xx);
            conn_u(m, "tickpipe_rest_http_errors_total", st->sources[i].name, c, "class", "other",
                   c->http_other);
        }
        family(m, "tickpipe_rest_rate_limited_total", "counter",
               "Rate limits: http_429 (HTTP 429), note (a rate-limit body sent with 200: Alpha "
               "Vantage Note or Information).");
        EACH(TP_CONN_REST)
        {
            const struct tp_connstats *c = &st->conn[i];
            conn_u(m, "tickpipe_rest_rate_limited_total", st->sources[i].name, c, "kind",
                   "http_429", c->http_429);
            conn_u(m, "tickpipe_rest_rate_limited_total", st->sources[i].name, c, "kind", "note",
                   c->notes);
        }
        family(m, "tickpipe_rest_backoff_seconds", "gauge",
               "Seconds until the next request may start after a rate limit (Retry-After or "
               "backoff) or a failed poll's backoff (0 none).");
        EACH(TP_CONN_REST)
        {
            int64_t r = st->conn[i].resume_at;
            conn_d(m, "tickpipe_rest_backoff_seconds", st->sources[i].name, &st->conn[i],
                   r > now ? (double)((r - now) / TP_NS_PER_MS) / 1e3 : 0.0);
        }
        family(m, "tickpipe_rest_last_success_age_seconds", "gauge",
               "Seconds since the last response that was data (-1 none yet).");
        EACH(TP_CONN_REST)
        conn_d(m, "tickpipe_rest_last_success_age_seconds", st->sources[i].name, &st->conn[i],
               age_s(st->conn[i].last_rx, now));
        plain_fams(m, st, TP_CONN_REST, rest_fams, TP_ARRAY_LEN(rest_fams));
        family(m, "tickpipe_rest_instrument_errors_total", "counter",
               "Failed polls per instrument (HTTP error, timeout, error body, missing from the "
               "response).");
        EACH(TP_CONN_REST)
        for (uint32_t k = 0; k < st->conn[i].nsyms; k++)
            conn_u(m, "tickpipe_rest_instrument_errors_total", st->sources[i].name, &st->conn[i],
                   "instrument", tp_instr_name(st->conn[i].sym[k].instr),
                   st->conn[i].sym[k].errors);
        family(m, "tickpipe_rest_instrument_failing", "gauge",
               "1 when the instrument's last poll failed.");
        EACH(TP_CONN_REST)
        for (uint32_t k = 0; k < st->conn[i].nsyms; k++)
            conn_u(m, "tickpipe_rest_instrument_failing", st->sources[i].name, &st->conn[i],
                   "instrument", tp_instr_name(st->conn[i].sym[k].instr),
                   st->conn[i].sym[k].failing);
    }
    return m->err;
}

#undef EACH

int tp_metrics_write(struct tp_buf *b, const struct tp_live_stats *st,
                     const struct tp_serve_stats *ss)
{
    struct mw m = {b, 0};
    const struct tp_live_counters *c = &st->c;

    family(&m, "tickpipe_events_in_total", "counter", "Records appended to the input log.");
    sample_u(&m, "tickpipe_events_in_total", NULL, NULL, c->events_in);
    family(&m, "tickpipe_events_out_total", "counter", "Records appended to the output log.");
    sample_u(&m, "tickpipe_events_out_total", NULL, NULL, c->events_out);
    family(&m, "tickpipe_live_events_total", "counter",
           "Events published to the live view (API, stream, dashboard).");
    sample_u(&m, "tickpipe_live_events_total", NULL, NULL, st->published);

    family(&m, "tickpipe_source_events_total", "counter", "Events produced per source.");
    for (uint32_t i = 0; i < st->nsources; i++)
        sample_u(&m, "tickpipe_source_events_total", "source", st->sources[i].name,
                 st->sources[i].events);
    family(&m, "tickpipe_source_dropped_total", "counter",
           "Events a live source dropped because its ring was full (a gap is recorded).");
    for (uint32_t i = 0; i < st->nsources; i++)
        sample_u(&m, "tickpipe_source_dropped_total", "source", st->sources[i].name,
                 st->sources[i].dropped);
    family(&m, "tickpipe_source_connected", "gauge",
           "1 when the source is connected or subscribed, else 0.");
    for (uint32_t i = 0; i < st->nsources; i++) {
        uint8_t s = st->sources[i].status;
        sample_u(&m, "tickpipe_source_connected", "source", st->sources[i].name,
                 s == TP_ST_CONNECTED || s == TP_ST_SUBSCRIBED);
    }
    family(&m, "tickpipe_sink_records_total", "counter", "Records written durably per sink.");
    for (uint32_t i = 0; i < st->nsinks; i++)
        sample_u(&m, "tickpipe_sink_records_total", "sink", st->sinks[i].name, st->sinks[i].events);
    family(&m, "tickpipe_sink_errors_total", "counter", "Write errors per sink.");
    for (uint32_t i = 0; i < st->nsinks; i++)
        sample_u(&m, "tickpipe_sink_errors_total", "sink", st->sinks[i].name, st->sinks[i].dropped);
    family(&m, "tickpipe_sink_up", "gauge",
           "1 when the sink is connected and has not failed since, else 0.");
    for (uint32_t i = 0; i < st->nsinks; i++)
        if (st->sinks[i].health)
            sample_u(&m, "tickpipe_sink_up", "sink", st->sinks[i].name, st->sinks[i].up);
    family(&m, "tickpipe_sink_lag_records", "gauge",
           "Records in the logs the sink reads that it has not acknowledged yet.");
    for (uint32_t i = 0; i < st->nsinks; i++)
        if (st->sinks[i].health)
            sample_u(&m, "tickpipe_sink_lag_records", "sink", st->sinks[i].name, st->sinks[i].lag);

    family(&m, "tickpipe_bars_emitted_total", "counter", "Final bars emitted per interval.");
    for (int k = 0; k < TP_LIVE_MAX_INTERVALS && st->intervals[k]; k++) {
        char iv[32];
        tp_duration_format(st->intervals[k], iv, sizeof(iv));
        sample_u(&m, "tickpipe_bars_emitted_total", "interval", iv, st->bars_by_interval[k]);
    }
    family(&m, "tickpipe_anomalies_total", "counter", "Anomalies detected per kind.");
    for (int k = 1; k < TP_AN_KINDS; k++)
        sample_u(&m, "tickpipe_anomalies_total", "kind",
                 tp_anomaly_kind_name((enum tp_anomaly_kind)k), st->anomalies_by_kind[k]);
    if (st->anomalies_by_kind[0])
        sample_u(&m, "tickpipe_anomalies_total", "kind", "other", st->anomalies_by_kind[0]);

    family(&m, "tickpipe_late_events_total", "counter",
           "Trades late for an interval whose window was already final.");
    sample_u(&m, "tickpipe_late_events_total", NULL, NULL, c->late);
    family(&m, "tickpipe_duplicate_events_total", "counter", "Duplicate events dropped.");
    sample_u(&m, "tickpipe_duplicate_events_total", NULL, NULL, c->duplicates);
    family(&m, "tickpipe_bad_events_total", "counter", "Rows or messages rejected as malformed.");
    sample_u(&m, "tickpipe_bad_events_total", NULL, NULL, c->bad);

    family(&m, "tickpipe_lag_seconds", "gauge",
           "Receive time to engine processing of the latest event (-1 unknown).");
    sample_d(&m, "tickpipe_lag_seconds", c->lag_ns < 0 ? -1.0 : (double)c->lag_ns / 1e9);
    family(&m, "tickpipe_watermark_lag_seconds", "gauge",
           "Newest event time minus the lowest watermark (-1 unknown).");
    sample_d(&m, "tickpipe_watermark_lag_seconds",
             c->watermark_lag_ns < 0 ? -1.0 : (double)c->watermark_lag_ns / 1e9);

    family(&m, "tickpipe_queue_depth", "gauge", "Items waiting in a bounded queue.");
    for (uint32_t i = 0; i < st->nqueues; i++)
        sample_u(&m, "tickpipe_queue_depth", "queue", st->queues[i].name, st->queues[i].depth);
    family(&m, "tickpipe_queue_capacity", "gauge", "Capacity of a bounded queue.");
    for (uint32_t i = 0; i < st->nqueues; i++)
        sample_u(&m, "tickpipe_queue_capacity", "queue", st->queues[i].name,
                 st->queues[i].capacity);
    family(&m, "tickpipe_queue_dropped_total", "counter", "Items a full queue dropped.");
    for (uint32_t i = 0; i < st->nqueues; i++)
        sample_u(&m, "tickpipe_queue_dropped_total", "queue", st->queues[i].name,
                 st->queues[i].dropped);

    kafka_metrics(&m, st);
    if (!m.err) m.err = tp_metrics_write_connectors(b, st, tp_now_ns());

    family(&m, "tickpipe_live_instruments", "gauge", "Instruments tracked by the live view.");
    sample_u(&m, "tickpipe_live_instruments", NULL, NULL, st->instruments);
    family(&m, "tickpipe_live_instruments_dropped_total", "counter",
           "Events of instruments beyond the live view's capacity.");
    sample_u(&m, "tickpipe_live_instruments_dropped_total", NULL, NULL, st->instruments_dropped);

    family(&m, "tickpipe_http_requests_total", "counter", "HTTP requests by route and status.");
    for (int r = 0; r < TP_ROUTE_N; r++)
        for (int k = 0; k <= TP_API_CODES; k++) {
            uint64_t v = ss->requests[r][k];
            if (!v) continue;
            char code[8];
            if (k < TP_API_CODES)
                snprintf(code, sizeof(code), "%d", tp_api_codes[k]);
            else
                snprintf(code, sizeof(code), "other");
            if (!m.err)
                m.err = tp_buf_printf(
                    b, "tickpipe_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                    tp_api_route_name((enum tp_route)r), code, (unsigned long long)v);
        }
    family(&m, "tickpipe_stream_clients", "gauge", "Connected live stream clients.");
    sample_u(&m, "tickpipe_stream_clients", "transport", "websocket", ss->stream_ws);
    sample_u(&m, "tickpipe_stream_clients", "transport", "sse", ss->stream_sse);
    family(&m, "tickpipe_stream_clients_dropped_total", "counter",
           "Stream clients dropped because they fell behind (sent `lagged`).");
    sample_u(&m, "tickpipe_stream_clients_dropped_total", NULL, NULL, ss->stream_dropped_lagged);
    family(&m, "tickpipe_stream_refused_total", "counter",
           "Stream connections refused because the client limit was reached.");
    sample_u(&m, "tickpipe_stream_refused_total", NULL, NULL, ss->stream_refused);
    family(&m, "tickpipe_stream_messages_total", "counter", "Messages queued to stream clients.");
    sample_u(&m, "tickpipe_stream_messages_total", NULL, NULL, ss->stream_messages);
    family(&m, "tickpipe_stream_feed_missed_total", "counter",
           "Live feed messages overwritten before the HTTP thread read them.");
    sample_u(&m, "tickpipe_stream_feed_missed_total", NULL, NULL, ss->feed_missed);

    family(&m, "tickpipe_start_time_seconds", "gauge", "Unix time the HTTP server started.");
    sample_d(&m, "tickpipe_start_time_seconds", (double)ss->started_ns / 1e9);
    return m.err;
}
