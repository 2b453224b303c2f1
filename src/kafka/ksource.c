/*
 * ksource.c — `--source kafka:TOPIC` (see ksource.h for the map, the position and the end).
 *
 * The source thread polls its consumer, decodes each record into events and puts them into
 * the ring (waiting for room). For every record it remembers, in a FIFO, the ring position
 * after its events and its (partition, offset); every COMMIT_EVERY it pops the records whose
 * events the ring's consumer has taken (ring tail ≥ position) and commits the offsets after
 * them. The FIFO holds at most one entry per ring slot plus one, so it never grows past the
 * ring: a full FIFO is a full ring, and the source waits.
 */
#include <math.h>
#include <stdatomic.h>

#include "core/instrument.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tptime.h"
#include "kafka/kcodec.h"
#include "kafka/ksource.h"

#define MAP_MAX       1024
#define MAX_EVENTS    256 /* events from one record (an array of objects) */
#define COMMIT_EVERY  (200 * TP_NS_PER_MS)
#define POLL_MS       100
#define PUT_WAIT_NS   (100 * TP_NS_PER_MS)
#define DRAIN_WAIT_NS (2 * TP_NS_PER_SEC)
#define BAD_LOG_MAX   10

/* ---- the map ---------------------------------------------------------------------------- */

enum mf {
    MF_TS,
    MF_TS_RECV,
    MF_INSTRUMENT,
    MF_VSYM,
    MF_KIND,
    MF_PRICE,
    MF_SIZE,
    MF_SIDE,
    MF_TRADE_ID,
    MF_BID,
    MF_ASK,
    MF_BID_SIZE,
    MF_ASK_SIZE,
    MF_OPEN,
    MF_HIGH,
    MF_LOW,
    MF_CHANGE,
    MF_VALUE,
    MF_N
};

static const char *const mf_names[MF_N] = {
    "ts",  "ts_recv", "instrument", "venue_symbol", "kind", "price", "size", "side",   "trade_id",
    "bid", "ask",     "bid_size",   "ask_size",     "open", "high",  "low",  "change", "value"};

struct tp_kmap {
    char text[MAP_MAX];
    const char *name[MF_N]; /* member names, into text; NULL = not mapped */
    size_t len[MF_N];
    char venue[32]; /* "" = instrument members hold venue:SYMBOL names */
    bool quote_only;
    struct tp_json j;
};

int tp_kmap_new(const char *map, struct tp_kmap **ret, char *err, size_t errcap)
{
    if (strlen(map) >= MAP_MAX) {
        snprintf(err, errcap, "is longer than %d bytes", MAP_MAX - 1);
        return -EINVAL;
    }
    struct tp_kmap *m = calloc(1, sizeof *m);
    if (!m) return -ENOMEM;
    memcpy(m->text, map, strlen(map) + 1);
    for (char *p = m->text, *next; p && *p; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = 0;
        if (!*p) continue;
        if (!strcmp(p, "quote_only")) {
            m->quote_only = true;
            continue;
        }
        char *eq = strchr(p, '=');
        if (!eq || eq == p || !eq[1]) {
            snprintf(err, errcap, "'%s' is not FIELD=MEMBER (or quote_only)", p);
            goto out_bad;
        }
        *eq = 0;
        if (!strcmp(p, "venue")) {
            size_t vl = strlen(eq + 1);
            bool ok = vl < sizeof m->venue;
            for (size_t i = 0; ok && i < vl; i++) {
                char c = eq[1 + i];
                ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            }
            if (!ok) {
                snprintf(err, errcap, "venue '%s' is not a venue name ([a-z0-9_]+)", eq + 1);
                goto out_bad;
            }
            memcpy(m->venue, eq + 1, vl + 1);
            continue;
        }
        int f = 0;
        while (f < MF_N && strcmp(p, mf_names[f])) f++;
        if (f == MF_N) {
            snprintf(err, errcap,
                     "'%s' is not a field (ts, instrument, kind, price, size, side, "
                     "trade_id, bid, ask, bid_size, ask_size, open, high, low, "
                     "change, value, ts_recv, venue_symbol, venue, quote_only)",
                     p);
            goto out_bad;
        }
        if (m->name[f]) {
            snprintf(err, errcap, "maps '%s' twice", p);
            goto out_bad;
        }
        m->name[f] = eq + 1;
        m->len[f] = strlen(eq + 1);
    }
    if (!m->name[MF_TS] || !m->name[MF_INSTRUMENT]) {
        snprintf(err, errcap, "must map ts and instrument (e.g. ts=date,instrument=ticker)");
        goto out_bad;
    }
    tp_json_init(&m->j, 4096, 8);
    *ret = m;
    return 0;
out_bad:
    free(m);
    return -EINVAL;
}

void tp_kmap_free(struct tp_kmap *m)
{
    if (!m) return;
    tp_json_fini(&m->j);
    free(m);
}

int tp_ksource_map_check(const char *map, char *err, size_t errcap)
{
    struct tp_kmap *m = NULL;
    int rc = tp_kmap_new(map, &m, err, errcap);
    tp_kmap_free(m);
    return rc < 0 ? rc : 0;
}

static int member(const struct tp_kmap *m, int obj, enum mf f)
{
    return m->name[f] ? tp_json_get(&m->j, obj, m->name[f], m->len[f]) : -1;
}

static bool absent(const struct tp_json *j, int i)
{
    return i < 0 || tp_json_type(j, i) == TP_JSON_NULL;
}

/* A number field: NaN when unmapped, absent or null; -EINVAL when malformed. */
static int num(const struct tp_kmap *m, int obj, enum mf f, double *out)
{
    int i = member(m, obj, f);
    *out = NAN;
    if (absent(&m->j, i)) return 0;
    return tp_json_f64(&m->j, i, out) < 0 ? -EINVAL : 0;
}

static int time_of(const struct tp_json *j, int i, int64_t *out)
{
    enum tp_json_type t = tp_json_type(j, i);
    if ((t != TP_JSON_STRING && t != TP_JSON_NUMBER) || (t == TP_JSON_STRING && j->tok[i].esc))
        return -EINVAL;
    return tp_time_parse(tp_json_text(j, i), tp_json_len(j, i), TP_TS_AUTO, out);
}

#define BAD(w)                                                                                     \
    do {                                                                                           \
        *why = (w);                                                                                \
        return -EINVAL;                                                                            \
    } while (0)

static int decode_obj(struct tp_kmap *m, int obj, struct tp_event *ret, const char **why)
{
    const struct tp_json *j = &m->j;
    if (tp_json_type(j, obj) != TP_JSON_OBJECT) BAD("not a JSON object");
    double price, size, bid, ask;
    if (num(m, obj, MF_PRICE, &price) || num(m, obj, MF_SIZE, &size) || num(m, obj, MF_BID, &bid) ||
        num(m, obj, MF_ASK, &ask))
        BAD("bad number");
    char s[TP_INSTR_NAMELEN + 1];
    enum tp_kind kind;
    int i = member(m, obj, MF_KIND);
    if (!absent(j, i)) {
        int n = tp_json_type(j, i) == TP_JSON_STRING ? tp_json_unescape(j, i, s, sizeof s) : -1;
        if (n < 0 || (size_t)n >= sizeof s) BAD("bad kind");
        s[n] = 0;
        if (tp_kind_parse(s, &kind) < 0 || kind == TP_KIND_STATUS) BAD("bad kind");
    } else if (!isnan(price)) {
        kind = TP_KIND_TRADE;
    } else if (!isnan(bid) && !isnan(ask)) {
        kind = TP_KIND_QUOTE;
    } else {
        BAD("neither a price nor bid and ask");
    }
    struct tp_event e;
    tp_event_init(&e, kind);
    e.price = price, e.size = size, e.bid = bid, e.ask = ask;
    if (num(m, obj, MF_BID_SIZE, &e.bid_size) || num(m, obj, MF_ASK_SIZE, &e.ask_size) ||
        num(m, obj, MF_OPEN, &e.open) || num(m, obj, MF_HIGH, &e.high) ||
        num(m, obj, MF_LOW, &e.low) || num(m, obj, MF_CHANGE, &e.change) ||
        num(m, obj, MF_VALUE, &e.value))
        BAD("bad number");
    if (kind == TP_KIND_TRADE && !(price > 0)) BAD("a trade without a positive price");
    if (kind == TP_KIND_TRADE && isnan(e.size)) e.size = 0;
    if (kind == TP_KIND_QUOTE && !(bid > 0 && ask > 0)) BAD("a quote without bid and ask");

    if (time_of(j, member(m, obj, MF_TS), &e.ts) < 0) BAD("bad ts");
    e.flags |= TP_EV_TS_VENUE;
    i = member(m, obj, MF_TS_RECV);
    if (absent(j, i))
        e.ts_recv = e.ts; /* never the wall clock: a re-read gives the same events */
    else if (time_of(j, i, &e.ts_recv) < 0)
        BAD("bad ts_recv");

    i = member(m, obj, MF_INSTRUMENT);
    char sym[TP_INSTR_NAMELEN + 1];
    int sl = tp_json_type(j, i) == TP_JSON_STRING ? tp_json_unescape(j, i, sym, sizeof sym) : -1;
    if (sl <= 0 || (size_t)sl >= sizeof sym) BAD("bad instrument");
    sym[sl] = 0;
    if (m->venue[0]) {
        char name[TP_INSTR_NAMELEN + 1];
        int nl = tp_instr_normalize(m->venue, sym, (size_t)sl, name, sizeof name);
        if (nl < 0 || tp_instr_intern(name, (size_t)nl, &e.instr) < 0) BAD("bad instrument");
        tp_event_set_vsym(&e, sym, (size_t)sl);
    } else if (tp_instr_intern(sym, (size_t)sl, &e.instr) < 0) {
        BAD("bad instrument (not venue:SYMBOL; map venue=NAME for native symbols)");
    }
    i = member(m, obj, MF_VSYM);
    if (!absent(j, i)) {
        char vs[TP_VSYM_MAX + 1];
        int vl = tp_json_type(j, i) == TP_JSON_STRING ? tp_json_unescape(j, i, vs, sizeof vs) : -1;
        if (vl == -E2BIG) vl = TP_VSYM_MAX;
        if (vl < 0) BAD("bad venue_symbol");
        tp_event_set_vsym(&e, vs, (size_t)vl);
    }
    i = member(m, obj, MF_SIDE);
    if (!absent(j, i)) {
        enum tp_side side;
        int n = tp_json_type(j, i) == TP_JSON_STRING ? tp_json_unescape(j, i, s, sizeof s) : -1;
        if (n < 0 || (size_t)n >= sizeof s || tp_side_parse(s, (size_t)n, &side) < 0)
            BAD("bad side");
        e.side = (uint8_t)side;
    }
    i = member(m, obj, MF_TRADE_ID);
    if (!absent(j, i)) {
        uint64_t id;
        char ids[TP_TRADE_ID_MAX + 1];
        if (tp_json_u64(j, i, &id) == 0) {
            tp_event_set_id(&e, id);
        } else {
            int n =
                tp_json_type(j, i) == TP_JSON_STRING ? tp_json_unescape(j, i, ids, sizeof ids) : -1;
            if (n <= 0 || (size_t)n >= sizeof ids || tp_event_set_id_str(&e, ids, (size_t)n) < 0)
                BAD("bad trade_id");
        }
    }
    if (m->quote_only && kind == TP_KIND_QUOTE) e.flags |= TP_EV_QUOTE_ONLY;
    *ret = e;
    return 0;
}

int tp_kmap_decode(struct tp_kmap *m, const void *p, size_t n, struct tp_event *ev, size_t cap,
                   const char **why)
{
    if (tp_json_parse(&m->j, p, n) < 0) BAD("not JSON");
    if (tp_json_type(&m->j, 0) != TP_JSON_ARRAY) {
        if (!cap) BAD("too many events in one record");
        int rc = decode_obj(m, 0, &ev[0], why);
        return rc < 0 ? rc : 1;
    }
    if (tp_json_size(&m->j, 0) > cap) BAD("too many events in one record");
    size_t k = 0;
    TP_JSON_FOREACH_ELEM(&m->j, 0, el)
    {
        int rc = decode_obj(m, el, &ev[k], why);
        if (rc < 0) return rc;
        /* Insertion by ts, stable: events of one record go to the log in time order. */
        struct tp_event e = ev[k];
        size_t at = k;
        while (at > 0 && ev[at - 1].ts > e.ts) {
            ev[at] = ev[at - 1];
            at--;
        }
        ev[at] = e;
        k++;
    }
    return (int)k;
}

/* ---- the source ------------------------------------------------------------------------- */

struct pending {
    uint64_t upto; /* ring position after the record's events */
    int32_t partition;
    int64_t offset;
};

struct ksource {
    struct tp_source base;
    struct tp_kafka_health health;
    struct tp_ksource_opts o;
    char topic[256], group[320];
    struct tp_kmap *map;     /* NULL: tickpipe's schema */
    struct tp_kafka_dec dec; /* for tickpipe's schema */
    rd_kafka_t *rk;          /* (src) */
    struct pending *fifo;    /* (src) ring of cap entries */
    size_t fifo_cap, fifo_head, fifo_n;
    uint8_t *seen;                          /* (src) instruments seen, by id (for eof records) */
    int8_t at_end[TP_KAFKA_MAX_PARTITIONS]; /* (src) 1 = reached the end since the last record */
    uint64_t put;                           /* (src) events committed to the ring */
    int64_t last_ts;                        /* (src) newest event time seen */
    uint64_t bad;
};

static void commit_taken(struct ksource *k, bool sync)
{
    uint64_t tail = atomic_load_explicit(&k->base.ring->tail, memory_order_acquire);
    rd_kafka_topic_partition_list_t *l = NULL;
    while (k->fifo_n) {
        struct pending *pe = &k->fifo[k->fifo_head];
        if (pe->upto > tail) break;
        if (!l) l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(l, k->topic, pe->partition);
        if (!tp) tp = rd_kafka_topic_partition_list_add(l, k->topic, pe->partition);
        tp->offset = pe->offset + 1;
        k->fifo_head = (k->fifo_head + 1) % k->fifo_cap;
        k->fifo_n--;
    }
    if (!l) return;
    rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, l, sync ? 0 : 1);
    if (err) tp_warn("source %s: offset commit failed: %s", k->base.spec, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

static bool all_at_end(struct ksource *k)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(k->rk, &a) || !a) return false;
    bool end = a->cnt > 0;
    for (int i = 0; i < a->cnt && end; i++) {
        int32_t p = a->elems[i].partition;
        end = p >= 0 && p < TP_KAFKA_MAX_PARTITIONS && k->at_end[p];
    }
    rd_kafka_topic_partition_list_destroy(a);
    return end;
}

static void on_record(struct ksource *k, const rd_kafka_message_t *m)
{
    struct tp_event ev[MAX_EVENTS];
    const char *why = "";
    int n;
    if (k->map) {
        n = tp_kmap_decode(k->map, m->payload, m->len, ev, MAX_EVENTS, &why);
    } else {
        n = tp_kafka_tick_parse(&k->dec, m->payload, m->len, &ev[0], &why);
        if (n == 0) n = 1;
    }
    if (n < 0) {
        if (k->bad++ < BAD_LOG_MAX)
            tp_warn("source %s: [%d] offset %lld: skipped: %s", k->base.spec, (int)m->partition,
                    (long long)m->offset, why);
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        k->seen[ev[i].instr] = 1;
        if (ev[i].ts > k->last_ts) k->last_ts = ev[i].ts;
    }
    /* The FIFO has room for one entry per ring slot plus one: wait for the ring if full. */
    while (k->fifo_n == k->fifo_cap && !tp_source_stopping(&k->base)) {
        commit_taken(k, false);
        if (k->fifo_n == k->fifo_cap) tp_source_sleep(&k->base, TP_NS_PER_MS);
    }
    size_t done = 0;
    while (done < (size_t)n && !tp_source_stopping(&k->base))
        done += tp_source_put(&k->base, ev + done, (size_t)n - done, PUT_WAIT_NS);
    k->put += done;
    atomic_fetch_add_explicit(&k->base.emitted, done, memory_order_relaxed);
    if (done < (size_t)n) return; /* stopping: the record is read again next time */
    size_t at = (k->fifo_head + k->fifo_n) % k->fifo_cap;
    k->fifo[at] = (struct pending){.upto = k->put, .partition = m->partition, .offset = m->offset};
    k->fifo_n++;
}

/* Waits (bounded) until the pipeline took every event from the ring, then commits. */
static void drain_and_commit(struct ksource *k)
{
    int64_t until = tp_mono_ns() + DRAIN_WAIT_NS;
    while (atomic_load_explicit(&k->base.ring->tail, memory_order_acquire) < k->put &&
           tp_mono_ns() < until)
        tp_source_sleep(&k->base, TP_NS_PER_MS);
    commit_taken(k, true);
}

static int write_eofs(struct ksource *k)
{
    uint32_t n = tp_instr_count();
    for (uint32_t id = 1; id <= n; id++) {
        if (!k->seen[id]) continue;
        struct tp_event e;
        tp_event_init(&e, TP_KIND_STATUS);
        e.status = TP_ST_EOF;
        e.instr = id;
        /* At the end of what was read: not before any event of the instrument. */
        e.ts = e.ts_recv = k->last_ts;
        if (tp_source_put(&k->base, &e, 1, TP_NS_PER_SEC) != 1) return -EAGAIN;
        k->put++;
        atomic_fetch_add_explicit(&k->base.emitted, 1, memory_order_relaxed);
    }
    return 0;
}

/* Assignments: before partitions go to another member, commit what the pipeline took. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    struct ksource *k = (struct ksource *)((char *)opaque - offsetof(struct ksource, health));
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, l);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, l);
        }
        return;
    }
    if (k->fifo) commit_taken(k, true);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, l);
        if (e) rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static int ks_run(struct tp_source *src)
{
    struct ksource *k = (struct ksource *)src;
    rd_kafka_conf_t *conf;
    char e[512];
    struct tp_kafka_opts ko = k->o.kafka;
    ko.group = k->group;
    int rc = tp_kafka_conf(&ko, TP_KAFKA_CONSUMER, &k->health, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("source %s: %s", src->spec, e);
        return rc;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    k->rk = tp_kafka_new(conf, TP_KAFKA_CONSUMER, "source");
    if (!k->rk) return -EIO;
    k->fifo_cap = tp_ring_capacity(src->ring) + 1;
    k->fifo = calloc(k->fifo_cap, sizeof *k->fifo);
    if (!k->fifo) {
        rc = -ENOMEM;
        goto out;
    }
    rd_kafka_poll_set_consumer(k->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        tp_error("source %s: cannot subscribe: %s", src->spec, rd_kafka_err2str(err));
        rc = -EIO;
        goto out;
    }
    tp_info("source %s: reading topic %s in group %s%s", src->spec, k->topic, k->group,
            k->map ? " (mapped fields)" : " (tickpipe's tick schema)");
    int64_t next_commit = tp_mono_ns() + COMMIT_EVERY;
    while (!tp_source_stopping(src)) {
        if (atomic_load_explicit(&k->health.fatal, memory_order_relaxed)) {
            rc = -EIO;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, POLL_MS);
        if (m) {
            int32_t p = m->partition;
            bool in = p >= 0 && p < TP_KAFKA_MAX_PARTITIONS;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (in) k->at_end[p] = 1;
            } else if (m->err) {
                tp_warn("source %s: %s", src->spec, rd_kafka_message_errstr(m));
            } else {
                if (in) k->at_end[p] = 0;
                on_record(k, m);
            }
            rd_kafka_message_destroy(m);
        }
        if (tp_mono_ns() >= next_commit) {
            commit_taken(k, false);
            next_commit = tp_mono_ns() + COMMIT_EVERY;
        }
        if (k->o.exit_at_eof && all_at_end(k)) {
            rc = write_eofs(k);
            if (rc == 0) {
                tp_info("source %s: read every partition to its end (%llu events, %llu bad "
                        "records)",
                        src->spec, (unsigned long long)k->put, (unsigned long long)k->bad);
                drain_and_commit(k);
                atomic_store_explicit(&src->ended, true, memory_order_release);
            }
            goto out;
        }
    }
    drain_and_commit(k);
out:
    rd_kafka_consumer_close(k->rk);
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    return rc;
}

static void ks_free(struct tp_source *src)
{
    struct ksource *k = (struct ksource *)src;
    tp_kmap_free(k->map);
    tp_kafka_dec_fini(&k->dec);
    free(k->fifo);
    free(k->seen);
    tp_source_fini(src);
    free(k);
}

static const struct tp_source_ops ks_ops = {
    .kind = "kafka",
    .run = ks_run,
    .free = ks_free,
};

int tp_ksource_new(const char *spec, const struct tp_ksource_opts *o, struct tp_source **ret,
                   char *err, size_t errcap)
{
    const char *topic = strncmp(spec, "kafka:", 6) ? NULL : spec + 6;
    if (!topic || !*topic || strlen(topic) >= 250) {
        snprintf(err, errcap, "is not kafka:TOPIC");
        return -EINVAL;
    }
    if (!o->kafka.brokers || !*o->kafka.brokers) {
        snprintf(err, errcap, "needs --kafka BROKERS");
        return -EINVAL;
    }
    struct ksource *k = calloc(1, sizeof *k);
    if (!k) return -ENOMEM;
    tp_source_init(&k->base, &ks_ops, spec, false);
    tp_kafka_dec_init(&k->dec);
    k->o = *o;
    k->health.role = "source";
    snprintf(k->topic, sizeof k->topic, "%s", topic);
    if (o->group && *o->group)
        snprintf(k->group, sizeof k->group, "%s", o->group);
    else
        snprintf(k->group, sizeof k->group, "tickpipe-source.%s", topic);
    k->seen = calloc(TP_INSTR_MAX + 1, 1);
    if (!k->seen) {
        ks_free(&k->base);
        return -ENOMEM;
    }
    if (o->map && *o->map) {
        int rc = tp_kmap_new(o->map, &k->map, err, errcap);
        if (rc < 0) {
            ks_free(&k->base);
            return rc;
        }
    }
    *ret = &k->base;
    return 0;
}
