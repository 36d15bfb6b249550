// conv2d, conv2d_input_grad and conv2d_weight_grad: the seed's worked example by hand, gradient
// checks on random configurations, a direct-loop reference, determinism and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "../ops/kernels/column_weight_grad.hpp"
#include "../ops/kernels/direct_conv.hpp"
#include "../ops/kernels/scratch.hpp"
#include "../ops/kernels/shifted_conv.hpp"
#include "../ops/kernels/winograd.hpp"

namespace {

using tg::Tensor;

Tensor f64(xt::xarray<double> v, bool requires_grad = false) {
  return tg::tensor(std::move(v), requires_grad);
}

Tensor randn64(const tg::Shape& shape, bool requires_grad = true) {
  return tg::randn(shape, {.dtype = tg::f64, .requires_grad = requires_grad});
}

// A random valid configuration: every option can differ between height and width.
struct Config {
  std::size_t batch, in_channels, out_channels, height, width, kernel_h, kernel_w;
  tg::Conv2dOptions options;
  bool bias;

  tg::Shape input_shape() const { return {batch, in_channels, height, width}; }
  tg::Shape weight_shape() const { return {out_channels, in_channels, kernel_h, kernel_w}; }
  std::string str() const {
    return fmt::format(
        "input [{},{},{},{}] weight [{},{},{},{}] stride ({},{}) padding ({},{}) "
        "dilation ({},{}) bias {}",
        batch, in_channels, height, width, out_channels, in_channels, kernel_h, kernel_w,
        options.stride.h, options.stride.w, options.padding.h, options.padding.w,
        options.dilation.h, options.dilation.w, bias);
  }
};

Config random_config(tg::Generator& gen, std::size_t max_batch = 3) {
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  auto i64 = [](std::size_t v) { return static_cast<std::int64_t>(v); };
  Config c{};
  c.batch = pick(1, max_batch);
  c.in_channels = pick(1, 3);
  c.out_channels = pick(1, 3);
  c.kernel_h = pick(1, 3);
  c.kernel_w = pick(1, 3);
  c.options.stride = {i64(pick(1, 3)), i64(pick(1, 3))};
  c.options.padding = {i64(pick(0, 2)), i64(pick(0, 2))};
  c.options.dilation = {i64(pick(1, 2)), i64(pick(1, 2))};
  // The smallest input the dilated kernel fits in (after padding), plus up to 3.
  auto smallest = [&](std::size_t k, std::int64_t d, std::int64_t p) {
    return static_cast<std::size_t>(std::max<std::int64_t>(1, d * (i64(k) - 1) + 1 - 2 * p));
  };
  c.height = smallest(c.kernel_h, c.options.dilation.h, c.options.padding.h) + pick(0, 3);
  c.width = smallest(c.kernel_w, c.options.dilation.w, c.options.padding.w) + pick(0, 3);
  c.bias = gen.below(2) == 1;
  return c;
}

std::size_t out_size(std::size_t in, std::size_t k, std::int64_t s, std::int64_t p,
                     std::int64_t d) {
  return static_cast<std::size_t>(
      (static_cast<std::int64_t>(in) + 2 * p - d * (static_cast<std::int64_t>(k) - 1) - 1) / s + 1);
}

// The kernels' description of one image of c.
tg::kernels::ConvGeometry geometry(const Config& c) {
  const auto& o = c.options;
  auto size = [](std::int64_t v) { return static_cast<std::size_t>(v); };
  return {.channels = c.in_channels,
          .height = c.height,
          .width = c.width,
          .kernel_h = c.kernel_h,
          .kernel_w = c.kernel_w,
          .stride_h = size(o.stride.h),
          .stride_w = size(o.stride.w),
          .pad_h = size(o.padding.h),
          .pad_w = size(o.padding.w),
          .dilation_h = size(o.dilation.h),
          .dilation_w = size(o.dilation.w),
          .out_h = out_size(c.height, c.kernel_h, o.stride.h, o.padding.h, o.dilation.h),
          .out_w = out_size(c.width, c.kernel_w, o.stride.w, o.padding.w, o.dilation.w)};
}

// The header's formulas as plain loops over (n, o, y, x, c, m, k). Each call visits every
// (output position, kernel tap) pair whose input position is inside the image.
template <class F>
void for_each_term(const Config& c, F&& term) {
  const auto& o = c.options;
  const auto g = geometry(c);
  for (std::size_t n = 0; n < c.batch; ++n)
    for (std::size_t oc = 0; oc < c.out_channels; ++oc)
      for (std::size_t y = 0; y < g.out_h; ++y)
        for (std::size_t x = 0; x < g.out_w; ++x)
          for (std::size_t ic = 0; ic < c.in_channels; ++ic)
            for (std::size_t m = 0; m < c.kernel_h; ++m)
              for (std::size_t k = 0; k < c.kernel_w; ++k) {
                const std::int64_t iy = static_cast<std::int64_t>(y) * o.stride.h - o.padding.h +
                                        static_cast<std::int64_t>(m) * o.dilation.h;
                const std::int64_t ix = static_cast<std::int64_t>(x) * o.stride.w - o.padding.w +
                                        static_cast<std::int64_t>(k) * o.dilation.w;
                if (iy < 0 || ix < 0 || iy >= static_cast<std::int64_t>(c.height) ||
                    ix >= static_cast<std::int64_t>(c.width)) {
                  continue;
                }
                term(n, oc, y, x, ic, m, k, static_cast<std::size_t>(iy),
                     static_cast<std::size_t>(ix));
              }
}

xt::xarray<double> reference_conv(const Config& c, const xt::xarray<double>& in,
                                  const xt::xarray<double>& w, const xt::xarray<double>& b) {
  const auto g = geometry(c);
  xt::xarray<double> out = xt::zeros<double>({c.batch, c.out_channels, g.out_h, g.out_w});
  for_each_term(c, [&](auto n, auto oc, auto y, auto x, auto ic, auto m, auto k, auto iy, auto ix) {
    out(n, oc, y, x) += w(oc, ic, m, k) * in(n, ic, iy, ix);
  });
  if (c.bias) {
    for (std::size_t n = 0; n < c.batch; ++n)
      for (std::size_t oc = 0; oc < c.out_channels; ++oc) xt::view(out, n, oc) += b(oc);
  }
  return out;
}

xt::xarray<double> reference_input_grad(const Config& c, const xt::xarray<double>& delta,
                                        const xt::xarray<double>& w) {
  xt::xarray<double> dx = xt::zeros<double>(c.input_shape());
  for_each_term(c, [&](auto n, auto oc, auto y, auto x, auto ic, auto m, auto k, auto iy, auto ix) {
    dx(n, ic, iy, ix) += delta(n, oc, y, x) * w(oc, ic, m, k);
  });
  return dx;
}

xt::xarray<double> reference_weight_grad(const Config& c, const xt::xarray<double>& delta,
                                         const xt::xarray<double>& in) {
  xt::xarray<double> dw = xt::zeros<double>(c.weight_shape());
  for_each_term(c, [&](auto n, auto oc, auto y, auto x, auto ic, auto m, auto k, auto iy, auto ix) {
    dw(oc, ic, m, k) += delta(n, oc, y, x) * in(n, ic, iy, ix);
  });
  return dw;
}

// conv2d, conv2d_input_grad and conv2d_weight_grad of c against the direct loops, in double
// (tight) and in float (the f64 reference of the float-rounded values).
void check_against_reference(const Config& c) {
  Tensor x = randn64(c.input_shape(), false);
  Tensor w = randn64(c.weight_shape(), false);
  Tensor b = c.bias ? randn64({c.out_channels}, false) : Tensor{};
  const xt::xarray<double> bias_values =
      c.bias ? b.value<double>() : xt::xarray<double>(xt::zeros<double>({c.out_channels}));
  const auto expected = reference_conv(c, x.value<double>(), w.value<double>(), bias_values);
  Tensor delta = randn64(expected.shape(), false);
  const auto expected_dx = reference_input_grad(c, delta.value<double>(), w.value<double>());
  const auto expected_dw = reference_weight_grad(c, delta.value<double>(), x.value<double>());

  Tensor out = tg::conv2d(x, w, b, c.options);
  REQUIRE(out.shape() == expected.shape());
  CHECK(bool(xt::allclose(out.value<double>(), expected, 1e-12, 1e-12)));
  CHECK(
      bool(xt::allclose(tg::conv2d_input_grad(delta, w, c.input_shape(), c.options).value<double>(),
                        expected_dx, 1e-12, 1e-12)));
  CHECK(bool(
      xt::allclose(tg::conv2d_weight_grad(delta, x, c.weight_shape(), c.options).value<double>(),
                   expected_dw, 1e-12, 1e-12)));

  auto f32 = [](const Tensor& t) { return t.defined() ? t.to(tg::f32) : Tensor{}; };
  auto as_double = [](const Tensor& t) { return xt::xarray<double>(t.value<float>()); };
  const auto expected32 = reference_conv(c, as_double(f32(x)), as_double(f32(w)),
                                         c.bias ? as_double(f32(b)) : bias_values);
  CHECK(bool(xt::allclose(as_double(tg::conv2d(f32(x), f32(w), f32(b), c.options)), expected32,
                          1e-4, 1e-4)));
  const auto expected_dx32 = reference_input_grad(c, as_double(f32(delta)), as_double(f32(w)));
  CHECK(bool(
      xt::allclose(as_double(tg::conv2d_input_grad(f32(delta), f32(w), c.input_shape(), c.options)),
                   expected_dx32, 1e-4, 1e-4)));
  const auto expected_dw32 = reference_weight_grad(c, as_double(f32(delta)), as_double(f32(x)));
  CHECK(bool(xt::allclose(
      as_double(tg::conv2d_weight_grad(f32(delta), f32(x), c.weight_shape(), c.options)),
      expected_dw32, 1e-4, 1e-3)));
}

}  // namespace

TEST_CASE("conv2d reproduces the seed's worked example (eq. 5-15) by hand", "[conv]") {
  // 4x4 input i[r][c] = 4r + c + 1 (0-based r, c), 2x2 kernel h11=1 h12=2 h21=3 h22=4, b=0.5.
  Tensor i = f64({{{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}}}}, true);
  Tensor h = f64({{{{1, 2}, {3, 4}}}}, true);
  Tensor b = f64({0.5}, true);
  Tensor net = tg::conv2d(i, h, b);

  // Eq. 5: net_o[y][x] = i[y][x] h11 + i[y][x+1] h12 + i[y+1][x] h21 + i[y+1][x+1] h22
  //      = (4y+x+1) + 2(4y+x+2) + 3(4y+x+5) + 4(4y+x+6) = 40y + 10x + 44, plus b.
  const xt::xarray<double> expected_net = {
      {{{44.5, 54.5, 64.5}, {84.5, 94.5, 104.5}, {124.5, 134.5, 144.5}}}};
  REQUIRE(bool(xt::allclose(net.value<double>(), expected_net)));

  // delta = dE/dnet_o, chosen; E = sum(delta * net_o), so backward(delta) gives dE/d*.
  const xt::xarray<double> delta = {{{{1, 2, 0}, {0, -1, 1}, {3, 0, -2}}}};
  net.backward(f64(delta));

  // Eq. 11: dE/di = zero_pad(delta, 1) full-correlated with rot180(h) = [[h22,h21],[h12,h11]]:
  //   dE/di[r][c] = 4 d[r-1][c-1] + 3 d[r-1][c] + 2 d[r][c-1] + 1 d[r][c]  (d = 0 outside).
  // Eq. 6-10 spelled out (1-based as the seed): dE/di11 = d11 h11 = 1;
  //   dE/di12 = d11 h12 + d12 h11 = 2 + 2 = 4;  dE/di13 = d12 h12 + d13 h11 = 4 + 0 = 4;
  //   dE/di21 = d11 h21 + d21 h11 = 3 + 0 = 3;
  //   dE/di22 = d11 h22 + d12 h21 + d21 h12 + d22 h11 = 4 + 6 + 0 - 1 = 9.
  // The rest by the same rule, e.g. dE/di33 = 4(-1) + 3(1) + 2(0) + (-2) = -3,
  //   dE/di44 = 4 d33 = -8, dE/di41 = 3 d31 = 9, dE/di42 = 4 d31 + 3 d32 = 12.
  const xt::xarray<double> expected_di = {
      {{{1, 4, 4, 0}, {3, 9, 7, 2}, {3, 3, -3, 0}, {9, 12, -6, -8}}}};
  CHECK(bool(xt::allclose(i.grad().value<double>(), expected_di)));

  // Eq. 14 corrected: dE/dh[m][n] = sum_{y,x} d[y][x] i[y+m][x+n]
  //   = sum d[y][x] (4y+x+1) + (4m+n) sum d = 11 + 4 (4m+n), since
  //   sum d (4y+x+1) = 1*1 + 2*2 + (-1)*6 + 1*7 + 3*9 + (-2)*11 = 11 and sum d = 4.
  const xt::xarray<double> expected_dh = {{{{11, 15}, {27, 31}}}};
  CHECK(bool(xt::allclose(h.grad().value<double>(), expected_dh)));

  // Eq. 15: dE/db = sum of all delta = 4.
  CHECK(b.grad().value<double>()(0) == Approx(4.0));
}

TEST_CASE("conv2d gradchecks on random configurations", "[conv]") {
  tg::manual_seed(11);
  tg::Generator gen(2024);
  for (int trial = 0; trial < 24; ++trial) {
    const Config c = random_config(gen);
    INFO("trial " << trial << ": " << c.str());
    Tensor x = randn64(c.input_shape());
    Tensor w = randn64(c.weight_shape());
    Tensor b = c.bias ? randn64({c.out_channels}) : Tensor{};
    const auto options = c.options;
    auto result = tg::gradcheck(
        [options](const std::vector<Tensor>& in) {
          return tg::conv2d(in[0], in[1], in[2], options);
        },
        {x, w, b}, {.check_grad_grad = trial % 3 == 0});
    INFO(result.message);
    CHECK(result);
  }
}

TEST_CASE("conv2d gradchecks a 1x1 kernel, a batch of one and an input gradient alone", "[conv]") {
  tg::manual_seed(12);
  Tensor x = randn64({1, 3, 4, 5});
  Tensor w = randn64({2, 3, 1, 1});
  Tensor b = randn64({2});
  auto conv = [](const std::vector<Tensor>& in) { return tg::conv2d(in[0], in[1], in[2]); };
  CHECK(tg::gradcheck(conv, {x, w, b}, {.check_grad_grad = true}));
  // Only the input requires grad: the weight is held constant.
  CHECK(tg::gradcheck(conv, {x, w.detach(), Tensor{}}, {.check_grad_grad = true}));
}

TEST_CASE("conv2d_input_grad and conv2d_weight_grad gradcheck directly", "[conv]") {
  tg::manual_seed(13);
  tg::Generator gen(77);
  for (int trial = 0; trial < 8; ++trial) {
    const Config c = random_config(gen);
    INFO("trial " << trial << ": " << c.str());
    const auto options = c.options;
    const tg::Shape out_shape =
        tg::conv2d(tg::zeros(c.input_shape(), {.dtype = tg::f64}),
                   tg::zeros(c.weight_shape(), {.dtype = tg::f64}), Tensor{}, options)
            .shape();
    Tensor delta = randn64(out_shape);
    Tensor w = randn64(c.weight_shape());
    Tensor x = randn64(c.input_shape());
    const tg::GradcheckOptions check{.check_grad_grad = trial % 2 == 0};

    const tg::Shape input_shape = c.input_shape();
    auto input_result = tg::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return tg::conv2d_input_grad(in[0], in[1], input_shape, options);
        },
        {delta, w}, check);
    INFO(input_result.message);
    CHECK(input_result);

    const tg::Shape weight_shape = c.weight_shape();
    auto weight_result = tg::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return tg::conv2d_weight_grad(in[0], in[1], weight_shape, options);
        },
        {delta, x}, check);
    INFO(weight_result.message);
    CHECK(weight_result);
  }
}

TEST_CASE("conv2d and its gradients match a direct-loop reference", "[conv]") {
  tg::manual_seed(14);
  tg::Generator gen(5);
  for (int trial = 0; trial < 30; ++trial) {
    // Batches up to 20 reach the chunked weight-gradient sum (chunks of 8 images).
    const Config c = random_config(gen, trial % 3 == 0 ? 20 : 3);
    INFO("trial " << trial << ": " << c.str());
    check_against_reference(c);
  }
}

TEST_CASE("conv2d's weight gradient has the same bits for 1 and 2 threads", "[conv]") {
  tg::manual_seed(15);
  const tg::Conv2dOptions options{.stride = {1, 2}, .padding = 1};
  Tensor x = tg::randn({37, 3, 12, 11});
  Tensor w = tg::randn({5, 3, 3, 3});
  Tensor b = tg::randn({5});
  Tensor delta = tg::randn(tg::conv2d(x, w, b, options).shape());

  auto gradients = [&](int threads) {
    tg::set_num_threads(threads);
    Tensor xr = x.detach().set_requires_grad(true);
    Tensor wr = w.detach().set_requires_grad(true);
    Tensor br = b.detach().set_requires_grad(true);
    tg::conv2d(xr, wr, br, options).backward(delta);
    return std::vector<xt::xarray<float>>{wr.grad().value<float>(), xr.grad().value<float>(),
                                          br.grad().value<float>()};
  };
  const auto one = gradients(1);
  const auto two = gradients(2);
  tg::set_num_threads(0);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("gradient " << i);
    CHECK(bool(xt::all(xt::equal(one[i], two[i]))));
  }
}

// The weight gradient runs either way round (dW = delta x cols^T, or dW^T = cols x delta^T when
// C_in*kH*kW fills the GEMM's register tile worse than C_out does): a layer of each kind, as
// mnist_cnn's first (1 -> 32, 3x3) and LeNet-5's second (6 -> 16, 5x5), in float and double,
// against the direct loops, and with the same bits for 1 and 2 threads.
TEST_CASE("conv2d's weight gradient is right both ways round", "[conv]") {
  tg::manual_seed(16);
  for (auto [in_channels, out_channels, kernel] :
       {std::tuple<std::size_t, std::size_t, std::size_t>{1, 32, 3},
        std::tuple<std::size_t, std::size_t, std::size_t>{6, 16, 5}}) {
    Config c{.batch = 19,  // chunks of 8 images, the last partial
             .in_channels = in_channels,
             .out_channels = out_channels,
             .height = 11,
             .width = 10,
             .kernel_h = kernel,
             .kernel_w = kernel,
             .options = {},
             .bias = false};
    INFO(c.str());
    Tensor x = randn64(c.input_shape(), false);
    Tensor delta = randn64(tg::conv2d(x, randn64(c.weight_shape(), false)).shape(), false);
    const auto expected = reference_weight_grad(c, delta.value<double>(), x.value<double>());
    CHECK(bool(
        xt::allclose(tg::conv2d_weight_grad(delta, x, c.weight_shape(), c.options).value<double>(),
                     expected, 1e-12, 1e-12)));
    auto in_float = [&](int threads) {
      tg::set_num_threads(threads);
      xt::xarray<float> grad =
          tg::conv2d_weight_grad(delta.to(tg::f32), x.to(tg::f32), c.weight_shape(), c.options)
              .value<float>();
      tg::set_num_threads(0);
      return grad;
    };
    const xt::xarray<float> one = in_float(1);
    CHECK(bool(xt::allclose(xt::xarray<double>(one), expected, 1e-4, 1e-3)));
    CHECK(bool(xt::all(xt::equal(one, in_float(2)))));
  }
}

// Layers with at most as many taps as output channels (C_in*kH*kW <= C_out) and a vector of output
// pixels take the weight gradient as dot products along the pixels (column_weight_grad.hpp):
// random shapes with stride 1 (rows of taps shared) and 2 (plain im2col), paddings, dilations,
// pixel counts with and without a partial last vector, channel counts with a partial register
// tile, more taps than a tile holds, batches of one (channels split across threads) and of 19
// (chunks of 8 images), and images small enough for the taps' own aligned rows (stride_w 1 and
// output rows of 16 or more: some padded, some of more than five taps) and (every sixth) too
// large for them. Against the direct loops; the bias gradient of a plain backward, taken in
// the same pass, with the bits of sum(delta, {0, 2, 3}) (what a create_graph backward records),
// and everything with the same bits for 1 and 2 threads.
TEST_CASE("conv2d's weight gradient by dot products along the pixels matches the direct loops",
          "[conv]") {
  tg::manual_seed(25);
  tg::Generator gen(25);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  auto i64 = [](std::size_t v) { return static_cast<std::int64_t>(v); };
  // Trials whose taps got their own rows, for each type, and large ones that could have had them
  // but kept shared rows (over the copy's budget).
  int own_rows_float = 0;
  int own_rows_double = 0;
  int own_rows_padded = 0;      // with a zero border
  int own_rows_two_passes = 0;  // more than the five taps the copy writes at a time
  int large_shared = 0;
  for (int trial = 0; trial < 24; ++trial) {
    Config c{};
    c.batch = trial % 3 == 0 ? 1 : (trial % 3 == 1 ? 5 : 19);
    c.in_channels = trial % 4 == 3 ? 2 : 1;
    c.kernel_h = pick(1, 3);
    c.kernel_w = trial % 8 == 7 ? 5 : pick(1, 3);  // 10 taps with 2 channels: over a 9-tap tile
    const std::size_t taps = c.in_channels * c.kernel_h * c.kernel_w;
    c.out_channels = taps + pick(0, 7);
    c.options.stride = {i64(trial % 2 == 0 ? 1 : 2), i64(pick(1, 2))};
    c.options.padding = {i64(pick(0, 2)), i64(pick(0, 2))};
    c.options.dilation = {i64(pick(1, 2)), i64(pick(1, 2))};
    const bool large = trial % 6 == 4;
    c.height = large ? pick(64, 72) : pick(10, 20);
    c.width = large ? pick(64, 72) : pick(8, 20);
    c.bias = true;
    INFO("trial " << trial << ": " << c.str());
    const auto g = geometry(c);
    REQUIRE(tg::kernels::column_weight_grad_applies<float>(g, c.out_channels));
    REQUIRE(tg::kernels::column_weight_grad_applies<double>(g, c.out_channels));
    // Which trials' taps get their own rows (the copy itself is checked against im2col below).
    auto count_own_rows = [&]<class T>(T, int& count) {
      const tg::kernels::ColumnWeightGrad<T> kernel(g, c.out_channels);
      if (!kernel.columns().aligned()) return;
      ++count;
      own_rows_padded += g.pad_h + g.pad_w > 0 ? 1 : 0;
      own_rows_two_passes += taps > 5 ? 1 : 0;
    };
    count_own_rows(0.0F, own_rows_float);
    count_own_rows(0.0, own_rows_double);
    if (large && g.kernel_h > 1 && tg::kernels::ImageColumns::aligns(g)) {
      const tg::kernels::ColumnWeightGrad<float> kernel(g, c.out_channels);
      large_shared += kernel.columns().aligned() ? 0 : 1;
    }

    const Tensor x = randn64(c.input_shape(), false);
    const Tensor w = randn64(c.weight_shape(), false);
    const Tensor b = randn64({c.out_channels}, false);
    const Tensor delta = randn64({c.batch, c.out_channels, g.out_h, g.out_w}, false);
    const auto expected = reference_weight_grad(c, delta.value<double>(), x.value<double>());
    for (const tg::DType dtype : {tg::f64, tg::f32}) {
      INFO((dtype == tg::f64 ? "f64" : "f32"));
      // The three gradients of a plain backward, and those of a create_graph one.
      auto gradients = [&](int threads, bool create_graph) {
        tg::set_num_threads(threads);
        const Tensor xr = x.to(dtype).detach().set_requires_grad(true);
        const Tensor wr = w.to(dtype).detach().set_requires_grad(true);
        const Tensor br = b.to(dtype).detach().set_requires_grad(true);
        auto grads = tg::grad({tg::conv2d(xr, wr, br, c.options)}, {wr, br},
                              {.grad_outputs = {delta.to(dtype)}, .create_graph = create_graph});
        tg::set_num_threads(0);
        return std::vector<xt::xarray<double>>{grads[0].to(tg::f64).value<double>(),
                                               grads[1].to(tg::f64).value<double>()};
      };
      const auto plain = gradients(1, false);
      if (dtype == tg::f64) {
        CHECK(bool(xt::allclose(plain[0], expected, 1e-12, 1e-12)));
      } else {
        CHECK(bool(xt::allclose(plain[0], expected, 1e-4, 1e-3)));
      }
      const xt::xarray<double> bias_sum =
          tg::sum(delta.to(dtype), {0, 2, 3}).to(tg::f64).value<double>();
      CHECK(bool(xt::all(xt::equal(plain[1], bias_sum))));
      const auto recorded = gradients(1, true);
      const auto two_threads = gradients(2, false);
      for (std::size_t i = 0; i < 2; ++i) {
        INFO("gradient " << i);
        CHECK(bool(xt::all(xt::equal(plain[i], recorded[i]))));
        CHECK(bool(xt::all(xt::equal(plain[i], two_threads[i]))));
      }
    }
  }
  CHECK(own_rows_float > 0);
  CHECK(own_rows_double > 0);
  CHECK(own_rows_padded > 0);
  CHECK(own_rows_two_passes > 0);
  CHECK(large_shared > 0);
}

// TapRows::aligned writes each tap's row from a zero-padded copy of the image, a vector at a time
// (one load within an output row, a select of two loads where it crosses to the next), five taps
// per pass: tap counts that leave passes of one to five taps, padding, stride_h 2 and 3,
// dilations, up to three channels, output rows of 16 to 43 values, for float and double, against
// im2col. The image's values are distinct, so any value out of place shows.
TEST_CASE("the aligned image copy holds im2col's matrix as a row per tap", "[conv]") {
  // Config: batch, in and out channels, height, width, kernel_h, kernel_w, options, bias.
  const std::vector<Config> cases = {
      {1, 1, 1, 28, 28, 3, 3, {}, false},  // mnist_cnn's first layer: 9 taps, passes of 5 and 4
      {1, 1, 1, 20, 18, 1, 1, {}, false},  // 1 tap
      {1, 1, 1, 20, 18, 2, 3, {.padding = {1, 0}}, false},  // 6 taps (5 and 1), output rows of 16
      // 6 taps over two channels, stride_h 2
      {1, 2, 1, 17, 21, 1, 3, {.stride = {2, 1}, .padding = {2, 1}, .dilation = {1, 2}}, false},
      // 12 taps (5, 5 and 2), output rows of 43
      {1, 3, 1, 12, 40, 2, 2, {.padding = {0, 2}, .dilation = {2, 1}}, false},
      {1, 1, 1, 19, 19, 1, 5, {.padding = 2}, false},  // 5 taps, padded on every side
      // 3 taps, stride_h 2, dilation_h 2
      {1, 1, 1, 16, 22, 3, 1, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {2, 1}}, false},
      {1, 2, 1, 9, 25, 2, 2, {.dilation = {1, 2}}, false},  // 8 taps (5 and 3)
      {1, 1, 1, 30, 17, 2, 2, {.stride = {3, 1}}, false},   // 4 taps, stride_h 3
  };
  auto check = [&]<class T>(T, const Config& c) {
    const tg::kernels::ConvGeometry g = geometry(c);
    const tg::kernels::ImageColumns columns(g, 64 / sizeof(T), tg::kernels::TapRows::aligned);
    REQUIRE(columns.aligned());
    std::vector<T> image(g.image_size());
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = T(i + 1);
    // On a 64-byte boundary, as the kernels' scratch is: the rows are stored in aligned vectors.
    std::vector<T> storage(columns.size() + 64 / sizeof(T), T(-1));
    void* start = storage.data();
    std::size_t space = storage.size() * sizeof(T);
    T* cols = static_cast<T*>(std::align(64, columns.size() * sizeof(T), start, space));
    REQUIRE(cols != nullptr);
    columns.copy(image.data(), cols);
    std::vector<T> expected(g.col_rows() * g.col_cols());
    tg::kernels::im2col(g, image.data(), expected.data());
    std::size_t wrong = 0;
    for (std::size_t t = 0; t < g.col_rows(); ++t) {
      for (std::size_t q = 0; q < g.col_cols(); ++q) {
        wrong += cols[columns.taps()[t] + q] != expected[t * g.col_cols() + q] ? 1 : 0;
      }
    }
    CHECK(wrong == 0);
  };
  for (const Config& c : cases) {
    INFO(c.str());
    check(0.0F, c);
    check(0.0, c);
  }
}

// A layer of no input channels has no tap: its output is the bias, its weight gradient empty and
// its bias gradient delta's sums (the dot-product kernel takes it, with nothing to copy).
TEST_CASE("conv2d of no input channels gives the bias and an empty weight gradient", "[conv]") {
  tg::manual_seed(29);
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64" : "f32"));
    const Tensor x = tg::zeros({2, 0, 16, 16}, {.dtype = dtype});
    const Tensor w = tg::zeros({4, 0, 1, 1}, {.dtype = dtype, .requires_grad = true});
    const Tensor b = randn64({4}).to(dtype).detach().set_requires_grad(true);
    const Tensor y = tg::conv2d(x, w, b);
    REQUIRE(y.shape() == tg::Shape{2, 4, 16, 16});
    const xt::xarray<double> bias = b.to(tg::f64).value<double>();
    const xt::xarray<double> out = y.to(tg::f64).value<double>();
    CHECK(bool(xt::all(
        xt::equal(out, xt::view(bias, xt::newaxis(), xt::all(), xt::newaxis(), xt::newaxis())))));
    const Tensor delta = randn64({2, 4, 16, 16}, false).to(dtype);
    const auto grads = tg::grad({y}, {w, b}, {.grad_outputs = {delta}});
    CHECK(grads[0].shape() == tg::Shape{4, 0, 1, 1});
    const xt::xarray<double> bias_sum = tg::sum(delta, {0, 2, 3}).to(tg::f64).value<double>();
    CHECK(bool(xt::all(xt::equal(grads[1].to(tg::f64).value<double>(), bias_sum))));
  }
}

// The dot-product tiles add a plane's groups of four vectors in a loop, then one to four masked
// steps: the vectors left (a whole group, whole vectors only, or whole vectors and a partial last
// one). Planes of one row whose pixel counts give every such
// ending, with no loop (four vectors or fewer) and with it, for float and double from the
// smallest plane each type takes (a vector: 16 floats with AVX-512, 8 with AVX2, 4 without) up to
// 140 pixels: against the direct loops, with a bias (its gradient, from the tiles' sums with
// AVX-512 and from sum_runs otherwise, with the bits of sum(delta, {0, 2, 3})) and without.
TEST_CASE("conv2d's dot-product weight gradient adds every pixel whatever way a plane ends",
          "[conv]") {
  tg::manual_seed(27);
  constexpr std::size_t most_pixels = 140;
  std::size_t double_planes = 0;
  std::size_t float_planes = 0;
  for (std::size_t pixels = 1; pixels <= most_pixels; ++pixels) {
    for (const bool bias : {true, false}) {
      // 3 taps, 5 channels: register tiles of several rows and a partial one.
      const Config c{2, 1, 5, 1, pixels + 2, 1, 3, {}, bias};
      const auto g = geometry(c);
      std::vector<tg::DType> dtypes;
      if (tg::kernels::column_weight_grad_applies<double>(g, c.out_channels)) {
        dtypes.push_back(tg::f64);
        ++double_planes;
      }
      if (tg::kernels::column_weight_grad_applies<float>(g, c.out_channels)) {
        dtypes.push_back(tg::f32);
        ++float_planes;
      }
      INFO(c.str());
      const Tensor x = randn64(c.input_shape(), false);
      const Tensor w = randn64(c.weight_shape(), false);
      const Tensor b = randn64({c.out_channels}, false);
      const Tensor delta = randn64({c.batch, c.out_channels, 1, pixels}, false);
      const auto expected = reference_weight_grad(c, delta.value<double>(), x.value<double>());
      for (const tg::DType dtype : dtypes) {
        INFO((dtype == tg::f64 ? "f64" : "f32"));
        const Tensor xr = x.to(dtype).detach();
        const Tensor wr = w.to(dtype).detach().set_requires_grad(true);
        const Tensor br = b.to(dtype).detach().set_requires_grad(bias);
        const auto grads = tg::grad({tg::conv2d(xr, wr, bias ? br : Tensor{}, c.options)},
                                    bias ? std::vector<Tensor>{wr, br} : std::vector<Tensor>{wr},
                                    {.grad_outputs = {delta.to(dtype)}});
        const xt::xarray<double> dw = grads[0].to(tg::f64).value<double>();
        if (dtype == tg::f64) {
          CHECK(bool(xt::allclose(dw, expected, 1e-12, 1e-12)));
        } else {
          CHECK(bool(xt::allclose(dw, expected, 1e-4, 1e-3)));
        }
        if (bias) {
          const xt::xarray<double> bias_sum =
              tg::sum(delta.to(dtype), {0, 2, 3}).to(tg::f64).value<double>();
          CHECK(bool(xt::all(xt::equal(grads[1].to(tg::f64).value<double>(), bias_sum))));
        }
      }
    }
  }
  // Each type from its vector on (the kernel takes every plane at least that large): at least
  // 125 planes of each, with and without a bias, whatever the vector.
  CHECK(double_planes >= 2 * (most_pixels - 16 + 1));
  CHECK(float_planes >= 2 * (most_pixels - 16 + 1));
}

// The dot products' last vector of each plane overlaps the one before, its repeated lanes masked
// off in both operands: an infinity there (or anywhere) gives the direct loops' infinities and
// NaNs, whether in the image or in delta.
TEST_CASE("conv2d's dot-product weight gradient keeps infinities where the direct loops have them",
          "[conv]") {
  tg::manual_seed(26);
  const Config c{3, 1, 12, 9, 10, 3, 3, {}, false};  // 7x8 = 56 pixels: 3.5 vectors of 16
  REQUIRE(tg::kernels::column_weight_grad_applies<float>(geometry(c), c.out_channels));
  xt::xarray<double> x = randn64(c.input_shape(), false).value<double>();
  x(1, 0, 8, 9) = std::numeric_limits<double>::infinity();  // read by the last pixels only
  x(2, 0, 3, 4) = -std::numeric_limits<double>::infinity();
  xt::xarray<double> delta = randn64({3, 12, 7, 8}, false).value<double>();
  delta(2, 5, 2, 3) = 0.0;  // 0 x -inf: NaN in the direct loops
  const auto expected = reference_weight_grad(c, delta, x);
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64" : "f32"));
    const xt::xarray<double> dw =
        tg::conv2d_weight_grad(f64(delta).to(dtype), f64(x).to(dtype), c.weight_shape(), c.options)
            .to(tg::f64)
            .value<double>();
    CHECK(bool(xt::all(xt::equal(xt::isnan(dw), xt::isnan(expected)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(dw), xt::isinf(expected)))));
    CHECK(bool(xt::any(xt::isnan(expected))));
    CHECK(bool(xt::any(xt::isinf(expected))));
  }
  // Infinities in delta, with finite images, on planes of 7x7 = 49 pixels: pixels 43 and 46 are
  // loaded again, masked off, by the plane's last vector, which ends at pixel 48 (of 16 values:
  // both; of 8: both; of 4: 46), so a mask on the image's values alone would make NaNs there. The
  // direct loops give infinities and no NaN.
  const Config c49{3, 1, 12, 9, 9, 3, 3, {}, false};
  REQUIRE(tg::kernels::column_weight_grad_applies<float>(geometry(c49), c49.out_channels));
  const xt::xarray<double> finite_x = randn64(c49.input_shape(), false).value<double>();
  delta = randn64({3, 12, 7, 7}, false).value<double>();
  delta(0, 7, 6, 1) = std::numeric_limits<double>::infinity();
  delta(1, 9, 6, 4) = -std::numeric_limits<double>::infinity();
  const auto expected_from_delta = reference_weight_grad(c49, delta, finite_x);
  REQUIRE(bool(xt::any(xt::isinf(expected_from_delta))));
  REQUIRE(!bool(xt::any(xt::isnan(expected_from_delta))));
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64, " : "f32, ") << "infinities in delta");
    const xt::xarray<double> dw =
        tg::conv2d_weight_grad(f64(delta).to(dtype), f64(finite_x).to(dtype), c49.weight_shape(),
                               c49.options)
            .to(tg::f64)
            .value<double>();
    CHECK(!bool(xt::any(xt::isnan(dw))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(dw), xt::isinf(expected_from_delta)))));
  }
}

// Stride 1 runs on the shifted-row kernels (no column matrix): output planes on a grid as wide as
// the padded input, blocks of 48 (24 in double) grid pixels that cross rows, 8-channel register
// tiles with an edge, the input gradient as a forward convolution (padding up to (k-1)*d; more
// falls back to im2col), and the weight gradient in groups of images. Random shapes sized to reach
// every edge, and the layers of the MNIST examples, which with one more take each of the weight
// gradient's register tiles on AVX-512 (channels x taps: 4 x 4, 6 x 4, 2 x 9, 3 x 9).
TEST_CASE("conv2d's stride-1 kernels match the direct loops", "[conv]") {
  tg::manual_seed(17);
  tg::Generator gen(99);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  for (int trial = 0; trial < 40; ++trial) {
    Config c{};
    c.batch = pick(1, 10);
    c.in_channels = trial % 4 == 0 ? 1 : pick(1, 5);  // one channel: few taps
    c.out_channels = pick(1, 19);
    c.kernel_h = pick(1, 5);
    c.kernel_w = pick(1, 5);
    c.options.stride = 1;
    c.options.padding = {static_cast<std::int64_t>(pick(0, 3)),
                         static_cast<std::int64_t>(pick(0, 3))};
    c.options.dilation = {static_cast<std::int64_t>(pick(1, 2)),
                          static_cast<std::int64_t>(pick(1, 2))};
    auto span = [](std::size_t k, std::int64_t d) {
      return static_cast<std::size_t>(d) * (k - 1) + 1;
    };
    c.height = span(c.kernel_h, c.options.dilation.h) + pick(0, 12);
    c.width = span(c.kernel_w, c.options.dilation.w) + pick(0, 30);
    c.bias = gen.below(2) == 1;
    INFO("trial " << trial << ": " << c.str());
    check_against_reference(c);
  }
  for (const Config& layer :
       {Config{2, 1, 6, 28, 28, 5, 5, {.padding = 2}, true},  // LeNet-5 c1
        Config{3, 1, 12, 9, 9, 2, 2, {}, false},              // 12 channels of 4 taps
        Config{2, 6, 16, 14, 14, 5, 5, {}, true},             // LeNet-5 c2
        Config{5, 1, 32, 28, 28, 3, 3, {}, true},             // mnist_cnn c1: groups of 2 in float
        Config{1, 32, 64, 26, 26, 3, 3, {}, true}}) {         // mnist_cnn c2
    INFO(layer.str());
    check_against_reference(layer);
  }
}

// Layers of many taps and whole vectors of output channels run their forward (and an input
// gradient whose own geometry qualifies) on the channel-vector kernel (direct_conv.hpp): random
// kernel widths 1-7, rows of several segments, paddings 0-3, output channels of one or two
// vectors in float (16 lanes with AVX-512) and double. Against the direct loops; then against
// the shifted kernel, whose sums run in the same order: the same bits; and at 1 and 2 threads
// for a batch of one (its rows split across threads).
TEST_CASE("conv2d's channel-vector forward matches the direct loops and the shifted kernel",
          "[conv]") {
  tg::manual_seed(23);
  tg::Generator gen(123);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  for (int trial = 0; trial < 16; ++trial) {
    Config c{};
    c.batch = pick(1, 3);
    c.kernel_h = pick(1, 5);
    c.kernel_w = pick(1, 7);
    c.in_channels = (32 + c.kernel_h * c.kernel_w - 1) / (c.kernel_h * c.kernel_w) + pick(0, 2);
    c.out_channels = 16 * pick(1, 2);
    c.options.padding = {static_cast<std::int64_t>(pick(0, 3)),
                         static_cast<std::int64_t>(pick(0, 3))};
    c.height = c.kernel_h + pick(0, 8);
    c.width = c.kernel_w + pick(0, 40);
    c.bias = gen.below(2) == 1;
    INFO("trial " << trial << ": " << c.str());
    const tg::kernels::ConvGeometry g = geometry(c);
    REQUIRE(tg::kernels::direct_forward_applies<float>(g, c.out_channels));
    REQUIRE(tg::kernels::direct_forward_applies<double>(g, c.out_channels));
    check_against_reference(c);

    const Tensor x = tg::randn({1, c.in_channels, c.height, c.width});
    const Tensor w = tg::randn(c.weight_shape());
    const Tensor b = tg::randn({c.out_channels});
    const float* image = x.value<float>().data();
    const float* weight = w.value<float>().data();
    const float* bias = b.value<float>().data();
    const std::size_t size = c.out_channels * g.out_h * g.out_w;
    std::vector<float> shifted(size), direct(size), direct_two(size);
    tg::kernels::ShiftedForward<float>(g, c.out_channels, weight)
        .run(image, bias, shifted.data(), false);
    const tg::kernels::DirectForward<float> kernel(g, c.out_channels, weight);
    tg::set_num_threads(1);
    kernel.run(image, bias, direct.data(), true);
    tg::set_num_threads(2);
    kernel.run(image, bias, direct_two.data(), true);
    tg::set_num_threads(0);
    CHECK(direct == shifted);
    CHECK(direct_two == direct);
  }
}

// A batch of one splits its pixels (forward, input gradient) or its channels (weight gradient)
// across threads: the same bits for 1 and 2 threads. One input channel of an image small enough
// for two to fit a group of the weight gradient, so that all three passes run on the shifted-row
// kernels.
// The same for a layer of 16 -> 24 channels, whose passes take Winograd's path (its blocks of
// tiles, or its sixteen weight-gradient products, split across threads).
TEST_CASE("conv2d's stride-1 kernels give the same bits for 1 and 2 threads", "[conv]") {
  tg::manual_seed(18);
  const tg::Conv2dOptions options{.padding = 1};
  for (const auto& [input_shape, weight_shape] :
       {std::pair<tg::Shape, tg::Shape>{{1, 1, 30, 33}, {20, 1, 3, 3}},
        std::pair<tg::Shape, tg::Shape>{{1, 16, 20, 23}, {24, 16, 3, 3}}}) {
    Tensor x = tg::randn(input_shape);
    Tensor w = tg::randn(weight_shape);
    Tensor b = tg::randn({weight_shape[0]});
    Tensor delta = tg::randn(tg::conv2d(x, w, b, options).shape());
    auto passes = [&](int threads) {
      tg::set_num_threads(threads);
      std::vector<xt::xarray<float>> results{
          tg::conv2d(x, w, b, options).value<float>(),
          tg::conv2d_input_grad(delta, w, x.shape(), options).value<float>(),
          tg::conv2d_weight_grad(delta, x, w.shape(), options).value<float>()};
      tg::set_num_threads(0);
      return results;
    };
    const auto one = passes(1);
    const auto two = passes(2);
    for (std::size_t i = 0; i < one.size(); ++i) {
      INFO("weight " << tg::to_string(weight_shape) << ", pass " << i);
      CHECK(bool(xt::all(xt::equal(one[i], two[i]))));
    }
  }
}

// The shifted-row kernels multiply values outside a tap's window by zero (the image at the
// grid's spare columns, the weight at delta's padding); an infinite value there must not turn
// into a NaN that the direct loops do not have.
TEST_CASE("conv2d's stride-1 gradients keep infinities where the direct loops have them",
          "[conv]") {
  tg::manual_seed(19);
  const Config c{4, 1, 8, 9, 12, 3, 3, {}, false};
  xt::xarray<double> x = randn64(c.input_shape(), false).value<double>();
  x(1, 0, 4, 11) = std::numeric_limits<double>::infinity();  // the last column
  xt::xarray<double> w = randn64(c.weight_shape(), false).value<double>();
  w(3, 0, 0, 0) = -std::numeric_limits<double>::infinity();
  const Tensor delta = randn64({4, 8, 7, 10}, false);
  const auto expected_dw = reference_weight_grad(c, delta.value<double>(), x);
  const auto expected_dx = reference_input_grad(c, delta.value<double>(), w);
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64" : "f32"));
    const Tensor dw =
        tg::conv2d_weight_grad(delta.to(dtype), f64(x).to(dtype), c.weight_shape(), c.options);
    const Tensor dx =
        tg::conv2d_input_grad(delta.to(dtype), f64(w).to(dtype), c.input_shape(), c.options);
    const xt::xarray<double> dw64 = dw.to(tg::f64).value<double>();
    const xt::xarray<double> dx64 = dx.to(tg::f64).value<double>();
    CHECK(bool(xt::all(xt::equal(xt::isnan(dw64), xt::isnan(expected_dw)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(dw64), xt::isinf(expected_dw)))));
    CHECK(bool(xt::all(xt::equal(xt::isnan(dx64), xt::isnan(expected_dx)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(dx64), xt::isinf(expected_dx)))));
  }
}

// 3x3 stride-1 layers with at least 16 channels on both sides run all three passes through
// Winograd's F(2x2, 3x3) (ops/kernels/winograd.hpp): random shapes of odd and even sizes
// (partial 2x2 tiles), some large enough for several blocks of tiles, paddings 0-3 (the input
// gradient's own padding is 2 - p; 3 leaves it to im2col), channel counts with a partial register
// tile, batches of one (tiles split across threads) and of ten (the weight gradient's chunks of 8
// images).
TEST_CASE("conv2d's Winograd path matches the direct loops", "[conv]") {
  tg::manual_seed(20);
  tg::Generator gen(7);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  for (int trial = 0; trial < 10; ++trial) {
    Config c{};
    c.batch = trial % 4 == 3 ? 10 : pick(1, 2);  // 10: two chunks of the weight gradient
    c.in_channels = pick(16, 19);
    c.out_channels = pick(16, 26);
    c.kernel_h = 3;
    c.kernel_w = 3;
    c.options.padding = {static_cast<std::int64_t>(pick(0, 3)),
                         static_cast<std::int64_t>(pick(0, 3))};
    const bool large = trial % 3 == 2;  // over 48 tiles: blocks of tiles
    c.height = large ? pick(20, 30) : pick(3, 13);
    c.width = large ? pick(20, 40) : pick(3, 17);
    c.bias = gen.below(2) == 1;
    INFO("trial " << trial << ": " << c.str());
    check_against_reference(c);
  }
}

// Winograd's kernels copy the padded image into the thread's scratch buffer, which other kernels
// used before: over a buffer left holding 3 in every value, each pass still matches the direct
// loops, for paddings 0-3 that differ between height and width (the input gradient pads by
// 2 - p) and odd and even sizes. Any value of the padding or of the grid's spare tiles left as it
// was would add multiples of 3 to the results (checked: zeroing only the first half of the
// buffer fails 20 of the 32 checks, as did an earlier version that zeroed only the padding with
// the runs between the image's rows, or those after its last row, left out).
TEST_CASE("conv2d's Winograd path zeroes its padding over a used scratch buffer", "[conv]") {
  tg::manual_seed(27);
  tg::set_num_threads(1);  // the kernels run on this thread, with its scratch buffers
  auto leave_threes = [] {
    constexpr std::size_t size = std::size_t{1} << 20;
    tg::kernels::Scratch<double, 0> used(size);
    std::fill_n(used.data(), size, 3.0);
  };
  for (std::int64_t pad = 0; pad <= 3; ++pad) {
    for (const auto& [height, width] : {std::pair<std::size_t, std::size_t>{11, 9}, {12, 14}}) {
      const Config c{2, 16, 17, height, width, 3, 3, {.padding = {pad, 3 - pad}}, false};
      INFO(c.str());
      REQUIRE(tg::kernels::winograd_applies(geometry(c), c.out_channels));
      const Tensor x = randn64(c.input_shape(), false);
      const Tensor w = randn64(c.weight_shape(), false);
      const auto expected = reference_conv(c, x.value<double>(), w.value<double>(), {});
      const Tensor delta = randn64(expected.shape(), false);
      leave_threes();
      CHECK(bool(
          xt::allclose(tg::conv2d(x, w, {}, c.options).value<double>(), expected, 1e-12, 1e-12)));
      leave_threes();
      CHECK(bool(xt::allclose(
          tg::conv2d_input_grad(delta, w, c.input_shape(), c.options).value<double>(),
          reference_input_grad(c, delta.value<double>(), w.value<double>()), 1e-12, 1e-12)));
      leave_threes();
      CHECK(bool(xt::allclose(
          tg::conv2d_weight_grad(delta, x, c.weight_shape(), c.options).value<double>(),
          reference_weight_grad(c, delta.value<double>(), x.value<double>()), 1e-12, 1e-12)));
    }
  }
  tg::set_num_threads(0);
}

// A plain backward takes the bias gradient beside Winograd's weight gradient, each image's planes
// summed just before the kernel reads them: the bits of sum(delta, {0, 2, 3}) (what a
// create_graph backward records), at 1 and 2 threads, for a batch of one chunk and of three
// (8 images each, the last partial).
TEST_CASE("conv2d's Winograd bias gradient has the bits of sum(delta, {0, 2, 3})", "[conv]") {
  tg::manual_seed(26);
  for (const std::size_t batch : {std::size_t{3}, std::size_t{19}}) {
    const Config c{batch, 16, 24, 12, 11, 3, 3, {.padding = 1}, true};
    REQUIRE(tg::kernels::winograd_applies(geometry(c), c.out_channels));
    const Tensor x = tg::randn(c.input_shape());
    const Tensor w = tg::randn(c.weight_shape());
    const Tensor b = tg::randn({c.out_channels});
    const Tensor delta = tg::randn({batch, c.out_channels, 12, 11});
    auto bias_gradient = [&](int threads) {
      tg::set_num_threads(threads);
      const Tensor br = b.detach().set_requires_grad(true);
      const Tensor wr = w.detach().set_requires_grad(true);
      auto grads =
          tg::grad({tg::conv2d(x, wr, br, c.options)}, {wr, br}, {.grad_outputs = {delta}});
      tg::set_num_threads(0);
      return grads[1].value<float>();
    };
    const xt::xarray<float> expected = tg::sum(delta, {0, 2, 3}).value<float>();
    INFO("batch " << batch);
    CHECK(bool(xt::all(xt::equal(bias_gradient(1), expected))));
    CHECK(bool(xt::all(xt::equal(bias_gradient(2), expected))));
  }
}

// Winograd's transforms add and subtract the values of a tile around the products, which could
// lose precision: on mnist_cnn's second layer in float its difference from the f64 direct loops
// stays within 2e-6 of the largest result in each pass (measured: forward 3.3e-7, input gradient
// 3.7e-7, weight gradient 1.0e-6; the shifted kernel's forward, 8.0e-7).
TEST_CASE("conv2d's Winograd float rounding stays within its bound", "[conv]") {
  tg::manual_seed(21);
  const Config c{4, 32, 64, 26, 26, 3, 3, {}, false};
  const Tensor x = tg::randn(c.input_shape());
  const Tensor w = tg::randn(c.weight_shape());
  const Tensor delta = tg::randn({4, 64, 24, 24});
  auto as_double = [](const Tensor& t) { return xt::xarray<double>(t.value<float>()); };
  auto relative_error = [](const xt::xarray<double>& got, const xt::xarray<double>& exact) {
    return xt::amax(xt::abs(got - exact))() / xt::amax(xt::abs(exact))();
  };
  const auto expected = reference_conv(c, as_double(x), as_double(w), xt::zeros<double>({64}));
  const double forward = relative_error(as_double(tg::conv2d(x, w)), expected);
  const auto expected_dx = reference_input_grad(c, as_double(delta), as_double(w));
  const double input_grad =
      relative_error(as_double(tg::conv2d_input_grad(delta, w, c.input_shape())), expected_dx);
  const auto expected_dw = reference_weight_grad(c, as_double(delta), as_double(x));
  const double weight_grad =
      relative_error(as_double(tg::conv2d_weight_grad(delta, x, c.weight_shape())), expected_dw);
  INFO("forward " << forward << ", input gradient " << input_grad << ", weight gradient "
                  << weight_grad);
  CHECK(forward < 2e-6);
  CHECK(input_grad < 2e-6);
  CHECK(weight_grad < 2e-6);
}

// An infinity or NaN in a Winograd tile would spread through the transforms to pixels the
// direct sum keeps finite (inf - inf): such operands take the shifted kernels instead.
TEST_CASE("conv2d's Winograd layers keep infinities where the direct loops have them", "[conv]") {
  tg::manual_seed(22);
  const Config c{2, 16, 17, 7, 9, 3, 3, {.padding = 1}, false};
  xt::xarray<double> x = randn64(c.input_shape(), false).value<double>();
  x(1, 3, 2, 5) = std::numeric_limits<double>::infinity();
  const xt::xarray<double> w = randn64(c.weight_shape(), false).value<double>();
  xt::xarray<double> delta = randn64({2, 17, 7, 9}, false).value<double>();
  delta(0, 16, 6, 0) = -std::numeric_limits<double>::infinity();
  const auto expected = reference_conv(c, x, w, xt::zeros<double>({17}));
  const auto expected_dx = reference_input_grad(c, delta, w);
  // (The weight gradient with a finite delta: an infinite delta at the border meets the zero
  // padding in every kernel but the direct loops, which skip the padding.)
  const xt::xarray<double> finite_delta = randn64({2, 17, 7, 9}, false).value<double>();
  const auto expected_dw = reference_weight_grad(c, finite_delta, x);
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64" : "f32"));
    const xt::xarray<double> y = tg::conv2d(f64(x).to(dtype), f64(w).to(dtype), Tensor{}, c.options)
                                     .to(tg::f64)
                                     .value<double>();
    const xt::xarray<double> dx =
        tg::conv2d_input_grad(f64(delta).to(dtype), f64(w).to(dtype), c.input_shape(), c.options)
            .to(tg::f64)
            .value<double>();
    CHECK(bool(xt::all(xt::equal(xt::isnan(y), xt::isnan(expected)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(y), xt::isinf(expected)))));
    CHECK(bool(xt::all(xt::equal(xt::isnan(dx), xt::isnan(expected_dx)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(dx), xt::isinf(expected_dx)))));
    const xt::xarray<double> dw =
        tg::conv2d_weight_grad(f64(finite_delta).to(dtype), f64(x).to(dtype), c.weight_shape(),
                               c.options)
            .to(tg::f64)
            .value<double>();
    CHECK(bool(xt::all(xt::equal(xt::isnan(dw), xt::isnan(expected_dw)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(dw), xt::isinf(expected_dw)))));
  }
}

// Winograd's result is checked per image: an infinity in one image sends only that image to the
// direct kernel, and the others keep Winograd's bits (those of a batch without it).
TEST_CASE("conv2d's Winograd layers fall back image by image", "[conv]") {
  tg::manual_seed(23);
  const Config c{3, 16, 16, 8, 8, 3, 3, {.padding = 1}, false};
  xt::xarray<double> x = randn64(c.input_shape(), false).value<double>();
  x(1, 5, 4, 4) = std::numeric_limits<double>::infinity();
  const xt::xarray<double> w = randn64(c.weight_shape(), false).value<double>();
  const auto expected = reference_conv(c, x, w, xt::zeros<double>({16}));
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64" : "f32"));
    const Tensor weight = f64(w).to(dtype);
    const Tensor y = tg::conv2d(f64(x).to(dtype), weight, Tensor{}, c.options).to(tg::f64);
    const xt::xarray<double> got = y.value<double>();
    CHECK(bool(xt::all(xt::equal(xt::isnan(got), xt::isnan(expected)))));
    CHECK(bool(xt::all(xt::equal(xt::isinf(got), xt::isinf(expected)))));
    for (const std::size_t n : {std::size_t{0}, std::size_t{2}}) {
      const xt::xarray<double> image = xt::view(x, xt::range(n, n + 1));
      const Tensor alone = tg::conv2d(f64(image).to(dtype), weight, Tensor{}, c.options);
      const xt::xarray<double> expected_bits = alone.to(tg::f64).value<double>();
      CHECK(bool(xt::all(xt::equal(xt::view(got, xt::range(n, n + 1)), expected_bits))));
    }
  }
}

// Finite values near the type's largest can overflow in Winograd's transforms where the direct
// sum stays finite: the output then comes from the direct kernel. The images' columns and rows
// run +a, +a, -a, -a, so that a tile's transform adds four of them (4a, past the largest), and the
// kernel is the identity at its centre, so that the convolution is exactly the image.
TEST_CASE("conv2d's Winograd layers compute what overflows in the transforms directly", "[conv]") {
  const Config c{2, 16, 16, 8, 8, 3, 3, {.padding = 1}, false};
  xt::xarray<double> w = xt::zeros<double>(c.weight_shape());
  for (std::size_t o = 0; o < 16; ++o) w(o, o, 1, 1) = 1.0;
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    INFO((dtype == tg::f64 ? "f64" : "f32"));
    const double a = dtype == tg::f64 ? 0.3 * std::numeric_limits<double>::max()
                                      : 0.3 * double(std::numeric_limits<float>::max());
    xt::xarray<double> x = xt::zeros<double>(c.input_shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t col = i % 8;
      const std::size_t row = i / 8 % 8;
      x.flat(i) = (col % 4 < 2) == (row % 4 < 2) ? a : -a;
    }
    const Tensor input = f64(x).to(dtype);
    const Tensor weight = f64(w).to(dtype);
    const xt::xarray<double> image = input.to(tg::f64).value<double>();
    CHECK(bool(xt::all(xt::equal(
        tg::conv2d(input, weight, Tensor{}, c.options).to(tg::f64).value<double>(), image))));
    // The input gradient is the same convolution (the kernel rotated: the same identity).
    CHECK(bool(xt::all(xt::equal(tg::conv2d_input_grad(input, weight, c.input_shape(), c.options)
                                     .to(tg::f64)
                                     .value<double>(),
                                 image))));
    // The weight gradient of delta = this image against a small one sums finite products.
    const xt::xarray<double> small = 1e-3 * randn64(c.input_shape(), false).value<double>();
    const xt::xarray<double> expected_dw = reference_weight_grad(c, image, small);
    const xt::xarray<double> dw =
        tg::conv2d_weight_grad(input, f64(small).to(dtype), c.weight_shape(), c.options)
            .to(tg::f64)
            .value<double>();
    REQUIRE(bool(xt::all(xt::isfinite(expected_dw))));
    CHECK(xt::amax(xt::abs(dw - expected_dw))() <= 1e-5 * xt::amax(xt::abs(expected_dw))());
  }
}

// No output channels, or no images: empty results, and no division by a zero amount of work.
TEST_CASE("conv2d handles zero output channels and an empty batch", "[conv]") {
  for (const std::size_t batch : {std::size_t{1}, std::size_t{0}}) {
    INFO("batch " << batch);
    Tensor x = tg::randn({batch, 2, 6, 7});
    Tensor w = tg::randn({0, 2, 3, 3});
    Tensor y = tg::conv2d(x, w, Tensor{}, {.padding = 1});
    CHECK(y.shape() == tg::Shape{batch, 0, 6, 7});
    Tensor dx = tg::conv2d_input_grad(y, w, x.shape(), {.padding = 1});
    CHECK(dx.shape() == x.shape());
    // (An empty xarray has no data pointer, which xtensor's iterators offset: UB to iterate.)
    if (batch > 0) CHECK(bool(xt::all(xt::equal(dx.value<float>(), 0.0f))));
    CHECK(tg::conv2d_weight_grad(y, x, w.shape(), {.padding = 1}).shape() == w.shape());
    Tensor w3 = tg::randn({3, 2, 3, 3});
    Tensor y3 = tg::conv2d(x, w3, Tensor{}, {.padding = 1});
    Tensor dw3 = tg::conv2d_weight_grad(y3, x, w3.shape(), {.padding = 1});
    CHECK(dw3.shape() == w3.shape());
    if (batch == 0) CHECK(bool(xt::all(xt::equal(dw3.value<float>(), 0.0f))));
  }
}

TEST_CASE("conv2d records nothing when nothing needs a gradient", "[conv]") {
  Tensor x = tg::randn({2, 1, 5, 5});
  Tensor w = tg::randn({3, 1, 3, 3});
  CHECK(tg::conv2d(x, w).grad_fn() == nullptr);
  {
    tg::NoGradGuard no_grad;
    CHECK(tg::conv2d(x.detach().set_requires_grad(true), w).grad_fn() == nullptr);
  }
  // Only the weight requires grad: the input gets no gradient and the weight does.
  Tensor wr = w.detach().set_requires_grad(true);
  Tensor y = tg::conv2d(x, wr);
  REQUIRE(y.grad_fn() != nullptr);
  y.backward(tg::ones(y.shape()));
  CHECK(wr.grad().defined());
  CHECK_FALSE(x.grad().defined());
}

namespace {

// Runs f, which must throw tg::Error with every part in its message.
void require_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  REQUIRE_THROWS_AS(f(), tg::Error);
  for (const auto& part : parts) REQUIRE_THROWS_WITH(f(), Catch::Contains(part));
}

}  // namespace

TEST_CASE("conv2d rejects bad input with the op's name and the shapes", "[conv]") {
  Tensor x = tg::zeros({64, 3, 28, 28});
  Tensor w = tg::zeros({6, 3, 5, 5});
  REQUIRE_THROWS_WITH(
      tg::conv2d(x, tg::zeros({6, 1, 5, 5})),
      "conv2d: input has 3 channels but weight expects 1 (input [64,3,28,28], weight [6,1,5,5])");
  require_error([&] { (void)tg::conv2d(tg::zeros({3, 28, 28}), w); }, {"conv2d", "[3,28,28]"});
  require_error([&] { (void)tg::conv2d(x, tg::zeros({6, 5, 5})); }, {"conv2d", "[6,5,5]"});
  require_error([&] { (void)tg::conv2d(Tensor{}, w); }, {"conv2d", "input"});
  require_error([&] { (void)tg::conv2d(x.to(tg::f64), w); },
                {"conv2d", "[64,3,28,28]", "[6,3,5,5]"});
  require_error(
      [&] {
        (void)tg::conv2d(tg::zeros({1, 3, 8, 8}, {.dtype = tg::i64}), w);
      },
      {"conv2d", "i64"});
  require_error([&] { (void)tg::conv2d(x, w, tg::zeros({5})); },
                {"conv2d", "bias", "[5]", "[64,3,28,28]", "[6,3,5,5]"});
  require_error([&] { (void)tg::conv2d(x, w, tg::zeros({6, 1})); }, {"conv2d", "bias", "[6,1]"});
  require_error([&] { (void)tg::conv2d(x, w, tg::zeros({6}, {.dtype = tg::f64})); },
                {"conv2d", "bias", "[6]"});
  require_error([&] { (void)tg::conv2d(x, w, {}, {.stride = 0}); },
                {"conv2d", "stride", "[64,3,28,28]", "[6,3,5,5]"});
  require_error(
      [&] {
        (void)tg::conv2d(x, w, {}, {.stride = {1, -2}});
      },
      {"conv2d", "stride", "-2"});
  require_error(
      [&] {
        (void)tg::conv2d(x, w, {}, {.dilation = {0, 1}});
      },
      {"conv2d", "dilation", "[64,3,28,28]"});
  require_error(
      [&] {
        (void)tg::conv2d(x, w, {}, {.padding = {0, -1}});
      },
      {"conv2d", "padding", "-1", "[6,3,5,5]"});
  require_error([&] { (void)tg::conv2d(x, tg::zeros({6, 3, 0, 5})); }, {"conv2d", "[6,3,0,5]"});

  // The kernel (dilated) larger than the padded input: the output would be empty.
  Tensor small = tg::zeros({1, 1, 4, 4});
  require_error(
      [&] {
        (void)tg::conv2d(small, tg::zeros({1, 1, 5, 5}));
      },
      {"conv2d", "larger than the padded input 4x4", "[1,1,4,4]", "[1,1,5,5]"});
  require_error(
      [&] {
        (void)tg::conv2d(small, tg::zeros({1, 1, 3, 3}), {}, {.dilation = 2});
      },
      {"conv2d", "spans 5x5", "output would be empty", "[1,1,3,3]"});
  require_error(
      [&] {
        (void)tg::conv2d(small, tg::zeros({1, 1, 1, 7}), {}, {.padding = {0, 1}});
      },
      {"conv2d", "4x6", "output would be empty", "[1,1,1,7]"});
  // Options so large that sizes would wrap around are rejected before anything is allocated.
  require_error(
      [&] {
        (void)tg::conv2d(small, tg::ones({1, 1, 2, 2}), {}, {.padding = (1LL << 31) - 2});
      },
      {"conv2d", "padding", "2^30"});
  require_error(
      [&] {
        (void)tg::conv2d(small, tg::ones({1, 1, 3, 3}), {}, {.dilation = INT64_MAX});
      },
      {"conv2d", "dilation", "2^30"});
  require_error(
      [&] {
        (void)tg::conv2d(small, tg::ones({1, 1, 2, 2}), {}, {.padding = 1 << 30});
      },
      {"conv2d", "2^48"});
  // Padding makes room: a 1x1 output.
  CHECK(tg::conv2d(small, tg::zeros({1, 1, 3, 3}), {}, {.padding = 1, .dilation = 2}).shape() ==
        tg::Shape{1, 1, 2, 2});
}

TEST_CASE("conv2d_input_grad and conv2d_weight_grad reject bad input", "[conv]") {
  Tensor w = tg::zeros({4, 3, 3, 3});
  Tensor x = tg::zeros({2, 3, 8, 8});
  Tensor delta = tg::zeros({2, 4, 6, 6});
  const tg::Shape input_shape{2, 3, 8, 8};
  const tg::Shape weight_shape{4, 3, 3, 3};
  // Consistent calls work.
  CHECK(tg::conv2d_input_grad(delta, w, input_shape).shape() == input_shape);
  CHECK(tg::conv2d_weight_grad(delta, x, weight_shape).shape() == weight_shape);

  require_error(
      [&] {
        (void)tg::conv2d_input_grad(tg::zeros({2, 4, 5, 5}), w, input_shape);
      },
      {"conv2d_input_grad", "grad_output must be [2,4,6,6]", "[2,4,5,5]", "[4,3,3,3]"});
  require_error(
      [&] {
        (void)tg::conv2d_input_grad(tg::zeros({2, 5, 6, 6}), w, input_shape);
      },
      {"conv2d_input_grad", "[2,5,6,6]"});
  require_error([&] { (void)tg::conv2d_input_grad(delta, w, input_shape, {.stride = 2}); },
                {"conv2d_input_grad", "[2,4,3,3]", "[2,4,6,6]"});
  require_error(
      [&] {
        (void)tg::conv2d_input_grad(delta, w, {2, 3, 8});
      },
      {"conv2d_input_grad", "input_shape", "[2,3,8]"});
  require_error(
      [&] {
        (void)tg::conv2d_input_grad(delta, w, {2, 2, 8, 8});
      },
      {"conv2d_input_grad", "input has 2 channels but weight expects 3", "[2,2,8,8]"});
  require_error([&] { (void)tg::conv2d_input_grad(delta.to(tg::f64), w, input_shape); },
                {"conv2d_input_grad", "[2,4,6,6]", "[4,3,3,3]"});
  require_error([&] { (void)tg::conv2d_input_grad(delta, w, input_shape, {.stride = 0}); },
                {"conv2d_input_grad", "stride"});

  require_error(
      [&] {
        (void)tg::conv2d_weight_grad(tg::zeros({3, 4, 6, 6}), x, weight_shape);
      },
      {"conv2d_weight_grad", "[3,4,6,6]", "[2,3,8,8]", "[4,3,3,3]"});
  require_error(
      [&] {
        (void)tg::conv2d_weight_grad(delta, x, {4, 3, 3});
      },
      {"conv2d_weight_grad", "weight_shape", "[4,3,3]"});
  require_error(
      [&] {
        (void)tg::conv2d_weight_grad(delta, x, {4, 1, 3, 3});
      },
      {"conv2d_weight_grad", "input has 3 channels but weight expects 1"});
  require_error([&] { (void)tg::conv2d_weight_grad(delta, x.to(tg::f64), weight_shape); },
                {"conv2d_weight_grad", "[2,4,6,6]", "[2,3,8,8]"});
  require_error(
      [&] {
        (void)tg::conv2d_weight_grad(delta, x, {4, 3, 9, 9});
      },
      {"conv2d_weight_grad", "larger than the padded input", "[4,3,9,9]"});
  require_error([&] { (void)tg::conv2d_weight_grad(delta, x, weight_shape, {.padding = -1}); },
                {"conv2d_weight_grad", "padding"});
}

// ---------------------------------------------------------------------------------------------
// Grouped and depthwise convolution.

namespace {

// The full weight [C_out, C_in, kH, kW] that is the grouped weight [C_out, C_in/groups, kH, kW]
// on its diagonal blocks and zero elsewhere: an ungrouped convolution with it is the grouped one.
Tensor block_diagonal(const Tensor& grouped, std::size_t in_channels, std::size_t groups) {
  const tg::Shape& s = grouped.shape();
  xt::xarray<double> full = xt::zeros<double>({s[0], in_channels, s[2], s[3]});
  const std::size_t out_per_group = s[0] / groups;
  const std::size_t in_per_group = s[1];
  const auto& w = grouped.value<double>();
  for (std::size_t o = 0; o < s[0]; ++o) {
    const std::size_t group = o / out_per_group;
    for (std::size_t c = 0; c < in_per_group; ++c) {
      xt::view(full, o, group * in_per_group + c) = xt::view(w, o, c);
    }
  }
  return tg::tensor(full);
}

}  // namespace

TEST_CASE("grouped conv2d is the ungrouped one with a block-diagonal weight", "[conv]") {
  tg::manual_seed(41);
  tg::Generator gen(41);
  for (int trial = 0; trial < 12; ++trial) {
    const std::size_t groups = 1 + gen.below(4);
    const std::size_t in_channels = groups * (1 + gen.below(2));
    const std::size_t out_channels = trial % 3 == 0 ? in_channels : groups * (1 + gen.below(3));
    const tg::Shape input_shape{1 + gen.below(2), in_channels, 4 + gen.below(4), 4 + gen.below(4)};
    const tg::Shape weight_shape{out_channels, in_channels / groups, 1 + gen.below(3),
                                 1 + gen.below(3)};
    const tg::Conv2dOptions options{.stride = static_cast<std::int64_t>(1 + gen.below(2)),
                                    .padding = static_cast<std::int64_t>(gen.below(2)),
                                    .groups = static_cast<std::int64_t>(groups)};
    INFO("trial " << trial << ": input " << tg::to_string(input_shape) << " weight "
                  << tg::to_string(weight_shape) << " groups " << groups);
    Tensor x = randn64(input_shape, false);
    Tensor w = randn64(weight_shape, false);
    Tensor b = trial % 2 == 0 ? randn64({out_channels}, false) : Tensor{};
    tg::Conv2dOptions ungrouped = options;
    ungrouped.groups = 1;
    const Tensor expected = tg::conv2d(x, block_diagonal(w, in_channels, groups), b, ungrouped);
    REQUIRE(bool(xt::allclose(tg::conv2d(x, w, b, options).value<double>(),
                              expected.value<double>(), 1e-12, 1e-12)));
    REQUIRE(bool(xt::allclose(tg::conv2d_relu(x, w, b, options).value<double>(),
                              tg::relu(expected).value<double>(), 1e-12, 1e-12)));
    if (expected.shape()[2] >= 2 && expected.shape()[3] >= 2) {  // room for a 2x2 pool
      const tg::MaxPool2dOptions pool{.kernel = 2};
      REQUIRE(bool(xt::allclose(tg::conv2d_relu_max_pool2d(x, w, b, options, pool).value<double>(),
                                tg::max_pool2d(tg::relu(expected), pool).value<double>(), 1e-12,
                                1e-12)));
    }
  }
}

TEST_CASE("grouped and depthwise conv2d gradcheck, to second order", "[conv]") {
  tg::manual_seed(42);
  tg::Generator gen(42);
  for (int trial = 0; trial < 12; ++trial) {
    const std::size_t groups = 2 + gen.below(2);
    const bool depthwise = trial % 2 == 0;
    const std::size_t in_channels = depthwise ? groups : groups * 2;
    const std::size_t out_channels = depthwise ? groups : groups * (1 + gen.below(2));
    const tg::Shape input_shape{1 + gen.below(2), in_channels, 3 + gen.below(3), 3 + gen.below(3)};
    const tg::Shape weight_shape{out_channels, in_channels / groups, 1 + gen.below(3),
                                 1 + gen.below(3)};
    const tg::Conv2dOptions options{.padding = static_cast<std::int64_t>(gen.below(2)),
                                    .groups = static_cast<std::int64_t>(groups)};
    INFO("trial " << trial << ": input " << tg::to_string(input_shape) << " weight "
                  << tg::to_string(weight_shape) << " groups " << groups);
    auto result = tg::gradcheck(
        [options](const std::vector<Tensor>& in) {
          return tg::conv2d(in[0], in[1], in[2], options);
        },
        {randn64(input_shape), randn64(weight_shape), randn64({out_channels})},
        {.check_grad_grad = trial % 3 == 0});
    INFO(result.message);
    CHECK(result);
    // The public backward maps with groups, against conv2d's own gradients.
    Tensor x = randn64(input_shape);
    Tensor w = randn64(weight_shape);
    Tensor y = tg::conv2d(x, w, Tensor{}, options);
    Tensor g = randn64(y.shape(), false);
    y.backward(g);
    REQUIRE(bool(xt::allclose(tg::conv2d_input_grad(g, w, input_shape, options).value<double>(),
                              x.grad().value<double>(), 1e-12, 1e-12)));
    REQUIRE(bool(xt::allclose(tg::conv2d_weight_grad(g, x, weight_shape, options).value<double>(),
                              w.grad().value<double>(), 1e-12, 1e-12)));
  }
}

TEST_CASE("grouped conv2d rejects channels that do not split into the groups", "[conv]") {
  using Catch::Contains;
  Tensor x = tg::randn({1, 4, 5, 5});
  REQUIRE_THROWS_WITH(tg::conv2d(x, tg::randn({4, 4, 3, 3}), {}, {.groups = 0}),
                      Contains("conv2d") && Contains("groups must be >= 1"));
  REQUIRE_THROWS_WITH(tg::conv2d(x, tg::randn({6, 1, 3, 3}), {}, {.groups = 4}),
                      Contains("conv2d") &&
                          Contains("groups 4 must divide the 6 output channels") &&
                          Contains("[1,4,5,5]"));
  REQUIRE_THROWS_WITH(
      tg::conv2d(x, tg::randn({4, 4, 3, 3}), {}, {.groups = 2}),
      Contains("with groups 2 weight must be [C_out,4/2,kH,kW]") && Contains("[4,4,3,3]"));
  REQUIRE_THROWS_WITH(
      tg::conv2d(tg::randn({1, 3, 5, 5}), tg::randn({4, 1, 3, 3}), {}, {.groups = 2}),
      Contains("input has 3 channels"));
  REQUIRE_THROWS_WITH(tg::conv2d(x, tg::randn({4, 2, 3, 3}), tg::randn({3}), {.groups = 2}),
                      Contains("conv2d") && Contains("bias"));
  REQUIRE_THROWS_WITH(
      tg::conv2d_relu_max_pool2d(x, tg::randn({4, 2, 3, 3}), {}, {.groups = 3}, {.kernel = 2}),
      Contains("conv2d_relu_max_pool2d") && Contains("groups 3"));
  REQUIRE_THROWS_WITH(tg::conv2d_input_grad(tg::randn({1, 4, 3, 3}), tg::randn({4, 2, 3, 3}),
                                            {1, 4, 5, 5}, {.groups = 3}),
                      Contains("conv2d_input_grad") && Contains("groups 3"));
  REQUIRE_THROWS_WITH(
      tg::conv2d_weight_grad(tg::randn({1, 4, 3, 3}), x, {4, 2, 3, 3}, {.groups = 4}),
      Contains("conv2d_weight_grad") && Contains("weight must be [C_out,4/4"));
}

TEST_CASE("a grouped conv2d is one node, whose backward costs what its forward does", "[conv]") {
  tg::manual_seed(43);
  Tensor x = tg::randn({2, 8, 6, 6}, {.requires_grad = true});
  Tensor w = tg::randn({8, 1, 3, 3}, {.requires_grad = true});
  Tensor y = tg::conv2d(x, w, Tensor{}, {.groups = 8});
  // Recorded group by group, each group's narrow would send back a gradient the size of the
  // whole input (8 x the work): the whole grouped op is one node with three inputs instead.
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->name() == "conv2d");
  CHECK(y.grad_fn()->edges().size() == 3);
  CHECK(y.grad_fn()->edges()[0].leaf.lock().get() == x.impl());
  REQUIRE_THROWS_WITH(tg::conv2d(tg::zeros({1, 0, 4, 4}), tg::zeros({0, 0, 3, 3}), {},
                                 {.groups = std::int64_t{1} << 40}),
                      Catch::Contains("groups") && Catch::Contains("more than the 0 input"));
  REQUIRE_THROWS_WITH(tg::conv2d(x, tg::randn({16, 0, 3, 3}), {}, {.groups = 16}),
                      Catch::Contains("more than the 8 input channels"));
}
