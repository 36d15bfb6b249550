// record(): the two forms of backward, and what closures keep.
#include <catch2/catch.hpp>

#include <memory>
#include <utility>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/random.hpp"

namespace {

using tg::Tensor;

// exp written with the output-reading form of record(): y' = y.
Tensor exp_reading_output(const Tensor& x) {
  Tensor y = tg::tensor(xt::xarray<double>(xt::exp(x.value<double>())));
  return tg::record("exp_reading_output", y, {x}, [](const Tensor& g, const Tensor& out) {
    return std::vector<Tensor>{g * out};
  });
}

// The same gradient from an output captured by the closure: a constant on a create_graph tape.
Tensor exp_capturing_output(const Tensor& x) {
  Tensor y = tg::tensor(xt::xarray<double>(xt::exp(x.value<double>())));
  return tg::record("exp_capturing_output", y, {x},
                    [y](const Tensor& g) { return std::vector<Tensor>{g * y}; });
}

}  // namespace

TEST_CASE("a backward that reads the output gets the right second derivatives", "[record]") {
  tg::manual_seed(1);
  tg::Generator gen(2);
  for (int trial = 0; trial < 10; ++trial) {
    Tensor x = tg::test::randn64(tg::test::random_shape(gen, 0, 3));
    const auto check = tg::gradcheck([](auto& in) { return exp_reading_output(in[0]); }, {x},
                                     {.check_grad_grad = true});
    INFO(check.message);
    CHECK(check);
  }
  // The check above can fail: the captured output misses the second derivative's term.
  Tensor x = tg::test::randn64({3});
  CHECK_FALSE(tg::gradcheck([](auto& in) { return exp_capturing_output(in[0]); }, {x},
                            {.check_grad_grad = true}));
}

TEST_CASE("the output handed to a plain backward is the saved array itself", "[record]") {
  Tensor x = tg::tensor(xt::xarray<double>{0.5, 1.5}, true);
  Tensor y = tg::tensor(xt::xarray<double>{7.0, 9.0});
  Tensor seen;
  Tensor out = tg::record("spy", y, {x}, [&seen](const Tensor& g, const Tensor& output) {
    seen = output;
    return std::vector<Tensor>{g};
  });
  out.backward(tg::ones({2}, {.dtype = tg::f64}));
  REQUIRE(seen.defined());
  CHECK(&seen.value<double>() == &y.value<double>());  // no copy
  CHECK_FALSE(seen.requires_grad());                   // and not on any tape
}

TEST_CASE("a create_graph backward through the output form leaves no cycle", "[record]") {
  const auto before = tg::Node::live_count();
  {
    Tensor x = tg::tensor(xt::xarray<double>{0.3, -0.2}, true);
    Tensor y = tg::sum(exp_reading_output(x));
    Tensor dx = tg::grad({y}, {x}, {.create_graph = true})[0];
    tg::sum(dx).backward();
    CHECK(x.grad().value<double>()(0) == Approx(std::exp(0.3)));
  }
  CHECK(tg::Node::live_count() == before);
}

TEST_CASE("closures keep only the operands the needed gradients read", "[record]") {
  // mul(a, b) with only a requiring grad: da = g * b reads b; a itself is not kept.
  const Tensor b = tg::randn({3});
  std::weak_ptr<tg::TensorImpl> a_alive;
  Tensor y;
  {
    Tensor a = tg::randn({3}, {.requires_grad = true});
    a_alive = a.impl_ptr();
    y = a * b;
  }
  CHECK(a_alive.expired());
  CHECK(y.requires_grad());

  // linear(x, w) with only w requiring grad: dw reads x; w is not kept.
  const Tensor x = tg::randn({2, 4});
  std::weak_ptr<tg::TensorImpl> w_alive;
  {
    Tensor w = tg::randn({3, 4}, {.requires_grad = true});
    w_alive = w.impl_ptr();
    y = tg::linear(x, w);
  }
  CHECK(w_alive.expired());

  // matmul(p, q) with only q requiring grad: dq reads p; q is not kept.
  std::weak_ptr<tg::TensorImpl> q_alive;
  {
    Tensor q = tg::randn({4, 2}, {.requires_grad = true});
    q_alive = q.impl_ptr();
    y = tg::matmul(x, q);
  }
  CHECK(q_alive.expired());

  // div(n, d) with only n requiring grad: dn = g / d reads d; n is not kept.
  std::weak_ptr<tg::TensorImpl> n_alive;
  {
    Tensor n = tg::randn({3}, {.requires_grad = true});
    n_alive = n.impl_ptr();
    y = n / (b * b + 1.0);
  }
  CHECK(n_alive.expired());
}

TEST_CASE("an op computes the same gradient when only one input needs it", "[record]") {
  tg::manual_seed(5);
  using Binary = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<Binary, std::vector<tg::Shape>>> ops = {
      {[](const Tensor& a, const Tensor& b) { return a * b; }, {{2, 3}, {3}}},
      {[](const Tensor& a, const Tensor& b) { return a / b; }, {{2, 3}, {2, 1}}},
      {[](const Tensor& a, const Tensor& b) { return tg::matmul(a, b); }, {{2, 4}, {4, 3}}},
      {[](const Tensor& a, const Tensor& b) { return tg::linear(a, b); }, {{2, 4}, {3, 4}}},
  };
  for (const auto& entry : ops) {
    const Binary op = entry.first;
    const std::vector<tg::Shape>& shapes = entry.second;
    const Tensor a = tg::test::positive64(shapes[0], false);
    const Tensor b = tg::test::positive64(shapes[1], false);
    const auto gradients = [&](bool need_a, bool need_b) {
      Tensor ga = a.detach().clone().set_requires_grad(need_a);
      Tensor gb = b.detach().clone().set_requires_grad(need_b);
      tg::sum(op(ga, gb)).backward();
      return std::pair{ga.grad(), gb.grad()};
    };
    const auto [both_a, both_b] = gradients(true, true);
    const auto [only_a, no_b] = gradients(true, false);
    const auto [no_a, only_b] = gradients(false, true);
    CHECK(bool(xt::all(xt::equal(only_a.value<double>(), both_a.value<double>()))));
    CHECK(bool(xt::all(xt::equal(only_b.value<double>(), both_b.value<double>()))));
    CHECK_FALSE(no_a.defined());
    CHECK_FALSE(no_b.defined());
  }
}

TEST_CASE("needs_input_grad and keep_if", "[record]") {
  CHECK_FALSE(tg::needs_input_grad(Tensor{}));
  CHECK_FALSE(tg::needs_input_grad(tg::zeros({2})));
  CHECK(tg::needs_input_grad(tg::zeros({2}, {.requires_grad = true})));
  const Tensor t = tg::ones({2});
  CHECK(tg::keep_if(true, t).is_same(t));
  CHECK_FALSE(tg::keep_if(false, t).defined());
}
