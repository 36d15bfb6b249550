#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "backend.hpp"

namespace tg::kernels::threads {
namespace {

std::atomic<int> requested_limit{0};

// A thread of its own when the limit allows two or more; otherwise (or when the system has no
// thread to give) the work runs in wait().
class ThreadJob : public Job {
 public:
  explicit ThreadJob(std::function<void()> work) : work_(std::move(work)) {
    if (limit() < 2) return;
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
    }
  }
  ~ThreadJob() override { finish(); }
  ThreadJob(const ThreadJob&) = delete;
  ThreadJob& operator=(const ThreadJob&) = delete;

  void wait() override {
    finish();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void run() {
    try {
      work_();
    } catch (...) {
      error_ = std::current_exception();
    }
    work_ = nullptr;
  }
  void finish() {
    if (thread_.joinable()) {
      thread_.join();
    } else if (work_) {
      run();
    }
  }

  std::function<void()> work_;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Job> start_job(std::function<void()> work) {
  return std::make_unique<ThreadJob>(std::move(work));
}

void run_tasks(std::size_t count, const std::function<void(std::size_t)>& task) {
  // The calling thread works too, as TBB's does; the others take the next index until none is
  // left.
  const auto workers = std::min(count, static_cast<std::size_t>(limit()));
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        task(i);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  try {
    for (std::size_t t = 1; t < workers; ++t) helpers.emplace_back(work);
  } catch (const std::system_error&) {
    // No more threads (a process limit): the ones there are, and this one, do the work.
  }
  work();
  for (std::thread& helper : helpers) helper.join();
  if (error) std::rethrow_exception(error);
}

void set_limit(int threads) { requested_limit = std::max(threads, 0); }

int limit() {
  const int requested = requested_limit;
  return requested > 0 ? requested
                       : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

}  // namespace tg::kernels::threads
