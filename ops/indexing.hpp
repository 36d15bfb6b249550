#pragma once
// Joining, cutting and indexing tensors along one dim (as libtorch's functional API). The
// results are copies (tensors are always contiguous); the forward ops work on i64 tensors too
// (labels, indices), which never carry gradients. Negative dims count from the end.
//
// Gradients, with g the output gradient (g_i that of output i):
//   cat(xs, dim):                    dx_i = narrow(g, dim, offset_i, x_i.shape[dim])
//   stack(xs, dim):                  dx_i = select(g, dim, i)
//   split, chunk:                    each piece is a narrow of x (so each piece's gradient is
//                                    a slice_backward of x's shape; they add up)
//   narrow(x, dim, start, length):   dx = slice_backward(g, x.shape, dim, start, start + length)
//   slice(x, dim, start, end, step): dx = slice_backward(g, x.shape, dim, start, end, step)
//   select(x, dim, index):           dx = select_backward(g, x.shape, dim, index)
//   index_select(x, dim, indices):   dx = index_select_backward(g, x.shape, dim, indices)
//                                         (zeros with g's rows added at indices: repeats sum)
// The backward ops write g into zeros of the input's shape. Each is linear in g, and its
// gradient is the forward op again, which is how second derivatives pass through them:
//   slice_backward:        dg = slice(gg, dim, start, end, step)
//   select_backward:       dg = select(gg, dim, index)
//   index_select_backward: dg = index_select(gg, dim, indices)

#include <cstdint>
#include <limits>
#include <vector>

#include "../autograd/tensor.hpp"

namespace tg {

// The tensors joined along an existing dim: same dtype, same rank (at least 1-D), same sizes but
// along dim.
[[nodiscard]] Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
// The tensors joined along a new dim, in [-(rank + 1), rank]: same dtype and shape.
[[nodiscard]] Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);

// Pieces of `size` along dim; the last one is smaller if size does not divide the dim (an empty
// dim gives one empty piece), as torch.split with an int.
[[nodiscard]] std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t dim = 0);
// Pieces of the given sizes (each >= 0, summing to the dim's size).
[[nodiscard]] std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                        std::int64_t dim = 0);
// At most `chunks` pieces of ceil(size / chunks) along dim, the last one smaller (so there may
// be fewer than `chunks`), as torch.chunk; an empty dim gives `chunks` empty pieces.
[[nodiscard]] std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);

// Elements start .. start + length - 1 along dim. start may be negative (counted from the end);
// the range must lie inside the dim.
[[nodiscard]] Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start,
                            std::int64_t length);
// x[..., start:end:step] along dim, as Python slicing: negative start and end count from the
// end, and both are clamped to the dim (an end before start gives an empty dim). step >= 1.
// Pass kSliceEnd as end for "to the end".
inline constexpr std::int64_t kSliceEnd = std::numeric_limits<std::int64_t>::max();
[[nodiscard]] Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
                           std::int64_t step = 1);
// The slice at `index` along dim (negative counts from the end), without that dim.
[[nodiscard]] Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index);
// The slices at `indices` (an i64 tensor, 1-D or 0-D, values in [0, size)) along dim, in that
// order; the dim's size becomes the number of indices. Indices may repeat.
[[nodiscard]] Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& indices);

// The gradients above as ops of their own: zeros of `input_shape` with `grad` written where the
// forward op read (added, for index_select's repeated indices). `grad` must have the shape the
// forward op gives for `input_shape` and these arguments.
[[nodiscard]] Tensor slice_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                                    std::int64_t start, std::int64_t end, std::int64_t step = 1);
[[nodiscard]] Tensor select_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                                     std::int64_t index);
[[nodiscard]] Tensor index_select_backward(const Tensor& grad, const Shape& input_shape,
                                           std::int64_t dim, const Tensor& indices);

}  // namespace tg
