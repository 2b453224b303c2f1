/*
 * json.h — JSON out (a streaming writer into a capped tp_buf) and in (a strict reader for
 * the stream protocol's small flat objects), as the API and the stream use them (DESIGN.md §5,
 * §7): numbers in shortest round-trip form (core/num.h), NaN and infinities as null, times as
 * RFC 3339 strings with 9 fractional digits and Z, epoch nanoseconds as strings.
 *
 * The writer keeps the first error (-E2BIG when the buffer's cap is reached) and ignores every
 * call after it, so a caller checks once at the end; commas are placed by the writer from a
 * stack of "first element" bits (at most TP_JW_DEPTH levels). Strings are escaped; invalid
 * UTF-8 bytes become U+FFFD, so the output is always valid JSON.
 *
 * Pure functions; a writer belongs to one thread.
 */
#ifndef TP_SERVE_JSON_H
#define TP_SERVE_JSON_H

#include "core/buf.h"

#define TP_JW_DEPTH 32

struct tp_jw {
    struct tp_buf *b; /* borrowed */
    int err;          /* first error, 0 while fine */
    uint32_t depth;
    uint32_t first; /* bit d: the container at depth d has no element yet */
    bool after_key;
};

void tp_jw_init(struct tp_jw *w, struct tp_buf *b);
void tp_jw_obj(struct tp_jw *w);
void tp_jw_obj_end(struct tp_jw *w);
void tp_jw_arr(struct tp_jw *w);
void tp_jw_arr_end(struct tp_jw *w);
/* An object key (a C string of the program's own, escaped all the same). */
void tp_jw_key(struct tp_jw *w, const char *k);
void tp_jw_str(struct tp_jw *w, const char *s);
void tp_jw_strn(struct tp_jw *w, const char *s, size_t n);
/* A string, or null when s is empty. */
void tp_jw_str_or_null(struct tp_jw *w, const char *s);
void tp_jw_num(struct tp_jw *w, double v); /* null when not finite */
void tp_jw_i64(struct tp_jw *w, int64_t v);
void tp_jw_u64(struct tp_jw *w, uint64_t v);
void tp_jw_bool(struct tp_jw *w, bool v);
void tp_jw_null(struct tp_jw *w);
void tp_jw_time(struct tp_jw *w, int64_t ns); /* "2026-11-23T12:34:00.000000000Z" */
void tp_jw_ns(struct tp_jw *w, int64_t ns);   /* "1795437240000000000" */
void tp_jw_u64s(struct tp_jw *w, uint64_t v); /* "18446744073709551615" */
void tp_jw_dur(struct tp_jw *w, int64_t ns);  /* "1m", or null for 0 */

/* Called for each value of a flat object: key and val are NUL-terminated (valid until the
 * callback returns); in_array tells an array element from a plain string value; an empty
 * array gives one call with val NULL. A nonzero return stops the parse and is returned. */
typedef int (*tp_json_flat_fn)(void *arg, const char *key, const char *val, bool in_array);

/* Parses s[0..n) as one JSON object whose values are strings or arrays of strings (other
 * values and nesting are -EINVAL); keys and strings at most
 * TP_JSON_FLAT_STR bytes after unescaping (-E2BIG). 0 or the first error. */
#define TP_JSON_FLAT_STR 256
int tp_json_flat_parse(const char *s, size_t n, tp_json_flat_fn fn, void *arg);

#endif
