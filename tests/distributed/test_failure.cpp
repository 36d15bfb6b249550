// Jobs that must fail: run by CTest through expect_failure.cmake, which checks that mpirun ends
// with an error, within a time bound, saying why. Hidden from the normal runs (tags "[.x]").
// In each, the last rank misbehaves while the others all-reduce in a loop, as in training.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <thread>

#include <tapegrad.hpp>

namespace dist = tg::distributed;

namespace {

bool misbehaving() { return dist::rank() == dist::world_size() - 1; }

// What the well-behaved ranks do: all-reduce, over and over, for much longer than the test may
// take.
void keep_reducing() {
  tg::Tensor t = tg::ones({1000});
  for (int i = 0; i < 1000000; ++i) dist::all_reduce(t, dist::ReduceOp::mean);
}

}  // namespace

// The last rank returns from main after its first all_reduce (main.cpp, with
// TG_TEST_EXIT_EARLY_RANK): it never gets here.
TEST_CASE("a rank that exits early", "[.exit_early]") {
  REQUIRE(dist::world_size() > 1);
  dist::all_reduce(tg::ones({10}));
  keep_reducing();
}

TEST_CASE("a rank that dies", "[.killed]") {
  REQUIRE(dist::world_size() > 1);
  tg::Tensor t = tg::ones({10});
  dist::all_reduce(t);
  if (misbehaving()) std::raise(SIGKILL);
  keep_reducing();
}

TEST_CASE("a rank that hangs", "[.hang]") {
  REQUIRE(dist::world_size() > 1);
  tg::Tensor t = tg::ones({10});
  dist::all_reduce(t);
  if (misbehaving()) std::this_thread::sleep_for(std::chrono::hours(1));
  keep_reducing();
}

TEST_CASE("a rank that catches an error and aborts the job", "[.abort]") {
  REQUIRE(dist::world_size() > 1);
  tg::Tensor t = tg::ones({10});
  dist::all_reduce(t);
  if (misbehaving()) {
    try {
      tg::zeros({2, 3}).reshape({4});
    } catch (const tg::Error& e) {
      dist::abort(e.what());
    }
  }
  keep_reducing();
}
