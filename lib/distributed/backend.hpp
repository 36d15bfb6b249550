#pragma once
// What tg::distributed needs from a transport, implemented twice: backend/mpi.cpp (Open MPI or
// any MPI 3) and backend/single_process.cpp (a tapegrad built without MPI: a world of one). The
// tensor-level collectives, DistributedDataParallel and the checkpoints are written against this
// alone. Before init() the MPI backend, too, behaves as a world of one.
//
// Every call here is a collective: all ranks make it, in the same order. Waiting is bounded by
// the timeout of init() and ends early when another rank has exited; both throw tg::Error and
// mark this rank as failed (it then aborts the job when it exits: the others may still be
// waiting for messages it will not send).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "distributed.hpp"

namespace tg::distributed::detail {

// An all-reduce in flight. It reads and writes the buffer it was started on until it is done.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  // Moves the reduction on as far as it goes without waiting; true once it is done.
  virtual bool test() = 0;
  // Returns when it is done.
  virtual void wait() = 0;
};

// Starts the fixed-order all-reduce (distributed.hpp) of `count` elements of `dtype` at `data`,
// in place. `owner` is kept alive as long as the reduction (give the buffer's owner, so that
// abandon() can keep the buffer too). `what` names the caller in errors.
std::unique_ptr<PendingReduce> start_all_reduce(void* data, std::size_t count, DType dtype,
                                                ReduceOp op, std::string what,
                                                const std::shared_ptr<void>& owner = nullptr);

// Root's `bytes` bytes at `data`, written into every other rank's.
void broadcast_bytes(void* data, std::size_t bytes, int root, std::string_view what);

// Every rank's string, in rank order.
std::vector<std::string> all_gather(const std::string& mine, std::string_view what);

void barrier(std::string_view what);

// Whether a collective has failed on this rank (the job will be aborted at exit).
bool failed();

// For an owner destroyed while its reduction is in flight: keeps the reduction (and its buffer)
// alive until the process ends, since MPI may still write into it, and marks this rank as
// failed.
void abandon(std::unique_ptr<PendingReduce> reduce);

}  // namespace tg::distributed::detail
