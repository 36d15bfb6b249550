#pragma once
// A per-op timer you can turn on: how long each op's forward took and each backward closure,
// summed over calls, on the thread that runs the model. Off by default, when a timed scope costs
// one relaxed atomic load.
//
//   tg::profiler::enable();
//   ... train some steps ...
//   std::cout << tg::profiler::report();   // a table, the most expensive first
//
// Forward ops are timed where they dispatch on the dtype (every built-in op does, once), backward
// closures where the engine runs them, named "<op> backward". Times are self times: an op that
// runs another inside it (a backward closure calling conv2d_input_grad, say) is charged only what
// the inner one did not take, so the rows add up to the time spent in ops. The kernels' parallel
// work is inside its op's time (wall time on the calling thread).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tg::profiler {

namespace detail {
inline std::atomic<bool> enabled{false};
}  // namespace detail

void enable(bool on = true);
inline bool is_enabled() { return detail::enabled.load(std::memory_order_relaxed); }

// Forgets every time recorded so far.
void reset();

struct OpTime {
  std::string name;
  std::uint64_t calls = 0;
  double seconds = 0.0;  // self time, summed over calls
};

// What was recorded, the largest time first.
std::vector<OpTime> results();

// results() as a Markdown table with each op's share of the total.
std::string report();

// Times the enclosing block as op `name` (+ `suffix`), when profiling is on. Not copyable; meant
// as a local.
class Scope {
 public:
  explicit Scope(std::string_view name, std::string_view suffix = {}) {
    if (is_enabled()) start(name, suffix);
  }
  ~Scope() {
    if (active_) stop();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  void start(std::string_view name, std::string_view suffix);
  void stop() noexcept;

  bool active_ = false;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  Scope* parent_ = nullptr;
  std::chrono::steady_clock::duration children_{};
};

}  // namespace tg::profiler
