#pragma once
// Losses. labels: i64 [N] class indices in [0, C).
//   nll_loss(logp [N,C], y):      l_i = -logp[i, y_i];    dlogp[i, y_i] = -g_i (g / N for mean)
//   cross_entropy(logits, y):     nll_loss(log_softmax(logits, 1), y): stable log-sum-exp;
//                                 dlogits = (softmax(logits) - onehot(y)) * g_i
//   mse_loss(a, b):               l = (a - b)^2;  da = 2 (a - b) g,  db = -da
//   cross_entropy with label smoothing e (as PyTorch), C classes, logp = log_softmax(logits, 1):
//                                 l_i = (1 - e) nll_i + e/C sum_j -logp[i, j];
//                                 dlogits = (softmax(logits) - (1 - e) onehot(y) - e/C) * g_i
//   binary_cross_entropy_with_logits(x, t), weight w, pos_weight p (1 if left out):
//                                 l = w ((1 + (p - 1) t) softplus(x) - p t x), the stable form
//                                 of -w (p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)));
//                                 dx = w ((1 + (p - 1) t) sigmoid(x) - p t) g,
//                                 dt = w ((p - 1) softplus(x) - p x) g
//   smooth_l1_loss(a, b), d = a - b: l = |d| < beta ? d^2 / (2 beta) : |d| - beta / 2
//                                 (|d| for beta = 0);
//                                 da = (|d| < beta ? d / beta : sign(d)) g,  db = -da
// Reduction::mean averages over the elements (over N for the classification losses).
// The backward passes of the last three are compositions of differentiable ops: second
// derivatives are exact (except at smooth_l1_loss's switch |d| = beta and at d = 0 for beta 0).

#include <cstdint>

#include "../autograd/tensor.hpp"

namespace tg {

enum class Reduction : std::uint8_t { mean, sum, none };

struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;  // in [0, 1]
};

struct BinaryCrossEntropyWithLogitsOptions {
  // Each element's loss times weight, which broadcasts to the logits' shape (may be undefined).
  Tensor weight;
  // The positive term's weight (PyTorch's pos_weight: > 1 favours recall), broadcast to the
  // logits' shape, e.g. [C] for logits [N, C] (may be undefined).
  Tensor pos_weight;
  Reduction reduction = Reduction::mean;
};

struct SmoothL1LossOptions {
  double beta = 1.0;  // >= 0; 0 is the L1 loss
  Reduction reduction = Reduction::mean;
};

[[nodiscard]] Tensor nll_loss(const Tensor& log_probs, const Tensor& labels,
                              Reduction reduction = Reduction::mean);
[[nodiscard]] Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                                   Reduction reduction = Reduction::mean);
[[nodiscard]] Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                                   const CrossEntropyOptions& options);
// targets: of the logits' shape and dtype (probabilities, usually 0 or 1), differentiable too.
// Gradients also reach weight and pos_weight if they require grad (PyTorch refuses those).
[[nodiscard]] Tensor binary_cross_entropy_with_logits(
    const Tensor& logits, const Tensor& targets,
    const BinaryCrossEntropyWithLogitsOptions& options = {});
// input and target of the same shape (as mse_loss; PyTorch broadcasts with a warning).
[[nodiscard]] Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                                    const SmoothL1LossOptions& options = {});
[[nodiscard]] Tensor mse_loss(const Tensor& input, const Tensor& target,
                              Reduction reduction = Reduction::mean);

// The gradient of nll_loss as a differentiable op: -g scattered to [i, labels_i] (g / N for
// mean). Its own gradient w.r.t. g is nll_loss(gg, labels, reduction).
[[nodiscard]] Tensor nll_loss_backward(const Tensor& grad_output, const Tensor& labels,
                                       const Shape& input_shape, Reduction reduction);

}  // namespace tg
