// Anomaly mode: the first backward that returns NaN or inf is named, with its forward context.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>

#include <tapegrad.hpp>

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

}  // namespace

TEST_CASE("anomaly mode names the op whose backward first returned NaN", "[anomaly]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 0.0, 2.0}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor loss = nan_at_zero(x);
  try {
    loss.backward();
    FAIL("backward did not throw");
  } catch (const tg::Error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Contains("the backward of log #1 returned NaN"));
    CHECK_THAT(message, Contains("for input 0 (shape [3]), at element [1]"));
    CHECK_THAT(message, Contains("the gradient it received was finite"));
    CHECK_THAT(message, Contains("log #1 had inputs [3] f64 (leaf)"));
  }
  CHECK_FALSE(x.grad().defined());  // nothing reached the leaf
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
