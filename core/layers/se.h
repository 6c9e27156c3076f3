/* se.h — squeeze-and-excitation on sequences [T, C]: a per-sample, per-channel gate computed
 * from the time average, out[t, c] = x[t, c]·gate[c], with
 * gate = sigmoid(fc2(relu(fc1(mean_t x)))), fc1: C -> H, fc2: H -> C (PyTorch nn.Linear layout,
 * weights [out, in]). The two small dense products run over the whole batch in BLIS. */
#ifndef ST_SE_H
#define ST_SE_H

#include <stdint.h>

typedef struct {
    const float *W1, *b1; /* fc1: [H, C], [H] */
    const float *W2, *b2; /* fc2: [C, H], [C] */
} st_se_params_t;

typedef struct {
    float *dW1, *db1, *dW2, *db2; /* gradients, added into; shapes as st_se_params_t */
} st_se_grads_t;

/* out [B, T, C] from in [B, T, C]. Saves s [B, C] (time means), h [B, H] (after relu) and
 * gate [B, C] for the backward pass. */
void st_se_forward(float *out, float *s, float *h, float *gate, const float *in, const int32_t *len,
                   const st_se_params_t *p, int B, int T, int C, int H);

/* din [B, T, C] (written; skipped when NULL) and the parameter gradients (added) from
 * dout [B, T, C], the forward's in and its saved s, h, gate. work [B, 2·C + H] is scratch. */
void st_se_backward(float *din, const st_se_grads_t *g, float *work, const float *dout, const float *in,
                    const int32_t *len, const float *s, const float *h, const float *gate, const st_se_params_t *p,
                    int B, int T, int C, int H);

#endif
