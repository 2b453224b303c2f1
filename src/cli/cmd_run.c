/*
 * cmd_run.c — `tickpipe run`: parses and checks the settings, builds the sources, and hands
 * them to the pipeline (pipeline/pipeline.h), which owns every thread. Nothing here runs after
 * start but the wait in tp_pipeline_run.
 *
 * Every problem found before start is a one-line message naming the setting, exit 2;
 * failures while running are exit 3 (DESIGN.md §4).
 */
#include <math.h>
#include <signal.h>
#include <strings.h>

#include "cli/commands.h"
#include "cli/settings.h"
#include "core/log.h"
#include "core/tptime.h"
#include "etl/etl_job.h"
#include "ops/qwatch.h"
#include "pipeline/pipeline.h"
#include "kafka/kingest.h"
#include "kafka/kprocess.h"
#include "kafka/kserve.h"
#include "kafka/ksource.h"
#include "serve/serve.h"
#include "sink/lake.h"
#include "source/replay.h"
#include "source/rest.h"
#include "sink/pg.h"
#include "sink/redis.h"
#include "sink/s3.h"
#include "source/sim.h"
#include "source/ws.h"
#include "source/wsfeed.h"

#define CMD "run"

#define SET(n, t, d, h)                                                                            \
    {                                                                                              \
        .name = n, .type = t, .def = d, .help = h                                                  \
    }

static struct tp_setting settings[] = {
    SET("data", TP_SET_STR, "./data", "data directory; the input journal is DATA/journal/input"),
    SET("source", TP_SET_LIST, "sim",
        "a source (repeatable): sim, or sim:SYM,SYM,... for some of its instruments; a live "
        "venue VENUE[/MARKET]:SYM,...[@trades+quotes+agg+bars=1m] (binance, coinbase, okx, "
        "kraken, bybit, bitstamp, finnhub; docs/venues.md); a REST poller coingecko:ID,...[@CUR], "
        "alphavantage:SYM|PAIR,...[@INTERVAL] (snapshots; with 1min..60min: vendor bars), "
        "yahoo:SYM,...[@INTERVAL], fmp:PAIR,... (docs/venues.md; --failover); "
        "replay:FILE[@SPEED] a CSV file (as "
        "`tickpipe replay` reads it) at SPEED times real time or max (the default), resumed "
        "exactly after a restart; replay:VENUE:FILE[@SPEED] a raw capture through that venue's "
        "parser; kafka:TOPIC (a topic another producer writes; --kafka, --map); none (alone): "
        "no source, only process the input journal (with --exit-at-eof: to its end)"),
    SET("endpoint", TP_SET_LIST, "",
        "VENUE=URL (repeatable): connect to URL (ws:// or wss://; http:// or https:// for the "
        "REST pollers and binance-rest, coinbase-rest, okx-rest, bybit-rest, the REST APIs of "
        "the gap backfill) instead of the "
        "venue's public endpoint, e.g. binance=ws://127.0.0.1:9443/stream, "
        "coingecko=http://127.0.0.1:8000 (testnets, tests)"),
    SET("poll-interval", TP_SET_LIST, "",
        "VENUE=DURATION (repeatable): how often each request of a REST poller runs; defaults "
        "fit the free tiers: coingecko=5m (one request for all coins), alphavantage=1h (per "
        "symbol; 25 requests a day), yahoo=1m (per symbol), fmp=6m (one request; 250 a day)"),
    SET("poll-spacing", TP_SET_LIST, "",
        "VENUE=DURATION (repeatable): least time between two requests of a REST poller; "
        "defaults alphavantage=15s, coingecko=2s, yahoo=1s, fmp=1s"),
    SET("rest-timeout", TP_SET_DUR, "10s",
        "REST pollers and the venues' gap backfill: a request without a complete response "
        "after this long is retried"),
    SET("rest-backoff-min", TP_SET_DUR, "2s",
        "REST pollers: first retry delay after a failure or a rate-limit note; doubles, with "
        "jitter"),
    SET("rest-backoff-max", TP_SET_DUR, "10m", "REST pollers: longest retry delay"),
    SET("rest-retry-after-max", TP_SET_DUR, "1h",
        "REST pollers: longest HTTP 429 Retry-After honoured"),
    SET("failover", TP_SET_LIST, "",
        "VENUE,VENUE[,...] (repeatable): a failover group of REST pollers, highest priority "
        "first, each named by one --source (e.g. --source alphavantage:IBM@5min --source "
        "yahoo:IBM@5m --failover alphavantage,yahoo): only the first healthy one polls; after "
        "--failover-after failed polls in a row the next takes over, and the first answers a "
        "probe every --failover-probe and takes back over (docs/venues.md)"),
    SET("failover-after", TP_SET_INT, "3",
        "failover groups: failed polls in a row (transport errors, timeouts, HTTP errors, 429, "
        "rate-limit notes; not an error about one symbol) that make a source unhealthy"),
    SET("failover-probe", TP_SET_DUR, "5m",
        "failover groups: an unhealthy source sends one probe request this often; data back "
        "makes it healthy (and active again when it has the higher priority)"),
    SET("venue-watchdog", TP_SET_DUR, "30s",
        "venues: reconnect when no message (data, pong, heartbeat) arrived for this long; a "
        "ping probes the link after a third of it"),
    SET("venue-backoff-min", TP_SET_DUR, "500ms",
        "venues: first reconnect delay; it doubles per failed attempt, with jitter"),
    SET("venue-backoff-max", TP_SET_DUR, "60s", "venues: longest reconnect delay"),
    SET("venue-backfill", TP_SET_STR, "on",
        "venues: on: fetch the trades of a gap from the venue's REST API and journal them "
        "(Binance and Coinbase trade-id gaps, OKX and Bybit outages; --endpoint "
        "VENUE-rest=URL, else the public API unless --endpoint VENUE= is set); off: only "
        "report the gap"),
    SET("venue-ca-file", TP_SET_STR, "",
        "venues: PEM file of the CAs to trust for wss:// (default: the system's)"),
    SET("sim-rate", TP_SET_DOUBLE, "200",
        "simulator: mean events per second of event time (up to 4000000)"),
    SET("sim-pace", TP_SET_STR, "live",
        "simulator: live (event time follows the clock; drops, with a gap record, when the "
        "journal falls behind) or max (as fast as it can; waits for the journal)"),
    SET("sim-events", TP_SET_INT, "0",
        "simulator: end after this many trades and quotes with an eof record per instrument "
        "(0 = never); with --exit-at-eof the run then stops"),
    SET("sim-shock", TP_SET_DUR, "0",
        "simulator: every this much event time one trading instrument's price jumps by half a "
        "daily volatility (round-robin, up and down in turn), which the 3-sigma return "
        "detector reports; 0 = never (demos, tests)"),
    SET("seed", TP_SET_INT, "1", "simulator seed (the path also depends on the start time)"),
    SET("sync", TP_SET_STR, "group",
        "journal durability: none (no fsync until exit), group (background group commit), "
        "every (fsync after each batch)"),
    SET("sync-interval", TP_SET_DUR, "5ms",
        "group commit: longest time before a record is durable"),
    SET("sync-records", TP_SET_INT, "10000",
        "group commit: also commit after this many records (0 = no count limit)"),
    SET("segment-bytes", TP_SET_INT, "67108864", "journal segment size in bytes (at least 4096)"),
    SET("ring-capacity", TP_SET_INT, "65536",
        "events held between each source and the journal writer (a power of two)"),
    SET("status-interval", TP_SET_DUR, "5s",
        "how often a status line goes to stderr (events/s, offsets, drops); 0 = never"),
    SET("retention-bytes", TP_SET_INT, "0",
        "delete the oldest input journal segments beyond this many bytes (0 = no limit)"),
    SET("retention-age", TP_SET_DUR, "7d",
        "delete input journal segments older than this (0 = no limit)"),
    SET("checkpoint-every", TP_SET_INT, "100000",
        "process stage: write an engine checkpoint to the output journal after every this "
        "many input records (a restart resumes from the last one)"),
    SET("http", TP_SET_STR, "127.0.0.1:8080",
        "address of the dashboard, API and live stream (ADDR:PORT; port 0 picks a free one); "
        "off: no HTTP server"),
    SET("live-path", TP_SET_STR, "provisional",
        "what the dashboard and stream show of each event: provisional (as soon as it is in "
        "the journal's buffer, before fsync) or durable (once the engine read it durably)"),
    SET("token", TP_SET_STR, "",
        "bearer token every HTTP request but /healthz must carry (default: $TICKPIPE_TOKEN); "
        "required for a non-loopback --http"),
    SET("exit-at-eof", TP_SET_BOOL, "",
        "stop once every source has reached its end (a finite sim, replay files) and the "
        "engine has processed everything"),
    SET("postgres", TP_SET_STR, "",
        "PostgreSQL warehouse: a libpq conninfo or postgresql:// URL (password from PGPASSWORD "
        "or ~/.pgpass); ticks, bars, anomalies, ... written exactly once (docs/postgres.md)"),
    SET("s3", TP_SET_STR, "",
        "upload the lake's closed files to s3://bucket/prefix (credentials from AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION; docs/cloud.md)"),
    SET("s3-endpoint", TP_SET_STR, "",
        "S3-compatible endpoint http(s)://host[:port] (MinIO, GCS interoperability); default AWS"),
    SET("s3-interval", TP_SET_DUR, "10s", "how often the lake is scanned for files to upload"),
    SET("role", TP_SET_STR, "all",
        "all: ingest, process and serve in one process (the embedded journal, or Kafka with "
        "--kafka); ingest: sources -> Kafka ticks topic; process: ticks topic -> engine -> "
        "output topics; serve: output topics -> API, stream and dashboard (--http); the last "
        "three need --kafka (docs/kafka.md)"),
    SET("sim-start", TP_SET_STR, "",
        "simulator: event time of its first records (RFC 3339 or epoch digits; default: "
        "now); with --seed, the same events every run"),
    /* Kafka (src/kafka/, docs/kafka.md). */
    SET("kafka", TP_SET_STR, "",
        "Kafka bootstrap servers (HOST:PORT,...) for the Kafka roles and kafka: sources; with "
        "--role all (or no kafka: source), ingest, process and serve run over Kafka in one "
        "process"),
    SET("kafka-opt", TP_SET_LIST, "",
        "a librdkafka setting KEY=VALUE (repeatable), e.g. security.protocol=SASL_SSL; not "
        "those tickpipe's guarantees rest on (idempotence, acks, commits)"),
    SET("kafka-topic-ticks", TP_SET_STR, "tickpipe.ticks", "Kafka topic of normalized events"),
    SET("kafka-topic-bars", TP_SET_STR, "tickpipe.bars", "Kafka topic of final bars"),
    SET("kafka-topic-anomalies", TP_SET_STR, "tickpipe.anomalies", "Kafka topic of anomalies"),
    SET("kafka-topic-checkpoints", TP_SET_STR, "tickpipe.checkpoints",
        "Kafka topic of the process role's engine checkpoints (compacted)"),
    SET("kafka-topic-late", TP_SET_STR, "tickpipe.late",
        "Kafka topic of late events (trades whose window was already final)"),
    SET("kafka-topic-gaps", TP_SET_STR, "tickpipe.gaps", "Kafka topic of gaps"),
    SET("kafka-topic-positions", TP_SET_STR, "tickpipe.positions",
        "Kafka topic of replay sources' positions (ingest role: a restart resumes a file exactly)"),
    SET("kafka-serve-history", TP_SET_INT, "2000",
        "serve role: records read back from each partition of the ticks, bars and anomalies "
        "topics at start, to fill the live view (0: only new ones)"),
    SET("kafka-partitions", TP_SET_INT, "6", "partitions of the Kafka topics tickpipe creates"),
    SET("kafka-replication", TP_SET_INT, "0",
        "replication factor of the Kafka topics tickpipe creates (0: the broker's default)"),
    SET("kafka-no-create-topics", TP_SET_BOOL, "",
        "never create Kafka topics (a missing one is an error)"),
    SET("kafka-group", TP_SET_STR, "tickpipe-process", "consumer group of the process role"),
    SET("kafka-checkpoint-interval", TP_SET_DUR, "5s",
        "process role: checkpoint and commit each busy partition at least this often (also "
        "every --checkpoint-every records)"),
    SET("map", TP_SET_LIST, "",
        "kafka:TOPIC sources: FIELD=MEMBER,... of the topic's JSON records, plus venue=NAME "
        "and quote_only, e.g. ts=date,instrument=ticker,bid=bid,ask=ask,venue=fmp,quote_only "
        "(none: tickpipe's tick schema; docs/kafka.md)"),
    SET("kafka-source-group", TP_SET_STR, "",
        "kafka:TOPIC sources: consumer group (default tickpipe-source.TOPIC)"),
    SET("kafka-timeout", TP_SET_DUR, "30s",
        "Kafka: give up waiting for metadata, deliveries at shutdown and checkpoint reads"),
    SET("lake", TP_SET_STR, "on",
        "the Parquet data lake under DATA/lake (docs/lake.md): on or off"),
    SET("lake-batch", TP_SET_INT, "4194304",
        "lake: files close after every multiple of this many offsets of their journal"),
    SET("lake-batch-bytes", TP_SET_INT, "134217728",
        "lake: ... or when a batch's rows use this much memory (bytes; at most 2 GiB)"),
    SET("lake-1s-bars", TP_SET_BOOL, "", "lake: also write bars shorter than a minute (1s)"),
    SET("etl-every", TP_SET_LIST, "",
        "a summary the etl computes while running (repeatable or a comma list): "
        "INTERVAL:FIELD as `tickpipe etl --every` takes it, e.g. 10m:price; from PostgreSQL "
        "with --postgres, else from the lake into DATA/lake/summary (docs/etl.md)"),
    SET("etl-schedule", TP_SET_DUR, "1m",
        "with --etl-every: how often the etl runs (with --exit-at-eof, once more at the end)"),
    SET("redis", TP_SET_STR, "",
        "Redis sink: redis://[[user]:password@]host[:port][/db] (latest prices, bar streams, "
        "pub/sub; docs/redis.md); empty: none"),
    SET("redis-maxlen", TP_SET_INT, "10000",
        "Redis sink: entries kept per bar stream (XADD MAXLEN ~, at least this many)"),
};
#define NSET TP_ARRAY_LEN(settings)

static const char *const venues[] = {"binance",      "coinbase", "okx",     "kraken",
                                     "bybit",        "bitstamp", "finnhub", "coingecko",
                                     "alphavantage", "yahoo",    "fmp"};

static void usage(FILE *f)
{
    fprintf(f, "usage: tickpipe run [-c FILE] [--source SPEC]... [--data DIR] [SETTINGS]\n\n"
               "Runs the pipeline: sources -> input journal -> engine -> output journal. Prints a "
               "status line every\n"
               "--status-interval; SIGINT or SIGTERM stops it cleanly (everything received is\n"
               "committed to the journal). Restarting continues the journal where it ends.\n"
               "With --kafka, Kafka is the log and --role picks what this process runs: ingest,\n"
               "process, serve, or all three (docs/kafka.md).\n");
    tp_settings_help(f, settings, NSET);
}

static int bad(const char *name, const char *value, const char *why)
{
    fprintf(stderr, "tickpipe " CMD ": --%s: '%s' %s\n", name, value, why);
    return TP_EXIT_USAGE;
}

static struct tp_setting *S(const char *name)
{
    return tp_setting(settings, NSET, name);
}

/* A text setting's value, "" when unset. */
static const char *T(const char *name)
{
    const char *v = S(name)->str;
    return v ? v : "";
}

/* Settings that need more than a type check. 0 or TP_EXIT_USAGE (message printed). */
/* True when entry is "VENUE=..." for a REST venue. */
static bool rest_entry(const char *entry)
{
    const char *eq = strchr(entry, '=');
    char name[24];
    size_t n = eq ? (size_t)(eq - entry) : 0;
    if (!n || n >= sizeof name) return false;
    memcpy(name, entry, n);
    name[n] = 0;
    return tp_rest_find(name) != NULL;
}

/* --etl-every and --etl-schedule into etl_job (nspec 0: no etl). 0 or TP_EXIT_USAGE. */
static struct tp_etl_job etl_job;

static int check_etl(void)
{
    memset(&etl_job, 0, sizeof etl_job);
    struct tp_setting *ev = S("etl-every");
    struct tp_setting *sch = S("etl-schedule");
    char num[64];
    if (!ev->nlist) {
        if (sch->origin && strcmp(sch->origin, "default")) {
            tp_duration_format(sch->i, num, sizeof num);
            return bad("etl-schedule", num, "needs --etl-every");
        }
        return 0;
    }
    for (size_t i = 0; i < ev->nlist; i++) {
        const char *v = ev->list[i];
        do {
            char one[128], err[160];
            size_t n = strcspn(v, ",");
            if (n >= sizeof one) return bad("etl-every", ev->list[i], "is too long a spec");
            memcpy(one, v, n);
            one[n] = 0;
            if (tp_etl_job_add_spec(&etl_job, one, err, sizeof err) < 0)
                return bad("etl-every", one, err);
            v += n;
        } while (*v++ == ',');
    }
    if (sch->i <= 0) {
        tp_duration_format(sch->i, num, sizeof num);
        return bad("etl-schedule", num, "is not a positive duration");
    }
    const char *pg = T("postgres");
    if (*pg) {
        etl_job.pg = pg;
        return 0;
    }
    if (strcmp(S("lake")->str, "on"))
        return bad("etl-every", ev->list[0], "needs the lake (--lake on) or --postgres");
    for (uint32_t k = 0; k < etl_job.nspec; k++)
        if (!tp_etl_spec_daily(&etl_job.spec[k]))
            return bad("etl-every", etl_job.spec[k].name,
                       "does not divide a day (the lake's summaries are per UTC date)");
    return 0;
}

static int check(enum tp_sync_mode *sync, bool *max_pace)
{
    const char *v = S("sync")->str;
    if (!strcmp(v, "none"))
        *sync = TP_SYNC_NONE;
    else if (!strcmp(v, "group"))
        *sync = TP_SYNC_GROUP;
    else if (!strcmp(v, "every"))
        *sync = TP_SYNC_EVERY;
    else
        return bad("sync", v, "is not none, group or every");

    v = S("sim-pace")->str;
    if (strcmp(v, "live") && strcmp(v, "max")) return bad("sim-pace", v, "is not live or max");
    *max_pace = !strcmp(v, "max");
    v = S("live-path")->str;
    if (strcmp(v, "provisional") && strcmp(v, "durable"))
        return bad("live-path", v, "is not provisional or durable");

    /* Numeric settings keep only their parsed value: print that. */
    char num[64];
    double rate = S("sim-rate")->d;
    if (!(rate > 0 && rate <= TP_SIM_MAX_RATE)) {
        snprintf(num, sizeof num, "%g", rate);
        return bad("sim-rate", num, "is not a rate in (0, 4000000] events per second");
    }
    if (S("sim-shock")->i < 0) return bad("sim-shock", "negative", "is not a duration >= 0");
    int64_t ring = S("ring-capacity")->i;
    if (ring < 2 || ring > TP_RING_MAX_CAPACITY || (ring & (ring - 1))) {
        snprintf(num, sizeof num, "%lld", (long long)ring);
        return bad("ring-capacity", num, "is not a power of two between 2 and 16777216");
    }
    if (S("segment-bytes")->i < 4096) {
        snprintf(num, sizeof num, "%lld", (long long)S("segment-bytes")->i);
        return bad("segment-bytes", num, "is below 4096");
    }
    if (S("sync-interval")->i <= 0) {
        tp_duration_format(S("sync-interval")->i, num, sizeof num);
        return bad("sync-interval", num, "is not a positive duration");
    }

    v = S("role")->str;
    if (strcmp(v, "all") && strcmp(v, "ingest") && strcmp(v, "process") && strcmp(v, "serve"))
        return bad("role", v, "is not all, ingest, process or serve");
    if (strcmp(v, "all") && !*T("kafka")) return bad("role", v, "needs --kafka BROKERS");
    bool src_given = S("source")->origin && strcmp(S("source")->origin, "default");
    if ((!strcmp(v, "process") || !strcmp(v, "serve")) && src_given)
        return bad("source", S("source")->list[0],
                   !strcmp(v, "process")
                       ? "is not read by --role process (its input is the ticks topic)"
                       : "is not read by --role serve (it reads the output topics)");
    if (!strcmp(v, "serve") && !strcmp(S("http")->str, "off"))
        return bad("http", "off", "leaves --role serve nothing to do");
    if (S("kafka-serve-history")->i < 0)
        return bad("kafka-serve-history", "a negative number", "is not a record count");
    for (size_t i = 0; i < S("kafka-opt")->nlist; i++) {
        char why[600];
        if (tp_kafka_opt_check(S("kafka-opt")->list[i], why, sizeof why) < 0)
            return bad("kafka-opt", S("kafka-opt")->list[i], why);
    }
    if (*T("sim-start")) {
        int64_t t;
        v = T("sim-start");
        if (tp_time_parse(v, strlen(v), TP_TS_AUTO, &t) < 0 || t <= 0)
            return bad("sim-start", v, "is not a time after 1970 (RFC 3339 or epoch digits)");
    }
    if (S("kafka-partitions")->i < 1 || S("kafka-partitions")->i > TP_KAFKA_MAX_PARTITIONS) {
        snprintf(num, sizeof num, "%lld", (long long)S("kafka-partitions")->i);
        return bad("kafka-partitions", num, "is not between 1 and 4096");
    }

    v = S("http")->str;
    const char *colon = v ? strrchr(v, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (v && !strcmp(v, "off"))
        ;
    else if (!colon || colon == v || !end || *end || port < 0 || port > 65535)
        return bad("http", v ? v : "", "is not ADDR:PORT");
    if (!*S("data")->str) return bad("data", "", "is empty");
    v = S("lake")->str;
    if (strcmp(v, "on") && strcmp(v, "off")) return bad("lake", v, "is not on or off");
    if (S("lake-batch")->i < 1)
        return bad("lake-batch", "0", "is not a positive number of offsets");
    if (S("lake-batch-bytes")->i < 4096 || S("lake-batch-bytes")->i > (INT64_C(1) << 31)) {
        snprintf(num, sizeof num, "%lld", (long long)S("lake-batch-bytes")->i);
        return bad("lake-batch-bytes", num, "is not between 4096 and 2147483648");
    }
    struct tp_setting *ep = S("endpoint");
    for (size_t i = 0; i < ep->nlist; i++) {
        const char *eq = strchr(ep->list[i], '=');
        struct tp_ws_url u;
        size_t kl = eq ? (size_t)(eq - ep->list[i]) : 0;
        bool bf_rest =
            kl > 5 && !strncmp(eq - 5, "-rest", 5) &&
            (!strncmp(ep->list[i], "binance-", 8) || !strncmp(ep->list[i], "coinbase-", 9) ||
             !strncmp(ep->list[i], "okx-", 4) || !strncmp(ep->list[i], "bybit-", 6));
        if (rest_entry(ep->list[i]) || bf_rest) {
            if (strncmp(eq + 1, "http://", 7) && strncmp(eq + 1, "https://", 8))
                return bad("endpoint", ep->list[i], "is not VENUE=http(s)://HOST[:PORT]");
            continue;
        }
        if (!eq || eq == ep->list[i] || tp_ws_url_parse(eq + 1, &u) < 0)
            return bad("endpoint", ep->list[i], "is not VENUE=ws://HOST[:PORT]/PATH (or wss://)");
    }
    const char *const lists[] = {"poll-interval", "poll-spacing"};
    for (size_t k = 0; k < 2; k++) {
        struct tp_setting *pl = S(lists[k]);
        for (size_t i = 0; i < pl->nlist; i++) {
            const char *eq = strchr(pl->list[i], '=');
            int64_t d;
            if (!eq || !rest_entry(pl->list[i]) || tp_duration_parse(eq + 1, &d) < 0)
                return bad(lists[k], pl->list[i],
                           "is not VENUE=DURATION for a REST venue (coingecko, alphavantage, "
                           "yahoo, fmp)");
        }
    }
    if (S("failover-after")->i < 1 || S("failover-after")->i > 1000000) {
        snprintf(num, sizeof num, "%lld", (long long)S("failover-after")->i);
        return bad("failover-after", num, "is not a count from 1 to 1000000");
    }
    if (S("failover-probe")->i < 100 * TP_NS_PER_MS) {
        tp_duration_format(S("failover-probe")->i, num, sizeof num);
        return bad("failover-probe", num, "is shorter than 100ms");
    }
    if (S("rest-timeout")->i < 10 * TP_NS_PER_MS) {
        tp_duration_format(S("rest-timeout")->i, num, sizeof num);
        return bad("rest-timeout", num, "is shorter than 10ms");
    }
    if (S("rest-backoff-min")->i <= 0 || S("rest-backoff-max")->i < S("rest-backoff-min")->i) {
        tp_duration_format(S("rest-backoff-max")->i, num, sizeof num);
        return bad("rest-backoff-max", num, "is not a duration at least --rest-backoff-min");
    }
    if (strcmp(S("venue-backfill")->str, "on") && strcmp(S("venue-backfill")->str, "off"))
        return bad("venue-backfill", S("venue-backfill")->str, "is not on or off");
    if (S("venue-watchdog")->i < 100 * TP_NS_PER_MS) {
        tp_duration_format(S("venue-watchdog")->i, num, sizeof num);
        return bad("venue-watchdog", num, "is shorter than 100ms");
    }
    if (S("venue-backoff-min")->i <= 0 || S("venue-backoff-max")->i < S("venue-backoff-min")->i) {
        tp_duration_format(S("venue-backoff-max")->i, num, sizeof num);
        return bad("venue-backoff-max", num, "is not a duration at least --venue-backoff-min");
    }
    int erc = check_etl();
    if (erc) return erc;
    if (S("checkpoint-every")->i < 1) {
        snprintf(num, sizeof num, "%lld", (long long)S("checkpoint-every")->i);
        return bad("checkpoint-every", num, "is not a positive number of records");
    }
    return 0;
}

/* The Redis sink when --redis names a server. 0, or an exit code after printing why not (the
 * URL is not repeated: it may hold a password). */
static int add_redis(struct tp_pipeline *p)
{
    const char *url = S("redis")->str;
    if (!url || !*url) return 0;
    if (S("redis-maxlen")->i < 1) return bad("redis-maxlen", "0", "is not a positive count");
    struct tp_redis_cfg cfg = {.url = url, .maxlen = (uint64_t)S("redis-maxlen")->i};
    struct tp_redis_sink *rs;
    char err[256];
    int rc = tp_redis_sink_new(&cfg, &rs, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": --redis: the URL %s\n",
                rc == -EINVAL ? err : "could not be used: out of memory");
        return rc == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
    }
    tp_info("redis: sink to %s", tp_redis_sink_where(rs));
    return tp_pipeline_add_sink(p, &tp_redis_sink_ops, rs) < 0 ? TP_EXIT_RUNTIME : 0;
}

/* The S3 uploader for --s3 (NULL without it), or an exit code after printing why not. Its
 * state lives in DATA/s3; it scans DATA/lake. */
static int make_s3(const char *data, struct tp_s3 **ret)
{
    *ret = NULL;
    const char *url = S("s3")->str;
    if (!url || !*url) return 0;
    char state[4096];
    if ((size_t)snprintf(state, sizeof state, "%s/s3", data) >= sizeof state)
        return bad("data", data, "is too long a path");
    struct tp_s3_cfg c;
    tp_s3_cfg_default(&c);
    c.url = url;
    c.endpoint = S("s3-endpoint")->str;
    c.state_dir = state;
    char err[512] = "";
    int rc = tp_s3_new(&c, ret, err, sizeof err);
    if (rc == -EINVAL) return bad("s3", url, err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": --s3: %s\n", err);
        return TP_EXIT_RUNTIME;
    }
    return 0;
}

static int make_kafka_source(const char *spec, struct tp_source **ret);

/* Starts the HTTP server on the live store (none without one: --http off); with_lake: its
 * /api/bars also answers history from DATA/lake. 0, or an exit code after printing why not. */
static int start_http(struct tp_live *live, bool with_lake, struct tp_serve **ret)
{
    *ret = NULL;
    if (!live) {
        tp_info("http: off");
        return 0;
    }
    struct tp_serve_cfg sc;
    tp_serve_cfg_default(&sc);
    sc.http = S("http")->str;
    const char *tok = S("token")->str;
    sc.token = tok && *tok ? tok : getenv("TICKPIPE_TOKEN");
    char lake[4096];
    if (with_lake) {
        /* History from the lake whatever --lake says now: an earlier run may have written it. */
        snprintf(lake, sizeof lake, "%s/lake", S("data")->str);
        sc.lake = lake;
        sc.lake_min_interval_ns = S("lake-1s-bars")->b ? 1 : 60 * TP_NS_PER_SEC;
        /* A test hook (tests/integration/serve_lake_bars.sh): every lake read first waits this
         * many milliseconds, so a test can hold one open while it checks the others. */
        const char *d = getenv("TICKPIPE_TEST_HISTORY_DELAY_MS");
        if (d && *d) {
            int64_t ms = 0;
            for (; *d >= '0' && *d <= '9' && ms < 600000; d++) ms = ms * 10 + (*d - '0');
            sc.history_delay_ns = ms * TP_NS_PER_MS;
        }
    }
    char err[256] = "";
    int rc = tp_serve_start(live, &sc, ret, err, sizeof err);
    if (rc < 0) {
        *ret = NULL;
        fprintf(stderr, "tickpipe " CMD ": --http %s: %s\n", sc.http, err);
        return rc == -EINVAL || rc == -EPERM ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
    }
    tp_info("http: serving the dashboard and API on %s (port %d)%s", sc.http, tp_serve_port(*ret),
            sc.token && *sc.token ? ", token required" : "");
    return 0;
}

/* The venue connection settings. */
/* The simulator's options from the settings (validated in check()). */
static void sim_opts(struct tp_sim_source_opts *so, bool max_pace)
{
    *so = (struct tp_sim_source_opts){
        .seed = (uint64_t)S("seed")->i,
        .rate = S("sim-rate")->d,
        .max_pace = max_pace,
        .max_events = (uint64_t)S("sim-events")->i,
        .shock_ns = S("sim-shock")->i,
    };
    if (*T("sim-start"))
        tp_time_parse(T("sim-start"), strlen(T("sim-start")), TP_TS_AUTO, &so->start_ns);
}

static void wsfeed_opts(struct tp_wsfeed_opts *wo)
{
    struct tp_setting *ca = S("venue-ca-file");
    *wo = (struct tp_wsfeed_opts){
        .endpoints = S("endpoint")->list,
        .nendpoints = S("endpoint")->nlist,
        .ca_file = ca->str && *ca->str ? ca->str : NULL,
        .watchdog_ns = S("venue-watchdog")->i,
        .backoff_min_ns = S("venue-backoff-min")->i,
        .backoff_max_ns = S("venue-backoff-max")->i,
        .backfill = !strcmp(S("venue-backfill")->str, "on"),
        .backfill_timeout_ns = S("rest-timeout")->i,
    };
}

/* The source for one --source value, or an exit code after printing why not. */
static int make_source(const char *spec, const struct tp_sim_source_opts *so,
                       const struct tp_wsfeed_opts *wo, struct tp_source **ret)
{
    if (!strcmp(spec, "sim") || !strncmp(spec, "sim:", 4)) {
        char err[512];
        int rc = tp_sim_source_new(spec, so, ret, err, sizeof err);
        if (rc == -EINVAL) return bad("source", spec, err);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": --source %s: %s\n", spec, err);
            return TP_EXIT_RUNTIME;
        }
        return 0;
    }
    if (!strncmp(spec, "replay:", 7)) {
        char err[1024];
        int rc = tp_replay_source_new(spec, ret, err, sizeof err);
        if (rc == -EINVAL) return bad("source", spec, err);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": --source %s: %s\n", spec, err);
            return TP_EXIT_RUNTIME;
        }
        return 0;
    }
    if (!strncmp(spec, "kafka:", 6)) return make_kafka_source(spec, ret);
    if (tp_wsfeed_is_venue(spec)) {
        char err[512];
        int rc = tp_wsfeed_source_new(spec, wo, ret, err, sizeof err);
        if (rc == -EINVAL) return bad("source", spec, err);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": --source %s: %s\n", spec, err);
            return TP_EXIT_RUNTIME;
        }
        return 0;
    }
    if (tp_rest_is_venue(spec)) {
        char err[512];
        struct tp_rest_opts ro = {
            .endpoints = S("endpoint")->list,
            .nendpoints = S("endpoint")->nlist,
            .intervals = S("poll-interval")->list,
            .nintervals = S("poll-interval")->nlist,
            .spacings = S("poll-spacing")->list,
            .nspacings = S("poll-spacing")->nlist,
            .timeout_ns = S("rest-timeout")->i,
            .backoff_min_ns = S("rest-backoff-min")->i,
            .backoff_max_ns = S("rest-backoff-max")->i,
            .retry_after_max_ns = S("rest-retry-after-max")->i,
        };
        int rc = tp_rest_source_new(spec, &ro, ret, err, sizeof err);
        if (rc == -EINVAL) return bad("source", spec, err);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": --source %s: %s\n", spec, err);
            return TP_EXIT_RUNTIME;
        }
        return 0;
    }
    size_t vl = strcspn(spec, ":");
    for (size_t i = 0; i < TP_ARRAY_LEN(venues); i++)
        if (strlen(venues[i]) == vl && !strncasecmp(spec, venues[i], vl))
            return bad("source", spec, "is a REST poller, not in this version yet");
    return bad("source", spec,
               "is not a known source (sim, sim:SYM,..., VENUE:SYM,..., replay:FILE[@SPEED], "
               "kafka:TOPIC)");
}

/* The --failover groups over the sources made[i] of the --source specs specs[i]: each venue
 * a group names must be the venue of exactly one REST source. 0 or an exit code. */
static int link_failover(struct tp_source *const *made, const char *const *specs, size_t n)
{
    struct tp_setting *fo = S("failover");
    for (size_t g = 0; g < fo->nlist; g++) {
        const char *entry = fo->list[g], *s = entry;
        struct tp_source *m[TP_REST_GROUP_MAX];
        size_t k = 0;
        while (*s) {
            size_t l = strcspn(s, ",");
            if (!l) return bad("failover", entry, "has an empty venue name");
            if (k == TP_REST_GROUP_MAX) return bad("failover", entry, "names more than 8 venues");
            struct tp_source *hit = NULL;
            for (size_t i = 0; i < n; i++) {
                if (!made[i] || !tp_rest_is_venue(specs[i]) || strcspn(specs[i], ":") != l ||
                    strncmp(specs[i], s, l))
                    continue;
                if (hit)
                    return bad("failover", entry,
                               "names a venue two --source specs poll (a group takes one source "
                               "per venue)");
                hit = made[i];
            }
            if (!hit)
                return bad("failover", entry,
                           "names a venue no --source polls (each must be a REST poller: "
                           "coingecko, alphavantage, yahoo, fmp)");
            m[k++] = hit;
            s += l;
            if (*s == ',') s++;
        }
        char err[256];
        int rc = tp_rest_failover(m, k, (uint32_t)S("failover-after")->i, S("failover-probe")->i,
                                  err, sizeof err);
        if (rc == -EINVAL) return bad("failover", entry, err);
        if (rc < 0) return TP_EXIT_RUNTIME;
    }
    return 0;
}

static int run_kafka_role(struct tp_live *live, bool max_pace);

/* Whether the run uses Kafka as its log: a Kafka role, or --role all with --kafka — except
 * that `run --kafka B --source kafka:TOPIC` without --role keeps the embedded journal (the
 * topic is only a source then). */
static bool kafka_roles(void)
{
    if (strcmp(S("role")->str, "all")) return true;
    if (!*T("kafka")) return false;
    bool kafka_src = false;
    for (size_t i = 0; i < S("source")->nlist; i++)
        kafka_src |= !strncmp(S("source")->list[i], "kafka:", 6);
    bool role_given = S("role")->origin && strcmp(S("role")->origin, "default");
    return !kafka_src || role_given;
}

int tp_cmd_run(int argc, char **argv)
{
    if (tp_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    struct tp_settings_result res;
    int rc = tp_settings_parse(CMD, settings, NSET, argc, argv, &res);
    if (rc) {
        free(res.positional);
        return rc;
    }
    if (res.npositional) {
        fprintf(stderr, "tickpipe " CMD ": unexpected argument '%s' (see 'tickpipe help run')\n",
                res.positional[0]);
        free(res.positional);
        return TP_EXIT_USAGE;
    }
    free(res.positional);

    enum tp_sync_mode sync;
    bool max_pace;
    rc = check(&sync, &max_pace);
    if (rc) return rc;

    struct tp_pipeline_opts po = {
        .data_dir = S("data")->str,
        .ring_capacity = (size_t)S("ring-capacity")->i,
        .retention_bytes = (uint64_t)S("retention-bytes")->i,
        .retention_age_ns = S("retention-age")->i,
        .status_interval_ns = S("status-interval")->i,
        .exit_at_eof = S("exit-at-eof")->b,
        .resume_records = 1u << 18,
        .checkpoint_every = (uint64_t)S("checkpoint-every")->i,
    };
    tp_journal_opts_default(&po.journal, NULL);
    po.journal.sync = sync;
    po.journal.sync_interval_ns = S("sync-interval")->i;
    po.journal.sync_records = (uint64_t)S("sync-records")->i;
    po.journal.segment_bytes = (uint64_t)S("segment-bytes")->i;

    struct tp_live *live = NULL;
    if (strcmp(S("http")->str, "off")) {
        live = tp_live_new(NULL);
        if (!live) {
            fprintf(stderr, "tickpipe " CMD ": out of memory for the live store\n");
            return TP_EXIT_RUNTIME;
        }
    }
    po.live = live;
    po.live_durable = !strcmp(S("live-path")->str, "durable");
    if (kafka_roles()) {
        rc = run_kafka_role(live, max_pace); /* Kafka as the log (below) */
        tp_live_free(live);
        return rc;
    }

    struct tp_pipeline *p;
    rc = tp_pipeline_new(&po, &p);
    if (rc < 0) {
        tp_live_free(live);
        return bad("data", po.data_dir, "is too long a path");
    }

    if (!strcmp(S("lake")->str, "on")) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/lake", po.data_dir);
        struct tp_lake_opts lo;
        tp_lake_opts_default(&lo, dir);
        lo.batch_offsets = (uint64_t)S("lake-batch")->i;
        lo.batch_bytes = (size_t)S("lake-batch-bytes")->i;
        lo.bars_1s = S("lake-1s-bars")->b;
        void *sink;
        if ((rc = tp_lake_sink_new(&lo, &sink)) < 0 ||
            (rc = tp_pipeline_add_sink(p, &tp_lake_sink_ops, sink)) < 0) {
            tp_pipeline_free(p);
            tp_live_free(live);
            return bad("data", po.data_dir, "cannot hold the lake (path too long?)");
        }
    }

    struct tp_sim_source_opts so;
    sim_opts(&so, max_pace);
    struct tp_wsfeed_opts wo;
    wsfeed_opts(&wo);
    struct tp_setting *src = S("source");
    bool have_sim = false;
    const char *replay_names[TP_PIPELINE_MAX_SOURCES];
    size_t nreplay = 0;
    bool none = src->nlist == 1 && !strcmp(src->list[0], "none");
    struct tp_source *made[TP_SET_LIST_MAX] = {0};
    for (size_t i = 0; i < src->nlist && !none; i++) {
        const char *spec = src->list[i];
        bool is_sim = !strcmp(spec, "sim") || !strncmp(spec, "sim:", 4);
        if (is_sim && have_sim) {
            tp_pipeline_free(p);
            tp_live_free(live);
            return bad("source", spec,
                       "is a second sim source: name all its instruments in one (sim:A,B)");
        }
        struct tp_source *s;
        rc = make_source(spec, &so, &wo, &s);
        if (rc) {
            tp_pipeline_free(p);
            tp_live_free(live);
            return rc;
        }
        have_sim |= is_sim;
        const char *name = tp_replay_source_name(s);
        for (size_t k = 0; name && k < nreplay; k++)
            if (!strcmp(replay_names[k], name)) {
                tp_source_free(s);
                tp_pipeline_free(p);
                tp_live_free(live);
                return bad("source", spec, "reads a file another replay source already reads");
            }
        if (name && nreplay < TP_ARRAY_LEN(replay_names)) replay_names[nreplay++] = name;
        made[i] = s;
        tp_pipeline_add_source(p, s);
    }
    if (!src->nlist) {
        tp_pipeline_free(p);
        tp_live_free(live);
        return bad("source", "", "names no source");
    }
    rc = link_failover(made, src->list, src->nlist);
    if (rc) {
        tp_pipeline_free(p);
        tp_live_free(live);
        return rc;
    }
    rc = add_redis(p);
    if (rc) {
        tp_pipeline_free(p);
        tp_live_free(live);
        return rc;
    }

    const char *pg = S("postgres")->str;
    if (pg && *pg) {
        struct tp_pg_sink *sink;
        char err[256];
        rc = tp_pg_sink_new(pg, &sink, err, sizeof err);
        if (rc < 0) {
            tp_pipeline_free(p);
            tp_live_free(live);
            return rc == -EINVAL ? bad("postgres", pg, err) : TP_EXIT_RUNTIME;
        }
        tp_pipeline_add_sink(p, &tp_pg_sink_ops, sink);
    }

    /* Stop signals are taken synchronously by the main thread (sigtimedwait in the pipeline);
     * block them before any thread starts so that every thread inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char dur[32];
    tp_duration_format(po.journal.sync_interval_ns, dur, sizeof dur);
    if (have_sim)
        tp_info("tickpipe run: data %s, sync %s%s%s, sim %.0f ev/s %s, seed %llu", po.data_dir,
                S("sync")->str, sync == TP_SYNC_GROUP ? " every " : "",
                sync == TP_SYNC_GROUP ? dur : "", so.rate, max_pace ? "max pace" : "live",
                (unsigned long long)so.seed);
    else
        tp_info("tickpipe run: data %s, sync %s%s%s", po.data_dir, S("sync")->str,
                sync == TP_SYNC_GROUP ? " every " : "", sync == TP_SYNC_GROUP ? dur : "");

    /* The HTTP server reads the live store that the process stage publishes to; it starts
     * before the pipeline and stops after it (the pipeline's threads are joined by then). */
    struct tp_serve *srv = NULL;
    rc = start_http(live, true, &srv);
    if (rc) {
        tp_pipeline_free(p);
        tp_live_free(live);
        return rc;
    }
    /* /api/quality shows the latest `tickpipe validate` report of this data directory */
    struct tp_qwatch *qw = NULL;
    if (live && tp_qwatch_start(live, po.data_dir, 2 * TP_NS_PER_SEC, &qw) < 0)
        tp_warn("quality: cannot watch %s/quality.json", po.data_dir);

    /* The S3 uploader scans the lake in a thread of its own; a last pass at the end uploads
     * what the lake closed last. */
    struct tp_s3 *s3;
    rc = make_s3(po.data_dir, &s3);
    struct tp_s3_syncer *s3sync = NULL;
    char lake[4096];
    snprintf(lake, sizeof lake, "%s/lake", po.data_dir);
    if (rc == 0 && s3 && tp_s3_syncer_start(s3, lake, S("s3-interval")->i, &s3sync) < 0) {
        tp_s3_free(s3);
        rc = TP_EXIT_RUNTIME;
    }
    if (rc) {
        tp_pipeline_free(p);
        tp_qwatch_stop(qw);
        tp_serve_stop(srv);
        tp_live_free(live);
        return rc;
    }
    if (s3sync) tp_info("s3: uploading %s to %s", lake, S("s3")->str);

    rc = tp_pipeline_start(p);
    if (rc < 0) {
        tp_s3_syncer_stop(s3sync, false, NULL);
        tp_pipeline_free(p);
        tp_qwatch_stop(qw);
        tp_serve_stop(srv);
        tp_live_free(live);
        tp_error("tickpipe run: could not start");
        return TP_EXIT_RUNTIME;
    }
    /* The etl thread (--etl-every) summarizes what the sinks committed, every period; it
     * takes the lake's lock per pass like `tickpipe etl`, so it never meets a half commit. */
    struct tp_etl_sched *etl = NULL;
    if (etl_job.nspec) {
        etl_job.lake = lake;
        etl_job.full = false;
        tp_duration_format(S("etl-schedule")->i, dur, sizeof dur);
        if (tp_etl_sched_start(&etl_job, S("etl-schedule")->i, live, &etl) < 0)
            tp_error("etl: could not start its thread: no summaries this run");
        else
            tp_info("etl: %u summaries every %s from %s", etl_job.nspec, dur,
                    etl_job.pg ? "postgres" : "the lake");
    }
    rc = tp_pipeline_run(p, &stop);
    if (etl) {
        /* At the end of the input every sink has acknowledged everything: one last pass
         * makes the summaries complete. After a stop signal, no pass: stop now. */
        bool last = tp_pipeline_ended_at_eof(p) && rc == TP_EXIT_OK;
        struct tp_etl_sched_stats est;
        int erc = tp_etl_sched_stop(etl, last, &est);
        tp_info("etl: %llu passes, %llu failed", (unsigned long long)est.passes,
                (unsigned long long)est.failures);
        if (last && erc < 0 && rc == TP_EXIT_OK) rc = TP_EXIT_RUNTIME;
    }
    if (s3sync) {
        struct tp_s3_stats st;
        int s3rc = tp_s3_syncer_stop(s3sync, true, &st);
        tp_info("s3: %llu files uploaded (%llu bytes, %llu parts), %llu retries, %llu failed, "
                "%llu replaced by compaction deleted",
                (unsigned long long)st.uploaded, (unsigned long long)st.bytes,
                (unsigned long long)st.parts, (unsigned long long)st.retries,
                (unsigned long long)st.errors, (unsigned long long)st.deleted);
        if (s3rc < 0 && rc == 0) rc = TP_EXIT_RUNTIME;
    }
    tp_pipeline_free(p);
    tp_qwatch_stop(qw);
    tp_serve_stop(srv);
    tp_live_free(live);
    return rc;
}

/* ---- --role ingest / process: Kafka as the log (kafka/kingest.h, kafka/kprocess.h) ------- */

static void kafka_opts(struct tp_kafka_opts *ko)
{
    tp_kafka_opts_default(ko);
    ko->brokers = T("kafka");
    ko->opts = S("kafka-opt")->list;
    ko->nopts = S("kafka-opt")->nlist;
    ko->topic_ticks = S("kafka-topic-ticks")->str;
    ko->topic_bars = S("kafka-topic-bars")->str;
    ko->topic_anomalies = S("kafka-topic-anomalies")->str;
    ko->topic_checkpoints = S("kafka-topic-checkpoints")->str;
    ko->topic_late = S("kafka-topic-late")->str;
    ko->topic_gaps = S("kafka-topic-gaps")->str;
    ko->topic_positions = S("kafka-topic-positions")->str;
    ko->history = (uint64_t)S("kafka-serve-history")->i;
    ko->partitions = (int)S("kafka-partitions")->i;
    ko->replication = (int)TP_MIN(S("kafka-replication")->i, 32767);
    ko->create_topics = !S("kafka-no-create-topics")->b;
    ko->group = S("kafka-group")->str;
    ko->checkpoint_every = (uint64_t)S("checkpoint-every")->i;
    ko->checkpoint_interval_ns = S("kafka-checkpoint-interval")->i;
    ko->timeout_ns = S("kafka-timeout")->i;
}

/* The ingest role with its sources. 0, or an exit code after printing why not. */
static int make_kingest(struct tp_live *live, bool max_pace, struct tp_kingest **ret)
{
    struct tp_kingest_opts io = {
        .ring_capacity = (size_t)S("ring-capacity")->i,
        .status_interval_ns = S("status-interval")->i,
        .exit_at_eof = S("exit-at-eof")->b,
        .resume_records = 1u << 18,
        .live = live,
    };
    kafka_opts(&io.kafka);
    struct tp_kingest *g;
    if (tp_kingest_new(&io, &g) < 0) return TP_EXIT_RUNTIME;
    struct tp_sim_source_opts so;
    sim_opts(&so, max_pace);
    struct tp_setting *src = S("source");
    bool none = src->nlist == 1 && !strcmp(src->list[0], "none");
    struct tp_source *made[TP_SET_LIST_MAX] = {0};
    for (size_t i = 0; i < src->nlist && !none; i++) {
        struct tp_source *s;
        struct tp_wsfeed_opts wo;
        wsfeed_opts(&wo);
        int rc = make_source(src->list[i], &so, &wo, &s);
        if (rc) {
            tp_kingest_free(g);
            return rc;
        }
        made[i] = s;
        tp_kingest_add_source(g, s);
    }
    int rc = link_failover(made, src->list, src->nlist);
    if (rc) {
        tp_kingest_free(g);
        return rc;
    }
    *ret = g;
    return 0;
}

/* --role all --kafka: ingest, process and serve in one process. The process stage publishes
 * what it reads and makes to the live store directly (ticks, open and final bars, anomalies),
 * as the embedded pipeline does, so the HTTP server on that store is the serve role. With
 * --exit-at-eof: once the sources ended and every tick was delivered, the process stage reads
 * the topic to its end, checkpoints, and the run stops. */
static int run_kafka_all(struct tp_kingest *g, struct tp_kprocess *k, const sigset_t *stop)
{
    if (tp_kprocess_start(k) < 0) {
        tp_error("tickpipe run --role all: the process stage could not start");
        return TP_EXIT_RUNTIME;
    }
    if (tp_kingest_start(g) < 0) {
        tp_error("tickpipe run --role all: the ingest stage could not start");
        tp_kprocess_stop(k, "the ingest stage could not start");
        return TP_EXIT_RUNTIME;
    }
    const char *why = NULL;
    int rc_ingest = -1; /* the ingest stage's exit code once it stopped */
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
        int sig = sigtimedwait(stop, NULL, &ts);
        if (sig > 0) {
            tp_info("received %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (rc_ingest < 0) {
            int st = tp_kingest_step(g, &why);
            if (st < 0) break;
            if (st > 0) {
                /* Every tick is in the topic: the process stage reads it to its end. */
                rc_ingest = tp_kingest_stop(g, NULL);
                if (rc_ingest != TP_EXIT_OK) break;
                tp_kprocess_finish(k);
            }
        }
        const char *pwhy = NULL;
        int st = tp_kprocess_step(k, &pwhy);
        if (st < 0) why = pwhy;
        if (st) break;
    }
    if (rc_ingest < 0) rc_ingest = tp_kingest_stop(g, why);
    int rc_process = tp_kprocess_stop(k, rc_ingest == TP_EXIT_OK ? why : NULL);
    return rc_ingest != TP_EXIT_OK ? rc_ingest : rc_process;
}

/* The process role's sinks (kafka/ksinks.h): one instance per ticks partition. */
struct ksink_ctx {
    char lake_dir[4096];
    struct tp_lake_opts lake;
};

static int make_pg_part(void *ctx, const char *topic, int32_t p, const struct tp_sink_ops **ops,
                        void **self)
{
    (void)ctx;
    char name[128], err[256];
    int n = snprintf(name, sizeof name, "postgres/%s/p%d", topic, (int)p);
    if (n < 0 || (size_t)n >= sizeof name) return -ENAMETOOLONG;
    struct tp_pg_sink *s;
    int rc = tp_pg_sink_new_named(T("postgres"), name, tp_koff(p, 0, 0), tp_koff_end(p), &s, err,
                                  sizeof err);
    if (rc < 0) {
        tp_error("postgres: %s", rc == -EINVAL ? err : strerror(-rc));
        return rc;
    }
    *ops = &tp_pg_sink_ops;
    *self = s;
    return 0;
}

static int make_lake_part(void *ctx, const char *topic, int32_t p, const struct tp_sink_ops **ops,
                          void **self)
{
    struct ksink_ctx *c = ctx;
    int rc = tp_lake_sink_new_part(&c->lake, topic, (uint32_t)p, self);
    if (rc < 0) {
        tp_error("lake %s: cannot make the sink of %s [%d]: %s", c->lake_dir, topic, (int)p,
                 strerror(-rc));
        return rc;
    }
    *ops = &tp_lake_sink_ops;
    return 0;
}

static int make_redis_part(void *ctx, const char *topic, int32_t p, const struct tp_sink_ops **ops,
                           void **self)
{
    (void)ctx;
    char name[128], err[256];
    int n = snprintf(name, sizeof name, "redis/%s/p%d", topic, (int)p);
    if (n < 0 || (size_t)n >= sizeof name) return -ENAMETOOLONG;
    struct tp_redis_cfg cfg = {
        .url = S("redis")->str, .maxlen = (uint64_t)S("redis-maxlen")->i, .name = name};
    struct tp_redis_sink *rs;
    int rc = tp_redis_sink_new(&cfg, &rs, err, sizeof err);
    if (rc < 0) {
        tp_error("redis: %s", rc == -EINVAL ? err : strerror(-rc));
        return rc;
    }
    *ops = &tp_redis_sink_ops;
    *self = rs;
    return 0;
}

/* --postgres, --redis, and the lake when --data or --lake on is given (a process instance started
 * without them keeps nothing on disk, as before: docs/kafka.md "Sinks"). 0 or an exit code. */
static int kprocess_sinks(struct tp_kprocess_opts *ko)
{
    static struct ksink_ctx c;
    bool lake_given = strcmp(S("lake")->origin, "default") || strcmp(S("data")->origin, "default");
    if (!strcmp(S("lake")->str, "on") && lake_given) {
        int n = snprintf(c.lake_dir, sizeof c.lake_dir, "%s/lake", S("data")->str);
        if (n < 0 || (size_t)n >= sizeof c.lake_dir)
            return bad("data", S("data")->str, "is too long a path");
        tp_lake_opts_default(&c.lake, c.lake_dir);
        /* Files close at the partition's checkpoints (and the memory cap), not at offset
         * multiples: the encoded offsets are not consecutive. The cap is per partition. */
        c.lake.batch_offsets = UINT64_MAX;
        c.lake.batch_bytes = strcmp(S("lake-batch-bytes")->origin, "default")
                                 ? (size_t)S("lake-batch-bytes")->i
                                 : (size_t)16 << 20;
        c.lake.bars_1s = S("lake-1s-bars")->b;
        ko->sinks[ko->nsinks++] =
            (struct tp_ksink_kind){.name = "lake", .make = make_lake_part, .ctx = &c};
        tp_info("kafka process: writes the lake %s (one ack file per ticks partition)", c.lake_dir);
    }
    if (*T("postgres")) {
        char err[256];
        if (tp_pg_conninfo_check(T("postgres"), err, sizeof err) < 0)
            return bad("postgres", "(conninfo)", err);
        ko->sinks[ko->nsinks++] =
            (struct tp_ksink_kind){.name = "postgres", .make = make_pg_part, .ctx = &c};
        tp_info("kafka process: writes PostgreSQL (tickpipe_offsets rows postgres/%s/pN)",
                S("kafka-topic-ticks")->str);
    }
    if (*T("redis")) {
        if (S("redis-maxlen")->i < 1) return bad("redis-maxlen", "0", "is not a positive count");
        struct tp_redis_url u;
        char err[256];
        if (tp_redis_url_parse(S("redis")->str, &u, err, sizeof err) < 0)
            return bad("redis", "(URL)", err);
        ko->sinks[ko->nsinks++] =
            (struct tp_ksink_kind){.name = "redis", .make = make_redis_part, .ctx = &c};
        tp_info("kafka process: writes Redis (tickpipe:offsets fields redis/%s/pN.input, ...)",
                S("kafka-topic-ticks")->str);
    }
    if (ko->nsinks) ko->sink_max_backoff_ns = 10 * TP_NS_PER_SEC; /* a paused partition lags */
    return 0;
}

static int run_kafka_role(struct tp_live *live, bool max_pace)
{
    const char *role = S("role")->str;
    bool all = !strcmp(role, "all");
    struct tp_kingest *g = NULL;
    struct tp_kprocess *k = NULL;
    struct tp_kserve *sv = NULL;
    int rc = 0;
    if (all || !strcmp(role, "ingest")) rc = make_kingest(live, max_pace, &g);
    if (rc == 0 && (all || !strcmp(role, "process"))) {
        struct tp_kprocess_opts ko = {
            .status_interval_ns = S("status-interval")->i,
            .exit_at_eof = S("exit-at-eof")->b && !all, /* all: after the ingest's end */
            .live = live,
        };
        kafka_opts(&ko.kafka);
        rc = kprocess_sinks(&ko);
        if (rc == 0 && tp_kprocess_new(&ko, &k) < 0) rc = TP_EXIT_RUNTIME;
    }
    if (rc == 0 && !strcmp(role, "serve")) {
        struct tp_kserve_opts so = {.status_interval_ns = S("status-interval")->i, .live = live};
        kafka_opts(&so.kafka);
        if (tp_kserve_new(&so, &sv) < 0) rc = TP_EXIT_RUNTIME;
    }
    if (rc) {
        tp_kingest_free(g);
        tp_kprocess_free(k);
        return rc;
    }

    if (S("etl-every")->nlist)
        tp_warn("tickpipe run --role %s: --etl-every does not run with the Kafka roles (ignored; "
                "run `tickpipe etl --schedule`)",
                role);
    static const char *const unused[] = {"postgres", "redis", "s3"};
    for (size_t i = 0; i < TP_ARRAY_LEN(unused); i++)
        if (*T(unused[i]) && (!k || !strcmp(unused[i], "s3")))
            tp_warn("tickpipe run --role %s: --%s is not written by the Kafka roles in this "
                    "version (ignored; read the output topics, docs/kafka.md)",
                    role, unused[i]);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    tp_info("tickpipe run: role %s, kafka %s", role, T("kafka"));

    struct tp_serve *srv = NULL;
    rc = start_http(live, false, &srv);
    if (rc) {
        tp_kingest_free(g);
        tp_kprocess_free(k);
        tp_kserve_free(sv);
        return rc;
    }
    if (all) {
        rc = run_kafka_all(g, k, &stop);
    } else if (g) {
        rc = tp_kingest_start(g) < 0 ? -1 : tp_kingest_run(g, &stop);
    } else if (k) {
        rc = tp_kprocess_start(k) < 0 ? -1 : tp_kprocess_run(k, &stop);
    } else {
        rc = tp_kserve_start(sv) < 0 ? -1 : tp_kserve_run(sv, &stop);
    }
    if (rc < 0) {
        tp_error("tickpipe run --role %s: could not start", role);
        rc = TP_EXIT_RUNTIME;
    }
    tp_kingest_free(g);
    tp_kprocess_free(k);
    tp_kserve_free(sv);
    tp_serve_stop(srv);
    return rc;
}

/* --source kafka:TOPIC (kafka/ksource.h). */
static int make_kafka_source(const char *spec, struct tp_source **ret)
{
    struct tp_ksource_opts o = {.exit_at_eof = S("exit-at-eof")->b};
    kafka_opts(&o.kafka);
    o.group = T("kafka-source-group");
    char map[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < S("map")->nlist; i++) {
        int n = snprintf(map + len, sizeof map - len, "%s%s", i ? "," : "", S("map")->list[i]);
        if (n < 0 || (size_t)n >= sizeof map - len)
            return bad("map", S("map")->list[i], "is too long");
        len += (size_t)n;
    }
    o.map = map;
    char err[512];
    int rc = tp_ksource_new(spec, &o, ret, err, sizeof err);
    if (rc == -EINVAL)
        return bad(strstr(err, "--kafka") || !*map ? "source" : "map",
                   strstr(err, "--kafka") || !*map ? spec : map, err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": --source %s: %s\n", spec, strerror(-rc));
        return TP_EXIT_RUNTIME;
    }
    return 0;
}
