/*
 * metrics.c — /metrics in the Prometheus text exposition format (version 0.0.4): for each
 * family a # HELP and a # TYPE line, then its samples; label values escaped (\\, \", \n);
 * counters end in _total. Label sets are bounded: sources, sinks and queues by
 * TP_LIVE_MAX_NAMED, intervals by TP_LIVE_MAX_INTERVALS, routes and codes by fixed tables.
 * Every name is listed in docs/api.md.
 */
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
