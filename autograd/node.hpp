#pragma once
// Node: one recorded op on the tape. It holds the backward closure, an edge to where each
// input's gradient goes, and (inside the closure) what the op saved for backward.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor.hpp"

namespace tg {

// Maps the gradient of an op's output to one gradient per input, in the order the inputs
// were recorded; an undefined Tensor{} means "no gradient" for that input.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// Where the gradient of one input goes: the node that produced it, or the leaf tensor that
// accumulates it. Both are empty when the input does not require grad.
//
// The leaf is held weakly: a leaf's grad, recorded by a create_graph backward, owns nodes
// whose edges lead back to that leaf, and a strong reference would close a cycle that nothing
// frees. A leaf that no one holds any more needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::weak_ptr<TensorImpl> leaf;
  bool active() const noexcept { return node || !leaf.expired(); }
};

// The version of an op's input or output array when the op was recorded. A closure that reads
// the array after an in-place change (an optimizer step between forward and backward) would
// compute its gradient from the new values: Node::apply refuses, as PyTorch does ("modified by
// an inplace operation"). Only arrays the closure actually reads are checked: an op whose
// gradient does not need an input (add) does not mind it changing.
struct SavedVersion {
  const Storage* address = nullptr;  // compared first; `storage` confirms it is still that one
  std::weak_ptr<const Storage> storage;
  std::uint64_t version = 0;
  std::size_t input = 0;  // the input's index, or the number of inputs for the output
};

// Shape and dtype of an input, to check what a backward closure returns.
struct InputMeta {
  Shape shape;
  DType dtype = DType::f32;
};

class Node {
 public:
  Node(std::string name, std::vector<Edge> edges, std::vector<InputMeta> inputs,
       BackwardFn backward);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::vector<Edge>& edges() const noexcept { return edges_; }
  const std::vector<InputMeta>& inputs() const noexcept { return inputs_; }

  // Runs the closure and checks that it returned one gradient per input, each of the
  // input's shape and dtype. Throws if the closure was released.
  std::vector<Tensor> apply(const Tensor& grad_output) const;

  // Anomaly mode (autograd/anomaly.hpp): the op's number in the forward pass and a description
  // of its inputs, noted when it was recorded; 0 and empty when anomaly mode was off.
  std::uint64_t forward_index() const noexcept { return forward_index_; }
  const std::string& forward_inputs() const noexcept { return forward_inputs_; }
  // "log #5" when numbered, else "log": how messages and graph export name the node.
  std::string label() const;
  void set_forward_info(std::uint64_t index, std::string inputs) {
    forward_index_ = index;
    forward_inputs_ = std::move(inputs);
  }

  // The versions of the op's inputs and output when it was recorded (record() notes them).
  void set_saved_versions(std::vector<SavedVersion> versions) {
    saved_versions_ = std::move(versions);
  }
  // Throws tg::Error if `storage` is an input or output of this op that changed in place since
  // the op was recorded.
  void check_not_modified(const Storage& storage) const;

  // The register_hook functions of the op's output: they live here, not on the output's
  // TensorImpl, so that they run even when no handle to the output is left.
  std::shared_ptr<HookList<Tensor::Hook>>& output_hooks() noexcept { return output_hooks_; }

  // Drops the closure and with it every tensor it saved.
  void release() noexcept { backward_ = nullptr; }
  bool released() const noexcept { return !backward_; }

  // Nodes alive in the process: a test that the graph dies with its tensors.
  static std::int64_t live_count() noexcept;

 private:
  std::string name_;
  std::vector<Edge> edges_;
  std::vector<InputMeta> inputs_;
  BackwardFn backward_;
  std::uint64_t forward_index_ = 0;
  std::string forward_inputs_;
  std::vector<SavedVersion> saved_versions_;
  std::shared_ptr<HookList<Tensor::Hook>> output_hooks_;
};

}  // namespace tg
