#include "node.hpp"

#include <atomic>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "tensor_impl.hpp"

namespace tg {
namespace {

std::atomic<std::int64_t> live_nodes{0};

// The node whose closure runs on this thread, if any: the reads to check.
thread_local const Node* node_in_backward = nullptr;

// Makes `node` the one whose closure runs, until the end of the scope (also on an exception).
class InBackward {
 public:
  explicit InBackward(const Node* node) : previous_(std::exchange(node_in_backward, node)) {}
  ~InBackward() { node_in_backward = previous_; }
  InBackward(const InBackward&) = delete;
  InBackward& operator=(const InBackward&) = delete;

 private:
  const Node* previous_;
};

}  // namespace

namespace detail {

void check_not_modified(const Storage& storage) {
  if (node_in_backward != nullptr) node_in_backward->check_not_modified(storage);
}

}  // namespace detail

Node::Node(std::string name, std::vector<Edge> edges, std::vector<InputMeta> inputs,
           BackwardFn backward)
    : name_(std::move(name)),
      edges_(std::move(edges)),
      inputs_(std::move(inputs)),
      backward_(std::move(backward)) {
  live_nodes.fetch_add(1, std::memory_order_relaxed);
}

// Destroying the last owner of a long chain would otherwise recurse once per node (each
// node's destructor destroying the next) and overflow the stack. Instead, the nodes this one
// owns alone are taken apart here, in a loop: each has its edges and closure moved out before
// it dies, so no destructor below this one has anything left to recurse into.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  auto take_apart = [&pending](Node& node) {
    for (Edge& edge : node.edges_) {
      if (edge.node) pending.push_back(std::move(edge.node));
    }
    // The closure may hold tensors whose grad_fn is one of the nodes just moved to `pending`;
    // releasing it after the move leaves `pending` as their last owner.
    node.backward_ = nullptr;
  };
  take_apart(*this);
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node.use_count() == 1) take_apart(*node);
  }
  live_nodes.fetch_sub(1, std::memory_order_relaxed);
}

std::vector<Tensor> Node::apply(const Tensor& grad_output) const {
  if (!backward_) {
    fail(
        "{}: backward through a graph whose saved tensors were already freed; pass "
        "{{.retain_graph = true}} to the first backward to run backward through it again",
        name_);
  }
  std::vector<Tensor> grads;
  {
    const InBackward running(this);
    grads = backward_(grad_output);
  }
  if (grads.size() != inputs_.size()) {
    fail("{}: backward returned {} gradients for {} inputs", name_, grads.size(), inputs_.size());
  }
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() || !edges_[i].active()) continue;
    const InputMeta& input = inputs_[i];
    if (grads[i].shape() != input.shape || grads[i].dtype() != input.dtype) {
      fail("{}: backward returned a gradient of shape {} {} for input {} of shape {} {}", name_,
           to_string(grads[i].shape()), tg::name(grads[i].dtype()), i, to_string(input.shape),
           tg::name(input.dtype));
    }
  }
  return grads;
}

void Node::check_not_modified(const Storage& storage) const {
  for (const SavedVersion& saved : saved_versions_) {
    if (saved.address != &storage || storage.version == saved.version) continue;
    if (saved.storage.lock().get() != &storage) continue;  // another array at a freed address
    const bool output = saved.input == inputs_.size();
    const Shape& shape =
        output ? std::visit([](const auto& a) -> const Shape& { return a.shape(); }, storage.array)
               : inputs_[saved.input].shape;
    fail(
        "{} of {} ({}) has been modified by an in-place operation since {} was recorded: it is "
        "at version {}, and was at version {} (an optimizer step, or a checkpoint loaded, "
        "between the forward pass and this backward?)",
        output ? std::string("the output") : fmt::format("input {}", saved.input), name_,
        to_string(shape), name_, storage.version, saved.version);
  }
}

std::string Node::label() const {
  return forward_index_ ? fmt::format("{} #{}", name_, forward_index_) : name_;
}

std::int64_t Node::live_count() noexcept { return live_nodes.load(std::memory_order_relaxed); }

}  // namespace tg
