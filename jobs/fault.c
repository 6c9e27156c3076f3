/* fault.c — parsing STRATA_FAULT (see fault.h). */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

st_status_t st_fault_from_env(st_fault_t *f, st_error_t *err) {
    f->kind = ST_FAULT_NONE, f->rank = -1, f->step = -1;
    const char *v = getenv("STRATA_FAULT");
    if (!v || !*v) return ST_OK;
    char kind[16] = "";
    long long step;
    int rank, used = 0;
    if (sscanf(v, "%d:%lld:%15s%n", &rank, &step, kind, &used) != 3 || v[used] != '\0' || rank < 0 || step < 0)
        return st_fail(err, ST_ERR_CONFIG, "STRATA_FAULT=%s: expected rank:step:abort|kill|hang|nan|nan+|perturb|slow+", v);
    static const struct { const char *name; st_fault_kind_t kind; } kinds[] = {
        {"abort", ST_FAULT_ABORT}, {"kill", ST_FAULT_KILL}, {"hang", ST_FAULT_HANG},
        {"nan", ST_FAULT_NAN}, {"nan+", ST_FAULT_NAN_FROM}, {"perturb", ST_FAULT_PERTURB}, {"slow+", ST_FAULT_SLOW_FROM}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i].name) == 0) {
            f->kind = kinds[i].kind, f->rank = rank, f->step = step;
            return ST_OK;
        }
    return st_fail(err, ST_ERR_CONFIG, "STRATA_FAULT=%s: unknown fault \"%s\" (abort, kill, hang, nan, nan+, perturb, slow+)", v, kind);
}

st_fault_kind_t st_fault_at(const st_fault_t *f, int rank, int64_t step) {
    if (f->kind == ST_FAULT_NONE || rank != f->rank) return ST_FAULT_NONE;
    if (f->kind == ST_FAULT_NAN_FROM) return step >= f->step ? ST_FAULT_NAN : ST_FAULT_NONE;
    if (f->kind == ST_FAULT_SLOW_FROM) return step >= f->step ? ST_FAULT_SLOW : ST_FAULT_NONE;
    return step == f->step ? f->kind : ST_FAULT_NONE;
}
