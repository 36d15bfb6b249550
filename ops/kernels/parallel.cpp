#include "parallel.hpp"

#include <algorithm>
#include <utility>

#include "threads/backend.hpp"

namespace tg::kernels {

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
  threads::run_tasks(chunks, run_chunk);
}

void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body) {
  parallel_chunks(n, grain,
                  [&](std::size_t, std::size_t begin, std::size_t end) { body(begin, end); });
}

BackgroundTask::BackgroundTask(std::function<void()> work)
    : job_(threads::start_job(std::move(work))) {}

BackgroundTask::~BackgroundTask() = default;

void BackgroundTask::wait() { job_->wait(); }

void set_thread_limit(int threads) { threads::set_limit(threads); }

int thread_limit() { return threads::limit(); }

}  // namespace tg::kernels
