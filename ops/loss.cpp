#include "loss.hpp"

#include <string_view>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"
#include "reduction.hpp"
#include "softmax.hpp"

namespace tg {
namespace {

// labels must be i64 [N] with every entry in [0, C), for an input of shape [N, C].
void check_labels(std::string_view op, const Shape& input_shape, std::string_view input_name,
                  const Tensor& labels) {
  detail::check_defined(op, labels, "labels");
  const std::size_t n = input_shape[0];
  const std::size_t c = input_shape[1];
  if (labels.dtype() != DType::i64) {
    fail("{}: labels must be i64 class indices, got {} {} ({} {})", op, name(labels.dtype()),
         to_string(labels.shape()), input_name, to_string(input_shape));
  }
  if (labels.dim() != 1 || labels.shape()[0] != n) {
    fail("{}: labels must be 1-D [N] = [{}] for {} {}, got {}", op, n, input_name,
         to_string(input_shape), to_string(labels.shape()));
  }
  const std::int64_t* y = labels.value<std::int64_t>().data();
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] < 0 || y[i] >= static_cast<std::int64_t>(c)) {
      fail("{}: label {} at position {} is out of range for {} classes (expected 0 to {}; {} {})",
           op, y[i], i, c, static_cast<std::int64_t>(c) - 1, input_name, to_string(input_shape));
    }
  }
}

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::mean:
      return "mean";
    case Reduction::sum:
      return "sum";
    case Reduction::none:
      return "none";
  }
  return "?";
}

// The scale of each picked element: 1/N for mean, 1 otherwise.
double reduction_scale(Reduction reduction, std::size_t n) {
  return reduction == Reduction::mean ? 1.0 / static_cast<double>(n) : 1.0;
}

// nll_loss on checked arguments (nll_loss and cross_entropy check them, each in its own name).
Tensor pick_negated(const Tensor& log_probs, const Tensor& labels, Reduction reduction) {
  const std::size_t n = log_probs.shape()[0];
  const std::size_t c = log_probs.shape()[1];
  Tensor out = dispatch_floating(log_probs.dtype(), "nll_loss", [&]<class T>() {
    const T* lp = log_probs.value<T>().data();
    const std::int64_t* y = labels.value<std::int64_t>().data();
    if (reduction == Reduction::none) {
      auto losses = detail::new_array<T>({n});
      for (std::size_t i = 0; i < n; ++i) losses(i) = -lp[i * c + static_cast<std::size_t>(y[i])];
      return tensor(std::move(losses));
    }
    // Accumulated in double, in row order: f32 batches lose nothing to the running sum.
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) total -= lp[i * c + static_cast<std::size_t>(y[i])];
    // An empty mean is 0/0 = NaN, as PyTorch.
    total = reduction == Reduction::mean ? total / static_cast<double>(n) : total;
    return tensor(xt::xarray<T>(static_cast<T>(total)));
  });
  return record("nll_loss", out, {log_probs},
                [labels, shape = log_probs.shape(), reduction](const Tensor& g) {
                  return std::vector<Tensor>{nll_loss_backward(g, labels, shape, reduction)};
                });
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, Reduction reduction) {
  const detail::OpContext op_context("nll_loss");
  detail::check_floating_rank("nll_loss", log_probs, "log_probs", 2, "[N,C]");
  check_labels("nll_loss", log_probs.shape(), "log_probs", labels);
  return pick_negated(log_probs, labels, reduction);
}

Tensor nll_loss_backward(const Tensor& grad_output, const Tensor& labels, const Shape& input_shape,
                         Reduction reduction) {
  detail::check_floating("nll_loss_backward", grad_output, "grad_output");
  if (input_shape.size() != 2) {
    fail("nll_loss_backward: input_shape must be 2-D [N,C], got {}", to_string(input_shape));
  }
  checked_numel(input_shape, "nll_loss_backward");
  check_labels("nll_loss_backward", input_shape, "input_shape", labels);
  const std::size_t n = input_shape[0];
  const std::size_t c = input_shape[1];
  const Shape expected = reduction == Reduction::none ? Shape{n} : Shape{};
  if (grad_output.shape() != expected) {
    fail("nll_loss_backward: grad_output must be {} for reduction {} and input_shape {}, got {}",
         to_string(expected), reduction_name(reduction), to_string(input_shape),
         to_string(grad_output.shape()));
  }
  const double scale = reduction_scale(reduction, n);
  Tensor out = dispatch_floating(grad_output.dtype(), "nll_loss_backward", [&]<class T>() {
    xt::xarray<T> grad = detail::new_array<T>(input_shape);
    grad.fill(T(0));
    const T* g = grad_output.value<T>().data();
    const std::int64_t* y = labels.value<std::int64_t>().data();
    for (std::size_t i = 0; i < n; ++i) {
      const T gi = reduction == Reduction::none ? g[i] : g[0];
      grad.data()[i * c + static_cast<std::size_t>(y[i])] = -gi * static_cast<T>(scale);
    }
    return tensor(std::move(grad));
  });
  // Linear in grad_output: sum(gg * out) = nll_loss(gg, labels) . grad_output.
  return record("nll_loss_backward", out, {grad_output}, [labels, reduction](const Tensor& gg) {
    return std::vector<Tensor>{pick_negated(gg, labels, reduction)};
  });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction) {
  const detail::OpContext op_context("cross_entropy");
  detail::check_floating_rank("cross_entropy", logits, "logits", 2, "[N,C]");
  check_labels("cross_entropy", logits.shape(), "logits", labels);
  return pick_negated(log_softmax(logits, 1), labels, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const detail::OpContext op_context("mse_loss");
  detail::check_floating("mse_loss", input, "input");
  detail::check_floating("mse_loss", target, "target");
  detail::check_same_dtype("mse_loss", input, "input", target, "target");
  if (input.shape() != target.shape()) {
    fail("mse_loss: input {} and target {} must have the same shape (mse_loss does not broadcast)",
         to_string(input.shape()), to_string(target.shape()));
  }
  const Tensor diff = sub(input, target);
  Tensor squared = mul(diff, diff);
  switch (reduction) {
    case Reduction::mean:
      return mean(squared);
    case Reduction::sum:
      return sum(squared);
    case Reduction::none:
      return squared;
  }
  return squared;
}

}  // namespace tg
