/* monitor_spec.c — what early stopping, the best checkpoint and reduce-on-plateau watch
 * (st_monitor_spec_t, jobs/config.h): a recorded validation metric or a weighted sum of them.
 *
 * Names are checked for their form when the config is loaded (val_<metric>[.<head>], <metric>
 * from the table below, which also gives each metric's direction); whether the run records a
 * name is known only once the model and its losses are built, so the job checks that with
 * st_monitor_check against the names it writes to history.jsonl. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The metrics a monitor may name, with the direction "auto" gives them. */
static const struct {
    const char *name;
    int mode_max;
} metrics[] = {
    {"loss", 0}, {"accuracy", 1}, {"macro_f1", 1}, {"f1", 1}, {"exact_match", 1},
    {"topk", 1}, {"mae", 0},      {"rmse", 0},     {"r2", 1},
    {"wer", 0},  {"cer", 0},      {"token_accuracy", 1},
};
enum { N_METRICS = (int)(sizeof metrics / sizeof metrics[0]) };

/* Index in metrics[] of name's metric ("val_r2.reward" -> r2), or -1 when the name does not
 * have the form val_<metric> or val_<metric>.<head> (head non-empty). */
static int metric_of(const char *name) {
    if (strncmp(name, "val_", 4) != 0) return -1;
    const char *m = name + 4, *dot = strchr(m, '.');
    size_t len = dot ? (size_t)(dot - m) : strlen(m);
    if (dot && !dot[1]) return -1;
    for (int i = 0; i < N_METRICS; i++)
        if (strlen(metrics[i].name) == len && strncmp(metrics[i].name, m, len) == 0) return i;
    return -1;
}

static st_status_t add_term(st_monitor_spec_t *out, const char *name, double weight, const char *key, st_error_t *err) {
    if (strlen(name) >= sizeof out->name[0])
        return st_fail(err, ST_ERR_CONFIG, "%s: metric name \"%.40s...\" is longer than %d characters", key, name,
                       (int)sizeof out->name[0] - 1);
    if (metric_of(name) < 0)
        return st_fail(err, ST_ERR_CONFIG, "%s: unknown metric \"%s\": expected val_<metric> or val_<metric>.<head> "
                       "with <metric> one of %s", key, name, ST_MONITOR_METRICS);
    if (out->n_terms == ST_MONITOR_TERMS)
        return st_fail(err, ST_ERR_CONFIG, "%s: at most %d metrics in a weighted monitor", key, ST_MONITOR_TERMS);
    snprintf(out->name[out->n_terms], sizeof out->name[0], "%s", name);
    out->weight[out->n_terms++] = weight;
    return ST_OK;
}

/* "val_loss" for a plain name; "0.5*val_accuracy.category - 0.2*val_loss" for a sum (a weight
 * of 1 is left out); "..." at the end when it does not fit. */
static void format_text(st_monitor_spec_t *m, int plain) {
    char *t = m->text;
    size_t size = sizeof m->text, n = 0;
    t[0] = 0;
    for (int i = 0; i < m->n_terms && n < size; i++) {
        double w = fabs(m->weight[i]);
        const char *sign = i == 0 ? (m->weight[i] < 0 ? "-" : "") : (m->weight[i] < 0 ? " - " : " + ");
        if (plain || w == 1) n += (size_t)snprintf(t + n, size - n, "%s%s", sign, m->name[i]);
        else n += (size_t)snprintf(t + n, size - n, "%s%g*%s", sign, w, m->name[i]);
    }
    if (n >= size) strcpy(t + size - 4, "...");
}

st_status_t st_monitor_parse(st_monitor_spec_t *out, const cJSON *v, const char *key, st_error_t *err) {
    memset(out, 0, sizeof *out);
    if (cJSON_IsString(v)) {
        ST_TRY(add_term(out, v->valuestring, 1.0, key, err));
        format_text(out, 1);
        return ST_OK;
    }
    if (!cJSON_IsObject(v)) {
        char *got = v ? cJSON_PrintUnformatted(v) : NULL;
        st_fail(err, ST_ERR_CONFIG, "%s: expected a metric name (\"val_loss\", \"val_r2.reward\") or an object of "
                "weights ({\"val_accuracy.category\": 0.5, \"val_r2.reward\": 0.5}), got %.60s", key, got ? got : "nothing");
        cJSON_free(got);
        return ST_ERR_CONFIG;
    }
    int n = cJSON_GetArraySize(v);
    if (n == 0) return st_fail(err, ST_ERR_CONFIG, "%s: an object of weights needs at least one metric", key);
    if (n > ST_MONITOR_TERMS)
        return st_fail(err, ST_ERR_CONFIG, "%s: at most %d metrics in a weighted monitor, got %d", key, ST_MONITOR_TERMS, n);
    for (const cJSON *t = v->child; t; t = t->next) {
        if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble == 0) {
            char *got = cJSON_PrintUnformatted(t);
            st_fail(err, ST_ERR_CONFIG, "%s: the weight of \"%.64s\" must be a finite number other than 0, got %.60s", key,
                    t->string, got ? got : "?");
            cJSON_free(got);
            return ST_ERR_CONFIG;
        }
        ST_TRY(add_term(out, t->string, t->valuedouble, key, err));
    }
    format_text(out, 0);
    return ST_OK;
}

st_status_t st_monitor_resolve_mode(st_monitor_spec_t *m, const char *mode, const char *key, const char *mode_key,
                                    st_error_t *err) {
    if (strcmp(mode, "auto") != 0) {
        m->mode_max = strcmp(mode, "max") == 0;
        return ST_OK;
    }
    int first = metric_of(m->name[0]);
    for (int i = 0; i < m->n_terms; i++) {
        if (m->weight[i] < 0)
            return st_fail(err, ST_ERR_CONFIG, "%s: mode \"auto\" cannot tell the direction of %s (the weight of %s is "
                           "negative): set %s to \"min\" or \"max\"", key, m->text, m->name[i], mode_key);
        int k = metric_of(m->name[i]);
        if (metrics[k].mode_max != metrics[first].mode_max) {
            int lo = metrics[k].mode_max ? 0 : i, hi = metrics[k].mode_max ? i : 0;
            return st_fail(err, ST_ERR_CONFIG, "%s: mode \"auto\" cannot tell the direction of %s (lower is better for "
                           "%s, higher for %s): set %s to \"min\" or \"max\"", key, m->text, m->name[lo], m->name[hi],
                           mode_key);
        }
    }
    m->mode_max = metrics[first].mode_max;
    return ST_OK;
}

st_status_t st_monitor_check(const st_monitor_spec_t *m, const char *key, const char *const *recorded, int n_recorded,
                             st_error_t *err) {
    for (int i = 0; i < m->n_terms; i++) {
        int found = 0;
        for (int r = 0; r < n_recorded && !found; r++) found = strcmp(m->name[i], recorded[r]) == 0;
        if (found) continue;
        char list[640] = "";
        size_t n = 0;
        for (int r = 0; r < n_recorded && n < sizeof list; r++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", r ? ", " : "", recorded[r]);
        if (n >= sizeof list) strcpy(list + sizeof list - 4, "...");
        return st_fail(err, ST_ERR_CONFIG, "%s: \"%s\" is not recorded by this run; it records %s", key, m->name[i],
                       n_recorded ? list : "no validation metrics");
    }
    return ST_OK;
}
