#pragma once
// Graph export: the tape behind some outputs, as a Graphviz DOT graph.
//
//   std::string dot = tg::to_dot({loss}, model.named_parameters());
//   // write it to loss.dot, then: dot -Tsvg loss.dot -o loss.svg
//
// Each recorded op is a box (its name, and its number when recorded in anomaly mode); each
// leaf that requires grad is an ellipse with its name (when given), shape and dtype; an arrow
// runs from each input to the op that consumed it, labelled with the input's shape. Ops whose
// saved tensors a backward already freed are dashed. Inputs that do not require grad are not
// on the tape and do not appear, nor does a leaf that nothing holds any more (the tape keeps
// only a weak reference to leaves).

#include <string>
#include <utility>
#include <vector>

#include "tensor.hpp"

namespace tg {

std::string to_dot(const std::vector<Tensor>& outputs,
                   const std::vector<std::pair<std::string, Tensor>>& named_leaves = {});

}  // namespace tg
