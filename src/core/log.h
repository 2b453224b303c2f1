/*
 * log.h — tickpipe's own diagnostics on stderr: one line each, UTC time, level, message.
 * Pure modules do not log (STYLE.md); the caller that decides does, once, with context.
 * Thread-safe (one fprintf per line).
 */
#ifndef TP_LOG_H
#define TP_LOG_H

#include "core/tp.h"

enum tp_log_level { TP_LOG_DEBUG, TP_LOG_INFO, TP_LOG_WARN, TP_LOG_ERROR };

void tp_log_set_level(enum tp_log_level l);
void tp_log(enum tp_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tp_debug(...) tp_log(TP_LOG_DEBUG, __VA_ARGS__)
#define tp_info(...)  tp_log(TP_LOG_INFO, __VA_ARGS__)
#define tp_warn(...)  tp_log(TP_LOG_WARN, __VA_ARGS__)
#define tp_error(...) tp_log(TP_LOG_ERROR, __VA_ARGS__)

#endif
