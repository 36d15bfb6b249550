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

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/record.hpp"
#include "tapegrad/autograd/tensor.hpp"

namespace tg {

class Context {
 public:
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  const std::vector<Tensor>& saved() const { return saved_; }
  // Anything else backward needs (sizes, options): ctx.saved_data["dim"] = 1.
  std::map<std::string, std::any> saved_data;

 private:
  std::vector<Tensor> saved_;
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
    return record(name, output, inputs, [ctx](const Tensor& grad_output) {
      return Derived::backward(*ctx, std::vector<Tensor>{grad_output});
    });
  }
};

}  // namespace tg
