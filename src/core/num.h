/*
 * num.h — exact decimal numbers in and out (DESIGN.md §2).
 *
 * tp_num_parse reads a decimal string into the correctly rounded double, whatever the process
 * locale: an exact fast path (mantissa ≤ 2^53, power of ten ≤ 22, Clinger's case) covers
 * nearly every price and size; the rest go to glibc's strtod_l under the "C" locale, which is
 * correctly rounded. tp_num_format prints the shortest string that reads back to the same
 * double, in plain notation for exponents in [-7, 21) and d.ddde±x outside (as JavaScript).
 * Pure functions; any thread.
 */
#ifndef TP_NUM_H
#define TP_NUM_H

#include "core/tp.h"

#define TP_NUM_STRLEN 32

/* Parses s[0..n): [+-]digits[.digits][e[+-]digits] (also ".5" and "5."). No NaN, no inf, no
 * hex, no surrounding spaces. 0 and *ret set, or -EINVAL; -ERANGE for overflow to inf. */
int tp_num_parse(const char *s, size_t n, double *ret);
/* Writes the shortest round-trip form of a finite v and a NUL; returns the length. NaN and
 * infinities print as "NaN", "Infinity", "-Infinity" (callers print null instead). */
size_t tp_num_format(double v, char out[TP_NUM_STRLEN]);

#endif
