// Text forms of shapes and tensors.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dispatch.hpp"
#include "node.hpp"
#include "tensor.hpp"

namespace tg {

std::string to_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

std::string index_to_string(const Shape& shape, std::size_t flat) {
  std::vector<std::size_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(index, ","));
}

namespace {

// PyTorch's print options: beyond this many elements each dim shows its first and last
// `edge_items` only; rows wrap at `line_width` characters.
constexpr std::size_t summary_threshold = 1000;
constexpr std::size_t edge_items = 3;
constexpr std::size_t line_width = 80;

// One format for every value of a tensor, chosen as PyTorch's _Formatter chooses: whole numbers
// as "3.", else 4 decimals, or scientific notation when the magnitudes span more than 1000x or
// leave [1e-4, 1e8).
enum class Style : std::uint8_t { integer, whole, fixed, scientific };

template <class T>
Style choose_style(const T* values, std::size_t n) {
  if constexpr (std::is_integral_v<T>) {
    return Style::integer;
  } else {
    bool whole = true;
    double largest = 0.0;
    double smallest = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
      const double v = std::abs(static_cast<double>(values[i]));
      if (!std::isfinite(v) || v == 0.0) continue;
      whole = whole && v == std::trunc(v);
      largest = std::max(largest, v);
      smallest = std::min(smallest, v);
    }
    if (largest == 0.0) return Style::whole;  // zeros, infinities and NaNs only
    if (whole) return largest > 1e8 ? Style::scientific : Style::whole;
    if (largest / smallest > 1000.0 || largest > 1e8 || smallest < 1e-4) return Style::scientific;
    return Style::fixed;
  }
}

template <class T>
std::string format_value(T value, Style style) {
  if constexpr (std::is_integral_v<T>) {
    return fmt::format("{}", value);
  } else {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    switch (style) {
      case Style::whole:
        return fmt::format("{:.0f}.", value);
      case Style::scientific:
        return fmt::format("{:.4e}", value);
      default:
        return fmt::format("{:.4f}", value);
    }
  }
}

// Which indices of a dim of `size` are shown: all, or the first and last edge_items with a gap.
std::vector<std::size_t> shown(std::size_t size, bool summarize) {
  std::vector<std::size_t> indices;
  if (!summarize || size <= 2 * edge_items) {
    for (std::size_t i = 0; i < size; ++i) indices.push_back(i);
    return indices;
  }
  for (std::size_t i = 0; i < edge_items; ++i) indices.push_back(i);
  indices.push_back(size);  // stands for "..."
  for (std::size_t i = size - edge_items; i < size; ++i) indices.push_back(i);
  return indices;
}

template <class T>
class Printer {
 public:
  Printer(const T* data, const Shape& shape, std::size_t indent)
      : data_(data), shape_(shape), indent_(indent), summarize_(count() > summary_threshold) {
    strides_.assign(shape.size(), 1);
    for (std::size_t d = shape.size(); d-- > 1;) strides_[d - 1] = strides_[d] * shape[d];
    style_ = choose_style(data, count());
    // The width of the finite values (as PyTorch's): a NaN or an infinity is padded to it but
    // does not widen it.
    for (std::size_t i = 0; i < count(); ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        if (!std::isfinite(data[i])) continue;
      }
      width_ = std::max(width_, format_value(data[i], style_).size());
    }
  }

  std::string print() const {
    if (shape_.empty()) return format_value(data_[0], style_);
    std::string out;
    print_dim(out, 0, 0);
    return out;
  }

 private:
  std::size_t count() const {
    std::size_t n = 1;
    for (const std::size_t d : shape_) n *= d;
    return n;
  }

  std::string padded(T value) const {
    const std::string text = format_value(value, style_);
    return std::string(width_ - std::min(width_, text.size()), ' ') + text;
  }

  void print_dim(std::string& out, std::size_t dim, std::size_t offset) const {
    const std::string indent(indent_ + dim + 1, ' ');
    out += '[';
    const std::vector<std::size_t> indices = shown(shape_[dim], summarize_);
    if (dim + 1 == shape_.size()) {
      // Items of width_ and ", " between them, wrapped before the line would pass line_width.
      const std::size_t per_line = std::max<std::size_t>(
          1, (line_width - std::min(line_width, indent.size())) / (width_ + 2));
      for (std::size_t k = 0; k < indices.size(); ++k) {
        if (k > 0) out += (k % per_line == 0) ? ",\n" + indent : ", ";
        // PyTorch's row ellipsis is " ...", so ", " before it leaves two spaces.
        out += indices[k] == shape_[dim] ? " ..." : padded(data_[offset + indices[k]]);
      }
    } else {
      const std::string between = ",\n" + std::string(shape_.size() - dim - 2, '\n') + indent;
      for (std::size_t k = 0; k < indices.size(); ++k) {
        if (k > 0) out += between;
        if (indices[k] == shape_[dim]) {
          out += "...";
        } else {
          print_dim(out, dim + 1, offset + indices[k] * strides_[dim]);
        }
      }
    }
    out += ']';
  }

  const T* data_;
  const Shape& shape_;
  std::size_t indent_;
  bool summarize_;
  std::vector<std::size_t> strides_;
  Style style_ = Style::fixed;
  std::size_t width_ = 0;
};

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::string open = "tensor(";
  std::string text = open;
  if (t.numel() == 0) {
    text += "[]";
    if (t.dim() != 1) text += fmt::format(", size=({})", fmt::join(t.shape(), ", "));
  } else {
    text += dispatch_any(t.dtype(), [&]<class T>() {
      return Printer<T>(t.value<T>().data(), t.shape(), open.size()).print();
    });
  }
  // The default dtypes (f32, and i64 for whole numbers) go unsaid, as PyTorch's.
  if (t.dtype() == DType::f64) text += ", dtype=f64";
  if (t.grad_fn()) {
    text += fmt::format(", grad_fn=<{}>", t.grad_fn()->name());
  } else if (t.requires_grad()) {
    text += ", requires_grad=True";
  }
  return text + ")";
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << to_string(t); }

}  // namespace tg
