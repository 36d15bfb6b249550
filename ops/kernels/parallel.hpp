#pragma once
// The one parallel seam: every parallel loop in tapegrad goes through parallel_for, so that
// one knob (tg::set_num_threads) governs them all.
//
// Determinism: the chunks a loop is cut into depend only on n and grain, never on the thread
// count, and any reduction is written per chunk and summed in chunk order by the caller.

#include <cstddef>
#include <functional>
#include <memory>

namespace tg::kernels {

// About 1 MFLOP per task: enough arithmetic to amortise a task's scheduling. Every kernel that
// cuts its work by FLOPs uses this one size.
inline constexpr std::size_t flops_per_task = std::size_t{1} << 20;
// Elements per task of a memory-bound elementwise loop (activations, optimizer updates): large
// enough that scheduling costs little beside it.
inline constexpr std::size_t elementwise_grain = std::size_t{1} << 15;

// Calls body(begin, end) on disjoint chunks covering [0, n), in parallel. Each chunk holds at
// most `grain` items.
void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t begin, std::size_t end)>& body);

// parallel_for(n, grain, body) if `parallel`, else body(0, n) on the calling thread: the kernels
// that run one image at a time split an image across the seam only when the batch is one image
// (otherwise the images are already split).
inline void parallel_for_if(bool parallel, std::size_t n, std::size_t grain,
                            const std::function<void(std::size_t begin, std::size_t end)>& body) {
  if (parallel) {
    parallel_for(n, grain, body);
  } else {
    body(0, n);
  }
}

// Number of chunks parallel_for(n, grain, ...) makes, for callers that keep one partial result
// per chunk.
std::size_t chunk_count(std::size_t n, std::size_t grain);

// Calls body(chunk_index, begin, end) for every chunk of parallel_for(n, grain, ...).
void parallel_chunks(
    std::size_t n, std::size_t grain,
    const std::function<void(std::size_t chunk, std::size_t begin, std::size_t end)>& body);

namespace threads {
class Job;
}  // namespace threads

// Work that runs beside its caller (the data loader's next batch, made while the current one
// trains), on the seam's threads: it takes a thread of the limit while it runs, and with a limit
// of 1 it runs in wait(), so tg::set_num_threads bounds it as it bounds the loops.
class BackgroundTask {
 public:
  explicit BackgroundTask(std::function<void()> work);
  ~BackgroundTask();  // waits for the work; an error it raised is dropped
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;
  // Returns once the work has run; rethrows what it threw.
  void wait();

 private:
  std::unique_ptr<threads::Job> job_;
};

// The thread limit; 0 restores the default (one thread per core).
void set_thread_limit(int threads);
int thread_limit();

}  // namespace tg::kernels
