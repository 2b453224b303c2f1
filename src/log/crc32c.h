/*
 * crc32c.h — the two implementations behind tp_crc32c (declared in log/journal.h), exposed so
 * tests can check each against the published vectors whatever the CPU picks. Internal to the
 * log module.
 */
#ifndef TP_CRC32C_H
#define TP_CRC32C_H

#include "core/tp.h"

/* Table-driven, slice-by-8. Same convention as tp_crc32c: crc is the value of the bytes so far
 * (0 to start), so calls chain. */
uint32_t tp_crc32c_sw(uint32_t crc, const void *p, size_t n);
/* The SSE4.2 crc32 instruction; only call when tp_crc32c_hw_available(). */
uint32_t tp_crc32c_hw(uint32_t crc, const void *p, size_t n);
bool tp_crc32c_hw_available(void);

#endif
