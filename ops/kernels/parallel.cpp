#include "parallel.hpp"

#include <algorithm>
#include <memory>
#include <mutex>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

namespace tg::kernels {
namespace {

std::mutex control_mutex;
std::unique_ptr<tbb::global_control> control;

}  // namespace

std::size_t chunk_count(std::size_t n, std::size_t grain) {
  grain = std::max<std::size_t>(grain, 1);
  return (n + grain - 1) / grain;
}

void parallel_chunks(std::size_t n, std::size_t grain,
                     const std::function<void(std::size_t, std::size_t, std::size_t)>& body) {
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t chunks = chunk_count(n, grain);
  auto run_chunk = [&](std::size_t c) { body(c, c * grain, std::min(n, (c + 1) * grain)); };
  if (chunks <= 1 || thread_limit() == 1) {
    for (std::size_t c = 0; c < chunks; ++c) run_chunk(c);
    return;
  }
  // One task per chunk; simple_partitioner never merges them, so the work each call sees is
  // the same whatever the number of threads.
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, chunks, 1),
      [&](const tbb::blocked_range<std::size_t>& range) {
        for (std::size_t c = range.begin(); c != range.end(); ++c) run_chunk(c);
      },
      tbb::simple_partitioner());
}

void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body) {
  parallel_chunks(n, grain,
                  [&](std::size_t, std::size_t begin, std::size_t end) { body(begin, end); });
}

void set_thread_limit(int threads) {
  std::lock_guard lock(control_mutex);
  control.reset();
  if (threads > 0) {
    control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(threads));
  }
}

int thread_limit() {
  return static_cast<int>(
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace tg::kernels
