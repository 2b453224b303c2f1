/*
 * venue.c — the venue registry, parser state, the parse driver (time order and gap
 * detection) and the helpers venue_<name>.c share (see venue.h, venue_int.h).
 *
 * The symbol table is open addressing over indices into a growable array of struct tp_vsym
 * (capped at max_symbols); the hash is rebuilt when the array grows, so hooks refer to symbols
 * by index, never by pointer across a lookup. Ordering: a batch already in order costs one
 * comparison per event; a newest-first batch is reversed; anything else is merge-sorted
 * through an index permutation (stable, O(n log n), events moved once along the permutation's
 * cycles).
 */
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "source/venue_int.h"

extern const struct tp_venue tp_venue_binance, tp_venue_coinbase, tp_venue_okx, tp_venue_kraken,
    tp_venue_bybit, tp_venue_bitstamp, tp_venue_finnhub;

static const struct tp_venue *const registry[] = {
    &tp_venue_binance, &tp_venue_coinbase, &tp_venue_okx,     &tp_venue_kraken,
    &tp_venue_bybit,   &tp_venue_bitstamp, &tp_venue_finnhub,
};

const struct tp_venue *tp_venue_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < TP_ARRAY_LEN(registry); i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const struct tp_venue *tp_venue_at(size_t i)
{
    return i < TP_ARRAY_LEN(registry) ? registry[i] : NULL;
}

static const char *const vmsg_names[TP_VMSG_COUNT] = {
    "failed", "data", "ignored",   "subscribed", "ack",       "error",
    "ping",   "pong", "heartbeat", "status",     "reconnect",
};

static const char *const vreason_names[TP_VR_COUNT] = {
    "",         "bad_json",   "too_big", "unknown_type",    "bad_field",        "bad_number",
    "bad_time", "bad_symbol", "bad_id",  "too_many_events", "too_many_symbols",
};

const char *tp_vmsg_name(enum tp_vmsg t)
{
    return (unsigned)t < TP_VMSG_COUNT ? vmsg_names[t] : "?";
}

const char *tp_vreason_name(enum tp_vreason r)
{
    return (unsigned)r < TP_VR_COUNT ? vreason_names[r] : "?";
}

/* ---- parser lifecycle ---------------------------------------------------------------- */

#define SYMS_DEFAULT 4096u
#define SYMS_LIMIT   (1u << 20)

int tp_venue_parser_new(const struct tp_venue *v, const struct tp_venue_opts *opts,
                        struct tp_venue_parser **ret)
{
    if (!v) return -EINVAL;
    const char *market = opts && opts->market ? opts->market : "";
    if (strlen(market) >= sizeof((struct tp_venue_parser *)0)->market) return -EINVAL;
    /* Only bybit has markets whose symbols collide. */
    if (*market && !(strcmp(v->name, "bybit") == 0 &&
                     (!strcmp(market, "spot") || !strcmp(market, "linear") ||
                      !strcmp(market, "inverse") || !strcmp(market, "option"))))
        return -EINVAL;
    struct tp_venue_parser *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->v = v;
    memcpy(p->market, market, strlen(market) + 1);
    tp_json_init(&p->j, opts ? opts->max_tokens : 0, 0);
    uint32_t ms = opts && opts->max_symbols ? opts->max_symbols : SYMS_DEFAULT;
    p->max_syms = ms > SYMS_LIMIT ? SYMS_LIMIT : ms;
    *ret = p;
    return 0;
}

void tp_venue_parser_free(struct tp_venue_parser *p)
{
    if (!p) return;
    tp_json_fini(&p->j);
    free(p->syms);
    free(p->hash);
    free(p->meta);
    free(p->perm);
    free(p->perm2);
    free(p->gapv);
    free(p->bars);
    free(p);
}

const struct tp_venue *tp_venue_parser_venue(const struct tp_venue_parser *p)
{
    return p->v;
}

const char *tp_venue_parser_market(const struct tp_venue_parser *p)
{
    return p->market;
}

const struct tp_venue_stats *tp_venue_parser_stats(const struct tp_venue_parser *p)
{
    return &p->st;
}

/* ---- the driver ---------------------------------------------------------------------- */

static int grow_scratch(struct tp_venue_parser *p, size_t n)
{
    if (n <= p->perm_cap) return 0;
    size_t nc = p->perm_cap ? p->perm_cap : 64;
    while (nc < n) nc *= 2;
    uint32_t *a = realloc(p->perm, nc * sizeof *a);
    if (!a) return -ENOMEM;
    p->perm = a;
    uint32_t *b = realloc(p->perm2, nc * sizeof *b);
    if (!b) return -ENOMEM;
    p->perm2 = b;
    p->perm_cap = nc;
    return 0;
}

static void swap_ev(struct tp_event *ev, struct tp_vmeta *m, size_t a, size_t b)
{
    struct tp_event t = ev[a];
    ev[a] = ev[b];
    ev[b] = t;
    struct tp_vmeta tm = m[a];
    m[a] = m[b];
    m[b] = tm;
}

static bool sorted(const struct tp_event *ev, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (ev[i].ts < ev[i - 1].ts) return false;
    return true;
}

static bool sorted_desc(const struct tp_event *ev, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (ev[i].ts > ev[i - 1].ts) return false;
    return true;
}

static void reverse(struct tp_event *ev, struct tp_vmeta *m, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) swap_ev(ev, m, i, n - 1 - i);
}

/* Puts ev[0..n) in time order (see the file comment). 0 or -ENOMEM. */
static int order(struct tp_venue_parser *p, struct tp_event *ev, size_t n)
{
    struct tp_vmeta *m = p->meta;
    if (sorted(ev, n)) {
        /* All at one time, listed newest-first by id (Coinbase snapshots): reverse. */
        if (ev[0].ts == ev[n - 1].ts && ev[0].instr == ev[n - 1].instr &&
            (ev[0].flags & ev[n - 1].flags & TP_EV_HAS_ID) &&
            !((ev[0].flags | ev[n - 1].flags) & TP_EV_ID_STR) &&
            ev[0].trade_id > ev[n - 1].trade_id)
            reverse(ev, m, n);
        return 0;
    }
    /* A newest-first list: reversed, its equal times come out oldest-first too. */
    if (sorted_desc(ev, n)) {
        reverse(ev, m, n);
        return 0;
    }
    if (grow_scratch(p, n) < 0) return -ENOMEM;
    uint32_t *a = p->perm, *b = p->perm2;
    for (size_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    /* bottom-up stable merge sort of indices by ts */
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = TP_MIN(lo + w, n), hi = TP_MIN(lo + 2 * w, n);
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = ev[a[j]].ts < ev[a[i]].ts ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    /* apply: position k receives event a[k]; follow each cycle once */
    for (size_t k = 0; k < n; k++) {
        if (a[k] == k || a[k] == UINT32_MAX) continue;
        struct tp_event tmp = ev[k];
        struct tp_vmeta tmeta = m[k];
        size_t j = k;
        for (;;) {
            size_t src = a[j];
            a[j] = UINT32_MAX;
            if (src == k) {
                ev[j] = tmp;
                m[j] = tmeta;
                break;
            }
            ev[j] = ev[src];
            m[j] = m[src];
            j = src;
        }
    }
    return 0;
}

/* Gap detection over the ordered events; inserts TP_ST_GAP events. Returns the new count or
 * a failure. */
static int detect_gaps(struct tp_vctx *c)
{
    struct tp_venue_parser *p = c->p;
    size_t ngap = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct tp_vmeta *m = &p->meta[i];
        const struct tp_event *e = &c->ev[i];
        if (!m->stream || (e->flags & (TP_EV_HAS_ID | TP_EV_ID_STR)) != TP_EV_HAS_ID) continue;
        struct tp_vsym *s = &p->syms[m->sym];
        unsigned k = m->stream - 1u, bit = 1u << k;
        uint64_t id = e->trade_id;
        if (s->have_id & bit) {
            uint64_t last = s->last_id[k];
            if (id > last && id - last > 1) {
                if (ngap == p->gap_cap) {
                    size_t nc = p->gap_cap ? p->gap_cap * 2 : 16;
                    struct tp_vgap *g = realloc(p->gapv, nc * sizeof *g);
                    if (!g) return tp_vc_fail(c, TP_VR_EVENTS, "out of memory");
                    p->gapv = g;
                    p->gap_cap = nc;
                }
                p->gapv[ngap++] = (struct tp_vgap){(uint32_t)i, last + 1, id - 1};
            }
            if (id > last) s->last_id[k] = id;
        } else {
            s->have_id |= (uint8_t)bit;
            s->last_id[k] = id;
        }
    }
    if (!ngap) return (int)c->n;
    if (c->n + ngap > c->cap) return tp_vc_fail(c, TP_VR_EVENTS, "no room for gap events");
    size_t w = c->n + ngap;
    size_t gi = ngap;
    for (size_t i = c->n; i-- > 0;) {
        c->ev[--w] = c->ev[i];
        if (gi && p->gapv[gi - 1].pos == i) {
            const struct tp_vgap *g = &p->gapv[--gi];
            const struct tp_event *t = &c->ev[w];
            struct tp_event *e = &c->ev[--w];
            tp_event_init(e, TP_KIND_STATUS);
            e->status = TP_ST_GAP;
            e->instr = t->instr;
            e->ts = t->ts;
            e->ts_recv = t->ts_recv;
            e->flags = (uint16_t)(t->flags & TP_EV_TS_VENUE);
            e->trade_id = g->first;
            e->gap_last = g->last;
            tp_event_set_vsym(e, t->venue_symbol, t->vsym_len);
        }
    }
    c->n += ngap;
    c->res->gaps += (uint32_t)ngap;
    return (int)c->n;
}

int tp_venue_parse(struct tp_venue_parser *p, const char *msg, size_t len, int64_t recv_ns,
                   struct tp_event *ev, size_t cap, struct tp_venue_result *res)
{
    res->type = TP_VMSG_NONE;
    res->reason = TP_VR_NONE;
    res->gaps = 0;
    res->has_req_id = res->has_code = res->seq_gap = false;
    res->req_id = res->code = 0;
    res->seq_first = res->seq_last = 0;
    res->text_len = res->reply_len = 0;
    res->text[0] = res->reply[0] = 0;
    struct tp_vctx c = {.p = p, .j = &p->j, .ev = ev, .cap = cap, .res = res, .recv = recv_ns};
    p->st.messages++;
    int rc = p->v->parse(&c, msg, len);
    if (rc >= 0 && res->type == TP_VMSG_NONE) rc = tp_vc_fail(&c, TP_VR_UNKNOWN, NULL);
    if (rc >= 0 && c.n > 1 && order(p, ev, c.n) < 0)
        rc = tp_vc_fail(&c, TP_VR_EVENTS, "out of memory");
    if (rc >= 0 && c.n) rc = detect_gaps(&c);
    if (rc < 0) {
        res->type = TP_VMSG_NONE;
        res->gaps = 0;
        if (res->reason == TP_VR_NONE) res->reason = TP_VR_FIELD;
        p->st.failed++;
        p->st.by_reason[res->reason]++;
        p->st.by_type[TP_VMSG_NONE]++;
        return res->reason == TP_VR_EVENTS ? -E2BIG : -EINVAL;
    }
    p->st.by_type[res->type]++;
    p->st.events += c.n;
    p->st.gaps += res->gaps;
    if (res->seq_gap) p->st.seq_gaps++;
    return (int)c.n;
}

int tp_venue_instrument(const struct tp_venue *v, const char *market, const char *sym, char *out,
                        size_t cap, char native[TP_VSYM_MAX + 1])
{
    /* How each venue spells a pair in its data (not always as in its requests: Binance
     * subscribes "btcusdt" and sends "BTCUSDT"). Finnhub's symbols are used as given. */
    static const struct {
        const char *name;
        char sep;
        bool lower;
    } spell[] = {
        {"binance", 0, false},  {"coinbase", '-', false}, {"okx", '-', false},
        {"kraken", '/', false}, {"bybit", 0, false},      {"bitstamp", 0, true},
    };
    int n = -EINVAL;
    for (size_t i = 0; i < TP_ARRAY_LEN(spell); i++)
        if (!strcmp(v->name, spell[i].name))
            n = tp_vb_native(sym, spell[i].sep, spell[i].lower, native, TP_VSYM_MAX + 1);
    if (!strcmp(v->name, "finnhub")) {
        size_t l = strlen(sym);
        if (!l || l > TP_VSYM_MAX) return -EINVAL;
        for (size_t k = 0; k < l; k++)
            if ((unsigned char)sym[k] <= 0x20 || (unsigned char)sym[k] > 0x7e) return -EINVAL;
        memcpy(native, sym, l + 1);
        n = (int)l;
    }
    if (n <= 0) return -EINVAL;
    const char *mk = market ? market : "";
    int nl = v->normalize ? v->normalize(mk, native, (size_t)n, out, cap)
                          : tp_instr_normalize(v->name, native, (size_t)n, out, cap);
    if (nl <= 0 || (size_t)nl >= cap) return -EINVAL;
    return nl;
}

bool tp_venue_parser_tracks_ids(const struct tp_venue_parser *p, uint32_t instr)
{
    for (uint32_t i = 0; i < p->nsyms; i++)
        if (p->syms[i].instr == instr && p->syms[i].have_id) return true;
    return false;
}

void tp_venue_parser_new_connection(struct tp_venue_parser *p)
{
    p->have_seq = false;
    p->last_seq = 0;
}

int tp_venue_subscribe(const struct tp_venue *v, const struct tp_venue_sub *sub, struct tp_buf *out)
{
    if (!sub || !sub->nsymbols || !sub->symbols) return -EINVAL;
    if (sub->channels & ~v->channels) return -ENOTSUP;
    if (!(sub->channels & (TP_VCH_TRADES | TP_VCH_QUOTES | TP_VCH_BARS | TP_VCH_HEARTBEAT)))
        return -EINVAL;
    size_t keep = out->len;
    int rc = v->subscribe(sub, out);
    if (rc < 0) out->len = keep;
    return rc;
}

int tp_venue_ping(const struct tp_venue *v, uint64_t req_id, struct tp_buf *out)
{
    if (!v->ping) return -ENOTSUP;
    return v->ping(req_id, out);
}

/* ---- helpers for the venue files ---------------------------------------------------- */

int tp_vc_fail(struct tp_vctx *c, enum tp_vreason r, const char *what)
{
    c->res->reason = r;
    if (what) tp_vc_text(c, what, strlen(what));
    return r == TP_VR_EVENTS ? -E2BIG : -EINVAL;
}

int tp_vc_ctl(struct tp_vctx *c, enum tp_vmsg type)
{
    c->res->type = type;
    return 0;
}

int tp_vc_json(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_json_parse(c->j, msg, len);
    if (rc == 0) return 0;
    char what[96];
    snprintf(what, sizeof what, "%s at byte %zu", tp_json_strerror(c->j->err), c->j->err_off);
    return tp_vc_fail(c, rc == -EINVAL ? TP_VR_JSON : TP_VR_TOO_BIG, what);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static int grow_syms(struct tp_venue_parser *p)
{
    uint32_t nc = p->syms_cap ? p->syms_cap * 2 : 16;
    if (nc > p->max_syms) nc = p->max_syms;
    struct tp_vsym *s = realloc(p->syms, (size_t)nc * sizeof *s);
    if (!s) return -ENOMEM;
    p->syms = s;
    p->syms_cap = nc;
    uint32_t hc = 32;
    while (hc < 2 * nc) hc *= 2;
    uint32_t *h = calloc(hc, sizeof *h);
    if (!h) return -ENOMEM;
    for (uint32_t i = 0; i < p->nsyms; i++) {
        uint32_t k = (uint32_t)fnv1a(p->syms[i].sym, p->syms[i].len) & (hc - 1);
        while (h[k]) k = (k + 1) & (hc - 1);
        h[k] = i + 1;
    }
    free(p->hash);
    p->hash = h;
    p->hcap = hc;
    return 0;
}

int tp_vc_sym(struct tp_vctx *c, const char *s, size_t n)
{
    struct tp_venue_parser *p = c->p;
    if (n == 0 || n > TP_VSYM_MAX) return tp_vc_fail(c, TP_VR_SYMBOL, "symbol empty or too long");
    uint64_t h = fnv1a(s, n);
    if (p->hcap) {
        for (uint32_t k = (uint32_t)h & (p->hcap - 1);; k = (k + 1) & (p->hcap - 1)) {
            uint32_t id = p->hash[k];
            if (!id) break;
            const struct tp_vsym *e = &p->syms[id - 1];
            if (e->len == n && !memcmp(e->sym, s, n)) return (int)(id - 1);
        }
    }
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] > 0x7e)
            return tp_vc_fail(c, TP_VR_SYMBOL, "symbol has a non-printable byte");
    if (p->nsyms >= p->max_syms) return tp_vc_fail(c, TP_VR_SYMBOLS, "symbol table full");
    char name[TP_INSTR_NAMELEN + 1];
    int nl = p->v->normalize ? p->v->normalize(p->market, s, n, name, sizeof name)
                             : tp_instr_normalize(p->v->name, s, n, name, sizeof name);
    if (nl <= 0) return tp_vc_fail(c, TP_VR_SYMBOL, "symbol does not normalize");
    uint32_t instr;
    int rc = tp_instr_intern(name, (size_t)nl, &instr);
    if (rc == -ENOSPC) return tp_vc_fail(c, TP_VR_SYMBOLS, "instrument table full");
    if (rc < 0) return tp_vc_fail(c, TP_VR_SYMBOL, "not a valid instrument name");
    if (p->nsyms == p->syms_cap && grow_syms(p) < 0)
        return tp_vc_fail(c, TP_VR_SYMBOLS, "out of memory");
    uint32_t idx = p->nsyms++;
    struct tp_vsym *e = &p->syms[idx];
    memset(e, 0, sizeof *e);
    memcpy(e->sym, s, n);
    e->len = (uint8_t)n;
    e->instr = instr;
    uint32_t k = (uint32_t)h & (p->hcap - 1);
    while (p->hash[k]) k = (k + 1) & (p->hcap - 1);
    p->hash[k] = idx + 1;
    return (int)idx;
}

int tp_vc_sym_tok(struct tp_vctx *c, int tok)
{
    if (tp_json_type(c->j, tok) != TP_JSON_STRING)
        return tp_vc_fail(c, TP_VR_FIELD, "symbol missing");
    if (!c->j->tok[tok].esc) return tp_vc_sym(c, tp_json_text(c->j, tok), tp_json_len(c->j, tok));
    char buf[TP_VSYM_MAX + 1];
    int n = tp_json_unescape(c->j, tok, buf, sizeof buf);
    if (n < 0) return tp_vc_fail(c, TP_VR_SYMBOL, "symbol too long");
    return tp_vc_sym(c, buf, (size_t)n);
}

struct tp_event *tp_vc_add(struct tp_vctx *c, enum tp_kind kind, int si, int stream)
{
    struct tp_venue_parser *p = c->p;
    if (c->n >= c->cap) {
        tp_vc_fail(c, TP_VR_EVENTS, "more events than the output holds");
        return NULL;
    }
    if (c->n >= p->meta_cap) {
        size_t nc = p->meta_cap ? p->meta_cap * 2 : 64;
        struct tp_vmeta *m = realloc(p->meta, nc * sizeof *m);
        if (!m) {
            tp_vc_fail(c, TP_VR_EVENTS, "out of memory");
            return NULL;
        }
        p->meta = m;
        p->meta_cap = nc;
    }
    const struct tp_vsym *s = &p->syms[si];
    p->meta[c->n] = (struct tp_vmeta){(uint32_t)si, (uint8_t)stream};
    struct tp_event *e = &c->ev[c->n++];
    tp_event_init(e, kind);
    e->instr = s->instr;
    e->ts = e->ts_recv = c->recv;
    if (c->snapshot) e->flags |= TP_EV_SNAPSHOT;
    memcpy(e->venue_symbol, s->sym, s->len);
    e->venue_symbol[s->len] = 0;
    e->vsym_len = s->len;
    return e;
}

static int num_fail(struct tp_vctx *c, const char *what, const char *why)
{
    char t[96];
    snprintf(t, sizeof t, "%s: %s", what, why);
    return tp_vc_fail(c, TP_VR_NUMBER, t);
}

int tp_vc_num(struct tp_vctx *c, int tok, const char *what, double *ret)
{
    if (tok < 0) {
        char t[96];
        snprintf(t, sizeof t, "%s missing", what);
        return tp_vc_fail(c, TP_VR_FIELD, t);
    }
    if (tp_json_f64(c->j, tok, ret) < 0) return num_fail(c, what, "not a number");
    return 0;
}

int tp_vc_price(struct tp_vctx *c, int tok, const char *what, double *ret)
{
    int rc = tp_vc_num(c, tok, what, ret);
    if (rc < 0) return rc;
    if (!(*ret > 0)) return num_fail(c, what, "not positive");
    return 0;
}

int tp_vc_size(struct tp_vctx *c, int tok, const char *what, double *ret)
{
    int rc = tp_vc_num(c, tok, what, ret);
    if (rc < 0) return rc;
    if (!(*ret >= 0)) return num_fail(c, what, "negative");
    return 0;
}

int tp_vc_time(struct tp_vctx *c, int tok, const char *what, int64_t *ret)
{
    char t[96];
    enum tp_json_type ty = tp_json_type(c->j, tok);
    if (ty != TP_JSON_NUMBER && ty != TP_JSON_STRING) {
        snprintf(t, sizeof t, "%s missing", what);
        return tp_vc_fail(c, TP_VR_FIELD, t);
    }
    const char *s = tp_json_text(c->j, tok);
    size_t n = tp_json_len(c->j, tok);
    if ((ty == TP_JSON_STRING && c->j->tok[tok].esc) || n == 0 ||
        tp_time_parse(s, n, TP_TS_AUTO, ret) < 0) {
        snprintf(t, sizeof t, "%s: not a time", what);
        return tp_vc_fail(c, TP_VR_TIME, t);
    }
    return 0;
}

int tp_vc_id(struct tp_vctx *c, struct tp_event *e, int tok)
{
    uint64_t id;
    enum tp_json_type ty = tp_json_type(c->j, tok);
    if (ty != TP_JSON_NUMBER && ty != TP_JSON_STRING)
        return tp_vc_fail(c, TP_VR_FIELD, "trade id missing");
    if (tp_json_u64(c->j, tok, &id) == 0) {
        tp_event_set_id(e, id);
        return 0;
    }
    char buf[TP_TRADE_ID_MAX + 1];
    int n;
    if (ty == TP_JSON_STRING) {
        n = tp_json_unescape(c->j, tok, buf, sizeof buf);
    } else { /* a number that is not a canonical u64 (negative, fractional): keep its text */
        n = tp_json_len(c->j, tok) <= TP_TRADE_ID_MAX ? (int)tp_json_len(c->j, tok) : -E2BIG;
        if (n > 0) memcpy(buf, tp_json_text(c->j, tok), (size_t)n);
    }
    if (n <= 0 || n > TP_TRADE_ID_MAX) return tp_vc_fail(c, TP_VR_ID, "trade id empty or too long");
    if (memchr(buf, 0, (size_t)n)) return tp_vc_fail(c, TP_VR_ID, "trade id holds a NUL");
    tp_event_set_id_str(e, buf, (size_t)n);
    return 0;
}

void tp_vc_text(struct tp_vctx *c, const char *s, size_t n)
{
    c->res->text_len = 0;
    tp_vc_text_append(c, s, n);
}

void tp_vc_text_append(struct tp_vctx *c, const char *s, size_t n)
{
    struct tp_venue_result *r = c->res;
    size_t room = TP_VENUE_TEXT_MAX - r->text_len;
    if (n > room) n = room;
    memcpy(r->text + r->text_len, s, n);
    r->text_len = (uint16_t)(r->text_len + n);
    r->text[r->text_len] = 0;
}

void tp_vc_text_tok(struct tp_vctx *c, int tok)
{
    struct tp_venue_result *r = c->res;
    if (tok < 0) return;
    if (tp_json_type(c->j, tok) == TP_JSON_STRING) {
        int n = tp_json_unescape(c->j, tok, r->text, sizeof r->text);
        r->text_len = (uint16_t)(n < 0 ? TP_VENUE_TEXT_MAX : n);
        r->text[r->text_len] = 0;
        return;
    }
    tp_vc_text(c, tp_json_text(c->j, tok), tp_json_len(c->j, tok));
}

void tp_vc_reply(struct tp_vctx *c, const char *s, size_t n)
{
    struct tp_venue_result *r = c->res;
    if (n > TP_VENUE_REPLY_MAX) n = TP_VENUE_REPLY_MAX;
    memcpy(r->reply, s, n);
    r->reply[n] = 0;
    r->reply_len = (uint16_t)n;
}

static bool tok_i64(struct tp_vctx *c, int tok, int64_t *v)
{
    enum tp_json_type t = tp_json_type(c->j, tok);
    return (t == TP_JSON_NUMBER || t == TP_JSON_STRING) && tp_json_i64(c->j, tok, v) == 0;
}

void tp_vc_req_id(struct tp_vctx *c, int tok)
{
    int64_t v;
    if (tok_i64(c, tok, &v)) {
        c->res->req_id = v;
        c->res->has_req_id = true;
    }
}

void tp_vc_code(struct tp_vctx *c, int tok)
{
    int64_t v;
    if (tok_i64(c, tok, &v)) {
        c->res->code = v;
        c->res->has_code = true;
    }
}

void tp_vc_seq(struct tp_vctx *c, uint64_t seq)
{
    struct tp_venue_parser *p = c->p;
    if (p->have_seq && seq > p->last_seq && seq - p->last_seq > 1) {
        c->res->seq_gap = true;
        c->res->seq_first = p->last_seq + 1;
        c->res->seq_last = seq - 1;
    }
    if (!p->have_seq || seq > p->last_seq) p->last_seq = seq;
    p->have_seq = true;
}

int tp_vc_id_seen(struct tp_vctx *c, int si, int stream, uint64_t id, int64_t ts, bool ts_venue)
{
    struct tp_vsym *s = &c->p->syms[si];
    unsigned k = (unsigned)stream - 1u, bit = 1u << k;
    if (!(s->have_id & bit) || id <= s->last_id[k]) return 0; /* nothing to compare with */
    uint64_t last = s->last_id[k];
    s->last_id[k] = id; /* ids last+1 ..= id exist and were not seen */
    struct tp_event *e = tp_vc_add(c, TP_KIND_STATUS, si, 0);
    if (!e) return TP_VC_FULL(c);
    e->flags &= (uint16_t)~TP_EV_SNAPSHOT;
    e->status = TP_ST_GAP;
    e->trade_id = last + 1;
    e->gap_last = id;
    if (ts_venue) tp_vc_ts(e, ts);
    c->res->gaps++;
    return 0;
}

bool tp_vc_empty(const struct tp_vctx *c, int tok)
{
    enum tp_json_type t = tp_json_type(c->j, tok);
    return t == TP_JSON_NONE || t == TP_JSON_NULL ||
           (t == TP_JSON_STRING && c->j->tok[tok].len == 0);
}

int tp_vc_quote(struct tp_vctx *c, int si, int bid, int bid_sz, int ask, int ask_sz, int64_t ts,
                bool ts_venue)
{
    double b, a, bq = NAN, aq = NAN;
    int rc;
    if (tp_vc_empty(c, bid) || tp_vc_empty(c, ask)) {
        if (bid < 0 || ask < 0)
            return tp_vc_fail(c, TP_VR_FIELD, bid < 0 ? "bid missing" : "ask missing");
        return 0;
    }
    if ((rc = tp_vc_num(c, bid, "bid", &b)) < 0 || (rc = tp_vc_num(c, ask, "ask", &a)) < 0)
        return rc;
    if (!tp_vc_empty(c, bid_sz) && (rc = tp_vc_size(c, bid_sz, "bid size", &bq)) < 0) return rc;
    if (!tp_vc_empty(c, ask_sz) && (rc = tp_vc_size(c, ask_sz, "ask size", &aq)) < 0) return rc;
    if (!(b > 0) || !(a > 0)) return 0;
    struct tp_event *e = tp_vc_add(c, TP_KIND_QUOTE, si, 0);
    if (!e) return TP_VC_FULL(c);
    e->bid = b;
    e->ask = a;
    e->bid_size = bq;
    e->ask_size = aq;
    if (ts_venue) tp_vc_ts(e, ts);
    return 0;
}

int tp_vc_bar(struct tp_vctx *c, int si, int64_t start, double o, double h, double l, double cl,
              double v)
{
    struct tp_event *e = tp_vc_add(c, TP_KIND_VBAR, si, 0);
    if (!e) return TP_VC_FULL(c);
    tp_vc_ts(e, start);
    e->open = o;
    e->high = h;
    e->low = l;
    e->price = cl;
    e->size = v;
    return 0;
}

static struct tp_vbar *find_bar(struct tp_venue_parser *p, int si, const char *chan)
{
    for (uint32_t i = 0; i < p->nbars; i++)
        if (p->bars[i].sym == (uint32_t)si && !strcmp(p->bars[i].chan, chan)) return &p->bars[i];
    return NULL;
}

int64_t tp_vc_bar_pending(struct tp_vctx *c, int si, const char *chan)
{
    const struct tp_vbar *b = find_bar(c->p, si, chan);
    return b ? b->start : INT64_MIN;
}

int tp_vc_bar_update(struct tp_vctx *c, int si, const char *chan, int64_t start, double o, double h,
                     double l, double cl, double v, bool emit_prev)
{
    struct tp_venue_parser *p = c->p;
    if (strlen(chan) >= sizeof p->bars[0].chan) return tp_vc_fail(c, TP_VR_FIELD, "channel name");
    struct tp_vbar *b = find_bar(p, si, chan);
    if (!b) {
        if (p->nbars == TP_VBAR_MAX) return 0; /* untracked: nothing becomes final */
        if (p->nbars == p->bars_cap) {
            uint32_t nc = p->bars_cap ? p->bars_cap * 2 : 8;
            struct tp_vbar *nb = realloc(p->bars, nc * sizeof *nb);
            if (!nb) return tp_vc_fail(c, TP_VR_EVENTS, "out of memory");
            p->bars = nb;
            p->bars_cap = nc;
        }
        b = &p->bars[p->nbars++];
        memset(b, 0, sizeof *b);
        b->sym = (uint32_t)si;
        memcpy(b->chan, chan, strlen(chan));
        b->start = INT64_MIN;
    }
    if (start < b->start) return 0; /* an update of a bar already final */
    if (emit_prev && start > b->start && b->start != INT64_MIN) {
        struct tp_vbar done = *b;
        int rc = tp_vc_bar(c, si, done.start, done.o, done.h, done.l, done.c, done.v);
        if (rc < 0) return rc;
    }
    b->start = start;
    b->recv = c->recv;
    b->o = o;
    b->h = h;
    b->l = l;
    b->c = cl;
    b->v = v;
    return 0;
}

/* ---- builders ------------------------------------------------------------------------ */

int tp_vb_str(struct tp_buf *b, const char *s, size_t n)
{
    int rc = tp_buf_putc(b, '"');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            rc = tp_buf_append(b, esc, 2);
        } else if (ch < 0x20) {
            rc = tp_buf_printf(b, "\\u%04x", ch);
        } else {
            rc = tp_buf_putc(b, (char)ch);
        }
    }
    return rc ? rc : tp_buf_putc(b, '"');
}

int tp_vb_native(const char *in, char sep, bool lower, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *s = in; *s; s++) {
        char ch = *s;
        if (ch == '-' || ch == '/' || ch == '_') {
            if (!sep) continue;
            ch = sep;
        } else if (ch >= 'a' && ch <= 'z') {
            if (!lower) ch = (char)(ch - 'a' + 'A');
        } else if (ch >= 'A' && ch <= 'Z') {
            if (lower) ch = (char)(ch - 'A' + 'a');
        } else if (!((ch >= '0' && ch <= '9') || ch == '.')) {
            return -EINVAL;
        }
        if (o + 1 >= cap) return -EINVAL;
        out[o++] = ch;
    }
    if (!o) return -EINVAL;
    out[o] = 0;
    return (int)o;
}

int tp_vb_interval(const char *iv, unsigned *count, char *unit)
{
    if (!iv) iv = "1m";
    unsigned n = 0;
    size_t i = 0;
    for (; iv[i] >= '0' && iv[i] <= '9'; i++) {
        if (n > 100000) return -EINVAL;
        n = n * 10 + (unsigned)(iv[i] - '0');
    }
    if (i == 0 || n == 0 || !iv[i] || iv[i + 1]) return -EINVAL;
    char u = iv[i];
    if (u != 's' && u != 'm' && u != 'h' && u != 'd' && u != 'w' && u != 'M') return -EINVAL;
    *count = n;
    *unit = u;
    return 0;
}
