#pragma once
// Helpers of the tensor-level collectives: checking that the ranks agree before data moves (a
// rank that disagrees would otherwise send a message of another size, or none, and the others
// would wait for it), and broadcasting a list of tensors in one message.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../autograd/tensor.hpp"

namespace tg::distributed::detail {

// A collective step in which every rank says what it passes (`description`, e.g. "f32 [3,5]
// sum") or why it cannot take part (`local_error`, non-empty). Throws the same tg::Error on every
// rank if any rank has an error (naming the first such rank) or if a rank's description differs
// from rank 0's (naming both); returns on every rank otherwise.
void check_agreement(std::string_view op, const std::string& local_error,
                     const std::string& description);

// The same for named tensors (a model's state_dict): every rank must have rank 0's names, dtypes
// and shapes, in order. The error names the first difference, not the whole list.
void check_same_tensors(std::string_view op,
                        const std::vector<std::pair<std::string, Tensor>>& tensors);

// "f32 [3,5]": a tensor as the agreement messages show it.
std::string describe(const Tensor& tensor);

// Root's values of `tensors` into every other rank's, in place (packed into one message). The
// ranks' tensors must have the same dtypes and shapes (check_agreement first). Each changed
// tensor's version moves.
void broadcast_tensors(const std::vector<Tensor>& tensors, int root, std::string_view what);

}  // namespace tg::distributed::detail
