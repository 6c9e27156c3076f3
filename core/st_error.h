/* st_error.h — status codes and error messages for every strata library call.
 *
 * Library code never exits: a failing call fills an st_error_t with a message that names the
 * file, field or row at fault and returns its status code. Only `main` ends the process. */
#ifndef ST_ERROR_H
#define ST_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    ST_OK = 0,
    ST_ERR_CONFIG = 2,   /* a config or model description is wrong */
    ST_ERR_SHAPE = 3,    /* tensor shapes do not fit together */
    ST_ERR_IO = 4,       /* a file cannot be read or written */
    ST_ERR_DATA = 5,     /* a dataset's content is wrong (NaN, label out of range, ...) */
    ST_ERR_NOMEM = 6,    /* an allocation failed */
    ST_ERR_MPI = 7,      /* an MPI call failed */
    ST_ERR_NUMERIC = 8,  /* a non-finite value where a finite one is required */
    ST_ERR_INTERNAL = 9  /* a bug in strata */
} st_status_t;

typedef struct {
    st_status_t code;
    char msg[1024];
    int everywhere;    /* 1: every rank found this same error (the same file, the same decision):
                        * one rank prints it, not all of them (st_error_everywhere) */
} st_error_t;

/* Fills `err` (may be NULL) with a formatted message and returns `code`. */
st_status_t st_fail(st_error_t *err, st_status_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks the error as one every rank has alike and returns its code. */
st_status_t st_error_everywhere(st_error_t *err);

/* Prepends "prefix: " to an existing message (for adding context on the way up). */
void st_error_prefix(st_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *st_status_name(st_status_t code);

/* snprintf for names and JSON paths, where a truncated result is acceptable (messages only);
 * returns 1 when the result was truncated. */
int st_format(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Allocates `n_bytes` aligned to 64 bytes and zeroed; NULL (and err filled) on failure. */
void *st_alloc(size_t n_bytes, const char *what, st_error_t *err);

/* st_alloc for a long-lived arena (parameters, gradients, optimizer state): from 1 MiB on,
 * aligned to 2 MiB, rounded up to whole 2 MiB and advised as transparent huge pages
 * (MADV_HUGEPAGE; a no-op where THP is "never"). The gradient all-reduce of the default MLP's
 * 2.27 MB arena between 2 ranks in shared memory (single-copy CMA, which pins the pages each
 * call) took 0.17 ms on huge pages against 0.30 ms on 4 KiB pages. STRATA_NO_HUGE_PAGES (any
 * value) leaves out the advice (docs/performance.md). Freed with st_free. */
void *st_alloc_arena(size_t n_bytes, const char *what, st_error_t *err);
void st_free(void *p);

/* Gives the whole pages inside [p, p + n_bytes) of a live allocation back to the system
 * (MADV_DONTNEED): they stop counting in the resident set and read as zeros when touched again.
 * For an arena whose values live elsewhere for a while (jobs/engine_node.h). */
void st_release_pages(void *p, size_t n_bytes);

#define ST_TRY(call)                          \
    do {                                      \
        st_status_t st_try_rc_ = (call);      \
        if (st_try_rc_ != ST_OK) return st_try_rc_; \
    } while (0)

#endif
