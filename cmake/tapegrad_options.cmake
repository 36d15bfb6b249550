# Compile options shared by the library, its tests, examples and benchmarks.
include(GNUInstallDirs)

# GCC before 12.3 miscompiles 256-bit constants whose low half is a splat and whose high half is
# zero when it may move and store 256 bits at a time by pieces (-mmove-max=256 -mstore-max=256,
# which tunings for AVX-512 machines and Intel's since Ice Lake turn on): {2, 2, 0, 0} becomes
# {2, 2, 2, 2}. It happens wherever such a struct is built, e.g. Conv2dOptions{.stride = 2} came
# out with padding 2 (seen with Debian 12's GCC 12.2 on an AMD Zen 5, and on an Intel Xeon with
# AVX-512 left out; the same bug as vespa-engine/vespa#25786). With such a compiler, native code
# moves and stores by pieces at most 128 bits at a time, which avoids the bug, and also leaves
# AVX-512 out, but for the GEMM and convolution kernels (below).
set(TG_NATIVE_FLAGS -march=native)
set(TG_GCC_AVX512_BUG OFF)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 12.3)
  set(TG_GCC_AVX512_BUG ON)
  list(APPEND TG_NATIVE_FLAGS -mno-avx512f)
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag("-mmove-max=128 -mstore-max=128" TG_HAS_MOVE_MAX)
  if(TG_HAS_MOVE_MAX)
    list(APPEND TG_NATIVE_FLAGS -mmove-max=128 -mstore-max=128)
  endif()
endif()

# The kernels are where AVX-512 pays (Zen 5 runs 512-bit FMAs at full width: twice AVX2's
# FLOPs; im2col's rows and the sums' runs take half the loads and stores), and their translation
# units build no option structs or other small constant aggregates: only loads, broadcasts,
# FMAs and stores, whose results their tests check against the definition for every transpose
# and edge. So with such a GCC they alone keep the machine's AVX-512 (native builds on a machine
# that has it). tg_enable_native_avx512(<source>) does that.
function(tg_enable_native_avx512 source)
  if(NOT TG_NATIVE OR NOT TG_GCC_AVX512_BUG)
    return()
  endif()
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -march=native)
  check_cxx_source_compiles("
    #ifndef __AVX512F__
    #error no AVX-512
    #endif
    int main() { return 0; }" TG_NATIVE_HAS_AVX512)
  unset(CMAKE_REQUIRED_FLAGS)
  if(TG_NATIVE_HAS_AVX512)
    set_property(SOURCE ${source} TARGET_DIRECTORY tapegrad APPEND PROPERTY COMPILE_OPTIONS
      -mavx512f -mavx512vl -mavx512bw -mavx512dq)
  endif()
endfunction()

# AddressSanitizer's use-after-scope check gives every broadcast temporary of a fully unrolled
# register-tile kernel its own poisoned stack slot: ops/kernels/direct_conv.cpp took 24 minutes
# to compile with it, 66 s without. Heap reads and writes stay checked.
function(tg_sanitize_without_scope_check source)
  if(TG_SANITIZE OR TG_FUZZ)
    set_property(SOURCE ${source} TARGET_DIRECTORY tapegrad APPEND PROPERTY COMPILE_OPTIONS
      -fno-sanitize-address-use-after-scope)
  endif()
endfunction()

function(tg_set_compile_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion
    -Wno-missing-field-initializers)
  # Nothing reads errno after a math call, and with it set std::sqrt is a call GCC cannot
  # vectorise: Adam's update was a scalar loop, 9.6% of mnist_cnn's training step at one thread.
  target_compile_options(${target} PRIVATE -fno-math-errno)
  if(TG_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # Native code generation stays PRIVATE: no public type depends on it (xtensor is used
  # without XTENSOR_USE_XSIMD, so xt::xarray has the same layout in every translation unit).
  if(TG_NATIVE)
    target_compile_options(${target} PRIVATE ${TG_NATIVE_FLAGS})
  endif()
  # A fuzzer without AddressSanitizer finds only the crashes, so TG_FUZZ brings the sanitizers
  # too; it adds the coverage instrumentation libFuzzer steers by.
  if(TG_SANITIZE OR TG_FUZZ)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(TG_FUZZ)
    target_compile_options(${target} PUBLIC -fsanitize=fuzzer-no-link)
  endif()
  if(TG_SANITIZE_THREAD)
    target_compile_options(${target} PUBLIC -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=thread)
  endif()
endfunction()

# Writes <dir>/tapegrad.hpp forwarding to the umbrella header of the source tree, and returns
# <dir> in OUT_DIR: the include directory of the build tree, holding nothing else.
function(tg_umbrella_header OUT_DIR)
  set(dir ${PROJECT_BINARY_DIR}/include)
  set(TG_UMBRELLA_TARGET ${PROJECT_SOURCE_DIR}/tapegrad.hpp)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/umbrella.hpp.in ${dir}/tapegrad.hpp @ONLY)
  set(${OUT_DIR} ${dir} PARENT_SCOPE)
endfunction()
