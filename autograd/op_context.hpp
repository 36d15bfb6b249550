#pragma once
// The op the user called, so that every tg::Error raised inside it names that op. An error is
// often found deep inside: mse_loss of an empty input fails in the mean it calls, an oversized
// output where the memory guard allocates (storage.hpp). "mean: ..." or "new_array: ..." would
// name code the user never called; with the context the message reads "mse_loss: mean: ...".
//
// Every built-in op opens one (dispatch_floating does, for the ops that dispatch once; composite
// ops at their top), and the engine one per backward closure ("conv2d backward"). Only the
// outermost counts: inner ops run on the user's behalf. It is per thread: the kernels' workers
// throw nothing.

#include <string>
#include <string_view>

namespace tg::detail {

class OpContext {
 public:
  // `name` and `suffix` must outlive the context (string literals, a node's name).
  explicit OpContext(std::string_view name, std::string_view suffix = {}) noexcept;
  ~OpContext();
  OpContext(const OpContext&) = delete;
  OpContext& operator=(const OpContext&) = delete;

 private:
  bool outermost_;
};

// The outermost op running on this thread ("mse_loss", "conv2d backward"); empty outside ops.
std::string current_op();

}  // namespace tg::detail
