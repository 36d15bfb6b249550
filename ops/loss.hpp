#pragma once
// Losses. labels: i64 [N] class indices in [0, C).
//   nll_loss(logp [N,C], y):      l_i = -logp[i, y_i];    dlogp[i, y_i] = -g_i (g / N for mean)
//   cross_entropy(logits, y):     nll_loss(log_softmax(logits, 1), y): stable log-sum-exp;
//                                 dlogits = (softmax(logits) - onehot(y)) * g_i
//   mse_loss(a, b):               l = (a - b)^2;  da = 2 (a - b) g,  db = -da
// Reduction::mean averages over the elements (over N for the classification losses).

#include <cstdint>

#include "../autograd/tensor.hpp"

namespace tg {

enum class Reduction : std::uint8_t { mean, sum, none };

[[nodiscard]] Tensor nll_loss(const Tensor& log_probs, const Tensor& labels,
                              Reduction reduction = Reduction::mean);
[[nodiscard]] Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                                   Reduction reduction = Reduction::mean);
[[nodiscard]] Tensor mse_loss(const Tensor& input, const Tensor& target,
                              Reduction reduction = Reduction::mean);

// The gradient of nll_loss as a differentiable op: -g scattered to [i, labels_i] (g / N for
// mean). Its own gradient w.r.t. g is nll_loss(gg, labels, reduction).
[[nodiscard]] Tensor nll_loss_backward(const Tensor& grad_output, const Tensor& labels,
                                       const Shape& input_shape, Reduction reduction);

}  // namespace tg
