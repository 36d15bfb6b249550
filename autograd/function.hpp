#pragma once
// Custom ops as a class, the libtorch way:
//
//   struct Swish : tg::Function<Swish> {
//     static tg::Tensor forward(tg::Context& ctx, const tg::Tensor& x) {
//       ctx.save_for_backward({x});
//       return x * tg::sigmoid(x);
//     }
//     static std::vector<tg::Tensor> backward(tg::Context& ctx,
//                                             const std::vector<tg::Tensor>& grad_outputs) {
//       const tg::Tensor& x = ctx.saved()[0];
//       tg::Tensor s = tg::sigmoid(x);
//       return {grad_outputs[0] * (s + x * s * (1.0 - s))};
//     }
//   };
//   tg::Tensor y = Swish::apply(x);
//
// forward runs with grad mode off; apply() records one node whose inputs are the Tensor
// arguments of apply (in order; a std::vector<Tensor> argument counts as its elements), and
// backward returns one gradient per such input. Other arguments (ints, options) are passed to
// forward unchanged; keep what backward needs of them in ctx.saved_data.

#include <cxxabi.h>
#include <any>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "grad_mode.hpp"
#include "record.hpp"
#include "tensor.hpp"

namespace tg {

class Context {
 public:
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  // What forward saved. While a create_graph backward runs, a saved output of forward comes
  // back attached to this op's node, so that second derivatives flow through it (as
  // libtorch's saved outputs do); otherwise it is the plain array.
  const std::vector<Tensor>& saved() const { return saved_; }
  // Anything else backward needs (sizes, options): ctx.saved_data["dim"] = 1.
  std::map<std::string, std::any> saved_data;

 private:
  template <class Derived>
  friend struct Function;

  // Swaps the saved outputs for their attached handles for the length of one backward call
  // (so that no reference from the context to the node outlives it: that would be a cycle).
  class AttachedOutputs {
   public:
    AttachedOutputs(Context& ctx, const std::shared_ptr<Node>& node) : ctx_(ctx) {
      if (!node || !GradMode::is_enabled()) return;
      for (std::size_t i : ctx_.output_slots_) {
        plain_.push_back(ctx_.saved_[i]);
        ctx_.saved_[i] = detail::attach_to_node(ctx_.saved_[i], node);
      }
    }
    ~AttachedOutputs() {
      for (std::size_t k = 0; k < plain_.size(); ++k)
        ctx_.saved_[ctx_.output_slots_[k]] = plain_[k];
    }
    AttachedOutputs(const AttachedOutputs&) = delete;
    AttachedOutputs& operator=(const AttachedOutputs&) = delete;

   private:
    Context& ctx_;
    std::vector<Tensor> plain_;
  };

  std::vector<Tensor> saved_;
  std::vector<std::size_t> output_slots_;  // which saved tensors are forward's output
  std::weak_ptr<Node> node_;
};

namespace detail {

inline void collect_tensors(std::vector<Tensor>&) {}

template <class First, class... Rest>
void collect_tensors(std::vector<Tensor>& out, const First& first, const Rest&... rest) {
  if constexpr (std::is_same_v<std::decay_t<First>, Tensor>) {
    out.push_back(first);
  } else if constexpr (std::is_same_v<std::decay_t<First>, std::vector<Tensor>>) {
    out.insert(out.end(), first.begin(), first.end());
  }
  collect_tensors(out, rest...);
}

inline std::string demangled_name(const char* mangled) {
  int status = 0;
  char* readable = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string result = status == 0 && readable ? readable : mangled;
  std::free(readable);
  return result;
}

}  // namespace detail

template <class Derived>
struct Function {
  template <class... Args>
  static Tensor apply(Args&&... args) {
    auto ctx = std::make_shared<Context>();
    std::vector<Tensor> inputs;
    detail::collect_tensors(inputs, args...);
    Tensor output;
    {
      NoGradGuard no_grad;
      output = Derived::forward(*ctx, std::forward<Args>(args)...);
    }
    // The node's name is the class name, as it appears in error messages and graph dumps.
    static const std::string name = detail::demangled_name(typeid(Derived).name());
    Tensor recorded = record(name, output, inputs, [ctx](const Tensor& grad_output) {
      Context::AttachedOutputs attached(*ctx, ctx->node_.lock());
      return Derived::backward(*ctx, std::vector<Tensor>{grad_output});
    });
    if (recorded.grad_fn()) {
      ctx->node_ = recorded.grad_fn();
      for (std::size_t i = 0; i < ctx->saved_.size(); ++i) {
        if (detail::same_array(ctx->saved_[i], output)) ctx->output_slots_.push_back(i);
      }
    }
    return recorded;
  }
};

}  // namespace tg
