/* hash.c — 64-bit FNV-1a (see hash.h). */
#include "hash.h"

#define FNV1A64_PRIME 0x100000001b3ull

uint64_t st_fnv1a64(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV1A64_PRIME;
    return h;
}
