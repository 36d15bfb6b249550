#include "data_parallel.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "../../autograd/dispatch.hpp"
#include "../../autograd/grad_mode.hpp"
#include "../../autograd/profiler.hpp"
#include "../../autograd/storage.hpp"
#include "agreement.hpp"
#include "backend.hpp"

namespace tg::nn {
namespace {

constexpr const char* kName = "DistributedDataParallel";

std::size_t element_size(DType dtype) {
  return dispatch_any(dtype, []<class T>() { return sizeof(T); });
}

// memcpy, which must not be given a null pointer even for no bytes (an empty parameter's data).
void copy_bytes(void* to, const void* from, std::size_t bytes) {
  if (bytes > 0) std::memcpy(to, from, bytes);
}

}  // namespace

// The gradients' way through the buckets during one backward (a "round").
struct DistributedDataParallel::Reducer {
  struct Slot {
    std::string name;
    Tensor parameter;
    std::size_t bucket = 0;
    std::size_t offset = 0;  // in elements, into the bucket
    bool reported = false;   // its gradient of this round is in the bucket
    Tensor previous;         // its grad() before this round
  };
  struct Bucket {
    DType dtype = DType::f32;
    std::vector<std::size_t> slots;
    std::size_t numel = 0;
    // doubles, so that f32, f64 (and i64) values are aligned; shared with the reduction, which
    // may outlive the bucket (detail::abandon).
    std::shared_ptr<std::vector<double>> buffer;
    std::size_t ready = 0;
    std::unique_ptr<distributed::detail::PendingReduce> reduce;

    std::byte* data() const { return reinterpret_cast<std::byte*>(buffer->data()); }
  };

  Reducer(const NamedTensors& parameters, double cap_mb) : cap_bytes(cap_mb * 1024 * 1024) {
    for (const auto& [name, parameter] : parameters) {
      if (parameter.requires_grad()) slots.push_back({name, parameter});
    }
    build_buckets();
    for (std::size_t i = 0; i < slots.size(); ++i) {
      hooks.push_back(slots[i].parameter.register_hook(
          [this, i](const Tensor& grad) { return on_gradient(i, grad); }));
    }
  }

  // A round left unfinished (a backward with unused parameters, never synchronized): its
  // started buckets are in flight on every rank, so they are waited for; if they cannot finish
  // (a collective failed) they are abandoned, and this rank aborts the job at exit.
  ~Reducer() {
    for (RemovableHandle& hook : hooks) hook.remove();
    for (Bucket& bucket : buckets) {
      if (!bucket.reduce) continue;
      try {
        if (!distributed::detail::failed()) {
          bucket.reduce->wait();
          continue;
        }
      } catch (const Error&) {
      }
      distributed::detail::abandon(std::move(bucket.reduce));
    }
  }
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  // In reverse registration order (a model's last layers get their gradients first), one dtype
  // per bucket, a new bucket when the next parameter would take this one beyond the cap.
  void build_buckets() {
    buckets.clear();
    std::size_t bytes = 0;
    for (std::size_t k = slots.size(); k-- > 0;) {
      Slot& slot = slots[k];
      const DType dtype = slot.parameter.dtype();
      const std::size_t size = slot.parameter.numel() * element_size(dtype);
      if (buckets.empty() || buckets.back().dtype != dtype ||
          (bytes > 0 && static_cast<double>(bytes + size) > cap_bytes)) {
        buckets.push_back(Bucket{dtype});
        bytes = 0;
      }
      Bucket& bucket = buckets.back();
      slot.bucket = buckets.size() - 1;
      slot.offset = bucket.numel;
      bucket.slots.push_back(k);
      bucket.numel += slot.parameter.numel();
      bytes += size;
    }
    for (Bucket& bucket : buckets) {
      bucket.buffer = std::make_shared<std::vector<double>>(
          (bucket.numel * element_size(bucket.dtype) + sizeof(double) - 1) / sizeof(double));
    }
  }

  // A dtype changed since the buckets were made (Module::to after wrapping).
  void rebuild_if_dtypes_changed() {
    for (const Slot& slot : slots) {
      if (slot.parameter.dtype() != buckets[slot.bucket].dtype) {
        build_buckets();
        return;
      }
    }
  }

  bool in_round() const { return reported > 0; }

  void check_idle() const {
    if (broken) {
      fail("{}: an earlier averaging of gradients failed; this model cannot train on", kName);
    }
    if (!in_round()) return;
    std::string missing;
    std::size_t count = 0;
    for (const Slot& slot : slots) {
      if (slot.reported) continue;
      if (++count <= 3) missing += (missing.empty() ? "'" : ", '") + slot.name + "'";
    }
    fail(
        "{}: the last backward gave no gradient to {} parameter(s) ({}{}), so their averaging "
        "did not finish: call synchronize() after a backward that leaves parameters unused",
        kName, count, missing, count > 3 ? ", ..." : "");
  }

  std::byte* slot_data(const Slot& slot) {
    const Bucket& bucket = buckets[slot.bucket];
    return bucket.data() + slot.offset * element_size(bucket.dtype);
  }

  Tensor on_gradient(std::size_t index, const Tensor& grad) {
    if (GradMode::is_enabled()) {
      fail("{}: backward with create_graph (or tg::grad through the model) is not supported",
           kName);
    }
    // The profiler's rows of the communication: "bucket" is what the hooks do inside backward
    // (the copy into the bucket, moving the rings on), "wait" what backward waits at its end for
    // the rings to finish (the communication that did not overlap), "unpack" the averaged
    // gradients' copy out, "broadcast_buffers" the forward's.
    const profiler::Scope timed(kName, ": bucket");
    Slot& slot = slots[index];
    if (slot.reported) {
      fail(
          "{}: '{}' got a second gradient before the first was averaged (a second backward "
          "after one that left parameters unused, without synchronize()?)",
          kName, slot.name);
    }
    dispatch_any(grad.dtype(), [&]<class T>() {
      copy_bytes(slot_data(slot), grad.value<T>().data(), grad.numel() * sizeof(T));
    });
    report(slot);
    try {
      start_ready_buckets();
      for (Bucket& bucket : buckets) {
        if (bucket.reduce) bucket.reduce->test();  // moves the rings on: the overlap
      }
      if (reported == slots.size()) return finish_round(index);
    } catch (...) {
      broken = true;
      throw;
    }
    return {};  // the engine accumulates this rank's gradient for now; finish_round replaces it
  }

  void report(Slot& slot) {
    slot.previous = slot.parameter.grad();
    slot.reported = true;
    ++reported;
    ++buckets[slot.bucket].ready;
  }

  // Buckets start in order, whatever order their gradients came in: the same on every rank.
  void start_ready_buckets() {
    while (next_to_start < buckets.size() &&
           buckets[next_to_start].ready == buckets[next_to_start].slots.size()) {
      Bucket& bucket = buckets[next_to_start++];
      bucket.reduce =
          distributed::detail::start_all_reduce(bucket.data(), bucket.numel, bucket.dtype,
                                                distributed::ReduceOp::mean, kName, bucket.buffer);
    }
  }

  // Waits for every bucket, then sets each parameter's grad() to its previous grad() plus the
  // average; the parameter whose hook is running (`current`) gets the average returned instead,
  // which the engine adds to its grad() after the hook.
  Tensor finish_round(std::size_t current) {
    {
      const profiler::Scope timed(kName, ": wait");
      for (Bucket& bucket : buckets) bucket.reduce->wait();
    }
    const profiler::Scope timed(kName, ": unpack");
    Tensor returned;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      const std::byte* average = slot_data(slot);
      dispatch_any(slot.parameter.dtype(), [&]<class T>() {
        xt::xarray<T> values = detail::new_array<T>(slot.parameter.shape());
        copy_bytes(values.data(), average, values.size() * sizeof(T));
        if (i != current && slot.previous.defined()) {
          const T* previous = slot.previous.value<T>().data();
          for (std::size_t k = 0; k < values.size(); ++k) values.data()[k] += previous[k];
        }
        if (i == current) {
          returned = tensor(std::move(values));
        } else {
          slot.parameter.set_grad(tensor(std::move(values)));
        }
      });
    }
    for (Slot& slot : slots) {
      slot.reported = false;
      slot.previous = Tensor{};
    }
    for (Bucket& bucket : buckets) {
      bucket.ready = 0;
      bucket.reduce.reset();
    }
    reported = 0;
    next_to_start = 0;
    return returned;
  }

  void synchronize() {
    if (!in_round()) return;
    try {
      for (Slot& slot : slots) {
        if (slot.reported) continue;
        const std::size_t bytes = slot.parameter.numel() * element_size(slot.parameter.dtype());
        if (bytes > 0) std::memset(slot_data(slot), 0, bytes);
        report(slot);
      }
      start_ready_buckets();
      finish_round(slots.size());
    } catch (...) {
      broken = true;
      throw;
    }
  }

  double cap_bytes;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<RemovableHandle> hooks;
  std::size_t reported = 0;       // slots reported in this round
  std::size_t next_to_start = 0;  // the first bucket whose reduction has not started
  bool broken = false;            // a reduction failed: the ranks are out of step
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<Module> module,
                                                 DistributedDataParallelOptions options)
    : module_(std::move(module)), options_(options) {
  if (!module_) fail("{}: the module is null", kName);
  if (!(options_.bucket_cap_mb > 0) || !std::isfinite(options_.bucket_cap_mb)) {
    fail("{}: bucket_cap_mb must be positive, got {}", kName, options_.bucket_cap_mb);
  }
  // The wrapped module's own parameters and buffers, and its children, registered here under
  // their names: the wrapper's state_dict is the module's (module.hpp collects in this order).
  for (const auto& [name, parameter] : module_->named_parameters()) {
    if (name.find('.') != std::string::npos) continue;
    Tensor own = parameter;
    const bool requires_grad = own.requires_grad();  // a frozen one stays frozen
    register_parameter(name, own);
    own.set_requires_grad(requires_grad);
  }
  for (const auto& [name, buffer] : module_->named_buffers()) {
    if (name.find('.') == std::string::npos) register_buffer(name, buffer);
  }
  for (const auto& [name, child] : module_->children()) register_module(name, child);
  if (!module_->is_training()) eval();

  const NamedTensors state = state_dict();
  distributed::detail::check_same_tensors(kName, state);
  std::vector<Tensor> tensors;
  for (const auto& [name, tensor] : state) tensors.push_back(tensor);
  distributed::detail::broadcast_tensors(tensors, 0, kName);
  reducer_ = std::make_unique<Reducer>(named_parameters(), options_.bucket_cap_mb);
}

DistributedDataParallel::~DistributedDataParallel() = default;

Tensor DistributedDataParallel::forward(const Tensor& input) {
  reducer_->check_idle();
  reducer_->rebuild_if_dtypes_changed();
  if (module_->is_training() != is_training()) module_->train(is_training());
  if (is_training() && options_.broadcast_buffers) {
    const profiler::Scope timed(kName, ": broadcast_buffers");
    const std::vector<Tensor> all = buffers();
    if (!all.empty()) distributed::detail::broadcast_tensors(all, 0, kName);
  }
  return (*module_)(input);
}

void DistributedDataParallel::synchronize() { reducer_->synchronize(); }

std::size_t DistributedDataParallel::num_buckets() const { return reducer_->buckets.size(); }

std::string DistributedDataParallel::describe() const {
  return fmt::format("{}({})", kName, module_->describe());
}

}  // namespace tg::nn
