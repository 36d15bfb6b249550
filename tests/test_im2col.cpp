// im2col / col2im on raw arrays: a hand case and the adjoint property conv's backward relies on.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <tapegrad.hpp>

#include "../ops/kernels/im2col.hpp"

namespace {

using tg::kernels::ConvGeometry;

std::size_t out_size(std::size_t in, std::size_t k, std::size_t s, std::size_t p, std::size_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

}  // namespace

TEST_CASE("im2col lays out a padded, strided 3x3 image by hand", "[conv][im2col]") {
  // 1 channel 3x3, 2x2 kernel, stride 2, padding 1: a 2x2 output whose windows start at
  // (-1,-1), (-1,1), (1,-1), (1,1).
  const std::vector<double> image = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ConvGeometry g{.channels = 1,
                 .height = 3,
                 .width = 3,
                 .kernel_h = 2,
                 .kernel_w = 2,
                 .stride_h = 2,
                 .stride_w = 2,
                 .pad_h = 1,
                 .pad_w = 1,
                 .out_h = 2,
                 .out_w = 2};
  std::vector<double> cols(g.col_rows() * g.col_cols(), -1.0);
  tg::kernels::im2col(g, image.data(), cols.data());
  // Rows: taps (0,0), (0,1), (1,0), (1,1); columns: outputs (0,0), (0,1), (1,0), (1,1).
  const std::vector<double> expected = {0, 0, 0, 5,   // tap (0,0) reads (-1,-1) (-1,1) (1,-1) (1,1)
                                        0, 0, 4, 6,   // tap (0,1): (-1,0) (-1,2) (1,0) (1,2)
                                        0, 2, 0, 8,   // tap (1,0): (0,-1) (0,1) (2,-1) (2,1)
                                        1, 3, 7, 9};  // tap (1,1): (0,0) (0,2) (2,0) (2,2)
  CHECK(cols == expected);

  // col2im of all ones counts how many windows read each position.
  std::vector<double> counts(9, -1.0);
  std::vector<double> ones(cols.size(), 1.0);
  tg::kernels::col2im(g, ones.data(), counts.data());
  CHECK(counts == std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("col2im is the adjoint of im2col", "[conv][im2col]") {
  // <im2col(x), c> == <x, col2im(c)> for every geometry: what makes the input gradient right.
  tg::Generator gen(3);
  for (int trial = 0; trial < 50; ++trial) {
    ConvGeometry g;
    g.channels = 1 + gen.below(3);
    g.kernel_h = 1 + gen.below(3);
    g.kernel_w = 1 + gen.below(3);
    g.stride_h = 1 + gen.below(3);
    g.stride_w = 1 + gen.below(3);
    g.pad_h = gen.below(3);
    g.pad_w = gen.below(3);
    g.dilation_h = 1 + gen.below(2);
    g.dilation_w = 1 + gen.below(2);
    const std::size_t span_h = g.dilation_h * (g.kernel_h - 1) + 1;
    const std::size_t span_w = g.dilation_w * (g.kernel_w - 1) + 1;
    g.height =
        std::max<std::size_t>(1, span_h > 2 * g.pad_h ? span_h - 2 * g.pad_h : 1) + gen.below(4);
    g.width =
        std::max<std::size_t>(1, span_w > 2 * g.pad_w ? span_w - 2 * g.pad_w : 1) + gen.below(4);
    g.out_h = out_size(g.height, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
    g.out_w = out_size(g.width, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
    INFO("trial " << trial);

    std::vector<double> x(g.image_size());
    std::vector<double> c(g.col_rows() * g.col_cols());
    for (double& v : x) v = gen.normal();
    for (double& v : c) v = gen.normal();
    std::vector<double> cols(c.size(), 1e300);  // im2col must overwrite everything
    std::vector<double> back(x.size(), 1e300);  // and col2im too
    tg::kernels::im2col(g, x.data(), cols.data());
    tg::kernels::col2im(g, c.data(), back.data());
    double lhs = 0;
    double rhs = 0;
    for (std::size_t i = 0; i < c.size(); ++i) lhs += cols[i] * c[i];
    for (std::size_t i = 0; i < x.size(); ++i) rhs += x[i] * back[i];
    CHECK(lhs == Approx(rhs).epsilon(1e-12).margin(1e-12));
  }
}
