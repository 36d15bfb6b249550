#pragma once
// Tensor storage. A training step allocates arrays of the same sizes step after step, and
// glibc hands large blocks straight from mmap and unmaps them (or trims the heap) when they are
// freed, so every step would fault its memory in afresh: on the 2-core VMs here that cost more
// than the convolutions. Instead, the array of a dead tensor is kept, and the next array of the
// same dtype and number of elements is that one. Only arrays of at least 32 KiB are kept (small
// ones are cheap to malloc), only of sizes that ops have asked for lately (so a user's or a data
// loader's arrays, or a finished evaluation's, are freed as before), and the oldest are dropped
// beyond a limit, 256 MiB by default (enough for the working set of a step of the MNIST models at
// batch 64; raise it for larger ones).
//
// Ops allocate their outputs with detail::new_array; every tensor's array, however it was made,
// comes back here when the last tensor holding it dies.

#include <cstddef>
#include <string_view>

#include <xtensor/xnoalias.hpp>

#include "tensor.hpp"

namespace tg {

// The memory guard: the most bytes one array an op allocates may take. A larger request is a
// tg::Error naming the op, the shape and the bytes, raised before anything is allocated: a wrong
// shape or a padding of 2^30 would otherwise ask for terabytes, and the process would die of
// std::bad_alloc or be killed by the kernel. The default is the machine's physical memory.
void set_memory_limit(std::size_t bytes);
std::size_t memory_limit();

// Bytes the cache may keep (0: none, every array is freed at once). Shrinks the cache to fit.
void set_storage_cache_limit(std::size_t bytes);
std::size_t storage_cache_limit();
// Bytes held by arrays kept for reuse (not by live tensors).
std::size_t storage_cache_bytes();
// Frees every kept array (e.g. after a large evaluation batch).
void empty_storage_cache();

namespace detail {

// The memory guard for an array of `shape` whose elements take `element_size` bytes: throws
// tg::Error naming `what` ("an output", "a column buffer"), the shape and the bytes if it is over
// the limit. new_array asks it for every op's output; an op asks it before allocating anything
// else it needs in proportion to its inputs (a kernel's scratch). The op is named by the context
// the call runs in (op_context.hpp).
void check_memory(const Shape& shape, std::size_t element_size, std::string_view what);

// An array of `shape` with unspecified contents: a kept array of as many elements, reshaped,
// or a new one. Every op's output passes through here, and so through the memory guard.
template <class T>
xt::xarray<T> new_array(const Shape& shape);

// An array of `shape` holding `expression` (evaluated into it without a temporary).
template <class T, class E>
xt::xarray<T> new_array(const Shape& shape, const E& expression) {
  xt::xarray<T> array = new_array<T>(shape);
  xt::noalias(array) = expression;
  return array;
}

// Replaces t's array by its conversion to `dtype`, in place: every handle to the tensor sees the
// new dtype (nn::Module::to). Counts as an in-place change (Tensor::version).
void convert_in_place(const Tensor& t, DType dtype);

}  // namespace detail
}  // namespace tg
