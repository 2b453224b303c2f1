/*
 * fuzz_num.c — libFuzzer target for exact decimals (core/num.h).
 *
 * Any input is parsed by tp_num_parse. Properties checked on every accepted input:
 *   - the result is what glibc's correctly rounded strtod_l gives under the "C" locale for the
 *     same text (the fast path may never round differently from the slow one);
 *   - format → parse is the identity on the double (bit for bit; -0 formats as "0"), and the
 *     formatted text is short (< TP_NUM_STRLEN) and itself a valid tp_num_parse input;
 *   - an input of exactly 8 bytes is also read as a double's bits and, when finite, must
 *     round-trip through tp_num_format and tp_num_parse.
 * Rejected inputs must be rejected with -EINVAL or -ERANGE only.
 */
#include <locale.h>
#include <math.h>

#include "core/num.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static locale_t c_locale;

static void round_trip(double v)
{
    char out[TP_NUM_STRLEN];
    size_t n = tp_num_format(v, out);
    if (n == 0 || n >= TP_NUM_STRLEN || out[n] != 0 || strlen(out) != n) abort();
    double back;
    if (tp_num_parse(out, n, &back) != 0) abort();
    /* The same double; -0 prints as "0" (as JavaScript's shortest form does), so zeros
     * compare by value, everything else bit for bit. */
    if (v == 0 ? back != 0 : memcmp(&back, &v, sizeof v) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!c_locale) c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (size > 4096) return 0;
    double v;
    int rc = tp_num_parse((const char *)data, size, &v);
    if (rc == 0) {
        if (!isfinite(v)) abort();
        /* The reference: strtod_l on a NUL-terminated copy must read the whole text. */
        char *copy = malloc(size + 1);
        if (!copy) abort();
        memcpy(copy, data, size);
        copy[size] = 0;
        char *end;
        double ref = strtod_l(copy, &end, c_locale);
        if (end != copy + size) abort(); /* tp_num accepted what strtod would not read */
        free(copy);
        if (memcmp(&ref, &v, sizeof v) != 0) abort();
        round_trip(v);
    } else if (rc != -EINVAL && rc != -ERANGE) {
        abort();
    }
    if (size == sizeof(double)) {
        double bits;
        memcpy(&bits, data, sizeof bits);
        if (isfinite(bits)) round_trip(bits);
    }
    return 0;
}
