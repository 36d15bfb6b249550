#include "tensor.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>

#include "../ops/kernels/copy.hpp"
#include "dispatch.hpp"
#include "engine.hpp"
#include "node.hpp"
#include "op_context.hpp"
#include "random.hpp"
#include "record.hpp"
#include "storage.hpp"
#include "tensor_impl.hpp"

namespace tg {
namespace {

const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl, const char* member) {
  if (!impl) fail("Tensor::{}: the tensor is undefined", member);
  return *impl;
}

template <class T>
Tensor from_array(xt::xarray<T>&& values, bool requires_grad) {
  checked_numel(values.shape(), "tensor");
  auto impl = std::make_shared<TensorImpl>();
  impl->data = detail::make_storage(std::move(values));
  Tensor result(std::move(impl));
  if (requires_grad) result.set_requires_grad(true);
  return result;
}

template <class Fill>
Tensor make_filled(const Shape& shape, const TensorOptions& options, const char* op, Fill&& fill) {
  const detail::OpContext op_context(op);
  checked_numel(shape, op);
  return dispatch_any(options.dtype, [&]<class T>() {
    auto values = detail::new_array<T>(shape);
    fill(values);
    return from_array(std::move(values), options.requires_grad);
  });
}

}  // namespace

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

DType Tensor::dtype() const {
  return static_cast<DType>(checked(impl_, "dtype").data->array.index());
}

const Shape& Tensor::shape() const {
  return std::visit([](const auto& array) -> const Shape& { return array.shape(); },
                    checked(impl_, "shape").data->array);
}

std::size_t Tensor::dim() const { return shape().size(); }

std::size_t Tensor::numel() const {
  return std::visit([](const auto& array) { return array.size(); },
                    checked(impl_, "numel").data->array);
}

bool Tensor::requires_grad() const { return checked(impl_, "requires_grad").requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  checked(impl_, "set_requires_grad");
  if (impl_->grad_fn) {
    fail(
        "set_requires_grad: only a leaf tensor can be switched; this one was made by '{}' "
        "(use detach() to start a new leaf)",
        impl_->grad_fn->name());
  }
  if (requires_grad && !is_floating(dtype())) {
    fail("set_requires_grad: only f32/f64 tensors can require grad, this one is {} {}",
         name(dtype()), to_string(shape()));
  }
  impl_->requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return !checked(impl_, "is_leaf").grad_fn; }

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_, "grad_fn").grad_fn; }

Tensor Tensor::grad() const { return checked(impl_, "grad").grad; }

void Tensor::zero_grad() { checked(impl_, "zero_grad"), impl_->grad = Tensor{}; }

void Tensor::set_grad(Tensor grad) {
  checked(impl_, "set_grad");
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype())) {
    fail("set_grad: gradient {} {} does not match the tensor {} {}", to_string(grad.shape()),
         name(grad.dtype()), to_string(shape()), name(dtype()));
  }
  impl_->grad = std::move(grad);
}

void Tensor::backward(const BackwardOptions& options) const { tg::backward({*this}, options); }

void Tensor::backward(const Tensor& grad, const BackwardOptions& options) const {
  if (!options.grad_outputs.empty()) {
    fail("backward: the gradient was passed twice (as an argument and in grad_outputs)");
  }
  BackwardOptions with_grad = options;
  with_grad.grad_outputs = {grad};
  tg::backward({*this}, with_grad);
}

std::int64_t Tensor::size(std::int64_t d) const {
  const auto rank = static_cast<std::int64_t>(dim());
  if (d < -rank || d >= rank) {
    fail("size: dim {} is out of range for a tensor of shape {} (expected {} to {})", d,
         to_string(shape()), -rank, rank - 1);
  }
  return static_cast<std::int64_t>(shape()[static_cast<std::size_t>(d < 0 ? d + rank : d)]);
}

RemovableHandle Tensor::register_hook(Hook hook) const {
  checked(impl_, "register_hook");
  if (!requires_grad()) {
    fail("register_hook: the tensor ({} {}) does not require grad, so no gradient reaches it",
         name(dtype()), to_string(shape()));
  }
  if (!hook) fail("register_hook: the hook is empty");
  std::shared_ptr<HookList<Hook>>& hooks =
      impl_->grad_fn ? impl_->grad_fn->output_hooks() : impl_->hooks;
  if (!hooks) hooks = std::make_shared<HookList<Hook>>();
  return {hooks, hooks->add(std::move(hook))};
}

std::uint64_t Tensor::version() const { return checked(impl_, "version").data->version; }

void Tensor::bump_version() const { ++checked(impl_, "bump_version").data->version; }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->data = checked(impl_, "detach").data;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  checked(impl_, "clone");
  const detail::OpContext op_context("clone");
  return dispatch_any(dtype(), [&]<class T>() {
    const xt::xarray<T>& source = value<T>();
    xt::xarray<T> copy = detail::new_array<T>(source.shape());
    kernels::copy(source.data(), source.size(), copy.data());
    return from_array(std::move(copy), false);
  });
}

// d to(x)/dx = identity: the gradient goes back converted to the input's dtype.
Tensor Tensor::to(DType target) const {
  const detail::OpContext op_context("to");
  const DType source = dtype();
  if (source == target) return *this;
  Tensor result = dispatch_any(source, [&]<class S>() {
    return dispatch_any(target, [&]<class D>() {
      return tensor(detail::new_array<D>(shape(), xt::cast<D>(value<S>())));
    });
  });
  if (!is_floating(source) || !is_floating(target)) return result;
  return record("to", result, {*this},
                [source](const Tensor& grad) { return std::vector<Tensor>{grad.to(source)}; });
}

template <class T>
T Tensor::item() const {
  if (numel() != 1) {
    fail("item: the tensor has {} elements (shape {}); item() needs exactly one", numel(),
         to_string(shape()));
  }
  return dispatch_any(dtype(), [&]<class S>() { return static_cast<T>(*value<S>().data()); });
}

template <class T>
xt::xarray<T>& Tensor::value() const& {
  Storage& storage = *checked(impl_, "value").data;
  detail::check_not_modified(storage);
  auto* array = std::get_if<xt::xarray<T>>(&storage.array);
  if (!array) {
    fail("Tensor::value<{}>: the tensor is {} {}", name(dtype_of<T>()), name(dtype()),
         to_string(shape()));
  }
  return *array;
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template int Tensor::item<int>() const;
template xt::xarray<float>& Tensor::value<float>() const&;
template xt::xarray<double>& Tensor::value<double>() const&;
template xt::xarray<std::int64_t>& Tensor::value<std::int64_t>() const&;

template <class T>
requires is_element_type_v<T> Tensor tensor(xt::xarray<T> values, bool requires_grad) {
  return from_array(std::move(values), requires_grad);
}
template Tensor tensor<float>(xt::xarray<float>, bool);
template Tensor tensor<double>(xt::xarray<double>, bool);
template Tensor tensor<std::int64_t>(xt::xarray<std::int64_t>, bool);

namespace {

// The numbers of nested braces, row-major, and the shape they make.
struct Flattened {
  std::vector<double> values;
  Shape shape;
  bool shape_known = false;  // set by the first list that reaches numbers
};

void flatten_into(const std::vector<NestedList>& items, Shape& prefix, Flattened& out) {
  prefix.push_back(items.size());
  const bool numbers = !items.empty() && !items.front().is_list();
  if (items.empty() || numbers) {
    if (!out.shape_known) {
      out.shape = prefix;
      out.shape_known = true;
    } else if (out.shape != prefix) {
      fail("tensor: the nested lists are ragged: a list of shape {} beside one of shape {}",
           to_string(prefix), to_string(out.shape));
    }
  }
  for (const NestedList& item : items) {
    if (item.is_list() == numbers) {
      fail("tensor: a list mixes numbers and lists (under shape {})", to_string(prefix));
    }
    if (numbers) {
      out.values.push_back(item.value());
    } else {
      flatten_into(item.items(), prefix, out);
    }
  }
  prefix.pop_back();
}

}  // namespace

Tensor tensor(std::initializer_list<NestedList> values, const TensorOptions& options) {
  const detail::OpContext op_context("tensor");
  Flattened flat;
  Shape prefix;
  flatten_into(std::vector<NestedList>(values), prefix, flat);
  return dispatch_any(options.dtype, [&]<class T>() {
    auto array = detail::new_array<T>(flat.shape);
    for (std::size_t i = 0; i < flat.values.size(); ++i) {
      const double v = flat.values[i];
      if constexpr (std::is_same_v<T, std::int64_t>) {
        // 2^63 itself is out of range; every double below it in magnitude converts exactly.
        if (!(std::abs(v) < 9223372036854775808.0) || v != std::trunc(v)) {
          fail("tensor: {} at flat position {} is not a whole number an i64 tensor can hold", v, i);
        }
      }
      array.data()[i] = static_cast<T>(v);
    }
    return from_array(std::move(array), options.requires_grad);
  });
}

Tensor zeros(const Shape& shape, const TensorOptions& options) { return full(shape, 0.0, options); }

Tensor ones(const Shape& shape, const TensorOptions& options) { return full(shape, 1.0, options); }

Tensor full(const Shape& shape, double value, const TensorOptions& options) {
  return make_filled(shape, options, "full", [value](auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    values.fill(static_cast<T>(value));
  });
}

std::size_t checked_numel(const Shape& shape, std::string_view op) {
  // The bound applies to the non-zero dims too: loops over the other dims of an empty array
  // still run, and [0, 2^60] would make them run forever.
  constexpr std::size_t limit = std::size_t{1} << 48;
  std::size_t count = 1;
  bool empty = false;
  for (std::size_t d : shape) {
    empty = empty || d == 0;
    if (d != 0 && (__builtin_mul_overflow(count, d, &count) || count > limit)) {
      if (op.empty()) fail("shape {} has more than 2^48 elements", to_string(shape));
      fail("{}: shape {} has more than 2^48 elements", op, to_string(shape));
    }
  }
  return empty ? 0 : count;
}

Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), {.dtype = like.dtype()}); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), {.dtype = like.dtype()}); }

Tensor randn(const Shape& shape, const TensorOptions& options) {
  if (!is_floating(options.dtype))
    fail("randn: dtype must be f32 or f64, got {}", name(options.dtype));
  return make_filled(shape, options, "randn", [](auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    for (auto& v : values) v = static_cast<T>(global_generator().normal());
  });
}

Tensor rand(const Shape& shape, const TensorOptions& options) {
  if (!is_floating(options.dtype))
    fail("rand: dtype must be f32 or f64, got {}", name(options.dtype));
  return make_filled(shape, options, "rand", [](auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    for (auto& v : values) v = static_cast<T>(global_generator().uniform());
  });
}

}  // namespace tg
