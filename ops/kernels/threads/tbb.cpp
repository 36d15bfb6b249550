#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include "backend.hpp"

namespace tg::kernels::threads {
namespace {

std::mutex control_mutex;
std::unique_ptr<tbb::global_control> control;

// The work is a task of TBB's pool: a worker takes it while the caller goes on, and with no
// worker allowed (a limit of 1) it waits for the caller's wait().
class TbbJob : public Job {
 public:
  explicit TbbJob(std::function<void()> work) {
    group_->run([this, work = std::move(work)] {
      try {
        work();
      } catch (...) {  // kept for wait(): the task itself throws nothing, so neither does wait
        error_ = std::current_exception();
      }
    });
  }
  // tbb::task_group's destructor may throw (missing_wait) and so is not noexcept; it is held by
  // pointer and waited for first, so that it never does.
  ~TbbJob() override { group_->wait(); }
  TbbJob(const TbbJob&) = delete;
  TbbJob& operator=(const TbbJob&) = delete;

  void wait() override {
    group_->wait();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  std::unique_ptr<tbb::task_group> group_ = std::make_unique<tbb::task_group>();
  std::exception_ptr error_;
};

}  // namespace

std::unique_ptr<Job> start_job(std::function<void()> work) {
  return std::make_unique<TbbJob>(std::move(work));
}

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
