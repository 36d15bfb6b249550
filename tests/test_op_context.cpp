// Errors name the op the user called, however deep inside it they are found.
#include <catch2/catch.hpp>

#include <climits>
#include <vector>

#include <tapegrad.hpp>

#include "../autograd/op_context.hpp"

using Catch::Matchers::StartsWith;
using tg::Tensor;

TEST_CASE("an error raised inside an op is prefixed by the outermost op", "[op_context]") {
  CHECK_THROWS_WITH(tg::fail("mean: no elements"), "mean: no elements");  // outside every op
  {
    const tg::detail::OpContext outer("mse_loss");
    CHECK(tg::detail::current_op() == "mse_loss");
    const tg::detail::OpContext inner("mean");
    CHECK(tg::detail::current_op() == "mse_loss");
    CHECK_THROWS_WITH(tg::fail("mean: no elements"), "mse_loss: mean: no elements");
    // A message that already names the op is left as it is; a longer name that begins with it
    // is not the op.
    CHECK_THROWS_WITH(tg::fail("mse_loss: bad target"), "mse_loss: bad target");
    CHECK_THROWS_WITH(tg::fail("mse_loss_x: y"), "mse_loss: mse_loss_x: y");
  }
  CHECK(tg::detail::current_op().empty());
  const tg::detail::OpContext backward("conv2d", " backward");
  CHECK(tg::detail::current_op() == "conv2d backward");
}

// The reproducers: mse_loss of an empty input said "mean: ...", an oversized reshape of
// an empty tensor "new_array: ..." (and overflowed a signed stride before that).
TEST_CASE("errors from composite ops name the op that was called", "[op_context]") {
  CHECK_THROWS_WITH(tg::mse_loss(tg::zeros({0}), tg::zeros({0})), StartsWith("mse_loss: mean: "));
  CHECK_THROWS_WITH(tg::reshape(tg::zeros({6, 4, 0}), {-1, 2, INT64_MAX}),
                    "reshape: shape [0,2,9223372036854775807] has more than 2^48 elements");
  CHECK(tg::detail::current_op().empty());  // every context closed as the error left the op
}

TEST_CASE("clone, to and argmax name themselves when the memory guard refuses them",
          "[op_context]") {
  const Tensor x = tg::ones({256, 256});
  const Tensor column = tg::ones({65536, 1});
  struct Limit {  // 64 KiB, restored at the end
    std::size_t saved = tg::memory_limit();
    Limit() { tg::set_memory_limit(std::size_t{1} << 16); }
    ~Limit() { tg::set_memory_limit(saved); }
  } limit;
  CHECK_THROWS_WITH(x.clone(), StartsWith("clone: an output of shape [256,256]"));
  CHECK_THROWS_WITH(x.to(tg::DType::f64), StartsWith("to: an output of shape [256,256]"));
  CHECK_THROWS_WITH(tg::argmax(column, 1), StartsWith("argmax: an output of shape [65536]"));
}

namespace {

// A custom op whose backward calls reshape wrongly.
struct BadBackward : tg::Function<BadBackward> {
  static Tensor forward(tg::Context&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(tg::Context&, const std::vector<Tensor>& grads) {
    return {tg::reshape(grads[0], {7})};
  }
};

}  // namespace

TEST_CASE("an error inside a backward closure names the op's backward", "[op_context]") {
  const Tensor x = tg::ones({2, 3}, {.requires_grad = true});
  const Tensor y = tg::sum(BadBackward::apply(x));
  try {
    y.backward();
    FAIL("backward did not throw");
  } catch (const tg::Error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find(" backward: reshape: target shape [7] has 7 elements but input [2,3]") !=
          std::string::npos);
  }
  CHECK(tg::detail::current_op().empty());
}
