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
// gradients work. A closure may reuse `output` as it was before recording (it holds the right
// values), but that copy is not on the tape: if the gradient uses the output, recompute it
// from the inputs when GradMode::is_enabled() (a create_graph backward), as tg::exp does, or
// second derivatives will miss the output's dependence on the inputs. tg::Function handles
// this for its saved outputs by itself.

#include <string>
#include <vector>

#include "node.hpp"
#include "tensor.hpp"

namespace tg {

[[nodiscard]] Tensor record(std::string name, const Tensor& output,
                            const std::vector<Tensor>& inputs, BackwardFn backward);

// True if record() would record an op with these inputs (grad mode on, one requires grad).
bool needs_grad(const std::vector<Tensor>& inputs);

namespace detail {
// True if a and b are handles to the same array (e.g. a tensor and its detach()).
bool same_array(const Tensor& a, const Tensor& b);
// A handle to `values`' array that `node` produced: a saved output re-attached to its node
// while that node's backward runs.
Tensor attach_to_node(const Tensor& values, std::shared_ptr<Node> node);
}  // namespace detail

}  // namespace tg
