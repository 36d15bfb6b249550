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
// frees); capture the inputs or evaluated arrays. Write it with Tensor-level ops: they record
// themselves when the backward pass runs with create_graph, which is how higher-order
// gradients work.
//
// A gradient that reads the op's own output (exp, sigmoid, softmax) takes it as a second
// argument instead of capturing it:
//
//   return tg::record("exp", y, {x}, [](const Tensor& grad, const Tensor& y) {
//     return std::vector<Tensor>{grad * y};
//   });
//
// In a plain backward that argument is the saved array. Under create_graph it is the same
// array attached to the op's own node, so that the recorded gradient also depends on the
// inputs through the output, as it does mathematically; a captured copy of the output is a
// constant on that tape, and second derivatives through it would silently lose a term.

#include <string>
#include <vector>

#include "node.hpp"
#include "tensor.hpp"

namespace tg {

using BackwardWithOutputFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const Tensor& output)>;

[[nodiscard]] Tensor record(std::string name, const Tensor& output,
                            const std::vector<Tensor>& inputs, BackwardFn backward);
[[nodiscard]] Tensor record(std::string name, const Tensor& output,
                            const std::vector<Tensor>& inputs, BackwardWithOutputFn backward);

// True if record() would record an op with these inputs (grad mode on, one requires grad).
bool needs_grad(const std::vector<Tensor>& inputs);

// Whether `input` of an op that is being recorded will receive a gradient. A closure computes
// only those gradients and keeps only the tensors they read: when only b's gradient reads a,
// it captures keep_if(needs_input_grad(b), a), and an input that needs no gradient costs
// neither memory nor work.
bool needs_input_grad(const Tensor& input);
inline Tensor keep_if(bool needed, const Tensor& t) { return needed ? t : Tensor{}; }

namespace detail {
// True if a and b are handles to the same array (e.g. a tensor and its detach()).
bool same_array(const Tensor& a, const Tensor& b);
}  // namespace detail

}  // namespace tg
