#pragma once
// One knob for every parallel loop in tapegrad (conv, pooling, elementwise kernels).

namespace tg {

// At most `threads` threads (>= 1); 0 restores the default of one per core.
void set_num_threads(int threads);
int get_num_threads();

}  // namespace tg
