#pragma once
// record(): the one way onto the tape.
//
//   Tensor y = compute_forward(x);
//   return tg::record("swish", y, {x}, [x](const Tensor& grad) {
//     return std::vector<Tensor>{grad * ...};   // one gradient per input
//   });
//
// If grad mode is on and any input requires grad, record() returns `output` attached to a
// new Node holding `backward` (a fresh handle sharing output's array: any tape that came with
// `output` is left behind). Otherwise it returns `output` unchanged, so inference pays nothing.
//
// The closure must not capture the returned tensor (that would be a cycle the graph never
// frees); capture the inputs, or `output` before it was recorded, or evaluated arrays. Write
// it with Tensor-level ops: they record themselves when the backward pass runs with
// create_graph, which is how higher-order gradients work.

#include <string>
#include <vector>

#include "tapegrad/autograd/node.hpp"
#include "tapegrad/autograd/tensor.hpp"

namespace tg {

Tensor record(std::string name, const Tensor& output, const std::vector<Tensor>& inputs,
              BackwardFn backward);

// True if record() would record an op with these inputs (grad mode on, one requires grad).
bool needs_grad(const std::vector<Tensor>& inputs);

}  // namespace tg
