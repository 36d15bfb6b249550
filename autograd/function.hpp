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

#include <algorithm>
#include <any>
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
  // What forward saved. A saved output of forward is, during backward, the output record()
  // hands to a backward (autograd/record.hpp): under create_graph it is attached to this op's
  // node, so that second derivatives flow through it, as libtorch's saved outputs do.
  const std::vector<Tensor>& saved() const { return saved_; }
  // Anything else backward needs (sizes, options): ctx.saved_data["dim"] = 1.
  std::map<std::string, std::any> saved_data;

 private:
  template <class Derived>
  friend struct Function;

  // During a create_graph backward, puts the output record() hands to the call (attached to this
  // op's node) into the saved slots that hold forward's output, and the tensors that were saved
  // back afterwards, also when backward throws (a handle attached to the node must not outlive
  // the call inside the node's own closure: that would be a cycle). A plain backward's output
  // is the saved array itself, so nothing is swapped.
  class OutputsInSlots {
   public:
    OutputsInSlots(Context& ctx, const Tensor& output) : ctx_(ctx) {
      if (!output.requires_grad()) return;
      for (std::size_t i : ctx_.output_slots_) {
        saved_.push_back(ctx_.saved_[i]);
        ctx_.saved_[i] = output;
      }
    }
    ~OutputsInSlots() {
      for (std::size_t k = 0; k < saved_.size(); ++k)
        ctx_.saved_[ctx_.output_slots_[k]] = saved_[k];
    }
    OutputsInSlots(const OutputsInSlots&) = delete;
    OutputsInSlots& operator=(const OutputsInSlots&) = delete;

   private:
    Context& ctx_;
    std::vector<Tensor> saved_;
  };

  std::vector<Tensor> saved_;
  std::vector<std::size_t> output_slots_;  // which saved tensors are forward's output
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

// The readable name of a type (the class name of a Function, for messages and graph dumps).
std::string demangled_name(const std::type_info& type);

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
    static const std::string name = detail::demangled_name(typeid(Derived));
    Tensor recorded =
        record(name, output, inputs, [ctx](const Tensor& grad_output, const Tensor& out) {
          Context::OutputsInSlots outputs(*ctx, out);
          return Derived::backward(*ctx, std::vector<Tensor>{grad_output});
        });
    if (recorded.grad_fn()) {
      // Forward's output, unless it is one of the inputs passed through (then what was saved
      // is that input, whose own producer second derivatives must reach).
      for (std::size_t i = 0; i < ctx->saved_.size(); ++i) {
        const Tensor& saved = ctx->saved_[i];
        const bool is_input = std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& input) {
          return detail::same_array(saved, input);
        });
        if (detail::same_array(saved, output) && !is_input) ctx->output_slots_.push_back(i);
      }
    }
    return recorded;
  }
};

}  // namespace tg
