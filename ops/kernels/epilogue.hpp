#pragma once
// What a forward convolution does to each output value as it stores it, while the value is still
// in a register: add the channel's bias, then apply the activation. A separate relu op would
// read and write the whole output once more.

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

}  // namespace tg::kernels
