#include "record.hpp"

#include <memory>
#include <utility>

#include "anomaly.hpp"
#include "grad_mode.hpp"
#include "tensor_impl.hpp"

namespace tg {
namespace {

// A new handle to `values`' array, produced by `node`.
Tensor attached(const Tensor& values, std::shared_ptr<Node> node) {
  auto impl = std::make_shared<TensorImpl>();
  impl->data = values.impl()->data;
  impl->requires_grad = true;
  impl->grad_fn = std::move(node);
  return Tensor(std::move(impl));
}

}  // namespace

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& input : inputs) {
    if (needs_input_grad(input)) return true;
  }
  return false;
}

bool needs_input_grad(const Tensor& input) { return input.defined() && input.requires_grad(); }

Tensor record(std::string name, const Tensor& output, const std::vector<Tensor>& inputs,
              BackwardFn backward) {
  if (!output.defined()) fail("record: op '{}' has an undefined output", name);
  if (!needs_grad(inputs)) return output;
  if (!is_floating(output.dtype())) {
    fail("record: op '{}' has an {} output; only f32/f64 outputs can carry gradients", name,
         tg::name(output.dtype()));
  }
  if (!backward) fail("record: op '{}' has no backward function", name);

  std::vector<Edge> edges(inputs.size());
  std::vector<InputMeta> metas(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    if (!input.defined()) continue;
    metas[i] = InputMeta{input.shape(), input.dtype()};
    if (!input.requires_grad()) continue;
    if (input.grad_fn()) {
      edges[i].node = input.grad_fn();
    } else {
      edges[i].leaf = input.impl_ptr();
    }
  }

  std::vector<SavedVersion> versions;
  auto note_version = [&versions](const Tensor& t, std::size_t index) {
    const std::shared_ptr<Storage>& storage = t.impl()->data;
    versions.push_back({storage.get(), storage, storage->version, index});
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].defined()) note_version(inputs[i], i);
  }
  note_version(output, inputs.size());

  auto node = std::make_shared<Node>(std::move(name), std::move(edges), std::move(metas),
                                     std::move(backward));
  node->set_saved_versions(std::move(versions));
  if (AnomalyMode::is_enabled()) {
    node->set_forward_info(detail::next_forward_index(), detail::describe_inputs(inputs));
  }
  return attached(output, std::move(node));
}

Tensor record(std::string name, const Tensor& output, const std::vector<Tensor>& inputs,
              BackwardWithOutputFn backward) {
  if (!output.defined() || !needs_grad(inputs)) {
    return record(std::move(name), output, inputs, BackwardFn{});  // unchanged, or the error
  }
  if (!backward) fail("record: op '{}' has no backward function", name);
  // The closure holds the output's array and a weak reference to its own node (set once the
  // node exists): a strong one would be a cycle.
  auto node_of_output = std::make_shared<std::weak_ptr<Node>>();
  Tensor recorded = record(
      std::move(name), output, inputs,
      [values = output.detach(), node_of_output, backward = std::move(backward)](const Tensor& g) {
        std::shared_ptr<Node> node = node_of_output->lock();
        return backward(g, GradMode::is_enabled() && node ? attached(values, node) : values);
      });
  *node_of_output = recorded.grad_fn();
  return recorded;
}

namespace detail {

bool same_array(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() && a.impl()->data == b.impl()->data;
}

}  // namespace detail
}  // namespace tg
