// Uses the public API through the umbrella header only; exits 0 when a gradient is right.
#include <tapegrad.hpp>

int main() {
  tg::Tensor x = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0}, true);
  tg::Tensor y = tg::sum(x * x);
  y.backward();
  const auto& g = x.grad().value<double>();
  fmt::print("d/dx sum(x^2) at [1,2,3] = [{}, {}, {}]\n", g(0), g(1), g(2));
  return g(0) == 2.0 && g(1) == 4.0 && g(2) == 6.0 ? 0 : 1;
}
