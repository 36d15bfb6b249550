#pragma once
// 2-D pooling, NCHW, over each (n, c) plane.
//   max_pool2d (the seed's eq. 16; with dilation, a window's taps are `dilation` apart; with
//     ceil_mode the output size is rounded up, the last window partial): the gradient of each
//     window goes to the position that held its maximum in forward (recorded as an argmax; on ties
//     the first in row-major order, as PyTorch); every other position gets 0. Positions in several
//     windows sum.
//       dx = scatter_add(g, argmax)            d(scatter)/dg = gather(gg, argmax)
//   avg_pool2d: y = mean of the window (padding counted when count_include_pad);
//       dx[i] = sum over windows W containing i of g[W] / |W|
//     avg_pool2d_backward is that map as a differentiable op; its own gradient is avg_pool2d.
//   adaptive_avg_pool2d: output (i, j) averages input rows [floor(i H / Ho), ceil((i+1) H / Ho))
//     and the columns likewise (PyTorch's windows; output size 1 is global average pooling);
//       dx[p] = sum over windows W containing p of g[W] / |W|
//     (that map's own gradient is adaptive_avg_pool2d again)

#include "../autograd/tensor.hpp"
#include "options.hpp"
#include "reduction.hpp"

namespace tg {

[[nodiscard]] Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options);
// max_pool2d's values and, as i64 of their shape, the flat index h * W + w in its input plane of
// each window's maximum (PyTorch's return_indices): max_pool2d_scatter takes them.
[[nodiscard]] ValuesIndices max_pool2d_with_indices(const Tensor& input,
                                                    const MaxPool2dOptions& options);
[[nodiscard]] Tensor avg_pool2d(const Tensor& input, const AvgPool2dOptions& options);
// output_size: {Ho, Wo}, or one int for both.
[[nodiscard]] Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size);

// The backward maps as differentiable ops (what the closures above call).
// argmax: i64 [N,C,Ho,Wo] holding each window's maximum as a flat index into its H*W plane.
[[nodiscard]] Tensor max_pool2d_scatter(const Tensor& grad_output, const Tensor& argmax,
                                        const Shape& input_shape);
[[nodiscard]] Tensor max_pool2d_gather(const Tensor& grad_input, const Tensor& argmax);
[[nodiscard]] Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                                         const AvgPool2dOptions& options);

}  // namespace tg
