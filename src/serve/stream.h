/*
 * stream.h — the live stream's per-client state, independent of the transport (WebSocket or
 * Server-Sent Events, both in http.c): what a client subscribed to, and its bounded queue of
 * formatted messages (DESIGN.md §7, protocol in docs/api.md).
 *
 * Messages are formatted once and shared by reference between the clients that want them
 * (struct tp_smsg, reference counted; the HTTP thread alone touches them, so the count is a
 * plain integer). Each client's queue holds at most `cap` messages and `max_bytes` bytes; a
 * push to a full queue fails and the caller lags the client: its queue is emptied, a single
 * `lagged` message is queued, and the connection is closed once that is written (or after a
 * short timeout, for a client that reads nothing at all). A bar update (an open bar, which
 * changes with every trade) replaces a still-queued update of the same bar instead of queuing
 * behind it, so a slow client gets the latest state rather than every intermediate one.
 *
 * All of this belongs to the HTTP thread.
 */
#ifndef TP_STREAM_H
#define TP_STREAM_H

#include "core/instrument.h"
#include "serve/json.h"

/* Subscription kinds, as named in the protocol. */
enum tp_sk {
    TP_SK_TICKS = 0,  /* "ticks": every trade, quote, snapshot, vendor bar */
    TP_SK_BARS,       /* "bars": open bar updates, coalesced to the display rate */
    TP_SK_FINAL_BARS, /* "final_bars": final bars with indicators */
    TP_SK_ANOMALIES,  /* "anomalies" */
    TP_SK_STATUS,     /* "status": source status events, and a "health" message each second */
    TP_SK_PRICES,     /* "prices": instrument summaries, coalesced to the display rate */
    TP_SK_N
};
const char *tp_sk_name(enum tp_sk k);

#define TP_SUB_MAX_NAMES     64
#define TP_SUB_MAX_INTERVALS 8
#define TP_SUB_MAX_MSG       4096 /* longest client message accepted */

struct tp_sub {
    bool all[TP_SK_N];      /* subscribed to every instrument for the kind ("*") */
    uint64_t mask[TP_SK_N]; /* bit i: names[i] subscribed for the kind */
    uint32_t nnames;
    char names[TP_SUB_MAX_NAMES][TP_INSTR_NAMELEN + 1];
    uint32_t ids[TP_SUB_MAX_NAMES]; /* interned id of names[i]; 0 while unknown */
    uint32_t resolved_at;           /* tp_instr_count() when ids were last resolved */
    uint32_t nintervals;            /* 0: every interval */
    int64_t intervals[TP_SUB_MAX_INTERVALS];
};

enum tp_sub_op { TP_SUB_OP_SUBSCRIBE = 1, TP_SUB_OP_UNSUBSCRIBE, TP_SUB_OP_PING };

/* Applies one client message ({"op": "subscribe"|"unsubscribe"|"ping", "instruments": [...],
 * "kinds": [...], "intervals": [...]}). 0 and *op, or -EINVAL with a one-line reason in err;
 * on error the subscription is unchanged. */
int tp_sub_message(struct tp_sub *s, const char *msg, size_t n, enum tp_sub_op *op, char *err,
                   size_t errcap);
/* Subscribes from URL parameters (comma-separated lists; NULL when absent). A missing kinds
 * list means every kind; a missing instruments list subscribes nothing. */
int tp_sub_query(struct tp_sub *s, const char *instruments, const char *kinds,
                 const char *intervals, char *err, size_t errcap);
/* Does the client want kind k for instr (and, for bars, interval_ns)? */
bool tp_sub_match(struct tp_sub *s, enum tp_sk k, uint32_t instr, int64_t interval_ns);
/* Bit (1 << k) for every kind with any subscription. */
unsigned tp_sub_kinds(const struct tp_sub *s);
/* Writes {"type":"subscribed","kinds":{...},"intervals":[...]} describing s. */
void tp_sub_describe(struct tp_jw *w, const struct tp_sub *s);

/* ---- Messages and queues ---- */

#define TP_SMSG_PRE 32 /* headroom before the text for the transport's framing (LWS_PRE) */

struct tp_smsg {
    uint32_t refs;
    uint32_t len;   /* bytes of text at data + TP_SMSG_PRE */
    bool coalesce;  /* a bar update: replaced by a newer one with the same key */
    uint32_t instr; /* key of a coalescable message */
    int64_t interval_ns, ts;
    unsigned char data[]; /* TP_SMSG_PRE bytes, the text, a NUL */
};

/* A message holding a copy of text[0..n) with one reference; NULL on out of memory. */
struct tp_smsg *tp_smsg_new(const char *text, size_t n);
void tp_smsg_unref(struct tp_smsg *m);
static inline const char *tp_smsg_text(const struct tp_smsg *m)
{
    return (const char *)m->data + TP_SMSG_PRE;
}

struct tp_squeue {
    struct tp_smsg **v;
    uint32_t cap, head, n;
    size_t bytes, max_bytes;
};

int tp_squeue_init(struct tp_squeue *q, uint32_t cap, size_t max_bytes);
void tp_squeue_fini(struct tp_squeue *q);
/* Queues m (taking a reference). 0 when queued, 1 when it replaced a queued message of the
 * same coalescing key, -ENOBUFS when full (nothing changed). */
int tp_squeue_push(struct tp_squeue *q, struct tp_smsg *m);
/* Queues m even when full (for the final `lagged` message). */
void tp_squeue_force(struct tp_squeue *q, struct tp_smsg *m);
static inline struct tp_smsg *tp_squeue_peek(const struct tp_squeue *q)
{
    return q->n ? q->v[q->head] : NULL;
}
void tp_squeue_pop(struct tp_squeue *q);
void tp_squeue_clear(struct tp_squeue *q);

enum tp_sclient_state { TP_SC_OPEN = 0, TP_SC_LAGGED, TP_SC_CLOSING };

struct tp_sclient {
    struct tp_sub sub;
    struct tp_squeue q;
    bool sse;
    uint8_t state;    /* enum tp_sclient_state */
    uint64_t sent;    /* messages written */
    uint64_t dropped; /* messages discarded when it lagged */
    void *conn;       /* the transport's connection (struct lws *), borrowed */
};

/* Offers m to c: queued, or c lags (queue emptied, `lagged` queued, state TP_SC_LAGGED).
 * Returns true when c lagged just now. Clients already lagging ignore offers. */
bool tp_sclient_offer(struct tp_sclient *c, struct tp_smsg *m);
/* Lags c now (as a full queue would): for a client that missed messages some other way. */
void tp_sclient_lag(struct tp_sclient *c);

#endif
