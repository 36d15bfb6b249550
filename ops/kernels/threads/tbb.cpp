#include <memory>
#include <mutex>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include "backend.hpp"

namespace tg::kernels::threads {
namespace {

std::mutex control_mutex;
std::unique_ptr<tbb::global_control> control;

}  // namespace

void run_tasks(std::size_t count, const std::function<void(std::size_t)>& task) {
  // One task per index; simple_partitioner never merges them, so the work each call sees is the
  // same whatever the number of threads.
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, count, 1),
      [&](const tbb::blocked_range<std::size_t>& range) {
        for (std::size_t i = range.begin(); i != range.end(); ++i) task(i);
      },
      tbb::simple_partitioner());
}

void set_limit(int threads) {
  std::lock_guard lock(control_mutex);
  control.reset();
  if (threads > 0) {
    control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(threads));
  }
}

int limit() {
  return static_cast<int>(
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace tg::kernels::threads
