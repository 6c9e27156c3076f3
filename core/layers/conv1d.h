/* conv1d.h — 1-D convolution over sequences [T, C_in] -> [T_out, filters] (channels last), with
 * stride, zero padding, dilation and groups, weights laid out [filters, C_in/groups, kernel_size]
 * exactly as PyTorch's Conv1d. The general case is an im2col buffer and one BLIS sgemm per group;
 * depthwise convolutions (groups == C_in) use direct loops. */
#ifndef ST_CONV1D_H
#define ST_CONV1D_H

typedef struct {
    int T, C_in;          /* input [T, C_in] */
    int T_out, F;         /* output [T_out, F] */
    int K, stride, padding, dilation, groups;
} st_conv1d_dims_t;

/* floor((T + 2·padding − dilation·(K−1) − 1)/stride) + 1; < 1 when the dilated kernel does not
 * fit in the padded input. */
int st_conv1d_out_len(int T, int K, int stride, int padding, int dilation);

/* Floats of column buffer per sample that st_conv1d_forward/backward need: T_out·C_in·K, or 0
 * for depthwise (groups == C_in), which needs none. */
long st_conv1d_col_per_sample(const st_conv1d_dims_t *d);

/* Floats of working memory besides the columns: the reordered weights and their gradient
 * (2·F·C_in/groups·K), 0 for depthwise. */
long st_conv1d_work_fixed(const st_conv1d_dims_t *d);

/* out [B, T_out, F] = conv(in [B, T, C_in], W [F, C_in/groups, K]) + b [F] (b may be NULL).
 * work [work_fixed + B·col_per_sample] is working memory (unused, may be NULL, for depthwise). */
void st_conv1d_forward(float *out, float *work, const float *in, const float *W, const float *b,
                       const st_conv1d_dims_t *d, int B);

/* din [B, T, C_in] = gradient w.r.t. in (written; skipped when din is NULL);
 * dW [F, C_in/groups, K] += gradient w.r.t. W; db [F] += Σ over rows of dout (skipped when NULL).
 * dout [B, T_out, F]; work as in st_conv1d_forward, after the forward of the same weights (its
 * reordered weights are reused; the rest is overwritten). Sums run in a fixed order for
 * any thread count. */
void st_conv1d_backward(float *din, float *dW, float *db, float *work, const float *dout,
                        const float *in, const float *W, const st_conv1d_dims_t *d, int B);

#endif
