#include "activation.hpp"

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

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE(T)                                                       \
  template void relu<T>(const T*, T*, std::size_t);                             \
  template void relu_serial<T>(const T*, T*, std::size_t);                      \
  template void relu_backward<T>(const T*, const T*, T*, std::size_t);          \
  template void relu_backward_serial<T>(const T*, const T*, T*, std::size_t);   \
  template void leaky_relu<T>(const T*, T, T*, std::size_t);                    \
  template void leaky_relu_backward<T>(const T*, const T*, T, T*, std::size_t); \
  template void sigmoid<T>(const T*, T*, std::size_t);                          \
  template void tanh<T>(const T*, T*, std::size_t);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE

}  // namespace tg::kernels
