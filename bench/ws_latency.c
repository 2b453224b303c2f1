/*
 * ws_latency.c — tick-to-client latency at a local WebSocket client (bench/latency.sh).
 *
 * usage: ws_latency PORT WARMUP_S MEASURE_S
 *
 * Connects to ws://127.0.0.1:PORT/api/stream?instruments=*&kinds=ticks, and for every `tick`
 * message takes (wall clock at receipt) − (the tick's ts_ns, the time the simulator scheduled
 * the event). Measuring from the scheduled event time, not from when a request was sent, is
 * free of coordinated omission: a stall anywhere in the pipeline shows in every event it
 * delays. Prints one line: count p50 p99 p999 max (microseconds), lagged (1 when the server
 * dropped us for falling behind).
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SAMPLES (64u << 20)

static int64_t *samples;
static size_t nsamples;
static int64_t start_ns, warm_ns, end_ns;
static int done, lagged, failed;
static uint64_t messages;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Every "ts_ns":"<digits>" in a message (a frame may hold one message). */
static void scan(const char *p, size_t n, int64_t now)
{
    static const char key[] = "\"ts_ns\":\"";
    const char *end = p + n;
    if (n >= 8 && memmem(p, n < 40 ? n : 40, "lagged", 6)) {
        lagged = 1;
        fprintf(stderr, "ws_latency: %.*s\n", (int)(n < 200 ? n : 200), p);
    }
    for (;;) {
        const char *k = memmem(p, (size_t)(end - p), key, sizeof key - 1);
        if (!k) return;
        p = k + sizeof key - 1;
        int64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
        if (now >= warm_ns && nsamples < MAX_SAMPLES) samples[nsamples++] = now - v;
    }
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)wsi;
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_RECEIVE:
        messages++;
        scan(in, len, now_ns());
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "ws_latency: connection error: %s\n", in ? (const char *)in : "?");
        failed = 1;
        done = 1;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        done = 1;
        break;
    default:
        break;
    }
    return 0;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(double q)
{
    if (!nsamples) return 0;
    size_t i = (size_t)(q * (double)(nsamples - 1) + 0.5);
    return (double)samples[i] / 1000.0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ws_latency PORT WARMUP_S MEASURE_S\n");
        return 2;
    }
    int port = (int)strtol(argv[1], NULL, 10);
    double warm = strtod(argv[2], NULL), meas = strtod(argv[3], NULL);
    samples = malloc(MAX_SAMPLES * sizeof *samples);
    if (!samples) return 3;
    lws_set_log_level(LLL_ERR, NULL);
    static const struct lws_protocols protos[] = {{"tp-bench", cb, 0, 1 << 16, 0, NULL, 0},
                                                  {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protos;
    /* lws reads a socket into the per-thread service buffer (4 KiB by default, about ten
     * ticks): one poll + recv per ten messages made this client, not the server, the
     * bottleneck near 100k ticks/s. */
    info.pt_serv_buf_size = 256 * 1024;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) return 3;
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = "/api/stream?instruments=*&kinds=ticks";
    ci.host = host;
    ci.origin = host;
    ci.protocol = NULL;
    ci.local_protocol_name = "tp-bench";
    start_ns = now_ns();
    warm_ns = start_ns + (int64_t)(warm * 1e9);
    end_ns = warm_ns + (int64_t)(meas * 1e9);
    if (!lws_client_connect_via_info(&ci)) {
        fprintf(stderr, "ws_latency: cannot connect to %s\n", host);
        return 3;
    }
    while (!done && now_ns() < end_ns) lws_service(ctx, 50);
    lws_context_destroy(ctx);
    qsort(samples, nsamples, sizeof *samples, cmp);
    printf("count %zu p50_us %.1f p99_us %.1f p999_us %.1f max_us %.1f lagged %d messages %llu\n",
           nsamples, pct(0.5), pct(0.99), pct(0.999),
           nsamples ? (double)samples[nsamples - 1] / 1000.0 : 0, lagged,
           (unsigned long long)messages);
    free(samples);
    return failed ? 3 : 0;
}
