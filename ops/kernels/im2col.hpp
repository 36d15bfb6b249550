#pragma once
// im2col / col2im for one image [C,H,W] and a kernel kH x kW with stride, zero padding and
// dilation. The column matrix has C*kH*kW rows (ordered c, m, k as the weight [C_out,C,kH,kW]
// is laid out) and out_h*out_w columns:
//   cols[(c*kH + m)*kW + k, y*out_w + x] = image[c, y*s_h - p_h + m*d_h, x*s_w - p_w + k*d_w]
// (zero where that position falls in the padding). So the convolution of one image is the
// product W[C_out, C*kH*kW] x cols, and col2im is im2col's adjoint (its transpose).

#include <cstddef>

namespace tg::kernels {

struct ConvGeometry {
  std::size_t channels = 0;
  std::size_t height = 0;
  std::size_t width = 0;
  std::size_t kernel_h = 1;
  std::size_t kernel_w = 1;
  std::size_t stride_h = 1;
  std::size_t stride_w = 1;
  std::size_t pad_h = 0;
  std::size_t pad_w = 0;
  std::size_t dilation_h = 1;
  std::size_t dilation_w = 1;
  std::size_t out_h = 0;
  std::size_t out_w = 0;

  std::size_t image_size() const { return channels * height * width; }
  std::size_t col_rows() const { return channels * kernel_h * kernel_w; }
  std::size_t col_cols() const { return out_h * out_w; }
  // One channel of the image with its zero border, as the padded-image kernels lay it out.
  std::size_t padded_row() const { return width + 2 * pad_w; }
  std::size_t padded_plane() const { return (height + 2 * pad_h) * padded_row(); }
  // A 1x1 kernel with stride 1 and no padding: the image already is its column matrix.
  bool cols_are_image() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 &&
           pad_w == 0;
  }
};

// Writes all col_rows() x col_cols() entries of `cols`, its rows `row_stride` >= col_cols() apart
// (the values between rows are left as they were).
template <class T>
void im2col(const ConvGeometry& g, const T* image, T* cols, std::size_t row_stride);
template <class T>
void im2col(const ConvGeometry& g, const T* image, T* cols) {
  im2col(g, image, cols, g.col_cols());
}

// image = the sum, for every input position, of the column entries im2col would have copied
// from it (0 where none does). Overwrites the whole image [C,H,W].
template <class T>
void col2im(const ConvGeometry& g, const T* cols, T* image);

}  // namespace tg::kernels
