# Builds and runs tests/consumer against tapegrad. MODE is "install" (cmake --install the
# build tree BUILD_DIR into a prefix, then find_package) or "subdirectory".
set(work "${WORK_DIR}/${MODE}")
file(REMOVE_RECURSE "${work}")
if(MODE STREQUAL "install")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${work}/prefix"
                  RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  set(configure_args -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${work}/prefix)
else()
  # The library is compiled again inside the consumer's build, without optimisation (an empty
  # build type): this checks that add_subdirectory works, not how fast the result runs.
  set(configure_args -DCMAKE_BUILD_TYPE= -DTAPEGRAD_SOURCE_DIR=${SOURCE_DIR} -DTG_NATIVE=OFF)
endif()
foreach(step configure build run)
  if(step STREQUAL "configure")
    set(command ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer" -B "${work}/build" -G Ninja
                ${configure_args})
  elseif(step STREQUAL "build")
    set(command ${CMAKE_COMMAND} --build "${work}/build")
  else()
    set(command "${work}/build/consumer")
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "consumer ${step} failed (${MODE})")
  endif()
endforeach()
