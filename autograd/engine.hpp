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

struct GradOptions {
  // One gradient per output; an undefined entry (or an empty list) means ones for an output
  // of one element.
  std::vector<Tensor> grad_outputs;
  // Defaults to create_graph, as in PyTorch.
  bool retain_graph = false;
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

// Accumulates into grad() of every leaf that the outputs depend on (what Tensor::backward does).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              const BackwardOptions& options = {});

}  // namespace tg
