/* options.h — the one argument parser every command uses (like git's parse-options): a command
 * declares its options in a table (string, integer with bounds, flag, repeatable list; an alias
 * such as -o) and how many positionals it takes; the parser accepts "--opt value" and
 * "--opt=value", prints `strata <command> --help` from the command table, and reports every
 * usage error on stderr as "strata: <command>: <what>" followed by the command's usage. */
#ifndef ST_OPTIONS_H
#define ST_OPTIONS_H

#include "cli/commands.h"

typedef enum {
    ST_OPT_STRING, /* dst: const char ** (a pointer into argv); an empty value is an error */
    ST_OPT_INT,    /* dst: int *, within [min, max] (max 0: INT_MAX) */
    ST_OPT_FLAG,   /* dst: int *, set to 1; "--flag=value" is an error */
    ST_OPT_LIST,   /* dst: st_opt_list_t *, one item per occurrence, in order */
} st_opt_kind_t;

#define ST_OPT_LIST_MAX 256

/* A repeatable option's values (--set, --sweep), pointers into argv; more than ST_OPT_LIST_MAX
 * is a usage error. */
typedef struct {
    const char *items[ST_OPT_LIST_MAX];
    int n;
} st_opt_list_t;

typedef struct {
    const char *name;  /* "--nodes" */
    const char *alias; /* "-o", or NULL */
    st_opt_kind_t kind;
    void *dst;
    const char *needs; /* the error for a missing value: "--set needs key.path=value" (NULL: "a value") */
    int min, max;      /* ST_OPT_INT */
} st_opt_t;

typedef struct {
    const st_opt_t *opts;
    int n_opts;
    const char **pos;         /* out: the positionals in order; room for n_pos_max (argc when < 0) */
    int n_pos_min, n_pos_max; /* n_pos_max < 0: any number */
    int n_pos;                /* out */
} st_opts_t;

/* Table rows, like git's OPT_STRING / OPT_BOOL; `dst` is type-checked. `needs` (NULL for the
 * default) is the whole message for a missing value. */
#define ST_OPTION_STRING(name, alias, dst, needs) \
    {name, alias, ST_OPT_STRING, (void *)(1 ? (dst) : (const char **)0), needs, 0, 0}
#define ST_OPTION_INT(name, dst, min, max) {name, NULL, ST_OPT_INT, (void *)(1 ? (dst) : (int *)0), NULL, min, max}
#define ST_OPTION_FLAG(name, dst) {name, NULL, ST_OPT_FLAG, (void *)(1 ? (dst) : (int *)0), NULL, 0, 0}
#define ST_OPTION_LIST(name, dst, needs) {name, NULL, ST_OPT_LIST, (void *)(1 ? (dst) : (st_opt_list_t *)0), needs, 0, 0}

#define ST_OPTS_RUN (-1)

/* Parses cli->argv[cli->first..]. Returns ST_OPTS_RUN when the command should run; otherwise the
 * exit status to return: 0 after printing the usage for --help (or -h), 2 after a usage error
 * (unknown option, missing or bad value, too many or too few positionals; the message names the
 * argument). A missing positional is named by its word in the command's usage ("CONFIG.json"). */
int st_opts_parse(st_opts_t *spec, const st_cli_t *cli);

/* Prints "strata: <command>: <message>" and the command's usage on stderr; returns 2. */
int st_usage_error(const st_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
