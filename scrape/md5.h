/*
 * md5.h - MD5 (RFC 1321), only for relabelling's hashmod action, which must
 * pick the same shard as Prometheus (md5 of the joined source values, low 8
 * bytes big-endian, modulo the modulus). Not for anything security-related.
 */
#ifndef FLINT_SCRAPE_MD5_H
#define FLINT_SCRAPE_MD5_H

#include <stddef.h>
#include <stdint.h>

void scrape_md5(const void *data, size_t len, uint8_t digest[16]);

#endif
