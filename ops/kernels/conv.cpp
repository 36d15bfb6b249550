#include "conv.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "activation.hpp"
#include "column_forward.hpp"
#include "column_weight_grad.hpp"
#include "direct_conv.hpp"
#include "gemm.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "scratch.hpp"
#include "shifted_conv.hpp"
#include "winograd.hpp"

namespace tg::kernels {
namespace {

// Images per weight-gradient partial. A constant, never derived from the thread count: the
// partials are summed in chunk order, so the result has the same bits however many threads ran.
constexpr std::size_t weight_grad_chunk = 8;

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

// Runs image(n, parallel) for every image. A batch of one gets the parallelism inside the image
// instead (its GEMM's or shifted kernel's). The split depends on the shapes only, never on the
// thread count.
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

// Runs a one-image convolution (ShiftedForward, DirectForward, CheckedWinograd) on each image of
// the batch.
template <class Conv, class T>
void run_each_image(const Conv& conv, std::size_t batch, std::size_t flops_per_image,
                    const T* input, std::size_t input_size, const T* bias, T* output,
                    std::size_t output_size, Activation activation) {
  for_each_image(batch, flops_per_image, [&](std::size_t n, bool parallel) {
    conv.run(input + n * input_size, bias, output + n * output_size, parallel, activation);
  });
}

// Winograd's forward backed by a direct kernel, which computes the images whose Winograd result
// does not hold (an infinity or NaN in the operands, or an overflow: see WinogradForward).
// Its run has ShiftedForward's interface.
template <class T, class Direct>
struct CheckedWinograd {
  WinogradForward<T> winograd;
  Direct direct;

  void run(const T* image, const T* bias, T* out, bool parallel, Activation activation) const {
    if (!winograd.run(image, bias, out, parallel, activation)) {
      direct.run(image, bias, out, parallel, activation);
    }
  }
};

template <class Conv>
constexpr bool is_checked_winograd = false;
template <class T, class Direct>
constexpr bool is_checked_winograd<CheckedWinograd<T, Direct>> = true;

// Calls use(conv) with the fastest one-image forward convolution for a stride-one g: Winograd
// for 3x3 layers with enough channels (checked, see CheckedWinograd), the channel-vector kernel
// for many taps and whole vectors of output channels, the column kernel where a copy of the
// image's columns is small beside the output, else the shifted kernel.
template <class T, class Use>
void with_stride_one_kernel(const ConvGeometry& g, std::size_t out_channels, const T* weight,
                            Use&& use) {
  auto with_direct = [&](auto&& direct) {
    if (winograd_applies(g, out_channels)) {
      use(CheckedWinograd<T, std::decay_t<decltype(direct)>>{
          WinogradForward<T>(g, out_channels, weight), std::forward<decltype(direct)>(direct)});
    } else {
      use(direct);
    }
  };
  if (direct_forward_applies<T>(g, out_channels)) {
    with_direct(DirectForward<T>(g, out_channels, weight));
  } else if (column_forward_applies<T>(g, out_channels)) {
    with_direct(ColumnForward<T>(g, out_channels, weight));
  } else {
    with_direct(ShiftedForward<T>(g, out_channels, weight));
  }
}

// The forward convolution of a stride-one g on the kernel with_stride_one_kernel picks.
template <class T>
void forward_stride_one(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                        const T* input, const T* weight, const T* bias, T* output,
                        Activation activation) {
  const std::size_t flops = 2 * out_channels * g.col_rows() * g.col_cols();
  const std::size_t output_size = out_channels * g.col_cols();
  with_stride_one_kernel(g, out_channels, weight, [&](const auto& conv) {
    run_each_image(conv, batch, flops, input, g.image_size(), bias, output, output_size,
                   activation);
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

// The input gradient of a stride-1 convolution as a forward one (the seed's eq. 12): delta
// [out_channels, out_h, out_w] zero-padded by (k-1)*d - p, correlated with the kernel rotated by
// 180 degrees and its two channel axes swapped (rotate_kernel). Needs p <= (k-1)*d.
ConvGeometry input_grad_as_forward(const ConvGeometry& g, std::size_t out_channels) {
  return ConvGeometry{.channels = out_channels,
                      .height = g.out_h,
                      .width = g.out_w,
                      .kernel_h = g.kernel_h,
                      .kernel_w = g.kernel_w,
                      .stride_h = 1,
                      .stride_w = 1,
                      .pad_h = (g.kernel_h - 1) * g.dilation_h - g.pad_h,
                      .pad_w = (g.kernel_w - 1) * g.dilation_w - g.pad_w,
                      .dilation_h = g.dilation_h,
                      .dilation_w = g.dilation_w,
                      .out_h = g.height,
                      .out_w = g.width};
}

// The shifted kernels also multiply values outside a tap's window by zero: the image at the
// grid's spare columns in the weight gradient, the weight at delta's padding in the input
// gradient. An infinite or NaN value there would make a NaN that im2col + GEMM, which forms no
// such product, does not; so those two passes take the shifted kernels only when that operand
// is finite (a scan in vectors: a fraction of a percent of the convolution).
bool input_grad_is_shifted_forward(const ConvGeometry& g, std::size_t out_channels) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_h <= (g.kernel_h - 1) * g.dilation_h &&
         g.pad_w <= (g.kernel_w - 1) * g.dilation_w &&
         shifted_conv_applies(input_grad_as_forward(g, out_channels));
}

// rotated[c, o, m, k] = weight[o, c, kH-1-m, kW-1-k].
template <class T>
std::vector<T> rotate_kernel(const ConvGeometry& g, std::size_t out_channels, const T* weight) {
  const std::size_t area = g.kernel_h * g.kernel_w;
  std::vector<T> rotated(out_channels * g.channels * area);
  for (std::size_t o = 0; o < out_channels; ++o) {
    for (std::size_t c = 0; c < g.channels; ++c) {
      const T* from = weight + (o * g.channels + c) * area;
      T* to = rotated.data() + (c * out_channels + o) * area;
      for (std::size_t i = 0; i < area; ++i) to[i] = from[area - 1 - i];
    }
  }
  return rotated;
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                    const T* input, const T* weight, const T* bias, T* output,
                    Activation activation) {
  const std::size_t k = g.col_rows();
  const std::size_t p = g.col_cols();
  if (shifted_conv_applies(g)) {
    forward_stride_one(g, batch, out_channels, input, weight, bias, output, activation);
    return;
  }
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
    // The GEMM has no epilogue: the activation follows while this image's output is in cache.
    if (activation == Activation::relu) relu_serial(out, out, out_channels * p);
  });
}

template <class T>
bool conv2d_forward_max_pool(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                             const T* input, const T* weight, const T* bias, Activation activation,
                             const Pool2dGeometry& pool, const PooledOutput<T>& output) {
  if (!shifted_conv_applies(g)) return false;
  const std::size_t plane = g.out_h * g.out_w;
  const std::size_t pooled_size = out_channels * pool.out_h * pool.out_w;
  with_stride_one_kernel(g, out_channels, weight, [&](const auto& conv) {
    for_each_image(
        batch, 2 * out_channels * g.col_rows() * plane, [&](std::size_t n, bool parallel) {
          const T* image = input + n * g.image_size();
          const PooledOutput<T> image_output{.values = output.values + n * pooled_size,
                                             .argmax = output.argmax + n * pooled_size};
          // The image's output, in the cache, pooled by this task.
          auto run_then_pool = [&](const auto& unpooled_conv) {
            Scratch<T, 7> unpooled(out_channels * plane);
            unpooled_conv.run(image, bias, unpooled.data(), parallel, activation);
            max_pool2d_planes(pool, out_channels, unpooled.data(), image_output.values,
                              image_output.argmax);
          };
          if constexpr (is_checked_winograd<std::decay_t<decltype(conv)>>) {
            if (is_window_2x2(pool)) {
              if (!conv.winograd.run_pooled(image, bias, image_output, parallel, activation)) {
                run_then_pool(conv.direct);
              }
              return;
            }
          }
          run_then_pool(conv);
        });
  });
  return true;
}

template <class T>
void conv2d_backward_input(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                           const T* grad_output, const T* weight, T* grad_input) {
  const std::size_t k = g.col_rows();
  const std::size_t p = g.col_cols();
  if (input_grad_is_shifted_forward(g, out_channels) &&
      all_finite(weight, out_channels * g.col_rows())) {
    const std::vector<T> rotated = rotate_kernel(g, out_channels, weight);
    forward_stride_one(input_grad_as_forward(g, out_channels), batch, g.channels, grad_output,
                       rotated.data(), static_cast<const T*>(nullptr), grad_input,
                       Activation::none);
    return;
  }
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

// The bias gradient from plane_sums[n * C + c] = sum_contiguous of grad_output's plane (n, c):
// with sum_dims's bits, which add those plane sums in image order, except where sum_dims merges
// the planes of one channel into one run (a single channel).
template <class T>
void bias_grad(std::size_t batch, std::size_t out_channels, std::size_t plane, const T* grad_output,
               const T* plane_sums, T* grad_bias) {
  if (out_channels == 1) {
    const std::array<std::size_t, 3> shape{batch, out_channels, plane};
    const std::array<bool, 3> reduce{true, false, true};
    sum_dims(grad_output, shape, reduce, grad_bias);
    return;
  }
  for (std::size_t c = 0; c < out_channels; ++c) {
    T total = T(0);
    for (std::size_t n = 0; n < batch; ++n) total += plane_sums[n * out_channels + c];
    grad_bias[c] = total;
  }
}

template <class T>
void conv2d_backward_weight(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                            const T* grad_output, const T* input, T* grad_weight, T* grad_bias,
                            const T* relu_output) {
  const std::size_t k = g.col_rows();
  const std::size_t p = g.col_cols();
  const std::size_t weight_size = out_channels * k;
  // Winograd where it applies; else dot products along the pixels where copying the image's
  // columns copies less than delta holds; else the shifted kernel where a group of images fits
  // its cache budget. Otherwise im2col + GEMM: dW [C_out, K] = delta x cols^T puts K = C_in*kH*kW
  // across the register tile's columns; when K fills them worse than C_out would, dW^T [K, C_out] =
  // cols x delta^T is accumulated instead and transposed at the end.
  // Winograd's transforms, and the shifted kernel's products of image values at the grid's spare
  // columns with zeros, would turn an infinity in the operands into NaNs that the GEMM does not
  // make; either way the result is not all finite (see WinogradForward), and then the images are
  // computed again by the next kernel: checking the result of each group of images costs less
  // than scanning the operands first.
  std::optional<WinogradWeightGrad<T>> winograd;
  std::optional<ColumnWeightGrad<T>> column;
  std::optional<ShiftedWeightGrad<T>> shifted;
  if (winograd_applies(g, out_channels)) {
    winograd.emplace(g, out_channels);
  } else if (column_weight_grad_applies<T>(g, out_channels)) {
    column.emplace(g, out_channels);
  } else if (shifted_weight_grad_applies<T>(g, out_channels)) {
    shifted.emplace(g, out_channels);
  }
  const bool transposed =
      !winograd && !column && !shifted && lane_fill<T>(out_channels) > lane_fill<T>(k);
  // Behind a ReLU, the column kernel masks delta as it reads it; the other kernels, and the bias
  // gradient of a single channel (sum_dims over delta), read a masked copy.
  std::unique_ptr<T[]> masked;
  if (relu_output != nullptr && (!column || out_channels == 1)) {
    const std::size_t size = batch * out_channels * p;
    masked = std::make_unique_for_overwrite<T[]>(size);
    relu_backward(grad_output, relu_output, masked.get(), size);
    grad_output = masked.get();
    relu_output = nullptr;
  }
  // The sums of delta's planes, for the bias gradient: those of images [begin, ...) at
  // sums_from(begin), null without a bias gradient. The column and Winograd kernels sum each
  // image's planes as they come to read them; the others are given the sums of their images first.
  std::vector<T> plane_sums(grad_bias != nullptr ? batch * out_channels : 0);
  auto sums_from = [&](std::size_t begin) {
    return grad_bias != nullptr ? plane_sums.data() + begin * out_channels : nullptr;
  };
  auto sum_planes = [&](std::size_t begin, std::size_t end) {
    if (grad_bias == nullptr) return;
    sum_runs(grad_output + begin * out_channels * p, p, (end - begin) * out_channels, p,
             sums_from(begin));
  };
  // Adds the images [begin, end) into dw (which it first overwrites), and sums their planes.
  auto accumulate = [&](std::size_t begin, std::size_t end, T* dw, bool parallel) {
    const T* delta = grad_output + begin * out_channels * p;
    const T* images = input + begin * g.image_size();
    if (column) {
      column->run(end - begin, delta,
                  relu_output != nullptr ? relu_output + begin * out_channels * p : nullptr, images,
                  dw, sums_from(begin), parallel);
      return;
    }
    if (!winograd) sum_planes(begin, end);
    if (winograd || shifted) {
      std::fill_n(dw, weight_size, T(0));
      if (winograd) {
        winograd->add(end - begin, delta, images, dw, sums_from(begin), parallel);
      } else {
        shifted->add(end - begin, delta, images, dw, parallel);
      }
      if (all_finite(dw, weight_size)) return;
    }
    if (begin == end) std::fill_n(dw, weight_size, T(0));
    Scratch<T> scratch(scratch_size(g));
    for (std::size_t n = begin; n < end; ++n, delta += out_channels * p) {
      const T* cols = columns(g, input + n * g.image_size(), scratch);
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
    // Each chunk overwrites its partial sum; they are added in chunk order, element by element
    // across the seam (mnist_cnn's second layer: 8 partials of 18,432 values, whose zeroing and
    // sum were serial passes while the other threads waited).
    const auto partials = std::make_unique_for_overwrite<T[]>(chunks * weight_size);
    parallel_chunks(batch, weight_grad_chunk,
                    [&](std::size_t chunk, std::size_t begin, std::size_t end) {
                      accumulate(begin, end, partials.get() + chunk * weight_size, false);
                    });
    const std::size_t grain = std::max<std::size_t>(1, elementwise_grain / chunks);  // values read
    parallel_for(weight_size, grain, [&](std::size_t begin, std::size_t end) {
      std::copy(partials.get() + begin, partials.get() + end, sum + begin);
      for (std::size_t c = 1; c < chunks; ++c) {
        const T* partial = partials.get() + c * weight_size;
        for (std::size_t i = begin; i < end; ++i) sum[i] += partial[i];
      }
    });
  }
  if (transposed) {
    for (std::size_t o = 0; o < out_channels; ++o) {
      for (std::size_t i = 0; i < k; ++i) grad_weight[o * k + i] = sum[i * out_channels + o];
    }
  }
  if (grad_bias != nullptr) {
    bias_grad(batch, out_channels, p, grad_output, plane_sums.data(), grad_bias);
  }
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE_CONV(T)                                                                     \
  template void conv2d_forward<T>(const ConvGeometry&, std::size_t, std::size_t, const T*,         \
                                  const T*, const T*, T*, Activation);                             \
  template bool conv2d_forward_max_pool<T>(const ConvGeometry&, std::size_t, std::size_t,          \
                                           const T*, const T*, const T*, Activation,               \
                                           const Pool2dGeometry&, const PooledOutput<T>&);         \
  template void conv2d_backward_input<T>(const ConvGeometry&, std::size_t, std::size_t, const T*,  \
                                         const T*, T*);                                            \
  template void conv2d_backward_weight<T>(const ConvGeometry&, std::size_t, std::size_t, const T*, \
                                          const T*, T*, T*, const T*);
TG_INSTANTIATE_CONV(float)
TG_INSTANTIATE_CONV(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE_CONV

}  // namespace tg::kernels
