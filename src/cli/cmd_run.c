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
#include "pipeline/pipeline.h"
#include "serve/serve.h"
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
        "kraken, bybit, bitstamp, finnhub; docs/venues.md); none (alone): no source, only "
        "process the input journal (with --exit-at-eof: to its end)"),
    SET("endpoint", TP_SET_LIST, "",
        "VENUE=URL (repeatable): connect to URL (ws:// or wss://) instead of the venue's public "
        "endpoint, e.g. binance=ws://127.0.0.1:9443/stream (testnets, tests)"),
    SET("venue-watchdog", TP_SET_DUR, "30s",
        "venues: reconnect when no message (data, pong, heartbeat) arrived for this long; a "
        "ping probes the link after a third of it"),
    SET("venue-backoff-min", TP_SET_DUR, "500ms",
        "venues: first reconnect delay; it doubles per failed attempt, with jitter"),
    SET("venue-backoff-max", TP_SET_DUR, "60s", "venues: longest reconnect delay"),
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
    SET("token", TP_SET_STR, "",
        "bearer token every HTTP request but /healthz must carry (default: $TICKPIPE_TOKEN); "
        "required for a non-loopback --http"),
    SET("exit-at-eof", TP_SET_BOOL, "",
        "stop once every source has reached its end (a finite sim; replay files later)"),
    SET("role", TP_SET_STR, "all",
        "all: ingest, process and serve in one process (ingest, process, serve: later)"),
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
               "committed to the journal). Restarting continues the journal where it ends.\n");
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

/* Settings that need more than a type check. 0 or TP_EXIT_USAGE (message printed). */
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

    /* Numeric settings keep only their parsed value: print that. */
    char num[64];
    double rate = S("sim-rate")->d;
    if (!(rate > 0 && rate <= TP_SIM_MAX_RATE)) {
        snprintf(num, sizeof num, "%g", rate);
        return bad("sim-rate", num, "is not a rate in (0, 4000000] events per second");
    }
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
    if (!strcmp(v, "ingest") || !strcmp(v, "process") || !strcmp(v, "serve"))
        return bad("role", v, "is not in this version yet (only all)");
    if (strcmp(v, "all")) return bad("role", v, "is not all, ingest, process or serve");

    v = S("http")->str;
    const char *colon = v ? strrchr(v, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (v && !strcmp(v, "off"))
        ;
    else if (!colon || colon == v || !end || *end || port < 0 || port > 65535)
        return bad("http", v ? v : "", "is not ADDR:PORT");
    if (!*S("data")->str) return bad("data", "", "is empty");
    struct tp_setting *ep = S("endpoint");
    for (size_t i = 0; i < ep->nlist; i++) {
        const char *eq = strchr(ep->list[i], '=');
        struct tp_ws_url u;
        if (!eq || eq == ep->list[i] || tp_ws_url_parse(eq + 1, &u) < 0)
            return bad("endpoint", ep->list[i], "is not VENUE=ws://HOST[:PORT]/PATH (or wss://)");
    }
    if (S("venue-watchdog")->i < 100 * TP_NS_PER_MS) {
        tp_duration_format(S("venue-watchdog")->i, num, sizeof num);
        return bad("venue-watchdog", num, "is shorter than 100ms");
    }
    if (S("venue-backoff-min")->i <= 0 || S("venue-backoff-max")->i < S("venue-backoff-min")->i) {
        tp_duration_format(S("venue-backoff-max")->i, num, sizeof num);
        return bad("venue-backoff-max", num, "is not a duration at least --venue-backoff-min");
    }
    if (S("checkpoint-every")->i < 1) {
        snprintf(num, sizeof num, "%lld", (long long)S("checkpoint-every")->i);
        return bad("checkpoint-every", num, "is not a positive number of records");
    }
    return 0;
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
    if (!strncmp(spec, "replay:", 7))
        return bad("source", spec,
                   "is not in this version yet (replay sources: use `tickpipe "
                   "replay` for files)");
    if (!strncmp(spec, "kafka:", 6)) return bad("source", spec, "is not in this version yet");
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
    size_t vl = strcspn(spec, ":");
    for (size_t i = 0; i < TP_ARRAY_LEN(venues); i++)
        if (strlen(venues[i]) == vl && !strncasecmp(spec, venues[i], vl))
            return bad("source", spec, "is a REST poller, not in this version yet");
    return bad("source", spec, "is not a known source (sim, sim:SYM,..., VENUE:SYM,...)");
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

    struct tp_pipeline *p;
    rc = tp_pipeline_new(&po, &p);
    if (rc < 0) {
        tp_live_free(live);
        return bad("data", po.data_dir, "is too long a path");
    }

    struct tp_sim_source_opts so = {
        .seed = (uint64_t)S("seed")->i,
        .rate = S("sim-rate")->d,
        .max_pace = max_pace,
        .max_events = (uint64_t)S("sim-events")->i,
    };
    struct tp_setting *ca = S("venue-ca-file");
    struct tp_wsfeed_opts wo = {
        .endpoints = S("endpoint")->list,
        .nendpoints = S("endpoint")->nlist,
        .ca_file = ca->str && *ca->str ? ca->str : NULL,
        .watchdog_ns = S("venue-watchdog")->i,
        .backoff_min_ns = S("venue-backoff-min")->i,
        .backoff_max_ns = S("venue-backoff-max")->i,
    };
    struct tp_setting *src = S("source");
    bool have_sim = false;
    bool none = src->nlist == 1 && !strcmp(src->list[0], "none");
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
        tp_pipeline_add_source(p, s);
    }
    if (!src->nlist) {
        tp_pipeline_free(p);
        tp_live_free(live);
        return bad("source", "", "names no source");
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
    tp_info("tickpipe run: data %s, sync %s%s%s, sim %.0f ev/s %s, seed %llu", po.data_dir,
            S("sync")->str, sync == TP_SYNC_GROUP ? " every " : "",
            sync == TP_SYNC_GROUP ? dur : "", so.rate, max_pace ? "max pace" : "live",
            (unsigned long long)so.seed);

    /* The HTTP server reads the live store that the process stage publishes to; it starts
     * before the pipeline and stops after it (the pipeline's threads are joined by then). */
    struct tp_serve *srv = NULL;
    if (live) {
        struct tp_serve_cfg sc;
        tp_serve_cfg_default(&sc);
        sc.http = S("http")->str;
        const char *tok = S("token")->str;
        sc.token = tok && *tok ? tok : getenv("TICKPIPE_TOKEN");
        char err[256] = "";
        rc = tp_serve_start(live, &sc, &srv, err, sizeof err);
        if (rc < 0) {
            tp_pipeline_free(p);
            tp_live_free(live);
            fprintf(stderr, "tickpipe " CMD ": --http %s: %s\n", sc.http, err);
            return rc == -EINVAL || rc == -EPERM ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
        }
        tp_info("http: serving the dashboard and API on %s (port %d)%s", sc.http,
                tp_serve_port(srv), sc.token && *sc.token ? ", token required" : "");
    } else {
        tp_info("http: off");
    }

    rc = tp_pipeline_start(p);
    if (rc < 0) {
        tp_pipeline_free(p);
        tp_serve_stop(srv);
        tp_live_free(live);
        tp_error("tickpipe run: could not start");
        return TP_EXIT_RUNTIME;
    }
    rc = tp_pipeline_run(p, &stop);
    tp_pipeline_free(p);
    tp_serve_stop(srv);
    tp_live_free(live);
    return rc;
}
