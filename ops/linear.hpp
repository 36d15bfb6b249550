#pragma once
// Matrix products.
//   matmul(a, b): 2-D [m,k] x [k,n]; a 1-D operand is a row (left) or column (right) vector;
//                 3-D and more are batches of matrices with broadcast batch dims (as
//                 torch.matmul). da = g b^T,  db = a^T g   (summed over broadcast batch dims)
//   linear(x, w, b): y = x w^T + b, x [*, in], w [out, in], b [out] or undefined.
//                 dx = g w,  dw = g^T x (over all leading dims),  db = sum of g over leading dims

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor matmul(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor{});

}  // namespace tg
