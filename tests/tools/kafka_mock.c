/*
 * kafka_mock.c — a Kafka cluster for the integration tests: librdkafka's mock cluster
 * (rdkafka_mock.h) with N brokers in this process, listening on loopback ports.
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS]... [--out FILE]
 *
 * Topics are created through the mock's own API (it has no CreateTopics), with replication
 * min(3, N). The bootstrap address list ("127.0.0.1:P1,127.0.0.1:P2,...") is printed on
 * stdout and, with --out, written to FILE (to FILE.tmp, then renamed, so a test that waits
 * for FILE reads it whole). Then the tool reads commands from stdin, one per line, until EOF,
 * SIGTERM or SIGINT:
 *
 *   topic NAME:PARTITIONS          create another topic
 *   down BROKER | up BROKER        take a broker down (connections refused) and back
 *   rtt BROKER MS                  delay a broker's responses
 *   err APIKEY CODE [COUNT]        the next COUNT (1) requests of APIKEY fail with error CODE
 *                                  (Kafka protocol codes, e.g. 0 = Produce, 6 = not leader)
 *   leader TOPIC PARTITION BROKER  move a partition's leader (-1: leaderless)
 *
 * Each command answers "ok" or "error: ..." on stdout. With stdin at EOF at once
 * (</dev/null) the tool keeps running until a signal: tests start it in the background.
 * No network beyond loopback: the mock listens on 127.0.0.1 only.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static long num(const char *s, long lo, long hi, bool *ok)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) *ok = false;
    return v;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *spec, int brokers)
{
    char name[256];
    const char *colon = strrchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!n || n >= sizeof name) return -1;
    memcpy(name, spec, n);
    name[n] = 0;
    bool ok = true;
    long parts = colon ? num(colon + 1, 1, 10000, &ok) : 1;
    if (!ok) return -1;
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(mc, name, (int)parts, brokers < 3 ? brokers : 3);
    if (err) {
        fprintf(stderr, "kafka_mock: topic %s: %s\n", spec, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Runs one command line; returns NULL or a reason. */
static const char *command(rd_kafka_mock_cluster_t *mc, char *line, int brokers)
{
    char *argv[8];
    int argc = 0;
    for (char *t = line; *t && argc < 8;) {
        t += strspn(t, " \t\r");
        if (!*t) break;
        argv[argc++] = t;
        t += strcspn(t, " \t\r");
        if (*t) *t++ = 0;
    }
    if (!argc) return NULL;
    bool ok = true;
    rd_kafka_resp_err_t err = 0;
    if (!strcmp(argv[0], "topic") && argc == 2) {
        return create_topic(mc, argv[1], brokers) ? "cannot create the topic" : NULL;
    } else if (!strcmp(argv[0], "down") && argc == 2) {
        long b = num(argv[1], 1, brokers, &ok);
        if (ok) err = rd_kafka_mock_broker_set_down(mc, (int32_t)b);
    } else if (!strcmp(argv[0], "up") && argc == 2) {
        long b = num(argv[1], 1, brokers, &ok);
        if (ok) err = rd_kafka_mock_broker_set_up(mc, (int32_t)b);
    } else if (!strcmp(argv[0], "rtt") && argc == 3) {
        long b = num(argv[1], 1, brokers, &ok), ms = num(argv[2], 0, 600000, &ok);
        if (ok) err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)b, (int)ms);
    } else if (!strcmp(argv[0], "err") && (argc == 3 || argc == 4)) {
        long key = num(argv[1], 0, 100, &ok), code = num(argv[2], -200, 200, &ok);
        long cnt = argc == 4 ? num(argv[3], 1, 1000, &ok) : 1;
        if (ok) {
            rd_kafka_resp_err_t errs[1000];
            for (long i = 0; i < cnt; i++) errs[i] = (rd_kafka_resp_err_t)code;
            rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, (size_t)cnt, errs);
        }
    } else if (!strcmp(argv[0], "leader") && argc == 4) {
        long p = num(argv[2], 0, 10000, &ok), b = num(argv[3], -1, brokers, &ok);
        if (ok) err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)p, (int32_t)b);
    } else {
        return "unknown command";
    }
    if (!ok) return "bad number";
    return err ? rd_kafka_err2str(err) : NULL;
}

int main(int argc, char **argv)
{
    int brokers = 3;
    const char *out = NULL;
    const char *topics[256];
    int ntopics = 0;
    for (int i = 1; i < argc; i++) {
        bool ok = true;
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            brokers = (int)num(argv[++i], 1, 16, &ok);
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc && ntopics < 256) {
            topics[ntopics++] = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]... "
                            "[--out FILE]\n");
            return 2;
        }
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; keep its own logging quiet. */
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < ntopics; i++)
        if (create_topic(mc, topics[i], brokers)) rc = 1;
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    if (!rc && out) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", out);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", boot) < 0 || fclose(f) || rename(tmp, out)) {
            fprintf(stderr, "kafka_mock: cannot write %s\n", out);
            rc = 1;
        }
    }
    if (!rc) {
        printf("%s\n", boot);
        fflush(stdout);
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        bool in_open = true;
        char line[1024];
        size_t len = 0;
        while (!stop_flag) {
            if (!in_open) {
                /* Not pause(): a signal between the loop's test and pause() would be lost. */
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
            struct pollfd pfd = {.fd = 0, .events = POLLIN};
            if (poll(&pfd, 1, 200) <= 0) continue;
            ssize_t n = read(0, line + len, sizeof line - 1 - len);
            if (n <= 0) {
                in_open = false;
                continue;
            }
            len += (size_t)n;
            line[len] = 0;
            char *nl;
            while ((nl = strchr(line, '\n'))) {
                *nl = 0;
                const char *why = command(mc, line, brokers);
                if (why)
                    printf("error: %s\n", why);
                else
                    printf("ok\n");
                fflush(stdout);
                len -= (size_t)(nl + 1 - line);
                memmove(line, nl + 1, len + 1);
            }
            if (len == sizeof line - 1) len = 0; /* an overlong line: drop it */
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
