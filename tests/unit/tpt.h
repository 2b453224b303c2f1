/*
 * tpt.h — the tiny test harness every tests/unit/test_*.c uses (libuv/nng style): tests
 * registered in a table, ASSERT macros that print both values and the line, a summary line
 * "N passed, N failed" at the end, exit 1 on any failure.
 *
 *   static void test_x(void) { ASSERT_EQ_INT(1 + 1, 2); }
 *   TPT_MAIN({"x", test_x}, ...)
 *
 * TPT_SKIP("why") ends a test as skipped (for fixtures that are absent), saying why.
 */
#ifndef TPT_H
#define TPT_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tpt_case {
    const char *name;
    void (*fn)(void);
};

extern jmp_buf tpt_jmp;
extern int tpt_skipped_flag;

#define TPT_FAIL(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);                                     \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        longjmp(tpt_jmp, 1);                                                                       \
    } while (0)

#define TPT_SKIP(why)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "  SKIP: %s\n", why);                                                      \
        tpt_skipped_flag = 1;                                                                      \
        longjmp(tpt_jmp, 2);                                                                       \
    } while (0)

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) TPT_FAIL("assertion failed: %s", #c);                                            \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a != _b) TPT_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                          \
    } while (0)

#define ASSERT_EQ_U64(a, b)                                                                        \
    do {                                                                                           \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);             \
        if (_a != _b) TPT_FAIL("%s == %s: %llu != %llu", #a, #b, _a, _b);                          \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (strcmp(_a, _b)) TPT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a, _b);                \
    } while (0)

/* Exact double equality (NaN equals NaN: both null). */
#define ASSERT_EQ_DBL(a, b)                                                                        \
    do {                                                                                           \
        double _a = (a), _b = (b);                                                                 \
        if (!((isnan(_a) && isnan(_b)) || _a == _b))                                               \
            TPT_FAIL("%s == %s: %.17g != %.17g", #a, #b, _a, _b);                                  \
    } while (0)

/* DESIGN.md §3 agreement: |a − b| ≤ tol · max(1, |b|); NaN only equals NaN. */
#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double _a = (a), _b = (b);                                                                 \
        if (isnan(_a) || isnan(_b)) {                                                              \
            if (!(isnan(_a) && isnan(_b))) TPT_FAIL("%s ~ %s: %.17g vs %.17g", #a, #b, _a, _b);    \
        } else if (fabs(_a - _b) > (tol)*fmax(1.0, fabs(_b)))                                      \
            TPT_FAIL("%s ~ %s: %.17g vs %.17g (diff %.3g)", #a, #b, _a, _b, fabs(_a - _b));        \
    } while (0)

#define TPT_MAIN(...)                                                                              \
    jmp_buf tpt_jmp;                                                                               \
    int tpt_skipped_flag;                                                                          \
    static const struct tpt_case tpt_cases[] = {__VA_ARGS__};                                      \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static int passed, failed, skipped;                                                        \
        static size_t i;                                                                           \
        for (i = 0; i < sizeof tpt_cases / sizeof tpt_cases[0]; i++) {                             \
            if (argc > 1 && strcmp(argv[1], tpt_cases[i].name)) continue;                          \
            tpt_skipped_flag = 0;                                                                  \
            int r = setjmp(tpt_jmp);                                                               \
            if (r == 0) {                                                                          \
                tpt_cases[i].fn();                                                                 \
                passed++;                                                                          \
                fprintf(stderr, "ok   %s\n", tpt_cases[i].name);                                   \
            } else if (r == 2) {                                                                   \
                skipped++;                                                                         \
                fprintf(stderr, "skip %s\n", tpt_cases[i].name);                                   \
            } else {                                                                               \
                failed++;                                                                          \
                fprintf(stderr, "FAIL %s\n", tpt_cases[i].name);                                   \
            }                                                                                      \
        }                                                                                          \
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);                     \
        return failed ? 1 : 0;                                                                     \
    }

/* Path of ../shared/fixtures/<rel>, or NULL when the shared folder is absent. */
static inline const char *tpt_fixture(const char *rel, char *buf, size_t cap)
{
    const char *shared = getenv("TP_SHARED");
    if (!shared) return NULL;
    snprintf(buf, cap, "%s/fixtures/%s", shared, rel);
    FILE *f = fopen(buf, "r");
    if (!f) return NULL;
    fclose(f);
    return buf;
}

#endif
