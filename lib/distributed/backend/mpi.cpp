// tg::distributed on MPI (compiled when CMake found MPI; see TG_WITH_MPI).
//
// Two duplicates of MPI_COMM_WORLD, so that nothing here matches a message of the program's own:
// `data` carries the collectives and the ring's messages, with MPI_ERRORS_RETURN (an MPI error is
// a tg::Error, not an abort inside MPI); `control` carries the exit notices. At exit every rank
// sends each other rank a notice and waits for theirs before MPI_Finalize. A rank that waits in
// a collective checks for notices: one from a rank it is waiting for means that rank has left
// for good, and the wait ends with an error instead of a hang.
//
// Every wait polls (MPI_Test, as MPI_Wait itself spins) so that it can also watch the clock and
// the notices; it yields the core between polls, which matters when ranks share cores.

// The C API only: from C++, mpi.h would otherwise declare the deprecated C++ bindings, which
// live in a library (libmpi_cxx) that FindMPI's C component does not link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>

#include "../../../autograd/dispatch.hpp"
#include "../backend.hpp"

namespace tg::distributed {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitTag = 1;
// A rank's exit notice may overtake the last messages it sent in a collective that it finished
// and we have not (they travel on another communicator). Those arrive within microseconds; a
// notice still unexplained after this long means the rank left without its part.
constexpr auto kExitGrace = std::chrono::seconds(2);
// Tags of the ring's messages cycle through [1, kTagCycle]: every MPI allows tags up to 32767.
constexpr int kTagCycle = 32767;

struct World {
  bool initialized = false;
  bool owns_mpi = false;  // init() called MPI_Init_thread, so MPI is finalized at exit
  MPI_Comm data = MPI_COMM_NULL;
  MPI_Comm control = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  int local_size = 1;  // ranks on this machine
  std::chrono::milliseconds timeout = InitOptions{}.timeout;
  int last_tag = 0;
  // Set when a collective failed on this rank: other ranks may be blocked on it.
  std::optional<std::string> failure;
  std::vector<std::unique_ptr<detail::PendingReduce>> abandoned;
};

// Never destroyed: the exit handler and abandoned reductions outlive static destructors.
World& world() {
  static World* const instance = new World;
  return *instance;
}

// Records the failure (this rank aborts the job at exit) and throws it.
[[noreturn]] void fail_collective(const std::string& message) {
  world().failure = message;
  throw Error(message);
}

void check_mpi(int code, std::string_view what, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  fail_collective(fmt::format("{}: {} failed on rank {}: {}", what, call, world().rank,
                              length > 0 ? std::string(text, length) : "unknown MPI error"));
}

// The rank whose exit notice is waiting to be received, if any (left unreceived: the exit
// handler receives it).
std::optional<int> exited_rank() {
  int flag = 0;
  MPI_Status status;
  check_mpi(MPI_Iprobe(MPI_ANY_SOURCE, kExitTag, world().control, &flag, &status), "distributed",
            "MPI_Iprobe");
  if (!flag) return std::nullopt;
  return status.MPI_SOURCE;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Polls `done` until it returns true, or fails after the timeout or when a rank has exited.
void wait_until(const std::function<bool()>& done, std::string_view what) {
  World& w = world();
  const Clock::time_point start = Clock::now();
  std::optional<Clock::time_point> notice_seen;
  int exited = -1;
  while (!done()) {
    const Clock::time_point now = Clock::now();
    if (!notice_seen) {
      if (const std::optional<int> r = exited_rank()) {
        notice_seen = now;
        exited = *r;
      }
    } else if (now - *notice_seen > kExitGrace) {
      fail_collective(fmt::format(
          "{}: rank {} has exited while rank {} waits for it: a rank left the job early (its "
          "own output says why); the job cannot go on",
          what, exited, w.rank));
    }
    if (now - start > w.timeout) {
      fail_collective(
          fmt::format("{}: rank {} waited {:.1f} s for the other ranks (the timeout of "
                      "tg::distributed::init): a rank is stuck, slow or dead, or the ranks called "
                      "collectives in different orders",
                      what, w.rank, seconds(now - start)));
    }
    std::this_thread::yield();
  }
}

void wait_request(MPI_Request& request, std::string_view what, const char* call) {
  wait_until(
      [&] {
        int flag = 0;
        check_mpi(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), what, call);
        return flag != 0;
      },
      what);
}

int next_tag() {
  World& w = world();
  w.last_tag = w.last_tag % kTagCycle + 1;
  return w.last_tag;
}

std::size_t element_size(DType dtype) {
  return dispatch_any(dtype, []<class T>() { return sizeof(T); });
}

// own[i] = incoming[i] + own[i]: addition is commutative bit for bit, so only the order in which
// the ranks' values join (fixed by the ring) decides the result.
void add_into(std::byte* own, const std::byte* incoming, std::size_t count, DType dtype) {
  dispatch_any(dtype, [&]<class T>() {
    T* out = reinterpret_cast<T*>(own);
    const T* in = reinterpret_cast<const T*>(incoming);
    for (std::size_t i = 0; i < count; ++i) {
      if constexpr (std::is_integral_v<T>) {  // wraps on overflow instead of being undefined
        out[i] =
            static_cast<T>(static_cast<std::uint64_t>(in[i]) + static_cast<std::uint64_t>(out[i]));
      } else {
        out[i] = in[i] + out[i];
      }
    }
  });
}

void divide(std::byte* data, std::size_t count, DType dtype, int by) {
  dispatch_any(dtype, [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {  // start_all_reduce refuses an i64 mean
      T* values = reinterpret_cast<T*>(data);
      for (std::size_t i = 0; i < count; ++i) values[i] /= static_cast<T>(by);
    }
  });
}

// The ring all-reduce: reduce-scatter, then all-gather, each n - 1 steps of one message to the
// right neighbour and one from the left (2 (n - 1) / n of the buffer sent per rank, as MPI's and
// NCCL's rings). Chunk c is summed as ((x_c + x_{c+1}) + x_{c+2}) + ... + x_{c-1}, ranks taken
// modulo n: a fixed order for a given rank count and buffer size. Each step is posted when the
// last is done; test() moves through as many as have completed.
class RingReduce final : public detail::PendingReduce {
 public:
  RingReduce(void* data, std::size_t count, DType dtype, ReduceOp op, std::string what,
             std::shared_ptr<void> owner)
      : data_(static_cast<std::byte*>(data)),
        count_(count),
        dtype_(dtype),
        op_(op),
        what_(std::move(what)),
        owner_(std::move(owner)),
        size_(world().size),
        rank_(world().rank),
        element_size_(element_size(dtype)),
        steps_(2 * (size_ - 1)),
        tag_(next_tag()) {
    const std::size_t largest = chunk_count(0) + 1;  // chunks differ by at most one element
    if (largest * element_size_ > static_cast<std::size_t>(INT_MAX)) {
      fail("{}: {} elements of {} make chunks of more than {} bytes, MPI's largest count", what_,
           count_, name(dtype_), INT_MAX);
    }
    scratch_.resize(largest * element_size_);
    if (steps_ > 0) post(0);
  }

  ~RingReduce() override = default;
  RingReduce(const RingReduce&) = delete;
  RingReduce& operator=(const RingReduce&) = delete;

  bool test() override {
    while (step_ < steps_) {
      int flag = 0;
      check_mpi(MPI_Testall(2, requests_, &flag, MPI_STATUSES_IGNORE), what_, "MPI_Testall");
      if (!flag) return false;
      finish(step_);
      if (++step_ < steps_) post(step_);
    }
    return true;
  }

  void wait() override {
    wait_until([this] { return test(); }, what_);
  }

 private:
  std::size_t chunk_begin(int chunk) const {
    return count_ * static_cast<std::size_t>(chunk) / static_cast<std::size_t>(size_);
  }
  std::size_t chunk_count(int chunk) const { return chunk_begin(chunk + 1) - chunk_begin(chunk); }
  std::byte* chunk_data(int chunk) const { return data_ + chunk_begin(chunk) * element_size_; }
  int chunk_bytes(int chunk) const { return static_cast<int>(chunk_count(chunk) * element_size_); }
  int modulo(int i) const { return ((i % size_) + size_) % size_; }

  // Reduce-scatter step s sends chunk r - s and receives chunk r - s - 1 (to add to its own);
  // all-gather step s sends chunk r + 1 - s and receives chunk r - s, finished, in place.
  int sent_chunk(int step) const {
    return step < size_ - 1 ? modulo(rank_ - step) : modulo(rank_ + 1 - (step - (size_ - 1)));
  }
  int received_chunk(int step) const {
    return step < size_ - 1 ? modulo(rank_ - step - 1) : modulo(rank_ - (step - (size_ - 1)));
  }

  void post(int step) {
    const MPI_Comm comm = world().data;
    const int received = received_chunk(step);
    void* into = step < size_ - 1 ? static_cast<void*>(scratch_.data()) : chunk_data(received);
    check_mpi(MPI_Irecv(into, chunk_bytes(received), MPI_BYTE, modulo(rank_ - 1), tag_, comm,
                        &requests_[0]),
              what_, "MPI_Irecv");
    const int sent = sent_chunk(step);
    check_mpi(MPI_Isend(chunk_data(sent), chunk_bytes(sent), MPI_BYTE, modulo(rank_ + 1), tag_,
                        comm, &requests_[1]),
              what_, "MPI_Isend");
  }

  void finish(int step) {
    if (step >= size_ - 1) return;  // all-gather: received in place
    const int received = received_chunk(step);
    add_into(chunk_data(received), scratch_.data(), chunk_count(received), dtype_);
    // The last reduce-scatter step completes this rank's chunk: the mean is taken there, once,
    // so every rank gets the same bits.
    if (step == size_ - 2 && op_ == ReduceOp::mean) {
      divide(chunk_data(received), chunk_count(received), dtype_, size_);
    }
  }

  std::byte* data_;
  std::size_t count_;
  DType dtype_;
  ReduceOp op_;
  std::string what_;
  std::shared_ptr<void> owner_;
  int size_;
  int rank_;
  std::size_t element_size_;
  int steps_;
  int tag_;
  int step_ = 0;
  MPI_Request requests_[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  std::vector<std::byte> scratch_;
};

class Done final : public detail::PendingReduce {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// Each other rank gets an exit notice and sends one; false if they have not all come within the
// timeout. Nothing else is pending (no failure), so every rank that gets here finishes.
bool exchange_exit_notices() {
  World& w = world();
  std::vector<MPI_Request> requests;
  const char notice = 0;
  std::vector<char> received(static_cast<std::size_t>(w.size));
  for (int other = 0; other < w.size; ++other) {
    if (other == w.rank) continue;
    requests.emplace_back();
    MPI_Irecv(&received[static_cast<std::size_t>(other)], 1, MPI_CHAR, other, kExitTag, w.control,
              &requests.back());
    requests.emplace_back();
    MPI_Isend(&notice, 1, MPI_CHAR, other, kExitTag, w.control, &requests.back());
  }
  const Clock::time_point start = Clock::now();
  for (;;) {
    int flag = 0;
    if (MPI_Testall(static_cast<int>(requests.size()), requests.data(), &flag,
                    MPI_STATUSES_IGNORE) != MPI_SUCCESS) {
      return false;
    }
    if (flag) return true;
    if (Clock::now() - start > w.timeout) return false;
    std::this_thread::yield();
  }
}

[[noreturn]] void abort_job(const std::string& message, int exit_code) {
  std::fprintf(stderr, "tapegrad: rank %d: %s\n", world().rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; should it, this process ends anyway
}

void finalize_at_exit() {
  World& w = world();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (w.failure) {
    abort_job(fmt::format("ending the job after a failed collective ({}): the other ranks may be "
                          "waiting for this one",
                          *w.failure),
              1);
  }
  if (w.size > 1 && !exchange_exit_notices()) {
    abort_job(fmt::format("exiting, but not every other rank exited within {:.1f} s (the timeout "
                          "of tg::distributed::init): ending the job",
                          seconds(w.timeout)),
              1);
  }
  MPI_Comm_free(&w.control);
  MPI_Comm_free(&w.data);
  MPI_Finalize();
}

// mpirun's count of processes, if this one was started by it (Open MPI, MPICH/PMI).
int launched_world_size() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* value = std::getenv(variable)) return std::atoi(value);
  }
  return 1;
}

// Before init() the world is this process alone, unless mpirun started others beside it: then
// using the API without init() would train that many independent copies.
void check_not_forgotten(std::string_view what) {
  if (const int launched = launched_world_size(); launched > 1) {
    fail(
        "distributed::{}: this process is one of {} that mpirun started, but "
        "tg::distributed::init() has not been called",
        what, launched);
  }
}

}  // namespace

bool is_available() { return true; }

void init(const InitOptions& options) {
  World& w = world();
  if (options.timeout.count() <= 0) {
    fail("distributed::init: the timeout must be positive, got {} ms", options.timeout.count());
  }
  w.timeout = options.timeout;
  if (w.initialized) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) fail("distributed::init: MPI has been finalized already");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      fail("distributed::init: MPI_Init_thread failed");
    }
    w.owns_mpi = true;
    std::atexit(finalize_at_exit);
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &w.data);
  MPI_Comm_dup(MPI_COMM_WORLD, &w.control);
  MPI_Comm_set_errhandler(w.data, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(w.control, MPI_ERRORS_RETURN);
  MPI_Comm_rank(w.data, &w.rank);
  MPI_Comm_size(w.data, &w.size);
  // The ranks that can share memory with this one: those on this machine.
  // (A blocking collective, as the duplications above: at init the ranks are just starting.)
  MPI_Comm local = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(w.data, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &local),
            "distributed::init", "MPI_Comm_split_type");
  MPI_Comm_size(local, &w.local_size);
  MPI_Comm_free(&local);
  w.initialized = true;
}

bool is_initialized() { return world().initialized; }

int rank() {
  if (!world().initialized) check_not_forgotten("rank");
  return world().rank;
}

int world_size() {
  if (!world().initialized) check_not_forgotten("world_size");
  return world().size;
}

int local_world_size() {
  if (!world().initialized) check_not_forgotten("local_world_size");
  return world().local_size;
}

void abort(const std::string& message, int exit_code) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (world().initialized && !finalized) abort_job(message, exit_code);
  std::fprintf(stderr, "tapegrad: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(exit_code);
}

namespace detail {

std::unique_ptr<PendingReduce> start_all_reduce(void* data, std::size_t count, DType dtype,
                                                ReduceOp op, std::string what,
                                                const std::shared_ptr<void>& owner) {
  if (op == ReduceOp::mean && dtype == DType::i64) {
    fail("{}: a mean needs a floating tensor, not i64", what);
  }
  if (world().size == 1 || count == 0) return std::make_unique<Done>();
  return std::make_unique<RingReduce>(data, count, dtype, op, std::move(what), owner);
}

void broadcast_bytes(void* data, std::size_t bytes, int root, std::string_view what) {
  World& w = world();
  if (w.size == 1) return;
  // MPI counts are ints: pieces of at most 1 GiB.
  constexpr std::size_t piece = std::size_t{1} << 30;
  auto* begin = static_cast<std::byte*>(data);
  for (std::size_t offset = 0; offset < bytes; offset += piece) {
    const int count = static_cast<int>(std::min(piece, bytes - offset));
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibcast(begin + offset, count, MPI_BYTE, root, w.data, &request), what,
              "MPI_Ibcast");
    wait_request(request, what, "MPI_Ibcast");
  }
}

std::vector<std::string> all_gather(const std::string& mine, std::string_view what) {
  World& w = world();
  if (w.size == 1) return {mine};
  const auto ranks = static_cast<std::size_t>(w.size);
  if (mine.size() > static_cast<std::size_t>(INT_MAX) / ranks) {
    fail("{}: {} bytes to gather from each rank are too many", what, mine.size());
  }
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(ranks);
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, w.data, &request), what,
            "MPI_Iallgather");
  wait_request(request, what, "MPI_Iallgather");
  std::vector<int> offsets(ranks, 0);
  std::size_t total = 0;
  for (std::size_t r = 0; r < ranks; ++r) {
    offsets[r] = static_cast<int>(total);
    total += static_cast<std::size_t>(lengths[r]);
    if (lengths[r] < 0 || total > static_cast<std::size_t>(INT_MAX)) {
      fail_collective(
          fmt::format("{}: the ranks' strings are {} bytes together, too many", what, total));
    }
  }
  std::string all(total, '\0');
  check_mpi(MPI_Iallgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(),
                            offsets.data(), MPI_CHAR, w.data, &request),
            what, "MPI_Iallgatherv");
  wait_request(request, what, "MPI_Iallgatherv");
  std::vector<std::string> out;
  for (std::size_t r = 0; r < ranks; ++r) {
    out.push_back(
        all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r])));
  }
  return out;
}

void barrier(std::string_view what) {
  World& w = world();
  if (w.size == 1) return;
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ibarrier(w.data, &request), what, "MPI_Ibarrier");
  wait_request(request, what, "MPI_Ibarrier");
}

bool failed() { return world().failure.has_value(); }

void abandon(std::unique_ptr<PendingReduce> reduce) {
  World& w = world();
  if (!w.failure) w.failure = "a reduction was abandoned before it finished";
  w.abandoned.push_back(std::move(reduce));
}

}  // namespace detail
}  // namespace tg::distributed
