#include "loss.hpp"

#include <cmath>
#include <limits>
#include <string_view>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "activation.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"
#include "comparison.hpp"
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

// The elementwise losses `losses` reduced as asked.
Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::mean:
      return mean(losses);
    case Reduction::sum:
      return sum(losses);
    case Reduction::none:
      return losses;
  }
  fail("invalid reduction {}", static_cast<int>(reduction));
}

// An optional weight of a loss over `input`: undefined, or floating, of input's dtype, and of a
// shape that broadcasts to input's without enlarging it (aligned from the right, each size 1 or
// input's).
void check_loss_weight(std::string_view op, const Tensor& weight, std::string_view what,
                       const Tensor& input, std::string_view input_name) {
  if (!weight.defined()) return;
  detail::check_floating(op, weight, what);
  detail::check_same_dtype(op, weight, what, input, input_name);
  const Shape& to = input.shape();
  const Shape& from = weight.shape();
  bool broadcasts = from.size() <= to.size();
  for (std::size_t i = 0; broadcasts && i < from.size(); ++i) {
    const std::size_t size = from[from.size() - 1 - i];
    broadcasts = size == 1 || size == to[to.size() - 1 - i];
  }
  if (!broadcasts) {
    fail("{}: {} {} must broadcast to {} {}", op, what, to_string(weight.shape()), input_name,
         to_string(input.shape()));
  }
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
  return cross_entropy(logits, labels, CrossEntropyOptions{.reduction = reduction});
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     const CrossEntropyOptions& options) {
  const detail::OpContext op_context("cross_entropy");
  detail::check_floating_rank("cross_entropy", logits, "logits", 2, "[N,C]");
  check_labels("cross_entropy", logits.shape(), "logits", labels);
  const double smoothing = options.label_smoothing;
  if (!(smoothing >= 0.0 && smoothing <= 1.0)) {
    fail("cross_entropy: label_smoothing must be in [0, 1], got {} (logits {})", smoothing,
         to_string(logits.shape()));
  }
  const Tensor log_probs = log_softmax(logits, 1);
  Tensor nll = pick_negated(log_probs, labels, options.reduction);
  if (smoothing == 0.0) return nll;
  // The loss against the uniform distribution, -mean_j logp[i, j], reduced as nll is.
  const auto classes = static_cast<double>(logits.shape()[1]);
  const Tensor uniform = reduce(mul(sum(log_probs, {1}), -1.0 / classes), options.reduction);
  return add(mul(nll, 1.0 - smoothing), mul(uniform, smoothing));
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        const BinaryCrossEntropyWithLogitsOptions& options) {
  constexpr const char* op = "binary_cross_entropy_with_logits";
  const detail::OpContext op_context(op);
  detail::check_floating(op, logits, "logits");
  detail::check_floating(op, targets, "targets");
  detail::check_same_dtype(op, logits, "logits", targets, "targets");
  if (logits.shape() != targets.shape()) {
    fail("{}: logits {} and targets {} must have the same shape", op, to_string(logits.shape()),
         to_string(targets.shape()));
  }
  check_loss_weight(op, options.weight, "weight", logits, "logits");
  check_loss_weight(op, options.pos_weight, "pos_weight", logits, "logits");
  // softplus(x) = log(1 + e^x) = -log(1 - sigmoid(x)) = x - log sigmoid(x), never linearised
  // (infinite threshold): its gradient is sigmoid(x) everywhere, 1/2 at 0 (where max(x, 0) and
  // |x| written as ops would each give 0).
  const Tensor softplus_x = softplus(logits, 1.0, std::numeric_limits<double>::infinity());
  Tensor losses;
  if (options.pos_weight.defined()) {
    const Tensor pt = mul(options.pos_weight, targets);
    losses = sub(mul(add(sub(pt, targets), 1.0), softplus_x), mul(pt, logits));
  } else {
    losses = sub(softplus_x, mul(targets, logits));
  }
  if (options.weight.defined()) losses = mul(losses, options.weight);
  return reduce(losses, options.reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const SmoothL1LossOptions& options) {
  const detail::OpContext op_context("smooth_l1_loss");
  detail::check_floating("smooth_l1_loss", input, "input");
  detail::check_floating("smooth_l1_loss", target, "target");
  detail::check_same_dtype("smooth_l1_loss", input, "input", target, "target");
  if (input.shape() != target.shape()) {
    fail(
        "smooth_l1_loss: input {} and target {} must have the same shape (smooth_l1_loss does "
        "not broadcast)",
        to_string(input.shape()), to_string(target.shape()));
  }
  const double beta = options.beta;
  if (!(beta >= 0.0 && std::isfinite(beta))) {
    fail("smooth_l1_loss: beta must be >= 0 and finite, got {} (input {})", beta,
         to_string(input.shape()));
  }
  const Tensor diff = sub(input, target);
  const Tensor distance = abs(diff);
  if (beta == 0.0) return reduce(distance, options.reduction);
  // The quadratic branch squares only the differences it keeps: squared where the linear branch
  // is taken, an infinite difference would send 0 * inf = NaN back through where's other side.
  const Tensor small = lt(distance, beta);
  const Tensor kept = where(small, diff, 0.0);
  const Tensor quadratic = mul(mul(kept, kept), 0.5 / beta);
  return reduce(where(small, quadratic, sub(distance, 0.5 * beta)), options.reduction);
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
  return reduce(mul(diff, diff), reduction);
}

}  // namespace tg
