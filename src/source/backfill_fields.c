/*
 * backfill_fields.c — the field readers of the REST backfill parsers (see backfill_int.h):
 * one place that turns a venue's price, size, time and id tokens into a trade event exactly
 * as the live WebSocket parsers do.
 */
#include "core/tptime.h"
#include "source/backfill_int.h"

static int set_id(const struct tp_json *j, int tok, struct tp_event *e)
{
    enum tp_json_type ty = tp_json_type(j, tok);
    if (ty != TP_JSON_NUMBER && ty != TP_JSON_STRING) return -EINVAL;
    uint64_t id;
    if (tp_json_u64(j, tok, &id) == 0) {
        tp_event_set_id(e, id);
        return 0;
    }
    char buf[TP_TRADE_ID_MAX + 1];
    int n;
    if (ty == TP_JSON_STRING) {
        n = tp_json_unescape(j, tok, buf, sizeof buf);
    } else {
        n = tp_json_len(j, tok) <= TP_TRADE_ID_MAX ? (int)tp_json_len(j, tok) : -E2BIG;
        if (n > 0) memcpy(buf, tp_json_text(j, tok), (size_t)n);
    }
    if (n <= 0 || n > TP_TRADE_ID_MAX || memchr(buf, 0, (size_t)n)) return -EINVAL;
    return tp_event_set_id_str(e, buf, (size_t)n) < 0 ? -EINVAL : 0;
}

int tp_backfill_fields(const struct tp_json *j, int price, int size, int time, int id,
                       struct tp_event *e)
{
    double px, sz;
    int64_t ts;
    if (tp_json_f64(j, price, &px) < 0 || !(px > 0)) return -EINVAL;
    if (tp_json_f64(j, size, &sz) < 0 || !(sz >= 0)) return -EINVAL;
    enum tp_json_type ty = tp_json_type(j, time);
    if (ty != TP_JSON_NUMBER && ty != TP_JSON_STRING) return -EINVAL;
    if ((ty == TP_JSON_STRING && j->tok[time].esc) || tp_json_len(j, time) == 0 ||
        tp_time_parse(tp_json_text(j, time), tp_json_len(j, time), TP_TS_AUTO, &ts) < 0)
        return -EINVAL;
    e->price = px;
    e->size = sz;
    e->ts = ts;
    e->flags |= TP_EV_TS_VENUE;
    return set_id(j, id, e);
}

void tp_backfill_err(const struct tp_json *j, int tok, const char *what, char *err, size_t errcap)
{
    if (!err || !errcap) return;
    char t[120];
    int n = tp_json_type(j, tok) == TP_JSON_STRING ? tp_json_unescape(j, tok, t, sizeof t) : -1;
    if (n == -E2BIG) n = (int)sizeof t - 1;
    if (n > 0)
        snprintf(err, errcap, "%s: %.*s", what, n, t);
    else
        snprintf(err, errcap, "%s", what);
}
