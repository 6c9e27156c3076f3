/* upsample1d.h — upsampling along T of sequences [T, C] -> [T·scale, C] by an integer factor, as
 * PyTorch's nn.Upsample(scale_factor=scale, mode='nearest' | 'linear', align_corners=False). */
#ifndef ST_UPSAMPLE1D_H
#define ST_UPSAMPLE1D_H

#include <stdint.h>

/* out [B, T·scale, C] from in [B, T, C]; linear = 0: nearest (out[to] = in[to / scale]),
 * linear = 1: linear interpolation at src = max(0, (to + 0.5)/scale − 0.5). */
void st_upsample1d_forward(float *out, const float *in, const int32_t *len, int linear, int B, int T, int C, int scale);

/* din [B, T, C] (written) from dout [B, T·scale, C]: each input position sums the outputs it
 * fed, in output order (threads split samples). */
void st_upsample1d_backward(float *din, const float *dout, const int32_t *len, int linear, int B, int T, int C, int scale);

#endif
