#pragma once
// Anomaly mode: find the op whose backward first produced a NaN or an infinity.
//
//   {
//     tg::DetectAnomalyGuard anomaly;   // as torch.autograd.detect_anomaly()
//     loss = model.forward(x) ...;
//     loss.backward();   // throws tg::Error naming the first op that returned NaN/inf
//   }
//
// While it is on (per thread, like grad mode), record() numbers every op it records and notes
// which ops made its inputs; a backward() called while it is on checks each gradient a closure
// returns for an input on the tape, and throws at the first one that is not finite, naming the
// op, its number, the input, the element and where the op's inputs came from. Ops that a
// create_graph backward records are numbered too, after those of the forward pass. When it
// throws, the nodes that already ran have been released and leaves may hold partial
// gradients, as after any exception in backward: zero them before training on.
//
// Its cost is a description string per recorded op and a pass over every gradient, so it is
// for debugging; when it is off, record() and backward() pay one flag test.

#include <cstdint>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace tg {

class Node;

class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// Turns anomaly mode on for a scope and restores the previous state on exit. The outermost
// guard restarts the numbering of ops at 1.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

namespace detail {

// The number of the next op recorded in anomaly mode (1 for the first after the outermost
// guard), and what record() notes about its inputs: "[4,5] f32 (from exp #4), [5] f32 (leaf)".
std::uint64_t next_forward_index();
std::string describe_inputs(const std::vector<Tensor>& inputs);

// Throws tg::Error if any gradient the node's backward returned holds a NaN or an infinity.
void check_backward_finite(const Node& node, const Tensor& grad_output,
                           const std::vector<Tensor>& input_grads);

}  // namespace detail
}  // namespace tg
