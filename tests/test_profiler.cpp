// The per-op timer: what it records when on (forward ops, backward closures, self times that
// add up), and that it records nothing when off.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>

#include <tapegrad.hpp>

namespace {

const tg::profiler::OpTime* find(const std::vector<tg::profiler::OpTime>& ops,
                                 const std::string& name) {
  auto it = std::find_if(ops.begin(), ops.end(),
                         [&](const tg::profiler::OpTime& op) { return op.name == name; });
  return it == ops.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("the profiler times forward ops and backward closures when on", "[profiler]") {
  tg::manual_seed(40);
  tg::Tensor x = tg::randn({4, 3, 10, 10}, {.requires_grad = true});
  tg::Tensor w = tg::randn({5, 3, 3, 3}, {.requires_grad = true});
  tg::profiler::reset();

  tg::profiler::enable();
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < 3; ++step) tg::sum(tg::relu(tg::conv2d(x, w))).backward();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tg::profiler::enable(false);

  const auto ops = tg::profiler::results();
  for (const char* name : {"conv2d", "relu", "sum", "conv2d backward", "relu backward",
                           "conv2d_input_grad", "conv2d_weight_grad"}) {
    INFO(name << "\n" << tg::profiler::report());
    const tg::profiler::OpTime* op = find(ops, name);
    REQUIRE(op != nullptr);
    CHECK(op->calls == 3);
    CHECK(op->seconds >= 0.0);
  }
  // Self times: the rows add up to no more than the time the block took.
  double total = 0.0;
  for (const auto& op : ops) total += op.seconds;
  CHECK(total <= wall);
  CHECK(std::is_sorted(ops.begin(), ops.end(),
                       [](const auto& a, const auto& b) { return a.seconds > b.seconds; }));
  CHECK(tg::profiler::report().find("| conv2d | 3 |") != std::string::npos);

  tg::profiler::reset();
  CHECK(tg::profiler::results().empty());
}

TEST_CASE("the profiler records nothing when off", "[profiler]") {
  tg::profiler::reset();
  REQUIRE_FALSE(tg::profiler::is_enabled());
  tg::Tensor x = tg::randn({3, 4}, {.requires_grad = true});
  tg::sum(tg::relu(x)).backward();
  CHECK(tg::profiler::results().empty());
}
