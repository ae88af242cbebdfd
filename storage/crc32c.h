/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of every WAL record, chunk
 * and index section. Uses the SSE4.2 instruction when the CPU has it, a
 * slicing table otherwise; both give identical results.
 */
#ifndef FLINT_CRC32C_H
#define FLINT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: crc32c(0, ...) starts one. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
