/* hash.h — 64-bit FNV-1a, the one non-cryptographic hash of strata: the dataset fingerprint
 * (sharding/fingerprint.c), the replica-divergence check and the STRATA_TRACE step lines
 * (jobs/train.c). Byte-wise, so the same bytes give the same hash on every machine; fast enough
 * for labels and parameter arenas, not meant to resist deliberate collisions.
 * (http://www.isthe.com/chongo/tech/comp/fnv/: offset basis 14695981039346656037, prime 2^40 + 2^8 + 0xb3.)
 *
 * strata's own hashes start from ST_FNV1A64_STRATA_BASIS, not from the standard basis: the code
 * they came from wrote the basis in decimal with its last digit missing. The step is the
 * standard FNV-1a step either way; the start value is kept because dataset fingerprints are
 * stored in run.json files and checkpoints, and a resume compares them. */
#ifndef ST_HASH_H
#define ST_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The standard offset basis: the FNV-1a hash of no bytes. */
#define ST_FNV1A64_BASIS 0xcbf29ce484222325ull

/* The start value of strata's fingerprints and parameter hashes: 1469598103934665603, the
 * standard basis 14695981039346656037 without its last decimal digit (see above). */
#define ST_FNV1A64_STRATA_BASIS 0x14650fb0739d0383ull

/* Continues hash h over the n bytes at p (p may be NULL when n == 0); chain calls to hash
 * several pieces as one: st_fnv1a64(st_fnv1a64(ST_FNV1A64_BASIS, a, na), b, nb). */
uint64_t st_fnv1a64(uint64_t h, const void *p, size_t n);

#endif
