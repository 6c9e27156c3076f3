/* conv_transpose1d.h — transposed 1-D convolution over sequences [T, C_in] -> [T_out, filters]
 * (channels last), T_out = (T − 1)·stride − 2·padding + kernel_size + output_padding, with groups
 * and weights laid out [C_in, filters/groups, kernel_size] exactly as PyTorch's ConvTranspose1d.
 * One BLIS sgemm per group to a column buffer, then a col2im gather in a fixed order. */
#ifndef ST_CONV_TRANSPOSE1D_H
#define ST_CONV_TRANSPOSE1D_H

typedef struct {
    int T, C_in;     /* input [T, C_in] */
    int T_out, F;    /* output [T_out, F] */
    int K, stride, padding, output_padding, groups;
} st_convt1d_dims_t;

/* (T − 1)·stride − 2·padding + K + output_padding (may be < 1: no valid output). */
long st_convt1d_out_len(int T, int K, int stride, int padding, int output_padding);

/* out [B, T_out, F] = conv_transpose(in [B, T, C_in], W [C_in, F/groups, K]) + b [F] (b may be
 * NULL). col [B, T, F·K] is working memory. */
void st_convt1d_forward(float *out, float *col, const float *in, const float *W, const float *b,
                        const st_convt1d_dims_t *d, int B);

/* din [B, T, C_in] (written; skipped when NULL); dW [C_in, F/groups, K] and db [F] (may be NULL)
 * added into, from dout [B, T_out, F]. col [B, T, F·K] is overwritten. Fixed summation order. */
void st_convt1d_backward(float *din, float *dW, float *db, float *col, const float *dout, const float *in,
                         const float *W, const st_convt1d_dims_t *d, int B);

#endif
