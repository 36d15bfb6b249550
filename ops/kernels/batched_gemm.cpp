#include "batched_gemm.hpp"

#include <algorithm>

#include "parallel.hpp"

namespace tg::kernels {
template <class T>
void batched_gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                  const T* a, std::span<const std::size_t> a_offsets, std::size_t lda, const T* b,
                  std::span<const std::size_t> b_offsets, std::size_t ldb, T* c) {
  const std::size_t batch = a_offsets.size();
  const std::size_t flops = std::max<std::size_t>(1, m * n * k);
  auto product = [&](std::size_t i) {
    gemm(trans_a, trans_b, m, n, k, T(1), a + a_offsets[i], lda, b + b_offsets[i], ldb, T(0),
         c + i * m * n, n);
  };
  if (batch == 1 || flops >= flops_per_task) {
    for (std::size_t i = 0; i < batch; ++i) {
      gemm_parallel(trans_a, trans_b, m, n, k, T(1), a + a_offsets[i], lda, b + b_offsets[i], ldb,
                    T(0), c + i * m * n, n);
    }
    return;
  }
  parallel_for(batch, std::max<std::size_t>(1, flops_per_task / flops),
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t i = begin; i < end; ++i) product(i);
               });
}

template void batched_gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, const float*,
                                  std::span<const std::size_t>, std::size_t, const float*,
                                  std::span<const std::size_t>, std::size_t, float*);
template void batched_gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t,
                                   const double*, std::span<const std::size_t>, std::size_t,
                                   const double*, std::span<const std::size_t>, std::size_t,
                                   double*);

}  // namespace tg::kernels
