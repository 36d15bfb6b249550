#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <tapegrad.hpp>

using tg::Tensor;

namespace {

// a [2,3] and b [2] with fixed gradients, c [4] without one (skipped), in `dtype`.
struct Params {
  explicit Params(tg::DType dtype = tg::f64) {
    a = tg::zeros({2, 3}, {.dtype = dtype, .requires_grad = true});
    b = tg::zeros({2}, {.dtype = dtype, .requires_grad = true});
    c = tg::zeros({4}, {.dtype = dtype, .requires_grad = true});
    const xt::xarray<double> ga = {{0.5, -1.5, 2.0}, {0.25, 3.0, -0.75}};
    const xt::xarray<double> gb = {1.0, -2.5};
    a.set_grad(tg::tensor(ga).to(dtype));
    b.set_grad(tg::tensor(gb).to(dtype));
  }
  std::vector<Tensor> all() const { return {a, b, c}; }
  // Element `index` (flat) of p's gradient becomes `value`.
  static void set(const Tensor& p, std::size_t index, double value) {
    const Tensor g = p.grad();
    g.value<double>().data()[index] = value;
  }
  // Both gradients, flattened, in f64.
  std::vector<double> grads() const {
    std::vector<double> out;
    for (const Tensor& p : {a, b}) {
      const Tensor g = p.grad().to(tg::f64);
      for (double x : g.value<double>()) out.push_back(x);
    }
    return out;
  }
  Tensor a, b, c;
};

void check_close(const std::vector<double>& got, const std::vector<double>& want, double rel) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).epsilon(rel).margin(1e-300));
  }
}

}  // namespace

// The values are torch 1.13's (/usr/bin/python3), f64 unless said:
//   a = torch.zeros(2, 3, requires_grad=True); b = torch.zeros(2, requires_grad=True)
//   c = torch.zeros(4, requires_grad=True)  # no grad
//   a.grad = torch.tensor([[0.5, -1.5, 2.0], [0.25, 3.0, -0.75]]); b.grad = torch.tensor([1.0,
//   -2.5]) total = torch.nn.utils.clip_grad_norm_([a, b, c], max_norm, norm_type)
// printed with "%.17g".

TEST_CASE("clip_grad_norm_ scales every gradient as torch's, for p = 1, 2, 3 and inf",
          "[clip_grad]") {
  struct Case {
    double max_norm, norm_type, total;
    std::vector<double> grads;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Case> cases = {
      {1.0,
       2.0,
       4.8347699014534289,
       {0.10341751660863392, -0.31025254982590178, 0.41367006643453569, 0.051708758304316961,
        0.62050509965180356, -0.15512627491295089, 0.20683503321726784, -0.5170875830431696}},
      {100.0, 2.0, 4.8347699014534289, {0.5, -1.5, 2, 0.25, 3, -0.75, 1, -2.5}},
      {2.0,
       1.0,
       11.5,
       {0.086956514177694427, -0.26086954253308325, 0.34782605671077771, 0.043478257088847214,
        0.52173908506616651, -0.13043477126654163, 0.17391302835538885, -0.43478257088847216}},
      {1.5,
       3.0,
       3.8158731233096388,
       {0.19654736392339359, -0.58964209177018079, 0.78618945569357435, 0.098273681961696793,
        1.1792841835403616, -0.29482104588509039, 0.39309472784678717, -0.9827368196169679}},
      {0.5,
       inf,
       3.0,
       {0.083333305555564813, -0.24999991666669444, 0.33333322222225925, 0.041666652777782406,
        0.49999983333338888, -0.12499995833334722, 0.16666661111112963, -0.41666652777782409}},
      {0.0, 2.0, 4.8347699014534289, {0, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    INFO("max_norm " << c.max_norm << " norm_type " << c.norm_type);
    Params params;
    const auto version = params.a.grad().version();
    const double total = tg::nn::clip_grad_norm_(params.all(), c.max_norm, c.norm_type);
    CHECK(total == Approx(c.total).epsilon(1e-14));
    check_close(params.grads(), c.grads, 1e-14);
    // Changed gradients are marked changed; a gradient within the norm is left alone.
    CHECK((params.a.grad().version() != version) == (c.max_norm < c.total));
  }
}

TEST_CASE("clip_grad_norm_ in f32 agrees with torch's to f32 precision", "[clip_grad]") {
  // The same with dtype=torch.float32, max_norm 1, p 2.
  Params params(tg::f32);
  const double total = tg::nn::clip_grad_norm_(params.all(), 1.0);
  CHECK(total == Approx(4.8347697257995605).epsilon(1e-6));
  check_close(
      params.grads(),
      {0.1034175232052803, -0.31025257706642151, 0.41367009282112122, 0.051708761602640152,
       0.62050515413284302, -0.15512628853321075, 0.20683504641056061, -0.51708763837814331},
      1e-6);
}

TEST_CASE("clip_grad_norm_ with non-finite gradients behaves as torch's error_if_nonfinite=False",
          "[clip_grad]") {
  const double inf = std::numeric_limits<double>::infinity();
  {
    Params params;
    Params::set(params.b, 0, inf);
    // total inf: the coefficient is 0, finite elements become 0 and the infinite one NaN.
    CHECK(std::isinf(tg::nn::clip_grad_norm_(params.all(), 1.0)));
    CHECK(params.a.grad().value<double>()(1) == 0.0);
    CHECK(std::isnan(params.b.grad().value<double>()(0)));
  }
  for (double p : {2.0, inf}) {
    Params params;  // fresh: the previous norm's NaNs must not make this one pass
    Params::set(params.a, 0, std::numeric_limits<double>::quiet_NaN());
    CHECK(std::isnan(tg::nn::clip_grad_norm_(params.all(), 1.0, p)));
    CHECK(std::isnan(params.b.grad().value<double>()(1)));  // NaN spreads, as in torch
  }
  {
    Params params;  // an infinite max_norm only measures
    CHECK(tg::nn::clip_grad_norm_(params.all(), inf) == Approx(4.8347699014534289));
    CHECK(params.grads()[1] == -1.5);
  }
  Params none;
  none.a.zero_grad();
  none.b.zero_grad();
  CHECK(tg::nn::clip_grad_norm_(none.all(), 1.0) == 0.0);  // no gradient: 0, as torch's
}

TEST_CASE("clip_grad_value_ clamps every gradient element, as torch's", "[clip_grad]") {
  // torch.nn.utils.clip_grad_value_([a], 1.0) on the same a.grad
  Params params;
  const auto b_version = params.b.grad().version();
  Params::set(params.b, 0, 0.5);
  Params::set(params.b, 1, std::numeric_limits<double>::quiet_NaN());
  tg::nn::clip_grad_value_(params.all(), 1.0);
  const auto& a = params.a.grad().value<double>();
  REQUIRE(bool(xt::allclose(a, xt::xarray<double>{{0.5, -1, 1}, {0.25, 1, -0.75}})));
  CHECK(params.b.grad().value<double>()(0) == 0.5);
  CHECK(std::isnan(params.b.grad().value<double>()(1)));  // NaN stays NaN, as torch.clamp's
  CHECK(params.b.grad().version() == b_version);          // nothing of b's was clamped
}

TEST_CASE("a clipped gradient that a graph saved is refused by that graph's backward",
          "[clip_grad][version]") {
  Tensor w = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  tg::sum(w * w * w).backward({.create_graph = true});
  const Tensor g = w.grad();  // 3 w^2, on the tape
  const Tensor second = tg::sum(g * g);
  tg::nn::clip_grad_value_({w}, 1.0);
  CHECK_THROWS_AS(second.backward(), tg::Error);
  // w's grad, recorded by create_graph, holds a graph that holds w: drop it, or the cycle leaks
  // (as PyTorch warns of backward(create_graph=True) on leaves).
  w.zero_grad();
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_ reject bad arguments", "[clip_grad][errors]") {
  Params params;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(tg::nn::clip_grad_norm_(params.all(), -1.0),
                    Catch::Contains("clip_grad_norm_: max_norm must be >= 0, got -1"));
  CHECK_THROWS_WITH(tg::nn::clip_grad_norm_(params.all(), nan),
                    Catch::Contains("clip_grad_norm_") && Catch::Contains("nan"));
  for (double p : {0.0, -2.0, -std::numeric_limits<double>::infinity(), nan}) {
    CHECK_THROWS_WITH(tg::nn::clip_grad_norm_(params.all(), 1.0, p),
                      Catch::Contains("clip_grad_norm_: norm_type must be > 0"));
  }
  CHECK_THROWS_WITH(tg::nn::clip_grad_norm_({params.a, Tensor{}}, 1.0),
                    Catch::Contains("clip_grad_norm_: parameter 1 is an undefined tensor"));
  CHECK_THROWS_WITH(tg::nn::clip_grad_value_(params.all(), -0.5),
                    Catch::Contains("clip_grad_value_: clip_value must be >= 0, got -0.5"));
  CHECK_THROWS_AS(tg::nn::clip_grad_value_(params.all(), nan), tg::Error);
  CHECK(params.grads()[1] == -1.5);  // nothing was changed by a refused call
}
