# Compile options shared by the library, its tests, examples and benchmarks.
include(GNUInstallDirs)

# GCC before 12.3 miscompiles 256-bit constants whose low half is a splat and whose high half is
# zero when AVX-512 is enabled: {2, 2, 0, 0} becomes {2, 2, 2, 2}. It happens wherever such a
# struct is built, e.g. Conv2dOptions{.stride = 2} came out with padding 2 (seen with Debian 12's
# GCC 12.2 on a Zen 4; the same bug as vespa-engine/vespa#25786). With such a compiler, native
# code generation keeps everything but AVX-512; AVX2 + FMA do the kernels' work at the same
# FLOP rate on the AMD machines this project runs on.
set(TG_NATIVE_FLAGS -march=native)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 12.3)
  list(APPEND TG_NATIVE_FLAGS -mno-avx512f)
endif()

function(tg_set_compile_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion
    -Wno-missing-field-initializers)
  if(TG_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # Native code generation stays PRIVATE: no public type depends on it (xtensor is used
  # without XTENSOR_USE_XSIMD, so xt::xarray has the same layout in every translation unit).
  if(TG_NATIVE)
    target_compile_options(${target} PRIVATE ${TG_NATIVE_FLAGS})
  endif()
  if(TG_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
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
