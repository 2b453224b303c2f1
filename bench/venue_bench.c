/*
 * venue_bench.c — Binance trade frames through the JSON scanner and the venue parser
 * (tokenize, read the fields, exact decimals, instrument lookup, gap check): messages per
 * second on one core.
 *
 * The frames are made up front (64 Ki of them, 8 symbols, consecutive ids, varying prices and
 * sizes, raw and combined-stream envelopes alternating) so that the timed loop measures only
 * the parser. Usage: venue_bench [SECONDS [FRAMES_FILE]]   (default 2; prints one line per
 * variant). With FRAMES_FILE it also writes the frames there, one per line, for a peer parser
 * to read the same messages (bench/venue_vs_json.sh).
 */
#include "core/json.h"
#include "core/tptime.h"
#include "source/venue.h"

#define NFRAMES 65536

static double run(struct tp_venue_parser *p, char **frames, size_t *lens, double secs,
                  uint64_t *events)
{
    struct tp_event ev[16];
    struct tp_venue_result res;
    int64_t start = tp_mono_ns(), until = start + (int64_t)(secs * 1e9);
    uint64_t n = 0, e = 0;
    do {
        for (size_t i = 0; i < NFRAMES; i++) {
            int r = tp_venue_parse(p, frames[i], lens[i], start, ev, 16, &res);
            if (r < 0) {
                fprintf(stderr, "frame %zu failed: %s %s\n", i, tp_vreason_name(res.reason),
                        res.text);
                exit(1);
            }
            e += (uint64_t)r;
        }
        n += NFRAMES;
    } while (tp_mono_ns() < until);
    *events = e;
    return (double)n / ((double)(tp_mono_ns() - start) / 1e9);
}

static double run_json(char **frames, size_t *lens, double secs)
{
    struct tp_json j;
    tp_json_init(&j, 0, 0);
    int64_t start = tp_mono_ns(), until = start + (int64_t)(secs * 1e9);
    uint64_t n = 0;
    do {
        for (size_t i = 0; i < NFRAMES; i++)
            if (tp_json_parse(&j, frames[i], lens[i]) != 0) exit(1);
        n += NFRAMES;
    } while (tp_mono_ns() < until);
    tp_json_fini(&j);
    return (double)n / ((double)(tp_mono_ns() - start) / 1e9);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    static const char *const syms[] = {"BTCUSDT", "ETHUSDT",  "BNBUSDT", "SOLUSDT",
                                       "XRPUSDT", "DOGEUSDT", "ADAUSDT", "BNBBTC"};
    static char *frames[NFRAMES];
    static size_t lens[NFRAMES];
    uint64_t ids[8] = {3200243634, 1573606312, 100, 200, 300, 400, 500, 214194757};
    size_t bytes = 0;
    for (size_t i = 0; i < NFRAMES; i++) {
        size_t s = i % 8;
        char buf[320];
        long long t = 1700000000000LL + (long long)i;
        int n = snprintf(buf, sizeof buf,
                         "%s{\"e\":\"trade\",\"E\":%lld,\"s\":\"%s\",\"t\":%llu,\"p\":\"%llu.%02u"
                         "000000\",\"q\":\"0.%05u000\",\"T\":%lld,\"m\":%s,\"M\":true}%s",
                         i % 2 ? "{\"stream\":\"x@trade\",\"data\":" : "", t + 1, syms[s],
                         (unsigned long long)ids[s]++, 1000ULL + (i * 7919) % 60000,
                         (unsigned)(i % 100), (unsigned)((i * 31) % 99999), t,
                         i % 3 ? "true" : "false", i % 2 ? "}" : "");
        frames[i] = malloc((size_t)n);
        memcpy(frames[i], buf, (size_t)n);
        lens[i] = (size_t)n;
        bytes += (size_t)n;
    }
    if (argc > 2) {
        FILE *f = fopen(argv[2], "w");
        if (!f) return 1;
        for (size_t i = 0; i < NFRAMES; i++) {
            fwrite(frames[i], 1, lens[i], f);
            fputc('\n', f);
        }
        if (fclose(f) != 0) return 1;
    }
    struct tp_venue_parser *p;
    if (tp_venue_parser_new(tp_venue_find("binance"), NULL, &p) != 0) return 1;
    uint64_t events;
    double rate_json = run_json(frames, lens, secs);
    double rate = run(p, frames, lens, secs, &events);
    printf("json scan only:          %.2f M msg/s (%.0f MB/s)\n", rate_json / 1e6,
           rate_json * (double)bytes / NFRAMES / 1e6);
    printf("binance trade → events:  %.2f M msg/s (%.0f MB/s), %llu events, %llu gaps\n",
           rate / 1e6, rate * (double)bytes / NFRAMES / 1e6, (unsigned long long)events,
           (unsigned long long)tp_venue_parser_stats(p)->gaps);
    tp_venue_parser_free(p);
    for (size_t i = 0; i < NFRAMES; i++) free(frames[i]);
    return 0;
}
