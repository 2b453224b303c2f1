/*
 * backfill.c — REST backfill of trade-id gaps (see backfill.h).
 *
 * A FIFO of gap jobs; the head job is fetched page by page on one easy handle added to a
 * private multi handle; tp_backfill_poll drives curl without waiting (curl_multi_perform),
 * parses a finished page, appends the trades in range to the job's array (capped by max_ids)
 * and either asks for the next page, or finishes the job: the range is covered, the venue
 * has nothing more (an empty or stale page), the page cap is reached, or the retries are
 * spent. Jobs finish in order.
 *
 * Paging per venue: Binance forward (fromId = largest id seen + 1); Coinbase and OKX backward
 * (the cursor is the smallest id seen: the next page holds older trades), a cursor that does
 * not move ends the job; Bybit one page. A backward job's trades are sorted by time (then id)
 * before they are handed over, so the journal gets them in time order.
 */
#include <curl/curl.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tptime.h"
#include "source/backfill_int.h"

#define PAGE     1000
#define BODY_MAX (4u << 20)
#define RETRIES  2
#define URL_CAP  1024

struct job {
    uint32_t instr;
    char vsym[TP_VSYM_MAX + 1];
    uint64_t first, last, next;
    bool window;                      /* an outage window (from, to), not an id range */
    struct tp_backfill_edge from, to; /* window edges */
    uint64_t cursor;                  /* backward paging: older than this id (0: newest) */
    unsigned pages;                   /* pages fetched */
    bool covered;                     /* the window's start was reached */
};

struct tp_backfill {
    char base[URL_CAP];
    bool agg;
    int64_t timeout_ns;
    uint64_t max_ids;
    enum tp_backfill_venue venue;
    char market[16];
    unsigned page_size, max_pages;
    int64_t page_gap_ns, next_at; /* mono: the earliest start of the next request */
    struct tp_event *pg;          /* one parsed page (page_size) */
    struct job q[TP_BACKFILL_QUEUE];
    size_t head, count;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    bool busy;
    int64_t retry_at; /* mono: the head job's next attempt */
    int tries;
    struct tp_buf body;
    struct tp_event *ev; /* the head job's trades */
    size_t nev, evcap;
    struct tp_json j;
    char err[160];
};

void tp_backfill_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tp_backfill_new(const struct tp_backfill_opts *o, struct tp_backfill **ret)
{
    if (!o->base_url || (strncmp(o->base_url, "http://", 7) && strncmp(o->base_url, "https://", 8)))
        return -EINVAL;
    struct tp_backfill *b = calloc(1, sizeof *b);
    if (!b) return -ENOMEM;
    size_t l = strlen(o->base_url);
    while (l && o->base_url[l - 1] == '/') l--;
    if (l >= sizeof b->base - 200) {
        free(b);
        return -EINVAL;
    }
    memcpy(b->base, o->base_url, l);
    b->agg = o->agg;
    b->timeout_ns = o->timeout_ns > 0 ? o->timeout_ns : 10 * TP_NS_PER_SEC;
    b->max_ids = o->max_ids ? o->max_ids : 10000;
    b->venue = o->venue;
    snprintf(b->market, sizeof b->market, "%s", o->market && *o->market ? o->market : "spot");
    switch (b->venue) {
    case TP_BACKFILL_OKX:
        b->page_size = 100; /* history-trades: at most 100; 20 requests per 2 s per IP */
        b->max_pages = 50;
        b->page_gap_ns = 100 * TP_NS_PER_MS;
        break;
    case TP_BACKFILL_BYBIT:
        b->page_size = strcmp(b->market, "spot") ? 1000 : 60; /* recent-trade's caps */
        b->max_pages = 1;
        b->page_gap_ns = 100 * TP_NS_PER_MS;
        break;
    case TP_BACKFILL_COINBASE: /* 1000 a page; public endpoints: 10 requests/s per IP */
        b->page_size = PAGE;
        b->max_pages = (unsigned)((b->max_ids + PAGE - 1) / PAGE);
        b->page_gap_ns = 150 * TP_NS_PER_MS;
        break;
    default:
        b->page_size = PAGE;
        b->max_pages = (unsigned)((b->max_ids + PAGE - 1) / PAGE);
        b->page_gap_ns = 0;
        break;
    }
    if (o->max_pages && b->venue != TP_BACKFILL_BYBIT) b->max_pages = o->max_pages;
    if (o->page_gap_ns > 0) b->page_gap_ns = o->page_gap_ns;
    b->pg = malloc(b->page_size * sizeof *b->pg);
    if (!b->pg) {
        free(b);
        return -ENOMEM;
    }
    tp_buf_init(&b->body, BODY_MAX);
    tp_json_init(&b->j, 0, 0);
    const char *key = b->venue == TP_BACKFILL_BINANCE ? getenv("BINANCE_API_KEY") : NULL;
    if (key && *key && strlen(key) < 200) {
        char h[240];
        snprintf(h, sizeof h, "X-MBX-APIKEY: %s", key);
        b->hdrs = curl_slist_append(NULL, h);
    }
    b->multi = curl_multi_init();
    b->easy = curl_easy_init();
    if (!b->multi || !b->easy) {
        tp_backfill_free(b);
        return -ENOMEM;
    }
    *ret = b;
    return 0;
}

void tp_backfill_free(struct tp_backfill *b)
{
    if (!b) return;
    if (b->busy) curl_multi_remove_handle(b->multi, b->easy);
    if (b->easy) curl_easy_cleanup(b->easy);
    if (b->multi) curl_multi_cleanup(b->multi);
    curl_slist_free_all(b->hdrs);
    tp_buf_fini(&b->body);
    tp_json_fini(&b->j);
    free(b->ev);
    free(b->pg);
    free(b);
}

size_t tp_backfill_pending(const struct tp_backfill *b)
{
    return b ? b->count : 0;
}

int tp_backfill_request(struct tp_backfill *b, uint32_t instr, const char *vsym, uint64_t first,
                        uint64_t last)
{
    if (last < first || !vsym || !*vsym || strlen(vsym) > TP_VSYM_MAX) return -EINVAL;
    if (b->venue == TP_BACKFILL_OKX || b->venue == TP_BACKFILL_BYBIT) return -ENOTSUP;
    if (last - first >= b->max_ids) return -E2BIG;
    if (b->count == TP_BACKFILL_QUEUE) return -ENOSPC;
    struct job *j = &b->q[(b->head + b->count++) % TP_BACKFILL_QUEUE];
    memset(j, 0, sizeof *j);
    j->instr = instr;
    snprintf(j->vsym, sizeof j->vsym, "%s", vsym);
    j->first = j->next = first;
    j->last = last;
    j->cursor = last == UINT64_MAX ? 0 : last + 1; /* Coinbase: older than last + 1 */
    return 0;
}

int tp_backfill_request_window(struct tp_backfill *b, uint32_t instr, const char *vsym,
                               const struct tp_backfill_edge *from,
                               const struct tp_backfill_edge *to, int64_t gap_from, int64_t gap_to)
{
    if (b->venue != TP_BACKFILL_OKX && b->venue != TP_BACKFILL_BYBIT) return -ENOTSUP;
    if (!vsym || !*vsym || strlen(vsym) > TP_VSYM_MAX || gap_to < gap_from) return -EINVAL;
    if (b->count == TP_BACKFILL_QUEUE) return -ENOSPC;
    struct job *j = &b->q[(b->head + b->count++) % TP_BACKFILL_QUEUE];
    memset(j, 0, sizeof *j);
    j->instr = instr;
    snprintf(j->vsym, sizeof j->vsym, "%s", vsym);
    j->window = true;
    j->first = (uint64_t)gap_from;
    j->last = (uint64_t)gap_to;
    j->from = *from;
    j->to = *to;
    if (j->from.ts == INT64_MIN) { /* nothing before the outage is known: its start */
        memset(&j->from, 0, sizeof j->from);
        j->from.ts = gap_from;
    }
    if (j->to.ts == INT64_MIN) {
        memset(&j->to, 0, sizeof j->to);
        j->to.ts = gap_to;
    }
    /* OKX: start right below the first trade after the outage when its id is known. */
    if (b->venue == TP_BACKFILL_OKX && j->to.has_id && !j->to.id_str) j->cursor = j->to.id;
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------- */

static int member(const struct tp_json *js, int obj, const char *key)
{
    return tp_json_get(js, obj, key, strlen(key));
}

static int parse_with(struct tp_json *js, const char *body, size_t len, bool agg, uint32_t instr,
                      const char *vsym, uint64_t first, uint64_t last, int64_t recv,
                      struct tp_event *ev, size_t cap, uint64_t *max_id)
{
    *max_id = 0;
    if (tp_json_parse(js, body, len) < 0 || tp_json_type(js, 0) != TP_JSON_ARRAY) return -EINVAL;
    size_t n = 0;
    TP_JSON_FOREACH_ELEM(js, 0, t)
    {
        if (tp_json_type(js, t) != TP_JSON_OBJECT) return -EINVAL;
        uint64_t id;
        int64_t ms;
        bool maker;
        struct tp_event e;
        tp_event_init(&e, TP_KIND_TRADE);
        if (tp_json_u64(js, member(js, t, agg ? "a" : "id"), &id) < 0 ||
            tp_json_f64(js, member(js, t, agg ? "p" : "price"), &e.price) < 0 ||
            tp_json_f64(js, member(js, t, agg ? "q" : "qty"), &e.size) < 0 ||
            tp_json_i64(js, member(js, t, agg ? "T" : "time"), &ms) < 0 ||
            tp_json_bool(js, member(js, t, agg ? "m" : "isBuyerMaker"), &maker) < 0)
            return -EINVAL;
        if (ms < 0 || ms > INT64_MAX / TP_NS_PER_MS) return -EINVAL;
        if (id > *max_id) *max_id = id;
        if (id < first || id > last) continue;
        if (n == cap) return -E2BIG;
        e.ts = ms * TP_NS_PER_MS;
        e.ts_recv = recv;
        e.instr = instr;
        e.side = maker ? TP_SIDE_SELL : TP_SIDE_BUY; /* the buyer made the book: a taker sold */
        e.flags = TP_EV_TS_VENUE;
        tp_event_set_id(&e, id);
        tp_event_set_vsym(&e, vsym, strlen(vsym));
        ev[n++] = e;
    }
    return (int)n;
}

int tp_backfill_parse_binance(const char *body, size_t len, bool agg, uint32_t instr,
                              const char *vsym, uint64_t first, uint64_t last, int64_t recv,
                              struct tp_event *ev, size_t cap, uint64_t *max_id)
{
    struct tp_json js;
    tp_json_init(&js, 0, 0);
    int n = parse_with(&js, body, len, agg, instr, vsym, first, last, recv, ev, cap, max_id);
    tp_json_fini(&js);
    return n;
}

/* ---- transfers ----------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct tp_backfill *b = ud;
    size_t n = size * nmemb;
    return tp_buf_append(&b->body, ptr, n) < 0 ? 0 : n;
}

static void start_page(struct tp_backfill *b)
{
    struct job *j = &b->q[b->head];
    uint64_t want = j->window ? b->page_size : j->last - j->next + 1;
    unsigned long long lim = want < b->page_size ? want : b->page_size;
    char url[URL_CAP + 256], cur[40] = "";
    switch (b->venue) {
    case TP_BACKFILL_COINBASE: /* newest first, older than the cursor */
        want = j->cursor - j->first;
        lim = want < b->page_size ? want : b->page_size;
        snprintf(url, sizeof url, "%s/products/%s/trades?limit=%llu&after=%llu", b->base, j->vsym,
                 lim, (unsigned long long)j->cursor);
        break;
    case TP_BACKFILL_OKX:
        if (j->cursor) snprintf(cur, sizeof cur, "&after=%llu", (unsigned long long)j->cursor);
        snprintf(url, sizeof url, "%s/api/v5/market/history-trades?instId=%s&type=1&limit=%u%s",
                 b->base, j->vsym, b->page_size, cur);
        break;
    case TP_BACKFILL_BYBIT:
        snprintf(url, sizeof url, "%s/v5/market/recent-trade?category=%s&symbol=%s&limit=%u",
                 b->base, b->market, j->vsym, b->page_size);
        break;
    default:
        snprintf(url, sizeof url, "%s/api/v3/%s?symbol=%s&fromId=%llu&limit=%llu", b->base,
                 b->agg ? "aggTrades" : "historicalTrades", j->vsym, (unsigned long long)j->next,
                 lim);
        break;
    }
    j->pages++;
    b->next_at = tp_mono_ns() + b->page_gap_ns;
    tp_buf_reset(&b->body);
    CURL *c = b->easy;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(b->timeout_ns / TP_NS_PER_MS));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tickpipe");
    if (b->hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, b->hdrs);
    if (curl_multi_add_handle(b->multi, c) == CURLM_OK) {
        b->busy = true;
    } else {
        snprintf(b->err, sizeof b->err, "libcurl refused the request");
        b->retry_at = tp_mono_ns() + TP_NS_PER_SEC;
    }
}

/* Time order, then id order (numeric ids; string ids keep the venue's order reversed). */
static int by_time(const void *pa, const void *pb)
{
    const struct tp_event *a = pa, *b = pb;
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    if ((a->flags & b->flags & TP_EV_HAS_ID) && !((a->flags | b->flags) & TP_EV_ID_STR) &&
        a->trade_id != b->trade_id)
        return a->trade_id < b->trade_id ? -1 : 1;
    return 0;
}

static bool num_id(const struct tp_event *e)
{
    return (e->flags & TP_EV_HAS_ID) && !(e->flags & TP_EV_ID_STR);
}

static bool same_id(const struct tp_event *e, const struct tp_backfill_edge *g)
{
    if (!g->has_id || !(e->flags & TP_EV_HAS_ID)) return false;
    if (g->id_str) return (e->flags & TP_EV_ID_STR) && !strcmp(e->trade_id_str, g->sid);
    return num_id(e) && e->trade_id == g->id;
}

/* Within the window, strictly between its edges: by numeric id when both edges and the trade
 * have one, else by time with the edge trades themselves left out. */
static bool in_window(const struct job *j, const struct tp_event *e)
{
    bool ids = j->from.has_id && !j->from.id_str && j->to.has_id && !j->to.id_str && num_id(e);
    if (ids) return e->trade_id > j->from.id && e->trade_id < j->to.id;
    if (e->ts < j->from.ts || e->ts > j->to.ts) return false;
    return !same_id(e, &j->from) && !same_id(e, &j->to);
}

/* The page reaches back to the window's start: everything after it has been seen. */
static bool reaches_start(const struct job *j, const struct tp_event *e)
{
    if (j->from.has_id && !j->from.id_str && num_id(e) && e->trade_id <= j->from.id) return true;
    return e->ts < j->from.ts || same_id(e, &j->from);
}

/* A page of Coinbase, OKX or Bybit trades arrived: 1 when the job is finished. */
static int page_other(struct tp_backfill *b, const char **error)
{
    struct job *j = &b->q[b->head];
    char why[100] = "";
    int64_t recv = tp_now_ns();
    const char *body = b->body.p ? b->body.p : "";
    int m = b->venue == TP_BACKFILL_COINBASE
                ? tp_backfill_parse_coinbase(body, b->body.len, j->instr, j->vsym, recv, b->pg,
                                             b->page_size, why, sizeof why)
            : b->venue == TP_BACKFILL_OKX
                ? tp_backfill_parse_okx(body, b->body.len, j->instr, j->vsym, recv, b->pg,
                                        b->page_size, why, sizeof why)
                : tp_backfill_parse_bybit(body, b->body.len, j->instr, j->vsym, recv, b->pg,
                                          b->page_size, why, sizeof why);
    if (m < 0) {
        snprintf(b->err, sizeof b->err, "%s",
                 m == -E2BIG    ? "a page holds too many trades"
                 : m == -ENOMEM ? "out of memory"
                 : why[0]       ? why
                                : "the response is not usable");
        *error = b->err;
        return 1;
    }
    b->tries = 0;
    uint64_t min_id = UINT64_MAX;
    bool reached = false;
    for (int i = 0; i < m; i++) {
        const struct tp_event *e = &b->pg[i];
        if (num_id(e) && e->trade_id < min_id) min_id = e->trade_id;
        bool keep;
        if (j->window) {
            keep = in_window(j, e);
            if (reaches_start(j, e)) reached = true;
        } else {
            keep = num_id(e) && e->trade_id >= j->first && e->trade_id <= j->last &&
                   e->trade_id < j->cursor;
            if (num_id(e) && e->trade_id <= j->first) reached = true;
        }
        if (!keep) continue;
        if (b->nev == b->evcap) {
            size_t nc = b->evcap ? b->evcap * 2 : 1024;
            if (nc > b->max_ids) nc = (size_t)b->max_ids;
            if (b->nev == nc) {
                *error = "more trades than the backfill takes for one gap";
                return 1;
            }
            struct tp_event *ne = realloc(b->ev, nc * sizeof *ne);
            if (!ne) {
                *error = "out of memory";
                return 1;
            }
            b->ev = ne;
            b->evcap = nc;
        }
        b->ev[b->nev++] = *e;
    }
    if (j->window) j->covered = j->covered || reached;
    *error = NULL;
    if (j->window && !reached && (!m || b->venue == TP_BACKFILL_BYBIT)) {
        if (b->venue == TP_BACKFILL_BYBIT)
            snprintf(b->err, sizeof b->err,
                     "the %d most recent trades the venue returned (of at most %u) do not reach "
                     "back to the gap's start",
                     m, b->page_size);
        else
            snprintf(b->err, sizeof b->err, "the venue returned no older trades");
        *error = b->err;
        return 1;
    }
    if (reached || !m) return 1; /* the start reached, or the venue has nothing older */
    if (!j->window && b->nev == j->last - j->first + 1) return 1;
    if (b->venue == TP_BACKFILL_BYBIT) return 1; /* one page: the recent trades */
    if (min_id == UINT64_MAX || (j->cursor && min_id >= j->cursor)) return 1; /* stuck */
    if (j->pages >= b->max_pages) {
        snprintf(b->err, sizeof b->err, "the page cap (%u pages) was reached", b->max_pages);
        *error = b->err;
        return 1;
    }
    j->cursor = min_id;
    return 0;
}

static void finish_job(struct tp_backfill *b, const char *error,
                       void (*done)(void *, const struct tp_backfill_result *), void *ctx)
{
    struct job *j = &b->q[b->head];
    if (b->venue != TP_BACKFILL_BINANCE && b->nev > 1) qsort(b->ev, b->nev, sizeof *b->ev, by_time);
    bool complete = !error && (j->window ? j->covered : b->nev == j->last - j->first + 1);
    struct tp_backfill_result r = {.instr = j->instr,
                                   .first = j->first,
                                   .last = j->last,
                                   .ev = b->ev,
                                   .n = b->nev,
                                   .error = error,
                                   .by_time = j->window,
                                   .complete = complete};
    done(ctx, &r);
    b->head = (b->head + 1) % TP_BACKFILL_QUEUE;
    b->count--;
    b->nev = 0;
    b->tries = 0;
    b->retry_at = 0;
}

/* A page arrived (or failed): 1 when the job is finished. */
static int page_done(struct tp_backfill *b, CURLcode code, const char **error)
{
    struct job *j = &b->q[b->head];
    long status = 0;
    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || status != 200) {
        if (code != CURLE_OK)
            snprintf(b->err, sizeof b->err, "%s", curl_easy_strerror(code));
        else
            snprintf(b->err, sizeof b->err, "HTTP %ld", status);
        /* A 4xx other than 429 (an unknown symbol, a missing endpoint) will not change. */
        bool lasting = code == CURLE_OK && status >= 400 && status < 500 && status != 429;
        if (!lasting && b->tries++ < RETRIES) {
            b->retry_at = tp_mono_ns() + (TP_NS_PER_SEC / 2 << (b->tries - 1));
            return 0;
        }
        *error = b->err;
        return 1;
    }
    if (b->venue != TP_BACKFILL_BINANCE) return page_other(b, error);
    uint64_t want = j->last - j->next + 1;
    size_t need = b->nev + (size_t)(want < PAGE ? want : PAGE);
    if (need > b->evcap) {
        size_t nc = need < 1024 ? 1024 : need;
        struct tp_event *e = realloc(b->ev, nc * sizeof *e);
        if (!e) {
            *error = "out of memory";
            return 1;
        }
        b->ev = e;
        b->evcap = nc;
    }
    uint64_t max_id;
    int n = parse_with(&b->j, b->body.p ? b->body.p : "", b->body.len, b->agg, j->instr, j->vsym,
                       j->next, j->last, tp_now_ns(), b->ev + b->nev, b->evcap - b->nev, &max_id);
    if (n < 0) {
        snprintf(b->err, sizeof b->err, "the response is not a list of trades");
        *error = b->err;
        return 1;
    }
    b->nev += (size_t)n;
    b->tries = 0;
    if (max_id < j->next || max_id >= j->last) { /* nothing newer, or the range is covered */
        *error = NULL;
        return 1;
    }
    j->next = max_id + 1;
    return 0;
}

void tp_backfill_poll(struct tp_backfill *b,
                      void (*done)(void *ctx, const struct tp_backfill_result *r), void *ctx)
{
    if (!b) return;
    for (;;) {
        if (!b->count) return;
        if (!b->busy) {
            if (b->retry_at && tp_mono_ns() < b->retry_at) return;
            if (b->next_at && tp_mono_ns() < b->next_at) return; /* the venue's rate limit */
            b->retry_at = 0;
            start_page(b);
            if (!b->busy) return;
        }
        int running = 0;
        curl_multi_perform(b->multi, &running);
        CURLMsg *m;
        int left;
        bool finished = false;
        CURLcode code = CURLE_OK;
        while ((m = curl_multi_info_read(b->multi, &left)))
            if (m->msg == CURLMSG_DONE) {
                finished = true;
                code = m->data.result;
            }
        if (!finished) return;
        curl_multi_remove_handle(b->multi, b->easy);
        b->busy = false;
        const char *error = NULL;
        if (page_done(b, code, &error)) {
            /* Ids come in order within a page and pages follow each other: sorted already. */
            finish_job(b, error, done, ctx);
        }
    }
}
