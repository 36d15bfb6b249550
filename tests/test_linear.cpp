#include <catch2/catch.hpp>

#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;
using tg::test::randn64;
using tg::test::uniform_int;

namespace {

// torch.matmul from its definition, in double: 1-D operands promoted, batch dims
// broadcast, every product a triple loop. Returns the values in row-major order and the shape.
template <class T>
std::pair<std::vector<double>, tg::Shape> reference_matmul(const xt::xarray<T>& a,
                                                           const xt::xarray<T>& b) {
  tg::Shape sa(a.shape().begin(), a.shape().end());
  tg::Shape sb(b.shape().begin(), b.shape().end());
  const bool a_vec = sa.size() == 1;
  const bool b_vec = sb.size() == 1;
  if (a_vec) sa = tg::Shape{1, sa[0]};
  if (b_vec) sb.push_back(1);
  const std::size_t m = sa[sa.size() - 2];
  const std::size_t k = sa.back();
  const std::size_t n = sb.back();
  const tg::Shape ba(sa.begin(), sa.end() - 2);
  const tg::Shape bb(sb.begin(), sb.end() - 2);
  const tg::Shape batch = tg::broadcast_shapes(ba, bb, "reference");
  std::size_t count = 1;
  for (std::size_t d : batch) count *= d;
  // Flat index of a broadcast batch index into an operand's own batch dims.
  auto flat = [&](const tg::Shape& own, const std::vector<std::size_t>& index) {
    std::size_t f = 0;
    const std::size_t offset = batch.size() - own.size();
    for (std::size_t d = 0; d < own.size(); ++d) {
      f = f * own[d] + (own[d] == 1 ? 0 : index[offset + d]);
    }
    return f;
  };
  std::vector<double> out(count * m * n);
  std::vector<std::size_t> index(batch.size(), 0);
  for (std::size_t c = 0; c < count; ++c) {
    std::size_t rest = c;
    for (std::size_t d = batch.size(); d-- > 0;) {
      index[d] = rest % batch[d];
      rest /= batch[d];
    }
    const T* am = a.data() + flat(ba, index) * m * k;
    const T* bm = b.data() + flat(bb, index) * k * n;
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::size_t p = 0; p < k; ++p) acc += double(am[i * k + p]) * double(bm[p * n + j]);
        out[(c * m + i) * n + j] = acc;
      }
    }
  }
  tg::Shape shape = batch;
  if (!a_vec) shape.push_back(m);
  if (!b_vec) shape.push_back(n);
  return {out, shape};
}

// A random pair of operand shapes for matmul: ranks 1 to 4, some batch dims 1 or missing.
std::pair<tg::Shape, tg::Shape> random_matmul_shapes(tg::Generator& gen) {
  const auto m = static_cast<std::size_t>(uniform_int(gen, 1, 4));
  const auto k = static_cast<std::size_t>(uniform_int(gen, 1, 4));
  const auto n = static_cast<std::size_t>(uniform_int(gen, 1, 4));
  const tg::Shape batch = tg::test::random_shape(gen, 0, 2, 3);
  auto operand = [&](std::size_t rows, std::size_t cols, bool left) {
    const auto kind = uniform_int(gen, 0, 3);
    if (kind == 0) return left ? tg::Shape{cols} : tg::Shape{rows};  // 1-D: [k] either way
    tg::Shape s = kind == 1 ? tg::Shape{} : tg::test::broadcast_partner(gen, batch);
    s.push_back(rows);
    s.push_back(cols);
    return s;
  };
  tg::Shape sa = operand(m, k, true);
  tg::Shape sb = operand(k, n, false);
  return {sa, sb};
}

}  // namespace

TEST_CASE("matmul of small matrices and vectors by hand", "[linear]") {
  Tensor a = tg::tensor(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}});
  Tensor b = tg::tensor(xt::xarray<double>{{5.0, 6.0}, {7.0, 8.0}});
  REQUIRE(bool(xt::allclose(tg::matmul(a, b).value<double>(),
                            xt::xarray<double>{{19.0, 22.0}, {43.0, 50.0}})));

  Tensor u = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0});
  Tensor v = tg::tensor(xt::xarray<double>{4.0, 5.0, 6.0});
  Tensor dot = tg::matmul(u, v);
  CHECK(dot.dim() == 0);
  CHECK(dot.item() == Approx(32.0));

  Tensor m = tg::tensor(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor row = tg::matmul(tg::tensor(xt::xarray<double>{1.0, 2.0}), m);  // [2] x [2,3]
  CHECK(row.shape() == tg::Shape{3});
  REQUIRE(bool(xt::allclose(row.value<double>(), xt::xarray<double>{9.0, 12.0, 15.0})));
  Tensor col = tg::matmul(m, tg::tensor(xt::xarray<double>{1.0, 0.0, -1.0}));  // [2,3] x [3]
  CHECK(col.shape() == tg::Shape{2});
  REQUIRE(bool(xt::allclose(col.value<double>(), xt::xarray<double>{-2.0, -2.0})));

  // A batch of two matrices times one shared matrix: the identity and twice the identity.
  Tensor batch = tg::tensor(xt::xarray<double>{{{1.0, 0.0}, {0.0, 1.0}}, {{2.0, 0.0}, {0.0, 2.0}}});
  Tensor out = tg::matmul(batch, b);
  CHECK(out.shape() == tg::Shape{2, 2, 2});
  REQUIRE(
      bool(xt::allclose(out.value<double>(), xt::xarray<double>{{{5.0, 6.0}, {7.0, 8.0}},
                                                                {{10.0, 12.0}, {14.0, 16.0}}})));
}

TEST_CASE("matmul gradients by hand", "[linear]") {
  // d sum(A B) / dA = 1 B^T (row sums of B), d/dB = A^T 1 (column sums of A).
  Tensor a = tg::tensor(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}}, true);
  Tensor b = tg::tensor(xt::xarray<double>{{5.0, 6.0}, {7.0, 8.0}}, true);
  tg::sum(tg::matmul(a, b)).backward();
  REQUIRE(
      bool(xt::allclose(a.grad().value<double>(), xt::xarray<double>{{11.0, 15.0}, {11.0, 15.0}})));
  REQUIRE(bool(xt::allclose(b.grad().value<double>(), xt::xarray<double>{{4.0, 4.0}, {6.0, 6.0}})));
  // A matrix broadcast over a batch of 3 gets the sum of the three gradients.
  Tensor batch = tg::ones({3, 2, 2}, {.dtype = tg::f64});
  Tensor c = tg::tensor(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}}, true);
  tg::sum(tg::matmul(batch, c)).backward();
  REQUIRE(bool(xt::allclose(c.grad().value<double>(), xt::xarray<double>{{6.0, 6.0}, {6.0, 6.0}})));
}

TEST_CASE("matmul matches the definition on random shapes with broadcast batches", "[linear]") {
  tg::manual_seed(41);
  tg::Generator gen(41);
  const std::vector<std::pair<tg::Shape, tg::Shape>> fixed = {
      {{3, 1, 2, 4}, {5, 4, 3}}, {{4}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {5}}, {{1, 4, 3}, {6, 3, 2}}};
  for (int trial = 0; trial < 24; ++trial) {
    auto [sa, sb] = trial < 4 ? fixed[trial] : random_matmul_shapes(gen);
    Tensor a = randn64(sa, false);
    Tensor b = randn64(sb, false);
    INFO(tg::to_string(sa) << " x " << tg::to_string(sb));
    Tensor out = tg::matmul(a, b);
    auto [expected, shape] = reference_matmul(a.value<double>(), b.value<double>());
    CHECK(out.shape() == shape);
    CHECK(tg::test::max_abs_error(out.value<double>(), expected) < 1e-12);
  }
}

TEST_CASE("gradcheck of matmul on 24 random shapes with broadcast batch dims", "[linear]") {
  tg::manual_seed(42);
  tg::Generator gen(42);
  for (int trial = 0; trial < 24; ++trial) {
    auto [sa, sb] = random_matmul_shapes(gen);
    Tensor a = randn64(sa);
    Tensor b = randn64(sb);
    INFO("trial " << trial << ": " << tg::to_string(sa) << " x " << tg::to_string(sb));
    const tg::GradcheckOptions options{.check_grad_grad = trial % 2 == 0};
    CHECK(tg::gradcheck([](const auto& in) { return tg::matmul(in[0], in[1]); }, {a, b}, options));
  }
  // Only one operand requiring grad.
  Tensor a = randn64({2, 3, 4});
  Tensor b = randn64({4, 5}, false);
  CHECK(tg::gradcheck([](const auto& in) { return tg::matmul(in[0], in[1]); }, {a, b},
                      {.check_grad_grad = true}));
  CHECK(tg::gradcheck([](const auto& in) { return tg::matmul(in[1], in[0]); },
                      {randn64({5, 3}), randn64({2, 4, 5}, false)}, {.check_grad_grad = true}));
}

TEST_CASE("linear by hand, with and without bias, on any leading dims", "[linear]") {
  Tensor w = tg::tensor(xt::xarray<double>{{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}});  // [3,2]
  Tensor b = tg::tensor(xt::xarray<double>{0.5, -0.5, 1.0});
  Tensor x = tg::tensor(xt::xarray<double>{{1.0, 2.0}, {-1.0, 3.0}});  // [2,2]
  REQUIRE(bool(xt::allclose(tg::linear(x, w, b).value<double>(),
                            xt::xarray<double>{{1.5, 1.5, 4.0}, {-0.5, 2.5, 3.0}})));
  REQUIRE(bool(xt::allclose(tg::linear(x, w).value<double>(),
                            xt::xarray<double>{{1.0, 2.0, 3.0}, {-1.0, 3.0, 2.0}})));
  Tensor v = tg::linear(tg::tensor(xt::xarray<double>{1.0, 2.0}), w, b);  // [2] -> [3]
  CHECK(v.shape() == tg::Shape{3});
  REQUIRE(bool(xt::allclose(v.value<double>(), xt::xarray<double>{1.5, 1.5, 4.0})));
  Tensor x3 = tg::reshape(x, {2, 1, 2});
  Tensor y3 = tg::linear(x3, w, b);
  CHECK(y3.shape() == tg::Shape{2, 1, 3});
  REQUIRE(bool(xt::allclose(tg::reshape(y3, {2, 3}).value<double>(),
                            xt::xarray<double>{{1.5, 1.5, 4.0}, {-0.5, 2.5, 3.0}})));
}

TEST_CASE("linear gradients by hand", "[linear]") {
  // d sum(x w^T + b): dx = rows of ones times w (column sums of w), dw = 1^T x (column sums
  // of x, per output), db = N.
  Tensor w = tg::tensor(xt::xarray<double>{{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}, true);
  Tensor b = tg::tensor(xt::xarray<double>{0.5, -0.5, 1.0}, true);
  Tensor x = tg::tensor(xt::xarray<double>{{1.0, 2.0}, {-1.0, 3.0}}, true);
  tg::sum(tg::linear(x, w, b)).backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{{2.0, 2.0}, {2.0, 2.0}})));
  REQUIRE(bool(xt::allclose(w.grad().value<double>(),
                            xt::xarray<double>{{0.0, 5.0}, {0.0, 5.0}, {0.0, 5.0}})));
  REQUIRE(bool(xt::allclose(b.grad().value<double>(), xt::xarray<double>{2.0, 2.0, 2.0})));
}

TEST_CASE("gradcheck of linear on 24 random shapes, with and without bias", "[linear]") {
  tg::manual_seed(43);
  tg::Generator gen(43);
  for (int trial = 0; trial < 24; ++trial) {
    tg::Shape xs = tg::test::random_shape(gen, 0, 3, 3);
    const auto in = static_cast<std::size_t>(uniform_int(gen, 1, 5));
    const auto out = static_cast<std::size_t>(uniform_int(gen, 1, 4));
    xs.push_back(in);
    const bool with_bias = trial % 2 == 0;
    Tensor x = randn64(xs);
    Tensor w = randn64({out, in});
    Tensor b = with_bias ? randn64({out}) : Tensor{};
    INFO("trial " << trial << ": x " << tg::to_string(xs) << " w " << tg::to_string(w.shape())
                  << (with_bias ? " with bias" : " without bias"));
    const tg::GradcheckOptions options{.check_grad_grad = trial % 3 != 2};
    CHECK(tg::gradcheck([](const auto& v) { return tg::linear(v[0], v[1], v[2]); }, {x, w, b},
                        options));
    // Output gradient depending on the inputs: the backward's own gradients w.r.t. g.
    CHECK(tg::gradcheck(
        [](const auto& v) {
          Tensor y = tg::linear(v[0], v[1], v[2]);
          return y * y;
        },
        {x, w, b}, options));
  }
}

TEST_CASE("f32 matmul and linear agree with a double computation, serial and parallel",
          "[linear]") {
  tg::manual_seed(44);
  // Large enough for gemm_parallel to split rows, and a batch of small products spread one
  // per task.
  Tensor a = tg::randn({150, 300}, {.dtype = tg::f32});
  Tensor b = tg::randn({300, 70}, {.dtype = tg::f32});
  auto [expected, shape] = reference_matmul(a.value<float>(), b.value<float>());
  Tensor ab = tg::matmul(a, b);
  CHECK(ab.dtype() == tg::f32);
  CHECK(tg::test::max_abs_error(ab.value<float>(), expected) < 1e-3);

  Tensor p = tg::randn({64, 8, 9}, {.dtype = tg::f32});
  Tensor q = tg::randn({64, 9, 7}, {.dtype = tg::f32});
  auto [expected_pq, shape_pq] = reference_matmul(p.value<float>(), q.value<float>());
  CHECK(tg::test::max_abs_error(tg::matmul(p, q).value<float>(), expected_pq) < 1e-4);

  Tensor x = tg::randn({4, 50, 70}, {.dtype = tg::f32});
  Tensor w = tg::randn({30, 70}, {.dtype = tg::f32});
  Tensor bias = tg::randn({30}, {.dtype = tg::f32});
  Tensor y = tg::linear(x, w, bias);
  CHECK(y.shape() == tg::Shape{4, 50, 30});
  auto [xw, xw_shape] =
      reference_matmul(x.value<float>(), xt::xarray<float>(xt::transpose(w.value<float>())));
  for (std::size_t i = 0; i < xw.size(); ++i) xw[i] += bias.value<float>()(i % 30);
  CHECK(tg::test::max_abs_error(y.value<float>(), xw) < 1e-4);
}

TEST_CASE("matmul and linear give identical bits for 1 and 2 threads", "[linear]") {
  tg::manual_seed(45);
  Tensor a = tg::randn({300, 200}, {.dtype = tg::f32, .requires_grad = true});
  Tensor w = tg::randn({120, 200}, {.dtype = tg::f32, .requires_grad = true});
  auto run = [&](int threads) {
    tg::set_num_threads(threads);
    a.zero_grad();
    w.zero_grad();
    Tensor y = tg::linear(a, w);
    tg::sum(y * y).backward();
    std::vector<xt::xarray<float>> result{y.value<float>(), a.grad().value<float>(),
                                          w.grad().value<float>()};
    tg::set_num_threads(0);
    return result;
  };
  const auto one = run(1);
  const auto two = run(2);
  for (std::size_t i = 0; i < one.size(); ++i) REQUIRE(bool(xt::all(xt::equal(one[i], two[i]))));
}

TEST_CASE("matmul and linear reject bad inputs with the op's name", "[linear][errors]") {
  CHECK_THROWS_AS(tg::matmul(tg::ones({2, 3}), tg::ones({4, 5})), tg::Error);
  CHECK_THROWS_WITH(tg::matmul(tg::ones({2, 3}), tg::ones({4, 5})), Catch::Contains("matmul") &&
                                                                        Catch::Contains("[2,3]") &&
                                                                        Catch::Contains("[4,5]"));
  CHECK_THROWS_WITH(tg::matmul(tg::ones({2, 3, 4}), tg::ones({3, 4, 5})),
                    Catch::Contains("matmul") && Catch::Contains("[2,3,4]") &&
                        Catch::Contains("[3,4,5]") && Catch::Contains("broadcast"));
  CHECK_THROWS_WITH(tg::matmul(tg::ones({}), tg::ones({3})),
                    Catch::Contains("matmul") && Catch::Contains("[]") && Catch::Contains("[3]"));
  CHECK_THROWS_WITH(
      tg::matmul(tg::ones({2, 2}), tg::ones({2, 2}, {.dtype = tg::f64})),
      Catch::Contains("matmul") && Catch::Contains("f64") && Catch::Contains("[2,2]"));
  CHECK_THROWS_WITH(tg::matmul(Tensor{}, tg::ones({2})),
                    Catch::Contains("matmul") && Catch::Contains("undefined"));

  Tensor w = tg::ones({10, 120});
  CHECK_THROWS_WITH(tg::linear(tg::ones({64, 100}), w),
                    Catch::Contains("linear") && Catch::Contains("[64,100]") &&
                        Catch::Contains("[10,120]") && Catch::Contains("expects 120"));
  CHECK_THROWS_WITH(
      tg::linear(tg::ones({64, 120}), tg::ones({120})),
      Catch::Contains("linear") && Catch::Contains("weight") && Catch::Contains("[120]"));
  CHECK_THROWS_WITH(tg::linear(tg::ones({64, 120}), w, tg::ones({5})),
                    Catch::Contains("linear") && Catch::Contains("bias") &&
                        Catch::Contains("[5]") && Catch::Contains("[10]"));
  CHECK_THROWS_WITH(
      tg::linear(tg::zeros({64, 120}, {.dtype = tg::i64}), w),
      Catch::Contains("linear") && Catch::Contains("i64") && Catch::Contains("[64,120]"));
  CHECK_THROWS_WITH(tg::linear(Tensor{}, w),
                    Catch::Contains("linear") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(tg::linear(tg::ones({}), w),
                    Catch::Contains("linear") && Catch::Contains("[]"));
}
