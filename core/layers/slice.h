/* slice.h — a range of columns: out = in[:, from:to] over the last dimension (Python's slice,
 * 0-based, `to` exclusive). Lets the branches of a parallel block read different column ranges
 * of one input (numeric features to a dense branch, id columns to an embedding). */
#ifndef ST_SLICE_H
#define ST_SLICE_H

/* out [M, to-from] = columns from..to-1 of in [M, C]; 0 <= from < to <= C. */
void st_slice_forward(float *out, const float *in, int from, int to, int M, int C);

/* din [M, C] = dout [M, to-from] in columns from..to-1, zeros elsewhere. */
void st_slice_backward(float *din, const float *dout, int from, int to, int M, int C);

#endif
