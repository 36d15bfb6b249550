// Tensor's method forms and compound assignments, declared in autograd/tensor.hpp and defined
// here, above the ops they call (as ATen's Tensor methods forward to its functions).
#include <optional>
#include <string_view>

#include "../autograd/dispatch.hpp"
#include "../autograd/grad_mode.hpp"
#include "../autograd/op_context.hpp"
#include "activation.hpp"
#include "arithmetic.hpp"
#include "indexing.hpp"
#include "linear.hpp"
#include "reduction.hpp"
#include "shape.hpp"
#include "softmax.hpp"

namespace tg {

Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return tg::sum(*this, dims, keepdim);
}
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return tg::mean(*this, dims, keepdim);
}
Tensor Tensor::max() const { return tg::max(*this); }
Tensor Tensor::min() const { return tg::min(*this); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const {
  return tg::argmax(*this, dim, keepdim);
}
Tensor Tensor::reshape(const std::vector<std::int64_t>& shape) const {
  return tg::reshape(*this, shape);
}
Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  return tg::flatten(*this, start_dim, end_dim);
}
Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
  return tg::transpose(*this, dim0, dim1);
}
Tensor Tensor::t() const {
  if (dim() > 2) {
    fail("t: expects a tensor of at most 2 dims, got {} (use transpose or permute)",
         to_string(shape()));
  }
  return dim() < 2 ? *this : tg::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const {
  return tg::permute(*this, dims);
}
Tensor Tensor::squeeze() const { return tg::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t dim) const { return tg::squeeze(*this, dim); }
Tensor Tensor::unsqueeze(std::int64_t dim) const { return tg::unsqueeze(*this, dim); }
Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  return tg::narrow(*this, dim, start, length);
}
Tensor Tensor::select(std::int64_t dim, std::int64_t index) const {
  return tg::select(*this, dim, index);
}
Tensor Tensor::matmul(const Tensor& other) const { return tg::matmul(*this, other); }
Tensor Tensor::abs() const { return tg::abs(*this); }
Tensor Tensor::sqrt() const { return tg::sqrt(*this); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::pow(double exponent) const { return tg::pow(*this, exponent); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return tg::clamp(*this, min, max);
}
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::softmax(std::int64_t dim) const { return tg::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return tg::log_softmax(*this, dim); }

namespace {

// target <- op(target, other), in place: the result must keep target's shape (other broadcasts
// into it) and nothing may need a gradient through the change.
template <class Other, class Op>
const Tensor& assign(const Tensor& target, const Other& other, std::string_view op,
                     const Op& compute) {
  const detail::OpContext op_context(op);
  bool other_requires_grad = false;
  if constexpr (std::is_same_v<Other, Tensor>) {
    other_requires_grad = other.defined() && other.requires_grad();
  }
  if (GradMode::is_enabled() && (target.requires_grad() || other_requires_grad)) {
    fail(
        "{}: an in-place change to a tensor ({} {}) that a gradient would have to pass through; "
        "write a = a {} b, or make the change under tg::NoGradGuard",
        op, name(target.dtype()), to_string(target.shape()), op.substr(8, 1));
  }
  Tensor result;
  {
    const NoGradGuard no_grad;
    result = compute(target, other);
  }
  if (result.shape() != target.shape()) {
    fail(
        "{}: the result {} does not keep the shape of the tensor {} (the other side must "
        "broadcast to it)",
        op, to_string(result.shape()), to_string(target.shape()));
  }
  dispatch_any(target.dtype(), [&]<class T>() { target.value<T>() = result.value<T>(); });
  target.bump_version();
  return target;
}

}  // namespace

const Tensor& Tensor::operator+=(const Tensor& other) const {
  return assign(*this, other,
                "operator+=", [](const Tensor& a, const Tensor& b) { return add(a, b); });
}
const Tensor& Tensor::operator-=(const Tensor& other) const {
  return assign(*this, other,
                "operator-=", [](const Tensor& a, const Tensor& b) { return sub(a, b); });
}
const Tensor& Tensor::operator*=(const Tensor& other) const {
  return assign(*this, other,
                "operator*=", [](const Tensor& a, const Tensor& b) { return mul(a, b); });
}
const Tensor& Tensor::operator/=(const Tensor& other) const {
  return assign(*this, other,
                "operator/=", [](const Tensor& a, const Tensor& b) { return div(a, b); });
}
const Tensor& Tensor::operator+=(double other) const {
  return assign(*this, other, "operator+=", [](const Tensor& a, double b) { return add(a, b); });
}
const Tensor& Tensor::operator-=(double other) const {
  return assign(*this, other, "operator-=", [](const Tensor& a, double b) { return sub(a, b); });
}
const Tensor& Tensor::operator*=(double other) const {
  return assign(*this, other, "operator*=", [](const Tensor& a, double b) { return mul(a, b); });
}
const Tensor& Tensor::operator/=(double other) const {
  return assign(*this, other, "operator/=", [](const Tensor& a, double b) { return div(a, b); });
}

}  // namespace tg
