/*
 * rest_int.h — what the REST venue files (rest_<venue>.c) share with the parser driver
 * (rest_parse.c) and the poller (rest.c): the venue descriptor and the per-body parse
 * context with its helpers. Not for use outside src/source/rest*.c.
 *
 * A venue's parse hook gets the body already tokenized (c->j, top value at index 0), adds
 * events with tp_rp_add and classifies what is not data with tp_rp_fail (which returns the
 * -EINVAL the hook returns). The driver sorts the events by ts (stable) afterwards.
 */
#ifndef TP_REST_INT_H
#define TP_REST_INT_H

#include "core/buf.h"
#include "core/instrument.h"
#include "core/json.h"
#include "source/rest.h"

struct tp_rest_pctx;

struct tp_rest_venue {
    const char *name;       /* also the venue part of its instruments */
    const char *base;       /* default base URL (scheme://host[:port]) */
    int64_t interval_ns;    /* default poll interval of each request (the free tier's pace) */
    int64_t spacing_ns;     /* default least time between two requests of one source */
    bool batch;             /* one request covers every symbol of the source */
    bool quote_only;        /* the instruments get quotes only (forex) */
    const char *key_env;    /* the API key's variable; NULL: no key */
    bool key_required;      /* refuse to start without it */
    const char *key_header; /* the key goes in this header (else in the query, see path) */
    const char *key_help;   /* where to get one */
    /* Instrument name of a user symbol (see tp_rest_instrument). */
    int (*instrument)(const char *sym, const char *opt, char *out, size_t cap,
                      char native[TP_VSYM_MAX + 1]);
    /* Appends the request's path and query for the native symbols sym[0..n) to out (after the
     * base URL); key may be NULL; esc percent-encodes one query or path component. */
    int (*path)(const char *const *sym, size_t n, const char *opt, const char *key,
                struct tp_buf *out);
    int (*parse)(struct tp_rest_pctx *c);
};

extern const struct tp_rest_venue tp_rest_coingecko, tp_rest_alphavantage, tp_rest_yahoo,
    tp_rest_fmp;

#define TP_RP_CACHE 32

struct tp_rest_parser {
    const struct tp_rest_venue *v;
    struct tp_json j;
    /* name → instrument id of the last names seen (interning takes a lock) */
    char cname[TP_RP_CACHE][TP_INSTR_NAMELEN + 1];
    uint32_t cid[TP_RP_CACHE];
    uint32_t cnext;
    char want[TP_REST_MAX_SYMS][TP_VSYM_MAX + 1]; /* tp_rest_parser_filter */
    size_t nwant;
};

struct tp_rest_pctx {
    struct tp_rest_parser *p;
    struct tp_json *j;
    int64_t recv;
    struct tp_event *ev;
    size_t n, cap;
    struct tp_rest_result *res;
};

/* Sets res (kind, printf text) and returns -EINVAL. */
int tp_rp_fail(struct tp_rest_pctx *c, enum tp_rest_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets res to kind with the decoded text of string token t (prefixed with pre). -EINVAL. */
int tp_rp_fail_tok(struct tp_rest_pctx *c, enum tp_rest_kind kind, const char *pre, int t);
/* The decoded text of string token t into out (always NUL-terminated, truncated to cap - 1,
 * control characters blanked); "" when t is not a string. */
void tp_rp_str(const struct tp_json *j, int t, char *out, size_t cap);
/* Appends *e; -E2BIG (res: too many events) when the caller's array is full. */
int tp_rp_add(struct tp_rest_pctx *c, const struct tp_event *e);
/* Sets e->instr from `venue:SYMBOL` made of the native symbol s[0..n) (upper-cased, '/'
 * → '-', other characters outside A-Z 0-9 . _ - → '_') and e->venue_symbol. -EINVAL (res
 * set) when the name is not valid. */
int tp_rp_symbol(struct tp_rest_pctx *c, struct tp_event *e, const char *s, size_t n);
/* The same for an instrument name already built. */
int tp_rp_intern(struct tp_rest_pctx *c, const char *name, size_t n, uint32_t *ret);
/* True when the source asked for native symbol s[0..n) (always without a filter). */
bool tp_rp_wanted(const struct tp_rest_pctx *c, const char *s, size_t n);
/* A decimal number (number token or numeric string). -EINVAL (res: bad number) when not. */
int tp_rp_num(struct tp_rest_pctx *c, int t, const char *what, double *ret);

/* Builds `venue:SYM` from a native symbol (the mapping of tp_rp_symbol). Length or -EINVAL. */
int tp_rp_name(const char *venue, const char *s, size_t n, char *out, size_t cap);
/* Percent-encodes s into out (unreserved characters kept). 0 or -E2BIG. */
int tp_rp_esc(struct tp_buf *out, const char *s);

/* A vendor's local time s[0..n) ("YYYY-MM-DD HH:MM:SS", 'T' or space; or without seconds)
 * in the zone zone[0..zl) as ns UTC: "UTC", or "US/Eastern" (also "America/New_York") with
 * the US daylight-saving rules of 1987-2006 and since 2007; a nonexistent time (the spring
 * hour skipped) is read as standard time, an ambiguous one (the autumn hour repeated) as its
 * first occurrence (daylight time). 0, -ENOTSUP (another zone), -ERANGE (Eastern before
 * 1987), -EINVAL (not such a time, or a year outside 1900-2200). rest_alphavantage.c. */
int tp_rp_local_utc(const char *zone, size_t zl, const char *s, size_t n, int64_t *ret_ns);

#endif
