#include "gradcheck.hpp"

#include <cmath>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <xtensor/xmath.hpp>

#include "accumulate.hpp"
#include "engine.hpp"
#include "grad_mode.hpp"
#include "random.hpp"
#include "record.hpp"

namespace tg {
namespace {

constexpr std::size_t max_reported_failures = 5;

// sum(a * weights) for a constant f64 `weights`; differentiable once in `a`.
Tensor weighted_sum(const Tensor& a, const Tensor& weights) {
  Tensor total = tensor(xt::xarray<double>(xt::sum(a.value<double>() * weights.value<double>())));
  return record("gradcheck_weighted_sum", total, {a}, [weights](const Tensor& grad) {
    return std::vector<Tensor>{
        tensor(xt::xarray<double>(weights.value<double>() * grad.item<double>()))};
  });
}

Tensor random_weights(const Shape& shape, Generator& generator) {
  auto values = xt::xarray<double>::from_shape(shape);
  for (double& v : values) v = 2.0 * generator.uniform() - 1.0;
  return tensor(std::move(values));
}

Tensor evaluate(const TensorFunction& fn, const std::vector<Tensor>& inputs) {
  Tensor output = fn(inputs);
  if (!output.defined()) fail("gradcheck: the function returned an undefined tensor");
  if (output.dtype() != DType::f64) {
    fail("gradcheck: the function returned {} {}; given f64 inputs it must compute in f64",
         name(output.dtype()), to_string(output.shape()));
  }
  return output;
}

// f64 copies of the inputs (finite differences would drown in f32 rounding); those that require
// grad are the ones checked.
struct CheckedInputs {
  std::vector<Tensor> all;
  std::vector<std::size_t> checked;  // indices into `all`
};

CheckedInputs f64_copies(const std::vector<Tensor>& inputs) {
  CheckedInputs result;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    if (!input.defined()) {
      result.all.emplace_back();
    } else if (is_floating(input.dtype())) {
      result.all.push_back(input.detach().to(DType::f64).clone());
      if (input.requires_grad()) {
        result.all.back().set_requires_grad(true);
        result.checked.push_back(i);
      }
    } else {
      result.all.push_back(input.detach());
    }
  }
  if (result.checked.empty()) {
    fail("gradcheck: no input requires grad, so there is nothing to check");
  }
  return result;
}

// What backward computes: the gradient of sum(weights * fn(x)) for random weights of the
// output's shape, for each checked input (undefined if the output does not depend on it).
struct Analytic {
  Tensor weights;
  std::vector<Tensor> grads;
};

Analytic analytic_gradients(const TensorFunction& fn, const CheckedInputs& x,
                            Generator& generator) {
  std::vector<Tensor> wrt;
  for (std::size_t i : x.checked) wrt.push_back(x.all[i]);
  GradModeGuard grad_mode(true);
  Tensor output = evaluate(fn, x.all);
  Analytic result{random_weights(output.shape(), generator), std::vector<Tensor>(x.checked.size())};
  if (output.requires_grad()) {
    result.grads = grad({output}, wrt, {.grad_outputs = {result.weights}, .allow_unused = true});
  }
  return result;
}

// The analytic gradients against central differences, element by element.
GradcheckResult check_first_order(const TensorFunction& fn, CheckedInputs& x,
                                  const Analytic& analytic, const GradcheckOptions& options) {
  const Tensor& weights = analytic.weights;
  GradcheckResult result;
  std::size_t failures = 0;
  for (std::size_t c = 0; c < x.checked.size(); ++c) {
    auto& values = x.all[x.checked[c]].value<double>();
    const xt::xarray<double> zeros_grad = xt::zeros<double>(values.shape());
    const Tensor& computed_grad = analytic.grads[c];
    const auto& analytic_grad =
        computed_grad.defined() ? computed_grad.value<double>() : zeros_grad;
    for (std::size_t e = 0; e < values.size(); ++e) {
      const double original = values.data()[e];
      auto objective = [&](double v) {
        values.data()[e] = v;
        NoGradGuard no_grad;
        Tensor output = evaluate(fn, x.all);
        return xt::sum(output.value<double>() * weights.value<double>())();
      };
      const double numeric =
          (objective(original + options.eps) - objective(original - options.eps)) /
          (2 * options.eps);
      values.data()[e] = original;
      const double computed = analytic_grad.data()[e];
      const double error = std::abs(computed - numeric);
      if (!(error <= options.atol + options.rtol * std::abs(numeric))) {
        if (failures++ < max_reported_failures) {
          result.message += fmt::format(
              "gradcheck: input {} element {}: backward gave {:.10g}, finite differences {:.10g} "
              "(error {:.3g} > atol {} + rtol {} * |numeric|)\n",
              x.checked[c], index_to_string(values.shape(), e), computed, numeric, error,
              options.atol, options.rtol);
        }
      }
    }
  }
  if (failures > 0) {
    result.ok = false;
    if (failures > max_reported_failures) {
      result.message += fmt::format("gradcheck: ... {} mismatching elements in all\n", failures);
    }
  }
  return result;
}

// Second derivatives: the first derivatives (recorded with create_graph) projected on random
// weights form a scalar function of the inputs, whose own gradient is checked.
GradcheckResult check_second_order(const TensorFunction& fn, const CheckedInputs& x,
                                   const Tensor& weights, Generator& generator,
                                   const GradcheckOptions& options) {
  std::vector<Tensor> grad_weights;
  for (std::size_t i : x.checked)
    grad_weights.push_back(random_weights(x.all[i].shape(), generator));
  auto first_derivatives = [&](const std::vector<Tensor>& in) {
    GradModeGuard grad_mode(true);  // also while the outer check perturbs inputs
    std::vector<Tensor> wrt;
    for (std::size_t i : x.checked) wrt.push_back(in[i]);
    Tensor output = fn(in);
    if (!output.requires_grad()) return zeros({}, {.dtype = DType::f64});
    std::vector<Tensor> first = grad(
        {output}, wrt, {.grad_outputs = {weights}, .create_graph = true, .allow_unused = true});
    Tensor total;
    for (std::size_t k = 0; k < first.size(); ++k) {
      if (!first[k].defined()) continue;
      Tensor term = weighted_sum(first[k], grad_weights[k]);
      total = total.defined() ? detail::accumulate(total, term) : term;
    }
    return total.defined() ? total : zeros({}, {.dtype = DType::f64});
  };
  GradcheckOptions second = options;
  second.check_grad_grad = false;
  GradcheckResult result = gradcheck(first_derivatives, x.all, second);
  if (!result) result.message = "gradcheck of second derivatives failed:\n" + result.message;
  return result;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const GradcheckResult& result) {
  return out << (result.ok ? "gradcheck passed" : result.message);
}

GradcheckResult gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  CheckedInputs x = f64_copies(inputs);
  Generator generator(options.seed);
  const Analytic analytic = analytic_gradients(fn, x, generator);
  GradcheckResult result = check_first_order(fn, x, analytic, options);
  if (!result || !options.check_grad_grad) return result;
  return check_second_order(fn, x, analytic.weights, generator, options);
}

}  // namespace tg
