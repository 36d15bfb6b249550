// tg::distributed in a tapegrad built without MPI: the world is this process alone, so every
// collective leaves its data as it is, and a program written for many ranks runs as one.
#include <cstdio>
#include <cstdlib>

#include "../backend.hpp"

namespace tg::distributed {
namespace {

class Done final : public detail::PendingReduce {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

bool is_available() { return false; }

void init(const InitOptions& /*options*/) {
  fail(
      "distributed::init: this tapegrad was built without MPI (CMake found none, or "
      "TG_WITH_MPI=OFF); install an MPI (Debian: libopenmpi-dev openmpi-bin) and build again");
}

bool is_initialized() { return false; }
int rank() { return 0; }
int world_size() { return 1; }
int local_world_size() { return 1; }

void abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "tapegrad: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(exit_code);
}

namespace detail {

std::unique_ptr<PendingReduce> start_all_reduce(void* /*data*/, std::size_t /*count*/, DType dtype,
                                                ReduceOp op, std::string what,
                                                const std::shared_ptr<void>& /*owner*/) {
  if (op == ReduceOp::mean && dtype == DType::i64) {
    fail("{}: a mean needs a floating tensor, not i64", what);
  }
  return std::make_unique<Done>();
}

void broadcast_bytes(void* /*data*/, std::size_t /*bytes*/, int /*root*/,
                     std::string_view /*what*/) {}

std::vector<std::string> all_gather(const std::string& mine, std::string_view /*what*/) {
  return {mine};
}

void barrier(std::string_view /*what*/) {}

bool failed() { return false; }

void abandon(std::unique_ptr<PendingReduce> /*reduce*/) {}

}  // namespace detail
}  // namespace tg::distributed
