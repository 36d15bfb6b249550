#pragma once
// What a Tensor handle points to. Internal to autograd/ and ops/: user code goes through Tensor.

#include <memory>
#include <variant>

#include "tensor.hpp"

namespace tg {

using ArrayVariant = std::variant<xt::xarray<float>, xt::xarray<double>, xt::xarray<std::int64_t>>;

struct TensorImpl {
  // Shared by detach(): the same array seen with and without the tape.
  std::shared_ptr<ArrayVariant> data;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  Tensor grad;                    // accumulated gradient of a leaf
};

}  // namespace tg
