/* model_internal.h — the model's graph and buffers, shared by model.c (building, memory,
 * accessors) and model_run.c (forward, backward, variable lengths). Not for use outside core/. */
#ifndef ST_MODEL_INTERNAL_H
#define ST_MODEL_INTERNAL_H

#include "model.h"

typedef enum { OP_LAYER, OP_CONCAT, OP_ADD } op_kind_t;

#define MAX_MERGE ST_MODEL_MAX_MERGE

typedef struct {
    op_kind_t kind;
    st_layer_t *layer;     /* OP_LAYER */
    int in[MAX_MERGE];     /* input value ids */
    int n_in;
    int out;               /* output value id */
    char path[ST_PATH_MAX]; /* OP_CONCAT, OP_ADD: the JSON path of the parallel or residual block */
} op_t;

typedef struct {
    st_shape_t shape;
    float *act;            /* [B_max, numel] (value 0: points at the caller's input) */
    float *grad;           /* [B_max, numel] */
    int n_consumers;
    int t_run;             /* rank 2: positions of the current batch (<= shape.d[0]) */
    int32_t *len;          /* [B] valid positions of each row of the current batch, or NULL
                              (all); owned when own_len, else another value's */
    int32_t *len_buf;      /* [B_max] owned storage (values whose layer changes T) */
} value_t;

struct st_model {
    st_shape_t in_shape;
    int n_classes;
    st_model_classes_fn head_classes; /* per head "units": "classes" (NULL: n_classes everywhere) */
    void *head_classes_ctx;
    op_t *ops;
    int n_ops, cap_ops;
    value_t *values;
    int n_values, cap_values;
    st_layer_t **layers;
    int n_layers, cap_layers;
    st_head_t heads[ST_MAX_HEADS];
    int n_heads;
    float *params, *grads, *buffers;
    size_t n_param_floats, n_buffer_floats;
    st_tensor_view_t *tensors;
    int n_tensors;
    int B_max, want_input_grad;
    float *tmp_grad;       /* [B_max, largest numel]: a layer's din before it is added */
    int lengths_enabled;   /* st_model_enable_lengths succeeded */
    st_model_input_hook_fn input_hook; /* NULL, or st_model_set_input_hook's */
    void *input_hook_user;
};

/* Floats per row of value v in the current batch (its T is t_run). */
static inline long st_value_numel(const value_t *v) {
    return v->shape.rank == 1 ? v->shape.d[0] : (long)v->t_run * v->shape.d[1];
}

#endif
