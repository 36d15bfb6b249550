#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
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

TEST_CASE("binary_cross_entropy_with_logits by hand, with weight and pos_weight", "[loss]") {
  // softplus(x) - t x: ln 2 at (0, 1); ln 4 at (ln 3, 0) and at (-ln 3, 1).
  const double ln2 = std::log(2.0);
  const double ln3 = std::log(3.0);
  const double ln4 = std::log(4.0);
  Tensor x = tg::tensor(xt::xarray<double>{0.0, ln3, -ln3}, true);
  Tensor t = tg::tensor(xt::xarray<double>{1.0, 0.0, 1.0}, true);
  REQUIRE(bool(xt::allclose(
      tg::binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::none}).value<double>(),
      xt::xarray<double>{ln2, ln4, ln4})));
  CHECK(tg::binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::sum}).item() ==
        Approx(ln2 + 2 * ln4));
  Tensor loss = tg::binary_cross_entropy_with_logits(x, t);
  CHECK(loss.item() == Approx((ln2 + 2 * ln4) / 3));
  // dx = (sigmoid(x) - t) / N, dt = -x / N.
  loss.backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{-1.0 / 6, 0.25, -0.25})));
  REQUIRE(bool(xt::allclose(t.grad().value<double>(), xt::xarray<double>{0.0, -ln3 / 3, ln3 / 3})));

  // pos_weight p = 2 doubles the positive term: -p t log sigmoid(x) - (1 - t) log(1 - sigmoid(x));
  // weight multiplies each loss.
  x.zero_grad();
  Tensor pos_weight = tg::tensor(xt::xarray<double>(2.0));  // 0-D: broadcasts
  Tensor weight = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0});
  Tensor weighted = tg::binary_cross_entropy_with_logits(
      x, t, {.weight = weight, .pos_weight = pos_weight, .reduction = Reduction::none});
  REQUIRE(bool(
      xt::allclose(weighted.value<double>(), xt::xarray<double>{2 * ln2, 2 * ln4, 3 * 2 * ln4})));
  // dx = w ((1 + (p - 1) t) sigmoid(x) - p t): w (2 s - 2) where t = 1, w s where t = 0.
  tg::sum(weighted).backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(),
                            xt::xarray<double>{-1.0, 2 * 0.75, 3 * (2 * 0.25 - 2)})));
}

TEST_CASE("binary_cross_entropy_with_logits is finite and right for logits of +-1000", "[loss]") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    Tensor x = tg::tensor(xt::xarray<double>{1000.0, -1000.0, 1000.0, -1000.0}).to(dtype);
    x.set_requires_grad(true);
    Tensor t = tg::tensor(xt::xarray<double>{1.0, 0.0, 0.0, 1.0}).to(dtype);
    Tensor losses = tg::binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::none});
    REQUIRE(bool(xt::allclose(losses.to(tg::f64).value<double>(),
                              xt::xarray<double>{0.0, 0.0, 1000.0, 1000.0})));
    tg::sum(losses).backward();
    REQUIRE(bool(xt::allclose(x.grad().to(tg::f64).value<double>(),
                              xt::xarray<double>{0.0, 0.0, 1.0, -1.0})));
  }
}

TEST_CASE("cross_entropy with label smoothing from PyTorch's formula", "[loss]") {
  const xt::xarray<double> z{{1.0, 2.0, 3.0}, {1.0, -1.0, 0.0}};
  Tensor logits = tg::tensor(z, true);
  Tensor y = labels_of({0, 2});
  const double e = 0.3;
  // l_i = (1 - e) (lse_i - z[i, y_i]) + e/C sum_j (lse_i - z_ij)
  xt::xarray<double> expected = xt::zeros<double>({2});
  xt::xarray<double> grad = xt::zeros<double>({2, 3});
  for (std::size_t i = 0; i < 2; ++i) {
    double total = 0;
    for (std::size_t j = 0; j < 3; ++j) total += std::exp(z(i, j));
    const double lse = std::log(total);
    const auto label = static_cast<std::size_t>(y.value<std::int64_t>()(i));
    expected(i) = (1 - e) * (lse - z(i, label));
    for (std::size_t j = 0; j < 3; ++j) {
      expected(i) += e / 3 * (lse - z(i, j));
      // dlogits = softmax - (1 - e) onehot - e / C, over N for the mean.
      grad(i, j) = (std::exp(z(i, j) - lse) - (j == label ? 1 - e : 0.0) - e / 3) / 2;
    }
  }
  const tg::CrossEntropyOptions none{.reduction = Reduction::none, .label_smoothing = e};
  REQUIRE(bool(xt::allclose(tg::cross_entropy(logits, y, none).value<double>(), expected)));
  CHECK(tg::cross_entropy(logits, y, {.reduction = Reduction::sum, .label_smoothing = e}).item() ==
        Approx(expected(0) + expected(1)));
  Tensor loss = tg::cross_entropy(logits, y, {.label_smoothing = e});
  CHECK(loss.item() == Approx((expected(0) + expected(1)) / 2));
  loss.backward();
  REQUIRE(bool(xt::allclose(logits.grad().value<double>(), grad)));
  // Without smoothing the options overload is the plain loss; smoothing 1 ignores the labels.
  CHECK(tg::cross_entropy(logits, y, tg::CrossEntropyOptions{}).item() ==
        Approx(tg::cross_entropy(logits, y).item()));
  CHECK(tg::cross_entropy(logits, y, {.label_smoothing = 1.0}).item() ==
        Approx(tg::cross_entropy(logits, labels_of({1, 0}), {.label_smoothing = 1.0}).item()));
}

TEST_CASE("smooth_l1_loss by hand, beta 1, 2 and 0 (L1)", "[loss]") {
  Tensor a = tg::tensor(xt::xarray<double>{0.0, 0.5, 2.0, -3.0}, true);
  Tensor b = tg::zeros({4}, {.dtype = tg::f64});
  // |d| < beta: d^2 / (2 beta); otherwise |d| - beta / 2.
  REQUIRE(
      bool(xt::allclose(tg::smooth_l1_loss(a, b, {.reduction = Reduction::none}).value<double>(),
                        xt::xarray<double>{0.0, 0.125, 1.5, 2.5})));
  REQUIRE(bool(xt::allclose(
      tg::smooth_l1_loss(a, b, {.beta = 2.0, .reduction = Reduction::none}).value<double>(),
      xt::xarray<double>{0.0, 0.0625, 1.0, 2.0})));
  REQUIRE(bool(xt::allclose(
      tg::smooth_l1_loss(a, b, {.beta = 0.0, .reduction = Reduction::none}).value<double>(),
      xt::xarray<double>{0.0, 0.5, 2.0, 3.0})));
  CHECK(tg::smooth_l1_loss(a, b).item() == Approx(4.125 / 4));
  CHECK(tg::smooth_l1_loss(a, b, {.reduction = Reduction::sum}).item() == Approx(4.125));
  // da = d / beta inside, sign(d) outside; sign(0) = 0 for the L1 loss (as PyTorch).
  tg::smooth_l1_loss(a, b, {.reduction = Reduction::sum}).backward();
  REQUIRE(bool(xt::allclose(a.grad().value<double>(), xt::xarray<double>{0.0, 0.5, 1.0, -1.0})));
  a.zero_grad();
  tg::smooth_l1_loss(a, b, {.beta = 0.0, .reduction = Reduction::sum}).backward();
  REQUIRE(bool(xt::allclose(a.grad().value<double>(), xt::xarray<double>{0.0, 1.0, 1.0, -1.0})));
}

TEST_CASE("gradcheck of binary_cross_entropy_with_logits on 24 random shapes and options",
          "[loss]") {
  tg::manual_seed(54);
  tg::Generator gen(54);
  for (int trial = 0; trial < 24; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, trial < 3 ? 0 : 1, 4);
    const Reduction reduction = all_reductions[trial % 3];
    Tensor x = randn64(shape);
    x.value<double>() *= 3.0;
    Tensor t = tg::rand(shape, {.dtype = tg::f64, .requires_grad = trial % 2 == 0});
    // weight and pos_weight of shapes that broadcast to x's; some require grad.
    const bool with_weight = trial % 4 >= 2;
    const bool with_pos_weight = trial % 8 >= 4;
    std::vector<Tensor> inputs = {x, t};
    if (with_weight) {
      inputs.push_back(tg::test::positive64(tg::test::broadcast_partner(gen, shape), trial < 12));
    }
    if (with_pos_weight) {
      inputs.push_back(tg::test::positive64(tg::test::broadcast_partner(gen, shape), trial >= 12));
    }
    INFO("trial " << trial << ": " << tg::to_string(shape) << " reduction " << trial % 3
                  << " weight " << with_weight << " pos_weight " << with_pos_weight);
    CHECK(tg::gradcheck(
        [=](const auto& in) {
          tg::BinaryCrossEntropyWithLogitsOptions options{.reduction = reduction};
          std::size_t next = 2;
          if (with_weight) options.weight = in[next++];
          if (with_pos_weight) options.pos_weight = in[next++];
          Tensor loss = tg::binary_cross_entropy_with_logits(in[0], in[1], options);
          return loss * loss;
        },
        inputs, {.check_grad_grad = true}));
  }
}

TEST_CASE("gradcheck of cross_entropy with label smoothing and smooth_l1_loss, 24 trials",
          "[loss]") {
  tg::manual_seed(55);
  tg::Generator gen(55);
  const double betas[] = {1.0, 0.5, 2.0, 0.0};
  for (int trial = 0; trial < 24; ++trial) {
    const Reduction reduction = all_reductions[trial % 3];
    const auto n = static_cast<std::size_t>(uniform_int(gen, 1, 6));
    const auto c = static_cast<std::size_t>(uniform_int(gen, 1, 5));
    const double smoothing = 0.1 * static_cast<double>(uniform_int(gen, 0, 10));
    Tensor logits = randn64({n, c});
    Tensor y = random_labels(gen, n, c);
    INFO("trial " << trial << ": [" << n << "," << c << "] reduction " << trial % 3
                  << " label_smoothing " << smoothing);
    const tg::GradcheckOptions options{.check_grad_grad = true};
    CHECK(tg::gradcheck(
        [=](const auto& in) {
          Tensor l = tg::cross_entropy(in[0], in[1],
                                       {.reduction = reduction, .label_smoothing = smoothing});
          return l * l;
        },
        {logits, y}, options));

    // |a - b| kept 0.05 away from beta (and from 0), where the second derivative jumps.
    const double beta = betas[trial % 4];
    const tg::Shape shape = tg::test::random_shape(gen, trial < 3 ? 0 : 1, 4);
    Tensor a = randn64(shape, false);
    Tensor b = randn64(shape, trial % 2 == 0);
    for (std::size_t i = 0; i < a.numel(); ++i) {
      double& v = a.value<double>().data()[i];
      const double d = std::abs(v - b.value<double>().data()[i]);
      if (std::abs(d - beta) < 0.05 || d < 0.05) v += 0.2;
    }
    a.set_requires_grad(true);
    INFO("smooth_l1_loss " << tg::to_string(shape) << " beta " << beta);
    CHECK(tg::gradcheck(
        [=](const auto& in) {
          Tensor l = tg::smooth_l1_loss(in[0], in[1], {.beta = beta, .reduction = reduction});
          return l * l;
        },
        {a, b}, options));
  }
}

TEST_CASE("the new losses reject bad inputs with the op's name", "[loss][errors]") {
  const char* bce = "binary_cross_entropy_with_logits";
  Tensor x = tg::zeros({4, 3});
  REQUIRE_THROWS_AS(tg::binary_cross_entropy_with_logits(x, tg::zeros({4})), tg::Error);
  REQUIRE_THROWS_WITH(tg::binary_cross_entropy_with_logits(x, tg::zeros({4})),
                      Catch::Contains(bce) && Catch::Contains("[4,3]") && Catch::Contains("[4]") &&
                          Catch::Contains("same shape"));
  REQUIRE_THROWS_WITH(
      tg::binary_cross_entropy_with_logits(x, tg::zeros({4, 3}, {.dtype = tg::i64})),
      Catch::Contains(bce) && Catch::Contains("targets") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(
      tg::binary_cross_entropy_with_logits(x, tg::zeros({4, 3}, {.dtype = tg::f64})),
      Catch::Contains(bce) && Catch::Contains("f64") && Catch::Contains("[4,3]"));
  REQUIRE_THROWS_WITH(tg::binary_cross_entropy_with_logits(Tensor{}, x),
                      Catch::Contains(bce) && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::binary_cross_entropy_with_logits(x, x, {.weight = tg::ones({4})}),
                      Catch::Contains(bce) && Catch::Contains("weight") && Catch::Contains("[4]") &&
                          Catch::Contains("[4,3]"));
  // A weight that would enlarge the loss is refused, not broadcast.
  REQUIRE_THROWS_WITH(
      tg::binary_cross_entropy_with_logits(x, x, {.pos_weight = tg::ones({2, 4, 3})}),
      Catch::Contains(bce) && Catch::Contains("pos_weight") && Catch::Contains("[2,4,3]") &&
          Catch::Contains("broadcast to"));
  REQUIRE_THROWS_WITH(
      tg::binary_cross_entropy_with_logits(x, x, {.pos_weight = tg::ones({3}, {.dtype = tg::f64})}),
      Catch::Contains(bce) && Catch::Contains("pos_weight") && Catch::Contains("f64"));

  Tensor logits = tg::zeros({2, 5});
  Tensor y = labels_of({0, 4});
  for (const double bad : {-0.1, 1.5, std::nan("")}) {
    REQUIRE_THROWS_AS(tg::cross_entropy(logits, y, {.label_smoothing = bad}), tg::Error);
    REQUIRE_THROWS_WITH(tg::cross_entropy(logits, y, {.label_smoothing = bad}),
                        Catch::Contains("cross_entropy") && Catch::Contains("label_smoothing") &&
                            Catch::Contains("[2,5]"));
  }
  REQUIRE_THROWS_WITH(tg::cross_entropy(logits, labels_of({0, 5}), {.label_smoothing = 0.1}),
                      Catch::Contains("cross_entropy") && Catch::Contains("label 5"));

  REQUIRE_THROWS_AS(tg::smooth_l1_loss(tg::ones({2, 3}), tg::ones({3})), tg::Error);
  REQUIRE_THROWS_WITH(tg::smooth_l1_loss(tg::ones({2, 3}), tg::ones({3})),
                      Catch::Contains("smooth_l1_loss") && Catch::Contains("[2,3]") &&
                          Catch::Contains("[3]") && Catch::Contains("same shape"));
  for (const double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    REQUIRE_THROWS_WITH(
        tg::smooth_l1_loss(tg::ones({2}), tg::ones({2}), {.beta = bad}),
        Catch::Contains("smooth_l1_loss") && Catch::Contains("beta") && Catch::Contains("[2]"));
  }
  REQUIRE_THROWS_WITH(tg::smooth_l1_loss(tg::ones({2}), tg::ones({2}, {.dtype = tg::i64})),
                      Catch::Contains("smooth_l1_loss") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(tg::smooth_l1_loss(Tensor{}, tg::ones({2})),
                      Catch::Contains("smooth_l1_loss") && Catch::Contains("undefined"));
}

TEST_CASE("smooth_l1_loss's gradient stays finite at an infinite difference", "[loss]") {
  // PyTorch: d/dx of smooth_l1(x, 0) at x = (0, 1, inf) with beta 1 is (0, 1, 1).
  Tensor x = tg::tensor({0.0, 1.0, INFINITY}, {.dtype = tg::f64, .requires_grad = true});
  tg::smooth_l1_loss(x, tg::zeros({3}, {.dtype = tg::f64}), {.reduction = tg::Reduction::sum})
      .backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{0.0, 1.0, 1.0})));
}
