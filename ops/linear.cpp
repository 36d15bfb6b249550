#include "linear.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "broadcast.hpp"
#include "checks.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/gemm.hpp"
#include "reduction.hpp"
#include "shape.hpp"

namespace tg {
namespace {

using kernels::Trans;

Shape batch_of(const Shape& shape) { return Shape(shape.begin(), shape.end() - 2); }

// Where each matrix of `operand` (batch dims `own`, matrices of `matrix_size` elements) starts,
// for every index of the broadcast batch shape `batch`, in row-major order.
std::vector<std::size_t> batch_offsets(const Shape& batch, const Shape& own,
                                       std::size_t matrix_size) {
  const std::size_t rank = batch.size();
  const std::size_t missing = rank - own.size();
  std::vector<std::size_t> stride(rank, 0);
  std::size_t step = matrix_size;
  for (std::size_t d = rank; d-- > missing;) {
    const std::size_t size = own[d - missing];
    stride[d] = size == 1 ? 0 : step;  // a broadcast dim repeats the same matrix
    step *= size;
  }
  std::size_t count = 1;
  for (std::size_t size : batch) count *= size;
  std::vector<std::size_t> offsets(count);
  std::vector<std::size_t> index(rank, 0);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    offsets[i] = offset;
    for (std::size_t d = rank; d-- > 0;) {
      offset += stride[d];
      if (++index[d] < batch[d]) break;
      offset -= stride[d] * batch[d];
      index[d] = 0;
    }
  }
  return offsets;
}

// op(a) op(b) for operands of at least 2 dims, batch dims broadcast. Its gradients are
// products of the same kind (no transposed copies are made), summed back over the batch dims
// each operand was broadcast along. Shapes are checked by the callers.
// matmul, linear and their gradients, to any order, only ever need (no, no), (no, yes) and
// (yes, no).
Tensor product(const Tensor& a, const Tensor& b, Trans ta, Trans tb) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::size_t ra = sa[sa.size() - 2];
  const std::size_t ca = sa[sa.size() - 1];
  const std::size_t rb = sb[sb.size() - 2];
  const std::size_t cb = sb[sb.size() - 1];
  const std::size_t m = ta == Trans::yes ? ca : ra;
  const std::size_t k = ta == Trans::yes ? ra : ca;
  const std::size_t n = tb == Trans::yes ? rb : cb;

  Shape out_shape = broadcast_shapes(batch_of(sa), batch_of(sb), "matmul");
  const std::vector<std::size_t> a_offsets = batch_offsets(out_shape, batch_of(sa), ra * ca);
  const std::vector<std::size_t> b_offsets = batch_offsets(out_shape, batch_of(sb), rb * cb);
  out_shape.push_back(m);
  out_shape.push_back(n);

  Tensor out = dispatch_floating(a.dtype(), "matmul", [&]<class T>() {
    auto c = detail::new_array<T>(out_shape);
    kernels::batched_gemm<T>(ta, tb, m, n, k, a.value<T>().data(), a_offsets, ca,
                             b.value<T>().data(), b_offsets, cb, c.data());
    return tensor(std::move(c));
  });

  const bool need_a = needs_input_grad(a);
  const bool need_b = needs_input_grad(b);
  return record("matmul", out, {a, b},
                [a_kept = keep_if(need_b, a), b_kept = keep_if(need_a, b), need_a, need_b,
                 sa = a.shape(), sb = b.shape(), ta, tb](const Tensor& g) {
                  Tensor da;
                  Tensor db;
                  // C = op(A) op(B): dop(A) = G op(B)^T and dop(B) = op(A)^T G, rearranged so
                  // that the stored A and B appear, each possibly transposed.
                  if (ta == Trans::no && tb == Trans::no) {
                    if (need_a) da = product(g, b_kept, Trans::no, Trans::yes);
                    if (need_b) db = product(a_kept, g, Trans::yes, Trans::no);
                  } else if (ta == Trans::no) {
                    if (need_a) da = product(g, b_kept, Trans::no, Trans::no);
                    if (need_b) db = product(g, a_kept, Trans::yes, Trans::no);
                  } else {  // ta == yes, tb == no: no caller transposes both
                    if (need_a) da = product(b_kept, g, Trans::no, Trans::yes);
                    if (need_b) db = product(a_kept, g, Trans::no, Trans::no);
                  }
                  return std::vector<Tensor>{need_a ? sum_to(da, sa) : Tensor{},
                                             need_b ? sum_to(db, sb) : Tensor{}};
                });
}

void check_batches(const Shape& sa, const Shape& sb) {
  const Shape ba = batch_of(sa);
  const Shape bb = batch_of(sb);
  const std::size_t rank = std::max(ba.size(), bb.size());
  for (std::size_t i = 1; i <= rank; ++i) {
    const std::size_t da = i <= ba.size() ? ba[ba.size() - i] : 1;
    const std::size_t db = i <= bb.size() ? bb[bb.size() - i] : 1;
    if (da != db && da != 1 && db != 1) {
      fail("matmul: batch dims {} of {} and {} of {} do not broadcast", to_string(ba),
           to_string(sa), to_string(bb), to_string(sb));
    }
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const detail::OpContext op_context("matmul");
  detail::check_floating("matmul", a, "first operand");
  detail::check_floating("matmul", b, "second operand");
  detail::check_same_dtype("matmul", a, "first operand", b, "second operand");
  if (a.dim() == 0 || b.dim() == 0) {
    fail("matmul: both operands must have at least 1 dim, got {} and {}", to_string(a.shape()),
         to_string(b.shape()));
  }
  const std::size_t k_a = a.shape().back();
  const std::size_t k_b = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  if (k_a != k_b) {
    fail("matmul: shapes {} and {} cannot be multiplied ({} columns vs {} rows)",
         to_string(a.shape()), to_string(b.shape()), k_a, k_b);
  }
  // A 1-D operand is a row (left) or column (right) matrix whose extra dim is dropped again
  // from the result, as torch.matmul.
  const Tensor a2 = a.dim() == 1 ? reshape(a, {1, static_cast<std::int64_t>(k_a)}) : a;
  const Tensor b2 = b.dim() == 1 ? reshape(b, {static_cast<std::int64_t>(k_b), 1}) : b;
  check_batches(a2.shape(), b2.shape());
  Tensor out = product(a2, b2, Trans::no, Trans::no);
  if (a.dim() > 1 && b.dim() > 1) return out;
  std::vector<std::int64_t> squeezed = detail::as_dims(out.shape());
  if (b.dim() == 1) squeezed.pop_back();
  if (a.dim() == 1) squeezed.erase(squeezed.end() - (b.dim() == 1 ? 1 : 2));
  return reshape(out, squeezed);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_floating("linear", x, "input");
  detail::check_floating_rank("linear", weight, "weight", 2, "[out,in]");
  detail::check_same_dtype("linear", x, "input", weight, "weight");
  if (x.dim() == 0) {
    fail("linear: input must have at least 1 dim [*,in], got {} (weight {})", to_string(x.shape()),
         to_string(weight.shape()));
  }
  const std::size_t out_features = weight.shape()[0];
  const std::size_t in_features = weight.shape()[1];
  if (x.shape().back() != in_features) {
    fail("linear: input {} has {} features but weight {} expects {}", to_string(x.shape()),
         x.shape().back(), to_string(weight.shape()), in_features);
  }
  detail::check_bias(
      "linear", bias, weight, "[out]",
      fmt::format("(input {}, weight {})", to_string(x.shape()), to_string(weight.shape())));
  std::size_t rows = 1;
  for (std::size_t d = 0; d + 1 < x.dim(); ++d) rows *= x.shape()[d];
  Shape out_shape = x.shape();
  out_shape.back() = out_features;

  Tensor out = dispatch_floating(x.dtype(), "linear", [&]<class T>() {
    auto y = detail::new_array<T>(out_shape);
    // The bias is written first and the product added onto it (beta = 1): one pass over y.
    if (bias.defined()) {
      const T* b = bias.value<T>().data();
      for (std::size_t r = 0; r < rows; ++r)
        std::copy_n(b, out_features, y.data() + r * out_features);
    }
    kernels::gemm_parallel<T>(Trans::no, Trans::yes, rows, out_features, in_features, T(1),
                              x.value<T>().data(), in_features, weight.value<T>().data(),
                              in_features, bias.defined() ? T(1) : T(0), y.data(), out_features);
    return tensor(std::move(y));
  });

  const bool need_x = needs_input_grad(x);
  const bool need_w = needs_input_grad(weight);
  const bool need_b = needs_input_grad(bias);
  return record(
      "linear", out, {x, weight, bias},
      [x_kept = keep_if(need_w, x), w_kept = keep_if(need_x, weight), need_x, need_w, need_b,
       x_dims = detail::as_dims(x.shape()), rows = static_cast<std::int64_t>(rows),
       out_features = static_cast<std::int64_t>(out_features),
       in_features = static_cast<std::int64_t>(in_features)](const Tensor& g) {
        const Tensor g2 = reshape(g, {rows, out_features});
        return std::vector<Tensor>{
            need_x ? reshape(product(g2, w_kept, Trans::no, Trans::no), x_dims) : Tensor{},
            need_w ? product(g2, reshape(x_kept, {rows, in_features}), Trans::yes, Trans::no)
                   : Tensor{},
            need_b ? sum(g2, {0}) : Tensor{}};
      });
}

}  // namespace tg
