#pragma once
// Literal arrays for the tests. xt::xarray<double>{{1.0}, {2.0}} is ambiguous (xtensor also
// reads it as a shape), so columns are built here.

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tg::test {

// A [n, 1] column.
inline xt::xarray<double> column(std::initializer_list<double> values) {
  xt::xarray<double> result = xt::xarray<double>::from_shape({values.size(), 1});
  std::size_t i = 0;
  for (double v : values) result(i++, 0) = v;
  return result;
}

// The largest |actual - expected| over the elements (expected in row-major order).
template <class T>
double max_abs_error(const xt::xarray<T>& actual, const std::vector<double>& expected) {
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(actual.data()[i]) - expected[i]));
  }
  return worst;
}

}  // namespace tg::test
