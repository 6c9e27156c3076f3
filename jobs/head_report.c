/* head_report.c — named per-head metrics (see head_report.h). */
#include "head_report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jobs/heads.h"

void st_metric_table_add(st_metric_table_t *t, const char *name, double value) {
    if (t->n >= ST_METRICS_MAX) return;
    st_format(t->name[t->n], ST_METRIC_NAME, "%s", name);
    t->value[t->n++] = value;
}

int st_metric_table_has(const st_metric_table_t *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0) return 1;
    return 0;
}

double st_metric_table_get(const st_metric_table_t *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0) return t->value[i];
    return NAN;
}

/* "<split>_<metric>" with one head, "<split>_<metric>.<head>" with several. */
static void add(st_metric_table_t *t, const char *split, const char *metric, const char *head, int several, double v) {
    char name[ST_METRIC_NAME];
    if (several) st_format(name, sizeof name, "%s_%s.%s", split, metric, head);
    else st_format(name, sizeof name, "%s_%s", split, metric);
    st_metric_table_add(t, name, v);
}

/* A regression head of several columns: each column's mae, rmse and r2 as
 * "<split>_<metric>.<head>.<column>" (the means above are over these). */
static void add_columns(st_metric_table_t *t, const char *split, const st_head_eval_t *he, const st_loss_config_t *l,
                        const char *head, const st_dataset_t *ds) {
    if (l->n_classes < 2 || l->target_index < 0) return;
    const st_target_info_t *ti = &ds->targets[l->target_index];
    for (int k = 0; k < l->n_classes && k < ti->width && k < 16; k++) { /* a wide target: means only beyond 16 */
        double v[3] = {NAN, NAN, NAN};
        if (he) st_head_column_metrics(he, k, &v[0], &v[1], &v[2]);
        static const char *const metric[3] = {"mae", "rmse", "r2"};
        for (int j = 0; j < 3; j++) {
            char name[ST_METRIC_NAME];
            st_format(name, sizeof name, "%s_%s.%s.%s", split, metric[j], head, ti->names[k]);
            st_metric_table_add(t, name, v[j]);
        }
    }
}

void st_head_report_val(st_metric_table_t *t, const char *split, const st_eval_t *r, const st_loss_heads_t *l,
                        const st_dataset_t *ds) {
    int H = l->n_heads, several = H > 1;
    double combined = 0;
    for (int h = 0; h < H; h++) {
        st_head_metrics_t m;
        if (r) st_head_metrics(&m, &r->heads[h]);
        else memset(&m, 0, sizeof m), m.loss = NAN;
        const char *name = st_heads_name(&l->heads[h], ds);
        double nan = NAN;
        combined += l->heads[h].head_weight * (r ? m.loss : nan);
        if (several) add(t, split, "loss", name, 1, m.loss);
        if (st_loss_uses_labels(&l->heads[h])) {
            add(t, split, "accuracy", name, several, r ? m.accuracy : nan);
            add(t, split, "macro_f1", name, several, r ? m.macro_f1 : nan);
        } else if (st_loss_is_regression(&l->heads[h])) {
            add(t, split, "mae", name, several, r ? m.mae : nan);
            add(t, split, "rmse", name, several, r ? m.rmse : nan);
            add(t, split, "r2", name, several, r ? m.r2 : nan);
            add_columns(t, split, r ? &r->heads[h] : NULL, &l->heads[h], name, ds);
        } else if (st_loss_is_sequence(&l->heads[h])) {
            add(t, split, "wer", name, several, r ? m.wer : nan);
            add(t, split, "cer", name, several, r ? m.cer : nan);
            add(t, split, "token_accuracy", name, several, r ? m.token_accuracy : nan);
            add(t, split, "exact_match", name, several, r ? m.exact_match : nan);
        } else {
            add(t, split, "f1", name, several, r ? m.micro_f1 : nan);
            add(t, split, "macro_f1", name, several, r ? m.label_macro_f1 : nan);
            add(t, split, "exact_match", name, several, r ? m.exact_match : nan);
            add(t, split, "topk", name, several, r ? m.topk_rate : nan);
        }
    }
    add(t, split, "loss", "", 0, combined);
}

void st_head_report_print(FILE *out, const char *split, const st_eval_t *r, const st_loss_heads_t *l,
                          const st_dataset_t *ds) {
    for (int h = 0; h < l->n_heads; h++) {
        st_head_metrics_t m;
        st_head_metrics(&m, &r->heads[h]);
        const char *name = st_heads_name(&l->heads[h], ds);
        if (r->heads[h].kind == ST_HEAD_CLASS)
            fprintf(out, "  %s %-12s accuracy %.2f%%  macro F1 %.4f  loss %.4f  (%lld rows)\n", split, name,
                    100 * m.accuracy, m.macro_f1, m.loss, (long long)r->heads[h].n);
        else if (r->heads[h].kind == ST_HEAD_MULTILABEL)
            fprintf(out, "  %s %-12s micro F1 %.4f  macro F1 %.4f  exact match %.2f%%  top-%d %.2f%%  loss %.4f\n", split,
                    name, m.micro_f1, m.label_macro_f1, 100 * m.exact_match, r->heads[h].top_k, 100 * m.topk_rate, m.loss);
        else if (r->heads[h].kind == ST_HEAD_SEQUENCE)
            fprintf(out, "  %s %-12s WER %.2f%%  CER %.2f%%  token accuracy %.2f%%  exact %.2f%%  loss %.4f  (%lld rows)\n",
                    split, name, 100 * m.wer, 100 * m.cer, 100 * m.token_accuracy, 100 * m.exact_match, m.loss,
                    (long long)r->heads[h].n);
        else
            fprintf(out, "  %s %-12s R2 %.4f  MAE %.4g  RMSE %.4g  loss %.4f\n", split, name, m.r2, m.mae, m.rmse, m.loss);
    }
}

void st_head_report_train(st_metric_table_t *t, const st_train_sums_t *s, const st_loss_heads_t *l,
                          const st_dataset_t *ds) {
    int H = l->n_heads, several = H > 1;
    double combined = 0;
    for (int h = 0; h < H; h++) {
        double mean = s->head[h].weight > 0 ? s->head[h].sum / s->head[h].weight : NAN;
        combined += l->heads[h].head_weight * mean;
        const char *name = st_heads_name(&l->heads[h], ds);
        if (several) add(t, "train", "loss", name, 1, mean);
        if (st_loss_uses_labels(&l->heads[h]))
            add(t, "train", "accuracy", name, several,
                s->labelled[h] > 0 ? (double)s->correct[h] / (double)s->labelled[h] : NAN);
    }
    add(t, "train", "loss", "", 0, combined);
}

void st_head_report_health(st_metric_table_t *t, const st_train_sums_t *s, const st_loss_heads_t *l,
                           const st_dataset_t *ds, double val_loss, double train_loss, double share_max,
                           double gap_max, char *warn, size_t warn_size) {
    warn[0] = '\0';
    int H = l->n_heads;
    double part[ST_LOSS_MAX_HEADS], total = 0;
    for (int h = 0; h < H; h++) {
        part[h] = s->head[h].weight > 0 ? l->heads[h].head_weight * s->head[h].sum / s->head[h].weight : 0;
        total += part[h];
    }
    for (int h = 0; H > 1 && total > 0 && h < H; h++) {
        char name[ST_METRIC_NAME];
        const char *head = st_heads_name(&l->heads[h], ds);
        st_format(name, sizeof name, "loss_share.%s", head);
        st_metric_table_add(t, name, part[h] / total);
        if (part[h] / total > share_max && !warn[0])
            st_format(warn, warn_size, "head %s takes %.0f%% of the training loss (monitors.head_share_max %.2f): the "
                      "other heads hardly train; lower its head_weight or raise theirs", head, 100 * part[h] / total,
                      share_max);
    }
    if (!(isfinite(val_loss) && isfinite(train_loss) && train_loss > 0)) return;
    double gap = (val_loss - train_loss) / train_loss;
    st_metric_table_add(t, "gap", gap);
    if (gap_max > 0 && gap > gap_max && !warn[0])
        st_format(warn, warn_size, "validation loss %.4g is %.0f%% above the training loss %.4g (monitors.gap_max %.2f): "
                  "overfitting; more regularisation, augmentation or data", val_loss, 100 * gap, train_loss, gap_max);
}
