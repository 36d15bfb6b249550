#pragma once
// 2-D pooling on raw NCHW arrays: `planes` = N*C independent H x W planes, each pooled into an
// out_h x out_w plane. Every function runs its planes in parallel through the parallel seam;
// a plane is always computed by one thread in a fixed order, so results are bitwise identical
// for any thread count.
//
// The geometry is trusted (tg::max_pool2d / tg::avg_pool2d validate it): stride >= 1,
// padding <= kernel / 2, out >= 1, and at least one input position in every window (a
// ceil_mode window may reach past the padding; positions outside the input are skipped).

#include <cstddef>
#include <cstdint>

namespace tg::kernels {

struct Pool2dGeometry {
  std::size_t planes = 0;  // N * C
  std::size_t in_h = 0, in_w = 0;
  std::size_t out_h = 0, out_w = 0;
  std::size_t kernel_h = 1, kernel_w = 1;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_h = 0, pad_w = 0;
  std::size_t dilation_h = 1, dilation_w = 1;  // max-pooling only
};

// Max over each window, padding acting as -inf. argmax (may be null: inference) receives the
// flat index h * in_w + w of the maximum within its input plane; on ties the first position in
// row-major order wins, and a NaN counts as the maximum (the last NaN of the window if there
// are several), as PyTorch's CPU kernel.
template <class T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* input, T* output, std::int32_t* argmax);

// max_pool2d_forward of `planes` planes (not g.planes) on the calling thread, argmax required:
// for a caller that is itself one task of a parallel loop.
template <class T>
void max_pool2d_planes(const Pool2dGeometry& g, std::size_t planes, const T* input, T* output,
                       std::int32_t* argmax);

// Whether g's windows are 2x2 with stride 2, no padding nor dilation, and all inside the input:
// the window of nearly every CNN (its own kernels: no two windows overlap).
bool is_window_2x2(const Pool2dGeometry& g);

// grad_input[plane][argmax[j]] += grad_output[j]; grad_input is overwritten (zeroed first).
// Scatter and gather read only the plane count and sizes of `g`; argmax must lie in
// [0, in_h * in_w).
template <class T>
void max_pool2d_scatter(const Pool2dGeometry& g, const T* grad_output, const std::int32_t* argmax,
                        T* grad_input);

// grad_output[j] = grad_input[plane][argmax[j]]: the adjoint of the scatter.
template <class T>
void max_pool2d_gather(const Pool2dGeometry& g, const T* grad_input, const std::int32_t* argmax,
                       T* grad_output);

// Mean of each window: divided by kernel_h * kernel_w with count_include_pad, else by the
// number of input positions in the window.
template <class T>
void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const T* input, T* output);

// The adjoint of avg_pool2d_forward: each grad_output[j] / divisor is added to every input
// position of window j. grad_input is overwritten.
template <class T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const T* grad_output,
                         T* grad_input);

// Adaptive average pooling (PyTorch's windows): output row i of out_h averages input rows
// [floor(i * in_h / out_h), ceil((i + 1) * in_h / out_h)), and likewise for columns. Reads the
// plane count and sizes of `g` only.
template <class T>
void adaptive_avg_pool2d_forward(const Pool2dGeometry& g, const T* input, T* output);

// Its adjoint: each grad_output[j] / |window j| is added to every position of window j.
// grad_input is overwritten.
template <class T>
void adaptive_avg_pool2d_backward(const Pool2dGeometry& g, const T* grad_output, T* grad_input);

}  // namespace tg::kernels
