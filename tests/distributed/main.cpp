// The tests of tg::distributed run as MPI jobs (CMakeLists.txt here starts them with mpirun), so
// this binary joins the job before Catch runs. Every rank runs every test: the collectives must
// be called by all ranks in the same order, hence no test may depend on which tests ran before
// it on one rank only.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>

#include <tapegrad.hpp>

int main(int argc, char** argv) {
  // A failing rank must not keep the others waiting for the whole default half hour.
  const char* timeout = std::getenv("TG_TEST_TIMEOUT_S");
  const auto seconds = std::chrono::seconds(timeout ? std::atoi(timeout) : 30);
  if (tg::distributed::is_available()) tg::distributed::init({.timeout = seconds});
  tg::set_num_threads(1);  // the ranks share the machine's cores
  // distributed.failure.exit_early: this rank takes part in one all_reduce and returns from
  // main, as a program that ends too soon, while the others go on ([.exit_early]).
  if (const char* early = std::getenv("TG_TEST_EXIT_EARLY_RANK");
      early && tg::distributed::rank() == std::atoi(early)) {
    tg::distributed::all_reduce(tg::ones({10}));
    return 0;
  }
  return Catch::Session().run(argc, argv);
}
