#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <tapegrad.hpp>

#include "support.hpp"

namespace dist = tg::distributed;

namespace {

// Shapes of odd sizes, a scalar and empty ones.
const std::vector<tg::Shape> kShapes = {{},        {1},    {2},      {3}, {7},
                                        {3, 5, 7}, {1001}, {100003}, {0}, {4, 0, 3}};

// Rank r's values: (r + 1) * (i % 13) + r, small integers, so that every order of summation
// gives the same exact sum.
template <class T>
tg::Tensor rank_values(const tg::Shape& shape, int rank) {
  tg::Tensor t = tg::zeros(shape, {.dtype = tg::dtype_of<T>()});
  auto& v = t.value<T>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    v.data()[i] = static_cast<T>((rank + 1) * static_cast<int>(i % 13) + rank);
  }
  return t;
}

}  // namespace

TEMPLATE_TEST_CASE("all_reduce sums over the ranks, in place, for every size", "[collectives]",
                   float, double, std::int64_t) {
  const int n = dist::world_size();
  for (const tg::Shape& shape : kShapes) {
    CAPTURE(tg::to_string(shape));
    tg::Tensor t = rank_values<TestType>(shape, dist::rank());
    const auto version = t.version();
    dist::all_reduce(t);
    REQUIRE(t.shape() == shape);
    const auto& v = t.value<TestType>();
    for (std::size_t i = 0; i < v.size(); ++i) {
      // sum over r of (r + 1) k + r = k n (n + 1) / 2 + n (n - 1) / 2, k = i % 13
      const auto k = static_cast<int>(i % 13);
      REQUIRE(v.data()[i] == static_cast<TestType>(k * n * (n + 1) / 2 + n * (n - 1) / 2));
    }
    if (t.numel() > 0) CHECK(t.version() > version);
  }
}

TEMPLATE_TEST_CASE("all_reduce with mean divides the sum by the number of ranks", "[collectives]",
                   float, double) {
  const int n = dist::world_size();
  for (const tg::Shape& shape : kShapes) {
    CAPTURE(tg::to_string(shape));
    tg::Tensor t = rank_values<TestType>(shape, dist::rank());
    dist::all_reduce(t, dist::ReduceOp::mean);
    const auto& v = t.value<TestType>();
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto k = static_cast<int>(i % 13);
      const auto sum = static_cast<TestType>(k * n * (n + 1) / 2 + n * (n - 1) / 2);
      REQUIRE(v.data()[i] == sum / static_cast<TestType>(n));
    }
  }
}

TEST_CASE("all_reduce sums in the fixed ring order: the same bits on every rank and every run",
          "[collectives]") {
  const int n = dist::world_size();
  const std::size_t count = 1003;
  // Every rank's input, made here on every rank from the rank's seed.
  std::vector<std::vector<float>> inputs(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    tg::Generator generator(1000 + static_cast<std::uint64_t>(r));
    for (std::size_t i = 0; i < count; ++i) {
      inputs[static_cast<std::size_t>(r)].push_back(static_cast<float>(generator.normal()));
    }
  }
  const auto& mine = inputs[static_cast<std::size_t>(dist::rank())];
  tg::Tensor a = tg::zeros({count});
  std::copy(mine.begin(), mine.end(), a.value<float>().begin());
  tg::Tensor b = a.clone();
  dist::all_reduce(a);
  dist::all_reduce(b);
  REQUIRE(bool(xt::all(xt::equal(a.value<float>(), b.value<float>()))));

  // The documented order: chunk c (elements [count c / n, count (c + 1) / n)) is summed as
  // ((x_c + x_{c+1}) + x_{c+2}) + ..., ranks modulo n.
  for (int c = 0; c < n; ++c) {
    for (std::size_t i = count * static_cast<std::size_t>(c) / static_cast<std::size_t>(n);
         i < count * static_cast<std::size_t>(c + 1) / static_cast<std::size_t>(n); ++i) {
      float sum = inputs[static_cast<std::size_t>(c)][i];
      for (int k = 1; k < n; ++k) sum = inputs[static_cast<std::size_t>((c + k) % n)][i] + sum;
      REQUIRE(a.value<float>()(i) == sum);
    }
  }
}

TEMPLATE_TEST_CASE("broadcast copies the root's values into every rank's tensor", "[collectives]",
                   float, double, std::int64_t) {
  const int n = dist::world_size();
  for (const int root : {0, n - 1}) {
    for (const tg::Shape& shape : kShapes) {
      CAPTURE(root, tg::to_string(shape));
      tg::Tensor t = rank_values<TestType>(shape, dist::rank());
      dist::broadcast(t, root);
      const tg::Tensor expected = rank_values<TestType>(shape, root);
      REQUIRE(tg::test::same_bits(t, expected));
    }
  }
}

TEST_CASE("collectives refuse what cannot be reduced, with the same error on every rank",
          "[collectives][errors]") {
  const int n = dist::world_size();
  tg::Tensor labels = tg::zeros({3}, {.dtype = tg::i64});
  REQUIRE_THROWS_AS(dist::all_reduce(labels, dist::ReduceOp::mean), tg::Error);
  REQUIRE_THROWS_WITH(dist::all_reduce(labels, dist::ReduceOp::mean),
                      Catch::Contains("all_reduce") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(dist::broadcast(labels, n),
                      Catch::Contains("broadcast") && Catch::Contains("root " + std::to_string(n)));
  REQUIRE_THROWS_WITH(dist::broadcast(labels, -1), Catch::Contains("root -1"));
  REQUIRE_THROWS_WITH(dist::all_reduce(tg::Tensor{}), Catch::Contains("undefined"));
  tg::Tensor weight = tg::ones({2}, {.requires_grad = true});
  REQUIRE_THROWS_WITH(dist::all_reduce(weight), Catch::Contains("NoGradGuard"));
  {
    tg::NoGradGuard no_grad;
    dist::all_reduce(weight);
  }
  REQUIRE(weight.value<float>()(0) == static_cast<float>(n));

  // One rank's bad argument is every rank's error: none is left waiting.
  tg::Tensor one_bad = dist::rank() == n - 1 ? tg::Tensor{} : tg::ones({2});
  REQUIRE_THROWS_WITH(dist::all_reduce(one_bad),
                      Catch::Contains("on rank " + std::to_string(n - 1)));
  if (n > 1) {
    tg::Tensor shaped = tg::zeros({dist::rank() == 0 ? std::size_t{3} : std::size_t{4}});
    REQUIRE_THROWS_WITH(dist::all_reduce(shaped),
                        Catch::Contains("rank 0 passes f32 [3] sum but rank 1 passes f32 [4]"));
    tg::Tensor typed = tg::zeros({3}, {.dtype = dist::rank() == 0 ? tg::f32 : tg::f64});
    REQUIRE_THROWS_WITH(dist::broadcast(typed), Catch::Contains("f64 [3]"));
  }
  // And the ranks are still in step.
  tg::Tensor t = tg::ones({5});
  dist::all_reduce(t);
  REQUIRE(t.value<float>()(4) == static_cast<float>(n));
}

TEST_CASE("barrier returns when every rank has reached it", "[collectives]") {
  using Clock = std::chrono::steady_clock;
  dist::barrier();  // the ranks leave it together, within a scheduling delay
  const auto start = Clock::now();
  if (dist::rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(400));
  dist::barrier();
  // Every rank waited for rank 0's sleep (less the time it left the first barrier after rank 0).
  CHECK(Clock::now() - start >= std::chrono::milliseconds(200));
}

TEST_CASE("the world before init() or without MPI is one process", "[collectives]") {
  REQUIRE(dist::rank() >= 0);
  REQUIRE(dist::rank() < dist::world_size());
  REQUIRE(dist::is_initialized() == dist::is_available());
  if (!dist::is_available()) {
    REQUIRE_THROWS_WITH(dist::init(), Catch::Contains("without MPI"));
  } else {
    dist::init({.timeout = std::chrono::seconds(30)});  // idempotent
    REQUIRE_THROWS_WITH(dist::init({.timeout = std::chrono::seconds(0)}),
                        Catch::Contains("timeout must be positive"));
  }
}

TEST_CASE("local_world_size counts the ranks on this machine", "[collectives]") {
  // CTest's jobs run every rank on this machine.
  REQUIRE(dist::local_world_size() == dist::world_size());
}
