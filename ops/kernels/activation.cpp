#include "activation.hpp"

#include <algorithm>
#include <cmath>

#include <xsimd/xsimd.hpp>

#include "parallel.hpp"

namespace tg::kernels {
namespace {

// Transcendental functions cost tens of cycles per element, so smaller tasks pay off.
constexpr std::size_t transcendental_grain = std::size_t{1} << 12;

// Runs vector(i) on the whole xsimd batches of [begin, end) and scalar(i) on the rest. The
// piecewise kernels select explicitly on batches: GCC does not vectorise "x > 0 ? g : 0" on its
// own (it will not load g where the condition is false), and a branch per element mispredicts on
// the random signs of activations.
template <class T, class Vector, class Scalar>
void serial_batches(std::size_t begin, std::size_t end, const Vector& vector,
                    const Scalar& scalar) {
  constexpr std::size_t lanes = xsimd::batch<T>::size;
  std::size_t i = begin;
  for (; i + lanes <= end; i += lanes) vector(i);
  for (; i < end; ++i) scalar(i);
}

// serial_batches over [0, n), in parallel chunks of `grain`.
template <class T, class Vector, class Scalar>
void for_batches(std::size_t n, std::size_t grain, const Vector& vector, const Scalar& scalar) {
  parallel_for(n, grain, [&](std::size_t begin, std::size_t end) {
    serial_batches<T>(begin, end, vector, scalar);
  });
}

}  // namespace

template <class T>
void relu_serial(const T* x, T* out, std::size_t n) {
  using Batch = xsimd::batch<T>;
  const Batch zero(T(0));
  // "x < 0 ? 0 : x" rather than "x > 0 ? x : 0": a NaN passes through, as in PyTorch.
  serial_batches<T>(
      0, n,
      [&](std::size_t i) {
        const Batch v = Batch::load_unaligned(x + i);
        xsimd::select(v < zero, zero, v).store_unaligned(out + i);
      },
      [&](std::size_t i) { out[i] = x[i] < T(0) ? T(0) : x[i]; });
}

template <class T>
void relu(const T* x, T* out, std::size_t n) {
  parallel_for(n, elementwise_grain, [&](std::size_t begin, std::size_t end) {
    relu_serial(x + begin, out + begin, end - begin);
  });
}

template <class T>
void relu_backward_serial(const T* g, const T* x, T* out, std::size_t n) {
  using Batch = xsimd::batch<T>;
  const Batch zero(T(0));
  serial_batches<T>(
      0, n,
      [&](std::size_t i) {
        xsimd::select(Batch::load_unaligned(x + i) > zero, Batch::load_unaligned(g + i), zero)
            .store_unaligned(out + i);
      },
      [&](std::size_t i) { out[i] = x[i] > T(0) ? g[i] : T(0); });
}

template <class T>
void relu_backward(const T* g, const T* x, T* out, std::size_t n) {
  parallel_for(n, elementwise_grain, [&](std::size_t begin, std::size_t end) {
    relu_backward_serial(g + begin, x + begin, out + begin, end - begin);
  });
}

template <class T>
void leaky_relu(const T* x, T slope, T* out, std::size_t n) {
  using Batch = xsimd::batch<T>;
  const Batch s(slope);
  const Batch zero(T(0));
  for_batches<T>(
      n, elementwise_grain,
      [&](std::size_t i) {
        const Batch v = Batch::load_unaligned(x + i);
        xsimd::select(v > zero, v, v * s).store_unaligned(out + i);
      },
      [&](std::size_t i) { out[i] = x[i] > T(0) ? x[i] : x[i] * slope; });
}

template <class T>
void leaky_relu_backward(const T* g, const T* x, T slope, T* out, std::size_t n) {
  using Batch = xsimd::batch<T>;
  const Batch s(slope);
  const Batch zero(T(0));
  for_batches<T>(
      n, elementwise_grain,
      [&](std::size_t i) {
        const Batch v = Batch::load_unaligned(g + i);
        xsimd::select(Batch::load_unaligned(x + i) > zero, v, v * s).store_unaligned(out + i);
      },
      [&](std::size_t i) { out[i] = x[i] > T(0) ? g[i] : g[i] * slope; });
}

template <class T>
void sigmoid(const T* x, T* out, std::size_t n) {
  // For very negative x, e^-x overflows to inf and the quotient is the correct 0.
  parallel_for(n, transcendental_grain, [=](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = T(1) / (T(1) + std::exp(-x[i]));
  });
}

template <class T>
void tanh(const T* x, T* out, std::size_t n) {
  parallel_for(n, transcendental_grain, [=](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = std::tanh(x[i]);
  });
}

// Applies f to each element of x, in parallel chunks sized for transcendental functions.
template <class T, class F>
void map_transcendental(const T* x, T* out, std::size_t n, const F& f) {
  parallel_for(n, transcendental_grain, [=](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = f(x[i]);
  });
}

template <class T>
void normal_cdf(const T* x, T* out, std::size_t n) {
  const T minus_sqrt1_2 = -std::sqrt(T(0.5));
  map_transcendental(x, out, n, [=](T v) { return T(0.5) * std::erfc(v * minus_sqrt1_2); });
}

template <class T>
void gelu(const T* x, T* out, std::size_t n) {
  const T minus_sqrt1_2 = -std::sqrt(T(0.5));
  map_transcendental(x, out, n, [=](T v) { return T(0.5) * v * std::erfc(v * minus_sqrt1_2); });
}

template <class T>
void gelu_tanh(const T* x, T* out, std::size_t n) {
  const T sqrt_2_over_pi = std::sqrt(T(2) / T(3.14159265358979323846));
  const T kappa = T(0.044715);
  map_transcendental(x, out, n, [=](T v) {
    return T(0.5) * v * (T(1) + std::tanh(sqrt_2_over_pi * (v + kappa * v * v * v)));
  });
}

template <class T>
void silu(const T* x, T* out, std::size_t n) {
  // For very negative x, e^-x overflows to inf and the quotient is the correct -0.
  map_transcendental(x, out, n, [](T v) { return v / (T(1) + std::exp(-v)); });
}

template <class T>
void elu(const T* x, T alpha, T* out, std::size_t n) {
  // expm1: exact near 0, where e^x - 1 would cancel.
  map_transcendental(x, out, n, [=](T v) { return v > T(0) ? v : alpha * std::expm1(v); });
}

template <class T>
void softplus(const T* x, T beta, T threshold, T* out, std::size_t n) {
  // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): e^z never overflows, even with an infinite
  // threshold, and the result is accurate in both tails.
  map_transcendental(x, out, n, [=](T v) {
    const T z = v * beta;
    if (z > threshold) return v;
    return (std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)))) / beta;
  });
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE(T)                                                       \
  template void relu<T>(const T*, T*, std::size_t);                             \
  template void relu_serial<T>(const T*, T*, std::size_t);                      \
  template void relu_backward<T>(const T*, const T*, T*, std::size_t);          \
  template void relu_backward_serial<T>(const T*, const T*, T*, std::size_t);   \
  template void leaky_relu<T>(const T*, T, T*, std::size_t);                    \
  template void leaky_relu_backward<T>(const T*, const T*, T, T*, std::size_t); \
  template void sigmoid<T>(const T*, T*, std::size_t);                          \
  template void tanh<T>(const T*, T*, std::size_t);                             \
  template void normal_cdf<T>(const T*, T*, std::size_t);                       \
  template void gelu<T>(const T*, T*, std::size_t);                             \
  template void gelu_tanh<T>(const T*, T*, std::size_t);                        \
  template void silu<T>(const T*, T*, std::size_t);                             \
  template void elu<T>(const T*, T, T*, std::size_t);                           \
  template void softplus<T>(const T*, T, T, T*, std::size_t);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE

}  // namespace tg::kernels
