/* threads.c — thread counts and BLIS kernel selection (see threads.h). */
#include "threads.h"

#include <blis.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int st_cpus_available(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return omp_get_num_procs();
}

int st_cpus_online(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : st_cpus_available();
}

int st_threads_default(int ranks_sharing) {
    int n = st_cpus_available() / (ranks_sharing > 0 ? ranks_sharing : 1);
    return n > 0 ? n : 1;
}

void st_threads_set(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    omp_set_num_threads(n_threads);
    bli_thread_set_num_threads(n_threads);
}

int st_threads_get(void) { return omp_get_max_threads(); }

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

void st_blis_select(st_blis_info_t *info) {
    memset(info, 0, sizeof *info);
    const char *user = getenv("BLIS_ARCH_TYPE");
    const char *policy = getenv("STRATA_BLIS_ARCH");
    int keep = policy && strcmp(policy, "keep") == 0;
    int avx512 = cpu_has_avx512();
    if (user) {
        snprintf(info->how, sizeof info->how, "BLIS_ARCH_TYPE=%s set by the user", user);
    } else if (avx512 && !keep) {
        char id[8];
        snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_SKX);
        setenv("BLIS_ARCH_TYPE", id, 1);
        snprintf(info->how, sizeof info->how, "chosen by strata for this AVX-512 CPU; STRATA_BLIS_ARCH=keep leaves BLIS's choice");
    } else {
        snprintf(info->how, sizeof info->how, "BLIS's own choice");
    }
    bli_init();
    arch_t id = bli_arch_query_id();
    snprintf(info->kernels, sizeof info->kernels, "%s", bli_arch_string(id));
    __builtin_cpu_init();
    if (id == BLIS_ARCH_GENERIC && __builtin_cpu_supports("avx2"))
        snprintf(info->warning, sizeof info->warning,
                 "BLIS runs its generic kernels on an AVX2 CPU (about 5x slower); set BLIS_ARCH_TYPE=%d (haswell) or unset STRATA_BLIS_ARCH",
                 (int)BLIS_ARCH_HASWELL);
    else if (avx512 && id != BLIS_ARCH_SKX)
        snprintf(info->warning, sizeof info->warning,
                 "BLIS runs %s kernels on an AVX-512 CPU; the skx kernels (BLIS_ARCH_TYPE=%d) are about 2x faster here",
                 info->kernels, (int)BLIS_ARCH_SKX);
}
