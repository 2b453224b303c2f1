/*
 * crc32c.c — CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of journal
 * frames and segment headers.
 *
 * Convention (as zlib's crc32): the value passed in and returned is the finished CRC of the
 * bytes so far, pre- and post-inverted inside, so tp_crc32c(tp_crc32c(0, a), b) equals the CRC
 * of a followed by b, and tp_crc32c(0, "123456789", 9) == 0xE3069283.
 *
 * Two implementations: the SSE4.2 crc32 instruction (8 bytes per instruction) when the CPU has
 * it, chosen once at first use with __builtin_cpu_supports; otherwise slice-by-8 tables
 * (8 lookups per 8 bytes). The tables are computed once, under pthread_once. The function
 * pointer is published with a relaxed atomic: both candidates compute the same function, so a
 * race between two first calls is harmless. Any thread.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "log/crc32c.h"
#include "log/journal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_X86 1
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint32_t tp_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&table_once, table_init);
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint64_t w = load_le64(p) ^ c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#ifdef HAVE_X86
__attribute__((target("sse4.2"))) uint32_t tp_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        n--;
    }
#ifdef __x86_64__
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
#endif
    while (n >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        c = _mm_crc32_u32(c, w);
        p += 4;
        n -= 4;
    }
    while (n--) c = _mm_crc32_u8(c, *p++);
    return ~c;
}

bool tp_crc32c_hw_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t tp_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    return tp_crc32c_sw(crc, buf, n);
}

bool tp_crc32c_hw_available(void)
{
    return false;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static _Atomic(crc_fn) impl;

uint32_t tp_crc32c(uint32_t crc, const void *p, size_t n)
{
    crc_fn f = atomic_load_explicit(&impl, memory_order_relaxed);
    if (TP_UNLIKELY(!f)) {
        f = tp_crc32c_hw_available() ? tp_crc32c_hw : tp_crc32c_sw;
        atomic_store_explicit(&impl, f, memory_order_relaxed);
    }
    return f(crc, p, n);
}
