/*
 * tp.h — what every tickpipe source file includes: fixed-width types, a few macros, and the
 * poisoned libc calls. Include it after any system header a file needs, so the poison only
 * applies to tickpipe's own code.
 */
#ifndef TP_TP_H
#define TP_TP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TP_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define TP_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define TP_LIKELY(x)    __builtin_expect(!!(x), 1)
#define TP_UNLIKELY(x)  __builtin_expect(!!(x), 0)

#define TP_NS_PER_SEC INT64_C(1000000000)
#define TP_NS_PER_MS  INT64_C(1000000)
#define TP_NS_PER_US  INT64_C(1000)

/* Exit codes of the command line (DESIGN.md §4). */
enum {
    TP_EXIT_OK = 0,
    TP_EXIT_PROBLEM = 1, /* the work found a problem (validate) */
    TP_EXIT_USAGE = 2,   /* usage or configuration error */
    TP_EXIT_RUNTIME = 3, /* runtime failure */
};

/* Floor division for nanosecond times before 1970 (DESIGN.md §2). */
static inline int64_t tp_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* Start of the epoch-aligned window of width w that holds t. */
static inline int64_t tp_window_start(int64_t t, int64_t w)
{
    return tp_floor_div(t, w) * w;
}

#pragma GCC poison strcpy strcat sprintf vsprintf atoi atol atoll strtok gets

#endif
