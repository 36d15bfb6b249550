#include "profiler.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>

namespace tg::profiler {
namespace {

struct Totals {
  std::uint64_t calls = 0;
  std::chrono::steady_clock::duration time{};
};

// Shared by every thread that runs ops; a scope takes the lock once, when it ends.
struct Table {
  std::mutex mutex;
  std::map<std::string, Totals, std::less<>> ops;
};

Table& table() {
  static Table* instance = new Table;  // never destroyed: scopes may end during static teardown
  return *instance;
}

// The innermost open scope of this thread, whose children charge it their time.
thread_local Scope* innermost = nullptr;

}  // namespace

void enable(bool on) { detail::enabled.store(on, std::memory_order_relaxed); }

void reset() {
  Table& t = table();
  std::lock_guard lock(t.mutex);
  t.ops.clear();
}

std::vector<OpTime> results() {
  std::vector<OpTime> out;
  {
    Table& t = table();
    std::lock_guard lock(t.mutex);
    for (const auto& [name, totals] : t.ops) {
      out.push_back({name, totals.calls, std::chrono::duration<double>(totals.time).count()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return out;
}

std::string report() {
  const std::vector<OpTime> ops = results();
  double total = 0.0;
  for (const OpTime& op : ops) total += op.seconds;
  std::string out = "| op | calls | ms | ms per call | share |\n|---|---|---|---|---|\n";
  for (const OpTime& op : ops) {
    out += fmt::format("| {} | {} | {:.1f} | {:.3f} | {:.1f}% |\n", op.name, op.calls,
                       op.seconds * 1e3, op.seconds * 1e3 / static_cast<double>(op.calls),
                       total > 0 ? 100.0 * op.seconds / total : 0.0);
  }
  out += fmt::format("| all ops | | {:.1f} | | |\n", total * 1e3);
  return out;
}

void Scope::start(std::string_view name, std::string_view suffix) {
  active_ = true;
  name_.reserve(name.size() + suffix.size());
  name_.append(name).append(suffix);
  parent_ = innermost;
  innermost = this;
  start_ = std::chrono::steady_clock::now();
}

void Scope::stop() noexcept {
  const auto elapsed = std::chrono::steady_clock::now() - start_;
  innermost = parent_;
  if (parent_) parent_->children_ += elapsed;
  try {
    Table& t = table();
    std::lock_guard lock(t.mutex);
    Totals& totals = t.ops[name_];
    ++totals.calls;
    totals.time += elapsed - children_;
  } catch (...) {
    // Out of memory for the table's entry: the sample is lost rather than thrown from a
    // destructor.
  }
}

}  // namespace tg::profiler
