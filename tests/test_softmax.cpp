#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;
using tg::test::randn64;
using tg::test::random_shape;

namespace {

// softmax (or log_softmax) of a row-major array along `dim`, straight from the definition in
// double, one line of `dim` at a time.
template <class T>
std::vector<double> reference(const xt::xarray<T>& x, std::size_t dim, bool log) {
  std::size_t outer = 1;
  std::size_t inner = 1;
  for (std::size_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (std::size_t d = dim + 1; d < x.dimension(); ++d) inner *= x.shape()[d];
  const std::size_t length = x.shape()[dim];
  std::vector<double> out(x.size());
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < inner; ++i) {
      auto at = [&](std::size_t k) { return o * length * inner + k * inner + i; };
      double max = -INFINITY;
      for (std::size_t k = 0; k < length; ++k) max = std::max(max, double(x.data()[at(k)]));
      double total = 0;
      for (std::size_t k = 0; k < length; ++k) total += std::exp(double(x.data()[at(k)]) - max);
      for (std::size_t k = 0; k < length; ++k) {
        const double shifted = double(x.data()[at(k)]) - max;
        out[at(k)] = log ? shifted - std::log(total) : std::exp(shifted) / total;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("softmax and log_softmax of [1,2,3] by hand", "[softmax]") {
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0});
  const double total = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const xt::xarray<double> expected{std::exp(1.0) / total, std::exp(2.0) / total,
                                    std::exp(3.0) / total};
  REQUIRE(bool(xt::allclose(tg::softmax(x, 0).value<double>(), expected)));
  REQUIRE(bool(xt::allclose(tg::softmax(x, -1).value<double>(), expected)));
  const xt::xarray<double> expected_log{1.0 - std::log(total), 2.0 - std::log(total),
                                        3.0 - std::log(total)};
  REQUIRE(bool(xt::allclose(tg::log_softmax(x, 0).value<double>(), expected_log)));
}

TEST_CASE("softmax of a 2-D tensor along each dim by hand", "[softmax]") {
  const double ln2 = std::log(2.0);
  const double ln3 = std::log(3.0);
  // e^x = [[1, 3], [2, 2]].
  Tensor x = tg::tensor(xt::xarray<double>{{0.0, ln3}, {ln2, ln2}});
  REQUIRE(bool(xt::allclose(tg::softmax(x, 1).value<double>(),
                            xt::xarray<double>{{0.25, 0.75}, {0.5, 0.5}})));
  REQUIRE(bool(xt::allclose(tg::softmax(x, -2).value<double>(),
                            xt::xarray<double>{{1.0 / 3, 3.0 / 5}, {2.0 / 3, 2.0 / 5}})));
  REQUIRE(bool(xt::allclose(tg::log_softmax(x, 0).value<double>(),
                            xt::xarray<double>{{std::log(1.0 / 3), std::log(3.0 / 5)},
                                               {std::log(2.0 / 3), std::log(2.0 / 5)}})));
}

TEST_CASE("softmax gradients by hand", "[softmax]") {
  // y = softmax([0, ln 3]) = [1/4, 3/4]; g = [1, 0]: dx = y (g - sum(g y)) = [3/16, -3/16].
  Tensor x = tg::tensor(xt::xarray<double>{0.0, std::log(3.0)}, true);
  tg::softmax(x, 0).backward(tg::tensor(xt::xarray<double>{1.0, 0.0}));
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{0.1875, -0.1875})));
  // log_softmax: dx = g - y sum(g) = [1, 0] - [1/4, 3/4].
  x.zero_grad();
  tg::log_softmax(x, 0).backward(tg::tensor(xt::xarray<double>{1.0, 0.0}));
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{0.75, -0.75})));
}

TEST_CASE("softmax sums to 1 and log_softmax is its log, along every dim", "[softmax]") {
  tg::manual_seed(31);
  Tensor x = tg::randn({3, 4, 2, 5}, {.dtype = tg::f64});
  for (std::int64_t dim = -4; dim < 4; ++dim) {
    INFO("dim " << dim);
    Tensor y = tg::softmax(x, dim);
    Tensor total = tg::sum(y, {dim});
    REQUIRE(bool(xt::allclose(total.value<double>(), xt::ones<double>(total.shape()))));
    REQUIRE(bool(xt::all(y.value<double>() > 0.0)));
    REQUIRE(
        bool(xt::allclose(tg::log_softmax(x, dim).value<double>(), xt::log(y.value<double>()))));
  }
}

TEST_CASE("softmax matches the definition on shapes that split into blocks and tasks",
          "[softmax]") {
  tg::manual_seed(32);
  // inner > 256 positions (several blocks per row), and enough rows for several tasks.
  for (const tg::Shape& shape : {tg::Shape{3, 5, 700}, tg::Shape{2000, 40}, tg::Shape{40, 3, 1}}) {
    Tensor x = tg::randn(shape, {.dtype = tg::f64});
    x.value<double>() *= 3.0;
    for (std::size_t dim = 0; dim < shape.size(); ++dim) {
      INFO(tg::to_string(shape) << " dim " << dim);
      const auto d = static_cast<std::int64_t>(dim);
      Tensor y = tg::softmax(x, d);
      Tensor l = tg::log_softmax(x, d);
      CHECK(tg::test::max_abs_error(y.value<double>(), reference(x.value<double>(), dim, false)) <
            1e-12);
      CHECK(tg::test::max_abs_error(l.value<double>(), reference(x.value<double>(), dim, true)) <
            1e-12);
    }
  }
}

TEST_CASE("log_softmax and softmax are stable for logits of +-1000", "[softmax]") {
  for (tg::DType dtype : {tg::f32, tg::f64}) {
    Tensor x =
        tg::tensor(xt::xarray<double>{{1000.0, -1000.0, 0.0}, {1000.0, 1000.0, -1000.0}}).to(dtype);
    Tensor l = tg::log_softmax(x, 1).to(tg::f64);
    Tensor y = tg::softmax(x, 1).to(tg::f64);
    REQUIRE(bool(xt::all(xt::isfinite(l.value<double>()))));
    REQUIRE(bool(xt::all(xt::isfinite(y.value<double>()))));
    const double ln2 = std::log(2.0);
    REQUIRE(bool(xt::allclose(
        l.value<double>(), xt::xarray<double>{{0.0, -2000.0, -1000.0}, {-ln2, -ln2, -2000.0 - ln2}},
        1e-6, 1e-4)));
    REQUIRE(bool(xt::allclose(y.value<double>(), xt::xarray<double>{{1, 0, 0}, {0.5, 0.5, 0}})));
    // The gradient stays finite too.
    Tensor leaf = x.detach().to(tg::f64).clone();
    leaf.set_requires_grad(true);
    tg::sum(tg::log_softmax(leaf, 1) * tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0})).backward();
    REQUIRE(bool(xt::all(xt::isfinite(leaf.grad().value<double>()))));
  }
}

TEST_CASE("gradcheck of softmax and log_softmax on 24 random shapes and dims", "[softmax]") {
  tg::manual_seed(33);
  tg::Generator gen(33);
  for (int trial = 0; trial < 24; ++trial) {
    const tg::Shape shape = random_shape(gen, 1, 4);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const std::int64_t dim = tg::test::uniform_int(gen, -rank, rank - 1);
    Tensor x = randn64(shape);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " dim " << dim);
    const tg::GradcheckOptions options{.check_grad_grad = trial % 2 == 0};
    CHECK(tg::gradcheck([dim](const auto& in) { return tg::softmax(in[0], dim); }, {x}, options));
    CHECK(
        tg::gradcheck([dim](const auto& in) { return tg::log_softmax(in[0], dim); }, {x}, options));
    // Output gradient depending on x: exercises the backward's own gradient w.r.t. g.
    CHECK(tg::gradcheck(
        [dim](const auto& in) { return tg::softmax(in[0], dim) * tg::log_softmax(in[0], dim); },
        {x}, options));
  }
}

TEST_CASE("f32 softmax agrees with a double computation", "[softmax]") {
  tg::manual_seed(34);
  Tensor x = tg::randn({17, 33, 9}, {.dtype = tg::f32});
  x.value<float>() *= 5.0f;
  for (std::size_t dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    const auto d = static_cast<std::int64_t>(dim);
    Tensor y = tg::softmax(x, d);
    Tensor l = tg::log_softmax(x, d);
    CHECK(y.dtype() == tg::f32);
    CHECK(tg::test::max_abs_error(y.value<float>(), reference(x.value<float>(), dim, false)) <
          1e-6);
    CHECK(tg::test::max_abs_error(l.value<float>(), reference(x.value<float>(), dim, true)) < 1e-5);
  }
}

TEST_CASE("softmax and log_softmax reject bad inputs with the op's name", "[softmax][errors]") {
  Tensor x = tg::ones({2, 3});
  CHECK_THROWS_AS(tg::softmax(x, 2), tg::Error);
  CHECK_THROWS_WITH(tg::softmax(x, 2), Catch::Contains("softmax") && Catch::Contains("dim 2") &&
                                           Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::log_softmax(x, -3), Catch::Contains("log_softmax") &&
                                                Catch::Contains("dim -3") &&
                                                Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::softmax(Tensor{}, 0),
                    Catch::Contains("softmax") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(
      tg::log_softmax(tg::zeros({4}, {.dtype = tg::i64}), 0),
      Catch::Contains("log_softmax") && Catch::Contains("i64") && Catch::Contains("[4]"));
  CHECK_THROWS_WITH(tg::softmax(tg::ones({}), 0),
                    Catch::Contains("softmax") && Catch::Contains("0-D"));
}
