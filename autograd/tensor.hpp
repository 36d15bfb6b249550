#pragma once
// tg::Tensor: an xtensor array of runtime dtype (f32, f64 or i64) plus its autograd metadata.
//
// A Tensor is a handle: copies share the same array and the same place on the tape (as
// torch::Tensor). A tensor that requires grad and came out of an op points to the Node that
// made it; the graph is owned by such tensors and dies with the last of them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <xtensor/xarray.hpp>

#include "dtype.hpp"
#include "error.hpp"
#include "hooks.hpp"

namespace tg {

using Shape = xt::xarray<float>::shape_type;

class Node;
class Tensor;
struct TensorImpl;
struct Storage;

struct TensorOptions {
  DType dtype = DType::f32;
  bool requires_grad = false;
};

// The options of backward, spelled as tg::grad's (GradOptions, autograd/engine.hpp).
struct BackwardOptions {
  // One gradient per output; an undefined entry (or an empty list) means ones for an output
  // of one element. Tensor::backward(grad) passes its argument here.
  std::vector<Tensor> grad_outputs;
  // Keep the graph (and what its closures saved) so that backward can run through it again
  // (always kept under create_graph).
  bool retain_graph = false;
  // Record the backward pass itself, so that the gradients can be differentiated again.
  bool create_graph = false;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: stands for "no tensor" (a missing bias, no gradient)
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  bool defined() const noexcept { return impl_ != nullptr; }
  DType dtype() const;
  const Shape& shape() const;
  std::size_t dim() const;
  std::size_t numel() const;
  // The size of dim d; a negative d counts from the end (as libtorch's size(d)).
  std::int64_t size(std::int64_t d) const;

  // Only a leaf (a tensor that no op made) can be switched; only f32/f64 can require grad.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  // The op that produced this tensor on the tape, or null for a leaf.
  const std::shared_ptr<Node>& grad_fn() const;

  // The accumulated gradient of a leaf (undefined until a backward reaches it).
  Tensor grad() const;
  void zero_grad();  // drops the gradient (as PyTorch's set_to_none)
  void set_grad(Tensor grad);

  // Reverse sweep from this tensor. Without a gradient, the tensor must hold one element.
  void backward(const BackwardOptions& options = {}) const;
  void backward(const Tensor& grad, const BackwardOptions& options = {}) const;

  // The same array without the tape: shares storage, never requires grad.
  Tensor detach() const;
  // A deep copy of the array, without the tape.
  Tensor clone() const;
  // Differentiable conversion between dtypes (f32 <-> f64); a no-op when the dtype matches.
  Tensor to(DType dtype) const;

  // The single element, converted to T.
  template <class T = double>
  T item() const;

  // The xtensor array. Throws tg::Error if T is not the tensor's element type. The handle is
  // shallow (as torch::Tensor), so a const Tensor still gives access to its array.
  template <class T>
  xt::xarray<T>& value() const&;
  // On a temporary the array is returned by value: `const auto& v = f(x).value<float>();`
  // would otherwise hold a reference into an array freed at the end of the statement. The copy
  // is const, so that a write meant for the tensor (`w.grad().value<float>().fill(0)`) does not
  // compile instead of silently changing a copy: name the tensor first.
  template <class T>
  const xt::xarray<T> value() && {
    return static_cast<const Tensor&>(*this).value<T>();
  }

  // How many in-place changes the array has had: optimizer steps, loading a checkpoint, the
  // nn::init functions, bump_version. Shared by every handle to the array (detach() too). A
  // backward closure that reads an input or output of its op whose version moved since the op
  // was recorded throws tg::Error: the gradient would be computed from the new values.
  std::uint64_t version() const;
  // Call after changing the array in place through value<T>(), so that backward can tell.
  void bump_version() const;

  // A function that sees the gradient flowing into this tensor in every backward, and may
  // replace it: it returns a gradient of the same shape and dtype, or an undefined Tensor to
  // keep it. For a leaf it sees the sum of the backward's contributions before grad()
  // accumulates it (tg::grad's results pass through it too); for an op's output, the gradient
  // before the op's backward uses it. Hooks run in registration order, until removed through
  // the handle. Only for a tensor that requires grad.
  using Hook = std::function<Tensor(const Tensor& grad)>;
  RemovableHandle register_hook(Hook hook) const;

  // Method forms of the common ops (ops/tensor_methods.cpp): x.sum() is tg::sum(x), and so on.
  Tensor sum() const;
  Tensor sum(const std::vector<std::int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<std::int64_t>& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor reshape(const std::vector<std::int64_t>& shape) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor t() const;  // transpose(0, 1) of a 2-D tensor; a 0-D or 1-D one is returned as is
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor matmul(const Tensor& other) const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor pow(double exponent) const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  // In place, as libtorch's: the result of the op (other broadcast to this tensor's shape) is
  // written into this tensor's array, which every handle sees, and its version moves. Allowed
  // only where no gradient is recorded through the change: under NoGradGuard (a hand-written
  // optimizer step, `w -= lr * w.grad()`), or when neither side requires grad; otherwise a
  // tg::Error (write `a = a + b`).
  const Tensor& operator+=(const Tensor& other) const;
  const Tensor& operator-=(const Tensor& other) const;
  const Tensor& operator*=(const Tensor& other) const;
  const Tensor& operator/=(const Tensor& other) const;
  const Tensor& operator+=(double other) const;
  const Tensor& operator-=(double other) const;
  const Tensor& operator*=(double other) const;
  const Tensor& operator/=(double other) const;

  // Identity on the tape (same TensorImpl), not equality of values.
  bool is_same(const Tensor& other) const noexcept { return impl_ == other.impl_; }
  TensorImpl* impl() const noexcept { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const noexcept { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Factories. The dtype of tg::tensor follows the element type of the array (float, double or
// int64).
template <class T>
requires is_element_type_v<T> Tensor tensor(xt::xarray<T> values, bool requires_grad = false);

// Any other xtensor expression (xt::ones<double>({2, 3}), a + b, ...) is evaluated first.
template <class E>
Tensor tensor(const xt::xexpression<E>& values, bool requires_grad = false) {
  using T = typename E::value_type;
  static_assert(is_element_type_v<T>, "tg::tensor: element type must be float, double or int64");
  return tensor(xt::xarray<T>(values.derived_cast()), requires_grad);
}

// A number, or braces holding NestedLists: the argument of tg::tensor({...}) (libtorch's
// TensorDataContainer). Braces around one number are a list of one, so {{1.0}, {2.0}} is [2,1].
class NestedList {
 public:
  NestedList(double value) : value_(value) {}          // NOLINT: implicit, so that {1.0, 2.0} works
  NestedList(std::initializer_list<NestedList> items)  // NOLINT: implicit, for nested braces
      : items_(items), is_list_(true) {}
  bool is_list() const { return is_list_; }
  double value() const { return value_; }
  const std::vector<NestedList>& items() const { return items_; }

 private:
  double value_ = 0.0;
  std::vector<NestedList> items_;
  bool is_list_ = false;
};

// From nested braces, as torch::tensor: tg::tensor({1.0, 2.0}), tg::tensor({{1, 2}, {3, 4}},
// {.dtype = tg::f64, .requires_grad = true}). Lists side by side must have the same length and
// depth; an i64 tensor takes only whole numbers.
Tensor tensor(std::initializer_list<NestedList> values, const TensorOptions& options = {});

Tensor zeros(const Shape& shape, const TensorOptions& options = {});
Tensor ones(const Shape& shape, const TensorOptions& options = {});
Tensor full(const Shape& shape, double value, const TensorOptions& options = {});
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
// Standard normal / uniform [0, 1) values from the global generator (tg::manual_seed).
Tensor randn(const Shape& shape, const TensorOptions& options = {});
Tensor rand(const Shape& shape, const TensorOptions& options = {});

// The number of elements of `shape`; throws tg::Error naming `op` (empty: the op running,
// op_context.hpp) if the product overflows or exceeds 2^48 (a size no array here can have), before
// anything is allocated from it.
std::size_t checked_numel(const Shape& shape, std::string_view op);

// "[64,3,28,28]": the form error messages use.
std::string to_string(const Shape& shape);
// "[1,2]": the multi-index of the row-major position `flat` in `shape`, as messages show it.
std::string index_to_string(const Shape& shape, std::size_t flat);
// As PyTorch prints a tensor: tensor([[1.0000, 2.0000], ...], dtype=f64, requires_grad=True),
// the values in one format, the middle of each dim left out ("...") beyond 1000 elements.
std::string to_string(const Tensor& tensor);
std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

}  // namespace tg

template <>
struct fmt::formatter<tg::Tensor> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const tg::Tensor& tensor, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(tg::to_string(tensor), ctx);
  }
};
