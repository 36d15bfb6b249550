// A define-by-run CNN in plain tapegrad: the forward pass is ordinary C++, and backward()
// follows the tape it recorded. It learns which half of an 8x8 image is brighter.
#include <tapegrad.hpp>

// 8x8 noise with one half brightened; label 1 when the left half is the bright one.
std::pair<tg::Tensor, tg::Tensor> toy_batch(std::size_t n) {
  tg::Tensor x = tg::rand({n, 1, 8, 8}), labels = tg::zeros({n}, {.dtype = tg::i64});
  for (std::size_t i = 0; i < n; ++i) {
    labels.value<std::int64_t>()(i) = static_cast<std::int64_t>(i % 2);
    for (std::size_t r = 0; r < 8; ++r)
      for (std::size_t c = 0; c < 4; ++c) x.value<float>()(i, 0, r, c + (i % 2 ? 0 : 4)) += 1.0f;
  }
  return {x, labels};
}

tg::Tensor parameter(const tg::Shape& shape, double scale) {
  return (tg::randn(shape) * scale).set_requires_grad(true);  // a leaf the tape tracks
}

int main() {
  tg::manual_seed(0);
  tg::Tensor w1 = parameter({4, 1, 3, 3}, 0.5), b1 = parameter({4}, 0.0);
  tg::Tensor w2 = parameter({2, 64}, 0.1), b2 = parameter({2}, 0.0);
  auto [x, labels] = toy_batch(32);
  double first_loss = 0.0, loss_value = 0.0;
  for (int step = 0; step < 30; ++step) {
    tg::Tensor h = tg::relu(tg::conv2d(x, w1, b1, {.padding = 1}));  // [32,4,8,8]
    h = tg::max_pool2d(h, {.kernel = 2});                            // [32,4,4,4]
    tg::Tensor logits = tg::linear(tg::flatten(h, 1), w2, b2);       // [32,2]
    tg::Tensor loss = tg::cross_entropy(logits, labels);
    loss.backward();          // gradients of every leaf that led to the loss
    tg::NoGradGuard no_grad;  // the SGD step itself is not recorded
    for (tg::Tensor* p : {&w1, &b1, &w2, &b2}) {
      p->value<float>() -= 0.5f * p->grad().value<float>();
      p->zero_grad();
    }
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
  }
  fmt::print("loss {:.4f} -> {:.4f}\n", first_loss, loss_value);
  return loss_value < 0.5 * first_loss ? 0 : 1;  // fails (as a test) if it did not learn
}
