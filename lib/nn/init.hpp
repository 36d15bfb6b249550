#pragma once
// Parameter initialisation, from the global generator (tg::manual_seed).

#include <cstddef>

#include "../../autograd/tensor.hpp"

namespace tg::nn::init {

// Fills `t` with U(-bound, bound), in place.
void uniform(Tensor& t, double bound);

// PyTorch's default for Conv2d and Linear weights: kaiming_uniform_(w, a = sqrt(5)), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases use the same bound.
double default_bound(std::size_t fan_in);

}  // namespace tg::nn::init
