/* pool1d.h — max and average pooling along T of sequences [T, C] -> [T_out, C] (channels last),
 * with PyTorch's MaxPool1d / AvgPool1d semantics: dilation 1, ceil_mode off, padding at most
 * kernel_size/2 on both ends (max ignores padded positions; avg counts them as zeros,
 * count_include_pad=True, so every window divides by kernel_size). */
#ifndef ST_POOL1D_H
#define ST_POOL1D_H

#include <stdint.h>

/* floor((T + 2·padding − K)/stride) + 1; < 1 when the window does not fit in the padded input. */
int st_pool1d_out_len(int T, int K, int stride, int padding);

/* out [B, T_out, C] = max over each window of in [B, T, C]; argmax [B, T_out, C] gets the input
 * position t of the first maximum (NaN wins, as in PyTorch). */
void st_max_pool1d_forward(float *out, int32_t *argmax, const float *in, const int32_t *len, int B, int T, int C,
                           int T_out, int K, int stride, int padding);
/* din [B, T, C] = dout [B, T_out, C] routed to argmax [B, T_out, C] (summed where windows share it). */
void st_max_pool1d_backward(float *din, const float *dout, const int32_t *argmax, int B, int T, int C,
                            int T_out, int K, int stride, int padding);

/* out [B, T_out, C] = Σ over each window of in [B, T, C], divided by K. */
void st_avg_pool1d_forward(float *out, const float *in, int B, int T, int C, int T_out, int K, int stride,
                           int padding);
/* din [B, T, C] = Σ over the windows holding t of dout [B, T_out, C] / K. */
void st_avg_pool1d_backward(float *din, const float *dout, int B, int T, int C, int T_out, int K, int stride,
                            int padding);

#endif
