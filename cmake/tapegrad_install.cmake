# Installs the library and an exported CMake package, so that after `cmake --install`
# a project can `find_package(tapegrad CONFIG REQUIRED)` and link `tapegrad::tapegrad`.
# Headers go under include/tapegrad/ in the layout of the source tree (the relative includes
# between them hold there too), beside include/tapegrad.hpp, which forwards to the umbrella.
include(CMakePackageConfigHelpers)

install(TARGETS tapegrad EXPORT tapegradTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/autograd ${PROJECT_SOURCE_DIR}/ops ${PROJECT_SOURCE_DIR}/lib
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_SOURCE_DIR}/tapegrad.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad)
set(TG_UMBRELLA_TARGET tapegrad/tapegrad.hpp)
configure_file(${PROJECT_SOURCE_DIR}/cmake/umbrella.hpp.in
  ${PROJECT_BINARY_DIR}/install/tapegrad.hpp @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/install/tapegrad.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tapegradTargets NAMESPACE tapegrad::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tapegradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
  ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
