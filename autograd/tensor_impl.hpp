#pragma once
// What a Tensor handle points to. Internal to autograd/ and ops/: user code goes through Tensor.

#include <cstdint>
#include <memory>
#include <variant>

#include "tensor.hpp"

namespace tg {

using ArrayVariant = std::variant<xt::xarray<float>, xt::xarray<double>, xt::xarray<std::int64_t>>;

// A tensor's array and its version: how many in-place changes it has had (Tensor::version).
// Shared by every handle to the array (detach(), the handle record() attaches to a node).
struct Storage {
  ArrayVariant array;
  std::uint64_t version = 0;
};

namespace detail {
// The deleter of every tensor's storage: hands its array to the storage cache (storage.hpp).
void recycle(Storage* storage);
inline std::shared_ptr<Storage> make_storage(ArrayVariant&& array) {
  return std::shared_ptr<Storage>(new Storage{std::move(array)}, &recycle);
}
// Called by every read of an array (Tensor::value): throws tg::Error if a backward closure is
// running and `storage` is an input or output of its op that has changed in place since the op
// was recorded (node.cpp).
void check_not_modified(const Storage& storage);
}  // namespace detail

struct TensorImpl {
  // Shared by detach(): the same array seen with and without the tape.
  std::shared_ptr<Storage> data;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  Tensor grad;                    // accumulated gradient of a leaf
  // A leaf's register_hook functions (an op's output keeps its hooks on its node).
  std::shared_ptr<HookList<Tensor::Hook>> hooks;
};

}  // namespace tg
