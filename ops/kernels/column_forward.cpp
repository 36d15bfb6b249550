#include "column_forward.hpp"

#include <algorithm>
#include <numeric>

#include "parallel.hpp"
#include "scratch.hpp"

namespace tg::kernels {
namespace {

// The n lowest bits set, n <= 64.
std::uint64_t low_bits(std::size_t n) {
  return n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
}

}  // namespace

template <class T>
bool column_forward_applies(const ConvGeometry& g, std::size_t out_channels) {
  const std::size_t lanes = forward_kernel<T>(out_channels).lanes();
  return g.stride_h == 1 && g.stride_w == 1 && out_channels > 0 && g.col_cols() >= lanes &&
         ImageColumns(g, lanes).copied() * 4 <= out_channels * g.col_cols();
}

template <class T>
ColumnForward<T>::ColumnForward(const ConvGeometry& g, std::size_t out_channels, const T* weight)
    : g_(g), kernel_(forward_kernel<T>(out_channels)), columns_(g, kernel_.lanes()) {
  const std::size_t lanes = kernel_.lanes();
  const std::size_t p = g.col_cols();
  const std::size_t k = g.col_rows();
  const std::size_t rows = kernel_.rows;
  // Planes p values apart start at `period` misalignments, one per class; classes too small to
  // fill a register tile keep the channels in order, their vectors from each plane's first pixel.
  const std::size_t period = lanes / std::gcd(p % lanes, lanes);
  aligned_ = period == 1 || out_channels >= period * rows;
  period_ = aligned_ ? period : 1;

  std::vector<T> gathered(rows * k);
  for (std::size_t c = 0; c < period_; ++c) {
    for (std::size_t first = c; first < out_channels; first += rows * period_) {
      const std::size_t count = std::min(rows, (out_channels - first + period_ - 1) / period_);
      tiles_.push_back({.first = first, .rows = count});
      for (std::size_t r = 0; r < count; ++r) {
        std::copy_n(weight + (first + r * period_) * k, k, gathered.data() + r * k);
      }
      const std::vector<T> tile = pack_forward_weight(gathered.data(), count, k, rows);
      packed_.insert(packed_.end(), tile.begin(), tile.end());
    }
  }

  // The blocks of a plane for each head h, the pixels before its first vector boundary: its first
  // vector ends there (starting lanes - h pixels before the plane, or at its first pixel if h is
  // 0), the others follow; lanes outside the plane are not stored.
  const std::size_t pixels = kernel_.pixels;
  const auto plane = static_cast<std::ptrdiff_t>(p);
  const auto step = static_cast<std::ptrdiff_t>(pixels);
  for (std::size_t h = 0; h < (aligned_ ? lanes : 1); ++h) {
    std::vector<Block>& blocks = heads_.emplace_back();
    const std::ptrdiff_t first =
        h == 0 ? 0 : static_cast<std::ptrdiff_t>(h) - static_cast<std::ptrdiff_t>(lanes);
    for (std::ptrdiff_t start = first; start < plane; start += step) {
      const auto remaining = static_cast<std::size_t>(plane - start);
      Block block{.start = start,
                  .vectors = std::min(kernel_.vectors, (remaining + lanes - 1) / lanes),
                  .store = {.to = static_cast<std::size_t>(std::max<std::ptrdiff_t>(start, 0))}};
      // Lanes [before, until) are the plane's pixels.
      const auto before = static_cast<std::size_t>(std::max<std::ptrdiff_t>(-start, 0));
      const std::size_t until = std::min(block.vectors * lanes, remaining);
      block.store.valid = low_bits(until) & ~low_bits(before);
      blocks.push_back(block);
    }
    most_blocks_ = std::max(most_blocks_, blocks.size());
  }
}

template <class T>
void ColumnForward<T>::run(const T* image, const T* bias, T* out, bool parallel,
                           Activation activation) const {
  const std::size_t p = g_.col_cols();
  const std::size_t k = g_.col_rows();
  const std::size_t rows = kernel_.rows;
  const std::size_t lanes = kernel_.lanes();
  // The copy, with a vector before it and a block after it that a plane's first and last
  // blocks read into (lanes that are not stored): zeros, like the gaps between its runs.
  Scratch<T, 0> buffer(lanes + columns_.size() + kernel_.pixels);
  T* cols = buffer.data() + lanes;
  std::fill_n(buffer.data(), lanes, T(0));
  std::fill_n(cols + columns_.size(), kernel_.pixels, T(0));
  columns_.zero_gaps(cols);
  columns_.copy(image, cols);
  // Each tile's biases, in its channels' order.
  Scratch<T, 1> biases(bias != nullptr ? tiles_.size() * rows : 0);
  if (bias != nullptr) {
    for (std::size_t i = 0; i < tiles_.size(); ++i) {
      for (std::size_t r = 0; r < tiles_[i].rows; ++r) {
        biases.data()[i * rows + r] = bias[tiles_[i].first + r * period_];
      }
    }
  }

  // The blocks of a tile's planes, by their head: the pixels before the first vector boundary
  // of its first plane, which its other planes share (they are a multiple of period_ planes
  // further on). Lanes are a power of two.
  auto blocks_of = [&](std::size_t t) -> const std::vector<Block>& {
    if (!aligned_) return heads_[0];
    const auto at = reinterpret_cast<std::uintptr_t>(out + tiles_[t].first * p) / sizeof(T);
    return heads_[(lanes - (at & (lanes - 1))) & (lanes - 1)];
  };
  const std::size_t most_blocks = most_blocks_;
  // Item i is block i % most_blocks of tile i / most_blocks (if its planes have that many).
  auto run_blocks = [&](std::size_t begin, std::size_t end) {
    std::size_t t = begin / most_blocks;
    std::size_t b = begin % most_blocks;
    for (std::size_t i = begin; i < end; ++t, b = 0) {
      const ChannelTile& tile = tiles_[t];
      const std::vector<Block>& blocks = blocks_of(t);
      for (; b < most_blocks && i < end; ++b, ++i) {
        if (b >= blocks.size()) continue;
        const Block& block = blocks[b];
        kernel_.tile(tile.rows, block.vectors, activation)(
            k, columns_.taps().data(), packed_.data() + t * rows * k, cols + block.start,
            block.store, bias != nullptr ? biases.data() + t * rows : nullptr, out + tile.first * p,
            period_ * p);
      }
    }
  };
  const std::size_t flops = std::max<std::size_t>(1, 2 * rows * k * kernel_.pixels);
  parallel_for_if(parallel, tiles_.size() * most_blocks,
                  std::max<std::size_t>(1, flops_per_task / flops), run_blocks);
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE_COLUMN_FORWARD(T)                                     \
  template bool column_forward_applies<T>(const ConvGeometry&, std::size_t); \
  template class ColumnForward<T>;
TG_INSTANTIATE_COLUMN_FORWARD(float)
TG_INSTANTIATE_COLUMN_FORWARD(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE_COLUMN_FORWARD

}  // namespace tg::kernels
