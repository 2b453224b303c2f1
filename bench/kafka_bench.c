/*
 * kafka_bench.c — the log on Kafka next to the embedded journal, in one run: produce and
 * consume throughput of simulator ticks through librdkafka against its mock cluster (three
 * brokers in this process, loopback), with tickpipe's own producer settings (idempotent,
 * acks=all, lz4, linger 5 ms) and JSON records (kafka/kcodec.h), and the same events appended
 * to and read from a journal (log/journal.h, --sync none, binary records).
 *
 *   kafka_bench [--events N] [--partitions N] [--dir PARENT]
 *
 * Each side includes its encoding and decoding: JSON for Kafka (what the ingest and process
 * roles do per event), the binary record codec for the journal. Caveat: the mock cluster
 * keeps its log in memory (no disk, no replication traffic), and it drops batches past 5 MiB
 * per partition, so N is kept moderate and the partitions' start offsets are checked.
 */
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/event.h"
#include "core/tptime.h"
#include "kafka/kafka.h"
#include "kafka/kcodec.h"
#include "log/journal.h"
#include "log/record.h"
#include "source/sim.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static double secs_since(int64_t t0)
{
    return (double)(tp_mono_ns() - t0) / 1e9;
}

static uint64_t delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err)
        failed++;
    else
        delivered++;
}

static void row(const char *what, size_t n, double s, double bytes)
{
    printf("%-44s %9zu events %8.3f s %10.0f ev/s %8.1f MB/s\n", what, n, s, (double)n / s,
           bytes / s / 1e6);
}

int main(int argc, char **argv)
{
    size_t n = 200000;
    int partitions = 8;
    const char *parent = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
            partitions = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            parent = argv[++i];
        else {
            fprintf(stderr, "usage: kafka_bench [--events N] [--partitions N] [--dir PARENT]\n");
            return 2;
        }
    }
    if (!n || partitions < 1 || partitions > 64) return 2;

    /* The events: the simulator, deterministic. */
    struct tp_sim *sim;
    struct tp_sim_opts so = {
        .seed = 1, .start_ns = INT64_C(1767225600000000000), .rate = 1e5, .jumps_per_hour = -1};
    if (tp_sim_new(&so, &sim, NULL) < 0) return 1;
    struct tp_event *ev = malloc(n * sizeof *ev);
    if (!ev) return 1;
    for (size_t i = 0; i < n; i++) tp_sim_next(sim, INT64_MAX, &ev[i]);
    tp_sim_free(sim);

    /* The cluster. */
    char err[512];
    rd_kafka_conf_t *mc_conf = rd_kafka_conf_new();
    rd_kafka_conf_set(mc_conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *mc_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mc_conf, err, sizeof err);
    rd_kafka_mock_cluster_t *mc = mc_rk ? rd_kafka_mock_cluster_new(mc_rk, 3) : NULL;
    if (!mc) {
        fprintf(stderr, "kafka_bench: cannot start the mock cluster\n");
        return 1;
    }
    rd_kafka_mock_topic_create(mc, "bench.ticks", partitions, 3);
    struct tp_kafka_opts ko;
    tp_kafka_opts_default(&ko);
    ko.brokers = rd_kafka_mock_cluster_bootstraps(mc);
    ko.topic_ticks = "bench.ticks";
    struct tp_kafka_health h = {.role = "bench"};

    printf("kafka_bench: %zu simulator events, %d partitions, librdkafka %s mock cluster (3 "
           "brokers, in memory)\n",
           n, partitions, rd_kafka_version_str());

    /* 1. Produce (encode + produce + wait for every delivery report). */
    rd_kafka_conf_t *conf;
    if (tp_kafka_conf(&ko, TP_KAFKA_PRODUCER, &h, &conf, err, sizeof err) < 0) {
        fprintf(stderr, "kafka_bench: %s\n", err);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *p = tp_kafka_new(conf, TP_KAFKA_PRODUCER, "bench");
    if (!p) return 1;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, "bench.ticks", NULL);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    double json_bytes = 0;
    int64_t t0 = tp_mono_ns();
    for (size_t i = 0; i < n; i++) {
        tp_buf_reset(&b);
        tp_kafka_tick_json(&b, &ev[i]);
        json_bytes += (double)b.len;
        const char *key = tp_kafka_tick_key(&ev[i]);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE(b.p, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, "1", 1), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(p, 1);
                continue;
            }
            if (e) failed++;
            break;
        }
        rd_kafka_poll(p, 0);
    }
    while (rd_kafka_outq_len(p) > 0) rd_kafka_flush(p, 100);
    double produce_s = secs_since(t0);
    row("kafka produce (JSON encode, acks=all, lz4)", n, produce_s, json_bytes);
    if (failed || delivered != n) {
        fprintf(stderr, "kafka_bench: %llu delivered, %llu failed\n", (unsigned long long)delivered,
                (unsigned long long)failed);
        return 1;
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(p);

    /* 2. Consume (fetch + decode), every partition from the start. */
    if (tp_kafka_conf(&ko, TP_KAFKA_READER, &h, &conf, err, sizeof err) < 0) return 1;
    rd_kafka_t *c = tp_kafka_new(conf, TP_KAFKA_READER, "bench");
    if (!c) return 1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int q = 0; q < partitions; q++) {
        int64_t lo, hi;
        rd_kafka_query_watermark_offsets(c, "bench.ticks", q, &lo, &hi, 10000);
        if (lo != 0) {
            fprintf(stderr,
                    "kafka_bench: the mock dropped the start of partition %d (%lld): "
                    "use fewer events or more partitions\n",
                    q, (long long)lo);
            return 1;
        }
        rd_kafka_topic_partition_list_add(l, "bench.ticks", q)->offset = 0;
    }
    struct tp_kafka_dec dec;
    tp_kafka_dec_init(&dec);
    size_t got = 0, bad = 0, eofs = 0;
    t0 = tp_mono_ns();
    rd_kafka_assign(c, l);
    while (got + bad < n && eofs < (size_t)partitions * 4) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1000);
        if (!m) break;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            struct tp_event e;
            const char *why;
            if (tp_kafka_tick_parse(&dec, m->payload, m->len, &e, &why) == 0)
                got++;
            else
                bad++;
        }
        rd_kafka_message_destroy(m);
    }
    double consume_s = secs_since(t0);
    row("kafka consume (fetch, JSON decode)", got, consume_s, json_bytes);
    rd_kafka_topic_partition_list_destroy(l);
    tp_kafka_dec_fini(&dec);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (got != n || bad) {
        fprintf(stderr, "kafka_bench: consumed %zu of %zu (%zu bad)\n", got, n, bad);
        return 1;
    }

    /* 3. The journal: encode + append (--sync none) + commit, then a cursor read + decode. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tp_kafka_bench.%d", parent, (int)getpid());
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, dir);
    jo.sync = TP_SYNC_NONE;
    struct tp_journal *j;
    struct tp_journal_recovery rep;
    if (tp_journal_open(&jo, &j, &rep) < 0) {
        fprintf(stderr, "kafka_bench: cannot open a journal in %s\n", dir);
        return 1;
    }
    double rec_bytes = 0;
    t0 = tp_mono_ns();
    for (size_t i = 0; i < n; i++) {
        tp_buf_reset(&b);
        tp_rec_put_event(&b, &ev[i]);
        rec_bytes += (double)b.len;
        if (tp_journal_append(j, b.p, b.len, NULL) < 0) return 1;
    }
    tp_journal_commit(j);
    row("journal append (binary encode, sync none)", n, secs_since(t0), rec_bytes);
    struct tp_cursor *cur;
    if (tp_cursor_open(dir, 0, j, false, &cur) < 0) return 1;
    size_t read = 0;
    t0 = tp_mono_ns();
    for (;;) {
        const void *rec;
        size_t len;
        uint64_t off;
        if (tp_cursor_next(cur, &rec, &len, &off) <= 0) break;
        struct tp_event e;
        if (tp_rec_get_event(rec, len, &e) == 0) read++;
    }
    row("journal read (cursor, binary decode)", read, secs_since(t0), rec_bytes);
    tp_cursor_close(cur);
    tp_journal_close(j);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    printf("kafka_bench: JSON %.0f bytes/event, journal record %.0f bytes/event\n",
           json_bytes / (double)n, rec_bytes / (double)n);

    tp_buf_fini(&b);
    free(ev);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mc_rk);
    return read == n ? 0 : 1;
}
