# Installs the library and an exported CMake package, so that after `cmake --install`
# a project can `find_package(tapegrad CONFIG REQUIRED)` and link `tapegrad::tapegrad`.
include(CMakePackageConfigHelpers)

install(TARGETS tapegrad EXPORT tapegradTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/tapegrad DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/tapegrad.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tapegradTargets NAMESPACE tapegrad::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)

configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/tapegradConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
