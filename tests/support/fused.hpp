#pragma once
// For the tests of a fused op: it must give the bits of the ops it fuses, forward and backward.

#include <catch2/catch.hpp>

#include <cstring>
#include <type_traits>
#include <vector>

#include <tapegrad.hpp>

namespace tg::test {

template <class T>
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto& x = a.value<T>();
  const auto& y = b.value<T>();
  return x.size() == 0 || std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

// Checks that fused(inputs) and unfused(inputs) have the same bits, and so do their gradients
// for one random grad_output, with respect to each input; returns fused(inputs).
template <class T, class Fused, class Unfused>
Tensor check_same_bits(Fused fused, Unfused unfused, const std::vector<Tensor>& inputs) {
  Tensor fused_output = fused(inputs);
  Tensor unfused_output = unfused(inputs);
  REQUIRE(same_bits<T>(fused_output, unfused_output));
  const auto dtype = std::is_same_v<T, float> ? f32 : f64;
  const Tensor g = randn(fused_output.shape(), {.dtype = dtype});
  const std::vector<Tensor> fused_grads = grad({fused_output}, inputs, {.grad_outputs = {g}});
  const std::vector<Tensor> unfused_grads = grad({unfused_output}, inputs, {.grad_outputs = {g}});
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    INFO("gradient " << i);
    CHECK(same_bits<T>(fused_grads[i], unfused_grads[i]));
  }
  return fused_output;
}

}  // namespace tg::test
