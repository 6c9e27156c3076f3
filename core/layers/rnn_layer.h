/* rnn_layer.h — what the recurrent layer kinds (lstm, gru) share: their JSON keys, the checks and
 * parameter declarations of setup (PyTorch's names: weight_ih_l0, weight_hh_l0, bias_ih_l0,
 * bias_hh_l0, then the _reverse ones), PyTorch's U(±1/sqrt(H)) init, and where each direction's
 * output, parameters and working memory are. */
#ifndef ST_RNN_LAYER_H
#define ST_RNN_LAYER_H

#include "layer.h"

typedef struct {
    int T, C, H;          /* input [T, C], H units per direction */
    int reverse;          /* 0: t = 0 .. T−1; 1: t = T−1 .. 0 */
} st_rnn_dims_t;

/* One direction of a layer for a batch of B: dims, where its hidden states go in the output
 * (out + dir·H, rows bstride apart, steps tstride apart; tstride 0 = only the final state), its
 * four tensors (weight_ih, weight_hh, bias_ih, bias_hh) and its working memory. */
typedef struct {
    st_rnn_dims_t d;
    long out_offset, bstride, tstride;
    st_tensor_view_t *P;
    float *work;
} st_rnn_dir_t;

enum { ST_RNN_W_IH, ST_RNN_W_HH, ST_RNN_B_IH, ST_RNN_B_HH, ST_RNN_TENSORS };

extern const st_key_t st_rnn_keys[3];
#define ST_RNN_N_KEYS 3

/* Checks the input is [T, C], sets out_shape, declares the tensors of `gates`·H rows per
 * direction and scratch_floats(T, H) floats of scratch per sample and direction. */
st_status_t st_rnn_setup(st_layer_t *L, const char *type, int gates, long (*scratch_floats)(int T, int H),
                         st_error_t *err);
void st_rnn_init(st_layer_t *L, uint64_t seed);
int st_rnn_dirs(const st_layer_t *L);
st_rnn_dir_t st_rnn_dir(st_layer_t *L, int dir, int B, long (*scratch_floats)(int T, int H));

#endif
