/*
 * backfill_int.h — helpers shared by the REST backfill parsers (backfill_<venue>.c) and
 * backfill.c; not a public interface.
 *
 * The helpers read fields the way the live venue parsers do (source/venue.c), so that a
 * trade fetched by REST and the same trade seen on the stream are equal event for event:
 * exact decimals (tp_json_f64), a positive price and a non-negative size, venue times by
 * digit count or ISO-8601 (tp_time_parse TP_TS_AUTO), and ids numeric when the text is a
 * canonical unsigned integer, else kept as strings (what the engine deduplicates on).
 */
#ifndef TP_BACKFILL_INT_H
#define TP_BACKFILL_INT_H

#include "core/json.h"
#include "source/backfill.h"

/* Fills price, size, ts (venue time, flag set) and the id of e from the tokens; 0 or -EINVAL.
 * The id is required. */
int tp_backfill_fields(const struct tp_json *j, int price, int size, int time, int id,
                       struct tp_event *e);
/* Copies the text of string token tok (or a literal) into err, for the venue's error text. */
void tp_backfill_err(const struct tp_json *j, int tok, const char *what, char *err, size_t errcap);

#endif
