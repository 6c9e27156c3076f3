/* st_error.c — error messages and checked aligned allocation. */
#include "st_error.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

st_status_t st_fail(st_error_t *err, st_status_t code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->everywhere = 0;
    }
    return code;
}

st_status_t st_error_everywhere(st_error_t *err) {
    if (!err) return ST_ERR_INTERNAL;
    err->everywhere = 1;
    return err->code;
}

void st_error_prefix(st_error_t *err, const char *fmt, ...) {
    if (!err) return;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    int n_head = vsnprintf(head, sizeof head - 2, fmt, ap);
    va_end(ap);
    if (n_head < 0) return;
    if (n_head > (int)sizeof head - 3) n_head = (int)sizeof head - 3;
    memcpy(head + n_head, ": ", 3);
    n_head += 2;
    size_t n_old = strnlen(err->msg, sizeof err->msg - 1);
    if (n_old + (size_t)n_head >= sizeof err->msg) n_old = sizeof err->msg - 1 - (size_t)n_head;
    memmove(err->msg + n_head, err->msg, n_old);
    memcpy(err->msg, head, (size_t)n_head);
    err->msg[n_head + n_old] = '\0';
}

int st_format(char *dst, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size;
}

const char *st_status_name(st_status_t code) {
    switch (code) {
    case ST_OK: return "ok";
    case ST_ERR_CONFIG: return "config error";
    case ST_ERR_SHAPE: return "shape error";
    case ST_ERR_IO: return "I/O error";
    case ST_ERR_DATA: return "data error";
    case ST_ERR_NOMEM: return "out of memory";
    case ST_ERR_MPI: return "MPI error";
    case ST_ERR_NUMERIC: return "numeric error";
    case ST_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

/* n_bytes rounded up to a multiple of `align` (a power of two), aligned to it and zeroed; with
 * huge_pages advised as transparent huge pages before the first touch. */
static void *aligned_zeroed(size_t n_bytes, size_t align, int huge_pages, const char *what, st_error_t *err) {
    size_t rounded = n_bytes == 0 ? align : (n_bytes + align - 1) / align * align;
    void *p = rounded >= n_bytes ? aligned_alloc(align, rounded) : NULL;
    if (!p) {
        st_fail(err, ST_ERR_NOMEM, "cannot allocate %zu bytes for %s", n_bytes, what);
        return NULL;
    }
    if (huge_pages && !getenv("STRATA_NO_HUGE_PAGES")) madvise(p, rounded, MADV_HUGEPAGE); /* advice only */
    memset(p, 0, rounded);
    return p;
}

void *st_alloc(size_t n_bytes, const char *what, st_error_t *err) { return aligned_zeroed(n_bytes, 64, 0, what, err); }

void *st_alloc_arena(size_t n_bytes, const char *what, st_error_t *err) {
    const size_t huge = (size_t)2 << 20;
    if (n_bytes < huge / 2) return st_alloc(n_bytes, what, err);
    return aligned_zeroed(n_bytes, huge, 1, what, err);
}

void st_free(void *p) { free(p); }

void st_release_pages(void *p, size_t n_bytes) {
    long page = sysconf(_SC_PAGESIZE);
    if (!p || page <= 0) return;
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t hi = ((uintptr_t)p + n_bytes) / (uintptr_t)page * (uintptr_t)page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
