#pragma once
// What the parallel seam (parallel.hpp) asks of the threads under it. Two implementations, one
// chosen at build time (TG_THREADS in CMakeLists.txt):
//   tbb.cpp         oneTBB's work-stealing pool: what every build ships;
//   std_thread.cpp  a std::thread per worker and call, joined before it returns: slow, but every
//                   hand-off is a thread creation or join that ThreadSanitizer sees. Debian's TBB
//                   is not instrumented, so under TSan its hand-offs look like hundreds of races,
//                   among which a real one would hide.

#include <cstddef>
#include <functional>
#include <memory>

namespace tg::kernels::threads {

// Runs task(i) for every i in [0, count), spread over the threads; returns when all have run.
// An exception from a task is rethrown here.
void run_tasks(std::size_t count, const std::function<void(std::size_t)>& task);

// Work started by start_job, running beside its caller.
class Job {
 public:
  virtual ~Job() = default;  // waits for the work (an error it raised is dropped)
  // Returns once the work has run; rethrows what it threw.
  virtual void wait() = 0;
};

// Starts `work` on one of the threads and returns at once: the work takes a thread of the limit
// while it runs, and with a limit of 1 (no thread besides the caller's) it runs in wait().
std::unique_ptr<Job> start_job(std::function<void()> work);

// The thread limit; 0 restores the default (one thread per core).
void set_limit(int threads);
int limit();

}  // namespace tg::kernels::threads
