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
  if (t.dim() != rank) {
    fail("{}: {} must be {}-D {}, got {}", op, what, rank, layout, to_string(t.shape()));
  }
}

void check_same_dtype(std::string_view op, const Tensor& a, std::string_view what_a,
                      const Tensor& b, std::string_view what_b) {
  if (a.dtype() != b.dtype()) {
    fail("{}: {} is {} {} but {} is {} {}; convert one with .to()", op, what_a, name(a.dtype()),
         to_string(a.shape()), what_b, name(b.dtype()), to_string(b.shape()));
  }
}

std::size_t normalize_dim(std::string_view op, std::int64_t dim, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  if (rank == 0) fail("{}: a 0-D tensor has no dim {}", op, dim);
  if (dim < -r || dim >= r) {
    fail("{}: dim {} is out of range for a {}-D tensor (expected {} to {})", op, dim, rank, -r,
         r - 1);
  }
  return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

}  // namespace tg::detail
