#include "reduce.hpp"

#include <algorithm>
#include <vector>

namespace tg::kernels {

template <class T>
void sum_dims(const T* in, std::span<const std::size_t> shape, std::span<const bool> reduce,
              T* out) {
  const std::size_t rank = shape.size();
  std::size_t in_size = 1;
  std::size_t out_size = 1;
  // Output stride of each input dim; 0 for a reduced dim (its elements meet in one output).
  std::vector<std::size_t> out_stride(rank);
  for (std::size_t d = rank; d-- > 0;) {
    out_stride[d] = reduce[d] ? 0 : out_size;
    if (!reduce[d]) out_size *= shape[d];
    in_size *= shape[d];
  }
  std::fill(out, out + out_size, T(0));
  if (in_size == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }

  // The innermost dim runs as a tight loop; the others advance like an odometer.
  const std::size_t inner = shape[rank - 1];
  const std::size_t inner_stride = out_stride[rank - 1];
  std::vector<std::size_t> index(rank, 0);
  std::size_t o = 0;
  for (std::size_t row = 0; row < in_size / inner; ++row) {
    const T* src = in + row * inner;
    if (inner_stride == 0) {
      T acc = out[o];
      for (std::size_t j = 0; j < inner; ++j) acc += src[j];
      out[o] = acc;
    } else {
      for (std::size_t j = 0; j < inner; ++j) out[o + j] += src[j];
    }
    for (std::size_t d = rank - 1; d-- > 0;) {
      o += out_stride[d];
      if (++index[d] < shape[d]) break;
      o -= out_stride[d] * shape[d];
      index[d] = 0;
    }
  }
}

template void sum_dims<float>(const float*, std::span<const std::size_t>, std::span<const bool>,
                              float*);
template void sum_dims<double>(const double*, std::span<const std::size_t>, std::span<const bool>,
                               double*);

}  // namespace tg::kernels
