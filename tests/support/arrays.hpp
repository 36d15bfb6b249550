#pragma once
// Literal arrays for the tests. xt::xarray<double>{{1.0}, {2.0}} is ambiguous (xtensor also
// reads it as a shape), so columns are built here.

#include <initializer_list>

#include <xtensor/xarray.hpp>

namespace tg::test {

// A [n, 1] column.
inline xt::xarray<double> column(std::initializer_list<double> values) {
  xt::xarray<double> result = xt::xarray<double>::from_shape({values.size(), 1});
  std::size_t i = 0;
  for (double v : values) result(i++, 0) = v;
  return result;
}

}  // namespace tg::test
