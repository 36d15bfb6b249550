// The collectives on tensors (distributed.hpp): the ranks first agree on what they pass
// (agreement.hpp), then the backend moves the data.
#include <string>

#include "../../autograd/dispatch.hpp"
#include "../../autograd/grad_mode.hpp"
#include "agreement.hpp"
#include "backend.hpp"

namespace tg::distributed {
namespace {

const char* name(ReduceOp op) { return op == ReduceOp::sum ? "sum" : "mean"; }

// Why `tensor` cannot be changed in place here, or "" if it can.
std::string in_place_error(const Tensor& tensor) {
  if (!tensor.defined()) return "the tensor is undefined";
  if (tensor.requires_grad() && GradMode::is_enabled()) {
    return fmt::format(
        "an in-place change to a tensor ({}) that requires grad; make it under tg::NoGradGuard",
        detail::describe(tensor));
  }
  return "";
}

}  // namespace

void all_reduce(const Tensor& tensor, ReduceOp op) {
  world_size();  // refuses a process that mpirun started beside others without init()
  std::string error = in_place_error(tensor);
  if (error.empty() && op == ReduceOp::mean && tensor.dtype() == DType::i64) {
    error = "a mean needs a floating tensor (f32 or f64), not i64";
  }
  detail::check_agreement("all_reduce", error,
                          error.empty() ? detail::describe(tensor) + " " + name(op) : "");
  if (tensor.numel() == 0) return;
  dispatch_any(tensor.dtype(), [&]<class T>() {
    detail::start_all_reduce(tensor.value<T>().data(), tensor.numel(), tensor.dtype(), op,
                             "all_reduce")
        ->wait();
  });
  tensor.bump_version();
}

void broadcast(const Tensor& tensor, int root) {
  world_size();
  std::string error = in_place_error(tensor);
  if (error.empty() && (root < 0 || root >= world_size())) {
    error = fmt::format("root {} is not a rank of the {} in the job", root, world_size());
  }
  detail::check_agreement(
      "broadcast", error,
      error.empty() ? fmt::format("{} from root {}", detail::describe(tensor), root) : "");
  detail::broadcast_tensors({tensor}, root, "broadcast");
}

void barrier() {
  world_size();
  detail::barrier("barrier");
}

}  // namespace tg::distributed
