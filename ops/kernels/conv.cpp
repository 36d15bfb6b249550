#include "conv.hpp"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "gemm.hpp"
#include "parallel.hpp"

namespace tg::kernels {
namespace {

// Images per weight-gradient partial. A constant, never derived from the thread count: the
// partials are summed in chunk order, so the result has the same bits however many threads ran.
constexpr std::size_t weight_grad_chunk = 8;

// About 1 MFLOP per task, as gemm_parallel: enough to amortise scheduling.
constexpr std::size_t flops_per_task = std::size_t{1} << 20;

// The calling thread's column buffer, reused across calls (its memory is allocated once per
// thread and size). It is taken out of the thread's slot while in use and given back after,
// so that a second use on the same thread (TBB may run another task on a thread that waits
// inside gemm_parallel) gets a buffer of its own instead of overwriting this one.
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t size) : buffer_(std::move(slot())) {
    if (buffer_.capacity < size) buffer_ = {std::make_unique_for_overwrite<T[]>(size), size};
  }
  ~Scratch() {
    if (buffer_.capacity > slot().capacity) slot() = std::move(buffer_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() { return buffer_.data.get(); }

 private:
  struct Buffer {
    std::unique_ptr<T[]> data;
    std::size_t capacity = 0;
    Buffer() = default;
    Buffer(std::unique_ptr<T[]> d, std::size_t c) : data(std::move(d)), capacity(c) {}
    Buffer(Buffer&& other) noexcept
        : data(std::move(other.data)), capacity(std::exchange(other.capacity, 0)) {}
    Buffer& operator=(Buffer&& other) noexcept {
      data = std::move(other.data);
      capacity = std::exchange(other.capacity, 0);
      return *this;
    }
  };
  static Buffer& slot() {
    thread_local Buffer buffer;
    return buffer;
  }
  Buffer buffer_;
};

// The column matrix of one image: the image itself for a 1x1 kernel, else im2col into scratch.
template <class T>
const T* columns(const ConvGeometry& g, const T* image, Scratch<T>& scratch) {
  if (g.cols_are_image()) return image;
  im2col(g, image, scratch.data());
  return scratch.data();
}

std::size_t scratch_size(const ConvGeometry& g) {
  return g.cols_are_image() ? 0 : g.col_rows() * g.col_cols();
}

// Runs image(n, parallel_gemm) for every image. A batch of one gets the parallelism inside its
// GEMM instead. The split depends on the shapes only, never on the thread count.
template <class F>
void for_each_image(std::size_t batch, std::size_t flops_per_image, F&& image) {
  if (batch == 1) {
    image(std::size_t{0}, true);
    return;
  }
  const std::size_t grain =
      std::max<std::size_t>(1, flops_per_task / std::max<std::size_t>(1, flops_per_image));
  parallel_for(batch, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t n = begin; n < end; ++n) image(n, false);
  });
}

template <class T>
void run_gemm(bool parallel, Trans trans_a, Trans trans_b, std::size_t m, std::size_t n,
              std::size_t k, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
              std::size_t ldc) {
  if (parallel) {
    gemm_parallel(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
  } else {
    gemm(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
  }
}

// The share of the register tile's column lanes that hold results when C has n columns.
template <class T>
double lane_fill(std::size_t n) {
  const std::size_t lanes = gemm_tile_columns<T>();
  const std::size_t used = (n + lanes - 1) / lanes * lanes;  // whole tiles
  return static_cast<double>(n) / static_cast<double>(used);
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                    const T* input, const T* weight, const T* bias, T* output) {
  const std::size_t k = g.col_rows();
  const std::size_t p = g.col_cols();
  for_each_image(batch, 2 * out_channels * k * p, [&](std::size_t n, bool parallel) {
    T* out = output + n * out_channels * p;
    // The bias is written first and the product added to it (beta = 1): one pass fewer.
    if (bias) {
      for (std::size_t o = 0; o < out_channels; ++o) std::fill_n(out + o * p, p, bias[o]);
    }
    Scratch<T> scratch(scratch_size(g));
    const T* cols = columns(g, input + n * g.image_size(), scratch);
    run_gemm(parallel, Trans::no, Trans::no, out_channels, p, k, weight, k, cols, p,
             bias ? T(1) : T(0), out, p);
  });
}

template <class T>
void conv2d_backward_input(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                           const T* grad_output, const T* weight, T* grad_input) {
  const std::size_t k = g.col_rows();
  const std::size_t p = g.col_cols();
  for_each_image(batch, 2 * out_channels * k * p, [&](std::size_t n, bool parallel) {
    const T* delta = grad_output + n * out_channels * p;
    T* dx = grad_input + n * g.image_size();
    if (g.cols_are_image()) {
      run_gemm(parallel, Trans::yes, Trans::no, k, p, out_channels, weight, k, delta, p, T(0), dx,
               p);
      return;
    }
    Scratch<T> scratch(scratch_size(g));
    run_gemm(parallel, Trans::yes, Trans::no, k, p, out_channels, weight, k, delta, p, T(0),
             scratch.data(), p);
    col2im(g, scratch.data(), dx);
  });
}

template <class T>
void conv2d_backward_weight(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                            const T* grad_output, const T* input, T* grad_weight) {
  const std::size_t k = g.col_rows();
  const std::size_t p = g.col_cols();
  const std::size_t weight_size = out_channels * k;
  // dW [C_out, K] = delta x cols^T puts K = C_in*kH*kW across the register tile's columns; when
  // K fills them worse than C_out would (mnist_cnn's first layer: 9 of 48 lanes, against 32),
  // dW^T [K, C_out] = cols x delta^T is accumulated instead and transposed at the end.
  const bool transposed = lane_fill<T>(out_channels) > lane_fill<T>(k);
  // Adds the images [begin, end) into dw (which it first overwrites).
  auto accumulate = [&](std::size_t begin, std::size_t end, T* dw, bool parallel) {
    if (begin == end) std::fill_n(dw, weight_size, T(0));
    Scratch<T> scratch(scratch_size(g));
    for (std::size_t n = begin; n < end; ++n) {
      const T* cols = columns(g, input + n * g.image_size(), scratch);
      const T* delta = grad_output + n * out_channels * p;
      const T beta = n == begin ? T(0) : T(1);
      if (transposed) {
        run_gemm(parallel, Trans::no, Trans::yes, k, out_channels, p, cols, p, delta, p, beta, dw,
                 out_channels);
      } else {
        run_gemm(parallel, Trans::no, Trans::yes, out_channels, k, p, delta, p, cols, p, beta, dw,
                 k);
      }
    }
  };

  std::vector<T> sum_transposed(transposed ? weight_size : 0);
  T* sum = transposed ? sum_transposed.data() : grad_weight;
  const std::size_t chunks = chunk_count(batch, weight_grad_chunk);
  if (chunks <= 1) {
    accumulate(0, batch, sum, true);
  } else {
    std::vector<T> partials(chunks * weight_size);
    parallel_chunks(batch, weight_grad_chunk,
                    [&](std::size_t chunk, std::size_t begin, std::size_t end) {
                      accumulate(begin, end, partials.data() + chunk * weight_size, false);
                    });
    std::copy_n(partials.data(), weight_size, sum);
    for (std::size_t c = 1; c < chunks; ++c) {
      const T* partial = partials.data() + c * weight_size;
      for (std::size_t i = 0; i < weight_size; ++i) sum[i] += partial[i];
    }
  }
  if (transposed) {
    for (std::size_t o = 0; o < out_channels; ++o) {
      for (std::size_t i = 0; i < k; ++i) grad_weight[o * k + i] = sum[i * out_channels + o];
    }
  }
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE_CONV(T)                                                                     \
  template void conv2d_forward<T>(const ConvGeometry&, std::size_t, std::size_t, const T*,         \
                                  const T*, const T*, T*);                                         \
  template void conv2d_backward_input<T>(const ConvGeometry&, std::size_t, std::size_t, const T*,  \
                                         const T*, T*);                                            \
  template void conv2d_backward_weight<T>(const ConvGeometry&, std::size_t, std::size_t, const T*, \
                                          const T*, T*);
TG_INSTANTIATE_CONV(float)
TG_INSTANTIATE_CONV(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE_CONV

}  // namespace tg::kernels
