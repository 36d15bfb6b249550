#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/random.hpp"

using tg::Reduction;
using tg::Tensor;
using tg::test::randn64;
using tg::test::uniform_int;

namespace {

Tensor labels_of(std::vector<std::int64_t> values) {
  xt::xarray<std::int64_t> array = xt::zeros<std::int64_t>({values.size()});
  for (std::size_t i = 0; i < values.size(); ++i) array(i) = values[i];
  return tg::tensor(std::move(array));
}

Tensor random_labels(tg::Generator& gen, std::size_t n, std::size_t c) {
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = uniform_int(gen, 0, static_cast<std::int64_t>(c) - 1);
  return labels_of(values);
}

constexpr Reduction all_reductions[] = {Reduction::mean, Reduction::sum, Reduction::none};

}  // namespace

TEST_CASE("nll_loss picks -log_probs[i, y_i] and reduces", "[loss]") {
  Tensor lp = tg::tensor(xt::xarray<double>{{-1.0, -2.0, -3.0}, {-0.5, -1.5, -2.5}});
  Tensor y = labels_of({2, 0});
  REQUIRE(bool(xt::allclose(tg::nll_loss(lp, y, Reduction::none).value<double>(),
                            xt::xarray<double>{3.0, 0.5})));
  CHECK(tg::nll_loss(lp, y, Reduction::sum).item() == Approx(3.5));
  CHECK(tg::nll_loss(lp, y).item() == Approx(1.75));
  CHECK(tg::nll_loss(lp, y).dim() == 0);

  // Gradient: -1 (or -1/N for mean) at [i, y_i], zero elsewhere.
  Tensor leaf = lp.detach().clone();
  leaf.set_requires_grad(true);
  tg::nll_loss(leaf, y).backward();
  REQUIRE(bool(xt::allclose(leaf.grad().value<double>(),
                            xt::xarray<double>{{0.0, 0.0, -0.5}, {-0.5, 0.0, 0.0}})));
  leaf.zero_grad();
  tg::nll_loss(leaf, y, Reduction::none).backward(tg::tensor(xt::xarray<double>{2.0, 3.0}));
  REQUIRE(bool(xt::allclose(leaf.grad().value<double>(),
                            xt::xarray<double>{{0.0, 0.0, -2.0}, {-3.0, 0.0, 0.0}})));
}

TEST_CASE("cross_entropy of a 2x3 example from the definition", "[loss]") {
  const xt::xarray<double> z{{1.0, 2.0, 3.0}, {1.0, -1.0, 0.0}};
  Tensor logits = tg::tensor(z, true);
  Tensor y = labels_of({0, 2});
  // l_i = log(sum_j e^z_ij) - z_i,y_i
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double lse1 = std::log(std::exp(1.0) + std::exp(-1.0) + std::exp(0.0));
  const double l0 = lse0 - 1.0;
  const double l1 = lse1 - 0.0;
  REQUIRE(bool(xt::allclose(tg::cross_entropy(logits, y, Reduction::none).value<double>(),
                            xt::xarray<double>{l0, l1})));
  CHECK(tg::cross_entropy(logits, y, Reduction::sum).item() == Approx(l0 + l1));
  Tensor loss = tg::cross_entropy(logits, y);
  CHECK(loss.item() == Approx((l0 + l1) / 2));

  // dlogits = (softmax(z) - onehot(y)) / N.
  loss.backward();
  xt::xarray<double> expected = xt::zeros<double>({2, 3});
  for (std::size_t i = 0; i < 2; ++i) {
    const double lse = i == 0 ? lse0 : lse1;
    for (std::size_t j = 0; j < 3; ++j) expected(i, j) = std::exp(z(i, j) - lse) / 2;
  }
  expected(0, 0) -= 0.5;
  expected(1, 2) -= 0.5;
  REQUIRE(bool(xt::allclose(logits.grad().value<double>(), expected)));
}

TEST_CASE("cross_entropy is finite and right for logits of +-1000", "[loss]") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    Tensor logits =
        tg::tensor(xt::xarray<double>{{1000.0, -1000.0}, {-1000.0, 1000.0}, {1000.0, 1000.0}})
            .to(dtype);
    logits = logits.detach();
    logits.set_requires_grad(true);
    Tensor y = labels_of({0, 0, 1});
    Tensor losses = tg::cross_entropy(logits, y, Reduction::none).to(tg::f64);
    REQUIRE(bool(xt::allclose(losses.value<double>(),
                              xt::xarray<double>{0.0, 2000.0, std::log(2.0)}, 1e-6, 1e-4)));
    tg::cross_entropy(logits, y, Reduction::sum).backward();
    Tensor grad = logits.grad().to(tg::f64);
    REQUIRE(
        bool(xt::allclose(grad.value<double>(),
                          xt::xarray<double>{{0.0, 0.0}, {-1.0, 1.0}, {0.5, -0.5}}, 1e-6, 1e-6)));
  }
}

TEST_CASE("mse_loss by hand", "[loss]") {
  Tensor a = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0}, true);
  Tensor b = tg::tensor(xt::xarray<double>{1.0, 0.0, 5.0}, true);
  REQUIRE(bool(xt::allclose(tg::mse_loss(a, b, Reduction::none).value<double>(),
                            xt::xarray<double>{0.0, 4.0, 4.0})));
  CHECK(tg::mse_loss(a, b, Reduction::sum).item() == Approx(8.0));
  Tensor loss = tg::mse_loss(a, b);
  CHECK(loss.item() == Approx(8.0 / 3.0));
  // da = 2 (a - b) / 3, db = -da.
  loss.backward();
  REQUIRE(
      bool(xt::allclose(a.grad().value<double>(), xt::xarray<double>{0.0, 4.0 / 3.0, -4.0 / 3.0})));
  REQUIRE(
      bool(xt::allclose(b.grad().value<double>(), xt::xarray<double>{0.0, -4.0 / 3.0, 4.0 / 3.0})));
}

TEST_CASE("gradcheck of nll_loss and cross_entropy on 24 random sizes and reductions", "[loss]") {
  tg::manual_seed(51);
  tg::Generator gen(51);
  for (int trial = 0; trial < 24; ++trial) {
    const auto n = static_cast<std::size_t>(uniform_int(gen, 1, 6));
    const auto c = static_cast<std::size_t>(uniform_int(gen, 1, 5));
    const Reduction reduction = all_reductions[trial % 3];
    Tensor x = randn64({n, c});
    Tensor y = random_labels(gen, n, c);
    INFO("trial " << trial << ": [" << n << "," << c << "] reduction " << trial % 3);
    const tg::GradcheckOptions options{.check_grad_grad = trial % 2 == 0};
    CHECK(
        tg::gradcheck([reduction](const auto& in) { return tg::nll_loss(in[0], in[1], reduction); },
                      {x, y}, options));
    CHECK(tg::gradcheck(
        [reduction](const auto& in) { return tg::cross_entropy(in[0], in[1], reduction); }, {x, y},
        options));
    // A loss whose output gradient depends on the input: second derivatives go through
    // nll_loss_backward's own gradient.
    CHECK(tg::gradcheck(
        [reduction](const auto& in) {
          Tensor l = tg::cross_entropy(in[0], in[1], reduction);
          return l * l;
        },
        {x, y}, options));
    // nll_loss_backward as a function of its grad_output.
    Tensor g = randn64(reduction == Reduction::none ? tg::Shape{n} : tg::Shape{});
    const tg::Shape shape{n, c};
    CHECK(tg::gradcheck(
        [reduction, shape](const auto& in) {
          return tg::nll_loss_backward(in[0], in[1], shape, reduction);
        },
        {g, y}, options));
  }
}

TEST_CASE("gradcheck of mse_loss on 21 random shapes and reductions", "[loss]") {
  tg::manual_seed(52);
  tg::Generator gen(52);
  for (int trial = 0; trial < 21; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, trial < 3 ? 0 : 1, 4);
    const Reduction reduction = all_reductions[trial % 3];
    Tensor a = randn64(shape);
    Tensor b = randn64(shape, trial % 2 == 0);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " reduction " << trial % 3);
    CHECK(
        tg::gradcheck([reduction](const auto& in) { return tg::mse_loss(in[0], in[1], reduction); },
                      {a, b}, {.check_grad_grad = trial % 2 == 1}));
  }
}

TEST_CASE("f32 losses agree with a double computation", "[loss]") {
  tg::manual_seed(53);
  tg::Generator gen(53);
  const std::size_t n = 64;
  const std::size_t c = 10;
  Tensor logits = tg::randn({n, c}, {.dtype = tg::f32});
  logits.value<float>() *= 4.0f;
  Tensor y = random_labels(gen, n, c);
  Tensor loss = tg::cross_entropy(logits, y);
  CHECK(loss.dtype() == tg::f32);
  double expected = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double total = 0;
    for (std::size_t j = 0; j < c; ++j) total += std::exp(double(logits.value<float>()(i, j)));
    expected += std::log(total) - double(logits.value<float>()(
                                      i, static_cast<std::size_t>(y.value<std::int64_t>()(i))));
  }
  expected /= static_cast<double>(n);
  CHECK(loss.item() == Approx(expected).epsilon(1e-6));

  Tensor a = tg::randn({n, c}, {.dtype = tg::f32});
  Tensor b = tg::randn({n, c}, {.dtype = tg::f32});
  double squares = 0;
  for (std::size_t i = 0; i < n * c; ++i) {
    const double d = double(a.value<float>().data()[i]) - double(b.value<float>().data()[i]);
    squares += d * d;
  }
  CHECK(tg::mse_loss(a, b, Reduction::sum).item() == Approx(squares).epsilon(1e-5));
}

TEST_CASE("losses reject bad inputs with the op's name", "[loss][errors]") {
  Tensor lp = tg::zeros({4, 5});
  CHECK_THROWS_AS(tg::nll_loss(lp, labels_of({0, 1, 2, 7})), tg::Error);
  CHECK_THROWS_WITH(tg::nll_loss(lp, labels_of({0, 1, 2, 7})),
                    Catch::Contains("nll_loss") && Catch::Contains("label 7") &&
                        Catch::Contains("position 3") && Catch::Contains("5 classes") &&
                        Catch::Contains("[4,5]"));
  CHECK_THROWS_WITH(tg::cross_entropy(lp, labels_of({0, -1, 2, 3})),
                    Catch::Contains("cross_entropy") && Catch::Contains("label -1") &&
                        Catch::Contains("position 1") && Catch::Contains("[4,5]"));
  CHECK_THROWS_WITH(tg::nll_loss(lp, labels_of({0, 1, 2})), Catch::Contains("nll_loss") &&
                                                                Catch::Contains("[3]") &&
                                                                Catch::Contains("[4,5]"));
  CHECK_THROWS_WITH(tg::cross_entropy(lp, tg::zeros({4})),
                    Catch::Contains("cross_entropy") && Catch::Contains("i64") &&
                        Catch::Contains("f32") && Catch::Contains("[4]"));
  CHECK_THROWS_WITH(tg::cross_entropy(lp, Tensor{}),
                    Catch::Contains("cross_entropy") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(tg::cross_entropy(tg::zeros({4, 5, 2}), labels_of({0, 1, 2, 3})),
                    Catch::Contains("cross_entropy") && Catch::Contains("[4,5,2]"));
  CHECK_THROWS_WITH(tg::nll_loss(Tensor{}, labels_of({0})),
                    Catch::Contains("nll_loss") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(
      tg::nll_loss_backward(tg::ones({4}), labels_of({0, 1, 2, 3}), {4, 5}, Reduction::mean),
      Catch::Contains("nll_loss_backward") && Catch::Contains("[4]") && Catch::Contains("[4,5]"));
  CHECK_THROWS_WITH(tg::mse_loss(tg::ones({2, 3}), tg::ones({3})),
                    Catch::Contains("mse_loss") && Catch::Contains("[2,3]") &&
                        Catch::Contains("[3]") && Catch::Contains("same shape"));
  CHECK_THROWS_WITH(
      tg::mse_loss(tg::ones({2}), tg::ones({2}, {.dtype = tg::f64})),
      Catch::Contains("mse_loss") && Catch::Contains("f64") && Catch::Contains("[2]"));
  CHECK_THROWS_WITH(tg::mse_loss(Tensor{}, tg::ones({2})),
                    Catch::Contains("mse_loss") && Catch::Contains("undefined"));
}
