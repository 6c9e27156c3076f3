/* rnn_layer.c — the parts of the lstm and gru layer kinds that do not depend on the cell: keys,
 * setup, init and each direction's place in the output, the parameters and the scratch. */
#include "rnn_layer.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

enum { K_UNITS, K_BIDIR, K_RETSEQ };
const st_key_t st_rnn_keys[ST_RNN_N_KEYS] = {
    [K_UNITS] = {"units", ST_K_INT, NULL, 1, 1e15, NULL, "hidden units H per direction"},
    [K_BIDIR] = {"bidirectional", ST_K_BOOL, "false", 0, 0, NULL,
                 "also run the sequence backwards with its own parameters (\"_reverse\"); outputs are concatenated, forward first"},
    [K_RETSEQ] = {"return_sequences", ST_K_BOOL, "true", 0, 0, NULL,
                  "true: every step's hidden state [T, H*dirs]; false: the final state of each direction [H*dirs] (PyTorch's h_n)"},
};

int st_rnn_dirs(const st_layer_t *L) { return L->opt[K_BIDIR].b ? 2 : 1; }

st_status_t st_rnn_setup(st_layer_t *L, const char *type, int gates, long (*scratch_floats)(int T, int H),
                         st_error_t *err) {
    char got[48];
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: %s needs a sequence input [T, C], got %s", L->path, type, got);
    }
    const long H = L->opt[K_UNITS].i, T = L->in_shape.d[0], C = L->in_shape.d[1], D = st_rnn_dirs(L);
    if ((double)T * 4 * gates * H * D > INT_MAX / 4 || (double)gates * H * (C > H ? C : H) > INT_MAX / 4)
        return st_fail(err, ST_ERR_CONFIG, "%s.units: %s too large (%ld units on [%ld, %ld])", L->path, type, H, T, C);
    L->out_shape = L->opt[K_RETSEQ].b ? st_shape2((int)T, (int)(H * D)) : st_shape1((int)(H * D));
    static const char *const names[ST_RNN_TENSORS] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
    const size_t GH = (size_t)gates * H, sizes[ST_RNN_TENSORS] = {GH * C, GH * H, GH, GH};
    for (int d = 0; d < D; d++)
        for (int p = 0; p < ST_RNN_TENSORS; p++) {
            char name[40];
            snprintf(name, sizeof name, "%s%s", names[p], d ? "_reverse" : "");
            st_layer_add_param(L, name, sizes[p], p < ST_RNN_B_IH);
        }
    L->scratch_per_sample = D * scratch_floats((int)T, (int)H);
    return ST_OK;
}

void st_rnn_flops(const st_layer_t *L, int gates, int cell, st_layer_flops_t *f) {
    const double D = st_rnn_dirs(L), T = L->in_max.d[0], C = L->in_max.d[1], H = (double)L->opt[K_UNITS].i;
    const double G = gates * H;
    f->forward = D * (2 * T * G * (C + H) + cell * T * H);
    f->backward_input = D * 2 * T * G * C;
    f->backward_rest = D * (2 * T * G * (C + 2 * H) + 2 * T * G + 2 * cell * T * H);
}

/* PyTorch: every tensor U(±1/sqrt(H)). */
void st_rnn_init(st_layer_t *L, uint64_t seed) {
    float bound = 1.0f / sqrtf((float)L->opt[K_UNITS].i);
    for (int p = 0; p < L->n_params; p++) st_init_uniform(L, p, bound, seed);
}

st_rnn_dir_t st_rnn_dir(st_layer_t *L, const st_run_ctx_t *ctx, int dir, int B,
                        long (*scratch_floats)(int T, int H)) {
    const int T = L->in_shape.d[0], H = (int)L->opt[K_UNITS].i, HD = H * st_rnn_dirs(L);
    const int seq = L->opt[K_RETSEQ].b;
    return (st_rnn_dir_t){
        .d = {.T = T, .C = L->in_shape.d[1], .H = H, .reverse = dir, .len = ctx->len_in},
        .out_offset = (long)dir * H, .bstride = seq ? (long)T * HD : HD, .tstride = seq ? HD : 0,
        .P = L->params + ST_RNN_TENSORS * dir,
        .work = L->scratch + (size_t)dir * B * scratch_floats(T, H),
    };
}
