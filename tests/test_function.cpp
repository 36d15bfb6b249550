// Custom ops, both ways the user contract offers: a tg::Function class and a record() closure.
#include <catch2/catch.hpp>

#include <cmath>

#include <tapegrad.hpp>

#include "support/random.hpp"

using tg::Tensor;

namespace {

// swish(x) = x * sigmoid(x), computed on raw arrays; d/dx = s + x s (1 - s).
struct Swish : tg::Function<Swish> {
  static Tensor forward(tg::Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    Tensor s = tg::div(tg::ones_like(x), tg::exp(-x) + 1.0);
    return x * s;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>& grad_outputs) {
    const Tensor& x = ctx.saved()[0];
    Tensor s = tg::div(tg::ones_like(x), tg::exp(-x) + 1.0);
    return {grad_outputs[0] * (s + x * s * (1.0 - s))};
  }
};

// scale(x, factor): a non-tensor argument kept in saved_data.
struct Scale : tg::Function<Scale> {
  static Tensor forward(tg::Context& ctx, const Tensor& x, double factor) {
    ctx.saved_data["factor"] = factor;
    return x * factor;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>& grad_outputs) {
    return {grad_outputs[0] * std::any_cast<double>(ctx.saved_data["factor"])};
  }
};

// exp(x) saving its own output for backward, as libtorch users write it. A create_graph
// backward must see that output on the tape, or second derivatives come out wrong.
struct SavedOutputExp : tg::Function<SavedOutputExp> {
  static Tensor forward(tg::Context& ctx, const Tensor& x) {
    Tensor y = tg::exp(x);
    ctx.save_for_backward({y});
    return y;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>& grad_outputs) {
    return {grad_outputs[0] * ctx.saved()[0]};
  }
};

// x e^x saving both its input and its output: d/dx = e^x + y.
struct XExp : tg::Function<XExp> {
  static Tensor forward(tg::Context& ctx, const Tensor& x) {
    Tensor y = x * tg::exp(x);
    ctx.save_for_backward({x, y});
    return y;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>& grad_outputs) {
    const Tensor& x = ctx.saved()[0];
    const Tensor& y = ctx.saved()[1];
    return {grad_outputs[0] * (tg::exp(x) + y)};
  }
};

// Returns its input unchanged, with a made-up gradient 2 x g (a straight-through estimator has
// the same shape): the saved tensor is the input, also when the output shares its array.
struct PassThrough : tg::Function<PassThrough> {
  static Tensor forward(tg::Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>& grad_outputs) {
    return {grad_outputs[0] * ctx.saved()[0] * 2.0};
  }
};

// exp saving its output, whose backward fails.
struct FailingExp : tg::Function<FailingExp> {
  static Tensor forward(tg::Context& ctx, const Tensor& x) {
    Tensor y = tg::exp(x);
    ctx.save_for_backward({y});
    return y;
  }
  static std::vector<Tensor> backward(tg::Context& ctx, const std::vector<Tensor>&) {
    if (ctx.saved()[0].defined()) tg::fail("FailingExp: backward fails");
    return {};
  }
};

// A closure-style custom op: cube(x) with d/dx = 3 x^2.
Tensor cube(const Tensor& x) {
  Tensor y =
      tg::tensor(xt::xarray<double>(x.value<double>() * x.value<double>() * x.value<double>()));
  return tg::record("cube", y, {x},
                    [x](const Tensor& g) { return std::vector<Tensor>{g * x * x * 3.0}; });
}

}  // namespace

TEST_CASE("a tg::Function custom op records one node and passes gradcheck", "[function]") {
  tg::manual_seed(3);
  Tensor x = tg::test::randn64({3, 4});
  Tensor y = Swish::apply(x);
  REQUIRE(y.grad_fn());
  CHECK_THAT(y.grad_fn()->name(), Catch::Contains("Swish"));
  CHECK(tg::gradcheck([](const auto& in) { return Swish::apply(in[0]); }, {x},
                      {.check_grad_grad = true}));
  CHECK(tg::gradcheck([](const auto& in) { return Scale::apply(in[0], -2.5); }, {x}));
}

TEST_CASE("a tg::Function that saves its output has right second derivatives", "[function]") {
  tg::manual_seed(5);
  Tensor x = tg::test::randn64({4});
  CHECK(tg::gradcheck([](const auto& in) { return SavedOutputExp::apply(in[0]); }, {x},
                      {.check_grad_grad = true}));
  CHECK(tg::gradcheck([](const auto& in) { return XExp::apply(in[0]); }, {x},
                      {.check_grad_grad = true}));
  // By hand at x = 0.5: f'' of x e^x is (x + 2) e^x.
  Tensor half = tg::tensor(xt::xarray<double>{0.5}, true);
  Tensor first = tg::grad({tg::sum(XExp::apply(half))}, {half}, {.create_graph = true})[0];
  Tensor second = tg::grad({tg::sum(first)}, {half})[0];
  CHECK(second.item() == Approx(2.5 * std::exp(0.5)).epsilon(1e-12));
}

TEST_CASE("a tg::Function that returns its saved input differentiates through the input",
          "[function]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.5, -0.5}, true);
  const Tensor dx = tg::grad({tg::sum(PassThrough::apply(x))}, {x}, {.create_graph = true})[0];
  CHECK(dx.value<double>()(0) == 3.0);  // 2 x
  tg::sum(dx).backward();
  // d(2x)/dx = 2 through the saved input; through the op's own node it would be 4x.
  CHECK(x.grad().value<double>()(0) == 2.0);
  CHECK(x.grad().value<double>()(1) == 2.0);
}

TEST_CASE("a tg::Function whose backward throws under create_graph leaves no cycle", "[function]") {
  const auto before = tg::Node::live_count();
  {
    Tensor x = tg::tensor(xt::xarray<double>{0.5}, true);
    Tensor y = FailingExp::apply(x);
    CHECK_THROWS_WITH(tg::grad({tg::sum(y)}, {x}, {.create_graph = true}),
                      Catch::Contains("backward fails"));
  }
  CHECK(tg::Node::live_count() == before);
}

TEST_CASE("a tg::Function's graph is freed with its output, saved output or not", "[function]") {
  const auto before = tg::Node::live_count();
  {
    Tensor x = tg::test::randn64({3});
    Tensor first = tg::grad({tg::sum(SavedOutputExp::apply(x))}, {x}, {.create_graph = true})[0];
    tg::sum(first).backward();
  }
  CHECK(tg::Node::live_count() == before);
}

TEST_CASE("a record() custom op passes gradcheck and composes with library ops", "[function]") {
  tg::manual_seed(4);
  Tensor x = tg::test::randn64({5});
  CHECK(tg::gradcheck([](const auto& in) { return tg::sum(cube(in[0]) * in[0]); }, {x},
                      {.check_grad_grad = true}));
}

TEST_CASE("a custom op's forward records nothing of its own", "[function]") {
  Tensor x = tg::ones({2}, {.dtype = tg::f64, .requires_grad = true});
  const auto before = tg::Node::live_count();
  Tensor y = Swish::apply(x);
  CHECK(tg::Node::live_count() - before == 1);
}

TEST_CASE("a custom op under NoGradGuard records nothing", "[function]") {
  Tensor x = tg::ones({2}, {.dtype = tg::f64, .requires_grad = true});
  tg::NoGradGuard no_grad;
  CHECK_FALSE(Swish::apply(x).requires_grad());
}
