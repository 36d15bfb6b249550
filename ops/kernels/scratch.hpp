#pragma once
// A working buffer of the calling thread, reused across calls (its memory is allocated once per
// thread, type and size). It is taken out of the thread's slot while in use and given back
// after, so that a second use on the same thread (TBB may run another task on a thread that
// waits inside a parallel loop) gets a buffer of its own instead of overwriting this one.
// `Slot` tells apart buffers that are in use at the same time on one thread.

#include <cstddef>
#include <new>
#include <utility>

#include <xsimd/xsimd.hpp>

namespace tg::kernels {

template <class T, int Slot = 0>
class Scratch {
 public:
  explicit Scratch(std::size_t size) : buffer_(std::move(slot())) {
    if (buffer_.capacity < size) buffer_ = Buffer(size);
  }
  ~Scratch() {
    if (buffer_.capacity > slot().capacity) slot() = std::move(buffer_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  // Aligned to 64 bytes, for vector loads.
  T* data() { return buffer_.data; }

 private:
  struct Buffer {
    T* data = nullptr;
    std::size_t capacity = 0;
    Buffer() = default;
    explicit Buffer(std::size_t size)
        : data(static_cast<T*>(xsimd::aligned_malloc(size * sizeof(T), 64))), capacity(size) {
      if (data == nullptr) throw std::bad_alloc();
    }
    Buffer(Buffer&& other) noexcept
        : data(std::exchange(other.data, nullptr)), capacity(std::exchange(other.capacity, 0)) {}
    Buffer& operator=(Buffer&& other) noexcept {
      std::swap(data, other.data);
      std::swap(capacity, other.capacity);
      return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { xsimd::aligned_free(data); }
  };
  static Buffer& slot() {
    thread_local Buffer buffer;
    return buffer;
  }
  Buffer buffer_;
};

}  // namespace tg::kernels
