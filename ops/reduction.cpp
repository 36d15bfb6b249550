#include "reduction.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/profiler.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "around_dim.hpp"
#include "broadcast.hpp"
#include "checks.hpp"
#include "kernels/reduce.hpp"
#include "shape.hpp"

namespace tg {
namespace {

// Sorted, distinct, non-negative dims; an empty list means all dims (as torch.sum(x, [])).
std::vector<std::size_t> reduced_dims(std::string_view op, const Tensor& x,
                                      const std::vector<std::int64_t>& dims) {
  std::vector<std::size_t> result;
  if (dims.empty()) {
    for (std::size_t d = 0; d < x.dim(); ++d) result.push_back(d);
    return result;
  }
  for (std::int64_t dim : dims) result.push_back(detail::normalize_dim(op, dim, x.shape()));
  std::sort(result.begin(), result.end());
  if (std::adjacent_find(result.begin(), result.end()) != result.end()) {
    fail("{}: a dim appears twice in the list for input {}", op, to_string(x.shape()));
  }
  return result;
}

// x's shape with the reduced dims kept as size 1.
std::vector<std::int64_t> kept_shape(const Shape& shape, const std::vector<std::size_t>& dims) {
  std::vector<std::int64_t> kept(shape.begin(), shape.end());
  for (std::size_t d : dims) kept[d] = 1;
  return kept;
}

// x seen as [outer, length, inner] around the reduced dim: outer * inner lines of `length`
// values `inner` apart. A 0-D x is one line of one value (PyTorch lets it name dim 0 or -1).
struct Lines {
  std::size_t outer = 1;
  std::size_t length = 1;
  std::size_t inner = 1;
  Shape out_shape;  // the reduced shape, keeping the dim as size 1 if keepdim
};

Lines lines_along(std::string_view op, const Shape& shape, std::int64_t dim, bool keepdim) {
  Lines lines;
  if (shape.empty()) {
    if (dim != 0 && dim != -1) {
      fail("{}: dim {} is out of range for a 0-D input [] (expected -1 or 0)", op, dim);
    }
    return lines;
  }
  const std::size_t d = detail::normalize_dim(op, dim, shape);
  const detail::AroundDim around = detail::around_dim(shape, d);
  lines.outer = around.outer;
  lines.length = around.length;
  lines.inner = around.inner;
  lines.out_shape = shape;
  if (keepdim) {
    lines.out_shape[d] = 1;
  } else {
    lines.out_shape.erase(lines.out_shape.begin() + static_cast<std::ptrdiff_t>(d));
  }
  return lines;
}

std::size_t line_start(const Lines& lines, std::size_t o, std::size_t i) {
  return o * lines.length * lines.inner + i;
}

std::size_t at_index(std::int64_t index, const Lines& lines) {
  return static_cast<std::size_t>(index) * lines.inner;
}

template <class T>
bool is_nan(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(value);
  } else {
    return false;
  }
}

// Writes to indices[o * inner + i] the index of the first value of line (o, i) that no other
// value is `ahead` of (strictly: the first of equal values wins). A NaN is ahead of everything:
// the first NaN ends the search (as PyTorch's argmax, max and min).
template <class T, class Ahead>
void find_in_lines(const T* data, const Lines& lines, Ahead ahead, std::int64_t* indices) {
  for (std::size_t o = 0; o < lines.outer; ++o) {
    for (std::size_t i = 0; i < lines.inner; ++i) {
      const T* line = data + line_start(lines, o, i);
      std::size_t best = 0;
      for (std::size_t k = 1; k < lines.length && !is_nan(line[best * lines.inner]); ++k) {
        const T value = line[k * lines.inner];
        if (ahead(value, line[best * lines.inner]) || is_nan(value)) best = k;
      }
      indices[o * lines.inner + i] = static_cast<std::int64_t>(best);
    }
  }
}

enum class Extreme { largest, smallest };

template <class T>
void find_extreme(const T* data, const Lines& lines, Extreme extreme, std::int64_t* indices) {
  if (extreme == Extreme::largest) {
    find_in_lines(data, lines, std::greater<T>(), indices);
  } else {
    find_in_lines(data, lines, std::less<T>(), indices);
  }
}

// indices of take_along/put_along: i64 of the reduced shape, each a position along the line.
void check_line_indices(std::string_view op, const Tensor& indices, const Lines& lines,
                        const Shape& shape) {
  detail::check_defined(op, indices, "indices");
  if (indices.dtype() != DType::i64 || indices.shape() != lines.out_shape) {
    fail("{}: indices must be i64 {} for input {}, got {} {}", op, to_string(lines.out_shape),
         to_string(shape), name(indices.dtype()), to_string(indices.shape()));
  }
  const std::int64_t* index = indices.value<std::int64_t>().data();
  for (std::size_t k = 0; k < indices.numel(); ++k) {
    if (index[k] < 0 || index[k] >= static_cast<std::int64_t>(lines.length)) {
      fail("{}: index {} at {} is out of range for lines of {} values (input {})", op, index[k],
           index_to_string(indices.shape(), k), lines.length, to_string(shape));
    }
  }
}

ValuesIndices extreme_along(const char* op, const Tensor& x, std::int64_t dim, bool keepdim,
                            Extreme extreme) {
  const detail::OpContext op_context(op);
  const profiler::Scope timed(op);
  detail::check_defined(op, x, "input");
  const Lines lines = lines_along(op, x.shape(), dim, keepdim);
  if (lines.length == 0) fail("{}: dim {} of input {} is empty", op, dim, to_string(x.shape()));
  auto found = detail::new_array<std::int64_t>(lines.out_shape);
  Tensor values = dispatch_any(x.dtype(), [&]<class T>() {
    const T* data = x.value<T>().data();
    find_extreme(data, lines, extreme, found.data());
    auto selected = detail::new_array<T>(lines.out_shape);
    for (std::size_t o = 0; o < lines.outer; ++o) {
      for (std::size_t i = 0; i < lines.inner; ++i) {
        const std::size_t at = o * lines.inner + i;
        selected.data()[at] = data[line_start(lines, o, i) + at_index(found.data()[at], lines)];
      }
    }
    return tensor(std::move(selected));
  });
  Tensor indices = tensor(std::move(found));
  // The backward keeps its own copy: the indices handed out may be changed in place.
  const Tensor saved = needs_grad({x}) ? indices.clone() : Tensor{};
  values = record(op, values, {x}, [input_shape = x.shape(), dim, saved, keepdim](const Tensor& g) {
    return std::vector<Tensor>{detail::put_along(g, input_shape, dim, saved, keepdim)};
  });
  return {values, indices};
}

Tensor extreme_of_all(const char* op, const Tensor& x, Extreme extreme) {
  const detail::OpContext op_context(op);
  const profiler::Scope timed(op);
  detail::check_defined(op, x, "input");
  if (x.numel() == 0) {
    fail("{}: input {} has no elements (reduce over a dim to get an empty result)", op,
         to_string(x.shape()));
  }
  const Lines all{.outer = 1, .length = x.numel(), .inner = 1, .out_shape = {}};
  const bool recording = needs_grad({x});
  Tensor ties;  // 1/k at the k elements the gradient goes to, when recording
  Tensor out = dispatch_any(x.dtype(), [&]<class T>() {
    const T* data = x.value<T>().data();
    std::int64_t found = 0;
    find_extreme(data, all, extreme, &found);
    const T value = data[found];
    if constexpr (std::is_floating_point_v<T>) {
      if (recording) {
        auto share = detail::new_array<T>(x.shape());
        std::size_t count = 0;
        for (std::size_t k = 0; k < x.numel(); ++k) {
          const bool tie = std::isnan(value) ? std::isnan(data[k]) : data[k] == value;
          share.data()[k] = tie ? T(1) : T(0);
          count += tie ? 1 : 0;
        }
        share /= static_cast<T>(count);
        ties = tensor(std::move(share));
      }
    }
    auto result = detail::new_array<T>({});
    result() = value;
    return tensor(std::move(result));
  });
  return record(op, out, {x},
                [ties](const Tensor& g) { return std::vector<Tensor>{mul(g, ties)}; });
}

}  // namespace

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_floating("sum", x, "input");
  const std::vector<std::size_t> axes = reduced_dims("sum", x, dims);
  const std::vector<std::int64_t> kept = kept_shape(x.shape(), axes);
  auto reduce = std::make_unique<bool[]>(x.dim());
  for (std::size_t d : axes) reduce[d] = true;
  Tensor out = dispatch_floating(x.dtype(), "sum", [&]<class T>() {
    Shape out_shape;
    for (std::size_t d = 0; d < x.dim(); ++d) {
      if (keepdim || !std::binary_search(axes.begin(), axes.end(), d)) {
        out_shape.push_back(static_cast<std::size_t>(kept[d]));
      }
    }
    auto summed = detail::new_array<T>(out_shape);
    kernels::sum_dims(x.value<T>().data(), std::span(x.shape().data(), x.dim()),
                      std::span<const bool>(reduce.get(), x.dim()), summed.data());
    return tensor(std::move(summed));
  });
  // Every input element contributes once: its gradient is the output gradient it fed.
  return record("sum", out, {x}, [kept, input_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{expand(reshape(g, kept), input_shape)};
  });
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const detail::OpContext op_context("mean");
  detail::check_floating("mean", x, "input");
  std::size_t count = 1;
  for (std::size_t d : reduced_dims("mean", x, dims)) count *= x.shape()[d];
  if (count == 0) fail("mean: the reduced dims of input {} hold no elements", to_string(x.shape()));
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  const detail::OpContext op_context("argmax");
  detail::check_floating("argmax", x, "input");
  const Lines lines = lines_along("argmax", x.shape(), dim, keepdim);
  if (lines.length == 0) fail("argmax: dim {} of input {} is empty", dim, to_string(x.shape()));
  auto indices = detail::new_array<std::int64_t>(lines.out_shape);
  dispatch_floating(x.dtype(), "argmax", [&]<class T>() {
    find_in_lines(x.value<T>().data(), lines, std::greater<T>(), indices.data());
  });
  return tensor(std::move(indices));
}

ValuesIndices max(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme_along("max", x, dim, keepdim, Extreme::largest);
}

ValuesIndices min(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme_along("min", x, dim, keepdim, Extreme::smallest);
}

Tensor max(const Tensor& x) { return extreme_of_all("max", x, Extreme::largest); }

Tensor min(const Tensor& x) { return extreme_of_all("min", x, Extreme::smallest); }

namespace detail {

Tensor take_along(const Tensor& x, std::int64_t dim, const Tensor& indices, bool keepdim) {
  const OpContext op_context("take_along");
  check_floating("take_along", x, "input");
  const Lines lines = lines_along("take_along", x.shape(), dim, keepdim);
  check_line_indices("take_along", indices, lines, x.shape());
  Tensor out = dispatch_floating(x.dtype(), "take_along", [&]<class T>() {
    auto values = new_array<T>(lines.out_shape);
    const T* data = x.value<T>().data();
    const std::int64_t* index = indices.value<std::int64_t>().data();
    for (std::size_t o = 0; o < lines.outer; ++o) {
      for (std::size_t i = 0; i < lines.inner; ++i) {
        const std::size_t at = o * lines.inner + i;
        values.data()[at] = data[line_start(lines, o, i) + at_index(index[at], lines)];
      }
    }
    return tensor(std::move(values));
  });
  return record(
      "take_along", out, {x, indices},
      [input_shape = x.shape(), dim, indices, keepdim](const Tensor& g) {
        return std::vector<Tensor>{put_along(g, input_shape, dim, indices, keepdim), Tensor{}};
      });
}

Tensor put_along(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                 const Tensor& indices, bool keepdim) {
  const OpContext op_context("put_along");
  check_floating("put_along", grad, "grad");
  const Lines lines = lines_along("put_along", input_shape, dim, keepdim);
  check_line_indices("put_along", indices, lines, input_shape);
  if (grad.shape() != lines.out_shape) {
    fail("put_along: grad {} does not match indices {} (input {})", to_string(grad.shape()),
         to_string(indices.shape()), to_string(input_shape));
  }
  Tensor out = dispatch_floating(grad.dtype(), "put_along", [&]<class T>() {
    auto result = new_array<T>(input_shape);
    std::fill(result.data(), result.data() + result.size(), T(0));
    const T* g = grad.value<T>().data();
    const std::int64_t* index = indices.value<std::int64_t>().data();
    for (std::size_t o = 0; o < lines.outer; ++o) {
      for (std::size_t i = 0; i < lines.inner; ++i) {
        const std::size_t at = o * lines.inner + i;
        result.data()[line_start(lines, o, i) + at_index(index[at], lines)] = g[at];
      }
    }
    return tensor(std::move(result));
  });
  return record("put_along", out, {grad, indices}, [dim, indices, keepdim](const Tensor& gg) {
    return std::vector<Tensor>{take_along(gg, dim, indices, keepdim), Tensor{}};
  });
}

}  // namespace detail
}  // namespace tg
