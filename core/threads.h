/* threads.h — how many threads a rank uses, and which BLIS kernels run.
 *
 * Threads per rank default to the CPUs this process may run on (its affinity mask) divided by
 * the ranks that share them, never more: a BLIS thread waiting on a busy core spins, and two on
 * one core ran a thousand times slower here. OpenMP (elementwise work) and BLIS (GEMMs) get the
 * same count; BLIS is never called inside an OpenMP parallel region, so they never nest.
 *
 * Debian's BLIS 0.9 does not recognise several AVX-512 CPUs (a Zen 5 falls back to generic
 * kernels at ~15% of peak, an AVX-512 Xeon gets the AVX2 haswell kernels at about half): before
 * BLIS initialises, st_blis_select() asks for the AVX-512 (skx) kernels when the CPU has
 * AVX-512F/DQ/BW/VL and the user did not set BLIS_ARCH_TYPE, then reports what runs. */
#ifndef ST_THREADS_H
#define ST_THREADS_H

/* CPUs in this process's affinity mask. */
int st_cpus_available(void);
/* CPUs online on this node (sysconf): what the ranks on a node share at most. */
int st_cpus_online(void);
/* max(1, cpus_available / ranks_sharing). */
int st_threads_default(int ranks_sharing);
/* Sets OpenMP's and BLIS's thread counts. */
void st_threads_set(int n_threads);
int st_threads_get(void);

typedef struct {
    char kernels[32];     /* BLIS configuration in use, e.g. "skx" */
    char how[160];        /* why: "chosen by strata (AVX-512 CPU)", "BLIS_ARCH_TYPE set by user", ... */
    char warning[256];    /* non-empty when the kernels are likely slow for this CPU */
} st_blis_info_t;

/* Must run before the first BLIS call. STRATA_BLIS_ARCH=keep leaves BLIS's own choice. */
void st_blis_select(st_blis_info_t *info);

#endif
