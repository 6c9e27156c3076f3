/* clock.h — seconds on the monotonic clock, for timing phases, steps and stalls. */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H

#include <time.h>

static inline double st_clock_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif
