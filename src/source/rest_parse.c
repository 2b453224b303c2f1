/*
 * rest_parse.c — the REST parser driver: the venue registry, tokenizing a body once with the
 * project's JSON scanner, calling the venue's hook, putting the events in time order, and the
 * helpers the venue files share (rest_int.h). Also Retry-After parsing for the poller.
 *
 * Invariants: a failed parse returns no events and always says why in res; the token array
 * is capped (bodies are capped by the poller at TP_REST_BODY_MAX) and reused between bodies.
 */
#include <ctype.h>
#include <stdarg.h>

#include "core/instrument.h"
#include "core/num.h"
#include "core/tptime.h"
#include "source/rest_int.h"

#define MAX_TOKENS (1u << 20)

static const struct tp_rest_venue *const registry[] = {&tp_rest_coingecko, &tp_rest_alphavantage,
                                                       &tp_rest_yahoo, &tp_rest_fmp};

const struct tp_rest_venue *tp_rest_find(const char *name)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(registry); i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

bool tp_rest_is_venue(const char *spec)
{
    size_t vl = strcspn(spec, ":");
    for (size_t i = 0; i < TP_ARRAY_LEN(registry); i++)
        if (strlen(registry[i]->name) == vl && !strncmp(spec, registry[i]->name, vl)) return true;
    return false;
}

const char *tp_rest_venue_name(const struct tp_rest_venue *v)
{
    return v->name;
}

int tp_rest_parser_new(const struct tp_rest_venue *v, struct tp_rest_parser **ret)
{
    struct tp_rest_parser *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->v = v;
    tp_json_init(&p->j, MAX_TOKENS, 0);
    *ret = p;
    return 0;
}

void tp_rest_parser_free(struct tp_rest_parser *p)
{
    if (!p) return;
    tp_json_fini(&p->j);
    free(p);
}

int tp_rest_parser_filter(struct tp_rest_parser *p, const char *const *sym, size_t n)
{
    if (n > TP_REST_MAX_SYMS) return -E2BIG;
    for (size_t i = 0; i < n; i++) snprintf(p->want[i], sizeof p->want[i], "%s", sym[i]);
    p->nwant = n;
    return 0;
}

bool tp_rp_wanted(const struct tp_rest_pctx *c, const char *s, size_t n)
{
    const struct tp_rest_parser *p = c->p;
    if (!p->nwant) return true;
    for (size_t i = 0; i < p->nwant; i++)
        if (!strncmp(p->want[i], s, n) && p->want[i][n] == 0) return true;
    return false;
}

int tp_rest_instrument(const struct tp_rest_venue *v, const char *sym, const char *opt, char *out,
                       size_t cap, char native[TP_VSYM_MAX + 1])
{
    return v->instrument(sym, opt, out, cap, native);
}

/* ---- helpers ------------------------------------------------------------------------ */

int tp_rp_fail(struct tp_rest_pctx *c, enum tp_rest_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->res->text, sizeof c->res->text, fmt, ap);
    va_end(ap);
    c->res->kind = kind;
    c->res->text_len = (uint16_t)(n < 0 ? 0 : TP_MIN((size_t)n, sizeof c->res->text - 1));
    return -EINVAL;
}

int tp_rp_fail_tok(struct tp_rest_pctx *c, enum tp_rest_kind kind, const char *pre, int t)
{
    char buf[TP_REST_TEXT_MAX + 1];
    tp_rp_str(c->j, t, buf, sizeof buf);
    return tp_rp_fail(c, kind, "%s%s", pre, buf);
}

void tp_rp_str(const struct tp_json *j, int t, char *out, size_t cap)
{
    out[0] = 0;
    if (tp_json_type(j, t) != TP_JSON_STRING) return;
    int n = tp_json_unescape(j, t, out, cap);
    /* a prefix when too long (not always terminated), nothing when undecodable */
    size_t end = n == -E2BIG ? cap - 1 : n < 0 ? 0 : TP_MIN((size_t)n, cap - 1);
    out[end] = 0;
    /* Control characters would break log lines. */
    for (char *s = out; *s; s++)
        if ((unsigned char)*s < 0x20) *s = ' ';
}

int tp_rp_add(struct tp_rest_pctx *c, const struct tp_event *e)
{
    if (c->n >= c->cap) {
        tp_rp_fail(c, TP_REST_BAD, "more than %zu events in one body", c->cap);
        return -E2BIG;
    }
    c->ev[c->n++] = *e;
    return 0;
}

int tp_rp_name(const char *venue, const char *s, size_t n, char *out, size_t cap)
{
    size_t vl = strlen(venue);
    if (!n || vl + 1 + n + 1 > cap || n > TP_VSYM_MAX) return -EINVAL;
    memcpy(out, venue, vl);
    out[vl] = ':';
    for (size_t i = 0; i < n; i++) {
        char ch = (char)toupper((unsigned char)s[i]);
        if (ch == '/') ch = '-';
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            ch = '_';
        out[vl + 1 + i] = ch;
    }
    out[vl + 1 + n] = 0;
    return (int)(vl + 1 + n);
}

int tp_rp_intern(struct tp_rest_pctx *c, const char *name, size_t n, uint32_t *ret)
{
    struct tp_rest_parser *p = c->p;
    if (n > TP_INSTR_NAMELEN)
        return tp_rp_fail(c, TP_REST_BAD, "an instrument name longer than %d bytes",
                          TP_INSTR_NAMELEN);
    for (uint32_t i = 0; i < TP_RP_CACHE; i++)
        if (p->cid[i] && !strncmp(p->cname[i], name, n) && p->cname[i][n] == 0) {
            *ret = p->cid[i];
            return 0;
        }
    uint32_t id;
    if (tp_instr_intern(name, n, &id) < 0)
        return tp_rp_fail(c, TP_REST_BAD, "'%.*s' is not a valid instrument name",
                          (int)TP_MIN(n, 80), name);
    uint32_t k = p->cnext++ % TP_RP_CACHE;
    memcpy(p->cname[k], name, n);
    p->cname[k][n] = 0;
    p->cid[k] = id;
    *ret = id;
    return 0;
}

int tp_rp_symbol(struct tp_rest_pctx *c, struct tp_event *e, const char *s, size_t n)
{
    char name[TP_INSTR_NAMELEN + 1];
    int l = tp_rp_name(c->p->v->name, s, n, name, sizeof name);
    if (l < 0)
        return tp_rp_fail(c, TP_REST_BAD, "symbol '%.*s' makes no valid instrument name",
                          (int)TP_MIN(n, 60), s);
    int rc = tp_rp_intern(c, name, (size_t)l, &e->instr);
    if (rc < 0) return rc;
    tp_event_set_vsym(e, s, n);
    return 0;
}

int tp_rp_num(struct tp_rest_pctx *c, int t, const char *what, double *ret)
{
    double v;
    if (tp_json_f64(c->j, t, &v) < 0)
        return tp_rp_fail(c, TP_REST_BAD, "%s is %s", what, t < 0 ? "missing" : "not a number");
    *ret = v;
    return 0;
}

int tp_rp_esc(struct tp_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            rc = tp_buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = tp_buf_append(out, e, 3);
        }
        if (rc < 0) return -E2BIG;
    }
    return 0;
}

/* ---- the driver ---------------------------------------------------------------------- */

/* Stable insertion sort by ts: bodies are small and nearly always in order already. */
static void sort_by_ts(struct tp_event *ev, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (ev[i].ts >= ev[i - 1].ts) continue;
        struct tp_event t = ev[i];
        size_t k = i;
        while (k > 0 && ev[k - 1].ts > t.ts) {
            ev[k] = ev[k - 1];
            k--;
        }
        ev[k] = t;
    }
}

int tp_rest_parse(struct tp_rest_parser *p, const char *body, size_t len, int64_t recv_ns,
                  struct tp_event *ev, size_t cap, struct tp_rest_result *res)
{
    memset(res, 0, sizeof *res);
    struct tp_rest_pctx c = {.p = p, .j = &p->j, .recv = recv_ns, .ev = ev, .cap = cap, .res = res};
    int rc = tp_json_parse(&p->j, body, len);
    if (rc < 0)
        return tp_rp_fail(&c, TP_REST_BAD, "not JSON (%s at byte %zu)", tp_json_strerror(p->j.err),
                          p->j.err_off);
    rc = p->v->parse(&c);
    if (rc < 0) {
        if (res->kind == TP_REST_NONE) tp_rp_fail(&c, TP_REST_BAD, "unusable body");
        return rc;
    }
    res->kind = TP_REST_DATA;
    sort_by_ts(ev, c.n);
    return (int)c.n;
}

/* ---- Retry-After --------------------------------------------------------------------- */

static int month_of(const char *s)
{
    static const char m[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (!strncmp(s, m + 3 * i, 3)) return i + 1;
    return 0;
}

static bool num2(const char *s, int *v)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return false;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

int tp_rest_retry_after(const char *s, size_t n, int64_t now_real, int64_t *ret_ns)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (!n) return -EINVAL;
    if (isdigit((unsigned char)s[0])) {
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)s[i])) return -EINVAL;
            if (v > 10LL * 365 * 86400) return -EINVAL; /* nonsense: ten years */
            v = v * 10 + (s[i] - '0');
        }
        *ret_ns = v * TP_NS_PER_SEC;
        return 0;
    }
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (the only form senders may generate). */
    char b[40];
    if (n != 29) return -EINVAL;
    memcpy(b, s, n);
    b[n] = 0;
    int d, mo, h, mi, se, y1, y2;
    if (b[3] != ',' || b[4] != ' ' || !num2(b + 5, &d) || b[7] != ' ' || !(mo = month_of(b + 8)) ||
        b[11] != ' ' || !num2(b + 12, &y1) || !num2(b + 14, &y2) || b[16] != ' ' ||
        !num2(b + 17, &h) || b[19] != ':' || !num2(b + 20, &mi) || b[22] != ':' ||
        !num2(b + 23, &se) || strcmp(b + 25, " GMT") != 0)
        return -EINVAL;
    if (d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -EINVAL;
    int64_t days = tp_days_from_civil(y1 * 100 + y2, (unsigned)mo, (unsigned)d);
    int64_t t = ((days * 24 + h) * 60 + mi) * 60 + se;
    int64_t delay = t * TP_NS_PER_SEC - now_real;
    *ret_ns = delay > 0 ? delay : 0;
    return 0;
}
