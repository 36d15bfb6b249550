#include "engine.hpp"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "accumulate.hpp"
#include "anomaly.hpp"
#include "grad_mode.hpp"
#include "node.hpp"
#include "tensor_impl.hpp"

namespace tg {
namespace {

// Sums a gradient into a slot that may still be empty.
void add_into(Tensor& slot, const Tensor& grad) {
  slot = slot.defined() ? detail::accumulate(slot, grad) : grad;
}

// Nodes reachable from the roots, every node after all the nodes it has edges to
// (depth-first postorder, with an explicit stack).
std::vector<Node*> postorder(const std::vector<Node*>& roots) {
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, std::size_t>> stack;  // node, next edge to visit
  for (Node* root : roots) {
    if (!seen.insert(root).second) continue;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [node, next_edge] = stack.back();
      const auto& edges = node->edges();
      if (next_edge < edges.size()) {
        Node* child = edges[next_edge++].node.get();
        if (child && seen.insert(child).second) stack.emplace_back(child, 0);
      } else {
        order.push_back(node);
        stack.pop_back();
      }
    }
  }
  return order;
}

// The gradients wanted by tg::grad: which leaves and which nodes' outputs they are read at.
struct Targets {
  std::unordered_map<const TensorImpl*, std::size_t> leaves;
  std::unordered_map<const Node*, std::size_t> nodes;
  std::vector<Tensor> grads;
};

// One reverse sweep. With `targets` null, gradients accumulate into the leaves' grad();
// otherwise they are only collected into targets->grads.
void run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
         bool retain_graph, bool create_graph, Targets* targets, const char* caller) {
  if (outputs.empty()) fail("{}: no outputs to differentiate", caller);
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
    fail("{}: {} grad_outputs for {} outputs", caller, grad_outputs.size(), outputs.size());
  }

  GradModeGuard grad_mode(create_graph);
  auto deliver_to_leaf = [&](const std::shared_ptr<TensorImpl>& leaf, const Tensor& grad) {
    if (!leaf) return;  // the leaf is gone: nobody can read its gradient
    if (targets) {
      auto it = targets->leaves.find(leaf.get());
      if (it != targets->leaves.end()) add_into(targets->grads[it->second], grad);
      return;
    }
    if (leaf->grad.defined()) {
      leaf->grad = detail::accumulate(leaf->grad, create_graph ? grad : grad.detach());
    } else {
      // Its own copy: a backward that passes its gradient through hands the same array to
      // several inputs (and the caller's grad_output), and an in-place change to one leaf's
      // grad must not reach the others. Under create_graph the copy is recorded.
      leaf->grad = create_graph ? detail::recorded_clone(grad) : grad.clone();
    }
  };

  std::unordered_map<Node*, Tensor> pending;  // gradient summed so far for each node's output
  std::vector<Node*> roots;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& output = outputs[i];
    if (!output.defined()) fail("{}: output {} is undefined", caller, i);
    if (!output.requires_grad()) {
      fail(
          "{}: output {} does not require grad and has no grad_fn (was it computed under "
          "NoGradGuard, or from tensors that do not require grad?)",
          caller, i);
    }
    Tensor grad = grad_outputs.empty() ? Tensor{} : grad_outputs[i];
    if (!grad.defined()) {
      if (output.numel() != 1) {
        fail(
            "{}: a gradient can be implied only for an output of one element, but output {} "
            "has shape {}; pass its gradient",
            caller, i, to_string(output.shape()));
      }
      grad = ones_like(output);
    } else if (grad.shape() != output.shape() || grad.dtype() != output.dtype()) {
      fail("{}: gradient of shape {} {} given for output {} of shape {} {}", caller,
           to_string(grad.shape()), name(grad.dtype()), i, to_string(output.shape()),
           name(output.dtype()));
    }
    if (Node* node = output.grad_fn().get()) {
      add_into(pending[node], grad);
      roots.push_back(node);
    } else {
      deliver_to_leaf(output.impl_ptr(), grad);
    }
  }

  std::vector<Node*> order = postorder(roots);

  // With targets, only nodes from which a target can be reached need to run.
  std::unordered_set<const Node*> leads_to_target;
  if (targets) {
    for (const Node* node : order) {  // children come first
      for (const Edge& edge : node->edges()) {
        if ((targets->leaves.count(edge.leaf.lock().get())) ||
            (edge.node &&
             (targets->nodes.count(edge.node.get()) || leads_to_target.count(edge.node.get())))) {
          leads_to_target.insert(node);
          break;
        }
      }
    }
  }

  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    auto slot = pending.find(node);
    if (slot == pending.end()) continue;  // no gradient reached it
    Tensor grad = std::move(slot->second);
    pending.erase(slot);
    if (targets) {
      auto target = targets->nodes.find(node);
      if (target != targets->nodes.end()) add_into(targets->grads[target->second], grad);
      if (!leads_to_target.count(node)) continue;
    }

    std::vector<Tensor> input_grads = node->apply(grad);
    if (AnomalyMode::is_enabled()) detail::check_backward_finite(*node, grad, input_grads);
    grad = Tensor{};
    if (!retain_graph) node->release();

    const auto& edges = node->edges();
    for (std::size_t i = 0; i < edges.size(); ++i) {
      if (!input_grads[i].defined()) continue;
      if (edges[i].node) {
        add_into(pending[edges[i].node.get()], input_grads[i]);
      } else {
        deliver_to_leaf(edges[i].leaf.lock(), input_grads[i]);
      }
    }
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              const BackwardOptions& options) {
  run(outputs, grad_outputs, options.retain_graph || options.create_graph, options.create_graph,
      nullptr, "backward");
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const GradOptions& options) {
  Targets targets;
  targets.grads.resize(inputs.size());
  std::vector<std::size_t> first_of(inputs.size());  // an input listed twice gets one slot
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    if (!input.defined() || !input.requires_grad()) {
      fail("grad: input {} does not require grad", i);
    }
    first_of[i] = input.grad_fn() ? targets.nodes.emplace(input.grad_fn().get(), i).first->second
                                  : targets.leaves.emplace(input.impl(), i).first->second;
  }
  run(outputs, options.grad_outputs, options.retain_graph || options.create_graph,
      options.create_graph, &targets, "grad");

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor& result = targets.grads[i];
    if (first_of[i] != i) result = targets.grads[first_of[i]];
    if (!result.defined()) {
      if (!options.allow_unused) {
        fail(
            "grad: input {} (shape {}) was not used to compute the outputs; pass "
            "{{.allow_unused = true}} to get an undefined gradient for it",
            i, to_string(inputs[i].shape()));
      }
      continue;
    }
    if (!options.create_graph) result = result.detach();
  }
  return std::move(targets.grads);
}

}  // namespace tg
