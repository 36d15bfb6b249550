#include "anomaly.hpp"

#include <cmath>
#include <cstddef>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dispatch.hpp"
#include "node.hpp"

namespace tg {
namespace {

thread_local bool anomaly_enabled = false;
thread_local std::uint64_t ops_recorded = 0;  // numbering of ops since the outermost guard

struct NonFinite {
  bool found = false;
  std::size_t position = 0;
  double value = 0;
};

NonFinite first_non_finite(const Tensor& t) {
  return dispatch_floating(t.dtype(), "anomaly", [&]<class T>() {
    const auto& values = t.value<T>();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values.data()[i])) {
        return NonFinite{true, i, static_cast<double>(values.data()[i])};
      }
    }
    return NonFinite{};
  });
}

}  // namespace

bool AnomalyMode::is_enabled() { return anomaly_enabled; }
void AnomalyMode::set_enabled(bool enabled) { anomaly_enabled = enabled; }

DetectAnomalyGuard::DetectAnomalyGuard() : previous_(anomaly_enabled) {
  if (!previous_) ops_recorded = 0;
  anomaly_enabled = true;
}
DetectAnomalyGuard::~DetectAnomalyGuard() { anomaly_enabled = previous_; }

namespace detail {

std::uint64_t next_forward_index() { return ++ops_recorded; }

std::string describe_inputs(const std::vector<Tensor>& inputs) {
  std::vector<std::string> parts;
  for (const Tensor& input : inputs) {
    if (!input.defined()) {
      parts.emplace_back("none");
      continue;
    }
    std::string origin = "constant";
    if (const Node* producer = input.grad_fn().get()) {
      origin = "from " + producer->label();
    } else if (input.requires_grad()) {
      origin = "leaf";
    }
    parts.push_back(
        fmt::format("{} {} ({})", to_string(input.shape()), name(input.dtype()), origin));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

void check_backward_finite(const Node& node, const Tensor& grad_output,
                           const std::vector<Tensor>& input_grads) {
  for (std::size_t i = 0; i < input_grads.size(); ++i) {
    const Tensor& grad = input_grads[i];
    // A gradient for an input off the tape (a constant, a leaf gone) is dropped by the engine:
    // whatever it holds cannot reach a parameter.
    if (!grad.defined() || !node.edges()[i].active() || !is_floating(grad.dtype())) continue;
    const NonFinite bad = first_non_finite(grad);
    if (!bad.found) continue;
    const bool received_finite = !grad_output.defined() || !first_non_finite(grad_output).found;
    fail(
        "anomaly: the backward of {} returned {} in the gradient for input {} (shape {}), at "
        "element {}; the gradient it received was {}. Forward: {} had inputs {}",
        node.label(), std::isnan(bad.value) ? "NaN" : fmt::format("{}", bad.value), i,
        to_string(grad.shape()), index_to_string(grad.shape(), bad.position),
        received_finite ? "finite" : "not finite either", node.label(),
        node.forward_inputs().empty() ? "(not recorded in anomaly mode)" : node.forward_inputs());
  }
}

}  // namespace detail
}  // namespace tg
