/* shape.h — per-sample tensor shapes. A batch of B samples of shape s is a float32 array
 * [B, numel(s)], batch-major. Rank 1: [D] features. Rank 2: [T, C] sequences, channels last
 * (element (t, c) of sample b at b*T*C + t*C + c). */
#ifndef ST_SHAPE_H
#define ST_SHAPE_H

#include <stdio.h>

typedef struct {
    int rank;  /* 1 or 2 */
    int d[2];  /* rank 1: d[0] = D; rank 2: d[0] = T, d[1] = C */
} st_shape_t;

static inline st_shape_t st_shape1(int D) { return (st_shape_t){1, {D, 0}}; }
static inline st_shape_t st_shape2(int T, int C) { return (st_shape_t){2, {T, C}}; }
static inline long st_shape_numel(st_shape_t s) { return s.rank == 1 ? s.d[0] : (long)s.d[0] * s.d[1]; }
/* Features per position: D for [D], C for [T, C]. */
static inline int st_shape_channels(st_shape_t s) { return s.rank == 1 ? s.d[0] : s.d[1]; }
/* Positions per sample: 1 for [D], T for [T, C]. */
static inline int st_shape_positions(st_shape_t s) { return s.rank == 1 ? 1 : s.d[0]; }
static inline int st_shape_equal(st_shape_t a, st_shape_t b) {
    return a.rank == b.rank && a.d[0] == b.d[0] && (a.rank == 1 || a.d[1] == b.d[1]);
}
static inline void st_shape_str(st_shape_t s, char *buf, int size) {
    if (s.rank == 1) snprintf(buf, size, "[%d]", s.d[0]);
    else snprintf(buf, size, "[%d, %d]", s.d[0], s.d[1]);
}

#endif
