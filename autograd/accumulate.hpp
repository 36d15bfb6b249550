#pragma once
// Gradient accumulation for the engine: a + b of equal shapes, recorded when grad mode is on
// (a create_graph backward), so accumulated gradients stay differentiable.

#include "tensor.hpp"

namespace tg::detail {

Tensor accumulate(const Tensor& a, const Tensor& b);

// A copy of t's values, recorded as an identity op when grad mode is on.
Tensor recorded_clone(const Tensor& t);

}  // namespace tg::detail
