#pragma once
// in_register(v): v, which the compiler must then hold in a register. Without it GCC folds an
// unaligned load into each FMA that uses v, loading the same values once per accumulator that
// reads them, across cache lines: the weight-gradient tiles ran at half speed.

#include <xsimd/xsimd.hpp>

namespace tg::kernels {

template <class T>
xsimd::batch<T> in_register(xsimd::batch<T> v) {
#if defined(__GNUC__) && defined(__AVX__)
  typename xsimd::batch<T>::register_type raw = v;
  asm("" : "+v"(raw));
  return xsimd::batch<T>(raw);
#else
  return v;
#endif
}

}  // namespace tg::kernels
