// Anomaly mode: the first backward that returns NaN or inf is named, with its forward context.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

namespace {

using Catch::Matchers::Contains;
using tg::Tensor;

// sum(log(x) * 0): at x = 0 the forward is -inf * 0 = NaN, and log's backward computes
// 0 / 0 = NaN, so log is the first op whose backward returns a non-finite gradient.
Tensor nan_at_zero(const Tensor& x) {
  return tg::sum(tg::mul(tg::log(x), tg::zeros(x.shape(), {.dtype = tg::f64})));
}

// An op whose backward returns `bad` at one element: the identity in forward.
Tensor poisoned(const Tensor& x, std::size_t flat, double bad) {
  return tg::record("poisoned", x.detach().clone(), {x}, [x, flat, bad](const Tensor&) {
    Tensor grad = tg::ones_like(x);
    grad.value<double>().data()[flat] = bad;
    return std::vector<Tensor>{grad};
  });
}

// x * c whose backward returns an infinite gradient for c: harmless when c is a constant.
struct TimesWithBadConstantGrad : tg::Function<TimesWithBadConstantGrad> {
  static Tensor forward(tg::Context& ctx, const Tensor& x, const Tensor& c) {
    ctx.save_for_backward({x, c});
    return x * c;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>& grad_outputs) {
    const Tensor& g = grad_outputs[0];
    return {g * ctx.saved()[1], g * ctx.saved()[0] / 0.0};
  }
};

}  // namespace

TEST_CASE("anomaly mode names the op whose backward first returned NaN", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 0.0, 2.0}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor loss = nan_at_zero(x);
  CHECK_THROWS_WITH(loss.backward(),
                    "anomaly: the backward of log #1 returned NaN in the gradient for input 0 "
                    "(shape [3]), at element [1]; the gradient it received was finite. Forward: "
                    "log #1 had inputs [3] f64 (leaf)");
  CHECK_FALSE(x.grad().defined());  // nothing reached the leaf
}

TEST_CASE("anomaly mode checks f32 gradients and tg::grad too", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<float>{1.0f, 0.0f, 2.0f}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor loss = tg::sum(tg::mul(tg::log(x), tg::zeros(x.shape())));
  CHECK_THROWS_WITH(tg::grad({loss}, {x}), Contains("the backward of log #1 returned NaN") &&
                                               Contains("log #1 had inputs [3] f32 (leaf)"));
}

TEST_CASE("anomaly mode says when the gradient an op received was not finite either", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor y = tg::exp(x);
  Tensor bad = tg::tensor(xt::xarray<double>{1.0, std::nan("")});
  CHECK_THROWS_WITH(y.backward(bad), Contains("the backward of exp #1 returned NaN") &&
                                         Contains("at element [1]") &&
                                         Contains("the gradient it received was not finite"));
}

TEST_CASE("anomaly mode checks a graph recorded before it was turned on", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 0.0}, true);
  Tensor loss = nan_at_zero(x);
  tg::DetectAnomalyGuard anomaly;
  CHECK_THROWS_WITH(loss.backward(), Contains("the backward of log returned NaN") &&
                                         Contains("(not recorded in anomaly mode)"));
}

TEST_CASE("anomaly mode ignores gradients returned for inputs off the tape", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  Tensor c = tg::tensor(xt::xarray<double>{3.0, 4.0});  // a constant: its gradient is dropped
  tg::DetectAnomalyGuard anomaly;
  tg::sum(TimesWithBadConstantGrad::apply(x, c)).backward();
  const bool gradient_is_c = x.grad().value<double>() == c.value<double>();
  CHECK(gradient_is_c);

  Tensor c_needing_grad = tg::tensor(xt::xarray<double>{3.0, 4.0}, true);
  Tensor loss = tg::sum(TimesWithBadConstantGrad::apply(x, c_needing_grad));
  CHECK_THROWS_WITH(loss.backward(), Contains("returned inf in the gradient for input 1"));
}

TEST_CASE("anomaly mode numbers the ops a create_graph backward records after the forward ones",
          "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{0.5, 1.5}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor loss = tg::sum(tg::exp(x));  // exp #1, sum #2
  Tensor dx = tg::grad({loss}, {x}, {.create_graph = true})[0];
  REQUIRE(dx.grad_fn());
  CHECK(dx.grad_fn()->forward_index() > 2);
  tg::sum(dx).backward();  // d2/dx2 sum(exp(x)) = exp(x): finite, so no throw
  const bool second_derivative_is_exp =
      xt::allclose(x.grad().value<double>(), xt::exp(x.value<double>()));
  CHECK(second_derivative_is_exp);
}

TEST_CASE("anomaly mode reports infinities with their multi-index and the forward inputs",
          "[anomaly]") {
  Tensor a = tg::tensor(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor y = tg::relu(a);
  Tensor loss = tg::sum(poisoned(y, 5, std::numeric_limits<double>::infinity()));
  CHECK_THROWS_WITH(loss.backward(),
                    Contains("the backward of poisoned #2 returned inf") &&
                        Contains("at element [1,2]") &&
                        Contains("poisoned #2 had inputs [2,3] f64 (from relu #1)"));

  Tensor scalar = tg::tensor(xt::xarray<double>(2.0), true);
  CHECK_THROWS_WITH(
      poisoned(scalar, 0, -std::numeric_limits<double>::infinity()).backward(),
      Contains("returned -inf in the gradient for input 0 (shape []), at element []"));
}

TEST_CASE("without anomaly mode the same NaN passes silently into the gradient", "[anomaly]") {
  REQUIRE_FALSE(tg::AnomalyMode::is_enabled());
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 0.0, 2.0}, true);
  nan_at_zero(x).backward();
  const auto& grad = x.grad().value<double>();
  CHECK(grad(0) == 0.0);
  CHECK(std::isnan(grad(1)));
  CHECK(grad(2) == 0.0);
}

TEST_CASE("anomaly mode changes no gradient of a finite graph", "[anomaly]") {
  auto gradients = [](bool anomaly) {
    tg::manual_seed(3);
    Tensor x = tg::randn({2, 3, 6, 6}, {.dtype = tg::f64});
    Tensor w = tg::randn({4, 3, 3, 3}, {.dtype = tg::f64, .requires_grad = true});
    std::optional<tg::DetectAnomalyGuard> guard;
    if (anomaly) guard.emplace();
    Tensor y = tg::max_pool2d(tg::relu(tg::conv2d(x, w, Tensor{}, {.padding = 1})), {.kernel = 2});
    tg::sum(tg::log_softmax(tg::flatten(y, 1), 1)).backward();
    return xt::xarray<double>(w.grad().value<double>());
  };
  const bool identical = gradients(true) == gradients(false);
  CHECK(identical);
}

TEST_CASE("DetectAnomalyGuard nests and restores the previous state", "[anomaly]") {
  CHECK_FALSE(tg::AnomalyMode::is_enabled());
  {
    tg::DetectAnomalyGuard outer;
    CHECK(tg::AnomalyMode::is_enabled());
    {
      tg::DetectAnomalyGuard inner;
      CHECK(tg::AnomalyMode::is_enabled());
    }
    CHECK(tg::AnomalyMode::is_enabled());
  }
  CHECK_FALSE(tg::AnomalyMode::is_enabled());
}

TEST_CASE("ops are numbered from 1 again under each outermost guard", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  for (int round = 0; round < 2; ++round) {
    tg::DetectAnomalyGuard anomaly;
    Tensor y = tg::exp(tg::neg(x));
    CHECK(y.grad_fn()->forward_index() == 2);
    CHECK(y.grad_fn()->forward_inputs() == "[2] f64 (from neg #1)");
  }
  Tensor outside = tg::exp(x);
  CHECK(outside.grad_fn()->forward_index() == 0);
  CHECK(outside.grad_fn()->forward_inputs().empty());
}
