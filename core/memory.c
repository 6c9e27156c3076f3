/* memory.c — available memory from /proc and the memory cgroup (see memory.h). */
#include "memory.h"

#include <stdio.h>
#include <string.h>

/* The number after `key` in /proc/meminfo, in bytes; 0 when absent. */
static uint64_t meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && sscanf(line + n, " %llu", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* The unsigned number in `path` ("max" and unreadable files: 0). */
static uint64_t read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long v = 0;
    if (fscanf(f, "%llu", &v) != 1) v = 0;
    fclose(f);
    return (uint64_t)v;
}

/* What the memory cgroup still allows, or 0 without a limit. */
static uint64_t cgroup_room(void) {
    uint64_t limit = read_number("/sys/fs/cgroup/memory.max"), used = read_number("/sys/fs/cgroup/memory.current");
    if (!limit) {
        limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    }
    if (!limit || limit >= ((uint64_t)1 << 60)) return 0; /* v1 writes "no limit" as a huge number */
    return limit > used ? limit - used : 1;
}

uint64_t st_memory_available(void) {
    uint64_t avail = meminfo("MemAvailable:"), room = cgroup_room();
    if (room && (!avail || room < avail)) return room;
    return avail;
}

void st_memory_format(char *buf, int size, double bytes) {
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) bytes /= 1000, u++;
    snprintf(buf, (size_t)size, bytes < 10 && u > 0 ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}
