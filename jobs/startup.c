/* startup.c — see startup.h. */
#include "startup.h"

#include <string.h>

#include "mpi/collectives.h"

static const char *const phase_names[ST_PHASE_COUNT] = {"mpi_init", "config", "data", "model", "run_folder", "first_step"};

void st_startup_begin(st_startup_t *s, double origin) {
    memset(s, 0, sizeof *s);
    s->origin = origin;
}

void st_startup_mark(st_startup_t *s, st_startup_phase_t phase) {
    if (s) s->end[phase] = st_clock_s() - s->origin;
}

st_status_t st_startup_reduce(st_startup_t *out, const st_startup_t *mine, const st_comm_t *c, st_error_t *err) {
    *out = *mine;
    return st_reduce_max_f64(out->end, mine->end, ST_PHASE_COUNT, c, err);
}

/* Rounded to the microsecond: the clock's jitter is larger than that. */
static double rounded(double s) { return (double)(long long)(s * 1e6 + 0.5) / 1e6; }

cJSON *st_startup_json(const st_startup_t *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    double prev = 0;
    for (int p = 0; p < ST_PHASE_COUNT; p++) {
        double d = s->end[p] > prev ? s->end[p] - prev : 0;
        cJSON_AddNumberToObject(o, phase_names[p], rounded(d));
        if (s->end[p] > prev) prev = s->end[p];
    }
    cJSON_AddNumberToObject(o, "total_to_first_step", rounded(prev));
    double own = prev - s->end[ST_PHASE_MPI_INIT];
    cJSON_AddNumberToObject(o, "own_to_first_step", rounded(own > 0 ? own : 0));
    return o;
}
