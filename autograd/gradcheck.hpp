#pragma once
// tg::gradcheck: compares the gradients backward computes with central finite differences,
// in f64, for any function of tensors (the library's ops and your own).
//
//   auto result = tg::gradcheck([](const std::vector<tg::Tensor>& in) {
//     return tg::conv2d(in[0], in[1], in[2], {.stride = 2});
//   }, {x, w, b});
//   if (!result) fmt::print("{}\n", result.message);
//
// The inputs are copied to f64; those that require grad are checked, the others (labels,
// masks) are held constant. For a function with many outputs, backward runs once with a random
// weighting r of the outputs (fixed by options.seed) and each input element's gradient of
// sum(r * f(x)) is compared with (sum(r * f(x + eps)) - sum(r * f(x - eps))) / (2 eps).

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace tg {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  std::uint64_t seed = 0;
  // Also check second derivatives: backward with create_graph, then gradcheck of that.
  bool check_grad_grad = false;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // which input and element failed, analytic vs numeric
  explicit operator bool() const { return ok; }
};

std::ostream& operator<<(std::ostream& out, const GradcheckResult& result);

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace tg
