#include "indexing.hpp"

#include <algorithm>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/profiler.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "around_dim.hpp"
#include "checks.hpp"
#include "kernels/copy.hpp"
#include "kernels/parallel.hpp"
#include "shape.hpp"

namespace tg {
namespace {

// ---- Copies. A tensor seen around one dim is [outer, length, inner] (row-major: the dims
// before it, the dim, the dims after it); the ops here move whole slabs of `inner` values.

using detail::AroundDim;

// In every outer row, `count` slabs: from's slab from_first + j * from_step goes to to's slab
// to_first + j * to_step (slab positions along the dim, of length from_length and to_length).
struct SlabCopy {
  std::size_t outer = 1;
  std::size_t inner = 1;
  std::size_t count = 0;
  std::size_t from_length = 0;
  std::size_t from_first = 0;
  std::size_t from_step = 1;
  std::size_t to_length = 0;
  std::size_t to_first = 0;
  std::size_t to_step = 1;
};

// About 256 KB per task, as kernels::copy.
template <class T>
constexpr std::size_t copy_grain = (std::size_t{256} << 10) / sizeof(T);

// Outer rows are split across the parallel seam. With unit steps a row's slabs are one
// contiguous run (cat, narrow, split: one memmove per row); a single row is one run that
// kernels::copy splits itself.
template <class T>
void copy_slabs(const T* from, T* to, const SlabCopy& c) {
  const std::size_t row_values = c.count * c.inner;
  if (row_values == 0 || c.outer == 0) return;
  const bool contiguous = c.from_step == 1 && c.to_step == 1;
  const T* from_start = from + c.from_first * c.inner;
  T* to_start = to + c.to_first * c.inner;
  if (contiguous && c.outer == 1) {
    kernels::copy(from_start, row_values, to_start);
    return;
  }
  const std::size_t from_row = c.from_length * c.inner;
  const std::size_t to_row = c.to_length * c.inner;
  const std::size_t from_stride = c.from_step * c.inner;
  const std::size_t to_stride = c.to_step * c.inner;
  const std::size_t grain = std::max<std::size_t>(1, copy_grain<T> / row_values);
  kernels::parallel_for(c.outer, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) {
      const T* source = from_start + o * from_row;
      T* target = to_start + o * to_row;
      if (contiguous) {
        std::copy(source, source + row_values, target);
      } else if (c.inner == 1) {  // strided single values (a step along the last dim)
        for (std::size_t j = 0; j < c.count; ++j) target[j * to_stride] = source[j * from_stride];
      } else {
        for (std::size_t j = 0; j < c.count; ++j) {
          std::copy(source + j * from_stride, source + j * from_stride + c.inner,
                    target + j * to_stride);
        }
      }
    }
  });
}

// to[o][j] = from[o][indices[j]] for the count = indices.size() slabs of every outer row.
template <class T>
void gather_slabs(const T* from, std::size_t from_length, T* to, const std::int64_t* indices,
                  std::size_t count, std::size_t outer, std::size_t inner) {
  if (count * inner == 0) return;
  const std::size_t grain = std::max<std::size_t>(1, copy_grain<T> / (count * inner));
  kernels::parallel_for(outer, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) {
      for (std::size_t j = 0; j < count; ++j) {
        const T* source = from + (o * from_length + static_cast<std::size_t>(indices[j])) * inner;
        std::copy(source, source + inner, to + (o * count + j) * inner);
      }
    }
  });
}

// to[o][indices[j]] += from[o][j], in the order of j within a row (so repeated indices sum in
// the same order at any thread count); rows are independent.
template <class T>
void scatter_add_slabs(const T* from, T* to, std::size_t to_length, const std::int64_t* indices,
                       std::size_t count, std::size_t outer, std::size_t inner) {
  if (count * inner == 0) return;
  const std::size_t grain = std::max<std::size_t>(1, copy_grain<T> / (count * inner));
  kernels::parallel_for(outer, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) {
      for (std::size_t j = 0; j < count; ++j) {
        const T* source = from + (o * count + j) * inner;
        T* target = to + (o * to_length + static_cast<std::size_t>(indices[j])) * inner;
        for (std::size_t i = 0; i < inner; ++i) target[i] += source[i];
      }
    }
  });
}

// dispatch_any, timed under the op's name as dispatch_floating times the float-only ops.
template <class F>
decltype(auto) dispatch_copy(DType dtype, std::string_view op, F&& f) {
  const profiler::Scope timed(op);
  return dispatch_any(dtype, std::forward<F>(f));
}

template <class T>
xt::xarray<T> zero_array(const Shape& shape) {
  xt::xarray<T> array = detail::new_array<T>(shape);
  std::fill(array.data(), array.data() + array.size(), T(0));
  return array;
}

// ---- Arguments.

std::string shapes_of(const std::vector<Tensor>& tensors) {
  std::string text;
  for (const Tensor& t : tensors) {
    if (!text.empty()) text += ", ";
    text += t.defined() ? to_string(t.shape()) : "undefined";
  }
  return text;
}

// The list of cat or stack: not empty, all defined, one dtype.
void check_list(std::string_view op, const std::vector<Tensor>& tensors) {
  if (tensors.empty()) fail("{}: expected at least one tensor, got an empty list", op);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    detail::check_defined(op, tensors[i], fmt::format("tensor {}", i));
  }
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    if (tensors[i].dtype() != tensors[0].dtype()) {
      fail("{}: tensor {} is {} but tensor 0 is {}; convert one with .to() (shapes {})", op, i,
           name(tensors[i].dtype()), name(tensors[0].dtype()), shapes_of(tensors));
    }
  }
}

// The positions a slice x[start:end:step] takes along a dim of `size`, as Python's slice.indices.
struct SliceRange {
  std::size_t first = 0;
  std::size_t count = 0;
  std::size_t end = 0;  // clamped
};

SliceRange slice_range(std::string_view op, std::int64_t start, std::int64_t end, std::int64_t step,
                       std::size_t dim, const Shape& shape) {
  if (step < 1) {
    fail("{}: step must be >= 1, got {} (dim {} of input {})", op, step, dim, to_string(shape));
  }
  const auto size = static_cast<std::int64_t>(shape[dim]);
  const auto clamp = [size](std::int64_t i) {
    if (i < 0) i = std::max<std::int64_t>(i + size, 0);
    return static_cast<std::size_t>(std::min(i, size));
  };
  SliceRange range{.first = clamp(start), .count = 0, .end = clamp(end)};
  if (range.end > range.first) {
    range.count = (range.end - range.first - 1) / static_cast<std::size_t>(step) + 1;
  }
  return range;
}

// An index into a dim of `size`, negative counted from the end.
std::size_t normalize_index(std::string_view op, std::int64_t index, std::size_t dim,
                            const Shape& shape) {
  const auto size = static_cast<std::int64_t>(shape[dim]);
  if (index < -size || index >= size) {
    fail("{}: index {} is out of range for dim {} of size {} of input {} (expected {} to {})", op,
         index, dim, size, to_string(shape), -size, size - 1);
  }
  return static_cast<std::size_t>(index < 0 ? index + size : index);
}

// indices of index_select: i64, 1-D or 0-D, each in [0, shape[dim]).
void check_indices(std::string_view op, const Tensor& indices, std::size_t dim,
                   const Shape& shape) {
  detail::check_defined(op, indices, "indices");
  if (indices.dtype() != DType::i64) {
    fail("{}: indices must be i64, got {} {} (input {})", op, name(indices.dtype()),
         to_string(indices.shape()), to_string(shape));
  }
  if (indices.dim() > 1) {
    fail("{}: indices must be 1-D, got {} (input {})", op, to_string(indices.shape()),
         to_string(shape));
  }
  const std::int64_t* values = indices.value<std::int64_t>().data();
  const auto size = static_cast<std::int64_t>(shape[dim]);
  for (std::size_t j = 0; j < indices.numel(); ++j) {
    if (values[j] < 0 || values[j] >= size) {
      fail(
          "{}: index {} (position {} of indices {}) is out of range for dim {} of size {} of "
          "input {} (expected 0 to {})",
          op, values[j], j, to_string(indices.shape()), dim, size, to_string(shape), size - 1);
    }
  }
}

// The positions first, first + step, ... (count of them) of x along dim, as an array of
// `out_shape` (x's shape with that dim's size count, or without the dim for select).
Tensor take_slice(const Tensor& x, std::string_view op, std::size_t dim, std::size_t first,
                  std::size_t count, std::size_t step, const Shape& out_shape) {
  const AroundDim a = detail::around_dim(x.shape(), dim);
  return dispatch_copy(x.dtype(), op, [&]<class T>() {
    xt::xarray<T> result = detail::new_array<T>(out_shape);
    copy_slabs(x.value<T>().data(), result.data(),
               {.outer = a.outer,
                .inner = a.inner,
                .count = count,
                .from_length = a.length,
                .from_first = first,
                .from_step = step,
                .to_length = count,
                .to_first = 0,
                .to_step = 1});
    return tensor(std::move(result));
  });
}

// Zeros of input_shape with grad written at first, first + step, ... along dim.
Tensor put_slice(const Tensor& grad, std::string_view op, const Shape& input_shape, std::size_t dim,
                 std::size_t first, std::size_t count, std::size_t step) {
  const AroundDim a = detail::around_dim(input_shape, dim);
  return dispatch_floating(grad.dtype(), op, [&]<class T>() {
    xt::xarray<T> result = zero_array<T>(input_shape);
    copy_slabs(grad.value<T>().data(), result.data(),
               {.outer = a.outer,
                .inner = a.inner,
                .count = count,
                .from_length = count,
                .from_first = 0,
                .from_step = 1,
                .to_length = a.length,
                .to_first = first,
                .to_step = step});
    return tensor(std::move(result));
  });
}

void check_grad_shape(std::string_view op, const Tensor& grad, const Shape& expected,
                      const Shape& input_shape) {
  detail::check_floating(op, grad, "grad");
  if (grad.shape() != expected) {
    fail("{}: grad {} does not match {}, the forward output for input {}", op,
         to_string(grad.shape()), to_string(expected), to_string(input_shape));
  }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  const detail::OpContext op_context("cat");
  check_list("cat", tensors);
  const Shape& first = tensors[0].shape();
  if (first.empty()) {
    fail("cat: tensor 0 is 0-D []: cat joins along an existing dim (stack adds one) (shapes {})",
         shapes_of(tensors));
  }
  const std::size_t d = detail::normalize_dim("cat", dim, first);
  Shape shape = first;
  shape[d] = 0;
  std::vector<std::int64_t> offsets;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Shape& s = tensors[i].shape();
    bool matches = s.size() == first.size();
    for (std::size_t k = 0; matches && k < s.size(); ++k) matches = k == d || s[k] == first[k];
    if (!matches) {
      fail("cat: tensor {} {} does not match tensor 0 {} in the dims other than {} (shapes {})", i,
           to_string(s), to_string(first), d, shapes_of(tensors));
    }
    offsets.push_back(static_cast<std::int64_t>(shape[d]));
    shape[d] += s[d];
  }
  const AroundDim a = detail::around_dim(shape, d);
  Tensor out = dispatch_copy(tensors[0].dtype(), "cat", [&]<class T>() {
    xt::xarray<T> result = detail::new_array<T>(shape);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const std::size_t length = tensors[i].shape()[d];
      copy_slabs(tensors[i].value<T>().data(), result.data(),
                 {.outer = a.outer,
                  .inner = a.inner,
                  .count = length,
                  .from_length = length,
                  .from_first = 0,
                  .from_step = 1,
                  .to_length = a.length,
                  .to_first = static_cast<std::size_t>(offsets[i]),
                  .to_step = 1});
    }
    return tensor(std::move(result));
  });
  std::vector<std::int64_t> lengths;
  std::vector<bool> needed;
  for (const Tensor& t : tensors) {
    lengths.push_back(static_cast<std::int64_t>(t.shape()[d]));
    needed.push_back(needs_input_grad(t));
  }
  return record("cat", out, tensors,
                [d = static_cast<std::int64_t>(d), offsets, lengths, needed](const Tensor& g) {
                  std::vector<Tensor> grads(offsets.size());
                  for (std::size_t i = 0; i < grads.size(); ++i) {
                    if (needed[i]) grads[i] = narrow(g, d, offsets[i], lengths[i]);
                  }
                  return grads;
                });
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  const detail::OpContext op_context("stack");
  check_list("stack", tensors);
  const Shape& first = tensors[0].shape();
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    if (tensors[i].shape() != first) {
      fail("stack: tensor {} {} does not match tensor 0 {}: stack needs one shape (shapes {})", i,
           to_string(tensors[i].shape()), to_string(first), shapes_of(tensors));
    }
  }
  const std::size_t d = detail::normalize_new_dim("stack", dim, first);
  Shape shape(first.size() + 1);
  for (std::size_t k = 0; k < shape.size(); ++k) {
    shape[k] = k < d ? first[k] : k == d ? tensors.size() : first[k - 1];
  }
  const AroundDim a = detail::around_dim(shape, d);
  Tensor out = dispatch_copy(tensors[0].dtype(), "stack", [&]<class T>() {
    xt::xarray<T> result = detail::new_array<T>(shape);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      copy_slabs(tensors[i].value<T>().data(), result.data(),
                 {.outer = a.outer,
                  .inner = a.inner,
                  .count = 1,
                  .from_length = 1,
                  .from_first = 0,
                  .from_step = 1,
                  .to_length = a.length,
                  .to_first = i,
                  .to_step = 1});
    }
    return tensor(std::move(result));
  });
  std::vector<bool> needed;
  needed.reserve(tensors.size());
  for (const Tensor& t : tensors) needed.push_back(needs_input_grad(t));
  return record("stack", out, tensors, [d = static_cast<std::int64_t>(d), needed](const Tensor& g) {
    std::vector<Tensor> grads(needed.size());
    for (std::size_t i = 0; i < grads.size(); ++i) {
      if (needed[i]) grads[i] = select(g, d, static_cast<std::int64_t>(i));
    }
    return grads;
  });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes,
                          std::int64_t dim) {
  const detail::OpContext op_context("split");
  detail::check_defined("split", x, "input");
  const std::size_t d = detail::normalize_dim("split", dim, x.shape());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0 || sizes[i] > static_cast<std::int64_t>(x.shape()[d])) {
      fail("split: size {} (position {} of [{}]) is not in 0 to {}, the size of dim {} of input {}",
           sizes[i], i, fmt::join(sizes, ","), x.shape()[d], d, to_string(x.shape()));
    }
    total += sizes[i];
  }
  if (total != static_cast<std::int64_t>(x.shape()[d])) {
    fail("split: sizes [{}] sum to {} but dim {} of input {} has size {}", fmt::join(sizes, ","),
         total, d, to_string(x.shape()), x.shape()[d]);
  }
  std::vector<Tensor> pieces;
  std::int64_t offset = 0;
  for (const std::int64_t size : sizes) {
    pieces.push_back(narrow(x, static_cast<std::int64_t>(d), offset, size));
    offset += size;
  }
  return pieces;
}

std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t dim) {
  const detail::OpContext op_context("split");
  detail::check_defined("split", x, "input");
  const std::size_t d = detail::normalize_dim("split", dim, x.shape());
  if (size <= 0) {
    fail("split: size must be >= 1, got {} (dim {} of input {})", size, d, to_string(x.shape()));
  }
  const auto length = static_cast<std::int64_t>(x.shape()[d]);
  std::vector<std::int64_t> sizes;
  for (std::int64_t offset = 0; offset < length; offset += size) {
    sizes.push_back(std::min(size, length - offset));
  }
  if (sizes.empty()) sizes.push_back(0);  // an empty dim: one empty piece, as PyTorch
  return split(x, sizes, static_cast<std::int64_t>(d));
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  const detail::OpContext op_context("chunk");
  detail::check_defined("chunk", x, "input");
  const std::size_t d = detail::normalize_dim("chunk", dim, x.shape());
  if (chunks <= 0) {
    fail("chunk: chunks must be >= 1, got {} (dim {} of input {})", chunks, d,
         to_string(x.shape()));
  }
  const auto length = static_cast<std::int64_t>(x.shape()[d]);
  if (length == 0) {
    // PyTorch gives `chunks` empty pieces; a count no list of tensors could hold is refused.
    constexpr std::int64_t max_empty_pieces = std::int64_t{1} << 20;
    if (chunks > max_empty_pieces) {
      fail("chunk: {} chunks of the empty dim {} of input {}: at most {} empty pieces", chunks, d,
           to_string(x.shape()), max_empty_pieces);
    }
    return split(x, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0),
                 static_cast<std::int64_t>(d));
  }
  // ceil(length / chunks) without overflow for a huge chunks.
  return split(x, (length - 1) / chunks + 1, static_cast<std::int64_t>(d));
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  const detail::OpContext op_context("narrow");
  detail::check_defined("narrow", x, "input");
  const std::size_t d = detail::normalize_dim("narrow", dim, x.shape());
  const auto size = static_cast<std::int64_t>(x.shape()[d]);
  if (start < -size || start > size) {
    fail("narrow: start {} is out of range for dim {} of size {} of input {} (expected {} to {})",
         start, d, size, to_string(x.shape()), -size, size);
  }
  const std::int64_t first = start < 0 ? start + size : start;
  if (length < 0 || length > size - first) {
    fail(
        "narrow: length {} from start {} does not fit dim {} of size {} of input {} (expected 0 "
        "to {})",
        length, start, d, size, to_string(x.shape()), size - first);
  }
  Shape shape = x.shape();
  shape[d] = static_cast<std::size_t>(length);
  Tensor out = take_slice(x, "narrow", d, static_cast<std::size_t>(first),
                          static_cast<std::size_t>(length), 1, shape);
  return record("narrow", out, {x},
                [input_shape = x.shape(), d = static_cast<std::int64_t>(d), first,
                 end = first + length](const Tensor& g) {
                  return std::vector<Tensor>{slice_backward(g, input_shape, d, first, end, 1)};
                });
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step) {
  const detail::OpContext op_context("slice");
  detail::check_defined("slice", x, "input");
  const std::size_t d = detail::normalize_dim("slice", dim, x.shape());
  const SliceRange range = slice_range("slice", start, end, step, d, x.shape());
  Shape shape = x.shape();
  shape[d] = range.count;
  Tensor out =
      take_slice(x, "slice", d, range.first, range.count, static_cast<std::size_t>(step), shape);
  return record("slice", out, {x},
                [input_shape = x.shape(), d = static_cast<std::int64_t>(d),
                 first = static_cast<std::int64_t>(range.first),
                 last = static_cast<std::int64_t>(range.end), step](const Tensor& g) {
                  return std::vector<Tensor>{slice_backward(g, input_shape, d, first, last, step)};
                });
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index) {
  const detail::OpContext op_context("select");
  detail::check_defined("select", x, "input");
  const std::size_t d = detail::normalize_dim("select", dim, x.shape());
  const std::size_t i = normalize_index("select", index, d, x.shape());
  Shape shape = x.shape();
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
  Tensor out = take_slice(x, "select", d, i, 1, 1, shape);
  return record(
      "select", out, {x},
      [input_shape = x.shape(), d = static_cast<std::int64_t>(d), i = static_cast<std::int64_t>(i)](
          const Tensor& g) { return std::vector<Tensor>{select_backward(g, input_shape, d, i)}; });
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& indices) {
  const detail::OpContext op_context("index_select");
  detail::check_defined("index_select", x, "input");
  const std::size_t d = detail::normalize_dim("index_select", dim, x.shape());
  check_indices("index_select", indices, d, x.shape());
  Shape shape = x.shape();
  shape[d] = indices.numel();
  const AroundDim a = detail::around_dim(x.shape(), d);
  Tensor out = dispatch_copy(x.dtype(), "index_select", [&]<class T>() {
    xt::xarray<T> result = detail::new_array<T>(shape);
    gather_slabs(x.value<T>().data(), a.length, result.data(), indices.value<std::int64_t>().data(),
                 indices.numel(), a.outer, a.inner);
    return tensor(std::move(result));
  });
  // indices is an input, so that the tape notices if it is changed in place before backward.
  return record(
      "index_select", out, {x, indices},
      [input_shape = x.shape(), d = static_cast<std::int64_t>(d), indices](const Tensor& g) {
        return std::vector<Tensor>{index_select_backward(g, input_shape, d, indices), Tensor{}};
      });
}

Tensor slice_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                      std::int64_t start, std::int64_t end, std::int64_t step) {
  const detail::OpContext op_context("slice_backward");
  const std::size_t d = detail::normalize_dim("slice_backward", dim, input_shape);
  const SliceRange range = slice_range("slice_backward", start, end, step, d, input_shape);
  Shape expected = input_shape;
  expected[d] = range.count;
  check_grad_shape("slice_backward", grad, expected, input_shape);
  Tensor out = put_slice(grad, "slice_backward", input_shape, d, range.first, range.count,
                         static_cast<std::size_t>(step));
  return record("slice_backward", out, {grad},
                [d = static_cast<std::int64_t>(d), first = static_cast<std::int64_t>(range.first),
                 last = static_cast<std::int64_t>(range.end), step](const Tensor& gg) {
                  return std::vector<Tensor>{slice(gg, d, first, last, step)};
                });
}

Tensor select_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                       std::int64_t index) {
  const detail::OpContext op_context("select_backward");
  const std::size_t d = detail::normalize_dim("select_backward", dim, input_shape);
  const std::size_t i = normalize_index("select_backward", index, d, input_shape);
  Shape expected = input_shape;
  expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(d));
  check_grad_shape("select_backward", grad, expected, input_shape);
  Tensor out = put_slice(grad, "select_backward", input_shape, d, i, 1, 1);
  return record("select_backward", out, {grad},
                [d = static_cast<std::int64_t>(d), i = static_cast<std::int64_t>(i)](
                    const Tensor& gg) { return std::vector<Tensor>{select(gg, d, i)}; });
}

Tensor index_select_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                             const Tensor& indices) {
  const detail::OpContext op_context("index_select_backward");
  const std::size_t d = detail::normalize_dim("index_select_backward", dim, input_shape);
  check_indices("index_select_backward", indices, d, input_shape);
  Shape expected = input_shape;
  expected[d] = indices.numel();
  check_grad_shape("index_select_backward", grad, expected, input_shape);
  const AroundDim a = detail::around_dim(input_shape, d);
  Tensor out = dispatch_floating(grad.dtype(), "index_select_backward", [&]<class T>() {
    xt::xarray<T> result = zero_array<T>(input_shape);
    scatter_add_slabs(grad.value<T>().data(), result.data(), a.length,
                      indices.value<std::int64_t>().data(), indices.numel(), a.outer, a.inner);
    return tensor(std::move(result));
  });
  return record("index_select_backward", out, {grad, indices},
                [d = static_cast<std::int64_t>(d), indices](const Tensor& gg) {
                  return std::vector<Tensor>{index_select(gg, d, indices), Tensor{}};
                });
}

}  // namespace tg
