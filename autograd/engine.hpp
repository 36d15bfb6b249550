#pragma once
// The backward engine: a reverse sweep over the tape from one or more outputs.
//
// The graph reachable from the outputs is put in topological order by an iterative
// depth-first search (never recursion: a 100,000-op chain must not overflow the stack). Each
// node then runs once, after every node that consumes its output has, with the sum of the
// gradients it received. Unless retain_graph is asked for, a node's closure (and all it
// saved) is released as soon as it has run.

#include <vector>

#include "tensor.hpp"

namespace tg {

// The options of tg::grad: BackwardOptions' fields, and allow_unused.
struct GradOptions {
  // One gradient per output; an undefined entry (or an empty list) means ones for an output
  // of one element.
  std::vector<Tensor> grad_outputs;
  // Keep the graph so that backward can run through it again (always kept under create_graph).
  bool retain_graph = false;
  // Record the backward pass itself, so that the gradients can be differentiated again.
  bool create_graph = false;
  // If false, an input that the outputs do not depend on is an error; if true its gradient is
  // an undefined Tensor.
  bool allow_unused = false;
};

// The gradients of the sum of `outputs` (weighted by grad_outputs) with respect to `inputs`,
// as torch.autograd.grad. Does not touch any tensor's grad(). With create_graph the returned
// gradients are themselves on the tape and can be differentiated again.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const GradOptions& options = {});

// Accumulates into grad() of every leaf that the outputs depend on (what Tensor::backward does),
// as torch.autograd.backward: tg::backward({loss_a, loss_b}, {.retain_graph = true}).
void backward(const std::vector<Tensor>& outputs, const BackwardOptions& options = {});

}  // namespace tg
