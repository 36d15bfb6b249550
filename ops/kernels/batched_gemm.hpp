#pragma once
// A batch of independent matrix products C_i = op(A_i) op(B_i), C dense [batch, m, n].
// A_i starts at a + a_offsets[i] and B_i at b + b_offsets[i] (broadcast batches repeat an
// offset). Small products are spread across threads one matrix per task; large ones run one
// after the other, each split by rows (gemm_parallel). Either way each element of C is
// computed by one thread in a fixed order.

#include <cstddef>
#include <span>

#include "gemm.hpp"

namespace tg::kernels {

template <class T>
void batched_gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                  const T* a, std::span<const std::size_t> a_offsets, std::size_t lda, const T* b,
                  std::span<const std::size_t> b_offsets, std::size_t ldb, T* c);

}  // namespace tg::kernels
