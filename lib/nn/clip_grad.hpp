#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (libtorch's
// torch::nn::utils): called between backward() and the optimizer's step(), they change the
// parameters' gradients in place (and bump their versions: a graph that saved a gradient, under
// create_graph, then refuses to run backward from the changed values).
//
//   clip_grad_norm_:  total = || all gradients as one vector ||_p  (p = inf: the largest |g|)
//                     every gradient *= min(1, max_norm / (total + 1e-6));  returns total
//   clip_grad_value_: every gradient element is clamped to [-clip_value, clip_value]
//
// Parameters without a gradient are skipped. As PyTorch's with error_if_nonfinite = false, a
// non-finite total is returned, not refused: an infinite one zeroes the finite gradient elements
// (and makes the infinite ones NaN), a NaN one makes every gradient NaN. The norm is summed in
// double whatever the gradients' dtype.

#include <vector>

#include "../../autograd/tensor.hpp"

namespace tg::nn {

// norm_type: any p > 0, or infinity. max_norm >= 0; an infinite max_norm only measures.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm,
                       double norm_type = 2.0);

// clip_value >= 0 (an infinite one changes nothing).
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace tg::nn
