#include "copy.hpp"

#include <algorithm>
#include <cstdint>

#include "parallel.hpp"

namespace tg::kernels {

template <class T>
void copy(const T* from, std::size_t n, T* to) {
  // 256 KB per task. On one core, copying a tensor that the last op wrote from both cores (the
  // flattened gradient of mnist_cnn's first linear layer, 2.4 MB) took 3.6x as long at two
  // threads as at one: half of it came from the other core's cache.
  constexpr std::size_t grain = (std::size_t{256} << 10) / sizeof(T);
  parallel_for(n, grain, [&](std::size_t begin, std::size_t end) {
    std::copy(from + begin, from + end, to + begin);
  });
}

namespace {

// Output rows (all dims but the last) [row_begin, row_end) of a broadcast copy.
template <class T>
void broadcast_rows(const T* from, const std::size_t* from_shape, const std::size_t* to,
                    std::size_t rank, std::size_t row_begin, std::size_t row_end, T* out) {
  const std::size_t last = to[rank - 1];
  const bool repeat_last = from_shape[rank - 1] != last;
  for (std::size_t row = row_begin; row < row_end; ++row) {
    // The input row: each output index, reduced to 0 where the input's dim is 1.
    std::size_t rest = row;
    std::size_t source = 0;
    std::size_t source_stride = from_shape[rank - 1];
    for (std::size_t d = rank - 1; d-- > 0;) {
      const std::size_t index = rest % to[d];
      rest /= to[d];
      if (from_shape[d] != 1) source += index * source_stride;
      source_stride *= from_shape[d];
    }
    T* destination = out + row * last;
    if (repeat_last) {
      std::fill_n(destination, last, from[source]);
    } else {
      std::copy_n(from + source, last, destination);
    }
  }
}

}  // namespace

template <class T>
void broadcast_copy(const T* from, const std::size_t* from_shape, const std::size_t* to,
                    std::size_t rank, T* out) {
  if (rank == 0) {
    out[0] = from[0];
    return;
  }
  std::size_t rows = 1;
  for (std::size_t d = 0; d + 1 < rank; ++d) rows *= to[d];
  const std::size_t row_length = std::max<std::size_t>(to[rank - 1], 1);
  const std::size_t grain =
      std::max<std::size_t>(1, (std::size_t{256} << 10) / sizeof(T) / row_length);
  parallel_for(rows, grain, [&](std::size_t begin, std::size_t end) {
    broadcast_rows(from, from_shape, to, rank, begin, end, out);
  });
}

template void broadcast_copy<float>(const float*, const std::size_t*, const std::size_t*,
                                    std::size_t, float*);
template void broadcast_copy<double>(const double*, const std::size_t*, const std::size_t*,
                                     std::size_t, double*);
template void copy<float>(const float*, std::size_t, float*);
template void copy<double>(const double*, std::size_t, double*);
template void copy<std::int64_t>(const std::int64_t*, std::size_t, std::int64_t*);

}  // namespace tg::kernels
