#include "engine.hpp"

#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "accumulate.hpp"
#include "anomaly.hpp"
#include "grad_mode.hpp"
#include "node.hpp"
#include "op_context.hpp"
#include "profiler.hpp"
#include "tensor_impl.hpp"

namespace tg {
namespace {

// Sums a gradient into a slot that may still be empty.
void add_into(Tensor& slot, const Tensor& grad) {
  slot = slot.defined() ? detail::accumulate(slot, grad) : grad;
}

// The gradient after a tensor's register_hook functions, each of which may replace it.
Tensor run_hooks(const std::shared_ptr<HookList<Tensor::Hook>>& hooks, Tensor grad) {
  if (!hooks || hooks->empty()) return grad;
  for (const Tensor::Hook& hook : hooks->snapshot()) {
    Tensor replaced = hook(grad);
    if (!replaced.defined()) continue;
    if (replaced.shape() != grad.shape() || replaced.dtype() != grad.dtype()) {
      fail("register_hook: a hook returned a gradient {} {} in place of one {} {}",
           name(replaced.dtype()), to_string(replaced.shape()), name(grad.dtype()),
           to_string(grad.shape()));
    }
    grad = std::move(replaced);
  }
  return grad;
}

bool has_hooks(const TensorImpl& leaf) { return leaf.hooks && !leaf.hooks->empty(); }

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

// One reverse sweep over the tape. Without targets, gradients accumulate into the leaves'
// grad() (Tensor::backward); with them, they are only collected into targets->grads (tg::grad).
class ReverseSweep {
 public:
  // A create_graph sweep always keeps the graph (its recorded gradients lead back into it).
  ReverseSweep(bool retain_graph, bool create_graph, Targets* targets, const char* caller)
      : retain_graph_(retain_graph || create_graph),
        create_graph_(create_graph),
        targets_(targets),
        caller_(caller) {}

  void run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs) {
    GradModeGuard grad_mode(create_graph_);  // create_graph: the sweep records itself
    const std::vector<Node*> roots = seed(outputs, grad_outputs);
    const std::vector<Node*> order = postorder(roots);
    if (targets_) prune(order);
    count_hooked_leaf_edges(order);
    sweep(order);
    // Leaves some of whose edges carried no gradient (a node that none reached, or that
    // returned none for them): their hooks run now, on what they did receive.
    for (HookedLeaf& hooked : hooked_leaves_) finish(hooked);
  }

 private:
  // Checks the outputs and their gradients, and hands each gradient to the node that made the
  // output (the roots of the sweep), or to the output itself if it is a leaf.
  std::vector<Node*> seed(const std::vector<Tensor>& outputs,
                          const std::vector<Tensor>& grad_outputs) {
    if (outputs.empty()) fail("{}: no outputs to differentiate", caller_);
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
      fail("{}: {} grad_outputs for {} outputs", caller_, grad_outputs.size(), outputs.size());
    }
    std::vector<Node*> roots;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& output = outputs[i];
      const Tensor grad =
          seed_gradient(output, grad_outputs.empty() ? Tensor{} : grad_outputs[i], i);
      if (Node* node = output.grad_fn().get()) {
        add_into(pending_[node], grad);
        roots.push_back(node);
      } else {
        deliver_to_leaf(output.impl_ptr(), grad);
      }
    }
    return roots;
  }

  Tensor seed_gradient(const Tensor& output, Tensor grad, std::size_t i) const {
    if (!output.defined()) fail("{}: output {} is undefined", caller_, i);
    if (!output.requires_grad()) {
      fail(
          "{}: output {} does not require grad and has no grad_fn (was it computed under "
          "NoGradGuard, or from tensors that do not require grad?)",
          caller_, i);
    }
    if (!grad.defined()) {
      if (output.numel() != 1) {
        fail(
            "{}: a gradient can be implied only for an output of one element, but output {} "
            "has shape {}; pass its gradient",
            caller_, i, to_string(output.shape()));
      }
      return ones_like(output);
    }
    if (grad.shape() != output.shape() || grad.dtype() != output.dtype()) {
      fail("{}: gradient of shape {} {} given for output {} of shape {} {}", caller_,
           to_string(grad.shape()), name(grad.dtype()), i, to_string(output.shape()),
           name(output.dtype()));
    }
    return grad;
  }

  // With targets, only nodes from which a target can be reached need to run.
  void prune(const std::vector<Node*>& order) {
    for (const Node* node : order) {  // children come first
      for (const Edge& edge : node->edges()) {
        if (targets_->leaves.count(edge.leaf.lock().get()) ||
            (edge.node &&
             (targets_->nodes.count(edge.node.get()) || leads_to_target_.count(edge.node.get())))) {
          leads_to_target_.insert(node);
          break;
        }
      }
    }
  }

  // A leaf with hooks gets its gradient once, summed over all its edges (as PyTorch's hooks
  // see it), when the last node with an edge to it has run: its hooks run then (a data-parallel
  // all-reduce can start while the rest of the backward goes on), and in a fixed order.
  struct HookedLeaf {
    std::shared_ptr<TensorImpl> leaf;
    Tensor grad;
    std::size_t edges_left = 0;
    bool finished = false;
  };

  // tg::grad runs the hooks of the leaves it returns gradients for, and no others.
  bool wants_hooks(const TensorImpl& leaf) const {
    return has_hooks(leaf) && (!targets_ || targets_->leaves.count(&leaf) != 0);
  }

  HookedLeaf* hooked(const TensorImpl* leaf) {
    auto it = hooked_index_.find(leaf);
    return it == hooked_index_.end() ? nullptr : &hooked_leaves_[it->second];
  }

  HookedLeaf& add_hooked(const std::shared_ptr<TensorImpl>& leaf) {
    if (HookedLeaf* known = hooked(leaf.get())) return *known;
    hooked_index_.emplace(leaf.get(), hooked_leaves_.size());
    hooked_leaves_.push_back({leaf, Tensor{}, 0, false});
    return hooked_leaves_.back();
  }

  void count_hooked_leaf_edges(const std::vector<Node*>& order) {
    for (const Node* node : order) {
      for (const Edge& edge : node->edges()) {
        if (edge.node) continue;
        std::shared_ptr<TensorImpl> leaf = edge.leaf.lock();
        if (leaf && wants_hooks(*leaf)) ++add_hooked(leaf).edges_left;
      }
    }
  }

  void finish(HookedLeaf& hooked) {
    if (hooked.finished) return;
    hooked.finished = true;
    if (!hooked.grad.defined()) return;
    accumulate_into_leaf(hooked.leaf, run_hooks(hooked.leaf->hooks, std::move(hooked.grad)));
  }

  // Runs every node that received a gradient, consumers before producers, and passes what its
  // closure returns along its edges.
  void sweep(const std::vector<Node*>& order) {
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node* node = *it;
      auto slot = pending_.find(node);
      if (slot == pending_.end()) continue;  // no gradient reached it
      Tensor grad = run_hooks(node->output_hooks(), std::move(slot->second));
      pending_.erase(slot);
      if (targets_) {
        auto target = targets_->nodes.find(node);
        if (target != targets_->nodes.end()) add_into(targets_->grads[target->second], grad);
        if (!leads_to_target_.count(node)) continue;
      }

      std::vector<Tensor> input_grads;
      {
        const detail::OpContext op_context(node->name(), " backward");
        const profiler::Scope timed(node->name(), " backward");
        input_grads = node->apply(grad);
      }
      if (AnomalyMode::is_enabled()) detail::check_backward_finite(*node, grad, input_grads);
      grad = Tensor{};
      if (!retain_graph_) node->release();

      const auto& edges = node->edges();
      for (std::size_t i = 0; i < edges.size(); ++i) {
        if (edges[i].node) {
          if (input_grads[i].defined()) add_into(pending_[edges[i].node.get()], input_grads[i]);
          continue;
        }
        std::shared_ptr<TensorImpl> leaf = edges[i].leaf.lock();
        if (HookedLeaf* h = leaf ? hooked(leaf.get()) : nullptr) {
          if (input_grads[i].defined()) add_into(h->grad, input_grads[i]);
          if (--h->edges_left == 0) finish(*h);
        } else if (input_grads[i].defined()) {
          deliver_to_leaf(leaf, input_grads[i]);
        }
      }
    }
  }

  void deliver_to_leaf(const std::shared_ptr<TensorImpl>& leaf, const Tensor& grad) {
    if (!leaf) return;         // the leaf is gone: nobody can read its gradient
    if (wants_hooks(*leaf)) {  // an output that is a hooked leaf: its hooks run with the others
      add_into(add_hooked(leaf).grad, grad);
      return;
    }
    accumulate_into_leaf(leaf, grad);
  }

  void accumulate_into_leaf(const std::shared_ptr<TensorImpl>& leaf, const Tensor& grad) {
    if (targets_) {
      auto it = targets_->leaves.find(leaf.get());
      if (it != targets_->leaves.end()) add_into(targets_->grads[it->second], grad);
      return;
    }
    if (leaf->grad.defined()) {
      leaf->grad = detail::accumulate(leaf->grad, create_graph_ ? grad : grad.detach());
    } else if (!create_graph_ && grad.impl_ptr().use_count() == 1 &&
               grad.impl()->data.use_count() == 1) {
      // An array no other handle sees (one that a backward made for this input alone, as a
      // weight's gradient): the leaf's grad without a copy (copying the weights' gradients was
      // 1.3% of a training step of mnist_cnn).
      leaf->grad = grad.detach();
    } else {
      // Its own copy: a backward that passes its gradient through hands the same array to
      // several inputs (and the caller's grad_output), and an in-place change to one leaf's
      // grad must not reach the others. Under create_graph the copy is recorded.
      leaf->grad = create_graph_ ? detail::recorded_clone(grad) : grad.clone();
    }
  }

  const bool retain_graph_;
  const bool create_graph_;
  Targets* const targets_;
  const char* const caller_;
  std::unordered_map<Node*, Tensor> pending_;  // gradient summed so far for each node's output
  std::deque<HookedLeaf> hooked_leaves_;  // in the order their first edge was met; stable addresses
  std::unordered_map<const TensorImpl*, std::size_t> hooked_index_;
  std::unordered_set<const Node*> leads_to_target_;
};

}  // namespace

void backward(const std::vector<Tensor>& outputs, const BackwardOptions& options) {
  ReverseSweep(options.retain_graph, options.create_graph, nullptr, "backward")
      .run(outputs, options.grad_outputs);
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
  ReverseSweep(options.retain_graph, options.create_graph, &targets, "grad")
      .run(outputs, options.grad_outputs);

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
