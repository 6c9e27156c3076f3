/* memory.h — how much memory this process may use: the smallest of the kernel's estimate of
 * what can be allocated without swapping (MemAvailable in /proc/meminfo) and the limit of the
 * process's memory cgroup (v2 memory.max, v1 memory.limit_in_bytes, minus what the cgroup
 * already uses). A trainer compares its needs with this before allocating, so a model that
 * cannot fit fails with a message instead of being killed by the kernel without one. */
#ifndef ST_MEMORY_H
#define ST_MEMORY_H

#include <stdint.h>

/* Bytes this process may still allocate, or 0 when nothing could be read. */
uint64_t st_memory_available(void);

/* "1.5 GB", "312 MB", "4 KB" (powers of 1000 with one decimal below 10). */
void st_memory_format(char *buf, int size, double bytes);

#endif
