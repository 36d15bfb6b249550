#pragma once
// Inverted dropout: in training each element is zeroed with probability p and the rest scaled
// by 1/(1-p), so eval needs no rescaling. The mask comes from the global generator
// (tg::manual_seed). dx = g * mask / (1-p). With training false, or p == 0, x is returned.

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);

}  // namespace tg
