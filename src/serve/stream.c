/*
 * stream.c — stream subscriptions, shared messages and bounded client queues (see stream.h).
 */
#include "core/tptime.h"
#include "serve/stream.h"

static const char *const sk_names[TP_SK_N] = {"ticks",     "bars",   "final_bars",
                                              "anomalies", "status", "prices"};

const char *tp_sk_name(enum tp_sk k)
{
    return (unsigned)k < TP_SK_N ? sk_names[k] : "";
}

static int sk_parse(const char *s)
{
    for (int k = 0; k < TP_SK_N; k++)
        if (!strcmp(s, sk_names[k])) return k;
    return -1;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n == 0 || n > TP_INSTR_NAMELEN) return false;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        i++;
    if (i == 0 || i + 1 >= n || s[i] != ':') return false;
    for (i++; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- A parsed request, applied only when all of it is valid ---- */

struct req {
    int op; /* enum tp_sub_op, 0 none */
    bool has_instr, has_kinds, has_iv, star;
    uint32_t ninstr;
    char instr[TP_SUB_MAX_NAMES][TP_INSTR_NAMELEN + 1];
    unsigned kinds;
    uint32_t niv;
    int64_t iv[TP_SUB_MAX_INTERVALS];
    char *err;
    size_t errcap;
};

static int fail(struct req *r, const char *what, const char *val)
{
    char safe[48];
    size_t j = 0;
    for (; val && val[j] && j < sizeof(safe) - 1; j++)
        safe[j] = (val[j] >= 0x20 && val[j] < 0x7f && val[j] != '\'') ? val[j] : '?';
    safe[j] = 0;
    snprintf(r->err, r->errcap, "%s%s%s%s", what, val ? " '" : "", safe, val ? "'" : "");
    return -EINVAL;
}

static int add_instr(struct req *r, const char *v)
{
    r->has_instr = true;
    if (!strcmp(v, "*")) {
        r->star = true;
        return 0;
    }
    if (!valid_name(v)) return fail(r, "bad instrument", v);
    for (uint32_t i = 0; i < r->ninstr; i++)
        if (!strcmp(r->instr[i], v)) return 0;
    if (r->ninstr >= TP_SUB_MAX_NAMES) return fail(r, "too many instruments (at most 64)", NULL);
    memcpy(r->instr[r->ninstr++], v, strlen(v) + 1);
    return 0;
}

static int add_kind(struct req *r, const char *v)
{
    r->has_kinds = true;
    int k = sk_parse(v);
    if (k < 0) return fail(r, "unknown kind", v);
    r->kinds |= 1u << k;
    return 0;
}

static int add_iv(struct req *r, const char *v)
{
    int64_t ns;
    r->has_iv = true;
    if (tp_duration_parse(v, &ns) || ns <= 0) return fail(r, "bad interval", v);
    for (uint32_t i = 0; i < r->niv; i++)
        if (r->iv[i] == ns) return 0;
    if (r->niv >= TP_SUB_MAX_INTERVALS) return fail(r, "too many intervals (at most 8)", NULL);
    r->iv[r->niv++] = ns;
    return 0;
}

static int on_field(void *arg, const char *key, const char *val, bool in_array)
{
    struct req *r = arg;
    if (!strcmp(key, "op")) {
        if (in_array || !val) return fail(r, "bad op", NULL);
        if (!strcmp(val, "subscribe"))
            r->op = TP_SUB_OP_SUBSCRIBE;
        else if (!strcmp(val, "unsubscribe"))
            r->op = TP_SUB_OP_UNSUBSCRIBE;
        else if (!strcmp(val, "ping"))
            r->op = TP_SUB_OP_PING;
        else
            return fail(r, "unknown op", val);
        return 0;
    }
    int (*add)(struct req *, const char *) = NULL;
    bool *has = NULL;
    if (!strcmp(key, "instruments"))
        add = add_instr, has = &r->has_instr;
    else if (!strcmp(key, "kinds"))
        add = add_kind, has = &r->has_kinds;
    else if (!strcmp(key, "intervals"))
        add = add_iv, has = &r->has_iv;
    else
        return fail(r, "unknown field", key);
    if (!val) { /* an empty array */
        *has = true;
        return 0;
    }
    return add(r, val); /* a single string is taken as a one-element list */
}

/* Splits a comma-separated list and adds each item. */
static int add_csv(struct req *r, const char *csv, int (*add)(struct req *, const char *))
{
    char item[TP_JSON_FLAT_STR + 1];
    while (*csv) {
        const char *comma = strchr(csv, ',');
        size_t n = comma ? (size_t)(comma - csv) : strlen(csv);
        if (n > TP_JSON_FLAT_STR) return fail(r, "list item too long", NULL);
        memcpy(item, csv, n);
        item[n] = 0;
        if (n) {
            int rc = add(r, item);
            if (rc) return rc;
        }
        csv += n + (comma != NULL);
    }
    return 0;
}

/* ---- Applying ---- */

static int find_name(const struct tp_sub *s, const char *name)
{
    for (uint32_t i = 0; i < s->nnames; i++)
        if (!strcmp(s->names[i], name)) return (int)i;
    return -1;
}

static void remove_name(struct tp_sub *s, uint32_t i)
{
    uint32_t last = s->nnames - 1;
    if (i != last) {
        memcpy(s->names[i], s->names[last], sizeof(s->names[i]));
        s->ids[i] = s->ids[last];
        for (int k = 0; k < TP_SK_N; k++) {
            uint64_t lb = (s->mask[k] >> last) & 1;
            s->mask[k] = (s->mask[k] & ~(UINT64_C(1) << i)) | (lb << i);
        }
    }
    for (int k = 0; k < TP_SK_N; k++) s->mask[k] &= ~(UINT64_C(1) << last);
    s->nnames--;
}

static int apply(struct tp_sub *s, struct req *r)
{
    unsigned kinds = r->has_kinds ? r->kinds : (1u << TP_SK_N) - 1;
    if (r->op == TP_SUB_OP_SUBSCRIBE) {
        if (!r->has_instr) return fail(r, "missing 'instruments'", NULL);
        /* Check room first so that a failed subscribe changes nothing. No kinds ("kinds": [])
         * subscribes nothing: no name is kept that no kind uses. */
        uint32_t fresh = 0, ninstr = kinds ? r->ninstr : 0;
        for (uint32_t i = 0; i < ninstr; i++) fresh += find_name(s, r->instr[i]) < 0;
        if (s->nnames + fresh > TP_SUB_MAX_NAMES)
            return fail(r, "too many instruments (at most 64)", NULL);
        for (uint32_t i = 0; i < ninstr; i++) {
            int at = find_name(s, r->instr[i]);
            if (at < 0) {
                at = (int)s->nnames++;
                memcpy(s->names[at], r->instr[i], sizeof(s->names[at]));
                s->ids[at] = tp_instr_find(r->instr[i], strlen(r->instr[i]));
            }
            for (int k = 0; k < TP_SK_N; k++)
                if (kinds & (1u << k)) s->mask[k] |= UINT64_C(1) << at;
        }
        for (int k = 0; k < TP_SK_N; k++)
            if (r->star && (kinds & (1u << k))) s->all[k] = true;
        if (r->has_iv) {
            s->nintervals = r->niv;
            memcpy(s->intervals, r->iv, sizeof(r->iv[0]) * r->niv);
        }
        return 0;
    }
    /* Unsubscribe: no instruments (or "*") means every instrument of those kinds. */
    bool everything = !r->has_instr || r->star;
    for (int k = 0; k < TP_SK_N; k++) {
        if (!(kinds & (1u << k))) continue;
        if (everything) {
            s->all[k] = false;
            s->mask[k] = 0;
            continue;
        }
        for (uint32_t i = 0; i < r->ninstr; i++) {
            int at = find_name(s, r->instr[i]);
            if (at >= 0) s->mask[k] &= ~(UINT64_C(1) << at);
        }
    }
    for (uint32_t i = s->nnames; i-- > 0;) {
        bool used = false;
        for (int k = 0; k < TP_SK_N; k++) used |= (s->mask[k] >> i) & 1;
        if (!used) remove_name(s, i);
    }
    return 0;
}

int tp_sub_message(struct tp_sub *s, const char *msg, size_t n, enum tp_sub_op *op, char *err,
                   size_t errcap)
{
    struct req *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errcap, "out of memory");
        return -ENOMEM;
    }
    r->err = err;
    r->errcap = errcap;
    if (errcap) err[0] = 0;
    int rc;
    if (n > TP_SUB_MAX_MSG) {
        rc = fail(r, "message too long", NULL);
        goto out_free;
    }
    rc = tp_json_flat_parse(msg, n, on_field, r);
    if (rc) {
        if (!err[0]) /* the parser failed, not a field: say what is expected */
            fail(r,
                 rc == -E2BIG ? "string too long"
                              : "bad message: expected a JSON object of strings and string arrays",
                 NULL);
        rc = -EINVAL;
        goto out_free;
    }
    if (!r->op) {
        rc = fail(r, "missing 'op'", NULL);
        goto out_free;
    }
    if (r->op != TP_SUB_OP_PING && (rc = apply(s, r))) goto out_free;
    *op = (enum tp_sub_op)r->op;
out_free:
    free(r);
    return rc;
}

int tp_sub_query(struct tp_sub *s, const char *instruments, const char *kinds,
                 const char *intervals, char *err, size_t errcap)
{
    struct req *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->err = err;
    r->errcap = errcap;
    r->op = TP_SUB_OP_SUBSCRIBE;
    int rc = 0;
    const char *param = "instruments";
    if (instruments && (rc = add_csv(r, instruments, add_instr))) goto out_name;
    param = "kinds";
    if (kinds && (rc = add_csv(r, kinds, add_kind))) goto out_name;
    param = "intervals";
    if (intervals && (rc = add_csv(r, intervals, add_iv))) goto out_name;
    param = "instruments";
    if (r->has_instr && (rc = apply(s, r))) goto out_name;
    goto out_free;
out_name:
    /* Name the URL parameter, as the API's 400s do. */
    if (errcap) {
        char why[160];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errcap, "bad parameter '%s': %s", param, why);
    }
out_free:
    free(r);
    return rc;
}

static void resolve(struct tp_sub *s)
{
    uint32_t count = tp_instr_count();
    if (count == s->resolved_at) return;
    s->resolved_at = count;
    for (uint32_t i = 0; i < s->nnames; i++)
        if (!s->ids[i]) s->ids[i] = tp_instr_find(s->names[i], strlen(s->names[i]));
}

bool tp_sub_match(struct tp_sub *s, enum tp_sk k, uint32_t instr, int64_t interval_ns)
{
    if ((k == TP_SK_BARS || k == TP_SK_FINAL_BARS) && s->nintervals) {
        bool ok = false;
        for (uint32_t i = 0; i < s->nintervals && !ok; i++) ok = s->intervals[i] == interval_ns;
        if (!ok) return false;
    }
    if (s->all[k]) return true;
    if (!s->mask[k]) return false;
    resolve(s);
    for (uint32_t i = 0; i < s->nnames; i++)
        if (((s->mask[k] >> i) & 1) && s->ids[i] == instr && instr) return true;
    return false;
}

unsigned tp_sub_kinds(const struct tp_sub *s)
{
    unsigned m = 0;
    for (int k = 0; k < TP_SK_N; k++)
        if (s->all[k] || s->mask[k]) m |= 1u << k;
    return m;
}

void tp_sub_describe(struct tp_jw *w, const struct tp_sub *s)
{
    tp_jw_obj(w);
    tp_jw_key(w, "type");
    tp_jw_str(w, "subscribed");
    tp_jw_key(w, "kinds");
    tp_jw_obj(w);
    for (int k = 0; k < TP_SK_N; k++) {
        if (!s->all[k] && !s->mask[k]) continue;
        tp_jw_key(w, sk_names[k]);
        tp_jw_arr(w);
        if (s->all[k]) tp_jw_str(w, "*");
        for (uint32_t i = 0; i < s->nnames; i++)
            if ((s->mask[k] >> i) & 1) tp_jw_str(w, s->names[i]);
        tp_jw_arr_end(w);
    }
    tp_jw_obj_end(w);
    tp_jw_key(w, "intervals");
    tp_jw_arr(w);
    for (uint32_t i = 0; i < s->nintervals; i++) tp_jw_dur(w, s->intervals[i]);
    tp_jw_arr_end(w);
    tp_jw_obj_end(w);
}

/* ---- Messages ---- */

#define SMSG_MAX (16u << 20)

struct tp_smsg *tp_smsg_new(const char *text, size_t n)
{
    if (n > SMSG_MAX) return NULL;
    struct tp_smsg *m = malloc(sizeof(*m) + TP_SMSG_PRE + n + 1);
    if (!m) return NULL;
    m->refs = 1;
    m->len = (uint32_t)n;
    m->coalesce = false;
    m->instr = 0;
    m->interval_ns = m->ts = 0;
    memcpy(m->data + TP_SMSG_PRE, text, n);
    m->data[TP_SMSG_PRE + n] = 0;
    return m;
}

void tp_smsg_unref(struct tp_smsg *m)
{
    if (m && --m->refs == 0) free(m);
}

/* ---- Queues ---- */

#define COALESCE_SCAN 64 /* how far back a bar update looks for its predecessor */

int tp_squeue_init(struct tp_squeue *q, uint32_t cap, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    if (cap < 1 || cap > (1u << 20)) return -EINVAL;
    q->v = calloc(cap + 1, sizeof(*q->v)); /* + 1: room for the forced `lagged` message */
    if (!q->v) return -ENOMEM;
    q->cap = cap;
    q->max_bytes = max_bytes;
    return 0;
}

void tp_squeue_clear(struct tp_squeue *q)
{
    while (q->n) tp_squeue_pop(q);
}

void tp_squeue_fini(struct tp_squeue *q)
{
    if (!q->v) return;
    tp_squeue_clear(q);
    free(q->v);
    q->v = NULL;
}

static uint32_t slot(const struct tp_squeue *q, uint32_t i)
{
    return (q->head + i) % (q->cap + 1);
}

int tp_squeue_push(struct tp_squeue *q, struct tp_smsg *m)
{
    if (m->coalesce) {
        for (uint32_t back = 0; back < q->n && back < COALESCE_SCAN; back++) {
            uint32_t at = slot(q, q->n - 1 - back);
            struct tp_smsg *o = q->v[at];
            if (o->coalesce && o->instr == m->instr && o->interval_ns == m->interval_ns &&
                o->ts == m->ts) {
                q->bytes = q->bytes - o->len + m->len;
                m->refs++;
                q->v[at] = m;
                tp_smsg_unref(o);
                return 1;
            }
        }
    }
    if (q->n >= q->cap || (q->n && q->bytes + m->len > q->max_bytes)) return -ENOBUFS;
    m->refs++;
    q->v[slot(q, q->n)] = m;
    q->n++;
    q->bytes += m->len;
    return 0;
}

void tp_squeue_force(struct tp_squeue *q, struct tp_smsg *m)
{
    if (q->n > q->cap) return; /* the spare slot is taken already */
    m->refs++;
    q->v[slot(q, q->n)] = m;
    q->n++;
    q->bytes += m->len;
}

void tp_squeue_pop(struct tp_squeue *q)
{
    if (!q->n) return;
    struct tp_smsg *m = q->v[q->head];
    q->v[q->head] = NULL;
    q->head = (q->head + 1) % (q->cap + 1);
    q->n--;
    q->bytes -= m->len;
    tp_smsg_unref(m);
}

static void lag(struct tp_sclient *c, uint64_t dropped)
{
    c->dropped = dropped;
    tp_squeue_clear(&c->q);
    char text[160];
    int n = snprintf(text, sizeof(text),
                     "{\"type\":\"lagged\",\"dropped\":%llu,\"queue\":%u,"
                     "\"error\":\"the client fell behind and is disconnected\"}",
                     (unsigned long long)dropped, c->q.cap);
    struct tp_smsg *m = tp_smsg_new(text, (size_t)n);
    if (m) {
        tp_squeue_force(&c->q, m);
        tp_smsg_unref(m);
    }
    c->state = TP_SC_LAGGED;
}

void tp_sclient_lag(struct tp_sclient *c)
{
    if (c->state == TP_SC_OPEN) lag(c, c->q.n);
}

bool tp_sclient_offer(struct tp_sclient *c, struct tp_smsg *m)
{
    if (c->state != TP_SC_OPEN) return false;
    if (tp_squeue_push(&c->q, m) >= 0) return false;
    lag(c, c->q.n + 1ull); /* the queued messages and m itself */
    return true;
}
