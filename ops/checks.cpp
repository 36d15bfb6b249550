#include "checks.hpp"

namespace tg::detail {

void check_defined(std::string_view op, const Tensor& t, std::string_view what) {
  if (!t.defined()) fail("{}: {} is undefined", op, what);
}

void check_floating(std::string_view op, const Tensor& t, std::string_view what) {
  check_defined(op, t, what);
  if (!is_floating(t.dtype())) {
    fail("{}: {} must be f32 or f64, got {} {}", op, what, name(t.dtype()), to_string(t.shape()));
  }
}

void check_floating_rank(std::string_view op, const Tensor& t, std::string_view what,
                         std::size_t rank, std::string_view layout) {
  check_floating(op, t, what);
  check_shape_rank(op, t.shape(), what, rank, layout);
}

void check_shape_rank(std::string_view op, const Shape& shape, std::string_view what,
                      std::size_t rank, std::string_view layout) {
  if (shape.size() != rank) {
    fail("{}: {} must be {}-D {}, got {}", op, what, rank, layout, to_string(shape));
  }
}

void check_same_dtype(std::string_view op, const Tensor& a, std::string_view what_a,
                      const Tensor& b, std::string_view what_b) {
  if (a.dtype() != b.dtype()) {
    fail("{}: {} is {} {} but {} is {} {}; convert one with .to()", op, what_a, name(a.dtype()),
         to_string(a.shape()), what_b, name(b.dtype()), to_string(b.shape()));
  }
}

void check_bias(std::string_view op, const Tensor& bias, const Tensor& weight,
                std::string_view layout, std::string_view context) {
  if (!bias.defined()) return;
  check_floating(op, bias, "bias");
  check_same_dtype(op, bias, "bias", weight, "weight");
  if (bias.shape() != Shape{weight.shape()[0]}) {
    fail("{}: bias must be 1-D {} = [{}], got {} {}", op, layout, weight.shape()[0],
         to_string(bias.shape()), context);
  }
}

std::size_t normalize_dim(std::string_view op, std::int64_t dim, const Shape& shape) {
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (rank == 0) fail("{}: a 0-D tensor [] has no dim {}", op, dim);
  if (dim < -rank || dim >= rank) {
    fail("{}: dim {} is out of range for input {} (expected {} to {})", op, dim, to_string(shape),
         -rank, rank - 1);
  }
  return static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
}

}  // namespace tg::detail
