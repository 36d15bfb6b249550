#pragma once
// What a forward convolution does to each output value as it stores it, while the value is still
// in a register: add the channel's bias, then apply the activation, and where a kernel can, take
// a 2x2 max-pool instead of storing. Each separate op would read and write the whole output once
// more.

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace tg::kernels {

enum class Activation { none, relu };

// The activation of a value or of a vector of values. relu as kernels::relu computes it,
// x < 0 ? 0 : x, so that a NaN passes through and the fused op has the separate ops' bits.
template <class V>
V activate(Activation activation, V v) {
  if (activation != Activation::relu) return v;
  if constexpr (std::is_floating_point_v<V>) {
    return v < V(0) ? V(0) : v;
  } else {
    return xsimd::select(v < V(0), V(0), v);
  }
}

// f(a) with the activation as a compile-time constant a (a() is it): kernels that take it as a
// template argument are inlined behind one predictable branch, not reached through a pointer to
// one instance (a call per channel row) or testing it at every store.
template <class F>
decltype(auto) with_activation(Activation activation, F&& f) {
  if (activation == Activation::relu) {
    return f(std::integral_constant<Activation, Activation::relu>{});
  }
  return f(std::integral_constant<Activation, Activation::none>{});
}

// Where a convolution that max-pools its output (conv2d_forward_max_pool) puts the pooled planes
// [C_out, pooled_h, pooled_w] and, for each pooled value, the flat index of its maximum in its
// out_h x out_w plane, chosen by max_pool2d_forward's rule: the first of equal values in
// row-major order, and a NaN wins.
template <class T>
struct PooledOutput {
  T* values = nullptr;
  std::int32_t* argmax = nullptr;
};

}  // namespace tg::kernels
