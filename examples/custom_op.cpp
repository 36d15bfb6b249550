// Two ways to add an op to tapegrad, each checked against finite differences.
#include <tapegrad.hpp>

// A closure, as Flashlight: the forward computation beside its gradient.
tg::Tensor cube(const tg::Tensor& x) {
  tg::Tensor y = x * x * x;  // any computation: record() keeps the values, not this tape
  return tg::record("cube", y, {x}, [x](const tg::Tensor& g) {
    return std::vector<tg::Tensor>{g * x * x * 3.0};  // one gradient per input
  });
}

// A class, as libtorch's torch::autograd::Function (forward runs with grad mode off).
struct Swish : tg::Function<Swish> {
  static tg::Tensor forward(tg::Context& ctx, const tg::Tensor& x) {
    ctx.save_for_backward({x});
    return x * tg::sigmoid(x);
  }
  static std::vector<tg::Tensor> backward(tg::Context& ctx, const std::vector<tg::Tensor>& g) {
    tg::Tensor x = ctx.saved()[0], s = tg::sigmoid(x);
    return {g[0] * (s + x * s * (1.0 - s))};
  }
};

int main() {
  tg::Tensor x = tg::randn({3, 4}, {.dtype = tg::f64, .requires_grad = true});
  auto cube_check = tg::gradcheck([](auto& in) { return cube(in[0]); }, {x});
  auto swish_check = tg::gradcheck([](auto& in) { return Swish::apply(in[0]); }, {x},
                                   {.check_grad_grad = true});  // second derivatives too
  fmt::print("cube: {}\nswish: {}\n", cube_check.ok ? "ok" : cube_check.message,
             swish_check.ok ? "ok" : swish_check.message);
  return cube_check && swish_check ? 0 : 1;
}
