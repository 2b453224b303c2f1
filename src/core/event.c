/*
 * event.c — helpers for struct tp_event (see event.h).
 */
#include <math.h>
#include <strings.h>

#include "core/event.h"

void tp_event_init(struct tp_event *e, enum tp_kind kind)
{
    e->ts = e->ts_recv = 0;
    e->instr = 0;
    e->kind = (uint8_t)kind;
    e->side = TP_SIDE_UNKNOWN;
    e->status = TP_ST_NONE;
    e->trade_id_len = 0;
    e->flags = 0;
    e->vsym_len = 0;
    e->price = e->size = NAN;
    e->bid = e->ask = e->bid_size = e->ask_size = NAN;
    e->open = e->high = e->low = e->change = NAN;
    e->value = NAN;
    e->trade_id = 0;
    e->gap_last = 0;
    e->trade_id_str[0] = 0;
    e->venue_symbol[0] = 0;
}

void tp_event_set_vsym(struct tp_event *e, const char *s, size_t n)
{
    if (n > TP_VSYM_MAX) n = TP_VSYM_MAX;
    memcpy(e->venue_symbol, s, n);
    e->venue_symbol[n] = 0;
    e->vsym_len = (uint8_t)n;
}

int tp_event_set_id_str(struct tp_event *e, const char *s, size_t n)
{
    if (n > TP_TRADE_ID_MAX) return -E2BIG;
    memcpy(e->trade_id_str, s, n);
    e->trade_id_str[n] = 0;
    e->trade_id_len = (uint8_t)n;
    e->flags |= TP_EV_HAS_ID | TP_EV_ID_STR;
    return 0;
}

void tp_event_set_id(struct tp_event *e, uint64_t id)
{
    e->trade_id = id;
    e->flags |= TP_EV_HAS_ID;
    e->flags &= (uint16_t)~TP_EV_ID_STR;
}

static const char *const kind_names[] = {"", "trade", "quote", "snapshot", "bar", "status"};
static const char *const status_names[] = {"",      "connected", "disconnected", "subscribed",
                                           "stale", "gap",       "eof",          "heartbeat",
                                           "hold",  "release",   "failover"};

const char *tp_kind_name(enum tp_kind k)
{
    return (unsigned)k < TP_ARRAY_LEN(kind_names) ? kind_names[k] : "";
}

const char *tp_side_name(enum tp_side s)
{
    return s == TP_SIDE_BUY ? "buy" : s == TP_SIDE_SELL ? "sell" : "";
}

const char *tp_status_name(enum tp_status s)
{
    return (unsigned)s < TP_ARRAY_LEN(status_names) ? status_names[s] : "";
}

int tp_kind_parse(const char *s, enum tp_kind *ret)
{
    for (unsigned k = 1; k < TP_ARRAY_LEN(kind_names); k++)
        if (!strcmp(s, kind_names[k])) {
            *ret = (enum tp_kind)k;
            return 0;
        }
    return -EINVAL;
}

int tp_side_parse(const char *s, size_t n, enum tp_side *ret)
{
    if (n == 0 || (n == 7 && !strncasecmp(s, "unknown", 7))) {
        *ret = TP_SIDE_UNKNOWN;
        return 0;
    }
    if ((n == 3 && !strncasecmp(s, "buy", 3)) || (n == 1 && (*s == 'b' || *s == 'B'))) {
        *ret = TP_SIDE_BUY;
        return 0;
    }
    if ((n == 4 && !strncasecmp(s, "sell", 4)) || (n == 1 && (*s == 's' || *s == 'S'))) {
        *ret = TP_SIDE_SELL;
        return 0;
    }
    return -EINVAL;
}
