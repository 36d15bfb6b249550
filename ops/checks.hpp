#pragma once
// Input checks shared by the ops. Each throws tg::Error starting with the op's name, e.g.
// "relu: input is undefined" or "conv2d: weight must be 4-D [C_out,C_in,kH,kW], got [6,5,5]".

#include <cstddef>
#include <string_view>

#include "../autograd/tensor.hpp"

namespace tg::detail {

void check_defined(std::string_view op, const Tensor& t, std::string_view what);
// Defined and f32/f64.
void check_floating(std::string_view op, const Tensor& t, std::string_view what);
// Defined, f32/f64, and of `rank` dimensions; `layout` names them, e.g. "[N,C,H,W]".
void check_floating_rank(std::string_view op, const Tensor& t, std::string_view what,
                         std::size_t rank, std::string_view layout);
// A shape argument (not a tensor) of `rank` dimensions, e.g. conv2d_input_grad's input_shape.
void check_shape_rank(std::string_view op, const Shape& shape, std::string_view what,
                      std::size_t rank, std::string_view layout);
void check_same_dtype(std::string_view op, const Tensor& a, std::string_view what_a,
                      const Tensor& b, std::string_view what_b);
// An optional bias: undefined, or of weight's dtype and of shape [weight.shape()[0]], which
// `layout` names ("[C_out]"). `context` lists the op's other shapes for the message.
void check_bias(std::string_view op, const Tensor& bias, const Tensor& weight,
                std::string_view layout, std::string_view context);
// A dimension index of a tensor of `shape`, in [-rank, rank), returned in [0, rank).
std::size_t normalize_dim(std::string_view op, std::int64_t dim, const Shape& shape);

}  // namespace tg::detail
