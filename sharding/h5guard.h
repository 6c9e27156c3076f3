/* h5guard.h — the last line of defence when libhdf5 crashes on a damaged file.
 *
 * strata checks what it can before HDF5 parses a file (checkpoints carry a checksum in their user
 * block), but a damaged dataset or a damaged old checkpoint can still make libhdf5 itself read out
 * of bounds. Code that hands a user's file to HDF5 brackets the calls with st_h5_guard_enter /
 * st_h5_guard_leave; a SIGSEGV, SIGBUS or SIGFPE in between prints
 *   strata: <path>: damaged (HDF5 failed reading it: SIGSEGV)
 * on stderr and ends the process with exit status 1 (under MPI, mpirun then ends the job). Outside
 * a guarded section the signal keeps its default action (a crash of strata's own code stays a
 * crash, with its core dump). Guards do not nest: the innermost path is reported. */
#ifndef ST_H5GUARD_H
#define ST_H5GUARD_H

/* Records `path` (truncated to 1023 bytes) and, the first time, installs the handlers. */
void st_h5_guard_enter(const char *path);

/* Ends the guarded section: the signals are crashes of strata again. */
void st_h5_guard_leave(void);

#endif
