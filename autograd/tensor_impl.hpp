#pragma once
// What a Tensor handle points to. Internal to autograd/ and ops/: user code goes through Tensor.

#include <memory>
#include <variant>

#include "tensor.hpp"

namespace tg {

using ArrayVariant = std::variant<xt::xarray<float>, xt::xarray<double>, xt::xarray<std::int64_t>>;

namespace detail {
// The deleter of every tensor's array: hands it to the storage cache (storage.hpp).
void recycle(ArrayVariant* array);
inline std::shared_ptr<ArrayVariant> make_storage(ArrayVariant&& array) {
  return std::shared_ptr<ArrayVariant>(new ArrayVariant(std::move(array)), &recycle);
}
}  // namespace detail

struct TensorImpl {
  // Shared by detach(): the same array seen with and without the tape.
  std::shared_ptr<ArrayVariant> data;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  Tensor grad;                    // accumulated gradient of a leaf
};

}  // namespace tg
