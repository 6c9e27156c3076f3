/* options.c — the one argument parser (see options.h): walks argv once, matching each "-..."
 * argument against the command's option table and collecting the rest as positionals. */
#include "cli/options.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int st_usage_error(const st_cli_t *cli, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "strata: %s: ", cli->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    st_command_usage(stderr, cli->cmd, 0);
    return 2;
}

/* The option `arg` names ("--nodes" or "--nodes=3"), or NULL. */
static const st_opt_t *find(const st_opts_t *spec, const char *arg) {
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (int k = 0; k < spec->n_opts; k++) {
        const st_opt_t *o = &spec->opts[k];
        if ((strlen(o->name) == len && strncmp(arg, o->name, len) == 0) ||
            (o->alias && strlen(o->alias) == len && strncmp(arg, o->alias, len) == 0))
            return o;
    }
    return NULL;
}

static int unknown(const st_opts_t *spec, const st_cli_t *cli, const char *arg) {
    fprintf(stderr, "strata: %s: unknown option \"%s\" (options:", cli->cmd->name, arg);
    for (int k = 0; k < spec->n_opts; k++)
        fprintf(stderr, " %s%s%s", spec->opts[k].alias ? spec->opts[k].alias : "", spec->opts[k].alias ? "/" : "",
                spec->opts[k].name);
    fprintf(stderr, " --help)\n");
    st_command_usage(stderr, cli->cmd, 0);
    return 2;
}

static int bad_int(const st_opt_t *o, const char *v, const st_cli_t *cli) {
    if (o->max) return st_usage_error(cli, "%s needs an integer from %d to %d, got %s", o->name, o->min, o->max, v);
    return st_usage_error(cli, "%s needs an integer >= %d, got %s", o->name, o->min, v);
}

/* Stores value `v` (NULL: none) of option `o`; returns ST_OPTS_RUN, or 2 after a usage error. */
static int store(const st_opt_t *o, const char *v, const st_cli_t *cli) {
    if (!v || !*v) {
        if (o->needs) return st_usage_error(cli, "%s", o->needs);
        if (o->kind == ST_OPT_INT) return bad_int(o, "nothing", cli);
        return st_usage_error(cli, "%s needs a value", o->name);
    }
    if (o->kind == ST_OPT_STRING) {
        *(const char **)o->dst = v;
    } else if (o->kind == ST_OPT_LIST) {
        st_opt_list_t *l = o->dst;
        if (l->n == ST_OPT_LIST_MAX) return st_usage_error(cli, "too many %s options (at most %d)", o->name, ST_OPT_LIST_MAX);
        l->items[l->n++] = v;
    } else {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (*end || errno || x < o->min || x > (o->max ? o->max : INT_MAX)) return bad_int(o, v, cli);
        *(int *)o->dst = (int)x;
    }
    return ST_OPTS_RUN;
}

/* Handles the option at argv[*i] (advancing *i past its value). */
static int option(const st_opts_t *spec, const st_cli_t *cli, int *i) {
    const char *arg = cli->argv[*i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        st_command_usage(stdout, cli->cmd, 1);
        return 0;
    }
    const st_opt_t *o = find(spec, arg);
    if (!o) return unknown(spec, cli, arg);
    const char *eq = strchr(arg, '=');
    if (o->kind == ST_OPT_FLAG) {
        if (eq) return st_usage_error(cli, "%s takes no value", o->name);
        *(int *)o->dst = 1;
        return ST_OPTS_RUN;
    }
    if (eq) return store(o, eq + 1, cli);
    return store(o, *i + 1 < cli->argc ? cli->argv[++*i] : NULL, cli);
}

/* The k-th word of the command's usage (k from 0), for "missing CONFIG.json". */
static void usage_word(char *out, size_t size, const char *args, int k) {
    snprintf(out, size, "argument");
    for (const char *p = args; *p;) {
        p += strspn(p, " \n");
        size_t n = strcspn(p, " \n");
        if (n == 0) break;
        if (k-- == 0) {
            if (*p != '[' && *p != '-') snprintf(out, size, "%.*s", (int)n, p);
            return;
        }
        p += n;
    }
}

int st_opts_parse(st_opts_t *spec, const st_cli_t *cli) {
    spec->n_pos = 0;
    for (int i = cli->first; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            int rc = option(spec, cli, &i);
            if (rc != ST_OPTS_RUN) return rc;
        } else if (spec->n_pos_max >= 0 && spec->n_pos == spec->n_pos_max) {
            return st_usage_error(cli, "unexpected argument \"%s\"", a);
        } else {
            spec->pos[spec->n_pos++] = a;
        }
    }
    if (spec->n_pos < spec->n_pos_min) {
        char word[64];
        usage_word(word, sizeof word, cli->cmd->args, spec->n_pos);
        return st_usage_error(cli, "missing %s", word);
    }
    return ST_OPTS_RUN;
}
