/* activations.h — elementwise activation functions with PyTorch's definitions, including the
 * gradient it uses at kinks: relu'(0) = 0, leaky_relu'(0) = negative_slope, and hardswish'
 * = x/3 + 1/2 on the closed interval [-3, 3] (so -0.5 at -3 and 1.5 at 3), 0 below, 1 above.
 *
 * Every function works on n contiguous floats; backward functions WRITE din from dout and the
 * forward's input. Where PyTorch's float32 formulas cancel (1 + erf and 1 + tanh in gelu for
 * x << 0; 1 - y and 1 - y² in the sigmoid and tanh gradients for |x| >> 0) strata uses
 * equivalent forms that keep the relative accuracy (erfc, exp(-|x|)). */
#ifndef ST_ACTIVATIONS_H
#define ST_ACTIVATIONS_H

/* relu(x) = max(x, 0) */
void st_relu_forward(float *out, const float *in, long n);
void st_relu_backward(float *din, const float *dout, const float *in, long n);

/* leaky_relu(x) = x > 0 ? x : negative_slope·x */
void st_leaky_relu_forward(float *out, const float *in, float negative_slope, long n);
void st_leaky_relu_backward(float *din, const float *dout, const float *in, float negative_slope, long n);

/* gelu(x) = x·Φ(x) (tanh_approx = 0, erf form) or
 * 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))) (tanh_approx = 1) */
void st_gelu_forward(float *out, const float *in, int tanh_approx, long n);
void st_gelu_backward(float *din, const float *dout, const float *in, int tanh_approx, long n);

/* sigmoid(x) = 1/(1 + e^-x); sigmoid' = sigmoid(x)·sigmoid(-x) */
void st_sigmoid_forward(float *out, const float *in, long n);
void st_sigmoid_backward(float *din, const float *dout, const float *in, long n);

/* tanh; tanh' = 1 - tanh² */
void st_tanh_forward(float *out, const float *in, long n);
void st_tanh_backward(float *din, const float *dout, const float *in, long n);

/* hardswish(x) = x·min(max(x + 3, 0), 6)/6 */
void st_hardswish_forward(float *out, const float *in, long n);
void st_hardswish_backward(float *din, const float *dout, const float *in, long n);

#endif
