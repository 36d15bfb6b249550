#pragma once
// Elementwise activation kernels on contiguous arrays of n elements. Large arrays are split
// across the parallel seam; every element is computed by one thread, so results do not depend
// on the thread count. `out` may alias an input.

#include <cstddef>

namespace tg::kernels {

// out = max(x, 0); a NaN stays NaN (as PyTorch).
template <class T>
void relu(const T* x, T* out, std::size_t n);
// relu on the calling thread only: for a caller that is itself one task of a parallel loop
// (a convolution's fused activation).
template <class T>
void relu_serial(const T* x, T* out, std::size_t n);
// out = g * [x > 0]
template <class T>
void relu_backward(const T* g, const T* x, T* out, std::size_t n);
// relu_backward on the calling thread only (a convolution's weight gradient masking delta).
template <class T>
void relu_backward_serial(const T* g, const T* x, T* out, std::size_t n);

// out = x > 0 ? x : slope x
template <class T>
void leaky_relu(const T* x, T slope, T* out, std::size_t n);
// out = g * (x > 0 ? 1 : slope)
template <class T>
void leaky_relu_backward(const T* g, const T* x, T slope, T* out, std::size_t n);

// out = 1 / (1 + e^-x)
template <class T>
void sigmoid(const T* x, T* out, std::size_t n);
// out = tanh(x)
template <class T>
void tanh(const T* x, T* out, std::size_t n);

// out = Phi(x) = erfc(-x / sqrt 2) / 2, the standard normal CDF (erfc: no cancellation in the
// left tail, where 1 + erf(x / sqrt 2) would lose every digit).
template <class T>
void normal_cdf(const T* x, T* out, std::size_t n);
// out = x Phi(x) (the exact GELU)
template <class T>
void gelu(const T* x, T* out, std::size_t n);
// out = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch's approximate="tanh")
template <class T>
void gelu_tanh(const T* x, T* out, std::size_t n);
// out = x / (1 + e^-x)
template <class T>
void silu(const T* x, T* out, std::size_t n);
// out = x > 0 ? x : alpha (e^x - 1)
template <class T>
void elu(const T* x, T alpha, T* out, std::size_t n);
// out = beta x > threshold ? x : log(1 + e^(beta x)) / beta, the log computed without overflow
template <class T>
void softplus(const T* x, T beta, T threshold, T* out, std::size_t n);

}  // namespace tg::kernels
