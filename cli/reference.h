/* reference.h — the reference documentation of every JSON object strata reads (layers, losses,
 * optimizers, schedules), printed from the same key tables the parsers use. docs/reference.md
 * is this output (`strata help reference --markdown`); a test checks they agree. */
#ifndef ST_REFERENCE_H
#define ST_REFERENCE_H

#include <stdio.h>

/* markdown: 1 for docs/reference.md, 0 for a terminal listing. topic: "layers", "losses",
 * "optimizers", "schedules" or "reference" (all). Returns 0, or -1 for an unknown topic. */
int st_reference_print(FILE *out, const char *topic, int markdown);

#endif
