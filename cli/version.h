/* version.h — strata's version; the git commit is baked in by the Makefile (STRATA_COMMIT). */
#ifndef ST_VERSION_H
#define ST_VERSION_H

#define STRATA_VERSION "0.2.0"
#ifndef STRATA_COMMIT
#define STRATA_COMMIT "unknown"
#endif

#endif
