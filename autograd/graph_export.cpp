#include "graph_export.hpp"

#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "node.hpp"
#include "tensor_impl.hpp"

namespace tg {
namespace {

// A DOT string literal: quotes and backslashes escaped, so any name is safe, and line breaks
// written as DOT's \n.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::string describe(const Shape& shape, DType dtype) {
  return fmt::format("{} {}", to_string(shape), name(dtype));
}

class DotWriter {
 public:
  explicit DotWriter(const std::vector<std::pair<std::string, Tensor>>& named_leaves) {
    for (const auto& [leaf_name, leaf] : named_leaves) {
      if (leaf.defined()) leaf_names_.emplace(leaf.impl(), leaf_name);
    }
  }

  // Writes every op reachable from `root` once, with an explicit stack (a tape can be deeper
  // than the call stack).
  std::string op(const Node* root) {
    std::vector<const Node*> stack{root};
    std::string root_id = op_id(root);
    while (!stack.empty()) {
      const Node* node = stack.back();
      stack.pop_back();
      if (!written_ops_.emplace(node).second) continue;
      out_ += fmt::format("  {} [shape=box, label={}{}];\n", op_id(node), quoted(node->label()),
                          node->released() ? ", style=dashed" : "");
      const auto& edges = node->edges();
      for (std::size_t i = 0; i < edges.size(); ++i) {
        std::string from;
        if (edges[i].node) {
          from = op_id(edges[i].node.get());
          stack.push_back(edges[i].node.get());
        } else if (auto leaf = edges[i].leaf.lock()) {
          from = leaf_id(leaf);
        } else {
          continue;  // a constant, or a leaf nobody holds any more
        }
        out_ += fmt::format("  {} -> {} [label={}];\n", from, op_id(node),
                            quoted(to_string(node->inputs()[i].shape)));
      }
    }
    return root_id;
  }

  std::string leaf_id(const std::shared_ptr<TensorImpl>& leaf) {
    auto [it, added] = leaf_ids_.emplace(leaf.get(), fmt::format("leaf{}", leaf_ids_.size()));
    if (added) {
      const auto name_it = leaf_names_.find(leaf.get());
      const Tensor handle(leaf);
      const std::string shape = describe(handle.shape(), handle.dtype());
      const std::string label =
          name_it == leaf_names_.end() ? shape : name_it->second + "\n" + shape;
      out_ += fmt::format("  {} [shape=ellipse, label={}];\n", it->second, quoted(label));
    }
    return it->second;
  }

  void output(std::size_t index, const Tensor& tensor, const std::string& from) {
    out_ += fmt::format(
        "  out{} [shape=plaintext, label={}];\n  {} -> out{};\n", index,
        quoted(fmt::format("output {}\n{}", index, describe(tensor.shape(), tensor.dtype()))), from,
        index);
  }

  std::string finish() { return "digraph tapegrad {\n  rankdir=BT;\n" + out_ + "}\n"; }

 private:
  std::string op_id(const Node* node) {
    auto [it, added] = op_ids_.emplace(node, fmt::format("op{}", op_ids_.size()));
    return it->second;
  }

  std::unordered_map<const TensorImpl*, std::string> leaf_names_;
  std::unordered_map<const TensorImpl*, std::string> leaf_ids_;
  std::unordered_map<const Node*, std::string> op_ids_;
  std::unordered_set<const Node*> written_ops_;
  std::string out_;
};

}  // namespace

std::string to_dot(const std::vector<Tensor>& outputs,
                   const std::vector<std::pair<std::string, Tensor>>& named_leaves) {
  DotWriter writer(named_leaves);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& output = outputs[i];
    if (!output.defined()) fail("to_dot: output {} is undefined", i);
    if (const Node* node = output.grad_fn().get()) {
      writer.output(i, output, writer.op(node));
    } else if (output.requires_grad()) {
      writer.output(i, output, writer.leaf_id(output.impl_ptr()));
    } else {
      fail("to_dot: output {} (shape {}) is not on the tape: it does not require grad", i,
           to_string(output.shape()));
    }
  }
  return writer.finish();
}

}  // namespace tg
