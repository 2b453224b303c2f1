/*
 * fuzz_specs.c — libFuzzer target for the small text parsers of sources, endpoints and URLs:
 * `run --source` venue specs (VENUE[/MARKET]:SYM,...@CHAN), replay:[VENUE:]FILE[@SPEED],
 * sim:SYM,..., --endpoint ws:// and wss:// URLs, redis:// URLs, s3://bucket/prefix, the
 * HTTP listen address, CSV --map strings, --kafka-opt key=value and PostgreSQL conninfo.
 *
 * Input: the first byte picks the parser; the rest (up to the first line break, the second
 * line being a venue spec's --endpoint override) is the text, NUL-terminated as argv gives
 * it. Properties: a rejection is -EINVAL with a reason; an acceptance is well-formed —
 * a venue spec has 1..TP_WSFEED_MAX_SYMBOLS symbols with valid instrument names and its URL
 * (default or overridden) parses as a ws(s):// URL; a parsed URL's port is 1..65535, its host
 * non-empty and its path starts with '/'; an S3 bucket is 3..63 of [a-z0-9.-] and its prefix
 * has no '/' at either end; a replay spec names a file and a finite speed ≥ 0.
 */
#include <math.h>

#include "core/buf.h"
#include "core/log.h"
#include "kafka/kafka.h"
#include "serve/serve.h"
#include "sink/pg.h"
#include "sink/redis.h"
#include "sink/s3.h"
#include "source/csvin.h"
#include "source/replay.h"
#include "source/sim.h"
#include "source/ws.h"
#include "source/wsfeed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { P_WSFEED, P_WSURL, P_REDIS, P_S3, P_ADDR, P_REPLAY, P_MAP, P_SIM, P_KAFKA, P_PG, P_N };

static bool valid_instr(const char *s)
{
    const char *colon = strchr(s, ':');
    return colon && colon > s && colon[1] && strlen(s) <= TP_INSTR_NAMELEN;
}

static void check_ws_url(const char *text)
{
    struct tp_ws_url u;
    if (tp_ws_url_parse(text, &u) != 0) return;
    if (u.port < 1 || u.port > 65535 || !u.host[0] || u.path[0] != '/') abort();
    if (u.tls != !strncmp(text, "wss://", 6)) abort();
    if (!memchr(u.host, 0, sizeof u.host) || !memchr(u.path, 0, sizeof u.path)) abort();
}

static void wsfeed(const char *spec, const char *endpoint)
{
    static struct tp_wsfeed_spec sp;
    char err[256] = "";
    if (tp_wsfeed_parse_spec(spec, &sp, err, sizeof err) != 0) {
        if (!err[0]) abort();
        return;
    }
    if (!sp.v || sp.nsyms < 1 || sp.nsyms > TP_WSFEED_MAX_SYMBOLS) abort();
    for (size_t i = 0; i < sp.nsyms; i++)
        if (!valid_instr(sp.instr[i]) || !sp.syms[i][0] || !sp.native[i][0]) abort();
    const char *eps[1] = {endpoint};
    struct tp_wsfeed_opts o = {
        .endpoints = eps, .nendpoints = endpoint ? 1 : 0, .finnhub_token = "fuzztoken"};
    char url[TP_WSFEED_URL_MAX];
    if (tp_wsfeed_url(&sp, &o, url, sizeof url, err, sizeof err) == 0) {
        struct tp_ws_url u;
        if (tp_ws_url_parse(url, &u) != 0) abort(); /* the URL used must be one we can dial */
        check_ws_url(url);
    } else if (!err[0]) {
        abort();
    }
    struct tp_buf b;
    tp_buf_init(&b, 1u << 20);
    int n = tp_wsfeed_requests(&sp, &b);
    if (n < 0 && n != -E2BIG && n != -ENOMEM) abort();
    tp_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        tp_log_set_level((enum tp_log_level)(TP_LOG_ERROR + 1));
        init = true;
    }
    if (size < 1 || size > 4096) return 0;
    if (memchr(data + 1, 0, size - 1)) return 0; /* argv strings hold no NUL */
    char text[4096], *second = NULL;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    char *nl = strchr(text, '\n');
    if (nl) {
        *nl = 0;
        second = nl + 1;
    }
    char err[256] = "";
    int rc;
    switch (data[0] % P_N) {
    case P_WSFEED:
        wsfeed(text, second);
        break;
    case P_WSURL:
        check_ws_url(text);
        break;
    case P_REDIS: {
        struct tp_redis_url u;
        rc = tp_redis_url_parse(text, &u, err, sizeof err);
        if (rc == 0) {
            if (u.port < 1 || u.port > 65535 || !u.host[0] || u.db < 0) abort();
            if (!memchr(u.password, 0, sizeof u.password) || !memchr(u.user, 0, sizeof u.user))
                abort();
            /* A password given never shows in the message of a later error. */
        } else if (rc != -EINVAL || !err[0]) {
            abort();
        }
        break;
    }
    case P_S3: {
        char bucket[64], prefix[256];
        if (tp_s3_parse_url(text, bucket, prefix, sizeof prefix) == 0) {
            size_t bl = strlen(bucket), pl = strlen(prefix);
            if (bl < 3 || bl > 63 || strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != bl)
                abort();
            if (pl && (prefix[0] == '/' || prefix[pl - 1] == '/')) abort();
        }
        break;
    }
    case P_ADDR: {
        char host[256];
        int port;
        bool lo;
        if (tp_serve_parse_addr(text, host, sizeof host, &port, &lo) == 0) {
            if (port < 0 || port > 65535 || !host[0] || !memchr(host, 0, sizeof host)) abort();
        }
        break;
    }
    case P_REPLAY: {
        char venue[TP_REPLAY_VENUE_MAX], path[4096];
        double speed;
        rc = tp_replay_spec_parse(text, venue, path, sizeof path, &speed, err, sizeof err);
        if (rc == 0) {
            if (!path[0] || !(speed >= 0) || !isfinite(speed)) abort();
            if (venue[0] && !tp_venue_find(venue)) abort();
        } else if (rc != -EINVAL || !err[0]) {
            abort();
        }
        break;
    }
    case P_MAP:
        rc = tp_csvin_map_check(text, err, sizeof err);
        if (rc != 0 && (rc != -EINVAL || !err[0])) abort();
        break;
    case P_SIM: {
        struct tp_sim_source_opts o = {.seed = 1, .rate = 1000, .start_ns = 1};
        struct tp_source *s;
        rc = tp_sim_source_new(text, &o, &s, err, sizeof err);
        if (rc == 0)
            tp_source_free(s);
        else if (rc != -EINVAL || !err[0])
            abort();
        break;
    }
    case P_KAFKA:
        rc = tp_kafka_opt_check(text, err, sizeof err);
        if (rc != 0 && (rc != -EINVAL || !err[0])) abort();
        break;
    case P_PG:
        rc = tp_pg_conninfo_check(text, err, sizeof err);
        if (rc != 0 && !err[0]) abort();
        break;
    }
    return 0;
}
