#pragma once
// Hooks: functions the engine or a module calls at a fixed point (a tensor's gradient computed,
// a module's forward done), registered in a HookList and removed through the handle that
// registering returned, as PyTorch's RemovableHandle.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace tg {

// Hooks in the order they were registered, each under an id that removal names.
template <class Fn>
class HookList {
 public:
  std::uint64_t add(Fn fn) {
    hooks_.emplace_back(++last_id_, std::move(fn));
    return last_id_;
  }
  void remove(std::uint64_t id) {
    std::erase_if(hooks_, [id](const auto& hook) { return hook.first == id; });
  }
  bool empty() const { return hooks_.empty(); }
  // A copy: a hook may remove itself, or register another, while the list runs.
  std::vector<Fn> snapshot() const {
    std::vector<Fn> fns;
    for (const auto& hook : hooks_) fns.push_back(hook.second);
    return fns;
  }

 private:
  std::vector<std::pair<std::uint64_t, Fn>> hooks_;
  std::uint64_t last_id_ = 0;
};

// Removes the hook it was returned for. Removing twice, or after the tensor or module that held
// the hook is gone, does nothing. Dropping the handle leaves the hook in place.
class RemovableHandle {
 public:
  RemovableHandle() = default;
  template <class Fn>
  RemovableHandle(const std::shared_ptr<HookList<Fn>>& list, std::uint64_t id)
      : remove_([weak = std::weak_ptr<HookList<Fn>>(list), id] {
          if (auto hooks = weak.lock()) hooks->remove(id);
        }) {}

  void remove() {
    if (remove_) std::exchange(remove_, nullptr)();
  }

 private:
  std::function<void()> remove_;
};

}  // namespace tg
