#include "agreement.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <sstream>

#include "../../autograd/dispatch.hpp"
#include "backend.hpp"

namespace tg::distributed::detail {
namespace {

// The gathered strings start with this byte when the rank reports an error.
constexpr char kErrorMark = '!';

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::string describe(const Tensor& tensor) {
  return fmt::format("{} {}", name(tensor.dtype()), to_string(tensor.shape()));
}

void check_agreement(std::string_view op, const std::string& local_error,
                     const std::string& description) {
  const std::string mine = local_error.empty() ? description : kErrorMark + local_error;
  const std::vector<std::string> all = all_gather(mine, op);
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (!all[r].empty() && all[r][0] == kErrorMark) {
      fail("{}: on rank {}: {}", op, r, all[r].substr(1));
    }
  }
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      fail("{}: rank 0 passes {} but rank {} passes {}: every rank must pass the same", op, all[0],
           r, all[r]);
    }
  }
}

void check_same_tensors(std::string_view op,
                        const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::string mine;
  for (const auto& [name, tensor] : tensors)
    mine += fmt::format("'{}' {}\n", name, describe(tensor));
  const std::vector<std::string> all = all_gather(mine, op);
  const std::vector<std::string> first = split_lines(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    const std::vector<std::string> other = split_lines(all[r]);
    for (std::size_t k = 0; k < std::max(first.size(), other.size()); ++k) {
      if (k < first.size() && k < other.size() && first[k] == other[k]) continue;
      if (k >= first.size()) {
        fail("{}: the ranks' models differ: rank {} has {}, which rank 0 does not", op, r,
             other[k]);
      }
      if (k >= other.size()) {
        fail("{}: the ranks' models differ: rank 0 has {}, which rank {} does not", op, first[k],
             r);
      }
      fail("{}: the ranks' models differ: rank 0 has {} where rank {} has {}", op, first[k], r,
           other[k]);
    }
  }
}

void broadcast_tensors(const std::vector<Tensor>& tensors, int root, std::string_view what) {
  if (world_size() == 1) return;
  std::size_t bytes = 0;
  for (const Tensor& t : tensors) {
    bytes += t.numel() * dispatch_any(t.dtype(), []<class T>() { return sizeof(T); });
  }
  // One message: a model's many small tensors (biases, BatchNorm's statistics) would each cost a
  // round trip.
  std::vector<std::byte> packed(bytes);
  const bool sending = rank() == root;
  std::size_t offset = 0;
  for (const Tensor& t : tensors) {
    if (t.numel() == 0) continue;  // its data may be null, which memcpy must not get
    dispatch_any(t.dtype(), [&]<class T>() {
      if (sending) std::memcpy(packed.data() + offset, t.value<T>().data(), t.numel() * sizeof(T));
      offset += t.numel() * sizeof(T);
    });
  }
  broadcast_bytes(packed.data(), bytes, root, what);
  if (sending) return;
  offset = 0;
  for (const Tensor& t : tensors) {
    if (t.numel() == 0) continue;
    dispatch_any(t.dtype(), [&]<class T>() {
      std::memcpy(t.value<T>().data(), packed.data() + offset, t.numel() * sizeof(T));
      offset += t.numel() * sizeof(T);
    });
    t.bump_version();
  }
}

}  // namespace tg::distributed::detail
