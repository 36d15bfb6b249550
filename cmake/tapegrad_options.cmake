# Compile options shared by the library, its tests, examples and benchmarks.
include(GNUInstallDirs)

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
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  if(TG_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()
