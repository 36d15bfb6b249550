#include <catch2/catch.hpp>

#include <cmath>
#include <tuple>
#include <vector>

#include <tapegrad.hpp>

#include "../ops/kernels/gemm.hpp"
#include "support/random.hpp"

namespace k = tg::kernels;

namespace {

// C = alpha op(A) op(B) + beta C by the definition.
std::vector<double> reference(k::Trans ta, k::Trans tb, std::size_t m, std::size_t n,
                              std::size_t kk, double alpha, const std::vector<double>& a,
                              const std::vector<double>& b, double beta, std::vector<double> c) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::size_t p = 0; p < kk; ++p) {
        const double av = ta == k::Trans::yes ? a[p * m + i] : a[i * kk + p];
        const double bv = tb == k::Trans::yes ? b[j * kk + p] : b[p * n + j];
        acc += av * bv;
      }
      c[i * n + j] = alpha * acc + beta * c[i * n + j];
    }
  }
  return c;
}

std::vector<double> random_vector(tg::Generator& gen, std::size_t n) {
  std::vector<double> v(n);
  for (double& x : v) x = gen.normal();
  return v;
}

}  // namespace

TEST_CASE("gemm matches the definition for all transposes, alphas and betas", "[gemm]") {
  tg::Generator gen(5);
  for (int trial = 0; trial < 40; ++trial) {
    const auto m = static_cast<std::size_t>(tg::test::uniform_int(gen, 1, 70));
    const auto n = static_cast<std::size_t>(tg::test::uniform_int(gen, 1, 70));
    const auto kk = static_cast<std::size_t>(tg::test::uniform_int(gen, 1, 300));
    const auto ta = gen.below(2) ? k::Trans::yes : k::Trans::no;
    const auto tb = gen.below(2) ? k::Trans::yes : k::Trans::no;
    const double alpha = trial % 3 == 0 ? 1.0 : gen.normal();
    const double beta = trial % 4 == 0 ? 0.0 : gen.normal();
    auto a = random_vector(gen, m * kk);
    auto b = random_vector(gen, kk * n);
    auto c = random_vector(gen, m * n);
    const auto expected = reference(ta, tb, m, n, kk, alpha, a, b, beta, c);
    const std::size_t lda = ta == k::Trans::yes ? m : kk;
    const std::size_t ldb = tb == k::Trans::yes ? kk : n;
    INFO("m " << m << " n " << n << " k " << kk << " ta " << (ta == k::Trans::yes) << " tb "
              << (tb == k::Trans::yes));
    auto serial = c;
    k::gemm(ta, tb, m, n, kk, alpha, a.data(), lda, b.data(), ldb, beta, serial.data(), n);
    auto parallel = c;
    k::gemm_parallel(ta, tb, m, n, kk, alpha, a.data(), lda, b.data(), ldb, beta, parallel.data(),
                     n);
    for (std::size_t i = 0; i < m * n; ++i) {
      REQUIRE(serial[i] == Approx(expected[i]).epsilon(1e-12).margin(1e-12));
      REQUIRE(parallel[i] == serial[i]);
    }
  }
}

TEST_CASE("float gemm across several packed blocks matches the definition", "[gemm]") {
  tg::Generator gen(6);
  // 150 x 12400 x 300: m spans two row blocks, n two or more column blocks of the float
  // micro-kernel (AVX2: 96 rows, 4096 columns; AVX-512: 128 and 12288), k two depth blocks.
  // 29 x 73 x 37: partial slivers of 29 and 25 lines (three groups of eight through the 8x8
  // transposes, then single lines) and a depth that is not a multiple of 8.
  for (auto [m, n, kk] : {std::tuple<std::size_t, std::size_t, std::size_t>{150, 12400, 300},
                          std::tuple<std::size_t, std::size_t, std::size_t>{29, 73, 37}}) {
    std::vector<float> a(m * kk), b(kk * n), c(m * n, 0.0f);
    for (float& x : a) x = static_cast<float>(gen.normal());
    for (float& x : b) x = static_cast<float>(gen.normal());
    // Every transpose: a transposed operand is packed through the AVX 8x8 transposes.
    for (auto [ta, tb] :
         {std::pair{k::Trans::no, k::Trans::no}, std::pair{k::Trans::yes, k::Trans::yes},
          std::pair{k::Trans::no, k::Trans::yes}, std::pair{k::Trans::yes, k::Trans::no}}) {
      INFO("m " << m << " n " << n << " k " << kk << " ta " << (ta == k::Trans::yes) << " tb "
                << (tb == k::Trans::yes));
      const std::size_t lda = ta == k::Trans::yes ? m : kk;
      const std::size_t ldb = tb == k::Trans::yes ? kk : n;
      k::gemm(ta, tb, m, n, kk, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
      const std::size_t step_i = m > 100 ? 7 : 1;
      const std::size_t step_j = n > 100 ? 13 : 1;
      for (std::size_t i = 0; i < m; i += step_i) {
        for (std::size_t j = 0; j < n; j += step_j) {
          double expected = 0;
          for (std::size_t p = 0; p < kk; ++p) {
            const double av = ta == k::Trans::yes ? a[p * m + i] : a[i * kk + p];
            const double bv = tb == k::Trans::yes ? b[j * kk + p] : b[p * n + j];
            expected += av * bv;
          }
          REQUIRE(c[i * n + j] == Approx(expected).margin(1e-3));
        }
      }
    }
  }
}

TEST_CASE("gemm_parallel cut by rows or by columns gives gemm's bits", "[gemm]") {
  // Large enough to be cut: taller than wide (by rows), wider than tall (by columns, as
  // linear's products), every transpose, float (the AVX transposes) and double.
  tg::Generator gen(8);
  tg::set_num_threads(2);
  for (auto [m, n, kk] : {std::tuple<std::size_t, std::size_t, std::size_t>{700, 64, 300},
                          std::tuple<std::size_t, std::size_t, std::size_t>{64, 1000, 300}}) {
    for (int t = 0; t < 4; ++t) {
      const auto ta = t & 1 ? k::Trans::yes : k::Trans::no;
      const auto tb = t & 2 ? k::Trans::yes : k::Trans::no;
      INFO("m " << m << " n " << n << " k " << kk << " ta " << (t & 1) << " tb " << (t & 2));
      const std::size_t lda = ta == k::Trans::yes ? m : kk;
      const std::size_t ldb = tb == k::Trans::yes ? kk : n;
      const auto a = random_vector(gen, m * kk);
      const auto b = random_vector(gen, kk * n);
      const auto c = random_vector(gen, m * n);
      auto serial = c;
      auto parallel = c;
      k::gemm(ta, tb, m, n, kk, 0.5, a.data(), lda, b.data(), ldb, 2.0, serial.data(), n);
      k::gemm_parallel(ta, tb, m, n, kk, 0.5, a.data(), lda, b.data(), ldb, 2.0, parallel.data(),
                       n);
      REQUIRE(parallel == serial);
      std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(c.begin(), c.end());
      auto serial_f = cf;
      k::gemm(ta, tb, m, n, kk, 1.0f, af.data(), lda, bf.data(), ldb, 0.0f, serial_f.data(), n);
      k::gemm_parallel(ta, tb, m, n, kk, 1.0f, af.data(), lda, bf.data(), ldb, 0.0f, cf.data(), n);
      REQUIRE(cf == serial_f);
    }
  }
  tg::set_num_threads(0);
}

TEST_CASE("gemm_parallel cut along the depth: the definition, the same bits at 1 and 2 threads",
          "[gemm]") {
  // A C too small to cut in two (64 x 128, linear's forward in mnist_cnn) and a depth of several
  // chunks with a partial last one; beta 0 over a C of NaN, and beta 2.
  tg::Generator gen(9);
  const std::size_t m = 64, n = 128, kk = 4000;
  for (int t = 0; t < 4; ++t) {
    const auto ta = t & 1 ? k::Trans::yes : k::Trans::no;
    const auto tb = t & 2 ? k::Trans::yes : k::Trans::no;
    const std::size_t lda = ta == k::Trans::yes ? m : kk;
    const std::size_t ldb = tb == k::Trans::yes ? kk : n;
    const auto a = random_vector(gen, m * kk);
    const auto b = random_vector(gen, kk * n);
    const auto c = random_vector(gen, m * n);
    for (const double beta : {0.0, 2.0}) {
      INFO("ta " << (t & 1) << " tb " << (t & 2) << " beta " << beta);
      const auto expected = reference(ta, tb, m, n, kk, 0.5, a, b, beta, c);
      std::vector<std::vector<double>> results;
      std::vector<std::vector<float>> results_f;
      for (const int threads : {1, 2}) {
        tg::set_num_threads(threads);
        auto out = beta == 0.0 ? std::vector<double>(m * n, std::nan("")) : c;
        k::gemm_parallel(ta, tb, m, n, kk, 0.5, a.data(), lda, b.data(), ldb, beta, out.data(), n);
        results.push_back(out);
        std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
        std::vector<float> out_f(out.size(), std::nanf(""));
        if (beta != 0.0) out_f.assign(c.begin(), c.end());
        k::gemm_parallel(ta, tb, m, n, kk, 0.5f, af.data(), lda, bf.data(), ldb,
                         static_cast<float>(beta), out_f.data(), n);
        results_f.push_back(out_f);
      }
      tg::set_num_threads(0);
      CHECK(results[0] == results[1]);
      CHECK(results_f[0] == results_f[1]);
      for (std::size_t i = 0; i < m * n; ++i) {
        REQUIRE(results[0][i] == Approx(expected[i]).epsilon(1e-12).margin(1e-10));
        REQUIRE(results_f[0][i] == Approx(expected[i]).epsilon(1e-4).margin(1e-2));
      }
    }
  }
}

TEST_CASE("gemm with beta 0 ignores NaN in C", "[gemm]") {
  std::vector<float> a{1, 2}, b{3, 4}, c{std::numeric_limits<float>::quiet_NaN()};
  k::gemm(k::Trans::no, k::Trans::no, 1, 1, 2, 1.0f, a.data(), 2, b.data(), 1, 0.0f, c.data(), 1);
  CHECK(c[0] == 11.0f);
  // Whole register tiles and edge ones, and a depth of two packed blocks: the first overwrites C
  // and the second adds to it.
  tg::Generator gen(5);
  const std::size_t m = 19, n = 53, kk = 300;
  const std::vector<double> a64 = random_vector(gen, m * kk);
  const std::vector<double> b64 = random_vector(gen, kk * n);
  const std::vector<double> zeros(m * n, 0.0);
  const auto expected = reference(k::Trans::no, k::Trans::no, m, n, kk, 1.0, a64, b64, 0.0, zeros);
  std::vector<double> out(m * n, std::nan(""));
  k::gemm(k::Trans::no, k::Trans::no, m, n, kk, 1.0, a64.data(), kk, b64.data(), n, 0.0, out.data(),
          n);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == Approx(expected[i]).margin(1e-12));
}
