// max_pool2d / avg_pool2d and their backward maps: the seed's eq. 16 by hand, ties, overlap,
// NaN, a naive loop reference on random configurations, gradchecks (first and second order),
// determinism across thread counts, and every validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

namespace {

using tg::Tensor;

#define REQUIRE_TG_ERROR(expr, matcher) \
  do {                                  \
    REQUIRE_THROWS_AS(expr, tg::Error); \
    REQUIRE_THROWS_WITH(expr, matcher); \
  } while (false)

using Catch::Contains;

const double infinity = std::numeric_limits<double>::infinity();
const double not_a_number = std::numeric_limits<double>::quiet_NaN();

Tensor leaf(xt::xarray<double> v) { return tg::tensor(std::move(v), true); }
Tensor constant(xt::xarray<double> v) { return tg::tensor(std::move(v)); }
const xt::xarray<double>& values(const Tensor& t) { return t.value<double>(); }

// One 2-D plane as a [1,1,H,W] array.
xt::xarray<double> plane(std::initializer_list<std::initializer_list<double>> rows) {
  xt::xarray<double> out = rows;
  out.reshape({1, 1, out.shape()[0], out.shape()[1]});
  return out;
}

bool same(const xt::xarray<double>& a, const xt::xarray<double>& b) {
  return a.shape() == b.shape() && bool(xt::all(xt::equal(a, b)));
}

bool close(const xt::xarray<double>& a, const xt::xarray<double>& b) {
  return a.shape() == b.shape() && bool(xt::allclose(a, b, 1e-12, 1e-12));
}

// ---------------------------------------------------------------------------------------------
// Random configurations and a naive reference written independently of the kernels: plain
// loops over every window position, padding skipped.

struct Config {
  std::size_t n, c, h, w;
  std::int64_t kh, kw, sh, sw, ph, pw;
  bool count_include_pad;

  std::size_t out_h() const { return static_cast<std::size_t>((h + 2 * ph - kh) / sh + 1); }
  std::size_t out_w() const { return static_cast<std::size_t>((w + 2 * pw - kw) / sw + 1); }
  tg::Shape in_shape() const { return {n, c, h, w}; }
  tg::Shape out_shape() const { return {n, c, out_h(), out_w()}; }
  tg::MaxPool2dOptions max_options() const {
    return {.kernel = {kh, kw}, .stride = tg::Size2{sh, sw}, .padding = {ph, pw}};
  }
  tg::AvgPool2dOptions avg_options() const {
    return {.kernel = {kh, kw},
            .stride = tg::Size2{sh, sw},
            .padding = {ph, pw},
            .count_include_pad = count_include_pad};
  }
  std::string describe() const {
    return fmt::format("input [{},{},{},{}] kernel {}x{} stride {}x{} padding {}x{} cip {}", n, c,
                       h, w, kh, kw, sh, sw, ph, pw, count_include_pad);
  }
};

std::int64_t uniform_int(std::int64_t lo, std::int64_t hi) {  // [lo, hi]
  return lo + static_cast<std::int64_t>(
                  tg::global_generator().below(static_cast<std::uint64_t>(hi - lo + 1)));
}

Config random_config() {
  Config cfg{};
  cfg.n = static_cast<std::size_t>(uniform_int(1, 3));
  cfg.c = static_cast<std::size_t>(uniform_int(1, 3));
  cfg.kh = uniform_int(1, 4);
  cfg.kw = uniform_int(1, 4);
  cfg.sh = uniform_int(1, 3);
  cfg.sw = uniform_int(1, 3);
  cfg.ph = uniform_int(0, cfg.kh / 2);
  cfg.pw = uniform_int(0, cfg.kw / 2);
  cfg.h =
      static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.kh - 2 * cfg.ph) + uniform_int(0, 5));
  cfg.w =
      static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.kw - 2 * cfg.pw) + uniform_int(0, 5));
  cfg.count_include_pad = uniform_int(0, 1) == 1;
  return cfg;
}

// Distinct values (a scaled random permutation), so that every window has a strict maximum
// that a finite-difference step cannot move.
xt::xarray<double> distinct_values(const tg::Shape& shape) {
  auto x = xt::xarray<double>::from_shape(shape);
  std::vector<double> perm(x.size());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<double>(i);
  for (std::size_t i = perm.size(); i > 1; --i) {
    std::swap(perm[i - 1], perm[tg::global_generator().below(i)]);
  }
  for (std::size_t i = 0; i < perm.size(); ++i) x.data()[i] = 0.1 * perm[i] - 3.0;
  return x;
}

// Small integers: many ties, to exercise the first-in-row-major-order rule.
xt::xarray<double> tied_values(const tg::Shape& shape) {
  auto x = xt::xarray<double>::from_shape(shape);
  for (double& v : x) v = static_cast<double>(uniform_int(0, 3));
  return x;
}

struct MaxReference {
  xt::xarray<double> out;
  xt::xarray<std::int64_t> argmax;
};

MaxReference naive_max(const xt::xarray<double>& x, const Config& cfg) {
  MaxReference ref{xt::xarray<double>::from_shape(cfg.out_shape()),
                   xt::xarray<std::int64_t>::from_shape(cfg.out_shape())};
  for (std::size_t n = 0; n < cfg.n; ++n)
    for (std::size_t c = 0; c < cfg.c; ++c)
      for (std::size_t oh = 0; oh < cfg.out_h(); ++oh)
        for (std::size_t ow = 0; ow < cfg.out_w(); ++ow) {
          bool found = false;
          double best = 0;
          std::int64_t where = -1;
          for (std::int64_t i = 0; i < cfg.kh; ++i)
            for (std::int64_t j = 0; j < cfg.kw; ++j) {
              const std::int64_t hh = static_cast<std::int64_t>(oh) * cfg.sh - cfg.ph + i;
              const std::int64_t ww = static_cast<std::int64_t>(ow) * cfg.sw - cfg.pw + j;
              if (hh < 0 || ww < 0 || hh >= static_cast<std::int64_t>(cfg.h) ||
                  ww >= static_cast<std::int64_t>(cfg.w))
                continue;
              const double v = x(n, c, hh, ww);
              if (!found || v > best) {
                found = true;
                best = v;
                where = hh * static_cast<std::int64_t>(cfg.w) + ww;
              }
            }
          ref.out(n, c, oh, ow) = best;
          ref.argmax(n, c, oh, ow) = where;
        }
  return ref;
}

xt::xarray<double> naive_scatter(const xt::xarray<double>& g,
                                 const xt::xarray<std::int64_t>& argmax, const Config& cfg) {
  xt::xarray<double> dx = xt::zeros<double>(cfg.in_shape());
  for (std::size_t n = 0; n < cfg.n; ++n)
    for (std::size_t c = 0; c < cfg.c; ++c)
      for (std::size_t oh = 0; oh < cfg.out_h(); ++oh)
        for (std::size_t ow = 0; ow < cfg.out_w(); ++ow) {
          const auto a = static_cast<std::size_t>(argmax(n, c, oh, ow));
          dx(n, c, a / cfg.w, a % cfg.w) += g(n, c, oh, ow);
        }
  return dx;
}

// y = A x as loops; adjoint = false gives the forward, true gives A^T g (the backward).
xt::xarray<double> naive_avg(const xt::xarray<double>& in, const Config& cfg, bool adjoint) {
  xt::xarray<double> out = xt::zeros<double>(adjoint ? cfg.in_shape() : cfg.out_shape());
  for (std::size_t n = 0; n < cfg.n; ++n)
    for (std::size_t c = 0; c < cfg.c; ++c)
      for (std::size_t oh = 0; oh < cfg.out_h(); ++oh)
        for (std::size_t ow = 0; ow < cfg.out_w(); ++ow) {
          std::vector<std::pair<std::size_t, std::size_t>> inside;
          for (std::int64_t i = 0; i < cfg.kh; ++i)
            for (std::int64_t j = 0; j < cfg.kw; ++j) {
              const std::int64_t hh = static_cast<std::int64_t>(oh) * cfg.sh - cfg.ph + i;
              const std::int64_t ww = static_cast<std::int64_t>(ow) * cfg.sw - cfg.pw + j;
              if (hh >= 0 && ww >= 0 && hh < static_cast<std::int64_t>(cfg.h) &&
                  ww < static_cast<std::int64_t>(cfg.w))
                inside.emplace_back(hh, ww);
            }
          const double divisor = cfg.count_include_pad ? static_cast<double>(cfg.kh * cfg.kw)
                                                       : static_cast<double>(inside.size());
          for (auto [hh, ww] : inside) {
            if (adjoint) {
              out(n, c, hh, ww) += in(n, c, oh, ow) / divisor;
            } else {
              out(n, c, oh, ow) += in(n, c, hh, ww) / divisor;
            }
          }
        }
  return out;
}

xt::xarray<double> randn_values(const tg::Shape& shape) {
  return values(tg::randn(shape, {.dtype = tg::f64}));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Hand-computed cases.

TEST_CASE("max_pool2d follows the seed's eq. 16 on a 4x4 plane with a 2x2 window", "[pool]") {
  // Window maxima: 4 at (1,0), 5 at (1,3), 7 at (2,0), 3 at (3,2).
  Tensor x = leaf(plane({{1, 3, 2, 1},  //
                         {4, 2, 0, 5},
                         {7, 0, 1, 2},
                         {1, 6, 3, 1}}));
  Tensor y = tg::max_pool2d(x, {.kernel = 2, .stride = 2});
  REQUIRE(same(values(y), plane({{4, 5}, {7, 3}})));
  REQUIRE(y.requires_grad());
  y.backward(constant(plane({{0.1, 0.2}, {0.3, 0.4}})));
  REQUIRE(same(values(x.grad()), plane({{0.0, 0.0, 0.0, 0.0},  //
                                        {0.1, 0.0, 0.0, 0.2},
                                        {0.3, 0.0, 0.0, 0.0},
                                        {0.0, 0.0, 0.4, 0.0}})));
}

TEST_CASE("max_pool2d works in f32 with the stride defaulting to the kernel", "[pool]") {
  xt::xarray<float> v = {{{{1, 3, 2, 1}, {4, 2, 0, 5}, {7, 0, 1, 2}, {1, 6, 3, 1}}}};
  Tensor x = tg::tensor(v, true);
  Tensor y = tg::max_pool2d(x, {.kernel = 2});
  REQUIRE(y.dtype() == tg::f32);
  REQUIRE(bool(xt::all(xt::equal(y.value<float>(), xt::xarray<float>{{{{4, 5}, {7, 3}}}}))));
  y.backward(tg::ones(y.shape()));
  xt::xarray<float> expected = {{{{0, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 0, 0}, {0, 0, 1, 0}}}};
  REQUIRE(bool(xt::all(xt::equal(x.grad().value<float>(), expected))));
}

TEST_CASE("max_pool2d sends the gradient of a tie to the first position in row-major order",
          "[pool]") {
  SECTION("windows of equal values") {
    Tensor x = leaf(xt::ones<double>({1, 1, 4, 4}));
    Tensor y = tg::max_pool2d(x, {.kernel = 2});
    y.backward(constant(plane({{1, 2}, {3, 4}})));
    REQUIRE(same(values(x.grad()), plane({{1, 0, 2, 0},  //
                                          {0, 0, 0, 0},
                                          {3, 0, 4, 0},
                                          {0, 0, 0, 0}})));
  }
  SECTION("a tie that is not at the window's first position") {
    Tensor x = leaf(plane({{1, 5}, {5, 2}}));
    Tensor y = tg::max_pool2d(x, {.kernel = 2});
    y.backward(constant(plane({{1}})));
    REQUIRE(same(values(x.grad()), plane({{0, 1}, {0, 0}})));
  }
  SECTION("a window of -inf picks its first input position, never the padding") {
    Tensor x = leaf(xt::xarray<double>(-infinity * xt::ones<double>({1, 1, 2, 2})));
    Tensor y = tg::max_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1});
    REQUIRE(values(y)(0, 0, 0, 0) == -infinity);
    y.backward(constant(plane({{1}})));
    REQUIRE(same(values(x.grad()), plane({{1, 0}, {0, 0}})));
  }
}

TEST_CASE("max_pool2d sums the gradients of overlapping windows at a shared maximum", "[pool]") {
  // Kernel 2, stride 1: all four windows hold the 9 in the centre.
  Tensor x = leaf(plane({{1, 2, 3},  //
                         {4, 9, 5},
                         {6, 7, 8}}));
  Tensor y = tg::max_pool2d(x, {.kernel = 2, .stride = 1});
  REQUIRE(same(values(y), plane({{9, 9}, {9, 9}})));
  y.backward(constant(plane({{1, 2}, {3, 4}})));
  REQUIRE(same(values(x.grad()), plane({{0, 0, 0}, {0, 10, 0}, {0, 0, 0}})));

  // Kernel 3, stride 1, padding 1 on 2x3: each of the 6 windows reaches (0,1), and so sends
  // its gradient to the 9 there.
  Tensor z = leaf(plane({{1, 9, 2},  //
                         {3, 4, 8}}));
  Tensor m = tg::max_pool2d(z, {.kernel = 3, .stride = 1, .padding = 1});
  REQUIRE(same(values(m), plane({{9, 9, 9}, {9, 9, 9}})));
  m.backward(constant(plane({{1, 1, 1}, {1, 1, 1}})));
  REQUIRE(same(values(z.grad()), plane({{0, 6, 0}, {0, 0, 0}})));
}

TEST_CASE("max_pool2d propagates NaN as PyTorch does", "[pool]") {
  Tensor x = leaf(plane({{1, not_a_number, 2, 3},  //
                         {9, 0, 4, 1}}));
  Tensor y = tg::max_pool2d(x, {.kernel = 2});
  REQUIRE(std::isnan(values(y)(0, 0, 0, 0)));
  REQUIRE(values(y)(0, 0, 0, 1) == 4.0);
  y.backward(constant(plane({{1, 2}})));
  REQUIRE(same(values(x.grad()), plane({{0, 1, 0, 0}, {0, 0, 2, 0}})));

  // Several NaNs: PyTorch's CPU kernel (val > max || isnan(val)) keeps the last one.
  Tensor z = leaf(plane({{not_a_number, 1}, {not_a_number, 2}}));
  Tensor m = tg::max_pool2d(z, {.kernel = 2});
  REQUIRE(std::isnan(values(m)(0, 0, 0, 0)));
  m.backward(constant(plane({{1}})));
  REQUIRE(same(values(z.grad()), plane({{0, 0}, {1, 0}})));

  // In f32, and with a NaN in one plane only: the other plane pools as usual.
  xt::xarray<float> two_planes = {
      {{{1, 2}, {3, 4}}, {{1, std::numeric_limits<float>::quiet_NaN()}, {0, 2}}}};
  Tensor f = tg::tensor(two_planes, true);
  Tensor pooled = tg::max_pool2d(f, {.kernel = 2});
  REQUIRE(pooled.dtype() == tg::f32);
  CHECK(pooled.value<float>()(0, 0, 0, 0) == 4.0f);
  CHECK(std::isnan(pooled.value<float>()(0, 1, 0, 0)));
  pooled.backward(tg::ones(pooled.shape()));
  xt::xarray<float> routed = {{{{0, 0}, {0, 1}}, {{0, 1}, {0, 0}}}};
  REQUIRE(bool(xt::all(xt::equal(f.grad().value<float>(), routed))));
}

TEST_CASE("avg_pool2d by hand, with and without counting the padding", "[pool]") {
  xt::xarray<double> v = plane({{1, 2, 3},  //
                                {4, 5, 6},
                                {7, 8, 9}});
  SECTION("no padding, kernel 2, stride 1") {
    Tensor x = leaf(v);
    Tensor y = tg::avg_pool2d(x, {.kernel = 2, .stride = 1});
    REQUIRE(close(values(y), plane({{3, 4}, {6, 7}})));
    y.backward(constant(plane({{4, 8}, {12, 16}})));
    // Each window shares its gradient over 4 positions; the centre is in all of them.
    REQUIRE(close(values(x.grad()), plane({{1, 3, 2}, {4, 10, 6}, {3, 7, 4}})));
  }
  SECTION("padding 1, kernel 3, stride 2") {
    // Four windows of 9 positions, each holding 4 inputs: {1,2,4,5}, {2,3,5,6}, {4,5,7,8},
    // {5,6,8,9}.
    Tensor x = leaf(v);
    Tensor with_pad = tg::avg_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1});
    REQUIRE(close(values(with_pad), plane({{12.0 / 9, 16.0 / 9}, {24.0 / 9, 28.0 / 9}})));
    Tensor without_pad =
        tg::avg_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false});
    REQUIRE(close(values(without_pad), plane({{3, 4}, {6, 7}})));
    without_pad.backward(constant(plane({{4, 0}, {0, 0}})));
    REQUIRE(close(values(x.grad()), plane({{1, 1, 0}, {1, 1, 0}, {0, 0, 0}})));
  }
}

// ---------------------------------------------------------------------------------------------
// The naive reference on random configurations.

TEMPLATE_TEST_CASE("max_pool2d and avg_pool2d match a naive loop reference", "[pool]", float,
                   double) {
  tg::manual_seed(7);
  for (int trial = 0; trial < 40; ++trial) {
    Config cfg = random_config();
    if (trial % 4 == 0) {  // the 2x2 windows of stride 2 that have kernels of their own
      cfg.kh = cfg.kw = cfg.sh = cfg.sw = 2;
      cfg.ph = cfg.pw = 0;
      cfg.h = std::max<std::size_t>(cfg.h, 2);
      cfg.w = std::max<std::size_t>(cfg.w, 2);
    }
    INFO(cfg.describe());
    // Small integers, exact in f32: many ties, and sums without rounding differences.
    const xt::xarray<double> v = tied_values(cfg.in_shape());
    Tensor x = tg::tensor(xt::xarray<TestType>(xt::cast<TestType>(v)), true);
    const MaxReference ref = naive_max(v, cfg);

    Tensor y = tg::max_pool2d(x, cfg.max_options());
    REQUIRE(y.shape() == cfg.out_shape());
    REQUIRE(same(xt::cast<double>(y.value<TestType>()), ref.out));
    const xt::xarray<double> g = tied_values(cfg.out_shape());
    y.backward(tg::tensor(xt::xarray<TestType>(xt::cast<TestType>(g))));
    REQUIRE(same(xt::cast<double>(x.grad().value<TestType>()), naive_scatter(g, ref.argmax, cfg)));

    Tensor a = tg::avg_pool2d(x, cfg.avg_options());
    REQUIRE(a.shape() == cfg.out_shape());
    REQUIRE(bool(
        xt::allclose(xt::cast<double>(a.value<TestType>()), naive_avg(v, cfg, false), 1e-6, 1e-6)));
  }
}

TEST_CASE("avg_pool2d's backward matches the naive adjoint", "[pool]") {
  tg::manual_seed(8);
  for (int trial = 0; trial < 30; ++trial) {
    const Config cfg = random_config();
    INFO(cfg.describe());
    Tensor x = leaf(randn_values(cfg.in_shape()));
    Tensor y = tg::avg_pool2d(x, cfg.avg_options());
    const xt::xarray<double> g = randn_values(cfg.out_shape());
    y.backward(constant(g));
    REQUIRE(close(values(x.grad()), naive_avg(g, cfg, true)));
  }
}

TEST_CASE("the backward maps are the adjoints of the forward maps", "[pool]") {
  // <scatter(g), u> == <g, gather(u)> and <avg(x), g> == <x, avg_backward(g)>.
  tg::manual_seed(9);
  for (int trial = 0; trial < 20; ++trial) {
    const Config cfg = random_config();
    INFO(cfg.describe());
    const MaxReference ref = naive_max(distinct_values(cfg.in_shape()), cfg);
    Tensor argmax = tg::tensor(ref.argmax);
    const xt::xarray<double> g = randn_values(cfg.out_shape());
    const xt::xarray<double> u = randn_values(cfg.in_shape());
    const double lhs =
        xt::sum(values(tg::max_pool2d_scatter(constant(g), argmax, cfg.in_shape())) * u)();
    const double rhs = xt::sum(g * values(tg::max_pool2d_gather(constant(u), argmax)))();
    CHECK(lhs == Approx(rhs).margin(1e-12));

    const double avg_lhs = xt::sum(values(tg::avg_pool2d(constant(u), cfg.avg_options())) * g)();
    const double avg_rhs = xt::sum(
        u * values(tg::avg_pool2d_backward(constant(g), cfg.in_shape(), cfg.avg_options())))();
    CHECK(avg_lhs == Approx(avg_rhs).margin(1e-12));
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient checks.

TEST_CASE("gradcheck max_pool2d on random configurations", "[pool][gradcheck]") {
  tg::manual_seed(11);
  for (int trial = 0; trial < 24; ++trial) {
    const Config cfg = random_config();
    INFO(cfg.describe());
    Tensor x = leaf(distinct_values(cfg.in_shape()));
    const auto options = cfg.max_options();
    auto result = tg::gradcheck(
        [options](const std::vector<Tensor>& in) { return tg::max_pool2d(in[0], options); }, {x},
        {.seed = static_cast<std::uint64_t>(trial), .check_grad_grad = trial % 3 == 0});
    INFO(result.message);
    CHECK(result);
  }
}

TEST_CASE("gradcheck avg_pool2d on random configurations", "[pool][gradcheck]") {
  tg::manual_seed(12);
  for (int trial = 0; trial < 24; ++trial) {
    Config cfg = random_config();
    cfg.count_include_pad = trial % 2 == 0;
    INFO(cfg.describe());
    Tensor x = leaf(randn_values(cfg.in_shape()));
    const auto options = cfg.avg_options();
    auto result = tg::gradcheck(
        [options](const std::vector<Tensor>& in) { return tg::avg_pool2d(in[0], options); }, {x},
        {.seed = static_cast<std::uint64_t>(trial), .check_grad_grad = trial % 3 == 0});
    INFO(result.message);
    CHECK(result);
  }
}

TEST_CASE("gradcheck the backward maps as ops, to second order", "[pool][gradcheck]") {
  tg::manual_seed(13);
  for (int trial = 0; trial < 12; ++trial) {
    Config cfg = random_config();
    cfg.count_include_pad = trial % 2 == 0;
    INFO(cfg.describe());
    const MaxReference ref = naive_max(distinct_values(cfg.in_shape()), cfg);
    Tensor argmax = tg::tensor(ref.argmax);
    const tg::Shape in_shape = cfg.in_shape();
    const auto options = cfg.avg_options();
    const tg::GradcheckOptions check{.seed = static_cast<std::uint64_t>(trial),
                                     .check_grad_grad = true};

    auto scatter = tg::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return tg::max_pool2d_scatter(in[0], argmax, in_shape);
        },
        {leaf(randn_values(cfg.out_shape()))}, check);
    INFO(scatter.message);
    CHECK(scatter);

    auto gather = tg::gradcheck(
        [&](const std::vector<Tensor>& in) { return tg::max_pool2d_gather(in[0], argmax); },
        {leaf(randn_values(in_shape))}, check);
    INFO(gather.message);
    CHECK(gather);

    auto avg_backward = tg::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return tg::avg_pool2d_backward(in[0], in_shape, options);
        },
        {leaf(randn_values(cfg.out_shape()))}, check);
    INFO(avg_backward.message);
    CHECK(avg_backward);
  }
}

TEST_CASE("max_pool2d's gradient is differentiable in the incoming gradient", "[pool]") {
  // dx = scatter(v); d<dx, w>/dv = gather(w): w read at each window's argmax.
  Tensor x = leaf(plane({{1, 3, 2, 1},  //
                         {4, 2, 0, 5},
                         {7, 0, 1, 2},
                         {1, 6, 3, 1}}));
  Tensor v = leaf(plane({{1, 2}, {3, 4}}));
  Tensor y = tg::max_pool2d(x, {.kernel = 2});
  Tensor dx = tg::grad({y}, {x}, {.grad_outputs = {v}, .create_graph = true})[0];
  REQUIRE(dx.requires_grad());
  REQUIRE(same(values(dx), plane({{0, 0, 0, 0}, {1, 0, 0, 2}, {3, 0, 0, 0}, {0, 0, 4, 0}})));
  xt::xarray<double> w = xt::arange<double>(16.0);
  w.reshape({1, 1, 4, 4});
  Tensor dv = tg::grad({dx}, {v}, {.grad_outputs = {constant(w)}})[0];
  // argmax = 4, 7, 8, 14 (flat positions in the plane).
  REQUIRE(same(values(dv), plane({{4, 7}, {8, 14}})));
}

TEST_CASE("avg_pool2d's gradient is differentiable in the incoming gradient", "[pool]") {
  Tensor x = leaf(xt::zeros<double>({1, 1, 2, 4}));
  Tensor v = leaf(plane({{4, 8}}));
  Tensor y = tg::avg_pool2d(x, {.kernel = 2});
  Tensor dx = tg::grad({y}, {x}, {.grad_outputs = {v}, .create_graph = true})[0];
  REQUIRE(same(values(dx), plane({{1, 1, 2, 2}, {1, 1, 2, 2}})));
  Tensor dv =
      tg::grad({dx}, {v}, {.grad_outputs = {constant(plane({{1, 2, 3, 4}, {5, 6, 7, 8}}))}})[0];
  // avg_pool2d of the weights: (1+2+5+6)/4, (3+4+7+8)/4.
  REQUIRE(close(values(dv), plane({{3.5, 5.5}})));
}

// ---------------------------------------------------------------------------------------------
// Threads, inference, errors.

TEST_CASE("pooling is bitwise identical with 1 and 2 threads", "[pool]") {
  tg::manual_seed(21);
  const tg::Shape shape = {8, 16, 30, 30};
  const xt::xarray<double> v = randn_values(shape);
  const xt::xarray<double> gm = randn_values({8, 16, 15, 15});
  const xt::xarray<double> ga = randn_values({8, 16, 30, 15});
  auto run = [&](int threads) {
    tg::set_num_threads(threads);
    std::vector<xt::xarray<float>> out;
    Tensor x = tg::tensor(xt::xarray<float>(xt::cast<float>(v)), true);
    Tensor m = tg::max_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1});
    Tensor a = tg::avg_pool2d(x, {.kernel = {3, 2},
                                  .stride = tg::Size2{1, 2},
                                  .padding = {1, 0},
                                  .count_include_pad = false});
    m.backward(tg::tensor(xt::xarray<float>(xt::cast<float>(gm))));
    out.push_back(m.value<float>());
    out.push_back(x.grad().value<float>());
    x.zero_grad();
    a.backward(tg::tensor(xt::xarray<float>(xt::cast<float>(ga))));
    out.push_back(a.value<float>());
    out.push_back(x.grad().value<float>());
    return out;
  };
  const auto one = run(1);
  const auto two = run(2);
  tg::set_num_threads(0);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    REQUIRE(one[i].shape() == two[i].shape());
    REQUIRE(bool(xt::all(xt::equal(one[i], two[i]))));
  }
}

TEST_CASE("pooling records nothing when no gradient is needed", "[pool]") {
  const auto before = tg::Node::live_count();
  Tensor x = constant(xt::ones<double>({2, 3, 4, 4}));
  Tensor m = tg::max_pool2d(x, {.kernel = 2});
  Tensor a = tg::avg_pool2d(x, {.kernel = 2});
  CHECK_FALSE(m.requires_grad());
  CHECK_FALSE(a.requires_grad());
  CHECK(tg::Node::live_count() == before);
  {
    tg::NoGradGuard no_grad;
    Tensor w = leaf(xt::ones<double>({2, 3, 4, 4}));
    Tensor y = tg::max_pool2d(w, {.kernel = 2});
    CHECK_FALSE(y.requires_grad());
    CHECK(tg::Node::live_count() == before);
  }
  Tensor w = leaf(xt::ones<double>({2, 3, 4, 4}));
  Tensor y = tg::max_pool2d(w, {.kernel = 2});
  CHECK(y.requires_grad());
  CHECK(tg::Node::live_count() == before + 1);
}

TEST_CASE("max_pool2d and avg_pool2d reject bad inputs and options", "[pool]") {
  Tensor x = constant(xt::zeros<double>({1, 1, 4, 4}));
  SECTION("max_pool2d") {
    REQUIRE_TG_ERROR(tg::max_pool2d(Tensor{}, {.kernel = 2}),
                     Contains("max_pool2d") && Contains("undefined"));
    REQUIRE_TG_ERROR(tg::max_pool2d(tg::tensor(xt::xarray<std::int64_t>::from_shape({1, 1, 4, 4})),
                                    {.kernel = 2}),
                     Contains("max_pool2d") && Contains("i64 [1,1,4,4]"));
    REQUIRE_TG_ERROR(tg::max_pool2d(constant(xt::zeros<double>({1, 4, 4})), {.kernel = 2}),
                     Contains("max_pool2d") && Contains("4-D") && Contains("[1,4,4]"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d(x, {.kernel = {2, 0}}),
        Contains("max_pool2d: kernel must be >= 1") && Contains("(2, 0)") && Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d(x, {.kernel = 2, .stride = tg::Size2{0, 1}}),
        Contains("max_pool2d: stride must be >= 1") && Contains("(0, 1)") && Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(tg::max_pool2d(x, {.kernel = 2, .padding = {-1, 0}}),
                     Contains("max_pool2d: padding must be >= 0") && Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d(x, {.kernel = 3, .padding = 2}),
        Contains("max_pool2d: padding (2, 2) must be at most half the kernel (3, 3)") &&
            Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(tg::max_pool2d(x, {.kernel = {5, 2}}),
                     Contains("max_pool2d: kernel (5, 2) does not fit in the 4x4 input plane") &&
                         Contains("empty") && Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(tg::max_pool2d(constant(xt::zeros<double>({1, 1, 0, 4})), {.kernel = 1}),
                     Contains("max_pool2d") && Contains("[1,1,0,4]") && Contains("empty"));
  }
  SECTION("avg_pool2d") {
    REQUIRE_TG_ERROR(tg::avg_pool2d(constant(xt::zeros<double>({4, 4})), {.kernel = 2}),
                     Contains("avg_pool2d") && Contains("[4,4]"));
    REQUIRE_TG_ERROR(tg::avg_pool2d(x, {.kernel = 0}),
                     Contains("avg_pool2d: kernel must be >= 1") && Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(tg::avg_pool2d(x, {.kernel = 2, .stride = tg::Size2{-1}}),
                     Contains("avg_pool2d: stride must be >= 1") && Contains("[1,1,4,4]"));
    REQUIRE_TG_ERROR(tg::avg_pool2d(x, {.kernel = {2, 4}, .padding = {0, 3}}),
                     Contains("avg_pool2d: padding (0, 3) must be at most half the kernel (2, 4)"));
    // Padding 1 brings the 4-wide plane to 6; a kernel of 7 still does not fit.
    REQUIRE_TG_ERROR(tg::avg_pool2d(x, {.kernel = 7, .padding = 1}),
                     Contains("avg_pool2d: kernel (7, 7) does not fit") && Contains("[1,1,4,4]"));
  }
}

TEST_CASE("the backward ops reject bad arguments", "[pool]") {
  Tensor g = constant(xt::zeros<double>({1, 2, 2, 2}));
  const tg::Shape in_shape = {1, 2, 4, 4};
  Tensor argmax = tg::tensor(xt::xarray<std::int64_t>(xt::zeros<std::int64_t>({1, 2, 2, 2})));
  SECTION("max_pool2d_scatter") {
    REQUIRE_NOTHROW(tg::max_pool2d_scatter(g, argmax, in_shape));
    REQUIRE_TG_ERROR(
        tg::max_pool2d_scatter(g, constant(xt::zeros<double>({1, 2, 2, 2})), in_shape),
        Contains("max_pool2d_scatter: argmax must be i64") && Contains("f64 [1,2,2,2]"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d_scatter(g, tg::tensor(xt::xarray<std::int64_t>::from_shape({1, 2, 2, 3})),
                               in_shape),
        Contains("max_pool2d_scatter") && Contains("[1,2,2,3]") && Contains("[1,2,2,2]"));
    Tensor far = tg::tensor(xt::xarray<std::int64_t>(16 * xt::ones<std::int64_t>({1, 2, 2, 2})));
    REQUIRE_TG_ERROR(tg::max_pool2d_scatter(g, far, in_shape),
                     Contains("max_pool2d_scatter") && Contains("holds 16") && Contains("4x4"));
    Tensor negative = tg::tensor(xt::xarray<std::int64_t>(-xt::ones<std::int64_t>({1, 2, 2, 2})));
    REQUIRE_TG_ERROR(tg::max_pool2d_scatter(g, negative, in_shape),
                     Contains("max_pool2d_scatter") && Contains("holds -1"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d_scatter(g, argmax, {2, 4, 4}),
        Contains("max_pool2d_scatter: input_shape must be 4-D") && Contains("[2,4,4]"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d_scatter(g, argmax, {1, 3, 4, 4}),
        Contains("max_pool2d_scatter") && Contains("[1,3,4,4]") && Contains("[1,2,2,2]"));
    REQUIRE_TG_ERROR(tg::max_pool2d_scatter(Tensor{}, argmax, in_shape),
                     Contains("max_pool2d_scatter: grad_output is undefined"));
  }
  SECTION("max_pool2d_gather") {
    Tensor gi = constant(xt::zeros<double>({1, 2, 4, 4}));
    REQUIRE_NOTHROW(tg::max_pool2d_gather(gi, argmax));
    REQUIRE_TG_ERROR(
        tg::max_pool2d_gather(constant(xt::zeros<double>({2, 2, 4, 4})), argmax),
        Contains("max_pool2d_gather") && Contains("[2,2,4,4]") && Contains("[1,2,2,2]"));
    REQUIRE_TG_ERROR(
        tg::max_pool2d_gather(gi, tg::tensor(xt::xarray<std::int64_t>::from_shape({1, 2, 4}))),
        Contains("max_pool2d_gather: argmax must be i64 [N,C,Ho,Wo]") && Contains("[1,2,4]"));
    Tensor far = tg::tensor(xt::xarray<std::int64_t>(99 * xt::ones<std::int64_t>({1, 2, 2, 2})));
    REQUIRE_TG_ERROR(tg::max_pool2d_gather(gi, far),
                     Contains("max_pool2d_gather") && Contains("holds 99"));
    REQUIRE_TG_ERROR(tg::max_pool2d_gather(constant(xt::zeros<double>({2, 4, 4})), argmax),
                     Contains("max_pool2d_gather") && Contains("[2,4,4]"));
  }
  SECTION("avg_pool2d_backward") {
    REQUIRE_NOTHROW(tg::avg_pool2d_backward(g, in_shape, {.kernel = 2}));
    REQUIRE_TG_ERROR(tg::avg_pool2d_backward(g, in_shape, {.kernel = 3}),
                     Contains("avg_pool2d_backward: grad_output [1,2,2,2] does not match the "
                              "output [1,2,1,1]") &&
                         Contains("[1,2,4,4]"));
    REQUIRE_TG_ERROR(
        tg::avg_pool2d_backward(g, {2, 4, 4}, {.kernel = 2}),
        Contains("avg_pool2d_backward: input_shape must be 4-D") && Contains("[2,4,4]"));
    REQUIRE_TG_ERROR(tg::avg_pool2d_backward(g, in_shape, {.kernel = 2, .padding = 2}),
                     Contains("avg_pool2d_backward: padding (2, 2) must be at most half") &&
                         Contains("[1,2,4,4]"));
  }
}

// ---------------------------------------------------------------------------------------------
// Max-pooling's dilation and ceil_mode, and max_pool2d_with_indices, against a naive loop that
// computes the output size by PyTorch's formula written out independently.

namespace {

struct DilatedConfig {
  std::size_t n, c, h, w;
  std::int64_t k[2], s[2], p[2], d[2];
  bool ceil_mode;

  std::int64_t in(int dim) const { return static_cast<std::int64_t>(dim == 0 ? h : w); }
  // PyTorch's pooling_output_shape: floor or ceil of (in + 2p - d(k-1) - 1) / s, plus 1, less one
  // if the last window would start in the right padding.
  std::int64_t out(int dim) const {
    const double span = static_cast<double>(in(dim) + 2 * p[dim] - d[dim] * (k[dim] - 1) - 1);
    const double steps = span / static_cast<double>(s[dim]);
    std::int64_t size =
        static_cast<std::int64_t>(ceil_mode ? std::ceil(steps) : std::floor(steps)) + 1;
    if (ceil_mode && (size - 1) * s[dim] >= in(dim) + p[dim]) --size;
    return size;
  }
  tg::MaxPool2dOptions options() const {
    return {.kernel = {k[0], k[1]},
            .stride = tg::Size2{s[0], s[1]},
            .padding = {p[0], p[1]},
            .dilation = {d[0], d[1]},
            .ceil_mode = ceil_mode};
  }
  std::string describe() const {
    return fmt::format(
        "input [{},{},{},{}] kernel {}x{} stride {}x{} padding {}x{} dilation {}x{} "
        "ceil_mode {}",
        n, c, h, w, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], ceil_mode);
  }
};

// Every window holds an input position (else tapegrad refuses the configuration; tested below).
bool windows_hold_input(const DilatedConfig& cfg) {
  for (int dim = 0; dim < 2; ++dim) {
    for (std::int64_t o = 0; o < cfg.out(dim); ++o) {
      bool any = false;
      for (std::int64_t i = 0; i < cfg.k[dim]; ++i) {
        const std::int64_t pos = o * cfg.s[dim] - cfg.p[dim] + i * cfg.d[dim];
        any = any || (pos >= 0 && pos < cfg.in(dim));
      }
      if (!any) return false;
    }
  }
  return true;
}

DilatedConfig random_dilated_config() {
  for (;;) {
    DilatedConfig cfg{};
    cfg.n = static_cast<std::size_t>(uniform_int(1, 2));
    cfg.c = static_cast<std::size_t>(uniform_int(1, 3));
    cfg.h = static_cast<std::size_t>(uniform_int(1, 9));
    cfg.w = static_cast<std::size_t>(uniform_int(1, 9));
    for (int dim = 0; dim < 2; ++dim) {
      cfg.k[dim] = uniform_int(1, 4);
      cfg.s[dim] = uniform_int(1, 3);
      cfg.p[dim] = uniform_int(0, cfg.k[dim] / 2);
      cfg.d[dim] = uniform_int(1, 3);
    }
    cfg.ceil_mode = uniform_int(0, 1) == 1;
    if (cfg.out(0) >= 1 && cfg.out(1) >= 1 && windows_hold_input(cfg)) return cfg;
  }
}

MaxReference naive_dilated_max(const xt::xarray<double>& x, const DilatedConfig& cfg) {
  const tg::Shape out_shape{cfg.n, cfg.c, static_cast<std::size_t>(cfg.out(0)),
                            static_cast<std::size_t>(cfg.out(1))};
  MaxReference ref{xt::xarray<double>::from_shape(out_shape),
                   xt::xarray<std::int64_t>::from_shape(out_shape)};
  for (std::size_t n = 0; n < cfg.n; ++n)
    for (std::size_t c = 0; c < cfg.c; ++c)
      for (std::size_t oh = 0; oh < out_shape[2]; ++oh)
        for (std::size_t ow = 0; ow < out_shape[3]; ++ow) {
          double best = -std::numeric_limits<double>::infinity();
          std::int64_t where = -1;
          for (std::int64_t i = 0; i < cfg.k[0]; ++i)
            for (std::int64_t j = 0; j < cfg.k[1]; ++j) {
              const std::int64_t hh =
                  static_cast<std::int64_t>(oh) * cfg.s[0] - cfg.p[0] + i * cfg.d[0];
              const std::int64_t ww =
                  static_cast<std::int64_t>(ow) * cfg.s[1] - cfg.p[1] + j * cfg.d[1];
              if (hh < 0 || ww < 0 || hh >= cfg.in(0) || ww >= cfg.in(1)) continue;
              const double v = x(n, c, static_cast<std::size_t>(hh), static_cast<std::size_t>(ww));
              if (where < 0 || v > best) {
                best = v;
                where = hh * cfg.in(1) + ww;
              }
            }
          ref.out(n, c, oh, ow) = best;
          ref.argmax(n, c, oh, ow) = where;
        }
  return ref;
}

}  // namespace

TEST_CASE("max_pool2d with dilation and ceil_mode matches a naive loop, indices too", "[pool]") {
  tg::manual_seed(13);
  for (int trial = 0; trial < 60; ++trial) {
    const DilatedConfig cfg = random_dilated_config();
    INFO("trial " << trial << ": " << cfg.describe());
    const tg::Shape shape{cfg.n, cfg.c, cfg.h, cfg.w};
    const xt::xarray<double> x = trial % 2 == 0 ? distinct_values(shape) : tied_values(shape);
    const MaxReference ref = naive_dilated_max(x, cfg);
    auto [values, indices] = tg::max_pool2d_with_indices(tg::tensor(x), cfg.options());
    REQUIRE(same(values.value<double>(), ref.out));
    REQUIRE(bool(xt::all(xt::equal(indices.value<std::int64_t>(), ref.argmax))));
    REQUIRE(same(tg::max_pool2d(tg::tensor(x), cfg.options()).value<double>(), ref.out));
  }
}

TEST_CASE("ceil_mode adds the partial window PyTorch adds, never one in the padding", "[pool]") {
  // 5 wide, kernel 2, stride 2: floor gives 2 windows, ceil 3 (the last holds column 4 only).
  Tensor x = tg::tensor(xt::xarray<double>{{{{1, 5, 2, 0, 7}}}});
  Tensor floor_out = tg::max_pool2d(x, {.kernel = {1, 2}, .stride = {1, 2}});
  Tensor ceil_out = tg::max_pool2d(x, {.kernel = {1, 2}, .stride = {1, 2}, .ceil_mode = true});
  REQUIRE(same(floor_out.value<double>(), xt::xarray<double>{{{{5, 2}}}}));
  REQUIRE(same(ceil_out.value<double>(), xt::xarray<double>{{{{5, 2, 7}}}}));
  // 4 wide, kernel 2, stride 2, padding 1: ceil((4 + 2 - 2) / 2) + 1 = 3 windows starting at -1,
  // 1, 3; a 4th would start at 5 >= 4 + 1, in the right padding, and is dropped.
  Tensor y = tg::tensor(xt::xarray<double>{{{{1, 5, 2, 7}}}});
  Tensor padded =
      tg::max_pool2d(y, {.kernel = {1, 2}, .stride = {1, 2}, .padding = {0, 1}, .ceil_mode = true});
  REQUIRE(same(padded.value<double>(), xt::xarray<double>{{{{1, 5, 7}}}}));
  // Dilation 2, kernel 2 over 1, 5, 2, 0, 7: taps (0, 2), (1, 3), (2, 4) -> 2, 5, 7.
  Tensor dilated = tg::max_pool2d(x, {.kernel = {1, 2}, .stride = 1, .dilation = {1, 2}});
  REQUIRE(same(dilated.value<double>(), xt::xarray<double>{{{{2, 5, 7}}}}));
}

TEST_CASE("gradcheck max_pool2d with dilation and ceil_mode", "[pool][gradcheck]") {
  tg::manual_seed(14);
  for (int trial = 0; trial < 20; ++trial) {
    const DilatedConfig cfg = random_dilated_config();
    INFO("trial " << trial << ": " << cfg.describe());
    Tensor x = leaf(distinct_values({cfg.n, cfg.c, cfg.h, cfg.w}));
    const auto options = cfg.options();
    auto result = tg::gradcheck(
        [options](const std::vector<Tensor>& in) { return tg::max_pool2d(in[0], options); }, {x},
        {.seed = static_cast<std::uint64_t>(trial), .check_grad_grad = trial % 2 == 0});
    INFO(result.message);
    CHECK(result);
  }
}

TEST_CASE("max_pool2d_with_indices gives the indices its scatter takes", "[pool]") {
  tg::manual_seed(15);
  Tensor x = leaf(distinct_values({2, 3, 6, 5}));
  const tg::MaxPool2dOptions options{.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true};
  auto [values, indices] = tg::max_pool2d_with_indices(x, options);
  CHECK(indices.dtype() == tg::i64);
  CHECK(!indices.requires_grad());
  Tensor g = tg::randn(values.shape(), {.dtype = tg::f64});
  values.backward(g);
  Tensor scattered = tg::max_pool2d_scatter(g, indices, x.shape());
  REQUIRE(same(scattered.value<double>(), x.grad().value<double>()));
}

TEST_CASE("adaptive_avg_pool2d by hand: global, exact and overlapping windows", "[pool]") {
  Tensor x = tg::tensor(xt::xarray<double>{{{{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}}}});
  // Global average pooling: the mean of the plane.
  REQUIRE(close(tg::adaptive_avg_pool2d(x, 1).value<double>(), plane({{5.5}})));
  // 5 columns into 3: windows [0, 2), [1, 4), [3, 5) (floor(i 5/3) to ceil((i+1) 5/3)).
  REQUIRE(close(tg::adaptive_avg_pool2d(x, {1, 3}).value<double>(),
                xt::xarray<double>{{{{(1 + 2 + 6 + 7) / 4.0, (2 + 3 + 4 + 7 + 8 + 9) / 6.0,
                                      (4 + 5 + 9 + 10) / 4.0}}}}));
  // More outputs than inputs: windows repeat rows.
  REQUIRE(close(tg::adaptive_avg_pool2d(x, {3, 1}).value<double>(), plane({{3.0}, {5.5}, {8.0}})));
  // The gradient of global pooling spreads g / (H W) everywhere.
  Tensor leaf_x = leaf(x.value<double>());
  tg::adaptive_avg_pool2d(leaf_x, 1).backward(tg::full({1, 1, 1, 1}, 10.0, {.dtype = tg::f64}));
  REQUIRE(close(leaf_x.grad().value<double>(), xt::ones<double>({1, 1, 2, 5})));
}

TEST_CASE("gradcheck adaptive_avg_pool2d on random shapes, to second order", "[pool][gradcheck]") {
  tg::manual_seed(16);
  for (int trial = 0; trial < 16; ++trial) {
    const tg::Shape shape{
        static_cast<std::size_t>(uniform_int(1, 2)), static_cast<std::size_t>(uniform_int(1, 3)),
        static_cast<std::size_t>(uniform_int(1, 7)), static_cast<std::size_t>(uniform_int(1, 7))};
    const tg::Size2 out{uniform_int(1, 8), uniform_int(1, 8)};
    INFO("trial " << trial << ": input " << tg::to_string(shape) << " output "
                  << tg::to_string(out));
    Tensor x = leaf(distinct_values(shape));
    auto result = tg::gradcheck(
        [out](const std::vector<Tensor>& in) {
          // Squared, so that the second derivative is not zero.
          Tensor y = tg::adaptive_avg_pool2d(in[0], out);
          return y * y;
        },
        {x}, {.seed = static_cast<std::uint64_t>(trial), .check_grad_grad = true});
    INFO(result.message);
    CHECK(result);
  }
}

TEST_CASE("dilation, ceil_mode and adaptive pooling reject bad options", "[pool]") {
  using Catch::Contains;
  Tensor x = tg::randn({1, 2, 5, 5});
  REQUIRE_THROWS_WITH(
      tg::max_pool2d(x, {.kernel = 2, .dilation = 0}),
      Contains("max_pool2d") && Contains("dilation must be >= 1") && Contains("[1,2,5,5]"));
  // Dilation 5 with kernel 2 spans 6 > 5 positions.
  REQUIRE_THROWS_WITH(tg::max_pool2d(x, {.kernel = 2, .dilation = 5}),
                      Contains("does not fit") && Contains("dilation (5, 5)"));
  // Taps -1 and 2 of a 2-wide plane: the first window holds only padding.
  REQUIRE_THROWS_WITH(tg::max_pool2d(tg::randn({1, 1, 2, 2}),
                                     {.kernel = 2, .stride = 1, .padding = 1, .dilation = 3}),
                      Contains("covers only padding"));
  REQUIRE_THROWS_WITH(tg::max_pool2d(x, {.kernel = 2, .dilation = {1, std::int64_t{1} << 62}}),
                      Contains("does not fit"));
  REQUIRE_THROWS_WITH(tg::adaptive_avg_pool2d(x, {0, 2}), Contains("adaptive_avg_pool2d") &&
                                                              Contains("output_size") &&
                                                              Contains("[1,2,5,5]"));
  REQUIRE_THROWS_WITH(tg::adaptive_avg_pool2d(tg::randn({2, 5, 5}), 1),
                      Contains("adaptive_avg_pool2d") && Contains("[N,C,H,W]"));
  REQUIRE_THROWS_WITH(tg::adaptive_avg_pool2d(tg::randn({1, 1, 0, 3}), 1), Contains("empty"));
  REQUIRE_THROWS_AS(tg::adaptive_avg_pool2d(tg::zeros({1, 1, 2, 2}, {.dtype = tg::i64}), 1),
                    tg::Error);
  REQUIRE_THROWS_WITH(tg::max_pool2d_with_indices(x, {.kernel = 6}), Contains("max_pool2d"));
}

TEST_CASE("ceil_mode with a stride near 2^63 computes the output size without overflow", "[pool]") {
  Tensor x = tg::tensor(xt::xarray<double>{{{{1, 5, 2, 0, 7}}}});
  Tensor y = tg::max_pool2d(x, {.kernel = 1, .stride = INT64_MAX, .ceil_mode = true});
  // One window per dim: the next would start past the input.
  REQUIRE(same(y.value<double>(), plane({{1}})));
}
