/* metrics.c — confusion counts, top-k counts, per-class scores and prediction diversity.
 *
 * Rows are independent and counted into int64 totals; the work is small next to a forward pass,
 * so it runs serially (integer counts would be reproducible in any order anyway). */
#include "metrics.h"

#include <math.h>
#include <string.h>

/* 1 when class a (logit va) ranks above class b (logit vb): larger first, NaN last, then index. */
static int ranks_above(float va, int a, float vb, int b) {
    int na = isnan(va), nb = isnan(vb);
    if (na || nb) return na != nb ? nb : a < b;
    if (va != vb) return va > vb;
    return a < b;
}

int st_argmax(const float *row, int K) {
    int best = 0;
    for (int c = 1; c < K; c++)
        if (ranks_above(row[c], c, row[best], best)) best = c;
    return best;
}

void st_confusion_add(int64_t *conf, const float *logits, const int32_t *labels, int B, int K) {
    for (int i = 0; i < B; i++) {
        int y = labels[i];
        if (y < 0 || y >= K) continue;
        conf[(size_t)y * K + st_argmax(logits + (size_t)i * K, K)]++;
    }
}

int64_t st_topk_correct(const float *logits, const int32_t *labels, int k, int B, int K) {
    int64_t hits = 0;
    for (int i = 0; i < B; i++) {
        int y = labels[i];
        if (y < 0 || y >= K) continue;
        const float *z = logits + (size_t)i * K;
        int rank = 0;
        for (int c = 0; c < K && rank < k; c++)
            if (c != y && ranks_above(z[c], c, z[y], y)) rank++;
        hits += rank < k;
    }
    return hits;
}

void st_prediction_hist_add(int64_t *hist, const float *logits, int B, int K) {
    for (int i = 0; i < B; i++) hist[st_argmax(logits + (size_t)i * K, K)]++;
}

double st_confusion_accuracy(const int64_t *conf, int K) {
    int64_t trace = 0, total = 0;
    for (int r = 0; r < K; r++)
        for (int c = 0; c < K; c++) {
            total += conf[(size_t)r * K + c];
            if (r == c) trace += conf[(size_t)r * K + c];
        }
    return total > 0 ? (double)trace / (double)total : 0.0;
}

void st_confusion_pred_hist(int64_t *hist, const int64_t *conf, int K) {
    for (int c = 0; c < K; c++) {
        hist[c] = 0;
        for (int r = 0; r < K; r++) hist[c] += conf[(size_t)r * K + c];
    }
}

double st_class_scores(double *precision, double *recall, double *f1, int64_t *support,
                       const int64_t *conf, int K) {
    double f1_sum = 0;
    int n_present = 0;
    for (int c = 0; c < K; c++) {
        int64_t tp = conf[(size_t)c * K + c], n_true = 0, n_pred = 0;
        for (int j = 0; j < K; j++) {
            n_true += conf[(size_t)c * K + j];
            n_pred += conf[(size_t)j * K + c];
        }
        double p = n_pred > 0 ? (double)tp / (double)n_pred : 0.0;
        double r = n_true > 0 ? (double)tp / (double)n_true : 0.0;
        double f = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
        if (precision) precision[c] = p;
        if (recall) recall[c] = r;
        if (f1) f1[c] = f;
        if (support) support[c] = n_true;
        if (n_true > 0 || n_pred > 0) f1_sum += f, n_present++;
    }
    return n_present > 0 ? f1_sum / n_present : 0.0;
}

st_pred_diversity_t st_pred_diversity(const int64_t *hist, int K) {
    st_pred_diversity_t d = {0, 0.0, 0.0};
    int64_t total = 0, top = 0;
    for (int c = 0; c < K; c++) {
        total += hist[c];
        if (hist[c] > top) top = hist[c];
        d.n_distinct += hist[c] > 0;
    }
    if (total == 0) return d;
    d.top_share = (double)top / (double)total;
    if (K > 1) {
        double H = 0;
        for (int c = 0; c < K; c++)
            if (hist[c] > 0) {
                double q = (double)hist[c] / (double)total;
                H -= q * log(q);
            }
        d.norm_entropy = H / log((double)K);
    }
    return d;
}
