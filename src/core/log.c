/*
 * log.c — see log.h.
 */
#include <stdarg.h>

#include "core/log.h"
#include "core/tptime.h"

static enum tp_log_level min_level = TP_LOG_INFO;

void tp_log_set_level(enum tp_log_level l)
{
    min_level = l;
}

void tp_log(enum tp_log_level l, const char *fmt, ...)
{
    if (l < min_level) return;
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char ts[TP_TIME_STRLEN], msg[1024];
    tp_time_format(tp_now_ns(), ts);
    ts[23] = 'Z'; /* milliseconds are enough here */
    ts[24] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %-5s %s\n", ts, names[l], msg);
}
