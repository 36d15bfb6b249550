#include "storage.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <limits>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "dispatch.hpp"
#include "tensor_impl.hpp"

namespace tg {
namespace {

constexpr std::size_t min_kept_bytes = std::size_t{32} << 10;
// An array is kept only if new_array asked for its size within the last this many requests, and
// is dropped once it has waited that long (checked every that many requests): arrays of sizes
// that no op allocates (a user's own), no longer allocates (a finished evaluation's) or
// allocates fewer of than die (a surplus) are freed, not hoarded up to the limit.
constexpr std::uint64_t reuse_window = 4096;

// Kept arrays, keyed by dtype and element count, the least recently kept first.
class StorageCache {
 public:
  template <class T>
  bool take(std::size_t count, xt::xarray<T>& out) {
    std::lock_guard lock(mutex_);
    const std::size_t k = key(dtype_of<T>(), count);
    requested_[k] = ++requests_;
    if (requests_ % reuse_window == 0) drop_idle();
    auto it = index_.find(k);
    if (it == index_.end()) return false;
    auto entry = it->second;
    out = std::move(std::get<xt::xarray<T>>(entry->array));
    bytes_ -= entry->bytes;
    arrays_.erase(entry);
    index_.erase(it);
    return true;
  }

  void keep(ArrayVariant&& array) {
    const auto [dtype, count, bytes] = std::visit(
        [](const auto& a) {
          using T = typename std::decay_t<decltype(a)>::value_type;
          return std::tuple{dtype_of<T>(), a.size(), a.size() * sizeof(T)};
        },
        array);
    if (bytes < min_kept_bytes) return;
    std::lock_guard lock(mutex_);
    if (bytes > limit_ || !recently_requested(key(dtype, count))) return;
    arrays_.push_back({key(dtype, count), bytes, requests_, std::move(array)});
    index_.emplace(arrays_.back().key, std::prev(arrays_.end()));
    bytes_ += bytes;
    shrink_to(limit_);
  }

  void set_limit(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
    shrink_to(limit_);
  }
  std::size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_;
  }
  std::size_t bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  struct Entry {
    std::size_t key;
    std::size_t bytes;
    std::uint64_t kept_at;  // requests_ when it was kept
    ArrayVariant array;
  };
  using Entries = std::list<Entry>;

  static std::size_t key(DType dtype, std::size_t count) {
    return count * 4 + static_cast<std::size_t>(dtype);
  }

  // The helpers below are called with the lock held.
  bool recently_requested(std::size_t k) const {
    auto it = requested_.find(k);
    return it != requested_.end() && requests_ - it->second < reuse_window;
  }

  // Drops the least recently kept arrays until at most `bytes` are held.
  void shrink_to(std::size_t bytes) {
    while (bytes_ > bytes && !arrays_.empty()) drop(arrays_.begin());
  }

  // Drops the arrays that have waited a whole window, and forgets the sizes not asked for in it.
  void drop_idle() {
    while (!arrays_.empty() && requests_ - arrays_.front().kept_at >= reuse_window) {
      drop(arrays_.begin());
    }
    std::erase_if(requested_, [this](const auto& request) {
      return requests_ - request.second >= reuse_window;
    });
  }

  Entries::iterator drop(Entries::iterator entry) {
    auto [first, last] = index_.equal_range(entry->key);
    for (auto it = first; it != last; ++it) {
      if (it->second == entry) {
        index_.erase(it);
        break;
      }
    }
    bytes_ -= entry->bytes;
    return arrays_.erase(entry);
  }

  std::mutex mutex_;
  Entries arrays_;
  std::unordered_multimap<std::size_t, Entries::iterator> index_;
  std::unordered_map<std::size_t, std::uint64_t> requested_;  // key -> its latest request
  std::uint64_t requests_ = 0;
  std::size_t bytes_ = 0;
  std::size_t limit_ = std::size_t{256} << 20;
};

std::size_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size);
}

std::atomic<std::size_t>& memory_limit_bytes() {
  static std::atomic<std::size_t> bytes{physical_memory()};
  return bytes;
}

StorageCache& cache() {
  static StorageCache* instance = new StorageCache;  // never destroyed: tensors may outlive main
  return *instance;
}

}  // namespace

void set_memory_limit(std::size_t bytes) { memory_limit_bytes().store(bytes); }
std::size_t memory_limit() { return memory_limit_bytes().load(); }

void set_storage_cache_limit(std::size_t bytes) { cache().set_limit(bytes); }
std::size_t storage_cache_limit() { return cache().limit(); }
std::size_t storage_cache_bytes() { return cache().bytes(); }
void empty_storage_cache() {
  StorageCache& c = cache();
  const std::size_t limit = c.limit();
  c.set_limit(0);
  c.set_limit(limit);
}

namespace detail {

void check_memory(const Shape& shape, std::size_t element_size, std::string_view what) {
  const std::size_t count = checked_numel(shape, {});  // at most 2^48: no overflow below
  const std::size_t limit = memory_limit();
  if (count > limit / element_size) {
    fail(
        "{} of shape {} needs {} bytes, more than the memory limit of {} bytes (see "
        "tg::set_memory_limit)",
        what, to_string(shape), count * element_size, limit);
  }
}

template <class T>
xt::xarray<T> new_array(const Shape& shape) {
  check_memory(shape, sizeof(T), "an output");
  const std::size_t count = checked_numel(shape, {});
  xt::xarray<T> array;
  if (count * sizeof(T) >= min_kept_bytes && cache().take(count, array)) {
    array.resize(shape);  // the same number of elements: no allocation
    return array;
  }
  return xt::xarray<T>::from_shape(shape);
}

void convert_in_place(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return;
  Storage& storage = *t.impl()->data;
  ArrayVariant converted = dispatch_any(t.dtype(), [&]<class S>() {
    return dispatch_any(dtype, [&]<class D>() {
      return ArrayVariant(new_array<D>(t.shape(), xt::cast<D>(t.value<S>())));
    });
  });
  cache().keep(std::exchange(storage.array, std::move(converted)));
  t.bump_version();
}

void recycle(Storage* storage) {
  cache().keep(std::move(storage->array));
  delete storage;
}

template xt::xarray<float> new_array<float>(const Shape&);
template xt::xarray<double> new_array<double>(const Shape&);
template xt::xarray<std::int64_t> new_array<std::int64_t>(const Shape&);

}  // namespace detail
}  // namespace tg
