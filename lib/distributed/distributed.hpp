#pragma once
// tg::distributed: training across processes, on one machine or many, over MPI. Every process
// (rank) runs the same program, started by mpirun:
//
//   mpirun -np 2 ./train
//
//   int main() {
//     tg::distributed::init();  // MPI_Init_thread; MPI is finalized at exit
//     auto model = make_model();
//     auto ddp = std::make_shared<tg::nn::DistributedDataParallel>(model);  // data_parallel.hpp
//     tg::data::DataLoader loader(train, {.batch_size = 32, .seed = 1,
//                                         .sampler = tg::data::DistributedSampler()});
//     ...
//   }
//
// Before init(), or in a tapegrad built without MPI (is_available() is false), the world is this
// process alone: rank() is 0, world_size() 1 and the collectives leave tensors as they are, so the
// same program also runs without mpirun.
//
// Collectives: every rank calls them, in the same order, from the thread that called init().
// Each first checks that every rank passed the same dtype and shape (else a tg::Error on every
// rank, naming both). all_reduce sums in a fixed order: a ring over the ranks in which each
// chunk of the tensor is summed from one rank around to the one before it, so the result is
// bitwise the same on every rank and in every run with the same number of ranks (MPI_Allreduce's
// order is left to the implementation, which may pick its algorithm by message size).
//
// Failures end every rank with an error, never a hang: a rank that dies makes mpirun end the
// job; a collective that waits longer than the timeout, or for a rank that has exited, throws
// tg::Error (and a rank whose collective failed aborts the job when it exits, since the others
// may be waiting for messages it will never send); abort() ends the whole job at once.

#include <chrono>
#include <string>

#include "../../autograd/tensor.hpp"

namespace tg::distributed {

struct InitOptions {
  // The longest a collective waits for the other ranks, and a rank that exits waits for the
  // others to exit too, before giving up with an error (PyTorch's process groups: 30 minutes).
  // Long enough for the slowest thing one rank may do alone (rank 0 writing a checkpoint,
  // evaluating).
  std::chrono::milliseconds timeout = std::chrono::minutes(30);
};

// Whether this tapegrad was built with MPI (CMake option TG_WITH_MPI).
bool is_available();
// Joins the job mpirun started (MPI_Init_thread, funneled: MPI is called only from this thread).
// Idempotent; if the program has initialised MPI itself, joins that. MPI is finalized at exit,
// unless the program initialised it. Without MPI (is_available() false) a tg::Error.
void init(const InitOptions& options = {});
bool is_initialized();

// This process's rank in [0, world_size()), and the number of ranks: 0 and 1 before init().
int rank();
int world_size();
// How many of the ranks run on this machine (this one included): those that share its cores,
// so that each can take its share of them (tg::set_num_threads). 1 before init().
int local_world_size();

enum class ReduceOp { sum, mean };

// In place on every rank: each element becomes the sum (or mean) of that element over the
// ranks. f32, f64 or i64 (sum only: a mean of integers is not one). A tensor that requires grad
// only under NoGradGuard (as every in-place change).
void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum);
// In place: every rank's tensor gets root's values.
void broadcast(const Tensor& tensor, int root = 0);
// Returns when every rank has called it.
void barrier();

// Ends every rank of the job now (MPI_Abort), after printing "rank r: message" on stderr: for a
// rank that caught an error the others cannot know about. Without MPI, or before init(), prints
// and exits this process.
[[noreturn]] void abort(const std::string& message, int exit_code = 1);

}  // namespace tg::distributed
